/*
 * Reference versions of the wire rules (docs/WIRE.md), written apart from the engine's
 * code, which the fuzzers compare it with. Little-endian reads are redone here too.
 */
#ifndef ADXL_FUZZ_REF_H
#define ADXL_FUZZ_REF_H

#include <stdbool.h>
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

#define REF_MAX_PAYLOAD (1ull << 30)
#define REF_MAX_ITEMS 4096u

#endif
