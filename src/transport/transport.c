/*
 * Which transport carries what. TCP always runs: the engine's name is an ip:port, and
 * its listener answers probes with this engine's host facts. A connect (unless Transport
 * is tcp) first probes the peer; a peer on this host (same boot, pid and network
 * namespace: see host_facts.h) that offers shared memory gets an shm link; a peer on
 * another host gets a UCX link when both ends have an RDMA device (or Transport is ucx,
 * which sends every peer over UCX); anyone else a TCP link. So the choice rests on facts
 * the peer states, never on its IP address.
 */
#include "transport/transport.h"

#include "core/engine.h"
#include "core/log.h"

#include <string.h>

static adxl_transport_slot_t *slot_of(adxl_engine_t *engine, const adxl_transport_ops_t *ops) {
    for (int i = 0; i < engine->ntransports; i++)
        if (engine->transports[i].ops == ops) return &engine->transports[i];
    return NULL;
}

/* Starts the UCX transport when Transport asks for it (ucx), or may use it (auto: it
 * declines without an RDMA device). Returns false only when Transport=ucx cannot have it. */
static bool start_ucx(adxl_engine_t *engine, const adxl_engine_addr_t *listen_addr,
                      adxl_status_t *status) {
    adxl_transport_kind_t kind = adxl_engine_config(engine)->transport;
    *status = ADXL_SUCCESS;
    if (kind != ADXL_TRANSPORT_UCX && kind != ADXL_TRANSPORT_AUTO) return true;
#ifdef ADXL_HAVE_UCX
    adxl_transport_slot_t *slot = &engine->transports[engine->ntransports];
    char unused[ADXL_NAME_MAX];
    adxl_status_t st = adxl_ucx_transport.start(engine, listen_addr, unused, &slot->instance);
    if (st == ADXL_SUCCESS) {
        slot->ops = &adxl_ucx_transport;
        slot->ops->advertise(slot->instance, &engine->facts);
        engine->ntransports++;
        return true;
    }
    if (kind == ADXL_TRANSPORT_UCX) {
        LOG_ERROR("Transport=ucx: the UCX transport cannot start (%s)", adxl_status_str(st));
        *status = st;
        return false;
    }
    return true;
#else
    (void)listen_addr;
    if (kind == ADXL_TRANSPORT_AUTO) return true;
    LOG_ERROR("Transport=ucx: this build of adxl has no UCX (install libucx-dev and rebuild)");
    *status = ADXL_UNSUPPORTED;
    return false;
#endif
}

adxl_status_t adxl_transports_start(adxl_engine_t *engine, const adxl_engine_addr_t *listen_addr,
                                    char *bound_name) {
    const adxl_config_t *config = adxl_engine_config(engine);
    bool have_facts = adxl_host_facts_local(&engine->facts);
    /* TCP takes slot 0 below; the others first, since their endpoints are part of the
     * facts that TCP's listener tells probers, so they must be in place before that
     * listener takes its first connection. */
    engine->ntransports = 1;
    if (config->transport == ADXL_TRANSPORT_AUTO || config->transport == ADXL_TRANSPORT_SHM) {
        adxl_transport_slot_t *shm = &engine->transports[engine->ntransports];
        adxl_status_t st =
            have_facts ? adxl_shm_transport.start(engine, listen_addr, engine->facts.shm_endpoint,
                                                  &shm->instance)
                       : ADXL_UNSUPPORTED;
        if (st == ADXL_SUCCESS) {
            shm->ops = &adxl_shm_transport;
            engine->ntransports++;
        } else if (config->transport == ADXL_TRANSPORT_SHM) {
            LOG_ERROR("Transport=shm: the shared-memory transport cannot start (%s)",
                      have_facts ? adxl_status_str(st)
                                 : "/proc does not tell this host's identity");
            engine->ntransports = 0;
            return st;
        } else {
            LOG_WARN("shared memory is unavailable (%s); same-host peers will use TCP",
                     adxl_status_str(st));
            engine->facts.shm_endpoint[0] = '\0';
        }
    }
    adxl_status_t st;
    if (!start_ucx(engine, listen_addr, &st)) {
        for (int i = engine->ntransports - 1; i >= 1; i--)
            engine->transports[i].ops->stop(engine->transports[i].instance);
        engine->ntransports = 0;
        return st;
    }
    adxl_transport_slot_t *tcp = &engine->transports[0];
    tcp->ops = &adxl_tcp_transport;
    st = tcp->ops->start(engine, listen_addr, bound_name, &tcp->instance);
    if (st != ADXL_SUCCESS) {
        for (int i = engine->ntransports - 1; i >= 1; i--)
            engine->transports[i].ops->stop(engine->transports[i].instance);
        engine->ntransports = 0;
        return st;
    }
    return ADXL_SUCCESS;
}

void adxl_transports_stop(adxl_engine_t *engine) {
    for (int i = engine->ntransports - 1; i >= 0; i--)
        engine->transports[i].ops->stop(engine->transports[i].instance);
    engine->ntransports = 0;
}

void adxl_transports_publish(adxl_engine_t *engine, const adxl_region_t *region, bool added) {
    for (int i = 0; i < engine->ntransports; i++)
        engine->transports[i].ops->publish(engine->transports[i].instance, region, added);
}

/* Whether this link should go over UCX: always with Transport=ucx; with auto, between
 * two hosts that both have an RDMA device. */
static bool wants_ucx(adxl_engine_t *engine, adxl_transport_kind_t kind,
                      const adxl_host_facts_t *facts) {
    if (kind == ADXL_TRANSPORT_UCX) return true;
    return kind == ADXL_TRANSPORT_AUTO && facts->ucx_port != 0 &&
           (facts->ucx_flags & ADXL_FACTS_UCX_RDMA) &&
           (engine->facts.ucx_flags & ADXL_FACTS_UCX_RDMA);
}

adxl_status_t adxl_transports_connect(adxl_engine_t *engine, adxl_peer_t *peer,
                                      const char *remote_name, const adxl_engine_addr_t *remote,
                                      uint64_t deadline, const adxl_transport_ops_t **ops,
                                      adxl_link_t **out) {
    adxl_transport_kind_t kind = adxl_engine_config(engine)->transport;
    adxl_transport_slot_t *tcp = &engine->transports[0];
    adxl_transport_slot_t *shm = slot_of(engine, &adxl_shm_transport);
#ifdef ADXL_HAVE_UCX
    adxl_transport_slot_t *ucx = slot_of(engine, &adxl_ucx_transport);
#else
    adxl_transport_slot_t *ucx = NULL;
#endif
    adxl_host_facts_t facts;
    bool probed = false;
    if (kind != ADXL_TRANSPORT_TCP && (shm || ucx)) {
        adxl_status_t st = tcp->ops->probe(tcp->instance, remote, deadline, &facts);
        if (st != ADXL_SUCCESS) {
            LOG_ERROR("connect to %s: %s", remote_name, adxl_status_str(st));
            return st;
        }
        probed = true;
        bool same_host = adxl_host_facts_same_host(&engine->facts, &facts);
        if (shm && same_host && facts.shm_endpoint[0] != '\0') {
            st = shm->ops->connect(shm->instance, peer, remote_name, remote, &facts, deadline, out);
            if (st == ADXL_SUCCESS || kind == ADXL_TRANSPORT_SHM) {
                *ops = shm->ops;
                return st;
            }
            LOG_WARN("connect to %s over shared memory failed (%s); using TCP", remote_name,
                     adxl_status_str(st));
        } else if (kind == ADXL_TRANSPORT_SHM) {
            LOG_ERROR("connect to %s: Transport=shm needs a peer on this host, and %s", remote_name,
                      same_host ? "that engine offers no shared memory"
                                : "it runs on another host (boot id or namespaces differ)");
            return ADXL_UNSUPPORTED;
        } else if (ucx && wants_ucx(engine, kind, &facts)) {
            st = ucx->ops->connect(ucx->instance, peer, remote_name, remote, &facts, deadline, out);
            if (st == ADXL_SUCCESS || kind == ADXL_TRANSPORT_UCX) {
                *ops = ucx->ops;
                return st;
            }
            LOG_WARN("connect to %s over UCX failed (%s); using TCP", remote_name,
                     adxl_status_str(st));
        }
    }
    *ops = tcp->ops;
    return tcp->ops->connect(tcp->instance, peer, remote_name, remote, probed ? &facts : NULL,
                             deadline, out);
}
