/* A set of pointers (open addressing), for handles the engine gave out and must recognise
 * without ever dereferencing one it did not give. Each entry is a key with a value: a
 * plain set stores the pointer as both; a handle table stores the handle as the key and
 * the object it names as the value. Not thread-safe. */
#ifndef ADXL_PTR_SET_H
#define ADXL_PTR_SET_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    void *key; /* NULL: empty; the set's tombstone marker: removed */
    void *value;
} adxl_ptr_entry_t;

typedef struct {
    adxl_ptr_entry_t *slots;
    size_t capacity; /* a power of two, or 0 */
    size_t count;    /* live entries */
    size_t used;     /* live entries plus tombstones */
} adxl_ptr_set_t;

void adxl_ptr_set_free(adxl_ptr_set_t *set);
bool adxl_ptr_set_add(adxl_ptr_set_t *set, void *p); /* false when out of memory */
bool adxl_ptr_set_contains(const adxl_ptr_set_t *set, const void *p);
bool adxl_ptr_set_remove(adxl_ptr_set_t *set, const void *p); /* false when absent */
/* The value of entry i (0 <= i < capacity), or NULL for an empty slot: for iteration. */
void *adxl_ptr_set_slot(const adxl_ptr_set_t *set, size_t i);

/* As a map: key (non-NULL, not present yet) to value; false when out of memory. */
bool adxl_ptr_set_put(adxl_ptr_set_t *set, void *key, void *value);
/* The value stored under key, or NULL when absent. */
void *adxl_ptr_set_get(const adxl_ptr_set_t *set, const void *key);
/* The key of entry i, or NULL for an empty slot. */
void *adxl_ptr_set_slot_key(const adxl_ptr_set_t *set, size_t i);

/*
 * A new handle value, never given before in this process (values repeat only after 2^60
 * handles on 64-bit machines). Handles given to callers are such values rather than the addresses
 * of the objects they name: a stale handle (released, deregistered, or from an engine since
 * destroyed) can then never name a newer object that happens to sit at the same address.
 */
void *adxl_handle_new(void);

#endif
