/*
 * Engine lifecycle: create/initialize/finalize/destroy, every call before initialize and
 * after finalize (ADXL_FAILED), every call on a NULL engine (ADXL_PARAM_INVALID), a second
 * initialize, re-initialize after finalize, initialize and finalize from several threads
 * at once (one starts or stops the engine, the others find it done), and finalize/destroy
 * with links and async transfers in flight (no hang, no crash, no leaked threads or
 * descriptors).
 */
#include "test_api_util.h"

#include <dirent.h>
#include <signal.h>

#define BOGUS_HANDLE ((adxl_mem_handle_t)(uintptr_t)0x1234)
#define BIG (8u << 20)
/* Busy tests: N_SLICES requests of SLICE bytes each, every one into its own slice of the
 * target region (overlapping concurrent writes would be a data race in the test itself). */
#define SLICE (1u << 20)
#define N_SLICES 48u
#define SLICED (SLICE * N_SLICES)

static int count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* the DIR's own descriptor */
}

static int count_threads(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) return -1;
    char line[256];
    int n = -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "Threads: %d", &n) == 1) break;
    fclose(f);
    return n;
}

/* Every engine call with otherwise valid arguments must return `want` (ADXL_FAILED on an
 * engine that is not initialized). */
static void check_all_calls(adxl_engine_t *e, adxl_status_t want, const char *when) {
    fprintf(stderr, "-- calls %s\n", when);
    uint8_t buf[4096];
    adxl_mem_desc_t md = {(uintptr_t)buf, sizeof(buf)};
    adxl_mem_handle_t h = NULL;
    const char *peer = "127.0.0.1:1";
    adxl_transfer_op_desc_t od = {(uintptr_t)buf, (uintptr_t)buf + 2048, 1024};
    adxl_transfer_req_t req = NULL;
    adxl_transfer_status_t ts = ADXL_TRANSFER_WAITING;
    adxl_notify_t notes[4];
    size_t count = 99;
    adxl_stats_t stats;
    adxl_transfer_args_t args = {100, NULL};

    CHECK(adxl_local_engine(e) == NULL);
    CHECK_STATUS(adxl_register_mem(e, &md, ADXL_MEM_HOST, &h), want);
    CHECK_STATUS(adxl_deregister_mem(e, BOGUS_HANDLE), want);
    CHECK_STATUS(adxl_connect(e, peer, 100), want);
    CHECK_STATUS(adxl_disconnect(e, peer, 100), want);
    CHECK_STATUS(adxl_transfer_sync(e, peer, ADXL_WRITE, &od, 1, 100), want);
    CHECK_STATUS(adxl_transfer_sync(e, peer, ADXL_READ, &od, 1, 100), want);
    CHECK_STATUS(adxl_transfer_async(e, peer, ADXL_WRITE, &od, 1, NULL, &req), want);
    CHECK_STATUS(adxl_transfer_async(e, peer, ADXL_READ, &od, 1, &args, &req), want);
    CHECK_STATUS(adxl_get_transfer_status(e, NULL, &ts), want);
    CHECK_STATUS(adxl_send_notify(e, peer, "name", "msg", 100), want);
    CHECK_STATUS(adxl_get_notifies(e, notes, 4, &count), want);
    CHECK_STATUS(adxl_get_notifies(e, NULL, 0, &count), want);
    CHECK_STATUS(adxl_get_stats(e, &stats), want);
}

static void test_null_engine(void) {
    fprintf(stderr, "-- NULL engine\n");
    uint8_t buf[4096];
    adxl_mem_desc_t md = {(uintptr_t)buf, sizeof(buf)};
    adxl_mem_handle_t h = NULL;
    const char *peer = "127.0.0.1:1";
    adxl_transfer_op_desc_t od = {(uintptr_t)buf, (uintptr_t)buf + 2048, 1024};
    adxl_transfer_req_t req = NULL;
    adxl_notify_t notes[4];
    size_t count = 0;
    adxl_stats_t stats;

    CHECK_STATUS(adxl_engine_create(NULL), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_initialize(NULL, "127.0.0.1:0", NULL, 0), ADXL_PARAM_INVALID);
    CHECK(adxl_local_engine(NULL) == NULL);
    CHECK_STATUS(adxl_register_mem(NULL, &md, ADXL_MEM_HOST, &h), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_deregister_mem(NULL, BOGUS_HANDLE), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_connect(NULL, peer, 100), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_disconnect(NULL, peer, 100), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_transfer_sync(NULL, peer, ADXL_WRITE, &od, 1, 100), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_transfer_async(NULL, peer, ADXL_WRITE, &od, 1, NULL, &req),
                 ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_send_notify(NULL, peer, "name", "msg", 100), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_get_notifies(NULL, notes, 4, &count), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_get_stats(NULL, &stats), ADXL_PARAM_INVALID);
    adxl_finalize(NULL);
    adxl_engine_destroy(NULL);
    CHECK(true); /* reached: finalize(NULL) and destroy(NULL) are no-ops */
}

static void test_before_and_after(void) {
    adxl_engine_t *e = NULL;
    CHECK_STATUS(adxl_engine_create(&e), ADXL_SUCCESS);
    REQUIRE(e != NULL);
    check_all_calls(e, ADXL_FAILED, "before initialize");
    adxl_finalize(e); /* finalize of an engine never initialized: harmless */
    check_all_calls(e, ADXL_FAILED, "after finalize of a fresh engine");

    CHECK_STATUS(adxl_initialize(e, "127.0.0.1:0", NULL, 0), ADXL_SUCCESS);
    CHECK(adxl_local_engine(e) != NULL);
    adxl_finalize(e);
    check_all_calls(e, ADXL_FAILED, "after finalize");
    adxl_finalize(e); /* twice: harmless */
    CHECK(adxl_local_engine(e) == NULL);
    adxl_engine_destroy(e);

    /* Destroy of an initialized engine finalizes it. */
    e = NULL;
    CHECK_STATUS(adxl_engine_create(&e), ADXL_SUCCESS);
    REQUIRE(e != NULL);
    CHECK_STATUS(adxl_initialize(e, "127.0.0.1:0", NULL, 0), ADXL_SUCCESS);
    adxl_engine_destroy(e);
    CHECK(true);

    /* Two creates give two engines. */
    adxl_engine_t *a = NULL, *b = NULL;
    CHECK_STATUS(adxl_engine_create(&a), ADXL_SUCCESS);
    CHECK_STATUS(adxl_engine_create(&b), ADXL_SUCCESS);
    CHECK(a != NULL && b != NULL && a != b);
    adxl_engine_destroy(a);
    adxl_engine_destroy(b);
}

/* Writes 64 KiB from initiator e into target t's region, checks the bytes. */
static bool write_roundtrip(adxl_engine_t *e, adxl_engine_t *t, ta_region_t *tr, uint64_t seed) {
    const char *tname = adxl_local_engine(t);
    if (tname == NULL) return false;
    uint8_t *src = malloc(65536);
    if (src == NULL) return false;
    tu_fill(src, 65536, seed);
    memset(tr->ptr, 0, 65536);
    adxl_status_t st = ta_xfer(e, tname, ADXL_WRITE, src, tr->ptr, 65536, 5000);
    CHECK_STATUS(st, ADXL_SUCCESS);
    bool ok = st == ADXL_SUCCESS && tu_verify(tr->ptr, 65536, seed);
    CHECK(ok);
    free(src);
    return ok;
}

static void test_second_initialize(void) {
    fprintf(stderr, "-- second initialize\n");
    adxl_engine_t *t = tu_engine("127.0.0.1:0", NULL, 0);
    adxl_engine_t *e = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(t != NULL && e != NULL);
    ta_region_t tr;
    REQUIRE(ta_region_alloc(&tr, t, 1u << 20));
    char name1[128];
    REQUIRE(adxl_local_engine(e) != NULL);
    snprintf(name1, sizeof(name1), "%s", adxl_local_engine(e));

    /* Again, with another name and AutoConnect on: success, and nothing changes. */
    adxl_option_t auto_on = {"AutoConnect", "1"};
    CHECK_STATUS(adxl_initialize(e, "127.0.0.1:0", &auto_on, 1), ADXL_SUCCESS);
    CHECK_STATUS(adxl_initialize(e, "127.0.0.1", NULL, 0), ADXL_SUCCESS);
    /* Even arguments that would be refused the first time: it is a no-op. */
    CHECK_STATUS(adxl_initialize(e, "junk", NULL, 0), ADXL_SUCCESS);
    CHECK(adxl_local_engine(e) != NULL && strcmp(adxl_local_engine(e), name1) == 0);
    /* AutoConnect stayed off: no link, no transfer. */
    uint8_t small[64] = {0};
    CHECK_STATUS(ta_xfer(e, adxl_local_engine(t), ADXL_WRITE, small, tr.ptr, 64, 2000),
                 ADXL_NOT_CONNECTED);
    /* It still listens on the first name. */
    CHECK_STATUS(adxl_connect(t, name1, 5000), ADXL_SUCCESS);
    CHECK_STATUS(adxl_connect(e, adxl_local_engine(t), 5000), ADXL_SUCCESS);
    write_roundtrip(e, t, &tr, 11);

    ta_region_free(&tr, t);
    adxl_engine_destroy(e);
    adxl_engine_destroy(t);
}

#define RACERS 8

typedef struct {
    adxl_engine_t *engine;
    pthread_barrier_t *start;
    adxl_status_t status;
    bool finalize;
} racer_t;

static void *race_lifecycle(void *arg) {
    racer_t *r = arg;
    pthread_barrier_wait(r->start);
    if (r->finalize)
        adxl_finalize(r->engine);
    else
        r->status = adxl_initialize(r->engine, "127.0.0.1:0", NULL, 0);
    return NULL;
}

/* Waits (up to 10 s, for valgrind's pace) until the process holds `fds` descriptors and
 * `threads` threads: threads that were joined or told to stop leave the count a little
 * after. The caller checks the counts afterwards. */
static void settle_counts(int fds, int threads) {
    uint64_t deadline = tu_now_ms() + 10000;
    while ((count_fds() != fds || count_threads() != threads) && tu_now_ms() < deadline)
        tu_sleep_ms(10);
}

/* RACERS threads call initialize (or finalize) on one engine at once. */
static void race(adxl_engine_t *e, bool finalize, racer_t *racers) {
    pthread_t threads[RACERS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, RACERS);
    for (int i = 0; i < RACERS; i++) {
        racers[i] =
            (racer_t){.engine = e, .start = &start, .status = ADXL_FAILED, .finalize = finalize};
        REQUIRE(pthread_create(&threads[i], NULL, race_lifecycle, &racers[i]) == 0);
    }
    for (int i = 0; i < RACERS; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&start);
}

static void test_concurrent_initialize(void) {
    fprintf(stderr, "-- initialize and finalize from %d threads at once\n", RACERS);
    /* What one engine's start opens, measured on an engine started once. Descriptors, not
     * threads: a start opens its sockets and eventfds before it returns, while the threads
     * an engine runs may come and go on their own time (under valgrind, seconds late). */
    int fds_before = count_fds(), threads_before = count_threads();
    adxl_engine_t *ref = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(ref != NULL);
    int one_start_fds = count_fds() - fds_before;
    CHECK(one_start_fds > 0); /* a second start would show */
    adxl_engine_destroy(ref);
    settle_counts(fds_before, threads_before);

    adxl_engine_t *e = NULL;
    REQUIRE(adxl_engine_create(&e) == ADXL_SUCCESS);
    racer_t racers[RACERS];
    for (int round = 0; round < 3; round++) {
        fds_before = count_fds();
        threads_before = count_threads();
        race(e, false, racers);
        for (int i = 0; i < RACERS; i++)
            CHECK_STATUS(racers[i].status, ADXL_SUCCESS);
        /* Started once: one engine's descriptors, not several. */
        CHECK(count_fds() - fds_before == one_start_fds);
        CHECK(adxl_local_engine(e) != NULL);
        race(e, true, racers);
        CHECK(adxl_local_engine(e) == NULL);
        /* Stopped once and wholly: every descriptor and thread of it gone (threads leave
         * the count a little after they are joined, so it is awaited). */
        settle_counts(fds_before, threads_before);
        CHECK(count_fds() == fds_before && count_threads() == threads_before);
    }
    adxl_engine_destroy(e);
}

static void test_reinitialize(void) {
    fprintf(stderr, "-- re-initialize after finalize\n");
    adxl_engine_t *t = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(t != NULL);
    ta_region_t tr;
    REQUIRE(ta_region_alloc(&tr, t, 1u << 20));
    adxl_engine_t *e = NULL;
    REQUIRE(adxl_engine_create(&e) == ADXL_SUCCESS && e != NULL);
    ta_region_t keep;
    REQUIRE(ta_region_alloc(&keep, NULL, 8192));

    for (int round = 0; round < 5; round++) {
        const char *name = round % 2 == 0 ? "127.0.0.1:0" : "127.0.0.1";
        CHECK_STATUS(adxl_initialize(e, name, NULL, 0), ADXL_SUCCESS);
        CHECK(adxl_local_engine(e) != NULL);
        adxl_stats_t s;
        memset(&s, 0xa5, sizeof(s));
        CHECK_STATUS(adxl_get_stats(e, &s), ADXL_SUCCESS);
        /* Counters are "since initialize". */
        CHECK(s.bytes_written == 0 && s.bytes_read == 0);
        CHECK(s.batches_direct == 0 && s.batches_buffered == 0);
        CHECK(s.frames_served == 0 && s.frames_refused == 0 && s.links_dropped == 0);
        /* Registrations from before finalize are gone: registering the same buffer with
         * another length than last round is not an overlap error. */
        adxl_mem_desc_t md = {(uintptr_t)keep.ptr, round % 2 == 0 ? 8192u : 4096u};
        adxl_mem_handle_t h = NULL;
        CHECK_STATUS(adxl_register_mem(e, &md, ADXL_MEM_HOST, &h), ADXL_SUCCESS);
        CHECK_STATUS(adxl_connect(e, adxl_local_engine(t), 5000), ADXL_SUCCESS);
        write_roundtrip(e, t, &tr, 100 + (uint64_t)round);
        CHECK_STATUS(adxl_get_stats(e, &s), ADXL_SUCCESS);
        CHECK(s.bytes_written == 65536);
        CHECK(s.batches_direct + s.batches_buffered == 1);
        adxl_finalize(e); /* with the registration still in place */
        CHECK(adxl_local_engine(e) == NULL);
    }
    adxl_engine_destroy(e);
    ta_region_free(&keep, NULL);

    /* The target served all those links and still works for a new initiator. */
    adxl_engine_t *e2 = tu_engine("127.0.0.1", NULL, 0);
    REQUIRE(e2 != NULL);
    CHECK_STATUS(adxl_connect(e2, adxl_local_engine(t), 5000), ADXL_SUCCESS);
    write_roundtrip(e2, t, &tr, 200);
    adxl_stats_t ts, is;
    CHECK_STATUS(adxl_get_stats(t, &ts), ADXL_SUCCESS);
    CHECK_STATUS(adxl_get_stats(e2, &is), ADXL_SUCCESS);
    /* Served as frames, or moved one-sidedly by the initiators (no frames then). */
    CHECK(ts.frames_served >= 6 || tu_frameless_bytes(&is) > 0);
    adxl_engine_destroy(e2);
    ta_region_free(&tr, t);
    adxl_engine_destroy(t);
}

static void do_finalize(void *arg) {
    adxl_finalize(arg);
}

static void do_destroy(void *arg) {
    adxl_engine_destroy(arg);
}

/* Submits n async WRITEs of len bytes each from src to dst; returns how many went out. */
/* Submits n async WRITEs of len bytes each from src to dst + i * stride; returns how many
 * went out. */
static size_t submit_many(adxl_engine_t *e, const char *remote, uint8_t *src, uint8_t *dst,
                          size_t len, size_t stride, adxl_transfer_req_t *reqs, size_t n) {
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        adxl_transfer_op_desc_t d = {(uintptr_t)src, (uintptr_t)(dst + i * stride), len};
        adxl_status_t st = adxl_transfer_async(e, remote, ADXL_WRITE, &d, 1, NULL, &reqs[i]);
        if (st != ADXL_SUCCESS) {
            fprintf(stderr, "transfer_async %zu: %s\n", i, adxl_status_str(st));
            break;
        }
        ok++;
    }
    return ok;
}

static void test_finalize_initiator_busy(void) {
    fprintf(stderr, "-- finalize initiator with async transfers in flight\n");
    adxl_engine_t *t = tu_engine("127.0.0.1:0", NULL, 0);
    adxl_engine_t *e = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(t != NULL && e != NULL);
    ta_region_t tr, er;
    REQUIRE(ta_region_alloc(&tr, t, SLICED));
    REQUIRE(ta_region_alloc(&er, e, SLICE));
    tu_fill(er.ptr, SLICE, 5);
    CHECK_STATUS(adxl_connect(e, adxl_local_engine(t), 5000), ADXL_SUCCESS);
    enum { N = N_SLICES };
    adxl_transfer_req_t reqs[N];
    size_t n = submit_many(e, adxl_local_engine(t), er.ptr, tr.ptr, SLICE, SLICE, reqs, N);
    CHECK(n == N);
    ta_run_within(do_finalize, e, TA_HANG_MS, "adxl_finalize with async transfers");
    CHECK(adxl_local_engine(e) == NULL);
    /* After finalize: FAILED, whatever the request. */
    adxl_transfer_status_t s;
    if (n > 0) CHECK_STATUS(adxl_get_transfer_status(e, reqs[n - 1], &s), ADXL_FAILED);

    /* The target survives the initiator going away and serves a new one. */
    adxl_engine_t *e2 = tu_engine("127.0.0.1", NULL, 0);
    REQUIRE(e2 != NULL);
    CHECK_STATUS(adxl_connect(e2, adxl_local_engine(t), 5000), ADXL_SUCCESS);
    write_roundtrip(e2, t, &tr, 300);
    adxl_engine_destroy(e2);

    /* The finalized engine can be initialized again and reconnect. */
    CHECK_STATUS(adxl_initialize(e, "127.0.0.1:0", NULL, 0), ADXL_SUCCESS);
    CHECK_STATUS(adxl_connect(e, adxl_local_engine(t), 5000), ADXL_SUCCESS);
    write_roundtrip(e, t, &tr, 301);

    adxl_free_mem(er.ptr); /* its registration ended with finalize */
    ta_region_free(&tr, t);
    ta_run_within(do_destroy, e, TA_HANG_MS, "adxl_engine_destroy");
    ta_run_within(do_destroy, t, TA_HANG_MS, "adxl_engine_destroy");
}

static void test_finalize_target_busy(void) {
    fprintf(stderr, "-- finalize target with async transfers in flight\n");
    adxl_engine_t *t = tu_engine("127.0.0.1:0", NULL, 0);
    adxl_engine_t *e = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(t != NULL && e != NULL);
    ta_region_t tr, er;
    REQUIRE(ta_region_alloc(&tr, t, SLICED));
    REQUIRE(ta_region_alloc(&er, e, SLICE));
    char tname[128];
    snprintf(tname, sizeof(tname), "%s", adxl_local_engine(t));
    CHECK_STATUS(adxl_connect(e, tname, 5000), ADXL_SUCCESS);
    enum { N = N_SLICES };
    adxl_transfer_req_t reqs[N];
    size_t n = submit_many(e, tname, er.ptr, tr.ptr, SLICE, SLICE, reqs, N);
    CHECK(n == N);
    /* A NULL engine with a live request is still PARAM_INVALID. */
    adxl_transfer_status_t s;
    if (n > 0) CHECK_STATUS(adxl_get_transfer_status(NULL, reqs[0], &s), ADXL_PARAM_INVALID);
    /* On a live engine: NULL request FAILED, NULL status pointer PARAM_INVALID (and the
     * request is not released by that). */
    CHECK_STATUS(adxl_get_transfer_status(e, NULL, &s), ADXL_FAILED);
    if (n > 0) CHECK_STATUS(adxl_get_transfer_status(e, reqs[0], NULL), ADXL_PARAM_INVALID);

    ta_run_within(do_finalize, t, TA_HANG_MS, "adxl_finalize of a target under load");

    /* Every request reaches a final state, COMPLETED or FAILED (no timeout was set). */
    size_t completed = 0, failed = 0, other = 0;
    for (size_t i = 0; i < n; i++) {
        int r = tu_wait_req(e, reqs[i], 30000);
        if (r == ADXL_TRANSFER_COMPLETED)
            completed++;
        else if (r == ADXL_TRANSFER_FAILED)
            failed++;
        else {
            other++;
            fprintf(stderr, "request %zu ended as %d\n", i, r);
        }
    }
    fprintf(stderr, "   %zu completed, %zu failed\n", completed, failed);
    CHECK(other == 0);
    CHECK(completed + failed == n);
    /* A reported request is released: asking again is PARAM_INVALID. */
    if (n > 0 && other == 0)
        CHECK_STATUS(adxl_get_transfer_status(e, reqs[n - 1], &s), ADXL_PARAM_INVALID);

    /* The link is torn down: transfers fail, and soon are NOT_CONNECTED. */
    uint8_t small[256];
    tu_fill(small, sizeof(small), 9);
    adxl_status_t st = ADXL_SUCCESS;
    uint64_t deadline = tu_now_ms() + 15000;
    bool bad = false;
    for (;;) {
        st = ta_xfer(e, tname, ADXL_WRITE, small, tr.ptr, sizeof(small), 1000);
        if (st == ADXL_NOT_CONNECTED || tu_now_ms() > deadline) break;
        if (st != ADXL_FAILED && st != ADXL_TIMEOUT) {
            fprintf(stderr, "transfer to a finalized target: %s\n", adxl_status_str(st));
            bad = true;
            break;
        }
        tu_sleep_ms(20);
    }
    CHECK(!bad);
    CHECK_STATUS(st, ADXL_NOT_CONNECTED);
    adxl_stats_t es;
    CHECK_STATUS(adxl_get_stats(e, &es), ADXL_SUCCESS);
    CHECK(es.links_dropped >= 1);

    /* The target comes back (another port) and the initiator links to it again. */
    CHECK_STATUS(adxl_initialize(t, "127.0.0.1:0", NULL, 0), ADXL_SUCCESS);
    adxl_mem_desc_t md = {(uintptr_t)tr.ptr, tr.len};
    CHECK_STATUS(adxl_register_mem(t, &md, ADXL_MEM_HOST, &tr.handle), ADXL_SUCCESS);
    CHECK_STATUS(adxl_connect(e, adxl_local_engine(t), 5000), ADXL_SUCCESS);
    write_roundtrip(e, t, &tr, 400);

    ta_region_free(&tr, t);
    ta_region_free(&er, e);
    ta_run_within(do_destroy, e, TA_HANG_MS, "adxl_engine_destroy");
    ta_run_within(do_destroy, t, TA_HANG_MS, "adxl_engine_destroy");
}

static void test_destroy_busy(void) {
    fprintf(stderr, "-- destroy both ends with links both ways and transfers in flight\n");
    adxl_engine_t *a = tu_engine("127.0.0.1:0", NULL, 0);
    adxl_engine_t *b = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(a != NULL && b != NULL);
    ta_region_t ar, br;
    /* Each side sends from the first slice of its region into the other's slices 1.. */
    REQUIRE(ta_region_alloc(&ar, a, SLICED));
    REQUIRE(ta_region_alloc(&br, b, SLICED));
    CHECK_STATUS(adxl_connect(a, adxl_local_engine(b), 5000), ADXL_SUCCESS);
    CHECK_STATUS(adxl_connect(b, adxl_local_engine(a), 5000), ADXL_SUCCESS);
    enum { N = N_SLICES - 1 };
    adxl_transfer_req_t ra[N], rb[N];
    CHECK(submit_many(a, adxl_local_engine(b), ar.ptr, br.ptr + SLICE, SLICE, SLICE, ra, N) == N);
    CHECK(submit_many(b, adxl_local_engine(a), br.ptr, ar.ptr + SLICE, SLICE, SLICE, rb, N) == N);
    CHECK_STATUS(adxl_send_notify(a, adxl_local_engine(b), "n", "m", 5000), ADXL_SUCCESS);
    ta_run_within(do_destroy, a, TA_HANG_MS, "adxl_engine_destroy under load");
    ta_run_within(do_destroy, b, TA_HANG_MS, "adxl_engine_destroy under load");
    adxl_free_mem(ar.ptr);
    adxl_free_mem(br.ptr);
}

/* A target in another process that stops answering (SIGSTOP) while the initiator has
 * async transfers in flight to it: finalize must still return promptly. */
static int child_target(void *arg, int to_parent, int from_parent) {
    (void)arg;
    ta_child_reset();
    adxl_engine_t *t = tu_engine("127.0.0.1:0", NULL, 0);
    ta_region_t r;
    if (t == NULL || !ta_region_alloc(&r, t, BIG)) return 2;
    tu_send_line(to_parent, "%s %lu", adxl_local_engine(t), (unsigned long)(uintptr_t)r.ptr);
    char line[64];
    while (tu_recv_line(from_parent, line, sizeof(line), 120000) && strcmp(line, "quit") != 0) {
    }
    ta_region_free(&r, t);
    adxl_engine_destroy(t);
    return 0;
}

static void test_finalize_stalled_peer(void) {
    fprintf(stderr, "-- finalize with transfers in flight to a stopped peer\n");
    if (tu_over_ucx()) {
        /* UCX 1.13 serves RMA over its TCP transport in the target's software, and a
         * target that resumes with puts from an initiator that has gone meanwhile aborts
         * inside UCX (ucp_put_handler: "unexpected error: Endpoint timeout"). RDMA
         * hardware serves RMA without the target's software. See docs/RELIABILITY.md. */
        fprintf(stderr, "   not run over UCX's TCP: an abort inside UCX 1.13\n");
        return;
    }
    tu_child_t c;
    REQUIRE(tu_spawn(&c, child_target, NULL));
    char line[256], tname[128];
    unsigned long addr = 0;
    REQUIRE(tu_recv_line(c.from_child, line, sizeof(line), 30000) &&
            sscanf(line, "%127s %lu", tname, &addr) == 2);
    uint8_t *remote = (uint8_t *)(uintptr_t)addr;
    /* A one-buffer transit pool: most of the buffered requests below wait for it. */
    adxl_option_t opts[] = {{"BufferPool", "1:1"}, {"ShmPath", "staging"}};
    /* A stopped target must be able to hold requests pending, so the shm transport is
     * kept on its staging ring here: its mapped and CMA copies need no work by the
     * target and complete anyway (test_xfer_peer_stop and test_shm_safety check that).
     * On TCP the option changes nothing. */
    adxl_engine_t *e = tu_engine("127.0.0.1", opts, 2);
    REQUIRE(e != NULL);
    CHECK_STATUS(adxl_connect(e, tname, 5000), ADXL_SUCCESS);
    uint8_t *src = malloc(65536);
    REQUIRE(src != NULL);
    tu_fill(src, 65536, 1);
    CHECK_STATUS(ta_xfer(e, tname, ADXL_WRITE, src, remote, 65536, 5000), ADXL_SUCCESS);

    CHECK(tu_stop_child(c.pid));
    enum { N = 40 };
    adxl_transfer_req_t reqs[N];
    size_t n = submit_many(e, tname, src, remote, 65536, 65536, reqs, N);
    CHECK(n == N);
    /* Nobody answers, so they are all still waiting. */
    size_t waiting = 0;
    for (size_t k = 0; k < n; k++) {
        adxl_transfer_status_t s = ADXL_TRANSFER_COMPLETED;
        if (adxl_get_transfer_status(e, reqs[k], &s) == ADXL_SUCCESS && s == ADXL_TRANSFER_WAITING)
            waiting++;
    }
    CHECK(waiting == n);
    /* A sync transfer with a timeout gives up in time (it may be queued for the transit
     * pool or sent and unanswered: TIMEOUT either way, never SUCCESS). */
    uint64_t t0 = tu_now_ms();
    CHECK_STATUS(ta_xfer(e, tname, ADXL_WRITE, src, remote + (3u << 20), 4096, 300), ADXL_TIMEOUT);
    CHECK(tu_now_ms() - t0 < TA_HANG_MS);
    /* A READ cannot have got its data from a stopped process. */
    uint8_t back[4096];
    memset(back, 0, sizeof(back));
    t0 = tu_now_ms();
    CHECK_STATUS(ta_xfer(e, tname, ADXL_READ, back, remote + (3u << 20), sizeof(back), 300),
                 ADXL_TIMEOUT);
    CHECK(tu_now_ms() - t0 < TA_HANG_MS);

    ta_run_within(do_finalize, e, TA_HANG_MS, "adxl_finalize with a stopped peer");
    CHECK(adxl_local_engine(e) == NULL);
    CHECK(tu_cont_child(c.pid));

    /* The target recovers and takes a new link from the re-initialized engine. */
    CHECK_STATUS(adxl_initialize(e, "127.0.0.1", NULL, 0), ADXL_SUCCESS);
    CHECK_STATUS(adxl_connect(e, tname, 5000), ADXL_SUCCESS);
    tu_fill(src, 65536, 2);
    uint8_t *fresh = remote + (4u << 20); /* away from what the dead link may still write */
    CHECK_STATUS(ta_xfer(e, tname, ADXL_WRITE, src, fresh, 65536, 5000), ADXL_SUCCESS);
    memset(src, 0, 65536);
    CHECK_STATUS(ta_xfer(e, tname, ADXL_READ, src, fresh, 65536, 5000), ADXL_SUCCESS);
    CHECK(tu_verify(src, 65536, 2));
    ta_run_within(do_destroy, e, TA_HANG_MS, "adxl_engine_destroy");
    tu_send_line(c.to_child, "quit");
    CHECK(tu_wait_child(&c, 30000) == 0);
    free(src);
}

static void test_many_cycles(void) {
    fprintf(stderr, "-- create/initialize/connect/destroy cycles\n");
    adxl_engine_t *t = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(t != NULL);
    for (int i = 0; i < 20; i++) {
        adxl_engine_t *e = tu_engine(i % 2 ? "127.0.0.1" : "127.0.0.1:0", NULL, 0);
        CHECK(e != NULL);
        if (e == NULL) break;
        CHECK_STATUS(adxl_connect(e, adxl_local_engine(t), 5000), ADXL_SUCCESS);
        adxl_engine_destroy(e);
    }
    adxl_engine_destroy(t);
}

int main(void) {
    test_finalize_stalled_peer(); /* first: fork before this process has engine threads */
    test_null_engine();
    int fds0 = count_fds();
    int threads0 = count_threads();

    test_before_and_after();
    test_second_initialize();
    test_concurrent_initialize();
    test_reinitialize();
    test_finalize_initiator_busy();
    test_finalize_target_busy();
    test_destroy_busy();
    test_many_cycles();

    /* Nothing leaks: every engine is gone, so threads and descriptors are back to where
     * they were (threads may take a moment to be reaped). */
    settle_counts(fds0, threads0);
    int fds1 = count_fds(), threads1 = count_threads();
    if (fds1 != fds0 || threads1 != threads0)
        fprintf(stderr, "leak: fds %d -> %d, threads %d -> %d\n", fds0, fds1, threads0, threads1);
    CHECK(fds1 == fds0);
    CHECK(threads1 == threads0);
    return tu_finish();
}
