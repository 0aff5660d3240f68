/*
 * Ascend NPUs through AscendCL (libascendcl.so), loaded at run time, using only this
 * subset of its public API: the current context, memory, copies, streams and the last
 * error's text. ACL's IPC calls are not part of it, so same-host device traffic is
 * staged through host memory. ADXL_ASCEND_LIBRARY names another library (the test double).
 */
#include "core/log.h"
#include "memory/device.h"
#include "memory/dl_table.h"

#include <pthread.h>

typedef int aclError;
typedef void *aclrtContext;
typedef void *aclrtStream;

#define ACL_SUCCESS 0
#define ACL_MEM_MALLOC_HUGE_FIRST 0
enum {
    ACL_MEMCPY_HOST_TO_HOST,
    ACL_MEMCPY_HOST_TO_DEVICE,
    ACL_MEMCPY_DEVICE_TO_HOST,
    ACL_MEMCPY_DEVICE_TO_DEVICE
};
/* AscendCL does not count devices in this subset: a process sees at least the device its
 * threads selected, and the engine asks for no more than "is there one". */
#define ASCEND_ASSUMED_DEVICES 1

static struct {
    aclError (*GetCurrentContext)(aclrtContext *);
    aclError (*SetCurrentContext)(aclrtContext);
    aclError (*Malloc)(void **, size_t, int);
    aclError (*Free)(void *);
    aclError (*MallocHost)(void **, size_t);
    aclError (*FreeHost)(void *);
    aclError (*Memcpy)(void *, size_t, const void *, size_t, int);
    aclError (*MemcpyAsync)(void *, size_t, const void *, size_t, int, aclrtStream);
    aclError (*CreateStream)(aclrtStream *);
    aclError (*DestroyStream)(aclrtStream);
    aclError (*SynchronizeStream)(aclrtStream);
    const char *(*GetRecentErrMsg)(void);
} acl;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bool loaded;

#define SYM(name, field)                                                                           \
    { name, (void **)&acl.field, false }

static void load_library(void) {
    const adxl_dl_symbol_t symbols[] = {
        SYM("aclrtGetCurrentContext", GetCurrentContext),
        SYM("aclrtSetCurrentContext", SetCurrentContext),
        SYM("aclrtMalloc", Malloc),
        SYM("aclrtFree", Free),
        SYM("aclrtMallocHost", MallocHost),
        SYM("aclrtFreeHost", FreeHost),
        SYM("aclrtMemcpy", Memcpy),
        SYM("aclrtMemcpyAsync", MemcpyAsync),
        SYM("aclrtCreateStream", CreateStream),
        SYM("aclrtDestroyStream", DestroyStream),
        SYM("aclrtSynchronizeStream", SynchronizeStream),
        SYM("aclGetRecentErrMsg", GetRecentErrMsg),
    };
    loaded = adxl_dl_bind("ascend", "ADXL_ASCEND_LIBRARY", "libascendcl.so", symbols,
                          sizeof(symbols) / sizeof(symbols[0])) != NULL;
}

static bool ascend_load(void) {
    pthread_once(&load_once, load_library);
    return loaded;
}

static adxl_status_t check(aclError rc, const char *what) {
    if (rc == ACL_SUCCESS) return ADXL_SUCCESS;
    const char *why = acl.GetRecentErrMsg();
    LOG_ERROR("ascend: %s failed: error %d (%s)", what, rc, why && *why ? why : "no message");
    return ADXL_FAILED;
}

static int ascend_device_count(void) {
    return ASCEND_ASSUMED_DEVICES;
}

static void *ascend_current(void) {
    aclrtContext ctx = NULL;
    return acl.GetCurrentContext(&ctx) == ACL_SUCCESS ? ctx : NULL;
}

static adxl_status_t ascend_set_current(void *ctx) {
    /* AscendCL has no "no context" to give back to a thread that had none: it keeps the
     * one it has (docs/BEHAVIOUR.md), which is no error. */
    if (!ctx) return ADXL_SUCCESS;
    return check(acl.SetCurrentContext(ctx), "aclrtSetCurrentContext");
}

static int ascend_classify(const void *ptr, size_t len, void **ctx) {
    (void)ptr, (void)len, (void)ctx;
    return -1; /* the subset has no pointer query */
}

static int kind_of(adxl_copy_dir_t dir) {
    return dir == ADXL_COPY_H2D   ? ACL_MEMCPY_HOST_TO_DEVICE
           : dir == ADXL_COPY_D2H ? ACL_MEMCPY_DEVICE_TO_HOST
                                  : ACL_MEMCPY_DEVICE_TO_DEVICE;
}

static adxl_status_t ascend_copy(void *dst, const void *src, size_t len, adxl_copy_dir_t dir) {
    return check(acl.Memcpy(dst, len, src, len, kind_of(dir)), "aclrtMemcpy");
}

static adxl_status_t ascend_stream_create(void **stream) {
    aclrtStream s = NULL;
    adxl_status_t st = check(acl.CreateStream(&s), "aclrtCreateStream");
    *stream = s;
    return st;
}

static void ascend_stream_destroy(void *stream) {
    (void)check(acl.DestroyStream(stream), "aclrtDestroyStream");
}

static adxl_status_t ascend_copy_async(void *dst, const void *src, size_t len, adxl_copy_dir_t dir,
                                       void *stream) {
    return check(acl.MemcpyAsync(dst, len, src, len, kind_of(dir), stream), "aclrtMemcpyAsync");
}

static adxl_status_t ascend_stream_sync(void *stream) {
    return check(acl.SynchronizeStream(stream), "aclrtSynchronizeStream");
}

static adxl_status_t ascend_host_alloc(size_t size, void **ptr) {
    return check(acl.MallocHost(ptr, size), "aclrtMallocHost");
}

static void ascend_host_free(void *ptr) {
    (void)check(acl.FreeHost(ptr), "aclrtFreeHost");
}

static adxl_status_t ascend_device_alloc(size_t size, void **ptr) {
    return check(acl.Malloc(ptr, size, ACL_MEM_MALLOC_HUGE_FIRST), "aclrtMalloc");
}

static adxl_status_t ascend_device_free(void *ptr) {
    return check(acl.Free(ptr), "aclrtFree");
}

static adxl_status_t no_ipc_export(const void *ptr, uint8_t handle[ADXL_IPC_HANDLE_BYTES],
                                   uintptr_t *alloc_base, size_t *alloc_size) {
    (void)ptr, (void)handle, (void)alloc_base, (void)alloc_size;
    return ADXL_UNSUPPORTED;
}

static adxl_status_t no_ipc_open(const uint8_t handle[ADXL_IPC_HANDLE_BYTES], void **base,
                                 size_t *size) {
    (void)handle, (void)base, (void)size;
    return ADXL_UNSUPPORTED;
}

static adxl_status_t no_ipc_close(void *base) {
    (void)base;
    return ADXL_UNSUPPORTED;
}

const adxl_device_runtime_t adxl_ascend_runtime = {
    .name = "ascend",
    .load = ascend_load,
    .device_count = ascend_device_count,
    .current = ascend_current,
    .set_current = ascend_set_current,
    .classify = ascend_classify,
    .copy = ascend_copy,
    .stream_create = ascend_stream_create,
    .stream_destroy = ascend_stream_destroy,
    .copy_async = ascend_copy_async,
    .stream_sync = ascend_stream_sync,
    .host_alloc = ascend_host_alloc,
    .host_free = ascend_host_free,
    .host_register = NULL,
    .host_unregister = NULL,
    .device_alloc = ascend_device_alloc,
    .device_free = ascend_device_free,
    .ipc_export = no_ipc_export,
    .ipc_open = no_ipc_open,
    .ipc_close = no_ipc_close,
};
