#include "net/listener.h"

#include "core/log.h"
#include "net/thread_util.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/resource.h>

/* Says which limit a failed accept ran into, once per run of failures. */
static void say_why(const adxl_listener_t *l, int err) {
    if (err == EMFILE) {
        struct rlimit rl = {0};
        getrlimit(RLIMIT_NOFILE, &rl);
        LOG_ERROR("%s listener: cannot accept a connection: this process has used all the "
                  "descriptors RLIMIT_NOFILE allows (%llu; the application may raise it, e.g. "
                  "ulimit -n); the connection waits until one is free",
                  l->what, (unsigned long long)rl.rlim_cur);
    } else if (err == ENFILE) {
        LOG_ERROR("%s listener: cannot accept a connection: the system's table of open files is "
                  "full (fs.file-max); the connection waits until one is free",
                  l->what);
    } else {
        LOG_ERROR("%s listener: cannot accept a connection: %s; the connection waits", l->what,
                  strerror(err));
    }
}

static void *listener_main(void *arg) {
    adxl_listener_t *l = arg;
    bool starved = false; /* in a run of accepts that failed for want of resources */
    for (;;) {
        struct pollfd pfd[2] = {{.fd = l->listen_fd, .events = POLLIN},
                                {.fd = l->stop_fd, .events = POLLIN}};
        /* The timeout only bounds how long finished connections wait to be freed. */
        int rc = poll(pfd, 2, 1000);
        if (rc < 0 && errno != EINTR) break;
        if (rc > 0 && (pfd[1].revents & POLLIN)) break;
        bool rest = false;
        if (rc > 0 && (pfd[0].revents & POLLIN)) {
            struct sockaddr_storage from;
            socklen_t from_len = sizeof(from);
            int fd = accept4(l->listen_fd, (struct sockaddr *)&from, &from_len, SOCK_CLOEXEC);
            if (fd >= 0) {
                if (starved) LOG_INFO("%s listener: accepting again", l->what);
                starved = false;
                l->take(l->ctx, fd, (const struct sockaddr *)&from,
                        from.ss_family == AF_UNIX ? 0 : from_len);
            } else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                if (!starved) say_why(l, errno);
                starved = rest = true;
            } /* else the peer gave up already, or a signal: nothing is queued */
        }
        adxl_served_reap(l->served, false);
        if (rest) poll(&pfd[1], 1, ADXL_ACCEPT_PAUSE_MS); /* wakes at once when stopping */
    }
    return NULL;
}

bool adxl_listener_start(adxl_listener_t *listener) {
    listener->started = adxl_thread_start(&listener->thread, listener_main, listener);
    return listener->started;
}

void adxl_listener_join(adxl_listener_t *listener) {
    if (!listener->started) return;
    pthread_join(listener->thread, NULL);
    listener->started = false;
}
