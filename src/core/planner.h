/*
 * Request planning: choose direct or buffered mode by ADXL's rules, cut a batch into
 * chunks a transport can carry, and feed buffered batches through the transit pool as
 * buffers become free.
 */
#ifndef ADXL_PLANNER_H
#define ADXL_PLANNER_H

#include "core/request.h"

/* Below this, a descriptor makes its whole batch buffered (ADXL's 256 KiB rule). */
#define ADXL_BUFFERED_THRESHOLD (256u * 1024u)
/* Buffered chunks carry at most this much (less if the pool's SIZE is smaller), so that
 * packing one overlaps sending the one before, and a batch spreads over streams. */
#ifndef ADXL_BUFFERED_CHUNK_BYTES
#define ADXL_BUFFERED_CHUNK_BYTES (1024u * 1024u)
#endif
/* Direct-mode chunks carry at most this much, so that one batch spreads over streams. */
#define ADXL_DIRECT_CHUNK_BYTES (4u * 1024u * 1024u)

/* Validated arguments in; *out is a request with its chunks on their way. */
adxl_status_t adxl_planner_submit(adxl_engine_t *engine, adxl_peer_t *peer, adxl_transfer_op_t op,
                                  const adxl_transfer_op_desc_t *descs, size_t num_descs,
                                  uint64_t deadline, adxl_req_t **out);
adxl_status_t adxl_planner_submit_notify(adxl_engine_t *engine, adxl_peer_t *peer, const char *name,
                                         size_t name_len, const char *msg, size_t msg_len,
                                         uint64_t deadline, adxl_req_t **out);
/* Takes a cancelled request out of the wait for transit buffers. */
void adxl_planner_forget(adxl_req_t *req);

#endif
