/*
 * adxl: one-sided, batched READ and WRITE of registered memory between engines in
 * different processes or hosts. The API follows Huawei CANN's ADXL/HIXL engine
 * (Initialize, RegisterMem, Connect, TransferSync, ...) as plain C11.
 *
 * Every call that can fail returns an adxl_status_t whose numeric values are ADXL's own.
 * All calls are thread-safe, except that adxl_finalize/adxl_engine_destroy must not race
 * other calls on the same engine.
 */
#ifndef ADXL_ADXL_H
#define ADXL_ADXL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ADXL_API __attribute__((visibility("default")))
#else
#define ADXL_API
#endif

typedef uint32_t adxl_status_t; /* values are ADXL's own */
#define ADXL_SUCCESS 0u
#define ADXL_PARAM_INVALID 103900u
#define ADXL_TIMEOUT 103901u
#define ADXL_NOT_CONNECTED 103902u
#define ADXL_ALREADY_CONNECTED 103903u
#define ADXL_NOTIFY_FAILED 103904u
#define ADXL_UNSUPPORTED 103905u
#define ADXL_RESOURCE_EXHAUSTED 203900u
#define ADXL_FAILED 503900u
#define ADXL_DEFAULT_TIMEOUT_MS 1000
#define ADXL_NOTIFY_MAX_LEN 1024

typedef enum { ADXL_MEM_DEVICE = 0, ADXL_MEM_HOST = 1 } adxl_mem_type_t;
typedef enum { ADXL_READ = 0, ADXL_WRITE = 1 } adxl_transfer_op_t;
typedef enum {
    ADXL_TRANSFER_WAITING = 0,
    ADXL_TRANSFER_COMPLETED = 1,
    ADXL_TRANSFER_TIMEOUT = 2,
    ADXL_TRANSFER_FAILED = 3
} adxl_transfer_status_t;

typedef struct adxl_engine adxl_engine_t;              /* opaque */
typedef struct adxl_mem *adxl_mem_handle_t;            /* opaque */
typedef struct adxl_transfer_req *adxl_transfer_req_t; /* opaque */

typedef struct {
    uintptr_t addr;
    size_t len;
} adxl_mem_desc_t;

typedef struct {
    uintptr_t local_addr;
    uintptr_t remote_addr;
    size_t len;
} adxl_transfer_op_desc_t;

typedef struct {
    const char *key;
    const char *value;
} adxl_option_t;

typedef struct {
    int32_t timeout_ms; /* 0: no timeout */
    const void *user_data;
} adxl_transfer_args_t;

typedef struct {
    char name[ADXL_NOTIFY_MAX_LEN + 1];
    char msg[ADXL_NOTIFY_MAX_LEN + 1];
} adxl_notify_t;

/* Never NULL, also for unknown values. */
ADXL_API const char *adxl_status_str(adxl_status_t status);
ADXL_API const char *adxl_version(void);

ADXL_API adxl_status_t adxl_engine_create(adxl_engine_t **engine);
/* Finalizes; NULL is a no-op. */
ADXL_API void adxl_engine_destroy(adxl_engine_t *engine);

/*
 * local_engine is "ip:port", "ip", "[ipv6]:port" or "[ipv6]". With a port the engine
 * listens there (port 0: the OS picks one); without one it is client-only.
 */
ADXL_API adxl_status_t adxl_initialize(adxl_engine_t *engine, const char *local_engine,
                                       const adxl_option_t *options, size_t num_options);
ADXL_API void adxl_finalize(adxl_engine_t *engine);
/* The name peers connect to, with the real port; NULL before initialize. */
ADXL_API const char *adxl_local_engine(const adxl_engine_t *engine);

ADXL_API adxl_status_t adxl_register_mem(adxl_engine_t *engine, const adxl_mem_desc_t *mem,
                                         adxl_mem_type_t type, adxl_mem_handle_t *handle);
ADXL_API adxl_status_t adxl_deregister_mem(adxl_engine_t *engine, adxl_mem_handle_t handle);

ADXL_API adxl_status_t adxl_connect(adxl_engine_t *engine, const char *remote_engine,
                                    int32_t timeout_ms);
ADXL_API adxl_status_t adxl_disconnect(adxl_engine_t *engine, const char *remote_engine,
                                       int32_t timeout_ms);

ADXL_API adxl_status_t adxl_transfer_sync(adxl_engine_t *engine, const char *remote_engine,
                                          adxl_transfer_op_t op,
                                          const adxl_transfer_op_desc_t *op_descs, size_t num_descs,
                                          int32_t timeout_ms);
/* args may be NULL (no timeout, no user data). */
ADXL_API adxl_status_t adxl_transfer_async(adxl_engine_t *engine, const char *remote_engine,
                                           adxl_transfer_op_t op,
                                           const adxl_transfer_op_desc_t *op_descs,
                                           size_t num_descs, const adxl_transfer_args_t *args,
                                           adxl_transfer_req_t *req);
/* Once a final state (COMPLETED, TIMEOUT, FAILED) is reported, req is released. */
ADXL_API adxl_status_t adxl_get_transfer_status(adxl_engine_t *engine, adxl_transfer_req_t req,
                                                adxl_transfer_status_t *status);

ADXL_API adxl_status_t adxl_send_notify(adxl_engine_t *engine, const char *remote_engine,
                                        const char *name, const char *msg, int32_t timeout_ms);
/* Hands over up to capacity notifies, oldest first; the rest stay queued. */
ADXL_API adxl_status_t adxl_get_notifies(adxl_engine_t *engine, adxl_notify_t *notifies,
                                         size_t capacity, size_t *count);

/* Page-aligned host memory suited to transfers, or (ADXL_MEM_DEVICE) device memory from
 * the device runtime present, in the calling thread's device context. */
ADXL_API adxl_status_t adxl_malloc_mem(adxl_mem_type_t type, size_t size, void **ptr);
ADXL_API adxl_status_t adxl_free_mem(void *ptr);
/* A handle (AscendCL's fabric handle, 128 bytes) under which another process may map
 * ptr's block: PARAM_INVALID for a pointer adxl_malloc_mem did not return, UNSUPPORTED
 * where no fabric memory exists (host memory: always, in this build). */
ADXL_API adxl_status_t adxl_export_shareable_handle(void *ptr, void *handle, size_t handle_len);

/*
 * adxl's additions (not in ADXL).
 *
 * Counters of what an engine has done since initialize, for tools and tests: how many
 * batches each mode carried as initiator, and what the target side served or refused.
 */
typedef struct {
    uint64_t batches_direct;   /* batches sent in direct (zero-copy) mode */
    uint64_t batches_buffered; /* batches sent through the transit pool */
    uint64_t bytes_written;    /* payload bytes moved by WRITE as initiator */
    uint64_t bytes_read;       /* payload bytes moved by READ as initiator */
    uint64_t frames_served;    /* request frames served as target */
    uint64_t frames_refused;   /* request frames refused as target (bad range etc.) */
    uint64_t links_dropped;    /* links torn down by a peer failure or heartbeat loss */
    /* How the shared-memory transport moved this engine's bytes as initiator: */
    uint64_t bytes_mapped; /* memcpy through a mapping of the target's memory */
    uint64_t bytes_cma;    /* process_vm_readv/writev (cross-memory attach) */
    uint64_t bytes_staged; /* through the link's staging ring, copied by the target */
    /* How the UCX transport moved them: one-sided UCP put/get. */
    uint64_t bytes_ucx;
    /* Bytes of this engine's device memory that crossed host staging memory as initiator
     * (copied off the device before sending, or onto it after receiving). */
    uint64_t bytes_device_staged;
    /* Bytes the same-host transport moved with the device runtime straight into or out of
     * a peer's memory mapped here (its device memory through the runtime's IPC, or a host
     * block), when device memory was on either side: no staging, no work by the peer. */
    uint64_t bytes_device_mapped;
    /* Gauges, read at the call: */
    uint64_t regions_registered; /* distinct ranges this engine has registered now */
    uint64_t regions_mirrored;   /* peers' registered ranges known here, summed over peers */
} adxl_stats_t;

ADXL_API adxl_status_t adxl_get_stats(adxl_engine_t *engine, adxl_stats_t *stats);

/*
 * HIXL's additions.
 *
 * Asynchronous connect and disconnect. Each remote name has a state; the calls below
 * return at once and a per-operation worker thread does the work (adxl_connect or
 * adxl_disconnect underneath). adxl_finalize joins every worker; a connect still in
 * progress then ends by its timeout at the latest.
 */
typedef enum {
    ADXL_NOT_CONNECT = 0,        /* no link and no operation in progress */
    ADXL_CONNECT_PENDING = 1,    /* connect accepted, its worker has not started yet */
    ADXL_CONNECTING = 2,         /* connect in progress */
    ADXL_CONNECTED = 3,          /* a usable link exists */
    ADXL_CONNECT_FAILED = 4,     /* the last async connect failed (until the next one) */
    ADXL_DISCONNECT_PENDING = 5, /* disconnect accepted, its worker has not started yet */
    ADXL_DISCONNECTING = 6       /* disconnect in progress */
} adxl_connect_state_t;

#define ADXL_ENGINE_NAME_MAX 64 /* bytes of the longest engine name, with its NUL */

typedef struct {
    char remote_engine[ADXL_ENGINE_NAME_MAX];
    adxl_connect_state_t state;
    adxl_status_t last_status; /* outcome of the last async operation on it (or SUCCESS) */
} adxl_connect_status_t;

/* SUCCESS: accepted (watch the state). ALREADY_CONNECTED: linked already. SUCCESS too when
 * a connect to that name is already in progress. FAILED: a disconnect is in progress. */
ADXL_API adxl_status_t adxl_connect_async(adxl_engine_t *engine, const char *remote_engine,
                                          int32_t timeout_ms);
/* SUCCESS: accepted. NOT_CONNECTED: no link. FAILED: a connect or disconnect is in
 * progress. */
ADXL_API adxl_status_t adxl_disconnect_async(adxl_engine_t *engine, const char *remote_engine,
                                             int32_t timeout_ms);
/* The state of one remote name (NOT_CONNECT for a name never seen). */
ADXL_API adxl_status_t adxl_get_async_connect_status(adxl_engine_t *engine,
                                                     const char *remote_engine,
                                                     adxl_connect_state_t *state);
/* Every remote name with a link or an async operation, up to capacity of them, in no
 * particular order; capacity 0 returns in *count how many there are. */
ADXL_API adxl_status_t adxl_get_async_connect_statuses(adxl_engine_t *engine,
                                                       adxl_connect_status_t *statuses,
                                                       size_t capacity, size_t *count);

/*
 * Bulk status of async transfers, as HIXL's bulk GetTransferStatus: up to max_count
 * requests of this engine, in no particular order, each with the user_data given in its
 * adxl_transfer_args_t. Requests reported in a final state (COMPLETED, TIMEOUT, FAILED)
 * are released, exactly as adxl_get_transfer_status would; their req value is only an
 * identity then. Still-waiting requests are reported as WAITING (and stay), unless flags
 * has ADXL_STATUS_SKIP_WAITING.
 */
#define ADXL_STATUS_SKIP_WAITING 1u
typedef struct {
    adxl_transfer_req_t req;
    const void *user_data;
    adxl_transfer_status_t status;
} adxl_transfer_result_t;

ADXL_API adxl_status_t adxl_get_transfer_statuses(adxl_engine_t *engine,
                                                  adxl_transfer_result_t *results, size_t max_count,
                                                  uint32_t flags, size_t *count);

/* Features and their values, for adxl_get_capability (callable before initialize). */
typedef enum { ADXL_FEATURE_AUTO_CONNECT = 0, ADXL_FEATURE_CLIENT_SERVER_COMM = 1 } adxl_feature_t;
#define ADXL_CAPABILITY_UNSUPPORTED 0
#define ADXL_CAPABILITY_SUPPORTED 1
ADXL_API adxl_status_t adxl_get_capability(adxl_feature_t feature, int32_t *value);

#ifdef __cplusplus
}
#endif

#endif /* ADXL_ADXL_H */
