/*
 * adxl_get_transfer_statuses against a peer process: TIMEOUT of a request whose
 * args->timeout_ms ran out while the peer is SIGSTOPped (with its user_data, released),
 * a request without a timeout listed as WAITING (and skipped with SKIP_WAITING) until the
 * peer runs again and it completes, and FAILED once the peer is killed.
 * Device variants: device memory on both sides (xfer_mem.h), on the staging ring.
 */
#include "xfer_common.h"

/* Polls the bulk call (SKIP_WAITING) until it reports one request; false on a hang. */
static bool next_final(adxl_engine_t *e, adxl_transfer_result_t *out) {
    uint64_t until = tu_now_ms() + 20000;
    while (tu_now_ms() < until) {
        size_t n = 0;
        if (adxl_get_transfer_statuses(e, out, 1, ADXL_STATUS_SKIP_WAITING, &n) != ADXL_SUCCESS)
            return false;
        if (n == 1) return true;
        tu_sleep_ms(1);
    }
    return false;
}

int main(void) {
    xc_peer_cfg_t cfg = {NULL, 0, 4 * XC_MIB};
    xc_peer_t peer;
    REQUIRE(xc_peer_start(&peer, &cfg));
    /* A stopped target must be able to hold requests pending, so the shm transport is
     * kept on its staging ring here: its mapped and CMA copies need no work by the
     * target and complete anyway (test_xfer_peer_stop and test_shm_safety check that).
     * On TCP the option changes nothing. */
    static const adxl_option_t staging = {"ShmPath", "staging"};
    adxl_engine_t *e = xc_engine(&staging, 1);
    REQUIRE(e != NULL);
    uint8_t *local = xc_alloc(4 * XC_MIB);
    REQUIRE(local != NULL);
    REQUIRE(xc_register(e, local, 4 * XC_MIB) != NULL);
    REQUIRE(adxl_connect(e, peer.name, 10000) == ADXL_SUCCESS);
    REQUIRE(xc_peer_fill(&peer, 5, 0, 4 * XC_MIB));

    int tag_a = 1, tag_b = 2, tag_c = 3;
    REQUIRE(tu_stop_child(peer.ch.pid));
    adxl_transfer_op_desc_t da = {(uintptr_t)local, (uintptr_t)peer.addr, XC_MIB};
    adxl_transfer_op_desc_t db = {(uintptr_t)local + XC_MIB, (uintptr_t)peer.addr + XC_MIB, XC_MIB};
    adxl_transfer_args_t args_a = {200, &tag_a}, args_b = {0, &tag_b};
    adxl_transfer_req_t ra = NULL, rb = NULL;
    CHECK_STATUS(adxl_transfer_async(e, peer.name, ADXL_READ, &da, 1, &args_a, &ra), ADXL_SUCCESS);
    CHECK_STATUS(adxl_transfer_async(e, peer.name, ADXL_READ, &db, 1, &args_b, &rb), ADXL_SUCCESS);

    /* Only the one with a timeout ends while the peer is stopped. */
    adxl_transfer_result_t res[4];
    REQUIRE(next_final(e, &res[0]));
    CHECK(res[0].req == ra && res[0].user_data == &tag_a);
    CHECK(res[0].status == ADXL_TRANSFER_TIMEOUT);
    adxl_transfer_status_t s;
    CHECK_STATUS(adxl_get_transfer_status(e, ra, &s), ADXL_PARAM_INVALID); /* released */
    size_t n = 0;
    CHECK_STATUS(adxl_get_transfer_statuses(e, res, 4, 0, &n), ADXL_SUCCESS);
    CHECK(n == 1 && res[0].req == rb && res[0].user_data == &tag_b &&
          res[0].status == ADXL_TRANSFER_WAITING);
    CHECK_STATUS(adxl_get_transfer_status(e, rb, &s), ADXL_SUCCESS); /* still known */
    CHECK(s == ADXL_TRANSFER_WAITING);

    /* Running again, the waiting one completes. */
    REQUIRE(tu_cont_child(peer.ch.pid));
    REQUIRE(next_final(e, &res[0]));
    CHECK(res[0].req == rb && res[0].user_data == &tag_b);
    CHECK(res[0].status == ADXL_TRANSFER_COMPLETED);
    uint8_t *got = xc_read_back(local + XC_MIB, XC_MIB);
    REQUIRE(got != NULL);
    bool ok = true;
    for (size_t i = 0; i < XC_MIB && ok; i++)
        ok = got[i] == tu_pattern_byte(5, XC_MIB + i);
    free(got);
    CHECK(ok);

    /* A peer that dies fails what is in flight. */
    REQUIRE(tu_stop_child(peer.ch.pid));
    adxl_transfer_args_t args_c = {0, &tag_c};
    adxl_transfer_req_t rc = NULL;
    CHECK_STATUS(adxl_transfer_async(e, peer.name, ADXL_READ, &da, 1, &args_c, &rc), ADXL_SUCCESS);
    /* SIGKILL first: it ends the stopped peer without letting it serve the READ (the
     * SIGCONT that xc_peer_kill sends first could). */
    kill(peer.ch.pid, SIGKILL);
    xc_peer_kill(&peer);
    REQUIRE(next_final(e, &res[0]));
    CHECK(res[0].req == rc && res[0].user_data == &tag_c);
    CHECK(res[0].status == ADXL_TRANSFER_FAILED);
    CHECK_STATUS(adxl_get_transfer_statuses(e, res, 4, 0, &n), ADXL_SUCCESS);
    CHECK(n == 0);

    adxl_engine_destroy(e);
    xc_free(local);
    return tu_finish();
}
