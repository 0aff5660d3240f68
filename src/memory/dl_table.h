/*
 * Binding a vendor library's functions at run time: each runtime file lists the symbols
 * it needs in a table, and one call opens the library and fills the table, or says in the
 * log which library or which symbol was missing.
 */
#ifndef ADXL_MEMORY_DL_TABLE_H
#define ADXL_MEMORY_DL_TABLE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *name;
    void **slot; /* where the address goes (a function pointer, seen as void *) */
    bool optional;
} adxl_dl_symbol_t;

/* Opens the library named by the environment variable env, else default_name (searched
 * the loader's usual way), and binds every symbol. NULL, after closing it, when the
 * library or a required symbol is missing; optional symbols missing are left NULL. */
void *adxl_dl_bind(const char *runtime, const char *env, const char *default_name,
                   const adxl_dl_symbol_t *symbols, size_t count);

#endif
