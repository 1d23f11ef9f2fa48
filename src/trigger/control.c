/*
 * The control socket (see control.h for the protocol and the rules).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/state.h"
#include "output/sink.h"
#include "render/render.h"
#include "trigger/control.h"
#include "trigger/trigger.h"
#include "util/alloc.h"
#include "util/macro.h"
#include "util/signal-name.h"

struct gmr__control {
    int fd;      /* listening socket, non-blocking; owned */
    pid_t owner; /* the process that created the socket file */
    char *path;  /* owned; <dir>/<pid>.sock */
};

int gmr__control_default_dir(char *buf, size_t size)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(buf, size, "%s/gmr", xdg);
    else
        n = snprintf(buf, size, "/tmp/gmr-%u", (unsigned)geteuid());
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int gmr__control_check_dir(const char *path, uid_t uid)
{
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return -errno;
    /* Checked through an fd opened without following a symlink, so the checks hold for it. */
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int r = -errno;
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
            return -ELOOP;
        return r;
    }
    struct stat st;
    int r = 0;
    if (fstat(fd, &st) < 0)
        r = -errno;
    else if (!S_ISDIR(st.st_mode))
        r = -ENOTDIR;
    else if (st.st_uid != uid || (st.st_mode & 077) != 0)
        r = -EPERM;
    close(fd);
    return r;
}

bool gmr__control_peer_allowed(uid_t peer, uid_t self)
{
    return peer == self || peer == 0;
}

/* True when @s (@n bytes) equals the NUL-terminated @word. */
static bool word_is(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(s, word, n) == 0;
}

int gmr__control_parse(const char *line, size_t len, struct gmr__control_request *ret)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    const char *sp = memchr(line, ' ', len);
    size_t cmd_len = sp ? (size_t)(sp - line) : len;
    const char *arg = sp ? sp + 1 : NULL;
    size_t arg_len = sp ? len - cmd_len - 1 : 0;

    struct gmr__control_request req = {.cmd = GMR_CONTROL_REPORT, .format = GMR_FORMAT_TEXT};
    if (word_is(line, cmd_len, "info")) {
        if (arg)
            return -EINVAL;
        req.cmd = GMR_CONTROL_INFO;
    } else if (word_is(line, cmd_len, "report")) {
        if (arg && word_is(arg, arg_len, "json"))
            req.format = GMR_FORMAT_JSON;
        else if (arg && !word_is(arg, arg_len, "text"))
            return -EINVAL;
    } else {
        return -EINVAL;
    }
    *ret = req;
    return 0;
}

/* Parses "<digits>.sock"; returns the pid or 0. */
static pid_t sock_name_pid(const char *name)
{
    char *end;
    if (name[0] < '1' || name[0] > '9')
        return 0;
    errno = 0;
    long pid = strtol(name, &end, 10);
    if (errno || strcmp(end, ".sock") != 0 || pid <= 0 || pid > 0x7fffffff)
        return 0;
    return (pid_t)pid;
}

int gmr__control_clean_stale(const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    DIR *d = fdopendir(dfd);
    if (!d) {
        int r = -errno;
        close(dfd);
        return r;
    }
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        pid_t pid = sock_name_pid(e->d_name);
        struct stat st;
        if (pid == 0 || pid == getpid())
            continue;
        if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISSOCK(st.st_mode))
            continue;
        /* EPERM means the process exists (another user's); only ESRCH says it is gone. */
        if (kill(pid, 0) < 0 && errno == ESRCH && unlinkat(dfd, e->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

int gmr__control_new(const char *dir, struct gmr__control **ret)
{
    char dbuf[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int r;
    if (!dir) {
        r = gmr__control_default_dir(dbuf, sizeof(dbuf));
        if (r < 0)
            return r;
        dir = dbuf;
    }
    r = gmr__control_check_dir(dir, geteuid());
    if (r < 0)
        return r;
    (void)gmr__control_clean_stale(dir);

    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%d.sock", dir, (int)getpid());
    if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;

    struct gmr__control *c = gmr__calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->fd = -1;
    c->owner = getpid();
    c->path = gmr__strdup(sa.sun_path);
    if (!c->path) {
        r = -ENOMEM;
        goto fail;
    }
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        r = -errno;
        goto fail;
    }
    /* A file of our pid is left over from an earlier process with the same pid. */
    (void)unlink(c->path);
    if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(c->fd, 16) < 0) {
        r = -errno;
        (void)unlink(c->path);
        goto fail;
    }
    *ret = c;
    return 0;

fail:
    if (c->fd >= 0)
        close(c->fd);
    gmr__free(c->path);
    gmr__free(c);
    return r;
}

int gmr__control_fd(const struct gmr__control *c)
{
    return c ? c->fd : -1;
}

const char *gmr__control_path(const struct gmr__control *c)
{
    return c ? c->path : NULL;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for @events on @fd until @deadline (monotonic ms).  Return: 0, -ETIMEDOUT, -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)GMR_MIN(left, 1000));
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n > 0)
            return 0;
    }
}

/* Reads the request line.  Return: its length ('\n' excluded), -E2BIG, -ETIMEDOUT, -errno. */
static int read_request(int fd, char *buf, size_t size, int64_t deadline)
{
    size_t len = 0;
    for (;;) {
        ssize_t n = recv(fd, buf + len, size - len, 0);
        if (n > 0) {
            char *nl = memchr(buf + len, '\n', (size_t)n);
            len += (size_t)n;
            if (nl)
                return (int)(nl - buf);
            if (len == size)
                return -E2BIG;
            continue;
        }
        if (n == 0)
            return -ECONNRESET; /* closed before a whole line */
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        int r = wait_fd(fd, POLLIN, deadline);
        if (r < 0)
            return r;
    }
}

/* Sends all of @data before @deadline.  Return: 0, -ETIMEDOUT, -errno (-EPIPE: client gone). */
static int send_all(int fd, const char *data, size_t len, int64_t deadline)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        int r = wait_fd(fd, POLLOUT, deadline);
        if (r < 0)
            return r;
    }
    return 0;
}

static void send_error(int fd, const char *reason, int64_t deadline)
{
    char line[200];
    int n = snprintf(line, sizeof(line), "error %s\n", reason);
    if (n > 0)
        (void)send_all(fd, line, GMR_MIN((size_t)n, sizeof(line) - 1), deadline);
}

/* Sends "ok <size>\n" and the memory file's content. */
static int send_payload(int fd, int mem, int64_t deadline)
{
    struct stat st;
    if (fstat(mem, &st) < 0)
        return -errno;
    char head[40];
    int n = snprintf(head, sizeof(head), "ok %lld\n", (long long)st.st_size);
    int r = send_all(fd, head, (size_t)n, deadline);
    char chunk[16384];
    off_t off = 0;
    while (r == 0 && off < st.st_size) {
        ssize_t got = pread(mem, chunk, sizeof(chunk), off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return got < 0 ? -errno : -EIO;
        r = send_all(fd, chunk, (size_t)got, deadline);
        off += got;
    }
    return r;
}

/* Answers one accepted connection, then closes it. */
static void serve_one(int fd, gmr__control_handler fn, void *userdata)
{
    int64_t deadline = now_ms() + GMR_CONTROL_REQUEST_MS;
    struct ucred cred;
    socklen_t cl = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
        !gmr__control_peer_allowed(cred.uid, geteuid())) {
        send_error(fd, "permission denied", deadline);
        goto out;
    }
    char line[GMR_CONTROL_MAX_REQUEST];
    int len = read_request(fd, line, sizeof(line), deadline);
    if (len < 0) {
        if (len == -E2BIG)
            send_error(fd, "request too long", deadline);
        goto out;
    }
    struct gmr__control_request req;
    if (gmr__control_parse(line, (size_t)len, &req) < 0) {
        send_error(fd, "unknown request (try: info, report text, report json)", deadline);
        goto out;
    }
    int mem = memfd_create("gmr-control", MFD_CLOEXEC);
    if (mem < 0) {
        send_error(fd, strerror(errno), deadline);
        goto out;
    }
    int r = fn(mem, &req, userdata);
    deadline = now_ms() + GMR_CONTROL_SEND_MS;
    if (r < 0)
        send_error(fd, strerror(-r), deadline);
    else
        (void)send_payload(fd, mem, deadline);
    close(mem);
out:
    close(fd);
}

int gmr__control_serve(struct gmr__control *c, gmr__control_handler fn, void *userdata)
{
    int served = 0;
    while (served < GMR_CONTROL_MAX_BATCH) {
        int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            break; /* EAGAIN: nothing pending; anything else: try at the next wakeup */
        }
        serve_one(fd, fn, userdata);
        served++;
    }
    return served;
}

void gmr__control_free(struct gmr__control *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    if (c->owner == getpid())
        (void)unlink(c->path);
    gmr__free(c->path);
    gmr__free(c);
}

void gmr__control_forget_after_fork(struct gmr__control *c)
{
    if (!c)
        return;
    c->owner = 0;
    gmr__control_free(c);
}

void gmr__control_abandon(struct gmr__control *c)
{
    if (!c)
        return;
    c->fd = -1;
    gmr__control_free(c);
}

/* Sets @key to @s, or to null when @s is NULL. */
static int set_str_or_null(json_t *obj, const char *key, const char *s)
{
    return s ? gmr__json_set_str(obj, key, s) : json_object_set_new(obj, key, json_null());
}

int gmr__control_info(int fd, const struct gmr__trigger *t, const char *path)
{
    json_t *o = json_object();
    json_t *triggers = json_array();
    char sig[32], buf[4200];
    int r = -ENOMEM;
    if (!o || !triggers)
        goto out;

    bool has_signal = t && t->signo != 0 && !atomic_load(&t->released);
    if (has_signal)
        gmr__signal_name(t->signo, sig, sizeof(sig));

    pthread_mutex_lock(&gmr__state.lock);
    const struct gmr__settings *run = &gmr__state.run;
    bool ok = json_object_set_new(o, "protocol", json_integer(GMR_CONTROL_PROTOCOL)) == 0 &&
              json_object_set_new(o, "pid", json_integer(getpid())) == 0 &&
              set_str_or_null(o, "service_name", gmr__state.service_name) == 0 &&
              gmr__json_set_str(o, "libgmr_version", gmr_version_string()) == 0 &&
              gmr__json_set_str(o, "format",
                                run->format == GMR_FORMAT_JSON ? "json" : "text") == 0 &&
              set_str_or_null(o, "signal", has_signal ? sig : NULL) == 0 &&
              set_str_or_null(o, "log_dir", run->log_dir) == 0 &&
              set_str_or_null(o, "file_trigger", run->file_trigger) == 0 &&
              set_str_or_null(o, "socket", path) == 0 &&
              json_array_append_new(triggers, gmr__json_string("control socket")) == 0;
    if (ok && has_signal) {
        snprintf(buf, sizeof(buf), "signal %s", sig);
        ok = json_array_append_new(triggers, gmr__json_string(buf)) == 0;
    }
    if (ok && run->file_trigger) {
        snprintf(buf, sizeof(buf), "file %s", run->file_trigger);
        ok = json_array_append_new(triggers, gmr__json_string(buf)) == 0;
    }
    pthread_mutex_unlock(&gmr__state.lock);
    if (!ok || json_object_set(o, "triggers", triggers) < 0)
        goto out;

    r = json_dumpfd(o, fd, JSON_COMPACT | JSON_PRESERVE_ORDER) < 0 ? -EIO
                                                                     : gmr__write_all(fd, "\n", 1);
out:
    json_decref(triggers);
    json_decref(o);
    return r;
}
