#include "net/sock_io.h"

#include "core/clock.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void adxl_sock_tune(int fd, uint32_t sockbuf_kb) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (sockbuf_kb > 0) {
        int bytes = (int)(sockbuf_kb * 1024u);
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
}

bool adxl_sock_wait(int fd, short events, int stop_fd, uint64_t deadline) {
    for (;;) {
        struct pollfd pfd[2] = {{.fd = fd, .events = events}, {.fd = stop_fd, .events = POLLIN}};
        int timeout = adxl_poll_timeout_ms(deadline);
        int n = poll(pfd, stop_fd >= 0 ? 2 : 1, timeout);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        if (stop_fd >= 0 && (pfd[1].revents & POLLIN)) return false;
        if (pfd[0].revents & (events | POLLERR | POLLHUP)) return true;
    }
}

static bool pause_until(uint64_t until) {
    uint64_t now = adxl_now_ns();
    if (now >= until) return false;
    struct timespec ts = {.tv_sec = (time_t)((until - now) / 1000000000ull),
                          .tv_nsec = (long)((until - now) % 1000000000ull)};
    nanosleep(&ts, NULL);
    return true;
}

/* Retrying a free local port can make the kernel pick that very port as the source:
 * a TCP "simultaneous open" with ourselves, which must count as nobody answering. */
static bool connected_to_itself(int fd) {
    struct sockaddr_storage local, remote;
    socklen_t llen = sizeof(local), rlen = sizeof(remote);
    if (getsockname(fd, (struct sockaddr *)&local, &llen) != 0 ||
        getpeername(fd, (struct sockaddr *)&remote, &rlen) != 0)
        return false;
    return llen == rlen && memcmp(&local, &remote, llen) == 0;
}

adxl_status_t adxl_sock_connect(const adxl_engine_addr_t *addr, uint32_t sockbuf_kb,
                                uint64_t deadline, int *out_fd) {
    uint64_t backoff_ns = 5 * ADXL_NS_PER_MS;
    for (;;) {
        int fd = socket(addr->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return ADXL_RESOURCE_EXHAUSTED;
        /* Buffer sizes must be set before connect to take effect on the window. */
        adxl_sock_tune(fd, sockbuf_kb);
        int rc = connect(fd, (const struct sockaddr *)&addr->addr, addr->addr_len);
        int err = rc == 0 ? 0 : errno;
        if (err == EINPROGRESS) {
            if (adxl_sock_wait(fd, POLLOUT, -1, deadline)) {
                socklen_t len = sizeof(err);
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            } else {
                err = ETIMEDOUT;
            }
        }
        if (err == 0 && !connected_to_itself(fd)) {
            *out_fd = fd;
            return ADXL_SUCCESS;
        }
        close(fd);
        /* Refused or unreachable: the peer may not be up yet; try again until deadline. */
        uint64_t until = adxl_now_ns() + backoff_ns;
        if (until > deadline) until = deadline;
        if (err == ETIMEDOUT || !pause_until(until) || adxl_now_ns() >= deadline)
            return ADXL_TIMEOUT;
        if (backoff_ns < 100 * ADXL_NS_PER_MS) backoff_ns *= 2;
    }
}

bool adxl_sock_read_full(int fd, void *buf, size_t len, int stop_fd, uint64_t deadline) {
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = recv(fd, p, len, MSG_DONTWAIT);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n == 0) return false;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
        if (!adxl_sock_wait(fd, POLLIN, stop_fd, deadline)) return false;
    }
    return true;
}

bool adxl_sock_write_full(int fd, const void *buf, size_t len, int stop_fd, uint64_t deadline,
                          bool more) {
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL | (more ? MSG_MORE : 0));
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
        if (!adxl_sock_wait(fd, POLLOUT, stop_fd, deadline)) return false;
    }
    return true;
}
