/*
 * Report triggers: the trigger signal's handler, gmr_request_report(), and the reporter
 * thread that they wake.
 */
#ifndef GMR_TRIGGER_TRIGGER_H
#define GMR_TRIGGER_TRIGGER_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <gmr/gmr.h>

_Static_assert(ATOMIC_LONG_LOCK_FREE == 2, "the signal handler needs lock-free atomic longs");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the signal handler needs lock-free atomic ints");

/*
 * What the trigger handler touches.  Allocated by setup before the handler is installed,
 * reached by the handler only through gmr__trigger_current, freed after uninstall has waited
 * for every running handler.
 */
struct gmr__trigger {
    atomic_int wake_fd;       /* eventfd the reporter polls; owned; -1 once found closed */
    dev_t wake_dev;           /* its device and inode, to tell it from a descriptor that */
    ino_t wake_ino;           /*   reuses its number after the application closed it */
    int signo;                /* trigger signal, 0 when none */
    bool chain;               /* call @old after ours */
    struct sigaction old;     /* disposition before ours; restored by uninstall */
    atomic_ulong signals;     /* trigger signals since the reporter last looked */
    atomic_ulong requests;    /* gmr_request_report() calls since the reporter last looked */
    atomic_bool released;     /* gmr_release_trigger_signal(): the disposition is not ours */
    /*
     * The process whose reporter reads the counters above.  A fork child runs the handler on
     * its copy of the parent's object until its fork handler takes the object over; what it
     * counts meanwhile goes to the two counters below, so that the child reports for its own
     * triggers only, not for the parent's that were still unread at fork().
     */
    atomic_int pid;
    atomic_ulong child_signals;
    atomic_ulong child_requests;
};

/*
 * gmr__trigger_publish() - make @t (or NULL) the object the handlers use, then, when
 * unpublishing, wait until no handler still uses the previous one.
 * Context: caller context.
 */
void gmr__trigger_publish(struct gmr__trigger *t);

/*
 * gmr__trigger_reset_after_fork() - in a fork child: no handler runs on another thread, so
 * forget the parent's in-flight count.  The published object stays: the child keeps using it.
 * Context: the child's atfork handler.
 */
void gmr__trigger_reset_after_fork(void);

/*
 * gmr__as_trigger_handler() - the trigger signal's handler: counts the signal, wakes the
 * reporter, chains when asked.
 * Context: async-signal-safe.
 */
void gmr__as_trigger_handler(int signo, siginfo_t *info, void *ucontext);

/*
 * gmr__as_wake() - wake the reporter thread of @t (one 8-byte write to its eventfd).
 * Return: 0, or -1 when the eventfd is gone (the application closed it): nothing was written.
 * Context: async-signal-safe.
 */
int gmr__as_wake(struct gmr__trigger *t);

/* The reporter thread. */
struct gmr__reporter;

/*
 * gmr__reporter_start() - start the reporter thread, every signal blocked in it.
 * @t:            the trigger it serves; borrowed, must outlive the reporter
 * @file_trigger: a file whose changes trigger reports (absolute path), or NULL
 * @interval_s:   polling interval for the file where inotify cannot serve
 * @control_socket: also serve a control socket (control.h); failing to create it is reported
 *                on stderr and is not an error
 * Return: 0 or -errno.
 * Context: caller context.
 */
int gmr__reporter_start(struct gmr__trigger *t, const char *file_trigger, int interval_s,
                        bool control_socket, struct gmr__reporter **ret);

/*
 * gmr__reporter_start_after_fork() - in a fork child, start the child's own reporter thread in
 * place of the parent's, which does not exist here.  What the parent's object had (@old, the
 * child's copy) is taken over: the file trigger gets an inotify instance of its own, the
 * parent's control socket is dropped and, when @control_socket, the child listens on its own.
 * @old is freed, also on failure (then the child has no reporter thread).
 * Return: 0 or -errno.
 * Context: the child's atfork handler.
 */
int gmr__reporter_start_after_fork(struct gmr__reporter *old, struct gmr__trigger *t,
                                   bool control_socket, struct gmr__reporter **ret);

/*
 * gmr__reporter_forget_after_fork() - in a fork child, free the child's copy of the parent's
 * reporter object (memory, the file watch's and the control socket's fds) without touching
 * its thread or locks, which do not exist here (NULL accepted).
 * Context: a fork child (atfork handler or the child's reporter thread).
 */
void gmr__reporter_forget_after_fork(struct gmr__reporter *r);

/*
 * gmr__reporter_stop() - finish the report in progress, stop and join the thread, free @r.
 * Context: caller context; not the reporter thread.
 */
void gmr__reporter_stop(struct gmr__reporter *r);

/*
 * gmr__reporter_run() - have the reporter thread write one report to @fd and wait for it.
 * Return: the report's result; -EDEADLK on the reporter thread itself; -ECANCELED when the
 *         reporter stopped first.
 * Context: caller context.
 */
int gmr__reporter_run(struct gmr__reporter *r, int fd, enum gmr_format format);

/* The thread id of the reporter thread (0 when not running); for the Threads section. */
int gmr__reporter_tid(const struct gmr__reporter *r);

#endif /* GMR_TRIGGER_TRIGGER_H */
