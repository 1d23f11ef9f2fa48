/*
 * C++ name demangling through the C++ runtime's __cxa_demangle, found with dlsym() so that the
 * library neither links libstdc++ nor requires it: C programs get raw names.
 * Context: reporter thread or caller context; never a signal handler.
 */
#include "config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/symbolize.h"

typedef char *(*cxa_demangle_fn)(const char *mangled, char *buf, size_t *len, int *status);

static _Atomic(cxa_demangle_fn) demangler;

void gmr__demangle_prime(void)
{
    /*
     * The runtime may be loaded later (dlopen of a C++ plugin), so a miss is looked up again;
     * a hit is kept: libstdc++ is never unloaded once loaded.
     */
    if (atomic_load(&demangler))
        return;
    void *sym = dlsym(RTLD_DEFAULT, "__cxa_demangle");
    cxa_demangle_fn fn;
    memcpy(&fn, &sym, sizeof(fn)); /* object pointer to function pointer, as dlsym(3) says */
    atomic_store(&demangler, fn);
}

char *gmr__demangle(const char *name)
{
    if (!name || strncmp(name, "_Z", 2) != 0)
        return NULL;
    if (!atomic_load(&demangler))
        gmr__demangle_prime();
    cxa_demangle_fn fn = atomic_load(&demangler);
    if (!fn)
        return NULL;
    int status = -1;
    char *out = fn(name, NULL, NULL, &status);
    if (status != 0) {
        free(out);
        return NULL;
    }
    return out;
}
