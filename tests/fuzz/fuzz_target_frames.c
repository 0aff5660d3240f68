/*
 * A target connection after its handshake: the input is everything an initiator sends,
 * read frame after frame as the target's serving thread reads it (header, then piece
 * table or notify body, then payload), through the engine's own checks. The harness
 * stands in for the socket: WRITE payload goes into the arena where the registry check
 * allowed it, READ payload is read from there, notifies go through the real queue. The
 * first frame the target would refuse ends the connection, as it does in the engine.
 * Each check must agree with the reference, and no byte outside registered memory may
 * change.
 */
#include "fuzz.h"
#include "fuzz_arena.h"
#include "fuzz_ref.h"
#include "core/notify_queue.h"
#include "transport/tcp/tcp_parse.h"

#include <string.h>

typedef struct {
    const uint8_t *p;
    size_t left;
} cursor_t;

/* false: the input (the connection) ends first. */
static bool take(cursor_t *c, const uint8_t **out, size_t n) {
    if (c->left < n) return false;
    *out = c->p;
    c->p += n;
    c->left -= n;
    return true;
}

/* The request header rules of docs/WIRE.md, from the raw bytes. */
static bool ref_header_ok(const uint8_t *raw) {
    uint64_t type = ref_le(raw, 2), count = ref_le(raw + 4, 4), length = ref_le(raw + 16, 8);
    switch (type) {
    case 1:
        return count >= 1 && count <= REF_MAX_ITEMS;
    case 2:
        return count >= 1 && count <= REF_MAX_ITEMS && length == 0;
    case 5:
        return length >= 8 && length <= 8 + 2 * 1024;
    case 7:
        return length == 0;
    default:
        return false;
    }
}

static tcp_piece_t pieces[TCP_MAX_ITEMS];
static adxl_notify_queue_t queue;
static adxl_notify_t popped[64];

static bool serve_pieces(cursor_t *c, const tcp_frame_header_t *h, const uint8_t *table,
                         bool *wrote) {
    uint64_t total;
    if (!tcp_pieces_decode(table, h->count, pieces, &total)) return false;
    if (h->type == TCP_FRAME_WRITE && total != h->length) return false;
    adxl_registry_t *reg = fuzz_arena();
    adxl_registry_pin(reg);
    bool allowed = tcp_pieces_allowed(reg, pieces, 0, h->count);
    adxl_registry_unpin(reg);
    bool ref_allowed = true;
    for (uint32_t i = 0; i < h->count; i++)
        ref_allowed = ref_allowed && fuzz_arena_inside(pieces[i].span_addr, pieces[i].span_len);
    FUZZ_CHECK(allowed == ref_allowed);

    if (h->type == TCP_FRAME_READ) {
        if (!allowed) return true; /* answered with DATA of length 0 */
        volatile uint8_t sum = 0;
        for (uint32_t i = 0; i < h->count; i++)
            for (uint64_t k = 0; k < pieces[i].len; k++)
                sum ^= ((const uint8_t *)(uintptr_t)pieces[i].addr)[k];
        (void)sum;
        return true;
    }
    /* WRITE: the payload lands piece by piece, as far as it came; refused, it is read
     * and thrown away. */
    for (uint32_t i = 0; i < h->count; i++) {
        size_t n = pieces[i].len < c->left ? (size_t)pieces[i].len : c->left;
        if (allowed) {
            memcpy((void *)(uintptr_t)pieces[i].addr, c->p, n);
            *wrote = true;
        }
        c->p += n;
        c->left -= n;
        if (n < pieces[i].len) return false;
    }
    return true;
}

static bool serve_notify(const uint8_t *body, size_t len, adxl_notify_source_t *src) {
    tcp_notify_body_t n;
    if (!tcp_notify_decode(body, len, &n)) return false;
    adxl_status_t st = adxl_notify_queue_push(&queue, src, n.name, n.name_len, n.msg, n.msg_len);
    FUZZ_CHECK(st == ADXL_SUCCESS || st == ADXL_RESOURCE_EXHAUSTED);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static bool ready;
    fuzz_quiet();
    if (!ready) {
        adxl_notify_queue_init(&queue);
        ready = true;
    }
    fuzz_arena();
    adxl_notify_source_t *src = adxl_notify_source_new();
    FUZZ_CHECK(src);
    cursor_t c = {data, size};
    bool wrote = false;
    for (;;) {
        const uint8_t *raw, *meta;
        if (!take(&c, &raw, TCP_FRAME_HEADER)) break;
        tcp_frame_header_t h;
        tcp_frame_header_decode(raw, &h);
        size_t meta_len = 0;
        bool ok = tcp_request_header_check(&h, &meta_len);
        FUZZ_CHECK(ok == ref_header_ok(raw));
        if (!ok || !take(&c, &meta, meta_len)) break;
        if (h.type == TCP_FRAME_NOTIFY)
            ok = serve_notify(meta, meta_len, src);
        else if (h.type != TCP_FRAME_PING)
            ok = serve_pieces(&c, &h, meta, &wrote);
        if (!ok) break;
    }
    if (wrote) FUZZ_CHECK(fuzz_arena_intact());

    /* The connection is gone; its notifies stay readable, each as it was sent. */
    size_t got;
    do {
        adxl_notify_queue_pop(&queue, popped, 64, &got);
        for (size_t i = 0; i < got; i++)
            FUZZ_CHECK(strlen(popped[i].name) <= ADXL_NOTIFY_MAX_LEN &&
                       strlen(popped[i].msg) <= ADXL_NOTIFY_MAX_LEN);
    } while (got > 0);
    adxl_notify_source_release(src);
    return 0;
}
