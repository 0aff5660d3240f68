#include "transit_pool.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

bool adxl_transit_pool_init(adxl_transit_pool_t *pool, uint32_t count, size_t size) {
    memset(pool, 0, sizeof(*pool));
    pthread_mutex_init(&pool->lock, NULL);
    if (count == 0 || size == 0)
        return true;
    void *base = mmap(NULL, (size_t)count * size, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
        return false;
    pool->free_stack = malloc(count * sizeof(uint32_t));
    if (!pool->free_stack) {
        munmap(base, (size_t)count * size);
        return false;
    }
    pool->base = base;
    pool->size = size;
    pool->count = count;
    /* Hand out low indexes first so that a lightly used pool touches few pages. */
    for (uint32_t i = 0; i < count; i++)
        pool->free_stack[i] = count - 1 - i;
    pool->free_count = count;
    return true;
}

void adxl_transit_pool_destroy(adxl_transit_pool_t *pool) {
    if (pool->base)
        munmap(pool->base, (size_t)pool->count * pool->size);
    free(pool->free_stack);
    pthread_mutex_destroy(&pool->lock);
    memset(pool, 0, sizeof(*pool));
}

uint8_t *adxl_transit_pool_try_acquire(adxl_transit_pool_t *pool) {
    uint8_t *buffer = NULL;
    pthread_mutex_lock(&pool->lock);
    if (pool->free_count > 0)
        buffer = pool->base + (size_t)pool->free_stack[--pool->free_count] * pool->size;
    pthread_mutex_unlock(&pool->lock);
    return buffer;
}

void adxl_transit_pool_release(adxl_transit_pool_t *pool, uint8_t *buffer) {
    pthread_mutex_lock(&pool->lock);
    pool->free_stack[pool->free_count++] = (uint32_t)((size_t)(buffer - pool->base) / pool->size);
    pthread_mutex_unlock(&pool->lock);
}
