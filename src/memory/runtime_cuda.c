/*
 * CUDA through its driver API (libcuda.so.1), loaded at run time. The declarations below
 * are our own, written to the driver's stable C ABI, so that building adxl needs no CUDA
 * toolkit. ADXL_CUDA_LIBRARY names another library (the test double, say).
 */
#include "core/log.h"
#include "memory/device.h"
#include "memory/dl_table.h"

#include <pthread.h>
#include <string.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
typedef int CUdevice;
typedef struct CUctx_st *CUcontext;
typedef struct CUstream_st *CUstream;
typedef struct {
    char reserved[ADXL_IPC_HANDLE_BYTES];
} CUipcMemHandle;

#define CUDA_SUCCESS 0
#define CU_POINTER_ATTRIBUTE_CONTEXT 1
#define CU_POINTER_ATTRIBUTE_MEMORY_TYPE 2
#define CU_MEMORYTYPE_DEVICE 2
#define CU_MEMHOSTREGISTER_PORTABLE 1
#define CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS 1
#define CU_STREAM_NON_BLOCKING 1

static struct {
    CUresult (*Init)(unsigned);
    CUresult (*GetErrorString)(CUresult, const char **);
    CUresult (*DeviceGetCount)(int *);
    CUresult (*CtxGetCurrent)(CUcontext *);
    CUresult (*CtxSetCurrent)(CUcontext);
    CUresult (*PointerGetAttribute)(void *, int, CUdeviceptr);
    CUresult (*MemGetAddressRange)(CUdeviceptr *, size_t *, CUdeviceptr);
    CUresult (*MemAlloc)(CUdeviceptr *, size_t);
    CUresult (*MemFree)(CUdeviceptr);
    CUresult (*MemAllocHost)(void **, size_t);
    CUresult (*MemFreeHost)(void *);
    CUresult (*MemHostRegister)(void *, size_t, unsigned);
    CUresult (*MemHostUnregister)(void *);
    CUresult (*MemcpyHtoD)(CUdeviceptr, const void *, size_t);
    CUresult (*MemcpyDtoH)(void *, CUdeviceptr, size_t);
    CUresult (*MemcpyDtoD)(CUdeviceptr, CUdeviceptr, size_t);
    CUresult (*MemcpyHtoDAsync)(CUdeviceptr, const void *, size_t, CUstream);
    CUresult (*MemcpyDtoHAsync)(void *, CUdeviceptr, size_t, CUstream);
    CUresult (*MemcpyDtoDAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
    CUresult (*StreamCreate)(CUstream *, unsigned);
    CUresult (*StreamDestroy)(CUstream);
    CUresult (*StreamSynchronize)(CUstream);
    CUresult (*IpcGetMemHandle)(CUipcMemHandle *, CUdeviceptr);
    CUresult (*IpcOpenMemHandle)(CUdeviceptr *, CUipcMemHandle, unsigned);
    CUresult (*IpcCloseMemHandle)(CUdeviceptr);
} cu;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bool loaded;

#define SYM(name, field, optional)                                                                 \
    { name, (void **)&cu.field, optional }

static void load_library(void) {
    const adxl_dl_symbol_t symbols[] = {
        SYM("cuInit", Init, false),
        SYM("cuGetErrorString", GetErrorString, false),
        SYM("cuDeviceGetCount", DeviceGetCount, false),
        SYM("cuCtxGetCurrent", CtxGetCurrent, false),
        SYM("cuCtxSetCurrent", CtxSetCurrent, false),
        SYM("cuPointerGetAttribute", PointerGetAttribute, false),
        SYM("cuMemGetAddressRange_v2", MemGetAddressRange, false),
        SYM("cuMemAlloc_v2", MemAlloc, false),
        SYM("cuMemFree_v2", MemFree, false),
        SYM("cuMemAllocHost_v2", MemAllocHost, false),
        SYM("cuMemFreeHost", MemFreeHost, false),
        SYM("cuMemHostRegister_v2", MemHostRegister, true),
        SYM("cuMemHostUnregister", MemHostUnregister, true),
        SYM("cuMemcpyHtoD_v2", MemcpyHtoD, false),
        SYM("cuMemcpyDtoH_v2", MemcpyDtoH, false),
        SYM("cuMemcpyDtoD_v2", MemcpyDtoD, false),
        SYM("cuMemcpyHtoDAsync_v2", MemcpyHtoDAsync, false),
        SYM("cuMemcpyDtoHAsync_v2", MemcpyDtoHAsync, false),
        SYM("cuMemcpyDtoDAsync_v2", MemcpyDtoDAsync, false),
        SYM("cuStreamCreate", StreamCreate, false),
        SYM("cuStreamDestroy_v2", StreamDestroy, false),
        SYM("cuStreamSynchronize", StreamSynchronize, false),
        SYM("cuIpcGetMemHandle", IpcGetMemHandle, true),
        SYM("cuIpcOpenMemHandle_v2", IpcOpenMemHandle, true),
        SYM("cuIpcCloseMemHandle", IpcCloseMemHandle, true),
    };
    if (!adxl_dl_bind("cuda", "ADXL_CUDA_LIBRARY", "libcuda.so.1", symbols,
                      sizeof(symbols) / sizeof(symbols[0])))
        return;
    CUresult rc = cu.Init(0);
    if (rc != CUDA_SUCCESS) {
        const char *why = NULL;
        cu.GetErrorString(rc, &why);
        LOG_INFO("device runtime cuda: cuInit failed: %s (%d)", why ? why : "?", rc);
        return;
    }
    /* IPC is all or nothing. */
    if (!cu.IpcGetMemHandle || !cu.IpcOpenMemHandle || !cu.IpcCloseMemHandle)
        cu.IpcGetMemHandle = NULL;
    loaded = true;
}

static bool cuda_load(void) {
    pthread_once(&load_once, load_library);
    return loaded;
}

/* ADXL_SUCCESS, or ADXL_FAILED with the driver's reason in the log. */
static adxl_status_t check(CUresult rc, const char *what) {
    if (rc == CUDA_SUCCESS) return ADXL_SUCCESS;
    const char *why = NULL;
    cu.GetErrorString(rc, &why);
    LOG_ERROR("cuda: %s failed: %s (%d)", what, why ? why : "unknown error", rc);
    return ADXL_FAILED;
}

static int cuda_device_count(void) {
    int n = 0;
    return cu.DeviceGetCount(&n) == CUDA_SUCCESS ? n : 0;
}

static void *cuda_current(void) {
    CUcontext ctx = NULL;
    return cu.CtxGetCurrent(&ctx) == CUDA_SUCCESS ? (void *)ctx : NULL;
}

static adxl_status_t cuda_set_current(void *ctx) {
    return check(cu.CtxSetCurrent((CUcontext)ctx), "cuCtxSetCurrent");
}

static int cuda_classify(const void *ptr, size_t len, void **ctx) {
    unsigned int type = 0;
    CUdeviceptr p = (CUdeviceptr)(uintptr_t)ptr;
    /* The driver does not know pageable host memory: that is an error, and means host. */
    if (cu.PointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, p) != CUDA_SUCCESS ||
        type != CU_MEMORYTYPE_DEVICE)
        return 0;
    CUdeviceptr base = 0;
    size_t size = 0;
    if (cu.MemGetAddressRange(&base, &size, p) != CUDA_SUCCESS || len > size - (p - base))
        return 2; /* device memory, but not one allocation wholly */
    CUcontext owner = NULL;
    if (cu.PointerGetAttribute(&owner, CU_POINTER_ATTRIBUTE_CONTEXT, p) == CUDA_SUCCESS && owner)
        *ctx = owner;
    return 1;
}

static adxl_status_t cuda_copy(void *dst, const void *src, size_t len, adxl_copy_dir_t dir) {
    CUdeviceptr d = (CUdeviceptr)(uintptr_t)dst, s = (CUdeviceptr)(uintptr_t)src;
    switch (dir) {
    case ADXL_COPY_H2D:
        return check(cu.MemcpyHtoD(d, src, len), "cuMemcpyHtoD");
    case ADXL_COPY_D2H:
        return check(cu.MemcpyDtoH(dst, s, len), "cuMemcpyDtoH");
    case ADXL_COPY_D2D:
    default:
        return check(cu.MemcpyDtoD(d, s, len), "cuMemcpyDtoD");
    }
}

static adxl_status_t cuda_stream_create(void **stream) {
    CUstream s = NULL;
    adxl_status_t st = check(cu.StreamCreate(&s, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
    *stream = s;
    return st;
}

static void cuda_stream_destroy(void *stream) {
    (void)check(cu.StreamDestroy((CUstream)stream), "cuStreamDestroy");
}

static adxl_status_t cuda_copy_async(void *dst, const void *src, size_t len, adxl_copy_dir_t dir,
                                     void *stream) {
    CUdeviceptr d = (CUdeviceptr)(uintptr_t)dst, s = (CUdeviceptr)(uintptr_t)src;
    CUstream st = (CUstream)stream;
    switch (dir) {
    case ADXL_COPY_H2D:
        return check(cu.MemcpyHtoDAsync(d, src, len, st), "cuMemcpyHtoDAsync");
    case ADXL_COPY_D2H:
        return check(cu.MemcpyDtoHAsync(dst, s, len, st), "cuMemcpyDtoHAsync");
    case ADXL_COPY_D2D:
    default:
        return check(cu.MemcpyDtoDAsync(d, s, len, st), "cuMemcpyDtoDAsync");
    }
}

static adxl_status_t cuda_stream_sync(void *stream) {
    return check(cu.StreamSynchronize((CUstream)stream), "cuStreamSynchronize");
}

static adxl_status_t cuda_host_alloc(size_t size, void **ptr) {
    return check(cu.MemAllocHost(ptr, size), "cuMemAllocHost");
}

static void cuda_host_free(void *ptr) {
    (void)check(cu.MemFreeHost(ptr), "cuMemFreeHost");
}

static bool cuda_host_register(void *ptr, size_t size) {
    return cu.MemHostRegister &&
           cu.MemHostRegister(ptr, size, CU_MEMHOSTREGISTER_PORTABLE) == CUDA_SUCCESS;
}

static void cuda_host_unregister(void *ptr) {
    if (cu.MemHostUnregister) (void)cu.MemHostUnregister(ptr);
}

static adxl_status_t cuda_device_alloc(size_t size, void **ptr) {
    CUdeviceptr p = 0;
    adxl_status_t st = check(cu.MemAlloc(&p, size), "cuMemAlloc");
    *ptr = st == ADXL_SUCCESS ? (void *)(uintptr_t)p : NULL;
    return st;
}

static adxl_status_t cuda_device_free(void *ptr) {
    return check(cu.MemFree((CUdeviceptr)(uintptr_t)ptr), "cuMemFree");
}

static adxl_status_t cuda_ipc_export(const void *ptr, uint8_t handle[ADXL_IPC_HANDLE_BYTES],
                                     uintptr_t *alloc_base, size_t *alloc_size) {
    if (!cu.IpcGetMemHandle) return ADXL_UNSUPPORTED;
    CUdeviceptr p = (CUdeviceptr)(uintptr_t)ptr, base = 0;
    size_t size = 0;
    CUipcMemHandle h;
    adxl_status_t st = check(cu.MemGetAddressRange(&base, &size, p), "cuMemGetAddressRange");
    if (st == ADXL_SUCCESS) st = check(cu.IpcGetMemHandle(&h, base), "cuIpcGetMemHandle");
    if (st != ADXL_SUCCESS) return st;
    memcpy(handle, h.reserved, ADXL_IPC_HANDLE_BYTES);
    *alloc_base = (uintptr_t)base;
    *alloc_size = size;
    return ADXL_SUCCESS;
}

static adxl_status_t cuda_ipc_open(const uint8_t handle[ADXL_IPC_HANDLE_BYTES], void **base,
                                   size_t *size) {
    if (!cu.IpcOpenMemHandle) return ADXL_UNSUPPORTED;
    CUipcMemHandle h;
    memcpy(h.reserved, handle, ADXL_IPC_HANDLE_BYTES);
    CUdeviceptr p = 0, start = 0;
    *base = NULL;
    adxl_status_t st =
        check(cu.IpcOpenMemHandle(&p, h, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS), "cuIpcOpenMemHandle");
    if (st != ADXL_SUCCESS) return st;
    st = check(cu.MemGetAddressRange(&start, size, p), "cuMemGetAddressRange");
    if (st != ADXL_SUCCESS || start != p) {
        (void)cu.IpcCloseMemHandle(p);
        return ADXL_FAILED;
    }
    *base = (void *)(uintptr_t)p;
    return ADXL_SUCCESS;
}

static adxl_status_t cuda_ipc_close(void *base) {
    return check(cu.IpcCloseMemHandle((CUdeviceptr)(uintptr_t)base), "cuIpcCloseMemHandle");
}

const adxl_device_runtime_t adxl_cuda_runtime = {
    .name = "cuda",
    .load = cuda_load,
    .device_count = cuda_device_count,
    .current = cuda_current,
    .set_current = cuda_set_current,
    .classify = cuda_classify,
    .copy = cuda_copy,
    .stream_create = cuda_stream_create,
    .stream_destroy = cuda_stream_destroy,
    .copy_async = cuda_copy_async,
    .stream_sync = cuda_stream_sync,
    .host_alloc = cuda_host_alloc,
    .host_free = cuda_host_free,
    .host_register = cuda_host_register,
    .host_unregister = cuda_host_unregister,
    .device_alloc = cuda_device_alloc,
    .device_free = cuda_device_free,
    .ipc_export = cuda_ipc_export,
    .ipc_open = cuda_ipc_open,
    .ipc_close = cuda_ipc_close,
};
