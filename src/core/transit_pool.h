/*
 * The transit (buffered-mode) pool: NUM x SIZE MiB of memory, as ADXL's BufferPool says,
 * handed out in runs of pages rather than whole buffers, so that a request for a few
 * kilobytes holds a few kilobytes and hundreds of small requests can be in flight at
 * once. One allocation is at most SIZE MiB (a "buffer"); items larger than that are
 * split across several. Mapped once at initialize and touched only when used.
 */
#ifndef ADXL_TRANSIT_POOL_H
#define ADXL_TRANSIT_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    pthread_mutex_t lock;
    uint8_t *base;
    size_t total;     /* bytes mapped */
    size_t max_alloc; /* SIZE MiB: the most one allocation gets */
    size_t page;      /* allocation granule */
    size_t npages;
    uint64_t *used; /* one bit per page */
    size_t free_pages;
} adxl_transit_pool_t;

/* count 0 or buffer_size 0 makes an empty pool (buffered mode off). */
bool adxl_transit_pool_init(adxl_transit_pool_t *pool, uint32_t count, size_t buffer_size);
void adxl_transit_pool_destroy(adxl_transit_pool_t *pool);
/*
 * Up to min(want, SIZE) bytes of contiguous pool memory, never blocking: the longest free
 * run up to that size, so fragmentation shrinks chunks rather than stalling them.
 * NULL when the pool is full. *got is the usable size.
 */
uint8_t *adxl_transit_pool_try_acquire(adxl_transit_pool_t *pool, size_t want, size_t *got);
void adxl_transit_pool_release(adxl_transit_pool_t *pool, uint8_t *buffer, size_t size);
bool adxl_transit_pool_has_free(adxl_transit_pool_t *pool);

#endif
