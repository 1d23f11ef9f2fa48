/*
 * Unit tests of the file trigger.  Every wait is a poll() on the watch with a deadline, the way
 * the reporter thread uses it; windows in which nothing may happen are bounded the same way.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "trigger/filewatch.h"
#include "util/alloc.h"
#include "util/macro.h"

/* Short enough for quick tests, long enough to tell one trigger from two. */
#define INTERVAL_MS 200

/* Upper bound for something that should happen; generous for valgrind. */
#define DEADLINE_MS 5000

/* Window in which nothing may happen. */
#define QUIET_MS 600

struct fixture {
    char *dir;  /* mkdtemp */
    char *path; /* dir/trigger */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *join(const char *dir, const char *name)
{
    char *p;
    assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char tmpl[] = "/tmp/gmr-filewatch-XXXXXX";
    if (!f || !mkdtemp(tmpl))
        return -1;
    f->dir = strdup(tmpl);
    f->path = join(f->dir, "trigger");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f->path);
    free(f->dir);
    free(f);
    return 0;
}

static void create_file(const char *path, const char *content)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    assert_int_equal(close(fd), 0);
}

static void touch(const char *path)
{
    assert_int_equal(utimensat(AT_FDCWD, path, NULL, 0), 0);
}

static struct gmr__filewatch *watch(const char *path, bool no_inotify)
{
    struct gmr__filewatch_opts opts = {.interval_ms = INTERVAL_MS, .no_inotify = no_inotify};
    struct gmr__filewatch *fw = NULL;
    assert_int_equal(gmr__filewatch_new_opts(path, &opts, &fw), 0);
    assert_non_null(fw);
    return fw;
}

/* One round of the reporter's loop, waiting at most @max_ms.  Returns poll()'s result. */
static int poll_once(struct gmr__filewatch *fw, int64_t max_ms)
{
    int t = gmr__filewatch_timeout_ms(fw);
    if (t < 0 || t > max_ms)
        t = (int)max_ms;
    struct pollfd pfd = {.fd = gmr__filewatch_fd(fw), .events = POLLIN};
    int n = poll(&pfd, 1, t);
    assert_true(n >= 0);
    return n;
}

/* Runs the loop until a trigger or @ms have passed; returns the trigger (0 or 1). */
static int wait_trigger(struct gmr__filewatch *fw, int ms)
{
    int64_t end = mono_ms() + ms;
    for (int64_t left; (left = end - mono_ms()) > 0;) {
        poll_once(fw, left);
        int r = gmr__filewatch_check(fw);
        assert_true(r == 0 || r == 1);
        if (r)
            return r;
    }
    return 0;
}

struct observed {
    int triggers; /* check() results > 0 */
    int wakeups;  /* poll() returns with the fd readable */
};

/* Runs the loop for @ms, counting. */
static struct observed observe(struct gmr__filewatch *fw, int ms)
{
    struct observed o = {0, 0};
    int64_t end = mono_ms() + ms;
    for (int64_t left; (left = end - mono_ms()) > 0;) {
        o.wakeups += poll_once(fw, left);
        int r = gmr__filewatch_check(fw);
        assert_true(r == 0 || r == 1);
        o.triggers += r;
    }
    return o;
}

static void test_filewatch_touch_triggers_once(void **state)
{
    struct fixture *f = *state;
    create_file(f->path, "");
    struct gmr__filewatch *fw = watch(f->path, false);
    assert_true(gmr__filewatch_fd(fw) >= 0);
    assert_false(gmr__filewatch_polling(fw));
    assert_int_equal(gmr__filewatch_timeout_ms(fw), -1);

    touch(f->path);
    assert_int_equal(wait_trigger(fw, DEADLINE_MS), 1);
    assert_int_equal(observe(fw, QUIET_MS).triggers, 0);

    /* And again: the watch keeps working. */
    touch(f->path);
    assert_int_equal(wait_trigger(fw, DEADLINE_MS), 1);
    assert_int_equal(observe(fw, QUIET_MS).triggers, 0);
    gmr__filewatch_free(fw);
}

static void test_filewatch_existing_file_is_the_baseline(void **state)
{
    struct fixture *f = *state;
    create_file(f->path, "old");
    struct gmr__filewatch *fw = watch(f->path, false);
    assert_int_equal(observe(fw, QUIET_MS).triggers, 0);
    gmr__filewatch_free(fw);
}

static void test_filewatch_write_and_close_coalesced(void **state)
{
    struct fixture *f = *state;
    create_file(f->path, "old content\n");
    struct gmr__filewatch *fw = watch(f->path, false);

    /* The reporter wakes after each step, as it would when events trickle in. */
    int fd = open(f->path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    assert_true(fd >= 0);
    int triggers = 0;
    assert_int_equal(poll_once(fw, DEADLINE_MS), 1);
    triggers += gmr__filewatch_check(fw);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(write(fd, "data\n", 5), 5);
        poll_once(fw, 0);
        triggers += gmr__filewatch_check(fw);
    }
    assert_int_equal(close(fd), 0);
    triggers += wait_trigger(fw, DEADLINE_MS);
    triggers += observe(fw, QUIET_MS).triggers;
    assert_int_equal(triggers, 1);
    gmr__filewatch_free(fw);
}

static void test_filewatch_creation_triggers(void **state)
{
    struct fixture *f = *state;
    struct gmr__filewatch *fw = watch(f->path, false);
    assert_false(gmr__filewatch_polling(fw));
    assert_int_equal(gmr__filewatch_timeout_ms(fw), -1);

    /* touch(1) of a new file: create, attrib, close; one trigger. */
    int fd = open(f->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(futimens(fd, NULL), 0);
    assert_int_equal(close(fd), 0);
    assert_int_equal(wait_trigger(fw, DEADLINE_MS), 1);
    assert_int_equal(observe(fw, QUIET_MS).triggers, 0);
    gmr__filewatch_free(fw);
}

static void test_filewatch_delete_and_recreate(void **state)
{
    struct fixture *f = *state;
    create_file(f->path, "");
    struct gmr__filewatch *fw = watch(f->path, false);

    /* Deleting is not a trigger. */
    assert_int_equal(unlink(f->path), 0);
    assert_int_equal(observe(fw, QUIET_MS).triggers, 0);

    create_file(f->path, "again");
    assert_int_equal(wait_trigger(fw, DEADLINE_MS), 1);
    assert_int_equal(observe(fw, QUIET_MS).triggers, 0);

    /* The new file is watched too. */
    touch(f->path);
    assert_int_equal(wait_trigger(fw, DEADLINE_MS), 1);

    /* Replaced by a rename over it, as editors save. */
    char *other = join(f->dir, ".trigger.new");
    create_file(other, "new");
    assert_int_equal(rename(other, f->path), 0);
    assert_int_equal(wait_trigger(fw, DEADLINE_MS), 1);
    assert_int_equal(observe(fw, QUIET_MS).triggers, 0);
    touch(f->path);
    assert_int_equal(wait_trigger(fw, DEADLINE_MS), 1);
    free(other);
    gmr__filewatch_free(fw);
}

static void test_filewatch_directory_created_later(void **state)
{
    struct fixture *f = *state;
    char *sub = join(f->dir, "later");
    char *path = join(sub, "trigger");
    struct gmr__filewatch *fw = watch(path, false);

    /* Nothing to watch yet: poll the file every interval. */
    assert_true(gmr__filewatch_polling(fw));
    int t = gmr__filewatch_timeout_ms(fw);
    assert_in_range(t, 0, INTERVAL_MS);
    assert_int_equal(observe(fw, INTERVAL_MS * 2).triggers, 0);

    assert_int_equal(mkdir(sub, 0755), 0);
    create_file(path, "");
    int64_t start = mono_ms();
    assert_int_equal(wait_trigger(fw, DEADLINE_MS), 1);
    /* Within an interval (plus gathering and scheduling slack). */
    assert_true(mono_ms() - start <= INTERVAL_MS + GMR_FILEWATCH_SETTLE_MS + 1000);

    /* inotify has taken over. */
    assert_false(gmr__filewatch_polling(fw));
    assert_int_equal(gmr__filewatch_timeout_ms(fw), -1);
    assert_int_equal(observe(fw, QUIET_MS).triggers, 0);
    touch(path);
    assert_int_equal(wait_trigger(fw, DEADLINE_MS), 1);
    free(path);
    free(sub);
    gmr__filewatch_free(fw);
}

static void test_filewatch_directory_deleted_and_recreated(void **state)
{
    struct fixture *f = *state;
    char *sub = join(f->dir, "sub");
    char *path = join(sub, "trigger");
    assert_int_equal(mkdir(sub, 0755), 0);
    create_file(path, "");
    struct gmr__filewatch *fw = watch(path, false);
    assert_false(gmr__filewatch_polling(fw));

    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(sub), 0);
    assert_int_equal(observe(fw, QUIET_MS).triggers, 0);
    assert_true(gmr__filewatch_polling(fw));

    assert_int_equal(mkdir(sub, 0755), 0);
    create_file(path, "");
    assert_int_equal(wait_trigger(fw, DEADLINE_MS), 1);
    assert_int_equal(observe(fw, QUIET_MS).triggers, 0);
    assert_false(gmr__filewatch_polling(fw));
    free(path);
    free(sub);
    gmr__filewatch_free(fw);
}

static void test_filewatch_path_replaced_by_directory(void **state)
{
    struct fixture *f = *state;
    create_file(f->path, "");
    struct gmr__filewatch *fw = watch(f->path, false);

    assert_int_equal(unlink(f->path), 0);
    assert_int_equal(mkdir(f->path, 0755), 0);
    assert_int_equal(observe(fw, QUIET_MS).triggers, 0);

    /* Activity inside that directory and on it is not the trigger's business. */
    for (int i = 0; i < 50; i++) {
        char name[32];
        snprintf(name, sizeof(name), "f%d", i);
        char *p = join(f->path, name);
        create_file(p, "x");
        free(p);
    }
    touch(f->path);
    assert_int_equal(chmod(f->path, 0700), 0);
    struct observed o = observe(fw, QUIET_MS);
    assert_int_equal(o.triggers, 0);
    assert_true(o.wakeups <= 2);

    /* Back to a file: a trigger again. */
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->path);
    assert_int_equal(system(cmd), 0);
    create_file(f->path, "");
    assert_int_equal(wait_trigger(fw, DEADLINE_MS), 1);
    gmr__filewatch_free(fw);
}

static void test_filewatch_unrelated_files_ignored(void **state)
{
    struct fixture *f = *state;
    create_file(f->path, "");
    char *log = join(f->dir, "service.log");
    char *other = join(f->dir, "trigger2");
    create_file(log, "");
    struct gmr__filewatch *fw = watch(f->path, false);

    /* Writes to a log file next to the trigger do not even wake the poller. */
    int fd = open(log, O_WRONLY | O_APPEND | O_CLOEXEC);
    assert_true(fd >= 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(write(fd, "line\n", 5), 5);
    struct pollfd pfd = {.fd = gmr__filewatch_fd(fw), .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 200), 0);
    close(fd);

    /* Other names come and go, are touched: no trigger. */
    create_file(other, "x");
    touch(other);
    touch(log);
    assert_int_equal(rename(other, log), 0);
    assert_int_equal(unlink(log), 0);
    assert_int_equal(observe(fw, QUIET_MS).triggers, 0);
    free(other);
    free(log);
    gmr__filewatch_free(fw);
}

static void test_filewatch_idle_has_no_wakeup(void **state)
{
    struct fixture *f = *state;
    create_file(f->path, "");
    struct gmr__filewatch *fw = watch(f->path, false);
    assert_int_equal(gmr__filewatch_timeout_ms(fw), -1);
    struct pollfd pfd = {.fd = gmr__filewatch_fd(fw), .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, QUIET_MS), 0);
    assert_int_equal(gmr__filewatch_check(fw), 0);
    assert_int_equal(gmr__filewatch_timeout_ms(fw), -1);
    gmr__filewatch_free(fw);
}

static void test_filewatch_symlink_followed(void **state)
{
    struct fixture *f = *state;
    char *target = join(f->dir, "real-trigger");
    create_file(target, "");
    assert_int_equal(symlink(target, f->path), 0);
    struct gmr__filewatch *fw = watch(f->path, false);
    assert_false(gmr__filewatch_polling(fw));

    /* touch through the link changes the target. */
    touch(f->path);
    assert_int_equal(wait_trigger(fw, DEADLINE_MS), 1);
    assert_int_equal(observe(fw, QUIET_MS).triggers, 0);
    free(target);
    gmr__filewatch_free(fw);
}

static void test_filewatch_triggers_are_an_interval_apart(void **state)
{
    struct fixture *f = *state;
    create_file(f->path, "");
    struct gmr__filewatch *fw = watch(f->path, false);

    /* Touch every 20 ms for a while: at most one trigger per interval, none lost at the end. */
    const int window = 1000;
    int triggers = 0;
    int64_t end = mono_ms() + window;
    while (mono_ms() < end) {
        touch(f->path);
        poll_once(fw, 20);
        triggers += gmr__filewatch_check(fw);
    }
    triggers += wait_trigger(fw, DEADLINE_MS);
    assert_in_range(triggers, 2, window / INTERVAL_MS + 2);
    assert_int_equal(observe(fw, QUIET_MS).triggers, 0);
    gmr__filewatch_free(fw);
}

static void test_filewatch_polling_mode(void **state)
{
    struct fixture *f = *state;
    create_file(f->path, "");
    struct gmr__filewatch *fw = watch(f->path, true);
    assert_int_equal(gmr__filewatch_fd(fw), -1);
    assert_true(gmr__filewatch_polling(fw));
    assert_in_range(gmr__filewatch_timeout_ms(fw), 0, INTERVAL_MS);
    assert_int_equal(observe(fw, INTERVAL_MS * 2).triggers, 0);

    /* An mtime change alone (same size, same inode). */
    struct timespec times[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
    assert_int_equal(utimensat(AT_FDCWD, f->path, times, 0), 0);
    assert_int_equal(wait_trigger(fw, DEADLINE_MS), 1);
    assert_int_equal(observe(fw, INTERVAL_MS * 2).triggers, 0);

    /* Deleting does not trigger, creating does. */
    assert_int_equal(unlink(f->path), 0);
    assert_int_equal(observe(fw, INTERVAL_MS * 2).triggers, 0);
    create_file(f->path, "x");
    assert_int_equal(wait_trigger(fw, DEADLINE_MS), 1);

    /* A directory at the path does not. */
    assert_int_equal(unlink(f->path), 0);
    assert_int_equal(mkdir(f->path, 0755), 0);
    assert_int_equal(observe(fw, INTERVAL_MS * 2).triggers, 0);
    assert_int_equal(gmr__filewatch_fd(fw), -1);
    gmr__filewatch_free(fw);
}

static void test_filewatch_bad_arguments(void **state)
{
    (void)state;
    struct gmr__filewatch *fw = NULL;
    struct gmr__filewatch_opts opts = {.interval_ms = 0};
    assert_int_equal(gmr__filewatch_new(NULL, 1, &fw), -EINVAL);
    assert_int_equal(gmr__filewatch_new("", 1, &fw), -EINVAL);
    assert_int_equal(gmr__filewatch_new("/tmp/", 1, &fw), -EINVAL);
    assert_int_equal(gmr__filewatch_new("/tmp/..", 1, &fw), -EINVAL);
    assert_int_equal(gmr__filewatch_new("/tmp/.", 1, &fw), -EINVAL);
    assert_int_equal(gmr__filewatch_new("/tmp/x", 0, &fw), -EINVAL);
    assert_int_equal(gmr__filewatch_new("/tmp/x", 1, NULL), -EINVAL);
    assert_int_equal(gmr__filewatch_new_opts("/tmp/x", &opts, &fw), -EINVAL);
    assert_int_equal(gmr__filewatch_new_opts("/tmp/x", NULL, &fw), -EINVAL);
    assert_null(fw);
    gmr__filewatch_free(NULL);

    /* Relative paths and paths at the root are fine. */
    assert_int_equal(gmr__filewatch_new("gmr-trigger", 1, &fw), 0);
    gmr__filewatch_free(fw);
    assert_int_equal(gmr__filewatch_new("/gmr-trigger-none", 3600, &fw), 0);
    assert_int_equal(gmr__filewatch_check(fw), 0);
    gmr__filewatch_free(fw);
}

static void test_filewatch_allocation_failures(void **state)
{
    struct fixture *f = *state;
    struct gmr__filewatch *fw = NULL;
    int r;
    long n;
    for (n = 0; n < 100; n++) {
        gmr__alloc_fail_after(n);
        r = gmr__filewatch_new(f->path, 1, &fw);
        gmr__alloc_fail_after(-1);
        if (r == 0)
            break;
        assert_int_equal(r, -ENOMEM);
        assert_null(fw);
    }
    assert_int_equal(r, 0);
    assert_true(n >= 3);
    gmr__filewatch_free(fw);
}

#define FW_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        FW_TEST(test_filewatch_touch_triggers_once),
        FW_TEST(test_filewatch_existing_file_is_the_baseline),
        FW_TEST(test_filewatch_write_and_close_coalesced),
        FW_TEST(test_filewatch_creation_triggers),
        FW_TEST(test_filewatch_delete_and_recreate),
        FW_TEST(test_filewatch_directory_created_later),
        FW_TEST(test_filewatch_directory_deleted_and_recreated),
        FW_TEST(test_filewatch_path_replaced_by_directory),
        FW_TEST(test_filewatch_unrelated_files_ignored),
        FW_TEST(test_filewatch_idle_has_no_wakeup),
        FW_TEST(test_filewatch_symlink_followed),
        FW_TEST(test_filewatch_triggers_are_an_interval_apart),
        FW_TEST(test_filewatch_polling_mode),
        FW_TEST(test_filewatch_bad_arguments),
        FW_TEST(test_filewatch_allocation_failures),
    };
    return cmocka_run_group_tests_name("filewatch", tests, NULL, NULL);
}
