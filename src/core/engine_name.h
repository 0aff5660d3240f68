/* Engine names: "ip:port", "ip", "[ipv6]:port" or "[ipv6]", numeric addresses only. */
#ifndef ADXL_ENGINE_NAME_H
#define ADXL_ENGINE_NAME_H

#include <adxl/adxl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define ADXL_NAME_MAX 64 /* longest valid name: "[" + 45-char IPv6 + "]:65535" */

typedef struct {
    struct sockaddr_storage addr; /* address and port (0 when absent) */
    socklen_t addr_len;
    bool has_port;
} adxl_engine_addr_t;

/* Parses name; false when it is not a valid engine name. */
bool adxl_engine_name_parse(const char *name, adxl_engine_addr_t *out);
/* Writes the canonical name of addr ("ip:port" or "[ip]:port", or without the port when
 * with_port is false) into buf of ADXL_NAME_MAX bytes. */
void adxl_engine_name_format(const struct sockaddr *addr, bool with_port, char *buf);

#endif
