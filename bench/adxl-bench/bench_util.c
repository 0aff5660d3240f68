/* Error line format, monotonic clock and size spelling shared by the tool's parts. */
#include "bench_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

void bench_err(const char *fmt, ...) {
    va_list ap;
    char line[1024];

    /* Formatted into one buffer and written with a single call, so that messages from
     * several initiator threads never interleave mid-line. */
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "adxl-bench: %s\n", line);
}

void bench_err_status(const char *what, adxl_status_t status) {
    bench_err("%s: %s (%u)", what, adxl_status_str(status), (unsigned)status);
}

uint64_t bench_now_ns(void) {
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_format_size(size_t bytes, char *out, size_t out_len) {
    static const char units[] = {'G', 'M', 'K'};
    static const unsigned shifts[] = {30, 20, 10};

    for (size_t i = 0; i < sizeof(units); i++) {
        size_t unit = (size_t)1 << shifts[i];
        if (bytes >= unit && bytes % unit == 0) {
            snprintf(out, out_len, "%zu%c", bytes / unit, units[i]);
            return;
        }
    }
    snprintf(out, out_len, "%zuB", bytes);
}
