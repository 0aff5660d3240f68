/*
 * python_descs_c: the C side of bench/probes/python_descs.py.
 *
 *   python_descs_c SECONDS N [N ...]
 *   python_descs_c SECONDS async COUNT
 *
 * Two engines in this process linked over shm (Transport=shm); for each N, N blocks of
 * 64 bytes 4 KiB apart in mmap memory, written with adxl_transfer_sync from a descriptor
 * array built once. Calibrates a repetition count on about a tenth of SECONDS, then times
 * that many back-to-back batches (SECONDS in all) and prints, per N:
 *   descs=N batches=B ns_per_batch=T
 * With async: COUNT requests of one 64-byte WRITE each, posted with adxl_transfer_async
 * (user data: the request's number), then polled with adxl_get_transfer_statuses (256 at
 * a time, waiting ones skipped) until all have finished, over and over for SECONDS:
 *   async requests=COUNT rounds=R ns_per_request=T
 * bench/probes/python_descs.py sets up the very same batches from Python and compares.
 */
#include <adxl/adxl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

enum { BLOCK = 64, STRIDE = 4096 };

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int time_batches(adxl_engine_t *initiator, const char *name,
                        const adxl_transfer_op_desc_t *descs, size_t n, long reps,
                        double *elapsed) {
    double t0 = now_s();
    for (long r = 0; r < reps; r++) {
        adxl_status_t st = adxl_transfer_sync(initiator, name, ADXL_WRITE, descs, n, 5000);
        if (st != ADXL_SUCCESS) {
            fprintf(stderr, "python_descs_c: transfer_sync: %s\n", adxl_status_str(st));
            return -1;
        }
    }
    *elapsed = now_s() - t0;
    return 0;
}

static int measure(adxl_engine_t *target, adxl_engine_t *initiator, size_t n, double seconds) {
    size_t bytes = n * STRIDE;
    char *src = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *dst = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    adxl_transfer_op_desc_t *descs = calloc(n, sizeof(*descs));
    if (src == MAP_FAILED || dst == MAP_FAILED || !descs) {
        fprintf(stderr, "python_descs_c: out of memory\n");
        return -1;
    }
    for (size_t i = 0; i < bytes; i++)
        src[i] = (char)(i * 7 + 1);
    adxl_mem_desc_t region = {(uintptr_t)dst, bytes};
    adxl_mem_handle_t handle;
    const char *name = adxl_local_engine(target);
    if (adxl_register_mem(target, &region, ADXL_MEM_HOST, &handle) != ADXL_SUCCESS) {
        fprintf(stderr, "python_descs_c: register_mem failed\n");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        descs[i] = (adxl_transfer_op_desc_t){(uintptr_t)(src + i * STRIDE),
                                             (uintptr_t)(dst + i * STRIDE), BLOCK};
    double elapsed = 0;
    long reps = 1;
    int rc = time_batches(initiator, name, descs, n, 1, &elapsed); /* warm: maps, links */
    while (rc == 0 && elapsed < seconds / 10) {
        reps *= 2;
        rc = time_batches(initiator, name, descs, n, reps, &elapsed);
    }
    if (rc == 0) {
        reps = (long)((double)reps * seconds / elapsed) + 1;
        rc = time_batches(initiator, name, descs, n, reps, &elapsed);
    }
    if (rc == 0 && (dst[0] != src[0] ||
                    dst[(n - 1) * STRIDE + BLOCK - 1] != src[(n - 1) * STRIDE + BLOCK - 1])) {
        fprintf(stderr, "python_descs_c: the bytes did not arrive\n");
        rc = -1;
    }
    if (rc == 0)
        printf("descs=%zu batches=%ld ns_per_batch=%.1f\n", n, reps, elapsed * 1e9 / (double)reps);
    adxl_deregister_mem(target, handle);
    free(descs);
    munmap(src, bytes);
    munmap(dst, bytes);
    return rc;
}

static int post_and_poll(adxl_engine_t *initiator, const char *name,
                         const adxl_transfer_op_desc_t *desc, long count) {
    adxl_transfer_result_t results[256];
    for (long i = 0; i < count; i++) {
        adxl_transfer_args_t args = {5000, (const void *)(uintptr_t)(i + 1)};
        adxl_transfer_req_t req;
        if (adxl_transfer_async(initiator, name, ADXL_WRITE, desc, 1, &args, &req) != ADXL_SUCCESS)
            return -1;
    }
    for (long done = 0; done < count;) {
        size_t n = 0;
        if (adxl_get_transfer_statuses(initiator, results, 256, ADXL_STATUS_SKIP_WAITING, &n) !=
            ADXL_SUCCESS)
            return -1;
        for (size_t i = 0; i < n; i++)
            if (results[i].status != ADXL_TRANSFER_COMPLETED) return -1;
        done += (long)n;
    }
    return 0;
}

static int measure_async(adxl_engine_t *target, adxl_engine_t *initiator, long count,
                         double seconds) {
    static char src[STRIDE], dst[STRIDE];
    adxl_mem_desc_t region = {(uintptr_t)dst, sizeof(dst)};
    adxl_mem_handle_t handle;
    const char *name = adxl_local_engine(target);
    if (adxl_register_mem(target, &region, ADXL_MEM_HOST, &handle) != ADXL_SUCCESS) return -1;
    adxl_transfer_op_desc_t desc = {(uintptr_t)src, (uintptr_t)dst, BLOCK};
    int rc = post_and_poll(initiator, name, &desc, count); /* warm */
    long rounds = 0;
    double t0 = now_s(), elapsed = 0;
    while (rc == 0 && elapsed < seconds) {
        rc = post_and_poll(initiator, name, &desc, count);
        rounds++;
        elapsed = now_s() - t0;
    }
    if (rc == 0)
        printf("async requests=%ld rounds=%ld ns_per_request=%.1f\n", count, rounds,
               elapsed * 1e9 / (double)(rounds * count));
    else
        fprintf(stderr, "python_descs_c: an async request failed\n");
    adxl_deregister_mem(target, handle);
    return rc;
}

int main(int argc, char **argv) {
    double seconds = argc > 2 ? atof(argv[1]) : 0;
    if (seconds <= 0) {
        fprintf(stderr, "usage: %s SECONDS N [N ...] | SECONDS async COUNT\n", argv[0]);
        return 2;
    }
    adxl_option_t shm = {"Transport", "shm"};
    adxl_engine_t *target = NULL, *initiator = NULL;
    if (adxl_engine_create(&target) != ADXL_SUCCESS ||
        adxl_engine_create(&initiator) != ADXL_SUCCESS ||
        adxl_initialize(target, "127.0.0.1:0", &shm, 1) != ADXL_SUCCESS ||
        adxl_initialize(initiator, "127.0.0.1", &shm, 1) != ADXL_SUCCESS ||
        adxl_connect(initiator, adxl_local_engine(target), 5000) != ADXL_SUCCESS) {
        fprintf(stderr, "python_descs_c: engine setup failed\n");
        return 1;
    }
    int rc = 0;
    if (strcmp(argv[2], "async") == 0) {
        long count = argc > 3 ? atol(argv[3]) : 0;
        rc = count > 0 ? measure_async(target, initiator, count, seconds) : -1;
    }
    for (int a = 2; a < argc && rc == 0 && strcmp(argv[2], "async") != 0; a++) {
        long n = atol(argv[a]);
        rc = n > 0 ? measure(target, initiator, (size_t)n, seconds) : -1;
    }
    adxl_engine_destroy(initiator);
    adxl_engine_destroy(target);
    return rc == 0 ? 0 : 1;
}
