/*
 * Unit tests of the report views: a hand-built model rendered as text (compared with a golden
 * file) and as JSON, and the text view of a saved JSON report.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "render/render.h"
#include "util/alloc.h"

#include "golden.h"

/* A model as the pipeline builds it, with one section of each generic shape. */
static json_t *sample_model(void)
{
    json_t *report = json_pack(
        "{s:s, s:{s:s, s:i, s:s, s:s, s:s, s:s}, s:[]}", "format_version", "1.0", "header",
        "time", "2026-01-02T03:04:05Z", "pid", 4242, "service_name", "nova-compute",
        "hostname", "node1", "trigger", "signal SIGUSR2", "libgmr_version", "0.1.0", "sections");
    assert_non_null(report);
    json_t *pkg = gmr__model_section(report, "Package", "kv");
    json_object_set_new(pkg, "data",
                        json_pack("{s:s, s:s, s:s}", "product", "OpenStack Nova", "vendor",
                                  "OpenStack Foundation", "version", "13.0.0"));
    json_t *app = gmr__model_section(report, "Request Stats", "kv");
    json_object_set_new(
        app, "data",
        json_pack("{s:s, s:{s:s, s:[s, s]}, s:[{s:s, s:s}, {s:s}], s:s, s:{}, s:[]}", "handled",
                  "1234", "by_method", "GET", "1000", "paths", "/servers", "/flavors", "workers",
                  "name", "w1", "state", "busy", "name", "w2", "note", "line one\nline two\x1b[31m",
                  "empty_object", "empty_list"));
    json_t *broken = gmr__model_section(report, "Broken", "kv");
    json_object_set_new(broken, "data", json_pack("{s:s}", "partial", "yes"));
    gmr__model_section_error(broken, "section generator failed: Input/output error (-5)");
    json_t *future = gmr__model_section(report, "From The Future", "hologram");
    json_object_set_new(future, "data", json_pack("{s:s}", "still", "readable"));
    return report;
}

static void test_text_matches_golden(void **state)
{
    (void)state;
    json_t *model = sample_model();
    struct gmr__buf out = GMR_BUF_INIT;
    assert_int_equal(gmr__render_text(model, &out), 0);
    test_assert_golden(out.data, "render-basic.txt");
    gmr__buf_done(&out);
    json_decref(model);
}

static void test_text_of_saved_json_equals_live_text(void **state)
{
    (void)state;
    json_t *model = sample_model();
    struct gmr__buf live = GMR_BUF_INIT, js = GMR_BUF_INIT, saved = GMR_BUF_INIT;
    assert_int_equal(gmr__render_text(model, &live), 0);
    assert_int_equal(gmr__render_json(model, &js), 0);

    json_error_t err;
    json_t *loaded = json_loads(js.data, 0, &err);
    assert_non_null(loaded);
    assert_int_equal(gmr__render_text(loaded, &saved), 0);
    assert_string_equal(live.data, saved.data);

    gmr__buf_done(&live);
    gmr__buf_done(&js);
    gmr__buf_done(&saved);
    json_decref(loaded);
    json_decref(model);
}

static void test_json_is_one_document_ending_in_newline(void **state)
{
    (void)state;
    json_t *model = sample_model();
    struct gmr__buf js = GMR_BUF_INIT;
    assert_int_equal(gmr__render_json(model, &js), 0);
    assert_true(js.len > 2 && js.data[0] == '{' && js.data[js.len - 1] == '\n');
    json_error_t err;
    json_t *loaded = json_loads(js.data, 0, &err);
    assert_non_null(loaded);
    assert_true(json_equal(loaded, model));
    json_decref(loaded);
    gmr__buf_done(&js);
    json_decref(model);
}

static void test_text_rejects_other_major_versions(void **state)
{
    (void)state;
    struct gmr__buf out = GMR_BUF_INIT;
    json_t *m = json_pack("{s:s, s:{}, s:[]}", "format_version", "2.0", "header", "sections");
    assert_int_equal(gmr__render_text(m, &out), -EINVAL);
    json_decref(m);
    m = json_pack("{s:s}", "sections", "not a list");
    assert_int_equal(gmr__render_text(m, &out), -EINVAL);
    json_decref(m);
    m = json_array();
    assert_int_equal(gmr__render_text(m, &out), -EINVAL);
    json_decref(m);
    gmr__buf_done(&out);
}

static void test_banner_is_72_columns_and_centered(void **state)
{
    (void)state;
    struct gmr__buf out = GMR_BUF_INIT;
    gmr__text_banner(&out, '=', "Threads");
    assert_string_equal(out.data,
                        "========================================================================\n"
                        "====                            Threads                             ====\n"
                        "========================================================================\n");
    gmr__buf_done(&out);
    gmr__text_banner(&out, '-', "Thread #12");
    assert_int_equal(out.len, 73);
    assert_string_equal(out.data,
                        "------                         Thread #12                         ------\n");
    gmr__buf_done(&out);
}

/*
 * Names a thread, a coroutine or a child process gives itself can hold newlines; in a title or
 * a command line they are written as \x0a, so no one can forge a line of the report.  Found:
 * a child exec'd with argv[0] "sleep\nProcess 1 ..." added a fake process to its parent's
 * Processes section, and a thread named "a\nFAKE" split its thread header.
 */
static void test_text_titles_and_commands_stay_on_one_line(void **state)
{
    (void)state;
    json_t *report = json_pack("{s:s, s:{s:i}, s:[]}", "format_version", "1.0", "header", "pid",
                               7, "sections");
    assert_non_null(report);
    json_t *threads = gmr__model_section(report, "Threads", "threads");
    json_object_set_new(threads, "threads",
                        json_pack("[{s:i, s:s, s:s}]", "tid", 8, "name", "a\nFAKE = x",
                                  "state", "sleeping"));
    json_t *coro = gmr__model_section(report, "Green Threads", "green_threads");
    json_object_set_new(coro, "coroutines",
                        json_pack("[{s:i, s:s, s:s}]", "id", 1, "name",
                                  "co\n------ Green Thread #99 (fake) ------", "state",
                                  "suspended"));
    json_t *procs = gmr__model_section(report, "Processes", "processes");
    json_object_set_new(
        procs, "process",
        json_pack("{s:i, s:i, s:s, s:i, s:s, s:s, s:[{s:i, s:i, s:s, s:i, s:s, s:s, s:[]}]}",
                  "pid", 7, "ppid", 1, "user", "root", "uid", 0, "state", "sleeping", "command",
                  "svc", "children", "pid", 9, "ppid", 7, "user", "root", "uid", 0, "state",
                  "sleeping", "command", "sleep\n        Process 1 (under 0) [ run by: root (0) ]"));
    json_t *app = gmr__model_section(report, "Title\n====  Forged  ====", "kv");
    json_object_set_new(app, "data", json_pack("{s:s}", "k\n====  Key  ====", "v"));

    struct gmr__buf out = GMR_BUF_INIT;
    assert_int_equal(gmr__render_text(report, &out), 0);
    assert_non_null(strstr(out.data, "Thread #8 (a\\x0aFAKE = x)"));
    assert_non_null(strstr(out.data, "Green Thread #1 (co\\x0a------ Green Thread #99"));
    assert_non_null(strstr(out.data, "command: sleep\\x0a        Process 1 (under 0)"));
    assert_non_null(strstr(out.data, "Title\\x0a====  Forged  ===="));
    assert_non_null(strstr(out.data, "k\\x0a====  Key  ==== = v"));
    for (const char *line = out.data; line; line = strchr(line, '\n')) {
        line += *line == '\n';
        assert_false(strncmp(line, "FAKE", 4) == 0);
        assert_false(strncmp(line, "------ Green Thread #99", 23) == 0);
        assert_false(strncmp(line, "        Process 1 ", 18) == 0);
        assert_false(strncmp(line, "====  Forged", 12) == 0);
        assert_false(strncmp(line, "====  Key", 9) == 0);
    }
    gmr__buf_done(&out);
    json_decref(report);
}

static void test_text_reals_in_shortest_round_trip_form(void **state)
{
    (void)state;
    struct gmr__buf out = GMR_BUF_INIT;
    json_t *v = json_real(0.1);
    gmr__text_scalar(&out, v, 0);
    json_decref(v);
    v = json_real(1.0 / 3.0);
    gmr__buf_putc(&out, ' ');
    gmr__text_scalar(&out, v, 0);
    json_decref(v);
    assert_string_equal(out.data, "0.1 0.3333333333333333");
    gmr__buf_done(&out);
}

static void test_text_every_allocation_failure_is_clean(void **state)
{
    (void)state;
    json_t *model = sample_model();
    for (long n = 0;; n++) {
        struct gmr__buf out = GMR_BUF_INIT;
        gmr__alloc_fail_after(n);
        int r = gmr__render_text(model, &out);
        gmr__alloc_fail_after(-1);
        gmr__buf_done(&out);
        if (r == 0)
            break;
        assert_int_equal(r, -ENOMEM);
        assert_true(n < 100);
    }
    json_decref(model);
}

/* jansson's own indented dump of @model, plus the newline the JSON view ends with. */
static char *jansson_dump(const json_t *model)
{
    char *s = json_dumps(model, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    assert_non_null(s);
    size_t n = strlen(s);
    char *t = malloc(n + 2);
    assert_non_null(t);
    memcpy(t, s, n);
    memcpy(t + n, "\n", 2);
    free(s);
    return t;
}

/*
 * A model with what the JSON view must get right: hostile strings, numbers at their limits,
 * empty and nested containers, and containers shared at several places and depths.
 */
static json_t *hostile_model(void)
{
    json_t *model = sample_model();
    json_t *shared = json_pack("{s:s, s:i, s:b, s:[i, s]}", "pc", "0x7f10aa308f36", "line", 30,
                               "inlined", 0, "list", 1, "two");
    json_t *shared_list = json_pack("[s, {}, []]", "x");
    json_t *strings = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "quote", "say \"hi\"", "backslash",
        "C:\\temp\\", "controls", "\x01\x02\b\f\n\r\t\x1f\x7f end", "script",
        "</script><script>alert(1)</script>", "unicode", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80",
        "separators", "\xE2\x80\xA8\xE2\x80\xA9", "slash", "a/b//c", "empty", "");
    json_object_set_new(strings, "nul inside", json_stringn("a\0b", 3));
    json_object_set_new(strings, "key with \"quotes\"\n", json_string("v"));
    json_t *numbers = json_pack("{s:I, s:I, s:i, s:f, s:f, s:f, s:f, s:n, s:b}", "max",
                                (json_int_t)INT64_MAX, "min", (json_int_t)INT64_MIN, "zero", 0,
                                "tenth", 0.1, "whole", 2.0, "big", 1e300, "tiny", -5e-324,
                                "null", "true", 1);
    json_t *threads = json_array();
    for (int i = 0; i < 3; i++) {
        json_t *frames = json_array();
        json_array_append(frames, shared);
        json_array_append(frames, shared);
        json_array_append_new(threads, json_pack("{s:i, s:o}", "tid", 100 + i, "frames", frames));
    }
    /* The same containers one level up and at the top: other indentation. */
    json_t *sec = gmr__model_section(model, "Hostile", "kv");
    json_object_set_new(sec, "data", json_pack("{s:o, s:o, s:o, s:O, s:O, s:[O, O]}", "strings",
                                               strings, "numbers", numbers, "threads", threads,
                                               "shared", shared, "shared_list", shared_list,
                                               "nested", shared_list, shared));
    json_object_set(model, "shared_at_top", shared);
    json_decref(shared);
    json_decref(shared_list);
    return model;
}

static void test_json_matches_jansson_for_hostile_model(void **state)
{
    (void)state;
    json_t *model = hostile_model();
    struct gmr__buf js = GMR_BUF_INIT;
    assert_int_equal(gmr__render_json(model, &js), 0);
    char *expected = jansson_dump(model);
    assert_string_equal(js.data, expected);
    free(expected);

    json_error_t err;
    json_t *loaded = json_loads(js.data, JSON_ALLOW_NUL, &err);
    assert_non_null(loaded);
    assert_true(json_equal(loaded, model));
    json_decref(loaded);
    gmr__buf_done(&js);
    json_decref(model);
}

static void test_json_replaces_invalid_utf8(void **state)
{
    (void)state;
    /* Strings made without jansson's check: a lone continuation byte, an overlong form, a
     * surrogate, a cut sequence; each bad byte becomes U+FFFD. */
    json_t *model = json_object();
    json_object_set_new(model, "bad", json_stringn_nocheck("a\x80z\xC0\xAF\xED\xA0\x80\xE2\x82", 10));
    json_object_set_new(model, "good", json_string("ok \xC3\xA9"));
    struct gmr__buf js = GMR_BUF_INIT;
    assert_int_equal(gmr__render_json(model, &js), 0);
    json_error_t err;
    json_t *loaded = json_loads(js.data, 0, &err);
    assert_non_null(loaded);
    const char *fffd = "\xEF\xBF\xBD";
    char want[64];
    snprintf(want, sizeof(want), "a%sz%s%s%s%s%s%s%s", fffd, fffd, fffd, fffd, fffd, fffd, fffd,
             fffd);
    assert_string_equal(json_string_value(json_object_get(loaded, "bad")), want);
    assert_string_equal(json_string_value(json_object_get(loaded, "good")), "ok \xC3\xA9");
    json_decref(loaded);
    gmr__buf_done(&js);
    json_decref(model);
}

static void test_json_every_allocation_failure_is_clean(void **state)
{
    (void)state;
    json_t *model = hostile_model();
    for (long n = 0;; n++) {
        struct gmr__buf out = GMR_BUF_INIT;
        gmr__alloc_fail_after(n);
        int r = gmr__render_json(model, &out);
        gmr__alloc_fail_after(-1);
        if (r == 0) {
            json_error_t err;
            json_t *loaded = json_loads(out.data, JSON_ALLOW_NUL, &err);
            assert_non_null(loaded);
            assert_true(json_equal(loaded, model));
            json_decref(loaded);
        }
        gmr__buf_done(&out);
        if (r == 0)
            break;
        assert_int_equal(r, -ENOMEM);
        assert_true(n < 100);
    }
    json_decref(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_matches_golden),
        cmocka_unit_test(test_text_of_saved_json_equals_live_text),
        cmocka_unit_test(test_json_is_one_document_ending_in_newline),
        cmocka_unit_test(test_text_rejects_other_major_versions),
        cmocka_unit_test(test_banner_is_72_columns_and_centered),
        cmocka_unit_test(test_text_titles_and_commands_stay_on_one_line),
        cmocka_unit_test(test_text_reals_in_shortest_round_trip_form),
        cmocka_unit_test(test_text_every_allocation_failure_is_clean),
        cmocka_unit_test(test_json_matches_jansson_for_hostile_model),
        cmocka_unit_test(test_json_replaces_invalid_utf8),
        cmocka_unit_test(test_json_every_allocation_failure_is_clean),
    };
    return cmocka_run_group_tests_name("render", tests, NULL, NULL);
}
