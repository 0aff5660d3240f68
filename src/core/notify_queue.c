#include "core/notify_queue.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct adxl_notify_source {
    atomic_uint refs;
    uint32_t unread; /* guarded by the queue's lock */
};

struct adxl_notify_entry {
    adxl_notify_entry_t *next;
    adxl_notify_source_t *src;
    size_t bytes; /* counted against the queue's bound */
    char *name;   /* both strings live in the same allocation as the entry */
    char *msg;
};

void adxl_notify_queue_init(adxl_notify_queue_t *q) {
    memset(q, 0, sizeof(*q));
    pthread_mutex_init(&q->lock, NULL);
}

void adxl_notify_queue_destroy(adxl_notify_queue_t *q) {
    adxl_notify_entry_t *e = q->head;
    while (e) {
        adxl_notify_entry_t *next = e->next;
        adxl_notify_source_release(e->src);
        free(e);
        e = next;
    }
    pthread_mutex_destroy(&q->lock);
}

adxl_notify_source_t *adxl_notify_source_new(void) {
    adxl_notify_source_t *src = calloc(1, sizeof(*src));
    if (src) atomic_init(&src->refs, 1);
    return src;
}

void adxl_notify_source_release(adxl_notify_source_t *src) {
    if (src && atomic_fetch_sub(&src->refs, 1) == 1) free(src);
}

adxl_status_t adxl_notify_queue_push(adxl_notify_queue_t *q, adxl_notify_source_t *src,
                                     const char *name, size_t name_len, const char *msg,
                                     size_t msg_len) {
    size_t bytes = sizeof(adxl_notify_entry_t) + name_len + msg_len + 2;
    adxl_notify_entry_t *e = malloc(bytes);
    if (!e) return ADXL_RESOURCE_EXHAUSTED;
    e->next = NULL;
    e->src = src;
    e->bytes = bytes;
    e->name = (char *)(e + 1);
    e->msg = e->name + name_len + 1;
    memcpy(e->name, name, name_len);
    e->name[name_len] = '\0';
    memcpy(e->msg, msg, msg_len);
    e->msg[msg_len] = '\0';

    pthread_mutex_lock(&q->lock);
    if (src->unread >= ADXL_NOTIFY_MAX_UNREAD_PER_LINK ||
        q->bytes + bytes > ADXL_NOTIFY_MAX_QUEUED_BYTES) {
        pthread_mutex_unlock(&q->lock);
        free(e);
        return ADXL_RESOURCE_EXHAUSTED;
    }
    src->unread++;
    atomic_fetch_add(&src->refs, 1);
    if (q->tail)
        q->tail->next = e;
    else
        q->head = e;
    q->tail = e;
    q->count++;
    q->bytes += bytes;
    pthread_mutex_unlock(&q->lock);
    return ADXL_SUCCESS;
}

void adxl_notify_queue_pop(adxl_notify_queue_t *q, adxl_notify_t *out, size_t capacity,
                           size_t *count) {
    adxl_notify_entry_t *taken = NULL;
    size_t n = 0;
    pthread_mutex_lock(&q->lock);
    if (capacity == 0) {
        *count = q->count;
        pthread_mutex_unlock(&q->lock);
        return;
    }
    taken = q->head;
    adxl_notify_entry_t *last = NULL;
    for (adxl_notify_entry_t *e = q->head; e && n < capacity; e = e->next, n++) {
        e->src->unread--;
        q->bytes -= e->bytes;
        last = e;
    }
    if (n > 0) {
        q->head = last->next;
        if (!q->head) q->tail = NULL;
        last->next = NULL;
        q->count -= n;
    }
    pthread_mutex_unlock(&q->lock);

    /* Copy out and free without the lock: a receiving link may be waiting for it. */
    size_t i = 0;
    for (adxl_notify_entry_t *e = n ? taken : NULL; e; i++) {
        adxl_notify_entry_t *next = e->next;
        strcpy(out[i].name, e->name);
        strcpy(out[i].msg, e->msg);
        adxl_notify_source_release(e->src);
        free(e);
        e = next;
    }
    *count = n;
}
