/*
 * Timeouts that run out while data is moving (a live peer, a tiny timeout): each call
 * ends either SUCCESS with the right data or TIMEOUT, and after a TIMEOUT the engine
 * never touches the call's local buffer again: a READ's buffer keeps the sentinel written
 * after the return, a WRITE never delivers bytes written to its buffer after the return.
 * Sync and async (args->timeout_ms), direct and buffered, on the default pool and on a
 * tiny one where batches wait for transit buffers.
 * Device variants: the registered buffers are device memory; the unregistered local
 * buffer of the buffered rounds stays host memory (plain malloc), as ADXL takes it to be.
 */
#include "xfer_common.h"

#define LEN (24 * XC_MIB)
#define ROUNDS 12

static int timeouts_seen;

/* A few successful transfers elsewhere so that anything late would have arrived. */
static void settle(xc_pair_t *p, uint8_t *scratch_local, uint8_t *scratch_remote) {
    for (int k = 0; k < 3; k++) {
        REQUIRE(xc_fill(scratch_remote, 2 * XC_MIB, 50 + (uint64_t)k));
        CHECK_STATUS(xc_xfer1(p->init, p->tname, ADXL_READ, scratch_local,
                              (uintptr_t)scratch_remote, 2 * XC_MIB, 30000),
                     ADXL_SUCCESS);
        CHECK(xc_verify(scratch_local, 2 * XC_MIB, 50 + (uint64_t)k));
    }
}

/* Runs one transfer with a tiny timeout; sync or async. */
static adxl_status_t run(xc_pair_t *p, bool async, adxl_transfer_op_t op, uint8_t *local,
                         uint8_t *remote, int32_t timeout_ms) {
    adxl_transfer_op_desc_t d[3] = {{(uintptr_t)local, (uintptr_t)(remote + 2 * XC_MIB), LEN / 2},
                                    {(uintptr_t)(local + LEN / 2), (uintptr_t)remote, 2 * XC_MIB},
                                    {(uintptr_t)(local + LEN / 2 + 2 * XC_MIB),
                                     (uintptr_t)(remote + LEN / 2 + 2 * XC_MIB),
                                     LEN / 2 - 2 * XC_MIB}};
    if (!async) return adxl_transfer_sync(p->init, p->tname, op, d, 3, timeout_ms);
    adxl_transfer_args_t args = {.timeout_ms = timeout_ms, .user_data = NULL};
    adxl_transfer_req_t req = NULL;
    adxl_status_t st = adxl_transfer_async(p->init, p->tname, op, d, 3, &args, &req);
    if (st != ADXL_SUCCESS) return st;
    adxl_transfer_status_t s = tu_wait_req(p->init, req, 30000);
    switch (s) {
    case ADXL_TRANSFER_COMPLETED:
        return ADXL_SUCCESS;
    case ADXL_TRANSFER_TIMEOUT:
        return ADXL_TIMEOUT;
    case ADXL_TRANSFER_FAILED:
        return ADXL_FAILED;
    default:
        return ADXL_FAILED + 1;
    }
}

/* The expected content of the destination: the three descriptors map local [0, LEN) to
 * remote as above; with the source filled by tu_fill(seed) from its start. */
static bool dest_ok(const uint8_t *dst_mem, adxl_transfer_op_t op, uint64_t seed) {
    uint8_t *dst = xc_read_back(dst_mem, LEN);
    if (!dst) return false;
    /* pieces: (local off, remote off, len) */
    const size_t pieces[3][3] = {
        {0, 2 * XC_MIB, LEN / 2},
        {LEN / 2, 0, 2 * XC_MIB},
        {LEN / 2 + 2 * XC_MIB, LEN / 2 + 2 * XC_MIB, LEN / 2 - 2 * XC_MIB}};
    for (int k = 0; k < 3; k++) {
        size_t soff = op == ADXL_WRITE ? pieces[k][0] : pieces[k][1];
        size_t doff = op == ADXL_WRITE ? pieces[k][1] : pieces[k][0];
        for (size_t i = 0; i < pieces[k][2]; i++)
            if (dst[doff + i] != tu_pattern_byte(seed, soff + i)) {
                fprintf(stderr, "piece %d: offset %zu wrong\n", k, i);
                free(dst);
                return false;
            }
    }
    free(dst);
    return true;
}

static void rounds(xc_pair_t *p, bool reg_local, const char *what) {
    uint8_t *local = reg_local ? p->lbuf : malloc(LEN);
    REQUIRE(local != NULL);
    uint8_t *remote = p->rbuf;
    uint8_t *scratch_local = p->lbuf + LEN;
    uint8_t *scratch_remote = p->rbuf + LEN;
    for (int r = 0; r < ROUNDS; r++) {
        bool async = r % 2 == 1;
        adxl_transfer_op_t op = (r / 2) % 2 ? ADXL_WRITE : ADXL_READ;
        int32_t timeout_ms = 1 + (r % 3);
        uint64_t seed = 3000 + (uint64_t)r * 10;
        if (op == ADXL_READ) {
            REQUIRE(xc_fill(remote, LEN, seed));
            REQUIRE(xc_set(local, 0, LEN));
            adxl_status_t st = run(p, async, op, local, remote, timeout_ms);
            if (st == ADXL_SUCCESS) {
                CHECK(dest_ok(local, op, seed));
                continue;
            }
            if (st != ADXL_TIMEOUT)
                fprintf(stderr, "%s round %d (%s READ): %s\n", what, r, async ? "async" : "sync",
                        adxl_status_str(st));
            CHECK_STATUS(st, ADXL_TIMEOUT);
            timeouts_seen++;
            REQUIRE(xc_set(local, 0x3C, LEN));
            settle(p, scratch_local, scratch_remote);
            bool intact = xc_all_bytes(local, LEN, 0x3C);
            if (!intact)
                fprintf(stderr, "%s round %d: a timed-out READ wrote its buffer afterwards\n", what,
                        r);
            CHECK(intact);
        } else {
            REQUIRE(xc_fill(remote, LEN, seed + 1));
            REQUIRE(xc_fill(local, LEN, seed));
            adxl_status_t st = run(p, async, op, local, remote, timeout_ms);
            if (st == ADXL_SUCCESS) {
                CHECK(dest_ok(remote, op, seed));
                continue;
            }
            if (st != ADXL_TIMEOUT)
                fprintf(stderr, "%s round %d (%s WRITE): %s\n", what, r, async ? "async" : "sync",
                        adxl_status_str(st));
            CHECK_STATUS(st, ADXL_TIMEOUT);
            timeouts_seen++;
            /* What lands from now on must not be this. */
            REQUIRE(xc_fill(local, LEN, seed + 2));
            settle(p, scratch_local, scratch_remote);
            /* Every remote byte is old (seed + 1), what the call sent, or zero (an abandoned
             * frame may be finished with zeros); the sent bytes are pieces of the seed
             * pattern at shifted offsets, so check, piece by piece, that nothing of seed + 2
             * arrived. */
            const size_t pieces[3][3] = {
                {0, 2 * XC_MIB, LEN / 2},
                {LEN / 2, 0, 2 * XC_MIB},
                {LEN / 2 + 2 * XC_MIB, LEN / 2 + 2 * XC_MIB, LEN / 2 - 2 * XC_MIB}};
            uint8_t *landed = xc_read_back(remote, LEN);
            REQUIRE(landed != NULL);
            size_t late = 0;
            for (int k = 0; k < 3; k++) {
                for (size_t i = 0; i < pieces[k][2]; i++) {
                    uint8_t got = landed[pieces[k][1] + i];
                    uint8_t late_byte = tu_pattern_byte(seed + 2, pieces[k][0] + i);
                    if (got != 0 && got == late_byte &&
                        got != tu_pattern_byte(seed, pieces[k][0] + i) &&
                        got != tu_pattern_byte(seed + 1, pieces[k][1] + i))
                        late++;
                }
            }
            free(landed);
            if (late)
                fprintf(stderr, "%s round %d: %zu bytes written after the WRITE timed out\n", what,
                        r, late);
            CHECK(late == 0);
        }
    }
    if (!reg_local) free(local);
}

int main(void) {
    xc_pair_t p;
    REQUIRE(xc_pair_open(&p, LEN + 2 * XC_MIB, true, LEN + 2 * XC_MIB));
    rounds(&p, true, "direct");
    rounds(&p, false, "buffered");
    xc_pair_close(&p);

    const adxl_option_t tiny[] = {{"BufferPool", "1:1"}};
    REQUIRE(xc_pair_open_opts(&p, tiny, 1, tiny, 1, LEN + 2 * XC_MIB, true, LEN + 2 * XC_MIB));
    rounds(&p, false, "tiny pool");
    xc_pair_close(&p);

    /* Not an assertion on timing: just so the log shows which branch ran. */
    printf("%d of %d transfers timed out\n", timeouts_seen, 3 * ROUNDS);
    return tu_finish();
}
