#include "core/planner.h"

#include "core/engine.h"
#include "core/log.h"
#include "core/peer.h"

#include <stdlib.h>
#include <string.h>

/* A chunk with room for max_segs segments, sized to what it will carry: a one-item
 * transfer must not pay for a 4096-segment table. */
static adxl_chunk_t *chunk_alloc(adxl_req_t *req, adxl_chunk_kind_t kind, uint32_t max_segs,
                                 bool with_scatter) {
    bool with_ctx = with_scatter && req->desc_ctx;
    size_t size = sizeof(adxl_chunk_t) + (size_t)max_segs * sizeof(adxl_segment_t) +
                  (with_scatter ? (size_t)max_segs * sizeof(uint8_t *) : 0) +
                  (with_ctx ? (size_t)max_segs * sizeof(void *) : 0);
    adxl_chunk_t *chunk = malloc(size);
    if (!chunk) return NULL;
    memset(chunk, 0, sizeof(*chunk));
    chunk->req = req;
    chunk->kind = kind;
    chunk->segs = (adxl_segment_t *)(chunk + 1);
    if (with_scatter) chunk->scatter = (uint8_t **)(chunk->segs + max_segs);
    if (with_ctx) chunk->scatter_ctx = (void **)(chunk->scatter + max_segs);
    return chunk;
}

/* Each posted chunk holds a pending unit and a reference of its request. */
static void post_chunk(adxl_req_t *req, adxl_chunk_t *chunk) {
    atomic_fetch_add(&req->pending, 1);
    atomic_fetch_add(&req->refs, 1);
    adxl_peer_post(req->peer, chunk);
}

static adxl_chunk_kind_t kind_of(adxl_transfer_op_t op) {
    return op == ADXL_READ ? ADXL_CHUNK_READ : ADXL_CHUNK_WRITE;
}

/* Direct mode: the chunks point straight at the caller's memory. */
static adxl_status_t plan_direct(adxl_req_t *req, const adxl_transfer_op_desc_t *descs,
                                 size_t num_descs, uint32_t max_segs, void *local_ctx) {
    adxl_chunk_t *chunk = NULL;
    uint32_t cap = 0;
    for (size_t i = 0; i < num_descs; i++) {
        for (uint64_t off = 0; off < descs[i].len;) {
            if (!chunk) {
                /* A chunk holds at most one piece of each remaining descriptor. */
                size_t left = num_descs - i;
                cap = left < max_segs ? (uint32_t)left : max_segs;
                chunk = chunk_alloc(req, kind_of(req->op), cap, false);
                if (!chunk) return ADXL_RESOURCE_EXHAUSTED;
                chunk->user_memory = true;
                chunk->local_ctx = local_ctx;
            }
            uint64_t len = descs[i].len - off;
            if (len > ADXL_DIRECT_CHUNK_BYTES - chunk->bytes)
                len = ADXL_DIRECT_CHUNK_BYTES - chunk->bytes;
            chunk->segs[chunk->nsegs++] = (adxl_segment_t){
                .local = (uint8_t *)descs[i].local_addr + off,
                .remote = descs[i].remote_addr + off,
                .len = len,
                .span_addr = descs[i].remote_addr,
                .span_len = descs[i].len,
            };
            chunk->bytes += len;
            off += len;
            if (chunk->nsegs == cap || chunk->bytes == ADXL_DIRECT_CHUNK_BYTES) {
                post_chunk(req, chunk);
                chunk = NULL;
            }
        }
    }
    if (chunk) post_chunk(req, chunk);
    return ADXL_SUCCESS;
}

/*
 * Fills one transit buffer from the request's cursor: WRITE copies the caller's data in
 * now (off the device through its runtime, for device memory), READ remembers where each
 * piece goes. Called with the request's guard held. *copy_status: a failed device copy.
 */
static adxl_chunk_t *pack_buffer(adxl_req_t *req, uint8_t *buffer, size_t buffer_size,
                                 uint32_t max_segs, adxl_status_t *copy_status) {
    size_t left = req->num_descs - req->next_desc;
    if (left < max_segs) max_segs = (uint32_t)left;
    adxl_chunk_t *chunk = chunk_alloc(req, kind_of(req->op), max_segs, req->op == ADXL_READ);
    if (!chunk) return NULL;
    chunk->pool_buffer = buffer;
    chunk->pool_bytes = buffer_size;
    while (req->next_desc < req->num_descs && chunk->nsegs < max_segs &&
           chunk->bytes < buffer_size) {
        const adxl_transfer_op_desc_t *d = &req->descs[req->next_desc];
        uint64_t len = d->len - req->next_offset;
        if (len > buffer_size - chunk->bytes) len = buffer_size - chunk->bytes;
        uint8_t *user = (uint8_t *)d->local_addr + req->next_offset;
        uint8_t *staged = buffer + chunk->bytes;
        void *ctx = req->desc_ctx ? req->desc_ctx[req->next_desc] : NULL;
        if (req->op == ADXL_READ) {
            chunk->scatter[chunk->nsegs] = user;
            if (chunk->scatter_ctx) chunk->scatter_ctx[chunk->nsegs] = ctx;
        } else if (!ctx) {
            memcpy(staged, user, len);
        } else {
            *copy_status =
                adxl_device_copy(req->engine->device, ctx, staged, user, len, ADXL_COPY_D2H);
            if (*copy_status != ADXL_SUCCESS) break;
        }
        if (ctx) atomic_fetch_add(&req->engine->stats.bytes_device_staged, len);
        chunk->segs[chunk->nsegs++] = (adxl_segment_t){.local = staged,
                                                       .remote = d->remote_addr + req->next_offset,
                                                       .len = len,
                                                       .span_addr = d->remote_addr,
                                                       .span_len = d->len};
        chunk->bytes += len;
        req->bytes_left -= len;
        req->next_offset += len;
        if (req->next_offset == d->len) {
            req->next_desc++;
            req->next_offset = 0;
        }
    }
    return chunk;
}

/* Drops the planner's hold once: nothing more will be cut from this request. */
static void planner_finish(adxl_req_t *req) {
    req->next_desc = req->num_descs; /* under guard: marks the hold as dropped */
    free(req->descs);
    req->descs = NULL;
    req->desc_ctx = NULL;
}

/*
 * Cuts as many buffered chunks as free transit buffers allow. Returns with the request
 * either finished planning or queued for the next free buffer.
 */
static void pump(adxl_req_t *req) {
    adxl_engine_t *engine = req->engine;
    uint32_t max_segs = adxl_peer_max_segments(req->peer);
    bool drop_hold = false, queued = false;
    pthread_mutex_lock(&req->guard);
    /* A request that already failed (its link died, say) stops cutting chunks. */
    while (req->descs && !req->cancelled && req->next_desc < req->num_descs &&
           atomic_load(&req->first_error) == ADXL_SUCCESS) {
        size_t size = 0;
        size_t want = req->bytes_left < ADXL_BUFFERED_CHUNK_BYTES ? (size_t)req->bytes_left
                                                                  : ADXL_BUFFERED_CHUNK_BYTES;
        uint8_t *buffer = adxl_engine_acquire_transit(engine, req, want, &size);
        if (!buffer) {
            queued = true; /* a chunk completion will pump us again */
            break;
        }
        adxl_status_t copied = ADXL_SUCCESS;
        adxl_chunk_t *chunk = pack_buffer(req, buffer, size, max_segs, &copied);
        if (!chunk || copied != ADXL_SUCCESS) {
            free(chunk);
            adxl_engine_release_transit(engine, buffer, size, false);
            adxl_req_record_error(req, chunk ? ADXL_FAILED : ADXL_RESOURCE_EXHAUSTED);
            req->cancelled = true;
            break;
        }
        /* Posting may complete the chunk at once, which takes the guard for READ. */
        pthread_mutex_unlock(&req->guard);
        post_chunk(req, chunk);
        pthread_mutex_lock(&req->guard);
    }
    if (req->descs && !queued) {
        planner_finish(req);
        drop_hold = true;
    }
    pthread_mutex_unlock(&req->guard);
    if (drop_hold) adxl_req_pending_done(req, ADXL_SUCCESS);
}

void adxl_planner_pump_waiter(adxl_req_t *req) {
    pump(req);
    adxl_req_release(req); /* the queue's reference */
}

void adxl_planner_forget(adxl_req_t *req) {
    if (!adxl_engine_unqueue_transit(req->engine, req)) return;
    /* It was waiting for a buffer: nobody else will pump it, so drop the hold here. */
    pthread_mutex_lock(&req->guard);
    bool drop_hold = req->descs != NULL;
    if (drop_hold) planner_finish(req);
    pthread_mutex_unlock(&req->guard);
    if (drop_hold) adxl_req_pending_done(req, ADXL_SUCCESS);
    adxl_req_release(req); /* the queue's reference */
}

/* How a batch is carried. */
typedef struct {
    bool buffered;  /* ADXL's mode: through the transit pool */
    void **dev_ctx; /* local device memory: each descriptor's context (NULL: host), else NULL */
} batch_plan_t;

/*
 * ADXL's rule: with the pool on, any small or unregistered piece makes it buffered; a
 * buffered batch must be of one memory type (the seed's rule). Local device memory is
 * carried through host staging memory in either mode. One registry lookup a descriptor
 * answers both "registered?" and "device memory?"; the context table is made only for a
 * batch that has device memory.
 */
static adxl_status_t plan_batch(adxl_engine_t *engine, adxl_peer_t *peer,
                                const adxl_transfer_op_desc_t *descs, size_t num_descs,
                                batch_plan_t *plan) {
    bool pool_on = adxl_config_pool_enabled(&engine->config);
    bool any_small = false, all_registered = true;
    adxl_status_t st = ADXL_SUCCESS;
    void **ctx = NULL; /* each descriptor's device context, NULL for host memory */
    adxl_registry_pin(&engine->registry);
    for (size_t i = 0; i < num_descs && st == ADXL_SUCCESS; i++) {
        if (descs[i].len < ADXL_BUFFERED_THRESHOLD) any_small = true;
        const adxl_region_t *r = adxl_region_set_containing(&engine->registry.regions,
                                                            descs[i].local_addr, descs[i].len);
        if (!r) {
            all_registered = false;
            if (!pool_on)
                st = PARAM_INVALID("descriptor %zu: local memory 0x%lx+%zu is not registered and "
                                   "the transit pool is off",
                                   i, (unsigned long)descs[i].local_addr, descs[i].len);
        } else if (r->device) {
            if (!ctx && !(ctx = calloc(num_descs, sizeof(void *))))
                st = ADXL_RESOURCE_EXHAUSTED;
            else
                ctx[i] = r->device_ctx;
        }
    }
    adxl_registry_unpin(&engine->registry);
    plan->buffered =
        pool_on && (any_small || !all_registered ||
                    !adxl_remote_regions_contain_all(adxl_peer_regions(peer), descs, num_descs));
    for (size_t i = 1; st == ADXL_SUCCESS && ctx && plan->buffered && i < num_descs; i++)
        if ((ctx[i] != NULL) != (ctx[0] != NULL))
            st = PARAM_INVALID("a buffered batch must be all host or all device memory: "
                               "descriptor %zu is %s memory, descriptor 0 %s",
                               i, ctx[i] ? "device" : "host", ctx[0] ? "device" : "host");
    if (st != ADXL_SUCCESS) {
        free(ctx);
        ctx = NULL;
    }
    plan->dev_ctx = ctx;
    return st;
}

/* The one context every descriptor is in, or NULL (host memory, or several contexts). */
static void *one_context(void *const *ctx, size_t n) {
    for (size_t i = 1; i < n; i++)
        if (ctx[i] != ctx[0]) return NULL;
    return ctx[0];
}

/* Cuts the batch through transit memory as buffers come free (planner_finish frees the
 * copy of the batch). */
static adxl_status_t submit_staged(adxl_req_t *req, const adxl_transfer_op_desc_t *descs,
                                   size_t num_descs, void **dev_ctx) {
    size_t bytes = num_descs * sizeof(*descs) + (dev_ctx ? num_descs * sizeof(void *) : 0);
    req->descs = malloc(bytes);
    if (!req->descs) return ADXL_RESOURCE_EXHAUSTED;
    memcpy(req->descs, descs, num_descs * sizeof(*descs));
    if (dev_ctx) {
        req->desc_ctx = (void **)(req->descs + num_descs);
        memcpy(req->desc_ctx, dev_ctx, num_descs * sizeof(void *));
    }
    req->num_descs = num_descs;
    for (size_t i = 0; i < num_descs; i++)
        req->bytes_left += descs[i].len;
    return ADXL_SUCCESS;
}

adxl_status_t adxl_planner_submit(adxl_engine_t *engine, adxl_peer_t *peer, adxl_transfer_op_t op,
                                  const adxl_transfer_op_desc_t *descs, size_t num_descs,
                                  uint64_t deadline, adxl_req_t **out) {
    adxl_peer_learn_regions(peer, descs, num_descs, deadline);
    batch_plan_t plan;
    adxl_status_t st = plan_batch(engine, peer, descs, num_descs, &plan);
    if (st != ADXL_SUCCESS) return st;
    adxl_req_t *req = adxl_req_new(engine, peer, op, deadline);
    if (!req) {
        free(plan.dev_ctx);
        return ADXL_RESOURCE_EXHAUSTED;
    }
    atomic_fetch_add(
        plan.buffered ? &engine->stats.batches_buffered : &engine->stats.batches_direct, 1);
    /* Device memory crosses host memory first, unless the link moves it itself (same-host
     * IPC), which it can only do for a batch in one device context. */
    void *direct_ctx = plan.dev_ctx ? one_context(plan.dev_ctx, num_descs) : NULL;
    if (direct_ctx && !adxl_peer_device_direct(peer, descs, num_descs)) direct_ctx = NULL;
    if (direct_ctx) {
        free(plan.dev_ctx);
        st = plan_direct(req, descs, num_descs, adxl_peer_max_segments(peer), direct_ctx);
        adxl_req_pending_done(req, st);
        *out = req;
        return ADXL_SUCCESS;
    }
    bool staged = plan.dev_ctx || (plan.buffered && !adxl_peer_buffered_in_place(peer));
    if (staged) {
        st = submit_staged(req, descs, num_descs, plan.dev_ctx);
        free(plan.dev_ctx);
        if (st != ADXL_SUCCESS) {
            adxl_req_pending_done(req, st);
            adxl_req_release(req);
            return st;
        }
        *out = req;
        pump(req);
        return ADXL_SUCCESS;
    }
    st = plan_direct(req, descs, num_descs, adxl_peer_max_segments(peer), NULL);
    adxl_req_pending_done(req, st); /* the planner's hold */
    *out = req;
    return ADXL_SUCCESS;
}

adxl_status_t adxl_planner_submit_notify(adxl_engine_t *engine, adxl_peer_t *peer, const char *name,
                                         size_t name_len, const char *msg, size_t msg_len,
                                         uint64_t deadline, adxl_req_t **out) {
    adxl_req_t *req = adxl_req_new(engine, peer, ADXL_WRITE, deadline);
    adxl_chunk_t *chunk = req ? calloc(1, sizeof(*chunk) + name_len + msg_len + 2) : NULL;
    if (!chunk) {
        if (req) {
            adxl_req_pending_done(req, ADXL_SUCCESS);
            adxl_req_release(req);
        }
        return ADXL_RESOURCE_EXHAUSTED;
    }
    chunk->req = req;
    chunk->kind = ADXL_CHUNK_NOTIFY;
    chunk->notify_name = (char *)(chunk + 1);
    chunk->notify_msg = chunk->notify_name + name_len + 1;
    memcpy(chunk->notify_name, name, name_len);
    memcpy(chunk->notify_msg, msg, msg_len);
    chunk->notify_name_len = (uint32_t)name_len;
    chunk->notify_msg_len = (uint32_t)msg_len;
    post_chunk(req, chunk);
    adxl_req_pending_done(req, ADXL_SUCCESS);
    *out = req;
    return ADXL_SUCCESS;
}

void adxl_chunk_complete(adxl_chunk_t *chunk, adxl_status_t status) {
    adxl_req_t *req = chunk->req;
    adxl_engine_t *engine = req->engine;
    if (status == ADXL_SUCCESS && chunk->scatter && adxl_req_guard_enter(req)) {
        for (uint32_t i = 0; i < chunk->nsegs && status == ADXL_SUCCESS; i++) {
            void *ctx = chunk->scatter_ctx ? chunk->scatter_ctx[i] : NULL;
            if (ctx)
                status = adxl_device_copy(engine->device, ctx, chunk->scatter[i],
                                          chunk->segs[i].local, chunk->segs[i].len, ADXL_COPY_H2D);
            else
                memcpy(chunk->scatter[i], chunk->segs[i].local, chunk->segs[i].len);
        }
        adxl_req_guard_leave(req);
    }
    if (status == ADXL_SUCCESS && chunk->kind != ADXL_CHUNK_NOTIFY)
        atomic_fetch_add(chunk->kind == ADXL_CHUNK_READ ? &engine->stats.bytes_read
                                                        : &engine->stats.bytes_written,
                         chunk->bytes);
    uint8_t *buffer = chunk->pool_buffer;
    size_t pool_bytes = chunk->pool_bytes;
    free(chunk);
    adxl_req_pending_done(req, status);
    if (buffer) adxl_engine_release_transit(engine, buffer, pool_bytes, true);
}

bool adxl_req_guard_enter(adxl_req_t *req) {
    pthread_mutex_lock(&req->guard);
    if (!req->cancelled) return true;
    pthread_mutex_unlock(&req->guard);
    return false;
}

void adxl_req_guard_leave(adxl_req_t *req) {
    pthread_mutex_unlock(&req->guard);
}

void adxl_chunk_complete_all(adxl_chunk_t *list, adxl_status_t status) {
    while (list) {
        adxl_chunk_t *next = list->next;
        adxl_chunk_complete(list, status);
        list = next;
    }
}
