/*
 * Engine names ("ip:port", "ip", "[ipv6]:port", "[ipv6]"), as adxl_initialize, connect
 * and every call naming a peer parse them. The input is the name (up to its first NUL).
 * An accepted name must format to a canonical name that is shorter than ADXL_NAME_MAX,
 * parses again to the same address and port, and formats to itself.
 */
#include "core/engine_name.h"
#include "fuzz.h"

#include <netinet/in.h>
#include <string.h>

static bool same_addr(const adxl_engine_addr_t *a, const adxl_engine_addr_t *b) {
    if (a->addr.ss_family != b->addr.ss_family || a->addr_len != b->addr_len ||
        a->has_port != b->has_port)
        return false;
    if (a->addr.ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)&a->addr, *y = (const void *)&b->addr;
        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    const struct sockaddr_in *x = (const void *)&a->addr, *y = (const void *)&b->addr;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    /* An exact-size copy, so that reading past the NUL is caught. */
    char *name = malloc(size + 1);
    FUZZ_CHECK(name);
    memcpy(name, data, size);
    name[size] = '\0';
    adxl_engine_addr_t addr;
    if (adxl_engine_name_parse(name, &addr)) {
        FUZZ_CHECK(strlen(name) < ADXL_NAME_MAX);
        FUZZ_CHECK(addr.addr.ss_family == AF_INET || addr.addr.ss_family == AF_INET6);
        FUZZ_CHECK(addr.addr_len == (addr.addr.ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                                                    : sizeof(struct sockaddr_in6)));
        char canon[ADXL_NAME_MAX + 1];
        memset(canon, 0x7f, sizeof(canon));
        adxl_engine_name_format((const struct sockaddr *)&addr.addr, addr.has_port, canon);
        FUZZ_CHECK(memchr(canon, '\0', ADXL_NAME_MAX) != NULL);
        adxl_engine_addr_t again;
        FUZZ_CHECK(adxl_engine_name_parse(canon, &again));
        FUZZ_CHECK(same_addr(&addr, &again));
        char canon2[ADXL_NAME_MAX];
        adxl_engine_name_format((const struct sockaddr *)&again.addr, again.has_port, canon2);
        FUZZ_CHECK(strcmp(canon, canon2) == 0);
    }
    free(name);
    return 0;
}
