/*
 * libgmr configuration object.  Include <gmr/gmr.h> instead of this file.
 */
#ifndef GMR_CONF_H
#define GMR_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gmr_conf gmr_conf;

/*
 * gmr_conf_new() - a new, empty configuration object.
 * Return: the object (free with gmr_conf_free()), or NULL when out of memory.
 * Context: caller context.  Since: 0.1.
 */
GMR_EXPORT gmr_conf *gmr_conf_new(void);

/*
 * gmr_conf_free() - free @conf; NULL is accepted.
 * Context: caller context; not while gmr_setup_autorun() uses it.  Since: 0.1.
 */
GMR_EXPORT void gmr_conf_free(gmr_conf *conf);

#ifdef __cplusplus
}
#endif

#endif /* GMR_CONF_H */
