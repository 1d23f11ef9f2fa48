/*
 * Registered coroutines (the Green Threads section): the handle, the pool handles come from,
 * and the change counter that lets the reporter read a handle while its owner changes it.
 *
 * Each handle has one writer at a time, the application thread that owns the coroutine, and
 * one reader, the report.  Every change is bracketed by gmr__coro_write_begin() and
 * gmr__coro_write_end(): @seq is odd in between and advances by 2 per change, so a reader
 * that sees the same even @seq before and after reading the handle (and the memory it points
 * to) read one consistent state.  Fields are relaxed atomics so the race is defined.
 *
 * Handles live in slabs that are never freed; an unregistered handle returns to a lock-free
 * free list and is reused, its @seq still advancing, so a report never reads freed memory and
 * always notices reuse.
 */
#ifndef GMR_CAPTURE_CORO_H
#define GMR_CAPTURE_CORO_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <gmr/gmr.h>

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "coroutine handles need lock-free 64-bit atomics");
_Static_assert(ATOMIC_POINTER_LOCK_FREE == 2, "coroutine handles need lock-free pointers");

/* Handles per slab; slabs are allocated as registrations need them. */
#define GMR_CORO_SLAB  1024u
#define GMR_CORO_SLABS (GMR_CORO_MAX / GMR_CORO_SLAB)
/* Words of the inline name: GMR_CORO_NAME_MAX bytes and a NUL. */
#define GMR_CORO_NAME_WORDS ((GMR_CORO_NAME_MAX + 1) / 8)
_Static_assert(GMR_CORO_NAME_WORDS * 8 == GMR_CORO_NAME_MAX + 1, "name fills whole words");

/* Values of gmr_coro.state. */
enum gmr__coro_state {
    GMR_CORO_FREE = 0,           /* in the free list */
    GMR_CORO_NEW = 1,            /* registered; neither running nor suspended yet */
    GMR_CORO_RUNNING = 2,        /* on thread @tid */
    GMR_CORO_SUSPENDED_UC = 3,   /* context in the ucontext_t at @uc */
    GMR_CORO_SUSPENDED_REGS = 4, /* context in @sp, @pc, @fp, @callee */
};

struct gmr_coro {
    _Atomic uint64_t seq;                                /* change counter; odd while written */
    _Atomic uint32_t state;                              /* enum gmr__coro_state */
    _Atomic int32_t tid;                                 /* RUNNING: kernel thread id */
    _Atomic uint64_t switches;                           /* times marked suspended */
    _Atomic uintptr_t uc;                                /* SUSPENDED_UC: borrowed ucontext_t */
    _Atomic uintptr_t sp;                                /* SUSPENDED_REGS: stack pointer */
    _Atomic uintptr_t pc;                                /* SUSPENDED_REGS: resume address */
    _Atomic uintptr_t fp;                                /* SUSPENDED_REGS: frame pointer or 0 */
    _Atomic uint32_t flags;                              /* SUSPENDED_REGS: GMR_CORO_PC_EXACT */
    _Atomic uint32_t n_callee;                           /* SUSPENDED_REGS: valid @callee */
    _Atomic uintptr_t callee[GMR_CORO_CALLEE_SAVED_MAX]; /* SUSPENDED_REGS: callee-saved */
    _Atomic uintptr_t stack_lo;                          /* lowest stack address; 0: unknown */
    _Atomic uint64_t stack_size;                         /* bytes; 0: unknown */
    _Atomic uint64_t id;                                 /* shown in the report */
    _Atomic uint64_t name[GMR_CORO_NAME_WORDS];          /* NUL-padded bytes */
    _Atomic uint32_t next_free;                          /* free list: next index + 1; 0: end */
    uint32_t index;                                      /* position in the pool; constant */
};

/* Starts a change of @c; returns the even counter value to pass to gmr__coro_write_end(). */
static inline uint64_t gmr__coro_write_begin(struct gmr_coro *c)
{
    uint64_t s = atomic_load_explicit(&c->seq, memory_order_relaxed);
    atomic_store_explicit(&c->seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release); /* the stores below stay after the odd value */
    return s;
}

static inline void gmr__coro_write_end(struct gmr_coro *c, uint64_t s)
{
    atomic_store_explicit(&c->seq, s + 2, memory_order_release);
}

/*
 * gmr__as_coro_forget_tid() - drop the calling thread's cached thread id (a fork child's
 * thread has a new one).  Context: async-signal-safe.
 */
void gmr__as_coro_forget_tid(void);

/*
 * gmr__coro_slab() - slab @k of the pool, or NULL when it was not allocated (slabs are
 * allocated in order, so none after it is either).  Context: any.
 */
struct gmr_coro *gmr__coro_slab(unsigned k);

/* Test hook: at most @n coroutines registered at once (GMR_CORO_MAX when 0).  Context: any. */
void gmr__coro_set_limit(uint32_t n);

/* Coroutines registered now.  Context: any. */
uint32_t gmr__coro_count(void);

/* Coroutines shown with their details per report; the rest are counted. */
#define GMR_CORO_SHOWN_MAX 256
/* Most stack bytes read per suspended coroutine, from its saved stack pointer up. */
#define GMR_CORO_STACK_READ_MAX (256 * 1024)
/* Reads of a suspended coroutine that changed meanwhile, before the report gives up on it. */
#define GMR_CORO_READ_ATTEMPTS 4

/*
 * gmr__coro_section() - fill the Green Threads section (docs/green-threads.md).
 * @section: the section object (title and type "green_threads" already set)
 * Return: 0 (what could not be read is recorded per coroutine) or -ENOMEM.
 * Context: reporter thread, or caller context when not set up.
 */
int gmr__coro_section(json_t *section);

/*
 * Test hook: called during a report after a suspended coroutine's state was read and before
 * its context and stack are, with the handle; NULL (the default) for none.
 */
extern void (*gmr__coro_read_hook)(struct gmr_coro *c);

#endif /* GMR_CAPTURE_CORO_H */
