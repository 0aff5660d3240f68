/*
 * Shared-secret authentication of a link's two ends: each proves it holds the secret by
 * an HMAC-SHA-256 of both ends' fresh nonces, under a label for its role, so the secret
 * never crosses the wire, a proof cannot be replayed on another handshake, and neither
 * end's proof can be reflected back as the other's. HMAC comes from OpenSSL's libcrypto
 * when the build found it; without it a secret cannot be configured.
 */
#ifndef ADXL_AUTH_H
#define ADXL_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADXL_AUTH_NONCE_BYTES 32
#define ADXL_AUTH_PROOF_BYTES 32
#define ADXL_AUTH_SECRET_MIN 16
#define ADXL_AUTH_SECRET_MAX 256

typedef enum { ADXL_AUTH_TARGET = 0, ADXL_AUTH_INITIATOR = 1 } adxl_auth_role_t;

typedef struct {
    uint8_t bytes[ADXL_AUTH_SECRET_MAX];
    size_t len; /* 0: no authentication */
} adxl_auth_secret_t;

/* Whether this build can authenticate (it found libcrypto). */
bool adxl_auth_supported(void);
bool adxl_auth_nonce(uint8_t out[ADXL_AUTH_NONCE_BYTES]);
/* The proof of `role` for this handshake's nonces. */
bool adxl_auth_proof(const adxl_auth_secret_t *secret, adxl_auth_role_t role,
                     const uint8_t initiator_nonce[ADXL_AUTH_NONCE_BYTES],
                     const uint8_t target_nonce[ADXL_AUTH_NONCE_BYTES],
                     uint8_t out[ADXL_AUTH_PROOF_BYTES]);
/* Checks a proof the peer sent, in constant time. */
bool adxl_auth_check(const adxl_auth_secret_t *secret, adxl_auth_role_t role,
                     const uint8_t initiator_nonce[ADXL_AUTH_NONCE_BYTES],
                     const uint8_t target_nonce[ADXL_AUTH_NONCE_BYTES],
                     const uint8_t proof[ADXL_AUTH_PROOF_BYTES]);

#endif
