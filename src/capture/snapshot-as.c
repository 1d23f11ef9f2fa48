/*
 * The capture signal's handler (signal path of the Threads section): async-signal-safe code
 * only.
 *
 * The reporter arms a slot with a ticket (a per-report random cookie and the slot index) and
 * queues the capture signal to one thread with rt_tgsigqueueinfo(), the ticket in si_value.
 * The handler claims the slot by swapping the ticket for BUSY, so a signal that carries
 * anything else -- sent by another process, forged, or arriving after the reporter gave up on
 * the slot and re-armed or disarmed it -- finds no matching ticket and changes nothing.
 */
#include "config.h"

#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "capture/capture.h"

/* The published table; NULL when no capture handler is installed. */
static _Atomic(struct gmr__capture *) current;
/* Handlers between their load of `current` and their last access to the table. */
static atomic_int in_flight;

#define PAGE_BYTES 4096u
#define MAX_IOV    32

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

size_t gmr__as_read_memory(uint64_t addr, void *buf, size_t len)
{
    return gmr__as_read_memory_as((int)syscall(SYS_gettid), addr, buf, len);
}

size_t gmr__as_read_memory_as(int self_tid, uint64_t addr, void *buf, size_t len)
{
    /*
     * process_vm_readv() on our own pid reads through the page tables and returns a short
     * count at the first unmapped page instead of faulting.  One remote iovec per page keeps
     * the stop exact whatever granularity the kernel applies to partial transfers.  The
     * calling thread's id, not the pid: once the main thread has exited, the pid names a
     * zombie without memory, and every read would fail (ESRCH).
     */
    pid_t pid = (pid_t)self_tid;
    size_t done = 0;
    while (done < len) {
        struct iovec local = {(char *)buf + done, 0};
        struct iovec remote[MAX_IOV];
        int n = 0;
        uint64_t a = addr + done;
        size_t want = 0;
        while (n < MAX_IOV && done + want < len) {
            size_t in_page = PAGE_BYTES - (size_t)((a + want) % PAGE_BYTES);
            size_t chunk = len - done - want < in_page ? len - done - want : in_page;
            remote[n].iov_base = (void *)(uintptr_t)(a + want);
            remote[n].iov_len = chunk;
            want += chunk;
            n++;
        }
        local.iov_len = want;
        ssize_t got = process_vm_readv(pid, &local, 1, remote, (unsigned long)n, 0);
        if (got <= 0)
            break;
        done += (size_t)got;
        if ((size_t)got < want)
            break;
    }
    return done;
}

void gmr__as_capture_handler(int signo, siginfo_t *info, void *ucontext)
{
    (void)signo;
    int saved_errno = errno;
    uint64_t enter = now_ns();

    atomic_fetch_add(&in_flight, 1);
    struct gmr__capture *c = atomic_load_explicit(&current, memory_order_acquire);
    if (!c || !info || !ucontext || info->si_code != SI_QUEUE || info->si_pid != getpid())
        goto out;

    uint64_t ticket = (uint64_t)(uintptr_t)info->si_value.sival_ptr;
    unsigned idx = (unsigned)(ticket & 0xffffu);
    if (ticket < (1u << 16) || idx >= GMR_CAPTURE_SLOTS)
        goto out;
    struct gmr__slot *s = &c->slots[idx];
    uint64_t expected = ticket;
    if (!atomic_compare_exchange_strong_explicit(&s->claim, &expected, GMR_SLOT_BUSY,
                                                 memory_order_acquire, memory_order_relaxed))
        goto out;

    s->answered_tid = (int)syscall(SYS_gettid);
    gmr__regs_from_ucontext(s->regs.r, &s->regs.sp, &s->regs.pc, (const ucontext_t *)ucontext);
    s->regs.full = true;
    s->stack_addr = s->regs.sp;
    s->stack_len = gmr__as_read_memory(s->regs.sp, s->stack, GMR_SNAPSHOT_BYTES);
    s->enter_ns = enter;
    s->leave_ns = now_ns();
    atomic_store_explicit(&s->claim, GMR_SLOT_DONE, memory_order_release);

    atomic_fetch_add_explicit(&c->answers, 1, memory_order_release);
    syscall(SYS_futex, &c->answers, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
out:
    atomic_fetch_sub(&in_flight, 1);
    errno = saved_errno;
}

void gmr__as_capture_publish(struct gmr__capture *c)
{
    atomic_store_explicit(&current, c, memory_order_release);
    if (c)
        return;
    while (atomic_load(&in_flight) > 0) {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
}

void gmr__as_capture_reset_after_fork(void)
{
    atomic_store(&in_flight, 0);
}
