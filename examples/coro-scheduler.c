/*
 * coro-scheduler: a round-robin scheduler of ucontext coroutines ("green threads"), each
 * registered with libgmr, so that reports show where every suspended coroutine stopped.
 * Send it SIGUSR2 (kill -USR2 PID) for a Guru Meditation Report on stderr; SIGTERM or SIGINT
 * stops it.
 *
 * Coroutines, each a few calls deep when it yields:
 *   http-accept    accept_loop -> wait_for_client -> poll_listener -> coro_yield
 *   db-query       run_queries -> fetch_rows -> wait_for_rows -> coro_yield
 *   cache-refresh  refresh_cache -> backoff -> coro_yield
 *   log-flusher    flush_logs -> write_batch (blocks 1 s: it is usually running) -> coro_yield
 *   report-mailer  registered, never started
 * The scheduler (the main thread) resumes each in turn, then sleeps 20 ms.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <gmr/gmr.h>

#define NOINLINE   __attribute__((noinline))
#define STACK_SIZE (64 * 1024)

struct task {
    const char *name;
    void (*body)(void);
    ucontext_t ctx; /* where it is suspended */
    void *stack;    /* STACK_SIZE bytes */
    gmr_coro *gmr;  /* its libgmr handle */
    unsigned long steps;
};

static ucontext_t sched_ctx;
static struct task *current;
static volatile sig_atomic_t stop;
static volatile unsigned long sink;

static void on_stop(int signo)
{
    (void)signo;
    stop = 1;
}

/* Back to the scheduler; it marks us suspended once swapcontext() has saved our context. */
static NOINLINE void coro_yield(void)
{
    struct task *self = current;
    swapcontext(&self->ctx, &sched_ctx);
    self->steps++; /* work after each call keeps it a real call: every level shows up */
}

/* Sleeps @ms milliseconds, even when a signal (SIGUSR2 for a report) interrupts the sleep. */
static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && !stop)
        ;
}

/* ---- http-accept ---- */
static NOINLINE void poll_listener(int fd)
{
    sink += (unsigned long)fd;
    coro_yield(); /* no client yet */
    sink++;
}
static NOINLINE void wait_for_client(int fd)
{
    poll_listener(fd);
    sink++;
}
static NOINLINE void accept_loop(void)
{
    for (;;)
        wait_for_client(3);
}

/* ---- db-query ---- */
static NOINLINE void wait_for_rows(const char *sql)
{
    sink += strlen(sql);
    coro_yield(); /* the database has not answered */
    sink++;
}
static NOINLINE void fetch_rows(const char *sql)
{
    wait_for_rows(sql);
    sink++;
}
static NOINLINE void run_queries(void)
{
    for (;;)
        fetch_rows("SELECT id, state FROM instances WHERE host = 'node1'");
}

/* ---- cache-refresh ---- */
static NOINLINE void backoff(unsigned attempt)
{
    sink += attempt;
    coro_yield(); /* try again next round */
    sink++;
}
static NOINLINE void refresh_cache(void)
{
    for (unsigned attempt = 0;; attempt++)
        backoff(attempt);
}

/* ---- log-flusher: blocks its thread, so reports usually find it running ---- */
static NOINLINE void write_batch(void)
{
    pause_ms(1000); /* a slow blocking write inside a coroutine */
    coro_yield();
    sink++;
}
static NOINLINE void flush_logs(void)
{
    for (;;)
        write_batch();
}

/* ---- report-mailer: never started ---- */
static NOINLINE void mail_reports(void)
{
    for (;;)
        coro_yield();
}

/* clang-format off */
static struct task tasks[] = {
    {.name = "http-accept", .body = accept_loop},
    {.name = "db-query", .body = run_queries},
    {.name = "cache-refresh", .body = refresh_cache},
    {.name = "log-flusher", .body = flush_logs},
    {.name = "report-mailer", .body = mail_reports},
};
/* clang-format on */
#define N_TASKS (sizeof(tasks) / sizeof(tasks[0]))
#define N_RUN   4 /* report-mailer stays new */

static int start_task(struct task *t)
{
    t->stack = malloc(STACK_SIZE);
    if (!t->stack || getcontext(&t->ctx) < 0)
        return -1;
    t->ctx.uc_stack.ss_sp = t->stack;
    t->ctx.uc_stack.ss_size = STACK_SIZE;
    t->ctx.uc_link = &sched_ctx;
    makecontext(&t->ctx, t->body, 0);
    /* The stack range lets the report check and bound what it reads. */
    int r = gmr_coro_register(t->name, 0, t->stack, STACK_SIZE, &t->gmr);
    if (r < 0)
        fprintf(stderr, "coro-scheduler: gmr_coro_register: %s\n", strerror(-r));
    return 0;
}

/* Runs @t until it yields. */
static void resume(struct task *t)
{
    current = t;
    gmr_coro_running(t->gmr); /* before the switch: it runs on this thread from now on */
    swapcontext(&sched_ctx, &t->ctx);
    gmr_coro_suspended(t->gmr, &t->ctx); /* after it: the context is saved */
    current = NULL;
}

int main(void)
{
    static const struct gmr_version version = {"Example Org", "coro-scheduler", "1.0.0"};
    /* Keep the demo's report short: the sections about threads only. */
    gmr_set_builtin_sections(GMR_SECTION_THREADS | GMR_SECTION_GREEN_THREADS);
    int r = gmr_setup_autorun(&version, NULL, NULL);
    if (r < 0) {
        fprintf(stderr, "coro-scheduler: gmr_setup_autorun: %s\n", strerror(-r));
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_stop};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    for (size_t i = 0; i < N_TASKS; i++) {
        if (start_task(&tasks[i]) < 0) {
            fprintf(stderr, "coro-scheduler: cannot create %s\n", tasks[i].name);
            return 1;
        }
    }
    printf("coro-scheduler: %zu coroutines; kill -USR2 %d for a report\n", N_TASKS, (int)getpid());
    fflush(stdout);

    unsigned long rounds = 0;
    while (!stop) {
        for (size_t i = 0; i < N_RUN && !stop; i++)
            resume(&tasks[i]);
        rounds++;
        pause_ms(20);
    }

    for (size_t i = 0; i < N_TASKS; i++) {
        gmr_coro_unregister(tasks[i].gmr); /* before its stack goes */
        free(tasks[i].stack);
    }
    gmr_shutdown();
    printf("coro-scheduler: stopped after %lu rounds\n", rounds);
    return 0;
}
