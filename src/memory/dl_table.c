#include "memory/dl_table.h"

#include "core/log.h"

#include <dlfcn.h>
#include <stdlib.h>

void *adxl_dl_bind(const char *runtime, const char *env, const char *default_name,
                   const adxl_dl_symbol_t *symbols, size_t count) {
    const char *path = getenv(env);
    if (!path || !*path) path = default_name;
    /* RTLD_LOCAL: the vendor's symbols must not resolve anyone else's. */
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *why = dlerror();
        LOG_INFO("device runtime %s: cannot load %s (%s; %s names another path)", runtime, path,
                 why ? why : "unknown error", env);
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        *symbols[i].slot = dlsym(lib, symbols[i].name);
        if (!*symbols[i].slot && !symbols[i].optional) {
            LOG_WARN("device runtime %s: %s has no %s; not using it", runtime, path,
                     symbols[i].name);
            dlclose(lib);
            return NULL;
        }
    }
    LOG_INFO("device runtime %s: loaded %s", runtime, path);
    return lib;
}
