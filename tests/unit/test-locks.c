/*
 * Unit tests of the lock analysis: cycle finding on hand-built Threads models (two- and
 * three-thread cycles, a thread waiting for a mutex it holds, chains without a cycle, threads
 * blocked behind a deadlock), what a thread waits for read from real glibc objects, the whole
 * analysis on threads of this process (a held mutex and its waiter, a deadlocked pair, a
 * mutex locked twice, a mutex whose owner exited, a read-write lock and a condition
 * variable), the text view, and allocation failures.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "capture/locks.h"
#include "capture/threads.h"
#include "render/render.h"
#include "symbolize/symbolize.h"
#include "util/alloc.h"
#include "util/buf.h"

/* ---- hand-built models ---- */

/* A thread of a model; @owner > 0 adds a mutex wait on @lock held by @owner. */
static json_t *model_thread(int tid, const char *name, int owner, const char *lock)
{
    json_t *t =
        json_pack("{s:i, s:s, s:s, s:s, s:[{s:s}, {s:s}, {s:s, s:s, s:i}, {s:s}]}", "tid", tid,
                  "name", name, "capture", "quiet", "syscall", "futex", "frames", "function",
                  "__lll_lock_wait", "function", "___pthread_mutex_lock", "function", "app_step",
                  "file", "/src/app.c", "line", tid, "function", "start_thread");
    assert_non_null(t);
    if (owner > 0) {
        json_t *w = json_pack("{s:s, s:s, s:s, s:i}", "kind", "mutex", "address", lock, "symbol",
                              lock + 2, "owner_tid", owner);
        assert_non_null(w);
        assert_int_equal(json_object_set_new(t, "waiting_for", w), 0);
    }
    return t;
}

static json_t *find_cycles(json_t *threads)
{
    json_t *out = NULL;
    assert_int_equal(gmr__locks_find_cycles(threads, &out), 0);
    assert_true(json_is_array(out));
    return out;
}

static int tid_at(const json_t *list, size_t i)
{
    return (int)json_integer_value(json_array_get(list, i));
}

static void test_cycles_two_threads(void **state)
{
    (void)state;
    json_t *threads =
        json_pack("[o, o, o]", model_thread(10, "idle", 0, NULL), model_thread(12, "b", 11, "0xa1"),
                  model_thread(11, "a", 12, "0xa2"));
    json_t *d = find_cycles(threads);
    assert_int_equal(json_array_size(d), 1);
    json_t *one = json_array_get(d, 0);
    json_t *tids = json_object_get(one, "threads");
    assert_int_equal(json_array_size(tids), 2);
    assert_int_equal(tid_at(tids, 0), 11); /* starts at the smallest thread id */
    assert_int_equal(tid_at(tids, 1), 12);
    json_t *locks = json_object_get(one, "locks");
    assert_string_equal(json_string_value(json_object_get(json_array_get(locks, 0), "address")),
                        "0xa2");
    assert_string_equal(json_string_value(json_object_get(json_array_get(locks, 1), "symbol")),
                        "a1");
    json_t *step = json_array_get(json_object_get(one, "cycle"), 0);
    assert_int_equal(json_integer_value(json_object_get(step, "tid")), 11);
    assert_int_equal(json_integer_value(json_object_get(step, "held_by")), 12);
    assert_string_equal(json_string_value(json_object_get(step, "name")), "a");
    /* Frames start at the caller of the lock function. */
    json_t *frames = json_object_get(step, "frames");
    assert_int_equal(json_array_size(frames), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(frames, 0), "function")),
                        "app_step");
    assert_null(json_object_get(one, "blocked_behind"));
    json_decref(d);
    json_decref(threads);
}

static void test_cycles_three_threads(void **state)
{
    (void)state;
    json_t *threads = json_pack(
        "[o, o, o, o]", model_thread(30, "r3", 10, "0xc3"), model_thread(10, "r1", 20, "0xc1"),
        model_thread(20, "r2", 30, "0xc2"), model_thread(40, "other", 0, NULL));
    json_t *d = find_cycles(threads);
    assert_int_equal(json_array_size(d), 1);
    json_t *tids = json_object_get(json_array_get(d, 0), "threads");
    assert_int_equal(json_array_size(tids), 3);
    assert_int_equal(tid_at(tids, 0), 10);
    assert_int_equal(tid_at(tids, 1), 20);
    assert_int_equal(tid_at(tids, 2), 30);
    json_decref(d);
    json_decref(threads);
}

static void test_cycles_self_deadlock(void **state)
{
    (void)state;
    json_t *threads =
        json_pack("[o, o]", model_thread(7, "self", 7, "0xe7"), model_thread(8, "next", 0, NULL));
    json_t *d = find_cycles(threads);
    assert_int_equal(json_array_size(d), 1);
    json_t *one = json_array_get(d, 0);
    assert_int_equal(json_array_size(json_object_get(one, "threads")), 1);
    json_t *step = json_array_get(json_object_get(one, "cycle"), 0);
    assert_int_equal(json_integer_value(json_object_get(step, "held_by")), 7);
    json_decref(d);
    json_decref(threads);
}

/* A sanitizer's wrapper of the lock call (TSan's) is part of the call, not its caller. */
static void test_cycles_frames_skip_a_sanitizer_interceptor(void **state)
{
    (void)state;
    json_t *threads =
        json_pack("[o, o]", model_thread(21, "a", 22, "0xb1"), model_thread(22, "b", 21, "0xb2"));
    json_t *t;
    size_t i;
    json_array_foreach(threads, i, t)
    {
        json_t *in = json_pack("{s:s}", "function", "__interceptor_pthread_mutex_lock");
        assert_int_equal(json_array_insert_new(json_object_get(t, "frames"), 2, in), 0);
    }
    json_t *d = find_cycles(threads);
    assert_int_equal(json_array_size(d), 1);
    json_t *step = json_array_get(json_object_get(json_array_get(d, 0), "cycle"), 0);
    json_t *frames = json_object_get(step, "frames");
    assert_int_equal(json_array_size(frames), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(frames, 0), "function")),
                        "app_step");
    json_decref(d);
    json_decref(threads);
}

static void test_cycles_chain_is_not_a_deadlock(void **state)
{
    (void)state;
    /* 1 -> 2 -> 3 -> 4 (running), 5 -> 99 (not in the model: exited) */
    json_t *threads = json_pack("[o, o, o, o, o]", model_thread(1, "a", 2, "0xf1"),
                                model_thread(2, "b", 3, "0xf2"), model_thread(3, "c", 4, "0xf3"),
                                model_thread(4, "d", 0, NULL), model_thread(5, "e", 99, "0xf5"));
    json_t *d = find_cycles(threads);
    assert_int_equal(json_array_size(d), 0);
    json_decref(d);
    json_decref(threads);
}

static void test_cycles_blocked_behind_and_disjoint(void **state)
{
    (void)state;
    /* 1 <-> 2 with 5 -> 6 -> 1 behind it; 3 <-> 4 alone; 7 -> 8 unrelated. */
    json_t *threads = json_pack("[o, o, o, o, o, o, o, o]", model_thread(5, "w5", 6, "0x5"),
                                model_thread(6, "w6", 1, "0x6"), model_thread(1, "w1", 2, "0x1"),
                                model_thread(2, "w2", 1, "0x2"), model_thread(3, "w3", 4, "0x3"),
                                model_thread(4, "w4", 3, "0x4"), model_thread(7, "w7", 8, "0x7"),
                                model_thread(8, "w8", 0, NULL));
    json_t *d = find_cycles(threads);
    assert_int_equal(json_array_size(d), 2);
    json_t *first = json_array_get(d, 0), *second = json_array_get(d, 1);
    assert_int_equal(tid_at(json_object_get(first, "threads"), 0), 1);
    assert_int_equal(tid_at(json_object_get(second, "threads"), 0), 3);
    json_t *behind = json_object_get(first, "blocked_behind");
    assert_int_equal(json_array_size(behind), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(behind, 0), "tid")), 5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(behind, 1), "name")),
                        "w6");
    assert_null(json_object_get(second, "blocked_behind"));
    json_decref(d);
    json_decref(threads);
}

static void test_cycles_ignore_waits_without_owner(void **state)
{
    (void)state;
    json_t *threads =
        json_pack("[o, o]", model_thread(1, "a", 2, "0x1"), model_thread(2, "b", 0, NULL));
    /* b waits for a condition variable: no owner, no edge. */
    json_t *w = json_pack("{s:s, s:s}", "kind", "condvar", "address", "0x2");
    json_object_set_new(json_array_get(threads, 1), "waiting_for", w);
    json_t *d = find_cycles(threads);
    assert_int_equal(json_array_size(d), 0);
    json_decref(d);
    json_decref(threads);
}

/* ---- what a thread waits for, from real objects ---- */

pthread_mutex_t unit_held_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_rwlock_t unit_table_rwlock = PTHREAD_RWLOCK_INITIALIZER;

static int gettid_int(void)
{
    return (int)syscall(SYS_gettid);
}

/* A quiet-path thread in futex(@word, @op) with the given innermost function names. */
static json_t *blocked_thread(int tid, const void *word, unsigned op, const char *fn1,
                              const char *fn2)
{
    char addr[24], ops[24];
    snprintf(addr, sizeof(addr), "%p", word);
    snprintf(ops, sizeof(ops), "0x%x", op);
    json_t *t =
        json_pack("{s:i, s:s, s:s, s:[s, s, s, s, s, s], s:[{s:s}, {s:s}, {s:s}]}", "tid", tid,
                  "capture", "quiet", "syscall", "futex", "syscall_args", addr, ops, "0x2", "0x0",
                  "0x0", "0x0", "frames", "function", fn1, "function", fn2, "function", "caller");
    assert_non_null(t);
    return t;
}

static void test_wait_of_reads_a_held_mutex(void **state)
{
    (void)state;
    pthread_mutex_lock(&unit_held_lock);
    json_t *t =
        blocked_thread(1, &unit_held_lock, 128, "__GI___lll_lock_wait", "___pthread_mutex_lock");
    json_t *w = NULL;
    assert_int_equal(gmr__locks_wait_of(t, NULL, &w), 1);
    assert_string_equal(json_string_value(json_object_get(w, "kind")), "mutex");
    assert_string_equal(json_string_value(json_object_get(w, "type")), "normal");
    assert_int_equal(json_integer_value(json_object_get(w, "owner_tid")), gettid_int());
    char addr[24];
    snprintf(addr, sizeof(addr), "%p", (void *)&unit_held_lock);
    assert_string_equal(json_string_value(json_object_get(w, "address")), addr);
    json_decref(w);
    json_decref(t);
    pthread_mutex_unlock(&unit_held_lock);

    /* Unlocked now: still a mutex wait, but nobody to wait for. */
    t = blocked_thread(1, &unit_held_lock, 0, "__lll_lock_wait", "pthread_mutex_lock");
    assert_int_equal(gmr__locks_wait_of(t, NULL, &w), 1);
    assert_null(json_object_get(w, "owner_tid"));
    json_decref(w);
    json_decref(t);
}

static void test_wait_of_recursive_mutex(void **state)
{
    (void)state;
    pthread_mutex_t m;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&m, &a);
    pthread_mutexattr_destroy(&a);
    pthread_mutex_lock(&m);
    pthread_mutex_lock(&m);
    json_t *t = blocked_thread(1, &m, 128, "__lll_lock_wait", "pthread_mutex_lock@@GLIBC_2.2.5");
    json_t *w = NULL;
    assert_int_equal(gmr__locks_wait_of(t, NULL, &w), 1);
    assert_string_equal(json_string_value(json_object_get(w, "type")), "recursive");
    assert_int_equal(json_integer_value(json_object_get(w, "owner_tid")), gettid_int());
    json_decref(w);
    json_decref(t);
    pthread_mutex_unlock(&m);
    pthread_mutex_unlock(&m);
    pthread_mutex_destroy(&m);
}

/*
 * A robust mutex is marked robust, and shared only when it really is.  Found: glibc sets the
 * pshared bit of every robust mutex, and a private one was reported as process-shared.
 */
static void test_wait_of_robust_mutex(void **state)
{
    (void)state;
    for (int shared = 0; shared <= 1; shared++) {
        pthread_mutex_t m;
        pthread_mutexattr_t a;
        pthread_mutexattr_init(&a);
        pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
        pthread_mutexattr_setpshared(&a, shared ? PTHREAD_PROCESS_SHARED : PTHREAD_PROCESS_PRIVATE);
        pthread_mutex_init(&m, &a);
        pthread_mutexattr_destroy(&a);
        pthread_mutex_lock(&m);
        json_t *t = blocked_thread(1, &m, 128, "__lll_lock_wait", "pthread_mutex_lock");
        json_t *w = NULL;
        assert_int_equal(gmr__locks_wait_of(t, NULL, &w), 1);
        assert_true(json_is_true(json_object_get(w, "robust")));
        assert_int_equal(json_is_true(json_object_get(w, "process_shared")), false);
        assert_int_equal(json_integer_value(json_object_get(w, "owner_tid")), gettid_int());
        json_decref(w);
        json_decref(t);
        pthread_mutex_unlock(&m);
        pthread_mutex_destroy(&m);
    }
}

static void test_wait_of_rwlock_writer(void **state)
{
    (void)state;
    pthread_rwlock_wrlock(&unit_table_rwlock);
    json_t *w = NULL;
    /* A reader waits on __wrphase_futex, a writer on __writers_futex. */
    json_t *t = blocked_thread(1, &unit_table_rwlock.__data.__wrphase_futex, 0x189,
                               "__futex_abstimed_wait_common", "__pthread_rwlock_rdlock_full64");
    assert_int_equal(gmr__locks_wait_of(t, NULL, &w), 1);
    assert_string_equal(json_string_value(json_object_get(w, "kind")), "rwlock");
    assert_string_equal(json_string_value(json_object_get(w, "mode")), "read");
    assert_int_equal(json_integer_value(json_object_get(w, "owner_tid")), gettid_int());
    char addr[24];
    snprintf(addr, sizeof(addr), "%p", (void *)&unit_table_rwlock);
    assert_string_equal(json_string_value(json_object_get(w, "address")), addr);
    json_decref(w);
    json_decref(t);

    t = blocked_thread(1, &unit_table_rwlock.__data.__writers_futex, 0x189,
                       "__futex_abstimed_wait_common", "___pthread_rwlock_wrlock");
    assert_int_equal(gmr__locks_wait_of(t, NULL, &w), 1);
    assert_string_equal(json_string_value(json_object_get(w, "mode")), "write");
    assert_string_equal(json_string_value(json_object_get(w, "address")), addr);
    json_decref(w);
    json_decref(t);
    pthread_rwlock_unlock(&unit_table_rwlock);
}

/* A lock inside a large object in .bss, far beyond the executable's file-backed pages. */
struct far_table {
    char pad[1 << 20];
    pthread_mutex_t lock;
};
struct far_table unit_far_table = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void test_wait_of_names_globals(void **state)
{
    (void)state;
    gmr__sym_lock();
    struct gmr__sym *sym;
    assert_int_equal(gmr__sym_get(&sym, NULL), 0);
    Dwfl *dwfl = gmr__sym_dwfl(sym);
    json_t *w = NULL;
    json_t *t = blocked_thread(1, &unit_held_lock, 128, "__lll_lock_wait", "pthread_mutex_lock");
    assert_int_equal(gmr__locks_wait_of(t, dwfl, &w), 1);
    assert_string_equal(json_string_value(json_object_get(w, "symbol")), "unit_held_lock");
    json_decref(w);
    json_decref(t);
    t = blocked_thread(1, &unit_far_table.lock, 128, "__lll_lock_wait", "pthread_mutex_lock");
    assert_int_equal(gmr__locks_wait_of(t, dwfl, &w), 1);
    char want[64];
    snprintf(want, sizeof(want), "unit_far_table+0x%zx", offsetof(struct far_table, lock));
    assert_string_equal(json_string_value(json_object_get(w, "symbol")), want);
    json_decref(w);
    json_decref(t);
    /* A heap object has no name. */
    pthread_mutex_t *heap = malloc(sizeof(*heap));
    assert_non_null(heap);
    pthread_mutex_init(heap, NULL);
    t = blocked_thread(1, heap, 128, "__lll_lock_wait", "pthread_mutex_lock");
    assert_int_equal(gmr__locks_wait_of(t, dwfl, &w), 1);
    assert_null(json_object_get(w, "symbol"));
    json_decref(w);
    json_decref(t);
    free(heap);
    gmr__sym_unlock();
}

static void test_wait_of_ignores_other_waits(void **state)
{
    (void)state;
    pthread_mutex_lock(&unit_held_lock);
    json_t *w = NULL;
    /* A futex wake, not a wait. */
    json_t *t = blocked_thread(1, &unit_held_lock, 129, "__lll_lock_wait", "pthread_mutex_lock");
    assert_int_equal(gmr__locks_wait_of(t, NULL, &w), 0);
    json_decref(t);
    /* A futex wait outside any lock function (a semaphore, an internal lock). */
    t = blocked_thread(1, &unit_held_lock, 128, "__lll_lock_wait_private", "malloc");
    assert_int_equal(gmr__locks_wait_of(t, NULL, &w), 0);
    json_decref(t);
    /* Unlocking and trying do not wait. */
    t = blocked_thread(1, &unit_held_lock, 128, "__pthread_mutex_unlock_usercnt",
                       "pthread_mutex_trylock");
    assert_int_equal(gmr__locks_wait_of(t, NULL, &w), 0);
    json_decref(t);
    /* Another system call, or the signal path. */
    t = blocked_thread(1, &unit_held_lock, 128, "__lll_lock_wait", "pthread_mutex_lock");
    json_object_set_new(t, "syscall", json_string("read"));
    assert_int_equal(gmr__locks_wait_of(t, NULL, &w), 0);
    json_object_set_new(t, "syscall", json_string("futex"));
    json_object_set_new(t, "capture", json_string("signal"));
    assert_int_equal(gmr__locks_wait_of(t, NULL, &w), 0);
    json_decref(t);
    /* An unreadable address. */
    t = blocked_thread(1, (void *)16, 128, "__lll_lock_wait", "pthread_mutex_lock");
    assert_int_equal(gmr__locks_wait_of(t, NULL, &w), 0);
    json_decref(t);
    pthread_mutex_unlock(&unit_held_lock);
}

/* ---- the analysis on threads of this process ---- */

pthread_mutex_t unit_owner_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t unit_pair_a = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t unit_pair_b = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t unit_self_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t unit_orphan_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_rwlock_t unit_rwlock = PTHREAD_RWLOCK_INITIALIZER;
pthread_mutex_t unit_cond_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t unit_cond = PTHREAD_COND_INITIALIZER;

static pthread_barrier_t pair_barrier;
static int hold_pipe[2];
static atomic_int tid_holder, tid_waiter, tid_pair1, tid_pair2, tid_self, tid_orphan_owner,
    tid_orphan_wait, tid_reader, tid_cond;
static atomic_bool holder_ready;
static atomic_int after_lock;
static bool cond_flag;

static void hold_forever(void)
{
    char c;
    for (;;)
        (void)read(hold_pipe[0], &c, 1);
}

static void *holder_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "holder");
    atomic_store(&tid_holder, gettid_int());
    pthread_mutex_lock(&unit_owner_lock);
    pthread_rwlock_wrlock(&unit_rwlock);
    atomic_store(&holder_ready, true);
    hold_forever();
    return NULL;
}

static void *waiter_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "waiter");
    atomic_store(&tid_waiter, gettid_int());
    pthread_mutex_lock(&unit_owner_lock);
    return NULL;
}

static void *pair_main(void *arg)
{
    bool first = arg != NULL;
    pthread_setname_np(pthread_self(), first ? "pair-1" : "pair-2");
    atomic_store(first ? &tid_pair1 : &tid_pair2, gettid_int());
    pthread_mutex_lock(first ? &unit_pair_a : &unit_pair_b);
    pthread_barrier_wait(&pair_barrier);
    pthread_mutex_lock(first ? &unit_pair_b : &unit_pair_a);
    atomic_fetch_add(&after_lock, 1); /* keeps the call above from being a tail call */
    return NULL;
}

static void *self_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "self");
    atomic_store(&tid_self, gettid_int());
    pthread_mutex_lock(&unit_self_lock);
    pthread_mutex_lock(&unit_self_lock);
    return NULL;
}

static void *orphan_owner(void *arg)
{
    (void)arg;
    atomic_store(&tid_orphan_owner, gettid_int());
    pthread_mutex_lock(&unit_orphan_lock);
    return NULL;
}

static void *orphan_wait(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "orphan-wait");
    atomic_store(&tid_orphan_wait, gettid_int());
    pthread_mutex_lock(&unit_orphan_lock);
    return NULL;
}

static void *reader_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "reader");
    atomic_store(&tid_reader, gettid_int());
    pthread_rwlock_rdlock(&unit_rwlock);
    return NULL;
}

static void *cond_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "cond-wait");
    atomic_store(&tid_cond, gettid_int());
    pthread_mutex_lock(&unit_cond_lock);
    while (!cond_flag)
        pthread_cond_wait(&unit_cond, &unit_cond_lock);
    pthread_mutex_unlock(&unit_cond_lock);
    return NULL;
}

/* Waits until thread *@tid is in a futex wait on a word inside [@lo, @lo + @size). */
static void wait_futex(atomic_int *tid, const void *lo, size_t size)
{
    for (int i = 0; i < 10000; i++) {
        int t = atomic_load(tid);
        char path[64], buf[256];
        snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", t);
        FILE *f = t ? fopen(path, "re") : NULL;
        long nr = -1;
        unsigned long addr = 0;
        if (f) {
            if (fgets(buf, sizeof(buf), f) && sscanf(buf, "%ld %lx", &nr, &addr) == 2 &&
                nr == SYS_futex && addr >= (unsigned long)lo && addr < (unsigned long)lo + size) {
                fclose(f);
                return;
            }
            fclose(f);
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    fail_msg("thread %d never blocked on its lock", atomic_load(tid));
}

static void start(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fn, arg), 0);
    pthread_detach(t);
}

/* The scene: every waiting thread blocked where it should be.  They stay blocked. */
static int setup_scene(void **state)
{
    (void)state;
    if (pipe(hold_pipe) < 0)
        return -1;
    pthread_barrier_init(&pair_barrier, NULL, 2);
    pthread_t t;
    pthread_create(&t, NULL, orphan_owner, NULL);
    pthread_join(t, NULL);
    start(holder_main, NULL);
    while (!atomic_load(&holder_ready))
        sched_yield();
    start(waiter_main, NULL);
    start(pair_main, (void *)1);
    start(pair_main, NULL);
    start(self_main, NULL);
    start(orphan_wait, NULL);
    start(reader_main, NULL);
    start(cond_main, NULL);
    wait_futex(&tid_waiter, &unit_owner_lock, sizeof(unit_owner_lock));
    wait_futex(&tid_pair1, &unit_pair_b, sizeof(unit_pair_b));
    wait_futex(&tid_pair2, &unit_pair_a, sizeof(unit_pair_a));
    wait_futex(&tid_self, &unit_self_lock, sizeof(unit_self_lock));
    wait_futex(&tid_orphan_wait, &unit_orphan_lock, sizeof(unit_orphan_lock));
    wait_futex(&tid_reader, &unit_rwlock, sizeof(unit_rwlock));
    wait_futex(&tid_cond, &unit_cond, sizeof(unit_cond));
    return 0;
}

/* What the current test built; released by its teardown, also when it fails or skips. */
static json_t *scene_sec, *scene_report;

static int release_scene(void **state)
{
    (void)state;
    json_decref(scene_sec);
    json_decref(scene_report);
    scene_sec = scene_report = NULL;
    return 0;
}

/* Builds the Threads section of this process and analyzes it; released by the teardown. */
static json_t *analyzed_report(json_t **ret_section)
{
    json_t *report = scene_report = json_object();
    json_t *sec = scene_sec = json_object();
    assert_non_null(report);
    assert_non_null(sec);
    assert_int_equal(gmr__threads_section(sec, gettid_int(), false), 0);
    assert_int_equal(gmr__locks_analyze(sec, report), 0);
    *ret_section = sec;
    return report;
}

static const json_t *thread_of(const json_t *sec, int tid)
{
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(sec, "threads"), i, t)
    {
        if (json_integer_value(json_object_get(t, "tid")) == tid)
            return t;
    }
    fail_msg("thread %d not in the section", tid);
    return NULL;
}

/*
 * Sanitizers put their interceptors between the test and pthread_mutex_lock; the quiet path
 * may not walk through them, and without a capture signal such threads are not captured.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED true
#else
#define SANITIZED false
#endif

static void need_quiet(const json_t *sec, int tid)
{
    const char *capture = json_string_value(json_object_get(thread_of(sec, tid), "capture"));
    if (SANITIZED && (!capture || strcmp(capture, "quiet") != 0))
        skip();
}

/* The waiter, the pair and the self-locked thread, which the deadlock tests rely on. */
static void need_scene_quiet(const json_t *sec)
{
    need_quiet(sec, atomic_load(&tid_waiter));
    need_quiet(sec, atomic_load(&tid_pair1));
    need_quiet(sec, atomic_load(&tid_pair2));
    need_quiet(sec, atomic_load(&tid_self));
}

static const json_t *waiting_for(const json_t *sec, int tid)
{
    need_quiet(sec, tid);
    const json_t *w = json_object_get(thread_of(sec, tid), "waiting_for");
    if (!json_is_object(w)) {
        char *dump = json_dumps(thread_of(sec, tid), JSON_COMPACT);
        fail_msg("thread %d waits for nothing known: %s", tid, dump);
    }
    return w;
}

static void test_analyze_names_mutex_and_owner(void **state)
{
    (void)state;
    json_t *sec;
    (void)analyzed_report(&sec);
    const json_t *w = waiting_for(sec, atomic_load(&tid_waiter));
    assert_string_equal(json_string_value(json_object_get(w, "kind")), "mutex");
    assert_string_equal(json_string_value(json_object_get(w, "symbol")), "unit_owner_lock");
    assert_int_equal(json_integer_value(json_object_get(w, "owner_tid")), atomic_load(&tid_holder));
    assert_string_equal(json_string_value(json_object_get(w, "owner_name")), "holder");
    assert_null(json_object_get(w, "owner_state"));
    /* Threads not waiting for a lock get nothing. */
    assert_null(json_object_get(thread_of(sec, atomic_load(&tid_holder)), "waiting_for"));
    assert_null(json_object_get(thread_of(sec, gettid_int()), "waiting_for"));
}

static void test_analyze_finds_the_deadlocks(void **state)
{
    (void)state;
    json_t *sec, *report = analyzed_report(&sec);
    int p1 = atomic_load(&tid_pair1), p2 = atomic_load(&tid_pair2);
    need_scene_quiet(sec);
    json_t *d = json_object_get(report, "deadlocks");
    assert_int_equal(json_array_size(d), 2);
    bool pair = false, self = false;
    size_t i;
    json_t *one;
    json_array_foreach(d, i, one)
    {
        json_t *tids = json_object_get(one, "threads");
        if (json_array_size(tids) == 2) {
            pair = true;
            assert_int_equal(tid_at(tids, 0), p1 < p2 ? p1 : p2);
            assert_int_equal(tid_at(tids, 1), p1 < p2 ? p2 : p1);
            json_t *step = json_array_get(json_object_get(one, "cycle"), 0);
            const char *sym =
                json_string_value(json_object_get(json_object_get(step, "waiting_for"), "symbol"));
            assert_string_equal(sym, p1 < p2 ? "unit_pair_b" : "unit_pair_a");
            /* The first frame shown is the caller of pthread_mutex_lock. */
            json_t *f = json_array_get(json_object_get(step, "frames"), 0);
            assert_string_equal(json_string_value(json_object_get(f, "function")), "pair_main");
        } else {
            self = true;
            assert_int_equal(tid_at(tids, 0), atomic_load(&tid_self));
        }
    }
    assert_true(pair && self);
}

static void test_analyze_owner_exited(void **state)
{
    (void)state;
    json_t *sec;
    (void)analyzed_report(&sec);
    const json_t *w = waiting_for(sec, atomic_load(&tid_orphan_wait));
    assert_int_equal(json_integer_value(json_object_get(w, "owner_tid")),
                     atomic_load(&tid_orphan_owner));
    assert_string_equal(json_string_value(json_object_get(w, "owner_state")), "exited");
    struct gmr__buf b = GMR_BUF_INIT;
    gmr__text_waiting_for(&b, thread_of(sec, atomic_load(&tid_orphan_wait)));
    char want[128];
    snprintf(want, sizeof(want), ": owner TID %d no longer exists", atomic_load(&tid_orphan_owner));
    assert_non_null(b.data);
    assert_non_null(strstr(b.data, want));
    gmr__buf_done(&b);
}

static void test_analyze_rwlock_and_cond(void **state)
{
    (void)state;
    json_t *sec;
    (void)analyzed_report(&sec);
    const json_t *w = waiting_for(sec, atomic_load(&tid_reader));
    assert_string_equal(json_string_value(json_object_get(w, "kind")), "rwlock");
    assert_string_equal(json_string_value(json_object_get(w, "mode")), "read");
    assert_string_equal(json_string_value(json_object_get(w, "symbol")), "unit_rwlock");
    assert_int_equal(json_integer_value(json_object_get(w, "owner_tid")), atomic_load(&tid_holder));
    w = waiting_for(sec, atomic_load(&tid_cond));
    assert_string_equal(json_string_value(json_object_get(w, "kind")), "condvar");
    assert_string_equal(json_string_value(json_object_get(w, "symbol")), "unit_cond");
    assert_null(json_object_get(w, "owner_tid"));
}

/*
 * A cycle made of waits seen at different moments: the model says the holder (blocked in
 * read()) waits for a mutex that the waiter owns.  The re-check against the live threads
 * rejects it.
 */
static void test_analyze_rejects_a_cycle_that_is_not_there(void **state)
{
    (void)state;
    pthread_mutex_t stale = PTHREAD_MUTEX_INITIALIZER;
    stale.__data.__lock = 2; /* as if the waiter had locked it, without it doing so */
    stale.__data.__owner = atomic_load(&tid_waiter);
    json_t *sec = scene_sec = json_object();
    assert_int_equal(gmr__threads_section(sec, gettid_int(), false), 0);
    need_scene_quiet(sec);
    json_t *threads = json_object_get(sec, "threads");
    size_t i;
    json_t *t;
    json_array_foreach(threads, i, t)
    {
        if (json_integer_value(json_object_get(t, "tid")) == atomic_load(&tid_holder))
            break;
    }
    assert_true(i < json_array_size(threads));
    json_t *fake = blocked_thread(atomic_load(&tid_holder), &stale, 128, "__lll_lock_wait",
                                  "pthread_mutex_lock");
    assert_int_equal(json_array_set_new(threads, i, fake), 0);

    json_t *cycles = NULL;
    json_t *report = scene_report = json_object();
    assert_int_equal(gmr__locks_analyze(sec, report), 0);
    assert_int_equal(gmr__locks_find_cycles(threads, &cycles), 0);
    assert_int_equal(json_array_size(cycles), 3); /* the pair, the self-lock and the stale one */
    assert_int_equal(json_array_size(json_object_get(report, "deadlocks")), 2);
    json_array_foreach(json_object_get(report, "deadlocks"), i, t)
    {
        json_int_t first = json_integer_value(json_array_get(json_object_get(t, "threads"), 0));
        assert_true(first != atomic_load(&tid_holder) && first != atomic_load(&tid_waiter));
    }
    json_decref(cycles);
}

/* The text view: the banner comes between the header and the first section. */
static void test_text_deadlock_banner_before_sections(void **state)
{
    (void)state;
    json_t *sec, *report = analyzed_report(&sec);
    need_scene_quiet(sec);
    json_t *sections = json_array();
    assert_int_equal(json_object_set_new(report, "format_version", json_string("1.0")), 0);
    assert_int_equal(json_object_set_new(report, "sections", sections), 0);
    assert_int_equal(json_object_set_new(sec, "title", json_string("Threads")), 0);
    assert_int_equal(json_object_set_new(sec, "type", json_string("threads")), 0);
    assert_int_equal(json_array_append(sections, sec), 0);
    struct gmr__buf b = GMR_BUF_INIT;
    assert_int_equal(gmr__render_text(report, &b), 0);
    const char *banner = strstr(b.data, "DEADLOCK DETECTED");
    const char *threads = strstr(b.data, "Threads    ");
    assert_non_null(banner);
    assert_non_null(threads);
    assert_true(banner < threads);
    assert_non_null(strstr(banner, "which it holds itself"));
    char want[160];
    snprintf(want, sizeof(want),
             "waiting for = mutex unit_owner_lock (%p), held by Thread #%d "
             "(holder)\n",
             (void *)&unit_owner_lock, atomic_load(&tid_holder));
    assert_non_null(strstr(threads, want));
    gmr__buf_done(&b);
}

static void test_find_cycles_allocation_failures(void **state)
{
    (void)state;
    json_t *threads = json_pack(
        "[o, o, o, o]", model_thread(30, "r3", 10, "0xc3"), model_thread(10, "r1", 20, "0xc1"),
        model_thread(20, "r2", 30, "0xc2"), model_thread(40, "behind", 10, "0xc1"));
    json_set_alloc_funcs(gmr__malloc, gmr__free);
    int r = -ENOMEM;
    long n;
    for (n = 0; n < 10000 && r == -ENOMEM; n++) {
        json_t *out = NULL;
        gmr__alloc_fail_after(n);
        r = gmr__locks_find_cycles(threads, &out);
        gmr__alloc_fail_after(-1);
        assert_true(r == 0 || r == -ENOMEM);
        if (r == 0)
            assert_int_equal(json_array_size(out), 1);
        json_decref(out);
    }
    assert_int_equal(r, 0);
    assert_true(n > 5);
    json_set_alloc_funcs(malloc, free);
    json_decref(threads);
}

static void test_analyze_allocation_failures(void **state)
{
    (void)state;
    json_t *sec = scene_sec = json_object();
    assert_int_equal(gmr__threads_section(sec, gettid_int(), false), 0);
    need_scene_quiet(sec);
    char *saved = json_dumps(sec, 0);
    json_set_alloc_funcs(gmr__malloc, gmr__free);
    int r = -ENOMEM;
    long n;
    for (n = 0; n < 100000 && r == -ENOMEM; n++) {
        json_t *model = json_loads(saved, 0, NULL);
        json_t *report = json_object();
        assert_non_null(model);
        assert_non_null(report);
        gmr__alloc_fail_after(n);
        r = gmr__locks_analyze(model, report);
        gmr__alloc_fail_after(-1);
        assert_true(r == 0 || r == -ENOMEM);
        if (r == 0)
            assert_int_equal(json_array_size(json_object_get(report, "deadlocks")), 2);
        json_decref(model);
        json_decref(report);
    }
    assert_int_equal(r, 0);
    assert_true(n > 10);
    json_set_alloc_funcs(malloc, free);
    free(saved);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cycles_two_threads),
        cmocka_unit_test(test_cycles_three_threads),
        cmocka_unit_test(test_cycles_self_deadlock),
        cmocka_unit_test(test_cycles_frames_skip_a_sanitizer_interceptor),
        cmocka_unit_test(test_cycles_chain_is_not_a_deadlock),
        cmocka_unit_test(test_cycles_blocked_behind_and_disjoint),
        cmocka_unit_test(test_cycles_ignore_waits_without_owner),
        cmocka_unit_test(test_wait_of_reads_a_held_mutex),
        cmocka_unit_test(test_wait_of_recursive_mutex),
        cmocka_unit_test(test_wait_of_robust_mutex),
        cmocka_unit_test(test_wait_of_rwlock_writer),
        cmocka_unit_test(test_wait_of_names_globals),
        cmocka_unit_test(test_wait_of_ignores_other_waits),
        cmocka_unit_test_teardown(test_analyze_names_mutex_and_owner, release_scene),
        cmocka_unit_test_teardown(test_analyze_finds_the_deadlocks, release_scene),
        cmocka_unit_test_teardown(test_analyze_owner_exited, release_scene),
        cmocka_unit_test_teardown(test_analyze_rwlock_and_cond, release_scene),
        cmocka_unit_test_teardown(test_analyze_rejects_a_cycle_that_is_not_there, release_scene),
        cmocka_unit_test_teardown(test_text_deadlock_banner_before_sections, release_scene),
        cmocka_unit_test(test_find_cycles_allocation_failures),
        cmocka_unit_test_teardown(test_analyze_allocation_failures, release_scene),
    };
    return cmocka_run_group_tests_name("locks", tests, setup_scene, NULL);
}
