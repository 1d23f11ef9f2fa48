/*
 * Allocation wrappers.  Every allocation of the library goes through these so that tests can
 * make the N-th one fail (see gmr__alloc_fail_after()).
 * Context: ordinary code only (reporter thread, caller context); never a signal handler.
 */
#ifndef GMR_UTIL_ALLOC_H
#define GMR_UTIL_ALLOC_H

#include <stddef.h>

void *gmr__malloc(size_t size);
void *gmr__calloc(size_t n, size_t size);
void *gmr__realloc(void *p, size_t size);
char *gmr__strdup(const char *s);
char *gmr__strndup(const char *s, size_t n);
void gmr__free(void *p);

/* GMR_CLEANUP helper: frees *(void **)p. */
void gmr__freep(void *p);

/*
 * Test hook: the allocation after @n more successful ones fails (returns NULL), and every one
 * after it too; n < 0 turns failures off.  The library never changes jansson's allocator (it
 * is process-wide and may belong to the application); tests route jansson here themselves
 * with json_set_alloc_funcs(gmr__malloc, gmr__free).
 */
void gmr__alloc_fail_after(long n);

#endif /* GMR_UTIL_ALLOC_H */
