/* Monotonic time and deadlines in nanoseconds. */
#ifndef ADXL_CLOCK_H
#define ADXL_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#define ADXL_NS_PER_MS 1000000ull
#define ADXL_NO_DEADLINE UINT64_MAX

uint64_t adxl_now_ns(void);
/* A deadline timeout_ms from now; timeout_ms <= 0 means none. */
uint64_t adxl_deadline_after_ms(int64_t timeout_ms);
/* Milliseconds left until deadline for poll(): -1 for none, 0 once passed. */
int adxl_poll_timeout_ms(uint64_t deadline);
/* The absolute CLOCK_MONOTONIC timespec of a deadline, for pthread_cond_timedwait. */
struct timespec adxl_deadline_timespec(uint64_t deadline);
/* A condition variable whose timed waits take adxl_deadline_timespec's CLOCK_MONOTONIC. */
void adxl_cond_init_monotonic(pthread_cond_t *cond);

#endif
