/*
 * A double of the CUDA driver library (libcuda.so.1): the subset adxl's memory layer
 * uses, over guarded memory (guarded_mem.h), with the driver's rules on initialization
 * and per-thread contexts enforced. Declarations are written here, matching the ABI of
 * cuda.h, so that the build needs no CUDA toolkit.
 */
#include "cuda_api.h"
#include "device_double.h"
#include "double_common.h"
#include "guarded_mem.h"
#include "stream_queue.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

_Static_assert(sizeof(CUipcMemHandle) == GM_HANDLE_BYTES, "IPC handle sizes agree");

/* A device's primary context: the only kind of context this double has. */
struct CUctx_st {
    int device;
    atomic_int retains;
};

static struct CUctx_st primary[DD_MAX_DEVICES];
static atomic_bool initialized;
static int device_count; /* set once, before initialized */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static _Thread_local CUcontext current;

static void init_devices(void) {
    device_count = dd_device_count();
    for (int i = 0; i < DD_MAX_DEVICES; i++)
        primary[i].device = i;
}

/* Every call that touches memory, streams or IPC: initialized, and a context current on
 * this very thread. */
static CUresult need_context(void) {
    if (!atomic_load(&initialized)) return CUDA_ERROR_NOT_INITIALIZED;
    return current ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

static CUresult from_gm(gm_status st) {
    switch (st) {
    case GM_OK:
        return CUDA_SUCCESS;
    case GM_NO_MEMORY:
        return CUDA_ERROR_OUT_OF_MEMORY;
    case GM_INJECTED:
        return CUDA_ERROR_UNKNOWN;
    case GM_BAD_HANDLE:
        return CUDA_ERROR_INVALID_HANDLE;
    case GM_SELF_IMPORT:
        return CUDA_ERROR_INVALID_CONTEXT;
    case GM_OVERLAP:
        return CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
    case GM_NOT_FOUND:
    case GM_OUT_OF_BOUNDS:
    case GM_HOST_IS_DEVICE:
        break;
    }
    return CUDA_ERROR_INVALID_VALUE;
}

DD_EXPORT CUresult cuInit(unsigned flags) {
    if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
    pthread_once(&init_once, init_devices);
    if (device_count == 0) return CUDA_ERROR_NO_DEVICE;
    atomic_store(&initialized, true);
    return CUDA_SUCCESS;
}

DD_EXPORT CUresult cuDriverGetVersion(int *version) {
    if (!version) return CUDA_ERROR_INVALID_VALUE;
    *version = 12000;
    return CUDA_SUCCESS;
}

static const struct {
    CUresult code;
    const char *name;
    const char *text;
} errors[] = {
    {CUDA_SUCCESS, "CUDA_SUCCESS", "no error"},
    {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {CUDA_ERROR_ALREADY_MAPPED, "CUDA_ERROR_ALREADY_MAPPED", "resource already mapped"},
    {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED, "CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED",
     "part or all of the requested memory range is already mapped"},
    {CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED, "CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED",
     "pointer does not correspond to a registered memory region"},
    {CUDA_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
    {CUDA_ERROR_UNKNOWN, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

static CUresult describe(CUresult code, const char **out, bool name) {
    if (!out) return CUDA_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        if (errors[i].code == code) {
            *out = name ? errors[i].name : errors[i].text;
            return CUDA_SUCCESS;
        }
    }
    *out = NULL;
    return CUDA_ERROR_INVALID_VALUE;
}

DD_EXPORT CUresult cuGetErrorString(CUresult code, const char **str) {
    return describe(code, str, false);
}

DD_EXPORT CUresult cuGetErrorName(CUresult code, const char **str) {
    return describe(code, str, true);
}

DD_EXPORT CUresult cuDeviceGetCount(int *count) {
    if (!atomic_load(&initialized)) return CUDA_ERROR_NOT_INITIALIZED;
    if (!count) return CUDA_ERROR_INVALID_VALUE;
    *count = device_count;
    return CUDA_SUCCESS;
}

DD_EXPORT CUresult cuDeviceGet(CUdevice *dev, int ordinal) {
    if (!atomic_load(&initialized)) return CUDA_ERROR_NOT_INITIALIZED;
    if (!dev) return CUDA_ERROR_INVALID_VALUE;
    if (ordinal < 0 || ordinal >= device_count) return CUDA_ERROR_INVALID_DEVICE;
    *dev = ordinal;
    return CUDA_SUCCESS;
}

DD_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *ctx, CUdevice dev) {
    if (!atomic_load(&initialized)) return CUDA_ERROR_NOT_INITIALIZED;
    if (!ctx) return CUDA_ERROR_INVALID_VALUE;
    if (dev < 0 || dev >= device_count) return CUDA_ERROR_INVALID_DEVICE;
    atomic_fetch_add(&primary[dev].retains, 1);
    *ctx = &primary[dev];
    return CUDA_SUCCESS;
}

DD_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
    if (!atomic_load(&initialized)) return CUDA_ERROR_NOT_INITIALIZED;
    if (dev < 0 || dev >= device_count) return CUDA_ERROR_INVALID_DEVICE;
    int n = atomic_load(&primary[dev].retains);
    do {
        if (n == 0) return CUDA_ERROR_INVALID_CONTEXT; /* released more than retained */
    } while (!atomic_compare_exchange_weak(&primary[dev].retains, &n, n - 1));
    return CUDA_SUCCESS;
}

DD_EXPORT CUresult cuCtxGetCurrent(CUcontext *ctx) {
    if (!atomic_load(&initialized)) return CUDA_ERROR_NOT_INITIALIZED;
    if (!ctx) return CUDA_ERROR_INVALID_VALUE;
    *ctx = current;
    return CUDA_SUCCESS;
}

DD_EXPORT CUresult cuCtxSetCurrent(CUcontext ctx) {
    if (!atomic_load(&initialized)) return CUDA_ERROR_NOT_INITIALIZED;
    if (ctx && (ctx < &primary[0] || ctx >= &primary[device_count]))
        return CUDA_ERROR_INVALID_CONTEXT;
    current = ctx;
    return CUDA_SUCCESS;
}

DD_EXPORT CUresult cuCtxGetDevice(CUdevice *dev) {
    CUresult r = need_context();
    if (r != CUDA_SUCCESS) return r;
    if (!dev) return CUDA_ERROR_INVALID_VALUE;
    *dev = current->device;
    return CUDA_SUCCESS;
}

/* Like the real driver, needs no current context: adxl asks it of any pointer a user
 * registers, on the user's thread. */
DD_EXPORT CUresult cuPointerGetAttribute(void *data, int attribute, CUdeviceptr ptr) {
    if (!atomic_load(&initialized)) return CUDA_ERROR_NOT_INITIALIZED;
    if (!data) return CUDA_ERROR_INVALID_VALUE;
    gm_info info;
    unsigned memory_type = CU_MEMORYTYPE_DEVICE;
    if (gm_device_find((uintptr_t)ptr, &info) != GM_OK) {
        if (gm_host_find((uintptr_t)ptr, &info) != GM_OK) return CUDA_ERROR_INVALID_VALUE;
        memory_type = CU_MEMORYTYPE_HOST;
    }
    switch (attribute) {
    case CU_POINTER_ATTRIBUTE_CONTEXT:
        *(CUcontext *)data = &primary[info.device];
        return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
        *(unsigned *)data = memory_type;
        return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL:
        *(int *)data = info.device;
        return CUDA_SUCCESS;
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
}

DD_EXPORT CUresult cuMemGetAddressRange_v2(CUdeviceptr *base, size_t *size, CUdeviceptr ptr) {
    CUresult r = need_context();
    if (r != CUDA_SUCCESS) return r;
    gm_info info;
    if (gm_device_find((uintptr_t)ptr, &info) != GM_OK) return CUDA_ERROR_NOT_FOUND;
    if (base) *base = info.base;
    if (size) *size = info.size;
    return CUDA_SUCCESS;
}

DD_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t size) {
    CUresult r = need_context();
    if (r != CUDA_SUCCESS) return r;
    if (!dptr || size == 0) return CUDA_ERROR_INVALID_VALUE;
    uintptr_t dev;
    gm_status st = gm_device_alloc(size, current->device, &dev);
    if (st == GM_OK) *dptr = dev;
    return from_gm(st);
}

/* Freeing 0 succeeds, as cudaFree(NULL) does. */
DD_EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr) {
    CUresult r = need_context();
    if (r != CUDA_SUCCESS) return r;
    if (dptr == 0) return CUDA_SUCCESS;
    return gm_device_free((uintptr_t)dptr) == GM_OK ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

DD_EXPORT CUresult cuMemAllocHost_v2(void **pp, size_t size) {
    CUresult r = need_context();
    if (r != CUDA_SUCCESS) return r;
    if (!pp || size == 0) return CUDA_ERROR_INVALID_VALUE;
    return from_gm(gm_host_alloc(size, current->device, pp));
}

DD_EXPORT CUresult cuMemFreeHost(void *p) {
    CUresult r = need_context();
    if (r != CUDA_SUCCESS) return r;
    return gm_host_free(p) == GM_OK ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

DD_EXPORT CUresult cuMemHostRegister_v2(void *p, size_t size, unsigned flags) {
    (void)flags;
    CUresult r = need_context();
    if (r != CUDA_SUCCESS) return r;
    if (!p || size == 0) return CUDA_ERROR_INVALID_VALUE;
    return from_gm(gm_host_register(p, size, current->device));
}

DD_EXPORT CUresult cuMemHostUnregister(void *p) {
    CUresult r = need_context();
    if (r != CUDA_SUCCESS) return r;
    return gm_host_unregister(p) == GM_OK ? CUDA_SUCCESS : CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
}

/* The NULL stream and the two special handles cuda.h names (CU_STREAM_LEGACY 0x1,
 * CU_STREAM_PER_THREAD 0x2) are synchronous here: their copies run when called. */
static bool is_null_stream(CUstream stream) {
    return (uintptr_t)stream <= 2;
}

/* Runs op now (stream NULL) or queues it on the stream, after the checks that the driver
 * makes when the call is made. */
static CUresult submit(const gm_op *op, CUstream stream) {
    CUresult r = need_context();
    if (r != CUDA_SUCCESS) return r;
    sq_stream *s = is_null_stream(stream) ? NULL : (sq_stream *)stream;
    if (s && !sq_is_live(s)) return CUDA_ERROR_INVALID_HANDLE;
    gm_status st = gm_check(op);
    if (st != GM_OK) return from_gm(st);
    if (!s) return from_gm(gm_copy(op));
    return sq_enqueue(s, op) ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

static gm_op copy_op(uintptr_t dst, bool dst_dev, uintptr_t src, bool src_dev, size_t len) {
    return (gm_op){.dst = dst, .src = src, .len = len, .dst_dev = dst_dev, .src_dev = src_dev};
}

DD_EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n) {
    gm_op op = copy_op((uintptr_t)dst, true, (uintptr_t)src, false, n);
    return submit(&op, NULL);
}

DD_EXPORT CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n) {
    gm_op op = copy_op((uintptr_t)dst, false, (uintptr_t)src, true, n);
    return submit(&op, NULL);
}

DD_EXPORT CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n) {
    gm_op op = copy_op((uintptr_t)dst, true, (uintptr_t)src, true, n);
    return submit(&op, NULL);
}

DD_EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n,
                                        CUstream stream) {
    gm_op op = copy_op((uintptr_t)dst, true, (uintptr_t)src, false, n);
    return submit(&op, stream);
}

DD_EXPORT CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, CUstream stream) {
    gm_op op = copy_op((uintptr_t)dst, false, (uintptr_t)src, true, n);
    return submit(&op, stream);
}

DD_EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n,
                                        CUstream stream) {
    gm_op op = copy_op((uintptr_t)dst, true, (uintptr_t)src, true, n);
    return submit(&op, stream);
}

DD_EXPORT CUresult cuMemsetD8_v2(CUdeviceptr dst, unsigned char value, size_t n) {
    gm_op op = {
        .dst = (uintptr_t)dst, .len = n, .dst_dev = true, .is_memset = true, .fill_byte = value};
    return submit(&op, NULL);
}

DD_EXPORT CUresult cuStreamCreate(CUstream *stream, unsigned flags) {
    (void)flags;
    CUresult r = need_context();
    if (r != CUDA_SUCCESS) return r;
    if (!stream) return CUDA_ERROR_INVALID_VALUE;
    sq_stream *s = sq_create(current->device);
    if (!s) return CUDA_ERROR_OUT_OF_MEMORY;
    *stream = (CUstream)s;
    return CUDA_SUCCESS;
}

DD_EXPORT CUresult cuStreamDestroy_v2(CUstream stream) {
    CUresult r = need_context();
    if (r != CUDA_SUCCESS) return r;
    sq_stream *s = (sq_stream *)stream;
    if (!s || !sq_is_live(s)) return CUDA_ERROR_INVALID_HANDLE;
    sq_destroy(s);
    return CUDA_SUCCESS;
}

DD_EXPORT CUresult cuStreamSynchronize(CUstream stream) {
    CUresult r = need_context();
    if (r != CUDA_SUCCESS) return r;
    if (is_null_stream(stream)) return CUDA_SUCCESS;
    sq_stream *s = (sq_stream *)stream;
    if (!sq_is_live(s)) return CUDA_ERROR_INVALID_HANDLE;
    return from_gm(sq_sync(s));
}

DD_EXPORT CUresult cuIpcGetMemHandle(CUipcMemHandle *handle, CUdeviceptr ptr) {
    CUresult r = need_context();
    if (r != CUDA_SUCCESS) return r;
    if (!handle) return CUDA_ERROR_INVALID_VALUE;
    gm_handle h;
    gm_status st = gm_export((uintptr_t)ptr, &h);
    if (st == GM_OK) memcpy(handle, &h, sizeof(h));
    return from_gm(st);
}

DD_EXPORT CUresult cuIpcOpenMemHandle_v2(CUdeviceptr *dptr, CUipcMemHandle handle, unsigned flags) {
    (void)flags;
    CUresult r = need_context();
    if (r != CUDA_SUCCESS) return r;
    if (!dptr) return CUDA_ERROR_INVALID_VALUE;
    gm_handle h;
    memcpy(&h, &handle, sizeof(h));
    uintptr_t dev;
    gm_status st = gm_import(&h, current->device, &dev);
    if (st == GM_OK) *dptr = dev;
    return from_gm(st);
}

DD_EXPORT CUresult cuIpcCloseMemHandle(CUdeviceptr dptr) {
    CUresult r = need_context();
    if (r != CUDA_SUCCESS) return r;
    return gm_close_import((uintptr_t)dptr) == GM_OK ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

DD_EXPORT void cuda_double_fail_copies(int n) {
    gm_fail_next(n);
}
DD_EXPORT void cuda_double_limit_memory(size_t bytes) {
    gm_limit_device_memory(bytes);
}
DD_EXPORT void cuda_double_hold_streams(int hold) {
    sq_hold(hold != 0);
}
DD_EXPORT size_t cuda_double_live_allocations(void) {
    return gm_live_device_allocs();
}
DD_EXPORT size_t cuda_double_live_host_allocations(void) {
    return gm_live_host_allocs();
}
DD_EXPORT size_t cuda_double_registered_host_ranges(void) {
    return gm_registered_ranges();
}
DD_EXPORT size_t cuda_double_open_ipc_handles(void) {
    return gm_open_imports();
}
DD_EXPORT size_t cuda_double_live_streams(void) {
    return sq_live_streams();
}
