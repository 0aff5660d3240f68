#include "region_set.h"

#include <stdlib.h>
#include <string.h>

void adxl_region_set_free(adxl_region_set_t *set) {
    free(set->items);
    set->items = NULL;
    set->count = set->capacity = 0;
}

/* Index of the first range whose start is greater than addr. */
static size_t upper_bound(const adxl_region_set_t *set, uintptr_t addr) {
    size_t lo = 0, hi = set->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (set->items[mid].addr <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

ptrdiff_t adxl_region_set_find_exact(const adxl_region_set_t *set, uintptr_t addr, size_t len) {
    size_t i = upper_bound(set, addr);
    if (i > 0 && set->items[i - 1].addr == addr && set->items[i - 1].len == len)
        return (ptrdiff_t)(i - 1);
    return -1;
}

bool adxl_region_set_overlaps(const adxl_region_set_t *set, uintptr_t addr, size_t len) {
    size_t i = upper_bound(set, addr);
    /* The range starting at or before addr may reach into it... */
    if (i > 0 && set->items[i - 1].addr + set->items[i - 1].len > addr) return true;
    /* ...and so may the first one starting after it. */
    return i < set->count && set->items[i].addr < addr + len;
}

const adxl_region_t *adxl_region_set_containing(const adxl_region_set_t *set, uintptr_t addr,
                                                size_t len) {
    size_t i = upper_bound(set, addr);
    if (i == 0) return NULL;
    const adxl_region_t *r = &set->items[i - 1];
    /* Written so that nothing overflows: addr >= r->addr here. */
    if (addr - r->addr < r->len && len <= r->len - (addr - r->addr)) return r;
    return NULL;
}

bool adxl_region_set_insert(adxl_region_set_t *set, uintptr_t addr, size_t len, void *tag) {
    if (set->count == set->capacity) {
        size_t cap = set->capacity ? set->capacity * 2 : 16;
        adxl_region_t *items = realloc(set->items, cap * sizeof(*items));
        if (!items) return false;
        set->items = items;
        set->capacity = cap;
    }
    size_t i = upper_bound(set, addr);
    memmove(&set->items[i + 1], &set->items[i], (set->count - i) * sizeof(adxl_region_t));
    set->items[i] = (adxl_region_t){.addr = addr, .len = len, .tag = tag, .refs = 1};
    set->count++;
    return true;
}

void adxl_region_set_remove_at(adxl_region_set_t *set, size_t index) {
    memmove(&set->items[index], &set->items[index + 1],
            (set->count - index - 1) * sizeof(adxl_region_t));
    set->count--;
}
