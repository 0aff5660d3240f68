#include "registry.h"

#include "log.h"
#include "ptr_set.h"

#include <stdlib.h>
#include <string.h>

/* The handle a caller holds is an adxl_handle_new value kept as the region's tag: only
 * compared, never dereferenced, and never reused, so a stale one matches nothing. */

bool adxl_registry_init(adxl_registry_t *reg) {
    memset(reg, 0, sizeof(*reg));
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    /* Deregistration must not starve behind a steady stream of target-side copies. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rc = pthread_rwlock_init(&reg->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    return rc == 0;
}

void adxl_registry_destroy(adxl_registry_t *reg) {
    adxl_region_set_free(&reg->regions);
    adxl_ptr_set_free(&reg->by_handle);
    pthread_rwlock_destroy(&reg->lock);
}

adxl_status_t adxl_registry_add(adxl_registry_t *reg, uintptr_t addr, size_t len, void *device_ctx,
                                adxl_mem_handle_t *handle, bool *added) {
    adxl_status_t st = ADXL_SUCCESS;
    *added = false;
    pthread_rwlock_wrlock(&reg->lock);
    adxl_region_t *r = adxl_region_set_find_exact(&reg->regions, addr, len);
    if (r) {
        if (r->device != (device_ctx != NULL)) {
            st = PARAM_INVALID("memory [0x%lx, +%zu) is registered already as %s memory",
                               (unsigned long)addr, len, r->device ? "device" : "host");
        } else {
            r->refs++;
            *handle = r->tag;
        }
    } else if (adxl_region_set_overlaps(&reg->regions, addr, len)) {
        st = PARAM_INVALID("memory [0x%lx, +%zu) partially overlaps a registered region",
                           (unsigned long)addr, len);
    } else {
        void *tag = adxl_handle_new();
        r = adxl_region_set_insert(&reg->regions, addr, len, tag);
        if (r && !adxl_ptr_set_put(&reg->by_handle, tag, r)) {
            adxl_region_set_remove(&reg->regions, r);
            r = NULL;
        }
        if (!r) {
            st = ADXL_RESOURCE_EXHAUSTED;
        } else {
            if (device_ctx) {
                r->device = true;
                r->device_ctx = device_ctx;
                reg->device_regions++;
            }
            *handle = tag;
            *added = true;
        }
    }
    pthread_rwlock_unlock(&reg->lock);
    return st;
}

adxl_status_t adxl_registry_remove(adxl_registry_t *reg, adxl_mem_handle_t handle,
                                   uintptr_t *removed_addr, size_t *removed_len) {
    *removed_len = 0;
    pthread_rwlock_wrlock(&reg->lock);
    adxl_region_t *r = handle ? adxl_ptr_set_get(&reg->by_handle, handle) : NULL;
    if (r && --r->refs == 0) {
        *removed_addr = r->addr;
        *removed_len = r->len;
        if (r->device) reg->device_regions--;
        adxl_ptr_set_remove(&reg->by_handle, handle);
        adxl_region_set_remove(&reg->regions, r);
        reg->generation++;
    }
    pthread_rwlock_unlock(&reg->lock);
    return ADXL_SUCCESS;
}

/* Appends r at *ctx, an adxl_region_t cursor. */
static bool copy_out(adxl_region_t *r, void *ctx) {
    adxl_region_t **next = ctx;
    *(*next)++ = *r;
    return true;
}

size_t adxl_registry_count(adxl_registry_t *reg) {
    pthread_rwlock_rdlock(&reg->lock);
    size_t n = reg->regions.count;
    pthread_rwlock_unlock(&reg->lock);
    return n;
}

adxl_status_t adxl_registry_snapshot(adxl_registry_t *reg, adxl_region_t **ranges, size_t *count) {
    *ranges = NULL;
    *count = 0;
    pthread_rwlock_rdlock(&reg->lock);
    adxl_status_t st = ADXL_SUCCESS;
    if (reg->regions.count > 0) {
        *ranges = malloc(reg->regions.count * sizeof(adxl_region_t));
        if (*ranges) {
            adxl_region_set_each(&reg->regions, copy_out, ranges);
            *ranges -= reg->regions.count; /* copy_out advanced it past the last one */
            *count = reg->regions.count;
        } else {
            st = ADXL_RESOURCE_EXHAUSTED;
        }
    }
    pthread_rwlock_unlock(&reg->lock);
    return st;
}

adxl_status_t adxl_registry_copy_pinned(const adxl_registry_t *reg, uintptr_t addr, void *host,
                                        size_t len, bool to_memory) {
    const adxl_region_t *r =
        reg->device_regions ? adxl_region_set_containing(&reg->regions, addr, len) : NULL;
    void *mem = (void *)addr;
    if (!r || !r->device) {
        if (to_memory)
            memcpy(mem, host, len);
        else
            memcpy(host, mem, len);
        return ADXL_SUCCESS;
    }
    return adxl_device_copy(reg->device, r->device_ctx, to_memory ? mem : host,
                            to_memory ? host : mem, len, to_memory ? ADXL_COPY_H2D : ADXL_COPY_D2H);
}
