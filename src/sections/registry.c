/*
 * Running the application's sections.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "render/render.h"
#include "sections/sections.h"

int gmr__sections_run(json_t *report, const struct gmr__section *sections, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *sec = gmr__model_section(report, sections[i].title, "kv");
        json_t *data = json_object();
        if (!sec || !data || json_object_set_new(sec, "data", data) < 0)
            return -ENOMEM;

        struct gmr_writer w;
        gmr__writer_init(&w, data);
        int r = sections[i].fn(&w, sections[i].userdata);
        if (r < 0) {
            char msg[160];
            snprintf(msg, sizeof(msg), "section generator failed: %s (%d)", strerror(-r), r);
            if (gmr__model_section_error(sec, msg) < 0)
                return -ENOMEM;
        }
    }
    return 0;
}
