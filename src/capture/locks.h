/*
 * Locks and deadlocks: what each thread blocked in a futex wait is waiting for (a mutex, a
 * read-write lock, a condition variable), who holds it, and cycles in the wait-for graph.
 * See docs/locks.md.
 *
 * The analysis reads the Threads section's model (frames, system call and its arguments) and
 * this process's own memory (fault-safe reads of the lock objects), so it runs right after the
 * Threads section is built.
 *
 * Context: reporter thread, or caller context when the library is not set up.
 */
#ifndef GMR_CAPTURE_LOCKS_H
#define GMR_CAPTURE_LOCKS_H

#include <elfutils/libdwfl.h>
#include <jansson.h>

/* Frames searched from the innermost for the lock function a thread is blocked in. */
#define GMR_LOCKS_SCAN_FRAMES 12
/* Frames of each thread shown in a deadlock entry, from the caller of the lock function. */
#define GMR_LOCKS_DEADLOCK_FRAMES 4

/*
 * gmr__locks_analyze() - annotate blocked threads and report deadlocks.
 * @threads_section: the Threads section; each thread waiting for a lock it can identify gets
 *                   a "waiting_for" member
 * @report:          the report model; gets a top-level "deadlocks" array when the wait-for
 *                   graph has a cycle that is still there when re-checked
 * Return: 0 (a thread whose wait cannot be identified just gets no "waiting_for"), -ENOMEM.
 * Context: reporter thread or caller context; takes gmr__sym_lock() to name data symbols.
 */
int gmr__locks_analyze(json_t *threads_section, json_t *report);

/*
 * gmr__locks_wait_of() - what one thread of the model is waiting for.
 * @thread: a thread object of the Threads section
 * @dwfl:   the process's session to name global lock objects; may be NULL
 * Return: 1 with *@ret a new "waiting_for" object, 0 when the thread is not waiting for a
 *         lock this analysis knows (running, another system call, unknown frames), -ENOMEM.
 *         The owner is read from the lock in this process's memory; "owner_state" is not
 *         set here (see gmr__locks_analyze()).
 */
int gmr__locks_wait_of(const json_t *thread, Dwfl *dwfl, json_t **ret);

/*
 * gmr__locks_find_cycles() - the deadlocks in a Threads model whose blocked threads carry
 * "waiting_for" (with "owner_tid").  A pure function of the model: each thread waits for at
 * most one lock held by one owner, so the cycles are disjoint; a thread waiting for a lock it
 * holds itself is a cycle of one.
 * @threads: the section's "threads" array
 * Return: 0 with *@ret a new array of deadlock objects (empty when there is none), -ENOMEM.
 */
int gmr__locks_find_cycles(const json_t *threads, json_t **ret);

#endif /* GMR_CAPTURE_LOCKS_H */
