/* Both ends of the control channel protocol; see bench_control.h. */
#include "bench_control.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

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

void bench_ctl_handle(const bench_ctl_region_t *r, const char *req, char *resp, size_t resp_len,
                      bool *quit) {
    uint64_t seed, off, len;

    *quit = false;
    if (strcmp(req, "INFO") == 0) {
        snprintf(resp, resp_len, "OK %s 0x%" PRIxPTR " %zu", r->engine, (uintptr_t)r->base, r->len);
    } else if (strncmp(req, "FILL ", 5) == 0) {
        if (parse_range(r, req + 5, &seed, &off, &len, resp, resp_len) != 0) return;
        bench_pattern_fill(r->base + off, (size_t)len, seed, off);
        snprintf(resp, resp_len, "OK");
    } else if (strncmp(req, "CHECK ", 6) == 0) {
        uint8_t expected;
        size_t bad;
        if (parse_range(r, req + 6, &seed, &off, &len, resp, resp_len) != 0) return;
        bad = bench_pattern_check(r->base + off, (size_t)len, seed, off, &expected);
        if (bad == SIZE_MAX) {
            snprintf(resp, resp_len, "OK");
        } else {
            snprintf(resp, resp_len, "BAD %zu %u %u", bad, expected, r->base[off + bad]);
        }
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

int bench_ctl_info(int fd, char *engine, size_t engine_len, uintptr_t *addr, size_t *len) {
    char resp[512], name[256];

    if (request(fd, "INFO", resp, sizeof(resp), CTL_INFO_TIMEOUT_MS) != 0) return -1;
    if (sscanf(resp, "OK %255s 0x%" SCNxPTR " %zu", name, addr, len) != 3 ||
        strlen(name) >= engine_len) {
        bench_err("control channel: malformed INFO answer '%s' (is that the target's control "
                  "channel?)",
                  resp);
        return -1;
    }
    strcpy(engine, name);
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
