/* A set of pointers (open addressing), for handles the engine gave out and must recognise
 * without ever dereferencing one it did not give. Not thread-safe. */
#ifndef ADXL_PTR_SET_H
#define ADXL_PTR_SET_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    void **slots;
    size_t capacity; /* a power of two, or 0 */
    size_t count;    /* live entries */
    size_t used;     /* live entries plus tombstones */
} adxl_ptr_set_t;

void adxl_ptr_set_free(adxl_ptr_set_t *set);
bool adxl_ptr_set_add(adxl_ptr_set_t *set, void *p); /* false when out of memory */
bool adxl_ptr_set_contains(const adxl_ptr_set_t *set, const void *p);
bool adxl_ptr_set_remove(adxl_ptr_set_t *set, const void *p); /* false when absent */
/* The entry in slot i (0 <= i < capacity), or NULL for an empty slot: for iteration. */
void *adxl_ptr_set_slot(const adxl_ptr_set_t *set, size_t i);

#endif
