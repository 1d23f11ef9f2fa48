/*
 * Text view of the Green Threads section (model: docs/green-threads.md).  One block per
 * coroutine under a "------  Green Thread #ID (name)  ------" banner, as the Threads section
 * heads threads: its state, its stack's place and use, then its frames in the Threads
 * section's frame lines.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "render/render.h"

static const char *str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static json_int_t num(const json_t *obj, const char *key)
{
    return json_integer_value(json_object_get(obj, key));
}

/* "key = value\n" for a string member, when present. */
static void put_line(struct gmr__buf *out, const json_t *obj, const char *key, const char *label)
{
    if (!str(obj, key))
        return;
    gmr__buf_puts(out, label);
    gmr__text_scalar(out, json_object_get(obj, key), 2);
    gmr__buf_putc(out, '\n');
}

/* "12 KiB" for sizes that are whole KiB, else bytes. */
static void put_size(struct gmr__buf *out, json_int_t bytes)
{
    if (bytes >= 1024 && bytes % 1024 == 0)
        gmr__buf_printf(out, "%" JSON_INTEGER_FORMAT " KiB", bytes / 1024);
    else
        gmr__buf_printf(out, "%" JSON_INTEGER_FORMAT " bytes", bytes);
}

static void put_coro(struct gmr__buf *out, const json_t *co)
{
    char title[128];
    const char *name = str(co, "name");
    if (name)
        snprintf(title, sizeof(title), "Green Thread #%" JSON_INTEGER_FORMAT " (%s)", num(co, "id"),
                 name);
    else
        snprintf(title, sizeof(title), "Green Thread #%" JSON_INTEGER_FORMAT, num(co, "id"));
    gmr__text_banner(out, '-', title);

    gmr__buf_puts(out, "state = ");
    if (str(co, "state"))
        gmr__text_scalar(out, json_object_get(co, "state"), 0);
    if (str(co, "context")) {
        gmr__buf_puts(out, " (");
        gmr__text_scalar(out, json_object_get(co, "context"), 0);
        gmr__buf_putc(out, ')');
    }
    if (json_object_get(co, "tid")) {
        gmr__buf_printf(out, " on Thread #%" JSON_INTEGER_FORMAT, num(co, "tid"));
        if (str(co, "thread_name")) {
            gmr__buf_puts(out, " (");
            gmr__text_scalar(out, json_object_get(co, "thread_name"), 0);
            gmr__buf_putc(out, ')');
        }
    }
    if (json_object_get(co, "switches"))
        gmr__buf_printf(out, ", switches = %" JSON_INTEGER_FORMAT, num(co, "switches"));
    gmr__buf_putc(out, '\n');

    if (str(co, "stack_base")) {
        gmr__buf_puts(out, "stack = ");
        gmr__text_scalar(out, json_object_get(co, "stack_base"), 0);
        gmr__buf_puts(out, ", ");
        put_size(out, num(co, "stack_size"));
        if (json_object_get(co, "stack_used")) {
            gmr__buf_puts(out, ", ");
            put_size(out, num(co, "stack_used"));
            gmr__buf_puts(out, " in use");
        }
        gmr__buf_putc(out, '\n');
    }
    if (json_object_get(co, "tid"))
        gmr__buf_puts(out, "frames: in that thread's stack (Threads section)\n");
    put_line(out, co, "note", "note = ");
    put_line(out, co, "unavailable", "unavailable: ");
    gmr__text_frames(out, co);
    gmr__buf_putc(out, '\n');
}

void gmr__text_green_threads(struct gmr__buf *out, const json_t *section)
{
    const json_t *stats = json_object_get(section, "stats");
    if (json_is_object(stats)) {
        gmr__buf_printf(out,
                        "coroutines = %" JSON_INTEGER_FORMAT " (%" JSON_INTEGER_FORMAT
                        " running, %" JSON_INTEGER_FORMAT " suspended, %" JSON_INTEGER_FORMAT
                        " new)\n",
                        num(stats, "registered"), num(stats, "running"), num(stats, "suspended"),
                        num(stats, "new"));
    }
    put_line(out, section, "note", "note = ");
    gmr__buf_putc(out, '\n');
    size_t i;
    const json_t *co;
    json_array_foreach(json_object_get(section, "coroutines"), i, co)
    {
        if (json_is_object(co))
            put_coro(out, co);
    }
    json_int_t hidden = num(section, "coroutines_not_shown");
    if (hidden > 0)
        gmr__buf_printf(out, "... %" JSON_INTEGER_FORMAT " more coroutines not shown\n", hidden);
}
