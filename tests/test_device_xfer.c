/*
 * Device memory (ADXL_MEM_DEVICE) end to end, on the runtime named by ADXL_TEST_DEVICE
 * (the CUDA or AscendCL double of tests/doubles/ in CI, whose device memory faults on any
 * CPU access) and the transport of the variant: all four pairings of host and device
 * memory, READ and WRITE, direct and buffered, sync and async; the context rule; a
 * runtime failure; deregistration; and a target in another process that stalls and dies.
 * Without ADXL_TEST_DEVICE it checks what an engine with no runtime answers.
 */
#include "device_util.h"
#include "testutil.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define KIB ((size_t)1024)
#define MIB ((size_t)1024 * 1024)
#define BUF_BYTES (4 * MIB)

/* One buffer of either kind, registered with one engine. */
typedef struct {
    bool device;
    uint8_t *p;
    size_t len;
    adxl_mem_handle_t h;
} buf_t;

static bool buf_make(buf_t *b, adxl_engine_t *e, bool device, size_t len) {
    memset(b, 0, sizeof(*b));
    b->device = device;
    b->len = len;
    if (device) {
        b->p = tdev_alloc(len);
    } else if (adxl_malloc_mem(ADXL_MEM_HOST, len, (void **)&b->p) != ADXL_SUCCESS) {
        b->p = NULL;
    }
    if (!b->p) return false;
    adxl_mem_desc_t d = {(uintptr_t)b->p, len};
    adxl_status_t st = adxl_register_mem(e, &d, device ? ADXL_MEM_DEVICE : ADXL_MEM_HOST, &b->h);
    if (st != ADXL_SUCCESS)
        fprintf(stderr, "register (%s): %s\n", device ? "device" : "host", adxl_status_str(st));
    return st == ADXL_SUCCESS;
}

static void buf_drop(buf_t *b, adxl_engine_t *e) {
    if (b->h) adxl_deregister_mem(e, b->h);
    if (b->device)
        tdev_free(b->p);
    else if (b->p)
        adxl_free_mem(b->p);
    memset(b, 0, sizeof(*b));
}

static bool buf_fill(const buf_t *b, size_t off, size_t len, uint64_t seed) {
    if (b->device) return tdev_fill(b->p + off, len, seed);
    tu_fill(b->p + off, len, seed);
    return true;
}

static bool buf_verify(const buf_t *b, size_t off, size_t len, uint64_t seed) {
    return b->device ? tdev_verify(b->p + off, len, seed) : tu_verify(b->p + off, len, seed);
}

static adxl_stats_t stats_of(adxl_engine_t *e) {
    adxl_stats_t s;
    memset(&s, 0, sizeof(s));
    CHECK_STATUS(adxl_get_stats(e, &s), ADXL_SUCCESS);
    return s;
}

static adxl_engine_t *g_init, *g_tgt;
static char g_tname[128];

/* Descriptor shapes: direct (every piece >= 256 KiB) and buffered (small pieces). */
typedef struct {
    const char *name;
    size_t count;
    size_t len;
    bool buffered;
} shape_t;

static const shape_t shapes[] = {
    {"direct 2 x 1 MiB", 2, MIB, false},
    {"buffered 48 x 4 KiB", 48, 4 * KIB, true},
    {"buffered 3 x 300 KiB + small", 4, 300 * KIB, true}, /* the last piece is 100 bytes */
};

static size_t piece_len(const shape_t *s, size_t i) {
    return s->count == 4 && i == 3 ? 100 : s->len;
}

/* Moves one batch between local L and remote R in op's direction and checks every byte,
 * the bytes around the pieces, the mode counters and the device staging counter. */
static void one_batch(const buf_t *L, const buf_t *R, adxl_transfer_op_t op, const shape_t *s,
                      uint64_t seed, bool async) {
    const buf_t *src = op == ADXL_WRITE ? L : R, *dst = op == ADXL_WRITE ? R : L;
    adxl_transfer_op_desc_t descs[48];
    /* Pieces are spread out and crossed over (local i goes to remote count-1-i), with a
     * 1 KiB gap before each so that a byte out of place shows. */
    size_t stride = s->len + 8 * KIB;
    for (size_t i = 0; i < s->count; i++) {
        size_t loff = KIB + i * stride, roff = KIB + (s->count - 1 - i) * stride;
        descs[i] = (adxl_transfer_op_desc_t){(uintptr_t)L->p + loff, (uintptr_t)R->p + roff,
                                             piece_len(s, i)};
    }
    REQUIRE(buf_fill(dst, 0, dst->len, seed ^ 0xdeadu));
    for (size_t i = 0; i < s->count; i++) {
        uintptr_t a = op == ADXL_WRITE ? descs[i].local_addr : descs[i].remote_addr;
        REQUIRE(buf_fill(src, a - (uintptr_t)src->p, descs[i].len, seed + i));
    }
    adxl_stats_t before = stats_of(g_init);
    adxl_status_t st;
    if (async) {
        adxl_transfer_req_t req = NULL;
        st = adxl_transfer_async(g_init, g_tname, op, descs, s->count, NULL, &req);
        adxl_transfer_status_t ts = ADXL_TRANSFER_WAITING;
        uint64_t end = tu_now_ms() + 20000;
        while (st == ADXL_SUCCESS && ts == ADXL_TRANSFER_WAITING && tu_now_ms() < end)
            st = adxl_get_transfer_status(g_init, req, &ts);
        CHECK(ts == ADXL_TRANSFER_COMPLETED);
    } else {
        st = adxl_transfer_sync(g_init, g_tname, op, descs, s->count, 20000);
    }
    if (st != ADXL_SUCCESS)
        fprintf(stderr, "%s %s local %s remote %s %s: %s\n", async ? "async" : "sync",
                op == ADXL_WRITE ? "WRITE" : "READ", L->device ? "device" : "host",
                R->device ? "device" : "host", s->name, adxl_status_str(st));
    CHECK_STATUS(st, ADXL_SUCCESS);
    for (size_t i = 0; i < s->count; i++) {
        uintptr_t a = op == ADXL_WRITE ? descs[i].remote_addr : descs[i].local_addr;
        CHECK(buf_verify(dst, a - (uintptr_t)dst->p, descs[i].len, seed + i));
    }
    /* The gap before the first piece and the bytes after the last are untouched. */
    uint8_t *expect = malloc(KIB);
    uint8_t *got = malloc(KIB);
    REQUIRE(expect && got);
    tu_fill(expect, KIB, seed ^ 0xdeadu);
    if (dst->device)
        CHECK(tdev_get(got, dst->p, KIB));
    else
        memcpy(got, dst->p, KIB);
    CHECK(memcmp(got, expect, KIB) == 0);
    free(expect);
    free(got);
    adxl_stats_t after = stats_of(g_init);
    CHECK(after.batches_buffered - before.batches_buffered == (s->buffered ? 1u : 0u));
    CHECK(after.batches_direct - before.batches_direct == (s->buffered ? 0u : 1u));
    /* Local device memory is either staged through host memory, or copied by the runtime
     * straight into a mapping of the peer's memory (shm); never both, never neither. */
    uint64_t staged = after.bytes_device_staged - before.bytes_device_staged;
    uint64_t mapped = after.bytes_device_mapped - before.bytes_device_mapped;
    uint64_t total = 0;
    for (size_t i = 0; i < s->count; i++)
        total += descs[i].len;
    if (L->device)
        CHECK(staged + mapped == total && (staged == 0 || mapped == 0));
    else
        CHECK(staged == 0);
}

static void all_pairings(void) {
    for (int lk = 0; lk < 2; lk++) {
        for (int rk = 0; rk < 2; rk++) {
            buf_t L, R;
            REQUIRE(buf_make(&L, g_init, lk == 1, BUF_BYTES));
            REQUIRE(buf_make(&R, g_tgt, rk == 1, BUF_BYTES));
            /* The view of the target's regions reaches the initiator asynchronously;
             * until it has, ADXL's rule picks buffered mode. A round trip settles it. */
            CHECK_STATUS(adxl_send_notify(g_init, g_tname, "settle", "", 5000), ADXL_SUCCESS);
            uint64_t seed = 100u * (uint64_t)(lk * 2 + rk + 1);
            for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
                one_batch(&L, &R, ADXL_WRITE, &shapes[s], seed + s * 10, false);
                one_batch(&L, &R, ADXL_READ, &shapes[s], seed + s * 10 + 5, false);
            }
            one_batch(&L, &R, ADXL_WRITE, &shapes[0], seed + 77, true);
            one_batch(&L, &R, ADXL_READ, &shapes[1], seed + 78, true);
            buf_drop(&L, g_init);
            buf_drop(&R, g_tgt);
        }
    }
}

/* The seed's rule: a buffered batch is all host or all device memory. */
static void mixed_buffered_batch(void) {
    buf_t H, D, R;
    REQUIRE(buf_make(&H, g_init, false, 64 * KIB));
    REQUIRE(buf_make(&D, g_init, true, 64 * KIB));
    REQUIRE(buf_make(&R, g_tgt, false, 64 * KIB));
    adxl_transfer_op_desc_t descs[2] = {{(uintptr_t)H.p, (uintptr_t)R.p, 4 * KIB},
                                        {(uintptr_t)D.p, (uintptr_t)R.p + 8 * KIB, 4 * KIB}};
    CHECK_STATUS(adxl_transfer_sync(g_init, g_tname, ADXL_WRITE, descs, 2, 5000),
                 ADXL_PARAM_INVALID);
    buf_drop(&H, g_init);
    buf_drop(&D, g_init);
    buf_drop(&R, g_tgt);
}

/* Registration refusals the runtime lets us make. */
static void registration_checks(void) {
    void *dev = tdev_alloc(64 * KIB);
    REQUIRE(dev);
    adxl_mem_desc_t d = {(uintptr_t)dev, 64 * KIB};
    adxl_mem_handle_t h = NULL, h2 = NULL;
    CHECK_STATUS(adxl_register_mem(g_init, &d, ADXL_MEM_DEVICE, &h), ADXL_SUCCESS);
    /* The same range as the other type: refused whatever the runtime can tell. */
    CHECK_STATUS(adxl_register_mem(g_init, &d, ADXL_MEM_HOST, &h2), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_deregister_mem(g_init, h), ADXL_SUCCESS);
    if (tdev.cuda) {
        /* CUDA's pointer attributes tell device from host memory. */
        CHECK_STATUS(adxl_register_mem(g_init, &d, ADXL_MEM_HOST, &h2), ADXL_PARAM_INVALID);
        void *host = malloc(64 * KIB);
        REQUIRE(host);
        adxl_mem_desc_t hd = {(uintptr_t)host, 64 * KIB};
        CHECK_STATUS(adxl_register_mem(g_init, &hd, ADXL_MEM_DEVICE, &h2), ADXL_PARAM_INVALID);
        free(host);
        /* A range that runs past its allocation is refused, as either type. */
        adxl_mem_desc_t over = {(uintptr_t)dev + 4096, 64 * KIB};
        CHECK_STATUS(adxl_register_mem(g_init, &over, ADXL_MEM_DEVICE, &h2), ADXL_PARAM_INVALID);
        CHECK_STATUS(adxl_register_mem(g_init, &over, ADXL_MEM_HOST, &h2), ADXL_PARAM_INVALID);
    }
    tdev_free(dev);

    /* adxl_malloc_mem(ADXL_MEM_DEVICE) comes from the runtime, and moves like any other. */
    void *mem = NULL;
    CHECK_STATUS(adxl_malloc_mem(ADXL_MEM_DEVICE, 256 * KIB, &mem), ADXL_SUCCESS);
    REQUIRE(mem);
    CHECK(tdev_fill(mem, 256 * KIB, 4242));
    CHECK(tdev_verify(mem, 256 * KIB, 4242));
    adxl_mem_desc_t md = {(uintptr_t)mem, 256 * KIB};
    CHECK_STATUS(adxl_register_mem(g_init, &md, ADXL_MEM_DEVICE, &h), ADXL_SUCCESS);
    buf_t R;
    REQUIRE(buf_make(&R, g_tgt, true, 256 * KIB));
    adxl_transfer_op_desc_t desc = {(uintptr_t)mem, (uintptr_t)R.p, 256 * KIB};
    CHECK_STATUS(adxl_transfer_sync(g_init, g_tname, ADXL_WRITE, &desc, 1, 10000), ADXL_SUCCESS);
    CHECK(tdev_verify(R.p, 256 * KIB, 4242));
    CHECK_STATUS(adxl_deregister_mem(g_init, h), ADXL_SUCCESS);
    CHECK_STATUS(adxl_free_mem(mem), ADXL_SUCCESS);
    CHECK_STATUS(adxl_free_mem(mem), ADXL_PARAM_INVALID);
    buf_drop(&R, g_tgt);
}

/* ADXL's context rule: a region keeps the context it was registered in, and any thread
 * may transfer; the engine leaves the thread's own context as it found it. */
typedef struct {
    const buf_t *L, *R;
    int device; /* the thread's own device, -1 for none */
    adxl_status_t status;
    bool context_untouched;
} thread_job_t;

static void *transfer_from_thread(void *arg) {
    thread_job_t *job = arg;
    if (job->device >= 0 && !tdev_use(job->device)) return NULL;
    void *before = tdev_context();
    adxl_transfer_op_desc_t desc = {(uintptr_t)job->L->p, (uintptr_t)job->R->p, MIB};
    job->status = adxl_transfer_sync(g_init, g_tname, ADXL_WRITE, &desc, 1, 10000);
    job->context_untouched = tdev_context() == before;
    return NULL;
}

static void context_rule(void) {
    buf_t L, R;
    REQUIRE(buf_make(&L, g_init, true, MIB));
    /* The target's region lives on device 1 (where there is one), registered from a
     * thread of that device. */
    int other = tdev.devices > 1 ? 1 : 0;
    void *ctx0 = tdev_context();
    REQUIRE(tdev_use(other));
    REQUIRE(buf_make(&R, g_tgt, true, MIB));
    REQUIRE(tdev_set_context(ctx0));
    /* A thread of another device, and a thread with no device at all. AscendCL cannot
     * take a thread back to "no context", so there the engine's is left behind. */
    for (int device = other; device >= -1; device = device > 0 ? -1 : device - 1) {
        uint64_t seed = 555 + (uint64_t)(device + 1);
        REQUIRE(buf_fill(&L, 0, MIB, seed));
        thread_job_t job = {&L, &R, device, ADXL_FAILED, false};
        pthread_t th;
        REQUIRE(pthread_create(&th, NULL, transfer_from_thread, &job) == 0);
        pthread_join(th, NULL);
        CHECK_STATUS(job.status, ADXL_SUCCESS);
        if (device >= 0 || tdev.cuda) CHECK(job.context_untouched);
        REQUIRE(tdev_use(other));
        CHECK(buf_verify(&R, 0, MIB, seed));
        REQUIRE(tdev_set_context(ctx0));
    }
    buf_drop(&L, g_init);
    REQUIRE(tdev_use(other));
    buf_drop(&R, g_tgt);
    REQUIRE(tdev_set_context(ctx0));
}

/* A copy the runtime fails fails that transfer, and nothing else. Only the doubles can
 * be told to fail one. */
static void runtime_failure(void) {
    if (!tdev.fail_copies) {
        printf("runtime_failure: not run: a real runtime cannot be told to fail a copy\n");
        return;
    }
    buf_t L, R;
    REQUIRE(buf_make(&L, g_init, true, 2 * MIB));
    REQUIRE(buf_make(&R, g_tgt, true, 2 * MIB));
    REQUIRE(buf_fill(&L, 0, 2 * MIB, 808));
    adxl_transfer_op_desc_t desc = {(uintptr_t)L.p, (uintptr_t)R.p, 2 * MIB};
    for (int side = 0; side < 2; side++) {
        adxl_transfer_op_t op = side == 0 ? ADXL_WRITE : ADXL_READ;
        tdev.fail_copies(1);
        CHECK_STATUS(adxl_transfer_sync(g_init, g_tname, op, &desc, 1, 10000), ADXL_FAILED);
        tdev.fail_copies(0);
        CHECK_STATUS(adxl_transfer_sync(g_init, g_tname, ADXL_WRITE, &desc, 1, 10000),
                     ADXL_SUCCESS);
        CHECK(buf_verify(&R, 0, 2 * MIB, 808));
    }
    /* The link is still there for everything else. */
    CHECK_STATUS(adxl_send_notify(g_init, g_tname, "after", "failure", 5000), ADXL_SUCCESS);
    buf_drop(&L, g_init);
    buf_drop(&R, g_tgt);
}

/* Once the target deregistered a device region, no peer reaches it. */
static void deregister_revokes(void) {
    buf_t L, R;
    REQUIRE(buf_make(&L, g_init, true, MIB));
    REQUIRE(buf_make(&R, g_tgt, true, MIB));
    REQUIRE(buf_fill(&L, 0, MIB, 1234));
    REQUIRE(buf_fill(&R, 0, MIB, 4321));
    adxl_transfer_op_desc_t desc = {(uintptr_t)L.p, (uintptr_t)R.p, MIB};
    CHECK_STATUS(adxl_transfer_sync(g_init, g_tname, ADXL_WRITE, &desc, 1, 10000), ADXL_SUCCESS);
    CHECK_STATUS(adxl_deregister_mem(g_tgt, R.h), ADXL_SUCCESS);
    R.h = NULL;
    REQUIRE(buf_fill(&R, 0, MIB, 4321));
    CHECK_STATUS(adxl_transfer_sync(g_init, g_tname, ADXL_WRITE, &desc, 1, 10000),
                 ADXL_PARAM_INVALID);
    CHECK(buf_verify(&R, 0, MIB, 4321));
    buf_drop(&L, g_init);
    buf_drop(&R, g_tgt);
}

/* ---- A target in another process ---- */

static int child_target(void *arg, int to_parent, int from_parent) {
    (void)arg;
    /* A real CUDA cannot be used in a child forked after it was initialised: the child
     * opens the runtime itself, and the parent forks before opening it. */
    if (!tdev_open()) return 2;
    adxl_engine_t *e = tu_engine("127.0.0.1:0", NULL, 0);
    buf_t R;
    if (!e || !buf_make(&R, e, true, 8 * MIB)) return 3;
    tu_send_line(to_parent, "%s %lx", adxl_local_engine(e), (unsigned long)(uintptr_t)R.p);
    char line[64];
    unsigned long long seed;
    while (tu_recv_line(from_parent, line, sizeof(line), 60000) && strcmp(line, "exit") != 0) {
        if (sscanf(line, "fill %llu", &seed) == 1) {
            tu_send_line(to_parent, buf_fill(&R, 0, R.len, seed) ? "ok" : "bad");
        } else if (sscanf(line, "verify %llu", &seed) == 1) {
            tu_send_line(to_parent, buf_verify(&R, 0, R.len, seed) ? "ok" : "bad");
        } else if (strcmp(line, "dereg") == 0) {
            adxl_status_t st = adxl_deregister_mem(e, R.h);
            R.h = NULL;
            tu_send_line(to_parent, st == ADXL_SUCCESS ? "ok" : "bad");
        }
    }
    buf_drop(&R, e);
    adxl_engine_destroy(e);
    return 0;
}

/* Sends a command to the target process; true when it answers ok. */
static bool child_says(tu_child_t *child, const char *cmd) {
    char reply[16];
    return tu_send_line(child->to_child, "%s", cmd) &&
           tu_recv_line(child->from_child, reply, sizeof(reply), 20000) && strcmp(reply, "ok") == 0;
}

static void remote_process(tu_child_t child) {
    char line[256], name[128];
    unsigned long raddr = 0;
    REQUIRE(tu_recv_line(child.from_child, line, sizeof(line), 30000));
    REQUIRE(sscanf(line, "%127s %lx", name, &raddr) == 2);
    adxl_engine_t *e = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(e);
    buf_t L;
    REQUIRE(buf_make(&L, e, true, 8 * MIB));
    REQUIRE(buf_fill(&L, 0, 8 * MIB, 99));
    CHECK_STATUS(adxl_connect(e, name, 10000), ADXL_SUCCESS);
    adxl_transfer_op_desc_t desc = {(uintptr_t)L.p, raddr, 8 * MIB};
    adxl_stats_t before = stats_of(e);
    CHECK_STATUS(adxl_transfer_sync(e, name, ADXL_WRITE, &desc, 1, 20000), ADXL_SUCCESS);
    /* Between two processes of one host, CUDA's IPC maps the target's device memory here
     * and the copy is device to device, one-sided; AscendCL (no IPC in its subset) and
     * TCP stage through host memory. */
    const char *transport = getenv("ADXL_TRANSPORT");
    bool ipc = tdev.cuda && (!transport || !*transport || strcmp(transport, "auto") == 0);
    adxl_stats_t after = stats_of(e);
    CHECK(after.bytes_device_mapped - before.bytes_device_mapped == (ipc ? 8 * MIB : 0));
    CHECK(after.bytes_device_staged - before.bytes_device_staged == (ipc ? 0 : 8 * MIB));
    REQUIRE(buf_fill(&L, 0, 8 * MIB, 1));
    CHECK_STATUS(adxl_transfer_sync(e, name, ADXL_READ, &desc, 1, 20000), ADXL_SUCCESS);
    CHECK(buf_verify(&L, 0, 8 * MIB, 99));

    /* A stalled target: a transfer it must serve gives up at its timeout, one over IPC
     * needs nothing of it; once it resumes, the link serves again. */
    REQUIRE(tu_stop_child(child.pid));
    CHECK_STATUS(adxl_transfer_sync(e, name, ADXL_WRITE, &desc, 1, 300),
                 ipc ? ADXL_SUCCESS : ADXL_TIMEOUT);
    REQUIRE(tu_cont_child(child.pid));
    /* The timed-out WRITE may have been finished with zeros: write again, read back. */
    REQUIRE(buf_fill(&L, 0, 8 * MIB, 77));
    CHECK_STATUS(adxl_transfer_sync(e, name, ADXL_WRITE, &desc, 1, 20000), ADXL_SUCCESS);
    REQUIRE(buf_fill(&L, 0, 8 * MIB, 2));
    CHECK_STATUS(adxl_transfer_sync(e, name, ADXL_READ, &desc, 1, 20000), ADXL_SUCCESS);
    CHECK(buf_verify(&L, 0, 8 * MIB, 77));

    /* Deregistration on the target: no path reaches the region any more, its bytes stay
     * as they are, and an IPC mapping of it here is closed. */
    CHECK(child_says(&child, "fill 31"));
    CHECK(child_says(&child, "dereg"));
    adxl_status_t refused = adxl_transfer_sync(e, name, ADXL_WRITE, &desc, 1, 10000);
    /* Refused by the target, or failed here when the revocation beat the REGION_DEL. */
    CHECK(refused == ADXL_PARAM_INVALID || (ipc && refused == ADXL_FAILED));
    CHECK(child_says(&child, "verify 31"));
    size_t (*open_handles)(void) = NULL;
    *(void **)&open_handles = dlsym(tdev.lib, "cuda_double_open_ipc_handles");
    if (ipc && open_handles) { /* only the double counts them */
        uint64_t end = tu_now_ms() + 10000;
        while (open_handles() != 0 && tu_now_ms() < end)
            sched_yield();
        CHECK(open_handles() == 0);
    }

    /* A dead target fails the transfer (or its link is gone already). */
    kill(child.pid, SIGKILL);
    CHECK(tu_wait_child(&child, 10000) == -1);
    adxl_status_t st = adxl_transfer_sync(e, name, ADXL_WRITE, &desc, 1, 10000);
    CHECK(st == ADXL_FAILED || st == ADXL_NOT_CONNECTED);
    buf_drop(&L, e);
    adxl_engine_destroy(e);
}

/* ---- No runtime ---- */

static void without_runtime(void) {
    adxl_engine_t *e = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(e);
    uint8_t mem[4096];
    adxl_mem_desc_t d = {(uintptr_t)mem, sizeof(mem)};
    adxl_mem_handle_t h = NULL;
    CHECK_STATUS(adxl_register_mem(e, &d, ADXL_MEM_DEVICE, &h), ADXL_UNSUPPORTED);
    void *p = NULL;
    CHECK_STATUS(adxl_malloc_mem(ADXL_MEM_DEVICE, 4096, &p), ADXL_UNSUPPORTED);
    CHECK_STATUS(adxl_malloc_mem(ADXL_MEM_DEVICE, 0, &p), ADXL_PARAM_INVALID);
    adxl_engine_destroy(e);
    const char *runtimes[] = {"cuda", "ascend"};
    for (int i = 0; i < 2; i++) {
        adxl_option_t o = {"DeviceRuntime", runtimes[i]};
        adxl_engine_t *x = NULL;
        REQUIRE(adxl_engine_create(&x) == ADXL_SUCCESS);
        CHECK_STATUS(adxl_initialize(x, "127.0.0.1:0", &o, 1), ADXL_UNSUPPORTED);
        adxl_engine_destroy(x);
    }
    adxl_option_t bad = {"adxl.DeviceRuntime", "gpu"};
    adxl_engine_t *x = NULL;
    REQUIRE(adxl_engine_create(&x) == ADXL_SUCCESS);
    CHECK_STATUS(adxl_initialize(x, "127.0.0.1:0", &bad, 1), ADXL_PARAM_INVALID);
    adxl_engine_destroy(x);
    adxl_option_t none = {"DeviceRuntime", "none"};
    x = tu_engine("127.0.0.1:0", &none, 1);
    CHECK(x != NULL);
    adxl_engine_destroy(x);
}

int main(void) {
    if (!tdev_kind()) {
        without_runtime();
        return tu_finish();
    }
    tu_child_t child;
    REQUIRE(tu_spawn(&child, child_target, NULL)); /* before the runtime is initialised */
    REQUIRE(tdev_open());
    /* The engine picks the same runtime by itself (auto), and a name it cannot load is
     * refused. */
    adxl_option_t other = {"DeviceRuntime", tdev.cuda ? "ascend" : "cuda"};
    adxl_engine_t *x = NULL;
    REQUIRE(adxl_engine_create(&x) == ADXL_SUCCESS);
    CHECK_STATUS(adxl_initialize(x, "127.0.0.1:0", &other, 1), ADXL_UNSUPPORTED);
    adxl_engine_destroy(x);

    remote_process(child);

    g_tgt = tu_engine("127.0.0.1:0", NULL, 0);
    g_init = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(g_tgt && g_init);
    snprintf(g_tname, sizeof(g_tname), "%s", adxl_local_engine(g_tgt));
    CHECK_STATUS(adxl_connect(g_init, g_tname, 10000), ADXL_SUCCESS);
    all_pairings();
    mixed_buffered_batch();
    registration_checks();
    context_rule();
    runtime_failure();
    deregister_revokes();
    adxl_engine_destroy(g_init);
    adxl_engine_destroy(g_tgt);
    return tu_finish();
}
