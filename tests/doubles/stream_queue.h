/*
 * Streams for the runtime doubles: each stream has a worker thread that runs its queued
 * operations in order, so an asynchronous copy returns before its bytes have moved and a
 * caller that reads the destination before synchronizing sees stale data, as on a device.
 */
#ifndef DEVICE_DOUBLE_STREAM_QUEUE_H
#define DEVICE_DOUBLE_STREAM_QUEUE_H

#include "guarded_mem.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct sq_stream sq_stream;

/* NULL when the worker thread or the memory cannot be had. */
sq_stream *sq_create(int device);
/* Runs what is queued, then ends the worker. */
void sq_destroy(sq_stream *s);
/* Whether s is a stream created here and not yet destroyed (a child after fork() has none:
 * their workers stayed in the parent). */
bool sq_is_live(const sq_stream *s);
int sq_device(const sq_stream *s);

/* Queues op (checked already by the caller with gm_check); false when out of memory. */
bool sq_enqueue(sq_stream *s, const gm_op *op);
/* Waits until every queued operation has run; returns the first failure among them since
 * the last synchronize (GM_OK if none) and forgets it. */
gm_status sq_sync(sq_stream *s);

/* While held, no worker starts another operation: a test's way of making "not yet
 * synchronized" last as long as it likes, without sleeping. */
void sq_hold(bool hold);
size_t sq_live_streams(void);

#endif
