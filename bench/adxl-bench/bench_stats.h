/*
 * Latency samples of one row (one per batch, in nanoseconds) and the summary the report
 * prints: nearest-rank percentiles, so every reported value is one that was measured.
 */
#ifndef ADXL_BENCH_STATS_H
#define ADXL_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t *ns;
    size_t len;
    size_t cap;
} bench_samples_t;

typedef struct {
    size_t count;
    double p50_us;
    double p90_us;
    double p99_us;
    double p999_us;
    double max_us;
    double mean_us;
} bench_latency_t;

void bench_samples_init(bench_samples_t *s);
void bench_samples_free(bench_samples_t *s);
void bench_samples_clear(bench_samples_t *s);
/* Reserves room up front so that the timed loop does not call realloc; 0 or -1. */
int bench_samples_reserve(bench_samples_t *s, size_t cap);
/* Appends, growing if needed; 0 or -1 (out of memory). */
int bench_samples_push(bench_samples_t *s, uint64_t ns);
int bench_samples_append(bench_samples_t *dst, const bench_samples_t *src);

/* Sorts s in place and summarizes it; all zero for no samples. */
void bench_latency_compute(bench_samples_t *s, bench_latency_t *out);

/* The nearest-rank percentile p (0 < p <= 100) of sorted values. */
uint64_t bench_percentile(const uint64_t *sorted, size_t n, double p);

#endif /* ADXL_BENCH_STATS_H */
