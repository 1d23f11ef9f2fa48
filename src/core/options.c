/*
 * The [oslo_reports] options of the application's configuration object, applied to the
 * settings that gmr_setup_autorun() runs with.  Types and bounds were checked when the values
 * were loaded (see gmr_opts_set_defaults()); what is checked here is only what the
 * configuration object cannot know: which signals may serve which purpose.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <gmr/gmr.h>

#include "conf/conf-internal.h"
#include "core/state.h"
#include "output/sink.h"
#include "util/alloc.h"

#define GROUP "oslo_reports"

/* Replaces the owned string *@slot with a copy of @s, or NULL when @s is NULL or empty. */
static int replace(char **slot, const char *s)
{
    char *copy = NULL;
    if (s && *s && !(copy = gmr__strdup(s)))
        return -ENOMEM;
    gmr__free(*slot);
    *slot = copy;
    return 0;
}

/* A relative path in a configuration file is taken relative to the working directory. */
static int absolute(char **slot)
{
    if (!*slot || (*slot)[0] == '/')
        return 0;
    char cwd[4096];
    if (!getcwd(cwd, sizeof(cwd)))
        return -errno;
    size_t n = strlen(cwd) + strlen(*slot) + 2;
    char *abs = gmr__malloc(n);
    if (!abs)
        return -ENOMEM;
    snprintf(abs, n, "%s/%s", cwd, *slot);
    gmr__free(*slot);
    *slot = abs;
    return 0;
}

/* Reports a bad option value in one line; returns -EINVAL. */
static int bad(const char *name, const char *value, const char *why)
{
    gmr__error_line("[%s] %s = %s: %s", GROUP, name, value ? value : "", why);
    return -EINVAL;
}

int gmr__settings_from_conf(struct gmr__settings *run, const gmr_conf *conf)
{
    const char *s;
    int64_t i;
    double d;
    bool b;
    int r, signo;

    if (!conf)
        return 0;
    /* Options the application never registered (no gmr_opts_set_defaults()) are skipped. */
    if (gmr_conf_get_str(conf, GROUP, "log_dir", &s) == 0 && gmr_conf_is_set(conf, GROUP, "log_dir")) {
        if ((r = replace(&run->log_dir, s)) < 0 || (r = absolute(&run->log_dir)) < 0)
            return r;
    }
    if (gmr_conf_get_str(conf, GROUP, "file_event_handler", &s) == 0 &&
        gmr_conf_is_set(conf, GROUP, "file_event_handler")) {
        if ((r = replace(&run->file_trigger, s)) < 0 || (r = absolute(&run->file_trigger)) < 0)
            return r;
    }
    if (gmr_conf_get_int(conf, GROUP, "file_event_handler_interval", &i) == 0 &&
        gmr_conf_is_set(conf, GROUP, "file_event_handler_interval")) {
        run->file_interval_s = (int)i; /* bounds checked when loaded: 1..86400 */
    }
    if (gmr_conf_get_str(conf, GROUP, "signal", &s) == 0 && gmr_conf_is_set(conf, GROUP, "signal")) {
        if (gmr__conf_parse_signal(s, &signo) < 0)
            return bad("signal", s, "not a signal name or number");
        if (signo == SIGKILL || signo == SIGSTOP || signo == SIGSEGV || signo == SIGBUS ||
            signo == SIGILL || signo == SIGFPE || signo == SIGABRT)
            return bad("signal", s, "this signal cannot trigger reports");
        run->trigger_signo = signo;
        run->trigger_signo_explicit = true;
    }
    if (gmr_conf_get_str(conf, GROUP, "format", &s) == 0 && gmr_conf_is_set(conf, GROUP, "format")) {
        if (strcmp(s, "text") == 0)
            run->format = GMR_FORMAT_TEXT;
        else if (strcmp(s, "json") == 0)
            run->format = GMR_FORMAT_JSON;
        else
            return bad("format", s, "must be text or json");
    }
    if (gmr_conf_get_str(conf, GROUP, "capture_signal", &s) == 0 &&
        gmr_conf_is_set(conf, GROUP, "capture_signal")) {
        if (strcmp(s, "auto") == 0) {
            run->capture_signo = 0;
        } else {
            if (gmr__conf_parse_signal(s, &signo) < 0 || signo < SIGRTMIN || signo > SIGRTMAX)
                return bad("capture_signal", s, "must be auto or a real-time signal");
            run->capture_signo = signo;
        }
    }
    if (gmr_conf_get_float(conf, GROUP, "capture_timeout", &d) == 0 &&
        gmr_conf_is_set(conf, GROUP, "capture_timeout")) {
        run->capture_timeout_ns = (uint64_t)(d * 1e9); /* checked when loaded: 0.001..60 */
    }
    if (gmr_conf_get_bool(conf, GROUP, "group_threads", &b) == 0 &&
        gmr_conf_is_set(conf, GROUP, "group_threads"))
        run->group_threads = b;
    if (gmr_conf_get_bool(conf, GROUP, "control_socket", &b) == 0 &&
        gmr_conf_is_set(conf, GROUP, "control_socket"))
        run->control_socket = b;
    const char *const *items;
    size_t n;
    if (gmr_conf_get_list(conf, GROUP, "disabled_sections", &items, &n) == 0 &&
        gmr_conf_is_set(conf, GROUP, "disabled_sections")) {
        for (size_t k = 0; k < n; k++)
            run->builtin_sections &= ~gmr__conf_section_flag(items[k]); /* names checked */
    }
    return 0;
}
