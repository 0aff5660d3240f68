/*
 * region_set_bench: what one operation of src/core/region_set.c costs with few and with many
 * ranges held, the ranges of 4 KiB at random addresses, every sweep in random order.
 *
 *   region_set_bench [LARGE]   (LARGE ranges for the large set; 1000000 unless given)
 *
 * For 1000 ranges and for LARGE ranges: fill (what the registry and every view do for a
 * new region: insert_disjoint), containing (a lookup inside each range, what a transfer
 * costs), each (the walk, per range) and drain (remove_exact, what a view does for a
 * removed region). Each is the mean
 * nanoseconds per range over whole sweeps, the small set swept as often as it takes to
 * reach about as many operations as the large one. Prints one key=value line per size and
 * one of large/small ratios; exits 1 when a result is wrong.
 */
#include "region_bench.h"
#include "core/region_set.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define RANGE_BYTES 4096u
#define STRIDE (2u * RANGE_BYTES) /* one range per stride, at its start or its middle */
#define BASE ((uintptr_t)1 << 40)
#define SMALL 1000u

typedef struct {
    double fill, containing, each, drain; /* mean ns per range */
} costs_t;

static bool count_one(adxl_region_t *r, void *ctx) {
    (void)r;
    ++*(size_t *)ctx;
    return true;
}

/* One sweep of each kind over n ranges at addrs, in the order given by order (reshuffled
 * between sweeps); adds nanoseconds to *sum. False when a result was wrong. */
static bool sweep(const uintptr_t *addrs, size_t *order, size_t n, costs_t *sum) {
    adxl_region_set_t set = {0};
    bool ok = true;
    shuffle(order, n);
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < n; i++) {
        uintptr_t a = addrs[order[i]];
        adxl_region_t *overlap;
        ok &= adxl_region_set_insert_disjoint(&set, a, RANGE_BYTES, NULL, &overlap) != NULL;
    }
    uint64_t t1 = now_ns();
    shuffle(order, n);
    uint64_t t2 = now_ns();
    for (size_t i = 0; i < n; i++) {
        uintptr_t a = addrs[order[i]];
        adxl_region_t *r = adxl_region_set_containing(&set, a + order[i] % 511 * 8, 8);
        ok &= r && r->addr == a;
    }
    uint64_t t3 = now_ns();
    size_t walked = 0;
    adxl_region_set_each(&set, count_one, &walked);
    uint64_t t4 = now_ns();
    ok &= walked == n && set.count == n;
    shuffle(order, n);
    uint64_t t5 = now_ns();
    for (size_t i = 0; i < n; i++) {
        ok &= adxl_region_set_remove_exact(&set, addrs[order[i]], RANGE_BYTES, NULL);
    }
    uint64_t t6 = now_ns();
    ok &= set.count == 0;
    adxl_region_set_free(&set);
    sum->fill += (double)(t1 - t0);
    sum->containing += (double)(t3 - t2);
    sum->each += (double)(t4 - t3);
    sum->drain += (double)(t6 - t5);
    return ok;
}

static bool measure(size_t n, size_t rounds, costs_t *out) {
    uintptr_t *addrs = malloc(n * sizeof(*addrs));
    size_t *order = malloc(n * sizeof(*order));
    bool ok = addrs && order;
    for (size_t i = 0; ok && i < n; i++) {
        addrs[i] = BASE + (uintptr_t)i * STRIDE + (uintptr_t)(next_random() & 1) * RANGE_BYTES;
        order[i] = i;
    }
    costs_t sum = {0};
    for (size_t r = 0; ok && r < rounds; r++)
        ok = sweep(addrs, order, n, &sum);
    double per = (double)n * (double)rounds;
    *out = (costs_t){sum.fill / per, sum.containing / per, sum.each / per, sum.drain / per};
    free(addrs);
    free(order);
    return ok;
}

static void print_costs(size_t n, const costs_t *c) {
    printf("n=%zu fill_ns=%.1f containing_ns=%.1f each_ns=%.1f drain_ns=%.1f\n", n, c->fill,
           c->containing, c->each, c->drain);
}

int main(int argc, char **argv) {
    size_t large = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1000000u;
    if (large < SMALL) {
        fprintf(stderr, "usage: region_set_bench [LARGE >= %u]\n", SMALL);
        return 2;
    }
    costs_t small_c, large_c;
    /* The small set, swept as often as the large one holds ranges, and warmed first. */
    bool ok = measure(SMALL, 10, &small_c) && measure(SMALL, large / SMALL, &small_c) &&
              measure(large, 1, &large_c);
    if (!ok) {
        fprintf(stderr, "region_set_bench: a result was wrong\n");
        return 1;
    }
    print_costs(SMALL, &small_c);
    print_costs(large, &large_c);
    printf("fill_ratio=%.2f containing_ratio=%.2f each_ratio=%.2f drain_ratio=%.2f\n",
           large_c.fill / small_c.fill, large_c.containing / small_c.containing,
           large_c.each / small_c.each, large_c.drain / small_c.drain);
    return 0;
}
