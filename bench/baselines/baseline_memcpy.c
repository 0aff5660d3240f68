/*
 * baseline_memcpy: the single-thread memcpy ceiling for bench/compare.
 *
 *   baseline_memcpy [-d SECONDS] BLOCK:BATCH ...
 *
 * For each BLOCK:BATCH pair it copies batches of BATCH blocks of BLOCK bytes from one
 * buffer to another (the same bytes per batch as an adxl batch of that shape) for
 * SECONDS, and prints one line:  block=B batch=N gbps=X  (GB/s = 1e9 bytes/s).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    double duration = 0.3;
    int i = 1;
    if (argc > 2 && strcmp(argv[1], "-d") == 0) {
        duration = atof(argv[2]);
        i = 3;
    }
    if (i >= argc || duration <= 0) {
        fprintf(stderr, "usage: %s [-d SECONDS] BLOCK:BATCH ...\n", argv[0]);
        return 2;
    }
    for (; i < argc; i++) {
        unsigned long long block = 0, batch = 0;
        if (sscanf(argv[i], "%llu:%llu", &block, &batch) != 2 || block == 0 || batch == 0) {
            fprintf(stderr, "bad pair '%s'\n", argv[i]);
            return 2;
        }
        size_t bytes = (size_t)(block * batch);
        char *src = aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
        char *dst = aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
        if (!src || !dst) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
        memset(src, 0x5a, bytes);
        memset(dst, 0, bytes);
        for (size_t k = 0; k < batch; k++) /* warm-up */
            memcpy(dst + k * block, src + k * block, block);
        uint64_t batches = 0;
        double t0 = now_s(), t;
        do {
            for (size_t k = 0; k < batch; k++)
                memcpy(dst + k * block, src + k * block, block);
            /* keep the copies from being optimised away */
            __asm__ __volatile__("" : : "r"(dst) : "memory");
            batches++;
            t = now_s();
        } while (t - t0 < duration);
        printf("block=%llu batch=%llu gbps=%.4f\n", block, batch,
               (double)batches * (double)bytes / (t - t0) / 1e9);
        fflush(stdout);
        free(src);
        free(dst);
    }
    return 0;
}
