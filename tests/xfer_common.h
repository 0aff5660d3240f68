/*
 * Helpers shared by the tests/test_xfer_*.c programs (and only by them): an in-process
 * initiator/target pair over loopback, a forked peer process that serves a registered
 * buffer and runs commands sent over a pipe, stats deltas, and a small PRNG.
 */
#ifndef ADXL_TESTS_XFER_COMMON_H
#define ADXL_TESTS_XFER_COMMON_H

#include "testutil.h"
#include "xfer_mem.h"

#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define XC_KIB ((size_t)1024)
#define XC_MIB ((size_t)1024 * 1024)
#define XC_DIRECT_MIN (256 * XC_KIB)

/* A value in [lo, hi]. */
static inline size_t xc_rand_range(uint64_t *state, size_t lo, size_t hi) {
    return lo + (size_t)(tu_xorshift(state) % (uint64_t)(hi - lo + 1));
}

static inline void xc_shuffle(size_t *v, size_t n, uint64_t *state) {
    for (size_t i = 0; i < n; i++)
        v[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(tu_xorshift(state) % i);
        size_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

/*
 * An engine on "127.0.0.1:0". In a device run the calling thread has device 0 current
 * first: an engine takes the context of the thread that creates it, and one without a
 * context cannot open a peer's IPC handles (everything is staged then). So, as in a real
 * client, the runtime is set up before the engines.
 */
static inline adxl_engine_t *xc_engine(const adxl_option_t *opts, size_t num_opts) {
    if (xc_device_run() && !xc_runtime_ready()) return NULL;
    return tu_engine("127.0.0.1:0", opts, num_opts);
}

static inline adxl_mem_handle_t xc_register(adxl_engine_t *e, void *addr, size_t len) {
    adxl_mem_desc_t d = {(uintptr_t)addr, len};
    adxl_mem_handle_t h = NULL;
    adxl_status_t st = adxl_register_mem(e, &d, xc_mem_type(addr, len), &h);
    if (st != ADXL_SUCCESS) {
        fprintf(stderr, "adxl_register_mem(%p, %zu): %s\n", addr, len, adxl_status_str(st));
        return NULL;
    }
    return h;
}

static inline adxl_stats_t xc_stats(adxl_engine_t *e) {
    adxl_stats_t s;
    memset(&s, 0, sizeof(s));
    adxl_status_t st = adxl_get_stats(e, &s);
    if (st != ADXL_SUCCESS) fprintf(stderr, "adxl_get_stats: %s\n", adxl_status_str(st));
    return s;
}

/* Checks how two counters of adxl_stats_t moved between two snapshots. */
#define XC_CHECK_TWO_DELTAS(before, after, field1, want1, field2, want2)                           \
    do {                                                                                           \
        uint64_t xc_d1_ = (after).field1 - (before).field1;                                        \
        uint64_t xc_d2_ = (after).field2 - (before).field2;                                        \
        if (xc_d1_ != (uint64_t)(want1) || xc_d2_ != (uint64_t)(want2))                            \
            fprintf(stderr,                                                                        \
                    "%s:%d: " #field1 " moved +%" PRIu64 ", " #field2 " +%" PRIu64                 \
                    "; expected +%" PRIu64 ", +%" PRIu64 "\n",                                     \
                    __FILE__, __LINE__, xc_d1_, xc_d2_, (uint64_t)(want1), (uint64_t)(want2));     \
        CHECK(xc_d1_ == (uint64_t)(want1));                                                        \
        CHECK(xc_d2_ == (uint64_t)(want2));                                                        \
    } while (0)

/* Checks how the mode counters moved between two snapshots. */
#define XC_CHECK_MODE_DELTA(before, after, want_direct, want_buffered)                             \
    XC_CHECK_TWO_DELTAS(before, after, batches_direct, want_direct, batches_buffered, want_buffered)

/*
 * In a device run, does device memory of this process reach a peer process's one-sidedly,
 * the runtime copying device to device through a mapping of the peer's memory? That is
 * CUDA's IPC over the default transport (same host, shm); AscendCL (no IPC in the subset
 * adxl uses) and TCP stage every device byte through host memory.
 */
static inline bool xc_device_ipc(void) {
    const char *transport = getenv("ADXL_TRANSPORT"), *path = getenv("ADXL_SHM_PATH");
    return xc_device_run() && strcmp(tdev_kind(), "cuda") == 0 &&
           (!transport || !*transport || strcmp(transport, "auto") == 0) &&
           (!path || !*path || strcmp(path, "auto") == 0);
}

/* Checks how the device byte counters (local device memory that was staged through host
 * memory, or copied by the runtime into a mapping of the peer's) moved. */
#define XC_CHECK_DEVICE_BYTES(before, after, want_staged, want_mapped)                             \
    XC_CHECK_TWO_DELTAS(before, after, bytes_device_staged, want_staged, bytes_device_mapped,      \
                        want_mapped)

/* The same for len bytes between this process's transfer memory and a peer process's:
 * in a device run every byte mapped (xc_device_ipc) or every byte staged; else neither. */
#define XC_CHECK_DEVICE_PEER_DELTA(before, after, len)                                             \
    XC_CHECK_DEVICE_BYTES(before, after, xc_device_run() && !xc_device_ipc() ? (len) : 0,          \
                          xc_device_ipc() ? (len) : 0)

/* ---------------------------------------------------------------- in-process pair */

/*
 * Two engines in this process, "127.0.0.1:0" each: init connected to tgt. lbuf (lsize
 * bytes) is registered with init when reg_local; rbuf (rsize bytes) is registered with tgt.
 * Both are transfer memory (xc_alloc), except an unregistered lbuf: host memory, as ADXL
 * takes unregistered memory to be.
 */
typedef struct {
    adxl_engine_t *init;
    adxl_engine_t *tgt;
    char tname[128];
    uint8_t *lbuf;
    size_t lsize;
    adxl_mem_handle_t lh;
    uint8_t *rbuf;
    size_t rsize;
    adxl_mem_handle_t rh;
} xc_pair_t;

static inline bool xc_pair_open_opts(xc_pair_t *p, const adxl_option_t *iopts, size_t ni,
                                     const adxl_option_t *topts, size_t nt, size_t lsize,
                                     bool reg_local, size_t rsize) {
    memset(p, 0, sizeof(*p));
    p->tgt = xc_engine(topts, nt);
    p->init = xc_engine(iopts, ni);
    if (!p->tgt || !p->init) return false;
    const char *name = adxl_local_engine(p->tgt);
    if (!name) return false;
    snprintf(p->tname, sizeof(p->tname), "%s", name);
    if (lsize) {
        p->lbuf = reg_local ? xc_alloc(lsize) : xc_alloc_host(lsize);
        if (!p->lbuf) return false;
        p->lsize = lsize;
        if (reg_local && !(p->lh = xc_register(p->init, p->lbuf, lsize))) return false;
    }
    if (rsize) {
        p->rbuf = xc_alloc(rsize);
        if (!p->rbuf) return false;
        p->rsize = rsize;
        if (!(p->rh = xc_register(p->tgt, p->rbuf, rsize))) return false;
    }
    adxl_status_t st = adxl_connect(p->init, p->tname, 10000);
    if (st != ADXL_SUCCESS) {
        fprintf(stderr, "adxl_connect(%s): %s\n", p->tname, adxl_status_str(st));
        return false;
    }
    return true;
}

static inline bool xc_pair_open(xc_pair_t *p, size_t lsize, bool reg_local, size_t rsize) {
    return xc_pair_open_opts(p, NULL, 0, NULL, 0, lsize, reg_local, rsize);
}

static inline void xc_pair_close(xc_pair_t *p) {
    adxl_engine_destroy(p->init);
    adxl_engine_destroy(p->tgt);
    xc_free(p->lbuf);
    xc_free(p->rbuf);
    memset(p, 0, sizeof(*p));
}

static inline adxl_status_t xc_xfer1(adxl_engine_t *e, const char *remote, adxl_transfer_op_t op,
                                     const void *local, uintptr_t remote_addr, size_t len,
                                     int32_t timeout_ms) {
    adxl_transfer_op_desc_t d = {(uintptr_t)local, remote_addr, len};
    return adxl_transfer_sync(e, remote, op, &d, 1, timeout_ms);
}

/* ---------------------------------------------------------------- peer process */

/*
 * A forked peer: it creates an engine on "127.0.0.1:0" with the given options, allocates
 * (xc_alloc: device memory in a device run, through a runtime it opens itself) and
 * registers size bytes, sends "ready NAME ADDR", then serves one command per line:
 *   fill SEED OFF LEN          -> ok | bad
 *   inv SEED OFF LEN           -> ok | bad  (xc_fill_inverse there)
 *   verify SEED OFF LEN        -> ok | bad
 *   late OLD SENT LATE OFF LEN -> late N    (xc_count_late there)
 *   connect NAME               -> st N
 *   write NAME OFF RADDR LEN   -> st N      (sync WRITE of its buf+OFF to RADDR)
 *   read NAME OFF RADDR LEN    -> st N      (sync READ of RADDR into its buf+OFF)
 *   stats                      -> stats DIRECT BUFFERED SERVED REFUSED DROPPED ONE_SIDED
 *   ping                       -> pong
 *   exit                       -> bye, then it exits 0
 * It dies with its parent, and exits by itself after a minute without commands.
 */
typedef struct {
    const adxl_option_t *opts;
    size_t num_opts;
    size_t size;
} xc_peer_cfg_t;

typedef struct {
    tu_child_t ch;
    char name[128];
    uint8_t *addr; /* in the child's address space */
    size_t size;
    bool alive;
} xc_peer_t;

/*
 * Counts the bytes that can only have come from data written to the source after a
 * WRITE returned: equal to the late pattern, unequal to the old content, to what the call
 * sent and to zero (the engine may finish an abandoned frame with zeros, and a failed
 * WRITE leaves the target range unspecified otherwise).
 */
static inline size_t xc_count_late(const uint8_t *p, size_t len, uint64_t old_seed,
                                   uint64_t sent_seed, uint64_t late_seed) {
    size_t late = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t b = p[i];
        if (b != 0 && b == tu_pattern_byte(late_seed, i) && b != tu_pattern_byte(old_seed, i) &&
            b != tu_pattern_byte(sent_seed, i))
            late++;
    }
    return late;
}

/*
 * The peer's own thread touches its buffer only when the parent says so, i.e. ordered
 * through another process, which ThreadSanitizer cannot see; under TSan those accesses
 * are left out of race detection (the engine's threads are still checked).
 */
#if defined(__SANITIZE_THREAD__)
#define XC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define XC_TSAN 1
#endif
#endif
#ifdef XC_TSAN
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
#define XC_EXTERNALLY_ORDERED_BEGIN() __tsan_ignore_thread_begin()
#define XC_EXTERNALLY_ORDERED_END() __tsan_ignore_thread_end()
#else
#define XC_EXTERNALLY_ORDERED_BEGIN() ((void)0)
#define XC_EXTERNALLY_ORDERED_END() ((void)0)
#endif

static inline int xc_peer_main(void *arg, int to_parent, int from_parent) {
    const xc_peer_cfg_t *cfg = arg;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) return 3;
    adxl_engine_t *e = xc_engine(cfg->opts, cfg->num_opts);
    if (!e) {
        tu_send_line(to_parent, "error engine");
        return 1;
    }
    uint8_t *buf = xc_alloc(cfg->size);
    adxl_mem_handle_t h = buf ? xc_register(e, buf, cfg->size) : NULL;
    if (!h) {
        tu_send_line(to_parent, "error memory");
        return 1;
    }
    tu_send_line(to_parent, "ready %s %" PRIuPTR, adxl_local_engine(e), (uintptr_t)buf);
    char line[512];
    int rc = 2;
    while (tu_recv_line(from_parent, line, sizeof(line), 60000)) {
        char name[256];
        unsigned long long a, b, c, d, f;
        bool ok = true;
        if (sscanf(line, "fill %llu %llu %llu", &a, &b, &c) == 3) {
            XC_EXTERNALLY_ORDERED_BEGIN();
            ok = xc_fill(buf + b, (size_t)c, a);
            XC_EXTERNALLY_ORDERED_END();
            tu_send_line(to_parent, ok ? "ok" : "bad");
        } else if (sscanf(line, "inv %llu %llu %llu", &a, &b, &c) == 3) {
            XC_EXTERNALLY_ORDERED_BEGIN();
            ok = xc_fill_inverse(buf + b, (size_t)c, a);
            XC_EXTERNALLY_ORDERED_END();
            tu_send_line(to_parent, ok ? "ok" : "bad");
        } else if (sscanf(line, "verify %llu %llu %llu", &a, &b, &c) == 3) {
            XC_EXTERNALLY_ORDERED_BEGIN();
            ok = xc_verify(buf + b, (size_t)c, a);
            XC_EXTERNALLY_ORDERED_END();
            tu_send_line(to_parent, ok ? "ok" : "bad");
        } else if (sscanf(line, "late %llu %llu %llu %llu %llu", &a, &b, &c, &d, &f) == 5) {
            XC_EXTERNALLY_ORDERED_BEGIN();
            uint8_t *got = xc_read_back(buf + d, (size_t)f);
            XC_EXTERNALLY_ORDERED_END();
            size_t n = got ? xc_count_late(got, (size_t)f, a, b, c) : SIZE_MAX;
            free(got);
            tu_send_line(to_parent, "late %zu", n);
        } else if (sscanf(line, "connect %255s", name) == 1) {
            tu_send_line(to_parent, "st %u", adxl_connect(e, name, 10000));
        } else if (sscanf(line, "write %255s %llu %llu %llu", name, &a, &b, &c) == 4) {
            tu_send_line(to_parent, "st %u",
                         xc_xfer1(e, name, ADXL_WRITE, buf + a, (uintptr_t)b, (size_t)c, 20000));
        } else if (sscanf(line, "read %255s %llu %llu %llu", name, &a, &b, &c) == 4) {
            tu_send_line(to_parent, "st %u",
                         xc_xfer1(e, name, ADXL_READ, buf + a, (uintptr_t)b, (size_t)c, 20000));
        } else if (strcmp(line, "stats") == 0) {
            adxl_stats_t s = xc_stats(e);
            tu_send_line(to_parent,
                         "stats %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
                         " %" PRIu64 " %" PRIu64,
                         s.batches_direct, s.batches_buffered, s.frames_served, s.frames_refused,
                         s.links_dropped, tu_one_sided_bytes(&s), s.bytes_ucx);
        } else if (strcmp(line, "ping") == 0) {
            tu_send_line(to_parent, "pong");
        } else if (strcmp(line, "exit") == 0) {
            rc = 0;
            break;
        } else {
            tu_send_line(to_parent, "unknown");
        }
    }
    adxl_engine_destroy(e);
    xc_free(buf);
    if (rc == 0) tu_send_line(to_parent, "bye");
    return rc;
}

/* Forks the peer and waits for its ready line. */
static inline bool xc_peer_start(xc_peer_t *p, const xc_peer_cfg_t *cfg) {
    memset(p, 0, sizeof(*p));
    /* A real CUDA does not survive fork(): the peer opens its own runtime, and cannot
     * when this process had it loaded already. The doubles would not notice. */
    if (xc_runtime_loaded()) {
        fprintf(stderr,
                "xc_peer_start: fork peers before this process loads the %s runtime "
                "(its first engine or device allocation)\n",
                tdev_kind());
        return false;
    }
    if (!tu_spawn(&p->ch, xc_peer_main, (void *)cfg)) return false;
    p->alive = true;
    char line[512];
    uintptr_t addr = 0;
    if (!tu_recv_line(p->ch.from_child, line, sizeof(line), 20000)) {
        fprintf(stderr, "peer %d: no ready line\n", (int)p->ch.pid);
        return false;
    }
    if (sscanf(line, "ready %127s %" SCNuPTR, p->name, &addr) != 2) {
        fprintf(stderr, "peer %d: bad ready line '%s'\n", (int)p->ch.pid, line);
        return false;
    }
    p->addr = (uint8_t *)addr;
    p->size = cfg->size;
    return true;
}

/* Sends one command and reads the reply line; false on a broken pipe or timeout. */
static inline bool xc_peer_cmd(xc_peer_t *p, char *reply, size_t cap, int timeout_ms,
                               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static inline bool xc_peer_cmd(xc_peer_t *p, char *reply, size_t cap, int timeout_ms,
                               const char *fmt, ...) {
    char cmd[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    if (!tu_send_line(p->ch.to_child, "%s", cmd)) return false;
    if (!tu_recv_line(p->ch.from_child, reply, cap, timeout_ms)) {
        fprintf(stderr, "peer %d: no reply to '%s'\n", (int)p->ch.pid, cmd);
        return false;
    }
    return true;
}

static inline bool xc_peer_fill(xc_peer_t *p, uint64_t seed, size_t off, size_t len) {
    char r[64];
    return xc_peer_cmd(p, r, sizeof(r), 30000, "fill %" PRIu64 " %zu %zu", seed, off, len) &&
           strcmp(r, "ok") == 0;
}

static inline bool xc_peer_inv(xc_peer_t *p, uint64_t seed, size_t off, size_t len) {
    char r[64];
    return xc_peer_cmd(p, r, sizeof(r), 30000, "inv %" PRIu64 " %zu %zu", seed, off, len) &&
           strcmp(r, "ok") == 0;
}

static inline bool xc_peer_verify(xc_peer_t *p, uint64_t seed, size_t off, size_t len) {
    char r[64];
    return xc_peer_cmd(p, r, sizeof(r), 30000, "verify %" PRIu64 " %zu %zu", seed, off, len) &&
           strcmp(r, "ok") == 0;
}

/* The peer's xc_count_late over [off, off + len); SIZE_MAX when it did not answer. */
static inline size_t xc_peer_count_late(xc_peer_t *p, uint64_t old_seed, uint64_t sent_seed,
                                        uint64_t late_seed, size_t off, size_t len) {
    char r[64];
    size_t n = 0;
    if (!xc_peer_cmd(p, r, sizeof(r), 30000, "late %" PRIu64 " %" PRIu64 " %" PRIu64 " %zu %zu",
                     old_seed, sent_seed, late_seed, off, len) ||
        sscanf(r, "late %zu", &n) != 1)
        return SIZE_MAX;
    return n;
}

static inline bool xc_peer_ping(xc_peer_t *p, int timeout_ms) {
    char r[64];
    return xc_peer_cmd(p, r, sizeof(r), timeout_ms, "ping") && strcmp(r, "pong") == 0;
}

/* Runs a status-returning command ("connect", "write", "read"); returns the status, or
 * ADXL_FAILED + 1 when the peer did not answer. */
static inline adxl_status_t xc_peer_status_cmd(xc_peer_t *p, const char *cmd) {
    char r[64];
    unsigned st = 0;
    if (!xc_peer_cmd(p, r, sizeof(r), 60000, "%s", cmd) || sscanf(r, "st %u", &st) != 1)
        return ADXL_FAILED + 1;
    return (adxl_status_t)st;
}

static inline bool xc_peer_stats(xc_peer_t *p, adxl_stats_t *s) {
    char r[256];
    memset(s, 0, sizeof(*s));
    unsigned long long a, b, c, d, e, f, g;
    if (!xc_peer_cmd(p, r, sizeof(r), 30000, "stats") ||
        sscanf(r, "stats %llu %llu %llu %llu %llu %llu %llu", &a, &b, &c, &d, &e, &f, &g) != 7)
        return false;
    s->bytes_mapped = f; /* mapped and CMA together: what tu_one_sided_bytes reads */
    s->bytes_ucx = g;
    s->batches_direct = a;
    s->batches_buffered = b;
    s->frames_served = c;
    s->frames_refused = d;
    s->links_dropped = e;
    return true;
}

/* Asks the peer to exit and reaps it; returns its exit status (0 when all went well). */
static inline int xc_peer_stop(xc_peer_t *p) {
    if (!p->alive) return -1;
    p->alive = false;
    tu_send_line(p->ch.to_child, "exit");
    return tu_wait_child(&p->ch, 20000);
}

/* Kills the peer (if still there) and reaps it. */
static inline void xc_peer_kill(xc_peer_t *p) {
    if (!p->alive) return;
    p->alive = false;
    kill(p->ch.pid, SIGCONT);
    kill(p->ch.pid, SIGKILL);
    tu_wait_child(&p->ch, 20000);
}

#endif
