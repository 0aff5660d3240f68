/* TCP plumbing for the control channel; see bench_net.h. */
#include "bench_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

int bench_net_split(const char *text, char *host, size_t host_len, int *port) {
    const char *host_start = text;
    const char *host_end;
    const char *port_text = NULL;

    if (text == NULL || *text == '\0') return -1;
    if (text[0] == '[') {
        host_start = text + 1;
        host_end = strchr(host_start, ']');
        if (host_end == NULL) return -1;
        if (host_end[1] == ':') {
            port_text = host_end + 2;
        } else if (host_end[1] != '\0') {
            return -1;
        }
    } else {
        host_end = strchr(text, ':');
        if (host_end != NULL) {
            /* A bare IPv6 address would be ambiguous with a port: require brackets. */
            if (strchr(host_end + 1, ':') != NULL) return -1;
            port_text = host_end + 1;
        } else {
            host_end = text + strlen(text);
        }
    }
    if (host_end == host_start || (size_t)(host_end - host_start) >= host_len) return -1;
    memcpy(host, host_start, (size_t)(host_end - host_start));
    host[host_end - host_start] = '\0';

    *port = -1;
    if (port_text != NULL) {
        char *end;
        long value;
        if (*port_text < '0' || *port_text > '9') return -1;
        errno = 0;
        value = strtol(port_text, &end, 10);
        if (errno != 0 || *end != '\0' || value < 0 || value > 65535) return -1;
        *port = (int)value;
    }
    return 0;
}

void bench_net_join(const char *host, int port, char *out, size_t out_len) {
    if (strchr(host, ':') != NULL) {
        snprintf(out, out_len, "[%s]:%d", host, port);
    } else {
        snprintf(out, out_len, "%s:%d", host, port);
    }
}

/* Numeric addresses only, like adxl's engine names: no resolver surprises. */
static int resolve(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len) {
    struct addrinfo hints, *res = NULL;
    char port_text[16];
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    snprintf(port_text, sizeof(port_text), "%d", port);
    rc = getaddrinfo(host, port_text, &hints, &res);
    if (rc != 0) {
        bench_err("'%s' is not a numeric IP address: %s", host, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int addr_port(const struct sockaddr_storage *ss) {
    if (ss->ss_family == AF_INET6) return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

int bench_net_listen(const char *host, int port, char *bound, size_t bound_len) {
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, one = 1;

    if (resolve(host, port, &ss, &len) != 0) return -1;
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        bench_err("control socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 64) != 0) {
        bench_err("control channel: cannot listen on %s port %d: %s", host, port, strerror(errno));
        close(fd);
        return -1;
    }
    len = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &len);
    bench_net_join(host, addr_port(&ss), bound, bound_len);
    return fd;
}

int bench_net_connect(const char *hostport, int timeout_ms) {
    struct sockaddr_storage ss;
    socklen_t len;
    char host[128];
    int port, one = 1;
    uint64_t deadline = bench_now_ns() + (uint64_t)timeout_ms * 1000000u;

    if (bench_net_split(hostport, host, sizeof(host), &port) != 0 || port <= 0) {
        bench_err("'%s' is not a valid ip:port", hostport);
        return -1;
    }
    if (resolve(host, port, &ss, &len) != 0) return -1;
    for (;;) {
        int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            bench_err("control socket: %s", strerror(errno));
            return -1;
        }
        if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            return fd;
        }
        int err = errno;
        close(fd);
        if ((err != ECONNREFUSED && err != EINTR) || bench_now_ns() >= deadline) {
            bench_err("cannot connect to the control channel at %s: %s", hostport, strerror(err));
            return -1;
        }
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
}

int bench_net_local_ip_for(const char *host, char *out, size_t out_len) {
    struct sockaddr_storage ss;
    socklen_t len;
    int fd;

    /* A connected UDP socket sends nothing but makes the kernel pick the route, and so
     * the source address a TCP connection to host would use. */
    if (resolve(host, 9, &ss, &len) != 0) return -1;
    fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) != 0) {
        bench_err("no route to %s: %s", host, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    len = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &len);
    close(fd);
    if (ss.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out, (socklen_t)out_len);
    } else {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, (socklen_t)out_len);
    }
    return 0;
}

int bench_net_send_line(int fd, const char *line) {
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "%s\n", line);
    size_t off = 0;

    if (n < 0 || (size_t)n >= sizeof(buf)) return -1;
    while (off < (size_t)n) {
        /* MSG_NOSIGNAL: a vanished peer is an error to report, not a SIGPIPE. */
        ssize_t w = send(fd, buf + off, (size_t)n - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        off += (size_t)w;
    }
    return 0;
}

int bench_net_recv_line(int fd, char *line, size_t line_len, int timeout_ms) {
    size_t n = 0;
    uint64_t deadline = bench_now_ns() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000u;

    for (;;) {
        char c;
        ssize_t r;
        if (timeout_ms >= 0) {
            uint64_t now = bench_now_ns();
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            int wait_ms = now >= deadline ? 0 : (int)((deadline - now + 999999u) / 1000000u);
            int pr = poll(&pfd, 1, wait_ms);
            if (pr < 0 && errno == EINTR) continue;
            if (pr <= 0) return -1;
        }
        r = recv(fd, &c, 1, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        if (c == '\n') {
            if (n > 0 && line[n - 1] == '\r') n--;
            line[n] = '\0';
            return 0;
        }
        if (n + 1 >= line_len) return -1;
        line[n++] = c;
    }
}
