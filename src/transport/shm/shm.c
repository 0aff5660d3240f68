/*
 * The shared-memory transport for peers on this host (see shm_internal.h for how bytes
 * move). The target listens on an abstract Unix socket whose name it tells prober over
 * TCP (transport.c); every accepted link gets a serving thread (shm_target.c). The
 * initiator's side is in shm_link.c.
 */
#include "core/log.h"
#include "transport/shm/shm_internal.h"
#include "net/thread_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static shm_inbound_t *inbound_new(shm_transport_t *t, int fd) {
    shm_inbound_t *in = calloc(1, sizeof(*in));
    if (!in) return NULL;
    in->transport = t;
    in->fd = fd;
    in->wake_fd = adxl_wake_fd_new();
    in->doorbell_fd = adxl_wake_fd_new();
    in->done_fd = adxl_wake_fd_new();
    in->pidfd = -1;
    in->shared_fd = -1;
    pthread_mutex_init(&in->lock, NULL);
    pthread_mutex_init(&in->revoke_lock, NULL);
    if (in->wake_fd < 0 || in->doorbell_fd < 0 || in->done_fd < 0) {
        in->fd = -1;
        shm_inbound_free(in);
        return NULL;
    }
    return in;
}

static void free_served(adxl_served_t *s) {
    shm_inbound_free((shm_inbound_t *)s);
}

/* A link the listener accepted (listener.c): the peer is on this host, by the socket. */
static void take_link(void *ctx, int fd, const struct sockaddr *from, socklen_t from_len) {
    shm_transport_t *t = ctx;
    (void)from;
    (void)from_len;
    bool full = adxl_served_full(&t->served);
    shm_inbound_t *in = full ? NULL : inbound_new(t, fd);
    if (in && adxl_served_start(&t->served, &in->served, shm_inbound_main)) return;
    LOG_WARN("refusing a shared-memory link (%s)", full ? "too many" : "out of resources");
    if (in) {
        in->fd = -1;
        shm_inbound_free(in);
    }
    close(fd);
}

/* An abstract socket: no file to clean up, and it lives in this network namespace only,
 * which is what makes a peer in another namespace fall back to TCP. */
static int open_listener(char endpoint[SHM_ENDPOINT_MAX]) {
    uint64_t nonce = 0;
    if (getrandom(&nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce)) return -1;
    snprintf(endpoint, SHM_ENDPOINT_MAX, "adxl-shm.%d.%016llx", (int)getpid(),
             (unsigned long long)nonce);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(endpoint);
    memcpy(sa.sun_path + 1, endpoint, n);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    if (bind(fd, (struct sockaddr *)&sa, len) != 0 || listen(fd, 128) != 0) {
        LOG_WARN("shared memory: cannot listen on a Unix socket: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static adxl_status_t shm_start(adxl_engine_t *engine, const adxl_engine_addr_t *listen_addr,
                               char *bound_name, adxl_transport_t **out) {
    (void)listen_addr; /* reached through the endpoint that the probe reports (shm_advertise) */
    (void)bound_name;
    shm_transport_t *t = calloc(1, sizeof(*t));
    if (!t) return ADXL_RESOURCE_EXHAUSTED;
    t->engine = engine;
    t->config = adxl_engine_config(engine);
    t->stop_fd = adxl_wake_fd_new();
    pthread_rwlock_init(&t->walkers, NULL);
    adxl_served_init(&t->served, SHM_MAX_INBOUND, &t->walkers, free_served, NULL);
    if (getrandom((void *)&t->cma_probe, sizeof(t->cma_probe), 0) != sizeof(t->cma_probe))
        t->cma_probe = (uint64_t)(uintptr_t)t ^ 0x9e3779b97f4a7c15ull;
    t->listen_fd = t->stop_fd >= 0 ? open_listener(t->endpoint) : -1;
    t->listener = (adxl_listener_t){.listen_fd = t->listen_fd,
                                    .stop_fd = t->stop_fd,
                                    .what = "shared memory",
                                    .take = take_link,
                                    .ctx = t,
                                    .served = &t->served};
    if (t->listen_fd < 0 || !adxl_listener_start(&t->listener)) {
        if (t->listen_fd >= 0) close(t->listen_fd);
        if (t->stop_fd >= 0) close(t->stop_fd);
        adxl_served_destroy(&t->served);
        pthread_rwlock_destroy(&t->walkers);
        free(t);
        return ADXL_FAILED;
    }
    *out = (adxl_transport_t *)t;
    return ADXL_SUCCESS;
}

static void shm_stop(adxl_transport_t *transport) {
    shm_transport_t *t = (shm_transport_t *)transport;
    adxl_wake(t->stop_fd);
    adxl_listener_join(&t->listener);
    /* Every serving thread watches stop_fd, so they all end promptly. */
    adxl_served_reap(&t->served, true);
    close(t->listen_fd);
    close(t->stop_fd);
    adxl_served_destroy(&t->served);
    pthread_rwlock_destroy(&t->walkers);
    free(t);
}

static void shm_publish(adxl_transport_t *transport, const adxl_region_t *region, bool added) {
    shm_transport_t *t = (shm_transport_t *)transport;
    pthread_rwlock_rdlock(&t->walkers);
    /* Links listed after the first was read take their snapshot after this change. */
    for (adxl_served_t *s = adxl_served_first(&t->served); s; s = s->next)
        shm_inbound_publish((shm_inbound_t *)s, region, added);
    pthread_rwlock_unlock(&t->walkers);
}

static void shm_advertise(adxl_transport_t *transport, adxl_host_facts_t *facts) {
    shm_transport_t *t = (shm_transport_t *)transport;
    adxl_host_facts_offer(facts, "shm", t->endpoint, strlen(t->endpoint));
}

/* A peer on this host (same boot, pid and network namespace) that listens for links. */
static bool shm_suits(adxl_transport_t *transport, const adxl_host_facts_t *local,
                      const adxl_host_facts_t *remote) {
    (void)transport;
    size_t len;
    return adxl_host_facts_same_host(local, remote) &&
           adxl_host_facts_offered(remote, "shm", &len) != NULL && len > 0;
}

const adxl_transport_ops_t adxl_shm_transport = {
    .name = "shm",
    .max_chunk_segments = SHM_CMA_IOV,
    .buffered_in_place = true,
    .start = shm_start,
    .stop = shm_stop,
    .connect = shm_connect,
    .shutdown = shm_shutdown,
    .destroy = shm_destroy,
    .post = shm_post,
    .device_direct = shm_device_direct,
    .publish = shm_publish,
    .advertise = shm_advertise,
    .suits = shm_suits,
};
