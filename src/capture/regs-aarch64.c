/*
 * aarch64 specifics that are not needed in signal context: system call names.
 */
#include "config.h"

#include "capture/regs.h"

#if defined(__aarch64__)

#include <stddef.h>

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

#else
typedef int gmr__regs_aarch64_unused;
#endif /* __aarch64__ */
