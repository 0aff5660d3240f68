/* Device memory through the runtime's own calls; see bench_device.h. */
#include "bench_device.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

/* AscendCL's copy kinds (acl_rt.h). */
#define ACL_HOST_TO_DEVICE 1
#define ACL_DEVICE_TO_HOST 2

/* Our own declarations of the few calls used, written to each runtime's stable C ABI, so
 * that building the bench needs neither toolkit (as for libadxl). */
typedef struct {
    int (*Init)(unsigned);
    int (*GetErrorString)(int, const char **);
    int (*DeviceGetCount)(int *);
    int (*DeviceGet)(int *, int);
    int (*PrimaryCtxRetain)(void **, int);
    int (*PrimaryCtxRelease)(int);
    int (*CtxSetCurrent)(void *);
    int (*MemAlloc)(unsigned long long *, size_t);
    int (*MemFree)(unsigned long long);
    int (*MemcpyHtoD)(unsigned long long, const void *, size_t);
    int (*MemcpyDtoH)(void *, unsigned long long, size_t);
} cuda_api_t;

typedef struct {
    int (*SetDevice)(int32_t);
    int (*GetCurrentContext)(void **);
    int (*SetCurrentContext)(void *);
    int (*Malloc)(void **, size_t, int);
    int (*Free)(void *);
    int (*Memcpy)(void *, size_t, const void *, size_t, int);
    const char *(*GetRecentErrMsg)(void);
} acl_api_t;

typedef struct {
    const char *name;
    const char *env;
    const char *default_path;
    void *lib;
    const char *path;
} library_t;

static struct {
    const char *name; /* NULL until opened */
    bool cuda;
    cuda_api_t cu;
    acl_api_t acl;
    void *ctx; /* device 0's context, made current on every thread that asks */
    int cu_device;
} dev;

typedef struct {
    const char *symbol;
    void **slot;
} binding_t;

/* Loads the library the engine would load for this runtime. NULL (printed when `loud`)
 * when it is not there. */
static void *load(const char *name, const char *env, const char *default_path, bool loud) {
    const char *path = getenv(env);
    void *lib;

    if (path == NULL || *path == '\0') path = default_path;
    lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL && loud) {
        const char *why = dlerror();
        bench_err("device runtime %s: cannot load %s (%s; %s names another file)", name, path,
                  why ? why : "unknown error", env);
    }
    return lib;
}

static bool bind_all(void *lib, const char *name, const binding_t *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        *b[i].slot = dlsym(lib, b[i].symbol);
        if (*b[i].slot == NULL) {
            bench_err("device runtime %s: the library has no %s", name, b[i].symbol);
            return false;
        }
    }
    return true;
}

#define BIND(field, symbol)                                                                        \
    { symbol, (void **)&field }

static const char *cuda_error(int rc) {
    const char *why = NULL;
    if (dev.cu.GetErrorString == NULL || dev.cu.GetErrorString(rc, &why) != 0 || why == NULL)
        return "unknown error";
    return why;
}

static int cuda_check(int rc, const char *what) {
    if (rc == 0) return 0;
    bench_err("cuda: %s failed: %s (%d)", what, cuda_error(rc), rc);
    return -1;
}

static int acl_check(int rc, const char *what) {
    const char *why;
    if (rc == 0) return 0;
    why = dev.acl.GetRecentErrMsg();
    bench_err("ascend: %s failed: error %d (%s)", what, rc, why && *why ? why : "no message");
    return -1;
}

/* Binds the CUDA calls and initialises the driver; 1 usable with a device, 0 not there
 * (printed when loud), -1 broken (printed). */
static int cuda_probe(bool loud) {
    cuda_api_t *c = &dev.cu;
    const binding_t b[] = {
        BIND(c->Init, "cuInit"),
        BIND(c->GetErrorString, "cuGetErrorString"),
        BIND(c->DeviceGetCount, "cuDeviceGetCount"),
        BIND(c->DeviceGet, "cuDeviceGet"),
        BIND(c->PrimaryCtxRetain, "cuDevicePrimaryCtxRetain"),
        BIND(c->PrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2"),
        BIND(c->CtxSetCurrent, "cuCtxSetCurrent"),
        BIND(c->MemAlloc, "cuMemAlloc_v2"),
        BIND(c->MemFree, "cuMemFree_v2"),
        BIND(c->MemcpyHtoD, "cuMemcpyHtoD_v2"),
        BIND(c->MemcpyDtoH, "cuMemcpyDtoH_v2"),
    };
    void *lib = load("cuda", "ADXL_CUDA_LIBRARY", "libcuda.so.1", loud);
    int count = 0, rc;

    if (lib == NULL) return 0;
    if (!bind_all(lib, "cuda", b, sizeof(b) / sizeof(b[0]))) return -1;
    rc = c->Init(0);
    if (rc == 0) rc = c->DeviceGetCount(&count);
    if (rc != 0 || count <= 0) {
        if (loud && rc != 0) {
            bench_err("device runtime cuda: cuInit or cuDeviceGetCount failed: %s (%d)",
                      cuda_error(rc), rc);
        } else if (loud) {
            bench_err("device runtime cuda: no device");
        }
        return 0;
    }
    return 1;
}

/* As cuda_probe, for AscendCL; its subset cannot count devices, so loading is all. */
static int ascend_probe(bool loud) {
    acl_api_t *a = &dev.acl;
    const binding_t b[] = {
        BIND(a->SetDevice, "aclrtSetDevice"),
        BIND(a->GetCurrentContext, "aclrtGetCurrentContext"),
        BIND(a->SetCurrentContext, "aclrtSetCurrentContext"),
        BIND(a->Malloc, "aclrtMalloc"),
        BIND(a->Free, "aclrtFree"),
        BIND(a->Memcpy, "aclrtMemcpy"),
        BIND(a->GetRecentErrMsg, "aclGetRecentErrMsg"),
    };
    void *lib = load("ascend", "ADXL_ASCEND_LIBRARY", "libascendcl.so", loud);

    if (lib == NULL) return 0;
    return bind_all(lib, "ascend", b, sizeof(b) / sizeof(b[0])) ? 1 : -1;
}

/* Device 0's context, current on this thread from now on. */
static int take_context(void) {
    if (dev.cuda) {
        if (cuda_check(dev.cu.DeviceGet(&dev.cu_device, 0), "cuDeviceGet(0)") != 0 ||
            cuda_check(dev.cu.PrimaryCtxRetain(&dev.ctx, dev.cu_device),
                       "cuDevicePrimaryCtxRetain") != 0) {
            return -1;
        }
        return cuda_check(dev.cu.CtxSetCurrent(dev.ctx), "cuCtxSetCurrent");
    }
    if (acl_check(dev.acl.SetDevice(0), "aclrtSetDevice(0)") != 0 ||
        acl_check(dev.acl.GetCurrentContext(&dev.ctx), "aclrtGetCurrentContext") != 0) {
        return -1;
    }
    return 0;
}

int bench_device_open(const char *name) {
    int cuda = 0, ascend = 0;

    if (dev.name != NULL) return 0;
    if (strcmp(name, "cuda") == 0) {
        cuda = cuda_probe(true);
        if (cuda != 1) return -1;
    } else if (strcmp(name, "ascend") == 0) {
        ascend = ascend_probe(true);
        if (ascend != 1) return -1;
    } else {
        cuda = cuda_probe(false);
        ascend = ascend_probe(false);
        if (cuda < 0 || ascend < 0) return -1;
        if (cuda && ascend) {
            bench_err("both CUDA and AscendCL are present: choose one with --device-runtime "
                      "cuda or --device-runtime ascend");
            return -1;
        }
        if (!cuda && !ascend) {
            bench_err("device memory needs a runtime, and neither libcuda.so.1 nor "
                      "libascendcl.so loads with a device here (ADXL_CUDA_LIBRARY and "
                      "ADXL_ASCEND_LIBRARY name other files)");
            return -1;
        }
    }
    dev.cuda = cuda == 1;
    if (take_context() != 0) return -1;
    dev.name = dev.cuda ? "cuda" : "ascend";
    return 0;
}

const char *bench_device_name(void) {
    return dev.name;
}

int bench_device_enter(void) {
    if (dev.cuda) return cuda_check(dev.cu.CtxSetCurrent(dev.ctx), "cuCtxSetCurrent");
    return acl_check(dev.acl.SetCurrentContext(dev.ctx), "aclrtSetCurrentContext");
}

void *bench_device_alloc(size_t len) {
    if (dev.cuda) {
        unsigned long long p = 0;
        if (cuda_check(dev.cu.MemAlloc(&p, len), "cuMemAlloc") != 0) return NULL;
        return (void *)(uintptr_t)p;
    }
    void *p = NULL;
    if (acl_check(dev.acl.Malloc(&p, len, 0), "aclrtMalloc") != 0) return NULL;
    return p;
}

void bench_device_free(void *p) {
    if (p == NULL) return;
    if (dev.cuda) {
        cuda_check(dev.cu.MemFree((unsigned long long)(uintptr_t)p), "cuMemFree");
    } else {
        acl_check(dev.acl.Free(p), "aclrtFree");
    }
}

int bench_device_put(void *d, const void *host, size_t len) {
    if (dev.cuda) {
        return cuda_check(dev.cu.MemcpyHtoD((unsigned long long)(uintptr_t)d, host, len),
                          "cuMemcpyHtoD");
    }
    return acl_check(dev.acl.Memcpy(d, len, host, len, ACL_HOST_TO_DEVICE),
                     "aclrtMemcpy host to device");
}

int bench_device_get(void *host, const void *d, size_t len) {
    if (dev.cuda) {
        return cuda_check(dev.cu.MemcpyDtoH(host, (unsigned long long)(uintptr_t)d, len),
                          "cuMemcpyDtoH");
    }
    return acl_check(dev.acl.Memcpy(host, len, d, len, ACL_DEVICE_TO_HOST),
                     "aclrtMemcpy device to host");
}

void bench_device_close(void) {
    if (dev.name != NULL && dev.cuda) dev.cu.PrimaryCtxRelease(dev.cu_device);
    dev.name = NULL;
}
