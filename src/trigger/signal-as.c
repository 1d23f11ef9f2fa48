/*
 * The trigger signal handler and gmr_request_report(): async-signal-safe code only.
 *
 * Both do the same thing: count the request and write 8 bytes to the reporter's eventfd
 * (the pattern of libuv's uv_async_send).  The reporter reads the counters and the eventfd,
 * so any number of triggers during a report result in exactly one more report.
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gmr/gmr.h>

#include "trigger/trigger.h"

/* The installed trigger object; NULL when not set up. */
static _Atomic(struct gmr__trigger *) current;
/*
 * Handlers between their first and last access to `current`: uninstall unpublishes, then
 * waits for this to drop to zero before the object may be freed.
 */
static atomic_int in_flight;

int gmr__as_wake(struct gmr__trigger *t)
{
    uint64_t one = 1;
    ssize_t r;
    struct stat st;
    int fd = atomic_load_explicit(&t->wake_fd, memory_order_relaxed);
    /*
     * An application that closes every descriptor (some daemons do) may have reused the
     * number for a file of its own: write only to the eventfd we created.
     */
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_dev != t->wake_dev || st.st_ino != t->wake_ino)
        return -1;
    /* The eventfd is non-blocking; EAGAIN means the counter is saturated: already woken. */
    do {
        r = write(fd, &one, sizeof(one));
    } while (r < 0 && errno == EINTR);
    return r < 0 && errno != EAGAIN ? -1 : 0;
}

void gmr__as_trigger_handler(int signo, siginfo_t *info, void *ucontext)
{
    int saved_errno = errno;

    atomic_fetch_add(&in_flight, 1);
    struct gmr__trigger *t = atomic_load(&current);
    struct sigaction old;
    bool chain = false;
    if (t) {
        bool own = atomic_load(&t->pid) == getpid();
        atomic_fetch_add_explicit(own ? &t->signals : &t->child_signals, 1, memory_order_relaxed);
        gmr__as_wake(t);
        chain = t->chain;
        old = t->old;
    }
    atomic_fetch_sub(&in_flight, 1);

    if (chain) {
        if (old.sa_flags & SA_SIGINFO) {
            if (old.sa_sigaction)
                old.sa_sigaction(signo, info, ucontext);
        } else if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) {
            old.sa_handler(signo);
        }
    }
    errno = saved_errno;
}

void gmr_request_report(void)
{
    int saved_errno = errno;
    atomic_fetch_add(&in_flight, 1);
    struct gmr__trigger *t = atomic_load(&current);
    if (t) {
        bool own = atomic_load(&t->pid) == getpid();
        atomic_fetch_add_explicit(own ? &t->requests : &t->child_requests, 1,
                                  memory_order_relaxed);
        gmr__as_wake(t);
    }
    atomic_fetch_sub(&in_flight, 1);
    errno = saved_errno;
}

void gmr__trigger_publish(struct gmr__trigger *t)
{
    atomic_store(&current, t);
    if (t)
        return;
    /* A handler that loaded the old pointer is still counted here; let it finish. */
    while (atomic_load(&in_flight) > 0) {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
}

void gmr__trigger_reset_after_fork(void)
{
    atomic_store(&in_flight, 0);
}
