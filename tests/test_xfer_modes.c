/*
 * Direct versus buffered mode: which batches go which way with the default pool (4:8),
 * with the pool off ("0:0"), and with a tiny pool ("1:1"), counted by adxl_get_stats;
 * batches larger than the whole pool; unregistered local memory with and without a pool.
 * Device variants: registered memory is device memory, unregistered memory stays host
 * memory (ADXL's rule), and a batch mixing the two in buffered mode is refused.
 */
#include "xfer_common.h"

static uint64_t seed_counter = 500;

/*
 * n descriptors of len bytes each (the first one first_len bytes when nonzero), local at
 * lbase + i * stride (+ a small skew), remote at rbase + (n - 1 - i) * stride (reversed).
 * Checks the status, the data and the mode counters.
 */
static void batch(adxl_engine_t *init, const char *tname, adxl_transfer_op_t op, uint8_t *lbase,
                  uint8_t *rbase, size_t n, size_t len, size_t first_len, size_t stride,
                  int want_direct, int want_buffered, const char *what) {
    adxl_transfer_op_desc_t *d = calloc(n, sizeof(*d));
    REQUIRE(d != NULL);
    uint64_t seed = seed_counter;
    seed_counter += n + 1;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = i == 0 && first_len ? first_len : len;
        REQUIRE(l + 3 <= stride);
        d[i].local_addr = (uintptr_t)(lbase + i * stride + (i % 3));
        d[i].remote_addr = (uintptr_t)(rbase + (n - 1 - i) * stride + (i % 2));
        d[i].len = l;
        total += l;
        uint8_t *s = (uint8_t *)(op == ADXL_WRITE ? d[i].local_addr : d[i].remote_addr);
        uint8_t *t = (uint8_t *)(op == ADXL_WRITE ? d[i].remote_addr : d[i].local_addr);
        REQUIRE(xc_fill(s, l, seed + i));
        REQUIRE(xc_fill_inverse(t, l, seed + i));
    }
    adxl_stats_t before = xc_stats(init);
    adxl_status_t st = adxl_transfer_sync(init, tname, op, d, n, 60000);
    adxl_stats_t after = xc_stats(init);
    if (st != ADXL_SUCCESS)
        fprintf(stderr, "case '%s' (%s) failed\n", what, op == ADXL_WRITE ? "WRITE" : "READ");
    CHECK_STATUS(st, ADXL_SUCCESS);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t *t = (uint8_t *)(op == ADXL_WRITE ? d[i].remote_addr : d[i].local_addr);
        if (!xc_verify(t, d[i].len, seed + i)) bad++;
    }
    if (bad)
        fprintf(stderr, "case '%s' (%s): %zu of %zu descriptors hold wrong data\n", what,
                op == ADXL_WRITE ? "WRITE" : "READ", bad, n);
    CHECK(bad == 0);
    if (after.batches_direct - before.batches_direct != (uint64_t)want_direct ||
        after.batches_buffered - before.batches_buffered != (uint64_t)want_buffered)
        fprintf(stderr, "case '%s' (%s): wrong mode\n", what, op == ADXL_WRITE ? "WRITE" : "READ");
    XC_CHECK_MODE_DELTA(before, after, want_direct, want_buffered);
    if (op == ADXL_WRITE)
        CHECK(after.bytes_written - before.bytes_written == total);
    else
        CHECK(after.bytes_read - before.bytes_read == total);
    free(d);
}

static void both(adxl_engine_t *init, const char *tname, uint8_t *lbase, uint8_t *rbase, size_t n,
                 size_t len, size_t first_len, size_t stride, int want_direct, int want_buffered,
                 const char *what) {
    batch(init, tname, ADXL_WRITE, lbase, rbase, n, len, first_len, stride, want_direct,
          want_buffered, what);
    batch(init, tname, ADXL_READ, lbase, rbase, n, len, first_len, stride, want_direct,
          want_buffered, what);
}

static void default_pool(void) {
    /* Local: 16 MiB registered; plus 48 MiB never registered (host memory, as ADXL takes
     * unregistered memory to be). Remote: 48 MiB registered. */
    xc_pair_t p;
    REQUIRE(xc_pair_open(&p, 16 * XC_MIB, true, 48 * XC_MIB));
    uint8_t *unreg = xc_alloc_host(48 * XC_MIB);
    REQUIRE(unreg != NULL);

    both(p.init, p.tname, p.lbuf, p.rbuf, 4, 4 * XC_KIB, 0, 8 * XC_KIB, 0, 1, "small");
    both(p.init, p.tname, p.lbuf, p.rbuf, 1, XC_DIRECT_MIN - 1, 0, 300 * XC_KIB, 0, 1,
         "just under 256 KiB");
    both(p.init, p.tname, p.lbuf, p.rbuf, 1, XC_DIRECT_MIN, 0, 300 * XC_KIB, 1, 0,
         "exactly 256 KiB");
    both(p.init, p.tname, p.lbuf, p.rbuf, 4, XC_MIB, 0, XC_MIB + 4096, 1, 0, "large");
    both(p.init, p.tname, p.lbuf, p.rbuf, 8, XC_MIB, 100, XC_MIB + 4096, 0, 1,
         "large with one small descriptor");
    both(p.init, p.tname, p.lbuf, p.rbuf, 8, XC_MIB, XC_DIRECT_MIN - 1, XC_MIB + 4096, 0, 1,
         "large with one just under 256 KiB");
    /* Unregistered local memory: buffered whatever the sizes. */
    both(p.init, p.tname, unreg, p.rbuf, 4, XC_MIB, 0, XC_MIB + 4096, 0, 1, "large unregistered");
    both(p.init, p.tname, unreg, p.rbuf, 16, 1000, 0, 4096, 0, 1, "small unregistered");
    /* One descriptor in registered and one in unregistered local memory: buffered. In a
     * device run the registered one is device memory and the other host memory, and a
     * buffered batch must be all host or all device local memory: refused, nothing moves. */
    {
        adxl_transfer_op_desc_t d[2] = {
            {(uintptr_t)p.lbuf, (uintptr_t)p.rbuf, XC_MIB},
            {(uintptr_t)(unreg + 5), (uintptr_t)(p.rbuf + 2 * XC_MIB), XC_MIB}};
        bool mixed = xc_device_run();
        REQUIRE(xc_fill(p.lbuf, XC_MIB, 31));
        REQUIRE(xc_fill(unreg + 5, XC_MIB, 32));
        REQUIRE(xc_fill(p.rbuf, 3 * XC_MIB, 33));
        adxl_stats_t before = xc_stats(p.init);
        CHECK_STATUS(adxl_transfer_sync(p.init, p.tname, ADXL_WRITE, d, 2, 30000),
                     mixed ? ADXL_PARAM_INVALID : ADXL_SUCCESS);
        adxl_stats_t after = xc_stats(p.init);
        if (mixed) {
            CHECK(xc_verify(p.rbuf, 3 * XC_MIB, 33));
        } else {
            CHECK(xc_verify(p.rbuf, XC_MIB, 31));
            CHECK(xc_verify(p.rbuf + 2 * XC_MIB, XC_MIB, 32));
        }
        XC_CHECK_MODE_DELTA(before, after, 0, mixed ? 0 : 1);
    }
    /* Larger than the whole pool (4 x 8 MiB): 48 MiB unregistered, 40 MiB of small
     * registered descriptors. */
    both(p.init, p.tname, unreg, p.rbuf, 3, 16 * XC_MIB - 8, 0, 16 * XC_MIB, 0, 1,
         "48 MiB unregistered");
    both(p.init, p.tname, p.lbuf, p.rbuf, 64, 250 * XC_KIB, 0, XC_DIRECT_MIN, 0, 1,
         "64 small registered descriptors");
    {
        /* 160 x 250 KiB = 40 MiB from the unregistered buffer */
        both(p.init, p.tname, unreg, p.rbuf, 160, 250 * XC_KIB, 0, 300 * XC_KIB, 0, 1,
             "40 MiB of small unregistered descriptors");
    }
    /* Everything still direct afterwards. */
    both(p.init, p.tname, p.lbuf, p.rbuf, 2, 4 * XC_MIB, 0, 4 * XC_MIB + 4096, 1, 0,
         "large after the rest");

    xc_free(unreg);
    xc_pair_close(&p);
}

static void pool_off(void) {
    const adxl_option_t off[] = {{"BufferPool", "0:0"}};
    xc_pair_t p;
    REQUIRE(xc_pair_open_opts(&p, off, 1, off, 1, 16 * XC_MIB, true, 16 * XC_MIB));
    uint8_t *unreg = malloc(4 * XC_MIB);
    REQUIRE(unreg != NULL);

    both(p.init, p.tname, p.lbuf, p.rbuf, 1, 1, 0, 8, 1, 0, "pool off, 1 byte");
    both(p.init, p.tname, p.lbuf, p.rbuf, 16, 4 * XC_KIB, 0, 8 * XC_KIB, 1, 0, "pool off, small");
    both(p.init, p.tname, p.lbuf, p.rbuf, 4096, 1000, 0, 4 * XC_KIB, 1, 0, "pool off, 4096 small");
    both(p.init, p.tname, p.lbuf, p.rbuf, 20000, 10, 0, 16, 1, 0, "pool off, 20000 tiny");
    both(p.init, p.tname, p.lbuf, p.rbuf, 4, 2 * XC_MIB, 0, 2 * XC_MIB + 4096, 1, 0,
         "pool off, large");
    both(p.init, p.tname, p.lbuf, p.rbuf, 4, 2 * XC_MIB, 10, 2 * XC_MIB + 4096, 1, 0,
         "pool off, mixed");

    /* Unregistered local memory without a pool: refused, nothing moves. */
    for (int op = ADXL_READ; op <= ADXL_WRITE; op++) {
        static const size_t lens[] = {100, 200 * XC_KIB, 2 * XC_MIB};
        for (size_t li = 0; li < 3; li++) {
            size_t len = lens[li];
            REQUIRE(xc_fill(unreg, len, 61));
            REQUIRE(xc_fill(p.rbuf, len, 62));
            adxl_stats_t before = xc_stats(p.init);
            CHECK_STATUS(xc_xfer1(p.init, p.tname, (adxl_transfer_op_t)op, unreg, (uintptr_t)p.rbuf,
                                  len, 10000),
                         ADXL_PARAM_INVALID);
            adxl_stats_t after = xc_stats(p.init);
            CHECK(xc_verify(p.rbuf, len, 62));
            CHECK(xc_verify(unreg, len, 61));
            CHECK(after.bytes_read == before.bytes_read);
            CHECK(after.bytes_written == before.bytes_written);
        }
        /* one registered and one unregistered descriptor */
        adxl_transfer_op_desc_t d[2] = {{(uintptr_t)p.lbuf, (uintptr_t)(p.rbuf + XC_MIB), XC_MIB},
                                        {(uintptr_t)unreg, (uintptr_t)p.rbuf, XC_MIB}};
        REQUIRE(xc_fill(p.rbuf, 2 * XC_MIB, 63));
        REQUIRE(xc_fill(p.lbuf, XC_MIB, 64));
        CHECK_STATUS(adxl_transfer_sync(p.init, p.tname, (adxl_transfer_op_t)op, d, 2, 10000),
                     ADXL_PARAM_INVALID);
        if (op == ADXL_WRITE) CHECK(xc_verify(p.rbuf, 2 * XC_MIB, 63));
    }
    /* And the link still works. */
    both(p.init, p.tname, p.lbuf, p.rbuf, 2, 300 * XC_KIB, 0, 400 * XC_KIB, 1, 0,
         "pool off, after refusals");

    free(unreg);
    xc_pair_close(&p);
}

static void tiny_pool(void) {
    /* The key with its "adxl." prefix. */
    const adxl_option_t tiny[] = {{"adxl.BufferPool", "1:1"}};
    xc_pair_t p;
    REQUIRE(xc_pair_open_opts(&p, tiny, 1, tiny, 1, 0, false, 64 * XC_MIB + 4096));
    uint8_t *unreg = malloc(64 * XC_MIB + 4096);
    REQUIRE(unreg != NULL);
    /* One 64 MiB descriptor through a single 1 MiB buffer, both ways. */
    both(p.init, p.tname, unreg, p.rbuf, 1, 64 * XC_MIB, 0, 64 * XC_MIB + 8, 0, 1,
         "tiny pool, 64 MiB");
    /* Many small descriptors, far more than one buffer holds. */
    both(p.init, p.tname, unreg, p.rbuf, 1000, 5000, 0, 8 * XC_KIB, 0, 1, "tiny pool, 1000 small");
    /* Registered local memory, large: direct, the pool plays no part. */
    adxl_mem_handle_t h = xc_register(p.init, unreg, 64 * XC_MIB + 4096);
    REQUIRE(h != NULL);
    both(p.init, p.tname, unreg, p.rbuf, 4, 8 * XC_MIB, 0, 8 * XC_MIB + 4096, 1, 0,
         "tiny pool, registered large");
    CHECK_STATUS(adxl_deregister_mem(p.init, h), ADXL_SUCCESS);
    xc_pair_close(&p);
    free(unreg);
}

/*
 * The target's regions were registered before adxl_connect, so a large batch issued the
 * moment adxl_connect returns is direct, every time: fresh engines and reconnects. The
 * target holds many regions (so that telling the initiator about them takes a moment).
 */
static void direct_right_after_connect(void) {
    enum { NSMALL = 512 };
    int wrong = 0, rounds = 0;
    for (int i = 0; i < 6; i++) {
        adxl_engine_t *tgt = xc_engine(NULL, 0);
        adxl_engine_t *init = xc_engine(NULL, 0);
        REQUIRE(tgt && init);
        char tname[128];
        snprintf(tname, sizeof(tname), "%s", adxl_local_engine(tgt));
        uint8_t *lbuf = xc_alloc(XC_MIB);
        uint8_t *rbuf = xc_alloc(XC_MIB);
        uint8_t *many = xc_alloc(NSMALL * 4096);
        REQUIRE(lbuf && rbuf && many);
        REQUIRE(xc_register(init, lbuf, XC_MIB) != NULL);
        for (int k = 0; k < NSMALL / 2; k++)
            REQUIRE(xc_register(tgt, many + (size_t)k * 4096, 4096) != NULL);
        REQUIRE(xc_register(tgt, rbuf, XC_MIB) != NULL);
        for (int k = NSMALL / 2; k < NSMALL; k++)
            REQUIRE(xc_register(tgt, many + (size_t)k * 4096, 4096) != NULL);
        for (int k = 0; k < 5; k++, rounds++) {
            if (k > 0) CHECK_STATUS(adxl_disconnect(init, tname, 5000), ADXL_SUCCESS);
            CHECK_STATUS(adxl_connect(init, tname, 10000), ADXL_SUCCESS);
            REQUIRE(xc_fill(lbuf, XC_MIB, 900 + (uint64_t)rounds));
            adxl_stats_t before = xc_stats(init);
            CHECK_STATUS(xc_xfer1(init, tname, ADXL_WRITE, lbuf, (uintptr_t)rbuf, XC_MIB, 10000),
                         ADXL_SUCCESS);
            adxl_stats_t after = xc_stats(init);
            CHECK(xc_verify(rbuf, XC_MIB, 900 + (uint64_t)rounds));
            if (after.batches_direct - before.batches_direct != 1) wrong++;
        }
        adxl_engine_destroy(init);
        adxl_engine_destroy(tgt);
        xc_free(lbuf);
        xc_free(rbuf);
        xc_free(many);
    }
    if (wrong)
        fprintf(stderr,
                "%d of %d large registered batches issued right after adxl_connect went "
                "buffered instead of direct\n",
                wrong, rounds);
    CHECK(wrong == 0);
}

int main(void) {
    direct_right_after_connect();
    default_pool();
    pool_off();
    tiny_pool();
    return tu_finish();
}
