/*
 * region_scale: how registration, connecting and transfers behave as the number of
 * registered regions grows (docs/PERFORMANCE.md, "A million regions").
 *
 *   region_scale [-t tcp|shm|ucx] [-n REGIONS] [-p PEERS] [-w WINDOW] [-C PERF_CONTROL]
 *
 * One target engine and PEERS initiator engines, in this process, linked over the given
 * transport before anything is registered. The target registers REGIONS regions of 4 KiB
 * (one untouched mapping cut into pieces) in random order, then deregisters them in
 * another random order. Every call is timed. The time per call at WINDOW regions is the
 * mean over SMALL_ROUNDS rounds of registering WINDOW of them and deregistering those
 * again, before the fill; at REGIONS regions it is the mean of the last SMALL_ROUNDS x
 * WINDOW registrations of the fill and of the first as many deregistrations (the registry
 * then holds at least 99 % of REGIONS at the default sizes); each round's registrations
 * and deregistrations start with the peers caught up, as the drain does (the fill's last
 * calls are timed in its stride). As many calls on each side,
 * and enough of them that a stall of the 2-core machine for a few milliseconds moves a
 * mean by little. With every region
 * registered, a fresh engine connects (timed) and writes 8 bytes into the first- and the
 * last-registered region (mean of 200 each, and which byte path carried them), then
 * leaves; 3 s later, for the target to finish with its link, deregistration starts.
 * Prints one line of key=value pairs; exits 1 when a call failed, a link dropped or a
 * peer's view missed regions. Over UCX peers learn of a region only when a transfer
 * first reaches it (they ask for its key), so there they are expected to mirror none.
 *
 * -C names perf's control FIFO (perf record --control=fifo:PERF_CONTROL -D -1 ...): the
 * probe writes "enable" to it just before the newcomer connects and "disable" just after,
 * so that the profile holds the connect and nothing else.
 */
#include "region_bench.h"

#include <adxl/adxl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define REGION_BYTES 4096u
#define MAX_PEERS 16
#define WRITES 200
#define SMALL_ROUNDS 10

/* Waits until the engine mirrors want regions of its peers; false after 600 s. */
static bool mirrors(adxl_engine_t *e, uint64_t want) {
    uint64_t until = now_ns() + 600ull * 1000000000u;
    while (stats_of(e).regions_mirrored != want) {
        if (now_ns() > until) return false;
        struct timespec nap = {0, 1000000};
        nanosleep(&nap, NULL);
    }
    return true;
}

/* Sends perf a control command (enable, disable) and waits a moment for it to act. */
static void perf_control(FILE *fifo, const char *cmd) {
    if (!fifo) return;
    fprintf(fifo, "%s\n", cmd);
    fflush(fifo);
    struct timespec settle = {0, 50000000};
    nanosleep(&settle, NULL);
}

static const char *path_of(const adxl_stats_t *before, const adxl_stats_t *after) {
    if (after->bytes_mapped > before->bytes_mapped) return "mapped";
    if (after->bytes_cma > before->bytes_cma) return "cma";
    if (after->bytes_staged > before->bytes_staged) return "staged";
    if (after->bytes_ucx > before->bytes_ucx) return "ucx";
    return "tcp";
}

/* Mean microseconds of WRITES 8-byte writes into dst; *path: how they went. */
static double write_us(adxl_engine_t *e, const char *target, uint8_t *dst, const char **path,
                       bool *ok) {
    uint8_t src[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    adxl_transfer_op_desc_t d = {(uintptr_t)src, (uintptr_t)dst, sizeof(src)};
    adxl_stats_t before = stats_of(e);
    uint64_t t0 = now_ns();
    for (int i = 0; i < WRITES; i++) {
        src[0] = (uint8_t)i;
        if (adxl_transfer_sync(e, target, ADXL_WRITE, &d, 1, 10000) != ADXL_SUCCESS ||
            memcmp(dst, src, sizeof(src)) != 0)
            *ok = false;
    }
    double us = (double)(now_ns() - t0) / 1e3 / WRITES;
    adxl_stats_t after = stats_of(e);
    *path = path_of(&before, &after);
    return us;
}

/* Registers the regions order[from..to) and returns the nanoseconds the calls took. */
static uint64_t register_range(adxl_engine_t *e, uint8_t *mem, const size_t *order, size_t from,
                               size_t to, adxl_mem_handle_t *handles, bool *ok) {
    uint64_t total = 0;
    for (size_t i = from; i < to; i++) {
        adxl_mem_desc_t d = {(uintptr_t)(mem + order[i] * REGION_BYTES), REGION_BYTES};
        uint64_t t0 = now_ns();
        *ok &= adxl_register_mem(e, &d, ADXL_MEM_HOST, &handles[order[i]]) == ADXL_SUCCESS;
        total += now_ns() - t0;
    }
    return total;
}

/* Deregisters the regions order[from..to) and returns the nanoseconds the calls took. */
static uint64_t deregister_range(adxl_engine_t *e, const size_t *order, size_t from, size_t to,
                                 adxl_mem_handle_t *handles, bool *ok) {
    uint64_t total = 0;
    for (size_t i = from; i < to; i++) {
        uint64_t t0 = now_ns();
        *ok &= adxl_deregister_mem(e, handles[order[i]]) == ADXL_SUCCESS;
        total += now_ns() - t0;
    }
    return total;
}

int main(int argc, char **argv) {
    const char *transport = "tcp";
    size_t n = 1000000, window = 1000;
    int npeers = 4;
    FILE *perf = NULL;
    for (int opt; (opt = getopt(argc, argv, "t:n:p:w:C:")) != -1;) {
        if (opt == 't')
            transport = optarg;
        else if (opt == 'n')
            n = strtoull(optarg, NULL, 10);
        else if (opt == 'p')
            npeers = atoi(optarg);
        else if (opt == 'w')
            window = strtoull(optarg, NULL, 10);
        else if (opt == 'C' && (perf = fopen(optarg, "w")) != NULL)
            continue;
        else
            return 2;
    }
    size_t large = window * SMALL_ROUNDS; /* calls timed at REGIONS regions, each way */
    if (window == 0 || n < 2 * large || npeers < 0 || npeers > MAX_PEERS) {
        fprintf(stderr, "need REGIONS >= 2 * %d * WINDOW > 0 and 0 <= PEERS <= %d\n", SMALL_ROUNDS,
                MAX_PEERS);
        return 2;
    }
    uint8_t *mem = mmap(NULL, n * REGION_BYTES, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    size_t *order = malloc(n * sizeof(*order));
    adxl_mem_handle_t *handles = calloc(n, sizeof(*handles));
    adxl_engine_t *target = engine_new(transport), *peers[MAX_PEERS];
    if (mem == MAP_FAILED || !order || !handles || !target) return 1;
    char tname[128];
    snprintf(tname, sizeof(tname), "%s", adxl_local_engine(target));
    bool ok = true;
    for (int p = 0; p < npeers; p++) {
        peers[p] = engine_new(transport);
        ok &= peers[p] && adxl_connect(peers[p], tname, 10000) == ADXL_SUCCESS;
    }
    if (!ok) return 1;

    for (size_t i = 0; i < n; i++)
        order[i] = i;
    uint64_t reg_small = 0, reg_large = 0, dereg_small = 0, dereg_large = 0;
    bool tells = strcmp(transport, "ucx") != 0; /* whether peers mirror what is registered */
    /* Each phase starts with the peers caught up, as the timed phases at REGIONS do. */
    for (int round = 0; round < SMALL_ROUNDS; round++) {
        shuffle(order, n);
        reg_small += register_range(target, mem, order, 0, window, handles, &ok);
        for (int p = 0; p < npeers; p++)
            ok &= mirrors(peers[p], tells ? window : 0);
        shuffle(order, window);
        dereg_small += deregister_range(target, order, 0, window, handles, &ok);
        for (int p = 0; p < npeers; p++)
            ok &= mirrors(peers[p], 0);
    }
    size_t told = tells ? n : 0; /* what each peer mirrors */

    shuffle(order, n);
    uint64_t start = now_ns();
    register_range(target, mem, order, 0, n - large, handles, &ok);
    reg_large = register_range(target, mem, order, n - large, n, handles, &ok);
    double reg_s = (double)(now_ns() - start) / 1e9;
    for (int p = 0; p < npeers; p++)
        ok &= mirrors(peers[p], told);
    double settle_s = (double)(now_ns() - start) / 1e9;

    /* A newcomer, and 8-byte writes into the first and last registered regions. */
    adxl_engine_t *late = engine_new(transport);
    if (!late) return 1;
    perf_control(perf, "enable");
    uint64_t t0 = now_ns();
    ok &= adxl_connect(late, tname, 30000) == ADXL_SUCCESS;
    double connect_ms = (double)(now_ns() - t0) / 1e6;
    perf_control(perf, "disable");
    ok &= stats_of(late).regions_mirrored == told;
    const char *first_path = "", *last_path = "";
    write_us(late, tname, mem + order[n / 2] * REGION_BYTES, &first_path, &ok); /* warm-up */
    double first_us = write_us(late, tname, mem + order[0] * REGION_BYTES, &first_path, &ok);
    double last_us = write_us(late, tname, mem + order[n - 1] * REGION_BYTES, &last_path, &ok);
    adxl_engine_destroy(late);
    /* The target drops its side of that link on its own thread (revoking, and freeing,
     * everything it had published to it), which holds off deregistrations meanwhile:
     * give it time, so that the first deregistrations below measure deregistration. */
    sleep(3);

    shuffle(order, n);
    start = now_ns();
    dereg_large = deregister_range(target, order, 0, large, handles, &ok);
    deregister_range(target, order, large, n, handles, &ok);
    double dereg_s = (double)(now_ns() - start) / 1e9;
    for (int p = 0; p < npeers; p++)
        ok &= mirrors(peers[p], 0);

    uint64_t dropped = stats_of(target).links_dropped;
    for (int p = 0; p < npeers; p++) {
        dropped += stats_of(peers[p]).links_dropped;
        ok &= adxl_send_notify(peers[p], tname, "probe", "alive", 10000) == ADXL_SUCCESS;
    }
    double small_calls = (double)window * SMALL_ROUNDS * 1e3, large_calls = (double)large * 1e3;
    printf("transport=%s regions=%zu peers=%d window=%zu "
           "reg_us_small=%.2f reg_us_large=%.2f reg_ratio=%.2f "
           "dereg_us_large=%.2f dereg_us_small=%.2f dereg_ratio=%.2f "
           "register_all_s=%.2f peers_settled_s=%.2f deregister_all_s=%.2f connect_ms=%.1f "
           "write_first_us=%.2f path_first=%s write_last_us=%.2f path_last=%s "
           "links_dropped=%" PRIu64 " ok=%d\n",
           transport, n, npeers, window, reg_small / small_calls, reg_large / large_calls,
           (reg_large / large_calls) / (reg_small / small_calls), dereg_large / large_calls,
           dereg_small / small_calls, (dereg_large / large_calls) / (dereg_small / small_calls),
           reg_s, settle_s, dereg_s, connect_ms, first_us, first_path, last_us, last_path, dropped,
           ok);
    for (int p = 0; p < npeers; p++)
        adxl_engine_destroy(peers[p]);
    adxl_engine_destroy(target);
    munmap(mem, n * REGION_BYTES);
    if (perf) fclose(perf);
    free(order);
    free(handles);
    return ok && dropped == 0 ? 0 : 1;
}
