/*
 * Which transport and byte path carried a row: read from adxl_get_stats before and after
 * it, so that the table says what was measured, not what was asked for (Transport=auto
 * picks shm for a same-host target and tcp or ucx for another host).
 */
#ifndef ADXL_BENCH_PATH_H
#define ADXL_BENCH_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <adxl/adxl.h>

/* The ways a byte can go; a row that used several has several bits. */
enum {
    BENCH_PATH_TCP = 1u << 0,
    BENCH_PATH_MAPPED = 1u << 1,
    BENCH_PATH_CMA = 1u << 2,
    BENCH_PATH_STAGED = 1u << 3,
    BENCH_PATH_UCX = 1u << 4,
    /* Device memory on either side: the runtime copied straight into or out of the peer's
     * memory mapped here (IPC for its device memory). */
    BENCH_PATH_DEVICE_MAPPED = 1u << 5,
    /* This side's device memory crossed host staging buffers on its way to or from the
     * wire (on top of whichever of the above carried it). */
    BENCH_PATH_DEVICE_STAGED = 1u << 6,
};

/* The ways that carried any byte between the two snapshots of one engine's counters. */
unsigned bench_path_between(const adxl_stats_t *before, const adxl_stats_t *after);

/* "shm, path mapped: memcpy through a mapping of the target's memory", or several such
 * joined by " + "; "nothing moved" for 0. */
void bench_path_describe(unsigned ways, char *out, size_t out_len);

/* The short form for a table cell: "mapped", "tcp", "cma+staged", ... */
void bench_path_short(unsigned ways, char *out, size_t out_len);

#endif /* ADXL_BENCH_PATH_H */
