#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int g_level = ADXL_LOG_ERROR;
static pthread_once_t g_level_once = PTHREAD_ONCE_INIT;

static void read_level(void) {
    static const char *const names[] = {"none", "error", "warn", "info", "debug"};
    const char *env = getenv("ADXL_LOG_LEVEL");
    if (!env) return;
    for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++) {
        if (strcasecmp(env, names[i]) == 0) {
            g_level = i;
            return;
        }
    }
}

int adxl_log_enabled(enum adxl_log_level level) {
    pthread_once(&g_level_once, read_level);
    return (int)level <= g_level;
}

void adxl_log_write(enum adxl_log_level level, const char *func, const char *fmt, ...) {
    static const char *const tags[] = {"", "ERROR", "WARN", "INFO", "DEBUG"};
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* One fprintf per line so that lines from different threads do not interleave. */
    fprintf(stderr, "[adxl %ld.%06ld %d %s] %s: %s\n", (long)ts.tv_sec, ts.tv_nsec / 1000L,
            (int)getpid(), tags[level], func, msg);
}
