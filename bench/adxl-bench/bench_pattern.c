/* Offset-keyed verification pattern; see bench_pattern.h. */
#include "bench_pattern.h"

#include <string.h>

/* splitmix64's finalizer: cheap, and every input bit affects every output bit. */
static uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* The 8 bytes of the aligned word containing offset, little-endian by position so the
 * result does not depend on the host's byte order. */
static uint8_t byte_at(uint64_t seed, uint64_t offset) {
    return (uint8_t)(mix(seed ^ mix(offset >> 3)) >> ((offset & 7) * 8));
}

static void word_bytes(uint64_t seed, uint64_t word_index, uint8_t out[8]) {
    uint64_t w = mix(seed ^ mix(word_index));
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(w >> (i * 8));
}

void bench_pattern_fill(void *buf, size_t len, uint64_t seed, uint64_t offset) {
    uint8_t *p = buf;
    size_t i = 0;

    /* Byte-wise up to a word boundary of the region offset, then whole words. */
    for (; i < len && ((offset + i) & 7) != 0; i++)
        p[i] = byte_at(seed, offset + i);
    for (; i + 8 <= len; i += 8)
        word_bytes(seed, (offset + i) >> 3, p + i);
    for (; i < len; i++)
        p[i] = byte_at(seed, offset + i);
}

size_t bench_pattern_check(const void *buf, size_t len, uint64_t seed, uint64_t offset,
                           uint8_t *expected) {
    const uint8_t *p = buf;
    size_t i = 0;

    for (; i < len && ((offset + i) & 7) != 0; i++) {
        uint8_t e = byte_at(seed, offset + i);
        if (p[i] != e) goto bad;
    }
    for (; i + 8 <= len; i += 8) {
        uint8_t word[8];
        word_bytes(seed, (offset + i) >> 3, word);
        if (memcmp(p + i, word, 8) != 0) break; /* the byte loop below pinpoints it */
    }
    for (; i < len; i++) {
        if (p[i] != byte_at(seed, offset + i)) goto bad;
    }
    return SIZE_MAX;
bad:
    *expected = byte_at(seed, offset + i);
    return i;
}

uint64_t bench_pattern_seed(uint64_t a, uint64_t b, uint64_t c) {
    return mix(mix(mix(a) ^ b) ^ c);
}
