/*
 * Allocation wrappers with a failure-injection hook for the allocation-failure tests.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

/* Remaining successful allocations before failures start; < 0: never fail. */
static atomic_long fail_countdown = -1;

static int should_fail(void)
{
    long n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    if (n < 0)
        return 0;
    if (n == 0)
        return 1;
    atomic_fetch_sub_explicit(&fail_countdown, 1, memory_order_relaxed);
    return 0;
}

void gmr__alloc_fail_after(long n)
{
    atomic_store(&fail_countdown, n);
}

void *gmr__malloc(size_t size)
{
    if (should_fail())
        return NULL;
    return malloc(size ? size : 1);
}

void *gmr__calloc(size_t n, size_t size)
{
    if (should_fail())
        return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

void *gmr__realloc(void *p, size_t size)
{
    if (should_fail())
        return NULL;
    return realloc(p, size ? size : 1);
}

char *gmr__strdup(const char *s)
{
    return gmr__strndup(s, strlen(s));
}

char *gmr__strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *r = gmr__malloc(len + 1);
    if (!r)
        return NULL;
    memcpy(r, s, len);
    r[len] = '\0';
    return r;
}

void gmr__free(void *p)
{
    free(p);
}

void gmr__freep(void *p)
{
    free(*(void **)p);
    *(void **)p = NULL;
}
