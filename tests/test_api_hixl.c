/*
 * HIXL's additions: async connect/disconnect and their states, the bulk transfer status
 * call with user_data, and adxl_get_capability.
 */
#include "test_api_util.h"

#include <poll.h>

/* Polls the state of remote until it is not a pending/in-progress one; -1 on a hang. */
static int settle(adxl_engine_t *e, const char *remote) {
    uint64_t until = tu_now_ms() + TA_HANG_MS;
    for (;;) {
        adxl_connect_state_t s;
        if (adxl_get_async_connect_status(e, remote, &s) != ADXL_SUCCESS) return -1;
        if (s != ADXL_CONNECT_PENDING && s != ADXL_CONNECTING && s != ADXL_DISCONNECT_PENDING &&
            s != ADXL_DISCONNECTING)
            return (int)s;
        if (tu_now_ms() >= until) return -1;
        tu_sleep_ms(1);
    }
}

static void test_capability(void) {
    fprintf(stderr, "-- capability\n");
    int32_t v = -1;
    CHECK_STATUS(adxl_get_capability(ADXL_FEATURE_AUTO_CONNECT, &v), ADXL_SUCCESS);
    CHECK(v == ADXL_CAPABILITY_SUPPORTED);
    v = -1;
    CHECK_STATUS(adxl_get_capability(ADXL_FEATURE_CLIENT_SERVER_COMM, &v), ADXL_SUCCESS);
    CHECK(v == ADXL_CAPABILITY_SUPPORTED);
    CHECK_STATUS(adxl_get_capability(ADXL_FEATURE_AUTO_CONNECT, NULL), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_get_capability((adxl_feature_t)2, &v), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_get_capability((adxl_feature_t)-1, &v), ADXL_PARAM_INVALID);
}

static void test_args(void) {
    fprintf(stderr, "-- async connect arguments\n");
    adxl_connect_state_t s;
    size_t n = 0;
    adxl_connect_status_t all[2];
    CHECK_STATUS(adxl_connect_async(NULL, "127.0.0.1:1", 1000), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_disconnect_async(NULL, "127.0.0.1:1", 1000), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_get_async_connect_status(NULL, "127.0.0.1:1", &s), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_get_async_connect_statuses(NULL, all, 2, &n), ADXL_PARAM_INVALID);
    adxl_engine_t *raw = NULL;
    REQUIRE(adxl_engine_create(&raw) == ADXL_SUCCESS);
    CHECK_STATUS(adxl_connect_async(raw, "127.0.0.1:1", 1000), ADXL_FAILED);
    CHECK_STATUS(adxl_disconnect_async(raw, "127.0.0.1:1", 1000), ADXL_FAILED);
    CHECK_STATUS(adxl_get_async_connect_status(raw, "127.0.0.1:1", &s), ADXL_FAILED);
    CHECK_STATUS(adxl_get_async_connect_statuses(raw, all, 2, &n), ADXL_FAILED);
    adxl_engine_destroy(raw);

    adxl_engine_t *e = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(e != NULL);
    const char *me = adxl_local_engine(e);
    CHECK_STATUS(adxl_connect_async(e, "127.0.0.1:1", 0), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_connect_async(e, "127.0.0.1:1", -1), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_connect_async(e, NULL, 1000), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_connect_async(e, "junk", 1000), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_connect_async(e, me, 1000), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_disconnect_async(e, "127.0.0.1:1", 0), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_disconnect_async(e, "junk", 1000), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_disconnect_async(e, "127.0.0.1:1", 1000), ADXL_NOT_CONNECTED);
    CHECK_STATUS(adxl_get_async_connect_status(e, "127.0.0.1:1", NULL), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_get_async_connect_status(e, NULL, &s), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_get_async_connect_status(e, "junk", &s), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_get_async_connect_statuses(e, all, 2, NULL), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_get_async_connect_statuses(e, NULL, 2, &n), ADXL_PARAM_INVALID);
    /* A name never seen is NOT_CONNECT; nothing is listed. */
    CHECK_STATUS(adxl_get_async_connect_status(e, "127.0.0.1:1", &s), ADXL_SUCCESS);
    CHECK(s == ADXL_NOT_CONNECT);
    CHECK_STATUS(adxl_get_async_connect_statuses(e, NULL, 0, &n), ADXL_SUCCESS);
    CHECK(n == 0);
    adxl_engine_destroy(e);
}

static void test_connect_cycle(void) {
    fprintf(stderr, "-- async connect, transfer, async disconnect, again\n");
    adxl_engine_t *t = tu_engine("127.0.0.1:0", NULL, 0);
    adxl_engine_t *e = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(t != NULL && e != NULL);
    const char *tname = adxl_local_engine(t);
    ta_region_t dst, src;
    REQUIRE(ta_region_alloc(&dst, t, 65536) && ta_region_alloc(&src, e, 65536));
    for (int round = 0; round < 2; round++) {
        CHECK_STATUS(adxl_connect_async(e, tname, 5000), ADXL_SUCCESS);
        adxl_connect_state_t s;
        CHECK_STATUS(adxl_get_async_connect_status(e, tname, &s), ADXL_SUCCESS);
        CHECK(s == ADXL_CONNECT_PENDING || s == ADXL_CONNECTING || s == ADXL_CONNECTED);
        CHECK(settle(e, tname) == ADXL_CONNECTED);
        CHECK_STATUS(adxl_connect_async(e, tname, 5000), ADXL_ALREADY_CONNECTED);
        CHECK_STATUS(adxl_connect(e, tname, 5000), ADXL_ALREADY_CONNECTED);
        tu_fill(src.ptr, src.len, 7 + (uint64_t)round);
        CHECK_STATUS(ta_xfer(e, tname, ADXL_WRITE, src.ptr, dst.ptr, src.len, 5000), ADXL_SUCCESS);
        CHECK(tu_verify(dst.ptr, dst.len, 7 + (uint64_t)round));

        adxl_connect_status_t all[4];
        size_t n = 99;
        CHECK_STATUS(adxl_get_async_connect_statuses(e, NULL, 0, &n), ADXL_SUCCESS);
        CHECK(n == 1);
        CHECK_STATUS(adxl_get_async_connect_statuses(e, all, 4, &n), ADXL_SUCCESS);
        CHECK(n == 1 && strcmp(all[0].remote_engine, tname) == 0);
        CHECK(all[0].state == ADXL_CONNECTED && all[0].last_status == ADXL_SUCCESS);

        CHECK_STATUS(adxl_disconnect_async(e, tname, 1000), ADXL_SUCCESS);
        CHECK(settle(e, tname) == ADXL_NOT_CONNECT);
        CHECK_STATUS(ta_xfer(e, tname, ADXL_WRITE, src.ptr, dst.ptr, 16, 1000), ADXL_NOT_CONNECTED);
        CHECK_STATUS(adxl_disconnect_async(e, tname, 1000), ADXL_NOT_CONNECTED);
    }
    /* A link made by the synchronous call is listed too, and async disconnect ends it. */
    CHECK_STATUS(adxl_connect(e, tname, 5000), ADXL_SUCCESS);
    adxl_connect_state_t s;
    CHECK_STATUS(adxl_get_async_connect_status(e, tname, &s), ADXL_SUCCESS);
    CHECK(s == ADXL_CONNECTED);
    CHECK_STATUS(adxl_disconnect_async(e, tname, 1000), ADXL_SUCCESS);
    CHECK(settle(e, tname) == ADXL_NOT_CONNECT);
    /* A connect left in progress (or done) is cleaned up by finalize. */
    CHECK_STATUS(adxl_connect_async(e, tname, 5000), ADXL_SUCCESS);
    ta_region_free(&src, e);
    adxl_engine_destroy(e);
    ta_region_free(&dst, t);
    adxl_engine_destroy(t);
}

static void test_connect_failure(void) {
    fprintf(stderr, "-- async connect to a listener that never answers\n");
    adxl_engine_t *e = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(e != NULL);
    unsigned port = 0;
    int fd = ta_listen_socket(&port);
    REQUIRE(fd >= 0);
    char name[64];
    snprintf(name, sizeof(name), "127.0.0.1:%u", port);
    /* The TCP connect succeeds, the handshake waits for an answer that never comes. */
    CHECK_STATUS(adxl_connect_async(e, name, 60000), ADXL_SUCCESS);
    adxl_connect_state_t s;
    CHECK_STATUS(adxl_get_async_connect_status(e, name, &s), ADXL_SUCCESS);
    CHECK(s == ADXL_CONNECT_PENDING || s == ADXL_CONNECTING);
    CHECK_STATUS(adxl_connect_async(e, name, 60000), ADXL_SUCCESS); /* already under way */
    CHECK_STATUS(adxl_disconnect_async(e, name, 1000), ADXL_FAILED);
    adxl_connect_status_t all[2];
    size_t n = 0;
    CHECK_STATUS(adxl_get_async_connect_statuses(e, all, 2, &n), ADXL_SUCCESS);
    CHECK(n == 1 && (all[0].state == ADXL_CONNECT_PENDING || all[0].state == ADXL_CONNECTING));
    /* Closing the accepted connection ends the handshake: the connect fails. */
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    REQUIRE(poll(&pfd, 1, TA_HANG_MS) == 1);
    int conn = accept(fd, NULL, NULL);
    REQUIRE(conn >= 0);
    close(conn);
    close(fd);
    CHECK(settle(e, name) == ADXL_CONNECT_FAILED);
    CHECK_STATUS(adxl_get_async_connect_statuses(e, all, 2, &n), ADXL_SUCCESS);
    CHECK(n == 1 && all[0].state == ADXL_CONNECT_FAILED && all[0].last_status != ADXL_SUCCESS);
    CHECK_STATUS(adxl_disconnect_async(e, name, 1000), ADXL_NOT_CONNECTED);

    /* Nobody at all on that port: TIMEOUT after retrying, reported as CONNECT_FAILED. */
    int hold = -1; /* held, so that no parallel test's listener can take the port */
    unsigned free_port = ta_dead_port(false, &hold);
    REQUIRE(free_port != 0);
    snprintf(name, sizeof(name), "127.0.0.1:%u", free_port);
    CHECK_STATUS(adxl_connect_async(e, name, 200), ADXL_SUCCESS);
    CHECK(settle(e, name) == ADXL_CONNECT_FAILED);
    CHECK_STATUS(adxl_get_async_connect_statuses(e, all, 2, &n), ADXL_SUCCESS);
    CHECK(n == 2);
    for (size_t i = 0; i < n && i < 2; i++)
        if (strcmp(all[i].remote_engine, name) == 0) CHECK(all[i].last_status == ADXL_TIMEOUT);
    close(hold);
    /* Finalize with a connect in progress joins its worker (it ends by its timeout). */
    int fd2 = ta_listen_socket(&port);
    REQUIRE(fd2 >= 0);
    snprintf(name, sizeof(name), "127.0.0.1:%u", port);
    CHECK_STATUS(adxl_connect_async(e, name, 300), ADXL_SUCCESS);
    adxl_finalize(e);
    CHECK_STATUS(adxl_get_async_connect_status(e, name, &s), ADXL_FAILED);
    close(fd2);
    adxl_engine_destroy(e);
}

#define NREQ 64

static void test_bulk_status(void) {
    fprintf(stderr, "-- bulk transfer status with user_data\n");
    adxl_engine_t *t = tu_engine("127.0.0.1:0", NULL, 0);
    adxl_engine_t *e = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(t != NULL && e != NULL);
    const char *tname = adxl_local_engine(t);
    size_t n = 0;
    adxl_transfer_result_t res[NREQ];
    CHECK_STATUS(adxl_get_transfer_statuses(NULL, res, NREQ, 0, &n), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_get_transfer_statuses(e, res, NREQ, 0, NULL), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_get_transfer_statuses(e, NULL, 1, 0, &n), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_get_transfer_statuses(e, res, NREQ, 2, &n), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_get_transfer_statuses(e, NULL, 0, 0, &n), ADXL_SUCCESS);
    CHECK(n == 0);
    CHECK_STATUS(adxl_get_transfer_statuses(e, res, NREQ, 0, &n), ADXL_SUCCESS);
    CHECK(n == 0);

    const size_t block = 4096;
    ta_region_t dst, src;
    REQUIRE(ta_region_alloc(&dst, t, block * NREQ) && ta_region_alloc(&src, e, block * NREQ));
    tu_fill(src.ptr, src.len, 99);
    REQUIRE(adxl_connect(e, tname, 5000) == ADXL_SUCCESS);
    int tags[NREQ];
    int seen[NREQ] = {0};
    adxl_transfer_req_t reqs[NREQ];
    for (int i = 0; i < NREQ; i++) {
        tags[i] = i;
        adxl_transfer_op_desc_t d = {(uintptr_t)src.ptr + (size_t)i * block,
                                     (uintptr_t)dst.ptr + (size_t)i * block, block};
        adxl_transfer_args_t args = {0, &tags[i]};
        CHECK_STATUS(adxl_transfer_async(e, tname, ADXL_WRITE, &d, 1, &args, &reqs[i]),
                     ADXL_SUCCESS);
    }
    /* Without SKIP_WAITING, waiting requests are listed and stay known. */
    CHECK_STATUS(adxl_get_transfer_statuses(e, res, NREQ, 0, &n), ADXL_SUCCESS);
    CHECK(n == NREQ);
    int collected = 0;
    for (size_t i = 0; i < n; i++) {
        int tag = *(const int *)res[i].user_data;
        CHECK(tag >= 0 && tag < NREQ && res[i].req == reqs[tag]);
        if (res[i].status == ADXL_TRANSFER_WAITING) continue;
        CHECK(res[i].status == ADXL_TRANSFER_COMPLETED);
        seen[tag]++;
        collected++;
    }
    /* Then only finished ones, at most 5 at a time. */
    uint64_t until = tu_now_ms() + TA_HANG_MS;
    while (collected < NREQ && tu_now_ms() < until) {
        CHECK_STATUS(adxl_get_transfer_statuses(e, res, 5, ADXL_STATUS_SKIP_WAITING, &n),
                     ADXL_SUCCESS);
        CHECK(n <= 5);
        for (size_t i = 0; i < n; i++) {
            int tag = *(const int *)res[i].user_data;
            CHECK(res[i].status == ADXL_TRANSFER_COMPLETED);
            seen[tag]++;
            collected++;
        }
        if (n == 0) tu_sleep_ms(1);
    }
    CHECK(collected == NREQ);
    for (int i = 0; i < NREQ; i++)
        CHECK(seen[i] == 1);
    CHECK(tu_verify(dst.ptr, dst.len, 99));
    /* Reported final: released, like the one-request call. */
    adxl_transfer_status_t st;
    CHECK_STATUS(adxl_get_transfer_status(e, reqs[0], &st), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_get_transfer_statuses(e, res, NREQ, 0, &n), ADXL_SUCCESS);
    CHECK(n == 0);

    /* One more, collected with max_count 1. */
    adxl_transfer_op_desc_t d = {(uintptr_t)src.ptr, (uintptr_t)dst.ptr, block};
    adxl_transfer_args_t args = {0, &tags[3]};
    adxl_transfer_req_t r;
    CHECK_STATUS(adxl_transfer_async(e, tname, ADXL_WRITE, &d, 1, &args, &r), ADXL_SUCCESS);
    until = tu_now_ms() + TA_HANG_MS;
    n = 0;
    while (n == 0 && tu_now_ms() < until) {
        CHECK_STATUS(adxl_get_transfer_statuses(e, res, 1, ADXL_STATUS_SKIP_WAITING, &n),
                     ADXL_SUCCESS);
        if (n == 0) tu_sleep_ms(1);
    }
    CHECK(n == 1 && res[0].req == r && res[0].user_data == &tags[3]);
    CHECK(res[0].status == ADXL_TRANSFER_COMPLETED);
    ta_region_free(&src, e);
    adxl_engine_destroy(e);
    ta_region_free(&dst, t);
    adxl_engine_destroy(t);
}

int main(void) {
    test_capability();
    test_args();
    test_connect_cycle();
    test_connect_failure();
    test_bulk_status();
    return tu_finish();
}
