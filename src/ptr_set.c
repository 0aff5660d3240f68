#include "ptr_set.h"

#include <stdint.h>
#include <stdlib.h>

static char tombstone_marker;
#define TOMBSTONE ((void *)&tombstone_marker)

static size_t slot_of(const void *p, size_t capacity) {
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 17) & (capacity - 1);
}

void adxl_ptr_set_free(adxl_ptr_set_t *set) {
    free(set->slots);
    *set = (adxl_ptr_set_t){0};
}

static bool rehash(adxl_ptr_set_t *set, size_t capacity) {
    void **slots = calloc(capacity, sizeof(void *));
    if (!slots) return false;
    for (size_t i = 0; i < set->capacity; i++) {
        void *p = set->slots[i];
        if (!p || p == TOMBSTONE) continue;
        size_t s = slot_of(p, capacity);
        while (slots[s])
            s = (s + 1) & (capacity - 1);
        slots[s] = p;
    }
    free(set->slots);
    set->slots = slots;
    set->capacity = capacity;
    set->used = set->count;
    return true;
}

bool adxl_ptr_set_add(adxl_ptr_set_t *set, void *p) {
    if ((set->used + 1) * 2 > set->capacity) {
        /* Keep the table at most half full, counting tombstones, which a rehash drops. */
        size_t cap = 64;
        while (cap < (set->count + 1) * 4)
            cap *= 2;
        if (!rehash(set, cap)) return false;
    }
    size_t s = slot_of(p, set->capacity);
    while (set->slots[s] && set->slots[s] != TOMBSTONE)
        s = (s + 1) & (set->capacity - 1);
    if (!set->slots[s]) set->used++;
    set->slots[s] = p;
    set->count++;
    return true;
}

static ptrdiff_t find(const adxl_ptr_set_t *set, const void *p) {
    if (!set->capacity || !p) return -1;
    size_t s = slot_of(p, set->capacity);
    for (size_t n = 0; n < set->capacity && set->slots[s]; n++) {
        if (set->slots[s] == p) return (ptrdiff_t)s;
        s = (s + 1) & (set->capacity - 1);
    }
    return -1;
}

bool adxl_ptr_set_contains(const adxl_ptr_set_t *set, const void *p) {
    return find(set, p) >= 0;
}

bool adxl_ptr_set_remove(adxl_ptr_set_t *set, const void *p) {
    ptrdiff_t s = find(set, p);
    if (s < 0) return false;
    set->slots[s] = TOMBSTONE;
    set->count--;
    return true;
}

void *adxl_ptr_set_slot(const adxl_ptr_set_t *set, size_t i) {
    void *p = set->slots[i];
    return p == TOMBSTONE ? NULL : p;
}
