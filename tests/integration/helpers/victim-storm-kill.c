/*
 * Sender for the storm and security tests: signals another process as fast as it can.
 *   victim-storm-kill PID COUNT kill       COUNT x kill(PID, SIGUSR2)
 *   victim-storm-kill PID COUNT sigqueue   COUNT x sigqueue(PID, SIGUSR2, i)
 *   victim-storm-kill PID COUNT forge SIG [TID]
 *       COUNT x rt_sigqueueinfo(PID, SIG) (rt_tgsigqueueinfo to thread TID when given) with
 *       a forged siginfo: si_code SI_QUEUE, si_pid = PID (the target's own pid), si_value
 *       cycling through 0, small numbers, values shaped like capture tickets and random bits
 * Prints "SENT <n> <failed> <microseconds>" and exits 0.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s PID COUNT kill|sigqueue|forge [SIG [TID]]\n", argv[0]);
        return 64;
    }
    pid_t pid = (pid_t)atoi(argv[1]);
    long count = atol(argv[2]);
    const char *mode = argv[3];
    int sig = argc > 4 ? atoi(argv[4]) : SIGUSR2;
    pid_t tid = argc > 5 ? (pid_t)atoi(argv[5]) : 0;
    uint64_t seed = (uint64_t)now_us() | 1;
    long failed = 0;

    uint64_t t0 = now_us();
    for (long i = 0; i < count; i++) {
        int r;
        if (strcmp(mode, "kill") == 0) {
            r = kill(pid, SIGUSR2);
        } else if (strcmp(mode, "sigqueue") == 0) {
            union sigval v = {.sival_int = (int)i};
            r = sigqueue(pid, SIGUSR2, v);
        } else {
            siginfo_t si;
            memset(&si, 0, sizeof(si));
            si.si_signo = sig;
            si.si_code = SI_QUEUE;
            si.si_pid = pid;
            si.si_uid = getuid();
            uint64_t v;
            switch (i % 4) {
            case 0:
                v = (uint64_t)(i % 70);
                break;
            case 1:
                v = (next_random(&seed) << 16) | (uint64_t)(i % 64); /* a ticket's shape */
                break;
            case 2:
                v = (uint64_t)i << 16;
                break;
            default:
                v = next_random(&seed);
                break;
            }
            si.si_value.sival_ptr = (void *)(uintptr_t)v;
            r = tid ? (int)syscall(SYS_rt_tgsigqueueinfo, pid, tid, sig, &si)
                    : (int)syscall(SYS_rt_sigqueueinfo, pid, sig, &si);
        }
        if (r < 0)
            failed++;
    }
    printf("SENT %ld %ld %llu\n", count - failed, failed, (unsigned long long)(now_us() - t0));
    return 0;
}
