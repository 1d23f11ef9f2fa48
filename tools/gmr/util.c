/*
 * Helpers of the gmr command: files, /proc, the runtime directories, the control socket
 * client.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define MAX_FILE (256u << 20)

void cli_error(int r, const char *fmt, ...)
{
    va_list ap;
    fputs("gmr: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s\n", strerror(r < 0 ? -r : r));
}

void cli_note(const char *fmt, ...)
{
    va_list ap;
    fputs("gmr: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_bad_option(const char *cmd, int c, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    if (c == ':')
        cli_note("%s: option '%s' needs a value", cmd, arg);
    else if (optopt > 0 && optopt < 128)
        cli_note("%s: unknown option '-%c'", cmd, optopt);
    else
        cli_note("%s: unknown option '%s'", cmd, arg);
    return EXIT_USAGE;
}

pid_t cli_parse_pid(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v <= 0 || v > 0x3fffffff)
        return 0;
    return (pid_t)v;
}

int cli_read_file(const char *path, char **ret, size_t *ret_len)
{
    int fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap + 1);
    int r = 0;
    if (!buf) {
        r = -ENOMEM;
        goto out;
    }
    for (;;) {
        if (len == cap) {
            if (cap >= MAX_FILE) {
                r = -EFBIG;
                goto out;
            }
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                r = -ENOMEM;
                goto out;
            }
            buf = nb;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    *ret = buf;
    *ret_len = len;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return r;
}

int cli_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads /proc/@pid/@what into a new NUL-terminated buffer. */
static char *proc_read(pid_t pid, const char *what, size_t *ret_len)
{
    char path[64];
    char *data = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
    if (cli_read_file(path, &data, &len) < 0)
        return NULL;
    if (ret_len)
        *ret_len = len;
    return data;
}

char *cli_proc_env(pid_t pid, const char *name)
{
    size_t len, nlen = strlen(name);
    char *env = proc_read(pid, "environ", &len);
    char *val = NULL;
    for (size_t i = 0; env && i < len; i += strlen(env + i) + 1) {
        if (strncmp(env + i, name, nlen) == 0 && env[i + nlen] == '=') {
            val = strdup(env + i + nlen + 1);
            break;
        }
    }
    free(env);
    return val;
}

/* The numbers after "@key:" in /proc/@pid/status, as text; new string or NULL. */
static char *status_field(pid_t pid, const char *key)
{
    char *st = proc_read(pid, "status", NULL);
    char *val = NULL;
    size_t klen = strlen(key);
    for (char *line = st; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            val = strdup(line + klen + 1 + strspn(line + klen + 1, " \t"));
            break;
        }
        line = nl ? nl + 1 : NULL;
    }
    free(st);
    return val;
}

long cli_proc_uid(pid_t pid)
{
    char *v = status_field(pid, "Uid");
    long uid = -1;
    if (v) {
        /* real, effective, saved, fs */
        char *end;
        strtol(v, &end, 10);
        long e = strtol(end, NULL, 10);
        uid = e;
    }
    free(v);
    return uid;
}

bool cli_proc_catches(pid_t pid, int signo)
{
    char *v = status_field(pid, "SigCgt");
    bool caught = false;
    if (v && signo > 0 && signo <= 64) {
        unsigned long long mask = strtoull(v, NULL, 16);
        caught = (mask >> (signo - 1)) & 1;
    }
    free(v);
    return caught;
}

bool cli_proc_maps_has(pid_t pid, const char *needle)
{
    char *maps = proc_read(pid, "maps", NULL);
    bool found = false;
    for (char *line = maps; line && *line && !found;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        const char *slash = strrchr(line, '/');
        found = slash && strstr(slash, needle);
        line = nl ? nl + 1 : NULL;
    }
    free(maps);
    return found;
}

bool cli_proc_preloaded(pid_t pid)
{
    char *v = cli_proc_env(pid, "LD_PRELOAD");
    bool yes = v && strstr(v, "libgmr-preload");
    free(v);
    return yes;
}

static int add_dir(char dirs[][CLI_PATH_MAX], int n, int max, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int add_dir(char dirs[][CLI_PATH_MAX], int n, int max, const char *fmt, ...)
{
    char buf[CLI_PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n >= max || len < 0 || (size_t)len >= sizeof(buf))
        return n;
    for (int i = 0; i < n; i++) {
        if (strcmp(dirs[i], buf) == 0)
            return n;
    }
    memcpy(dirs[n], buf, (size_t)len + 1);
    return n + 1;
}

int cli_runtime_dirs(long uid, pid_t pid, char dirs[][CLI_PATH_MAX], int max)
{
    int n = 0;
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    /* Ours first: a process that changed its uid after setup (servers dropping root) keeps
     * its socket where it was created. */
    {
        if (xdg && xdg[0] == '/')
            n = add_dir(dirs, n, max, "%s/gmr", xdg);
        else
            n = add_dir(dirs, n, max, "/tmp/gmr-%u", (unsigned)geteuid());
    }
    if (pid > 0) {
        char *pxdg = cli_proc_env(pid, "XDG_RUNTIME_DIR");
        if (pxdg && pxdg[0] == '/')
            n = add_dir(dirs, n, max, "%s/gmr", pxdg);
        else if (!pxdg && uid >= 0)
            n = add_dir(dirs, n, max, "/tmp/gmr-%ld", uid);
        free(pxdg);
    }
    if (uid >= 0) {
        n = add_dir(dirs, n, max, "/run/user/%ld/gmr", uid);
        n = add_dir(dirs, n, max, "/tmp/gmr-%ld", uid);
    }
    return n;
}

int cli_find_socket(pid_t pid, char *buf, size_t size)
{
    char dirs[6][CLI_PATH_MAX];
    int n = cli_runtime_dirs(cli_proc_uid(pid), pid, dirs, 6);
    for (int i = 0; i < n; i++) {
        struct stat st;
        int len = snprintf(buf, size, "%s/%d.sock", dirs[i], (int)pid);
        if (len > 0 && (size_t)len < size && lstat(buf, &st) == 0 && S_ISSOCK(st.st_mode))
            return 0;
    }
    return -ENOENT;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for @events until @deadline.  0, -ETIMEDOUT or -errno. */
static int wait_io(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

int cli_control_call(const char *path, const char *request, int timeout_ms, char **ret_payload,
                     size_t *ret_len, char **reterr_reason)
{
    long long deadline = now_ms() + timeout_ms;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    int r = 0;
    char *buf = NULL;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        r = -errno;
        goto out;
    }
    char line[300];
    int ll = snprintf(line, sizeof(line), "%s\n", request);
    for (int off = 0; off < ll;) {
        ssize_t n = send(fd, line + off, (size_t)(ll - off), MSG_NOSIGNAL);
        if (n > 0) {
            off += (int)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if ((r = wait_io(fd, POLLOUT, deadline)) < 0)
                goto out;
        } else {
            r = -errno;
            goto out;
        }
    }
    /* Read everything until the server closes; then split the status line off. */
    size_t cap = 65536, len = 0;
    buf = malloc(cap + 1);
    if (!buf) {
        r = -ENOMEM;
        goto out;
    }
    for (;;) {
        if (len == cap) {
            char *nb = cap < MAX_FILE ? realloc(buf, cap * 2 + 1) : NULL;
            if (!nb) {
                r = -ENOMEM;
                goto out;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = recv(fd, buf + len, cap - len, 0);
        if (n > 0) {
            len += (size_t)n;
        } else if (n == 0) {
            break;
        } else if (errno == EAGAIN || errno == EINTR) {
            if ((r = wait_io(fd, POLLIN, deadline)) < 0)
                break; /* a timeout leaves a partial reply, judged below */
        } else {
            r = -errno;
            break;
        }
    }
    buf[len] = '\0';
    char *nl = memchr(buf, '\n', len);
    if (!nl) {
        r = r < 0 ? r : -EPROTO;
        goto out;
    }
    *nl = '\0';
    if (strncmp(buf, "error ", 6) == 0) {
        if (reterr_reason)
            *reterr_reason = strdup(buf + 6);
        r = -EREMOTEIO;
        goto out;
    }
    char *end = buf;
    errno = 0;
    /* "ok N": N in decimal digits only (strtoull() would take "-5" and wrap it). */
    bool ok = strncmp(buf, "ok ", 3) == 0 && buf[3] >= '0' && buf[3] <= '9';
    unsigned long long want = ok ? strtoull(buf + 3, &end, 10) : 0;
    if (!ok || errno == ERANGE || *end) {
        r = -EPROTO;
        goto out;
    }
    size_t got = len - (size_t)(nl + 1 - buf);
    memmove(buf, nl + 1, got);
    buf[got] = '\0';
    *ret_payload = buf;
    *ret_len = got;
    buf = NULL;
    r = got >= want ? 0 : 1;
out:
    free(buf);
    close(fd);
    return r;
}

const char *cli_signal_name(int signo, char *buf, size_t size)
{
    const char *abbrev = signo > 0 && signo < SIGRTMIN ? sigabbrev_np(signo) : NULL;
    if (abbrev)
        snprintf(buf, size, "SIG%s", abbrev);
    else if (signo == SIGRTMIN)
        snprintf(buf, size, "SIGRTMIN");
    else if (signo == SIGRTMAX)
        snprintf(buf, size, "SIGRTMAX");
    else if (signo > SIGRTMIN && signo < SIGRTMAX && SIGRTMAX - signo < signo - SIGRTMIN)
        snprintf(buf, size, "SIGRTMAX-%d", SIGRTMAX - signo); /* as libgmr names it */
    else if (signo > SIGRTMIN && signo < SIGRTMAX)
        snprintf(buf, size, "SIGRTMIN+%d", signo - SIGRTMIN);
    else
        snprintf(buf, size, "signal %d", signo);
    return buf;
}

int cli_parse_signal(const char *s)
{
    char *end;
    long n = strtol(s, &end, 10);
    if (end != s && *end == '\0')
        return n > 0 && n <= SIGRTMAX ? (int)n : -1;
    if (strncasecmp(s, "SIG", 3) == 0)
        s += 3;
    if (strncasecmp(s, "RTMIN+", 6) == 0) {
        n = strtol(s + 6, &end, 10);
        return end != s + 6 && !*end && SIGRTMIN + n <= SIGRTMAX ? SIGRTMIN + (int)n : -1;
    }
    for (int i = 1; i < SIGRTMIN; i++) {
        const char *a = sigabbrev_np(i);
        if (a && strcasecmp(a, s) == 0)
            return i;
    }
    return -1;
}
