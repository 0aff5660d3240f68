#include "core/request.h"

#include "core/clock.h"
#include "core/peer.h"
#include "core/planner.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>

/* Long enough to catch a loopback round trip, short enough to cost little when the
 * transfer is long. */
#define SPIN_NS 30000ull

adxl_req_t *adxl_req_new(adxl_engine_t *engine, adxl_peer_t *peer, adxl_transfer_op_t op,
                         uint64_t deadline) {
    adxl_req_t *req = calloc(1, sizeof(*req));
    if (!req) return NULL;
    req->engine = engine;
    req->peer = peer;
    adxl_peer_retain(peer);
    req->op = op;
    req->deadline = deadline;
    pthread_mutex_init(&req->guard, NULL);
    pthread_mutex_init(&req->wait_lock, NULL);
    adxl_cond_init_monotonic(&req->wait_cond);
    atomic_init(&req->refs, 2); /* the owner and the planner's hold */
    atomic_init(&req->pending, 1);
    atomic_init(&req->first_error, ADXL_SUCCESS);
    atomic_init(&req->done, false);
    return req;
}

void adxl_req_release(adxl_req_t *req) {
    if (atomic_fetch_sub(&req->refs, 1) != 1) return;
    adxl_peer_release(req->peer);
    pthread_mutex_destroy(&req->guard);
    pthread_mutex_destroy(&req->wait_lock);
    pthread_cond_destroy(&req->wait_cond);
    free(req->descs);
    free(req);
}

void adxl_req_record_error(adxl_req_t *req, adxl_status_t status) {
    adxl_status_t expected = ADXL_SUCCESS;
    if (status != ADXL_SUCCESS)
        atomic_compare_exchange_strong(&req->first_error, &expected, status);
}

void adxl_req_pending_done(adxl_req_t *req, adxl_status_t status) {
    adxl_req_record_error(req, status);
    if (atomic_fetch_sub(&req->pending, 1) == 1) {
        pthread_mutex_lock(&req->wait_lock);
        atomic_store(&req->done, true);
        if (req->waiter_sleeping) pthread_cond_signal(&req->wait_cond);
        pthread_mutex_unlock(&req->wait_lock);
    }
    adxl_req_release(req);
}

void adxl_req_cancel(adxl_req_t *req) {
    pthread_mutex_lock(&req->guard);
    req->cancelled = true;
    /* Whatever is still pending will not happen now: the request did not succeed. */
    bool done = atomic_load(&req->done);
    if (!done) adxl_req_record_error(req, ADXL_TIMEOUT);
    pthread_mutex_unlock(&req->guard);
    adxl_planner_forget(req);
    /* The guard fences transports that touch the caller's memory only inside it; one
     * whose hardware works on it after post must be told (it returns once it can't). */
    adxl_peer_t *peer = req->peer;
    if (!done && peer->ops && peer->ops->abandon && peer->link) peer->ops->abandon(peer->link, req);
}

adxl_status_t adxl_req_result(adxl_req_t *req) {
    return atomic_load(&req->first_error);
}

adxl_status_t adxl_req_wait(adxl_req_t *req) {
    uint64_t spin_until = adxl_now_ns() + SPIN_NS;
    adxl_peer_t *peer = req->peer;
    void (*poll)(adxl_link_t *) = peer->ops ? peer->ops->poll : NULL;
    while (!atomic_load_explicit(&req->done, memory_order_acquire)) {
        if (adxl_now_ns() >= spin_until) break;
        if (poll)
            poll(peer->link);
        else
            sched_yield();
    }
    if (!atomic_load(&req->done)) {
        struct timespec ts = adxl_deadline_timespec(req->deadline);
        pthread_mutex_lock(&req->wait_lock);
        req->waiter_sleeping = true;
        while (!atomic_load(&req->done)) {
            int rc = req->deadline == ADXL_NO_DEADLINE
                         ? pthread_cond_wait(&req->wait_cond, &req->wait_lock)
                         : pthread_cond_timedwait(&req->wait_cond, &req->wait_lock, &ts);
            if (rc == ETIMEDOUT) break;
        }
        req->waiter_sleeping = false;
        pthread_mutex_unlock(&req->wait_lock);
    }
    if (atomic_load(&req->done)) return adxl_req_result(req);
    adxl_req_cancel(req);
    /* It may have finished just before we gave up; the caller's memory is safe either way. */
    return adxl_req_result(req);
}
