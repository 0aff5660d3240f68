/*
 * The transit (buffered-mode) pool: NUM buffers of SIZE bytes. Small items are packed into
 * a buffer and sent as one frame; items larger than a buffer are split across several.
 * Buffers are mapped once at initialize and touched only when used.
 */
#ifndef ADXL_TRANSIT_POOL_H
#define ADXL_TRANSIT_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    pthread_mutex_t lock;
    uint8_t *base;   /* count * size bytes, one mapping */
    size_t size;     /* bytes per buffer */
    uint32_t count;
    uint32_t *free_stack;
    uint32_t free_count;
} adxl_transit_pool_t;

/* count 0 makes an empty pool (buffered mode off). */
bool adxl_transit_pool_init(adxl_transit_pool_t *pool, uint32_t count, size_t size);
void adxl_transit_pool_destroy(adxl_transit_pool_t *pool);
/* A free buffer, or NULL when all are in use; never blocks. */
uint8_t *adxl_transit_pool_try_acquire(adxl_transit_pool_t *pool);
void adxl_transit_pool_release(adxl_transit_pool_t *pool, uint8_t *buffer);

#endif
