/*
 * A double of AscendCL (libascendcl.so): the subset adxl's memory layer uses (issue 11),
 * over guarded memory (guarded_mem.h), with the rule that memory and stream calls need a
 * context current on the calling thread. No IPC: adxl stages Ascend same-host traffic
 * when dlsym() finds no IPC calls, and this double offers none.
 */
#include "acl_api.h"
#include "device_double.h"
#include "double_common.h"
#include "guarded_mem.h"
#include "stream_queue.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* A device's default context, the one aclrtSetDevice makes current. */
typedef struct {
    int device;
} default_context;

static default_context contexts[DD_MAX_DEVICES] = {{0}, {1}, {2},  {3},  {4},  {5},  {6},  {7},
                                                   {8}, {9}, {10}, {11}, {12}, {13}, {14}, {15}};
static _Thread_local default_context *current;
static _Thread_local char recent_error[256];
static _Thread_local char returned_error[256];

__attribute__((format(printf, 2, 3))) static aclError fail(aclError code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(recent_error, sizeof(recent_error), fmt, ap);
    va_end(ap);
    return code;
}

/* Like CANN's: the message of this thread's last failure, once; NULL when there is none. */
DD_EXPORT const char *aclGetRecentErrMsg(void) {
    if (!recent_error[0]) return NULL;
    snprintf(returned_error, sizeof(returned_error), "%s", recent_error);
    recent_error[0] = '\0';
    return returned_error;
}

static aclError need_context(const char *call) {
    if (current) return ACL_SUCCESS;
    return fail(ACL_ERROR_RT_CONTEXT_NULL,
                "%s: no context is current on this thread (call aclrtSetDevice or "
                "aclrtSetCurrentContext first)",
                call);
}

static const char *gm_reason(gm_status st) {
    switch (st) {
    case GM_OK:
        return "success";
    case GM_NOT_FOUND:
        return "the device side is not inside a device allocation";
    case GM_OUT_OF_BOUNDS:
        return "the range runs past the end of its device allocation";
    case GM_HOST_IS_DEVICE:
        return "the host side is device memory";
    case GM_NO_MEMORY:
        return "out of memory";
    case GM_INJECTED:
        return "copy failed (injected by acl_double_fail_copies)";
    case GM_BAD_HANDLE:
    case GM_SELF_IMPORT:
    case GM_OVERLAP:
        break;
    }
    return "unexpected failure";
}

static aclError from_gm(const char *call, gm_status st) {
    if (st == GM_OK) return ACL_SUCCESS;
    aclError code = ACL_ERROR_INVALID_PARAM;
    if (st == GM_INJECTED) code = ACL_ERROR_RT_SYS_DMA;
    if (st == GM_NO_MEMORY) code = ACL_ERROR_BAD_ALLOC;
    return fail(code, "%s: %s", call, gm_reason(st));
}

DD_EXPORT aclError aclrtSetDevice(int32_t device) {
    if (device < 0 || device >= dd_device_count())
        return fail(ACL_ERROR_RT_INVALID_DEVICEID, "aclrtSetDevice: no device %d", (int)device);
    current = &contexts[device];
    return ACL_SUCCESS;
}

DD_EXPORT aclError aclrtGetDevice(int32_t *device) {
    aclError r = need_context("aclrtGetDevice");
    if (r != ACL_SUCCESS) return r;
    if (!device) return fail(ACL_ERROR_INVALID_PARAM, "aclrtGetDevice: device is NULL");
    *device = current->device;
    return ACL_SUCCESS;
}

DD_EXPORT aclError aclrtGetCurrentContext(aclrtContext *ctx) {
    if (!ctx) return fail(ACL_ERROR_INVALID_PARAM, "aclrtGetCurrentContext: context is NULL");
    aclError r = need_context("aclrtGetCurrentContext");
    if (r != ACL_SUCCESS) return r;
    *ctx = current;
    return ACL_SUCCESS;
}

DD_EXPORT aclError aclrtSetCurrentContext(aclrtContext ctx) {
    default_context *c = ctx;
    if (!c || c < &contexts[0] || c >= &contexts[dd_device_count()])
        return fail(ACL_ERROR_INVALID_PARAM, "aclrtSetCurrentContext: not a context");
    current = c;
    return ACL_SUCCESS;
}

DD_EXPORT aclError aclrtMalloc(void **dev_ptr, size_t size, aclrtMemMallocPolicy policy) {
    (void)policy;
    aclError r = need_context("aclrtMalloc");
    if (r != ACL_SUCCESS) return r;
    if (!dev_ptr || size == 0)
        return fail(ACL_ERROR_INVALID_PARAM, "aclrtMalloc: devPtr NULL or size 0");
    uintptr_t dev;
    if (gm_device_alloc(size, current->device, &dev) != GM_OK)
        return fail(ACL_ERROR_RT_MEMORY_ALLOCATION, "aclrtMalloc: %zu bytes: out of memory", size);
    *dev_ptr = (void *)dev;
    return ACL_SUCCESS;
}

DD_EXPORT aclError aclrtFree(void *dev_ptr) {
    aclError r = need_context("aclrtFree");
    if (r != ACL_SUCCESS) return r;
    if (gm_device_free((uintptr_t)dev_ptr) != GM_OK)
        return fail(ACL_ERROR_INVALID_PARAM, "aclrtFree: %p is not an aclrtMalloc block", dev_ptr);
    return ACL_SUCCESS;
}

DD_EXPORT aclError aclrtMallocHost(void **host_ptr, size_t size) {
    aclError r = need_context("aclrtMallocHost");
    if (r != ACL_SUCCESS) return r;
    if (!host_ptr || size == 0)
        return fail(ACL_ERROR_INVALID_PARAM, "aclrtMallocHost: hostPtr NULL or size 0");
    return from_gm("aclrtMallocHost", gm_host_alloc(size, current->device, host_ptr));
}

DD_EXPORT aclError aclrtFreeHost(void *host_ptr) {
    aclError r = need_context("aclrtFreeHost");
    if (r != ACL_SUCCESS) return r;
    if (gm_host_free(host_ptr) != GM_OK)
        return fail(ACL_ERROR_INVALID_PARAM, "aclrtFreeHost: %p is not an aclrtMallocHost block",
                    host_ptr);
    return ACL_SUCCESS;
}

/* The op that kind describes; the checks of gm_check then refuse a side that is not the
 * memory the kind says (a device address as the host side, or host memory as the device
 * side). */
static aclError memcpy_op(const char *call, void *dst, size_t dest_max, const void *src,
                          size_t count, aclrtMemcpyKind kind, gm_op *op) {
    if (!dst || !src) return fail(ACL_ERROR_INVALID_PARAM, "%s: dst or src is NULL", call);
    if (count > dest_max)
        return fail(ACL_ERROR_INVALID_PARAM, "%s: count %zu exceeds destMax %zu", call, count,
                    dest_max);
    if ((int)kind < ACL_MEMCPY_HOST_TO_HOST || kind > ACL_MEMCPY_DEVICE_TO_DEVICE)
        return fail(ACL_ERROR_INVALID_PARAM, "%s: kind %d is not supported", call, (int)kind);
    *op = (gm_op){
        .dst = (uintptr_t)dst,
        .src = (uintptr_t)src,
        .len = count,
        .dst_dev = kind == ACL_MEMCPY_HOST_TO_DEVICE || kind == ACL_MEMCPY_DEVICE_TO_DEVICE,
        .src_dev = kind == ACL_MEMCPY_DEVICE_TO_HOST || kind == ACL_MEMCPY_DEVICE_TO_DEVICE};
    return ACL_SUCCESS;
}

static aclError submit(const char *call, const gm_op *op, aclrtStream stream) {
    aclError r = need_context(call);
    if (r != ACL_SUCCESS) return r;
    sq_stream *s = stream;
    if (s && !sq_is_live(s)) return fail(ACL_ERROR_INVALID_PARAM, "%s: not a stream", call);
    gm_status st = gm_check(op);
    if (st != GM_OK) return from_gm(call, st);
    if (!s) return from_gm(call, gm_copy(op));
    if (!sq_enqueue(s, op)) return fail(ACL_ERROR_BAD_ALLOC, "%s: out of memory", call);
    return ACL_SUCCESS;
}

DD_EXPORT aclError aclrtMemcpy(void *dst, size_t dest_max, const void *src, size_t count,
                               aclrtMemcpyKind kind) {
    gm_op op;
    aclError r = memcpy_op("aclrtMemcpy", dst, dest_max, src, count, kind, &op);
    return r == ACL_SUCCESS ? submit("aclrtMemcpy", &op, NULL) : r;
}

/* The NULL stream (the default stream) is synchronous in this double. */
DD_EXPORT aclError aclrtMemcpyAsync(void *dst, size_t dest_max, const void *src, size_t count,
                                    aclrtMemcpyKind kind, aclrtStream stream) {
    gm_op op;
    aclError r = memcpy_op("aclrtMemcpyAsync", dst, dest_max, src, count, kind, &op);
    return r == ACL_SUCCESS ? submit("aclrtMemcpyAsync", &op, stream) : r;
}

DD_EXPORT aclError aclrtMemset(void *dev_ptr, size_t max_count, int32_t value, size_t count) {
    if (!dev_ptr) return fail(ACL_ERROR_INVALID_PARAM, "aclrtMemset: devPtr is NULL");
    if (count > max_count)
        return fail(ACL_ERROR_INVALID_PARAM, "aclrtMemset: count %zu exceeds maxCount %zu", count,
                    max_count);
    gm_op op = {.dst = (uintptr_t)dev_ptr,
                .len = count,
                .dst_dev = true,
                .is_memset = true,
                .fill_byte = (unsigned char)value};
    return submit("aclrtMemset", &op, NULL);
}

DD_EXPORT aclError aclrtCreateStream(aclrtStream *stream) {
    aclError r = need_context("aclrtCreateStream");
    if (r != ACL_SUCCESS) return r;
    if (!stream) return fail(ACL_ERROR_INVALID_PARAM, "aclrtCreateStream: stream is NULL");
    sq_stream *s = sq_create(current->device);
    if (!s) return fail(ACL_ERROR_BAD_ALLOC, "aclrtCreateStream: no worker thread");
    *stream = s;
    return ACL_SUCCESS;
}

DD_EXPORT aclError aclrtDestroyStream(aclrtStream stream) {
    aclError r = need_context("aclrtDestroyStream");
    if (r != ACL_SUCCESS) return r;
    if (!stream || !sq_is_live(stream))
        return fail(ACL_ERROR_INVALID_PARAM, "aclrtDestroyStream: not a stream");
    sq_destroy(stream);
    return ACL_SUCCESS;
}

DD_EXPORT aclError aclrtSynchronizeStream(aclrtStream stream) {
    aclError r = need_context("aclrtSynchronizeStream");
    if (r != ACL_SUCCESS) return r;
    if (!stream) return ACL_SUCCESS;
    if (!sq_is_live(stream))
        return fail(ACL_ERROR_INVALID_PARAM, "aclrtSynchronizeStream: not a stream");
    return from_gm("aclrtSynchronizeStream (a queued operation)", sq_sync(stream));
}

DD_EXPORT void acl_double_fail_copies(int n) {
    gm_fail_next(n);
}
DD_EXPORT void acl_double_limit_memory(size_t bytes) {
    gm_limit_device_memory(bytes);
}
DD_EXPORT void acl_double_hold_streams(int hold) {
    sq_hold(hold != 0);
}
DD_EXPORT size_t acl_double_live_allocations(void) {
    return gm_live_device_allocs();
}
DD_EXPORT size_t acl_double_live_host_allocations(void) {
    return gm_live_host_allocs();
}
DD_EXPORT size_t acl_double_live_streams(void) {
    return sq_live_streams();
}
