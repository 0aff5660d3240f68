/* What both doubles share besides guarded memory and streams. */
#ifndef DEVICE_DOUBLE_COMMON_H
#define DEVICE_DOUBLE_COMMON_H

#include <stdlib.h>

/* The build hides symbols by default; the runtime API and the test controls are the
 * library's interface. */
#define DD_EXPORT __attribute__((visibility("default")))

#define DD_MAX_DEVICES 16

/* Two devices, or DEVICE_DOUBLE_DEVICES of them (0 to DD_MAX_DEVICES). */
static inline int dd_device_count(void) {
    const char *env = getenv("DEVICE_DOUBLE_DEVICES");
    if (!env || !*env) return 2;
    char *end;
    long n = strtol(env, &end, 10);
    if (*end || n < 0) return 0;
    return n > DD_MAX_DEVICES ? DD_MAX_DEVICES : (int)n;
}

#endif
