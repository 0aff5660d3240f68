#include "core/registry.h"

#include "core/log.h"
#include "core/ptr_set.h"

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
    if (rc != 0) return false;
    if (pthread_mutex_init(&reg->slots_lock, NULL) != 0) {
        pthread_rwlock_destroy(&reg->lock);
        return false;
    }
    return true;
}

void adxl_registry_destroy(adxl_registry_t *reg) {
    adxl_region_set_free(&reg->regions);
    adxl_ptr_set_free(&reg->by_handle);
    free(reg->free_slots);
    pthread_mutex_destroy(&reg->slots_lock);
    pthread_rwlock_destroy(&reg->lock);
}

/* A slot and a fresh generation for a new region; false when every slot is taken. The
 * latest released slot first: its entries in transports' tables are likely in cache. */
static bool take_slot(adxl_registry_t *reg, uint32_t *slot, uint32_t *gen) {
    pthread_mutex_lock(&reg->slots_lock);
    bool ok = true;
    if (reg->nfree > 0)
        *slot = reg->free_slots[--reg->nfree];
    else if (reg->slots_used < UINT32_MAX)
        *slot = reg->slots_used++;
    else
        ok = false;
    if (++reg->next_gen == 0) reg->next_gen = 1;
    *gen = reg->next_gen;
    pthread_mutex_unlock(&reg->slots_lock);
    return ok;
}

uint32_t adxl_registry_slots_used(adxl_registry_t *reg) {
    pthread_mutex_lock(&reg->slots_lock);
    uint32_t used = reg->slots_used;
    pthread_mutex_unlock(&reg->slots_lock);
    return used;
}

/* The free list never holds more than the slots handed out; out of memory, a slot is lost
 * rather than reused (the next one comes from slots_used). */
void adxl_registry_release_slot(adxl_registry_t *reg, uint32_t slot) {
    pthread_mutex_lock(&reg->slots_lock);
    if (reg->nfree == reg->free_cap) {
        size_t cap = reg->free_cap ? reg->free_cap * 2 : 1024;
        uint32_t *f = realloc(reg->free_slots, cap * sizeof(*f));
        if (f) {
            reg->free_slots = f;
            reg->free_cap = cap;
        }
    }
    if (reg->nfree < reg->free_cap) reg->free_slots[reg->nfree++] = slot;
    pthread_mutex_unlock(&reg->slots_lock);
}

adxl_status_t adxl_registry_add(adxl_registry_t *reg, uintptr_t addr, size_t len, void *device_ctx,
                                adxl_mem_handle_t *handle, adxl_region_t *added) {
    adxl_status_t st = ADXL_SUCCESS;
    added->len = 0;
    void *tag = adxl_handle_new();
    pthread_rwlock_wrlock(&reg->lock);
    /* One search inserts a new range or finds what it overlaps: registered ranges never
     * overlap, so a range equal to it is a repeat, any other a partial overlap. */
    adxl_region_t *old = NULL;
    adxl_region_t *r = adxl_region_set_insert_disjoint(&reg->regions, addr, len, tag, &old);
    uint32_t slot, gen;
    if (old && (old->addr != addr || old->len != len)) {
        st = PARAM_INVALID("memory [0x%lx, +%zu) partially overlaps a registered region",
                           (unsigned long)addr, len);
    } else if (old && old->device != (device_ctx != NULL)) {
        st = PARAM_INVALID("memory [0x%lx, +%zu) is registered already as %s memory",
                           (unsigned long)addr, len, old->device ? "device" : "host");
    } else if (old) {
        old->refs++;
        *handle = old->tag;
    } else if (!r || !adxl_ptr_set_put(&reg->by_handle, tag, r)) {
        if (r) adxl_region_set_remove(&reg->regions, r);
        st = ADXL_RESOURCE_EXHAUSTED;
    } else if (!take_slot(reg, &slot, &gen)) {
        adxl_ptr_set_remove(&reg->by_handle, tag);
        adxl_region_set_remove(&reg->regions, r);
        st = ADXL_RESOURCE_EXHAUSTED;
    } else {
        r->slot = slot;
        r->gen = gen;
        if (device_ctx) {
            r->device = true;
            r->device_ctx = device_ctx;
            reg->device_regions++;
        }
        *handle = tag;
        *added = *r;
    }
    pthread_rwlock_unlock(&reg->lock);
    return st;
}

adxl_status_t adxl_registry_remove(adxl_registry_t *reg, adxl_mem_handle_t handle,
                                   adxl_region_t *removed) {
    removed->len = 0;
    pthread_rwlock_wrlock(&reg->lock);
    adxl_region_t *r = handle ? adxl_ptr_set_get(&reg->by_handle, handle) : NULL;
    if (r && --r->refs == 0) {
        *removed = *r;
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
