/*
 * A hostile peer on the same host against a real shm target engine in this process. The
 * target registers one region, the middle of a larger adxl_malloc_mem block whose other
 * bytes are canaries (a region that is part of a block is never mapped to peers, so the
 * canaries are reachable by no legitimate path). A model of every byte of the block is
 * kept, updated only by writes the target must accept, and compared with the real bytes
 * after every round.
 *
 * A raw client on the target's abstract Unix socket then sends malformed control packets
 * (wrong magic and version, impossible lengths, truncated packets, unknown types, bad
 * HELLOs, HELLOs with descriptors, a NOTIFY before HELLO): each must cost it the
 * connection and get it no descriptor. It also completes the handshake itself, maps the
 * link's shared memory and posts malformed staging requests straight into the ring (bad
 * shapes, pieces outside their descriptors, wrapping descriptors, descriptors outside or
 * straddling the region, too many bytes, READs of canary memory): each must be answered
 * PARAM_INVALID with no byte moved either way; valid requests through the same raw slots
 * must move exact data. Bad NOTIFYs drop the link. Finally a thousand connections that
 * never say HELLO must be closed after the target's PeerTimeoutMs, with thread count, RSS
 * and descriptors back near where they were. A raw link that claims a copy in progress
 * forever holds off a deregistration without holding off new links. Throughout, a
 * legitimate shm initiator engine keeps moving verified data.
 */
#include "core/engine.h"
#include "testutil.h"
#include "transport/shm/shm_internal.h"
#include "transport/shm/shm_parse.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define KIB ((size_t)1024)
#define MIB (KIB * KIB)
#define GUARD (64 * KIB)
#define REGION_LEN MIB
#define ARENA_LEN (GUARD + REGION_LEN + GUARD)
#define CANARY 0xC5
#define RING_MARK 0x5A

/* The target's PeerTimeoutMs: a connection that never says HELLO is closed after it. */
#define PEER_TIMEOUT_MS 1000
/* A generous upper bound for anything the target must do (noisy 2-core machine). */
#define BOUND_MS 30000
#define IDLE_CONNECTIONS 1000

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
/* ThreadSanitizer's memory per thread is large and varies with the machine (1000 idle
 * threads took +205 MiB in one run and +385 MiB in another): RSS is reported there, not
 * bounded, as the soak test does under sanitizers. */
#if defined(__SANITIZE_THREAD__)
#define RSS_BOUNDED 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RSS_BOUNDED 0
#endif
#endif
#ifndef RSS_BOUNDED
#define RSS_BOUNDED 1
#endif

static adxl_engine_t *target, *legit;
static char target_name[128];
static char endpoint[SHM_ENDPOINT_MAX];
static uint8_t *arena, *model; /* the target's block, and what it must hold */
static uintptr_t region, region_end;
static uint8_t *legit_buf;

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

/* The descriptors of the kinds the engine opens: sockets, eventfds, memfds. Pipes are
 * left out: a sanitizer's runtime keeps a pipe pair to its symbolizer once it has had
 * something to symbolize, which is not the engine's. */
static long open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[300], link[256];
        snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(path, link, sizeof(link) - 1);
        if (len <= 0) continue;
        link[len] = '\0';
        if (strncmp(link, "socket:", 7) == 0 || strncmp(link, "anon_inode:", 11) == 0 ||
            strncmp(link, "/memfd:", 7) == 0)
            n++;
    }
    closedir(d);
    return n;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Waits (bounded) until value() is at most want: the target's accept thread joins
 * finished connection threads (and closes their descriptors) about once a second. */
static long settle(long (*value)(void), long want) {
    uint64_t end = tu_now_ms() + BOUND_MS;
    long n;
    while ((n = value()) > want && tu_now_ms() < end)
        sleep_ms(50);
    return n;
}

/* ------------------------------------------------------------------ the model */

static void check_memory(const char *after) {
    if (memcmp(arena, model, ARENA_LEN) == 0) {
        tu_checks_passed++;
        return;
    }
    for (size_t i = 0; i < ARENA_LEN; i++)
        if (arena[i] != model[i]) {
            const char *where = i < GUARD                ? "the guard before the region"
                                : i < GUARD + REGION_LEN ? "the region"
                                                         : "the guard after the region";
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

/* A large and a small WRITE into the region, each read back byte for byte. */
static void legit_round(const char *after, uint64_t seed) {
    static const struct {
        size_t off, len;
    } parts[] = {{0, 300 * KIB}, {REGION_LEN - 4 * KIB - 5, 4 * KIB}};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        uint8_t *src = legit_buf, *back = legit_buf + 512 * KIB;
        uintptr_t remote = region + parts[i].off;
        tu_fill(src, parts[i].len, seed + i);
        bool ok = legit_xfer(ADXL_WRITE, src, remote, parts[i].len);
        if (ok) memcpy(model_at(remote), src, parts[i].len);
        memset(back, 0, parts[i].len);
        ok = ok && legit_xfer(ADXL_READ, back, remote, parts[i].len);
        if (!ok || !tu_verify(back, parts[i].len, seed + i))
            fprintf(stderr, "legitimate transfers failed after %s\n", after);
        CHECK(ok && tu_verify(back, parts[i].len, seed + i));
    }
    check_memory(after);
}

/* ------------------------------------------------------------------ the raw client */

static int raw_connect(void) {
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(endpoint);
    memcpy(sa.sun_path + 1, endpoint, n);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    if (connect(fd, (struct sockaddr *)&sa, len) != 0) {
        fprintf(stderr, "connect to the shm endpoint: %s\n", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads everything the target still sends until it closes the connection. True when it
 * did within the bound; *fds_got counts the descriptors that came (closed here). */
static bool closed_by_target(int fd, int *fds_got) {
    *fds_got = 0;
    uint64_t end = tu_now_ms() + BOUND_MS;
    for (;;) {
        uint64_t now = tu_now_ms();
        if (now >= end) return false;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)(end - now)) <= 0) continue;
        char buf[sizeof(shm_msg_t) + 64];
        union {
            char buf[CMSG_SPACE(sizeof(int) * 16)];
            struct cmsghdr align;
        } control;
        struct iovec iov = {buf, sizeof(buf)};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = control.buf,
                            .msg_controllen = sizeof(control.buf)};
        ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); n >= 0 && c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
            size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; i++) {
                int d;
                memcpy(&d, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                close(d);
                (*fds_got)++;
            }
        }
        if (n == 0) return true;                                 /* EOF: the target shut it down */
        if (n < 0) return errno == ECONNRESET || errno == EPIPE; /* or closed it */
    }
}

/* Sends bytes as one packet, as they are (no magic or version filled in). */
static bool send_packet(int fd, const void *buf, size_t len) {
    return send(fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len;
}

static void expect_dropped(int fd, const char *what) {
    int fds_got = 0;
    bool closed = closed_by_target(fd, &fds_got);
    if (!closed || fds_got)
        fprintf(stderr, "%s: closed %d, %d descriptors\n", what, closed, fds_got);
    CHECK(closed);
    CHECK(fds_got == 0);
    close(fd);
}

/* Waits (bounded) for one well-formed message. */
static bool recv_msg(int fd, shm_msg_t *msg, int fds[SHM_MAX_FDS]) {
    uint64_t end = tu_now_ms() + BOUND_MS;
    for (;;) {
        bool again;
        if (shm_msg_recv(fd, msg, fds, &again)) return true;
        uint64_t now = tu_now_ms();
        if (!again || now >= end) return false;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        poll(&p, 1, (int)(end - now));
    }
}

/* A HELLO as the engine sends it (flags 0, no nonce). */
static bool send_hello(int fd, const char *name, size_t len, const int *fds, int nfds) {
    shm_msg_t hello = {.type = SHM_MSG_HELLO, .text_len = (uint32_t)len};
    memcpy(hello.text, name, len);
    return shm_msg_send(fd, &hello, fds, nfds, true);
}

/* ------------------------------------------------------------------ 1: the control socket */

static void garbage_packet(const char *what, const void *buf, size_t len) {
    int fd = raw_connect();
    REQUIRE(fd >= 0);
    CHECK(send_packet(fd, buf, len));
    expect_dropped(fd, what);
}

static void bad_hello(const char *what, const char *name, size_t len) {
    int fd = raw_connect();
    REQUIRE(fd >= 0);
    CHECK(send_hello(fd, name, len, NULL, 0));
    expect_dropped(fd, what);
}

static void round_control(void) {
    printf("-- malformed control packets\n");
    shm_msg_t m = {
        .magic = SHM_WIRE_MAGIC, .version = SHM_WIRE_VERSION, .type = SHM_MSG_HELLO, .text_len = 4};
    memcpy(m.text, "abcd", 4);

    shm_msg_t w = m;
    w.magic = 0x4D485342u;
    garbage_packet("wrong magic", &w, SHM_MSG_FIXED + 4);
    w = m;
    w.version = SHM_WIRE_VERSION + 1;
    garbage_packet("wrong version", &w, SHM_MSG_FIXED + 4);
    w = m;
    w.text_len = 40;
    garbage_packet("text longer than the packet", &w, SHM_MSG_FIXED + 4);
    w = m;
    w.text_len = 0;
    garbage_packet("text shorter than the packet", &w, SHM_MSG_FIXED + 4);
    garbage_packet("a truncated header", &m, SHM_MSG_FIXED - 1);
    garbage_packet("four bytes", &m, 4);
    {
        /* Longer than any message: the receiver's buffer truncates it. */
        size_t big = sizeof(shm_msg_t) + 512;
        uint8_t *buf = calloc(1, big);
        REQUIRE(buf);
        shm_msg_t h = m;
        h.text_len = (uint32_t)(big - SHM_MSG_FIXED);
        memcpy(buf, &h, SHM_MSG_FIXED);
        memset(buf + SHM_MSG_FIXED, 'a', big - SHM_MSG_FIXED);
        garbage_packet("a packet longer than any message", buf, big);
        free(buf);
    }
    w = m;
    w.type = 99;
    garbage_packet("an unknown type before HELLO", &w, SHM_MSG_FIXED + 4);
    w = m;
    w.type = SHM_MSG_HELLO_ACK;
    garbage_packet("a HELLO_ACK to the target", &w, SHM_MSG_FIXED + 4);
    w = m;
    w.type = SHM_MSG_NOTIFY;
    w.arg[1] = 2;
    garbage_packet("a NOTIFY before HELLO", &w, SHM_MSG_FIXED + 4);
    w = m;
    w.type = SHM_MSG_AUTH;
    garbage_packet("an AUTH to a target without a secret", &w, SHM_MSG_FIXED + 4);

    bad_hello("a HELLO with an empty name", "", 0);
    bad_hello("a HELLO with a control character", "ab\001cd", 5);
    bad_hello("a HELLO with a space", "ab cd", 5);
    bad_hello("a HELLO with a NUL", "ab\0cd", 5);
    bad_hello("a HELLO with a byte above 126",
              "ab\xff"
              "cd",
              5);
    bad_hello("a HELLO with DEL",
              "ab\x7f"
              "cd",
              5);
    char longname[SHM_TEXT_MAX];
    memset(longname, 'n', sizeof(longname));
    bad_hello("a HELLO with a 64-byte name", longname, 64);
    bad_hello("a HELLO with a 2048-byte name", longname, SHM_TEXT_MAX);

    /* Descriptors of our own attached to a HELLO: the target must not keep them, and
     * since a HELLO carries none, it refuses the link. */
    {
        int fd = raw_connect();
        REQUIRE(fd >= 0);
        int pipefd[2];
        REQUIRE(pipe(pipefd) == 0);
        CHECK(send_hello(fd, "raw-with-fds", 12, pipefd, 2));
        expect_dropped(fd, "a HELLO with descriptors attached");
        /* Once the target has closed its copies, only ours keep the pipe open: closing our
         * write end must give our read end EOF. */
        close(pipefd[1]);
        struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
        char c;
        bool eof = poll(&p, 1, BOUND_MS) == 1 && read(pipefd[0], &c, 1) == 0;
        CHECK(eof);
        close(pipefd[0]);
    }
    legit_round("malformed control packets", 101);
}

/* ------------------------------------------------------------------ 2: a raw link */

typedef struct {
    int fd, doorbell, done;
    shm_shared_t *sh;
    uint8_t *ring;
} raw_link_t;

static void raw_close(raw_link_t *l) {
    if (l->sh) munmap(l->sh, shm_shared_size());
    if (l->doorbell >= 0) close(l->doorbell);
    if (l->done >= 0) close(l->done);
    if (l->fd >= 0) close(l->fd);
    *l = (raw_link_t){.fd = -1, .doorbell = -1, .done = -1};
}

/* The whole handshake by hand: HELLO, HELLO_ACK with its three descriptors, the region
 * snapshot. */
static bool raw_handshake(raw_link_t *l, const char *name) {
    *l = (raw_link_t){.fd = raw_connect(), .doorbell = -1, .done = -1};
    if (l->fd < 0) return false;
    if (!send_hello(l->fd, name, strlen(name), NULL, 0)) return false;
    shm_msg_t ack;
    int fds[SHM_MAX_FDS];
    if (!recv_msg(l->fd, &ack, fds)) {
        fprintf(stderr, "%s: no HELLO_ACK\n", name);
        return false;
    }
    bool ok = ack.type == SHM_MSG_HELLO_ACK && ack.status == ADXL_SUCCESS && fds[0] >= 0 &&
              fds[1] >= 0 && fds[2] >= 0 && ack.arg[3] == shm_shared_size() &&
              (ack.arg[0] & SHM_FLAG_ALLOW_UNREGISTERED) == 0;
    CHECK(ok);
    if (!ok) {
        shm_close_fds(fds);
        return false;
    }
    l->doorbell = fds[1];
    l->done = fds[2];
    void *p = mmap(NULL, shm_shared_size(), PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
    close(fds[0]);
    if (p == MAP_FAILED) return false;
    l->sh = p;
    l->ring = (uint8_t *)p + shm_shared_data_offset();
    CHECK(l->sh->magic == SHM_SHARED_MAGIC && l->sh->size == shm_shared_size());
    /* The snapshot: our region, published without a descriptor (it is part of a block), so
     * in a REGIONS batch. */
    bool seen = false;
    int block_fds = 0;
    for (;;) {
        shm_msg_t msg;
        if (!recv_msg(l->fd, &msg, fds)) return false;
        for (int i = 0; i < SHM_MAX_FDS; i++)
            block_fds += fds[i] >= 0;
        shm_close_fds(fds);
        if (msg.type == SHM_MSG_SNAPSHOT_END) break;
        uint32_t count;
        if (msg.type != SHM_MSG_REGIONS || !shm_regions_valid(&msg, &count)) return false;
        for (uint32_t i = 0; i < count; i++) {
            shm_region_entry_t e;
            CHECK(shm_region_entry(&msg, i, &e));
            if (e.addr == region && e.len == REGION_LEN && e.flags == 0) seen = true;
        }
    }
    CHECK(seen);
    CHECK(block_fds == 0);
    return seen;
}

/* Posts slot `index` as it stands (op, npieces and pieces filled in by the caller),
 * rings the doorbell and waits for the answer. */
static uint32_t raw_stage(raw_link_t *l, uint32_t index) {
    shm_slot_t *s = &l->sh->slots[index];
    s->status = 0xFFFFFFFFu;
    atomic_store_explicit(&s->state, SHM_SLOT_POSTED, memory_order_release);
    uint64_t one = 1;
    CHECK(write(l->doorbell, &one, sizeof(one)) == (ssize_t)sizeof(one));
    uint64_t end = tu_now_ms() + BOUND_MS;
    while (atomic_load_explicit(&s->state, memory_order_acquire) != SHM_SLOT_DONE) {
        uint64_t now = tu_now_ms();
        if (now >= end) {
            fprintf(stderr, "slot %u: no answer from the target\n", index);
            return 0xFFFFFFFFu;
        }
        struct pollfd p = {.fd = l->done, .events = POLLIN};
        if (poll(&p, 1, 100) == 1) {
            uint64_t v;
            ssize_t r = read(l->done, &v, sizeof(v));
            (void)r;
        }
    }
    return s->status;
}

static uint8_t *slot_data(raw_link_t *l, uint32_t index) {
    return l->ring + (size_t)index * SHM_SLOT_BYTES;
}

static bool all_bytes(const uint8_t *p, size_t len, uint8_t v) {
    for (size_t i = 0; i < len; i++)
        if (p[i] != v) return false;
    return true;
}

typedef struct {
    const char *what;
    uint32_t op; /* BOTH: once as WRITE, once as READ */
    uint32_t npieces;
    shm_piece_t pieces[3];
} bad_request_t;

#define BOTH 0xB0B0u
#define P(a, l, sa, sl)                                                                            \
    { (uint64_t)(a), (uint64_t)(l), (uint64_t)(sa), (uint64_t)(sl) }

static void round_staging(void) {
    printf("-- malformed staging requests\n");
    raw_link_t l;
    REQUIRE(raw_handshake(&l, "raw-staging"));
    uintptr_t r = region, e = region_end, a = (uintptr_t)arena;
    const uint64_t top = UINT64_MAX;
    const bad_request_t bad[] = {
        {"op 0", 0, 1, {P(r, 64, r, 64)}},
        {"op 3", 3, 1, {P(r, 64, r, 64)}},
        {"op 0xffffffff", 0xffffffffu, 1, {P(r, 64, r, 64)}},
        {"no pieces", BOTH, 0, {P(r, 64, r, 64)}},
        {"more pieces than a slot holds", BOTH, SHM_SLOT_PIECES + 1, {P(r, 64, r, 64)}},
        {"npieces 0xffffffff", BOTH, 0xffffffffu, {P(r, 64, r, 64)}},
        {"a piece of 0 bytes", BOTH, 1, {P(r, 0, r, 64)}},
        {"a piece at address 0", BOTH, 1, {P(0, 64, 0, 64)}},
        {"a piece before its span", BOTH, 1, {P(r, 64, r + 64, 64)}},
        {"a piece past its span's end", BOTH, 1, {P(r + 32, 64, r, 64)}},
        {"a piece in the guard, its span in the region", BOTH, 1, {P(e, 64, r, 64)}},
        {"a span of 0 bytes", BOTH, 1, {P(r, 64, r, 0)}},
        {"a span that wraps", BOTH, 1, {P(top - 63, 32, top - 63, 128)}},
        {"a piece and span that wrap", BOTH, 1, {P(top - 15, 32, top - 15, 32)}},
        {"a span of 2^64-1 bytes", BOTH, 1, {P(r, 64, r, top)}},
        {"a span in the guard before the region", BOTH, 1, {P(a + 16, 64, a + 16, 64)}},
        {"a span in the guard after the region", BOTH, 1, {P(e + 16, 64, e + 16, 64)}},
        {"a span straddling the region's start", BOTH, 1, {P(r - 32, 64, r - 32, 64)}},
        {"a span straddling the region's end", BOTH, 1, {P(e - 32, 64, e - 32, 64)}},
        {"a piece inside, its span straddling the end", BOTH, 1, {P(e - 64, 32, e - 64, 128)}},
        {"a span covering the whole block", BOTH, 1, {P(a, 64, a, ARENA_LEN)}},
        {"a span of unmapped memory", BOTH, 1, {P(4096, 64, 4096, 64)}},
        {"one piece larger than a slot",
         BOTH,
         1,
         {P(r, SHM_SLOT_BYTES + 1, r, SHM_SLOT_BYTES + 1)}},
        {"two pieces larger than a slot together",
         BOTH,
         2,
         {P(r, 300 * KIB, r, 300 * KIB), P(r + 300 * KIB, 300 * KIB, r + 300 * KIB, 300 * KIB)}},
        {"a valid piece, then one in the guard",
         BOTH,
         2,
         {P(r, 4096, r, 4096), P(e, 4096, e, 4096)}},
        {"a valid piece, then one straddling the end",
         BOTH,
         3,
         {P(r, 4096, r, 4096), P(r + 8192, 100, r + 8192, 100), P(e - 10, 20, e - 10, 20)}},
    };
    uint32_t index = 0;
    int refused = 0, cases = 0;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (int k = 0; k < 2; k++) {
            uint32_t op = k == 0 ? SHM_OP_WRITE : SHM_OP_READ;
            if (bad[i].op != BOTH) {
                if (k == 1) break;
                op = bad[i].op;
            }
            shm_slot_t *s = &l.sh->slots[index];
            memset(s->pieces, 0, sizeof(s->pieces));
            memcpy(s->pieces, bad[i].pieces, sizeof(bad[i].pieces));
            s->op = op;
            s->npieces = bad[i].npieces;
            /* WRITE would carry these bytes into memory; READ must leave them alone. */
            memset(slot_data(&l, index), RING_MARK, SHM_SLOT_BYTES);
            uint32_t st = raw_stage(&l, index);
            cases++;
            refused += st == ADXL_PARAM_INVALID;
            if (st != ADXL_PARAM_INVALID)
                fprintf(stderr, "%s (op %u): status %u, expected PARAM_INVALID\n", bad[i].what, op,
                        st);
            CHECK(st == ADXL_PARAM_INVALID);
            bool ring_intact = all_bytes(slot_data(&l, index), SHM_SLOT_BYTES, RING_MARK);
            if (!ring_intact)
                fprintf(stderr, "%s (op %u): the ring's data changed\n", bad[i].what, op);
            CHECK(ring_intact);
            check_memory(bad[i].what);
            index = (index + 1) % SHM_RING_SLOTS;
        }
    }
    printf("staging: %d of %d malformed requests refused\n", refused, cases);

    /* The same raw slots, used correctly, move exact data both ways. */
    {
        shm_slot_t *s = &l.sh->slots[3];
        const shm_piece_t good[3] = {P(r + 100, 1000, r, 4096), P(r + 5000, 3000, r + 5000, 3000),
                                     P(e - 700, 700, e - 2000, 2000)};
        memcpy(s->pieces, good, sizeof(good));
        s->op = SHM_OP_WRITE;
        s->npieces = 3;
        tu_fill(slot_data(&l, 3), 4700, 77);
        CHECK(raw_stage(&l, 3) == ADXL_SUCCESS);
        size_t off = 0;
        for (int i = 0; i < 3; i++) {
            memcpy(model_at(good[i].addr), slot_data(&l, 3) + off, good[i].len);
            off += good[i].len;
        }
        check_memory("a valid staged WRITE");
        memset(slot_data(&l, 3), 0, SHM_SLOT_BYTES);
        s->op = SHM_OP_READ;
        CHECK(raw_stage(&l, 3) == ADXL_SUCCESS);
        CHECK(tu_verify(slot_data(&l, 3), 4700, 77));
        CHECK(all_bytes(slot_data(&l, 3) + 4700, SHM_SLOT_BYTES - 4700, 0));
        /* The largest request: a whole slot, ending on the region's last byte. */
        const shm_piece_t whole = P(e - SHM_SLOT_BYTES, SHM_SLOT_BYTES, r, REGION_LEN);
        s->pieces[0] = whole;
        s->npieces = 1;
        s->op = SHM_OP_READ;
        CHECK(raw_stage(&l, 3) == ADXL_SUCCESS);
        CHECK(memcmp(slot_data(&l, 3), model_at(whole.addr), SHM_SLOT_BYTES) == 0);
        check_memory("a valid staged READ");
    }
    /* Still served after all that. */
    legit_round("malformed staging requests", 102);
    CHECK(atomic_load(&l.sh->slots[0].state) == SHM_SLOT_DONE);
    raw_close(&l);
}

/* ------------------------------------------------------------------ notifies */

static void raw_notify(raw_link_t *l, uint64_t id, uint64_t name_len, const char *text,
                       size_t text_len) {
    shm_msg_t n = {.type = SHM_MSG_NOTIFY, .text_len = (uint32_t)text_len, .arg = {id, name_len}};
    memcpy(n.text, text, text_len);
    CHECK(shm_msg_send(l->fd, &n, NULL, 0, true));
}

static void bad_notify(const char *what, uint64_t name_len, const char *text, size_t text_len) {
    raw_link_t l;
    REQUIRE(raw_handshake(&l, "raw-notify"));
    raw_notify(&l, 1, name_len, text, text_len);
    expect_dropped(l.fd, what);
    l.fd = -1;
    raw_close(&l);
}

static void round_notify(void) {
    printf("-- notifies and messages after the handshake\n");
    adxl_notify_t *notes = calloc(4, sizeof(*notes));
    REQUIRE(notes);
    size_t got = 0;
    {
        raw_link_t l;
        REQUIRE(raw_handshake(&l, "raw-notify"));
        raw_notify(&l, 42, 4, "nameand a message", 17);
        shm_msg_t ack;
        int fds[SHM_MAX_FDS];
        bool acked = recv_msg(l.fd, &ack, fds);
        shm_close_fds(fds);
        CHECK(acked && ack.type == SHM_MSG_NOTIFY_ACK && ack.arg[0] == 42 &&
              ack.status == ADXL_SUCCESS);
        CHECK_STATUS(adxl_get_notifies(target, notes, 4, &got), ADXL_SUCCESS);
        CHECK(got == 1 && strcmp(notes[0].name, "name") == 0 &&
              strcmp(notes[0].msg, "and a message") == 0);
        raw_close(&l);
    }
    char *text = malloc(SHM_TEXT_MAX);
    REQUIRE(text);
    memset(text, 'x', SHM_TEXT_MAX);
    bad_notify("a NOTIFY with a NUL in its name", 4, "na\0eand a message", 17);
    bad_notify("a NOTIFY with a NUL in its message", 4, "nameand a\0message", 17);
    bad_notify("a NOTIFY with a 1025-byte name", ADXL_NOTIFY_MAX_LEN + 1, text,
               ADXL_NOTIFY_MAX_LEN + 10);
    bad_notify("a NOTIFY with a 1025-byte message", 10, text, 10 + ADXL_NOTIFY_MAX_LEN + 1);
    bad_notify("a NOTIFY with 2048 bytes, a 10-byte name", 10, text, SHM_TEXT_MAX);
    bad_notify("a NOTIFY whose name is longer than its text", 20, text, 10);
    bad_notify("a NOTIFY with name length 2^64-1", UINT64_MAX, text, 10);
    {
        raw_link_t l;
        REQUIRE(raw_handshake(&l, "raw-unknown"));
        shm_msg_t u = {.type = 99};
        CHECK(shm_msg_send(l.fd, &u, NULL, 0, true));
        expect_dropped(l.fd, "an unknown type after the handshake");
        l.fd = -1;
        raw_close(&l);
    }
    {
        raw_link_t l;
        REQUIRE(raw_handshake(&l, "raw-hello-twice"));
        CHECK(send_hello(l.fd, "again", 5, NULL, 0));
        expect_dropped(l.fd, "a second HELLO");
        l.fd = -1;
        raw_close(&l);
    }
    {
        raw_link_t l;
        REQUIRE(raw_handshake(&l, "raw-garbage"));
        shm_msg_t w = {.magic = 1, .version = SHM_WIRE_VERSION, .type = SHM_MSG_NOTIFY};
        CHECK(send_packet(l.fd, &w, SHM_MSG_FIXED));
        expect_dropped(l.fd, "a wrong magic after the handshake");
        l.fd = -1;
        raw_close(&l);
    }
    /* None of the refused notifies was delivered. */
    got = 0;
    CHECK_STATUS(adxl_get_notifies(target, notes, 4, &got), ADXL_SUCCESS);
    CHECK(got == 0);
    free(notes);
    free(text);
    legit_round("bad notifies", 103);
}

/* ------------------------------------------------------------------ 4: idle connections */

static int idle_budget(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 100;
    /* Per connection: ours, and the target's socket and three eventfds. */
    rlim_t want = 5 * IDLE_CONNECTIONS + 512;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    long fit = ((long)rl.rlim_cur - 512) / 5;
    if (fit < IDLE_CONNECTIONS)
        printf("idle: descriptor limit %ld allows only %ld connections\n", (long)rl.rlim_cur, fit);
    return fit < IDLE_CONNECTIONS ? (int)(fit > 10 ? fit : 10) : IDLE_CONNECTIONS;
}

static void round_idle(void) {
    printf("-- %d connections that never say HELLO\n", IDLE_CONNECTIONS);
    int count = idle_budget();
    int *fds = malloc(sizeof(int) * (size_t)count);
    struct pollfd *pfd = calloc((size_t)count, sizeof(*pfd));
    REQUIRE(fds && pfd);
    long threads_before = threads(), rss_before = rss_kib(), fds_before = open_fds();
    uint64_t t0 = tu_now_ms();
    int opened = 0;
    for (int i = 0; i < count; i++) {
        fds[i] = raw_connect();
        if (fds[i] < 0) break;
        opened++;
    }
    printf("idle: %d connections open in %llu ms\n", opened,
           (unsigned long long)(tu_now_ms() - t0));
    CHECK(opened == count);
    long peak_threads = threads(), peak_rss = rss_kib();
    /* The target keeps serving its link, and still takes a new one, while they wait. */
    legit_round("idle connections opened", 400);
    {
        raw_link_t l;
        bool linked = raw_handshake(&l, "raw-during-idle");
        CHECK(linked);
        if (linked) {
            shm_slot_t *s = &l.sh->slots[0];
            s->pieces[0] = (shm_piece_t)P(region + 64, 64, region, REGION_LEN);
            s->npieces = 1;
            s->op = SHM_OP_READ;
            CHECK(raw_stage(&l, 0) == ADXL_SUCCESS);
            CHECK(memcmp(slot_data(&l, 0), model_at(region + 64), 64) == 0);
        }
        raw_close(&l);
    }
    for (int i = 0; i < opened; i++)
        pfd[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    int closed = 0, fds_got = 0;
    uint64_t end = tu_now_ms() + BOUND_MS;
    while (closed < opened && tu_now_ms() < end) {
        long t = threads();
        if (t > peak_threads) peak_threads = t;
        long rr = rss_kib();
        if (rr > peak_rss) peak_rss = rr;
        if (poll(pfd, (nfds_t)opened, 1000) <= 0) continue;
        for (int i = 0; i < opened; i++) {
            if (pfd[i].fd < 0 || !pfd[i].revents) continue;
            int got;
            if (closed_by_target(pfd[i].fd, &got)) {
                fds_got += got;
                pfd[i].fd = -1;
                closed++;
            }
        }
    }
    uint64_t took = tu_now_ms() - t0;
    printf("idle: %d of %d closed by the target after %llu ms\n", closed, opened,
           (unsigned long long)took);
    CHECK(closed == opened);
    CHECK(fds_got == 0);
    for (int i = 0; i < opened; i++)
        close(fds[i]);
    free(fds);
    free(pfd);
    long threads_after = settle(threads, threads_before);
    long fds_after = settle(open_fds, fds_before);
    long rss_after = rss_kib();
    printf("idle: threads %ld before, %ld at the peak, %ld after; RSS %ld KiB before, %ld at the "
           "peak, %ld after; descriptors %ld before, %ld after\n",
           threads_before, peak_threads, threads_after, rss_before, peak_rss, rss_after, fds_before,
           fds_after);
    CHECK(peak_threads > threads_before); /* the measurement saw them */
    CHECK(threads_after <= threads_before);
    CHECK(fds_after <= fds_before);
    CHECK(!RSS_BOUNDED || peak_rss - rss_before < RSS_BOUND_KIB(64));
    CHECK(!RSS_BOUNDED || rss_after - rss_before < RSS_BOUND_KIB(32));
    legit_round("idle connections", 401);
}

/* ------------------------------------------------------------------ 5: a held-off revocation */

typedef struct {
    adxl_mem_handle_t handle;
    adxl_status_t status; /* read once the thread is joined (the checks are not atomic) */
    atomic_bool done;
} dereg_job_t;

static void *deregister_job(void *arg) {
    dereg_job_t *job = arg;
    job->status = adxl_deregister_mem(target, job->handle);
    atomic_store(&job->done, true);
    return NULL;
}

/* A raw link claims a copy in progress in every bucket of both epochs, as a peer stopped
 * in the middle of a copy would (the target cannot tell the two apart), so a deregistration
 * waits for it. Meanwhile the target must go on: a new engine links over shm and reads
 * checked bytes, and the legitimate link keeps moving them. Once the claim is dropped the
 * deregistration returns. */
static void round_held_revocation(void) {
    printf("-- a deregistration held off by a peer 'in the middle of a copy'\n");
    raw_link_t l;
    REQUIRE(raw_handshake(&l, "raw-held"));
    for (int e = 0; e < 2; e++)
        for (unsigned b = 0; b < SHM_BUSY_BUCKETS; b++)
            atomic_fetch_add(&l.sh->busy[e][b], 1);
    uint8_t *extra = malloc(4 * KIB);
    REQUIRE(extra);
    adxl_mem_desc_t de = {(uintptr_t)extra, 4 * KIB};
    dereg_job_t job = {.status = ADXL_FAILED, .done = false};
    REQUIRE(adxl_register_mem(target, &de, ADXL_MEM_HOST, &job.handle) == ADXL_SUCCESS);
    uint32_t epoch = atomic_load(&l.sh->epoch);
    pthread_t thread;
    REQUIRE(pthread_create(&thread, NULL, deregister_job, &job) == 0);
    /* The revocation flips this link's epoch before it waits for the old one's copies. */
    uint64_t end = tu_now_ms() + BOUND_MS;
    while (atomic_load(&l.sh->epoch) == epoch && tu_now_ms() < end)
        sleep_ms(1);
    CHECK(atomic_load(&l.sh->epoch) != epoch);

    const adxl_option_t opts[] = {{"Transport", "shm"}};
    adxl_engine_t *newcomer = tu_engine("127.0.0.1:0", opts, 1);
    REQUIRE(newcomer);
    uint8_t *buf = malloc(64 * KIB);
    REQUIRE(buf);
    adxl_mem_desc_t db = {(uintptr_t)buf, 64 * KIB};
    adxl_mem_handle_t hb;
    REQUIRE(adxl_register_mem(newcomer, &db, ADXL_MEM_HOST, &hb) == ADXL_SUCCESS);
    CHECK_STATUS(adxl_connect(newcomer, target_name, BOUND_MS), ADXL_SUCCESS);
    adxl_transfer_op_desc_t d = {(uintptr_t)buf, region, 64 * KIB};
    CHECK_STATUS(adxl_transfer_sync(newcomer, target_name, ADXL_READ, &d, 1, BOUND_MS),
                 ADXL_SUCCESS);
    CHECK(memcmp(buf, model_at(region), 64 * KIB) == 0);
    legit_round("a held-off deregistration", 500);
    CHECK(!atomic_load(&job.done)); /* still held off: the test saw what it meant to */

    for (int e = 0; e < 2; e++)
        for (unsigned b = 0; b < SHM_BUSY_BUCKETS; b++)
            atomic_fetch_sub(&l.sh->busy[e][b], 1);
    pthread_join(thread, NULL);
    CHECK(atomic_load(&job.done));
    CHECK_STATUS(job.status, ADXL_SUCCESS);
    adxl_deregister_mem(newcomer, hb);
    adxl_engine_destroy(newcomer);
    raw_close(&l);
    free(buf);
    free(extra);
    legit_round("a deregistration let go", 501);
}

/* ------------------------------------------------------------------ main */

int main(void) {
    const adxl_option_t topts[] = {{"Transport", "shm"}, {"PeerTimeoutMs", "1000"}};
    const adxl_option_t iopts[] = {
        {"Transport", "shm"}, {"HeartbeatIntervalMs", "200"}, {"PeerTimeoutMs", "10000"}};
    target = tu_engine("127.0.0.1:0", topts, 2);
    legit = tu_engine("127.0.0.1:0", iopts, 3);
    REQUIRE(target && legit);
    snprintf(target_name, sizeof(target_name), "%s", adxl_local_engine(target));
    size_t offered = 0;
    const uint8_t *offer = adxl_host_facts_offered(&target->facts, "shm", &offered);
    REQUIRE(offer != NULL && offered > 0 && offered < sizeof(endpoint));
    memcpy(endpoint, offer, offered);

    REQUIRE(adxl_malloc_mem(ADXL_MEM_HOST, ARENA_LEN, (void **)&arena) == ADXL_SUCCESS);
    REQUIRE(adxl_malloc_mem(ADXL_MEM_HOST, MIB, (void **)&legit_buf) == ADXL_SUCCESS);
    model = malloc(ARENA_LEN);
    REQUIRE(model);
    memset(arena, CANARY, ARENA_LEN);
    region = (uintptr_t)arena + GUARD;
    region_end = region + REGION_LEN;
    tu_fill((void *)region, REGION_LEN, 1);
    memcpy(model, arena, ARENA_LEN);
    adxl_mem_desc_t dr = {region, REGION_LEN}, dl = {(uintptr_t)legit_buf, MIB};
    adxl_mem_handle_t hr, hl;
    REQUIRE(adxl_register_mem(target, &dr, ADXL_MEM_HOST, &hr) == ADXL_SUCCESS);
    REQUIRE(adxl_register_mem(legit, &dl, ADXL_MEM_HOST, &hl) == ADXL_SUCCESS);
    REQUIRE(adxl_connect(legit, target_name, BOUND_MS) == ADXL_SUCCESS);
    legit_round("set-up", 100);

    long threads_before = threads(), rss_before = rss_kib(), fds_before = open_fds();
    printf("before: RSS %ld KiB, %ld threads, %ld descriptors\n", rss_before, threads_before,
           fds_before);

    round_control();
    round_staging();
    round_notify();
    round_held_revocation();
    round_idle();

    long threads_after = settle(threads, threads_before), fds_after = settle(open_fds, fds_before);
    long rss_after = rss_kib();
    printf("after: RSS %ld KiB (%+ld), %ld threads (%+ld), %ld descriptors (%+ld)\n", rss_after,
           rss_after - rss_before, threads_after, threads_after - threads_before, fds_after,
           fds_after - fds_before);
    CHECK(threads_after <= threads_before);
    CHECK(fds_after <= fds_before);
    CHECK(!RSS_BOUNDED || rss_after - rss_before < RSS_BOUND_KIB(64));

    adxl_deregister_mem(legit, hl);
    adxl_deregister_mem(target, hr);
    adxl_engine_destroy(legit);
    adxl_engine_destroy(target);
    adxl_free_mem(arena);
    adxl_free_mem(legit_buf);
    free(model);
    return tu_finish();
}
