/* Stream socket helpers for every transport that speaks over one (TCP data, the UCX control
 * link): set-up, and blocking-style I/O on non-blocking sockets that gives up at a deadline
 * or when a stop descriptor becomes readable. */
#ifndef ADXL_SOCK_IO_H
#define ADXL_SOCK_IO_H

#include "core/engine_name.h"

#include <adxl/adxl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Non-blocking, close-on-exec, TCP_NODELAY, and the configured buffer sizes. */
void adxl_sock_tune(int fd, uint32_t sockbuf_kb);
/* Connects, retrying refusals until deadline (so start order does not matter). */
adxl_status_t adxl_sock_connect(const adxl_engine_addr_t *addr, uint32_t sockbuf_kb,
                                uint64_t deadline, int *out_fd);

/* Waits for events on fd; false on timeout, on stop_fd readable, or on error. */
bool adxl_sock_wait(int fd, short events, int stop_fd, uint64_t deadline);
/* Reads or writes exactly len bytes; false on EOF, error, stop or deadline. more: more
 * of the same message follows at once (MSG_MORE), so the kernel need not send it alone. */
bool adxl_sock_read_full(int fd, void *buf, size_t len, int stop_fd, uint64_t deadline);
bool adxl_sock_write_full(int fd, const void *buf, size_t len, int stop_fd, uint64_t deadline,
                          bool more);

#endif
