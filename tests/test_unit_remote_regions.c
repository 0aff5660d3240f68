/*
 * src/core/remote_regions.c: what a peer says it registered is taken only while it overlaps
 * nothing held. A region that starts at or past the end of every region ever added skips
 * the search (a snapshot arrives in address order); one that starts before that end is
 * searched for, whatever was removed meanwhile. Fixed cases, then ascending runs with
 * overlapping and out-of-order ranges and removals mixed in; the count and every lookup
 * agree with a map of which range holds each cell.
 */
#include "core/remote_regions.h"
#include "testutil.h"

#include <string.h>

#define CELLS 2048u /* the address space: CELLS cells of CELL bytes from BASE */
#define CELL 16u
#define BASE 0x100000u

/* The model: which range holds each cell (0: none), ranges numbered from 1 as taken. */
static uint32_t owner[CELLS];
static uint32_t ranges_taken, ranges_held;
static uint64_t lcg = 12345;

static uint64_t next_random(void) {
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return lcg >> 17;
}

static void model_reset(void) {
    memset(owner, 0, sizeof(owner));
    ranges_taken = ranges_held = 0;
}

/* Cell index of addr; addresses outside the modelled space are never used as ranges. */
static size_t cell_of(uintptr_t addr) {
    return (size_t)((addr - BASE) / CELL);
}

static bool model_free(uintptr_t addr, size_t len) {
    for (size_t c = cell_of(addr); c < cell_of(addr + len); c++)
        if (owner[c]) return false;
    return true;
}

/* Adds to both; the set must take the range exactly when the model has its cells free. */
static void add(adxl_remote_regions_t *rr, uintptr_t addr, size_t len) {
    if (model_free(addr, len)) {
        ranges_taken++;
        ranges_held++;
        for (size_t c = cell_of(addr); c < cell_of(addr + len); c++)
            owner[c] = ranges_taken;
    }
    adxl_remote_regions_add(rr, addr, len);
}

/* Removes the range holding the cell at addr, from both. */
static void remove_at(adxl_remote_regions_t *rr, uintptr_t addr) {
    uint32_t id = owner[cell_of(addr)];
    if (!id) return;
    size_t first = cell_of(addr), last = first;
    while (first > 0 && owner[first - 1] == id)
        first--;
    while (last + 1 < CELLS && owner[last + 1] == id)
        last++;
    for (size_t c = first; c <= last; c++)
        owner[c] = 0;
    ranges_held--;
    adxl_remote_regions_remove(rr, BASE + first * CELL, (last - first + 1) * CELL);
}

static bool model_contains(uintptr_t addr, size_t len) {
    uint32_t id = owner[cell_of(addr)];
    for (size_t c = cell_of(addr); c < cell_of(addr + len); c++)
        if (!id || owner[c] != id) return false;
    return true;
}

/* Every cell, and every pair of neighbouring cells, is known exactly when the model says. */
static bool agrees(adxl_remote_regions_t *rr) {
    if (adxl_remote_regions_count(rr) != ranges_held) return false;
    for (uintptr_t a = BASE; a + 2 * CELL <= BASE + (uintptr_t)CELLS * CELL; a += CELL)
        for (size_t len = CELL; len <= 2 * CELL; len += CELL) {
            adxl_transfer_op_desc_t d = {0, a, len};
            if (adxl_remote_regions_contain_all(rr, &d, 1) != model_contains(a, len)) return false;
        }
    return true;
}

static void fixed_cases(void) {
    fprintf(stderr, "-- ranges at, past and before the end of those held\n");
    adxl_remote_regions_t rr;
    adxl_remote_regions_init(&rr);
    model_reset();
    add(&rr, BASE + 4 * CELL, 4 * CELL);  /* the first */
    add(&rr, BASE + 8 * CELL, 4 * CELL);  /* starts exactly at the end: taken */
    add(&rr, BASE + 11 * CELL, 2 * CELL); /* starts before the end, overlaps: refused */
    add(&rr, BASE + 3 * CELL, 2 * CELL);  /* before everything but overlaps the first */
    add(&rr, BASE, 3 * CELL);             /* before everything, overlaps none: taken */
    CHECK(adxl_remote_regions_count(&rr) == 3);
    CHECK(agrees(&rr));
    /* The last range goes; its room lies below the end of every range ever held, so a
     * range there is searched for, and taken or refused as it overlaps. */
    remove_at(&rr, BASE + 8 * CELL);
    add(&rr, BASE + 9 * CELL, 2 * CELL);  /* in the freed room: taken */
    add(&rr, BASE + 10 * CELL, 2 * CELL); /* overlaps that: refused */
    add(&rr, BASE + 7 * CELL, 2 * CELL);  /* overlaps the first: refused */
    add(&rr, BASE + 12 * CELL, CELL);     /* past everything: taken */
    CHECK(adxl_remote_regions_count(&rr) == 4);
    CHECK(agrees(&rr));
    /* Empty and wrapping ranges are never taken. */
    adxl_remote_regions_add(&rr, BASE + 100 * CELL, 0);
    adxl_remote_regions_add(&rr, UINTPTR_MAX - CELL, 2 * CELL);
    CHECK(adxl_remote_regions_count(&rr) == 4);
    adxl_remote_regions_destroy(&rr);
}

/* Runs that mostly ascend, as a snapshot does, with a hostile peer's ranges mixed in:
 * ones that reach back over the last range, ones anywhere, and removals of the last. */
static void mixed_runs(void) {
    fprintf(stderr, "-- ascending runs with overlapping and out-of-order ranges\n");
    for (int round = 0; round < 10; round++) {
        adxl_remote_regions_t rr;
        adxl_remote_regions_init(&rr);
        model_reset();
        uintptr_t next = BASE + CELL, limit = BASE + (uintptr_t)(CELLS - 4) * CELL;
        bool ok = true;
        for (int step = 0; step < 400 && next < limit; step++) {
            uint64_t r = next_random();
            size_t len = (size_t)(1 + r % 3) * CELL;
            switch ((r >> 8) % 8) {
            case 0: /* reaches back into what is held */
                add(&rr, next - CELL, len);
                break;
            case 1: /* anywhere */
                add(&rr, BASE + (uintptr_t)((r >> 16) % (CELLS - 3)) * CELL, len);
                break;
            case 2: /* the range just below next goes, if there is one */
                remove_at(&rr, next - CELL);
                break;
            default: /* the next in address order, perhaps after a gap */
                next += (uintptr_t)((r >> 16) % 2) * CELL;
                add(&rr, next, len);
                next += len;
                break;
            }
            if (step % 100 == 0) ok &= agrees(&rr);
        }
        ok &= agrees(&rr);
        CHECK(ok);
        adxl_remote_regions_destroy(&rr);
    }
}

int main(void) {
    fixed_cases();
    mixed_runs();
    return tu_finish();
}
