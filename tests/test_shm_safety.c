/*
 * The shared-memory transport's own guarantees, beyond what the whole suite checks over
 * it (tests/CMakeLists.txt runs every test over tcp, shm, shm forced onto CMA and onto
 * staging):
 *  - each byte path can be forced, and carries exactly the bytes asked for: mapped for
 *    a whole adxl_malloc_mem block, CMA otherwise (or when forced), staging when forced;
 *    the counters say which path moved them;
 *  - a region that is only part of a block is never mapped (the mapping would reach
 *    memory that was not registered): it goes by CMA;
 *  - after adxl_deregister_mem returns on the target, no path writes into the region
 *    any more, even with a writer hammering it throughout;
 *  - a target killed in the middle of a stream of large copies: the initiator gets
 *    errors, never a signal, and a transfer after the death fails although the target's
 *    memory is still mapped here;
 *  - a target that frees registered memory without deregistering it: CMA fails cleanly
 *    (no SIGSEGV), the mapped path writes only into the orphaned block;
 *  - an initiator of another user (the kernel refuses it CMA, and the target gives it no
 *    mapping) falls back to staging by itself, with exact data (needs root to switch
 *    users; elsewhere the case says so and is not counted).
 * Transport=shm is forced here (this test is about that transport), whatever the
 * environment says.
 *
 * Both engines of a pair live in this process, so the target's memory is written by the
 * target's thread (staging) and read here with the ordering carried by shared memory
 * that ThreadSanitizer sees under another address (see tests/tsan.supp): those reads
 * and writes of target memory are marked externally ordered.
 */
#include "xfer_common.h"

#include <grp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

#define MIB XC_MIB

static adxl_option_t shm_opts(const char *path, adxl_option_t out[2]) {
    out[0] = (adxl_option_t){"Transport", "shm"};
    out[1] = (adxl_option_t){"ShmPath", path};
    return out[0];
}

typedef struct {
    uint64_t mapped, cma, staged;
} path_delta_t;

static path_delta_t delta(const adxl_stats_t *a, const adxl_stats_t *b) {
    return (path_delta_t){b->bytes_mapped - a->bytes_mapped, b->bytes_cma - a->bytes_cma,
                          b->bytes_staged - a->bytes_staged};
}

/* WRITE then READ back batches of the given shape through the pair; byte for byte. */
static void roundtrip(xc_pair_t *p, uint8_t *remote, size_t block, size_t batch, uint64_t seed) {
    adxl_transfer_op_desc_t *d = calloc(batch, sizeof(*d));
    REQUIRE(d != NULL);
    /* Every other block, so that the batch is scattered on both sides. */
    for (size_t i = 0; i < batch; i++)
        d[i] = (adxl_transfer_op_desc_t){(uintptr_t)(p->lbuf + 2 * i * block),
                                         (uintptr_t)(remote + 2 * i * block), block};
    for (size_t i = 0; i < batch; i++)
        tu_fill(p->lbuf + 2 * i * block, block, seed + i);
    CHECK_STATUS(adxl_transfer_sync(p->init, p->tname, ADXL_WRITE, d, batch, 20000), ADXL_SUCCESS);
    bool exact = true;
    XC_EXTERNALLY_ORDERED_BEGIN();
    for (size_t i = 0; i < batch; i++)
        exact = exact && tu_verify(remote + 2 * i * block, block, seed + i);
    XC_EXTERNALLY_ORDERED_END();
    CHECK(exact);
    for (size_t i = 0; i < batch; i++)
        memset(p->lbuf + 2 * i * block, 0, block);
    CHECK_STATUS(adxl_transfer_sync(p->init, p->tname, ADXL_READ, d, batch, 20000), ADXL_SUCCESS);
    exact = true;
    for (size_t i = 0; i < batch; i++)
        exact = exact && tu_verify(p->lbuf + 2 * i * block, block, seed + i);
    CHECK(exact);
    free(d);
}

static void forced_paths(void) {
    static const struct {
        const char *path;
        int want; /* 0 mapped, 1 cma, 2 staged */
    } cases[] = {{"auto", 0}, {"cma", 1}, {"staging", 2}};
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        printf("-- ShmPath=%s\n", cases[c].path);
        adxl_option_t o[2];
        shm_opts(cases[c].path, o);
        xc_pair_t p;
        REQUIRE(xc_pair_open_opts(&p, o, 2, o, 2, 16 * MIB, true, 16 * MIB));
        adxl_stats_t a = xc_stats(p.init);
        roundtrip(&p, p.rbuf, MIB, 8, 10);     /* direct, large */
        roundtrip(&p, p.rbuf, 4096, 1024, 20); /* direct... small: buffered */
        roundtrip(&p, p.rbuf, 300 * 1024, 3, 30);
        adxl_stats_t b = xc_stats(p.init);
        path_delta_t d = delta(&a, &b);
        uint64_t moved = d.mapped + d.cma + d.staged;
        uint64_t want_bytes = 2 * (8 * MIB + 1024 * 4096 + 3 * 300 * 1024);
        printf("   mapped %" PRIu64 ", cma %" PRIu64 ", staged %" PRIu64 " bytes\n", d.mapped,
               d.cma, d.staged);
        CHECK(moved == want_bytes);
        uint64_t on_path = cases[c].want == 0 ? d.mapped : cases[c].want == 1 ? d.cma : d.staged;
        CHECK(on_path == want_bytes);
        /* The target's thread served frames only on the staging path. */
        adxl_stats_t t = xc_stats(p.tgt);
        CHECK(cases[c].want == 2 ? t.frames_served > 0 : t.frames_served == 0);
        xc_pair_close(&p);
    }
}

/* A region that is part of a block: CMA, never a mapping of the whole block. */
static void partial_block_not_mapped(void) {
    printf("-- part of a block is not mapped\n");
    adxl_option_t o[2];
    shm_opts("auto", o);
    xc_pair_t p;
    REQUIRE(xc_pair_open_opts(&p, o, 2, o, 2, 4 * MIB, true, 0));
    uint8_t *block = xc_alloc(8 * MIB);
    REQUIRE(block != NULL);
    adxl_mem_handle_t h = xc_register(p.tgt, block + MIB, 4 * MIB);
    REQUIRE(h != NULL);
    /* The registration reaches the initiator's view asynchronously: until then such a
     * transfer is staged (the target checks it); so retry until one-sided. */
    adxl_stats_t a = xc_stats(p.init), b = a;
    for (int k = 0; k < 2000 && b.bytes_cma == a.bytes_cma; k++) {
        a = xc_stats(p.init);
        tu_fill(p.lbuf, MIB, 40);
        CHECK_STATUS(
            xc_xfer1(p.init, p.tname, ADXL_WRITE, p.lbuf, (uintptr_t)(block + MIB), MIB, 10000),
            ADXL_SUCCESS);
        XC_EXTERNALLY_ORDERED_BEGIN();
        bool landed = tu_verify(block + MIB, MIB, 40);
        XC_EXTERNALLY_ORDERED_END();
        CHECK(landed);
        b = xc_stats(p.init);
    }
    path_delta_t d = delta(&a, &b);
    CHECK(d.cma == MIB);
    CHECK(d.mapped == 0);
    /* Outside the registered part: refused by the target, block untouched. */
    XC_EXTERNALLY_ORDERED_BEGIN();
    memset(block, 0x11, MIB);
    XC_EXTERNALLY_ORDERED_END();
    CHECK_STATUS(xc_xfer1(p.init, p.tname, ADXL_WRITE, p.lbuf, (uintptr_t)block, 4096, 10000),
                 ADXL_PARAM_INVALID);
    CHECK_STATUS(
        xc_xfer1(p.init, p.tname, ADXL_WRITE, p.lbuf, (uintptr_t)(block + MIB - 16), 32, 10000),
        ADXL_PARAM_INVALID);
    bool untouched = true;
    XC_EXTERNALLY_ORDERED_BEGIN();
    for (size_t i = 0; i < MIB; i++)
        untouched = untouched && block[i] == 0x11;
    XC_EXTERNALLY_ORDERED_END();
    CHECK(untouched);
    CHECK_STATUS(adxl_deregister_mem(p.tgt, h), ADXL_SUCCESS);
    xc_pair_close(&p);
    adxl_free_mem(block);
}

typedef struct {
    xc_pair_t *p;
    uint8_t *remote;
    atomic_bool stop;
    atomic_ullong ok, refused, other;
} writer_t;

static void *writer_main(void *arg) {
    writer_t *w = arg;
    size_t lens[] = {64, 4096, 300 * 1024, 2 * MIB};
    for (unsigned k = 0; !atomic_load(&w->stop); k++) {
        size_t len = lens[k % 4];
        adxl_status_t st = xc_xfer1(w->p->init, w->p->tname, ADXL_WRITE, w->p->lbuf,
                                    (uintptr_t)w->remote, len, 10000);
        if (st == ADXL_SUCCESS)
            atomic_fetch_add(&w->ok, 1);
        else if (st == ADXL_PARAM_INVALID)
            atomic_fetch_add(&w->refused, 1);
        else
            atomic_fetch_add(&w->other, 1);
    }
    return NULL;
}

/* Writes hammer the region while it is deregistered: once that returns, not one more
 * byte lands, on any path. */
static void deregister_under_writes(void) {
    const char *paths[] = {"auto", "cma", "staging"};
    for (size_t c = 0; c < 3; c++) {
        printf("-- deregister while writes stream, ShmPath=%s\n", paths[c]);
        adxl_option_t o[2];
        shm_opts(paths[c], o);
        xc_pair_t p;
        REQUIRE(xc_pair_open_opts(&p, o, 2, o, 2, 4 * MIB, true, 4 * MIB));
        tu_fill(p.lbuf, 4 * MIB, 50);
        writer_t w = {.p = &p, .remote = p.rbuf};
        pthread_t th;
        REQUIRE(pthread_create(&th, NULL, writer_main, &w) == 0);
        while (atomic_load(&w.ok) < 200 && atomic_load(&w.other) == 0)
            sched_yield();
        CHECK_STATUS(adxl_deregister_mem(p.tgt, p.rh), ADXL_SUCCESS);
        p.rh = NULL;
        /* From here the region is the target's alone. */
        XC_EXTERNALLY_ORDERED_BEGIN();
        memset(p.rbuf, 0xEE, 4 * MIB);
        XC_EXTERNALLY_ORDERED_END();
        unsigned long long refused_at = atomic_load(&w.refused);
        while (atomic_load(&w.refused) < refused_at + 200 && atomic_load(&w.other) == 0)
            sched_yield();
        atomic_store(&w.stop, true);
        pthread_join(th, NULL);
        size_t changed = 0;
        XC_EXTERNALLY_ORDERED_BEGIN();
        for (size_t i = 0; i < 4 * MIB; i++)
            changed += p.rbuf[i] != 0xEE;
        XC_EXTERNALLY_ORDERED_END();
        printf("   %llu writes landed before, %llu refused after; %zu bytes changed after\n",
               atomic_load(&w.ok), atomic_load(&w.refused), changed);
        CHECK(changed == 0);
        CHECK(atomic_load(&w.other) == 0);
        xc_pair_close(&p);
    }
}

typedef struct {
    adxl_engine_t *e;
    const char *name;
    uint8_t *local;
    uintptr_t remote;
    atomic_bool stop;
    atomic_ullong ok, failed;
} streamer_t;

static void *streamer_main(void *arg) {
    streamer_t *s = arg;
    for (unsigned k = 0; !atomic_load(&s->stop); k++) {
        adxl_transfer_op_desc_t d[16];
        for (int i = 0; i < 16; i++)
            d[i] = (adxl_transfer_op_desc_t){(uintptr_t)(s->local + (size_t)i * 4 * MIB),
                                             s->remote + (size_t)i * 4 * MIB, 4 * MIB};
        adxl_status_t st =
            adxl_transfer_sync(s->e, s->name, k % 2 ? ADXL_READ : ADXL_WRITE, d, 16, 10000);
        atomic_fetch_add(st == ADXL_SUCCESS ? &s->ok : &s->failed, 1);
        if (st != ADXL_SUCCESS) break;
    }
    return NULL;
}

/* The target dies in the middle of 64 MiB copies, on each one-sided path. */
static void killed_mid_copy(void) {
    const char *paths[] = {"auto", "cma"};
    adxl_option_t o[2][2];
    xc_peer_t peers[2];
    /* Both peers first, while this process has no engine threads to fork with. */
    for (size_t c = 0; c < 2; c++) {
        shm_opts(paths[c], o[c]);
        xc_peer_cfg_t cfg = {o[c], 2, 64 * MIB};
        REQUIRE(xc_peer_start(&peers[c], &cfg));
    }
    for (size_t c = 0; c < 2; c++) {
        printf("-- target killed mid-copy, ShmPath=%s\n", paths[c]);
        xc_peer_t peer = peers[c];
        adxl_engine_t *e = tu_engine("127.0.0.1:0", o[c], 2);
        REQUIRE(e != NULL);
        uint8_t *local = xc_alloc(64 * MIB);
        REQUIRE(local != NULL);
        REQUIRE(xc_register(e, local, 64 * MIB) != NULL);
        CHECK_STATUS(adxl_connect(e, peer.name, 10000), ADXL_SUCCESS);
        streamer_t s = {.e = e, .name = peer.name, .local = local, .remote = (uintptr_t)peer.addr};
        pthread_t th;
        REQUIRE(pthread_create(&th, NULL, streamer_main, &s) == 0);
        while (atomic_load(&s.ok) < 4 && atomic_load(&s.failed) == 0)
            sched_yield();
        REQUIRE(kill(peer.ch.pid, SIGKILL) == 0);
        tu_wait_child(&peer.ch, 10000);
        peer.alive = false;
        uint64_t dead_at = tu_now_ms();
        /* The target is gone (reaped), its memory still mapped here: no success now. */
        adxl_status_t st =
            xc_xfer1(e, peer.name, ADXL_WRITE, local, (uintptr_t)peer.addr, 4096, 5000);
        if (st == ADXL_SUCCESS) fprintf(stderr, "a WRITE to the dead target succeeded\n");
        CHECK(st != ADXL_SUCCESS);
        pthread_join(th, NULL);
        uint64_t took = tu_now_ms() - dead_at;
        printf("   %llu batches of 64 MiB before the kill; the streamer stopped %" PRIu64
               " ms after it\n",
               atomic_load(&s.ok), took);
        CHECK(atomic_load(&s.failed) == 1);
        CHECK(took < 10000);
        CHECK_STATUS(xc_xfer1(e, peer.name, ADXL_READ, local, (uintptr_t)peer.addr, 4096, 5000),
                     ADXL_NOT_CONNECTED);
        adxl_engine_destroy(e);
        adxl_free_mem(local);
    }
}

/* The target frees registered memory without deregistering it. */
static void freed_without_deregister(void) {
    const char *paths[] = {"auto", "cma"};
    for (size_t c = 0; c < 2; c++) {
        printf("-- target frees registered memory, ShmPath=%s\n", paths[c]);
        adxl_option_t o[2];
        shm_opts(paths[c], o);
        xc_pair_t p;
        REQUIRE(xc_pair_open_opts(&p, o, 2, o, 2, 4 * MIB, true, 4 * MIB));
        tu_fill(p.lbuf, 4 * MIB, 60);
        CHECK_STATUS(
            xc_xfer1(p.init, p.tname, ADXL_WRITE, p.lbuf, (uintptr_t)p.rbuf, 4 * MIB, 10000),
            ADXL_SUCCESS);
        uintptr_t gone = (uintptr_t)p.rbuf;
        CHECK_STATUS(adxl_free_mem(p.rbuf), ADXL_SUCCESS); /* the user's bug */
        p.rbuf = NULL;
        adxl_status_t st = xc_xfer1(p.init, p.tname, ADXL_WRITE, p.lbuf, gone, 4 * MIB, 10000);
        printf("   WRITE into the freed region: %s\n", adxl_status_str(st));
        /* Mapped: the block lives on in our mapping until revoked, so the copy lands
         * there harmlessly. CMA: the kernel finds nothing mapped and says so. */
        if (c == 1) CHECK_STATUS(st, ADXL_FAILED);
        CHECK(st == ADXL_SUCCESS || st == ADXL_FAILED);
        adxl_engine_destroy(p.init);
        p.init = NULL;
        CHECK_STATUS(adxl_deregister_mem(p.tgt, p.rh), ADXL_SUCCESS);
        p.rh = NULL;
        xc_pair_close(&p);
    }
}

/* The child: drops to user nobody, waits for "NAME ADDR" on fd `in`, then writes 1 MiB
 * into the target, reads it back, and exits 0 when the bytes and the path (staging only)
 * were right. */
static int other_user_child(int in) {
    if (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 ||
        setresuid(65534, 65534, 65534) != 0)
        return 10;
    char line[256] = {0};
    ssize_t n = read(in, line, sizeof(line) - 1);
    char name[128];
    unsigned long long addr;
    if (n <= 0 || sscanf(line, "%127s %llx", name, &addr) != 2) return 11;
    adxl_engine_t *e = tu_engine("127.0.0.1", NULL, 0);
    if (!e || adxl_connect(e, name, 10000) != ADXL_SUCCESS) return 12;
    uint8_t *buf = malloc(MIB), *back = malloc(MIB);
    int rc = buf && back ? 0 : 13;
    if (rc == 0) tu_fill(buf, MIB, 70);
    if (rc == 0 &&
        (xc_xfer1(e, name, ADXL_WRITE, buf, (uintptr_t)addr, MIB, 10000) != ADXL_SUCCESS ||
         xc_xfer1(e, name, ADXL_READ, back, (uintptr_t)addr, MIB, 10000) != ADXL_SUCCESS))
        rc = 14;
    if (rc == 0 && memcmp(buf, back, MIB) != 0) rc = 15;
    adxl_stats_t s = xc_stats(e);
    if (rc == 0 && !(s.bytes_staged == 2 * MIB && s.bytes_mapped == 0 && s.bytes_cma == 0))
        rc = 16;
    free(buf);
    free(back);
    adxl_engine_destroy(e);
    return rc;
}

static pid_t other_user_pid = -1;
static int other_user_pipe = -1;

/* Forked before this process has engine threads; it waits for its orders. */
static void other_user_start(void) {
    if (geteuid() != 0) return;
    int p[2];
    REQUIRE(pipe(p) == 0);
    other_user_pid = fork();
    REQUIRE(other_user_pid >= 0);
    if (other_user_pid == 0) {
        close(p[1]);
        _exit(other_user_child(p[0]));
    }
    close(p[0]);
    other_user_pipe = p[1];
}

static void other_user_gets_staging(void) {
    if (other_user_pid < 0) {
        printf("-- initiator of another user: NOT RUN (switching users needs root)\n");
        return;
    }
    printf("-- initiator of another user (nobody) against a target of root\n");
    adxl_engine_t *t = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(t != NULL);
    uint8_t *region = xc_alloc(4 * MIB);
    REQUIRE(region != NULL);
    adxl_mem_handle_t h = xc_register(t, region, 4 * MIB);
    REQUIRE(h != NULL);
    char line[256];
    int n = snprintf(line, sizeof(line), "%s %llx\n", adxl_local_engine(t),
                     (unsigned long long)(uintptr_t)region);
    REQUIRE(write(other_user_pipe, line, (size_t)n) == n);
    close(other_user_pipe);
    int status = 0;
    REQUIRE(waitpid(other_user_pid, &status, 0) == other_user_pid);
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 100;
    if (rc != 0) fprintf(stderr, "the other user's initiator ended with %d\n", rc);
    CHECK(rc == 0);
    XC_EXTERNALLY_ORDERED_BEGIN();
    bool landed = tu_verify(region, MIB, 70);
    XC_EXTERNALLY_ORDERED_END();
    CHECK(landed);
    printf("   CMA refused, no mapping given: 2 MiB staged, exact\n");
    CHECK_STATUS(adxl_deregister_mem(t, h), ADXL_SUCCESS);
    adxl_engine_destroy(t);
    adxl_free_mem(region);
}

int main(void) {
    other_user_start(); /* forks, like the next one, before there are engine threads */
    killed_mid_copy();
    forced_paths();
    partial_block_not_mapped();
    deregister_under_writes();
    freed_without_deregister();
    other_user_gets_staging();
    return tu_finish();
}
