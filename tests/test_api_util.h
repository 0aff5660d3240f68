/*
 * Helpers shared by the tests/test_api_*.c programs (public-API tests). Everything here
 * is static inline so that a test that uses only part of it still builds warning-free.
 */
#ifndef ADXL_TEST_API_UTIL_H
#define ADXL_TEST_API_UTIL_H

#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A generous upper bound for calls that must not hang (noisy 2-core machine). */
#define TA_HANG_MS 20000

/* The port at the end of an engine name ("127.0.0.1:41234", "[::1]:41234"); 0 if none. */
static inline unsigned ta_name_port(const char *name) {
    if (name == NULL) return 0;
    const char *colon = strrchr(name, ':');
    const char *bracket = strrchr(name, ']');
    if (colon == NULL || (bracket != NULL && colon < bracket)) return 0;
    char *end = NULL;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno != 0 || end == colon + 1 || *end != '\0' || port > 65535) return 0;
    return (unsigned)port;
}

/* A TCP port on 127.0.0.1 (or ::1) that nobody listens on, bound to *hold: while that
 * socket stays open (bound, not listening, without SO_REUSEADDR) no other socket of any
 * process can take the port, so a connect to it is refused every time. With hold NULL
 * the socket is closed at once: the port is free now, and anyone may take it later. */
static inline unsigned ta_dead_port(bool v6, int *hold) {
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t len;
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*a);
    }
    unsigned port = 0;
    if (bind(fd, (struct sockaddr *)&ss, len) == 0 &&
        getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        port = v6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                  : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (hold && port != 0)
        *hold = fd;
    else
        close(fd);
    return port;
}

/* A port nobody listens on right now (for a target to take it later). */
static inline unsigned ta_free_port(bool v6) {
    return ta_dead_port(v6, NULL);
}

/* Whether ::1 can be bound here (IPv6 tests are skipped otherwise). */
static inline bool ta_have_ipv6(void) {
    return ta_free_port(true) != 0;
}

/* A listening TCP socket on 127.0.0.1:0; its port goes to *port. -1 on failure. */
static inline int ta_listen_socket(unsigned *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, len) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* A host buffer from adxl_malloc_mem registered with engine; NULL on failure. */
typedef struct {
    uint8_t *ptr;
    size_t len;
    adxl_mem_handle_t handle;
} ta_region_t;

static inline bool ta_region_alloc(ta_region_t *r, adxl_engine_t *engine, size_t len) {
    memset(r, 0, sizeof(*r));
    void *p = NULL;
    if (adxl_malloc_mem(ADXL_MEM_HOST, len, &p) != ADXL_SUCCESS || p == NULL) return false;
    r->ptr = p;
    r->len = len;
    if (engine == NULL) return true;
    adxl_mem_desc_t d = {(uintptr_t)p, len};
    adxl_status_t st = adxl_register_mem(engine, &d, ADXL_MEM_HOST, &r->handle);
    if (st != ADXL_SUCCESS) {
        fprintf(stderr, "adxl_register_mem: %s\n", adxl_status_str(st));
        adxl_free_mem(p);
        r->ptr = NULL;
        return false;
    }
    return true;
}

static inline void ta_region_free(ta_region_t *r, adxl_engine_t *engine) {
    if (r->ptr == NULL) return;
    if (engine != NULL && r->handle != NULL) adxl_deregister_mem(engine, r->handle);
    adxl_free_mem(r->ptr);
    memset(r, 0, sizeof(*r));
}

/* One-descriptor WRITE/READ of len bytes between local and remote addresses. */
static inline adxl_status_t ta_xfer(adxl_engine_t *engine, const char *remote,
                                    adxl_transfer_op_t op, const void *local, const void *rem,
                                    size_t len, int32_t timeout_ms) {
    adxl_transfer_op_desc_t d = {(uintptr_t)local, (uintptr_t)rem, len};
    return adxl_transfer_sync(engine, remote, op, &d, 1, timeout_ms);
}

/* Runs fn(arg) in a thread and waits at most limit_ms for it; ends the test (a failed
 * REQUIRE) if it does not return in time, since a hang is not recoverable. */
typedef struct {
    void (*fn)(void *);
    void *arg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
} ta_deadline_t;

static inline void *ta_deadline_thread(void *p) {
    ta_deadline_t *d = p;
    d->fn(d->arg);
    pthread_mutex_lock(&d->mu);
    d->done = true;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

static inline bool ta_run_within(void (*fn)(void *), void *arg, int limit_ms, const char *what) {
    ta_deadline_t *d = calloc(1, sizeof(*d));
    if (d == NULL) return false;
    d->fn = fn;
    d->arg = arg;
    pthread_mutex_init(&d->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_t th;
    if (pthread_create(&th, NULL, ta_deadline_thread, d) != 0) {
        free(d);
        return false;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += limit_ms / 1000;
    ts.tv_nsec += (long)(limit_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&d->mu);
    while (!d->done) {
        if (pthread_cond_timedwait(&d->cv, &d->mu, &ts) == ETIMEDOUT) break;
    }
    bool done = d->done;
    pthread_mutex_unlock(&d->mu);
    if (!done) {
        fprintf(stderr, "%s did not return within %d ms (hang)\n", what, limit_ms);
        tu_checks_failed++;
        fflush(stderr);
        _exit(tu_finish());
    }
    pthread_join(th, NULL);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
    return true;
}

/*
 * For a child process about to read memory that its engine's threads wrote for a peer in
 * another process. The order is real (the peer got the target's answer before it told us
 * to look), but it runs through another process, which ThreadSanitizer cannot see. TSan
 * orders every socket send before every later socket receive in a process, and the target
 * thread sent its answer after writing: one loopback datagram to ourselves makes that
 * order visible. Harmless (and cheap) in other builds.
 */
static inline void ta_sync_with_engine_threads(void) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    char byte = 1;
    if (bind(fd, (struct sockaddr *)&a, len) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0 &&
        sendto(fd, &byte, 1, 0, (struct sockaddr *)&a, len) == 1) {
        ssize_t r = recv(fd, &byte, 1, 0);
        (void)r;
    }
    close(fd);
}

/* Checks run in a forked child count in the child; it resets the counters and returns
 * this as its exit status. */
static inline int ta_child_result(void) {
    fflush(stdout);
    fflush(stderr);
    return tu_checks_failed == 0 ? 0 : 1;
}

static inline void ta_child_reset(void) {
    tu_checks_passed = 0;
    tu_checks_failed = 0;
}

#endif
