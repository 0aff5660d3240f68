#include "net/host_facts.h"

#include "net/wire_codec.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* /proc/sys/kernel/random/boot_id is a UUID, "xxxxxxxx-xxxx-...": 32 hex digits. */
static bool read_boot_id(uint8_t out[16]) {
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char text[64];
    ssize_t n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n <= 0) return false;
    int digits = 0;
    for (ssize_t i = 0; i < n && digits < 32; i++) {
        int v = hex_value(text[i]);
        if (v < 0) continue;
        if (digits % 2 == 0)
            out[digits / 2] = (uint8_t)(v << 4);
        else
            out[digits / 2] |= (uint8_t)v;
        digits++;
    }
    return digits == 32;
}

static uint64_t ns_inode(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

bool adxl_host_facts_local(adxl_host_facts_t *facts) {
    memset(facts, 0, sizeof(*facts));
    facts->pid = (uint32_t)getpid();
    facts->uid = (uint32_t)getuid();
    facts->pid_ns = ns_inode("/proc/self/ns/pid");
    facts->net_ns = ns_inode("/proc/self/ns/net");
    return read_boot_id(facts->boot_id) && facts->pid_ns != 0 && facts->net_ns != 0;
}

bool adxl_host_facts_same_host(const adxl_host_facts_t *a, const adxl_host_facts_t *b) {
    static const uint8_t zero[16];
    return memcmp(a->boot_id, zero, sizeof(zero)) != 0 &&
           memcmp(a->boot_id, b->boot_id, sizeof(a->boot_id)) == 0 && a->pid_ns != 0 &&
           a->pid_ns == b->pid_ns && a->net_ns != 0 && a->net_ns == b->net_ns;
}

static bool name_valid(const char *name, size_t n) {
    if (n == 0 || n >= ADXL_FACTS_OFFER_NAME_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    return true;
}

static adxl_facts_offer_t *find_offer(const adxl_host_facts_t *facts, const char *transport) {
    for (uint32_t i = 0; i < facts->noffers; i++)
        if (strcmp(facts->offers[i].transport, transport) == 0)
            return (adxl_facts_offer_t *)&facts->offers[i];
    return NULL;
}

bool adxl_host_facts_offer(adxl_host_facts_t *facts, const char *transport, const void *bytes,
                           size_t len) {
    size_t n = strnlen(transport, ADXL_FACTS_OFFER_NAME_MAX);
    if (!name_valid(transport, n) || len > ADXL_FACTS_OFFER_BYTES) return false;
    adxl_facts_offer_t *o = find_offer(facts, transport);
    if (!o) {
        if (facts->noffers == ADXL_FACTS_OFFERS_MAX) return false;
        o = &facts->offers[facts->noffers++];
        memset(o, 0, sizeof(*o));
        memcpy(o->transport, transport, n);
    }
    o->len = (uint8_t)len;
    if (len > 0) memcpy(o->bytes, bytes, len);
    return true;
}

const uint8_t *adxl_host_facts_offered(const adxl_host_facts_t *facts, const char *transport,
                                       size_t *len) {
    const adxl_facts_offer_t *o = find_offer(facts, transport);
    if (!o) return NULL;
    *len = o->len;
    return o->bytes;
}

size_t adxl_host_facts_encode(uint8_t *out, const adxl_host_facts_t *facts) {
    memcpy(out, facts->boot_id, 16);
    adxl_le_put_u64(out + 16, facts->pid_ns);
    adxl_le_put_u64(out + 24, facts->net_ns);
    adxl_le_put_u32(out + 32, facts->pid);
    adxl_le_put_u32(out + 36, facts->uid);
    out[40] = (uint8_t)facts->noffers;
    size_t at = ADXL_FACTS_FIXED;
    for (uint32_t i = 0; i < facts->noffers; i++) {
        const adxl_facts_offer_t *o = &facts->offers[i];
        size_t n = strlen(o->transport);
        out[at++] = (uint8_t)n;
        memcpy(out + at, o->transport, n);
        at += n;
        out[at++] = o->len;
        memcpy(out + at, o->bytes, o->len);
        at += o->len;
    }
    return at;
}

bool adxl_host_facts_decode(const uint8_t *in, size_t len, adxl_host_facts_t *facts) {
    if (len < ADXL_FACTS_FIXED || len > ADXL_FACTS_WIRE_MAX) return false;
    memset(facts, 0, sizeof(*facts));
    memcpy(facts->boot_id, in, 16);
    facts->pid_ns = adxl_le_get_u64(in + 16);
    facts->net_ns = adxl_le_get_u64(in + 24);
    facts->pid = adxl_le_get_u32(in + 32);
    facts->uid = adxl_le_get_u32(in + 36);
    uint32_t count = in[40];
    if (count > ADXL_FACTS_OFFERS_MAX) return false;
    size_t at = ADXL_FACTS_FIXED;
    for (uint32_t i = 0; i < count; i++) {
        if (len - at < 1) return false;
        size_t n = in[at++];
        if (len - at < n + 1 || !name_valid((const char *)in + at, n)) return false;
        char name[ADXL_FACTS_OFFER_NAME_MAX] = {0};
        memcpy(name, in + at, n);
        at += n;
        size_t bytes = in[at++];
        if (bytes > ADXL_FACTS_OFFER_BYTES || len - at < bytes || find_offer(facts, name))
            return false;
        adxl_host_facts_offer(facts, name, in + at, bytes);
        at += bytes;
    }
    return at == len;
}
