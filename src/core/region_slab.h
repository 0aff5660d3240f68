/*
 * Where a region set keeps its ranges' adxl_region_t: 99 to a slab of one 4 KiB chunk,
 * each at a fixed address until it is given back (its place field finds its slab). One
 * malloc per range left glibc a million small chunks in its fast bins when a million
 * ranges were freed, all merged at once by the next large allocation in that arena: 10 to
 * 222 ms inside one adxl_deregister_mem, measured after a peer view of 1M regions was
 * dropped. A slab goes back to malloc whole, when its last range is given back. Not
 * thread-safe: the set's owner serialises.
 */
#ifndef ADXL_REGION_SLAB_H
#define ADXL_REGION_SLAB_H

#include "core/region_set.h"

/* A place for one range from the slabs on *open (the set's slabs with a free place),
 * contents undefined; NULL when out of memory. */
adxl_region_t *adxl_region_slab_take(adxl_region_slab_t **open);
/* Gives r back; a slab left empty is freed, unless it is the only one with a free place
 * and keep_last (the set still holds ranges, and the next insert would want it again). */
void adxl_region_slab_give(adxl_region_slab_t **open, adxl_region_t *r, bool keep_last);
/* Frees the slabs on *open; every range they held has been given back. */
void adxl_region_slab_release(adxl_region_slab_t **open);

#endif
