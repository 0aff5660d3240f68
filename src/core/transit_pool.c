#include "core/transit_pool.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MIN_PAGE (64u * 1024u)
#define MAX_PAGES 65536u /* keeps a search over the bitmap short */

bool adxl_transit_pool_init(adxl_transit_pool_t *pool, uint32_t count, size_t buffer_size) {
    memset(pool, 0, sizeof(*pool));
    pthread_mutex_init(&pool->lock, NULL);
    if (count == 0 || buffer_size == 0) return true;
    size_t total = (size_t)count * buffer_size;
    size_t page = MIN_PAGE;
    while (total / page > MAX_PAGES)
        page *= 2;
    /* The pool may be far larger than memory; pages are only backed once used. */
    void *base = mmap(NULL, total, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) return false;
    pool->npages = total / page;
    pool->used = calloc((pool->npages + 63) / 64, sizeof(uint64_t));
    if (!pool->used) {
        munmap(base, total);
        return false;
    }
    pool->base = base;
    pool->total = total;
    pool->max_alloc = buffer_size;
    pool->page = page;
    pool->free_pages = pool->npages;
    return true;
}

void adxl_transit_pool_destroy(adxl_transit_pool_t *pool) {
    if (pool->base) munmap(pool->base, pool->total);
    free(pool->used);
    pthread_mutex_destroy(&pool->lock);
    memset(pool, 0, sizeof(*pool));
}

static bool page_used(const adxl_transit_pool_t *pool, size_t i) {
    return (pool->used[i / 64] >> (i % 64)) & 1u;
}

static void mark(adxl_transit_pool_t *pool, size_t first, size_t n, bool used) {
    for (size_t i = first; i < first + n; i++) {
        if (used)
            pool->used[i / 64] |= 1ull << (i % 64);
        else
            pool->used[i / 64] &= ~(1ull << (i % 64));
    }
}

uint8_t *adxl_transit_pool_try_acquire(adxl_transit_pool_t *pool, size_t want, size_t *got) {
    if (!pool->base || want == 0) return NULL;
    if (want > pool->max_alloc) want = pool->max_alloc;
    size_t need = (want + pool->page - 1) / pool->page;
    uint8_t *buffer = NULL;
    pthread_mutex_lock(&pool->lock);
    size_t best_start = 0, best_len = 0, run_start = 0, run_len = 0;
    for (size_t i = 0; i < pool->npages && best_len < need && pool->free_pages > 0; i++) {
        if (run_len == 0 && i % 64 == 0 && pool->used[i / 64] == UINT64_MAX) {
            i += 63; /* a full word: skip it */
            continue;
        }
        if (page_used(pool, i)) {
            run_len = 0;
            continue;
        }
        if (run_len++ == 0) run_start = i;
        if (run_len > best_len) {
            best_start = run_start;
            best_len = run_len;
        }
    }
    if (best_len > 0) {
        mark(pool, best_start, best_len, true);
        pool->free_pages -= best_len;
        buffer = pool->base + best_start * pool->page;
        *got = best_len * pool->page < want ? best_len * pool->page : want;
    }
    pthread_mutex_unlock(&pool->lock);
    return buffer;
}

void adxl_transit_pool_release(adxl_transit_pool_t *pool, uint8_t *buffer, size_t size) {
    size_t first = (size_t)(buffer - pool->base) / pool->page;
    size_t n = (size + pool->page - 1) / pool->page;
    pthread_mutex_lock(&pool->lock);
    mark(pool, first, n, false);
    pool->free_pages += n;
    pthread_mutex_unlock(&pool->lock);
}

bool adxl_transit_pool_has_free(adxl_transit_pool_t *pool) {
    pthread_mutex_lock(&pool->lock);
    bool any = pool->free_pages > 0;
    pthread_mutex_unlock(&pool->lock);
    return any;
}
