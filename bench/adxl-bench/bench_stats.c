/* Latency samples and their percentiles; see bench_stats.h. */
#include "bench_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void bench_samples_init(bench_samples_t *s) {
    memset(s, 0, sizeof(*s));
}

void bench_samples_free(bench_samples_t *s) {
    free(s->ns);
    bench_samples_init(s);
}

void bench_samples_clear(bench_samples_t *s) {
    s->len = 0;
}

int bench_samples_reserve(bench_samples_t *s, size_t cap) {
    uint64_t *grown;

    if (cap <= s->cap) return 0;
    grown = realloc(s->ns, cap * sizeof(*grown));
    if (grown == NULL) return -1;
    s->ns = grown;
    s->cap = cap;
    return 0;
}

int bench_samples_push(bench_samples_t *s, uint64_t ns) {
    if (s->len == s->cap && bench_samples_reserve(s, s->cap ? s->cap * 2 : 1024) != 0) return -1;
    s->ns[s->len++] = ns;
    return 0;
}

int bench_samples_append(bench_samples_t *dst, const bench_samples_t *src) {
    if (src->len == 0) return 0;
    if (bench_samples_reserve(dst, dst->len + src->len) != 0) return -1;
    memcpy(dst->ns + dst->len, src->ns, src->len * sizeof(*src->ns));
    dst->len += src->len;
    return 0;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

uint64_t bench_percentile(const uint64_t *sorted, size_t n, double p) {
    size_t rank;

    if (n == 0) return 0;
    rank = (size_t)ceil(p / 100.0 * (double)n);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return sorted[rank - 1];
}

void bench_latency_compute(bench_samples_t *s, bench_latency_t *out) {
    long double sum = 0;

    memset(out, 0, sizeof(*out));
    if (s->len == 0) return;
    qsort(s->ns, s->len, sizeof(*s->ns), cmp_u64);
    for (size_t i = 0; i < s->len; i++)
        sum += s->ns[i];
    out->count = s->len;
    out->p50_us = (double)bench_percentile(s->ns, s->len, 50) / 1e3;
    out->p90_us = (double)bench_percentile(s->ns, s->len, 90) / 1e3;
    out->p99_us = (double)bench_percentile(s->ns, s->len, 99) / 1e3;
    out->p999_us = (double)bench_percentile(s->ns, s->len, 99.9) / 1e3;
    out->max_us = (double)s->ns[s->len - 1] / 1e3;
    out->mean_us = (double)(sum / s->len) / 1e3;
}
