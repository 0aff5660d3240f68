/*
 * The TCP transport: a listener whose accepted connections each get a serving thread
 * (tcp_target.c), and outbound links of several connections each (tcp_stream.c), so
 * that a large batch is carried by several streams at once.
 */
#include "core/clock.h"
#include "core/log.h"
#include "transport/tcp/tcp_internal.h"
#include "net/sock_io.h"
#include "net/thread_util.h"
#include "transport/tcp/tcp_parse.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TX_META_BYTES (TCP_FRAME_HEADER + TCP_MAX_ITEMS * TCP_PIECE_SIZE)

static void inbound_free(tcp_inbound_t *in) {
    close(in->fd);
    close(in->wake_fd);
    adxl_notify_source_release(in->notify_source);
    pthread_mutex_destroy(&in->lock);
    free(in->updates);
    free(in->items);
    free(in->pieces);
    free(in->iov);
    free(in);
}

static void free_served(adxl_served_t *s) {
    inbound_free((tcp_inbound_t *)s);
}

/* A connection the listener accepted (listener.c). */
static void take_connection(void *ctx, int fd, const struct sockaddr *from, socklen_t from_len) {
    adxl_transport_t *t = ctx;
    (void)from_len;
    if (!adxl_peer_filter_allows(&t->config->allowed_peers, from)) {
        char who[ADXL_NAME_MAX];
        adxl_engine_name_format(from, false, who);
        LOG_WARN("refused a connection from %s: not in AllowedPeers", who);
        close(fd);
        return;
    }
    adxl_sock_tune(fd, t->config->tcp_sockbuf_kb);
    bool room = !adxl_served_full(&t->served); /* before its buffers are allocated */
    tcp_inbound_t *in = room ? calloc(1, sizeof(*in)) : NULL;
    if (in) {
        in->items = malloc((size_t)TCP_MAX_ITEMS * TCP_PIECE_SIZE);
        in->pieces = malloc(TCP_MAX_ITEMS * sizeof(tcp_piece_t));
        in->iov = malloc(TCP_IOV_MAX * sizeof(struct iovec));
        in->wake_fd = adxl_wake_fd_new();
    }
    if (!in || !in->items || !in->pieces || !in->iov || in->wake_fd < 0 || !room) {
        LOG_WARN("refusing an inbound connection (%s)", room ? "out of memory" : "too many");
        if (in) {
            free(in->items);
            free(in->pieces);
            free(in->iov);
            if (in->wake_fd >= 0) close(in->wake_fd);
            free(in);
        }
        close(fd);
        return;
    }
    in->transport = t;
    in->fd = fd;
    pthread_mutex_init(&in->lock, NULL);
    if (!adxl_served_start(&t->served, &in->served, tcp_inbound_main)) {
        LOG_WARN("refusing an inbound connection (too many, or no thread)");
        in->notify_source = NULL;
        inbound_free(in);
    }
}

static adxl_status_t open_listener(adxl_transport_t *t, const adxl_engine_addr_t *addr,
                                   char *bound_name) {
    int fd = socket(addr->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return ADXL_FAILED;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (addr->addr.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)&addr->addr, addr->addr_len) != 0 ||
        listen(fd, 512) != 0) {
        LOG_ERROR("cannot listen on the engine's address: %s", strerror(errno));
        close(fd);
        return ADXL_FAILED;
    }
    struct sockaddr_storage bound;
    socklen_t len = sizeof(bound);
    getsockname(fd, (struct sockaddr *)&bound, &len);
    adxl_engine_name_format((const struct sockaddr *)&bound, true, bound_name);
    t->listen_fd = fd;
    return ADXL_SUCCESS;
}

static adxl_status_t tcp_start(adxl_engine_t *engine, const adxl_engine_addr_t *listen_addr,
                               char *bound_name, adxl_transport_t **out) {
    adxl_transport_t *t = calloc(1, sizeof(*t));
    if (!t) return ADXL_RESOURCE_EXHAUSTED;
    t->engine = engine;
    t->config = adxl_engine_config(engine);
    t->listen_fd = -1;
    t->stop_fd = adxl_wake_fd_new();
    adxl_served_init(&t->served, TCP_MAX_INBOUND, NULL, free_served, NULL);
    adxl_status_t st = t->stop_fd >= 0 ? ADXL_SUCCESS : ADXL_RESOURCE_EXHAUSTED;
    if (st == ADXL_SUCCESS && listen_addr->has_port) {
        st = open_listener(t, listen_addr, bound_name);
        t->listener = (adxl_listener_t){.listen_fd = t->listen_fd,
                                        .stop_fd = t->stop_fd,
                                        .what = "TCP",
                                        .take = take_connection,
                                        .ctx = t,
                                        .served = &t->served};
        if (st == ADXL_SUCCESS && !adxl_listener_start(&t->listener)) st = ADXL_RESOURCE_EXHAUSTED;
    } else if (st == ADXL_SUCCESS) {
        adxl_engine_name_format((const struct sockaddr *)&listen_addr->addr, false, bound_name);
    }
    if (st != ADXL_SUCCESS) {
        if (t->listen_fd >= 0) close(t->listen_fd);
        if (t->stop_fd >= 0) close(t->stop_fd);
        adxl_served_destroy(&t->served);
        free(t);
        return st;
    }
    *out = t;
    return ADXL_SUCCESS;
}

static void tcp_stop(adxl_transport_t *t) {
    adxl_wake(t->stop_fd);
    adxl_listener_join(&t->listener);
    /* Every serving thread watches stop_fd, so they all end promptly. */
    adxl_served_reap(&t->served, true);
    if (t->listen_fd >= 0) close(t->listen_fd);
    close(t->stop_fd);
    adxl_served_destroy(&t->served);
    free(t);
}

/* Device regions are served like any other: the target stages them (tcp_target.c). */
static void tcp_publish(adxl_transport_t *t, const adxl_region_t *region, bool added) {
    pthread_mutex_lock(&t->served.lock);
    for (adxl_served_t *s = t->served.head; s; s = s->next) {
        tcp_inbound_t *in = (tcp_inbound_t *)s;
        pthread_mutex_lock(&in->lock);
        bool publishes = in->publishes;
        pthread_mutex_unlock(&in->lock);
        if (publishes && !atomic_load(&s->finished))
            tcp_inbound_queue_update(in, added ? TCP_FRAME_REGION_ADD : TCP_FRAME_REGION_DEL,
                                     region->addr, region->len);
    }
    pthread_mutex_unlock(&t->served.lock);
}

/* Reads the target's snapshot of its regions (connection 0 only), up to the empty frame
 * that ends it, so that the first transfer already sees them. As many frames as the
 * target holds regions for: the connect deadline bounds how long a peer can keep us
 * here, the view's own limit how much it can make us hold. */
static adxl_status_t read_region_snapshot(int fd, adxl_peer_t *peer, uint8_t *items,
                                          uint64_t deadline) {
    for (;;) {
        uint8_t raw[TCP_FRAME_HEADER];
        tcp_frame_header_t h;
        if (!adxl_sock_read_full(fd, raw, sizeof(raw), -1, deadline))
            return adxl_now_ns() >= deadline ? ADXL_TIMEOUT : ADXL_FAILED;
        tcp_frame_header_decode(raw, &h);
        if (!tcp_snapshot_header_check(&h)) return ADXL_FAILED;
        if (h.count == 0) return ADXL_SUCCESS;
        if (!adxl_sock_read_full(fd, items, (size_t)h.count * TCP_ITEM_SIZE, -1, deadline))
            return adxl_now_ns() >= deadline ? ADXL_TIMEOUT : ADXL_FAILED;
        for (uint32_t i = 0; i < h.count; i++) {
            uint64_t addr, len;
            tcp_item_decode(items + (size_t)i * TCP_ITEM_SIZE, &addr, &len);
            adxl_remote_regions_add(adxl_peer_regions(peer), (uintptr_t)addr, (size_t)len);
        }
    }
}

static adxl_status_t io_failure(uint64_t deadline) {
    return adxl_now_ns() >= deadline ? ADXL_TIMEOUT : ADXL_FAILED;
}

/* Both ends prove they hold the shared secret (src/net/auth.h): we check the target's proof
 * from HELLO_ACK, send ours and wait for its verdict. */
static adxl_status_t authenticate(int fd, const adxl_auth_secret_t *secret,
                                  const tcp_hello_t *hello, const tcp_hello_ack_t *ack,
                                  uint64_t deadline) {
    bool mine = secret->len > 0, theirs = (ack->flags & TCP_HELLO_FLAG_AUTH) != 0;
    if (!mine && !theirs) return ADXL_SUCCESS;
    if (!mine) {
        LOG_ERROR("%s requires authentication: set the same AuthSecret on this engine", ack->name);
        return ADXL_FAILED;
    }
    if (!theirs) {
        LOG_ERROR("%s does not authenticate itself; refused, since this engine has an AuthSecret",
                  ack->name);
        return ADXL_FAILED;
    }
    if (!adxl_auth_check(secret, ADXL_AUTH_TARGET, hello->nonce, ack->nonce, ack->proof)) {
        LOG_ERROR("%s could not prove it holds the shared secret (a different AuthSecret?)",
                  ack->name);
        return ADXL_FAILED;
    }
    uint8_t proof[ADXL_AUTH_PROOF_BYTES], msg[TCP_AUTH_SIZE], ok[TCP_AUTH_OK_SIZE];
    if (!adxl_auth_proof(secret, ADXL_AUTH_INITIATOR, hello->nonce, ack->nonce, proof))
        return ADXL_FAILED;
    tcp_auth_encode(msg, proof);
    if (!adxl_sock_write_full(fd, msg, sizeof(msg), -1, deadline, false) ||
        !adxl_sock_read_full(fd, ok, sizeof(ok), -1, deadline))
        return io_failure(deadline);
    uint32_t status;
    if (!tcp_auth_ok_decode(ok, &status) || status != ADXL_SUCCESS) {
        LOG_ERROR("%s refused this engine's proof of the shared secret", ack->name);
        return ADXL_FAILED;
    }
    return ADXL_SUCCESS;
}

/* HELLO out, HELLO_ACK in (and authentication, when either end has a secret), on a fresh
 * connection. */
static adxl_status_t handshake(int fd, const adxl_config_t *config, const char *local_name,
                               int index, int count, uint64_t link_id, uint64_t deadline) {
    uint8_t buf[TCP_HELLO_FIXED + TCP_HELLO_NAME_MAX];
    tcp_hello_t hello = {
        .stream_index = (uint16_t)index, .stream_count = (uint16_t)count, .link_id = link_id};
    hello.flags = config->auth.len > 0 ? TCP_HELLO_FLAG_AUTH : 0;
    if (!adxl_auth_nonce(hello.nonce)) return ADXL_FAILED;
    hello.name_len = (uint16_t)strlen(local_name);
    memcpy(hello.name, local_name, hello.name_len);
    size_t len = tcp_hello_encode(buf, &hello);
    if (!adxl_sock_write_full(fd, buf, len, -1, deadline, false)) return io_failure(deadline);
    tcp_hello_ack_t ack;
    if (!adxl_sock_read_full(fd, buf, TCP_HELLO_ACK_FIXED, -1, deadline))
        return io_failure(deadline);
    if (!tcp_hello_ack_decode_fixed(buf, &ack) ||
        !adxl_sock_read_full(fd, ack.name, ack.name_len, -1, deadline)) {
        LOG_ERROR("the peer is not an adxl engine speaking protocol version %u", TCP_WIRE_VERSION);
        return ADXL_FAILED;
    }
    ack.name[ack.name_len] = '\0';
    if (!tcp_hello_name_valid(ack.name, ack.name_len)) return ADXL_FAILED;
    adxl_status_t st = authenticate(fd, &config->auth, &hello, &ack, deadline);
    if (st == ADXL_SUCCESS && ack.status != ADXL_SUCCESS) {
        LOG_ERROR("%s refused the connection", ack.name);
        st = ADXL_FAILED;
    }
    return st;
}

static void tcp_destroy(adxl_link_t *link) {
    for (int i = 0; i < link->nstreams; i++) {
        tcp_stream_t *s = &link->streams[i];
        if (s->fd >= 0) close(s->fd);
        if (s->wake_fd >= 0) close(s->wake_fd);
        pthread_mutex_destroy(&s->lock);
        free(s->tx_meta);
        free(s->rx_regions);
        free(s->rx_discard);
    }
    free(link);
}

static void tcp_shutdown(adxl_link_t *link, adxl_status_t status) {
    tcp_link_fail(link, status);
    for (int i = 0; i < link->nstreams; i++) {
        tcp_stream_t *s = &link->streams[i];
        if (s->thread_started) {
            pthread_join(s->thread, NULL);
            s->thread_started = false;
        }
    }
}

/* One connection that asks for the target's host facts and closes. */
static adxl_status_t tcp_probe(adxl_transport_t *t, const adxl_engine_addr_t *remote,
                               uint64_t deadline, adxl_host_facts_t *out) {
    int fd = -1;
    adxl_status_t st = adxl_sock_connect(remote, 0, deadline, &fd);
    if (st != ADXL_SUCCESS) return st;
    st = handshake(fd, t->config, adxl_engine_name(t->engine), 0, 0, 0, deadline);
    uint8_t facts[TCP_FACTS_LEN_SIZE + ADXL_FACTS_WIRE_MAX];
    size_t len = 0;
    if (st == ADXL_SUCCESS && adxl_sock_read_full(fd, facts, TCP_FACTS_LEN_SIZE, -1, deadline)) {
        len = adxl_le_get_u16(facts);
        if (len > ADXL_FACTS_WIRE_MAX) st = ADXL_FAILED;
    } else if (st == ADXL_SUCCESS) {
        st = adxl_now_ns() >= deadline ? ADXL_TIMEOUT : ADXL_FAILED;
    }
    if (st == ADXL_SUCCESS &&
        !adxl_sock_read_full(fd, facts + TCP_FACTS_LEN_SIZE, len, -1, deadline))
        st = adxl_now_ns() >= deadline ? ADXL_TIMEOUT : ADXL_FAILED;
    if (st == ADXL_SUCCESS && !adxl_host_facts_decode(facts + TCP_FACTS_LEN_SIZE, len, out)) {
        LOG_ERROR("probe: the peer's host facts are malformed");
        st = ADXL_FAILED;
    }
    close(fd);
    return st;
}

static adxl_status_t tcp_connect(adxl_transport_t *t, adxl_peer_t *peer, const char *remote_name,
                                 const adxl_engine_addr_t *remote,
                                 const adxl_host_facts_t *remote_facts, uint64_t deadline,
                                 adxl_link_t **out) {
    (void)remote_facts;
    tcp_link_t *link = calloc(1, sizeof(*link));
    if (!link) return ADXL_RESOURCE_EXHAUSTED;
    link->transport = t;
    link->peer = peer;
    link->nstreams = (int)t->config->tcp_streams;
    atomic_init(&link->failed, false);
    atomic_init(&link->fail_status, ADXL_SUCCESS);
    uint64_t link_id = adxl_now_ns() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)link;
    adxl_status_t st = ADXL_SUCCESS;
    for (int i = 0; i < link->nstreams; i++) {
        tcp_stream_t *s = &link->streams[i];
        s->link = link;
        s->fd = -1;
        pthread_mutex_init(&s->lock, NULL);
        s->wake_fd = adxl_wake_fd_new();
        s->tx_meta = malloc(TX_META_BYTES);
        s->rx_regions = malloc((size_t)TCP_MAX_ITEMS * TCP_ITEM_SIZE);
        s->rx_discard = malloc(TCP_DISCARD_BYTES);
        if (st == ADXL_SUCCESS &&
            (s->wake_fd < 0 || !s->tx_meta || !s->rx_regions || !s->rx_discard))
            st = ADXL_RESOURCE_EXHAUSTED;
        if (st == ADXL_SUCCESS)
            st = adxl_sock_connect(remote, t->config->tcp_sockbuf_kb, deadline, &s->fd);
        if (st == ADXL_SUCCESS)
            st = handshake(s->fd, t->config, adxl_engine_name(t->engine), i, link->nstreams,
                           link_id, deadline);
        if (st == ADXL_SUCCESS && i == 0)
            st = read_region_snapshot(s->fd, peer, s->rx_regions, deadline);
    }
    for (int i = 0; st == ADXL_SUCCESS && i < link->nstreams; i++) {
        tcp_stream_t *s = &link->streams[i];
        s->thread_started = adxl_thread_start(&s->thread, tcp_stream_main, s);
        if (!s->thread_started) st = ADXL_RESOURCE_EXHAUSTED;
    }
    if (st != ADXL_SUCCESS) {
        LOG_ERROR("connect to %s: %s", remote_name, adxl_status_str(st));
        tcp_shutdown(link, st);
        tcp_destroy(link);
        return st;
    }
    *out = link;
    return ADXL_SUCCESS;
}

/* Notifies keep their order on stream 0; data goes to the least loaded stream. */
static void tcp_post(adxl_link_t *link, adxl_chunk_t *chunk) {
    tcp_stream_t *best = &link->streams[0];
    if (chunk->kind != ADXL_CHUNK_NOTIFY && link->nstreams > 1) {
        unsigned start = atomic_fetch_add(&link->rr, 1);
        uint64_t least = UINT64_MAX;
        for (int k = 0; k < link->nstreams; k++) {
            tcp_stream_t *s = &link->streams[(start + (unsigned)k) % (unsigned)link->nstreams];
            uint64_t load = atomic_load(&s->outstanding_bytes);
            if (load < least) {
                least = load;
                best = s;
            }
        }
    }
    tcp_stream_post(best, chunk);
}

const adxl_transport_ops_t adxl_tcp_transport = {
    .name = "tcp",
    .max_chunk_segments = TCP_MAX_ITEMS,
    .start = tcp_start,
    .stop = tcp_stop,
    .connect = tcp_connect,
    .shutdown = tcp_shutdown,
    .destroy = tcp_destroy,
    .post = tcp_post,
    .publish = tcp_publish,
    .probe = tcp_probe,
};
