/* The initiator's sweep; see bench_run.h. */
#include "bench_run.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <adxl/adxl.h>

#include "bench_control.h"
#include "bench_device.h"
#include "bench_engine.h"
#include "bench_net.h"
#include "bench_path.h"
#include "bench_report.h"
#include "bench_util.h"
#include "bench_worker.h"

#define CONNECT_TIMEOUT_MS 10000
#define DISCONNECT_TIMEOUT_MS 5000
#define PAGE 4096u

/* Everything the sweep owns, so that one cleanup path releases it in the right order. */
typedef struct {
    const bench_args_t *args;
    bench_row_spec_t *plan; /* every block x batch of each op, in table order */
    bool *skip;             /* plan[i] is over --max-batch-bytes: printed, not run */
    size_t num_plan;
    size_t num_measured; /* plan entries not skipped */
    size_t max_batch;
    bench_row_t *rows;
    size_t num_rows;
    bench_shared_t shared;
    bool gate_ready;
    bench_worker_t *workers;
    unsigned num_workers; /* initialized so far */
    adxl_engine_t *engine;
    bool connected;
    int ctl_fd;
    bool target_device; /* the target's region is device memory, as INFO said */
    bool progress;      /* stderr is a terminal */
} sweep_t;

static bool row_fits(const bench_args_t *a, size_t block, size_t batch) {
    return block <= a->max_batch_bytes / batch;
}

size_t bench_run_region_size(const bench_args_t *a) {
    size_t largest = 0, slots = a->async_depth ? a->async_depth : 1;

    for (size_t i = 0; i < a->num_block_sizes; i++) {
        for (size_t j = 0; j < a->num_batch_sizes; j++) {
            size_t bytes = a->block_sizes[i] * a->batch_sizes[j];
            if (row_fits(a, a->block_sizes[i], a->batch_sizes[j]) && bytes > largest) {
                largest = bytes;
            }
        }
    }
    return (largest + PAGE - 1) / PAGE * PAGE * slots * a->threads;
}

/* Rows in the order they are printed: all WRITE rows, then all READ rows. Combinations
 * over --max-batch-bytes stay in the plan, to be printed as skipped where they belong. */
static int make_plan(sweep_t *sw) {
    const bench_args_t *a = sw->args;
    size_t most = 2 * a->num_block_sizes * a->num_batch_sizes;

    sw->plan = calloc(most, sizeof(*sw->plan));
    sw->skip = calloc(most, sizeof(*sw->skip));
    sw->rows = calloc(most, sizeof(*sw->rows));
    if (sw->plan == NULL || sw->skip == NULL || sw->rows == NULL) {
        bench_err("out of memory");
        return -1;
    }
    for (int pass = 0; pass < 2; pass++) {
        adxl_transfer_op_t op = pass == 0 ? ADXL_WRITE : ADXL_READ;
        if (op == ADXL_WRITE ? !a->op_write : !a->op_read) continue;
        for (size_t i = 0; i < a->num_block_sizes; i++) {
            for (size_t j = 0; j < a->num_batch_sizes; j++) {
                size_t block = a->block_sizes[i], batch = a->batch_sizes[j];
                bool fits = row_fits(a, block, batch);
                if (fits && batch > sw->max_batch) sw->max_batch = batch;
                sw->skip[sw->num_plan] = !fits;
                /* The index keys verification seeds: measured rows only, as before. */
                sw->plan[sw->num_plan++] = (bench_row_spec_t){op, block, batch, sw->num_measured};
                if (fits) sw->num_measured++;
            }
        }
    }
    return 0;
}

/* Asks the target about its region and checks it is the engine we will connect to and
 * large enough. */
static int query_target(sweep_t *sw, const char *target, const char *control) {
    char engine[BENCH_NAME_LEN], need_text[32], have_text[32];
    size_t len, need = bench_run_region_size(sw->args);
    uintptr_t addr;

    sw->ctl_fd = bench_net_connect(control, CONNECT_TIMEOUT_MS);
    if (sw->ctl_fd < 0) return -1;
    if (bench_ctl_info(sw->ctl_fd, engine, sizeof(engine), &addr, &len, &sw->target_device) != 0)
        return -1;
    if (strcmp(engine, target) != 0) {
        bench_err("the control channel at %s belongs to engine %s, not %s", control, engine,
                  target);
        return -1;
    }
    if (len < need) {
        bench_format_size(need, need_text, sizeof(need_text));
        bench_format_size(len, have_text, sizeof(have_text));
        bench_err("the target registered %s but this sweep needs %s (threads x slots x largest "
                  "batch): start the target with --region-size %s, or lower --threads, "
                  "--async or --max-batch-bytes",
                  have_text, need_text, need_text);
        return -1;
    }
    sw->shared.remote_base = addr;
    return 0;
}

static int open_engine(sweep_t *sw, const char *target, const char *local_name) {
    adxl_status_t st;
    char what[256];

    sw->engine = bench_engine_open(sw->args, local_name);
    if (sw->engine == NULL) return -1;
    st = adxl_connect(sw->engine, target, CONNECT_TIMEOUT_MS);
    if (st != ADXL_SUCCESS) {
        snprintf(what, sizeof(what), "adxl_connect(\"%s\")", target);
        bench_err_status(what, st);
        return -1;
    }
    sw->connected = true;
    return 0;
}

static int setup_workers(sweep_t *sw, const char *target, const char *control) {
    const bench_args_t *a = sw->args;
    bench_shared_t *sh = &sw->shared;
    size_t largest = bench_run_region_size(a) / a->threads / (a->async_depth ? a->async_depth : 1);

    sh->args = a;
    sh->engine = sw->engine;
    sh->target = target;
    sh->slots = a->async_depth ? a->async_depth : 1;
    sh->stride = largest;
    atomic_init(&sh->stop, false);
    if (bench_gate_init(sh) != 0) {
        bench_err("cannot create the start gate");
        return -1;
    }
    sw->gate_ready = true;
    sw->workers = calloc(a->threads, sizeof(*sw->workers));
    if (sw->workers == NULL) {
        bench_err("out of memory");
        return -1;
    }
    for (unsigned t = 0; t < a->threads; t++) {
        sw->num_workers = t + 1; /* so that cleanup covers a half-initialized one */
        if (bench_worker_init(&sw->workers[t], sh, t, control, sw->max_batch) != 0) return -1;
    }
    return 0;
}

static void progress_line(const sweep_t *sw, size_t i) {
    const bench_row_spec_t *p = &sw->plan[i];
    char block[32];

    if (!sw->progress) return;
    bench_format_size(p->block, block, sizeof(block));
    fprintf(stderr, "\r\033[K[%llu/%zu] %s %s x%zu ...", (unsigned long long)p->index + 1,
            sw->num_measured, bench_op_name(p->op), block, p->batch);
    fflush(stderr);
}

static void progress_clear(const sweep_t *sw) {
    if (sw->progress) fputs("\r\033[K", stderr);
}

/* Runs one row on every thread and condenses the result into row. */
static int run_row(sweep_t *sw, const bench_row_spec_t *spec, bench_row_t *row) {
    const bench_args_t *a = sw->args;
    bench_samples_t all;
    adxl_stats_t before, after;
    uint64_t start = UINT64_MAX, end = 0;
    bool stats_ok, failed = false;
    unsigned started = 0;

    sw->shared.row = *spec;
    stats_ok = adxl_get_stats(sw->engine, &before) == ADXL_SUCCESS;
    bench_gate_reset(&sw->shared, a->threads);
    for (; started < a->threads; started++) {
        bench_worker_t *w = &sw->workers[started];
        if (pthread_create(&w->thread_id, NULL, bench_worker_row, w) != 0) {
            bench_err("cannot start initiator thread %u", started);
            atomic_store(&sw->shared.stop, true);
            failed = true;
            bench_gate_lower(&sw->shared, started);
            break;
        }
    }
    for (unsigned t = 0; t < started; t++)
        pthread_join(sw->workers[t].thread_id, NULL);
    stats_ok = stats_ok && adxl_get_stats(sw->engine, &after) == ADXL_SUCCESS;

    memset(row, 0, sizeof(*row));
    row->op = spec->op;
    row->block = spec->block;
    row->batch = spec->batch;
    bench_samples_init(&all);
    for (unsigned t = 0; t < started; t++) {
        const bench_worker_t *w = &sw->workers[t];
        failed = failed || w->failed;
        if (w->t_start < start) start = w->t_start;
        if (w->t_end > end) end = w->t_end;
        row->batches += w->batches;
        if (bench_samples_append(&all, &w->samples) != 0) {
            bench_err("out of memory for latency samples");
            failed = true;
        }
    }
    if (!failed) {
        row->bytes = row->batches * spec->batch * spec->block;
        row->seconds = end > start ? (double)(end - start) / 1e9 : 0;
        if (row->seconds > 0) {
            row->gbps = (double)row->bytes / row->seconds / 1e9;
            row->ops_per_s = (double)(row->batches * spec->batch) / row->seconds;
        }
        bench_latency_compute(&all, &row->lat);
        if (stats_ok) {
            row->have_modes = true;
            row->direct = after.batches_direct - before.batches_direct;
            row->buffered = after.batches_buffered - before.batches_buffered;
            row->ways = bench_path_between(&before, &after);
        }
    }
    bench_samples_free(&all);
    return failed ? -1 : 0;
}

/* Prints plan entries [from, to) that were skipped (all are, up to a table's first measured
 * row). */
static void print_skipped(const sweep_t *sw, size_t from, size_t to) {
    for (size_t k = from; k < to; k++) {
        if (sw->skip[k])
            bench_report_skipped_row(stdout, sw->plan[k].block, sw->plan[k].batch, sw->args);
    }
}

/* A table's header names the way its first row's bytes went, so it is printed once that
 * row has run, before the skipped rows that came ahead of it. */
static int sweep(sweep_t *sw) {
    size_t table_start = 0;
    bool header_done = false;
    unsigned table_ways = 0;

    for (size_t i = 0; i < sw->num_plan; i++) {
        const bench_row_spec_t *spec = &sw->plan[i];
        bench_row_t *row = &sw->rows[sw->num_rows];
        if (i > 0 && spec->op != sw->plan[i - 1].op) {
            table_start = i;
            header_done = false;
        }
        if (sw->skip[i]) {
            if (header_done) print_skipped(sw, i, i + 1);
            continue;
        }
        progress_line(sw, i);
        if (run_row(sw, spec, row) != 0) {
            progress_clear(sw);
            return -1;
        }
        progress_clear(sw);
        if (!header_done) {
            table_ways = row->ways;
            bench_report_table_header(stdout, spec->op, sw->args, sw->target_device, table_ways);
            print_skipped(sw, table_start, i);
            header_done = true;
        }
        bench_report_table_row(stdout, row, table_ways);
        sw->num_rows++;
    }
    return 0;
}

/* Releases in dependency order: registrations need the engine, and the buffers may only
 * be freed once the engine (and so any transfer it still had) is gone. */
static int cleanup(sweep_t *sw, const char *target, bool failed) {
    int rc = 0;

    for (unsigned t = 0; t < sw->num_workers; t++) {
        if (bench_worker_fini(&sw->workers[t]) != 0) rc = -1;
    }
    if (sw->connected) {
        adxl_status_t st = adxl_disconnect(sw->engine, target, DISCONNECT_TIMEOUT_MS);
        /* After a failed row the link may already be gone (a dead target tears it down):
         * NOT_CONNECTED then only repeats the error already reported. */
        if (st != ADXL_SUCCESS && !(failed && st == ADXL_NOT_CONNECTED)) {
            bench_err_status("adxl_disconnect", st);
            rc = -1;
        }
    }
    adxl_engine_destroy(sw->engine);
    for (unsigned t = 0; t < sw->num_workers; t++)
        bench_buffer_free(&sw->workers[t].buffer);
    bench_device_close();
    free(sw->workers);
    if (sw->gate_ready) bench_gate_destroy(&sw->shared);
    if (sw->ctl_fd >= 0) {
        if (sw->args->stop_target && bench_ctl_quit(sw->ctl_fd) != 0) rc = -1;
        close(sw->ctl_fd);
    }
    free(sw->plan);
    free(sw->skip);
    free(sw->rows);
    return rc;
}

int bench_run_initiator(const bench_args_t *a, const char *target, const char *control,
                        const char *local_name) {
    sweep_t sw;
    FILE *json = NULL;
    int rc = -1;

    memset(&sw, 0, sizeof(sw));
    sw.args = a;
    sw.ctl_fd = -1;
    sw.progress = isatty(STDERR_FILENO);

    if (a->json_path != NULL) {
        json = bench_report_json_open(a->json_path);
        if (json == NULL) return BENCH_EXIT_FAIL;
    }
    /* The runtime is opened here, after a one-host run has started its target: a real
     * CUDA does not survive fork(). This thread then registers the buffers with it
     * current, as ADXL's context rule wants. */
    if (make_plan(&sw) == 0 && query_target(&sw, target, control) == 0 &&
        (a->memory != BENCH_MEM_DEVICE || bench_device_open(bench_args_runtime(a)) == 0) &&
        open_engine(&sw, target, local_name) == 0 && setup_workers(&sw, target, control) == 0) {
        char region[32];
        bench_format_size(bench_run_region_size(a), region, sizeof(region));
        printf("adxl-bench (adxl %s): %s -> target %s%s, %s of its region at 0x%" PRIxPTR "\n",
               adxl_version(), local_name, target,
               a->role == BENCH_ROLE_LOCAL ? " (a second process on this host)" : "", region,
               sw.shared.remote_base);
        bench_report_intro(stdout, a);
        fflush(stdout);
        rc = sweep(&sw);
    }
    if (json != NULL && bench_report_json(json, a->json_path, a, target, sw.target_device, sw.rows,
                                          sw.num_rows, rc == 0) != 0) {
        rc = -1;
    }
    if (cleanup(&sw, target, rc != 0) != 0) rc = -1;
    return rc == 0 ? BENCH_EXIT_OK : BENCH_EXIT_FAIL;
}
