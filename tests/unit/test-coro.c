/*
 * Unit tests of the coroutine registry and the Green Threads section: registration, state
 * changes, pool exhaustion and allocation failures; the section built for coroutines of this
 * very process (ucontext coroutines suspended a few calls deep, the same context given as
 * saved registers, a context that never ran); coroutines switched, unregistered or freed
 * while the section reads them; the bound on coroutines shown; the text view.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <cmocka.h>

#include <gmr/gmr.h>

#include "capture/coro.h"
#include "render/render.h"
#include "symbolize/symbolize.h"
#include "util/alloc.h"
#include "util/buf.h"

#define NOINLINE   __attribute__((noinline, noclone))
#define STACK_SIZE (64 * 1024)

/* ---- a tiny ucontext scheduler ---- */

struct co {
    ucontext_t ctx;
    void *stack; /* mmap'd STACK_SIZE bytes */
    gmr_coro *g;
};

static ucontext_t main_ctx;
static struct co *current;
static volatile unsigned long sink;

static NOINLINE void unit_yield(void)
{
    struct co *self = current;
    swapcontext(&self->ctx, &main_ctx);
    sink++;
}
/* Each body adds its own constant: identical bodies would be folded into one function. */
static NOINLINE void unit_level_3(void)
{
    unit_yield();
    sink += 3;
}
static NOINLINE void unit_level_2(void)
{
    unit_level_3();
    sink += 2;
}
static NOINLINE void unit_level_1(void)
{
    unit_level_2();
    sink += 1;
}
static NOINLINE void unit_entry(void)
{
    for (;;) {
        unit_level_1();
        sink++;
    }
}

static void co_make(struct co *c, const char *name)
{
    c->stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(c->stack != MAP_FAILED);
    assert_int_equal(getcontext(&c->ctx), 0);
    c->ctx.uc_stack.ss_sp = c->stack;
    c->ctx.uc_stack.ss_size = STACK_SIZE;
    c->ctx.uc_link = &main_ctx;
    makecontext(&c->ctx, unit_entry, 0);
    assert_int_equal(gmr_coro_register(name, 0, c->stack, STACK_SIZE, &c->g), 0);
}

/* Runs @c until it yields, telling libgmr as a scheduler must. */
static void co_resume(struct co *c)
{
    current = c;
    gmr_coro_running(c->g);
    swapcontext(&main_ctx, &c->ctx);
    gmr_coro_suspended(c->g, &c->ctx);
    current = NULL;
}

static void co_free(struct co *c)
{
    gmr_coro_unregister(c->g);
    munmap(c->stack, STACK_SIZE);
}

/* ---- helpers ---- */

static json_t *build_section(void)
{
    json_t *sec = json_object();
    assert_non_null(sec);
    assert_int_equal(gmr__coro_section(sec), 0);
    return sec;
}

/* The coroutine with @id in @sec, or NULL. */
static json_t *find(json_t *sec, uint64_t id)
{
    size_t i;
    json_t *co;
    json_array_foreach(json_object_get(sec, "coroutines"), i, co)
    {
        if ((uint64_t)json_integer_value(json_object_get(co, "id")) == id)
            return co;
    }
    return NULL;
}

static const char *str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static const char *frame_fn(const json_t *co, size_t i)
{
    return str(json_array_get(json_object_get(co, "frames"), i), "function");
}

static uint64_t id_of(gmr_coro *g)
{
    return atomic_load(&g->id);
}

/*
 * unit_yield, unit_level_3..1, unit_entry, then glibc's __start_context, and nothing else
 * (under a sanitizer, its swapcontext() interceptor may come first: it is the caller of the
 * real one).
 */
static void check_parked_stack(const json_t *co)
{
    static const char *const want[] = {"unit_yield",   "unit_level_3", "unit_level_2",
                                       "unit_level_1", "unit_entry",   "__start_context"};
    const json_t *frames = json_object_get(co, "frames");
    size_t skip = 0;
    const char *first = frame_fn(co, 0);
    if (first && strstr(first, "interceptor") && strstr(first, "swapcontext"))
        skip = 1;
    assert_int_equal(json_array_size(frames), 6 + skip);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(frame_fn(co, i + skip), want[i]);
    for (size_t i = 0; i < 5; i++) {
        const json_t *f = json_array_get(frames, i + skip);
        assert_non_null(strstr(str(f, "file"), "test-coro.c"));
        assert_true(json_integer_value(json_object_get(f, "line")) > 0);
    }
    assert_null(json_object_get(co, "unwind_error"));
    assert_null(json_object_get(co, "unavailable"));
}

/* ---- registry ---- */

/* First, while the pool is still empty: the first registration allocates its first slab. */
static void test_coro_register_allocation_failures(void **state)
{
    (void)state;
    assert_int_equal(gmr__coro_count(), 0);
    gmr_coro *g = NULL;
    int r = -ENOMEM;
    long n;
    for (n = 0; n < 100 && r == -ENOMEM; n++) {
        gmr__alloc_fail_after(n);
        r = gmr_coro_register("x", 0, NULL, 0, &g);
        gmr__alloc_fail_after(-1);
        assert_true(r == 0 || r == -ENOMEM);
        if (r < 0) {
            assert_int_equal(gmr__coro_count(), 0);
            assert_null(g);
        }
    }
    assert_int_equal(r, 0);
    assert_true(n >= 2);
    assert_int_equal(gmr__coro_count(), 1);
    gmr_coro_unregister(g);
    assert_int_equal(gmr__coro_count(), 0);
}

static void test_coro_register_bad_arguments(void **state)
{
    (void)state;
    gmr_coro *g = NULL;
    char stack[64];
    assert_int_equal(gmr_coro_register("x", 0, NULL, 0, NULL), -EINVAL);
    assert_int_equal(gmr_coro_register("x", 0, NULL, 4096, &g), -EINVAL);
    assert_null(g);
    /* NULL handles are ignored by every call. */
    gmr_coro_running(NULL);
    gmr_coro_suspended(NULL, stack);
    gmr_coro_suspended_regs(NULL, 1, 2, 3);
    gmr_coro_suspended_regs_full(NULL, NULL);
    gmr_coro_unregister(NULL);
    assert_int_equal(gmr__coro_count(), 0);
}

static void test_coro_register_unregister_reuses_handles(void **state)
{
    (void)state;
    gmr_coro *a, *b, *c;
    char stack[256];
    assert_int_equal(gmr_coro_register("alpha", 0, stack, sizeof(stack), &a), 0);
    assert_int_equal(gmr_coro_register(NULL, 77, NULL, 0, &b), 0);
    assert_int_equal(gmr__coro_count(), 2);
    assert_int_equal(id_of(b), 77);
    assert_true(id_of(a) > 0);

    json_t *sec = build_section();
    json_t *ca = find(sec, id_of(a)), *cb = find(sec, 77);
    assert_non_null(ca);
    assert_non_null(cb);
    assert_string_equal(str(ca, "name"), "alpha");
    assert_string_equal(str(ca, "state"), "new");
    char base[32];
    snprintf(base, sizeof(base), "0x%lx", (unsigned long)(uintptr_t)stack);
    assert_string_equal(str(ca, "stack_base"), base);
    assert_int_equal(json_integer_value(json_object_get(ca, "stack_size")), sizeof(stack));
    assert_null(json_object_get(cb, "name"));
    assert_null(json_object_get(cb, "stack_base"));
    json_t *stats = json_object_get(sec, "stats");
    assert_int_equal(json_integer_value(json_object_get(stats, "registered")), 2);
    assert_int_equal(json_integer_value(json_object_get(stats, "new")), 2);
    json_decref(sec);

    uint64_t seq = atomic_load(&b->seq);
    gmr_coro_unregister(b);
    assert_int_equal(gmr__coro_count(), 1);
    /* The free list is last in, first out: the handle comes back, its counter moved on. */
    assert_int_equal(gmr_coro_register("gamma", 0, NULL, 0, &c), 0);
    assert_ptr_equal(c, b);
    assert_true(atomic_load(&c->seq) > seq + 2);
    assert_true(id_of(c) > id_of(a));

    sec = build_section();
    assert_null(find(sec, 77));
    assert_string_equal(str(find(sec, id_of(c)), "name"), "gamma");
    json_decref(sec);
    gmr_coro_unregister(a);
    gmr_coro_unregister(c);
    assert_int_equal(gmr__coro_count(), 0);
}

static void test_coro_name_is_cut(void **state)
{
    (void)state;
    char name[100];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    gmr_coro *g;
    assert_int_equal(gmr_coro_register(name, 0, NULL, 0, &g), 0);
    json_t *sec = build_section();
    assert_int_equal(strlen(str(find(sec, id_of(g)), "name")), GMR_CORO_NAME_MAX);
    json_decref(sec);
    gmr_coro_unregister(g);
}

static void test_coro_pool_exhaustion(void **state)
{
    (void)state;
    enum { N = 2500 }; /* more than two slabs */
    gmr_coro **g = calloc(N + 1, sizeof(*g));
    assert_non_null(g);
    gmr__coro_set_limit(N);
    for (int i = 0; i < N; i++)
        assert_int_equal(gmr_coro_register("many", 0, NULL, 0, &g[i]), 0);
    assert_int_equal(gmr_coro_register("one too many", 0, NULL, 0, &g[N]), -ENOSPC);
    assert_int_equal(gmr__coro_count(), N);
    /* All distinct. */
    for (int i = 1; i < N; i++)
        assert_ptr_not_equal(g[i], g[i - 1]);
    gmr_coro_unregister(g[17]);
    assert_int_equal(gmr_coro_register("again", 0, NULL, 0, &g[17]), 0);
    for (int i = 0; i < N; i++)
        gmr_coro_unregister(g[i]);
    gmr__coro_set_limit(0);
    assert_int_equal(gmr__coro_count(), 0);
    free(g);
}

static void test_coro_state_changes(void **state)
{
    (void)state;
    gmr_coro *g;
    assert_int_equal(gmr_coro_register("states", 0, NULL, 0, &g), 0);

    gmr_coro_running(g);
    json_t *sec = build_section();
    json_t *co = find(sec, id_of(g));
    assert_string_equal(str(co, "state"), "running");
    assert_int_equal(json_integer_value(json_object_get(co, "tid")), syscall(SYS_gettid));
    assert_non_null(str(co, "thread_name"));
    assert_null(json_object_get(co, "frames"));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(sec, "stats"), "running")),
                     1);
    json_decref(sec);

    gmr_coro_suspended(g, NULL);
    sec = build_section();
    co = find(sec, id_of(g));
    assert_string_equal(str(co, "state"), "suspended");
    assert_string_equal(str(co, "context"), "ucontext");
    assert_string_equal(str(co, "unavailable"), "suspended without a saved context");
    assert_int_equal(json_integer_value(json_object_get(co, "switches")), 1);
    json_decref(sec);

    /* A saved stack pointer into unmapped memory: no stack, no crash. */
    void *hole = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    gmr_coro_suspended_regs(g, (uintptr_t)hole + 64, (uintptr_t)&unit_level_1 + 4, 0);
    sec = build_section();
    co = find(sec, id_of(g));
    assert_string_equal(str(co, "context"), "registers");
    assert_non_null(strstr(str(co, "unavailable"), "is not readable"));
    assert_int_equal(json_integer_value(json_object_get(co, "switches")), 2);
    json_decref(sec);
    munmap(hole, 4096);

    /* A struct from an older, shorter header is accepted; a too short one is ignored. */
    struct gmr_coro_regs r = {.size = offsetof(struct gmr_coro_regs, callee_saved),
                              .sp = 8,
                              .pc = 16,
                              .fp = 24,
                              .n_callee_saved = 5};
    gmr_coro_suspended_regs_full(g, &r);
    assert_int_equal(atomic_load(&g->n_callee), 0);
    assert_int_equal(atomic_load(&g->sp), 8);
    r.size = offsetof(struct gmr_coro_regs, pc);
    r.sp = 800;
    gmr_coro_suspended_regs_full(g, &r);
    assert_int_equal(atomic_load(&g->sp), 8);
    r.size = sizeof(r);
    r.n_callee_saved = 99;
    gmr_coro_suspended_regs_full(g, &r);
    assert_int_equal(atomic_load(&g->n_callee), GMR_CORO_CALLEE_SAVED_MAX);
    assert_int_equal(atomic_load(&g->sp), 800);
    gmr_coro_unregister(g);
}

/* ---- the section over real coroutines ---- */

static void test_coro_section_unwinds_suspended_ucontext(void **state)
{
    (void)state;
    struct co a, b;
    co_make(&a, "unit-a");
    co_make(&b, "unit-b");
    co_resume(&a);
    co_resume(&b);
    co_resume(&a); /* a second switch: still parked at the same place */

    json_t *sec = build_section();
    json_t *ca = find(sec, id_of(a.g));
    assert_non_null(ca);
    assert_string_equal(str(ca, "state"), "suspended");
    assert_string_equal(str(ca, "context"), "ucontext");
    assert_int_equal(json_integer_value(json_object_get(ca, "switches")), 2);
    check_parked_stack(ca);
    check_parked_stack(find(sec, id_of(b.g)));
    json_int_t used = json_integer_value(json_object_get(ca, "stack_used"));
    assert_true(used > 0 && used < 4096);
#if defined(__x86_64__)
    /* The first frame is the return address into unit_yield, not the call's own address. */
    const char *pc = str(json_array_get(json_object_get(ca, "frames"), 0), "pc");
    char want[32];
    snprintf(want, sizeof(want), "0x%llx", (unsigned long long)a.ctx.uc_mcontext.gregs[REG_RIP]);
    assert_string_equal(pc, want);
#endif
    json_decref(sec);
    co_free(&a);
    co_free(&b);
}

#if defined(__x86_64__)
static void test_coro_section_unwinds_saved_registers(void **state)
{
    (void)state;
    struct co a;
    co_make(&a, "unit-regs");
    co_resume(&a);
    const greg_t *gr = a.ctx.uc_mcontext.gregs;
    /* What a hand-written switcher saves: SP, the return address, the frame pointer. */
    gmr_coro_suspended_regs(a.g, (uintptr_t)gr[REG_RSP], (uintptr_t)gr[REG_RIP],
                            (uintptr_t)gr[REG_RBP]);
    json_t *sec = build_section();
    json_t *co = find(sec, id_of(a.g));
    assert_string_equal(str(co, "context"), "registers");
    check_parked_stack(co);
    json_decref(sec);

    struct gmr_coro_regs r = {
        .size = sizeof(r),
        .sp = (uintptr_t)gr[REG_RSP],
        .pc = (uintptr_t)gr[REG_RIP],
        .fp = (uintptr_t)gr[REG_RBP],
        .n_callee_saved = 5,
        .callee_saved = {(uintptr_t)gr[REG_RBX], (uintptr_t)gr[REG_R12], (uintptr_t)gr[REG_R13],
                         (uintptr_t)gr[REG_R14], (uintptr_t)gr[REG_R15]},
    };
    gmr_coro_suspended_regs_full(a.g, &r);
    sec = build_section();
    check_parked_stack(find(sec, id_of(a.g)));
    json_decref(sec);

    /* GMR_CORO_PC_EXACT: the same place given as the exact resume address, pc - 1 here. */
    r.flags = GMR_CORO_PC_EXACT;
    r.pc -= 1;
    gmr_coro_suspended_regs_full(a.g, &r);
    sec = build_section();
    co = find(sec, id_of(a.g));
    check_parked_stack(co);
    json_decref(sec);
    co_free(&a);
}
#endif

static void test_coro_section_context_not_run_yet(void **state)
{
    (void)state;
    struct co a;
    co_make(&a, "unit-fresh");
    /* makecontext()'s context: the entry function's first instruction. */
    gmr_coro_suspended(a.g, &a.ctx);
    json_t *sec = build_section();
    json_t *co = find(sec, id_of(a.g));
    assert_string_equal(frame_fn(co, 0), "unit_entry");
    assert_string_equal(frame_fn(co, 1), "__start_context");
    assert_int_equal(json_array_size(json_object_get(co, "frames")), 2);
    assert_null(json_object_get(co, "unwind_error"));
    json_decref(sec);
    co_free(&a);
}

/* ---- changes while a report reads ---- */

static struct co *hooked;
static int hook_calls;

/* Resumes the coroutine the report is reading: the copy taken meanwhile must be discarded. */
static void hook_resume_once(struct gmr_coro *c)
{
    if (c != hooked->g)
        return;
    if (hook_calls++ == 0)
        co_resume(hooked);
}

static void hook_resume_always(struct gmr_coro *c)
{
    if (c != hooked->g)
        return;
    hook_calls++;
    co_resume(hooked);
}

/* Unregisters the coroutine and frees its stack: the report must leave it out. */
static void hook_free(struct gmr_coro *c)
{
    if (c != hooked->g)
        return;
    hook_calls++;
    co_free(hooked);
}

/* Marks it running: the report shows it running, without a stack. */
static void hook_running(struct gmr_coro *c)
{
    if (c != hooked->g)
        return;
    hook_calls++;
    gmr_coro_running(c);
}

static void test_coro_switched_while_read(void **state)
{
    (void)state;
    struct co a;
    co_make(&a, "unit-switched");
    co_resume(&a);
    hooked = &a;

    hook_calls = 0;
    gmr__coro_read_hook = hook_resume_once;
    json_t *sec = build_section();
    assert_int_equal(hook_calls, 2); /* read, discarded, read again */
    check_parked_stack(find(sec, id_of(a.g)));
    json_decref(sec);

    hook_calls = 0;
    gmr__coro_read_hook = hook_resume_always;
    sec = build_section();
    assert_int_equal(hook_calls, GMR_CORO_READ_ATTEMPTS);
    json_t *co = find(sec, id_of(a.g));
    assert_string_equal(str(co, "state"), "suspended");
    assert_non_null(strstr(str(co, "unavailable"), "changed state"));
    assert_null(json_object_get(co, "frames"));
    json_decref(sec);

    hook_calls = 0;
    gmr__coro_read_hook = hook_running;
    sec = build_section();
    co = find(sec, id_of(a.g));
    assert_string_equal(str(co, "state"), "running");
    assert_null(json_object_get(co, "frames"));
    assert_null(json_object_get(co, "unavailable"));
    json_decref(sec);

    gmr__coro_read_hook = NULL;
    co_free(&a);
}

static void test_coro_freed_while_read(void **state)
{
    (void)state;
    struct co a, b;
    co_make(&a, "unit-freed");
    co_make(&b, "unit-stays");
    co_resume(&a);
    co_resume(&b);
    uint64_t id_a = id_of(a.g);
    hooked = &a;
    hook_calls = 0;
    gmr__coro_read_hook = hook_free;
    json_t *sec = build_section();
    gmr__coro_read_hook = NULL;
    assert_int_equal(hook_calls, 1);
    assert_null(find(sec, id_a)); /* left out: no garbage stack */
    check_parked_stack(find(sec, id_of(b.g)));
    json_decref(sec);
    co_free(&b);
    assert_int_equal(gmr__coro_count(), 0);
}

/* ---- bounds and the text view ---- */

static void test_coro_section_is_bounded(void **state)
{
    (void)state;
    enum { N = GMR_CORO_SHOWN_MAX + 44 };
    gmr_coro *g[N];
    for (int i = 0; i < N; i++)
        assert_int_equal(gmr_coro_register("bounded", (uint64_t)(N - i), NULL, 0, &g[i]), 0);
    json_t *sec = build_section();
    json_t *list = json_object_get(sec, "coroutines");
    assert_int_equal(json_array_size(list), GMR_CORO_SHOWN_MAX);
    assert_int_equal(json_integer_value(json_object_get(sec, "coroutines_not_shown")), 44);
    /* Ordered by id. */
    for (size_t i = 0; i < GMR_CORO_SHOWN_MAX; i++)
        assert_int_equal(json_integer_value(json_object_get(json_array_get(list, i), "id")),
                         (json_int_t)i + 1);
    struct gmr__buf out = GMR_BUF_INIT;
    gmr__text_green_threads(&out, sec);
    assert_int_equal(gmr__buf_error(&out), 0);
    assert_non_null(strstr(out.data, "... 44 more coroutines not shown\n"));
    gmr__buf_done(&out);
    json_decref(sec);
    for (int i = 0; i < N; i++)
        gmr_coro_unregister(g[i]);
}

static void test_coro_text_view(void **state)
{
    (void)state;
    struct co a;
    co_make(&a, "unit-text");
    co_resume(&a);
    gmr_coro *fresh, *running;
    assert_int_equal(gmr_coro_register("fresh", 0, NULL, 0, &fresh), 0);
    assert_int_equal(gmr_coro_register("on-cpu", 0, NULL, 0, &running), 0);
    gmr_coro_running(running);

    json_t *sec = build_section();
    struct gmr__buf out = GMR_BUF_INIT;
    gmr__text_green_threads(&out, sec);
    assert_int_equal(gmr__buf_error(&out), 0);
    const char *t = out.data;
    assert_non_null(strstr(t, "coroutines = 3 (1 running, 1 suspended, 1 new)\n"));
    char banner[128];
    snprintf(banner, sizeof(banner), "Green Thread #%llu (unit-text)",
             (unsigned long long)id_of(a.g));
    const char *block = strstr(t, banner);
    assert_non_null(block);
    assert_non_null(strstr(block, "\nstate = suspended (ucontext), switches = 1\n"));
    assert_non_null(strstr(block, "stack = 0x"));
    assert_non_null(strstr(block, ", 64 KiB, "));
    assert_non_null(strstr(block, "\n  #0   0x"));
    assert_non_null(strstr(block, " in unit_yield ("));
    assert_non_null(strstr(block, " in unit_level_3 ("));
    assert_non_null(strstr(t, "state = new, switches = 0\n"));
    char running_line[96];
    snprintf(running_line, sizeof(running_line), "state = running on Thread #%ld (",
             (long)syscall(SYS_gettid));
    assert_non_null(strstr(t, running_line));
    /* The banner is the Threads section's: 72 columns, "------" at both ends. */
    const char *line = block;
    while (line > t && line[-1] != '\n')
        line--;
    assert_int_equal(strchr(line, '\n') - line, 72);
    assert_memory_equal(line, "------", 6);

    /* The same text from the model after a JSON round trip. */
    char *json = json_dumps(sec, 0);
    json_t *back = json_loads(json, 0, NULL);
    struct gmr__buf out2 = GMR_BUF_INIT;
    gmr__text_green_threads(&out2, back);
    assert_string_equal(out.data, out2.data);
    free(json);
    json_decref(back);
    gmr__buf_done(&out2);
    gmr__buf_done(&out);
    json_decref(sec);
    gmr_coro_unregister(fresh);
    gmr_coro_unregister(running);
    co_free(&a);
}

static void test_coro_section_allocation_failures(void **state)
{
    (void)state;
    struct co a;
    co_make(&a, "unit-alloc");
    co_resume(&a);
    gmr_coro *fresh;
    assert_int_equal(gmr_coro_register("fresh", 0, NULL, 0, &fresh), 0);
    json_set_alloc_funcs(gmr__malloc, gmr__free);
    gmr__sym_free(); /* the first steps fail inside the session's creation */
    int r = -ENOMEM;
    long n;
    for (n = 0; n < 100000 && r == -ENOMEM; n++) {
        json_t *sec = json_object();
        gmr__alloc_fail_after(n);
        r = sec ? gmr__coro_section(sec) : -ENOMEM;
        gmr__alloc_fail_after(-1);
        assert_true(r == 0 || r == -ENOMEM);
        if (r == 0)
            check_parked_stack(find(sec, id_of(a.g)));
        json_decref(sec);
    }
    assert_int_equal(r, 0);
    assert_true(n > 5);
    json_set_alloc_funcs(malloc, free);
    gmr_coro_unregister(fresh);
    co_free(&a);
}

static int teardown_group(void **state)
{
    (void)state;
    gmr__sym_free();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coro_register_allocation_failures),
        cmocka_unit_test(test_coro_register_bad_arguments),
        cmocka_unit_test(test_coro_register_unregister_reuses_handles),
        cmocka_unit_test(test_coro_name_is_cut),
        cmocka_unit_test(test_coro_pool_exhaustion),
        cmocka_unit_test(test_coro_state_changes),
        cmocka_unit_test(test_coro_section_unwinds_suspended_ucontext),
#if defined(__x86_64__)
        cmocka_unit_test(test_coro_section_unwinds_saved_registers),
#endif
        cmocka_unit_test(test_coro_section_context_not_run_yet),
        cmocka_unit_test(test_coro_switched_while_read),
        cmocka_unit_test(test_coro_freed_while_read),
        cmocka_unit_test(test_coro_section_is_bounded),
        cmocka_unit_test(test_coro_text_view),
        cmocka_unit_test(test_coro_section_allocation_failures),
    };
    return cmocka_run_group_tests_name("coro", tests, NULL, teardown_group);
}
