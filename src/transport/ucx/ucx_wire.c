#include "transport/ucx/ucx_wire.h"

#include <adxl/adxl.h>
#include <string.h>

void ucx_offer_encode(uint8_t out[UCX_OFFER_SIZE], uint16_t port, bool rdma) {
    adxl_le_put_u16(out, port);
    adxl_le_put_u16(out + 2, rdma ? UCX_OFFER_RDMA : 0);
}

bool ucx_offer_decode(const adxl_host_facts_t *facts, uint16_t *port, bool *rdma) {
    size_t len = 0;
    const uint8_t *offer = adxl_host_facts_offered(facts, "ucx", &len);
    if (!offer || len != UCX_OFFER_SIZE) return false;
    *port = adxl_le_get_u16(offer);
    *rdma = (adxl_le_get_u16(offer + 2) & UCX_OFFER_RDMA) != 0;
    return *port != 0;
}

void ucx_header_encode(uint8_t out[UCX_MSG_HEADER], uint16_t type, uint32_t length) {
    adxl_le_put_u32(out, UCX_WIRE_MAGIC);
    out[4] = (uint8_t)type;
    out[5] = (uint8_t)(type >> 8);
    out[6] = out[7] = 0;
    adxl_le_put_u32(out + 8, length);
}

bool ucx_header_decode(const uint8_t in[UCX_MSG_HEADER], ucx_msg_header_t *out) {
    out->type = (uint16_t)(in[4] | (in[5] << 8));
    out->length = adxl_le_get_u32(in + 8);
    return adxl_le_get_u32(in) == UCX_WIRE_MAGIC && out->length <= UCX_MSG_MAX;
}

static bool notify_valid(const uint8_t *p, uint32_t length) {
    if (length < UCX_NOTIFY_FIXED) return false;
    uint32_t name_len = adxl_le_get_u32(p + 8), msg_len = adxl_le_get_u32(p + 12);
    /* Each part fits ADXL's limit and the two fill the message exactly (checked in 64
     * bits so that no sum can wrap), and neither holds a NUL: the application gets them
     * as C strings, which must not end early. */
    return name_len <= ADXL_NOTIFY_MAX_LEN && msg_len <= ADXL_NOTIFY_MAX_LEN &&
           (uint64_t)UCX_NOTIFY_FIXED + name_len + msg_len == length &&
           memchr(p + UCX_NOTIFY_FIXED, '\0', length - UCX_NOTIFY_FIXED) == NULL;
}

static bool region_add_valid(const uint8_t *p, uint32_t length) {
    if (length <= UCX_REGION_ADD_FIXED || length - UCX_REGION_ADD_FIXED > UCX_RKEY_MAX)
        return false;
    uint64_t addr = adxl_le_get_u64(p), len = adxl_le_get_u64(p + 8);
    return len > 0 && addr + len > addr; /* not empty, no wrap past the address space */
}

static bool key_req_valid(const uint8_t *p, uint32_t length) {
    if (length <= UCX_KEY_REQ_FIXED || (length - UCX_KEY_REQ_FIXED) % UCX_KEY_REQ_ENTRY != 0)
        return false;
    uint32_t count = adxl_le_get_u32(p + 8);
    return count <= UCX_KEY_REQ_MAX &&
           (uint64_t)UCX_KEY_REQ_FIXED + (uint64_t)count * UCX_KEY_REQ_ENTRY == length;
}

bool ucx_msg_valid(uint16_t type, const uint8_t *payload, uint32_t length, bool to_target) {
    if (length > UCX_MSG_MAX) return false;
    if (to_target) {
        switch (type) {
        case UCX_MSG_HELLO:
            return length == UCX_HELLO_SIZE && adxl_le_get_u32(payload) == UCX_WIRE_VERSION;
        case UCX_MSG_AUTH:
            return length == UCX_AUTH_SIZE;
        case UCX_MSG_REGION_ACK:
            return length == UCX_REGION_ACK_SIZE;
        case UCX_MSG_NOTIFY:
            return notify_valid(payload, length);
        case UCX_MSG_KEY_REQ:
            return key_req_valid(payload, length);
        default:
            return false;
        }
    }
    switch (type) {
    case UCX_MSG_HELLO_ACK:
        return length == UCX_HELLO_ACK_SIZE &&
               (adxl_le_get_u32(payload + 4) & ~(UCX_FLAG_AUTH | UCX_FLAG_UNREGISTERED)) == 0;
    case UCX_MSG_WELCOME:
        return length > 0 && length <= UCX_ADDRESS_MAX;
    case UCX_MSG_REGION_ADD:
        return region_add_valid(payload, length);
    case UCX_MSG_REGION_DEL:
        return length == UCX_REGION_DEL_SIZE;
    case UCX_MSG_READY:
        return length == 0;
    case UCX_MSG_NOTIFY_ACK:
        return length == UCX_NOTIFY_ACK_SIZE;
    case UCX_MSG_KEY_DONE:
        return length == UCX_KEY_DONE_SIZE;
    default:
        return false;
    }
}
