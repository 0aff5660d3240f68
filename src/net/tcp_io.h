/* Socket helpers of the TCP transport: set-up, and blocking-style I/O on non-blocking
 * sockets that gives up at a deadline or when a stop descriptor becomes readable. */
#ifndef ADXL_TCP_IO_H
#define ADXL_TCP_IO_H

#include "core/engine_name.h"

#include <adxl/adxl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/uio.h>

/* Non-blocking, close-on-exec, TCP_NODELAY, and the configured buffer sizes. */
void tcp_io_tune(int fd, uint32_t sockbuf_kb);
/* Connects, retrying refusals until deadline (so start order does not matter). */
adxl_status_t tcp_io_connect(const adxl_engine_addr_t *addr, uint32_t sockbuf_kb, uint64_t deadline,
                             int *out_fd);

/* Waits for events on fd; false on timeout, on stop_fd readable, or on error. */
bool tcp_io_wait(int fd, short events, int stop_fd, uint64_t deadline);
/* Reads or writes exactly len bytes; false on EOF, error, stop or deadline. more: more
 * of the same message follows at once (MSG_MORE), so the kernel need not send it alone. */
bool tcp_io_read_full(int fd, void *buf, size_t len, int stop_fd, uint64_t deadline);
bool tcp_io_write_full(int fd, const void *buf, size_t len, int stop_fd, uint64_t deadline,
                       bool more);

/* An eventfd used to wake a thread out of poll. */
int tcp_io_wake_fd(void);
void tcp_io_wake(int fd);
void tcp_io_wake_drain(int fd);

/* Starts a joinable thread with a small stack. */
bool tcp_io_thread(pthread_t *thread, void *(*fn)(void *), void *arg);

#endif
