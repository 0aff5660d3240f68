/*
 * Shared by the fuzz targets under tests/fuzz/: each defines LLVMFuzzerTestOneInput, which
 * libFuzzer drives (make fuzz) and replay_main.c calls once per corpus file (make test).
 * Every harness feeds its input to the same decoding and checking code the engine runs
 * on bytes from the network, and checks what it gets back against a reference written
 * independently here, so a wrong answer is a crash, not only a wild memory access.
 */
#ifndef ADXL_FUZZ_H
#define ADXL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* assert() is compiled out in release builds; these checks must never be. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Refused input is the normal case here: keep the engine's log quiet unless asked. */
static inline void fuzz_quiet(void) {
    static int done;
    if (!done) {
        setenv("ADXL_LOG_LEVEL", "none", 0);
        done = 1;
    }
}

#endif
