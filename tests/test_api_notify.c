/*
 * Notifies: argument checks and length limits, exact delivery of names and messages,
 * order per link, partial get_notifies (oldest first, the rest stay queued), capacity 0,
 * the 4096-unread limit per link (RESOURCE_EXHAUSTED, then fine again after draining), and
 * a notify sent after a transfer returned sees that transfer's data in place (checked by
 * a target in another process).
 */
#include "test_api_util.h"

#include <stdatomic.h>

typedef struct {
    adxl_engine_t *t, *e;
    char tname[128];
} pair_t;

static void pair_up(pair_t *p) {
    p->t = tu_engine("127.0.0.1:0", NULL, 0);
    p->e = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(p->t != NULL && p->e != NULL);
    snprintf(p->tname, sizeof(p->tname), "%s", adxl_local_engine(p->t));
    REQUIRE(adxl_connect(p->e, p->tname, 5000) == ADXL_SUCCESS);
}

static void pair_down(pair_t *p) {
    adxl_engine_destroy(p->e);
    adxl_engine_destroy(p->t);
}

static size_t queued(adxl_engine_t *t) {
    size_t count = (size_t)-1;
    CHECK_STATUS(adxl_get_notifies(t, NULL, 0, &count), ADXL_SUCCESS);
    return count;
}

static void test_args(void) {
    fprintf(stderr, "-- send_notify/get_notifies arguments and lengths\n");
    pair_t p;
    pair_up(&p);
    char n1024[ADXL_NOTIFY_MAX_LEN + 1], n1025[ADXL_NOTIFY_MAX_LEN + 2];
    memset(n1024, 'a', 1024);
    n1024[1024] = '\0';
    memset(n1025, 'b', 1025);
    n1025[1025] = '\0';
    char m1024[ADXL_NOTIFY_MAX_LEN + 1];
    for (int k = 0; k < 1024; k++)
        m1024[k] = (char)('A' + k % 26);
    m1024[1024] = '\0';

    CHECK_STATUS(adxl_send_notify(p.e, p.tname, NULL, "m", 1000), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_send_notify(p.e, p.tname, "n", NULL, 1000), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_send_notify(p.e, p.tname, NULL, NULL, 1000), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_send_notify(p.e, p.tname, n1025, "m", 1000), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_send_notify(p.e, p.tname, "n", n1025, 1000), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_send_notify(p.e, p.tname, "n", "m", 0), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_send_notify(p.e, p.tname, "n", "m", -1), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_send_notify(p.e, NULL, "n", "m", 1000), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_send_notify(p.e, "junk", "n", "m", 1000), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_send_notify(NULL, p.tname, "n", "m", 1000), ADXL_PARAM_INVALID);
    /* Well-formed, but no link to it. */
    unsigned port = ta_free_port(false);
    char other[64];
    snprintf(other, sizeof(other), "127.0.0.1:%u", port);
    CHECK_STATUS(adxl_send_notify(p.e, other, "n", "m", 1000), ADXL_NOT_CONNECTED);
    /* Links are one-way: the target cannot notify back on e's link. */
    CHECK_STATUS(adxl_send_notify(p.t, adxl_local_engine(p.e), "n", "m", 1000), ADXL_NOT_CONNECTED);
    /* None of that arrived. */
    CHECK(queued(p.t) == 0);

    /* At the limits, and empty. */
    CHECK_STATUS(adxl_send_notify(p.e, p.tname, n1024, "x", 1000), ADXL_SUCCESS);
    CHECK_STATUS(adxl_send_notify(p.e, p.tname, "y", m1024, 1000), ADXL_SUCCESS);
    CHECK_STATUS(adxl_send_notify(p.e, p.tname, n1024, m1024, 1000), ADXL_SUCCESS);
    CHECK_STATUS(adxl_send_notify(p.e, p.tname, "", "", 1000), ADXL_SUCCESS);
    CHECK_STATUS(adxl_send_notify(p.e, p.tname, "name with spaces\t", "msg\nwith\nlines", 1000),
                 ADXL_SUCCESS);
    CHECK(queued(p.t) == 5);

    size_t count = 0;
    adxl_notify_t one;
    CHECK_STATUS(adxl_get_notifies(p.t, NULL, 1, &count), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_get_notifies(p.t, &one, 1, NULL), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_get_notifies(p.t, NULL, 0, NULL), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_get_notifies(NULL, &one, 1, &count), ADXL_PARAM_INVALID);
    /* The failed calls took nothing. */
    CHECK(queued(p.t) == 5);

    adxl_notify_t *got = calloc(8, sizeof(*got));
    REQUIRE(got != NULL);
    count = 0;
    CHECK_STATUS(adxl_get_notifies(p.t, got, 8, &count), ADXL_SUCCESS);
    CHECK(count == 5);
    if (count == 5) {
        CHECK(strcmp(got[0].name, n1024) == 0 && strcmp(got[0].msg, "x") == 0);
        CHECK(strcmp(got[1].name, "y") == 0 && strcmp(got[1].msg, m1024) == 0);
        CHECK(strcmp(got[2].name, n1024) == 0 && strcmp(got[2].msg, m1024) == 0);
        CHECK(got[3].name[0] == '\0' && got[3].msg[0] == '\0');
        CHECK(strcmp(got[4].name, "name with spaces\t") == 0 &&
              strcmp(got[4].msg, "msg\nwith\nlines") == 0);
    }
    /* Empty now. */
    count = 99;
    CHECK_STATUS(adxl_get_notifies(p.t, got, 8, &count), ADXL_SUCCESS);
    CHECK(count == 0);
    CHECK(queued(p.t) == 0);
    /* Nothing arrives at the initiator. */
    CHECK(queued(p.e) == 0);
    free(got);
    pair_down(&p);
}

static void test_order(void) {
    fprintf(stderr, "-- order and partial reads\n");
    pair_t p;
    pair_up(&p);
    enum { N = 500 };
    for (int k = 0; k < N; k++) {
        char msg[32];
        snprintf(msg, sizeof(msg), "m%d", k);
        adxl_status_t st = adxl_send_notify(p.e, p.tname, k % 2 ? "odd" : "even", msg, 5000);
        if (st != ADXL_SUCCESS) {
            CHECK_STATUS(st, ADXL_SUCCESS);
            break;
        }
    }
    CHECK(queued(p.t) == N);
    adxl_notify_t *got = calloc(N, sizeof(*got));
    REQUIRE(got != NULL);
    int next = 0;
    bool in_order = true;
    /* Capacity 7 first: the 7 oldest, the rest stay. */
    size_t count = 0;
    CHECK_STATUS(adxl_get_notifies(p.t, got, 7, &count), ADXL_SUCCESS);
    CHECK(count == 7);
    CHECK(queued(p.t) == N - 7);
    size_t caps[] = {1, 100, 0, 3, 1000};
    for (size_t ci = 0;; ci++) {
        for (size_t k = 0; k < count; k++, next++) {
            char want[32];
            snprintf(want, sizeof(want), "m%d", next);
            if (strcmp(got[k].msg, want) != 0 ||
                strcmp(got[k].name, next % 2 ? "odd" : "even") != 0) {
                if (in_order)
                    fprintf(stderr, "notify %d: got %s/%s\n", next, got[k].name, got[k].msg);
                in_order = false;
            }
        }
        if (ci >= sizeof(caps) / sizeof(caps[0])) break;
        size_t before = queued(p.t);
        count = 12345;
        CHECK_STATUS(adxl_get_notifies(p.t, got, caps[ci], &count), ADXL_SUCCESS);
        if (caps[ci] == 0) {
            /* capacity 0: how many are queued, nothing taken */
            CHECK(count == before);
            CHECK(queued(p.t) == before);
            count = 0;
        } else {
            size_t want = before < caps[ci] ? before : caps[ci];
            CHECK(count == want);
            CHECK(queued(p.t) == before - want);
        }
    }
    CHECK(in_order);
    CHECK(next == N);
    CHECK(queued(p.t) == 0);
    free(got);
    pair_down(&p);
}

static void test_two_senders(void) {
    fprintf(stderr, "-- two senders, order per link, limit per link\n");
    pair_t p;
    pair_up(&p);
    adxl_engine_t *e2 = tu_engine("127.0.0.1", NULL, 0);
    REQUIRE(e2 != NULL);
    CHECK_STATUS(adxl_connect(e2, p.tname, 5000), ADXL_SUCCESS);

    /* Interleaved sends from two links. */
    enum { N = 300 };
    for (int k = 0; k < N; k++) {
        char msg[32];
        snprintf(msg, sizeof(msg), "%d", k);
        CHECK_STATUS(adxl_send_notify(p.e, p.tname, "A", msg, 5000), ADXL_SUCCESS);
        CHECK_STATUS(adxl_send_notify(e2, p.tname, "B", msg, 5000), ADXL_SUCCESS);
    }
    adxl_notify_t *got = calloc(2 * N, sizeof(*got));
    REQUIRE(got != NULL);
    size_t count = 0;
    CHECK_STATUS(adxl_get_notifies(p.t, got, 2 * N, &count), ADXL_SUCCESS);
    CHECK(count == 2 * N);
    int na = 0, nb = 0;
    bool ok = true;
    for (size_t k = 0; k < count; k++) {
        int v = atoi(got[k].msg);
        if (strcmp(got[k].name, "A") == 0)
            ok = ok && v == na++;
        else if (strcmp(got[k].name, "B") == 0)
            ok = ok && v == nb++;
        else
            ok = false;
    }
    CHECK(ok);
    CHECK(na == N && nb == N);
    free(got);
    adxl_engine_destroy(e2);
    pair_down(&p);
}

static void test_limit(void) {
    fprintf(stderr, "-- 4096 unread per link\n");
    pair_t p;
    pair_up(&p);
    int sent = 0;
    for (int k = 0; k < 4096; k++) {
        char msg[32];
        snprintf(msg, sizeof(msg), "%d", k);
        adxl_status_t st = adxl_send_notify(p.e, p.tname, "fill", msg, 5000);
        if (st != ADXL_SUCCESS) {
            fprintf(stderr, "notify %d of 4096: %s\n", k, adxl_status_str(st));
            break;
        }
        sent++;
    }
    CHECK(sent == 4096);
    CHECK_STATUS(adxl_send_notify(p.e, p.tname, "fill", "4096", 5000), ADXL_RESOURCE_EXHAUSTED);
    CHECK_STATUS(adxl_send_notify(p.e, p.tname, "fill", "4096", 5000), ADXL_RESOURCE_EXHAUSTED);
    CHECK(queued(p.t) == 4096);

    /* Another link to the same target is not limited by this one. */
    adxl_engine_t *e2 = tu_engine("127.0.0.1", NULL, 0);
    REQUIRE(e2 != NULL);
    CHECK_STATUS(adxl_connect(e2, p.tname, 5000), ADXL_SUCCESS);
    CHECK_STATUS(adxl_send_notify(e2, p.tname, "other", "link", 5000), ADXL_SUCCESS);
    CHECK(queued(p.t) == 4097);

    /* The link stays usable for transfers. */
    ta_region_t tr;
    REQUIRE(ta_region_alloc(&tr, p.t, 65536));
    uint8_t src[4096];
    tu_fill(src, sizeof(src), 3);
    CHECK_STATUS(ta_xfer(p.e, p.tname, ADXL_WRITE, src, tr.ptr, sizeof(src), 5000), ADXL_SUCCESS);
    CHECK(tu_verify(tr.ptr, sizeof(src), 3));

    /* Take one: the oldest, and there is room for exactly one more. */
    adxl_notify_t *got = calloc(4200, sizeof(*got));
    REQUIRE(got != NULL);
    size_t count = 0;
    CHECK_STATUS(adxl_get_notifies(p.t, got, 1, &count), ADXL_SUCCESS);
    CHECK(count == 1 && strcmp(got[0].name, "fill") == 0 && strcmp(got[0].msg, "0") == 0);
    CHECK_STATUS(adxl_send_notify(p.e, p.tname, "fill", "4096", 5000), ADXL_SUCCESS);
    CHECK_STATUS(adxl_send_notify(p.e, p.tname, "fill", "4097", 5000), ADXL_RESOURCE_EXHAUSTED);

    /* Drain everything: in order, the refused ones absent, the other link's one present. */
    count = 0;
    CHECK_STATUS(adxl_get_notifies(p.t, got, 4200, &count), ADXL_SUCCESS);
    CHECK(count == 4097);
    int next = 1;
    bool ok = true, other = false;
    for (size_t k = 0; k < count; k++) {
        if (strcmp(got[k].name, "other") == 0) {
            other = true;
            continue;
        }
        ok = ok && strcmp(got[k].name, "fill") == 0 && atoi(got[k].msg) == next++;
    }
    CHECK(ok);
    CHECK(other);
    CHECK(next == 4097);
    /* Sending works again, up to the limit again. */
    int again = 0;
    for (int k = 0; k < 4096; k++)
        again += adxl_send_notify(p.e, p.tname, "again", "x", 5000) == ADXL_SUCCESS;
    CHECK(again == 4096);
    CHECK_STATUS(adxl_send_notify(p.e, p.tname, "again", "x", 5000), ADXL_RESOURCE_EXHAUSTED);
    CHECK(queued(p.t) == 4096);
    /* The limit is per link: a new link after disconnect starts afresh, and what the old
     * one queued is still there to read. */
    CHECK_STATUS(adxl_disconnect(p.e, p.tname, 5000), ADXL_SUCCESS);
    CHECK_STATUS(adxl_connect(p.e, p.tname, 5000), ADXL_SUCCESS);
    CHECK_STATUS(adxl_send_notify(p.e, p.tname, "new", "link", 5000), ADXL_SUCCESS);
    CHECK(queued(p.t) == 4097);
    count = 0;
    CHECK_STATUS(adxl_get_notifies(p.t, got, 4200, &count), ADXL_SUCCESS);
    CHECK(count == 4097 && strcmp(got[4096].name, "new") == 0);
    ta_region_free(&tr, p.t);
    free(got);
    adxl_engine_destroy(e2);
    pair_down(&p);
}

/* Several threads send on one link while two threads drain: nothing lost, nothing twice,
 * each sender's notifies in its order in every batch. */
enum { SEND_THREADS = 4, PER_THREAD = 400 };

typedef struct {
    adxl_engine_t *e;
    const char *tname;
    int id;
    int failures;
} sender_t;

static void *sender_main(void *p) {
    sender_t *a = p;
    char name[16];
    snprintf(name, sizeof(name), "s%d", a->id);
    for (int k = 0; k < PER_THREAD; k++) {
        char msg[16];
        snprintf(msg, sizeof(msg), "%d", k);
        if (adxl_send_notify(a->e, a->tname, name, msg, 10000) != ADXL_SUCCESS) a->failures++;
    }
    return NULL;
}

typedef struct {
    adxl_engine_t *t;
    atomic_int *received; /* shared total */
    unsigned char *seen;  /* SEND_THREADS * PER_THREAD flags, shared, under lock */
    pthread_mutex_t *lock;
    int dups, disorder, junk;
} drainer_t;

static void *drainer_main(void *p) {
    drainer_t *a = p;
    adxl_notify_t *batch = calloc(64, sizeof(*batch));
    if (batch == NULL) return NULL;
    uint64_t deadline = tu_now_ms() + 60000;
    while (atomic_load(a->received) < SEND_THREADS * PER_THREAD && tu_now_ms() < deadline) {
        size_t count = 0;
        if (adxl_get_notifies(a->t, batch, 1 + (size_t)(tu_now_ms() % 64), &count) !=
            ADXL_SUCCESS) {
            a->junk++;
            break;
        }
        int last[SEND_THREADS];
        for (int s = 0; s < SEND_THREADS; s++)
            last[s] = -1;
        pthread_mutex_lock(a->lock);
        for (size_t k = 0; k < count; k++) {
            int s = -1, v = -1;
            if (sscanf(batch[k].name, "s%d", &s) != 1 || s < 0 || s >= SEND_THREADS ||
                sscanf(batch[k].msg, "%d", &v) != 1 || v < 0 || v >= PER_THREAD) {
                a->junk++;
                continue;
            }
            if (v <= last[s]) a->disorder++;
            last[s] = v;
            if (a->seen[s * PER_THREAD + v]++) a->dups++;
        }
        pthread_mutex_unlock(a->lock);
        atomic_fetch_add(a->received, (int)count);
        if (count == 0) tu_sleep_ms(1);
    }
    free(batch);
    return NULL;
}

static void test_threads(void) {
    fprintf(stderr, "-- concurrent senders and readers\n");
    pair_t p;
    pair_up(&p);
    atomic_int received;
    atomic_init(&received, 0);
    unsigned char *seen = calloc(SEND_THREADS * PER_THREAD, 1);
    REQUIRE(seen != NULL);
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    sender_t senders[SEND_THREADS];
    drainer_t drainers[2];
    pthread_t st[SEND_THREADS], dt[2];
    for (int k = 0; k < 2; k++) {
        drainers[k] = (drainer_t){p.t, &received, seen, &lock, 0, 0, 0};
        REQUIRE(pthread_create(&dt[k], NULL, drainer_main, &drainers[k]) == 0);
    }
    for (int k = 0; k < SEND_THREADS; k++) {
        senders[k] = (sender_t){p.e, p.tname, k, 0};
        REQUIRE(pthread_create(&st[k], NULL, sender_main, &senders[k]) == 0);
    }
    int failures = 0;
    for (int k = 0; k < SEND_THREADS; k++) {
        pthread_join(st[k], NULL);
        failures += senders[k].failures;
    }
    int dups = 0, disorder = 0, junk = 0;
    for (int k = 0; k < 2; k++) {
        pthread_join(dt[k], NULL);
        dups += drainers[k].dups;
        disorder += drainers[k].disorder;
        junk += drainers[k].junk;
    }
    CHECK(failures == 0);
    CHECK(atomic_load(&received) == SEND_THREADS * PER_THREAD);
    CHECK(dups == 0);
    CHECK(disorder == 0);
    CHECK(junk == 0);
    int missing = 0;
    for (int k = 0; k < SEND_THREADS * PER_THREAD; k++)
        missing += seen[k] == 0;
    CHECK(missing == 0);
    CHECK(queued(p.t) == 0);
    free(seen);
    pair_down(&p);
}

/*
 * Data before notify, across processes: the parent writes round k's data into slot k of
 * the child's region (sync or async, direct or buffered), then notifies "k"; the child,
 * on seeing the notify, checks slot k at once.
 */
#define SLOTS 24
#define SLOT_LEN (1u << 20)

static int child_checker(void *arg, int to_parent, int from_parent) {
    (void)arg;
    ta_child_reset();
    adxl_engine_t *t = tu_engine("127.0.0.1:0", NULL, 0);
    ta_region_t r;
    if (t == NULL || !ta_region_alloc(&r, t, (size_t)SLOTS * SLOT_LEN)) return 2;
    tu_send_line(to_parent, "%s %lu", adxl_local_engine(t), (unsigned long)(uintptr_t)r.ptr);
    int seen = 0, good = 0;
    uint64_t deadline = tu_now_ms() + 120000;
    adxl_notify_t *notes = calloc(SLOTS, sizeof(*notes));
    while (seen < SLOTS && tu_now_ms() < deadline && notes != NULL) {
        size_t count = 0;
        if (adxl_get_notifies(t, notes, SLOTS, &count) != ADXL_SUCCESS) break;
        if (count > 0) ta_sync_with_engine_threads();
        for (size_t k = 0; k < count; k++) {
            int slot = atoi(notes[k].msg);
            size_t len = strcmp(notes[k].name, "small") == 0 ? 1000 : SLOT_LEN;
            if (slot == seen && slot < SLOTS &&
                tu_verify(r.ptr + (size_t)slot * SLOT_LEN, len, 5000 + (uint64_t)slot))
                good++;
            else
                fprintf(stderr, "child: notify %s/%s (expected slot %d) without its data\n",
                        notes[k].name, notes[k].msg, seen);
            seen++;
        }
        if (count == 0) tu_sleep_ms(1);
    }
    free(notes);
    tu_send_line(to_parent, "%d %d", seen, good);
    char line[64];
    tu_recv_line(from_parent, line, sizeof(line), 60000);
    ta_region_free(&r, t);
    adxl_engine_destroy(t);
    return 0;
}

static void test_data_before_notify(void) {
    fprintf(stderr, "-- notify after transfer: data in place (other process)\n");
    tu_child_t c;
    REQUIRE(tu_spawn(&c, child_checker, NULL));
    char line[256], tname[128];
    unsigned long addr = 0;
    REQUIRE(tu_recv_line(c.from_child, line, sizeof(line), 30000) &&
            sscanf(line, "%127s %lu", tname, &addr) == 2);
    uint8_t *remote = (uint8_t *)(uintptr_t)addr;
    adxl_engine_t *e = tu_engine("127.0.0.1", NULL, 0);
    REQUIRE(e != NULL);
    CHECK_STATUS(adxl_connect(e, tname, 5000), ADXL_SUCCESS);
    ta_region_t src;
    REQUIRE(ta_region_alloc(&src, e, SLOT_LEN)); /* registered: big ones go direct */
    uint8_t *unreg = malloc(SLOT_LEN);           /* unregistered: buffered */
    REQUIRE(unreg != NULL);
    for (int k = 0; k < SLOTS; k++) {
        bool small = k % 4 == 3;
        uint8_t *from = k % 2 ? unreg : src.ptr;
        size_t len = small ? 1000 : SLOT_LEN;
        tu_fill(from, len, 5000 + (uint64_t)k);
        adxl_transfer_op_desc_t d = {(uintptr_t)from, (uintptr_t)(remote + (size_t)k * SLOT_LEN),
                                     len};
        if (k % 3 == 0) {
            adxl_transfer_req_t req = NULL;
            CHECK_STATUS(adxl_transfer_async(e, tname, ADXL_WRITE, &d, 1, NULL, &req),
                         ADXL_SUCCESS);
            CHECK(tu_wait_req(e, req, 30000) == ADXL_TRANSFER_COMPLETED);
        } else {
            CHECK_STATUS(adxl_transfer_sync(e, tname, ADXL_WRITE, &d, 1, 10000), ADXL_SUCCESS);
        }
        char msg[16];
        snprintf(msg, sizeof(msg), "%d", k);
        CHECK_STATUS(adxl_send_notify(e, tname, small ? "small" : "big", msg, 5000), ADXL_SUCCESS);
    }
    int seen = -1, good = -1;
    CHECK(tu_recv_line(c.from_child, line, sizeof(line), 130000) &&
          sscanf(line, "%d %d", &seen, &good) == 2);
    fprintf(stderr, "   child saw %d notifies, %d with their data\n", seen, good);
    CHECK(seen == SLOTS);
    CHECK(good == SLOTS);
    tu_send_line(c.to_child, "quit");
    CHECK(tu_wait_child(&c, 30000) == 0);
    free(unreg);
    ta_region_free(&src, e);
    adxl_engine_destroy(e);
}

int main(void) {
    test_data_before_notify(); /* first: fork before this process has engine threads */
    test_args();
    test_order();
    test_two_senders();
    test_limit();
    test_threads();
    return tu_finish();
}
