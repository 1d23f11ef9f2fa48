/*
 * gmr: the operator's command for Guru Meditation Reports (see gmr(1)).
 */
#define _GNU_SOURCE 1

#include <stdio.h>
#include <string.h>

#include <gmr/gmr.h>

#include "cli.h"

static const char usage[] =
    "Usage: gmr COMMAND [ARGS]\n"
    "\n"
    "Guru Meditation Reports of running processes that use libgmr (linked, or started with\n"
    "LD_PRELOAD=libgmr-preload.so).\n"
    "\n"
    "Commands:\n"
    "  report PID [--format text|json] [--timeout SECONDS] [--signal]\n"
    "                      print a report of process PID: through its control socket, else\n"
    "                      by its trigger signal and the new file in its log directory\n"
    "                      (a program run with libgmr-preload.so only with --signal: it may\n"
    "                      handle that signal itself)\n"
    "  info PID            what process PID is and how it can be triggered (JSON)\n"
    "  ls                  list the processes with GMR and how each can be triggered\n"
    "  render FILE [--format text|html|json]\n"
    "                      show a saved JSON report as the live text view, or as one\n"
    "                      self-contained HTML page (FILE may be - for stdin)\n"
    "  diff A B            compare two JSON reports of one process: stuck threads (same\n"
    "                      stack in both) first, then changed, gone and new threads\n"
    "  version             print the versions of gmr and of libgmr\n"
    "\n"
    "Options:\n"
    "  -h, --help          show this help\n"
    "  -V, --version       same as the version command\n"
    "\n"
    "Exit status:\n"
    "  0   ok\n"
    "  1   partial: something was shown, but not all (e.g. a report cut short)\n"
    "  2   failed\n"
    "  64  usage error\n";

static int cmd_version(void)
{
    printf("gmr %s (libgmr %s, report format 1)\n", GMR_VERSION_STRING, gmr_version_string());
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0)
        return argc == 2 ? cmd_version() : EXIT_USAGE;

    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } cmds[] = {
        {"report", cmd_report}, {"info", cmd_info}, {"ls", cmd_ls},
        {"render", cmd_render}, {"diff", cmd_diff},
    };
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strcmp(cmd, cmds[i].name) == 0)
            return cmds[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "gmr: unknown command '%s' (see gmr --help)\n", cmd);
    return EXIT_USAGE;
}
