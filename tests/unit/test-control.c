/*
 * Unit tests of the control socket: request parsing, the peer check, the runtime directory's
 * safety checks, stale socket cleanup, whole request/reply exchanges over a real socket
 * (including a peer of another uid, a silent client and an overlong request), fork, and
 * allocation failures.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "trigger/control.h"
#include "util/alloc.h"

static char *make_base(void)
{
    char tmpl[] = "/tmp/gmr-control-test-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    return strdup(tmpl);
}

static void remove_tree(const char *path)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

static int parse(const char *line, struct gmr__control_request *req)
{
    return gmr__control_parse(line, strlen(line), req);
}

static void test_control_parse_requests(void **state)
{
    (void)state;
    struct gmr__control_request req;
    assert_int_equal(parse("info", &req), 0);
    assert_int_equal(req.cmd, GMR_CONTROL_INFO);
    assert_int_equal(parse("report", &req), 0);
    assert_int_equal(req.cmd, GMR_CONTROL_REPORT);
    assert_int_equal(req.format, GMR_FORMAT_TEXT);
    assert_int_equal(parse("report text", &req), 0);
    assert_int_equal(req.format, GMR_FORMAT_TEXT);
    assert_int_equal(parse("report json\r", &req), 0);
    assert_int_equal(req.cmd, GMR_CONTROL_REPORT);
    assert_int_equal(req.format, GMR_FORMAT_JSON);

    static const char *const bad[] = {"",           "report xml", "report json extra",
                                      "info now",   "REPORT",     "report ",
                                      " report",    "reportjson", "info\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        req.cmd = 77;
        assert_int_equal(parse(bad[i], &req), -EINVAL);
        assert_int_equal(req.cmd, 77); /* untouched on failure */
    }
    /* Bytes after an embedded NUL are part of the request, not ignored. */
    assert_int_equal(gmr__control_parse("info\0x", 6, &req), -EINVAL);
}

static void test_control_peer_check(void **state)
{
    (void)state;
    assert_true(gmr__control_peer_allowed(1000, 1000));
    assert_true(gmr__control_peer_allowed(0, 1000));
    assert_false(gmr__control_peer_allowed(1001, 1000));
    assert_false(gmr__control_peer_allowed(1000, 0));
    assert_true(gmr__control_peer_allowed(0, 0));
}

static void test_control_dir_created_private(void **state)
{
    (void)state;
    char *base = make_base();
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/gmr", base);
    mode_t old = umask(0);
    assert_int_equal(gmr__control_check_dir(dir, geteuid()), 0);
    umask(old);
    struct stat st;
    assert_int_equal(lstat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0700);
    /* An existing safe directory is fine too. */
    assert_int_equal(gmr__control_check_dir(dir, geteuid()), 0);
    remove_tree(base);
    free(base);
}

static void test_control_dir_refuses_symlink(void **state)
{
    (void)state;
    char *base = make_base();
    char real[300], link[300];
    snprintf(real, sizeof(real), "%s/real", base);
    snprintf(link, sizeof(link), "%s/gmr", base);
    assert_int_equal(mkdir(real, 0700), 0);
    assert_int_equal(symlink(real, link), 0);
    assert_int_equal(gmr__control_check_dir(link, geteuid()), -ELOOP);
    /* A dangling symlink is not followed to create its target either. */
    assert_int_equal(unlink(link), 0);
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/missing", base);
    assert_int_equal(symlink(missing, link), 0);
    assert_int_equal(gmr__control_check_dir(link, geteuid()), -ELOOP);
    struct stat st;
    assert_int_equal(lstat(missing, &st), -1);
    remove_tree(base);
    free(base);
}

static void test_control_dir_refuses_wrong_mode(void **state)
{
    (void)state;
    char *base = make_base();
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/gmr", base);
    static const mode_t modes[] = {0755, 0750, 0707, 0701, 0770, 01777};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        assert_int_equal(mkdir(dir, 0700), 0);
        assert_int_equal(chmod(dir, modes[i]), 0);
        assert_int_equal(gmr__control_check_dir(dir, geteuid()), -EPERM);
        assert_int_equal(rmdir(dir), 0);
    }
    remove_tree(base);
    free(base);
}

static void test_control_dir_refuses_wrong_owner(void **state)
{
    (void)state;
    char *base = make_base();
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/gmr", base);
    assert_int_equal(mkdir(dir, 0700), 0);
    /* Asking for another owner is the same check as a directory of another user. */
    assert_int_equal(gmr__control_check_dir(dir, geteuid() + 1), -EPERM);
    if (geteuid() == 0) {
        assert_int_equal(chown(dir, 12345, 12345), 0);
        assert_int_equal(gmr__control_check_dir(dir, 0), -EPERM);
    }
    remove_tree(base);
    free(base);
}

static void test_control_dir_refuses_file(void **state)
{
    (void)state;
    char *base = make_base();
    char path[300];
    snprintf(path, sizeof(path), "%s/gmr", base);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(gmr__control_check_dir(path, geteuid()), -ENOTDIR);
    remove_tree(base);
    free(base);
}

/* Binds a socket file at @dir/@name and closes it, as a process that died would leave it. */
static void leave_socket(const char *dir, const char *name)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, name);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
}

static pid_t dead_pid(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    return pid;
}

static bool exists(const char *dir, const char *name)
{
    char path[400];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return lstat(path, &st) == 0;
}

static void test_control_clean_stale(void **state)
{
    (void)state;
    char *base = make_base();
    char dead[32], live[32], notsock[32], path[400];
    snprintf(dead, sizeof(dead), "%d.sock", (int)dead_pid());
    snprintf(live, sizeof(live), "%d.sock", (int)getppid());
    snprintf(notsock, sizeof(notsock), "%d.sock", (int)dead_pid());
    leave_socket(base, dead);
    leave_socket(base, live);
    leave_socket(base, "notes");
    snprintf(path, sizeof(path), "%s/%s", base, notsock);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);

    assert_int_equal(gmr__control_clean_stale(base), 1);
    assert_false(exists(base, dead));
    assert_true(exists(base, live));     /* its process runs */
    assert_true(exists(base, "notes"));  /* not named like ours */
    assert_true(exists(base, notsock));  /* not a socket */
    assert_int_equal(gmr__control_clean_stale("/nonexistent/gmr"), -ENOENT);

    /* Creating a socket cleans the directory too. */
    leave_socket(base, dead);
    struct gmr__control *c = NULL;
    char dir[300];
    snprintf(dir, sizeof(dir), "%s", base);
    assert_int_equal(chmod(dir, 0700), 0);
    assert_int_equal(gmr__control_new(dir, &c), 0);
    assert_false(exists(base, dead));
    gmr__control_free(c);
    remove_tree(base);
    free(base);
}

/* The fake payload: says what was asked. */
static int fake_handler(int out_fd, const struct gmr__control_request *req, void *userdata)
{
    int *calls = userdata;
    (*calls)++;
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "%s %s\n", req->cmd == GMR_CONTROL_INFO ? "info" : "report",
                     req->format == GMR_FORMAT_JSON ? "json" : "text");
    return write(out_fd, buf, (size_t)n) == n ? 0 : -EIO;
}

static int failing_handler(int out_fd, const struct gmr__control_request *req, void *userdata)
{
    (void)out_fd;
    (void)req;
    (void)userdata;
    return -ENOMEM;
}

static int connect_to(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* Reads until EOF into @buf (NUL-terminated). */
static void read_all(int fd, char *buf, size_t size)
{
    size_t len = 0;
    ssize_t n;
    while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
}

/* Sends @request over a new connection, serves it, returns the reply. */
static void exchange(struct gmr__control *c, const char *request, size_t len,
                     gmr__control_handler fn, int *calls, char *reply, size_t size)
{
    int fd = connect_to(gmr__control_path(c));
    assert_int_equal(write(fd, request, len), (ssize_t)len);
    assert_int_equal(gmr__control_serve(c, fn, calls), 1);
    read_all(fd, reply, size);
    close(fd);
}

struct server {
    char *base;
    char dir[300];
    struct gmr__control *c;
};

static struct server server_new(void)
{
    struct server s = {.base = make_base()};
    snprintf(s.dir, sizeof(s.dir), "%s/gmr", s.base);
    assert_int_equal(gmr__control_new(s.dir, &s.c), 0);
    char want[400];
    snprintf(want, sizeof(want), "%s/%d.sock", s.dir, (int)getpid());
    assert_string_equal(gmr__control_path(s.c), want);
    return s;
}

static void server_done(struct server *s)
{
    gmr__control_free(s->c);
    remove_tree(s->base);
    free(s->base);
}

static void test_control_exchanges(void **state)
{
    (void)state;
    struct server s = server_new();
    int calls = 0;
    char reply[512];

    exchange(s.c, "info\n", 5, fake_handler, &calls, reply, sizeof(reply));
    assert_string_equal(reply, "ok 10\ninfo text\n");
    exchange(s.c, "report json\n", 12, fake_handler, &calls, reply, sizeof(reply));
    assert_string_equal(reply, "ok 12\nreport json\n");
    exchange(s.c, "report\r\n", 8, fake_handler, &calls, reply, sizeof(reply));
    assert_string_equal(reply, "ok 12\nreport text\n");
    assert_int_equal(calls, 3);

    exchange(s.c, "bogus\n", 6, fake_handler, &calls, reply, sizeof(reply));
    assert_string_equal(reply, "error unknown request (try: info, report text, report json)\n");
    exchange(s.c, "report text\n", 12, failing_handler, &calls, reply, sizeof(reply));
    assert_string_equal(reply, "error Cannot allocate memory\n");

    char big[GMR_CONTROL_MAX_REQUEST + 10];
    memset(big, 'x', sizeof(big));
    exchange(s.c, big, sizeof(big), fake_handler, &calls, reply, sizeof(reply));
    assert_string_equal(reply, "error request too long\n");
    assert_int_equal(calls, 3);

    /* Nothing pending: serving returns at once. */
    assert_int_equal(gmr__control_serve(s.c, fake_handler, &calls), 0);
    server_done(&s);
}

static void test_control_silent_client_is_dropped(void **state)
{
    (void)state;
    struct server s = server_new();
    int calls = 0;
    int quiet = connect_to(gmr__control_path(s.c));
    assert_int_equal(write(quiet, "rep", 3), 3); /* no newline, then silence */
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(gmr__control_serve(s.c, fake_handler, &calls), 1);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double took = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    assert_true(took >= GMR_CONTROL_REQUEST_MS / 1000.0 - 0.1);
    assert_true(took < GMR_CONTROL_REQUEST_MS / 1000.0 + 2);
    assert_int_equal(calls, 0);
    char reply[64];
    read_all(quiet, reply, sizeof(reply));
    assert_string_equal(reply, ""); /* closed without an answer */
    close(quiet);

    /* A client that goes away before reading its reply does not hurt the server. */
    int gone = connect_to(gmr__control_path(s.c));
    assert_int_equal(write(gone, "info\n", 5), 5);
    close(gone);
    assert_int_equal(gmr__control_serve(s.c, fake_handler, &calls), 1);
    server_done(&s);
}

static void test_control_other_uid_refused(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        skip();
        return;
    }
    struct server s = server_new();
    /* Let the other user reach the socket, so that only SO_PEERCRED can refuse. */
    assert_int_equal(chmod(s.base, 0711), 0);
    assert_int_equal(chmod(s.dir, 0711), 0);
    assert_int_equal(chmod(gmr__control_path(s.c), 0777), 0);
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        if (setgid(65534) < 0 || setuid(65534) < 0)
            _exit(3);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", gmr__control_path(s.c));
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
            _exit(4);
        if (write(fd, "report text\n", 12) != 12)
            _exit(5);
        if (write(pipefd[1], "c", 1) != 1)
            _exit(6);
        char reply[128];
        size_t len = 0;
        ssize_t n;
        while ((n = read(fd, reply + len, sizeof(reply) - 1 - len)) > 0)
            len += (size_t)n;
        reply[len] = '\0';
        _exit(strcmp(reply, "error permission denied\n") == 0 ? 0 : 7);
    }
    close(pipefd[1]);
    char ch;
    assert_int_equal(read(pipefd[0], &ch, 1), 1);
    close(pipefd[0]);
    int calls = 0;
    assert_int_equal(gmr__control_serve(s.c, fake_handler, &calls), 1);
    assert_int_equal(calls, 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    server_done(&s);
}

static void test_control_fork_child_leaves_parent_socket(void **state)
{
    (void)state;
    struct server s = server_new();
    char path[400];
    snprintf(path, sizeof(path), "%s", gmr__control_path(s.c));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        gmr__control_forget_after_fork(s.c);
        struct gmr__control *mine = NULL;
        int ok = gmr__control_new(s.dir, &mine) == 0;
        char want[400];
        snprintf(want, sizeof(want), "%s/%d.sock", s.dir, (int)getpid());
        ok = ok && strcmp(gmr__control_path(mine), want) == 0;
        gmr__control_free(mine);
        struct stat st;
        _exit(ok && lstat(path, &st) == 0 && lstat(want, &st) < 0 ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The parent's socket still exists and still answers. */
    int calls = 0;
    char reply[64];
    exchange(s.c, "info\n", 5, fake_handler, &calls, reply, sizeof(reply));
    assert_string_equal(reply, "ok 10\ninfo text\n");
    gmr__control_free(s.c);
    struct stat st;
    assert_int_equal(lstat(path, &st), -1);
    s.c = NULL;
    server_done(&s);
}

static void test_control_default_dir(void **state)
{
    (void)state;
    char buf[300], want[64];
    const char *saved = getenv("XDG_RUNTIME_DIR");
    char *copy = saved ? strdup(saved) : NULL;
    setenv("XDG_RUNTIME_DIR", "/run/user/1234", 1);
    assert_int_equal(gmr__control_default_dir(buf, sizeof(buf)), 0);
    assert_string_equal(buf, "/run/user/1234/gmr");
    setenv("XDG_RUNTIME_DIR", "relative/dir", 1); /* ignored, as the XDG spec says */
    snprintf(want, sizeof(want), "/tmp/gmr-%u", (unsigned)geteuid());
    assert_int_equal(gmr__control_default_dir(buf, sizeof(buf)), 0);
    assert_string_equal(buf, want);
    unsetenv("XDG_RUNTIME_DIR");
    assert_int_equal(gmr__control_default_dir(buf, sizeof(buf)), 0);
    assert_string_equal(buf, want);
    assert_int_equal(gmr__control_default_dir(buf, 5), -ENAMETOOLONG);
    if (copy)
        setenv("XDG_RUNTIME_DIR", copy, 1);
    free(copy);
}

static void test_control_path_too_long(void **state)
{
    (void)state;
    char dir[200];
    memset(dir, 'd', sizeof(dir) - 1);
    dir[0] = '/';
    dir[sizeof(dir) - 1] = '\0';
    struct gmr__control *c = NULL;
    int r = gmr__control_new(dir, &c);
    assert_true(r < 0);
    assert_null(c);
}

static void test_control_allocation_failures(void **state)
{
    (void)state;
    char *base = make_base();
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/gmr", base);
    for (long n = 0;; n++) {
        struct gmr__control *c = NULL;
        gmr__alloc_fail_after(n);
        int r = gmr__control_new(dir, &c);
        gmr__alloc_fail_after(-1);
        if (r == 0) {
            gmr__control_free(c);
            assert_true(n > 0);
            break;
        }
        assert_int_equal(r, -ENOMEM);
        assert_null(c);
        char path[400];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%d.sock", dir, (int)getpid());
        assert_int_equal(lstat(path, &st), -1); /* nothing left behind */
    }
    remove_tree(base);
    free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_control_parse_requests),
        cmocka_unit_test(test_control_peer_check),
        cmocka_unit_test(test_control_dir_created_private),
        cmocka_unit_test(test_control_dir_refuses_symlink),
        cmocka_unit_test(test_control_dir_refuses_wrong_mode),
        cmocka_unit_test(test_control_dir_refuses_wrong_owner),
        cmocka_unit_test(test_control_dir_refuses_file),
        cmocka_unit_test(test_control_clean_stale),
        cmocka_unit_test(test_control_exchanges),
        cmocka_unit_test(test_control_silent_client_is_dropped),
        cmocka_unit_test(test_control_other_uid_refused),
        cmocka_unit_test(test_control_fork_child_leaves_parent_socket),
        cmocka_unit_test(test_control_default_dir),
        cmocka_unit_test(test_control_path_too_long),
        cmocka_unit_test(test_control_allocation_failures),
    };
    return cmocka_run_group_tests_name("control", tests, NULL, NULL);
}
