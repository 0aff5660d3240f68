/*
 * Asynchronous connect and disconnect (HIXL's ConnectAsync/DisconnectAsync): a state per
 * remote name, and one worker thread per operation that runs the ordinary synchronous
 * adxl_peers_connect or adxl_peers_disconnect. A name has at most one operation at a
 * time. Finished workers are joined when the name's next operation starts, and all of
 * them by adxl_connector_stop (finalize), before the links are closed.
 */
#ifndef ADXL_CONNECTOR_H
#define ADXL_CONNECTOR_H

#include "core/engine_name.h"

#include <adxl/adxl.h>

typedef struct adxl_conn_entry adxl_conn_entry_t;

void adxl_connector_init(adxl_engine_t *engine);
/* Joins every worker and forgets every name. Call before the links are closed. */
void adxl_connector_stop(adxl_engine_t *engine);

adxl_status_t adxl_connector_connect(adxl_engine_t *engine, const char *name,
                                     const adxl_engine_addr_t *addr, uint64_t deadline);
adxl_status_t adxl_connector_disconnect(adxl_engine_t *engine, const char *name);
adxl_connect_state_t adxl_connector_state(adxl_engine_t *engine, const char *name);
/* Up to capacity entries; *count is how many were written (or exist, for capacity 0). */
adxl_status_t adxl_connector_states(adxl_engine_t *engine, adxl_connect_status_t *out,
                                    size_t capacity, size_t *count);

#endif
