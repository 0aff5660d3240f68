/*
 * The UCX transport's control link: a TCP connection from the initiator to the target's
 * UCX listener that carries what UCX itself does not: the handshake (with the shared
 * secret when one is set), the target's worker address, a packed remote key for every
 * region the target registers (at link set-up and later), revocations that the
 * initiator acknowledges once nothing of its own can touch the region, and notifies.
 * The bytes of transfers never cross it. See docs/WIRE.md for the layouts.
 *
 * Everything here is pure: the parse checks are fuzzed (tests/fuzz/fuzz_ucx_messages.c).
 */
#ifndef ADXL_UCX_WIRE_H
#define ADXL_UCX_WIRE_H

#include "../auth.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UCX_WIRE_MAGIC 0x55584441u /* "ADXU" */
#define UCX_WIRE_VERSION 1u
#define UCX_MSG_HEADER 12u        /* magic u32, type u16, reserved u16, length u32 */
#define UCX_MSG_MAX (64u * 1024u) /* the most payload one message may carry */
#define UCX_RKEY_MAX 4096u        /* a packed remote key */
#define UCX_ADDRESS_MAX 8192u     /* a worker address */

typedef enum {
    UCX_MSG_HELLO = 1,      /* I->T: version, initiator nonce */
    UCX_MSG_HELLO_ACK = 2,  /* T->I: status, flags, target nonce, target proof */
    UCX_MSG_AUTH = 3,       /* I->T: initiator proof (zeros without a secret) */
    UCX_MSG_WELCOME = 4,    /* T->I: the target's worker address */
    UCX_MSG_REGION_ADD = 5, /* T->I: addr, len, sequence number, packed rkey */
    UCX_MSG_REGION_DEL = 6, /* T->I: addr, len, sequence number */
    UCX_MSG_REGION_ACK = 7, /* I->T: sequence number of an update now in effect */
    UCX_MSG_READY = 8,      /* T->I: the regions at set-up are all sent */
    UCX_MSG_NOTIFY = 9,     /* I->T: id, name length, message length, name, message */
    UCX_MSG_NOTIFY_ACK = 10 /* T->I: id, status */
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

typedef struct {
    uint16_t type;
    uint32_t length;
} ucx_msg_header_t;

void ucx_put_u32(uint8_t *p, uint32_t v);
void ucx_put_u64(uint8_t *p, uint64_t v);
uint32_t ucx_get_u32(const uint8_t *p);
uint64_t ucx_get_u64(const uint8_t *p);

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
