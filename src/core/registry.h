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
#include "core/ptr_set.h"
#include "core/region_set.h"

#include <adxl/adxl.h>
#include <pthread.h>
#include <stdbool.h>

/*
 * Every registration has a slot and a generation (adxl_region_t's slot and gen), which
 * transports use to name it to peers without a search of their own: the slot is a small
 * index, a released one before a new one, so that tables indexed by it stay as large as
 * the most regions held at once; the generation is never 0 and never reused, so (slot, gen)
 * names one registration even after its slot went to another. A removed region's slot
 * stays taken until adxl_registry_release_slot, which the engine calls once every
 * transport has published the removal: until then no new region can appear there while
 * a transport still revokes the old one.
 */
typedef struct {
    pthread_rwlock_t lock;
    adxl_region_set_t regions;
    adxl_ptr_set_t by_handle; /* handle -> its adxl_region_t in regions */
    uint64_t generation;      /* bumped by every removal, so pinned readers can re-check */
    size_t device_regions;    /* how many regions are device memory */
    const adxl_device_runtime_t *device; /* the engine's device runtime, NULL for none */
    pthread_mutex_t slots_lock;          /* the slot fields below */
    uint32_t *free_slots;                /* released slots, the latest on top */
    size_t nfree, free_cap;
    uint32_t slots_used; /* slots [0, slots_used) were handed out at least once */
    uint32_t next_gen;
} adxl_registry_t;

bool adxl_registry_init(adxl_registry_t *reg);
void adxl_registry_destroy(adxl_registry_t *reg);

/* *added gets a copy of the new region (with its slot and generation), or len 0 when the
 * call repeated an existing registration. device_ctx is NULL for host memory, else the
 * device context the region belongs to; repeating a range with the other memory type is
 * ADXL_PARAM_INVALID. */
adxl_status_t adxl_registry_add(adxl_registry_t *reg, uintptr_t addr, size_t len, void *device_ctx,
                                adxl_mem_handle_t *handle, adxl_region_t *added);
/* *removed gets a copy of the region when the last reference went and it is gone (its
 * slot stays taken: adxl_registry_release_slot), len 0 otherwise. */
adxl_status_t adxl_registry_remove(adxl_registry_t *reg, adxl_mem_handle_t handle,
                                   adxl_region_t *removed);
/* The removal of the region in slot is published: the slot may go to a new region. */
void adxl_registry_release_slot(adxl_registry_t *reg, uint32_t slot);
/* Every slot handed out so far is below this. */
uint32_t adxl_registry_slots_used(adxl_registry_t *reg);

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
