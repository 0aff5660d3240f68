/*
 * Initialize options: every key of the table in docs/BEHAVIOUR.md with and without the
 * "adxl." prefix, values at the edges of their ranges and just past them, unknown keys,
 * NULL keys and values; and that the options that change behaviour do change it
 * (BufferPool off, AllowUnregisteredMemory, TcpStreams, TcpSocketBufferKB, Transport).
 */
#include "test_api_util.h"

typedef struct {
    const char *key;
    const char *value;
    bool valid;
} opt_case_t;

static const opt_case_t cases[] = {
    {"BufferPool", "4:8", true},
    {"BufferPool", "0:0", true},
    {"BufferPool", "1:1", true},
    {"BufferPool", "0:1024", true},
    {"BufferPool", "1024:0", true},
    {"BufferPool", "2:1", true},
    {"BufferPool", "4", false},
    {"BufferPool", "4:", false},
    {"BufferPool", ":4", false},
    {"BufferPool", ":", false},
    {"BufferPool", "a:b", false},
    {"BufferPool", "4:b", false},
    {"BufferPool", "a:4", false},
    {"BufferPool", "", false},
    {"BufferPool", "1025:1", false},
    {"BufferPool", "1:1025", false},
    {"BufferPool", "-1:4", false},
    {"BufferPool", "4:-1", false},
    {"BufferPool", "4:8:1", false},
    {"BufferPool", "4:8x", false},
    {"BufferPool", "4x:8", false},
    {"BufferPool", "4294967297:1", false},

    {"AutoConnect", "0", true},
    {"AutoConnect", "1", true},
    {"AutoConnect", "2", false},
    {"AutoConnect", "-1", false},
    {"AutoConnect", "", false},
    {"AutoConnect", "yes", false},
    {"AutoConnect", "true", false},
    {"AutoConnect", "1x", false},

    {"RdmaTrafficClass", "0", true},
    {"RdmaTrafficClass", "4", true},
    {"RdmaTrafficClass", "132", true},
    {"RdmaTrafficClass", "252", true},
    {"RdmaTrafficClass", "256", false},
    {"RdmaTrafficClass", "255", false},
    {"RdmaTrafficClass", "2", false},
    {"RdmaTrafficClass", "133", false},
    {"RdmaTrafficClass", "-4", false},
    {"RdmaTrafficClass", "", false},
    {"RdmaTrafficClass", "abc", false},
    {"RdmaTrafficClass", "4x", false},

    {"RdmaServiceLevel", "0", true},
    {"RdmaServiceLevel", "4", true},
    {"RdmaServiceLevel", "7", true},
    {"RdmaServiceLevel", "8", false},
    {"RdmaServiceLevel", "-1", false},
    {"RdmaServiceLevel", "", false},
    {"RdmaServiceLevel", "x", false},
    {"RdmaServiceLevel", "1.5", false},

    {"Transport", "auto", true},
    {"Transport", "tcp", true},
    {"Transport", "", false},
    {"Transport", "udp", false},
    {"Transport", "tcpx", false},
    {"Transport", "rdma", false},

    {"TcpStreams", "1", true},
    {"TcpStreams", "4", true},
    {"TcpStreams", "16", true},
    {"TcpStreams", "0", false},
    {"TcpStreams", "17", false},
    {"TcpStreams", "-1", false},
    {"TcpStreams", "", false},
    {"TcpStreams", "4a", false},

    {"TcpSocketBufferKB", "0", true},
    {"TcpSocketBufferKB", "64", true},
    {"TcpSocketBufferKB", "4096", true},
    {"TcpSocketBufferKB", "65536", true},
    {"TcpSocketBufferKB", "1", false},
    {"TcpSocketBufferKB", "63", false},
    {"TcpSocketBufferKB", "65537", false},
    {"TcpSocketBufferKB", "-1", false},
    {"TcpSocketBufferKB", "", false},
    {"TcpSocketBufferKB", "64k", false},

    {"HeartbeatIntervalMs", "50", true},
    {"HeartbeatIntervalMs", "1000", true},
    {"HeartbeatIntervalMs", "60000", true},
    {"HeartbeatIntervalMs", "49", false},
    {"HeartbeatIntervalMs", "60001", false},
    {"HeartbeatIntervalMs", "0", false},
    {"HeartbeatIntervalMs", "-50", false},
    {"HeartbeatIntervalMs", "", false},
    {"HeartbeatIntervalMs", "100ms", false},

    {"PeerTimeoutMs", "100", true},
    {"PeerTimeoutMs", "5000", true},
    {"PeerTimeoutMs", "3600000", true},
    {"PeerTimeoutMs", "99", false},
    {"PeerTimeoutMs", "3600001", false},
    {"PeerTimeoutMs", "0", false},
    {"PeerTimeoutMs", "-100", false},
    {"PeerTimeoutMs", "", false},
    {"PeerTimeoutMs", "4294967396", false},

    {"AllowUnregisteredMemory", "0", true},
    {"AllowUnregisteredMemory", "1", true},
    {"AllowUnregisteredMemory", "2", false},
    {"AllowUnregisteredMemory", "", false},
    {"AllowUnregisteredMemory", "on", false},

    /* Unknown keys. */
    {"Foo", "1", false},
    {"adxl.Foo", "1", false},
    {"", "1", false},
    {"adxl.", "1", false},
    {"adxl.adxl.TcpStreams", "4", false},
    {"TcpStream", "4", false},
    {"TcpStreamsX", "4", false},
    {"adxlTcpStreams", "4", false},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* Initializes a fresh engine with the given options and returns the status; the engine is
 * destroyed again. On failure it checks the engine was left uninitialized. */
static adxl_status_t try_init(const adxl_option_t *opts, size_t n) {
    adxl_engine_t *e = NULL;
    if (adxl_engine_create(&e) != ADXL_SUCCESS || e == NULL) {
        CHECK(false);
        return ADXL_FAILED;
    }
    adxl_status_t st = adxl_initialize(e, "127.0.0.1", opts, n);
    if (st != ADXL_SUCCESS) {
        CHECK(adxl_local_engine(e) == NULL);
        adxl_stats_t s;
        CHECK_STATUS(adxl_get_stats(e, &s), ADXL_FAILED);
    }
    adxl_engine_destroy(e);
    return st;
}

static void test_table(void) {
    fprintf(stderr, "-- option table\n");
    for (size_t i = 0; i < NCASES; i++) {
        for (int prefixed = 0; prefixed < 2; prefixed++) {
            char key[128];
            snprintf(key, sizeof(key), "%s%s", prefixed ? "adxl." : "", cases[i].key);
            adxl_option_t o = {key, cases[i].value};
            adxl_status_t want = cases[i].valid ? ADXL_SUCCESS : ADXL_PARAM_INVALID;
            adxl_status_t st = try_init(&o, 1);
            if (st != want) fprintf(stderr, "option %s=\"%s\"\n", key, cases[i].value);
            CHECK_STATUS(st, want);
        }
    }
}

static void test_null_and_mixed(void) {
    fprintf(stderr, "-- NULL keys/values, several options\n");
    adxl_option_t o1 = {NULL, "1"};
    CHECK_STATUS(try_init(&o1, 1), ADXL_PARAM_INVALID);
    adxl_option_t o2 = {"AutoConnect", NULL};
    CHECK_STATUS(try_init(&o2, 1), ADXL_PARAM_INVALID);
    adxl_option_t o3 = {"adxl.TcpStreams", NULL};
    CHECK_STATUS(try_init(&o3, 1), ADXL_PARAM_INVALID);
    adxl_option_t o4 = {NULL, NULL};
    CHECK_STATUS(try_init(&o4, 1), ADXL_PARAM_INVALID);
    /* No options at all. */
    CHECK_STATUS(try_init(NULL, 0), ADXL_SUCCESS);

    /* All keys at once, valid. */
    adxl_option_t all[] = {
        {"BufferPool", "2:1"},        {"adxl.AutoConnect", "1"},
        {"RdmaTrafficClass", "8"},    {"adxl.RdmaServiceLevel", "3"},
        {"Transport", "tcp"},         {"adxl.TcpStreams", "2"},
        {"TcpSocketBufferKB", "128"}, {"adxl.HeartbeatIntervalMs", "500"},
        {"PeerTimeoutMs", "10000"},   {"adxl.AllowUnregisteredMemory", "0"},
    };
    size_t nall = sizeof(all) / sizeof(all[0]);
    CHECK_STATUS(try_init(all, nall), ADXL_SUCCESS);
    /* One bad option anywhere among good ones fails the whole initialize. */
    for (size_t bad = 0; bad < nall; bad++) {
        adxl_option_t copy[10];
        memcpy(copy, all, sizeof(all));
        copy[bad].value = "bogus";
        CHECK_STATUS(try_init(copy, nall), ADXL_PARAM_INVALID);
        memcpy(copy, all, sizeof(all));
        copy[bad].key = "Bogus";
        CHECK_STATUS(try_init(copy, nall), ADXL_PARAM_INVALID);
        memcpy(copy, all, sizeof(all));
        copy[bad].value = NULL;
        CHECK_STATUS(try_init(copy, nall), ADXL_PARAM_INVALID);
    }
}

/* An engine pair: target t (listening, with options topt), initiator i (options iopt),
 * i linked to t. */
typedef struct {
    adxl_engine_t *t, *i;
    char tname[128];
} pair_t;

static bool pair_up(pair_t *p, const adxl_option_t *topt, size_t nt, const adxl_option_t *iopt,
                    size_t ni) {
    p->t = tu_engine("127.0.0.1:0", topt, nt);
    p->i = tu_engine("127.0.0.1:0", iopt, ni);
    if (p->t == NULL || p->i == NULL) return false;
    snprintf(p->tname, sizeof(p->tname), "%s", adxl_local_engine(p->t));
    return adxl_connect(p->i, p->tname, 5000) == ADXL_SUCCESS;
}

static void pair_down(pair_t *p) {
    adxl_engine_destroy(p->i);
    adxl_engine_destroy(p->t);
}

static void test_buffer_pool_off(void) {
    fprintf(stderr, "-- BufferPool 0:0\n");
    adxl_option_t off = {"adxl.BufferPool", "0:0"};
    pair_t p;
    REQUIRE(pair_up(&p, NULL, 0, &off, 1));
    ta_region_t tr, ir;
    REQUIRE(ta_region_alloc(&tr, p.t, 4u << 20));
    REQUIRE(ta_region_alloc(&ir, p.i, 4u << 20));
    uint8_t *unreg = malloc(65536);
    REQUIRE(unreg != NULL);
    tu_fill(unreg, 65536, 1);
    memset(tr.ptr, 0x5a, 65536);
    /* With the pool off, unregistered local memory is PARAM_INVALID ... */
    CHECK_STATUS(ta_xfer(p.i, p.tname, ADXL_WRITE, unreg, tr.ptr, 65536, 5000), ADXL_PARAM_INVALID);
    CHECK_STATUS(ta_xfer(p.i, p.tname, ADXL_READ, unreg, tr.ptr, 65536, 5000), ADXL_PARAM_INVALID);
    bool untouched = true;
    for (size_t k = 0; k < 65536; k++)
        untouched = untouched && tr.ptr[k] == 0x5a;
    CHECK(untouched);
    /* ... registered local memory works, small and large. */
    tu_fill(ir.ptr, 4u << 20, 2);
    CHECK_STATUS(ta_xfer(p.i, p.tname, ADXL_WRITE, ir.ptr, tr.ptr, 100, 5000), ADXL_SUCCESS);
    CHECK(tu_verify(tr.ptr, 100, 2));
    CHECK_STATUS(ta_xfer(p.i, p.tname, ADXL_WRITE, ir.ptr, tr.ptr, 4u << 20, 5000), ADXL_SUCCESS);
    CHECK(tu_verify(tr.ptr, 4u << 20, 2));
    tu_fill(tr.ptr, 4u << 20, 3);
    CHECK_STATUS(ta_xfer(p.i, p.tname, ADXL_READ, ir.ptr, tr.ptr, 4u << 20, 5000), ADXL_SUCCESS);
    CHECK(tu_verify(ir.ptr, 4u << 20, 3));
    adxl_stats_t s;
    CHECK_STATUS(adxl_get_stats(p.i, &s), ADXL_SUCCESS);
    CHECK(s.batches_buffered == 0);
    CHECK(s.batches_direct == 3);
    free(unreg);
    ta_region_free(&tr, p.t);
    ta_region_free(&ir, p.i);
    pair_down(&p);
}

static void test_buffer_pool_on(void) {
    fprintf(stderr, "-- BufferPool 1:1 with unregistered local memory\n");
    adxl_option_t small = {"BufferPool", "1:1"};
    pair_t p;
    REQUIRE(pair_up(&p, NULL, 0, &small, 1));
    ta_region_t tr;
    REQUIRE(ta_region_alloc(&tr, p.t, 4u << 20));
    uint8_t *unreg = malloc(3u << 20);
    REQUIRE(unreg != NULL);
    /* Larger than the one 1 MiB pool buffer: must still arrive whole. */
    tu_fill(unreg, 3u << 20, 4);
    CHECK_STATUS(ta_xfer(p.i, p.tname, ADXL_WRITE, unreg, tr.ptr + 1, 3u << 20, 10000),
                 ADXL_SUCCESS);
    CHECK(tu_verify(tr.ptr + 1, 3u << 20, 4));
    memset(unreg, 0, 3u << 20);
    CHECK_STATUS(ta_xfer(p.i, p.tname, ADXL_READ, unreg, tr.ptr + 1, 3u << 20, 10000),
                 ADXL_SUCCESS);
    CHECK(tu_verify(unreg, 3u << 20, 4));
    adxl_stats_t s;
    CHECK_STATUS(adxl_get_stats(p.i, &s), ADXL_SUCCESS);
    CHECK(s.batches_buffered == 2);
    CHECK(s.bytes_written == 3u << 20);
    CHECK(s.bytes_read == 3u << 20);
    free(unreg);
    ta_region_free(&tr, p.t);
    pair_down(&p);
}

static void test_allow_unregistered(void) {
    fprintf(stderr, "-- AllowUnregisteredMemory\n");
    uint8_t *target_mem = malloc(1u << 20);
    uint8_t *src = malloc(1u << 20);
    REQUIRE(target_mem != NULL && src != NULL);
    tu_fill(src, 1u << 20, 7);

    /* Default (0): a target refuses unregistered memory, and stays usable. */
    pair_t p;
    REQUIRE(pair_up(&p, NULL, 0, NULL, 0));
    memset(target_mem, 0x11, 1u << 20);
    CHECK_STATUS(ta_xfer(p.i, p.tname, ADXL_WRITE, src, target_mem, 1u << 20, 5000),
                 ADXL_PARAM_INVALID);
    bool untouched = true;
    for (size_t k = 0; k < (1u << 20); k++)
        untouched = untouched && target_mem[k] == 0x11;
    CHECK(untouched);
    /* The link is still usable. */
    CHECK_STATUS(adxl_send_notify(p.i, p.tname, "still", "up", 5000), ADXL_SUCCESS);
    pair_down(&p);

    /* Explicit 0: the same. */
    adxl_option_t no = {"AllowUnregisteredMemory", "0"};
    REQUIRE(pair_up(&p, &no, 1, NULL, 0));
    CHECK_STATUS(ta_xfer(p.i, p.tname, ADXL_READ, src, target_mem, 4096, 5000), ADXL_PARAM_INVALID);
    pair_down(&p);

    /* 1: the target serves any host memory, over TCP and shared memory. Over UCX a
     * one-sided access needs the key that only registration makes: UNSUPPORTED, and
     * nothing touched. */
    adxl_option_t yes = {"adxl.AllowUnregisteredMemory", "1"};
    REQUIRE(pair_up(&p, &yes, 1, NULL, 0));
    if (tu_over_ucx()) {
        memset(target_mem, 0x11, 1u << 20);
        CHECK_STATUS(ta_xfer(p.i, p.tname, ADXL_WRITE, src, target_mem, 1u << 20, 5000),
                     ADXL_UNSUPPORTED);
        CHECK_STATUS(ta_xfer(p.i, p.tname, ADXL_READ, src, target_mem, 4096, 5000),
                     ADXL_UNSUPPORTED);
        untouched = true;
        for (size_t k = 0; k < (1u << 20); k++)
            untouched = untouched && target_mem[k] == 0x11;
        CHECK(untouched);
    } else {
        CHECK_STATUS(ta_xfer(p.i, p.tname, ADXL_WRITE, src, target_mem, 1u << 20, 5000),
                     ADXL_SUCCESS);
        CHECK(tu_verify(target_mem, 1u << 20, 7));
        tu_fill(target_mem, 1u << 20, 8);
        CHECK_STATUS(ta_xfer(p.i, p.tname, ADXL_READ, src, target_mem, 1u << 20, 5000),
                     ADXL_SUCCESS);
        CHECK(tu_verify(src, 1u << 20, 8));
    }
    pair_down(&p);
    free(target_mem);
    free(src);
}

/* A 24 MiB WRITE and READ in 3 descriptors between registered regions, with options. */
static void check_big_transfer(const char *what, const adxl_option_t *opts, size_t n) {
    fprintf(stderr, "-- transfer with %s\n", what);
    pair_t p;
    CHECK(pair_up(&p, opts, n, opts, n));
    if (p.t == NULL || p.i == NULL) {
        if (p.t) adxl_engine_destroy(p.t);
        if (p.i) adxl_engine_destroy(p.i);
        return;
    }
    const size_t len = 24u << 20, part = 8u << 20;
    ta_region_t tr, ir;
    REQUIRE(ta_region_alloc(&tr, p.t, len));
    REQUIRE(ta_region_alloc(&ir, p.i, len));
    tu_fill(ir.ptr, len, 21);
    adxl_transfer_op_desc_t d[3];
    for (int k = 0; k < 3; k++) {
        /* Scatter: local part k goes to remote part 2-k. */
        d[k].local_addr = (uintptr_t)(ir.ptr + (size_t)k * part);
        d[k].remote_addr = (uintptr_t)(tr.ptr + (size_t)(2 - k) * part);
        d[k].len = part;
    }
    CHECK_STATUS(adxl_transfer_sync(p.i, p.tname, ADXL_WRITE, d, 3, 30000), ADXL_SUCCESS);
    for (int k = 0; k < 3; k++) {
        bool ok = true;
        for (size_t b = 0; b < part && ok; b++)
            ok = tr.ptr[(size_t)(2 - k) * part + b] == tu_pattern_byte(21, (size_t)k * part + b);
        CHECK(ok);
    }
    memset(ir.ptr, 0, len);
    CHECK_STATUS(adxl_transfer_sync(p.i, p.tname, ADXL_READ, d, 3, 30000), ADXL_SUCCESS);
    CHECK(tu_verify(ir.ptr, len, 21));
    ta_region_free(&tr, p.t);
    ta_region_free(&ir, p.i);
    pair_down(&p);
}

int main(void) {
    test_table();
    test_null_and_mixed();
    test_buffer_pool_off();
    test_buffer_pool_on();
    test_allow_unregistered();
    adxl_option_t one[] = {{"TcpStreams", "1"}};
    check_big_transfer("TcpStreams=1", one, 1);
    adxl_option_t sixteen[] = {{"adxl.TcpStreams", "16"}};
    check_big_transfer("TcpStreams=16", sixteen, 1);
    adxl_option_t kdefault[] = {{"TcpSocketBufferKB", "0"}, {"Transport", "tcp"}};
    check_big_transfer("TcpSocketBufferKB=0 Transport=tcp", kdefault, 2);
    adxl_option_t k64[] = {{"TcpSocketBufferKB", "64"}, {"adxl.Transport", "auto"}};
    check_big_transfer("TcpSocketBufferKB=64 Transport=auto", k64, 2);
    adxl_option_t hb[] = {{"HeartbeatIntervalMs", "50"}, {"PeerTimeoutMs", "3000"}};
    check_big_transfer("HeartbeatIntervalMs=50 PeerTimeoutMs=3000", hb, 2);
    adxl_option_t nopool[] = {{"BufferPool", "0:0"}, {"TcpStreams", "3"}};
    check_big_transfer("BufferPool=0:0 TcpStreams=3", nopool, 2);
    return tu_finish();
}
