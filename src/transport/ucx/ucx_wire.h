/*
 * The UCX transport's control link: a TCP connection from the initiator to the target's
 * UCX listener that carries what UCX itself does not: the handshake (with the shared
 * secret when one is set), the target's worker address, the packed remote keys of the
 * regions an initiator asks for (the first time it moves bytes to or from each), the
 * revocations of those keys, which it acknowledges once nothing of its own can touch the
 * region, and notifies.
 * The bytes of transfers never cross it. See docs/WIRE.md for the layouts.
 *
 * Everything here is pure: the parse checks are fuzzed (tests/fuzz/fuzz_ucx_messages.c).
 */
#ifndef ADXL_UCX_WIRE_H
#define ADXL_UCX_WIRE_H

#include "net/auth.h"
#include "net/host_facts.h"
#include "net/wire_codec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UCX_WIRE_MAGIC 0x55584441u /* "ADXU" */
#define UCX_WIRE_VERSION 2u
#define UCX_MSG_HEADER 12u        /* magic u32, type u16, reserved u16, length u32 */
#define UCX_MSG_MAX (64u * 1024u) /* the most payload one message may carry */
#define UCX_RKEY_MAX 4096u        /* a packed remote key */
#define UCX_ADDRESS_MAX 8192u     /* a worker address */

typedef enum {
    UCX_MSG_HELLO = 1,       /* I->T: version, initiator nonce */
    UCX_MSG_HELLO_ACK = 2,   /* T->I: status, flags, target nonce, target proof */
    UCX_MSG_AUTH = 3,        /* I->T: initiator proof (zeros without a secret) */
    UCX_MSG_WELCOME = 4,     /* T->I: the target's worker address */
    UCX_MSG_REGION_ADD = 5,  /* T->I: addr, len, 0, packed rkey: a key asked for */
    UCX_MSG_REGION_DEL = 6,  /* T->I: addr, len, sequence number: a key withdrawn */
    UCX_MSG_REGION_ACK = 7,  /* I->T: sequence number of a withdrawal now in effect */
    UCX_MSG_READY = 8,       /* T->I: set-up is done */
    UCX_MSG_NOTIFY = 9,      /* I->T: id, name length, message length, name, message */
    UCX_MSG_NOTIFY_ACK = 10, /* T->I: id, status */
    UCX_MSG_KEY_REQ = 11,    /* I->T: id, count, count x (addr, len): the keys of these */
    UCX_MSG_KEY_DONE = 12    /* T->I: id: every key of that request it has is sent */
} ucx_msg_type_t;

#define UCX_HELLO_SIZE (4u + ADXL_AUTH_NONCE_BYTES)
/* HELLO_ACK flags */
#define UCX_FLAG_AUTH 0x1u         /* the target authenticates: AUTH must prove the secret */
#define UCX_FLAG_UNREGISTERED 0x2u /* the target serves unregistered memory (TCP only) */
#define UCX_HELLO_ACK_SIZE (8u + ADXL_AUTH_NONCE_BYTES + ADXL_AUTH_PROOF_BYTES)
#define UCX_AUTH_SIZE ADXL_AUTH_PROOF_BYTES
#define UCX_REGION_ADD_FIXED 24u
#define UCX_REGION_DEL_SIZE 24u
#define UCX_REGION_ACK_SIZE 8u
#define UCX_NOTIFY_FIXED 16u
#define UCX_NOTIFY_ACK_SIZE 12u
#define UCX_KEY_REQ_FIXED 12u
#define UCX_KEY_REQ_ENTRY 16u
/* Ranges in one KEY_REQ: an initiator asks for one chunk's at a time, and a chunk has at
 * most UCX_MAX_CHUNK_SEGMENTS pieces. */
#define UCX_KEY_REQ_MAX 256u
#define UCX_MAX_CHUNK_SEGMENTS UCX_KEY_REQ_MAX
#define UCX_KEY_DONE_SIZE 8u

typedef struct {
    uint16_t type;
    uint32_t length;
} ucx_msg_header_t;

/* What the transport offers in the host facts (net/host_facts.h): its control port (a TCP
 * port on the engine's address) and its flags. */
#define UCX_OFFER_SIZE 4u
#define UCX_OFFER_RDMA 0x1u /* UCX found a device that does RDMA (InfiniBand, RoCE) */
void ucx_offer_encode(uint8_t out[UCX_OFFER_SIZE], uint16_t port, bool rdma);
/* False when the peer offers no UCX transport, or an offer of another size or port 0. */
bool ucx_offer_decode(const adxl_host_facts_t *facts, uint16_t *port, bool *rdma);

void ucx_header_encode(uint8_t out[UCX_MSG_HEADER], uint16_t type, uint32_t length);
/* False unless the magic is ours and the length at most UCX_MSG_MAX. */
bool ucx_header_decode(const uint8_t in[UCX_MSG_HEADER], ucx_msg_header_t *out);

/*
 * Whether a message of this type may have this payload: fixed sizes exact, variable
 * parts within their limits, lengths inside the message. expect_target: the message
 * came to a target (from an initiator); the other direction otherwise.
 */
bool ucx_msg_valid(uint16_t type, const uint8_t *payload, uint32_t length, bool to_target);

#endif
