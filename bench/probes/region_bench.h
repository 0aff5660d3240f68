/* What the region benchmarks (region_scale, region_churn, region_set_bench) share: a
 * clock, a repeatable shuffle, an engine on a given transport with an ephemeral port, and
 * its stats. */
#ifndef ADXL_REGION_BENCH_H
#define ADXL_REGION_BENCH_H

#include <adxl/adxl.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64: the same sequence every run, so runs compare like with like. */
static inline uint64_t next_random(void) {
    static uint64_t state = 0x9e3779b97f4a7c15ull;
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static inline void shuffle(size_t *v, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(next_random() % i);
        size_t tmp = v[i - 1];
        v[i - 1] = v[j];
        v[j] = tmp;
    }
}

static inline adxl_engine_t *engine_new(const char *transport) {
    adxl_engine_t *e = NULL;
    adxl_option_t opts[] = {{"Transport", transport}};
    if (adxl_engine_create(&e) != ADXL_SUCCESS) return NULL;
    if (adxl_initialize(e, "127.0.0.1:0", opts, 1) != ADXL_SUCCESS) {
        adxl_engine_destroy(e);
        return NULL;
    }
    return e;
}

static inline adxl_stats_t stats_of(adxl_engine_t *e) {
    adxl_stats_t s = {0};
    adxl_get_stats(e, &s);
    return s;
}

#endif
