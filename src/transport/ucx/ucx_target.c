/*
 * The UCX transport as a target: every registered region is mapped with UCP and its
 * remote key packed; a control listener (a TCP port on the engine's address, told to
 * probers in the host facts) gives each initiator the worker address, then the keys it
 * asks for, the first time it moves bytes to or from each region. Registering therefore
 * sends nothing and waits for no one, and linking costs the same however many regions
 * there are. A revocation returns only once every initiator that was given the key said
 * that nothing of its own can still touch the region (or its link was cut), and only
 * then is the memory unmapped. The bytes of transfers never pass through here: UCX
 * moves them one-sidedly, served by the progress thread (ucx.c).
 */
#include "core/clock.h"
#include "core/log.h"
#include "net/peer_filter.h"
#include "net/sock_io.h"
#include "net/thread_util.h"
#include "transport/ucx/ucx_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void free_served(adxl_served_t *s);
static void wake_served(adxl_served_t *s);

/* Walking the served control links, with the list's lock held. */
static ucx_inbound_t *first_inbound(ucx_transport_t *t) {
    return (ucx_inbound_t *)t->served.head;
}
static ucx_inbound_t *next_inbound(ucx_inbound_t *in) {
    return (ucx_inbound_t *)in->served.next;
}

void ucx_target_init(ucx_transport_t *t) {
    adxl_served_init(&t->served, UCX_MAX_INBOUND, NULL, free_served, wake_served);
    pthread_mutex_init(&t->regions_lock, NULL);
    adxl_cond_init_monotonic(&t->regions_cond);
}

static uint64_t io_deadline(const ucx_transport_t *t) {
    return adxl_deadline_after_ms((int32_t)t->config->peer_timeout_ms);
}

static bool holds(const ucx_region_t *r, uint64_t id) {
    for (uint32_t i = 0; i < r->holder_count; i++)
        if (r->holders[i] == id) return true;
    return false;
}

/* Whether the inbound link with this id is still listed. With regions_lock held. */
static bool still_listed(ucx_transport_t *t, uint64_t id) {
    bool listed = false;
    pthread_mutex_lock(&t->served.lock);
    for (ucx_inbound_t *in = first_inbound(t); in && !listed; in = next_inbound(in))
        listed = in->id == id && in->listed;
    pthread_mutex_unlock(&t->served.lock);
    return listed;
}

/* Records that link id holds r's key; false when out of memory. Links that ended are
 * dropped from the list before it grows, so it stays as long as the links that hold the
 * key. With regions_lock held. */
static bool add_holder(ucx_transport_t *t, ucx_region_t *r, uint64_t id) {
    if (r->holder_count == r->holder_cap) {
        uint32_t kept = 0;
        for (uint32_t i = 0; i < r->holder_count; i++)
            if (still_listed(t, r->holders[i])) r->holders[kept++] = r->holders[i];
        r->holder_count = kept;
    }
    if (r->holder_count == r->holder_cap) {
        uint32_t cap = r->holder_cap ? 2 * r->holder_cap : 4;
        uint64_t *grown = realloc(r->holders, cap * sizeof(*grown));
        if (!grown) return false;
        r->holders = grown;
        r->holder_cap = cap;
    }
    r->holders[r->holder_count++] = id;
    return true;
}

/* Appends one message to a growing buffer of encoded messages; false when out of memory. */
static bool put_msg(uint8_t **buf, size_t *len, size_t *cap, uint16_t type, const void *a,
                    uint32_t a_len, const void *b, uint32_t b_len) {
    size_t need = *len + UCX_MSG_HEADER + a_len + b_len;
    if (need > *cap) {
        size_t grown = *cap ? 2 * *cap : 4096;
        while (grown < need)
            grown *= 2;
        uint8_t *p = realloc(*buf, grown);
        if (!p) return false;
        *buf = p;
        *cap = grown;
    }
    ucx_header_encode(*buf + *len, type, a_len + b_len);
    memcpy(*buf + *len + UCX_MSG_HEADER, a, a_len);
    if (b_len) memcpy(*buf + *len + UCX_MSG_HEADER + a_len, b, b_len);
    *len = need;
    return true;
}

/* A KEY_REQ: the key of each region that wholly holds one of the ranges, unless this link
 * was given it already, then KEY_DONE. A range that no region holds gets nothing: the
 * initiator then refuses the transfer, as for any memory not registered here. The answer
 * is made under regions_lock and written after it: a withdrawal of any of these keys is
 * written by this same thread (its outbox), so it cannot overtake them, and a peer that
 * stops reading holds up only its own link. */
static bool serve_keys(ucx_inbound_t *in, const uint8_t *p) {
    ucx_transport_t *t = in->transport;
    uint32_t count = adxl_le_get_u32(p + 8);
    uint8_t *answer = NULL;
    size_t len = 0, cap = 0;
    bool ok = true;
    pthread_mutex_lock(&t->regions_lock);
    for (uint32_t i = 0; i < count && ok; i++) {
        const uint8_t *e = p + UCX_KEY_REQ_FIXED + (size_t)i * UCX_KEY_REQ_ENTRY;
        uint64_t addr = adxl_le_get_u64(e), len_i = adxl_le_get_u64(e + 8);
        if (len_i == 0 || addr + len_i < addr) continue;
        adxl_region_t *range = adxl_region_set_containing(&t->regions, (uintptr_t)addr, len_i);
        ucx_region_t *r = range ? range->tag : NULL; /* the newest is the one in effect */
        if (!r || holds(r, in->id)) continue;
        uint8_t fixed[UCX_REGION_ADD_FIXED];
        adxl_le_put_u64(fixed, r->addr);
        adxl_le_put_u64(fixed + 8, r->len);
        adxl_le_put_u64(fixed + 16, 0);
        ok = put_msg(&answer, &len, &cap, UCX_MSG_REGION_ADD, fixed, sizeof(fixed), r->rkey_buf,
                     (uint32_t)r->rkey_len) &&
             add_holder(t, r, in->id);
        if (!ok)
            LOG_ERROR("UCX: out of memory for the key of 0x%lx+%zu", (unsigned long)r->addr,
                      r->len);
    }
    ok = ok && put_msg(&answer, &len, &cap, UCX_MSG_KEY_DONE, p, UCX_KEY_DONE_SIZE, NULL, 0);
    pthread_mutex_unlock(&t->regions_lock);
    if (ok) {
        pthread_mutex_lock(&in->write_lock);
        ok = adxl_sock_write_full(in->fd, answer, len, in->wake_fd, io_deadline(t), false);
        pthread_mutex_unlock(&in->write_lock);
    }
    free(answer);
    return ok;
}

/* Sends the withdrawals queued for this link, in the order they were queued. */
static bool send_outbox(ucx_inbound_t *in) {
    ucx_transport_t *t = in->transport;
    adxl_wake_drain(in->outbox_fd);
    pthread_mutex_lock(&t->regions_lock);
    uint8_t *msgs = in->outbox;
    size_t len = in->outbox_len;
    in->outbox = NULL;
    in->outbox_len = in->outbox_cap = 0;
    pthread_mutex_unlock(&t->regions_lock);
    bool ok = true;
    if (len > 0) {
        pthread_mutex_lock(&in->write_lock);
        ok = adxl_sock_write_full(in->fd, msgs, len, in->wake_fd, io_deadline(t), false);
        pthread_mutex_unlock(&in->write_lock);
    }
    free(msgs);
    return ok;
}

/* ---- One inbound control link ---- */

static bool handshake(ucx_inbound_t *in, uint8_t *buf) {
    ucx_transport_t *t = in->transport;
    uint64_t deadline = io_deadline(t);
    ucx_msg_header_t h;
    if (!ucx_msg_recv(in->fd, &h, buf, in->wake_fd, deadline, true) || h.type != UCX_MSG_HELLO)
        return false;
    uint8_t initiator_nonce[ADXL_AUTH_NONCE_BYTES];
    memcpy(initiator_nonce, buf + 4, sizeof(initiator_nonce));

    const adxl_auth_secret_t *secret = &t->config->auth;
    bool authenticates = secret->len > 0;
    uint8_t ack[UCX_HELLO_ACK_SIZE] = {0};
    uint8_t *nonce = ack + 8, *proof = ack + 8 + ADXL_AUTH_NONCE_BYTES;
    adxl_le_put_u32(ack, ADXL_SUCCESS);
    adxl_le_put_u32(ack + 4, (authenticates ? UCX_FLAG_AUTH : 0u) |
                                 (t->config->allow_unregistered ? UCX_FLAG_UNREGISTERED : 0u));
    if (authenticates &&
        (!adxl_auth_nonce(nonce) ||
         !adxl_auth_proof(secret, ADXL_AUTH_TARGET, initiator_nonce, nonce, proof)))
        return false;
    if (!ucx_msg_send(in->fd, &in->write_lock, UCX_MSG_HELLO_ACK, ack, sizeof(ack), in->wake_fd,
                      deadline))
        return false;
    if (!ucx_msg_recv(in->fd, &h, buf, in->wake_fd, deadline, true) || h.type != UCX_MSG_AUTH)
        return false;
    if (authenticates &&
        !adxl_auth_check(secret, ADXL_AUTH_INITIATOR, initiator_nonce, nonce, buf)) {
        LOG_WARN("UCX: refused %s: it does not prove the shared secret", in->who);
        return false;
    }
    if (!ucx_msg_send(in->fd, &in->write_lock, UCX_MSG_WELCOME, t->address,
                      (uint32_t)t->address_len, in->wake_fd, deadline))
        return false;
    in->notify_source = adxl_notify_source_new();
    if (!in->notify_source) return false;
    pthread_mutex_lock(&t->regions_lock);
    in->listed = true;
    in->acked_seq = t->update_seq; /* it holds no key yet: no withdrawal so far is its */
    pthread_mutex_unlock(&t->regions_lock);
    bool ok =
        ucx_msg_send(in->fd, &in->write_lock, UCX_MSG_READY, NULL, 0, in->wake_fd, io_deadline(t));
    if (ok) LOG_INFO("UCX: accepted a control link from %s", in->who);
    return ok;
}

static bool serve_notify(ucx_inbound_t *in, const uint8_t *p) {
    uint32_t name_len = adxl_le_get_u32(p + 8), msg_len = adxl_le_get_u32(p + 12);
    adxl_status_t st = adxl_notify_queue_push(adxl_engine_notifies(in->transport->engine),
                                              in->notify_source, (const char *)p + 16, name_len,
                                              (const char *)p + 16 + name_len, msg_len);
    uint8_t ack[UCX_NOTIFY_ACK_SIZE];
    memcpy(ack, p, 8); /* the id */
    adxl_le_put_u32(ack + 8, st);
    return ucx_msg_send(in->fd, &in->write_lock, UCX_MSG_NOTIFY_ACK, ack, sizeof(ack), in->wake_fd,
                        io_deadline(in->transport));
}

static void serve(ucx_inbound_t *in, uint8_t *buf) {
    ucx_transport_t *t = in->transport;
    for (;;) {
        struct pollfd pfd[3] = {{.fd = in->fd, .events = POLLIN},
                                {.fd = in->wake_fd, .events = POLLIN},
                                {.fd = in->outbox_fd, .events = POLLIN}};
        int rc = poll(pfd, 3, -1);
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0 || (pfd[1].revents & POLLIN)) return;
        if ((pfd[2].revents & POLLIN) && !send_outbox(in)) return;
        if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ucx_msg_header_t h;
        if (!ucx_msg_recv(in->fd, &h, buf, in->wake_fd, io_deadline(t), true)) return;
        if (h.type == UCX_MSG_REGION_ACK) {
            uint64_t seq = adxl_le_get_u64(buf);
            pthread_mutex_lock(&t->regions_lock);
            if (seq > in->acked_seq && seq <= t->update_seq) in->acked_seq = seq;
            pthread_cond_broadcast(&t->regions_cond);
            pthread_mutex_unlock(&t->regions_lock);
        } else if (h.type == UCX_MSG_KEY_REQ) {
            if (!serve_keys(in, buf)) return;
        } else if (h.type != UCX_MSG_NOTIFY || !serve_notify(in, buf)) {
            if (h.type != UCX_MSG_NOTIFY)
                LOG_WARN("UCX: %s sent message type %u after the handshake", in->who, h.type);
            return;
        }
    }
}

static void *inbound_main(void *arg) {
    ucx_inbound_t *in = arg;
    ucx_transport_t *t = in->transport;
    uint8_t *buf = malloc(UCX_MSG_MAX);
    if (buf && handshake(in, buf)) serve(in, buf);
    free(buf);
    shutdown(in->fd, SHUT_RDWR);
    pthread_mutex_lock(&t->regions_lock);
    in->listed = false;
    pthread_cond_broadcast(&t->regions_cond);
    pthread_mutex_unlock(&t->regions_lock);
    adxl_served_finished(&in->served);
    return NULL;
}

static void inbound_free(ucx_inbound_t *in) {
    if (in->fd >= 0) close(in->fd);
    if (in->wake_fd >= 0) close(in->wake_fd);
    if (in->outbox_fd >= 0) close(in->outbox_fd);
    free(in->outbox);
    adxl_notify_source_release(in->notify_source);
    pthread_mutex_destroy(&in->write_lock);
    free(in);
}

static void wake_served(adxl_served_t *s) {
    adxl_wake(((ucx_inbound_t *)s)->wake_fd);
}

static void free_served(adxl_served_t *s) {
    inbound_free((ucx_inbound_t *)s);
}

/* A control link the listener accepted (listener.c). */
static void take_link(void *ctx, int fd, const struct sockaddr *from, socklen_t from_len) {
    ucx_transport_t *t = ctx;
    (void)from_len;
    char who[ADXL_NAME_MAX];
    adxl_engine_name_format(from, true, who);
    if (!adxl_peer_filter_allows(&t->config->allowed_peers, from)) {
        LOG_WARN("UCX: refused a control link from %s: not in AllowedPeers", who);
        close(fd);
        return;
    }
    adxl_sock_tune(fd, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    adxl_served_reap(&t->served, false);
    bool room = !adxl_served_full(&t->served);
    ucx_inbound_t *in = room ? calloc(1, sizeof(*in)) : NULL;
    if (in) {
        in->transport = t;
        in->id = atomic_fetch_add(&t->next_inbound_id, 1) + 1;
        in->fd = fd;
        in->wake_fd = adxl_wake_fd_new();
        in->outbox_fd = adxl_wake_fd_new();
        memcpy(in->who, who, sizeof(who));
        pthread_mutex_init(&in->write_lock, NULL);
    }
    if (in && in->wake_fd >= 0 && in->outbox_fd >= 0 &&
        adxl_served_start(&t->served, &in->served, inbound_main))
        return;
    LOG_WARN("UCX: refusing a control link from %s (%s)", who,
             room ? "out of resources" : "too many");
    if (in)
        inbound_free(in);
    else
        close(fd);
}

adxl_status_t ucx_target_listen(ucx_transport_t *t, const adxl_engine_addr_t *listen_addr,
                                uint16_t *port) {
    adxl_engine_addr_t addr = *listen_addr;
    /* The same address as the engine, any free port. */
    if (addr.addr.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&addr.addr)->sin6_port = 0;
    else
        ((struct sockaddr_in *)&addr.addr)->sin_port = 0;
    int fd = socket(addr.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return ADXL_FAILED;
    int one = 1;
    if (addr.addr.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    struct sockaddr_storage bound;
    socklen_t len = sizeof(bound);
    if (bind(fd, (const struct sockaddr *)&addr.addr, addr.addr_len) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&bound, &len) != 0) {
        LOG_ERROR("UCX: cannot listen for control links: %s", strerror(errno));
        close(fd);
        return ADXL_FAILED;
    }
    *port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                              : ((struct sockaddr_in *)&bound)->sin_port);
    t->listen_fd = fd;
    t->stop_fd = adxl_wake_fd_new();
    if (t->stop_fd < 0) return ADXL_RESOURCE_EXHAUSTED;
    t->listener = (adxl_listener_t){.listen_fd = t->listen_fd,
                                    .stop_fd = t->stop_fd,
                                    .what = "UCX control",
                                    .take = take_link,
                                    .ctx = t,
                                    .served = &t->served};
    return adxl_listener_start(&t->listener) ? ADXL_SUCCESS : ADXL_RESOURCE_EXHAUSTED;
}

void ucx_target_stop(ucx_transport_t *t) {
    if (t->listener.started) {
        adxl_wake(t->stop_fd);
        adxl_listener_join(&t->listener);
    }
    adxl_served_reap(&t->served, true);
    if (t->listen_fd >= 0) close(t->listen_fd);
    if (t->stop_fd >= 0) close(t->stop_fd);
    t->listen_fd = t->stop_fd = -1;
}

/* ---- Publishing registrations ---- */

/* Whether every listed holder of a withdrawn key acknowledged withdrawal seq. With
 * regions_lock held. */
static bool all_acked(ucx_transport_t *t, const ucx_region_t *r, uint64_t seq) {
    bool all = true;
    pthread_mutex_lock(&t->served.lock);
    for (ucx_inbound_t *in = first_inbound(t); in; in = next_inbound(in))
        if (in->listed && in->acked_seq < seq && holds(r, in->id)) all = false;
    pthread_mutex_unlock(&t->served.lock);
    return all;
}

/*
 * Waits until every holder of r's key has withdrawal seq in effect: everything it had in
 * flight to the region flushed. One that does not answer within the peer time-out loses
 * its link (its thread then unlists it). With regions_lock held.
 */
static void wait_acked(ucx_transport_t *t, const ucx_region_t *r, uint64_t seq) {
    struct timespec until = adxl_deadline_timespec(io_deadline(t));
    bool cut = false;
    while (!all_acked(t, r, seq)) {
        if (pthread_cond_timedwait(&t->regions_cond, &t->regions_lock, &until) != ETIMEDOUT)
            continue;
        if (cut) {
            LOG_ERROR("UCX: a cut control link still holds the key of 0x%lx+%zu; going on",
                      (unsigned long)r->addr, r->len);
            return;
        }
        cut = true;
        pthread_mutex_lock(&t->served.lock);
        for (ucx_inbound_t *in = first_inbound(t); in; in = next_inbound(in))
            if (in->listed && in->acked_seq < seq && holds(r, in->id)) {
                LOG_WARN("UCX: %s did not acknowledge the withdrawal of 0x%lx+%zu; cutting "
                         "its link",
                         in->who, (unsigned long)r->addr, r->len);
                shutdown(in->fd, SHUT_RDWR);
                adxl_wake(in->wake_fd);
            }
        pthread_mutex_unlock(&t->served.lock);
        until = adxl_deadline_timespec(adxl_deadline_after_ms(10000));
    }
}

static void publish_add(ucx_transport_t *t, uintptr_t addr, size_t len, bool device) {
    ucx_region_t r = {.addr = addr, .len = len};
    if (device && !t->cuda_memory) {
        LOG_WARN("UCX: this UCX build cannot move device memory: UCX peers cannot reach "
                 "0x%lx+%zu (TCP and same-host peers can)",
                 (unsigned long)addr, len);
        return;
    }
    ucp_mem_map_params_t mp = {.field_mask = UCP_MEM_MAP_PARAM_FIELD_ADDRESS |
                                             UCP_MEM_MAP_PARAM_FIELD_LENGTH |
                                             UCP_MEM_MAP_PARAM_FIELD_MEMORY_TYPE,
                               .address = (void *)addr,
                               .length = len,
                               .memory_type = device ? UCS_MEMORY_TYPE_CUDA : UCS_MEMORY_TYPE_HOST};
    pthread_mutex_lock(&t->worker_lock);
    ucs_status_t st = ucp_mem_map(t->context, &mp, &r.memh);
    if (st == UCS_OK) {
        st = ucp_rkey_pack(t->context, r.memh, &r.rkey_buf, &r.rkey_len);
        if (st == UCS_OK && r.rkey_len > UCX_RKEY_MAX) {
            ucp_rkey_buffer_release(r.rkey_buf);
            st = UCS_ERR_EXCEEDS_LIMIT;
        }
        if (st != UCS_OK) ucp_mem_unmap(t->context, r.memh);
    }
    pthread_mutex_unlock(&t->worker_lock);
    if (st != UCS_OK) {
        LOG_ERROR("UCX: cannot map 0x%lx+%zu: %s; UCX peers cannot reach it", (unsigned long)addr,
                  len, ucs_status_string(st));
        return;
    }
    ucx_region_t *kept = malloc(sizeof(*kept));
    pthread_mutex_lock(&t->regions_lock);
    adxl_region_t *range = kept ? adxl_region_set_find_exact(&t->regions, addr, len) : NULL;
    if (kept && !range && !(range = adxl_region_set_insert(&t->regions, addr, len, NULL))) {
        free(kept);
        kept = NULL;
    }
    if (!kept) {
        pthread_mutex_unlock(&t->regions_lock);
        pthread_mutex_lock(&t->worker_lock);
        ucp_rkey_buffer_release(r.rkey_buf);
        ucp_mem_unmap(t->context, r.memh);
        pthread_mutex_unlock(&t->worker_lock);
        LOG_ERROR("UCX: out of memory for region 0x%lx+%zu", (unsigned long)addr, len);
        return;
    }
    /* From here an initiator that asks gets the key; until then none has it, so none
     * needs telling. */
    r.stack.older = range->tag;
    *kept = r;
    range->tag = kept;
    pthread_mutex_unlock(&t->regions_lock);
}

/* Queues the withdrawal for each listed holder of r's key, whose thread sends it; false
 * when it has none. A holder whose outbox cannot grow (out of memory) loses its link, as
 * one that cannot be told must. With regions_lock held. */
static bool send_withdrawal(ucx_transport_t *t, const ucx_region_t *r, uint64_t seq) {
    uint8_t msg[UCX_REGION_DEL_SIZE];
    adxl_le_put_u64(msg, r->addr);
    adxl_le_put_u64(msg + 8, r->len);
    adxl_le_put_u64(msg + 16, seq);
    bool any = false;
    pthread_mutex_lock(&t->served.lock);
    for (ucx_inbound_t *in = first_inbound(t); in; in = next_inbound(in)) {
        if (!in->listed || !holds(r, in->id)) continue;
        any = true;
        if (put_msg(&in->outbox, &in->outbox_len, &in->outbox_cap, UCX_MSG_REGION_DEL, msg,
                    sizeof(msg), NULL, 0)) {
            adxl_wake(in->outbox_fd);
        } else {
            LOG_ERROR("UCX: out of memory to tell %s of a withdrawal; cutting its link", in->who);
            shutdown(in->fd, SHUT_RDWR);
        }
    }
    pthread_mutex_unlock(&t->served.lock);
    return any;
}

static void publish_remove(ucx_transport_t *t, uintptr_t addr, size_t len) {
    pthread_mutex_lock(&t->regions_lock);
    adxl_region_t *range = adxl_region_set_find_exact(&t->regions, addr, len);
    if (!range) {
        pthread_mutex_unlock(&t->regions_lock);
        return; /* it was never mapped (publish_add failed) */
    }
    /* Out of the set first: from now on no initiator is given this key. */
    ucx_region_t *r = ucx_stack_take_oldest(&t->regions, range);
    if (r->holder_count > 0) {
        uint64_t seq = ++t->update_seq;
        if (send_withdrawal(t, r, seq)) wait_acked(t, r, seq);
    }
    pthread_mutex_unlock(&t->regions_lock);
    pthread_mutex_lock(&t->worker_lock);
    ucp_rkey_buffer_release(r->rkey_buf);
    ucp_mem_unmap(t->context, r->memh);
    pthread_mutex_unlock(&t->worker_lock);
    free(r->holders);
    free(r);
}

void ucx_publish(adxl_transport_t *transport, const adxl_region_t *region, bool added) {
    ucx_transport_t *t = (ucx_transport_t *)transport;
    if (added)
        publish_add(t, region->addr, region->len, region->device);
    else
        publish_remove(t, region->addr, region->len);
}
