/*
 * The checks a TCP peer's bytes must pass before anything acts on them, beyond the field
 * decoding of tcp_wire.h: which headers, piece tables, notify bodies and answers are
 * acceptable. Pure functions of their arguments (the registry check aside), so that the
 * connection threads and the fuzzers under tests/fuzz/ run the very same code.
 */
#ifndef ADXL_TCP_PARSE_H
#define ADXL_TCP_PARSE_H

#include "core/registry.h"
#include "transport/tcp/tcp_wire.h"

#include <adxl/adxl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An initiator's engine name in HELLO: printable ASCII only (it is logged), as every
 * engine name is. */
bool tcp_hello_name_valid(const char *name, size_t len);

/* Target side: a request header, before any of its body is read. false: a broken peer
 * (unknown type, item count outside 1..TCP_MAX_ITEMS, a length the type cannot have).
 * *meta_len is what to read next: the piece table (WRITE, READ) or the body (NOTIFY). */
bool tcp_request_header_check(const tcp_frame_header_t *h, size_t *meta_len);

/* Target side: decodes a table of count (1..TCP_MAX_ITEMS) pieces into pieces[]. false: a
 * piece is not valid (tcp_piece_valid) or the pieces add up to more than
 * TCP_MAX_PAYLOAD. *total is the sum of their lengths. */
bool tcp_pieces_decode(const uint8_t *table, uint32_t count, tcp_piece_t *pieces, uint64_t *total);

/* Target side, with the registry pinned: may a peer touch pieces [from, count)? Each
 * piece's whole span must lie inside one registered region, not just the piece. */
bool tcp_pieces_allowed(const adxl_registry_t *registry, const tcp_piece_t *pieces, uint32_t from,
                        uint32_t count);

typedef struct {
    const char *name; /* both point into the body; neither is NUL-terminated */
    uint32_t name_len;
    const char *msg;
    uint32_t msg_len;
} tcp_notify_body_t;

/* Target side: a NOTIFY body of len bytes: each string at most ADXL_NOTIFY_MAX_LEN, the
 * two lengths adding up to the body, and no NUL byte (the strings handed to the
 * application would differ from what was sent). */
bool tcp_notify_decode(const uint8_t *body, uint64_t len, tcp_notify_body_t *out);

/* Initiator side: what the oldest unanswered request of a connection awaits. type is
 * the answer's frame type (ACK, DATA, NOTIFY_ACK), or 0 when nothing may be answered
 * yet (no request, or its frame is still going out). */
typedef struct {
    uint16_t type;
    uint64_t id;
    uint64_t bytes; /* a READ's payload */
} tcp_awaited_t;

/* Initiator side: an answer's header against what is awaited. An ACK or NOTIFY_ACK must
 * be the awaited type with its id; DATA too, carrying exactly the bytes asked for or none
 * (a refusal); REGION frames carry 1..TCP_MAX_ITEMS items and no length; PONG anytime.
 * false: a broken peer. */
bool tcp_answer_header_check(const tcp_frame_header_t *h, const tcp_awaited_t *awaited);

/* Initiator side: the status a DATA trailer carries. A refusal (no payload) must carry a
 * reason: "success" without the data is a broken peer, read as ADXL_FAILED. */
adxl_status_t tcp_data_trailer_status(const uint8_t trailer[TCP_TRAILER], uint64_t length);

/* Initiator side, during connect: a frame of the target's region snapshot, REGION_ADD of
 * at most TCP_MAX_ITEMS items (0 ends the snapshot) and no length. */
bool tcp_snapshot_header_check(const tcp_frame_header_t *h);

#endif
