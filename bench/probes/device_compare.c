/*
 * bench/device_compare: device memory against host memory on the same transport, in one
 * run, two processes. The target (a forked child) registers a host region and a device
 * region; the initiator moves synchronous batches of BLOCKS x BLOCK bytes from its host
 * buffer and from its device buffer, to the target's host and device regions, WRITE and
 * READ, ROUNDS times interleaved, and prints the medians with each device figure's ratio
 * to the host-to-remote-host figure of the same round. A last row is the runtime's own
 * device-to-device copy of the same batch inside one process, the ceiling of same-host
 * device traffic.
 *
 * The runtime is the one the engine finds (ADXL_CUDA_LIBRARY / ADXL_ASCEND_LIBRARY name a
 * library; ADXL_TEST_DEVICE=cuda|ascend says which this program drives), and the
 * transport the one ADXL_TRANSPORT names (auto: shm between these two processes).
 *
 * Usage: device_compare [ROUNDS [SECONDS_PER_MEASUREMENT]]
 */
#include "../tests/device_util.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BLOCK ((size_t)1 << 20)
#define BLOCKS 16
#define REGION (BLOCK * BLOCKS)
#define MAX_ROUNDS 15

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int target_main(void *arg, int to_parent, int from_parent) {
    (void)arg;
    if (!tdev_open()) return 2; /* here: a real CUDA does not survive a fork */
    adxl_engine_t *e = tu_engine("127.0.0.1:0", NULL, 0);
    void *host = NULL, *dev = tdev_alloc(REGION);
    adxl_mem_handle_t hh, dh;
    if (!e || !dev || adxl_malloc_mem(ADXL_MEM_HOST, REGION, &host) != ADXL_SUCCESS) return 3;
    memset(host, 0, REGION);
    if (adxl_register_mem(e, &(adxl_mem_desc_t){(uintptr_t)host, REGION}, ADXL_MEM_HOST, &hh) !=
            ADXL_SUCCESS ||
        adxl_register_mem(e, &(adxl_mem_desc_t){(uintptr_t)dev, REGION}, ADXL_MEM_DEVICE, &dh) !=
            ADXL_SUCCESS)
        return 4;
    tu_send_line(to_parent, "%s %lx %lx", adxl_local_engine(e), (unsigned long)(uintptr_t)host,
                 (unsigned long)(uintptr_t)dev);
    char line[32];
    tu_recv_line(from_parent, line, sizeof(line), 3600 * 1000);
    adxl_engine_destroy(e);
    adxl_free_mem(host);
    tdev_free(dev);
    return 0;
}

typedef struct {
    const char *name;
    bool local_device, remote_device;
    adxl_transfer_op_t op;
    double gbps[MAX_ROUNDS];
} case_t;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v, int n) {
    double s[MAX_ROUNDS];
    memcpy(s, v, (size_t)n * sizeof(double));
    qsort(s, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* GB/s of synchronous batches for `seconds`; 0 when a transfer failed. */
static double measure(adxl_engine_t *e, const char *name, adxl_transfer_op_t op, uint8_t *local,
                      uint8_t *remote, double seconds) {
    adxl_transfer_op_desc_t d[BLOCKS];
    for (size_t i = 0; i < BLOCKS; i++)
        d[i] = (adxl_transfer_op_desc_t){(uintptr_t)local + i * BLOCK,
                                         (uintptr_t)remote + i * BLOCK, BLOCK};
    for (int w = 0; w < 3; w++)
        if (adxl_transfer_sync(e, name, op, d, BLOCKS, 30000) != ADXL_SUCCESS) return 0;
    double start = now_s(), end = start + seconds, t = start;
    uint64_t batches = 0;
    while (t < end) {
        adxl_status_t st = adxl_transfer_sync(e, name, op, d, BLOCKS, 30000);
        if (st != ADXL_SUCCESS) {
            fprintf(stderr, "transfer: %s\n", adxl_status_str(st));
            return 0;
        }
        batches++;
        t = now_s();
    }
    return (double)batches * REGION / (t - start) / 1e9;
}

/* The runtime's own device-to-device copy of the same batch, in this process. */
static double measure_d2d(uint8_t *a, uint8_t *b, double seconds) {
    double start = now_s(), end = start + seconds, t = start;
    uint64_t batches = 0;
    bool ok = true;
    while (ok && t < end) {
        for (size_t i = 0; ok && i < BLOCKS; i++)
            ok = tdev_d2d(b + i * BLOCK, a + i * BLOCK, BLOCK);
        batches++;
        t = now_s();
    }
    return ok ? (double)batches * REGION / (t - start) / 1e9 : 0;
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 3;
    double seconds = argc > 2 ? atof(argv[2]) : 1.0;
    if (rounds < 1 || rounds > MAX_ROUNDS || seconds <= 0) {
        fprintf(stderr, "usage: device_compare [ROUNDS (1..%d) [SECONDS]]\n", MAX_ROUNDS);
        return 2;
    }
    if (!tdev_kind()) {
        fprintf(stderr, "device_compare: set ADXL_TEST_DEVICE=cuda|ascend and the library "
                        "(ADXL_CUDA_LIBRARY / ADXL_ASCEND_LIBRARY)\n");
        return 2;
    }
    tu_child_t child; /* before the runtime is initialised: a real CUDA dies in a fork */
    if (!tu_spawn(&child, target_main, NULL) || !tdev_open()) return 1;
    char line[256], name[128];
    unsigned long rhost = 0, rdev = 0;
    if (!tu_recv_line(child.from_child, line, sizeof(line), 30000) ||
        sscanf(line, "%127s %lx %lx", name, &rhost, &rdev) != 3) {
        fprintf(stderr, "device_compare: the target did not start\n");
        return 1;
    }
    adxl_engine_t *e = tu_engine("127.0.0.1:0", NULL, 0);
    uint8_t *host = NULL, *dev = tdev_alloc(REGION), *dev2 = tdev_alloc(REGION);
    adxl_mem_handle_t hh, dh;
    if (!e || !dev || !dev2 || adxl_malloc_mem(ADXL_MEM_HOST, REGION, (void **)&host) ||
        adxl_register_mem(e, &(adxl_mem_desc_t){(uintptr_t)host, REGION}, ADXL_MEM_HOST, &hh) ||
        adxl_register_mem(e, &(adxl_mem_desc_t){(uintptr_t)dev, REGION}, ADXL_MEM_DEVICE, &dh) ||
        adxl_connect(e, name, 10000) != ADXL_SUCCESS) {
        fprintf(stderr, "device_compare: initiator set-up failed\n");
        return 1;
    }
    memset(host, 1, REGION);
    const char *transport = getenv("ADXL_TRANSPORT");
    case_t cases[] = {
        {"host   -> remote host   WRITE", false, false, ADXL_WRITE, {0}},
        {"device -> remote host   WRITE", true, false, ADXL_WRITE, {0}},
        {"host   -> remote device WRITE", false, true, ADXL_WRITE, {0}},
        {"device -> remote device WRITE", true, true, ADXL_WRITE, {0}},
        {"host   <- remote host   READ ", false, false, ADXL_READ, {0}},
        {"device <- remote host   READ ", true, false, ADXL_READ, {0}},
        {"host   <- remote device READ ", false, true, ADXL_READ, {0}},
        {"device <- remote device READ ", true, true, ADXL_READ, {0}},
    };
    const int ncases = sizeof(cases) / sizeof(cases[0]);
    double d2d[MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) {
        for (int c = 0; c < ncases; c++)
            cases[c].gbps[r] = measure(e, name, cases[c].op, cases[c].local_device ? dev : host,
                                       (uint8_t *)(cases[c].remote_device ? rdev : rhost), seconds);
        d2d[r] = measure_d2d(dev, dev2, seconds);
    }
    printf("device memory against host memory: %s runtime, transport %s, %d x %zu KiB "
           "synchronous batches, median of %d rounds of %.1f s\n",
           tdev.cuda ? "cuda" : "ascend", transport && *transport ? transport : "auto", BLOCKS,
           BLOCK / 1024, rounds, seconds);
    printf("%-32s %10s %22s\n", "case", "GB/s", "x host->host (same op)");
    for (int c = 0; c < ncases; c++) {
        const case_t *base = &cases[c < 4 ? 0 : 4];
        double ratios[MAX_ROUNDS];
        for (int r = 0; r < rounds; r++)
            ratios[r] = base->gbps[r] > 0 ? cases[c].gbps[r] / base->gbps[r] : 0;
        printf("%-32s %10.2f %22.2f\n", cases[c].name, median(cases[c].gbps, rounds),
               median(ratios, rounds));
    }
    printf("%-32s %10.2f %22s\n", "runtime device->device copy", median(d2d, rounds), "-");
    adxl_engine_destroy(e);
    tu_send_line(child.to_child, "exit");
    tu_wait_child(&child, 10000);
    adxl_free_mem(host);
    tdev_free(dev);
    tdev_free(dev2);
    return 0;
}
