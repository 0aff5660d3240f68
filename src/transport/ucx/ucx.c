/*
 * The UCX transport's engine-wide part: the UCP context and worker, the progress thread,
 * and start/stop (see ucx_internal.h for the threading rules).
 */
#include "core/clock.h"
#include "core/log.h"
#include "net/sock_io.h"
#include "net/thread_util.h"
#include "transport/ucx/ucx_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <uct/api/uct.h>
#include <unistd.h>

adxl_status_t ucx_status(ucs_status_t st) {
    switch (st) {
    case UCS_OK:
        return ADXL_SUCCESS;
    case UCS_ERR_NO_MEMORY:
    case UCS_ERR_NO_RESOURCE:
    case UCS_ERR_EXCEEDS_LIMIT:
        return ADXL_RESOURCE_EXHAUSTED;
    case UCS_ERR_TIMED_OUT:
    case UCS_ERR_ENDPOINT_TIMEOUT:
        return ADXL_TIMEOUT;
    case UCS_ERR_UNREACHABLE:
    case UCS_ERR_NOT_CONNECTED:
        return ADXL_NOT_CONNECTED;
    case UCS_ERR_UNSUPPORTED:
        return ADXL_UNSUPPORTED;
    default:
        return ADXL_FAILED;
    }
}

/* ---- Control-link message I/O ---- */

bool ucx_msg_send2(int fd, pthread_mutex_t *write_lock, uint16_t type, const void *a,
                   uint32_t a_len, const void *b, uint32_t b_len, int stop_fd, uint64_t deadline) {
    uint8_t header[UCX_MSG_HEADER];
    ucx_header_encode(header, type, a_len + b_len);
    if (write_lock) pthread_mutex_lock(write_lock);
    bool ok =
        adxl_sock_write_full(fd, header, sizeof(header), stop_fd, deadline, a_len + b_len > 0) &&
        (a_len == 0 || adxl_sock_write_full(fd, a, a_len, stop_fd, deadline, b_len > 0)) &&
        (b_len == 0 || adxl_sock_write_full(fd, b, b_len, stop_fd, deadline, false));
    if (write_lock) pthread_mutex_unlock(write_lock);
    return ok;
}

bool ucx_msg_send(int fd, pthread_mutex_t *write_lock, uint16_t type, const void *payload,
                  uint32_t length, int stop_fd, uint64_t deadline) {
    return ucx_msg_send2(fd, write_lock, type, payload, length, NULL, 0, stop_fd, deadline);
}

bool ucx_msg_recv(int fd, ucx_msg_header_t *h, uint8_t *payload, int stop_fd, uint64_t deadline,
                  bool to_target) {
    uint8_t header[UCX_MSG_HEADER];
    if (!adxl_sock_read_full(fd, header, sizeof(header), stop_fd, deadline)) return false;
    if (!ucx_header_decode(header, h)) {
        LOG_WARN("UCX control link: bad message header (magic or length %u)", h->length);
        return false;
    }
    if (h->length > 0 && !adxl_sock_read_full(fd, payload, h->length, stop_fd, deadline))
        return false;
    if (!ucx_msg_valid(h->type, payload, h->length, to_target)) {
        LOG_WARN("UCX control link: malformed or unexpected message (type %u, %u bytes)", h->type,
                 h->length);
        return false;
    }
    return true;
}

/* ---- Finished operations ---- */

void ucx_op_release_request(ucx_op_t *op, void *request, ucs_status_t status) {
    if (status != UCS_OK && op->status == UCS_OK) op->status = status;
    if (request) ucp_request_free(request);
    if (--op->pending == 0) ucx_op_finish(op);
}

ucx_op_t *ucx_take_finished(ucx_transport_t *t) {
    ucx_op_t *list = t->done_head;
    t->done_head = NULL;
    return list;
}

void ucx_complete_finished(ucx_transport_t *t, ucx_op_t *list) {
    /* The list is newest first: complete in posting order. */
    ucx_op_t *ordered = NULL;
    while (list) {
        ucx_op_t *next = list->done_next;
        list->done_next = ordered;
        ordered = list;
        list = next;
    }
    while (ordered) {
        ucx_op_t *op = ordered;
        ordered = op->done_next;
        if (op->resubmit) {
            ucx_repost(op);
            continue;
        }
        adxl_status_t st = op->override != ADXL_SUCCESS ? op->override : ucx_status(op->status);
        if (st == ADXL_SUCCESS)
            adxl_engine_count(t->engine, offsetof(adxl_stats_t, bytes_ucx), op->chunk->bytes);
        adxl_chunk_complete(op->chunk, st);
        free(op);
    }
}

void ucx_run_finished(ucx_transport_t *t) {
    pthread_mutex_lock(&t->worker_lock);
    ucx_op_t *list = ucx_take_finished(t);
    pthread_mutex_unlock(&t->worker_lock);
    ucx_complete_finished(t, list);
}

/* ---- Progress ---- */

static void *progress_main(void *arg) {
    ucx_transport_t *t = arg;
    while (!atomic_load(&t->stopping)) {
        pthread_mutex_lock(&t->worker_lock);
        while (ucp_worker_progress(t->worker) != 0) {
        }
        ucs_status_t armed = ucp_worker_arm(t->worker);
        ucx_op_t *finished = ucx_take_finished(t);
        pthread_mutex_unlock(&t->worker_lock);
        ucx_complete_finished(t, finished);
        if (armed == UCS_ERR_BUSY) continue;
        /* Idle: sleep until the fabric or a poster has news. With operations in flight a
         * short tick as well, since not every UCX transport signals every completion. */
        int timeout = atomic_load(&t->ops_in_flight) > 0 ? 1 : -1;
        struct pollfd pfd[2] = {{.fd = t->event_fd, .events = POLLIN},
                                {.fd = t->wake_fd, .events = POLLIN}};
        int rc = poll(pfd, 2, timeout);
        if (rc > 0 && (pfd[1].revents & POLLIN)) adxl_wake_drain(t->wake_fd);
    }
    return NULL;
}

/* ---- Start and stop ---- */

/* Whether UCX sees an RDMA device here: its InfiniBand component (verbs: InfiniBand,
 * RoCE, iWARP, soft-RoCE) lists at least one memory domain. */
static bool detect_rdma(void) {
    uct_component_h *components;
    unsigned count;
    if (uct_query_components(&components, &count) != UCS_OK) return false;
    bool rdma = false;
    for (unsigned i = 0; i < count && !rdma; i++) {
        uct_component_attr_t attr = {.field_mask = UCT_COMPONENT_ATTR_FIELD_NAME |
                                                   UCT_COMPONENT_ATTR_FIELD_MD_RESOURCE_COUNT};
        if (uct_component_query(components[i], &attr) != UCS_OK) continue;
        rdma = strcmp(attr.name, "ib") == 0 && attr.md_resource_count > 0;
    }
    uct_release_component_list(components);
    return rdma;
}

/* RdmaTrafficClass and RdmaServiceLevel become UCX's IB_TRAFFIC_CLASS and IB_SL, unless
 * the environment sets those (an operator's UCX_* wins over the application's default). */
static void apply_ib_settings(ucp_config_t *config, const adxl_config_t *c) {
    struct {
        const char *name, *env;
        uint32_t value;
    } items[] = {{"IB_TRAFFIC_CLASS", "UCX_IB_TRAFFIC_CLASS", c->rdma_traffic_class},
                 {"IB_SL", "UCX_IB_SL", c->rdma_service_level}};
    for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
        if (getenv(items[i].env)) continue;
        char value[16];
        snprintf(value, sizeof(value), "%u", items[i].value);
        ucs_status_t st = ucp_config_modify(config, items[i].name, value);
        if (st != UCS_OK)
            LOG_WARN("UCX does not take %s=%s: %s", items[i].name, value, ucs_status_string(st));
    }
}

static adxl_status_t open_worker(ucx_transport_t *t) {
    ucp_config_t *config;
    if (ucp_config_read(NULL, NULL, &config) != UCS_OK) return ADXL_FAILED;
    /* Only with a device: UCX warns (on stdout) of settings no transport took. */
    if (t->has_rdma_device) apply_ib_settings(config, t->config);
    ucp_params_t params = {
        .field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_MT_WORKERS_SHARED,
        .features = UCP_FEATURE_RMA | UCP_FEATURE_WAKEUP,
        .mt_workers_shared = 1,
    };
    ucs_status_t st = ucp_init(&params, config, &t->context);
    ucp_config_release(config);
    if (st != UCS_OK) {
        LOG_ERROR("UCX: ucp_init: %s", ucs_status_string(st));
        t->context = NULL;
        return ADXL_FAILED;
    }
    ucp_worker_params_t wparams = {.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE,
                                   .thread_mode = UCS_THREAD_MODE_SERIALIZED};
    st = ucp_worker_create(t->context, &wparams, &t->worker);
    if (st == UCS_OK) st = ucp_worker_get_efd(t->worker, &t->event_fd);
    if (st == UCS_OK)
        st = ucp_worker_get_address(t->worker, (ucp_address_t **)&t->address, &t->address_len);
    if (st != UCS_OK) {
        LOG_ERROR("UCX: worker set-up: %s", ucs_status_string(st));
        return ADXL_FAILED;
    }
    /* A UCX built with CUDA support maps device memory and moves it itself; without it a
     * device region cannot be reached one-sided at all. */
    ucp_context_attr_t attr = {.field_mask = UCP_ATTR_FIELD_MEMORY_TYPES};
    t->cuda_memory = ucp_context_query(t->context, &attr) == UCS_OK &&
                     (attr.memory_types & UCS_BIT(UCS_MEMORY_TYPE_CUDA));
    if (t->address_len > UCX_ADDRESS_MAX) {
        LOG_ERROR("UCX: the worker address (%zu bytes) exceeds %u", t->address_len,
                  UCX_ADDRESS_MAX);
        return ADXL_UNSUPPORTED;
    }
    return ADXL_SUCCESS;
}

/* Buffered chunks move through the transit pool: one mapping for all of it. */
static void map_pool(ucx_transport_t *t) {
    adxl_engine_transit_memory(t->engine, &t->pool_base, &t->pool_len);
    if (!t->pool_base || t->pool_len == 0) return;
    ucp_mem_map_params_t mp = {.field_mask =
                                   UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH,
                               .address = t->pool_base,
                               .length = t->pool_len};
    if (ucp_mem_map(t->context, &mp, &t->pool_memh) != UCS_OK) {
        LOG_WARN("UCX: cannot map the transit pool; UCX registers its buffers as they are used");
        t->pool_memh = NULL;
    }
}

/* Lets the worker send what its own endpoints (the ones UCX opened to answer peers'
 * wire-up) still have queued before it is destroyed: UCX 1.13 asserts when it purges a
 * queued wire-up reply at destruction. Until it has been quiet for 50 ms, 500 ms at most. */
static void settle(ucx_transport_t *t) {
    if (!t->worker) return;
    uint64_t until = adxl_now_ns() + 500 * ADXL_NS_PER_MS, quiet_since = adxl_now_ns();
    for (uint64_t now = quiet_since; now < until; now = adxl_now_ns()) {
        if (ucp_worker_progress(t->worker) != 0) {
            quiet_since = now;
        } else if (now - quiet_since >= 50 * ADXL_NS_PER_MS) {
            break;
        } else {
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
        }
    }
}

void *ucx_stack_take_oldest(adxl_region_set_t *set, adxl_region_t *range) {
    ucx_stacked_t *oldest = range->tag, *newer = NULL;
    while (oldest->older) {
        newer = oldest;
        oldest = oldest->older;
    }
    if (newer)
        newer->older = NULL;
    else
        adxl_region_set_remove(set, range);
    return oldest;
}

static bool unmap_region(adxl_region_t *range, void *transport) {
    ucx_transport_t *t = transport;
    for (ucx_region_t *r = range->tag, *older; r; r = older) {
        older = (ucx_region_t *)r->stack.older;
        ucp_rkey_buffer_release(r->rkey_buf);
        ucp_mem_unmap(t->context, r->memh);
        free(r->holders);
        free(r);
    }
    return true;
}

static void ucx_stop(adxl_transport_t *transport) {
    ucx_transport_t *t = (ucx_transport_t *)transport;
    atomic_store(&t->stopping, true);
    ucx_target_stop(t);
    if (t->progress_started) {
        adxl_wake(t->wake_fd);
        pthread_join(t->progress_thread, NULL);
    }
    ucx_run_finished(t);
    settle(t);
    adxl_region_set_each(&t->regions, unmap_region, t);
    adxl_region_set_free(&t->regions);
    if (t->pool_memh) ucp_mem_unmap(t->context, t->pool_memh);
    if (t->address) ucp_worker_release_address(t->worker, t->address);
    if (t->worker) ucp_worker_destroy(t->worker);
    if (t->context) ucp_cleanup(t->context);
    if (t->wake_fd >= 0) close(t->wake_fd);
    pthread_mutex_destroy(&t->worker_lock);
    pthread_mutex_destroy(&t->regions_lock);
    pthread_cond_destroy(&t->regions_cond);
    adxl_served_destroy(&t->served);
    free(t);
}

static adxl_status_t ucx_start(adxl_engine_t *engine, const adxl_engine_addr_t *listen_addr,
                               char *bound_name, adxl_transport_t **out) {
    ucx_transport_t *t = calloc(1, sizeof(*t));
    if (!t) return ADXL_RESOURCE_EXHAUSTED;
    t->engine = engine;
    t->config = adxl_engine_config(engine);
    t->event_fd = -1;
    t->wake_fd = adxl_wake_fd_new();
    t->listen_fd = -1;
    t->stop_fd = -1;
    atomic_init(&t->stopping, false);
    atomic_init(&t->ops_in_flight, 0);
    pthread_mutex_init(&t->worker_lock, NULL);
    ucx_target_init(t);
    bool device = detect_rdma();
    /* For tests of auto's choice on hosts without a device: claim one, change nothing. */
    const char *assume = getenv("ADXL_UCX_ASSUME_RDMA");
    t->rdma = device || (assume && strcmp(assume, "1") == 0);
    t->has_rdma_device = device;
    if (t->config->transport == ADXL_TRANSPORT_AUTO && !t->rdma) {
        /* auto takes UCX only between RDMA hosts: without a device, no need to map every
         * registration for it. */
        ucx_stop((adxl_transport_t *)t);
        return ADXL_UNSUPPORTED;
    }
    adxl_status_t st = t->wake_fd >= 0 ? open_worker(t) : ADXL_RESOURCE_EXHAUSTED;
    if (st == ADXL_SUCCESS) map_pool(t);
    uint16_t port = 0;
    if (st == ADXL_SUCCESS && listen_addr->has_port) st = ucx_target_listen(t, listen_addr, &port);
    if (st == ADXL_SUCCESS) {
        t->progress_started = adxl_thread_start(&t->progress_thread, progress_main, t);
        if (!t->progress_started) st = ADXL_RESOURCE_EXHAUSTED;
    }
    if (st != ADXL_SUCCESS) {
        ucx_stop((adxl_transport_t *)t);
        return st;
    }
    (void)bound_name; /* peers learn the control port from the probe (ucx_advertise) */
    LOG_INFO("UCX transport up (control port %u, RDMA device %s)", (unsigned)port,
             t->rdma ? "present" : "absent");
    *out = (adxl_transport_t *)t;
    return ADXL_SUCCESS;
}

static void ucx_advertise(adxl_transport_t *transport, adxl_host_facts_t *facts) {
    ucx_transport_t *t = (ucx_transport_t *)transport;
    uint16_t port = 0;
    if (t->listen_fd >= 0) {
        struct sockaddr_storage bound;
        socklen_t len = sizeof(bound);
        if (getsockname(t->listen_fd, (struct sockaddr *)&bound, &len) == 0)
            port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                     : ((struct sockaddr_in *)&bound)->sin_port);
    }
    uint8_t offer[UCX_OFFER_SIZE];
    ucx_offer_encode(offer, port, t->rdma);
    adxl_host_facts_offer(facts, "ucx", offer, sizeof(offer));
}

/* Transport=auto sends a peer on another host over UCX when both ends have an RDMA
 * device (over TCP alone, the TCP transport is faster). */
static bool ucx_suits(adxl_transport_t *transport, const adxl_host_facts_t *local,
                      const adxl_host_facts_t *remote) {
    (void)local;
    ucx_transport_t *t = (ucx_transport_t *)transport;
    uint16_t port = 0;
    bool rdma = false;
    return t->rdma && ucx_offer_decode(remote, &port, &rdma) && rdma;
}

const adxl_transport_ops_t adxl_ucx_transport = {
    .name = "ucx",
    .max_chunk_segments = UCX_MAX_CHUNK_SEGMENTS,
    .buffered_in_place = false,
    .start = ucx_start,
    .stop = ucx_stop,
    .connect = ucx_connect,
    .shutdown = ucx_shutdown,
    .destroy = ucx_destroy,
    .post = ucx_post,
    .publish = ucx_publish,
    .probe = NULL,
    .advertise = ucx_advertise,
    .abandon = ucx_abandon,
    .learn_regions = ucx_learn_regions,
    .poll = ucx_poll,
    .suits = ucx_suits,
};
