/*
 * libgmr-preload.so: Guru Meditation Reports for unmodified, dynamically linked programs.
 *
 *     LD_PRELOAD=libgmr-preload.so PROGRAM ...
 *
 * A constructor reads GMR_* environment variables (docs/cli.md), calls the public setters and
 * gmr_setup_autorun() before the program's main() runs.  A bad value produces one line on
 * stderr and is ignored; the program always runs.
 *
 * The program keeps its own signal behaviour.  sigaction(), signal() and their aliases are
 * wrapped (dlsym(RTLD_NEXT)) for the trigger signal only:
 * - while libgmr's handler is installed, a query returns what the program would have seen
 *   without libgmr (the disposition before setup, or the default it set itself since);
 * - setting SIG_DFL is remembered for such queries and keeps libgmr's handler: the default
 *   action of SIGUSR2 is to terminate, which no program asks for on purpose before exec;
 * - setting a handler or SIG_IGN installs it and hands the signal over to the program for
 *   good (gmr_release_trigger_signal()): no report on that signal from then on, in this
 *   process and its fork children, while the file trigger and the control socket still work.
 * Every other signal, and every call once the signal was handed over, goes straight to libc.
 * Calls libgmr makes itself (setup, fork children) are recognized by libgmr's handler address.
 *
 * Limits: a disposition change made from inside a signal handler on the trigger signal takes
 * a mutex in gmr_release_trigger_signal(), which is not async-signal-safe; a program linked
 * with libgmr that calls gmr_setup_autorun() itself gets -EALREADY under the preload.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <gmr/gmr.h>

#include "conf/conf-internal.h"

#define EXPORT __attribute__((visibility("default")))

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef void (*handler_fn)(int);
typedef handler_fn (*signal_fn)(int, handler_fn);

static _Atomic(sigaction_fn) real_sigaction_p;
/* The trigger signal while libgmr owns it; 0 before setup and after the hand-over. */
static atomic_int owned_signo;
/* libgmr's handler on it, to recognize libgmr's own sigaction() calls. */
static _Atomic(void *) gmr_handler;
/* What the program believes the disposition is; guarded by shadow_lock. */
static struct sigaction shadow;
static atomic_flag shadow_lock = ATOMIC_FLAG_INIT;

static sigaction_fn real_sigaction(void)
{
    sigaction_fn f = atomic_load(&real_sigaction_p);
    if (!f) {
        f = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
        atomic_store(&real_sigaction_p, f);
    }
    return f;
}

static void *handler_of(const struct sigaction *sa)
{
    return (void *)sa->sa_handler; /* sa_handler and sa_sigaction share storage */
}

/* The wrapped sigaction(); see the file comment. */
static int wrapped_sigaction(int sig, const struct sigaction *act, struct sigaction *oldact)
{
    sigaction_fn real = real_sigaction();
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    if (sig <= 0 || sig != atomic_load(&owned_signo))
        return real(sig, act, oldact);

    while (atomic_flag_test_and_set(&shadow_lock))
        ;
    struct sigaction cur;
    if (real(sig, NULL, &cur) < 0 || handler_of(&cur) != atomic_load(&gmr_handler) ||
        (act && handler_of(act) == atomic_load(&gmr_handler))) {
        /* Not libgmr's disposition now, or libgmr itself installing its handler. */
        atomic_flag_clear(&shadow_lock);
        return real(sig, act, oldact);
    }
    struct sigaction prev = shadow;
    if (act && !(act->sa_flags & SA_SIGINFO) && act->sa_handler == SIG_DFL) {
        shadow = *act;
    } else if (act) {
        if (real(sig, act, NULL) < 0) {
            atomic_flag_clear(&shadow_lock);
            return -1;
        }
        atomic_store(&owned_signo, 0);
        atomic_flag_clear(&shadow_lock);
        (void)gmr_release_trigger_signal(sig);
        if (oldact)
            *oldact = prev;
        return 0;
    }
    atomic_flag_clear(&shadow_lock);
    if (oldact)
        *oldact = prev;
    return 0;
}

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *oldact)
{
    return wrapped_sigaction(sig, act, oldact);
}

/* Declared by no public header, but exported by glibc and called by some programs. */
int __sigaction(int sig, const struct sigaction *act, struct sigaction *oldact);
handler_fn bsd_signal(int sig, handler_fn h);

EXPORT int __sigaction(int sig, const struct sigaction *act, struct sigaction *oldact)
{
    return wrapped_sigaction(sig, act, oldact);
}

/* signal() and its variants: emulated through sigaction() for the trigger signal only. */
static handler_fn signal_with(const char *name, int sig, handler_fn h, int flags)
{
    if (sig <= 0 || sig != atomic_load(&owned_signo)) {
        signal_fn real = (signal_fn)dlsym(RTLD_NEXT, name);
        if (!real) {
            errno = ENOSYS;
            return SIG_ERR;
        }
        return real(sig, h);
    }
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = h;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    if (wrapped_sigaction(sig, &sa, &old) < 0)
        return SIG_ERR;
    return old.sa_handler;
}

EXPORT handler_fn signal(int sig, handler_fn h)
{
    return signal_with("signal", sig, h, SA_RESTART);
}

EXPORT handler_fn bsd_signal(int sig, handler_fn h)
{
    return signal_with("bsd_signal", sig, h, SA_RESTART);
}

EXPORT handler_fn sysv_signal(int sig, handler_fn h)
{
    return signal_with("sysv_signal", sig, h, SA_RESETHAND | SA_NODEFER);
}

EXPORT handler_fn __sysv_signal(int sig, handler_fn h)
{
    return signal_with("__sysv_signal", sig, h, SA_RESETHAND | SA_NODEFER);
}

/* One line on stderr, in one write. */
static void complain(const char *var, const char *value, const char *why)
{
    char line[512];
    int n = snprintf(line, sizeof(line), "libgmr: %s=%s: %s\n", var, value, why);
    if (n > 0)
        (void)!write(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static bool parse_bool(const char *s, bool *ret)
{
    static const char *const yes[] = {"1", "yes", "true", "on"};
    static const char *const no[] = {"0", "no", "false", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *ret = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *ret = false;
            return true;
        }
    }
    return false;
}

/* Applies the GMR_* variables; returns the trigger signal chosen (-1: the default). */
static int apply_environment(void)
{
    const char *v;
    int signo = -1;

    if ((v = getenv("GMR_SIGNAL")) && *v) {
        int s;
        if (gmr__conf_parse_signal(v, &s) < 0)
            complain("GMR_SIGNAL", v, "not a signal name or number");
        else if (gmr_set_trigger_signal(s) < 0)
            complain("GMR_SIGNAL", v, "this signal cannot trigger reports");
        else
            signo = s;
    }
    if ((v = getenv("GMR_FORMAT")) && *v) {
        if (strcasecmp(v, "text") == 0)
            (void)gmr_set_format(GMR_FORMAT_TEXT);
        else if (strcasecmp(v, "json") == 0)
            (void)gmr_set_format(GMR_FORMAT_JSON);
        else
            complain("GMR_FORMAT", v, "not text or json");
    }
    if ((v = getenv("GMR_LOG_DIR")) && *v)
        (void)gmr_set_log_dir(v);

    int interval = 1;
    const char *iv = getenv("GMR_FILE_TRIGGER_INTERVAL");
    if (iv && *iv) {
        char *end;
        long n = strtol(iv, &end, 10);
        if (end == iv || *end != '\0' || n < 1 || n > 86400)
            complain("GMR_FILE_TRIGGER_INTERVAL", iv, "not a number of seconds from 1 to 86400");
        else
            interval = (int)n;
    }
    if ((v = getenv("GMR_FILE_TRIGGER")) && *v) {
        if (gmr_set_file_trigger(v, interval) < 0)
            complain("GMR_FILE_TRIGGER", v, "not an absolute path");
    }

    bool sock = true;
    if ((v = getenv("GMR_CONTROL_SOCKET")) && *v && !parse_bool(v, &sock))
        complain("GMR_CONTROL_SOCKET", v, "not a boolean (1/0, yes/no, true/false, on/off)");
    (void)gmr_set_control_socket(sock);
    return signo;
}

__attribute__((constructor)) static void preload_init(void)
{
    int saved_errno = errno;
    (void)real_sigaction();
    int signo = apply_environment();
    if (signo < 0)
        signo = SIGUSR2;

    /* A signal ignored since the program started (nohup-like parents) stays ignored. */
    struct sigaction cur;
    if (signo > 0 && real_sigaction() && real_sigaction()(signo, NULL, &cur) == 0 &&
        !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_IGN) {
        (void)gmr_set_trigger_signal(0);
        signo = 0;
    }
    if (signo > 0)
        shadow = cur;

    const char *service = getenv("GMR_SERVICE_NAME");
    struct gmr_version version = {NULL, program_invocation_short_name, NULL};
    int r = gmr_setup_autorun(&version, NULL, service && *service ? service : NULL);
    if (r == -EBUSY) {
        /* Another library took the signal first: keep the other triggers. */
        (void)gmr_set_trigger_signal(0);
        signo = 0;
        r = gmr_setup_autorun(&version, NULL, service && *service ? service : NULL);
    }
    if (r < 0) {
        complain("LD_PRELOAD", "libgmr-preload.so", strerror(-r));
    } else if (signo > 0 && real_sigaction() && real_sigaction()(signo, NULL, &cur) == 0) {
        /* Only now is libgmr's handler known; from here on the program's calls are wrapped. */
        atomic_store(&gmr_handler, handler_of(&cur));
        atomic_store(&owned_signo, signo);
    }
    errno = saved_errno;
}
