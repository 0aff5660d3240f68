/*
 * The target's side of one TCP connection: a thread that reads one request frame at a
 * time, checks every range against the registry, moves the bytes straight between the
 * socket and registered memory, and answers. Everything read from the socket is
 * untrusted until checked.
 */
#include "core/clock.h"
#include "core/log.h"
#include "transport/tcp/tcp_internal.h"
#include "net/sock_io.h"
#include "net/thread_util.h"
#include "transport/tcp/tcp_parse.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define SINK_BYTES (64u * 1024u)
/* Device memory moves through a host buffer of this size per connection, made the first
 * time a frame reaches device memory: the socket and the device copy each see large
 * pieces, and the kernel's socket buffer keeps receiving while a piece is copied. */
#define STAGE_BYTES (1024u * 1024u)
#define RXBUF_BYTES (64u * 1024u)
/* Payload must move at least this much (or to the frame's end) every PeerTimeoutMs. */
#define PROGRESS_BYTES (64u * 1024u)

/*
 * Time limits, so that a peer cannot hold a connection and its thread by sending (or
 * reading) a byte now and then: the HELLO must be in within PeerTimeoutMs of the
 * connection's start; a frame's header and its piece table or body within PeerTimeoutMs
 * of its first byte; payload, in or out, must move PROGRESS_BYTES (or the rest of the
 * frame) every PeerTimeoutMs; each answer, and the next frame's first byte, get
 * PeerTimeoutMs (an idle initiator pings well within it).
 */

/*
 * Small frames are read with one recv into rxbuf (header, items and payload together);
 * payload beyond what that recv brought goes straight from the socket into memory.
 */
typedef struct {
    tcp_inbound_t *in;
    adxl_engine_t *engine;
    adxl_registry_t *registry;
    bool allow_unregistered;
    uint64_t peer_timeout_ns;
    uint64_t deadline;       /* when the step in progress gives up (see the limits above) */
    size_t rx_start, rx_end; /* unread bytes of rxbuf */
    uint8_t *stage;          /* STAGE_BYTES of the device runtime's pinned memory, or NULL */
    void *stage_ctx;         /* the device context stage was allocated in */
    uint8_t rxbuf[RXBUF_BYTES];
    uint8_t sink[SINK_BYTES];
} target_ctx_t;

static uint64_t io_deadline(const target_ctx_t *t) {
    return adxl_now_ns() + t->peer_timeout_ns;
}

/* Takes up to len buffered bytes into buf (which may be NULL to drop them). */
static size_t take_buffered(target_ctx_t *t, void *buf, size_t len) {
    size_t n = t->rx_end - t->rx_start;
    if (n > len) n = len;
    if (buf) memcpy(buf, t->rxbuf + t->rx_start, n);
    t->rx_start += n;
    return n;
}

/* Refills rxbuf with whatever the socket has (waiting for at least one byte). */
static bool refill(target_ctx_t *t) {
    t->rx_start = t->rx_end = 0;
    for (;;) {
        ssize_t n = recv(t->in->fd, t->rxbuf, RXBUF_BYTES, MSG_DONTWAIT);
        if (n > 0) {
            t->rx_end = (size_t)n;
            return true;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return false;
        if (!adxl_sock_wait(t->in->fd, POLLIN, t->in->transport->stop_fd, t->deadline))
            return false;
    }
}

static bool read_full(target_ctx_t *t, void *buf, size_t len) {
    uint8_t *p = buf;
    for (;;) {
        size_t n = take_buffered(t, p, len);
        p += n;
        len -= n;
        if (len == 0) return true;
        if (len >= RXBUF_BYTES / 2) /* large: no point staging it */
            return adxl_sock_read_full(t->in->fd, p, len, t->in->transport->stop_fd, t->deadline);
        if (!refill(t)) return false;
    }
}

static bool write_more(target_ctx_t *t, const void *buf, size_t len, bool more) {
    return adxl_sock_write_full(t->in->fd, buf, len, t->in->transport->stop_fd, t->deadline, more);
}

static bool write_full(target_ctx_t *t, const void *buf, size_t len) {
    return write_more(t, buf, len, false);
}

/* Starts an answer. more: the rest of the answer follows (DATA), so header and payload
 * share segments. */
static bool send_header(target_ctx_t *t, uint16_t type, uint32_t count, uint64_t id,
                        uint64_t length, bool more) {
    t->deadline = io_deadline(t);
    uint8_t buf[TCP_FRAME_HEADER];
    tcp_frame_header_t h = {.type = type, .count = count, .id = id, .length = length};
    tcp_frame_header_encode(buf, &h);
    return write_more(t, buf, sizeof(buf), more);
}

/* Reads past bytes nobody may receive, keeping the stream in step. */
static bool discard(target_ctx_t *t, uint64_t len) {
    len -= take_buffered(t, NULL, len < RXBUF_BYTES ? (size_t)len : RXBUF_BYTES);
    while (len > 0) {
        size_t n = len < SINK_BYTES ? (size_t)len : SINK_BYTES;
        t->deadline = io_deadline(t); /* SINK_BYTES == PROGRESS_BYTES */
        if (!read_full(t, t->sink, n)) return false;
        len -= n;
    }
    return true;
}

/* With the registry pinned: may a peer touch every piece from index `from` on? */
static bool items_allowed(target_ctx_t *t, uint32_t from, uint32_t count) {
    return t->allow_unregistered || tcp_pieces_allowed(t->registry, t->in->pieces, from, count);
}

/* *device: the context of a piece in device memory (so the frame must be staged), or
 * NULL. */
static bool check_items(target_ctx_t *t, uint32_t count, uint64_t *generation, void **device) {
    adxl_registry_pin(t->registry);
    bool allowed = items_allowed(t, 0, count);
    *generation = t->registry->generation;
    *device = NULL;
    for (uint32_t i = 0; allowed && !*device && t->registry->device_regions && i < count; i++) {
        const adxl_region_t *r = adxl_region_set_containing(
            &t->registry->regions, (uintptr_t)t->in->pieces[i].addr, (size_t)t->in->pieces[i].len);
        if (r && r->device) *device = r->device_ctx;
    }
    adxl_registry_unpin(t->registry);
    return allowed;
}

/* Pinned memory is the runtime's: it is allocated, and freed, in a device context. */
static bool stage_ready(target_ctx_t *t, void *ctx) {
    if (t->stage) return true;
    const adxl_device_runtime_t *rt = t->registry->device;
    adxl_device_scope_t scope;
    void *p = NULL;
    if (!rt || adxl_device_enter(rt, ctx, &scope) != ADXL_SUCCESS) return false;
    if (rt->host_alloc(STAGE_BYTES, &p) == ADXL_SUCCESS) {
        t->stage = p;
        t->stage_ctx = ctx;
    }
    adxl_device_leave(rt, &scope);
    return t->stage != NULL;
}

static void stage_free(target_ctx_t *t) {
    const adxl_device_runtime_t *rt = t->registry->device;
    adxl_device_scope_t scope;
    if (!t->stage || adxl_device_enter(rt, t->stage_ctx, &scope) != ADXL_SUCCESS) return;
    rt->host_free(t->stage);
    adxl_device_leave(rt, &scope);
}

/* Reads len bytes of payload, pushing the deadline back every PROGRESS_BYTES. */
static bool read_payload(target_ctx_t *t, uint8_t *buf, size_t len) {
    for (size_t off = 0; off < len;) {
        size_t n = len - off < PROGRESS_BYTES ? len - off : PROGRESS_BYTES;
        t->deadline = io_deadline(t);
        if (!read_full(t, buf + off, n)) return false;
        off += n;
    }
    return true;
}

static bool write_payload(target_ctx_t *t, const uint8_t *buf, size_t len) {
    for (size_t off = 0; off < len;) {
        size_t n = len - off < PROGRESS_BYTES ? len - off : PROGRESS_BYTES;
        t->deadline = io_deadline(t);
        /* A READ answer's trailer follows the payload at once. */
        if (!write_more(t, buf + off, n, true)) return false;
        off += n;
    }
    return true;
}

/*
 * move_payload for frames that reach device memory: each piece crosses the connection's
 * stage buffer in parts of up to STAGE_BYTES, and each part is copied to or from memory
 * with the registry pinned (re-checked when it changed), through the device runtime
 * where the piece is device memory. A failed or refused part keeps the stream in step
 * (read and dropped, or sent as zeros); the frame's status is its first failure.
 */
static adxl_status_t move_payload_staged(target_ctx_t *t, uint32_t count, bool to_memory,
                                         uint64_t generation, void *ctx, bool *alive) {
    adxl_status_t status = stage_ready(t, ctx) ? ADXL_SUCCESS : ADXL_RESOURCE_EXHAUSTED;
    *alive = true;
    if (status != ADXL_SUCCESS) {
        LOG_ERROR("no staging memory for a frame to device memory");
        if (to_memory) {
            uint64_t total = 0;
            for (uint32_t i = 0; i < count; i++)
                total += t->in->pieces[i].len;
            *alive = discard(t, total);
            return status;
        }
    }
    for (uint32_t i = 0; i < count && *alive; i++) {
        const tcp_piece_t *p = &t->in->pieces[i];
        for (uint64_t off = 0; off < p->len && *alive;) {
            size_t n = p->len - off < STAGE_BYTES ? (size_t)(p->len - off) : STAGE_BYTES;
            uint8_t *buf = t->stage ? t->stage : t->sink;
            if (!t->stage && n > SINK_BYTES) n = SINK_BYTES;
            if (to_memory && !read_payload(t, buf, n)) {
                *alive = false;
                break;
            }
            adxl_registry_pin(t->registry);
            if (status == ADXL_SUCCESS && t->registry->generation != generation) {
                generation = t->registry->generation;
                if (!items_allowed(t, i, count))
                    status = ADXL_PARAM_INVALID; /* deregistered mid-frame: hands off */
            }
            if (status == ADXL_SUCCESS)
                status = adxl_registry_copy_pinned(t->registry, (uintptr_t)(p->addr + off), buf, n,
                                                   to_memory);
            adxl_registry_unpin(t->registry);
            if (!to_memory) {
                if (status != ADXL_SUCCESS) memset(buf, 0, n);
                if (!write_payload(t, buf, n)) *alive = false;
            }
            off += n;
        }
    }
    return *alive ? status : ADXL_FAILED;
}

/* Reads the piece table (meta_len bytes, from tcp_request_header_check) and checks its
 * shape; false: the peer is broken. */
static bool read_items(target_ctx_t *t, const tcp_frame_header_t *h, size_t meta_len,
                       uint64_t *total) {
    return read_full(t, t->in->items, meta_len) &&
           tcp_pieces_decode(t->in->items, h->count, t->in->pieces, total);
}

/*
 * Moves the payload of items [0, count) between the socket and memory, pinning the
 * registry for each system call so that a deregistration waits for it and, once done,
 * stops the rest. generation is the registry's when the items were checked. Returns the status to
 * answer with; *alive false if the socket died.
 */
static adxl_status_t move_payload(target_ctx_t *t, uint32_t count, bool to_memory,
                                  uint64_t generation, bool *alive) {
    tcp_inbound_t *in = t->in;
    adxl_status_t status = ADXL_SUCCESS;
    uint32_t item = 0;
    uint64_t item_off = 0;
    *alive = true;
    bool wait_first = false;
    uint64_t progress = 0; /* bytes moved since the deadline was last pushed back */
    t->deadline = io_deadline(t);
    while (item < count) {
        if (wait_first && !adxl_sock_wait(in->fd, to_memory ? POLLIN : POLLOUT,
                                          in->transport->stop_fd, t->deadline)) {
            *alive = false;
            return ADXL_FAILED;
        }
        wait_first = true;
        adxl_registry_pin(t->registry);
        if (status == ADXL_SUCCESS && t->registry->generation != generation) {
            generation = t->registry->generation;
            if (!items_allowed(t, item, count))
                status = ADXL_PARAM_INVALID; /* deregistered mid-frame: hands off */
        }
        int n = 0;
        for (uint32_t i = item; i < count && n < TCP_IOV_MAX; i++) {
            uint64_t addr = in->pieces[i].addr, len = in->pieces[i].len;
            uint64_t off = i == item ? item_off : 0;
            if (status == ADXL_SUCCESS) {
                in->iov[n++] = (struct iovec){(uint8_t *)(uintptr_t)addr + off, len - off};
            } else {
                /* Keep the stream in step without touching memory: sink or zeros. */
                in->iov[n++] =
                    (struct iovec){t->sink, len - off < SINK_BYTES ? len - off : SINK_BYTES};
                if (!to_memory) memset(t->sink, 0, SINK_BYTES);
                break;
            }
        }
        ssize_t done;
        if (to_memory && t->rx_start < t->rx_end) {
            /* Bytes the last recv already brought: copy them, still pinned. */
            done = 0;
            for (int i = 0; i < n && t->rx_start < t->rx_end; i++)
                done += (ssize_t)take_buffered(t, in->iov[i].iov_base, in->iov[i].iov_len);
        } else {
            struct msghdr msg = {.msg_iov = in->iov, .msg_iovlen = (size_t)n};
            /* A READ answer's trailer follows the payload at once. */
            done = to_memory ? recvmsg(in->fd, &msg, MSG_DONTWAIT)
                             : sendmsg(in->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL | MSG_MORE);
        }
        adxl_registry_unpin(t->registry);
        if (done < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
        if (done <= 0) {
            *alive = false;
            return ADXL_FAILED;
        }
        wait_first = false; /* progress: try the socket again before polling */
        progress += (uint64_t)done;
        if (progress >= PROGRESS_BYTES) {
            progress = 0;
            t->deadline = io_deadline(t);
        }
        for (uint64_t left = (uint64_t)done; left > 0;) {
            uint64_t len = in->pieces[item].len;
            uint64_t k = left < len - item_off ? left : len - item_off;
            item_off += k;
            left -= k;
            if (item_off == len) {
                item++;
                item_off = 0;
            }
        }
    }
    return status;
}

static bool serve_write(target_ctx_t *t, const tcp_frame_header_t *h, size_t meta_len) {
    uint64_t total;
    if (!read_items(t, h, meta_len, &total) || total != h->length) return false;
    uint64_t generation;
    void *device;
    bool allowed = check_items(t, h->count, &generation, &device);
    adxl_status_t st = ADXL_PARAM_INVALID;
    bool alive = true;
    if (allowed && device)
        st = move_payload_staged(t, h->count, true, generation, device, &alive);
    else if (allowed)
        st = move_payload(t, h->count, true, generation, &alive);
    else
        alive = discard(t, total);
    if (!alive) return false;
    adxl_engine_count_served(t->engine, st != ADXL_SUCCESS);
    if (st == ADXL_PARAM_INVALID)
        LOG_WARN("refused a WRITE of %u items: not inside registered memory", h->count);
    return send_header(t, TCP_FRAME_ACK, st, h->id, 0, false);
}

static bool serve_read(target_ctx_t *t, const tcp_frame_header_t *h, size_t meta_len) {
    uint64_t total;
    if (!read_items(t, h, meta_len, &total)) return false;
    uint64_t generation;
    void *device;
    bool allowed = check_items(t, h->count, &generation, &device);
    adxl_engine_count_served(t->engine, !allowed);
    uint8_t trailer[TCP_TRAILER];
    if (!allowed) {
        LOG_WARN("refused a READ of %u items: not inside registered memory", h->count);
        adxl_le_put_u32(trailer, ADXL_PARAM_INVALID);
        return send_header(t, TCP_FRAME_DATA, 0, h->id, 0, true) &&
               write_full(t, trailer, sizeof(trailer));
    }
    if (!send_header(t, TCP_FRAME_DATA, 0, h->id, total, true)) return false;
    bool alive;
    adxl_status_t st = device ? move_payload_staged(t, h->count, false, generation, device, &alive)
                              : move_payload(t, h->count, false, generation, &alive);
    adxl_le_put_u32(trailer, st);
    return alive && write_full(t, trailer, sizeof(trailer));
}

static bool serve_notify(target_ctx_t *t, const tcp_frame_header_t *h, size_t meta_len) {
    uint8_t body[TCP_NOTIFY_FIXED + 2 * ADXL_NOTIFY_MAX_LEN];
    tcp_notify_body_t n;
    if (meta_len > sizeof(body) || !read_full(t, body, meta_len) ||
        !tcp_notify_decode(body, meta_len, &n))
        return false;
    adxl_status_t st =
        t->in->notify_source
            ? adxl_notify_queue_push(adxl_engine_notifies(t->engine), t->in->notify_source, n.name,
                                     n.name_len, n.msg, n.msg_len)
            : ADXL_FAILED;
    return send_header(t, TCP_FRAME_NOTIFY_ACK, st, h->id, 0, false);
}

/* Sends the region updates queued by register/deregister; those queued meanwhile go out
 * together next time. The peer must take them within PeerTimeoutMs, counted from now. */
static bool flush_updates(target_ctx_t *t) {
    tcp_inbound_t *in = t->in;
    pthread_mutex_lock(&in->lock);
    uint8_t *buf = in->updates;
    size_t len = in->updates_len;
    in->updates = NULL;
    in->updates_len = in->updates_cap = in->updates_last = 0;
    pthread_mutex_unlock(&in->lock);
    uint64_t frame_deadline = t->deadline;
    t->deadline = io_deadline(t);
    bool ok = len == 0 || write_full(t, buf, len);
    t->deadline = frame_deadline;
    free(buf);
    return ok;
}

/* Appends the item to the last queued frame when it is of the same type and has room
 * (a burst of registrations goes out as few frames), else starts a frame. */
void tcp_inbound_queue_update(tcp_inbound_t *in, uint16_t type, uintptr_t addr, size_t len) {
    pthread_mutex_lock(&in->lock);
    /* Queued onto pending updates, the serving thread has a wake on its way already. */
    bool wake = in->updates_len == 0;
    tcp_frame_header_t last = {0};
    if (in->updates_len > 0) tcp_frame_header_decode(in->updates + in->updates_last, &last);
    bool append = in->updates_len > 0 && last.type == type && last.count < TCP_MAX_ITEMS;
    size_t need = TCP_ITEM_SIZE + (append ? 0 : TCP_FRAME_HEADER);
    if (in->updates_len + need > in->updates_cap) {
        size_t cap = in->updates_cap ? in->updates_cap * 2 : 4096;
        uint8_t *buf = realloc(in->updates, cap);
        if (!buf) {
            pthread_mutex_unlock(&in->lock);
            return; /* the view is only a hint; the target still checks every access */
        }
        in->updates = buf;
        in->updates_cap = cap;
    }
    if (append) {
        last.count++;
    } else {
        in->updates_last = in->updates_len;
        last = (tcp_frame_header_t){.type = type, .count = 1};
        in->updates_len += TCP_FRAME_HEADER;
    }
    tcp_frame_header_encode(in->updates + in->updates_last, &last);
    tcp_item_encode(in->updates + in->updates_len, addr, len);
    in->updates_len += TCP_ITEM_SIZE;
    pthread_mutex_unlock(&in->lock);
    if (wake) adxl_wake(in->wake_fd);
}

/* Waits for the next frame's first bytes, sending region updates meanwhile. */
static bool await_frame(target_ctx_t *t) {
    tcp_inbound_t *in = t->in;
    uint64_t deadline = io_deadline(t);
    t->deadline = deadline;
    for (;;) {
        if (!flush_updates(t)) return false;
        if (t->rx_start < t->rx_end) return true; /* the next frame is already here */
        struct pollfd pfd[3] = {{.fd = in->fd, .events = POLLIN},
                                {.fd = in->wake_fd, .events = POLLIN},
                                {.fd = in->transport->stop_fd, .events = POLLIN}};
        int rc = poll(pfd, 3, adxl_poll_timeout_ms(deadline));
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0 || (pfd[2].revents & POLLIN))
            return false; /* silent past the peer timeout, or stopping */
        if (pfd[1].revents & POLLIN) adxl_wake_drain(in->wake_fd);
        if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) return true;
    }
}

static void serve(target_ctx_t *t) {
    for (;;) {
        uint8_t raw[TCP_FRAME_HEADER];
        if (!await_frame(t)) return;
        t->deadline = io_deadline(t); /* for the header and its table or body */
        if (!read_full(t, raw, sizeof(raw))) return;
        tcp_frame_header_t h;
        tcp_frame_header_decode(raw, &h);
        size_t meta_len = 0;
        bool ok = tcp_request_header_check(&h, &meta_len);
        switch (ok ? h.type : 0) {
        case TCP_FRAME_WRITE:
            ok = serve_write(t, &h, meta_len);
            break;
        case TCP_FRAME_READ:
            ok = serve_read(t, &h, meta_len);
            break;
        case TCP_FRAME_NOTIFY:
            ok = serve_notify(t, &h, meta_len);
            break;
        case TCP_FRAME_PING:
            ok = send_header(t, TCP_FRAME_PONG, 0, h.id, 0, false);
            break;
        default:
            ok = false;
        }
        if (!ok) {
            LOG_INFO("closing an inbound connection (frame type %u, or the peer went away)",
                     h.type);
            return;
        }
    }
}

/* The initiator's proof of the shared secret, and our verdict on it. */
static bool check_proof(target_ctx_t *t, const adxl_auth_secret_t *secret, const tcp_hello_t *hello,
                        const tcp_hello_ack_t *ack) {
    uint8_t msg[TCP_AUTH_SIZE], proof[ADXL_AUTH_PROOF_BYTES], verdict[TCP_AUTH_OK_SIZE];
    if (!read_full(t, msg, sizeof(msg))) {
        LOG_WARN("%s gave up during authentication (a different AuthSecret?)", hello->name);
        return false;
    }
    bool ok = tcp_auth_decode(msg, proof) &&
              adxl_auth_check(secret, ADXL_AUTH_INITIATOR, hello->nonce, ack->nonce, proof);
    if (!ok) LOG_WARN("refused %s: it could not prove it holds the shared secret", hello->name);
    tcp_auth_ok_encode(verdict, ok ? ADXL_SUCCESS : ADXL_FAILED);
    return write_full(t, verdict, sizeof(verdict)) && ok;
}

/* HELLO in, HELLO_ACK out (then the proofs, with an AuthSecret); for stream 0 also what
 * is registered now. */
static bool handshake(target_ctx_t *t) {
    tcp_inbound_t *in = t->in;
    uint8_t buf[TCP_HELLO_FIXED + TCP_HELLO_NAME_MAX];
    tcp_hello_t hello;
    t->deadline = io_deadline(t); /* the whole HELLO, from the connection's start */
    if (!read_full(t, buf, TCP_HELLO_FIXED)) return false;
    if (!tcp_hello_decode_fixed(buf, &hello)) {
        LOG_WARN("refused a connection: not an adxl peer of protocol version %u", TCP_WIRE_VERSION);
        return false;
    }
    if (!read_full(t, hello.name, hello.name_len)) return false;
    if (!tcp_hello_name_valid(hello.name, hello.name_len)) {
        LOG_WARN("refused a connection: its HELLO names no engine");
        return false;
    }
    hello.name[hello.name_len] = '\0';

    tcp_hello_ack_t ack = {.status = ADXL_SUCCESS};
    const char *name = adxl_engine_name(t->engine);
    ack.name_len = (uint16_t)strlen(name);
    memcpy(ack.name, name, ack.name_len);
    const adxl_auth_secret_t *secret = &in->transport->config->auth;
    bool authenticates = secret->len > 0;
    if (authenticates) {
        ack.flags = TCP_HELLO_FLAG_AUTH;
        if (!adxl_auth_nonce(ack.nonce) ||
            !adxl_auth_proof(secret, ADXL_AUTH_TARGET, hello.nonce, ack.nonce, ack.proof))
            return false;
        if (!(hello.flags & TCP_HELLO_FLAG_AUTH)) {
            LOG_WARN("refused %s: it offers no shared secret, and this engine has an AuthSecret",
                     hello.name);
            ack.status = ADXL_FAILED;
        }
    } else if (hello.flags & TCP_HELLO_FLAG_AUTH) {
        LOG_WARN("%s expects authentication, but this engine has no AuthSecret: it will refuse "
                 "the link",
                 hello.name);
    }
    size_t len = tcp_hello_ack_encode(buf, &ack);
    t->deadline = io_deadline(t);
    if (ack.status != ADXL_SUCCESS) {
        write_full(t, buf, len);
        return false;
    }
    if (authenticates) {
        if (!write_full(t, buf, len) || !check_proof(t, secret, &hello, &ack)) return false;
        len = 0; /* sent */
    }
    if (tcp_hello_is_probe(&hello)) {
        uint8_t facts[TCP_FACTS_LEN_SIZE + ADXL_FACTS_WIRE_MAX];
        size_t n =
            adxl_host_facts_encode(facts + TCP_FACTS_LEN_SIZE, adxl_engine_host_facts(t->engine));
        adxl_le_put_u16(facts, (uint16_t)n);
        if (len == 0 || write_full(t, buf, len)) write_full(t, facts, TCP_FACTS_LEN_SIZE + n);
        return false; /* a probe ends here */
    }

    if (hello.stream_index == 0) {
        in->notify_source = adxl_notify_source_new();
        /* Listed for updates before the snapshot, so none can fall between the two. */
        pthread_mutex_lock(&in->lock);
        in->publishes = true;
        pthread_mutex_unlock(&in->lock);
    }
    t->deadline = io_deadline(t);
    if (len > 0 && !write_full(t, buf, len)) return false;
    if (hello.stream_index != 0) return true;
    /* What is registered now, in frames of up to TCP_MAX_ITEMS, then an empty frame
     * that ends the snapshot: the initiator's connect returns only after it. */
    adxl_region_t *regions;
    size_t count;
    if (adxl_registry_snapshot(t->registry, &regions, &count) != ADXL_SUCCESS) return false;
    uint8_t *frame = malloc(TCP_FRAME_HEADER + (size_t)TCP_MAX_ITEMS * TCP_ITEM_SIZE);
    bool ok = frame != NULL;
    for (size_t first = 0; ok;) {
        uint32_t n = count - first < TCP_MAX_ITEMS ? (uint32_t)(count - first) : TCP_MAX_ITEMS;
        tcp_frame_header_t h = {.type = TCP_FRAME_REGION_ADD, .count = n};
        tcp_frame_header_encode(frame, &h);
        for (uint32_t i = 0; i < n; i++)
            tcp_item_encode(frame + TCP_FRAME_HEADER + (size_t)i * TCP_ITEM_SIZE,
                            regions[first + i].addr, regions[first + i].len);
        t->deadline = io_deadline(t); /* each frame is at most 64 KiB */
        ok = write_full(t, frame, TCP_FRAME_HEADER + (size_t)n * TCP_ITEM_SIZE);
        if (n == 0) break;
        first += n;
    }
    free(frame);
    free(regions);
    LOG_INFO("accepted stream %u/%u from %s", hello.stream_index, hello.stream_count, hello.name);
    return ok;
}

void *tcp_inbound_main(void *arg) {
    tcp_inbound_t *in = arg;
    target_ctx_t *t = malloc(sizeof(*t));
    if (t) {
        adxl_engine_t *engine = in->transport->engine;
        const adxl_config_t *config = in->transport->config;
        /* Field by field: a compound literal would zero the 128 KiB of buffers too, making
         * every connection, idle ones included, cost that much resident memory. */
        t->in = in;
        t->engine = engine;
        t->registry = adxl_engine_registry(engine);
        t->allow_unregistered = config->allow_unregistered;
        t->peer_timeout_ns = (uint64_t)config->peer_timeout_ms * ADXL_NS_PER_MS;
        t->deadline = 0;
        t->rx_start = t->rx_end = 0;
        t->stage = NULL;
        if (handshake(t)) serve(t);
        stage_free(t);
        free(t);
    }
    shutdown(in->fd, SHUT_RDWR);
    adxl_served_finished(&in->served);
    return NULL;
}
