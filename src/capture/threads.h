/*
 * The Threads section: capture of every thread's state and stack, unwinding, symbolization.
 */
#ifndef GMR_CAPTURE_THREADS_H
#define GMR_CAPTURE_THREADS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * gmr__threads_install() - prepare the signal path: pick and install the capture signal's
 * handler and allocate what it needs.
 * @signo:      the capture signal, or 0 to pick a real-time signal without a handler
 * @timeout_ns: how long a report waits for running threads
 * @trigger:    the trigger signal (0: none), never picked and refused as @signo
 * Return: 0; -EBUSY (the signal has a handler); -EINVAL (not a real-time signal, or it is
 * @trigger); -ENOMEM.
 * Context: caller context (setup).
 */
int gmr__threads_install(int signo, uint64_t timeout_ns, int trigger);

/* Undo gmr__threads_install(); no report is running.  Context: caller context. */
void gmr__threads_uninstall(void);

/*
 * gmr__threads_section() - fill the Threads section.
 * @section:  the section object (title and type "threads" already set)
 * @self_tid: the thread building the report; it is not captured, a note says so
 * @group:    ask the text view to group identical stacks
 * Return: 0 (what could not be captured is recorded per thread), or -errno when the section
 *         as a whole failed.
 * Context: reporter thread (or caller context when not set up).
 */
int gmr__threads_section(json_t *section, int self_tid, bool group);

#endif /* GMR_CAPTURE_THREADS_H */
