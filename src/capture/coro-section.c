/*
 * The Green Threads section: every registered coroutine with its state; for a suspended one
 * its stack, unwound from the saved context with the Threads section's unwinder and
 * symbolized the same way.
 *
 * A suspended coroutine belongs to the application, which may resume, unregister or free it
 * at any moment.  So its saved context and stack are copied with reads that cannot fault
 * (gmr__as_read_memory()), between two reads of the handle's change counter: when the counter
 * moved, the copy is discarded and taken again (a few times, then the coroutine is shown
 * without a stack).  The walk then reads only the copy, never live memory, so what it finds
 * is what the coroutine's stack held while it was suspended.
 *
 * Context: reporter thread, or caller context when the library is not set up.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "capture/capture.h"
#include "capture/coro.h"
#include "capture/unwind.h"
#include "render/render.h"
#include "symbolize/symbolize.h"
#include "util/alloc.h"
#include "util/file.h"
#include "util/macro.h"

void (*gmr__coro_read_hook)(struct gmr_coro *c);

/* Times a handle is re-read while its owner is between the two halves of a change. */
#define META_TRIES 64

/* One consistent state of a handle. */
struct meta {
    uint64_t seq;
    uint32_t state;
    int32_t tid;
    uint64_t switches;
    uint64_t id;
    uintptr_t uc, sp, pc, fp;
    uint32_t flags;
    uint32_t n_callee;
    uintptr_t callee[GMR_CORO_CALLEE_SAVED_MAX];
    uintptr_t stack_lo;
    uint64_t stack_size;
    char name[GMR_CORO_NAME_MAX + 1];
};

/* A registered coroutine found by the enumeration. */
struct found {
    uint64_t id;
    struct gmr_coro *c;
};

/* What one section build uses; heap-allocated (the buffers are large). */
struct build {
    struct gmr__sym *sym; /* NULL: no unwinder */
    unsigned char *stack; /* GMR_CORO_STACK_READ_MAX bytes */
    size_t stack_len;     /* bytes of @stack read for the current coroutine */
    bool stack_cut;       /* the stack goes on above what was read */
    ucontext_t uc;        /* the saved context's registers, copied */
    struct gmr__unwind_result res;
    uint64_t unwind_ns;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Reads @c between two equal even values of its counter.  Return: true on success. */
static bool read_meta(struct gmr_coro *c, struct meta *m)
{
    for (int tries = 0; tries < META_TRIES; tries++) {
        uint64_t s = atomic_load_explicit(&c->seq, memory_order_acquire);
        if (s & 1) {
            /* The owner is inside a change (a few stores), or was preempted there. */
            if (tries >= 8)
                sched_yield();
            continue;
        }
        m->state = atomic_load_explicit(&c->state, memory_order_relaxed);
        m->tid = atomic_load_explicit(&c->tid, memory_order_relaxed);
        m->switches = atomic_load_explicit(&c->switches, memory_order_relaxed);
        m->id = atomic_load_explicit(&c->id, memory_order_relaxed);
        m->uc = atomic_load_explicit(&c->uc, memory_order_relaxed);
        m->sp = atomic_load_explicit(&c->sp, memory_order_relaxed);
        m->pc = atomic_load_explicit(&c->pc, memory_order_relaxed);
        m->fp = atomic_load_explicit(&c->fp, memory_order_relaxed);
        m->flags = atomic_load_explicit(&c->flags, memory_order_relaxed);
        m->n_callee = atomic_load_explicit(&c->n_callee, memory_order_relaxed);
        for (unsigned i = 0; i < GMR_CORO_CALLEE_SAVED_MAX; i++)
            m->callee[i] = atomic_load_explicit(&c->callee[i], memory_order_relaxed);
        m->stack_lo = atomic_load_explicit(&c->stack_lo, memory_order_relaxed);
        m->stack_size = atomic_load_explicit(&c->stack_size, memory_order_relaxed);
        uint64_t words[GMR_CORO_NAME_WORDS];
        for (unsigned i = 0; i < GMR_CORO_NAME_WORDS; i++)
            words[i] = atomic_load_explicit(&c->name[i], memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&c->seq, memory_order_relaxed) != s)
            continue;
        m->seq = s;
        memcpy(m->name, words, sizeof(words));
        m->name[GMR_CORO_NAME_MAX] = '\0';
        if (m->n_callee > GMR_CORO_CALLEE_SAVED_MAX)
            m->n_callee = GMR_CORO_CALLEE_SAVED_MAX;
        return true;
    }
    return false;
}

/* True when @c has not changed since @m was read (the copies made since are that state's). */
static bool unchanged(struct gmr_coro *c, const struct meta *m)
{
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(&c->seq, memory_order_relaxed) == m->seq;
}

static bool is_suspended(uint32_t state)
{
    return state == GMR_CORO_SUSPENDED_UC || state == GMR_CORO_SUSPENDED_REGS;
}

static int set_str(json_t *obj, const char *key, const char *s)
{
    return gmr__json_set_str(obj, key, s);
}

static int set_int(json_t *obj, const char *key, json_int_t v)
{
    return json_object_set_new(obj, key, json_integer(v));
}

static int set_hex(json_t *obj, const char *key, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
    return set_str(obj, key, buf);
}

/*
 * The registers of a suspended coroutine, from its ucontext_t (copied into @b->uc) or the
 * values its switcher gave.  *@return_address tells whether @regs->pc is a return address.
 * Return: NULL, or why there is no context to unwind from (into @why).
 */
static const char *get_regs(struct build *b, const struct meta *m, struct gmr__regs *regs,
                            bool *return_address, char *why, size_t size)
{
    memset(regs, 0, sizeof(*regs));
    if (m->state == GMR_CORO_SUSPENDED_UC) {
        if (!m->uc)
            return "suspended without a saved context";
        size_t need = GMR_REGS_UCONTEXT_BYTES;
        if (gmr__as_read_memory(m->uc, &b->uc, need) != need) {
            snprintf(why, size, "its saved context at 0x%" PRIxPTR " is not readable", m->uc);
            return why;
        }
        gmr__regs_from_ucontext(regs->r, &regs->sp, &regs->pc, &b->uc);
        regs->full = true;
        /* swapcontext() saves the return address into its caller. */
        *return_address = true;
        return NULL;
    }
    regs->sp = m->sp;
    regs->pc = m->pc;
    regs->fp = m->fp;
    *return_address = !(m->flags & GMR_CORO_PC_EXACT);
    if (m->n_callee == 0) {
        regs->have_fp = m->fp != 0;
        return NULL;
    }
    static const int callee_dwarf[] = GMR_REGS_CALLEE_SAVED_DWARF;
    regs->full = true;
    regs->r[GMR_REGS_SP_DWARF] = m->sp;
    regs->r[GMR_REGS_FP_DWARF] = m->fp;
    if (GMR_REGS_PC_DWARF >= 0)
        regs->r[GMR_REGS_PC_DWARF] = m->pc;
    for (size_t i = 0; i < m->n_callee && i < GMR_ELEMENTSOF(callee_dwarf); i++)
        regs->r[callee_dwarf[i]] = m->callee[i];
    return NULL;
}

/*
 * Copies the stack from @sp up to its top (or GMR_CORO_STACK_READ_MAX bytes) into @b->stack.
 * Return: NULL, or why the stack cannot be read (into @why).
 */
static const char *copy_stack(struct build *b, const struct meta *m, uint64_t sp, char *why,
                              size_t size)
{
    uint64_t want = GMR_CORO_STACK_READ_MAX;
    b->stack_cut = false;
    if (m->stack_size) {
        uint64_t lo = m->stack_lo, hi = lo + m->stack_size;
        if (sp < lo || sp > hi) {
            snprintf(why, size,
                     "its saved stack pointer 0x%" PRIx64 " is outside its stack 0x%" PRIx64
                     "-0x%" PRIx64,
                     sp, lo, hi);
            return why;
        }
        want = hi - sp;
        if (want > GMR_CORO_STACK_READ_MAX) {
            want = GMR_CORO_STACK_READ_MAX;
            b->stack_cut = true;
        }
    }
    b->stack_len = gmr__as_read_memory(sp, b->stack, (size_t)want);
    if (b->stack_len == 0 && want > 0) {
        snprintf(why, size, "its stack at 0x%" PRIx64 " is not readable", sp);
        return why;
    }
    if (!m->stack_size)
        b->stack_cut = b->stack_len == want;
    return NULL;
}

/*
 * True when @pc is the first instruction of a function: a context made by makecontext() that
 * has not run yet.  A CFI row starts there; a real return address starts one only after a
 * call that does not return at the very end of a function, where the byte before still
 * belongs to the caller.  The rare doubt left is settled with the symbol table (a linear
 * search in libdwfl, so only then).
 */
static bool is_function_entry(Dwfl *dwfl, uint64_t pc)
{
    uint64_t start, before;
    if (pc == 0 || !gmr__unwind_cfi_row(dwfl, pc, &start) || start != pc)
        return false;
    if (!gmr__unwind_cfi_row(dwfl, pc - 1, &before))
        return true;
    Dwfl_Module *mod = dwfl_addrmodule(dwfl, pc);
    GElf_Off off = 1;
    GElf_Sym sym;
    const char *name = mod ? dwfl_module_addrinfo(mod, pc, &off, &sym, NULL, NULL, NULL) : NULL;
    return name && off == 0;
}

/* Appends the walked frames, symbolized, to @obj (as the Threads section does). */
static int add_frames(struct build *b, json_t *obj)
{
    const struct gmr__unwind_result *res = &b->res;
    json_t *frames = json_array();
    if (!frames || json_object_set_new(obj, "frames", frames) < 0)
        return -ENOMEM;
    for (int i = 0; i < res->n; i++) {
        json_t *desc = gmr__sym_frames(b->sym, res->frames[i].pc, res->frames[i].activation);
        if (!desc)
            return -ENOMEM;
        size_t j;
        json_t *f;
        json_array_foreach(desc, j, f)
        {
            if (json_array_append(frames, f) < 0)
                return -ENOMEM;
        }
    }
    if (res->more > 0) {
        if (set_int(obj, "more_frames", res->more) < 0 ||
            json_object_set_new(obj, "more_frames_exact", json_boolean(!res->more_at_least)) < 0)
            return -ENOMEM;
    }
    if (!res->complete && !res->more_at_least) {
        char msg[192];
        if (b->stack_cut)
            snprintf(msg, sizeof(msg), "the stack goes on above the %d KiB read",
                     GMR_CORO_STACK_READ_MAX / 1024);
        else
            snprintf(msg, sizeof(msg), "%s", res->error[0] ? res->error : "unknown reason");
        if (set_str(obj, "unwind_error", msg) < 0)
            return -ENOMEM;
    }
    return 0;
}

/*
 * Walks the copied stack of a suspended coroutine and adds its frames.
 * Return: 0 or -ENOMEM.
 */
static int walk(struct build *b, json_t *obj, struct gmr__regs *regs, bool return_address)
{
    Dwfl *dwfl = gmr__sym_dwfl(b->sym);
    uint64_t pc = regs->pc;
    if (return_address && is_function_entry(dwfl, pc))
        return_address = false;
    if (return_address) {
        /*
         * The walk starts from a return address: unwind as if at the call instruction (the
         * unwinder treats its first frame as interrupted there), then show the frame as the
         * return address it is, symbolized at pc - 1 like every caller frame.
         */
        regs->pc = pc - 1;
        if (regs->full && GMR_REGS_PC_DWARF >= 0)
            regs->r[GMR_REGS_PC_DWARF] = pc - 1;
    }
    struct gmr__unwind_mem mem = {
        .addr = regs->sp, .data = b->stack, .len = b->stack_len, .no_live = true};
    uint64_t t0 = now_ns();
    int r = gmr__unwind(dwfl, (int)getpid(), regs, &mem, &b->res);
    b->unwind_ns += now_ns() - t0;
    if (r < 0)
        return set_str(obj, "unwind_error", b->res.error);
    if (return_address && b->res.n > 0) {
        b->res.frames[0].pc = pc;
        b->res.frames[0].activation = false;
    }
    return add_frames(b, obj);
}

/* The members every coroutine has: id, name, state and what goes with the state. */
static int add_meta(json_t *obj, const struct meta *m)
{
    static const char *const states[] = {"unregistered", "new", "running", "suspended",
                                         "suspended"};
    const char *state = m->state < GMR_ELEMENTSOF(states) ? states[m->state] : "unknown";
    if (set_int(obj, "id", (json_int_t)m->id) < 0 ||
        (m->name[0] && set_str(obj, "name", m->name) < 0) || set_str(obj, "state", state) < 0)
        return -ENOMEM;
    if (m->state == GMR_CORO_RUNNING) {
        char path[48], comm[64];
        if (set_int(obj, "tid", m->tid) < 0)
            return -ENOMEM;
        snprintf(path, sizeof(path), "/proc/self/task/%d/comm", (int)m->tid);
        if (m->tid > 0 && gmr__read_small(AT_FDCWD, path, comm, sizeof(comm)) > 0) {
            comm[strcspn(comm, "\n")] = '\0';
            if (set_str(obj, "thread_name", comm) < 0)
                return -ENOMEM;
        } else if (set_str(obj, "note", "the thread it was marked running on has exited") < 0) {
            return -ENOMEM;
        }
    }
    if (is_suspended(m->state) &&
        set_str(obj, "context", m->state == GMR_CORO_SUSPENDED_UC ? "ucontext" : "registers") < 0)
        return -ENOMEM;
    if (set_int(obj, "switches", (json_int_t)m->switches) < 0)
        return -ENOMEM;
    if (m->stack_size && (set_hex(obj, "stack_base", m->stack_lo) < 0 ||
                          set_int(obj, "stack_size", (json_int_t)m->stack_size) < 0))
        return -ENOMEM;
    return 0;
}

/*
 * Adds coroutine @c to @list, its stack walked when it is suspended.  A coroutine that was
 * unregistered meanwhile is left out.  Return: 1 (added), 0 (left out) or -ENOMEM.
 */
static int add_coro(struct build *b, json_t *list, struct gmr_coro *c)
{
    struct meta m;
    char why[192];
    const char *unavailable = NULL;
    struct gmr__regs regs;
    bool return_address = false, captured = false;
    int changes = 0;
    for (int attempt = 0; attempt < GMR_CORO_READ_ATTEMPTS; attempt++) {
        if (!read_meta(c, &m)) {
            changes++;
            continue;
        }
        if (m.state == GMR_CORO_FREE)
            return 0;
        unavailable = NULL;
        if (!is_suspended(m.state) || !b->sym)
            break;
        if (gmr__coro_read_hook)
            gmr__coro_read_hook(c);
        unavailable = get_regs(b, &m, &regs, &return_address, why, sizeof(why));
        if (!unavailable)
            unavailable = copy_stack(b, &m, regs.sp, why, sizeof(why));
        if (unchanged(c, &m)) {
            captured = !unavailable;
            break;
        }
        /* Resumed, re-suspended or unregistered while being copied: the copy is void. */
        changes++;
        unavailable = NULL;
    }
    if (changes == GMR_CORO_READ_ATTEMPTS) {
        if (!read_meta(c, &m))
            return 0;
        if (m.state == GMR_CORO_FREE)
            return 0;
        if (is_suspended(m.state)) {
            snprintf(why, sizeof(why), "it changed state %d times while being read", changes);
            unavailable = why;
        }
    }

    json_t *obj = json_object();
    if (!obj || json_array_append_new(list, obj) < 0 || add_meta(obj, &m) < 0)
        return -ENOMEM;
    if (is_suspended(m.state) && !b->sym && !unavailable)
        unavailable = "the unwinder is unavailable";
    if (unavailable)
        return set_str(obj, "unavailable", unavailable) < 0 ? -ENOMEM : 1;
    if (!captured)
        return 1;
    if (m.stack_size &&
        set_int(obj, "stack_used", (json_int_t)(m.stack_lo + m.stack_size - regs.sp)) < 0)
        return -ENOMEM;
    if (set_hex(obj, "sp", regs.sp) < 0)
        return -ENOMEM;
    int r = walk(b, obj, &regs, return_address);
    return r < 0 ? r : 1;
}

static int by_id(const void *a, const void *b)
{
    const struct found *x = a, *y = b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->c < y->c ? -1 : x->c > y->c;
}

/*
 * Lists the registered coroutines, ordered by id, counting them by state.
 * Return: the number found (*@ret holds them; gmr__free it) or -ENOMEM.
 */
static long enumerate(struct found **ret, long counts[5])
{
    size_t n = 0, cap = 0;
    struct found *all = NULL;
    for (unsigned k = 0; k < GMR_CORO_SLABS; k++) {
        struct gmr_coro *slab = gmr__coro_slab(k);
        if (!slab)
            break;
        for (unsigned i = 0; i < GMR_CORO_SLAB; i++) {
            struct gmr_coro *c = &slab[i];
            if (atomic_load_explicit(&c->state, memory_order_relaxed) == GMR_CORO_FREE)
                continue;
            struct meta m;
            if (!read_meta(c, &m) || m.state == GMR_CORO_FREE)
                continue;
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 256;
                struct found *p = gmr__realloc(all, ncap * sizeof(*all));
                if (!p) {
                    gmr__free(all);
                    return -ENOMEM;
                }
                all = p;
                cap = ncap;
            }
            all[n].id = m.id;
            all[n].c = c;
            n++;
            counts[m.state < 5 ? m.state : 0]++;
        }
    }
    if (n > 1)
        qsort(all, n, sizeof(*all), by_id);
    *ret = all;
    return (long)n;
}

static int fill(json_t *section, struct build *b)
{
    uint64_t start = now_ns();
    json_t *list = json_array();
    if (!list || json_object_set_new(section, "coroutines", list) < 0)
        return -ENOMEM;
    if (set_int(section, "max_shown", GMR_CORO_SHOWN_MAX) < 0 ||
        set_int(section, "max_frames", GMR_MAX_FRAMES) < 0)
        return -ENOMEM;

    long counts[5] = {0};
    struct found *all = NULL;
    long n = enumerate(&all, counts);
    if (n < 0)
        return (int)n;
    int r = 0;
    if (n > 0) {
        const char *symerr = NULL;
        r = gmr__sym_get(&b->sym, &symerr);
        if (r == -ENOMEM)
            goto out;
        if (r < 0) {
            b->sym = NULL;
            char msg[256];
            snprintf(msg, sizeof(msg), "symbolization unavailable: %s",
                     symerr ? symerr : strerror(-r));
            if ((r = set_str(section, "note", msg)) < 0)
                goto out;
        }
    }
    /*
     * Allocated after gmr__sym_get(): a large buffer is a new mapping, and a session that
     * finds /proc/self/maps changed reports every module again.
     */
    r = -ENOMEM;
    if (n > 0 && !(b->stack = gmr__malloc(GMR_CORO_STACK_READ_MAX)))
        goto out;
    long i = 0, shown = 0;
    for (; i < n && shown < GMR_CORO_SHOWN_MAX; i++) {
        r = add_coro(b, list, all[i].c);
        if (r < 0)
            goto out;
        shown += r;
    }
    r = -ENOMEM;
    if (i < n && set_int(section, "coroutines_not_shown", n - i) < 0)
        goto out;
    json_t *stats = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I}", "registered", (json_int_t)n, "new",
        (json_int_t)counts[GMR_CORO_NEW], "running", (json_int_t)counts[GMR_CORO_RUNNING],
        "suspended", (json_int_t)(counts[GMR_CORO_SUSPENDED_UC] + counts[GMR_CORO_SUSPENDED_REGS]),
        "elapsed_us", (json_int_t)((now_ns() - start) / 1000u), "unwind_us",
        (json_int_t)(b->unwind_ns / 1000u));
    if (!stats || json_object_set_new(section, "stats", stats) < 0)
        goto out;
    r = 0;
out:
    gmr__free(b->stack);
    gmr__free(all);
    return r;
}

int gmr__coro_section(json_t *section)
{
    struct build *b = gmr__calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    gmr__sym_lock();
    int r = fill(section, b);
    gmr__sym_unlock();
    gmr__free(b);
    return r;
}
