/*
 * gmr_render_report(): the views of a saved JSON report, for `gmr render` and other readers.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gmr/gmr.h>

#include "output/sink.h"
#include "render/render.h"
#include "util/buf.h"
#include "util/macro.h"

int gmr_render_report(const char *json, size_t len, enum gmr_format format, int fd)
{
    GMR_RETURN_IF(!json || fd < 0, -EINVAL);
    GMR_RETURN_IF(format != GMR_FORMAT_TEXT && format != GMR_FORMAT_JSON, -EINVAL);

    json_error_t jerr;
    json_t *model = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!model)
        return json_error_code(&jerr) == json_error_out_of_memory ? -ENOMEM : -EBADMSG;

    int r = -EBADMSG;
    const char *version = json_string_value(json_object_get(model, "format_version"));
    if (!json_is_object(model) || !version || !json_is_array(json_object_get(model, "sections")))
        goto out;
    char *end;
    long major = strtol(version, &end, 10);
    if (end == version || (*end != '.' && *end != '\0')) {
        r = -EBADMSG;
        goto out;
    }
    if (major != GMR_FORMAT_MAJOR) {
        r = -EPROTONOSUPPORT;
        goto out;
    }

    struct gmr__buf out = GMR_BUF_INIT;
    r = format == GMR_FORMAT_TEXT ? gmr__render_text(model, &out) : gmr__render_json(model, &out);
    if (r == -EINVAL)
        r = -EBADMSG;
    if (r == 0)
        r = gmr__write_all(fd, out.data, out.len);
    gmr__buf_done(&out);
out:
    json_decref(model);
    return r;
}
