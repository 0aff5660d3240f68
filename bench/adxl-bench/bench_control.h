/*
 * The tool's control channel between initiator and target: one text line per request,
 * one per answer. adxl links are one-way, so the target cannot tell the initiator about
 * its region over adxl; this channel carries that and the verification requests.
 *
 *   INFO                  -> OK <engine> <addr hex> <len> <host|device>
 *   FILL <seed> <off> <len>  -> OK          (target writes the pattern into its region)
 *   CHECK <seed> <off> <len> -> OK | BAD <index> <expected> <got>
 *   QUIT                  -> OK          (target exits)
 *   anything wrong        -> ERR <reason>
 * Offsets are relative to the start of the target's region; numbers are decimal.
 */
#ifndef ADXL_BENCH_CONTROL_H
#define ADXL_BENCH_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a target serves. */
typedef struct {
    const char *engine;
    uint8_t *base;
    size_t len;
    bool device; /* device memory: FILL and CHECK go through bench_device's copies, on a
                  * thread that has the device current */
} bench_ctl_region_t;

/* Target side: answers one request line into resp; *quit set for QUIT. */
void bench_ctl_handle(const bench_ctl_region_t *region, const char *request, char *resp,
                      size_t resp_len, bool *quit);

/* Initiator side. Each returns 0, or -1 after printing why. */
/* *device: the region is device memory (an answer without the kind, from an older
 * target, means host). */
int bench_ctl_info(int fd, char *engine, size_t engine_len, uintptr_t *addr, size_t *len,
                   bool *device);
int bench_ctl_fill(int fd, uint64_t seed, uint64_t offset, size_t len);
/* 0 all match, 1 mismatch (described in what, which names the transfer), -1 error. */
int bench_ctl_check(int fd, uint64_t seed, uint64_t offset, size_t len, const char *what);
int bench_ctl_quit(int fd);

#endif /* ADXL_BENCH_CONTROL_H */
