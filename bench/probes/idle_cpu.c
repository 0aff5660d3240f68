/*
 * idle_cpu: CPU used by two linked, idle adxl engines.
 *
 *   idle_cpu [SECONDS [TRANSPORT]]   (default 5 seconds; TRANSPORT auto|tcp|shm)
 *
 * Starts a target and an initiator engine (default options, but for the Transport
 * option when TRANSPORT is given) in this process, links them (over tcp, adxl_connect
 * opens the link's TcpStreams connections; auto, the library's default, picks shm for
 * these two same-host engines), moves one WRITE so the link has carried traffic, then
 * sleeps SECONDS and prints the CPU time this process (every thread of both engines)
 * used meanwhile:
 *   seconds=S cpu_s=C cpu_pct=P threads=T
 * cpu_pct is percent of one core.
 */
#include <adxl/adxl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static int count_threads(void) {
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 5.0;
    if (seconds <= 0 || argc > 3) {
        fprintf(stderr, "usage: %s [SECONDS [auto|tcp|shm|ucx]]\n", argv[0]);
        return 2;
    }
    adxl_option_t transport = {"Transport", argc > 2 ? argv[2] : "auto"};
    size_t nopt = argc > 2 ? 1 : 0;
    adxl_engine_t *target = NULL, *initiator = NULL;
    if (adxl_engine_create(&target) != ADXL_SUCCESS ||
        adxl_engine_create(&initiator) != ADXL_SUCCESS ||
        adxl_initialize(target, "127.0.0.1:0", &transport, nopt) != ADXL_SUCCESS ||
        adxl_initialize(initiator, "127.0.0.1", &transport, nopt) != ADXL_SUCCESS) {
        fprintf(stderr, "idle_cpu: engine setup failed\n");
        return 1;
    }
    static char region[1 << 20];
    static char block[1 << 20];
    adxl_mem_desc_t desc = {(uintptr_t)region, sizeof(region)};
    adxl_mem_handle_t handle;
    const char *name = adxl_local_engine(target);
    adxl_status_t st = adxl_register_mem(target, &desc, ADXL_MEM_HOST, &handle);
    if (st == ADXL_SUCCESS) st = adxl_connect(initiator, name, 5000);
    adxl_transfer_op_desc_t op = {(uintptr_t)block, (uintptr_t)region, sizeof(block)};
    if (st == ADXL_SUCCESS) st = adxl_transfer_sync(initiator, name, ADXL_WRITE, &op, 1, 5000);
    if (st != ADXL_SUCCESS) {
        fprintf(stderr, "idle_cpu: %s\n", adxl_status_str(st));
        return 1;
    }
    int threads = count_threads();
    double c0 = cpu_s(), t0 = now_s();
    struct timespec nap = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&nap, &nap) != 0) {
    }
    double c1 = cpu_s(), t1 = now_s();
    printf("seconds=%.3f cpu_s=%.6f cpu_pct=%.4f threads=%d\n", t1 - t0, c1 - c0,
           100.0 * (c1 - c0) / (t1 - t0), threads);
    adxl_disconnect(initiator, name, 1000);
    adxl_deregister_mem(target, handle);
    adxl_engine_destroy(initiator);
    adxl_engine_destroy(target);
    return 0;
}
