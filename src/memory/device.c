#include "memory/device.h"

#include "core/log.h"

#include <string.h>

bool adxl_device_runtime_parse(const char *text, adxl_device_runtime_kind_t *out) {
    static const struct {
        const char *name;
        adxl_device_runtime_kind_t kind;
    } names[] = {{"auto", ADXL_DEVICE_RUNTIME_AUTO},
                 {"none", ADXL_DEVICE_RUNTIME_NONE},
                 {"cuda", ADXL_DEVICE_RUNTIME_CUDA},
                 {"ascend", ADXL_DEVICE_RUNTIME_ASCEND}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(text, names[i].name) == 0) {
            *out = names[i].kind;
            return true;
        }
    }
    return false;
}

/* Loaded and reporting at least one device. */
static bool usable(const adxl_device_runtime_t *rt) {
    if (!rt->load()) return false;
    int n = rt->device_count();
    if (n <= 0) LOG_INFO("device runtime %s loaded but reports no device", rt->name);
    return n > 0;
}

adxl_status_t adxl_device_runtime_select(adxl_device_runtime_kind_t kind,
                                         const adxl_device_runtime_t **out) {
    *out = NULL;
    switch (kind) {
    case ADXL_DEVICE_RUNTIME_NONE:
        return ADXL_SUCCESS;
    case ADXL_DEVICE_RUNTIME_CUDA:
    case ADXL_DEVICE_RUNTIME_ASCEND: {
        const adxl_device_runtime_t *rt =
            kind == ADXL_DEVICE_RUNTIME_CUDA ? &adxl_cuda_runtime : &adxl_ascend_runtime;
        if (!usable(rt)) {
            LOG_ERROR("DeviceRuntime=%s: the runtime is not usable here (see above)", rt->name);
            return ADXL_UNSUPPORTED;
        }
        *out = rt;
        return ADXL_SUCCESS;
    }
    case ADXL_DEVICE_RUNTIME_AUTO:
    default: {
        bool cuda = usable(&adxl_cuda_runtime);
        bool ascend = usable(&adxl_ascend_runtime);
        if (cuda && ascend)
            return PARAM_INVALID("both CUDA and AscendCL report devices: choose one with the "
                                 "option DeviceRuntime=cuda or DeviceRuntime=ascend");
        if (cuda) *out = &adxl_cuda_runtime;
        if (ascend) *out = &adxl_ascend_runtime;
        return ADXL_SUCCESS;
    }
    }
}

adxl_status_t adxl_device_enter(const adxl_device_runtime_t *rt, void *ctx,
                                adxl_device_scope_t *scope) {
    scope->saved = rt->current();
    scope->switched = ctx != NULL && scope->saved != ctx;
    if (!scope->switched) return ADXL_SUCCESS;
    adxl_status_t st = rt->set_current(ctx);
    if (st != ADXL_SUCCESS) scope->switched = false;
    return st;
}

void adxl_device_leave(const adxl_device_runtime_t *rt, const adxl_device_scope_t *scope) {
    /* A thread that had no context gets none back: it must not keep ours by accident. */
    if (scope->switched) (void)rt->set_current(scope->saved);
}

adxl_status_t adxl_device_copy(const adxl_device_runtime_t *rt, void *ctx, void *dst,
                               const void *src, size_t len, adxl_copy_dir_t dir) {
    adxl_device_scope_t scope;
    adxl_status_t st = adxl_device_enter(rt, ctx, &scope);
    if (st == ADXL_SUCCESS) {
        st = rt->copy(dst, src, len, dir);
        adxl_device_leave(rt, &scope);
    }
    return st;
}
