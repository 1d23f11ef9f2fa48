/*
 * Text view of the Configuration section, in oslo.reports' layout: a blank line and
 * "group:" before each group, then "  name = value" per option.  A list puts each item on
 * its own line, indented by four spaces; options set in a file but never registered end with
 * "  (unregistered)".  Then the files that were loaded.  Secrets were masked when the model
 * was built; this view only reads the model.
 */
#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render/render.h"

#define OPTION_INDENT 2
#define ITEM_INDENT   4

/* The shortest "%g" form that reads back as @d, with a '.' whatever the locale, and ".0" on
 * integral values so that a float never looks like an integer ("1.0", "0.001", "1e-07"). */
static void put_real(struct gmr__buf *out, double d)
{
    char buf[64];
    locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    for (int prec = 15; prec <= 17; prec++) {
        (void)snprintf(buf, sizeof(buf), "%.*g", prec, d);
        for (char *p = buf; *p; p++) {
            if (*p == ',')
                *p = '.';
        }
        if (!c || strtod_l(buf, NULL, c) == d)
            break;
    }
    if (c)
        freelocale(c);
    gmr__buf_puts(out, buf);
    if (!strpbrk(buf, ".eEnN"))
        gmr__buf_puts(out, ".0");
}

static void text_option(struct gmr__buf *out, const json_t *opt)
{
    const json_t *name = json_object_get(opt, "name");
    const json_t *value = json_object_get(opt, "value");
    if (!json_is_string(name))
        return;
    gmr__buf_repeat(out, ' ', OPTION_INDENT);
    gmr__text_scalar(out, name, ITEM_INDENT);
    gmr__buf_puts(out, " =");
    if (json_is_array(value)) {
        if (json_array_size(value) == 0)
            gmr__buf_puts(out, " []");
    } else if (json_is_real(value)) {
        gmr__buf_putc(out, ' ');
        put_real(out, json_real_value(value));
    } else if (json_is_string(value) && json_string_length(value) == 0) {
        /* "name =" alone: no trailing blank. */
    } else if (value && !json_is_object(value)) {
        gmr__buf_putc(out, ' ');
        gmr__text_scalar(out, value, ITEM_INDENT);
    } else {
        gmr__buf_puts(out, " None");
    }
    if (json_is_true(json_object_get(opt, "unregistered")))
        gmr__buf_puts(out, "  (unregistered)");
    gmr__buf_putc(out, '\n');

    size_t i;
    const json_t *item;
    json_array_foreach(value, i, item)
    {
        gmr__buf_repeat(out, ' ', ITEM_INDENT);
        gmr__text_scalar(out, item, ITEM_INDENT);
        gmr__buf_putc(out, '\n');
    }
}

void gmr__text_configuration(struct gmr__buf *out, const json_t *section)
{
    size_t i, j;
    const json_t *group, *opt, *file;
    json_array_foreach(json_object_get(section, "groups"), i, group)
    {
        const json_t *name = json_object_get(group, "name");
        if (!json_is_string(name))
            continue;
        gmr__buf_putc(out, '\n');
        gmr__text_scalar(out, name, OPTION_INDENT);
        gmr__buf_puts(out, ":\n");
        json_array_foreach(json_object_get(group, "options"), j, opt)
        {
            text_option(out, opt);
        }
    }

    const json_t *files = json_object_get(section, "files");
    if (!json_is_array(files))
        return;
    gmr__buf_puts(out, "\nconfig files:\n");
    if (json_array_size(files) == 0)
        gmr__buf_puts(out, "  (none)\n");
    json_array_foreach(files, i, file)
    {
        gmr__buf_repeat(out, ' ', OPTION_INDENT);
        gmr__text_scalar(out, file, ITEM_INDENT);
        gmr__buf_putc(out, '\n');
    }
}
