/*
 * The one interface every transport implements, and the services of the engine core that
 * transports may call. The core plans transfers into chunks and hands them to a link;
 * how bytes cross (sockets, shared memory, RDMA) is the transport's business alone.
 */
#ifndef ADXL_TRANSPORT_H
#define ADXL_TRANSPORT_H

#include "core/engine_name.h"
#include "net/host_facts.h"
#include "core/notify_queue.h"
#include "core/options.h"
#include "core/registry.h"
#include "core/remote_regions.h"

#include <adxl/adxl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct adxl_transport adxl_transport_t; /* one per engine and transport kind */
typedef struct adxl_link adxl_link_t;           /* one per outbound peer link */
typedef struct adxl_peer adxl_peer_t;           /* the core's view of an outbound peer */

typedef enum { ADXL_CHUNK_READ, ADXL_CHUNK_WRITE, ADXL_CHUNK_NOTIFY } adxl_chunk_kind_t;

/*
 * One contiguous piece: len bytes between local (this process) and remote (the target).
 * A descriptor cut into several pieces gives each the descriptor's whole remote range as
 * its span: the target checks the span, so that a descriptor straddling two regions is
 * refused however it was cut.
 */
typedef struct {
    uint8_t *local;
    uint64_t remote;
    uint64_t len;
    uint64_t span_addr;
    uint64_t span_len;
} adxl_segment_t;

/*
 * A unit of work that a transport carries as one message and answers as one: a list of
 * segments to write or read, or a notify. Owned by the transport from post until it
 * calls adxl_chunk_complete.
 */
typedef struct adxl_chunk {
    struct adxl_chunk *next; /* free for the transport's queues */
    uint64_t transport_tag;  /* free for the transport (the TCP frame id) */
    struct adxl_transfer_req *req;
    adxl_chunk_kind_t kind;
    /* The local side of the segments is the caller's memory: every access must happen
     * inside adxl_req_guard_enter/leave, and not at all once it says the caller gave up. */
    bool user_memory;
    /* The local side is device memory of this context (only on links whose device_direct
     * accepted the batch); NULL: host memory. */
    void *local_ctx;
    uint32_t nsegs;
    uint64_t bytes; /* sum of the segments' lengths */
    adxl_segment_t *segs;
    /* Buffered mode: the transit buffer the segments point into, and for READ the
     * caller's destinations (one per segment) that the data is scattered to. */
    uint8_t *pool_buffer;
    size_t pool_bytes;
    uint8_t **scatter;
    /* With scatter, when some destination is device memory: its context per segment
     * (NULL for host memory), so the scatter goes through the device runtime. */
    void **scatter_ctx;
    /* Notify: the name and message, copied at submission. */
    char *notify_name;
    char *notify_msg;
    uint32_t notify_name_len;
    uint32_t notify_msg_len;
} adxl_chunk_t;

/* A first-in first-out queue of chunks linked by next, for a transport's queues. */
typedef struct {
    adxl_chunk_t *head;
    adxl_chunk_t *tail;
} adxl_chunk_fifo_t;

static inline void adxl_chunk_fifo_push(adxl_chunk_fifo_t *f, adxl_chunk_t *c) {
    c->next = NULL;
    if (f->tail)
        f->tail->next = c;
    else
        f->head = c;
    f->tail = c;
}

/* The oldest chunk, taken off the queue; NULL when it is empty. */
static inline adxl_chunk_t *adxl_chunk_fifo_pop(adxl_chunk_fifo_t *f) {
    adxl_chunk_t *c = f->head;
    if (c) {
        f->head = c->next;
        if (!f->head) f->tail = NULL;
        c->next = NULL;
    }
    return c;
}

/* Every chunk, oldest first (linked by next), leaving the queue empty. */
static inline adxl_chunk_t *adxl_chunk_fifo_take(adxl_chunk_fifo_t *f) {
    adxl_chunk_t *c = f->head;
    f->head = f->tail = NULL;
    return c;
}

typedef struct {
    const char *name;
    /* Most segments a chunk may carry on this transport. */
    uint32_t max_chunk_segments;
    /* Buffered batches go straight from the caller's memory: the transport needs no
     * registered local memory, so a transit buffer would only add a copy. The batch is
     * still planned (and counted) as buffered under ADXL's rules. */
    bool buffered_in_place;
    /* Starts the transport; listens on listen_addr when it has a port and writes the
     * name peers reach us by into bound_name (ADXL_NAME_MAX bytes). */
    adxl_status_t (*start)(adxl_engine_t *engine, const adxl_engine_addr_t *listen_addr,
                           char *bound_name, adxl_transport_t **out);
    /* Closes the listener and every inbound connection; returns when their threads ended. */
    void (*stop)(adxl_transport_t *transport);
    /* remote_facts: what a probe learnt of the peer (NULL when none was made). */
    adxl_status_t (*connect)(adxl_transport_t *transport, adxl_peer_t *peer,
                             const char *remote_name, const adxl_engine_addr_t *remote,
                             const adxl_host_facts_t *remote_facts, uint64_t deadline,
                             adxl_link_t **out);
    /* Fails everything in flight with status and returns once the link's threads ended.
     * Never called from a thread of the link itself. Idempotent. */
    void (*shutdown)(adxl_link_t *link, adxl_status_t status);
    void (*destroy)(adxl_link_t *link);
    /* Takes the chunk. A link that is down completes it with an error (maybe at once). */
    void (*post)(adxl_link_t *link, adxl_chunk_t *chunk);
    /* Tells every inbound peer that a local range was registered or deregistered: the
     * registry's copy of the region, with its slot and generation (registry.h), and
     * whether it is device memory, reached only through the engine's device runtime. A
     * removal returns only once no peer of this transport can still touch the range. */
    void (*publish)(adxl_transport_t *transport, const adxl_region_t *region, bool added);
    /* Optional: asks the engine at remote for its host facts without linking to it. */
    adxl_status_t (*probe)(adxl_transport_t *transport, const adxl_engine_addr_t *remote,
                           uint64_t deadline, adxl_host_facts_t *out);
    /* Optional: offers, in the engine's host facts, what a peer's transport needs to reach
     * this one (adxl_host_facts_offer under the transport's name); called once, after
     * start, before any probe is answered. */
    void (*advertise)(adxl_transport_t *transport, adxl_host_facts_t *facts);
    /* Optional: under Transport=auto, whether this transport should carry a link to a
     * peer whose probe said remote (local: this engine's facts). The first transport
     * after TCP that says yes gets the link; none: TCP. */
    bool (*suits)(adxl_transport_t *transport, const adxl_host_facts_t *local,
                  const adxl_host_facts_t *remote);
    /* Optional, for transports whose hardware works on the caller's memory after post
     * (so that adxl_req_guard_enter cannot fence it): the caller gave up on req; return
     * only once nothing of the link can touch the local memory of req's chunks again. */
    void (*abandon)(adxl_link_t *link, struct adxl_transfer_req *req);
    /* Optional: whether the link moves this batch itself with its local side in device
     * memory (device-to-device, one-sided), so that the core need not stage it through
     * host memory. The link must then carry every chunk of it with the device runtime,
     * or fail it; never touch its local memory from the CPU. */
    bool (*device_direct)(adxl_link_t *link, const adxl_transfer_op_desc_t *descs,
                          size_t num_descs);
    /* Optional, for a transport that learns of the peer's regions on request: before a
     * batch is planned, asks the peer about the remote ranges the link does not know yet
     * and waits for the answer (until deadline at most), so that the batch is planned,
     * and posted from the caller's thread, as if the link had known them all along. */
    void (*learn_regions)(adxl_link_t *link, const adxl_transfer_op_desc_t *descs, size_t num_descs,
                          uint64_t deadline);
    /* Optional: progress from a waiting caller's thread (the short spin of a synchronous
     * wait), so that a quick completion needs no wake-up of the transport's thread. */
    void (*poll)(adxl_link_t *link);
} adxl_transport_ops_t;

extern const adxl_transport_ops_t adxl_tcp_transport;
extern const adxl_transport_ops_t adxl_shm_transport;
#ifdef ADXL_HAVE_UCX
extern const adxl_transport_ops_t adxl_ucx_transport;
#endif

/* ---- Transport selection (transport.c), for the core ---- */

#define ADXL_MAX_TRANSPORTS 3

typedef struct {
    const adxl_transport_ops_t *ops;
    adxl_transport_t *instance;
} adxl_transport_slot_t;

/* Starts TCP (which owns the engine's name and listener) and, unless Transport is tcp,
 * the shared-memory transport. */
adxl_status_t adxl_transports_start(adxl_engine_t *engine, const adxl_engine_addr_t *listen_addr,
                                    char *bound_name);
void adxl_transports_stop(adxl_engine_t *engine);
void adxl_transports_publish(adxl_engine_t *engine, const adxl_region_t *region, bool added);
/* Picks the transport for a new link (shm for a peer on this host unless Transport is tcp)
 * and connects it; *ops is the transport that made *out. */
adxl_status_t adxl_transports_connect(adxl_engine_t *engine, adxl_peer_t *peer,
                                      const char *remote_name, const adxl_engine_addr_t *remote,
                                      uint64_t deadline, const adxl_transport_ops_t **ops,
                                      adxl_link_t **out);

/* ---- What the core offers transports ---- */

const adxl_config_t *adxl_engine_config(const adxl_engine_t *engine);
adxl_registry_t *adxl_engine_registry(adxl_engine_t *engine);
adxl_notify_queue_t *adxl_engine_notifies(adxl_engine_t *engine);
const char *adxl_engine_name(const adxl_engine_t *engine);
/* This engine's host facts, with the endpoint of every transport that offers one. */
const adxl_host_facts_t *adxl_engine_host_facts(const adxl_engine_t *engine);
/* The transit pool's memory (base NULL when the pool is off), for transports that
 * register it once. */
void adxl_engine_transit_memory(adxl_engine_t *engine, uint8_t **base, size_t *len);
/* The engine's device runtime (NULL for none) and the context current at initialize,
 * which is the engine's own for what belongs to no region (peers' IPC mappings). */
const adxl_device_runtime_t *adxl_engine_device(const adxl_engine_t *engine, void **ctx);
/* Adds bytes to the adxl_stats_t counter at stats_field (offsetof(adxl_stats_t, ...)):
 * how a transport moved an initiator's bytes, counted in the public field that names
 * that path (bytes_cma, bytes_ucx, ...), so that the core names no transport's paths. */
void adxl_engine_count(adxl_engine_t *engine, size_t stats_field, uint64_t bytes);
/* Counts a request frame served or refused as a target. */
void adxl_engine_count_served(adxl_engine_t *engine, bool refused);

/* The link of peer failed (reset, protocol error, silence): the core forgets the peer
 * so that new transfers see NOT_CONNECTED. May be called from the link's own threads. */
void adxl_peer_link_down(adxl_peer_t *peer);
adxl_remote_regions_t *adxl_peer_regions(adxl_peer_t *peer);
const char *adxl_peer_name(const adxl_peer_t *peer);

/* Returns false, without entering, when the caller already gave up on the request; the
 * transport must then neither read nor write the chunk's local memory. */
bool adxl_req_guard_enter(struct adxl_transfer_req *req);
void adxl_req_guard_leave(struct adxl_transfer_req *req);
/* The transport is done with chunk; call with no transport lock held. */
void adxl_chunk_complete(adxl_chunk_t *chunk, adxl_status_t status);
/* adxl_chunk_complete for every chunk of a list linked by next. */
void adxl_chunk_complete_all(adxl_chunk_t *list, adxl_status_t status);

#endif
