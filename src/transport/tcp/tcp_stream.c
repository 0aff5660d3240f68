/*
 * The initiator's side of one TCP connection: frames go out in post order, answers come
 * back in the same order, and one thread per connection receives them, sends what
 * callers could not send at once, pings an idle peer and declares a silent one dead.
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

enum { RX_HEADER, RX_PAYLOAD, RX_TRAILER, RX_REGIONS };

static const uint8_t zero_page[TCP_DISCARD_BYTES];

void tcp_link_fail(tcp_link_t *link, adxl_status_t status) {
    /* The reason goes out before the flag: a thread that sees the link failed (and
     * drains its chunks) must read a failure, never the initial ADXL_SUCCESS. The first
     * reason wins. */
    adxl_status_t none = ADXL_SUCCESS;
    atomic_compare_exchange_strong(&link->fail_status, &none, status);
    if (atomic_exchange(&link->failed, true)) return;
    for (int i = 0; i < link->nstreams; i++) {
        shutdown(link->streams[i].fd, SHUT_RDWR);
        adxl_wake(link->streams[i].wake_fd);
    }
    adxl_peer_link_down(link->peer);
}

/* Lays out the header and the table of a chunk's frame (or the notify body). */
static void build_meta(tcp_stream_t *s, adxl_chunk_t *c) {
    tcp_frame_header_t h = {.id = c->transport_tag};
    uint8_t *p = s->tx_meta + TCP_FRAME_HEADER;
    if (c->kind == ADXL_CHUNK_NOTIFY) {
        h.type = TCP_FRAME_NOTIFY;
        h.length = TCP_NOTIFY_FIXED + c->notify_name_len + c->notify_msg_len;
        adxl_le_put_u32(p, c->notify_name_len);
        adxl_le_put_u32(p + 4, c->notify_msg_len);
        memcpy(p + 8, c->notify_name, c->notify_name_len);
        memcpy(p + 8 + c->notify_name_len, c->notify_msg, c->notify_msg_len);
        p += h.length;
    } else {
        h.type = c->kind == ADXL_CHUNK_WRITE ? TCP_FRAME_WRITE : TCP_FRAME_READ;
        h.count = c->nsegs;
        h.length = c->kind == ADXL_CHUNK_WRITE ? c->bytes : 0;
        for (uint32_t i = 0; i < c->nsegs; i++, p += TCP_PIECE_SIZE) {
            const adxl_segment_t *seg = &c->segs[i];
            tcp_piece_t piece = {seg->remote, seg->len, seg->span_addr, seg->span_len};
            tcp_piece_encode(p, &piece);
        }
    }
    tcp_frame_header_encode(s->tx_meta, &h);
    s->tx_meta_len = (size_t)(p - s->tx_meta);
    s->tx_meta_off = 0;
    s->tx_seg = 0;
    s->tx_seg_off = 0;
}

static void build_ping(tcp_stream_t *s) {
    tcp_frame_header_t h = {.type = TCP_FRAME_PING};
    tcp_frame_header_encode(s->tx_meta, &h);
    s->tx_meta_len = TCP_FRAME_HEADER;
    s->tx_meta_off = 0;
    s->tx_chunk = NULL;
    s->tx_active = true;
}

/* Starts the next frame; false when there is nothing to send. Cancelled chunks that
 * never started go to *dropped, to be completed without the lock. */
static bool start_frame(tcp_stream_t *s, adxl_chunk_t **dropped) {
    if (s->ping_due) {
        s->ping_due = false;
        build_ping(s);
        s->last_frame_ns = adxl_now_ns();
        return true;
    }
    for (;;) {
        adxl_chunk_t *c = adxl_chunk_fifo_pop(&s->unsent);
        if (!c) return false;
        if (c->user_memory && !adxl_req_guard_enter(c->req)) {
            c->next = *dropped;
            *dropped = c;
            continue;
        }
        if (c->user_memory) adxl_req_guard_leave(c->req);
        c->transport_tag = ++s->next_id;
        build_meta(s, c);
        adxl_chunk_fifo_push(&s->sent, c); /* before any byte leaves: the answer may be quick */
        s->tx_chunk = c;
        s->tx_active = true;
        s->last_frame_ns = adxl_now_ns();
        return true;
    }
}

/* Sends as much as the socket takes; with the stream lock held. false on a dead socket. */
static bool tx_progress(tcp_stream_t *s, adxl_chunk_t **dropped) {
    struct iovec iov[TCP_IOV_MAX];
    for (;;) {
        if (!s->tx_active && !start_frame(s, dropped)) return true;
        adxl_chunk_t *c = s->tx_chunk;
        int n = 0;
        if (s->tx_meta_off < s->tx_meta_len)
            iov[n++] = (struct iovec){s->tx_meta + s->tx_meta_off, s->tx_meta_len - s->tx_meta_off};
        bool payload = c && c->kind == ADXL_CHUNK_WRITE && s->tx_seg < c->nsegs;
        bool guarded = payload && c->user_memory && adxl_req_guard_enter(c->req);
        if (payload && (guarded || !c->user_memory)) {
            for (uint32_t i = s->tx_seg; i < c->nsegs && n < TCP_IOV_MAX; i++) {
                uint64_t off = i == s->tx_seg ? s->tx_seg_off : 0;
                iov[n++] = (struct iovec){c->segs[i].local + off, c->segs[i].len - off};
            }
        } else if (payload) {
            /* The caller gave up mid-frame: finish the frame with zeros, which the target
             * may store (a failed WRITE leaves the target range unspecified). */
            uint64_t left = c->segs[s->tx_seg].len - s->tx_seg_off;
            for (uint32_t i = s->tx_seg + 1; i < c->nsegs; i++)
                left += c->segs[i].len;
            for (; left > 0 && n < TCP_IOV_MAX; n++) {
                size_t len = left < TCP_DISCARD_BYTES ? (size_t)left : TCP_DISCARD_BYTES;
                iov[n] = (struct iovec){(void *)zero_page, len};
                left -= len;
            }
        }
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t sent = sendmsg(s->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (guarded) adxl_req_guard_leave(c->req);
        if (sent < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        size_t left = (size_t)sent;
        size_t meta = s->tx_meta_len - s->tx_meta_off;
        size_t m = left < meta ? left : meta;
        s->tx_meta_off += m;
        left -= m;
        while (left > 0 && c && s->tx_seg < c->nsegs) {
            uint64_t seg_left = c->segs[s->tx_seg].len - s->tx_seg_off;
            uint64_t k = left < seg_left ? left : seg_left;
            s->tx_seg_off += k;
            left -= (size_t)k;
            if (s->tx_seg_off == c->segs[s->tx_seg].len) {
                s->tx_seg++;
                s->tx_seg_off = 0;
            }
        }
        if (c) atomic_store(&s->last_alive_ns, adxl_now_ns());
        bool done = s->tx_meta_off == s->tx_meta_len &&
                    (!c || c->kind != ADXL_CHUNK_WRITE || s->tx_seg == c->nsegs);
        if (!done) continue; /* the socket may take more; EAGAIN ends the loop */
        s->tx_active = false;
        s->tx_chunk = NULL;
    }
}

void tcp_stream_post(tcp_stream_t *s, adxl_chunk_t *chunk) {
    adxl_chunk_t *dropped = NULL;
    pthread_mutex_lock(&s->lock);
    if (s->closed) {
        pthread_mutex_unlock(&s->lock);
        adxl_status_t st = atomic_load(&s->link->fail_status);
        adxl_chunk_complete(chunk, st ? st : ADXL_NOT_CONNECTED);
        return;
    }
    atomic_fetch_add(&s->outstanding_bytes, chunk->bytes);
    bool idle = !s->tx_active && !s->unsent.head;
    adxl_chunk_fifo_push(&s->unsent, chunk);
    bool ok = true, left_over = false;
    if (idle) {
        /* Send from the caller's thread: a small transfer pays no thread wake-up. */
        ok = tx_progress(s, &dropped);
        left_over = s->tx_active || s->unsent.head;
    }
    pthread_mutex_unlock(&s->lock);
    adxl_chunk_complete_all(dropped, ADXL_TIMEOUT);
    if (!ok)
        tcp_link_fail(s->link, ADXL_FAILED);
    else if (left_over)
        adxl_wake(s->wake_fd);
}

/* What the oldest sent chunk awaits: the answer in hand must belong to it. Only this
 * thread takes chunks off the sent list, so it stays the oldest until answered. */
static tcp_awaited_t awaited(tcp_stream_t *s) {
    tcp_awaited_t a = {0};
    pthread_mutex_lock(&s->lock);
    adxl_chunk_t *c = s->sent.head;
    /* A frame still going out cannot be answered yet: type 0 refuses every answer. */
    if (c && c != s->tx_chunk) {
        a.type = c->kind == ADXL_CHUNK_WRITE  ? TCP_FRAME_ACK
                 : c->kind == ADXL_CHUNK_READ ? TCP_FRAME_DATA
                                              : TCP_FRAME_NOTIFY_ACK;
        a.id = c->transport_tag;
        a.bytes = c->bytes;
    }
    pthread_mutex_unlock(&s->lock);
    return a;
}

static void finish_answer(tcp_stream_t *s, adxl_status_t status) {
    pthread_mutex_lock(&s->lock);
    adxl_chunk_t *c = adxl_chunk_fifo_pop(&s->sent);
    atomic_fetch_sub(&s->outstanding_bytes, c->bytes);
    pthread_mutex_unlock(&s->lock);
    adxl_chunk_complete(c, status);
}

static void apply_regions(tcp_stream_t *s) {
    adxl_remote_regions_t *rr = adxl_peer_regions(s->link->peer);
    for (uint32_t i = 0; i < s->rx_frame.count; i++) {
        uint64_t addr, len;
        tcp_item_decode(s->rx_regions + (size_t)i * TCP_ITEM_SIZE, &addr, &len);
        if (s->rx_frame.type == TCP_FRAME_REGION_ADD)
            adxl_remote_regions_add(rr, (uintptr_t)addr, (size_t)len);
        else
            adxl_remote_regions_remove(rr, (uintptr_t)addr, (size_t)len);
    }
}

/* A whole header arrived: check it against what we sent. false: protocol error. */
static bool on_header(tcp_stream_t *s) {
    tcp_frame_header_t *h = &s->rx_frame;
    tcp_awaited_t a = awaited(s);
    if (!tcp_answer_header_check(h, &a)) return false;
    switch (h->type) {
    case TCP_FRAME_ACK:
    case TCP_FRAME_NOTIFY_ACK:
        finish_answer(s, adxl_status_from_wire(h->count));
        return true;
    case TCP_FRAME_DATA:
        s->rx_left = h->length;
        s->rx_seg = 0;
        s->rx_seg_off = 0;
        s->rx_trailer_got = 0;
        s->rx_state = h->length ? RX_PAYLOAD : RX_TRAILER;
        return true;
    case TCP_FRAME_REGION_ADD:
    case TCP_FRAME_REGION_DEL:
        s->rx_left = (uint64_t)h->count * TCP_ITEM_SIZE;
        s->rx_state = RX_REGIONS;
        return true;
    default: /* PONG */
        return true;
    }
}

/* One non-blocking receive of READ payload into the chunk's destinations. */
static ssize_t rx_payload(tcp_stream_t *s, adxl_chunk_t *c, size_t *asked) {
    struct iovec iov[TCP_IOV_MAX];
    int n = 0;
    bool guarded = c->user_memory && adxl_req_guard_enter(c->req);
    if (c->user_memory && !guarded) {
        iov[n++] = (struct iovec){
            s->rx_discard, s->rx_left < TCP_DISCARD_BYTES ? (size_t)s->rx_left : TCP_DISCARD_BYTES};
    } else {
        for (uint32_t i = s->rx_seg; i < c->nsegs && n < TCP_IOV_MAX; i++) {
            uint64_t off = i == s->rx_seg ? s->rx_seg_off : 0;
            iov[n++] = (struct iovec){c->segs[i].local + off, c->segs[i].len - off};
        }
    }
    *asked = 0;
    for (int i = 0; i < n; i++)
        *asked += iov[i].iov_len;
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    ssize_t got = recvmsg(s->fd, &msg, MSG_DONTWAIT);
    if (guarded) adxl_req_guard_leave(c->req);
    if (got <= 0) return got;
    /* Advance the cursor the same way whether the bytes landed or were discarded. */
    uint64_t left = (uint64_t)got;
    s->rx_left -= left;
    while (left > 0) {
        uint64_t seg_left = c->segs[s->rx_seg].len - s->rx_seg_off;
        uint64_t k = left < seg_left ? left : seg_left;
        s->rx_seg_off += k;
        left -= k;
        if (s->rx_seg_off == c->segs[s->rx_seg].len) {
            s->rx_seg++;
            s->rx_seg_off = 0;
        }
    }
    return got;
}

/* Receives everything available. false: the connection is dead or the peer broken. */
static bool rx_progress(tcp_stream_t *s) {
    for (;;) {
        ssize_t got;
        size_t asked;
        switch (s->rx_state) {
        case RX_HEADER:
            asked = TCP_FRAME_HEADER - s->rx_hdr_got;
            got = recv(s->fd, s->rx_hdr + s->rx_hdr_got, asked, MSG_DONTWAIT);
            if (got > 0 && (s->rx_hdr_got += (size_t)got) == TCP_FRAME_HEADER) {
                s->rx_hdr_got = 0;
                tcp_frame_header_decode(s->rx_hdr, &s->rx_frame);
                if (!on_header(s)) {
                    LOG_ERROR("peer %s sent an unexpected frame (type %u)",
                              adxl_peer_name(s->link->peer), s->rx_frame.type);
                    return false;
                }
            }
            break;
        case RX_PAYLOAD:
            got = rx_payload(s, s->sent.head, &asked);
            if (got > 0 && s->rx_left == 0) s->rx_state = RX_TRAILER;
            break;
        case RX_TRAILER:
            asked = TCP_TRAILER - s->rx_trailer_got;
            got = recv(s->fd, s->rx_trailer + s->rx_trailer_got, asked, MSG_DONTWAIT);
            if (got > 0 && (s->rx_trailer_got += (size_t)got) == TCP_TRAILER) {
                adxl_status_t st = tcp_data_trailer_status(s->rx_trailer, s->rx_frame.length);
                s->rx_state = RX_HEADER;
                finish_answer(s, st);
            }
            break;
        default: /* RX_REGIONS */
            asked = (size_t)s->rx_left;
            got =
                recv(s->fd, s->rx_regions + (size_t)s->rx_frame.count * TCP_ITEM_SIZE - s->rx_left,
                     asked, MSG_DONTWAIT);
            if (got > 0 && (s->rx_left -= (uint64_t)got) == 0) {
                apply_regions(s);
                s->rx_state = RX_HEADER;
            }
            break;
        }
        if (got == 0) return false; /* the peer closed */
        if (got < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        uint64_t now = adxl_now_ns();
        atomic_store(&s->last_alive_ns, now);
        atomic_store(&s->last_rx_ns, now);
        /* A short read emptied the socket: poll says when there is more, no need to ask. */
        if ((size_t)got < asked) return true;
    }
}

/* Ends the stream for good: everything not answered fails with the link's status. */
static void drain(tcp_stream_t *s) {
    pthread_mutex_lock(&s->lock);
    s->closed = true;
    adxl_chunk_t *sent = s->sent.head, *unsent = s->unsent.head;
    s->sent = s->unsent = (adxl_chunk_fifo_t){0};
    s->tx_active = false;
    s->tx_chunk = NULL;
    pthread_mutex_unlock(&s->lock);
    adxl_status_t st = atomic_load(&s->link->fail_status);
    adxl_chunk_complete_all(sent, st);
    adxl_chunk_complete_all(unsent, st);
}

/* Time since t, where t may be a moment later than now (another thread stored it). */
static uint64_t since(uint64_t now, uint64_t t) {
    return now > t ? now - t : 0;
}

void *tcp_stream_main(void *arg) {
    tcp_stream_t *s = arg;
    tcp_link_t *link = s->link;
    const adxl_config_t *config = link->transport->config;
    uint64_t heartbeat_ns = (uint64_t)config->heartbeat_ms * ADXL_NS_PER_MS;
    uint64_t peer_timeout_ns = (uint64_t)config->peer_timeout_ms * ADXL_NS_PER_MS;
    atomic_store(&s->last_alive_ns, adxl_now_ns());
    atomic_store(&s->last_rx_ns, adxl_now_ns());
    /* Under the lock: a caller may already be posting on this stream (start_frame). */
    pthread_mutex_lock(&s->lock);
    s->last_frame_ns = adxl_now_ns();
    pthread_mutex_unlock(&s->lock);

    while (!atomic_load(&link->failed)) {
        adxl_chunk_t *dropped = NULL;
        pthread_mutex_lock(&s->lock);
        uint64_t now = adxl_now_ns();
        /* A ping when the peer has been quiet (is it alive?), and also when we have: the
         * target gives up on a connection that sends it nothing for PeerTimeoutMs, and
         * hearing from it (region updates stream in while it registers) does not tell it
         * that we are alive. */
        bool quiet = since(now, atomic_load(&s->last_rx_ns)) >= heartbeat_ns ||
                     since(now, s->last_frame_ns) >= heartbeat_ns;
        if (quiet && since(now, s->last_ping_ns) >= heartbeat_ns) {
            s->ping_due = true;
            s->last_ping_ns = now;
        }
        bool ok = tx_progress(s, &dropped);
        bool want_write = s->tx_active || s->unsent.head;
        pthread_mutex_unlock(&s->lock);
        adxl_chunk_complete_all(dropped, ADXL_TIMEOUT);
        if (!ok) {
            tcp_link_fail(link, ADXL_FAILED);
            break;
        }
        if (since(now, atomic_load(&s->last_alive_ns)) >= peer_timeout_ns) {
            LOG_WARN("peer %s silent for %u ms", adxl_peer_name(link->peer),
                     config->peer_timeout_ms);
            tcp_link_fail(link, ADXL_FAILED);
            break;
        }

        struct pollfd pfd[2] = {
            {.fd = s->fd, .events = (short)(POLLIN | (want_write ? POLLOUT : 0))},
            {.fd = s->wake_fd, .events = POLLIN},
        };
        int rc = poll(pfd, 2, (int)(heartbeat_ns / ADXL_NS_PER_MS));
        if (rc < 0 && errno != EINTR) {
            tcp_link_fail(link, ADXL_FAILED);
            break;
        }
        if (rc > 0 && (pfd[1].revents & POLLIN)) adxl_wake_drain(s->wake_fd);
        if (rc > 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) && !rx_progress(s)) {
            tcp_link_fail(link, ADXL_FAILED);
            break;
        }
    }
    drain(s);
    return NULL;
}
