/*
 * What libgmr adds to fork().  A worker process forks children, each of which either exits at
 * once (fork + _exit) or execs /bin/true (fork + exec), and waits for each; the time per fork
 * runs from the parent's fork() until waitpid() returns, so it includes the child's work up to
 * its exit or exec.  Workers run in these modes:
 *
 *   plain   libgmr linked but not set up: no fork handler is registered
 *   plain+  the same, with as much memory touched as "report" has (see below)
 *   setup   after gmr_setup_autorun() (signal trigger, reporter thread), before any report
 *   report  after one report (the symbolizer has read the process's modules)
 *   busy    while another thread writes reports in a loop (fork() lands inside reports)
 *
 * A round runs one worker per mode, one after the other, each forking --forks children of
 * each kind; the table gives the median over --rounds rounds.  Alternating the modes makes
 * other load on the machine hit them alike.  A process that uses more memory takes longer to
 * fork whatever the fork handlers do, so "report" and "busy" are compared with "plain+", the
 * others with "plain".
 *
 * Usage: fork-cost [--forks N] [--rounds N] [--exec PATH]
 * Not a test: it prints a table.  Build: meson setup build && ninja -C build bench/fork-cost
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gmr/gmr.h>

#define MAX_ROUNDS 101

extern char **environ;

static const char *const modes[] = {"plain", "plain+", "setup", "report", "busy"};
#define N_MODES 5

static long arg_forks = 100;
static int arg_rounds = 9;
static const char *arg_exec = "/bin/true";

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One child: exits at once, or execs arg_exec.  Returns false when a child failed. */
static bool one_fork(bool exec)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (exec) {
            char *argv[] = {(char *)arg_exec, NULL};
            char *envp[] = {NULL};
            execve(arg_exec, argv, envp);
            _exit(127);
        }
        _exit(0);
    }
    if (pid < 0)
        return false;
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Microseconds per fork over arg_forks children; -1 when one failed. */
static double measure(bool exec)
{
    uint64_t t0 = now_ns();
    for (long i = 0; i < arg_forks; i++) {
        if (!one_fork(exec))
            return -1;
    }
    return (double)(now_ns() - t0) / 1e3 / (double)arg_forks;
}

static atomic_bool busy;

static void *report_loop(void *arg)
{
    int fd = *(int *)arg;
    while (atomic_load(&busy))
        (void)gmr_write_report(fd, GMR_FORMAT_TEXT);
    return NULL;
}

/* Resident set size in KiB, from /proc/self/statm. */
static long rss_kib(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "re");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/*
 * A worker: gets into @mode, warms up, measures; prints "<fork_us> <exec_us> <rss_kib>".
 * @grow_kib: memory to touch in mode "plain+".
 */
static int worker(const char *mode, long grow_kib)
{
    int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null_fd < 0)
        return 1;
    bool setup = strcmp(mode, "setup") == 0 || strcmp(mode, "report") == 0 ||
                 strcmp(mode, "busy") == 0;
    if (strcmp(mode, "plain+") == 0 && grow_kib > 0) {
        size_t bytes = (size_t)grow_kib * 1024;
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED)
            memset(p, 1, bytes);
    }
    if (setup) {
        int r = gmr_setup_autorun(NULL, NULL, "fork-cost");
        if (r < 0) {
            fprintf(stderr, "fork-cost: gmr_setup_autorun: %s\n", strerror(-r));
            return 1;
        }
    }
    if (strcmp(mode, "report") == 0 || strcmp(mode, "busy") == 0)
        (void)gmr_write_report(null_fd, GMR_FORMAT_TEXT);
    pthread_t t;
    bool looping = false;
    if (strcmp(mode, "busy") == 0) {
        atomic_store(&busy, true);
        looping = pthread_create(&t, NULL, report_loop, &null_fd) == 0;
    }
    (void)one_fork(false); /* warm up */
    (void)one_fork(true);
    double fork_us = measure(false), exec_us = measure(true);
    long rss = rss_kib();
    if (looping) {
        atomic_store(&busy, false);
        pthread_join(t, NULL);
    }
    if (setup)
        gmr_shutdown();
    printf("%.3f %.3f %ld\n", fork_us, exec_us, rss);
    return fork_us < 0 || exec_us < 0;
}

/* Runs a worker in @mode (with posix_spawn(): no fork handler runs here). */
static int run_worker(const char *self, const char *mode, long grow_kib, double *fork_us,
                      double *exec_us, long *rss)
{
    char forks[32], grow[32], out_path[] = "/tmp/fork-cost-XXXXXX";
    snprintf(forks, sizeof(forks), "%ld", arg_forks);
    snprintf(grow, sizeof(grow), "%ld", grow_kib);
    int out = mkstemp(out_path);
    if (out < 0)
        return -1;
    unlink(out_path);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out, STDOUT_FILENO);
    char *argv[] = {(char *)self, "--worker", (char *)mode,  "--forks", forks,
                    "--grow-kib", grow, "--exec", (char *)arg_exec, NULL};
    pid_t pid;
    int err = posix_spawn(&pid, self, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    int status = -1;
    while (err == 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    char buf[128] = "";
    ssize_t n = pread(out, buf, sizeof(buf) - 1, 0);
    close(out);
    buf[n > 0 ? n : 0] = '\0';
    if (err || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        sscanf(buf, "%lf %lf %ld", fork_us, exec_us, rss) != 3)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    const char *worker_mode = NULL;
    long grow_kib = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--forks") == 0 && i + 1 < argc)
            arg_forks = atol(argv[++i]);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            arg_rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--exec") == 0 && i + 1 < argc)
            arg_exec = argv[++i];
        else if (strcmp(argv[i], "--worker") == 0 && i + 1 < argc)
            worker_mode = argv[++i];
        else if (strcmp(argv[i], "--grow-kib") == 0 && i + 1 < argc)
            grow_kib = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: fork-cost [--forks N] [--rounds N] [--exec PATH]\n");
            return 2;
        }
    }
    if (arg_forks < 1 || arg_rounds < 1 || arg_rounds > MAX_ROUNDS) {
        fprintf(stderr, "fork-cost: --forks >= 1, --rounds 1..%d\n", MAX_ROUNDS);
        return 2;
    }
    if (worker_mode)
        return worker(worker_mode, grow_kib);

    static double fork_us[N_MODES][MAX_ROUNDS], exec_us[N_MODES][MAX_ROUNDS];
    long rss[N_MODES] = {0};
    for (int r = 0; r < arg_rounds; r++) {
        for (int m = 0; m < N_MODES; m++) {
            /* "plain+" grows to the size "report" had in the round before (or this one's). */
            if (m == 1 && r == 0) {
                double f, e;
                if (run_worker(argv[0], "report", 0, &f, &e, &rss[3]) < 0)
                    return 1;
            }
            if (run_worker(argv[0], modes[m], m == 1 ? rss[3] - rss[0] : 0, &fork_us[m][r],
                           &exec_us[m][r], &rss[m]) < 0) {
                fprintf(stderr, "fork-cost: the %s worker failed\n", modes[m]);
                return 1;
            }
        }
    }
    double fmed[N_MODES], emed[N_MODES];
    for (int m = 0; m < N_MODES; m++) {
        qsort(fork_us[m], (size_t)arg_rounds, sizeof(double), cmp_double);
        qsort(exec_us[m], (size_t)arg_rounds, sizeof(double), cmp_double);
        fmed[m] = fork_us[m][arg_rounds / 2];
        emed[m] = exec_us[m][arg_rounds / 2];
    }
    printf("fork-cost: %ld forks of each kind per worker, median of %d rounds; exec: %s\n",
           arg_forks, arg_rounds, arg_exec);
    printf("| mode   | RSS (MiB) | fork+_exit (us) | ratio | fork+exec (us) | ratio |\n");
    printf("|--------|-----------|-----------------|-------|----------------|-------|\n");
    for (int m = 0; m < N_MODES; m++) {
        int base = m >= 3 ? 1 : 0;
        printf("| %-6s | %9.1f | %15.1f | %5.2f | %14.1f | %5.2f |\n", modes[m],
               (double)rss[m] / 1024.0, fmed[m], fmed[m] / fmed[base], emed[m],
               emed[m] / emed[base]);
    }
    printf("ratio: \"report\" and \"busy\" against \"plain+\", the others against \"plain\"\n");
    return 0;
}
