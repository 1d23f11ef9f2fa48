/*
 * The Processes section: this process and its children, recursively, as oslo.reports shows
 * them: pid, parent, user, state and command line.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "conf/conf-internal.h"
#include "render/render.h"
#include "sections/sections.h"
#include "util/alloc.h"
#include "util/file.h"
#include "util/macro.h"

#define MAX_PROCESSES   1024 /* processes examined per report */
#define MAX_DEPTH       16   /* levels of children shown */
#define MAX_CMDLINE     4096 /* bytes of a command line shown */

struct proc {
    int pid;
    int ppid;
    char state;
};

/*
 * gmr__parse_proc_stat() - state and parent pid from the text of /proc/PID/stat.  The command
 * name may contain spaces and parentheses, so parsing starts after the last ')'.
 * Return: 0 or -EINVAL.
 */
int gmr__parse_proc_stat(const char *text, char *ret_state, int *ret_ppid)
{
    const char *p = strrchr(text, ')');
    char state;
    int ppid;
    if (!p || sscanf(p + 1, " %c %d", &state, &ppid) != 2)
        return -EINVAL;
    *ret_state = state;
    *ret_ppid = ppid;
    return 0;
}

/* Real uid from the "Uid:" line of /proc/PID/status text, or -1. */
static long parse_uid(const char *status)
{
    const char *p = strstr(status, "\nUid:");
    long uid;
    if (!p || sscanf(p + 5, "%ld", &uid) != 1)
        return -1;
    return uid;
}

/* What the tree needs of every process: its state and parent.  Return: 0 or -errno. */
static int read_proc(int pid, struct proc *ret)
{
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if (gmr__read_small(AT_FDCWD, path, buf, sizeof(buf)) < 0)
        return -ESRCH;
    ret->pid = pid;
    if (gmr__parse_proc_stat(buf, &ret->state, &ret->ppid) < 0)
        return -EINVAL;
    return 0;
}

/* Real uid of @pid, or -1 when unknown; read only for the processes shown. */
static long read_uid(int pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    return gmr__read_small(AT_FDCWD, path, buf, sizeof(buf)) > 0 ? parse_uid(buf) : -1;
}

static const char *state_name(char s)
{
    switch (s) {
    case 'R':
        return "running";
    case 'S':
        return "sleeping";
    case 'D':
        return "disk sleep";
    case 'Z':
        return "zombie";
    case 'T':
        return "stopped";
    case 't':
        return "tracing stop";
    case 'X':
    case 'x':
        return "dead";
    case 'I':
        return "idle";
    case 'P':
        return "parked";
    case 'W':
        return "waking";
    default:
        return "unknown";
    }
}

/*
 * User name of @uid from /etc/passwd.  Read directly rather than through getpwuid_r(): NSS
 * modules may reach a directory server over the network, which a report must never do.
 */
static void user_name(long uid, const char *passwd, char *buf, size_t size)
{
    snprintf(buf, size, "%s", "?");
    if (uid < 0 || !passwd)
        return;
    for (const char *line = passwd; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *c1 = memchr(line, ':', len);
        const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
        if (c2) {
            char *num_end;
            long u = strtol(c2 + 1, &num_end, 10);
            if (num_end != c2 + 1 && *num_end == ':' && u == uid) {
                size_t n = GMR_MIN((size_t)(c1 - line), size - 1);
                memcpy(buf, line, n);
                buf[n] = '\0';
                return;
            }
        }
        line = end ? end + 1 : NULL;
    }
}

/* Appends @s to the @size bytes at @buf, of which *@len are used; cuts what does not fit. */
static void append(char *buf, size_t size, size_t *len, const char *s)
{
    size_t n = strlen(s);
    if (n > size - 1 - *len)
        n = size - 1 - *len;
    memcpy(buf + *len, s, n);
    *len += n;
    buf[*len] = '\0';
}

/*
 * Joins the NUL-separated arguments in @raw (@n bytes) with spaces into @buf, masking secrets
 * as the Configuration and Environment sections do: the value of an option whose name looks
 * secret ("--keystone-password=x", or the argument after "--db-token") becomes "***", and
 * credentials inside URLs are masked.
 */
static void mask_arguments(const char *raw, size_t n, char *buf, size_t size)
{
    size_t len = 0;
    bool hide_next = false;
    buf[0] = '\0';
    for (const char *arg = raw; arg < raw + n; arg += strlen(arg) + 1) {
        if (arg != raw)
            append(buf, size, &len, " ");
        const char *eq = strchr(arg, '=');
        bool option = arg[0] == '-' && arg[1] == '-';
        if (hide_next) {
            hide_next = false;
            if (!option) {
                append(buf, size, &len, "***");
                continue;
            }
        }
        if (option && eq) {
            char name[256];
            snprintf(name, sizeof(name), "%.*s", (int)(eq - arg), arg);
            if (gmr__mask_name_is_secret(name)) {
                append(buf, size, &len, name);
                append(buf, size, &len, "=***");
                continue;
            }
        } else if (option && gmr__mask_name_is_secret(arg)) {
            hide_next = true;
        }
        char *masked = NULL;
        if (gmr__mask_url_credentials(arg, &masked) < 0) {
            append(buf, size, &len, strstr(arg, "://") ? "***" : arg);
            continue;
        }
        append(buf, size, &len, masked);
        gmr__free(masked);
    }
}

/*
 * Command line of @pid, arguments joined by spaces with secrets masked; "[comm]" for kernel
 * threads and zombies.
 */
static void command_line(int pid, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
    char *raw = gmr__malloc(size);
    ssize_t n = raw ? gmr__read_small(AT_FDCWD, path, raw, size) : -ENOMEM;
    /*
     * This process's own, once its main thread has exited: the leader's file is empty, a
     * living thread's is not.  (The pid's file first: valgrind shows its client's there.)
     */
    if (n == 0 && pid == getpid())
        n = gmr__read_small(AT_FDCWD, "/proc/thread-self/cmdline", raw, size);
    if (n > 0) {
        /* A cut argument might hold the start of a secret its end would have let us mask. */
        bool cut = (size_t)n >= size - 1;
        if (cut) {
            while (n > 0 && raw[n - 1] != '\0')
                n--;
        }
        while (n > 0 && raw[n - 1] == '\0')
            n--;
        raw[n] = '\0';
        mask_arguments(raw, (size_t)n, buf, size - (cut ? 4 : 0));
        if (cut)
            strcat(buf, " ...");
        gmr__free(raw);
        return;
    }
    gmr__free(raw);
    char comm[64];
    snprintf(path, sizeof(path), "/proc/%d/comm", pid);
    if (gmr__read_small(AT_FDCWD, path, comm, sizeof(comm)) > 0) {
        comm[strcspn(comm, "\n")] = '\0';
        snprintf(buf, size, "[%s]", comm);
    } else {
        buf[0] = '\0';
    }
}

struct table {
    struct proc *procs; /* owned */
    size_t n;
    bool truncated;     /* more processes than MAX_PROCESSES */
    char *passwd;       /* owned; /etc/passwd, may be NULL */
};

static int proc_json(const struct table *t, const struct proc *p, int depth, json_t **ret)
{
    char user[64], *cmd = gmr__malloc(MAX_CMDLINE);
    json_t *o = json_object();
    json_t *children = json_array();
    int r = -ENOMEM;
    if (!cmd || !o || !children)
        goto out;
    long uid = read_uid(p->pid);
    user_name(uid, t->passwd, user, sizeof(user));
    command_line(p->pid, cmd, MAX_CMDLINE);
    if (json_object_set_new(o, "pid", json_integer(p->pid)) < 0 ||
        json_object_set_new(o, "ppid", json_integer(p->ppid)) < 0 ||
        gmr__json_set_str(o, "user", user) < 0 ||
        json_object_set_new(o, "uid", json_integer(uid)) < 0 ||
        gmr__json_set_str(o, "state", state_name(p->state)) < 0 ||
        gmr__json_set_str(o, "command", cmd) < 0)
        goto out;
    for (size_t i = 0; i < t->n; i++) {
        if (t->procs[i].ppid != p->pid || t->procs[i].pid == p->pid)
            continue;
        if (depth + 1 >= MAX_DEPTH) {
            r = json_object_set_new(o, "children_not_shown", json_true());
            if (r < 0)
                goto out;
            break;
        }
        json_t *child;
        r = proc_json(t, &t->procs[i], depth + 1, &child);
        if (r < 0)
            goto out;
        if (json_array_append_new(children, child) < 0) {
            r = -ENOMEM;
            goto out;
        }
    }
    if (json_object_set(o, "children", children) < 0) {
        r = -ENOMEM;
        goto out;
    }
    *ret = o;
    o = NULL;
    r = 0;
out:
    json_decref(children);
    json_decref(o);
    gmr__free(cmd);
    return r;
}

static char *read_passwd(void)
{
    char *buf = gmr__malloc(256 * 1024);
    if (buf && gmr__read_small(AT_FDCWD, "/etc/passwd", buf, 256 * 1024) < 0) {
        gmr__free(buf);
        return NULL;
    }
    return buf;
}

int gmr__section_processes(json_t *section)
{
    struct table t = {0};
    int r = -ENOMEM;
    DIR *d = NULL;

    t.procs = gmr__calloc(MAX_PROCESSES, sizeof(*t.procs));
    if (!t.procs)
        goto out;
    t.passwd = read_passwd();

    struct proc self;
    r = read_proc(getpid(), &self);
    if (r < 0)
        goto out;

    /* Every process's parent, to find the children of ours at any depth. */
    d = opendir("/proc");
    if (!d) {
        r = -errno;
        goto out;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        if (t.n == MAX_PROCESSES) {
            t.truncated = true;
            break;
        }
        if (read_proc(atoi(e->d_name), &t.procs[t.n]) == 0)
            t.n++;
    }

    json_t *root;
    r = proc_json(&t, &self, 0, &root);
    if (r < 0)
        goto out;
    if (json_object_set_new(section, "process", root) < 0 ||
        (t.truncated &&
         gmr__json_set_str(section, "note", "more than 1024 processes; children may be missing") < 0))
        r = -ENOMEM;
out:
    if (d)
        closedir(d);
    gmr__free(t.passwd);
    gmr__free(t.procs);
    return r;
}
