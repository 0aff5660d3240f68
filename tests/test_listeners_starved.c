/*
 * Every listener out of descriptors (src/net/listener.c): a connection arrives at
 * the shared-memory transport's Unix socket, at UCX's control port and at the TCP port
 * while this process (the target's) has no descriptor left, so none can be accepted and
 * the listening socket stays readable. The listener must rest rather than spin on it
 * (the process uses well under a core meanwhile), and once descriptors are back it takes
 * the waiting connection (which, sending no HELLO, the target then closes after
 * PeerTimeoutMs) and keeps serving real initiators.
 */
#include "core/engine.h"
#include "test_api_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define FILLERS 4096

/* Connects sock to addr while no descriptor is left; the CPU time the process used in
 * the second that follows; false when the set-up did not starve it or connect failed. */
static bool starve(int sock, const struct sockaddr *addr, socklen_t addr_len, double *used) {
    struct rlimit saved, low;
    REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
    low = saved;
    low.rlim_cur = (rlim_t)tu_highest_fd() + 1;
    REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
    static int fillers[FILLERS]; /* every free number below the limit */
    int nfill = 0;
    while (nfill < FILLERS && (fillers[nfill] = dup(sock)) >= 0)
        nfill++;
    bool exhausted = nfill < FILLERS && errno == EMFILE;
    bool connected = connect(sock, addr, addr_len) == 0;
    /* A window to measure in, not a wait for anything. */
    double cpu0 = tu_process_cpu_ms();
    tu_sleep_ms(1000);
    *used = tu_process_cpu_ms() - cpu0;
    for (int i = 0; i < nfill; i++)
        close(fillers[i]);
    setrlimit(RLIMIT_NOFILE, &saved);
    return exhausted && connected;
}

/* The UCX control port the engine offers to probers (its first two bytes, little-endian). */
static uint16_t ucx_port(adxl_engine_t *t) {
    size_t n = 0;
    const uint8_t *offer = adxl_host_facts_offered(&t->facts, "ucx", &n);
    return offer && n >= 2 ? (uint16_t)(offer[0] | offer[1] << 8) : 0;
}

static void one_listener(const char *what, const char *transport) {
    fprintf(stderr, "-- the %s listener with no descriptor left\n", what);
    adxl_option_t opts[] = {{"Transport", transport}, {"PeerTimeoutMs", "1000"}};
    adxl_engine_t *t = tu_engine("127.0.0.1:0", opts, 2);
    REQUIRE(t != NULL);
    struct sockaddr_storage ss = {0};
    socklen_t len;
    int sock;
    if (strcmp(transport, "shm") == 0) {
        struct sockaddr_un *un = (struct sockaddr_un *)&ss;
        un->sun_family = AF_UNIX;
        size_t n = 0; /* abstract: a NUL, then the name the engine offers */
        const uint8_t *endpoint = adxl_host_facts_offered(&t->facts, "shm", &n);
        REQUIRE(endpoint != NULL && n > 0 && n < sizeof(un->sun_path) - 1);
        memcpy(un->sun_path + 1, endpoint, n);
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
        sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port =
            htons(strcmp(transport, "ucx") == 0 ? ucx_port(t)
                                                : (uint16_t)ta_name_port(adxl_local_engine(t)));
        REQUIRE(in->sin_port != 0);
        inet_pton(AF_INET, "127.0.0.1", &in->sin_addr);
        len = sizeof(*in);
        sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    }
    REQUIRE(sock >= 0);
    double used = 0;
    bool starved = starve(sock, (struct sockaddr *)&ss, len, &used);
    fprintf(stderr, "   %.0f ms of CPU in 1000 ms with a connection waiting\n", used);
    CHECK(starved);
    CHECK(used < 500); /* a spinning accept thread takes all of it */
    /* Descriptors are back: the waiting connection is taken, and closed for its silence. */
    CHECK(tu_closed_within(sock, 10000));
    close(sock);
    /* A real initiator still links and moves bytes. */
    adxl_engine_t *e = tu_engine("127.0.0.1:0", opts, 1);
    REQUIRE(e != NULL);
    ta_region_t r;
    REQUIRE(ta_region_alloc(&r, t, 65536));
    uint8_t src[4096], back[4096];
    tu_fill(src, sizeof(src), 5);
    CHECK_STATUS(adxl_connect(e, adxl_local_engine(t), 5000), ADXL_SUCCESS);
    CHECK_STATUS(ta_xfer(e, adxl_local_engine(t), ADXL_WRITE, src, r.ptr, sizeof(src), 5000),
                 ADXL_SUCCESS);
    CHECK_STATUS(ta_xfer(e, adxl_local_engine(t), ADXL_READ, back, r.ptr, sizeof(back), 5000),
                 ADXL_SUCCESS);
    CHECK(memcmp(src, back, sizeof(src)) == 0);
    adxl_engine_destroy(e);
    ta_region_free(&r, t);
    adxl_engine_destroy(t);
}

int main(void) {
    one_listener("TCP", "tcp");
    one_listener("shared-memory", "shm");
#ifdef ADXL_TEST_HAVE_UCX
    setenv("UCX_TLS", "tcp", 0); /* no RDMA device here */
    one_listener("UCX control", "ucx");
#endif
    return tu_finish();
}
