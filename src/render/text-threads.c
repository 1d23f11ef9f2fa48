/*
 * Text view of the Threads section.
 */
#include "config.h"

#include <stdio.h>

#include "render/render.h"

void gmr__text_threads(struct gmr__buf *out, const json_t *section)
{
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(section, "threads"), i, t)
    {
        char title[64];
        snprintf(title, sizeof(title), "Thread #%lld",
                 (long long)json_integer_value(json_object_get(t, "tid")));
        gmr__text_banner(out, '-', title);
        gmr__buf_putc(out, '\n');
    }
}
