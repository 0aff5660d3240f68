/*
 * Remote ranges that are not wholly inside one registered region (beyond the end, before
 * the start, straddling two adjacent regions, wholly unregistered, wrapping around,
 * deregistered): ADXL_PARAM_INVALID, the target's memory untouched, the link still usable.
 * Exact fits at region edges work. With AllowUnregisteredMemory=1 on the target, memory it
 * never registered can be written and read.
 * Device variants: the registered regions are device memory; the AllowUnregisteredMemory
 * part stays on host memory.
 */
#include "xfer_common.h"

#define TBUF (4 * XC_MIB)
#define BG_SEED 4242

static adxl_engine_t *init_e, *tgt_e;
static char tname[128];
static uint8_t *lbuf; /* 4 MiB, registered with init_e */
static uint8_t *tbuf; /* 4 MiB on the target: R1 and R2 registered, the rest not */
static uint8_t *r1, *r2, *r2_end;
static adxl_mem_handle_t h1, h2;

/* The target buffer holds the background pattern everywhere except [skip, skip + skip_len). */
static bool target_untouched(size_t skip, size_t skip_len) {
    uint8_t *now = xc_read_back(tbuf, TBUF);
    bool same = now && tu_verify(now, skip, BG_SEED);
    for (size_t i = skip + skip_len; same && i < TBUF; i++) {
        if (now[i] != tu_pattern_byte(BG_SEED, i)) {
            fprintf(stderr, "target offset %zu changed\n", i);
            same = false;
        }
    }
    free(now);
    return same;
}

static void link_usable(void) {
    static uint64_t s = 9000;
    s++;
    REQUIRE(xc_fill(lbuf, 4096, s));
    CHECK_STATUS(xc_xfer1(init_e, tname, ADXL_WRITE, lbuf, (uintptr_t)(r1 + 8192), 4096, 10000),
                 ADXL_SUCCESS);
    CHECK(xc_verify(r1 + 8192, 4096, s));
    REQUIRE(xc_fill_inverse(lbuf + 4096, 4096, s));
    CHECK_STATUS(
        xc_xfer1(init_e, tname, ADXL_READ, lbuf + 4096, (uintptr_t)(r1 + 8192), 4096, 10000),
        ADXL_SUCCESS);
    CHECK(xc_verify(lbuf + 4096, 4096, s));
    REQUIRE(xc_fill(tbuf, TBUF, BG_SEED));
}

static void refused(uintptr_t raddr, size_t len, const char *what) {
    for (int op = ADXL_READ; op <= ADXL_WRITE; op++) {
        REQUIRE(xc_fill(tbuf, TBUF, BG_SEED));
        REQUIRE(xc_fill(lbuf, len, 17));
        adxl_status_t st = xc_xfer1(init_e, tname, (adxl_transfer_op_t)op, lbuf, raddr, len, 10000);
        if (st != ADXL_PARAM_INVALID)
            fprintf(stderr, "case '%s', %s of %zu bytes:\n", what,
                    op == ADXL_WRITE ? "WRITE" : "READ", len);
        CHECK_STATUS(st, ADXL_PARAM_INVALID);
        bool untouched = target_untouched(0, 0);
        if (!untouched)
            fprintf(stderr, "case '%s', %s of %zu bytes: target memory changed\n", what,
                    op == ADXL_WRITE ? "WRITE" : "READ", len);
        CHECK(untouched);
        link_usable();
    }
}

static void accepted(uint8_t *raddr, size_t len, const char *what) {
    static uint64_t s = 100;
    s++;
    REQUIRE(xc_fill(tbuf, TBUF, BG_SEED));
    REQUIRE(xc_fill(lbuf, len, s));
    adxl_status_t st = xc_xfer1(init_e, tname, ADXL_WRITE, lbuf, (uintptr_t)raddr, len, 10000);
    if (st != ADXL_SUCCESS) fprintf(stderr, "case '%s' (WRITE of %zu bytes)\n", what, len);
    CHECK_STATUS(st, ADXL_SUCCESS);
    CHECK(xc_verify(raddr, len, s));
    CHECK(target_untouched((size_t)(raddr - tbuf), len));
    REQUIRE(xc_fill(raddr, len, s + 1000));
    REQUIRE(xc_fill_inverse(lbuf, len, s + 1000));
    st = xc_xfer1(init_e, tname, ADXL_READ, lbuf, (uintptr_t)raddr, len, 10000);
    if (st != ADXL_SUCCESS) fprintf(stderr, "case '%s' (READ of %zu bytes)\n", what, len);
    CHECK_STATUS(st, ADXL_SUCCESS);
    CHECK(xc_verify(lbuf, len, s + 1000));
}

static void registered_regions(void) {
    tgt_e = xc_engine(NULL, 0);
    init_e = xc_engine(NULL, 0);
    REQUIRE(tgt_e && init_e);
    snprintf(tname, sizeof(tname), "%s", adxl_local_engine(tgt_e));
    lbuf = xc_alloc(TBUF);
    tbuf = xc_alloc(TBUF);
    REQUIRE(lbuf && tbuf);
    REQUIRE(xc_register(init_e, lbuf, TBUF) != NULL);
    r1 = tbuf + 64 * XC_KIB;
    r2 = r1 + XC_MIB;
    r2_end = r2 + XC_MIB;
    REQUIRE((h1 = xc_register(tgt_e, r1, XC_MIB)) != NULL);
    REQUIRE((h2 = xc_register(tgt_e, r2, XC_MIB)) != NULL);
    CHECK_STATUS(adxl_connect(init_e, tname, 10000), ADXL_SUCCESS);
    REQUIRE(xc_fill(tbuf, TBUF, BG_SEED));

    static const size_t lens[] = {1, 100, 512 * XC_KIB};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        size_t len = lens[i];
        size_t half = len / 2 ? len / 2 : 1;
        if (len > 1) {
            refused((uintptr_t)(r2_end - half), len, "straddling the end of R2");
            refused((uintptr_t)(r2 - half), len, "straddling R1 and R2");
            refused((uintptr_t)(r2_end - len + 1), len, "one byte beyond R2");
            refused((uintptr_t)(r1 - 1), len, "one byte before R1");
        }
        refused((uintptr_t)r2_end, len, "just after R2");
        refused((uintptr_t)(r2_end + 64 * XC_KIB), len, "unregistered");
        refused((uintptr_t)(tbuf + 100), len, "unregistered, before R1");
        refused(UINTPTR_MAX - (uintptr_t)half + 1, len, "wrapping around");
        accepted(r1, len, "start of R1");
        accepted(r2_end - len, len, "end of R2");
        accepted(r2 - len, len, "end of R1");
        accepted(r2, len, "start of R2");
    }
    accepted(r1, XC_MIB, "all of R1");
    accepted(r2, XC_MIB, "all of R2");
    refused((uintptr_t)r1, 2 * XC_MIB, "R1 and R2 together");
    /* Long descriptors that an engine cuts into several frames, each frame's piece on its
     * own inside a region: the descriptor as a whole is not. */
    refused((uintptr_t)(r1 + 512 * XC_KIB), 3 * XC_MIB, "R1, R2 and beyond");
    refused((uintptr_t)(r1 + 4096), 2 * XC_MIB - 8192, "most of R1 and R2");
    refused((uintptr_t)r1, 2 * XC_MIB + 1, "R1, R2 and one byte");

    /* A batch with a valid descriptor and an invalid one: refused; apart from the valid
     * descriptor's range the target is untouched. */
    for (int op = ADXL_READ; op <= ADXL_WRITE; op++) {
        for (int invalid_first = 0; invalid_first < 2; invalid_first++) {
            REQUIRE(xc_fill(tbuf, TBUF, BG_SEED));
            REQUIRE(xc_fill(lbuf, 8192, 55));
            adxl_transfer_op_desc_t good = {(uintptr_t)lbuf, (uintptr_t)(r1 + 4096), 4096};
            adxl_transfer_op_desc_t bad = {(uintptr_t)(lbuf + 4096), (uintptr_t)(r2_end - 10),
                                           4096};
            adxl_transfer_op_desc_t d[2];
            d[0] = invalid_first ? bad : good;
            d[1] = invalid_first ? good : bad;
            CHECK_STATUS(adxl_transfer_sync(init_e, tname, (adxl_transfer_op_t)op, d, 2, 10000),
                         ADXL_PARAM_INVALID);
            CHECK(target_untouched(64 * XC_KIB + 4096, 4096));
            link_usable();
        }
    }

    /* Deregistered: refused as soon as adxl_deregister_mem returned. */
    CHECK_STATUS(adxl_deregister_mem(tgt_e, h2), ADXL_SUCCESS);
    refused((uintptr_t)r2, 100, "deregistered R2");
    refused((uintptr_t)(r2 + 4096), 512 * XC_KIB, "deregistered R2, large");
    /* Registered again: visible to the linked peer (poll, it may take a moment). */
    REQUIRE((h2 = xc_register(tgt_e, r2, XC_MIB)) != NULL);
    REQUIRE(xc_fill(tbuf, TBUF, BG_SEED));
    REQUIRE(xc_fill(lbuf, 512 * XC_KIB, 66));
    adxl_status_t st = ADXL_FAILED;
    uint64_t deadline = tu_now_ms() + 10000;
    while (tu_now_ms() < deadline) {
        st = xc_xfer1(init_e, tname, ADXL_WRITE, lbuf, (uintptr_t)(r2 + 4096), 512 * XC_KIB, 10000);
        if (st != ADXL_PARAM_INVALID) break;
        tu_sleep_ms(10);
    }
    CHECK_STATUS(st, ADXL_SUCCESS);
    CHECK(xc_verify(r2 + 4096, 512 * XC_KIB, 66));
    accepted(r2 + 3, 5000, "R2 registered again");

    adxl_engine_destroy(init_e);
    adxl_engine_destroy(tgt_e);
    xc_free(lbuf);
    xc_free(tbuf);
}

/* AllowUnregisteredMemory reaches unregistered target memory, host memory by ADXL's rule:
 * a host-only feature, so this part runs on host memory in the device variants too. */
static void allow_unregistered(void) {
    const adxl_option_t allow[] = {{"AllowUnregisteredMemory", "1"}};
    adxl_engine_t *t = tu_engine("127.0.0.1:0", allow, 1);
    adxl_engine_t *in = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(t && in);
    char name[128];
    snprintf(name, sizeof(name), "%s", adxl_local_engine(t));
    uint8_t *target_mem = malloc(4 * XC_MIB); /* never registered anywhere */
    uint8_t *local = xc_alloc_host(4 * XC_MIB);
    uint8_t *reg = xc_alloc_host(XC_MIB); /* registered on the target */
    REQUIRE(target_mem && local && reg);
    REQUIRE(xc_register(in, local, 4 * XC_MIB) != NULL);
    REQUIRE(xc_register(t, reg, XC_MIB) != NULL);
    CHECK_STATUS(adxl_connect(in, name, 10000), ADXL_SUCCESS);

    if (tu_over_ucx()) {
        /* UCX reaches only what the target registered (a one-sided access needs its key):
         * the opt-in is not honoured there, and says so instead of touching anything. */
        tu_fill(target_mem, 4 * XC_MIB, 299);
        CHECK_STATUS(xc_xfer1(in, name, ADXL_WRITE, local, (uintptr_t)target_mem + 7, 4096, 10000),
                     ADXL_UNSUPPORTED);
        CHECK_STATUS(xc_xfer1(in, name, ADXL_READ, local, (uintptr_t)target_mem + 7, 4096, 10000),
                     ADXL_UNSUPPORTED);
        CHECK(tu_verify(target_mem, 4 * XC_MIB, 299));
        adxl_engine_destroy(in);
        adxl_engine_destroy(t);
        free(target_mem);
        adxl_free_mem(local);
        adxl_free_mem(reg);
        return;
    }

    static const size_t lens[] = {1, 100, 4096, XC_MIB + 3};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        size_t len = lens[i];
        uint8_t *dst = target_mem + 7;
        tu_fill(target_mem, 4 * XC_MIB, 300 + i);
        tu_fill(local, len, 400 + i);
        adxl_stats_t before = xc_stats(in);
        CHECK_STATUS(xc_xfer1(in, name, ADXL_WRITE, local, (uintptr_t)dst, len, 10000),
                     ADXL_SUCCESS);
        adxl_stats_t after = xc_stats(in);
        CHECK(tu_verify(dst, len, 400 + i));
        CHECK(tu_verify(target_mem, 7, 300 + i));
        CHECK(target_mem[7 + len] == tu_pattern_byte(300 + i, 7 + len));
        /* unregistered remote memory: buffered */
        XC_CHECK_MODE_DELTA(before, after, 0, 1);

        tu_fill(dst, len, 500 + i);
        xc_fill_inverse(local, len, 500 + i);
        CHECK_STATUS(xc_xfer1(in, name, ADXL_READ, local, (uintptr_t)dst, len, 10000),
                     ADXL_SUCCESS);
        CHECK(tu_verify(local, len, 500 + i));
    }
    /* Straddling the end of a registered region into unregistered memory: allowed too. */
    {
        uint8_t *both_mem = malloc(2 * XC_MIB);
        REQUIRE(both_mem != NULL);
        REQUIRE(xc_register(t, both_mem, XC_MIB) != NULL);
        tu_fill(both_mem, 2 * XC_MIB, 600);
        tu_fill(local, 8192, 601);
        CHECK_STATUS(xc_xfer1(in, name, ADXL_WRITE, local, (uintptr_t)(both_mem + XC_MIB - 4096),
                              8192, 10000),
                     ADXL_SUCCESS);
        CHECK(tu_verify(both_mem + XC_MIB - 4096, 8192, 601));
        CHECK(tu_verify(both_mem, XC_MIB - 4096, 600));
        adxl_engine_destroy(in);
        adxl_engine_destroy(t);
        free(both_mem);
    }
    free(target_mem);
    adxl_free_mem(local);
    adxl_free_mem(reg);
}

int main(void) {
    registered_regions();
    allow_unregistered();
    return tu_finish();
}
