/*
 * The UCX transport: adxl over UCP one-sided operations (put/get), for fabrics that
 * UCX drives (InfiniBand, RoCE) and, for testing on ordinary hosts, UCX's own TCP and
 * shared-memory transports.
 *
 * One UCP context and one worker per engine. Every worker call happens under
 * worker_lock: callers post from their own threads (no wake-up per transfer), and one
 * progress thread sleeps on the worker's event descriptor when nothing is in flight.
 * UCX callbacks run inside ucp_worker_progress with that lock held, so they only move
 * finished operations to a list; whoever drops the lock completes them afterwards
 * (completion can post new chunks, which takes the lock again).
 *
 *   ucx.c         context, worker, progress thread, start/stop, selection facts
 *   ucx_target.c  control listener, inbound control links, registered regions (memh
 *                 and packed rkeys), publishing registrations and revocations
 *   ucx_link.c    the initiator: control link, endpoint, remote keys, posting, abandon
 *   ucx_wire.c    control-link messages and their checks
 */
#ifndef ADXL_UCX_INTERNAL_H
#define ADXL_UCX_INTERNAL_H

#include "core/notify_queue.h"
#include "net/listener.h"
#include "net/served.h"
#include "transport/transport.h"
#include "transport/ucx/ucx_wire.h"

#include "core/region_set.h"

#include <pthread.h>
#include <stdatomic.h>
#include <ucp/api/ucp.h>

#define UCX_MAX_INBOUND 1024

typedef struct ucx_transport ucx_transport_t;
typedef struct ucx_link ucx_link_t;

/* What a range of a key table holds: its entries newest first, each starting with this.
 * A range deregistered on one target thread and registered again on another can be
 * announced again before it is withdrawn; the newest entry is the one in effect. */
typedef struct ucx_stacked {
    struct ucx_stacked *older;
} ucx_stacked_t;

/* Takes the oldest entry off the range (the one a withdrawal is for), removing the range
 * from set when that was its last. */
void *ucx_stack_take_oldest(adxl_region_set_t *set, adxl_region_t *range);

/* A region this engine registered: its UCP mapping and packed remote key, and the
 * control links that were given the key (only those must let go of it before the region
 * may be deregistered). */
typedef struct ucx_region {
    ucx_stacked_t stack; /* first: see ucx_stacked_t */
    uintptr_t addr;
    size_t len;
    ucp_mem_h memh;
    void *rkey_buf;
    size_t rkey_len;
    uint64_t *holders; /* ids of the inbound links that hold the key */
    uint32_t holder_count, holder_cap;
} ucx_region_t;

/* The target's end of one control link. */
typedef struct ucx_inbound {
    adxl_served_t served; /* first: the list's entry */
    ucx_transport_t *transport;
    uint64_t id; /* never reused: what a region's holders name */
    int fd;
    int wake_fd;   /* stop: the link's thread ends */
    int outbox_fd; /* withdrawals wait in the outbox */
    char who[ADXL_NAME_MAX];
    pthread_mutex_t write_lock;
    /* Under the transport's regions_lock: */
    bool listed;        /* may be given keys, and must acknowledge their withdrawal */
    uint64_t acked_seq; /* the newest withdrawal it acknowledged */
    /* REGION_DEL messages for the link's thread to send (UCX_REGION_DEL_SIZE each): a
     * revocation never writes to a peer's socket itself, so no peer that stops reading
     * can hold up the transport's locks. */
    uint8_t *outbox;
    size_t outbox_len, outbox_cap;
    adxl_notify_source_t *notify_source;
} ucx_inbound_t;

/* A chunk in flight: its UCX requests and the first error among them. */
typedef struct ucx_op {
    struct ucx_op *prev, *next; /* in the link's in-flight list */
    struct ucx_op *done_next;   /* in the transport's finished list */
    ucx_link_t *link;
    adxl_chunk_t *chunk;
    int pending;             /* UCX requests not yet completed, plus one while posting */
    ucs_status_t status;     /* first error */
    adxl_status_t override;  /* set when the link cancelled it: the status to report */
    bool resubmit;           /* cancelled by an endpoint reset: post again */
    bool keys_asked;         /* the target was asked for the keys it lacked */
    uint64_t key_id;         /* that request's, while it waits for the answer */
    struct ucx_op *key_next; /* in the link's list of ops waiting for keys */
} ucx_op_t;

struct ucx_transport {
    adxl_engine_t *engine;
    const adxl_config_t *config;
    ucp_context_h context;
    ucp_worker_h worker;
    pthread_mutex_t worker_lock;
    int event_fd; /* the worker's */
    int wake_fd;
    atomic_bool stopping;
    pthread_t progress_thread;
    bool progress_started;
    atomic_int ops_in_flight;
    ucx_op_t *done_head; /* finished ops, under worker_lock */
    void *address;
    size_t address_len;
    bool rdma;            /* what the facts say: a device, or ADXL_UCX_ASSUME_RDMA=1 */
    bool has_rdma_device; /* what UCX found */
    bool cuda_memory;     /* this UCX build moves CUDA memory itself (GPUDirect) */
    /* The transit pool, mapped once so that buffered chunks need no registration. */
    ucp_mem_h pool_memh;
    uint8_t *pool_base;
    size_t pool_len;
    /* Control listener. */
    int listen_fd;
    int stop_fd;
    adxl_listener_t listener;
    adxl_served_list_t served; /* the control links it serves */
    _Atomic uint64_t next_inbound_id;
    /* Registered regions, and the control links that hold their keys. */
    pthread_mutex_t regions_lock;
    pthread_cond_t regions_cond;
    adxl_region_set_t regions; /* each range's tag: its ucx_region_t stack */
    uint64_t update_seq;       /* of the newest withdrawal sent */
};

/* ucx.c */
/* The finished ops, taken with worker_lock held; completed once it is dropped. */
ucx_op_t *ucx_take_finished(ucx_transport_t *t);
void ucx_complete_finished(ucx_transport_t *t, ucx_op_t *list);
/* Both, taking the lock for the first (for the rare paths that hold no lock). */
void ucx_run_finished(ucx_transport_t *t);
void ucx_op_release_request(ucx_op_t *op, void *request, ucs_status_t status);
adxl_status_t ucx_status(ucs_status_t st);
/* The handshake and message I/O of control links (blocking, with a deadline). */
bool ucx_msg_send(int fd, pthread_mutex_t *write_lock, uint16_t type, const void *payload,
                  uint32_t length, int stop_fd, uint64_t deadline);
bool ucx_msg_send2(int fd, pthread_mutex_t *write_lock, uint16_t type, const void *a,
                   uint32_t a_len, const void *b, uint32_t b_len, int stop_fd, uint64_t deadline);
bool ucx_msg_recv(int fd, ucx_msg_header_t *h, uint8_t *payload, int stop_fd, uint64_t deadline,
                  bool to_target);

/* ucx_target.c */
void ucx_target_init(ucx_transport_t *t);
adxl_status_t ucx_target_listen(ucx_transport_t *t, const adxl_engine_addr_t *listen_addr,
                                uint16_t *port);
void ucx_target_stop(ucx_transport_t *t);
void ucx_publish(adxl_transport_t *transport, const adxl_region_t *region, bool added);

/* ucx_link.c */
adxl_status_t ucx_connect(adxl_transport_t *transport, adxl_peer_t *peer, const char *remote_name,
                          const adxl_engine_addr_t *remote, const adxl_host_facts_t *remote_facts,
                          uint64_t deadline, adxl_link_t **out);
void ucx_shutdown(adxl_link_t *link, adxl_status_t status);
void ucx_destroy(adxl_link_t *link);
void ucx_post(adxl_link_t *link, adxl_chunk_t *chunk);
void ucx_abandon(adxl_link_t *link, struct adxl_transfer_req *req);
void ucx_learn_regions(adxl_link_t *link, const adxl_transfer_op_desc_t *descs, size_t num_descs,
                       uint64_t deadline);
void ucx_poll(adxl_link_t *link);
/* An op finished (pending reached 0): off its link's list, onto the finished list. With
 * worker_lock held. */
void ucx_op_finish(ucx_op_t *op);
/* Posts a chunk again after an endpoint reset. */
void ucx_repost(ucx_op_t *op);

#endif
