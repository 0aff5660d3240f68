/*
 * Many regions with a peer linked: 100,000 registered (in descending address order) and
 * deregistered, round after round for at least four times PeerTimeoutMs. The link stays
 * up through the stream of announcements (it used to drop: the initiator, hearing the
 * target, stopped pinging, and the target gave up on a silent initiator); the peer learns
 * of every region (8 bytes land in the last registered one and the first); each side's
 * stats count them. Left out of the default valgrind run (scripts/valgrind-tests.sh):
 * memcheck runs one thread at a time, which no PeerTimeoutMs short enough to reproduce
 * the drop would survive. Over UCX a peer is told only of the regions it moves bytes to
 * (it asks for their keys), so it mirrors none until the two writes, then those two.
 */
#include "test_api_util.h"

#include <stdlib.h>
#include <string.h>

#define PEER_TIMEOUT_MS "500"

static adxl_status_t reg(adxl_engine_t *e, const void *addr, size_t len, adxl_mem_handle_t *h) {
    adxl_mem_desc_t d = {(uintptr_t)addr, len};
    return adxl_register_mem(e, &d, ADXL_MEM_HOST, h);
}

/* Polls the initiator's count of the target's regions until it is want (the updates
 * travel asynchronously); false when it never got there. */
static bool mirrored_reaches(adxl_engine_t *e, uint64_t want) {
    uint64_t deadline = tu_now_ms() + 30000;
    adxl_stats_t s;
    while (adxl_get_stats(e, &s) == ADXL_SUCCESS && s.regions_mirrored != want) {
        if (tu_now_ms() >= deadline) {
            fprintf(stderr, "peer mirrors %llu regions, expected %llu\n",
                    (unsigned long long)s.regions_mirrored, (unsigned long long)want);
            return false;
        }
        tu_sleep_ms(1);
    }
    return true;
}

static void test_many_regions(void) {
    fprintf(stderr, "-- 100K regions registered and deregistered with a peer linked\n");
    const adxl_option_t opts[] = {{"PeerTimeoutMs", PEER_TIMEOUT_MS}};
    adxl_engine_t *t = tu_engine("127.0.0.1:0", opts, 1);
    adxl_engine_t *i = tu_engine("127.0.0.1:0", opts, 1);
    REQUIRE(t != NULL && i != NULL);
    char tname[128];
    snprintf(tname, sizeof(tname), "%s", adxl_local_engine(t));
    CHECK_STATUS(adxl_connect(i, tname, 5000), ADXL_SUCCESS);

    enum { N = 100000, LEN = 64 };
    const char *transport = getenv("ADXL_TRANSPORT");
    bool on_request = transport && strcmp(transport, "ucx") == 0;
    uint8_t *mem = calloc(N, LEN);
    adxl_mem_handle_t *h = calloc(N, sizeof(*h));
    REQUIRE(mem && h);
    uint64_t start = tu_now_ms();
    int rounds = 0;
    bool all_ok = true;
    adxl_stats_t ts, is;
    do {
        for (size_t k = N; k-- > 0 && all_ok;)
            all_ok = reg(t, mem + k * LEN, LEN, &h[k]) == ADXL_SUCCESS;
        CHECK(all_ok);
        CHECK_STATUS(adxl_get_stats(t, &ts), ADXL_SUCCESS);
        CHECK(ts.regions_registered == N);
        CHECK(mirrored_reaches(i, on_request ? 0 : N));
        if (rounds == 0) {
            uint8_t src[8] = {1, 2, 3, 4, 5, 6, 7, 8};
            uint8_t *last = mem, *first = mem + (size_t)(N - 1) * LEN;
            CHECK_STATUS(ta_xfer(i, tname, ADXL_WRITE, src, last, sizeof(src), 5000), ADXL_SUCCESS);
            CHECK(memcmp(last, src, sizeof(src)) == 0);
            CHECK_STATUS(ta_xfer(i, tname, ADXL_WRITE, src, first, sizeof(src), 5000),
                         ADXL_SUCCESS);
            CHECK(memcmp(first, src, sizeof(src)) == 0);
            if (on_request) CHECK(mirrored_reaches(i, 2));
        }
        for (size_t k = 0; k < N && all_ok; k++)
            all_ok = adxl_deregister_mem(t, h[k]) == ADXL_SUCCESS;
        CHECK(all_ok);
        CHECK_STATUS(adxl_get_stats(t, &ts), ADXL_SUCCESS);
        CHECK(ts.regions_registered == 0);
        CHECK(mirrored_reaches(i, 0));
        rounds++;
    } while (all_ok && tu_now_ms() - start < 4 * (uint64_t)atoi(PEER_TIMEOUT_MS));
    fprintf(stderr, "   %d rounds\n", rounds);

    /* Neither side gave up on the other while the updates streamed. */
    CHECK_STATUS(adxl_get_stats(t, &ts), ADXL_SUCCESS);
    CHECK_STATUS(adxl_get_stats(i, &is), ADXL_SUCCESS);
    CHECK(ts.links_dropped == 0 && is.links_dropped == 0);
    CHECK_STATUS(adxl_send_notify(i, tname, "still", "linked", 5000), ADXL_SUCCESS);
    adxl_engine_destroy(i);
    adxl_engine_destroy(t);
    free(h);
    free(mem);
}

int main(void) {
    test_many_regions();
    return tu_finish();
}
