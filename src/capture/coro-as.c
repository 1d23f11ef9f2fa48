/*
 * The coroutine state changes an application makes on every switch: gmr_coro_running(),
 * gmr_coro_suspended(), gmr_coro_suspended_regs() and gmr_coro_suspended_regs_full().  They
 * only store into the handle between the two halves of its change counter (coro.h), so they
 * cost a few nanoseconds and are async-signal-safe: schedulers that preempt coroutines from
 * a signal handler may call them there.
 * Context: async-signal-safe.
 */
#include "config.h"

#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "capture/coro.h"
#include "util/macro.h"

/*
 * The calling thread's kernel id, read once per thread: gettid() is a system call, too slow
 * for every switch.  Initial-exec TLS needs no allocation on first use (signal-safe).
 */
static _Thread_local int32_t cached_tid GMR_TLS_INITIAL_EXEC;

void gmr__as_coro_forget_tid(void)
{
    cached_tid = 0;
}

static int32_t self_tid(void)
{
    int32_t tid = cached_tid;
    if (tid == 0) {
        tid = (int32_t)syscall(SYS_gettid);
        cached_tid = tid;
    }
    return tid;
}

void gmr_coro_running(gmr_coro *c)
{
    if (!c)
        return;
    int32_t tid = self_tid();
    uint64_t s = gmr__coro_write_begin(c);
    atomic_store_explicit(&c->tid, tid, memory_order_relaxed);
    atomic_store_explicit(&c->state, GMR_CORO_RUNNING, memory_order_relaxed);
    gmr__coro_write_end(c, s);
}

/* Counts a suspension; only the owner writes @switches. */
static void count_switch(struct gmr_coro *c)
{
    uint64_t n = atomic_load_explicit(&c->switches, memory_order_relaxed);
    atomic_store_explicit(&c->switches, n + 1, memory_order_relaxed);
}

void gmr_coro_suspended(gmr_coro *c, const void *ucontext)
{
    if (!c)
        return;
    uint64_t s = gmr__coro_write_begin(c);
    atomic_store_explicit(&c->uc, (uintptr_t)ucontext, memory_order_relaxed);
    atomic_store_explicit(&c->state, GMR_CORO_SUSPENDED_UC, memory_order_relaxed);
    count_switch(c);
    gmr__coro_write_end(c, s);
}

void gmr_coro_suspended_regs(gmr_coro *c, uintptr_t sp, uintptr_t pc, uintptr_t fp)
{
    if (!c)
        return;
    uint64_t s = gmr__coro_write_begin(c);
    atomic_store_explicit(&c->sp, sp, memory_order_relaxed);
    atomic_store_explicit(&c->pc, pc, memory_order_relaxed);
    atomic_store_explicit(&c->fp, fp, memory_order_relaxed);
    atomic_store_explicit(&c->flags, 0, memory_order_relaxed);
    atomic_store_explicit(&c->n_callee, 0, memory_order_relaxed);
    atomic_store_explicit(&c->state, GMR_CORO_SUSPENDED_REGS, memory_order_relaxed);
    count_switch(c);
    gmr__coro_write_end(c, s);
}

void gmr_coro_suspended_regs_full(gmr_coro *c, const struct gmr_coro_regs *regs)
{
    /* A caller built with an older header passes a shorter struct: read only what it has. */
    if (!c || !regs || regs->size < offsetof(struct gmr_coro_regs, fp) + sizeof(regs->fp))
        return;
    unsigned n = 0;
    if (regs->size >= offsetof(struct gmr_coro_regs, callee_saved)) {
        size_t room = (regs->size - offsetof(struct gmr_coro_regs, callee_saved)) /
                      sizeof(regs->callee_saved[0]);
        n = regs->n_callee_saved;
        if (n > room)
            n = (unsigned)room;
        if (n > GMR_CORO_CALLEE_SAVED_MAX)
            n = GMR_CORO_CALLEE_SAVED_MAX;
    }
    uint64_t s = gmr__coro_write_begin(c);
    atomic_store_explicit(&c->sp, regs->sp, memory_order_relaxed);
    atomic_store_explicit(&c->pc, regs->pc, memory_order_relaxed);
    atomic_store_explicit(&c->fp, regs->fp, memory_order_relaxed);
    atomic_store_explicit(&c->flags, regs->flags, memory_order_relaxed);
    for (unsigned i = 0; i < n; i++)
        atomic_store_explicit(&c->callee[i], regs->callee_saved[i], memory_order_relaxed);
    atomic_store_explicit(&c->n_callee, n, memory_order_relaxed);
    atomic_store_explicit(&c->state, GMR_CORO_SUSPENDED_REGS, memory_order_relaxed);
    count_switch(c);
    gmr__coro_write_end(c, s);
}
