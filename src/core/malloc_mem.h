/*
 * adxl_malloc_mem's blocks, as the shm transport sees them: each block is its own memfd
 * (sealed against shrinking, so no peer that maps it can ever fault on a truncated
 * file), which same-host peers may map to copy with no system call.
 */
#ifndef ADXL_MALLOC_MEM_H
#define ADXL_MALLOC_MEM_H

#include <stddef.h>
#include <stdint.h>

/* When [addr, addr+len) covers one whole shareable block (to its last page), a new
 * descriptor of that block's file (the caller closes it) and the block's length;
 * otherwise -1. Only whole blocks are shared: a peer that maps a file can reach all of
 * it, and the mapping must not reach memory that was not registered. */
int adxl_malloc_mem_share(uintptr_t addr, size_t len, size_t *block_len);

#endif
