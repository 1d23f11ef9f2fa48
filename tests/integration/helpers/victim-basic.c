/*
 * Victim for the core integration tests.  Sets up libgmr, starts a few worker threads, then
 * serves commands read line by line from stdin:
 *   ping            -> prints "PONG"
 *   report text|json -> gmr_write_report(1, ...) then prints "DONE <result>"
 *   request         -> gmr_request_report()
 *   count           -> prints "COUNT <number of times the Victim Stats section ran>"
 *   fork            -> forks a child that only waits for signals; prints "CHILD <pid>"
 *   fork2           -> the same, and the child forks a grandchild: "GRANDCHILD <pid>"
 *   closeall        -> closes every descriptor but 0, 1 and 2, as some daemons do, then opens
 *                      the file named by $VICTIM_REUSE_FILE (taking a freed number); "CLOSED"
 * and exits when stdin closes.  Options:
 *   --json               triggered reports as JSON
 *   --signal N           trigger signal number
 *   --own-handler        install an application handler on the trigger signal first
 *   --chain              chain to it (with --own-handler)
 *   --failing-section    register a section whose generator fails
 *   --slow-section MS    the Victim Stats section sleeps MS milliseconds
 *   --no-setup           do not call gmr_setup_autorun()
 *   --blocking-section   register a section whose generator never returns (timeout 300 ms)
 *   --log-dir DIR        gmr_set_log_dir(DIR)
 *   --file-trigger PATH  gmr_set_file_trigger(PATH, 1)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gmr/gmr.h>

#include "victim-stack.h"

static atomic_int section_runs;
static atomic_int own_handler_runs;
static int slow_ms;

static int stats_section(gmr_writer *w, void *userdata)
{
    const char *name = userdata;
    int n = atomic_fetch_add(&section_runs, 1) + 1;
    if (slow_ms > 0) {
        struct timespec ts = {slow_ms / 1000, (long)(slow_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    gmr_writer_kv(w, "victim", "%s", name);
    gmr_writer_kv(w, "runs", "%d", n);
    gmr_writer_kv(w, "own_handler_runs", "%d", atomic_load(&own_handler_runs));
    gmr_writer_begin_object(w, "nested");
    gmr_writer_kv(w, "depth", "1");
    gmr_writer_begin_list(w, "items");
    gmr_writer_item(w, "first");
    gmr_writer_item(w, "second");
    gmr_writer_end(w);
    gmr_writer_end(w);
    gmr_writer_kv(w, "end", "yes");
    return 0;
}

static int failing_section(gmr_writer *w, void *userdata)
{
    (void)userdata;
    gmr_writer_kv(w, "partial", "written before the failure");
    return -EIO;
}

static int blocking_section(gmr_writer *w, void *userdata)
{
    (void)userdata;
    gmr_writer_kv(w, "before", "blocking");
    for (;;)
        pause();
    return 0;
}

static void own_handler(int signo)
{
    (void)signo;
    atomic_fetch_add(&own_handler_runs, 1);
}

static void *worker(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

int main(int argc, char **argv)
{
    victim_map_main_stack();
    bool json = false, own = false, chain = false, failing = false, setup = true;
    bool blocking = false;
    int signo = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "--signal") == 0 && i + 1 < argc)
            signo = atoi(argv[++i]);
        else if (strcmp(argv[i], "--own-handler") == 0)
            own = true;
        else if (strcmp(argv[i], "--chain") == 0)
            chain = true;
        else if (strcmp(argv[i], "--failing-section") == 0)
            failing = true;
        else if (strcmp(argv[i], "--slow-section") == 0 && i + 1 < argc)
            slow_ms = atoi(argv[++i]);
        else if (strcmp(argv[i], "--no-setup") == 0)
            setup = false;
        else if (strcmp(argv[i], "--blocking-section") == 0)
            blocking = true;
        else if (strcmp(argv[i], "--log-dir") == 0 && i + 1 < argc)
            gmr_set_log_dir(argv[++i]);
        else if (strcmp(argv[i], "--file-trigger") == 0 && i + 1 < argc)
            gmr_set_file_trigger(argv[++i], 1);
    }

    if (own) {
        struct sigaction sa = {0};
        sa.sa_handler = own_handler;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(signo ? signo : SIGUSR2, &sa, NULL);
    }
    if (signo)
        gmr_set_trigger_signal(signo);
    if (chain)
        gmr_set_chain_handler(true);
    if (json)
        gmr_set_format(GMR_FORMAT_JSON);

    if (failing)
        gmr_register_section("Broken Section", failing_section, NULL);
    if (blocking) {
        gmr_set_section_timeout_ns(300 * 1000000ull);
        gmr_register_section("Stuck Section", blocking_section, NULL);
    }
    static const struct gmr_version version = {"libgmr tests", "victim-basic", "9.8.7"};
    if (setup) {
        int r = gmr_setup_autorun(&version, NULL, "victim-basic");
        if (r < 0) {
            printf("SETUP %d\n", r);
            fflush(stdout);
        }
    }
    /* Registered after setup on purpose: sections may come either way. */
    gmr_register_section("Victim Stats", stats_section, "victim-basic");

    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, worker, NULL);

    printf("READY\n");
    fflush(stdout);

    char line[256];
    while (fgets(line, sizeof(line), stdin)) {
        if (strncmp(line, "ping", 4) == 0) {
            printf("PONG\n");
        } else if (strncmp(line, "report ", 7) == 0) {
            int r = gmr_write_report(1, strncmp(line + 7, "json", 4) == 0 ? GMR_FORMAT_JSON
                                                                          : GMR_FORMAT_TEXT);
            printf("DONE %d\n", r);
        } else if (strncmp(line, "request", 7) == 0) {
            gmr_request_report();
        } else if (strncmp(line, "fork", 4) == 0) {
            bool two = line[4] == '2';
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) {
                if (two) {
                    pid_t grandchild = fork();
                    if (grandchild == 0) {
                        for (;;)
                            pause();
                    }
                    printf("GRANDCHILD %d\n", (int)grandchild);
                    fflush(stdout);
                }
                for (;;)
                    pause();
            }
            printf("CHILD %d\n", (int)pid);
        } else if (strncmp(line, "closeall", 8) == 0) {
            for (int fd = 3; fd < 1024; fd++)
                close(fd);
            const char *reuse = getenv("VICTIM_REUSE_FILE");
            if (reuse)
                open(reuse, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            printf("CLOSED\n");
        } else if (strncmp(line, "count", 5) == 0) {
            printf("COUNT %d\n", atomic_load(&section_runs));
        }
        fflush(stdout);
    }
    gmr_shutdown();
    return 0;
}
