/*
 * Unit tests of the public entry points: argument checks, section registry, setup/shutdown,
 * reports on demand.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <gmr/gmr.h>

/* Runs gmr_write_report() into a temporary file and returns its content. */
static char *report_to_string(enum gmr_format format, int *ret)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    *ret = gmr_write_report(fileno(f), format);
    long n = ftell(f) >= 0 ? lseek(fileno(f), 0, SEEK_END) : 0;
    char *s = calloc(1, (size_t)n + 1);
    assert_int_equal(pread(fileno(f), s, (size_t)n, 0), n);
    fclose(f);
    return s;
}

static int hello_section(gmr_writer *w, void *userdata)
{
    return gmr_writer_kv(w, "hello", "%s", (const char *)userdata);
}

static int reentrant_section(gmr_writer *w, void *userdata)
{
    (void)userdata;
    gmr_writer_kv(w, "write_report", "%d", gmr_write_report(1, GMR_FORMAT_TEXT));
    gmr_writer_kv(w, "unregister", "%d", gmr_unregister_section("Hello"));
    return 0;
}

static void test_version_header_matches_library(void **state)
{
    (void)state;
    assert_int_equal(gmr_version(), GMR_VERSION_HEX);
    assert_string_equal(gmr_version_string(), GMR_VERSION_STRING);
    assert_true(GMR_AT_LEAST_VERSION(0, 1, 0));
    assert_false(GMR_AT_LEAST_VERSION(GMR_VERSION_MAJOR + 1, 0, 0));
}

static void test_register_section_checks_arguments(void **state)
{
    (void)state;
    assert_int_equal(gmr_register_section(NULL, hello_section, NULL), -EINVAL);
    assert_int_equal(gmr_register_section("", hello_section, NULL), -EINVAL);
    assert_int_equal(gmr_register_section("X", NULL, NULL), -EINVAL);
    assert_int_equal(gmr_register_section("Hello", hello_section, "world"), 0);
    assert_int_equal(gmr_register_section("Hello", hello_section, "again"), -EEXIST);
    assert_int_equal(gmr_unregister_section("Nope"), -ENOENT);
    assert_int_equal(gmr_unregister_section(NULL), -EINVAL);
    assert_int_equal(gmr_unregister_section("Hello"), 0);
    assert_int_equal(gmr_unregister_section("Hello"), -ENOENT);
}

static void test_section_limit(void **state)
{
    (void)state;
    char title[32];
    int i;
    for (i = 0; i < 256; i++) {
        snprintf(title, sizeof(title), "S%d", i);
        assert_int_equal(gmr_register_section(title, hello_section, NULL), 0);
    }
    assert_int_equal(gmr_register_section("one too many", hello_section, NULL), -ENOSPC);
    for (i = 0; i < 256; i++) {
        snprintf(title, sizeof(title), "S%d", i);
        assert_int_equal(gmr_unregister_section(title), 0);
    }
}

static void test_setters_check_arguments(void **state)
{
    (void)state;
    assert_int_equal(gmr_set_trigger_signal(SIGKILL), -EINVAL);
    assert_int_equal(gmr_set_trigger_signal(SIGSEGV), -EINVAL);
    assert_int_equal(gmr_set_trigger_signal(-1), -EINVAL);
    assert_int_equal(gmr_set_trigger_signal(SIGRTMAX + 1), -EINVAL);
    assert_int_equal(gmr_set_format((enum gmr_format)7), -EINVAL);
    assert_int_equal(gmr_set_output_fd(-1), -EBADF);
    assert_int_equal(gmr_set_file_trigger("relative/path", 1), -EINVAL);
    assert_int_equal(gmr_set_file_trigger("/tmp/x", 0), -EINVAL);
    assert_int_equal(gmr_set_capture_signal(SIGUSR1), -EINVAL);
    assert_int_equal(gmr_set_capture_timeout_ns(0), -EINVAL);
    assert_int_equal(gmr_write_report(-1, GMR_FORMAT_TEXT), -EINVAL);
    assert_int_equal(gmr_write_report(1, (enum gmr_format)9), -EINVAL);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    close(fds[0]);
    close(fds[1]);
    assert_int_equal(gmr_write_report(fds[0], GMR_FORMAT_TEXT), -EBADF);
}

static void test_write_report_without_setup(void **state)
{
    (void)state;
    assert_int_equal(gmr_register_section("Hello", hello_section, "world"), 0);
    int r;
    char *s = report_to_string(GMR_FORMAT_TEXT, &r);
    assert_int_equal(r, 0);
    assert_non_null(strstr(s, "Guru Meditation"));
    assert_non_null(strstr(s, "hello = world\n"));
    assert_non_null(strstr(s, "trigger = gmr_write_report()\n"));
    free(s);
    assert_int_equal(gmr_unregister_section("Hello"), 0);
}

/*
 * A reader that went away gives -EPIPE, and the process lives on.  Found: without setup the
 * report was written in the caller's thread and SIGPIPE ended the process.
 */
static void test_write_report_to_a_closed_pipe(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    close(fds[0]);
    assert_int_equal(gmr_write_report(fds[1], GMR_FORMAT_TEXT), -EPIPE);
    sigset_t pending;
    assert_int_equal(sigpending(&pending), 0);
    assert_false(sigismember(&pending, SIGPIPE));
    close(fds[1]);
}

static void test_setup_shutdown_and_setup_again(void **state)
{
    (void)state;
    struct gmr_version v = {"Vendor", "Product", "1.0"};
    assert_int_equal(gmr_set_trigger_signal(SIGUSR1), 0);
    assert_int_equal(gmr_setup_autorun(&v, NULL, "svc"), 0);
    assert_int_equal(gmr_setup_autorun(&v, NULL, "svc"), -EALREADY);
    assert_int_equal(gmr_set_format(GMR_FORMAT_JSON), -EBUSY);
    assert_int_equal(gmr_set_trigger_signal(SIGUSR2), -EBUSY);

    struct sigaction sa;
    sigaction(SIGUSR1, NULL, &sa);
    assert_true(sa.sa_flags & SA_SIGINFO);
    assert_true(sa.sa_flags & SA_RESTART);

    int r;
    char *s = report_to_string(GMR_FORMAT_JSON, &r);
    assert_int_equal(r, 0);
    assert_non_null(strstr(s, "\"service_name\": \"svc\""));
    assert_non_null(strstr(s, "\"product\": \"Product\""));
    free(s);

    gmr_shutdown();
    sigaction(SIGUSR1, NULL, &sa);
    assert_true(sa.sa_handler == SIG_DFL);
    gmr_shutdown(); /* a second call does nothing */

    assert_int_equal(gmr_setup_autorun(NULL, NULL, NULL), 0);
    s = report_to_string(GMR_FORMAT_TEXT, &r);
    assert_int_equal(r, 0);
    assert_non_null(strstr(s, "service_name = test-core\n"));
    assert_non_null(strstr(s, "product = unknown\n"));
    free(s);
    gmr_shutdown();
    assert_int_equal(gmr_set_trigger_signal(SIGUSR2), 0);
}

static void test_section_callback_cannot_reenter(void **state)
{
    (void)state;
    assert_int_equal(gmr_register_section("Hello", hello_section, "world"), 0);
    assert_int_equal(gmr_register_section("Reentrant", reentrant_section, NULL), 0);
    for (int installed = 0; installed < 2; installed++) {
        if (installed)
            assert_int_equal(gmr_setup_autorun(NULL, NULL, NULL), 0);
        int r;
        char *s = report_to_string(GMR_FORMAT_TEXT, &r);
        assert_int_equal(r, 0);
        assert_non_null(strstr(s, "write_report = -35\n")); /* -EDEADLK */
        assert_non_null(strstr(s, "unregister = -35\n"));
        free(s);
        gmr_shutdown();
    }
    assert_int_equal(gmr_unregister_section("Hello"), 0);
    assert_int_equal(gmr_unregister_section("Reentrant"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_header_matches_library),
        cmocka_unit_test(test_register_section_checks_arguments),
        cmocka_unit_test(test_section_limit),
        cmocka_unit_test(test_setters_check_arguments),
        cmocka_unit_test(test_write_report_without_setup),
        cmocka_unit_test(test_write_report_to_a_closed_pipe),
        cmocka_unit_test(test_setup_shutdown_and_setup_again),
        cmocka_unit_test(test_section_callback_cannot_reenter),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
