/* GlobalResourceConfig and LocalCommRes (resource_config.h), with json-c. */
#include "core/resource_config.h"

#include "core/log.h"

#include <errno.h>
#include <string.h>

#ifndef ADXL_HAVE_JSONC

bool adxl_resource_config_supported(void) {
    return false;
}

adxl_status_t adxl_resource_config_parse(const char *text, adxl_resource_config_t *out) {
    (void)text;
    (void)out;
    LOG_ERROR("option GlobalResourceConfig: this build has no JSON parser (json-c was not found)");
    return ADXL_UNSUPPORTED;
}

adxl_status_t adxl_local_comm_res_check(const char *text) {
    (void)text;
    LOG_ERROR("option LocalCommRes: this build has no JSON parser (json-c was not found)");
    return ADXL_UNSUPPORTED;
}

#else

#include <json-c/json.h>

bool adxl_resource_config_supported(void) {
    return true;
}

/* The whole text as one strict JSON value (no trailing bytes), or NULL. */
static json_object *parse_strict(const char *option, const char *text) {
    json_tokener *tok = json_tokener_new();
    if (!tok) return NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    size_t len = strlen(text);
    json_object *root = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error err = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!root || err != json_tokener_success) {
        LOG_ERROR("option %s: malformed JSON (%s)", option, json_tokener_error_desc(err));
        json_object_put(root);
        return NULL;
    }
    for (; used < len; used++) {
        if (!strchr(" \t\r\n", text[used])) {
            LOG_ERROR("option %s: malformed JSON (text after the value)", option);
            json_object_put(root);
            return NULL;
        }
    }
    return root;
}

static bool int_in(json_object *v, int64_t min, int64_t max, int64_t *out) {
    if (!json_object_is_type(v, json_type_int)) return false;
    errno = 0;
    int64_t n = json_object_get_int64(v);
    if (errno != 0 || n < min || n > max) return false;
    *out = n;
    return true;
}

/* One protocol:placement; sets its ADXL_PROTO_* bit. */
static adxl_status_t add_protocol(const char *desc, uint32_t *protocols) {
    static const struct {
        const char *desc;
        uint32_t bit; /* 0: known to HIXL, not served here */
    } known[] = {
        {"hccs:device", ADXL_PROTO_HCCS},
        {"roce:device", ADXL_PROTO_ROCE},
        {"roce:host", ADXL_PROTO_ROCE},
        {"tcp:host", ADXL_PROTO_TCP},
        {"tcp:device", ADXL_PROTO_TCP},
        {"ub_ctp:device", 0},
        {"ub_ctp:host", 0},
        {"ub_tp:device", 0},
        {"ub_tp:host", 0},
        {"ub_rtp:device", 0},
        {"uboe:device", 0},
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(desc, known[i].desc) != 0) continue;
        if (!known[i].bit) {
            LOG_ERROR("option GlobalResourceConfig: comm_resource_config.protocol_desc '%s' "
                      "needs Ascend's UB fabric, which adxl cannot drive",
                      desc);
            return ADXL_UNSUPPORTED;
        }
        *protocols |= known[i].bit;
        return ADXL_SUCCESS;
    }
    return PARAM_INVALID("option GlobalResourceConfig: comm_resource_config.protocol_desc: "
                         "unknown protocol '%s' (expected hccs:device, roce:device, roce:host, "
                         "tcp:host or tcp:device)",
                         desc);
}

static adxl_status_t parse_protocols(json_object *v, uint32_t *protocols) {
    if (json_object_is_type(v, json_type_string))
        return add_protocol(json_object_get_string(v), protocols);
    if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0)
        return PARAM_INVALID("option GlobalResourceConfig: comm_resource_config.protocol_desc "
                             "must be a string or a non-empty list of strings");
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        json_object *item = json_object_array_get_idx(v, i);
        if (!json_object_is_type(item, json_type_string))
            return PARAM_INVALID("option GlobalResourceConfig: comm_resource_config."
                                 "protocol_desc[%zu] is not a string",
                                 i);
        adxl_status_t st = add_protocol(json_object_get_string(item), protocols);
        if (st != ADXL_SUCCESS) return st;
    }
    return ADXL_SUCCESS;
}

/* HIXL's fabric-memory and connect-pool settings: checked for type, then ignored (adxl
 * has neither). */
static bool ignored_setting(const char *key, json_object *v) {
    static const char *const int_keys[] = {
        "max_capacity",
        "start_address",
        "task_stream_num",
        "connect_pool.thread_num",
        "connect_pool.task_queue_capacity",
        "fabric_memory.max_capacity",
        "fabric_memory.start_address",
        "fabric_memory.task_stream_num",
    };
    for (size_t i = 0; i < sizeof(int_keys) / sizeof(int_keys[0]); i++)
        if (strcmp(key, int_keys[i]) == 0) return json_object_is_type(v, json_type_int);
    if (strcmp(key, "enable_aicpu_unfold") == 0 ||
        strcmp(key, "fabric_memory.enable_aicpu_unfold") == 0)
        return json_object_is_type(v, json_type_boolean);
    return false;
}

static bool is_ignored_key(const char *key) {
    return strncmp(key, "connect_pool.", 13) == 0 || strncmp(key, "fabric_memory.", 14) == 0;
}

static adxl_status_t parse_fabric_memory(json_object *obj) {
    if (!json_object_is_type(obj, json_type_object))
        return PARAM_INVALID("option GlobalResourceConfig: fabric_memory must be an object");
    json_object_object_foreach(obj, key, v) {
        if (!ignored_setting(key, v))
            return PARAM_INVALID("option GlobalResourceConfig: fabric_memory.%s: unknown key or "
                                 "wrong type",
                                 key);
    }
    return ADXL_SUCCESS;
}

static adxl_status_t parse_global_key(const char *key, json_object *v, adxl_resource_config_t *c) {
    int64_t n;
    if (strcmp(key, "comm_resource_config.protocol_desc") == 0)
        return parse_protocols(v, &c->protocols);
    if (strcmp(key, "comm_resource_config.listen_port") == 0) {
        if (!int_in(v, 1, 65535, &n))
            return PARAM_INVALID("option GlobalResourceConfig: %s must be an integer port, 1 to "
                                 "65535",
                                 key);
        c->listen_port = (int32_t)n;
    } else if (strcmp(key, "comm_resource_config.qos") == 0) {
        if (!int_in(v, 0, 7, &n))
            return PARAM_INVALID("option GlobalResourceConfig: %s must be an integer, 0 to 7", key);
        c->qos = (int32_t)n;
    } else if (strcmp(key, "comm_resource_config.max_active_channels") == 0) {
        if (!int_in(v, 1, UINT32_MAX, &n))
            return PARAM_INVALID("option GlobalResourceConfig: %s must be an integer, 1 to %u", key,
                                 UINT32_MAX);
        c->max_active_channels = n;
    } else if (strcmp(key, "local_comm_res_path") == 0) {
        const char *path =
            json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
        if (!path || !*path || strlen(path) >= sizeof(c->local_comm_res_path))
            return PARAM_INVALID("option GlobalResourceConfig: %s must be a non-empty file path",
                                 key);
        strcpy(c->local_comm_res_path, path);
    } else if (strcmp(key, "fabric_memory") == 0) {
        return parse_fabric_memory(v);
    } else if (!is_ignored_key(key) || !ignored_setting(key, v)) {
        return PARAM_INVALID("option GlobalResourceConfig: unknown key '%s' (or a wrong type)",
                             key);
    }
    return ADXL_SUCCESS;
}

adxl_status_t adxl_resource_config_parse(const char *text, adxl_resource_config_t *out) {
    json_object *root = parse_strict("GlobalResourceConfig", text);
    if (!root) return ADXL_PARAM_INVALID;
    adxl_status_t st = ADXL_SUCCESS;
    adxl_resource_config_t c = {.listen_port = -1, .qos = -1, .max_active_channels = -1};
    if (!json_object_is_type(root, json_type_object)) {
        st = PARAM_INVALID("option GlobalResourceConfig: must be a JSON object");
    } else {
        json_object_object_foreach(root, key, v) {
            st = parse_global_key(key, v, &c);
            if (st != ADXL_SUCCESS) break;
        }
    }
    json_object_put(root);
    if (st == ADXL_SUCCESS) *out = c;
    return st;
}

/* Every key of obj is one of keys[] and a string, except endpoint_list (when allowed). */
static adxl_status_t check_strings(json_object *obj, const char *where, const char *const *keys,
                                   size_t num_keys) {
    json_object_object_foreach(obj, key, v) {
        bool known = false;
        for (size_t i = 0; i < num_keys; i++)
            known = known || strcmp(key, keys[i]) == 0;
        if (!known) return PARAM_INVALID("option LocalCommRes: %sunknown key '%s'", where, key);
        if (!json_object_is_type(v, json_type_string))
            return PARAM_INVALID("option LocalCommRes: %s%s must be a string", where, key);
    }
    return ADXL_SUCCESS;
}

static adxl_status_t check_local_comm_res(json_object *root) {
    static const char *const top[] = {"version", "net_instance_id"};
    static const char *const endpoint[] = {"protocol", "comm_id", "placement"};
    if (!json_object_is_type(root, json_type_object))
        return PARAM_INVALID("option LocalCommRes: must be a JSON object");
    json_object *list = NULL;
    if (json_object_object_get_ex(root, "endpoint_list", &list)) {
        if (!json_object_is_type(list, json_type_array))
            return PARAM_INVALID("option LocalCommRes: endpoint_list must be a list");
        for (size_t i = 0; i < json_object_array_length(list); i++) {
            json_object *e = json_object_array_get_idx(list, i);
            if (!json_object_is_type(e, json_type_object))
                return PARAM_INVALID("option LocalCommRes: endpoint_list[%zu] must be an object",
                                     i);
            adxl_status_t st = check_strings(e, "endpoint_list[]: ", endpoint, 3);
            if (st != ADXL_SUCCESS) return st;
        }
        json_object_object_del(root, "endpoint_list");
    }
    return check_strings(root, "", top, 2);
}

adxl_status_t adxl_local_comm_res_check(const char *text) {
    json_object *root = parse_strict("LocalCommRes", text);
    if (!root) return ADXL_PARAM_INVALID;
    adxl_status_t st = check_local_comm_res(root);
    json_object_put(root);
    return st;
}

#endif
