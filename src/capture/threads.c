/*
 * The Threads section: every thread of the process with its symbolized stack.
 *
 * Threads blocked in a system call take the quiet path: /proc/self/task/TID/syscall gives SP
 * and PC, the stack is walked over live memory (it does not change while the thread is
 * blocked), and re-reading the file (and the thread's run time in schedstat) afterwards
 * proves it did not move.  Running threads, and quiet-path threads that moved or whose walk
 * stopped early, take the signal path: the capture signal is queued to each with a ticket
 * naming a pre-allocated slot, the handler (snapshot-as.c) copies registers and stack into
 * it, and the reporter walks the copy.  See DESIGN.md.
 *
 * Every thread is walked before any frame is described: the walks use the unwinder's own Dwfl
 * while a helper thread loads the DWARF of the modules they pass through into the describing
 * one (gmr__sym_prefetch()), which is most of a first report's time.
 *
 * Context: reporter thread, or caller context when the library is not set up (then only the
 * quiet path works).  Serialized with install/uninstall by gmr__sym_lock().
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "capture/capture.h"
#include "capture/threads.h"
#include "capture/unwind.h"
#include "output/sink.h"
#include "render/render.h"
#include "symbolize/symbolize.h"
#include "util/ahead.h"
#include "util/alloc.h"
#include "util/file.h"
#include "util/signal-name.h"
#include "util/macro.h"

_Static_assert(sizeof(void *) == 8, "tickets travel in si_value.sival_ptr: 64-bit only");

/* Stack bytes read up front for a quiet-path walk; deeper reads go to live pages. */
#define QUIET_WINDOW (16 * 1024)
/* How long the reporter waits for a handler that claimed a slot at the deadline to finish. */
#define BUSY_GRACE_NS 20000000ull
/* Threads whose task files are read ahead of their walk, at most (two open files each). */
#define PROBE_AHEAD 8
/* Frame pointer candidates tried for a quiet-path walk that stopped early. */
#define MAX_FP_GUESSES 32

/* What install set up; guarded by gmr__sym_lock(). */
static struct {
    struct gmr__capture *cap;      /* owned; NULL: no capture handler */
    struct sigaction old;          /* the capture signal's disposition before ours */
    uint64_t timeout_ns;           /* deadline of the signal path, per report */
    bool stuck[GMR_CAPTURE_SLOTS]; /* a handler held the slot past the deadline */
    uint64_t arm_seq;              /* armings so far; mixed into tickets */
} inst;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* splitmix64: spreads a counter into unpredictable-looking tickets from a random seed. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static uint64_t random_seed(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
        v = now_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&v;
    return v;
}

static bool is_default(const struct sigaction *sa)
{
    return !(sa->sa_flags & SA_SIGINFO) && sa->sa_handler == SIG_DFL;
}

/* Makes the first calls the handler will make, so none of them resolves lazily in it. */
static void prime_handler_calls(void)
{
    uint64_t word = 0, probe = 1;
    (void)gmr__as_read_memory((uint64_t)(uintptr_t)&probe, &word, sizeof(word));
    (void)syscall(SYS_gettid);
    (void)getpid();
    (void)now_ns();
}

int gmr__threads_install(int signo, uint64_t timeout_ns, int trigger)
{
    if (signo != 0 && (signo < SIGRTMIN || signo > SIGRTMAX))
        return -EINVAL;
    if (signo != 0 && signo == trigger) {
        char name[32];
        gmr__error_line("capture signal %s is also the trigger signal; not installing (choose "
                        "another with gmr_set_capture_signal(), or auto)",
                        gmr__signal_name(signo, name, sizeof(name)));
        return -EINVAL;
    }
    struct sigaction old;
    if (signo == 0) {
        for (int s = SIGRTMAX; s >= SIGRTMIN; s--) {
            if (s != trigger && sigaction(s, NULL, &old) == 0 && is_default(&old)) {
                signo = s;
                break;
            }
        }
        if (signo == 0) {
            gmr__error_line("no real-time signal is free for capturing running threads' stacks; "
                            "choose one with gmr_set_capture_signal()");
            return -EBUSY;
        }
    } else {
        if (sigaction(signo, NULL, &old) < 0)
            return -errno;
        if (!is_default(&old)) {
            char name[32];
            gmr__signal_name(signo, name, sizeof(name));
            gmr__error_line("capture signal %s already has a handler or is ignored; "
                            "not installing (choose another with gmr_set_capture_signal())",
                            name);
            return -EBUSY;
        }
    }

    struct gmr__capture *c = gmr__calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->signo = signo;
    c->arena_size = (size_t)GMR_CAPTURE_SLOTS * GMR_SNAPSHOT_BYTES;
    c->arena = mmap(NULL, c->arena_size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (c->arena == MAP_FAILED) {
        gmr__free(c);
        return -ENOMEM;
    }
    for (int i = 0; i < GMR_CAPTURE_SLOTS; i++)
        c->slots[i].stack = (unsigned char *)c->arena + (size_t)i * GMR_SNAPSHOT_BYTES;

    prime_handler_calls();
    gmr__demangle_prime();

    gmr__sym_lock();
    /* Prime the session too: modules reported now make the first report cheaper. */
    struct gmr__sym *sym;
    (void)gmr__sym_get(&sym, NULL);
    inst.cap = c;
    inst.old = old;
    inst.timeout_ns = timeout_ns;
    memset(inst.stuck, 0, sizeof(inst.stuck));
    gmr__as_capture_publish(c);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = gmr__as_capture_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    int r = 0;
    if (sigaction(signo, &sa, NULL) < 0) {
        r = -errno;
        gmr__as_capture_publish(NULL);
        inst.cap = NULL;
        munmap(c->arena, c->arena_size);
        gmr__free(c);
    }
    gmr__sym_unlock();
    return r;
}

void gmr__threads_uninstall(void)
{
    gmr__sym_lock(); /* in a fork child this also drops the parent's session */
    struct gmr__capture *c = inst.cap;
    inst.cap = NULL;
    if (c) {
        (void)sigaction(c->signo, &inst.old, NULL);
        gmr__as_capture_publish(NULL);
        munmap(c->arena, c->arena_size);
        gmr__free(c);
    }
    gmr__sym_unlock();
    gmr__sym_free();
}

/* ---- per report ---- */

enum path { PATH_NONE, PATH_QUIET, PATH_SIGNAL };

/* A thread's /proc/self/task/TID/schedstat. */
struct sched {
    uint64_t run_ns;
    uint64_t wait_ns;
    uint64_t switches;
};

/* A walk, kept until its frames are described (after every thread is walked). */
struct kept_walk {
    struct gmr__unwind_frame *frames; /* owned; @n entries */
    int n;
    long more; /* as in gmr__unwind_result */
    bool more_at_least;
    char *error; /* owned; why the walk stopped early, or NULL */
};

struct work {
    int tid;
    json_t *obj; /* borrowed from the section's array */
    enum path path;
    char state;
    bool have_stat; /* @st was read */
    struct gmr__task_stat st;
    bool blocked;                /* @sc was read, and shows the thread in a system call */
    struct gmr__task_syscall sc; /* quiet path: as read before the walk */
    char sc_text[256];
    struct sched sched; /* quiet path: schedstat before the walk */
    bool have_sched;
    int fd_syscall; /* quiet path: TID/syscall, read again after the walk; or -1 */
    int fd_sched;   /* quiet path: TID/schedstat, likewise; or -1 */
    bool recheck;   /* quiet path: walked; read the files again */
    bool moved;     /* quiet path: the files changed during the walk */
    bool walked;    /* @walk holds its stack, to describe */
    struct kept_walk walk;
    char fallback[192]; /* why a quiet-path thread went to the signal path */
};

struct report {
    int dirfd;            /* /proc/self/task */
    int self_tid;         /* this thread's id, to read memory through */
    int pid;              /* getpid(), read once */
    struct gmr__sym *sym; /* NULL: symbolization unavailable */
    struct gmr__unwind_result res;
    unsigned char *window; /* QUIET_WINDOW bytes */
    int n_quiet, n_signal, n_none;
    uint64_t max_interrupted_ns;
    uint64_t unwind_ns;    /* time in the unwinder */
    uint64_t symbolize_ns; /* time describing frames (mostly cache hits when warm) */
    uint64_t signal_ns;    /* time signalling and waiting for the handlers */
};

/* gmr__unwind() into rp->res, timed. */
static int walk(struct report *rp, Dwfl *dwfl, int tid, const struct gmr__regs *regs,
                const struct gmr__unwind_mem *mem)
{
    uint64_t t0 = now_ns();
    int r = gmr__unwind(dwfl, tid, regs, mem, &rp->res);
    rp->unwind_ns += now_ns() - t0;
    return r;
}

static int set_str(json_t *obj, const char *key, const char *s)
{
    return gmr__json_set_str(obj, key, s);
}

static int set_int(json_t *obj, const char *key, json_int_t v)
{
    return json_object_set_new(obj, key, json_integer(v));
}

static int unavailable(struct report *rp, struct work *w, const char *reason)
{
    rp->n_none++;
    w->path = PATH_NONE;
    if (set_str(w->obj, "capture", "none") < 0 || set_str(w->obj, "unavailable", reason) < 0)
        return -ENOMEM;
    return 0;
}

/*
 * Keeps the walk in rp->res for the thread, and has the helper load the DWARF of the modules
 * its frames are in.  Return: 0 or -ENOMEM.
 */
static int keep_walk(struct report *rp, struct work *w)
{
    const struct gmr__unwind_result *res = &rp->res;
    struct kept_walk *k = &w->walk;
    if (res->n > 0) {
        k->frames = gmr__malloc((size_t)res->n * sizeof(*k->frames));
        if (!k->frames)
            return -ENOMEM;
        memcpy(k->frames, res->frames, (size_t)res->n * sizeof(*k->frames));
    }
    k->n = res->n;
    k->more = res->more;
    k->more_at_least = res->more_at_least;
    if (!res->complete && !res->more_at_least && res->error[0] &&
        !(k->error = gmr__strdup(res->error)))
        return -ENOMEM;
    w->walked = true;
    for (int i = 0; i < res->n; i++)
        gmr__sym_prefetch(rp->sym, res->frames[i].pc, res->frames[i].activation);
    return 0;
}

static void kept_walk_done(struct kept_walk *k)
{
    gmr__free(k->frames);
    gmr__free(k->error);
    k->frames = NULL;
    k->error = NULL;
}

/* Appends the walked frames, symbolized, to the thread's object. */
static int add_frames(struct report *rp, json_t *obj, const struct kept_walk *res)
{
    json_t *frames = json_array();
    if (!frames || json_object_set_new(obj, "frames", frames) < 0)
        return -ENOMEM;
    for (int i = 0; i < res->n; i++) {
        json_t *desc =
            rp->sym ? gmr__sym_frames(rp->sym, res->frames[i].pc, res->frames[i].activation) : NULL;
        if (desc) {
            size_t j;
            json_t *f;
            json_array_foreach(desc, j, f)
            {
                if (json_array_append(frames, f) < 0)
                    return -ENOMEM;
            }
            continue;
        }
        if (rp->sym)
            return -ENOMEM;
        char pc[24];
        snprintf(pc, sizeof(pc), "0x%" PRIx64, res->frames[i].pc);
        json_t *f = json_pack("{s:s, s:b}", "pc", pc, "inlined", 0);
        if (!f || json_array_append_new(frames, f) < 0)
            return -ENOMEM;
    }
    if (res->more > 0) {
        if (set_int(obj, "more_frames", res->more) < 0 ||
            json_object_set_new(obj, "more_frames_exact", json_boolean(!res->more_at_least)) < 0)
            return -ENOMEM;
    }
    if (res->error && set_str(obj, "unwind_error", res->error) < 0)
        return -ENOMEM;
    return 0;
}

/* Opens /proc/self/task/TID/@name.  Return: the fd or -1. */
static int open_task_file(int dirfd, int tid, const char *name)
{
    char path[48];
    snprintf(path, sizeof(path), "%d/%s", tid, name);
    return openat(dirfd, path, O_RDONLY | O_CLOEXEC);
}

/*
 * Reads an open TID/schedstat: time on a CPU (ns), time waiting for one (ns), and the number
 * of times the thread was switched in -- the last counts every run, however short, when the
 * kernel keeps scheduler statistics (it shows "0 0 0" when it does not).
 * Return: true when read.
 */
static bool read_sched(int fd, struct sched *ret)
{
    char buf[128];
    if (fd < 0 || gmr__pread_proc(fd, buf, sizeof(buf)) <= 0)
        return false;
    char *p = buf, *end;
    unsigned long long v[3];
    for (int i = 0; i < 3; i++) {
        v[i] = strtoull(p, &end, 10);
        if (end == p)
            return false;
        p = end;
    }
    *ret = (struct sched){.run_ns = v[0], .wait_ns = v[1], .switches = v[2]};
    return true;
}

static void close_task_files(struct work *w)
{
    if (w->fd_syscall >= 0)
        close(w->fd_syscall);
    if (w->fd_sched >= 0)
        close(w->fd_sched);
    w->fd_syscall = w->fd_sched = -1;
}

/*
 * Reads the task files of one thread: its stat, and for a thread that may be blocked in a
 * system call, its schedstat and syscall, which stay open for the quiet path to read again
 * after the walk (an open /proc file shows fresh values at every read from its start).
 * schedstat comes first, so that any run after it shows in the second reading.
 * Context: the read-ahead helper (it touches nothing but @w), or the reporter.
 */
static void probe(int dirfd, struct work *w, int self_tid)
{
    char buf[1024];
    int fd = open_task_file(dirfd, w->tid, "stat");
    ssize_t n = fd >= 0 ? gmr__pread_proc(fd, buf, sizeof(buf)) : -1;
    if (fd >= 0)
        close(fd);
    w->have_stat = n > 0 && gmr__parse_task_stat(buf, &w->st) == 0;
    if (!w->have_stat || w->tid == self_tid || strchr("ZXR", w->st.state))
        return;
    w->fd_sched = open_task_file(dirfd, w->tid, "schedstat");
    w->have_sched = read_sched(w->fd_sched, &w->sched);
    w->fd_syscall = open_task_file(dirfd, w->tid, "syscall");
    w->blocked =
        w->fd_syscall >= 0 && gmr__pread_proc(w->fd_syscall, w->sc_text, sizeof(w->sc_text)) > 0 &&
        gmr__parse_task_syscall(w->sc_text, &w->sc) == 0 && w->sc.kind == GMR_SYSCALL_BLOCKED;
    if (!w->blocked)
        close_task_files(w);
}

/*
 * Puts what probe() read of one thread in its object and decides its path.
 * Return: 0 or -ENOMEM.
 */
static int classify(struct report *rp, struct work *w, int self_tid, long clk_tck)
{
    const struct gmr__task_stat *st = &w->st;
    if (set_int(w->obj, "tid", w->tid) < 0)
        return -ENOMEM;
    if (!w->have_stat)
        return unavailable(rp, w, "exited before it could be captured");
    w->state = st->state;
    json_int_t hz = clk_tck > 0 ? clk_tck : 100;
    if (set_str(w->obj, "name", st->name) < 0 ||
        set_str(w->obj, "state", gmr__task_state_name(st->state)) < 0 ||
        (w->tid == rp->pid && json_object_set_new(w->obj, "main", json_true()) < 0) ||
        set_int(w->obj, "cpu_user_ms", (json_int_t)st->utime * 1000 / hz) < 0 ||
        set_int(w->obj, "cpu_system_ms", (json_int_t)st->stime * 1000 / hz) < 0)
        return -ENOMEM;

    if (w->tid == self_tid) {
        w->path = PATH_NONE;
        rp->n_none++;
        if (set_str(w->obj, "capture", "none") < 0 ||
            set_str(w->obj, "note", "this thread wrote the report") < 0)
            return -ENOMEM;
        return 0;
    }
    if (st->state == 'Z' || st->state == 'X')
        return unavailable(rp, w, "exited before it could be captured");
    w->path = w->blocked ? PATH_QUIET : PATH_SIGNAL;
    return 0;
}

static int set_syscall(json_t *obj, long nr)
{
    const char *name = gmr__syscall_name(nr);
    if (name)
        return set_str(obj, "syscall", name);
    char buf[32];
    snprintf(buf, sizeof(buf), "syscall %ld", nr);
    return set_str(obj, "syscall", buf);
}

/* The system call's six arguments, as /proc/self/task/TID/syscall shows them (hex strings). */
static int set_syscall_args(json_t *obj, const uint64_t args[6])
{
    json_t *list = json_array();
    if (!list || json_object_set_new(obj, "syscall_args", list) < 0)
        return -ENOMEM;
    for (int i = 0; i < 6; i++) {
        char buf[24];
        snprintf(buf, sizeof(buf), "0x%" PRIx64, args[i]);
        if (json_array_append_new(list, json_string(buf)) < 0)
            return -ENOMEM;
    }
    return 0;
}

/*
 * Whether the 16 bytes at @off in @mem can be a frame record: a saved frame pointer (any
 * value: the caller may keep no frame pointer, as glibc's start_thread does not) followed by
 * a return address, which must point into a module's code just after a call instruction.
 * Return: true when it can.
 */
static bool frame_record(Dwfl *dwfl, const struct gmr__unwind_mem *mem, size_t off)
{
    uint64_t ret;
    memcpy(&ret, mem->data + off + 8, sizeof(ret));
    return gmr__unwind_in_code(dwfl, ret) && gmr__regs_follows_call(ret);
}

/*
 * Whether every frame of the walk in rp->res is in a module's code.  A walk from a stale
 * frame record can still reach the thread's first frame, through return addresses left on the
 * stack by earlier calls and a frame in no module (seen under ThreadSanitizer, whose runtime
 * leaves many): such a walk is not the thread's.
 */
static bool walk_in_code(Dwfl *dwfl, const struct gmr__unwind_result *res)
{
    for (int i = 0; i < res->n; i++) {
        if (!gmr__unwind_in_code(dwfl, res->frames[i].pc))
            return false;
    }
    return true;
}

/*
 * Code built with frame pointers computes its CFA from the frame pointer register, which the
 * quiet path does not know.  While a thread is blocked in a system call the register still
 * holds the base of the innermost frame that needs it -- the frame the first walk stopped at,
 * as no frame below saved the register (the walk would have recovered it then): a frame
 * record at or above that frame's stack pointer.  Candidates are tried in stack order from
 * there; one is accepted only when the walk then reaches the thread's first frame with every
 * frame in a module's code.
 * Return: 0 (rp->res holds the best walk) or -errno from the unwinder.
 */
static int guess_frame_pointer(struct report *rp, int tid, struct gmr__regs *regs,
                               const struct gmr__unwind_mem *mem)
{
    Dwfl *dwfl = gmr__sym_unwind_dwfl(rp->sym);
    uint64_t from = rp->res.stop_sp > mem->addr ? rp->res.stop_sp : mem->addr;
    size_t start =
        from - mem->addr < mem->len ? (size_t)(from - mem->addr + 7) & ~(size_t)7 : mem->len;
    int tries = 0;
    for (size_t off = start; off + 16 <= mem->len && tries < MAX_FP_GUESSES; off += 8) {
        if (!frame_record(dwfl, mem, off))
            continue;
        tries++;
        regs->fp = mem->addr + off;
        regs->have_fp = true;
        int r = walk(rp, dwfl, tid, regs, mem);
        if (r < 0 || ((rp->res.complete || rp->res.more_at_least) && walk_in_code(dwfl, &rp->res)))
            return r;
    }
    regs->have_fp = false;
    return walk(rp, dwfl, tid, regs, mem);
}

/*
 * The quiet path's walk of one thread.  Whether it can be trusted is known only once the
 * thread's files are read again (recheck_quiet(), on the read-ahead helper); quiet_verdict()
 * then keeps the walk or sends the thread to the signal path.
 * Return: 0 or -ENOMEM.
 */
static int capture_quiet(struct report *rp, struct work *w)
{
    struct gmr__regs regs = {.sp = w->sc.sp, .pc = w->sc.pc, .full = false, .have_args = true};
    memcpy(regs.args, w->sc.args, sizeof(regs.args));
    struct gmr__unwind_mem mem = {.addr = w->sc.sp, .data = rp->window};
    mem.len = gmr__as_read_memory_as(rp->self_tid, w->sc.sp, rp->window, QUIET_WINDOW);
    if (!rp->sym) {
        w->path = PATH_SIGNAL;
        snprintf(w->fallback, sizeof(w->fallback), "no unwinder for the quiet path");
        return 0;
    }
    Dwfl *dwfl = gmr__sym_unwind_dwfl(rp->sym);
    int r = walk(rp, dwfl, w->tid, &regs, &mem);
    if (r == 0 && !rp->res.complete && !rp->res.more_at_least)
        r = guess_frame_pointer(rp, w->tid, &regs, &mem);
    w->recheck = true;
    if (r < 0 || (!rp->res.complete && !rp->res.more_at_least)) {
        snprintf(w->fallback, sizeof(w->fallback), "the quiet-path walk stopped early (%s)",
                 rp->res.error[0] ? rp->res.error : "unknown reason");
        return 0;
    }
    return keep_walk(rp, w);
}

/*
 * Reads the thread's schedstat, and its syscall, again after its quiet-path walk: any change
 * says it ran meanwhile.  When schedstat counts the thread's runs, it alone tells: a thread
 * cannot leave its system call without being switched in, and the first reading of syscall
 * came after the first reading of schedstat.
 * Context: the read-ahead helper (it touches nothing but @w), or the reporter.
 */
static void recheck_quiet(struct work *w)
{
    struct sched after;
    if (w->have_sched &&
        (!read_sched(w->fd_sched, &after) || memcmp(&after, &w->sched, sizeof(after)) != 0)) {
        w->moved = true;
        return;
    }
    if (w->have_sched && w->sched.switches > 0)
        return;
    char text[sizeof(w->sc_text)];
    w->moved =
        gmr__pread_proc(w->fd_syscall, text, sizeof(text)) <= 0 || strcmp(text, w->sc_text) != 0;
}

/* Keeps a rechecked quiet-path walk, or sends the thread to the signal path.  Return: 0 or -ENOMEM.
 */
static int quiet_verdict(struct report *rp, struct work *w)
{
    if (w->moved || !w->walked) {
        w->path = PATH_SIGNAL;
        if (w->moved)
            snprintf(w->fallback, sizeof(w->fallback),
                     "it ran while its stack was read on the quiet path");
        kept_walk_done(&w->walk);
        w->walked = false;
        return 0;
    }
    rp->n_quiet++;
    if (set_str(w->obj, "capture", "quiet") < 0 || set_syscall(w->obj, w->sc.nr) < 0 ||
        set_syscall_args(w->obj, w->sc.args) < 0)
        return -ENOMEM;
    return 0;
}

static int queue_signal(int tid, int signo, uint64_t ticket)
{
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    si.si_signo = signo;
    si.si_code = SI_QUEUE;
    si.si_pid = getpid();
    si.si_uid = getuid();
    si.si_value.sival_ptr = (void *)(uintptr_t)ticket;
    if (syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, signo, &si) < 0)
        return -errno;
    return 0;
}

/*
 * Why a thread will not take the capture signal, or NULL when it will.  *@transient is set
 * when the reason may pass: a thread blocks the signal while it runs the handler for an
 * earlier capture, until the handler returns.
 */
static const char *signal_obstacle(struct report *rp, int tid, int signo, char *buf, size_t size,
                                   bool *transient)
{
    *transient = false;
    char path[32], text[4096];
    snprintf(path, sizeof(path), "%d/status", tid);
    struct gmr__task_masks m;
    if (gmr__read_small(rp->dirfd, path, text, sizeof(text)) <= 0)
        return "exited before it could be captured";
    if (gmr__parse_task_status(text, &m) < 0)
        return NULL; /* no masks to go by: try */
    char name[32];
    gmr__signal_name(signo, name, sizeof(name));
    uint64_t bit = 1ull << (signo - 1);
    if (m.ignored & bit) {
        snprintf(buf, size, "running, and the process ignores the capture signal (%s)", name);
        return buf;
    }
    if (m.blocked & bit) {
        snprintf(buf, size, "running, and it blocks the capture signal (%s)", name);
        *transient = true;
        return buf;
    }
    return NULL;
}

/* Waits until every armed slot is done or @deadline passes. */
static void wait_answers(struct gmr__capture *c, const int *slots, int n, uint64_t deadline)
{
    for (;;) {
        uint32_t seen = atomic_load_explicit(&c->answers, memory_order_acquire);
        bool all = true;
        for (int i = 0; i < n && all; i++)
            all = atomic_load_explicit(&c->slots[slots[i]].claim, memory_order_acquire) ==
                  GMR_SLOT_DONE;
        if (all)
            return;
        uint64_t now = now_ns();
        if (now >= deadline)
            return;
        uint64_t left = deadline - now;
        struct timespec rel = {(time_t)(left / 1000000000u), (long)(left % 1000000000u)};
        syscall(SYS_futex, &c->answers, FUTEX_WAIT_PRIVATE, seen, &rel, NULL, 0);
    }
}

/* Takes a slot back from an unanswered arming.  Return: true when a handler wrote it after all. */
static bool disarm(struct gmr__capture *c, int i, uint64_t ticket)
{
    struct gmr__slot *s = &c->slots[i];
    uint64_t expected = ticket;
    if (atomic_compare_exchange_strong(&s->claim, &expected, GMR_SLOT_IDLE))
        return false;
    /* A handler claimed it just now: it does not wait for anything, so it finishes soon. */
    uint64_t until = now_ns() + BUSY_GRACE_NS;
    while (atomic_load_explicit(&s->claim, memory_order_acquire) == GMR_SLOT_BUSY &&
           now_ns() < until) {
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
    if (atomic_load_explicit(&s->claim, memory_order_acquire) == GMR_SLOT_DONE)
        return true;
    inst.stuck[i] = true; /* skipped until its handler finishes */
    return false;
}

static int signal_done(struct report *rp, struct work *w, struct gmr__slot *s)
{
    rp->n_signal++;
    uint64_t interrupted = s->leave_ns - s->enter_ns;
    if (interrupted > rp->max_interrupted_ns)
        rp->max_interrupted_ns = interrupted;
    if (set_str(w->obj, "capture", "signal") < 0 ||
        set_int(w->obj, "interrupted_ns", (json_int_t)interrupted) < 0)
        return -ENOMEM;
    if (w->fallback[0] && set_str(w->obj, "note", w->fallback) < 0)
        return -ENOMEM;
    struct gmr__unwind_mem mem = {.addr = s->stack_addr, .data = s->stack, .len = s->stack_len};
    if (!rp->sym)
        return unavailable(rp, w, "captured, but the unwinder is unavailable");
    int r = walk(rp, gmr__sym_unwind_dwfl(rp->sym), w->tid, &s->regs, &mem);
    if (r < 0)
        return set_str(w->obj, "unwind_error", rp->res.error);
    return keep_walk(rp, w);
}

/*
 * The signal path for every thread in @todo, in batches of the free slots.  Threads that
 * block the signal are looked at once more at the end (@final false), in case they were only
 * finishing an earlier capture's handler.
 */
static int capture_signal(struct report *rp, struct work **todo, int n, bool final)
{
    struct gmr__capture *c = inst.cap;
    char name[32], why[320];
    if (!c) {
        for (int i = 0; i < n; i++) {
            snprintf(why, sizeof(why),
                     "%s; without gmr_setup_autorun() there is no capture "
                     "signal to capture it with",
                     todo[i]->fallback[0] ? todo[i]->fallback : "running");
            if (unavailable(rp, todo[i], why) < 0)
                return -ENOMEM;
        }
        return 0;
    }
    gmr__signal_name(c->signo, name, sizeof(name));
    struct sigaction cur;
    if (n > 0 && (sigaction(c->signo, NULL, &cur) < 0 || !(cur.sa_flags & SA_SIGINFO) ||
                  cur.sa_sigaction != gmr__as_capture_handler)) {
        snprintf(why, sizeof(why),
                 "running; the application replaced the handler of the "
                 "capture signal (%s)",
                 name);
        for (int i = 0; i < n; i++) {
            if (unavailable(rp, todo[i], why) < 0)
                return -ENOMEM;
        }
        return 0;
    }

    /* Slots whose handler finished since an earlier report are free again. */
    for (int i = 0; i < GMR_CAPTURE_SLOTS; i++) {
        if (inst.stuck[i] && atomic_load(&c->slots[i].claim) == GMR_SLOT_DONE)
            inst.stuck[i] = false;
        if (!inst.stuck[i])
            atomic_store(&c->slots[i].claim, GMR_SLOT_IDLE);
    }
    uint64_t seed = random_seed();
    uint64_t start = now_ns();
    uint64_t deadline = start + inst.timeout_ns;
    struct work **deferred = final ? NULL : gmr__calloc((size_t)n + 1, sizeof(*deferred));
    int ndeferred = 0;
    if (!final && !deferred)
        return -ENOMEM;
    int ret = -ENOMEM;
    int next = 0;
    while (next < n) {
        int slots[GMR_CAPTURE_SLOTS];
        struct work *owner[GMR_CAPTURE_SLOTS];
        uint64_t tickets[GMR_CAPTURE_SLOTS];
        int armed = 0;
        for (int i = 0; i < GMR_CAPTURE_SLOTS && next < n; i++) {
            if (inst.stuck[i])
                continue;
            struct work *w = todo[next++];
            bool transient;
            const char *obstacle =
                signal_obstacle(rp, w->tid, c->signo, why, sizeof(why), &transient);
            if (obstacle && transient && !final) {
                deferred[ndeferred++] = w;
                i--;
                continue;
            }
            if (obstacle) {
                if (unavailable(rp, w, obstacle) < 0)
                    goto out;
                i--; /* the slot is still free */
                continue;
            }
            struct gmr__slot *s = &c->slots[i];
            uint64_t cookie = (mix64(seed + ++inst.arm_seq) & 0xFFFFFFFFFFFFull) | 1u;
            uint64_t ticket = cookie << 16 | (uint64_t)i;
            s->tid = w->tid;
            s->answered_tid = 0;
            atomic_store_explicit(&s->claim, ticket, memory_order_release);
            int r = queue_signal(w->tid, c->signo, ticket);
            if (r < 0) {
                atomic_store(&s->claim, GMR_SLOT_IDLE);
                if (r == -ESRCH)
                    snprintf(why, sizeof(why), "exited before it could be captured");
                else
                    snprintf(why, sizeof(why), "the capture signal could not be sent: %s",
                             strerror(-r));
                if (unavailable(rp, w, why) < 0)
                    goto out;
                i--;
                continue;
            }
            slots[armed] = i;
            owner[armed] = w;
            tickets[armed] = ticket;
            armed++;
        }
        if (armed == 0 && next < n) {
            /* Every slot is stuck: give up on the rest. */
            for (; next < n; next++) {
                if (unavailable(rp, todo[next], "no capture slot is free") < 0)
                    goto out;
            }
            break;
        }
        wait_answers(c, slots, armed, deadline);
        for (int k = 0; k < armed; k++) {
            struct gmr__slot *s = &c->slots[slots[k]];
            struct work *w = owner[k];
            bool done = atomic_load_explicit(&s->claim, memory_order_acquire) == GMR_SLOT_DONE ||
                        disarm(c, slots[k], tickets[k]);
            int r;
            if (done && s->answered_tid == w->tid) {
                r = signal_done(rp, w, s);
            } else {
                char st[64] = "";
                char path[32], buf[1024];
                struct gmr__task_stat ts;
                snprintf(path, sizeof(path), "%d/stat", w->tid);
                bool alive = gmr__read_small(rp->dirfd, path, buf, sizeof(buf)) > 0 &&
                             gmr__parse_task_stat(buf, &ts) == 0 && ts.state != 'Z';
                if (alive)
                    snprintf(st, sizeof(st), "; it is %s", gmr__task_state_name(ts.state));
                if (!alive)
                    snprintf(why, sizeof(why), "exited before it could be captured");
                else
                    snprintf(why, sizeof(why),
                             "did not answer the capture signal (%s) within %" PRIu64 " ms%s", name,
                             inst.timeout_ns / 1000000u, st);
                r = unavailable(rp, w, why);
            }
            if (done)
                atomic_store(&s->claim, GMR_SLOT_IDLE);
            if (r < 0) {
                ret = r;
                goto out;
            }
        }
        if (now_ns() >= deadline) {
            for (; next < n; next++) {
                snprintf(why, sizeof(why),
                         "not captured: the capture deadline (%" PRIu64
                         " ms) passed before its turn",
                         inst.timeout_ns / 1000000u);
                if (unavailable(rp, todo[next], why) < 0)
                    goto out;
            }
        }
    }
    ret = 0;
    if (ndeferred > 0) {
        /* Give a handler that was returning a moment to finish, then look again. */
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
        ret = capture_signal(rp, deferred, ndeferred, true);
    }
out:
    gmr__free(deferred);
    return ret;
}

/* What the read-ahead helper needs to probe the threads. */
struct probe_ctx {
    int dirfd;
    struct work *work;
    int self_tid;
};

static void probe_one(void *ctx, int i)
{
    struct probe_ctx *pc = ctx;
    probe(pc->dirfd, &pc->work[i], pc->self_tid);
}

static void release_one(void *ctx, int i)
{
    struct probe_ctx *pc = ctx;
    struct work *w = &pc->work[i];
    if (w->recheck)
        recheck_quiet(w);
    close_task_files(w);
}

static int fill(json_t *section, int self_tid, bool group, struct report *rp)
{
    uint64_t start = now_ns();
    json_t *threads = json_array();
    if (!threads || json_object_set_new(section, "threads", threads) < 0)
        return -ENOMEM;
    if (json_object_set_new(section, "group_identical", json_boolean(group)) < 0 ||
        set_int(section, "max_frames", GMR_MAX_FRAMES) < 0)
        return -ENOMEM;
    if (inst.cap) {
        char name[32];
        gmr__signal_name(inst.cap->signo, name, sizeof(name));
        if (set_str(section, "capture_signal", name) < 0 ||
            set_int(section, "capture_timeout_ms", (json_int_t)(inst.timeout_ns / 1000000u)) < 0)
            return -ENOMEM;
    }

    const char *symerr = NULL;
    int r = gmr__sym_get(&rp->sym, &symerr);
    if (r == -ENOMEM)
        return r;
    if (r < 0) {
        rp->sym = NULL;
        char msg[256];
        snprintf(msg, sizeof(msg), "symbolization unavailable: %s", symerr ? symerr : strerror(-r));
        if (set_str(section, "note", msg) < 0)
            return -ENOMEM;
    }

    int *tids = gmr__malloc(GMR_MAX_THREADS * sizeof(int));
    if (!tids)
        return -ENOMEM;
    int found = gmr__list_tasks(rp->dirfd, tids, GMR_MAX_THREADS);
    if (found < 0) {
        gmr__free(tids);
        return found;
    }
    int n = GMR_MIN(found, GMR_MAX_THREADS);
    struct work *work = gmr__calloc((size_t)n + 1, sizeof(*work));
    struct work **todo = gmr__calloc((size_t)n + 1, sizeof(*todo));
    rp->window = gmr__malloc(QUIET_WINDOW);
    r = -ENOMEM;
    if (!work || !todo || !rp->window)
        goto out;

    long clk_tck = sysconf(_SC_CLK_TCK);
    for (int i = 0; i < n; i++) {
        work[i].tid = tids[i];
        work[i].fd_syscall = work[i].fd_sched = -1;
    }
    /*
     * Each thread is walked right after its task files are read, which a helper thread does a
     * few threads ahead (their files are open only meanwhile): on two cores the reading and
     * the walking take about the same time.
     */
    struct probe_ctx pc = {.dirfd = rp->dirfd, .work = work, .self_tid = self_tid};
    struct gmr__ahead ahead = {
        .prepare = probe_one, .release = release_one, .ctx = &pc, .n = n, .lookahead = PROBE_AHEAD};
    gmr__ahead_start(&ahead);
    int failed = 0;
    for (int i = 0; i < n && !failed; i++) {
        gmr__ahead_get(&ahead, i);
        work[i].obj = json_object();
        if (!work[i].obj || json_array_append_new(threads, work[i].obj) < 0)
            failed = -ENOMEM;
        if (!failed)
            failed = classify(rp, &work[i], self_tid, clk_tck);
        if (!failed && work[i].path == PATH_QUIET)
            failed = capture_quiet(rp, &work[i]);
        gmr__ahead_put(&ahead, i);
    }
    gmr__ahead_finish(&ahead);
    for (int i = 0; i < n && !failed; i++) {
        if (work[i].path == PATH_QUIET)
            failed = quiet_verdict(rp, &work[i]);
    }
    if (failed) {
        r = failed;
        goto out;
    }
    int ntodo = 0;
    for (int i = 0; i < n; i++) {
        if (work[i].path == PATH_SIGNAL)
            todo[ntodo++] = &work[i];
    }
    uint64_t t_signal = now_ns();
    r = capture_signal(rp, todo, ntodo, false);
    rp->signal_ns = now_ns() - t_signal;
    if (r < 0)
        goto out;

    /* Every stack is walked: describe the frames, once the helper has loaded their DWARF. */
    uint64_t t_describe = now_ns();
    if (rp->sym)
        gmr__sym_prefetch_wait(rp->sym);
    for (int i = 0; i < n; i++) {
        if (work[i].walked && (r = add_frames(rp, work[i].obj, &work[i].walk)) < 0)
            goto out;
    }
    rp->symbolize_ns = now_ns() - t_describe;

    r = -ENOMEM;
    if (found > n && set_int(section, "threads_not_shown", found - n) < 0)
        goto out;
    json_t *stats = json_pack("{s:i, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I}", "threads", n,
                              "quiet", rp->n_quiet, "signal", rp->n_signal, "not_captured",
                              rp->n_none, "max_interrupted_ns", (json_int_t)rp->max_interrupted_ns,
                              "elapsed_us", (json_int_t)((now_ns() - start) / 1000u), "unwind_us",
                              (json_int_t)(rp->unwind_ns / 1000u), "symbolize_us",
                              (json_int_t)(rp->symbolize_ns / 1000u), "signal_phase_us",
                              (json_int_t)(rp->signal_ns / 1000u));
    if (!stats || json_object_set_new(section, "stats", stats) < 0)
        goto out;
    r = 0;
out:
    if (rp->sym)
        gmr__sym_prefetch_wait(rp->sym);
    for (int i = 0; work && i < n; i++)
        kept_walk_done(&work[i].walk);
    gmr__free(rp->window);
    gmr__free(todo);
    gmr__free(work);
    gmr__free(tids);
    return r;
}

int gmr__threads_section(json_t *section, int self_tid, bool group)
{
    struct report *rp = gmr__calloc(1, sizeof(*rp));
    if (!rp)
        return -ENOMEM;
    rp->self_tid = (int)syscall(SYS_gettid);
    rp->pid = getpid();
    rp->dirfd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rp->dirfd < 0) {
        int r = -errno;
        gmr__free(rp);
        return r;
    }
    gmr__sym_lock();
    int r = fill(section, self_tid, group, rp);
    gmr__sym_unlock();
    close(rp->dirfd);
    gmr__free(rp);
    return r;
}
