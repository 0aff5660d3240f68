#include "core/ptr_set.h"

#include <stdatomic.h>
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
    adxl_ptr_entry_t *slots = calloc(capacity, sizeof(*slots));
    if (!slots) return false;
    for (size_t i = 0; i < set->capacity; i++) {
        adxl_ptr_entry_t e = set->slots[i];
        if (!e.key || e.key == TOMBSTONE) continue;
        size_t s = slot_of(e.key, capacity);
        while (slots[s].key)
            s = (s + 1) & (capacity - 1);
        slots[s] = e;
    }
    free(set->slots);
    set->slots = slots;
    set->capacity = capacity;
    set->used = set->count;
    return true;
}

bool adxl_ptr_set_put(adxl_ptr_set_t *set, void *key, void *value) {
    if ((set->used + 1) * 2 > set->capacity) {
        /* Keep the table at most half full, counting tombstones, which a rehash drops. */
        size_t cap = 64;
        while (cap < (set->count + 1) * 4)
            cap *= 2;
        if (!rehash(set, cap)) return false;
    }
    size_t s = slot_of(key, set->capacity);
    while (set->slots[s].key && set->slots[s].key != TOMBSTONE)
        s = (s + 1) & (set->capacity - 1);
    if (!set->slots[s].key) set->used++;
    set->slots[s] = (adxl_ptr_entry_t){key, value};
    set->count++;
    return true;
}

bool adxl_ptr_set_add(adxl_ptr_set_t *set, void *p) {
    return adxl_ptr_set_put(set, p, p);
}

static ptrdiff_t find(const adxl_ptr_set_t *set, const void *p) {
    if (!set->capacity || !p || p == TOMBSTONE) return -1;
    size_t s = slot_of(p, set->capacity);
    for (size_t n = 0; n < set->capacity && set->slots[s].key; n++) {
        if (set->slots[s].key == p) return (ptrdiff_t)s;
        s = (s + 1) & (set->capacity - 1);
    }
    return -1;
}

bool adxl_ptr_set_contains(const adxl_ptr_set_t *set, const void *p) {
    return find(set, p) >= 0;
}

void *adxl_ptr_set_get(const adxl_ptr_set_t *set, const void *key) {
    ptrdiff_t s = find(set, key);
    return s < 0 ? NULL : set->slots[s].value;
}

bool adxl_ptr_set_remove(adxl_ptr_set_t *set, const void *p) {
    ptrdiff_t s = find(set, p);
    if (s < 0) return false;
    set->slots[s] = (adxl_ptr_entry_t){TOMBSTONE, NULL};
    set->count--;
    return true;
}

void *adxl_ptr_set_slot(const adxl_ptr_set_t *set, size_t i) {
    const adxl_ptr_entry_t *e = &set->slots[i];
    return e->key == TOMBSTONE ? NULL : e->value;
}

void *adxl_ptr_set_slot_key(const adxl_ptr_set_t *set, size_t i) {
    void *k = set->slots[i].key;
    return k == TOMBSTONE ? NULL : k;
}

/* Far from small integers and, on 64-bit machines, not a canonical address: a bogus
 * handle a caller makes up is unlikely to be a live one, and dereferencing a handle by
 * mistake would fault at once. */
#define HANDLE_BASE ((uintptr_t)1 << (sizeof(uintptr_t) * 8 - 4))

void *adxl_handle_new(void) {
    static atomic_uintptr_t next;
    for (;;) {
        uintptr_t h = HANDLE_BASE + atomic_fetch_add(&next, 1) * 16;
        if (h) return (void *)h; /* NULL only after the values wrapped around */
    }
}
