/* Both ends of the control channel protocol; see bench_control.h. */
#include "bench_control.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_device.h"

#include "bench_net.h"
#include "bench_pattern.h"
#include "bench_util.h"

/* Generous: a FILL or CHECK of a 64 MiB batch takes tens of milliseconds, but a loaded
 * two-core machine can stall far longer. INFO is the first request and answered at once
 * by a real control channel, so a short wait there catches a wrong --control quickly. */
#define CTL_TIMEOUT_MS 60000
#define CTL_INFO_TIMEOUT_MS 5000

static int parse_range(const bench_ctl_region_t *r, const char *args, uint64_t *seed, uint64_t *off,
                       uint64_t *len, char *resp, size_t resp_len) {
    char extra;

    if (sscanf(args, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %c", seed, off, len, &extra) != 3) {
        snprintf(resp, resp_len, "ERR expected <seed> <offset> <length>");
        return -1;
    }
    if (*len == 0 || *off > r->len || *len > r->len - *off) {
        snprintf(resp, resp_len, "ERR range %" PRIu64 "+%" PRIu64 " outside the %zu-byte region",
                 *off, *len, r->len);
        return -1;
    }
    return 0;
}

static void fill(const bench_ctl_region_t *r, uint64_t seed, uint64_t off, size_t len, char *resp,
                 size_t resp_len) {
    uint8_t *host;

    if (!r->device) {
        bench_pattern_fill(r->base + off, len, seed, off);
        snprintf(resp, resp_len, "OK");
        return;
    }
    /* Device memory: the pattern is made here and copied in by the runtime. */
    host = malloc(len);
    if (host == NULL) {
        snprintf(resp, resp_len, "ERR out of memory for %zu bytes", len);
        return;
    }
    bench_pattern_fill(host, len, seed, off);
    if (bench_device_put(r->base + off, host, len) == 0) {
        snprintf(resp, resp_len, "OK");
    } else {
        snprintf(resp, resp_len, "ERR copying into the device region failed (see the target)");
    }
    free(host);
}

static void check(const bench_ctl_region_t *r, uint64_t seed, uint64_t off, size_t len, char *resp,
                  size_t resp_len) {
    const uint8_t *bytes = r->base + off;
    uint8_t *host = NULL, expected;
    size_t bad;

    if (r->device) {
        /* Device memory: copied out by the runtime and checked here. */
        host = malloc(len);
        if (host == NULL) {
            snprintf(resp, resp_len, "ERR out of memory for %zu bytes", len);
            return;
        }
        if (bench_device_get(host, r->base + off, len) != 0) {
            snprintf(resp, resp_len,
                     "ERR copying out of the device region failed (see the "
                     "target)");
            free(host);
            return;
        }
        bytes = host;
    }
    bad = bench_pattern_check(bytes, len, seed, off, &expected);
    if (bad == SIZE_MAX) {
        snprintf(resp, resp_len, "OK");
    } else {
        snprintf(resp, resp_len, "BAD %zu %u %u", bad, expected, bytes[bad]);
    }
    free(host);
}

void bench_ctl_handle(const bench_ctl_region_t *r, const char *req, char *resp, size_t resp_len,
                      bool *quit) {
    uint64_t seed, off, len;

    *quit = false;
    if (strcmp(req, "INFO") == 0) {
        snprintf(resp, resp_len, "OK %s 0x%" PRIxPTR " %zu %s", r->engine, (uintptr_t)r->base,
                 r->len, r->device ? "device" : "host");
    } else if (strncmp(req, "FILL ", 5) == 0) {
        if (parse_range(r, req + 5, &seed, &off, &len, resp, resp_len) != 0) return;
        fill(r, seed, off, (size_t)len, resp, resp_len);
    } else if (strncmp(req, "CHECK ", 6) == 0) {
        if (parse_range(r, req + 6, &seed, &off, &len, resp, resp_len) != 0) return;
        check(r, seed, off, (size_t)len, resp, resp_len);
    } else if (strcmp(req, "QUIT") == 0) {
        snprintf(resp, resp_len, "OK");
        *quit = true;
    } else {
        snprintf(resp, resp_len, "ERR unknown request");
    }
}

/* Sends one request and reads its answer; -1 (printed) unless the answer came. */
static int request(int fd, const char *req, char *resp, size_t resp_len, int timeout_ms) {
    if (bench_net_send_line(fd, req) != 0 ||
        bench_net_recv_line(fd, resp, resp_len, timeout_ms) != 0) {
        bench_err("control channel: no answer to '%s' (target gone, or not an adxl-bench "
                  "control channel?)",
                  req);
        return -1;
    }
    if (strncmp(resp, "ERR", 3) == 0) {
        bench_err("control channel: target refused '%s': %s", req, resp);
        return -1;
    }
    return 0;
}

int bench_ctl_info(int fd, char *engine, size_t engine_len, uintptr_t *addr, size_t *len,
                   bool *device) {
    char resp[512], name[256], kind[16] = "host";
    int n;

    if (request(fd, "INFO", resp, sizeof(resp), CTL_INFO_TIMEOUT_MS) != 0) return -1;
    n = sscanf(resp, "OK %255s 0x%" SCNxPTR " %zu %15s", name, addr, len, kind);
    if (n < 3 || strlen(name) >= engine_len ||
        (strcmp(kind, "host") != 0 && strcmp(kind, "device") != 0)) {
        bench_err("control channel: malformed INFO answer '%s' (is that the target's control "
                  "channel?)",
                  resp);
        return -1;
    }
    strcpy(engine, name);
    *device = strcmp(kind, "device") == 0;
    return 0;
}

int bench_ctl_fill(int fd, uint64_t seed, uint64_t offset, size_t len) {
    char req[128], resp[256];

    snprintf(req, sizeof(req), "FILL %" PRIu64 " %" PRIu64 " %zu", seed, offset, len);
    return request(fd, req, resp, sizeof(resp), CTL_TIMEOUT_MS);
}

int bench_ctl_check(int fd, uint64_t seed, uint64_t offset, size_t len, const char *what) {
    char req[128], resp[256];
    size_t index;
    unsigned expected, got;

    snprintf(req, sizeof(req), "CHECK %" PRIu64 " %" PRIu64 " %zu", seed, offset, len);
    if (request(fd, req, resp, sizeof(resp), CTL_TIMEOUT_MS) != 0) return -1;
    if (strcmp(resp, "OK") == 0) return 0;
    if (sscanf(resp, "BAD %zu %u %u", &index, &expected, &got) == 3) {
        bench_err("verification failed: %s: the target's byte %zu of the batch (region "
                  "offset %" PRIu64 ") is 0x%02x, expected 0x%02x",
                  what, index, offset + index, got, expected);
        return 1;
    }
    bench_err("control channel: malformed CHECK answer '%s'", resp);
    return -1;
}

int bench_ctl_quit(int fd) {
    char resp[64];
    return request(fd, "QUIT", resp, sizeof(resp), CTL_TIMEOUT_MS);
}
