/*
 * adxl-bench's command line: what each option means lives in bench_args_usage(), the
 * checks on each value in bench_args_parse().
 */
#ifndef ADXL_BENCH_ARGS_H
#define ADXL_BENCH_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BENCH_MAX_LIST 64
#define BENCH_NAME_LEN 128

typedef enum {
    BENCH_ROLE_LOCAL,     /* no --role: spawn a target here and be the initiator */
    BENCH_ROLE_TARGET,    /* --role target */
    BENCH_ROLE_INITIATOR, /* --role initiator */
} bench_role_t;

typedef enum {
    BENCH_MEM_REGISTERED,   /* adxl_malloc_mem + adxl_register_mem */
    BENCH_MEM_UNREGISTERED, /* adxl_malloc_mem, not registered */
    BENCH_MEM_MALLOC,       /* plain malloc, not registered */
    BENCH_MEM_DEVICE,       /* device memory from the runtime, registered as ADXL_MEM_DEVICE */
} bench_memory_t;

typedef struct {
    bench_role_t role;

    /* Target role. */
    char listen[BENCH_NAME_LEN]; /* engine name to listen on */
    int control_port;            /* -1: engine port + 1 (or OS-chosen for port 0) */
    size_t region_size;          /* bytes the target registers */
    bool target_device;          /* the region is device memory (also a one-host run's) */
    bool exit_on_stdin_eof;      /* internal: set when spawned by a local run */

    /* Initiator role. */
    char target[BENCH_NAME_LEN];  /* the target's engine name, as it printed it */
    char control[BENCH_NAME_LEN]; /* the target's control address; empty: derived */
    char local[BENCH_NAME_LEN];   /* client-only local engine name; empty: derived */
    bool stop_target;             /* ask a remote target to exit when done */

    /* The sweep. */
    bool op_write;
    bool op_read;
    size_t block_sizes[BENCH_MAX_LIST];
    size_t num_block_sizes;
    size_t batch_sizes[BENCH_MAX_LIST];
    size_t num_batch_sizes;
    size_t max_batch_bytes; /* rows with block * batch above this are skipped */
    unsigned threads;
    double duration_s; /* per row, when iters == 0 */
    uint64_t iters;    /* per thread and row; 0: run for duration_s */
    uint64_t max_iters;
    uint64_t warmup;
    unsigned async_depth; /* 0: adxl_transfer_sync */
    bench_memory_t memory;
    bool verify_all;
    int32_t timeout_ms;

    /* Engine options; empty/0 leaves the library default. */
    char transport[8];
    char shm_path[8];     /* ShmPath: auto, cma or staging */
    char buffer_pool[32]; /* "NUM:SIZE_MB" */
    unsigned streams;
    char device_runtime[8]; /* DeviceRuntime: auto, none, cuda or ascend */

    const char *json_path;
} bench_args_t;

/*
 * Fills args from argv. Returns 0 to go on, 1 when --help was printed (exit 0), or
 * -1 after printing why the command line is wrong (exit BENCH_EXIT_USAGE).
 */
int bench_args_parse(int argc, char **argv, bench_args_t *args);

void bench_args_usage(FILE *out);

const char *bench_memory_name(bench_memory_t memory);

/* Whether this process moves device memory of its own (and so needs the runtime): an
 * initiator with --memory device, a target with --target-memory device. */
bool bench_args_local_device(const bench_args_t *args);

/* The runtime the bench itself opens for device memory: --device-runtime, else auto. */
const char *bench_args_runtime(const bench_args_t *args);

/* Parses "4K", "1M", "16M", "1G", "4096" (binary units); 0 on success. */
int bench_parse_size(const char *text, size_t *out);

#endif /* ADXL_BENCH_ARGS_H */
