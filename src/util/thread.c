/*
 * Library threads, started with every signal blocked (see thread.h).
 * Context: ordinary code only.
 */
#include "config.h"

#include <signal.h>

#include "util/thread.h"

int gmr__thread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *),
                       void *arg)
{
    /* A new thread inherits its creator's mask. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(thread, attr, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}
