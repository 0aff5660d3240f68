#include "transport/tcp/tcp_wire.h"

#include <adxl/adxl.h>
#include <string.h>

void tcp_frame_header_encode(uint8_t out[TCP_FRAME_HEADER], const tcp_frame_header_t *h) {
    adxl_le_put_u16(out, h->type);
    adxl_le_put_u16(out + 2, h->flags);
    adxl_le_put_u32(out + 4, h->count);
    adxl_le_put_u64(out + 8, h->id);
    adxl_le_put_u64(out + 16, h->length);
}

void tcp_frame_header_decode(const uint8_t in[TCP_FRAME_HEADER], tcp_frame_header_t *h) {
    h->type = adxl_le_get_u16(in);
    h->flags = adxl_le_get_u16(in + 2);
    h->count = adxl_le_get_u32(in + 4);
    h->id = adxl_le_get_u64(in + 8);
    h->length = adxl_le_get_u64(in + 16);
}

void tcp_item_encode(uint8_t out[TCP_ITEM_SIZE], uint64_t addr, uint64_t len) {
    adxl_le_put_u64(out, addr);
    adxl_le_put_u64(out + 8, len);
}

void tcp_item_decode(const uint8_t in[TCP_ITEM_SIZE], uint64_t *addr, uint64_t *len) {
    *addr = adxl_le_get_u64(in);
    *len = adxl_le_get_u64(in + 8);
}

void tcp_piece_encode(uint8_t out[TCP_PIECE_SIZE], const tcp_piece_t *p) {
    adxl_le_put_u64(out, p->addr);
    adxl_le_put_u64(out + 8, p->len);
    adxl_le_put_u64(out + 16, p->span_addr);
    adxl_le_put_u64(out + 24, p->span_len);
}

void tcp_piece_decode(const uint8_t in[TCP_PIECE_SIZE], tcp_piece_t *p) {
    p->addr = adxl_le_get_u64(in);
    p->len = adxl_le_get_u64(in + 8);
    p->span_addr = adxl_le_get_u64(in + 16);
    p->span_len = adxl_le_get_u64(in + 24);
}

bool tcp_piece_valid(const tcp_piece_t *p) {
    return p->len > 0 && p->addr != 0 && p->addr + p->len > p->addr && p->span_addr != 0 &&
           p->span_addr + p->span_len > p->span_addr && p->addr >= p->span_addr &&
           p->addr + p->len <= p->span_addr + p->span_len;
}

size_t tcp_hello_encode(uint8_t *out, const tcp_hello_t *h) {
    adxl_le_put_u32(out, TCP_WIRE_MAGIC);
    adxl_le_put_u16(out + 4, TCP_WIRE_VERSION);
    adxl_le_put_u16(out + 6, h->stream_index);
    adxl_le_put_u16(out + 8, h->stream_count);
    adxl_le_put_u16(out + 10, h->name_len);
    adxl_le_put_u64(out + 12, h->link_id);
    adxl_le_put_u32(out + 20, h->flags);
    memcpy(out + 24, h->nonce, ADXL_AUTH_NONCE_BYTES);
    memcpy(out + TCP_HELLO_FIXED, h->name, h->name_len);
    return TCP_HELLO_FIXED + h->name_len;
}

bool tcp_hello_decode_fixed(const uint8_t in[TCP_HELLO_FIXED], tcp_hello_t *h) {
    h->magic = adxl_le_get_u32(in);
    h->version = adxl_le_get_u16(in + 4);
    h->stream_index = adxl_le_get_u16(in + 6);
    h->stream_count = adxl_le_get_u16(in + 8);
    h->name_len = adxl_le_get_u16(in + 10);
    h->link_id = adxl_le_get_u64(in + 12);
    h->flags = adxl_le_get_u32(in + 20);
    memcpy(h->nonce, in + 24, ADXL_AUTH_NONCE_BYTES);
    return h->magic == TCP_WIRE_MAGIC && h->version == TCP_WIRE_VERSION &&
           h->name_len <= TCP_HELLO_NAME_MAX &&
           (h->stream_index < h->stream_count || (h->stream_count == 0 && h->stream_index == 0));
}

size_t tcp_hello_ack_encode(uint8_t *out, const tcp_hello_ack_t *h) {
    adxl_le_put_u32(out, TCP_WIRE_MAGIC);
    adxl_le_put_u16(out + 4, TCP_WIRE_VERSION);
    adxl_le_put_u16(out + 6, h->name_len);
    adxl_le_put_u32(out + 8, h->status);
    adxl_le_put_u32(out + 12, h->flags);
    memcpy(out + 16, h->nonce, ADXL_AUTH_NONCE_BYTES);
    memcpy(out + 48, h->proof, ADXL_AUTH_PROOF_BYTES);
    memcpy(out + TCP_HELLO_ACK_FIXED, h->name, h->name_len);
    return TCP_HELLO_ACK_FIXED + h->name_len;
}

bool tcp_hello_ack_decode_fixed(const uint8_t in[TCP_HELLO_ACK_FIXED], tcp_hello_ack_t *h) {
    h->magic = adxl_le_get_u32(in);
    h->version = adxl_le_get_u16(in + 4);
    h->name_len = adxl_le_get_u16(in + 6);
    h->status = adxl_le_get_u32(in + 8);
    h->flags = adxl_le_get_u32(in + 12);
    memcpy(h->nonce, in + 16, ADXL_AUTH_NONCE_BYTES);
    memcpy(h->proof, in + 48, ADXL_AUTH_PROOF_BYTES);
    return h->magic == TCP_WIRE_MAGIC && h->version == TCP_WIRE_VERSION &&
           h->name_len <= TCP_HELLO_NAME_MAX;
}

void tcp_auth_encode(uint8_t out[TCP_AUTH_SIZE], const uint8_t proof[ADXL_AUTH_PROOF_BYTES]) {
    adxl_le_put_u32(out, TCP_WIRE_MAGIC);
    memcpy(out + 4, proof, ADXL_AUTH_PROOF_BYTES);
}

bool tcp_auth_decode(const uint8_t in[TCP_AUTH_SIZE], uint8_t proof[ADXL_AUTH_PROOF_BYTES]) {
    memcpy(proof, in + 4, ADXL_AUTH_PROOF_BYTES);
    return adxl_le_get_u32(in) == TCP_WIRE_MAGIC;
}

void tcp_auth_ok_encode(uint8_t out[TCP_AUTH_OK_SIZE], uint32_t status) {
    adxl_le_put_u32(out, TCP_WIRE_MAGIC);
    adxl_le_put_u32(out + 4, status);
}

bool tcp_auth_ok_decode(const uint8_t in[TCP_AUTH_OK_SIZE], uint32_t *status) {
    *status = adxl_le_get_u32(in + 4);
    return adxl_le_get_u32(in) == TCP_WIRE_MAGIC;
}
