#include "fuzz_arena.h"

#include "fuzz.h"

#include <string.h>
#include <sys/mman.h>

const fuzz_range_t fuzz_regions[FUZZ_REGIONS] = {
    {FUZZ_ARENA + 0x1000, 0x2000},
    {FUZZ_ARENA + 0x3000, 0x1000},
    {FUZZ_ARENA + 0x5100, 0x200},
    {FUZZ_ARENA + 0x7011, 1},
};

/* Pages that are readable and writable; the rest are guards. */
static const int rw_pages[] = {1, 2, 3, 4, 5, 7};
#define RW_PAGES (sizeof(rw_pages) / sizeof(rw_pages[0]))

static adxl_registry_t registry;
static bool ready;

static uint8_t *page(int i) {
    return (uint8_t *)(uintptr_t)(FUZZ_ARENA + (uint64_t)i * FUZZ_PAGE);
}

adxl_registry_t *fuzz_arena(void) {
    if (ready) return &registry;
    void *p = mmap(page(0), (size_t)FUZZ_ARENA_PAGES * FUZZ_PAGE, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p != page(0)) {
        fprintf(stderr, "fuzz arena: cannot map 0x%llx\n", (unsigned long long)FUZZ_ARENA);
        abort();
    }
    for (size_t i = 0; i < RW_PAGES; i++)
        FUZZ_CHECK(mprotect(page(rw_pages[i]), FUZZ_PAGE, PROT_READ | PROT_WRITE) == 0);
    FUZZ_CHECK(adxl_registry_init(&registry));
    for (int i = 0; i < FUZZ_REGIONS; i++) {
        adxl_mem_handle_t h;
        adxl_region_t added;
        FUZZ_CHECK(adxl_registry_add(&registry, (uintptr_t)fuzz_regions[i].addr,
                                     (size_t)fuzz_regions[i].len, NULL, &h,
                                     &added) == ADXL_SUCCESS);
        FUZZ_CHECK(added.len > 0);
    }
    ready = true;
    fuzz_arena_reset();
    return &registry;
}

static bool in_region(uint64_t a) {
    for (int i = 0; i < FUZZ_REGIONS; i++)
        if (a >= fuzz_regions[i].addr && a - fuzz_regions[i].addr < fuzz_regions[i].len)
            return true;
    return false;
}

void fuzz_arena_reset(void) {
    for (size_t i = 0; i < RW_PAGES; i++) {
        uint8_t *p = page(rw_pages[i]);
        for (size_t k = 0; k < FUZZ_PAGE; k++)
            if (!in_region((uint64_t)(uintptr_t)(p + k))) p[k] = FUZZ_CANARY;
    }
}

bool fuzz_arena_intact(void) {
    for (size_t i = 0; i < RW_PAGES; i++) {
        const uint8_t *p = page(rw_pages[i]);
        for (size_t k = 0; k < FUZZ_PAGE; k++)
            if (!in_region((uint64_t)(uintptr_t)(p + k)) && p[k] != FUZZ_CANARY) {
                fprintf(stderr, "fuzz arena: byte at %p changed\n", (const void *)(p + k));
                return false;
            }
    }
    return true;
}

bool fuzz_arena_inside(uint64_t addr, uint64_t len) {
    uint64_t end;
    if (len == 0 || __builtin_add_overflow(addr, len, &end)) return false;
    for (int i = 0; i < FUZZ_REGIONS; i++)
        if (addr >= fuzz_regions[i].addr && end <= fuzz_regions[i].addr + fuzz_regions[i].len)
            return true;
    return false;
}
