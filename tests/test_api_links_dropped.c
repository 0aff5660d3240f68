/*
 * adxl_stats_t.links_dropped counts links that were up and then torn down by a peer
 * failure, nothing else: a connect that finds nobody (by adxl_connect or by AutoConnect)
 * and a disconnect by the caller leave it alone; a target that goes away counts once.
 * (Regression: every failed connect attempt used to count as a dropped link, which the
 * cluster test bed noticed while a link was cut.)
 */
#include "test_api_util.h"

static uint64_t dropped(adxl_engine_t *e) {
    adxl_stats_t s;
    memset(&s, 0xa5, sizeof(s));
    CHECK_STATUS(adxl_get_stats(e, &s), ADXL_SUCCESS);
    return s.links_dropped;
}

static void failed_connects_are_not_drops(void) {
    char nobody[64];
    int hold = -1; /* held, so that no parallel test's listener can take the port */
    unsigned port = ta_dead_port(false, &hold);
    REQUIRE(port != 0);
    snprintf(nobody, sizeof(nobody), "127.0.0.1:%u", port);

    adxl_engine_t *e = tu_engine("127.0.0.1", NULL, 0);
    REQUIRE(e != NULL);
    CHECK_STATUS(adxl_connect(e, nobody, 300), ADXL_TIMEOUT);
    CHECK(dropped(e) == 0);
    adxl_engine_destroy(e);

    static const adxl_option_t autoconnect[] = {{"AutoConnect", "1"}};
    e = tu_engine("127.0.0.1", autoconnect, 1);
    REQUIRE(e != NULL);
    static uint8_t buf[4096];
    adxl_transfer_op_desc_t d = {(uintptr_t)buf, 0x10000, sizeof(buf)};
    for (int i = 0; i < 3; i++)
        CHECK_STATUS(adxl_transfer_sync(e, nobody, ADXL_READ, &d, 1, 200), ADXL_TIMEOUT);
    CHECK(dropped(e) == 0);
    adxl_engine_destroy(e);
    close(hold);
}

static bool not_connected(adxl_engine_t *e, const char *name) {
    adxl_connect_state_t s = ADXL_CONNECTED;
    return adxl_get_async_connect_status(e, name, &s) == ADXL_SUCCESS && s == ADXL_NOT_CONNECT;
}

static void real_drops_count_once(void) {
    adxl_engine_t *t = tu_engine("127.0.0.1:0", NULL, 0);
    adxl_engine_t *e = tu_engine("127.0.0.1", NULL, 0);
    REQUIRE(t != NULL && e != NULL);
    char name[64];
    snprintf(name, sizeof(name), "%s", adxl_local_engine(t));

    /* A disconnect by the caller is no drop. */
    CHECK_STATUS(adxl_connect(e, name, 5000), ADXL_SUCCESS);
    CHECK_STATUS(adxl_disconnect(e, name, 5000), ADXL_SUCCESS);
    CHECK(dropped(e) == 0);

    /* The target goes away: its connections close, the link is torn down, once. */
    CHECK_STATUS(adxl_connect(e, name, 5000), ADXL_SUCCESS);
    adxl_engine_destroy(t);
    uint64_t until = tu_now_ms() + TA_HANG_MS;
    while (!not_connected(e, name) && tu_now_ms() < until)
        tu_sleep_ms(10);
    CHECK(not_connected(e, name));
    CHECK(dropped(e) == 1);

    /* Trying to link to it again while it is away adds nothing. */
    CHECK_STATUS(adxl_connect(e, name, 300), ADXL_TIMEOUT);
    CHECK(dropped(e) == 1);
    adxl_engine_destroy(e);
}

int main(void) {
    failed_connects_are_not_drops();
    real_drops_count_once();
    return tu_finish();
}
