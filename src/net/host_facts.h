/*
 * What an engine tells a peer that probes it, before any link: who it is on this host
 * (the same kernel boot, pid namespace and network namespace make two engines "on the
 * same host"; never the IP address) and what each of its transports offers. An offer is
 * opaque here: a transport's name and up to ADXL_FACTS_OFFER_BYTES of its own, which only
 * that transport writes (its advertise) and reads (its connect and its choice), so that
 * neither these facts nor the handshake that carries them name any transport.
 */
#ifndef ADXL_HOST_FACTS_H
#define ADXL_HOST_FACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADXL_FACTS_OFFERS_MAX 4
#define ADXL_FACTS_OFFER_NAME_MAX 8 /* a transport's name, with its NUL */
#define ADXL_FACTS_OFFER_BYTES 64
/* The facts on the wire: the fixed part, a count, then per offer its name's length, the
 * name, its length and its bytes. */
#define ADXL_FACTS_FIXED 41u
#define ADXL_FACTS_WIRE_MAX                                                                        \
    (ADXL_FACTS_FIXED + ADXL_FACTS_OFFERS_MAX *                                                    \
                            (1u + (ADXL_FACTS_OFFER_NAME_MAX - 1u) + 1u + ADXL_FACTS_OFFER_BYTES))

typedef struct {
    char transport[ADXL_FACTS_OFFER_NAME_MAX];
    uint8_t len;
    uint8_t bytes[ADXL_FACTS_OFFER_BYTES];
} adxl_facts_offer_t;

typedef struct {
    uint8_t boot_id[16];
    uint64_t pid_ns; /* inode of /proc/self/ns/pid */
    uint64_t net_ns; /* inode of /proc/self/ns/net */
    uint32_t pid;
    uint32_t uid;
    uint32_t noffers;
    adxl_facts_offer_t offers[ADXL_FACTS_OFFERS_MAX];
} adxl_host_facts_t;

/* This process's facts, with no offers. False when /proc cannot tell them. */
bool adxl_host_facts_local(adxl_host_facts_t *facts);
/* Same boot, pid namespace and network namespace (all known). */
bool adxl_host_facts_same_host(const adxl_host_facts_t *a, const adxl_host_facts_t *b);

/* Sets (or replaces) what transport offers; false when the name or the bytes do not fit
 * or every offer is taken. */
bool adxl_host_facts_offer(adxl_host_facts_t *facts, const char *transport, const void *bytes,
                           size_t len);
/* What transport offers, *len bytes of it; NULL when it offers nothing. */
const uint8_t *adxl_host_facts_offered(const adxl_host_facts_t *facts, const char *transport,
                                       size_t *len);

/* Encodes into out (ADXL_FACTS_WIRE_MAX bytes at most); returns the length. */
size_t adxl_host_facts_encode(uint8_t *out, const adxl_host_facts_t *facts);
/* Decodes exactly len bytes from a peer; false (facts undefined) unless they are well
 * formed: at most ADXL_FACTS_OFFERS_MAX offers, each named by 1 to 7 of [a-z0-9_], no name
 * twice, no length past its limit or past the end, nothing left over. */
bool adxl_host_facts_decode(const uint8_t *in, size_t len, adxl_host_facts_t *facts);

#endif
