/*
 * Text view of the Threads section (model: docs/threads.md).  One block per thread, headed by
 * oslo.reports' "------  Thread #TID (name)  ------" banner: a line of state, one of how the
 * stack was captured, then one line per frame with the source line under it when the model
 * has it.  With "group_identical", threads with the same frames share one block.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "render/render.h"
#include "util/alloc.h"
#include "util/buf.h"

static const char *str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

static void put_frames(struct gmr__buf *out, const json_t *t)
{
    size_t i;
    const json_t *f;
    json_array_foreach(json_object_get(t, "frames"), i, f)
    {
        const char *pc = str(f, "pc");
        const char *fn = str(f, "function");
        const char *file = str(f, "file");
        const char *module = str(f, "module");
        const char *offset = str(f, "offset");
        json_int_t line = json_integer_value(json_object_get(f, "line"));
        gmr__buf_printf(out, "  #%-3zu ", i);
        gmr__text_scalar(out, json_object_get(f, "pc"), 4);
        if (!pc)
            gmr__buf_puts(out, "?");
        gmr__buf_puts(out, " in ");
        if (fn)
            gmr__text_scalar(out, json_object_get(f, "function"), 4);
        else
            gmr__buf_puts(out, "??");
        if (file) {
            gmr__buf_puts(out, " (");
            gmr__text_scalar(out, json_object_get(f, "file"), 4);
            if (line > 0)
                gmr__buf_printf(out, ":%" JSON_INTEGER_FORMAT, line);
            gmr__buf_putc(out, ')');
        }
        if (module) {
            json_t *m = json_string(base_name(module));
            gmr__buf_puts(out, " [");
            gmr__text_scalar(out, m, 4);
            json_decref(m);
            if (offset)
                gmr__buf_printf(out, "+%s", offset);
            gmr__buf_putc(out, ']');
        }
        if (json_is_true(json_object_get(f, "inlined")))
            gmr__buf_puts(out, " [inlined]");
        gmr__buf_putc(out, '\n');
        if (str(f, "source")) {
            gmr__buf_puts(out, "    `");
            gmr__text_scalar(out, json_object_get(f, "source"), 4);
            gmr__buf_puts(out, "`\n");
        }
    }
    json_int_t more = json_integer_value(json_object_get(t, "more_frames"));
    if (more > 0) {
        bool exact = !json_is_false(json_object_get(t, "more_frames_exact"));
        gmr__buf_printf(out, "  ... %s%" JSON_INTEGER_FORMAT " more frames\n",
                        exact ? "" : "at least ", more);
    }
    if (str(t, "unwind_error")) {
        gmr__buf_puts(out, "  (unwinding stopped: ");
        gmr__text_scalar(out, json_object_get(t, "unwind_error"), 4);
        gmr__buf_puts(out, ")\n");
    }
}

/* "Thread #TID (name)" into @buf. */
static void thread_title(char *buf, size_t size, const json_t *t)
{
    const char *name = str(t, "name");
    json_int_t tid = json_integer_value(json_object_get(t, "tid"));
    if (name)
        snprintf(buf, size, "Thread #%" JSON_INTEGER_FORMAT " (%s)", tid, name);
    else
        snprintf(buf, size, "Thread #%" JSON_INTEGER_FORMAT, tid);
}

/* The state and capture lines of one thread. */
static void put_info(struct gmr__buf *out, const json_t *t)
{
    if (str(t, "state")) {
        gmr__buf_puts(out, "state = ");
        gmr__text_scalar(out, json_object_get(t, "state"), 0);
        if (json_is_true(json_object_get(t, "main")))
            gmr__buf_puts(out, ", main thread");
        if (json_object_get(t, "cpu_user_ms"))
            gmr__buf_printf(out, ", cpu = %" JSON_INTEGER_FORMAT " ms user + %" JSON_INTEGER_FORMAT
                                 " ms system",
                            json_integer_value(json_object_get(t, "cpu_user_ms")),
                            json_integer_value(json_object_get(t, "cpu_system_ms")));
        gmr__buf_putc(out, '\n');
    }
    const char *capture = str(t, "capture");
    if (capture && strcmp(capture, "none") != 0) {
        gmr__buf_puts(out, "captured = ");
        gmr__text_scalar(out, json_object_get(t, "capture"), 0);
        if (str(t, "syscall")) {
            gmr__buf_puts(out, ", blocked in ");
            gmr__text_scalar(out, json_object_get(t, "syscall"), 0);
        }
        if (json_object_get(t, "interrupted_ns"))
            gmr__buf_printf(out, ", interrupted for %" JSON_INTEGER_FORMAT " us",
                            (json_integer_value(json_object_get(t, "interrupted_ns")) + 999) /
                                1000);
        gmr__buf_putc(out, '\n');
    }
    if (json_is_object(json_object_get(t, "waiting_for"))) {
        gmr__buf_puts(out, "waiting for = ");
        gmr__text_waiting_for(out, t);
        gmr__buf_putc(out, '\n');
    }
    if (str(t, "note")) {
        gmr__buf_puts(out, "note = ");
        gmr__text_scalar(out, json_object_get(t, "note"), 2);
        gmr__buf_putc(out, '\n');
    }
    if (str(t, "unavailable")) {
        gmr__buf_puts(out, "unavailable: ");
        gmr__text_scalar(out, json_object_get(t, "unavailable"), 2);
        gmr__buf_putc(out, '\n');
    }
}

static void put_thread(struct gmr__buf *out, const json_t *t)
{
    char title[128];
    thread_title(title, sizeof(title), t);
    gmr__text_banner(out, '-', title);
    put_info(out, t);
    put_frames(out, t);
    gmr__buf_putc(out, '\n');
}

/* One thread of a group, on its item line: ": sleeping, quiet in futex". */
static void put_item_summary(struct gmr__buf *out, const json_t *t)
{
    if (str(t, "state")) {
        gmr__buf_puts(out, ": ");
        gmr__text_scalar(out, json_object_get(t, "state"), 2);
    }
    if (json_is_true(json_object_get(t, "main")))
        gmr__buf_puts(out, ", main thread");
    if (str(t, "capture")) {
        gmr__buf_puts(out, ", ");
        gmr__text_scalar(out, json_object_get(t, "capture"), 2);
    }
    if (str(t, "syscall")) {
        gmr__buf_puts(out, " in ");
        gmr__text_scalar(out, json_object_get(t, "syscall"), 2);
    }
    if (json_is_object(json_object_get(t, "waiting_for"))) {
        gmr__buf_puts(out, ", waiting for ");
        gmr__text_waiting_for(out, t);
    }
    if (str(t, "note")) {
        gmr__buf_puts(out, " (");
        gmr__text_scalar(out, json_object_get(t, "note"), 2);
        gmr__buf_putc(out, ')');
    }
}

/* A key that is equal for threads whose frames are equal; NULL for threads without frames. */
static char *stack_key(const json_t *t)
{
    const json_t *frames = json_object_get(t, "frames");
    if (!json_is_array(frames) || json_array_size(frames) == 0)
        return NULL;
    struct gmr__buf b = GMR_BUF_INIT;
    size_t i;
    const json_t *f;
    json_array_foreach(frames, i, f)
    {
        const char *fn = str(f, "function");
        const char *file = str(f, "file");
        gmr__buf_printf(&b, "%s|%s|%s|%" JSON_INTEGER_FORMAT "|%d\n", str(f, "pc") ? str(f, "pc") : "",
                        fn ? fn : "", file ? file : "",
                        json_integer_value(json_object_get(f, "line")),
                        json_is_true(json_object_get(f, "inlined")));
    }
    gmr__buf_printf(&b, "+%" JSON_INTEGER_FORMAT "|%s",
                    json_integer_value(json_object_get(t, "more_frames")),
                    str(t, "unwind_error") ? str(t, "unwind_error") : "");
    return gmr__buf_steal(&b, NULL);
}

static void put_grouped(struct gmr__buf *out, const json_t *threads)
{
    size_t n = json_array_size(threads);
    char **keys = gmr__calloc(n ? n : 1, sizeof(*keys));
    bool *done = gmr__calloc(n ? n : 1, sizeof(*done));
    if (!keys || !done) {
        gmr__free(keys);
        gmr__free(done);
        out->error = out->error ? out->error : -ENOMEM;
        return;
    }
    for (size_t i = 0; i < n; i++)
        keys[i] = stack_key(json_array_get(threads, i));
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        const json_t *t = json_array_get(threads, i);
        size_t count = 1;
        for (size_t j = i + 1; keys[i] && j < n; j++)
            count += !done[j] && keys[j] && strcmp(keys[i], keys[j]) == 0;
        if (count == 1) {
            put_thread(out, t);
            continue;
        }
        char title[64];
        snprintf(title, sizeof(title), "%zu threads with this stack", count);
        gmr__text_banner(out, '-', title);
        for (size_t j = i; j < n; j++) {
            if (j != i && (done[j] || !keys[j] || strcmp(keys[i], keys[j]) != 0))
                continue;
            done[j] = true;
            const json_t *u = json_array_get(threads, j);
            thread_title(title, sizeof(title), u);
            gmr__buf_puts(out, "- ");
            gmr__buf_puts(out, title);
            put_item_summary(out, u);
            gmr__buf_putc(out, '\n');
        }
        put_frames(out, t);
        gmr__buf_putc(out, '\n');
    }
    for (size_t i = 0; i < n; i++)
        gmr__free(keys[i]);
    gmr__free(keys);
    gmr__free(done);
}

void gmr__text_threads(struct gmr__buf *out, const json_t *section)
{
    const json_t *threads = json_object_get(section, "threads");
    const json_t *stats = json_object_get(section, "stats");
    if (json_is_object(stats)) {
        gmr__buf_printf(out,
                        "threads = %" JSON_INTEGER_FORMAT " (%" JSON_INTEGER_FORMAT
                        " quiet, %" JSON_INTEGER_FORMAT " by signal, %" JSON_INTEGER_FORMAT
                        " not captured)\n",
                        json_integer_value(json_object_get(stats, "threads")),
                        json_integer_value(json_object_get(stats, "quiet")),
                        json_integer_value(json_object_get(stats, "signal")),
                        json_integer_value(json_object_get(stats, "not_captured")));
    }
    if (str(section, "note")) {
        gmr__buf_puts(out, "note = ");
        gmr__text_scalar(out, json_object_get(section, "note"), 2);
        gmr__buf_putc(out, '\n');
    }
    gmr__buf_putc(out, '\n');
    if (json_is_true(json_object_get(section, "group_identical"))) {
        put_grouped(out, threads);
    } else {
        size_t i;
        const json_t *t;
        json_array_foreach(threads, i, t)
        {
            put_thread(out, t);
        }
    }
    json_int_t hidden = json_integer_value(json_object_get(section, "threads_not_shown"));
    if (hidden > 0)
        gmr__buf_printf(out, "... %" JSON_INTEGER_FORMAT " more threads not shown\n", hidden);
}

void gmr__text_frames(struct gmr__buf *out, const json_t *obj)
{
    put_frames(out, obj);
}
