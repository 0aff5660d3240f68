/*
 * AuthSecret, AuthSecretFile and AllowedPeers, over TCP, over shm and (when built) over
 * UCX, each forced:
 *  - the same secret on both ends links and moves exact data; a different secret, or a
 *    secret on one end only, is refused (connect fails, nothing links);
 *  - the secret never crosses the wire: what a target sends a would-be initiator, and
 *    what an initiator sends a would-be target, never contain it, and the proofs change
 *    with every handshake;
 *  - shm's Unix socket is guarded too: a local process that skips the TCP probe and
 *    talks to it directly without the secret gets no shared memory;
 *  - AllowedPeers admits listed addresses and prefixes and refuses others;
 *  - malformed values are ADXL_PARAM_INVALID.
 */
#include "core/engine.h"
#include "test_api_util.h"
#include "transport/shm/shm_internal.h"
#include "transport/tcp/tcp_wire.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define SECRET "correct horse battery staple"
#define OTHER "correct horse battery stable"

#ifdef ADXL_TEST_HAVE_UCX
static const char *transports[] = {"tcp", "shm", "ucx"};
#else
static const char *transports[] = {"tcp", "shm"};
#endif

/* An engine on 127.0.0.1 with Transport=transport and up to two more options. */
static adxl_engine_t *engine_with(const char *transport, const char *k1, const char *v1,
                                  const char *k2, const char *v2) {
    adxl_option_t o[3] = {{"Transport", transport}};
    size_t n = 1;
    if (k1) o[n++] = (adxl_option_t){k1, v1};
    if (k2) o[n++] = (adxl_option_t){k2, v2};
    return tu_engine("127.0.0.1:0", o, n);
}

/* Links init to tgt and checks a verified WRITE/READ round trip, or expects a refusal. */
static void expect_link(adxl_engine_t *init, adxl_engine_t *tgt, bool linked, const char *what) {
    const char *name = adxl_local_engine(tgt);
    adxl_status_t st = adxl_connect(init, name, 5000);
    if ((st == ADXL_SUCCESS) != linked)
        fprintf(stderr, "%s: connect returned %s\n", what, adxl_status_str(st));
    if (!linked) {
        CHECK_STATUS(st, ADXL_FAILED);
        CHECK_STATUS(adxl_disconnect(init, name, 1000), ADXL_NOT_CONNECTED);
        return;
    }
    CHECK_STATUS(st, ADXL_SUCCESS);
    ta_region_t r;
    REQUIRE(ta_region_alloc(&r, tgt, 1 << 20));
    uint8_t *src = malloc(1 << 20), *back = malloc(1 << 20);
    REQUIRE(src && back);
    tu_fill(src, 1 << 20, 5);
    /* The new region reaches the initiator's view a moment later; the target decides. */
    CHECK_STATUS(ta_xfer(init, name, ADXL_WRITE, src, r.ptr, 1 << 20, 5000), ADXL_SUCCESS);
    CHECK_STATUS(ta_xfer(init, name, ADXL_READ, back, r.ptr, 1 << 20, 5000), ADXL_SUCCESS);
    CHECK(memcmp(src, back, 1 << 20) == 0);
    CHECK_STATUS(adxl_send_notify(init, name, "auth", "ok", 5000), ADXL_SUCCESS);
    free(src);
    free(back);
    CHECK_STATUS(adxl_disconnect(init, name, 5000), ADXL_SUCCESS);
    ta_region_free(&r, tgt);
}

static void secrets(const char *transport) {
    printf("-- %s: secrets\n", transport);
    struct {
        const char *init, *tgt;
        bool linked;
        const char *what;
    } cases[] = {
        {SECRET, SECRET, true, "same secret"},  {OTHER, SECRET, false, "different secrets"},
        {NULL, SECRET, false, "target only"},   {SECRET, NULL, false, "initiator only"},
        {NULL, NULL, true, "no secret at all"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        adxl_engine_t *t =
            engine_with(transport, cases[i].tgt ? "AuthSecret" : NULL, cases[i].tgt, NULL, NULL);
        adxl_engine_t *e =
            engine_with(transport, cases[i].init ? "AuthSecret" : NULL, cases[i].init, NULL, NULL);
        REQUIRE(t && e);
        printf("   %s: %s\n", cases[i].what, cases[i].linked ? "linked" : "refused");
        expect_link(e, t, cases[i].linked, cases[i].what);
        adxl_engine_destroy(e);
        adxl_engine_destroy(t);
    }

    /* The same secret from a file (a trailing newline is not part of it). */
    char path[] = "/tmp/adxl-secret-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, SECRET "\n", sizeof(SECRET)) == (ssize_t)sizeof(SECRET));
    close(fd);
    adxl_engine_t *t = engine_with(transport, "AuthSecretFile", path, NULL, NULL);
    adxl_engine_t *e = engine_with(transport, "AuthSecret", SECRET, NULL, NULL);
    REQUIRE(t && e);
    expect_link(e, t, true, "secret from a file");
    adxl_engine_destroy(e);
    adxl_engine_destroy(t);
    unlink(path);
}

static int tcp_connect_to(const char *name) {
    const char *colon = strrchr(name, ':');
    REQUIRE(colon != NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    REQUIRE(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    return fd;
}

/* Everything the peer sends until it closes or goes quiet for quiet_ms. */
static size_t drain(int fd, uint8_t *buf, size_t cap, int quiet_ms) {
    size_t got = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, quiet_ms) <= 0) return got;
        ssize_t n = recv(fd, buf + got, cap - got, 0);
        if (n <= 0) return got;
        got += (size_t)n;
        if (got == cap) return got;
    }
}

static bool contains(const uint8_t *hay, size_t n, const char *needle) {
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0) return true;
    return false;
}

/* A would-be initiator that offers authentication: the target shows its proof, never the
 * secret, and a fresh one each time. */
static void target_never_sends_secret(void) {
    printf("-- the target's side of the handshake\n");
    adxl_engine_t *t = engine_with("tcp", "AuthSecret", SECRET, NULL, NULL);
    REQUIRE(t != NULL);
    uint8_t proofs[2][ADXL_AUTH_PROOF_BYTES];
    for (int k = 0; k < 2; k++) {
        int fd = tcp_connect_to(adxl_local_engine(t));
        tcp_hello_t h = {.stream_index = 0, .stream_count = 1, .flags = TCP_HELLO_FLAG_AUTH};
        memset(h.nonce, 0x42, sizeof(h.nonce)); /* the same nonce both times */
        h.name_len = 9;
        memcpy(h.name, "127.0.0.1", 9);
        uint8_t buf[4096];
        size_t n = tcp_hello_encode(buf, &h);
        REQUIRE(send(fd, buf, n, MSG_NOSIGNAL) == (ssize_t)n);
        size_t got = drain(fd, buf, sizeof(buf), 500);
        tcp_hello_ack_t ack;
        CHECK(got >= TCP_HELLO_ACK_FIXED && tcp_hello_ack_decode_fixed(buf, &ack));
        CHECK(ack.flags & TCP_HELLO_FLAG_AUTH);
        CHECK(!contains(buf, got, SECRET));
        memcpy(proofs[k], ack.proof, sizeof(proofs[k]));
        close(fd);
    }
    /* The target's own nonce makes every proof new, whatever the initiator sends. */
    CHECK(memcmp(proofs[0], proofs[1], ADXL_AUTH_PROOF_BYTES) != 0);
    adxl_engine_destroy(t);
}

typedef struct {
    int listen_fd;
    uint8_t seen[4096];
    size_t got;
} fake_target_t;

static void *fake_target_main(void *arg) {
    fake_target_t *f = arg;
    int fd = accept(f->listen_fd, NULL, NULL);
    if (fd < 0) return NULL;
    f->got = drain(fd, f->seen, TCP_HELLO_FIXED + 64, 2000);
    /* Claim to authenticate, with a proof made up: the initiator must stop there. */
    tcp_hello_ack_t ack = {.status = ADXL_SUCCESS, .flags = TCP_HELLO_FLAG_AUTH, .name_len = 9};
    memset(ack.proof, 0x33, sizeof(ack.proof));
    memcpy(ack.name, "127.0.0.1", 9);
    uint8_t buf[TCP_HELLO_ACK_FIXED + 64];
    size_t n = tcp_hello_ack_encode(buf, &ack);
    send(fd, buf, n, MSG_NOSIGNAL);
    f->got += drain(fd, f->seen + f->got, sizeof(f->seen) - f->got, 1000);
    close(fd);
    return NULL;
}

/* An initiator with a secret meets a target that cannot prove it holds it: the initiator
 * refuses, and sent nothing but its HELLO (no secret, no proof). */
static void initiator_never_sends_secret(void) {
    printf("-- the initiator's side of the handshake\n");
    fake_target_t f = {.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    socklen_t len = sizeof(sa);
    REQUIRE(bind(f.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
            listen(f.listen_fd, 4) == 0 &&
            getsockname(f.listen_fd, (struct sockaddr *)&sa, &len) == 0);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, fake_target_main, &f) == 0);
    char name[64];
    snprintf(name, sizeof(name), "127.0.0.1:%u", ntohs(sa.sin_port));
    adxl_engine_t *e = engine_with("tcp", "AuthSecret", SECRET, NULL, NULL);
    REQUIRE(e != NULL);
    CHECK_STATUS(adxl_connect(e, name, 5000), ADXL_FAILED);
    pthread_join(th, NULL);
    close(f.listen_fd);
    tcp_hello_t h;
    CHECK(f.got >= TCP_HELLO_FIXED && tcp_hello_decode_fixed(f.seen, &h));
    CHECK(f.got == TCP_HELLO_FIXED + h.name_len); /* nothing after the HELLO */
    CHECK(h.flags & TCP_HELLO_FLAG_AUTH);
    CHECK(!contains(f.seen, f.got, SECRET));
    adxl_engine_destroy(e);
}

/* A local process that goes straight to the shm socket, without the secret. */
static void shm_socket_guarded(void) {
    printf("-- shm's Unix socket without the secret\n");
    adxl_engine_t *t = engine_with("shm", "AuthSecret", SECRET, NULL, NULL);
    REQUIRE(t != NULL);
    char endpoint[64] = {0};
    size_t n = 0;
    const uint8_t *offer = adxl_host_facts_offered(&t->facts, "shm", &n);
    REQUIRE(offer != NULL && n > 0 && n < sizeof(endpoint));
    memcpy(endpoint, offer, n);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path + 1, endpoint, strlen(endpoint));
    REQUIRE(connect(fd, (struct sockaddr *)&sa,
                    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(endpoint))) ==
            0);
    shm_msg_t hello = {.type = SHM_MSG_HELLO, .text_len = 9};
    memcpy(hello.text, "127.0.0.1", 9);
    REQUIRE(shm_msg_send(fd, &hello, NULL, 0, true));
    /* Whatever comes back, no descriptor (no shared memory) comes with it. */
    int descriptors = 0, acks = 0;
    for (int k = 0; k < 4; k++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 2000) <= 0) break;
        shm_msg_t msg;
        int fds[SHM_MAX_FDS];
        bool again;
        if (!shm_msg_recv(fd, &msg, fds, &again)) break;
        for (int i = 0; i < SHM_MAX_FDS; i++)
            descriptors += fds[i] >= 0;
        acks += msg.type == SHM_MSG_HELLO_ACK;
        CHECK(!contains((const uint8_t *)&msg, SHM_MSG_FIXED + msg.text_len, SECRET));
        shm_close_fds(fds);
    }
    CHECK(descriptors == 0);
    CHECK(acks == 0);
    close(fd);
    adxl_engine_destroy(t);
}

static void allowed_peers(const char *transport) {
    printf("-- %s: AllowedPeers\n", transport);
    struct {
        const char *list;
        bool linked;
    } cases[] = {{"10.0.0.0/8", false},
                 {"127.0.0.0/8", true},
                 {"192.168.1.1,::1,127.0.0.1", true},
                 {"::/0", false},
                 {"0.0.0.0/0", true}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        adxl_engine_t *t = engine_with(transport, "AllowedPeers", cases[i].list, NULL, NULL);
        adxl_engine_t *e = engine_with(transport, NULL, NULL, NULL, NULL);
        REQUIRE(t && e);
        printf("   %s: %s\n", cases[i].list, cases[i].linked ? "linked" : "refused");
        expect_link(e, t, cases[i].linked, cases[i].list);
        adxl_engine_destroy(e);
        adxl_engine_destroy(t);
    }
}

static void bad_values(void) {
    printf("-- malformed values\n");
    const char *bad[][2] = {
        {"AuthSecret", "short"},
        {"AuthSecret", ""},
        {"AuthSecretFile", "/nonexistent/adxl-secret"},
        {"AllowedPeers", "10.0.0.0/33"},
        {"AllowedPeers", "::1/129"},
        {"AllowedPeers", "localhost"},
        {"AllowedPeers", "1.2.3.4,"},
        {"AllowedPeers", ",1.2.3.4"},
        {"AllowedPeers", "1.2.3.4/"},
        {"AllowedPeers", "1.2.3.4/-1"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        adxl_engine_t *e = NULL;
        REQUIRE(adxl_engine_create(&e) == ADXL_SUCCESS);
        adxl_option_t o = {bad[i][0], bad[i][1]};
        adxl_status_t st = adxl_initialize(e, "127.0.0.1:0", &o, 1);
        if (st != ADXL_PARAM_INVALID)
            fprintf(stderr, "%s=%s: %s\n", bad[i][0], bad[i][1], adxl_status_str(st));
        CHECK_STATUS(st, ADXL_PARAM_INVALID);
        adxl_engine_destroy(e);
    }
    /* A long secret is fine up to the limit. */
    char longest[ADXL_AUTH_SECRET_MAX + 2];
    memset(longest, 's', sizeof(longest));
    longest[ADXL_AUTH_SECRET_MAX] = '\0';
    adxl_engine_t *e = engine_with("tcp", "AuthSecret", longest, NULL, NULL);
    CHECK(e != NULL);
    adxl_engine_destroy(e);
    longest[ADXL_AUTH_SECRET_MAX] = 's';
    longest[ADXL_AUTH_SECRET_MAX + 1] = '\0';
    REQUIRE(adxl_engine_create(&e) == ADXL_SUCCESS);
    adxl_option_t o = {"AuthSecret", longest};
    CHECK_STATUS(adxl_initialize(e, "127.0.0.1:0", &o, 1), ADXL_PARAM_INVALID);
    adxl_engine_destroy(e);
}

int main(void) {
    setenv("UCX_TLS", "tcp", 0); /* UCX's own transports that adxl takes (no RDMA here) */
    for (size_t i = 0; i < sizeof(transports) / sizeof(transports[0]); i++) {
        secrets(transports[i]);
        allowed_peers(transports[i]);
    }
    target_never_sends_secret();
    initiator_never_sends_secret();
    shm_socket_guarded();
    bad_values();
    return tu_finish();
}
