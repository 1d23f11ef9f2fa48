/*
 * What the rest of the library uses of the configuration object.
 */
#ifndef GMR_CONF_CONF_INTERNAL_H
#define GMR_CONF_CONF_INTERNAL_H

#include <jansson.h>

#include <gmr/gmr.h>

/*
 * gmr__conf_section() - fill the Configuration section from @conf: every option by group,
 * secrets as "***", URL credentials masked, plus the files loaded.
 * Return: 0 or -ENOMEM.
 * Context: reporter thread.
 */
int gmr__conf_section(json_t *section, const gmr_conf *conf);

#endif /* GMR_CONF_CONF_INTERNAL_H */
