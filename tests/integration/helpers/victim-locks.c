/*
 * Victim for the lock analysis tests (built -g).  Each scenario is started by an option; its
 * locks are globals with known names, so reports can name them:
 *   --pair      pair-1 holds pair_lock_a and wants pair_lock_b, pair-2 the other way round
 *   --ring      ring-1..3: ring-N holds ring_lock_N and wants the next one (a 3-cycle)
 *   --self      self-lock locks self_lock (a normal mutex) a second time
 *   --orphan    orphan-owner locks orphan_lock and exits; orphan-wait then blocks on it
 *   --rwlock    rw-holder holds table_rwlock for writing; rw-reader and rw-writer wait for it
 *   --cond      cond-wait waits on ready_cond, which nobody signals
 *   --chain     chain-wait waits for pair_lock_a (held by pair-1, itself deadlocked)
 *   --pool N    N workers doing other things: sleeping, reading a pipe, taking pool_lock
 *   --contend N N threads hammering three mutexes, always in the same order (no deadlock)
 *   --json      triggered reports as JSON
 * The functions where threads block are noinline with known names (pair_take_second,
 * ring_take_next, ...) and bodies that differ (so the linker cannot fold them into one), their
 * blocking calls on lines marked "AT:<function>".
 * Prints "READY" once every blocked scenario thread sits in a futex wait on its lock
 * (checked in /proc/self/task/TID/syscall).  Commands on stdin: "report text|json" ->
 * gmr_write_report(1, ...) then "DONE <result>"; "ping" -> "PONG"; "stop" (stops the
 * contention threads) -> "STOPPED".  Exits when stdin closes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <gmr/gmr.h>

#define NOINLINE __attribute__((noinline, noclone))

pthread_mutex_t pair_lock_a = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t pair_lock_b = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t ring_lock_1 = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t ring_lock_2 = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t ring_lock_3 = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t self_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t orphan_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_rwlock_t table_rwlock = PTHREAD_RWLOCK_INITIALIZER;
pthread_mutex_t cond_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t ready_cond = PTHREAD_COND_INITIALIZER;
pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t hot_lock[3] = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
                               PTHREAD_MUTEX_INITIALIZER};

static pthread_barrier_t pair_barrier, ring_barrier;
static int idle_pipe[2];
static atomic_bool contending = true;
/* Keeps the callers' frames (no tail calls); per thread, so the writes do not race. */
static _Thread_local volatile unsigned long sink;

/* A blocked scenario thread and the lock it must be seen waiting on before READY. */
struct expect {
    const char *name;
    atomic_int tid;
    const void *lock; /* the futex word lies inside [lock, lock + size) */
    size_t size;
};

static struct expect expects[16];
static int n_expects;

static struct expect *expect(const char *name, const void *lock, size_t size)
{
    struct expect *e = &expects[n_expects++];
    e->name = name;
    e->lock = lock;
    e->size = size;
    return e;
}

static void named(const char *name, struct expect *e)
{
    pthread_setname_np(pthread_self(), name);
    if (e)
        atomic_store(&e->tid, (int)syscall(SYS_gettid));
}

/* True when thread @tid is in a futex wait on an address inside @e's lock. */
static bool waits_on(const struct expect *e, int tid)
{
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    bool ok = false;
    long nr;
    unsigned long addr;
    if (fgets(buf, sizeof(buf), f) && sscanf(buf, "%ld %lx", &nr, &addr) == 2)
        ok = nr == SYS_futex && addr >= (unsigned long)e->lock &&
             addr < (unsigned long)e->lock + e->size;
    fclose(f);
    return ok;
}

static void park(void)
{
    char c;
    for (;;)
        (void)read(idle_pipe[0], &c, 1);
}

/* ---- pair: a deadlock of two threads ---- */
static NOINLINE void pair_take_second(pthread_mutex_t *second)
{
    pthread_mutex_lock(second); /* AT:pair_take_second */
    sink += 1;
}

static NOINLINE void *pair_main(void *arg)
{
    int which = (int)(long)arg;
    named(which == 1 ? "pair-1" : "pair-2", &expects[which == 1 ? 0 : 1]);
    pthread_mutex_lock(which == 1 ? &pair_lock_a : &pair_lock_b);
    pthread_barrier_wait(&pair_barrier);
    pair_take_second(which == 1 ? &pair_lock_b : &pair_lock_a);
    return NULL;
}

/* ---- ring: a deadlock of three threads ---- */
static pthread_mutex_t *const ring[3] = {&ring_lock_1, &ring_lock_2, &ring_lock_3};
static struct expect *ring_expect[3];

static NOINLINE void ring_take_next(pthread_mutex_t *next)
{
    pthread_mutex_lock(next); /* AT:ring_take_next */
    sink += 2;
}

static NOINLINE void *ring_main(void *arg)
{
    int i = (int)(long)arg;
    char name[32];
    snprintf(name, sizeof(name), "ring-%d", i + 1);
    named(name, ring_expect[i]);
    pthread_mutex_lock(ring[i]);
    pthread_barrier_wait(&ring_barrier);
    ring_take_next(ring[(i + 1) % 3]);
    return NULL;
}

/* ---- self: a normal mutex locked twice by one thread ---- */
static struct expect *self_expect;

static NOINLINE void self_relock(void)
{
    pthread_mutex_lock(&self_lock); /* AT:self_relock */
    sink += 3;
}

static NOINLINE void *self_main(void *arg)
{
    (void)arg;
    named("self-lock", self_expect);
    pthread_mutex_lock(&self_lock);
    self_relock();
    return NULL;
}

/* ---- orphan: the owner exits with the mutex locked ---- */
static struct expect *orphan_expect;

static void *orphan_owner(void *arg)
{
    (void)arg;
    named("orphan-owner", NULL);
    pthread_mutex_lock(&orphan_lock);
    return NULL;
}

static NOINLINE void orphan_take(void)
{
    pthread_mutex_lock(&orphan_lock); /* AT:orphan_take */
    sink += 4;
}

static NOINLINE void *orphan_main(void *arg)
{
    (void)arg;
    named("orphan-wait", orphan_expect);
    orphan_take();
    return NULL;
}

/* ---- rwlock: a writer holds it, a reader and a writer wait ---- */
static struct expect *rw_reader_expect, *rw_writer_expect;
static atomic_bool rw_held;

static void *rw_holder(void *arg)
{
    (void)arg;
    named("rw-holder", NULL);
    pthread_rwlock_wrlock(&table_rwlock);
    atomic_store(&rw_held, true);
    park();
    return NULL;
}

static NOINLINE void rw_read(void)
{
    pthread_rwlock_rdlock(&table_rwlock); /* AT:rw_read */
    sink += 5;
}

static NOINLINE void rw_write(void)
{
    pthread_rwlock_wrlock(&table_rwlock); /* AT:rw_write */
    sink += 6;
}

static void *rw_reader(void *arg)
{
    (void)arg;
    named("rw-reader", rw_reader_expect);
    rw_read();
    return NULL;
}

static void *rw_writer(void *arg)
{
    (void)arg;
    named("rw-writer", rw_writer_expect);
    rw_write();
    return NULL;
}

/* ---- cond: a wait nobody ends ---- */
static struct expect *cond_expect;
static bool ready_flag;

static NOINLINE void cond_wait_ready(void)
{
    pthread_mutex_lock(&cond_lock);
    while (!ready_flag)
        pthread_cond_wait(&ready_cond, &cond_lock); /* AT:cond_wait_ready */
    pthread_mutex_unlock(&cond_lock);
}

static void *cond_main(void *arg)
{
    (void)arg;
    named("cond-wait", cond_expect);
    cond_wait_ready();
    return NULL;
}

/* ---- chain: blocked behind a deadlock, not part of it ---- */
static struct expect *chain_expect;

static NOINLINE void chain_take(void)
{
    pthread_mutex_lock(&pair_lock_a); /* AT:chain_take */
    sink += 7;
}

static void *chain_main(void *arg)
{
    (void)arg;
    named("chain-wait", chain_expect);
    chain_take();
    return NULL;
}

/* ---- pool: workers doing other things ---- */
static NOINLINE void *pool_worker(void *arg)
{
    int i = (int)(long)arg;
    char name[32];
    snprintf(name, sizeof(name), "worker-%d", i);
    named(name, NULL);
    switch (i % 3) {
    case 0:
        park();
        break;
    case 1:
        for (;;) {
            struct timespec ts = {0, 20000000};
            nanosleep(&ts, NULL);
        }
    default:
        for (;;) {
            pthread_mutex_lock(&pool_lock);
            for (int k = 0; k < 1000; k++)
                sink += (unsigned long)k;
            pthread_mutex_unlock(&pool_lock);
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

/* ---- contend: threads hammering three mutexes in one global order ---- */
static NOINLINE void *contend_main(void *arg)
{
    int i = (int)(long)arg;
    char name[32];
    snprintf(name, sizeof(name), "hammer-%d", i);
    named(name, NULL);
    unsigned long n = 0;
    while (atomic_load_explicit(&contending, memory_order_relaxed)) {
        int first = (int)((n + (unsigned long)i) % 3);
        for (int k = first; k < 3; k++)
            pthread_mutex_lock(&hot_lock[k]);
        for (int k = 0; k < 200; k++)
            sink += (unsigned long)k;
        for (int k = 2; k >= first; k--)
            pthread_mutex_unlock(&hot_lock[k]);
        n++;
    }
    return NULL;
}

static void start(void *(*fn)(void *), long arg)
{
    pthread_t t;
    if (pthread_create(&t, NULL, fn, (void *)arg) != 0) {
        perror("pthread_create");
        exit(1);
    }
    pthread_detach(t);
}

int main(int argc, char **argv)
{
    bool json = false, pair = false, ringed = false, self = false, orphan = false;
    bool rw = false, cond = false, chain = false;
    int pool = 0, contend = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "--pair") == 0)
            pair = true;
        else if (strcmp(argv[i], "--ring") == 0)
            ringed = true;
        else if (strcmp(argv[i], "--self") == 0)
            self = true;
        else if (strcmp(argv[i], "--orphan") == 0)
            orphan = true;
        else if (strcmp(argv[i], "--rwlock") == 0)
            rw = true;
        else if (strcmp(argv[i], "--cond") == 0)
            cond = true;
        else if (strcmp(argv[i], "--chain") == 0)
            chain = true;
        else if (strcmp(argv[i], "--pool") == 0 && i + 1 < argc)
            pool = atoi(argv[++i]);
        else if (strcmp(argv[i], "--contend") == 0 && i + 1 < argc)
            contend = atoi(argv[++i]);
    }
    if (pipe(idle_pipe) < 0)
        return 1;
    if (json)
        gmr_set_format(GMR_FORMAT_JSON);
    int r = gmr_setup_autorun(NULL, NULL, "victim-locks");
    printf("SETUP %d\n", r);
    fflush(stdout);

    /* expects[0] and [1] are the pair's, whether or not it runs. */
    expect("pair-1", &pair_lock_b, sizeof(pair_lock_b));
    expect("pair-2", &pair_lock_a, sizeof(pair_lock_a));
    for (int i = 0; i < pool; i++)
        start(pool_worker, i);
    if (pair) {
        pthread_barrier_init(&pair_barrier, NULL, 2);
        start(pair_main, 1);
        start(pair_main, 2);
    } else {
        n_expects = 0;
    }
    if (ringed) {
        pthread_barrier_init(&ring_barrier, NULL, 3);
        for (int i = 0; i < 3; i++) {
            ring_expect[i] = expect("ring", ring[(i + 1) % 3], sizeof(pthread_mutex_t));
            start(ring_main, i);
        }
    }
    if (self) {
        self_expect = expect("self-lock", &self_lock, sizeof(self_lock));
        start(self_main, 0);
    }
    if (orphan) {
        pthread_t t;
        pthread_create(&t, NULL, orphan_owner, NULL);
        pthread_join(t, NULL);
        orphan_expect = expect("orphan-wait", &orphan_lock, sizeof(orphan_lock));
        start(orphan_main, 0);
    }
    if (rw) {
        start(rw_holder, 0);
        while (!atomic_load(&rw_held))
            usleep(1000);
        rw_reader_expect = expect("rw-reader", &table_rwlock, sizeof(table_rwlock));
        rw_writer_expect = expect("rw-writer", &table_rwlock, sizeof(table_rwlock));
        start(rw_reader, 0);
        start(rw_writer, 0);
    }
    if (cond) {
        cond_expect = expect("cond-wait", &ready_cond, sizeof(ready_cond));
        start(cond_main, 0);
    }
    if (chain && pair) {
        /* After the pair is deadlocked, so that pair-1 holds pair_lock_a. */
        while (!atomic_load(&expects[0].tid) || !waits_on(&expects[0], expects[0].tid))
            usleep(1000);
        chain_expect = expect("chain-wait", &pair_lock_a, sizeof(pair_lock_a));
        start(chain_main, 0);
    }
    for (int i = 0; i < contend; i++)
        start(contend_main, i);

    for (int i = 0; i < n_expects; i++) {
        struct expect *e = &expects[i];
        while (!atomic_load(&e->tid) || !waits_on(e, atomic_load(&e->tid)))
            usleep(1000);
    }
    printf("READY\n");
    fflush(stdout);

    char line[256];
    while (fgets(line, sizeof(line), stdin)) {
        if (strncmp(line, "report ", 7) == 0) {
            enum gmr_format f =
                strncmp(line + 7, "json", 4) == 0 ? GMR_FORMAT_JSON : GMR_FORMAT_TEXT;
            fflush(stdout);
            printf("DONE %d\n", gmr_write_report(1, f));
        } else if (strcmp(line, "ping\n") == 0) {
            printf("PONG\n");
        } else if (strcmp(line, "stop\n") == 0) {
            atomic_store(&contending, false);
            printf("STOPPED\n");
        }
        fflush(stdout);
    }
    gmr_shutdown();
    fflush(stdout);
    _exit(0);
}
