/*
 * Victim for the diagnostics sections.  Usage: victim-diag DIR [--json]
 *
 * Sets up libgmr, then opens descriptors of known kinds and prints one line per descriptor
 * before READY, so the test knows what the Open Files section must show:
 *   FILE fd path        DIR/data.log, O_WRONLY|O_APPEND|O_CLOEXEC, 5 bytes written
 *   PIPE rfd wfd        pipe2(O_CLOEXEC)
 *   LISTEN fd port      TCP on 127.0.0.1, kernel-chosen port
 *   CLIENT fd port      connected to LISTEN
 *   SERVER fd           the accepted end
 *   UNIX fd path        AF_UNIX stream socket listening on DIR/victim.sock
 *   EVENT fd            eventfd(EFD_CLOEXEC)
 *   NOFILE soft         the RLIMIT_NOFILE soft limit it set
 * Its one application section, "Victim End" (end = yes), comes last in every report and so marks
 * a text report as complete.
 * It also sets VICTIM_RUNTIME_TOKEN with setenv() after start, so the current environment
 * (not the initial one) must be what the Environment section shows.
 * Commands on stdin: "report text" / "report json" write a report to stdout and print
 * "DONE <result>"; the victim exits when stdin closes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gmr/gmr.h>

#include "victim-stack.h"

static int end_section(gmr_writer *w, void *userdata)
{
    (void)userdata;
    return gmr_writer_kv(w, "end", "yes");
}

static void die(const char *what)
{
    printf("FAILED %s\n", what);
    fflush(stdout);
    exit(1);
}

int main(int argc, char **argv)
{
    victim_map_main_stack();
    if (argc < 2)
        die("usage");
    const char *dir = argv[1];
    bool json = argc > 2 && strcmp(argv[2], "--json") == 0;

    if (json)
        gmr_set_format(GMR_FORMAT_JSON);
    static const struct gmr_version version = {"libgmr tests", "victim-diag", "1.0"};
    if (gmr_register_section("Victim End", end_section, NULL) < 0 ||
        gmr_setup_autorun(&version, NULL, "victim-diag") < 0)
        die("setup");

    if (setenv("VICTIM_RUNTIME_TOKEN", "runtime-token-value-77", 1) < 0)
        die("setenv");

    char path[512];
    snprintf(path, sizeof(path), "%s/data.log", dir);
    int file = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (file < 0 || write(file, "hello", 5) != 5)
        die("file");
    printf("FILE %d %s\n", file, path);

    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        die("pipe");
    printf("PIPE %d %d\n", p[0], p[1]);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 8) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &len) < 0)
        die("listen");
    printf("LISTEN %d %d\n", lfd, ntohs(a.sin_port));
    int cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (cfd < 0 || connect(cfd, (struct sockaddr *)&a, sizeof(a)) < 0)
        die("connect");
    struct sockaddr_in c;
    len = sizeof(c);
    if (getsockname(cfd, (struct sockaddr *)&c, &len) < 0)
        die("getsockname");
    printf("CLIENT %d %d\n", cfd, ntohs(c.sin_port));
    int sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (sfd < 0)
        die("accept");
    printf("SERVER %d\n", sfd);

    struct sockaddr_un u = {.sun_family = AF_UNIX};
    if ((size_t)snprintf(u.sun_path, sizeof(u.sun_path), "%s/victim.sock", dir) >=
        sizeof(u.sun_path))
        die("socket path too long");
    int ufd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ufd < 0 || bind(ufd, (struct sockaddr *)&u, sizeof(u)) < 0 || listen(ufd, 8) < 0)
        die("unix");
    printf("UNIX %d %s\n", ufd, u.sun_path);

    int efd = eventfd(0, EFD_CLOEXEC);
    if (efd < 0)
        die("eventfd");
    printf("EVENT %d\n", efd);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        die("getrlimit");
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= 1000 ? 1000 : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        die("setrlimit");
    printf("NOFILE %llu\n", (unsigned long long)rl.rlim_cur);

    printf("READY\n");
    fflush(stdout);

    char line[256];
    while (fgets(line, sizeof(line), stdin)) {
        if (strncmp(line, "report ", 7) == 0) {
            int r = gmr_write_report(1, strncmp(line + 7, "json", 4) == 0 ? GMR_FORMAT_JSON
                                                                          : GMR_FORMAT_TEXT);
            printf("DONE %d\n", r);
        }
        fflush(stdout);
    }
    gmr_shutdown();
    int fds[] = {file, p[0], p[1], lfd, cfd, sfd, ufd, efd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        close(fds[i]);
    unlink(u.sun_path);
    return 0;
}
