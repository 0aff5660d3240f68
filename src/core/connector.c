#include "core/connector.h"

#include "core/engine.h"
#include "core/log.h"
#include "core/peer.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(ADXL_ENGINE_NAME_MAX == ADXL_NAME_MAX, "public and internal name sizes differ");

struct adxl_conn_entry {
    adxl_conn_entry_t *next;
    adxl_engine_t *engine;
    char name[ADXL_NAME_MAX];
    adxl_connect_state_t state; /* under the engine's conn_lock, like the fields below */
    adxl_status_t last_status;
    bool busy;     /* an operation is pending or running */
    bool joinable; /* thread was started and not joined yet */
    pthread_t thread;
    /* The operation's arguments, read by its worker. */
    adxl_engine_addr_t addr;
    uint64_t deadline;
};

void adxl_connector_init(adxl_engine_t *engine) {
    pthread_mutex_init(&engine->conn_lock, NULL);
    engine->conn_entries = NULL;
}

void adxl_connector_stop(adxl_engine_t *engine) {
    pthread_mutex_lock(&engine->conn_lock);
    adxl_conn_entry_t *e = engine->conn_entries;
    engine->conn_entries = NULL;
    pthread_mutex_unlock(&engine->conn_lock);
    /* Workers never touch the list, only their own entry, so it can be walked unlocked. */
    while (e) {
        adxl_conn_entry_t *next = e->next;
        if (e->joinable) pthread_join(e->thread, NULL);
        free(e);
        e = next;
    }
    pthread_mutex_destroy(&engine->conn_lock);
}

/* With conn_lock held. */
static adxl_conn_entry_t *find_entry(adxl_engine_t *engine, const char *name) {
    for (adxl_conn_entry_t *e = engine->conn_entries; e; e = e->next)
        if (strcmp(e->name, name) == 0) return e;
    return NULL;
}

static bool linked(adxl_engine_t *engine, const char *name) {
    adxl_peer_t *peer = adxl_peers_find(engine, name);
    if (peer) adxl_peer_release(peer);
    return peer != NULL;
}

static void finish(adxl_conn_entry_t *e, adxl_connect_state_t state, adxl_status_t st) {
    pthread_mutex_lock(&e->engine->conn_lock);
    e->state = state;
    e->last_status = st;
    e->busy = false;
    pthread_mutex_unlock(&e->engine->conn_lock);
}

static void *connect_worker(void *arg) {
    adxl_conn_entry_t *e = arg;
    pthread_mutex_lock(&e->engine->conn_lock);
    e->state = ADXL_CONNECTING;
    pthread_mutex_unlock(&e->engine->conn_lock);
    adxl_status_t st = adxl_peers_connect(e->engine, e->name, &e->addr, e->deadline);
    if (st == ADXL_ALREADY_CONNECTED) st = ADXL_SUCCESS;
    if (st != ADXL_SUCCESS) LOG_ERROR("async connect to %s: %s", e->name, adxl_status_str(st));
    finish(e, st == ADXL_SUCCESS ? ADXL_CONNECTED : ADXL_CONNECT_FAILED, st);
    return NULL;
}

static void *disconnect_worker(void *arg) {
    adxl_conn_entry_t *e = arg;
    pthread_mutex_lock(&e->engine->conn_lock);
    e->state = ADXL_DISCONNECTING;
    pthread_mutex_unlock(&e->engine->conn_lock);
    adxl_status_t st = adxl_peers_disconnect(e->engine, e->name);
    finish(e, ADXL_NOT_CONNECT, st);
    return NULL;
}

/* The entry for name, idle and with its last worker joined; created if need be. With
 * conn_lock held; NULL when out of memory. */
static adxl_conn_entry_t *idle_entry(adxl_engine_t *engine, const char *name) {
    adxl_conn_entry_t *e = find_entry(engine, name);
    if (!e) {
        e = calloc(1, sizeof(*e));
        if (!e) return NULL;
        e->engine = engine;
        snprintf(e->name, sizeof(e->name), "%s", name);
        e->state = ADXL_NOT_CONNECT;
        e->next = engine->conn_entries;
        engine->conn_entries = e;
    }
    if (e->joinable) {
        /* Its worker cleared busy as its last act, so this join is at most a moment. */
        pthread_join(e->thread, NULL);
        e->joinable = false;
    }
    return e;
}

static adxl_status_t start(adxl_conn_entry_t *e, adxl_connect_state_t pending,
                           void *(*worker)(void *)) {
    adxl_connect_state_t before = e->state;
    e->state = pending;
    e->busy = true;
    e->last_status = ADXL_SUCCESS;
    if (pthread_create(&e->thread, NULL, worker, e) != 0) {
        e->state = before;
        e->busy = false;
        LOG_ERROR("cannot start a connect worker for %s", e->name);
        return ADXL_RESOURCE_EXHAUSTED;
    }
    e->joinable = true;
    return ADXL_SUCCESS;
}

adxl_status_t adxl_connector_connect(adxl_engine_t *engine, const char *name,
                                     const adxl_engine_addr_t *addr, uint64_t deadline) {
    pthread_mutex_lock(&engine->conn_lock);
    adxl_conn_entry_t *e = find_entry(engine, name);
    adxl_status_t st = ADXL_SUCCESS;
    if (e && e->busy) {
        bool connecting = e->state == ADXL_CONNECT_PENDING || e->state == ADXL_CONNECTING;
        if (!connecting) LOG_ERROR("a disconnect from %s is in progress", name);
        st = connecting ? ADXL_SUCCESS : ADXL_FAILED;
    } else if (linked(engine, name)) {
        st = ADXL_ALREADY_CONNECTED;
    } else if (!(e = idle_entry(engine, name))) {
        st = ADXL_RESOURCE_EXHAUSTED;
    } else {
        e->addr = *addr;
        e->deadline = deadline;
        st = start(e, ADXL_CONNECT_PENDING, connect_worker);
    }
    pthread_mutex_unlock(&engine->conn_lock);
    return st;
}

adxl_status_t adxl_connector_disconnect(adxl_engine_t *engine, const char *name) {
    pthread_mutex_lock(&engine->conn_lock);
    adxl_conn_entry_t *e = find_entry(engine, name);
    adxl_status_t st = ADXL_SUCCESS;
    if (e && e->busy) {
        LOG_ERROR("a connect or disconnect of %s is in progress", name);
        st = ADXL_FAILED;
    } else if (!linked(engine, name)) {
        st = ADXL_NOT_CONNECTED;
    } else if (!(e = idle_entry(engine, name))) {
        st = ADXL_RESOURCE_EXHAUSTED;
    } else {
        st = start(e, ADXL_DISCONNECT_PENDING, disconnect_worker);
    }
    pthread_mutex_unlock(&engine->conn_lock);
    return st;
}

/* With conn_lock held. A link made or lost by other means wins over an idle entry. */
static adxl_connect_state_t state_locked(adxl_engine_t *engine, const char *name,
                                         const adxl_conn_entry_t *e) {
    if (e && e->busy) return e->state;
    if (linked(engine, name)) return ADXL_CONNECTED;
    return e && e->state == ADXL_CONNECT_FAILED ? ADXL_CONNECT_FAILED : ADXL_NOT_CONNECT;
}

adxl_connect_state_t adxl_connector_state(adxl_engine_t *engine, const char *name) {
    pthread_mutex_lock(&engine->conn_lock);
    adxl_connect_state_t state = state_locked(engine, name, find_entry(engine, name));
    pthread_mutex_unlock(&engine->conn_lock);
    return state;
}

typedef struct {
    adxl_engine_t *engine;
    adxl_connect_status_t *out;
    size_t capacity;
    size_t count;
} collect_t;

static void add_linked(void *ctx, const char *name) {
    collect_t *c = ctx;
    if (find_entry(c->engine, name)) return; /* reported with its entry */
    if (c->capacity > 0 && c->count >= c->capacity) return;
    if (c->capacity > 0) {
        adxl_connect_status_t *s = &c->out[c->count];
        snprintf(s->remote_engine, sizeof(s->remote_engine), "%s", name);
        s->state = ADXL_CONNECTED;
        s->last_status = ADXL_SUCCESS;
    }
    c->count++;
}

adxl_status_t adxl_connector_states(adxl_engine_t *engine, adxl_connect_status_t *out,
                                    size_t capacity, size_t *count) {
    collect_t c = {engine, out, capacity, 0};
    pthread_mutex_lock(&engine->conn_lock);
    for (adxl_conn_entry_t *e = engine->conn_entries; e; e = e->next) {
        if (capacity > 0 && c.count >= capacity) break;
        if (capacity > 0) {
            adxl_connect_status_t *s = &out[c.count];
            snprintf(s->remote_engine, sizeof(s->remote_engine), "%s", e->name);
            s->state = state_locked(engine, e->name, e);
            s->last_status = e->busy ? ADXL_SUCCESS : e->last_status;
        }
        c.count++;
    }
    /* Links made by adxl_connect (or AutoConnect) have no entry. */
    adxl_peers_for_each_ready(engine, add_linked, &c);
    pthread_mutex_unlock(&engine->conn_lock);
    *count = c.count;
    return ADXL_SUCCESS;
}
