/*
 * The verified workload of a cluster node against one peer (see cluster_node.h for the
 * region layout). One pass, with a seed of its own:
 *   1. WRITE the inbox area: its first dlen bytes as an async batch of pieces of 256 KiB to
 *      1 MiB (direct mode), and, while that runs, the next blen bytes as a sync batch of
 *      pieces of 512 B to 8 KiB (buffered mode), both in shuffled order;
 *   2. READ the peer's outbox the same way (async direct batch and sync buffered batch at
 *      once) into a buffer of garbage, and check every byte;
 *   3. READ back the inbox area just written, as one descriptor, and check every byte.
 * The passes repeat, each with a new seed; the last one (the "final" pass) uses a seed the
 * target can compute, so that it checks its own memory byte for byte (cn_verify_inbox).
 */
#include "cluster_node.h"

#include "bench_pattern.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DIRECT_MIN (256 * CN_KIB)
#define DIRECT_MAX CN_MIB
#define BUFFERED_MIN ((size_t)512)
#define BUFFERED_MAX (8 * CN_KIB)
#define ASYNC_GRACE_MS 20000 /* beyond the request's own timeout, for a noisy machine */

/* ---- patterns: the one every checking process uses (bench_pattern.h) ---- */

uint64_t cn_seed(unsigned round, unsigned writer, unsigned target, unsigned iter) {
    return ((((uint64_t)round << 8 | writer) << 8 | target) << 16 | iter) + 1;
}

uint64_t cn_outbox_seed(int id) {
    return 0x0b0b0000u + (uint64_t)id;
}

void cn_fill(uint8_t *p, size_t len, uint64_t seed, size_t base) {
    bench_pattern_fill(p, len, seed, base);
}

bool cn_check(const uint8_t *p, size_t len, uint64_t seed, size_t base, size_t *bad) {
    uint8_t want;
    size_t i = bench_pattern_check(p, len, seed, base, &want);
    if (i == SIZE_MAX) return true;
    *bad = base + i;
    return false;
}

/* ---- small helpers ---- */

uint64_t cn_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t cn_realtime_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void cn_sleep_ms(unsigned ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

adxl_status_t cn_wait_async(adxl_engine_t *e, adxl_transfer_req_t req, uint64_t limit_ms,
                            bool *final) {
    uint64_t until = cn_now_ms() + limit_ms;
    *final = false;
    for (;;) {
        adxl_transfer_status_t ts = ADXL_TRANSFER_WAITING;
        adxl_status_t st = adxl_get_transfer_status(e, req, &ts);
        if (st != ADXL_SUCCESS) return st; /* the request is gone: nothing uses its buffers */
        if (ts != ADXL_TRANSFER_WAITING) {
            *final = true;
            return ts == ADXL_TRANSFER_COMPLETED ? ADXL_SUCCESS
                   : ts == ADXL_TRANSFER_TIMEOUT ? ADXL_TIMEOUT
                                                 : ADXL_FAILED;
        }
        if (cn_now_ms() >= until) return ADXL_TIMEOUT;
        cn_sleep_ms(2);
    }
}

/* ---- batches ---- */

static uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Cuts [start, start + len) into pieces of lo..hi bytes (hi >= 2 lo) in shuffled order,
 * as descriptors between local + off and remote + off. Returns how many (<= cap). */
static size_t tile(adxl_transfer_op_desc_t *d, size_t cap, uint8_t *local, uintptr_t remote,
                   size_t start, size_t len, size_t lo, size_t hi, uint64_t *rng) {
    size_t n = 0;
    for (size_t off = start, left = len; left > 0 && n < cap; n++) {
        size_t take = lo + (size_t)(rng_next(rng) % (hi - lo + 1));
        if (take >= left || left - take < lo) take = left <= hi ? left : left - lo;
        d[n] = (adxl_transfer_op_desc_t){(uintptr_t)(local + off), remote + off, take};
        off += take;
        left -= take;
    }
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(rng_next(rng) % i);
        adxl_transfer_op_desc_t t = d[i - 1];
        d[i - 1] = d[j];
        d[j] = t;
    }
    return n;
}

typedef struct {
    cn_pair_t *pj;
    cn_peer_t peer;
    uint8_t *wbuf, *rbuf; /* registered, dlen + blen each */
    adxl_transfer_op_desc_t *direct, *buffered;
    size_t direct_cap, buffered_cap;
    bool abandoned; /* an async request never ended: its buffers must stay mapped */
} pass_ctx_t;

static void fail(cn_pair_t *pj, adxl_status_t st, bool bad_data, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(cn_pair_t *pj, adxl_status_t st, bool bad_data, const char *fmt, ...) {
    if (pj->status != ADXL_SUCCESS || pj->bad_data) return; /* the first failure tells */
    pj->status = st;
    pj->bad_data = bad_data;
    pj->fail_us = cn_realtime_us();
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pj->what, sizeof(pj->what), fmt, ap);
    va_end(ap);
}

/* An async direct batch and a sync buffered batch in flight together. */
static bool both(pass_ctx_t *c, adxl_transfer_op_t op, uintptr_t remote, uint8_t *local,
                 uint64_t *rng, const char *what) {
    cn_pair_t *pj = c->pj;
    adxl_engine_t *e = pj->node->engine;
    size_t nd =
        tile(c->direct, c->direct_cap, local, remote, 0, pj->dlen, DIRECT_MIN, DIRECT_MAX, rng);
    size_t nb = tile(c->buffered, c->buffered_cap, local, remote, pj->dlen, pj->blen, BUFFERED_MIN,
                     BUFFERED_MAX, rng);
    adxl_transfer_args_t args = {.timeout_ms = pj->timeout_ms, .user_data = NULL};
    adxl_transfer_req_t req = NULL;
    adxl_status_t ast = adxl_transfer_async(e, c->peer.name, op, c->direct, nd, &args, &req);
    if (ast != ADXL_SUCCESS) fail(pj, ast, false, "%s_async_submit", what);
    adxl_status_t sst = adxl_transfer_sync(e, c->peer.name, op, c->buffered, nb, pj->timeout_ms);
    if (sst != ADXL_SUCCESS) fail(pj, sst, false, "%s_sync_buffered_%zu_pieces", what, nb);
    if (ast == ADXL_SUCCESS) {
        bool final;
        ast = cn_wait_async(e, req, (uint64_t)pj->timeout_ms + ASYNC_GRACE_MS, &final);
        if (!final) c->abandoned = true;
        if (ast != ADXL_SUCCESS) fail(pj, ast, false, "%s_async_direct_%zu_pieces", what, nd);
    }
    return ast == ADXL_SUCCESS && sst == ADXL_SUCCESS;
}

static bool checked(pass_ctx_t *c, const uint8_t *buf, uint64_t seed, const char *what) {
    size_t bad = 0;
    if (cn_check(buf, c->pj->dlen + c->pj->blen, seed, 0, &bad)) return true;
    fail(c->pj, ADXL_SUCCESS, true, "%s_byte_%zu_of_%zu_differs", what, bad,
         c->pj->dlen + c->pj->blen);
    return false;
}

static bool one_pass(pass_ctx_t *c, unsigned iter) {
    cn_pair_t *pj = c->pj;
    cn_node_t *n = pj->node;
    size_t len = pj->dlen + pj->blen;
    uint64_t seed = cn_seed(pj->round, (unsigned)n->id, (unsigned)pj->peer, iter);
    uint64_t rng = seed * 2654435761u + 1;
    uintptr_t inbox = c->peer.region + (size_t)n->id * n->slot_len;
    uintptr_t outbox = c->peer.region + (size_t)pj->peer * n->slot_len;

    cn_fill(c->wbuf, len, seed, 0);
    if (!both(c, ADXL_WRITE, inbox, c->wbuf, &rng, "WRITE")) return false;

    memset(c->rbuf, 0xee, len);
    if (!both(c, ADXL_READ, outbox, c->rbuf, &rng, "READ_outbox")) return false;
    if (!checked(c, c->rbuf, cn_outbox_seed(pj->peer), "READ_outbox")) return false;

    memset(c->rbuf, 0x11, len);
    adxl_transfer_op_desc_t back = {(uintptr_t)c->rbuf, inbox, len};
    adxl_status_t st =
        adxl_transfer_sync(n->engine, c->peer.name, ADXL_READ, &back, 1, pj->timeout_ms);
    if (st != ADXL_SUCCESS) {
        fail(pj, st, false, "READ_back");
        return false;
    }
    if (!checked(c, c->rbuf, seed, "READ_back")) return false;
    pj->bytes += 3 * (uint64_t)len;
    return true;
}

void *cn_pair_main(void *arg) {
    cn_pair_t *pj = arg;
    cn_node_t *n = pj->node;
    pass_ctx_t c = {.pj = pj};
    pj->status = ADXL_SUCCESS;
    size_t len = pj->dlen + pj->blen;
    if (!cn_node_peer(n, pj->peer, &c.peer)) {
        fail(pj, ADXL_PARAM_INVALID, false, "unknown_peer_%d", pj->peer);
        return NULL;
    }
    c.direct_cap = pj->dlen / DIRECT_MIN + 2;
    c.buffered_cap = pj->blen / BUFFERED_MIN + 2;
    c.direct = calloc(c.direct_cap, sizeof(*c.direct));
    c.buffered = calloc(c.buffered_cap, sizeof(*c.buffered));
    void *mem = NULL;
    adxl_mem_handle_t h = NULL;
    adxl_status_t st = c.direct && c.buffered ? adxl_malloc_mem(ADXL_MEM_HOST, 2 * len, &mem)
                                              : ADXL_RESOURCE_EXHAUSTED;
    if (st == ADXL_SUCCESS) {
        adxl_mem_desc_t desc = {(uintptr_t)mem, 2 * len};
        st = adxl_register_mem(n->engine, &desc, ADXL_MEM_HOST, &h);
    }
    if (st != ADXL_SUCCESS) {
        fail(pj, st, false, "local_buffers");
    } else {
        c.wbuf = mem;
        c.rbuf = c.wbuf + len;
        uint64_t started = cn_now_ms();
        unsigned iter = 0;
        bool ok = true;
        /* At least min_iters passes; more while held (bounded, should the script die). */
        while (ok && (iter < pj->min_iters ||
                      (atomic_load(&n->hold) && cn_now_ms() - started < CN_HOLD_MAX_MS))) {
            ok = one_pass(&c, iter++);
            if (ok) {
                pj->iters++;
                atomic_fetch_add(pj->progress, 1);
            }
        }
        if (ok && one_pass(&c, CN_FINAL_ITER)) pj->iters++;
    }
    if (h && !c.abandoned) adxl_deregister_mem(n->engine, h);
    if (mem && !c.abandoned) adxl_free_mem(mem);
    free(c.direct);
    free(c.buffered);
    return NULL;
}

bool cn_verify_inbox(cn_node_t *node, unsigned writer, unsigned round, size_t dlen, size_t blen,
                     size_t *bad) {
    uint64_t seed = cn_seed(round, writer, (unsigned)node->id, CN_FINAL_ITER);
    CN_EXTERNALLY_ORDERED_BEGIN();
    bool ok = cn_check(node->region + (size_t)writer * node->slot_len, dlen + blen, seed, 0, bad);
    CN_EXTERNALLY_ORDERED_END();
    return ok;
}
