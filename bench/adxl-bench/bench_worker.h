/*
 * One initiator thread: for each row it verifies, warms up and then times batches on its
 * own part of the target's region, through adxl_transfer_sync or, with --async, a window
 * of adxl_transfer_async requests.
 *
 * Layout: a thread has max(1, async) slots; slot s of thread t uses local buffer bytes
 * [s * stride, (s + 1) * stride) and target region bytes starting at
 * (t * slots + s) * stride, so no two transfers in flight ever overlap on either side.
 * A batch's descriptors are consecutive blocks of both.
 */
#ifndef ADXL_BENCH_WORKER_H
#define ADXL_BENCH_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <adxl/adxl.h>

#include "bench_args.h"
#include "bench_buffer.h"
#include "bench_stats.h"

typedef struct {
    adxl_transfer_op_t op;
    size_t block;
    size_t batch;
    uint64_t index; /* row number: keys the verification seeds */
} bench_row_spec_t;

/* What the threads of a sweep share. Set up by the sweep; during a row only stop
 * changes. */
typedef struct {
    const bench_args_t *args;
    adxl_engine_t *engine;
    const char *target;
    uintptr_t remote_base; /* the target's region */
    size_t stride;         /* bytes per slot, on both sides */
    unsigned slots;        /* per thread: max(1, async depth) */
    bench_row_spec_t row;
    /* The start gate: the timed phase begins once `expected` threads have arrived, so
     * that all threads time the same stretch. A barrier would do, but its count cannot
     * be lowered when a thread fails to start. */
    pthread_mutex_t gate_lock;
    pthread_cond_t gate_cond;
    unsigned arrived;
    unsigned expected;
    atomic_bool stop; /* a thread failed: the others wind down */
} bench_shared_t;

/* Creates / destroys the start gate; 0 or -1. */
int bench_gate_init(bench_shared_t *shared);
void bench_gate_destroy(bench_shared_t *shared);
/* Before a row's threads start: the gate opens when `threads` have arrived. */
void bench_gate_reset(bench_shared_t *shared, unsigned threads);
/* When only `threads` could be started after all: opens the gate for those. */
void bench_gate_lower(bench_shared_t *shared, unsigned threads);

typedef struct {
    bench_shared_t *shared;
    unsigned index;
    pthread_t thread_id;
    bench_buffer_t buffer;
    uint8_t *scratch;               /* device buffers: a slot's bytes on the host side of
                                     * the runtime's copies (NULL for host buffers) */
    uint64_t remote_off;            /* this thread's first byte in the target's region */
    int ctl_fd;                     /* this thread's own control connection */
    adxl_transfer_op_desc_t *descs; /* slots x largest batch */
    bench_samples_t samples;        /* timed batch latencies of the current row */
    uint64_t batches;               /* timed batches of the current row */
    uint64_t t_start, t_end;        /* the current row's timed phase */
    uint64_t seq;                   /* batches of the row so far, all phases */
    bool failed;
} bench_worker_t;

/* Allocates the thread's buffers and descriptors and opens its control connection.
 * 0, or -1 (printed). */
int bench_worker_init(bench_worker_t *w, bench_shared_t *shared, unsigned index,
                      const char *control, size_t max_batch);

/* Thread body: runs shared->row. Sets w->failed (after printing why) on any failure. */
void *bench_worker_row(void *worker);

/* Releases everything but the buffer memory, which may only be freed (bench_buffer_free)
 * once the engine is gone. 0, or -1 when deregistering failed (printed). */
int bench_worker_fini(bench_worker_t *w);

#endif /* ADXL_BENCH_WORKER_H */
