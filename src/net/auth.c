#include "net/auth.h"

#include <string.h>
#include <sys/random.h>

#ifdef ADXL_HAVE_CRYPTO
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#endif

bool adxl_auth_supported(void) {
#ifdef ADXL_HAVE_CRYPTO
    return true;
#else
    return false;
#endif
}

bool adxl_auth_nonce(uint8_t out[ADXL_AUTH_NONCE_BYTES]) {
    return getrandom(out, ADXL_AUTH_NONCE_BYTES, 0) == ADXL_AUTH_NONCE_BYTES;
}

bool adxl_auth_proof(const adxl_auth_secret_t *secret, adxl_auth_role_t role,
                     const uint8_t initiator_nonce[ADXL_AUTH_NONCE_BYTES],
                     const uint8_t target_nonce[ADXL_AUTH_NONCE_BYTES],
                     uint8_t out[ADXL_AUTH_PROOF_BYTES]) {
#ifdef ADXL_HAVE_CRYPTO
    /* Each role signs under its own label, so that one end's proof is never a valid
     * answer for the other. */
#define AUTH_LABEL_TARGET "adxl auth v1 target"
#define AUTH_LABEL_INITIATOR "adxl auth v1 initiator"
    static const char *labels[2] = {AUTH_LABEL_TARGET, AUTH_LABEL_INITIATOR};
    uint8_t msg[sizeof(AUTH_LABEL_INITIATOR) + 2 * ADXL_AUTH_NONCE_BYTES];
    _Static_assert(sizeof(AUTH_LABEL_TARGET) <= sizeof(AUTH_LABEL_INITIATOR),
                   "msg holds the longer label");
    size_t label_len = strlen(labels[role]);
    memcpy(msg, labels[role], label_len);
    memcpy(msg + label_len, initiator_nonce, ADXL_AUTH_NONCE_BYTES);
    memcpy(msg + label_len + ADXL_AUTH_NONCE_BYTES, target_nonce, ADXL_AUTH_NONCE_BYTES);
    unsigned int len = 0;
    return secret->len > 0 &&
           HMAC(EVP_sha256(), secret->bytes, (int)secret->len, msg,
                label_len + 2 * ADXL_AUTH_NONCE_BYTES, out, &len) != NULL &&
           len == ADXL_AUTH_PROOF_BYTES;
#else
    (void)secret, (void)role, (void)initiator_nonce, (void)target_nonce, (void)out;
    return false;
#endif
}

bool adxl_auth_check(const adxl_auth_secret_t *secret, adxl_auth_role_t role,
                     const uint8_t initiator_nonce[ADXL_AUTH_NONCE_BYTES],
                     const uint8_t target_nonce[ADXL_AUTH_NONCE_BYTES],
                     const uint8_t proof[ADXL_AUTH_PROOF_BYTES]) {
#ifdef ADXL_HAVE_CRYPTO
    uint8_t want[ADXL_AUTH_PROOF_BYTES];
    return adxl_auth_proof(secret, role, initiator_nonce, target_nonce, want) &&
           CRYPTO_memcmp(want, proof, ADXL_AUTH_PROOF_BYTES) == 0;
#else
    (void)secret, (void)role, (void)initiator_nonce, (void)target_nonce, (void)proof;
    return false;
#endif
}
