/*
 * Placeholder configuration object.
 */
#include "config.h"

#include <stdlib.h>

#include <gmr/gmr.h>

#include "conf/conf-internal.h"
#include "util/alloc.h"

struct gmr_conf {
    int unused;
};

gmr_conf *gmr_conf_new(void)
{
    return gmr__calloc(1, sizeof(struct gmr_conf));
}

void gmr_conf_free(gmr_conf *conf)
{
    gmr__free(conf);
}

int gmr__conf_section(json_t *section, const gmr_conf *conf)
{
    (void)conf;
    (void)section;
    return 0;
}
