#include "core/clock.h"

uint64_t adxl_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t adxl_deadline_after_ms(int64_t timeout_ms) {
    if (timeout_ms <= 0) return ADXL_NO_DEADLINE;
    return adxl_now_ns() + (uint64_t)timeout_ms * ADXL_NS_PER_MS;
}

int adxl_poll_timeout_ms(uint64_t deadline) {
    if (deadline == ADXL_NO_DEADLINE) return -1;
    uint64_t now = adxl_now_ns();
    if (now >= deadline) return 0;
    uint64_t ms = (deadline - now + ADXL_NS_PER_MS - 1) / ADXL_NS_PER_MS;
    return ms > 1000000 ? 1000000 : (int)ms;
}

struct timespec adxl_deadline_timespec(uint64_t deadline) {
    struct timespec ts;
    ts.tv_sec = (time_t)(deadline / 1000000000ull);
    ts.tv_nsec = (long)(deadline % 1000000000ull);
    return ts;
}

void adxl_cond_init_monotonic(pthread_cond_t *cond) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
}
