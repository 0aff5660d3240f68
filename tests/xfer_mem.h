/*
 * The memory the tests/test_xfer_*.c programs transfer: host memory, or, with
 * ADXL_TEST_DEVICE set (their _cuda and _ascend variants), device memory of that runtime
 * on both sides (tests/device_util.h: the doubles of tests/doubles/ in CI, whose device
 * memory faults on any CPU access). The tests touch transfer memory only through the
 * helpers below, which go through the runtime for device memory. Memory a test means as
 * host memory (left unregistered, or from plain malloc: host memory by ADXL's rule) is
 * not from xc_alloc, and the helpers leave it to the CPU.
 *
 * The runtime is per process (a real CUDA does not survive fork()): a forked peer opens
 * its own, and a test forks its peers before this process loads the runtime, i.e. before
 * its first engine or device allocation (xc_peer_start checks that).
 */
#ifndef ADXL_TESTS_XFER_MEM_H
#define ADXL_TESTS_XFER_MEM_H

#include "device_util.h"

#include <pthread.h>

/* Does this run put device memory on both sides? */
static inline bool xc_device_run(void) {
    return tdev_kind() != NULL;
}

/* The device blocks from xc_alloc, so that each helper knows how to reach a pointer. */
typedef struct {
    uintptr_t base;
    size_t len;
} xc_dev_block_t;

#define XC_MAX_DEV_BLOCKS 64
static xc_dev_block_t xc_dev_blocks[XC_MAX_DEV_BLOCKS];
static pthread_mutex_t xc_dev_lock = PTHREAD_MUTEX_INITIALIZER;
static bool xc_runtime_opened;
/* The runtime's context is per thread: each thread that touches device memory makes
 * device 0 current first. */
static _Thread_local bool xc_thread_on_device;

static inline bool xc_runtime_ready(void) {
    pthread_mutex_lock(&xc_dev_lock);
    bool ok = xc_runtime_opened || (xc_runtime_opened = tdev_open());
    pthread_mutex_unlock(&xc_dev_lock);
    if (ok && !xc_thread_on_device) ok = xc_thread_on_device = tdev_use(0);
    if (!ok) fprintf(stderr, "xfer_mem: the %s runtime is not usable\n", tdev_kind());
    return ok;
}

/* Has this process loaded the runtime (itself, or an engine of it)? */
static inline bool xc_runtime_loaded(void) {
    if (!xc_device_run()) return false;
    bool cuda = strcmp(tdev_kind(), "cuda") == 0;
    const char *path = getenv(cuda ? "ADXL_CUDA_LIBRARY" : "ADXL_ASCEND_LIBRARY");
    void *lib =
        dlopen(path ? path : (cuda ? "libcuda.so.1" : "libascendcl.so"), RTLD_NOW | RTLD_NOLOAD);
    if (lib) dlclose(lib);
    return lib != NULL || xc_runtime_opened;
}

/* Is [p, p + len) device memory from xc_alloc? */
static inline bool xc_is_device(const void *p, size_t len) {
    if (!xc_device_run()) return false;
    uintptr_t a = (uintptr_t)p;
    bool found = false;
    pthread_mutex_lock(&xc_dev_lock);
    for (size_t i = 0; i < XC_MAX_DEV_BLOCKS && !found; i++)
        found = xc_dev_blocks[i].len && a >= xc_dev_blocks[i].base &&
                a - xc_dev_blocks[i].base <= xc_dev_blocks[i].len &&
                len <= xc_dev_blocks[i].len - (a - xc_dev_blocks[i].base);
    pthread_mutex_unlock(&xc_dev_lock);
    return found;
}

static inline void *xc_alloc_host(size_t size) {
    void *p = NULL;
    adxl_status_t st = adxl_malloc_mem(ADXL_MEM_HOST, size, &p);
    if (st != ADXL_SUCCESS) {
        fprintf(stderr, "adxl_malloc_mem(%zu): %s\n", size, adxl_status_str(st));
        return NULL;
    }
    return p;
}

/* Transfer memory: device memory in a device run, else host memory. */
static inline void *xc_alloc(size_t size) {
    if (!xc_device_run()) return xc_alloc_host(size);
    if (!xc_runtime_ready()) return NULL;
    void *p = tdev_alloc(size);
    if (!p) {
        fprintf(stderr, "xfer_mem: %s device allocation of %zu bytes failed\n", tdev_kind(), size);
        return NULL;
    }
    pthread_mutex_lock(&xc_dev_lock);
    size_t i = 0;
    while (i < XC_MAX_DEV_BLOCKS && xc_dev_blocks[i].len)
        i++;
    if (i < XC_MAX_DEV_BLOCKS) xc_dev_blocks[i] = (xc_dev_block_t){(uintptr_t)p, size};
    pthread_mutex_unlock(&xc_dev_lock);
    if (i == XC_MAX_DEV_BLOCKS) {
        fprintf(stderr, "xfer_mem: more than %d device blocks\n", XC_MAX_DEV_BLOCKS);
        tdev_free(p);
        return NULL;
    }
    return p;
}

/* Frees what xc_alloc or xc_alloc_host returned. */
static inline void xc_free(void *p) {
    if (!p) return;
    if (!xc_is_device(p, 0)) {
        adxl_free_mem(p);
        return;
    }
    pthread_mutex_lock(&xc_dev_lock);
    for (size_t i = 0; i < XC_MAX_DEV_BLOCKS; i++)
        if (xc_dev_blocks[i].base == (uintptr_t)p) xc_dev_blocks[i].len = 0;
    pthread_mutex_unlock(&xc_dev_lock);
    if (xc_runtime_ready()) tdev_free(p);
}

static inline adxl_mem_type_t xc_mem_type(const void *p, size_t len) {
    return xc_is_device(p, len) ? ADXL_MEM_DEVICE : ADXL_MEM_HOST;
}

/* Copies len bytes between host memory and transfer memory p: into p, or out of it. */
static inline bool xc_move(void *host, void *p, size_t len, bool into_p) {
    if (!xc_is_device(p, len)) {
        memcpy(into_p ? p : host, into_p ? host : p, len);
        return true;
    }
    bool ok = xc_runtime_ready() && (into_p ? tdev_put(p, host, len) : tdev_get(host, p, len));
    if (!ok)
        fprintf(stderr, "xfer_mem: copying %zu bytes %s the device failed\n", len,
                into_p ? "onto" : "off");
    return ok;
}

/* Copies len bytes of transfer memory p into host memory. */
static inline bool xc_get(void *host, const void *p, size_t len) {
    return xc_move(host, (void *)(uintptr_t)p, len, false);
}

/* Copies len bytes of host memory into transfer memory p. */
static inline bool xc_put(void *p, const void *host, size_t len) {
    return xc_move((void *)(uintptr_t)host, p, len, true);
}

/* A host copy of [p, p + len) (free it), or NULL after a message. */
static inline uint8_t *xc_read_back(const void *p, size_t len) {
    uint8_t *host = malloc(len ? len : 1);
    if (host && xc_get(host, p, len)) return host;
    free(host);
    return NULL;
}

/* tu_fill's pattern, the complement of it (every byte differs), or one byte value. */
typedef enum { XC_PATTERN, XC_INVERSE, XC_BYTE } xc_content_t;

static inline void xc_make(uint8_t *host, size_t len, xc_content_t what, uint64_t v) {
    if (what == XC_BYTE) {
        memset(host, (int)v, len);
        return;
    }
    tu_fill(host, len, v);
    if (what == XC_INVERSE)
        for (size_t i = 0; i < len; i++)
            host[i] = (uint8_t)~host[i];
}

static inline bool xc_write_content(void *p, size_t len, xc_content_t what, uint64_t v) {
    if (!xc_is_device(p, len)) {
        xc_make(p, len, what, v);
        return true;
    }
    uint8_t *host = malloc(len ? len : 1);
    bool ok = host != NULL;
    if (ok) xc_make(host, len, what, v);
    ok = ok && xc_put(p, host, len);
    free(host);
    return ok;
}

/* Fills transfer memory with tu_fill(seed)'s pattern. */
static inline bool xc_fill(void *p, size_t len, uint64_t seed) {
    return xc_write_content(p, len, XC_PATTERN, seed);
}

/* Fills transfer memory with the bitwise complement of tu_fill(seed). */
static inline bool xc_fill_inverse(void *p, size_t len, uint64_t seed) {
    return xc_write_content(p, len, XC_INVERSE, seed);
}

/* Sets every byte of transfer memory to v. */
static inline bool xc_set(void *p, uint8_t v, size_t len) {
    return xc_write_content(p, len, XC_BYTE, v);
}

/* Does transfer memory hold tu_fill(seed)'s pattern? Prints the first wrong offset. */
static inline bool xc_verify(const void *p, size_t len, uint64_t seed) {
    if (!xc_is_device(p, len)) return tu_verify(p, len, seed);
    uint8_t *host = xc_read_back(p, len);
    bool ok = host && tu_verify(host, len, seed);
    free(host);
    return ok;
}

/* Does every byte of transfer memory hold v? Prints the first that does not. */
static inline bool xc_all_bytes(const void *p, size_t len, uint8_t v) {
    uint8_t *host = xc_read_back(p, len);
    if (!host) return false;
    size_t i = 0;
    while (i < len && host[i] == v)
        i++;
    if (i < len)
        fprintf(stderr, "offset %zu of %zu holds 0x%02x, expected 0x%02x\n", i, len, host[i], v);
    free(host);
    return i == len;
}

/* Compares two ranges of transfer memory; prints the first differing offset. */
static inline bool xc_same(const void *got, const void *want, size_t len, const char *what) {
    uint8_t *g = xc_read_back(got, len), *w = xc_read_back(want, len);
    bool same = g && w && memcmp(g, w, len) == 0;
    for (size_t i = 0; g && w && !same && i < len; i++) {
        if (g[i] != w[i]) {
            fprintf(stderr, "%s: offset %zu of %zu holds 0x%02x, expected 0x%02x\n", what, i, len,
                    g[i], w[i]);
            break;
        }
    }
    free(g);
    free(w);
    return same;
}

#endif
