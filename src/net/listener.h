/*
 * The accept loop that every transport's listener runs (TCP's port, the shared-memory
 * transport's Unix socket, UCX's control port): one thread that takes connections as
 * they come and hands each to its transport, and frees the transport's finished
 * connections after each accept and at least once a second. When accepting fails for
 * want of descriptors or memory, the pending connection stays queued and the listening
 * socket stays readable, so the loop rests between tries instead of spinning, and says
 * once per episode which limit it hit.
 */
#ifndef ADXL_LISTENER_H
#define ADXL_LISTENER_H

#include "net/served.h"

#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>

/* How long the loop rests when accepting fails for want of descriptors or memory. */
#define ADXL_ACCEPT_PAUSE_MS 100

typedef struct {
    int listen_fd;
    int stop_fd;      /* the transport's: readable once it stops, which ends the loop */
    const char *what; /* names the listener in log lines ("TCP", "UCX control") */
    /* Takes an accepted connection, which it owns from then on; from is the peer's
     * address (from_len 0 for a Unix socket). */
    void (*take)(void *ctx, int fd, const struct sockaddr *from, socklen_t from_len);
    void *ctx;
    adxl_served_list_t *served; /* the transport's connections: finished ones are freed */
    pthread_t thread;
    bool started;
} adxl_listener_t;

/* Starts the loop's thread; false when it could not be started. */
bool adxl_listener_start(adxl_listener_t *listener);
/* Returns once the loop ended; the transport has made stop_fd readable first. */
void adxl_listener_join(adxl_listener_t *listener);

#endif
