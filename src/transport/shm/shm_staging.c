/*
 * The initiator's side of the staging ring: the path for memory that neither a mapping
 * nor CMA may reach. A chunk becomes a job that is cut into slot-sized parts as slots
 * come free; WRITE bytes are copied into the slot, READ bytes out of it once the
 * target's thread has answered. Slots belong to the link's lock while ours.
 */
#include "core/log.h"
#include "transport/shm/shm_internal.h"
#include "net/thread_util.h"

#include <stdlib.h>
#include <string.h>

/* Fills slot `index` with the next part of the oldest job. With link->lock held. */
static void fill_slot(shm_link_t *link, uint32_t index, shm_job_t *job) {
    adxl_chunk_t *chunk = job->chunk;
    shm_slot_t *slot = &link->shared->slots[index];
    shm_slot_owner_t *owner = &link->owners[index];
    uint8_t *data = link->ring_data + (size_t)index * SHM_SLOT_BYTES;
    bool write = chunk->kind == ADXL_CHUNK_WRITE;
    bool guarded = chunk->user_memory && write;
    if (guarded && !adxl_req_guard_enter(chunk->req)) {
        /* The caller gave up: place nothing more, finish once the parts out are back. */
        job->status = ADXL_TIMEOUT;
        job->seg = chunk->nsegs;
        return;
    }
    uint32_t n = 0;
    uint64_t used = 0;
    while (job->seg < chunk->nsegs && n < SHM_SLOT_PIECES && used < SHM_SLOT_BYTES) {
        const adxl_segment_t *s = &chunk->segs[job->seg];
        uint64_t len = s->len - job->seg_off;
        if (len > SHM_SLOT_BYTES - used) len = SHM_SLOT_BYTES - used;
        uint8_t *local = s->local + job->seg_off;
        slot->pieces[n] = (shm_piece_t){s->remote + job->seg_off, len, s->span_addr, s->span_len};
        owner->local[n] = local;
        owner->len[n] = len;
        if (write) memcpy(data + used, local, len);
        n++;
        used += len;
        job->seg_off += len;
        if (job->seg_off == s->len) {
            job->seg++;
            job->seg_off = 0;
        }
    }
    if (guarded) adxl_req_guard_leave(chunk->req);
    slot->op = write ? SHM_OP_WRITE : SHM_OP_READ;
    slot->npieces = n;
    slot->status = ADXL_FAILED;
    owner->job = job;
    owner->npieces = n;
    job->parts_out++;
    atomic_store(&slot->state, SHM_SLOT_POSTED);
}

/* Places waiting jobs into free slots; true when any slot was posted. A job whose caller
 * gave up before any part went out is finished at once: it goes on *done. With
 * link->lock held. */
static bool dispatch_locked(shm_link_t *link, shm_job_t **done) {
    bool posted = false;
    for (uint32_t i = 0; i < SHM_RING_SLOTS && link->jobs_head; i++) {
        if (link->owners[i].job) continue;
        shm_job_t *job = link->jobs_head;
        fill_slot(link, i, job);
        posted = posted || link->owners[i].job != NULL;
        if (job->seg == job->chunk->nsegs) {
            link->jobs_head = job->next;
            if (!link->jobs_head) link->jobs_tail = NULL;
            job->next = NULL;
            if (job->parts_out == 0) {
                job->next = *done;
                *done = job;
            }
        }
    }
    return posted;
}

/* The target sleeps only after saying so, and looks at the slots once more after. */
static void ring(shm_link_t *link) {
    if (atomic_load(&link->shared->target_waiting)) adxl_wake(link->doorbell_fd);
}

static void finish(shm_link_t *link, shm_job_t *job) {
    adxl_chunk_t *chunk = job->chunk;
    if (job->status == ADXL_SUCCESS)
        adxl_engine_count(link->engine, offsetof(adxl_stats_t, bytes_staged), chunk->bytes);
    adxl_status_t st = job->status;
    free(job);
    adxl_chunk_complete(chunk, st);
}

static void finish_all(shm_link_t *link, shm_job_t *done) {
    while (done) {
        shm_job_t *next = done->next;
        finish(link, done);
        done = next;
    }
}

void shm_staging_post(shm_link_t *link, adxl_chunk_t *chunk) {
    shm_job_t *job = calloc(1, sizeof(*job));
    if (!job) {
        adxl_chunk_complete(chunk, ADXL_RESOURCE_EXHAUSTED);
        return;
    }
    job->chunk = chunk;
    job->status = ADXL_SUCCESS;
    shm_job_t *done = NULL;
    pthread_mutex_lock(&link->lock);
    bool closed = link->closed;
    bool posted = false;
    if (!closed) {
        if (link->jobs_tail)
            link->jobs_tail->next = job;
        else
            link->jobs_head = job;
        link->jobs_tail = job;
        posted = dispatch_locked(link, &done);
    }
    pthread_mutex_unlock(&link->lock);
    if (closed) {
        free(job);
        adxl_chunk_complete(chunk, atomic_load(&link->fail_status));
        return;
    }
    if (posted) ring(link);
    finish_all(link, done);
}

static adxl_status_t status_from_target(uint32_t st) {
    if (st == ADXL_SUCCESS || st == ADXL_PARAM_INVALID) return (adxl_status_t)st;
    return ADXL_FAILED;
}

/* Takes slot `index`'s answer. With link->lock held. Returns the job when it is done. */
static shm_job_t *collect_slot(shm_link_t *link, uint32_t index) {
    shm_slot_t *slot = &link->shared->slots[index];
    shm_slot_owner_t *owner = &link->owners[index];
    shm_job_t *job = owner->job;
    adxl_chunk_t *chunk = job->chunk;
    adxl_status_t st = status_from_target(slot->status);
    if (st == ADXL_SUCCESS && chunk->kind == ADXL_CHUNK_READ) {
        bool guarded = chunk->user_memory;
        if (!guarded || adxl_req_guard_enter(chunk->req)) {
            const uint8_t *data = link->ring_data + (size_t)index * SHM_SLOT_BYTES;
            for (uint32_t i = 0; i < owner->npieces; i++) {
                memcpy(owner->local[i], data, owner->len[i]);
                data += owner->len[i];
            }
            if (guarded) adxl_req_guard_leave(chunk->req);
        } else {
            st = ADXL_TIMEOUT;
        }
    }
    if (st != ADXL_SUCCESS && job->status == ADXL_SUCCESS) job->status = st;
    owner->job = NULL;
    atomic_store(&slot->state, SHM_SLOT_FREE);
    job->parts_out--;
    return job->seg == chunk->nsegs && job->parts_out == 0 ? job : NULL;
}

void shm_staging_progress(shm_link_t *link) {
    shm_job_t *done = NULL;
    pthread_mutex_lock(&link->lock);
    for (uint32_t i = 0; i < SHM_RING_SLOTS; i++) {
        if (!link->owners[i].job || atomic_load_explicit(&link->shared->slots[i].state,
                                                         memory_order_acquire) != SHM_SLOT_DONE)
            continue;
        shm_job_t *job = collect_slot(link, i);
        if (job) {
            job->next = done;
            done = job;
        }
    }
    bool posted = !link->closed && dispatch_locked(link, &done);
    pthread_mutex_unlock(&link->lock);
    if (posted) ring(link);
    finish_all(link, done);
}

void shm_staging_fail_all(shm_link_t *link, adxl_status_t status) {
    shm_job_t *all = NULL;
    pthread_mutex_lock(&link->lock);
    for (shm_job_t *j = link->jobs_head; j;) {
        shm_job_t *next = j->next;
        j->parts_out = UINT32_MAX; /* marks it collected */
        j->next = all;
        all = j;
        j = next;
    }
    link->jobs_head = link->jobs_tail = NULL;
    for (uint32_t i = 0; i < SHM_RING_SLOTS; i++) {
        shm_job_t *j = link->owners[i].job;
        link->owners[i].job = NULL;
        if (!j || j->parts_out == UINT32_MAX) continue;
        j->parts_out = UINT32_MAX;
        j->next = all;
        all = j;
    }
    pthread_mutex_unlock(&link->lock);
    while (all) {
        shm_job_t *next = all->next;
        all->status = status;
        finish(link, all);
        all = next;
    }
}
