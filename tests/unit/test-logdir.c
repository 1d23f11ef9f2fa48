/*
 * Unit tests of report files in the log directory: names, mode, no overwrite, no symlink
 * followed, errors leaving nothing behind, RLIMIT_FSIZE, allocation failures, several
 * processes at once.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <regex.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "output/logdir.h"
#include "util/alloc.h"
#include "util/macro.h"

/* A fixed time for tests that need one second: 2024-02-29 23:59:58 UTC. */
#define FIXED_WHEN  ((time_t)1709251198)
#define FIXED_STAMP "20240229235958"
#define SERVICE     "svc"
#define BASE        SERVICE "_gurumeditation_" FIXED_STAMP

static char *make_dir(void)
{
    char tmpl[] = "/tmp/gmr-logdir-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    return strdup(tmpl);
}

/* Removes @dir and what it holds (files, symlinks, and one level of subdirectories). */
static void remove_dir(char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (unlinkat(dirfd(d), de->d_name, 0) < 0)
            assert_int_equal(unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR), 0);
    }
    closedir(d);
    assert_int_equal(rmdir(dir), 0);
    free(dir);
}

/* Number of entries in @dir; *hidden gets those whose name starts with '.'. */
static int count_entries(const char *dir, int *hidden)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0, h = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        n++;
        if (de->d_name[0] == '.')
            h++;
    }
    closedir(d);
    if (hidden)
        *hidden = h;
    return n;
}

static char *read_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    char *s = calloc(1, (size_t)st.st_size + 1);
    assert_non_null(s);
    assert_int_equal(read(fd, s, (size_t)st.st_size), st.st_size);
    close(fd);
    return s;
}

static void write_file(const char *path, const char *content)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
}

static char *join(const char *dir, const char *name)
{
    char *p;
    assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

static void assert_matches(const char *s, const char *pattern)
{
    regex_t re;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    int r = regexec(&re, s, 0, NULL, 0);
    regfree(&re);
    if (r != 0)
        fail_msg("\"%s\" does not match /%s/", s, pattern);
}

/* Runs @fn in a child process and returns its exit status (77: skipped). */
static int run_in_child(int (*fn)(const char *dir), const char *dir)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fn(dir));
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("child killed by signal %d", WTERMSIG(status));
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_logdir_name_format(void **state)
{
    (void)state;
    char *dir = make_dir();
    char *path = NULL;
    time_t before = time(NULL);
    assert_int_equal(gmr__logdir_write(dir, "nova-compute", false, "text report\n", 12, &path), 0);
    time_t after = time(NULL);

    char pattern[256];
    snprintf(pattern, sizeof(pattern), "^%s/nova-compute_gurumeditation_[0-9]{14}$", dir);
    assert_matches(path, pattern);
    char *content = read_file(path);
    assert_string_equal(content, "text report\n");
    free(content);

    /* The stamp is UTC and taken during the call. */
    struct tm tm = {0};
    const char *stamp = strrchr(path, '_') + 1;
    assert_non_null(strptime(stamp, "%Y%m%d%H%M%S", &tm));
    time_t t = timegm(&tm);
    assert_true(t >= before && t <= after);
    gmr__free(path);

    /* JSON gets ".json"; a trailing slash on the directory gives no double slash. */
    char *dir_slash = join(dir, "");
    assert_int_equal(gmr__logdir_write(dir_slash, "nova-compute", true, "{}", 2, &path), 0);
    snprintf(pattern, sizeof(pattern), "^%s/nova-compute_gurumeditation_[0-9]{14}(_1)?\\.json$",
             dir);
    assert_matches(path, pattern);
    gmr__free(path);
    free(dir_slash);

    /* An empty report is still a file. */
    assert_int_equal(gmr__logdir_write_at(dir, SERVICE, false, NULL, 0, FIXED_WHEN, 0, &path), 0);
    assert_string_equal(strrchr(path, '/') + 1, BASE);
    gmr__free(path);
    remove_dir(dir);
}

static void test_logdir_sanitizes_service_name(void **state)
{
    (void)state;
    char buf[GMR_LOGDIR_MAX_SERVICE + 1];
    assert_string_equal(gmr__logdir_sanitize("../../etc/passwd", buf), "_._.._etc_passwd");
    assert_string_equal(gmr__logdir_sanitize(".hidden", buf), "_hidden");
    assert_string_equal(gmr__logdir_sanitize("..", buf), "_.");
    assert_string_equal(gmr__logdir_sanitize("a b\n\tc", buf), "a_b__c");
    assert_string_equal(gmr__logdir_sanitize("caf\xc3\xa9", buf), "caf__");
    assert_string_equal(gmr__logdir_sanitize("ok-1.2+x@h_y", buf), "ok-1.2+x@h_y");
    char long_name[400];
    memset(long_name, 'n', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_int_equal(strlen(gmr__logdir_sanitize(long_name, buf)), GMR_LOGDIR_MAX_SERVICE);

    /* The file stays directly inside the directory, visible. */
    char *dir = make_dir();
    const char *names[] = {"../../../tmp/escape", "/", "..", ".", "a/b", long_name};
    for (size_t i = 0; i < GMR_ELEMENTSOF(names); i++) {
        char *path = NULL;
        assert_int_equal(gmr__logdir_write(dir, names[i], false, "x", 1, &path), 0);
        assert_memory_equal(path, dir, strlen(dir));
        const char *file = path + strlen(dir);
        assert_int_equal(file[0], '/');
        assert_null(strchr(file + 1, '/'));
        assert_int_not_equal(file[1], '.');
        struct stat st;
        assert_int_equal(lstat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        gmr__free(path);
    }
    int hidden;
    assert_int_equal(count_entries(dir, &hidden), (int)GMR_ELEMENTSOF(names));
    assert_int_equal(hidden, 0);
    remove_dir(dir);
}

static void test_logdir_mode_0600_whatever_the_umask(void **state)
{
    (void)state;
    char *dir = make_dir();
    const mode_t masks[] = {0, 022, 0277};
    for (size_t i = 0; i < GMR_ELEMENTSOF(masks); i++) {
        mode_t old = umask(masks[i]);
        char *path = NULL;
        int r = gmr__logdir_write(dir, SERVICE, false, "x", 1, &path);
        umask(old);
        assert_int_equal(r, 0);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        gmr__free(path);
    }
    remove_dir(dir);
}

static void test_logdir_same_second_never_overwrites(void **state)
{
    (void)state;
    char *dir = make_dir();
    for (int i = 0; i < 20; i++) {
        char data[64], expect[NAME_MAX + 1];
        int len = snprintf(data, sizeof(data), "report %d\n", i);
        char *path = NULL;
        assert_int_equal(
            gmr__logdir_write_at(dir, SERVICE, i % 2, data, (size_t)len, FIXED_WHEN, 0, &path), 0);
        /* Text and JSON names differ, so each kind counts its own suffixes. */
        int nth = i / 2;
        if (nth == 0)
            snprintf(expect, sizeof(expect), "%s%s", BASE, i % 2 ? ".json" : "");
        else
            snprintf(expect, sizeof(expect), "%s_%d%s", BASE, nth, i % 2 ? ".json" : "");
        assert_string_equal(strrchr(path, '/') + 1, expect);
        gmr__free(path);
    }
    /* Twenty complete files, nothing else. */
    int hidden;
    assert_int_equal(count_entries(dir, &hidden), 20);
    assert_int_equal(hidden, 0);
    for (int i = 0; i < 20; i++) {
        char name[NAME_MAX + 1], data[64];
        int nth = i / 2;
        if (nth == 0)
            snprintf(name, sizeof(name), "%s%s", BASE, i % 2 ? ".json" : "");
        else
            snprintf(name, sizeof(name), "%s_%d%s", BASE, nth, i % 2 ? ".json" : "");
        snprintf(data, sizeof(data), "report %d\n", i);
        char *path = join(dir, name);
        char *content = read_file(path);
        assert_string_equal(content, data);
        free(content);
        free(path);
    }
    remove_dir(dir);
}

static void test_logdir_symlink_at_final_name_not_followed(void **state)
{
    (void)state;
    char *dir = make_dir();
    char *outside = make_dir();
    char *victim = join(outside, "victim");
    char *absent = join(outside, "absent");
    write_file(victim, "precious\n");

    /* A symlink to a file at the name, a dangling one at the next. */
    char *link0 = join(dir, BASE);
    char *link1 = join(dir, BASE "_1");
    assert_int_equal(symlink(victim, link0), 0);
    assert_int_equal(symlink(absent, link1), 0);

    char *path = NULL;
    assert_int_equal(gmr__logdir_write_at(dir, SERVICE, false, "report\n", 7, FIXED_WHEN, 0, &path),
                     0);
    assert_string_equal(strrchr(path, '/') + 1, BASE "_2");
    char *content = read_file(path);
    assert_string_equal(content, "report\n");
    free(content);
    gmr__free(path);

    content = read_file(victim);
    assert_string_equal(content, "precious\n");
    free(content);
    assert_int_equal(access(absent, F_OK), -1);
    struct stat st;
    assert_int_equal(lstat(link0, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(lstat(link1, &st), 0);
    assert_true(S_ISLNK(st.st_mode));

    free(link0);
    free(link1);
    free(victim);
    free(absent);
    remove_dir(outside);
    remove_dir(dir);
}

static void test_logdir_symlink_at_temp_name_not_followed(void **state)
{
    (void)state;
    char *dir = make_dir();
    char *outside = make_dir();
    char *victim = join(outside, "victim");
    write_file(victim, "precious\n");

    const uint64_t nonce = 0x1234abcdULL;
    char tmpname[NAME_MAX + 1];
    snprintf(tmpname, sizeof(tmpname), "." BASE ".tmp.%ld.%016" PRIx64, (long)getpid(), nonce);
    char *planted = join(dir, tmpname);
    assert_int_equal(symlink(victim, planted), 0);

    char *path = NULL;
    assert_int_equal(
        gmr__logdir_write_at(dir, SERVICE, false, "report\n", 7, FIXED_WHEN, nonce, &path), 0);
    assert_string_equal(strrchr(path, '/') + 1, BASE);
    char *content = read_file(path);
    assert_string_equal(content, "report\n");
    free(content);
    gmr__free(path);

    /* The victim is untouched and the planted link is still there: it was not ours. */
    content = read_file(victim);
    assert_string_equal(content, "precious\n");
    free(content);
    struct stat st;
    assert_int_equal(lstat(planted, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    int hidden;
    assert_int_equal(count_entries(dir, &hidden), 2);
    assert_int_equal(hidden, 1);

    free(planted);
    free(victim);
    remove_dir(outside);
    remove_dir(dir);
}

static void test_logdir_symlinked_directory_is_followed(void **state)
{
    (void)state;
    char *dir = make_dir();
    char *outside = make_dir();
    char *link = join(outside, "logs");
    assert_int_equal(symlink(dir, link), 0);
    char *path = NULL;
    assert_int_equal(gmr__logdir_write_at(link, SERVICE, false, "r", 1, FIXED_WHEN, 0, &path), 0);
    gmr__free(path);
    assert_int_equal(count_entries(dir, NULL), 1);
    free(link);
    remove_dir(outside);
    remove_dir(dir);
}

static void test_logdir_missing_directory(void **state)
{
    (void)state;
    char *dir = make_dir();
    char *missing = join(dir, "nope");
    char *path = (char *)"unchanged";
    assert_int_equal(gmr__logdir_write(missing, SERVICE, false, "x", 1, &path), -ENOENT);
    assert_string_equal(path, "unchanged");
    free(missing);
    remove_dir(dir);
}

static void test_logdir_not_a_directory(void **state)
{
    (void)state;
    char *dir = make_dir();
    char *file = join(dir, "file");
    write_file(file, "");
    char *path = (char *)"unchanged";
    assert_int_equal(gmr__logdir_write(file, SERVICE, false, "x", 1, &path), -ENOTDIR);
    assert_string_equal(path, "unchanged");
    char *below = join(file, "sub");
    assert_int_equal(gmr__logdir_write(below, SERVICE, false, "x", 1, &path), -ENOTDIR);
    assert_int_equal(count_entries(dir, NULL), 1);
    free(below);
    free(file);
    remove_dir(dir);
}

static int write_expect_eacces(const char *dir)
{
    char *path = NULL;
    int r = gmr__logdir_write(dir, SERVICE, false, "x", 1, &path);
    return r == -EACCES ? 0 : 1;
}

/* Drops to an unprivileged user, then tries the write. */
static int unprivileged_write(const char *dir)
{
    if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
        return 77;
    return write_expect_eacces(dir);
}

/*
 * Permission checks do not apply to root (CAP_DAC_OVERRIDE), so as root the write runs in a
 * child that has become nobody (uid 65534); skipped only if that is impossible.
 */
static void test_logdir_unwritable_directory(void **state)
{
    (void)state;
    char *dir = make_dir();
    char *logs = join(dir, "logs");
    assert_int_equal(mkdir(logs, 0700), 0);
    assert_int_equal(chmod(dir, 0755), 0);
    assert_int_equal(chmod(logs, 0555), 0);
    int status = geteuid() == 0 ? run_in_child(unprivileged_write, logs)
                                : run_in_child(write_expect_eacces, logs);
    assert_int_equal(chmod(logs, 0700), 0);
    assert_int_equal(count_entries(logs, NULL), 0);
    free(logs);
    remove_dir(dir);
    if (status == 77)
        skip();
    assert_int_equal(status, 0);
}

/* In a private mount namespace: @dir bound onto itself read-only. */
static int read_only_write(const char *dir)
{
    /* The type is ignored for these; "none" rather than NULL keeps valgrind quiet. */
    if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount(dir, dir, "none", MS_BIND, NULL) < 0 ||
        mount("none", dir, "none", MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
        return 77;
    char *path = NULL;
    return gmr__logdir_write(dir, SERVICE, false, "x", 1, &path) == -EROFS ? 0 : 1;
}

/* Needs CAP_SYS_ADMIN for the mount namespace; skipped without it. */
static void test_logdir_read_only_directory(void **state)
{
    (void)state;
    char *dir = make_dir();
    int status = run_in_child(read_only_write, dir);
    assert_int_equal(count_entries(dir, NULL), 0);
    remove_dir(dir);
    if (status == 77)
        skip();
    assert_int_equal(status, 0);
}

/* In a private mount namespace: a 64 KiB tmpfs on @dir, and a 1 MiB report. */
static int full_disk_write(const char *dir)
{
    if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("gmr-test", dir, "tmpfs", 0, "size=64k,mode=0700") < 0)
        return 77;
    size_t len = 1 << 20;
    char *data = calloc(1, len);
    char *path = NULL;
    int r = gmr__logdir_write(dir, SERVICE, false, data, len, &path);
    free(data);
    if (r != -ENOSPC)
        return 1;
    return count_entries(dir, NULL) == 0 ? 0 : 2;
}

static void test_logdir_disk_full(void **state)
{
    (void)state;
    char *dir = make_dir();
    int status = run_in_child(full_disk_write, dir);
    remove_dir(dir);
    if (status == 77)
        skip();
    assert_int_equal(status, 0);
}

static bool xfsz_pending(void)
{
    sigset_t set;
    sigpending(&set);
    return sigismember(&set, SIGXFSZ) == 1;
}

static bool xfsz_blocked(void)
{
    sigset_t set;
    pthread_sigmask(SIG_SETMASK, NULL, &set);
    return sigismember(&set, SIGXFSZ) == 1;
}

/*
 * With RLIMIT_FSIZE below the report's size: -EFBIG, no file left, and the process lives
 * although SIGXFSZ keeps its default action (dump core) and is not blocked by the caller.
 */
static int fsize_limited_write(const char *dir)
{
    struct rlimit rl = {4096, 4096};
    signal(SIGXFSZ, SIG_DFL);
    if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
        return 77;
    size_t len = 64 * 1024;
    char *data = calloc(1, len);
    char *path = NULL;

    if (gmr__logdir_write(dir, SERVICE, false, data, len, &path) != -EFBIG)
        return 1;
    if (count_entries(dir, NULL) != 0)
        return 2;
    if (xfsz_pending() || xfsz_blocked())
        return 3; /* ours was consumed, the mask restored */

    /* A SIGXFSZ pending before the call stays pending: it is not ours to take. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGXFSZ);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    raise(SIGXFSZ);
    if (gmr__logdir_write(dir, SERVICE, false, data, len, &path) != -EFBIG)
        return 4;
    if (!xfsz_pending() || !xfsz_blocked())
        return 5;
    free(data);
    return count_entries(dir, NULL) == 0 ? 0 : 6;
}

static void test_logdir_fsize_limit_gives_efbig(void **state)
{
    (void)state;
    char *dir = make_dir();
    int status = run_in_child(fsize_limited_write, dir);
    remove_dir(dir);
    if (status == 77)
        skip();
    assert_int_equal(status, 0);
}

static void test_logdir_allocation_failures(void **state)
{
    (void)state;
    char *dir = make_dir();
    char *path = NULL;
    int r;
    long n;
    for (n = 0; n < 100; n++) {
        gmr__alloc_fail_after(n);
        r = gmr__logdir_write(dir, SERVICE, false, "x", 1, &path);
        gmr__alloc_fail_after(-1);
        if (r == 0)
            break;
        assert_int_equal(r, -ENOMEM);
        assert_int_equal(count_entries(dir, NULL), 0);
    }
    assert_int_equal(r, 0);
    assert_true(n >= 1);
    assert_int_equal(count_entries(dir, NULL), 1);
    gmr__free(path);
    remove_dir(dir);
}

static void test_logdir_bad_arguments(void **state)
{
    (void)state;
    char *path = NULL;
    assert_int_equal(gmr__logdir_write(NULL, SERVICE, false, "x", 1, &path), -EINVAL);
    assert_int_equal(gmr__logdir_write("", SERVICE, false, "x", 1, &path), -EINVAL);
    assert_int_equal(gmr__logdir_write("/tmp", NULL, false, "x", 1, &path), -EINVAL);
    assert_int_equal(gmr__logdir_write("/tmp", "", false, "x", 1, &path), -EINVAL);
    assert_int_equal(gmr__logdir_write("/tmp", SERVICE, false, NULL, 1, &path), -EINVAL);
    assert_int_equal(gmr__logdir_write("/tmp", SERVICE, false, "x", 1, NULL), -EINVAL);
    assert_null(path);
}

#define WRITERS            2
#define REPORTS_PER_WRITER 20

/* Waits for the start byte, then writes its reports, all in the same second. */
static int concurrent_writer(const char *dir, int id, int start_fd)
{
    char go;
    if (read(start_fd, &go, 1) != 1)
        return 1;
    for (int i = 0; i < REPORTS_PER_WRITER; i++) {
        char data[64];
        int len = snprintf(data, sizeof(data), "writer %d report %d\n", id, i);
        char *path = NULL;
        if (gmr__logdir_write_at(dir, SERVICE, false, data, (size_t)len, FIXED_WHEN, 0, &path) != 0)
            return 2;
        gmr__free(path);
    }
    return 0;
}

static void test_logdir_concurrent_processes_never_overwrite(void **state)
{
    (void)state;
    char *dir = make_dir();
    int start[2];
    assert_int_equal(pipe2(start, O_CLOEXEC), 0);
    pid_t pids[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0) {
            close(start[1]);
            int rc = concurrent_writer(dir, w, start[0]);
            close(start[0]);
            free(dir);
            _exit(rc);
        }
    }
    close(start[0]);
    /* Both start together. */
    assert_int_equal(write(start[1], "gg", WRITERS), WRITERS);
    close(start[1]);
    for (int w = 0; w < WRITERS; w++) {
        int status;
        assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }

    /* Every report is there, whole, under its own name; nothing else. */
    int hidden;
    assert_int_equal(count_entries(dir, &hidden), WRITERS * REPORTS_PER_WRITER);
    assert_int_equal(hidden, 0);
    bool seen[WRITERS][REPORTS_PER_WRITER] = {{false}};
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char *path = join(dir, de->d_name);
        char *content = read_file(path);
        int w, i;
        char tail;
        assert_int_equal(sscanf(content, "writer %d report %d%c", &w, &i, &tail), 3);
        assert_int_equal(tail, '\n');
        assert_in_range(w, 0, WRITERS - 1);
        assert_in_range(i, 0, REPORTS_PER_WRITER - 1);
        assert_false(seen[w][i]);
        seen[w][i] = true;
        free(content);
        free(path);
    }
    closedir(d);
    remove_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logdir_name_format),
        cmocka_unit_test(test_logdir_sanitizes_service_name),
        cmocka_unit_test(test_logdir_mode_0600_whatever_the_umask),
        cmocka_unit_test(test_logdir_same_second_never_overwrites),
        cmocka_unit_test(test_logdir_symlink_at_final_name_not_followed),
        cmocka_unit_test(test_logdir_symlink_at_temp_name_not_followed),
        cmocka_unit_test(test_logdir_symlinked_directory_is_followed),
        cmocka_unit_test(test_logdir_missing_directory),
        cmocka_unit_test(test_logdir_not_a_directory),
        cmocka_unit_test(test_logdir_unwritable_directory),
        cmocka_unit_test(test_logdir_read_only_directory),
        cmocka_unit_test(test_logdir_disk_full),
        cmocka_unit_test(test_logdir_fsize_limit_gives_efbig),
        cmocka_unit_test(test_logdir_allocation_failures),
        cmocka_unit_test(test_logdir_bad_arguments),
        cmocka_unit_test(test_logdir_concurrent_processes_never_overwrite),
    };
    return cmocka_run_group_tests_name("logdir", tests, NULL, NULL);
}
