/* adxl_malloc_mem: page-aligned, zeroed host memory, one memfd-backed shared mapping per
 * block where the kernel allows it (plain anonymous memory otherwise), or device memory
 * from the device runtime, tracked so that adxl_free_mem can refuse pointers it never
 * gave out and knows which runtime a device block goes back to. */
#include "core/malloc_mem.h"

#include "core/log.h"
#include "memory/device.h"
#include "core/region_set.h"

#include <adxl/adxl.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

/* Every live block by address; a host block's tag is its file descriptor + 1 (0: none),
 * a device block's (device set) the runtime it came from. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static adxl_region_set_t g_blocks;

/* A sealed memfd of size bytes, or -1. Sealing size changes means a peer that maps it
 * cannot be made to fault by a truncate, whoever holds the descriptor. */
static int shareable_file(size_t size) {
    int fd = memfd_create("adxl-mem", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return -1;
    if (ftruncate(fd, (off_t)size) != 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Device memory from the one runtime present, in the calling thread's context. */
static adxl_status_t malloc_device(size_t size, void **ptr) {
    const adxl_device_runtime_t *rt = NULL;
    adxl_status_t st = adxl_device_runtime_select(ADXL_DEVICE_RUNTIME_AUTO, &rt);
    if (st != ADXL_SUCCESS) return st;
    if (!rt) {
        LOG_ERROR("device memory: no device runtime here (looked for libcuda.so.1 and "
                  "libascendcl.so; ADXL_CUDA_LIBRARY / ADXL_ASCEND_LIBRARY name others)");
        return ADXL_UNSUPPORTED;
    }
    void *p = NULL;
    if (rt->device_alloc(size, &p) != ADXL_SUCCESS) return ADXL_RESOURCE_EXHAUSTED;
    pthread_mutex_lock(&g_lock);
    adxl_region_t *block = adxl_region_set_insert(&g_blocks, (uintptr_t)p, size, (void *)rt);
    bool added = block != NULL;
    if (added) block->device = true;
    pthread_mutex_unlock(&g_lock);
    if (!added) {
        (void)rt->device_free(p);
        return ADXL_RESOURCE_EXHAUSTED;
    }
    *ptr = p;
    return ADXL_SUCCESS;
}

adxl_status_t adxl_malloc_mem(adxl_mem_type_t type, size_t size, void **ptr) {
    if (!ptr) return PARAM_INVALID("ptr out-pointer is NULL");
    if (type == ADXL_MEM_DEVICE) {
        if (size == 0) return PARAM_INVALID("size is 0");
        return malloc_device(size, ptr);
    }
    if (type != ADXL_MEM_HOST) return PARAM_INVALID("unknown memory type %d", (int)type);
    if (size == 0) return PARAM_INVALID("size is 0");
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (size > SIZE_MAX - 2 * page || size > (size_t)INT64_MAX) return ADXL_RESOURCE_EXHAUSTED;
    size_t total = (size + page - 1) / page * page;
    int fd = shareable_file(total);
    uint8_t *base =
        fd >= 0 ? mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
                : mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        if (fd >= 0) close(fd);
        return ADXL_RESOURCE_EXHAUSTED;
    }
    pthread_mutex_lock(&g_lock);
    bool added = adxl_region_set_insert(&g_blocks, (uintptr_t)base, total,
                                        (void *)(intptr_t)(fd + 1)) != NULL;
    pthread_mutex_unlock(&g_lock);
    if (!added) {
        munmap(base, total);
        if (fd >= 0) close(fd);
        return ADXL_RESOURCE_EXHAUSTED;
    }
    *ptr = base;
    return ADXL_SUCCESS;
}

adxl_status_t adxl_free_mem(void *ptr) {
    if (!ptr) return PARAM_INVALID("ptr is NULL");
    pthread_mutex_lock(&g_lock);
    adxl_region_t *block = adxl_region_set_containing(&g_blocks, (uintptr_t)ptr, 1);
    bool known = block && block->addr == (uintptr_t)ptr;
    adxl_region_t found = known ? *block : (adxl_region_t){0};
    if (known) adxl_region_set_remove(&g_blocks, block);
    pthread_mutex_unlock(&g_lock);
    if (!known)
        return PARAM_INVALID("%p was not allocated by adxl_malloc_mem (or already freed)", ptr);
    if (found.device) {
        const adxl_device_runtime_t *rt = found.tag;
        return rt->device_free(ptr) == ADXL_SUCCESS ? ADXL_SUCCESS : ADXL_FAILED;
    }
    munmap((void *)found.addr, found.len);
    int fd = (int)(intptr_t)found.tag - 1;
    if (fd >= 0) close(fd);
    return ADXL_SUCCESS;
}

int adxl_malloc_mem_share(uintptr_t addr, size_t len, size_t *block_len) {
    int fd = -1;
    pthread_mutex_lock(&g_lock);
    const adxl_region_t *block = adxl_region_set_containing(&g_blocks, addr, len);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (block && !block->device && block->tag && block->addr == addr && block->len - len < page) {
        fd = fcntl((int)(intptr_t)block->tag - 1, F_DUPFD_CLOEXEC, 0);
        *block_len = block->len;
    }
    pthread_mutex_unlock(&g_lock);
    return fd;
}

adxl_status_t adxl_export_shareable_handle(void *ptr, void *handle, size_t handle_len) {
    if (!ptr) return PARAM_INVALID("ptr is NULL");
    if (!handle || handle_len == 0) return PARAM_INVALID("handle buffer is NULL or empty");
    pthread_mutex_lock(&g_lock);
    const adxl_region_t *block = adxl_region_set_containing(&g_blocks, (uintptr_t)ptr, 1);
    bool ours = block && block->addr == (uintptr_t)ptr;
    pthread_mutex_unlock(&g_lock);
    if (!ours)
        return PARAM_INVALID("%p was not allocated by adxl_malloc_mem (or already freed)", ptr);
    /* Fabric handles name device memory that the fabric can reach from other hosts; host
     * memory has none (same-host peers share it through the shm transport instead). */
    LOG_ERROR("no fabric memory here: %p cannot be exported as a shareable handle", ptr);
    return ADXL_UNSUPPORTED;
}
