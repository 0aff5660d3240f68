/*
 * Test controls of the runtime doubles (tests/doubles/README.md). Not part of either real
 * API: a test reaches them with dlopen() of the same library path the code under test
 * loads, and dlsym(). Counts are of this process only.
 */
#ifndef DEVICE_DOUBLE_H
#define DEVICE_DOUBLE_H

#include <stddef.h>

/* libcuda.so.1 double */
void cuda_double_fail_copies(int n);             /* the next n copies or memsets fail */
void cuda_double_hold_streams(int hold);         /* nonzero: stream workers start nothing */
void cuda_double_limit_memory(size_t bytes);     /* device memory in all (0: unlimited) */
size_t cuda_double_live_allocations(void);       /* cuMemAlloc not yet freed */
size_t cuda_double_live_host_allocations(void);  /* cuMemAllocHost not yet freed */
size_t cuda_double_registered_host_ranges(void); /* cuMemHostRegister not yet undone */
size_t cuda_double_open_ipc_handles(void);       /* cuIpcOpenMemHandle not yet closed */
size_t cuda_double_live_streams(void);           /* cuStreamCreate not yet destroyed */

/* libascendcl.so double */
void acl_double_fail_copies(int n);
void acl_double_hold_streams(int hold);
void acl_double_limit_memory(size_t bytes);
size_t acl_double_live_allocations(void);      /* aclrtMalloc not yet freed */
size_t acl_double_live_host_allocations(void); /* aclrtMallocHost not yet freed */
size_t acl_double_live_streams(void);          /* aclrtCreateStream not yet destroyed */

#endif
