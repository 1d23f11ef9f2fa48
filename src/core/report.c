/*
 * The report pipeline: build the model section by section, render it, write it.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "capture/coro.h"
#include "capture/locks.h"
#include "capture/threads.h"
#include "conf/conf-internal.h"
#include "core/fork.h"
#include "core/state.h"
#include "output/logdir.h"
#include "output/sink.h"
#include "render/render.h"
#include "sections/diag.h"
#include "sections/sections.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/macro.h"

pthread_mutex_t gmr__report_lock = PTHREAD_MUTEX_INITIALIZER;

static _Thread_local bool in_report;

bool gmr__in_report(void)
{
    return in_report;
}

void gmr__set_in_report(bool on)
{
    in_report = on;
}

/* A copy of the registry taken under the state lock, so callbacks run without it. */
struct registry_copy {
    struct gmr__section *items;
    size_t n;
};

static void registry_copy_done(struct registry_copy *c)
{
    for (size_t i = 0; i < c->n; i++)
        gmr__free(c->items[i].title);
    gmr__free(c->items);
    c->items = NULL;
    c->n = 0;
}

static int registry_copy(struct registry_copy *c)
{
    int r = 0;
    pthread_mutex_lock(&gmr__state.lock);
    c->n = 0;
    c->items = gmr__calloc(gmr__state.n_sections ? gmr__state.n_sections : 1, sizeof(*c->items));
    if (!c->items) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < gmr__state.n_sections; i++) {
        c->items[i] = gmr__state.sections[i];
        c->items[i].title = gmr__strdup(gmr__state.sections[i].title);
        if (!c->items[i].title) {
            r = -ENOMEM;
            goto out;
        }
        c->n++;
    }
out:
    pthread_mutex_unlock(&gmr__state.lock);
    if (r < 0)
        registry_copy_done(c);
    return r;
}

/* What the built-in sections' fillers may need. */
struct build_ctx {
    const struct gmr__settings *settings;
    gmr_conf *conf; /* borrowed; NULL when the application gave none */
};

static int fill_threads(json_t *sec, const struct build_ctx *c)
{
    int self = (int)syscall(SYS_gettid);
    return gmr__threads_section(sec, self, c->settings->group_threads);
}

static int fill_green_threads(json_t *sec, const struct build_ctx *c)
{
    (void)c;
    return gmr__coro_section(sec);
}

static int fill_processes(json_t *sec, const struct build_ctx *c)
{
    (void)c;
    return gmr__section_processes(sec);
}

static int fill_configuration(json_t *sec, const struct build_ctx *c)
{
    return gmr__conf_section(sec, c->conf);
}

/* Adapts the diagnostics fillers, which need no context. */
#define DIAG_FILLER(name)                                                                          \
    static int fill_##name(json_t *sec, const struct build_ctx *c)                                 \
    {                                                                                              \
        (void)c;                                                                                   \
        return gmr__section_##name(sec);                                                           \
    }
DIAG_FILLER(environment)
DIAG_FILLER(resources)
DIAG_FILLER(limits)
DIAG_FILLER(open_files)
DIAG_FILLER(shared_objects)
DIAG_FILLER(system)

/* The built-in sections after Package, in report order. */
static const struct builtin {
    unsigned flag;     /* GMR_SECTION_*: gmr_set_builtin_sections() turns it off */
    const char *title;
    const char *type;  /* the view that renders it */
    bool needs_conf;   /* only when the application gave a configuration object */
    int (*fill)(json_t *section, const struct build_ctx *c);
} builtins[] = {
    {GMR_SECTION_THREADS, "Threads", "threads", false, fill_threads},
    {GMR_SECTION_GREEN_THREADS, "Green Threads", "green_threads", false, fill_green_threads},
    {GMR_SECTION_PROCESSES, "Processes", "processes", false, fill_processes},
    {GMR_SECTION_CONFIGURATION, "Configuration", "configuration", true, fill_configuration},
    {GMR_SECTION_ENVIRONMENT, "Environment", "environment", false, fill_environment},
    {GMR_SECTION_RESOURCES, "Resources", "kv", false, fill_resources},
    {GMR_SECTION_LIMITS, "Limits", "limits", false, fill_limits},
    {GMR_SECTION_OPEN_FILES, "Open Files", "open_files", false, fill_open_files},
    {GMR_SECTION_SHARED_OBJECTS, "Shared Objects", "shared_objects", false, fill_shared_objects},
    {GMR_SECTION_SYSTEM, "System", "kv", false, fill_system},
};

/* Adds a built-in section; a failure other than ENOMEM becomes the section's error entry. */
static int builtin_section(json_t *report, const struct builtin *b, const struct build_ctx *c)
{
    json_t *sec = gmr__model_section(report, b->title, b->type);
    if (!sec)
        return -ENOMEM;
    int r = b->fill(sec, c);
    /* What blocked threads wait for, and deadlocks: a pass over the Threads model. */
    if (r == 0 && b->flag == GMR_SECTION_THREADS)
        r = gmr__locks_analyze(sec, report);
    if (r == -ENOMEM)
        return r;
    if (r < 0) {
        char msg[160];
        snprintf(msg, sizeof(msg), "%s (%d)", strerror(-r), r);
        return gmr__model_section_error(sec, msg);
    }
    return 0;
}

/* Builds the whole model.  Context: reporter thread or caller; gmr__report_lock held. */
static int build(json_t **ret, const char *trigger)
{
    struct registry_copy reg = {0};
    json_t *report = json_object();
    json_t *sections = json_array();
    int r = -ENOMEM;
    if (!report || !sections)
        goto out;
    if (gmr__json_set_str(report, "format_version", GMR_FORMAT_VERSION) < 0)
        goto out;

    pthread_mutex_lock(&gmr__state.lock);
    struct gmr__settings settings = gmr__state.installed ? gmr__state.run : gmr__state.settings;
    const char *service = gmr__state.installed ? gmr__state.service_name : gmr__program_name();
    struct gmr__header_info hi = {.service_name = service, .trigger = trigger};
    r = gmr__section_header(report, &hi);
    if (r == 0 && json_object_set(report, "sections", sections) < 0)
        r = -ENOMEM;
    if (r == 0)
        r = gmr__section_package(report, gmr__state.vendor, gmr__state.product,
                                 gmr__state.version);
    gmr_conf *conf = gmr__state.installed ? gmr__state.conf : NULL;
    pthread_mutex_unlock(&gmr__state.lock);
    if (r < 0)
        goto out;

    struct build_ctx ctx = {.settings = &settings, .conf = conf};
    for (size_t i = 0; i < GMR_ELEMENTSOF(builtins); i++) {
        const struct builtin *b = &builtins[i];
        if (!(settings.builtin_sections & b->flag) || (b->needs_conf && !conf))
            continue;
        r = builtin_section(report, b, &ctx);
        if (r < 0)
            goto out;
    }

    r = registry_copy(&reg);
    if (r < 0)
        goto out;
    r = gmr__sections_run(report, reg.items, reg.n, settings.section_timeout_ns);
    if (r < 0)
        goto out;

    *ret = report;
    report = NULL;
out:
    registry_copy_done(&reg);
    json_decref(sections);
    json_decref(report);
    return r;
}

static int render(const json_t *model, enum gmr_format format, struct gmr__buf *out)
{
    return format == GMR_FORMAT_JSON ? gmr__render_json(model, out)
                                     : gmr__render_text(model, out);
}

/*
 * Writes a triggered report where the settings say: a new file in the log directory, else the
 * output fd.  When the log directory cannot take it, the report goes to the output fd after a
 * one-line reason, so nothing is lost.
 */
static int write_triggered(const struct gmr__buf *out, enum gmr_format format)
{
    pthread_mutex_lock(&gmr__state.lock);
    int fd = gmr__state.run.output_fd;
    char *dir = gmr__state.run.log_dir ? gmr__strdup(gmr__state.run.log_dir) : NULL;
    char *service = gmr__strdup(gmr__state.service_name ? gmr__state.service_name
                                                        : gmr__program_name());
    bool has_dir = gmr__state.run.log_dir != NULL;
    pthread_mutex_unlock(&gmr__state.lock);

    int r = 0;
    if (has_dir) {
        char *path = NULL;
        r = dir && service ? gmr__logdir_write(dir, service, format == GMR_FORMAT_JSON,
                                               out->data, out->len, &path)
                           : -ENOMEM;
        gmr__free(path);
        if (r < 0)
            gmr__error_line("cannot write the report to log_dir %s: %s; writing it here instead",
                            dir ? dir : "", strerror(-r));
    }
    if (!has_dir || r < 0)
        r = gmr__write_all(fd, out->data, out->len);
    gmr__free(dir);
    gmr__free(service);
    return r;
}

int gmr__report_write(int fd, enum gmr_format format, const char *trigger)
{
    /* A report without setup takes the locks the fork handlers look after, too. */
    gmr__atfork_register();
    pthread_mutex_lock(&gmr__report_lock);
    in_report = true;

    json_t *model = NULL;
    struct gmr__buf out = GMR_BUF_INIT;
    int r = build(&model, trigger);
    if (r == 0)
        r = render(model, format, &out);
    if (r == 0 && fd >= 0)
        r = gmr__write_all(fd, out.data, out.len);
    else if (r == 0)
        r = write_triggered(&out, format);
    else if (fd < 0)
        gmr__error_line("could not build a report: %s", strerror(-r));

    gmr__buf_done(&out);
    json_decref(model);
    in_report = false;
    pthread_mutex_unlock(&gmr__report_lock);
    return r;
}
