/*
 * A program that knows nothing of libgmr, for the LD_PRELOAD tests.  It prints READY, then
 * reads commands from stdin, one per line:
 *   query             print the SIGUSR2 disposition it sees: "DISP default|ignore|handler"
 *   sigaction         install its own SIGUSR2 handler with sigaction(); print "OLD <disp>"
 *   signal            the same with signal()
 *   default           set SIGUSR2 to SIG_DFL with sigaction(); print "OLD <disp>"
 *   count             print "COUNT <n>", the runs of its own handler
 *   fork              fork a child that parks like the parent; print "CHILD <pid>"
 *   exec              fork a child that execs "sleep 30"; print "CHILD <pid>"
 *   ping              print "PONG"
 * It exits on EOF.  Its main thread parks in plain_park_in_read(), a known frame.
 */
#define _GNU_SOURCE 1

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_int handler_runs;

static void own_handler(int signo)
{
    (void)signo;
    atomic_fetch_add(&handler_runs, 1);
}

static const char *describe(const struct sigaction *sa)
{
    if (sa->sa_handler == SIG_DFL)
        return "default";
    if (sa->sa_handler == SIG_IGN)
        return "ignore";
    return sa->sa_handler == own_handler ? "own" : "handler";
}

__attribute__((noinline)) static char *plain_park_in_read(char *buf, int size)
{
    char *r = fgets(buf, size, stdin);
    __asm__ volatile("" ::: "memory");
    return r;
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("READY\n");
    char line[256];
    while (plain_park_in_read(line, sizeof(line))) {
        line[strcspn(line, "\n")] = '\0';
        struct sigaction sa, old;
        memset(&sa, 0, sizeof(sa));
        sigemptyset(&sa.sa_mask);
        if (strcmp(line, "query") == 0) {
            sigaction(SIGUSR2, NULL, &old);
            printf("DISP %s\n", describe(&old));
        } else if (strcmp(line, "sigaction") == 0 || strcmp(line, "default") == 0) {
            sa.sa_handler = strcmp(line, "default") == 0 ? SIG_DFL : own_handler;
            sa.sa_flags = SA_RESTART;
            sigaction(SIGUSR2, &sa, &old);
            printf("OLD %s\n", describe(&old));
        } else if (strcmp(line, "signal") == 0) {
            void (*prev)(int) = signal(SIGUSR2, own_handler);
            old.sa_handler = prev;
            printf("OLD %s\n", describe(&old));
        } else if (strcmp(line, "count") == 0) {
            printf("COUNT %d\n", atomic_load(&handler_runs));
        } else if (strcmp(line, "fork") == 0 || strcmp(line, "exec") == 0) {
            pid_t pid = fork();
            if (pid == 0) {
                if (strcmp(line, "exec") == 0)
                    execlp("sleep", "sleep", "30", (char *)NULL);
                for (;;)
                    pause();
            }
            printf("CHILD %d\n", (int)pid);
        } else if (strcmp(line, "ping") == 0) {
            printf("PONG\n");
        }
    }
    return 0;
}
