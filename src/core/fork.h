/*
 * fork() support shared with the rest of the library (the handlers are in core/gmr.c).
 */
#ifndef GMR_CORE_FORK_H
#define GMR_CORE_FORK_H

/*
 * gmr__atfork_register() - register the fork handlers, once per process.  Called before
 * anything takes a lock they look after: by setup and by every report.
 * Context: caller context or reporter thread.
 */
void gmr__atfork_register(void);

/*
 * gmr__fork_guard_lock() / gmr__fork_guard_unlock() - around a libc call that takes a lock
 * glibc's fork() does not reset in the child (dl_iterate_phdr() and the dynamic loader's
 * dl_load_write_lock): the fork prepare handler takes the guard, so no fork() lands while
 * libgmr is inside such a call, and the child can make the call again.  Only around short
 * calls that take no other lock of libgmr.
 * Context: reporter thread or caller context.
 */
void gmr__fork_guard_lock(void);
void gmr__fork_guard_unlock(void);

#endif /* GMR_CORE_FORK_H */
