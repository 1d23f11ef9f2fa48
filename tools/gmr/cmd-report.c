/*
 * gmr report PID and gmr info PID: through the process's control socket; else, for report, by
 * its trigger signal and the new file in its log directory.
 */
#define _GNU_SOURCE 1

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gmr/gmr.h>

#include "cli.h"

#define MAX_SEEN 4096

/* Names in @dir that look like reports, for telling new ones apart. */
struct seen {
    char *names[MAX_SEEN];
    size_t n;
};

static void seen_done(struct seen *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->names[i]);
    s->n = 0;
}

static bool is_report_name(const char *name)
{
    return name[0] != '.' && strstr(name, "_gurumeditation_");
}

static bool seen_has(const struct seen *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->names[i], name) == 0)
            return true;
    }
    return false;
}

static void seen_fill(struct seen *s, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) && s->n < MAX_SEEN) {
        if (is_report_name(e->d_name))
            s->names[s->n++] = strdup(e->d_name);
    }
    if (d)
        closedir(d);
}

/* Whether the report in @data names @pid in its header (text or JSON). */
static bool report_of_pid(const char *data, pid_t pid)
{
    char needle[40];
    snprintf(needle, sizeof(needle), "\npid = %d\n", (int)pid);
    if (strstr(data, needle))
        return true;
    json_t *doc = json_loads(data, 0, NULL);
    bool yes = doc && cli_int(json_object_get(doc, "header"), "pid", -1) == pid;
    json_decref(doc);
    return yes;
}

/* Waits for a new report file of @pid in @dir; its content (free()) or NULL on timeout. */
static char *wait_new_report(const char *dir, const struct seen *before, pid_t pid,
                             int timeout_ms, size_t *ret_len)
{
    struct timespec start, now, nap = {0, 50 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (!is_report_name(e->d_name) || seen_has(before, e->d_name))
                continue;
            char path[4096];
            char *data = NULL;
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            if (cli_read_file(path, &data, ret_len) == 0 && report_of_pid(data, pid)) {
                closedir(d);
                fprintf(stderr, "gmr: report of %d saved as %s\n", (int)pid, path);
                return data;
            }
            free(data);
        }
        if (d)
            closedir(d);
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long ms = (now.tv_sec - start.tv_sec) * 1000LL +
                       (now.tv_nsec - start.tv_nsec) / 1000000;
        if (ms >= timeout_ms)
            return NULL;
        nanosleep(&nap, NULL); /* a report file appears by rename; no event to wait for */
    }
}

/*
 * The signal path.  @forced: the user said --signal, taking responsibility for a preloaded
 * program that may handle the signal itself.  Returns an exit code.
 */
static int report_by_signal(pid_t pid, bool want_json, int timeout_ms, bool forced)
{
    bool preloaded = cli_proc_preloaded(pid);
    bool linked = preloaded || cli_proc_maps_has(pid, "libgmr");
    if (!linked) {
        cli_note("report: process %d has no control socket and does not use libgmr; run it "
                 "with LD_PRELOAD=libgmr-preload.so, or link it with libgmr and call "
                 "gmr_setup_autorun()",
                 (int)pid);
        return EXIT_FAILED;
    }
    if (preloaded && !forced) {
        /*
         * Without an answering socket nothing tells whether the program has taken the signal
         * over since it started (its handler is "caught" in SigCgt as libgmr's was), and its
         * handler would run instead: nginx starts a binary upgrade on SIGUSR2, dd prints its
         * statistics on SIGUSR1.  Only the user can know.
         */
        cli_note("report: process %d runs with libgmr-preload.so but has no control socket "
                 "that answers; not sending it a signal that the program may handle itself "
                 "(add --signal if it does not, or use its GMR_FILE_TRIGGER)",
                 (int)pid);
        return EXIT_FAILED;
    }
    int signo = SIGUSR2;
    char *sigvar = preloaded ? cli_proc_env(pid, "GMR_SIGNAL") : NULL;
    if (sigvar && *sigvar) {
        signo = strcasecmp(sigvar, "none") == 0 ? 0 : cli_parse_signal(sigvar);
    }
    free(sigvar);
    char name[32];
    if (signo <= 0 || !cli_proc_catches(pid, signo)) {
        cli_note("report: process %d uses libgmr but has no control socket, and %s; not "
                 "sending a signal that could terminate it (enable the control socket, or "
                 "use its file trigger)",
                 (int)pid,
                 signo <= 0 ? "its signal trigger is disabled"
                            : "its trigger signal is not caught");
        return EXIT_FAILED;
    }
    cli_signal_name(signo, name, sizeof(name));
    char *log_dir = preloaded ? cli_proc_env(pid, "GMR_LOG_DIR") : NULL;
    struct seen before = {0};
    if (log_dir && *log_dir)
        seen_fill(&before, log_dir);
    if (kill(pid, signo) < 0) {
        cli_error(-errno, "report: cannot send %s to %d", name, (int)pid);
        free(log_dir);
        seen_done(&before);
        return EXIT_FAILED;
    }
    if (!log_dir || !*log_dir) {
        cli_note("report: sent %s to %d; it writes the report to its own stderr (or the "
                 "log_dir of its configuration), which gmr cannot read",
                 name, (int)pid);
        free(log_dir);
        return EXIT_PARTIAL;
    }
    size_t len = 0;
    char *data = wait_new_report(log_dir, &before, pid, timeout_ms, &len);
    seen_done(&before);
    int code = EXIT_OK;
    if (!data) {
        cli_note("report: sent %s to %d, but no new report appeared in %s", name, (int)pid,
                 log_dir);
        code = EXIT_FAILED;
    } else if (data[0] == '{' && !want_json) {
        int r = gmr_render_report(data, len, GMR_FORMAT_TEXT, STDOUT_FILENO);
        if (r < 0) {
            cli_error(r, "report: rendering the JSON report");
            code = EXIT_FAILED;
        }
    } else {
        if ((data[0] == '{') != want_json) {
            cli_note("report: the process writes %s reports; showing that", want_json ? "text"
                                                                                     : "JSON");
            code = EXIT_PARTIAL;
        }
        if (cli_write_all(STDOUT_FILENO, data, len) < 0)
            code = EXIT_FAILED;
    }
    free(data);
    free(log_dir);
    return code;
}

/* Parses "PID [--format F] [--timeout S] [--signal]" for report and info (@signal NULL). */
static int parse_args(int argc, char **argv, const char *cmd, pid_t *pid, bool *json,
                      int *timeout_ms, bool *signal)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"timeout", required_argument, NULL, 't'},
        {"signal", no_argument, NULL, 's'},
        {0},
    };
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":f:t:", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (!signal) {
                cli_note("%s: unknown option '--signal'", cmd);
                return -1;
            }
            *signal = true;
            break;
        case 'f':
            if (strcmp(optarg, "json") == 0) {
                *json = true;
            } else if (strcmp(optarg, "text") == 0) {
                *json = false;
            } else {
                cli_note("%s: unknown format '%s' (text or json)", cmd, optarg);
                return -1;
            }
            break;
        case 't': {
            char *end;
            double s = strtod(optarg, &end);
            if (end == optarg || *end || s <= 0 || s > 3600) {
                cli_note("%s: bad --timeout '%s' (seconds)", cmd, optarg);
                return -1;
            }
            *timeout_ms = (int)(s * 1000);
            break;
        }
        default:
            cli_bad_option(cmd, c, argv);
            return -1;
        }
    }
    if (optind != argc - 1 || !(*pid = cli_parse_pid(argv[optind]))) {
        cli_note("%s: expected one PID", cmd);
        return -1;
    }
    return 0;
}

/* Asks the control socket; returns an exit code, or -1 to fall back to the signal path. */
static int via_socket(pid_t pid, const char *request, int timeout_ms)
{
    char path[CLI_PATH_MAX];
    if (cli_find_socket(pid, path, sizeof(path)) < 0)
        return -1;
    char *payload = NULL, *reason = NULL;
    size_t len = 0;
    int r = cli_control_call(path, request, timeout_ms, &payload, &len, &reason);
    if (r == -ECONNREFUSED || r == -ENOENT)
        return -1; /* stale socket */
    if (r == -EREMOTEIO) {
        cli_note("%s: process %d answered: %s", request, (int)pid, reason ? reason : "error");
        free(reason);
        return EXIT_FAILED;
    }
    if (r < 0) {
        cli_error(r, "%s: control socket %s", request, path);
        return EXIT_FAILED;
    }
    int code = cli_write_all(STDOUT_FILENO, payload, len) < 0 ? EXIT_FAILED : EXIT_OK;
    if (r == 1) {
        cli_note("%s: the reply of %d was cut short (timeout or the process went away)",
                 request, (int)pid);
        code = EXIT_PARTIAL;
    }
    free(payload);
    return code;
}

int cmd_report(int argc, char **argv)
{
    pid_t pid = 0;
    bool json = false;
    int timeout_ms = 15000;
    bool signal = false;
    if (parse_args(argc, argv, "report", &pid, &json, &timeout_ms, &signal) < 0)
        return EXIT_USAGE;
    if (kill(pid, 0) < 0 && errno == ESRCH) {
        cli_note("report: no process %d", (int)pid);
        return EXIT_FAILED;
    }
    int code = via_socket(pid, json ? "report json" : "report text", timeout_ms);
    if (code >= 0)
        return code;
    return report_by_signal(pid, json, timeout_ms, signal);
}

int cmd_info(int argc, char **argv)
{
    pid_t pid = 0;
    bool json = false;
    int timeout_ms = 5000;
    if (parse_args(argc, argv, "info", &pid, &json, &timeout_ms, NULL) < 0)
        return EXIT_USAGE;
    int code = via_socket(pid, "info", timeout_ms);
    if (code < 0) {
        cli_note("info: process %d has no control socket", (int)pid);
        return EXIT_FAILED;
    }
    return code;
}
