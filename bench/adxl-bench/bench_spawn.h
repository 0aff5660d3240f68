/*
 * The one-host run's second process: this same executable re-executed as
 * "--role target --listen 127.0.0.1:0 --exit-on-stdin-eof", whose READY line (see
 * bench_target.c) is read back from a pipe.
 */
#ifndef ADXL_BENCH_SPAWN_H
#define ADXL_BENCH_SPAWN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bench_args.h"

typedef struct {
    pid_t pid;
    int stdin_fd; /* closing it tells the target to exit */
    char engine[BENCH_NAME_LEN];
    char control[BENCH_NAME_LEN];
    uintptr_t addr;
    size_t len;
} bench_child_t;

/* Starts the target with a region of region_size bytes and waits for its READY line.
 * 0, or -1 after printing why (the child is then gone). */
int bench_spawn_target(const bench_args_t *args, size_t region_size, bench_child_t *child);

/* Tells the target to exit and reaps it. 0 when it exited cleanly, -1 otherwise. */
int bench_child_stop(bench_child_t *child);

#endif /* ADXL_BENCH_SPAWN_H */
