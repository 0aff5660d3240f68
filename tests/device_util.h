/*
 * The test side of device memory: the runtime under test (ADXL_TEST_DEVICE=cuda or
 * ascend), reached through the same library the engine loads (ADXL_CUDA_LIBRARY or
 * ADXL_ASCEND_LIBRARY: the doubles of tests/doubles/ in CI), to allocate device memory
 * and to put bytes in and take them out. Tests never touch device memory themselves: the
 * doubles map it PROT_NONE, so any CPU access faults.
 */
#ifndef ADXL_TESTS_DEVICE_UTIL_H
#define ADXL_TESTS_DEVICE_UTIL_H

#include "testutil.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    bool cuda; /* else ascend */
    void *lib;
    /* CUDA */
    int (*cuInit)(unsigned);
    int (*cuDeviceGet)(int *, int);
    int (*cuDevicePrimaryCtxRetain)(void **, int);
    int (*cuCtxSetCurrent)(void *);
    int (*cuCtxGetCurrent)(void **);
    int (*cuMemAlloc)(unsigned long long *, size_t);
    int (*cuMemFree)(unsigned long long);
    int (*cuMemcpyHtoD)(unsigned long long, const void *, size_t);
    int (*cuMemcpyDtoH)(void *, unsigned long long, size_t);
    int (*cuMemcpyDtoD)(unsigned long long, unsigned long long, size_t);
    /* AscendCL */
    int (*aclrtSetDevice)(int32_t);
    int (*aclrtGetCurrentContext)(void **);
    int (*aclrtSetCurrentContext)(void *);
    int (*aclrtMalloc)(void **, size_t, int);
    int (*aclrtFree)(void *);
    int (*aclrtMemcpy)(void *, size_t, const void *, size_t, int);
    int (*cuDeviceGetCount)(int *);
    /* The doubles' controls (NULL on a real runtime) */
    void (*fail_copies)(int);
    int devices; /* how many devices the runtime has (1 for AscendCL: it does not say) */
} tdev_t;

static tdev_t tdev;

#define TDEV_BIND(field, name) (*(void **)&tdev.field = dlsym(tdev.lib, name), tdev.field != NULL)

/* Which runtime the test runs on; NULL when ADXL_TEST_DEVICE is unset. */
static inline const char *tdev_kind(void) {
    const char *k = getenv("ADXL_TEST_DEVICE");
    return k && *k ? k : NULL;
}

/* Makes device `ordinal` current on the calling thread. */
static inline bool tdev_use(int ordinal) {
    if (tdev.cuda) {
        int dev;
        void *ctx;
        return tdev.cuDeviceGet(&dev, ordinal) == 0 &&
               tdev.cuDevicePrimaryCtxRetain(&ctx, dev) == 0 && tdev.cuCtxSetCurrent(ctx) == 0;
    }
    return tdev.aclrtSetDevice(ordinal) == 0;
}

/* Opens the runtime and makes device 0 current on the calling thread. */
static inline bool tdev_open(void) {
    const char *kind = tdev_kind();
    if (!kind) return false;
    tdev.cuda = strcmp(kind, "cuda") == 0;
    const char *path = getenv(tdev.cuda ? "ADXL_CUDA_LIBRARY" : "ADXL_ASCEND_LIBRARY");
    tdev.lib = dlopen(path ? path : (tdev.cuda ? "libcuda.so.1" : "libascendcl.so"),
                      RTLD_NOW | RTLD_LOCAL);
    if (!tdev.lib) {
        fprintf(stderr, "tdev: cannot open the %s runtime: %s\n", kind, dlerror());
        return false;
    }
    bool ok;
    if (tdev.cuda) {
        ok = TDEV_BIND(cuInit, "cuInit") && TDEV_BIND(cuDeviceGet, "cuDeviceGet") &&
             TDEV_BIND(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain") &&
             TDEV_BIND(cuCtxSetCurrent, "cuCtxSetCurrent") &&
             TDEV_BIND(cuCtxGetCurrent, "cuCtxGetCurrent") &&
             TDEV_BIND(cuMemAlloc, "cuMemAlloc_v2") && TDEV_BIND(cuMemFree, "cuMemFree_v2") &&
             TDEV_BIND(cuMemcpyHtoD, "cuMemcpyHtoD_v2") &&
             TDEV_BIND(cuMemcpyDtoH, "cuMemcpyDtoH_v2") &&
             TDEV_BIND(cuMemcpyDtoD, "cuMemcpyDtoD_v2") &&
             TDEV_BIND(cuDeviceGetCount, "cuDeviceGetCount") && tdev.cuInit(0) == 0 &&
             tdev.cuDeviceGetCount(&tdev.devices) == 0;
        (void)TDEV_BIND(fail_copies, "cuda_double_fail_copies");
    } else {
        ok = TDEV_BIND(aclrtSetDevice, "aclrtSetDevice") &&
             TDEV_BIND(aclrtGetCurrentContext, "aclrtGetCurrentContext") &&
             TDEV_BIND(aclrtSetCurrentContext, "aclrtSetCurrentContext") &&
             TDEV_BIND(aclrtMalloc, "aclrtMalloc") && TDEV_BIND(aclrtFree, "aclrtFree") &&
             TDEV_BIND(aclrtMemcpy, "aclrtMemcpy");
        (void)TDEV_BIND(fail_copies, "acl_double_fail_copies");
        /* The double has two; a real AscendCL is asked for one only. */
        tdev.devices = tdev.fail_copies ? 2 : 1;
    }
    if (!ok) fprintf(stderr, "tdev: the %s runtime lacks a function the tests use\n", kind);
    return ok && tdev_use(0);
}

static inline void *tdev_context(void) {
    void *ctx = NULL;
    if (tdev.cuda)
        tdev.cuCtxGetCurrent(&ctx);
    else
        tdev.aclrtGetCurrentContext(&ctx);
    return ctx;
}

static inline bool tdev_set_context(void *ctx) {
    return (tdev.cuda ? tdev.cuCtxSetCurrent(ctx) : tdev.aclrtSetCurrentContext(ctx)) == 0;
}

static inline void *tdev_alloc(size_t size) {
    if (tdev.cuda) {
        unsigned long long p = 0;
        return tdev.cuMemAlloc(&p, size) == 0 ? (void *)(uintptr_t)p : NULL;
    }
    void *p = NULL;
    return tdev.aclrtMalloc(&p, size, 0) == 0 ? p : NULL;
}

static inline void tdev_free(void *p) {
    if (!p) return;
    if (tdev.cuda)
        tdev.cuMemFree((unsigned long long)(uintptr_t)p);
    else
        tdev.aclrtFree(p);
}

static inline bool tdev_put(void *dev, const void *host, size_t len) {
    return tdev.cuda ? tdev.cuMemcpyHtoD((unsigned long long)(uintptr_t)dev, host, len) == 0
                     : tdev.aclrtMemcpy(dev, len, host, len, 1) == 0;
}

static inline bool tdev_get(void *host, const void *dev, size_t len) {
    return tdev.cuda ? tdev.cuMemcpyDtoH(host, (unsigned long long)(uintptr_t)dev, len) == 0
                     : tdev.aclrtMemcpy(host, len, dev, len, 2) == 0;
}

static inline bool tdev_d2d(void *dst, const void *src, size_t len) {
    return tdev.cuda ? tdev.cuMemcpyDtoD((unsigned long long)(uintptr_t)dst,
                                         (unsigned long long)(uintptr_t)src, len) == 0
                     : tdev.aclrtMemcpy(dst, len, src, len, 3) == 0;
}

/* Fills device memory with tu_fill(seed)'s pattern, through the runtime. */
static inline bool tdev_fill(void *dev, size_t len, uint64_t seed) {
    void *host = malloc(len);
    if (!host) return false;
    tu_fill(host, len, seed);
    bool ok = tdev_put(dev, host, len);
    free(host);
    return ok;
}

/* Does device memory hold tu_fill(seed)'s pattern? Read back through the runtime. */
static inline bool tdev_verify(const void *dev, size_t len, uint64_t seed) {
    void *host = malloc(len);
    if (!host) return false;
    bool ok = tdev_get(host, dev, len) && tu_verify(host, len, seed);
    free(host);
    return ok;
}

#endif
