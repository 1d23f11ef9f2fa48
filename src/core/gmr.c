/*
 * Public entry points: settings, setup and shutdown, sections, reports on demand, fork.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmr/gmr.h>
#include <jansson.h>

#include "capture/capture.h"
#include "capture/threads.h"
#include "conf/conf-private.h"
#include "core/fork.h"
#include "core/state.h"
#include "output/sink.h"
#include "sections/sections.h"
#include "symbolize/symbolize.h"
#include "trigger/trigger.h"
#include "util/alloc.h"
#include "util/macro.h"
#include "util/signal-name.h"

#define DEFAULT_CAPTURE_TIMEOUT_NS 1000000000ull
#define MAX_CAPTURE_TIMEOUT_NS     60000000000ull
#define DEFAULT_SECTION_TIMEOUT_NS 2000000000ull
#define MAX_SECTION_TIMEOUT_NS     600000000000ull

struct gmr__state gmr__state = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .settings =
        {
            .trigger_signo = SIGUSR2,
            .format = GMR_FORMAT_TEXT,
            .output_fd = STDERR_FILENO,
            .file_interval_s = 1,
            .capture_timeout_ns = DEFAULT_CAPTURE_TIMEOUT_NS,
            .section_timeout_ns = DEFAULT_SECTION_TIMEOUT_NS,
            .builtin_sections = GMR_SECTIONS_ALL,
        },
};

unsigned gmr_version(void)
{
    return GMR_VERSION_HEX;
}

const char *gmr_version_string(void)
{
    return GMR_VERSION_STRING;
}

/* Runs @set on the settings under the lock unless set up.  Return: 0 or -EBUSY. */
#define WITH_SETTINGS(stmt)                                                                        \
    do {                                                                                           \
        pthread_mutex_lock(&gmr__state.lock);                                                      \
        if (gmr__state.installed) {                                                                \
            pthread_mutex_unlock(&gmr__state.lock);                                                \
            return -EBUSY;                                                                         \
        }                                                                                          \
        stmt;                                                                                      \
        pthread_mutex_unlock(&gmr__state.lock);                                                    \
    } while (0)

/* Signals whose default action is a fault report; a trigger there would mask real crashes. */
static bool is_fault_signal(int signo)
{
    return signo == SIGSEGV || signo == SIGBUS || signo == SIGILL || signo == SIGFPE ||
           signo == SIGABRT || signo == SIGTRAP || signo == SIGSYS;
}

int gmr_set_trigger_signal(int signo)
{
    GMR_RETURN_IF(signo < 0 || signo > SIGRTMAX, -EINVAL);
    GMR_RETURN_IF(signo == SIGKILL || signo == SIGSTOP || is_fault_signal(signo), -EINVAL);
    WITH_SETTINGS({
        gmr__state.settings.trigger_signo = signo;
        gmr__state.settings.trigger_signo_explicit = true;
    });
    return 0;
}

int gmr_set_chain_handler(bool chain)
{
    WITH_SETTINGS(gmr__state.settings.chain = chain);
    return 0;
}

int gmr_set_format(enum gmr_format format)
{
    GMR_RETURN_IF(format != GMR_FORMAT_TEXT && format != GMR_FORMAT_JSON, -EINVAL);
    WITH_SETTINGS(gmr__state.settings.format = format);
    return 0;
}

int gmr_set_output_fd(int fd)
{
    GMR_RETURN_IF(fd < 0, -EBADF);
    WITH_SETTINGS(gmr__state.settings.output_fd = fd);
    return 0;
}

/* Replaces the owned string *@slot by a copy of @s (NULL or "" clears it). */
static int set_string(char **slot, const char *s)
{
    char *copy = NULL;
    if (s && *s) {
        copy = gmr__strdup(s);
        if (!copy)
            return -ENOMEM;
    }
    gmr__free(*slot);
    *slot = copy;
    return 0;
}

int gmr_set_log_dir(const char *dir)
{
    int r = 0;
    WITH_SETTINGS(r = set_string(&gmr__state.settings.log_dir, dir));
    return r;
}

int gmr_set_file_trigger(const char *path, int interval_s)
{
    GMR_RETURN_IF(interval_s < 1, -EINVAL);
    GMR_RETURN_IF(path && *path && path[0] != '/', -EINVAL);
    int r = 0;
    WITH_SETTINGS({
        r = set_string(&gmr__state.settings.file_trigger, path);
        if (r == 0)
            gmr__state.settings.file_interval_s = interval_s;
    });
    return r;
}

int gmr_set_capture_signal(int signo)
{
    GMR_RETURN_IF(signo != 0 && (signo < SIGRTMIN || signo > SIGRTMAX), -EINVAL);
    WITH_SETTINGS(gmr__state.settings.capture_signo = signo);
    return 0;
}

int gmr_set_capture_timeout_ns(uint64_t timeout_ns)
{
    GMR_RETURN_IF(timeout_ns == 0 || timeout_ns > MAX_CAPTURE_TIMEOUT_NS, -EINVAL);
    WITH_SETTINGS(gmr__state.settings.capture_timeout_ns = timeout_ns);
    return 0;
}

int gmr_set_section_timeout_ns(uint64_t timeout_ns)
{
    GMR_RETURN_IF(timeout_ns == 0 || timeout_ns > MAX_SECTION_TIMEOUT_NS, -EINVAL);
    WITH_SETTINGS(gmr__state.settings.section_timeout_ns = timeout_ns);
    return 0;
}

int gmr_set_builtin_sections(unsigned sections)
{
    GMR_RETURN_IF(sections & ~GMR_SECTIONS_ALL, -EINVAL);
    WITH_SETTINGS(gmr__state.settings.builtin_sections = sections);
    return 0;
}

int gmr_set_group_threads(bool group)
{
    WITH_SETTINGS(gmr__state.settings.group_threads = group);
    return 0;
}

int gmr_set_control_socket(bool enable)
{
    WITH_SETTINGS(gmr__state.settings.control_socket = enable);
    return 0;
}

int gmr_release_trigger_signal(int signo)
{
    int r = -ENOENT;
    pthread_mutex_lock(&gmr__state.lock);
    if (signo > 0 && gmr__state.settings.trigger_signo == signo) {
        /* Also for later setups and fork children: the application owns the signal now. */
        gmr__state.settings.trigger_signo = 0;
        r = 0;
    }
    if (gmr__state.installed && gmr__state.run.trigger_signo == signo && signo > 0) {
        gmr__state.run.trigger_signo = 0;
        if (gmr__state.trigger && gmr__state.trigger->signo == signo)
            atomic_store(&gmr__state.trigger->released, true);
        r = 0;
    }
    pthread_mutex_unlock(&gmr__state.lock);
    return r;
}

/* Frees the strings a settings copy owns. */
static void settings_done(struct gmr__settings *s)
{
    gmr__free(s->log_dir);
    gmr__free(s->file_trigger);
    s->log_dir = NULL;
    s->file_trigger = NULL;
}

static int settings_copy(struct gmr__settings *dst, const struct gmr__settings *src)
{
    *dst = *src;
    dst->log_dir = NULL;
    dst->file_trigger = NULL;
    if (set_string(&dst->log_dir, src->log_dir) < 0 ||
        set_string(&dst->file_trigger, src->file_trigger) < 0) {
        settings_done(dst);
        return -ENOMEM;
    }
    return 0;
}

static void trigger_free(struct gmr__trigger *t)
{
    if (!t)
        return;
    int fd = atomic_load(&t->wake_fd);
    if (fd >= 0)
        close(fd);
    gmr__free(t);
}

static int trigger_new(int signo, bool chain, struct gmr__trigger **ret)
{
    struct gmr__trigger *t = gmr__calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->signo = signo;
    t->chain = chain;
    atomic_init(&t->pid, getpid());
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    atomic_store(&t->wake_fd, fd);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0) {
        t->wake_dev = st.st_dev;
        t->wake_ino = st.st_ino;
    }
    if (fd < 0) {
        int r = -errno;
        gmr__free(t);
        return r;
    }
    *ret = t;
    return 0;
}

/*
 * Installs the trigger handler on t->signo after checking the current disposition.
 * Return: 0; -EBUSY (a handler exists and chaining was not asked for).
 */
static int install_handler(struct gmr__trigger *t)
{
    char name[32];
    if (t->signo == 0)
        return 0;
    if (sigaction(t->signo, NULL, &t->old) < 0)
        return -errno;
    bool has_handler = (t->old.sa_flags & SA_SIGINFO) ? t->old.sa_sigaction != NULL
                                                       : (t->old.sa_handler != SIG_DFL &&
                                                          t->old.sa_handler != SIG_IGN);
    if (has_handler && !t->chain) {
        gmr__error_line("%s already has a handler; not installing the report trigger "
                        "(use gmr_set_chain_handler() or gmr_set_trigger_signal())",
                        gmr__signal_name(t->signo, name, sizeof(name)));
        return -EBUSY;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = gmr__as_trigger_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(t->signo, &sa, NULL) < 0)
        return -errno;
    return 0;
}

static void uninstall_handler(struct gmr__trigger *t)
{
    if (t->signo != 0 && !atomic_load(&t->released))
        (void)sigaction(t->signo, &t->old, NULL);
}

static void atfork_prepare(void);
static void atfork_parent(void);
static void atfork_child(void);

static void register_atfork(void)
{
    /*
     * jansson seeds its hash function on first use and makes concurrent first users spin
     * until the seed is set: a fork child of a process forked during that would spin for
     * good.  Seed it now, before any report.  (No-op when the application seeded it.)
     */
    json_object_seed(0);
    (void)pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

void gmr__atfork_register(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    (void)pthread_once(&once, register_atfork);
}

/*
 * Starts the trigger and the reporter from gmr__state.run.
 * Context: caller context (setup); gmr__state.lock held.
 */
static int start_locked(void)
{
    struct gmr__settings *run = &gmr__state.run;
    int signo = run->trigger_signo;
    /* oslo.reports: a file trigger replaces the signal unless the signal was asked for. */
    if (run->file_trigger && !run->trigger_signo_explicit)
        signo = 0;

    struct gmr__trigger *t = NULL;
    int r = trigger_new(signo, run->chain, &t);
    if (r < 0)
        return r;
    r = gmr__threads_install(run->capture_signo, run->capture_timeout_ns, signo);
    if (r < 0)
        goto fail_trigger;
    r = gmr__reporter_start(t, run->file_trigger, run->file_interval_s, run->control_socket,
                            &gmr__state.reporter);
    if (r < 0)
        goto fail_threads;
    gmr__trigger_publish(t);
    r = install_handler(t);
    if (r < 0)
        goto fail_reporter;
    gmr__state.trigger = t;
    return 0;

fail_reporter:
    gmr__trigger_publish(NULL);
    gmr__reporter_stop(gmr__state.reporter);
    gmr__state.reporter = NULL;
fail_threads:
    gmr__threads_uninstall();
fail_trigger:
    trigger_free(t);
    return r;
}

static void clear_run_locked(void)
{
    settings_done(&gmr__state.run);
    gmr__free(gmr__state.vendor);
    gmr__free(gmr__state.product);
    gmr__free(gmr__state.version);
    gmr__free(gmr__state.service_name);
    gmr__state.vendor = gmr__state.product = gmr__state.version = NULL;
    gmr__state.service_name = NULL;
    gmr__state.conf = NULL;
}

int gmr_setup_autorun(const struct gmr_version *version, gmr_conf *conf, const char *service_name)
{
    int r = 0;

    /* Before anything takes a lock the fork handlers look after. */
    gmr__atfork_register();
    pthread_mutex_lock(&gmr__state.lock);
    if (gmr__state.installed) {
        r = -EALREADY;
        goto out;
    }
    r = settings_copy(&gmr__state.run, &gmr__state.settings);
    if (r < 0)
        goto out;
    r = gmr__settings_from_conf(&gmr__state.run, conf);
    if (r < 0)
        goto fail;
    gmr__state.conf = conf;
    if (version) {
        if ((version->vendor && !(gmr__state.vendor = gmr__strdup(version->vendor))) ||
            (version->product && !(gmr__state.product = gmr__strdup(version->product))) ||
            (version->version && !(gmr__state.version = gmr__strdup(version->version)))) {
            r = -ENOMEM;
            goto fail;
        }
    }
    gmr__state.service_name =
        gmr__strdup(service_name && *service_name ? service_name : gmr__program_name());
    if (!gmr__state.service_name) {
        r = -ENOMEM;
        goto fail;
    }

    r = start_locked();
    if (r < 0)
        goto fail;
    gmr__state.installed = true;
    goto out;

fail:
    clear_run_locked();
out:
    pthread_mutex_unlock(&gmr__state.lock);
    return r;
}

void gmr_shutdown(void)
{
    pthread_mutex_lock(&gmr__state.lock);
    if (!gmr__state.installed || gmr__in_report()) {
        pthread_mutex_unlock(&gmr__state.lock);
        return;
    }
    struct gmr__trigger *t = gmr__state.trigger;
    struct gmr__reporter *rep = gmr__state.reporter;
    gmr__state.installed = false;
    gmr__state.trigger = NULL;
    gmr__state.reporter = NULL;
    pthread_mutex_unlock(&gmr__state.lock);

    /* Restore the old disposition first, so no new handler call can start. */
    uninstall_handler(t);
    gmr__reporter_stop(rep); /* finishes a report in progress */
    gmr__trigger_publish(NULL);
    gmr__threads_uninstall();
    trigger_free(t);

    pthread_mutex_lock(&gmr__state.lock);
    clear_run_locked();
    pthread_mutex_unlock(&gmr__state.lock);
}

int gmr_register_section(const char *title, gmr_section_fn fn, void *userdata)
{
    GMR_RETURN_IF(!title || !*title || !fn, -EINVAL);
    int r = 0;
    pthread_mutex_lock(&gmr__state.lock);
    for (size_t i = 0; i < gmr__state.n_sections; i++) {
        if (strcmp(gmr__state.sections[i].title, title) == 0) {
            r = -EEXIST;
            goto out;
        }
    }
    if (gmr__state.n_sections >= GMR_MAX_SECTIONS) {
        r = -ENOSPC;
        goto out;
    }
    struct gmr__section *s =
        gmr__realloc(gmr__state.sections, (gmr__state.n_sections + 1) * sizeof(*s));
    if (!s) {
        r = -ENOMEM;
        goto out;
    }
    gmr__state.sections = s;
    char *copy = gmr__strdup(title);
    if (!copy) {
        r = -ENOMEM;
        goto out;
    }
    s[gmr__state.n_sections++] = (struct gmr__section){copy, fn, userdata};
out:
    pthread_mutex_unlock(&gmr__state.lock);
    return r;
}

int gmr_unregister_section(const char *title)
{
    GMR_RETURN_IF(!title, -EINVAL);
    GMR_RETURN_IF(gmr__in_report(), -EDEADLK);
    int r = -ENOENT;
    /* Holding the report lock guarantees the callback is not running now. */
    pthread_mutex_lock(&gmr__report_lock);
    pthread_mutex_lock(&gmr__state.lock);
    for (size_t i = 0; i < gmr__state.n_sections; i++) {
        if (strcmp(gmr__state.sections[i].title, title) == 0) {
            gmr__free(gmr__state.sections[i].title);
            memmove(&gmr__state.sections[i], &gmr__state.sections[i + 1],
                    (gmr__state.n_sections - i - 1) * sizeof(gmr__state.sections[0]));
            gmr__state.n_sections--;
            r = 0;
            break;
        }
    }
    if (gmr__state.n_sections == 0) {
        gmr__free(gmr__state.sections);
        gmr__state.sections = NULL;
    }
    pthread_mutex_unlock(&gmr__state.lock);
    pthread_mutex_unlock(&gmr__report_lock);
    return r;
}

/*
 * Builds and writes a report in the calling thread, with SIGPIPE blocked so that a reader that
 * went away gives -EPIPE instead of ending the application (the reporter thread blocks every
 * signal; this is the same for a caller).  A SIGPIPE the write raised is taken back before the
 * mask is restored; one already pending for this thread is left alone.
 * Context: caller context.
 */
static int write_in_caller(int fd, enum gmr_format format)
{
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    bool was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    int r = gmr__report_write(fd, format, "gmr_write_report()");
    if (!was_pending && !sigismember(&old, SIGPIPE)) {
        const struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
            continue;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r;
}

int gmr_write_report(int fd, enum gmr_format format)
{
    GMR_RETURN_IF(fd < 0, -EINVAL);
    GMR_RETURN_IF(format != GMR_FORMAT_TEXT && format != GMR_FORMAT_JSON, -EINVAL);
    GMR_RETURN_IF(gmr__in_report(), -EDEADLK);
    if (fcntl(fd, F_GETFD) < 0)
        return -EBADF;

    pthread_mutex_lock(&gmr__state.lock);
    struct gmr__reporter *rep = gmr__state.installed ? gmr__state.reporter : NULL;
    pthread_mutex_unlock(&gmr__state.lock);
    if (rep) {
        int r = gmr__reporter_run(rep, fd, format);
        if (r != -ECANCELED)
            return r;
        /* Shut down meanwhile: build it here instead. */
    }
    return write_in_caller(fd, format);
}

/* ---- fork() ---- */

/*
 * Held around the libc calls of a report that take a lock glibc's fork() leaves as it was in
 * the child (dl_iterate_phdr(): the loader's dl_load_write_lock): the prepare handler takes
 * it, so fork() never lands inside such a call.  Held for microseconds at a time.
 */
static pthread_mutex_t fork_guard = PTHREAD_MUTEX_INITIALIZER;

void gmr__fork_guard_lock(void)
{
    pthread_mutex_lock(&fork_guard);
}

void gmr__fork_guard_unlock(void)
{
    pthread_mutex_unlock(&fork_guard);
}

/* The configuration object whose lock the prepare handler took, or NULL. */
static gmr_conf *fork_conf;

/*
 * fork() while another thread may be writing a report.  The child must get a working libgmr
 * of its own, and fork() must stay cheap (most children exec at once).
 *
 * Prepare takes, in this order, only locks that are held briefly: the state lock (setters,
 * setup, the report's header and output steps), the configuration object's lock (one
 * Configuration section or one load), the fork guard (one dl_iterate_phdr()).  It never
 * waits for a whole report: the symbolizer's lock, held for a whole Threads section, is only
 * tried (gmr__sym_fork_prepare()), and the report lock is not taken.  Where two of these
 * nest elsewhere (setup reads the configuration object under the state lock) it is in the
 * same order, and nothing waits for another lock while holding the fork guard, so prepare
 * cannot deadlock against a running report.
 *
 * The child re-creates what the parent's other threads may have held (the report lock, the
 * symbolizer's lock when prepare could not take it, the section runners' list), releases
 * what prepare took, and only then starts over: it takes over the trigger object (a fresh
 * eventfd in place of the shared one; the signal handlers stay installed), keeps the capture
 * table (the handler stays installed too) and creates its reporter thread.  Everything else
 * (the file trigger's inotify instance, the control socket, the symbolizer's session when
 * it had to be dropped) is done by that thread or by the child's first report, not here.
 */
static void atfork_prepare(void)
{
    pthread_mutex_lock(&gmr__state.lock);
    fork_conf = gmr__state.installed ? gmr__state.conf : NULL;
    if (fork_conf)
        gmr__conf_lock(fork_conf);
    pthread_mutex_lock(&fork_guard);
    gmr__sym_fork_prepare();
}

static void atfork_parent(void)
{
    gmr__sym_fork_parent();
    pthread_mutex_unlock(&fork_guard);
    if (fork_conf)
        gmr__conf_unlock(fork_conf);
    fork_conf = NULL;
    pthread_mutex_unlock(&gmr__state.lock);
}

/*
 * The child's copy of the trigger object becomes the child's: a new eventfd (the inherited
 * one is the parent's reporter's), and the triggers that reached the child since fork() (the
 * handler counted them apart, see struct gmr__trigger) become the object's counts; the
 * parent's unread counts are not the child's.  Signals are blocked meanwhile (the child has
 * one thread).  Return: 0 or -errno (no eventfd: the object keeps the parent's).
 */
static int take_over_trigger(struct gmr__trigger *t)
{
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int r = -errno;
        if (fd >= 0)
            close(fd);
        return r;
    }
    int old_fd = atomic_load(&t->wake_fd);
    atomic_store(&t->wake_fd, fd);
    t->wake_dev = st.st_dev;
    t->wake_ino = st.st_ino;
    if (old_fd >= 0)
        close(old_fd); /* this process's descriptor only: the parent's stays open */
    atomic_store(&t->pid, getpid());
    atomic_store(&t->signals, atomic_exchange(&t->child_signals, 0));
    atomic_store(&t->requests, atomic_exchange(&t->child_requests, 0));
    if (atomic_load(&t->signals) || atomic_load(&t->requests))
        (void)gmr__as_wake(t);
    return 0;
}

static void atfork_child(void)
{
    /* What the parent's other threads may have held: they do not exist here. */
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    memcpy(&gmr__report_lock, &fresh, sizeof(fresh));
    gmr__sym_fork_child();
    gmr__sections_after_fork();
    gmr__as_capture_reset_after_fork();
    gmr__trigger_reset_after_fork();
    /* What prepare took. */
    pthread_mutex_unlock(&fork_guard);
    if (fork_conf)
        gmr__conf_unlock(fork_conf);
    fork_conf = NULL;

    if (gmr__state.installed) {
        sigset_t all, saved;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &saved);
        struct gmr__trigger *t = gmr__state.trigger;
        struct gmr__reporter *old = gmr__state.reporter;
        gmr__state.reporter = NULL;
        int r = take_over_trigger(t);
        if (r == 0)
            r = gmr__reporter_start_after_fork(old, t, gmr__state.run.control_socket,
                                               &gmr__state.reporter);
        else
            gmr__reporter_forget_after_fork(old);
        pthread_sigmask(SIG_SETMASK, &saved, NULL);
        /* gmr_write_report() still works (in its caller); triggered reports do not. */
        if (r < 0)
            gmr__error_line("no report thread in the fork child: %s; triggered reports are off",
                            strerror(-r));
    }
    pthread_mutex_unlock(&gmr__state.lock);
}
