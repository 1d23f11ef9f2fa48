/*
 * Read-ahead on a second thread (see ahead.h).
 *
 * Items are claimed for preparing in order (@prepare_next), by either thread, less than a
 * lookahead ahead of the consumer: by the helper all the time, and by the consumer whenever
 * the item it needs is not ready yet.  A helper that ran out of lookahead sleeps until half of
 * it is free again.  Items the consumer is done with are released by whichever thread claims them
 * first (@release_next): the helper before each item it prepares, the consumer while it waits
 * for the helper.  So the work balances itself between the two threads, whichever kind of
 * work is the slower.  Each side sleeps on a futex word of the other's, and the other makes
 * the wake-up call only when the sleeper has said it sleeps: a pipeline that keeps up makes
 * no system call for its hand-offs.
 *
 * Context: the consumer is the reporter thread or caller context; the helper is a thread of
 * its own with every signal blocked.
 */
#include "config.h"

#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/ahead.h"
#include "util/alloc.h"
#include "util/thread.h"

/* Checks of an item's readiness before the consumer goes to sleep on it. */
#define SPINS 256

static void futex_wait(_Atomic int *word, int seen)
{
    syscall(SYS_futex, (void *)word, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
}

static void futex_wake(_Atomic int *word)
{
    syscall(SYS_futex, (void *)word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/*
 * Releases the next item of the first @done_items, unless another thread claimed it first.
 * Return: false when none of them was left to release.
 */
static bool release_next(struct gmr__ahead *a, int done_items)
{
    int j = atomic_load(&a->release_next);
    if (j >= done_items)
        return false;
    if (atomic_compare_exchange_strong(&a->release_next, &j, j + 1))
        a->release(a->ctx, j);
    return true;
}

/* Helper: sleeps until the consumer is done with @target items or stops the helper. */
static void wait_done(struct gmr__ahead *a, int target)
{
    for (;;) {
        atomic_store(&a->helper_needs, target);
        int seen = atomic_load(&a->done);
        if (seen >= target || atomic_load(&a->stop))
            break;
        futex_wait(&a->done, seen);
    }
    atomic_store(&a->helper_needs, 0);
}

static void *helper_main(void *arg)
{
    struct gmr__ahead *a = arg;
    for (;;) {
        int j = atomic_load(&a->prepare_next);
        int d = atomic_load(&a->done);
        /* @stop is stored before gmr__ahead_finish() bumps @done past the items really done. */
        if (j >= a->n || atomic_load(&a->stop))
            break;
        if (j - d >= a->lookahead) {
            int half = a->lookahead > 1 ? a->lookahead / 2 : 1;
            wait_done(a, j - a->lookahead + half);
            continue;
        }
        while (release_next(a, d))
            ;
        if (!atomic_compare_exchange_strong(&a->prepare_next, &j, j + 1))
            continue; /* the consumer took it */
        a->prepare(a->ctx, j);
        atomic_store(&a->ready[j], 1);
        atomic_fetch_add(&a->published, 1);
        if (atomic_load(&a->consumer_waits))
            futex_wake(&a->published);
    }
    return NULL;
}

void gmr__ahead_start(struct gmr__ahead *a)
{
    a->running = false;
    a->ready = NULL;
    atomic_init(&a->prepare_next, 0);
    atomic_init(&a->release_next, 0);
    atomic_init(&a->published, 0);
    atomic_init(&a->done, 0);
    atomic_init(&a->consumer_waits, 0);
    atomic_init(&a->helper_needs, 0);
    atomic_init(&a->stop, false);
    if (a->n < 2 || a->lookahead < 1)
        return;
    a->ready = gmr__calloc((size_t)a->n, sizeof(*a->ready));
    if (!a->ready)
        return;
    a->running = gmr__thread_create(&a->thread, NULL, helper_main, a) == 0;
    if (!a->running) {
        gmr__free(a->ready);
        a->ready = NULL;
    }
}

void gmr__ahead_get(struct gmr__ahead *a, int i)
{
    if (!a->running) {
        a->prepare(a->ctx, i);
        atomic_store_explicit(&a->prepare_next, i + 1, memory_order_relaxed);
        return;
    }
    /*
     * Until the item is ready, the consumer works instead of waiting: it releases what it is
     * done with and prepares the next unclaimed item (this one, or one further ahead while
     * the helper still works on this one).  It sleeps only when there is nothing to do.
     */
    for (int k = 0;; k++) {
        if (atomic_load(&a->ready[i]))
            return;
        if (release_next(a, i))
            continue;
        int j = atomic_load(&a->prepare_next);
        if (j < a->n && j - i < a->lookahead &&
            atomic_compare_exchange_strong(&a->prepare_next, &j, j + 1)) {
            a->prepare(a->ctx, j);
            atomic_store(&a->ready[j], 1);
            continue;
        }
        if (k >= SPINS)
            break;
    }
    for (;;) {
        atomic_store(&a->consumer_waits, 1);
        int seen = atomic_load(&a->published);
        if (atomic_load(&a->ready[i]))
            break;
        futex_wait(&a->published, seen);
    }
    atomic_store(&a->consumer_waits, 0);
}

void gmr__ahead_put(struct gmr__ahead *a, int i)
{
    if (!a->running) {
        a->release(a->ctx, i);
        atomic_store_explicit(&a->release_next, i + 1, memory_order_relaxed);
        return;
    }
    atomic_store(&a->done, i + 1);
    int needs = atomic_load(&a->helper_needs);
    if (needs > 0 && i + 1 >= needs)
        futex_wake(&a->done);
}

void gmr__ahead_finish(struct gmr__ahead *a)
{
    if (a->running) {
        atomic_store(&a->stop, true);
        /* A helper about to sleep on @done sees it change, so it does not sleep for good. */
        atomic_store(&a->done, INT_MAX);
        futex_wake(&a->done);
        pthread_join(a->thread, NULL);
        a->running = false;
    }
    /* Every item claimed is prepared now. */
    int claimed = atomic_load(&a->prepare_next);
    for (int j = atomic_load(&a->release_next); j < claimed; j++)
        a->release(a->ctx, j);
    atomic_store(&a->release_next, claimed);
    gmr__free(a->ready);
    a->ready = NULL;
}
