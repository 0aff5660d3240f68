/* Local buffers per --memory kind; see bench_buffer.h. */
#include "bench_buffer.h"

#include <stdlib.h>
#include <string.h>

#include "bench_device.h"
#include "bench_util.h"

int bench_buffer_alloc(bench_buffer_t *b, bench_memory_t kind, size_t len, adxl_engine_t *engine) {
    adxl_mem_type_t type = kind == BENCH_MEM_DEVICE ? ADXL_MEM_DEVICE : ADXL_MEM_HOST;
    adxl_status_t st;
    void *p = NULL;

    memset(b, 0, sizeof(*b));
    b->kind = kind;
    if (kind == BENCH_MEM_DEVICE) {
        p = bench_device_alloc(len);
        if (p == NULL) return -1;
    } else if (kind == BENCH_MEM_MALLOC) {
        p = malloc(len);
        if (p == NULL) {
            bench_err("malloc of %zu bytes of local buffer failed", len);
            return -1;
        }
    } else {
        st = adxl_malloc_mem(ADXL_MEM_HOST, len, &p);
        if (st != ADXL_SUCCESS) {
            bench_err_status("adxl_malloc_mem of the local buffer", st);
            return -1;
        }
    }
    /* Device memory is the runtime's: never touched here, not even to fault it in. */
    if (type == ADXL_MEM_HOST) memset(p, 0, len);
    b->base = p;
    b->len = len;
    if (kind == BENCH_MEM_REGISTERED || kind == BENCH_MEM_DEVICE) {
        st = adxl_register_mem(engine, &(adxl_mem_desc_t){(uintptr_t)p, len}, type, &b->handle);
        if (st != ADXL_SUCCESS) {
            bench_err_status(type == ADXL_MEM_DEVICE
                                 ? "adxl_register_mem of the local device buffer"
                                 : "adxl_register_mem of the local buffer",
                             st);
            bench_buffer_free(b);
            return -1;
        }
    }
    return 0;
}

int bench_buffer_deregister(bench_buffer_t *b, adxl_engine_t *engine) {
    adxl_status_t st;

    if (b->handle == NULL) return 0;
    st = adxl_deregister_mem(engine, b->handle);
    b->handle = NULL;
    if (st != ADXL_SUCCESS) {
        bench_err_status("adxl_deregister_mem of the local buffer", st);
        return -1;
    }
    return 0;
}

void bench_buffer_free(bench_buffer_t *b) {
    if (b->base == NULL) return;
    if (b->kind == BENCH_MEM_MALLOC) {
        free(b->base);
    } else if (b->kind == BENCH_MEM_DEVICE) {
        bench_device_free(b->base);
    } else {
        adxl_status_t st = adxl_free_mem(b->base);
        if (st != ADXL_SUCCESS) bench_err_status("adxl_free_mem of the local buffer", st);
    }
    b->base = NULL;
}
