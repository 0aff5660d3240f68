/*
 * The checks a same-host peer's messages and staging requests must pass before the shm
 * transport acts on them. Pure functions, so that the transport's threads and the
 * fuzzer under tests/fuzz/ (fuzz_shm_messages.c) run the very same code.
 */
#ifndef ADXL_SHM_PARSE_H
#define ADXL_SHM_PARSE_H

#include "transport/shm/shm_internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A received packet of got bytes: magic, version, and a text length that is the rest. */
bool shm_msg_valid(const shm_msg_t *msg, size_t got);

/* HELLO: a name of 1..63 printable ASCII bytes (it is logged). */
bool shm_hello_valid(const shm_msg_t *msg);

/* NOTIFY: a name length (arg1) and the message after it, each at most
 * ADXL_NOTIFY_MAX_LEN, and no NUL byte anywhere (the strings handed to the application
 * would differ from what was sent). */
bool shm_notify_valid(const shm_msg_t *msg, size_t *name_len);

/* REGION_ADD: a non-empty range that does not wrap, a slot inside the table, a
 * generation that fits 32 bits and is not 0. */
bool shm_region_add_valid(const shm_msg_t *msg);

/* REGIONS: a count (arg0) of 1..SHM_REGIONS_PER_MSG entries that fill the text exactly. */
bool shm_regions_valid(const shm_msg_t *msg, uint32_t *count);
/* Entry i (< the count shm_regions_valid gave) copied out: false when it is not valid (an
 * addition as REGION_ADD requires, a removal a range and slot as well; no unknown flag,
 * reserved 0). */
bool shm_region_entry(const shm_msg_t *msg, uint32_t i, shm_region_entry_t *entry);

/* A block memfd for a region of len bytes is mapped only when it is whole pages, at least
 * the region and less than one page more. */
bool shm_block_shape_valid(uint64_t len, uint64_t block_len, size_t page);

/* A staging request, as copied out of its slot: a known op, 1..SHM_SLOT_PIECES pieces,
 * each non-empty, not wrapping and inside its descriptor's span, together at most
 * SHM_SLOT_BYTES (*total). */
bool shm_slot_request_valid(uint32_t op, uint32_t npieces, const shm_piece_t *pieces,
                            uint64_t *total);

#endif
