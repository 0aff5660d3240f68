/*
 * The UCX transport as an initiator: a control link to the target's UCX listener (its
 * worker address, remote keys and revocations, notifies), one UCP endpoint, and chunks
 * posted straight from the caller's thread as ucp_put_nbx/ucp_get_nbx between the
 * caller's memory (or a transit buffer) and the target's registered regions. A WRITE
 * chunk ends with an endpoint flush, so that it completes only once its bytes are at the
 * target; a READ completes when its gets have landed.
 *
 * Keys are fetched when first needed: a chunk that reaches a region whose key this link
 * lacks waits while one KEY_REQ asks for all it lacks, and is posted once the target's
 * KEY_DONE says every key it has for them has arrived (on the control link's thread).
 *
 * UCX cannot cancel one RMA operation. When a caller gives up on a request that still
 * has operations in flight on its memory, the endpoint is closed by force (UCX then
 * completes everything on it as cancelled and touches none of those buffers again) and a
 * fresh one opened; the other chunks that were in flight are posted again on it.
 */
#include "core/clock.h"
#include "core/log.h"
#include "net/sock_io.h"
#include "net/thread_util.h"
#include "transport/ucx/ucx_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* How long closing an endpoint by force or flushing it for a revocation may take. */
#define UCX_CLOSE_WAIT_MS 10000
/* How long an orderly close lets what is in flight finish before it cancels it. */
#define UCX_ORDERLY_WAIT_MS 1000
/* How long a request given up waits for its operations in flight before the endpoint is
 * reset under them. */
#define UCX_ABANDON_GRACE_MS 50

/* A caller of ucx_learn_regions: done once KEY_DONE for id came (or the link failed). */
typedef struct key_waiter {
    struct key_waiter *next;
    uint64_t id;
    bool done;
} key_waiter_t;

typedef struct ucx_remote {
    ucx_stacked_t stack; /* first: see ucx_stacked_t */
    uintptr_t addr;
    size_t len;
    void *rkey_buf; /* kept to unpack again on a fresh endpoint */
    size_t rkey_len;
    ucp_rkey_h rkey; /* NULL while no endpoint, or when UCX refused the key */
} ucx_remote_t;

struct ucx_link {
    ucx_transport_t *transport;
    adxl_peer_t *peer;
    char name[ADXL_NAME_MAX];
    int fd;
    int wake_fd;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t write_lock;
    atomic_bool failed;
    _Atomic adxl_status_t fail_status;
    atomic_bool ep_failed; /* UCX's error callback fired for the current endpoint */
    bool peer_gone;        /* the link thread saw the peer fail (only it writes this) */
    /* Under the transport's worker_lock: */
    bool closed;
    ucp_ep_h ep;
    bool target_serves_unregistered; /* AllowUnregisteredMemory there: TCP can, UCX not */
    void *remote_address;
    uint32_t remote_address_len;
    adxl_region_set_t view; /* the target's regions; each range's tag: its newest key */
    ucx_op_t inflight;      /* list sentinel */
    ucx_op_t *key_wait;     /* ops waiting for the keys they asked for */
    uint64_t next_key_id;
    /* Callers waiting in ucx_learn_regions for a KEY_DONE. */
    pthread_mutex_t keys_lock;
    pthread_cond_t keys_cond;
    struct key_waiter *key_waiters;
    /* Notifies waiting for their answer. */
    pthread_mutex_t notify_lock;
    adxl_chunk_t *notify_head;
    uint64_t next_notify_id;
    bool notify_closed;
};

static uint64_t io_deadline(const ucx_link_t *link) {
    return adxl_deadline_after_ms((int32_t)link->transport->config->peer_timeout_ms);
}

static void link_fail(ucx_link_t *link, adxl_status_t status) {
    /* The reason before the flag: whoever sees the flag reads a failure. */
    adxl_status_t none = ADXL_SUCCESS;
    atomic_compare_exchange_strong(&link->fail_status, &none, status);
    if (atomic_exchange(&link->failed, true)) return;
    adxl_wake(link->wake_fd);
    pthread_mutex_lock(&link->keys_lock);
    pthread_cond_broadcast(&link->keys_cond);
    pthread_mutex_unlock(&link->keys_lock);
    adxl_peer_link_down(link->peer);
}

static adxl_status_t link_status(ucx_link_t *link) {
    adxl_status_t st = atomic_load(&link->fail_status);
    return st != ADXL_SUCCESS ? st : ADXL_NOT_CONNECTED;
}

/* ---- The endpoint and the remote keys (worker_lock held) ---- */

static void ep_error(void *arg, ucp_ep_h ep, ucs_status_t status) {
    ucx_link_t *link = arg;
    if (ep != link->ep) return; /* one closed by a reset */
    LOG_WARN("UCX reports the endpoint to %s failed: %s", link->name, ucs_status_string(status));
    atomic_store(&link->ep_failed, true);
    adxl_wake(link->wake_fd);
}

static void unpack_key(ucx_link_t *link, ucx_remote_t *r) {
    r->rkey = NULL;
    if (!link->ep) return;
    ucs_status_t st = ucp_ep_rkey_unpack(link->ep, r->rkey_buf, &r->rkey);
    if (st != UCS_OK) {
        r->rkey = NULL;
        LOG_WARN("UCX: the key %s sent for 0x%lx+%zu does not unpack: %s", link->name,
                 (unsigned long)r->addr, r->len, ucs_status_string(st));
    }
}

static bool unpack_keys(adxl_region_t *range, void *link) {
    for (ucx_remote_t *r = range->tag; r; r = (ucx_remote_t *)r->stack.older)
        unpack_key(link, r);
    return true;
}

static bool destroy_keys(adxl_region_t *range, void *unused) {
    (void)unused;
    for (ucx_remote_t *r = range->tag; r; r = (ucx_remote_t *)r->stack.older)
        if (r->rkey) {
            ucp_rkey_destroy(r->rkey);
            r->rkey = NULL;
        }
    return true;
}

static bool free_keys(adxl_region_t *range, void *unused) {
    (void)unused;
    for (ucx_remote_t *r = range->tag, *older; r; r = older) {
        older = (ucx_remote_t *)r->stack.older;
        free(r->rkey_buf);
        free(r);
    }
    return true;
}

static ucs_status_t open_ep(ucx_link_t *link) {
    ucp_ep_params_t params = {
        .field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                      UCP_EP_PARAM_FIELD_ERR_HANDLER,
        .address = link->remote_address,
        .err_mode = UCP_ERR_HANDLING_MODE_PEER,
        .err_handler = {.cb = ep_error, .arg = link},
    };
    atomic_store(&link->ep_failed, false);
    /* Peer-failure mode is what lets a forced close cancel operations in flight (so that
     * a caller who gave up gets its memory back) and a dead peer fail them rather than
     * leave them pending for ever. Transports that cannot report a failed peer (UCX
     * 1.13's posix and sysv) make UCX refuse it: then no link, rather than one that
     * breaks those promises (UCX itself aborts the process when an endpoint with
     * operations stuck on a dead peer is destroyed). */
    ucs_status_t st = ucp_ep_create(link->transport->worker, &params, &link->ep);
    if (st != UCS_OK) {
        link->ep = NULL;
        LOG_ERROR("UCX: no endpoint to %s with peer-failure handling (%s): the transports in "
                  "UCX_TLS must include one that reports a failed peer (tcp, or an RDMA one)",
                  link->name, ucs_status_string(st));
        return UCS_ERR_UNSUPPORTED;
    }
    adxl_region_set_each(&link->view, unpack_keys, link);
    return UCS_OK;
}

/* One turn of a wait with worker_lock held: progresses the worker and, when others may
 * come in (share), drops the lock for a moment so that a wait that a peer can stretch
 * stalls no other link of this worker. */
static void wait_turn(ucx_transport_t *t, bool share) {
    ucp_worker_progress(t->worker);
    if (!share) return;
    pthread_mutex_unlock(&t->worker_lock);
    sched_yield();
    pthread_mutex_lock(&t->worker_lock);
}

/* Waits (progressing the worker) for a request of ours, then hands it back to UCX
 * (which finishes one still in progress on its own). false on time-out or failure.
 * share: see wait_turn. */
static bool wait_request(ucx_transport_t *t, void *req, int32_t ms, bool share) {
    if (!UCS_PTR_IS_PTR(req)) return !UCS_PTR_IS_ERR(req);
    uint64_t until = adxl_deadline_after_ms(ms);
    ucs_status_t st;
    while ((st = ucp_request_check_status(req)) == UCS_INPROGRESS && adxl_now_ns() < until)
        wait_turn(t, share);
    ucp_request_free(req);
    return st == UCS_OK;
}

/*
 * Closes the endpoint. By force (cancel): UCX completes everything posted on it, as
 * cancelled unless done, and touches none of those buffers again. Otherwise (an orderly
 * disconnect) what is in flight may finish first, for a moment, and the close then
 * tells the peer's side: UCX may share one connection between this endpoint and the
 * peer's endpoint back to us, which a forced close would break.
 *
 * A link being torn down (closed) lets other threads take worker_lock between turns of
 * its waits, which can last seconds: nothing posts on it any more, and ucx_abandon waits
 * for the teardown instead of resetting the endpoint under it. A reset by ucx_abandon
 * keeps the lock throughout, so that no post finds the link between two endpoints.
 */
static void close_ep(ucx_link_t *link, bool cancel) {
    ucx_transport_t *t = link->transport;
    bool share = link->closed;
    if (link->ep) {
        bool force = true;
        if (!cancel) {
            ucp_request_param_t none = {0};
            force = !wait_request(t, ucp_ep_flush_nbx(link->ep, &none), UCX_ORDERLY_WAIT_MS, share);
        }
        ucp_request_param_t p = {.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
                                 .flags = force ? UCP_EP_CLOSE_FLAG_FORCE : 0};
        void *req = ucp_ep_close_nbx(link->ep, &p);
        link->ep = NULL;
        if (!wait_request(t, req, UCX_CLOSE_WAIT_MS, share))
            LOG_ERROR("UCX: closing the endpoint to %s did not finish", link->name);
    }
    /* UCX purges the closed endpoint's requests as the worker progresses; the remote
     * keys they use go only after them. */
    uint64_t until = adxl_deadline_after_ms(UCX_CLOSE_WAIT_MS);
    while (link->inflight.next != &link->inflight && adxl_now_ns() < until)
        wait_turn(t, share);
    if (link->inflight.next != &link->inflight)
        LOG_ERROR("UCX: operations to %s outlived their endpoint", link->name);
    adxl_region_set_each(&link->view, destroy_keys, NULL);
}

/* The region holding [addr, addr + len), or NULL: the newest key of its range. */
static const ucx_remote_t *view_find(const ucx_link_t *link, uint64_t addr, uint64_t len) {
    const adxl_region_t *range =
        adxl_region_set_containing(&link->view, (uintptr_t)addr, (size_t)len);
    return range ? range->tag : NULL;
}

static bool view_add(ucx_link_t *link, uint64_t addr, uint64_t len, const uint8_t *key,
                     size_t key_len) {
    ucx_remote_t *r = malloc(sizeof(*r));
    if (!r) return false;
    *r = (ucx_remote_t){.addr = (uintptr_t)addr, .len = (size_t)len, .rkey_len = key_len};
    adxl_region_t *range = adxl_region_set_find_exact(&link->view, r->addr, r->len);
    bool ok = (range || link->view.count < ADXL_REMOTE_REGIONS_MAX) &&
              (r->rkey_buf = malloc(key_len)) != NULL &&
              (range || (range = adxl_region_set_insert(&link->view, r->addr, r->len, NULL)));
    if (!ok) {
        free(r->rkey_buf);
        free(r);
        return false;
    }
    memcpy(r->rkey_buf, key, key_len);
    unpack_key(link, r);
    r->stack.older = range->tag;
    range->tag = r;
    return true;
}

/* Takes the oldest key of the range out of the view; NULL when there is none. */
static ucx_remote_t *view_remove(ucx_link_t *link, uint64_t addr, uint64_t len) {
    adxl_region_t *range = adxl_region_set_find_exact(&link->view, (uintptr_t)addr, (size_t)len);
    return range ? ucx_stack_take_oldest(&link->view, range) : NULL;
}

/* ---- Posting ---- */

void ucx_op_finish(ucx_op_t *op) {
    op->prev->next = op->next;
    op->next->prev = op->prev;
    op->prev = op->next = NULL;
    atomic_fetch_sub(&op->link->transport->ops_in_flight, 1);
    op->done_next = op->link->transport->done_head;
    op->link->transport->done_head = op;
}

static void op_done(void *request, ucs_status_t status, void *user_data) {
    ucx_op_release_request(user_data, request, status);
}

/* Counts one UCX request of op (or its immediate result). */
static void track(ucx_op_t *op, void *req) {
    if (UCS_PTR_IS_ERR(req)) {
        if (op->status == UCS_OK) op->status = UCS_PTR_STATUS(req);
    } else if (req) {
        op->pending++;
    }
}

/* With worker_lock held. Anything but ADXL_SUCCESS: nothing was posted. */
static adxl_status_t issue_locked(ucx_op_t *op) {
    ucx_link_t *link = op->link;
    ucx_transport_t *t = link->transport;
    adxl_chunk_t *chunk = op->chunk;
    if (link->closed || !link->ep) return link_status(link);
    ucp_rkey_h rkeys[UCX_MAX_CHUNK_SEGMENTS];
    if (chunk->nsegs > sizeof(rkeys) / sizeof(rkeys[0])) return ADXL_PARAM_INVALID;
    for (uint32_t i = 0; i < chunk->nsegs; i++) {
        const adxl_segment_t *seg = &chunk->segs[i];
        /* The whole descriptor must lie in one region the target registered, however the
         * planner cut it; the piece in it. */
        const ucx_remote_t *r = view_find(link, seg->span_addr, seg->span_len);
        if (!r || seg->remote < seg->span_addr || seg->remote - seg->span_addr > seg->span_len ||
            seg->len > seg->span_len - (seg->remote - seg->span_addr)) {
            if (link->target_serves_unregistered) {
                /* One-sided access needs a key, and only registration makes one. */
                LOG_ERROR("remote range 0x%lx+%lu is not registered at %s: its "
                          "AllowUnregisteredMemory works over TCP, not over UCX",
                          (unsigned long)seg->span_addr, (unsigned long)seg->span_len, link->name);
                return ADXL_UNSUPPORTED;
            }
            LOG_ERROR("remote range 0x%lx+%lu is not memory that %s registered",
                      (unsigned long)seg->span_addr, (unsigned long)seg->span_len, link->name);
            return ADXL_PARAM_INVALID;
        }
        if (!r->rkey) return ADXL_FAILED;
        rkeys[i] = r->rkey;
    }
    /* A caller that already gave up gets nothing done; one that gives up from now on
     * finds the op in flight (ucx_abandon takes worker_lock). */
    if (chunk->user_memory) {
        if (!adxl_req_guard_enter(chunk->req)) return ADXL_TIMEOUT;
        adxl_req_guard_leave(chunk->req);
    }
    op->pending = 1;
    op->status = UCS_OK;
    op->next = &link->inflight;
    op->prev = link->inflight.prev;
    link->inflight.prev->next = op;
    link->inflight.prev = op;
    atomic_fetch_add(&t->ops_in_flight, 1);
    ucp_request_param_t p = {.op_attr_mask =
                                 UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA,
                             .cb.send = op_done,
                             .user_data = op};
    if (chunk->pool_buffer && t->pool_memh) {
        p.op_attr_mask |= UCP_OP_ATTR_FIELD_MEMH;
        p.memh = t->pool_memh;
    }
    bool write = chunk->kind == ADXL_CHUNK_WRITE;
    for (uint32_t i = 0; i < chunk->nsegs && op->status == UCS_OK; i++) {
        const adxl_segment_t *seg = &chunk->segs[i];
        track(op, write ? ucp_put_nbx(link->ep, seg->local, seg->len, seg->remote, rkeys[i], &p)
                        : ucp_get_nbx(link->ep, seg->local, seg->len, seg->remote, rkeys[i], &p));
    }
    /* A put completes locally; the flush makes the WRITE complete at the target. */
    if (write && op->status == UCS_OK) {
        p.op_attr_mask &= ~(uint32_t)UCP_OP_ATTR_FIELD_MEMH;
        track(op, ucp_ep_flush_nbx(link->ep, &p));
    }
    if (--op->pending == 0) ucx_op_finish(op);
    return ADXL_SUCCESS;
}

/* Adds [addr, +len) to a KEY_REQ being built at req unless it repeats the entry before. */
static uint32_t add_range(uint8_t *req, uint32_t n, uint64_t addr, uint64_t len) {
    uint8_t *e = req + UCX_KEY_REQ_FIXED + (size_t)n * UCX_KEY_REQ_ENTRY;
    if (n > 0 && adxl_le_get_u64(e - UCX_KEY_REQ_ENTRY) == addr &&
        adxl_le_get_u64(e - UCX_KEY_REQ_ENTRY + 8) == len)
        return n;
    adxl_le_put_u64(e, addr);
    adxl_le_put_u64(e + 8, len);
    return n + 1;
}

/* Writes the spans of chunk whose key this link lacks as KEY_REQ entries at req; how
 * many. With worker_lock held. */
static uint32_t missing_keys(ucx_link_t *link, const adxl_chunk_t *chunk, uint8_t *req) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < chunk->nsegs; i++) {
        const adxl_segment_t *seg = &chunk->segs[i];
        /* The pieces of one descriptor come one after another: one entry for them all. */
        if (!view_find(link, seg->span_addr, seg->span_len))
            n = add_range(req, n, seg->span_addr, seg->span_len);
    }
    return n;
}

static void issue(ucx_op_t *op) {
    ucx_link_t *link = op->link;
    ucx_transport_t *t = link->transport;
    uint8_t req[UCX_KEY_REQ_FIXED + UCX_KEY_REQ_MAX * UCX_KEY_REQ_ENTRY];
    uint32_t missing = 0;
    uint64_t key_id = 0;
    adxl_status_t st = ADXL_SUCCESS;
    pthread_mutex_lock(&t->worker_lock);
    if (!op->keys_asked && !link->closed && link->ep && op->chunk->nsegs <= UCX_KEY_REQ_MAX &&
        (missing = missing_keys(link, op->chunk, req)) > 0) {
        op->keys_asked = true;
        op->key_id = key_id = ++link->next_key_id;
        op->key_next = link->key_wait;
        link->key_wait = op; /* from here the link's thread or its teardown owns op */
    } else {
        st = issue_locked(op);
    }
    ucx_op_t *finished = ucx_take_finished(t); /* under the same lock: none per post */
    pthread_mutex_unlock(&t->worker_lock);
    if (missing > 0) {
        adxl_le_put_u64(req, key_id);
        adxl_le_put_u32(req + 8, missing);
        /* On failure the link goes down, and its teardown fails the waiting op. */
        if (!ucx_msg_send(link->fd, &link->write_lock, UCX_MSG_KEY_REQ, req,
                          UCX_KEY_REQ_FIXED + missing * UCX_KEY_REQ_ENTRY, link->wake_fd,
                          io_deadline(link)))
            link_fail(link, ADXL_FAILED);
    } else if (st != ADXL_SUCCESS) {
        adxl_chunk_complete(op->chunk, st);
        free(op);
    }
    ucx_complete_finished(t, finished);
}

void ucx_learn_regions(adxl_link_t *l, const adxl_transfer_op_desc_t *descs, size_t num_descs,
                       uint64_t deadline) {
    ucx_link_t *link = (ucx_link_t *)l;
    ucx_transport_t *t = link->transport;
    uint8_t req[UCX_KEY_REQ_FIXED + UCX_KEY_REQ_MAX * UCX_KEY_REQ_ENTRY];
    key_waiter_t waiter = {0};
    size_t next = 0;
    /* One KEY_REQ per UCX_KEY_REQ_MAX unknown ranges, sent in order from this thread, so
     * the answer to the last one comes after every other's. */
    while (next < num_descs && !atomic_load(&link->failed)) {
        uint32_t count = 0;
        pthread_mutex_lock(&t->worker_lock);
        for (; next < num_descs && count < UCX_KEY_REQ_MAX; next++) {
            const adxl_transfer_op_desc_t *d = &descs[next];
            if (d->len > 0 && !view_find(link, d->remote_addr, d->len))
                count = add_range(req, count, d->remote_addr, d->len);
        }
        uint64_t id = count > 0 ? ++link->next_key_id : 0;
        pthread_mutex_unlock(&t->worker_lock);
        if (count == 0) break;
        adxl_le_put_u64(req, id);
        adxl_le_put_u32(req + 8, count);
        pthread_mutex_lock(&link->keys_lock);
        if (!waiter.id) {
            waiter.next = link->key_waiters;
            link->key_waiters = &waiter;
        }
        waiter.id = id;
        pthread_mutex_unlock(&link->keys_lock);
        if (!ucx_msg_send(link->fd, &link->write_lock, UCX_MSG_KEY_REQ, req,
                          UCX_KEY_REQ_FIXED + count * UCX_KEY_REQ_ENTRY, link->wake_fd,
                          io_deadline(link)))
            link_fail(link, ADXL_FAILED);
    }
    if (!waiter.id) return;
    /* A target that does not answer holds the caller no longer than the peer time-out;
     * the batch is then planned with what is known, and its chunks ask again. */
    uint64_t until = io_deadline(link);
    if (deadline < until) until = deadline;
    struct timespec ts = adxl_deadline_timespec(until);
    pthread_mutex_lock(&link->keys_lock);
    while (!waiter.done && !atomic_load(&link->failed) &&
           pthread_cond_timedwait(&link->keys_cond, &link->keys_lock, &ts) != ETIMEDOUT) {
    }
    for (key_waiter_t **w = &link->key_waiters; *w; w = &(*w)->next)
        if (*w == &waiter) {
            *w = waiter.next;
            break;
        }
    pthread_mutex_unlock(&link->keys_lock);
}

void ucx_repost(ucx_op_t *op) {
    op->resubmit = false;
    op->override = ADXL_SUCCESS;
    issue(op);
}

static void post_notify(ucx_link_t *link, adxl_chunk_t *chunk) {
    size_t len = UCX_NOTIFY_FIXED + chunk->notify_name_len + chunk->notify_msg_len;
    uint8_t *msg = malloc(len);
    if (!msg) {
        adxl_chunk_complete(chunk, ADXL_RESOURCE_EXHAUSTED);
        return;
    }
    pthread_mutex_lock(&link->notify_lock);
    bool closed = link->notify_closed;
    if (!closed) {
        chunk->transport_tag = ++link->next_notify_id;
        chunk->next = link->notify_head;
        link->notify_head = chunk;
    }
    pthread_mutex_unlock(&link->notify_lock);
    if (closed) {
        free(msg);
        adxl_chunk_complete(chunk, link_status(link));
        return;
    }
    adxl_le_put_u64(msg, chunk->transport_tag);
    adxl_le_put_u32(msg + 8, chunk->notify_name_len);
    adxl_le_put_u32(msg + 12, chunk->notify_msg_len);
    memcpy(msg + 16, chunk->notify_name, chunk->notify_name_len);
    memcpy(msg + 16 + chunk->notify_name_len, chunk->notify_msg, chunk->notify_msg_len);
    /* On failure the link goes down, and its teardown fails the waiting notify. */
    if (!ucx_msg_send(link->fd, &link->write_lock, UCX_MSG_NOTIFY, msg, (uint32_t)len,
                      link->wake_fd, io_deadline(link)))
        link_fail(link, ADXL_FAILED);
    free(msg);
}

void ucx_post(adxl_link_t *l, adxl_chunk_t *chunk) {
    ucx_link_t *link = (ucx_link_t *)l;
    if (chunk->kind == ADXL_CHUNK_NOTIFY) {
        post_notify(link, chunk);
        return;
    }
    ucx_op_t *op = calloc(1, sizeof(*op));
    if (!op) {
        adxl_chunk_complete(chunk, ADXL_RESOURCE_EXHAUSTED);
        return;
    }
    op->link = link;
    op->chunk = chunk;
    issue(op);
}

/* Whether an op in flight on the link works on req's own memory. With worker_lock held. */
static bool holds_memory_of(const ucx_link_t *link, const struct adxl_transfer_req *req) {
    for (const ucx_op_t *op = link->inflight.next; op != &link->inflight; op = op->next)
        if (op->chunk->req == req && op->chunk->user_memory) return true;
    return false;
}

void ucx_abandon(adxl_link_t *l, struct adxl_transfer_req *req) {
    ucx_link_t *link = (ucx_link_t *)l;
    ucx_transport_t *t = link->transport;
    pthread_mutex_lock(&t->worker_lock);
    /* A live peer finishes what is in flight within moments: a short wait spares the
     * reset, which makes every other operation of the link go out again (and UCX 1.13
     * can lose a fresh endpoint's wire-up to the removal of the old one). A link being
     * torn down cancels everything itself: wait for that (bounded by its own waits). */
    uint64_t grace = adxl_deadline_after_ms(UCX_ABANDON_GRACE_MS);
    while (holds_memory_of(link, req) && (link->closed || adxl_now_ns() < grace))
        wait_turn(t, true);
    if (!holds_memory_of(link, req) || !link->ep) {
        ucx_op_t *finished = ucx_take_finished(t);
        pthread_mutex_unlock(&t->worker_lock);
        ucx_complete_finished(t, finished);
        return;
    }
    LOG_INFO("UCX: a request to %s was given up with operations in flight; resetting the "
             "endpoint",
             link->name);
    for (ucx_op_t *op = link->inflight.next; op != &link->inflight; op = op->next) {
        if (op->chunk->req == req)
            op->override = ADXL_TIMEOUT;
        else
            op->resubmit = true;
    }
    close_ep(link, true);
    ucs_status_t st = link->closed ? UCS_ERR_CANCELED : open_ep(link);
    pthread_mutex_unlock(&t->worker_lock);
    if (st != UCS_OK && !link->closed) {
        LOG_ERROR("UCX: cannot reopen the endpoint to %s: %s", link->name, ucs_status_string(st));
        link_fail(link, ADXL_FAILED);
    }
    ucx_run_finished(t);
}

void ucx_poll(adxl_link_t *l) {
    ucx_transport_t *t = ((ucx_link_t *)l)->transport;
    /* Never wait for the lock: its holder is progressing the worker already. */
    if (pthread_mutex_trylock(&t->worker_lock) != 0) return;
    ucp_worker_progress(t->worker);
    ucx_op_t *finished = ucx_take_finished(t);
    pthread_mutex_unlock(&t->worker_lock);
    ucx_complete_finished(t, finished);
}

/* ---- The control link ---- */

static void on_notify_ack(ucx_link_t *link, const uint8_t *p) {
    uint64_t id = adxl_le_get_u64(p);
    adxl_chunk_t *found = NULL;
    pthread_mutex_lock(&link->notify_lock);
    for (adxl_chunk_t **c = &link->notify_head; *c; c = &(*c)->next)
        if ((*c)->transport_tag == id) {
            found = *c;
            *c = found->next;
            break;
        }
    pthread_mutex_unlock(&link->notify_lock);
    if (found)
        adxl_chunk_complete(found, adxl_status_from_wire(adxl_le_get_u32(p + 8)));
    else
        LOG_WARN("UCX: %s answered a notify that was not sent", link->name);
}

/* Takes a key the link asked for into the view. */
static bool on_region_add(ucx_link_t *link, const uint8_t *p, uint32_t length) {
    uint64_t addr = adxl_le_get_u64(p), len = adxl_le_get_u64(p + 8);
    ucx_transport_t *t = link->transport;
    pthread_mutex_lock(&t->worker_lock);
    bool ok = view_add(link, addr, len, p + UCX_REGION_ADD_FIXED, length - UCX_REGION_ADD_FIXED);
    pthread_mutex_unlock(&t->worker_lock);
    if (ok) adxl_remote_regions_add(adxl_peer_regions(link->peer), (uintptr_t)addr, (size_t)len);
    return ok;
}

/* Forgets the region, waits until nothing posted before can still touch it, answers. */
static bool on_region_del(ucx_link_t *link, const uint8_t *p) {
    uint64_t addr = adxl_le_get_u64(p), len = adxl_le_get_u64(p + 8);
    ucx_transport_t *t = link->transport;
    adxl_remote_regions_remove(adxl_peer_regions(link->peer), (uintptr_t)addr, (size_t)len);
    pthread_mutex_lock(&t->worker_lock);
    ucx_remote_t *gone = view_remove(link, addr, len);
    bool flushed = true;
    if (link->ep) {
        ucp_request_param_t none = {0};
        flushed = wait_request(t, ucp_ep_flush_nbx(link->ep, &none),
                               (int32_t)t->config->peer_timeout_ms, false);
    }
    if (gone && gone->rkey && flushed) ucp_rkey_destroy(gone->rkey);
    pthread_mutex_unlock(&t->worker_lock);
    if (gone) free(gone->rkey_buf);
    free(gone);
    ucx_run_finished(t);
    if (!flushed) {
        LOG_ERROR("UCX: operations to %s did not drain for a revocation", link->name);
        return false;
    }
    return ucx_msg_send(link->fd, &link->write_lock, UCX_MSG_REGION_ACK, p + 16,
                        UCX_REGION_ACK_SIZE, link->wake_fd, io_deadline(link));
}

/* The target sent every key it has for request id: the ops that waited for it go out
 * (one whose key is still missing fails as a transfer to memory not registered there). */
static void on_keys_done(ucx_link_t *link, const uint8_t *p) {
    uint64_t id = adxl_le_get_u64(p);
    ucx_transport_t *t = link->transport;
    pthread_mutex_lock(&link->keys_lock);
    for (key_waiter_t *w = link->key_waiters; w; w = w->next)
        if (w->id == id) {
            w->done = true;
            pthread_cond_broadcast(&link->keys_cond);
        }
    pthread_mutex_unlock(&link->keys_lock);
    ucx_op_t *ready = NULL;
    pthread_mutex_lock(&t->worker_lock);
    for (ucx_op_t **w = &link->key_wait; *w;) {
        ucx_op_t *op = *w;
        if (op->key_id == id) {
            *w = op->key_next;
            op->key_next = ready;
            ready = op;
        } else {
            w = &op->key_next;
        }
    }
    pthread_mutex_unlock(&t->worker_lock);
    if (!ready) return;
    while (ready) {
        ucx_op_t *next = ready->key_next;
        issue(ready);
        ready = next;
    }
    /* Posted from this thread, not a caller's: no caller is progressing the worker for
     * them (it may sleep already), and the progress thread, idle when it last looked,
     * must start its ticks, or an operation UCX holds back (an endpoint still wiring up)
     * would wait for an event that never comes. */
    adxl_wake(t->wake_fd);
}

static bool dispatch(ucx_link_t *link, const ucx_msg_header_t *h, const uint8_t *p) {
    switch (h->type) {
    case UCX_MSG_REGION_ADD:
        return on_region_add(link, p, h->length);
    case UCX_MSG_REGION_DEL:
        return on_region_del(link, p);
    case UCX_MSG_NOTIFY_ACK:
        on_notify_ack(link, p);
        return true;
    case UCX_MSG_KEY_DONE:
        on_keys_done(link, p);
        return true;
    default:
        LOG_WARN("UCX: %s sent message type %u on a set-up link", link->name, h->type);
        return false;
    }
}

/* The end of a link: everything in flight completes with the link's status. */
static void teardown(ucx_link_t *link) {
    ucx_transport_t *t = link->transport;
    adxl_status_t st = link_status(link);
    pthread_mutex_lock(&t->worker_lock);
    link->closed = true;
    for (ucx_op_t *op = link->inflight.next; op != &link->inflight; op = op->next)
        op->override = st;
    ucx_op_t *waiting_keys = link->key_wait;
    link->key_wait = NULL;
    /* A peer that is gone gets no orderly close. Otherwise (disconnect, finalize) the
     * close is orderly when what is in flight finishes within a moment: a forced close
     * makes the peer's UCX see a failed endpoint, and UCX 1.13 over TCP can abort the
     * peer's process on that path (a wire-up reply purged from the failed endpoint). */
    close_ep(link, link->peer_gone);
    pthread_mutex_unlock(&t->worker_lock);
    while (waiting_keys) {
        ucx_op_t *next = waiting_keys->key_next;
        adxl_chunk_complete(waiting_keys->chunk, st);
        free(waiting_keys);
        waiting_keys = next;
    }
    ucx_run_finished(t);
    pthread_mutex_lock(&link->notify_lock);
    link->notify_closed = true;
    adxl_chunk_t *waiting = link->notify_head;
    link->notify_head = NULL;
    pthread_mutex_unlock(&link->notify_lock);
    while (waiting) {
        adxl_chunk_t *next = waiting->next;
        adxl_chunk_complete(waiting, st);
        waiting = next;
    }
}

static void *link_main(void *arg) {
    ucx_link_t *link = arg;
    uint8_t *buf = malloc(UCX_MSG_MAX);
    if (!buf) link_fail(link, ADXL_RESOURCE_EXHAUSTED);
    while (!atomic_load(&link->failed)) {
        struct pollfd pfd[2] = {{.fd = link->fd, .events = POLLIN},
                                {.fd = link->wake_fd, .events = POLLIN}};
        int rc = poll(pfd, 2, -1);
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) {
            link_fail(link, ADXL_FAILED);
            break;
        }
        if (pfd[1].revents & POLLIN) adxl_wake_drain(link->wake_fd);
        if (atomic_load(&link->ep_failed)) {
            link->peer_gone = true;
            link_fail(link, ADXL_FAILED);
            break;
        }
        if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ucx_msg_header_t h;
        if (!ucx_msg_recv(link->fd, &h, buf, link->wake_fd, io_deadline(link), false) ||
            !dispatch(link, &h, buf)) {
            if (!atomic_load(&link->failed)) {
                LOG_WARN("UCX: the control link to %s ended", link->name);
                link->peer_gone = true;
            }
            link_fail(link, ADXL_FAILED);
        }
    }
    free(buf);
    teardown(link);
    return NULL;
}

/* ---- Set-up ---- */

static adxl_status_t handshake(ucx_link_t *link, uint8_t *buf, uint64_t deadline) {
    const adxl_auth_secret_t *secret = &link->transport->config->auth;
    uint8_t hello[UCX_HELLO_SIZE];
    adxl_le_put_u32(hello, UCX_WIRE_VERSION);
    if (!adxl_auth_nonce(hello + 4)) return ADXL_FAILED;
    ucx_msg_header_t h;
    if (!ucx_msg_send(link->fd, NULL, UCX_MSG_HELLO, hello, sizeof(hello), -1, deadline) ||
        !ucx_msg_recv(link->fd, &h, buf, -1, deadline, false) || h.type != UCX_MSG_HELLO_ACK)
        return adxl_now_ns() >= deadline ? ADXL_TIMEOUT : ADXL_FAILED;
    adxl_status_t st = adxl_status_from_wire(adxl_le_get_u32(buf));
    uint32_t flags = adxl_le_get_u32(buf + 4);
    bool target_auth = flags & UCX_FLAG_AUTH;
    link->target_serves_unregistered = flags & UCX_FLAG_UNREGISTERED;
    const uint8_t *target_nonce = buf + 8, *target_proof = buf + 8 + ADXL_AUTH_NONCE_BYTES;
    if (st != ADXL_SUCCESS) return st;
    if (target_auth != (secret->len > 0)) {
        LOG_ERROR("UCX: %s %s an AuthSecret and this engine %s", link->name,
                  target_auth ? "has" : "has no", secret->len > 0 ? "has one" : "has none");
        return ADXL_FAILED;
    }
    uint8_t proof[UCX_AUTH_SIZE] = {0};
    if (target_auth) {
        if (!adxl_auth_check(secret, ADXL_AUTH_TARGET, hello + 4, target_nonce, target_proof)) {
            LOG_ERROR("UCX: %s does not prove the shared secret", link->name);
            return ADXL_FAILED;
        }
        if (!adxl_auth_proof(secret, ADXL_AUTH_INITIATOR, hello + 4, target_nonce, proof))
            return ADXL_FAILED;
    }
    if (!ucx_msg_send(link->fd, NULL, UCX_MSG_AUTH, proof, sizeof(proof), -1, deadline) ||
        !ucx_msg_recv(link->fd, &h, buf, -1, deadline, false) || h.type != UCX_MSG_WELCOME)
        return adxl_now_ns() >= deadline ? ADXL_TIMEOUT : ADXL_FAILED;
    link->remote_address = malloc(h.length);
    if (!link->remote_address) return ADXL_RESOURCE_EXHAUSTED;
    memcpy(link->remote_address, buf, h.length);
    link->remote_address_len = h.length;
    ucx_transport_t *t = link->transport;
    pthread_mutex_lock(&t->worker_lock);
    ucs_status_t ust = open_ep(link);
    /* Connect returns with the endpoint wired up (the flush completes once it is): a
     * link dropped while UCX's wire-up is still under way can trip an assertion inside
     * UCX 1.13 (a pending wire-up reply purged from a failed TCP endpoint). */
    if (ust == UCS_OK) {
        ucp_request_param_t none = {0};
        int32_t left = adxl_poll_timeout_ms(deadline);
        if (!wait_request(t, ucp_ep_flush_nbx(link->ep, &none), left < 0 ? INT32_MAX : left, false))
            ust = UCS_ERR_TIMED_OUT;
    }
    pthread_mutex_unlock(&t->worker_lock);
    if (ust != UCS_OK) {
        LOG_ERROR("UCX: cannot reach %s: %s", link->name, ucs_status_string(ust));
        return ucx_status(ust) == ADXL_FAILED ? ADXL_NOT_CONNECTED : ucx_status(ust);
    }
    /* No keys at set-up: each is asked for when a transfer first needs it. */
    if (!ucx_msg_recv(link->fd, &h, buf, -1, deadline, false))
        return adxl_now_ns() >= deadline ? ADXL_TIMEOUT : ADXL_FAILED;
    return h.type == UCX_MSG_READY ? ADXL_SUCCESS : ADXL_FAILED;
}

adxl_status_t ucx_connect(adxl_transport_t *transport, adxl_peer_t *peer, const char *remote_name,
                          const adxl_engine_addr_t *remote, const adxl_host_facts_t *remote_facts,
                          uint64_t deadline, adxl_link_t **out) {
    ucx_transport_t *t = (ucx_transport_t *)transport;
    uint16_t port = 0;
    bool rdma = false;
    if (!remote_facts || !ucx_offer_decode(remote_facts, &port, &rdma)) {
        LOG_ERROR("connect to %s: that engine runs no UCX transport", remote_name);
        return ADXL_UNSUPPORTED;
    }
    ucx_link_t *link = calloc(1, sizeof(*link));
    if (!link) return ADXL_RESOURCE_EXHAUSTED;
    link->transport = t;
    link->peer = peer;
    snprintf(link->name, sizeof(link->name), "%s", remote_name);
    link->fd = -1;
    link->wake_fd = adxl_wake_fd_new();
    link->inflight.next = link->inflight.prev = &link->inflight;
    pthread_mutex_init(&link->write_lock, NULL);
    pthread_mutex_init(&link->notify_lock, NULL);
    pthread_mutex_init(&link->keys_lock, NULL);
    adxl_cond_init_monotonic(&link->keys_cond);
    atomic_init(&link->failed, false);
    atomic_init(&link->fail_status, ADXL_SUCCESS);
    atomic_init(&link->ep_failed, false);

    adxl_engine_addr_t addr = *remote;
    if (addr.addr.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&addr.addr)->sin6_port = htons(port);
    else
        ((struct sockaddr_in *)&addr.addr)->sin_port = htons(port);
    adxl_status_t st = link->wake_fd >= 0 ? adxl_sock_connect(&addr, 0, deadline, &link->fd)
                                          : ADXL_RESOURCE_EXHAUSTED;
    uint8_t *buf = st == ADXL_SUCCESS ? malloc(UCX_MSG_MAX) : NULL;
    if (st == ADXL_SUCCESS) st = buf ? handshake(link, buf, deadline) : ADXL_RESOURCE_EXHAUSTED;
    free(buf);
    if (st == ADXL_SUCCESS) {
        link->thread_started = adxl_thread_start(&link->thread, link_main, link);
        if (!link->thread_started) st = ADXL_RESOURCE_EXHAUSTED;
    }
    if (st != ADXL_SUCCESS) {
        LOG_ERROR("connect to %s over UCX: %s", remote_name, adxl_status_str(st));
        atomic_store(&link->fail_status, st);
        atomic_store(&link->failed, true);
        teardown(link);
        ucx_destroy((adxl_link_t *)link);
        return st;
    }
    LOG_INFO("linked to %s over UCX", remote_name);
    *out = (adxl_link_t *)link;
    return ADXL_SUCCESS;
}

void ucx_shutdown(adxl_link_t *l, adxl_status_t status) {
    ucx_link_t *link = (ucx_link_t *)l;
    link_fail(link, status);
    if (link->thread_started) {
        pthread_join(link->thread, NULL);
        link->thread_started = false;
    }
}

void ucx_destroy(adxl_link_t *l) {
    ucx_link_t *link = (ucx_link_t *)l;
    adxl_region_set_each(&link->view, free_keys, NULL);
    adxl_region_set_free(&link->view);
    free(link->remote_address);
    if (link->fd >= 0) close(link->fd);
    if (link->wake_fd >= 0) close(link->wake_fd);
    pthread_mutex_destroy(&link->write_lock);
    pthread_mutex_destroy(&link->notify_lock);
    pthread_mutex_destroy(&link->keys_lock);
    pthread_cond_destroy(&link->keys_cond);
    free(link);
}
