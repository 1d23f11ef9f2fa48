/*
 * The text view: oslo.reports' layout.  A 72-column banner per section, "key = value" lines,
 * nested groups indented by two spaces.  It reads only the model, so a saved JSON report
 * renders exactly as the live report did.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "render/render.h"
#include "util/macro.h"

#define INDENT_STEP 2

/* Whether byte @c is written as \xNN (@one_line: newlines and tabs too). */
static bool escaped(unsigned char c, bool one_line)
{
    return (c < 0x20 && (one_line || (c != '\n' && c != '\t'))) || c == 0x7F;
}

/*
 * Appends string @s so that it cannot disturb the layout: each embedded newline starts a new
 * line indented to @indent, other control bytes are written as \xNN.  With @indent
 * GMR_TEXT_ONE_LINE every control byte, newlines included, is written as \xNN: for titles and
 * one-line fields, where a newline could forge a line of the report's own.
 */
static void put_text(struct gmr__buf *out, const char *s, size_t n, int indent)
{
    bool one_line = indent == GMR_TEXT_ONE_LINE;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (escaped(c, one_line)) {
            gmr__buf_printf(out, "\\x%02x", c);
        } else if (c == '\n') {
            gmr__buf_putc(out, '\n');
            gmr__buf_repeat(out, ' ', (size_t)indent);
        } else {
            gmr__buf_putc(out, (char)c);
        }
    }
}

void gmr__text_banner(struct gmr__buf *out, char fill, const char *title)
{
    /*
     * Sections: "====" + title centered in 64 columns + "====" between two full rules.
     * Threads: "------" + title centered in 60 columns + "------", no rules.
     */
    const size_t edge = fill == '=' ? 4 : 6;
    const size_t inner = GMR_BANNER_WIDTH - 2 * edge;
    size_t n = strlen(title), len = n;
    for (size_t i = 0; i < n; i++)
        len += escaped((unsigned char)title[i], true) ? 3 : 0;
    if (fill == '=') {
        gmr__buf_repeat(out, '=', GMR_BANNER_WIDTH);
        gmr__buf_putc(out, '\n');
    }
    gmr__buf_repeat(out, fill, edge);
    if (len + 2 <= inner) {
        size_t pad = inner - len;
        gmr__buf_repeat(out, ' ', pad / 2);
        put_text(out, title, n, GMR_TEXT_ONE_LINE);
        gmr__buf_repeat(out, ' ', pad - pad / 2);
    } else {
        gmr__buf_putc(out, ' ');
        put_text(out, title, n, GMR_TEXT_ONE_LINE);
        gmr__buf_putc(out, ' ');
    }
    gmr__buf_repeat(out, fill, edge);
    gmr__buf_putc(out, '\n');
    if (fill == '=') {
        gmr__buf_repeat(out, '=', GMR_BANNER_WIDTH);
        gmr__buf_putc(out, '\n');
    }
}

void gmr__text_scalar(struct gmr__buf *out, const json_t *v, int indent)
{
    /* A member missing from a saved report (callers pass json_object_get()'s result). */
    if (!v)
        return;
    switch (json_typeof(v)) {
    case JSON_STRING:
        put_text(out, json_string_value(v), json_string_length(v), indent);
        break;
    case JSON_INTEGER:
        gmr__buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL: {
        /* The shortest form that reads back as the same double: 0.1, not 0.10000000000000001. */
        char num[32];
        double d = json_real_value(v);
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(num, sizeof(num), "%.*g", prec, d);
            if (strtod(num, NULL) == d)
                break;
        }
        gmr__buf_puts(out, num);
        break;
    }
    case JSON_TRUE:
        gmr__buf_puts(out, "true");
        break;
    case JSON_FALSE:
        gmr__buf_puts(out, "false");
        break;
    case JSON_NULL:
        gmr__buf_puts(out, "None");
        break;
    default:
        break;
    }
}

static bool is_container(const json_t *v)
{
    return json_is_object(v) || json_is_array(v);
}

/* A key is one line: a newline in it could forge a line, or a banner at indentation 0. */
static void put_key(struct gmr__buf *out, const char *key, int indent)
{
    gmr__buf_repeat(out, ' ', (size_t)indent);
    put_text(out, key, strlen(key), GMR_TEXT_ONE_LINE);
}

static void text_list(struct gmr__buf *out, const json_t *list, int indent);

/* Renders one object item of a list: "- " before its first line, YAML-like. */
static void text_list_object(struct gmr__buf *out, const json_t *obj, int indent)
{
    size_t start = out->len;
    gmr__text_kv(out, obj, indent + INDENT_STEP);
    if (gmr__buf_error(out))
        return;
    if (out->len == start) {
        gmr__buf_repeat(out, ' ', (size_t)indent);
        gmr__buf_puts(out, "-\n");
        return;
    }
    /* The first line starts with indent + 2 spaces: turn the last two into "- ". */
    out->data[start + (size_t)indent] = '-';
}

static void text_list(struct gmr__buf *out, const json_t *list, int indent)
{
    size_t i;
    const json_t *item;
    json_array_foreach(list, i, item)
    {
        if (json_is_object(item)) {
            text_list_object(out, item, indent);
        } else if (json_is_array(item)) {
            gmr__buf_repeat(out, ' ', (size_t)indent);
            gmr__buf_puts(out, "-\n");
            text_list(out, item, indent + INDENT_STEP);
        } else {
            gmr__buf_repeat(out, ' ', (size_t)indent);
            gmr__text_scalar(out, item, indent);
            gmr__buf_putc(out, '\n');
        }
    }
}

void gmr__text_kv(struct gmr__buf *out, const json_t *data, int indent)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)data, key, v)
    {
        put_key(out, key, indent);
        if (is_container(v)) {
            gmr__buf_puts(out, ":\n");
            if (json_is_object(v))
                gmr__text_kv(out, v, indent + INDENT_STEP);
            else
                text_list(out, v, indent + INDENT_STEP);
        } else {
            gmr__buf_puts(out, " = ");
            gmr__text_scalar(out, v, indent + INDENT_STEP);
            gmr__buf_putc(out, '\n');
        }
    }
}

/* A section of an unknown type (from a newer writer): show its data generically. */
static void text_generic(struct gmr__buf *out, const json_t *section)
{
    const json_t *data = json_object_get(section, "data");
    if (json_is_object(data))
        gmr__text_kv(out, data, 0);
    else if (json_is_array(data))
        text_list(out, data, 0);
}

struct section_view {
    const char *type;
    void (*render)(struct gmr__buf *out, const json_t *section);
};

static const struct section_view views[] = {
    {"kv", text_generic},
    {"threads", gmr__text_threads},
    {"green_threads", gmr__text_green_threads},
    {"configuration", gmr__text_configuration},
    {"processes", gmr__text_processes},
    {"environment", gmr__text_diag},
    {"limits", gmr__text_diag},
    {"open_files", gmr__text_diag},
    {"shared_objects", gmr__text_diag},
};

static void text_section(struct gmr__buf *out, const json_t *section)
{
    const char *title = json_string_value(json_object_get(section, "title"));
    const char *type = json_string_value(json_object_get(section, "type"));
    const json_t *error = json_object_get(section, "error");

    gmr__text_banner(out, '=', title ? title : "(untitled)");
    void (*render)(struct gmr__buf *, const json_t *) = text_generic;
    for (size_t i = 0; type && i < GMR_ELEMENTSOF(views); i++) {
        if (strcmp(views[i].type, type) == 0)
            render = views[i].render;
    }
    render(out, section);
    if (json_is_string(error)) {
        gmr__buf_puts(out, "unavailable: ");
        gmr__text_scalar(out, error, INDENT_STEP);
        gmr__buf_putc(out, '\n');
    }
}

int gmr__render_text(const json_t *report, struct gmr__buf *out)
{
    const char *version = json_string_value(json_object_get(report, "format_version"));
    const json_t *header = json_object_get(report, "header");
    const json_t *sections = json_object_get(report, "sections");
    if (!json_is_object(report) || !version || !json_is_array(sections))
        return -EINVAL;
    char *end;
    long major = strtol(version, &end, 10);
    if (end == version || major != GMR_FORMAT_MAJOR)
        return -EINVAL;

    gmr__text_banner(out, '=', "Guru Meditation");
    gmr__buf_repeat(out, '|', GMR_BANNER_WIDTH);
    gmr__buf_puts(out, "\n");
    gmr__buf_printf(out, "libgmr report, format %s\n", version);
    if (json_is_object(header))
        gmr__text_kv(out, header, 0);
    gmr__buf_putc(out, '\n');
    gmr__text_deadlocks(out, report);

    size_t i;
    const json_t *section;
    json_array_foreach(sections, i, section)
    {
        if (json_is_object(section))
            text_section(out, section);
    }
    gmr__buf_putc(out, '\n');
    return gmr__buf_error(out);
}
