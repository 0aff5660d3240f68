/*
 * Transfers with peers in other processes: the parent WRITEs and the child checks its
 * memory; the child fills and the parent READs; scattered batches; two peers at once;
 * the child as initiator towards the parent; a refused range; disconnect and reconnect.
 * Device variants: device memory on both sides, every device byte mapped over CUDA's
 * IPC or else staged (the stats say which); the unregistered buffer stays host memory.
 */
#include "xfer_common.h"

#define A_SIZE (32 * XC_MIB)
#define B_SIZE (8 * XC_MIB)
#define L_SIZE (32 * XC_MIB)

static adxl_engine_t *e;
static uint8_t *local;

static void write_then_peer_verifies(xc_peer_t *peer, size_t loff, size_t roff, size_t len,
                                     uint64_t seed, int want_direct) {
    REQUIRE(xc_fill(local + loff, len, seed));
    REQUIRE(xc_peer_fill(peer, seed + 1, roff - 16, 16));
    REQUIRE(xc_peer_inv(peer, seed, roff, len));
    REQUIRE(xc_peer_fill(peer, seed + 2, roff + len, 16));
    adxl_stats_t before = xc_stats(e);
    adxl_status_t st = xc_xfer1(e, peer->name, ADXL_WRITE, local + loff,
                                (uintptr_t)(peer->addr + roff), len, 30000);
    adxl_stats_t after = xc_stats(e);
    if (st != ADXL_SUCCESS) fprintf(stderr, "WRITE of %zu bytes to %s failed\n", len, peer->name);
    CHECK_STATUS(st, ADXL_SUCCESS);
    bool ok = xc_peer_verify(peer, seed, roff, len);
    if (!ok) fprintf(stderr, "peer holds wrong data after WRITE of %zu bytes\n", len);
    CHECK(ok);
    /* the 16 bytes on each side still hold what they held */
    CHECK(xc_peer_verify(peer, seed + 1, roff - 16, 16));
    CHECK(xc_peer_verify(peer, seed + 2, roff + len, 16));
    if (after.batches_direct - before.batches_direct != (uint64_t)want_direct)
        fprintf(stderr, "WRITE of %zu bytes to %s: wrong mode\n", len, peer->name);
    XC_CHECK_MODE_DELTA(before, after, want_direct, 1 - want_direct);
    XC_CHECK_DEVICE_PEER_DELTA(before, after, len);
}

static void peer_fills_then_read(xc_peer_t *peer, size_t loff, size_t roff, size_t len,
                                 uint64_t seed, int want_direct) {
    REQUIRE(xc_peer_fill(peer, seed, roff, len));
    REQUIRE(xc_fill_inverse(local + loff, len, seed));
    REQUIRE(xc_fill(local + loff + len, 16, seed + 1));
    adxl_stats_t before = xc_stats(e);
    adxl_status_t st = xc_xfer1(e, peer->name, ADXL_READ, local + loff,
                                (uintptr_t)(peer->addr + roff), len, 30000);
    adxl_stats_t after = xc_stats(e);
    if (st != ADXL_SUCCESS) fprintf(stderr, "READ of %zu bytes from %s failed\n", len, peer->name);
    CHECK_STATUS(st, ADXL_SUCCESS);
    CHECK(xc_verify(local + loff, len, seed));
    CHECK(xc_verify(local + loff + len, 16, seed + 1));
    if (after.batches_direct - before.batches_direct != (uint64_t)want_direct)
        fprintf(stderr, "READ of %zu bytes from %s: wrong mode\n", len, peer->name);
    XC_CHECK_MODE_DELTA(before, after, want_direct, 1 - want_direct);
    XC_CHECK_DEVICE_PEER_DELTA(before, after, len);
}

static void scattered(xc_peer_t *peer, size_t n, size_t slot, uint64_t seed) {
    adxl_transfer_op_desc_t *d = calloc(n, sizeof(*d));
    size_t *perm = calloc(n, sizeof(size_t));
    size_t *lens = calloc(n, sizeof(size_t));
    size_t *skew = calloc(n, sizeof(size_t));
    REQUIRE(d && perm && lens && skew);
    uint64_t rng = seed;
    xc_shuffle(perm, n, &rng);

    /* WRITE: local slot perm[i] (own seed each) -> start of remote slot i */
    for (size_t k = 0; k < n; k++)
        REQUIRE(xc_fill(local + k * slot, slot, seed + 10 + k));
    REQUIRE(xc_peer_fill(peer, seed + 5, 0, n * slot));
    for (size_t i = 0; i < n; i++) {
        lens[i] = xc_rand_range(&rng, 1, slot);
        d[i] = (adxl_transfer_op_desc_t){(uintptr_t)(local + perm[i] * slot),
                                         (uintptr_t)(peer->addr + i * slot), lens[i]};
    }
    CHECK_STATUS(adxl_transfer_sync(e, peer->name, ADXL_WRITE, d, n, 30000), ADXL_SUCCESS);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (!xc_peer_verify(peer, seed + 10 + perm[i], i * slot, lens[i])) bad++;
    }
    if (bad) fprintf(stderr, "scattered WRITE of %zu descriptors: %zu wrong\n", n, bad);
    CHECK(bad == 0);

    /* READ: remote slot i (at a skew) -> local slot perm[i] */
    REQUIRE(xc_peer_fill(peer, seed + 6, 0, n * slot));
    REQUIRE(xc_set(local, 0, n * slot));
    for (size_t i = 0; i < n; i++) {
        lens[i] = xc_rand_range(&rng, 1, slot);
        skew[i] = xc_rand_range(&rng, 0, slot - lens[i]);
        d[i] = (adxl_transfer_op_desc_t){(uintptr_t)(local + perm[i] * slot),
                                         (uintptr_t)(peer->addr + i * slot + skew[i]), lens[i]};
    }
    CHECK_STATUS(adxl_transfer_sync(e, peer->name, ADXL_READ, d, n, 30000), ADXL_SUCCESS);
    uint8_t *landed = xc_read_back(local, n * slot);
    REQUIRE(landed != NULL);
    bad = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *got = landed + perm[i] * slot;
        for (size_t k = 0; k < lens[i]; k++) {
            if (got[k] != tu_pattern_byte(seed + 6, i * slot + skew[i] + k)) {
                bad++;
                break;
            }
        }
        for (size_t k = lens[i]; k < slot; k++) {
            if (got[k] != 0) {
                bad++;
                break;
            }
        }
    }
    if (bad) fprintf(stderr, "scattered READ of %zu descriptors: %zu wrong\n", n, bad);
    CHECK(bad == 0);
    free(landed);
    free(d);
    free(perm);
    free(lens);
    free(skew);
}

int main(void) {
    /* Peers first, before this process has engine threads. */
    xc_peer_cfg_t cfg_a = {NULL, 0, A_SIZE};
    xc_peer_cfg_t cfg_b = {NULL, 0, B_SIZE};
    xc_peer_t a, b;
    REQUIRE(xc_peer_start(&a, &cfg_a));
    REQUIRE(xc_peer_start(&b, &cfg_b));

    e = xc_engine(NULL, 0);
    REQUIRE(e != NULL);
    local = xc_alloc(L_SIZE);
    REQUIRE(local != NULL);
    adxl_mem_handle_t lh = xc_register(e, local, L_SIZE);
    REQUIRE(lh != NULL);
    CHECK_STATUS(adxl_connect(e, a.name, 10000), ADXL_SUCCESS);

    static const size_t lens[] = {
        1,          7, 4096 + 5, XC_DIRECT_MIN - 1, XC_DIRECT_MIN, 300 * XC_KIB, 8 * XC_MIB + 1,
        24 * XC_MIB};
    uint64_t seed = 100;
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        int direct = lens[i] >= XC_DIRECT_MIN;
        write_then_peer_verifies(&a, 3, 4096 + 1, lens[i], seed, direct);
        seed += 10;
        peer_fills_then_read(&a, 5, 4096 + 7, lens[i], seed, direct);
        seed += 10;
    }
    scattered(&a, 1, 4096, 1000);
    scattered(&a, 16, 64 * XC_KIB, 2000);
    scattered(&a, 256, 16 * XC_KIB, 3000);
    scattered(&a, 64, 300 * XC_KIB, 4000);

    /* A remote range past the peer's region: refused, the peer's memory untouched. */
    REQUIRE(xc_peer_fill(&a, 50, A_SIZE - XC_MIB, XC_MIB));
    REQUIRE(xc_fill(local, 8192, 51));
    CHECK_STATUS(
        xc_xfer1(e, a.name, ADXL_WRITE, local, (uintptr_t)(a.addr + A_SIZE - 4096), 8192, 10000),
        ADXL_PARAM_INVALID);
    CHECK(xc_peer_verify(&a, 50, A_SIZE - XC_MIB, XC_MIB));
    CHECK_STATUS(xc_xfer1(e, a.name, ADXL_READ, local, (uintptr_t)(a.addr + A_SIZE), 100, 10000),
                 ADXL_PARAM_INVALID);
    adxl_stats_t sa, mine = xc_stats(e);
    CHECK(xc_peer_stats(&a, &sa));
    CHECK(sa.frames_served > 0 || tu_frameless_bytes(&mine) > 0);

    /* Two peers at once, transfers interleaved. */
    CHECK_STATUS(adxl_connect(e, b.name, 10000), ADXL_SUCCESS);
    for (int k = 0; k < 6; k++) {
        xc_peer_t *peer = k % 2 ? &b : &a;
        size_t len = k < 3 ? 100000 : 2 * XC_MIB;
        write_then_peer_verifies(peer, 64 * XC_KIB * (size_t)k + 1, 4096 * 3, len, seed,
                                 len >= XC_DIRECT_MIN);
        seed += 10;
        peer_fills_then_read(peer, 64 * XC_KIB * (size_t)k + 9, 4096 * 5, len, seed,
                             len >= XC_DIRECT_MIN);
        seed += 10;
    }

    /* The child as initiator: it connects to this engine, writes into and reads from it.
     * This process touches pbuf only while the child is idle (ordered through the pipe,
     * which TSan cannot see). */
    {
        char cmd[512];
        uint8_t *pbuf = xc_alloc(8 * XC_MIB);
        REQUIRE(pbuf != NULL);
        adxl_mem_handle_t ph = xc_register(e, pbuf, 8 * XC_MIB);
        REQUIRE(ph != NULL);
        snprintf(cmd, sizeof(cmd), "connect %s", adxl_local_engine(e));
        CHECK_STATUS(xc_peer_status_cmd(&a, cmd), ADXL_SUCCESS);
        REQUIRE(xc_peer_fill(&a, 70, 0, 3 * XC_MIB));
        XC_EXTERNALLY_ORDERED_BEGIN();
        REQUIRE(xc_set(pbuf, 0, 4 * XC_MIB));
        REQUIRE(xc_fill(pbuf + 4 * XC_MIB, 5000, 71));
        XC_EXTERNALLY_ORDERED_END();
        snprintf(cmd, sizeof(cmd), "write %s 0 %" PRIuPTR " %zu", adxl_local_engine(e),
                 (uintptr_t)(pbuf + 11), 3 * XC_MIB);
        adxl_stats_t before = xc_stats(e);
        CHECK_STATUS(xc_peer_status_cmd(&a, cmd), ADXL_SUCCESS);
        snprintf(cmd, sizeof(cmd), "read %s 4096 %" PRIuPTR " %d", adxl_local_engine(e),
                 (uintptr_t)(pbuf + 4 * XC_MIB), 5000);
        CHECK_STATUS(xc_peer_status_cmd(&a, cmd), ADXL_SUCCESS);
        CHECK(xc_peer_verify(&a, 71, 4096, 5000));
        XC_EXTERNALLY_ORDERED_BEGIN();
        bool written = xc_verify(pbuf + 11, 3 * XC_MIB, 70);
        uint8_t before_it = 1, after_it = 1;
        bool around = xc_get(&before_it, pbuf + 10, 1) &&
                      xc_get(&after_it, pbuf + 11 + 3 * XC_MIB, 1) && before_it == 0 &&
                      after_it == 0;
        XC_EXTERNALLY_ORDERED_END();
        CHECK(written);
        CHECK(around);
        adxl_stats_t after = xc_stats(e), child;
        CHECK(xc_peer_stats(&a, &child));
        CHECK(after.frames_served > before.frames_served || tu_frameless_bytes(&child) > 0);
        /* this engine initiated nothing there */
        CHECK(after.batches_direct == before.batches_direct);
        CHECK(after.batches_buffered == before.batches_buffered);
        /* and the child cannot reach memory this engine did not register */
        uint8_t *unreg = malloc(8192);
        REQUIRE(unreg != NULL);
        tu_fill(unreg, 8192, 72);
        snprintf(cmd, sizeof(cmd), "write %s 0 %" PRIuPTR " %d", adxl_local_engine(e),
                 (uintptr_t)unreg, 8192);
        CHECK_STATUS(xc_peer_status_cmd(&a, cmd), ADXL_PARAM_INVALID);
        CHECK(tu_verify(unreg, 8192, 72));
        free(unreg);
        CHECK_STATUS(adxl_deregister_mem(e, ph), ADXL_SUCCESS);
        XC_EXTERNALLY_ORDERED_BEGIN();
        xc_free(pbuf);
        XC_EXTERNALLY_ORDERED_END();
    }

    /* Disconnect and reconnect. */
    CHECK_STATUS(adxl_disconnect(e, a.name, 5000), ADXL_SUCCESS);
    CHECK_STATUS(xc_xfer1(e, a.name, ADXL_WRITE, local, (uintptr_t)a.addr, 100, 5000),
                 ADXL_NOT_CONNECTED);
    CHECK_STATUS(adxl_connect(e, a.name, 10000), ADXL_SUCCESS);
    write_then_peer_verifies(&a, 0, 4096, XC_MIB, seed, 1);
    peer_fills_then_read(&a, 0, 4096, 1000, seed + 10, 0);

    adxl_engine_destroy(e);
    CHECK(xc_peer_stop(&a) == 0);
    CHECK(xc_peer_stop(&b) == 0);
    xc_free(local);
    return tu_finish();
}
