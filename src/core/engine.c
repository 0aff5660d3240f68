#include "core/engine.h"

#include "core/clock.h"
#include "core/connector.h"
#include "core/log.h"
#include "core/peer.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* What start set up before the transport, in reverse. */
static void release_core(adxl_engine_t *engine) {
    adxl_notify_queue_destroy(&engine->notifies);
    if (engine->pool_pinned) engine->device->host_unregister(engine->pool.base);
    adxl_transit_pool_destroy(&engine->pool);
    adxl_registry_destroy(&engine->registry);
    pthread_mutex_destroy(&engine->transit_wait_lock);
    pthread_mutex_destroy(&engine->peers_lock);
    pthread_cond_destroy(&engine->peers_changed);
    pthread_mutex_destroy(&engine->reqs_lock);
}

adxl_status_t adxl_engine_start(adxl_engine_t *engine, const char *local_name,
                                const adxl_option_t *options, size_t num_options) {
    adxl_engine_addr_t addr;
    if (!adxl_engine_name_parse(local_name, &addr))
        return PARAM_INVALID("local engine name '%s' is not ip[:port] or [ipv6][:port]",
                             local_name ? local_name : "(null)");
    adxl_config_t config;
    adxl_config_defaults(&config);
    adxl_status_t st = adxl_config_parse(&config, options, num_options);
    if (st != ADXL_SUCCESS) return st;
    engine->config = config;
    st = adxl_device_runtime_select(config.device_runtime, &engine->device);
    if (st != ADXL_SUCCESS) return st;
    engine->device_ctx = engine->device ? engine->device->current() : NULL;
    memset(&engine->stats, 0, sizeof(engine->stats));
    if (!adxl_registry_init(&engine->registry)) return ADXL_FAILED;
    engine->registry.device = engine->device;
    /* Local device memory always crosses host memory here: with the transit pool off, a
     * pool of its own size serves as that staging memory (ADXL's mode rules still see the
     * pool as off). */
    uint32_t buffers = config.pool_buffers, buffer_mb = config.pool_buffer_mb;
    if (engine->device && !adxl_config_pool_enabled(&config)) {
        buffers = ADXL_DEVICE_STAGING_BUFFERS;
        buffer_mb = ADXL_DEVICE_STAGING_MB;
    }
    if (!adxl_transit_pool_init(&engine->pool, buffers, (size_t)buffer_mb << 20)) {
        adxl_registry_destroy(&engine->registry);
        return ADXL_RESOURCE_EXHAUSTED;
    }
    /* Page-locked, so that copies between it and the device are DMA, not bounced. */
    engine->pool_pinned = engine->device && engine->device->host_register && engine->pool.total &&
                          engine->device->host_register(engine->pool.base, engine->pool.total);
    adxl_notify_queue_init(&engine->notifies);
    pthread_mutex_init(&engine->transit_wait_lock, NULL);
    pthread_mutex_init(&engine->peers_lock, NULL);
    adxl_cond_init_monotonic(&engine->peers_changed);
    pthread_mutex_init(&engine->reqs_lock, NULL);
    engine->transit_wait_head = engine->transit_wait_tail = NULL;
    engine->peers = engine->graveyard = NULL;
    engine->async_reqs = (adxl_ptr_set_t){0};
    engine->ntransports = 0;

    st = adxl_transports_start(engine, &addr, engine->local_name);
    if (st != ADXL_SUCCESS) {
        release_core(engine);
        return st;
    }
    adxl_connector_init(engine);
    LOG_INFO("engine %s initialized (%d transport%s, device memory: %s)", engine->local_name,
             engine->ntransports, engine->ntransports == 1 ? "" : "s",
             engine->device ? engine->device->name : "none");
    return ADXL_SUCCESS;
}

void adxl_engine_stop(adxl_engine_t *engine) {
    /* Links first: their shutdown fails every chunk in flight, which frees transit
     * buffers and wakes every waiter. Async connects first, so that none adds a link
     * after that (each ends by its deadline at the latest). */
    adxl_connector_stop(engine);
    adxl_peers_close_all(engine);
    adxl_transports_stop(engine);

    /* Async handles the caller never collected. Their chunks are all complete now. */
    for (size_t i = 0; i < engine->async_reqs.capacity; i++) {
        adxl_req_t *req = adxl_ptr_set_slot(&engine->async_reqs, i);
        if (req) adxl_req_release(req);
    }
    adxl_ptr_set_free(&engine->async_reqs);
    release_core(engine);
}

uint8_t *adxl_engine_acquire_transit(adxl_engine_t *engine, adxl_req_t *req, size_t want,
                                     size_t *got) {
    pthread_mutex_lock(&engine->transit_wait_lock);
    uint8_t *buffer = adxl_transit_pool_try_acquire(&engine->pool, want, got);
    if (!buffer && !req->waiting) {
        req->waiting = true;
        req->next_waiting = NULL;
        atomic_fetch_add(&req->refs, 1);
        if (engine->transit_wait_tail)
            engine->transit_wait_tail->next_waiting = req;
        else
            engine->transit_wait_head = req;
        engine->transit_wait_tail = req;
    }
    pthread_mutex_unlock(&engine->transit_wait_lock);
    return buffer;
}

static adxl_req_t *pop_waiter_locked(adxl_engine_t *engine) {
    adxl_req_t *req = engine->transit_wait_head;
    if (req) {
        engine->transit_wait_head = req->next_waiting;
        if (!engine->transit_wait_head) engine->transit_wait_tail = NULL;
        req->waiting = false;
        req->next_waiting = NULL;
    }
    return req;
}

void adxl_engine_release_transit(adxl_engine_t *engine, uint8_t *buffer, size_t size,
                                 bool pump_waiters) {
    adxl_transit_pool_release(&engine->pool, buffer, size);
    while (pump_waiters) {
        pthread_mutex_lock(&engine->transit_wait_lock);
        adxl_req_t *req =
            adxl_transit_pool_has_free(&engine->pool) ? pop_waiter_locked(engine) : NULL;
        pthread_mutex_unlock(&engine->transit_wait_lock);
        if (!req) break;
        adxl_planner_pump_waiter(req);
    }
}

bool adxl_engine_unqueue_transit(adxl_engine_t *engine, adxl_req_t *req) {
    bool found = false;
    pthread_mutex_lock(&engine->transit_wait_lock);
    for (adxl_req_t **p = &engine->transit_wait_head; *p; p = &(*p)->next_waiting) {
        if (*p != req) continue;
        *p = req->next_waiting;
        if (engine->transit_wait_tail == req) {
            engine->transit_wait_tail = NULL;
            for (adxl_req_t *r = engine->transit_wait_head; r; r = r->next_waiting)
                engine->transit_wait_tail = r;
        }
        req->waiting = false;
        found = true;
        break;
    }
    pthread_mutex_unlock(&engine->transit_wait_lock);
    return found;
}

const adxl_config_t *adxl_engine_config(const adxl_engine_t *engine) {
    return &engine->config;
}

adxl_registry_t *adxl_engine_registry(adxl_engine_t *engine) {
    return &engine->registry;
}

adxl_notify_queue_t *adxl_engine_notifies(adxl_engine_t *engine) {
    return &engine->notifies;
}

const char *adxl_engine_name(const adxl_engine_t *engine) {
    return engine->local_name;
}

const adxl_host_facts_t *adxl_engine_host_facts(const adxl_engine_t *engine) {
    return &engine->facts;
}

void adxl_engine_count(adxl_engine_t *engine, size_t stats_field, uint64_t bytes) {
    assert(stats_field % sizeof(uint64_t) == 0 && stats_field < sizeof(adxl_stats_t));
    atomic_fetch_add(&engine->stats.counted[stats_field / sizeof(uint64_t)], bytes);
}

const adxl_device_runtime_t *adxl_engine_device(const adxl_engine_t *engine, void **ctx) {
    *ctx = engine->device_ctx;
    return engine->device;
}

void adxl_engine_transit_memory(adxl_engine_t *engine, uint8_t **base, size_t *len) {
    *base = engine->pool.total ? engine->pool.base : NULL;
    *len = engine->pool.total;
}

void adxl_engine_count_served(adxl_engine_t *engine, bool refused) {
    atomic_fetch_add(refused ? &engine->stats.frames_refused : &engine->stats.frames_served, 1);
}
