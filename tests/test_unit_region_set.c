/*
 * src/core/region_set.c against a plain list of ranges: random inserts (of ranges that overlap
 * none held), removals and lookups, in random and in ascending and descending address
 * order; after each step every query agrees with a linear search, the walk visits every
 * range once in address order, and a range's adxl_region_t stays where it was inserted.
 * Inserts that must not overlap (insert_disjoint) name what they would overlap, and
 * removals by range (remove_exact) find only a range held.
 * Then the same with up to 100000 ranges, enough for a tree four nodes deep, whose nodes
 * split, borrow and merge at every level, checked against a map of the cells each range
 * covers, and with the tree's own rules (adxl_region_set_is_sound) checked as it goes.
 */
#include "core/region_set.h"
#include "testutil.h"

#include <stdlib.h>

#define SLOTS 4096u /* the address space: SLOTS cells of CELL bytes */
#define CELL 16u
#define BASE 0x100000u

typedef struct {
    uintptr_t addr;
    size_t len;
    adxl_region_t *where; /* what insert returned */
} model_range_t;

static model_range_t model[SLOTS];
static size_t nmodel;
static uint64_t seed = 88172645463325252ull;

static uint64_t rnd(void) {
    return tu_xorshift(&seed);
}

static bool model_overlaps(uintptr_t addr, size_t len) {
    for (size_t i = 0; i < nmodel; i++)
        if (addr < model[i].addr + model[i].len && model[i].addr < addr + len) return true;
    return false;
}

static const model_range_t *model_containing(uintptr_t addr, size_t len) {
    for (size_t i = 0; i < nmodel; i++)
        if (addr >= model[i].addr && addr + len <= model[i].addr + model[i].len) return &model[i];
    return NULL;
}

typedef struct {
    size_t seen;
    uintptr_t last_end;
    bool ordered;
} walk_t;

static bool visit(adxl_region_t *r, void *ctx) {
    walk_t *w = ctx;
    if (w->seen > 0 && r->addr < w->last_end) w->ordered = false;
    w->last_end = r->addr + r->len;
    w->seen++;
    return true;
}

/* Every query agrees with the model at a few random points, and the walk is whole. */
static bool agrees(const adxl_region_set_t *set) {
    if (set->count != nmodel) return false;
    walk_t w = {0, 0, true};
    adxl_region_set_each(set, visit, &w);
    if (w.seen != nmodel || !w.ordered) return false;
    for (int k = 0; k < 8; k++) {
        uintptr_t addr = BASE + (uintptr_t)(rnd() % (SLOTS * CELL));
        size_t len = 1 + (size_t)(rnd() % (4 * CELL));
        const model_range_t *m = model_containing(addr, len);
        const adxl_region_t *r = adxl_region_set_containing(set, addr, len);
        if ((m == NULL) != (r == NULL) || (m && m->where != r)) return false;
        if (adxl_region_set_overlaps(set, addr, len) != model_overlaps(addr, len)) return false;
        const adxl_region_t *o = adxl_region_set_overlapping(set, addr, len);
        if ((o != NULL) != model_overlaps(addr, len) ||
            (o && !(addr < o->addr + o->len && o->addr < addr + len)))
            return false;
    }
    for (size_t i = 0; i < nmodel; i++)
        if (adxl_region_set_find_exact(set, model[i].addr, model[i].len) != model[i].where ||
            model[i].where->addr != model[i].addr || model[i].where->len != model[i].len)
            return false;
    return true;
}

/* Whether r is one of the model's ranges and overlaps [addr, addr+len). */
static bool held_and_overlapping(const adxl_region_t *r, uintptr_t addr, size_t len) {
    for (size_t i = 0; i < nmodel; i++)
        if (model[i].where == r) return addr < r->addr + r->len && r->addr < addr + len;
    return false;
}

static bool try_insert(adxl_region_set_t *set, uintptr_t addr, size_t len) {
    bool disjoint = rnd() % 2;
    adxl_region_t *overlap = NULL;
    if (model_overlaps(addr, len)) {
        /* Refused, naming a range it overlaps, and the set is unchanged. */
        size_t before = set->count;
        return !disjoint || (!adxl_region_set_insert_disjoint(set, addr, len, NULL, &overlap) &&
                             held_and_overlapping(overlap, addr, len) && set->count == before);
    }
    adxl_region_t *r = disjoint
                           ? adxl_region_set_insert_disjoint(set, addr, len, (void *)addr, &overlap)
                           : adxl_region_set_insert(set, addr, len, (void *)addr);
    if (overlap) return false;
    if (!r || r->addr != addr || r->len != len || r->tag != (void *)addr || r->refs != 1)
        return false;
    model[nmodel++] = (model_range_t){addr, len, r};
    return true;
}

/* Removes model range i, by its adxl_region_t or (half the time) by its range; false when
 * the set disagreed. */
static bool remove_model(adxl_region_set_t *set, size_t i) {
    bool ok = true;
    if (rnd() % 2) {
        adxl_region_set_remove(set, model[i].where);
    } else {
        void *tag = NULL;
        /* A range that starts there but is longer is not this one. */
        ok = !adxl_region_set_remove_exact(set, model[i].addr, model[i].len + CELL, NULL) &&
             adxl_region_set_remove_exact(set, model[i].addr, model[i].len, &tag) &&
             tag == (void *)model[i].addr &&
             !adxl_region_set_remove_exact(set, model[i].addr, model[i].len, NULL);
    }
    model[i] = model[--nmodel];
    return ok;
}

static void test_random(void) {
    fprintf(stderr, "-- random inserts, removals and lookups\n");
    adxl_region_set_t set = {0};
    bool ok = true;
    for (int step = 0; step < 20000 && ok; step++) {
        if (nmodel > 0 && rnd() % 100 < 45) {
            ok = remove_model(&set, (size_t)(rnd() % nmodel));
        } else {
            uintptr_t addr = BASE + (uintptr_t)(rnd() % SLOTS) * CELL;
            ok = try_insert(&set, addr, CELL * (1 + (size_t)(rnd() % 3)));
        }
        if (step % 16 == 0) ok = ok && agrees(&set);
    }
    CHECK(ok);
    CHECK(agrees(&set));
    adxl_region_set_free(&set);
    CHECK(set.count == 0 && set.root == NULL);
    nmodel = 0;
}

static void test_sorted_orders(void) {
    fprintf(stderr, "-- ascending and descending inserts, removals from the middle\n");
    adxl_region_set_t set = {0};
    bool ok = true;
    for (unsigned i = 0; i < SLOTS && ok; i++)
        ok = try_insert(&set, BASE + (uintptr_t)i * CELL, CELL);
    CHECK(ok && agrees(&set));
    while (nmodel > 0 && ok)
        ok = remove_model(&set, nmodel / 2);
    CHECK(ok && agrees(&set) && set.root == NULL);
    for (unsigned i = SLOTS; i-- > 0 && ok;)
        ok = try_insert(&set, BASE + (uintptr_t)i * CELL, CELL);
    CHECK(ok && agrees(&set));
    /* Adjacent ranges: a range ending where the next starts contains neither its end. */
    CHECK(adxl_region_set_containing(&set, BASE + CELL - 1, 2) == NULL);
    CHECK(adxl_region_set_containing(&set, BASE + CELL - 1, 1) != NULL);
    CHECK(!adxl_region_set_overlaps(&set, BASE - CELL, CELL));
    CHECK(adxl_region_set_overlaps(&set, BASE - CELL, CELL + 1));
    CHECK(adxl_region_set_containing(&set, UINTPTR_MAX - 4, 4) == NULL);
    adxl_region_set_free(&set);
    nmodel = 0;
}

static void test_same_start(void) {
    fprintf(stderr, "-- two ranges with one start (held between an insert and a removal)\n");
    adxl_region_set_t set = {0};
    adxl_region_t *a = adxl_region_set_insert(&set, BASE, CELL, NULL);
    adxl_region_t *b = adxl_region_set_insert(&set, BASE, 2 * CELL, NULL);
    REQUIRE(a && b && a != b);
    CHECK(adxl_region_set_find_exact(&set, BASE, CELL) == a);
    CHECK(adxl_region_set_find_exact(&set, BASE, 2 * CELL) == b);
    adxl_region_set_remove(&set, a);
    CHECK(set.count == 1 && adxl_region_set_find_exact(&set, BASE, 2 * CELL) == b);
    CHECK(adxl_region_set_find_exact(&set, BASE, CELL) == NULL);
    adxl_region_set_free(&set);
}

/* The many-range model: the range over each cell, and the ranges held in any order. */
#define MANY_CELLS 262144u
#define MANY_MAX 100000u
static adxl_region_t *cover[MANY_CELLS];
static adxl_region_t *many[MANY_MAX];
static size_t nmany;

static size_t cell_of(uintptr_t addr) {
    return (size_t)((addr - BASE) / CELL);
}

static bool many_insert(adxl_region_set_t *set, size_t cell, size_t cells) {
    if (nmany == MANY_MAX || cell + cells > MANY_CELLS) return true;
    for (size_t c = cell; c < cell + cells; c++)
        if (cover[c]) return true;
    uintptr_t addr = BASE + (uintptr_t)cell * CELL;
    if (adxl_region_set_find_exact(set, addr, cells * CELL) ||
        adxl_region_set_overlaps(set, addr, cells * CELL))
        return false;
    adxl_region_t *overlap = NULL;
    adxl_region_t *r =
        rnd() % 2 ? adxl_region_set_insert(set, addr, cells * CELL, NULL)
                  : adxl_region_set_insert_disjoint(set, addr, cells * CELL, NULL, &overlap);
    if (!r || overlap) return false;
    for (size_t c = cell; c < cell + cells; c++)
        cover[c] = r;
    many[nmany++] = r;
    return true;
}

static bool many_remove(adxl_region_set_t *set, size_t i) {
    adxl_region_t *r = many[i];
    if (adxl_region_set_find_exact(set, r->addr, r->len) != r) return false;
    for (size_t c = cell_of(r->addr); c < cell_of(r->addr + r->len); c++)
        cover[c] = NULL;
    many[i] = many[--nmany];
    if (rnd() % 2) {
        adxl_region_set_remove(set, r);
        return true;
    }
    return adxl_region_set_remove_exact(set, r->addr, r->len, NULL);
}

/* Lookups at random points (and of random held ranges) agree with the cell map. */
static bool many_probes_agree(const adxl_region_set_t *set, int probes) {
    for (int k = 0; k < probes; k++) {
        uintptr_t addr = BASE + (uintptr_t)(rnd() % ((MANY_CELLS - 4) * CELL));
        size_t len = 1 + (size_t)(rnd() % (3 * CELL));
        adxl_region_t *r = cover[cell_of(addr)];
        adxl_region_t *want = r && addr + len <= r->addr + r->len ? r : NULL;
        if (adxl_region_set_containing(set, addr, len) != want) return false;
        bool overlap = false;
        for (size_t c = cell_of(addr); c <= cell_of(addr + len - 1); c++)
            overlap = overlap || cover[c];
        if (adxl_region_set_overlaps(set, addr, len) != overlap) return false;
        if (overlap) {
            adxl_region_t *o = NULL;
            if (adxl_region_set_insert_disjoint((adxl_region_set_t *)set, addr, len, NULL, &o) ||
                !o || !(addr < o->addr + o->len && o->addr < addr + len) ||
                cover[cell_of(o->addr)] != o)
                return false;
        }
        if (nmany > 0) {
            adxl_region_t *held = many[rnd() % nmany];
            if (adxl_region_set_find_exact(set, held->addr, held->len) != held) return false;
        }
    }
    return true;
}

/* The tree keeps its rules, and the walk visits every range once in address order. */
static bool many_whole(const adxl_region_set_t *set) {
    walk_t w = {0, 0, true};
    adxl_region_set_each(set, visit, &w);
    return adxl_region_set_is_sound(set) && set->count == nmany && w.seen == nmany && w.ordered;
}

static void many_drain(adxl_region_set_t *set, bool *ok) {
    for (size_t step = 0; nmany > 0 && *ok; step++) {
        *ok = many_remove(set, (size_t)(rnd() % nmany));
        if (step % 64 == 0) *ok = *ok && many_probes_agree(set, 4);
        if (step % 4096 == 0) *ok = *ok && many_whole(set);
    }
}

static void test_many_random(void) {
    fprintf(stderr, "-- up to %u ranges: random fill, churn, drain\n", MANY_MAX);
    adxl_region_set_t set = {0};
    bool ok = true;
    for (size_t step = 0; nmany < MANY_MAX && ok; step++) {
        ok = many_insert(&set, (size_t)(rnd() % MANY_CELLS), 1 + (size_t)(rnd() % 2));
        if (step % 64 == 0) ok = ok && many_probes_agree(&set, 4);
        if (step % 4096 == 0) ok = ok && many_whole(&set);
    }
    CHECK(ok && many_whole(&set) && many_probes_agree(&set, 2000));
    for (size_t step = 0; step < 200000 && ok; step++) {
        if (rnd() % 2)
            ok = many_remove(&set, (size_t)(rnd() % nmany));
        else
            ok = many_insert(&set, (size_t)(rnd() % MANY_CELLS), 1 + (size_t)(rnd() % 2));
        if (step % 64 == 0) ok = ok && many_probes_agree(&set, 4);
        if (step % 4096 == 0) ok = ok && many_whole(&set);
    }
    CHECK(ok && many_whole(&set) && many_probes_agree(&set, 2000));
    many_drain(&set, &ok);
    CHECK(ok && many_whole(&set) && set.root == NULL);
    adxl_region_set_free(&set);
}

/* Fills every other cell in ascending (or descending) order, then removes the range
 * inserted last each time: from the highest address down (or the lowest up). */
static void many_fill_and_pop(adxl_region_set_t *set, bool descending) {
    bool ok = true;
    for (size_t i = 0; i < MANY_MAX && ok; i++)
        ok = many_insert(set, 2 * (descending ? MANY_MAX - 1 - i : i), 1);
    CHECK(ok && many_whole(set) && many_probes_agree(set, 2000));
    while (nmany > 0 && ok) {
        ok = many_remove(set, nmany - 1);
        if (nmany % 4096 == 0) ok = ok && many_whole(set);
    }
    CHECK(ok && set->root == NULL);
}

static void test_many_sorted(void) {
    fprintf(stderr, "-- %u ranges: ascending and descending fills and removals\n", MANY_MAX);
    adxl_region_set_t set = {0};
    many_fill_and_pop(&set, false);
    many_fill_and_pop(&set, true);
    adxl_region_set_free(&set);
}

int main(void) {
    test_random();
    test_sorted_orders();
    test_same_start();
    test_many_random();
    test_many_sorted();
    return tu_finish();
}
