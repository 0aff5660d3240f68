/*
 * The target's piece table (WRITE and READ frames): the input is the table itself.
 * Decoding must agree with the reference on every piece and on the total, the registry
 * check must agree with a plain search of the regions, and writing every allowed piece
 * into the arena must leave every byte outside the registered regions alone.
 */
#include "fuzz.h"
#include "fuzz_arena.h"
#include "fuzz_ref.h"
#include "transport/tcp/tcp_parse.h"

#include <string.h>

static tcp_piece_t pieces[TCP_MAX_ITEMS];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    adxl_registry_t *reg = fuzz_arena();
    size_t n = size / TCP_PIECE_SIZE;
    if (n == 0 || n > TCP_MAX_ITEMS) return 0; /* the header check refuses such counts */
    uint32_t count = (uint32_t)n;

    uint64_t total = 0;
    bool ok = tcp_pieces_decode(data, count, pieces, &total);

    bool ref_ok = true;
    uint64_t ref_total = 0;
    for (uint32_t i = 0; i < count && ref_ok; i++) {
        const uint8_t *p = data + (size_t)i * TCP_PIECE_SIZE;
        uint64_t addr = ref_le(p, 8), len = ref_le(p + 8, 8);
        ref_ok = ref_piece_ok(addr, len, ref_le(p + 16, 8), ref_le(p + 24, 8)) &&
                 len <= REF_MAX_PAYLOAD - ref_total;
        if (ref_ok) {
            ref_total += len;
            FUZZ_CHECK(pieces[i].addr == addr && pieces[i].len == len);
        }
    }
    FUZZ_CHECK(ok == ref_ok);
    if (!ok) return 0;
    FUZZ_CHECK(total == ref_total && total > 0 && total <= REF_MAX_PAYLOAD);

    adxl_registry_pin(reg);
    uint32_t from = count / 2;
    bool allowed = tcp_pieces_allowed(reg, pieces, 0, count);
    bool allowed_tail = tcp_pieces_allowed(reg, pieces, from, count);
    adxl_registry_unpin(reg);
    bool ref_allowed = true, ref_tail = true;
    for (uint32_t i = 0; i < count; i++) {
        bool inside = fuzz_arena_inside(pieces[i].span_addr, pieces[i].span_len);
        ref_allowed = ref_allowed && inside;
        if (i >= from) ref_tail = ref_tail && inside;
    }
    FUZZ_CHECK(allowed == ref_allowed);
    FUZZ_CHECK(allowed_tail == ref_tail);
    if (!allowed) return 0;

    /* What the target's move_payload would do with a WRITE: fill each piece. */
    for (uint32_t i = 0; i < count; i++)
        memset((void *)(uintptr_t)pieces[i].addr, (int)(i & 0xff), (size_t)pieces[i].len);
    FUZZ_CHECK(fuzz_arena_intact());
    return 0;
}
