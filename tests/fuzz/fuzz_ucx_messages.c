/*
 * The UCX transport's control link (src/transport/ucx/ucx_wire.c): the 12-byte message header
 * and the check of each message's payload, as a target and as an initiator read them.
 * Input: one mode byte (bit 0: the message goes to a target, from an initiator; to an
 * initiator otherwise), the 12 header bytes, then the payload (all the bytes after the
 * header, whatever length the header states).
 *
 * Header and message verdicts must agree with a reference written here from
 * docs/WIRE.md; an accepted message is then read the way its receiver reads it (fixed
 * fields, the variable parts copied into buffers of the receiver's size), so a rule the
 * receivers rely on that the check lets through is an abort, or an out-of-bounds access
 * under ASan. Encoding a header and decoding it again must give back what went in.
 */
#include "fuzz.h"
#include "fuzz_ref.h"
#include "transport/ucx/ucx_wire.h"

#include <adxl/adxl.h>
#include <string.h>

/* The rules as docs/WIRE.md states them, apart from the engine's constants. */
#define REF_MAGIC 0x55584441u /* "ADXU" */
#define REF_VERSION 2u
#define REF_HEADER 12u
#define REF_MSG_MAX 65536u
#define REF_NONCE 32u
#define REF_PROOF 32u
#define REF_HELLO_ACK_FLAGS 0x3u /* bit 0: the target authenticates; bit 1: serves unregistered */
#define REF_ADDRESS_MAX 8192u
#define REF_RKEY_MAX 4096u
#define REF_NOTIFY_PART_MAX 1024u
#define REF_KEY_REQ_MAX 256u

enum {
    REF_HELLO = 1,
    REF_HELLO_ACK,
    REF_AUTH,
    REF_WELCOME,
    REF_REGION_ADD,
    REF_REGION_DEL,
    REF_REGION_ACK,
    REF_READY,
    REF_NOTIFY,
    REF_NOTIFY_ACK,
    REF_KEY_REQ,
    REF_KEY_DONE
};

static bool ref_valid(uint64_t type, const uint8_t *p, uint64_t n, bool to_target) {
    if (n > REF_MSG_MAX) return false;
    if (to_target) {
        switch (type) {
        case REF_HELLO:
            return n == 4 + REF_NONCE && ref_le(p, 4) == REF_VERSION;
        case REF_AUTH:
            return n == REF_PROOF;
        case REF_REGION_ACK:
            return n == 8;
        case REF_NOTIFY: {
            if (n < 16) return false;
            uint64_t name_len = ref_le(p + 8, 4), msg_len = ref_le(p + 12, 4);
            /* No NUL in either part, as over TCP and shm: the receiver gets C strings. */
            return name_len <= REF_NOTIFY_PART_MAX && msg_len <= REF_NOTIFY_PART_MAX &&
                   16 + name_len + msg_len == n && memchr(p + 16, 0, n - 16) == NULL;
        }
        case REF_KEY_REQ: /* id, count, count ranges of 16 bytes: at least one, at most 256 */
            if (n < 12) return false;
            return ref_le(p + 8, 4) >= 1 && ref_le(p + 8, 4) <= REF_KEY_REQ_MAX &&
                   12 + 16 * ref_le(p + 8, 4) == n;
        default:
            return false; /* a type for the other direction, or none */
        }
    }
    switch (type) {
    case REF_HELLO_ACK:
        return n == 8 + REF_NONCE + REF_PROOF && (ref_le(p + 4, 4) & ~REF_HELLO_ACK_FLAGS) == 0;
    case REF_WELCOME:
        return n >= 1 && n <= REF_ADDRESS_MAX;
    case REF_REGION_ADD: {
        if (n < 24 + 1 || n > 24 + REF_RKEY_MAX) return false;
        unsigned __int128 end = (unsigned __int128)ref_le(p, 8) + ref_le(p + 8, 8);
        return ref_le(p + 8, 8) > 0 && end <= UINT64_MAX;
    }
    case REF_REGION_DEL:
        return n == 24;
    case REF_READY:
        return n == 0;
    case REF_NOTIFY_ACK:
        return n == 12;
    case REF_KEY_DONE:
        return n == 8;
    default:
        return false;
    }
}

static uint64_t sink; /* keeps the receivers' reads from being optimised away */

/* An accepted message, read as its receiver reads it (ucx_target.c, ucx_link.c). */
static void receive(uint16_t type, const uint8_t *p, uint32_t n, bool to_target) {
    if (to_target) {
        switch (type) {
        case UCX_MSG_HELLO: {
            FUZZ_CHECK(n == UCX_HELLO_SIZE && adxl_le_get_u32(p) == UCX_WIRE_VERSION);
            uint8_t nonce[ADXL_AUTH_NONCE_BYTES];
            memcpy(nonce, p + 4, sizeof(nonce));
            sink += nonce[0];
            return;
        }
        case UCX_MSG_AUTH: {
            FUZZ_CHECK(n == UCX_AUTH_SIZE && n == ADXL_AUTH_PROOF_BYTES);
            uint8_t proof[ADXL_AUTH_PROOF_BYTES];
            memcpy(proof, p, sizeof(proof));
            sink += proof[0];
            return;
        }
        case UCX_MSG_REGION_ACK:
            FUZZ_CHECK(n == UCX_REGION_ACK_SIZE);
            sink += adxl_le_get_u64(p);
            return;
        case UCX_MSG_NOTIFY: {
            /* Each part fits an adxl_notify_t field, and the two fill the message. */
            FUZZ_CHECK(n >= UCX_NOTIFY_FIXED);
            uint32_t name_len = adxl_le_get_u32(p + 8), msg_len = adxl_le_get_u32(p + 12);
            FUZZ_CHECK(name_len <= ADXL_NOTIFY_MAX_LEN && msg_len <= ADXL_NOTIFY_MAX_LEN);
            FUZZ_CHECK((uint64_t)UCX_NOTIFY_FIXED + name_len + msg_len == n);
            adxl_notify_t note;
            memcpy(note.name, p + UCX_NOTIFY_FIXED, name_len);
            note.name[name_len] = '\0';
            memcpy(note.msg, p + UCX_NOTIFY_FIXED + name_len, msg_len);
            note.msg[msg_len] = '\0';
            FUZZ_CHECK(strlen(note.name) == name_len && strlen(note.msg) == msg_len);
            sink += adxl_le_get_u64(p) + (uint8_t)note.name[0] + (uint8_t)note.msg[0];
            return;
        }
        case UCX_MSG_KEY_REQ: {
            /* The ranges, read into a table of the most one request may ask for. */
            FUZZ_CHECK(n > UCX_KEY_REQ_FIXED);
            uint32_t count = adxl_le_get_u32(p + 8);
            FUZZ_CHECK(count >= 1 && count <= UCX_KEY_REQ_MAX);
            FUZZ_CHECK((uint64_t)UCX_KEY_REQ_FIXED + (uint64_t)count * UCX_KEY_REQ_ENTRY == n);
            uint64_t ranges[UCX_KEY_REQ_MAX][2];
            for (uint32_t i = 0; i < count; i++) {
                ranges[i][0] =
                    adxl_le_get_u64(p + UCX_KEY_REQ_FIXED + (size_t)i * UCX_KEY_REQ_ENTRY);
                ranges[i][1] =
                    adxl_le_get_u64(p + UCX_KEY_REQ_FIXED + (size_t)i * UCX_KEY_REQ_ENTRY + 8);
            }
            sink += adxl_le_get_u64(p) + ranges[count - 1][0] + ranges[count - 1][1];
            return;
        }
        default:
            FUZZ_CHECK(!"a target accepted a message of the initiator's direction or no type");
        }
    }
    switch (type) {
    case UCX_MSG_HELLO_ACK: {
        FUZZ_CHECK(n == UCX_HELLO_ACK_SIZE);
        uint32_t flags = adxl_le_get_u32(p + 4);
        FUZZ_CHECK((flags & ~REF_HELLO_ACK_FLAGS) == 0);
        uint8_t nonce[ADXL_AUTH_NONCE_BYTES], proof[ADXL_AUTH_PROOF_BYTES];
        memcpy(nonce, p + 8, sizeof(nonce));
        memcpy(proof, p + 8 + ADXL_AUTH_NONCE_BYTES, sizeof(proof));
        sink += adxl_le_get_u32(p) + flags + nonce[0] + proof[0];
        return;
    }
    case UCX_MSG_WELCOME: {
        FUZZ_CHECK(n >= 1 && n <= UCX_ADDRESS_MAX);
        static uint8_t address[UCX_ADDRESS_MAX];
        memcpy(address, p, n);
        sink += address[n - 1];
        return;
    }
    case UCX_MSG_REGION_ADD: {
        FUZZ_CHECK(n > UCX_REGION_ADD_FIXED && n - UCX_REGION_ADD_FIXED <= UCX_RKEY_MAX);
        uint64_t addr = adxl_le_get_u64(p), len = adxl_le_get_u64(p + 8), end;
        FUZZ_CHECK(len > 0 && !__builtin_add_overflow(addr, len, &end));
        static uint8_t key[UCX_RKEY_MAX];
        size_t key_len = n - UCX_REGION_ADD_FIXED;
        memcpy(key, p + UCX_REGION_ADD_FIXED, key_len);
        sink += end + adxl_le_get_u64(p + 16) + key[key_len - 1];
        return;
    }
    case UCX_MSG_REGION_DEL:
        FUZZ_CHECK(n == UCX_REGION_DEL_SIZE);
        sink += adxl_le_get_u64(p) + adxl_le_get_u64(p + 8) + adxl_le_get_u64(p + 16);
        return;
    case UCX_MSG_READY:
        FUZZ_CHECK(n == 0);
        return;
    case UCX_MSG_NOTIFY_ACK:
        FUZZ_CHECK(n == UCX_NOTIFY_ACK_SIZE);
        sink += adxl_le_get_u64(p) + adxl_le_get_u32(p + 8);
        return;
    case UCX_MSG_KEY_DONE:
        FUZZ_CHECK(n == UCX_KEY_DONE_SIZE);
        sink += adxl_le_get_u64(p);
        return;
    default:
        FUZZ_CHECK(!"an initiator accepted a message of the target's direction or no type");
    }
}

static void header(const uint8_t in[REF_HEADER]) {
    ucx_msg_header_t h;
    memset(&h, 0xEE, sizeof(h));
    bool ok = ucx_header_decode(in, &h);
    uint64_t type = ref_le(in + 4, 2), length = ref_le(in + 8, 4);
    /* The reserved half-word (6..7) is not checked, as a TCP frame's flags are not. */
    bool ref_ok = ref_le(in, 4) == REF_MAGIC && length <= REF_MSG_MAX;
    FUZZ_CHECK(ok == ref_ok);
    FUZZ_CHECK(h.type == type && h.length == length);
    if (ok) {
        uint8_t again[UCX_MSG_HEADER];
        ucx_header_encode(again, h.type, h.length);
        FUZZ_CHECK(memcmp(again, in, 6) == 0 && again[6] == 0 && again[7] == 0 &&
                   memcmp(again + 8, in + 8, 4) == 0);
    }
    /* Any type and length encode to a header that decodes to them, accepted exactly when
     * the length is allowed. */
    uint8_t out[UCX_MSG_HEADER];
    ucx_header_encode(out, (uint16_t)type, (uint32_t)length);
    FUZZ_CHECK(ref_le(out, 4) == REF_MAGIC && ref_le(out + 4, 2) == type &&
               ref_le(out + 6, 2) == 0 && ref_le(out + 8, 4) == length);
    ucx_msg_header_t back;
    FUZZ_CHECK(ucx_header_decode(out, &back) == (length <= REF_MSG_MAX));
    FUZZ_CHECK(back.type == type && back.length == length);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    if (size < 1 + REF_HEADER) return 0;
    bool to_target = data[0] & 1;
    const uint8_t *hdr = data + 1, *payload = data + 1 + REF_HEADER;
    size_t n = size - 1 - REF_HEADER;
    header(hdr);

    /* The little-endian helpers agree with the reference. */
    FUZZ_CHECK(adxl_le_get_u32(hdr + 8) == ref_le(hdr + 8, 4));
    FUZZ_CHECK(adxl_le_get_u64(hdr) == ref_le(hdr, 8));
    uint8_t le[8];
    adxl_le_put_u64(le, ref_le(hdr + 4, 8));
    FUZZ_CHECK(memcmp(le, hdr + 4, 8) == 0);
    adxl_le_put_u32(le, (uint32_t)ref_le(hdr, 4));
    FUZZ_CHECK(memcmp(le, hdr, 4) == 0);

    uint16_t type = (uint16_t)ref_le(hdr + 4, 2);
    /* A payload longer than any message is refused before a byte of it is read. */
    static const uint8_t none[1];
    FUZZ_CHECK(!ucx_msg_valid(type, none, UCX_MSG_MAX + 1, to_target));
    FUZZ_CHECK(!ucx_msg_valid(type, none, UINT32_MAX, to_target));
    if (n > UCX_MSG_MAX) return 0;

    /* The payload ends where the input does: a read past it is caught by ASan. */
    bool ok = ucx_msg_valid(type, n ? payload : NULL, (uint32_t)n, to_target);
    FUZZ_CHECK(ok == ref_valid(type, payload, n, to_target));
    if (ok) receive(type, payload, (uint32_t)n, to_target);
    return 0;
}
