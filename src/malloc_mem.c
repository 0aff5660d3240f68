/* adxl_malloc_mem: page-aligned, zeroed host memory from its own mapping, tracked so
 * that adxl_free_mem can refuse pointers it never gave out. */
#include "log.h"
#include "ptr_set.h"

#include <adxl/adxl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

/* The mapping's length sits in a header page just before the returned pointer. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static adxl_ptr_set_t g_blocks;

adxl_status_t adxl_malloc_mem(adxl_mem_type_t type, size_t size, void **ptr) {
    if (!ptr) return PARAM_INVALID("ptr out-pointer is NULL");
    if (type == ADXL_MEM_DEVICE) {
        LOG_ERROR("device memory is not supported by this build");
        return ADXL_UNSUPPORTED;
    }
    if (type != ADXL_MEM_HOST) return PARAM_INVALID("unknown memory type %d", (int)type);
    if (size == 0) return PARAM_INVALID("size is 0");
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (size > SIZE_MAX - 2 * page) return ADXL_RESOURCE_EXHAUSTED;
    size_t total = page + (size + page - 1) / page * page;
    uint8_t *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return ADXL_RESOURCE_EXHAUSTED;
    *(size_t *)base = total;
    void *user = base + page;
    pthread_mutex_lock(&g_lock);
    bool added = adxl_ptr_set_add(&g_blocks, user);
    pthread_mutex_unlock(&g_lock);
    if (!added) {
        munmap(base, total);
        return ADXL_RESOURCE_EXHAUSTED;
    }
    *ptr = user;
    return ADXL_SUCCESS;
}

adxl_status_t adxl_free_mem(void *ptr) {
    if (!ptr) return PARAM_INVALID("ptr is NULL");
    pthread_mutex_lock(&g_lock);
    bool known = adxl_ptr_set_remove(&g_blocks, ptr);
    pthread_mutex_unlock(&g_lock);
    if (!known)
        return PARAM_INVALID("%p was not allocated by adxl_malloc_mem (or already freed)", ptr);
    uint8_t *base = (uint8_t *)ptr - sysconf(_SC_PAGESIZE);
    munmap(base, *(size_t *)base);
    return ADXL_SUCCESS;
}
