/*
 * Outbound peers: the links this engine opened with adxl_connect, by remote name.
 *
 * A peer is reference counted: the table holds one, every request to it holds one.
 * A failed link leaves the table at once (new transfers see NOT_CONNECTED) and waits in
 * the graveyard until a caller's thread shuts it down, since a link's own threads cannot
 * wait for themselves.
 */
#ifndef ADXL_PEER_H
#define ADXL_PEER_H

#include "core/engine_name.h"
#include "core/remote_regions.h"
#include "transport/transport.h"

#include <stdatomic.h>

struct adxl_peer {
    struct adxl_peer *next; /* in the engine's table or graveyard */
    adxl_engine_t *engine;
    char name[ADXL_NAME_MAX];
    atomic_uint refs;
    atomic_bool down;
    bool ready; /* under the engine's peers lock: connected and usable */
    const adxl_transport_ops_t *ops;
    adxl_link_t *link;
    adxl_remote_regions_t regions;
};

void adxl_peer_retain(adxl_peer_t *peer);
void adxl_peer_release(adxl_peer_t *peer);
void adxl_peer_post(adxl_peer_t *peer, adxl_chunk_t *chunk);
uint32_t adxl_peer_max_segments(const adxl_peer_t *peer);
/* Brings the link's view of the peer's regions up to date for these descriptors where
 * its transport learns them on request (adxl_transport_ops_t.learn_regions). */
void adxl_peer_learn_regions(adxl_peer_t *peer, const adxl_transfer_op_desc_t *descs,
                             size_t num_descs, uint64_t deadline);
bool adxl_peer_buffered_in_place(const adxl_peer_t *peer);
/* The peer's link moves this batch with device memory on our side itself. */
bool adxl_peer_device_direct(adxl_peer_t *peer, const adxl_transfer_op_desc_t *descs,
                             size_t num_descs);

/* How many regions the engine's connected peers told it about, all peers together. */
size_t adxl_peers_regions_count(adxl_engine_t *engine);
/* A usable peer by name, with a reference the caller releases, or NULL. */
adxl_peer_t *adxl_peers_find(adxl_engine_t *engine, const char *name);
adxl_status_t adxl_peers_connect(adxl_engine_t *engine, const char *name,
                                 const adxl_engine_addr_t *addr, uint64_t deadline);
adxl_status_t adxl_peers_disconnect(adxl_engine_t *engine, const char *name);
/* Calls fn with the name of every usable peer, with the peers lock held. */
void adxl_peers_for_each_ready(adxl_engine_t *engine, void (*fn)(void *ctx, const char *name),
                               void *ctx);
/* Shuts down the links of failed peers. Call from API entry points only. */
void adxl_peers_reap(adxl_engine_t *engine);
/* Disconnects every peer (finalize). */
void adxl_peers_close_all(adxl_engine_t *engine);

#endif
