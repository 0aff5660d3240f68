/* Creating and initializing an adxl engine with the engine options from the command line. */
#ifndef ADXL_BENCH_ENGINE_H
#define ADXL_BENCH_ENGINE_H

#include <adxl/adxl.h>

#include "bench_args.h"

/* Creates and initializes an engine named local_name; NULL after printing why. */
adxl_engine_t *bench_engine_open(const bench_args_t *args, const char *local_name);

#endif /* ADXL_BENCH_ENGINE_H */
