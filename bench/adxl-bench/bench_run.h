/*
 * The initiator: connects to a target, then sweeps op x block size x batch size with
 * one or more threads, printing a table row per combination.
 */
#ifndef ADXL_BENCH_RUN_H
#define ADXL_BENCH_RUN_H

#include <stddef.h>

#include "bench_args.h"

/* Bytes of target region the sweep needs: each thread, and each in-flight slot of a
 * thread, has its own part, as large as the largest batch (page-rounded). */
size_t bench_run_region_size(const bench_args_t *args);

/*
 * Runs the sweep against the target engine named target, whose control channel is at
 * control, with local_name as this side's client-only engine name. Returns the exit code.
 */
int bench_run_initiator(const bench_args_t *args, const char *target, const char *control,
                        const char *local_name);

#endif /* ADXL_BENCH_RUN_H */
