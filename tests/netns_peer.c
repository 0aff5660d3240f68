/*
 * The two peers of tests/test_netns.sh, which runs them in two network namespaces joined
 * by a veth pair, so that every transfer crosses a real (virtual) link between two IPs.
 * Which transport an engine runs comes from the environment the script gives it
 * (ADXL_TRANSPORT, ADXL_UCX_ASSUME_RDMA, UCX_TLS), except where a scenario below names one.
 *
 *   netns_peer target IP
 *     Creates engine "IP:0", registers a 128 MiB buffer from adxl_malloc_mem, prints
 *     "READY <engine-name> <addr-in-hex> <len> <pid>" and then serves commands on stdin, one
 *     per line, answering each on stdout:
 *       fill SEED             fill the buffer with tu_fill(SEED)       -> "OK"
 *       verify SEED OFF LEN   bytes OFF..OFF+LEN-1 hold what tu_fill(SEED) wrote there
 *                             (byte i holds tu_pattern_byte(SEED, i))  -> "OK" | "BAD <offset>"
 *       xreg LEN              allocate and register a second region     -> "OK <addr-in-hex>"
 *       xfill, xverify        fill and verify on the second region (also once deregistered)
 *       xdereg                deregister the second region, keeping its memory -> "OK"
 *       xfree                 deregister (if still registered) and free it -> "OK"
 *       notify MS             wait up to MS ms for a notify -> "OK <name> <msg>" | "NONE ..."
 *       exit                  deregister, free, destroy and exit 0
 *
 *   netns_peer has-ucx LOCAL_IP
 *     Whether this build has the UCX transport: initializes a Transport=ucx engine and
 *     prints why not; exit status 0 yes, 77 no (ADXL_UNSUPPORTED), 1 it failed otherwise.
 *
 *   netns_peer initiator LOCAL_IP TARGET_NAME ADDR LEN SCENARIO
 *     Connects from a client-only engine LOCAL_IP to TARGET_NAME, whose registered region is
 *     ADDR (hex) / LEN, and runs SCENARIO, checking every byte that moves. The target's
 *     command channel is fd 3 (its stdin) and fd 4 (its stdout). Scenarios:
 *       basic     WRITE and READ, buffered (4 KiB x 256, unregistered local memory) and direct
 *                 (1 MiB x 16, one 64 MiB descriptor), async, refused out-of-range ranges;
 *                 Transport=auto chose TCP (another namespace is another host, and no RDMA
 *                 device: bytes_ucx stays 0), Transport=shm refuses the target with
 *                 ADXL_UNSUPPORTED, and so does Transport=ucx (the target runs no UCX)
 *       delay     the link has netem delay: the same data with a timeout of several seconds
 *       linkdown  a transfer loop during which the test cuts the link: prints "CUT" on
 *                 stdout once the loop runs, expects a transfer to fail within its timeout
 *                 plus a bound (and the next one too), prints "DOWN <status> <batches that
 *                 went through after CUT>", waits for "UP" on stdin, checks that nothing
 *                 landed in its buffers since, disconnects, reconnects and moves verified
 *                 data again
 *       ucx       Transport=ucx (against a UCX target): the data of basic, async, refused
 *                 ranges, every byte of it counted in bytes_ucx; a notify; a region the
 *                 target registers after the link exists is usable at once; once the
 *                 target deregisters it, a WRITE or READ there is ADXL_PARAM_INVALID and
 *                 moves no byte either way, and the link goes on working
 *       auto-ucx  Transport=auto: verified data, all of it in bytes_ucx (the test gives both
 *                 ends ADXL_UCX_ASSUME_RDMA=1)
 *       auto-tcp  Transport=auto: verified data, none of it in bytes_ucx (this end claims no
 *                 RDMA device)
 *       ucxkill   Transport=ucx: a stream of async READs and WRITEs, 4 in flight; prints
 *                 "KILL" once it runs, and the test SIGKILLs the target and answers "KILLED"
 *                 on stdin once the process is gone. Every request ends within its timeout
 *                 plus a bound; a READ that completes holds the target's data; none posted
 *                 after KILLED completes; then adxl_connect to the dead name fails
 *     Ends with "N passed, M failed" on stdout; exit status 0 when all checks passed.
 */
#include "testutil.h"

#include "bench_pattern.h"

#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KIB ((size_t)1024)
#define MIB (KIB * KIB)
#define REGION_LEN (128 * MIB)
#define CMD_FD 3
#define RESP_FD 4
#define TARGET_REPLY_MS 120000 /* a verify of 128 MiB under a sanitizer is slow */

/* Where the lines for the script go (see main). */
static FILE *proto;

/* Both peers agree on data through the one pattern (bench_pattern.h, as tu_fill writes it):
 * p[i] = tu_pattern_byte(seed, base + i) for i < len. */
static void pattern_fill_at(uint8_t *p, size_t len, uint64_t seed, size_t base) {
    bench_pattern_fill(p, len, seed, base);
}

/* Whether p[i] == tu_pattern_byte(seed, base + i) for i < len; else *bad = base + i of the
 * first byte that differs. */
static bool pattern_check_at(const uint8_t *p, size_t len, uint64_t seed, size_t base,
                             size_t *bad) {
    uint8_t want;
    size_t i = bench_pattern_check(p, len, seed, base, &want);
    if (i == SIZE_MAX) return true;
    *bad = base + i;
    return false;
}

/* ---- target ---- */

typedef struct {
    uint8_t *buf; /* NULL: none */
    size_t len;
    adxl_mem_handle_t handle; /* NULL once deregistered */
} region_t;

static adxl_status_t region_release(adxl_engine_t *engine, region_t *r) {
    adxl_status_t st = ADXL_SUCCESS, fst = ADXL_SUCCESS;
    if (r->handle != NULL) st = adxl_deregister_mem(engine, r->handle);
    if (r->buf != NULL) fst = adxl_free_mem(r->buf);
    if (st != ADXL_SUCCESS)
        fprintf(stderr, "target: adxl_deregister_mem: %s\n", adxl_status_str(st));
    if (fst != ADXL_SUCCESS) fprintf(stderr, "target: adxl_free_mem: %s\n", adxl_status_str(fst));
    *r = (region_t){0};
    return st != ADXL_SUCCESS ? st : fst;
}

/* xreg LEN: a second region, registered while initiators may be linked already. */
static void target_xreg(adxl_engine_t *engine, region_t *x, unsigned long long len) {
    if (x->buf != NULL || len == 0 || len > REGION_LEN) {
        fprintf(proto, "ERR xreg: %s\n", x->buf != NULL ? "there is one already" : "bad length");
        return;
    }
    void *p = NULL;
    adxl_status_t st = adxl_malloc_mem(ADXL_MEM_HOST, (size_t)len, &p);
    if (st != ADXL_SUCCESS) {
        fprintf(proto, "ERR adxl_malloc_mem: %s\n", adxl_status_str(st));
        return;
    }
    adxl_mem_desc_t mem = {.addr = (uintptr_t)p, .len = (size_t)len};
    adxl_mem_handle_t h = NULL;
    st = adxl_register_mem(engine, &mem, ADXL_MEM_HOST, &h);
    if (st != ADXL_SUCCESS) {
        adxl_free_mem(p);
        fprintf(proto, "ERR adxl_register_mem: %s\n", adxl_status_str(st));
        return;
    }
    *x = (region_t){.buf = p, .len = (size_t)len, .handle = h};
    fprintf(proto, "OK 0x%" PRIxPTR "\n", (uintptr_t)p);
}

/* notify MS: the first notify that arrives within MS ms. */
static void target_notify(adxl_engine_t *engine, unsigned long long ms) {
    adxl_notify_t n;
    size_t count = 0;
    adxl_status_t st;
    uint64_t until = tu_now_ms() + ms;
    for (;;) {
        st = adxl_get_notifies(engine, &n, 1, &count);
        if (st != ADXL_SUCCESS || count > 0 || tu_now_ms() >= until) break;
        struct timespec nap = {0, 1000000};
        nanosleep(&nap, NULL);
    }
    if (count > 0)
        fprintf(proto, "OK %s %s\n", n.name, n.msg);
    else
        fprintf(proto, "NONE %s\n", adxl_status_str(st));
}

static int run_target(const char *ip) {
    char name[128];
    snprintf(name, sizeof(name), "%s:0", ip);
    adxl_engine_t *engine = tu_engine(name, NULL, 0);
    if (engine == NULL) return 1;
    region_t main_region = {.len = REGION_LEN}, extra = {0};
    void *buf = NULL;
    adxl_status_t st = adxl_malloc_mem(ADXL_MEM_HOST, REGION_LEN, &buf);
    if (st != ADXL_SUCCESS) {
        fprintf(stderr, "target: adxl_malloc_mem: %s\n", adxl_status_str(st));
        adxl_engine_destroy(engine);
        return 1;
    }
    main_region.buf = buf;
    adxl_mem_desc_t mem = {.addr = (uintptr_t)buf, .len = REGION_LEN};
    st = adxl_register_mem(engine, &mem, ADXL_MEM_HOST, &main_region.handle);
    if (st != ADXL_SUCCESS) {
        fprintf(stderr, "target: adxl_register_mem: %s\n", adxl_status_str(st));
        adxl_free_mem(buf);
        adxl_engine_destroy(engine);
        return 1;
    }
    const char *local = adxl_local_engine(engine);
    fprintf(proto, "READY %s 0x%" PRIxPTR " %zu %ld\n", local ? local : "(null)", (uintptr_t)buf,
            (size_t)REGION_LEN, (long)getpid());
    fflush(proto);

    int rc = 1;
    char line[256];
    while (fgets(line, sizeof(line), stdin) != NULL) {
        unsigned long long seed, off, len;
        /* "x" before fill or verify: the second region. */
        region_t *r = line[0] == 'x' ? &extra : &main_region;
        const char *cmd = line[0] == 'x' ? line + 1 : line;
        if (sscanf(line, "xreg %llu", &len) == 1) {
            target_xreg(engine, &extra, len);
        } else if (strncmp(line, "xdereg", 6) == 0) {
            st = extra.handle != NULL ? adxl_deregister_mem(engine, extra.handle)
                                      : ADXL_PARAM_INVALID;
            extra.handle = NULL;
            if (st == ADXL_SUCCESS)
                fprintf(proto, "OK\n");
            else
                fprintf(proto, "ERR adxl_deregister_mem: %s\n", adxl_status_str(st));
        } else if (strncmp(line, "xfree", 5) == 0) {
            st = region_release(engine, &extra);
            fputs(st == ADXL_SUCCESS ? "OK\n" : "ERR xfree\n", proto);
        } else if (sscanf(line, "notify %llu", &len) == 1) {
            target_notify(engine, len);
        } else if (sscanf(cmd, "fill %llu", &seed) == 1) {
            if (r->buf == NULL) {
                fprintf(proto, "ERR no such region\n");
            } else {
                pattern_fill_at(r->buf, r->len, seed, 0);
                fprintf(proto, "OK\n");
            }
        } else if (sscanf(cmd, "verify %llu %llu %llu", &seed, &off, &len) == 3) {
            size_t bad = 0;
            if (r->buf == NULL || off > r->len || len > r->len - off)
                fprintf(proto, "BAD range\n");
            else if (pattern_check_at(r->buf + off, len, seed, off, &bad))
                fprintf(proto, "OK\n");
            else
                fprintf(proto, "BAD %zu\n", bad);
        } else if (strncmp(line, "exit", 4) == 0) {
            rc = 0;
            break;
        } else {
            fprintf(proto, "ERR unknown command\n");
        }
        fflush(proto);
    }
    if (rc != 0) fprintf(stderr, "target: stdin closed without exit\n");
    if (region_release(engine, &extra) != ADXL_SUCCESS) rc = 1;
    st = adxl_deregister_mem(engine, main_region.handle);
    if (st != ADXL_SUCCESS) {
        fprintf(stderr, "target: adxl_deregister_mem: %s\n", adxl_status_str(st));
        rc = 1;
    }
    adxl_engine_destroy(engine);
    st = adxl_free_mem(buf);
    if (st != ADXL_SUCCESS) {
        fprintf(stderr, "target: adxl_free_mem: %s\n", adxl_status_str(st));
        rc = 1;
    }
    return rc;
}

/* ---- has-ucx ---- */

/* Initializes an engine with the given options; its status, and the engine on success. */
static adxl_status_t engine_with(const char *name, const adxl_option_t *opts, size_t n,
                                 adxl_engine_t **out) {
    *out = NULL;
    adxl_engine_t *engine = NULL;
    adxl_status_t st = adxl_engine_create(&engine);
    if (st != ADXL_SUCCESS) return st;
    st = adxl_initialize(engine, name, opts, n);
    if (st != ADXL_SUCCESS) {
        adxl_engine_destroy(engine);
        return st;
    }
    *out = engine;
    return ADXL_SUCCESS;
}

static const adxl_option_t opt_ucx = {"Transport", "ucx"};
static const adxl_option_t opt_auto = {"Transport", "auto"};

static int run_has_ucx(const char *ip) {
    adxl_engine_t *engine = NULL;
    adxl_status_t st = engine_with(ip, &opt_ucx, 1, &engine);
    if (st == ADXL_SUCCESS) {
        fprintf(proto, "UCX: a Transport=ucx engine initializes\n");
        adxl_engine_destroy(engine);
        return 0;
    }
    fprintf(proto, "UCX: a Transport=ucx engine does not initialize: %s (%u)%s\n",
            adxl_status_str(st), st,
            st == ADXL_UNSUPPORTED ? ": this build has no UCX transport" : "");
    return st == ADXL_UNSUPPORTED ? 77 : 1;
}

/* ---- initiator ---- */

typedef struct {
    size_t loff; /* offset into the local buffer of the case */
    size_t roff; /* offset into the target's region */
    size_t len;
} span_t;

typedef struct {
    adxl_engine_t *engine;
    const char *remote;
    uintptr_t raddr;
    size_t rlen;
    uint8_t *local; /* registered, REGION_LEN bytes */
    uint8_t *plain; /* malloc'd, never registered */
    size_t plain_len;
    uint64_t next_seed;
    const char *rx; /* the target's command prefix for the region at raddr: "" or "x" */
    int expect_ucx; /* per transfer, bytes_ucx grows by: -1 unchecked, 0 nothing, 1 all */
} drv_t;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

/* Sends one command to the target and leaves its answer in reply. */
static bool target_vcmd(const char *what, char *reply, size_t cap, const char *fmt, va_list ap) {
    char cmd[256];
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    if (!tu_send_line(CMD_FD, "%s", cmd)) {
        logf_("%s: cannot send '%s' to the target", what, cmd);
        return false;
    }
    if (!tu_recv_line(RESP_FD, reply, cap, TARGET_REPLY_MS)) {
        logf_("%s: no answer from the target to '%s'", what, cmd);
        return false;
    }
    return true;
}

static bool target_cmd(const char *what, char *reply, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool target_cmd(const char *what, char *reply, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    bool ok = target_vcmd(what, reply, cap, fmt, ap);
    va_end(ap);
    return ok;
}

/* Sends one command to the target and checks that it answers "OK". */
static bool target_ok(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool target_ok(const char *what, const char *fmt, ...) {
    char cmd[256], reply[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    va_start(ap, fmt);
    bool sent = target_vcmd(what, reply, sizeof(reply), fmt, ap);
    va_end(ap);
    if (!sent) return false;
    if (strcmp(reply, "OK") != 0) {
        logf_("%s: target answered '%s' to '%s'", what, reply, cmd);
        return false;
    }
    return true;
}

static int cmp_roff(const void *a, const void *b) {
    const span_t *x = a, *y = b;
    return x->roff < y->roff ? -1 : x->roff > y->roff;
}

static int cmp_loff(const void *a, const void *b) {
    const span_t *x = a, *y = b;
    return x->loff < y->loff ? -1 : x->loff > y->loff;
}

static adxl_transfer_op_desc_t *make_descs(const drv_t *d, const uint8_t *lbase,
                                           const span_t *spans, size_t n) {
    adxl_transfer_op_desc_t *descs = calloc(n, sizeof(*descs));
    if (descs == NULL) return NULL;
    for (size_t i = 0; i < n; i++) {
        descs[i].local_addr = (uintptr_t)(lbase + spans[i].loff);
        descs[i].remote_addr = d->raddr + spans[i].roff;
        descs[i].len = spans[i].len;
    }
    return descs;
}

/* After a WRITE: the target holds seed at every span and bg everywhere else. */
static bool verify_remote(const char *rx, const span_t *spans, size_t n, uint64_t seed, uint64_t bg,
                          size_t rlen, const char *label) {
    span_t *sorted = malloc(n * sizeof(*sorted));
    if (sorted == NULL) return false;
    memcpy(sorted, spans, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), cmp_roff);
    bool ok = true;
    size_t pos = 0;
    for (size_t i = 0; i < n && ok; i++) {
        if (sorted[i].roff > pos)
            ok =
                target_ok(label, "%sverify %" PRIu64 " %zu %zu", rx, bg, pos, sorted[i].roff - pos);
        if (ok)
            ok = target_ok(label, "%sverify %" PRIu64 " %zu %zu", rx, seed, sorted[i].roff,
                           sorted[i].len);
        pos = sorted[i].roff + sorted[i].len;
    }
    if (ok && pos < rlen)
        ok = target_ok(label, "%sverify %" PRIu64 " %zu %zu", rx, bg, pos, rlen - pos);
    free(sorted);
    return ok;
}

/* After a READ: every span of the local buffer holds the target's seed pattern at its
 * remote offset, and the rest of the local buffer still holds bg. */
static bool verify_local(const uint8_t *lbase, size_t lcap, const span_t *spans, size_t n,
                         uint64_t seed, uint64_t bg, const char *label) {
    span_t *sorted = malloc(n * sizeof(*sorted));
    if (sorted == NULL) return false;
    memcpy(sorted, spans, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), cmp_loff);
    bool ok = true;
    size_t pos = 0, bad = 0;
    for (size_t i = 0; i < n && ok; i++) {
        if (sorted[i].loff > pos &&
            !pattern_check_at(lbase + pos, sorted[i].loff - pos, bg, pos, &bad)) {
            logf_("%s: local byte %zu outside every descriptor was overwritten", label, bad);
            ok = false;
        } else if (!pattern_check_at(lbase + sorted[i].loff, sorted[i].len, seed, sorted[i].roff,
                                     &bad)) {
            logf_("%s: local byte %zu (remote offset %zu) holds 0x%02x, expected 0x%02x", label,
                  sorted[i].loff + (bad - sorted[i].roff), bad,
                  lbase[sorted[i].loff + (bad - sorted[i].roff)], tu_pattern_byte(seed, bad));
            ok = false;
        }
        pos = sorted[i].loff + sorted[i].len;
    }
    if (ok && pos < lcap && !pattern_check_at(lbase + pos, lcap - pos, bg, pos, &bad)) {
        logf_("%s: local byte %zu outside every descriptor was overwritten", label, bad);
        ok = false;
    }
    free(sorted);
    return ok;
}

enum { MODE_BUFFERED, MODE_DIRECT, MODE_ANY };

/*
 * One verified transfer: op over spans between lbase (lcap bytes: the registered buffer or
 * the plain one) and the target's region, synchronously (or async when async is set).
 * Checks the status, every byte on both sides, which mode the stats say carried it, and
 * whether UCX did (d->expect_ucx).
 * Returns the transfer's status.
 */
static adxl_status_t run_case(drv_t *d, const char *label, adxl_transfer_op_t op,
                              const span_t *spans, size_t n, uint8_t *lbase, size_t lcap, int mode,
                              int32_t timeout_ms, bool async) {
    uint64_t seed = d->next_seed++, bg = d->next_seed++;
    size_t total = 0, extent = 0;
    for (size_t i = 0; i < n; i++) {
        total += spans[i].len;
        if (spans[i].loff + spans[i].len > extent) extent = spans[i].loff + spans[i].len;
    }
    /* Only the part of the local buffer around the spans is filled and checked. */
    if (extent + 64 * KIB < lcap) lcap = extent + 64 * KIB;
    if (op == ADXL_WRITE) {
        REQUIRE(target_ok(label, "%sfill %" PRIu64, d->rx, bg));
        for (size_t i = 0; i < n; i++)
            pattern_fill_at(lbase + spans[i].loff, spans[i].len, seed, spans[i].roff);
    } else {
        REQUIRE(target_ok(label, "%sfill %" PRIu64, d->rx, seed));
        pattern_fill_at(lbase, lcap, bg, 0);
    }
    adxl_transfer_op_desc_t *descs = make_descs(d, lbase, spans, n);
    REQUIRE(descs != NULL);
    adxl_stats_t before, after;
    CHECK_STATUS(adxl_get_stats(d->engine, &before), ADXL_SUCCESS);

    uint64_t t0 = tu_now_ms();
    adxl_status_t st;
    if (!async) {
        st = adxl_transfer_sync(d->engine, d->remote, op, descs, n, timeout_ms);
    } else {
        adxl_transfer_args_t args = {.timeout_ms = timeout_ms, .user_data = NULL};
        adxl_transfer_req_t req = NULL;
        st = adxl_transfer_async(d->engine, d->remote, op, descs, n, &args, &req);
        if (st == ADXL_SUCCESS) {
            adxl_transfer_status_t ts = ADXL_TRANSFER_WAITING;
            uint64_t limit = t0 + (uint64_t)timeout_ms + 10000;
            do {
                st = adxl_get_transfer_status(d->engine, req, &ts);
                if (st != ADXL_SUCCESS || ts != ADXL_TRANSFER_WAITING) break;
                struct timespec nap = {0, 1000000};
                nanosleep(&nap, NULL);
            } while (tu_now_ms() < limit);
            if (st == ADXL_SUCCESS && ts != ADXL_TRANSFER_COMPLETED) {
                logf_("%s: async request ended in state %d", label, (int)ts);
                st = ts == ADXL_TRANSFER_TIMEOUT ? ADXL_TIMEOUT : ADXL_FAILED;
            }
        }
    }
    uint64_t ms = tu_now_ms() - t0;
    free(descs);
    CHECK_STATUS(st, ADXL_SUCCESS);
    if (st != ADXL_SUCCESS) {
        logf_("%s: %s after %" PRIu64 " ms", label, adxl_status_str(st), ms);
        return st;
    }

    CHECK_STATUS(adxl_get_stats(d->engine, &after), ADXL_SUCCESS);
    uint64_t dbuf = after.batches_buffered - before.batches_buffered;
    uint64_t ddir = after.batches_direct - before.batches_direct;
    if (mode == MODE_BUFFERED)
        CHECK(dbuf >= 1 && ddir == 0);
    else if (mode == MODE_DIRECT)
        CHECK(ddir >= 1 && dbuf == 0);
    if (op == ADXL_WRITE)
        CHECK(after.bytes_written - before.bytes_written == total);
    else
        CHECK(after.bytes_read - before.bytes_read == total);
    uint64_t ducx = after.bytes_ucx - before.bytes_ucx;
    if (d->expect_ucx == 0 && ducx != 0) {
        logf_("%s: UCX carried %" PRIu64 " bytes, expected none", label, ducx);
        CHECK(false);
    } else if (d->expect_ucx == 1 && ducx != total) {
        logf_("%s: UCX carried %" PRIu64 " of the %zu bytes, expected all", label, ducx, total);
        CHECK(false);
    }

    bool ok = op == ADXL_WRITE ? verify_remote(d->rx, spans, n, seed, bg, d->rlen, label)
                               : verify_local(lbase, lcap, spans, n, seed, bg, label);
    CHECK(ok);
    logf_("%-44s %s  %8.2f MiB  %5" PRIu64 " ms  direct+%" PRIu64 " buffered+%" PRIu64 "%s", label,
          ok ? "ok " : "BAD", (double)total / (double)MIB, ms, ddir, dbuf,
          ducx == 0       ? ""
          : ducx == total ? "  ucx"
                          : "  ucx(part)");
    return ok ? ADXL_SUCCESS : ADXL_FAILED;
}

/* 256 x 4 KiB: local contiguous, remote scattered in reverse order with 4 KiB gaps. */
static size_t spans_small(span_t *s) {
    for (size_t i = 0; i < 256; i++) {
        s[i].loff = i * 4 * KIB;
        s[i].roff = (255 - i) * 8 * KIB + 100;
        s[i].len = 4 * KIB;
    }
    return 256;
}

/* 16 x 1 MiB at unaligned offsets on both sides, with gaps. */
static size_t spans_1m(span_t *s) {
    for (size_t i = 0; i < 16; i++) {
        s[i].loff = i * (MIB + 512) + 5;
        s[i].roff = 3 * MIB + i * (MIB + 4 * KIB) + 13;
        s[i].len = MIB;
    }
    return 16;
}

static void case_pair(drv_t *d, const char *what, const span_t *s, size_t n, uint8_t *lbase,
                      size_t lcap, int mode, int32_t timeout_ms) {
    char label[128];
    snprintf(label, sizeof(label), "WRITE %s", what);
    run_case(d, label, ADXL_WRITE, s, n, lbase, lcap, mode, timeout_ms, false);
    snprintf(label, sizeof(label), "READ  %s", what);
    run_case(d, label, ADXL_READ, s, n, lbase, lcap, mode, timeout_ms, false);
}

static void data_cases(drv_t *d, int32_t timeout_ms) {
    span_t s[256];
    size_t n = spans_small(s);
    case_pair(d, "4 KiB x 256 (buffered)", s, n, d->local, REGION_LEN, MODE_BUFFERED, timeout_ms);
    n = spans_1m(s);
    case_pair(d, "1 MiB x 16 (direct)", s, n, d->local, REGION_LEN, MODE_DIRECT, timeout_ms);
    span_t big = {.loff = 4 * KIB + 3, .roff = 32 * MIB + 1, .len = 64 * MIB};
    case_pair(d, "64 MiB x 1 (direct)", &big, 1, d->local, REGION_LEN, MODE_DIRECT, timeout_ms);
}

/* A remote range that runs past the end of the target's region is refused, the target's
 * memory stays as it was and the link stays usable. */
static void refused_cases(drv_t *d, int32_t timeout_ms) {
    static const size_t lens[] = {8 * KIB, MIB};
    for (size_t k = 0; k < 2; k++) {
        size_t len = lens[k];
        uint64_t bg = d->next_seed++;
        REQUIRE(target_ok("refused", "%sfill %" PRIu64, d->rx, bg));
        adxl_transfer_op_desc_t desc = {.local_addr = (uintptr_t)d->local,
                                        .remote_addr = d->raddr + d->rlen - len / 2,
                                        .len = len};
        memset(d->local, 0x5a, len);
        CHECK_STATUS(adxl_transfer_sync(d->engine, d->remote, ADXL_WRITE, &desc, 1, timeout_ms),
                     ADXL_PARAM_INVALID);
        CHECK(target_ok("refused WRITE left the target alone", "%sverify %" PRIu64 " 0 %zu", d->rx,
                        bg, d->rlen));
        memset(d->local, 0x5a, len);
        CHECK_STATUS(adxl_transfer_sync(d->engine, d->remote, ADXL_READ, &desc, 1, timeout_ms),
                     ADXL_PARAM_INVALID);
        logf_("%-44s done", k == 0 ? "refused 8 KiB past the end" : "refused 1 MiB past the end");
    }
    span_t s[256];
    size_t n = spans_small(s);
    run_case(d, "WRITE 4 KiB x 256 after the refusals", ADXL_WRITE, s, n, d->local, REGION_LEN,
             MODE_BUFFERED, timeout_ms, false);
}

static int scenario_basic(drv_t *d) {
    const int32_t timeout_ms = 30000;
    data_cases(d, timeout_ms);

    /* Large descriptors from unregistered local memory go through the transit pool. */
    span_t s[4];
    for (size_t i = 0; i < 4; i++) {
        s[i].loff = i * MIB;
        s[i].roff = 100 * MIB + i * 2 * MIB;
        s[i].len = MIB;
    }
    case_pair(d, "1 MiB x 4 unregistered local (buffered)", s, 4, d->plain, d->plain_len,
              MODE_BUFFERED, timeout_ms);

    span_t m[256];
    size_t n = spans_1m(m);
    run_case(d, "async WRITE 1 MiB x 16", ADXL_WRITE, m, n, d->local, REGION_LEN, MODE_DIRECT,
             timeout_ms, true);
    run_case(d, "async READ  1 MiB x 16", ADXL_READ, m, n, d->local, REGION_LEN, MODE_DIRECT,
             timeout_ms, true);
    refused_cases(d, timeout_ms);

    /* The peer is in another network namespace: not this host for shm's purposes; and
     * neither end has an RDMA device, so auto took TCP, not UCX. */
    adxl_stats_t s_auto;
    CHECK_STATUS(adxl_get_stats(d->engine, &s_auto), ADXL_SUCCESS);
    CHECK(s_auto.bytes_mapped + s_auto.bytes_cma + s_auto.bytes_staged == 0);
    CHECK(s_auto.bytes_ucx == 0);
    logf_("Transport=auto: %" PRIu64 " bytes moved, %" PRIu64 " of them over UCX",
          s_auto.bytes_written + s_auto.bytes_read, s_auto.bytes_ucx);
    static const adxl_option_t shm = {"Transport", "shm"};
    adxl_engine_t *forced = tu_engine(adxl_local_engine(d->engine), &shm, 1);
    REQUIRE(forced != NULL);
    CHECK_STATUS(adxl_connect(forced, d->remote, 5000), ADXL_UNSUPPORTED);
    adxl_engine_destroy(forced);
    /* Nor can Transport=ucx reach it: this target runs no UCX transport. */
    adxl_status_t st = engine_with(adxl_local_engine(d->engine), &opt_ucx, 1, &forced);
    if (st == ADXL_UNSUPPORTED) {
        logf_("Transport=ucx: this build has no UCX transport; not tried");
    } else {
        CHECK_STATUS(st, ADXL_SUCCESS);
        if (forced != NULL) {
            CHECK_STATUS(adxl_connect(forced, d->remote, 5000), ADXL_UNSUPPORTED);
            adxl_engine_destroy(forced);
        }
    }
    return 0;
}

static int scenario_delay(drv_t *d) {
    const int32_t timeout_ms = 10000;
    data_cases(d, timeout_ms);
    /* Every sync transfer needs at least one trip across the delayed direction. */
    for (int k = 0; k < 2; k++) {
        adxl_transfer_op_t op = k == 0 ? ADXL_WRITE : ADXL_READ;
        adxl_transfer_op_desc_t desc = {
            .local_addr = (uintptr_t)d->local, .remote_addr = d->raddr, .len = 4 * KIB};
        uint64_t t0 = tu_now_ms();
        CHECK_STATUS(adxl_transfer_sync(d->engine, d->remote, op, &desc, 1, timeout_ms),
                     ADXL_SUCCESS);
        uint64_t ms = tu_now_ms() - t0;
        logf_("%s 4 KiB x 1 took %" PRIu64 " ms (the link delays by 20 ms)",
              k == 0 ? "WRITE" : "READ ", ms);
        CHECK(ms >= 19);
    }
    return 0;
}

static int scenario_linkdown(drv_t *d) {
    const int32_t timeout_ms = 3000;
    const uint64_t bound_ms = 10000; /* beyond the timeout, for a call that notices late */
    span_t big[16], small[256];
    size_t nbig = spans_1m(big), nsmall = spans_small(small);
    static const char *const labels[4] = {"loop WRITE 1 MiB x 16", "loop READ  1 MiB x 16",
                                          "loop WRITE 4 KiB x 256", "loop READ  4 KiB x 256"};
    bool announced = false, failed = false;
    uint64_t announced_at = 0;
    unsigned ok_after_cut = 0;
    for (unsigned iter = 0; !failed; iter++) {
        unsigned k = iter % 4;
        const span_t *s = k < 2 ? big : small;
        size_t n = k < 2 ? nbig : nsmall;
        adxl_transfer_op_t op = (k % 2 == 0) ? ADXL_WRITE : ADXL_READ;
        if (announced && tu_now_ms() - announced_at > 60000) {
            logf_("no transfer failed within 60 s of cutting the link");
            CHECK(false);
            return 1;
        }
        if (iter == 4) {
            /* The test cuts the link a moment later, while this loop keeps transferring. */
            fprintf(proto, "CUT\n");
            fflush(proto);
            announced = true;
            announced_at = tu_now_ms();
        }
        if (!announced) {
            run_case(d, labels[k], op, s, n, d->local, REGION_LEN,
                     k < 2 ? MODE_DIRECT : MODE_BUFFERED, timeout_ms, false);
            continue;
        }
        /* The link may go at any moment: no data checks here, the target's memory may hold
         * half of a batch. */
        adxl_transfer_op_desc_t *descs = make_descs(d, d->local, s, n);
        REQUIRE(descs != NULL);
        uint64_t t0 = tu_now_ms();
        adxl_status_t st = adxl_transfer_sync(d->engine, d->remote, op, descs, n, timeout_ms);
        uint64_t ms = tu_now_ms() - t0;
        free(descs);
        if (st == ADXL_SUCCESS) {
            ok_after_cut++;
            continue;
        }
        failed = true;
        logf_("%s failed after the cut (%u batches went through first): %s (%u) after %" PRIu64
              " ms",
              labels[k], ok_after_cut, adxl_status_str(st), st, ms);
        CHECK(ms <= (uint64_t)timeout_ms + bound_ms);
        CHECK(st == ADXL_TIMEOUT || st == ADXL_FAILED || st == ADXL_NOT_CONNECTED);
    }

    /* While the link is still down, the next call fails in time as well. */
    adxl_transfer_op_desc_t desc = {
        .local_addr = (uintptr_t)d->local, .remote_addr = d->raddr, .len = 4 * KIB};
    uint64_t t0 = tu_now_ms();
    adxl_status_t st = adxl_transfer_sync(d->engine, d->remote, ADXL_READ, &desc, 1, timeout_ms);
    uint64_t ms = tu_now_ms() - t0;
    logf_("READ 4 KiB x 1 with the link still down: %s (%u) after %" PRIu64 " ms",
          adxl_status_str(st), st, ms);
    CHECK(st == ADXL_TIMEOUT || st == ADXL_FAILED || st == ADXL_NOT_CONNECTED);
    CHECK(ms <= (uint64_t)timeout_ms + bound_ms);
    fprintf(proto, "DOWN %s %u\n", adxl_status_str(st), ok_after_cut);
    fflush(proto);

    /* Once a call has returned its buffers are the caller's: nothing from the old link may
     * land in them, not even when the link comes back. */
    uint64_t sentinel = d->next_seed++;
    pattern_fill_at(d->local, REGION_LEN, sentinel, 0);
    char line[64];
    REQUIRE(tu_recv_line(STDIN_FILENO, line, sizeof(line), 60000));
    REQUIRE(strcmp(line, "UP") == 0);
    struct timespec settle = {2, 0};
    nanosleep(&settle, NULL);
    size_t bad = 0;
    bool intact = pattern_check_at(d->local, REGION_LEN, sentinel, 0, &bad);
    if (!intact) logf_("local byte %zu changed after the failed call had returned", bad);
    CHECK(intact);

    t0 = tu_now_ms();
    st = adxl_disconnect(d->engine, d->remote, 5000);
    logf_("adxl_disconnect after the link came back: %s after %" PRIu64 " ms", adxl_status_str(st),
          tu_now_ms() - t0);
    CHECK(st == ADXL_SUCCESS || st == ADXL_NOT_CONNECTED);
    t0 = tu_now_ms();
    st = adxl_connect(d->engine, d->remote, 10000);
    logf_("adxl_connect again: %s after %" PRIu64 " ms", adxl_status_str(st), tu_now_ms() - t0);
    CHECK_STATUS(st, ADXL_SUCCESS);
    if (st != ADXL_SUCCESS) return 1;
    case_pair(d, "1 MiB x 16 after reconnect", big, nbig, d->local, REGION_LEN, MODE_DIRECT, 10000);
    case_pair(d, "4 KiB x 256 after reconnect", small, nsmall, d->local, REGION_LEN, MODE_BUFFERED,
              10000);
    adxl_stats_t stats;
    if (adxl_get_stats(d->engine, &stats) == ADXL_SUCCESS)
        logf_("links_dropped %" PRIu64, stats.links_dropped);
    return 0;
}

/* The engine's stats: every byte it moved went over UCX (want_ucx) or none did. */
static void check_carrier(drv_t *d, bool want_ucx, const char *what) {
    adxl_stats_t s;
    CHECK_STATUS(adxl_get_stats(d->engine, &s), ADXL_SUCCESS);
    uint64_t moved = s.bytes_written + s.bytes_read;
    logf_("%s: %" PRIu64 " bytes moved, %" PRIu64 " of them by UCX put/get (bytes_ucx)", what,
          moved, s.bytes_ucx);
    CHECK(moved > 0);
    CHECK(s.bytes_mapped + s.bytes_cma + s.bytes_staged == 0);
    if (want_ucx) {
        CHECK(s.bytes_ucx > 0);
        CHECK(s.bytes_ucx == moved);
    } else {
        CHECK(s.bytes_ucx == 0);
    }
}

/* A notify from the initiator reaches the target. */
static void notify_case(drv_t *d) {
    char msg[64], reply[256], want[128];
    snprintf(msg, sizeof(msg), "hello-%" PRIu64, d->next_seed++);
    CHECK_STATUS(adxl_send_notify(d->engine, d->remote, "netns", msg, 5000), ADXL_SUCCESS);
    snprintf(want, sizeof(want), "OK netns %s", msg);
    bool got = target_cmd("notify", reply, sizeof(reply), "notify 10000");
    CHECK(got && strcmp(reply, want) == 0);
    logf_("%-44s %s", "notify", got && strcmp(reply, want) == 0 ? "ok" : reply);
}

/*
 * A region the target registers while the link exists is usable at once (its first
 * transfer is the first thing tried); once the target deregisters it, a WRITE or READ
 * there is refused with ADXL_PARAM_INVALID and moves no byte, and the link goes on.
 */
static void registration_cases(drv_t *d, int32_t timeout_ms) {
    const size_t xlen = 8 * MIB;
    char reply[256];
    REQUIRE(target_cmd("xreg", reply, sizeof(reply), "xreg %zu", xlen));
    uintptr_t xaddr = 0;
    if (sscanf(reply, "OK 0x%" SCNxPTR, &xaddr) != 1 || xaddr == 0) {
        logf_("xreg: the target answered '%s'", reply);
        CHECK(false);
        return;
    }
    uintptr_t main_addr = d->raddr;
    size_t main_len = d->rlen;
    d->raddr = xaddr;
    d->rlen = xlen;
    d->rx = "x";
    /* Two descriptors (4 MiB and nearly 4 MiB) with 4097 bytes between them. */
    span_t two[2] = {{.loff = 7, .roff = 0, .len = 4 * MIB},
                     {.loff = 5 * MIB, .roff = 4 * MIB + 4097, .len = 4 * MIB - 4097}};
    adxl_status_t st = run_case(d, "WRITE 8 MiB into a region registered now", ADXL_WRITE, two, 2,
                                d->local, REGION_LEN, MODE_DIRECT, timeout_ms, false);
    if (st == ADXL_SUCCESS)
        run_case(d, "READ  8 MiB from it", ADXL_READ, two, 2, d->local, REGION_LEN, MODE_DIRECT,
                 timeout_ms, false);
    span_t s[256];
    size_t n = spans_small(s);
    run_case(d, "WRITE 4 KiB x 256 into it (buffered)", ADXL_WRITE, s, n, d->local, REGION_LEN,
             MODE_BUFFERED, timeout_ms, false);

    uint64_t bg = d->next_seed++, lseed = d->next_seed++;
    REQUIRE(target_ok("dereg", "xfill %" PRIu64, bg));
    REQUIRE(target_ok("dereg", "xdereg"));
    static const size_t lens[] = {MIB, 4 * KIB};
    for (size_t k = 0; k < 2; k++) {
        adxl_transfer_op_desc_t desc = {
            .local_addr = (uintptr_t)d->local, .remote_addr = xaddr + 4096 + 3, .len = lens[k]};
        pattern_fill_at(d->local, MIB, lseed, 0);
        CHECK_STATUS(adxl_transfer_sync(d->engine, d->remote, ADXL_WRITE, &desc, 1, timeout_ms),
                     ADXL_PARAM_INVALID);
        CHECK(target_ok("WRITE to a deregistered region", "xverify %" PRIu64 " 0 %zu", bg, xlen));
        CHECK_STATUS(adxl_transfer_sync(d->engine, d->remote, ADXL_READ, &desc, 1, timeout_ms),
                     ADXL_PARAM_INVALID);
        size_t bad = 0;
        bool intact = pattern_check_at(d->local, MIB, lseed, 0, &bad);
        if (!intact) logf_("READ from a deregistered region changed local byte %zu", bad);
        CHECK(intact);
        logf_("%-44s done",
              k == 0 ? "refused 1 MiB, deregistered region" : "refused 4 KiB, deregistered region");
    }
    CHECK(target_ok("xfree", "xfree"));
    d->raddr = main_addr;
    d->rlen = main_len;
    d->rx = "";
    run_case(d, "WRITE 4 KiB x 256 after the refusals", ADXL_WRITE, s, n, d->local, REGION_LEN,
             MODE_BUFFERED, timeout_ms, false);
}

static int scenario_ucx(drv_t *d) {
    const int32_t timeout_ms = 30000;
    d->expect_ucx = 1;
    data_cases(d, timeout_ms);
    span_t m[16];
    size_t n = spans_1m(m);
    run_case(d, "async WRITE 1 MiB x 16", ADXL_WRITE, m, n, d->local, REGION_LEN, MODE_DIRECT,
             timeout_ms, true);
    run_case(d, "async READ  1 MiB x 16", ADXL_READ, m, n, d->local, REGION_LEN, MODE_DIRECT,
             timeout_ms, true);
    refused_cases(d, timeout_ms);
    notify_case(d);
    registration_cases(d, timeout_ms);
    check_carrier(d, true, "Transport=ucx");
    return 0;
}

/* Transport=auto: which transport the link took shows in bytes_ucx. */
static int scenario_auto(drv_t *d, bool want_ucx) {
    d->expect_ucx = want_ucx ? 1 : 0;
    span_t s[256];
    size_t n = spans_1m(s);
    case_pair(d, "1 MiB x 16 (direct)", s, n, d->local, REGION_LEN, MODE_DIRECT, 10000);
    n = spans_small(s);
    case_pair(d, "4 KiB x 256 (buffered)", s, n, d->local, REGION_LEN, MODE_BUFFERED, 10000);
    check_carrier(d, want_ucx,
                  want_ucx ? "Transport=auto, both ends claim RDMA"
                           : "Transport=auto, only the target claims RDMA");
    return 0;
}

/* One request of the ucxkill stream. */
typedef struct {
    bool active;
    adxl_transfer_req_t req;
    adxl_transfer_op_t op;
    uint64_t posted_ms;
    bool after_kill; /* posted once the target was known dead */
    bool at_kill;    /* still in flight when the target was known dead */
} kslot_t;

enum { KILL_SLOTS = 4, KILL_WARMUP = 8 };

static int scenario_ucxkill(drv_t *d) {
    const int32_t timeout_ms = 8000;
    const uint64_t bound_ms = 10000; /* beyond the timeout, for a request that ends late */
    uint64_t seed = d->next_seed++;
    REQUIRE(target_ok("ucxkill", "fill %" PRIu64, seed));
    /* READs from the target's first 20 MiB, WRITEs into [64 MiB, 84 MiB): a READ that
     * completes must hold seed's pattern. Slot k uses local bytes [k * 24 MiB, + 17 MiB).
     * The loop must stay cheap next to the transfers (so that some are in flight when the
     * target dies, also under a sanitizer): a READ's spans are memset before it is posted
     * and memcmp'd against the expected bytes, made once, when it completes. */
    span_t rd[16], wr[16];
    size_t n = spans_1m(rd);
    spans_1m(wr);
    for (size_t i = 0; i < n; i++)
        wr[i].roff += 64 * MIB;
    uint8_t *expect = malloc(n * MIB);
    REQUIRE(expect != NULL);
    for (size_t i = 0; i < n; i++) {
        REQUIRE(rd[i].len == MIB);
        pattern_fill_at(expect + i * MIB, MIB, seed, rd[i].roff);
    }
    adxl_transfer_op_desc_t *descs[KILL_SLOTS];
    for (size_t k = 0; k < KILL_SLOTS; k++) {
        descs[k] = make_descs(d, d->local + k * 24 * MIB, k % 2 == 0 ? rd : wr, n);
        REQUIRE(descs[k] != NULL);
    }
    kslot_t slot[KILL_SLOTS] = {0};
    unsigned done_ok = 0, read_ok = 0, failed = 0, timed_out = 0, refused_post = 0;
    unsigned at_kill = 0, at_kill_ok = 0, after_kill_posted = 0, after_kill_ok = 0;
    unsigned failed_in_flight = 0; /* accepted before KILLED, ended FAILED or TIMEOUT */
    bool announced = false, killed = false, hung = false;
    uint64_t announced_at = 0, killed_at = 0, first_fail_ms = 0;
    for (;;) {
        uint64_t now = tu_now_ms();
        /* Post into every free slot until the first failure after KILL (the target is dying),
         * and once more into each when KILLED says it is dead. */
        bool posting = killed ? after_kill_posted < KILL_SLOTS
                              : !announced || failed + timed_out + refused_post == 0;
        for (size_t k = 0; k < KILL_SLOTS && posting; k++) {
            if (slot[k].active || (killed && after_kill_posted >= KILL_SLOTS)) continue;
            adxl_transfer_op_t op = k % 2 == 0 ? ADXL_READ : ADXL_WRITE;
            uint8_t *lbase = d->local + k * 24 * MIB;
            if (op == ADXL_READ)
                for (size_t i = 0; i < n; i++)
                    memset(lbase + rd[i].loff, 0xee, rd[i].len);
            adxl_transfer_args_t args = {.timeout_ms = timeout_ms, .user_data = NULL};
            adxl_transfer_req_t req = NULL;
            adxl_status_t st =
                adxl_transfer_async(d->engine, d->remote, op, descs[k], n, &args, &req);
            if (killed) after_kill_posted++;
            if (st != ADXL_SUCCESS) {
                /* Refused at once: only once the target is gone (or going). */
                if (!announced) {
                    logf_("ucxkill: adxl_transfer_async before the kill: %s", adxl_status_str(st));
                    CHECK(false);
                }
                refused_post++;
                if (first_fail_ms == 0) first_fail_ms = tu_now_ms();
                continue;
            }
            slot[k] = (kslot_t){.active = true,
                                .req = req,
                                .op = op,
                                .posted_ms = tu_now_ms(),
                                .after_kill = killed};
        }
        /* Reap what ended. */
        bool any_active = false;
        for (size_t k = 0; k < KILL_SLOTS; k++) {
            if (!slot[k].active) continue;
            adxl_transfer_status_t ts = ADXL_TRANSFER_WAITING;
            adxl_status_t st = adxl_get_transfer_status(d->engine, slot[k].req, &ts);
            now = tu_now_ms();
            if (st != ADXL_SUCCESS) {
                logf_("ucxkill: adxl_get_transfer_status: %s", adxl_status_str(st));
                CHECK(false);
                slot[k].active = false;
                continue;
            }
            if (ts == ADXL_TRANSFER_WAITING) {
                if (now - slot[k].posted_ms > (uint64_t)timeout_ms + bound_ms) {
                    logf_("ucxkill: a %s is still WAITING %" PRIu64 " ms after it was posted",
                          slot[k].op == ADXL_READ ? "READ" : "WRITE", now - slot[k].posted_ms);
                    CHECK(false);
                    hung = true; /* the loop ends after this round */
                    slot[k].active = false;
                    continue;
                }
                any_active = true;
                continue;
            }
            slot[k].active = false;
            if (ts == ADXL_TRANSFER_COMPLETED) {
                done_ok++;
                if (slot[k].at_kill) at_kill_ok++;
                if (slot[k].after_kill) {
                    after_kill_ok++;
                    logf_("ucxkill: a %s posted after the target died COMPLETED",
                          slot[k].op == ADXL_READ ? "READ" : "WRITE");
                    CHECK(false);
                }
                if (slot[k].op == ADXL_READ) {
                    const uint8_t *lbase = d->local + k * 24 * MIB;
                    bool good = true;
                    size_t bad = 0;
                    for (size_t i = 0; i < n && good; i++) {
                        good = memcmp(lbase + rd[i].loff, expect + i * MIB, MIB) == 0;
                        if (!good)
                            pattern_check_at(lbase + rd[i].loff, MIB, seed, rd[i].roff, &bad);
                    }
                    if (!good)
                        logf_("ucxkill: a COMPLETED READ%s lacks the target's data (remote "
                              "offset %zu)",
                              slot[k].at_kill ? " in flight at the kill" : "", bad);
                    CHECK(good);
                    read_ok++;
                }
            } else {
                if (ts == ADXL_TRANSFER_TIMEOUT)
                    timed_out++;
                else
                    failed++;
                if (first_fail_ms == 0) first_fail_ms = now;
                if (!slot[k].after_kill) failed_in_flight++;
                if (!announced) {
                    logf_("ucxkill: a transfer ended %s before the kill",
                          ts == ADXL_TRANSFER_TIMEOUT ? "TIMEOUT" : "FAILED");
                    CHECK(false);
                }
            }
        }
        if (!announced && done_ok >= KILL_WARMUP) {
            fprintf(proto, "KILL\n");
            fflush(proto);
            announced = true;
            announced_at = tu_now_ms();
        }
        if (announced && !killed) {
            struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
            if (poll(&pfd, 1, 0) == 1) {
                char line[64];
                REQUIRE(tu_recv_line(STDIN_FILENO, line, sizeof(line), 10000));
                REQUIRE(strcmp(line, "KILLED") == 0);
                killed = true;
                killed_at = tu_now_ms();
                for (size_t k = 0; k < KILL_SLOTS; k++)
                    if (slot[k].active) {
                        slot[k].at_kill = true;
                        at_kill++;
                    }
            } else if (tu_now_ms() - announced_at > 60000) {
                logf_("ucxkill: no KILLED within 60 s of KILL");
                CHECK(false);
                break;
            }
        }
        if (killed && after_kill_posted >= KILL_SLOTS && !any_active) break;
        if (hung || (!announced && failed + timed_out + refused_post > 0)) break;
        struct timespec nap = {0, 200000};
        nanosleep(&nap, NULL);
    }
    for (size_t k = 0; k < KILL_SLOTS; k++)
        free(descs[k]);
    free(expect);
    logf_("ucxkill: %u completed (%u READs, every byte checked), %u FAILED, %u TIMEOUT, %u "
          "refused at post; %u posted before KILLED ended FAILED or TIMEOUT; %u still in flight "
          "at KILLED (%u of them completed); %u posted after it (%u completed)",
          done_ok, read_ok, failed, timed_out, refused_post, failed_in_flight, at_kill, at_kill_ok,
          after_kill_posted, after_kill_ok);
    if (killed && first_fail_ms != 0)
        logf_("ucxkill: first failure %+" PRId64 " ms from KILLED (the target was gone by then)",
              (int64_t)first_fail_ms - (int64_t)killed_at);
    CHECK(killed);
    CHECK(!hung);
    /* Transfers were in flight when the target died, and they failed. */
    CHECK(failed_in_flight >= 1);
    CHECK(after_kill_posted == KILL_SLOTS);
    CHECK(after_kill_ok == 0);

    /* A new connect to the dead name fails, within its timeout (a refused connection is
     * retried until then: the peer may be starting). */
    const int32_t connect_ms = 1000;
    uint64_t t0 = tu_now_ms();
    adxl_status_t st = adxl_connect(d->engine, d->remote, connect_ms);
    uint64_t ms = tu_now_ms() - t0;
    logf_("adxl_connect to the dead target: %s (%u) after %" PRIu64 " ms", adxl_status_str(st), st,
          ms);
    CHECK(st != ADXL_SUCCESS && st != ADXL_ALREADY_CONNECTED);
    CHECK(ms <= (uint64_t)connect_ms + bound_ms);
    return 0;
}

static int run_initiator(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: netns_peer initiator LOCAL_IP TARGET_NAME ADDR LEN SCENARIO\n");
        return 2;
    }
    drv_t d = {0};
    d.remote = argv[3];
    d.raddr = (uintptr_t)strtoull(argv[4], NULL, 16);
    d.rlen = (size_t)strtoull(argv[5], NULL, 10);
    const char *scenario = argv[6];
    d.next_seed = (uint64_t)time(NULL) * 1000u;
    d.rx = "";
    d.expect_ucx = -1;
    REQUIRE(d.raddr != 0 && d.rlen == REGION_LEN);

    /* The UCX scenarios name their transport; the others take the environment's. */
    bool over_ucx = strcmp(scenario, "ucx") == 0 || strcmp(scenario, "ucxkill") == 0;
    bool over_auto = strncmp(scenario, "auto-", 5) == 0;
    d.engine = tu_engine(argv[2],
                         over_ucx    ? &opt_ucx
                         : over_auto ? &opt_auto
                                     : NULL,
                         over_ucx || over_auto ? 1 : 0);
    REQUIRE(d.engine != NULL);
    void *local = NULL;
    CHECK_STATUS(adxl_malloc_mem(ADXL_MEM_HOST, REGION_LEN, &local), ADXL_SUCCESS);
    REQUIRE(local != NULL);
    d.local = local;
    adxl_mem_desc_t mem = {.addr = (uintptr_t)local, .len = REGION_LEN};
    adxl_mem_handle_t handle = NULL;
    CHECK_STATUS(adxl_register_mem(d.engine, &mem, ADXL_MEM_HOST, &handle), ADXL_SUCCESS);
    d.plain_len = 4 * MIB;
    d.plain = malloc(d.plain_len);
    REQUIRE(d.plain != NULL);

    int32_t connect_ms = strcmp(scenario, "delay") == 0 ? 10000 : 5000;
    uint64_t t0 = tu_now_ms();
    adxl_status_t st = adxl_connect(d.engine, d.remote, connect_ms);
    CHECK_STATUS(st, ADXL_SUCCESS);
    REQUIRE(st == ADXL_SUCCESS);
    logf_("connected %s -> %s in %" PRIu64 " ms", adxl_local_engine(d.engine), d.remote,
          tu_now_ms() - t0);

    bool peer_dies = false;
    if (strcmp(scenario, "basic") == 0) {
        d.expect_ucx = 0; /* no RDMA device at either end: auto takes TCP */
        scenario_basic(&d);
    } else if (strcmp(scenario, "delay") == 0) {
        d.expect_ucx = 0;
        scenario_delay(&d);
    } else if (strcmp(scenario, "linkdown") == 0) {
        d.expect_ucx = 0;
        scenario_linkdown(&d);
    } else if (strcmp(scenario, "ucx") == 0) {
        scenario_ucx(&d);
    } else if (strcmp(scenario, "auto-ucx") == 0 || strcmp(scenario, "auto-tcp") == 0) {
        scenario_auto(&d, strcmp(scenario, "auto-ucx") == 0);
    } else if (strcmp(scenario, "ucxkill") == 0) {
        peer_dies = true;
        scenario_ucxkill(&d);
    } else {
        fprintf(stderr, "unknown scenario %s\n", scenario);
        CHECK(false);
    }

    st = adxl_disconnect(d.engine, d.remote, 5000);
    /* After ucxkill the dead target's link is gone already. */
    CHECK(peer_dies ? st == ADXL_NOT_CONNECTED : st == ADXL_SUCCESS);
    if (st != (peer_dies ? ADXL_NOT_CONNECTED : ADXL_SUCCESS))
        logf_("final adxl_disconnect: %s", adxl_status_str(st));
    CHECK_STATUS(adxl_deregister_mem(d.engine, handle), ADXL_SUCCESS);
    adxl_engine_destroy(d.engine);
    CHECK_STATUS(adxl_free_mem(local), ADXL_SUCCESS);
    free(d.plain);
    return tu_finish();
}

int main(int argc, char **argv) {
    /* The lines the script reads (READY, command replies, CUT, KILL, ...) go to the stdout
     * this program was given; anything else that writes to stdout gets stderr instead, so
     * that it cannot land in the middle of them: UCX, for one, logs to stdout. */
    int proto_fd = dup(STDOUT_FILENO);
    if (proto_fd < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0 ||
        (proto = fdopen(proto_fd, "w")) == NULL) {
        perror("netns_peer: moving stdout aside");
        return 2;
    }
    setvbuf(proto, NULL, _IOLBF, 0);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 3 && strcmp(argv[1], "target") == 0) return run_target(argv[2]);
    if (argc == 3 && strcmp(argv[1], "has-ucx") == 0) return run_has_ucx(argv[2]);
    if (argc >= 2 && strcmp(argv[1], "initiator") == 0) return run_initiator(argc, argv);
    fprintf(stderr, "usage: netns_peer target IP\n"
                    "       netns_peer has-ucx LOCAL_IP\n"
                    "       netns_peer initiator LOCAL_IP TARGET_NAME ADDR LEN SCENARIO\n");
    return 2;
}
