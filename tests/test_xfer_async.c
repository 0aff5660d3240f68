/*
 * adxl_transfer_async and adxl_get_transfer_status: one request polled to COMPLETED,
 * the request released after its final state, 300 requests outstanding at once (READ and
 * WRITE, small and large) all COMPLETED with the right data, NULL arguments, and
 * args->timeout_ms running out against a SIGSTOPped peer process (TIMEOUT), while a
 * request without a timeout waits through the stop and completes after SIGCONT.
 * Device variants: device memory on both sides (xfer_mem.h); the stopped peer's link is
 * kept on the staging ring, so it holds device transfers as it holds host ones.
 */
#include "xfer_common.h"

#define NREQ 300
#define SMALL_SLOT (40 * XC_KIB)
#define LARGE_LEN (512 * XC_KIB)
#define LARGE_EVERY 50

static void single(xc_pair_t *p) {
    REQUIRE(xc_fill(p->lbuf, 100000, 1));
    REQUIRE(xc_fill_inverse(p->rbuf, 100000, 1));
    adxl_transfer_op_desc_t d = {(uintptr_t)p->lbuf, (uintptr_t)p->rbuf, 100000};
    adxl_transfer_req_t req = NULL;
    CHECK_STATUS(adxl_transfer_async(p->init, p->tname, ADXL_WRITE, &d, 1, NULL, &req),
                 ADXL_SUCCESS);
    REQUIRE(req != NULL);
    /* NULL status pointer and NULL engine: refused, the request stays valid. */
    CHECK_STATUS(adxl_get_transfer_status(p->init, req, NULL), ADXL_PARAM_INVALID);
    adxl_transfer_status_t s = ADXL_TRANSFER_FAILED;
    CHECK_STATUS(adxl_get_transfer_status(NULL, req, &s), ADXL_PARAM_INVALID);
    s = tu_wait_req(p->init, req, 20000);
    CHECK(s == ADXL_TRANSFER_COMPLETED);
    CHECK(xc_verify(p->rbuf, 100000, 1));
    /* Released after the final state. */
    s = ADXL_TRANSFER_WAITING;
    CHECK_STATUS(adxl_get_transfer_status(p->init, req, &s), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_get_transfer_status(p->init, req, &s), ADXL_PARAM_INVALID);
    /* NULL request. */
    CHECK_STATUS(adxl_get_transfer_status(p->init, NULL, &s), ADXL_FAILED);

    /* READ, large (direct), args with a timeout and user data. */
    static int user_marker;
    adxl_transfer_args_t args = {.timeout_ms = 20000, .user_data = &user_marker};
    REQUIRE(xc_fill(p->rbuf + 3, 3 * XC_MIB, 2));
    REQUIRE(xc_fill_inverse(p->lbuf + 5, 3 * XC_MIB, 2));
    adxl_transfer_op_desc_t d2[2] = {
        {(uintptr_t)(p->lbuf + 5), (uintptr_t)(p->rbuf + 3 + XC_MIB), 2 * XC_MIB},
        {(uintptr_t)(p->lbuf + 5 + 2 * XC_MIB), (uintptr_t)(p->rbuf + 3), XC_MIB}};
    req = NULL;
    adxl_stats_t before = xc_stats(p->init);
    CHECK_STATUS(adxl_transfer_async(p->init, p->tname, ADXL_READ, d2, 2, &args, &req),
                 ADXL_SUCCESS);
    REQUIRE(req != NULL);
    CHECK(tu_wait_req(p->init, req, 20000) == ADXL_TRANSFER_COMPLETED);
    adxl_stats_t after = xc_stats(p->init);
    XC_CHECK_MODE_DELTA(before, after, 1, 0);
    /* lbuf+5 .. +2 MiB holds what was at rbuf+3+1 MiB, i.e. offsets 1 MiB.. of the pattern */
    uint8_t *got = xc_read_back(p->lbuf + 5, 2 * XC_MIB);
    REQUIRE(got != NULL);
    bool ok = true;
    for (size_t i = 0; i < 2 * XC_MIB && ok; i++)
        ok = got[i] == tu_pattern_byte(2, XC_MIB + i);
    free(got);
    CHECK(ok);
    CHECK(xc_verify(p->lbuf + 5 + 2 * XC_MIB, XC_MIB, 2));

    /* args->timeout_ms == 0: no timeout. */
    args.timeout_ms = 0;
    REQUIRE(xc_fill(p->lbuf, 5000, 3));
    req = NULL;
    CHECK_STATUS(adxl_transfer_async(p->init, p->tname, ADXL_WRITE, &d, 1, &args, &req),
                 ADXL_SUCCESS);
    REQUIRE(req != NULL);
    CHECK(tu_wait_req(p->init, req, 20000) == ADXL_TRANSFER_COMPLETED);
    CHECK(xc_verify(p->rbuf, 5000, 3));

    /* Descriptors are copied at submission: changing them afterwards changes nothing. */
    adxl_transfer_op_desc_t d3 = {(uintptr_t)p->lbuf, (uintptr_t)(p->rbuf + 8192), 4096};
    REQUIRE(xc_fill(p->lbuf, 4096, 4));
    REQUIRE(xc_fill(p->rbuf, 4 * 4096, 5));
    req = NULL;
    CHECK_STATUS(adxl_transfer_async(p->init, p->tname, ADXL_WRITE, &d3, 1, NULL, &req),
                 ADXL_SUCCESS);
    d3.remote_addr = (uintptr_t)p->rbuf;
    d3.len = 1;
    REQUIRE(req != NULL);
    CHECK(tu_wait_req(p->init, req, 20000) == ADXL_TRANSFER_COMPLETED);
    CHECK(xc_verify(p->rbuf + 8192, 4096, 4));
    CHECK(xc_verify(p->rbuf, 8192, 5));
}

static void many(xc_pair_t *p) {
    adxl_transfer_req_t reqs[NREQ];
    adxl_transfer_op_t ops[NREQ];
    uint8_t *lp[NREQ], *rp[NREQ];
    size_t lens[NREQ];
    bool done[NREQ];
    adxl_transfer_status_t final_state[NREQ];
    size_t small_count = 0, large_count = 0;
    uint64_t rng = 12345;
    size_t large_base = NREQ * SMALL_SLOT;

    for (int i = 0; i < NREQ; i++) {
        bool large = i % LARGE_EVERY == 7;
        ops[i] = (i % 3 == 0) ? ADXL_READ : ADXL_WRITE;
        if (large) {
            lens[i] = LARGE_LEN;
            lp[i] = p->lbuf + large_base + large_count * (LARGE_LEN + 4096);
            rp[i] = p->rbuf + large_base + large_count * (LARGE_LEN + 4096);
            large_count++;
        } else {
            lens[i] = xc_rand_range(&rng, 1, 32 * XC_KIB);
            /* local and remote slots in opposite orders */
            lp[i] = p->lbuf + small_count * SMALL_SLOT + (size_t)(i % 5);
            rp[i] = p->rbuf + (NREQ - 1 - small_count) * SMALL_SLOT + (size_t)(i % 7);
            small_count++;
        }
        REQUIRE(lp[i] + lens[i] <= p->lbuf + p->lsize && rp[i] + lens[i] <= p->rbuf + p->rsize);
        uint8_t *src = ops[i] == ADXL_WRITE ? lp[i] : rp[i];
        uint8_t *dst = ops[i] == ADXL_WRITE ? rp[i] : lp[i];
        REQUIRE(xc_fill(src, lens[i], 7000 + (uint64_t)i));
        REQUIRE(xc_fill_inverse(dst, lens[i], 7000 + (uint64_t)i));
        done[i] = false;
        reqs[i] = NULL;
    }
    int submitted = 0;
    for (int i = 0; i < NREQ; i++) {
        adxl_transfer_op_desc_t d = {(uintptr_t)lp[i], (uintptr_t)rp[i], lens[i]};
        adxl_status_t st = adxl_transfer_async(p->init, p->tname, ops[i], &d, 1, NULL, &reqs[i]);
        CHECK_STATUS(st, ADXL_SUCCESS);
        if (st != ADXL_SUCCESS || reqs[i] == NULL)
            done[i] = true; /* never polled */
        else
            submitted++;
    }
    CHECK(submitted == NREQ);

    int remaining = submitted, completed = 0, waiting_seen = 0;
    uint64_t deadline = tu_now_ms() + 30000;
    while (remaining > 0 && tu_now_ms() < deadline) {
        for (int i = 0; i < NREQ; i++) {
            if (done[i]) continue;
            adxl_transfer_status_t s = ADXL_TRANSFER_FAILED;
            adxl_status_t st = adxl_get_transfer_status(p->init, reqs[i], &s);
            if (st != ADXL_SUCCESS) {
                fprintf(stderr, "request %d: adxl_get_transfer_status %s\n", i,
                        adxl_status_str(st));
                CHECK_STATUS(st, ADXL_SUCCESS);
                done[i] = true;
                final_state[i] = ADXL_TRANSFER_FAILED;
                remaining--;
                continue;
            }
            if (s == ADXL_TRANSFER_WAITING) {
                waiting_seen++;
                continue;
            }
            done[i] = true;
            final_state[i] = s;
            remaining--;
            if (s == ADXL_TRANSFER_COMPLETED)
                completed++;
            else
                fprintf(stderr, "request %d ended in state %d\n", i, (int)s);
        }
        if (remaining > 0) tu_sleep_ms(1);
    }
    CHECK(remaining == 0);
    CHECK(completed == NREQ);
    int bad = 0;
    for (int i = 0; i < NREQ; i++) {
        if (!done[i] || final_state[i] != ADXL_TRANSFER_COMPLETED) continue;
        uint8_t *dst = ops[i] == ADXL_WRITE ? rp[i] : lp[i];
        if (!xc_verify(dst, lens[i], 7000 + (uint64_t)i)) {
            fprintf(stderr, "request %d (%s, %zu bytes) delivered wrong data\n", i,
                    ops[i] == ADXL_WRITE ? "WRITE" : "READ", lens[i]);
            bad++;
        }
    }
    CHECK(bad == 0);
    /* every released request is gone */
    int stale_ok = 0;
    for (int i = 0; i < NREQ; i += 37) {
        adxl_transfer_status_t s;
        if (done[i] && reqs[i] &&
            adxl_get_transfer_status(p->init, reqs[i], &s) == ADXL_PARAM_INVALID)
            stale_ok++;
    }
    CHECK(stale_ok == (NREQ + 36) / 37);
    (void)waiting_seen;
}

static void stopped_peer(void) {
    xc_peer_cfg_t cfg = {NULL, 0, 16 * XC_MIB};
    xc_peer_t peer;
    REQUIRE(xc_peer_start(&peer, &cfg));
    /* A stopped target must be able to hold requests pending, so the shm transport is
     * kept on its staging ring here: its mapped and CMA copies need no work by the
     * target and complete anyway (test_xfer_peer_stop and test_shm_safety check that).
     * On TCP the option changes nothing. */
    static const adxl_option_t staging = {"ShmPath", "staging"};
    adxl_engine_t *e = xc_engine(&staging, 1);
    REQUIRE(e != NULL);
    uint8_t *local = xc_alloc(16 * XC_MIB);
    REQUIRE(local != NULL);
    REQUIRE(xc_register(e, local, 16 * XC_MIB) != NULL);
    CHECK_STATUS(adxl_connect(e, peer.name, 10000), ADXL_SUCCESS);
    REQUIRE(xc_peer_fill(&peer, 81, 0, 16 * XC_MIB));

    /* Works while the peer runs. */
    adxl_transfer_op_desc_t d = {(uintptr_t)local, (uintptr_t)peer.addr, 8 * XC_MIB};
    adxl_transfer_args_t args = {.timeout_ms = 20000, .user_data = NULL};
    adxl_transfer_req_t req = NULL;
    CHECK_STATUS(adxl_transfer_async(e, peer.name, ADXL_READ, &d, 1, &args, &req), ADXL_SUCCESS);
    REQUIRE(req != NULL);
    CHECK(tu_wait_req(e, req, 20000) == ADXL_TRANSFER_COMPLETED);
    CHECK(xc_verify(local, 8 * XC_MIB, 81));

    REQUIRE(tu_stop_child(peer.ch.pid));
    /* A request with args->timeout_ms = 300 against the stopped peer: TIMEOUT. */
    args.timeout_ms = 300;
    req = NULL;
    REQUIRE(xc_set(local, 0, 8 * XC_MIB));
    uint64_t t0 = tu_now_ms();
    CHECK_STATUS(adxl_transfer_async(e, peer.name, ADXL_READ, &d, 1, &args, &req), ADXL_SUCCESS);
    REQUIRE(req != NULL);
    adxl_transfer_status_t s = tu_wait_req(e, req, 15000);
    uint64_t took = tu_now_ms() - t0;
    if (s != ADXL_TRANSFER_TIMEOUT)
        fprintf(stderr, "stopped peer: state %d after %" PRIu64 " ms, expected TIMEOUT\n", (int)s,
                took);
    CHECK(s == ADXL_TRANSFER_TIMEOUT);
    if (s == ADXL_TRANSFER_TIMEOUT) {
        /* released after TIMEOUT too */
        adxl_transfer_status_t again = ADXL_TRANSFER_WAITING;
        CHECK_STATUS(adxl_get_transfer_status(e, req, &again), ADXL_PARAM_INVALID);
    }
    CHECK(took < 10000);
    /* After its final state the request's local buffer is not written any more. */
    REQUIRE(xc_set(local, 0xA5, 8 * XC_MIB));

    /* A request without a timeout stays WAITING while the peer is stopped ... */
    adxl_transfer_op_desc_t d2 = {(uintptr_t)(local + 8 * XC_MIB), (uintptr_t)(peer.addr + 4096),
                                  XC_MIB};
    REQUIRE(xc_set(local + 8 * XC_MIB, 0, XC_MIB));
    req = NULL;
    CHECK_STATUS(adxl_transfer_async(e, peer.name, ADXL_READ, &d2, 1, NULL, &req), ADXL_SUCCESS);
    REQUIRE(req != NULL);
    uint64_t until = tu_now_ms() + 300;
    int waiting = 0, polls = 0;
    while (tu_now_ms() < until) {
        s = ADXL_TRANSFER_FAILED;
        CHECK_STATUS(adxl_get_transfer_status(e, req, &s), ADXL_SUCCESS);
        polls++;
        if (s == ADXL_TRANSFER_WAITING)
            waiting++;
        else
            break;
        tu_sleep_ms(5);
    }
    CHECK(waiting == polls);
    /* ... and completes once it runs again. */
    REQUIRE(tu_cont_child(peer.ch.pid));
    if (waiting == polls) {
        s = tu_wait_req(e, req, 20000);
        CHECK(s == ADXL_TRANSFER_COMPLETED);
        uint8_t *got = xc_read_back(local + 8 * XC_MIB, XC_MIB);
        REQUIRE(got != NULL);
        bool ok = true;
        for (size_t i = 0; i < XC_MIB && ok; i++)
            ok = got[i] == tu_pattern_byte(81, 4096 + i);
        free(got);
        CHECK(ok);
    }
    CHECK(xc_peer_ping(&peer, 20000));
    /* New transfers work, and the timed-out request never wrote its buffer. */
    for (int k = 0; k < 3; k++) {
        req = NULL;
        adxl_transfer_op_desc_t d3 = {(uintptr_t)(local + 9 * XC_MIB), (uintptr_t)peer.addr,
                                      4 * XC_MIB};
        CHECK_STATUS(adxl_transfer_async(e, peer.name, ADXL_READ, &d3, 1, NULL, &req),
                     ADXL_SUCCESS);
        REQUIRE(req != NULL);
        CHECK(tu_wait_req(e, req, 20000) == ADXL_TRANSFER_COMPLETED);
        CHECK(xc_verify(local + 9 * XC_MIB, 4 * XC_MIB, 81));
    }
    bool intact = true;
    uint64_t watch_until = tu_now_ms() + 300;
    do {
        intact = xc_all_bytes(local, 8 * XC_MIB, 0xA5);
    } while (intact && tu_now_ms() < watch_until);
    CHECK(intact);

    adxl_engine_destroy(e);
    CHECK(xc_peer_stop(&peer) == 0);
    xc_free(local);
}

/* A 1 MiB pool and 64 outstanding buffered requests of 200 KiB each (12.5 MiB): most of
 * them wait for a transit buffer, all complete with the right data. */
static void many_tiny_pool(void) {
    enum { N = 64 };
    const size_t len = 200 * XC_KIB, slot = 256 * XC_KIB;
    const adxl_option_t tiny[] = {{"BufferPool", "1:1"}};
    xc_pair_t p;
    REQUIRE(xc_pair_open_opts(&p, tiny, 1, tiny, 1, N * slot, true, N * slot));
    adxl_transfer_req_t reqs[N];
    for (int i = 0; i < N; i++) {
        adxl_transfer_op_t op = i % 2 ? ADXL_READ : ADXL_WRITE;
        uint8_t *l = p.lbuf + (size_t)i * slot;
        uint8_t *r = p.rbuf + (size_t)(N - 1 - i) * slot;
        REQUIRE(xc_fill(op == ADXL_WRITE ? l : r, len, 8000 + (uint64_t)i));
        REQUIRE(xc_fill_inverse(op == ADXL_WRITE ? r : l, len, 8000 + (uint64_t)i));
        adxl_transfer_op_desc_t d = {(uintptr_t)l, (uintptr_t)r, len};
        adxl_transfer_args_t args = {.timeout_ms = i % 4 == 0 ? 60000 : 0, .user_data = NULL};
        reqs[i] = NULL;
        CHECK_STATUS(adxl_transfer_async(p.init, p.tname, op, &d, 1, &args, &reqs[i]),
                     ADXL_SUCCESS);
    }
    int completed = 0, bad = 0;
    for (int i = 0; i < N; i++) {
        if (!reqs[i]) continue;
        adxl_transfer_status_t s = tu_wait_req(p.init, reqs[i], 30000);
        if (s != ADXL_TRANSFER_COMPLETED) {
            fprintf(stderr, "tiny pool: request %d ended in state %d\n", i, (int)s);
            continue;
        }
        completed++;
        adxl_transfer_op_t op = i % 2 ? ADXL_READ : ADXL_WRITE;
        uint8_t *dst =
            op == ADXL_WRITE ? p.rbuf + (size_t)(N - 1 - i) * slot : p.lbuf + (size_t)i * slot;
        if (!xc_verify(dst, len, 8000 + (uint64_t)i)) bad++;
    }
    CHECK(completed == N);
    CHECK(bad == 0);
    xc_pair_close(&p);
}

int main(void) {
    /* The peer process first, before this process has any engine threads. */
    stopped_peer();

    xc_pair_t p;
    REQUIRE(xc_pair_open(&p, 16 * XC_MIB, true, 16 * XC_MIB));
    single(&p);
    many(&p);
    /* and once more, on the same link, to see that nothing was left behind */
    many(&p);
    xc_pair_close(&p);
    many_tiny_pool();
    return tu_finish();
}
