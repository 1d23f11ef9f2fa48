/*
 * Text view of the Configuration section.
 */
#include "config.h"

#include "render/render.h"

void gmr__text_configuration(struct gmr__buf *out, const json_t *section)
{
    (void)out;
    (void)section;
}
