/* AllowedPeers: the network addresses a listener accepts connections from, as a list of
 * IPv4/IPv6 addresses and CIDR prefixes ("10.0.0.0/8,127.0.0.1,::1"). Empty: anyone. */
#ifndef ADXL_PEER_FILTER_H
#define ADXL_PEER_FILTER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define ADXL_PEER_FILTER_MAX 64

typedef struct {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    unsigned prefix; /* bits that must match */
} adxl_peer_prefix_t;

typedef struct {
    adxl_peer_prefix_t items[ADXL_PEER_FILTER_MAX];
    unsigned count; /* 0: no filter */
} adxl_peer_filter_t;

/* Parses a comma-separated list; false on any malformed entry or more than the maximum. */
bool adxl_peer_filter_parse(const char *text, adxl_peer_filter_t *out);
/* Whether a connection from sa may proceed (IPv4-mapped IPv6 counts as IPv4). */
bool adxl_peer_filter_allows(const adxl_peer_filter_t *filter, const struct sockaddr *sa);

#endif
