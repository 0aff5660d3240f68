/* Engine creation with the command line's engine options; see bench_engine.h. */
#include "bench_engine.h"

#include <stdio.h>

#include "bench_util.h"

adxl_engine_t *bench_engine_open(const bench_args_t *a, const char *local_name) {
    adxl_option_t options[5];
    size_t n = 0;
    char streams[16];
    adxl_engine_t *engine = NULL;
    adxl_status_t st;
    char what[256];

    /* Only options the user gave: the rest keep the library's defaults, so that a plain
     * run measures adxl as users get it. */
    if (a->transport[0] != '\0') options[n++] = (adxl_option_t){"Transport", a->transport};
    if (a->shm_path[0] != '\0') options[n++] = (adxl_option_t){"ShmPath", a->shm_path};
    if (a->buffer_pool[0] != '\0') options[n++] = (adxl_option_t){"BufferPool", a->buffer_pool};
    if (a->device_runtime[0] != '\0')
        options[n++] = (adxl_option_t){"DeviceRuntime", a->device_runtime};
    if (a->streams != 0) {
        snprintf(streams, sizeof(streams), "%u", a->streams);
        options[n++] = (adxl_option_t){"TcpStreams", streams};
    }

    st = adxl_engine_create(&engine);
    if (st != ADXL_SUCCESS) {
        bench_err_status("adxl_engine_create", st);
        return NULL;
    }
    st = adxl_initialize(engine, local_name, options, n);
    if (st != ADXL_SUCCESS) {
        snprintf(what, sizeof(what), "adxl_initialize(\"%s\")", local_name);
        bench_err_status(what, st);
        adxl_engine_destroy(engine);
        return NULL;
    }
    return engine;
}
