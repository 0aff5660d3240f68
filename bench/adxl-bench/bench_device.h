/*
 * The bench's own way into device memory (--memory device, --target-memory device): the
 * runtime the engine uses (CUDA's driver API or AscendCL), loaded with dlopen from the
 * same library (libcuda.so.1 / libascendcl.so, or ADXL_CUDA_LIBRARY /
 * ADXL_ASCEND_LIBRARY), to allocate device memory and to move the verification pattern
 * in and out. The bench never touches device memory from the CPU: every byte goes through
 * the runtime's copies.
 *
 * One runtime per process, on device 0. A real CUDA does not survive fork(), so a process
 * opens it only once it will not fork again (a one-host run's target is exec'd).
 */
#ifndef ADXL_BENCH_DEVICE_H
#define ADXL_BENCH_DEVICE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Loads the runtime `name` ("cuda", "ascend", or "auto": the one that loads and has a
 * device; both is an error asking to choose) and makes device 0 current on the calling
 * thread. Once per process; 0, or -1 after printing why.
 */
int bench_device_open(const char *name);

/* The runtime opened ("cuda" or "ascend"), NULL before bench_device_open. */
const char *bench_device_name(void);

/* Makes the opened runtime's device 0 current on the calling thread, as every thread that
 * allocates, copies or registers device memory needs. 0, or -1 (printed). */
int bench_device_enter(void);

/* NULL after printing why. */
void *bench_device_alloc(size_t len);
void bench_device_free(void *dev);

/* Synchronous copies host -> device and device -> host; 0, or -1 (printed). */
int bench_device_put(void *dev, const void *host, size_t len);
int bench_device_get(void *host, const void *dev, size_t len);

/* Drops the context reference bench_device_open took; the library stays loaded. */
void bench_device_close(void);

#endif /* ADXL_BENCH_DEVICE_H */
