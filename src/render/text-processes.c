/*
 * Text view of the Processes section, in oslo.reports' layout:
 *   Process PID (under PPID) [ run by: USER (UID), state: STATE ]
 * followed by the command line, children indented by four spaces.
 */
#include "config.h"

#include "render/render.h"

static void text_process(struct gmr__buf *out, const json_t *p, int indent)
{
    gmr__buf_repeat(out, ' ', (size_t)indent);
    gmr__buf_printf(out, "Process %" JSON_INTEGER_FORMAT " (under %" JSON_INTEGER_FORMAT
                         ") [ run by: ",
                    json_integer_value(json_object_get(p, "pid")),
                    json_integer_value(json_object_get(p, "ppid")));
    gmr__text_scalar(out, json_object_get(p, "user"), indent);
    gmr__buf_printf(out, " (%" JSON_INTEGER_FORMAT "), state: ",
                    json_integer_value(json_object_get(p, "uid")));
    gmr__text_scalar(out, json_object_get(p, "state"), indent);
    gmr__buf_puts(out, " ]\n");
    gmr__buf_repeat(out, ' ', (size_t)indent + 4);
    gmr__buf_puts(out, "command: ");
    gmr__text_scalar(out, json_object_get(p, "command"), GMR_TEXT_ONE_LINE);
    gmr__buf_putc(out, '\n');

    size_t i;
    const json_t *child;
    json_array_foreach(json_object_get(p, "children"), i, child)
    {
        text_process(out, child, indent + 4);
    }
    if (json_is_true(json_object_get(p, "children_not_shown"))) {
        gmr__buf_repeat(out, ' ', (size_t)indent + 4);
        gmr__buf_puts(out, "(deeper children not shown)\n");
    }
}

void gmr__text_processes(struct gmr__buf *out, const json_t *section)
{
    const json_t *p = json_object_get(section, "process");
    if (json_is_object(p))
        text_process(out, p, 0);
    const json_t *note = json_object_get(section, "note");
    if (json_is_string(note)) {
        gmr__buf_puts(out, "note: ");
        gmr__text_scalar(out, note, 0);
        gmr__buf_putc(out, '\n');
    }
}
