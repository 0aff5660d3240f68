#include "net/peer_filter.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static bool parse_one(const char *text, size_t len, adxl_peer_prefix_t *out) {
    char buf[64];
    if (len == 0 || len >= sizeof(buf)) return false;
    memcpy(buf, text, len);
    buf[len] = '\0';
    char *slash = strchr(buf, '/');
    if (slash) *slash = '\0';
    memset(out, 0, sizeof(*out));
    unsigned bits;
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = AF_INET;
        bits = 32;
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->family = AF_INET6;
        bits = 128;
    } else {
        return false;
    }
    out->prefix = bits;
    if (slash) {
        const char *p = slash + 1;
        if (*p < '0' || *p > '9' || strlen(p) > 3) return false;
        char *end;
        unsigned long v = strtoul(p, &end, 10);
        if (*end != '\0' || v > bits) return false;
        out->prefix = (unsigned)v;
    }
    return true;
}

bool adxl_peer_filter_parse(const char *text, adxl_peer_filter_t *out) {
    memset(out, 0, sizeof(*out));
    if (*text == '\0') return true;
    for (const char *p = text;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (out->count == ADXL_PEER_FILTER_MAX || !parse_one(p, len, &out->items[out->count]))
            return false;
        out->count++;
        if (!comma) return true;
        p = comma + 1;
    }
}

static bool prefix_matches(const adxl_peer_prefix_t *pf, const uint8_t *addr) {
    unsigned full = pf->prefix / 8, rest = pf->prefix % 8;
    if (memcmp(pf->addr, addr, full) != 0) return false;
    if (rest == 0) return true;
    uint8_t mask = (uint8_t)(0xFF << (8 - rest));
    return (pf->addr[full] & mask) == (addr[full] & mask);
}

bool adxl_peer_filter_allows(const adxl_peer_filter_t *filter, const struct sockaddr *sa) {
    if (filter->count == 0) return true;
    int family = sa->sa_family;
    const uint8_t *addr;
    if (family == AF_INET) {
        addr = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
    } else if (family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        addr = (const uint8_t *)a6;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            family = AF_INET;
            addr += 12;
        }
    } else {
        return false;
    }
    for (unsigned i = 0; i < filter->count; i++)
        if (filter->items[i].family == family && prefix_matches(&filter->items[i], addr))
            return true;
    return false;
}
