/*
 * The memory layer: the one way the engine reaches memory that is not plain host memory.
 * A device runtime (CUDA's driver API, AscendCL) is loaded at run time with dlopen, never
 * linked, so one libadxl.so serves every machine. Nothing outside a runtime's own file
 * dereferences device memory or names a vendor symbol; the planner and the transports
 * call the functions below.
 *
 * Contexts follow ADXL's rule: a region records the device context it was registered in,
 * and every copy into or out of it runs with that context current on the copying thread
 * (restoring whatever the thread had before), so any thread may transfer.
 */
#ifndef ADXL_MEMORY_DEVICE_H
#define ADXL_MEMORY_DEVICE_H

#include <adxl/adxl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { ADXL_COPY_H2D, ADXL_COPY_D2H, ADXL_COPY_D2D } adxl_copy_dir_t;

/* An exported device allocation: the runtime's opaque handle, as it travels between
 * processes of one host. */
#define ADXL_IPC_HANDLE_BYTES 64

/*
 * One runtime. Every function runs on the calling thread with the context the caller made
 * current (see adxl_device_enter); they never touch device memory from the CPU.
 */
typedef struct adxl_device_runtime {
    const char *name; /* "cuda", "ascend" */
    /* dlopen and initialise, once per process; false with a log line naming the library
     * looked for. */
    bool (*load)(void);
    /* Devices the runtime reports (0: loaded but useless). */
    int (*device_count)(void);
    /* The calling thread's current context (NULL when it has none). */
    void *(*current)(void);
    adxl_status_t (*set_current)(void *ctx);
    /* What [ptr, ptr+len) is, if the runtime can tell: 1 device memory within one
     * allocation (*ctx its context when known, else untouched), 2 device memory that runs
     * past its allocation, 0 not device memory, -1 cannot tell. */
    int (*classify)(const void *ptr, size_t len, void **ctx);
    adxl_status_t (*copy)(void *dst, const void *src, size_t len, adxl_copy_dir_t dir);
    adxl_status_t (*stream_create)(void **stream);
    void (*stream_destroy)(void *stream);
    adxl_status_t (*copy_async)(void *dst, const void *src, size_t len, adxl_copy_dir_t dir,
                                void *stream);
    adxl_status_t (*stream_sync)(void *stream);
    /* Page-locked host memory (staging buffers the device can reach by DMA). */
    adxl_status_t (*host_alloc)(size_t size, void **ptr);
    void (*host_free)(void *ptr);
    /* Optional: pins existing host memory (the transit pool); false when not offered. */
    bool (*host_register)(void *ptr, size_t size);
    void (*host_unregister)(void *ptr);
    adxl_status_t (*device_alloc)(size_t size, void **ptr);
    adxl_status_t (*device_free)(void *ptr);
    /* Optional same-host IPC (NULL when the runtime has none): export gives the handle of
     * the allocation holding ptr, and where that allocation starts; open maps a peer's
     * handle here (at *base, *size bytes, as the runtime says: the peer's word is not
     * taken for it); close undoes open. */
    adxl_status_t (*ipc_export)(const void *ptr, uint8_t handle[ADXL_IPC_HANDLE_BYTES],
                                uintptr_t *alloc_base, size_t *alloc_size);
    adxl_status_t (*ipc_open)(const uint8_t handle[ADXL_IPC_HANDLE_BYTES], void **base,
                              size_t *size);
    adxl_status_t (*ipc_close)(void *base);
} adxl_device_runtime_t;

extern const adxl_device_runtime_t adxl_cuda_runtime;
extern const adxl_device_runtime_t adxl_ascend_runtime;

/* The DeviceRuntime option. */
typedef enum {
    ADXL_DEVICE_RUNTIME_AUTO = 0, /* the one runtime that loads and reports a device */
    ADXL_DEVICE_RUNTIME_NONE = 1,
    ADXL_DEVICE_RUNTIME_CUDA = 2,
    ADXL_DEVICE_RUNTIME_ASCEND = 3,
} adxl_device_runtime_kind_t;

bool adxl_device_runtime_parse(const char *text, adxl_device_runtime_kind_t *out);

/*
 * The runtime an engine uses. auto: NULL when none is present (host memory only), and
 * ADXL_PARAM_INVALID when both are (the caller must choose). A named one that cannot be
 * loaded, or reports no device, is ADXL_UNSUPPORTED. Each case logs what was looked for.
 */
adxl_status_t adxl_device_runtime_select(adxl_device_runtime_kind_t kind,
                                         const adxl_device_runtime_t **out);

/* The context of a thread switched for a copy, restored by adxl_device_leave. */
typedef struct {
    void *saved;
    bool switched;
} adxl_device_scope_t;

/* Makes ctx current on the calling thread, remembering what it had. */
adxl_status_t adxl_device_enter(const adxl_device_runtime_t *rt, void *ctx,
                                adxl_device_scope_t *scope);
void adxl_device_leave(const adxl_device_runtime_t *rt, const adxl_device_scope_t *scope);

/* One synchronous copy in ctx (enter, copy, leave). A failure is logged once per call
 * site's burst and returned as ADXL_FAILED. */
adxl_status_t adxl_device_copy(const adxl_device_runtime_t *rt, void *ctx, void *dst,
                               const void *src, size_t len, adxl_copy_dir_t dir);

#endif
