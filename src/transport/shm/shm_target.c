/*
 * The target's side of one shm link: a thread that sets the link up (the shared mapping,
 * its file descriptors, a snapshot of the registered regions), then serves staging
 * requests and notifies and sends region changes until the initiator goes away.
 * Publishing and revoking regions (shm_inbound_publish) runs in the registering thread.
 */
#include "core/clock.h"
#include "core/log.h"
#include "core/malloc_mem.h"
#include "transport/shm/shm_internal.h"
#include "transport/shm/shm_parse.h"
#include "net/thread_util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

size_t shm_shared_data_offset(void) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (sizeof(shm_shared_t) + page - 1) / page * page;
}

size_t shm_shared_size(void) {
    return shm_shared_data_offset() + (size_t)SHM_RING_SLOTS * SHM_SLOT_BYTES;
}

static size_t announced_size(void) {
    return (size_t)SHM_MAX_REGIONS * sizeof(uint32_t);
}

void shm_inbound_free(shm_inbound_t *in) {
    if (in->fd >= 0) close(in->fd);
    if (in->wake_fd >= 0) close(in->wake_fd);
    if (in->doorbell_fd >= 0) close(in->doorbell_fd);
    if (in->done_fd >= 0) close(in->done_fd);
    if (in->pidfd >= 0) close(in->pidfd);
    if (in->shared_fd >= 0) close(in->shared_fd);
    if (in->shared) munmap(in->shared, shm_shared_size());
    while (in->out_head) {
        shm_out_t *o = in->out_head;
        in->out_head = o->next;
        if (o->fd >= 0) close(o->fd);
        free(o);
    }
    adxl_notify_source_release(in->notify_source);
    pthread_mutex_destroy(&in->lock);
    pthread_mutex_destroy(&in->revoke_lock);
    if (in->announced) munmap(in->announced, announced_size());
    free(in);
}

/* ---- Publishing and revoking ---- */

/* With in->lock held. The message goes out from the serving thread. */
static void queue_out(shm_inbound_t *in, const shm_msg_t *msg, int fd) {
    shm_out_t *o = malloc(sizeof(*o));
    if (!o) {
        /* The initiator's view is then short of a region: it refuses transfers to it,
         * which is safe; the link itself stays correct. */
        if (fd >= 0) close(fd);
        return;
    }
    o->next = NULL;
    o->msg = *msg;
    o->fd = fd;
    if (in->out_tail)
        in->out_tail->next = o;
    else
        in->out_head = o;
    in->out_tail = o;
}

/* Appends a region change to the last queued REGIONS message when it has room and is not
 * the head (which the serving thread may be sending), else queues a new one: a burst of
 * registrations goes out SHM_REGIONS_PER_MSG to a packet. With in->lock held. */
static void queue_entry(shm_inbound_t *in, const shm_region_entry_t *entry) {
    shm_out_t *o = in->out_tail;
    if (!o || o == in->out_head || o->msg.type != SHM_MSG_REGIONS ||
        o->msg.arg[0] == SHM_REGIONS_PER_MSG) {
        shm_msg_t msg = {.type = SHM_MSG_REGIONS};
        queue_out(in, &msg, -1);
        if (in->out_tail == o) return; /* out of memory: queue_out says why that is safe */
        o = in->out_tail;
    }
    memcpy(o->msg.text + o->msg.text_len, entry, sizeof(*entry));
    o->msg.text_len += (uint32_t)sizeof(*entry);
    o->msg.arg[0]++;
}

/* The runtime's IPC handle of the allocation holding a device region, exported in the
 * region's own context; false when the runtime has no IPC (or refuses). */
static bool export_ipc(shm_inbound_t *in, const adxl_region_t *region,
                       uint8_t handle[ADXL_IPC_HANDLE_BYTES], uint64_t *offset) {
    void *engine_ctx;
    const adxl_device_runtime_t *rt = adxl_engine_device(in->transport->engine, &engine_ctx);
    if (!rt) return false;
    uintptr_t addr = region->addr;
    size_t len = region->len;
    adxl_device_scope_t scope;
    if (!region->device_ctx || adxl_device_enter(rt, region->device_ctx, &scope) != ADXL_SUCCESS)
        return false;
    uintptr_t base = 0;
    size_t size = 0;
    bool ok = rt->ipc_export((const void *)addr, handle, &base, &size) == ADXL_SUCCESS &&
              addr >= base && addr - base <= size && len <= size - (addr - base);
    adxl_device_leave(rt, &scope);
    *offset = addr - base;
    return ok;
}

/* With in->lock held: announces a registry region, unless this initiator was told of it
 * already (a region registered while the snapshot was taken is in it, and is published
 * again by its registering thread). */
static void publish_add_locked(shm_inbound_t *in, const adxl_region_t *r) {
    uint32_t slot = r->slot;
    if (slot >= SHM_MAX_REGIONS) {
        LOG_WARN("shared memory: more than %u regions; a peer will not see 0x%lx+%zu",
                 SHM_MAX_REGIONS, (unsigned long)r->addr, r->len);
        return;
    }
    if (in->announced[slot] == r->gen) return;
    in->announced[slot] = r->gen;
    if (slot >= in->announced_end) in->announced_end = slot + 1;
    atomic_store(&in->shared->region_gen[slot], r->gen);
    size_t block_len = 0;
    int fd =
        in->share_blocks && !r->device ? adxl_malloc_mem_share(r->addr, r->len, &block_len) : -1;
    /* Like a block's memfd, an IPC handle goes only to initiators who could reach our
     * memory anyway: a mapping cannot be taken back from one that ignores revocation. A
     * region with either travels alone, in a REGION_ADD; the others are batched. */
    shm_msg_t msg = {.type = SHM_MSG_REGION_ADD,
                     .status = r->device ? SHM_REGION_DEVICE : 0,
                     .arg = {r->addr, r->len, slot, r->gen, fd >= 0 ? block_len : 0}};
    uint64_t offset = 0;
    if (r->device && in->share_blocks && export_ipc(in, r, (uint8_t *)msg.text, &offset)) {
        msg.status |= SHM_REGION_IPC;
        msg.text_len = ADXL_IPC_HANDLE_BYTES;
        msg.arg[4] = offset;
    } else if (fd < 0) {
        shm_region_entry_t e = {r->addr, r->len, slot, r->gen, r->device ? SHM_REGION_DEVICE : 0,
                                0};
        queue_entry(in, &e);
        return;
    }
    queue_out(in, &msg, fd);
}

static bool initiator_dead(shm_inbound_t *in) {
    if (in->pidfd < 0) return kill(in->peer_pid, 0) != 0 && errno == ESRCH;
    struct pollfd p = {.fd = in->pidfd, .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

/* Whether a copy of the old epoch is still counted in one of the buckets. */
static bool copies_running(shm_shared_t *sh, uint32_t old, uint64_t buckets) {
    for (uint64_t m = buckets; m; m &= m - 1)
        if (atomic_load(&sh->busy[old][__builtin_ctzll(m)]) != 0) return true;
    return false;
}

/* Waits until no one-sided copy that might have seen a revoked generation in one of the
 * buckets (of the revoked slots) is still running: flips the epoch and waits for the old
 * epoch's counts of those buckets to drain. A copy that starts after the flip sees the
 * zeroed generation and stays away; copies in other buckets touch other regions, and go
 * on. */
static void drain_copies(shm_inbound_t *in, uint64_t buckets) {
    shm_shared_t *sh = in->shared;
    uint32_t old = atomic_fetch_add(&sh->epoch, 1) & 1u;
    uint64_t start = adxl_now_ns();
    bool warned = false;
    for (unsigned spins = 0; copies_running(sh, old, buckets); spins++) {
        if (spins < 64) {
            sched_yield();
            continue;
        }
        if (initiator_dead(in)) return; /* its copies died with it */
        uint64_t waited = adxl_now_ns() - start;
        if (!warned && waited > (uint64_t)in->transport->config->peer_timeout_ms * ADXL_NS_PER_MS) {
            /* A stopped initiator in the middle of a copy: its stores land when it
             * resumes, so the region cannot be released before that. */
            LOG_WARN("deregistration waits for peer pid %d, stopped in the middle of a copy",
                     (int)in->peer_pid);
            warned = true;
        }
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
}

/*
 * The serving thread sends everything queued before it sleeps (or waits for the socket to
 * take more), so only a message queued onto an empty queue needs to wake it: during a
 * burst, one wake for many changes rather than a system call and a context switch each.
 */
void shm_inbound_publish(shm_inbound_t *in, const adxl_region_t *region, bool added) {
    if (added) {
        pthread_mutex_lock(&in->lock);
        bool idle = in->out_head == NULL;
        if (in->publishes) publish_add_locked(in, region);
        bool wake = idle && in->out_head != NULL;
        pthread_mutex_unlock(&in->lock);
        if (wake) adxl_wake(in->wake_fd);
        return;
    }
    uint32_t slot = region->slot;
    pthread_mutex_lock(&in->revoke_lock);
    pthread_mutex_lock(&in->lock);
    bool idle = in->out_head == NULL;
    /* The registry keeps the slot until every link has revoked it, so announced[slot]
     * still names this region if this initiator was told of it. */
    bool revoked = in->publishes && slot < SHM_MAX_REGIONS && in->announced[slot] == region->gen;
    if (revoked) {
        in->announced[slot] = 0;
        atomic_store(&in->shared->region_gen[slot], 0);
        shm_region_entry_t e = {region->addr, region->len, slot, 0, SHM_REGION_REMOVED, 0};
        queue_entry(in, &e);
    }
    bool wake = idle && in->out_head != NULL;
    pthread_mutex_unlock(&in->lock);
    if (revoked) drain_copies(in, 1ull << shm_busy_bucket(slot));
    pthread_mutex_unlock(&in->revoke_lock);
    if (wake) adxl_wake(in->wake_fd);
}

/* ---- Setting the link up ---- */

static bool wait_readable(shm_inbound_t *in, uint64_t deadline) {
    for (;;) {
        uint64_t now = adxl_now_ns();
        if (now >= deadline) return false;
        struct pollfd pfd[2] = {{.fd = in->fd, .events = POLLIN},
                                {.fd = in->transport->stop_fd, .events = POLLIN}};
        int ms = (int)((deadline - now) / ADXL_NS_PER_MS) + 1;
        int rc = poll(pfd, 2, ms);
        if (rc < 0 && errno != EINTR) return false;
        if (rc > 0 && (pfd[1].revents & POLLIN)) return false;
        if (rc > 0 && pfd[0].revents) return true;
    }
}

static bool create_shared(shm_inbound_t *in) {
    size_t size = shm_shared_size();
    int fd = memfd_create("adxl-link", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return false;
    in->shared_fd = fd;
    if (ftruncate(fd, (off_t)size) != 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
        return false;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return false;
    in->shared = p;
    in->ring_data = (uint8_t *)p + shm_shared_data_offset();
    shm_shared_t *sh = in->shared;
    sh->magic = SHM_SHARED_MAGIC;
    sh->version = SHM_WIRE_VERSION;
    sh->size = size;
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    int rc = pthread_mutex_init(&sh->target_alive, &attr);
    pthread_mutexattr_destroy(&attr);
    in->alive_held = rc == 0 && pthread_mutex_lock(&sh->target_alive) == 0;
    if (!in->alive_held) return false;
    void *a = mmap(NULL, announced_size(), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (a == MAP_FAILED) return false;
    in->announced = a;
    return true;
}

/* With an AuthSecret, CHALLENGE out, AUTH in (src/net/auth.h); the HELLO_ACK that follows
 * tells the initiator it passed. hello->text is the initiator's name, NUL-terminated. */
static bool authenticate(shm_inbound_t *in, const shm_msg_t *hello, uint64_t deadline) {
    const adxl_auth_secret_t *secret = &in->transport->config->auth;
    bool offered = (hello->arg[0] & SHM_HELLO_FLAG_AUTH) != 0;
    if (secret->len == 0) {
        if (offered)
            LOG_WARN("%s expects authentication, but this engine has no AuthSecret: it will "
                     "refuse the link",
                     hello->text);
        return true;
    }
    uint8_t initiator_nonce[32], target_nonce[32];
    shm_get_nonce(hello, initiator_nonce);
    shm_msg_t ch = {.type = SHM_MSG_CHALLENGE,
                    .text_len = ADXL_AUTH_PROOF_BYTES,
                    .status = offered ? ADXL_SUCCESS : ADXL_FAILED};
    if (!adxl_auth_nonce(target_nonce) ||
        !adxl_auth_proof(secret, ADXL_AUTH_TARGET, initiator_nonce, target_nonce,
                         (uint8_t *)ch.text))
        return false;
    shm_put_nonce(&ch, target_nonce);
    if (!shm_msg_send(in->fd, &ch, NULL, 0, true)) return false;
    if (!offered) {
        LOG_WARN("refused %s: it offers no shared secret, and this engine has an AuthSecret",
                 hello->text);
        return false;
    }
    shm_msg_t msg;
    int fds[SHM_MAX_FDS];
    bool again;
    for (;;) {
        if (!wait_readable(in, deadline)) {
            LOG_WARN("%s gave up during authentication (a different AuthSecret?)", hello->text);
            return false;
        }
        if (shm_msg_recv(in->fd, &msg, fds, &again)) break;
        if (!again) return false;
    }
    shm_close_fds(fds);
    if (msg.type == SHM_MSG_AUTH && msg.text_len == ADXL_AUTH_PROOF_BYTES &&
        adxl_auth_check(secret, ADXL_AUTH_INITIATOR, initiator_nonce, target_nonce,
                        (const uint8_t *)msg.text))
        return true;
    LOG_WARN("refused %s: it could not prove it holds the shared secret", hello->text);
    shm_msg_t no = {.type = SHM_MSG_HELLO_ACK, .status = ADXL_FAILED};
    shm_msg_send(in->fd, &no, NULL, 0, true);
    return false;
}

/* During the snapshot (this is the serving thread, in->lock held): sends what is queued
 * but the message still filling, as far as the socket takes it without waiting, so that
 * the initiator works through the snapshot while it is being built. The rest goes out
 * from serve(), which also sees a socket that failed. */
static void send_ahead_locked(shm_inbound_t *in) {
    while (in->out_head && in->out_head != in->out_tail) {
        shm_out_t *o = in->out_head;
        if (!shm_msg_send(in->fd, &o->msg, &o->fd, o->fd >= 0 ? 1 : 0, false)) return;
        in->out_head = o->next;
        if (o->fd >= 0) close(o->fd);
        free(o);
    }
}

static bool handshake(shm_inbound_t *in) {
    shm_transport_t *t = in->transport;
    uint64_t deadline = adxl_now_ns() + (uint64_t)t->config->peer_timeout_ms * ADXL_NS_PER_MS;
    shm_msg_t msg;
    int fds[SHM_MAX_FDS];
    bool again;
    for (;;) {
        if (!wait_readable(in, deadline)) return false;
        if (shm_msg_recv(in->fd, &msg, fds, &again)) break;
        if (!again) return false;
    }
    bool had_fds = fds[0] >= 0; /* a HELLO carries none */
    shm_close_fds(fds);
    if (had_fds || msg.type != SHM_MSG_HELLO || !shm_hello_valid(&msg)) {
        LOG_WARN("refused a shared-memory link: not an adxl HELLO naming an engine");
        return false;
    }
    msg.text[msg.text_len] = '\0';
    struct ucred cred;
    socklen_t cred_len = sizeof(cred);
    if (getsockopt(in->fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) != 0 || cred.pid <= 0)
        return false;
    if (!authenticate(in, &msg, deadline)) return false;
    in->peer_pid = cred.pid;
    in->pidfd = (int)syscall(SYS_pidfd_open, cred.pid, 0);
    /* A mapping cannot be taken back from a peer that ignores revocation; a peer of our
     * own user (or root) could write our memory through ptrace anyway, anyone else gets
     * CMA (if the kernel lets it) or the staging ring, which we check. */
    in->share_blocks = cred.uid == getuid() || cred.uid == 0;
    if (!create_shared(in)) {
        LOG_WARN("refused a shared-memory link: cannot create its shared memory");
        return false;
    }
    in->notify_source = adxl_notify_source_new();
    if (!in->notify_source) return false;
    shm_msg_t ack = {
        .type = SHM_MSG_HELLO_ACK,
        .status = ADXL_SUCCESS,
        .arg = {t->config->allow_unregistered ? SHM_FLAG_ALLOW_UNREGISTERED : 0,
                (uint64_t)(uintptr_t)&t->cma_probe, t->cma_probe, shm_shared_size()},
    };
    int send_fds[3] = {in->shared_fd, in->doorbell_fd, in->done_fd};
    if (!shm_msg_send(in->fd, &ack, send_fds, 3, true)) return false;
    close(in->shared_fd);
    in->shared_fd = -1;

    /* Listed for updates before the snapshot, so that none falls between the two. */
    adxl_region_t *regions;
    size_t count;
    pthread_mutex_lock(&in->lock);
    in->publishes = true;
    bool ok =
        adxl_registry_snapshot(adxl_engine_registry(t->engine), &regions, &count) == ADXL_SUCCESS;
    for (size_t i = 0; ok && i < count; i++) {
        publish_add_locked(in, &regions[i]);
        if (i % SHM_REGIONS_PER_MSG == SHM_REGIONS_PER_MSG - 1) send_ahead_locked(in);
    }
    shm_msg_t end = {.type = SHM_MSG_SNAPSHOT_END};
    if (ok) queue_out(in, &end, -1);
    pthread_mutex_unlock(&in->lock);
    if (ok) free(regions);
    LOG_INFO("accepted a shared-memory link from %s (pid %d)", msg.text, (int)in->peer_pid);
    return ok;
}

/* ---- Serving ---- */

/* One POSTED slot. The request is copied out of shared memory before it is checked: the
 * initiator could rewrite it between the check and the copy otherwise. */
static void serve_slot(shm_inbound_t *in, uint32_t index, shm_piece_t *pieces) {
    shm_slot_t *slot = &in->shared->slots[index];
    uint32_t op = slot->op, n = slot->npieces;
    adxl_status_t st = ADXL_PARAM_INVALID;
    uint64_t total = 0;
    if (n >= 1 && n <= SHM_SLOT_PIECES) memcpy(pieces, slot->pieces, (size_t)n * sizeof(*pieces));
    bool shape_ok = shm_slot_request_valid(op, n, pieces, &total);
    adxl_engine_t *engine = in->transport->engine;
    if (shape_ok) {
        adxl_registry_t *reg = adxl_engine_registry(engine);
        bool any = in->transport->config->allow_unregistered;
        /* Pinned across the copy: a deregistration waits for it. */
        adxl_registry_pin(reg);
        bool allowed = true;
        for (uint32_t i = 0; allowed && !any && i < n; i++)
            allowed = adxl_registry_contains_pinned(reg, (uintptr_t)pieces[i].span_addr,
                                                    (size_t)pieces[i].span_len);
        if (allowed) {
            uint8_t *data = in->ring_data + (size_t)index * SHM_SLOT_BYTES;
            st = ADXL_SUCCESS;
            for (uint32_t i = 0; st == ADXL_SUCCESS && i < n; i++) {
                st = adxl_registry_copy_pinned(reg, (uintptr_t)pieces[i].addr, data,
                                               (size_t)pieces[i].len, op == SHM_OP_WRITE);
                data += pieces[i].len;
            }
        }
        adxl_registry_unpin(reg);
    }
    if (st == ADXL_PARAM_INVALID)
        LOG_WARN("refused a staged %s of %u pieces: %s", op == SHM_OP_READ ? "READ" : "WRITE", n,
                 shape_ok ? "not inside registered memory" : "malformed");
    adxl_engine_count_served(engine, st != ADXL_SUCCESS);
    slot->status = st;
    atomic_store_explicit(&slot->state, SHM_SLOT_DONE, memory_order_release);
}

bool shm_serve_slots(shm_inbound_t *in) {
    shm_piece_t pieces[SHM_SLOT_PIECES];
    bool any = false;
    for (uint32_t i = 0; i < SHM_RING_SLOTS; i++) {
        if (atomic_load(&in->shared->slots[i].state) != SHM_SLOT_POSTED) continue;
        serve_slot(in, i, pieces);
        any = true;
    }
    return any;
}

/* Sends what is queued; false when the socket failed. *blocked: it is full. */
static bool flush_out(shm_inbound_t *in, bool *blocked) {
    *blocked = false;
    for (;;) {
        pthread_mutex_lock(&in->lock);
        shm_out_t *o = in->out_head;
        pthread_mutex_unlock(&in->lock);
        if (!o) return true;
        if (!shm_msg_send(in->fd, &o->msg, &o->fd, o->fd >= 0 ? 1 : 0, false)) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                *blocked = true;
                return true;
            }
            return false;
        }
        pthread_mutex_lock(&in->lock);
        in->out_head = o->next;
        if (!in->out_head) in->out_tail = NULL;
        pthread_mutex_unlock(&in->lock);
        if (o->fd >= 0) close(o->fd);
        free(o);
    }
}

static bool serve_notify(shm_inbound_t *in, const shm_msg_t *msg) {
    size_t name_len;
    if (!shm_notify_valid(msg, &name_len)) return false;
    adxl_status_t st = adxl_notify_queue_push(
        adxl_engine_notifies(in->transport->engine), in->notify_source, msg->text, (size_t)name_len,
        msg->text + name_len, msg->text_len - (size_t)name_len);
    shm_msg_t ack = {.type = SHM_MSG_NOTIFY_ACK, .status = st, .arg = {msg->arg[0]}};
    pthread_mutex_lock(&in->lock);
    queue_out(in, &ack, -1);
    pthread_mutex_unlock(&in->lock);
    return true;
}

/* Reads what the initiator sent; false when the link is over. */
static bool serve_socket(shm_inbound_t *in) {
    for (;;) {
        shm_msg_t msg;
        int fds[SHM_MAX_FDS];
        bool again;
        if (!shm_msg_recv(in->fd, &msg, fds, &again)) return again;
        shm_close_fds(fds);
        if (msg.type != SHM_MSG_NOTIFY || !serve_notify(in, &msg)) {
            LOG_WARN("closing a shared-memory link: unexpected message %u", msg.type);
            return false;
        }
    }
}

static void serve(shm_inbound_t *in) {
    shm_shared_t *sh = in->shared;
    int heartbeat_ms = (int)in->transport->config->heartbeat_ms;
    for (;;) {
        atomic_fetch_add(&sh->target_beat, 1);
        bool worked = shm_serve_slots(in);
        if (worked) adxl_wake(in->done_fd);
        bool blocked;
        if (!serve_socket(in) || !flush_out(in, &blocked)) return;
        if (worked) continue;
        /* About to sleep: say so, then look once more, so that an initiator that posted
         * in between either sees the flag (and rings) or is seen here. */
        atomic_store(&sh->target_waiting, 1);
        if (shm_serve_slots(in)) {
            atomic_store(&sh->target_waiting, 0);
            adxl_wake(in->done_fd);
            continue;
        }
        struct pollfd pfd[4] = {
            {.fd = in->fd, .events = (short)(POLLIN | (blocked ? POLLOUT : 0))},
            {.fd = in->doorbell_fd, .events = POLLIN},
            {.fd = in->wake_fd, .events = POLLIN},
            {.fd = in->transport->stop_fd, .events = POLLIN},
        };
        int rc = poll(pfd, 4, heartbeat_ms);
        atomic_store(&sh->target_waiting, 0);
        if (rc < 0 && errno != EINTR) return;
        if (rc > 0 && (pfd[3].revents & POLLIN)) return;
        if (rc > 0 && (pfd[1].revents & POLLIN)) adxl_wake_drain(in->doorbell_fd);
        if (rc > 0 && (pfd[2].revents & POLLIN)) adxl_wake_drain(in->wake_fd);
        if (rc > 0 && (pfd[0].revents & (POLLHUP | POLLERR)) && !(pfd[0].revents & POLLIN)) return;
    }
}

/* The link is over: no one-sided copy may still be under way when the engine (and then
 * perhaps the memory) goes, so every region is revoked as by deregistration. */
static void revoke_all(shm_inbound_t *in) {
    pthread_mutex_lock(&in->revoke_lock);
    pthread_mutex_lock(&in->lock);
    in->publishes = false;
    bool any = false;
    for (uint32_t slot = 0; slot < in->announced_end; slot++) {
        if (in->announced[slot] == 0) continue;
        in->announced[slot] = 0;
        atomic_store(&in->shared->region_gen[slot], 0);
        any = true;
    }
    in->announced_end = 0;
    pthread_mutex_unlock(&in->lock);
    if (any) drain_copies(in, ~0ull >> (64 - SHM_BUSY_BUCKETS));
    pthread_mutex_unlock(&in->revoke_lock);
}

void *shm_inbound_main(void *arg) {
    shm_inbound_t *in = arg;
    if (handshake(in)) serve(in);
    if (in->shared) {
        revoke_all(in);
    } else {
        pthread_mutex_lock(&in->lock);
        in->publishes = false;
        pthread_mutex_unlock(&in->lock);
    }
    /* Unlocked, not left to die with the thread: an initiator sees the link is over. */
    if (in->alive_held) pthread_mutex_unlock(&in->shared->target_alive);
    shutdown(in->fd, SHUT_RDWR);
    adxl_served_finished(&in->served);
    return NULL;
}
