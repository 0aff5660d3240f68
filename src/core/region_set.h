/*
 * A set of non-overlapping address ranges ordered by start address: a B+-tree whose nodes
 * keep their keys in arrays, so that insert, remove and "is [addr, addr+len) wholly inside
 * one range?" each cost O(log n) in any address order and touch few cache lines even with
 * a million ranges, and memory grows with the ranges held. Every view of registered
 * memory (the registry, each peer's regions, each transport's mirror and key table) is
 * one of these. A range's adxl_region_t stays at the same address until it is removed,
 * so an owner may keep a pointer to it. Not thread-safe: owners wrap it in their own lock.
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
    uint8_t place;    /* where in its slab it lives (region_slab.c); not the owner's */
    void *device_ctx; /* the runtime context it was registered in (device only) */
    /* The registry's names for one registration (registry.h): its slot, dense and reused,
     * and its generation, never reused. Other owners may keep their own here. */
    uint32_t slot;
    uint32_t gen;
} adxl_region_t;

typedef struct adxl_region_node adxl_region_node_t;
typedef struct adxl_region_slab adxl_region_slab_t;

/* All zero is an empty set. */
typedef struct {
    adxl_region_node_t *root;  /* NULL when empty */
    size_t count;              /* ranges held */
    adxl_region_slab_t *slabs; /* where the ranges live: those with a free place (region_slab.h) */
} adxl_region_set_t;

/* Frees every range; the set is empty and reusable afterwards. */
void adxl_region_set_free(adxl_region_set_t *set);
/* The range with exactly this start and length, or NULL. */
adxl_region_t *adxl_region_set_find_exact(const adxl_region_set_t *set, uintptr_t addr, size_t len);
/* True when [addr, addr+len) overlaps any range. */
bool adxl_region_set_overlaps(const adxl_region_set_t *set, uintptr_t addr, size_t len);
/* A range that overlaps [addr, addr+len), or NULL: the one that starts at or before addr
 * if that one reaches into it, else the first that starts inside it. In a set whose ranges
 * do not overlap, a range equal to [addr, addr+len) is the only one it can return. */
adxl_region_t *adxl_region_set_overlapping(const adxl_region_set_t *set, uintptr_t addr,
                                           size_t len);
/* The range wholly containing [addr, addr+len), or NULL. */
adxl_region_t *adxl_region_set_containing(const adxl_region_set_t *set, uintptr_t addr, size_t len);
/* Inserts a range (refs 1, host memory); NULL when out of memory. Lookups by address
 * assume ranges do not overlap: owners insert only ranges that overlap none, or hold an
 * overlap only between an insert and a removal they know will follow. A range with the
 * same start and length as one held must not be inserted. */
adxl_region_t *adxl_region_set_insert(adxl_region_set_t *set, uintptr_t addr, size_t len,
                                      void *tag);
/* Inserts a range unless it overlaps one held, with one search: then NULL, and *overlap
 * names a range it overlaps (one equal to it, if held). NULL with *overlap NULL: out of
 * memory. */
adxl_region_t *adxl_region_set_insert_disjoint(adxl_region_set_t *set, uintptr_t addr, size_t len,
                                               void *tag, adxl_region_t **overlap);
/* Removes r, which must be a range of this set; r is freed. */
void adxl_region_set_remove(adxl_region_set_t *set, adxl_region_t *r);
/* Removes the range with exactly this start and length, with one search; false when none
 * is held. *tag (if tag is not NULL) gets the removed range's tag. */
bool adxl_region_set_remove_exact(adxl_region_set_t *set, uintptr_t addr, size_t len, void **tag);
/* Calls fn on each range in address order while it returns true; false when fn stopped. */
bool adxl_region_set_each(const adxl_region_set_t *set, bool (*fn)(adxl_region_t *r, void *ctx),
                          void *ctx);
/* For tests: the tree keeps its own rules (key order, node fill, one depth for every
 * leaf, leaves linked in order, count right). */
bool adxl_region_set_is_sound(const adxl_region_set_t *set);

#endif
