/*
 * A set of non-overlapping address ranges kept sorted by start address, so that "is
 * [addr, addr+len) wholly inside one range?" is a binary search. Not thread-safe: the
 * registry and the remote-region view each wrap it in their own lock.
 */
#ifndef ADXL_REGION_SET_H
#define ADXL_REGION_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uintptr_t addr;
    size_t len;
    void *tag;        /* owner's data (the registry keeps its handle here) */
    uint32_t refs;    /* how many times the same range was added */
    bool device;      /* device memory, reached only through the engine's device runtime */
    void *device_ctx; /* the runtime context it was registered in (device only) */
} adxl_region_t;

typedef struct {
    adxl_region_t *items;
    size_t count;
    size_t capacity;
} adxl_region_set_t;

void adxl_region_set_free(adxl_region_set_t *set);
/* Index of the range with exactly this start and length, or -1. */
ptrdiff_t adxl_region_set_find_exact(const adxl_region_set_t *set, uintptr_t addr, size_t len);
/* True when [addr, addr+len) overlaps any range. */
bool adxl_region_set_overlaps(const adxl_region_set_t *set, uintptr_t addr, size_t len);
/* The range wholly containing [addr, addr+len), or NULL. */
const adxl_region_t *adxl_region_set_containing(const adxl_region_set_t *set, uintptr_t addr,
                                                size_t len);
/* Inserts a range that overlaps none; false when out of memory. */
bool adxl_region_set_insert(adxl_region_set_t *set, uintptr_t addr, size_t len, void *tag);
void adxl_region_set_remove_at(adxl_region_set_t *set, size_t index);

#endif
