/*
 * Connect and disconnect: argument checks, ALREADY_CONNECTED, TIMEOUT against a port
 * nobody listens on, start order (connect before the target exists), servers and clients
 * that speak something else, disconnect/reconnect, one-way links, AutoConnect, concurrent
 * connects, and a target in another process.
 */
#include "test_api_util.h"

#include <poll.h>
#include <stdatomic.h>

static bool all_zero_4k(const uint8_t *p) {
    for (size_t i = 0; i < 4096; i++)
        if (p[i] != 0) return false;
    return true;
}

static void test_args(void) {
    fprintf(stderr, "-- connect/disconnect arguments\n");
    adxl_engine_t *t = tu_engine("127.0.0.1:0", NULL, 0);
    adxl_engine_t *e = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(t != NULL && e != NULL);
    const char *tname = adxl_local_engine(t);
    const char *ename = adxl_local_engine(e);
    REQUIRE(tname != NULL && ename != NULL);

    CHECK_STATUS(adxl_connect(e, tname, 0), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_connect(e, tname, -1), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_connect(e, tname, INT32_MIN), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_connect(e, NULL, 1000), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_connect(e, "", 1000), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_connect(e, "junk", 1000), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_connect(e, "127.0.0.1:", 1000), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_connect(e, ename, 1000), ADXL_PARAM_INVALID); /* itself */
    /* None of those made a link. */
    CHECK_STATUS(adxl_disconnect(e, tname, 1000), ADXL_NOT_CONNECTED);

    CHECK_STATUS(adxl_connect(e, tname, 5000), ADXL_SUCCESS);
    CHECK_STATUS(adxl_connect(e, tname, 5000), ADXL_ALREADY_CONNECTED);
    CHECK_STATUS(adxl_connect(e, tname, 1), ADXL_ALREADY_CONNECTED);

    CHECK_STATUS(adxl_disconnect(e, tname, 0), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_disconnect(e, tname, -5), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_disconnect(e, NULL, 1000), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_disconnect(e, "junk", 1000), ADXL_PARAM_INVALID);
    /* Still linked after the bad disconnects. */
    CHECK_STATUS(adxl_connect(e, tname, 5000), ADXL_ALREADY_CONNECTED);
    /* Links are one-way: t has none to e. */
    CHECK_STATUS(adxl_disconnect(t, ename, 1000), ADXL_NOT_CONNECTED);
    adxl_engine_destroy(e);
    adxl_engine_destroy(t);
}

static void test_timeout(void) {
    fprintf(stderr, "-- connect to a port nobody listens on\n");
    adxl_engine_t *e = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(e != NULL);
    int hold = -1, hold6 = -1; /* nobody may take the ports meanwhile (tests run in parallel) */
    unsigned port = ta_dead_port(false, &hold);
    REQUIRE(port != 0);
    char name[64];
    snprintf(name, sizeof(name), "127.0.0.1:%u", port);
    uint64_t t0 = tu_now_ms();
    CHECK_STATUS(adxl_connect(e, name, 300), ADXL_TIMEOUT);
    uint64_t took = tu_now_ms() - t0;
    fprintf(stderr, "   took %llu ms\n", (unsigned long long)took);
    CHECK(took < 10000);
    /* Again (no half-made link left behind). */
    CHECK_STATUS(adxl_connect(e, name, 100), ADXL_TIMEOUT);
    CHECK_STATUS(adxl_disconnect(e, name, 1000), ADXL_NOT_CONNECTED);
    uint8_t b[64] = {0};
    CHECK_STATUS(ta_xfer(e, name, ADXL_WRITE, b, b, sizeof(b), 1000), ADXL_NOT_CONNECTED);
    CHECK_STATUS(adxl_send_notify(e, name, "n", "m", 1000), ADXL_NOT_CONNECTED);

    /* Addresses that probably drop or refuse what we send (depends on the network):
     * the call still ends, within about its timeout, without a link. */
    static const char *const far[] = {"10.255.255.1:9", "[2001:db8::1]:9"};
    for (size_t k = 0; k < sizeof(far) / sizeof(far[0]); k++) {
        adxl_engine_t *c = tu_engine(k == 0 ? "0.0.0.0" : "[::]", NULL, 0);
        if (c == NULL) continue;
        t0 = tu_now_ms();
        adxl_status_t st = adxl_connect(c, far[k], 300);
        took = tu_now_ms() - t0;
        fprintf(stderr, "   %s: %s after %llu ms\n", far[k], adxl_status_str(st),
                (unsigned long long)took);
        CHECK(st == ADXL_TIMEOUT || st == ADXL_FAILED);
        CHECK(took < 10000);
        CHECK_STATUS(adxl_disconnect(c, far[k], 1000), ADXL_NOT_CONNECTED);
        adxl_engine_destroy(c);
    }

    if (ta_have_ipv6()) {
        adxl_engine_t *e6 = tu_engine("[::1]", NULL, 0);
        REQUIRE(e6 != NULL);
        unsigned p6 = ta_dead_port(true, &hold6);
        snprintf(name, sizeof(name), "[::1]:%u", p6);
        t0 = tu_now_ms();
        CHECK_STATUS(adxl_connect(e6, name, 300), ADXL_TIMEOUT);
        CHECK(tu_now_ms() - t0 < 10000);
        adxl_engine_destroy(e6);
    }
    adxl_engine_destroy(e);
    close(hold);
    if (hold6 >= 0) close(hold6);
}

/* Start order: connect first, the target appears later. */
typedef struct {
    adxl_engine_t *e;
    const char *name;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool started;
    adxl_status_t result;
} late_arg_t;

static void *late_connect(void *p) {
    late_arg_t *a = p;
    pthread_mutex_lock(&a->mu);
    a->started = true;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    a->result = adxl_connect(a->e, a->name, 5000);
    return NULL;
}

static void test_start_order(void) {
    fprintf(stderr, "-- connect before the target is up\n");
    unsigned port = ta_free_port(false);
    REQUIRE(port != 0);
    char name[64];
    snprintf(name, sizeof(name), "127.0.0.1:%u", port);
    adxl_engine_t *e = tu_engine("127.0.0.1", NULL, 0);
    REQUIRE(e != NULL);
    adxl_engine_t *t = NULL;
    REQUIRE(adxl_engine_create(&t) == ADXL_SUCCESS && t != NULL);

    late_arg_t a = {.e = e, .name = name, .result = ADXL_FAILED};
    pthread_mutex_init(&a.mu, NULL);
    pthread_cond_init(&a.cv, NULL);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, late_connect, &a) == 0);
    pthread_mutex_lock(&a.mu);
    while (!a.started)
        pthread_cond_wait(&a.cv, &a.mu);
    pthread_mutex_unlock(&a.mu);
    /* The connector is running; give it time to fail a few attempts, then start the
     * target on the promised port. */
    tu_sleep_ms(200);
    CHECK_STATUS(adxl_initialize(t, name, NULL, 0), ADXL_SUCCESS);
    uint64_t t0 = tu_now_ms();
    pthread_join(th, NULL);
    CHECK(tu_now_ms() - t0 < 10000);
    CHECK_STATUS(a.result, ADXL_SUCCESS);

    ta_region_t tr;
    REQUIRE(ta_region_alloc(&tr, t, 65536));
    uint8_t src[65536];
    tu_fill(src, sizeof(src), 77);
    CHECK_STATUS(ta_xfer(e, name, ADXL_WRITE, src, tr.ptr, sizeof(src), 5000), ADXL_SUCCESS);
    CHECK(tu_verify(tr.ptr, sizeof(src), 77));
    ta_region_free(&tr, t);
    adxl_engine_destroy(e);
    adxl_engine_destroy(t);
    pthread_mutex_destroy(&a.mu);
    pthread_cond_destroy(&a.cv);
}

/* A TCP server that is not adxl. mode 0: sends garbage and keeps the connection open;
 * 1: closes each connection at once; 2: accepts and stays silent; 3: sends a long run of
 * 0xff bytes (huge lengths, if read as a header). */
typedef struct {
    int lfd;
    int mode;
    atomic_int stop;
    atomic_int accepted;
} fake_server_t;

static void *fake_server(void *p) {
    fake_server_t *s = p;
    int conns[64];
    int nconn = 0;
    uint8_t junk[8192];
    for (size_t k = 0; k < sizeof(junk); k++)
        junk[k] = s->mode == 3 ? 0xff : (uint8_t)(k * 131u + 7u);
    memcpy(junk, "HTTP/1.1 400 Bad Request\r\n\r\n", 28);
    while (!atomic_load(&s->stop)) {
        struct pollfd pfd = {.fd = s->lfd, .events = POLLIN};
        if (poll(&pfd, 1, 20) <= 0) continue;
        int c = accept(s->lfd, NULL, NULL);
        if (c < 0) continue;
        atomic_fetch_add(&s->accepted, 1);
        if (s->mode == 1) {
            close(c);
            continue;
        }
        if (s->mode == 0 || s->mode == 3) {
            ssize_t w = send(c, junk, sizeof(junk), MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)w;
        }
        if (nconn < 64)
            conns[nconn++] = c;
        else
            close(c);
    }
    for (int k = 0; k < nconn; k++)
        close(conns[k]);
    return NULL;
}

static void test_fake_servers(void) {
    adxl_engine_t *e = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(e != NULL);
    static const char *const what[] = {"garbage", "close at once", "silent", "0xff bytes"};
    for (int mode = 0; mode < 4; mode++) {
        fprintf(stderr, "-- connect to a server that answers with %s\n", what[mode]);
        fake_server_t s = {.mode = mode};
        unsigned port = 0;
        s.lfd = ta_listen_socket(&port);
        REQUIRE(s.lfd >= 0);
        pthread_t th;
        REQUIRE(pthread_create(&th, NULL, fake_server, &s) == 0);
        char name[64];
        snprintf(name, sizeof(name), "127.0.0.1:%u", port);
        uint64_t t0 = tu_now_ms();
        adxl_status_t st = adxl_connect(e, name, 1000);
        uint64_t took = tu_now_ms() - t0;
        fprintf(stderr, "   %s after %llu ms\n", adxl_status_str(st), (unsigned long long)took);
        CHECK(st == ADXL_FAILED || st == ADXL_TIMEOUT);
        CHECK(took < TA_HANG_MS);
        CHECK(atomic_load(&s.accepted) >= 1);
        /* No link came of it. */
        CHECK_STATUS(adxl_disconnect(e, name, 1000), ADXL_NOT_CONNECTED);
        uint8_t b[64] = {0};
        CHECK_STATUS(ta_xfer(e, name, ADXL_WRITE, b, b, sizeof(b), 1000), ADXL_NOT_CONNECTED);
        atomic_store(&s.stop, 1);
        pthread_join(th, NULL);
        close(s.lfd);
    }
    /* The engine is fine afterwards. */
    adxl_engine_t *t = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(t != NULL);
    CHECK_STATUS(adxl_connect(e, adxl_local_engine(t), 5000), ADXL_SUCCESS);
    adxl_engine_destroy(t);
    adxl_engine_destroy(e);
}

/* Raw TCP clients throwing junk at an engine's port must not hurt it. */
static void test_junk_clients(void) {
    fprintf(stderr, "-- junk clients on an engine's port\n");
    adxl_engine_t *t = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(t != NULL);
    const char *tname = adxl_local_engine(t);
    unsigned port = ta_name_port(tname);
    REQUIRE(port != 0);
    ta_region_t tr;
    REQUIRE(ta_region_alloc(&tr, t, 65536));

    for (int round = 0; round < 6; round++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(fd >= 0);
        struct sockaddr_in a;
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
        uint8_t junk[4096];
        for (size_t k = 0; k < sizeof(junk); k++)
            junk[k] = round % 2 ? 0xff : (uint8_t)(k * 7u + (unsigned)round);
        size_t n = round < 2 ? sizeof(junk) : (size_t)(round * 3); /* whole or partial */
        ssize_t w = send(fd, junk, n, MSG_NOSIGNAL);
        (void)w;
        if (round == 5) {
            /* Leave this one open and silent while a real peer connects. */
            adxl_engine_t *e = tu_engine("127.0.0.1", NULL, 0);
            REQUIRE(e != NULL);
            CHECK_STATUS(adxl_connect(e, tname, 5000), ADXL_SUCCESS);
            uint8_t src[4096];
            tu_fill(src, sizeof(src), 5);
            CHECK_STATUS(ta_xfer(e, tname, ADXL_WRITE, src, tr.ptr, sizeof(src), 5000),
                         ADXL_SUCCESS);
            CHECK(tu_verify(tr.ptr, sizeof(src), 5));
            adxl_engine_destroy(e);
        }
        close(fd);
    }
    adxl_engine_t *e = tu_engine("127.0.0.1", NULL, 0);
    REQUIRE(e != NULL);
    CHECK_STATUS(adxl_connect(e, tname, 5000), ADXL_SUCCESS);
    uint8_t src[8192];
    tu_fill(src, sizeof(src), 6);
    CHECK_STATUS(ta_xfer(e, tname, ADXL_WRITE, src, tr.ptr, sizeof(src), 5000), ADXL_SUCCESS);
    CHECK(tu_verify(tr.ptr, sizeof(src), 6));
    adxl_engine_destroy(e);
    ta_region_free(&tr, t);
    adxl_engine_destroy(t);
}

static void test_disconnect(void) {
    fprintf(stderr, "-- disconnect and reconnect\n");
    adxl_engine_t *t = tu_engine("127.0.0.1:0", NULL, 0);
    adxl_engine_t *e = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(t != NULL && e != NULL);
    char tname[128];
    snprintf(tname, sizeof(tname), "%s", adxl_local_engine(t));
    ta_region_t tr;
    REQUIRE(ta_region_alloc(&tr, t, 1u << 20));
    uint8_t *src = malloc(1u << 20);
    REQUIRE(src != NULL);

    CHECK_STATUS(adxl_disconnect(e, tname, 1000), ADXL_NOT_CONNECTED);
    for (int round = 0; round < 5; round++) {
        CHECK_STATUS(adxl_connect(e, tname, 5000), ADXL_SUCCESS);
        tu_fill(src, 1u << 20, (uint64_t)round);
        CHECK_STATUS(ta_xfer(e, tname, ADXL_WRITE, src, tr.ptr, 1u << 20, 5000), ADXL_SUCCESS);
        CHECK(tu_verify(tr.ptr, 1u << 20, (uint64_t)round));
        CHECK_STATUS(adxl_disconnect(e, tname, 5000), ADXL_SUCCESS);
        /* No link now. */
        memset(tr.ptr, 0, 4096);
        CHECK_STATUS(ta_xfer(e, tname, ADXL_WRITE, src, tr.ptr, 4096, 1000), ADXL_NOT_CONNECTED);
        CHECK_STATUS(ta_xfer(e, tname, ADXL_READ, src, tr.ptr, 4096, 1000), ADXL_NOT_CONNECTED);
        adxl_transfer_op_desc_t d = {(uintptr_t)src, (uintptr_t)tr.ptr, 4096};
        adxl_transfer_req_t req = NULL;
        adxl_status_t st = adxl_transfer_async(e, tname, ADXL_WRITE, &d, 1, NULL, &req);
        CHECK_STATUS(st, ADXL_NOT_CONNECTED);
        if (st == ADXL_SUCCESS) tu_wait_req(e, req, 10000);
        CHECK_STATUS(adxl_send_notify(e, tname, "n", "m", 1000), ADXL_NOT_CONNECTED);
        CHECK_STATUS(adxl_disconnect(e, tname, 1000), ADXL_NOT_CONNECTED);
        CHECK(all_zero_4k(tr.ptr));
    }
    /* Nothing reached the target after the disconnects. */
    size_t count = 99;
    CHECK_STATUS(adxl_get_notifies(t, NULL, 0, &count), ADXL_SUCCESS);
    CHECK(count == 0);
    free(src);
    ta_region_free(&tr, t);
    adxl_engine_destroy(e);
    adxl_engine_destroy(t);
}

static void test_disconnect_busy(void) {
    fprintf(stderr, "-- disconnect with async transfers in flight\n");
    adxl_engine_t *t = tu_engine("127.0.0.1:0", NULL, 0);
    adxl_engine_t *e = tu_engine("127.0.0.1", NULL, 0);
    REQUIRE(t != NULL && e != NULL);
    char tname[128];
    snprintf(tname, sizeof(tname), "%s", adxl_local_engine(t));
    enum { N = 32 };
    const size_t slice = 1u << 20;
    ta_region_t tr, src;
    REQUIRE(ta_region_alloc(&tr, t, N * slice));
    REQUIRE(ta_region_alloc(&src, e, slice));
    tu_fill(src.ptr, slice, 3);
    CHECK_STATUS(adxl_connect(e, tname, 5000), ADXL_SUCCESS);
    adxl_transfer_req_t reqs[N];
    size_t n = 0;
    for (; n < N; n++) {
        /* Large (direct) and small (buffered), each into its own slice. */
        adxl_transfer_op_desc_t d = {(uintptr_t)src.ptr, (uintptr_t)(tr.ptr + n * slice),
                                     n % 2 ? slice : 1000};
        if (adxl_transfer_async(e, tname, ADXL_WRITE, &d, 1, NULL, &reqs[n]) != ADXL_SUCCESS) break;
    }
    CHECK(n == N);
    uint64_t t0 = tu_now_ms();
    CHECK_STATUS(adxl_disconnect(e, tname, 5000), ADXL_SUCCESS);
    CHECK(tu_now_ms() - t0 < TA_HANG_MS);
    /* Every request ends, COMPLETED or FAILED; completed ones delivered their data. */
    size_t ended = 0;
    bool data_ok = true;
    for (size_t k = 0; k < n; k++) {
        int r = tu_wait_req(e, reqs[k], 30000);
        if (r == ADXL_TRANSFER_COMPLETED || r == ADXL_TRANSFER_FAILED)
            ended++;
        else
            fprintf(stderr, "request %zu after disconnect: %d\n", k, r);
        if (r == ADXL_TRANSFER_COMPLETED)
            data_ok = data_ok && tu_verify(tr.ptr + k * slice, k % 2 ? slice : 1000, 3);
    }
    CHECK(ended == n);
    CHECK(data_ok);
    CHECK_STATUS(ta_xfer(e, tname, ADXL_WRITE, src.ptr, tr.ptr, 4096, 1000), ADXL_NOT_CONNECTED);
    /* And back. */
    CHECK_STATUS(adxl_connect(e, tname, 5000), ADXL_SUCCESS);
    tu_fill(src.ptr, slice, 4);
    CHECK_STATUS(ta_xfer(e, tname, ADXL_WRITE, src.ptr, tr.ptr, slice, 5000), ADXL_SUCCESS);
    CHECK(tu_verify(tr.ptr, slice, 4));
    ta_region_free(&src, e);
    ta_region_free(&tr, t);
    adxl_engine_destroy(e);
    adxl_engine_destroy(t);
}

/*
 * How far the main thread got in its disconnect/connect rounds. A looper that finds no
 * link waits here for the next connect instead of retrying at once: spinning on calls
 * that fail instantly starves the thread that is connecting wherever threads do not run
 * in parallel (valgrind runs one thread at a time and does not share it out fairly),
 * until its connect runs out of time, and then nothing ever links again.
 */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned round; /* bumped after each connect */
    bool stop;
} rounds_t;

static unsigned rounds_now(rounds_t *r) {
    pthread_mutex_lock(&r->mu);
    unsigned n = r->round;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* Returns once a connect after `seen` has returned, or the test is stopping. */
static void rounds_wait_past(rounds_t *r, unsigned seen) {
    pthread_mutex_lock(&r->mu);
    while (r->round == seen && !r->stop)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
}

static void rounds_bump(rounds_t *r, bool stop) {
    pthread_mutex_lock(&r->mu);
    r->round++;
    r->stop = r->stop || stop;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static bool rounds_stopped(rounds_t *r) {
    pthread_mutex_lock(&r->mu);
    bool stop = r->stop;
    pthread_mutex_unlock(&r->mu);
    return stop;
}

typedef struct {
    adxl_engine_t *e;
    const char *name;
    uint8_t *src, *remote;
    rounds_t *rounds;
    int ok, not_connected, other;
} looper_t;

static void *xfer_loop(void *p) {
    looper_t *a = p;
    while (!rounds_stopped(a->rounds)) {
        /* Read before the calls: a connect that lands between a NOT_CONNECTED and the
         * wait has bumped it already, so the wait returns at once. */
        unsigned seen = rounds_now(a->rounds);
        bool linked = true;
        adxl_status_t st = ta_xfer(a->e, a->name, ADXL_WRITE, a->src, a->remote, 65536, 5000);
        if (st == ADXL_SUCCESS) {
            a->ok++;
        } else if (st == ADXL_NOT_CONNECTED) {
            a->not_connected++;
            linked = false;
        } else if (st != ADXL_FAILED) {
            a->other++;
        }
        st = adxl_send_notify(a->e, a->name, "loop", "x", 5000);
        if (st == ADXL_NOT_CONNECTED)
            linked = false;
        else if (st != ADXL_SUCCESS && st != ADXL_FAILED && st != ADXL_RESOURCE_EXHAUSTED)
            a->other++;
        if (!linked) rounds_wait_past(a->rounds, seen);
    }
    return NULL;
}

/* Disconnect and connect again, over and over, while other threads use the link. */
static void test_disconnect_under_use(void) {
    fprintf(stderr, "-- disconnect/connect while other threads transfer\n");
    adxl_engine_t *t = tu_engine("127.0.0.1:0", NULL, 0);
    adxl_engine_t *e = tu_engine("127.0.0.1", NULL, 0);
    REQUIRE(t != NULL && e != NULL);
    char tname[128];
    snprintf(tname, sizeof(tname), "%s", adxl_local_engine(t));
    enum { NT = 3 };
    ta_region_t tr;
    REQUIRE(ta_region_alloc(&tr, t, NT * 65536));
    static uint8_t srcs[NT][65536];
    rounds_t rounds = {.round = 0, .stop = false};
    pthread_mutex_init(&rounds.mu, NULL);
    pthread_cond_init(&rounds.cv, NULL);
    looper_t args[NT];
    pthread_t th[NT];
    CHECK_STATUS(adxl_connect(e, tname, 5000), ADXL_SUCCESS);
    for (int k = 0; k < NT; k++) {
        args[k] = (looper_t){e, tname, srcs[k], tr.ptr + k * 65536, &rounds, 0, 0, 0};
        REQUIRE(pthread_create(&th[k], NULL, xfer_loop, &args[k]) == 0);
    }
    int bad = 0;
    for (int round = 0; round < 30; round++) {
        uint64_t t0 = tu_now_ms();
        adxl_status_t st = adxl_disconnect(e, tname, 5000);
        if (st != ADXL_SUCCESS) {
            fprintf(stderr, "   round %d: disconnect: %s after %llu ms\n", round,
                    adxl_status_str(st), (unsigned long long)(tu_now_ms() - t0));
            bad++;
        }
        t0 = tu_now_ms();
        st = adxl_connect(e, tname, 5000);
        rounds_bump(&rounds, false);
        if (st != ADXL_SUCCESS) {
            fprintf(stderr, "   round %d: connect: %s after %llu ms\n", round, adxl_status_str(st),
                    (unsigned long long)(tu_now_ms() - t0));
            bad++;
        }
        size_t count = 0;
        adxl_notify_t notes[16];
        adxl_get_notifies(t, notes, 16, &count); /* keep the queue from filling */
        tu_sleep_ms(5);
    }
    rounds_bump(&rounds, true);
    int ok = 0, other = 0, not_connected = 0;
    for (int k = 0; k < NT; k++) {
        pthread_join(th[k], NULL);
        ok += args[k].ok;
        other += args[k].other;
        not_connected += args[k].not_connected;
    }
    fprintf(stderr, "   %d transfers went through, %d found no link\n", ok, not_connected);
    CHECK(bad == 0);
    CHECK(other == 0);
    /* The link is fine afterwards. */
    tu_fill(srcs[0], 65536, 77);
    CHECK_STATUS(ta_xfer(e, tname, ADXL_WRITE, srcs[0], tr.ptr, 65536, 5000), ADXL_SUCCESS);
    CHECK(tu_verify(tr.ptr, 65536, 77));
    pthread_cond_destroy(&rounds.cv);
    pthread_mutex_destroy(&rounds.mu);
    ta_region_free(&tr, t);
    adxl_engine_destroy(e);
    adxl_engine_destroy(t);
}

static void test_two_way(void) {
    fprintf(stderr, "-- links are one-way\n");
    adxl_engine_t *a = tu_engine("127.0.0.1:0", NULL, 0);
    adxl_engine_t *b = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(a != NULL && b != NULL);
    char an[128], bn[128];
    snprintf(an, sizeof(an), "%s", adxl_local_engine(a));
    snprintf(bn, sizeof(bn), "%s", adxl_local_engine(b));
    ta_region_t ar, br;
    REQUIRE(ta_region_alloc(&ar, a, 65536));
    REQUIRE(ta_region_alloc(&br, b, 65536));
    uint8_t src[4096];
    tu_fill(src, sizeof(src), 1);

    CHECK_STATUS(adxl_connect(a, bn, 5000), ADXL_SUCCESS);
    /* b has no link to a. */
    CHECK_STATUS(ta_xfer(b, an, ADXL_WRITE, src, ar.ptr, sizeof(src), 1000), ADXL_NOT_CONNECTED);
    CHECK_STATUS(adxl_send_notify(b, an, "n", "m", 1000), ADXL_NOT_CONNECTED);
    /* b connects to a: its own link, not "already connected". */
    CHECK_STATUS(adxl_connect(b, an, 5000), ADXL_SUCCESS);
    CHECK_STATUS(ta_xfer(b, an, ADXL_WRITE, src, ar.ptr, sizeof(src), 5000), ADXL_SUCCESS);
    CHECK(tu_verify(ar.ptr, sizeof(src), 1));
    tu_fill(src, sizeof(src), 2);
    CHECK_STATUS(ta_xfer(a, bn, ADXL_WRITE, src, br.ptr, sizeof(src), 5000), ADXL_SUCCESS);
    CHECK(tu_verify(br.ptr, sizeof(src), 2));
    /* Dropping one direction leaves the other. */
    CHECK_STATUS(adxl_disconnect(a, bn, 5000), ADXL_SUCCESS);
    CHECK_STATUS(ta_xfer(a, bn, ADXL_WRITE, src, br.ptr, sizeof(src), 1000), ADXL_NOT_CONNECTED);
    tu_fill(src, sizeof(src), 3);
    CHECK_STATUS(ta_xfer(b, an, ADXL_WRITE, src, ar.ptr, sizeof(src), 5000), ADXL_SUCCESS);
    CHECK(tu_verify(ar.ptr, sizeof(src), 3));
    ta_region_free(&ar, a);
    ta_region_free(&br, b);
    adxl_engine_destroy(a);
    adxl_engine_destroy(b);
}

static void test_auto_connect(void) {
    fprintf(stderr, "-- AutoConnect\n");
    adxl_engine_t *t = tu_engine("127.0.0.1:0", NULL, 0);
    adxl_option_t ac = {"AutoConnect", "1"};
    adxl_engine_t *e = tu_engine("127.0.0.1", &ac, 1);
    REQUIRE(t != NULL && e != NULL);
    char tname[128];
    snprintf(tname, sizeof(tname), "%s", adxl_local_engine(t));
    ta_region_t tr;
    REQUIRE(ta_region_alloc(&tr, t, 1u << 20));
    uint8_t *src = malloc(1u << 20);
    REQUIRE(src != NULL);

    /* Transfer without connect. */
    tu_fill(src, 1u << 20, 10);
    CHECK_STATUS(ta_xfer(e, tname, ADXL_WRITE, src, tr.ptr, 1u << 20, 5000), ADXL_SUCCESS);
    CHECK(tu_verify(tr.ptr, 1u << 20, 10));
    /* The link now exists. */
    CHECK_STATUS(adxl_connect(e, tname, 5000), ADXL_ALREADY_CONNECTED);
    /* After disconnect, the next transfer connects again: READ this time. */
    CHECK_STATUS(adxl_disconnect(e, tname, 5000), ADXL_SUCCESS);
    tu_fill(tr.ptr, 1u << 20, 11);
    memset(src, 0, 1u << 20);
    CHECK_STATUS(ta_xfer(e, tname, ADXL_READ, src, tr.ptr, 1u << 20, 5000), ADXL_SUCCESS);
    CHECK(tu_verify(src, 1u << 20, 11));
    /* Notify first. */
    CHECK_STATUS(adxl_disconnect(e, tname, 5000), ADXL_SUCCESS);
    CHECK_STATUS(adxl_send_notify(e, tname, "auto", "notify", 5000), ADXL_SUCCESS);
    adxl_notify_t note;
    size_t count = 0;
    CHECK_STATUS(adxl_get_notifies(t, &note, 1, &count), ADXL_SUCCESS);
    CHECK(count == 1 && strcmp(note.name, "auto") == 0 && strcmp(note.msg, "notify") == 0);
    /* Async first. */
    CHECK_STATUS(adxl_disconnect(e, tname, 5000), ADXL_SUCCESS);
    tu_fill(src, 65536, 12);
    adxl_transfer_op_desc_t d = {(uintptr_t)src, (uintptr_t)tr.ptr, 65536};
    adxl_transfer_req_t req = NULL;
    adxl_transfer_args_t args = {5000, NULL};
    CHECK_STATUS(adxl_transfer_async(e, tname, ADXL_WRITE, &d, 1, &args, &req), ADXL_SUCCESS);
    CHECK(tu_wait_req(e, req, 30000) == ADXL_TRANSFER_COMPLETED);
    CHECK(tu_verify(tr.ptr, 65536, 12));

    /* Nobody there: the transfer fails within about its timeout. */
    int hold = -1;
    unsigned port = ta_dead_port(false, &hold);
    char dead[64];
    snprintf(dead, sizeof(dead), "127.0.0.1:%u", port);
    uint64_t t0 = tu_now_ms();
    adxl_status_t st = ta_xfer(e, dead, ADXL_WRITE, src, tr.ptr, 4096, 300);
    fprintf(stderr, "   auto-connect to nobody: %s\n", adxl_status_str(st));
    CHECK(st == ADXL_TIMEOUT || st == ADXL_NOT_CONNECTED);
    CHECK(tu_now_ms() - t0 < 10000);
    st = adxl_send_notify(e, dead, "n", "m", 300);
    CHECK(st == ADXL_TIMEOUT || st == ADXL_NOT_CONNECTED);
    close(hold);

    /* Malformed names are still PARAM_INVALID, not an attempt to connect. */
    CHECK_STATUS(ta_xfer(e, "junk", ADXL_WRITE, src, tr.ptr, 4096, 300), ADXL_PARAM_INVALID);

    /* Without AutoConnect (default), no link means NOT_CONNECTED. */
    adxl_engine_t *plain = tu_engine("127.0.0.1", NULL, 0);
    REQUIRE(plain != NULL);
    CHECK_STATUS(ta_xfer(plain, tname, ADXL_WRITE, src, tr.ptr, 4096, 1000), ADXL_NOT_CONNECTED);
    adxl_engine_destroy(plain);
    adxl_option_t off = {"AutoConnect", "0"};
    plain = tu_engine("127.0.0.1", &off, 1);
    REQUIRE(plain != NULL);
    CHECK_STATUS(ta_xfer(plain, tname, ADXL_WRITE, src, tr.ptr, 4096, 1000), ADXL_NOT_CONNECTED);
    adxl_engine_destroy(plain);

    free(src);
    ta_region_free(&tr, t);
    adxl_engine_destroy(e);
    adxl_engine_destroy(t);
}

typedef struct {
    adxl_engine_t *e;
    const char *name;
    adxl_status_t result;
    /* Optional: right after connect returns, WRITE this buffer to remote. */
    uint8_t *src, *remote;
    size_t len;
    adxl_status_t xfer_result;
} conc_arg_t;

static void *conc_connect(void *p) {
    conc_arg_t *a = p;
    a->result = adxl_connect(a->e, a->name, 10000);
    if (a->src != NULL)
        a->xfer_result = ta_xfer(a->e, a->name, ADXL_WRITE, a->src, a->remote, a->len, 5000);
    return NULL;
}

static void *slow_connect(void *p) {
    late_arg_t *a = p;
    pthread_mutex_lock(&a->mu);
    a->started = true;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    a->result = adxl_connect(a->e, a->name, 1500);
    return NULL;
}

typedef struct {
    adxl_engine_t *e;
    const char *name;
    uint8_t *src, *remote;
    adxl_status_t result;
} auto_arg_t;

static void *auto_write(void *p) {
    auto_arg_t *a = p;
    a->result = ta_xfer(a->e, a->name, ADXL_WRITE, a->src, a->remote, 4096, 5000);
    return NULL;
}

/* AutoConnect: several threads make their first transfer to a peer at once; the link is
 * made once and every transfer goes through. */
static void test_auto_connect_threads(void) {
    fprintf(stderr, "-- AutoConnect: first transfers from several threads at once\n");
    adxl_engine_t *t = tu_engine("127.0.0.1:0", NULL, 0);
    adxl_option_t ac = {"AutoConnect", "1"};
    adxl_engine_t *e = tu_engine("127.0.0.1", &ac, 1);
    REQUIRE(t != NULL && e != NULL);
    enum { NT = 6 };
    ta_region_t tr;
    REQUIRE(ta_region_alloc(&tr, t, NT * 4096));
    static uint8_t srcs[NT][4096];
    auto_arg_t args[NT];
    pthread_t th[NT];
    for (int k = 0; k < NT; k++) {
        tu_fill(srcs[k], 4096, 600 + (uint64_t)k);
        args[k] = (auto_arg_t){e, adxl_local_engine(t), srcs[k], tr.ptr + k * 4096, ADXL_FAILED};
        REQUIRE(pthread_create(&th[k], NULL, auto_write, &args[k]) == 0);
    }
    int ok = 0;
    for (int k = 0; k < NT; k++) {
        pthread_join(th[k], NULL);
        if (args[k].result == ADXL_SUCCESS && tu_verify(tr.ptr + k * 4096, 4096, 600 + (uint64_t)k))
            ok++;
        else
            fprintf(stderr, "   auto-connecting write %d: %s\n", k,
                    adxl_status_str(args[k].result));
    }
    CHECK(ok == NT);
    CHECK_STATUS(adxl_connect(e, adxl_local_engine(t), 5000), ADXL_ALREADY_CONNECTED);
    ta_region_free(&tr, t);
    adxl_engine_destroy(e);
    adxl_engine_destroy(t);
}

/* While one connect is still trying (nobody listens), another connect to the same name
 * must not report a link: there is none, and there never will be. */
static void test_connect_while_connecting(void) {
    fprintf(stderr, "-- connect while another connect to the same name is in progress\n");
    adxl_engine_t *e = tu_engine("127.0.0.1", NULL, 0);
    REQUIRE(e != NULL);
    int hold = -1; /* nobody may take the port meanwhile (tests run in parallel) */
    unsigned port = ta_dead_port(false, &hold);
    REQUIRE(port != 0);
    char name[64];
    snprintf(name, sizeof(name), "127.0.0.1:%u", port);
    late_arg_t a = {.e = e, .name = name, .result = ADXL_SUCCESS};
    pthread_mutex_init(&a.mu, NULL);
    pthread_cond_init(&a.cv, NULL);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, slow_connect, &a) == 0);
    pthread_mutex_lock(&a.mu);
    while (!a.started)
        pthread_cond_wait(&a.cv, &a.mu);
    pthread_mutex_unlock(&a.mu);
    tu_sleep_ms(50); /* let it get going; either order must give the same answers */
    adxl_status_t second = adxl_connect(e, name, 300);
    uint8_t b[64] = {0};
    adxl_status_t xfer = ta_xfer(e, name, ADXL_WRITE, b, b, sizeof(b), 300);
    pthread_join(th, NULL);
    fprintf(stderr, "   first %s, second %s\n", adxl_status_str(a.result), adxl_status_str(second));
    CHECK_STATUS(a.result, ADXL_TIMEOUT);
    CHECK_STATUS(second, ADXL_TIMEOUT);
    CHECK(xfer == ADXL_NOT_CONNECTED || xfer == ADXL_TIMEOUT);
    CHECK_STATUS(adxl_disconnect(e, name, 1000), ADXL_NOT_CONNECTED);
    pthread_mutex_destroy(&a.mu);
    pthread_cond_destroy(&a.cv);
    adxl_engine_destroy(e);
    close(hold);
}

static void test_concurrent(void) {
    fprintf(stderr, "-- concurrent connects\n");
    adxl_engine_t *t = tu_engine("127.0.0.1:0", NULL, 0);
    adxl_engine_t *e = tu_engine("127.0.0.1", NULL, 0);
    REQUIRE(t != NULL && e != NULL);
    enum { NT = 6 };
    conc_arg_t args[NT];
    pthread_t th[NT];
    /* Each thread writes right after its connect returned: SUCCESS or ALREADY_CONNECTED
     * both mean the link is there to use. */
    ta_region_t cr;
    REQUIRE(ta_region_alloc(&cr, t, NT * 4096));
    uint8_t srcs[NT][4096];
    for (int k = 0; k < NT; k++) {
        tu_fill(srcs[k], 4096, 500 + (uint64_t)k);
        args[k] = (conc_arg_t){e,    adxl_local_engine(t), ADXL_FAILED, srcs[k], cr.ptr + k * 4096,
                               4096, ADXL_FAILED};
        REQUIRE(pthread_create(&th[k], NULL, conc_connect, &args[k]) == 0);
    }
    int ok = 0, already = 0, wrote = 0;
    for (int k = 0; k < NT; k++) {
        pthread_join(th[k], NULL);
        if (args[k].result == ADXL_SUCCESS)
            ok++;
        else if (args[k].result == ADXL_ALREADY_CONNECTED)
            already++;
        else
            fprintf(stderr, "   concurrent connect: %s\n", adxl_status_str(args[k].result));
        if (args[k].xfer_result == ADXL_SUCCESS &&
            tu_verify(cr.ptr + k * 4096, 4096, 500 + (uint64_t)k))
            wrote++;
        else
            fprintf(stderr, "   write after concurrent connect (%s): %s\n",
                    adxl_status_str(args[k].result), adxl_status_str(args[k].xfer_result));
    }
    CHECK(ok == 1);
    CHECK(already == NT - 1);
    CHECK(wrote == NT);
    ta_region_free(&cr, t);
    /* One link: one disconnect removes it. */
    CHECK_STATUS(adxl_disconnect(e, adxl_local_engine(t), 5000), ADXL_SUCCESS);
    CHECK_STATUS(adxl_disconnect(e, adxl_local_engine(t), 5000), ADXL_NOT_CONNECTED);

    /* Many initiators to one target at once. */
    enum { NE = 6 };
    adxl_engine_t *es[NE];
    for (int k = 0; k < NE; k++) {
        es[k] = tu_engine("127.0.0.1", NULL, 0);
        REQUIRE(es[k] != NULL);
        args[k] = (conc_arg_t){es[k], adxl_local_engine(t), ADXL_FAILED, NULL, NULL, 0, 0};
        REQUIRE(pthread_create(&th[k], NULL, conc_connect, &args[k]) == 0);
    }
    ta_region_t tr;
    REQUIRE(ta_region_alloc(&tr, t, NE * 4096));
    for (int k = 0; k < NE; k++) {
        pthread_join(th[k], NULL);
        CHECK_STATUS(args[k].result, ADXL_SUCCESS);
    }
    for (int k = 0; k < NE; k++) {
        uint8_t src[4096];
        tu_fill(src, sizeof(src), 1000 + (uint64_t)k);
        CHECK_STATUS(ta_xfer(es[k], adxl_local_engine(t), ADXL_WRITE, src, tr.ptr + k * 4096,
                             sizeof(src), 5000),
                     ADXL_SUCCESS);
    }
    for (int k = 0; k < NE; k++) {
        CHECK(tu_verify(tr.ptr + k * 4096, 4096, 1000 + (uint64_t)k));
        adxl_engine_destroy(es[k]);
    }
    ta_region_free(&tr, t);
    adxl_engine_destroy(e);
    adxl_engine_destroy(t);
}

/* A target in another process; the parent writes and reads, disconnects, reconnects. */
static int child_target(void *arg, int to_parent, int from_parent) {
    (void)arg;
    ta_child_reset();
    adxl_engine_t *t = tu_engine("127.0.0.1:0", NULL, 0);
    ta_region_t r;
    if (t == NULL || !ta_region_alloc(&r, t, 4u << 20)) return 2;
    tu_fill(r.ptr, r.len, 900);
    tu_send_line(to_parent, "%s %lu", adxl_local_engine(t), (unsigned long)(uintptr_t)r.ptr);
    char line[256];
    while (tu_recv_line(from_parent, line, sizeof(line), 60000)) {
        unsigned long seed;
        if (sscanf(line, "verify %lu", &seed) == 1) {
            ta_sync_with_engine_threads();
            CHECK(tu_verify(r.ptr, r.len, seed));
        } else if (strcmp(line, "quit") == 0) {
            break;
        }
        tu_send_line(to_parent, "ok");
    }
    ta_region_free(&r, t);
    adxl_engine_destroy(t);
    return ta_child_result();
}

static void test_cross_process(void) {
    fprintf(stderr, "-- target in another process\n");
    tu_child_t c;
    REQUIRE(tu_spawn(&c, child_target, NULL));
    char line[256], tname[128];
    unsigned long addr = 0;
    REQUIRE(tu_recv_line(c.from_child, line, sizeof(line), 30000) &&
            sscanf(line, "%127s %lu", tname, &addr) == 2);
    uint8_t *remote = (uint8_t *)(uintptr_t)addr;
    adxl_engine_t *e = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(e != NULL);
    const size_t len = 4u << 20;
    uint8_t *buf = malloc(len);
    REQUIRE(buf != NULL);
    for (int round = 0; round < 3; round++) {
        CHECK_STATUS(adxl_connect(e, tname, 5000), ADXL_SUCCESS);
        memset(buf, 0, len);
        CHECK_STATUS(ta_xfer(e, tname, ADXL_READ, buf, remote, len, 10000), ADXL_SUCCESS);
        CHECK(tu_verify(buf, len, 900 + (uint64_t)round));
        tu_fill(buf, len, 901 + (uint64_t)round);
        CHECK_STATUS(ta_xfer(e, tname, ADXL_WRITE, buf, remote, len, 10000), ADXL_SUCCESS);
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "verify %d", 901 + round);
        CHECK(tu_send_line(c.to_child, "%s", cmd) &&
              tu_recv_line(c.from_child, line, sizeof(line), 30000) && strcmp(line, "ok") == 0);
        CHECK_STATUS(adxl_disconnect(e, tname, 5000), ADXL_SUCCESS);
    }
    tu_send_line(c.to_child, "quit");
    CHECK(tu_wait_child(&c, 30000) == 0);
    /* The target process is gone: nobody answers any more. */
    adxl_status_t st = adxl_connect(e, tname, 300);
    CHECK(st == ADXL_TIMEOUT || st == ADXL_FAILED);
    free(buf);
    adxl_engine_destroy(e);
}

int main(void) {
    test_cross_process(); /* first: fork before this process has engine threads */
    test_args();
    test_timeout();
    test_start_order();
    test_fake_servers();
    test_junk_clients();
    test_disconnect();
    test_disconnect_busy();
    test_disconnect_under_use();
    test_two_way();
    test_auto_connect();
    test_concurrent();
    test_connect_while_connecting();
    test_auto_connect_threads();
    return tu_finish();
}
