/* The engine: everything one adxl_engine_t owns, and its lifecycle. */
#ifndef ADXL_ENGINE_H
#define ADXL_ENGINE_H

#include "core/engine_name.h"
#include "core/notify_queue.h"
#include "core/options.h"
#include "core/ptr_set.h"
#include "core/registry.h"
#include "core/request.h"
#include "core/transit_pool.h"
#include "transport/transport.h"

#include <adxl/adxl.h>
#include <pthread.h>
#include <stdatomic.h>

#define ADXL_STATS_WORDS (sizeof(adxl_stats_t) / sizeof(uint64_t))
_Static_assert(sizeof(adxl_stats_t) % sizeof(uint64_t) == 0, "adxl_stats_t is 8-byte words");

typedef struct {
    atomic_ullong batches_direct;
    atomic_ullong batches_buffered;
    atomic_ullong bytes_written;
    atomic_ullong bytes_read;
    atomic_ullong frames_served;
    atomic_ullong frames_refused;
    atomic_ullong links_dropped;
    /* What transports count into fields of adxl_stats_t (adxl_engine_count), by the
     * field's offset in 8-byte words. */
    atomic_ullong counted[ADXL_STATS_WORDS];
    atomic_ullong bytes_device_staged;
} adxl_engine_stats_t;

struct adxl_engine {
    atomic_bool initialized;
    /* Held across initialize and finalize, so that of two callers at once one starts
     * (or stops) the engine and the other finds it done. */
    pthread_mutex_t lifecycle_lock;
    char local_name[ADXL_NAME_MAX];
    adxl_config_t config;
    const adxl_device_runtime_t *device; /* NULL: host memory only */
    void *device_ctx; /* the context current at initialize: the engine's own (IPC) */
    bool pool_pinned; /* the transit pool is registered with it */
    adxl_registry_t registry;
    adxl_notify_queue_t notifies;
    adxl_engine_stats_t stats;

    adxl_transit_pool_t pool;
    pthread_mutex_t transit_wait_lock;
    adxl_req_t *transit_wait_head; /* requests waiting for a free transit buffer, FIFO */
    adxl_req_t *transit_wait_tail;

    adxl_host_facts_t facts; /* told to peers that probe us (transport.c) */
    adxl_transport_slot_t transports[ADXL_MAX_TRANSPORTS];
    int ntransports;

    pthread_mutex_t peers_lock;
    pthread_cond_t peers_changed; /* a connect in progress finished, one way or the other */
    struct adxl_peer *peers;
    struct adxl_peer *graveyard;

    pthread_mutex_t reqs_lock;
    adxl_ptr_set_t async_reqs; /* handles given out by adxl_transfer_async */

    pthread_mutex_t conn_lock;            /* async connect states (connector.c) */
    struct adxl_conn_entry *conn_entries; /* one per remote name seen by them */
};

/* The staging memory for device memory when the transit pool is off: NUM x SIZE MiB. */
#define ADXL_DEVICE_STAGING_BUFFERS 4u
#define ADXL_DEVICE_STAGING_MB 4u

adxl_status_t adxl_engine_start(adxl_engine_t *engine, const char *local_name,
                                const adxl_option_t *options, size_t num_options);
void adxl_engine_stop(adxl_engine_t *engine);

/* Up to want bytes of transit memory (*got of them), or NULL after queueing req (with a
 * reference) for the next release. */
uint8_t *adxl_engine_acquire_transit(adxl_engine_t *engine, adxl_req_t *req, size_t want,
                                     size_t *got);
/* Returns transit memory; with pump_waiters, hands what is free to queued requests. */
void adxl_engine_release_transit(adxl_engine_t *engine, uint8_t *buffer, size_t size,
                                 bool pump_waiters);
/* Takes req out of the queue; true when it was queued (its reference passes to caller). */
bool adxl_engine_unqueue_transit(adxl_engine_t *engine, adxl_req_t *req);

/* Cuts the next buffered chunks of a request that was waiting; drops the queue's ref. */
void adxl_planner_pump_waiter(adxl_req_t *req);

#endif
