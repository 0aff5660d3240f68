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
 *  - an initiator that never acknowledges a registration delays adxl_register_mem by
 *    PeerTimeoutMs at most and loses its link.
 */
#include "auth.h"
#include "engine.h"
#include "test_api_util.h"
#include "transport/ucx_wire.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
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

/* Whether the peer closes the connection (after whatever it sends) within wait_ms. */
static bool closed_within(int fd, int wait_ms) {
    uint8_t buf[4096];
    uint64_t until = tu_now_ms() + (uint64_t)wait_ms;
    while (tu_now_ms() < until) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0) continue;
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) return true;
    }
    return false;
}

/* A raw client through HELLO, HELLO_ACK and an AUTH of zeros; true when it got WELCOME. */
static bool raw_handshake(int fd, uint8_t *buf, uint32_t *ack_flags) {
    uint8_t hello[UCX_HELLO_SIZE] = {0};
    ucx_put_u32(hello, UCX_WIRE_VERSION);
    ucx_msg_header_t h;
    if (!send_msg(fd, UCX_MSG_HELLO, hello, sizeof(hello)) || !recv_msg(fd, &h, buf, 5000) ||
        h.type != UCX_MSG_HELLO_ACK)
        return false;
    *ack_flags = ucx_get_u32(buf + 4);
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
    unsigned port = t->facts.ucx_port;
    REQUIRE(port != 0);
    uint8_t *buf = malloc(UCX_MSG_MAX);
    REQUIRE(buf != NULL);
    uint8_t hello[UCX_HELLO_SIZE] = {0};
    ucx_put_u32(hello, UCX_WIRE_VERSION);

    int fd = connect_port(port); /* not our magic */
    CHECK(send(fd, "GET / HTTP/1.0\r\n\r\n", 18, MSG_NOSIGNAL) == 18);
    CHECK(closed_within(fd, 5000));
    close(fd);

    fd = connect_port(port); /* a length past the limit: refused before any is read */
    uint8_t h[UCX_MSG_HEADER];
    ucx_header_encode(h, UCX_MSG_HELLO, UCX_MSG_MAX + 1);
    CHECK(send(fd, h, sizeof(h), MSG_NOSIGNAL) == (ssize_t)sizeof(h));
    CHECK(closed_within(fd, 5000));
    close(fd);

    fd = connect_port(port); /* another version */
    uint8_t old[UCX_HELLO_SIZE] = {0};
    ucx_put_u32(old, UCX_WIRE_VERSION + 1);
    CHECK(send_msg(fd, UCX_MSG_HELLO, old, sizeof(old)));
    CHECK(closed_within(fd, 5000));
    close(fd);

    fd = connect_port(port); /* out of order: a NOTIFY before any handshake */
    uint8_t note[UCX_NOTIFY_FIXED + 2] = {0};
    ucx_put_u32(note + 8, 1);
    ucx_put_u32(note + 12, 1);
    note[16] = 'a';
    note[17] = 'b';
    CHECK(send_msg(fd, UCX_MSG_NOTIFY, note, sizeof(note)));
    CHECK(closed_within(fd, 5000));
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
        if (k == 1) ucx_put_u32(note + 12, 5);
        CHECK(send_msg(fd, UCX_MSG_NOTIFY, note, sizeof(note)));
        CHECK(closed_within(fd, 5000));
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
    int fd = connect_port(t->facts.ucx_port);
    uint8_t *buf = malloc(UCX_MSG_MAX);
    REQUIRE(buf != NULL);
    uint32_t flags = 0;
    CHECK(!raw_handshake(fd, buf, &flags)); /* an AUTH of zeros: no WELCOME */
    CHECK(flags & UCX_FLAG_AUTH);
    CHECK(closed_within(fd, 5000));
    close(fd);
    free(buf);
    ta_region_free(&r, t);
    adxl_engine_destroy(t);
}

static void silent_initiator(void) {
    fprintf(stderr, "-- an initiator that never acknowledges a registration\n");
    adxl_engine_t *t = ucx_engine("PeerTimeoutMs", "1000");
    REQUIRE(t != NULL);
    uint8_t *buf = malloc(UCX_MSG_MAX);
    REQUIRE(buf != NULL);
    int fd = connect_port(t->facts.ucx_port);
    uint32_t flags = 0;
    CHECK(raw_handshake(fd, buf, &flags));
    ucx_msg_header_t mh;
    while (recv_msg(fd, &mh, buf, 5000) && mh.type != UCX_MSG_READY) {
    }
    /* Register: the target waits for our acknowledgement, which never comes. */
    uint64_t t0 = tu_now_ms();
    ta_region_t r;
    REQUIRE(ta_region_alloc(&r, t, 65536));
    uint64_t took = tu_now_ms() - t0;
    CHECK(took < TA_HANG_MS);
    CHECK(recv_msg(fd, &mh, buf, 5000) && mh.type == UCX_MSG_REGION_ADD);
    CHECK(closed_within(fd, 5000)); /* and the link was cut */
    close(fd);
    /* A well-behaved initiator links and works meanwhile. */
    adxl_engine_t *e = ucx_engine(NULL, NULL);
    REQUIRE(e != NULL);
    CHECK_STATUS(adxl_connect(e, adxl_local_engine(t), 5000), ADXL_SUCCESS);
    roundtrip(e, adxl_local_engine(t), r.ptr, 65536, 8);
    adxl_engine_destroy(e);
    ta_region_free(&r, t);
    adxl_engine_destroy(t);
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
    silent_initiator();
#else
    /* Built without UCX: the option is known, the transport is not there. */
    CHECK_STATUS(st, ADXL_UNSUPPORTED);
#endif
    return tu_finish();
}
