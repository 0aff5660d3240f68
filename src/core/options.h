/* The engine's configuration, parsed from the options given to adxl_initialize. */
#ifndef ADXL_OPTIONS_H
#define ADXL_OPTIONS_H

#include "net/auth.h"
#include "memory/device.h"
#include "net/peer_filter.h"
#include "core/resource_config.h"

#include <adxl/adxl.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum {
    ADXL_TRANSPORT_AUTO = 0, /* shm on this host; ucx between RDMA hosts; tcp otherwise */
    ADXL_TRANSPORT_TCP = 1,
    ADXL_TRANSPORT_SHM = 2, /* same-host peers only */
    ADXL_TRANSPORT_UCX = 3, /* every peer over UCX (builds that found it) */
} adxl_transport_kind_t;

/* Which byte path the shm transport may use as an initiator. */
typedef enum {
    ADXL_SHM_PATH_AUTO =
        0, /* mapped where the target's memory is shareable, else CMA, else staging */
    ADXL_SHM_PATH_CMA = 1, /* never mapped: CMA, else staging */
    ADXL_SHM_PATH_STAGING = 2,
} adxl_shm_path_t;

/* The most TcpStreams may be: the TCP transport sizes its links by it. */
#define ADXL_TCP_STREAMS_MAX 16

typedef struct {
    uint32_t pool_buffers;   /* BufferPool NUM; 0 turns the pool off */
    uint32_t pool_buffer_mb; /* BufferPool SIZE_MB */
    bool auto_connect;       /* AutoConnect */
    uint32_t rdma_traffic_class;
    uint32_t rdma_service_level;
    adxl_transport_kind_t transport;
    adxl_shm_path_t shm_path;
    uint32_t tcp_streams;    /* TCP connections per link, 1 to ADXL_TCP_STREAMS_MAX */
    uint32_t tcp_sockbuf_kb; /* 0: kernel default */
    uint32_t heartbeat_ms;
    uint32_t peer_timeout_ms;
    bool allow_unregistered;                   /* serve unregistered host memory as a target */
    adxl_auth_secret_t auth;                   /* AuthSecret / AuthSecretFile; len 0: none */
    adxl_peer_filter_t allowed_peers;          /* AllowedPeers: who may connect over the network */
    adxl_device_runtime_kind_t device_runtime; /* DeviceRuntime */
    /* HIXL's options (docs/BEHAVIOUR.md): GlobalResourceConfig, checked, its protocols
     * choosing the transport; LocalCommRes, checked only; EnableUseFabricMem, noted. */
    adxl_resource_config_t resources;
    bool local_comm_res_given;
    bool use_fabric_mem;
} adxl_config_t;

/* The defaults, with Transport and ShmPath taken from ADXL_TRANSPORT and ADXL_SHM_PATH in
 * the environment when set (as UCX_TLS does for UCX), so a whole program or test suite
 * can be moved onto another transport without code changes. */
void adxl_config_defaults(adxl_config_t *config);
/* Applies options over the defaults; ADXL_PARAM_INVALID names the bad one in the log. */
adxl_status_t adxl_config_parse(adxl_config_t *config, const adxl_option_t *options,
                                size_t num_options);

static inline bool adxl_config_pool_enabled(const adxl_config_t *config) {
    return config->pool_buffers > 0 && config->pool_buffer_mb > 0;
}

#endif
