#include "net/thread_util.h"

#include "core/log.h"

#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define THREAD_STACK_BYTES (256u * 1024u)

int adxl_wake_fd_new(void) {
    return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

void adxl_wake(int fd) {
    uint64_t one = 1;
    ssize_t rc = write(fd, &one, sizeof(one));
    (void)rc; /* a full counter already means "wake up" */
}

void adxl_wake_drain(int fd) {
    uint64_t v;
    ssize_t rc = read(fd, &v, sizeof(v));
    (void)rc;
}

bool adxl_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, THREAD_STACK_BYTES);
    int rc = pthread_create(thread, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    if (rc != 0) LOG_ERROR("pthread_create: %s", strerror(rc));
    return rc == 0;
}
