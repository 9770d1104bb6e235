#include "lazy_load.h"
#include <dlfcn.h>
#include <stdio.h>

int agentshop_lazy_load(const char *library, const char *soname, const char *package,
                        const char *const *names, void **slots, size_t count,
                        char *error, size_t size) {
    void *handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        const char *reason = dlerror();
        snprintf(error, size, "%s could not be loaded (%s): %s; install the Debian package %s (apt-get install %s)",
                 library, soname, reason ? reason : "not found", package, package);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        dlerror();
        slots[i] = dlsym(handle, names[i]);
        if (slots[i] == NULL) {
            snprintf(error, size, "%s (%s) lacks the function %s: it is older than this build expects; "
                     "install the current Debian package %s (apt-get install %s)",
                     library, soname, names[i], package, package);
            dlclose(handle);
            for (size_t j = 0; j < count; j++) slots[j] = NULL;
            return -1;
        }
    }
    // The handle stays open for the life of the process: the slots point into it.
    if (size > 0) error[0] = '\0';
    return 0;
}
