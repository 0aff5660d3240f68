/*
 * src/core/registry.c's slots and generations (registry.h): every live registration has its
 * own slot, slots stay dense (a released slot is handed out before a new one), a removed
 * region's slot is not handed out again until it is released, generations are never 0
 * and never repeat, and a repeated registration or a partial overlap takes no slot. Then
 * random registrations and removals against a model of which slots are live.
 */
#include "core/registry.h"
#include "testutil.h"

#include <stdlib.h>

#define BASE 0x10000000u
#define CELL 4096u
#define CELLS 2048u

static uint64_t seed = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
    return tu_xorshift(&seed);
}

static adxl_status_t add(adxl_registry_t *reg, size_t cell, size_t cells, adxl_mem_handle_t *h,
                         adxl_region_t *added) {
    return adxl_registry_add(reg, BASE + (uintptr_t)cell * CELL, cells * CELL, NULL, h, added);
}

static void test_basics(void) {
    fprintf(stderr, "-- slots, generations, repeats and overlaps\n");
    adxl_registry_t reg;
    REQUIRE(adxl_registry_init(&reg));
    adxl_mem_handle_t h[3], again;
    adxl_region_t r[3], a;
    for (int i = 0; i < 3; i++) {
        CHECK_STATUS(add(&reg, (size_t)i * 2, 1, &h[i], &r[i]), ADXL_SUCCESS);
        CHECK(r[i].len == CELL && r[i].slot == (uint32_t)i && r[i].gen != 0);
    }
    CHECK(r[0].gen != r[1].gen && r[1].gen != r[2].gen && r[0].gen != r[2].gen);
    CHECK(adxl_registry_slots_used(&reg) == 3);

    /* A repeat: the same handle, no slot; a partial overlap: refused, no slot. */
    CHECK_STATUS(add(&reg, 2, 1, &again, &a), ADXL_SUCCESS);
    CHECK(again == h[1] && a.len == 0);
    CHECK_STATUS(add(&reg, 2, 2, &again, &a), ADXL_PARAM_INVALID);
    CHECK(a.len == 0 && adxl_registry_slots_used(&reg) == 3);

    /* The repeat holds a reference: the first removal removes nothing. */
    adxl_region_t removed;
    CHECK_STATUS(adxl_registry_remove(&reg, h[1], &removed), ADXL_SUCCESS);
    CHECK(removed.len == 0);
    CHECK_STATUS(adxl_registry_remove(&reg, h[1], &removed), ADXL_SUCCESS);
    CHECK(removed.len == CELL && removed.slot == 1 && removed.gen == r[1].gen);

    /* Until released, slot 1 is not handed out again. */
    adxl_mem_handle_t hn;
    adxl_region_t n;
    CHECK_STATUS(add(&reg, 10, 1, &hn, &n), ADXL_SUCCESS);
    CHECK(n.slot == 3 && n.gen != r[1].gen);
    adxl_registry_release_slot(&reg, removed.slot);
    adxl_mem_handle_t hm;
    adxl_region_t m;
    CHECK_STATUS(add(&reg, 12, 1, &hm, &m), ADXL_SUCCESS);
    CHECK(m.slot == 1 && m.gen != r[1].gen && m.gen != n.gen);
    CHECK(adxl_registry_slots_used(&reg) == 4);
    adxl_registry_destroy(&reg);
}

static void test_random(void) {
    fprintf(stderr, "-- random registrations and removals: live slots are distinct\n");
    adxl_registry_t reg;
    REQUIRE(adxl_registry_init(&reg));
    static adxl_mem_handle_t handle[CELLS];
    static adxl_region_t held[CELLS];
    static uint8_t slot_owner[CELLS]; /* 1: a live region holds it */
    size_t live = 0, most_live = 0;
    uint32_t last_gen = 0;
    bool ok = true;
    for (int step = 0; step < 200000 && ok; step++) {
        size_t cell = (size_t)(rnd() % CELLS);
        if (held[cell].len == 0) {
            adxl_region_t r;
            ok = add(&reg, cell, 1, &handle[cell], &r) == ADXL_SUCCESS && r.len == CELL &&
                 r.slot < CELLS && !slot_owner[r.slot] && r.gen != 0 && r.gen > last_gen;
            if (!ok) break;
            last_gen = r.gen;
            slot_owner[r.slot] = 1;
            held[cell] = r;
            if (++live > most_live) most_live = live;
        } else {
            adxl_region_t removed;
            ok = adxl_registry_remove(&reg, handle[cell], &removed) == ADXL_SUCCESS &&
                 removed.slot == held[cell].slot && removed.gen == held[cell].gen;
            slot_owner[removed.slot] = 0;
            adxl_registry_release_slot(&reg, removed.slot);
            held[cell].len = 0;
            live--;
        }
        /* Dense: never more slots than the most regions held at once. */
        ok = ok && adxl_registry_slots_used(&reg) == most_live;
    }
    CHECK(ok);
    adxl_registry_destroy(&reg);
}

int main(void) {
    test_basics();
    test_random();
    return tu_finish();
}
