/*
 * What a peer told us it registered. Only steers the direct/buffered choice: the target
 * checks every access against its own registry, so a stale view can never widen access.
 * A transport that keeps data of its own with each range (the shared-memory transport's
 * mappings) keeps it in the range's tag, here, rather than in a second set of the same
 * ranges: it changes the set with the lock write-held, and reads it read-held for as long
 * as it uses a tag. Ranges added through adxl_remote_regions_add have no tag.
 */
#ifndef ADXL_REMOTE_REGIONS_H
#define ADXL_REMOTE_REGIONS_H

#include "core/region_set.h"

#include <adxl/adxl.h>
#include <pthread.h>
#include <stdbool.h>

/* A hostile peer must not make us grow without bound; far beyond what a real engine
 * registers (a paged KV cache registers up to a few million blocks). */
#define ADXL_REMOTE_REGIONS_MAX (16u * 1024u * 1024u)

typedef struct {
    pthread_rwlock_t lock; /* writer-preferring: see adxl_remote_regions_init */
    adxl_region_set_t regions;
} adxl_remote_regions_t;

void adxl_remote_regions_init(adxl_remote_regions_t *rr);
void adxl_remote_regions_destroy(adxl_remote_regions_t *rr);
void adxl_remote_regions_add(adxl_remote_regions_t *rr, uintptr_t addr, size_t len);
void adxl_remote_regions_remove(adxl_remote_regions_t *rr, uintptr_t addr, size_t len);
size_t adxl_remote_regions_count(adxl_remote_regions_t *rr);
/* True when every descriptor's remote range lies inside one known region. */
bool adxl_remote_regions_contain_all(adxl_remote_regions_t *rr,
                                     const adxl_transfer_op_desc_t *descs, size_t num_descs);

#endif
