/*
 * An initiator connection: the input is everything a target sends back. Its first bytes
 * set the scene: whether the connection is stream 0 of a new link (so the target's
 * region snapshot comes first, as during connect), and which requests are awaiting their
 * answers (kind, and for a READ how many bytes it asked for). The rest is read as the
 * stream thread reads it: headers checked against the oldest request, READ payload into a
 * buffer of exactly the size asked for (a wrong check overflows it), DATA trailers,
 * REGION items into the engine's real view of the peer's memory. The first frame the
 * initiator would refuse ends the input, as it ends the link in the engine.
 *
 *   byte 0       bit 7: snapshot first; bit 6: the oldest request is still going out;
 *                bits 0-2: number of requests (0..7)
 *   3 per req.   kind (0 WRITE, 1 READ, 2 NOTIFY, modulo 3), u16: a READ's bytes - 1
 *   the rest     frames from the target
 */
#include "fuzz.h"
#include "fuzz_ref.h"
#include "core/remote_regions.h"
#include "transport/tcp/tcp_parse.h"

#include <string.h>

typedef struct {
    const uint8_t *p;
    size_t left;
} cursor_t;

static bool take(cursor_t *c, const uint8_t **out, size_t n) {
    if (c->left < n) return false;
    *out = c->p;
    c->p += n;
    c->left -= n;
    return true;
}

static bool ref_answer_ok(const uint8_t *raw, const tcp_awaited_t *a) {
    uint64_t type = ref_le(raw, 2), count = ref_le(raw + 4, 4), id = ref_le(raw + 8, 8),
             length = ref_le(raw + 16, 8);
    switch (type) {
    case 8: /* PONG */
        return true;
    case 3: /* ACK */
    case 6: /* NOTIFY_ACK */
        return a->type == type && a->id == id;
    case 4: /* DATA: all of it or nothing */
        return a->type == type && a->id == id && (length == a->bytes || length == 0);
    case 9:
    case 10:
        return count >= 1 && count <= REF_MAX_ITEMS && length == 0;
    default:
        return false;
    }
}

static bool known_status(adxl_status_t st) {
    switch (st) {
    case ADXL_SUCCESS:
    case ADXL_PARAM_INVALID:
    case ADXL_TIMEOUT:
    case ADXL_NOT_CONNECTED:
    case ADXL_NOTIFY_FAILED:
    case ADXL_UNSUPPORTED:
    case ADXL_RESOURCE_EXHAUSTED:
    case ADXL_FAILED:
        return true;
    default:
        return false;
    }
}

/* Walks the view in address order, remembering where the last range ended. */
typedef struct {
    size_t seen;
    bool any;
    uint64_t end;
} view_walk_t;

static bool check_range(adxl_region_t *r, void *ctx) {
    view_walk_t *w = ctx;
    uint64_t end;
    FUZZ_CHECK(r->len > 0);
    FUZZ_CHECK(!__builtin_add_overflow(r->addr, r->len, &end));
    if (w->any) FUZZ_CHECK(w->end <= r->addr);
    w->any = true;
    w->end = end;
    w->seen++;
    return true;
}

/* Sorted, non-empty, non-wrapping, non-overlapping, and bounded. */
static void check_view(adxl_remote_regions_t *rr) {
    const adxl_region_set_t *set = &rr->regions;
    FUZZ_CHECK(set->count <= ADXL_REMOTE_REGIONS_MAX);
    view_walk_t w = {0};
    adxl_region_set_each(set, check_range, &w);
    FUZZ_CHECK(w.seen == set->count);
}

static void apply_items(adxl_remote_regions_t *rr, const uint8_t *items, uint32_t count, bool add) {
    for (uint32_t i = 0; i < count; i++) {
        uint64_t addr, len;
        tcp_item_decode(items + (size_t)i * TCP_ITEM_SIZE, &addr, &len);
        FUZZ_CHECK(addr == ref_le(items + (size_t)i * 16, 8));
        if (add)
            adxl_remote_regions_add(rr, (uintptr_t)addr, (size_t)len);
        else
            adxl_remote_regions_remove(rr, (uintptr_t)addr, (size_t)len);
    }
    check_view(rr);
}

/* The connect-time snapshot, in as many frames as it takes; false: connect fails. */
static bool read_snapshot(cursor_t *c, adxl_remote_regions_t *rr) {
    for (;;) {
        const uint8_t *raw, *items;
        if (!take(c, &raw, TCP_FRAME_HEADER)) return false;
        tcp_frame_header_t h;
        tcp_frame_header_decode(raw, &h);
        bool ok = tcp_snapshot_header_check(&h);
        FUZZ_CHECK(ok == (ref_le(raw, 2) == 9 && ref_le(raw + 4, 4) <= REF_MAX_ITEMS &&
                          ref_le(raw + 16, 8) == 0));
        if (!ok) return false;
        if (h.count == 0) return true;
        if (!take(c, &items, (size_t)h.count * TCP_ITEM_SIZE)) return false;
        apply_items(rr, items, h.count, true);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    cursor_t c = {data, size};
    const uint8_t *p;
    if (!take(&c, &p, 1)) return 0;
    bool snapshot = p[0] & 0x80, going_out = p[0] & 0x40;
    int nreq = p[0] & 7;
    tcp_awaited_t reqs[8];
    for (int i = 0; i < nreq; i++) {
        if (!take(&c, &p, 3)) return 0;
        static const uint16_t types[3] = {TCP_FRAME_ACK, TCP_FRAME_DATA, TCP_FRAME_NOTIFY_ACK};
        reqs[i] = (tcp_awaited_t){.type = types[p[0] % 3], .id = (uint64_t)i + 1};
        reqs[i].bytes = reqs[i].type == TCP_FRAME_DATA ? 1 + ref_le(p + 1, 2) : 0;
    }

    adxl_remote_regions_t rr;
    adxl_remote_regions_init(&rr);
    if (snapshot && !read_snapshot(&c, &rr)) goto done;

    for (int head = 0;;) {
        const uint8_t *raw, *body;
        if (!take(&c, &raw, TCP_FRAME_HEADER)) break;
        tcp_frame_header_t h;
        tcp_frame_header_decode(raw, &h);
        tcp_awaited_t none = {0};
        const tcp_awaited_t *a = head < nreq && !(head == 0 && going_out) ? &reqs[head] : &none;
        bool ok = tcp_answer_header_check(&h, a);
        FUZZ_CHECK(ok == ref_answer_ok(raw, a));
        if (!ok) break;
        if (h.type == TCP_FRAME_ACK || h.type == TCP_FRAME_NOTIFY_ACK) {
            FUZZ_CHECK(known_status(adxl_status_from_wire(h.count)));
            FUZZ_CHECK((adxl_status_from_wire(h.count) == ADXL_SUCCESS) == (h.count == 0));
            head++;
        } else if (h.type == TCP_FRAME_DATA) {
            /* Exactly the bytes the READ asked for: the check must keep memcpy inside. */
            uint8_t *dst = malloc((size_t)a->bytes);
            FUZZ_CHECK(dst);
            size_t n = h.length < c.left ? (size_t)h.length : c.left;
            memcpy(dst, c.p, n);
            free(dst);
            c.p += n;
            c.left -= n;
            if (n < h.length || !take(&c, &body, TCP_TRAILER)) break;
            adxl_status_t st = tcp_data_trailer_status(body, h.length);
            FUZZ_CHECK(known_status(st));
            FUZZ_CHECK(h.length > 0 || st != ADXL_SUCCESS); /* no data, no success */
            head++;
        } else if (h.type == TCP_FRAME_REGION_ADD || h.type == TCP_FRAME_REGION_DEL) {
            if (!take(&c, &body, (size_t)h.count * TCP_ITEM_SIZE)) break;
            apply_items(&rr, body, h.count, h.type == TCP_FRAME_REGION_ADD);
        }
    }
done:
    adxl_remote_regions_destroy(&rr);
    return 0;
}
