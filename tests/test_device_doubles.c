/*
 * The runtime doubles of tests/doubles (libcuda.so.1 and libascendcl.so), loaded by path
 * as adxl's memory layer loads the real ones: bytes round-trip through every copy
 * direction, a CPU access to device memory kills the process, asynchronous copies land
 * only by the stream's synchronize, the runtimes' context rules and bounds are enforced,
 * IPC handles work across processes, and the test controls (failure injection, counts)
 * do what tests of the engine will rely on.
 */
#include "testutil.h"

#include "doubles/acl_api.h"
#include "doubles/cuda_api.h"
#include "doubles/device_double.h"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1024 * 1024)

/* Pointers typed from the doubles' own declarations, so that the two cannot disagree. */
#define FN(name) __typeof__(name) *name

/* The driver calls, under the names the memory layer will dlsym(). */
static struct {
    FN(cuInit);
    FN(cuDriverGetVersion);
    FN(cuGetErrorName);
    FN(cuGetErrorString);
    FN(cuDeviceGetCount);
    FN(cuDeviceGet);
    FN(cuDevicePrimaryCtxRetain);
    FN(cuDevicePrimaryCtxRelease_v2);
    FN(cuCtxGetCurrent);
    FN(cuCtxSetCurrent);
    FN(cuCtxGetDevice);
    FN(cuPointerGetAttribute);
    FN(cuMemGetAddressRange_v2);
    FN(cuMemAlloc_v2);
    FN(cuMemFree_v2);
    FN(cuMemAllocHost_v2);
    FN(cuMemFreeHost);
    FN(cuMemHostRegister_v2);
    FN(cuMemHostUnregister);
    FN(cuMemcpyHtoD_v2);
    FN(cuMemcpyDtoH_v2);
    FN(cuMemcpyDtoD_v2);
    FN(cuMemcpyHtoDAsync_v2);
    FN(cuMemcpyDtoHAsync_v2);
    FN(cuMemcpyDtoDAsync_v2);
    FN(cuMemsetD8_v2);
    FN(cuStreamCreate);
    FN(cuStreamDestroy_v2);
    FN(cuStreamSynchronize);
    FN(cuIpcGetMemHandle);
    FN(cuIpcOpenMemHandle_v2);
    FN(cuIpcCloseMemHandle);
    __typeof__(cuda_double_fail_copies) *fail_copies;
    __typeof__(cuda_double_hold_streams) *hold_streams;
    __typeof__(cuda_double_limit_memory) *limit_memory;
    __typeof__(cuda_double_live_allocations) *live_allocations;
    __typeof__(cuda_double_live_host_allocations) *live_host_allocations;
    __typeof__(cuda_double_registered_host_ranges) *registered_host_ranges;
    __typeof__(cuda_double_open_ipc_handles) *open_ipc_handles;
    __typeof__(cuda_double_live_streams) *live_streams;
} cu;

#define H2H ACL_MEMCPY_HOST_TO_HOST
#define H2D ACL_MEMCPY_HOST_TO_DEVICE
#define D2H ACL_MEMCPY_DEVICE_TO_HOST
#define D2D ACL_MEMCPY_DEVICE_TO_DEVICE

/* AscendCL calls, under the names the memory layer will dlsym(). */
static struct {
    FN(aclrtSetDevice);
    FN(aclrtGetDevice);
    FN(aclrtGetCurrentContext);
    FN(aclrtSetCurrentContext);
    FN(aclrtMalloc);
    FN(aclrtFree);
    FN(aclrtMallocHost);
    FN(aclrtFreeHost);
    FN(aclrtMemcpy);
    FN(aclrtMemcpyAsync);
    FN(aclrtMemset);
    FN(aclrtCreateStream);
    FN(aclrtDestroyStream);
    FN(aclrtSynchronizeStream);
    FN(aclGetRecentErrMsg);
    __typeof__(acl_double_fail_copies) *fail_copies;
    __typeof__(acl_double_hold_streams) *hold_streams;
    __typeof__(acl_double_limit_memory) *limit_memory;
    __typeof__(acl_double_live_allocations) *live_allocations;
    __typeof__(acl_double_live_host_allocations) *live_host_allocations;
    __typeof__(acl_double_live_streams) *live_streams;
} acl;

static void *load_symbol(void *lib, const char *name) {
    void *sym = dlsym(lib, name);
    if (!sym) fprintf(stderr, "missing symbol %s\n", name);
    REQUIRE(sym != NULL);
    return sym;
}

#define LOAD(table, lib, field) table.field = load_symbol(lib, #field)
#define LOAD_AS(table, lib, field, name) table.field = load_symbol(lib, name)

static void load_cuda(void) {
    void *lib = dlopen(DOUBLE_CUDA_PATH, RTLD_NOW | RTLD_LOCAL);
    if (!lib) fprintf(stderr, "dlopen %s: %s\n", DOUBLE_CUDA_PATH, dlerror());
    REQUIRE(lib != NULL);
    LOAD(cu, lib, cuInit);
    LOAD(cu, lib, cuDriverGetVersion);
    LOAD(cu, lib, cuGetErrorName);
    LOAD(cu, lib, cuGetErrorString);
    LOAD(cu, lib, cuDeviceGetCount);
    LOAD(cu, lib, cuDeviceGet);
    LOAD(cu, lib, cuDevicePrimaryCtxRetain);
    LOAD(cu, lib, cuDevicePrimaryCtxRelease_v2);
    LOAD(cu, lib, cuCtxGetCurrent);
    LOAD(cu, lib, cuCtxSetCurrent);
    LOAD(cu, lib, cuCtxGetDevice);
    LOAD(cu, lib, cuPointerGetAttribute);
    LOAD(cu, lib, cuMemGetAddressRange_v2);
    LOAD(cu, lib, cuMemAlloc_v2);
    LOAD(cu, lib, cuMemFree_v2);
    LOAD(cu, lib, cuMemAllocHost_v2);
    LOAD(cu, lib, cuMemFreeHost);
    LOAD(cu, lib, cuMemHostRegister_v2);
    LOAD(cu, lib, cuMemHostUnregister);
    LOAD(cu, lib, cuMemcpyHtoD_v2);
    LOAD(cu, lib, cuMemcpyDtoH_v2);
    LOAD(cu, lib, cuMemcpyDtoD_v2);
    LOAD(cu, lib, cuMemcpyHtoDAsync_v2);
    LOAD(cu, lib, cuMemcpyDtoHAsync_v2);
    LOAD(cu, lib, cuMemcpyDtoDAsync_v2);
    LOAD(cu, lib, cuMemsetD8_v2);
    LOAD(cu, lib, cuStreamCreate);
    LOAD(cu, lib, cuStreamDestroy_v2);
    LOAD(cu, lib, cuStreamSynchronize);
    LOAD(cu, lib, cuIpcGetMemHandle);
    LOAD(cu, lib, cuIpcOpenMemHandle_v2);
    LOAD(cu, lib, cuIpcCloseMemHandle);
    LOAD_AS(cu, lib, fail_copies, "cuda_double_fail_copies");
    LOAD_AS(cu, lib, hold_streams, "cuda_double_hold_streams");
    LOAD_AS(cu, lib, limit_memory, "cuda_double_limit_memory");
    LOAD_AS(cu, lib, live_allocations, "cuda_double_live_allocations");
    LOAD_AS(cu, lib, live_host_allocations, "cuda_double_live_host_allocations");
    LOAD_AS(cu, lib, registered_host_ranges, "cuda_double_registered_host_ranges");
    LOAD_AS(cu, lib, open_ipc_handles, "cuda_double_open_ipc_handles");
    LOAD_AS(cu, lib, live_streams, "cuda_double_live_streams");
}

static void load_acl(void) {
    void *lib = dlopen(DOUBLE_ASCEND_PATH, RTLD_NOW | RTLD_LOCAL);
    if (!lib) fprintf(stderr, "dlopen %s: %s\n", DOUBLE_ASCEND_PATH, dlerror());
    REQUIRE(lib != NULL);
    LOAD(acl, lib, aclrtSetDevice);
    LOAD(acl, lib, aclrtGetDevice);
    LOAD(acl, lib, aclrtGetCurrentContext);
    LOAD(acl, lib, aclrtSetCurrentContext);
    LOAD(acl, lib, aclrtMalloc);
    LOAD(acl, lib, aclrtFree);
    LOAD(acl, lib, aclrtMallocHost);
    LOAD(acl, lib, aclrtFreeHost);
    LOAD(acl, lib, aclrtMemcpy);
    LOAD(acl, lib, aclrtMemcpyAsync);
    LOAD(acl, lib, aclrtMemset);
    LOAD(acl, lib, aclrtCreateStream);
    LOAD(acl, lib, aclrtDestroyStream);
    LOAD(acl, lib, aclrtSynchronizeStream);
    LOAD(acl, lib, aclGetRecentErrMsg);
    LOAD_AS(acl, lib, fail_copies, "acl_double_fail_copies");
    LOAD_AS(acl, lib, hold_streams, "acl_double_hold_streams");
    LOAD_AS(acl, lib, limit_memory, "acl_double_limit_memory");
    LOAD_AS(acl, lib, live_allocations, "acl_double_live_allocations");
    LOAD_AS(acl, lib, live_host_allocations, "acl_double_live_host_allocations");
    LOAD_AS(acl, lib, live_streams, "acl_double_live_streams");
}

/* Whether a forked child that reads (or writes) addr dies of SIGSEGV. The child restores
 * the default action first: a sanitizer's handler would otherwise turn the fault into an
 * exit with a report. */
static bool cpu_access_faults(uintptr_t addr, bool write) {
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL);
        volatile unsigned char *p = (volatile unsigned char *)addr;
        if (write)
            *p = 1;
        else
            (void)*p;
        _exit(0);
    }
    REQUIRE(pid > 0);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV;
}

/* Runs fn in a forked child and returns its exit code (0 for success), -1 if it died. */
static int in_child(int (*fn)(void *), void *arg) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) _exit(fn(arg));
    REQUIRE(pid > 0);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- CUDA ---- */

static CUcontext ctx0, ctx1;

static void cuda_before_init(void) {
    CUdeviceptr d = 0;
    int n = -1;
    const char *name = NULL;
    CHECK(cu.cuMemAlloc_v2(&d, 4096) == CUDA_ERROR_NOT_INITIALIZED);
    CHECK(cu.cuDeviceGetCount(&n) == CUDA_ERROR_NOT_INITIALIZED);
    CHECK(cu.cuCtxSetCurrent(NULL) == CUDA_ERROR_NOT_INITIALIZED);
    CHECK(cu.cuDriverGetVersion(&n) == CUDA_SUCCESS && n == 12000);
    CHECK(cu.cuGetErrorName(CUDA_ERROR_INVALID_CONTEXT, &name) == CUDA_SUCCESS && name &&
          strcmp(name, "CUDA_ERROR_INVALID_CONTEXT") == 0);
    CHECK(cu.cuGetErrorString(CUDA_ERROR_NOT_INITIALIZED, &name) == CUDA_SUCCESS && name && *name);
    CHECK(cu.cuGetErrorName(123456, &name) == CUDA_ERROR_INVALID_VALUE && name == NULL);
    CHECK(cu.cuInit(1) == CUDA_ERROR_INVALID_VALUE);
    REQUIRE(cu.cuInit(0) == CUDA_SUCCESS);
    CHECK(cu.cuDeviceGetCount(&n) == CUDA_SUCCESS && n == 2);
    int dev = -1;
    CHECK(cu.cuDeviceGet(&dev, 1) == CUDA_SUCCESS && dev == 1);
    CHECK(cu.cuDeviceGet(&dev, 2) == CUDA_ERROR_INVALID_DEVICE);
}

static void *try_alloc_without_context(void *arg) {
    CUresult *out = arg;
    CUdeviceptr d = 0;
    out[0] = cu.cuMemAlloc_v2(&d, 4096);
    CUcontext c = (CUcontext)1;
    out[1] =
        cu.cuCtxGetCurrent(&c) == CUDA_SUCCESS && c == NULL ? CUDA_SUCCESS : CUDA_ERROR_UNKNOWN;
    /* Adopting the context makes the same call work on this thread. */
    out[2] = cu.cuCtxSetCurrent(ctx1);
    out[3] = cu.cuMemAlloc_v2(&d, 4096);
    if (out[3] == CUDA_SUCCESS) out[4] = cu.cuMemFree_v2(d);
    return NULL;
}

static void cuda_contexts(void) {
    CUdeviceptr d = 0;
    CHECK(cu.cuMemAlloc_v2(&d, 4096) == CUDA_ERROR_INVALID_CONTEXT);
    CHECK(cu.cuStreamCreate(&(CUstream){0}, 0) == CUDA_ERROR_INVALID_CONTEXT);
    REQUIRE(cu.cuDevicePrimaryCtxRetain(&ctx0, 0) == CUDA_SUCCESS);
    REQUIRE(cu.cuDevicePrimaryCtxRetain(&ctx1, 1) == CUDA_SUCCESS);
    CHECK(ctx0 != ctx1);
    CHECK(cu.cuCtxSetCurrent((CUcontext)&d) == CUDA_ERROR_INVALID_CONTEXT);
    REQUIRE(cu.cuCtxSetCurrent(ctx0) == CUDA_SUCCESS);
    CUcontext c = NULL;
    int dev = -1;
    CHECK(cu.cuCtxGetCurrent(&c) == CUDA_SUCCESS && c == ctx0);
    CHECK(cu.cuCtxGetDevice(&dev) == CUDA_SUCCESS && dev == 0);

    /* The context is the calling thread's: another thread has none until it sets one. */
    CUresult results[5] = {-1, -1, -1, -1, -1};
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, try_alloc_without_context, results) == 0);
    pthread_join(t, NULL);
    CHECK(results[0] == CUDA_ERROR_INVALID_CONTEXT);
    CHECK(results[1] == CUDA_SUCCESS);
    CHECK(results[2] == CUDA_SUCCESS);
    CHECK(results[3] == CUDA_SUCCESS);
    CHECK(results[4] == CUDA_SUCCESS);
    CHECK(cu.cuCtxGetCurrent(&c) == CUDA_SUCCESS && c == ctx0); /* untouched here */

    /* Retain and release pair up; one release too many is refused. */
    CUcontext extra = NULL;
    CHECK(cu.cuDevicePrimaryCtxRetain(&extra, 0) == CUDA_SUCCESS && extra == ctx0);
    CHECK(cu.cuDevicePrimaryCtxRelease_v2(0) == CUDA_SUCCESS);
    CHECK(cu.cuDevicePrimaryCtxRelease_v2(5) == CUDA_ERROR_INVALID_DEVICE);
}

static void cuda_round_trip(void) {
    size_t before = cu.live_allocations();
    const size_t size = MIB + 3;
    CUdeviceptr a = 0, b = 0;
    REQUIRE(cu.cuMemAlloc_v2(&a, size) == CUDA_SUCCESS);
    REQUIRE(cu.cuMemAlloc_v2(&b, size) == CUDA_SUCCESS);
    CHECK(a != b && a != 0);
    CHECK(cu.live_allocations() == before + 2);
    CHECK(cu.cuMemAlloc_v2(&(CUdeviceptr){0}, 0) == CUDA_ERROR_INVALID_VALUE);

    unsigned char *host = malloc(size);
    unsigned char *back = malloc(size);
    REQUIRE(host && back);
    tu_fill(host, size, 11);
    CHECK(cu.cuMemcpyHtoD_v2(a, host, size) == CUDA_SUCCESS);
    CHECK(cu.cuMemcpyDtoD_v2(b, a, size) == CUDA_SUCCESS);
    memset(back, 0, size);
    CHECK(cu.cuMemcpyDtoH_v2(back, b, size) == CUDA_SUCCESS);
    CHECK(tu_verify(back, size, 11));

    /* Interior pointers, as an engine copying one piece of a region passes. */
    tu_fill(host, 100, 12);
    CHECK(cu.cuMemcpyHtoD_v2(a + 4093, host, 100) == CUDA_SUCCESS);
    memset(back, 0, 100);
    CHECK(cu.cuMemcpyDtoH_v2(back, a + 4093, 100) == CUDA_SUCCESS);
    CHECK(tu_verify(back, 100, 12));

    CHECK(cu.cuMemsetD8_v2(b + 10, 0xab, 20) == CUDA_SUCCESS);
    CHECK(cu.cuMemcpyDtoH_v2(back, b, 40) == CUDA_SUCCESS);
    bool filled = true;
    for (size_t i = 10; i < 30; i++)
        filled = filled && back[i] == 0xab;
    CHECK(filled);
    CHECK(back[9] == tu_pattern_byte(11, 9) && back[30] == tu_pattern_byte(11, 30));

    /* Bounds: one byte past the end, a host pointer where the device one belongs, a
     * device address where the host one belongs. */
    CHECK(cu.cuMemcpyHtoD_v2(a + size - 10, host, 11) == CUDA_ERROR_INVALID_VALUE);
    CHECK(cu.cuMemcpyDtoH_v2(back, a + size - 10, 11) == CUDA_ERROR_INVALID_VALUE);
    CHECK(cu.cuMemcpyDtoD_v2(b + 1, a, size) == CUDA_ERROR_INVALID_VALUE);
    CHECK(cu.cuMemsetD8_v2(a, 0, size + 1) == CUDA_ERROR_INVALID_VALUE);
    CHECK(cu.cuMemcpyHtoD_v2((CUdeviceptr)(uintptr_t)back, host, 8) == CUDA_ERROR_INVALID_VALUE);
    CHECK(cu.cuMemcpyDtoH_v2(back, (CUdeviceptr)(uintptr_t)host, 8) == CUDA_ERROR_INVALID_VALUE);
    CHECK(cu.cuMemcpyHtoD_v2(a, (const void *)(uintptr_t)b, 8) == CUDA_ERROR_INVALID_VALUE);
    CHECK(cu.cuMemcpyDtoH_v2((void *)(uintptr_t)b, a, 8) == CUDA_ERROR_INVALID_VALUE);
    CHECK(cu.cuMemcpyDtoH_v2(back, a + size, 1) == CUDA_ERROR_INVALID_VALUE);

    CHECK(cu.cuMemFree_v2(a + 1) == CUDA_ERROR_INVALID_VALUE); /* not the base */
    CHECK(cu.cuMemFree_v2(a) == CUDA_SUCCESS);
    CHECK(cu.cuMemFree_v2(a) == CUDA_ERROR_INVALID_VALUE); /* twice */
    CHECK(cu.cuMemcpyDtoH_v2(back, a, 1) == CUDA_ERROR_INVALID_VALUE);
    CHECK(cu.cuMemFree_v2(b) == CUDA_SUCCESS);
    CHECK(cu.live_allocations() == before);

    /* A device that is full. */
    cu.limit_memory(3 * 4096);
    CHECK(cu.cuMemAlloc_v2(&a, 2 * 4096) == CUDA_SUCCESS);
    CHECK(cu.cuMemAlloc_v2(&b, 2 * 4096) == CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(cu.cuMemAlloc_v2(&b, 4096) == CUDA_SUCCESS);
    CHECK(cu.cuMemFree_v2(a) == CUDA_SUCCESS);
    CHECK(cu.cuMemFree_v2(b) == CUDA_SUCCESS);
    cu.limit_memory(0);
    free(host);
    free(back);
}

static void cuda_guarded(void) {
    CUdeviceptr d = 0;
    REQUIRE(cu.cuMemAlloc_v2(&d, 3 * 4096) == CUDA_SUCCESS);
    CHECK(cpu_access_faults((uintptr_t)d, false));
    CHECK(cpu_access_faults((uintptr_t)d + 2 * 4096 + 17, true));
    void *pinned = NULL;
    REQUIRE(cu.cuMemAllocHost_v2(&pinned, 4096) == CUDA_SUCCESS);
    CHECK(!cpu_access_faults((uintptr_t)pinned, true)); /* pinned host memory is host memory */
    CHECK(cu.cuMemFreeHost(pinned) == CUDA_SUCCESS);
    CHECK(cu.cuMemFree_v2(d) == CUDA_SUCCESS);
}

static void cuda_attributes(void) {
    CUdeviceptr d0 = 0, d1 = 0;
    REQUIRE(cu.cuMemAlloc_v2(&d0, 10000) == CUDA_SUCCESS);
    REQUIRE(cu.cuCtxSetCurrent(ctx1) == CUDA_SUCCESS);
    REQUIRE(cu.cuMemAlloc_v2(&d1, 4096) == CUDA_SUCCESS);
    REQUIRE(cu.cuCtxSetCurrent(ctx0) == CUDA_SUCCESS);

    unsigned type = 0;
    int ordinal = -1;
    CUcontext c = NULL;
    CHECK(cu.cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, d0 + 5000) ==
              CUDA_SUCCESS &&
          type == CU_MEMORYTYPE_DEVICE);
    CHECK(cu.cuPointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, d0) ==
              CUDA_SUCCESS &&
          ordinal == 0);
    CHECK(cu.cuPointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, d1) ==
              CUDA_SUCCESS &&
          ordinal == 1);
    CHECK(cu.cuPointerGetAttribute(&c, CU_POINTER_ATTRIBUTE_CONTEXT, d1) == CUDA_SUCCESS &&
          c == ctx1);
    CHECK(cu.cuPointerGetAttribute(&type, 12345, d0) == CUDA_ERROR_INVALID_VALUE);

    CUdeviceptr base = 0;
    size_t size = 0;
    CHECK(cu.cuMemGetAddressRange_v2(&base, &size, d0 + 9999) == CUDA_SUCCESS && base == d0 &&
          size == 10000);
    CHECK(cu.cuMemGetAddressRange_v2(&base, &size, d0 + 10000) == CUDA_ERROR_NOT_FOUND);

    /* Pageable memory is unknown to the driver; pinned and registered memory is host. */
    unsigned char *pageable = malloc(8192);
    REQUIRE(pageable);
    CHECK(cu.cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, (uintptr_t)pageable) ==
          CUDA_ERROR_INVALID_VALUE);
    void *pinned = NULL;
    size_t host_before = cu.live_host_allocations();
    REQUIRE(cu.cuMemAllocHost_v2(&pinned, 5000) == CUDA_SUCCESS);
    CHECK(cu.live_host_allocations() == host_before + 1);
    memset(pinned, 7, 5000); /* ordinary memory */
    CHECK(cu.cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
                                   (uintptr_t)pinned + 4999) == CUDA_SUCCESS &&
          type == CU_MEMORYTYPE_HOST);
    CHECK(cu.cuMemFreeHost(pinned) == CUDA_SUCCESS);
    CHECK(cu.cuMemFreeHost(pinned) == CUDA_ERROR_INVALID_VALUE);
    CHECK(cu.live_host_allocations() == host_before);

    CHECK(cu.cuMemHostRegister_v2(pageable, 8192, 0) == CUDA_SUCCESS);
    CHECK(cu.registered_host_ranges() == 1);
    CHECK(cu.cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
                                   (uintptr_t)pageable + 100) == CUDA_SUCCESS &&
          type == CU_MEMORYTYPE_HOST);
    CHECK(cu.cuMemHostRegister_v2(pageable + 4096, 100, 0) ==
          CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
    CHECK(cu.cuMemHostRegister_v2((void *)(uintptr_t)d0, 100, 0) != CUDA_SUCCESS);
    CHECK(cu.cuMemHostUnregister(pageable) == CUDA_SUCCESS);
    CHECK(cu.cuMemHostUnregister(pageable) == CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);
    CHECK(cu.registered_host_ranges() == 0);
    CHECK(cu.cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, (uintptr_t)pageable) ==
          CUDA_ERROR_INVALID_VALUE);
    free(pageable);
    CHECK(cu.cuMemFree_v2(d0) == CUDA_SUCCESS);
    CHECK(cu.cuMemFree_v2(d1) == CUDA_SUCCESS); /* any context may free it (unified addressing) */
}

static void cuda_streams(void) {
    const size_t size = 256 * 1024;
    CUdeviceptr d = 0, e = 0;
    CUstream s = NULL;
    REQUIRE(cu.cuMemAlloc_v2(&d, size) == CUDA_SUCCESS);
    REQUIRE(cu.cuMemAlloc_v2(&e, size) == CUDA_SUCCESS);
    REQUIRE(cu.cuStreamCreate(&s, 0) == CUDA_SUCCESS);
    CHECK(cu.live_streams() == 1);
    unsigned char *src = malloc(size), *dst = malloc(size);
    REQUIRE(src && dst);
    tu_fill(src, size, 21);
    memset(dst, 0, size);

    /* Queued work has not run before the synchronize: with the workers held, the result
     * is certainly not there yet. */
    cu.hold_streams(1);
    CHECK(cu.cuMemcpyHtoDAsync_v2(d, src, size, s) == CUDA_SUCCESS);
    CHECK(cu.cuMemcpyDtoDAsync_v2(e, d, size, s) == CUDA_SUCCESS);
    CHECK(cu.cuMemcpyDtoHAsync_v2(dst, e, size, s) == CUDA_SUCCESS);
    CHECK(dst[0] == 0 && dst[size - 1] == 0);
    cu.hold_streams(0);
    CHECK(cu.cuStreamSynchronize(s) == CUDA_SUCCESS);
    CHECK(tu_verify(dst, size, 21));

    /* Bad arguments are refused when the call is made, not at the synchronize. */
    CHECK(cu.cuMemcpyHtoDAsync_v2(d + 1, src, size, s) == CUDA_ERROR_INVALID_VALUE);
    CHECK(cu.cuMemcpyDtoHAsync_v2(dst, (uintptr_t)src, 8, s) == CUDA_ERROR_INVALID_VALUE);

    /* A queued copy that fails reports at the synchronize, once. */
    cu.fail_copies(1);
    CHECK(cu.cuMemcpyHtoDAsync_v2(d, src, size, s) == CUDA_SUCCESS);
    CHECK(cu.cuMemcpyDtoHAsync_v2(dst, d, size, s) == CUDA_SUCCESS);
    CHECK(cu.cuStreamSynchronize(s) == CUDA_ERROR_UNKNOWN);
    CHECK(cu.cuStreamSynchronize(s) == CUDA_SUCCESS);

    /* Memory freed before its queued copy ran: the copy fails, at the synchronize. */
    CUdeviceptr doomed = 0;
    REQUIRE(cu.cuMemAlloc_v2(&doomed, size) == CUDA_SUCCESS);
    cu.hold_streams(1);
    CHECK(cu.cuMemcpyDtoHAsync_v2(dst, doomed, size, s) == CUDA_SUCCESS);
    CHECK(cu.cuMemFree_v2(doomed) == CUDA_SUCCESS);
    cu.hold_streams(0);
    CHECK(cu.cuStreamSynchronize(s) == CUDA_ERROR_INVALID_VALUE);

    /* The NULL stream is synchronous. */
    tu_fill(src, size, 22);
    CHECK(cu.cuMemcpyHtoDAsync_v2(d, src, size, NULL) == CUDA_SUCCESS);
    CHECK(cu.cuMemcpyDtoH_v2(dst, d, size) == CUDA_SUCCESS);
    CHECK(tu_verify(dst, size, 22));
    CHECK(cu.cuStreamSynchronize(NULL) == CUDA_SUCCESS);

    /* Injected failures of synchronous copies: exactly the next n. */
    cu.fail_copies(2);
    CHECK(cu.cuMemcpyHtoD_v2(d, src, 16) == CUDA_ERROR_UNKNOWN);
    CHECK(cu.cuMemsetD8_v2(d, 0, 16) == CUDA_ERROR_UNKNOWN);
    CHECK(cu.cuMemcpyHtoD_v2(d, src, 16) == CUDA_SUCCESS);

    CHECK(cu.cuStreamDestroy_v2(s) == CUDA_SUCCESS);
    CHECK(cu.live_streams() == 0);
    CHECK(cu.cuStreamSynchronize(s) == CUDA_ERROR_INVALID_HANDLE);
    CHECK(cu.cuMemcpyHtoDAsync_v2(d, src, 16, s) == CUDA_ERROR_INVALID_HANDLE);
    CHECK(cu.cuStreamDestroy_v2(s) == CUDA_ERROR_INVALID_HANDLE);
    CHECK(cu.cuMemFree_v2(d) == CUDA_SUCCESS);
    CHECK(cu.cuMemFree_v2(e) == CUDA_SUCCESS);
    free(src);
    free(dst);
}

/* Many threads, each on its own stream and context adoption, copying at once: what TSan
 * needs to see of the doubles' locking. */
static void *stream_worker(void *arg) {
    uintptr_t seed = (uintptr_t)arg;
    const size_t size = 64 * 1024;
    unsigned char *buf = malloc(size), *back = malloc(size);
    bool ok = buf && back && cu.cuCtxSetCurrent(seed % 2 ? ctx1 : ctx0) == CUDA_SUCCESS;
    CUstream s = NULL;
    ok = ok && cu.cuStreamCreate(&s, 0) == CUDA_SUCCESS;
    for (int i = 0; ok && i < 20; i++) {
        CUdeviceptr d = 0;
        tu_fill(buf, size, seed * 100 + (uint64_t)i);
        ok = cu.cuMemAlloc_v2(&d, size) == CUDA_SUCCESS &&
             cu.cuMemcpyHtoDAsync_v2(d, buf, size, s) == CUDA_SUCCESS &&
             cu.cuMemcpyDtoHAsync_v2(back, d, size, s) == CUDA_SUCCESS &&
             cu.cuStreamSynchronize(s) == CUDA_SUCCESS && memcmp(buf, back, size) == 0 &&
             cu.cuMemFree_v2(d) == CUDA_SUCCESS;
    }
    if (s) ok = cu.cuStreamDestroy_v2(s) == CUDA_SUCCESS && ok;
    free(buf);
    free(back);
    return (void *)(uintptr_t)ok;
}

static void cuda_threads(void) {
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++)
        REQUIRE(pthread_create(&t[i], NULL, stream_worker, (void *)(i + 1)) == 0);
    for (int i = 0; i < 4; i++) {
        void *ok = NULL;
        pthread_join(t[i], &ok);
        CHECK(ok != NULL);
    }
}

typedef struct {
    CUipcMemHandle handle;
    size_t size;
} ipc_job;

/* The importing process: reads the exporter's bytes, writes its own through H2D at
 * offset 0 and D2D at offset 4096, opens twice and closes twice. Returns the step that
 * failed (0: none). */
static int ipc_import_steps(const ipc_job *job, unsigned char *buf) {
    CUdeviceptr d = 0, again = 0, mine = 0;
    if (cu.cuIpcOpenMemHandle_v2(&d, job->handle, 1) != CUDA_SUCCESS) return 2;
    CUdeviceptr base = 0;
    size_t size = 0;
    if (cu.cuMemGetAddressRange_v2(&base, &size, d) != CUDA_SUCCESS || base != d ||
        size != job->size)
        return 3;
    if (cu.cuMemcpyDtoH_v2(buf, d, job->size) != CUDA_SUCCESS || !tu_verify(buf, job->size, 31))
        return 4;
    if (!cpu_access_faults((uintptr_t)d, false)) return 5;
    tu_fill(buf, 4096, 32);
    if (cu.cuMemcpyHtoD_v2(d, buf, 4096) != CUDA_SUCCESS) return 6;
    tu_fill(buf, 4096, 33);
    if (cu.cuMemAlloc_v2(&mine, 4096) != CUDA_SUCCESS ||
        cu.cuMemcpyHtoD_v2(mine, buf, 4096) != CUDA_SUCCESS ||
        cu.cuMemcpyDtoD_v2(d + 4096, mine, 4096) != CUDA_SUCCESS)
        return 7;
    if (cu.cuMemcpyDtoD_v2(d + job->size - 10, mine, 11) != CUDA_ERROR_INVALID_VALUE) return 8;
    if (cu.cuMemFree_v2(mine) != CUDA_SUCCESS) return 9;
    if (cu.cuIpcOpenMemHandle_v2(&again, job->handle, 1) != CUDA_SUCCESS || again != d) return 10;
    if (cu.open_ipc_handles() != 2) return 11;
    if (cu.cuIpcCloseMemHandle(d) != CUDA_SUCCESS || cu.open_ipc_handles() != 1) return 12;
    if (cu.cuIpcCloseMemHandle(d) != CUDA_SUCCESS || cu.open_ipc_handles() != 0) return 13;
    if (cu.cuIpcCloseMemHandle(d) != CUDA_ERROR_INVALID_VALUE) return 14;
    if (cu.cuMemcpyDtoH_v2(buf, d, 1) != CUDA_ERROR_INVALID_VALUE) return 15;
    return 0;
}

static int ipc_importer(void *arg) {
    const ipc_job *job = arg;
    unsigned char *buf = malloc(job->size);
    int step = buf ? ipc_import_steps(job, buf) : 1;
    free(buf);
    return step;
}

/* An importer that expects the handle to be refused. */
static int ipc_refused(void *arg) {
    const ipc_job *job = arg;
    CUdeviceptr d = 0;
    CUresult r = cu.cuIpcOpenMemHandle_v2(&d, job->handle, 1);
    return r == CUDA_SUCCESS ? 1 : r == CUDA_ERROR_INVALID_HANDLE ? 0 : 2;
}

/* An exporter that dies: its handle reaches the parent through a pipe. */
static int pipe_fds[2];
static int ipc_short_lived_exporter(void *arg) {
    (void)arg;
    CUdeviceptr d = 0;
    CUipcMemHandle h;
    if (cu.cuMemAlloc_v2(&d, 4096) != CUDA_SUCCESS || cu.cuIpcGetMemHandle(&h, d) != CUDA_SUCCESS)
        return 1;
    return write(pipe_fds[1], &h, sizeof(h)) == (ssize_t)sizeof(h) ? 0 : 2;
}

static void cuda_ipc(void) {
    const size_t size = 64 * 1024 + 5;
    CUdeviceptr d = 0;
    REQUIRE(cu.cuMemAlloc_v2(&d, size) == CUDA_SUCCESS);
    unsigned char *buf = malloc(size);
    REQUIRE(buf);
    tu_fill(buf, size, 31);
    REQUIRE(cu.cuMemcpyHtoD_v2(d, buf, size) == CUDA_SUCCESS);

    ipc_job job = {.size = size};
    /* Any pointer inside names the whole allocation. */
    CHECK(cu.cuIpcGetMemHandle(&job.handle, d + 1000) == CUDA_SUCCESS);
    CHECK(cu.cuIpcGetMemHandle(&job.handle, (uintptr_t)buf) == CUDA_ERROR_INVALID_VALUE);
    CUdeviceptr self = 0;
    CHECK(cu.cuIpcOpenMemHandle_v2(&self, job.handle, 1) == CUDA_ERROR_INVALID_CONTEXT);
    CHECK(cu.open_ipc_handles() == 0);

    CHECK(in_child(ipc_importer, &job) == 0);
    memset(buf, 0, size);
    CHECK(cu.cuMemcpyDtoH_v2(buf, d, size) == CUDA_SUCCESS);
    CHECK(tu_verify(buf, 4096, 32));
    CHECK(tu_verify(buf + 4096, 4096, 33));
    bool rest = true;
    for (size_t i = 8192; i < size; i++)
        rest = rest && buf[i] == tu_pattern_byte(31, i);
    CHECK(rest);

    /* A handle of freed memory, a garbage handle, and one whose exporter is gone. */
    CHECK(cu.cuMemFree_v2(d) == CUDA_SUCCESS);
    CHECK(in_child(ipc_refused, &job) == 0);
    ipc_job garbage = {.size = 1};
    memset(&garbage.handle, 0x5a, sizeof(garbage.handle));
    CHECK(in_child(ipc_refused, &garbage) == 0);
    REQUIRE(pipe(pipe_fds) == 0);
    CHECK(in_child(ipc_short_lived_exporter, NULL) == 0);
    ipc_job orphan = {.size = 4096};
    CHECK(read(pipe_fds[0], &orphan.handle, sizeof(orphan.handle)) ==
          (ssize_t)sizeof(orphan.handle));
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    CUdeviceptr o = 0;
    CHECK(cu.cuIpcOpenMemHandle_v2(&o, orphan.handle, 1) == CUDA_ERROR_INVALID_HANDLE);
    CHECK(cu.open_ipc_handles() == 0);
    free(buf);
}

static void cuda_no_context_for_everything(void) {
    CUdeviceptr d = 0;
    REQUIRE(cu.cuMemAlloc_v2(&d, 4096) == CUDA_SUCCESS);
    unsigned char b[16] = {0};
    CUipcMemHandle h;
    REQUIRE(cu.cuCtxSetCurrent(NULL) == CUDA_SUCCESS);
    CHECK(cu.cuMemcpyHtoD_v2(d, b, 16) == CUDA_ERROR_INVALID_CONTEXT);
    CHECK(cu.cuMemcpyDtoH_v2(b, d, 16) == CUDA_ERROR_INVALID_CONTEXT);
    CHECK(cu.cuMemcpyDtoD_v2(d, d + 16, 16) == CUDA_ERROR_INVALID_CONTEXT);
    CHECK(cu.cuMemcpyDtoHAsync_v2(b, d, 16, NULL) == CUDA_ERROR_INVALID_CONTEXT);
    CHECK(cu.cuMemsetD8_v2(d, 0, 16) == CUDA_ERROR_INVALID_CONTEXT);
    CHECK(cu.cuMemFree_v2(d) == CUDA_ERROR_INVALID_CONTEXT);
    CHECK(cu.cuIpcGetMemHandle(&h, d) == CUDA_ERROR_INVALID_CONTEXT);
    CHECK(cu.cuMemHostRegister_v2(b, 16, 0) == CUDA_ERROR_INVALID_CONTEXT);
    CHECK(cu.cuCtxGetDevice(&(int){0}) == CUDA_ERROR_INVALID_CONTEXT);
    unsigned type = 0; /* attributes need no context */
    CHECK(cu.cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, d) == CUDA_SUCCESS &&
          type == CU_MEMORYTYPE_DEVICE);
    REQUIRE(cu.cuCtxSetCurrent(ctx0) == CUDA_SUCCESS);
    CHECK(cu.cuMemFree_v2(d) == CUDA_SUCCESS);
    CHECK(cu.live_allocations() == 0);
}

/* ---- AscendCL ---- */

static void *acl_thread_without_context(void *arg) {
    aclError *out = arg;
    void *d = NULL;
    out[0] = acl.aclrtMalloc(&d, 4096, 0);
    out[1] = acl.aclGetRecentErrMsg() != NULL ? ACL_SUCCESS : -1;
    return NULL;
}

static void acl_contexts(void) {
    void *d = NULL;
    int32_t dev = -1;
    CHECK(acl.aclrtMalloc(&d, 4096, 0) == ACL_ERROR_RT_CONTEXT_NULL);
    CHECK(acl.aclrtGetDevice(&dev) == ACL_ERROR_RT_CONTEXT_NULL);
    const char *msg = acl.aclGetRecentErrMsg();
    CHECK(msg != NULL && strstr(msg, "aclrtGetDevice") != NULL);
    CHECK(acl.aclGetRecentErrMsg() == NULL); /* read once */
    CHECK(acl.aclrtCreateStream(&d) == ACL_ERROR_RT_CONTEXT_NULL);
    CHECK(acl.aclrtSetDevice(2) == ACL_ERROR_RT_INVALID_DEVICEID);
    CHECK(acl.aclrtSetDevice(-1) == ACL_ERROR_RT_INVALID_DEVICEID);
    REQUIRE(acl.aclrtSetDevice(1) == ACL_SUCCESS);
    CHECK(acl.aclrtGetDevice(&dev) == ACL_SUCCESS && dev == 1);
    void *actx1 = NULL, *actx0 = NULL;
    CHECK(acl.aclrtGetCurrentContext(&actx1) == ACL_SUCCESS && actx1 != NULL);
    REQUIRE(acl.aclrtSetDevice(0) == ACL_SUCCESS);
    CHECK(acl.aclrtGetCurrentContext(&actx0) == ACL_SUCCESS && actx0 != actx1);
    CHECK(acl.aclrtSetCurrentContext(actx1) == ACL_SUCCESS);
    CHECK(acl.aclrtGetDevice(&dev) == ACL_SUCCESS && dev == 1);
    CHECK(acl.aclrtSetCurrentContext(NULL) == ACL_ERROR_INVALID_PARAM);
    CHECK(acl.aclrtSetCurrentContext(&dev) == ACL_ERROR_INVALID_PARAM);
    const char *set_msg = acl.aclGetRecentErrMsg();
    CHECK(set_msg != NULL && strstr(set_msg, "aclrtSetCurrentContext") != NULL);
    REQUIRE(acl.aclrtSetCurrentContext(actx0) == ACL_SUCCESS);

    aclError results[2] = {-1, -1};
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, acl_thread_without_context, results) == 0);
    pthread_join(t, NULL);
    CHECK(results[0] == ACL_ERROR_RT_CONTEXT_NULL);
    CHECK(results[1] == ACL_SUCCESS);
    CHECK(acl.aclGetRecentErrMsg() == NULL); /* the message was the other thread's */

    /* DEVICE_DOUBLE_DEVICES sets how many devices there are (no other thread runs now). */
    REQUIRE(setenv("DEVICE_DOUBLE_DEVICES", "3", 1) == 0);
    CHECK(acl.aclrtSetDevice(2) == ACL_SUCCESS);
    CHECK(acl.aclrtGetDevice(&dev) == ACL_SUCCESS && dev == 2);
    REQUIRE(unsetenv("DEVICE_DOUBLE_DEVICES") == 0);
    CHECK(acl.aclrtSetDevice(2) == ACL_ERROR_RT_INVALID_DEVICEID);
    REQUIRE(acl.aclrtSetDevice(0) == ACL_SUCCESS);
}

static void acl_copies(void) {
    const size_t size = MIB + 7;
    void *a = NULL, *b = NULL, *pinned = NULL;
    REQUIRE(acl.aclrtMalloc(&a, size, 0) == ACL_SUCCESS);
    REQUIRE(acl.aclrtMalloc(&b, size, 0) == ACL_SUCCESS);
    REQUIRE(acl.aclrtMallocHost(&pinned, size) == ACL_SUCCESS);
    CHECK(acl.live_allocations() == 2);
    CHECK(acl.live_host_allocations() == 1);
    unsigned char *host = malloc(size), *back = pinned;
    REQUIRE(host);
    tu_fill(host, size, 41);
    CHECK(acl.aclrtMemcpy(a, size, host, size, H2D) == ACL_SUCCESS);
    CHECK(acl.aclrtMemcpy(b, size, a, size, D2D) == ACL_SUCCESS);
    memset(back, 0, size);
    CHECK(acl.aclrtMemcpy(back, size, b, size, D2H) == ACL_SUCCESS);
    CHECK(tu_verify(back, size, 41));
    CHECK(acl.aclrtMemcpy(host, size, back, size, H2H) == ACL_SUCCESS);
    CHECK(tu_verify(host, size, 41));
    CHECK(acl.aclrtMemset((char *)a + 1, 10, 0x3c, 10) == ACL_SUCCESS);
    CHECK(acl.aclrtMemcpy(back, 12, a, 12, D2H) == ACL_SUCCESS);
    CHECK(back[0] == tu_pattern_byte(41, 0) && back[1] == 0x3c && back[10] == 0x3c &&
          back[11] == tu_pattern_byte(41, 11));

    /* Each side must be what the kind says. */
    CHECK(acl.aclrtMemcpy(back, size, host, 16, H2D) == ACL_ERROR_INVALID_PARAM);
    CHECK(acl.aclrtMemcpy(a, size, b, 16, H2D) == ACL_ERROR_INVALID_PARAM);
    CHECK(acl.aclrtMemcpy(a, size, b, 16, D2H) == ACL_ERROR_INVALID_PARAM);
    CHECK(acl.aclrtMemcpy(back, size, host, 16, D2H) == ACL_ERROR_INVALID_PARAM);
    CHECK(acl.aclrtMemcpy(back, size, b, 16, D2D) == ACL_ERROR_INVALID_PARAM);
    CHECK(acl.aclrtMemcpy(back, size, a, 16, H2H) == ACL_ERROR_INVALID_PARAM);
    CHECK(acl.aclrtMemcpy(a, size, host, 16, H2H) == ACL_ERROR_INVALID_PARAM);
    CHECK(acl.aclrtMemcpy(a, size, host, 16, 4) == ACL_ERROR_INVALID_PARAM);
    const char *msg = acl.aclGetRecentErrMsg();
    CHECK(msg != NULL && strstr(msg, "kind") != NULL);
    /* count against destMax, and against the allocation's end. */
    CHECK(acl.aclrtMemcpy(a, 15, host, 16, H2D) == ACL_ERROR_INVALID_PARAM);
    CHECK(acl.aclrtMemcpy((char *)a + size - 8, 16, host, 16, H2D) == ACL_ERROR_INVALID_PARAM);
    CHECK(acl.aclrtMemset(a, 4, 0, 5) == ACL_ERROR_INVALID_PARAM);
    CHECK(acl.aclrtMemset(host, 16, 0, 16) == ACL_ERROR_INVALID_PARAM);
    CHECK(acl.aclrtMemcpy(NULL, 16, host, 16, H2D) == ACL_ERROR_INVALID_PARAM);

    CHECK(cpu_access_faults((uintptr_t)a, false));
    CHECK(cpu_access_faults((uintptr_t)b + size - 1, true));

    acl.fail_copies(1);
    CHECK(acl.aclrtMemcpy(a, size, host, 16, H2D) == ACL_ERROR_RT_SYS_DMA);
    CHECK(acl.aclrtMemcpy(a, size, host, 16, H2D) == ACL_SUCCESS);

    CHECK(acl.aclrtFree(a) == ACL_SUCCESS);
    CHECK(acl.aclrtFree(a) == ACL_ERROR_INVALID_PARAM);
    acl.limit_memory(size);
    CHECK(acl.aclrtMalloc(&a, 1, 0) == ACL_ERROR_RT_MEMORY_ALLOCATION);
    acl.limit_memory(0);
    CHECK(acl.aclrtFree(b) == ACL_SUCCESS);
    CHECK(acl.aclrtFreeHost(pinned) == ACL_SUCCESS);
    CHECK(acl.aclrtFreeHost(host) == ACL_ERROR_INVALID_PARAM);
    CHECK(acl.live_allocations() == 0);
    CHECK(acl.live_host_allocations() == 0);
    free(host);
}

static void acl_streams(void) {
    const size_t size = 128 * 1024;
    void *d = NULL, *s = NULL;
    REQUIRE(acl.aclrtMalloc(&d, size, 0) == ACL_SUCCESS);
    REQUIRE(acl.aclrtCreateStream(&s) == ACL_SUCCESS);
    CHECK(acl.live_streams() == 1);
    unsigned char *src = malloc(size), *dst = malloc(size);
    REQUIRE(src && dst);
    tu_fill(src, size, 51);
    memset(dst, 0, size);
    acl.hold_streams(1);
    CHECK(acl.aclrtMemcpyAsync(d, size, src, size, H2D, s) == ACL_SUCCESS);
    CHECK(acl.aclrtMemcpyAsync(dst, size, d, size, D2H, s) == ACL_SUCCESS);
    CHECK(dst[0] == 0 && dst[size - 1] == 0);
    acl.hold_streams(0);
    CHECK(acl.aclrtSynchronizeStream(s) == ACL_SUCCESS);
    CHECK(tu_verify(dst, size, 51));

    CHECK(acl.aclrtMemcpyAsync(dst, size, src, size, D2H, s) == ACL_ERROR_INVALID_PARAM);
    acl.fail_copies(1);
    CHECK(acl.aclrtMemcpyAsync(d, size, src, size, H2D, s) == ACL_SUCCESS);
    CHECK(acl.aclrtSynchronizeStream(s) == ACL_ERROR_RT_SYS_DMA);
    const char *msg = acl.aclGetRecentErrMsg();
    CHECK(msg != NULL && strstr(msg, "aclrtSynchronizeStream") != NULL);
    CHECK(acl.aclrtSynchronizeStream(s) == ACL_SUCCESS);

    tu_fill(src, size, 52);
    CHECK(acl.aclrtMemcpyAsync(d, size, src, size, H2D, NULL) == ACL_SUCCESS); /* synchronous */
    CHECK(acl.aclrtMemcpy(dst, size, d, size, D2H) == ACL_SUCCESS);
    CHECK(tu_verify(dst, size, 52));

    CHECK(acl.aclrtDestroyStream(s) == ACL_SUCCESS);
    CHECK(acl.live_streams() == 0);
    CHECK(acl.aclrtSynchronizeStream(s) == ACL_ERROR_INVALID_PARAM);
    CHECK(acl.aclrtDestroyStream(s) == ACL_ERROR_INVALID_PARAM);
    CHECK(acl.aclrtFree(d) == ACL_SUCCESS);
    free(src);
    free(dst);
}

int main(void) {
    load_cuda();
    load_acl();
    cuda_before_init();
    cuda_contexts();
    cuda_round_trip();
    cuda_guarded();
    cuda_attributes();
    cuda_streams();
    cuda_ipc(); /* forks: no stream workers may be running */
    cuda_threads();
    cuda_no_context_for_everything();
    acl_contexts();
    acl_copies();
    acl_streams();
    CHECK(cu.live_streams() == 0 && acl.live_streams() == 0);
    return tu_finish();
}
