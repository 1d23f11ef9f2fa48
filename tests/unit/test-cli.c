/*
 * Unit tests of the gmr command's JSON readers and HTML view: damaged and hostile reports give
 * clean errors or escaped output, never a crash.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include <gmr/gmr.h>

#include "cli.h"

static json_t *load(const char *text, char *err, size_t size)
{
    err[0] = '\0';
    return cli_load_report(text, strlen(text), err, size);
}

static void test_cli_load_rejects_damaged_documents(void **state)
{
    (void)state;
    static const struct {
        const char *doc;
        const char *err_prefix;
    } cases[] = {
        {"", "not valid JSON (line 1, column 0"},
        {"{\"format_version\": \"1.0\", \"sections\": [", "not valid JSON (line 1"},
        {"[1, 2]", "not a libgmr JSON report"},
        {"\"text\"", "not valid JSON"},
        {"{}", "not a libgmr JSON report"},
        {"{\"format_version\": 1, \"sections\": []}", "not a libgmr JSON report"},
        {"{\"format_version\": \"1.0\", \"sections\": {}}", "not a libgmr JSON report"},
        {"{\"format_version\": \"2.0\", \"sections\": []}", "report format 2.0 is not supported"},
        {"{\"format_version\": \"x\", \"sections\": []}", "report format x is not supported"},
        {"\xff\xfe{}", "not valid JSON"},
    };
    char err[300];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *doc = load(cases[i].doc, err, sizeof(err));
        assert_null(doc);
        if (strncmp(err, cases[i].err_prefix, strlen(cases[i].err_prefix)) != 0)
            fail_msg("case %zu: %s", i, err);
    }
    json_t *ok = load("{\"format_version\": \"1.7\", \"sections\": [], \"new\": 1}", err,
                      sizeof(err));
    assert_non_null(ok); /* minor versions add members: accepted */
    json_decref(ok);
}

static void test_cli_threads_tolerate_missing_members(void **state)
{
    (void)state;
    char err[300];
    json_t *doc = load("{\"format_version\": \"1.0\", \"sections\": ["
                       " 5, {\"type\": 3}, {\"title\": \"Threads\", \"type\": \"threads\","
                       "  \"threads\": [7, {}, {\"tid\": \"x\", \"frames\": 4},"
                       "   {\"tid\": 9, \"frames\": [1, {}, {\"function\": \"f\", \"line\": \"l\"},"
                       "     {\"module\": \"/lib/m.so\"}, {\"pc\": \"0x1\", \"file\": \"a.c\"}]}]}]}",
                       err, sizeof(err));
    assert_non_null(doc);
    const json_t *sec = cli_threads_section(doc);
    assert_non_null(sec);
    const json_t *list = cli_thread_list(sec);
    assert_int_equal(json_array_size(list), 4);
    for (size_t i = 0; i < 3; i++) {
        char *key = cli_stack_key(json_array_get(list, i));
        assert_non_null(key);
        assert_string_equal(key, "");
        free(key);
    }
    char *key = cli_stack_key(json_array_get(list, 3));
    assert_string_equal(key, "??\nf\n /lib/m.so+?\n0x1 a.c:0\n");
    free(key);
    assert_int_equal(cli_int(json_array_get(list, 2), "tid", -1), -1);
    assert_string_equal(cli_str(json_array_get(list, 2), "name", "dflt"), "dflt");
    assert_int_equal(json_array_size(cli_thread_list(NULL)), 0);
    json_decref(doc);

    doc = load("{\"format_version\": \"1.0\", \"sections\": []}", err, sizeof(err));
    assert_null(cli_threads_section(doc));
    json_decref(doc);
}

/* Renders @doc as HTML into a new string. */
static char *html_of(const char *text)
{
    char err[300];
    json_t *doc = load(text, err, sizeof(err));
    if (!doc)
        fail_msg("%s", err);
    int mem = memfd_create("html", 0);
    assert_true(mem >= 0);
    assert_int_equal(cli_render_html(doc, text, strlen(text), mem), 0);
    off_t size = lseek(mem, 0, SEEK_END);
    char *page = malloc((size_t)size + 1);
    assert_int_equal(pread(mem, page, (size_t)size, 0), size);
    page[size] = '\0';
    close(mem);
    json_decref(doc);
    return page;
}

static void test_cli_html_escapes_hostile_strings(void **state)
{
    (void)state;
    const char *hostile = "{\"format_version\": \"1.0\","
        "\"header\": {\"service_name\": \"</title><script>alert(1)</script>\", \"pid\": 5},"
        "\"sections\": ["
        " {\"title\": \"<img src=x onerror=alert(2)>\", \"type\": \"kv\","
        "  \"data\": {\"k'\\\"<b>\": \"</script><script>alert(3)</script>\"}},"
        " {\"title\": \"Threads\", \"type\": \"threads\", \"threads\": ["
        "  {\"tid\": 1, \"name\": \"<svg onload=alert(4)>\", \"frames\": ["
        "   {\"function\": \"</pre><iframe>\", \"file\": \"\\\"quoted\\\"\", \"line\": 3}]}]}]}";
    char *page = html_of(hostile);
    static const char *const never[] = {"<script>alert", "<img", "<svg", "<iframe", "<b>",
                                        "onerror=alert(2)>", "</title><script"};
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
        if (strstr(page, never[i]))
            fail_msg("unescaped %s in the page", never[i]);
    }
    assert_non_null(strstr(page, "&lt;img src=x onerror=alert(2)&gt;"));
    assert_non_null(strstr(page, "&lt;/script&gt;&lt;script&gt;alert(3)"));
    assert_non_null(strstr(page, "k&#39;&quot;&lt;b&gt;"));
    assert_non_null(strstr(page, "&quot;quoted&quot;"));
    /* Exactly one script element: ours. */
    char *first = strstr(page, "<script>");
    assert_non_null(first);
    assert_null(strstr(first + 1, "<script>"));
    /* No external resources. */
    assert_null(strstr(page, "http://"));
    assert_null(strstr(page, "https://"));
    assert_null(strstr(page, "src=\""));
    assert_null(strstr(page, "<link"));
    free(page);
}

static void test_cli_html_groups_identical_stacks(void **state)
{
    (void)state;
    const char *doc = "{\"format_version\": \"1.0\", \"header\": {}, \"sections\": ["
        " {\"title\": \"Threads\", \"type\": \"threads\", \"threads\": ["
        "  {\"tid\": 1, \"name\": \"main\", \"frames\": [{\"function\": \"a\"}]},"
        "  {\"tid\": 2, \"name\": \"w\", \"frames\": [{\"function\": \"park\"}]},"
        "  {\"tid\": 3, \"name\": \"w\", \"frames\": [{\"function\": \"park\"}]}]}]}";
    char *page = html_of(doc);
    assert_non_null(strstr(page, "2 threads with this stack: Thread #2 (w), #3 (w)"));
    assert_non_null(strstr(page, "Thread #1 (main)"));
    /* The largest group first. */
    assert_true(strstr(page, "#2 (w)") < strstr(page, "#1 (main)"));
    free(page);
}

static void test_cli_section_text_matches_library(void **state)
{
    (void)state;
    char err[300];
    json_t *doc = load("{\"format_version\": \"1.0\", \"header\": {\"pid\": 1}, \"sections\": ["
                       " {\"title\": \"Stats\", \"type\": \"kv\", \"data\": {\"a\": \"1\","
                       "  \"n\": {\"b\": [\"x\", \"y\"]}}, \"error\": \"cut\"},"
                       " {\"title\": \"Weird\", \"type\": \"kv\", \"data\": 12}]}",
                       err, sizeof(err));
    assert_non_null(doc);
    const json_t *sections = json_object_get(doc, "sections");
    char *text = cli_section_text(doc, json_array_get(sections, 0));
    assert_string_equal(text, "a = 1\nn:\n  b:\n    x\n    y\nunavailable: cut\n");
    free(text);
    text = cli_section_text(doc, json_array_get(sections, 1));
    assert_string_equal(text, "");
    free(text);
    json_decref(doc);
}

static void test_cli_render_report_errors(void **state)
{
    (void)state;
    int fd = memfd_create("out", 0);
    assert_int_equal(gmr_render_report("{", 1, GMR_FORMAT_TEXT, fd), -EBADMSG);
    assert_int_equal(gmr_render_report("[]", 2, GMR_FORMAT_TEXT, fd), -EBADMSG);
    const char *v2 = "{\"format_version\": \"2.0\", \"sections\": []}";
    assert_int_equal(gmr_render_report(v2, strlen(v2), GMR_FORMAT_TEXT, fd), -EPROTONOSUPPORT);
    const char *ok = "{\"format_version\": \"1.0\", \"sections\": []}";
    assert_int_equal(gmr_render_report(ok, strlen(ok), 7, fd), -EINVAL);
    assert_int_equal(gmr_render_report(ok, strlen(ok), GMR_FORMAT_TEXT, -1), -EINVAL);
    assert_int_equal(lseek(fd, 0, SEEK_END), 0); /* nothing written on failure */
    assert_int_equal(gmr_render_report(ok, strlen(ok), GMR_FORMAT_TEXT, fd), 0);
    assert_true(lseek(fd, 0, SEEK_END) > 0);
    close(fd);
}

/* A one-shot control socket that answers any request with @reply. */
struct fake_server {
    int listen_fd;
    const char *reply;
};

static void *fake_server_main(void *arg)
{
    struct fake_server *f = arg;
    int c = accept(f->listen_fd, NULL, NULL);
    if (c >= 0) {
        char req[256];
        (void)!read(c, req, sizeof(req));
        (void)!write(c, f->reply, strlen(f->reply));
        close(c);
    }
    return NULL;
}

/* cli_control_call() against a server answering @reply; its result, *payload freed. */
static int call_fake(const char *reply)
{
    char dir[] = "/tmp/gmr-test-cli-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/s.sock", dir);
    struct fake_server f = {socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), reply};
    assert_true(f.listen_fd >= 0);
    assert_int_equal(bind(f.listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(f.listen_fd, 1), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, fake_server_main, &f), 0);
    char *payload = NULL, *reason = NULL;
    size_t len = 0;
    int r = cli_control_call(sa.sun_path, "report text", 5000, &payload, &len, &reason);
    pthread_join(th, NULL);
    free(payload);
    free(reason);
    close(f.listen_fd);
    unlink(sa.sun_path);
    rmdir(dir);
    return r;
}

/*
 * A reply whose length is not decimal digits is not the protocol.  Found: "ok -5" and an
 * overflowing length passed through strtoull() and were taken for a report cut short.
 */
static void test_cli_control_reply_lengths(void **state)
{
    (void)state;
    assert_int_equal(call_fake("ok 3\nabc"), 0);
    assert_int_equal(call_fake("ok 5\nab"), 1);
    assert_int_equal(call_fake("ok -5\nabc"), -EPROTO);
    assert_int_equal(call_fake("ok 99999999999999999999999\nabc"), -EPROTO);
    assert_int_equal(call_fake("ok \nabc"), -EPROTO);
    assert_int_equal(call_fake("error busy\n"), -EREMOTEIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_load_rejects_damaged_documents),
        cmocka_unit_test(test_cli_threads_tolerate_missing_members),
        cmocka_unit_test(test_cli_html_escapes_hostile_strings),
        cmocka_unit_test(test_cli_html_groups_identical_stacks),
        cmocka_unit_test(test_cli_section_text_matches_library),
        cmocka_unit_test(test_cli_render_report_errors),
        cmocka_unit_test(test_cli_control_reply_lengths),
    };
    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
