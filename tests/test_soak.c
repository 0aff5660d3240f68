/*
 * Soak: THREADS initiator threads (one engine in this process) against TARGETS target
 * engines, each in its own forked process with one registered region, for a fixed time:
 * random READ and WRITE batches of 1..512 descriptors of 1 B to 4 MiB, sync and async
 * (up to four requests of a thread in flight at once), from registered and unregistered
 * local memory, so that both direct and buffered modes run.
 *
 * Every byte is checked. Each thread owns one slice of every target's region and keeps a
 * mirror of what it wrote there, so every READ is compared with the mirror, every WRITE is
 * read back at once and compared, and at the end each thread reads its whole slices back
 * and each target checksums every slice of its own memory, which the parent compares with
 * the mirrors (so a READ and a WRITE that were wrong in the same way cannot hide each
 * other).
 *
 * Environment:
 *   ADXL_SOAK_SECONDS          run time (default 60)
 *   ADXL_SOAK_TRANSPORT        the Transport option of every engine (default "tcp")
 *   ADXL_SOAK_RSS_GROWTH_MIB   bound on this process's RSS growth from the end of the
 *                              warm-up to the end (default 64; 0: report only)
 *   ADXL_SOAK_SEED             seed of the batch shapes (default: time and pid)
 * Every PROGRESS_MS it prints a "soak: N s ..." line (bytes moved, errors and corrupt bytes
 * so far), so that a run is never silent for long. The last line of output is one
 * parseable line: "SOAK key=value ...".
 */
#include "xfer_common.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#define THREADS 8
#define TARGETS 4
#define SLICE (4 * XC_MIB) /* one thread's share of one target's region */
#define REGION ((size_t)THREADS * SLICE)
#define MAX_DESCS 512
#define MAX_DESC_BYTES (4 * XC_MIB)
#define MAX_INFLIGHT 4          /* async requests of one thread at once */
#define XFER_TIMEOUT_MS 120000  /* far beyond any transfer here, even under TSan */
#define MAX_REPORTS 10          /* error and corruption lines printed */
#define BIG_DESC (256 * XC_KIB) /* ADXL's direct-mode threshold */
#define PROGRESS_MS 5000        /* between progress lines: well under 10 s */

/* Under ASan freed memory sits in a quarantine (256 MiB by default) and TSan's shadow
 * grows with use: RSS there says nothing about leaks, so it is reported, not bounded. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SOAK_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SOAK_SANITIZED 1
#endif
#endif

/* ------------------------------------------------------------------ shared helpers */

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmRSS: %ld", &kib) == 1) break;
    fclose(f);
    return kib;
}

/* A 64-bit checksum of a byte range, eight bytes at a time. */
static uint64_t checksum(const uint8_t *p, size_t len) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h ^ (h >> 32);
}

/* Faults every page in now, so that RSS does not grow later by first use. Through a
 * volatile pointer: a compiler may turn malloc plus memset(0) into calloc, which touches
 * nothing. */
static void touch(void *p, size_t len) {
    volatile uint8_t *v = p;
    for (size_t i = 0; i < len; i += 4096)
        v[i] = 0;
}

static long env_long(const char *name, long def, long min, long max) {
    const char *v = getenv(name);
    if (v == NULL || *v == '\0') return def;
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno != 0 || *end != '\0' || x < min || x > max) {
        fprintf(stderr, "%s=%s: not an integer in [%ld, %ld]\n", name, v, min, max);
        exit(2);
    }
    return x;
}

/* ------------------------------------------------------------------ target processes */

typedef struct {
    const char *transport;
    int idle_ms; /* how long to wait for the parent's next command */
} target_cfg_t;

/*
 * One target: an engine with a zeroed, registered region of REGION bytes. Commands:
 *   sum OFF LEN -> sum X       (checksum of its memory there)
 *   rss         -> rss KIB
 *   stats       -> stats SERVED REFUSED DROPPED
 *   exit        -> bye, then it exits 0
 */
static int target_main(void *arg, int to_parent, int from_parent) {
    const target_cfg_t *cfg = arg;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) return 3;
    adxl_option_t opts[] = {{"Transport", cfg->transport}};
    adxl_engine_t *e = tu_engine("127.0.0.1:0", opts, 1);
    uint8_t *buf = e ? xc_alloc(REGION) : NULL;
    if (!buf || !xc_register(e, buf, REGION)) {
        tu_send_line(to_parent, "error");
        return 1;
    }
    touch(buf, REGION);
    tu_send_line(to_parent, "ready %s %" PRIuPTR, adxl_local_engine(e), (uintptr_t)buf);
    char line[256];
    int rc = 2;
    while (tu_recv_line(from_parent, line, sizeof(line), cfg->idle_ms)) {
        unsigned long long off, len;
        if (sscanf(line, "sum %llu %llu", &off, &len) == 2 && off + len <= REGION) {
            /* Ordered after the initiators' transfers through the parent (see
             * xfer_common.h); the engine's own threads are still checked by TSan. */
            XC_EXTERNALLY_ORDERED_BEGIN();
            uint64_t h = checksum(buf + off, (size_t)len);
            XC_EXTERNALLY_ORDERED_END();
            tu_send_line(to_parent, "sum %" PRIu64, h);
        } else if (strcmp(line, "rss") == 0) {
            tu_send_line(to_parent, "rss %ld", rss_kib());
        } else if (strcmp(line, "stats") == 0) {
            adxl_stats_t s = xc_stats(e);
            tu_send_line(to_parent, "stats %" PRIu64 " %" PRIu64 " %" PRIu64, s.frames_served,
                         s.frames_refused, s.links_dropped);
        } else if (strcmp(line, "exit") == 0) {
            rc = 0;
            break;
        } else {
            tu_send_line(to_parent, "unknown");
        }
    }
    adxl_engine_destroy(e);
    adxl_free_mem(buf);
    if (rc == 0) tu_send_line(to_parent, "bye");
    return rc;
}

typedef struct {
    tu_child_t ch;
    char name[128];
    uintptr_t addr; /* of its region, in its address space */
} target_t;

static bool target_cmd(target_t *t, char *reply, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool target_cmd(target_t *t, char *reply, size_t cap, const char *fmt, ...) {
    char cmd[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    return tu_send_line(t->ch.to_child, "%s", cmd) &&
           tu_recv_line(t->ch.from_child, reply, cap, 60000);
}

/* The sum of the targets' RSS; false when one did not answer. */
static bool targets_rss(target_t *targets, long *kib) {
    *kib = 0;
    for (int i = 0; i < TARGETS; i++) {
        char r[64];
        long one = -1;
        if (!target_cmd(&targets[i], r, sizeof(r), "rss") || sscanf(r, "rss %ld", &one) != 1 ||
            one < 0)
            return false;
        *kib += one;
    }
    return true;
}

/* ------------------------------------------------------------------ workers */

typedef struct {
    adxl_transfer_op_desc_t d[MAX_DESCS];
    size_t mirror_off[MAX_DESCS]; /* where each descriptor's remote bytes sit in the slice */
    size_t n;
    uint64_t bytes;
} batch_t;

typedef struct {
    uint64_t batches, descs, bytes;
    uint64_t write_batches, read_batches, verify_batches;
    uint64_t sync_batches, async_batches;
    uint64_t corruptions; /* bytes that differed from what they must hold */
    uint64_t errors;      /* calls that did not return SUCCESS / COMPLETED */
} counters_t;

typedef struct {
    int id;
    uint64_t rng;
    adxl_engine_t *engine;
    target_t *targets;
    uint64_t deadline_ms;
    uint8_t *lreg;    /* registered with the initiator: direct mode possible */
    uint8_t *lplain;  /* never registered: always through the transit pool */
    uint8_t *scratch; /* registered: read-backs land here */
    uint8_t *mirror[TARGETS];
    bool lost[TARGETS]; /* a failed WRITE left the slice unknown and no read-back fixed it */
    batch_t batch[MAX_INFLIGHT];
    batch_t readback;
    counters_t c;
} worker_t;

static atomic_int reports_left = MAX_REPORTS;

/* Running totals of all workers for the progress lines; the final figures come from each
 * worker's own counters. */
static _Atomic uint64_t live_bytes, live_errors, live_corruptions;

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...) {
    if (atomic_fetch_sub(&reports_left, 1) <= 0) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

static void fill_random(uint8_t *p, size_t len, uint64_t *rng) {
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w = tu_xorshift(rng);
        memcpy(p + i, &w, 8);
    }
    if (i < len) {
        uint64_t w = tu_xorshift(rng);
        memcpy(p + i, &w, len - i);
    }
}

/* A length in [lo, hi], uniform in its power of two, the power uniform: as many tiny
 * descriptors as large ones. */
static size_t rand_len(uint64_t *rng, size_t lo, size_t hi) {
    int lo_bits = 63 - __builtin_clzll((unsigned long long)lo);
    int hi_bits = 63 - __builtin_clzll((unsigned long long)hi);
    int k = lo_bits + (int)(tu_xorshift(rng) % (uint64_t)(hi_bits - lo_bits + 1));
    size_t a = (size_t)1 << k, b = ((size_t)1 << (k + 1)) - 1;
    if (a < lo) a = lo;
    if (b > hi) b = hi;
    return xc_rand_range(rng, a, b);
}

/* Places pieces of the given lengths, in a random order with random gaps, inside a span
 * of `span` bytes; off[i] is where piece i starts. */
static void lay_out(uint64_t *rng, const size_t *len, size_t n, size_t span, size_t *off) {
    static _Thread_local size_t order[MAX_DESCS];
    static _Thread_local uint32_t weight[MAX_DESCS + 1];
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += len[i];
    uint64_t free_bytes = span - total, wsum = 0;
    for (size_t i = 0; i <= n; i++)
        wsum += weight[i] = (uint32_t)(tu_xorshift(rng) & 0xffff);
    if (wsum == 0) wsum = 1;
    xc_shuffle(order, n, rng);
    size_t pos = 0;
    for (size_t k = 0; k < n; k++) {
        pos += (size_t)(free_bytes * weight[k] / wsum);
        off[order[k]] = pos;
        pos += len[order[k]];
    }
}

/*
 * A random batch over `span` bytes of the worker's slice on target tgt, starting at slice
 * offset `slice_off`, with its local pieces in [local, local + span).
 */
static void make_batch(worker_t *w, batch_t *b, int tgt, size_t slice_off, uint8_t *local,
                       size_t span) {
    static _Thread_local size_t len[MAX_DESCS], roff[MAX_DESCS], loff[MAX_DESCS];
    bool big = span >= BIG_DESC && tu_xorshift(&w->rng) % 4 == 0;
    size_t n, lo;
    if (big) {
        size_t most = span / BIG_DESC < 4 ? span / BIG_DESC : 4;
        n = xc_rand_range(&w->rng, 1, most);
        lo = BIG_DESC;
    } else {
        n = xc_rand_range(&w->rng, 1, MAX_DESCS);
        lo = 1;
    }
    size_t hi = span / n < MAX_DESC_BYTES ? span / n : MAX_DESC_BYTES;
    for (size_t i = 0; i < n; i++)
        len[i] = rand_len(&w->rng, lo, hi);
    lay_out(&w->rng, len, n, span, roff);
    lay_out(&w->rng, len, n, span, loff);
    uintptr_t remote = w->targets[tgt].addr + (uintptr_t)w->id * SLICE + slice_off;
    b->n = n;
    b->bytes = 0;
    for (size_t i = 0; i < n; i++) {
        b->d[i] = (adxl_transfer_op_desc_t){(uintptr_t)(local + loff[i]), remote + roff[i], len[i]};
        b->mirror_off[i] = slice_off + roff[i];
        b->bytes += len[i];
    }
}

/* Counts the bytes of a finished READ that differ from the mirror. */
static uint64_t compare(worker_t *w, int tgt, const batch_t *b, const char *what) {
    uint64_t bad = 0;
    for (size_t i = 0; i < b->n; i++) {
        const uint8_t *got = (const uint8_t *)b->d[i].local_addr;
        const uint8_t *want = w->mirror[tgt] + b->mirror_off[i];
        if (memcmp(got, want, b->d[i].len) == 0) continue;
        size_t first = SIZE_MAX, n = 0;
        for (size_t k = 0; k < b->d[i].len; k++)
            if (got[k] != want[k]) {
                if (first == SIZE_MAX) first = k;
                n++;
            }
        report("CORRUPTION thread %d target %d %s: descriptor %zu of %zu (%zu bytes at slice "
               "offset %zu): %zu bytes differ, first at +%zu: 0x%02x, expected 0x%02x\n",
               w->id, tgt, what, i, b->n, (size_t)b->d[i].len, b->mirror_off[i], n, first,
               got[first], want[first]);
        bad += n;
    }
    return bad;
}

/* Makes every byte a READ must overwrite differ from what it must become. */
static void poison(worker_t *w, int tgt, const batch_t *b) {
    for (size_t i = 0; i < b->n; i++) {
        uint8_t *p = (uint8_t *)b->d[i].local_addr;
        const uint8_t *want = w->mirror[tgt] + b->mirror_off[i];
        for (size_t k = 0; k < b->d[i].len; k++)
            p[k] = (uint8_t)(want[k] ^ 0xa5);
    }
}

static void count(worker_t *w, const batch_t *b) {
    w->c.batches++;
    w->c.descs += b->n;
    w->c.bytes += b->bytes;
    atomic_fetch_add_explicit(&live_bytes, b->bytes, memory_order_relaxed);
}

static void count_corruptions(worker_t *w, uint64_t bad) {
    w->c.corruptions += bad;
    atomic_fetch_add_explicit(&live_corruptions, bad, memory_order_relaxed);
}

static adxl_status_t sync_xfer(worker_t *w, int tgt, adxl_transfer_op_t op, const batch_t *b) {
    return adxl_transfer_sync(w->engine, w->targets[tgt].name, op, b->d, b->n, XFER_TIMEOUT_MS);
}

/* Reads a whole slice back (one descriptor, direct mode) into scratch. */
static adxl_status_t read_slice(worker_t *w, int tgt) {
    batch_t *b = &w->readback;
    b->n = 1;
    b->bytes = SLICE;
    b->d[0] = (adxl_transfer_op_desc_t){(uintptr_t)w->scratch,
                                        w->targets[tgt].addr + (uintptr_t)w->id * SLICE, SLICE};
    b->mirror_off[0] = 0;
    if (!w->lost[tgt]) poison(w, tgt, b);
    adxl_status_t st = sync_xfer(w, tgt, ADXL_READ, b);
    count(w, b);
    w->c.verify_batches++;
    return st;
}

static void failed(worker_t *w, int tgt, const char *what, adxl_status_t st) {
    w->c.errors++;
    atomic_fetch_add_explicit(&live_errors, 1, memory_order_relaxed);
    report("ERROR thread %d target %d: %s returned %s\n", w->id, tgt, what, adxl_status_str(st));
}

/* After a failed WRITE the slice holds partly old, partly new bytes: adopt what is there. */
static void resync(worker_t *w, int tgt) {
    adxl_status_t st = read_slice(w, tgt);
    if (st == ADXL_SUCCESS) {
        memcpy(w->mirror[tgt], w->scratch, SLICE);
        w->lost[tgt] = false;
    } else {
        failed(w, tgt, "resync READ", st);
        w->lost[tgt] = true;
    }
}

/* One WRITE done: record it in the mirror, read the same ranges back into scratch (at
 * the same offsets as in the local buffer `local`) and compare. */
static void after_write(worker_t *w, int tgt, const batch_t *b, const uint8_t *local) {
    for (size_t i = 0; i < b->n; i++)
        memcpy(w->mirror[tgt] + b->mirror_off[i], (const void *)b->d[i].local_addr, b->d[i].len);
    batch_t *rb = &w->readback;
    *rb = *b;
    for (size_t i = 0; i < b->n; i++)
        rb->d[i].local_addr = (uintptr_t)w->scratch + (b->d[i].local_addr - (uintptr_t)local);
    poison(w, tgt, rb);
    adxl_status_t st = sync_xfer(w, tgt, ADXL_READ, rb);
    count(w, rb);
    w->c.verify_batches++;
    if (st != ADXL_SUCCESS)
        failed(w, tgt, "read-back READ", st);
    else
        count_corruptions(w, compare(w, tgt, rb, "read-back of a WRITE"));
}

static void one_round(worker_t *w) {
    int tgt = (int)(tu_xorshift(&w->rng) % TARGETS);
    if (w->lost[tgt]) return;
    adxl_transfer_op_t op = tu_xorshift(&w->rng) % 2 ? ADXL_WRITE : ADXL_READ;
    bool async = tu_xorshift(&w->rng) % 2;
    uint8_t *local = tu_xorshift(&w->rng) % 4 ? w->lreg : w->lplain;
    size_t q = async ? xc_rand_range(&w->rng, 1, MAX_INFLIGHT) : 1;
    size_t span = SLICE / q;
    for (size_t i = 0; i < q; i++) {
        make_batch(w, &w->batch[i], tgt, i * span, local + i * span, span);
        if (op == ADXL_WRITE) {
            for (size_t k = 0; k < w->batch[i].n; k++)
                fill_random((uint8_t *)w->batch[i].d[k].local_addr, w->batch[i].d[k].len, &w->rng);
        } else {
            poison(w, tgt, &w->batch[i]);
        }
    }

    adxl_status_t st[MAX_INFLIGHT];
    if (!async) {
        st[0] = sync_xfer(w, tgt, op, &w->batch[0]);
        w->c.sync_batches++;
    } else {
        adxl_transfer_req_t req[MAX_INFLIGHT];
        bool posted[MAX_INFLIGHT];
        for (size_t i = 0; i < q; i++) {
            /* No timeout of its own: a request that never ends shows as a hang below. */
            adxl_transfer_args_t args = {0, &w->batch[i]};
            st[i] = adxl_transfer_async(w->engine, w->targets[tgt].name, op, w->batch[i].d,
                                        w->batch[i].n, &args, &req[i]);
            posted[i] = st[i] == ADXL_SUCCESS;
        }
        for (size_t i = 0; i < q; i++) {
            if (!posted[i]) continue;
            int s = tu_wait_req(w->engine, req[i], XFER_TIMEOUT_MS);
            st[i] = s == ADXL_TRANSFER_COMPLETED ? ADXL_SUCCESS
                    : s == ADXL_TRANSFER_WAITING ? ADXL_TIMEOUT
                                                 : ADXL_FAILED;
        }
        w->c.async_batches += q;
    }

    bool write_failed = false;
    for (size_t i = 0; i < q; i++) {
        batch_t *b = &w->batch[i];
        count(w, b);
        if (op == ADXL_WRITE)
            w->c.write_batches++;
        else
            w->c.read_batches++;
        if (st[i] != ADXL_SUCCESS) {
            failed(w, tgt, op == ADXL_WRITE ? "WRITE" : "READ", st[i]);
            write_failed = write_failed || op == ADXL_WRITE;
            continue;
        }
        if (op == ADXL_WRITE)
            after_write(w, tgt, b, local);
        else
            count_corruptions(w, compare(w, tgt, b, async ? "async READ" : "sync READ"));
    }
    if (write_failed) resync(w, tgt);
}

static void *worker_main(void *arg) {
    worker_t *w = arg;
    while (tu_now_ms() < w->deadline_ms)
        one_round(w);
    /* Every slice, whole, one last time. */
    for (int tgt = 0; tgt < TARGETS; tgt++) {
        if (w->lost[tgt]) continue;
        adxl_status_t st = read_slice(w, tgt);
        if (st != ADXL_SUCCESS)
            failed(w, tgt, "final READ", st);
        else
            count_corruptions(w, compare(w, tgt, &w->readback, "final read of the slice"));
    }
    return NULL;
}

static bool worker_init(worker_t *w, int id, adxl_engine_t *e, target_t *targets, uint64_t seed) {
    memset(w, 0, sizeof(*w));
    w->id = id;
    w->rng = seed * 0x9e3779b97f4a7c15ull + (uint64_t)id * 0x632be59bd9b4e019ull + 1;
    w->engine = e;
    w->targets = targets;
    w->lreg = xc_alloc(SLICE);
    w->scratch = xc_alloc(SLICE);
    w->lplain = malloc(SLICE);
    if (!w->lreg || !w->scratch || !w->lplain) return false;
    if (!xc_register(e, w->lreg, SLICE) || !xc_register(e, w->scratch, SLICE)) return false;
    touch(w->lplain, SLICE);
    touch(w->lreg, SLICE);
    touch(w->scratch, SLICE);
    for (int t = 0; t < TARGETS; t++) {
        w->mirror[t] = calloc(1, SLICE); /* targets start zeroed */
        if (!w->mirror[t]) return false;
        touch(w->mirror[t], SLICE);
    }
    return true;
}

static void worker_free(worker_t *w) {
    adxl_free_mem(w->lreg);
    adxl_free_mem(w->scratch);
    free(w->lplain);
    for (int t = 0; t < TARGETS; t++)
        free(w->mirror[t]);
}

/* ------------------------------------------------------------------ main */

static void progress(uint64_t start_ms) {
    printf("soak: %3" PRIu64 " s, %.2f GiB moved, %" PRIu64 " errors, %" PRIu64
           " corrupt bytes so far\n",
           (tu_now_ms() - start_ms) / 1000,
           (double)atomic_load_explicit(&live_bytes, memory_order_relaxed) / (1u << 30),
           atomic_load_explicit(&live_errors, memory_order_relaxed),
           atomic_load_explicit(&live_corruptions, memory_order_relaxed));
    fflush(stdout);
}

/* Until the workers' deadline: a progress line every PROGRESS_MS, and at warm_at the RSS
 * of this process and of the targets (*trss_kib; false when a target did not answer).
 * The sleeps only pace the reports; the workers stop by their own deadline. */
static bool watch(uint64_t start_ms, uint64_t deadline, uint64_t warm_at, long *rss,
                  target_t *targets, long *trss_kib) {
    uint64_t next_report = start_ms + PROGRESS_MS;
    bool warm_done = false, trss_ok = false;
    for (;;) {
        uint64_t now = tu_now_ms();
        if (!warm_done && now >= warm_at) {
            *rss = rss_kib();
            trss_ok = targets_rss(targets, trss_kib);
            warm_done = true;
        }
        if (now >= deadline) break;
        if (now >= next_report) {
            progress(start_ms);
            next_report += PROGRESS_MS;
        }
        uint64_t wake = next_report < deadline ? next_report : deadline;
        if (!warm_done && warm_at < wake) wake = warm_at;
        if (wake > now) tu_sleep_ms((int)(wake - now));
    }
    return trss_ok;
}

int main(void) {
    long seconds = env_long("ADXL_SOAK_SECONDS", 60, 1, 30L * 24 * 3600);
    long rss_bound_mib = env_long("ADXL_SOAK_RSS_GROWTH_MIB", 64, 0, 1L << 20);
    const char *transport = getenv("ADXL_SOAK_TRANSPORT");
    if (transport == NULL || *transport == '\0') transport = "tcp";
    uint64_t seed = (uint64_t)env_long("ADXL_SOAK_SEED", 0, 0, LONG_MAX);
    if (seed == 0) seed = (tu_now_ms() << 16) ^ (uint64_t)getpid();
#ifdef SOAK_SANITIZED
    rss_bound_mib = 0;
#endif
    printf("soak: %d threads, %d target processes, transport %s, %ld s, seed %" PRIu64 "\n",
           THREADS, TARGETS, transport, seconds, seed);
    fflush(stdout);

    /* Targets first: fork before this process has any engine threads. */
    long idle = (seconds + 600) * 1000;
    target_cfg_t tcfg = {transport, idle > INT32_MAX ? INT32_MAX : (int)idle};
    target_t targets[TARGETS];
    for (int i = 0; i < TARGETS; i++) {
        char line[256];
        REQUIRE(tu_spawn(&targets[i].ch, target_main, &tcfg));
        REQUIRE(tu_recv_line(targets[i].ch.from_child, line, sizeof(line), 30000));
        REQUIRE(sscanf(line, "ready %127s %" SCNuPTR, targets[i].name, &targets[i].addr) == 2);
    }

    adxl_option_t opts[] = {{"Transport", transport}};
    adxl_engine_t *e = tu_engine("127.0.0.1", opts, 1);
    REQUIRE(e != NULL);
    for (int i = 0; i < TARGETS; i++)
        REQUIRE(adxl_connect(e, targets[i].name, 20000) == ADXL_SUCCESS);
    static worker_t workers[THREADS];
    for (int i = 0; i < THREADS; i++)
        REQUIRE(worker_init(&workers[i], i, e, targets, seed));

    long rss_setup = rss_kib();
    long trss_start = 0, trss_end = 0;
    uint64_t start_ms = tu_now_ms();
    uint64_t deadline = start_ms + (uint64_t)seconds * 1000;
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        workers[i].deadline_ms = deadline;
        REQUIRE(pthread_create(&th[i], NULL, worker_main, &workers[i]) == 0);
    }
    /* RSS once the transit pools, socket buffers and allocator arenas are in use: a
     * measurement point, not a synchronisation. */
    uint64_t warm_ms = (uint64_t)seconds * 100; /* a tenth of the run */
    if (warm_ms < 1000) warm_ms = 1000;
    if (warm_ms > 30000) warm_ms = 30000;
    if (warm_ms >= (uint64_t)seconds * 1000) warm_ms = 0;
    long rss_start = 0;
    bool trss_ok = watch(start_ms, deadline, start_ms + warm_ms, &rss_start, targets, &trss_start);
    for (int i = 0; i < THREADS; i++)
        REQUIRE(pthread_join(th[i], NULL) == 0);
    uint64_t elapsed_ms = tu_now_ms() - start_ms;
    long rss_end = rss_kib();
    trss_ok = targets_rss(targets, &trss_end) && trss_ok;

    counters_t sum;
    memset(&sum, 0, sizeof(sum));
    for (int i = 0; i < THREADS; i++) {
        counters_t *c = &workers[i].c;
        sum.batches += c->batches;
        sum.descs += c->descs;
        sum.bytes += c->bytes;
        sum.write_batches += c->write_batches;
        sum.read_batches += c->read_batches;
        sum.verify_batches += c->verify_batches;
        sum.sync_batches += c->sync_batches;
        sum.async_batches += c->async_batches;
        sum.corruptions += c->corruptions;
        sum.errors += c->errors;
    }

    /* The targets' own view of every slice, against the mirrors. */
    uint64_t slices_checked = 0, corrupt_slices = 0;
    for (int t = 0; t < TARGETS; t++) {
        for (int i = 0; i < THREADS; i++) {
            if (workers[i].lost[t]) continue;
            char r[128];
            uint64_t got = 0;
            if (!target_cmd(&targets[t], r, sizeof(r), "sum %zu %zu", (size_t)i * SLICE,
                            (size_t)SLICE) ||
                sscanf(r, "sum %" SCNu64, &got) != 1) {
                sum.errors++;
                report("ERROR target %d did not answer a checksum request\n", t);
                continue;
            }
            slices_checked++;
            if (got != checksum(workers[i].mirror[t], SLICE)) {
                corrupt_slices++;
                report("CORRUPTION target %d: its memory of thread %d's slice differs from "
                       "what that thread wrote\n",
                       t, i);
            }
        }
    }
    uint64_t refused = 0, dropped = 0;
    for (int t = 0; t < TARGETS; t++) {
        char r[128];
        unsigned long long served, ref, drop;
        if (target_cmd(&targets[t], r, sizeof(r), "stats") &&
            sscanf(r, "stats %llu %llu %llu", &served, &ref, &drop) == 3) {
            refused += ref;
            dropped += drop;
        }
    }
    adxl_stats_t st = xc_stats(e);

    adxl_engine_destroy(e);
    int exits_bad = 0;
    for (int i = 0; i < TARGETS; i++) {
        tu_send_line(targets[i].ch.to_child, "exit");
        if (tu_wait_child(&targets[i].ch, 30000) != 0) exits_bad++;
    }
    for (int i = 0; i < THREADS; i++)
        worker_free(&workers[i]);

    bool lost = false;
    for (int i = 0; i < THREADS; i++)
        for (int t = 0; t < TARGETS; t++)
            lost = lost || workers[i].lost[t];
    long growth_kib = rss_end - rss_start;
    CHECK(sum.corruptions == 0);
    CHECK(corrupt_slices == 0);
    CHECK(sum.errors == 0);
    CHECK(!lost);
    CHECK(sum.batches > 0 && sum.write_batches > 0 && sum.read_batches > 0);
    CHECK(sum.sync_batches > 0 && sum.async_batches > 0);
    CHECK(slices_checked == (uint64_t)TARGETS * THREADS);
    CHECK(refused == 0 && dropped == 0 && st.links_dropped == 0);
    CHECK(exits_bad == 0);
    CHECK(trss_ok);
    long tgrowth_kib = trss_end - trss_start;
    if (rss_bound_mib > 0) {
        /* The bound is per process: the targets' sum may grow TARGETS times as much. */
        if (growth_kib > rss_bound_mib * 1024 || tgrowth_kib > rss_bound_mib * 1024 * TARGETS)
            fprintf(stderr,
                    "RSS grew by %ld KiB here and %ld KiB in the targets after the "
                    "warm-up (bound %ld MiB a process)\n",
                    growth_kib, tgrowth_kib, rss_bound_mib);
        CHECK(growth_kib <= rss_bound_mib * 1024);
        CHECK(tgrowth_kib <= rss_bound_mib * 1024 * TARGETS);
    }
    int rc = tu_finish();
    double secs = (double)elapsed_ms / 1000.0;
    printf("SOAK result=%s transport=%s seconds=%.1f threads=%d targets=%d seed=%" PRIu64
           " batches=%" PRIu64 " descs=%" PRIu64 " bytes=%" PRIu64 " gib_per_s=%.2f"
           " write_batches=%" PRIu64 " read_batches=%" PRIu64 " verify_batches=%" PRIu64
           " sync=%" PRIu64 " async=%" PRIu64 " direct=%" PRIu64 " buffered=%" PRIu64
           " corruptions=%" PRIu64 " corrupt_slices=%" PRIu64 " errors=%" PRIu64
           " rss_setup_kib=%ld rss_start_kib=%ld"
           " rss_end_kib=%ld rss_growth_kib=%ld rss_bound_mib=%ld targets_rss_start_kib=%ld"
           " targets_rss_end_kib=%ld\n",
           rc == 0 ? "pass" : "FAIL", transport, secs, THREADS, TARGETS, seed, sum.batches,
           sum.descs, sum.bytes, (double)sum.bytes / secs / (1u << 30), sum.write_batches,
           sum.read_batches, sum.verify_batches, sum.sync_batches, sum.async_batches,
           st.batches_direct, st.batches_buffered, sum.corruptions, corrupt_slices, sum.errors,
           rss_setup, rss_start, rss_end, growth_kib, rss_bound_mib, trss_start, trss_end);
    fflush(stdout);
    return rc;
}
