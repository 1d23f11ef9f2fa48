/*
 * The JSON view: the model itself, as one indented document.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "render/render.h"
#include "util/alloc.h"

/* jansson's json_dump_callback() sink: appends to a gmr__buf. */
static int dump_to_buf(const char *s, size_t n, void *data)
{
    struct gmr__buf *out = data;
    gmr__buf_append(out, s, n);
    return gmr__buf_error(out) ? -1 : 0;
}

int gmr__render_json(const json_t *report, struct gmr__buf *out)
{
    if (!json_is_object(report))
        return -EINVAL;
    if (json_dump_callback(report, dump_to_buf, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0)
        return gmr__buf_error(out) ? gmr__buf_error(out) : -ENOMEM;
    gmr__buf_putc(out, '\n');
    return gmr__buf_error(out);
}
