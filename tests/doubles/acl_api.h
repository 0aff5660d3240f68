/*
 * The subset of AscendCL (acl_base.h, acl_rt.h, rt_error_codes.h) that the double
 * implements, declared here with CANN's values so that nothing needs the CANN toolkit.
 * C++ clients reach it as CANN's own `<acl/acl.h>` (tests/doubles/acl/acl.h).
 */
#ifndef DEVICE_DOUBLE_ACL_API_H
#define DEVICE_DOUBLE_ACL_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int aclError;
typedef void *aclrtContext;
typedef void *aclrtStream;
typedef int aclrtMemMallocPolicy;

/* aclrtMalloc's policies (CANN's first three); the double's memory has no page sizes. */
enum {
    ACL_MEM_MALLOC_HUGE_FIRST = 0,
    ACL_MEM_MALLOC_HUGE_ONLY = 1,
    ACL_MEM_MALLOC_NORMAL_ONLY = 2,
};

enum {
    ACL_SUCCESS = 0,
    ACL_ERROR_INVALID_PARAM = 100000,
    ACL_ERROR_BAD_ALLOC = 200000, /* host memory of the runtime's own */
    ACL_ERROR_RT_INVALID_DEVICEID = 107001,
    ACL_ERROR_RT_CONTEXT_NULL = 107002,
    ACL_ERROR_RT_MEMORY_ALLOCATION = 207001, /* device memory */
    ACL_ERROR_RT_SYS_DMA = 507013,           /* what an injected copy failure returns */
};

typedef enum {
    ACL_MEMCPY_HOST_TO_HOST = 0,
    ACL_MEMCPY_HOST_TO_DEVICE = 1,
    ACL_MEMCPY_DEVICE_TO_HOST = 2,
    ACL_MEMCPY_DEVICE_TO_DEVICE = 3,
} aclrtMemcpyKind;

const char *aclGetRecentErrMsg(void);
aclError aclrtSetDevice(int32_t device);
aclError aclrtGetDevice(int32_t *device);
aclError aclrtGetCurrentContext(aclrtContext *ctx);
aclError aclrtSetCurrentContext(aclrtContext ctx);
aclError aclrtMalloc(void **dev_ptr, size_t size, aclrtMemMallocPolicy policy);
aclError aclrtFree(void *dev_ptr);
aclError aclrtMallocHost(void **host_ptr, size_t size);
aclError aclrtFreeHost(void *host_ptr);
aclError aclrtMemcpy(void *dst, size_t dest_max, const void *src, size_t count,
                     aclrtMemcpyKind kind);
aclError aclrtMemcpyAsync(void *dst, size_t dest_max, const void *src, size_t count,
                          aclrtMemcpyKind kind, aclrtStream stream);
aclError aclrtMemset(void *dev_ptr, size_t max_count, int32_t value, size_t count);
aclError aclrtCreateStream(aclrtStream *stream);
aclError aclrtDestroyStream(aclrtStream stream);
aclError aclrtSynchronizeStream(aclrtStream stream);

#ifdef __cplusplus
}
#endif

#endif
