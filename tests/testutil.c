#include "testutil.h"

#include "bench_pattern.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int tu_checks_passed;
int tu_checks_failed;

int tu_finish(void) {
    printf("%d passed, %d failed\n", tu_checks_passed, tu_checks_failed);
    fflush(stdout);
    return tu_checks_failed == 0 && tu_checks_passed > 0 ? 0 : 1;
}

uint8_t tu_pattern_byte(uint64_t seed, size_t off) {
    return bench_pattern_byte(seed, off);
}

void tu_fill(void *buf, size_t len, uint64_t seed) {
    bench_pattern_fill(buf, len, seed, 0);
}

bool tu_verify(const void *buf, size_t len, uint64_t seed) {
    uint8_t want = 0;
    size_t off = bench_pattern_check(buf, len, seed, 0, &want);
    if (off == SIZE_MAX) return true;
    fprintf(stderr, "verify: offset %zu of %zu holds 0x%02x, expected 0x%02x\n", off, len,
            ((const uint8_t *)buf)[off], want);
    return false;
}

adxl_engine_t *tu_engine(const char *local_name, const adxl_option_t *opts, size_t num_opts) {
    adxl_engine_t *engine = NULL;
    adxl_status_t st = adxl_engine_create(&engine);
    if (st != ADXL_SUCCESS) {
        fprintf(stderr, "adxl_engine_create: %s\n", adxl_status_str(st));
        return NULL;
    }
    st = adxl_initialize(engine, local_name, opts, num_opts);
    if (st != ADXL_SUCCESS) {
        fprintf(stderr, "adxl_initialize(%s): %s\n", local_name, adxl_status_str(st));
        adxl_engine_destroy(engine);
        return NULL;
    }
    return engine;
}

uint64_t tu_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool tu_spawn(tu_child_t *child, tu_child_fn fn, void *arg) {
    int down[2], up[2];
    if (pipe(down) != 0) return false;
    if (pipe(up) != 0) {
        close(down[0]);
        close(down[1]);
        return false;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
        close(down[1]);
        close(up[0]);
        int rc = fn(arg, up[1], down[0]);
        fflush(stdout);
        fflush(stderr);
        _exit(rc);
    }
    close(down[0]);
    close(up[1]);
    child->pid = pid;
    child->to_child = down[1];
    child->from_child = up[0];
    return true;
}

bool tu_send_line(int fd, const char *fmt, ...) {
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(buf) - 1) return false;
    buf[n++] = '\n';
    for (int off = 0; off < n;) {
        ssize_t w = write(fd, buf + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        off += (int)w;
    }
    return true;
}

bool tu_recv_line(int fd, char *buf, size_t cap, int timeout_ms) {
    size_t len = 0;
    uint64_t deadline = tu_now_ms() + (uint64_t)timeout_ms;
    while (len + 1 < cap) {
        uint64_t now = tu_now_ms();
        if (now >= deadline) return false;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, (int)(deadline - now));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        char c;
        ssize_t got = read(fd, &c, 1);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return false;
        if (c == '\n') {
            buf[len] = '\0';
            return true;
        }
        buf[len++] = c;
    }
    return false;
}

int tu_wait_child(tu_child_t *child, int timeout_ms) {
    uint64_t deadline = tu_now_ms() + (uint64_t)timeout_ms;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(child->pid, &status, WNOHANG);
        if (r == child->pid) break;
        if (r < 0) return -1;
        if (tu_now_ms() >= deadline) {
            kill(child->pid, SIGKILL);
            waitpid(child->pid, &status, 0);
            return -1;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    close(child->to_child);
    close(child->from_child);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool tu_over_ucx(void) {
    const char *t = getenv("ADXL_TRANSPORT");
    return t && strcmp(t, "ucx") == 0;
}

bool tu_stop_child(pid_t pid) {
    if (kill(pid, SIGSTOP) != 0) return false;
    int status;
    pid_t r;
    do
        r = waitpid(pid, &status, WUNTRACED);
    while (r < 0 && errno == EINTR);
    return r == pid && WIFSTOPPED(status);
}

bool tu_cont_child(pid_t pid) {
    if (kill(pid, SIGCONT) != 0) return false;
    int status;
    pid_t r;
    do
        r = waitpid(pid, &status, WCONTINUED);
    while (r < 0 && errno == EINTR);
    return r == pid && WIFCONTINUED(status);
}

double tu_process_cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int tu_highest_fd(void) {
    DIR *d = opendir("/proc/self/fd");
    int high = -1;
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.' && atoi(e->d_name) > high) high = atoi(e->d_name);
    if (d) closedir(d);
    return high;
}

bool tu_closed_within(int fd, int wait_ms) {
    uint8_t buf[4096];
    uint64_t until = tu_now_ms() + (uint64_t)wait_ms;
    while (tu_now_ms() < until) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0) continue;
        if (recv(fd, buf, sizeof(buf), 0) <= 0) return true;
    }
    return false;
}

void tu_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

adxl_transfer_status_t tu_wait_req(adxl_engine_t *engine, adxl_transfer_req_t req, int wait_ms) {
    uint64_t end = tu_now_ms() + (uint64_t)wait_ms;
    for (;;) {
        adxl_transfer_status_t s = ADXL_TRANSFER_WAITING;
        adxl_status_t st = adxl_get_transfer_status(engine, req, &s);
        if (st != ADXL_SUCCESS) {
            fprintf(stderr, "adxl_get_transfer_status: %s\n", adxl_status_str(st));
            return ADXL_TRANSFER_WAITING;
        }
        if (s != ADXL_TRANSFER_WAITING) return s;
        if (tu_now_ms() >= end) {
            fprintf(stderr, "request still WAITING after %d ms\n", wait_ms);
            return ADXL_TRANSFER_WAITING;
        }
        tu_sleep_ms(1);
    }
}
