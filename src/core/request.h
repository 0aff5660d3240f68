/*
 * A transfer (or notify) request: what the caller waits on, what chunks report to, and
 * the guard that keeps the engine away from the caller's buffers once the caller has
 * given up on it.
 *
 * Life: the owner (the sync caller, or the async handle) holds one reference, the
 * planner holds one while it still has data to cut into chunks, and every posted chunk
 * holds one. "pending" counts the planner and the chunks: when it reaches zero the
 * request is done.
 */
#ifndef ADXL_REQUEST_H
#define ADXL_REQUEST_H

#include "transport/transport.h"

#include <adxl/adxl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct adxl_transfer_req {
    adxl_engine_t *engine;
    adxl_peer_t *peer; /* holds a peer reference until the request is freed */
    adxl_transfer_op_t op;
    uint64_t deadline; /* ADXL_NO_DEADLINE for none */
    const void *user_data;

    pthread_mutex_t guard; /* held around every access to the caller's memory */
    bool cancelled;        /* under guard: the caller gave up, its memory is off limits */

    atomic_uint refs;
    atomic_uint pending;
    _Atomic adxl_status_t first_error;
    atomic_bool done;

    pthread_mutex_t wait_lock;
    pthread_cond_t wait_cond;
    bool waiter_sleeping; /* under wait_lock */

    /* Buffered-mode planning state, advanced by the planner (under guard). */
    adxl_transfer_op_desc_t *descs; /* a private copy of the batch */
    void **desc_ctx; /* with local device memory: each descriptor's device context (NULL:
                        host memory); in the same allocation as descs, else NULL */
    size_t num_descs;
    size_t next_desc;
    size_t next_offset;
    uint64_t bytes_left;                    /* not yet cut into chunks */
    struct adxl_transfer_req *next_waiting; /* the engine's queue for a transit buffer */
    bool waiting;                           /* in that queue (under its lock) */
};

typedef struct adxl_transfer_req adxl_req_t;

/* A request with one owner reference and the planner's hold. */
adxl_req_t *adxl_req_new(adxl_engine_t *engine, adxl_peer_t *peer, adxl_transfer_op_t op,
                         uint64_t deadline);
void adxl_req_release(adxl_req_t *req);
/* Drops one pending unit (the planner's or a chunk's), with its reference. */
void adxl_req_pending_done(adxl_req_t *req, adxl_status_t status);
void adxl_req_record_error(adxl_req_t *req, adxl_status_t status);

/* Waits until done or deadline; on the deadline the request is cancelled and TIMEOUT
 * returned. Spins briefly first so that short transfers pay no wake-up. */
adxl_status_t adxl_req_wait(adxl_req_t *req);
/* Marks the request given up: from now on the engine leaves the caller's memory alone. */
void adxl_req_cancel(adxl_req_t *req);
/* The status of a done request. */
adxl_status_t adxl_req_result(adxl_req_t *req);

#endif
