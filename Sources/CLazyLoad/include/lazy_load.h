#ifndef AGENTSHOP_LAZY_LOAD_H
#define AGENTSHOP_LAZY_LOAD_H
#include <pthread.h>
#include <stddef.h>

// Opens a shared library by its soname and resolves `count` functions into `slots`, for the C shims
// that load their library on first use (CCurl, CLibPQ) instead of linking it: a process that never
// fetches or talks to PostgreSQL does not map, relocate and keep resident their dependency trees.
// Returns 0 when every function was found. Otherwise it returns -1, leaves the library closed and
// writes into `error` (at most `size` bytes) a sentence naming the library, the soname, what failed
// and the Debian package that provides it.
int agentshop_lazy_load(const char *library, const char *soname, const char *package,
                        const char *const *names, void **slots, size_t count,
                        char *error, size_t size);

// The state of one library opened on first use, for a loader.c that lists the functions it calls as an
// X-macro, FUNCTIONS(X): their slots, `load_error` (the sentence, empty once loaded), `loaded()` (opens
// the library on its first call, pthread_once: safe from any thread; 1 when usable) and CALL(name) (the
// resolved function, typed as the library's header declares it).
#define AGENTSHOP_LAZY_LIBRARY(FUNCTIONS, library, soname, package)                                          \
    enum { FUNCTIONS(AGENTSHOP_LAZY_INDEX) agentshop_lazy_count };                                           \
    static const char *const agentshop_lazy_names[] = { FUNCTIONS(AGENTSHOP_LAZY_NAME) };                    \
    static void *agentshop_lazy_slots[agentshop_lazy_count];                                                 \
    static char load_error[512];                                                                             \
    static pthread_once_t agentshop_lazy_once = PTHREAD_ONCE_INIT;                                           \
    static void agentshop_lazy_open(void) {                                                                  \
        agentshop_lazy_load(library, soname, package, agentshop_lazy_names, agentshop_lazy_slots,            \
                            agentshop_lazy_count, load_error, sizeof load_error);                            \
    }                                                                                                        \
    static int loaded(void) {                                                                                \
        pthread_once(&agentshop_lazy_once, agentshop_lazy_open);                                             \
        return load_error[0] == '\0';                                                                        \
    }
#define AGENTSHOP_LAZY_INDEX(name) index_##name,
#define AGENTSHOP_LAZY_NAME(name) #name,
#define CALL(name) ((__typeof__(name) *)agentshop_lazy_slots[index_##name])
#endif
