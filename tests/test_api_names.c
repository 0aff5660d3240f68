/*
 * Engine names: which local and remote names are accepted, what adxl_local_engine
 * reports (the real port for port 0), that the reported name is the one peers connect
 * to, and client-only engines (no port) that connect out but cannot be connected to.
 */
#include "test_api_util.h"

static const char *const bad_names[] = {
    "",
    "junk",
    "localhost",
    "localhost:80",
    ":80",
    "127.0.0.1:",
    "127.0.0.1:65536",
    "127.0.0.1:-1",
    "127.0.0.1:12ab",
    "127.0.0.1:80x",
    "127.0.0.1:80 ",
    "127.0.0.1 ",
    "127.0.0.1:80:80",
    "127.0.0.1:99999999999",
    "127.0.0.1:4294967297",
    "127.0.0.1:18446744073709551617",
    "256.1.1.1:80",
    "1.2.3:80",
    "1.2.3.4.5:80",
    "[::1",
    "[::1:80",
    "::1:80",
    "[::1]:",
    "[::1]x",
    "[::1]80",
    "[::1]:80x",
    "[::1]:65536",
    "[::1]:-1",
    "[]:80",
    "[]",
    "[zz]:1",
    "[zz]",
    "[::1]]:80",
};
#define NBAD (sizeof(bad_names) / sizeof(bad_names[0]))

static void test_bad_local_names(void) {
    fprintf(stderr, "-- invalid local names\n");
    adxl_engine_t *e = NULL;
    REQUIRE(adxl_engine_create(&e) == ADXL_SUCCESS && e != NULL);
    for (size_t i = 0; i < NBAD; i++) {
        adxl_status_t st = adxl_initialize(e, bad_names[i], NULL, 0);
        if (st != ADXL_PARAM_INVALID) fprintf(stderr, "initialize(\"%s\")\n", bad_names[i]);
        CHECK_STATUS(st, ADXL_PARAM_INVALID);
        if (st == ADXL_SUCCESS) adxl_finalize(e);
        CHECK(adxl_local_engine(e) == NULL);
    }
    CHECK_STATUS(adxl_initialize(e, NULL, NULL, 0), ADXL_PARAM_INVALID);
    CHECK(adxl_local_engine(e) == NULL);
    /* Very long names. */
    static char longname[10000];
    memset(longname, '1', sizeof(longname) - 1);
    CHECK_STATUS(adxl_initialize(e, longname, NULL, 0), ADXL_PARAM_INVALID);
    memcpy(longname, "127.0.0.1:", 10);
    CHECK_STATUS(adxl_initialize(e, longname, NULL, 0), ADXL_PARAM_INVALID);
    longname[300] = '\0';
    CHECK_STATUS(adxl_initialize(e, longname, NULL, 0), ADXL_PARAM_INVALID);
    CHECK(adxl_local_engine(e) == NULL);
    /* Still not initialized after all that. */
    adxl_stats_t s;
    CHECK_STATUS(adxl_get_stats(e, &s), ADXL_FAILED);
    /* And the same engine initializes fine with a good name. */
    CHECK_STATUS(adxl_initialize(e, "127.0.0.1:0", NULL, 0), ADXL_SUCCESS);
    CHECK(adxl_local_engine(e) != NULL);
    adxl_engine_destroy(e);
}

static void test_bad_remote_names(void) {
    fprintf(stderr, "-- invalid remote names\n");
    adxl_engine_t *e = tu_engine("127.0.0.1:0", NULL, 0);
    REQUIRE(e != NULL);
    uint8_t buf[64] = {0};
    adxl_transfer_op_desc_t od = {(uintptr_t)buf, (uintptr_t)buf, sizeof(buf)};
    for (size_t i = 0; i < NBAD; i++) {
        const char *n = bad_names[i];
        adxl_status_t st = adxl_connect(e, n, 200);
        if (st != ADXL_PARAM_INVALID) fprintf(stderr, "connect(\"%s\")\n", n);
        CHECK_STATUS(st, ADXL_PARAM_INVALID);
        st = adxl_disconnect(e, n, 200);
        if (st != ADXL_PARAM_INVALID) fprintf(stderr, "disconnect(\"%s\")\n", n);
        CHECK_STATUS(st, ADXL_PARAM_INVALID);
    }
    CHECK_STATUS(adxl_connect(e, NULL, 200), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_disconnect(e, NULL, 200), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_transfer_sync(e, NULL, ADXL_WRITE, &od, 1, 200), ADXL_PARAM_INVALID);
    CHECK_STATUS(adxl_send_notify(e, NULL, "n", "m", 200), ADXL_PARAM_INVALID);

    /* Well-formed names at the port range edges are not PARAM_INVALID (nobody listens
     * there, or something that is not adxl does). */
    static const char *const edge[] = {"127.0.0.1:1", "127.0.0.1:65535", "[::1]:65535"};
    for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
        uint64_t t0 = tu_now_ms();
        adxl_status_t st = adxl_connect(e, edge[i], 200);
        uint64_t took = tu_now_ms() - t0;
        if (st == ADXL_PARAM_INVALID || st == ADXL_SUCCESS)
            fprintf(stderr, "connect(\"%s\"): %s\n", edge[i], adxl_status_str(st));
        CHECK(st != ADXL_PARAM_INVALID && st != ADXL_SUCCESS);
        CHECK(took < TA_HANG_MS);
        /* Well-formed but not linked. */
        CHECK_STATUS(adxl_disconnect(e, edge[i], 200), ADXL_NOT_CONNECTED);
    }
    adxl_engine_destroy(e);
}

/* Initializes an engine on `local`, checks the reported name is prefix + a real port, and
 * that an engine on `client` can connect to exactly that string and write into it. */
static void check_listening(const char *local, const char *prefix, const char *client) {
    fprintf(stderr, "-- listening on %s\n", local);
    adxl_engine_t *t = tu_engine(local, NULL, 0);
    CHECK(t != NULL);
    if (t == NULL) return;
    const char *name = adxl_local_engine(t);
    CHECK(name != NULL);
    if (name == NULL) {
        adxl_engine_destroy(t);
        return;
    }
    char saved[128];
    snprintf(saved, sizeof(saved), "%s", name);
    fprintf(stderr, "   reported as %s\n", saved);
    CHECK(strncmp(saved, prefix, strlen(prefix)) == 0);
    unsigned port = ta_name_port(saved);
    CHECK(port >= 1 && port <= 65535);
    /* Exactly prefix followed by the decimal port. */
    char expect[128];
    snprintf(expect, sizeof(expect), "%s%u", prefix, port);
    CHECK(strcmp(saved, expect) == 0);
    /* The pointer stays valid and the text the same. */
    CHECK(adxl_local_engine(t) != NULL && strcmp(adxl_local_engine(t), saved) == 0);

    if (client != NULL) {
        ta_region_t tr;
        REQUIRE(ta_region_alloc(&tr, t, 65536));
        adxl_engine_t *c = tu_engine(client, NULL, 0);
        CHECK(c != NULL);
        if (c != NULL) {
            CHECK_STATUS(adxl_connect(c, saved, 5000), ADXL_SUCCESS);
            uint8_t src[4096];
            tu_fill(src, sizeof(src), port);
            CHECK_STATUS(ta_xfer(c, saved, ADXL_WRITE, src, tr.ptr + 100, sizeof(src), 5000),
                         ADXL_SUCCESS);
            CHECK(tu_verify(tr.ptr + 100, sizeof(src), port));
            adxl_engine_destroy(c);
        }
        ta_region_free(&tr, t);
    }
    adxl_engine_destroy(t);
}

static void test_explicit_port(void) {
    fprintf(stderr, "-- explicit port\n");
    unsigned port = ta_free_port(false);
    REQUIRE(port != 0);
    char name[64];
    snprintf(name, sizeof(name), "127.0.0.1:%u", port);
    adxl_engine_t *t = tu_engine(name, NULL, 0);
    CHECK(t != NULL);
    if (t == NULL) return;
    CHECK(adxl_local_engine(t) != NULL && strcmp(adxl_local_engine(t), name) == 0);

    /* The port is taken now: a second engine cannot listen there. */
    adxl_engine_t *dup = NULL;
    REQUIRE(adxl_engine_create(&dup) == ADXL_SUCCESS && dup != NULL);
    adxl_status_t st = adxl_initialize(dup, name, NULL, 0);
    CHECK(st != ADXL_SUCCESS);
    if (st == ADXL_SUCCESS)
        fprintf(stderr, "two engines initialized on %s\n", name);
    else
        CHECK(adxl_local_engine(dup) == NULL);
    adxl_engine_destroy(dup);

    adxl_engine_t *c = tu_engine("127.0.0.1", NULL, 0);
    REQUIRE(c != NULL);
    CHECK_STATUS(adxl_connect(c, name, 5000), ADXL_SUCCESS);
    adxl_engine_destroy(c);
    adxl_engine_destroy(t);
}

static void test_client_only(const char *cname, const char *server) {
    fprintf(stderr, "-- client-only %s\n", cname);
    adxl_engine_t *s = tu_engine(server, NULL, 0);
    REQUIRE(s != NULL);
    const char *sname = adxl_local_engine(s);
    REQUIRE(sname != NULL);
    ta_region_t sr;
    REQUIRE(ta_region_alloc(&sr, s, 1u << 20));

    adxl_engine_t *c1 = tu_engine(cname, NULL, 0);
    adxl_engine_t *c2 = tu_engine(cname, NULL, 0);
    REQUIRE(c1 != NULL && c2 != NULL);
    /* Reported as given. */
    CHECK(adxl_local_engine(c1) != NULL && strcmp(adxl_local_engine(c1), cname) == 0);
    CHECK(adxl_local_engine(c2) != NULL && strcmp(adxl_local_engine(c2), cname) == 0);

    /* Both connect out, under the same name, and write to different places. */
    CHECK_STATUS(adxl_connect(c1, sname, 5000), ADXL_SUCCESS);
    CHECK_STATUS(adxl_connect(c2, sname, 5000), ADXL_SUCCESS);
    uint8_t src1[8192], src2[8192];
    tu_fill(src1, sizeof(src1), 1);
    tu_fill(src2, sizeof(src2), 2);
    CHECK_STATUS(ta_xfer(c1, sname, ADXL_WRITE, src1, sr.ptr, sizeof(src1), 5000), ADXL_SUCCESS);
    CHECK_STATUS(ta_xfer(c2, sname, ADXL_WRITE, src2, sr.ptr + 65536, sizeof(src2), 5000),
                 ADXL_SUCCESS);
    CHECK(tu_verify(sr.ptr, sizeof(src1), 1));
    CHECK(tu_verify(sr.ptr + 65536, sizeof(src2), 2));
    /* And read back. */
    uint8_t back[8192];
    memset(back, 0, sizeof(back));
    CHECK_STATUS(ta_xfer(c2, sname, ADXL_READ, back, sr.ptr, sizeof(back), 5000), ADXL_SUCCESS);
    CHECK(tu_verify(back, sizeof(back), 1));
    /* Notifies over a client's link arrive. */
    CHECK_STATUS(adxl_send_notify(c1, sname, "from", "c1", 5000), ADXL_SUCCESS);
    adxl_notify_t note;
    size_t count = 0;
    CHECK_STATUS(adxl_get_notifies(s, &note, 1, &count), ADXL_SUCCESS);
    CHECK(count == 1 && strcmp(note.name, "from") == 0 && strcmp(note.msg, "c1") == 0);

    /* Nobody can connect to a client-only engine. */
    uint64_t t0 = tu_now_ms();
    adxl_status_t st = adxl_connect(s, cname, 300);
    CHECK(st != ADXL_SUCCESS);
    CHECK(tu_now_ms() - t0 < TA_HANG_MS);
    if (st == ADXL_SUCCESS) adxl_disconnect(s, cname, 1000);

    adxl_engine_destroy(c1);
    adxl_engine_destroy(c2);
    ta_region_free(&sr, s);
    adxl_engine_destroy(s);
}

static void test_any_address(void) {
    fprintf(stderr, "-- 0.0.0.0:0\n");
    adxl_engine_t *t = tu_engine("0.0.0.0:0", NULL, 0);
    CHECK(t != NULL);
    if (t == NULL) return;
    const char *name = adxl_local_engine(t);
    CHECK(name != NULL);
    if (name != NULL) {
        fprintf(stderr, "   reported as %s\n", name);
        unsigned port = ta_name_port(name);
        CHECK(port >= 1 && port <= 65535);
    }
    adxl_engine_destroy(t);
}

int main(void) {
    test_bad_local_names();
    test_bad_remote_names();
    check_listening("127.0.0.1:0", "127.0.0.1:", "127.0.0.1");
    check_listening("127.0.0.1:0", "127.0.0.1:", "127.0.0.1:0");
    test_explicit_port();
    test_client_only("127.0.0.1", "127.0.0.1:0");
    test_any_address();
    if (ta_have_ipv6()) {
        check_listening("[::1]:0", "[::1]:", "[::1]");
        check_listening("[::1]:0", "[::1]:", "[::1]:0");
        test_client_only("[::1]", "[::1]:0");
    } else {
        fprintf(stderr, "no IPv6 loopback here: IPv6 name tests skipped\n");
    }
    return tu_finish();
}
