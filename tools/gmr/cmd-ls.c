/*
 * gmr ls: processes with GMR.  Sources: sockets in the runtime directories (asked for their
 * info; stale ones are removed), and /proc: processes preloaded with libgmr-preload.so or
 * with libgmr mapped.
 */
#define _GNU_SOURCE 1

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define MAX_LISTED 4096

struct listed {
    pid_t pids[MAX_LISTED];
    size_t n;
};

static bool listed_has(const struct listed *l, pid_t pid)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->pids[i] == pid)
            return true;
    }
    return false;
}

static void print_row(pid_t pid, const char *service, const char *how)
{
    printf("%-8d %-24s %s\n", (int)pid, service, how);
}

/*
 * Asks the socket at @path of process @pid for its info and prints its row.
 * Return: true when listed; a stale socket of a dead process is removed.
 */
static bool list_socket(const char *path, pid_t pid, struct listed *l)
{
    char *payload = NULL;
    size_t len = 0;
    int r = cli_control_call(path, "info", 3000, &payload, &len, NULL);
    if (r == -ECONNREFUSED && kill(pid, 0) < 0 && errno == ESRCH) {
        (void)unlink(path); /* stale: its process is gone */
        return false;
    }
    json_t *info = r == 0 ? json_loadb(payload, len, 0, NULL) : NULL;
    free(payload);
    if (!info)
        return false;
    char how[1024] = "";
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(info, "triggers"), i, t)
    {
        if (json_is_string(t) && strlen(how) + json_string_length(t) + 3 < sizeof(how)) {
            if (how[0])
                strcat(how, ", ");
            strcat(how, json_string_value(t));
        }
    }
    print_row(pid, cli_str(info, "service_name", "?"), how);
    json_decref(info);
    if (l->n < MAX_LISTED)
        l->pids[l->n++] = pid;
    return true;
}

/* The sockets of one directory. */
static void list_dir(const char *dir, struct listed *l)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (pid <= 0 || strcmp(end, ".sock") != 0 || listed_has(l, (pid_t)pid))
            continue;
        char path[CLI_PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < (int)sizeof(path))
            (void)list_socket(path, (pid_t)pid, l);
    }
    if (d)
        closedir(d);
}

/* Runtime directories of every user (root) or ours. */
static void list_sockets(struct listed *l)
{
    char dirs[6][CLI_PATH_MAX];
    int n = cli_runtime_dirs((long)geteuid(), 0, dirs, 6);
    for (int i = 0; i < n; i++)
        list_dir(dirs[i], l);
    if (geteuid() != 0)
        return;
    DIR *d = opendir("/tmp");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[CLI_PATH_MAX];
        if (strncmp(e->d_name, "gmr-", 4) == 0 &&
            snprintf(path, sizeof(path), "/tmp/%s", e->d_name) < (int)sizeof(path))
            list_dir(path, l);
    }
    if (d)
        closedir(d);
    d = opendir("/run/user");
    while (d && (e = readdir(d))) {
        char path[CLI_PATH_MAX];
        if (isdigit((unsigned char)e->d_name[0]) &&
            snprintf(path, sizeof(path), "/run/user/%s/gmr", e->d_name) < (int)sizeof(path))
            list_dir(path, l);
    }
    if (d)
        closedir(d);
}

/* Processes without a socket that still have GMR. */
static void list_proc(struct listed *l)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        pid_t pid = cli_parse_pid(e->d_name);
        if (!pid || listed_has(l, pid) || pid == getpid())
            continue;
        bool preloaded = cli_proc_preloaded(pid);
        if (!preloaded && !cli_proc_maps_has(pid, "libgmr"))
            continue;
        /* Its socket may be in a runtime directory of its own (XDG_RUNTIME_DIR). */
        char path[CLI_PATH_MAX];
        if (cli_find_socket(pid, path, sizeof(path)) == 0 && list_socket(path, pid, l))
            continue;
        char comm_path[64], comm[64] = "?";
        snprintf(comm_path, sizeof(comm_path), "/proc/%d/comm", (int)pid);
        FILE *f = fopen(comm_path, "re");
        if (f) {
            if (fgets(comm, sizeof(comm), f))
                comm[strcspn(comm, "\n")] = '\0';
            fclose(f);
        }
        char *service = preloaded ? cli_proc_env(pid, "GMR_SERVICE_NAME") : NULL;
        char *sigvar = preloaded ? cli_proc_env(pid, "GMR_SIGNAL") : NULL;
        char *file = preloaded ? cli_proc_env(pid, "GMR_FILE_TRIGGER") : NULL;
        bool has_sigvar = sigvar && *sigvar, has_file = file && *file;
        int signo = has_sigvar ? cli_parse_signal(sigvar) : SIGUSR2;
        /* oslo's rule, as the preload applies it: a trigger file replaces the default signal. */
        bool by_signal = !(has_file && !has_sigvar) && signo > 0 && cli_proc_catches(pid, signo);
        char how[CLI_PATH_MAX + 160], name[32];
        int n = snprintf(how, sizeof(how), "no control socket");
        /* A preloaded program may have taken the signal over: "maybe" (gmr report --signal). */
        if (by_signal)
            n += snprintf(how + n, sizeof(how) - (size_t)n, ", signal %s%s",
                          cli_signal_name(signo, name, sizeof(name)),
                          preloaded ? " (unless the program took it)" : "");
        if (has_file)
            n += snprintf(how + n, sizeof(how) - (size_t)n, ", file %.*s", CLI_PATH_MAX, file);
        if (!by_signal && !has_file)
            snprintf(how + n, sizeof(how) - (size_t)n, "; trigger unknown");
        print_row(pid, service && *service ? service : comm, how);
        free(service);
        free(sigvar);
        free(file);
    }
    if (d)
        closedir(d);
}

int cmd_ls(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        cli_note("ls: takes no arguments");
        return EXIT_USAGE;
    }
    static struct listed l;
    printf("%-8s %-24s %s\n", "PID", "SERVICE", "TRIGGERS");
    fflush(stdout);
    list_sockets(&l);
    list_proc(&l);
    return EXIT_OK;
}
