/*
 * baseline_tcp: raw TCP ceilings between two processes on 127.0.0.1, for bench/compare.
 *
 *   baseline_tcp stream [-d SECONDS] [-b SOCKBUF_KB] BLOCK:BATCH ...
 *   baseline_tcp pingpong [-n ITERS] [-s BYTES] [-p]
 *
 * Both modes fork: the child is the receiving (stream) or echoing (pingpong) process,
 * the parent the sending one; they talk over one TCP connection on the loopback.
 *
 * stream: for each BLOCK:BATCH pair, a fresh connection; the sender writes batches of
 * BATCH iovecs of BLOCK bytes (writev, the bytes of one adxl batch of that shape) for
 * SECONDS, then shuts its side down; the receiver reads them into a buffer of the same
 * shape (readv) and, at end of stream, answers with the byte count. The rate is bytes
 * over the time from the first write to that answer. One line per pair:
 *   block=B batch=N gbps=X
 * -b sets SO_SNDBUF/SO_RCVBUF (0, the default: the kernel's auto-tuning).
 *
 * pingpong: TCP_NODELAY on both ends; the parent sends BYTES and waits for them to come
 * back, ITERS times (after ITERS/10 untimed ones), and prints
 *   bytes=S iters=N p50_us=X p99_us=Y mean_us=Z min_us=W
 * Plain blocking reads by default; -p makes both ends busy-poll (non-blocking reads in
 * a loop), which takes the scheduler's wake-up out of the round trip.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

static int listener(uint16_t *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 4) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        die("bind/listen");
    *port = ntohs(a.sin_port);
    return fd;
}

static void tune(int fd, int sockbuf_kb, int nodelay) {
    if (sockbuf_kb > 0) {
        int v = sockbuf_kb * 1024;
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
    }
    if (nodelay) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
}

static int dial(uint16_t port, int sockbuf_kb, int nodelay) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    tune(fd, sockbuf_kb, nodelay);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) die("connect");
    return fd;
}

static int busy_poll; /* pingpong -p: reads spin with MSG_DONTWAIT */

static void full_io(int fd, void *buf, size_t len, int writing) {
    char *p = buf;
    while (len > 0) {
        ssize_t n = writing     ? write(fd, p, len)
                    : busy_poll ? recv(fd, p, len, MSG_DONTWAIT)
                                : read(fd, p, len);
        if (n < 0 && (errno == EINTR || (busy_poll && errno == EAGAIN))) continue;
        if (n <= 0) die(writing ? "write" : "read (peer closed)");
        p += n;
        len -= (size_t)n;
    }
}

/* Moves every byte of iov[0..cnt) with writev/readv, continuing after partial calls.
 * Returns 0 at end of stream before any byte (reading), else 1. */
static int full_iov(int fd, struct iovec *iov, int cnt, int writing) {
    struct iovec local[1024];
    int moved = 0;
    memcpy(local, iov, sizeof(struct iovec) * (size_t)cnt);
    struct iovec *v = local;
    while (cnt > 0) {
        ssize_t n = writing ? writev(fd, v, cnt > 1024 ? 1024 : cnt)
                            : readv(fd, v, cnt > 1024 ? 1024 : cnt);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0 && !writing && !moved) return 0;
        if (n <= 0) die(writing ? "writev" : "readv");
        moved = 1;
        size_t left = (size_t)n;
        while (cnt > 0 && left >= v->iov_len) {
            left -= v->iov_len;
            v++;
            cnt--;
        }
        if (cnt > 0) {
            v->iov_base = (char *)v->iov_base + left;
            v->iov_len -= left;
        }
    }
    return 1;
}

static int stream_mode(int argc, char **argv) {
    double duration = 1.0;
    int sockbuf_kb = 0, i = 0;
    for (; i < argc && argv[i][0] == '-'; i += 2) {
        if (i + 1 >= argc) return 2;
        if (strcmp(argv[i], "-d") == 0)
            duration = atof(argv[i + 1]);
        else if (strcmp(argv[i], "-b") == 0)
            sockbuf_kb = atoi(argv[i + 1]);
        else
            return 2;
    }
    if (i >= argc || duration <= 0) return 2;
    for (; i < argc; i++) {
        unsigned long long block = 0, batch = 0;
        if (sscanf(argv[i], "%llu:%llu", &block, &batch) != 2 || block == 0 || batch == 0 ||
            batch > 1024) {
            fprintf(stderr, "bad pair '%s' (batch 1..1024)\n", argv[i]);
            return 2;
        }
        size_t bytes = (size_t)(block * batch);
        char *buf = aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
        if (!buf) die("aligned_alloc");
        memset(buf, 0x5a, bytes);
        struct iovec iov[1024];
        for (size_t k = 0; k < batch; k++)
            iov[k] = (struct iovec){buf + k * block, block};
        uint16_t port;
        int lfd = listener(&port);
        pid_t pid = fork();
        if (pid < 0) die("fork");
        if (pid == 0) { /* receiver */
            int fd = accept(lfd, NULL, NULL);
            if (fd < 0) die("accept");
            tune(fd, sockbuf_kb, 0);
            uint64_t total = 0;
            for (;;) {
                ssize_t n = readv(fd, iov, (int)batch);
                if (n < 0 && errno == EINTR) continue;
                if (n < 0) die("readv");
                if (n == 0) break;
                total += (uint64_t)n;
            }
            full_io(fd, &total, sizeof(total), 1);
            close(fd);
            _exit(0);
        }
        close(lfd);
        int fd = dial(port, sockbuf_kb, 0);
        uint64_t sent = 0, got = 0;
        double t0 = now_s();
        do {
            full_iov(fd, iov, (int)batch, 1);
            sent += bytes;
        } while (now_s() - t0 < duration);
        shutdown(fd, SHUT_WR);
        full_io(fd, &got, sizeof(got), 0);
        double t1 = now_s();
        close(fd);
        waitpid(pid, NULL, 0);
        if (got != sent) {
            fprintf(stderr, "receiver counted %llu bytes, sent %llu\n", (unsigned long long)got,
                    (unsigned long long)sent);
            return 1;
        }
        printf("block=%llu batch=%llu gbps=%.4f\n", block, batch, (double)sent / (t1 - t0) / 1e9);
        fflush(stdout);
        free(buf);
    }
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int pingpong_mode(int argc, char **argv) {
    long iters = 20000;
    size_t size = 8;
    for (int i = 0; i < argc; i += 2) {
        if (strcmp(argv[i], "-p") == 0) {
            busy_poll = 1;
            i--;
            continue;
        }
        if (i + 1 >= argc) return 2;
        if (strcmp(argv[i], "-n") == 0)
            iters = atol(argv[i + 1]);
        else if (strcmp(argv[i], "-s") == 0)
            size = (size_t)atol(argv[i + 1]);
        else
            return 2;
    }
    if (iters <= 0 || size == 0 || size > (1 << 20)) return 2;
    char *buf = calloc(1, size);
    double *rtt = calloc((size_t)iters, sizeof(double));
    if (!buf || !rtt) die("calloc");
    uint16_t port;
    int lfd = listener(&port);
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) { /* echo */
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) die("accept");
        tune(fd, 0, 1);
        for (;;) {
            struct iovec v = {buf, size};
            if (busy_poll) { /* spin until the first byte or end of stream */
                ssize_t n;
                while ((n = recv(fd, buf, 1, MSG_DONTWAIT | MSG_PEEK)) < 0 && errno == EAGAIN) {
                }
                if (n <= 0) break;
                full_io(fd, buf, size, 0);
            } else if (!full_iov(fd, &v, 1, 0)) {
                break;
            }
            full_io(fd, buf, size, 1);
        }
        _exit(0);
    }
    close(lfd);
    int fd = dial(port, 0, 1);
    long warm = iters / 10;
    for (long k = 0; k < warm + iters; k++) {
        double t0 = now_s();
        full_io(fd, buf, size, 1);
        full_io(fd, buf, size, 0);
        if (k >= warm) rtt[k - warm] = (now_s() - t0) * 1e6;
    }
    close(fd);
    waitpid(pid, NULL, 0);
    double sum = 0;
    for (long k = 0; k < iters; k++)
        sum += rtt[k];
    qsort(rtt, (size_t)iters, sizeof(double), cmp_double);
    printf("bytes=%zu iters=%ld p50_us=%.3f p99_us=%.3f mean_us=%.3f min_us=%.3f\n", size, iters,
           rtt[iters / 2], rtt[(size_t)((double)iters * 0.99)], sum / (double)iters, rtt[0]);
    return 0;
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    int rc = 2;
    if (argc >= 2 && strcmp(argv[1], "stream") == 0)
        rc = stream_mode(argc - 2, argv + 2);
    else if (argc >= 2 && strcmp(argv[1], "pingpong") == 0)
        rc = pingpong_mode(argc - 2, argv + 2);
    if (rc == 2)
        fprintf(stderr,
                "usage: %s stream [-d SECONDS] [-b SOCKBUF_KB] BLOCK:BATCH ...\n"
                "       %s pingpong [-n ITERS] [-s BYTES] [-p]\n",
                argv[0], argv[0]);
    return rc;
}
