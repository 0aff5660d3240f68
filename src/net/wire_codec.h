/*
 * Little-endian integers at any byte offset of a wire buffer: every adxl format that
 * crosses hosts (TCP frames, the handshake, the UCX control link) is little-endian,
 * whatever the host. Byte by byte, so that no buffer needs alignment. And the one way a
 * status read from a peer becomes one of adxl's codes.
 */
#ifndef ADXL_WIRE_CODEC_H
#define ADXL_WIRE_CODEC_H

#include <adxl/adxl.h>
#include <stdint.h>

static inline void adxl_le_put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void adxl_le_put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void adxl_le_put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t adxl_le_get_u16(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t adxl_le_get_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline uint64_t adxl_le_get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* A status from the wire, as one of adxl's codes (unknown ones become ADXL_FAILED). */
static inline adxl_status_t adxl_status_from_wire(uint32_t wire) {
    switch (wire) {
    case ADXL_SUCCESS:
    case ADXL_PARAM_INVALID:
    case ADXL_TIMEOUT:
    case ADXL_NOT_CONNECTED:
    case ADXL_NOTIFY_FAILED:
    case ADXL_UNSUPPORTED:
    case ADXL_RESOURCE_EXHAUSTED:
    case ADXL_FAILED:
        return wire;
    default:
        return ADXL_FAILED;
    }
}

#endif
