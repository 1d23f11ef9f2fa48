/*
 * aarch64 specifics that are not needed in signal context: system call names, and telling a
 * return address from other words on a stack.
 */
#include "config.h"

#include "capture/regs.h"

#if defined(__aarch64__)

#include <stddef.h>
#include <string.h>

#include "capture/capture.h"

struct syscall_name {
    long nr;
    const char *name;
};

/* The calls threads usually block in (include/uapi/asm-generic/unistd.h). */
static const struct syscall_name names[] = {
    {4, "io_getevents"},  {22, "epoll_pwait"},    {29, "ioctl"},        {32, "flock"},
    {56, "openat"},       {57, "close"},          {63, "read"},         {64, "write"},
    {65, "readv"},        {66, "writev"},         {67, "pread64"},      {68, "pwrite64"},
    {72, "pselect6"},     {73, "ppoll"},          {82, "fsync"},        {83, "fdatasync"},
    {95, "waitid"},       {98, "futex"},          {101, "nanosleep"},   {115, "clock_nanosleep"},
    {124, "sched_yield"}, {133, "rt_sigsuspend"}, {137, "rt_sigtimedwait"}, {188, "msgrcv"},
    {193, "semop"},       {202, "accept"},        {203, "connect"},     {206, "sendto"},
    {207, "recvfrom"},    {211, "sendmsg"},       {212, "recvmsg"},     {242, "accept4"},
    {260, "wait4"},       {426, "io_uring_enter"}, {441, "epoll_pwait2"}, {449, "futex_waitv"},
};

const char *gmr__syscall_name(long nr)
{
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (names[i].nr == nr)
            return names[i].name;
    }
    return NULL;
}

bool gmr__regs_call_before(const unsigned char *code, size_t n)
{
    if (n < 4)
        return false;
    uint32_t insn;
    memcpy(&insn, code + n - 4, sizeof(insn)); /* instructions are little-endian */
    if (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)
        insn = __builtin_bswap32(insn);
    return (insn & 0xfc000000u) == 0x94000000u ||  /* BL imm26 */
           (insn & 0xfffffc1fu) == 0xd63f0000u ||  /* BLR Xn */
           (insn & 0xfffffc1fu) == 0xd63f081fu ||  /* BLRAAZ Xn */
           (insn & 0xfffffc1fu) == 0xd63f0c1fu ||  /* BLRABZ Xn */
           (insn & 0xfffffc00u) == 0xd73f0800u ||  /* BLRAA Xn, Xm */
           (insn & 0xfffffc00u) == 0xd73f0c00u;    /* BLRAB Xn, Xm */
}

bool gmr__regs_follows_call(uint64_t ret)
{
    unsigned char code[4];
    if (ret < 4 || (ret & 3) != 0)
        return false;
    return gmr__as_read_memory(ret - 4, code, sizeof(code)) == sizeof(code) &&
           gmr__regs_call_before(code, sizeof(code));
}

#else
typedef int gmr__regs_aarch64_unused;
#endif /* __aarch64__ */
