/*
 * The data pattern used to verify transfers. Each byte is a function of a seed and of
 * its offset in the target's region, so either side can produce or check any range on
 * its own: a misplaced block (wrong offset) fails just like corrupted bytes, and a
 * fresh seed per check means stale data from an earlier batch cannot pass.
 */
#ifndef ADXL_BENCH_PATTERN_H
#define ADXL_BENCH_PATTERN_H

#include <stddef.h>
#include <stdint.h>

/* Fills buf with the pattern of region bytes [offset, offset + len). */
void bench_pattern_fill(void *buf, size_t len, uint64_t seed, uint64_t offset);

/*
 * Checks buf against the pattern of [offset, offset + len). Returns the index in buf of
 * the first wrong byte (its expected value in *expected), or SIZE_MAX when all match.
 */
size_t bench_pattern_check(const void *buf, size_t len, uint64_t seed, uint64_t offset,
                           uint8_t *expected);

/* A seed that differs for every (a, b, c), e.g. (row, thread, iteration). */
uint64_t bench_pattern_seed(uint64_t a, uint64_t b, uint64_t c);

#endif /* ADXL_BENCH_PATTERN_H */
