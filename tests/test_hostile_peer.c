/*
 * A hostile peer against a real target engine in this process. The target registers two
 * adjacent regions, A (1 MiB) and B (64 KiB), inside a larger allocation whose other
 * bytes are canaries; a model of every byte of that allocation is kept, updated only by
 * writes the target must accept, and compared with the real bytes after every round. A
 * raw-socket client that speaks the wire protocol from docs/WIRE.md (encoded here, not
 * with the engine's code) then sends a wrong magic and version, impossible counts and
 * lengths, addresses outside registered memory, truncated frames, bytes trickled in and
 * out slowly (slowloris, paced by the test itself), connections while the process is
 * out of descriptors, a thousand idle connections, and a flood of notifies over many
 * links. Throughout, a legitimate initiator engine keeps
 * moving verified data, and RSS and thread count are printed before and after and held
 * to generous bounds.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define KIB ((size_t)1024)
#define MIB (KIB * KIB)
#define GUARD (64 * KIB)
#define A_LEN MIB
#define B_LEN (64 * KIB)
#define ARENA_LEN (GUARD + A_LEN + B_LEN + GUARD)
#define CANARY 0xC5

/* The target's PeerTimeoutMs: hostile connections are judged by it. */
#define PEER_TIMEOUT_MS 2000
/* A generous upper bound for anything the target must do (noisy 2-core machine). */
#define BOUND_MS 30000
#define PACE_MS 250 /* slowloris: one small send per PACE_MS */
#define IDLE_CONNECTIONS 1000
#define FLOOD_LINKS 16

/* Sanitizer runtimes keep freed memory in quarantine and add shadow memory for every
 * thread, so RSS measures them more than the engine: the bounds below are tight in
 * plain builds and eight times looser under a sanitizer. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif
#define RSS_BOUND_KIB(mib) ((long)(mib)*1024 * (SANITIZED ? 8 : 1))

/* The wire format, from docs/WIRE.md. */
#define MAGIC 0x4C445841u
#define T_WRITE 1
#define T_READ 2
#define T_ACK 3
#define T_DATA 4
#define T_NOTIFY 5
#define T_NOTIFY_ACK 6
#define T_PING 7
#define T_PONG 8
#define T_REGION_ADD 9
#define HDR 24
#define PIECE 32

static adxl_engine_t *target, *legit;
static char target_name[128];
static struct sockaddr_in target_addr;
static uint8_t *arena, *model; /* the target's memory, and what it must hold */
static uintptr_t region_a, region_b;
static uint8_t *legit_buf; /* the legitimate initiator's registered buffer */

/* ------------------------------------------------------------------ measurements */

static long status_field(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(key);
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, key, n) == 0 && line[n] == ':') v = strtol(line + n + 1, NULL, 10);
    fclose(f);
    return v;
}

static long rss_kib(void) {
    return status_field("VmRSS");
}

static long threads(void) {
    return status_field("Threads");
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Waits (bounded) until at most `want` threads run: finished connection threads are
 * joined by the target's accept thread, about once a second. */
static long threads_settle(long want) {
    uint64_t end = tu_now_ms() + BOUND_MS;
    long n;
    while ((n = threads()) > want && tu_now_ms() < end)
        sleep_ms(50);
    return n;
}

/* ------------------------------------------------------------------ the model */

/* Every byte of the allocation, canaries included, must be what the model says. */
static void check_memory(const char *after) {
    if (memcmp(arena, model, ARENA_LEN) == 0) {
        tu_checks_passed++;
        return;
    }
    for (size_t i = 0; i < ARENA_LEN; i++)
        if (arena[i] != model[i]) {
            const char *where = i < GUARD                   ? "the guard before A"
                                : i < GUARD + A_LEN         ? "region A"
                                : i < GUARD + A_LEN + B_LEN ? "region B"
                                                            : "the guard after B";
            fprintf(stderr, "after %s: byte %zu (%s) is 0x%02x, expected 0x%02x\n", after, i, where,
                    arena[i], model[i]);
            break;
        }
    tu_checks_failed++;
}

static uint8_t *model_at(uintptr_t addr) {
    return model + (addr - (uintptr_t)arena);
}

/* ------------------------------------------------------------------ the legitimate peer */

static bool legit_xfer(adxl_transfer_op_t op, void *local, uintptr_t remote, size_t len) {
    adxl_transfer_op_desc_t d = {(uintptr_t)local, remote, len};
    adxl_status_t st = adxl_transfer_sync(legit, target_name, op, &d, 1, BOUND_MS);
    if (st != ADXL_SUCCESS)
        fprintf(stderr, "legitimate %s of %zu bytes: %s\n", op == ADXL_WRITE ? "WRITE" : "READ",
                len, adxl_status_str(st));
    return st == ADXL_SUCCESS;
}

/* One direct (large, registered) and one buffered (small) WRITE into A, each read back
 * and verified, and a notify: the target must go on serving through everything. */
static void legit_round(const char *after, uint64_t seed) {
    static const struct { size_t off, len; } parts[] = {{0, 300 * KIB}, {600 * KIB + 3, 4 * KIB}};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        uint8_t *src = legit_buf, *back = legit_buf + 512 * KIB;
        uintptr_t remote = region_a + parts[i].off;
        tu_fill(src, parts[i].len, seed + i);
        bool ok = legit_xfer(ADXL_WRITE, src, remote, parts[i].len);
        if (ok) memcpy(model_at(remote), src, parts[i].len);
        memset(back, 0, parts[i].len);
        ok = ok && legit_xfer(ADXL_READ, back, remote, parts[i].len);
        if (!ok || !tu_verify(back, parts[i].len, seed + i))
            fprintf(stderr, "legitimate transfers failed after %s\n", after);
        CHECK(ok && tu_verify(back, parts[i].len, seed + i));
    }
    char msg[64];
    snprintf(msg, sizeof(msg), "round %llu", (unsigned long long)seed);
    CHECK_STATUS(adxl_send_notify(legit, target_name, "legit", msg, BOUND_MS), ADXL_SUCCESS);
    adxl_notify_t note;
    size_t count = 0;
    CHECK_STATUS(adxl_get_notifies(target, &note, 1, &count), ADXL_SUCCESS);
    CHECK(count == 1 && strcmp(note.name, "legit") == 0 && strcmp(note.msg, msg) == 0);
    check_memory(after);
}

/* ------------------------------------------------------------------ the raw client */

static void le(uint8_t *p, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static size_t put_header(uint8_t *p, uint16_t type, uint32_t count, uint64_t id, uint64_t len) {
    memset(p, 0, HDR);
    le(p, type, 2);
    le(p + 4, count, 4);
    le(p + 8, id, 8);
    le(p + 16, len, 8);
    return HDR;
}

static size_t put_piece(uint8_t *p, uint64_t addr, uint64_t len, uint64_t span, uint64_t span_len) {
    le(p, addr, 8);
    le(p + 8, len, 8);
    le(p + 16, span, 8);
    le(p + 24, span_len, 8);
    return PIECE;
}

#define VERSION 4
#define HELLO_FIXED 56
#define ACK_FIXED 80
/* What a probe gets after HELLO_ACK: the host facts' 2-byte length, then 41 fixed bytes and
 * up to 4 offers of at most 73 bytes each. */
#define FACTS_MIN (2 + 41)
#define FACTS_MAX (2 + 41 + 4 * 73)

static size_t put_hello(uint8_t *p, uint32_t magic, uint16_t version, uint16_t index,
                        uint16_t count, const char *name) {
    size_t n = strlen(name);
    le(p, magic, 4);
    le(p + 4, version, 2);
    le(p + 6, index, 2);
    le(p + 8, count, 2);
    le(p + 10, n, 2);
    le(p + 12, 0x5eed, 8);
    le(p + 20, 0, 4);      /* flags: no shared secret */
    memset(p + 24, 7, 32); /* nonce */
    memcpy(p + HELLO_FIXED, name, n);
    return HELLO_FIXED + n;
}

/* rcvbuf: a receive buffer size to set before connecting, or 0. */
static int raw_connect_rcvbuf(int rcvbuf) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (connect(fd, (const struct sockaddr *)&target_addr, sizeof(target_addr)) != 0) {
        close(fd);
        return -1;
    }
    int one = 1; /* trickled bytes must leave one send at a time */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static int raw_connect(void) {
    return raw_connect_rcvbuf(0);
}

/* false: the target closed (or reset) the connection. */
static bool send_all(int fd, const void *buf, size_t len) {
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static bool recv_all(int fd, void *buf, size_t len, int timeout_ms) {
    uint8_t *p = buf;
    uint64_t end = tu_now_ms() + (uint64_t)timeout_ms;
    while (len > 0) {
        uint64_t now = tu_now_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (now >= end || poll(&pfd, 1, (int)(end - now)) <= 0) return false;
        ssize_t n = recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Waits for the target to close fd: true when it did within timeout_ms; *extra counts
 * the bytes that came before the end. */
static bool closed_by_target(int fd, int timeout_ms, size_t *extra) {
    uint64_t end = tu_now_ms() + (uint64_t)timeout_ms;
    uint8_t buf[64 * 1024];
    *extra = 0;
    for (;;) {
        uint64_t now = tu_now_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (now >= end || poll(&pfd, 1, (int)(end - now)) <= 0) return false;
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE))) return true;
        if (n > 0) *extra += (size_t)n;
    }
}

/* HELLO and HELLO_ACK, and for stream 0 the region snapshot up to its empty frame. */
static bool raw_handshake(int fd, uint16_t index, uint16_t count) {
    uint8_t buf[128];
    size_t n = put_hello(buf, MAGIC, VERSION, index, count, "127.0.0.1:1");
    if (!send_all(fd, buf, n) || !recv_all(fd, buf, ACK_FIXED, BOUND_MS)) return false;
    if (get_le(buf, 4) != MAGIC || get_le(buf + 4, 2) != VERSION || get_le(buf + 8, 4) != 0)
        return false;
    size_t name_len = get_le(buf + 6, 2);
    if (name_len > 64 || !recv_all(fd, buf, name_len, BOUND_MS)) return false;
    for (int frames = 0; index == 0; frames++) {
        if (frames > 20 || !recv_all(fd, buf, HDR, BOUND_MS) || get_le(buf, 2) != T_REGION_ADD)
            return false;
        size_t items = get_le(buf + 4, 4);
        if (items == 0) break;
        for (size_t i = 0; i < items; i++)
            if (!recv_all(fd, buf, 16, BOUND_MS)) return false;
    }
    return true;
}

static int raw_session(uint16_t index, uint16_t count) {
    int fd = raw_connect();
    if (fd >= 0 && !raw_handshake(fd, index, count)) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) fprintf(stderr, "raw client: no connection to the target\n");
    return fd;
}

/* The connection still works: a PING gets its PONG. */
static bool ping_pong(int fd, uint64_t id) {
    uint8_t h[HDR];
    put_header(h, T_PING, 0, id, 0);
    return send_all(fd, h, HDR) && recv_all(fd, h, HDR, BOUND_MS) && get_le(h, 2) == T_PONG &&
           get_le(h + 8, 8) == id;
}

/* ------------------------------------------------------------------ rounds */

/* Bytes sent on a fresh connection (after a good handshake unless `raw`): the target
 * must close it without answering. */
static void expect_dropped(const char *what, const uint8_t *bytes, size_t len, bool raw) {
    int fd = raw ? raw_connect() : raw_session(0, 1);
    REQUIRE(fd >= 0);
    size_t extra = 0;
    send_all(fd, bytes, len); /* the target may close before taking it all */
    bool closed = closed_by_target(fd, BOUND_MS, &extra);
    if (!closed || extra != 0)
        fprintf(stderr, "%s: %s, %zu bytes answered\n", what, closed ? "closed" : "NOT closed",
                extra);
    CHECK(closed && extra == 0);
    close(fd);
}

static void round_handshake(void) {
    uint8_t b[256];
    expect_dropped("wrong magic", b, put_hello(b, 0x4C445842u, VERSION, 0, 1, "127.0.0.1:1"), true);
    expect_dropped("wrong version", b, put_hello(b, MAGIC, 1, 0, 1, "127.0.0.1:1"), true);
    expect_dropped("version 0", b, put_hello(b, MAGIC, 0, 0, 1, "127.0.0.1:1"), true);
    expect_dropped("stream index = count", b, put_hello(b, MAGIC, VERSION, 4, 4, "127.0.0.1:1"),
                   true);
    expect_dropped("stream count 0, index 1", b, put_hello(b, MAGIC, VERSION, 1, 0, "127.0.0.1:1"),
                   true);
    /* Count 0 with index 0 is a probe: HELLO_ACK and the host facts, then closed. */
    int fd = raw_connect();
    REQUIRE(fd >= 0);
    size_t n0 = put_hello(b, MAGIC, VERSION, 0, 0, "127.0.0.1:1");
    size_t extra = 0;
    CHECK(send_all(fd, b, n0));
    CHECK(closed_by_target(fd, BOUND_MS, &extra));
    CHECK(extra >= ACK_FIXED + FACTS_MIN && extra <= ACK_FIXED + 64 + FACTS_MAX);
    close(fd);
    expect_dropped("name with a newline", b, put_hello(b, MAGIC, VERSION, 0, 1, "1.2.3.4\n:1"),
                   true);
    size_t n = put_hello(b, MAGIC, VERSION, 0, 1, "127.0.0.1:1");
    le(b + 10, 65, 2); /* name length over 64 */
    memset(b + n, 'x', 65);
    expect_dropped("name length 65", b, HELLO_FIXED + 65, true);
    le(b + 10, 0xffff, 2);
    expect_dropped("name length 65535", b, HELLO_FIXED + 65, true);
    memset(b, 'G', 64); /* an HTTP client, say */
    expect_dropped("not adxl at all", b, 64, true);
}

static void round_broken_frames(void) {
    static uint8_t b[8192];
    size_t n;
    const uint64_t a = region_a;

    n = put_header(b, T_WRITE, 0, 1, 0);
    expect_dropped("WRITE of 0 pieces", b, n, false);
    n = put_header(b, T_READ, 4097, 1, 0);
    expect_dropped("READ of 4097 pieces", b, n, false);
    n = put_header(b, T_WRITE, 0xffffffffu, 1, UINT64_MAX);
    expect_dropped("WRITE, count and length at their maxima", b, n, false);

    n = put_header(b, T_WRITE, 1, 1, 17);
    n += put_piece(b + n, a, 16, a, 16);
    expect_dropped("WRITE length not the pieces' sum", b, n, false);
    n = put_header(b, T_WRITE, 1, 1, UINT64_MAX);
    n += put_piece(b + n, a, UINT64_MAX, a, UINT64_MAX);
    expect_dropped("WRITE of 2^64-1 bytes", b, n, false);
    n = put_header(b, T_WRITE, 1, 1, 32);
    n += put_piece(b + n, UINT64_MAX - 15, 32, UINT64_MAX - 15, 32);
    expect_dropped("piece wrapping past 2^64", b, n, false);
    n = put_header(b, T_READ, 1, 1, 0);
    n += put_piece(b + n, a, 16, a, UINT64_MAX);
    expect_dropped("span wrapping past 2^64", b, n, false);
    n = put_header(b, T_READ, 1, 1, 0);
    n += put_piece(b + n, a + 64, 16, a, 64);
    expect_dropped("piece outside its span", b, n, false);
    n = put_header(b, T_READ, 1, 1, 0);
    n += put_piece(b + n, 0, 16, 0, 16);
    expect_dropped("piece at address 0", b, n, false);
    n = put_header(b, T_READ, 1, 1, 0);
    n += put_piece(b + n, a, (1ull << 30) + 1, a, (1ull << 30) + 1);
    expect_dropped("piece over 1 GiB", b, n, false);
    n = put_header(b, T_READ, 2, 1, 0);
    n += put_piece(b + n, a, 1ull << 29, a, 1ull << 29);
    n += put_piece(b + n, a, (1ull << 29) + 1, a, (1ull << 29) + 1);
    expect_dropped("pieces adding up to over 1 GiB", b, n, false);
    n = put_header(b, T_READ, 1, 1, 16);
    n += put_piece(b + n, a, 16, a, 16);
    expect_dropped("READ with a length", b, n, false);

    n = put_header(b, 99, 0, 1, 0);
    expect_dropped("unknown frame type", b, n, false);
    n = put_header(b, T_ACK, 0, 1, 0);
    expect_dropped("an answer sent to the target", b, n, false);
    n = put_header(b, T_PING, 0, 1, 1);
    b[n++] = 0;
    expect_dropped("PING with a body", b, n, false);

    n = put_header(b, T_NOTIFY, 0, 1, 7);
    memset(b + n, 0, 7);
    expect_dropped("NOTIFY body under 8 bytes", b, n + 7, false);
    n = put_header(b, T_NOTIFY, 0, 1, 8 + 2048 + 1);
    expect_dropped("NOTIFY body over 2056 bytes", b, n, false);
    n = put_header(b, T_NOTIFY, 0, 1, 8 + 4);
    le(b + n, 2, 4);
    le(b + n + 4, 3, 4);
    memcpy(b + n + 8, "abcd", 4);
    expect_dropped("NOTIFY lengths not the body's", b, n + 12, false);
    n = put_header(b, T_NOTIFY, 0, 1, 8 + 4);
    le(b + n, 0xfffffffeu, 4);
    le(b + n + 4, 6, 4);
    memcpy(b + n + 8, "abcd", 4);
    expect_dropped("NOTIFY lengths wrapping u32", b, n + 12, false);
    n = put_header(b, T_NOTIFY, 0, 1, 8 + 4);
    le(b + n, 2, 4);
    le(b + n + 4, 2, 4);
    memcpy(b + n + 8, "a\0cd", 4);
    expect_dropped("NOTIFY with a NUL", b, n + 12, false);
    n = put_header(b, T_NOTIFY, 0, 1, 8 + 1025);
    le(b + n, 1025, 4);
    le(b + n + 4, 0, 4);
    memset(b + n + 8, 'n', 1025);
    expect_dropped("NOTIFY name of 1025", b, n + 8 + 1025, false);
}

/* A WRITE or READ of [addr, addr + len) that the target must refuse, keeping the
 * connection: ACK or DATA with ADXL_PARAM_INVALID, then a PING still gets its PONG. */
static void expect_refused(const char *what, bool write, uint64_t addr, uint64_t len) {
    int fd = raw_session(0, 1);
    REQUIRE(fd >= 0);
    static uint8_t b[HDR + PIECE + 128 * 1024];
    REQUIRE(len <= 128 * 1024);
    size_t n = put_header(b, write ? T_WRITE : T_READ, 1, 42, write ? len : 0);
    n += put_piece(b + n, addr, len, addr, len);
    if (write) {
        memset(b + n, 0xEE, len); /* would show in the canaries or the regions */
        n += len;
    }
    bool ok = send_all(fd, b, n) && recv_all(fd, b, HDR, BOUND_MS) &&
              get_le(b, 2) == (write ? T_ACK : T_DATA) && get_le(b + 8, 8) == 42;
    if (ok && write) ok = get_le(b + 4, 4) == ADXL_PARAM_INVALID;
    if (ok && !write)
        ok = get_le(b + 16, 8) == 0 && recv_all(fd, b, 4, BOUND_MS) &&
             get_le(b, 4) == ADXL_PARAM_INVALID;
    ok = ok && ping_pong(fd, 43);
    if (!ok)
        fprintf(stderr, "%s %s: not refused as it should be\n", write ? "WRITE" : "READ", what);
    CHECK(ok);
    close(fd);
}

static void round_outside(void) {
    const uint64_t a = region_a, b = region_b, end = region_b + B_LEN;
    const struct {
        const char *what;
        uint64_t addr, len;
    } cases[] = {
        {"just before A", a - 1, 2},
        {"the last guard byte before A", a - 1, 1},
        {"just after B", end, 1},
        {"straddling the end of B", end - 8, 16},
        {"straddling A and B (adjacent regions)", b - 8, 16},
        {"the whole allocation", (uint64_t)(uintptr_t)arena, 128 * 1024},
        {"the test's own (unregistered) heap", (uint64_t)(uintptr_t)model, 4096},
        {"low memory", 0x1000, 16},
        {"the top of the address space", UINT64_MAX - 16, 16},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect_refused(cases[i].what, true, cases[i].addr, cases[i].len);
        expect_refused(cases[i].what, false, cases[i].addr, cases[i].len);
    }

    /* The raw client itself is right: inside B, a WRITE and a READ are served. */
    int fd = raw_session(0, 1);
    REQUIRE(fd >= 0);
    static uint8_t f[HDR + PIECE + 4096];
    size_t n = put_header(f, T_WRITE, 1, 7, 4096);
    n += put_piece(f + n, b + 100, 4096, b, B_LEN);
    tu_fill(f + n, 4096, 77);
    memcpy(model_at(b + 100), f + n, 4096);
    n += 4096;
    bool ok = send_all(fd, f, n) && recv_all(fd, f, HDR, BOUND_MS) && get_le(f, 2) == T_ACK &&
              get_le(f + 4, 4) == ADXL_SUCCESS;
    n = put_header(f, T_READ, 1, 8, 0);
    n += put_piece(f + n, b + 100, 4096, b + 100, 4096);
    ok = ok && send_all(fd, f, n) && recv_all(fd, f, HDR, BOUND_MS) && get_le(f, 2) == T_DATA &&
         get_le(f + 16, 8) == 4096 && recv_all(fd, f, 4096 + 4, BOUND_MS) &&
         tu_verify(f, 4096, 77) && get_le(f + 4096, 4) == ADXL_SUCCESS;
    /* And a well-formed notify is queued as sent. */
    n = put_header(f, T_NOTIFY, 0, 9, 8 + 5 + 2);
    le(f + n, 5, 4);
    le(f + n + 4, 2, 4);
    memcpy(f + n + 8, "hello42", 7);
    ok = ok && send_all(fd, f, n + 15) && recv_all(fd, f, HDR, BOUND_MS) &&
         get_le(f, 2) == T_NOTIFY_ACK && get_le(f + 4, 4) == ADXL_SUCCESS;
    adxl_notify_t note;
    size_t count = 0;
    adxl_get_notifies(target, &note, 1, &count);
    ok = ok && count == 1 && strcmp(note.name, "hello") == 0 && strcmp(note.msg, "42") == 0;
    if (!ok) fprintf(stderr, "the raw client's own WRITE, READ and NOTIFY were not served\n");
    CHECK(ok);
    close(fd);
}

/* Frames cut short by closing the connection. Any payload sent is what the memory holds
 * already, so it does not matter how much of it lands. */
static void round_truncated(void) {
    static uint8_t f[HDR + 2 * PIECE + 8192];
    const uint64_t b = region_b;
    struct {
        const char *what;
        size_t len;
    } cuts[4];
    size_t n = put_header(f, T_WRITE, 2, 1, 8192);
    n += put_piece(f + n, b, 4096, b, B_LEN);
    n += put_piece(f + n, b + 8192, 4096, b, B_LEN);
    memcpy(f + n, model_at(b), 4096);
    memcpy(f + n + 4096, model_at(b + 8192), 4096);
    n += 8192;
    cuts[0].what = "in the header";
    cuts[0].len = 10;
    cuts[1].what = "in the piece table";
    cuts[1].len = HDR + PIECE + 5;
    cuts[2].what = "in the payload";
    cuts[2].len = n - 4096 - 100;
    cuts[3].what = "one byte short";
    cuts[3].len = n - 1;
    for (int i = 0; i < 4; i++) {
        int fd = raw_session(0, 1);
        REQUIRE(fd >= 0);
        CHECK(send_all(fd, f, cuts[i].len));
        close(fd);
        legit_round(cuts[i].what, 300 + (uint64_t)i);
    }
    /* A notify cut short. */
    int fd = raw_session(0, 1);
    REQUIRE(fd >= 0);
    n = put_header(f, T_NOTIFY, 0, 1, 8 + 100);
    le(f + n, 50, 4);
    le(f + n + 4, 50, 4);
    memset(f + n + 8, 'q', 60);
    CHECK(send_all(fd, f, n + 8 + 60));
    close(fd);
    legit_round("a notify cut short", 310);
    size_t count = 1;
    CHECK_STATUS(adxl_get_notifies(target, NULL, 0, &count), ADXL_SUCCESS);
    CHECK(count == 0);
}

/* Sends bytes `step` at a time, one send per PACE_MS, until all are sent or the target
 * closes the connection. Returns how many went out before the close was seen. */
static size_t trickle(int fd, const uint8_t *bytes, size_t len, size_t step, bool *closed) {
    size_t sent = 0;
    *closed = false;
    while (sent < len && !*closed) {
        size_t k = len - sent < step ? len - sent : step;
        if (!send_all(fd, bytes + sent, k)) {
            *closed = true;
            break;
        }
        sent += k;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, PACE_MS) > 0) {
            uint8_t sink[256];
            ssize_t r = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) *closed = true;
        }
    }
    if (!*closed) {
        size_t extra;
        *closed = closed_by_target(fd, BOUND_MS, &extra);
    }
    return sent;
}

static void slow_sender(const char *what, int fd, const uint8_t *bytes, size_t len, size_t step) {
    uint64_t t0 = tu_now_ms();
    bool closed;
    size_t sent = trickle(fd, bytes, len, step, &closed);
    printf("slowloris, %s: closed by the target after %zu of %zu bytes, %llu ms\n", what, sent, len,
           (unsigned long long)(tu_now_ms() - t0));
    if (!closed || sent >= len)
        fprintf(stderr, "slowloris, %s: %s after %zu of %zu bytes\n", what,
                closed ? "closed only" : "never closed", sent, len);
    CHECK(closed && sent < len);
    close(fd);
}

static void round_slowloris(void) {
    long before = threads();
    /* A HELLO a byte at a time: it must be complete within PeerTimeoutMs. */
    uint8_t hello[128];
    size_t n = put_hello(hello, MAGIC, VERSION, 0, 1, "127.0.0.1:12345");
    int fd = raw_connect();
    REQUIRE(fd >= 0);
    slow_sender("HELLO", fd, hello, n, 1);

    /* A frame header a byte at a time, after a good handshake. */
    uint8_t h[HDR];
    put_header(h, T_PING, 0, 1, 0);
    fd = raw_session(0, 1);
    REQUIRE(fd >= 0);
    slow_sender("frame header", fd, h, HDR, 1);

    /* A piece table a few bytes at a time. */
    static uint8_t f[HDR + 64 * PIECE];
    n = put_header(f, T_READ, 64, 1, 0);
    for (int i = 0; i < 64; i++)
        n += put_piece(f + n, region_b, 16, region_b, 16);
    fd = raw_session(0, 1);
    REQUIRE(fd >= 0);
    send_all(fd, f, HDR);
    slow_sender("piece table", fd, f + HDR, n - HDR, 8);

    /* WRITE payload 64 bytes at a time: 64 KiB would take over four minutes. The payload
     * is what B holds already. */
    static uint8_t w[HDR + PIECE + B_LEN];
    n = put_header(w, T_WRITE, 1, 1, B_LEN);
    n += put_piece(w + n, region_b, B_LEN, region_b, B_LEN);
    memcpy(w + n, model_at(region_b), B_LEN);
    fd = raw_session(0, 1);
    REQUIRE(fd >= 0);
    REQUIRE(send_all(fd, w, n));
    slow_sender("WRITE payload", fd, w + n, B_LEN, 64);

    /* A slow reader: a READ of all of A, with a small receive buffer, read 2 KiB per
     * PACE_MS (often enough that the target's sends never wait PeerTimeoutMs, far slower
     * than 64 KiB per PeerTimeoutMs) for PeerTimeoutMs and some; then read fast: the
     * answer must end early. */
    fd = raw_connect_rcvbuf(4096);
    REQUIRE(fd >= 0);
    REQUIRE(raw_handshake(fd, 0, 1));
    n = put_header(f, T_READ, 1, 1, 0);
    n += put_piece(f + n, region_a, A_LEN, region_a, A_LEN);
    REQUIRE(send_all(fd, f, n));
    uint64_t t0 = tu_now_ms();
    size_t got = 0;
    static uint8_t sink[64 * 1024];
    while (tu_now_ms() - t0 < PEER_TIMEOUT_MS + 4000) {
        ssize_t r = recv(fd, sink, 2048, MSG_DONTWAIT);
        if (r > 0) got += (size_t)r;
        sleep_ms(PACE_MS);
    }
    bool closed = false;
    uint64_t end = tu_now_ms() + BOUND_MS;
    while (!closed && tu_now_ms() < end) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 1000) <= 0) continue;
        ssize_t r = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
        if (r > 0) got += (size_t)r;
        if (r == 0 || (r < 0 && errno == ECONNRESET)) closed = true;
    }
    size_t whole = HDR + A_LEN + 4;
    printf("slowloris, slow reader: %s after %zu of %zu bytes, %llu ms\n",
           closed ? "closed by the target" : "NOT closed", got, whole,
           (unsigned long long)(tu_now_ms() - t0));
    CHECK(closed && got < whole);
    close(fd);
    long after = threads_settle(before);
    printf("slowloris: threads before %ld, after %ld\n", before, after);
    CHECK(after <= before);
}

/* Connections arrive while the process has no descriptor left, so the target cannot
 * accept them and its listener stays readable: it must not spin on it, and must take
 * the connections once descriptors are back. */
static void round_out_of_descriptors(void) {
    int c1 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(c1 >= 0);
    struct rlimit saved, low;
    REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
    low = saved;
    low.rlim_cur = (rlim_t)tu_highest_fd() + 1;
    REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
    int fillers[4096], nfill = 0; /* every free number below the limit */
    while (nfill < 4096 && (fillers[nfill] = dup(c1)) >= 0)
        nfill++;
    bool exhausted = nfill < 4096 && errno == EMFILE;
    bool connected = connect(c1, (const struct sockaddr *)&target_addr, sizeof(target_addr)) == 0;
    /* A window to measure in, not a wait for anything. */
    double cpu0 = tu_process_cpu_ms();
    sleep_ms(1000);
    double used = tu_process_cpu_ms() - cpu0;
    for (int i = 0; i < nfill; i++)
        close(fillers[i]);
    setrlimit(RLIMIT_NOFILE, &saved);
    printf("out of descriptors: %.0f ms of CPU in 1000 ms with a connection waiting\n", used);
    CHECK(exhausted && connected);
    CHECK(used < 500); /* a spinning accept thread takes all of it */
    /* Descriptors are back: the waiting connection is taken and served. */
    CHECK(connected && raw_handshake(c1, 0, 1) && ping_pong(c1, 5));
    close(c1);
}

/* Raises the descriptor limit for the idle round; returns how many connections fit. */
static int idle_budget(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 100;
    rlim_t want = 4 * IDLE_CONNECTIONS + 512; /* ours, the target's socket and eventfd */
    if (rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    long fit = ((long)rl.rlim_cur - 512) / 3;
    if (fit < IDLE_CONNECTIONS)
        printf("idle: descriptor limit %ld allows only %ld connections\n", (long)rl.rlim_cur, fit);
    return fit < IDLE_CONNECTIONS ? (int)(fit > 10 ? fit : 10) : IDLE_CONNECTIONS;
}

static void round_idle(void) {
    int count = idle_budget();
    int *fds = malloc(sizeof(int) * (size_t)count);
    struct pollfd *pfd = calloc((size_t)count, sizeof(*pfd));
    REQUIRE(fds && pfd);
    long threads_before = threads(), rss_before = rss_kib();
    uint8_t hello[128];
    size_t hello_len = put_hello(hello, MAGIC, VERSION, 0, 1, "127.0.0.1:1");
    uint64_t t0 = tu_now_ms();
    int opened = 0;
    for (int i = 0; i < count; i++) {
        fds[i] = raw_connect();
        if (fds[i] < 0) break;
        opened++;
        /* Every other one stops in the middle of its HELLO; the rest say nothing. */
        if (i % 2) send_all(fds[i], hello, hello_len / 2);
    }
    printf("idle: %d connections open in %llu ms\n", opened,
           (unsigned long long)(tu_now_ms() - t0));
    CHECK(opened == count);
    long peak_threads = threads(), peak_rss = rss_kib();
    /* The target keeps serving while they sit there. */
    legit_round("a thousand idle connections opened", 400);
    long t = threads();
    if (t > peak_threads) peak_threads = t;
    /* A few that finished the handshake and then fell silent (no PING either). */
    int quiet[20], nquiet = 0;
    for (int i = 0; i < 20; i++)
        if ((quiet[i] = raw_session(1, 2)) >= 0) nquiet++;
    CHECK(nquiet == 20);

    /* Every one of them must be closed by the target. */
    for (int i = 0; i < opened; i++)
        pfd[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    int closed = 0;
    uint64_t end = tu_now_ms() + BOUND_MS;
    while (closed < opened && tu_now_ms() < end) {
        if (poll(pfd, (nfds_t)opened, 1000) <= 0) continue;
        for (int i = 0; i < opened; i++) {
            if (pfd[i].fd < 0 || !pfd[i].revents) continue;
            uint8_t sink[64];
            ssize_t r = recv(pfd[i].fd, sink, sizeof(sink), MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                pfd[i].fd = -1;
                closed++;
            }
        }
        t = threads();
        if (t > peak_threads) peak_threads = t;
        long r = rss_kib();
        if (r > peak_rss) peak_rss = r;
    }
    printf("idle: %d of %d closed by the target after %llu ms\n", closed, opened,
           (unsigned long long)(tu_now_ms() - t0));
    CHECK(closed == opened);
    int quiet_closed = 0;
    for (int i = 0; i < 20; i++) {
        size_t extra;
        if (quiet[i] >= 0 && closed_by_target(quiet[i], BOUND_MS, &extra)) quiet_closed++;
        if (quiet[i] >= 0) close(quiet[i]);
    }
    CHECK(quiet_closed == 20);
    for (int i = 0; i < opened; i++)
        close(fds[i]);
    free(fds);
    free(pfd);
    long threads_after = threads_settle(threads_before);
    long rss_after = rss_kib();
    printf("idle: threads %ld before, %ld at the peak, %ld after; RSS %ld KiB before, %ld at the "
           "peak, %ld after\n",
           threads_before, peak_threads, threads_after, rss_before, peak_rss, rss_after);
    CHECK(threads_after <= threads_before);
    /* About 25 KiB each in a plain build: a thread's stack, mostly. */
    CHECK(peak_rss - rss_before < RSS_BOUND_KIB(64));
    legit_round("a thousand idle connections", 401);
}

/* Many links, each sending more notifies than a link may leave unread, none read: what
 * the target queues must stay within its engine-wide bound. */
static void round_notify_flood(void) {
    enum { PER_LINK = 4096 + 64 };
    long rss_before = rss_kib(), rss_peak = rss_before;
    size_t frame = HDR + 8 + 2 * 1024;
    uint8_t *f = malloc(frame * 64);
    REQUIRE(f);
    for (int i = 0; i < 64; i++) {
        uint8_t *p = f + (size_t)i * frame;
        put_header(p, T_NOTIFY, 0, 0, 8 + 2048);
        le(p + HDR, 1024, 4);
        le(p + HDR + 4, 1024, 4);
        memset(p + HDR + 8, 'a' + i % 26, 2048);
    }
    size_t accepted = 0, exhausted = 0, other = 0;
    for (int link = 0; link < FLOOD_LINKS; link++) {
        int fd = raw_session(0, 1);
        REQUIRE(fd >= 0);
        /* Sixty-four frames in flight at a time, then their answers. */
        for (int sent = 0; sent < PER_LINK; sent += 64) {
            bool ok = send_all(fd, f, frame * 64);
            for (int k = 0; ok && k < 64; k++) {
                uint8_t h[HDR];
                ok = recv_all(fd, h, HDR, BOUND_MS) && get_le(h, 2) == T_NOTIFY_ACK;
                uint64_t st = ok ? get_le(h + 4, 4) : 0;
                if (!ok)
                    other++;
                else if (st == ADXL_SUCCESS)
                    accepted++;
                else if (st == ADXL_RESOURCE_EXHAUSTED)
                    exhausted++;
                else
                    other++;
            }
            if (!ok) break;
        }
        close(fd);
        long r = rss_kib();
        if (r > rss_peak) rss_peak = r;
    }
    free(f);
    size_t queued = 0;
    CHECK_STATUS(adxl_get_notifies(target, NULL, 0, &queued), ADXL_SUCCESS);
    /* 64 MiB engine-wide, each notify counting its strings and some bookkeeping. */
    size_t cap = (64 * MIB) / (2 * 1024 + 2);
    printf("notify flood: %d links x %d notifies of 2 KiB: %zu queued (bound %zu), %zu refused "
           "as RESOURCE_EXHAUSTED, %zu other; RSS %ld KiB before, %ld at the peak\n",
           FLOOD_LINKS, PER_LINK, accepted, cap, exhausted, other, rss_before, rss_peak);
    CHECK(other == 0);
    CHECK(queued == accepted);
    CHECK(accepted <= cap);
    CHECK(accepted + exhausted == (size_t)FLOOD_LINKS * PER_LINK);
    CHECK(rss_peak - rss_before < RSS_BOUND_KIB(128)); /* the 64 MiB bound, and some */

    /* Everything queued reads back as sent, and then the queue takes notifies again. */
    adxl_notify_t *notes = malloc(sizeof(adxl_notify_t) * 256);
    REQUIRE(notes);
    size_t drained = 0, bad = 0, got;
    do {
        got = 0;
        adxl_get_notifies(target, notes, 256, &got);
        for (size_t i = 0; i < got; i++)
            if (strlen(notes[i].name) != 1024 || strlen(notes[i].msg) != 1024 ||
                notes[i].name[0] != notes[i].msg[1023])
                bad++;
        drained += got;
    } while (got > 0);
    free(notes);
    CHECK(drained == accepted && bad == 0);
    legit_round("a notify flood", 500);
}

/* ------------------------------------------------------------------ main */

int main(void) {
    /* The target judges hostile connections by PeerTimeoutMs; small socket buffers make
     * a slow reader felt at once. The legitimate initiator pings well within it. */
    const adxl_option_t topts[] = {{"PeerTimeoutMs", "2000"}, {"TcpSocketBufferKB", "64"}};
    const adxl_option_t iopts[] = {{"HeartbeatIntervalMs", "200"}, {"PeerTimeoutMs", "10000"}};
    target = tu_engine("127.0.0.1:0", topts, 2);
    legit = tu_engine("127.0.0.1:0", iopts, 2);
    REQUIRE(target && legit);
    snprintf(target_name, sizeof(target_name), "%s", adxl_local_engine(target));
    target_addr.sin_family = AF_INET;
    target_addr.sin_port = htons((uint16_t)atoi(strrchr(target_name, ':') + 1));
    inet_pton(AF_INET, "127.0.0.1", &target_addr.sin_addr);

    REQUIRE(adxl_malloc_mem(ADXL_MEM_HOST, ARENA_LEN, (void **)&arena) == ADXL_SUCCESS);
    REQUIRE(adxl_malloc_mem(ADXL_MEM_HOST, MIB, (void **)&legit_buf) == ADXL_SUCCESS);
    model = malloc(ARENA_LEN);
    REQUIRE(model);
    memset(arena, CANARY, ARENA_LEN);
    region_a = (uintptr_t)arena + GUARD;
    region_b = region_a + A_LEN;
    tu_fill((void *)region_a, A_LEN + B_LEN, 1);
    memcpy(model, arena, ARENA_LEN);
    adxl_mem_desc_t da = {region_a, A_LEN}, db = {region_b, B_LEN},
                    dl = {(uintptr_t)legit_buf, MIB};
    adxl_mem_handle_t ha, hb, hl;
    REQUIRE(adxl_register_mem(target, &da, ADXL_MEM_HOST, &ha) == ADXL_SUCCESS);
    REQUIRE(adxl_register_mem(target, &db, ADXL_MEM_HOST, &hb) == ADXL_SUCCESS);
    REQUIRE(adxl_register_mem(legit, &dl, ADXL_MEM_HOST, &hl) == ADXL_SUCCESS);
    REQUIRE(adxl_connect(legit, target_name, BOUND_MS) == ADXL_SUCCESS);
    legit_round("set-up", 100);

    long threads_before = threads(), rss_before = rss_kib();
    printf("before: RSS %ld KiB, %ld threads\n", rss_before, threads_before);

    round_handshake();
    legit_round("handshake attacks", 101);
    round_broken_frames();
    legit_round("broken frames", 102);
    round_outside();
    legit_round("addresses outside registered memory", 103);
    round_truncated();
    round_slowloris();
    legit_round("slowloris", 104);
    round_out_of_descriptors();
    legit_round("running out of descriptors", 105);
    round_idle();

    long threads_after = threads_settle(threads_before), rss_after = rss_kib();
    printf("after: RSS %ld KiB (%+ld), %ld threads (%+ld)\n", rss_after, rss_after - rss_before,
           threads_after, threads_after - threads_before);
    CHECK(threads_after <= threads_before);
    CHECK(rss_after - rss_before < RSS_BOUND_KIB(64));

    round_notify_flood();
    printf("end: RSS %ld KiB, %ld threads\n", rss_kib(), threads());

    adxl_deregister_mem(legit, hl);
    adxl_deregister_mem(target, ha);
    adxl_deregister_mem(target, hb);
    adxl_engine_destroy(legit);
    adxl_engine_destroy(target);
    adxl_free_mem(arena);
    adxl_free_mem(legit_buf);
    free(model);
    return tu_finish();
}
