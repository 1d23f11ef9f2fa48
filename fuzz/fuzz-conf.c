/*
 * Fuzz target: INI text through the configuration loader, the masking of secrets, the model
 * of the Configuration section and its text view.  Built as a libFuzzer target with
 * -Dfuzz=true (clang), and replayed over fuzz/corpus/conf/ by regression-driver.c in the
 * ordinary test suite.
 *
 * An input that starts with "--" is taken as command-line arguments, one per line, for
 * gmr_conf_parse_args() (arguments naming files or directories are dropped: the target never
 * touches the file system).  Any other input is INI text.
 *
 * Besides not crashing, it checks that every value the model marks secret is "***" and that
 * masking URL credentials is idempotent.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gmr/gmr.h>

#include "conf/conf-internal.h"
#include "render/render.h"
#include "util/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok)
        abort(); /* a broken invariant is a finding: let the fuzzer keep the input */
    (void)what;
}

static void check_masking(const char *s)
{
    char *once = NULL, *twice = NULL;
    if (gmr__mask_url_credentials(s, &once) < 0)
        return;
    if (gmr__mask_url_credentials(once, &twice) >= 0) {
        check(strcmp(once, twice) == 0, "masking is idempotent");
        gmr__free(twice);
    }
    gmr__free(once);
    (void)gmr__mask_name_is_secret(s);
}

static void check_model(const json_t *sec)
{
    size_t i, j;
    const json_t *g, *o;
    json_array_foreach(json_object_get(sec, "groups"), i, g)
    {
        json_array_foreach(json_object_get(g, "options"), j, o)
        {
            const char *name = json_string_value(json_object_get(o, "name"));
            const json_t *value = json_object_get(o, "value");
            bool unregistered = json_is_true(json_object_get(o, "unregistered"));
            if (json_is_true(json_object_get(o, "secret")) ||
                (unregistered && gmr__mask_name_is_secret(name)))
                check(json_is_string(value) && strcmp(json_string_value(value), "***") == 0,
                      "secret values are masked");
        }
    }
}

/* The options of a typical service, so that values are converted as well as kept raw. */
static void register_options(gmr_conf *c)
{
    static const char *const colors[] = {"red", "green", "blue", NULL};
    static const char *const hosts[] = {"localhost", NULL};
    (void)gmr_opts_set_defaults(c);
    (void)gmr_conf_register_str(c, NULL, "motd", "hello", NULL, 0);
    (void)gmr_conf_register_int(c, NULL, "workers", 4, 1, 64, NULL, 0);
    (void)gmr_conf_register_float(c, NULL, "ratio", 0.5, 0, 1, NULL, 0);
    (void)gmr_conf_register_bool(c, NULL, "debug", false, NULL, 0);
    (void)gmr_conf_register_list(c, NULL, "hosts", hosts, NULL, 0);
    (void)gmr_conf_register_choice(c, NULL, "color", "red", colors, NULL, 0);
    (void)gmr_conf_register_str(c, NULL, "transport_url", NULL, NULL, 0);
    (void)gmr_conf_register_str(c, "database", "connection", NULL, NULL, 0);
    (void)gmr_conf_register_str(c, "database", "password", NULL, NULL, GMR_OPT_SECRET);
    (void)gmr_conf_register_list(c, "database", "keys", NULL, NULL, GMR_OPT_SECRET);
}

/* Splits @text at newlines into an argv for gmr_conf_parse_args(); returns argc. */
static int parse_args_lines(gmr_conf *c, char *text)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = "fuzz";
    for (char *line = text; line && argc < 63;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (!strstr(line, "onfig"))
            argv[argc++] = line;
        line = nl ? nl + 1 : NULL;
    }
    argv[argc] = NULL;
    int r = gmr_conf_parse_args(c, argc, argv);
    check(r == 0 || r == -EINVAL || r == -ENOMEM, "parse_args result");
    check(r != -EINVAL || gmr_conf_last_error(c)[0] != '\0', "errors have a message");
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 2 && data[0] == '-' && data[1] == '-') {
        gmr_conf *c = gmr_conf_new();
        char *text = gmr__strndup((const char *)data, size);
        if (c && text) {
            register_options(c);
            (void)parse_args_lines(c, text);
            json_t *sec = json_object();
            if (sec && gmr__conf_section(sec, c) == 0)
                check_model(sec);
            json_decref(sec);
        }
        gmr__free(text);
        gmr_conf_free(c);
        return 0;
    }

    gmr_conf *c = gmr_conf_new();
    if (!c)
        return 0;
    /* Half of the inputs are loaded before the options are registered, half after. */
    bool late = size > 0 && (data[0] & 1);
    if (!late)
        register_options(c);
    int r = gmr__conf_load_buffer(c, "fuzz.conf", (const char *)data, size);
    check(r == 0 || r == -EINVAL || r == -EFBIG || r == -ENOMEM, "load result");
    check(r != -EINVAL || gmr_conf_last_error(c)[0] != '\0', "errors have a message");
    if (late)
        register_options(c);

    char *text = gmr__strndup((const char *)data, size);
    if (text) {
        check_masking(text);
        gmr__free(text);
    }

    json_t *sec = json_object();
    if (sec && gmr__conf_section(sec, c) == 0) {
        check_model(sec);
        struct gmr__buf out = GMR_BUF_INIT;
        gmr__text_configuration(&out, sec);
        gmr__buf_done(&out);
    }
    json_decref(sec);
    gmr_conf_free(c);
    return 0;
}
