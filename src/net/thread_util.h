/* Small helpers every transport's threads use: eventfd wake-ups and small-stack threads. */
#ifndef ADXL_THREAD_UTIL_H
#define ADXL_THREAD_UTIL_H

#include <pthread.h>
#include <stdbool.h>

/* An eventfd used to wake a thread out of poll (non-blocking, close-on-exec), or -1. */
int adxl_wake_fd_new(void);
void adxl_wake(int fd);
void adxl_wake_drain(int fd);

/* Starts a joinable thread with a small stack (transport threads keep little on it). */
bool adxl_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg);

#endif
