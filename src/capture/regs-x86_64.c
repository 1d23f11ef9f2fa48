/*
 * x86_64 specifics that are not needed in signal context: system call names, and telling a
 * return address from other words on a stack.
 */
#include "config.h"

#include "capture/regs.h"

#if defined(__x86_64__)

#include <stddef.h>

#include "capture/capture.h"

struct syscall_name {
    long nr;
    const char *name;
};

/* The calls threads usually block in (arch/x86/entry/syscalls/syscall_64.tbl). */
static const struct syscall_name names[] = {
    {0, "read"},          {1, "write"},           {2, "open"},          {3, "close"},
    {7, "poll"},          {16, "ioctl"},          {17, "pread64"},      {18, "pwrite64"},
    {19, "readv"},        {20, "writev"},         {23, "select"},       {24, "sched_yield"},
    {34, "pause"},        {35, "nanosleep"},      {40, "sendfile"},     {42, "connect"},
    {43, "accept"},       {44, "sendto"},         {45, "recvfrom"},     {46, "sendmsg"},
    {47, "recvmsg"},      {61, "wait4"},          {65, "semop"},        {70, "msgrcv"},
    {73, "flock"},        {74, "fsync"},          {75, "fdatasync"},    {128, "rt_sigtimedwait"},
    {130, "rt_sigsuspend"}, {202, "futex"},       {208, "io_getevents"}, {230, "clock_nanosleep"},
    {232, "epoll_wait"},  {247, "waitid"},        {257, "openat"},      {270, "pselect6"},
    {271, "ppoll"},       {275, "splice"},        {281, "epoll_pwait"}, {288, "accept4"},
    {299, "recvmmsg"},    {426, "io_uring_enter"}, {441, "epoll_pwait2"}, {449, "futex_waitv"},
};

const char *gmr__syscall_name(long nr)
{
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (names[i].nr == nr)
            return names[i].name;
    }
    return NULL;
}

/* The longest call: ff /2 with a SIB byte and a 32-bit displacement. */
#define LONGEST_CALL 7

/*
 * Length of an "ff /2" (call near, absolute indirect) instruction whose ModRM byte is
 * @modrm and SIB byte (when it has one) @sib; 0 when the ModRM byte is not one of a call.
 */
static size_t indirect_call_length(unsigned char modrm, unsigned char sib)
{
    unsigned mod = modrm >> 6, reg = (modrm >> 3) & 7, rm = modrm & 7;
    if (reg != 2)
        return 0;
    if (mod == 3)
        return 2; /* call *%reg */
    size_t len = 2;
    if (rm == 4) {
        len++; /* SIB */
        if (mod == 0 && (sib & 7) == 5)
            len += 4; /* no base: disp32 */
    } else if (mod == 0 && rm == 5) {
        len += 4; /* rip-relative disp32 */
    }
    if (mod == 1)
        len += 1;
    else if (mod == 2)
        len += 4;
    return len;
}

bool gmr__regs_call_before(const unsigned char *code, size_t n)
{
    /* e8 rel32: call near, relative. */
    if (n >= 5 && code[n - 5] == 0xe8)
        return true;
    /* ff /2: 2, 3, 4, 6 or 7 bytes; prefixes (REX, notrack) come before the ff. */
    for (size_t len = 2; len <= LONGEST_CALL && len <= n; len++) {
        const unsigned char *insn = code + n - len;
        if (insn[0] == 0xff && indirect_call_length(insn[1], len > 2 ? insn[2] : 0) == len)
            return true;
    }
    return false;
}

bool gmr__regs_follows_call(uint64_t ret)
{
    unsigned char code[LONGEST_CALL];
    if (ret < LONGEST_CALL)
        return false;
    size_t n = gmr__as_read_memory(ret - LONGEST_CALL, code, sizeof(code));
    if (n == sizeof(code))
        return gmr__regs_call_before(code, n);
    /* The bytes before the page of @ret are not mapped: look at those on its page only. */
    uint64_t page = ret & ~(uint64_t)4095;
    n = (size_t)(ret - page);
    if (n == 0 || gmr__as_read_memory(page, code, n) != n)
        return false;
    return gmr__regs_call_before(code, n);
}

#else
typedef int gmr__regs_x86_64_unused;
#endif /* __x86_64__ */
