/*
 * The public entry points: argument checks, lifecycle checks, then the engine's modules.
 * Every refusal of an argument logs why.
 */
#include "core/clock.h"
#include "core/connector.h"
#include "core/engine.h"
#include "core/log.h"
#include "core/peer.h"
#include "core/planner.h"

#include <adxl/adxl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* Every engine call starts here: NULL is a bad argument, uninitialized a failure. */
#define REQUIRE_ENGINE(engine)                                                                     \
    do {                                                                                           \
        if (!(engine)) return PARAM_INVALID("engine is NULL");                                     \
        if (!atomic_load(&(engine)->initialized)) {                                                \
            LOG_ERROR("engine is not initialized");                                                \
            return ADXL_FAILED;                                                                    \
        }                                                                                          \
    } while (0)

adxl_status_t adxl_engine_create(adxl_engine_t **engine) {
    if (!engine) return PARAM_INVALID("engine out-pointer is NULL");
    *engine = calloc(1, sizeof(**engine));
    if (!*engine) return ADXL_RESOURCE_EXHAUSTED;
    pthread_mutex_init(&(*engine)->lifecycle_lock, NULL);
    return ADXL_SUCCESS;
}

void adxl_engine_destroy(adxl_engine_t *engine) {
    if (!engine) return;
    adxl_finalize(engine);
    pthread_mutex_destroy(&engine->lifecycle_lock);
    free(engine);
}

/* A second initialize succeeds and changes nothing, as ADXL's does; one that comes while
 * another is under way waits for it, then finds the engine started (or, when that one
 * failed, tries itself). */
adxl_status_t adxl_initialize(adxl_engine_t *engine, const char *local_engine,
                              const adxl_option_t *options, size_t num_options) {
    if (!engine) return PARAM_INVALID("engine is NULL");
    if (atomic_load(&engine->initialized)) return ADXL_SUCCESS;
    pthread_mutex_lock(&engine->lifecycle_lock);
    adxl_status_t st = ADXL_SUCCESS;
    if (atomic_load(&engine->initialized)) {
        LOG_INFO("engine %s was initialized by another thread meanwhile; this call's name and "
                 "options are not used",
                 engine->local_name);
    } else {
        st = adxl_engine_start(engine, local_engine, options, num_options);
        if (st == ADXL_SUCCESS) atomic_store(&engine->initialized, true);
    }
    pthread_mutex_unlock(&engine->lifecycle_lock);
    return st;
}

void adxl_finalize(adxl_engine_t *engine) {
    if (!engine || !atomic_load(&engine->initialized)) return;
    pthread_mutex_lock(&engine->lifecycle_lock);
    if (atomic_load(&engine->initialized)) {
        atomic_store(&engine->initialized, false);
        adxl_engine_stop(engine);
    }
    pthread_mutex_unlock(&engine->lifecycle_lock);
}

const char *adxl_local_engine(const adxl_engine_t *engine) {
    if (!engine || !atomic_load(&engine->initialized)) return NULL;
    return engine->local_name;
}

/* ADXL's context rule: a device region belongs to the context it was registered in, the
 * pointer's own where the runtime can tell, else the calling thread's. */
static adxl_status_t device_context(const adxl_engine_t *engine, const adxl_mem_desc_t *mem,
                                    void **ctx) {
    const adxl_device_runtime_t *rt = engine->device;
    if (!rt) {
        LOG_ERROR("device memory: no device runtime in this engine (looked for libcuda.so.1 "
                  "and libascendcl.so; ADXL_CUDA_LIBRARY / ADXL_ASCEND_LIBRARY name others, "
                  "DeviceRuntime chooses)");
        return ADXL_UNSUPPORTED;
    }
    *ctx = NULL;
    int kind = rt->classify((const void *)mem->addr, mem->len, ctx);
    if (kind == 0)
        return PARAM_INVALID("memory 0x%lx+%zu is registered as device memory but %s says it "
                             "is not device memory",
                             (unsigned long)mem->addr, mem->len, rt->name);
    if (kind == 2)
        return PARAM_INVALID("device memory 0x%lx+%zu runs past the end of its %s allocation",
                             (unsigned long)mem->addr, mem->len, rt->name);
    if (!*ctx) *ctx = rt->current();
    if (!*ctx)
        return PARAM_INVALID("device memory 0x%lx+%zu: the calling thread has no %s context "
                             "(set the device or context first)",
                             (unsigned long)mem->addr, mem->len, rt->name);
    return ADXL_SUCCESS;
}

adxl_status_t adxl_register_mem(adxl_engine_t *engine, const adxl_mem_desc_t *mem,
                                adxl_mem_type_t type, adxl_mem_handle_t *handle) {
    REQUIRE_ENGINE(engine);
    if (!mem || !handle) return PARAM_INVALID("mem or handle is NULL");
    if (type != ADXL_MEM_HOST && type != ADXL_MEM_DEVICE)
        return PARAM_INVALID("unknown memory type %d", (int)type);
    if (mem->addr == 0 || mem->len == 0) return PARAM_INVALID("memory address or length is zero");
    if (mem->addr + mem->len < mem->addr)
        return PARAM_INVALID("memory 0x%lx+%zu wraps around the address space",
                             (unsigned long)mem->addr, mem->len);
    void *ctx = NULL;
    if (type == ADXL_MEM_DEVICE) {
        adxl_status_t st = device_context(engine, mem, &ctx);
        if (st != ADXL_SUCCESS) return st;
    } else if (engine->device) {
        void *ignored = NULL;
        if (engine->device->classify((const void *)mem->addr, mem->len, &ignored) > 0)
            return PARAM_INVALID("memory 0x%lx+%zu is device memory (%s) registered as host "
                                 "memory: use ADXL_MEM_DEVICE",
                                 (unsigned long)mem->addr, mem->len, engine->device->name);
    }
    adxl_region_t added;
    adxl_status_t st =
        adxl_registry_add(&engine->registry, mem->addr, mem->len, ctx, handle, &added);
    if (st == ADXL_SUCCESS && added.len > 0) adxl_transports_publish(engine, &added, true);
    return st;
}

adxl_status_t adxl_deregister_mem(adxl_engine_t *engine, adxl_mem_handle_t handle) {
    REQUIRE_ENGINE(engine);
    if (!handle) return PARAM_INVALID("handle is NULL");
    adxl_region_t removed;
    adxl_status_t st = adxl_registry_remove(&engine->registry, handle, &removed);
    if (st == ADXL_SUCCESS && removed.len > 0) {
        adxl_transports_publish(engine, &removed, false);
        adxl_registry_release_slot(&engine->registry, removed.slot);
    }
    return st;
}

static adxl_status_t check_remote_name(adxl_engine_t *engine, const char *remote,
                                       adxl_engine_addr_t *addr) {
    if (!remote) return PARAM_INVALID("remote engine name is NULL");
    if (!adxl_engine_name_parse(remote, addr) || !addr->has_port)
        return PARAM_INVALID("remote engine name '%s' is not ip:port or [ipv6]:port", remote);
    /* Port 0 means "any port" only for a local name: nobody can be reached there, and a
     * connect would retry until its timeout, however long that is. */
    in_port_t port = addr->addr.ss_family == AF_INET6
                         ? ((const struct sockaddr_in6 *)&addr->addr)->sin6_port
                         : ((const struct sockaddr_in *)&addr->addr)->sin_port;
    if (port == 0) return PARAM_INVALID("remote engine name '%s' has port 0", remote);
    if (strcmp(remote, engine->local_name) == 0)
        return PARAM_INVALID("'%s' is this engine's own name", remote);
    return ADXL_SUCCESS;
}

/* The arguments connect and disconnect share; also shuts down links that failed. */
static adxl_status_t check_link_call(adxl_engine_t *engine, const char *remote, int32_t timeout_ms,
                                     const char *what, adxl_engine_addr_t *addr) {
    adxl_status_t st = check_remote_name(engine, remote, addr);
    if (st != ADXL_SUCCESS) return st;
    if (timeout_ms <= 0)
        return PARAM_INVALID("%s timeout %d ms is not positive", what, (int)timeout_ms);
    adxl_peers_reap(engine);
    return ADXL_SUCCESS;
}

adxl_status_t adxl_connect(adxl_engine_t *engine, const char *remote_engine, int32_t timeout_ms) {
    REQUIRE_ENGINE(engine);
    adxl_engine_addr_t addr;
    adxl_status_t st = check_link_call(engine, remote_engine, timeout_ms, "connect", &addr);
    if (st != ADXL_SUCCESS) return st;
    return adxl_peers_connect(engine, remote_engine, &addr, adxl_deadline_after_ms(timeout_ms));
}

adxl_status_t adxl_disconnect(adxl_engine_t *engine, const char *remote_engine,
                              int32_t timeout_ms) {
    REQUIRE_ENGINE(engine);
    adxl_engine_addr_t addr;
    adxl_status_t st = check_link_call(engine, remote_engine, timeout_ms, "disconnect", &addr);
    return st != ADXL_SUCCESS ? st : adxl_peers_disconnect(engine, remote_engine);
}

adxl_status_t adxl_connect_async(adxl_engine_t *engine, const char *remote_engine,
                                 int32_t timeout_ms) {
    REQUIRE_ENGINE(engine);
    adxl_engine_addr_t addr;
    adxl_status_t st = check_link_call(engine, remote_engine, timeout_ms, "connect", &addr);
    if (st != ADXL_SUCCESS) return st;
    return adxl_connector_connect(engine, remote_engine, &addr, adxl_deadline_after_ms(timeout_ms));
}

adxl_status_t adxl_disconnect_async(adxl_engine_t *engine, const char *remote_engine,
                                    int32_t timeout_ms) {
    REQUIRE_ENGINE(engine);
    adxl_engine_addr_t addr;
    adxl_status_t st = check_link_call(engine, remote_engine, timeout_ms, "disconnect", &addr);
    return st != ADXL_SUCCESS ? st : adxl_connector_disconnect(engine, remote_engine);
}

adxl_status_t adxl_get_async_connect_status(adxl_engine_t *engine, const char *remote_engine,
                                            adxl_connect_state_t *state) {
    REQUIRE_ENGINE(engine);
    adxl_engine_addr_t addr;
    adxl_status_t st = check_remote_name(engine, remote_engine, &addr);
    if (st != ADXL_SUCCESS) return st;
    if (!state) return PARAM_INVALID("state out-pointer is NULL");
    adxl_peers_reap(engine);
    *state = adxl_connector_state(engine, remote_engine);
    return ADXL_SUCCESS;
}

adxl_status_t adxl_get_async_connect_statuses(adxl_engine_t *engine,
                                              adxl_connect_status_t *statuses, size_t capacity,
                                              size_t *count) {
    REQUIRE_ENGINE(engine);
    if (!count) return PARAM_INVALID("count out-pointer is NULL");
    if (!statuses && capacity > 0)
        return PARAM_INVALID("statuses is NULL but capacity is %zu", capacity);
    adxl_peers_reap(engine);
    return adxl_connector_states(engine, statuses, capacity, count);
}

adxl_status_t adxl_get_capability(adxl_feature_t feature, int32_t *value) {
    if (!value) return PARAM_INVALID("value out-pointer is NULL");
    switch (feature) {
    case ADXL_FEATURE_AUTO_CONNECT:       /* the AutoConnect option */
    case ADXL_FEATURE_CLIENT_SERVER_COMM: /* client-only engines connect to listening ones */
        *value = ADXL_CAPABILITY_SUPPORTED;
        return ADXL_SUCCESS;
    }
    return PARAM_INVALID("unknown feature %d", (int)feature);
}

/* The link to remote, connecting first under AutoConnect. */
static adxl_status_t get_peer(adxl_engine_t *engine, const char *remote, int32_t timeout_ms,
                              adxl_peer_t **out) {
    adxl_engine_addr_t addr;
    adxl_status_t st = check_remote_name(engine, remote, &addr);
    if (st != ADXL_SUCCESS) return st;
    adxl_peers_reap(engine);
    *out = adxl_peers_find(engine, remote);
    if (*out) return ADXL_SUCCESS;
    if (!engine->config.auto_connect) {
        LOG_ERROR("not connected to %s", remote);
        return ADXL_NOT_CONNECTED;
    }
    st = adxl_peers_connect(
        engine, remote, &addr,
        adxl_deadline_after_ms(timeout_ms > 0 ? timeout_ms : ADXL_DEFAULT_TIMEOUT_MS));
    if (st != ADXL_SUCCESS && st != ADXL_ALREADY_CONNECTED) return st;
    *out = adxl_peers_find(engine, remote);
    return *out ? ADXL_SUCCESS : ADXL_NOT_CONNECTED;
}

static adxl_status_t check_transfer(const char *remote, adxl_transfer_op_t op,
                                    const adxl_transfer_op_desc_t *descs, size_t num_descs) {
    if (!remote) return PARAM_INVALID("remote engine name is NULL");
    if (op != ADXL_READ && op != ADXL_WRITE)
        return PARAM_INVALID("unknown transfer op %d", (int)op);
    if (!descs || num_descs == 0) return PARAM_INVALID("the batch is empty");
    for (size_t i = 0; i < num_descs; i++) {
        const adxl_transfer_op_desc_t *d = &descs[i];
        if (d->local_addr == 0 || d->remote_addr == 0)
            return PARAM_INVALID("descriptor %zu has a zero address", i);
        if (d->len == 0) return PARAM_INVALID("descriptor %zu has length 0", i);
        if (d->local_addr + d->len < d->local_addr || d->remote_addr + d->len < d->remote_addr)
            return PARAM_INVALID("descriptor %zu wraps around the address space", i);
    }
    return ADXL_SUCCESS;
}

adxl_status_t adxl_transfer_sync(adxl_engine_t *engine, const char *remote_engine,
                                 adxl_transfer_op_t op, const adxl_transfer_op_desc_t *op_descs,
                                 size_t num_descs, int32_t timeout_ms) {
    REQUIRE_ENGINE(engine);
    adxl_status_t st = check_transfer(remote_engine, op, op_descs, num_descs);
    if (st != ADXL_SUCCESS) return st;
    if (timeout_ms <= 0)
        return PARAM_INVALID("transfer timeout %d ms is not positive", (int)timeout_ms);
    uint64_t deadline = adxl_deadline_after_ms(timeout_ms);
    adxl_peer_t *peer;
    st = get_peer(engine, remote_engine, timeout_ms, &peer);
    if (st != ADXL_SUCCESS) return st;
    adxl_req_t *req = NULL;
    st = adxl_planner_submit(engine, peer, op, op_descs, num_descs, deadline, &req);
    adxl_peer_release(peer);
    if (st != ADXL_SUCCESS) return st;
    st = adxl_req_wait(req);
    adxl_req_release(req);
    return st;
}

adxl_status_t adxl_transfer_async(adxl_engine_t *engine, const char *remote_engine,
                                  adxl_transfer_op_t op, const adxl_transfer_op_desc_t *op_descs,
                                  size_t num_descs, const adxl_transfer_args_t *args,
                                  adxl_transfer_req_t *req) {
    REQUIRE_ENGINE(engine);
    adxl_status_t st = check_transfer(remote_engine, op, op_descs, num_descs);
    if (st != ADXL_SUCCESS) return st;
    if (!req) return PARAM_INVALID("request out-pointer is NULL");
    if (args && args->timeout_ms < 0)
        return PARAM_INVALID("transfer timeout %d ms is negative", (int)args->timeout_ms);
    int32_t timeout_ms = args ? args->timeout_ms : 0;
    adxl_peer_t *peer;
    st = get_peer(engine, remote_engine, timeout_ms, &peer);
    if (st != ADXL_SUCCESS) return st;
    adxl_req_t *r = NULL;
    st = adxl_planner_submit(engine, peer, op, op_descs, num_descs,
                             adxl_deadline_after_ms(timeout_ms), &r);
    adxl_peer_release(peer);
    if (st != ADXL_SUCCESS) return st;
    r->user_data = args ? args->user_data : NULL;
    /* The caller gets a handle that is never reused, not r's address: asking about a
     * released request must not find a new one that was allocated at the same place. */
    adxl_transfer_req_t handle = adxl_handle_new();
    pthread_mutex_lock(&engine->reqs_lock);
    bool added = adxl_ptr_set_put(&engine->async_reqs, handle, r);
    pthread_mutex_unlock(&engine->reqs_lock);
    if (!added) {
        adxl_req_cancel(r);
        adxl_req_release(r);
        return ADXL_RESOURCE_EXHAUSTED;
    }
    *req = handle;
    return ADXL_SUCCESS;
}

/* What an async request looks like now: final once done or past its deadline. */
static adxl_transfer_status_t classify(const adxl_req_t *req, uint64_t now) {
    if (atomic_load(&req->done))
        return adxl_req_result((adxl_req_t *)req) == ADXL_SUCCESS ? ADXL_TRANSFER_COMPLETED
                                                                  : ADXL_TRANSFER_FAILED;
    if (req->deadline != ADXL_NO_DEADLINE && now >= req->deadline) return ADXL_TRANSFER_TIMEOUT;
    return ADXL_TRANSFER_WAITING;
}

adxl_status_t adxl_get_transfer_status(adxl_engine_t *engine, adxl_transfer_req_t handle,
                                       adxl_transfer_status_t *status) {
    REQUIRE_ENGINE(engine);
    if (!handle) {
        LOG_ERROR("request is NULL");
        return ADXL_FAILED;
    }
    if (!status) return PARAM_INVALID("status out-pointer is NULL");
    /* A reference of our own, so that another thread reporting it final at the same
     * time cannot free it under us. */
    pthread_mutex_lock(&engine->reqs_lock);
    adxl_req_t *req = adxl_ptr_set_get(&engine->async_reqs, handle);
    if (req) atomic_fetch_add(&req->refs, 1);
    pthread_mutex_unlock(&engine->reqs_lock);
    if (!req)
        return PARAM_INVALID("request %p is unknown or was already reported final", (void *)handle);

    adxl_transfer_status_t s = classify(req, adxl_now_ns());
    if (s == ADXL_TRANSFER_TIMEOUT) adxl_req_cancel(req);
    bool mine = true;
    if (s != ADXL_TRANSFER_WAITING) {
        /* A final state releases the handle; two threads asking at once release it once. */
        pthread_mutex_lock(&engine->reqs_lock);
        mine = adxl_ptr_set_remove(&engine->async_reqs, handle);
        pthread_mutex_unlock(&engine->reqs_lock);
        if (mine) adxl_req_release(req);
    }
    adxl_req_release(req);
    if (!mine) return PARAM_INVALID("request %p was already reported final", (void *)handle);
    *status = s;
    return ADXL_SUCCESS;
}

adxl_status_t adxl_get_transfer_statuses(adxl_engine_t *engine, adxl_transfer_result_t *results,
                                         size_t max_count, uint32_t flags, size_t *count) {
    REQUIRE_ENGINE(engine);
    if (!count) return PARAM_INVALID("count out-pointer is NULL");
    if (!results && max_count > 0)
        return PARAM_INVALID("results is NULL but max_count is %zu", max_count);
    if (flags & ~ADXL_STATUS_SKIP_WAITING) return PARAM_INVALID("unknown flags 0x%x", flags);
    bool skip_waiting = flags & ADXL_STATUS_SKIP_WAITING;
    uint64_t now = adxl_now_ns();
    size_t n = 0, n_final = 0;
    /* Final requests leave the set under the lock (their owner reference passes to us);
     * the timed-out ones are cancelled, and all of them released, after it. results[]
     * carries the caller's handles, so the objects wait in `final` meanwhile. */
    struct {
        adxl_req_t *req;
        adxl_transfer_status_t status;
    } final_small[64], *final = final_small;
    pthread_mutex_lock(&engine->reqs_lock);
    size_t most = engine->async_reqs.count < max_count ? engine->async_reqs.count : max_count;
    if (most > 64 && !(final = malloc(most * sizeof(*final)))) {
        pthread_mutex_unlock(&engine->reqs_lock);
        return ADXL_RESOURCE_EXHAUSTED;
    }
    for (size_t i = 0; i < engine->async_reqs.capacity && n < max_count; i++) {
        adxl_req_t *req = adxl_ptr_set_slot(&engine->async_reqs, i);
        if (!req) continue;
        adxl_transfer_status_t s = classify(req, now);
        if (s == ADXL_TRANSFER_WAITING && skip_waiting) continue;
        adxl_transfer_req_t handle = adxl_ptr_set_slot_key(&engine->async_reqs, i);
        if (s != ADXL_TRANSFER_WAITING) {
            adxl_ptr_set_remove(&engine->async_reqs, handle);
            final[n_final].req = req;
            final[n_final++].status = s;
        }
        results[n++] = (adxl_transfer_result_t){handle, req->user_data, s};
    }
    pthread_mutex_unlock(&engine->reqs_lock);
    for (size_t i = 0; i < n_final; i++) {
        if (final[i].status == ADXL_TRANSFER_TIMEOUT) adxl_req_cancel(final[i].req);
        adxl_req_release(final[i].req);
    }
    if (final != final_small) free(final);
    *count = n;
    return ADXL_SUCCESS;
}

adxl_status_t adxl_send_notify(adxl_engine_t *engine, const char *remote_engine, const char *name,
                               const char *msg, int32_t timeout_ms) {
    REQUIRE_ENGINE(engine);
    if (!remote_engine || !name || !msg)
        return PARAM_INVALID("remote engine, notify name or message is NULL");
    size_t name_len = strnlen(name, ADXL_NOTIFY_MAX_LEN + 1);
    size_t msg_len = strnlen(msg, ADXL_NOTIFY_MAX_LEN + 1);
    if (name_len > ADXL_NOTIFY_MAX_LEN || msg_len > ADXL_NOTIFY_MAX_LEN)
        return PARAM_INVALID("notify name or message is longer than %d characters",
                             ADXL_NOTIFY_MAX_LEN);
    if (timeout_ms <= 0)
        return PARAM_INVALID("notify timeout %d ms is not positive", (int)timeout_ms);
    adxl_peer_t *peer;
    adxl_status_t st = get_peer(engine, remote_engine, timeout_ms, &peer);
    if (st != ADXL_SUCCESS) return st;
    adxl_req_t *req = NULL;
    st = adxl_planner_submit_notify(engine, peer, name, name_len, msg, msg_len,
                                    adxl_deadline_after_ms(timeout_ms), &req);
    adxl_peer_release(peer);
    if (st != ADXL_SUCCESS) return st;
    st = adxl_req_wait(req);
    adxl_req_release(req);
    return st;
}

adxl_status_t adxl_get_notifies(adxl_engine_t *engine, adxl_notify_t *notifies, size_t capacity,
                                size_t *count) {
    REQUIRE_ENGINE(engine);
    if (!count) return PARAM_INVALID("count out-pointer is NULL");
    if (!notifies && capacity > 0)
        return PARAM_INVALID("notifies is NULL but capacity is %zu", capacity);
    adxl_notify_queue_pop(&engine->notifies, notifies, capacity, count);
    return ADXL_SUCCESS;
}

adxl_status_t adxl_get_stats(adxl_engine_t *engine, adxl_stats_t *stats) {
    REQUIRE_ENGINE(engine);
    if (!stats) return PARAM_INVALID("stats out-pointer is NULL");
    const adxl_engine_stats_t *s = &engine->stats;
    *stats = (adxl_stats_t){
        .batches_direct = atomic_load(&s->batches_direct),
        .batches_buffered = atomic_load(&s->batches_buffered),
        .bytes_written = atomic_load(&s->bytes_written),
        .bytes_read = atomic_load(&s->bytes_read),
        .frames_served = atomic_load(&s->frames_served),
        .frames_refused = atomic_load(&s->frames_refused),
        .links_dropped = atomic_load(&s->links_dropped),
        .bytes_device_staged = atomic_load(&s->bytes_device_staged),
        .regions_registered = adxl_registry_count(&engine->registry),
        .regions_mirrored = adxl_peers_regions_count(engine),
    };
    /* Then what the transports counted, into the fields they named. */
    uint64_t words[ADXL_STATS_WORDS];
    memcpy(words, stats, sizeof(words));
    for (size_t i = 0; i < ADXL_STATS_WORDS; i++)
        words[i] += atomic_load(&s->counted[i]);
    memcpy(stats, words, sizeof(words));
    return ADXL_SUCCESS;
}
