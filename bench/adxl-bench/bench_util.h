/*
 * Small helpers every part of adxl-bench uses: the error line format, the monotonic
 * clock and the human spelling of byte sizes.
 */
#ifndef ADXL_BENCH_UTIL_H
#define ADXL_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <adxl/adxl.h>

/* Exit codes: runtime failures (transfer, verification, setup) and usage errors differ so
 * that scripts can tell a broken library from a mistyped command line. */
#define BENCH_EXIT_OK 0
#define BENCH_EXIT_FAIL 1
#define BENCH_EXIT_USAGE 2

/* Prints "adxl-bench: <message>\n" to stderr. */
void bench_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "adxl-bench: <what>: <status name> (<code>)\n" to stderr. */
void bench_err_status(const char *what, adxl_status_t status);

uint64_t bench_now_ns(void);

/* "4K", "64K", "1M", "1536B": exact binary units only, so a size never reads rounded. */
void bench_format_size(size_t bytes, char *out, size_t out_len);

#endif /* ADXL_BENCH_UTIL_H */
