/*
 * Internals of the Threads section shared by its files: the slot table the capture signal's
 * handler writes into (signal path), the /proc parsers (tasks.c) and the libdwfl unwinder
 * over captured registers and stack bytes (unwind.c).
 */
#ifndef GMR_CAPTURE_CAPTURE_H
#define GMR_CAPTURE_CAPTURE_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "capture/regs.h"

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "the capture handler needs lock-free 64-bit atomics");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the capture handler needs lock-free atomic ints");

/* Threads listed in one report; more are counted ("threads_not_shown"). */
#define GMR_MAX_THREADS 8192
/* Signal-path captures in flight at once; threads are signalled in batches of this size. */
#define GMR_CAPTURE_SLOTS 64
/* Bytes of stack the handler copies, starting at the interrupted stack pointer. */
#define GMR_SNAPSHOT_BYTES (64 * 1024)
/* Physical frames unwound and shown per thread; deeper ones are only counted. */
#define GMR_MAX_FRAMES 256
/* Deepest a stack is walked to count the frames not shown. */
#define GMR_MAX_COUNTED_FRAMES 65536

/*
 * Values of gmr__slot.claim besides an armed ticket.  A ticket is (cookie << 16 | slot index)
 * with a non-zero 48-bit cookie, so it is never below 1 << 16.
 */
#define GMR_SLOT_IDLE 0u
#define GMR_SLOT_BUSY 1u /* a handler is writing the slot */
#define GMR_SLOT_DONE 2u /* a handler wrote the slot; the reporter may read it */

/* One signal-path capture.  Written by one handler call between BUSY and DONE. */
struct gmr__slot {
    _Atomic uint64_t claim;  /* IDLE, an armed ticket, BUSY or DONE; see above */
    int tid;                 /* thread the reporter signalled; set before arming */
    int answered_tid;        /* gettid() in the handler */
    struct gmr__regs regs;   /* interrupted registers */
    uint64_t stack_addr;     /* address the snapshot starts at (the stack pointer) */
    size_t stack_len;        /* bytes in @stack */
    uint64_t enter_ns;       /* CLOCK_MONOTONIC at handler entry */
    uint64_t leave_ns;       /* CLOCK_MONOTONIC just before the slot is published */
    unsigned char *stack;    /* GMR_SNAPSHOT_BYTES, inside gmr__capture.arena */
};

/*
 * What the capture handler may touch: allocated by gmr__threads_install() before the handler
 * is installed, reached only through the pointer gmr__as_capture_publish() stores.
 */
struct gmr__capture {
    int signo;                                /* the capture signal */
    struct gmr__slot slots[GMR_CAPTURE_SLOTS];
    _Atomic uint32_t answers;                 /* futex word: +1 per published slot */
    void *arena;                              /* mmap'd snapshot buffers; owned */
    size_t arena_size;
};

/*
 * gmr__as_capture_publish() - make @c the table the handler uses (NULL: none).  Unpublishing
 * waits until no handler still uses the previous table.
 * Context: ordinary code (install, uninstall).
 */
void gmr__as_capture_publish(struct gmr__capture *c);

/*
 * In a fork child: forget the handler calls that were running on the parent's other threads
 * at fork() (they do not exist here; the count would make unpublishing wait for good).  The
 * table stays published: the child's reports use it.  Context: atfork child.
 */
void gmr__as_capture_reset_after_fork(void);

/*
 * gmr__as_capture_handler() - the capture signal's handler.  Acts only on a signal queued by
 * this process (SI_QUEUE, si_pid == getpid()) whose value is the ticket of an armed slot;
 * anything else is ignored.  Copies registers and up to GMR_SNAPSHOT_BYTES of stack, publishes
 * the slot, wakes the reporter.
 * Context: async-signal-safe.
 */
void gmr__as_capture_handler(int signo, siginfo_t *info, void *ucontext);

/*
 * gmr__as_read_memory() - copy up to @len bytes at address @addr of this process into @buf
 * without faulting: stops at the first unmapped page.
 * Return: bytes copied (0 when @addr is not readable).
 * Context: async-signal-safe.
 */
size_t gmr__as_read_memory(uint64_t addr, void *buf, size_t len);

/*
 * gmr__as_read_memory_as() - the same, for a caller that knows its own thread id @self_tid
 * (saves a gettid() per call in a loop).
 * Context: async-signal-safe.
 */
size_t gmr__as_read_memory_as(int self_tid, uint64_t addr, void *buf, size_t len);

/* ---- /proc parsing (tasks.c); pure functions over the file's text, for unit tests ---- */

/* From /proc/self/task/TID/stat. */
struct gmr__task_stat {
    char name[64];      /* comm, as the kernel shows it (at most 15 bytes + NUL in practice) */
    char state;         /* 'R', 'S', 'D', 'T', 't', 'Z', 'X', 'I', ... */
    uint64_t utime;     /* clock ticks in user mode */
    uint64_t stime;     /* clock ticks in kernel mode */
};

/* Return: 0 or -EINVAL (not a stat line). */
int gmr__parse_task_stat(const char *text, struct gmr__task_stat *ret);

/* State letter to the word the Processes section also uses ("sleeping"). */
const char *gmr__task_state_name(char state);

/* From /proc/self/task/TID/syscall. */
struct gmr__task_syscall {
    enum {
        GMR_SYSCALL_BLOCKED, /* in system call @nr; @sp and @pc valid */
        GMR_SYSCALL_RUNNING, /* "running": on a CPU, no registers */
        GMR_SYSCALL_NONE,    /* "-1 sp pc": blocked in the kernel, not in a system call */
    } kind;
    long nr;
    uint64_t args[6];
    uint64_t sp;
    uint64_t pc;
};

/* Return: 0 or -EINVAL. */
int gmr__parse_task_syscall(const char *text, struct gmr__task_syscall *ret);

/* SigBlk / SigIgn masks from /proc/self/task/TID/status (bit n-1 = signal n). */
struct gmr__task_masks {
    uint64_t blocked;
    uint64_t ignored;
};

/* Return: 0 or -EINVAL (a mask line is missing). */
int gmr__parse_task_status(const char *text, struct gmr__task_masks *ret);

/*
 * gmr__pread_proc() - read a /proc file that the kernel shows in one piece (one seq_file
 * record: a task's stat, syscall, schedstat) from its start, into @buf (NUL terminated).
 * The kernel regenerates the text on every read at offset 0, so an open file can be read
 * again for fresh values; a read that does not fill @buf is the whole file (no read to EOF).
 * Return: bytes read or -errno.
 */
ssize_t gmr__pread_proc(int fd, char *buf, size_t size);

/*
 * gmr__list_tasks() - the thread ids of this process, ascending, at most @max.
 * @dirfd:  an open /proc/self/task directory
 * Return: the number of threads found (may exceed @max: only @max are stored) or -errno.
 */
int gmr__list_tasks(int dirfd, int *tids, int max);

#endif /* GMR_CAPTURE_CAPTURE_H */
