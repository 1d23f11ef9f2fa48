/*
 * victim_map_main_stack() - make the main thread's stack mapped 256 KiB deep, once, at start.
 *
 * Why: valgrind 3.19 builds the frame of a handler installed with SA_ONSTACK as if it went
 * on an alternate stack, so it never grows the main thread's stack for that frame.  libgmr's
 * handlers carry SA_ONSTACK (a program with an alternate stack, or Go's runtime, requires it);
 * without an alternate stack the kernel, and valgrind, put the frame on the thread's stack,
 * and a signal that arrives when the main thread is only a few pages deep in its stack (a
 * victim waiting in fgets()) then kills the program under valgrind: "Can't extend stack ...
 * during signal delivery for thread 1".  Threads created by pthread_create() have their whole
 * stack mapped and are not affected.  Touching the pages first grows the stack the ordinary
 * way.  Harmless without valgrind.
 */
#ifndef VICTIM_STACK_H
#define VICTIM_STACK_H

#include <stddef.h>

__attribute__((noinline)) static void victim_map_main_stack(void)
{
    volatile char pages[256 * 1024];
    for (size_t i = 0; i < sizeof(pages); i += 1024)
        pages[i] = 0;
    __asm__ volatile("" : : "r"(pages) : "memory");
}

#endif /* VICTIM_STACK_H */
