/*
 * Which transport carries what. TCP always runs: the engine's name is an ip:port, and
 * its listener answers probes with this engine's host facts, where every other transport
 * that started has put its offer (its advertise). A connect (unless Transport is tcp)
 * first probes the peer, then asks the other transports in order whether they suit it
 * (shm: a peer on this host that offers shared memory; UCX: a peer that offers UCX when
 * both ends have an RDMA device); the first that does gets the link, and anyone else a
 * TCP link. Transport=shm or ucx names the one transport to use. So the choice rests on
 * facts the peer states, never on its IP address.
 */
#include "transport/transport.h"

#include "core/engine.h"
#include "core/log.h"

#include <string.h>

/* Starts one optional transport into the next slot and lets it make its offer. */
static adxl_status_t start_optional(adxl_engine_t *engine, const adxl_transport_ops_t *ops,
                                    const adxl_engine_addr_t *listen_addr) {
    adxl_transport_slot_t *slot = &engine->transports[engine->ntransports];
    char unused[ADXL_NAME_MAX];
    adxl_status_t st = ops->start(engine, listen_addr, unused, &slot->instance);
    if (st != ADXL_SUCCESS) return st;
    slot->ops = ops;
    if (ops->advertise) ops->advertise(slot->instance, &engine->facts);
    engine->ntransports++;
    return ADXL_SUCCESS;
}

/* Starts the transport that Transport names (kind), or, under auto, that may serve (each
 * declines what this host cannot do: shm without /proc's facts, UCX without an RDMA
 * device). Returns false only when the one named cannot start. */
static bool start_one(adxl_engine_t *engine, const adxl_transport_ops_t *ops,
                      adxl_transport_kind_t kind, bool have_facts,
                      const adxl_engine_addr_t *listen_addr, adxl_status_t *status) {
    adxl_transport_kind_t wanted = adxl_engine_config(engine)->transport;
    *status = ADXL_SUCCESS;
    if (wanted != kind && wanted != ADXL_TRANSPORT_AUTO) return true;
    adxl_status_t st = !ops         ? ADXL_UNSUPPORTED
                       : have_facts ? start_optional(engine, ops, listen_addr)
                                    : ADXL_UNSUPPORTED;
    if (st == ADXL_SUCCESS) return true;
    const char *name = kind == ADXL_TRANSPORT_SHM ? "shm" : "ucx";
    if (wanted == ADXL_TRANSPORT_AUTO) {
        if (ops && kind == ADXL_TRANSPORT_SHM)
            LOG_WARN("shared memory is unavailable (%s); same-host peers will use TCP",
                     have_facts ? adxl_status_str(st) : "/proc does not tell this host's identity");
        return true;
    }
    if (!ops)
        LOG_ERROR("Transport=%s: this build of adxl has no UCX (install libucx-dev and rebuild)",
                  name);
    else
        LOG_ERROR("Transport=%s: the %s transport cannot start (%s)", name, name,
                  have_facts ? adxl_status_str(st) : "/proc does not tell this host's identity");
    *status = st;
    return false;
}

static void stop_from(adxl_engine_t *engine, int first) {
    for (int i = engine->ntransports - 1; i >= first; i--)
        engine->transports[i].ops->stop(engine->transports[i].instance);
    engine->ntransports = 0;
}

adxl_status_t adxl_transports_start(adxl_engine_t *engine, const adxl_engine_addr_t *listen_addr,
                                    char *bound_name) {
#ifdef ADXL_HAVE_UCX
    const adxl_transport_ops_t *ucx = &adxl_ucx_transport;
#else
    const adxl_transport_ops_t *ucx = NULL;
#endif
    bool have_facts = adxl_host_facts_local(&engine->facts);
    /* TCP takes slot 0 below; the others first, since their offers are part of the
     * facts that TCP's listener tells probers, so they must be in place before that
     * listener takes its first connection. UCX does not need /proc's facts. */
    engine->ntransports = 1;
    adxl_status_t st;
    if (!start_one(engine, &adxl_shm_transport, ADXL_TRANSPORT_SHM, have_facts, listen_addr, &st) ||
        !start_one(engine, ucx, ADXL_TRANSPORT_UCX, true, listen_addr, &st)) {
        stop_from(engine, 1);
        return st;
    }
    adxl_transport_slot_t *tcp = &engine->transports[0];
    tcp->ops = &adxl_tcp_transport;
    st = tcp->ops->start(engine, listen_addr, bound_name, &tcp->instance);
    if (st != ADXL_SUCCESS) {
        stop_from(engine, 1);
        return st;
    }
    return ADXL_SUCCESS;
}

void adxl_transports_stop(adxl_engine_t *engine) {
    stop_from(engine, 0);
}

void adxl_transports_publish(adxl_engine_t *engine, const adxl_region_t *region, bool added) {
    for (int i = 0; i < engine->ntransports; i++)
        engine->transports[i].ops->publish(engine->transports[i].instance, region, added);
}

/* The transport Transport names, or under auto the first after TCP that suits the peer;
 * NULL: TCP. */
static adxl_transport_slot_t *choose(adxl_engine_t *engine, adxl_transport_kind_t kind,
                                     const adxl_host_facts_t *facts) {
    const char *named = kind == ADXL_TRANSPORT_SHM   ? "shm"
                        : kind == ADXL_TRANSPORT_UCX ? "ucx"
                                                     : NULL;
    for (int i = 1; i < engine->ntransports; i++) {
        adxl_transport_slot_t *slot = &engine->transports[i];
        if (named ? strcmp(slot->ops->name, named) == 0
                  : slot->ops->suits && slot->ops->suits(slot->instance, &engine->facts, facts))
            return slot;
    }
    return NULL;
}

adxl_status_t adxl_transports_connect(adxl_engine_t *engine, adxl_peer_t *peer,
                                      const char *remote_name, const adxl_engine_addr_t *remote,
                                      uint64_t deadline, const adxl_transport_ops_t **ops,
                                      adxl_link_t **out) {
    adxl_transport_kind_t kind = adxl_engine_config(engine)->transport;
    adxl_transport_slot_t *tcp = &engine->transports[0];
    adxl_host_facts_t facts;
    bool probed = false;
    if (kind != ADXL_TRANSPORT_TCP && engine->ntransports > 1) {
        adxl_status_t st = tcp->ops->probe(tcp->instance, remote, deadline, &facts);
        if (st != ADXL_SUCCESS) {
            LOG_ERROR("connect to %s: %s", remote_name, adxl_status_str(st));
            return st;
        }
        probed = true;
        adxl_transport_slot_t *slot = choose(engine, kind, &facts);
        if (slot && kind == ADXL_TRANSPORT_SHM &&
            !slot->ops->suits(slot->instance, &engine->facts, &facts)) {
            bool same_host = adxl_host_facts_same_host(&engine->facts, &facts);
            LOG_ERROR("connect to %s: Transport=shm needs a peer on this host, and %s", remote_name,
                      same_host ? "that engine offers no shared memory"
                                : "it runs on another host (boot id or namespaces differ)");
            return ADXL_UNSUPPORTED;
        }
        if (slot) {
            st = slot->ops->connect(slot->instance, peer, remote_name, remote, &facts, deadline,
                                    out);
            if (st == ADXL_SUCCESS || kind != ADXL_TRANSPORT_AUTO) {
                *ops = slot->ops;
                return st;
            }
            LOG_WARN("connect to %s over %s failed (%s); using TCP", remote_name, slot->ops->name,
                     adxl_status_str(st));
        }
    }
    *ops = tcp->ops;
    return tcp->ops->connect(tcp->instance, peer, remote_name, remote, probed ? &facts : NULL,
                             deadline, out);
}
