/*
 * Batches of 1 to 4096 descriptors with scattered, non-contiguous, non-monotonic local
 * and remote offsets (independent permutations of slots) and mixed sizes, READ and WRITE,
 * buffered and direct. The whole destination area is compared with the image it must have
 * afterwards, so bytes outside the descriptors are checked as well.
 * Device variants: device memory on both sides (xfer_mem.h), but for the unregistered
 * local memory of the last batches, which stays host memory.
 */
#include "xfer_common.h"

#define BUF_SIZE (48 * XC_MIB)

typedef enum { LEN_SMALL, LEN_LARGE, LEN_MIXED, LEN_SAME_SOURCE } len_kind_t;

static uint8_t *expected;

/* Runs one batch of n descriptors over n slots of slot bytes each on both sides. */
static void run_batch(xc_pair_t *p, adxl_transfer_op_t op, size_t n, size_t slot, len_kind_t kind,
                      uint64_t seed, bool want_direct) {
    size_t region = n * slot;
    REQUIRE(region <= p->lsize && region <= p->rsize);
    adxl_transfer_op_desc_t *d = calloc(n, sizeof(*d));
    size_t *lperm = calloc(n, sizeof(size_t));
    size_t *rperm = calloc(n, sizeof(size_t));
    REQUIRE(d && lperm && rperm);
    uint64_t rng = seed * 2654435761u + 1;
    xc_shuffle(lperm, n, &rng);
    xc_shuffle(rperm, n, &rng);

    size_t total = 0;
    size_t same_len = xc_rand_range(&rng, 1, slot);
    size_t same_off = xc_rand_range(&rng, 0, slot - same_len);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        switch (kind) {
        case LEN_SMALL:
            len = xc_rand_range(&rng, 1, slot < XC_DIRECT_MIN ? slot : XC_DIRECT_MIN - 1);
            break;
        case LEN_LARGE:
            len = xc_rand_range(&rng, XC_DIRECT_MIN, slot);
            break;
        case LEN_MIXED:
            len = i % 2 ? xc_rand_range(&rng, XC_DIRECT_MIN, slot)
                        : xc_rand_range(&rng, 1, 4 * XC_KIB);
            break;
        default:
            len = same_len;
            break;
        }
        size_t loff = lperm[i] * slot + xc_rand_range(&rng, 0, slot - len);
        size_t roff = rperm[i] * slot + xc_rand_range(&rng, 0, slot - len);
        if (kind == LEN_SAME_SOURCE) {
            /* every descriptor reads the same source range; destinations differ */
            if (op == ADXL_WRITE)
                loff = same_off;
            else
                roff = same_off;
        }
        d[i].local_addr = (uintptr_t)(p->lbuf + loff);
        d[i].remote_addr = (uintptr_t)(p->rbuf + roff);
        d[i].len = len;
        total += len;
    }

    uint8_t *src = op == ADXL_WRITE ? p->lbuf : p->rbuf;
    uint8_t *dst = op == ADXL_WRITE ? p->rbuf : p->lbuf;
    /* Both images are made in host memory and put in place through xfer_mem.h (the
     * runtime's copies in a device run); s and t are offsets into them. */
    uint8_t *hsrc = malloc(region), *hdst = malloc(region);
    REQUIRE(hsrc && hdst);
    tu_fill(hsrc, region, seed);
    tu_fill(hdst, region, seed + 1);
    /* Make every destination byte of every descriptor differ from what must land there. */
    for (size_t i = 0; i < n; i++) {
        size_t s = (op == ADXL_WRITE ? d[i].local_addr : d[i].remote_addr) - (uintptr_t)src;
        size_t t = (op == ADXL_WRITE ? d[i].remote_addr : d[i].local_addr) - (uintptr_t)dst;
        for (size_t k = 0; k < d[i].len; k++)
            hdst[t + k] = (uint8_t)~hsrc[s + k];
    }
    REQUIRE(xc_put(src, hsrc, region) && xc_put(dst, hdst, region));
    memcpy(expected, hdst, region);
    for (size_t i = 0; i < n; i++) {
        size_t s = (op == ADXL_WRITE ? d[i].local_addr : d[i].remote_addr) - (uintptr_t)src;
        size_t t = (op == ADXL_WRITE ? d[i].remote_addr : d[i].local_addr) - (uintptr_t)dst;
        memcpy(expected + t, hsrc + s, d[i].len);
    }
    free(hsrc);
    free(hdst);

    adxl_stats_t before = xc_stats(p->init);
    adxl_status_t st = adxl_transfer_sync(p->init, p->tname, op, d, n, 60000);
    adxl_stats_t after = xc_stats(p->init);
    CHECK_STATUS(st, ADXL_SUCCESS);
    bool same = xc_same(dst, expected, region, "destination");
    if (!same || st != ADXL_SUCCESS)
        fprintf(stderr, "  batch: %s, %zu descriptors, slot %zu, kind %d, seed %" PRIu64 "\n",
                op == ADXL_WRITE ? "WRITE" : "READ", n, slot, (int)kind, seed);
    CHECK(same);
    CHECK(xc_verify(src, region, seed));
    XC_CHECK_MODE_DELTA(before, after, want_direct ? 1 : 0, want_direct ? 0 : 1);
    if (op == ADXL_WRITE)
        CHECK(after.bytes_written - before.bytes_written == total);
    else
        CHECK(after.bytes_read - before.bytes_read == total);

    free(d);
    free(lperm);
    free(rperm);
}

static size_t small_slot(size_t n) {
    size_t slot = 16 * XC_MIB / n;
    if (slot > 64 * XC_KIB) slot = 64 * XC_KIB;
    if (slot < 4 * XC_KIB) slot = 4 * XC_KIB;
    return slot;
}

int main(void) {
    static const size_t shapes[] = {1, 2, 16, 256, 1024, 4096};
    static const size_t direct_shapes[] = {1, 2, 16, 128};
    expected = malloc(BUF_SIZE);
    REQUIRE(expected != NULL);
    xc_pair_t p;
    REQUIRE(xc_pair_open(&p, BUF_SIZE, true, BUF_SIZE));
    uint64_t seed = 1;

    /* Small descriptors: buffered. */
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        run_batch(&p, ADXL_WRITE, shapes[i], small_slot(shapes[i]), LEN_SMALL, seed++, false);
        run_batch(&p, ADXL_READ, shapes[i], small_slot(shapes[i]), LEN_SMALL, seed++, false);
    }
    /* Far more descriptors than any one frame would carry. */
    run_batch(&p, ADXL_WRITE, 20000, 64, LEN_SMALL, seed++, false);
    run_batch(&p, ADXL_READ, 20000, 64, LEN_SMALL, seed++, false);
    /* All descriptors >= 256 KiB, registered on both sides: direct. */
    for (size_t i = 0; i < sizeof(direct_shapes) / sizeof(direct_shapes[0]); i++) {
        run_batch(&p, ADXL_WRITE, direct_shapes[i], 320 * XC_KIB, LEN_LARGE, seed++, true);
        run_batch(&p, ADXL_READ, direct_shapes[i], 320 * XC_KIB, LEN_LARGE, seed++, true);
    }
    /* Large and small in one batch: buffered. */
    run_batch(&p, ADXL_WRITE, 2, 512 * XC_KIB, LEN_MIXED, seed++, false);
    run_batch(&p, ADXL_READ, 2, 512 * XC_KIB, LEN_MIXED, seed++, false);
    run_batch(&p, ADXL_WRITE, 64, 512 * XC_KIB, LEN_MIXED, seed++, false);
    run_batch(&p, ADXL_READ, 64, 512 * XC_KIB, LEN_MIXED, seed++, false);
    /* Many descriptors sharing one source range. */
    run_batch(&p, ADXL_WRITE, 64, 16 * XC_KIB, LEN_SAME_SOURCE, seed++, false);
    run_batch(&p, ADXL_READ, 64, 16 * XC_KIB, LEN_SAME_SOURCE, seed++, false);

    /* Local memory unregistered: everything buffered, large descriptors included. In a
     * device run that is a host buffer of its own: ADXL takes unregistered memory to be
     * host memory. */
    CHECK_STATUS(adxl_deregister_mem(p.init, p.lh), ADXL_SUCCESS);
    p.lh = NULL;
    uint8_t *registered_lbuf = p.lbuf;
    if (xc_device_run()) REQUIRE((p.lbuf = xc_alloc_host(BUF_SIZE)) != NULL);
    run_batch(&p, ADXL_WRITE, 16, 320 * XC_KIB, LEN_LARGE, seed++, false);
    run_batch(&p, ADXL_READ, 16, 320 * XC_KIB, LEN_LARGE, seed++, false);
    run_batch(&p, ADXL_WRITE, 4096, 4 * XC_KIB, LEN_SMALL, seed++, false);
    run_batch(&p, ADXL_READ, 4096, 4 * XC_KIB, LEN_SMALL, seed++, false);
    run_batch(&p, ADXL_WRITE, 64, 512 * XC_KIB, LEN_MIXED, seed++, false);
    run_batch(&p, ADXL_READ, 64, 512 * XC_KIB, LEN_MIXED, seed++, false);

    if (p.lbuf != registered_lbuf) {
        xc_free(p.lbuf);
        p.lbuf = registered_lbuf;
    }
    xc_pair_close(&p);
    free(expected);
    return tu_finish();
}
