#include "net/host_facts.h"

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
