/* The results of a sweep: one table per op on stdout, and optionally a JSON file. */
#ifndef ADXL_BENCH_REPORT_H
#define ADXL_BENCH_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <adxl/adxl.h>

#include "bench_args.h"
#include "bench_stats.h"

/* One measured row: a (op, block, batch) combination over all initiator threads. */
typedef struct {
    adxl_transfer_op_t op;
    size_t block;
    size_t batch;
    uint64_t batches; /* timed batches, all threads together */
    uint64_t bytes;   /* timed payload bytes */
    double seconds;   /* from the first thread's start to the last thread's end */
    double gbps;      /* 1e9 bytes per second */
    double ops_per_s; /* descriptors per second */
    bench_latency_t lat;
    bool have_modes;   /* adxl_get_stats worked */
    uint64_t direct;   /* batches adxl sent zero-copy during the row (all phases) */
    uint64_t buffered; /* ... and through its transit pool */
    unsigned ways;     /* BENCH_PATH_* bits: what carried the row's bytes (bench_path.h) */
} bench_row_t;

const char *bench_op_name(adxl_transfer_op_t op);

/* "direct", "buffered", "mixed" or "-". */
const char *bench_row_mode(const bench_row_t *row);

/* "host" or "device": the kind of memory a table moved. */
const char *bench_memory_kind_name(adxl_mem_type_t kind);

/* What every row of the tables is and what its columns mean; printed once, first. */
void bench_report_intro(FILE *out, const bench_args_t *args);

/* A table's header: the op, threads, the memory on each side (target_device: the target's
 * region is device memory), and the transport and path that carried its first row (ways:
 * BENCH_PATH_* bits). */
void bench_report_table_header(FILE *out, adxl_transfer_op_t op, const bench_args_t *args,
                               bool target_device, unsigned ways);

/* A measured row; one whose bytes went another way than the table's header says
 * (table_ways) names its own in the mode column. */
void bench_report_table_row(FILE *out, const bench_row_t *row, unsigned table_ways);

/* A row left out, with the reason in words. */
void bench_report_skipped_row(FILE *out, size_t block, size_t batch, const bench_args_t *args);

/* Opens the --json file before the sweep, so that a bad path fails before minutes of
 * measuring rather than after. NULL after printing why. */
FILE *bench_report_json_open(const char *path);

/* Writes every row to f and closes it; complete says whether the sweep ran to its end.
 * 0, or -1 after printing why. */
int bench_report_json(FILE *f, const char *path, const bench_args_t *args, const char *target,
                      bool target_device, const bench_row_t *rows, size_t num_rows, bool complete);

#endif /* ADXL_BENCH_REPORT_H */
