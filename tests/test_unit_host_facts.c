/*
 * src/net/host_facts.c: the offers a transport makes in the host facts, and their wire
 * form. An offer is found by its name with exactly its bytes, set again in place, and
 * refused when its name or bytes do not fit or every offer is taken; facts encode and
 * decode back to the same, and a decode refuses what a hostile prober's target could
 * send: too many offers, a name twice or out of its alphabet, a length past its limit or
 * past the end, and bytes left over. (tests/fuzz/fuzz_hello_ack.c compares the decoder
 * with a reference on any bytes.)
 */
#include "net/host_facts.h"
#include "testutil.h"

#include <string.h>

static adxl_host_facts_t sample(void) {
    adxl_host_facts_t f;
    memset(&f, 0, sizeof(f));
    for (int i = 0; i < 16; i++)
        f.boot_id[i] = (uint8_t)(0xA0 + i);
    f.pid_ns = 4026531836u;
    f.net_ns = 4026531840u;
    f.pid = 4242;
    f.uid = 1000;
    return f;
}

static bool same(const adxl_host_facts_t *a, const adxl_host_facts_t *b) {
    if (memcmp(a->boot_id, b->boot_id, 16) != 0 || a->pid_ns != b->pid_ns ||
        a->net_ns != b->net_ns || a->pid != b->pid || a->uid != b->uid || a->noffers != b->noffers)
        return false;
    for (uint32_t i = 0; i < a->noffers; i++) {
        size_t len = 0;
        const uint8_t *bytes = adxl_host_facts_offered(b, a->offers[i].transport, &len);
        if (!bytes || len != a->offers[i].len || memcmp(bytes, a->offers[i].bytes, len) != 0)
            return false;
    }
    return true;
}

static void test_offers(void) {
    fprintf(stderr, "-- offers: found by name, set again in place, refused when they do not fit\n");
    adxl_host_facts_t f = sample();
    size_t len = 99;
    CHECK(adxl_host_facts_offered(&f, "shm", &len) == NULL && len == 99);
    CHECK(adxl_host_facts_offer(&f, "shm", "endpoint-1", 10));
    CHECK(adxl_host_facts_offer(&f, "ucx", "\x91\x65\x01\x00", 4));
    const uint8_t *got = adxl_host_facts_offered(&f, "shm", &len);
    CHECK(got && len == 10 && memcmp(got, "endpoint-1", 10) == 0);
    CHECK(adxl_host_facts_offer(&f, "shm", "other", 5)); /* replaces, takes no new place */
    got = adxl_host_facts_offered(&f, "shm", &len);
    CHECK(f.noffers == 2 && got && len == 5 && memcmp(got, "other", 5) == 0);
    CHECK(adxl_host_facts_offered(&f, "sh", &len) == NULL);

    uint8_t big[ADXL_FACTS_OFFER_BYTES + 1];
    memset(big, 'b', sizeof(big));
    CHECK(!adxl_host_facts_offer(&f, "rdma", big, sizeof(big)));
    CHECK(adxl_host_facts_offer(&f, "rdma", big, ADXL_FACTS_OFFER_BYTES));
    CHECK(!adxl_host_facts_offer(&f, "", "x", 1));
    CHECK(!adxl_host_facts_offer(&f, "eightchr", "x", 1)); /* 8 bytes: no room for the NUL */
    CHECK(!adxl_host_facts_offer(&f, "Shm", "x", 1));
    CHECK(!adxl_host_facts_offer(&f, "a-b", "x", 1));
    CHECK(adxl_host_facts_offer(&f, "seven_7", NULL, 0)); /* an empty offer is an offer */
    CHECK(adxl_host_facts_offered(&f, "seven_7", &len) != NULL && len == 0);
    CHECK(f.noffers == ADXL_FACTS_OFFERS_MAX);
    CHECK(!adxl_host_facts_offer(&f, "fifth", "x", 1));
    CHECK(f.noffers == ADXL_FACTS_OFFERS_MAX);
}

static size_t encoded(const adxl_host_facts_t *f, uint8_t *out) {
    size_t n = adxl_host_facts_encode(out, f);
    CHECK(n >= ADXL_FACTS_FIXED && n <= ADXL_FACTS_WIRE_MAX);
    return n;
}

static void test_wire(void) {
    fprintf(stderr, "-- the wire form: back to the same facts, hostile forms refused\n");
    adxl_host_facts_t f = sample(), back;
    uint8_t buf[ADXL_FACTS_WIRE_MAX + 8];
    size_t n = encoded(&f, buf);
    CHECK(n == ADXL_FACTS_FIXED && adxl_host_facts_decode(buf, n, &back) && same(&f, &back));

    uint8_t full[ADXL_FACTS_OFFER_BYTES];
    memset(full, 0xFF, sizeof(full));
    const char *names[] = {"abcdefg", "hijklmn", "opqrstu", "vwx_yz0"};
    for (int i = 0; i < ADXL_FACTS_OFFERS_MAX; i++)
        CHECK(adxl_host_facts_offer(&f, names[i], full, sizeof(full)));
    n = encoded(&f, buf);
    CHECK(n == ADXL_FACTS_WIRE_MAX); /* the largest facts there are fit the limit exactly */
    CHECK(adxl_host_facts_decode(buf, n, &back) && same(&f, &back));

    f = sample();
    CHECK(adxl_host_facts_offer(&f, "shm", "abc", 3) &&
          adxl_host_facts_offer(&f, "ucx", "wxyz", 4));
    n = encoded(&f, buf);
    /* Offers start at 41: [3]"shm"[3]"abc", then at 49: [3]"ucx"[4]"wxyz", ending at 58. */
    CHECK(n == 58 && buf[40] == 2 && buf[41] == 3 && buf[45] == 3 && buf[49] == 3);
    CHECK(adxl_host_facts_decode(buf, n, &back) && same(&f, &back));

    uint8_t bad[sizeof(buf)];
    struct {
        const char *what;
        size_t at;
        uint8_t value;
        long extra; /* added to the length */
    } cases[] = {
        {"too many offers", 40, ADXL_FACTS_OFFERS_MAX + 1, 0},
        {"fewer offers than sent", 40, 1, 0},
        {"more offers than sent", 40, 3, 0},
        {"an empty name", 41, 0, 0},
        {"a name past its limit", 41, ADXL_FACTS_OFFER_NAME_MAX, 0},
        {"a name out of its alphabet", 42, 'S', 0},
        {"a name twice", 50, 's', 0}, /* "ucx" becomes "scx"... */
        {"a length past the end", 45, 60, 0},
        {"a length past its limit", 53, ADXL_FACTS_OFFER_BYTES + 1, 0},
        {"a byte short", 0, 0, -1},
        {"a byte left over", 0, 0, 1},
        {"shorter than the fixed part", 0, 0, -(long)(58 - ADXL_FACTS_FIXED + 1)},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(bad, buf, n);
        bad[n] = 0;
        if (cases[i].at) bad[cases[i].at] = cases[i].value;
        if (strcmp(cases[i].what, "a name twice") == 0) memcpy(bad + 50, "shm", 3);
        size_t len = (size_t)((long)n + cases[i].extra);
        bool ok = adxl_host_facts_decode(bad, len, &back);
        if (ok) fprintf(stderr, "accepted: %s\n", cases[i].what);
        CHECK(!ok);
    }
    CHECK(!adxl_host_facts_decode(buf, ADXL_FACTS_WIRE_MAX + 1, &back));
}

int main(void) {
    test_offers();
    test_wire();
    return tu_finish();
}
