/*
 * A small test harness shared by every test program: checks that count instead of
 * aborting, deterministic data patterns, engine helpers, and a forked child process that
 * runs an engine of its own (for tests that need a second process).
 */
#ifndef ADXL_TESTUTIL_H
#define ADXL_TESTUTIL_H

#include <adxl/adxl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

extern int tu_checks_passed;
extern int tu_checks_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            tu_checks_passed++;                                                                    \
        } else {                                                                                   \
            tu_checks_failed++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

/* Compares two statuses and prints both by name when they differ. */
#define CHECK_STATUS(expr, expected)                                                               \
    do {                                                                                           \
        adxl_status_t tu_got_ = (expr);                                                            \
        adxl_status_t tu_want_ = (expected);                                                       \
        if (tu_got_ == tu_want_) {                                                                 \
            tu_checks_passed++;                                                                    \
        } else {                                                                                   \
            tu_checks_failed++;                                                                    \
            fprintf(stderr, "%s:%d: %s returned %s (%u), expected %s (%u)\n", __FILE__, __LINE__,  \
                    #expr, adxl_status_str(tu_got_), tu_got_, adxl_status_str(tu_want_),           \
                    tu_want_);                                                                     \
        }                                                                                          \
    } while (0)

/* Like CHECK but ends the test at once: for set-up steps that later checks depend on. */
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);             \
            tu_checks_failed++;                                                                    \
            exit(tu_finish());                                                                     \
        }                                                                                          \
    } while (0)

/* Prints "N passed, M failed" and returns the process exit code. */
int tu_finish(void);

/* Bytes an engine moved as initiator with no work by the target's process: the shm
 * transport's mapped and CMA paths, and device memory copied over a runtime's IPC. A
 * target serves no frames for them, and a stopped target still completes them, so tests
 * that stop a target expect success there. */
static inline uint64_t tu_one_sided_bytes(const adxl_stats_t *s) {
    return s->bytes_mapped + s->bytes_cma + s->bytes_device_mapped;
}

/* Bytes an engine moved as initiator that a target counts no frames for: the one-sided
 * shm paths and UCX's put/get (whose target-side work, if any, UCX does). */
static inline uint64_t tu_frameless_bytes(const adxl_stats_t *s) {
    return tu_one_sided_bytes(s) + s->bytes_ucx;
}

/* Fills buf with a pattern that depends on seed and on each byte's offset. */
void tu_fill(void *buf, size_t len, uint64_t seed);
/* Returns true when buf holds exactly the pattern tu_fill(seed) would write; on a
 * mismatch it prints the first differing offset. */
bool tu_verify(const void *buf, size_t len, uint64_t seed);
/* The byte tu_fill(seed) writes at offset off of a buffer. */
uint8_t tu_pattern_byte(uint64_t seed, size_t off);

/* Creates and initializes an engine; NULL on failure (the status goes to stderr). */
adxl_engine_t *tu_engine(const char *local_name, const adxl_option_t *opts, size_t num_opts);

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t tu_now_ms(void);
/* Sleeps ms milliseconds, whatever signals arrive (never as synchronisation: to pace). */
void tu_sleep_ms(int ms);
/* Polls req until it ends, for at most wait_ms: its final status, or ADXL_TRANSFER_WAITING
 * (with a line saying why) when its status cannot be read or it is still waiting then. */
adxl_transfer_status_t tu_wait_req(adxl_engine_t *engine, adxl_transfer_req_t req, int wait_ms);
/* A repeatable pseudo-random stream (xorshift64): *state must start non-zero. */
static inline uint64_t tu_xorshift(uint64_t *state) {
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}
/* CPU time this process has used, in ms (all its threads). */
double tu_process_cpu_ms(void);
/* The highest descriptor number open in this process. */
int tu_highest_fd(void);
/* Whether the peer closes the connection fd (after whatever it sends) within wait_ms. */
bool tu_closed_within(int fd, int wait_ms);

/*
 * A child process for tests that need a peer in another process. The child runs
 * fn(arg, to_parent_fd, from_parent_fd) and exits with its return value. Parent and child
 * talk over two pipes with tu_send_line/tu_recv_line (one text line per message).
 */
typedef struct {
    pid_t pid;
    int to_child;   /* parent writes here */
    int from_child; /* parent reads here */
} tu_child_t;

typedef int (*tu_child_fn)(void *arg, int to_parent, int from_parent);
bool tu_spawn(tu_child_t *child, tu_child_fn fn, void *arg);
bool tu_send_line(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reads one line (without the newline) into buf; false on EOF, error or timeout. */
bool tu_recv_line(int fd, char *buf, size_t cap, int timeout_ms);
/* Sends SIGSTOP to a child and returns once it is really stopped (kill() alone returns
 * before the signal has taken effect); SIGCONT likewise. */
/* Whether this run forces the UCX transport (the ucx_* test variants). */
bool tu_over_ucx(void);
bool tu_stop_child(pid_t pid);
bool tu_cont_child(pid_t pid);
/* Waits for the child to exit; returns its exit status, or -1 if it was killed or
 * did not exit within timeout_ms (then it is killed). */
int tu_wait_child(tu_child_t *child, int timeout_ms);

#endif
