/*
 * Victim for the Green Threads tests (built -O2 -g, without frame pointers).  The main
 * thread's scheduler parks coroutines of both kinds a few calls deep in noinline functions
 * with known names:
 *   uc-alpha    ucontext            alpha_1 -> alpha_2 -> alpha_3 -> co_yield
 *   uc-beta     ucontext            beta_1 -> beta_2 -> co_yield
 *   asm-gamma   hand-written switch gamma_1 -> gamma_2 -> gamma_3 -> co_yield  (registers
 *               with callee-saved ones: gmr_coro_suspended_regs_full())
 *   asm-delta   hand-written switch delta_1 -> delta_2 -> co_yield  (sp/pc/fp only:
 *               gmr_coro_suspended_regs())
 *   fresh       registered, never run
 * The call to the next level sits on a line marked "AT:<function>" so the tests can find its
 * line number.  The main thread serves commands from stdin:
 *   report text|json -> gmr_write_report(1, ...) then "DONE <result>"
 *   reports N        -> N JSON reports to stdout, then "DONE <N> <last result>"
 *   inside           -> resumes uc-runner, which writes a JSON report from inside the
 *                       coroutine (runner_1 -> runner_2), then "DONE <result>"
 *   churn on|off     -> start/stop a thread whose own scheduler creates, switches and
 *                       destroys coroutines of both kinds without pause (churn_entry ->
 *                       churn_1 [-> churn_2 [-> churn_3]] -> co_yield); a destroyed
 *                       coroutine's stack is filled with addresses of garbage_marker() and
 *                       then reused or unmapped; "CHURNING" once it runs, "CHURNED <n>"
 *                       after off
 * and exits when stdin closes.  Triggered (SIGUSR2) reports go to stderr as text.  Prints
 * "READY" when everything is parked.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <gmr/gmr.h>

/*
 * ThreadSanitizer follows calls and returns on a shadow stack per thread: a coroutine switch
 * it is not told about leaves calls without returns, and the churn below overflows it.  Under
 * TSan each coroutine is a fiber of its own, switched to just before its stack is.
 */
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#define FIBER_NEW()     __tsan_create_fiber(0)
#define FIBER_FREE(f)   __tsan_destroy_fiber(f)
#define FIBER_SELF()    __tsan_get_current_fiber()
#define FIBER_SWITCH(f) __tsan_switch_to_fiber((f), 0)
#else
#define FIBER_NEW()     NULL
#define FIBER_FREE(f)   ((void)(f))
#define FIBER_SELF()    NULL
#define FIBER_SWITCH(f) ((void)(f))
#endif

#define NOINLINE   __attribute__((noinline, noclone))
#define STACK_SIZE (64 * 1024)

enum kind { KIND_UC, KIND_ASM_FULL, KIND_ASM_SIMPLE };

struct co {
    enum kind kind;
    ucontext_t uc;  /* KIND_UC: its saved context */
    void **sp;      /* KIND_ASM_*: its saved stack pointer (see victim-coro-switch.S) */
    void *stack;    /* STACK_SIZE bytes, mmap'd */
    gmr_coro *g;
    void *fiber;    /* under TSan: its fiber */
};

/* Each thread's scheduler: the context coroutines switch back to. */
struct sched {
    ucontext_t uc;
    void **sp;
    struct co *current;
    void *fiber; /* under TSan: the thread's own fiber */
};
static _Thread_local struct sched sched;

void victim_switch(void ***save_sp, void **load_sp);
void victim_coro_start(void);

/* Keeps the callers' frames (no tail calls); per thread, so the writes do not race. */
static _Thread_local volatile unsigned long sink;
static atomic_bool churn_stop;
static atomic_ulong churned;

/* Back to this thread's scheduler. */
static NOINLINE void co_yield(void)
{
    struct co *self = sched.current;
    FIBER_SWITCH(sched.fiber);
    if (self->kind == KIND_UC)
        swapcontext(&self->uc, &sched.uc); /* AT:co_yield_uc */
    else
        victim_switch(&self->sp, sched.sp); /* AT:co_yield_asm */
    sink++;
}

/* Tells libgmr where @co stopped; called once the switch away from it completed. */
static void mark_suspended(struct co *co)
{
    if (co->kind == KIND_UC) {
        gmr_coro_suspended(co->g, &co->uc);
        return;
    }
    /* From the saved stack pointer up: r15, r14, r13, r12, rbx, rbp, return address. */
    void **s = co->sp;
    uintptr_t sp = (uintptr_t)(s + 7), pc = (uintptr_t)s[6], fp = (uintptr_t)s[5];
    if (co->kind == KIND_ASM_SIMPLE) {
        gmr_coro_suspended_regs(co->g, sp, pc, fp);
        return;
    }
    struct gmr_coro_regs r = {
        .size = sizeof(r),
        .sp = sp,
        .pc = pc,
        .fp = fp,
        .n_callee_saved = 5, /* rbx, r12, r13, r14, r15 */
        .callee_saved = {(uintptr_t)s[4], (uintptr_t)s[3], (uintptr_t)s[2], (uintptr_t)s[1],
                         (uintptr_t)s[0]},
    };
    gmr_coro_suspended_regs_full(co->g, &r);
}

/* Prepares @co to start at @entry on @stack (STACK_SIZE bytes) and registers it. */
static void co_init(struct co *co, enum kind kind, const char *name, void (*entry)(void),
                    void *stack)
{
    memset(co, 0, sizeof(*co));
    co->kind = kind;
    co->stack = stack;
    co->fiber = FIBER_NEW();
    if (kind == KIND_UC) {
        getcontext(&co->uc);
        co->uc.uc_stack.ss_sp = stack;
        co->uc.uc_stack.ss_size = STACK_SIZE;
        makecontext(&co->uc, entry, 0);
    } else {
        /* So that victim_coro_start runs with rsp 16-byte aligned, as a call needs. */
        uintptr_t top = ((uintptr_t)stack + STACK_SIZE - 16) & ~(uintptr_t)15;
        void **s = (void **)(top - 7 * sizeof(void *));
        memset(s, 0, 7 * sizeof(void *));
        s[3] = (void *)entry; /* r12: victim_coro_start calls it */
        s[6] = (void *)victim_coro_start;
        co->sp = s;
    }
    if (gmr_coro_register(name, 0, stack, STACK_SIZE, &co->g) < 0)
        abort();
}

/* Runs @co until it yields. */
static void co_resume(struct co *co)
{
    sched.current = co;
    gmr_coro_running(co->g);
    if (!sched.fiber)
        sched.fiber = FIBER_SELF();
    FIBER_SWITCH(co->fiber);
    if (co->kind == KIND_UC)
        swapcontext(&sched.uc, &co->uc);
    else
        victim_switch(&sched.sp, co->sp);
    sched.current = NULL;
    mark_suspended(co);
}

static void *new_stack(void)
{
    void *p = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        abort();
    return p;
}

/* ---- parked coroutines ----
 * Each body adds its own constant: identical bodies would be folded into one function. */
static NOINLINE void alpha_3(void) { co_yield(); /* AT:alpha_3 */ sink += 13; }
static NOINLINE void alpha_2(void) { alpha_3(); /* AT:alpha_2 */ sink += 12; }
static NOINLINE void alpha_1(void) { alpha_2(); /* AT:alpha_1 */ sink += 11; }
static NOINLINE void alpha_entry(void) { for (;;) { alpha_1(); sink += 10; } }

static NOINLINE void beta_2(void) { co_yield(); /* AT:beta_2 */ sink += 22; }
static NOINLINE void beta_1(void) { beta_2(); /* AT:beta_1 */ sink += 21; }
static NOINLINE void beta_entry(void) { for (;;) { beta_1(); sink += 20; } }

static NOINLINE void gamma_3(void) { co_yield(); /* AT:gamma_3 */ sink += 33; }
static NOINLINE void gamma_2(void) { gamma_3(); /* AT:gamma_2 */ sink += 32; }
static NOINLINE void gamma_1(void) { gamma_2(); /* AT:gamma_1 */ sink += 31; }
static NOINLINE void gamma_entry(void) { for (;;) { gamma_1(); sink += 30; } }

static NOINLINE void delta_2(void) { co_yield(); /* AT:delta_2 */ sink += 42; }
static NOINLINE void delta_1(void) { delta_2(); /* AT:delta_1 */ sink += 41; }
static NOINLINE void delta_entry(void) { for (;;) { delta_1(); sink += 40; } }

static NOINLINE void fresh_entry(void) { for (;;) { co_yield(); sink += 50; } }

/* uc-runner: writes a report while it runs. */
static int runner_result;
static NOINLINE void runner_2(void)
{
    runner_result = gmr_write_report(1, GMR_FORMAT_JSON); /* AT:runner_2 */
    sink += 62;
}
static NOINLINE void runner_1(void) { runner_2(); /* AT:runner_1 */ sink += 61; }
static NOINLINE void runner_entry(void)
{
    for (;;) {
        runner_1();
        co_yield();
    }
}

/* ---- churn ---- */

/* Never called: destroyed stacks are filled with its address, so a report that showed a
 * stale stack would show this function. */
NOINLINE void garbage_marker(void);
NOINLINE void garbage_marker(void)
{
    sink += 99;
}

static NOINLINE void churn_3(void) { co_yield(); sink += 73; }
static NOINLINE void churn_2(unsigned i) { if (i & 1) churn_3(); else co_yield(); sink += 72; }
static NOINLINE void churn_1(unsigned i) { if (i & 2) churn_2(i); else co_yield(); sink += 71; }
static NOINLINE void churn_entry(void)
{
    for (unsigned i = 0;; i++) {
        churn_1(i);
        sink++;
    }
}

#define CHURN_SLOTS 4

static void *churn_main(void *arg)
{
    (void)arg;
    struct co *cos = calloc(CHURN_SLOTS, sizeof(*cos));
    bool live[CHURN_SLOTS] = {false};
    void *spare[CHURN_SLOTS];
    int n_spare = 0;
    unsigned seed = 12345, created = 0;
    if (!cos)
        abort();
    while (!atomic_load_explicit(&churn_stop, memory_order_relaxed)) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = seed >> 8;
        int slot = (int)(r % CHURN_SLOTS);
        struct co *co = &cos[slot];
        if (!live[slot]) {
            char name[32];
            snprintf(name, sizeof(name), "churn-%u", created++);
            enum kind kind = (enum kind)((r >> 4) % 3);
            co_init(co, kind, name, churn_entry, n_spare ? spare[--n_spare] : new_stack());
            live[slot] = true;
            if (created == CHURN_SLOTS) {
                printf("CHURNING\n");
                fflush(stdout);
            }
        } else if ((r >> 4) % 8 == 0) {
            /* Destroy: unregister first, then ruin the stack, then reuse or unmap it. */
            gmr_coro_unregister(co->g);
            FIBER_FREE(co->fiber);
            void **w = co->stack;
            for (size_t i = 0; i < STACK_SIZE / sizeof(void *); i++)
                w[i] = (void *)((uintptr_t)garbage_marker + 1);
            if ((r >> 8) % 2 == 0 && n_spare < CHURN_SLOTS)
                spare[n_spare++] = co->stack;
            else
                munmap(co->stack, STACK_SIZE);
            live[slot] = false;
            atomic_fetch_add(&churned, 1);
        } else {
            co_resume(co);
        }
    }
    for (int i = 0; i < CHURN_SLOTS; i++) {
        if (live[i]) {
            gmr_coro_unregister(cos[i].g);
            FIBER_FREE(cos[i].fiber);
            munmap(cos[i].stack, STACK_SIZE);
        }
    }
    while (n_spare > 0)
        munmap(spare[--n_spare], STACK_SIZE);
    free(cos);
    return NULL;
}

int main(void)
{
    static const struct gmr_version version = {"libgmr tests", "victim-coro", "1.0"};
    gmr_set_builtin_sections(GMR_SECTION_THREADS | GMR_SECTION_GREEN_THREADS);
    if (gmr_setup_autorun(&version, NULL, NULL) < 0)
        return 1;

    static struct co alpha, beta, gamma_, delta, fresh, runner;
    co_init(&alpha, KIND_UC, "uc-alpha", alpha_entry, new_stack());
    co_init(&beta, KIND_UC, "uc-beta", beta_entry, new_stack());
    co_init(&gamma_, KIND_ASM_FULL, "asm-gamma", gamma_entry, new_stack());
    co_init(&delta, KIND_ASM_SIMPLE, "asm-delta", delta_entry, new_stack());
    co_init(&fresh, KIND_UC, "fresh", fresh_entry, new_stack());
    co_init(&runner, KIND_UC, "uc-runner", runner_entry, new_stack());
    co_resume(&alpha);
    co_resume(&beta);
    co_resume(&gamma_);
    co_resume(&delta);
    co_resume(&alpha); /* a second switch lands in the same place */
    co_resume(&gamma_);
    printf("READY\n");
    fflush(stdout);

    pthread_t churner;
    bool churning = false;
    char line[128];
    while (fgets(line, sizeof(line), stdin)) {
        int n;
        if (strcmp(line, "report text\n") == 0 || strcmp(line, "report json\n") == 0) {
            fflush(stdout);
            int r = gmr_write_report(1, line[7] == 'j' ? GMR_FORMAT_JSON : GMR_FORMAT_TEXT);
            printf("DONE %d\n", r);
        } else if (sscanf(line, "reports %d", &n) == 1) {
            int r = 0;
            fflush(stdout);
            for (int i = 0; i < n && r == 0; i++)
                r = gmr_write_report(1, GMR_FORMAT_JSON);
            printf("DONE %d %d\n", n, r);
        } else if (strcmp(line, "inside\n") == 0) {
            fflush(stdout);
            co_resume(&runner);
            printf("DONE %d\n", runner_result);
        } else if (strcmp(line, "churn on\n") == 0 && !churning) {
            atomic_store(&churn_stop, false);
            churning = pthread_create(&churner, NULL, churn_main, NULL) == 0;
        } else if (strcmp(line, "churn off\n") == 0 && churning) {
            atomic_store(&churn_stop, true);
            pthread_join(churner, NULL);
            churning = false;
            printf("CHURNED %lu\n", atomic_load(&churned));
        }
        fflush(stdout);
    }
    if (churning) {
        atomic_store(&churn_stop, true);
        pthread_join(churner, NULL);
    }
    struct co *all[] = {&alpha, &beta, &gamma_, &delta, &fresh, &runner};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        gmr_coro_unregister(all[i]->g);
        munmap(all[i]->stack, STACK_SIZE);
    }
    gmr_shutdown();
    return 0;
}
