/*
 * What libgmr adds to fork().  One process forks children, each of which either exits at once
 * (fork + _exit) or execs /bin/true (fork + exec); the parent waits for each.  A round is
 * --forks such children; the median round is kept.  Measured in this order, in one run:
 *
 *   plain   libgmr linked but not set up: no fork handler is registered
 *   setup   after gmr_setup_autorun() (signal trigger, reporter thread), before any report
 *   report  after one report (the symbolizer has read the process's modules)
 *   busy    while another thread writes reports in a loop (fork() lands inside reports)
 *
 * and each line gives the time per fork (parent's fork() until waitpid() returns, which
 * includes the child's work up to its exit or exec) and its ratio to "plain".  The process
 * grows between the modes (the symbolizer's memory), and a larger process takes longer to fork
 * whatever the fork handlers do; --grow adds a mode "plain+", measured right after "plain":
 * still no libgmr, but as much memory touched as "report" has, and "report" and "busy" are
 * compared with it instead, so that their ratio shows what the fork handlers cost.
 *
 * Usage: fork-cost [--forks N] [--rounds N] [--exec PATH] [--grow]
 * Not a test: it prints a table.  Build: meson setup build && ninja -C build bench/fork-cost
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

static long arg_forks = 200;
static int arg_rounds = 11;
static const char *arg_exec = "/bin/true";
static bool arg_grow;

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

/* Median over the rounds of the time per fork, in microseconds. */
static double measure(bool exec)
{
    double per_fork[MAX_ROUNDS];
    for (int r = 0; r < arg_rounds; r++) {
        uint64_t t0 = now_ns();
        for (long i = 0; i < arg_forks; i++) {
            if (!one_fork(exec)) {
                fprintf(stderr, "fork-cost: a child failed\n");
                exit(1);
            }
        }
        per_fork[r] = (double)(now_ns() - t0) / 1e3 / (double)arg_forks;
    }
    qsort(per_fork, (size_t)arg_rounds, sizeof(double), cmp_double);
    return per_fork[arg_rounds / 2];
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

struct row {
    const char *mode;
    double fork_us, exec_us;
    long rss;
};

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--forks") == 0 && i + 1 < argc)
            arg_forks = atol(argv[++i]);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            arg_rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--exec") == 0 && i + 1 < argc)
            arg_exec = argv[++i];
        else if (strcmp(argv[i], "--grow") == 0)
            arg_grow = true;
        else {
            fprintf(stderr, "usage: fork-cost [--forks N] [--rounds N] [--exec PATH] [--grow]\n");
            return 2;
        }
    }
    if (arg_forks < 1 || arg_rounds < 1 || arg_rounds > MAX_ROUNDS) {
        fprintf(stderr, "fork-cost: --forks >= 1, --rounds 1..%d\n", MAX_ROUNDS);
        return 2;
    }
    int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null_fd < 0) {
        perror("fork-cost: /dev/null");
        return 1;
    }

    struct row rows[5];
    int n = 0;
    size_t grow_bytes = 0;
    void *grown = NULL;
    if (arg_grow) {
        /* As much memory as a report makes the process use, measured in a throwaway child. */
        int p[2];
        long extra = 0;
        if (pipe(p) == 0) {
            pid_t pid = fork();
            if (pid == 0) {
                long before = rss_kib();
                if (gmr_setup_autorun(NULL, NULL, "fork-cost") == 0)
                    (void)gmr_write_report(null_fd, GMR_FORMAT_TEXT);
                long d = rss_kib() - before;
                _exit(write(p[1], &d, sizeof(d)) == (ssize_t)sizeof(d) ? 0 : 1);
            }
            close(p[1]);
            if (pid < 0 || read(p[0], &extra, sizeof(extra)) != (ssize_t)sizeof(extra))
                extra = 0;
            close(p[0]);
            if (pid > 0)
                waitpid(pid, NULL, 0);
        }
        grow_bytes = extra > 0 ? (size_t)extra * 1024 : 0;
        if (grow_bytes) {
            grown = mmap(NULL, grow_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                         -1, 0);
            if (grown == MAP_FAILED)
                grown = NULL;
        }
    }
    rows[n++] = (struct row){"plain", measure(false), measure(true), rss_kib()};
    if (grown) {
        memset(grown, 1, grow_bytes);
        rows[n++] = (struct row){"plain+", measure(false), measure(true), rss_kib()};
        munmap(grown, grow_bytes);
    }
    int same_size = n - 1; /* the row "report" and "busy" are compared with */

    int r = gmr_setup_autorun(NULL, NULL, "fork-cost");
    if (r < 0) {
        fprintf(stderr, "fork-cost: gmr_setup_autorun: %s\n", strerror(-r));
        return 1;
    }
    rows[n++] = (struct row){"setup", measure(false), measure(true), rss_kib()};
    (void)gmr_write_report(null_fd, GMR_FORMAT_TEXT);
    rows[n++] = (struct row){"report", measure(false), measure(true), rss_kib()};

    pthread_t t;
    atomic_store(&busy, true);
    if (pthread_create(&t, NULL, report_loop, &null_fd) == 0) {
        rows[n++] = (struct row){"busy", measure(false), measure(true), rss_kib()};
        atomic_store(&busy, false);
        pthread_join(t, NULL);
    }
    gmr_shutdown();

    printf("fork-cost: %ld forks per round, median of %d rounds; exec: %s\n", arg_forks,
           arg_rounds, arg_exec);
    printf("| mode   | RSS (MiB) | fork+_exit (us) | ratio | fork+exec (us) | ratio |\n");
    printf("|--------|-----------|-----------------|-------|----------------|-------|\n");
    for (int i = 0; i < n; i++) {
        bool big = strcmp(rows[i].mode, "report") == 0 || strcmp(rows[i].mode, "busy") == 0;
        const struct row *base = &rows[big ? same_size : 0];
        printf("| %-6s | %9.1f | %15.1f | %5.2f | %14.1f | %5.2f |\n", rows[i].mode,
               (double)rows[i].rss / 1024.0, rows[i].fork_us, rows[i].fork_us / base->fork_us,
               rows[i].exec_us, rows[i].exec_us / base->exec_us);
    }
    if (same_size > 0)
        printf("ratio: \"report\" and \"busy\" against \"plain+\", the others against \"plain\"\n");
    close(null_fd);
    return 0;
}
