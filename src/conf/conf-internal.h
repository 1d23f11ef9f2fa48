/*
 * What the rest of the library uses of the configuration object.
 */
#ifndef GMR_CONF_CONF_INTERNAL_H
#define GMR_CONF_CONF_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include <gmr/gmr.h>

/*
 * gmr__conf_section() - fill the Configuration section from @conf: every option by group,
 * secrets as "***", URL credentials masked, plus the files loaded.  The shape is described
 * in docs/configuration.md.
 * Return: 0 or -ENOMEM.
 * Context: reporter thread or caller context; locks @conf.
 */
int gmr__conf_section(json_t *section, const gmr_conf *conf);

/*
 * gmr__conf_load_buffer() - gmr_conf_load_string() for @len bytes that need not end with a
 * NUL (a NUL byte inside is a syntax error).  For the fuzz target.
 * Return: as gmr_conf_load_string().
 * Context: caller context; locks @conf.
 */
int gmr__conf_load_buffer(gmr_conf *conf, const char *name, const char *data, size_t len);

/*
 * gmr__conf_parse_signal() - read a signal as written in a configuration file.
 * @text:      "SIGUSR1", "usr1", "SIGRTMIN+3", "RTMAX-1", "12", or "none" (any case)
 * @ret_signo: the signal number; 0 for "none"
 * Return: 0; -EINVAL (not a signal of this system).
 * Context: any thread; not async-signal-safe.
 */
int gmr__conf_parse_signal(const char *text, int *ret_signo);

/*
 * gmr__mask_url_credentials() - copy @value with the password of every URL in it replaced by
 * "***": "amqp://nova:s3cret@mq:5672/" gives "amqp://nova:***@mq:5672/".  The user is kept;
 * multi-host URLs ("u:p@h1,u:p@h2") and several URLs in one value are handled.  Then the value
 * of every KEY=VALUE pair whose KEY looks secret (gmr__mask_name_is_secret(), or "PWD"):
 * "host=db password=s3cret" gives "host=db password=***", "?token=abc" gives "?token=***".
 * When in doubt it masks more, never less.
 * @ret: the new string (free with gmr__free())
 * Return: the number of passwords masked (>= 0); -ENOMEM.
 * Context: any thread; not async-signal-safe.
 */
int gmr__mask_url_credentials(const char *value, char **ret);

/*
 * gmr__mask_name_is_secret() - whether a name (of an option or an environment variable)
 * looks like it holds a secret: it contains PASSWORD, PASSWD, PASSPHRASE, SECRET, TOKEN, KEY,
 * CREDENTIAL, AUTH, PRIVATE or COOKIE, in any case.  Errs on the side of masking.
 * Context: any thread; not async-signal-safe.
 */
bool gmr__mask_name_is_secret(const char *name);

/*
 * gmr__conf_section_flag() - the GMR_SECTION_* flag of a built-in section's name in
 * [oslo_reports] disabled_sections ("threads", "open_files", ...), or 0 for an unknown name.
 * Context: any ordinary code.
 */
unsigned gmr__conf_section_flag(const char *name);

#endif /* GMR_CONF_CONF_INTERNAL_H */
