/*
 * A peer process stopped with SIGSTOP: a sync transfer with a 300 ms timeout returns
 * ADXL_TIMEOUT within a generous bound; after SIGCONT the link still works (the stop is far
 * shorter than PeerTimeoutMs, default 5000), and the timed-out call's local buffer is never
 * touched again: a READ never writes it after the return (a sentinel stays intact), a
 * WRITE never sends what the buffer holds after the return (the peer holds its old data,
 * the data the buffer held during the call, or zeros where an abandoned frame was padded,
 * never the new contents). Direct and buffered, READ and WRITE.
 *
 * Over the shm transport's mapped and CMA paths a transfer needs no work by the target's
 * process, so against a stopped target it completes, with exact data: that is checked
 * instead when the link turns out to be one-sided.
 * Device variants: the registered buffers are device memory, the unregistered one stays
 * host memory; over CUDA's IPC (same host) the link is one-sided, otherwise staged.
 */
#include "xfer_common.h"

#define PEER_SIZE (64 * XC_MIB)
#define BIG (32 * XC_MIB)
#define SHORT_TIMEOUT 300
#define BOUND 10000

static adxl_engine_t *e;
static xc_peer_t peer;
static uint8_t *reg_local;   /* registered: direct */
static uint8_t *unreg_local; /* plain malloc: buffered */
static bool one_sided;       /* the link moves bytes without the target's help */

static void link_works(uint64_t seed) {
    /* A few transfers in a region away from the timed-out one. */
    for (int k = 0; k < 3; k++) {
        uint8_t *l = reg_local + BIG + 4096;
        REQUIRE(xc_peer_fill(&peer, seed + (uint64_t)k, BIG + 8192, 4 * XC_MIB));
        REQUIRE(xc_fill_inverse(l, 4 * XC_MIB, seed + (uint64_t)k));
        adxl_status_t st = xc_xfer1(e, peer.name, ADXL_READ, l, (uintptr_t)(peer.addr + BIG + 8192),
                                    4 * XC_MIB, 20000);
        if (st != ADXL_SUCCESS) fprintf(stderr, "transfer after SIGCONT failed\n");
        CHECK_STATUS(st, ADXL_SUCCESS);
        CHECK(xc_verify(l, 4 * XC_MIB, seed + (uint64_t)k));
    }
}

static void timed_out_read(uint8_t *buf, size_t len, const char *what) {
    REQUIRE(xc_peer_fill(&peer, 11, 0, len));
    REQUIRE(xc_set(buf, 0, len));
    REQUIRE(tu_stop_child(peer.ch.pid));
    uint64_t t0 = tu_now_ms();
    adxl_status_t st =
        xc_xfer1(e, peer.name, ADXL_READ, buf, (uintptr_t)peer.addr, len, SHORT_TIMEOUT);
    uint64_t took = tu_now_ms() - t0;
    if (one_sided) {
        CHECK_STATUS(st, ADXL_SUCCESS);
        CHECK(xc_verify(buf, len, 11));
        REQUIRE(tu_cont_child(peer.ch.pid));
        CHECK(xc_peer_ping(&peer, 20000));
        return;
    }
    /* From here on the engine must leave buf alone. */
    REQUIRE(xc_set(buf, 0x5A, len));
    if (st != ADXL_TIMEOUT)
        fprintf(stderr, "%s: READ against a stopped peer returned %s after %" PRIu64 " ms\n", what,
                adxl_status_str(st), took);
    CHECK_STATUS(st, ADXL_TIMEOUT);
    CHECK(took < BOUND);
    REQUIRE(tu_cont_child(peer.ch.pid));
    CHECK(xc_peer_ping(&peer, 20000));
    link_works(200);
    bool intact = true;
    uint64_t until = tu_now_ms() + 300;
    do {
        intact = xc_all_bytes(buf, len, 0x5A);
    } while (intact && tu_now_ms() < until);
    if (!intact) fprintf(stderr, "%s: the timed-out READ wrote its buffer after returning\n", what);
    CHECK(intact);
}

static void timed_out_write(uint8_t *buf, size_t len, const char *what) {
    REQUIRE(xc_peer_fill(&peer, 21, 0, len)); /* the peer's old data */
    REQUIRE(xc_fill(buf, len, 22));           /* what the buffer holds during the call */
    REQUIRE(tu_stop_child(peer.ch.pid));
    uint64_t t0 = tu_now_ms();
    adxl_status_t st =
        xc_xfer1(e, peer.name, ADXL_WRITE, buf, (uintptr_t)peer.addr, len, SHORT_TIMEOUT);
    uint64_t took = tu_now_ms() - t0;
    if (one_sided) {
        CHECK_STATUS(st, ADXL_SUCCESS);
        REQUIRE(tu_cont_child(peer.ch.pid));
        CHECK(xc_peer_ping(&peer, 20000));
        CHECK(xc_peer_verify(&peer, 22, 0, len));
        return;
    }
    /* From here on the engine must not send from buf any more. */
    REQUIRE(xc_fill(buf, len, 23));
    if (st != ADXL_TIMEOUT)
        fprintf(stderr, "%s: WRITE against a stopped peer returned %s after %" PRIu64 " ms\n", what,
                adxl_status_str(st), took);
    CHECK_STATUS(st, ADXL_TIMEOUT);
    CHECK(took < BOUND);
    REQUIRE(tu_cont_child(peer.ch.pid));
    CHECK(xc_peer_ping(&peer, 20000));
    link_works(300);
    size_t late = xc_peer_count_late(&peer, 21, 22, 23, 0, len);
    if (late)
        fprintf(stderr, "%s: the peer received %zu bytes written to the buffer after the return\n",
                what, late);
    CHECK(late == 0);
}

static void phase(xc_peer_t *pp, const adxl_option_t *opts, size_t nopts, const char *cfg) {
    peer = *pp;
    e = xc_engine(opts, nopts);
    REQUIRE(e != NULL);
    adxl_mem_handle_t h = xc_register(e, reg_local, BIG + 8 * XC_MIB);
    REQUIRE(h != NULL);
    CHECK_STATUS(adxl_connect(e, peer.name, 10000), ADXL_SUCCESS);
    adxl_stats_t before = xc_stats(e);
    link_works(100);
    adxl_stats_t after = xc_stats(e);
    one_sided = tu_one_sided_bytes(&after) > tu_one_sided_bytes(&before);
    /* With device memory on both sides the link is one-sided exactly over CUDA's IPC;
     * otherwise every device byte of link_works' three 4 MiB READs is staged. */
    XC_CHECK_DEVICE_PEER_DELTA(before, after, 3 * 4 * XC_MIB);
    if (xc_device_run()) CHECK(one_sided == xc_device_ipc());
    printf("  %s: %s\n", cfg,
           one_sided ? "one-sided link: a stopped peer completes transfers"
                     : "a stopped peer holds transfers");

    char what[128];
    snprintf(what, sizeof(what), "%s, direct", cfg);
    timed_out_read(reg_local, BIG, what);
    timed_out_write(reg_local, BIG, what);
    snprintf(what, sizeof(what), "%s, buffered", cfg);
    timed_out_read(unreg_local, BIG, what);
    timed_out_write(unreg_local, BIG, what);

    /* The link survived all four stops. */
    adxl_stats_t s = xc_stats(e);
    CHECK(s.links_dropped == 0);
    link_works(400);
    adxl_engine_destroy(e);
    *pp = peer;
}

int main(void) {
    /* Peers first, before this process has engine threads. The second one (and its
     * initiator) uses small socket buffers, so that a stop catches frames half sent. */
    static const adxl_option_t small[] = {{"TcpSocketBufferKB", "64"}};
    xc_peer_cfg_t cfg = {NULL, 0, PEER_SIZE};
    xc_peer_cfg_t cfg_small = {small, 1, PEER_SIZE};
    xc_peer_t p1, p2;
    REQUIRE(xc_peer_start(&p1, &cfg));
    REQUIRE(xc_peer_start(&p2, &cfg_small));
    reg_local = xc_alloc(BIG + 8 * XC_MIB);
    unreg_local = malloc(BIG);
    REQUIRE(reg_local && unreg_local);

    phase(&p1, NULL, 0, "default socket buffers");
    phase(&p2, small, 1, "64 KiB socket buffers");

    CHECK(xc_peer_stop(&p1) == 0);
    CHECK(xc_peer_stop(&p2) == 0);
    xc_free(reg_local);
    free(unreg_local);
    return tu_finish();
}
