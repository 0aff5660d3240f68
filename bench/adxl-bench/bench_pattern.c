/* Offset-keyed verification pattern; see bench_pattern.h. */
#include "bench_pattern.h"

#include <string.h>

/* MurmurHash3's 64-bit finalizer: cheap, and every input bit affects every output bit. */
static uint64_t fmix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* The aligned 8-byte word with this index. */
static uint64_t word_of(uint64_t seed, uint64_t index) {
    return fmix(seed * 0x9e3779b97f4a7c15ull + index);
}

/* Little-endian by position, so that the bytes do not depend on the host's byte order. */
static void word_bytes(uint64_t seed, uint64_t index, uint8_t out[8]) {
    uint64_t w = word_of(seed, index);
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(w >> (i * 8));
}

uint8_t bench_pattern_byte(uint64_t seed, uint64_t offset) {
    return (uint8_t)(word_of(seed, offset >> 3) >> ((offset & 7) * 8));
}

void bench_pattern_fill(void *buf, size_t len, uint64_t seed, uint64_t offset) {
    uint8_t *p = buf;
    size_t i = 0;

    /* Byte-wise up to a word boundary of the region offset, then whole words. */
    for (; i < len && ((offset + i) & 7) != 0; i++)
        p[i] = bench_pattern_byte(seed, offset + i);
    for (; i + 8 <= len; i += 8)
        word_bytes(seed, (offset + i) >> 3, p + i);
    for (; i < len; i++)
        p[i] = bench_pattern_byte(seed, offset + i);
}

size_t bench_pattern_check(const void *buf, size_t len, uint64_t seed, uint64_t offset,
                           uint8_t *expected) {
    const uint8_t *p = buf;
    size_t i = 0;

    for (; i < len && ((offset + i) & 7) != 0; i++) {
        if (p[i] != bench_pattern_byte(seed, offset + i)) goto bad;
    }
    for (; i + 8 <= len; i += 8) {
        uint8_t word[8];
        word_bytes(seed, (offset + i) >> 3, word);
        if (memcmp(p + i, word, 8) != 0) break; /* the byte loop below pinpoints it */
    }
    for (; i < len; i++) {
        if (p[i] != bench_pattern_byte(seed, offset + i)) goto bad;
    }
    return SIZE_MAX;
bad:
    *expected = bench_pattern_byte(seed, offset + i);
    return i;
}

uint64_t bench_pattern_seed(uint64_t a, uint64_t b, uint64_t c) {
    return fmix(fmix(fmix(a + 0x9e3779b97f4a7c15ull) ^ b) ^ c);
}
