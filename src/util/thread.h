/*
 * Library threads: every thread libgmr starts blocks every signal from its first
 * instruction, so no handler of the application's (or ours) ever runs on it, and no signal
 * meant for the application is delivered to it.
 * Context: ordinary code only (never a signal handler).
 */
#ifndef GMR_UTIL_THREAD_H
#define GMR_UTIL_THREAD_H

#include <pthread.h>

/*
 * gmr__thread_create() - pthread_create() of a thread that starts with every signal blocked.
 * The caller's signal mask is unchanged on return.
 * Return: 0 or an errno value, as pthread_create().
 */
int gmr__thread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *),
                       void *arg);

#endif /* GMR_UTIL_THREAD_H */
