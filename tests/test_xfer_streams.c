/*
 * The same transfers under different link settings: TcpStreams 1, 2 and 16, small socket
 * buffers (TcpSocketBufferKB 64 and the kernel default 0), a fast heartbeat; large batches
 * spread over the streams, small ones, and one 32 MiB descriptor, READ and WRITE, all
 * checked byte for byte.
 * Device variants: device memory on both sides (xfer_mem.h).
 */
#include "xfer_common.h"

#define BUF (40 * XC_MIB)

static void batch(xc_pair_t *p, adxl_transfer_op_t op, size_t n, size_t slot, size_t len,
                  uint64_t seed, const char *cfg) {
    adxl_transfer_op_desc_t *d = calloc(n, sizeof(*d));
    REQUIRE(d != NULL);
    REQUIRE(n * slot <= BUF && len + 7 <= slot);
    for (size_t i = 0; i < n; i++) {
        d[i].local_addr = (uintptr_t)(p->lbuf + i * slot + i % 7);
        d[i].remote_addr = (uintptr_t)(p->rbuf + (n - 1 - i) * slot + i % 5);
        d[i].len = len;
    }
    /* The source holds a pattern, each destination piece its complement; built in host
     * copies of both buffers (d[] addresses, rebased), put in place through the runtime
     * in a device run. */
    uint8_t *src = op == ADXL_WRITE ? p->lbuf : p->rbuf,
            *dst = op == ADXL_WRITE ? p->rbuf : p->lbuf;
    uint8_t *hsrc = malloc(n * slot), *hdst = xc_read_back(dst, n * slot);
    REQUIRE(hsrc && hdst);
    tu_fill(hsrc, n * slot, seed);
    for (size_t i = 0; i < n; i++) {
        size_t so = (op == ADXL_WRITE ? d[i].local_addr : d[i].remote_addr) - (uintptr_t)src;
        size_t to = (op == ADXL_WRITE ? d[i].remote_addr : d[i].local_addr) - (uintptr_t)dst;
        for (size_t k = 0; k < len; k++)
            hdst[to + k] = (uint8_t)~hsrc[so + k];
    }
    REQUIRE(xc_put(src, hsrc, n * slot) && xc_put(dst, hdst, n * slot));
    free(hsrc);
    free(hdst);
    adxl_stats_t before = xc_stats(p->init);
    adxl_status_t st = adxl_transfer_sync(p->init, p->tname, op, d, n, 60000);
    adxl_stats_t after = xc_stats(p->init);
    if (st != ADXL_SUCCESS)
        fprintf(stderr, "%s: %s of %zu x %zu failed\n", cfg, op == ADXL_WRITE ? "WRITE" : "READ", n,
                len);
    CHECK_STATUS(st, ADXL_SUCCESS);
    hsrc = xc_read_back(src, n * slot);
    hdst = xc_read_back(dst, n * slot);
    REQUIRE(hsrc && hdst);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        size_t so = (op == ADXL_WRITE ? d[i].local_addr : d[i].remote_addr) - (uintptr_t)src;
        size_t to = (op == ADXL_WRITE ? d[i].remote_addr : d[i].local_addr) - (uintptr_t)dst;
        if (memcmp(hsrc + so, hdst + to, len) != 0) bad++;
    }
    free(hsrc);
    free(hdst);
    if (bad)
        fprintf(stderr, "%s: %s of %zu x %zu: %zu descriptors wrong\n", cfg,
                op == ADXL_WRITE ? "WRITE" : "READ", n, len, bad);
    CHECK(bad == 0);
    bool direct = len >= XC_DIRECT_MIN;
    XC_CHECK_MODE_DELTA(before, after, direct ? 1 : 0, direct ? 0 : 1);
    uint64_t moved = op == ADXL_WRITE ? after.bytes_written - before.bytes_written
                                      : after.bytes_read - before.bytes_read;
    CHECK(moved == (uint64_t)(n * len));
    free(d);
}

static void run_config(const adxl_option_t *opts, size_t nopts, const char *cfg) {
    xc_pair_t p;
    if (!xc_pair_open_opts(&p, opts, nopts, opts, nopts, BUF, true, BUF)) {
        fprintf(stderr, "%s: set-up failed\n", cfg);
        REQUIRE(false);
    }
    uint64_t seed = 1;
    for (int op = ADXL_READ; op <= ADXL_WRITE; op++) {
        batch(&p, (adxl_transfer_op_t)op, 64, 320 * XC_KIB, 300 * XC_KIB, seed++, cfg);
        batch(&p, (adxl_transfer_op_t)op, 1000, 8 * XC_KIB, 5000, seed++, cfg);
        batch(&p, (adxl_transfer_op_t)op, 1, 32 * XC_MIB + 8, 32 * XC_MIB, seed++, cfg);
        batch(&p, (adxl_transfer_op_t)op, 3, XC_MIB, 7, seed++, cfg);
    }
    adxl_stats_t s = xc_stats(p.init);
    CHECK(s.links_dropped == 0);
    xc_pair_close(&p);
}

int main(void) {
    const adxl_option_t one[] = {{"TcpStreams", "1"}};
    const adxl_option_t two[] = {{"TcpStreams", "2"}, {"TcpSocketBufferKB", "64"}};
    const adxl_option_t sixteen[] = {{"adxl.TcpStreams", "16"}, {"TcpSocketBufferKB", "0"}};
    const adxl_option_t heartbeat[] = {{"HeartbeatIntervalMs", "50"}, {"PeerTimeoutMs", "5000"}};
    const adxl_option_t tcp[] = {{"Transport", "tcp"}, {"BufferPool", "2:1"}};
    run_config(one, 1, "TcpStreams=1");
    run_config(two, 2, "TcpStreams=2, TcpSocketBufferKB=64");
    run_config(sixteen, 2, "TcpStreams=16, TcpSocketBufferKB=0");
    run_config(heartbeat, 2, "HeartbeatIntervalMs=50");
    run_config(tcp, 2, "Transport=tcp, BufferPool=2:1");
    return tu_finish();
}
