/*
 * One-sided copies for the shm transport: a chunk is carried in the posting thread, by
 * memcpy through a mapping of the target's block or by process_vm_readv/writev, with no
 * work by the target. Every segment's whole descriptor must lie in one region the target
 * published, and the region's generation is re-checked inside the link's reader count
 * (see shm_internal.h), so a deregistration on the target waits for the copy or makes it
 * stay away.
 */
#include "core/log.h"
#include "transport/shm/shm_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

typedef enum { PATH_STAGING, PATH_MAPPED, PATH_CMA, PATH_IPC, PATH_NONE } copy_path_t;

/* Posts from inside a completion (a transit buffer freed, the next request packed) are
 * handed to the link thread, so that completions never nest without bound. */
static _Thread_local int completing;

/* The mirror range holding [addr, addr+len) whole, or NULL. With the view's lock held. */
static const adxl_region_t *find_region(const shm_link_t *link, uint64_t addr, uint64_t len) {
    return adxl_region_set_containing(&link->view->regions, (uintptr_t)addr, (size_t)len);
}

/* Which path carries the chunk; regions[i] is segment i's region (NULL when the target
 * serves unregistered memory and it lies outside every region). With the view's lock held. */
static copy_path_t choose(const shm_link_t *link, const adxl_chunk_t *chunk,
                          const adxl_region_t **regions) {
    /* Local device memory goes only where the runtime copies it: into a mapping. */
    copy_path_t fallback = chunk->local_ctx ? PATH_NONE : PATH_STAGING;
    if (link->path == ADXL_SHM_PATH_STAGING) return fallback;
    bool all_mapped = link->path == ADXL_SHM_PATH_AUTO, any_device = chunk->local_ctx != NULL;
    for (uint32_t i = 0; i < chunk->nsegs; i++) {
        const adxl_segment_t *s = &chunk->segs[i];
        regions[i] = find_region(link, s->span_addr, s->span_len);
        /* Not (yet) in our view: a region registered a moment ago, or none at all. The
         * target's own check on the staging path has the last word. */
        if (!regions[i] && !link->allow_unregistered) return fallback;
        /* Device memory is a runtime's to touch: through IPC, never CMA or a memfd. */
        if (regions[i] && regions[i]->device && !shm_mirror_dev_map(regions[i])) return fallback;
        if (!regions[i] || (!shm_mirror_map(regions[i]) && !shm_mirror_dev_map(regions[i])))
            all_mapped = false;
        if (regions[i] && regions[i]->device) any_device = true;
    }
    if (all_mapped && any_device) return PATH_IPC;
    if (chunk->local_ctx) return PATH_NONE;
    if (all_mapped) return PATH_MAPPED;
    /* Some pieces in a peer's device memory, others not: the target sorts them out. */
    if (any_device) return PATH_STAGING;
    return link->cma_ok ? PATH_CMA : PATH_STAGING;
}

/* Inside the reader count: are the regions still what the target published? */
static bool still_published(const shm_link_t *link, const adxl_chunk_t *chunk,
                            const adxl_region_t **regions) {
    for (uint32_t i = 0; i < chunk->nsegs; i++)
        if (regions[i] && atomic_load(&link->shared->region_gen[shm_mirror_slot(regions[i])]) !=
                              shm_mirror_gen(regions[i]))
            return false;
    return true;
}

/* The buckets (shm_busy_bucket) of the regions the chunk's pieces lie in, one bit each. */
static uint64_t busy_buckets(const adxl_chunk_t *chunk, const adxl_region_t **regions) {
    uint64_t mask = 0;
    for (uint32_t i = 0; i < chunk->nsegs; i++)
        if (regions[i]) mask |= 1ull << shm_busy_bucket(shm_mirror_slot(regions[i]));
    return mask;
}

/* Counts a copy in (delta 1) or out (-1) of each of its buckets in one epoch. */
static void count_busy(shm_shared_t *sh, uint32_t epoch, uint64_t mask, int delta) {
    for (uint64_t m = mask; m; m &= m - 1) {
        _Atomic uint32_t *b = &sh->busy[epoch][__builtin_ctzll(m)];
        if (delta > 0)
            atomic_fetch_add(b, 1);
        else
            atomic_fetch_sub(b, 1);
    }
}

static adxl_status_t copy_mapped(const adxl_chunk_t *chunk, const adxl_region_t **regions) {
    bool write = chunk->kind == ADXL_CHUNK_WRITE;
    for (uint32_t i = 0; i < chunk->nsegs; i++) {
        const adxl_segment_t *s = &chunk->segs[i];
        uint8_t *remote = shm_mirror_map(regions[i]) + (s->remote - regions[i]->addr);
        if (write)
            memcpy(remote, s->local, s->len);
        else
            memcpy(s->local, remote, s->len);
    }
    return ADXL_SUCCESS;
}

/* Where device memory is on either side: every region is mapped here, a peer's device
 * region through the runtime's IPC, a host block through its memfd, and the runtime
 * copies in the direction the two sides call for (host to host stays a memcpy). */
static adxl_status_t copy_ipc(const shm_link_t *link, const adxl_chunk_t *chunk,
                              const adxl_region_t **regions) {
    void *engine_ctx;
    const adxl_device_runtime_t *rt = adxl_engine_device(link->engine, &engine_ctx);
    bool write = chunk->kind == ADXL_CHUNK_WRITE, local_dev = chunk->local_ctx != NULL;
    adxl_device_scope_t scope;
    adxl_status_t st = adxl_device_enter(rt, local_dev ? chunk->local_ctx : engine_ctx, &scope);
    for (uint32_t i = 0; st == ADXL_SUCCESS && i < chunk->nsegs; i++) {
        const adxl_segment_t *s = &chunk->segs[i];
        const adxl_region_t *r = regions[i];
        uint8_t *dev_map = shm_mirror_dev_map(r);
        uint8_t *remote = (dev_map ? dev_map : shm_mirror_map(r)) + (s->remote - r->addr);
        uint8_t *dst = write ? remote : s->local, *src = write ? s->local : remote;
        bool dst_dev = write ? dev_map != NULL : local_dev;
        bool src_dev = write ? local_dev : dev_map != NULL;
        if (!dst_dev && !src_dev)
            memcpy(dst, src, s->len);
        else
            st = rt->copy(dst, src, s->len,
                          dst_dev && src_dev ? ADXL_COPY_D2D
                          : dst_dev          ? ADXL_COPY_H2D
                                             : ADXL_COPY_D2H);
    }
    adxl_device_leave(rt, &scope);
    return st;
}

static adxl_status_t copy_cma(const shm_link_t *link, const adxl_chunk_t *chunk) {
    struct iovec local[SHM_CMA_IOV], remote[SHM_CMA_IOV];
    bool write = chunk->kind == ADXL_CHUNK_WRITE;
    for (uint32_t first = 0; first < chunk->nsegs;) {
        uint32_t n = chunk->nsegs - first < SHM_CMA_IOV ? chunk->nsegs - first : SHM_CMA_IOV;
        uint64_t want = 0;
        for (uint32_t i = 0; i < n; i++) {
            const adxl_segment_t *s = &chunk->segs[first + i];
            local[i] = (struct iovec){s->local, s->len};
            remote[i] = (struct iovec){(void *)(uintptr_t)s->remote, s->len};
            want += s->len;
        }
        /* A short count means part of the range is not mapped in the target (freed
         * without being deregistered): the kernel stops there, nothing faults here. */
        for (uint64_t done = 0; done < want;) {
            ssize_t got = write ? process_vm_writev(link->target_pid, local, n, remote, n, 0)
                                : process_vm_readv(link->target_pid, local, n, remote, n, 0);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0 || (uint64_t)got != want - done) {
                LOG_WARN("cross-memory copy with %s stopped after %llu of %llu bytes: %s",
                         adxl_peer_name(link->peer),
                         (unsigned long long)(done + (got > 0 ? got : 0)), (unsigned long long)want,
                         got < 0 ? strerror(errno) : "short count");
                return ADXL_FAILED;
            }
            done += (uint64_t)got;
        }
        first += n;
    }
    return ADXL_SUCCESS;
}

/* Carries the chunk one-sidedly and completes it; false (chunk untouched) when only
 * staging can carry it. */
static bool copy_now(shm_link_t *link, adxl_chunk_t *chunk) {
    if (!shm_link_target_alive(link)) {
        adxl_chunk_complete(chunk, atomic_load(&link->fail_status));
        return true;
    }
    const adxl_region_t *stack_regions[64];
    const adxl_region_t **regions =
        chunk->nsegs <= 64 ? stack_regions : malloc(chunk->nsegs * sizeof(*regions));
    if (!regions) {
        adxl_chunk_complete(chunk, ADXL_RESOURCE_EXHAUSTED);
        return true;
    }
    shm_shared_t *sh = link->shared;
    pthread_rwlock_rdlock(&link->view->lock);
    copy_path_t path = choose(link, chunk, regions);
    adxl_status_t st = ADXL_FAILED;
    if (path == PATH_NONE)
        LOG_WARN("device memory for %s: the peer's region is no longer mapped here",
                 adxl_peer_name(link->peer));
    if (path == PATH_MAPPED || path == PATH_CMA || path == PATH_IPC) {
        bool user = chunk->user_memory;
        if (user && !adxl_req_guard_enter(chunk->req)) {
            st = ADXL_TIMEOUT; /* the caller gave up; its memory is no longer ours */
        } else {
            uint32_t epoch = atomic_load(&sh->epoch) & 1u;
            uint64_t buckets = busy_buckets(chunk, regions);
            count_busy(sh, epoch, buckets, 1);
            if (still_published(link, chunk, regions))
                st = path == PATH_MAPPED ? copy_mapped(chunk, regions)
                     : path == PATH_IPC  ? copy_ipc(link, chunk, regions)
                                         : copy_cma(link, chunk);
            else if (chunk->local_ctx)
                path = PATH_NONE; /* revoked meanwhile, and staging cannot take it */
            else
                path = PATH_STAGING; /* revoked meanwhile: the target answers for it */
            count_busy(sh, epoch, buckets, -1);
            if (user) adxl_req_guard_leave(chunk->req);
        }
    }
    pthread_rwlock_unlock(&link->view->lock);
    if (regions != stack_regions) free(regions);
    if (path == PATH_STAGING) return false;
    /* The bytes may have landed in memory of a target that died meanwhile: fail. */
    if (st == ADXL_SUCCESS && !shm_link_target_alive(link)) st = atomic_load(&link->fail_status);
    static const size_t counted[] = {[PATH_MAPPED] = offsetof(adxl_stats_t, bytes_mapped),
                                     [PATH_CMA] = offsetof(adxl_stats_t, bytes_cma),
                                     [PATH_IPC] = offsetof(adxl_stats_t, bytes_device_mapped)};
    if (st == ADXL_SUCCESS) adxl_engine_count(link->engine, counted[path], chunk->bytes);
    completing++;
    adxl_chunk_complete(chunk, st);
    completing--;
    return true;
}

void shm_copy_run(shm_link_t *link, adxl_chunk_t *chunk) {
    if (!copy_now(link, chunk)) shm_staging_post(link, chunk);
}

bool shm_copy_try(shm_link_t *link, adxl_chunk_t *chunk) {
    if (link->path == ADXL_SHM_PATH_STAGING && !chunk->local_ctx) return false;
    if (completing == 0) return copy_now(link, chunk);
    pthread_mutex_lock(&link->lock);
    bool closed = link->closed;
    if (!closed) adxl_chunk_fifo_push(&link->deferred, chunk);
    pthread_mutex_unlock(&link->lock);
    if (closed)
        adxl_chunk_complete(chunk, atomic_load(&link->fail_status));
    else
        shm_link_wake(link);
    return true;
}

bool shm_device_direct(adxl_link_t *l, const adxl_transfer_op_desc_t *descs, size_t num_descs) {
    shm_link_t *link = (shm_link_t *)l;
    if (link->path != ADXL_SHM_PATH_AUTO) return false;
    bool all = true;
    pthread_rwlock_rdlock(&link->view->lock);
    for (size_t i = 0; all && i < num_descs; i++) {
        const adxl_region_t *r = find_region(link, descs[i].remote_addr, descs[i].len);
        all = r && (shm_mirror_dev_map(r) || shm_mirror_map(r));
    }
    pthread_rwlock_unlock(&link->view->lock);
    return all;
}
