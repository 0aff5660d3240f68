/*
 * Eight threads transferring at once over the same link to disjoint regions: READ and
 * WRITE mixed, small (buffered) and large (direct) batches, some async, each thread
 * checking its own data and the guard bytes around it after every transfer. Then the same
 * with four initiator engines (two threads each) sharing one target.
 * Device variants: device memory on both sides (xfer_mem.h), each thread with device 0
 * current, as the engine's context rule lets any thread transfer.
 */
#include "xfer_common.h"

#include <pthread.h>

#define NTHREADS 8
#define REGION (2 * XC_MIB)
#define GUARD 4096
#define SLICE (REGION + 2 * GUARD)
#define ITERS 25

static xc_pair_t pair;

typedef struct {
    int id;
    adxl_engine_t *init;
    uint8_t *lslice;
    int failures;
    int transfers;
    char why[256];
} worker_t;

static bool guards_ok(const uint8_t *slice, uint64_t seed) {
    return xc_verify(slice, GUARD, seed) && xc_verify(slice + GUARD + REGION, GUARD, seed + 1);
}

static void *worker(void *arg) {
    worker_t *w = arg;
    uint8_t *lslice = w->lslice;
    uint8_t *rslice = pair.rbuf + (size_t)w->id * SLICE;
    uint8_t *l = lslice + GUARD, *r = rslice + GUARD;
    uint64_t gseed = 100000 + (uint64_t)w->id * 10;
    REQUIRE(xc_fill(lslice, GUARD, gseed));
    REQUIRE(xc_fill(lslice + GUARD + REGION, GUARD, gseed + 1));
    REQUIRE(xc_fill(rslice, GUARD, gseed + 2));
    REQUIRE(xc_fill(rslice + GUARD + REGION, GUARD, gseed + 3));
    uint64_t rng = 77 + (uint64_t)w->id;

    for (int it = 0; it < ITERS && !w->failures; it++) {
        adxl_transfer_op_t op = ((it + w->id) % 2) ? ADXL_READ : ADXL_WRITE;
        int shape = (it + w->id) % 3; /* 0: one small, 1: one large, 2: several mixed */
        uint64_t seed = 1000000 + (uint64_t)w->id * 1000 + (uint64_t)it;
        adxl_transfer_op_desc_t d[8];
        size_t n;
        if (shape == 0) {
            n = 1;
            size_t len = xc_rand_range(&rng, 1, 200 * XC_KIB);
            size_t lo = xc_rand_range(&rng, 0, REGION - len);
            size_t ro = xc_rand_range(&rng, 0, REGION - len);
            d[0] = (adxl_transfer_op_desc_t){(uintptr_t)(l + lo), (uintptr_t)(r + ro), len};
        } else if (shape == 1) {
            n = 1;
            size_t len = xc_rand_range(&rng, XC_DIRECT_MIN, REGION);
            size_t lo = xc_rand_range(&rng, 0, REGION - len);
            size_t ro = xc_rand_range(&rng, 0, REGION - len);
            d[0] = (adxl_transfer_op_desc_t){(uintptr_t)(l + lo), (uintptr_t)(r + ro), len};
        } else {
            /* 8 slots of 256 KiB, reversed on the remote side */
            n = 8;
            size_t slot = REGION / 8;
            for (size_t i = 0; i < n; i++) {
                size_t len = xc_rand_range(&rng, 1, slot);
                d[i] = (adxl_transfer_op_desc_t){(uintptr_t)(l + i * slot),
                                                 (uintptr_t)(r + (n - 1 - i) * slot + slot - len),
                                                 len};
            }
        }
        for (size_t i = 0; i < n; i++) {
            uint8_t *s = (uint8_t *)(op == ADXL_WRITE ? d[i].local_addr : d[i].remote_addr);
            uint8_t *t = (uint8_t *)(op == ADXL_WRITE ? d[i].remote_addr : d[i].local_addr);
            REQUIRE(xc_fill(s, d[i].len, seed + i * 7));
            REQUIRE(xc_fill_inverse(t, d[i].len, seed + i * 7));
        }
        adxl_status_t st;
        if (it % 4 == 3) {
            adxl_transfer_req_t req = NULL;
            st = adxl_transfer_async(w->init, pair.tname, op, d, n, NULL, &req);
            if (st == ADXL_SUCCESS) {
                adxl_transfer_status_t s = tu_wait_req(w->init, req, 30000);
                if (s != ADXL_TRANSFER_COMPLETED) st = ADXL_FAILED;
            }
        } else {
            st = adxl_transfer_sync(w->init, pair.tname, op, d, n, 30000);
        }
        w->transfers++;
        if (st != ADXL_SUCCESS) {
            snprintf(w->why, sizeof(w->why), "iteration %d (%s, shape %d): %s", it,
                     op == ADXL_WRITE ? "WRITE" : "READ", shape, adxl_status_str(st));
            w->failures++;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            uint8_t *t = (uint8_t *)(op == ADXL_WRITE ? d[i].remote_addr : d[i].local_addr);
            if (!xc_verify(t, d[i].len, seed + i * 7)) {
                snprintf(w->why, sizeof(w->why), "iteration %d (%s, shape %d): wrong data", it,
                         op == ADXL_WRITE ? "WRITE" : "READ", shape);
                w->failures++;
                break;
            }
        }
        if (!guards_ok(lslice, gseed) || !guards_ok(rslice, gseed + 2)) {
            snprintf(w->why, sizeof(w->why), "iteration %d: guard bytes changed", it);
            w->failures++;
        }
    }
    return NULL;
}

static uint64_t want_direct_for(int id) {
    uint64_t n = 0;
    for (int it = 0; it < ITERS; it++)
        if ((it + id) % 3 == 1) n++;
    return n;
}

/* Runs NTHREADS workers, worker i on engine inits[i % ninits] with local slice lslices[i];
 * checks each, and each engine's mode counters. */
static void run_workers(adxl_engine_t **inits, int ninits, uint8_t **lslices, const char *what) {
    adxl_stats_t before[NTHREADS], after;
    for (int k = 0; k < ninits; k++)
        before[k] = xc_stats(inits[k]);
    pthread_t th[NTHREADS];
    worker_t w[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].id = i;
        w[i].init = inits[i % ninits];
        w[i].lslice = lslices[i];
        REQUIRE(pthread_create(&th[i], NULL, worker, &w[i]) == 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        if (w[i].failures) fprintf(stderr, "%s, thread %d: %s\n", what, i, w[i].why);
        CHECK(w[i].failures == 0);
        CHECK(w[i].transfers == ITERS);
    }
    /* Shape 1 (one large descriptor, registered both sides) is direct, the others
     * buffered. */
    for (int k = 0; k < ninits; k++) {
        uint64_t want_direct = 0, want_total = 0;
        for (int i = k; i < NTHREADS; i += ninits) {
            want_direct += want_direct_for(i);
            want_total += (uint64_t)w[i].transfers;
        }
        after = xc_stats(inits[k]);
        uint64_t direct = after.batches_direct - before[k].batches_direct;
        uint64_t total = direct + after.batches_buffered - before[k].batches_buffered;
        if (direct != want_direct || total != want_total)
            fprintf(stderr,
                    "%s, engine %d: %" PRIu64 " batches, %" PRIu64 " direct; expected %" PRIu64
                    ", %" PRIu64 "\n",
                    what, k, total, direct, want_total, want_direct);
        CHECK(direct == want_direct);
        CHECK(total == want_total);
    }
}

int main(void) {
    REQUIRE(xc_pair_open(&pair, NTHREADS * SLICE, true, NTHREADS * SLICE));
    uint8_t *lslices[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        lslices[i] = pair.lbuf + (size_t)i * SLICE;
    run_workers(&pair.init, 1, lslices, "one link");

    /* Four initiators, each with its own registered memory, one target. */
    enum { NINIT = 4 };
    adxl_engine_t *inits[NINIT];
    uint8_t *bufs[NINIT];
    for (int k = 0; k < NINIT; k++) {
        inits[k] = xc_engine(NULL, 0);
        REQUIRE(inits[k] != NULL);
        bufs[k] = xc_alloc((NTHREADS / NINIT) * SLICE);
        REQUIRE(bufs[k] != NULL);
        REQUIRE(xc_register(inits[k], bufs[k], (NTHREADS / NINIT) * SLICE) != NULL);
        CHECK_STATUS(adxl_connect(inits[k], pair.tname, 10000), ADXL_SUCCESS);
    }
    for (int i = 0; i < NTHREADS; i++)
        lslices[i] = bufs[i % NINIT] + (size_t)(i / NINIT) * SLICE;
    run_workers(inits, NINIT, lslices, "four links");
    adxl_stats_t t = xc_stats(pair.tgt), i0 = xc_stats(inits[0]);
    CHECK(t.frames_served > 0 || tu_frameless_bytes(&i0) > 0);
    CHECK(t.frames_refused == 0);
    for (int k = 0; k < NINIT; k++) {
        adxl_engine_destroy(inits[k]);
        xc_free(bufs[k]);
    }
    xc_pair_close(&pair);
    return tu_finish();
}
