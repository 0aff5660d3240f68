/*
 * API misuse, systematically: every public function of include/adxl/adxl.h called with
 * NULL, zero, negative, huge and stale arguments (a deregistered memory handle, a request
 * already reported final, a handle from another engine, handles of an engine destroyed
 * and created again), and on engines that are NULL, never initialized, finalized, or
 * destroyed and created again. Each call must return a status (ADXL_PARAM_INVALID for a
 * bad argument, ADXL_FAILED on an engine that is not initialized; docs/BEHAVIOUR.md),
 * never crash, never hang (an alarm ends the test and names the call).
 *
 * Two tables drive it. The engine-state table calls every engine function with otherwise
 * valid arguments on engines in each bad state. The coverage table lists every public
 * function with the kinds of misuse its parameters admit; each case below is tagged with
 * its function and kind, and at the end every function must have had a case of each of
 * its kinds. The list itself is checked against the header, so a function added to
 * adxl.h without misuse cases fails this test.
 *
 * Not covered, because no library can catch them: a descriptor, region or buffer longer
 * than the memory behind it (WRITE would read past the caller's buffer, as memcpy would),
 * num_descs or a capacity larger than the array passed, and pointers to freed engines.
 */
#include "test_api_util.h"

#include <signal.h>

#ifndef ADXL_PUBLIC_HEADER
#error "ADXL_PUBLIC_HEADER must name include/adxl/adxl.h (tests/CMakeLists.txt sets it)"
#endif

/* ------------------------------------------------------------------ coverage table */

enum {
    K_NULL = 1 << 0,    /* a NULL pointer argument (engine, name, out-pointer, ...) */
    K_ZERO = 1 << 1,    /* a zero size, count, length, address, port or timeout */
    K_NEG = 1 << 2,     /* a negative timeout, enum or option value */
    K_HUGE = 1 << 3,    /* SIZE_MAX, UINT32_MAX, INT32_MAX, wrapping ranges, long names */
    K_STALE = 1 << 4,   /* a handle, pointer or link that was valid once */
    K_FOREIGN = 1 << 5, /* a handle or pointer that belongs to someone else */
    K_STATE = 1 << 6,   /* a NULL, uninitialized, finalized or re-created engine */
};
static const char *const kind_names[] = {"NULL",  "zero",    "negative",    "huge",
                                         "stale", "foreign", "engine state"};

typedef struct {
    const char *fn;
    unsigned need; /* kinds of misuse its parameters admit */
    unsigned got;
    int cases;
    bool in_header;
} fn_cov_t;

static fn_cov_t cov[] = {
    {"adxl_status_str", K_ZERO | K_HUGE, 0, 0, false},
    {"adxl_version", 0, 0, 0, false},
    {"adxl_engine_create", K_NULL, 0, 0, false},
    {"adxl_engine_destroy", K_NULL | K_STATE, 0, 0, false},
    {"adxl_initialize", K_NULL | K_ZERO | K_NEG | K_HUGE | K_STATE, 0, 0, false},
    {"adxl_finalize", K_NULL | K_STATE, 0, 0, false},
    {"adxl_local_engine", K_NULL | K_STATE, 0, 0, false},
    {"adxl_register_mem", K_NULL | K_ZERO | K_NEG | K_HUGE | K_STATE, 0, 0, false},
    {"adxl_deregister_mem", K_NULL | K_HUGE | K_STALE | K_FOREIGN | K_STATE, 0, 0, false},
    {"adxl_connect", K_NULL | K_ZERO | K_NEG | K_HUGE | K_STALE | K_STATE, 0, 0, false},
    {"adxl_disconnect", K_NULL | K_ZERO | K_NEG | K_HUGE | K_STALE | K_STATE, 0, 0, false},
    {"adxl_transfer_sync", K_NULL | K_ZERO | K_NEG | K_HUGE | K_STALE | K_STATE, 0, 0, false},
    {"adxl_transfer_async", K_NULL | K_ZERO | K_NEG | K_HUGE | K_STATE, 0, 0, false},
    {"adxl_get_transfer_status", K_NULL | K_HUGE | K_STALE | K_FOREIGN | K_STATE, 0, 0, false},
    {"adxl_send_notify", K_NULL | K_ZERO | K_NEG | K_HUGE | K_STATE, 0, 0, false},
    {"adxl_get_notifies", K_NULL | K_ZERO | K_HUGE | K_STATE, 0, 0, false},
    {"adxl_malloc_mem", K_NULL | K_ZERO | K_NEG | K_HUGE, 0, 0, false},
    {"adxl_free_mem", K_NULL | K_HUGE | K_STALE | K_FOREIGN, 0, 0, false},
    {"adxl_export_shareable_handle", K_NULL | K_ZERO | K_STALE | K_FOREIGN, 0, 0, false},
    {"adxl_get_stats", K_NULL | K_STATE, 0, 0, false},
    {"adxl_connect_async", K_NULL | K_ZERO | K_NEG | K_HUGE | K_STATE, 0, 0, false},
    {"adxl_disconnect_async", K_NULL | K_ZERO | K_NEG | K_HUGE | K_STATE, 0, 0, false},
    {"adxl_get_async_connect_status", K_NULL | K_ZERO | K_HUGE | K_STATE, 0, 0, false},
    {"adxl_get_async_connect_statuses", K_NULL | K_ZERO | K_HUGE | K_STATE, 0, 0, false},
    {"adxl_get_transfer_statuses", K_NULL | K_ZERO | K_HUGE | K_STALE | K_FOREIGN | K_STATE, 0, 0,
     false},
    {"adxl_get_capability", K_NULL | K_NEG | K_HUGE, 0, 0, false},
};
#define N_COV (sizeof(cov) / sizeof(cov[0]))

static fn_cov_t *cov_find(const char *fn) {
    for (size_t i = 0; i < N_COV; i++)
        if (strcmp(cov[i].fn, fn) == 0) return &cov[i];
    return NULL;
}

/* ------------------------------------------------------------------ cases */

/* A call that does not return within this long is a hang: generous for valgrind. */
#define HANG_S 60

static char g_case[512];
static size_t g_case_len;

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "\nHANG: this call did not return: ";
    ssize_t rc = write(2, msg, sizeof(msg) - 1);
    rc = write(2, g_case, g_case_len);
    rc = write(2, "\n", 1);
    (void)rc;
    _exit(3);
}

static void case_begin(const char *fn, unsigned kinds, const char *what, int line) {
    fn_cov_t *c = cov_find(fn);
    if (c == NULL) {
        fprintf(stderr, "line %d: %s is not in the coverage table\n", line, fn);
        tu_checks_failed++;
    } else {
        c->got |= kinds;
        c->cases++;
    }
    int n = snprintf(g_case, sizeof(g_case), "%s: %s (line %d)", fn, what, line);
    g_case_len = n < 0 ? 0 : (size_t)n < sizeof(g_case) ? (size_t)n : sizeof(g_case) - 1;
    alarm(HANG_S);
}

static void case_end_status(adxl_status_t got, adxl_status_t want) {
    alarm(0);
    if (got == want) {
        tu_checks_passed++;
        return;
    }
    tu_checks_failed++;
    fprintf(stderr, "MISUSE FAILED %s: returned %s (%u), expected %s (%u)\n", g_case,
            adxl_status_str(got), got, adxl_status_str(want), want);
}

static void case_end_true(bool ok) {
    alarm(0);
    if (ok) {
        tu_checks_passed++;
        return;
    }
    tu_checks_failed++;
    fprintf(stderr, "MISUSE FAILED %s: the check after the call does not hold\n", g_case);
}

/* `(void)(fn)` makes a misspelt function name a compile error. */
#define MISUSE(fn, kinds, what, want, expr)                                                        \
    do {                                                                                           \
        (void)(fn);                                                                                \
        case_begin(#fn, (kinds), (what), __LINE__);                                                \
        adxl_status_t misuse_got_ = (expr);                                                        \
        case_end_status(misuse_got_, (want));                                                      \
    } while (0)

/* For calls without a status (void, or returning a pointer): expr is the check. */
#define MISUSE_TRUE(fn, kinds, what, expr)                                                         \
    do {                                                                                           \
        (void)(fn);                                                                                \
        case_begin(#fn, (kinds), (what), __LINE__);                                                \
        bool misuse_ok_ = (expr);                                                                  \
        case_end_true(misuse_ok_);                                                                 \
    } while (0)

/* ------------------------------------------------------------------ fixtures */

typedef struct {
    adxl_engine_t *t;     /* target: registered region tr */
    adxl_engine_t *e;     /* initiator, listening too, linked to t */
    adxl_engine_t *o;     /* another initiator linked to t: foreign handles come from it */
    adxl_engine_t *raw;   /* created, never initialized */
    adxl_engine_t *fin;   /* initialized, then finalized */
    adxl_engine_t *again; /* created after another engine was destroyed; not initialized */
    char tname[ADXL_ENGINE_NAME_MAX];
    char ename[ADXL_ENGINE_NAME_MAX];
    ta_region_t tr;               /* on t, 1 MiB */
    ta_region_t oreg;             /* registered with o */
    uint8_t local[65536];         /* e's unregistered source/sink */
    adxl_transfer_req_t o_req;    /* o's request, outstanding until the foreign-handle cases */
    adxl_mem_handle_t gone_mem;   /* from the engine destroyed before `again` was made */
    adxl_transfer_req_t gone_req; /* likewise */
} ctx_t;

static adxl_transfer_op_desc_t desc(const void *local, const void *remote, size_t len) {
    return (adxl_transfer_op_desc_t){(uintptr_t)local, (uintptr_t)remote, len};
}

/* Polls a request to its final state; negative when it stays WAITING for TA_HANG_MS or
 * the status call fails. */
static int final_state(adxl_engine_t *e, adxl_transfer_req_t req) {
    return tu_wait_req(e, req, TA_HANG_MS);
}

/* Polls an async connect/disconnect until it is neither pending nor in progress. */
static int settle(adxl_engine_t *e, const char *remote) {
    uint64_t until = tu_now_ms() + TA_HANG_MS;
    for (;;) {
        adxl_connect_state_t s;
        if (adxl_get_async_connect_status(e, remote, &s) != ADXL_SUCCESS) return -1;
        if (s != ADXL_CONNECT_PENDING && s != ADXL_CONNECTING && s != ADXL_DISCONNECT_PENDING &&
            s != ADXL_DISCONNECTING)
            return (int)s;
        if (tu_now_ms() >= until) return -1;
        tu_sleep_ms(1);
    }
}

/* Initializes a fresh engine with these arguments, destroys it, returns the status. */
static adxl_status_t init_fresh(const char *name, const adxl_option_t *opts, size_t n) {
    adxl_engine_t *x = NULL;
    if (adxl_engine_create(&x) != ADXL_SUCCESS) return ADXL_FAILED + 1;
    adxl_status_t st = adxl_initialize(x, name, opts, n);
    adxl_engine_destroy(x);
    return st;
}

static adxl_status_t init_opt(const char *key, const char *value) {
    adxl_option_t o = {key, value};
    return init_fresh("127.0.0.1:0", &o, 1);
}

/* The engine named `again`: another engine with a registered region and an async
 * request is destroyed first, so that `again` likely sits at its address and its
 * handles are the stale ones to try on `again`. */
static void make_again(ctx_t *c) {
    adxl_engine_t *x = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(x != NULL);
    ta_region_t xr;
    REQUIRE(ta_region_alloc(&xr, x, 65536));
    c->gone_mem = xr.handle;
    REQUIRE(adxl_connect(x, c->tname, 10000) == ADXL_SUCCESS);
    adxl_transfer_op_desc_t d = desc(xr.ptr, c->tr.ptr, 4096);
    REQUIRE(adxl_transfer_async(x, c->tname, ADXL_WRITE, &d, 1, NULL, &c->gone_req) ==
            ADXL_SUCCESS);
    adxl_engine_destroy(x); /* with the request outstanding, or done and never collected */
    adxl_free_mem(xr.ptr);
    REQUIRE(adxl_engine_create(&c->again) == ADXL_SUCCESS);
}

static void setup(ctx_t *c) {
    memset(c, 0, sizeof(*c));
    c->t = tu_engine("127.0.0.1:0", NULL, 0);
    c->e = tu_engine("127.0.0.1:0", NULL, 0);
    c->o = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(c->t && c->e && c->o);
    snprintf(c->tname, sizeof(c->tname), "%s", adxl_local_engine(c->t));
    snprintf(c->ename, sizeof(c->ename), "%s", adxl_local_engine(c->e));
    REQUIRE(ta_region_alloc(&c->tr, c->t, 1u << 20));
    REQUIRE(ta_region_alloc(&c->oreg, c->o, 65536));
    REQUIRE(adxl_connect(c->e, c->tname, 10000) == ADXL_SUCCESS);
    REQUIRE(adxl_connect(c->o, c->tname, 10000) == ADXL_SUCCESS);
    adxl_transfer_op_desc_t d = desc(c->oreg.ptr, c->tr.ptr + 65536, 4096);
    REQUIRE(adxl_transfer_async(c->o, c->tname, ADXL_WRITE, &d, 1, NULL, &c->o_req) ==
            ADXL_SUCCESS);
    REQUIRE(adxl_engine_create(&c->raw) == ADXL_SUCCESS);
    REQUIRE(adxl_engine_create(&c->fin) == ADXL_SUCCESS);
    REQUIRE(adxl_initialize(c->fin, "127.0.0.1:0", NULL, 0) == ADXL_SUCCESS);
    adxl_finalize(c->fin);
    make_again(c);
}

/* ------------------------------------------------------------------ engine states */

/*
 * Every function that takes an engine, with arguments that would be valid on a working
 * engine. adxl_initialize is left out: on an engine that is not initialized it is the
 * one call that works (its own cases below).
 */
typedef adxl_status_t (*engine_call_t)(ctx_t *c, adxl_engine_t *e);

static adxl_status_t call_register(ctx_t *c, adxl_engine_t *e) {
    adxl_mem_desc_t m = {(uintptr_t)c->local, sizeof(c->local)};
    adxl_mem_handle_t h = NULL;
    return adxl_register_mem(e, &m, ADXL_MEM_HOST, &h);
}
static adxl_status_t call_deregister(ctx_t *c, adxl_engine_t *e) {
    return adxl_deregister_mem(e, c->tr.handle);
}
static adxl_status_t call_connect(ctx_t *c, adxl_engine_t *e) {
    return adxl_connect(e, c->tname, 1000);
}
static adxl_status_t call_disconnect(ctx_t *c, adxl_engine_t *e) {
    return adxl_disconnect(e, c->tname, 1000);
}
static adxl_status_t call_sync(ctx_t *c, adxl_engine_t *e) {
    adxl_transfer_op_desc_t d = desc(c->local, c->tr.ptr, 4096);
    return adxl_transfer_sync(e, c->tname, ADXL_READ, &d, 1, 1000);
}
static adxl_status_t call_async(ctx_t *c, adxl_engine_t *e) {
    adxl_transfer_op_desc_t d = desc(c->local, c->tr.ptr, 4096);
    adxl_transfer_req_t r = NULL;
    adxl_status_t st = adxl_transfer_async(e, c->tname, ADXL_READ, &d, 1, NULL, &r);
    if (r != NULL) {
        fprintf(stderr, "a refused adxl_transfer_async gave out a request\n");
        tu_checks_failed++;
    }
    return st;
}
static adxl_status_t call_status(ctx_t *c, adxl_engine_t *e) {
    adxl_transfer_status_t s;
    return adxl_get_transfer_status(e, c->o_req, &s);
}
static adxl_status_t call_statuses(ctx_t *c, adxl_engine_t *e) {
    (void)c;
    adxl_transfer_result_t r[4];
    size_t n = 0;
    return adxl_get_transfer_statuses(e, r, 4, 0, &n);
}
static adxl_status_t call_notify(ctx_t *c, adxl_engine_t *e) {
    return adxl_send_notify(e, c->tname, "n", "m", 1000);
}
static adxl_status_t call_notifies(ctx_t *c, adxl_engine_t *e) {
    (void)c;
    adxl_notify_t n[2];
    size_t count = 0;
    return adxl_get_notifies(e, n, 2, &count);
}
static adxl_status_t call_stats(ctx_t *c, adxl_engine_t *e) {
    (void)c;
    adxl_stats_t s;
    return adxl_get_stats(e, &s);
}
static adxl_status_t call_connect_async(ctx_t *c, adxl_engine_t *e) {
    return adxl_connect_async(e, c->tname, 1000);
}
static adxl_status_t call_disconnect_async(ctx_t *c, adxl_engine_t *e) {
    return adxl_disconnect_async(e, c->tname, 1000);
}
static adxl_status_t call_conn_status(ctx_t *c, adxl_engine_t *e) {
    adxl_connect_state_t s;
    return adxl_get_async_connect_status(e, c->tname, &s);
}
static adxl_status_t call_conn_statuses(ctx_t *c, adxl_engine_t *e) {
    (void)c;
    adxl_connect_status_t s[2];
    size_t n = 0;
    return adxl_get_async_connect_statuses(e, s, 2, &n);
}

static const struct {
    const char *fn;
    engine_call_t call;
} engine_calls[] = {
    {"adxl_register_mem", call_register},
    {"adxl_deregister_mem", call_deregister},
    {"adxl_connect", call_connect},
    {"adxl_disconnect", call_disconnect},
    {"adxl_transfer_sync", call_sync},
    {"adxl_transfer_async", call_async},
    {"adxl_get_transfer_status", call_status},
    {"adxl_get_transfer_statuses", call_statuses},
    {"adxl_send_notify", call_notify},
    {"adxl_get_notifies", call_notifies},
    {"adxl_get_stats", call_stats},
    {"adxl_connect_async", call_connect_async},
    {"adxl_disconnect_async", call_disconnect_async},
    {"adxl_get_async_connect_status", call_conn_status},
    {"adxl_get_async_connect_statuses", call_conn_statuses},
};

static void test_engine_states(ctx_t *c) {
    fprintf(stderr, "-- every engine call on NULL, uninitialized, finalized, re-created\n");
    const struct {
        const char *what;
        adxl_engine_t *engine;
        unsigned kinds;
        adxl_status_t want;
    } states[] = {
        {"NULL engine", NULL, K_NULL | K_STATE, ADXL_PARAM_INVALID},
        {"engine never initialized", c->raw, K_STATE, ADXL_FAILED},
        {"engine finalized", c->fin, K_STATE, ADXL_FAILED},
        {"engine created after one was destroyed", c->again, K_STATE, ADXL_FAILED},
    };
    for (size_t s = 0; s < sizeof(states) / sizeof(states[0]); s++) {
        for (size_t i = 0; i < sizeof(engine_calls) / sizeof(engine_calls[0]); i++) {
            case_begin(engine_calls[i].fn, states[s].kinds, states[s].what, __LINE__);
            case_end_status(engine_calls[i].call(c, states[s].engine), states[s].want);
        }
        MISUSE_TRUE(adxl_local_engine, states[s].kinds, states[s].what,
                    adxl_local_engine(states[s].engine) == NULL);
    }
    /* Finalize and destroy are no-ops on NULL and harmless on engines not running. */
    MISUSE_TRUE(adxl_finalize, K_NULL, "NULL engine", (adxl_finalize(NULL), true));
    MISUSE_TRUE(adxl_finalize, K_STATE, "never initialized", (adxl_finalize(c->raw), true));
    MISUSE_TRUE(adxl_finalize, K_STATE, "finalized twice", (adxl_finalize(c->fin), true));
    MISUSE_TRUE(adxl_engine_destroy, K_NULL, "NULL engine", (adxl_engine_destroy(NULL), true));
    /* The target's region is still registered: the refused deregisters touched nothing. */
    CHECK_STATUS(ta_xfer(c->e, c->tname, ADXL_WRITE, c->local, c->tr.ptr, 4096, 5000),
                 ADXL_SUCCESS);
}

/* ------------------------------------------------------------------ functions without engine */

static void test_plain_functions(void) {
    fprintf(stderr, "-- status_str, version, create, capability, malloc/free\n");
    MISUSE_TRUE(adxl_status_str, K_ZERO, "0", strcmp(adxl_status_str(0), "SUCCESS") == 0);
    MISUSE_TRUE(adxl_status_str, K_HUGE, "UINT32_MAX", adxl_status_str(UINT32_MAX) != NULL);
    MISUSE_TRUE(adxl_status_str, K_HUGE, "ADXL_FAILED + 1",
                adxl_status_str(ADXL_FAILED + 1) != NULL);
    MISUSE_TRUE(adxl_version, 0, "no arguments",
                adxl_version() != NULL && adxl_version()[0] != '\0');
    MISUSE(adxl_engine_create, K_NULL, "NULL out-pointer", ADXL_PARAM_INVALID,
           adxl_engine_create(NULL));

    int32_t v = 7;
    MISUSE(adxl_get_capability, K_NULL, "NULL value", ADXL_PARAM_INVALID,
           adxl_get_capability(ADXL_FEATURE_AUTO_CONNECT, NULL));
    MISUSE(adxl_get_capability, K_NEG, "feature -1", ADXL_PARAM_INVALID,
           adxl_get_capability((adxl_feature_t)-1, &v));
    MISUSE(adxl_get_capability, K_HUGE, "feature INT32_MAX", ADXL_PARAM_INVALID,
           adxl_get_capability((adxl_feature_t)INT32_MAX, &v));
    CHECK(v == 7); /* refused calls write nothing */

    void *p = (void *)&v;
    MISUSE(adxl_malloc_mem, K_NULL, "NULL out-pointer", ADXL_PARAM_INVALID,
           adxl_malloc_mem(ADXL_MEM_HOST, 4096, NULL));
    MISUSE(adxl_malloc_mem, K_ZERO, "size 0", ADXL_PARAM_INVALID,
           adxl_malloc_mem(ADXL_MEM_HOST, 0, &p));
    MISUSE(adxl_malloc_mem, K_NEG, "type -1", ADXL_PARAM_INVALID,
           adxl_malloc_mem((adxl_mem_type_t)-1, 4096, &p));
    MISUSE(adxl_malloc_mem, K_HUGE, "type INT32_MAX", ADXL_PARAM_INVALID,
           adxl_malloc_mem((adxl_mem_type_t)INT32_MAX, 4096, &p));
    MISUSE(adxl_malloc_mem, K_HUGE, "size SIZE_MAX", ADXL_RESOURCE_EXHAUSTED,
           adxl_malloc_mem(ADXL_MEM_HOST, SIZE_MAX, &p));
    MISUSE(adxl_malloc_mem, K_HUGE, "size SIZE_MAX - 4096", ADXL_RESOURCE_EXHAUSTED,
           adxl_malloc_mem(ADXL_MEM_HOST, SIZE_MAX - 4096, &p));
    /* More than any address space holds: mmap refuses it without touching memory. */
    MISUSE(adxl_malloc_mem, K_HUGE, "size 2^62", ADXL_RESOURCE_EXHAUSTED,
           adxl_malloc_mem(ADXL_MEM_HOST, (size_t)1 << 62, &p));
    CHECK(p == (void *)&v);

    void *m = NULL;
    REQUIRE(adxl_malloc_mem(ADXL_MEM_HOST, 8192, &m) == ADXL_SUCCESS);
    void *libc = malloc(64);
    REQUIRE(libc != NULL);
    MISUSE(adxl_free_mem, K_NULL, "NULL", ADXL_PARAM_INVALID, adxl_free_mem(NULL));
    MISUSE(adxl_free_mem, K_HUGE, "UINTPTR_MAX", ADXL_PARAM_INVALID,
           adxl_free_mem((void *)UINTPTR_MAX));
    MISUSE(adxl_free_mem, K_FOREIGN, "libc malloc pointer", ADXL_PARAM_INVALID,
           adxl_free_mem(libc));
    MISUSE(adxl_free_mem, K_FOREIGN, "inside an adxl block", ADXL_PARAM_INVALID,
           adxl_free_mem((uint8_t *)m + 4096));
    MISUSE(adxl_free_mem, K_FOREIGN, "stack pointer", ADXL_PARAM_INVALID, adxl_free_mem(&v));
    uint8_t fabric[128];
    MISUSE(adxl_export_shareable_handle, K_NULL, "NULL ptr", ADXL_PARAM_INVALID,
           adxl_export_shareable_handle(NULL, fabric, sizeof(fabric)));
    MISUSE(adxl_export_shareable_handle, K_NULL, "NULL handle", ADXL_PARAM_INVALID,
           adxl_export_shareable_handle(m, NULL, sizeof(fabric)));
    MISUSE(adxl_export_shareable_handle, K_ZERO, "handle_len 0", ADXL_PARAM_INVALID,
           adxl_export_shareable_handle(m, fabric, 0));
    MISUSE(adxl_export_shareable_handle, K_FOREIGN, "libc malloc pointer", ADXL_PARAM_INVALID,
           adxl_export_shareable_handle(libc, fabric, sizeof(fabric)));
    MISUSE(adxl_export_shareable_handle, 0, "valid block, no fabric", ADXL_UNSUPPORTED,
           adxl_export_shareable_handle(m, fabric, sizeof(fabric)));
    MISUSE(adxl_free_mem, 0, "valid", ADXL_SUCCESS, adxl_free_mem(m));
    MISUSE(adxl_export_shareable_handle, K_STALE, "freed block", ADXL_PARAM_INVALID,
           adxl_export_shareable_handle(m, fabric, sizeof(fabric)));
    MISUSE(adxl_free_mem, K_STALE, "freed already", ADXL_PARAM_INVALID, adxl_free_mem(m));
    free(libc);
}

/* ------------------------------------------------------------------ initialize */

static void test_initialize(ctx_t *c) {
    fprintf(stderr, "-- initialize\n");
    static char long_name[10001];
    memset(long_name, '1', sizeof(long_name) - 1);
    adxl_option_t null_key = {NULL, "1"}, null_value = {"AutoConnect", NULL};
    adxl_option_t one = {"AutoConnect", "1"};

    MISUSE(adxl_initialize, K_NULL, "NULL engine", ADXL_PARAM_INVALID,
           adxl_initialize(NULL, "127.0.0.1:0", NULL, 0));
    MISUSE(adxl_initialize, K_NULL, "NULL name", ADXL_PARAM_INVALID, init_fresh(NULL, NULL, 0));
    MISUSE(adxl_initialize, K_NULL, "NULL options, 1 option", ADXL_PARAM_INVALID,
           init_fresh("127.0.0.1:0", NULL, 1));
    MISUSE(adxl_initialize, K_NULL, "NULL option key", ADXL_PARAM_INVALID,
           init_fresh("127.0.0.1:0", &null_key, 1));
    MISUSE(adxl_initialize, K_NULL, "NULL option value", ADXL_PARAM_INVALID,
           init_fresh("127.0.0.1:0", &null_value, 1));
    MISUSE(adxl_initialize, K_ZERO, "empty name", ADXL_PARAM_INVALID, init_fresh("", NULL, 0));
    MISUSE(adxl_initialize, K_ZERO, "options given, count 0", ADXL_SUCCESS,
           init_fresh("127.0.0.1:0", &null_key, 0));
    MISUSE(adxl_initialize, K_ZERO, "empty option key", ADXL_PARAM_INVALID, init_opt("", "1"));
    MISUSE(adxl_initialize, K_ZERO, "empty option value", ADXL_PARAM_INVALID,
           init_opt("TcpStreams", ""));
    MISUSE(adxl_initialize, K_ZERO, "TcpStreams 0", ADXL_PARAM_INVALID,
           init_opt("TcpStreams", "0"));
    MISUSE(adxl_initialize, K_ZERO, "PeerTimeoutMs 0", ADXL_PARAM_INVALID,
           init_opt("PeerTimeoutMs", "0"));
    MISUSE(adxl_initialize, K_NEG, "TcpStreams -1", ADXL_PARAM_INVALID,
           init_opt("TcpStreams", "-1"));
    MISUSE(adxl_initialize, K_NEG, "PeerTimeoutMs -5000", ADXL_PARAM_INVALID,
           init_opt("PeerTimeoutMs", "-5000"));
    MISUSE(adxl_initialize, K_NEG, "BufferPool -1:8", ADXL_PARAM_INVALID,
           init_opt("BufferPool", "-1:8"));
    MISUSE(adxl_initialize, K_NEG, "port -1", ADXL_PARAM_INVALID,
           init_fresh("127.0.0.1:-1", NULL, 0));
    MISUSE(adxl_initialize, K_HUGE, "NULL options, SIZE_MAX of them", ADXL_PARAM_INVALID,
           init_fresh("127.0.0.1:0", NULL, SIZE_MAX));
    MISUSE(adxl_initialize, K_HUGE, "10000-character name", ADXL_PARAM_INVALID,
           init_fresh(long_name, NULL, 0));
    MISUSE(adxl_initialize, K_HUGE, "port 65536", ADXL_PARAM_INVALID,
           init_fresh("127.0.0.1:65536", NULL, 0));
    MISUSE(adxl_initialize, K_HUGE, "port 2^64", ADXL_PARAM_INVALID,
           init_fresh("127.0.0.1:18446744073709551616", NULL, 0));
    MISUSE(adxl_initialize, K_HUGE, "TcpStreams 2^32", ADXL_PARAM_INVALID,
           init_opt("TcpStreams", "4294967296"));
    MISUSE(adxl_initialize, K_HUGE, "PeerTimeoutMs 2^64", ADXL_PARAM_INVALID,
           init_opt("PeerTimeoutMs", "18446744073709551616"));
    MISUSE(adxl_initialize, K_HUGE, "BufferPool 1025:8", ADXL_PARAM_INVALID,
           init_opt("BufferPool", "1025:8"));
    MISUSE(adxl_initialize, K_HUGE, "BufferPool 4:4294967297", ADXL_PARAM_INVALID,
           init_opt("BufferPool", "4:4294967297"));
    MISUSE(adxl_initialize, K_HUGE, "10000-character option value", ADXL_PARAM_INVALID,
           init_opt("Transport", long_name));

    /* A second initialize changes nothing, whatever it is given. */
    MISUSE(adxl_initialize, K_STATE, "initialized already, other options", ADXL_SUCCESS,
           adxl_initialize(c->e, "127.0.0.1", &one, 1));
    MISUSE(adxl_initialize, K_STATE, "initialized already, bad name", ADXL_SUCCESS,
           adxl_initialize(c->e, "junk", NULL, 0));
    CHECK(strcmp(adxl_local_engine(c->e), c->ename) == 0);
    /* A refused initialize leaves the engine uninitialized, and a good one then works. */
    MISUSE(adxl_initialize, K_STATE, "finalized engine, bad name", ADXL_PARAM_INVALID,
           adxl_initialize(c->fin, "junk", NULL, 0));
    MISUSE_TRUE(adxl_local_engine, K_STATE, "after a refused initialize",
                adxl_local_engine(c->fin) == NULL);
}

/* ------------------------------------------------------------------ registration */

static void test_registration(ctx_t *c) {
    fprintf(stderr, "-- register and deregister\n");
    adxl_engine_t *e = c->e;
    adxl_mem_handle_t h = (adxl_mem_handle_t)(uintptr_t)0x5a5a;
    adxl_mem_desc_t ok = {(uintptr_t)c->local, 4096};
    adxl_mem_desc_t m;

    MISUSE(adxl_register_mem, K_NULL, "NULL mem", ADXL_PARAM_INVALID,
           adxl_register_mem(e, NULL, ADXL_MEM_HOST, &h));
    MISUSE(adxl_register_mem, K_NULL, "NULL handle", ADXL_PARAM_INVALID,
           adxl_register_mem(e, &ok, ADXL_MEM_HOST, NULL));
    m = (adxl_mem_desc_t){0, 4096};
    MISUSE(adxl_register_mem, K_ZERO, "address 0", ADXL_PARAM_INVALID,
           adxl_register_mem(e, &m, ADXL_MEM_HOST, &h));
    m = (adxl_mem_desc_t){(uintptr_t)c->local, 0};
    MISUSE(adxl_register_mem, K_ZERO, "length 0", ADXL_PARAM_INVALID,
           adxl_register_mem(e, &m, ADXL_MEM_HOST, &h));
    MISUSE(adxl_register_mem, K_NEG, "type -1", ADXL_PARAM_INVALID,
           adxl_register_mem(e, &ok, (adxl_mem_type_t)-1, &h));
    MISUSE(adxl_register_mem, K_HUGE, "type INT32_MAX", ADXL_PARAM_INVALID,
           adxl_register_mem(e, &ok, (adxl_mem_type_t)INT32_MAX, &h));
    m = (adxl_mem_desc_t){(uintptr_t)c->local, SIZE_MAX};
    MISUSE(adxl_register_mem, K_HUGE, "length SIZE_MAX", ADXL_PARAM_INVALID,
           adxl_register_mem(e, &m, ADXL_MEM_HOST, &h));
    m = (adxl_mem_desc_t){UINTPTR_MAX, 1};
    MISUSE(adxl_register_mem, K_HUGE, "address UINTPTR_MAX", ADXL_PARAM_INVALID,
           adxl_register_mem(e, &m, ADXL_MEM_HOST, &h));
    m = (adxl_mem_desc_t){UINTPTR_MAX - 4095, 4096};
    MISUSE(adxl_register_mem, K_HUGE, "range ending at 2^64", ADXL_PARAM_INVALID,
           adxl_register_mem(e, &m, ADXL_MEM_HOST, &h));
    CHECK(h == (adxl_mem_handle_t)(uintptr_t)0x5a5a); /* refused calls write nothing */

    MISUSE(adxl_deregister_mem, K_NULL, "NULL handle", ADXL_PARAM_INVALID,
           adxl_deregister_mem(e, NULL));
    /* Handles this engine never gave out are not dereferenced: SUCCESS, nothing done. */
    MISUSE(adxl_deregister_mem, K_HUGE, "UINTPTR_MAX", ADXL_SUCCESS,
           adxl_deregister_mem(e, (adxl_mem_handle_t)UINTPTR_MAX));
    MISUSE(adxl_deregister_mem, K_FOREIGN, "a handle of another engine", ADXL_SUCCESS,
           adxl_deregister_mem(e, c->oreg.handle));
    MISUSE(adxl_deregister_mem, K_FOREIGN, "the target's handle, from the initiator", ADXL_SUCCESS,
           adxl_deregister_mem(e, c->tr.handle));
    /* Both regions are still registered with their owners. */
    CHECK_STATUS(ta_xfer(c->e, c->tname, ADXL_WRITE, c->local, c->tr.ptr, 4096, 5000),
                 ADXL_SUCCESS);
    adxl_mem_handle_t again = NULL;
    adxl_mem_desc_t od = {(uintptr_t)c->oreg.ptr, c->oreg.len};
    CHECK_STATUS(adxl_register_mem(c->o, &od, ADXL_MEM_HOST, &again), ADXL_SUCCESS);
    CHECK(again == c->oreg.handle); /* a second reference to the same registration */
    CHECK_STATUS(adxl_deregister_mem(c->o, again), ADXL_SUCCESS);

    /*
     * A deregistered handle is stale. A new registration made after it may get memory
     * at the same address as the old bookkeeping; the stale handle must still name
     * nothing. Done on the target, where the initiator's WRITE shows whether the newer
     * region is still registered.
     */
    adxl_mem_handle_t old = NULL, newer = NULL;
    ta_region_t tr2;
    REQUIRE(ta_region_alloc(&tr2, NULL, 65536)); /* registered piece by piece below */
    adxl_mem_desc_t a = {(uintptr_t)tr2.ptr, 4096};
    adxl_mem_desc_t b = {(uintptr_t)tr2.ptr + 32768, 4096};
    REQUIRE(adxl_register_mem(c->t, &a, ADXL_MEM_HOST, &old) == ADXL_SUCCESS);
    REQUIRE(adxl_deregister_mem(c->t, old) == ADXL_SUCCESS);
    REQUIRE(adxl_register_mem(c->t, &b, ADXL_MEM_HOST, &newer) == ADXL_SUCCESS);
    MISUSE(adxl_deregister_mem, K_STALE, "deregistered, a newer region registered since",
           ADXL_SUCCESS, adxl_deregister_mem(c->t, old));
    tu_fill(c->local, 4096, 31);
    CHECK_STATUS(ta_xfer(c->e, c->tname, ADXL_WRITE, c->local, tr2.ptr + 32768, 4096, 5000),
                 ADXL_SUCCESS);
    CHECK(tu_verify(tr2.ptr + 32768, 4096, 31));
    CHECK_STATUS(adxl_deregister_mem(c->t, newer), ADXL_SUCCESS);
    MISUSE(adxl_deregister_mem, K_STALE, "deregistered twice", ADXL_SUCCESS,
           adxl_deregister_mem(c->t, newer));
    /* The region really is gone now. */
    CHECK_STATUS(ta_xfer(c->e, c->tname, ADXL_WRITE, c->local, tr2.ptr + 32768, 4096, 5000),
                 ADXL_PARAM_INVALID);
    ta_region_free(&tr2, NULL);
}

/* ------------------------------------------------------------------ connect, disconnect */

typedef adxl_status_t (*link_call_t)(adxl_engine_t *, const char *, int32_t);

/* The argument checks connect, disconnect and their async twins share. */
static void link_arg_cases(ctx_t *c, const char *fn, link_call_t call) {
    static char long_name[10001];
    memset(long_name, '1', sizeof(long_name) - 1);
    memcpy(long_name + 9990, ":80", 4);
    const struct {
        unsigned kind;
        const char *what;
        const char *name;
        int32_t timeout;
    } bad[] = {
        {K_NULL, "NULL name", NULL, 1000},
        {K_ZERO, "empty name", "", 1000},
        {K_ZERO, "timeout 0", c->tname, 0},
        {K_ZERO, "port 0", "127.0.0.1:0", 1000},
        {K_ZERO, "IPv6 port 0", "[::1]:0", 1000},
        {K_NEG, "timeout -1", c->tname, -1},
        {K_NEG, "timeout INT32_MIN", c->tname, INT32_MIN},
        {K_NEG, "port -1", "127.0.0.1:-1", 1000},
        {K_HUGE, "port 65536", "127.0.0.1:65536", 1000},
        {K_HUGE, "10000-character name", long_name, 1000},
        {K_STATE, "its own name", c->ename, 1000},
        {K_STATE, "a client-only name (no port)", "127.0.0.1", 1000},
        {K_STATE, "a host name, not an address", "localhost:80", 1000},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        case_begin(fn, bad[i].kind, bad[i].what, __LINE__);
        case_end_status(call(c->e, bad[i].name, bad[i].timeout), ADXL_PARAM_INVALID);
    }
}

static void test_links(ctx_t *c) {
    fprintf(stderr, "-- connect and disconnect, sync and async\n");
    link_arg_cases(c, "adxl_connect", adxl_connect);
    link_arg_cases(c, "adxl_disconnect", adxl_disconnect);
    link_arg_cases(c, "adxl_connect_async", adxl_connect_async);
    link_arg_cases(c, "adxl_disconnect_async", adxl_disconnect_async);

    /* INT32_MAX timeouts: every one of these returns as soon as its work is done. */
    MISUSE(adxl_connect, K_HUGE, "timeout INT32_MAX, linked already", ADXL_ALREADY_CONNECTED,
           adxl_connect(c->e, c->tname, INT32_MAX));
    MISUSE(adxl_disconnect, K_HUGE, "timeout INT32_MAX", ADXL_SUCCESS,
           adxl_disconnect(c->e, c->tname, INT32_MAX));
    MISUSE(adxl_disconnect, K_STALE, "disconnected already", ADXL_NOT_CONNECTED,
           adxl_disconnect(c->e, c->tname, 1000));
    MISUSE(adxl_disconnect_async, K_STALE, "disconnected already", ADXL_NOT_CONNECTED,
           adxl_disconnect_async(c->e, c->tname, 1000));
    MISUSE(adxl_connect, K_HUGE, "timeout INT32_MAX", ADXL_SUCCESS,
           adxl_connect(c->e, c->tname, INT32_MAX));
    MISUSE(adxl_disconnect_async, K_HUGE, "timeout INT32_MAX", ADXL_SUCCESS,
           adxl_disconnect_async(c->e, c->tname, INT32_MAX));
    CHECK(settle(c->e, c->tname) == ADXL_NOT_CONNECT);
    MISUSE(adxl_connect_async, K_HUGE, "timeout INT32_MAX", ADXL_SUCCESS,
           adxl_connect_async(c->e, c->tname, INT32_MAX));
    CHECK(settle(c->e, c->tname) == ADXL_CONNECTED);

    adxl_connect_state_t st = (adxl_connect_state_t)99;
    static char long_name[10001];
    memset(long_name, '1', sizeof(long_name) - 1);
    MISUSE(adxl_get_async_connect_status, K_NULL, "NULL name", ADXL_PARAM_INVALID,
           adxl_get_async_connect_status(c->e, NULL, &st));
    MISUSE(adxl_get_async_connect_status, K_NULL, "NULL state", ADXL_PARAM_INVALID,
           adxl_get_async_connect_status(c->e, c->tname, NULL));
    MISUSE(adxl_get_async_connect_status, K_ZERO, "empty name", ADXL_PARAM_INVALID,
           adxl_get_async_connect_status(c->e, "", &st));
    MISUSE(adxl_get_async_connect_status, K_ZERO, "port 0", ADXL_PARAM_INVALID,
           adxl_get_async_connect_status(c->e, "127.0.0.1:0", &st));
    MISUSE(adxl_get_async_connect_status, K_HUGE, "10000-character name", ADXL_PARAM_INVALID,
           adxl_get_async_connect_status(c->e, long_name, &st));
    CHECK(st == (adxl_connect_state_t)99);

    adxl_connect_status_t all[8];
    size_t n = 99;
    MISUSE(adxl_get_async_connect_statuses, K_NULL, "NULL count", ADXL_PARAM_INVALID,
           adxl_get_async_connect_statuses(c->e, all, 8, NULL));
    MISUSE(adxl_get_async_connect_statuses, K_NULL, "NULL array, capacity 8", ADXL_PARAM_INVALID,
           adxl_get_async_connect_statuses(c->e, NULL, 8, &n));
    CHECK(n == 99);
    MISUSE(adxl_get_async_connect_statuses, K_NULL | K_ZERO, "NULL array, capacity 0", ADXL_SUCCESS,
           adxl_get_async_connect_statuses(c->e, NULL, 0, &n));
    CHECK(n == 1); /* the one link, to the target */
    /* A capacity larger than the array is fine while fewer names exist than it holds. */
    MISUSE(adxl_get_async_connect_statuses, K_HUGE, "capacity SIZE_MAX", ADXL_SUCCESS,
           adxl_get_async_connect_statuses(c->e, all, SIZE_MAX, &n));
    CHECK(n == 1 && strcmp(all[0].remote_engine, c->tname) == 0 && all[0].state == ADXL_CONNECTED);

    /* A peer that went away: its name is stale. */
    adxl_engine_t *d = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(d != NULL);
    char dname[ADXL_ENGINE_NAME_MAX];
    snprintf(dname, sizeof(dname), "%s", adxl_local_engine(d));
    CHECK_STATUS(adxl_connect(c->e, dname, 10000), ADXL_SUCCESS);
    adxl_engine_destroy(d);
    /* Its link fails the transfer, or is found torn down already. */
    adxl_transfer_op_desc_t od = desc(c->local, c->tr.ptr, 4096);
    case_begin("adxl_transfer_sync", K_STALE, "to a peer destroyed since", __LINE__);
    adxl_status_t st1 = adxl_transfer_sync(c->e, dname, ADXL_WRITE, &od, 1, 5000);
    case_end_true(st1 == ADXL_FAILED || st1 == ADXL_NOT_CONNECTED);
    case_begin("adxl_disconnect", K_STALE, "from a peer destroyed since", __LINE__);
    adxl_status_t st2 = adxl_disconnect(c->e, dname, 1000);
    case_end_true(st2 == ADXL_SUCCESS || st2 == ADXL_NOT_CONNECTED);
    /* Nobody listens there any more (FAILED if some other program took the port). */
    case_begin("adxl_connect", K_STALE, "to a peer destroyed since", __LINE__);
    adxl_status_t st3 = adxl_connect(c->e, dname, 300);
    case_end_true(st3 == ADXL_TIMEOUT || st3 == ADXL_FAILED);
    if (!(st1 == ADXL_FAILED || st1 == ADXL_NOT_CONNECTED) ||
        !(st2 == ADXL_SUCCESS || st2 == ADXL_NOT_CONNECTED) ||
        !(st3 == ADXL_TIMEOUT || st3 == ADXL_FAILED))
        fprintf(stderr, "   transfer %s, disconnect %s, connect %s\n", adxl_status_str(st1),
                adxl_status_str(st2), adxl_status_str(st3));
}

/* ------------------------------------------------------------------ transfers */

static void test_transfer_args(ctx_t *c) {
    fprintf(stderr, "-- transfer arguments\n");
    adxl_engine_t *e = c->e;
    const char *t = c->tname;
    uint8_t *r = c->tr.ptr;
    adxl_transfer_op_desc_t good = desc(c->local, r, 4096);
    adxl_transfer_op_desc_t d;

    /* A batch refused for one bad descriptor moves none of its bytes. */
    tu_fill(r, 3 * 4096, 41);
    tu_fill(c->local, 3 * 4096, 42);
    adxl_transfer_op_desc_t batch[3] = {desc(c->local, r, 4096), desc(c->local + 4096, r + 4096, 0),
                                        desc(c->local + 8192, r + 8192, 4096)};
    MISUSE(adxl_transfer_sync, K_ZERO, "length 0 in the middle of a batch", ADXL_PARAM_INVALID,
           adxl_transfer_sync(e, t, ADXL_WRITE, batch, 3, 1000));
    CHECK(tu_verify(r, 3 * 4096, 41));

    const struct {
        unsigned kind;
        const char *what;
        const char *remote;
        adxl_transfer_op_t op;
        adxl_transfer_op_desc_t d;
        bool null_descs;
        size_t n;
        int32_t timeout; /* of the sync call, and args->timeout_ms of the async one */
    } bad[] = {
        {K_NULL, "NULL remote", NULL, ADXL_WRITE, good, false, 1, 1000},
        {K_NULL, "NULL descriptors", t, ADXL_WRITE, good, true, 1, 1000},
        {K_ZERO, "0 descriptors", t, ADXL_WRITE, good, false, 0, 1000},
        {K_ZERO, "local address 0", t, ADXL_WRITE, desc(NULL, r, 4096), false, 1, 1000},
        {K_ZERO, "remote address 0", t, ADXL_READ, desc(c->local, NULL, 4096), false, 1, 1000},
        {K_ZERO, "length 0", t, ADXL_WRITE, desc(c->local, r, 0), false, 1, 1000},
        {K_ZERO, "remote port 0", "127.0.0.1:0", ADXL_WRITE, good, false, 1, 1000},
        {K_NEG, "op -1", t, (adxl_transfer_op_t)-1, good, false, 1, 1000},
        {K_NEG, "timeout -1", t, ADXL_WRITE, good, false, 1, -1},
        {K_NEG, "timeout INT32_MIN", t, ADXL_READ, good, false, 1, INT32_MIN},
        {K_HUGE, "op INT32_MAX", t, (adxl_transfer_op_t)INT32_MAX, good, false, 1, 1000},
        {K_HUGE, "length SIZE_MAX", t, ADXL_WRITE, desc(c->local, r, SIZE_MAX), false, 1, 1000},
        {K_HUGE, "remote range past 2^64", t, ADXL_READ,
         (adxl_transfer_op_desc_t){(uintptr_t)c->local, UINTPTR_MAX - 10, 100}, false, 1, 1000},
        {K_HUGE, "local range past 2^64", t, ADXL_WRITE,
         (adxl_transfer_op_desc_t){UINTPTR_MAX - 10, (uintptr_t)r, 100}, false, 1, 1000},
        {K_STATE, "its own name", c->ename, ADXL_WRITE, good, false, 1, 1000},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        d = bad[i].d;
        const adxl_transfer_op_desc_t *descs = bad[i].null_descs ? NULL : &d;
        case_begin("adxl_transfer_sync", bad[i].kind, bad[i].what, __LINE__);
        case_end_status(
            adxl_transfer_sync(e, bad[i].remote, bad[i].op, descs, bad[i].n, bad[i].timeout),
            ADXL_PARAM_INVALID);
        adxl_transfer_args_t args = {bad[i].timeout, NULL};
        adxl_transfer_req_t req = NULL;
        case_begin("adxl_transfer_async", bad[i].kind, bad[i].what, __LINE__);
        case_end_status(
            adxl_transfer_async(e, bad[i].remote, bad[i].op, descs, bad[i].n, &args, &req),
            ADXL_PARAM_INVALID);
        CHECK(req == NULL); /* no handle given out */
    }
    MISUSE(adxl_transfer_sync, K_ZERO, "timeout 0", ADXL_PARAM_INVALID,
           adxl_transfer_sync(e, t, ADXL_WRITE, &good, 1, 0));
    MISUSE(adxl_transfer_async, K_NULL, "NULL request out-pointer", ADXL_PARAM_INVALID,
           adxl_transfer_async(e, t, ADXL_WRITE, &good, 1, NULL, NULL));

    /*
     * A READ far longer than anything the target registered: the target refuses it, and
     * nothing lands in the (small) local buffer, because buffered READ data is scattered
     * only from answers that succeeded. (The WRITE twin would read past the caller's
     * buffer before the target could refuse: a caller bug no library can catch.)
     */
    tu_fill(c->local, sizeof(c->local), 43);
    d = desc(c->local, r, (size_t)1 << 40);
    MISUSE(adxl_transfer_sync, K_HUGE, "READ of 2^40 bytes", ADXL_PARAM_INVALID,
           adxl_transfer_sync(e, t, ADXL_READ, &d, 1, 20000));
    CHECK(tu_verify(c->local, sizeof(c->local), 43));

    /* Huge timeouts are fine: the call returns when the transfer is done. */
    tu_fill(c->local, 4096, 44);
    MISUSE(adxl_transfer_sync, K_HUGE, "timeout INT32_MAX", ADXL_SUCCESS,
           adxl_transfer_sync(e, t, ADXL_WRITE, &good, 1, INT32_MAX));
    CHECK(tu_verify(r, 4096, 44));
    adxl_transfer_req_t req = NULL;
    adxl_transfer_args_t args = {INT32_MAX, NULL};
    MISUSE(adxl_transfer_async, K_HUGE, "args timeout INT32_MAX", ADXL_SUCCESS,
           adxl_transfer_async(e, t, ADXL_READ, &good, 1, &args, &req));
    CHECK(final_state(e, req) == ADXL_TRANSFER_COMPLETED);
    args.timeout_ms = 0;
    MISUSE(adxl_transfer_async, K_ZERO, "args timeout 0 (none)", ADXL_SUCCESS,
           adxl_transfer_async(e, t, ADXL_READ, &good, 1, &args, &req));
    CHECK(final_state(e, req) == ADXL_TRANSFER_COMPLETED);
    MISUSE(adxl_transfer_async, K_NULL, "NULL args (none)", ADXL_SUCCESS,
           adxl_transfer_async(e, t, ADXL_READ, &good, 1, NULL, &req));
    CHECK(final_state(e, req) == ADXL_TRANSFER_COMPLETED);

    /* Not linked (AutoConnect off). */
    MISUSE(adxl_transfer_sync, 0, "a peer never connected", ADXL_NOT_CONNECTED,
           adxl_transfer_sync(e, "127.0.0.1:1", ADXL_WRITE, &good, 1, 1000));
}

/* ------------------------------------------------------------------ request handles */

static void test_request_handles(ctx_t *c) {
    fprintf(stderr, "-- request handles: NULL, made up, stale, foreign\n");
    adxl_engine_t *e = c->e;
    adxl_transfer_status_t s = (adxl_transfer_status_t)99;
    adxl_transfer_op_desc_t d = desc(c->local, c->tr.ptr, 4096);

    MISUSE(adxl_get_transfer_status, K_NULL, "NULL request", ADXL_FAILED,
           adxl_get_transfer_status(e, NULL, &s));
    MISUSE(adxl_get_transfer_status, K_HUGE, "UINTPTR_MAX", ADXL_PARAM_INVALID,
           adxl_get_transfer_status(e, (adxl_transfer_req_t)UINTPTR_MAX, &s));
    MISUSE(adxl_get_transfer_status, K_FOREIGN, "made up (an address in this process)",
           ADXL_PARAM_INVALID, adxl_get_transfer_status(e, (adxl_transfer_req_t)c->local, &s));
    CHECK(s == (adxl_transfer_status_t)99);

    /* A live request survives calls that are refused. */
    adxl_transfer_req_t live = NULL;
    REQUIRE(adxl_transfer_async(e, c->tname, ADXL_READ, &d, 1, NULL, &live) == ADXL_SUCCESS);
    MISUSE(adxl_get_transfer_status, K_NULL, "NULL status out-pointer", ADXL_PARAM_INVALID,
           adxl_get_transfer_status(e, live, NULL));
    CHECK(final_state(e, live) == ADXL_TRANSFER_COMPLETED);
    MISUSE(adxl_get_transfer_status, K_STALE, "reported final already", ADXL_PARAM_INVALID,
           adxl_get_transfer_status(e, live, &s));

    /*
     * Stale handles while newer requests are outstanding: a released request's memory
     * is soon reused by a new one, and asking about the old handle must not report (and
     * release) the new request. Many rounds, keeping every old handle.
     */
    enum { ROUNDS = 64 };
    adxl_transfer_req_t old[ROUNDS];
    int stale_ok = 0, newer_ok = 0;
    for (int i = 0; i < ROUNDS; i++) {
        REQUIRE(adxl_transfer_async(e, c->tname, ADXL_READ, &d, 1, NULL, &old[i]) == ADXL_SUCCESS);
        if (final_state(e, old[i]) != ADXL_TRANSFER_COMPLETED) continue;
        adxl_transfer_req_t newer = NULL;
        adxl_transfer_args_t args = {0, &old[i]};
        REQUIRE(adxl_transfer_async(e, c->tname, ADXL_READ, &d, 1, &args, &newer) == ADXL_SUCCESS);
        bool all_refused = true;
        for (int k = 0; k <= i; k++)
            all_refused =
                all_refused && adxl_get_transfer_status(e, old[k], &s) == ADXL_PARAM_INVALID;
        stale_ok += all_refused;
        newer_ok += final_state(e, newer) == ADXL_TRANSFER_COMPLETED;
    }
    case_begin("adxl_get_transfer_status", K_STALE, "64 released handles, newer ones live",
               __LINE__);
    case_end_true(stale_ok == ROUNDS && newer_ok == ROUNDS);
    if (stale_ok != ROUNDS || newer_ok != ROUNDS)
        fprintf(stderr, "   %d/%d rounds refused every stale handle, %d/%d newer completed\n",
                stale_ok, ROUNDS, newer_ok, ROUNDS);

    /* Another engine's request is unknown here, and stays its owner's. */
    MISUSE(adxl_get_transfer_status, K_FOREIGN, "a request of another engine", ADXL_PARAM_INVALID,
           adxl_get_transfer_status(e, c->o_req, &s));
    adxl_transfer_result_t res[8];
    size_t n = 99;
    MISUSE(adxl_get_transfer_statuses, K_FOREIGN, "only this engine's requests", ADXL_SUCCESS,
           adxl_get_transfer_statuses(e, res, 8, 0, &n));
    CHECK(n == 0);
    CHECK(final_state(c->o, c->o_req) == ADXL_TRANSFER_COMPLETED);
    MISUSE(adxl_get_transfer_status, K_STALE, "another engine's, released by it",
           ADXL_PARAM_INVALID, adxl_get_transfer_status(e, c->o_req, &s));

    /* Bulk status: argument checks, then a request released by it is stale. */
    adxl_transfer_req_t r1 = NULL;
    REQUIRE(adxl_transfer_async(e, c->tname, ADXL_READ, &d, 1, NULL, &r1) == ADXL_SUCCESS);
    n = 99;
    MISUSE(adxl_get_transfer_statuses, K_NULL, "NULL count", ADXL_PARAM_INVALID,
           adxl_get_transfer_statuses(e, res, 8, 0, NULL));
    MISUSE(adxl_get_transfer_statuses, K_NULL, "NULL results, max_count 8", ADXL_PARAM_INVALID,
           adxl_get_transfer_statuses(e, NULL, 8, 0, &n));
    MISUSE(adxl_get_transfer_statuses, K_HUGE, "flags UINT32_MAX", ADXL_PARAM_INVALID,
           adxl_get_transfer_statuses(e, res, 8, UINT32_MAX, &n));
    MISUSE(adxl_get_transfer_statuses, K_HUGE, "unknown flag 2", ADXL_PARAM_INVALID,
           adxl_get_transfer_statuses(e, res, 8, 2, &n));
    CHECK(n == 99);
    MISUSE(adxl_get_transfer_statuses, K_NULL | K_ZERO, "NULL results, max_count 0", ADXL_SUCCESS,
           adxl_get_transfer_statuses(e, NULL, 0, 0, &n));
    CHECK(n == 0);
    /* r1 is still there after those: wait until the bulk call reports it final. */
    bool reported = false;
    uint64_t until = tu_now_ms() + TA_HANG_MS;
    while (!reported && tu_now_ms() < until) {
        n = 0;
        case_begin("adxl_get_transfer_statuses", K_HUGE, "max_count SIZE_MAX", __LINE__);
        case_end_status(adxl_get_transfer_statuses(e, res, SIZE_MAX, ADXL_STATUS_SKIP_WAITING, &n),
                        ADXL_SUCCESS);
        reported = n == 1 && res[0].req == r1 && res[0].status == ADXL_TRANSFER_COMPLETED;
        if (n > 1 || (n == 1 && !reported)) break;
        if (!reported) tu_sleep_ms(1);
    }
    CHECK(reported);
    MISUSE(adxl_get_transfer_status, K_STALE, "released by the bulk call", ADXL_PARAM_INVALID,
           adxl_get_transfer_status(e, r1, &s));
    MISUSE(adxl_get_transfer_statuses, K_STALE, "nothing left once all were reported", ADXL_SUCCESS,
           adxl_get_transfer_statuses(e, res, 8, 0, &n));
    CHECK(n == 0);
}

/* ------------------------------------------------------------------ notifies, stats */

static void test_notifies(ctx_t *c) {
    fprintf(stderr, "-- notifies and stats\n");
    adxl_engine_t *e = c->e;
    const char *t = c->tname;
    static char n1024[1025], n1025[1026];
    memset(n1024, 'a', 1024);
    memset(n1025, 'b', 1025);
    MISUSE(adxl_send_notify, K_NULL, "NULL remote", ADXL_PARAM_INVALID,
           adxl_send_notify(e, NULL, "n", "m", 1000));
    MISUSE(adxl_send_notify, K_NULL, "NULL name", ADXL_PARAM_INVALID,
           adxl_send_notify(e, t, NULL, "m", 1000));
    MISUSE(adxl_send_notify, K_NULL, "NULL message", ADXL_PARAM_INVALID,
           adxl_send_notify(e, t, "n", NULL, 1000));
    MISUSE(adxl_send_notify, K_ZERO, "timeout 0", ADXL_PARAM_INVALID,
           adxl_send_notify(e, t, "n", "m", 0));
    MISUSE(adxl_send_notify, K_ZERO, "remote port 0", ADXL_PARAM_INVALID,
           adxl_send_notify(e, "127.0.0.1:0", "n", "m", 1000));
    MISUSE(adxl_send_notify, K_NEG, "timeout -1", ADXL_PARAM_INVALID,
           adxl_send_notify(e, t, "n", "m", -1));
    MISUSE(adxl_send_notify, K_NEG, "timeout INT32_MIN", ADXL_PARAM_INVALID,
           adxl_send_notify(e, t, "n", "m", INT32_MIN));
    MISUSE(adxl_send_notify, K_HUGE, "name of 1025 characters", ADXL_PARAM_INVALID,
           adxl_send_notify(e, t, n1025, "m", 1000));
    MISUSE(adxl_send_notify, K_HUGE, "message of 1025 characters", ADXL_PARAM_INVALID,
           adxl_send_notify(e, t, "n", n1025, 1000));
    MISUSE(adxl_send_notify, K_STATE, "its own name", ADXL_PARAM_INVALID,
           adxl_send_notify(e, c->ename, "n", "m", 1000));
    /* Limits, not misuse: all of these go through. */
    MISUSE(adxl_send_notify, K_ZERO, "empty name and message", ADXL_SUCCESS,
           adxl_send_notify(e, t, "", "", 1000));
    MISUSE(adxl_send_notify, K_HUGE, "1024 characters each, timeout INT32_MAX", ADXL_SUCCESS,
           adxl_send_notify(e, t, n1024, n1024, INT32_MAX));

    adxl_notify_t notes[4];
    size_t count = 99;
    MISUSE(adxl_get_notifies, K_NULL, "NULL count", ADXL_PARAM_INVALID,
           adxl_get_notifies(c->t, notes, 4, NULL));
    MISUSE(adxl_get_notifies, K_NULL, "NULL array, capacity 4", ADXL_PARAM_INVALID,
           adxl_get_notifies(c->t, NULL, 4, &count));
    CHECK(count == 99);
    MISUSE(adxl_get_notifies, K_NULL | K_ZERO, "NULL array, capacity 0", ADXL_SUCCESS,
           adxl_get_notifies(c->t, NULL, 0, &count));
    CHECK(count == 2); /* counted, not taken */
    MISUSE(adxl_get_notifies, K_HUGE, "capacity SIZE_MAX, fewer queued than the array holds",
           ADXL_SUCCESS, adxl_get_notifies(c->t, notes, SIZE_MAX, &count));
    CHECK(count == 2 && notes[0].name[0] == '\0' && notes[0].msg[0] == '\0' &&
          strcmp(notes[1].name, n1024) == 0 && strcmp(notes[1].msg, n1024) == 0);

    MISUSE(adxl_get_stats, K_NULL, "NULL stats", ADXL_PARAM_INVALID, adxl_get_stats(e, NULL));
}

/* ------------------------------------------------------------------ after finalize, re-created */

static void test_after_finalize(ctx_t *c) {
    fprintf(stderr, "-- handles across finalize, and across destroy-and-create\n");
    /* Finalize with a request outstanding (or done, never collected), then again. */
    adxl_engine_t *f = tu_engine("127.0.0.1", NULL, 0);
    REQUIRE(f != NULL);
    REQUIRE(adxl_connect(f, c->tname, 10000) == ADXL_SUCCESS);
    adxl_transfer_op_desc_t d = desc(c->local, c->tr.ptr, 4096);
    adxl_transfer_req_t fr = NULL;
    REQUIRE(adxl_transfer_async(f, c->tname, ADXL_READ, &d, 1, NULL, &fr) == ADXL_SUCCESS);
    adxl_finalize(f);
    adxl_transfer_status_t s;
    MISUSE(adxl_get_transfer_status, K_STATE, "finalized, request from before", ADXL_FAILED,
           adxl_get_transfer_status(f, fr, &s));
    REQUIRE(adxl_initialize(f, "127.0.0.1", NULL, 0) == ADXL_SUCCESS);
    MISUSE(adxl_get_transfer_status, K_STALE, "initialized again, request from before",
           ADXL_PARAM_INVALID, adxl_get_transfer_status(f, fr, &s));
    MISUSE(adxl_transfer_sync, K_STALE, "initialized again, link from before", ADXL_NOT_CONNECTED,
           adxl_transfer_sync(f, c->tname, ADXL_READ, &d, 1, 1000));
    MISUSE_TRUE(adxl_engine_destroy, K_STATE, "initialized again", (adxl_engine_destroy(f), true));

    /* `again` was created after an engine holding gone_mem and gone_req was destroyed. */
    REQUIRE(adxl_initialize(c->again, "127.0.0.1:0", NULL, 0) == ADXL_SUCCESS);
    char aname[ADXL_ENGINE_NAME_MAX];
    snprintf(aname, sizeof(aname), "%s", adxl_local_engine(c->again));
    ta_region_t ar;
    REQUIRE(ta_region_alloc(&ar, c->again, 65536));
    adxl_transfer_req_t ar_req = NULL;
    REQUIRE(adxl_connect(c->again, c->tname, 10000) == ADXL_SUCCESS);
    adxl_transfer_op_desc_t ad = desc(ar.ptr, c->tr.ptr, 4096);
    REQUIRE(adxl_transfer_async(c->again, c->tname, ADXL_READ, &ad, 1, NULL, &ar_req) ==
            ADXL_SUCCESS);
    MISUSE(adxl_deregister_mem, K_STALE, "handle of a destroyed engine", ADXL_SUCCESS,
           adxl_deregister_mem(c->again, c->gone_mem));
    MISUSE(adxl_get_transfer_status, K_STALE, "request of a destroyed engine", ADXL_PARAM_INVALID,
           adxl_get_transfer_status(c->again, c->gone_req, &s));
    /* Neither touched what `again` holds: its request completes, its region is served. */
    CHECK(final_state(c->again, ar_req) == ADXL_TRANSFER_COMPLETED);
    CHECK_STATUS(adxl_connect(c->e, aname, 10000), ADXL_SUCCESS);
    tu_fill(c->local, 4096, 51);
    CHECK_STATUS(ta_xfer(c->e, aname, ADXL_WRITE, c->local, ar.ptr, 4096, 5000), ADXL_SUCCESS);
    CHECK(tu_verify(ar.ptr, 4096, 51));
    CHECK_STATUS(adxl_disconnect(c->e, aname, 5000), ADXL_SUCCESS);
    ta_region_free(&ar, c->again);
}

/* ------------------------------------------------------------------ coverage check */

/* Marks every function the public header declares (ADXL_API ... name(...)). */
static bool read_header_functions(void) {
    FILE *f = fopen(ADXL_PUBLIC_HEADER, "r");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", ADXL_PUBLIC_HEADER);
        return false;
    }
    static char text[1 << 17];
    size_t len = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[len] = '\0';
    bool ok = true;
    int found = 0;
    for (char *p = strstr(text, "ADXL_API "); p != NULL; p = strstr(p + 1, "ADXL_API ")) {
        char *paren = strchr(p, '(');
        if (paren == NULL) break;
        char *end = paren;
        while (end > p && end[-1] == ' ')
            end--;
        char *start = end;
        while (start > p && (start[-1] == '_' || (start[-1] >= 'a' && start[-1] <= 'z') ||
                             (start[-1] >= '0' && start[-1] <= '9')))
            start--;
        if (strncmp(start, "adxl_", 5) != 0) continue; /* the macro's own definition */
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)(end - start), start);
        fn_cov_t *c = cov_find(name);
        if (c == NULL) {
            fprintf(stderr, "%s declares %s, which has no row in the coverage table\n",
                    ADXL_PUBLIC_HEADER, name);
            ok = false;
        } else {
            c->in_header = true;
            found++;
        }
    }
    fprintf(stderr, "   %d public functions in %s\n", found, ADXL_PUBLIC_HEADER);
    return ok && found > 0;
}

static void check_coverage(void) {
    fprintf(stderr, "-- coverage\n");
    CHECK(read_header_functions());
    int total = 0;
    for (size_t i = 0; i < N_COV; i++) {
        fn_cov_t *c = &cov[i];
        total += c->cases;
        if (!c->in_header) {
            fprintf(stderr, "%s is in the table but not in the header\n", c->fn);
            tu_checks_failed++;
        }
        if (c->cases == 0) {
            fprintf(stderr, "%s: no misuse case\n", c->fn);
            tu_checks_failed++;
        }
        unsigned missing = c->need & ~c->got;
        for (unsigned k = 0; k < sizeof(kind_names) / sizeof(kind_names[0]); k++)
            if (missing & (1u << k)) {
                fprintf(stderr, "%s: no %s case\n", c->fn, kind_names[k]);
                tu_checks_failed++;
            }
        tu_checks_passed++;
    }
    fprintf(stderr, "   %d misuse cases over %zu functions\n", total, N_COV);
}

int main(void) {
    signal(SIGALRM, on_alarm);
    ctx_t *c = calloc(1, sizeof(*c));
    REQUIRE(c != NULL);
    setup(c);
    test_engine_states(c);
    test_plain_functions();
    test_initialize(c);
    test_registration(c);
    test_links(c);
    test_transfer_args(c);
    test_request_handles(c);
    test_notifies(c);
    test_after_finalize(c);
    check_coverage();

    adxl_engine_destroy(c->again);
    MISUSE_TRUE(adxl_engine_destroy, K_STATE, "never initialized",
                (adxl_engine_destroy(c->raw), true));
    MISUSE_TRUE(adxl_engine_destroy, K_STATE, "finalized", (adxl_engine_destroy(c->fin), true));
    adxl_engine_destroy(c->o);
    adxl_engine_destroy(c->e);
    ta_region_free(&c->oreg, NULL);
    ta_region_free(&c->tr, c->t);
    adxl_engine_destroy(c->t);
    free(c);
    return tu_finish();
}
