/* One initiator thread's batches; see bench_worker.h. */
#include "bench_worker.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_control.h"
#include "bench_device.h"
#include "bench_net.h"
#include "bench_pattern.h"
#include "bench_util.h"

#define CONTROL_CONNECT_TIMEOUT_MS 10000

typedef enum { PHASE_VERIFY, PHASE_WARMUP, PHASE_TIMED } phase_t;

/* One stretch of batches of a row. */
typedef struct {
    phase_t phase;
    uint64_t count;    /* batches to run; 0: until deadline */
    uint64_t deadline; /* bench_now_ns() value, when count is 0 */
    bool verify;       /* check every batch */
    bool record;       /* keep latencies and count batches */
} phase_spec_t;

/* An async window entry. */
typedef struct {
    adxl_transfer_req_t req;
    uint64_t t_submit;
    uint64_t seq;
    bool busy;
} slot_t;

static size_t row_bytes(const bench_shared_t *sh) {
    return sh->row.block * sh->row.batch;
}

static uint8_t *slot_local(const bench_worker_t *w, unsigned s) {
    return w->buffer.base + (size_t)s * w->shared->stride;
}

static uint64_t slot_remote_off(const bench_worker_t *w, unsigned s) {
    return w->remote_off + (uint64_t)s * w->shared->stride;
}

/* READ checks against what FILL put into the target at the start of the row; WRITE uses
 * a fresh seed per batch so that the target cannot pass a check with an older batch's
 * data. The op is part of both so that a READ row never matches a WRITE row's data. */
static uint64_t batch_seed(const bench_worker_t *w, uint64_t seq) {
    const bench_shared_t *sh = w->shared;
    uint64_t thread_op = ((uint64_t)w->index << 1) | (sh->row.op == ADXL_READ);
    return bench_pattern_seed(sh->row.index, thread_op, sh->row.op == ADXL_READ ? 0 : seq + 1);
}

static void describe(const bench_worker_t *w, phase_t phase, uint64_t seq, char *out,
                     size_t out_len) {
    static const char *const phases[] = {"verification", "warmup", "timed"};
    const bench_row_spec_t *row = &w->shared->row;
    char block[32];

    bench_format_size(row->block, block, sizeof(block));
    snprintf(out, out_len, "%s %s x%zu, thread %u, %s batch #%llu",
             row->op == ADXL_READ ? "READ" : "WRITE", block, row->batch, w->index, phases[phase],
             (unsigned long long)seq);
}

static int fail_status(bench_worker_t *w, phase_t phase, uint64_t seq, const char *call,
                       adxl_status_t st) {
    char what[256];
    describe(w, phase, seq, what, sizeof(what));
    bench_err("%s: %s failed: %s (%u)", what, call, adxl_status_str(st), (unsigned)st);
    atomic_store(&w->shared->stop, true);
    return -1;
}

static void build_descs(bench_worker_t *w) {
    const bench_shared_t *sh = w->shared;
    const bench_row_spec_t *row = &sh->row;

    for (unsigned s = 0; s < sh->slots; s++) {
        uintptr_t local = (uintptr_t)slot_local(w, s);
        uintptr_t remote = sh->remote_base + (uintptr_t)slot_remote_off(w, s);
        for (size_t i = 0; i < row->batch; i++) {
            w->descs[s * row->batch + i] = (adxl_transfer_op_desc_t){
                .local_addr = local + i * row->block,
                .remote_addr = remote + i * row->block,
                .len = row->block,
            };
        }
    }
}

/* Before a verified batch: WRITE sends the pattern; READ clears the buffer so that a
 * transfer that delivers nothing cannot pass. Device buffers get the bytes through the
 * runtime. */
static int prepare(bench_worker_t *w, unsigned s, uint64_t seq) {
    size_t bytes = row_bytes(w->shared);
    uint8_t *host = w->scratch != NULL ? w->scratch : slot_local(w, s);

    if (w->shared->row.op == ADXL_WRITE) {
        bench_pattern_fill(host, bytes, batch_seed(w, seq), slot_remote_off(w, s));
    } else {
        memset(host, 0, bytes);
    }
    if (w->scratch != NULL && bench_device_put(slot_local(w, s), host, bytes) != 0) {
        atomic_store(&w->shared->stop, true);
        return -1;
    }
    return 0;
}

/* After a verified batch: WRITE has the target check its region, READ checks locally. */
static int check(bench_worker_t *w, unsigned s, phase_t phase, uint64_t seq) {
    const bench_shared_t *sh = w->shared;
    size_t bytes = row_bytes(sh), bad;
    const uint8_t *got = slot_local(w, s);
    uint8_t expected;
    char what[256];

    describe(w, phase, seq, what, sizeof(what));
    if (sh->row.op == ADXL_WRITE) {
        if (bench_ctl_check(w->ctl_fd, batch_seed(w, seq), slot_remote_off(w, s), bytes, what)) {
            atomic_store(&w->shared->stop, true);
            return -1;
        }
        return 0;
    }
    if (w->scratch != NULL) {
        /* Device buffers: copied out by the runtime and checked on the host. */
        if (bench_device_get(w->scratch, slot_local(w, s), bytes) != 0) {
            bench_err("%s: cannot copy the batch out of device memory", what);
            atomic_store(&w->shared->stop, true);
            return -1;
        }
        got = w->scratch;
    }
    bad = bench_pattern_check(got, bytes, batch_seed(w, seq), slot_remote_off(w, s), &expected);
    if (bad == SIZE_MAX) return 0;
    bench_err("verification failed: %s: byte %zu of the batch (descriptor %zu, byte %zu) "
              "arrived as 0x%02x, expected 0x%02x",
              what, bad, bad / sh->row.block, bad % sh->row.block, got[bad], expected);
    atomic_store(&w->shared->stop, true);
    return -1;
}

static int record(bench_worker_t *w, uint64_t ns) {
    if (bench_samples_push(&w->samples, ns) != 0) {
        bench_err("out of memory for latency samples");
        atomic_store(&w->shared->stop, true);
        return -1;
    }
    w->batches++;
    return 0;
}

static bool may_submit(const bench_worker_t *w, const phase_spec_t *ps, uint64_t submitted) {
    if (atomic_load(&w->shared->stop)) return false;
    if (ps->count != 0) return submitted < ps->count;
    return submitted < w->shared->args->max_iters && bench_now_ns() < ps->deadline;
}

static int run_sync(bench_worker_t *w, const phase_spec_t *ps) {
    const bench_shared_t *sh = w->shared;

    for (uint64_t submitted = 0; may_submit(w, ps, submitted); submitted++) {
        uint64_t seq = w->seq++, t0, t1;
        adxl_status_t st;

        if (ps->verify && prepare(w, 0, seq) != 0) return -1;
        t0 = bench_now_ns();
        st = adxl_transfer_sync(sh->engine, sh->target, sh->row.op, w->descs, sh->row.batch,
                                sh->args->timeout_ms);
        t1 = bench_now_ns();
        if (st != ADXL_SUCCESS) return fail_status(w, ps->phase, seq, "adxl_transfer_sync", st);
        if (ps->verify && check(w, 0, ps->phase, seq) != 0) return -1;
        if (ps->record && record(w, t1 - t0) != 0) return -1;
    }
    return 0;
}

/* Handles one finished request; rc is the phase's result so far (after a failure the
 * window is only drained). */
static int complete(bench_worker_t *w, const phase_spec_t *ps, slot_t *slot, unsigned s,
                    adxl_transfer_status_t ts, int rc) {
    uint64_t now = bench_now_ns();
    char what[256];

    if (rc != 0) return rc;
    if (ts != ADXL_TRANSFER_COMPLETED) {
        describe(w, ps->phase, slot->seq, what, sizeof(what));
        bench_err("%s: adxl_transfer_async request ended %s", what,
                  ts == ADXL_TRANSFER_TIMEOUT  ? "TIMEOUT"
                  : ts == ADXL_TRANSFER_FAILED ? "FAILED"
                                               : "in an unknown state");
        atomic_store(&w->shared->stop, true);
        return -1;
    }
    if (ps->verify && check(w, s, ps->phase, slot->seq) != 0) return -1;
    if (ps->record) return record(w, now - slot->t_submit);
    return 0;
}

/*
 * When a poll round completed nothing: yield for a short while (a small batch completes
 * within tens of microseconds, and sleeping would inflate its latency), then sleep in
 * short naps, so that waiting out a large batch does not burn a core that adxl's own
 * I/O threads need on a small machine. The nap bounds the latency error to well under
 * what such a batch takes.
 */
#define POLL_SPIN_NS 50000u
#define POLL_NAP_NS 20000

static void idle_wait(uint64_t idle_since) {
    if (bench_now_ns() - idle_since < POLL_SPIN_NS) {
        sched_yield();
    } else {
        nanosleep(&(struct timespec){0, POLL_NAP_NS}, NULL);
    }
}

/*
 * Keeps up to shared->slots requests in flight, polling each with
 * adxl_get_transfer_status. After a failure it submits nothing more but still waits for
 * every request in flight (each has the transfer timeout), so that none is left touching
 * the buffers.
 */
static int run_async(bench_worker_t *w, const phase_spec_t *ps) {
    const bench_shared_t *sh = w->shared;
    adxl_transfer_args_t targs = {.timeout_ms = sh->args->timeout_ms, .user_data = NULL};
    slot_t *slots = calloc(sh->slots, sizeof(*slots));
    uint64_t submitted = 0, idle_since = bench_now_ns();
    unsigned inflight = 0;
    int rc = 0;

    if (slots == NULL) {
        bench_err("out of memory");
        return -1;
    }
    for (;;) {
        bool progress = false;

        for (unsigned s = 0; s < sh->slots && rc == 0; s++) {
            adxl_status_t st;
            if (slots[s].busy || !may_submit(w, ps, submitted)) continue;
            slots[s].seq = w->seq++;
            if (ps->verify && prepare(w, s, slots[s].seq) != 0) {
                rc = -1;
                break;
            }
            slots[s].t_submit = bench_now_ns();
            st = adxl_transfer_async(sh->engine, sh->target, sh->row.op,
                                     w->descs + (size_t)s * sh->row.batch, sh->row.batch, &targs,
                                     &slots[s].req);
            if (st != ADXL_SUCCESS) {
                rc = fail_status(w, ps->phase, slots[s].seq, "adxl_transfer_async", st);
                break;
            }
            slots[s].busy = true;
            inflight++;
            submitted++;
        }
        if (inflight == 0) break;
        for (unsigned s = 0; s < sh->slots; s++) {
            adxl_transfer_status_t ts;
            adxl_status_t st;
            if (!slots[s].busy) continue;
            st = adxl_get_transfer_status(sh->engine, slots[s].req, &ts);
            if (st == ADXL_SUCCESS && ts == ADXL_TRANSFER_WAITING) continue;
            /* A request whose status cannot be read is given up on: nothing else can be
             * done with it. */
            slots[s].busy = false;
            inflight--;
            progress = true;
            if (st != ADXL_SUCCESS) {
                if (rc == 0) {
                    rc = fail_status(w, ps->phase, slots[s].seq, "adxl_get_transfer_status", st);
                }
                continue;
            }
            rc = complete(w, ps, &slots[s], s, ts, rc);
        }
        if (progress) {
            idle_since = bench_now_ns();
        } else {
            idle_wait(idle_since);
        }
    }
    free(slots);
    return rc;
}

static int run_phase(bench_worker_t *w, const phase_spec_t *ps) {
    return w->shared->args->async_depth == 0 ? run_sync(w, ps) : run_async(w, ps);
}

int bench_gate_init(bench_shared_t *sh) {
    if (pthread_mutex_init(&sh->gate_lock, NULL) != 0) return -1;
    if (pthread_cond_init(&sh->gate_cond, NULL) != 0) {
        pthread_mutex_destroy(&sh->gate_lock);
        return -1;
    }
    return 0;
}

void bench_gate_destroy(bench_shared_t *sh) {
    pthread_cond_destroy(&sh->gate_cond);
    pthread_mutex_destroy(&sh->gate_lock);
}

void bench_gate_reset(bench_shared_t *sh, unsigned threads) {
    pthread_mutex_lock(&sh->gate_lock);
    sh->arrived = 0;
    sh->expected = threads;
    pthread_mutex_unlock(&sh->gate_lock);
}

void bench_gate_lower(bench_shared_t *sh, unsigned threads) {
    pthread_mutex_lock(&sh->gate_lock);
    sh->expected = threads;
    pthread_cond_broadcast(&sh->gate_cond);
    pthread_mutex_unlock(&sh->gate_lock);
}

static void gate_pass(bench_shared_t *sh) {
    pthread_mutex_lock(&sh->gate_lock);
    if (++sh->arrived >= sh->expected) pthread_cond_broadcast(&sh->gate_cond);
    while (sh->arrived < sh->expected)
        pthread_cond_wait(&sh->gate_cond, &sh->gate_lock);
    pthread_mutex_unlock(&sh->gate_lock);
}

void *bench_worker_row(void *arg) {
    bench_worker_t *w = arg;
    bench_shared_t *sh = w->shared;
    const bench_args_t *a = sh->args;
    int rc = 0;

    w->batches = 0;
    w->seq = 0;
    w->t_start = w->t_end = 0;
    bench_samples_clear(&w->samples);
    build_descs(w);

    /* A fresh thread has no device context: the runtime's copies need one. */
    if (w->scratch != NULL && bench_device_enter() != 0) rc = -1;

    /* Untimed: READ rows need the target's pattern in place; then one verified batch per
     * slot, then the warmup. */
    if (rc == 0 && sh->row.op == ADXL_READ) {
        for (unsigned s = 0; s < sh->slots && rc == 0; s++) {
            rc = bench_ctl_fill(w->ctl_fd, batch_seed(w, 0), slot_remote_off(w, s), row_bytes(sh));
        }
    }
    if (rc == 0) {
        phase_spec_t ps = {PHASE_VERIFY, sh->slots, 0, true, false};
        rc = run_phase(w, &ps);
    }
    if (rc == 0 && a->warmup > 0) {
        phase_spec_t ps = {PHASE_WARMUP, a->warmup, 0, a->verify_all, false};
        rc = run_phase(w, &ps);
    }
    if (rc != 0) atomic_store(&sh->stop, true);

    /* Every thread passes the gate, failed or not, or the others would wait forever. */
    gate_pass(sh);
    if (rc == 0 && !atomic_load(&sh->stop)) {
        phase_spec_t ps = {PHASE_TIMED, a->iters, 0, a->verify_all, true};
        size_t expect = a->iters != 0 ? a->iters : (a->max_iters < 65536 ? a->max_iters : 65536);
        if (bench_samples_reserve(&w->samples, expect) != 0) {
            bench_err("out of memory for latency samples");
            rc = -1;
        } else {
            w->t_start = bench_now_ns();
            ps.deadline = w->t_start + (uint64_t)(a->duration_s * 1e9);
            rc = run_phase(w, &ps);
            w->t_end = bench_now_ns();
        }
    }
    if (rc != 0) {
        w->failed = true;
        atomic_store(&sh->stop, true);
    }
    return NULL;
}

int bench_worker_init(bench_worker_t *w, bench_shared_t *sh, unsigned index, const char *control,
                      size_t max_batch) {
    memset(w, 0, sizeof(*w));
    w->shared = sh;
    w->index = index;
    w->ctl_fd = -1;
    w->remote_off = (uint64_t)index * sh->slots * sh->stride;
    bench_samples_init(&w->samples);
    if (bench_buffer_alloc(&w->buffer, sh->args->memory, (size_t)sh->slots * sh->stride,
                           sh->engine) != 0) {
        return -1;
    }
    if (sh->args->memory == BENCH_MEM_DEVICE) {
        w->scratch = malloc(sh->stride);
        if (w->scratch == NULL) {
            bench_err("out of memory for the host copy of a device buffer");
            return -1;
        }
    }
    w->descs = calloc((size_t)sh->slots * max_batch, sizeof(*w->descs));
    if (w->descs == NULL) {
        bench_err("out of memory for descriptors");
        return -1;
    }
    w->ctl_fd = bench_net_connect(control, CONTROL_CONNECT_TIMEOUT_MS);
    return w->ctl_fd >= 0 ? 0 : -1;
}

int bench_worker_fini(bench_worker_t *w) {
    if (w->ctl_fd >= 0) close(w->ctl_fd);
    w->ctl_fd = -1;
    free(w->descs);
    w->descs = NULL;
    free(w->scratch);
    w->scratch = NULL;
    bench_samples_free(&w->samples);
    return bench_buffer_deregister(&w->buffer, w->shared->engine);
}
