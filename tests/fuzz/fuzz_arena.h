/*
 * Target memory for the fuzzers that move payload: a mapping at a fixed address (so that
 * corpus files can name addresses in it), holding registered regions among canary bytes
 * and inaccessible guard pages, and a registry that knows the regions. A harness writes
 * a frame's payload into memory only where the engine's check allowed it, after a
 * reference check agreed; fuzz_arena_intact() then proves no byte outside the regions
 * changed, and a guard page turns a wild access into a crash.
 *
 *   page 0      guard
 *   pages 1-2   region A  [ARENA + 0x1000, +0x2000)
 *   page 3      region B  [ARENA + 0x3000, +0x1000)   (adjacent to A: one span may not
 *                                                      cover both)
 *   page 4      canary only
 *   page 5      region C  [ARENA + 0x5100, +0x200)    (canary around it, same page)
 *   page 6      guard
 *   page 7      region D  [ARENA + 0x7011, +1)        (one byte)
 *   page 8-15   guard
 */
#ifndef ADXL_FUZZ_ARENA_H
#define ADXL_FUZZ_ARENA_H

#include "core/registry.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FUZZ_ARENA ((uint64_t)0x10000000)
#define FUZZ_ARENA_PAGES 16
#define FUZZ_PAGE 4096
#define FUZZ_CANARY 0xA5

typedef struct {
    uint64_t addr;
    uint64_t len;
} fuzz_range_t;

#define FUZZ_REGIONS 4
extern const fuzz_range_t fuzz_regions[FUZZ_REGIONS];

/* Maps the arena (once) and returns its registry; aborts if the address is taken. */
adxl_registry_t *fuzz_arena(void);
/* Refills every accessible byte outside the regions with the canary. */
void fuzz_arena_reset(void);
/* True when every accessible byte outside the regions still holds the canary. */
bool fuzz_arena_intact(void);
/* The reference: does [addr, addr + len) lie inside one region (len > 0, no wrap)? */
bool fuzz_arena_inside(uint64_t addr, uint64_t len);

#endif
