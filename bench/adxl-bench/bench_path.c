/* Which transport and byte path carried a row; see bench_path.h. */
#include "bench_path.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    unsigned bit;
    const char *name;
    const char *description;
} way_t;

static const way_t ways_known[] = {
    {BENCH_PATH_MAPPED, "mapped",
     "shm, path mapped: memcpy through a mapping of the target's memory"},
    {BENCH_PATH_CMA, "cma", "shm, path cma: process_vm_readv/writev into the target's memory"},
    {BENCH_PATH_STAGED, "staged", "shm, path staging: a ring the target copies through"},
    {BENCH_PATH_UCX, "ucx", "ucx: one-sided UCP put/get"},
    {BENCH_PATH_DEVICE_MAPPED, "device-mapped",
     "shm, device mapped: the device runtime copies straight into or out of the target's "
     "memory mapped here"},
    {BENCH_PATH_TCP, "tcp", "tcp: readv/writev between sockets and registered memory"},
    {BENCH_PATH_DEVICE_STAGED, "device-staged",
     "device memory staged through host buffers by the runtime's copies"},
};

unsigned bench_path_between(const adxl_stats_t *before, const adxl_stats_t *after) {
    uint64_t moved =
        (after->bytes_written - before->bytes_written) + (after->bytes_read - before->bytes_read);
    uint64_t mapped = after->bytes_mapped - before->bytes_mapped;
    uint64_t cma = after->bytes_cma - before->bytes_cma;
    uint64_t staged = after->bytes_staged - before->bytes_staged;
    uint64_t ucx = after->bytes_ucx - before->bytes_ucx;
    uint64_t device_mapped = after->bytes_device_mapped - before->bytes_device_mapped;
    uint64_t device_staged = after->bytes_device_staged - before->bytes_device_staged;
    unsigned ways = 0;

    if (mapped != 0) ways |= BENCH_PATH_MAPPED;
    if (cma != 0) ways |= BENCH_PATH_CMA;
    if (staged != 0) ways |= BENCH_PATH_STAGED;
    if (ucx != 0) ways |= BENCH_PATH_UCX;
    if (device_mapped != 0) ways |= BENCH_PATH_DEVICE_MAPPED;
    if (device_staged != 0) ways |= BENCH_PATH_DEVICE_STAGED;
    /* TCP keeps no counter of its own: it carried whatever the others did not. Device
     * staging is not a way over: its bytes also went one of the others. */
    if (moved > mapped + cma + staged + ucx + device_mapped) ways |= BENCH_PATH_TCP;
    return ways;
}

static void join(unsigned ways, bool long_form, const char *sep, char *out, size_t out_len) {
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < sizeof(ways_known) / sizeof(ways_known[0]); i++) {
        const way_t *w = &ways_known[i];
        if ((ways & w->bit) == 0 || used >= out_len) continue;
        used += (size_t)snprintf(out + used, out_len - used, "%s%s", used ? sep : "",
                                 long_form ? w->description : w->name);
    }
    if (out[0] == '\0') snprintf(out, out_len, "%s", long_form ? "nothing moved" : "-");
}

void bench_path_describe(unsigned ways, char *out, size_t out_len) {
    join(ways, true, " + ", out, out_len);
}

void bench_path_short(unsigned ways, char *out, size_t out_len) {
    join(ways, false, "+", out, out_len);
}
