/*
 * gmr diff A B: what changed between two JSON reports of one process, thread by thread.
 * Stuck threads (the same stack in both) come first: they are what one looks for when a
 * service hangs; then threads whose stack changed, threads gone, and new threads.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static json_t *load(const char *path)
{
    char *data = NULL;
    size_t len = 0;
    int r = cli_read_file(path, &data, &len);
    if (r < 0) {
        cli_error(r, "diff: cannot read %s", path);
        return NULL;
    }
    char err[300];
    json_t *doc = cli_load_report(data, len, err, sizeof(err));
    free(data);
    if (!doc)
        cli_note("diff: %s: %s", path, err);
    return doc;
}

/* The thread of @list with @tid, or NULL. */
static const json_t *find_tid(const json_t *list, long long tid)
{
    size_t i;
    const json_t *t;
    json_array_foreach(list, i, t)
    {
        if (cli_int(t, "tid", -1) == tid)
            return t;
    }
    return NULL;
}

static void thread_head(const json_t *t)
{
    printf("  Thread #%lld", cli_int(t, "tid", 0));
    const char *name = cli_str(t, "name", NULL);
    if (!name)
        return;
    /* A thread names itself: its control bytes must not start lines of their own. */
    fputs(" (", stdout);
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
        if (*c < 0x20 || *c == 0x7F)
            printf("\\x%02x", *c);
        else
            putchar(*c);
    }
    putchar(')');
}

/* Prints the stack key indented, one frame per line. */
static void print_stack(const char *key, const char *prefix)
{
    for (const char *p = key; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        printf("    %s%.*s\n", prefix, (int)n, p);
        p += n + (nl ? 1 : 0);
    }
}

/* What to print for one category. */
enum category { STUCK, CHANGED, GONE, NEW };

static int print_category(const json_t *la, const json_t *lb, enum category cat)
{
    static const char *const titles[] = {
        "Stuck threads (same stack in both reports)",
        "Threads whose stack changed",
        "Threads gone",
        "New threads",
    };
    const json_t *from = cat == NEW ? lb : la;
    const json_t *other = cat == NEW ? la : lb;
    int count = 0;
    size_t i;
    const json_t *t;
    json_array_foreach(from, i, t)
    {
        if (!json_is_object(t))
            continue;
        const json_t *u = find_tid(other, cli_int(t, "tid", -1));
        char *ka = cli_stack_key(t);
        char *kb = u ? cli_stack_key(u) : NULL;
        bool same = ka && kb && strcmp(ka, kb) == 0;
        /* No stack in either report (the reporter, a thread not captured): nothing to compare. */
        bool none = (!ka || !*ka) && (!kb || !*kb);
        bool show = (cat == STUCK && u && same && !none) ||
                    (cat == CHANGED && u && !same && !none) || ((cat == GONE || cat == NEW) && !u);
        if (show) {
            if (count++ == 0)
                printf("%s:\n", titles[cat]);
            thread_head(t);
            printf("\n");
            if (cat == CHANGED) {
                print_stack(ka, "- ");
                print_stack(kb, "+ ");
            } else {
                print_stack(ka, "");
            }
        }
        free(ka);
        free(kb);
    }
    if (count)
        printf("\n");
    return count;
}

int cmd_diff(int argc, char **argv)
{
    if (argc != 3) {
        cli_note("diff: expected two JSON reports, A and B");
        return EXIT_USAGE;
    }
    json_t *a = load(argv[1]);
    json_t *b = a ? load(argv[2]) : NULL;
    if (!a || !b) {
        json_decref(a);
        return EXIT_FAILED;
    }
    const json_t *ha = json_object_get(a, "header"), *hb = json_object_get(b, "header");
    long long pa = cli_int(ha, "pid", -1), pb = cli_int(hb, "pid", -1);
    if (pa != pb)
        cli_note("diff: the reports are of different processes (%lld and %lld)", pa, pb);
    printf("A: pid %lld, %s, %s\nB: pid %lld, %s, %s\n\n", pa, cli_str(ha, "time", "?"),
           cli_str(ha, "trigger", "?"), pb, cli_str(hb, "time", "?"), cli_str(hb, "trigger", "?"));
    const json_t *sa = cli_threads_section(a), *sb = cli_threads_section(b);
    int code = EXIT_OK;
    if (!sa || !sb) {
        cli_note("diff: %s has no Threads section", !sa ? argv[1] : argv[2]);
        code = EXIT_PARTIAL;
    }
    const json_t *la = cli_thread_list(sa), *lb = cli_thread_list(sb);
    int total = 0;
    for (int cat = STUCK; cat <= NEW; cat++)
        total += print_category(la, lb, (enum category)cat);
    if (total == 0)
        printf("No threads in either report.\n");
    json_decref(a);
    json_decref(b);
    return code;
}
