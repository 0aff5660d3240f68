/*
 * adxl_initialize's options, as adxl_config_parse reads them. The input is text, one
 * option a line, "key=value" (a line without '=' gives a NULL value; the key "(null)"
 * gives a NULL key), at most 32 options. Accepted options must leave every setting
 * within its documented range, with the heartbeat at most a third of the peer timeout.
 * AuthSecretFile is left out (it reads the file system); AuthSecret is ADXL_UNSUPPORTED
 * in a build without libcrypto.
 */
#include "net/auth.h"
#include "fuzz.h"
#include "core/options.h"

#include <string.h>

#define MAX_OPTIONS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    char *text = malloc(size + 1);
    FUZZ_CHECK(text);
    memcpy(text, data, size);
    text[size] = '\0';
    adxl_option_t opts[MAX_OPTIONS];
    size_t n = 0;
    for (char *line = text; line && n < MAX_OPTIONS;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = '\0';
        char *eq = strchr(line, '=');
        if (eq) *eq++ = '\0';
        opts[n].key = strcmp(line, "(null)") == 0 ? NULL : line;
        opts[n].value = eq;
        n++;
        line = next;
    }
    bool auth = false;
    for (size_t i = 0; i < n; i++) {
        const char *k = opts[i].key;
        if (k && strncmp(k, "adxl.", 5) == 0) k += 5;
        if (k && strcmp(k, "AuthSecretFile") == 0) {
            free(text);
            return 0;
        }
        auth = auth || (k && strcmp(k, "AuthSecret") == 0);
    }
    adxl_config_t c;
    adxl_config_defaults(&c);
    adxl_status_t st = adxl_config_parse(&c, opts, n);
    FUZZ_CHECK(st == ADXL_SUCCESS || st == ADXL_PARAM_INVALID ||
               (st == ADXL_UNSUPPORTED && auth && !adxl_auth_supported()));
    if (st == ADXL_SUCCESS) {
        FUZZ_CHECK(c.pool_buffers <= 1024 && c.pool_buffer_mb <= 1024);
        FUZZ_CHECK(c.rdma_traffic_class <= 255 && c.rdma_traffic_class % 4 == 0);
        FUZZ_CHECK(c.rdma_service_level <= 7);
        FUZZ_CHECK(c.transport == ADXL_TRANSPORT_AUTO || c.transport == ADXL_TRANSPORT_TCP ||
                   c.transport == ADXL_TRANSPORT_SHM || c.transport == ADXL_TRANSPORT_UCX);
        FUZZ_CHECK(c.device_runtime == ADXL_DEVICE_RUNTIME_AUTO ||
                   c.device_runtime == ADXL_DEVICE_RUNTIME_NONE ||
                   c.device_runtime == ADXL_DEVICE_RUNTIME_CUDA ||
                   c.device_runtime == ADXL_DEVICE_RUNTIME_ASCEND);
        FUZZ_CHECK(c.shm_path == ADXL_SHM_PATH_AUTO || c.shm_path == ADXL_SHM_PATH_CMA ||
                   c.shm_path == ADXL_SHM_PATH_STAGING);
        FUZZ_CHECK(c.auth.len == 0 ||
                   (c.auth.len >= ADXL_AUTH_SECRET_MIN && c.auth.len <= ADXL_AUTH_SECRET_MAX));
        FUZZ_CHECK(c.allowed_peers.count <= ADXL_PEER_FILTER_MAX);
        FUZZ_CHECK(c.tcp_streams >= 1 && c.tcp_streams <= 16);
        FUZZ_CHECK(c.tcp_sockbuf_kb == 0 || (c.tcp_sockbuf_kb >= 64 && c.tcp_sockbuf_kb <= 65536));
        FUZZ_CHECK(c.peer_timeout_ms >= 100 && c.peer_timeout_ms <= 3600000);
        FUZZ_CHECK(c.heartbeat_ms >= 33 && c.heartbeat_ms <= 60000);
        FUZZ_CHECK(c.heartbeat_ms <= c.peer_timeout_ms / 3);
        /* Every key given was a known one (with or without "adxl."). */
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(opts[i].key && opts[i].value);
    }
    free(text);
    return 0;
}
