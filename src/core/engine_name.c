#include "core/engine_name.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static bool parse_port(const char *text, uint16_t *port) {
    if (*text == '\0' || strlen(text) > 5) return false;
    unsigned v = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (v > 65535) return false;
    *port = (uint16_t)v;
    return true;
}

bool adxl_engine_name_parse(const char *name, adxl_engine_addr_t *out) {
    if (!name || strlen(name) >= ADXL_NAME_MAX) return false;
    char host[ADXL_NAME_MAX];
    const char *port_text = NULL;
    bool v6 = name[0] == '[';
    if (v6) {
        const char *close = strchr(name, ']');
        if (!close) return false;
        size_t n = (size_t)(close - name - 1);
        memcpy(host, name + 1, n);
        host[n] = '\0';
        if (close[1] == ':')
            port_text = close + 2;
        else if (close[1] != '\0')
            return false;
    } else {
        const char *colon = strchr(name, ':');
        size_t n = colon ? (size_t)(colon - name) : strlen(name);
        memcpy(host, name, n);
        host[n] = '\0';
        if (colon) port_text = colon + 1;
    }
    uint16_t port = 0;
    if (port_text && !parse_port(port_text, &port)) return false;

    memset(out, 0, sizeof(*out));
    out->has_port = port_text != NULL;
    if (v6) {
        struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&out->addr;
        if (inet_pton(AF_INET6, host, &sa->sin6_addr) != 1) return false;
        sa->sin6_family = AF_INET6;
        sa->sin6_port = htons(port);
        out->addr_len = sizeof(*sa);
    } else {
        struct sockaddr_in *sa = (struct sockaddr_in *)&out->addr;
        if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) return false;
        sa->sin_family = AF_INET;
        sa->sin_port = htons(port);
        out->addr_len = sizeof(*sa);
    }
    return true;
}

void adxl_engine_name_format(const struct sockaddr *addr, bool with_port, char *buf) {
    char host[INET6_ADDRSTRLEN];
    if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sa = (const struct sockaddr_in6 *)addr;
        inet_ntop(AF_INET6, &sa->sin6_addr, host, sizeof(host));
        if (with_port)
            snprintf(buf, ADXL_NAME_MAX, "[%s]:%u", host, ntohs(sa->sin6_port));
        else
            snprintf(buf, ADXL_NAME_MAX, "[%s]", host);
    } else {
        const struct sockaddr_in *sa = (const struct sockaddr_in *)addr;
        inet_ntop(AF_INET, &sa->sin_addr, host, sizeof(host));
        if (with_port)
            snprintf(buf, ADXL_NAME_MAX, "%s:%u", host, ntohs(sa->sin_port));
        else
            snprintf(buf, ADXL_NAME_MAX, "%s", host);
    }
}
