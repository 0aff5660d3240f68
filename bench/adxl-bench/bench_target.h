/*
 * The target role: an engine that listens, registers one region and serves it, plus the
 * control channel (bench_control.h) through which initiators learn about the region and
 * have it filled or checked.
 */
#ifndef ADXL_BENCH_TARGET_H
#define ADXL_BENCH_TARGET_H

#include "bench_args.h"

/* Runs until SIGINT/SIGTERM, a QUIT request, or (with --exit-on-stdin-eof) stdin
 * closing. Returns the process exit code. */
int bench_target_main(const bench_args_t *args);

#endif /* ADXL_BENCH_TARGET_H */
