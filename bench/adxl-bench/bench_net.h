/*
 * Plain TCP plumbing for the tool's control channel (not for data: data goes through
 * adxl): "host:port" / "[v6]:port" parsing, listen, connect, line I/O.
 */
#ifndef ADXL_BENCH_NET_H
#define ADXL_BENCH_NET_H

#include <stddef.h>

/*
 * Splits "ip:port", "[ipv6]:port", "ip" or "[ipv6]" into host (no brackets) and port
 * (-1 when absent). Returns 0, or -1 when the text is malformed or the port is out of
 * 0..65535.
 */
int bench_net_split(const char *text, char *host, size_t host_len, int *port);

/* The inverse: brackets an IPv6 host. */
void bench_net_join(const char *host, int port, char *out, size_t out_len);

/* Listens on host:port (0: OS-chosen); the bound "host:port" goes to bound. -1 on error
 * (printed). */
int bench_net_listen(const char *host, int port, char *bound, size_t bound_len);

/* Connects to "host:port" within timeout_ms, retrying refused connections (the peer may
 * still be starting). -1 on error (printed). */
int bench_net_connect(const char *hostport, int timeout_ms);

/* The local IP the kernel would use to reach host (for the initiator's client-only
 * engine name). -1 on error (printed). */
int bench_net_local_ip_for(const char *host, char *out, size_t out_len);

/* Writes all of line plus '\n'. 0 or -1. */
int bench_net_send_line(int fd, const char *line);

/* Reads one '\n'-terminated line (newline stripped) byte by byte: control traffic is
 * a handful of short lines per row, so simplicity beats buffering here. 0, or -1 on
 * EOF/error/overlong line or after timeout_ms (<0: wait forever). */
int bench_net_recv_line(int fd, char *line, size_t line_len, int timeout_ms);

#endif /* ADXL_BENCH_NET_H */
