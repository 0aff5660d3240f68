/*
 * The memory this engine registered: what peers may read and write as targets, and what
 * counts as registered for the direct/buffered decision as an initiator.
 *
 * Target-side access pins the registry with its read lock for the length of one
 * non-blocking system call, so adxl_registry_remove (which takes the write lock) returns
 * only once no peer is copying into or out of the region, and none can start.
 */
#ifndef ADXL_REGISTRY_H
#define ADXL_REGISTRY_H

#include "memory/device.h"
#include "ptr_set.h"
#include "region_set.h"

#include <adxl/adxl.h>
#include <pthread.h>
#include <stdbool.h>

typedef struct {
    pthread_rwlock_t lock;
    adxl_region_set_t regions;
    adxl_ptr_set_t by_handle; /* handle -> its adxl_region_t in regions */
    uint64_t generation;      /* bumped by every removal, so pinned readers can re-check */
    size_t device_regions;    /* how many regions are device memory */
    const adxl_device_runtime_t *device; /* the engine's device runtime, NULL for none */
} adxl_registry_t;

bool adxl_registry_init(adxl_registry_t *reg);
void adxl_registry_destroy(adxl_registry_t *reg);

/* *added is true when the range is new (not a repeat of an existing registration).
 * device_ctx is NULL for host memory, else the device context the region belongs to;
 * repeating a range with the other memory type is ADXL_PARAM_INVALID. */
adxl_status_t adxl_registry_add(adxl_registry_t *reg, uintptr_t addr, size_t len, void *device_ctx,
                                adxl_mem_handle_t *handle, bool *added);
/* *removed_len is non-zero when the last reference went and the range is gone. */
adxl_status_t adxl_registry_remove(adxl_registry_t *reg, adxl_mem_handle_t handle,
                                   uintptr_t *removed_addr, size_t *removed_len);

/* How many ranges are registered. */
size_t adxl_registry_count(adxl_registry_t *reg);
/* A copy of every registered range, for a new peer; *count 0 and NULL when empty. */
adxl_status_t adxl_registry_snapshot(adxl_registry_t *reg, adxl_region_t **ranges, size_t *count);

static inline void adxl_registry_pin(adxl_registry_t *reg) {
    pthread_rwlock_rdlock(&reg->lock);
}
static inline void adxl_registry_unpin(adxl_registry_t *reg) {
    pthread_rwlock_unlock(&reg->lock);
}
/* With the registry pinned. */
static inline bool adxl_registry_contains_pinned(const adxl_registry_t *reg, uintptr_t addr,
                                                 size_t len) {
    return adxl_region_set_containing(&reg->regions, addr, len) != NULL;
}
/*
 * With the registry pinned: copies len bytes between the host buffer and the memory at
 * addr (to_memory: into it), through the device runtime when that memory is a device
 * region. Memory outside every region (a target that allows unregistered memory) is host
 * memory. ADXL_FAILED when the runtime failed the copy.
 */
adxl_status_t adxl_registry_copy_pinned(const adxl_registry_t *reg, uintptr_t addr, void *host,
                                        size_t len, bool to_memory);

#endif
