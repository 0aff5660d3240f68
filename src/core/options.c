#include "core/options.h"

#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

static bool parse_transport(const char *text, adxl_transport_kind_t *out) {
    if (strcmp(text, "auto") == 0)
        *out = ADXL_TRANSPORT_AUTO;
    else if (strcmp(text, "tcp") == 0)
        *out = ADXL_TRANSPORT_TCP;
    else if (strcmp(text, "shm") == 0)
        *out = ADXL_TRANSPORT_SHM;
    else if (strcmp(text, "ucx") == 0)
        *out = ADXL_TRANSPORT_UCX;
    else
        return false;
    return true;
}

static bool parse_shm_path(const char *text, adxl_shm_path_t *out) {
    if (strcmp(text, "auto") == 0)
        *out = ADXL_SHM_PATH_AUTO;
    else if (strcmp(text, "cma") == 0)
        *out = ADXL_SHM_PATH_CMA;
    else if (strcmp(text, "staging") == 0)
        *out = ADXL_SHM_PATH_STAGING;
    else
        return false;
    return true;
}

void adxl_config_defaults(adxl_config_t *config) {
    *config = (adxl_config_t){
        .pool_buffers = 4,
        .pool_buffer_mb = 8,
        .auto_connect = false,
        .rdma_traffic_class = 132,
        .rdma_service_level = 4,
        .transport = ADXL_TRANSPORT_AUTO,
        .tcp_streams = 4,
        .tcp_sockbuf_kb = 4096,
        .heartbeat_ms = 1000,
        .peer_timeout_ms = 5000,
        .allow_unregistered = false,
        .resources = {.listen_port = -1, .qos = -1, .max_active_channels = -1},
    };
    const char *transport = getenv("ADXL_TRANSPORT");
    if (transport && *transport && !parse_transport(transport, &config->transport))
        LOG_WARN("ignoring ADXL_TRANSPORT='%s': expected auto, tcp, shm or ucx", transport);
    const char *runtime = getenv("ADXL_DEVICE_RUNTIME");
    if (runtime && *runtime && !adxl_device_runtime_parse(runtime, &config->device_runtime))
        LOG_WARN("ignoring ADXL_DEVICE_RUNTIME='%s': expected auto, none, cuda or ascend", runtime);
    const char *path = getenv("ADXL_SHM_PATH");
    if (path && *path && !parse_shm_path(path, &config->shm_path))
        LOG_WARN("ignoring ADXL_SHM_PATH='%s': expected auto, cma or staging", path);
}

/* A decimal unsigned integer with nothing around it, within [min, max]. */
static bool parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out) {
    if (text[0] < '0' || text[0] > '9') return false;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) return false;
    *out = (uint32_t)v;
    return true;
}

static bool parse_bool(const char *text, bool *out) {
    if (strcmp(text, "0") == 0 || strcmp(text, "1") == 0) {
        *out = text[0] == '1';
        return true;
    }
    return false;
}

static bool parse_pool(const char *text, adxl_config_t *config) {
    const char *colon = strchr(text, ':');
    if (!colon || colon == text || colon[1] == '\0') return false;
    char num[16];
    size_t n = (size_t)(colon - text);
    if (n >= sizeof(num)) return false;
    memcpy(num, text, n);
    num[n] = '\0';
    uint32_t count, size_mb;
    if (!parse_u32(num, 0, 1024, &count) || !parse_u32(colon + 1, 0, 1024, &size_mb)) return false;
    /* Either one zero turns the pool off, as "0:0" does. */
    config->pool_buffers = count;
    config->pool_buffer_mb = size_mb;
    return true;
}

static bool parse_traffic_class(const char *text, uint32_t *out) {
    uint32_t v;
    if (!parse_u32(text, 0, 255, &v) || v % 4 != 0) return false;
    *out = v;
    return true;
}

static bool parse_sockbuf(const char *text, uint32_t *out) {
    uint32_t v;
    if (!parse_u32(text, 0, 65536, &v) || (v != 0 && v < 64)) return false;
    *out = v;
    return true;
}

static bool parse_secret(const char *text, size_t len, adxl_auth_secret_t *out) {
    if (len < ADXL_AUTH_SECRET_MIN || len > ADXL_AUTH_SECRET_MAX) return false;
    memcpy(out->bytes, text, len);
    out->len = len;
    return true;
}

/* The whole file is the secret, less one trailing newline (what `echo` leaves). */
static bool read_secret_file(const char *path, adxl_auth_secret_t *out) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char buf[ADXL_AUTH_SECRET_MAX + 2];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
        if (len == sizeof(buf)) break;
    }
    close(fd);
    if (len > 0 && buf[len - 1] == '\n') len--;
    bool ok = len <= ADXL_AUTH_SECRET_MAX && parse_secret(buf, len, out);
    memset(buf, 0, sizeof(buf));
    return ok;
}

/* The transport comm_resource_config.protocol_desc asks for: one family forces its
 * transport; several leave the choice to auto, which picks among them per peer. */
static adxl_transport_kind_t transport_for(uint32_t protocols) {
    switch (protocols) {
    case ADXL_PROTO_HCCS:
        return ADXL_TRANSPORT_SHM;
    case ADXL_PROTO_ROCE:
        return ADXL_TRANSPORT_UCX;
    case ADXL_PROTO_TCP:
        return ADXL_TRANSPORT_TCP;
    default:
        return ADXL_TRANSPORT_AUTO;
    }
}

static adxl_status_t apply_resource_config(adxl_config_t *c, const char *value) {
    if (!*value) return ADXL_SUCCESS; /* as HIXL: an empty value sets nothing */
    adxl_resource_config_t parsed;
    adxl_status_t st = adxl_resource_config_parse(value, &parsed);
    if (st != ADXL_SUCCESS) return st;
    c->resources = parsed;
    if (parsed.protocols) c->transport = transport_for(parsed.protocols);
    return ADXL_SUCCESS;
}

static adxl_status_t apply_local_comm_res(adxl_config_t *c, const char *value) {
    if (!*value) return ADXL_SUCCESS;
    adxl_status_t st = adxl_local_comm_res_check(value);
    if (st == ADXL_SUCCESS) c->local_comm_res_given = true;
    return st;
}

/* LocalCommRes from GlobalResourceConfig's local_comm_res_path, where the option itself
 * was not given (as HIXL does). */
#define ADXL_LOCAL_COMM_RES_MAX (1 << 20)
static adxl_status_t load_local_comm_res(adxl_config_t *c) {
    const char *path = c->resources.local_comm_res_path;
    if (!path[0] || c->local_comm_res_given) return ADXL_SUCCESS;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *text = fd >= 0 ? malloc(ADXL_LOCAL_COMM_RES_MAX + 1) : NULL;
    size_t len = 0;
    ssize_t n = 0;
    while (text && len < ADXL_LOCAL_COMM_RES_MAX &&
           ((n = read(fd, text + len, ADXL_LOCAL_COMM_RES_MAX - len)) > 0 ||
            (n < 0 && errno == EINTR)))
        len += n > 0 ? (size_t)n : 0;
    if (fd >= 0) close(fd);
    adxl_status_t st;
    if (!text || n < 0 || len == ADXL_LOCAL_COMM_RES_MAX)
        st = PARAM_INVALID("GlobalResourceConfig: local_comm_res_path '%s' is not a readable "
                           "file under %d bytes",
                           path, ADXL_LOCAL_COMM_RES_MAX);
    else {
        text[len] = '\0';
        st = apply_local_comm_res(c, text);
    }
    free(text);
    return st;
}

static adxl_status_t apply_option(adxl_config_t *c, const char *key, const char *value) {
    bool ok;
    if (strcmp(key, "BufferPool") == 0)
        ok = parse_pool(value, c);
    else if (strcmp(key, "AutoConnect") == 0)
        ok = parse_bool(value, &c->auto_connect);
    else if (strcmp(key, "RdmaTrafficClass") == 0)
        ok = parse_traffic_class(value, &c->rdma_traffic_class);
    else if (strcmp(key, "RdmaServiceLevel") == 0)
        ok = parse_u32(value, 0, 7, &c->rdma_service_level);
    else if (strcmp(key, "Transport") == 0)
        ok = parse_transport(value, &c->transport);
    else if (strcmp(key, "ShmPath") == 0)
        ok = parse_shm_path(value, &c->shm_path);
    else if (strcmp(key, "TcpStreams") == 0)
        ok = parse_u32(value, 1, ADXL_TCP_STREAMS_MAX, &c->tcp_streams);
    else if (strcmp(key, "TcpSocketBufferKB") == 0)
        ok = parse_sockbuf(value, &c->tcp_sockbuf_kb);
    else if (strcmp(key, "HeartbeatIntervalMs") == 0)
        ok = parse_u32(value, 50, 60000, &c->heartbeat_ms);
    else if (strcmp(key, "PeerTimeoutMs") == 0)
        ok = parse_u32(value, 100, 3600000, &c->peer_timeout_ms);
    else if (strcmp(key, "AllowUnregisteredMemory") == 0)
        ok = parse_bool(value, &c->allow_unregistered);
    else if (strcmp(key, "DeviceRuntime") == 0)
        ok = adxl_device_runtime_parse(value, &c->device_runtime);
    else if (strcmp(key, "GlobalResourceConfig") == 0)
        return apply_resource_config(c, value);
    else if (strcmp(key, "LocalCommRes") == 0)
        return apply_local_comm_res(c, value);
    else if (strcmp(key, "EnableUseFabricMem") == 0)
        ok = !*value || parse_bool(value, &c->use_fabric_mem);
    else if (strcmp(key, "AllowedPeers") == 0)
        ok = adxl_peer_filter_parse(value, &c->allowed_peers);
    else if (strcmp(key, "AuthSecret") == 0 || strcmp(key, "AuthSecretFile") == 0) {
        if (!adxl_auth_supported()) {
            LOG_ERROR("option %s: this build has no HMAC (libcrypto was not found)", key);
            return ADXL_UNSUPPORTED;
        }
        if (strcmp(key, "AuthSecret") == 0) {
            ok = parse_secret(value, strlen(value), &c->auth);
            /* The value is a secret: never echo it into the log. */
            if (!ok)
                return PARAM_INVALID("option AuthSecret: %d to %d bytes expected",
                                     ADXL_AUTH_SECRET_MIN, ADXL_AUTH_SECRET_MAX);
        } else {
            ok = read_secret_file(value, &c->auth);
            if (!ok)
                return PARAM_INVALID("option AuthSecretFile: '%s' is not a readable file of %d to "
                                     "%d bytes",
                                     value, ADXL_AUTH_SECRET_MIN, ADXL_AUTH_SECRET_MAX);
        }
    } else
        return PARAM_INVALID("unknown option key '%s'", key);
    if (!ok) return PARAM_INVALID("option %s: malformed or out-of-range value '%s'", key, value);
    return ADXL_SUCCESS;
}

adxl_status_t adxl_config_parse(adxl_config_t *config, const adxl_option_t *options,
                                size_t num_options) {
    if (num_options > 0 && !options)
        return PARAM_INVALID("options is NULL but num_options is %zu", num_options);
    for (size_t i = 0; i < num_options; i++) {
        const char *key = options[i].key;
        const char *value = options[i].value;
        if (!key || !value) return PARAM_INVALID("option %zu has a NULL key or value", i);
        if (strncmp(key, "adxl.", 5) == 0) key += 5;
        adxl_status_t st = apply_option(config, key, value);
        if (st != ADXL_SUCCESS) return st;
    }
    adxl_status_t st = load_local_comm_res(config);
    if (st != ADXL_SUCCESS) return st;
    /* A peer must get several heartbeats in before it is declared dead. */
    if (config->heartbeat_ms > config->peer_timeout_ms / 3)
        config->heartbeat_ms = config->peer_timeout_ms / 3;
    return ADXL_SUCCESS;
}
