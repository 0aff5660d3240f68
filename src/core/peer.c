#include "core/peer.h"

#include "core/clock.h"
#include "core/engine.h"
#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void adxl_peer_retain(adxl_peer_t *peer) {
    atomic_fetch_add(&peer->refs, 1);
}

void adxl_peer_release(adxl_peer_t *peer) {
    if (atomic_fetch_sub(&peer->refs, 1) != 1) return;
    /* The last reference goes only after the link was shut down (see peer.h). */
    if (peer->link) peer->ops->destroy(peer->link);
    adxl_remote_regions_destroy(&peer->regions);
    free(peer);
}

void adxl_peer_post(adxl_peer_t *peer, adxl_chunk_t *chunk) {
    peer->ops->post(peer->link, chunk);
}

uint32_t adxl_peer_max_segments(const adxl_peer_t *peer) {
    return peer->ops->max_chunk_segments;
}

bool adxl_peer_device_direct(adxl_peer_t *peer, const adxl_transfer_op_desc_t *descs,
                             size_t num_descs) {
    return peer->ops->device_direct && peer->ops->device_direct(peer->link, descs, num_descs);
}

bool adxl_peer_buffered_in_place(const adxl_peer_t *peer) {
    return peer->ops->buffered_in_place;
}

void adxl_peer_learn_regions(adxl_peer_t *peer, const adxl_transfer_op_desc_t *descs,
                             size_t num_descs, uint64_t deadline) {
    /* The peer's view takes every region the link learns: only a batch that reaches past
     * it costs the transport a look (under its own, busier locks) and a round trip. */
    if (peer->ops->learn_regions &&
        !adxl_remote_regions_contain_all(&peer->regions, descs, num_descs))
        peer->ops->learn_regions(peer->link, descs, num_descs, deadline);
}

adxl_remote_regions_t *adxl_peer_regions(adxl_peer_t *peer) {
    return &peer->regions;
}

/* With the peers lock held. */
static adxl_peer_t **find_slot(adxl_engine_t *engine, const char *name) {
    for (adxl_peer_t **p = &engine->peers; *p; p = &(*p)->next)
        if (strcmp((*p)->name, name) == 0) return p;
    return NULL;
}

adxl_peer_t *adxl_peers_find(adxl_engine_t *engine, const char *name) {
    pthread_mutex_lock(&engine->peers_lock);
    adxl_peer_t **slot = find_slot(engine, name);
    adxl_peer_t *peer = slot && (*slot)->ready ? *slot : NULL;
    if (peer) adxl_peer_retain(peer);
    pthread_mutex_unlock(&engine->peers_lock);
    return peer;
}

size_t adxl_peers_regions_count(adxl_engine_t *engine) {
    size_t n = 0;
    pthread_mutex_lock(&engine->peers_lock);
    for (adxl_peer_t *p = engine->peers; p; p = p->next)
        if (p->ready) n += adxl_remote_regions_count(&p->regions);
    pthread_mutex_unlock(&engine->peers_lock);
    return n;
}

static void bury_locked(adxl_engine_t *engine, adxl_peer_t *peer) {
    adxl_peer_t **slot = find_slot(engine, peer->name);
    if (slot && *slot == peer) {
        *slot = peer->next;
        peer->next = engine->graveyard;
        engine->graveyard = peer;
    }
}

void adxl_peer_link_down(adxl_peer_t *peer) {
    adxl_engine_t *engine = peer->engine;
    if (atomic_exchange(&peer->down, true)) return;
    pthread_mutex_lock(&engine->peers_lock);
    /* A peer still connecting is buried by adxl_peers_connect when it sees down; its
     * connect fails, and a link that never was up is not a dropped one. */
    bool was_up = peer->ready;
    if (was_up) bury_locked(engine, peer);
    pthread_mutex_unlock(&engine->peers_lock);
    if (!was_up) return;
    atomic_fetch_add(&engine->stats.links_dropped, 1);
    LOG_WARN("link to %s is down", peer->name);
}

adxl_status_t adxl_peers_connect(adxl_engine_t *engine, const char *name,
                                 const adxl_engine_addr_t *addr, uint64_t deadline) {
    adxl_peer_t *peer = calloc(1, sizeof(*peer));
    if (!peer) return ADXL_RESOURCE_EXHAUSTED;
    peer->engine = engine;
    snprintf(peer->name, sizeof(peer->name), "%s", name);
    atomic_init(&peer->refs, 1);
    atomic_init(&peer->down, false);
    adxl_remote_regions_init(&peer->regions);

    /* Claim the name first so that two connects to one peer cannot both proceed. A
     * connect that finds another one in progress waits for its outcome: a link (then
     * it is already connected), or none (then it tries itself). */
    pthread_mutex_lock(&engine->peers_lock);
    adxl_peer_t **slot;
    while ((slot = find_slot(engine, name)) && !(*slot)->ready) {
        struct timespec ts = adxl_deadline_timespec(deadline);
        if (pthread_cond_timedwait(&engine->peers_changed, &engine->peers_lock, &ts) == ETIMEDOUT) {
            pthread_mutex_unlock(&engine->peers_lock);
            adxl_peer_release(peer);
            return ADXL_TIMEOUT;
        }
    }
    if (slot) {
        pthread_mutex_unlock(&engine->peers_lock);
        adxl_peer_release(peer);
        return ADXL_ALREADY_CONNECTED;
    }
    peer->next = engine->peers;
    engine->peers = peer;
    pthread_mutex_unlock(&engine->peers_lock);

    adxl_link_t *link = NULL;
    const adxl_transport_ops_t *ops = NULL;
    adxl_status_t st = adxl_transports_connect(engine, peer, name, addr, deadline, &ops, &link);
    pthread_mutex_lock(&engine->peers_lock);
    peer->ops = ops;
    peer->link = link;
    if (st == ADXL_SUCCESS && atomic_load(&peer->down)) st = ADXL_FAILED;
    if (st == ADXL_SUCCESS) {
        peer->ready = true;
    } else {
        slot = find_slot(engine, name);
        if (slot && *slot == peer) *slot = peer->next;
    }
    pthread_cond_broadcast(&engine->peers_changed);
    pthread_mutex_unlock(&engine->peers_lock);
    if (st != ADXL_SUCCESS) {
        if (link) peer->ops->shutdown(link, ADXL_FAILED);
        adxl_peer_release(peer);
    }
    return st;
}

adxl_status_t adxl_peers_disconnect(adxl_engine_t *engine, const char *name) {
    pthread_mutex_lock(&engine->peers_lock);
    adxl_peer_t **slot = find_slot(engine, name);
    adxl_peer_t *peer = slot && (*slot)->ready ? *slot : NULL;
    if (peer) *slot = peer->next;
    pthread_mutex_unlock(&engine->peers_lock);
    if (!peer) return ADXL_NOT_CONNECTED;
    atomic_store(&peer->down, true);
    peer->ops->shutdown(peer->link, ADXL_NOT_CONNECTED);
    adxl_peer_release(peer);
    return ADXL_SUCCESS;
}

void adxl_peers_for_each_ready(adxl_engine_t *engine, void (*fn)(void *ctx, const char *name),
                               void *ctx) {
    pthread_mutex_lock(&engine->peers_lock);
    for (adxl_peer_t *p = engine->peers; p; p = p->next)
        if (p->ready) fn(ctx, p->name);
    pthread_mutex_unlock(&engine->peers_lock);
}

void adxl_peers_reap(adxl_engine_t *engine) {
    pthread_mutex_lock(&engine->peers_lock);
    adxl_peer_t *dead = engine->graveyard;
    engine->graveyard = NULL;
    pthread_mutex_unlock(&engine->peers_lock);
    while (dead) {
        adxl_peer_t *next = dead->next;
        dead->ops->shutdown(dead->link, ADXL_FAILED);
        adxl_peer_release(dead);
        dead = next;
    }
}

void adxl_peers_close_all(adxl_engine_t *engine) {
    for (;;) {
        pthread_mutex_lock(&engine->peers_lock);
        adxl_peer_t *peer = engine->peers;
        if (peer) engine->peers = peer->next;
        pthread_mutex_unlock(&engine->peers_lock);
        if (!peer) break;
        atomic_store(&peer->down, true);
        if (peer->link) peer->ops->shutdown(peer->link, ADXL_FAILED);
        adxl_peer_release(peer);
    }
    adxl_peers_reap(engine);
}

const char *adxl_peer_name(const adxl_peer_t *peer) {
    return peer->name;
}
