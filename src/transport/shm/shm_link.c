/*
 * The initiator's side of an shm link: connecting (the handshake, the shared mapping,
 * whether CMA is allowed, the target's regions), and the link's thread, which keeps the
 * region mirror current, carries notifies, moves staged chunks along and watches that
 * the target is alive. Transfers themselves mostly never reach this thread: post carries
 * a one-sided chunk in the caller's own thread (shm_copy.c).
 */
#include "core/clock.h"
#include "core/log.h"
#include "transport/shm/shm_internal.h"
#include "transport/shm/shm_parse.h"
#include "net/thread_util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- Liveness ---- */

void shm_link_wake(shm_link_t *link) {
    adxl_wake(link->wake_fd);
}

void shm_link_fail(shm_link_t *link, adxl_status_t status) {
    /* The reason goes out before the flag: a thread that sees the link failed must read
     * a failure, never the initial ADXL_SUCCESS. The first reason wins. */
    adxl_status_t none = ADXL_SUCCESS;
    atomic_compare_exchange_strong(&link->fail_status, &none, status);
    if (atomic_exchange(&link->failed, true)) return;
    shm_link_wake(link);
    adxl_peer_link_down(link->peer);
}

/* The target's serving thread holds target_alive for the link's life; once it ended, or
 * its process died (the kernel marks a robust mutex "owner died"), the trylock succeeds.
 * No system call on the way: this runs before and after every one-sided copy. */
bool shm_link_target_alive(shm_link_t *link) {
    if (atomic_load(&link->failed)) return false;
    int rc = pthread_mutex_trylock(&link->shared->target_alive);
    if (rc == EBUSY) return true;
    /* Ours now: let go at once, so that no robust-list entry of this thread points into
     * a mapping that will be unmapped. */
    if (rc == 0 || rc == EOWNERDEAD) pthread_mutex_unlock(&link->shared->target_alive);
    LOG_WARN("the shared-memory peer %s is gone", adxl_peer_name(link->peer));
    shm_link_fail(link, ADXL_FAILED);
    return false;
}

/* ---- The region mirror ---- */

/* Maps the target's block when it sent one that is safe to map: a memfd sealed against
 * shrinking (so that no truncate can ever fault our copies) at least as long as the
 * region says. */
static uint8_t *map_block(int fd, uint64_t len, uint64_t block_len) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    struct stat st;
    int seals = fcntl(fd, F_GET_SEALS);
    if (!shm_block_shape_valid(len, block_len, page) || seals < 0 || !(seals & F_SEAL_SHRINK) ||
        fstat(fd, &st) != 0 || (uint64_t)st.st_size < block_len)
        return NULL;
    void *p = mmap(NULL, (size_t)block_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Maps a peer's device allocation through the runtime's IPC, in the engine's context;
 * NULL when this engine cannot (no runtime, no IPC, no context, a refused handle) or the
 * region the peer names (offset msg->arg[4], length msg->arg[1]) does not lie inside the
 * allocation the runtime opened: copies through it must not reach past it. */
static void *open_ipc(shm_link_t *link, const shm_msg_t *msg) {
    void *ctx;
    const adxl_device_runtime_t *rt = adxl_engine_device(link->engine, &ctx);
    adxl_device_scope_t scope;
    if (!rt || !ctx || link->path != ADXL_SHM_PATH_AUTO ||
        adxl_device_enter(rt, ctx, &scope) != ADXL_SUCCESS)
        return NULL;
    void *base = NULL;
    size_t size = 0;
    uint64_t offset = msg->arg[4], len = msg->arg[1];
    if (rt->ipc_open((const uint8_t *)msg->text, &base, &size) != ADXL_SUCCESS) {
        base = NULL;
    } else if (offset > size || len > size - offset) {
        LOG_WARN("shared-memory peer %s: device region 0x%llx+%llu lies outside the %zu-byte "
                 "allocation of its IPC handle; not mapped",
                 adxl_peer_name(link->peer), (unsigned long long)msg->arg[0],
                 (unsigned long long)len, size);
        (void)rt->ipc_close(base);
        base = NULL;
    }
    adxl_device_leave(rt, &scope);
    return base;
}

static void close_ipc(shm_link_t *link, void *base) {
    void *ctx;
    const adxl_device_runtime_t *rt = adxl_engine_device(link->engine, &ctx);
    adxl_device_scope_t scope;
    if (!base || adxl_device_enter(rt, ctx, &scope) != ADXL_SUCCESS) return;
    (void)rt->ipc_close(base);
    adxl_device_leave(rt, &scope);
}

/* With the view's lock write-held: takes a range the target announced into the mirror,
 * unless the mirror is full or the range overlaps one it holds (a target announces only
 * ranges that overlap none it still has published). */
static bool mirror_insert_locked(shm_link_t *link, const shm_region_entry_t *e, void *tag) {
    uintptr_t addr = (uintptr_t)e->addr;
    size_t len = (size_t)e->len;
    adxl_region_set_t *mirror = &link->view->regions;
    if (mirror->count >= ADXL_REMOTE_REGIONS_MAX) return false;
    adxl_region_t *overlap;
    adxl_region_t *r = adxl_region_set_insert_disjoint(mirror, addr, len, tag, &overlap);
    if (!r) return false;
    r->device = (e->flags & SHM_REGION_DEVICE) != 0;
    return true;
}

static void mirror_free(shm_link_t *link, void *tag) {
    shm_mirror_t *m = shm_mirror_record(tag);
    if (!m) return;
    if (m->map) munmap(m->map, m->map_len);
    close_ipc(link, m->ipc_base);
    free(m);
}

/* Takes one region a REGION_ADD announced into the mirror; block_len: the length of the
 * block whose memfd came with it (fd), 0 for none; ipc: the message when it carries a
 * device region's IPC handle (and its offset in arg4), else NULL. */
static void mirror_add(shm_link_t *link, const shm_region_entry_t *e, int fd, uint64_t block_len,
                       const shm_msg_t *ipc) {
    bool device = (e->flags & SHM_REGION_DEVICE) != 0;
    uint8_t *map = fd >= 0 && !device ? map_block(fd, e->len, block_len) : NULL;
    void *ipc_base = ipc ? open_ipc(link, ipc) : NULL;
    void *tag = shm_mirror_plain_tag(e->slot, e->gen);
    shm_mirror_t *m = NULL;
    if (map || ipc_base) {
        m = malloc(sizeof(*m));
        if (m)
            *m = (shm_mirror_t){
                .slot = e->slot,
                .gen = e->gen,
                .map = map,
                .map_len = map ? (size_t)block_len : 0,
                .dev_map = ipc_base ? (uint8_t *)ipc_base + ipc->arg[4] : NULL,
                .ipc_base = ipc_base,
            };
        tag = m;
    }
    pthread_rwlock_wrlock(&link->view->lock);
    bool ok = tag && mirror_insert_locked(link, e, tag);
    pthread_rwlock_unlock(&link->view->lock);
    if (!ok) {
        if (map) munmap(map, (size_t)block_len);
        close_ipc(link, ipc_base);
        free(m);
    }
}

/* With the view's lock write-held (no copy is using a mapping when it goes). */
static void mirror_remove_locked(shm_link_t *link, const shm_region_entry_t *e) {
    /* Removals come in order with additions, so the range held is the one meant; a
     * target that names another slot can only shrink its own peer's view of it. */
    void *tag;
    if (adxl_region_set_remove_exact(&link->view->regions, (uintptr_t)e->addr, (size_t)e->len,
                                     &tag))
        mirror_free(link, tag);
}

/* A REGION_ADD (with a block's memfd, perhaps) or a REGIONS batch; false when the message
 * is malformed. An entry that is not valid is skipped, as a REGION_ADD that is not. A
 * batch is applied under one hold of the view lock, in order. */
static bool apply_regions(shm_link_t *link, const shm_msg_t *msg, int fd) {
    if (msg->type == SHM_MSG_REGION_ADD) {
        shm_region_entry_t e = {msg->arg[0],
                                msg->arg[1],
                                (uint32_t)msg->arg[2],
                                (uint32_t)msg->arg[3],
                                msg->status & SHM_REGION_DEVICE,
                                0};
        if (shm_region_add_valid(msg))
            mirror_add(link, &e, fd, msg->arg[4], msg->status & SHM_REGION_IPC ? msg : NULL);
        return true;
    }
    uint32_t count;
    if (!shm_regions_valid(msg, &count)) return false;
    pthread_rwlock_wrlock(&link->view->lock);
    for (uint32_t i = 0; i < count; i++) {
        shm_region_entry_t e;
        if (!shm_region_entry(msg, i, &e)) continue;
        if (e.flags & SHM_REGION_REMOVED)
            mirror_remove_locked(link, &e);
        else
            (void)mirror_insert_locked(link, &e, shm_mirror_plain_tag(e.slot, e.gen));
    }
    pthread_rwlock_unlock(&link->view->lock);
    return true;
}

/* ---- Messages from the target ---- */

static bool notify_acked(shm_link_t *link, const shm_msg_t *msg) {
    pthread_mutex_lock(&link->lock);
    adxl_chunk_t *c = link->notify_wait.head;
    bool ok = c && c->transport_tag == msg->arg[0];
    if (ok) adxl_chunk_fifo_pop(&link->notify_wait);
    pthread_mutex_unlock(&link->lock);
    if (ok) {
        adxl_status_t st = (adxl_status_t)msg->status;
        if (st != ADXL_SUCCESS && st != ADXL_RESOURCE_EXHAUSTED) st = ADXL_NOTIFY_FAILED;
        adxl_chunk_complete(c, st);
    }
    return ok;
}

/* One message from the target; false when it broke the protocol. */
static bool handle_message(shm_link_t *link, const shm_msg_t *msg, int fds[SHM_MAX_FDS]) {
    switch (msg->type) {
    case SHM_MSG_REGION_ADD:
    case SHM_MSG_REGIONS:
        return apply_regions(link, msg, fds[0]);
    case SHM_MSG_NOTIFY_ACK:
        return notify_acked(link, msg);
    default:
        return false;
    }
}

/* Reads every message waiting (*heard: there was one); false when the link is over. */
static bool read_messages(shm_link_t *link, bool *heard) {
    *heard = false;
    for (;;) {
        shm_msg_t msg;
        int fds[SHM_MAX_FDS];
        bool again;
        if (!shm_msg_recv(link->fd, &msg, fds, &again)) return again;
        *heard = true;
        bool ok = handle_message(link, &msg, fds);
        shm_close_fds(fds);
        if (!ok) {
            LOG_WARN("shared-memory peer %s broke the protocol (message %u)",
                     adxl_peer_name(link->peer), msg.type);
            return false;
        }
    }
}

/* Sends queued notifies; false when the socket failed. */
static bool send_notifies(shm_link_t *link, bool *blocked) {
    *blocked = false;
    for (;;) {
        pthread_mutex_lock(&link->lock);
        adxl_chunk_t *c = link->notify_out.head;
        pthread_mutex_unlock(&link->lock);
        if (!c) return true;
        shm_msg_t msg = {.type = SHM_MSG_NOTIFY,
                         .text_len = c->notify_name_len + c->notify_msg_len,
                         .arg = {c->transport_tag, c->notify_name_len}};
        memcpy(msg.text, c->notify_name, c->notify_name_len);
        memcpy(msg.text + c->notify_name_len, c->notify_msg, c->notify_msg_len);
        if (!shm_msg_send(link->fd, &msg, NULL, 0, false)) {
            *blocked = errno == EAGAIN || errno == EWOULDBLOCK;
            return *blocked;
        }
        pthread_mutex_lock(&link->lock);
        adxl_chunk_fifo_pop(&link->notify_out);
        adxl_chunk_fifo_push(&link->notify_wait, c);
        pthread_mutex_unlock(&link->lock);
    }
}

static void run_deferred(shm_link_t *link) {
    pthread_mutex_lock(&link->lock);
    adxl_chunk_t *c = adxl_chunk_fifo_take(&link->deferred);
    pthread_mutex_unlock(&link->lock);
    while (c) {
        adxl_chunk_t *next = c->next;
        shm_copy_run(link, c);
        c = next;
    }
}

/* The link failed: everything it still holds completes with its status, and posts from
 * now on complete at once (shm_post sees closed). */
static void drain_all(shm_link_t *link) {
    adxl_status_t st = atomic_load(&link->fail_status);
    pthread_mutex_lock(&link->lock);
    adxl_chunk_t *lists[3] = {adxl_chunk_fifo_take(&link->deferred),
                              adxl_chunk_fifo_take(&link->notify_out),
                              adxl_chunk_fifo_take(&link->notify_wait)};
    link->closed = true;
    pthread_mutex_unlock(&link->lock);
    for (int i = 0; i < 3; i++)
        adxl_chunk_complete_all(lists[i], st);
    shm_staging_fail_all(link, st);
}

static void *link_main(void *arg) {
    shm_link_t *link = arg;
    uint64_t last_beat = atomic_load(&link->shared->target_beat);
    uint64_t beat_seen_ns = adxl_now_ns();
    bool blocked = false;
    while (!atomic_load(&link->failed)) {
        struct pollfd pfd[3] = {
            {.fd = link->fd, .events = (short)(POLLIN | (blocked ? POLLOUT : 0))},
            {.fd = link->done_fd, .events = POLLIN},
            {.fd = link->wake_fd, .events = POLLIN},
        };
        int rc = poll(pfd, 3, (int)link->heartbeat_ms);
        if (rc < 0 && errno != EINTR) {
            shm_link_fail(link, ADXL_FAILED);
            break;
        }
        if (rc > 0 && (pfd[1].revents & POLLIN)) adxl_wake_drain(link->done_fd);
        if (rc > 0 && (pfd[2].revents & POLLIN)) adxl_wake_drain(link->wake_fd);
        if (atomic_load(&link->failed)) break;
        bool heard;
        if (!read_messages(link, &heard) || !send_notifies(link, &blocked)) {
            LOG_WARN("the shared-memory link to %s closed", adxl_peer_name(link->peer));
            shm_link_fail(link, ADXL_FAILED);
            break;
        }
        shm_staging_progress(link);
        run_deferred(link);
        /* A target whose thread stops beating and sending (stopped, or wedged) is dropped after
         * PeerTimeoutMs, as over TCP; a dead one is seen at once. */
        uint64_t now = adxl_now_ns(), beat = atomic_load(&link->shared->target_beat);
        /* Messages in are as good a sign as a beat: a target streaming a burst of region
         * announcements beats only between sends. */
        if (beat != last_beat || heard) {
            last_beat = beat;
            beat_seen_ns = now;
        } else if (now - beat_seen_ns >= link->peer_timeout_ns) {
            LOG_WARN("shared-memory peer %s silent for %u ms", adxl_peer_name(link->peer),
                     (unsigned)(link->peer_timeout_ns / ADXL_NS_PER_MS));
            shm_link_fail(link, ADXL_FAILED);
            break;
        }
        if (!shm_link_target_alive(link)) break;
    }
    drain_all(link);
    return NULL;
}

/* ---- Connecting ---- */

static bool wait_fd(int fd, short events, uint64_t deadline) {
    for (;;) {
        uint64_t now = adxl_now_ns();
        if (now >= deadline) return false;
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, (int)((deadline - now) / ADXL_NS_PER_MS) + 1);
        if (rc > 0) return true;
        if (rc < 0 && errno != EINTR) return false;
    }
}

static adxl_status_t recv_wait(shm_link_t *link, shm_msg_t *msg, int fds[SHM_MAX_FDS],
                               uint64_t deadline) {
    for (;;) {
        bool again;
        if (shm_msg_recv(link->fd, msg, fds, &again)) return ADXL_SUCCESS;
        if (!again) return ADXL_FAILED;
        if (!wait_fd(link->fd, POLLIN, deadline)) return ADXL_TIMEOUT;
    }
}

/* Where the peer's transport listens, from its offer; false when it offers none that fits. */
static bool peer_endpoint(const adxl_host_facts_t *facts, char endpoint[SHM_ENDPOINT_MAX]) {
    size_t len = 0;
    const uint8_t *offer = adxl_host_facts_offered(facts, "shm", &len);
    if (!offer || len == 0 || len >= SHM_ENDPOINT_MAX || memchr(offer, '\0', len)) return false;
    memcpy(endpoint, offer, len);
    endpoint[len] = '\0';
    return true;
}

static adxl_status_t open_socket(shm_link_t *link, const char *endpoint, uint64_t deadline) {
    link->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (link->fd < 0) return ADXL_RESOURCE_EXHAUSTED;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strnlen(endpoint, SHM_ENDPOINT_MAX - 1);
    memcpy(sa.sun_path + 1, endpoint, n);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    if (connect(link->fd, (struct sockaddr *)&sa, len) == 0) return ADXL_SUCCESS;
    if (errno != EINPROGRESS && errno != EAGAIN) return ADXL_FAILED;
    if (!wait_fd(link->fd, POLLOUT, deadline)) return ADXL_TIMEOUT;
    int err = 0;
    socklen_t err_len = sizeof(err);
    getsockopt(link->fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
    return err == 0 ? ADXL_SUCCESS : ADXL_FAILED;
}

/* Maps the link's shared memory from the HELLO_ACK, checking what a peer could get wrong. */
static adxl_status_t accept_ack(shm_link_t *link, const shm_msg_t *ack, int fds[SHM_MAX_FDS],
                                const adxl_host_facts_t *facts) {
    if (ack->type != SHM_MSG_HELLO_ACK || ack->status != ADXL_SUCCESS) return ADXL_FAILED;
    if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0 || ack->arg[3] != shm_shared_size())
        return ADXL_FAILED;
    struct stat st;
    int seals = fcntl(fds[0], F_GET_SEALS);
    if (seals < 0 || !(seals & F_SEAL_SHRINK) || fstat(fds[0], &st) != 0 ||
        (uint64_t)st.st_size < shm_shared_size())
        return ADXL_FAILED;
    void *p = mmap(NULL, shm_shared_size(), PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
    if (p == MAP_FAILED) return ADXL_RESOURCE_EXHAUSTED;
    link->shared = p;
    link->shared_size = shm_shared_size();
    link->ring_data = (uint8_t *)p + shm_shared_data_offset();
    if (link->shared->magic != SHM_SHARED_MAGIC || link->shared->version != SHM_WIRE_VERSION)
        return ADXL_FAILED;
    link->doorbell_fd = fds[1];
    link->done_fd = fds[2];
    fds[1] = fds[2] = -1;
    link->allow_unregistered = (ack->arg[0] & SHM_FLAG_ALLOW_UNREGISTERED) != 0;

    /* The process at the other end of the socket, as the kernel says, must be the one
     * the probe described. */
    struct ucred cred;
    socklen_t cred_len = sizeof(cred);
    if (getsockopt(link->fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) != 0 || cred.pid <= 0 ||
        (uint32_t)cred.pid != facts->pid)
        return ADXL_FAILED;
    link->target_pid = cred.pid;
    /* CMA is allowed when we can read a value the target told us over the socket. */
    uint64_t probe = 0;
    struct iovec local = {&probe, sizeof(probe)};
    struct iovec remote = {(void *)(uintptr_t)ack->arg[1], sizeof(probe)};
    link->cma_ok =
        process_vm_readv(link->target_pid, &local, 1, &remote, 1, 0) == (ssize_t)sizeof(probe) &&
        probe == ack->arg[2];
    return ADXL_SUCCESS;
}

/* With an AuthSecret on either side, the target's CHALLENGE comes before HELLO_ACK: we
 * check its proof and answer with ours (src/net/auth.h). *msg is then the next message. */
static adxl_status_t authenticate(shm_link_t *link, const uint8_t nonce[32], shm_msg_t *msg,
                                  int fds[SHM_MAX_FDS], uint64_t deadline) {
    const adxl_auth_secret_t *secret = &link->transport->config->auth;
    const char *peer = adxl_peer_name(link->peer);
    bool challenged = msg->type == SHM_MSG_CHALLENGE;
    if (!challenged && secret->len == 0) return ADXL_SUCCESS;
    if (!challenged) {
        LOG_ERROR("%s does not authenticate itself; refused, since this engine has an AuthSecret",
                  peer);
        return ADXL_FAILED;
    }
    if (secret->len == 0) {
        LOG_ERROR("%s requires authentication: set the same AuthSecret on this engine", peer);
        return ADXL_FAILED;
    }
    uint8_t target_nonce[32];
    shm_get_nonce(msg, target_nonce);
    if (msg->text_len != ADXL_AUTH_PROOF_BYTES ||
        !adxl_auth_check(secret, ADXL_AUTH_TARGET, nonce, target_nonce,
                         (const uint8_t *)msg->text)) {
        LOG_ERROR("%s could not prove it holds the shared secret (a different AuthSecret?)", peer);
        return ADXL_FAILED;
    }
    shm_msg_t auth = {.type = SHM_MSG_AUTH, .text_len = ADXL_AUTH_PROOF_BYTES};
    if (!adxl_auth_proof(secret, ADXL_AUTH_INITIATOR, nonce, target_nonce, (uint8_t *)auth.text) ||
        !shm_msg_send(link->fd, &auth, NULL, 0, true))
        return ADXL_FAILED;
    shm_close_fds(fds);
    adxl_status_t st = recv_wait(link, msg, fds, deadline);
    if (st == ADXL_SUCCESS && msg->type == SHM_MSG_HELLO_ACK && msg->status != ADXL_SUCCESS)
        LOG_ERROR("%s refused this engine's proof of the shared secret", peer);
    return st;
}

static adxl_status_t handshake(shm_link_t *link, const adxl_host_facts_t *facts,
                               uint64_t deadline) {
    const char *name = adxl_engine_name(link->engine);
    shm_msg_t hello = {.type = SHM_MSG_HELLO, .text_len = (uint32_t)strlen(name)};
    memcpy(hello.text, name, hello.text_len);
    uint8_t nonce[32];
    if (!adxl_auth_nonce(nonce)) return ADXL_FAILED;
    hello.arg[0] = link->transport->config->auth.len > 0 ? SHM_HELLO_FLAG_AUTH : 0;
    shm_put_nonce(&hello, nonce);
    if (!wait_fd(link->fd, POLLOUT, deadline)) return ADXL_TIMEOUT;
    if (!shm_msg_send(link->fd, &hello, NULL, 0, false)) return ADXL_FAILED;
    shm_msg_t msg;
    int fds[SHM_MAX_FDS];
    adxl_status_t st = recv_wait(link, &msg, fds, deadline);
    if (st != ADXL_SUCCESS) return st;
    st = authenticate(link, nonce, &msg, fds, deadline);
    if (st != ADXL_SUCCESS) {
        shm_close_fds(fds);
        return st;
    }
    st = accept_ack(link, &msg, fds, facts);
    shm_close_fds(fds);
    /* The regions registered now, then SNAPSHOT_END: the first transfer sees them. */
    while (st == ADXL_SUCCESS) {
        st = recv_wait(link, &msg, fds, deadline);
        if (st != ADXL_SUCCESS) break;
        bool end = msg.type == SHM_MSG_SNAPSHOT_END;
        bool regions = msg.type == SHM_MSG_REGION_ADD || msg.type == SHM_MSG_REGIONS;
        if (!end && !(regions && apply_regions(link, &msg, fds[0]))) st = ADXL_FAILED;
        shm_close_fds(fds);
        if (end) break;
    }
    return st;
}

static bool free_each_mirror(adxl_region_t *r, void *link) {
    mirror_free(link, r->tag);
    return true;
}

void shm_destroy(adxl_link_t *l) {
    shm_link_t *link = (shm_link_t *)l;
    /* The view outlives the link (it is the peer's) but its tags are ours: it is left
     * empty, and no copy is running (the link was shut down). */
    pthread_rwlock_wrlock(&link->view->lock);
    adxl_region_set_each(&link->view->regions, free_each_mirror, link);
    adxl_region_set_free(&link->view->regions);
    pthread_rwlock_unlock(&link->view->lock);
    if (link->shared) munmap(link->shared, link->shared_size);
    int fds[4] = {link->fd, link->wake_fd, link->doorbell_fd, link->done_fd};
    for (int i = 0; i < 4; i++)
        if (fds[i] >= 0) close(fds[i]);
    pthread_mutex_destroy(&link->lock);
    free(link);
}

void shm_shutdown(adxl_link_t *l, adxl_status_t status) {
    shm_link_t *link = (shm_link_t *)l;
    shm_link_fail(link, status);
    if (link->thread_started) {
        pthread_join(link->thread, NULL);
        link->thread_started = false;
    } else {
        drain_all(link);
    }
}

adxl_status_t shm_connect(adxl_transport_t *transport, adxl_peer_t *peer, const char *remote_name,
                          const adxl_engine_addr_t *remote, const adxl_host_facts_t *remote_facts,
                          uint64_t deadline, adxl_link_t **out) {
    (void)remote;
    shm_transport_t *t = (shm_transport_t *)transport;
    shm_link_t *link = calloc(1, sizeof(*link));
    if (!link) return ADXL_RESOURCE_EXHAUSTED;
    link->transport = t;
    link->peer = peer;
    link->engine = t->engine;
    link->fd = link->doorbell_fd = link->done_fd = -1;
    link->wake_fd = adxl_wake_fd_new();
    link->path = t->config->shm_path;
    link->peer_timeout_ns = (uint64_t)t->config->peer_timeout_ms * ADXL_NS_PER_MS;
    link->heartbeat_ms = t->config->heartbeat_ms;
    atomic_init(&link->failed, false);
    atomic_init(&link->fail_status, ADXL_SUCCESS);
    pthread_mutex_init(&link->lock, NULL);
    link->view = adxl_peer_regions(peer);

    char endpoint[SHM_ENDPOINT_MAX];
    adxl_status_t st = ADXL_SUCCESS;
    if (!remote_facts || !peer_endpoint(remote_facts, endpoint)) {
        LOG_ERROR("connect to %s: that engine offers no shared-memory endpoint", remote_name);
        st = ADXL_UNSUPPORTED;
    } else {
        st = link->wake_fd >= 0 ? open_socket(link, endpoint, deadline) : ADXL_RESOURCE_EXHAUSTED;
    }
    if (st == ADXL_SUCCESS) st = handshake(link, remote_facts, deadline);
    if (st == ADXL_SUCCESS) {
        link->thread_started = adxl_thread_start(&link->thread, link_main, link);
        if (!link->thread_started) st = ADXL_RESOURCE_EXHAUSTED;
    }
    if (st != ADXL_SUCCESS) {
        LOG_ERROR("shared-memory connect to %s: %s", remote_name, adxl_status_str(st));
        atomic_store(&link->fail_status, st);
        atomic_store(&link->failed, true);
        drain_all(link);
        shm_destroy((adxl_link_t *)link);
        return st;
    }
    LOG_INFO("linked to %s over shared memory (pid %d, CMA %s)", remote_name, (int)link->target_pid,
             link->cma_ok ? "allowed" : "refused");
    *out = (adxl_link_t *)link;
    return ADXL_SUCCESS;
}

void shm_post(adxl_link_t *l, adxl_chunk_t *chunk) {
    shm_link_t *link = (shm_link_t *)l;
    if (chunk->kind == ADXL_CHUNK_NOTIFY) {
        pthread_mutex_lock(&link->lock);
        bool closed = link->closed;
        if (!closed) {
            chunk->transport_tag = ++link->next_notify_id;
            adxl_chunk_fifo_push(&link->notify_out, chunk);
        }
        pthread_mutex_unlock(&link->lock);
        if (closed)
            adxl_chunk_complete(chunk, atomic_load(&link->fail_status));
        else
            shm_link_wake(link);
        return;
    }
    if (!shm_copy_try(link, chunk)) shm_staging_post(link, chunk);
}
