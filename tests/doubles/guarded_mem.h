/*
 * Guarded device memory for the runtime doubles (tests/doubles/README.md).
 *
 * A device allocation lives in a memfd mapped once, read/write, at an alias address that
 * only this file knows; the address handed out is a separate PROT_NONE reservation of the
 * same size, so any CPU access to it by the code under test faults at once. Every copy
 * goes through gm_copy, which finds the allocation holding each device range, checks its
 * bounds and moves the bytes between the aliases and host memory.
 *
 * Each double links its own copy of this file: the CUDA and the Ascend double keep
 * separate tables, as two real runtimes would.
 */
#ifndef DEVICE_DOUBLE_GUARDED_MEM_H
#define DEVICE_DOUBLE_GUARDED_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    GM_OK = 0,
    GM_NOT_FOUND,      /* no allocation (or no pinned range) at that address */
    GM_OUT_OF_BOUNDS,  /* the range runs past the end of its allocation */
    GM_HOST_IS_DEVICE, /* a "host" pointer lies in a device reservation */
    GM_NO_MEMORY,
    GM_INJECTED,    /* a failure asked for by a test (gm_fail_next) */
    GM_BAD_HANDLE,  /* an IPC handle that is malformed, stale, or whose exporter is gone */
    GM_SELF_IMPORT, /* an IPC handle opened in the process that exported it */
    GM_OVERLAP,     /* a host range that is already pinned */
} gm_status;

/* One data movement: a copy (src_dev tells whether src is a device address) or, with
 * is_memset, a fill of dst with fill_byte. */
typedef struct {
    uintptr_t dst;
    uintptr_t src;
    size_t len;
    bool dst_dev;
    bool src_dev;
    bool is_memset;
    unsigned char fill_byte;
} gm_op;

typedef struct {
    uintptr_t base; /* device address (or host address for pinned memory) of the range */
    size_t size;
    int device;
    bool imported; /* opened from another process's IPC handle */
} gm_info;

/* The 64 bytes of an IPC handle (CUipcMemHandle's size). */
#define GM_HANDLE_BYTES 64
typedef struct {
    unsigned char bytes[GM_HANDLE_BYTES];
} gm_handle;

gm_status gm_device_alloc(size_t size, int device, uintptr_t *dev_out);
/* Frees a local allocation by its base address; imports are closed with gm_close_import. */
gm_status gm_device_free(uintptr_t base);
/* The device allocation (local or imported) that contains ptr. */
gm_status gm_device_find(uintptr_t ptr, gm_info *out);

gm_status gm_host_alloc(size_t size, int device, void **out);
gm_status gm_host_free(void *ptr);
gm_status gm_host_register(void *ptr, size_t size, int device);
gm_status gm_host_unregister(void *ptr);
/* The pinned range (allocated or registered) that contains ptr. */
gm_status gm_host_find(uintptr_t ptr, gm_info *out);

/* Checks what gm_copy would check, without moving bytes or counting an injected failure. */
gm_status gm_check(const gm_op *op);
/* Checks and runs op. Safe against a concurrent free: the alias stays mapped until the
 * copy is done. */
gm_status gm_copy(const gm_op *op);

/* Device allocations fail once their sizes would pass bytes in all (0: no limit); what is
 * allocated already stays. */
void gm_limit_device_memory(size_t bytes);
/* The next n calls of gm_copy fail with GM_INJECTED (n <= 0 clears). */
void gm_fail_next(int n);

gm_status gm_export(uintptr_t ptr, gm_handle *out);
/* Opens a handle from another process: a new device address for the same memory. The
 * same handle opened twice gives the same address and needs two closes. */
gm_status gm_import(const gm_handle *h, int device, uintptr_t *dev_out);
gm_status gm_close_import(uintptr_t base);

size_t gm_live_device_allocs(void); /* local allocations not yet freed */
size_t gm_live_host_allocs(void);   /* gm_host_alloc blocks not yet freed */
size_t gm_registered_ranges(void);  /* gm_host_register ranges not yet unregistered */
size_t gm_open_imports(void);       /* opens not yet closed, each open counted */

#endif
