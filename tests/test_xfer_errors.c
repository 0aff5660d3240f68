/*
 * Argument checking of adxl_transfer_sync / adxl_transfer_async (ADXL_PARAM_INVALID for
 * each bad argument, nothing moved), ADXL_NOT_CONNECTED without a link (never connected,
 * a name nobody listens on, after disconnect), ADXL_FAILED on an engine that is not
 * initialized, and that the link works normally after all of it.
 * Device variants: device memory on both sides (xfer_mem.h).
 */
#include "xfer_common.h"

static xc_pair_t p;

/* Submits through both entry points; expects want from each and that nothing moved. */
static void both_refuse(const char *remote, int op, const adxl_transfer_op_desc_t *d, size_t n,
                        adxl_status_t want, const char *what) {
    REQUIRE(xc_fill(p.rbuf, 64 * XC_KIB, 1));
    REQUIRE(xc_fill(p.lbuf, 64 * XC_KIB, 2));
    adxl_status_t st = adxl_transfer_sync(p.init, remote, (adxl_transfer_op_t)op, d, n, 5000);
    if (st != want) fprintf(stderr, "sync, case '%s':\n", what);
    CHECK_STATUS(st, want);
    adxl_transfer_req_t req = NULL;
    st = adxl_transfer_async(p.init, remote, (adxl_transfer_op_t)op, d, n, NULL, &req);
    if (st != want) fprintf(stderr, "async, case '%s':\n", what);
    CHECK_STATUS(st, want);
    if (st == ADXL_SUCCESS && req) tu_wait_req(p.init, req, 10000);
    CHECK(xc_verify(p.rbuf, 64 * XC_KIB, 1));
    CHECK(xc_verify(p.lbuf, 64 * XC_KIB, 2));
}

int main(void) {
    REQUIRE(xc_pair_open(&p, XC_MIB, true, XC_MIB));
    const char *t = p.tname;
    adxl_transfer_op_desc_t good = {(uintptr_t)p.lbuf, (uintptr_t)p.rbuf, 4096};
    adxl_transfer_op_desc_t two[2] = {
        good, {(uintptr_t)(p.lbuf + 8192), (uintptr_t)(p.rbuf + 8192), 4096}};
    adxl_transfer_req_t req = NULL;

    /* NULL engine. */
    CHECK_STATUS(adxl_transfer_sync(NULL, t, ADXL_WRITE, &good, 1, 1000), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_transfer_async(NULL, t, ADXL_WRITE, &good, 1, NULL, &req),
                 ADXL_PARAM_INVALID);
    /* NULL remote name, NULL descriptors, no descriptors. */
    for (int op = ADXL_READ; op <= ADXL_WRITE; op++) {
        both_refuse(NULL, op, &good, 1, ADXL_PARAM_INVALID, "NULL remote");
        both_refuse(t, op, NULL, 1, ADXL_PARAM_INVALID, "NULL descriptors");
        both_refuse(t, op, NULL, 0, ADXL_PARAM_INVALID, "NULL descriptors, none");
        both_refuse(t, op, &good, 0, ADXL_PARAM_INVALID, "no descriptors");

        adxl_transfer_op_desc_t bad[2];
        /* zero local address, zero remote address, zero length: in the first and in the
         * second descriptor */
        for (int pos = 0; pos < 2; pos++) {
            memcpy(bad, two, sizeof(bad));
            bad[pos].local_addr = 0;
            both_refuse(t, op, bad, 2, ADXL_PARAM_INVALID, "zero local address");
            memcpy(bad, two, sizeof(bad));
            bad[pos].remote_addr = 0;
            both_refuse(t, op, bad, 2, ADXL_PARAM_INVALID, "zero remote address");
            memcpy(bad, two, sizeof(bad));
            bad[pos].len = 0;
            both_refuse(t, op, bad, 2, ADXL_PARAM_INVALID, "zero length");
        }
    }
    /* An op that is neither READ nor WRITE. */
    both_refuse(t, 2, &good, 1, ADXL_PARAM_INVALID, "op 2");
    both_refuse(t, -1, &good, 1, ADXL_PARAM_INVALID, "op -1");
    both_refuse(t, 1000, &good, 1, ADXL_PARAM_INVALID, "op 1000");

    /* Sync: timeout_ms <= 0. */
    REQUIRE(xc_fill(p.rbuf, 4096, 1));
    REQUIRE(xc_fill(p.lbuf, 4096, 2));
    CHECK_STATUS(adxl_transfer_sync(p.init, t, ADXL_WRITE, &good, 1, 0), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_transfer_sync(p.init, t, ADXL_WRITE, &good, 1, -1), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_transfer_sync(p.init, t, ADXL_READ, &good, 1, -1000), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_transfer_sync(p.init, t, ADXL_READ, &good, 1, INT32_MIN), ADXL_PARAM_INVALID);
    CHECK(xc_verify(p.rbuf, 4096, 1));
    CHECK(xc_verify(p.lbuf, 4096, 2));

    /* Async: NULL req, negative args->timeout_ms. */
    CHECK_STATUS(adxl_transfer_async(p.init, t, ADXL_WRITE, &good, 1, NULL, NULL),
                 ADXL_PARAM_INVALID);
    adxl_transfer_args_t args = {.timeout_ms = -1, .user_data = NULL};
    req = NULL;
    CHECK_STATUS(adxl_transfer_async(p.init, t, ADXL_WRITE, &good, 1, &args, &req),
                 ADXL_PARAM_INVALID);
    args.timeout_ms = INT32_MIN;
    CHECK_STATUS(adxl_transfer_async(p.init, t, ADXL_READ, &good, 1, &args, &req),
                 ADXL_PARAM_INVALID);
    CHECK(xc_verify(p.rbuf, 4096, 1));
    CHECK(xc_verify(p.lbuf, 4096, 2));

    /* Not connected: a name never connected to (a live engine), a name nobody listens
     * on, and the target after a disconnect. */
    adxl_engine_t *other = xc_engine(NULL, 0);
    REQUIRE(other != NULL);
    char other_name[128];
    snprintf(other_name, sizeof(other_name), "%s", adxl_local_engine(other));
    adxl_mem_handle_t oh = NULL;
    uint8_t *obuf = xc_alloc(XC_MIB);
    REQUIRE(obuf != NULL);
    REQUIRE((oh = xc_register(other, obuf, XC_MIB)) != NULL);
    adxl_transfer_op_desc_t to_other = {(uintptr_t)p.lbuf, (uintptr_t)obuf, 4096};
    for (int op = ADXL_READ; op <= ADXL_WRITE; op++) {
        REQUIRE(xc_fill(obuf, 4096, 3));
        REQUIRE(xc_fill(p.lbuf, 4096, 4));
        CHECK_STATUS(
            adxl_transfer_sync(p.init, other_name, (adxl_transfer_op_t)op, &to_other, 1, 1000),
            ADXL_NOT_CONNECTED);
        req = NULL;
        CHECK_STATUS(adxl_transfer_async(p.init, other_name, (adxl_transfer_op_t)op, &to_other, 1,
                                         NULL, &req),
                     ADXL_NOT_CONNECTED);
        CHECK(xc_verify(obuf, 4096, 3));
        CHECK(xc_verify(p.lbuf, 4096, 4));
        /* nobody there at all */
        CHECK_STATUS(
            adxl_transfer_sync(p.init, "127.0.0.1:1", (adxl_transfer_op_t)op, &good, 1, 1000),
            ADXL_NOT_CONNECTED);
        CHECK_STATUS(adxl_transfer_sync(p.init, "[::1]:9", (adxl_transfer_op_t)op, &good, 1, 1000),
                     ADXL_NOT_CONNECTED);
        /* the target's engine itself never connected anywhere */
        adxl_transfer_op_desc_t back = {(uintptr_t)p.rbuf, (uintptr_t)p.lbuf, 4096};
        CHECK_STATUS(adxl_transfer_sync(p.tgt, adxl_local_engine(p.init), (adxl_transfer_op_t)op,
                                        &back, 1, 1000),
                     ADXL_NOT_CONNECTED);
    }
    /* Links are one-way: the other engine connected to us does not let us use its link. */
    CHECK_STATUS(adxl_connect(other, adxl_local_engine(p.init), 10000), ADXL_SUCCESS);
    CHECK_STATUS(adxl_transfer_sync(p.init, other_name, ADXL_WRITE, &to_other, 1, 1000),
                 ADXL_NOT_CONNECTED);
    /* Once connected it works. */
    CHECK_STATUS(adxl_connect(p.init, other_name, 10000), ADXL_SUCCESS);
    REQUIRE(xc_fill(p.lbuf, 4096, 5));
    CHECK_STATUS(adxl_transfer_sync(p.init, other_name, ADXL_WRITE, &to_other, 1, 5000),
                 ADXL_SUCCESS);
    CHECK(xc_verify(obuf, 4096, 5));
    /* After disconnect: NOT_CONNECTED again, from both entry points. */
    CHECK_STATUS(adxl_disconnect(p.init, other_name, 5000), ADXL_SUCCESS);
    REQUIRE(xc_fill(p.lbuf, 4096, 6));
    CHECK_STATUS(adxl_transfer_sync(p.init, other_name, ADXL_WRITE, &to_other, 1, 1000),
                 ADXL_NOT_CONNECTED);
    req = NULL;
    CHECK_STATUS(adxl_transfer_async(p.init, other_name, ADXL_WRITE, &to_other, 1, NULL, &req),
                 ADXL_NOT_CONNECTED);
    CHECK(xc_verify(obuf, 4096, 5));

    /* An engine that is not initialized, or finalized: ADXL_FAILED. */
    adxl_engine_t *raw = NULL;
    REQUIRE(adxl_engine_create(&raw) == ADXL_SUCCESS && raw != NULL);
    CHECK_STATUS(adxl_transfer_sync(raw, t, ADXL_WRITE, &good, 1, 1000), ADXL_FAILED);
    req = NULL;
    CHECK_STATUS(adxl_transfer_async(raw, t, ADXL_WRITE, &good, 1, NULL, &req), ADXL_FAILED);
    CHECK_STATUS(adxl_initialize(raw, "127.0.0.1", NULL, 0), ADXL_SUCCESS);
    adxl_finalize(raw);
    CHECK_STATUS(adxl_transfer_sync(raw, t, ADXL_WRITE, &good, 1, 1000), ADXL_FAILED);
    req = NULL;
    CHECK_STATUS(adxl_transfer_async(raw, t, ADXL_READ, &good, 1, NULL, &req), ADXL_FAILED);
    adxl_engine_destroy(raw);

    /* After all of that the original link moves data both ways. */
    for (int op = ADXL_READ; op <= ADXL_WRITE; op++) {
        uint8_t *src = op == ADXL_WRITE ? p.lbuf : p.rbuf;
        uint8_t *dst = op == ADXL_WRITE ? p.rbuf : p.lbuf;
        REQUIRE(xc_fill(src, 300 * XC_KIB, 10 + (uint64_t)op));
        REQUIRE(xc_fill_inverse(dst, 300 * XC_KIB, 10 + (uint64_t)op));
        CHECK_STATUS(adxl_transfer_sync(p.init, t, (adxl_transfer_op_t)op,
                                        &(adxl_transfer_op_desc_t){(uintptr_t)p.lbuf,
                                                                   (uintptr_t)p.rbuf, 300 * XC_KIB},
                                        1, 10000),
                     ADXL_SUCCESS);
        CHECK(xc_verify(dst, 300 * XC_KIB, 10 + (uint64_t)op));
    }

    adxl_engine_destroy(other);
    xc_free(obuf);
    xc_pair_close(&p);
    return tu_finish();
}
