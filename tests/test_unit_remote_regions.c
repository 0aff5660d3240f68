/*
 * src/remote_regions.c: what a peer says it registered is taken only while it overlaps
 * nothing held. A region that starts at or past the end of every region ever added skips
 * the search (a snapshot arrives in address order); one that starts before that end is
 * searched for, whatever was removed meanwhile. Checked against a plain list of ranges:
 * ascending runs with overlapping and out-of-order ranges mixed in, and removals of the
 * last range, after each step the count and every lookup agree with a linear search.
 */
#include "remote_regions.h"
#include "testutil.h"

#include <stdlib.h>

#define SLOTS 2048u /* the address space: SLOTS cells of CELL bytes */
#define CELL 16u
#define BASE 0x100000u

typedef struct {
    uintptr_t addr;
    size_t len;
} model_range_t;

static model_range_t model[SLOTS];
static size_t nmodel;
static uint64_t seed = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void) {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
}

static bool model_overlaps(uintptr_t addr, size_t len) {
    for (size_t i = 0; i < nmodel; i++)
        if (addr < model[i].addr + model[i].len && model[i].addr < addr + len) return true;
    return false;
}

static bool model_contains(uintptr_t addr, size_t len) {
    for (size_t i = 0; i < nmodel; i++)
        if (addr >= model[i].addr && addr + len <= model[i].addr + model[i].len) return true;
    return false;
}

/* Adds to both; the set must take the range exactly when the model says it overlaps none. */
static void add(adxl_remote_regions_t *rr, uintptr_t addr, size_t len) {
    bool fits = !model_overlaps(addr, len);
    if (fits) model[nmodel++] = (model_range_t){addr, len};
    adxl_remote_regions_add(rr, addr, len);
}

static void remove_range(adxl_remote_regions_t *rr, size_t i) {
    adxl_remote_regions_remove(rr, model[i].addr, model[i].len);
    model[i] = model[--nmodel];
}

/* Every cell, and every pair of neighbouring cells, is known exactly when the model says. */
static bool agrees(adxl_remote_regions_t *rr) {
    if (adxl_remote_regions_count(rr) != nmodel) return false;
    for (uintptr_t a = BASE; a < BASE + (uintptr_t)SLOTS * CELL; a += CELL)
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
    nmodel = 0;
    add(&rr, BASE + 4 * CELL, 4 * CELL);  /* the first */
    add(&rr, BASE + 8 * CELL, 4 * CELL);  /* starts exactly at the end: taken */
    add(&rr, BASE + 11 * CELL, 2 * CELL); /* starts before the end, overlaps: refused */
    add(&rr, BASE + 3 * CELL, 2 * CELL);  /* before everything but overlaps the first */
    add(&rr, BASE, 3 * CELL);             /* before everything, overlaps none: taken */
    CHECK(adxl_remote_regions_count(&rr) == 3);
    CHECK(agrees(&rr));
    /* The last range goes; its room lies below the end of every range ever held, so a
     * range there is searched for, and taken or refused as it overlaps. */
    size_t last = 0;
    for (size_t i = 1; i < nmodel; i++)
        if (model[i].addr > model[last].addr) last = i;
    remove_range(&rr, last);
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
        nmodel = 0;
        uintptr_t next = BASE;
        bool ok = true;
        for (int step = 0; step < 400 && next < BASE + (SLOTS - 4) * CELL; step++) {
            uint64_t r = rnd();
            size_t len = (size_t)(1 + r % 3) * CELL;
            switch ((r >> 8) % 8) {
            case 0: /* reaches back into what is held */
                add(&rr, next - CELL, len);
                break;
            case 1: /* anywhere */
                add(&rr, BASE + (uintptr_t)((r >> 16) % (SLOTS - 3)) * CELL, len);
                break;
            case 2: /* the last range added goes, if it is still there */
                if (nmodel > 0 && model[nmodel - 1].addr + model[nmodel - 1].len == next)
                    remove_range(&rr, nmodel - 1);
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
