/*
 * x86_64 specifics that are not needed in signal context: system call names.
 */
#include "config.h"

#include "capture/regs.h"

#if defined(__x86_64__)

#include <stddef.h>

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

#else
typedef int gmr__regs_x86_64_unused;
#endif /* __x86_64__ */
