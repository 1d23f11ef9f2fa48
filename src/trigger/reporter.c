/*
 * The reporter thread: sleeps in poll() until a trigger arrives, then builds and writes the
 * report.  Everything heavy happens here, with every signal blocked, never in a handler.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/state.h"
#include "output/sink.h"
#include "trigger/control.h"
#include "trigger/filewatch.h"
#include "trigger/trigger.h"
#include "util/alloc.h"
#include "util/thread.h"
#include "util/macro.h"
#include "util/signal-name.h"

/* A gmr_write_report() call waiting for the reporter. */
struct request {
    int fd;                 /* borrowed */
    enum gmr_format format;
    int result;             /* set by the reporter */
    bool done;              /* set by the reporter, under the reporter's lock */
    struct request *next;   /* queue link */
};

struct gmr__reporter {
    struct gmr__trigger *trigger; /* borrowed */
    struct gmr__filewatch *watch; /* owned; NULL without a file trigger */
    char *watch_path;             /* owned; the trigger file, for the report header */
    struct gmr__control *control; /* owned; NULL without a control socket */
    pthread_t thread;
    _Atomic int tid;              /* kernel tid of the thread, once running */
    pthread_mutex_t lock;         /* guards the members below */
    pthread_cond_t cond;          /* signalled when a request is done or the thread stops */
    struct request *queue;        /* pending gmr_write_report() calls, FIFO */
    bool stopping;                /* gmr__reporter_stop() was called */
    bool stopped;                 /* the thread left its loop */
};

int gmr__reporter_tid(const struct gmr__reporter *r)
{
    return r ? atomic_load(&((struct gmr__reporter *)r)->tid) : 0;
}

/*
 * Whether @fd is still the eventfd the trigger created.  An application that closes every
 * descriptor may reuse the number for a file of its own, which poll() reports readable for
 * good: the reporter would spin.
 */
static bool is_wake_fd(const struct gmr__trigger *t, int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && st.st_dev == t->wake_dev && st.st_ino == t->wake_ino;
}

/* Drains the eventfd; its value only says "woken", the counters say why. */
static void drain(int fd)
{
    uint64_t v;
    while (read(fd, &v, sizeof(v)) < 0 && errno == EINTR)
        ;
}

/* Describes what triggered a coalesced report, e.g. "signal SIGUSR2 (x3)". */
static void describe(char *buf, size_t size, int signo, unsigned long sigs, unsigned long reqs,
                     const char *file)
{
    char name[32];
    size_t n = 0;
    buf[0] = '\0';
    if (file)
        n += (size_t)snprintf(buf, size, "file %s", file);
    if (n >= size)
        return;
    if (sigs) {
        n += (size_t)snprintf(buf + n, size - n, "%ssignal %s", n ? ", " : "",
                              gmr__signal_name(signo, name, sizeof(name)));
        if (sigs > 1 && n < size)
            n += (size_t)snprintf(buf + n, size - n, " (x%lu)", sigs);
    }
    if (reqs && n < size) {
        n += (size_t)snprintf(buf + n, size - n, "%sgmr_request_report()", n ? ", " : "");
        if (reqs > 1 && n < size)
            snprintf(buf + n, size - n, " (x%lu)", reqs);
    }
}

/* Runs queued gmr_write_report() calls, each its own report to its own fd. */
static void serve_requests(struct gmr__reporter *r)
{
    pthread_mutex_lock(&r->lock);
    while (r->queue) {
        struct request *q = r->queue;
        r->queue = q->next;
        pthread_mutex_unlock(&r->lock);
        int res = gmr__report_write(q->fd, q->format, "gmr_write_report()");
        pthread_mutex_lock(&r->lock);
        q->result = res;
        q->done = true;
        pthread_cond_broadcast(&r->cond);
    }
    pthread_mutex_unlock(&r->lock);
}

/* Answers a control socket request (control.h) into @out_fd. */
static int control_request(int out_fd, const struct gmr__control_request *req, void *userdata)
{
    struct gmr__reporter *r = userdata;
    if (req->cmd == GMR_CONTROL_INFO)
        return gmr__control_info(out_fd, r->trigger, gmr__control_path(r->control));
    return gmr__report_write(out_fd, req->format, "control socket");
}

static void *reporter_main(void *arg)
{
    struct gmr__reporter *r = arg;
    struct gmr__trigger *t = r->trigger;

    atomic_store(&r->tid, (int)syscall(SYS_gettid));
    /*
     * Cancellation is possible only while sleeping in poll() (see gmr__reporter_stop()), where
     * this thread holds no lock and no resource.
     */
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
    (void)pthread_setname_np(pthread_self(), "gmr-reporter");
    for (;;) {
        int wake_fd = atomic_load(&t->wake_fd);
        struct pollfd pfd[3] = {{.fd = wake_fd, .events = POLLIN}, {.fd = -1}, {.fd = -1}};
        int timeout = -1;
        if (r->watch) {
            pfd[1].fd = gmr__filewatch_fd(r->watch);
            pfd[1].events = POLLIN;
            timeout = gmr__filewatch_timeout_ms(r->watch);
        }
        if (r->control) {
            pfd[2].fd = gmr__control_fd(r->control);
            pfd[2].events = POLLIN;
        }
        pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
        int n = poll(pfd, 3, timeout);
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
        if (n < 0 && errno != EINTR)
            break; /* cannot happen with valid fds; leave rather than spin */
        if (n > 0 && pfd[0].revents && ((pfd[0].revents & POLLNVAL) || !is_wake_fd(t, wake_fd))) {
            /*
             * The application closed our eventfd (a daemon closing every descriptor), and may
             * have reused the number: nothing can wake this thread any more.  Stop using the
             * number and leave; gmr_write_report() then builds reports in its caller.
             */
            atomic_store(&t->wake_fd, -1);
            gmr__error_line("the application closed libgmr's descriptors; triggered reports "
                            "stop until gmr_shutdown() and gmr_setup_autorun()");
            break;
        }
        if (n > 0 && (pfd[0].revents & POLLIN))
            drain(wake_fd);
        if (n > 0 && (pfd[2].revents & POLLNVAL)) {
            /* The application closed our socket's fd: stop serving rather than spin. */
            gmr__control_abandon(r->control);
            r->control = NULL;
        } else if (n > 0 && (pfd[2].revents & POLLIN)) {
            (void)gmr__control_serve(r->control, control_request, r);
        }
        bool file = r->watch && gmr__filewatch_check(r->watch) > 0;

        pthread_mutex_lock(&r->lock);
        bool stopping = r->stopping;
        pthread_mutex_unlock(&r->lock);
        if (stopping)
            break;

        serve_requests(r);

        unsigned long sigs = atomic_exchange(&t->signals, 0);
        unsigned long reqs = atomic_exchange(&t->requests, 0);
        if (sigs || reqs || file) {
            char why[4200];
            describe(why, sizeof(why), t->signo, sigs, reqs, file ? r->watch_path : NULL);
            (void)gmr__report_write(-1, gmr__state.run.format, why);
        }
    }

    pthread_mutex_lock(&r->lock);
    r->stopped = true;
    /* Fail calls still waiting: the reporter is going away. */
    while (r->queue) {
        r->queue->result = -ECANCELED;
        r->queue->done = true;
        r->queue = r->queue->next;
    }
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/* Frees what the reporter owns besides its thread and locks. */
static void reporter_free(struct gmr__reporter *r)
{
    gmr__filewatch_free(r->watch);
    gmr__control_free(r->control);
    gmr__free(r->watch_path);
    gmr__free(r);
}

/* Starts the thread of @r (every other member set) and hands @r out.  On failure @r is freed. */
static int start_thread(struct gmr__reporter *r, struct gmr__reporter **ret)
{
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);

    /* Every signal blocked there, so no handler ever runs on the reporter. */
    int err = gmr__thread_create(&r->thread, NULL, reporter_main, r);
    if (err) {
        pthread_cond_destroy(&r->cond);
        pthread_mutex_destroy(&r->lock);
        reporter_free(r);
        return -err;
    }
    *ret = r;
    return 0;
}

int gmr__reporter_start(struct gmr__trigger *t, const char *file_trigger, int interval_s,
                        bool control_socket, struct gmr__reporter **ret)
{
    struct gmr__reporter *r = gmr__calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->trigger = t;
    if (file_trigger) {
        int err = -ENOMEM;
        if (!(r->watch_path = gmr__strdup(file_trigger)) ||
            (err = gmr__filewatch_new(file_trigger, interval_s, &r->watch)) < 0) {
            reporter_free(r);
            return err;
        }
    }
    if (control_socket) {
        int err = gmr__control_new(NULL, &r->control);
        /* Not fatal: signals and the file trigger still work. */
        if (err < 0)
            gmr__error_line("no control socket: %s", strerror(-err));
    }
    return start_thread(r, ret);
}

int gmr__reporter_start_after_fork(struct gmr__reporter *old, struct gmr__trigger *t,
                                   bool control_socket, struct gmr__reporter **ret)
{
    struct gmr__reporter *r = gmr__calloc(1, sizeof(*r));
    if (!r) {
        gmr__reporter_forget_after_fork(old);
        return -ENOMEM;
    }
    r->trigger = t;
    if (old) {
        /*
         * The file watch keeps what it last saw of the file but gets an inotify instance of
         * its own (the inherited one is shared with the parent, which would take half of the
         * events).  Done here, like the control socket below, so that what the child does
         * next (drop privileges, change directory or environment) finds both in place, as in
         * the parent after setup.
         */
        r->watch = old->watch;
        r->watch_path = old->watch_path;
        old->watch = NULL;
        old->watch_path = NULL;
        gmr__reporter_forget_after_fork(old);
        if (r->watch)
            gmr__filewatch_after_fork(r->watch);
    }
    if (control_socket) {
        int err = gmr__control_new(NULL, &r->control);
        if (err < 0)
            gmr__error_line("no control socket: %s", strerror(-err));
    }
    return start_thread(r, ret);
}

void gmr__reporter_stop(struct gmr__reporter *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    pthread_mutex_unlock(&r->lock);
    /* Without its eventfd (closed by the application) the thread sleeps in poll() for good. */
    if (gmr__as_wake(r->trigger) < 0)
        pthread_cancel(r->thread);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    reporter_free(r);
}

void gmr__reporter_forget_after_fork(struct gmr__reporter *r)
{
    if (r) {
        gmr__control_forget_after_fork(r->control); /* the socket file is the parent's */
        r->control = NULL;
        reporter_free(r);
    }
}

int gmr__reporter_run(struct gmr__reporter *r, int fd, enum gmr_format format)
{
    if (pthread_equal(pthread_self(), r->thread))
        return -EDEADLK;
    struct request q = {.fd = fd, .format = format};
    pthread_mutex_lock(&r->lock);
    if (r->stopped || r->stopping) {
        pthread_mutex_unlock(&r->lock);
        return -ECANCELED;
    }
    struct request **tail = &r->queue;
    while (*tail)
        tail = &(*tail)->next;
    *tail = &q;
    pthread_mutex_unlock(&r->lock);

    if (gmr__as_wake(r->trigger) < 0) {
        /* The reporter cannot be woken (its eventfd was closed): take the request back. */
        pthread_mutex_lock(&r->lock);
        bool taken = !q.done;
        for (tail = &r->queue; taken && *tail; tail = &(*tail)->next) {
            if (*tail == &q) {
                *tail = q.next;
                break;
            }
        }
        while (!taken && !q.done)
            pthread_cond_wait(&r->cond, &r->lock);
        pthread_mutex_unlock(&r->lock);
        return taken ? -ECANCELED : q.result;
    }

    pthread_mutex_lock(&r->lock);
    while (!q.done)
        pthread_cond_wait(&r->cond, &r->lock);
    pthread_mutex_unlock(&r->lock);
    return q.result;
}
