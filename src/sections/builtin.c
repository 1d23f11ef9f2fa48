/*
 * Built-in sections: the report header and Package.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gmr/gmr.h>

#include "render/render.h"
#include "sections/sections.h"
#include "util/utc.h"

const char *gmr__program_name(void)
{
    /* glibc and musl both set this from argv[0] before main(). */
    extern char *program_invocation_short_name;
    const char *p = program_invocation_short_name;
    return p && *p ? p : "unknown-program";
}

int gmr__section_header(json_t *report, const struct gmr__header_info *info)
{
    char when[32];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    (void)gmr__utc_tm(now.tv_sec, &tm); /* not gmtime_r(): see util/utc.h */
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);

    char host[256];
    if (gethostname(host, sizeof(host)) < 0)
        strcpy(host, "unknown");
    host[sizeof(host) - 1] = '\0';

    json_t *h = json_object();
    if (!h)
        return -ENOMEM;
    int r = 0;
    r |= gmr__json_set_str(h, "time", when);
    r |= json_object_set_new(h, "pid", json_integer(getpid()));
    r |= gmr__json_set_str(h, "service_name", info->service_name);
    r |= gmr__json_set_str(h, "hostname", host);
    r |= gmr__json_set_str(h, "trigger", info->trigger);
    r |= gmr__json_set_str(h, "libgmr_version", GMR_VERSION_STRING);
    if (r != 0) {
        json_decref(h);
        return -ENOMEM;
    }
    return json_object_set_new(report, "header", h) == 0 ? 0 : -ENOMEM;
}

int gmr__section_package(json_t *report, const char *vendor, const char *product,
                         const char *version)
{
    json_t *sec = gmr__model_section(report, "Package", "kv");
    json_t *data = json_object();
    if (!sec || !data || json_object_set_new(sec, "data", data) < 0)
        return -ENOMEM;
    int r = 0;
    /* oslo.reports shows these three keys in this order. */
    r |= gmr__json_set_str(data, "product", product ? product : "unknown");
    r |= gmr__json_set_str(data, "vendor", vendor ? vendor : "unknown");
    r |= gmr__json_set_str(data, "version", version ? version : "unknown");
    return r ? -ENOMEM : 0;
}
