/*
 * The data pattern every process that checks adxl's bytes uses: adxl-bench, the tests
 * (testutil's tu_fill and tu_verify), the network-namespace peer and the cluster nodes,
 * so that any two of them agree on what a byte should hold. Byte OFFSET of a region
 * filled with SEED is byte OFFSET % 8 (little-endian) of a 64-bit mix of SEED and
 * OFFSET / 8, so either side can produce or check any range on its own: a misplaced block
 * (wrong offset) fails just like corrupted bytes, and a fresh seed per check means stale
 * data from an earlier batch cannot pass. Whole words are made at once.
 */
#ifndef ADXL_BENCH_PATTERN_H
#define ADXL_BENCH_PATTERN_H

#include <stddef.h>
#include <stdint.h>

/* The pattern's byte at offset. */
uint8_t bench_pattern_byte(uint64_t seed, uint64_t offset);

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
