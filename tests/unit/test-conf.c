/*
 * Unit tests of the configuration object: registration, typed getters, INI loading with
 * exact error messages, the command line, transactional loads, the Configuration section's
 * model and text view with secrets masked, and allocation failures.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <gmr/gmr.h>

#include "conf/conf-internal.h"
#include "render/render.h"
#include "util/alloc.h"

#include "golden.h"

/* ------------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------------ */

static char tmp_dir[256];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/gmr-conf-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown_dir(void **state)
{
    (void)state;
    return nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes @text to tmp_dir/@name (creating a subdirectory if @name has one); returns the path. */
static const char *write_file(const char *name, const char *text)
{
    static char path[8][512];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, sizeof(path[0]), "%s/%s", tmp_dir, name);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    mkdir(p, 0700);
    *slash = '/';
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

/* The message expected for a file in tmp_dir: "<tmp_dir>/@name@rest". */
static const char *in_dir(const char *name, const char *rest)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf), "%s/%s%s", tmp_dir, name, rest);
    return buf;
}

static json_t *section_of(const gmr_conf *conf)
{
    json_t *sec = json_pack("{s:s, s:s}", "title", "Configuration", "type", "configuration");
    assert_non_null(sec);
    assert_int_equal(gmr__conf_section(sec, conf), 0);
    return sec;
}

/* The whole section as the text view renders it (caller frees). */
static char *text_of(const json_t *sec)
{
    struct gmr__buf b = GMR_BUF_INIT;
    gmr__text_configuration(&b, sec);
    assert_int_equal(gmr__buf_error(&b), 0);
    char *s = gmr__buf_steal(&b, NULL);
    assert_non_null(s);
    return s;
}

static char *dump_of(const gmr_conf *conf)
{
    json_t *sec = section_of(conf);
    char *s = json_dumps(sec, JSON_SORT_KEYS);
    json_decref(sec);
    assert_non_null(s);
    return s;
}

/* The option @name of @group in the section model, or NULL. */
static const json_t *model_option(const json_t *sec, const char *group, const char *name)
{
    size_t i, j;
    const json_t *g, *o;
    json_array_foreach(json_object_get(sec, "groups"), i, g)
    {
        if (strcmp(json_string_value(json_object_get(g, "name")), group) != 0)
            continue;
        json_array_foreach(json_object_get(g, "options"), j, o)
        {
            if (strcmp(json_string_value(json_object_get(o, "name")), name) == 0)
                return o;
        }
    }
    return NULL;
}

static const char *get_str(const gmr_conf *conf, const char *group, const char *name)
{
    const char *s = "(unset)";
    assert_int_equal(gmr_conf_get_str(conf, group, name, &s), 0);
    return s;
}

static int64_t get_int(const gmr_conf *conf, const char *group, const char *name)
{
    int64_t v = -12345;
    assert_int_equal(gmr_conf_get_int(conf, group, name, &v), 0);
    return v;
}

/* A conf with one option of each kind, used by several tests. */
static gmr_conf *sample_conf(void)
{
    static const char *const colors[] = {"red", "green", "blue", NULL};
    static const char *const hosts[] = {"localhost", NULL};
    gmr_conf *c = gmr_conf_new();
    assert_non_null(c);
    assert_int_equal(gmr_conf_register_str(c, NULL, "motd", "hello", "Message of the day", 0), 0);
    assert_int_equal(gmr_conf_register_int(c, NULL, "workers", 4, 1, 64, "Worker count", 0), 0);
    assert_int_equal(gmr_conf_register_float(c, NULL, "ratio", 0.5, 0, 1, "A ratio", 0), 0);
    assert_int_equal(gmr_conf_register_bool(c, NULL, "debug", false, "Debug output", 0), 0);
    assert_int_equal(gmr_conf_register_list(c, NULL, "hosts", hosts, "Hosts", 0), 0);
    assert_int_equal(gmr_conf_register_choice(c, NULL, "color", "red", colors, "Color", 0), 0);
    assert_int_equal(gmr_conf_register_str(c, "database", "connection", NULL, "DB URL", 0), 0);
    assert_int_equal(
        gmr_conf_register_str(c, "database", "password", NULL, "DB password", GMR_OPT_SECRET), 0);
    return c;
}

/* ------------------------------------------------------------------------------------------
 * Registration and getters
 * ------------------------------------------------------------------------------------------ */

static void test_conf_register_gives_typed_defaults(void **state)
{
    (void)state;
    gmr_conf *c = sample_conf();
    double f = 0;
    bool b = true;
    const char *const *items;
    size_t n;

    assert_string_equal(get_str(c, NULL, "motd"), "hello");
    assert_string_equal(get_str(c, "", "motd"), "hello");
    assert_string_equal(get_str(c, "DEFAULT", "motd"), "hello");
    assert_int_equal(get_int(c, NULL, "workers"), 4);
    assert_int_equal(gmr_conf_get_float(c, NULL, "ratio", &f), 0);
    assert_true(f == 0.5);
    assert_int_equal(gmr_conf_get_bool(c, NULL, "debug", &b), 0);
    assert_false(b);
    assert_int_equal(gmr_conf_get_list(c, NULL, "hosts", &items, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(items[0], "localhost");
    assert_null(items[1]);
    assert_string_equal(get_str(c, NULL, "color"), "red");
    assert_null(get_str(c, "database", "connection"));
    assert_false(gmr_conf_is_set(c, NULL, "motd"));

    /* An empty default list is an empty, NULL-terminated array. */
    assert_int_equal(gmr_conf_register_list(c, NULL, "empty", NULL, NULL, 0), 0);
    assert_int_equal(gmr_conf_get_list(c, NULL, "empty", &items, NULL), 0);
    assert_null(items[0]);
    gmr_conf_free(c);
}

static void test_conf_register_rejects_duplicates_and_bad_arguments(void **state)
{
    (void)state;
    static const char *const choices[] = {"a", "b", NULL};
    static const char *const none[] = {NULL};
    gmr_conf *c = sample_conf();

    assert_int_equal(gmr_conf_register_str(c, NULL, "motd", NULL, NULL, 0), -EEXIST);
    assert_string_equal(gmr_conf_last_error(c), "option 'motd': already registered");
    assert_int_equal(gmr_conf_register_int(c, "DEFAULT", "motd", 0, 0, 1, NULL, 0), -EEXIST);
    assert_int_equal(gmr_conf_register_str(c, "other", "motd", NULL, NULL, 0), 0);

    assert_int_equal(gmr_conf_register_str(NULL, NULL, "x", NULL, NULL, 0), -EINVAL);
    assert_int_equal(gmr_conf_register_str(c, NULL, NULL, NULL, NULL, 0), -EINVAL);
    assert_int_equal(gmr_conf_register_str(c, NULL, "", NULL, NULL, 0), -EINVAL);
    assert_int_equal(gmr_conf_register_str(c, NULL, "a b", NULL, NULL, 0), -EINVAL);
    assert_string_equal(gmr_conf_last_error(c),
                        "option 'a b': invalid option name (1..48 letters, digits, '_' or '-')");
    assert_int_equal(gmr_conf_register_str(c, "g.x", "a", NULL, NULL, 0), -EINVAL);
    assert_int_equal(gmr_conf_register_str(c, NULL,
                                           "a123456789012345678901234567890123456789012345678",
                                           NULL, NULL, 0),
                     -EINVAL);
    assert_int_equal(gmr_conf_register_str(c, NULL, "flags", NULL, NULL, 1u << 7), -EINVAL);
    assert_int_equal(gmr_conf_register_int(c, NULL, "i", 5, 10, 1, NULL, 0), -EINVAL);
    assert_string_equal(gmr_conf_last_error(c), "option 'i': minimum above maximum");
    assert_int_equal(gmr_conf_register_int(c, NULL, "i", 0, 1, 10, NULL, 0), -EINVAL);
    assert_int_equal(gmr_conf_register_float(c, NULL, "f", NAN, 0, 1, NULL, 0), -EINVAL);
    assert_int_equal(gmr_conf_register_float(c, NULL, "f", 0, NAN, 1, NULL, 0), -EINVAL);
    assert_int_equal(gmr_conf_register_float(c, NULL, "f", 2, 0, 1, NULL, 0), -EINVAL);
    assert_int_equal(gmr_conf_register_float(c, NULL, "f", HUGE_VAL, -HUGE_VAL, HUGE_VAL, NULL, 0),
                     -EINVAL);
    assert_int_equal(gmr_conf_register_choice(c, NULL, "ch", "c", choices, NULL, 0), -EINVAL);
    assert_string_equal(gmr_conf_last_error(c), "option 'ch': default is not one of the choices");
    assert_int_equal(gmr_conf_register_choice(c, NULL, "ch", "a", none, NULL, 0), -EINVAL);
    assert_int_equal(gmr_conf_register_choice(c, NULL, "ch", "a", NULL, NULL, 0), -EINVAL);

    /* None of the refused ones exists now. */
    const char *s;
    assert_int_equal(gmr_conf_get_str(c, NULL, "ch", &s), -ENOENT);
    assert_int_equal(gmr_conf_get_int(c, NULL, "i", &(int64_t){0}), -ENOENT);
    assert_int_equal(gmr_conf_register_choice(c, NULL, "ch", NULL, choices, NULL, 0), 0);
    assert_int_equal(gmr_conf_get_str(c, NULL, "ch", &s), 0);
    assert_null(s);
    assert_int_equal(gmr_conf_register_float(c, NULL, "f", 1e300, -HUGE_VAL, HUGE_VAL, NULL, 0), 0);
    gmr_conf_free(c);
}

static void test_conf_getters_check_name_and_type(void **state)
{
    (void)state;
    gmr_conf *c = sample_conf();
    const char *s;
    int64_t i;
    double f;
    bool b;
    const char *const *items;

    assert_int_equal(gmr_conf_get_str(c, NULL, "nope", &s), -ENOENT);
    assert_int_equal(gmr_conf_get_str(c, "database", "motd", &s), -ENOENT);
    assert_int_equal(gmr_conf_get_str(c, NULL, "workers", &s), -EINVAL);
    assert_int_equal(gmr_conf_get_int(c, NULL, "motd", &i), -EINVAL);
    assert_int_equal(gmr_conf_get_float(c, NULL, "workers", &f), -EINVAL);
    assert_int_equal(gmr_conf_get_bool(c, NULL, "ratio", &b), -EINVAL);
    assert_int_equal(gmr_conf_get_list(c, NULL, "debug", &items, NULL), -EINVAL);
    assert_int_equal(gmr_conf_get_str(NULL, NULL, "motd", &s), -EINVAL);
    assert_int_equal(gmr_conf_get_str(c, NULL, NULL, &s), -EINVAL);
    assert_int_equal(gmr_conf_get_str(c, NULL, "motd", NULL), -EINVAL);
    assert_false(gmr_conf_is_set(NULL, NULL, "motd"));
    assert_false(gmr_conf_is_set(c, NULL, NULL));
    assert_string_equal(gmr_conf_last_error(NULL), "");
    gmr_conf_free(c);
    gmr_conf_free(NULL);
}

/* ------------------------------------------------------------------------------------------
 * Loading
 * ------------------------------------------------------------------------------------------ */

static void test_conf_load_converts_each_type(void **state)
{
    (void)state;
    gmr_conf *c = sample_conf();
    const char *const *items;
    size_t n;
    double f;
    bool b;
    assert_int_equal(gmr_conf_load_string(c, "t.conf",
                                          "[DEFAULT]\n"
                                          "motd = good morning\n"
                                          "workers = +64\n"
                                          "ratio = 1e-3\n"
                                          "debug = YES\n"
                                          "hosts = a, b,,c ,\n"
                                          "color = blue\n"
                                          "[database]\n"
                                          "connection: sqlite://\n"),
                     0);
    assert_string_equal(get_str(c, NULL, "motd"), "good morning");
    assert_int_equal(get_int(c, NULL, "workers"), 64);
    assert_int_equal(gmr_conf_get_float(c, NULL, "ratio", &f), 0);
    assert_true(f == 0.001);
    assert_int_equal(gmr_conf_get_bool(c, NULL, "debug", &b), 0);
    assert_true(b);
    assert_int_equal(gmr_conf_get_list(c, NULL, "hosts", &items, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(items[0], "a");
    assert_string_equal(items[1], "b");
    assert_string_equal(items[2], "c");
    assert_null(items[3]);
    assert_string_equal(get_str(c, NULL, "color"), "blue");
    assert_string_equal(get_str(c, "database", "connection"), "sqlite://");
    assert_true(gmr_conf_is_set(c, NULL, "workers"));
    assert_false(gmr_conf_is_set(c, "database", "password"));

    static const struct {
        const char *text;
        bool value;
    } bools[] = {{"true", true},   {"On", true},   {"1", true},  {"yes", true},
                 {"false", false}, {"OFF", false}, {"0", false}, {"No", false}};
    for (size_t k = 0; k < sizeof(bools) / sizeof(bools[0]); k++) {
        char text[64];
        snprintf(text, sizeof(text), "[DEFAULT]\ndebug = %s\n", bools[k].text);
        assert_int_equal(gmr_conf_load_string(c, "b.conf", text), 0);
        assert_int_equal(gmr_conf_get_bool(c, NULL, "debug", &b), 0);
        assert_true(b == bools[k].value);
    }
    assert_int_equal(gmr_conf_load_string(c, "i.conf", "[DEFAULT]\nworkers=1\n"), 0);
    assert_int_equal(get_int(c, NULL, "workers"), 1);
    gmr_conf_free(c);
}

/* Loads @text, expects -EINVAL and the message "t.conf:@where". */
static void expect_bad(gmr_conf *c, const char *text, const char *where)
{
    char want[512];
    snprintf(want, sizeof(want), "t.conf:%s", where);
    assert_int_equal(gmr_conf_load_string(c, "t.conf", text), -EINVAL);
    assert_string_equal(gmr_conf_last_error(c), want);
}

static void test_conf_load_checks_types_bounds_and_choices(void **state)
{
    (void)state;
    gmr_conf *c = sample_conf();
    assert_int_equal(gmr_opts_set_defaults(c), 0);

    expect_bad(c, "[DEFAULT]\n\nworkers = many\n",
               "3: option 'workers': expected an integer, got 'many'");
    expect_bad(c, "[DEFAULT]\nworkers = 0\n", "2: option 'workers': value 0 out of range [1, 64]");
    expect_bad(c, "[DEFAULT]\nworkers = 65\n",
               "2: option 'workers': value 65 out of range [1, 64]");
    expect_bad(c, "[DEFAULT]\nworkers = 99999999999999999999\n",
               "2: option 'workers': value 99999999999999999999 out of range [1, 64]");
    expect_bad(c, "[DEFAULT]\nworkers = 0x10\n",
               "2: option 'workers': expected an integer, got '0x10'");
    expect_bad(c, "[DEFAULT]\nworkers = \n", "2: option 'workers': expected an integer, got ''");
    expect_bad(c, "[DEFAULT]\nratio = 1.5\n", "2: option 'ratio': value 1.5 out of range [0, 1]");
    expect_bad(c, "[DEFAULT]\nratio = nan\n",
               "2: option 'ratio': expected a finite number, got 'nan'");
    expect_bad(c, "[DEFAULT]\nratio = 0,5\n",
               "2: option 'ratio': expected a finite number, got '0,5'");
    expect_bad(c, "[DEFAULT]\ndebug = maybe\n",
               "2: option 'debug': expected a boolean (true/false, yes/no, on/off, 1/0), got "
               "'maybe'");
    expect_bad(c, "[DEFAULT]\ncolor = Blue\n",
               "2: option 'color': expected one of red, green, blue, got 'Blue'");
    expect_bad(c, "[oslo_reports]\nformat = xml\n",
               "2: option 'oslo_reports.format': expected one of text, json, got 'xml'");
    expect_bad(c, "[oslo_reports]\nsignal = SIGNOPE\n",
               "2: option 'oslo_reports.signal': expected a signal name (SIGUSR2, USR1, "
               "SIGRTMIN+1), a number or none, got 'SIGNOPE'");
    expect_bad(c, "[oslo_reports]\nsignal = SIGKILL\n",
               "2: option 'oslo_reports.signal': this signal cannot trigger reports, got "
               "'SIGKILL'");
    expect_bad(c, "[oslo_reports]\ncapture_signal = SIGUSR1\n",
               "2: option 'oslo_reports.capture_signal': expected auto or a real-time signal "
               "(SIGRTMIN+N, SIGRTMAX-N), got 'SIGUSR1'");
    expect_bad(c, "[oslo_reports]\ncapture_timeout = 0\n",
               "2: option 'oslo_reports.capture_timeout': value 0 out of range [0.001, 60]");
    expect_bad(c, "[oslo_reports]\nfile_event_handler_interval = 0\n",
               "2: option 'oslo_reports.file_event_handler_interval': value 0 out of range [1, "
               "86400]");
    /* A value that may hold a credential is not quoted. */
    expect_bad(c, "[DEFAULT]\nworkers = http://u:pw@h/\n",
               "2: option 'workers': expected an integer");

    /* Accepted forms of the [oslo_reports] options. */
    assert_int_equal(gmr_conf_load_string(c, "ok.conf",
                                          "[oslo_reports]\nsignal = usr1\ncapture_signal = "
                                          "SIGRTMIN+2\ncapture_timeout = 0.25\nformat = json\n"),
                     0);
    assert_string_equal(get_str(c, "oslo_reports", "signal"), "usr1");
    gmr_conf_free(c);
}

static void test_conf_secret_values_stay_out_of_error_messages(void **state)
{
    (void)state;
    gmr_conf *c = gmr_conf_new();
    assert_int_equal(gmr_conf_register_int(c, "db", "pin", 1, 0, 9999, NULL, GMR_OPT_SECRET), 0);
    expect_bad(c, "[db]\npin = hunter2\n", "2: option 'db.pin': expected an integer");
    expect_bad(c, "[db]\npin = 31337\n", "2: option 'db.pin': value out of range [0, 9999]");
    assert_null(strstr(gmr_conf_last_error(c), "31337"));
    gmr_conf_free(c);
}

static void test_conf_load_multiline_values_and_comments(void **state)
{
    (void)state;
    gmr_conf *c = sample_conf();
    const char *const *items;
    size_t n;
    assert_int_equal(gmr_conf_load_string(c, "t.conf",
                                          "# leading comment\n"
                                          "; another one\n"
                                          "[DEFAULT]\n"
                                          "motd = first line\n"
                                          "   second line\n"
                                          "  # an indented comment is skipped\n"
                                          "\tthird line\n"
                                          "hosts =\n"
                                          "    alpha,\n"
                                          "    beta\n"
                                          "    gamma\n"
                                          "color = green ; inline comment (inih)\n"
                                          "[database]\n"
                                          "connection = \"mysql://nova@db/nova\"\n"),
                     0);
    assert_string_equal(get_str(c, NULL, "motd"), "first line\nsecond line\nthird line");
    assert_int_equal(gmr_conf_get_list(c, NULL, "hosts", &items, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(items[2], "gamma");
    assert_string_equal(get_str(c, NULL, "color"), "green");
    assert_string_equal(get_str(c, "database", "connection"), "mysql://nova@db/nova");

    /* A later line of the same file wins; a continuation extends only the latest value. */
    assert_int_equal(
        gmr_conf_load_string(c, "t.conf", "[DEFAULT]\nmotd = one\n  x\nmotd = two\n  y\n"), 0);
    assert_string_equal(get_str(c, NULL, "motd"), "two\ny");

    /* A blank line or an unindented comment ends a multi-line value, as in oslo.config. */
    expect_bad(c, "[DEFAULT]\nmotd = one\n\n  two\n",
               "4: indented line continues no option (a blank line ends a multi-line value)");
    expect_bad(c, "[DEFAULT]\nmotd = one\n# note\n  two\n",
               "4: indented line continues no option (a blank line ends a multi-line value)");
    expect_bad(c, "[DEFAULT]\n  motd = one\n",
               "2: indented line continues no option (a blank line ends a multi-line value)");
    assert_string_equal(get_str(c, NULL, "motd"), "two\ny");
    gmr_conf_free(c);
}

static void test_conf_load_reports_syntax_errors_with_line(void **state)
{
    (void)state;
    gmr_conf *c = sample_conf();
    char text[512];

    expect_bad(c, "[DEFAULT]\nmotd = x\njust words\n",
               "3: expected 'name = value', '[section]' or a comment");
    expect_bad(c, "[DEFAULT]\n[database\nconnection = x\n",
               "2: section header without closing ']'");
    expect_bad(c, "motd = x\n", "1: option 'motd': outside of a [section]");
    expect_bad(c, "[ ]\nmotd = x\n", "2: option 'motd': outside of a [section]");
    expect_bad(c, "[DEFAULT]\n= x\n", "2: empty option name");
    expect_bad(c,
               "[DEFAULT]\nmotd = ok\n"
               "a1234567890123456789012345678901234567890123456789 = 1\n",
               "3: option name longer than 48 bytes");
    expect_bad(c, "[s1234567890123456789012345678901234567890123456789]\na = 1\n",
               "2: section name longer than 48 bytes");

    /* inih's line buffer: 199 bytes of text per line. */
    memset(text, 0, sizeof(text));
    strcpy(text, "[DEFAULT]\nmotd = ");
    size_t len = strlen(text);
    memset(text + len, 'x', 199 - (len - strlen("[DEFAULT]\n")));
    strcat(text, "\n");
    assert_int_equal(gmr_conf_load_string(c, "t.conf", text), 0);
    text[strlen(text) - 1] = 'x';
    strcat(text, "\n");
    expect_bad(c, text, "2: line longer than 199 bytes (split the value over indented lines)");

    /* The first error wins, wherever it comes from. */
    expect_bad(c, "[DEFAULT]\nbroken\nworkers = x\n",
               "2: expected 'name = value', '[section]' or a comment");
    expect_bad(c, "[DEFAULT]\nworkers = x\nbroken\n",
               "3: expected 'name = value', '[section]' or a comment");

    /* NUL bytes, through the length-taking loader. */
    assert_int_equal(gmr__conf_load_buffer(c, "t.conf", "[DEFAULT]\nmotd = a\0b\n", 19), -EINVAL);
    assert_string_equal(gmr_conf_last_error(c), "t.conf:2: NUL byte in line (not a text file?)");

    /* CRLF line ends and a UTF-8 byte order mark are accepted. */
    assert_int_equal(
        gmr_conf_load_string(c, "t.conf", "\xEF\xBB\xBF[DEFAULT]\r\nmotd = crlf\r\n  more\r\n"), 0);
    assert_string_equal(get_str(c, NULL, "motd"), "crlf\nmore");
    gmr_conf_free(c);
}

static void test_conf_load_file_errors_name_the_file(void **state)
{
    (void)state;
    gmr_conf *c = sample_conf();
    char want[2048];

    const char *missing = in_dir("missing.conf", "");
    assert_int_equal(gmr_conf_load_file(c, missing), -ENOENT);
    snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", missing);
    assert_string_equal(gmr_conf_last_error(c), want);

    assert_int_equal(gmr_conf_load_file(c, tmp_dir), -EINVAL);
    snprintf(want, sizeof(want), "%s: not a regular file", tmp_dir);
    assert_string_equal(gmr_conf_last_error(c), want);

    const char *bad = write_file("bad.conf", "[DEFAULT]\n# c\nworkers = 100\n");
    assert_int_equal(gmr_conf_load_file(c, bad), -EINVAL);
    assert_string_equal(gmr_conf_last_error(c),
                        in_dir("bad.conf", ":3: option 'workers': value 100 out of range [1, 64]"));

    char *big = malloc(1024 * 1024 + 64);
    assert_non_null(big);
    strcpy(big, "[DEFAULT]\n");
    size_t len = strlen(big);
    while (len < 1024 * 1024 + 1) {
        memcpy(big + len, "# padding padding padding\n", 26);
        len += 26;
    }
    big[len] = '\0';
    const char *large = write_file("large.conf", big);
    assert_int_equal(gmr_conf_load_file(c, large), -EFBIG);
    assert_string_equal(gmr_conf_last_error(c),
                        in_dir("large.conf", ": larger than 1048576 bytes"));
    assert_int_equal(gmr_conf_load_string(c, "big", big), -EFBIG);
    assert_string_equal(gmr_conf_last_error(c), "big: larger than 1048576 bytes");
    free(big);

    if (geteuid() != 0) {
        const char *locked = write_file("locked.conf", "[DEFAULT]\n");
        chmod(locked, 0);
        assert_int_equal(gmr_conf_load_file(c, locked), -EACCES);
    }
    assert_int_equal(gmr_conf_load_file(c, NULL), -EINVAL);
    assert_int_equal(gmr_conf_load_string(c, NULL, NULL), -EINVAL);
    gmr_conf_free(c);
}

static void test_conf_later_file_wins(void **state)
{
    (void)state;
    gmr_conf *c = sample_conf();
    const char *a = write_file("a.conf", "[DEFAULT]\nmotd = from a\nworkers = 2\n");
    const char *b = write_file("b.conf", "[DEFAULT]\nmotd = from b\n");
    assert_int_equal(gmr_conf_load_file(c, a), 0);
    assert_int_equal(gmr_conf_load_file(c, b), 0);
    assert_string_equal(get_str(c, NULL, "motd"), "from b");
    assert_int_equal(get_int(c, NULL, "workers"), 2);

    /* Loading a file again does not list it twice; its values win again. */
    assert_int_equal(gmr_conf_load_file(c, a), 0);
    assert_string_equal(get_str(c, NULL, "motd"), "from a");
    json_t *sec = section_of(c);
    json_t *files = json_object_get(sec, "files");
    assert_int_equal(json_array_size(files), 2);
    assert_string_equal(json_string_value(json_array_get(files, 0)), a);
    assert_string_equal(json_string_value(json_array_get(files, 1)), b);
    assert_string_equal(
        json_string_value(json_object_get(model_option(sec, "DEFAULT", "motd"), "source")),
        in_dir("a.conf", ":2"));
    json_decref(sec);

    /* With --config-file, the same. */
    char arg_a[600];
    snprintf(arg_a, sizeof(arg_a), "--config-file=%s", a);
    char *argv[] = {"prog", "--config-file", (char *)b, arg_a, NULL};
    gmr_conf *d = sample_conf();
    assert_int_equal(gmr_conf_parse_args(d, 4, argv), 0);
    assert_string_equal(get_str(d, NULL, "motd"), "from a");
    gmr_conf_free(d);
    gmr_conf_free(c);
}

static void test_conf_config_dir_loads_in_name_order(void **state)
{
    (void)state;
    gmr_conf *c = sample_conf();
    write_file("d/b.conf", "[DEFAULT]\nmotd = b\nhosts = b\n");
    write_file("d/a.conf", "[DEFAULT]\nmotd = a\ncolor = green\n");
    write_file("d/9.conf", "[DEFAULT]\nmotd = 9\nhosts = nine\n");
    write_file("d/10.conf", "[DEFAULT]\nmotd = 10\nworkers = 10\n");
    write_file("d/.hidden.conf", "[DEFAULT]\nmotd = hidden\n");
    write_file("d/notes.txt", "not ini at all\n");
    write_file("d/sub.conf/inner.conf", "[DEFAULT]\nmotd = inner\n");
    const char *first = write_file("first.conf", "[DEFAULT]\nworkers = 3\ndebug = true\n");
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/d", tmp_dir);

    char *argv[] = {"prog", "--config-file", (char *)first, "--config-dir", dir, NULL};
    assert_int_equal(gmr_conf_parse_args(c, 5, argv), 0);
    assert_string_equal(get_str(c, NULL, "motd"), "b");
    assert_string_equal(get_str(c, NULL, "color"), "green");
    assert_int_equal(get_int(c, NULL, "workers"), 10);

    json_t *sec = section_of(c);
    json_t *files = json_object_get(sec, "files");
    assert_int_equal(json_array_size(files), 5);
    assert_string_equal(json_string_value(json_array_get(files, 0)), first);
    assert_string_equal(json_string_value(json_array_get(files, 1)), in_dir("d/10.conf", ""));
    assert_string_equal(json_string_value(json_array_get(files, 2)), in_dir("d/9.conf", ""));
    assert_string_equal(json_string_value(json_array_get(files, 3)), in_dir("d/a.conf", ""));
    assert_string_equal(json_string_value(json_array_get(files, 4)), in_dir("d/b.conf", ""));
    json_decref(sec);

    /* A directory that cannot be read is an error naming it. */
    char missing[300], want[700];
    snprintf(missing, sizeof(missing), "%s/no-such-dir", tmp_dir);
    char *argv2[] = {"prog", "--config-dir", missing, NULL};
    assert_int_equal(gmr_conf_parse_args(c, 3, argv2), -EINVAL);
    snprintf(want, sizeof(want), "%s: cannot open directory: No such file or directory", missing);
    assert_string_equal(gmr_conf_last_error(c), want);
    gmr_conf_free(c);
}

/* ------------------------------------------------------------------------------------------
 * Command line
 * ------------------------------------------------------------------------------------------ */

static void test_conf_args_override_files_in_any_order(void **state)
{
    (void)state;
    gmr_conf *c = sample_conf();
    assert_int_equal(gmr_opts_set_defaults(c), 0);
    const char *f = write_file("args.conf", "[DEFAULT]\nmotd = file\nworkers = 5\ndebug = true\n"
                                            "[oslo_reports]\nformat = text\n");
    char cf[600];
    snprintf(cf, sizeof(cf), "--config-file=%s", f);
    char *argv[] = {"prog",
                    "positional",
                    "--motd=from args",
                    "-v",
                    "--workers",
                    "7",
                    "--nodebug",
                    "--oslo_reports.format=json",
                    "--oslo-reports-group-threads",
                    "--oslo_reports-capture_timeout",
                    "2.5",
                    "--database.connection=sqlite://",
                    cf,
                    "--hosts=x,y",
                    "--",
                    "--motd=after double dash",
                    NULL};
    int argc = 16;
    char *copy[17];
    memcpy(copy, argv, sizeof(argv));
    assert_int_equal(gmr_conf_parse_args(c, argc, argv), 0);
    assert_memory_equal(copy, argv, sizeof(argv));

    const char *const *items;
    size_t n;
    bool b;
    double d;
    assert_string_equal(get_str(c, NULL, "motd"), "from args");
    assert_int_equal(get_int(c, NULL, "workers"), 7);
    assert_int_equal(gmr_conf_get_bool(c, NULL, "debug", &b), 0);
    assert_false(b);
    assert_string_equal(get_str(c, "oslo_reports", "format"), "json");
    assert_int_equal(gmr_conf_get_bool(c, "oslo_reports", "group_threads", &b), 0);
    assert_true(b);
    assert_int_equal(gmr_conf_get_float(c, "oslo_reports", "capture_timeout", &d), 0);
    assert_true(d == 2.5);
    assert_string_equal(get_str(c, "database", "connection"), "sqlite://");
    assert_int_equal(gmr_conf_get_list(c, NULL, "hosts", &items, &n), 0);
    assert_int_equal(n, 2);

    /* Files loaded afterwards do not beat the command line. */
    assert_int_equal(gmr_conf_load_string(c, "late.conf", "[DEFAULT]\nmotd = late\nratio = 1\n"),
                     0);
    assert_string_equal(get_str(c, NULL, "motd"), "from args");
    json_t *sec = section_of(c);
    assert_string_equal(
        json_string_value(json_object_get(model_option(sec, "DEFAULT", "motd"), "source")),
        "command line");
    assert_string_equal(
        json_string_value(json_object_get(model_option(sec, "DEFAULT", "ratio"), "source")),
        "late.conf:3");
    json_decref(sec);

    /* No arguments at all, or only the program name. */
    assert_int_equal(gmr_conf_parse_args(c, 0, NULL), 0);
    assert_int_equal(gmr_conf_parse_args(c, 1, argv), 0);
    gmr_conf_free(c);
}

static void expect_bad_args(gmr_conf *c, int argc, char **argv, const char *want)
{
    assert_int_equal(gmr_conf_parse_args(c, argc, argv), -EINVAL);
    assert_string_equal(gmr_conf_last_error(c), want);
}

static void test_conf_args_errors_are_clear(void **state)
{
    (void)state;
    gmr_conf *c = sample_conf();
    assert_int_equal(gmr_conf_register_int(c, NULL, "a_b", 0, INT64_MIN, INT64_MAX, NULL, 0), 0);
    assert_int_equal(gmr_conf_register_int(c, "a", "b", 0, INT64_MIN, INT64_MAX, NULL, 0), 0);

    expect_bad_args(c, 2, (char *[]){"p", "--nope=1"},
                    "command line: option '--nope': unknown option");
    expect_bad_args(c, 2, (char *[]){"p", "--workers"},
                    "command line: option '--workers': needs a value");
    expect_bad_args(c, 2, (char *[]){"p", "--config-file"},
                    "command line: option '--config-file': needs a value");
    expect_bad_args(c, 2, (char *[]){"p", "--workers=lots"},
                    "command line: option 'workers': expected an integer, got 'lots'");
    expect_bad_args(c, 2, (char *[]){"p", "--debug=perhaps"},
                    "command line: option 'debug': expected a boolean (true/false, yes/no, "
                    "on/off, 1/0), got 'perhaps'");
    expect_bad_args(c, 2, (char *[]){"p", "--nomotd"},
                    "command line: option '--nomotd': unknown option");
    expect_bad_args(c, 2, (char *[]){"p", "--a-b=1"},
                    "command line: option '--a-b': matches both a_b and a.b; write --GROUP.NAME");
    expect_bad_args(c, 2, (char *[]){"p", "--=1"}, "command line: option '--': unknown option");

    /* The unambiguous spellings work. */
    assert_int_equal(gmr_conf_parse_args(c, 3, (char *[]){"p", "--a.b=2", "--DEFAULT.a_b=3"}), 0);
    assert_int_equal(get_int(c, "a", "b"), 2);
    assert_int_equal(get_int(c, NULL, "a_b"), 3);

    /* A bad file among good arguments: nothing applies; the message names the file. */
    const char *bad = write_file("bad-args.conf", "[database]\nconnection\n");
    char cf[600];
    snprintf(cf, sizeof(cf), "--config-file=%s", bad);
    expect_bad_args(
        c, 3, (char *[]){"p", "--workers=9", cf},
        in_dir("bad-args.conf", ":2: expected 'name = value', '[section]' or a comment"));
    assert_int_equal(get_int(c, NULL, "workers"), 4);
    gmr_conf_free(c);
}

static void test_conf_set_override_wins_over_everything(void **state)
{
    (void)state;
    gmr_conf *c = sample_conf();
    assert_int_equal(gmr_conf_parse_args(c, 2, (char *[]){"p", "--workers=3"}), 0);
    assert_int_equal(gmr_conf_set_override(c, NULL, "workers", "9"), 0);
    assert_int_equal(get_int(c, NULL, "workers"), 9);
    assert_int_equal(gmr_conf_set_override(c, NULL, "workers", "99"), -EINVAL);
    assert_string_equal(gmr_conf_last_error(c),
                        "override: option 'workers': value 99 out of range [1, 64]");
    assert_int_equal(get_int(c, NULL, "workers"), 9);
    assert_int_equal(gmr_conf_set_override(c, NULL, "workers", NULL), 0);
    assert_int_equal(get_int(c, NULL, "workers"), 3);
    assert_int_equal(gmr_conf_set_override(c, NULL, "nope", "1"), -ENOENT);
    assert_string_equal(gmr_conf_last_error(c), "override: option 'nope': not registered");
    assert_int_equal(gmr_conf_set_override(c, NULL, NULL, "1"), -EINVAL);
    gmr_conf_free(c);
}

/* ------------------------------------------------------------------------------------------
 * Unregistered options and transactions
 * ------------------------------------------------------------------------------------------ */

static void test_conf_unregistered_options_are_kept_and_adopted(void **state)
{
    (void)state;
    gmr_conf *c = gmr_conf_new();
    assert_int_equal(gmr_conf_load_string(c, "u.conf",
                                          "[DEFAULT]\nlater = 42\nbad_later = forty\n"
                                          "[extra]\nnote = kept\n  two lines\n"),
                     0);
    assert_true(gmr_conf_is_set(c, "extra", "note"));
    const char *s;
    assert_int_equal(gmr_conf_get_str(c, "extra", "note", &s), -ENOENT);

    json_t *sec = section_of(c);
    const json_t *note = model_option(sec, "extra", "note");
    assert_non_null(note);
    assert_true(json_is_true(json_object_get(note, "unregistered")));
    assert_string_equal(json_string_value(json_object_get(note, "value")), "kept\ntwo lines");
    assert_null(json_object_get(note, "type"));
    json_decref(sec);

    /* Registering picks up the value found in the file, converted now. */
    assert_int_equal(gmr_conf_register_int(c, NULL, "later", 1, 0, 100, NULL, 0), 0);
    assert_int_equal(get_int(c, NULL, "later"), 42);
    assert_true(gmr_conf_is_set(c, NULL, "later"));

    /* A file value that does not fit refuses the registration and keeps the raw value. */
    assert_int_equal(gmr_conf_register_int(c, NULL, "bad_later", 1, 0, 100, NULL, 0), -EINVAL);
    assert_string_equal(gmr_conf_last_error(c),
                        "u.conf:3: option 'bad_later': expected an integer, got 'forty'");
    assert_int_equal(gmr_conf_get_int(c, NULL, "bad_later", &(int64_t){0}), -ENOENT);
    assert_int_equal(gmr_conf_register_str(c, NULL, "bad_later", NULL, NULL, 0), 0);
    assert_string_equal(get_str(c, NULL, "bad_later"), "forty");

    /* Same for gmr_opts_set_defaults(): all or nothing. */
    assert_int_equal(gmr_conf_load_string(c, "r.conf", "[oslo_reports]\nformat = yaml\n"), 0);
    assert_int_equal(gmr_opts_set_defaults(c), -EINVAL);
    assert_string_equal(gmr_conf_last_error(c),
                        "r.conf:2: option 'oslo_reports.format': expected one of text, json, got "
                        "'yaml'");
    assert_int_equal(gmr_conf_get_str(c, "oslo_reports", "signal", &s), -ENOENT);
    assert_int_equal(gmr_conf_load_string(c, "r.conf", "[oslo_reports]\nformat = json\n"), 0);
    assert_int_equal(gmr_opts_set_defaults(c), 0);
    assert_string_equal(get_str(c, "oslo_reports", "format"), "json");
    assert_string_equal(get_str(c, "oslo_reports", "signal"), "SIGUSR2");
    assert_int_equal(gmr_opts_set_defaults(c), -EEXIST);
    assert_int_equal(gmr_opts_set_defaults(NULL), -EINVAL);
    gmr_conf_free(c);
}

static void test_conf_failed_load_leaves_object_unchanged(void **state)
{
    (void)state;
    gmr_conf *c = sample_conf();
    assert_int_equal(
        gmr_conf_load_string(c, "good.conf", "[DEFAULT]\nmotd = good\nworkers = 2\nextra = e\n"),
        0);
    char *before = dump_of(c);

    /* Valid values first, new unregistered options, then one bad line. */
    assert_int_equal(gmr_conf_load_string(c, "bad.conf",
                                          "[DEFAULT]\nmotd = changed\nworkers = 3\nnew = n\n"
                                          "[other]\nx = 1\n[DEFAULT]\nratio = 7\n"),
                     -EINVAL);
    char *after = dump_of(c);
    assert_string_equal(before, after);
    free(after);

    /* Same through the command line: good files, then a bad override. */
    const char *f = write_file("tx.conf", "[DEFAULT]\nmotd = from file\n");
    assert_int_equal(
        gmr_conf_parse_args(c, 4, (char *[]){"p", "--config-file", (char *)f, "--workers=0"}),
        -EINVAL);
    after = dump_of(c);
    assert_string_equal(before, after);
    free(after);

    /* A file that fails to parse after a good one in --config-dir order. */
    write_file("tx/1.conf", "[DEFAULT]\nmotd = one\n");
    write_file("tx/2.conf", "[DEFAULT]\nmotd\n");
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/tx", tmp_dir);
    assert_int_equal(gmr_conf_parse_args(c, 3, (char *[]){"p", "--config-dir", dir}), -EINVAL);
    assert_string_equal(
        gmr_conf_last_error(c),
        in_dir("tx/2.conf", ":2: expected 'name = value', '[section]' or a comment"));
    after = dump_of(c);
    assert_string_equal(before, after);
    free(after);
    free(before);
    gmr_conf_free(c);
}

static void test_conf_limits_are_enforced(void **state)
{
    (void)state;
    gmr_conf *c = sample_conf();

    /* A value longer than 64 KiB through continuation lines. */
    size_t cap = 80 * 1024;
    char *text = malloc(cap);
    assert_non_null(text);
    strcpy(text, "[DEFAULT]\nmotd = start\n");
    size_t len = strlen(text);
    while (len < 70 * 1024) {
        memcpy(text + len, "  0123456789012345678901234567890123456789\n", 43);
        len += 43;
    }
    text[len] = '\0';
    assert_int_equal(gmr_conf_load_string(c, "t.conf", text), -EINVAL);
    assert_non_null(
        strstr(gmr_conf_last_error(c), ": option 'motd': value longer than 65536 bytes"));

    /* More than 4096 options. */
    free(text);
    text = malloc(5000 * 16 + 32);
    strcpy(text, "[DEFAULT]\n");
    len = strlen(text);
    for (int i = 0; i < 4100; i++)
        len += (size_t)sprintf(text + len, "o%d = 1\n", i);
    assert_int_equal(gmr_conf_load_string(c, "many.conf", text), -EINVAL);
    assert_string_equal(gmr_conf_last_error(c), "many.conf: too many options (at most 4096)");
    free(text);

    /* Command-line values are limited too. */
    char *big = malloc(70 * 1024);
    memset(big, 'v', 70 * 1024 - 1);
    big[70 * 1024 - 1] = '\0';
    char *arg = malloc(70 * 1024 + 16);
    sprintf(arg, "--motd=%s", big);
    expect_bad_args(c, 2, (char *[]){"p", arg},
                    "command line: option 'motd': value longer than 65536 bytes");
    assert_int_equal(gmr_conf_set_override(c, NULL, "motd", big), -EINVAL);
    free(arg);
    free(big);
    assert_string_equal(get_str(c, NULL, "motd"), "hello");
    gmr_conf_free(c);
}

/* ------------------------------------------------------------------------------------------
 * The Configuration section
 * ------------------------------------------------------------------------------------------ */

/* Values planted in the test below; none may appear in the model or the text. */
static const char *const planted[] = {
    "s3cr3t-db-pass", "hunter2-admin",     "mq-pass-1",        "mq-pass-2", "list-pass",
    "unreg-url-pass", "unreg-token-value", "cli-secret-value", "p@ss,word",
};

static void assert_no_planted(const char *text)
{
    for (size_t i = 0; i < sizeof(planted) / sizeof(planted[0]); i++) {
        if (strstr(text, planted[i]))
            fail_msg("planted secret '%s' found in:\n%s", planted[i], text);
    }
}

static void test_conf_secrets_never_reach_model_or_text(void **state)
{
    (void)state;
    gmr_conf *c = sample_conf();
    assert_int_equal(gmr_conf_register_str(c, NULL, "admin_password", NULL, NULL, GMR_OPT_SECRET),
                     0);
    assert_int_equal(gmr_conf_register_list(c, NULL, "keys", NULL, NULL, GMR_OPT_SECRET), 0);
    assert_int_equal(gmr_conf_register_str(c, NULL, "transport_url", NULL, NULL, 0), 0);
    assert_int_equal(
        gmr_conf_load_string(c, "secrets.conf",
                             "[DEFAULT]\n"
                             "admin_password = hunter2-admin\n"
                             "keys = list-pass, list-pass\n"
                             "transport_url = rabbit://nova:mq-pass-1@mq1:5672,"
                             "nova:mq-pass-2@mq2:5672/\n"
                             "hosts = http://a:list-pass@h1/, plain\n"
                             "unregistered_url = see https://u:unreg-url-pass@example.com/x\n"
                             "service_token = unreg-token-value\n"
                             "[database]\n"
                             "password = s3cr3t-db-pass\n"
                             "connection = mysql+pymysql://nova:p@ss,word@db/nova?charset=utf8\n"),
        0);
    assert_int_equal(
        gmr_conf_parse_args(c, 2, (char *[]){"p", "--database.password", "cli-secret-value"}),
        -EINVAL);
    assert_int_equal(
        gmr_conf_parse_args(c, 3, (char *[]){"p", "--database.password", "cli-secret-value"}), 0);

    /* The application still reads the real values. */
    assert_string_equal(get_str(c, "database", "password"), "cli-secret-value");
    assert_string_equal(get_str(c, NULL, "admin_password"), "hunter2-admin");

    json_t *sec = section_of(c);
    char *model = json_dumps(sec, 0);
    char *text = text_of(sec);
    assert_no_planted(model);
    assert_no_planted(text);

    const json_t *o = model_option(sec, "DEFAULT", "transport_url");
    assert_string_equal(json_string_value(json_object_get(o, "value")),
                        "rabbit://nova:***@mq1:5672,nova:***@mq2:5672/");
    o = model_option(sec, "DEFAULT", "service_token");
    assert_string_equal(json_string_value(json_object_get(o, "value")), "***");
    assert_true(json_is_true(json_object_get(o, "secret")));
    assert_true(json_is_true(json_object_get(o, "unregistered")));
    o = model_option(sec, "DEFAULT", "keys");
    assert_string_equal(json_string_value(json_object_get(o, "value")), "***");
    o = model_option(sec, "database", "connection");
    assert_string_equal(json_string_value(json_object_get(o, "value")),
                        "mysql+pymysql://nova:***@db/nova?charset=utf8");
    assert_non_null(strstr(text, "  password = ***\n"));
    assert_non_null(strstr(text, "  unregistered_url = see https://u:***@example.com/x  "
                                 "(unregistered)\n"));
    assert_non_null(strstr(text, "  hosts =\n    http://a:***@h1/\n    plain\n"));

    /* A saved JSON report renders the same text. */
    json_t *reloaded = json_loads(model, 0, NULL);
    assert_non_null(reloaded);
    char *text2 = text_of(reloaded);
    assert_string_equal(text, text2);
    free(text2);
    json_decref(reloaded);

    free(text);
    free(model);
    json_decref(sec);
    gmr_conf_free(c);
}

static void test_conf_text_matches_golden(void **state)
{
    (void)state;
    gmr_conf *c = sample_conf();
    assert_int_equal(gmr_opts_set_defaults(c), 0);
    assert_int_equal(gmr_conf_register_list(c, NULL, "no_items", NULL, NULL, 0), 0);
    assert_int_equal(gmr_conf_register_str(c, "database", "empty", "", NULL, 0), 0);
    assert_int_equal(gmr_conf_load_string(c, "/etc/demo/demo.conf",
                                          "[DEFAULT]\n"
                                          "motd = Welcome\n  to the demo\n"
                                          "hosts = db1, db2\n"
                                          "debug = on\n"
                                          "zz_unknown = left as written\n"
                                          "[database]\n"
                                          "connection = postgresql://demo:pw@db1/demo\n"
                                          "password = pw\n"
                                          "[oslo_reports]\n"
                                          "log_dir = /var/log/demo\n"
                                          "capture_timeout = 2\n"
                                          "[zeta]\n"
                                          "ctl = bell\x07here\n"),
                     0);
    assert_int_equal(
        gmr_conf_load_string(c, "/etc/demo/demo.conf.d/10-site.conf", "[DEFAULT]\nratio = 0.1\n"),
        0);
    json_t *sec = section_of(c);
    char *text = text_of(sec);
    test_assert_golden(text, "conf-section.txt");
    free(text);
    json_decref(sec);

    /* An empty object: no groups, no files. */
    gmr_conf *empty = gmr_conf_new();
    sec = section_of(empty);
    text = text_of(sec);
    assert_string_equal(text, "\nconfig files:\n  (none)\n");
    free(text);
    json_decref(sec);
    gmr_conf_free(empty);
    gmr_conf_free(c);
}

static void test_conf_section_through_report_renderer(void **state)
{
    (void)state;
    gmr_conf *c = sample_conf();
    json_t *report =
        json_pack("{s:s, s:{}, s:[]}", "format_version", GMR_FORMAT_VERSION, "header", "sections");
    json_t *sec = gmr__model_section(report, "Configuration", "configuration");
    assert_non_null(sec);
    assert_int_equal(gmr__conf_section(sec, c), 0);
    struct gmr__buf b = GMR_BUF_INIT;
    assert_int_equal(gmr__render_text(report, &b), 0);
    assert_non_null(strstr(b.data, "====                         Configuration"));
    assert_non_null(strstr(b.data, "\nDEFAULT:\n  color = red\n"));
    gmr__buf_done(&b);
    json_decref(report);
    gmr_conf_free(c);
}

static void *load_repeatedly(void *arg)
{
    gmr_conf *c = arg;
    for (int i = 0; i < 300; i++) {
        char text[128];
        snprintf(text, sizeof(text), "[DEFAULT]\nmotd = round %d\nhosts = a%d, b\nx%d = y\n", i, i,
                 i % 7);
        if (gmr_conf_load_string(c, "loop.conf", text) != 0)
            return (void *)1;
    }
    return NULL;
}

static void test_conf_section_while_another_thread_loads(void **state)
{
    (void)state;
    gmr_conf *c = sample_conf();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, load_repeatedly, c), 0);
    for (int i = 0; i < 300; i++) {
        json_t *sec = section_of(c);
        char *text = text_of(sec);
        assert_non_null(strstr(text, "  motd = "));
        free(text);
        json_decref(sec);
    }
    void *ret;
    assert_int_equal(pthread_join(t, &ret), 0);
    assert_null(ret);
    assert_string_equal(get_str(c, NULL, "motd"), "round 299");
    gmr_conf_free(c);
}

/* ------------------------------------------------------------------------------------------
 * Masking and signal names
 * ------------------------------------------------------------------------------------------ */

static void test_mask_hides_url_passwords(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
        int n;
    } cases[] = {
        {"", "", 0},
        {"plain value", "plain value", 0},
        {"user:pass@host", "user:pass@host", 0},
        {"http://example.com/a@b", "http://example.com/a@b", 0},
        {"http://user@example.com/", "http://user@example.com/", 0},
        {"amqp://nova:s3cret@mq:5672/", "amqp://nova:***@mq:5672/", 1},
        {"mysql://nova:pa:ss@db", "mysql://nova:***@db", 1},
        {"mysql://nova:p@ss@db/x", "mysql://nova:***@db/x", 1},
        {"mysql://nova:p/w#x@db/x", "mysql://nova:***@db/x", 1},
        {"mysql://nova:@db", "mysql://nova:***@db", 1},
        {"mysql://:tok@db", "mysql://:***@db", 1},
        {"rabbit://a:1@h1:5672,b:2@h2:5672/v", "rabbit://a:***@h1:5672,b:***@h2:5672/v", 2},
        {"rabbit://a:x,y@h1", "rabbit://a:***@h1", 1},
        {"db://u:p@ss,word@db/x", "db://u:***@db/x", 1},
        {"db://u:p@ss,word@db,v:q@db2/x", "db://u:***@db,v:***@db2/x", 2},
        {"x http://a:1@h y https://b:2@k", "x http://a:***@h y https://b:***@k", 2},
        {"http://a:1@h,https://b:2@k", "http://a:***@h,https://b:***@k", 2},
        {"'http://a:1@h'", "'http://a:***@h'", 1},
        {"<http://a:1@h>", "<http://a:***@h>", 1},
        {"http://a:1@h/p?q=u:v@w", "http://a:***@h/p?q=u:v@w", 1},
        {"://a:1@h", "://a:***@h", 1},
        {"a://b://c:1@d", "a://b://c:***@d", 1},
        {"http://[::1]:80/", "http://[::1]:80/", 0},
        {"http://a:1@[::1]:80/", "http://a:***@[::1]:80/", 1},
        /* KEY=VALUE pairs whose key looks secret: libpq, ODBC, query strings, options. */
        {"host=db user=nova password=s3cret port=5432", "host=db user=nova password=*** port=5432",
         1},
        {"Server=db;Uid=nova;Pwd=s3cret;", "Server=db;Uid=nova;Pwd=***;", 1},
        {"http://h/p?x=1&token=abc&y=2", "http://h/p?x=1&token=***&y=2", 1},
        {"password='a b;c' x=1", "password='***' x=1", 1},
        {"--db-password=x --debug", "--db-password=*** --debug", 1},
        {"mysql://u:p@h/db?ssl_key=/k.pem", "mysql://u:***@h/db?ssl_key=***", 2},
        {"password=", "password=", 0},
        {"sort=asc a=b=c", "sort=asc a=b=c", 0},
        {"mypassword=x", "mypassword=***", 1},
        {"user=password", "user=password", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = NULL;
        int n = gmr__mask_url_credentials(cases[i].in, &out);
        if (n != cases[i].n || strcmp(out, cases[i].out) != 0)
            fail_msg("mask('%s') = '%s' (%d), want '%s' (%d)", cases[i].in, out, n, cases[i].out,
                     cases[i].n);
        /* Masking is idempotent. */
        char *again = NULL;
        assert_true(gmr__mask_url_credentials(out, &again) >= 0);
        assert_string_equal(again, out);
        gmr__free(again);
        gmr__free(out);
    }
}

static void test_mask_flags_secret_looking_names(void **state)
{
    (void)state;
    static const char *const secret[] = {
        "password",           "DB_PASSWORD", "admin_passwd", "ssh_passphrase",
        "client_secret",      "auth_token",  "api_key",      "APIKEY",
        "credentials",        "AUTH_URL",    "private_dir",  "SessionCookie",
        "keystone_authtoken", "Session_Id",
    };
    static const char *const plain[] = {"",     "debug", "workers",  "log_dir", "PWD",
                                        "HOME", "PATH",  "hostname", "pass"};
    for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++) {
        if (!gmr__mask_name_is_secret(secret[i]))
            fail_msg("'%s' should look secret", secret[i]);
    }
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        if (gmr__mask_name_is_secret(plain[i]))
            fail_msg("'%s' should not look secret", plain[i]);
    }
    assert_false(gmr__mask_name_is_secret(NULL));
}

static void test_conf_parse_signal_names(void **state)
{
    (void)state;
    int s = -1;
    assert_int_equal(gmr__conf_parse_signal("SIGUSR2", &s), 0);
    assert_int_equal(s, SIGUSR2);
    assert_int_equal(gmr__conf_parse_signal("usr1", &s), 0);
    assert_int_equal(s, SIGUSR1);
    assert_int_equal(gmr__conf_parse_signal("SigHup", &s), 0);
    assert_int_equal(s, SIGHUP);
    assert_int_equal(gmr__conf_parse_signal("15", &s), 0);
    assert_int_equal(s, 15);
    assert_int_equal(gmr__conf_parse_signal("none", &s), 0);
    assert_int_equal(s, 0);
    assert_int_equal(gmr__conf_parse_signal("SIGRTMIN", &s), 0);
    assert_int_equal(s, SIGRTMIN);
    assert_int_equal(gmr__conf_parse_signal("SIGRTMIN+3", &s), 0);
    assert_int_equal(s, SIGRTMIN + 3);
    assert_int_equal(gmr__conf_parse_signal("rtmax-1", &s), 0);
    assert_int_equal(s, SIGRTMAX - 1);
    assert_int_equal(gmr__conf_parse_signal("SIGIOT", &s), 0);
    assert_int_equal(s, SIGABRT);

    s = -1;
    static const char *const bad[] = {
        "",           "0",          "65",          "999",       "1000", "SIG", "USR3",
        "SIGRTMIN-1", "SIGRTMAX+1", "SIGRTMIN+99", "SIGRTMIN+", "-1",   " 1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (gmr__conf_parse_signal(bad[i], &s) != -EINVAL)
            fail_msg("'%s' should not parse", bad[i]);
    }
    assert_int_equal(s, -1);
    assert_int_equal(gmr__conf_parse_signal(NULL, &s), -EINVAL);
}

/* ------------------------------------------------------------------------------------------
 * Allocation failures
 * ------------------------------------------------------------------------------------------ */

/* Every step of a typical use; returns the first failure.  @c receives the object. */
static int full_use(gmr_conf **ret, const char *file)
{
    static const char *const colors[] = {"red", "blue", NULL};
    static const char *const hosts[] = {"h1", "h2", NULL};
    gmr_conf *c = gmr_conf_new();
    *ret = c;
    if (!c)
        return -ENOMEM;
    int r;
    if ((r = gmr_conf_load_string(c, "early.conf", "[DEFAULT]\nlate = 5\nstray = x\n")) < 0 ||
        (r = gmr_opts_set_defaults(c)) < 0 ||
        (r = gmr_conf_register_str(c, NULL, "motd", "hi", "help", 0)) < 0 ||
        (r = gmr_conf_register_choice(c, NULL, "color", "red", colors, NULL, 0)) < 0 ||
        (r = gmr_conf_register_list(c, NULL, "hosts", hosts, NULL, 0)) < 0 ||
        (r = gmr_conf_register_int(c, NULL, "late", 1, 0, 9, NULL, 0)) < 0 ||
        (r = gmr_conf_register_str(c, "db", "pw", NULL, NULL, GMR_OPT_SECRET)) < 0)
        return r;
    if ((r = gmr_conf_load_string(c, "s.conf",
                                  "[DEFAULT]\nmotd = a\n  b\nhosts = x, y\n"
                                  "[db]\npw = zzz\nurl = http://u:p@h/\n")) < 0)
        return r;
    if ((r = gmr_conf_parse_args(
             c, 5, (char *[]){"p", "--config-file", (char *)file, "--color", "blue"})) < 0)
        return r;
    if ((r = gmr_conf_set_override(c, NULL, "motd", "over")) < 0)
        return r;

    json_t *sec = json_object();
    if (!sec)
        return -ENOMEM;
    r = gmr__conf_section(sec, c);
    if (r == 0) {
        struct gmr__buf b = GMR_BUF_INIT;
        gmr__text_configuration(&b, sec);
        r = gmr__buf_error(&b);
        gmr__buf_done(&b);
    }
    json_decref(sec);
    return r;
}

static void test_conf_survives_every_allocation_failure(void **state)
{
    (void)state;
    const char *file = write_file("alloc.conf", "[oslo_reports]\nformat = json\n");
    json_set_alloc_funcs(gmr__malloc, gmr__free);
    int r = -ENOMEM;
    long n;
    for (n = 0; n < 100000 && r == -ENOMEM; n++) {
        gmr_conf *c;
        gmr__alloc_fail_after(n);
        r = full_use(&c, file);
        gmr__alloc_fail_after(-1);
        if (r != 0 && r != -ENOMEM)
            fail_msg("step %ld: %d (%s)", n, r, c ? gmr_conf_last_error(c) : "");
        if (r == -ENOMEM && c) {
            /* A failed call changed nothing it reports on. */
            const char *s;
            if (gmr_conf_get_str(c, NULL, "motd", &s) == 0)
                assert_true(strcmp(s, "hi") == 0 || strcmp(s, "a\nb") == 0 ||
                            strcmp(s, "over") == 0);
        }
        gmr_conf_free(c);
    }
    json_set_alloc_funcs(malloc, free);
    assert_int_equal(r, 0);
    assert_true(n > 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conf_register_gives_typed_defaults),
        cmocka_unit_test(test_conf_register_rejects_duplicates_and_bad_arguments),
        cmocka_unit_test(test_conf_getters_check_name_and_type),
        cmocka_unit_test(test_conf_load_converts_each_type),
        cmocka_unit_test(test_conf_load_checks_types_bounds_and_choices),
        cmocka_unit_test(test_conf_secret_values_stay_out_of_error_messages),
        cmocka_unit_test(test_conf_load_multiline_values_and_comments),
        cmocka_unit_test(test_conf_load_reports_syntax_errors_with_line),
        cmocka_unit_test(test_conf_load_file_errors_name_the_file),
        cmocka_unit_test(test_conf_later_file_wins),
        cmocka_unit_test(test_conf_config_dir_loads_in_name_order),
        cmocka_unit_test(test_conf_args_override_files_in_any_order),
        cmocka_unit_test(test_conf_args_errors_are_clear),
        cmocka_unit_test(test_conf_set_override_wins_over_everything),
        cmocka_unit_test(test_conf_unregistered_options_are_kept_and_adopted),
        cmocka_unit_test(test_conf_failed_load_leaves_object_unchanged),
        cmocka_unit_test(test_conf_limits_are_enforced),
        cmocka_unit_test(test_conf_secrets_never_reach_model_or_text),
        cmocka_unit_test(test_conf_text_matches_golden),
        cmocka_unit_test(test_conf_section_through_report_renderer),
        cmocka_unit_test(test_conf_section_while_another_thread_loads),
        cmocka_unit_test(test_mask_hides_url_passwords),
        cmocka_unit_test(test_mask_flags_secret_looking_names),
        cmocka_unit_test(test_conf_parse_signal_names),
        cmocka_unit_test(test_conf_survives_every_allocation_failure),
    };
    return cmocka_run_group_tests_name("conf", tests, setup_dir, teardown_dir);
}
