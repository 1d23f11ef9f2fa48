/*
 * Victim for the Threads section tests (built -O2 -g, without frame pointers).  Threads park
 * five calls deep in noinline functions with known names:
 *   sleeper  sleeper_1..5  -> nanosleep(10 s) in a loop; prints "SLEPT <ms> <errno>" after each
 *   reader   reader_1..5   -> read() on a pipe nobody writes
 *   poller   poller_1..5   -> epoll_wait() on an empty epoll set
 *   waiter   waiter_1..5   -> pthread_cond_wait() (a futex)
 *   spinner  spinner_1..5  -> a busy loop (signal path)
 *   blocker  blocker_1..5  -> a busy loop with every signal blocked (cannot be captured)
 * The call to the next level sits on a line marked with "AT:<function>" so the tests can find
 * its line number.  The main thread serves commands from stdin:
 *   report text|json -> gmr_write_report(1, ...) then "DONE <result>"
 *   churn on|off     -> start/stop a thread that creates and joins short-lived threads
 *   ping             -> "PONG"
 * and exits when stdin closes.  Options: --json (triggered reports as JSON), --no-setup,
 * --group (group identical stacks), --capture-signal N, --occupy (install an application
 * handler on the capture signal first), --no-blocker, --no-spinner, --twins N (N more
 * threads named "twin" with the reader's stack), --deep N (a thread blocked at the bottom of
 * an N-call recursion: deep_recurse), --dumper (a thread blocked in a callback called by
 * libjansson, a library without debug information: dumper_1..3).
 * Prints "READY" when every thread is parked.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <gmr/gmr.h>

#include "victim-stack.h"

#define NOINLINE __attribute__((noinline, noclone))

static atomic_int parked;
static atomic_bool stopping;
static int quiet_pipe[2];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
/* Keeps the callers' frames (no tail calls); per thread, so the writes do not race. */
static _Thread_local volatile unsigned long sink;

static long ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* ---- sleeper: nanosleep(10 s), reporting how long each sleep really lasted ---- */
static NOINLINE int sleeper_5(int x)
{
    atomic_fetch_add(&parked, 1);
    while (!atomic_load(&stopping)) {
        struct timespec t0, req = {10, 0};
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int r = nanosleep(&req, NULL); /* AT:sleeper_5 */
        int e = r < 0 ? errno : 0;
        printf("SLEPT %ld %d\n", ms_since(&t0), e);
        fflush(stdout);
    }
    return x + 1;
}
static NOINLINE int sleeper_4(int x) { int r = sleeper_5(x + 1); /* AT:sleeper_4 */ sink += (unsigned)r; return r + 1; }
static NOINLINE int sleeper_3(int x) { int r = sleeper_4(x + 1); /* AT:sleeper_3 */ sink += (unsigned)r; return r + 1; }
static NOINLINE int sleeper_2(int x) { int r = sleeper_3(x + 1); /* AT:sleeper_2 */ sink += (unsigned)r; return r + 1; }
static NOINLINE int sleeper_1(int x) { int r = sleeper_2(x + 1); /* AT:sleeper_1 */ sink += (unsigned)r; return r + 1; }

/* ---- reader: read() on a pipe ---- */
static NOINLINE int reader_5(int x)
{
    atomic_fetch_add(&parked, 1);
    char c;
    ssize_t n = read(quiet_pipe[0], &c, 1); /* AT:reader_5 */
    return x + (int)n;
}
static NOINLINE int reader_4(int x) { int r = reader_5(x + 1); /* AT:reader_4 */ sink += (unsigned)r; return r + 1; }
static NOINLINE int reader_3(int x) { int r = reader_4(x + 1); /* AT:reader_3 */ sink += (unsigned)r; return r + 1; }
static NOINLINE int reader_2(int x) { int r = reader_3(x + 1); /* AT:reader_2 */ sink += (unsigned)r; return r + 1; }
static NOINLINE int reader_1(int x) { int r = reader_2(x + 1); /* AT:reader_1 */ sink += (unsigned)r; return r + 1; }

/* ---- poller: epoll_wait() forever ---- */
static NOINLINE int poller_5(int x)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    epoll_ctl(ep, EPOLL_CTL_ADD, quiet_pipe[0], &ev);
    atomic_fetch_add(&parked, 1);
    struct epoll_event out;
    int n = epoll_wait(ep, &out, 1, -1); /* AT:poller_5 */
    close(ep);
    return x + n;
}
static NOINLINE int poller_4(int x) { int r = poller_5(x + 1); /* AT:poller_4 */ sink += (unsigned)r; return r + 1; }
static NOINLINE int poller_3(int x) { int r = poller_4(x + 1); /* AT:poller_3 */ sink += (unsigned)r; return r + 1; }
static NOINLINE int poller_2(int x) { int r = poller_3(x + 1); /* AT:poller_2 */ sink += (unsigned)r; return r + 1; }
static NOINLINE int poller_1(int x) { int r = poller_2(x + 1); /* AT:poller_1 */ sink += (unsigned)r; return r + 1; }

/* ---- waiter: a condition variable (futex) ---- */
static NOINLINE int waiter_5(int x)
{
    pthread_mutex_lock(&lock);
    atomic_fetch_add(&parked, 1);
    while (!atomic_load(&stopping))
        pthread_cond_wait(&cond, &lock); /* AT:waiter_5 */
    pthread_mutex_unlock(&lock);
    return x + 1;
}
static NOINLINE int waiter_4(int x) { int r = waiter_5(x + 1); /* AT:waiter_4 */ sink += (unsigned)r; return r + 1; }
static NOINLINE int waiter_3(int x) { int r = waiter_4(x + 1); /* AT:waiter_3 */ sink += (unsigned)r; return r + 1; }
static NOINLINE int waiter_2(int x) { int r = waiter_3(x + 1); /* AT:waiter_2 */ sink += (unsigned)r; return r + 1; }
static NOINLINE int waiter_1(int x) { int r = waiter_2(x + 1); /* AT:waiter_1 */ sink += (unsigned)r; return r + 1; }

/* ---- spinner: busy (signal path) ---- */
static NOINLINE int spinner_5(int x)
{
    atomic_fetch_add(&parked, 1);
    unsigned long i = 0;
    while (!atomic_load_explicit(&stopping, memory_order_relaxed)) /* AT:spinner_5 */
        i++;
    return x + (int)(i & 1);
}
static NOINLINE int spinner_4(int x) { int r = spinner_5(x + 1); /* AT:spinner_4 */ sink += (unsigned)r; return r + 1; }
static NOINLINE int spinner_3(int x) { int r = spinner_4(x + 1); /* AT:spinner_3 */ sink += (unsigned)r; return r + 1; }
static NOINLINE int spinner_2(int x) { int r = spinner_3(x + 1); /* AT:spinner_2 */ sink += (unsigned)r; return r + 1; }
static NOINLINE int spinner_1(int x) { int r = spinner_2(x + 1); /* AT:spinner_1 */ sink += (unsigned)r; return r + 1; }

/* ---- blocker: busy with every signal blocked ---- */
static NOINLINE int blocker_5(int x)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    atomic_fetch_add(&parked, 1);
    unsigned long i = 0;
    while (!atomic_load_explicit(&stopping, memory_order_relaxed)) {
        i++;
        if ((i & 0xfffff) == 0)
            sched_yield();
    }
    return x + (int)(i & 1);
}
static NOINLINE int blocker_4(int x) { int r = blocker_5(x + 1); sink += (unsigned)r; return r + 1; }
static NOINLINE int blocker_3(int x) { int r = blocker_4(x + 1); sink += (unsigned)r; return r + 1; }
static NOINLINE int blocker_2(int x) { int r = blocker_3(x + 1); sink += (unsigned)r; return r + 1; }
static NOINLINE int blocker_1(int x) { int r = blocker_2(x + 1); sink += (unsigned)r; return r + 1; }

/* ---- deep: blocked under a long recursion ---- */
static int deep_depth;

static NOINLINE int deep_recurse(int n)
{
    if (n <= 0) {
        atomic_fetch_add(&parked, 1);
        char c;
        return (int)read(quiet_pipe[0], &c, 1);
    }
    int r = deep_recurse(n - 1);
    sink += (unsigned)r;
    return r + 1;
}

static int deep_entry(int x)
{
    (void)x;
    return deep_recurse(deep_depth);
}

/* ---- dumper: blocked inside a callback of libjansson (loaded with dlopen) ---- */
static NOINLINE int dump_cb(const char *buf, size_t size, void *data)
{
    (void)buf, (void)size, (void)data;
    atomic_fetch_add(&parked, 1);
    char c;
    ssize_t n = read(quiet_pipe[0], &c, 1);
    return n < 0 ? -1 : 0;
}

static NOINLINE int dumper_3(int x)
{
    void *lib = dlopen("libjansson.so.4", RTLD_NOW | RTLD_LOCAL);
    void *(*mk)(const char *) = lib ? (void *(*)(const char *))dlsym(lib, "json_string") : NULL;
    int (*dump)(void *, int (*)(const char *, size_t, void *), void *, size_t) =
        lib ? (int (*)(void *, int (*)(const char *, size_t, void *), void *, size_t))dlsym(
                  lib, "json_dump_callback")
            : NULL;
    int r = mk && dump ? dump(mk("blocked"), dump_cb, NULL, 0x200 /* JSON_ENCODE_ANY */) : -1;
    if (r < 0) {
        fprintf(stderr, "victim: json_dump_callback failed\n");
        atomic_fetch_add(&parked, 1);
    }
    return r + x;
}
static NOINLINE int dumper_2(int x) { int r = dumper_3(x + 1); sink += (unsigned)r; return r + 1; }
static NOINLINE int dumper_1(int x) { int r = dumper_2(x + 1); sink += (unsigned)r; return r + 1; }

static void on_signal(int signo)
{
    (void)signo;
}

struct role {
    const char *name;
    int (*entry)(int);
};

static void *run_role(void *arg)
{
    const struct role *r = arg;
    pthread_setname_np(pthread_self(), r->name);
    return (void *)(long)r->entry(0);
}

/* ---- churn: threads created and destroyed continuously ---- */
static atomic_bool churning;

static void *short_lived(void *arg)
{
    pthread_setname_np(pthread_self(), "short-lived");
    sink += (unsigned long)arg;
    return NULL;
}

static void *churner(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "churner");
    while (atomic_load(&churning)) {
        pthread_t t[4];
        for (int i = 0; i < 4; i++)
            pthread_create(&t[i], NULL, short_lived, (void *)(long)i);
        for (int i = 0; i < 4; i++)
            pthread_join(t[i], NULL);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    victim_map_main_stack();
    bool json = false, setup = true, group = false, blocker = true, spinner = true;
    bool occupy = false, dumper = false, exit_main = false;
    int capture_signo = 0, twins = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "--no-setup") == 0)
            setup = false;
        else if (strcmp(argv[i], "--group") == 0)
            group = true;
        else if (strcmp(argv[i], "--no-blocker") == 0)
            blocker = false;
        else if (strcmp(argv[i], "--no-spinner") == 0)
            spinner = false;
        else if (strcmp(argv[i], "--capture-signal") == 0 && i + 1 < argc)
            capture_signo = atoi(argv[++i]);
        else if (strcmp(argv[i], "--occupy") == 0)
            occupy = true;
        else if (strcmp(argv[i], "--twins") == 0 && i + 1 < argc)
            twins = atoi(argv[++i]);
        else if (strcmp(argv[i], "--deep") == 0 && i + 1 < argc)
            deep_depth = atoi(argv[++i]);
        else if (strcmp(argv[i], "--dumper") == 0)
            dumper = true;
        else if (strcmp(argv[i], "--exit-main") == 0)
            exit_main = true;
    }
    if (pipe(quiet_pipe) < 0)
        return 1;
    if (json)
        gmr_set_format(GMR_FORMAT_JSON);
    if (group)
        gmr_set_group_threads(true);
    if (capture_signo)
        gmr_set_capture_signal(capture_signo);
    if (occupy && capture_signo)
        signal(capture_signo, on_signal);
    if (setup) {
        int r = gmr_setup_autorun(NULL, NULL, "victim-threads");
        printf("SETUP %d\n", r);
        fflush(stdout);
    }

    static const struct role roles[] = {
        {"sleeper", sleeper_1}, {"reader", reader_1},   {"poller", poller_1},
        {"waiter", waiter_1},   {"spinner", spinner_1}, {"blocker", blocker_1},
    };
    static const struct role twin = {"twin", reader_1};
    static const struct role deep = {"deep", deep_entry};
    static const struct role dump = {"dumper", dumper_1};
    pthread_t threads[64];
    int started = 0;
    for (int i = 0; i < twins && i < 32; i++)
        pthread_create(&threads[started++], NULL, run_role, (void *)&twin);
    if (deep_depth > 0)
        pthread_create(&threads[started++], NULL, run_role, (void *)&deep);
    if (dumper)
        pthread_create(&threads[started++], NULL, run_role, (void *)&dump);
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
        if ((!blocker && strcmp(roles[i].name, "blocker") == 0) ||
            (!spinner && strcmp(roles[i].name, "spinner") == 0))
            continue;
        pthread_create(&threads[started++], NULL, run_role, (void *)&roles[i]);
    }
    /* Never joined; a role that returns (a signal can end the poller's wait) is no leak. */
    for (int i = 0; i < started; i++)
        pthread_detach(threads[i]);
    while (atomic_load(&parked) < started)
        usleep(1000);
    usleep(50000); /* let the last ones enter their system calls */
    printf("READY\n");
    fflush(stdout);
    /*
     * The process lives on in its other threads; /proc/PID/maps, fd, exe and cmdline of the
     * thread-group leader, now a zombie, read as empty.
     */
    if (exit_main)
        pthread_exit(NULL);

    pthread_t churn_thread;
    bool churn_running = false;
    char line[256];
    while (fgets(line, sizeof(line), stdin)) {
        if (strncmp(line, "report ", 7) == 0) {
            enum gmr_format f = strncmp(line + 7, "json", 4) == 0 ? GMR_FORMAT_JSON
                                                                  : GMR_FORMAT_TEXT;
            fflush(stdout);
            int r = gmr_write_report(1, f);
            printf("DONE %d\n", r);
        } else if (strcmp(line, "churn on\n") == 0 && !churn_running) {
            atomic_store(&churning, true);
            pthread_create(&churn_thread, NULL, churner, NULL);
            churn_running = true;
            printf("CHURNING\n");
        } else if (strcmp(line, "churn off\n") == 0 && churn_running) {
            atomic_store(&churning, false);
            pthread_join(churn_thread, NULL);
            churn_running = false;
            printf("CHURN OFF\n");
        } else if (strcmp(line, "ping\n") == 0) {
            printf("PONG\n");
        }
        fflush(stdout);
    }
    if (churn_running) {
        atomic_store(&churning, false);
        pthread_join(churn_thread, NULL);
    }
    /* Exit without joining: the parked threads never return. */
    gmr_shutdown();
    fflush(stdout);
    _exit(0);
}
