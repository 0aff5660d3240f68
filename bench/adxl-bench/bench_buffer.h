/* The initiator's local buffers, allocated (and registered) the way --memory says. */
#ifndef ADXL_BENCH_BUFFER_H
#define ADXL_BENCH_BUFFER_H

#include <stddef.h>
#include <stdint.h>

#include <adxl/adxl.h>

#include "bench_args.h"

typedef struct {
    bench_memory_t kind;
    uint8_t *base;
    size_t len;
    adxl_mem_handle_t handle; /* NULL unless registered */
} bench_buffer_t;

/* Allocates len bytes, touches every page of host memory (so that page faults do not land
 * in the timed loop) and registers them with engine for BENCH_MEM_REGISTERED and
 * BENCH_MEM_DEVICE (device memory: bench_device_open first, and the calling thread must
 * have the device current). 0, or -1 (printed). */
int bench_buffer_alloc(bench_buffer_t *b, bench_memory_t kind, size_t len, adxl_engine_t *engine);

/* Deregisters; needs the engine alive. Reports a failure, returns 0 or -1. */
int bench_buffer_deregister(bench_buffer_t *b, adxl_engine_t *engine);

/* Frees; call after the engine is destroyed, when nothing can touch the memory. */
void bench_buffer_free(bench_buffer_t *b);

#endif /* ADXL_BENCH_BUFFER_H */
