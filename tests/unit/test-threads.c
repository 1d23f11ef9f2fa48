/*
 * Unit tests of the Threads section: the /proc parsers on injected text, the text view of a
 * hand-built model against golden files (one thread per block, and grouped), the same text
 * from the model after a JSON round trip, and the section built for this very process (a
 * helper thread blocked in read() is captured on the quiet path), also under allocation
 * failures.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "capture/capture.h"
#include "capture/threads.h"
#include "capture/unwind.h"
#include "render/render.h"
#include "symbolize/symbolize.h"
#include "util/alloc.h"

#include "golden.h"
#include "util/buf.h"

/* ---- parsers ---- */

static void test_stat_parses_name_state_and_times(void **state)
{
    (void)state;
    struct gmr__task_stat st;
    const char *line = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 "
                       "250 17 0 0 20 0 3 0 12345 1000000 300 18446744073709551615\n";
    assert_int_equal(gmr__parse_task_stat(line, &st), 0);
    assert_string_equal(st.name, "my (odd) name");
    assert_int_equal(st.state, 'S');
    assert_int_equal(st.utime, 250);
    assert_int_equal(st.stime, 17);
    assert_string_equal(gmr__task_state_name(st.state), "sleeping");
    assert_string_equal(gmr__task_state_name('R'), "running");
    assert_string_equal(gmr__task_state_name('?'), "unknown");
}

static void test_stat_rejects_garbage(void **state)
{
    (void)state;
    struct gmr__task_stat st;
    assert_int_equal(gmr__parse_task_stat("", &st), -EINVAL);
    assert_int_equal(gmr__parse_task_stat("12 (name", &st), -EINVAL);
    assert_int_equal(gmr__parse_task_stat("12 (name) S 1 2 3", &st), -EINVAL);
    assert_int_equal(gmr__parse_task_stat("12 (name) S 1 2 3 4 5 6 7 8 9 10 x 2", &st), -EINVAL);
}

static void test_syscall_file_forms(void **state)
{
    (void)state;
    struct gmr__task_syscall sc;
    assert_int_equal(gmr__parse_task_syscall("202 0x55d0c0a010 0x80 0x0 0x0 0x0 0x0 "
                                             "0x7ffd5a3c1e08 0x7f1c2b4a1f16\n", &sc), 0);
    assert_int_equal(sc.kind, GMR_SYSCALL_BLOCKED);
    assert_int_equal(sc.nr, 202);
    assert_int_equal(sc.args[0], 0x55d0c0a010ull);
    assert_int_equal(sc.args[1], 0x80);
    assert_int_equal(sc.sp, 0x7ffd5a3c1e08ull);
    assert_int_equal(sc.pc, 0x7f1c2b4a1f16ull);

    assert_int_equal(gmr__parse_task_syscall("running\n", &sc), 0);
    assert_int_equal(sc.kind, GMR_SYSCALL_RUNNING);

    assert_int_equal(gmr__parse_task_syscall("-1 0x7ffd5a3c1e08 0x55d0c0a0ff\n", &sc), 0);
    assert_int_equal(sc.kind, GMR_SYSCALL_NONE);
    assert_int_equal(sc.sp, 0x7ffd5a3c1e08ull);
    assert_int_equal(sc.pc, 0x55d0c0a0ffull);

    assert_int_equal(gmr__parse_task_syscall("", &sc), -EINVAL);
    assert_int_equal(gmr__parse_task_syscall("202 0x1 0x2\n", &sc), -EINVAL);
    assert_int_equal(gmr__parse_task_syscall("x 0x1 0x2 0x3 0x4 0x5 0x6 0x7 0x8\n", &sc), -EINVAL);
    assert_int_equal(gmr__parse_task_syscall("202 0x1 0x2 0x3 0x4 0x5 0x6 0x7 0x8 junk", &sc),
                     -EINVAL);
}

/* ---- telling return addresses from other words on a stack ---- */

static void test_call_before_encodings(void **state)
{
    (void)state;
#if defined(__x86_64__)
    /* Each one ends where a return address would point. */
    static const unsigned char e8[] = {0x90, 0x90, 0xe8, 0x10, 0x20, 0x30, 0x40};
    static const unsigned char reg[] = {0x90, 0x90, 0x90, 0x90, 0x90, 0xff, 0xd0};     /* *%rax */
    static const unsigned char rex[] = {0x90, 0x90, 0x90, 0x90, 0x41, 0xff, 0xd3};     /* *%r11 */
    static const unsigned char mem[] = {0x90, 0x90, 0x90, 0x90, 0x90, 0xff, 0x13};     /* *(%rbx) */
    static const unsigned char sib[] = {0x90, 0x90, 0x90, 0x90, 0xff, 0x14, 0x24};     /* *(%rsp) */
    static const unsigned char d8[] = {0x90, 0x90, 0x90, 0x90, 0xff, 0x53, 0x08};      /* *8(%rbx) */
    static const unsigned char sib8[] = {0x90, 0x90, 0x90, 0xff, 0x54, 0xc5, 0x08};    /* 8(%rbp,%rax,8) */
    static const unsigned char rip[] = {0x90, 0xff, 0x15, 0x10, 0x20, 0x30, 0x00};     /* *x(%rip) */
    static const unsigned char d32[] = {0x90, 0xff, 0x93, 0x10, 0x20, 0x30, 0x00};     /* *x(%rbx) */
    static const unsigned char sib32[] = {0xff, 0x14, 0xc5, 0x10, 0x20, 0x30, 0x00};   /* *x(,%rax,8) */
    const unsigned char *calls[] = {e8, reg, rex, mem, sib, d8, sib8, rip, d32, sib32};
    for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
        assert_true(gmr__regs_call_before(calls[i], 7));
    /* Not calls: jmp *%rax (ff /4), push (ff /6), a ModRM whose length does not fit, data. */
    static const unsigned char jmp[] = {0x90, 0x90, 0x90, 0x90, 0x90, 0xff, 0xe0};
    static const unsigned char push[] = {0x90, 0x90, 0x90, 0x90, 0x90, 0xff, 0x33};
    static const unsigned char len[] = {0x90, 0x90, 0x90, 0x90, 0x90, 0xff, 0x15};
    static const unsigned char zero[] = {0, 0, 0, 0, 0, 0, 0};
    static const unsigned char ascii[] = {'m', 'u', 't', 'e', 'x', 'e', 's'};
    const unsigned char *others[] = {jmp, push, len, zero, ascii};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        assert_false(gmr__regs_call_before(others[i], 7));
    assert_true(gmr__regs_call_before(e8 + 2, 5));
    assert_false(gmr__regs_call_before(e8 + 3, 4)); /* too short for e8 rel32 */
#elif defined(__aarch64__)
    static const unsigned char bl[] = {0x10, 0x00, 0x00, 0x94};  /* bl .+64 */
    static const unsigned char blr[] = {0x00, 0x02, 0x3f, 0xd6}; /* blr x16 */
    static const unsigned char br[] = {0x00, 0x02, 0x1f, 0xd6};  /* br x16 */
    static const unsigned char b[] = {0x10, 0x00, 0x00, 0x14};   /* b .+64 */
    assert_true(gmr__regs_call_before(bl, 4));
    assert_true(gmr__regs_call_before(blr, 4));
    assert_false(gmr__regs_call_before(br, 4));
    assert_false(gmr__regs_call_before(b, 4));
#endif
}

static int the_data_word = 42;

static __attribute__((noinline)) uint64_t return_address_here(void)
{
    __asm__ volatile("" ::: "memory"); /* a real call, not a tail call */
    return (uint64_t)(uintptr_t)__builtin_return_address(0);
}

static void test_return_address_checks_on_live_code(void **state)
{
    (void)state;
    uint64_t ret = return_address_here();
    __asm__ volatile("" ::: "memory");
    assert_true(gmr__regs_follows_call(ret));
    assert_false(gmr__regs_follows_call(0));
    assert_false(gmr__regs_follows_call(16)); /* the zero page: not readable */

    gmr__sym_lock();
    struct gmr__sym *sym;
    if (gmr__sym_get(&sym, NULL) == 0) {
        Dwfl *dwfl = gmr__sym_unwind_dwfl(sym);
        assert_true(gmr__unwind_in_code(dwfl, ret));
        /* Inside a module's address range, but data: never a return address. */
        assert_non_null(dwfl_addrmodule(dwfl, (uint64_t)(uintptr_t)&the_data_word));
        assert_false(gmr__unwind_in_code(dwfl, (uint64_t)(uintptr_t)&the_data_word));
        assert_false(gmr__unwind_in_code(dwfl, (uint64_t)(uintptr_t)&ret)); /* the stack */
    }
    gmr__sym_unlock();
}

static void test_status_masks(void **state)
{
    (void)state;
    struct gmr__task_masks m;
    const char *status = "Name:\tworker\nState:\tS (sleeping)\nSigQ:\t0/31415\n"
                         "SigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\n"
                         "SigBlk:\t8000000000000000\nSigIgn:\t0000000000001000\n"
                         "SigCgt:\t0000000180000000\n";
    assert_int_equal(gmr__parse_task_status(status, &m), 0);
    assert_int_equal(m.blocked, 0x8000000000000000ull); /* signal 64: SIGRTMAX */
    assert_int_equal(m.ignored, 0x1000);                /* signal 13: SIGPIPE */
    assert_int_equal(gmr__parse_task_status("Name:\tx\nSigBlk:\t0\n", &m), -EINVAL);
    assert_int_equal(gmr__parse_task_status("", &m), -EINVAL);
}

static void test_list_tasks_finds_this_thread(void **state)
{
    (void)state;
    int dirfd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dirfd >= 0);
    int tids[64];
    int n = gmr__list_tasks(dirfd, tids, 64);
    assert_true(n >= 1);
    bool found = false;
    for (int i = 0; i < n && i < 64; i++) {
        found = found || tids[i] == (int)syscall(SYS_gettid);
        if (i > 0)
            assert_true(tids[i - 1] < tids[i]);
    }
    assert_true(found);
    assert_int_equal(gmr__list_tasks(dirfd, tids, 0), n); /* counts beyond the limit */
    close(dirfd);
}

/* An open task file shows fresh values at each read from its start, and is cut to the buffer. */
static void test_pread_proc_rereads_fresh_values(void **state)
{
    (void)state;
    char path[64], a[128], b[128], small[8];
    snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat", (int)syscall(SYS_gettid));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    ssize_t n = gmr__pread_proc(fd, a, sizeof(a));
    assert_true(n > 0 && (size_t)n == strlen(a) && a[n - 1] == '\n');
    /* Run long enough to show: schedstat's first field is nanoseconds on a CPU. */
    volatile unsigned long spin = 0;
    for (unsigned long i = 0; i < 20000000ul; i++)
        spin += i;
    assert_true(gmr__pread_proc(fd, b, sizeof(b)) > 0);
    assert_true(strtoull(b, NULL, 10) > strtoull(a, NULL, 10));
    /*
     * The value moves at scheduler ticks, also between two reads: the cut read is compared
     * with full reads on either side of it that agree.
     */
    char c[128];
    int tries = 0;
    do {
        assert_true(gmr__pread_proc(fd, b, sizeof(b)) > 0);
        assert_int_equal(gmr__pread_proc(fd, small, sizeof(small)), 7);
        assert_true(gmr__pread_proc(fd, c, sizeof(c)) > 0);
    } while (strcmp(b, c) != 0 && ++tries < 100);
    assert_string_equal(b, c);
    assert_int_equal(strlen(small), 7);
    assert_memory_equal(small, b, 7);
    close(fd);
    assert_int_equal(gmr__pread_proc(-1, small, sizeof(small)), -EBADF);
}

/* ---- text view ---- */

static json_t *frame(const char *pc, const char *fn, const char *file, int line,
                     const char *module, const char *offset, bool inlined, const char *source)
{
    json_t *f = json_pack("{s:s}", "pc", pc);
    if (fn)
        json_object_set_new(f, "function", json_string(fn));
    if (file) {
        json_object_set_new(f, "file", json_string(file));
        json_object_set_new(f, "line", json_integer(line));
    }
    if (module) {
        json_object_set_new(f, "module", json_string(module));
        json_object_set_new(f, "offset", json_string(offset));
    }
    json_object_set_new(f, "inlined", json_boolean(inlined));
    if (source)
        json_object_set_new(f, "source", json_string(source));
    return f;
}

static json_t *worker_frames(void)
{
    json_t *frames = json_array();
    json_array_append_new(frames, frame("0x7f10aa285f16", "__futex_abstimed_wait_common64",
                                        NULL, 0, "/usr/lib/x86_64-linux-gnu/libc.so.6",
                                        "0x85f16", false, NULL));
    json_array_append_new(frames, frame("0x5610bb001234", "queue_pop", "/src/app/queue.h", 88,
                                        "/usr/bin/app", "0x1234", true,
                                        "pthread_cond_wait(&q->cond, &q->lock);"));
    json_array_append_new(frames, frame("0x5610bb001234", "worker_loop", "/src/app/worker.c", 42,
                                        "/usr/bin/app", "0x1234", false,
                                        "job = queue_pop(&pool->queue);"));
    json_array_append_new(frames, frame("0x7f10aa2891f5", "start_thread", NULL, 0,
                                        "/usr/lib/x86_64-linux-gnu/libc.so.6", "0x891f5", false,
                                        NULL));
    return frames;
}

static json_t *thread(int tid, const char *name, const char *state, const char *capture)
{
    json_t *t = json_pack("{s:i, s:s, s:s, s:i, s:i, s:s}", "tid", tid, "name", name, "state",
                          state, "cpu_user_ms", 120, "cpu_system_ms", 30, "capture", capture);
    return t;
}

static json_t *sample_section(bool group)
{
    json_t *sec = json_pack("{s:s, s:s}", "title", "Threads", "type", "threads");
    json_t *threads = json_array();
    json_object_set_new(sec, "threads", threads);

    json_t *main_t = thread(4242, "app", "sleeping", "quiet");
    json_object_set_new(main_t, "main", json_true());
    json_object_set_new(main_t, "syscall", json_string("epoll_wait"));
    json_t *mf = json_array();
    json_array_append_new(mf, frame("0x7f10aa308f36", "epoll_wait", NULL, 0,
                                    "/usr/lib/x86_64-linux-gnu/libc.so.6", "0x108f36", false,
                                    NULL));
    json_array_append_new(mf, frame("0x5610bb000abc", "main", "/src/app/main.c", 17,
                                    "/usr/bin/app", "0xabc", false, "n = epoll_wait(ep, ev, 8, -1);"));
    json_object_set_new(main_t, "frames", mf);
    json_array_append_new(threads, main_t);

    json_t *rep = thread(4243, "gmr-reporter", "running", "none");
    json_object_set_new(rep, "note", json_string("this thread wrote the report"));
    json_array_append_new(threads, rep);

    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "worker-%d", i + 1);
        json_t *w = thread(4250 + i, name, "sleeping", "quiet");
        json_object_set_new(w, "syscall", json_string("futex"));
        json_object_set_new(w, "frames", worker_frames());
        json_array_append_new(threads, w);
    }

    json_t *busy = thread(4260, "crunch", "running", "signal");
    json_object_set_new(busy, "interrupted_ns", json_integer(3400));
    json_object_set_new(busy, "note", json_string("it ran while its stack was read on the "
                                                  "quiet path"));
    json_t *bf = json_array();
    json_array_append_new(bf, frame("0x5610bb002000", "crunch_numbers", "/src/app/math.c", 9,
                                    "/usr/bin/app", "0x2000", false, NULL));
    json_array_append_new(bf, frame("0x5610bb003000", NULL, NULL, 0, NULL, NULL, false, NULL));
    json_object_set_new(busy, "frames", bf);
    json_object_set_new(busy, "more_frames", json_integer(1744));
    json_object_set_new(busy, "more_frames_exact", json_true());
    json_object_set_new(busy, "unwind_error", json_string("no matching address range"));
    json_array_append_new(threads, busy);

    json_t *blk = thread(4261, "signals-off", "running", "none");
    json_object_set_new(blk, "unavailable",
                        json_string("running, and it blocks the capture signal (SIGRTMAX)"));
    json_array_append_new(threads, blk);

    json_object_set_new(sec, "group_identical", json_boolean(group));
    json_object_set_new(sec, "max_frames", json_integer(256));
    json_object_set_new(sec, "capture_signal", json_string("SIGRTMAX"));
    json_object_set_new(sec, "threads_not_shown", json_integer(2));
    json_object_set_new(sec, "stats", json_pack("{s:i, s:i, s:i, s:i, s:i, s:i}", "threads", 7,
                                                "quiet", 4, "signal", 1, "not_captured", 2,
                                                "max_interrupted_ns", 3400, "elapsed_us", 900));
    return sec;
}

static char *render(const json_t *sec)
{
    struct gmr__buf out = GMR_BUF_INIT;
    gmr__text_threads(&out, sec);
    assert_int_equal(gmr__buf_error(&out), 0);
    return gmr__buf_steal(&out, NULL);
}

static void test_text_matches_golden(void **state)
{
    (void)state;
    json_t *sec = sample_section(false);
    char *text = render(sec);
    test_assert_golden(text, "threads-basic.txt");

    /* A saved JSON report renders the same. */
    char *dumped = json_dumps(sec, JSON_COMPACT);
    json_t *loaded = json_loads(dumped, 0, NULL);
    assert_non_null(loaded);
    char *again = render(loaded);
    assert_string_equal(text, again);
    gmr__free(again);
    json_decref(loaded);
    free(dumped);
    gmr__free(text);
    json_decref(sec);
}

static void test_text_groups_identical_stacks(void **state)
{
    (void)state;
    json_t *sec = sample_section(true);
    char *text = render(sec);
    test_assert_golden(text, "threads-grouped.txt");
    assert_non_null(strstr(text, "3 threads with this stack"));
    gmr__free(text);
    json_decref(sec);
}

/*
 * The live model shares frame objects between threads (and the view copies the text of a
 * shared frame): the text must be the same as for unshared copies.
 */
static void test_text_of_shared_frames_equals_unshared(void **state)
{
    (void)state;
    for (int group = 0; group < 2; group++) {
        json_t *sec = sample_section(group);
        char *want = render(sec);
        json_t *threads = json_object_get(sec, "threads");
        json_t *shared = json_object_get(json_array_get(threads, 2), "frames");
        for (size_t i = 3; i < 5; i++) {
            json_t *frames = json_array();
            for (size_t k = 0; k < json_array_size(shared); k++)
                json_array_append(frames, json_array_get(shared, k));
            json_object_set_new(json_array_get(threads, i), "frames", frames);
        }
        char *text = render(sec);
        assert_string_equal(text, want);
        gmr__free(text);
        gmr__free(want);
        json_decref(sec);
    }
}

/* Groups form around their first thread, whatever lies between their members. */
static void test_text_groups_interleaved_stacks(void **state)
{
    (void)state;
    json_t *sec = json_pack("{s:s, s:s, s:b}", "title", "Threads", "type", "threads",
                            "group_identical", 1);
    json_t *threads = json_array();
    json_object_set_new(sec, "threads", threads);
    const char stacks[] = "ABACBD";
    for (int i = 0; stacks[i]; i++) {
        char name[16], fn[16];
        snprintf(name, sizeof(name), "t%d", i);
        snprintf(fn, sizeof(fn), "wait_%c", stacks[i]);
        json_t *t = thread(100 + i, name, "sleeping", "quiet");
        json_t *frames = json_array();
        json_array_append_new(frames, frame("0x1000", fn, NULL, 0, "/usr/bin/app", "0x1000", false,
                                            NULL));
        json_object_set_new(t, "frames", frames);
        json_array_append_new(threads, t);
    }
    char *text = render(sec);
    const char *a = strstr(text, "2 threads with this stack ");
    assert_non_null(a);
    assert_non_null(strstr(a, "- Thread #100 (t0): sleeping, quiet\n"
                              "- Thread #102 (t2): sleeping, quiet\n"
                              "  #0   0x1000 in wait_A [app+0x1000]\n"));
    const char *b = strstr(a + 1, "2 threads with this stack ");
    assert_non_null(b);
    assert_non_null(strstr(b, "- Thread #101 (t1): sleeping, quiet\n"
                              "- Thread #104 (t4): sleeping, quiet\n"
                              "  #0   0x1000 in wait_B [app+0x1000]\n"));
    const char *c = strstr(b, "Thread #103 (t3)");
    assert_non_null(c);
    assert_non_null(strstr(c, "Thread #105 (t5)"));
    assert_null(strstr(b + strlen("2 threads"), "threads with this stack"));
    gmr__free(text);
    json_decref(sec);
}

/* ---- the section for this process ---- */

static int park_pipe[2];

__attribute__((noinline)) static void *parked_in_read(void *arg)
{
    (void)arg;
    char c;
    ssize_t n = read(park_pipe[0], &c, 1);
    __asm__ volatile("" ::: "memory");
    return (void *)(intptr_t)n;
}

/* Waits until @tid is blocked in read(2). */
static void wait_blocked(int tid)
{
    for (int i = 0; i < 5000; i++) {
        char path[64], buf[256];
        snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
        int fd = open(path, O_RDONLY);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
        if (fd >= 0)
            close(fd);
        if (n > 0) {
            buf[n] = '\0';
            if (strncmp(buf, "0 ", 2) == 0)
                return;
        }
        usleep(1000);
    }
    fail_msg("the helper thread never blocked in read()");
}

static pthread_t parked;
static _Atomic int parked_tid;

__attribute__((noinline)) static void *parked_main(void *arg)
{
    atomic_store(&parked_tid, (int)syscall(SYS_gettid));
    void *r = parked_in_read(arg);
    __asm__ volatile("" ::: "memory"); /* not a tail call: parked_main stays on the stack */
    return r;
}

static int setup_parked(void **state)
{
    (void)state;
    if (pipe(park_pipe) < 0 || pthread_create(&parked, NULL, parked_main, NULL) != 0)
        return -1;
    while (!atomic_load(&parked_tid))
        usleep(1000);
    return 0;
}

static int teardown_parked(void **state)
{
    (void)state;
    close(park_pipe[1]);
    pthread_join(parked, NULL);
    close(park_pipe[0]);
    gmr__threads_uninstall();
    return 0;
}

static json_t *find_thread(json_t *sec, int tid)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(sec, "threads"), i, t)
    {
        if (json_integer_value(json_object_get(t, "tid")) == tid)
            return t;
    }
    return NULL;
}

static bool has_function(json_t *t, const char *fn)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(t, "frames"), i, f)
    {
        const char *name = json_string_value(json_object_get(f, "function"));
        if (name && strcmp(name, fn) == 0)
            return true;
    }
    return false;
}

/*
 * Under valgrind, /proc shows the registers of valgrind's own code, not the program's: the
 * quiet path cannot work there and says so.
 */
static bool under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload");
}

static void test_section_captures_this_process(void **state)
{
    (void)state;
    int tid = atomic_load(&parked_tid);
    wait_blocked(tid);
    json_t *sec = json_object();
    int self = (int)syscall(SYS_gettid);
    assert_int_equal(gmr__threads_section(sec, self, false), 0);
    json_t *t = find_thread(sec, tid);
    assert_non_null(t);
    if (under_valgrind()) {
        assert_non_null(json_object_get(t, "frames") ? json_object_get(t, "frames")
                                                     : json_object_get(t, "unavailable"));
        json_decref(sec);
        return;
    }
    assert_string_equal(json_string_value(json_object_get(t, "capture")), "quiet");
    assert_string_equal(json_string_value(json_object_get(t, "syscall")), "read");
    assert_true(has_function(t, "parked_in_read"));
    assert_true(has_function(t, "parked_main"));
    json_t *me = find_thread(sec, self);
    assert_string_equal(json_string_value(json_object_get(me, "note")),
                        "this thread wrote the report");
    assert_null(json_object_get(sec, "capture_signal")); /* not installed */
    json_decref(sec);
}

static void test_section_with_capture_signal_installed(void **state)
{
    (void)state;
    assert_int_equal(gmr__threads_install(0, 1000000000ull, SIGUSR2), 0);
    json_t *sec = json_object();
    assert_int_equal(gmr__threads_section(sec, (int)syscall(SYS_gettid), false), 0);
    /* SIGRTMAX, unless something (valgrind) took it already. */
    const char *signame = json_string_value(json_object_get(sec, "capture_signal"));
    assert_true(strncmp(signame, "SIGRTMAX", 8) == 0);
    json_t *t = find_thread(sec, atomic_load(&parked_tid));
    assert_true(has_function(t, "parked_in_read") || under_valgrind());
    json_decref(sec);
    gmr__threads_uninstall();
    gmr__threads_uninstall(); /* harmless when nothing is installed */
    struct sigaction sa;
    sigaction(SIGRTMAX, NULL, &sa);
    assert_true(sa.sa_handler == SIG_DFL || under_valgrind());
}

static void test_install_refuses_a_signal_in_use(void **state)
{
    (void)state;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGRTMIN + 2, &sa, &old);
    assert_int_equal(gmr__threads_install(SIGRTMIN + 2, 1000000000ull, SIGUSR2), -EBUSY);
    assert_int_equal(gmr__threads_install(SIGUSR1, 1000000000ull, SIGUSR2), -EINVAL);
    sigaction(SIGRTMIN + 2, &old, NULL);
}

/*
 * The trigger signal is never the capture signal.  Found: a trigger on SIGRTMAX made the
 * automatic choice take SIGRTMAX too, and setup then blamed the application's "handler".
 */
static void test_install_keeps_off_the_trigger_signal(void **state)
{
    (void)state;
    struct sigaction sa;
    sigaction(SIGRTMAX, NULL, &sa);
    if (sa.sa_handler != SIG_DFL) /* valgrind keeps SIGRTMAX for itself */
        skip();
    assert_int_equal(gmr__threads_install(0, 1000000000ull, SIGRTMAX), 0);
    json_t *sec = json_object();
    assert_int_equal(gmr__threads_section(sec, (int)syscall(SYS_gettid), false), 0);
    assert_string_equal(json_string_value(json_object_get(sec, "capture_signal")), "SIGRTMAX-1");
    json_decref(sec);
    gmr__threads_uninstall();
    assert_int_equal(gmr__threads_install(SIGRTMAX - 3, 1000000000ull, SIGRTMAX - 3), -EINVAL);
    sigaction(SIGRTMAX - 3, NULL, &sa);
    assert_true(sa.sa_handler == SIG_DFL);
}

/*
 * A thread that wakes every few tens of microseconds, alternately from two call chains with
 * different frame layouts, and wipes the stack below it in between (so that the frames of the
 * other chain do not linger there to be walked).  A quiet-path walk over a stack that moved
 * would mix the two or stop in the middle: every capture must show one whole chain, or the
 * outer part of one (a running thread caught by the signal anywhere in the loop).
 */
static _Atomic bool fidget_stop;
static _Atomic int fidget_tid;

__attribute__((noinline)) static void fidget_nap(void)
{
    struct timespec ts = {0, 20000};
    nanosleep(&ts, NULL);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void fidget_a2(void)
{
    volatile char pad[96];
    pad[0] = 1;
    fidget_nap();
    __asm__ volatile("" ::: "memory");
    (void)pad[0];
}

__attribute__((noinline)) static void fidget_a1(void)
{
    volatile char pad[48];
    pad[0] = 1;
    fidget_a2();
    __asm__ volatile("" ::: "memory");
    (void)pad[0];
}

__attribute__((noinline)) static void fidget_b1(void)
{
    volatile char pad[400];
    memset((char *)pad, 0x5b, sizeof(pad));
    fidget_nap();
    __asm__ volatile("" ::: "memory");
    (void)pad[0];
}

/* Overwrites the stack below the caller's frame, so no chain's old frames linger there. */
__attribute__((noinline)) static void scrub_below(void)
{
    volatile char junk[4096];
    memset((char *)junk, 0x5a, sizeof(junk));
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void *fidget_main(void *arg)
{
    (void)arg;
    atomic_store(&fidget_tid, (int)syscall(SYS_gettid));
    while (!atomic_load(&fidget_stop)) {
        fidget_a1();
        scrub_below();
        fidget_b1();
        scrub_below();
    }
    __asm__ volatile("" ::: "memory");
    return NULL;
}

static void *blocked_in_read(void *arg)
{
    char c;
    return (void *)(intptr_t)read(*(int *)arg, &c, 1);
}

/* The fidget_* functions of @t's frames, innermost first, joined by spaces. */
static void fidget_chain(json_t *t, char *buf, size_t size)
{
    size_t i, len = 0;
    json_t *f;
    buf[0] = '\0';
    json_array_foreach(json_object_get(t, "frames"), i, f)
    {
        const char *name = json_string_value(json_object_get(f, "function"));
        if (name && strncmp(name, "fidget_", 7) == 0 && len < size)
            len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? " " : "", name + 7);
    }
}

/*
 * Whether the capture of the moving thread @t is right; if not, says why in @why.  Counts
 * the captures by path.
 */
static bool moving_capture_ok(json_t *t, int *quiet, int *signalled, char *why, size_t size)
{
    static const char *const whole[] = {"nap a2 a1 main", "nap b1 main"};
    const char *capture = json_string_value(json_object_get(t, "capture"));
    const char *error = json_string_value(json_object_get(t, "unwind_error"));
    char chain[128];
    fidget_chain(t, chain, sizeof(chain));
    if (capture && strcmp(capture, "quiet") == 0) {
        (*quiet)++;
        if (strcmp(chain, whole[0]) == 0 || strcmp(chain, whole[1]) == 0)
            return true;
        snprintf(why, size, "quiet-path walk of a moving thread: \"%s\"", chain);
        return false;
    }
    if (!capture || strcmp(capture, "signal") != 0)
        return true; /* not captured: nothing shown to be wrong */
    (*signalled)++;
    /*
     * Caught anywhere in the loop: the outer part of a whole chain.  A walk that stopped
     * early and says so may show none of it (under ThreadSanitizer, the handler can interrupt
     * the runtime's own code, which the unwinder cannot always walk out of).
     */
    size_t lc = strlen(chain);
    if (lc == 0 && error)
        return true;
    for (int k = 0; k < 2; k++) {
        size_t lw = strlen(whole[k]);
        if (lc > 0 && lc <= lw && strcmp(whole[k] + lw - lc, chain) == 0 &&
            (lc == lw || whole[k][lw - lc - 1] == ' '))
            return true;
    }
    snprintf(why, size, "signal-path walk: \"%s\" (%s)", chain, error ? error : "complete");
    return false;
}

static int moving_fds[2];

static void test_section_walks_a_moving_thread_whole_or_not_at_all(void **state)
{
    (void)state;
    if (under_valgrind())
        skip(); /* no quiet path there */
    enum { BLOCKED = 24, REPORTS = 300 };
    pthread_t blocked[BLOCKED], fidget;
    assert_int_equal(pipe(moving_fds), 0);
    for (int i = 0; i < BLOCKED; i++)
        assert_int_equal(pthread_create(&blocked[i], NULL, blocked_in_read, &moving_fds[0]), 0);
    atomic_store(&fidget_stop, false);
    assert_int_equal(pthread_create(&fidget, NULL, fidget_main, NULL), 0);
    while (!atomic_load(&fidget_tid))
        usleep(1000);
    assert_int_equal(gmr__threads_install(0, 1000000000ull, SIGUSR2), 0);

    /* A failure is noted and the loop left, so that the threads are stopped before it shows. */
    int quiet = 0, signalled = 0, r = 0, listed = 0;
    char why[256] = "";
    for (; r < REPORTS && !why[0]; r++) {
        json_t *sec = json_object();
        if (!sec || gmr__threads_section(sec, (int)syscall(SYS_gettid), false) < 0) {
            snprintf(why, sizeof(why), "no section");
        } else {
            json_t *t = find_thread(sec, atomic_load(&fidget_tid));
            listed += t != NULL;
            if (t)
                (void)moving_capture_ok(t, &quiet, &signalled, why, sizeof(why));
        }
        json_decref(sec);
    }

    atomic_store(&fidget_stop, true);
    pthread_join(fidget, NULL);
    close(moving_fds[1]);
    for (int i = 0; i < BLOCKED; i++)
        pthread_join(blocked[i], NULL);
    close(moving_fds[0]);
    gmr__threads_uninstall();

    if (why[0])
        fail_msg("report %d: %s", r - 1, why);
    print_message("moving thread: %d quiet, %d signal captures in %d reports\n", quiet, signalled,
                  REPORTS);
    assert_int_equal(listed, REPORTS);
    assert_true(quiet + signalled > REPORTS / 2);
}

static void test_section_allocation_failures(void **state)
{
    (void)state;
    wait_blocked(atomic_load(&parked_tid));
    json_set_alloc_funcs(gmr__malloc, gmr__free);
    int self = (int)syscall(SYS_gettid);
    int r = -ENOMEM;
    long n;
    gmr__sym_free(); /* the first steps fail inside the session's creation */
    for (n = 0; n < 100000 && r == -ENOMEM; n++) {
        json_t *sec = json_object();
        gmr__alloc_fail_after(n);
        r = sec ? gmr__threads_section(sec, self, false) : -ENOMEM;
        gmr__alloc_fail_after(-1);
        assert_true(r == 0 || r == -ENOMEM);
        json_decref(sec);
    }
    assert_int_equal(r, 0);
    assert_true(n > 10);
    json_set_alloc_funcs(malloc, free);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stat_parses_name_state_and_times),
        cmocka_unit_test(test_stat_rejects_garbage),
        cmocka_unit_test(test_syscall_file_forms),
        cmocka_unit_test(test_status_masks),
        cmocka_unit_test(test_call_before_encodings),
        cmocka_unit_test(test_return_address_checks_on_live_code),
        cmocka_unit_test(test_list_tasks_finds_this_thread),
        cmocka_unit_test(test_pread_proc_rereads_fresh_values),
        cmocka_unit_test(test_text_matches_golden),
        cmocka_unit_test(test_text_of_shared_frames_equals_unshared),
        cmocka_unit_test(test_text_groups_interleaved_stacks),
        cmocka_unit_test(test_text_groups_identical_stacks),
        cmocka_unit_test(test_section_captures_this_process),
        cmocka_unit_test(test_section_with_capture_signal_installed),
        cmocka_unit_test(test_install_refuses_a_signal_in_use),
        cmocka_unit_test(test_install_keeps_off_the_trigger_signal),
        cmocka_unit_test(test_section_walks_a_moving_thread_whole_or_not_at_all),
        cmocka_unit_test(test_section_allocation_failures),
    };
    return cmocka_run_group_tests_name("threads", tests, setup_parked, teardown_parked);
}
