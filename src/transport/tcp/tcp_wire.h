/*
 * The TCP transport's wire format (docs/WIRE.md describes it for humans). Everything is
 * little-endian. A connection opens with HELLO / HELLO_ACK, then carries frames, each a
 * 24-byte header followed by a type-specific body.
 */
#ifndef ADXL_TCP_WIRE_H
#define ADXL_TCP_WIRE_H

#include "net/auth.h"
#include "net/host_facts.h"
#include "net/wire_codec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TCP_WIRE_MAGIC 0x4C445841u /* "ADXL" */
#define TCP_WIRE_VERSION 4u

#define TCP_HELLO_FIXED 56u     /* bytes before the name */
#define TCP_HELLO_ACK_FIXED 80u /* bytes before the name */
#define TCP_AUTH_SIZE 36u       /* AUTH: magic, the initiator's proof */
#define TCP_AUTH_OK_SIZE 8u     /* AUTH_OK: magic, status */
#define TCP_HELLO_FLAG_AUTH 1u  /* this end holds a shared secret (AuthSecret) */
#define TCP_HELLO_NAME_MAX 64u

/* A probe's answer: HELLO_ACK, then the length of the target's host facts in this many
 * bytes, then the facts (net/host_facts.h: at most ADXL_FACTS_WIRE_MAX bytes). */
#define TCP_FACTS_LEN_SIZE 2u
_Static_assert(ADXL_FACTS_WIRE_MAX <= UINT16_MAX, "the facts' length fits its field");

#define TCP_FRAME_HEADER 24u
#define TCP_ITEM_SIZE 16u  /* a region: address, length */
#define TCP_PIECE_SIZE 32u /* a piece of a transfer: address, length, and its span */
#define TCP_MAX_ITEMS 4096u
/* The largest payload one frame may carry: a whole 1 GiB transit buffer. */
#define TCP_MAX_PAYLOAD (1ull << 30)
#define TCP_NOTIFY_FIXED 8u
#define TCP_TRAILER 4u

enum tcp_frame_type {
    TCP_FRAME_WRITE = 1,      /* items, then payload; answered by ACK */
    TCP_FRAME_READ = 2,       /* items; answered by DATA */
    TCP_FRAME_ACK = 3,        /* count = status */
    TCP_FRAME_DATA = 4,       /* payload of `length` bytes, then a 4-byte status trailer */
    TCP_FRAME_NOTIFY = 5,     /* u32 name_len, u32 msg_len, name, msg; answered by NOTIFY_ACK */
    TCP_FRAME_NOTIFY_ACK = 6, /* count = status */
    TCP_FRAME_PING = 7,
    TCP_FRAME_PONG = 8,
    TCP_FRAME_REGION_ADD = 9, /* target to initiator: items it registered */
    TCP_FRAME_REGION_DEL = 10,
};

typedef struct {
    uint16_t type;
    uint16_t flags;
    uint32_t count;  /* items, or a status */
    uint64_t id;     /* chosen by the initiator, echoed in the answer */
    uint64_t length; /* payload or body bytes */
} tcp_frame_header_t;

typedef struct {
    uint32_t magic;
    uint16_t version;
    uint16_t stream_index;
    uint16_t stream_count;
    uint16_t name_len;
    uint64_t link_id;
    uint32_t flags;
    uint8_t nonce[ADXL_AUTH_NONCE_BYTES]; /* the initiator's, for authentication */
    char name[TCP_HELLO_NAME_MAX + 1];
} tcp_hello_t;

typedef struct {
    uint32_t magic;
    uint16_t version;
    uint16_t name_len;
    uint32_t status;
    uint32_t flags;
    uint8_t nonce[ADXL_AUTH_NONCE_BYTES]; /* the target's */
    uint8_t proof[ADXL_AUTH_PROOF_BYTES]; /* the target's, when it authenticates */
    char name[TCP_HELLO_NAME_MAX + 1];
} tcp_hello_ack_t;

void tcp_frame_header_encode(uint8_t out[TCP_FRAME_HEADER], const tcp_frame_header_t *h);
void tcp_frame_header_decode(const uint8_t in[TCP_FRAME_HEADER], tcp_frame_header_t *h);
void tcp_item_encode(uint8_t out[TCP_ITEM_SIZE], uint64_t addr, uint64_t len);
void tcp_item_decode(const uint8_t in[TCP_ITEM_SIZE], uint64_t *addr, uint64_t *len);

typedef struct {
    uint64_t addr;
    uint64_t len;
    uint64_t span_addr; /* the whole descriptor the piece was cut from */
    uint64_t span_len;
} tcp_piece_t;

void tcp_piece_encode(uint8_t out[TCP_PIECE_SIZE], const tcp_piece_t *p);
void tcp_piece_decode(const uint8_t in[TCP_PIECE_SIZE], tcp_piece_t *p);
/* Non-zero, not wrapping, and inside its span. */
bool tcp_piece_valid(const tcp_piece_t *p);

/* Encoded size, at most TCP_HELLO_FIXED + TCP_HELLO_NAME_MAX. */
size_t tcp_hello_encode(uint8_t *out, const tcp_hello_t *h);
/* Decodes the fixed part; false on a wrong magic or version or an impossible length. */
bool tcp_hello_decode_fixed(const uint8_t in[TCP_HELLO_FIXED], tcp_hello_t *h);
/* A HELLO with stream_count 0 asks only for the target's host facts (no link). */
static inline bool tcp_hello_is_probe(const tcp_hello_t *h) {
    return h->stream_count == 0;
}
size_t tcp_hello_ack_encode(uint8_t *out, const tcp_hello_ack_t *h);
bool tcp_hello_ack_decode_fixed(const uint8_t in[TCP_HELLO_ACK_FIXED], tcp_hello_ack_t *h);

void tcp_auth_encode(uint8_t out[TCP_AUTH_SIZE], const uint8_t proof[ADXL_AUTH_PROOF_BYTES]);
/* False on a wrong magic. */
bool tcp_auth_decode(const uint8_t in[TCP_AUTH_SIZE], uint8_t proof[ADXL_AUTH_PROOF_BYTES]);
void tcp_auth_ok_encode(uint8_t out[TCP_AUTH_OK_SIZE], uint32_t status);
bool tcp_auth_ok_decode(const uint8_t in[TCP_AUTH_OK_SIZE], uint32_t *status);

#endif
