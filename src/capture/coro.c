/*
 * The coroutine registry: gmr_coro_register() and gmr_coro_unregister() over a pool of
 * handles.  The pool is a set of slabs allocated as registrations need them and never freed,
 * so a report may look at any handle at any time (see coro.h); free handles form a lock-free
 * stack whose head carries a tag against ABA.
 * Context: caller context, any thread; nothing here locks.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "capture/coro.h"
#include "util/alloc.h"
#include "util/macro.h"

/* Slab k holds the handles with index k * GMR_CORO_SLAB ... (k + 1) * GMR_CORO_SLAB - 1. */
static _Atomic(struct gmr_coro *) slabs[GMR_CORO_SLABS];
/* The free list: tag << 32 | (index + 1) of its first handle; index + 1 == 0: empty. */
static _Atomic uint64_t free_head;
/* Registrations so far; numbers coroutines registered with id 0. */
static _Atomic uint64_t registrations;
/* Handles in use, and how many may be (a test hook lowers it). */
static _Atomic uint32_t live;
static _Atomic uint32_t limit = GMR_CORO_MAX;

struct gmr_coro *gmr__coro_slab(unsigned k)
{
    return k < GMR_CORO_SLABS ? atomic_load_explicit(&slabs[k], memory_order_acquire) : NULL;
}

void gmr__coro_set_limit(uint32_t n)
{
    atomic_store(&limit, n ? GMR_MIN(n, GMR_CORO_MAX) : GMR_CORO_MAX);
}

uint32_t gmr__coro_count(void)
{
    return atomic_load(&live);
}

static struct gmr_coro *handle(uint32_t index)
{
    return atomic_load_explicit(&slabs[index / GMR_CORO_SLAB], memory_order_acquire) +
           index % GMR_CORO_SLAB;
}

/* Pushes the chain @first .. @last (already linked through next_free) on the free list. */
static void push_chain(struct gmr_coro *first, struct gmr_coro *last)
{
    uint64_t head = atomic_load_explicit(&free_head, memory_order_relaxed);
    uint64_t next;
    do {
        atomic_store_explicit(&last->next_free, (uint32_t)head, memory_order_relaxed);
        next = ((head >> 32) + 1) << 32 | (uint64_t)(first->index + 1);
    } while (!atomic_compare_exchange_weak_explicit(&free_head, &head, next, memory_order_release,
                                                    memory_order_relaxed));
}

static struct gmr_coro *pop(void)
{
    uint64_t head = atomic_load_explicit(&free_head, memory_order_acquire);
    for (;;) {
        uint32_t first = (uint32_t)head;
        if (first == 0)
            return NULL;
        struct gmr_coro *c = handle(first - 1);
        /* @c may be popped and pushed again meanwhile: the tag makes the exchange fail then. */
        uint32_t next = atomic_load_explicit(&c->next_free, memory_order_relaxed);
        uint64_t want = ((head >> 32) + 1) << 32 | next;
        if (atomic_compare_exchange_weak_explicit(&free_head, &head, want, memory_order_acquire,
                                                  memory_order_acquire))
            return c;
    }
}

/*
 * Adds a slab to the pool.  Two threads may grow at once: the one whose slab loses the race
 * for the same place frees it and uses the winner's.
 * Return: 0, -ENOSPC (every slab in use), -ENOMEM.
 */
static int grow(void)
{
    for (unsigned k = 0; k < GMR_CORO_SLABS; k++) {
        if (atomic_load_explicit(&slabs[k], memory_order_acquire))
            continue;
        struct gmr_coro *s = gmr__calloc(GMR_CORO_SLAB, sizeof(*s));
        if (!s)
            return -ENOMEM;
        for (uint32_t i = 0; i < GMR_CORO_SLAB; i++) {
            s[i].index = k * GMR_CORO_SLAB + i;
            atomic_init(&s[i].next_free, i + 1 < GMR_CORO_SLAB ? s[i].index + 2 : 0);
        }
        struct gmr_coro *expected = NULL;
        if (!atomic_compare_exchange_strong_explicit(&slabs[k], &expected, s, memory_order_acq_rel,
                                                     memory_order_acquire)) {
            gmr__free(s);
            return 0;
        }
        push_chain(&s[0], &s[GMR_CORO_SLAB - 1]);
        return 0;
    }
    return -ENOSPC;
}

static void atfork_child(void)
{
    gmr__as_coro_forget_tid();
}

static void register_atfork(void)
{
    (void)pthread_atfork(NULL, NULL, atfork_child);
}

int gmr_coro_register(const char *name, uint64_t id, void *stack, size_t stack_size, gmr_coro **ret)
{
    GMR_RETURN_IF(!ret, -EINVAL);
    GMR_RETURN_IF(stack_size && !stack, -EINVAL);

    static pthread_once_t once = PTHREAD_ONCE_INIT;
    (void)pthread_once(&once, register_atfork);

    if (atomic_fetch_add(&live, 1) >= atomic_load(&limit)) {
        atomic_fetch_sub(&live, 1);
        return -ENOSPC;
    }
    struct gmr_coro *c;
    while (!(c = pop())) {
        int r = grow();
        if (r < 0) {
            atomic_fetch_sub(&live, 1);
            return r;
        }
    }

    uint64_t words[GMR_CORO_NAME_WORDS] = {0};
    if (name)
        memcpy(words, name, strnlen(name, GMR_CORO_NAME_MAX));
    uint64_t n = atomic_fetch_add(&registrations, 1) + 1;

    uint64_t s = gmr__coro_write_begin(c);
    atomic_store_explicit(&c->id, id ? id : n, memory_order_relaxed);
    for (size_t i = 0; i < GMR_CORO_NAME_WORDS; i++)
        atomic_store_explicit(&c->name[i], words[i], memory_order_relaxed);
    atomic_store_explicit(&c->stack_lo, (uintptr_t)stack, memory_order_relaxed);
    atomic_store_explicit(&c->stack_size, (uint64_t)stack_size, memory_order_relaxed);
    atomic_store_explicit(&c->switches, 0, memory_order_relaxed);
    atomic_store_explicit(&c->tid, 0, memory_order_relaxed);
    atomic_store_explicit(&c->uc, 0, memory_order_relaxed);
    atomic_store_explicit(&c->n_callee, 0, memory_order_relaxed);
    atomic_store_explicit(&c->state, GMR_CORO_NEW, memory_order_relaxed);
    gmr__coro_write_end(c, s);
    *ret = c;
    return 0;
}

void gmr_coro_unregister(gmr_coro *c)
{
    if (!c)
        return;
    uint64_t s = gmr__coro_write_begin(c);
    atomic_store_explicit(&c->state, GMR_CORO_FREE, memory_order_relaxed);
    gmr__coro_write_end(c, s);
    push_chain(c, c);
    atomic_fetch_sub(&live, 1);
}
