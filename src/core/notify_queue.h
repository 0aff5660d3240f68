/*
 * Notifies received from peers, oldest first, with a bound on how many one link may
 * leave unread (ADXL's 4096), so that a chatty peer cannot grow us without limit, and one
 * on the bytes all links together may leave queued: a link's unread notifies outlive it,
 * so a peer that keeps opening links would otherwise grow the queue without end.
 */
#ifndef ADXL_NOTIFY_QUEUE_H
#define ADXL_NOTIFY_QUEUE_H

#include <adxl/adxl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define ADXL_NOTIFY_MAX_UNREAD_PER_LINK 4096
/* Counting each notify's strings and bookkeeping: 8192 of the longest, many more small. */
#define ADXL_NOTIFY_MAX_QUEUED_BYTES ((size_t)64 << 20)

/* One per inbound link; outlives the link while its notifies are still queued. */
typedef struct adxl_notify_source adxl_notify_source_t;

typedef struct adxl_notify_entry adxl_notify_entry_t;

typedef struct {
    pthread_mutex_t lock;
    adxl_notify_entry_t *head;
    adxl_notify_entry_t *tail;
    size_t count;
    size_t bytes; /* of everything queued, as counted against ADXL_NOTIFY_MAX_QUEUED_BYTES */
} adxl_notify_queue_t;

void adxl_notify_queue_init(adxl_notify_queue_t *q);
void adxl_notify_queue_destroy(adxl_notify_queue_t *q);

adxl_notify_source_t *adxl_notify_source_new(void);
void adxl_notify_source_release(adxl_notify_source_t *src);

/* ADXL_RESOURCE_EXHAUSTED when src already has the maximum unread, or the queue holds
 * its maximum bytes. Lengths are checked by the caller (at most ADXL_NOTIFY_MAX_LEN each). */
adxl_status_t adxl_notify_queue_push(adxl_notify_queue_t *q, adxl_notify_source_t *src,
                                     const char *name, size_t name_len, const char *msg,
                                     size_t msg_len);
/* Moves up to capacity notifies out, oldest first; *count is how many. capacity 0 only
 * reports how many are queued. */
void adxl_notify_queue_pop(adxl_notify_queue_t *q, adxl_notify_t *out, size_t capacity,
                           size_t *count);

#endif
