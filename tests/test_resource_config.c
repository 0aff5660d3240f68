/*
 * HIXL's options: GlobalResourceConfig and LocalCommRes (JSON, src/core/resource_config.c) and
 * EnableUseFabricMem. Good configurations and what they choose; malformed JSON, wrong
 * types, out-of-range values and unknown keys refused with PARAM_INVALID and nothing
 * changed; UB protocols UNSUPPORTED; every key with and without "adxl."; a build without
 * json-c answering UNSUPPORTED instead.
 */
#include "test_api_util.h"

#include "core/options.h"
#include "core/resource_config.h"

static bool json;

/* adxl_config_parse of one option over the defaults. */
static adxl_status_t parse_one(const char *key, const char *value, adxl_config_t *c) {
    adxl_config_defaults(c);
    adxl_option_t o = {key, value};
    return adxl_config_parse(c, &o, 1);
}

static void test_protocols(void) {
    fprintf(stderr, "-- protocol_desc chooses the transport\n");
    static const struct {
        const char *json;
        adxl_transport_kind_t transport;
    } good[] = {
        {"{\"comm_resource_config.protocol_desc\":\"hccs:device\"}", ADXL_TRANSPORT_SHM},
        {"{\"comm_resource_config.protocol_desc\":[\"roce:device\"]}", ADXL_TRANSPORT_UCX},
        {"{\"comm_resource_config.protocol_desc\":\"roce:host\"}", ADXL_TRANSPORT_UCX},
        {"{\"comm_resource_config.protocol_desc\":[\"tcp:host\",\"tcp:device\"]}",
         ADXL_TRANSPORT_TCP},
        {"{\"comm_resource_config.protocol_desc\":[\"hccs:device\",\"roce:device\"]}",
         ADXL_TRANSPORT_AUTO},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        for (int prefixed = 0; prefixed < 2; prefixed++) {
            adxl_config_t c;
            const char *key = prefixed ? "adxl.GlobalResourceConfig" : "GlobalResourceConfig";
            adxl_status_t st = parse_one(key, good[i].json, &c);
            CHECK_STATUS(st, json ? ADXL_SUCCESS : ADXL_UNSUPPORTED);
            if (json) CHECK(c.transport == good[i].transport);
        }
    }
    static const char *const ub[] = {"ub_ctp:device", "ub_ctp:host", "uboe:device",
                                     "ub_rtp:device"};
    for (size_t i = 0; i < sizeof(ub) / sizeof(ub[0]); i++) {
        char text[128];
        snprintf(text, sizeof(text),
                 "{\"comm_resource_config.protocol_desc\":[\"tcp:host\",\"%s\"]}", ub[i]);
        adxl_config_t c;
        CHECK_STATUS(parse_one("GlobalResourceConfig", text, &c), ADXL_UNSUPPORTED);
    }
}

static void test_global_values(void) {
    fprintf(stderr, "-- GlobalResourceConfig values\n");
    adxl_resource_config_t r;
    memset(&r, 0x5a, sizeof(r));
    const char *all = "{\"comm_resource_config.protocol_desc\":\"tcp:host\","
                      "\"comm_resource_config.listen_port\":26301,"
                      "\"comm_resource_config.qos\":7,"
                      "\"comm_resource_config.max_active_channels\":4294967295,"
                      "\"local_comm_res_path\":\"/tmp/x.json\","
                      "\"fabric_memory\":{\"max_capacity\":1,\"enable_aicpu_unfold\":true},"
                      "\"connect_pool.thread_num\":4}";
    if (!json) {
        CHECK_STATUS(adxl_resource_config_parse(all, &r), ADXL_UNSUPPORTED);
        return;
    }
    CHECK_STATUS(adxl_resource_config_parse(all, &r), ADXL_SUCCESS);
    CHECK(r.protocols == ADXL_PROTO_TCP && r.listen_port == 26301 && r.qos == 7);
    CHECK(r.max_active_channels == 4294967295LL);
    CHECK(strcmp(r.local_comm_res_path, "/tmp/x.json") == 0);
    CHECK_STATUS(adxl_resource_config_parse("{}", &r), ADXL_SUCCESS);
    CHECK(r.protocols == 0 && r.listen_port == -1 && r.qos == -1 && r.max_active_channels == -1);
    CHECK(r.local_comm_res_path[0] == '\0');
}

static void test_global_bad(void) {
    fprintf(stderr, "-- GlobalResourceConfig refused\n");
    static const char *const bad[] = {
        "",
        "{",
        "not-json",
        "[]",
        "null",
        "{} {}",
        "{\"comm_resource_config.protocol_desc\":\"roce:device\",}",
        "{\"comm_resource_config.qos\":1",
        "{\"comm_resource_config.qos\":01}",
        "{\"local_comm_res_path\":\"\xff\xfe\"}",
        "{\"comm_resource_config.protocol_desc\":\"\"}",
        "{\"comm_resource_config.protocol_desc\":\"ib:device\"}",
        "{\"comm_resource_config.protocol_desc\":\"roce\"}",
        "{\"comm_resource_config.protocol_desc\":[]}",
        "{\"comm_resource_config.protocol_desc\":[1]}",
        "{\"comm_resource_config.protocol_desc\":7}",
        "{\"comm_resource_config.listen_port\":0}",
        "{\"comm_resource_config.listen_port\":65536}",
        "{\"comm_resource_config.listen_port\":\"26000\"}",
        "{\"comm_resource_config.listen_port\":26000.5}",
        "{\"comm_resource_config.qos\":8}",
        "{\"comm_resource_config.qos\":-1}",
        "{\"comm_resource_config.max_active_channels\":0}",
        "{\"comm_resource_config.max_active_channels\":4294967296}",
        "{\"comm_resource_config.max_active_channels\":99999999999999999999999}",
        "{\"local_comm_res_path\":\"\"}",
        "{\"local_comm_res_path\":3}",
        "{\"fabric_memory\":3}",
        "{\"fabric_memory\":{\"bogus\":1}}",
        "{\"fabric_memory.enable_aicpu_unfold\":1}",
        "{\"connect_pool.bogus\":1}",
        "{\"comm_resource_config.bogus\":1}",
        "{\"Bogus\":1}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        adxl_resource_config_t r;
        memset(&r, 0x5a, sizeof(r));
        adxl_status_t st = adxl_resource_config_parse(bad[i], &r);
        if (st != (json ? ADXL_PARAM_INVALID : ADXL_UNSUPPORTED)) fprintf(stderr, "%s\n", bad[i]);
        CHECK_STATUS(st, json ? ADXL_PARAM_INVALID : ADXL_UNSUPPORTED);
        CHECK(r.listen_port == 0x5a5a5a5a); /* nothing written */
    }
    /* Through the option: the engine's config is not touched either. */
    adxl_config_t c;
    CHECK_STATUS(parse_one("GlobalResourceConfig",
                           "{\"comm_resource_config.protocol_desc\":"
                           "\"hccs:device\",\"x\":1}",
                           &c),
                 json ? ADXL_PARAM_INVALID : ADXL_UNSUPPORTED);
    /* An empty value sets nothing, as HIXL has it. */
    CHECK_STATUS(parse_one("GlobalResourceConfig", "", &c), ADXL_SUCCESS);
}

static void test_local_comm_res(void) {
    fprintf(stderr, "-- LocalCommRes\n");
    adxl_status_t good = json ? ADXL_SUCCESS : ADXL_UNSUPPORTED;
    adxl_status_t bad = json ? ADXL_PARAM_INVALID : ADXL_UNSUPPORTED;
    adxl_config_t c;
    CHECK_STATUS(parse_one("LocalCommRes", "{\"version\":\"1.3\"}", &c), good);
    CHECK_STATUS(parse_one("adxl.LocalCommRes",
                           "{\"version\":\"1.3\",\"net_instance_id\":\"pod-a\",\"endpoint_list\":"
                           "[{\"protocol\":\"roce\",\"comm_id\":\"192.0.2.10\",\"placement\":"
                           "\"device\"}]}",
                           &c),
                 good);
    CHECK_STATUS(parse_one("LocalCommRes", "", &c), ADXL_SUCCESS);
    static const char *const refused[] = {
        "not-json",
        "{\"version\":1.3}",
        "{\"version\":\"1.3\",\"bogus\":\"x\"}",
        "{\"endpoint_list\":{}}",
        "{\"endpoint_list\":[1]}",
        "{\"endpoint_list\":[{\"protocol\":\"roce\",\"port\":\"1\"}]}",
        "{\"endpoint_list\":[{\"protocol\":5}]}",
        "[\"version\"]",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        CHECK_STATUS(parse_one("LocalCommRes", refused[i], &c), bad);

    /* From a file named by GlobalResourceConfig's local_comm_res_path, unless the option
     * itself is given. */
    char path[] = "/tmp/adxl-lcr-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    const char *content = "{\"version\":\"1.3\",\"bogus\":\"x\"}\n";
    REQUIRE(write(fd, content, strlen(content)) == (ssize_t)strlen(content));
    close(fd);
    char global[256];
    snprintf(global, sizeof(global), "{\"local_comm_res_path\":\"%s\"}", path);
    CHECK_STATUS(parse_one("GlobalResourceConfig", global, &c), bad);
    adxl_option_t both[] = {{"GlobalResourceConfig", global}, {"LocalCommRes", "{}"}};
    adxl_config_defaults(&c);
    CHECK_STATUS(adxl_config_parse(&c, both, 2), good);
    unlink(path);
    CHECK_STATUS(parse_one("GlobalResourceConfig", global, &c), bad); /* no file now */
}

static void test_fabric_mem_and_initialize(void) {
    fprintf(stderr, "-- EnableUseFabricMem, and Initialize with HIXL's keys\n");
    adxl_config_t c;
    CHECK_STATUS(parse_one("EnableUseFabricMem", "1", &c), ADXL_SUCCESS);
    CHECK(c.use_fabric_mem);
    CHECK_STATUS(parse_one("adxl.EnableUseFabricMem", "0", &c), ADXL_SUCCESS);
    CHECK(!c.use_fabric_mem);
    CHECK_STATUS(parse_one("EnableUseFabricMem", "", &c), ADXL_SUCCESS);
    CHECK_STATUS(parse_one("EnableUseFabricMem", "2", &c), ADXL_PARAM_INVALID);

    /* A whole engine: refused options leave it uninitialized, good ones initialize it. */
    adxl_engine_t *e = NULL;
    REQUIRE(adxl_engine_create(&e) == ADXL_SUCCESS);
    adxl_option_t badopt = {"GlobalResourceConfig", "{\"comm_resource_config.qos\":9}"};
    CHECK_STATUS(adxl_initialize(e, "127.0.0.1", &badopt, 1),
                 json ? ADXL_PARAM_INVALID : ADXL_UNSUPPORTED);
    CHECK(adxl_local_engine(e) == NULL);
    adxl_option_t opts[] = {
        {"GlobalResourceConfig", "{\"comm_resource_config.protocol_desc\":[\"tcp:host\"]}"},
        {"adxl.LocalCommRes", "{\"version\":\"1.3\"}"},
        {"EnableUseFabricMem", "1"},
    };
    CHECK_STATUS(adxl_initialize(e, "127.0.0.1", opts, json ? 3 : 0), ADXL_SUCCESS);
    CHECK(adxl_local_engine(e) != NULL);
    adxl_engine_destroy(e);
}

int main(void) {
    json = adxl_resource_config_supported();
    fprintf(stderr, "JSON options %s in this build\n", json ? "parsed" : "unsupported");
    test_protocols();
    test_global_values();
    test_global_bad();
    test_local_comm_res();
    test_fabric_mem_and_initialize();
    return tu_finish();
}
