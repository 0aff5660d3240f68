/*
 * Single-descriptor transfers of many sizes (1 B up to 64 MiB) and alignments, READ and
 * WRITE, with registered local memory (direct from 256 KiB on) and with unregistered local
 * memory (always buffered), checked byte for byte together with guard bytes around the
 * destination and the mode / byte counters.
 * Device variants: the registered buffers are device memory; the unregistered phases use
 * host memory (ADXL's rule for unregistered memory); device bytes are staged in-process.
 */
#include "xfer_common.h"

#define GUARD 64
#define BUF_SIZE (64 * XC_MIB + 3 * 4096)

static const size_t sizes[] = {1,          7,          4096, XC_DIRECT_MIN - 1, XC_DIRECT_MIN,
                               XC_MIB + 3, 64 * XC_MIB};

/* local offset, remote offset: page aligned, odd misalignments, and across a page end. */
static const size_t offsets[][2] = {{4096, 4096}, {65, 67}, {4093, 8191}};

static uint64_t next_seed = 1000;

static void run_one(xc_pair_t *p, uint8_t *lbase, adxl_transfer_op_t op, bool reg_local,
                    size_t size, size_t lo, size_t ro) {
    uint8_t *local = lbase + lo;
    uint8_t *remote = p->rbuf + ro;
    uint8_t *src = op == ADXL_WRITE ? local : remote;
    uint8_t *dst = op == ADXL_WRITE ? remote : local;
    uint64_t seed = next_seed;
    next_seed += 4;

    REQUIRE(xc_fill(src, size, seed));
    REQUIRE(xc_fill(dst - GUARD, GUARD, seed + 1));
    REQUIRE(xc_fill_inverse(dst, size, seed));
    REQUIRE(xc_fill(dst + size, GUARD, seed + 3));

    adxl_stats_t before = xc_stats(p->init);
    adxl_status_t st = xc_xfer1(p->init, p->tname, op, local, (uintptr_t)remote, size, 60000);
    adxl_stats_t after = xc_stats(p->init);
    if (st != ADXL_SUCCESS)
        fprintf(stderr, "%s of %zu bytes (local +%zu %s, remote +%zu) failed\n",
                op == ADXL_WRITE ? "WRITE" : "READ", size, lo,
                reg_local ? "registered" : "unregistered", ro);
    CHECK_STATUS(st, ADXL_SUCCESS);
    bool ok = xc_verify(dst, size, seed);
    if (!ok)
        fprintf(stderr, "  data wrong after %s of %zu bytes (local +%zu %s, remote +%zu)\n",
                op == ADXL_WRITE ? "WRITE" : "READ", size, lo,
                reg_local ? "registered" : "unregistered", ro);
    CHECK(ok);
    CHECK(xc_verify(dst - GUARD, GUARD, seed + 1));
    CHECK(xc_verify(dst + size, GUARD, seed + 3));
    if (size <= 8 * XC_MIB) CHECK(xc_verify(src, size, seed)); /* the source is left as it was */

    bool direct = reg_local && size >= XC_DIRECT_MIN;
    XC_CHECK_MODE_DELTA(before, after, direct ? 1 : 0, direct ? 0 : 1);
    /* Local device memory is staged through host memory: the runtime cannot map memory of
     * its own process a second time (IPC); host memory counts no device bytes here. */
    XC_CHECK_DEVICE_BYTES(before, after, xc_is_device(local, size) ? size : 0, 0);
    if (op == ADXL_WRITE) {
        CHECK(after.bytes_written - before.bytes_written == size);
        CHECK(after.bytes_read == before.bytes_read);
    } else {
        CHECK(after.bytes_read - before.bytes_read == size);
        CHECK(after.bytes_written == before.bytes_written);
    }
}

int main(void) {
    xc_pair_t p;
    REQUIRE(xc_pair_open(&p, BUF_SIZE, true, BUF_SIZE));
    /* Unregistered local memory is host memory (ADXL's rule): in a device run the
     * unregistered phase uses a host buffer of its own. */
    uint8_t *host_local = xc_device_run() ? xc_alloc_host(BUF_SIZE) : NULL;
    REQUIRE(host_local || !xc_device_run());

    for (int phase = 0; phase < 2; phase++) {
        bool reg_local = phase == 0;
        uint8_t *lbase = p.lbuf;
        if (!reg_local) {
            /* The same local buffer, now unregistered: everything goes buffered. */
            CHECK_STATUS(adxl_deregister_mem(p.init, p.lh), ADXL_SUCCESS);
            p.lh = NULL;
            if (host_local) lbase = host_local;
        }
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            for (size_t o = 0; o < sizeof(offsets) / sizeof(offsets[0]); o++) {
                /* 64 MiB only unaligned, to keep the run short */
                if (sizes[s] > 8 * XC_MIB && o != 1) continue;
                run_one(&p, lbase, ADXL_WRITE, reg_local, sizes[s], offsets[o][0], offsets[o][1]);
                run_one(&p, lbase, ADXL_READ, reg_local, sizes[s], offsets[o][0], offsets[o][1]);
            }
        }
    }

    /* The largest transfer once more with a local buffer that was never registered with
     * adxl at all and comes from plain malloc (not adxl_malloc_mem). */
    uint8_t *plain = malloc(8 * XC_MIB + 16);
    REQUIRE(plain != NULL);
    uint8_t *l = plain + 3;
    REQUIRE(xc_fill(p.rbuf + 5, 8 * XC_MIB, 77));
    memset(l, 0, 8 * XC_MIB);
    CHECK_STATUS(
        xc_xfer1(p.init, p.tname, ADXL_READ, l, (uintptr_t)(p.rbuf + 5), 8 * XC_MIB, 60000),
        ADXL_SUCCESS);
    CHECK(tu_verify(l, 8 * XC_MIB, 77));
    tu_fill(l, 8 * XC_MIB, 78);
    CHECK_STATUS(
        xc_xfer1(p.init, p.tname, ADXL_WRITE, l, (uintptr_t)(p.rbuf + 9), 8 * XC_MIB, 60000),
        ADXL_SUCCESS);
    CHECK(xc_verify(p.rbuf + 9, 8 * XC_MIB, 78));
    free(plain);
    xc_free(host_local);

    xc_pair_close(&p);
    return tu_finish();
}
