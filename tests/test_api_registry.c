/*
 * Memory registration: argument checks, DEVICE and bad type values, reference counting
 * of identical registrations, overlap rules, deregister of NULL/foreign/stale handles, and
 * what a linked peer sees: regions registered after the link are reachable, deregistered
 * ones are refused (target memory untouched, link still usable), and nothing lands in a
 * region once adxl_deregister_mem has returned.
 */
#include "test_api_util.h"

#define BOGUS_HANDLE ((adxl_mem_handle_t)(uintptr_t)0x1234)

static adxl_status_t reg(adxl_engine_t *e, const void *addr, size_t len, adxl_mem_handle_t *h) {
    adxl_mem_desc_t d = {(uintptr_t)addr, len};
    return adxl_register_mem(e, &d, ADXL_MEM_HOST, h);
}

static bool all_bytes(const uint8_t *p, size_t len, uint8_t v) {
    for (size_t i = 0; i < len; i++)
        if (p[i] != v) {
            fprintf(stderr, "offset %zu holds 0x%02x, expected 0x%02x\n", i, p[i], v);
            return false;
        }
    return true;
}

static void test_args(void) {
    fprintf(stderr, "-- register/deregister arguments\n");
    adxl_engine_t *e = tu_engine("127.0.0.1", NULL, 0);
    REQUIRE(e != NULL);
    static uint8_t buf[65536];
    adxl_mem_handle_t h = NULL;
    adxl_mem_desc_t d = {(uintptr_t)buf, sizeof(buf)};

    CHECK_STATUS(adxl_register_mem(e, NULL, ADXL_MEM_HOST, &h), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_register_mem(e, &d, ADXL_MEM_HOST, NULL), ADXL_PARAM_INVALID);
    CHECK_STATUS(reg(e, NULL, 4096, &h), ADXL_PARAM_INVALID);
    CHECK_STATUS(reg(e, buf, 0, &h), ADXL_PARAM_INVALID);
    CHECK_STATUS(reg(e, (void *)(UINTPTR_MAX - 10), 100, &h), ADXL_PARAM_INVALID);
    CHECK_STATUS(reg(e, (void *)(UINTPTR_MAX - 99), 100, &h), ADXL_PARAM_INVALID);
    CHECK_STATUS(reg(e, buf, SIZE_MAX, &h), ADXL_PARAM_INVALID);
    CHECK_STATUS(reg(e, (void *)(uintptr_t)4096, SIZE_MAX - 100, &h), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_register_mem(e, &d, ADXL_MEM_DEVICE, &h), ADXL_UNSUPPORTED);
    CHECK_STATUS(adxl_register_mem(e, &d, (adxl_mem_type_t)7, &h), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_register_mem(e, &d, (adxl_mem_type_t)2, &h), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_register_mem(e, &d, (adxl_mem_type_t)-1, &h), ADXL_PARAM_INVALID);

    /* None of the failed calls registered anything: the whole buffer registers fine now
     * (an overlap with a leftover would be PARAM_INVALID). */
    h = NULL;
    CHECK_STATUS(adxl_register_mem(e, &d, ADXL_MEM_HOST, &h), ADXL_SUCCESS);
    CHECK(h != NULL);
    CHECK_STATUS(adxl_deregister_mem(e, h), ADXL_SUCCESS);

    CHECK_STATUS(adxl_deregister_mem(e, NULL), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_deregister_mem(e, BOGUS_HANDLE), ADXL_SUCCESS);
    CHECK_STATUS(adxl_deregister_mem(e, (adxl_mem_handle_t)(uintptr_t)0xdeadbeef0000ull),
                 ADXL_SUCCESS);
    /* The stale handle from above (fully deregistered): SUCCESS again. */
    CHECK_STATUS(adxl_deregister_mem(e, h), ADXL_SUCCESS);
    adxl_engine_destroy(e);
}

static void test_overlap(void) {
    fprintf(stderr, "-- identical, overlapping and adjacent regions\n");
    adxl_engine_t *e = tu_engine("127.0.0.1", NULL, 0);
    REQUIRE(e != NULL);
    static uint8_t buf[65536];
    adxl_mem_handle_t r = NULL, h = NULL;
    uint8_t *base = buf + 4096;

    CHECK_STATUS(reg(e, base, 16384, &r), ADXL_SUCCESS);
    CHECK(r != NULL);
    /* Same addr and len: the same handle. */
    CHECK_STATUS(reg(e, base, 16384, &h), ADXL_SUCCESS);
    CHECK(h == r);
    CHECK_STATUS(reg(e, base, 16384, &h), ADXL_SUCCESS);
    CHECK(h == r);

    /* Overlaps of every shape. */
    CHECK_STATUS(reg(e, buf, 8192, &h), ADXL_PARAM_INVALID);          /* over the start */
    CHECK_STATUS(reg(e, base + 12288, 8192, &h), ADXL_PARAM_INVALID); /* over the end */
    CHECK_STATUS(reg(e, base + 4096, 4096, &h), ADXL_PARAM_INVALID);  /* inside */
    CHECK_STATUS(reg(e, base, 4096, &h), ADXL_PARAM_INVALID);         /* same start, shorter */
    CHECK_STATUS(reg(e, base, 32768, &h), ADXL_PARAM_INVALID);        /* same start, longer */
    CHECK_STATUS(reg(e, base + 8192, 8192, &h), ADXL_PARAM_INVALID);  /* same end, shorter */
    CHECK_STATUS(reg(e, buf, sizeof(buf), &h), ADXL_PARAM_INVALID);   /* around it */
    CHECK_STATUS(reg(e, base + 16383, 1, &h), ADXL_PARAM_INVALID);    /* its last byte */
    CHECK_STATUS(reg(e, base - 1, 2, &h), ADXL_PARAM_INVALID);        /* its first byte */

    /* Adjacent, on both sides: fine, and distinct handles. */
    adxl_mem_handle_t before = NULL, after = NULL;
    CHECK_STATUS(reg(e, buf, 4096, &before), ADXL_SUCCESS);
    CHECK_STATUS(reg(e, base + 16384, 4096, &after), ADXL_SUCCESS);
    CHECK(before != NULL && after != NULL && before != r && after != r && before != after);
    /* Odd sizes and addresses, byte-adjacent. */
    adxl_mem_handle_t b1 = NULL, b2 = NULL;
    CHECK_STATUS(reg(e, buf + 40001, 1, &b1), ADXL_SUCCESS);
    CHECK_STATUS(reg(e, buf + 40002, 3, &b2), ADXL_SUCCESS);
    CHECK(b1 != NULL && b2 != NULL && b1 != b2);
    CHECK_STATUS(reg(e, buf + 40000, 2, &h), ADXL_PARAM_INVALID);
    CHECK_STATUS(reg(e, buf + 40004, 1, &h), ADXL_PARAM_INVALID);
    CHECK_STATUS(reg(e, buf + 40005, 1, &h), ADXL_SUCCESS);
    CHECK_STATUS(adxl_deregister_mem(e, h), ADXL_SUCCESS);

    /* Three registrations of r need three deregisters; until then it still overlaps. */
    CHECK_STATUS(adxl_deregister_mem(e, r), ADXL_SUCCESS);
    CHECK_STATUS(adxl_deregister_mem(e, r), ADXL_SUCCESS);
    CHECK_STATUS(reg(e, base, 4096, &h), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_deregister_mem(e, r), ADXL_SUCCESS);
    /* Now gone: the space between the neighbours is free, in any shape. */
    adxl_mem_handle_t part = NULL;
    CHECK_STATUS(reg(e, base, 4096, &part), ADXL_SUCCESS);
    CHECK_STATUS(reg(e, base + 4096, 12288, &h), ADXL_SUCCESS);
    CHECK_STATUS(adxl_deregister_mem(e, part), ADXL_SUCCESS);
    CHECK_STATUS(adxl_deregister_mem(e, h), ADXL_SUCCESS);
    CHECK_STATUS(adxl_deregister_mem(e, before), ADXL_SUCCESS);
    CHECK_STATUS(adxl_deregister_mem(e, after), ADXL_SUCCESS);
    CHECK_STATUS(adxl_deregister_mem(e, b1), ADXL_SUCCESS);
    CHECK_STATUS(adxl_deregister_mem(e, b2), ADXL_SUCCESS);
    CHECK_STATUS(reg(e, buf, sizeof(buf), &h), ADXL_SUCCESS);
    CHECK_STATUS(adxl_deregister_mem(e, h), ADXL_SUCCESS);

    /* Registries are per engine: another engine may register an overlapping range. */
    adxl_engine_t *e2 = tu_engine("127.0.0.1", NULL, 0);
    REQUIRE(e2 != NULL);
    adxl_mem_handle_t h1 = NULL, h2 = NULL;
    CHECK_STATUS(reg(e, buf, 8192, &h1), ADXL_SUCCESS);
    CHECK_STATUS(reg(e2, buf + 4096, 8192, &h2), ADXL_SUCCESS);
    /* A handle e never gave out: SUCCESS, and e2's registration is unaffected. */
    CHECK_STATUS(adxl_deregister_mem(e, h2), ADXL_SUCCESS);
    adxl_mem_handle_t h3 = NULL;
    CHECK_STATUS(reg(e2, buf + 4096, 4096, &h3), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_deregister_mem(e2, h2), ADXL_SUCCESS);
    CHECK_STATUS(adxl_deregister_mem(e, h1), ADXL_SUCCESS);
    adxl_engine_destroy(e2);

    /* Many regions. */
    enum { NREG = 1000 };
    static adxl_mem_handle_t many[NREG];
    static uint8_t big[NREG * 64];
    bool all_ok = true;
    for (int i = 0; i < NREG; i++)
        all_ok = all_ok && reg(e, big + i * 64, 64, &many[i]) == ADXL_SUCCESS;
    CHECK(all_ok);
    all_ok = true;
    for (int i = 0; i < NREG; i++)
        all_ok = all_ok && adxl_deregister_mem(e, many[i]) == ADXL_SUCCESS;
    CHECK(all_ok);
    adxl_engine_destroy(e);
}

static void test_visibility(void) {
    fprintf(stderr, "-- registration seen by a linked peer\n");
    adxl_engine_t *t = tu_engine("127.0.0.1:0", NULL, 0);
    adxl_engine_t *i = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(t != NULL && i != NULL);
    char tname[128];
    snprintf(tname, sizeof(tname), "%s", adxl_local_engine(t));
    /* Link first, with nothing registered on the target. */
    CHECK_STATUS(adxl_connect(i, tname, 5000), ADXL_SUCCESS);

    const size_t len = 1u << 20;
    ta_region_t r1, r2, src;
    REQUIRE(ta_region_alloc(&r1, NULL, 2 * len)); /* r1 and r2 adjacent */
    r2 = r1;
    r2.ptr = r1.ptr + len;
    REQUIRE(ta_region_alloc(&src, NULL, 2 * len));

    /* Before registration: refused, untouched. */
    memset(r1.ptr, 0x33, 2 * len);
    tu_fill(src.ptr, 2 * len, 1);
    CHECK_STATUS(ta_xfer(i, tname, ADXL_WRITE, src.ptr, r1.ptr, 4096, 5000), ADXL_PARAM_INVALID);
    CHECK(all_bytes(r1.ptr, 2 * len, 0x33));

    /* Registered after the link: reachable by WRITE and READ, small and large. */
    CHECK_STATUS(reg(t, r1.ptr, len, &r1.handle), ADXL_SUCCESS);
    CHECK_STATUS(reg(t, r2.ptr, len, &r2.handle), ADXL_SUCCESS);
    CHECK_STATUS(ta_xfer(i, tname, ADXL_WRITE, src.ptr, r1.ptr, len, 5000), ADXL_SUCCESS);
    CHECK(tu_verify(r1.ptr, len, 1));
    CHECK_STATUS(ta_xfer(i, tname, ADXL_WRITE, src.ptr, r2.ptr + 10, 100, 5000), ADXL_SUCCESS);
    CHECK(tu_verify(r2.ptr + 10, 100, 1));
    tu_fill(r1.ptr, len, 2);
    memset(src.ptr, 0, len);
    CHECK_STATUS(ta_xfer(i, tname, ADXL_READ, src.ptr, r1.ptr, len, 5000), ADXL_SUCCESS);
    CHECK(tu_verify(src.ptr, len, 2));

    /* Ranges not wholly inside one region: across the r1/r2 boundary, past r2's end. */
    memset(r1.ptr, 0x44, 2 * len);
    tu_fill(src.ptr, 2 * len, 3);
    CHECK_STATUS(ta_xfer(i, tname, ADXL_WRITE, src.ptr, r1.ptr + len - 8, 16, 5000),
                 ADXL_PARAM_INVALID);
    CHECK_STATUS(ta_xfer(i, tname, ADXL_WRITE, src.ptr, r1.ptr, 2 * len, 5000), ADXL_PARAM_INVALID);
    CHECK_STATUS(ta_xfer(i, tname, ADXL_WRITE, src.ptr, r2.ptr + len - 1, 2, 5000),
                 ADXL_PARAM_INVALID);
    CHECK(all_bytes(r1.ptr, 2 * len, 0x44));

    /* A second peer linking now sees both regions. */
    adxl_engine_t *i2 = tu_engine("127.0.0.1", NULL, 0);
    REQUIRE(i2 != NULL);
    CHECK_STATUS(adxl_connect(i2, tname, 5000), ADXL_SUCCESS);
    CHECK_STATUS(ta_xfer(i2, tname, ADXL_WRITE, src.ptr, r2.ptr, len, 5000), ADXL_SUCCESS);
    CHECK(tu_verify(r2.ptr, len, 3));

    /* Deregistered: refused, memory untouched, the link still usable for r2. */
    CHECK_STATUS(adxl_deregister_mem(t, r1.handle), ADXL_SUCCESS);
    memset(r1.ptr, 0x55, len);
    tu_fill(src.ptr, len, 4);
    CHECK_STATUS(ta_xfer(i, tname, ADXL_WRITE, src.ptr, r1.ptr, len, 5000), ADXL_PARAM_INVALID);
    CHECK_STATUS(ta_xfer(i, tname, ADXL_WRITE, src.ptr, r1.ptr + 5, 10, 5000), ADXL_PARAM_INVALID);
    CHECK_STATUS(ta_xfer(i2, tname, ADXL_WRITE, src.ptr, r1.ptr, 4096, 5000), ADXL_PARAM_INVALID);
    CHECK_STATUS(ta_xfer(i, tname, ADXL_READ, src.ptr, r1.ptr, 4096, 5000), ADXL_PARAM_INVALID);
    CHECK(all_bytes(r1.ptr, len, 0x55));
    CHECK_STATUS(ta_xfer(i, tname, ADXL_WRITE, src.ptr, r2.ptr, len, 5000), ADXL_SUCCESS);
    CHECK(tu_verify(r2.ptr, len, 4));
    CHECK_STATUS(adxl_send_notify(i, tname, "after", "refusal", 5000), ADXL_SUCCESS);

    /* Reference counted: two registrations, one deregister, still reachable. */
    adxl_mem_handle_t ha = NULL, hb = NULL;
    CHECK_STATUS(reg(t, r1.ptr, len, &ha), ADXL_SUCCESS);
    CHECK_STATUS(reg(t, r1.ptr, len, &hb), ADXL_SUCCESS);
    CHECK(ha == hb);
    CHECK_STATUS(adxl_deregister_mem(t, ha), ADXL_SUCCESS);
    tu_fill(src.ptr, len, 5);
    CHECK_STATUS(ta_xfer(i, tname, ADXL_WRITE, src.ptr, r1.ptr, len, 5000), ADXL_SUCCESS);
    CHECK(tu_verify(r1.ptr, len, 5));
    CHECK_STATUS(adxl_deregister_mem(t, hb), ADXL_SUCCESS);
    memset(r1.ptr, 0x66, len);
    CHECK_STATUS(ta_xfer(i, tname, ADXL_WRITE, src.ptr, r1.ptr, len, 5000), ADXL_PARAM_INVALID);
    CHECK(all_bytes(r1.ptr, len, 0x66));
    /* Re-registered smaller, then larger again: the peer follows both changes. */
    CHECK_STATUS(reg(t, r1.ptr, len / 2, &ha), ADXL_SUCCESS);
    tu_fill(src.ptr, 8192, 9);
    memset(r1.ptr + len / 2, 0x67, len / 2);
    CHECK_STATUS(ta_xfer(i, tname, ADXL_WRITE, src.ptr, r1.ptr + len / 2, 4096, 5000),
                 ADXL_PARAM_INVALID);
    CHECK_STATUS(ta_xfer(i, tname, ADXL_WRITE, src.ptr, r1.ptr + len / 2 - 10, 20, 5000),
                 ADXL_PARAM_INVALID);
    CHECK(all_bytes(r1.ptr + len / 2, len / 2, 0x67));
    CHECK_STATUS(ta_xfer(i, tname, ADXL_WRITE, src.ptr, r1.ptr + len / 2 - 4096, 4096, 5000),
                 ADXL_SUCCESS);
    CHECK(tu_verify(r1.ptr + len / 2 - 4096, 4096, 9));
    CHECK_STATUS(adxl_deregister_mem(t, ha), ADXL_SUCCESS);
    CHECK_STATUS(reg(t, r1.ptr, len, &ha), ADXL_SUCCESS);
    CHECK_STATUS(ta_xfer(i, tname, ADXL_WRITE, src.ptr, r1.ptr + len / 2 - 4096, 8192, 5000),
                 ADXL_SUCCESS);
    CHECK(tu_verify(r1.ptr + len / 2 - 4096, 8192, 9));
    CHECK_STATUS(adxl_deregister_mem(t, ha), ADXL_SUCCESS);
    /* r2 was registered all along, adjacent to the old larger r1: it still works. */
    CHECK_STATUS(ta_xfer(i, tname, ADXL_WRITE, src.ptr, r2.ptr, 4096, 5000), ADXL_SUCCESS);

    /* A foreign handle does not deregister anything on t. */
    adxl_mem_handle_t foreign = NULL;
    CHECK_STATUS(reg(i2, src.ptr, 4096, &foreign), ADXL_SUCCESS);
    CHECK_STATUS(adxl_deregister_mem(t, foreign), ADXL_SUCCESS);
    CHECK_STATUS(ta_xfer(i, tname, ADXL_WRITE, src.ptr, r2.ptr, 4096, 5000), ADXL_SUCCESS);
    CHECK_STATUS(adxl_deregister_mem(i2, foreign), ADXL_SUCCESS);

    /* Deregister while a peer keeps writing into the region: once it has returned,
     * nothing lands there any more. Each request writes its own slice (concurrent writes
     * to the same bytes would be a race in the test itself). */
    enum { N = 32 };
    ta_region_t rz;
    REQUIRE(ta_region_alloc(&rz, t, (size_t)N * len));
    adxl_mem_handle_t lh = NULL;
    CHECK_STATUS(reg(i, src.ptr, len, &lh), ADXL_SUCCESS); /* direct mode for big ones */
    tu_fill(src.ptr, len, 6);
    adxl_transfer_req_t reqs[N];
    size_t n = 0;
    for (; n < N; n++) {
        /* Alternate large (direct) and small (buffered) writes. */
        adxl_transfer_op_desc_t d = {(uintptr_t)src.ptr, (uintptr_t)(rz.ptr + n * len),
                                     n % 2 == 0 ? len : 4096};
        if (adxl_transfer_async(i, tname, ADXL_WRITE, &d, 1, NULL, &reqs[n]) != ADXL_SUCCESS) break;
    }
    CHECK(n == N);
    CHECK_STATUS(adxl_deregister_mem(t, rz.handle), ADXL_SUCCESS);
    rz.handle = NULL;
    memset(rz.ptr, 0x77, rz.len);
    size_t done = 0, failed = 0;
    for (size_t k = 0; k < n; k++) {
        int s = tu_wait_req(i, reqs[k], 30000);
        if (s == ADXL_TRANSFER_COMPLETED)
            done++;
        else if (s == ADXL_TRANSFER_FAILED)
            failed++;
        else
            fprintf(stderr, "request %zu: %d\n", k, s);
    }
    fprintf(stderr, "   %zu completed before deregister, %zu refused\n", done, failed);
    CHECK(done + failed == n);
    CHECK(all_bytes(rz.ptr, rz.len, 0x77));
    ta_region_free(&rz, NULL);
    /* And the link survived the refusals. */
    CHECK_STATUS(ta_xfer(i, tname, ADXL_WRITE, src.ptr, r2.ptr, len, 5000), ADXL_SUCCESS);
    CHECK(tu_verify(r2.ptr, len, 6));
    CHECK_STATUS(adxl_deregister_mem(i, lh), ADXL_SUCCESS);

    adxl_engine_destroy(i2);
    adxl_engine_destroy(i);
    adxl_deregister_mem(t, r2.handle);
    adxl_engine_destroy(t);
    adxl_free_mem(r1.ptr);
    adxl_free_mem(src.ptr);
}

typedef struct {
    adxl_engine_t *t;
    uint8_t *base; /* this thread's own area */
    const uint8_t *shared;
    size_t shared_len;
    adxl_mem_handle_t shared_handle;
    int failures;
} reg_thread_t;

static void *reg_thread(void *p) {
    reg_thread_t *a = p;
    for (int i = 0; i < 200; i++) {
        adxl_mem_handle_t h = NULL;
        uint8_t *at = a->base + (size_t)(i % 16) * 4096;
        if (reg(a->t, at, 4096, &h) != ADXL_SUCCESS || h == NULL)
            a->failures++;
        else if (adxl_deregister_mem(a->t, h) != ADXL_SUCCESS)
            a->failures++;
        /* And the region everybody registers: always the same handle. */
        adxl_mem_handle_t sh = NULL;
        if (reg(a->t, a->shared, a->shared_len, &sh) != ADXL_SUCCESS)
            a->failures++;
        else if (i == 0)
            a->shared_handle = sh;
        else if (sh != a->shared_handle)
            a->failures++;
    }
    return NULL;
}

static void test_threads(void) {
    fprintf(stderr, "-- registration from several threads while a peer writes\n");
    adxl_engine_t *t = tu_engine("127.0.0.1:0", NULL, 0);
    adxl_engine_t *i = tu_engine("127.0.0.1", NULL, 0);
    REQUIRE(t != NULL && i != NULL);
    char tname[128];
    snprintf(tname, sizeof(tname), "%s", adxl_local_engine(t));
    CHECK_STATUS(adxl_connect(i, tname, 5000), ADXL_SUCCESS);
    enum { NT = 4 };
    ta_region_t area, shared, src;
    REQUIRE(ta_region_alloc(&area, NULL, (size_t)NT * 16 * 4096));
    REQUIRE(ta_region_alloc(&shared, NULL, 65536));
    REQUIRE(ta_region_alloc(&src, NULL, 65536));
    reg_thread_t args[NT];
    pthread_t th[NT];
    for (int k = 0; k < NT; k++) {
        args[k] =
            (reg_thread_t){t, area.ptr + (size_t)k * 16 * 4096, shared.ptr, shared.len, NULL, 0};
        REQUIRE(pthread_create(&th[k], NULL, reg_thread, &args[k]) == 0);
    }
    /* Meanwhile: write into the shared region whenever it is registered (it is from the
     * first registration on, since nobody deregisters it). */
    int writes = 0, refused = 0, bad = 0;
    for (int k = 0; k < 200; k++) {
        tu_fill(src.ptr, 4096, (uint64_t)k);
        adxl_status_t st = ta_xfer(i, tname, ADXL_WRITE, src.ptr, shared.ptr, 4096, 5000);
        if (st == ADXL_SUCCESS) {
            writes++;
            if (!tu_verify(shared.ptr, 4096, (uint64_t)k)) bad++;
        } else if (st == ADXL_PARAM_INVALID) {
            refused++; /* before the first registration landed */
        } else {
            bad++;
        }
    }
    int failures = 0;
    for (int k = 0; k < NT; k++) {
        pthread_join(th[k], NULL);
        failures += args[k].failures;
    }
    fprintf(stderr, "   %d writes, %d refused before registration\n", writes, refused);
    CHECK(failures == 0);
    CHECK(bad == 0);
    CHECK(args[0].shared_handle != NULL);
    bool same = true;
    for (int k = 1; k < NT; k++)
        same = same && args[k].shared_handle == args[0].shared_handle;
    CHECK(same);
    /* NT * 200 registrations of the shared region: that many deregisters to remove it. */
    adxl_mem_handle_t h = args[0].shared_handle;
    for (int k = 0; k < NT * 200 - 1; k++)
        if (adxl_deregister_mem(t, h) != ADXL_SUCCESS) failures++;
    CHECK(failures == 0);
    CHECK_STATUS(ta_xfer(i, tname, ADXL_WRITE, src.ptr, shared.ptr, 4096, 5000), ADXL_SUCCESS);
    CHECK_STATUS(adxl_deregister_mem(t, h), ADXL_SUCCESS);
    CHECK_STATUS(ta_xfer(i, tname, ADXL_WRITE, src.ptr, shared.ptr, 4096, 5000),
                 ADXL_PARAM_INVALID);
    /* The per-thread areas are all free again. */
    adxl_mem_handle_t whole = NULL;
    CHECK_STATUS(reg(t, area.ptr, area.len, &whole), ADXL_SUCCESS);
    CHECK_STATUS(adxl_deregister_mem(t, whole), ADXL_SUCCESS);
    adxl_engine_destroy(i);
    adxl_engine_destroy(t);
    ta_region_free(&area, NULL);
    ta_region_free(&shared, NULL);
    ta_region_free(&src, NULL);
}

/* A region in a child process: registered after the parent linked, written, then
 * deregistered and refused. */
static int child_main(void *arg, int to_parent, int from_parent) {
    (void)arg;
    ta_child_reset();
    adxl_engine_t *t = tu_engine("127.0.0.1:0", NULL, 0);
    if (t == NULL) return 2;
    ta_region_t r;
    if (!ta_region_alloc(&r, NULL, 1u << 20)) return 2;
    memset(r.ptr, 0x12, r.len);
    tu_send_line(to_parent, "%s %lu", adxl_local_engine(t), (unsigned long)(uintptr_t)r.ptr);
    char line[256];
    while (tu_recv_line(from_parent, line, sizeof(line), 60000)) {
        if (strcmp(line, "register") == 0) {
            CHECK_STATUS(reg(t, r.ptr, r.len, &r.handle), ADXL_SUCCESS);
        } else if (strcmp(line, "verify") == 0) {
            ta_sync_with_engine_threads();
            CHECK(tu_verify(r.ptr, r.len, 42));
        } else if (strcmp(line, "deregister") == 0) {
            CHECK_STATUS(adxl_deregister_mem(t, r.handle), ADXL_SUCCESS);
            memset(r.ptr, 0x13, r.len);
        } else if (strcmp(line, "untouched") == 0) {
            ta_sync_with_engine_threads();
            CHECK(all_bytes(r.ptr, r.len, 0x13));
        } else if (strcmp(line, "quit") == 0) {
            break;
        }
        tu_send_line(to_parent, "ok");
    }
    adxl_engine_destroy(t);
    adxl_free_mem(r.ptr);
    return ta_child_result();
}

/* The child's answer can take long under ThreadSanitizer on a loaded machine: the first
 * suppressed report (tests/tsan.supp) of its serving thread's copies is symbolized by
 * running llvm-symbolizer (seen in CI: 46 s). Nothing here is a timing assertion. */
static bool ask(tu_child_t *c, const char *cmd) {
    char line[64];
    return tu_send_line(c->to_child, "%s", cmd) &&
           tu_recv_line(c->from_child, line, sizeof(line), 180000) && strcmp(line, "ok") == 0;
}

static void test_cross_process(void) {
    fprintf(stderr, "-- registration in another process\n");
    tu_child_t c;
    REQUIRE(tu_spawn(&c, child_main, NULL));
    char line[256], tname[128];
    unsigned long addr = 0;
    CHECK(tu_recv_line(c.from_child, line, sizeof(line), 30000) &&
          sscanf(line, "%127s %lu", tname, &addr) == 2);
    adxl_engine_t *i = tu_engine("127.0.0.1", NULL, 0);
    REQUIRE(i != NULL);
    CHECK_STATUS(adxl_connect(i, tname, 5000), ADXL_SUCCESS);
    uint8_t *src = malloc(1u << 20);
    REQUIRE(src != NULL);
    tu_fill(src, 1u << 20, 42);
    void *remote = (void *)(uintptr_t)addr;
    CHECK_STATUS(ta_xfer(i, tname, ADXL_WRITE, src, remote, 1u << 20, 5000), ADXL_PARAM_INVALID);
    CHECK(ask(&c, "register"));
    CHECK_STATUS(ta_xfer(i, tname, ADXL_WRITE, src, remote, 1u << 20, 5000), ADXL_SUCCESS);
    CHECK(ask(&c, "verify"));
    CHECK(ask(&c, "deregister"));
    CHECK_STATUS(ta_xfer(i, tname, ADXL_WRITE, src, remote, 1u << 20, 5000), ADXL_PARAM_INVALID);
    CHECK_STATUS(ta_xfer(i, tname, ADXL_READ, src, remote, 4096, 5000), ADXL_PARAM_INVALID);
    CHECK(ask(&c, "untouched"));
    CHECK(ask(&c, "register"));
    CHECK_STATUS(ta_xfer(i, tname, ADXL_WRITE, src, remote, 1u << 20, 5000), ADXL_SUCCESS);
    CHECK(ask(&c, "verify"));
    tu_send_line(c.to_child, "quit");
    CHECK(tu_wait_child(&c, 30000) == 0);
    adxl_engine_destroy(i);
    free(src);
}

int main(void) {
    test_cross_process(); /* first: fork before this process has engine threads */
    test_args();
    test_overlap();
    test_visibility();
    test_threads();
    return tu_finish();
}
