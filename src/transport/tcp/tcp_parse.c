#include "transport/tcp/tcp_parse.h"

#include <string.h>

bool tcp_hello_name_valid(const char *name, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (name[i] < 0x21 || name[i] > 0x7e) return false;
    return true;
}

bool tcp_request_header_check(const tcp_frame_header_t *h, size_t *meta_len) {
    switch (h->type) {
    case TCP_FRAME_WRITE: /* its length is checked against the pieces once they are in */
    case TCP_FRAME_READ:
        if (h->count == 0 || h->count > TCP_MAX_ITEMS) return false;
        if (h->type == TCP_FRAME_READ && h->length != 0) return false;
        *meta_len = (size_t)h->count * TCP_PIECE_SIZE;
        return true;
    case TCP_FRAME_NOTIFY:
        if (h->length < TCP_NOTIFY_FIXED || h->length > TCP_NOTIFY_FIXED + 2 * ADXL_NOTIFY_MAX_LEN)
            return false;
        *meta_len = (size_t)h->length;
        return true;
    case TCP_FRAME_PING:
        *meta_len = 0;
        return h->length == 0;
    default:
        return false;
    }
}

bool tcp_pieces_decode(const uint8_t *table, uint32_t count, tcp_piece_t *pieces, uint64_t *total) {
    uint64_t sum = 0;
    for (uint32_t i = 0; i < count; i++) {
        tcp_piece_t *p = &pieces[i];
        tcp_piece_decode(table + (size_t)i * TCP_PIECE_SIZE, p);
        /* Both bounded by TCP_MAX_PAYLOAD, so the sum cannot wrap. */
        if (!tcp_piece_valid(p) || p->len > TCP_MAX_PAYLOAD || sum + p->len > TCP_MAX_PAYLOAD)
            return false;
        sum += p->len;
    }
    *total = sum;
    return true;
}

bool tcp_pieces_allowed(const adxl_registry_t *registry, const tcp_piece_t *pieces, uint32_t from,
                        uint32_t count) {
    for (uint32_t i = from; i < count; i++) {
        const tcp_piece_t *p = &pieces[i];
        if (!adxl_registry_contains_pinned(registry, (uintptr_t)p->span_addr, (size_t)p->span_len))
            return false;
    }
    return true;
}

bool tcp_notify_decode(const uint8_t *body, uint64_t len, tcp_notify_body_t *out) {
    if (len < TCP_NOTIFY_FIXED) return false;
    uint32_t name_len = adxl_le_get_u32(body), msg_len = adxl_le_get_u32(body + 4);
    if (name_len > ADXL_NOTIFY_MAX_LEN || msg_len > ADXL_NOTIFY_MAX_LEN ||
        TCP_NOTIFY_FIXED + (uint64_t)name_len + msg_len != len)
        return false;
    const char *name = (const char *)body + TCP_NOTIFY_FIXED;
    if (memchr(name, '\0', (size_t)name_len + msg_len)) return false;
    *out = (tcp_notify_body_t){name, name_len, name + name_len, msg_len};
    return true;
}

bool tcp_answer_header_check(const tcp_frame_header_t *h, const tcp_awaited_t *awaited) {
    switch (h->type) {
    case TCP_FRAME_PONG:
        return true;
    case TCP_FRAME_ACK:
    case TCP_FRAME_NOTIFY_ACK:
        return awaited->type == h->type && awaited->id == h->id;
    case TCP_FRAME_DATA:
        /* Exactly what we asked for, or nothing (a refusal): never more. */
        return awaited->type == h->type && awaited->id == h->id &&
               (h->length == awaited->bytes || h->length == 0);
    case TCP_FRAME_REGION_ADD:
    case TCP_FRAME_REGION_DEL:
        return h->count != 0 && h->count <= TCP_MAX_ITEMS && h->length == 0;
    default:
        return false;
    }
}

adxl_status_t tcp_data_trailer_status(const uint8_t trailer[TCP_TRAILER], uint64_t length) {
    adxl_status_t st = adxl_status_from_wire(adxl_le_get_u32(trailer));
    return length == 0 && st == ADXL_SUCCESS ? ADXL_FAILED : st;
}

bool tcp_snapshot_header_check(const tcp_frame_header_t *h) {
    return h->type == TCP_FRAME_REGION_ADD && h->count <= TCP_MAX_ITEMS && h->length == 0;
}
