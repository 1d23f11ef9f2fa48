/*
 * Code with known names and lines for the symbolizer's unit test (built with -g like the
 * rest of the test).  Each function returns a code address inside itself.
 */
#include <stdint.h>

#include "symbolize-helper.h"

/* The address this function returns to: a return address inside its caller. */
__attribute__((noinline)) uint64_t helper_return_address(void)
{
    return (uint64_t)(uintptr_t)__builtin_return_address(0);
}

__attribute__((noinline)) uint64_t helper_caller(void)
{
    uint64_t pc = helper_return_address(); /* HELPER_CALL_LINE */
    __asm__ volatile("" ::: "memory");
    return pc;
}

static inline __attribute__((always_inline)) uint64_t helper_inlined(void)
{
    uint64_t pc = helper_return_address(); /* HELPER_INLINED_LINE */
    __asm__ volatile("" ::: "memory");
    return pc;
}

__attribute__((noinline)) uint64_t helper_with_inline(void)
{
    uint64_t pc = helper_inlined(); /* HELPER_INLINE_SITE_LINE */
    __asm__ volatile("" ::: "memory");
    return pc;
}
