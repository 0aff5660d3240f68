/*
 * The UCX transport's own promises, beyond the suite that every transport runs (the
 * *_ucx variants):
 *  - a build without UCX answers Transport=ucx with ADXL_UNSUPPORTED;
 *  - bytes move by UCX put/get (bytes_ucx), with no request frame served by the target;
 *  - a region registered after the link is usable as soon as registration returns, and
 *    one deregistered is refused at once, its bytes untouched;
 *  - UCX transports that cannot report a failed peer (UCX_TLS=sm: posix, sysv) get no
 *    link (ADXL_UNSUPPORTED), not an unsafe one;
 *  - the control link treats its peer as hostile: bad magic, oversized lengths, wrong
 *    versions, messages out of order, a NOTIFY with a NUL, an AUTH without the secret
 *    (no worker address or key is sent then) each end that connection only, and the
 *    target keeps serving real initiators;
 *  - keys are given only when asked for (KEY_REQ): once each to a link, only for ranges
 *    that lie wholly in a region, always before KEY_DONE; registering sends nothing;
 *  - an initiator that holds a key and never acknowledges its withdrawal delays
 *    adxl_deregister_mem by PeerTimeoutMs at most and loses its link.
 */
#include "net/auth.h"
#include "core/engine.h"
#include "test_api_util.h"
#include "transport/ucx/ucx_wire.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef ADXL_TEST_HAVE_UCX
static adxl_engine_t *ucx_engine(const char *k1, const char *v1) {
    adxl_option_t o[2] = {{"Transport", "ucx"}};
    size_t n = 1;
    if (k1) o[n++] = (adxl_option_t){k1, v1};
    return tu_engine("127.0.0.1:0", o, n);
}

/* The control port the engine offers to probers. */
static unsigned ucx_port_of(adxl_engine_t *t) {
    uint16_t port = 0;
    bool rdma = false;
    return ucx_offer_decode(&t->facts, &port, &rdma) ? port : 0;
}

static int connect_port(unsigned port) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    REQUIRE(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    return fd;
}

static bool send_msg(int fd, uint16_t type, const void *payload, uint32_t len) {
    uint8_t h[UCX_MSG_HEADER];
    ucx_header_encode(h, type, len);
    return send(fd, h, sizeof(h), MSG_NOSIGNAL) == (ssize_t)sizeof(h) &&
           (len == 0 || send(fd, payload, len, MSG_NOSIGNAL) == (ssize_t)len);
}

/* Reads one whole message; false on EOF, error or nothing within wait_ms. */
static bool recv_msg(int fd, ucx_msg_header_t *h, uint8_t *payload, int wait_ms) {
    uint8_t hdr[UCX_MSG_HEADER];
    size_t got = 0, want = sizeof(hdr);
    uint8_t *dst = hdr;
    for (int part = 0; part < 2; part++) {
        while (got < want) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, wait_ms) <= 0) return false;
            ssize_t n = recv(fd, dst + got, want - got, 0);
            if (n <= 0) return false;
            got += (size_t)n;
        }
        if (part == 0) {
            if (!ucx_header_decode(hdr, h)) return false;
            dst = payload;
            got = 0;
            want = h->length;
        }
    }
    return true;
}

/* A raw client through HELLO, HELLO_ACK and an AUTH of zeros; true when it got WELCOME. */
static bool raw_handshake(int fd, uint8_t *buf, uint32_t *ack_flags) {
    uint8_t hello[UCX_HELLO_SIZE] = {0};
    adxl_le_put_u32(hello, UCX_WIRE_VERSION);
    ucx_msg_header_t h;
    if (!send_msg(fd, UCX_MSG_HELLO, hello, sizeof(hello)) || !recv_msg(fd, &h, buf, 5000) ||
        h.type != UCX_MSG_HELLO_ACK)
        return false;
    *ack_flags = adxl_le_get_u32(buf + 4);
    uint8_t proof[UCX_AUTH_SIZE] = {0};
    return send_msg(fd, UCX_MSG_AUTH, proof, sizeof(proof)) && recv_msg(fd, &h, buf, 5000) &&
           h.type == UCX_MSG_WELCOME;
}

/* A WRITE and READ round trip of len bytes between init and the region at remote. */
static void roundtrip(adxl_engine_t *init, const char *name, uint8_t *remote, size_t len,
                      uint64_t seed) {
    uint8_t *src = malloc(len), *back = malloc(len);
    REQUIRE(src && back);
    tu_fill(src, len, seed);
    CHECK_STATUS(ta_xfer(init, name, ADXL_WRITE, src, remote, len, 10000), ADXL_SUCCESS);
    CHECK(tu_verify(remote, len, seed));
    memset(back, 0, len);
    CHECK_STATUS(ta_xfer(init, name, ADXL_READ, back, remote, len, 10000), ADXL_SUCCESS);
    CHECK(tu_verify(back, len, seed));
    free(src);
    free(back);
}

static void moves_by_ucx(void) {
    fprintf(stderr, "-- bytes move by UCX put/get; registration and revocation at once\n");
    adxl_engine_t *t = ucx_engine(NULL, NULL), *e = ucx_engine(NULL, NULL);
    REQUIRE(t && e);
    char name[128];
    snprintf(name, sizeof(name), "%s", adxl_local_engine(t));
    ta_region_t r1;
    REQUIRE(ta_region_alloc(&r1, t, 8 << 20));
    CHECK_STATUS(adxl_connect(e, name, 5000), ADXL_SUCCESS);
    adxl_stats_t before_e, before_t;
    CHECK_STATUS(adxl_get_stats(e, &before_e), ADXL_SUCCESS);
    CHECK_STATUS(adxl_get_stats(t, &before_t), ADXL_SUCCESS);
    roundtrip(e, name, r1.ptr + 3, (8 << 20) - 3, 1); /* past one 4 MiB chunk, unaligned */
    adxl_stats_t after_e, after_t;
    CHECK_STATUS(adxl_get_stats(e, &after_e), ADXL_SUCCESS);
    CHECK_STATUS(adxl_get_stats(t, &after_t), ADXL_SUCCESS);
    CHECK(after_e.bytes_ucx - before_e.bytes_ucx == 2 * ((8u << 20) - 3));
    CHECK(after_t.frames_served == before_t.frames_served); /* one-sided: no frames */

    /* Registered after the link exists: usable as soon as registration returned. */
    ta_region_t r2;
    REQUIRE(ta_region_alloc(&r2, t, 1 << 20));
    roundtrip(e, name, r2.ptr, 1 << 20, 2);
    /* Deregistered: refused at once, and its bytes stay as they were. */
    tu_fill(r2.ptr, 1 << 20, 3);
    CHECK_STATUS(adxl_deregister_mem(t, r2.handle), ADXL_SUCCESS);
    r2.handle = NULL;
    uint8_t src[4096];
    tu_fill(src, sizeof(src), 4);
    CHECK_STATUS(ta_xfer(e, name, ADXL_WRITE, src, r2.ptr, sizeof(src), 5000), ADXL_PARAM_INVALID);
    CHECK_STATUS(ta_xfer(e, name, ADXL_READ, src, r2.ptr, sizeof(src), 5000), ADXL_PARAM_INVALID);
    CHECK(tu_verify(r2.ptr, 1 << 20, 3));
    /* A descriptor straddling the end of a region is refused, however it is cut. */
    CHECK_STATUS(ta_xfer(e, name, ADXL_WRITE, src, r1.ptr + (8 << 20) - 100, sizeof(src), 5000),
                 ADXL_PARAM_INVALID);
    /* Notifies ride the control link. */
    CHECK_STATUS(adxl_send_notify(e, name, "kv", "ready", 5000), ADXL_SUCCESS);
    adxl_notify_t n;
    size_t count = 0;
    CHECK_STATUS(adxl_get_notifies(t, &n, 1, &count), ADXL_SUCCESS);
    CHECK(count == 1 && strcmp(n.name, "kv") == 0 && strcmp(n.msg, "ready") == 0);
    adxl_engine_destroy(e);
    ta_region_free(&r2, t);
    ta_region_free(&r1, t);
    adxl_engine_destroy(t);
}

static void shared_memory_refused(void) {
    fprintf(stderr, "-- UCX_TLS=sm: no peer-failure handling, so no link\n");
    char *saved = getenv("UCX_TLS") ? strdup(getenv("UCX_TLS")) : NULL;
    setenv("UCX_TLS", "sm", 1); /* read by each engine's UCX at initialize */
    adxl_engine_t *t = ucx_engine(NULL, NULL), *e = ucx_engine(NULL, NULL);
    REQUIRE(t && e);
    CHECK_STATUS(adxl_connect(e, adxl_local_engine(t), 5000), ADXL_UNSUPPORTED);
    CHECK_STATUS(adxl_send_notify(e, adxl_local_engine(t), "n", "m", 1000), ADXL_NOT_CONNECTED);
    adxl_engine_destroy(e);
    adxl_engine_destroy(t);
    if (saved) {
        setenv("UCX_TLS", saved, 1);
        free(saved);
    } else {
        unsetenv("UCX_TLS");
    }
}

static void hostile_control_link(void) {
    fprintf(stderr, "-- the control link's peer is hostile until checked\n");
    adxl_engine_t *t = ucx_engine(NULL, NULL);
    REQUIRE(t != NULL);
    unsigned port = ucx_port_of(t);
    REQUIRE(port != 0);
    uint8_t *buf = malloc(UCX_MSG_MAX);
    REQUIRE(buf != NULL);
    uint8_t hello[UCX_HELLO_SIZE] = {0};
    adxl_le_put_u32(hello, UCX_WIRE_VERSION);

    int fd = connect_port(port); /* not our magic */
    CHECK(send(fd, "GET / HTTP/1.0\r\n\r\n", 18, MSG_NOSIGNAL) == 18);
    CHECK(tu_closed_within(fd, 5000));
    close(fd);

    fd = connect_port(port); /* a length past the limit: refused before any is read */
    uint8_t h[UCX_MSG_HEADER];
    ucx_header_encode(h, UCX_MSG_HELLO, UCX_MSG_MAX + 1);
    CHECK(send(fd, h, sizeof(h), MSG_NOSIGNAL) == (ssize_t)sizeof(h));
    CHECK(tu_closed_within(fd, 5000));
    close(fd);

    fd = connect_port(port); /* another version */
    uint8_t old[UCX_HELLO_SIZE] = {0};
    adxl_le_put_u32(old, UCX_WIRE_VERSION + 1);
    CHECK(send_msg(fd, UCX_MSG_HELLO, old, sizeof(old)));
    CHECK(tu_closed_within(fd, 5000));
    close(fd);

    fd = connect_port(port); /* out of order: a NOTIFY before any handshake */
    uint8_t note[UCX_NOTIFY_FIXED + 2] = {0};
    adxl_le_put_u32(note + 8, 1);
    adxl_le_put_u32(note + 12, 1);
    note[16] = 'a';
    note[17] = 'b';
    CHECK(send_msg(fd, UCX_MSG_NOTIFY, note, sizeof(note)));
    CHECK(tu_closed_within(fd, 5000));
    close(fd);

    /* Through the handshake (no secret here), then a NOTIFY with a NUL in its name, and
     * one whose lengths disagree with the message. */
    for (int k = 0; k < 2; k++) {
        fd = connect_port(port);
        uint32_t flags = 0;
        CHECK(raw_handshake(fd, buf, &flags));
        CHECK(flags == 0);
        ucx_msg_header_t mh;
        while (recv_msg(fd, &mh, buf, 5000) && mh.type != UCX_MSG_READY) {
        }
        note[16] = k == 0 ? '\0' : 'a';
        if (k == 1) adxl_le_put_u32(note + 12, 5);
        CHECK(send_msg(fd, UCX_MSG_NOTIFY, note, sizeof(note)));
        CHECK(tu_closed_within(fd, 5000));
        close(fd);
    }
    size_t count = 0;
    adxl_notify_t n;
    CHECK_STATUS(adxl_get_notifies(t, &n, 1, &count), ADXL_SUCCESS);
    CHECK(count == 0);

    /* The target still serves a real initiator. */
    adxl_engine_t *e = ucx_engine(NULL, NULL);
    REQUIRE(e != NULL);
    ta_region_t r;
    REQUIRE(ta_region_alloc(&r, t, 65536));
    CHECK_STATUS(adxl_connect(e, adxl_local_engine(t), 5000), ADXL_SUCCESS);
    roundtrip(e, adxl_local_engine(t), r.ptr, 65536, 7);
    adxl_engine_destroy(e);
    ta_region_free(&r, t);
    adxl_engine_destroy(t);
    free(buf);
}

static void auth_before_keys(void) {
    fprintf(stderr, "-- with a secret, no worker address or key before the proof\n");
    if (!adxl_auth_supported()) {
        fprintf(stderr, "   this build has no libcrypto: AuthSecret is unsupported\n");
        return;
    }
    adxl_engine_t *t = ucx_engine("AuthSecret", "correct horse battery staple");
    REQUIRE(t != NULL);
    ta_region_t r;
    REQUIRE(ta_region_alloc(&r, t, 65536));
    int fd = connect_port(ucx_port_of(t));
    uint8_t *buf = malloc(UCX_MSG_MAX);
    REQUIRE(buf != NULL);
    uint32_t flags = 0;
    CHECK(!raw_handshake(fd, buf, &flags)); /* an AUTH of zeros: no WELCOME */
    CHECK(flags & UCX_FLAG_AUTH);
    CHECK(tu_closed_within(fd, 5000));
    close(fd);
    free(buf);
    ta_region_free(&r, t);
    adxl_engine_destroy(t);
}

/* Sends a KEY_REQ for the given ranges ([i][0] address, [i][1] length). */
static bool ask_keys(int fd, uint64_t id, const uint64_t (*ranges)[2], uint32_t count) {
    uint8_t req[UCX_KEY_REQ_FIXED + 4 * UCX_KEY_REQ_ENTRY];
    REQUIRE(count <= 4);
    adxl_le_put_u64(req, id);
    adxl_le_put_u32(req + 8, count);
    for (uint32_t i = 0; i < count; i++) {
        adxl_le_put_u64(req + UCX_KEY_REQ_FIXED + i * UCX_KEY_REQ_ENTRY, ranges[i][0]);
        adxl_le_put_u64(req + UCX_KEY_REQ_FIXED + i * UCX_KEY_REQ_ENTRY + 8, ranges[i][1]);
    }
    return send_msg(fd, UCX_MSG_KEY_REQ, req, UCX_KEY_REQ_FIXED + count * UCX_KEY_REQ_ENTRY);
}

/* Whether the next message is a REGION_ADD for exactly [addr, +len) with a key. */
static bool next_is_key(int fd, uint8_t *buf, const void *addr, uint64_t len) {
    ucx_msg_header_t mh;
    return recv_msg(fd, &mh, buf, 5000) && mh.type == UCX_MSG_REGION_ADD &&
           mh.length > UCX_REGION_ADD_FIXED && adxl_le_get_u64(buf) == (uintptr_t)addr &&
           adxl_le_get_u64(buf + 8) == len;
}

static bool next_is_done(int fd, uint8_t *buf, uint64_t id) {
    ucx_msg_header_t mh;
    return recv_msg(fd, &mh, buf, 5000) && mh.type == UCX_MSG_KEY_DONE &&
           mh.length == UCX_KEY_DONE_SIZE && adxl_le_get_u64(buf) == id;
}

static void keys_on_request(void) {
    fprintf(stderr, "-- keys on request; a holder that never acknowledges a withdrawal\n");
    adxl_engine_t *t = ucx_engine("PeerTimeoutMs", "1000");
    REQUIRE(t != NULL);
    uint8_t *buf = malloc(UCX_MSG_MAX);
    REQUIRE(buf != NULL);
    ta_region_t r, late;
    REQUIRE(ta_region_alloc(&r, t, 65536));
    int fd = connect_port(ucx_port_of(t));
    uint32_t flags = 0;
    CHECK(raw_handshake(fd, buf, &flags));
    ucx_msg_header_t mh;
    CHECK(recv_msg(fd, &mh, buf, 5000) && mh.type == UCX_MSG_READY); /* no keys at set-up */

    /* A range inside the region gets the whole region's key; one that runs past it, and
     * one nowhere near, get nothing; KEY_DONE comes last. */
    uint64_t ask[3][2] = {
        {(uintptr_t)r.ptr + 4096, 512}, {(uintptr_t)r.ptr + 65536 - 8, 16}, {4096, 16}};
    CHECK(ask_keys(fd, 1, (const uint64_t(*)[2])ask, 3));
    CHECK(next_is_key(fd, buf, r.ptr, 65536));
    CHECK(next_is_done(fd, buf, 1));
    /* Asked again, the link holds the key already: only KEY_DONE. */
    CHECK(ask_keys(fd, 2, (const uint64_t(*)[2])ask, 1));
    CHECK(next_is_done(fd, buf, 2));

    /* Registering sends this link nothing (the next message is the answer to what it asks
     * next, and the socket keeps order); its key is there for the asking at once. */
    REQUIRE(ta_region_alloc(&late, t, 8192));
    uint64_t ask_late[1][2] = {{(uintptr_t)late.ptr, 8192}};
    CHECK(ask_keys(fd, 3, (const uint64_t(*)[2])ask_late, 1));
    CHECK(next_is_key(fd, buf, late.ptr, 8192));
    CHECK(next_is_done(fd, buf, 3));

    /* A malformed KEY_REQ (its count says more than it holds) ends only that link. */
    int bad = connect_port(ucx_port_of(t));
    CHECK(raw_handshake(bad, buf, &flags));
    CHECK(recv_msg(bad, &mh, buf, 5000) && mh.type == UCX_MSG_READY);
    uint8_t req[UCX_KEY_REQ_FIXED + UCX_KEY_REQ_ENTRY] = {0};
    adxl_le_put_u32(req + 8, 2);
    CHECK(send_msg(bad, UCX_MSG_KEY_REQ, req, sizeof(req)));
    CHECK(tu_closed_within(bad, 5000));
    close(bad);

    /* Deregistering waits for the holder, which never acknowledges: it returns within the
     * peer time-out (and a margin), and the link is cut. */
    uint64_t t0 = tu_now_ms();
    ta_region_free(&r, t);
    CHECK(tu_now_ms() - t0 < TA_HANG_MS);
    CHECK(recv_msg(fd, &mh, buf, 5000) && mh.type == UCX_MSG_REGION_DEL);
    CHECK(tu_closed_within(fd, 5000));
    close(fd);
    /* A well-behaved initiator links and works meanwhile. */
    adxl_engine_t *e = ucx_engine(NULL, NULL);
    REQUIRE(e != NULL);
    CHECK_STATUS(adxl_connect(e, adxl_local_engine(t), 5000), ADXL_SUCCESS);
    roundtrip(e, adxl_local_engine(t), late.ptr, 8192, 8);
    adxl_engine_destroy(e);
    ta_region_free(&late, t);
    adxl_engine_destroy(t);
    free(buf);
}

/* The receive and send queues of the TCP socket from local port to remote port, as the
 * kernel lists them (/proc/self/net/tcp); false when it lists no such socket. */
static bool tcp_queues(unsigned local, unsigned remote, unsigned long *rx, unsigned long *tx) {
    FILE *f = fopen("/proc/self/net/tcp", "r");
    if (!f) return false;
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f)) {
        unsigned lport, rport;
        if (sscanf(line, " %*d: %*x:%x %*x:%x %*x %lx:%lx", &lport, &rport, tx, rx) == 4)
            found = lport == local && rport == remote;
    }
    fclose(f);
    return found;
}

/* A holder that asks for keys and stops reading holds up no one else: the target's answers
 * wait in its link's socket, not under a lock of the whole transport, so registering and
 * deregistering go on, another initiator links and moves bytes, and the stopped link, once
 * it reads again, finds every answer in order. */
static void holder_stops_reading(void) {
    fprintf(stderr, "-- a holder that stops reading holds up no one else\n");
    enum { REGIONS = 131072, CELL = 64, PER_REQ = 4 };
    adxl_engine_t *t = ucx_engine("PeerTimeoutMs", "20000");
    REQUIRE(t != NULL);
    uint8_t *buf = malloc(UCX_MSG_MAX), *arena = NULL;
    REQUIRE(buf != NULL && posix_memalign((void **)&arena, 4096, (size_t)REGIONS * CELL) == 0);
    adxl_mem_handle_t *h = calloc(REGIONS, sizeof(*h));
    REQUIRE(h != NULL);
    for (int i = 0; i < REGIONS; i++) {
        adxl_mem_desc_t d = {.addr = (uintptr_t)arena + (size_t)i * CELL, .len = CELL};
        REQUIRE(adxl_register_mem(t, &d, ADXL_MEM_HOST, &h[i]) == ADXL_SUCCESS);
    }
    /* A small receive buffer, so that the answers soon fill what the sockets hold. */
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ucx_port_of(t))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int small = 4096;
    REQUIRE(fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) == 0);
    REQUIRE(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    uint32_t flags = 0;
    ucx_msg_header_t mh;
    CHECK(raw_handshake(fd, buf, &flags));
    CHECK(recv_msg(fd, &mh, buf, 5000) && mh.type == UCX_MSG_READY);
    uint64_t requests = 0;
    for (int i = 0; i < REGIONS; i += PER_REQ) {
        uint64_t ask[PER_REQ][2];
        for (int k = 0; k < PER_REQ; k++) {
            ask[k][0] = (uintptr_t)arena + (size_t)(i + k) * CELL;
            ask[k][1] = CELL;
        }
        CHECK(ask_keys(fd, ++requests, (const uint64_t(*)[2])ask, PER_REQ));
    }

    /* The target's thread for this link now answers into full sockets: it has requests
     * it has not read, and answers the kernel holds for it (which it can no longer add
     * to; this waits only for it to get there). */
    struct sockaddr_in mine;
    socklen_t mine_len = sizeof(mine);
    REQUIRE(getsockname(fd, (struct sockaddr *)&mine, &mine_len) == 0);
    unsigned long rx = 0, tx = 0;
    uint64_t until = tu_now_ms() + TA_HANG_MS;
    while (!(tcp_queues(ucx_port_of(t), ntohs(mine.sin_port), &rx, &tx) && rx > 0 &&
             tx >= 2 * 1024 * 1024) &&
           tu_now_ms() < until)
        sched_yield();
    REQUIRE(rx > 0 && tx >= 2 * 1024 * 1024);

    /* Meanwhile, round after round (the link's thread fills what the sockets still hold
     * within the first): a registration and a deregistration of a region nobody holds,
     * and a new initiator that links and moves checked bytes. */
    for (int round = 0; round < 5; round++) {
        ta_region_t fresh;
        REQUIRE(ta_region_alloc(&fresh, t, 65536));
        adxl_engine_t *e = ucx_engine(NULL, NULL);
        REQUIRE(e != NULL);
        CHECK_STATUS(adxl_connect(e, adxl_local_engine(t), 10000), ADXL_SUCCESS);
        roundtrip(e, adxl_local_engine(t), fresh.ptr, 65536, 21 + (uint64_t)round);
        adxl_engine_destroy(e);
        ta_region_free(&fresh, t);
    }

    /* The stopped link reads again: every key it asked for, then each KEY_DONE, in order. */
    uint64_t keys = 0, done = 0;
    bool ordered = true;
    while (done < requests && recv_msg(fd, &mh, buf, 20000)) {
        if (mh.type == UCX_MSG_REGION_ADD) {
            keys++;
        } else if (mh.type == UCX_MSG_KEY_DONE) {
            ordered = ordered && adxl_le_get_u64(buf) == done + 1 && keys == (done + 1) * PER_REQ;
            done++;
        } else {
            ordered = false;
        }
    }
    CHECK(done == requests && keys == REGIONS && ordered);
    close(fd);
    for (int i = 0; i < REGIONS; i++)
        CHECK_STATUS(adxl_deregister_mem(t, h[i]), ADXL_SUCCESS);
    adxl_engine_destroy(t);
    free(h);
    free(arena);
    free(buf);
}

#endif /* ADXL_TEST_HAVE_UCX */

int main(void) {
    setenv("UCX_TLS", "tcp", 0); /* no RDMA device here */
    adxl_engine_t *probe = NULL;
    REQUIRE(adxl_engine_create(&probe) == ADXL_SUCCESS);
    adxl_option_t o = {"Transport", "ucx"};
    adxl_status_t st = adxl_initialize(probe, "127.0.0.1:0", &o, 1);
    adxl_engine_destroy(probe);
#ifdef ADXL_TEST_HAVE_UCX
    CHECK_STATUS(st, ADXL_SUCCESS);
    moves_by_ucx();
    shared_memory_refused();
    hostile_control_link();
    auth_before_keys();
    keys_on_request();
    holder_stops_reading();
#else
    /* Built without UCX: the option is known, the transport is not there. */
    CHECK_STATUS(st, ADXL_UNSUPPORTED);
#endif
    return tu_finish();
}
