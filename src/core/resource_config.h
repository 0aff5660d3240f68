/*
 * HIXL's JSON-valued options, parsed and checked: GlobalResourceConfig (which protocols
 * to use, and settings adxl validates but has no use for) and LocalCommRes (a description
 * of the NPU's own endpoints, which adxl only validates). Pure functions over the text,
 * with json-c; in a build without json-c they answer ADXL_UNSUPPORTED.
 *
 * Every refusal is ADXL_PARAM_INVALID with a log line naming the key (malformed JSON, a
 * value of the wrong type or out of range, an unknown key), and leaves *out untouched.
 */
#ifndef ADXL_RESOURCE_CONFIG_H
#define ADXL_RESOURCE_CONFIG_H

#include <adxl/adxl.h>
#include <stdbool.h>
#include <stdint.h>

/* The protocol families of comm_resource_config.protocol_desc adxl serves. */
enum {
    ADXL_PROTO_HCCS = 1u << 0, /* hccs:device: the same-host path (shm) */
    ADXL_PROTO_ROCE = 1u << 1, /* roce:device, roce:host: UCX */
    ADXL_PROTO_TCP = 1u << 2,  /* tcp:host, tcp:device (adxl's own): TCP */
};

#define ADXL_RESOURCE_PATH_MAX 4096

typedef struct {
    uint32_t protocols;          /* ADXL_PROTO_* bits; 0: protocol_desc not given */
    int32_t listen_port;         /* -1: not given */
    int32_t qos;                 /* -1: not given */
    int64_t max_active_channels; /* -1: not given */
    char local_comm_res_path[ADXL_RESOURCE_PATH_MAX]; /* "": not given */
} adxl_resource_config_t;

/* Whether this build parses JSON options at all. */
bool adxl_resource_config_supported(void);

/* GlobalResourceConfig: a JSON object. A protocol adxl knows but cannot serve (ub_ctp,
 * ub_rtp, uboe) is ADXL_UNSUPPORTED. */
adxl_status_t adxl_resource_config_parse(const char *text, adxl_resource_config_t *out);

/* LocalCommRes: a JSON object of version, net_instance_id and endpoint_list. */
adxl_status_t adxl_local_comm_res_check(const char *text);

#endif
