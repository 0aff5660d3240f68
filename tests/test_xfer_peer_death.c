/*
 * A peer process killed with SIGKILL: the transfer in flight returns an error (not
 * SUCCESS) within its timeout plus a generous bound, later transfers fail (and end up
 * ADXL_NOT_CONNECTED once the link is torn down), async requests outstanding against it
 * all end FAILED, and the engine keeps working with another peer.
 * Device variants: device memory on both sides (xfer_mem.h), still on the staging ring.
 */
#include "xfer_common.h"

#include <pthread.h>
#include <stdatomic.h>

#define VICTIM_SIZE (32 * XC_MIB)
#define CHUNK (16 * XC_MIB)
#define XFER_TIMEOUT 10000
#define BOUND 15000

static adxl_engine_t *e;
static uint8_t *local;
static xc_peer_t victim;

static atomic_int loop_ok;
static atomic_int loop_done;
static adxl_status_t loop_status;
static uint64_t loop_fail_ms;

static void *transfer_loop(void *arg) {
    (void)arg;
    for (int i = 0;; i++) {
        adxl_transfer_op_t op = i % 2 ? ADXL_READ : ADXL_WRITE;
        adxl_status_t st =
            xc_xfer1(e, victim.name, op, local, (uintptr_t)victim.addr, CHUNK, XFER_TIMEOUT);
        if (st != ADXL_SUCCESS) {
            loop_status = st;
            loop_fail_ms = tu_now_ms();
            break;
        }
        atomic_fetch_add(&loop_ok, 1);
        if (i > 100000) break; /* never reached: the peer is killed long before */
    }
    atomic_store(&loop_done, 1);
    return NULL;
}

static bool is_failure(adxl_status_t st) {
    return st == ADXL_NOT_CONNECTED || st == ADXL_FAILED;
}

static void killed_during_sync_loop(void) {
    CHECK_STATUS(adxl_connect(e, victim.name, 10000), ADXL_SUCCESS);
    REQUIRE(xc_peer_fill(&victim, 5, 0, VICTIM_SIZE));
    /* sanity: the link works */
    CHECK_STATUS(xc_xfer1(e, victim.name, ADXL_READ, local, (uintptr_t)victim.addr, XC_MIB, 10000),
                 ADXL_SUCCESS);
    CHECK(xc_verify(local, XC_MIB, 5));
    adxl_stats_t before = xc_stats(e);

    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, transfer_loop, NULL) == 0);
    uint64_t deadline = tu_now_ms() + 30000;
    while (atomic_load(&loop_ok) < 3 && !atomic_load(&loop_done) && tu_now_ms() < deadline)
        tu_sleep_ms(1);
    CHECK(atomic_load(&loop_ok) >= 3);
    uint64_t killed_at = tu_now_ms();
    REQUIRE(kill(victim.ch.pid, SIGKILL) == 0);

    deadline = killed_at + XFER_TIMEOUT + BOUND;
    while (!atomic_load(&loop_done) && tu_now_ms() < deadline)
        tu_sleep_ms(5);
    if (!atomic_load(&loop_done)) {
        fprintf(stderr, "a transfer was still running %d ms after the peer was killed\n",
                XFER_TIMEOUT + BOUND);
        REQUIRE(atomic_load(&loop_done));
    }
    pthread_join(th, NULL);
    victim.alive = false;
    tu_wait_child(&victim.ch, 10000);

    fprintf(stderr, "in-flight transfer ended with %s after %d good ones\n",
            adxl_status_str(loop_status), atomic_load(&loop_ok));
    CHECK(loop_status != ADXL_SUCCESS);
    CHECK(loop_fail_ms >= killed_at && loop_fail_ms - killed_at <= XFER_TIMEOUT + BOUND);

    /* Later transfers fail; once the link is gone they are NOT_CONNECTED. */
    int wrong = 0;
    adxl_status_t st = ADXL_SUCCESS;
    deadline = tu_now_ms() + BOUND;
    do {
        st = xc_xfer1(e, victim.name, ADXL_WRITE, local, (uintptr_t)victim.addr, 4096, 2000);
        if (!is_failure(st)) {
            fprintf(stderr, "transfer to the dead peer returned %s\n", adxl_status_str(st));
            wrong++;
        }
        if (st == ADXL_NOT_CONNECTED) break;
        tu_sleep_ms(10);
    } while (tu_now_ms() < deadline);
    CHECK(wrong == 0);
    CHECK_STATUS(st, ADXL_NOT_CONNECTED);
    adxl_transfer_op_desc_t d = {(uintptr_t)local, (uintptr_t)victim.addr, XC_MIB};
    CHECK_STATUS(adxl_transfer_sync(e, victim.name, ADXL_READ, &d, 1, 2000), ADXL_NOT_CONNECTED);
    adxl_transfer_req_t req = NULL;
    st = adxl_transfer_async(e, victim.name, ADXL_READ, &d, 1, NULL, &req);
    CHECK_STATUS(st, ADXL_NOT_CONNECTED);
    if (st == ADXL_SUCCESS && req) tu_wait_req(e, req, 10000);
    adxl_stats_t after = xc_stats(e);
    CHECK(after.links_dropped >= before.links_dropped + 1);
    /* Nobody answers under that name any more. */
    CHECK_STATUS(adxl_connect(e, victim.name, 300), ADXL_TIMEOUT);
}

static void killed_with_async_outstanding(xc_peer_t *peer) {
    CHECK_STATUS(adxl_connect(e, peer->name, 10000), ADXL_SUCCESS);
    REQUIRE(xc_peer_fill(peer, 9, 0, 8 * XC_MIB));
    CHECK_STATUS(
        xc_xfer1(e, peer->name, ADXL_READ, local, (uintptr_t)peer->addr, 8 * XC_MIB, 10000),
        ADXL_SUCCESS);
    CHECK(xc_verify(local, 8 * XC_MIB, 9));

    /* Stopped first so that nothing can complete, then killed. */
    REQUIRE(tu_stop_child(peer->ch.pid));
    enum { N = 40 };
    adxl_transfer_req_t reqs[N];
    int submitted = 0;
    for (int i = 0; i < N; i++) {
        size_t len = i % 2 ? 4 * XC_MIB : 10000;
        adxl_transfer_op_desc_t d = {(uintptr_t)(local + (size_t)(i % 4) * 4 * XC_MIB),
                                     (uintptr_t)(peer->addr + (size_t)(i % 2) * 4 * XC_MIB), len};
        reqs[i] = NULL;
        adxl_status_t st = adxl_transfer_async(e, peer->name, i % 3 ? ADXL_WRITE : ADXL_READ, &d, 1,
                                               NULL, &reqs[i]);
        CHECK_STATUS(st, ADXL_SUCCESS);
        if (st == ADXL_SUCCESS && reqs[i])
            submitted++;
        else
            reqs[i] = NULL;
    }
    CHECK(submitted == N);
    uint64_t killed_at = tu_now_ms();
    REQUIRE(kill(peer->ch.pid, SIGKILL) == 0);
    peer->alive = false;
    tu_wait_child(&peer->ch, 10000);
    int failed = 0, other = 0, unfinished = 0, released_wrong = 0;
    for (int i = 0; i < N; i++) {
        if (!reqs[i]) continue;
        uint64_t now = tu_now_ms();
        int left = (int)(killed_at + BOUND > now ? killed_at + BOUND - now : 1);
        adxl_transfer_status_t s = tu_wait_req(e, reqs[i], left);
        if (s == ADXL_TRANSFER_FAILED) {
            failed++;
            /* released after FAILED too */
            adxl_transfer_status_t again = ADXL_TRANSFER_WAITING;
            if (adxl_get_transfer_status(e, reqs[i], &again) != ADXL_PARAM_INVALID)
                released_wrong++;
        } else if (s == ADXL_TRANSFER_WAITING)
            unfinished++;
        else {
            fprintf(stderr, "request %d against the killed peer ended in state %d\n", i, (int)s);
            other++;
        }
    }
    CHECK(unfinished == 0);
    CHECK(other == 0);
    CHECK(failed == submitted);
    CHECK(released_wrong == 0);
}

int main(void) {
    /* All peers first, before this process has engine threads. */
    xc_peer_cfg_t cfg_victim = {NULL, 0, VICTIM_SIZE};
    xc_peer_cfg_t cfg_small = {NULL, 0, 8 * XC_MIB};
    xc_peer_t survivor, victim2;
    REQUIRE(xc_peer_start(&victim, &cfg_victim));
    REQUIRE(xc_peer_start(&victim2, &cfg_small));
    REQUIRE(xc_peer_start(&survivor, &cfg_small));

    /* A stopped target must be able to hold requests pending, so the shm transport is
     * kept on its staging ring here: its mapped and CMA copies need no work by the
     * target and complete anyway (test_xfer_peer_stop and test_shm_safety check that).
     * On TCP the option changes nothing. */
    static const adxl_option_t staging = {"ShmPath", "staging"};
    e = xc_engine(&staging, 1);
    REQUIRE(e != NULL);
    local = xc_alloc(CHUNK);
    REQUIRE(local != NULL);
    REQUIRE(xc_register(e, local, CHUNK) != NULL);

    killed_during_sync_loop();
    killed_with_async_outstanding(&victim2);

    /* The engine still works with another peer. */
    CHECK_STATUS(adxl_connect(e, survivor.name, 10000), ADXL_SUCCESS);
    for (int k = 0; k < 2; k++) {
        size_t len = k ? 4 * XC_MIB + 1 : 1000;
        REQUIRE(xc_fill(local, len, 20 + (uint64_t)k));
        CHECK_STATUS(xc_xfer1(e, survivor.name, ADXL_WRITE, local, (uintptr_t)(survivor.addr + 3),
                              len, 10000),
                     ADXL_SUCCESS);
        CHECK(xc_peer_verify(&survivor, 20 + (uint64_t)k, 3, len));
        REQUIRE(xc_peer_fill(&survivor, 30 + (uint64_t)k, 5, len));
        REQUIRE(xc_fill_inverse(local, len, 30 + (uint64_t)k));
        CHECK_STATUS(xc_xfer1(e, survivor.name, ADXL_READ, local, (uintptr_t)(survivor.addr + 5),
                              len, 10000),
                     ADXL_SUCCESS);
        CHECK(xc_verify(local, len, 30 + (uint64_t)k));
    }

    adxl_engine_destroy(e);
    CHECK(xc_peer_stop(&survivor) == 0);
    xc_free(local);
    return tu_finish();
}
