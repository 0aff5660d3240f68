/* The TCP transport's private structures, shared by its files and no one else. */
#ifndef ADXL_TCP_INTERNAL_H
#define ADXL_TCP_INTERNAL_H

#include "transport/tcp/tcp_wire.h"
#include "net/listener.h"
#include "net/served.h"
#include "transport/transport.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/uio.h>

#define TCP_MAX_STREAMS ADXL_TCP_STREAMS_MAX /* the option's bound (core/options.h) */
#define TCP_MAX_INBOUND 4096                 /* connections a target serves at once */
#define TCP_IOV_MAX 1024
/* Bytes a stream sinks (or sends as zeros) at a time for a piece whose memory it may no
 * longer touch: the size of each stream's rx_discard and of the zero page. */
#define TCP_DISCARD_BYTES (64u * 1024u)

typedef struct adxl_link tcp_link_t; /* the TCP flavour of a link */

/*
 * One connection of an outbound link, owned by one thread that does all its receiving
 * and, unless a caller got there first, its sending. Requests and answers keep the same
 * order on a connection, so the answer in hand always belongs to the oldest sent chunk.
 */
typedef struct {
    tcp_link_t *link;
    int fd;
    int wake_fd;
    pthread_t thread;
    bool thread_started;

    pthread_mutex_t lock; /* the lists, closed, and all tx state */
    adxl_chunk_fifo_t unsent;
    adxl_chunk_fifo_t sent; /* awaiting their answer, oldest first */
    bool closed;            /* drained for good: posts complete at once */
    atomic_ullong outstanding_bytes;

    /* tx: the frame being sent; a chunk's frame is already on the sent list */
    bool tx_active;
    adxl_chunk_t *tx_chunk; /* NULL while a control frame (PING) is going out */
    bool ping_due;
    uint64_t last_ping_ns;
    uint64_t last_frame_ns; /* when the last frame (a ping included) started out */
    uint8_t *tx_meta;       /* header, items table or notify body */
    size_t tx_meta_len;
    size_t tx_meta_off;
    uint32_t tx_seg;
    uint64_t tx_seg_off;
    uint64_t next_id;

    /* rx, touched by the stream thread only */
    uint8_t rx_hdr[TCP_FRAME_HEADER];
    size_t rx_hdr_got;
    tcp_frame_header_t rx_frame;
    int rx_state;
    uint32_t rx_seg;
    uint64_t rx_seg_off;
    uint64_t rx_left;
    uint8_t rx_trailer[TCP_TRAILER];
    size_t rx_trailer_got;
    uint8_t *rx_regions; /* region items being received */
    uint8_t *rx_discard; /* TCP_DISCARD_BYTES: sink for bytes whose destination was given up */

    /* Last time the peer showed it is alive: bytes received, or a chunk's bytes accepted
     * by the socket (the peer is draining). A stopped peer shows neither. */
    _Atomic uint64_t last_alive_ns;
    _Atomic uint64_t last_rx_ns;
} tcp_stream_t;

struct adxl_link {
    struct adxl_transport *transport;
    adxl_peer_t *peer;
    int nstreams;
    tcp_stream_t streams[TCP_MAX_STREAMS];
    atomic_bool failed;
    _Atomic adxl_status_t fail_status;
    atomic_uint rr; /* round robin among equally loaded streams */
};

/* A connection accepted from an initiator, served by its own thread. */
typedef struct tcp_inbound {
    adxl_served_t served; /* first: the list's entry */
    struct adxl_transport *transport;
    int fd;
    int wake_fd;
    bool publishes; /* stream 0 of its link: gets region updates */
    adxl_notify_source_t *notify_source;
    pthread_mutex_t lock; /* pending region updates */
    uint8_t *updates;     /* queued REGION frames, ready to send */
    size_t updates_len;
    size_t updates_cap;
    size_t updates_last; /* offset of the last frame's header, which may take more items */
    uint8_t *items;      /* the piece table of the frame in hand, as received */
    tcp_piece_t *pieces; /* the same, decoded */
    struct iovec *iov;   /* TCP_IOV_MAX */
} tcp_inbound_t;

struct adxl_transport {
    adxl_engine_t *engine;
    const adxl_config_t *config;
    int listen_fd; /* -1: client only */
    int stop_fd;
    adxl_listener_t listener;
    adxl_served_list_t served; /* the inbound connections (served.h) */
};

/* tcp_stream.c */
void *tcp_stream_main(void *arg);
void tcp_stream_post(tcp_stream_t *s, adxl_chunk_t *chunk);
void tcp_link_fail(tcp_link_t *link, adxl_status_t status);

/* tcp_target.c */
void *tcp_inbound_main(void *arg);
void tcp_inbound_queue_update(tcp_inbound_t *in, uint16_t type, uintptr_t addr, size_t len);

#endif
