/*
 * HIXL's JSON options (src/core/resource_config.c). The first byte picks the parser (even:
 * GlobalResourceConfig, odd: LocalCommRes), the rest is the option's text. Whatever the
 * text, the answer is SUCCESS, PARAM_INVALID or (GlobalResourceConfig naming a UB
 * protocol; any text in a build without json-c) UNSUPPORTED; a refusal leaves the output
 * untouched, and an accepted configuration has every field unset or in its documented
 * range. Text without a '{' can never be accepted: both options are JSON objects.
 */
#include "fuzz.h"
#include "core/resource_config.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    if (size == 0) return 0;
    char *text = malloc(size);
    FUZZ_CHECK(text);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    bool object_possible = strchr(text, '{') != NULL;
    bool json = adxl_resource_config_supported();
    if (data[0] % 2 == 1) {
        adxl_status_t st = adxl_local_comm_res_check(text);
        FUZZ_CHECK(json ? st == ADXL_SUCCESS || st == ADXL_PARAM_INVALID : st == ADXL_UNSUPPORTED);
        FUZZ_CHECK(st != ADXL_SUCCESS || object_possible);
        free(text);
        return 0;
    }
    adxl_resource_config_t c, untouched;
    memset(&c, 0xa5, sizeof(c));
    memcpy(&untouched, &c, sizeof(c));
    adxl_status_t st = adxl_resource_config_parse(text, &c);
    FUZZ_CHECK(st == ADXL_SUCCESS || st == ADXL_PARAM_INVALID || st == ADXL_UNSUPPORTED);
    FUZZ_CHECK(json || st == ADXL_UNSUPPORTED);
    if (st != ADXL_SUCCESS) {
        FUZZ_CHECK(memcmp(&c, &untouched, sizeof(c)) == 0);
    } else {
        FUZZ_CHECK(object_possible);
        FUZZ_CHECK(
            (c.protocols & ~(uint32_t)(ADXL_PROTO_HCCS | ADXL_PROTO_ROCE | ADXL_PROTO_TCP)) == 0);
        FUZZ_CHECK(c.listen_port == -1 || (c.listen_port >= 1 && c.listen_port <= 65535));
        FUZZ_CHECK(c.qos == -1 || (c.qos >= 0 && c.qos <= 7));
        FUZZ_CHECK(c.max_active_channels == -1 ||
                   (c.max_active_channels >= 1 && c.max_active_channels <= UINT32_MAX));
        FUZZ_CHECK(memchr(c.local_comm_res_path, '\0', sizeof(c.local_comm_res_path)) != NULL);
    }
    free(text);
    return 0;
}
