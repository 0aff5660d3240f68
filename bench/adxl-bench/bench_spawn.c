/* Spawning and reaping the one-host run's target process; see bench_spawn.h. */
#include "bench_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#define READY_TIMEOUT_MS 20000
#define EXIT_TIMEOUT_MS 10000

static void describe_exit(int status, char *out, size_t out_len) {
    if (WIFEXITED(status)) {
        snprintf(out, out_len, "exited with status %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        snprintf(out, out_len, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    } else {
        snprintf(out, out_len, "stopped");
    }
}

/* Waits up to timeout_ms for the child to exit, then kills it; returns its status. */
static int reap(pid_t pid, int timeout_ms, bool *killed) {
    int status = 0;
    uint64_t deadline = bench_now_ns() + (uint64_t)timeout_ms * 1000000u;

    *killed = false;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) return status;
        if (bench_now_ns() >= deadline && !*killed) {
            kill(pid, SIGKILL);
            *killed = true;
            waitpid(pid, &status, 0);
            return status;
        }
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
}

/* Reads the READY line, up to READY_TIMEOUT_MS. */
static int read_ready(int fd, char *line, size_t line_len) {
    size_t n = 0;
    uint64_t deadline = bench_now_ns() + (uint64_t)READY_TIMEOUT_MS * 1000000u;

    for (;;) {
        uint64_t now = bench_now_ns();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t r;
        if (now >= deadline) return -1;
        if (poll(&pfd, 1, (int)((deadline - now) / 1000000u) + 1) <= 0) continue;
        r = read(fd, line + n, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        if (line[n] == '\n') {
            line[n] = '\0';
            return 0;
        }
        if (++n + 1 >= line_len) return -1;
    }
}

static int parse_ready(const char *line, bench_child_t *c) {
    char engine[BENCH_NAME_LEN], control[BENCH_NAME_LEN];

    if (sscanf(line, "READY engine=%127s control=%127s addr=0x%" SCNxPTR " len=%zu", engine,
               control, &c->addr, &c->len) != 4) {
        return -1;
    }
    strcpy(c->engine, engine);
    strcpy(c->control, control);
    return 0;
}

int bench_spawn_target(const bench_args_t *a, size_t region_size, bench_child_t *c) {
    int out_pipe[2], in_pipe[2];
    char region[32], streams[16], line[512];
    const char *argv[24];
    size_t n = 0;

    memset(c, 0, sizeof(*c));
    snprintf(region, sizeof(region), "%zu", region_size);
    snprintf(streams, sizeof(streams), "%u", a->streams);
    argv[n++] = "adxl-bench";
    argv[n++] = "--role";
    argv[n++] = "target";
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--region-size";
    argv[n++] = region;
    argv[n++] = "--exit-on-stdin-eof";
    /* The target gets the same engine options, so that e.g. a pool setting applies to
     * both ends. */
    if (a->transport[0] != '\0') {
        argv[n++] = "--transport";
        argv[n++] = a->transport;
    }
    if (a->shm_path[0] != '\0') {
        argv[n++] = "--shm-path";
        argv[n++] = a->shm_path;
    }
    if (a->buffer_pool[0] != '\0') {
        argv[n++] = "--buffer-pool";
        argv[n++] = a->buffer_pool;
    }
    if (a->streams != 0) {
        argv[n++] = "--streams";
        argv[n++] = streams;
    }
    if (a->device_runtime[0] != '\0') {
        argv[n++] = "--device-runtime";
        argv[n++] = a->device_runtime;
    }
    if (a->target_device) {
        argv[n++] = "--target-memory";
        argv[n++] = "device";
    }
    argv[n] = NULL;

    /* Close-on-exec everywhere: the child must hold only its own ends, or the stdin
     * end-of-file that stops it would never come. */
    if (pipe2(out_pipe, O_CLOEXEC) != 0) {
        bench_err("pipe: %s", strerror(errno));
        return -1;
    }
    if (pipe2(in_pipe, O_CLOEXEC) != 0) {
        bench_err("pipe: %s", strerror(errno));
        close(out_pipe[0]);
        close(out_pipe[1]);
        return -1;
    }
    fflush(NULL); /* or buffered output would be written twice */
    c->pid = fork();
    if (c->pid < 0) {
        bench_err("fork: %s", strerror(errno));
        close(out_pipe[0]);
        close(out_pipe[1]);
        close(in_pipe[0]);
        close(in_pipe[1]);
        return -1;
    }
    if (c->pid == 0) {
        if (dup2(in_pipe[0], STDIN_FILENO) < 0 || dup2(out_pipe[1], STDOUT_FILENO) < 0) _exit(127);
        /* /proc/self/exe rather than argv[0]: it works whatever PATH and cwd are. */
        execv("/proc/self/exe", (char *const *)argv);
        fprintf(stderr, "adxl-bench: cannot re-execute itself as the target: %s\n",
                strerror(errno));
        _exit(127);
    }
    close(out_pipe[1]);
    close(in_pipe[0]);
    c->stdin_fd = in_pipe[1];

    if (read_ready(out_pipe[0], line, sizeof(line)) != 0 || parse_ready(line, c) != 0) {
        char how[128];
        bool killed;
        close(out_pipe[0]);
        close(c->stdin_fd);
        describe_exit(reap(c->pid, 2000, &killed), how, sizeof(how));
        bench_err("the target process did not report READY (it %s)",
                  killed ? "hung and was killed" : how);
        return -1;
    }
    close(out_pipe[0]); /* the target writes nothing else to stdout */
    return 0;
}

int bench_child_stop(bench_child_t *c) {
    int status;
    bool killed;
    char how[128];

    close(c->stdin_fd);
    status = reap(c->pid, EXIT_TIMEOUT_MS, &killed);
    if (killed) {
        bench_err("the target process did not exit within %d ms and was killed", EXIT_TIMEOUT_MS);
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        describe_exit(status, how, sizeof(how));
        bench_err("the target process %s", how);
        return -1;
    }
    return 0;
}
