/*
 * Small macros shared by the whole library.  GNU extensions are used only through these.
 */
#ifndef GMR_UTIL_MACRO_H
#define GMR_UTIL_MACRO_H

#include <assert.h>
#include <stddef.h>

#define GMR_ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define GMR_MIN(a, b)     ((a) < (b) ? (a) : (b))
#define GMR_MAX(a, b)     ((a) > (b) ? (a) : (b))

#define GMR_UNUSED   __attribute__((unused))
#define GMR_NOINLINE __attribute__((noinline))
#define GMR_INTERNAL __attribute__((visibility("hidden")))
/* Thread-local variables reached without __tls_get_addr (which may allocate): signal-safe. */
#define GMR_TLS_INITIAL_EXEC __attribute__((tls_model("initial-exec")))

/* Public entry points check their arguments with this; the one macro that returns. */
#define GMR_RETURN_IF(cond, err)                                                                   \
    do {                                                                                           \
        if (cond)                                                                                  \
            return (err);                                                                          \
    } while (0)

/*
 * Defensive checks for conditions believed impossible: they assert in debug builds and still
 * take the safe branch in release builds.
 */
#ifdef NDEBUG
#define GMR_ALWAYS(x) (!!(x))
#define GMR_NEVER(x)  (!!(x))
#else
#define GMR_ALWAYS(x) (assert(x), 1)
#define GMR_NEVER(x)  (assert(!(x)), 0)
#endif

/* Run fn(&var) when var goes out of scope. */
#define GMR_CLEANUP(fn) __attribute__((cleanup(fn)))

/* Hand a pointer out of a GMR_CLEANUP variable: returns it and leaves NULL behind. */
#define GMR_TAKE_PTR(p)                                                                            \
    ({                                                                                             \
        __typeof__(p) gmr__tmp_ = (p);                                                             \
        (p) = NULL;                                                                                \
        gmr__tmp_;                                                                                 \
    })

#endif /* GMR_UTIL_MACRO_H */
