/*
 * Writes the seed corpus of every fuzz target: small valid inputs, built with the
 * engine's own encoders so they follow the wire format, and near-valid ones, each one
 * rule away from valid. Seeds are named seed-*; inputs saved from crashes (crash-*,
 * kept by hand) are left alone. Usage: fuzz_gen_corpus DIR (DIR/<target>/seed-*).
 *   make fuzz-corpus   regenerates tests/fuzz/corpus
 */
#include "fuzz_arena.h"
#include "transport/shm/shm_parse.h"
#include "transport/tcp/tcp_wire.h"
#include "transport/ucx/ucx_wire.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *root;
static const char *target;
static int failures;

/* A growing byte buffer for one seed. */
typedef struct {
    uint8_t b[1 << 16];
    size_t n;
} seed_t;

static void put(seed_t *s, const void *p, size_t n) {
    if (s->n + n > sizeof(s->b)) {
        fprintf(stderr, "seed too large\n");
        exit(1);
    }
    memcpy(s->b + s->n, p, n);
    s->n += n;
}

static void write_seed(const seed_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void write_seed(const seed_t *s, const char *fmt, ...) {
    char name[128], path[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    snprintf(path, sizeof(path), "%s/%s", root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s/seed-%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(s->b, 1, s->n, f) != s->n || fclose(f) != 0) {
        perror(path);
        failures++;
    }
}

static void seed_str(const char *text, const char *name) {
    seed_t s = {.n = 0};
    put(&s, text, strlen(text));
    write_seed(&s, "%s", name);
}

/* ------------------------------------------------------------------ handshake */

static size_t hello(uint8_t *out, uint16_t index, uint16_t count, const char *name) {
    tcp_hello_t h = {.stream_index = index, .stream_count = count, .link_id = 0x1122334455667788};
    h.name_len = (uint16_t)strlen(name);
    memcpy(h.name, name, h.name_len);
    return tcp_hello_encode(out, &h);
}

static void gen_hello(void) {
    target = "hello";
    seed_t s;
    s.n = hello(s.b, 0, 4, "127.0.0.1:41234");
    write_seed(&s, "stream0");
    s.n = hello(s.b, 3, 4, "[::1]:41234");
    write_seed(&s, "stream3-v6");
    s.n = hello(s.b, 0, 1, "10.0.0.2");
    write_seed(&s, "client-only");
    s.n = hello(s.b, 0, 1, "");
    write_seed(&s, "no-name");
    char longest[65];
    memset(longest, 'a', 64);
    longest[64] = '\0';
    s.n = hello(s.b, 0, 16, longest);
    write_seed(&s, "name-64");

    s.n = hello(s.b, 0, 4, "127.0.0.1:41234");
    s.b[0] ^= 1;
    write_seed(&s, "bad-magic");
    s.n = hello(s.b, 0, 4, "127.0.0.1:41234");
    adxl_le_put_u16(s.b + 4, 1); /* the version before authentication */
    write_seed(&s, "bad-version");
    s.n = hello(s.b, 0, 4, "127.0.0.1:41234");
    adxl_le_put_u16(s.b + 4, TCP_WIRE_VERSION - 1); /* the version before the probe's UCX facts */
    write_seed(&s, "previous-version");
    s.n = hello(s.b, 0, 4, "127.0.0.1:41234");
    adxl_le_put_u32(s.b + 20, TCP_HELLO_FLAG_AUTH);
    memset(s.b + 24, 0xA5, ADXL_AUTH_NONCE_BYTES);
    write_seed(&s, "auth");
    s.n = hello(s.b, 0, 4, "127.0.0.1:41234");
    adxl_le_put_u16(s.b + 10, 65);
    write_seed(&s, "name-len-65");
    s.n = hello(s.b, 4, 4, "127.0.0.1:41234");
    write_seed(&s, "index-eq-count");
    s.n = hello(s.b, 0, 0, "127.0.0.1:41234");
    write_seed(&s, "probe");
    s.n = hello(s.b, 1, 0, "127.0.0.1:41234");
    write_seed(&s, "count-0-index-1");
    s.n = hello(s.b, 0, 4, "127.0.0.1\n41234");
    write_seed(&s, "name-newline");
    s.n = hello(s.b, 0, 4, "127.0.0.1:41234");
    s.b[TCP_HELLO_FIXED + 3] = '\0';
    write_seed(&s, "name-nul");
    s.n = hello(s.b, 0, 4, "127.0.0.1:41234") - 5;
    write_seed(&s, "truncated-name");
    s.n = TCP_HELLO_FIXED - 1;
    write_seed(&s, "truncated-fixed");
}

static size_t hello_ack(uint8_t *out, uint32_t status, const char *name) {
    tcp_hello_ack_t a = {.status = status};
    a.name_len = (uint16_t)strlen(name);
    memcpy(a.name, name, a.name_len);
    return tcp_hello_ack_encode(out, &a);
}

/* HELLO_ACK and the facts after it into s; writes the seed when name is given. Returns
 * where the facts start. */
static size_t probe_answer(seed_t *s, const adxl_host_facts_t *f, const char *name) {
    s->n = hello_ack(s->b, 0, "127.0.0.1:26000");
    size_t at = s->n + 2;
    size_t len = adxl_host_facts_encode(s->b + at, f);
    adxl_le_put_u16(s->b + s->n, (uint16_t)len);
    s->n = at + len;
    if (name) write_seed(s, "%s", name);
    return at;
}

static void gen_hello_ack(void) {
    target = "hello_ack";
    seed_t s;
    s.n = hello_ack(s.b, 0, "127.0.0.1:26000");
    write_seed(&s, "accepted");
    s.n = hello_ack(s.b, 0, "127.0.0.1:26000");
    adxl_le_put_u32(s.b + 12, TCP_HELLO_FLAG_AUTH);
    memset(s.b + 16, 0x5A, ADXL_AUTH_NONCE_BYTES + ADXL_AUTH_PROOF_BYTES);
    write_seed(&s, "auth");
    s.n = hello_ack(s.b, ADXL_PARAM_INVALID, "[::1]:26000");
    write_seed(&s, "refused");
    s.n = hello_ack(s.b, 0xdeadbeef, "127.0.0.1:26000");
    write_seed(&s, "unknown-status");
    s.n = hello_ack(s.b, 0, "127.0.0.1:26000");
    s.b[3] ^= 0x80;
    write_seed(&s, "bad-magic");
    s.n = hello_ack(s.b, 0, "127.0.0.1:26000");
    adxl_le_put_u16(s.b + 4, 0);
    write_seed(&s, "bad-version");
    s.n = hello_ack(s.b, 0, "127.0.0.1:26000");
    adxl_le_put_u16(s.b + 6, 0xffff);
    write_seed(&s, "name-len-max");
    s.n = hello_ack(s.b, 0, "127.0.0.1:26000") - 1;
    write_seed(&s, "truncated");

    /* A probe's answer: HELLO_ACK, then the host facts' length and the facts. */
    adxl_host_facts_t f = {.pid_ns = 4026531836u, .net_ns = 4026531840u, .pid = 4242, .uid = 0};
    for (int i = 0; i < 16; i++)
        f.boot_id[i] = (uint8_t)(0x10 + i);
    probe_answer(&s, &f, "probe-facts-none");
    const char *endpoint = "adxl-shm.4242.0123456789abcdef";
    adxl_host_facts_offer(&f, "shm", endpoint, strlen(endpoint));
    probe_answer(&s, &f, "probe-facts");
    const uint8_t ucx[4] = {0x91, 0x65, 0x01, 0x00}; /* port 26001, RDMA */
    adxl_host_facts_offer(&f, "ucx", ucx, sizeof(ucx));
    probe_answer(&s, &f, "probe-facts-ucx");
    /* Hostile: a name twice, a length past the end, an offer past its limit, too many. */
    size_t at = probe_answer(&s, &f, NULL);
    memcpy(s.b + at + 41 + 1 + 3 + 1 + strlen(endpoint) + 1, "shm", 3);
    write_seed(&s, "probe-facts-twice");
    at = probe_answer(&s, &f, NULL);
    s.b[at + 41 + 1 + 3] = 200;
    write_seed(&s, "probe-facts-overrun");
    at = probe_answer(&s, &f, NULL);
    s.b[at + 40] = 5;
    write_seed(&s, "probe-facts-count");
    at = probe_answer(&s, &f, NULL);
    s.b[at + 41 + 1] = 'S';
    write_seed(&s, "probe-facts-bad-name");
    at = probe_answer(&s, &f, NULL);
    s.n--; /* one byte short of what the length says */
    write_seed(&s, "probe-facts-short");
}

/* ------------------------------------------------------------------ target side */

static void piece(seed_t *s, uint64_t addr, uint64_t len, uint64_t span, uint64_t span_len) {
    uint8_t b[TCP_PIECE_SIZE];
    tcp_piece_t p = {addr, len, span, span_len};
    tcp_piece_encode(b, &p);
    put(s, b, sizeof(b));
}

/* A piece that is its own span. */
static void whole(seed_t *s, uint64_t addr, uint64_t len) {
    piece(s, addr, len, addr, len);
}

#define RA fuzz_regions[0].addr
#define RA_LEN fuzz_regions[0].len
#define RB fuzz_regions[1].addr
#define RC fuzz_regions[2].addr
#define RC_LEN fuzz_regions[2].len
#define RD fuzz_regions[3].addr

static void gen_pieces(void) {
    target = "pieces";
    seed_t s;
#define ONE(name, ...)                                                                             \
    do {                                                                                           \
        s.n = 0;                                                                                   \
        piece(&s, __VA_ARGS__);                                                                    \
        write_seed(&s, name);                                                                      \
    } while (0)
    ONE("region-a", RA, RA_LEN, RA, RA_LEN);
    ONE("inside-span", RA + 100, 50, RA, RA_LEN);
    ONE("region-c", RC, RC_LEN, RC, RC_LEN);
    ONE("one-byte-d", RD, 1, RD, 1);
    ONE("just-before-a", RA - 1, 1, RA - 1, 2);
    ONE("just-after-a", RB + 0x1000, 1, RB + 0x1000, 1);
    ONE("straddles-a-b", RB - 8, 16, RB - 8, 16);
    ONE("straddles-c-end", RC + RC_LEN - 1, 2, RC + RC_LEN - 1, 2);
    ONE("span-outside", RA, 16, RA - 16, 64);
    ONE("outside-span", RA + 32, 64, RA, 64);
    ONE("wraps", UINT64_MAX - 15, 32, UINT64_MAX - 15, 32);
    ONE("ends-at-2-64", UINT64_MAX - 15, 16, UINT64_MAX - 15, 16);
    ONE("span-wraps", RA, 16, RA, UINT64_MAX);
    ONE("zero-len", RA, 0, RA, 16);
    ONE("zero-addr", 0, 16, 0, 16);
    ONE("len-max-payload-plus-1", RA, (1ull << 30) + 1, RA, (1ull << 30) + 1);
    s.n = 0;
    whole(&s, RA, 64);
    whole(&s, RB, 64);
    whole(&s, RC, RC_LEN);
    whole(&s, RD, 1);
    write_seed(&s, "four-regions");
    s.n = 0;
    whole(&s, RA, 64);
    whole(&s, RA + RA_LEN, 1);
    write_seed(&s, "second-outside");
    s.n = 0;
    whole(&s, RA, 1ull << 29);
    whole(&s, RA, (1ull << 29) + 1);
    write_seed(&s, "sum-over-max");
    s.n = 0;
    whole(&s, RA, 16);
    put(&s, "trunc", 5);
    write_seed(&s, "trailing-bytes");
#undef ONE
}

static void notify_body(seed_t *s, uint32_t name_len, uint32_t msg_len, const char *name,
                        const char *msg) {
    uint8_t b[TCP_NOTIFY_FIXED];
    adxl_le_put_u32(b, name_len);
    adxl_le_put_u32(b + 4, msg_len);
    put(s, b, sizeof(b));
    put(s, name, strlen(name));
    put(s, msg, strlen(msg));
}

static void gen_notify(void) {
    target = "notify";
    seed_t s = {.n = 0};
    notify_body(&s, 8, 10, "kv_ready", "request 42");
    write_seed(&s, "kv-ready");
    s.n = 0;
    notify_body(&s, 0, 0, "", "");
    write_seed(&s, "empty");
    static char big[ADXL_NOTIFY_MAX_LEN + 2];
    memset(big, 'n', ADXL_NOTIFY_MAX_LEN);
    s.n = 0;
    notify_body(&s, ADXL_NOTIFY_MAX_LEN, ADXL_NOTIFY_MAX_LEN, big, big);
    write_seed(&s, "longest");
    memset(big, 'n', ADXL_NOTIFY_MAX_LEN + 1);
    s.n = 0;
    notify_body(&s, ADXL_NOTIFY_MAX_LEN + 1, 0, big, "");
    write_seed(&s, "name-1025");
    s.n = 0;
    notify_body(&s, 8, 11, "kv_ready", "request 42");
    write_seed(&s, "lengths-exceed-body");
    s.n = 0;
    notify_body(&s, 0xffffffffu, 10, "kv_ready", "request 42");
    write_seed(&s, "name-len-wraps");
    s.n = 0;
    notify_body(&s, 8, 10, "kv_ready", "request 42");
    s.b[TCP_NOTIFY_FIXED + 2] = 0;
    write_seed(&s, "nul-in-name");
    s.n = 4;
    memset(s.b, 0, 4);
    write_seed(&s, "short-body");
}

static void header(seed_t *s, uint16_t type, uint32_t count, uint64_t id, uint64_t length) {
    uint8_t b[TCP_FRAME_HEADER];
    tcp_frame_header_t h = {.type = type, .count = count, .id = id, .length = length};
    tcp_frame_header_encode(b, &h);
    put(s, b, sizeof(b));
}

static void fill(seed_t *s, uint8_t byte, size_t n) {
    uint8_t b[4096];
    memset(b, byte, sizeof(b));
    while (n > 0) {
        size_t k = n < sizeof(b) ? n : sizeof(b);
        put(s, b, k);
        n -= k;
    }
}

static void gen_target_frames(void) {
    target = "target_frames";
    seed_t s = {.n = 0};
    header(&s, TCP_FRAME_WRITE, 2, 1, 96);
    whole(&s, RA + 8, 64);
    whole(&s, RC, 32);
    fill(&s, 0x11, 96);
    header(&s, TCP_FRAME_READ, 1, 2, 0);
    whole(&s, RA + 8, 64);
    header(&s, TCP_FRAME_NOTIFY, 0, 3, TCP_NOTIFY_FIXED + 18);
    notify_body(&s, 8, 10, "kv_ready", "request 42");
    header(&s, TCP_FRAME_PING, 0, 4, 0);
    write_seed(&s, "write-read-notify-ping");

    s.n = 0;
    header(&s, TCP_FRAME_WRITE, 1, 1, 16);
    whole(&s, RB + 0x1000 - 8, 16);
    fill(&s, 0x22, 16);
    header(&s, TCP_FRAME_READ, 1, 2, 0);
    whole(&s, RA - 4, 8);
    header(&s, TCP_FRAME_PING, 0, 3, 0);
    write_seed(&s, "refused-then-ping");

    s.n = 0;
    header(&s, TCP_FRAME_WRITE, 1, 1, RA_LEN);
    whole(&s, RA, RA_LEN);
    fill(&s, 0x33, 100);
    write_seed(&s, "write-truncated-payload");

    s.n = 0;
    header(&s, TCP_FRAME_WRITE, 1, 1, 17);
    whole(&s, RA, 16);
    fill(&s, 0x44, 17);
    write_seed(&s, "write-length-mismatch");

    s.n = 0;
    header(&s, TCP_FRAME_WRITE, 0, 1, 0);
    write_seed(&s, "count-0");
    s.n = 0;
    header(&s, TCP_FRAME_READ, TCP_MAX_ITEMS + 1, 1, 0);
    write_seed(&s, "count-4097");
    s.n = 0;
    header(&s, TCP_FRAME_READ, 1, 1, 8);
    whole(&s, RA, 8);
    write_seed(&s, "read-with-length");
    s.n = 0;
    header(&s, TCP_FRAME_WRITE, 0xffffffffu, 1, UINT64_MAX);
    write_seed(&s, "counts-max");
    s.n = 0;
    header(&s, TCP_FRAME_PING, 0, 1, 1);
    write_seed(&s, "ping-with-length");
    s.n = 0;
    header(&s, TCP_FRAME_ACK, 0, 1, 0);
    write_seed(&s, "answer-type");
    s.n = 0;
    header(&s, 0xffff, 0, 1, 0);
    write_seed(&s, "unknown-type");
    s.n = 0;
    header(&s, TCP_FRAME_NOTIFY, 0, 1, TCP_NOTIFY_FIXED + 2 * ADXL_NOTIFY_MAX_LEN + 1);
    write_seed(&s, "notify-too-long");
    s.n = 0;
    header(&s, TCP_FRAME_READ, 1, 1, 0);
    whole(&s, RD, 1);
    s.n -= 3;
    write_seed(&s, "truncated-table");
}

/* ------------------------------------------------------------------ initiator side */

static void item(seed_t *s, uint64_t addr, uint64_t len) {
    uint8_t b[TCP_ITEM_SIZE];
    tcp_item_encode(b, addr, len);
    put(s, b, sizeof(b));
}

static void trailer(seed_t *s, uint32_t status) {
    uint8_t b[TCP_TRAILER];
    adxl_le_put_u32(b, status);
    put(s, b, sizeof(b));
}

/* The scene byte and requests: see fuzz_initiator_frames.c. */
static void scene(seed_t *s, bool snapshot, bool going_out, const char *kinds, uint16_t read_len) {
    uint8_t first = (uint8_t)((snapshot ? 0x80 : 0) | (going_out ? 0x40 : 0) | strlen(kinds));
    put(s, &first, 1);
    for (const char *k = kinds; *k; k++) {
        uint8_t r[3] = {(uint8_t)(*k == 'W' ? 0 : *k == 'R' ? 1 : 2)};
        adxl_le_put_u16(r + 1, (uint16_t)(read_len - 1));
        put(s, r, sizeof(r));
    }
}

static void gen_initiator_frames(void) {
    target = "initiator_frames";
    seed_t s = {.n = 0};
    scene(&s, true, false, "WRN", 16);
    header(&s, TCP_FRAME_REGION_ADD, 2, 0, 0);
    item(&s, 0x10000, 0x1000);
    item(&s, 0x20000, 0x2000);
    header(&s, TCP_FRAME_REGION_ADD, 0, 0, 0);
    header(&s, TCP_FRAME_ACK, 0, 1, 0);
    header(&s, TCP_FRAME_DATA, 0, 2, 16);
    fill(&s, 0x55, 16);
    trailer(&s, 0);
    header(&s, TCP_FRAME_PONG, 0, 0, 0);
    header(&s, TCP_FRAME_REGION_DEL, 1, 0, 0);
    item(&s, 0x10000, 0x1000);
    header(&s, TCP_FRAME_NOTIFY_ACK, ADXL_RESOURCE_EXHAUSTED, 3, 0);
    write_seed(&s, "snapshot-and-answers");

    s.n = 0;
    scene(&s, false, false, "RR", 64);
    header(&s, TCP_FRAME_DATA, 0, 1, 0);
    trailer(&s, ADXL_PARAM_INVALID);
    header(&s, TCP_FRAME_DATA, 0, 2, 0);
    trailer(&s, 0);
    write_seed(&s, "refusals");

    s.n = 0;
    scene(&s, false, false, "R", 8);
    header(&s, TCP_FRAME_DATA, 0, 1, 9);
    fill(&s, 0x66, 13);
    write_seed(&s, "data-too-long");
    s.n = 0;
    scene(&s, false, false, "W", 8);
    header(&s, TCP_FRAME_ACK, 0, 2, 0);
    write_seed(&s, "wrong-id");
    s.n = 0;
    scene(&s, false, false, "W", 8);
    header(&s, TCP_FRAME_DATA, 0, 1, 0);
    trailer(&s, 0);
    write_seed(&s, "wrong-kind");
    s.n = 0;
    scene(&s, false, true, "W", 8);
    header(&s, TCP_FRAME_ACK, 0, 1, 0);
    write_seed(&s, "answer-while-sending");
    s.n = 0;
    scene(&s, false, false, "", 8);
    header(&s, TCP_FRAME_ACK, 0, 0, 0);
    write_seed(&s, "nothing-awaited");
    s.n = 0;
    scene(&s, false, false, "", 8);
    header(&s, TCP_FRAME_REGION_ADD, 3, 0, 0);
    item(&s, UINT64_MAX - 0xff, 0x1000);
    item(&s, 0x1000, 0);
    item(&s, 0x1000, 0x1000);
    header(&s, TCP_FRAME_REGION_ADD, 1, 0, 0);
    item(&s, 0x1800, 0x10);
    header(&s, TCP_FRAME_REGION_DEL, 1, 0, 0);
    item(&s, 0x1000, 0x1);
    write_seed(&s, "regions-hostile");
    s.n = 0;
    scene(&s, false, false, "", 8);
    header(&s, TCP_FRAME_REGION_DEL, 0, 0, 0);
    write_seed(&s, "region-count-0");
    s.n = 0;
    scene(&s, true, false, "", 8);
    header(&s, TCP_FRAME_REGION_DEL, 1, 0, 0);
    item(&s, 0x1000, 0x1000);
    write_seed(&s, "snapshot-wrong-type");
    s.n = 0;
    scene(&s, true, false, "", 8);
    for (int i = 0; i < 3; i++) {
        header(&s, TCP_FRAME_REGION_ADD, 1, 0, 0);
        item(&s, 0x1000 * (uint64_t)(i + 1), 0x800);
    }
    write_seed(&s, "snapshot-unended");
}

/* ------------------------------------------------------------------ names and options */

static void gen_engine_name(void) {
    target = "engine_name";
    static const char *const names[][2] = {
        {"127.0.0.1:41234", "v4-port"},
        {"127.0.0.1", "v4"},
        {"0.0.0.0:0", "v4-any"},
        {"255.255.255.255:65535", "v4-max"},
        {"[::1]:41234", "v6-port"},
        {"[::1]", "v6"},
        {"[::ffff:10.0.0.1]:80", "v6-mapped"},
        {"[1111:2222:3333:4444:5555:6666:7777:8888]:65535", "v6-longest"},
        {"[0:0:0:0:0:0:0:1]:00080", "v6-not-canonical"},
        {"1.2.3.4:65536", "port-too-big"},
        {"1.2.3.4:", "port-empty"},
        {"1.2.3.4:+80", "port-sign"},
        {":80", "host-empty"},
        {"localhost:80", "hostname"},
        {"[::1", "v6-unclosed"},
        {"[::1]x", "v6-trailing"},
        {"::1", "v6-bare"},
        {"[fe80::1%eth0]:1", "v6-scope"},
        {"1.2.3.4:80:90", "two-colons"},
        {"01.2.3.4:80", "v4-leading-zero"},
        {"[1111:2222:3333:4444:5555:6666:7777:8888]:655350", "too-long"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        seed_str(names[i][0], names[i][1]);
}

static void gen_options(void) {
    target = "options";
    seed_str("adxl.BufferPool=4:8\nadxl.AutoConnect=1\nTransport=tcp", "common");
    seed_str("BufferPool=0:0\nTcpStreams=16\nTcpSocketBufferKB=0", "pool-off");
    seed_str("BufferPool=1024:1024\nRdmaTrafficClass=252\nRdmaServiceLevel=7", "maxima");
    seed_str("HeartbeatIntervalMs=60000\nPeerTimeoutMs=100", "heartbeat-clamped");
    seed_str("PeerTimeoutMs=3600000\nAllowUnregisteredMemory=1\nTransport=auto", "long-timeout");
    seed_str("TcpSocketBufferKB=63", "sockbuf-63");
    seed_str("RdmaTrafficClass=130", "traffic-class-odd");
    seed_str("PeerTimeoutMs=4294967396", "u32-wrap");
    seed_str("BufferPool=:8", "pool-no-num");
    seed_str("BufferPool=99999999999999999999:1", "pool-huge");
    seed_str("TcpStreams= 4", "leading-space");
    seed_str("AutoConnect", "null-value");
    seed_str("(null)=1", "null-key");
    seed_str("adxl.NoSuchOption=1", "unknown-key");
    seed_str("adxl.=1", "prefix-only");
}

/* The first byte picks the option: 0 GlobalResourceConfig, 1 LocalCommRes. */
static void seed_json(uint8_t which, const char *text, const char *name) {
    seed_t s = {.n = 0};
    put(&s, &which, 1);
    put(&s, text, strlen(text));
    write_seed(&s, "%s", name);
}

static void gen_resource_config(void) {
    target = "resource_config";
    seed_json(0, "{\"comm_resource_config.protocol_desc\":[\"hccs:device\",\"roce:host\"]}",
              "protocols");
    seed_json(0, "{\"comm_resource_config.protocol_desc\":\"uboe:device\"}", "ub");
    seed_json(0,
              "{\"comm_resource_config.listen_port\":26301,\"comm_resource_config.qos\":7,"
              "\"comm_resource_config.max_active_channels\":4294967295,"
              "\"local_comm_res_path\":\"/nonexistent\"}",
              "values");
    seed_json(0,
              "{\"fabric_memory\":{\"max_capacity\":1,\"enable_aicpu_unfold\":false},"
              "\"connect_pool.thread_num\":2}",
              "ignored");
    seed_json(0, "{\"comm_resource_config.qos\":08}", "leading-zero");
    seed_json(0,
              "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
              "deep");
    seed_json(1,
              "{\"version\":\"1.3\",\"net_instance_id\":\"pod-a\",\"endpoint_list\":"
              "[{\"protocol\":\"roce\",\"comm_id\":\"192.0.2.10\",\"placement\":\"device\"}]}",
              "local");
    seed_json(1, "{\"version\":\"1.3\",\"endpoint_list\":[{\"port\":1}]}", "local-bad-key");
}

/* ------------------------------------------------------------------ shm */

static void shm_packet(const shm_msg_t *msg, const char *name) {
    seed_t s = {.n = 0};
    uint8_t mode = 0;
    put(&s, &mode, 1);
    put(&s, msg, SHM_MSG_FIXED + msg->text_len);
    write_seed(&s, "%s", name);
}

static void shm_slot(uint32_t op, uint32_t n, const shm_piece_t *pieces, uint32_t count,
                     const char *name) {
    seed_t s = {.n = 0};
    uint8_t mode = 1;
    put(&s, &mode, 1);
    put(&s, &op, 4);
    put(&s, &n, 4);
    put(&s, pieces, count * sizeof(*pieces));
    write_seed(&s, "%s", name);
}

static void gen_shm_messages(void) {
    target = "shm_messages";
    shm_msg_t m = {.magic = SHM_WIRE_MAGIC, .version = SHM_WIRE_VERSION, .type = SHM_MSG_HELLO};
    m.text_len = 15;
    memcpy(m.text, "127.0.0.1:4000", 15);
    m.text[14] = '0';
    shm_packet(&m, "hello");
    m.text[3] = '\n';
    shm_packet(&m, "hello-newline");
    m.version = 9;
    shm_packet(&m, "bad-version");
    m = (shm_msg_t){.magic = SHM_WIRE_MAGIC,
                    .version = SHM_WIRE_VERSION,
                    .type = SHM_MSG_NOTIFY,
                    .arg = {1, 4},
                    .text_len = 9};
    memcpy(m.text, "kv_ready!", 9);
    shm_packet(&m, "notify");
    m.arg[1] = 10;
    shm_packet(&m, "notify-name-too-long");
    m.arg[1] = 4;
    m.text[2] = '\0';
    shm_packet(&m, "notify-nul");
    m = (shm_msg_t){.magic = SHM_WIRE_MAGIC,
                    .version = SHM_WIRE_VERSION,
                    .type = SHM_MSG_REGION_ADD,
                    .arg = {0x10000000, 1 << 20, 3, 7, 1 << 20}};
    shm_packet(&m, "region-add");
    m.arg[1] = UINT64_MAX;
    shm_packet(&m, "region-add-wraps");
    m.arg[1] = 1 << 20;
    m.arg[4] = (1 << 20) + 4096;
    shm_packet(&m, "region-add-block-too-long");
    m.arg[2] = SHM_MAX_REGIONS;
    shm_packet(&m, "region-add-slot-out");
    m = (shm_msg_t){.magic = SHM_WIRE_MAGIC,
                    .version = SHM_WIRE_VERSION,
                    .type = SHM_MSG_REGION_ADD,
                    .status = SHM_REGION_DEVICE,
                    .arg = {0x7f0000000000, 1 << 20, 4, 9, 0}};
    shm_packet(&m, "region-add-device");
    m.status = SHM_REGION_DEVICE | SHM_REGION_IPC;
    m.text_len = ADXL_IPC_HANDLE_BYTES;
    for (int i = 0; i < ADXL_IPC_HANDLE_BYTES; i++)
        m.text[i] = (char)(0x41 + i % 26);
    m.arg[4] = 4096;
    shm_packet(&m, "region-add-device-ipc");
    m.arg[4] = UINT64_MAX - 100;
    shm_packet(&m, "region-add-ipc-offset-wraps");
    m.arg[4] = 4096;
    m.status = SHM_REGION_IPC;
    shm_packet(&m, "region-add-ipc-not-device");
    m.status = SHM_REGION_DEVICE | SHM_REGION_IPC;
    m.text_len = 63;
    shm_packet(&m, "region-add-ipc-short-handle");
    m.status = 8;
    m.text_len = 0;
    shm_packet(&m, "region-add-unknown-flag");
    shm_region_entry_t batch[3] = {{0x10000000, 1 << 20, 3, 7, 0, 0},
                                   {0x20000000, 4096, 4, 8, SHM_REGION_DEVICE, 0},
                                   {0x10000000, 1 << 20, 3, 0, SHM_REGION_REMOVED, 0}};
    m = (shm_msg_t){.magic = SHM_WIRE_MAGIC,
                    .version = SHM_WIRE_VERSION,
                    .type = SHM_MSG_REGIONS,
                    .arg = {3},
                    .text_len = sizeof(batch)};
    memcpy(m.text, batch, sizeof(batch));
    shm_packet(&m, "regions");
    m.arg[0] = 2;
    shm_packet(&m, "regions-count-short");
    m.arg[0] = 3;
    batch[1].len = UINT64_MAX;
    batch[2].gen = 9;
    memcpy(m.text, batch, sizeof(batch));
    shm_packet(&m, "regions-bad-entries");

    shm_piece_t p[3] = {{0x10000000, 4096, 0x10000000, 8192},
                        {0x10001000, 4096, 0x10000000, 8192},
                        {0x20000000, 100, 0x20000000, 100}};
    shm_slot(SHM_OP_WRITE, 3, p, 3, "slot-write");
    shm_slot(SHM_OP_READ, 2, p, 2, "slot-read");
    shm_slot(7, 1, p, 1, "slot-bad-op");
    shm_slot(SHM_OP_WRITE, 0, p, 0, "slot-no-pieces");
    shm_slot(SHM_OP_WRITE, SHM_SLOT_PIECES + 1, p, 3, "slot-too-many");
    shm_piece_t out[1] = {{0x10002000, 4096, 0x10000000, 8192}};
    shm_slot(SHM_OP_WRITE, 1, out, 1, "slot-outside-span");
    shm_piece_t big[1] = {{0x10000000, SHM_SLOT_BYTES + 1, 0x10000000, SHM_SLOT_BYTES + 1}};
    shm_slot(SHM_OP_READ, 1, big, 1, "slot-too-big");
    shm_piece_t wrap[1] = {{UINT64_MAX - 10, 100, UINT64_MAX - 10, 100}};
    shm_slot(SHM_OP_WRITE, 1, wrap, 1, "slot-wraps");
}

/* ------------------------------------------------------------------ ucx control link */

/* The mode byte (bit 0: to a target), the header, the payload: see fuzz_ucx_messages.c. */
static void ucx_seed(bool to_target, uint16_t type, const void *payload, uint32_t length,
                     const char *name) {
    seed_t s = {.n = 0};
    uint8_t mode = to_target ? 1 : 0;
    put(&s, &mode, 1);
    uint8_t h[UCX_MSG_HEADER];
    ucx_header_encode(h, type, length);
    put(&s, h, sizeof(h));
    put(&s, payload, length);
    write_seed(&s, "%s", name);
}

static uint32_t ucx_notify(uint8_t *out, uint64_t id, uint32_t name_len, uint32_t msg_len,
                           const char *name, const char *msg) {
    adxl_le_put_u64(out, id);
    adxl_le_put_u32(out + 8, name_len);
    adxl_le_put_u32(out + 12, msg_len);
    size_t a = strlen(name), b = strlen(msg);
    memcpy(out + UCX_NOTIFY_FIXED, name, a);
    memcpy(out + UCX_NOTIFY_FIXED + a, msg, b);
    return (uint32_t)(UCX_NOTIFY_FIXED + a + b);
}

static uint32_t ucx_region(uint8_t *out, uint64_t addr, uint64_t len, uint64_t seq,
                           size_t key_len) {
    adxl_le_put_u64(out, addr);
    adxl_le_put_u64(out + 8, len);
    adxl_le_put_u64(out + 16, seq);
    for (size_t i = 0; i < key_len; i++)
        out[UCX_REGION_ADD_FIXED + i] = (uint8_t)(0x30 + i % 64);
    return (uint32_t)(UCX_REGION_ADD_FIXED + key_len);
}

/* A KEY_REQ asking for count ranges of 4 KiB, one after another. */
static uint32_t ucx_key_req(uint8_t *out, uint64_t id, uint32_t count) {
    adxl_le_put_u64(out, id);
    adxl_le_put_u32(out + 8, count);
    for (uint32_t i = 0; i < count; i++) {
        adxl_le_put_u64(out + UCX_KEY_REQ_FIXED + (size_t)i * UCX_KEY_REQ_ENTRY,
                        0x7f0000001000u + (uint64_t)i * 4096u);
        adxl_le_put_u64(out + UCX_KEY_REQ_FIXED + (size_t)i * UCX_KEY_REQ_ENTRY + 8, 4096);
    }
    return UCX_KEY_REQ_FIXED + count * UCX_KEY_REQ_ENTRY;
}

static void gen_ucx_messages(void) {
    target = "ucx_messages";
    static uint8_t p[UCX_MSG_MAX + 16];
    uint32_t n;

    /* Initiator to target, in handshake order, then what follows it. */
    adxl_le_put_u32(p, UCX_WIRE_VERSION);
    memset(p + 4, 0xA5, ADXL_AUTH_NONCE_BYTES);
    ucx_seed(true, UCX_MSG_HELLO, p, UCX_HELLO_SIZE, "to-target-hello");
    memset(p, 0x5A, UCX_AUTH_SIZE);
    ucx_seed(true, UCX_MSG_AUTH, p, UCX_AUTH_SIZE, "to-target-auth");
    adxl_le_put_u64(p, 7);
    ucx_seed(true, UCX_MSG_REGION_ACK, p, UCX_REGION_ACK_SIZE, "to-target-region-ack");
    n = ucx_notify(p, 42, 8, 10, "kv_ready", "request 42");
    ucx_seed(true, UCX_MSG_NOTIFY, p, n, "to-target-notify");
    n = ucx_key_req(p, 3, 2);
    ucx_seed(true, UCX_MSG_KEY_REQ, p, n, "to-target-key-req");

    /* Target to initiator. */
    adxl_le_put_u32(p, ADXL_SUCCESS);
    adxl_le_put_u32(p + 4, 0x1); /* bit 0: the target authenticates */
    memset(p + 8, 0x3C, ADXL_AUTH_NONCE_BYTES + ADXL_AUTH_PROOF_BYTES);
    ucx_seed(false, UCX_MSG_HELLO_ACK, p, UCX_HELLO_ACK_SIZE, "to-initiator-hello-ack");
    memset(p, 0x77, 180); /* a worker address: opaque bytes */
    ucx_seed(false, UCX_MSG_WELCOME, p, 180, "to-initiator-welcome");
    n = ucx_region(p, 0x7f0000001000, 1 << 20, 0, 141);
    ucx_seed(false, UCX_MSG_REGION_ADD, p, n, "to-initiator-region-add");
    ucx_seed(false, UCX_MSG_READY, p, 0, "to-initiator-ready");
    n = ucx_region(p, 0x7f0000200000, 4096, 5, 0);
    ucx_seed(false, UCX_MSG_REGION_DEL, p, UCX_REGION_DEL_SIZE, "to-initiator-region-del");
    adxl_le_put_u64(p, 42);
    adxl_le_put_u32(p + 8, ADXL_RESOURCE_EXHAUSTED);
    ucx_seed(false, UCX_MSG_NOTIFY_ACK, p, UCX_NOTIFY_ACK_SIZE, "to-initiator-notify-ack");
    adxl_le_put_u64(p, 3);
    ucx_seed(false, UCX_MSG_KEY_DONE, p, UCX_KEY_DONE_SIZE, "to-initiator-key-done");

    /* Edge cases: the largest of each variable part, and one rule away from valid. */
    static char big[ADXL_NOTIFY_MAX_LEN + 2];
    memset(big, 'n', ADXL_NOTIFY_MAX_LEN);
    n = ucx_notify(p, 1, ADXL_NOTIFY_MAX_LEN, ADXL_NOTIFY_MAX_LEN, big, big);
    ucx_seed(true, UCX_MSG_NOTIFY, p, n, "notify-longest");
    n = ucx_notify(p, 1, 0, 0, "", "");
    ucx_seed(true, UCX_MSG_NOTIFY, p, n, "notify-empty");
    memset(big, 'n', ADXL_NOTIFY_MAX_LEN + 1);
    n = ucx_notify(p, 1, ADXL_NOTIFY_MAX_LEN + 1, 0, big, "");
    ucx_seed(true, UCX_MSG_NOTIFY, p, n, "notify-name-1025");
    n = ucx_notify(p, 1, 8, 11, "kv_ready", "request 42");
    ucx_seed(true, UCX_MSG_NOTIFY, p, n, "notify-lengths-exceed");
    n = ucx_notify(p, 1, 8, 10, "kv_ready", "request 42");
    p[UCX_NOTIFY_FIXED + 2] = '\0';
    ucx_seed(true, UCX_MSG_NOTIFY, p, n, "notify-nul-in-name");
    n = ucx_notify(p, 1, 0xfffffff8u, 26, "kv_ready", "request 42");
    ucx_seed(true, UCX_MSG_NOTIFY, p, n, "notify-sum-wraps");
    ucx_seed(true, UCX_MSG_NOTIFY, p, UCX_NOTIFY_FIXED - 1, "notify-short");
    ucx_seed(false, UCX_MSG_NOTIFY, p, n, "notify-to-initiator");

    adxl_le_put_u32(p, UCX_WIRE_VERSION + 1);
    memset(p + 4, 0xA5, ADXL_AUTH_NONCE_BYTES);
    ucx_seed(true, UCX_MSG_HELLO, p, UCX_HELLO_SIZE, "hello-bad-version");
    adxl_le_put_u32(p, UCX_WIRE_VERSION);
    ucx_seed(true, UCX_MSG_HELLO, p, UCX_HELLO_SIZE + 1, "hello-long");
    ucx_seed(false, UCX_MSG_HELLO, p, UCX_HELLO_SIZE, "hello-to-initiator");
    ucx_seed(true, UCX_MSG_AUTH, p, UCX_AUTH_SIZE - 1, "auth-short");

    adxl_le_put_u32(p, ADXL_SUCCESS);
    adxl_le_put_u32(p + 4, 0x3); /* bit 1: the target serves unregistered memory */
    ucx_seed(false, UCX_MSG_HELLO_ACK, p, UCX_HELLO_ACK_SIZE, "hello-ack-unregistered");
    adxl_le_put_u32(p + 4, 0x4);
    ucx_seed(false, UCX_MSG_HELLO_ACK, p, UCX_HELLO_ACK_SIZE, "hello-ack-unknown-flag");
    adxl_le_put_u32(p, ADXL_PARAM_INVALID);
    adxl_le_put_u32(p + 4, 0);
    ucx_seed(false, UCX_MSG_HELLO_ACK, p, UCX_HELLO_ACK_SIZE, "hello-ack-refused");
    ucx_seed(false, UCX_MSG_HELLO_ACK, p, UCX_HELLO_ACK_SIZE - 1, "hello-ack-short");

    memset(p, 0x77, UCX_ADDRESS_MAX + 1);
    ucx_seed(false, UCX_MSG_WELCOME, p, UCX_ADDRESS_MAX, "welcome-longest");
    ucx_seed(false, UCX_MSG_WELCOME, p, UCX_ADDRESS_MAX + 1, "welcome-too-long");
    ucx_seed(false, UCX_MSG_WELCOME, p, 0, "welcome-empty");

    n = ucx_region(p, 0x7f0000001000, 4096, 9, UCX_RKEY_MAX);
    ucx_seed(false, UCX_MSG_REGION_ADD, p, n, "region-add-longest-key");
    n = ucx_region(p, 0x7f0000001000, 4096, 9, UCX_RKEY_MAX + 1);
    ucx_seed(false, UCX_MSG_REGION_ADD, p, n, "region-add-key-too-long");
    n = ucx_region(p, 0x7f0000001000, 4096, 9, 0);
    ucx_seed(false, UCX_MSG_REGION_ADD, p, n, "region-add-no-key");
    n = ucx_region(p, 0x7f0000001000, 0, 9, 16);
    ucx_seed(false, UCX_MSG_REGION_ADD, p, n, "region-add-empty");
    n = ucx_region(p, UINT64_MAX - 4095, 4096, 9, 16);
    ucx_seed(false, UCX_MSG_REGION_ADD, p, n, "region-add-ends-at-2-64");
    n = ucx_region(p, UINT64_MAX - 4095, 4095, 9, 16);
    ucx_seed(false, UCX_MSG_REGION_ADD, p, n, "region-add-last-byte");
    n = ucx_region(p, 0x7f0000001000, 4096, 9, 16);
    ucx_seed(true, UCX_MSG_REGION_ADD, p, n, "region-add-to-target");
    ucx_seed(false, UCX_MSG_REGION_DEL, p, UCX_REGION_DEL_SIZE + 1, "region-del-long");
    ucx_seed(false, UCX_MSG_READY, p, 1, "ready-with-payload");

    n = ucx_key_req(p, 4, UCX_KEY_REQ_MAX);
    ucx_seed(true, UCX_MSG_KEY_REQ, p, n, "key-req-most");
    n = ucx_key_req(p, 4, UCX_KEY_REQ_MAX + 1);
    ucx_seed(true, UCX_MSG_KEY_REQ, p, n, "key-req-too-many");
    n = ucx_key_req(p, 4, 0);
    ucx_seed(true, UCX_MSG_KEY_REQ, p, n, "key-req-none");
    n = ucx_key_req(p, 4, 2);
    adxl_le_put_u32(p + 8, 3); /* the count says more than the message holds */
    ucx_seed(true, UCX_MSG_KEY_REQ, p, n, "key-req-count-exceeds");
    ucx_seed(true, UCX_MSG_KEY_REQ, p, n - 1, "key-req-partial-entry");
    ucx_seed(false, UCX_MSG_KEY_REQ, p, n, "key-req-to-initiator");
    ucx_seed(false, UCX_MSG_KEY_DONE, p, UCX_KEY_DONE_SIZE + 1, "key-done-long");
    ucx_seed(true, UCX_MSG_KEY_DONE, p, UCX_KEY_DONE_SIZE, "key-done-to-target");
    ucx_seed(true, UCX_MSG_REGION_ACK, p, UCX_REGION_ACK_SIZE - 1, "region-ack-short");
    ucx_seed(false, UCX_MSG_NOTIFY_ACK, p, UCX_NOTIFY_ACK_SIZE + 4, "notify-ack-long");
    ucx_seed(true, 0, p, 0, "type-0");
    ucx_seed(false, 0xffff, p, 8, "type-unknown");

    /* Headers: a wrong magic; a length past the limit (the payload is not sent). */
    seed_t s = {.n = 0};
    uint8_t mode = 0, h[UCX_MSG_HEADER];
    put(&s, &mode, 1);
    ucx_header_encode(h, UCX_MSG_READY, 0);
    h[3] ^= 0x20;
    put(&s, h, sizeof(h));
    write_seed(&s, "header-bad-magic");
    s.n = 0;
    put(&s, &mode, 1);
    ucx_header_encode(h, UCX_MSG_WELCOME, UCX_MSG_MAX + 1);
    put(&s, h, sizeof(h));
    write_seed(&s, "header-too-long");
    s.n = 0;
    put(&s, &mode, 1);
    ucx_header_encode(h, UCX_MSG_READY, 0);
    h[6] = 0x01; /* reserved: not checked */
    put(&s, h, sizeof(h));
    write_seed(&s, "header-reserved-set");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    root = argv[1];
    if (mkdir(root, 0755) != 0 && errno != EEXIST) {
        perror(root);
        return 1;
    }
    gen_hello();
    gen_hello_ack();
    gen_pieces();
    gen_notify();
    gen_target_frames();
    gen_initiator_frames();
    gen_engine_name();
    gen_options();
    gen_resource_config();
    gen_shm_messages();
    gen_ucx_messages();
    return failures ? 1 : 0;
}
