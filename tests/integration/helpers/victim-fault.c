/*
 * Victim for the fault tests: threads in states that make capturing them hard, and commands
 * that fork and exec around reports.  Threads started by options:
 *   --sigblock  sigblock_spinner: a busy loop with every signal blocked (signal path refused);
 *               sigblock_reader: read() on a pipe with every signal blocked (quiet path)
 *   --dstate    vfork_waiter: a thread that called vfork(); the child blocks in read(), so the
 *               thread sleeps uninterruptibly ("D") until "release"
 *   --garbage   garbage_spinner_{cycle,wild,down}: busy loops whose frame pointer and frame
 *               area hold garbage (a frame chain that loops on itself, one that points to
 *               unmapped memory, one that runs downwards); garbage_reader: the same garbage,
 *               blocked in a raw read() system call (x86_64 only: "GARBAGE unsupported"
 *               elsewhere)
 * Other options: --json, --log-dir DIR, --file-trigger PATH, --control-socket,
 * --fsize-limit BYTES (RLIMIT_FSIZE, set before setup), --config FILE (a configuration object
 * with a service's options, two of them secret, loaded from FILE); arguments after "--" go to
 * gmr_conf_parse_args() (with --config).
 * Commands on stdin, one per line:
 *   report text|json  gmr_write_report(1, ...), then "DONE <result>"
 *   release           lets the option threads finish, joins them: "RELEASED"
 *   fork              forks a child that waits for "reap": "CHILD <pid>"
 *   reap              releases and reaps that child: "REAPED <status>"
 *   forksig           as "fork", but the child raises the trigger signal in a fork handler
 *                     that runs before libgmr's (before the child has a reporter thread)
 *   forkstorm N       forks N children, one after the other, while another thread writes
 *                     reports in a loop; each child writes two reports of its own (text to
 *                     /dev/null, then JSON whose header must name the child) and exits:
 *                     "FORKSTORM ok=<n> failed=<n>"
 *   exec              forks a child that execs this program with --listfds: its output goes
 *                     to stdout, then "EXECED <status>"
 *   ping              "PONG"
 * It exits when stdin closes.  With --listfds as its only argument it prints "FD <n> <target>"
 * for each open descriptor, the SigBlk/SigIgn/SigCgt masks, and "END", and does nothing else.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gmr/gmr.h>

#include "victim-stack.h"

#define NOINLINE __attribute__((noinline, noclone))
#define MAX_THREADS 16

static atomic_int parked;
/* Read by the assembly loops; C code uses atomic builtins on it (no data race). */
static volatile int release_flag;
static int release_pipe[2];       /* "release" writes one byte per blocked reader */
static int vfork_pipe[2];
static char self_path[PATH_MAX];
static char read_byte;

static pthread_t threads[MAX_THREADS];
static int n_threads;
static atomic_int tids[MAX_THREADS];

static int gettid_(void)
{
    return (int)syscall(SYS_gettid);
}

/* ---- every signal blocked ---- */

static void block_all(void)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, NULL);
}

/*
 * valgrind runs one thread at a time and hands the CPU over at system calls or after a long
 * time slice: a loop without system calls would make every system call of the reporter wait
 * for a whole slice.  Under valgrind (the tests set GMR_VICTIM_WRAPPER) the spinner yields now
 * and then; it is still a running thread that blocks every signal.
 */
static bool yield_often;

static NOINLINE void sigblock_spinner(void)
{
    block_all();
    atomic_fetch_add(&parked, 1);
    for (unsigned long i = 0; !__atomic_load_n(&release_flag, __ATOMIC_RELAXED); i++) {
        __asm__ volatile("" ::: "memory");
        if (yield_often && i % 1024 == 0)
            sched_yield();
    }
}

static NOINLINE void sigblock_reader(void)
{
    block_all();
    atomic_fetch_add(&parked, 1);
    char c;
    while (read(release_pipe[0], &c, 1) < 0 && errno == EINTR)
        ;
}

/* ---- uninterruptible sleep: a vfork() parent waits for its child in state D ---- */

static NOINLINE void vfork_waiter(void)
{
    atomic_fetch_add(&parked, 1);
    pid_t pid = vfork();
    if (pid == 0) {
        /* The child borrows this thread's memory: only raw system calls until it leaves. */
        char c;
        syscall(SYS_close, vfork_pipe[1]); /* end of file when the parent dies */
        syscall(SYS_read, vfork_pipe[0], &c, 1);
        _exit(0);
    }
    if (pid > 0) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
}

/* ---- garbage frames ---- */

#if defined(__x86_64__)
#define GARBAGE_SUPPORTED 1
/*
 * Each loop moves the stack pointer past the red zone, lays out garbage there, points the
 * frame pointer into it and spins (or blocks) without any call, so the unwinder meets the
 * garbage through the frame pointer (CFA = rbp + 16 with frame pointers) or through the
 * moved stack pointer (CFA = rsp + N without).  Everything is restored before returning.
 */
static NOINLINE void garbage_spinner_cycle(void)
{
    atomic_fetch_add(&parked, 1);
    __asm__ volatile("push %%rbp\n\t"
                     "sub $1024, %%rsp\n\t"
                     "lea 256(%%rsp), %%rbp\n\t"
                     "mov %%rbp, 0(%%rbp)\n\t" /* saved frame pointer: itself */
                     "movabs $0xdeadbeefcafebabe, %%rax\n\t"
                     "mov %%rax, 8(%%rbp)\n\t" /* return address: not mapped */
                     "mov %%rax, 0(%%rsp)\n\t"
                     "1: pause\n\t"
                     "cmpl $0, %[stop]\n\t"
                     "je 1b\n\t"
                     "add $1024, %%rsp\n\t"
                     "pop %%rbp\n\t"
                     :
                     : [stop] "m"(release_flag)
                     : "rax", "memory", "cc");
}

static NOINLINE void garbage_spinner_wild(void)
{
    atomic_fetch_add(&parked, 1);
    __asm__ volatile("push %%rbp\n\t"
                     "sub $1024, %%rsp\n\t"
                     "mov $16, %%rbp\n\t" /* frame pointer into the zero page */
                     "lea 1(%%rip), %%rax\n\t" /* the middle of an instruction */
                     "mov $128, %%ecx\n\t"
                     "2: mov %%rax, -8(%%rsp,%%rcx,8)\n\t"
                     "dec %%ecx\n\t"
                     "jnz 2b\n\t"
                     "1: pause\n\t"
                     "cmpl $0, %[stop]\n\t"
                     "je 1b\n\t"
                     "add $1024, %%rsp\n\t"
                     "pop %%rbp\n\t"
                     :
                     : [stop] "m"(release_flag)
                     : "rax", "rcx", "memory", "cc");
}

static NOINLINE void garbage_spinner_down(void)
{
    atomic_fetch_add(&parked, 1);
    /* A chain of 60 frames, each link pointing 16 bytes lower, return addresses into libc. */
    void *ret = (void *)(uintptr_t)((uintptr_t)&memcpy + 3);
    __asm__ volatile("push %%rbp\n\t"
                     "sub $1024, %%rsp\n\t"
                     "lea 1008(%%rsp), %%rbp\n\t"
                     "mov %%rbp, %%rdx\n\t"
                     "mov $60, %%ecx\n\t"
                     "2: lea -16(%%rdx), %%r8\n\t"
                     "mov %%r8, 0(%%rdx)\n\t"
                     "mov %[ret], 8(%%rdx)\n\t"
                     "mov %%r8, %%rdx\n\t"
                     "dec %%ecx\n\t"
                     "jnz 2b\n\t"
                     "1: pause\n\t"
                     "cmpl $0, %[stop]\n\t"
                     "je 1b\n\t"
                     "add $1024, %%rsp\n\t"
                     "pop %%rbp\n\t"
                     :
                     : [stop] "m"(release_flag), [ret] "r"(ret)
                     : "rcx", "rdx", "r8", "memory", "cc");
}

/* Blocked in read(2) on the release pipe, restarted on EINTR, with garbage as above. */
static NOINLINE void garbage_reader(void)
{
    atomic_fetch_add(&parked, 1);
    long fd = release_pipe[0];
    __asm__ volatile("push %%rbp\n\t"
                     "sub $1024, %%rsp\n\t"
                     "lea 512(%%rsp), %%rbp\n\t"
                     "mov %%rbp, 0(%%rbp)\n\t"
                     "movabs $0x00007fff00000001, %%rax\n\t"
                     "mov %%rax, 8(%%rbp)\n\t"
                     "1: mov %[fd], %%rdi\n\t"
                     "lea %[buf], %%rsi\n\t"
                     "mov $1, %%edx\n\t"
                     "xor %%eax, %%eax\n\t" /* SYS_read */
                     "syscall\n\t"
                     "cmp $-4, %%rax\n\t" /* -EINTR: again */
                     "je 1b\n\t"
                     "add $1024, %%rsp\n\t"
                     "pop %%rbp\n\t"
                     :
                     : [fd] "r"(fd), [buf] "m"(read_byte)
                     : "rax", "rcx", "rdx", "rsi", "rdi", "r11", "memory", "cc");
}
#else
#define GARBAGE_SUPPORTED 0
#endif

/* ---- thread bookkeeping ---- */

struct start_arg {
    void (*fn)(void);
    int idx;
};
static struct start_arg start_args[MAX_THREADS];

static void *thread_main(void *arg)
{
    struct start_arg *a = arg;
    atomic_store(&tids[a->idx], gettid_());
    a->fn();
    return NULL;
}

static void start(void (*fn)(void), const char *name)
{
    if (n_threads >= MAX_THREADS)
        abort();
    int i = n_threads++;
    start_args[i] = (struct start_arg){fn, i};
    if (pthread_create(&threads[i], NULL, thread_main, &start_args[i]) != 0)
        abort();
    pthread_setname_np(threads[i], name);
}

/* The state letter of thread @tid in /proc/self/task/TID/stat, or 0. */
static char task_state(int tid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : 0;
}

static void release_all(int readers)
{
    __atomic_store_n(&release_flag, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < readers; i++) {
        if (write(release_pipe[1], "x", 1) != 1)
            abort();
    }
    if (vfork_pipe[1] >= 0 && write(vfork_pipe[1], "x", 1) != 1)
        abort();
    for (int i = 0; i < n_threads; i++)
        pthread_join(threads[i], NULL);
    n_threads = 0;
}

/* ---- fork and exec ---- */

static int report_to_null(void)
{
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    int r = gmr_write_report(fd, GMR_FORMAT_TEXT);
    close(fd);
    return r;
}

/*
 * A JSON report into a memory file, read back: 0 when its header names this process (a fork
 * child must report as itself), else 1, or gmr_write_report()'s error.
 */
static int report_names_me(void)
{
    int fd = memfd_create("report", MFD_CLOEXEC);
    if (fd < 0)
        return 1;
    int r = gmr_write_report(fd, GMR_FORMAT_JSON);
    off_t len = lseek(fd, 0, SEEK_END);
    char *text = r == 0 && len > 0 ? malloc((size_t)len + 1) : NULL;
    if (r == 0)
        r = text && pread(fd, text, (size_t)len, 0) == len ? 0 : 1;
    close(fd);
    if (r == 0) {
        text[len] = '\0';
        const char *header = strstr(text, "\"header\"");
        const char *pid = header ? strstr(header, "\"pid\": ") : NULL;
        r = pid && atol(pid + 7) == (long)getpid() ? 0 : 1;
    }
    free(text);
    return r;
}

static atomic_bool loop_reports;

static void *report_loop(void *arg)
{
    (void)arg;
    while (atomic_load(&loop_reports))
        (void)report_to_null();
    return NULL;
}

static void fork_storm(int n)
{
    pthread_t t;
    atomic_store(&loop_reports, true);
    pthread_create(&t, NULL, report_loop, NULL);
    int ok = 0, failed = 0;
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            alarm(30); /* a child that hangs dies of SIGALRM and counts as failed */
            int r1 = report_to_null();
            int r2 = report_names_me();
            _exit(r1 == 0 && r2 == 0 ? 0 : 1);
        }
        int status = -1;
        if (pid > 0) {
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        }
        if (pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
            ok++;
        else
            failed++;
    }
    atomic_store(&loop_reports, false);
    pthread_join(t, NULL);
    printf("FORKSTORM ok=%d failed=%d\n", ok, failed);
}

static volatile sig_atomic_t raise_in_child;

/* Fork handler ("forksig"): the trigger reaches the child before libgmr has set it up. */
static void child_raises(void)
{
    if (raise_in_child)
        raise(SIGUSR2);
}

static int list_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 1;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || atoi(de->d_name) == dirfd(d))
            continue;
        char path[300], target[PATH_MAX];
        snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        target[n < 0 ? 0 : n] = '\0';
        printf("FD %s %s\n", de->d_name, target);
    }
    closedir(d);
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "SigBlk:", 7) == 0 || strncmp(line, "SigIgn:", 7) == 0 ||
            strncmp(line, "SigCgt:", 7) == 0)
            fputs(line, stdout);
    }
    if (f)
        fclose(f);
    printf("END\n");
    return 0;
}

int main(int argc, char **argv)
{
    victim_map_main_stack();
    if (argc == 2 && strcmp(argv[1], "--listfds") == 0)
        return list_fds();

    setvbuf(stdout, NULL, _IOLBF, 0);
    yield_often = getenv("GMR_VICTIM_WRAPPER") != NULL;
    if (!realpath(argv[0], self_path))
        snprintf(self_path, sizeof(self_path), "%s", argv[0]);
    bool sigblock = false, dstate = false, garbage = false;
    gmr_conf *conf = NULL;
    vfork_pipe[0] = vfork_pipe[1] = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            gmr_set_format(GMR_FORMAT_JSON);
        } else if (strcmp(argv[i], "--log-dir") == 0 && i + 1 < argc) {
            gmr_set_log_dir(argv[++i]);
        } else if (strcmp(argv[i], "--file-trigger") == 0 && i + 1 < argc) {
            gmr_set_file_trigger(argv[++i], 1);
            gmr_set_trigger_signal(SIGUSR2); /* keep the signal trigger too */
        } else if (strcmp(argv[i], "--control-socket") == 0) {
            gmr_set_control_socket(true);
        } else if (strcmp(argv[i], "--fsize-limit") == 0 && i + 1 < argc) {
            rlim_t lim = (rlim_t)strtoull(argv[++i], NULL, 10);
            struct rlimit rl = {lim, lim};
            setrlimit(RLIMIT_FSIZE, &rl);
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            conf = gmr_conf_new();
            gmr_opts_set_defaults(conf);
            gmr_conf_register_str(conf, "database", "connection", NULL, "database URL", 0);
            gmr_conf_register_str(conf, "keystone", "password", NULL, "password",
                                  GMR_OPT_SECRET);
            gmr_conf_register_list(conf, "keystone", "extra_keys", NULL, "keys",
                                   GMR_OPT_SECRET);
            gmr_conf_register_str(conf, NULL, "transport_url", NULL, "message bus URL", 0);
            if (gmr_conf_load_file(conf, argv[++i]) < 0) {
                fprintf(stderr, "config: %s\n", gmr_conf_last_error(conf));
                return 1;
            }
        } else if (strcmp(argv[i], "--") == 0) {
            argv[i] = argv[0];
            if (!conf || gmr_conf_parse_args(conf, argc - i, argv + i) < 0) {
                fprintf(stderr, "arguments: %s\n", conf ? gmr_conf_last_error(conf) : "");
                return 1;
            }
            break;
        } else if (strcmp(argv[i], "--sigblock") == 0) {
            sigblock = true;
        } else if (strcmp(argv[i], "--dstate") == 0) {
            dstate = true;
        } else if (strcmp(argv[i], "--garbage") == 0) {
            garbage = true;
        } else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 64;
        }
    }
    if (pipe2(release_pipe, O_CLOEXEC) < 0)
        return 1;
    /* Registered before libgmr's (at setup), so in a child it runs before libgmr's. */
    pthread_atfork(NULL, NULL, child_raises);
    static const struct gmr_version version = {"libgmr tests", "victim-fault", "1.0"};
    int r = gmr_setup_autorun(&version, conf, NULL);
    if (r < 0) {
        fprintf(stderr, "setup: %s\n", strerror(-r));
        return 1;
    }

    int readers = 0, expected = 0;
    if (sigblock) {
        start(sigblock_spinner, "sigblock_spin");
        start(sigblock_reader, "sigblock_read");
        readers++;
        expected += 2;
    }
    if (garbage && !GARBAGE_SUPPORTED) {
        printf("GARBAGE unsupported\n");
        garbage = false;
    }
#if GARBAGE_SUPPORTED
    if (garbage) {
        start(garbage_spinner_cycle, "garbage_cycle");
        start(garbage_spinner_wild, "garbage_wild");
        start(garbage_spinner_down, "garbage_down");
        start(garbage_reader, "garbage_read");
        readers++;
        expected += 4;
    }
#endif
    if (dstate) {
        if (pipe2(vfork_pipe, O_CLOEXEC) < 0)
            return 1;
        start(vfork_waiter, "vfork_waiter");
        expected++;
    }
    struct timespec tick = {0, 1000000};
    while (atomic_load(&parked) < expected)
        nanosleep(&tick, NULL);
    for (int i = 0; i < n_threads; i++) {
        while (atomic_load(&tids[i]) == 0)
            nanosleep(&tick, NULL);
    }
    if (dstate) {
        /* READY only once the vfork() parent really sleeps uninterruptibly. */
        int tid = atomic_load(&tids[n_threads - 1]);
        for (int i = 0; i < 10000 && task_state(tid) != 'D'; i++)
            nanosleep(&tick, NULL);
        printf("DSTATE %d %c\n", tid, task_state(tid));
    }
    /* Blocked readers are parked once they sleep in read(). */
    for (int i = 0; i < n_threads; i++) {
        int tid = atomic_load(&tids[i]);
        for (int k = 0; k < 10000 && task_state(tid) == 'R'; k++) {
            char name[32] = "";
            pthread_getname_np(threads[i], name, sizeof(name));
            if (strstr(name, "spin") || strstr(name, "cycle") || strstr(name, "wild") ||
                strstr(name, "down"))
                break;
            nanosleep(&tick, NULL);
        }
        char name[32] = "";
        pthread_getname_np(threads[i], name, sizeof(name));
        printf("THREAD %s %d\n", name, tid);
    }
    printf("READY\n");

    pid_t child = -1;
    int child_pipe[2] = {-1, -1};
    char line[256];
    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '\0') {
            /* nothing: under ThreadSanitizer the tests nudge this thread with empty lines */
        } else if (strcmp(line, "ping") == 0) {
            printf("PONG\n");
        } else if (strncmp(line, "report ", 7) == 0) {
            enum gmr_format f = strcmp(line + 7, "json") == 0 ? GMR_FORMAT_JSON : GMR_FORMAT_TEXT;
            fflush(stdout);
            r = gmr_write_report(STDOUT_FILENO, f);
            printf("DONE %d\n", r);
        } else if (strcmp(line, "release") == 0) {
            release_all(readers);
            readers = 0;
            printf("RELEASED\n");
        } else if ((strcmp(line, "fork") == 0 || strcmp(line, "forksig") == 0) && child < 0) {
            if (pipe2(child_pipe, O_CLOEXEC) < 0)
                return 1;
            raise_in_child = strcmp(line, "forksig") == 0;
            child = fork();
            raise_in_child = 0;
            if (child == 0) {
                char c;
                close(child_pipe[1]);
                while (read(child_pipe[0], &c, 1) < 0 && errno == EINTR)
                    ;
                gmr_shutdown();
                _exit(0);
            }
            close(child_pipe[0]);
            printf("CHILD %d\n", (int)child);
        } else if (strcmp(line, "reap") == 0 && child > 0) {
            int status = -1;
            close(child_pipe[1]);
            while (waitpid(child, &status, 0) < 0 && errno == EINTR)
                ;
            child = -1;
            printf("REAPED %d\n", status);
        } else if (strncmp(line, "forkstorm ", 10) == 0) {
            fork_storm(atoi(line + 10));
        } else if (strcmp(line, "exec") == 0) {
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) {
                execl(self_path, self_path, "--listfds", (char *)NULL);
                _exit(127);
            }
            int status = -1;
            while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            printf("EXECED %d\n", status);
        } else {
            printf("UNKNOWN %s\n", line);
        }
    }
    if (n_threads)
        release_all(readers);
    gmr_shutdown();
    gmr_conf_free(conf);
    return 0;
}
