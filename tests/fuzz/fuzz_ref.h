/*
 * Reference versions of the wire rules (docs/WIRE.md), written apart from the engine's
 * code, which the fuzzers compare it with. Little-endian reads are redone here too.
 */
#ifndef ADXL_FUZZ_REF_H
#define ADXL_FUZZ_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline uint64_t ref_le(const uint8_t *p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* A piece: address, length, span address, span length. Non-zero address and length, no
 * wrap (ending exactly at 2^64 counts as wrapping), a non-empty span with a non-zero
 * address that does not wrap either, and the piece inside its span. */
static inline bool ref_piece_ok(uint64_t addr, uint64_t len, uint64_t span, uint64_t span_len) {
    uint64_t end, span_end;
    if (addr == 0 || len == 0 || span == 0 || span_len == 0) return false;
    if (__builtin_add_overflow(addr, len, &end) ||
        __builtin_add_overflow(span, span_len, &span_end))
        return false;
    return addr >= span && end <= span_end;
}

/* A probe's host facts: 41 fixed bytes (the count at 40), then at most 4 offers, each a
 * name of 1 to 7 bytes of [a-z0-9_] (none twice), then up to 64 bytes; nothing after. */
#define REF_FACTS_MAX (41u + 4u * (1u + 7u + 1u + 64u))
static inline bool ref_facts_ok(const uint8_t *p, size_t len) {
    if (len < 41 || len > REF_FACTS_MAX || p[40] > 4) return false;
    const uint8_t *names[4];
    size_t name_lens[4];
    size_t at = 41;
    for (unsigned i = 0; i < p[40]; i++) {
        if (at >= len) return false;
        size_t n = p[at++];
        if (n < 1 || n > 7 || len - at < n + 1) return false;
        for (size_t k = 0; k < n; k++) {
            uint8_t c = p[at + k];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
        }
        for (unsigned k = 0; k < i; k++)
            if (name_lens[k] == n && __builtin_memcmp(names[k], p + at, n) == 0) return false;
        names[i] = p + at;
        name_lens[i] = n;
        at += n;
        size_t b = p[at++];
        if (b > 64 || len - at < b) return false;
        at += b;
    }
    return at == len;
}

#define REF_MAX_PAYLOAD (1ull << 30)
#define REF_MAX_ITEMS 4096u

#endif
