/*
 * Read-ahead on a second thread: a helper prepares the items of a list in order, a bounded
 * number ahead of the one thread that consumes them, and releases each item once the consumer
 * is done with it; the consumer shares that work whenever it would otherwise wait.  When no
 * helper thread can be started, the consumer prepares and releases each item itself, just
 * before and after using it, so the results are the same either way.
 *
 * Context: ordinary code only (the reporter thread or caller context); never a signal handler.
 * One consumer thread per gmr__ahead.
 */
#ifndef GMR_UTIL_AHEAD_H
#define GMR_UTIL_AHEAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct gmr__ahead {
    /* Set by the caller before gmr__ahead_start(). */
    void (*prepare)(void *ctx, int i); /* prepares item @i; on the helper or the consumer */
    void (*release)(void *ctx, int i); /* item @i is no longer used; likewise */
    void *ctx;
    int n;         /* items 0 .. n-1 */
    int lookahead; /* items prepared and not yet put, at most */

    /* Private. */
    pthread_t thread;
    bool running;                 /* @thread exists and is not joined yet */
    _Atomic unsigned char *ready; /* owned; @n flags: item i is prepared */
    _Atomic int prepare_next;     /* the next item to prepare (by either thread) */
    _Atomic int release_next;     /* the next item to release (by either thread) */
    _Atomic int published;        /* futex word: items the helper prepared */
    _Atomic int done;             /* futex word: items the consumer is done with */
    _Atomic int consumer_waits;   /* the consumer sleeps on @published */
    _Atomic int helper_needs;     /* the helper sleeps on @done until it reaches this */
    _Atomic bool stop;            /* the consumer is finishing: claim nothing more */
};

/*
 * gmr__ahead_start() - start the helper on @a (its public members set).  Items are prepared
 * in order, at most @a->lookahead before the consumer is done with them, each by whichever of
 * the helper and the consumer claims it first.  The helper blocks every signal.
 * When the helper cannot be started, nothing is wrong: the consumer works alone.
 */
void gmr__ahead_start(struct gmr__ahead *a);

/*
 * gmr__ahead_get() - the consumer gets item @i (the next in order) prepared.  While the helper
 * is still on it, the consumer prepares items further ahead itself, or releases items.
 */
void gmr__ahead_get(struct gmr__ahead *a, int i);

/* gmr__ahead_put() - the consumer is done with item @i (the one it got last). */
void gmr__ahead_put(struct gmr__ahead *a, int i);

/*
 * gmr__ahead_finish() - stop the helper, at any point (also after an error), and release the
 * items prepared and not released yet.
 */
void gmr__ahead_finish(struct gmr__ahead *a);

#endif /* GMR_UTIL_AHEAD_H */
