/*
 * Benchmark victim: N threads, each parked 20 calls deep in distinct functions (bench_depth_0
 * .. bench_depth_19), blocked in read() on a pipe -- or, with --busy, spinning there.  Reports
 * are triggered by SIGUSR2 and written to stderr, as JSON or (--text) in the default text format.
 * Prints READY when every thread is parked; exits when stdin closes.
 *   victim-bench [--threads N] [--busy] [--text]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gmr/gmr.h>

static int park_pipe[2];
static bool busy;
static atomic_int parked;
static atomic_bool stop;

#define NOINLINE __attribute__((noinline))

/* The innermost function: blocks (or spins) until the process exits. */
static NOINLINE int bench_leaf(int x)
{
    atomic_fetch_add(&parked, 1);
    if (busy) {
        volatile unsigned long spins = 0;
        while (!atomic_load_explicit(&stop, memory_order_relaxed))
            spins++;
        return (int)(spins & 1) + x;
    }
    char c;
    ssize_t n = read(park_pipe[0], &c, 1);
    return (int)n + x;
}

/*
 * Twenty distinct frames: each level calls the next and uses its result, so no call is a
 * tail call and every frame stays on the stack.
 */
#define LEVEL(n, next)                                                                             \
    static NOINLINE int bench_depth_##n(int x)                                                     \
    {                                                                                              \
        volatile int local = x + n;                                                                \
        int r = next(local);                                                                       \
        return r + local;                                                                          \
    }

LEVEL(19, bench_leaf)
LEVEL(18, bench_depth_19)
LEVEL(17, bench_depth_18)
LEVEL(16, bench_depth_17)
LEVEL(15, bench_depth_16)
LEVEL(14, bench_depth_15)
LEVEL(13, bench_depth_14)
LEVEL(12, bench_depth_13)
LEVEL(11, bench_depth_12)
LEVEL(10, bench_depth_11)
LEVEL(9, bench_depth_10)
LEVEL(8, bench_depth_9)
LEVEL(7, bench_depth_8)
LEVEL(6, bench_depth_7)
LEVEL(5, bench_depth_6)
LEVEL(4, bench_depth_5)
LEVEL(3, bench_depth_4)
LEVEL(2, bench_depth_3)
LEVEL(1, bench_depth_2)
LEVEL(0, bench_depth_1)

static void *worker(void *arg)
{
    (void)arg;
    return (void *)(long)bench_depth_0(1);
}

int main(int argc, char **argv)
{
    int nthreads = 10;
    bool text = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            nthreads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--busy") == 0)
            busy = true;
        else if (strcmp(argv[i], "--text") == 0)
            text = true;
    }
    if (pipe(park_pipe) < 0)
        return 1;
    gmr_set_format(text ? GMR_FORMAT_TEXT : GMR_FORMAT_JSON);
    gmr_set_capture_timeout_ns(5000000000ull);
    int r = gmr_setup_autorun(NULL, NULL, "victim-bench");
    if (r < 0) {
        fprintf(stderr, "setup: %d\n", r);
        return 1;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t *t = calloc((size_t)nthreads, sizeof(*t));
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&t[i], &attr, worker, NULL) != 0) {
            fprintf(stderr, "pthread_create failed at %d\n", i);
            return 1;
        }
    }
    while (atomic_load(&parked) < nthreads)
        usleep(1000);
    usleep(20000); /* the last ones reach read() */
    printf("READY %d\n", (int)getpid());
    fflush(stdout);

    char line[64];
    while (fgets(line, sizeof(line), stdin))
        ;
    atomic_store(&stop, true);
    close(park_pipe[1]);
    for (int i = 0; i < nthreads; i++)
        pthread_join(t[i], NULL);
    free(t);
    gmr_shutdown();
    return 0;
}
