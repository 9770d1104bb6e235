#ifndef AGENTSHOP_LAZY_LOAD_H
#define AGENTSHOP_LAZY_LOAD_H
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
#endif
