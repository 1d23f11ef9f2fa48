/*
 * Locks and deadlocks (docs/locks.md).  A pass over the Threads section's model:
 *
 * 1. A thread captured on the quiet path while blocked in futex(2) with a wait operation,
 *    whose innermost frames include glibc's mutex, read-write lock or condition variable
 *    functions, waits for the object holding the futex word (the system call's first
 *    argument).  The object's address follows from glibc's layout (pthread_mutex_t: the lock
 *    word comes first; pthread_rwlock_t and pthread_cond_t: one of a few known words).
 * 2. The owner is read from the object in our own memory with fault-safe reads: a mutex's
 *    __owner (glibc records the locking thread's TID there for every kind of mutex, and a PI
 *    or robust mutex's lock word holds it too), a read-write lock's __cur_writer.
 * 3. Each blocked thread has at most one owner to wait for, so the wait-for graph (thread ->
 *    lock -> owner thread) has disjoint cycles: each is a deadlock.  A thread waiting for a
 *    mutex it holds itself is a cycle of one.
 * 4. The model was read thread by thread, so a cycle may be an artifact of a lock that
 *    changed hands in between.  A cycle is reported only when a re-check holds: every thread
 *    of it is still in the same futex wait and has not run (schedstat) from before the
 *    owners are read again until after, and the owners are unchanged.  A thread that has not
 *    run cannot have released or taken a lock, so the cycle held during the whole re-check.
 *
 * Context: reporter thread, or caller context when the library is not set up.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "capture/capture.h"
#include "capture/locks.h"
#include "render/render.h"
#include "symbolize/symbolize.h"
#include "util/alloc.h"
#include "util/file.h"
#include "util/macro.h"

#ifndef FUTEX_LOCK_PI2
#define FUTEX_LOCK_PI2 13
#endif

/* glibc's mutex kind bits (nptl/pthreadP.h), part of its ABI through static initializers. */
#define MUTEX_KIND_MASK    3
#define MUTEX_ROBUST_BIT   16
#define MUTEX_PI_BIT       32
#define MUTEX_PP_BIT       64
#define MUTEX_PSHARED_BIT  128
#define MUTEX_ELISION_BITS (256 | 512)
#define MUTEX_KNOWN_BITS                                                                           \
    (MUTEX_KIND_MASK | MUTEX_ROBUST_BIT | MUTEX_PI_BIT | MUTEX_PP_BIT | MUTEX_PSHARED_BIT |        \
     MUTEX_ELISION_BITS)
/* The TID bits of a futex word owned by a thread (FUTEX_TID_MASK). */
#define TID_MASK 0x3fffffff
/* glibc's read-write lock preferences (__flags): reader, writer, writer non-recursive. */
#define RWLOCK_MAX_FLAGS 2
/* glibc counts a condition variable's waiters in __wrefs in steps of 8. */
#define COND_WREFS_PER_WAITER 8

enum lock_fn {
    FN_NONE,
    FN_MUTEX,  /* pthread_mutex_lock and relatives */
    FN_RDLOCK, /* pthread_rwlock_rdlock and relatives */
    FN_WRLOCK, /* pthread_rwlock_wrlock and relatives */
    FN_COND,   /* pthread_cond_wait and relatives */
};

/*
 * "___pthread_mutex_lock", "__GI___pthread_mutex_lock", "pthread_mutex_lock@@GLIBC_2.2.5";
 * and a sanitizer runtime's wrapper, "__interceptor_pthread_mutex_lock" (ThreadSanitizer
 * intercepts the lock calls), which is part of the lock call rather than its caller.
 */
static const char *bare_name(const char *name)
{
    if (strncmp(name, "__GI_", 5) == 0)
        name += 5;
    while (*name == '_')
        name++;
    if (strncmp(name, "interceptor_", 12) == 0)
        name += 12;
    return name;
}

/* Which glibc lock function @name is, by name: the Debian libc has symbols for all of them. */
static enum lock_fn classify_function(const char *name)
{
    if (!name)
        return FN_NONE;
    name = bare_name(name);
    if (strncmp(name, "pthread_mutex_", 14) == 0) {
        const char *rest = name + 14;
        if (strstr(rest, "lock") && !strstr(rest, "unlock") && !strstr(rest, "trylock") &&
            !strstr(rest, "consistent"))
            return FN_MUTEX;
        return FN_NONE;
    }
    if (strncmp(name, "pthread_rwlock_", 15) == 0) {
        const char *rest = name + 15;
        if (strstr(rest, "tryrdlock") || strstr(rest, "trywrlock"))
            return FN_NONE;
        if (strstr(rest, "rdlock"))
            return FN_RDLOCK;
        if (strstr(rest, "wrlock"))
            return FN_WRLOCK;
        return FN_NONE;
    }
    if (strncmp(name, "pthread_cond_", 13) == 0 && strstr(name + 13, "wait"))
        return FN_COND;
    return FN_NONE;
}

static const char *str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* Parses "0x1f" into *@ret.  Return: true when it is a hexadecimal number. */
static bool parse_hex(const char *s, uint64_t *ret)
{
    if (!s || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || !isxdigit((unsigned char)s[2]))
        return false;
    char *end;
    unsigned long long v = strtoull(s + 2, &end, 16);
    if (*end)
        return false;
    *ret = v;
    return true;
}

/* A futex operation that waits (or takes a PI lock, which waits too). */
static bool is_futex_wait(uint64_t op)
{
    switch (op & FUTEX_CMD_MASK) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET:
    case FUTEX_LOCK_PI:
    case FUTEX_LOCK_PI2:
    case FUTEX_WAIT_REQUEUE_PI:
        return true;
    default:
        return false;
    }
}

/* Reads exactly @len bytes at @addr.  Return: true when all of them were readable. */
static bool read_exact(uint64_t addr, void *buf, size_t len)
{
    return gmr__as_read_memory(addr, buf, len) == len;
}

static bool aligned(uint64_t addr, size_t align)
{
    return addr % align == 0;
}

/* The lock a thread waits for, as read from memory. */
struct wait {
    enum lock_fn fn;
    uint64_t object;  /* the mutex, rwlock or condition variable */
    int owner;        /* thread id of the holder (a writer for rwlocks), 0 when unknown */
    const char *type; /* mutex kind, NULL when not a mutex */
    bool shared;      /* process-shared */
    bool robust;      /* a robust mutex */
};

static const char *mutex_type(int kind)
{
    switch (kind & MUTEX_KIND_MASK) {
    case PTHREAD_MUTEX_RECURSIVE:
        return "recursive";
    case PTHREAD_MUTEX_ERRORCHECK:
        return "errorcheck";
    case PTHREAD_MUTEX_ADAPTIVE_NP:
        return "adaptive";
    default:
        return "normal";
    }
}

/*
 * The holder of the mutex at @addr: glibc stores it in __owner once the lock is taken; a PI
 * or robust mutex's lock word also holds it.  0 when the mutex is free or the owner is not
 * recorded yet (a thread between taking the lock word and storing __owner).
 */
static bool read_mutex(uint64_t addr, struct wait *w)
{
    pthread_mutex_t m;
    if (!read_exact(addr, &m, sizeof(m)))
        return false;
    int kind = m.__data.__kind;
    w->object = addr;
    if (kind & ~MUTEX_KNOWN_BITS) {
        w->type = NULL; /* not a glibc mutex after all, or a corrupt one: no owner */
        return true;
    }
    w->type = mutex_type(kind);
    /*
     * glibc sets the pshared bit on every robust mutex (the kernel wakes robust waiters with
     * shared futex calls), so for a robust one it says nothing: only the attribute would.
     */
    w->robust = (kind & MUTEX_ROBUST_BIT) != 0;
    w->shared = (kind & MUTEX_PSHARED_BIT) != 0 && !w->robust;
    int owner = m.__data.__owner;
    if (owner <= 0 && (kind & (MUTEX_PI_BIT | MUTEX_ROBUST_BIT)))
        owner = m.__data.__lock & TID_MASK;
    if (m.__data.__lock == 0 || owner <= 0 || owner > TID_MASK)
        owner = 0;
    w->owner = owner;
    return true;
}

/*
 * The read-write lock whose futex word is at @word: readers wait on __wrphase_futex (or on
 * __readers when writers are preferred), writers on __writers_futex or __wrphase_futex.  The
 * candidate must be aligned like a pthread_rwlock_t and look like one.
 */
static bool read_rwlock(uint64_t word, struct wait *w)
{
    static const size_t offsets[] = {
        offsetof(pthread_rwlock_t, __data.__writers_futex),
        offsetof(pthread_rwlock_t, __data.__wrphase_futex),
        offsetof(pthread_rwlock_t, __data.__readers),
    };
    for (size_t i = 0; i < GMR_ELEMENTSOF(offsets); i++) {
        if (word < offsets[i])
            continue;
        uint64_t base = word - offsets[i];
        pthread_rwlock_t rw;
        if (!aligned(base, alignof(pthread_rwlock_t)) || !read_exact(base, &rw, sizeof(rw)))
            continue;
        if (rw.__data.__flags > RWLOCK_MAX_FLAGS || rw.__data.__cur_writer < 0)
            continue;
        /* __wrphase_futex is 0, 1, or 1 with the "futex used" bit (2) while waited on. */
        if (offsets[i] == offsetof(pthread_rwlock_t, __data.__wrphase_futex) &&
            rw.__data.__wrphase_futex > 3)
            continue;
        w->object = base;
        w->owner = rw.__data.__cur_writer & TID_MASK;
        w->shared = rw.__data.__shared != 0;
        return true;
    }
    return false;
}

/*
 * The condition variable whose futex word is at @word: waiters wait on __g_signals[0 or 1],
 * or briefly on its internal lock in __g1_orig_size.  A candidate must count waiters.
 */
static bool read_cond(uint64_t word, struct wait *w)
{
    static const size_t offsets[] = {
        offsetof(pthread_cond_t, __data.__g_signals[0]),
        offsetof(pthread_cond_t, __data.__g_signals[1]),
        offsetof(pthread_cond_t, __data.__g1_orig_size),
    };
    for (size_t i = 0; i < GMR_ELEMENTSOF(offsets); i++) {
        if (word < offsets[i])
            continue;
        uint64_t base = word - offsets[i];
        pthread_cond_t c;
        if (!aligned(base, alignof(pthread_cond_t)) || !read_exact(base, &c, sizeof(c)))
            continue;
        if (c.__data.__wrefs < COND_WREFS_PER_WAITER)
            continue;
        w->object = base;
        w->shared = (c.__data.__wrefs & 4) != 0; /* __PTHREAD_COND_SHARED_MASK */
        return true;
    }
    return false;
}

/*
 * The lock function a thread is blocked in: the innermost of its first frames that is one.
 * Return: its kind; *@ret_user is the index of the first frame after the lock functions.
 */
static enum lock_fn blocked_in(const json_t *frames, size_t *ret_user)
{
    enum lock_fn fn = FN_NONE;
    size_t n = json_array_size(frames), last = 0;
    for (size_t i = 0; i < n && i < GMR_LOCKS_SCAN_FRAMES; i++) {
        enum lock_fn f = classify_function(str(json_array_get(frames, i), "function"));
        if (f == FN_NONE)
            continue;
        if (fn == FN_NONE)
            fn = f;
        last = i;
    }
    *ret_user = last + 1;
    return fn;
}

struct module_search {
    uint64_t addr;
    Dwfl_Module *found;
};

/* dwfl_getmodules() callback: stops at the module with a PT_LOAD segment covering the address. */
static int module_covers(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr start,
                         void *arg)
{
    (void)userdata;
    (void)name;
    (void)start;
    struct module_search *ms = arg;
    GElf_Addr bias;
    Elf *elf = dwfl_module_getelf(mod, &bias);
    size_t n;
    if (!elf || elf_getphdrnum(elf, &n) != 0)
        return DWARF_CB_OK;
    for (size_t i = 0; i < n; i++) {
        GElf_Phdr ph;
        if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD &&
            ms->addr >= ph.p_vaddr + bias && ms->addr - (ph.p_vaddr + bias) < ph.p_memsz) {
            ms->found = mod;
            return DWARF_CB_ABORT;
        }
    }
    return DWARF_CB_OK;
}

/*
 * The module whose image holds @addr.  Modules are reported from /proc/self/maps, whose
 * file-backed mappings end before a large .bss (the rest is an anonymous mapping), so the
 * segments' memory sizes are checked too.
 */
static Dwfl_Module *data_module(Dwfl *dwfl, uint64_t addr)
{
    Dwfl_Module *mod = dwfl_addrmodule(dwfl, addr);
    if (mod)
        return mod;
    struct module_search ms = {.addr = addr};
    (void)dwfl_getmodules(dwfl, module_covers, &ms, 0);
    return ms.found;
}

/* The name of the global object at @addr ("queue_lock", "table+0x40"), from .symtab. */
static bool data_symbol(Dwfl *dwfl, uint64_t addr, char *buf, size_t size)
{
    Dwfl_Module *mod = dwfl ? data_module(dwfl, addr) : NULL;
    if (!mod)
        return false;
    GElf_Off off = 0;
    GElf_Sym sym;
    const char *name = dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL);
    if (!name || !*name || GELF_ST_TYPE(sym.st_info) == STT_FUNC ||
        (sym.st_size > 0 ? off >= sym.st_size : off > 0))
        return false;
    char *demangled = gmr__demangle(name);
    const char *shown = demangled ? demangled : name;
    if (off > 0)
        snprintf(buf, size, "%s+0x%" PRIx64, shown, (uint64_t)off);
    else
        snprintf(buf, size, "%s", shown);
    free(demangled);
    return true;
}

static const char *kind_name(enum lock_fn fn)
{
    switch (fn) {
    case FN_MUTEX:
        return "mutex";
    case FN_RDLOCK:
    case FN_WRLOCK:
        return "rwlock";
    case FN_COND:
        return "condvar";
    default:
        return NULL;
    }
}

/* The futex address a quiet-path thread waits on.  Return: true when it is in a futex wait. */
static bool futex_word(const json_t *thread, uint64_t *ret)
{
    const json_t *args = json_object_get(thread, "syscall_args");
    const char *capture = str(thread, "capture");
    const char *sc = str(thread, "syscall");
    uint64_t op;
    return capture && strcmp(capture, "quiet") == 0 && sc && strcmp(sc, "futex") == 0 &&
           json_array_size(args) >= 2 &&
           parse_hex(json_string_value(json_array_get(args, 0)), ret) &&
           parse_hex(json_string_value(json_array_get(args, 1)), &op) && is_futex_wait(op);
}

/* Reads the lock of kind @fn whose futex word is at @word.  Return: true when found. */
static bool read_lock(enum lock_fn fn, uint64_t word, struct wait *w)
{
    memset(w, 0, sizeof(*w));
    w->fn = fn;
    switch (fn) {
    case FN_MUTEX:
        return read_mutex(word, w);
    case FN_RDLOCK:
    case FN_WRLOCK:
        return read_rwlock(word, w);
    case FN_COND:
        return read_cond(word, w);
    default:
        return false;
    }
}

static int set_int(json_t *obj, const char *key, json_int_t v)
{
    return json_object_set_new(obj, key, json_integer(v));
}

static int set_hex(json_t *obj, const char *key, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
    return gmr__json_set_str(obj, key, buf);
}

int gmr__locks_wait_of(const json_t *thread, Dwfl *dwfl, json_t **ret)
{
    uint64_t word;
    size_t user;
    if (!futex_word(thread, &word))
        return 0;
    enum lock_fn fn = blocked_in(json_object_get(thread, "frames"), &user);
    struct wait w;
    if (fn == FN_NONE || !read_lock(fn, word, &w))
        return 0;

    json_t *obj = json_object();
    char sym[256];
    if (!obj || gmr__json_set_str(obj, "kind", kind_name(fn)) < 0 ||
        set_hex(obj, "address", w.object) < 0 ||
        (data_symbol(dwfl, w.object, sym, sizeof(sym)) &&
         gmr__json_set_str(obj, "symbol", sym) < 0) ||
        (fn == FN_RDLOCK && gmr__json_set_str(obj, "mode", "read") < 0) ||
        (fn == FN_WRLOCK && gmr__json_set_str(obj, "mode", "write") < 0) ||
        (w.type && gmr__json_set_str(obj, "type", w.type) < 0) ||
        (w.shared && json_object_set_new(obj, "process_shared", json_true()) < 0) ||
        (w.robust && json_object_set_new(obj, "robust", json_true()) < 0) ||
        (w.owner > 0 && set_int(obj, "owner_tid", w.owner) < 0)) {
        json_decref(obj);
        return -ENOMEM;
    }
    *ret = obj;
    return 1;
}

/* ---- the wait-for graph ---- */

struct node {
    int tid;
    const json_t *thread; /* borrowed from the model */
    const json_t *wait;   /* its "waiting_for", NULL when it waits for no known owner */
    int next;             /* index of the owner's node, -1 when none is in the model */
    int cycle;            /* deadlock it is part of or blocked behind, -1 when none */
    bool on_cycle;
    int visit; /* walk that reached it first, 0 when unvisited */
};

static int cmp_node_tid(const void *a, const void *b)
{
    const struct node *x = a, *y = b;
    return (x->tid > y->tid) - (x->tid < y->tid);
}

static int find_node(const struct node *nodes, size_t n, int tid)
{
    struct node key = {.tid = tid};
    const struct node *hit = bsearch(&key, nodes, n, sizeof(*nodes), cmp_node_tid);
    return hit ? (int)(hit - nodes) : -1;
}

/* Up to GMR_LOCKS_DEADLOCK_FRAMES frames of @thread from its first frame after the lock call. */
static json_t *user_frames(const json_t *thread)
{
    const json_t *frames = json_object_get(thread, "frames");
    size_t user;
    if (blocked_in(frames, &user) == FN_NONE)
        user = 0;
    json_t *out = json_array();
    for (size_t i = user;
         out && i < json_array_size(frames) && json_array_size(out) < GMR_LOCKS_DEADLOCK_FRAMES;
         i++) {
        if (json_array_append(out, json_array_get(frames, i)) < 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* The lock object of a deadlock entry: kind, address, symbol (no owner: the cycle says). */
static json_t *lock_summary(const json_t *wait)
{
    json_t *lock = json_object();
    static const char *const keys[] = {"kind", "address", "symbol", "mode", "type"};
    for (size_t i = 0; lock && i < GMR_ELEMENTSOF(keys); i++) {
        json_t *v = json_object_get(wait, keys[i]);
        if (v && json_object_set(lock, keys[i], v) < 0) {
            json_decref(lock);
            return NULL;
        }
    }
    return lock;
}

/* One deadlock entry for the cycle through node @start. */
static json_t *deadlock_entry(const struct node *nodes, int start)
{
    json_t *d = json_object();
    json_t *tids, *locks, *cycle;
    if (!d || json_object_set_new(d, "threads", (tids = json_array())) < 0 ||
        json_object_set_new(d, "locks", (locks = json_array())) < 0 ||
        json_object_set_new(d, "cycle", (cycle = json_array())) < 0)
        goto fail;
    int i = start;
    do {
        const struct node *nd = &nodes[i];
        const struct node *owner = &nodes[nd->next];
        json_t *step = json_object();
        if (!step || json_array_append_new(cycle, step) < 0 ||
            json_array_append_new(tids, json_integer(nd->tid)) < 0 ||
            json_array_append_new(locks, lock_summary(nd->wait)) < 0 ||
            set_int(step, "tid", nd->tid) < 0 ||
            (str(nd->thread, "name") &&
             json_object_set(step, "name", json_object_get(nd->thread, "name")) < 0) ||
            json_object_set(step, "waiting_for", (json_t *)nd->wait) < 0 ||
            set_int(step, "held_by", owner->tid) < 0 ||
            json_object_set_new(step, "frames", user_frames(nd->thread)) < 0)
            goto fail;
        i = nd->next;
    } while (i != start);
    return d;
fail:
    json_decref(d);
    return NULL;
}

/* Builds the graph's nodes from the model, sorted by thread id. */
static struct node *graph_nodes(const json_t *threads, size_t *ret_n)
{
    size_t n = json_array_size(threads);
    struct node *nodes = gmr__calloc(n ? n : 1, sizeof(*nodes));
    if (!nodes)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *t = json_array_get(threads, i);
        json_t *tid = json_object_get(t, "tid");
        if (!json_is_integer(tid))
            continue;
        const json_t *w = json_object_get(t, "waiting_for");
        nodes[k].tid = (int)json_integer_value(tid);
        nodes[k].thread = t;
        nodes[k].wait =
            json_is_object(w) && json_is_integer(json_object_get(w, "owner_tid")) ? w : NULL;
        nodes[k].cycle = -1;
        k++;
    }
    qsort(nodes, k, sizeof(*nodes), cmp_node_tid);
    for (size_t i = 0; i < k; i++) {
        nodes[i].next =
            nodes[i].wait
                ? find_node(nodes, k,
                            (int)json_integer_value(json_object_get(nodes[i].wait, "owner_tid")))
                : -1;
    }
    *ret_n = k;
    return nodes;
}

int gmr__locks_find_cycles(const json_t *threads, json_t **ret)
{
    size_t n = 0;
    struct node *nodes = graph_nodes(threads, &n);
    json_t *out = json_array();
    int r = -ENOMEM;
    if (!nodes || !out)
        goto out;

    /*
     * Every node has at most one successor: follow each unvisited node's chain, stamping it
     * with the walk's number.  Meeting our own stamp closes a new cycle; meeting an older
     * walk's node inherits its cycle (or none).
     */
    for (size_t s = 0; s < n; s++) {
        if (nodes[s].visit)
            continue;
        int walk = (int)s + 1, i = (int)s;
        while (i >= 0 && !nodes[i].visit) {
            nodes[i].visit = walk;
            i = nodes[i].next;
        }
        int cycle = -1;
        if (i >= 0 && nodes[i].visit == walk) {
            /* A new cycle through i: start its entry at its smallest thread id. */
            int first = i;
            for (int j = nodes[i].next; j != i; j = nodes[j].next)
                first = j < first ? j : first;
            cycle = (int)json_array_size(out);
            int j = first;
            do {
                nodes[j].on_cycle = true;
                nodes[j].cycle = cycle;
                j = nodes[j].next;
            } while (j != first);
            if (json_array_append_new(out, deadlock_entry(nodes, first)) < 0)
                goto out;
        } else if (i >= 0) {
            cycle = nodes[i].cycle;
        }
        for (int j = (int)s; j >= 0 && !nodes[j].on_cycle && nodes[j].cycle < 0 && cycle >= 0;
             j = nodes[j].next)
            nodes[j].cycle = cycle;
    }

    /* Threads blocked behind each deadlock, by ascending id. */
    for (size_t i = 0; i < n; i++) {
        if (nodes[i].cycle < 0 || nodes[i].on_cycle)
            continue;
        json_t *d = json_array_get(out, (size_t)nodes[i].cycle);
        json_t *behind = json_object_get(d, "blocked_behind");
        if (!behind &&
            (!(behind = json_array()) || json_object_set_new(d, "blocked_behind", behind) < 0))
            goto out;
        json_t *who = json_object();
        if (!who || json_array_append_new(behind, who) < 0 ||
            set_int(who, "tid", nodes[i].tid) < 0 ||
            (str(nodes[i].thread, "name") &&
             json_object_set(who, "name", json_object_get(nodes[i].thread, "name")) < 0))
            goto out;
    }
    *ret = out;
    out = NULL;
    r = 0;
out:
    json_decref(out);
    gmr__free(nodes);
    return r;
}

/* ---- against the live process ---- */

/* /proc/self/task/TID/FILE into @buf.  Return: true when read. */
static bool read_task_file(int dirfd, int tid, const char *file, char *buf, size_t size)
{
    char path[48];
    snprintf(path, sizeof(path), "%d/%s", tid, file);
    return gmr__read_small(dirfd, path, buf, size) > 0;
}

/* Whether thread @tid of this process exists (and is not a zombie). */
static bool thread_alive(int dirfd, int tid)
{
    char buf[1024];
    struct gmr__task_stat st;
    return read_task_file(dirfd, tid, "stat", buf, sizeof(buf)) &&
           gmr__parse_task_stat(buf, &st) == 0 && st.state != 'Z' && st.state != 'X';
}

/* A thread's state for the re-check: its syscall line and its time on a CPU. */
struct still {
    char syscall[256];
    char sched[128];
};

static bool read_still(int dirfd, int tid, struct still *s)
{
    return read_task_file(dirfd, tid, "syscall", s->syscall, sizeof(s->syscall)) &&
           read_task_file(dirfd, tid, "schedstat", s->sched, sizeof(s->sched));
}

/* The re-check of one deadlock (see the top of the file).  Return: 1 when it holds, 0, -ENOMEM. */
static int confirm(int dirfd, const json_t *deadlock)
{
    const json_t *cycle = json_object_get(deadlock, "cycle");
    size_t n = json_array_size(cycle);
    struct still *before = gmr__calloc(n ? n : 1, sizeof(*before));
    if (!before)
        return -ENOMEM;
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        const json_t *step = json_array_get(cycle, i);
        int tid = (int)json_integer_value(json_object_get(step, "tid"));
        long nr = 0;
        uint64_t word = 0;
        ok = read_still(dirfd, tid, &before[i]) &&
             sscanf(before[i].syscall, "%ld 0x%" SCNx64, &nr, &word) == 2 && nr == SYS_futex;
    }
    for (size_t i = 0; ok && i < n; i++) {
        const json_t *step = json_array_get(cycle, i);
        const json_t *wait = json_object_get(step, "waiting_for");
        uint64_t addr, word;
        struct wait w;
        const char *kind = str(wait, "kind");
        const char *mode = str(wait, "mode");
        enum lock_fn fn = !kind                        ? FN_NONE
                          : strcmp(kind, "mutex") == 0 ? FN_MUTEX
                          : strcmp(kind, "rwlock") == 0 && mode && strcmp(mode, "read") == 0
                              ? FN_RDLOCK
                          : strcmp(kind, "rwlock") == 0 ? FN_WRLOCK
                                                        : FN_NONE;
        /* The futex word is read again from the syscall line: it must still be the lock's. */
        ok = fn != FN_NONE && parse_hex(str(wait, "address"), &addr) &&
             sscanf(before[i].syscall, "%*u 0x%" SCNx64, &word) == 1 && read_lock(fn, word, &w) &&
             w.object == addr &&
             w.owner == (int)json_integer_value(json_object_get(step, "held_by"));
    }
    for (size_t i = 0; ok && i < n; i++) {
        const json_t *step = json_array_get(cycle, i);
        int tid = (int)json_integer_value(json_object_get(step, "tid"));
        struct still after;
        ok = read_still(dirfd, tid, &after) && strcmp(after.syscall, before[i].syscall) == 0 &&
             strcmp(after.sched, before[i].sched) == 0;
    }
    gmr__free(before);
    return ok ? 1 : 0;
}

/* Thread @tid of the section's array, which lists threads by ascending id; NULL if absent. */
static const json_t *find_thread(const json_t *threads, json_int_t tid)
{
    size_t lo = 0, hi = json_array_size(threads);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const json_t *t = json_array_get(threads, mid);
        json_int_t v = json_integer_value(json_object_get(t, "tid"));
        if (v == tid)
            return t;
        if (v < tid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Sets "owner_name", or "owner_state" for an owner that is not a live thread of ours. */
static int describe_owner(int dirfd, json_t *wait, const json_t *threads)
{
    json_t *owner = json_object_get(wait, "owner_tid");
    if (!json_is_integer(owner))
        return 0;
    json_int_t tid = json_integer_value(owner);
    const json_t *t = find_thread(threads, tid);
    if (t) {
        const json_t *name = json_object_get(t, "name");
        if (json_is_string(name) && json_object_set(wait, "owner_name", (json_t *)name) < 0)
            return -ENOMEM;
        if (!str(t, "unavailable") || thread_alive(dirfd, (int)tid))
            return 0;
        /* listed, but it exited during the report */
    }
    if (thread_alive(dirfd, (int)tid))
        return 0; /* started after the thread list was read */
    /* A lock that may be shared: its owner may be a thread of another process, if one lives. */
    bool shared = json_is_true(json_object_get(wait, "process_shared")) ||
                  json_is_true(json_object_get(wait, "robust"));
    char path[32];
    snprintf(path, sizeof(path), "/proc/%d", (int)tid);
    bool elsewhere = shared && access(path, F_OK) == 0;
    return gmr__json_set_str(wait, "owner_state", elsewhere ? "not in this process" : "exited");
}

int gmr__locks_analyze(json_t *threads_section, json_t *report)
{
    json_t *threads = json_object_get(threads_section, "threads");
    if (!json_is_array(threads))
        return 0;
    int dirfd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return 0; /* no /proc: nothing to check owners or cycles against */

    gmr__sym_lock();
    /* The Threads section has just refreshed the session; without one, locks are not named. */
    struct gmr__sym *sym = NULL;
    Dwfl *dwfl = gmr__sym_current(&sym) == 0 ? gmr__sym_dwfl(sym) : NULL;
    int r = 0;
    size_t i;
    json_t *t;
    json_array_foreach(threads, i, t)
    {
        json_t *wait = NULL;
        if (r < 0)
            break;
        r = gmr__locks_wait_of(t, dwfl, &wait);
        if (r > 0 && json_object_set_new(t, "waiting_for", wait) < 0)
            r = -ENOMEM;
        if (r < 0)
            break;
    }
    gmr__sym_unlock();
    if (r < 0)
        goto out;

    json_array_foreach(threads, i, t)
    {
        json_t *wait = json_object_get(t, "waiting_for");
        if (wait && (r = describe_owner(dirfd, wait, threads)) < 0)
            goto out;
    }

    json_t *found = NULL;
    r = gmr__locks_find_cycles(threads, &found);
    if (r < 0)
        goto out;
    json_t *deadlocks = json_array();
    r = -ENOMEM;
    if (!deadlocks) {
        json_decref(found);
        goto out;
    }
    json_array_foreach(found, i, t)
    {
        r = confirm(dirfd, t);
        if (r < 0 || (r > 0 && json_array_append(deadlocks, t) < 0)) {
            r = -ENOMEM;
            json_decref(found);
            json_decref(deadlocks);
            goto out;
        }
    }
    json_decref(found);
    r = 0;
    if (json_array_size(deadlocks) > 0)
        r = json_object_set_new(report, "deadlocks", deadlocks) < 0 ? -ENOMEM : 0;
    else
        json_decref(deadlocks);
out:
    close(dirfd);
    return r;
}
