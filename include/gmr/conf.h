/*
 * libgmr configuration object.  Include <gmr/gmr.h> instead of this file.
 *
 * A gmr_conf holds typed options (string, integer, float, boolean, list of strings), each
 * known by a group and a name.  The application registers its options, loads INI files and
 * the command line, and reads the values back with typed getters.  The Configuration section
 * of every report shows all options of the object given to gmr_setup_autorun(), by group,
 * with secret options as "***" and passwords inside URLs masked.
 *
 * Groups: a NULL or empty group means "DEFAULT", the [DEFAULT] section of INI files.  Group
 * and option names are 1..48 bytes of letters, digits, '_' and '-'.
 *
 * Where a value comes from, from strongest to weakest:
 *   1. gmr_conf_set_override();
 *   2. the command line (gmr_conf_parse_args() overrides such as --debug=true), whatever
 *      the order in which files and overrides were given;
 *   3. configuration files and strings (gmr_conf_load_file(), gmr_conf_load_string(), and
 *      --config-file / --config-dir), the file loaded last winning;
 *   4. the default given at registration.
 *
 * INI files follow oslo.config's syntax, read with inih:
 *
 *     # a comment; lines starting with ';' are comments too
 *     [DEFAULT]
 *     debug = true
 *     hosts = alpha,
 *         beta            <- an indented line continues the value above (joined with a newline)
 *
 *     [database]
 *     connection = "mysql://nova:secret@db/nova"   <- one pair of surrounding quotes is removed
 *
 *  - "name: value" is accepted as well as "name = value"; spaces around names and values are
 *    removed.
 *  - A blank line ends a multi-line value: an indented line after it is an error.  A line
 *    whose first non-blank character is '#' or ';' is a comment, inside a multi-line value
 *    too.
 *  - inih removes a comment that starts with " ;" after a value (its default, which the
 *    application may change through inih's own settings).
 *  - Options must be inside a [section].  When a file sets an option twice, the later line
 *    wins.
 *  - Values are converted and checked against their option's type, bounds and choices when
 *    they are loaded.  Booleans accept true/false, yes/no, on/off and 1/0 (any case).
 *    Integers are decimal.  A list is split at commas and line ends; items are trimmed and
 *    empty items dropped.
 *  - Options that a file sets but that were never registered are kept (the report shows them,
 *    marked as unregistered); registering such an option later converts and checks the value
 *    found in the file.
 *
 * Limits: a file or string of at most 1 MiB; lines of at most 199 bytes (inih's line buffer
 * as built by Debian; a longer value can be split over continuation lines); values of at most
 * 64 KiB after joining continuation lines; at most 4096 options per object; at most 256 files
 * per load.
 *
 * A load applies whole or not at all: when a file is bad, nothing from it (nor from the other
 * files and arguments of the same call) is applied, and gmr_conf_last_error() names the file,
 * the line and the option.
 *
 * Thread safety: every function locks the object, so a report may be written while the
 * application reads or loads options.  Pointers returned by getters are borrowed and stay
 * valid until the next successful load, override, registration or gmr_conf_free() of the
 * object; do not use them across such a call made by another thread.
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

/* Registration flags. */
/* The value is secret: reports show "***" instead, and error messages never quote it. */
#define GMR_OPT_SECRET (1u << 0)

/*
 * gmr_conf_new() - a new, empty configuration object.
 *
 * Return: the object (free it with gmr_conf_free()), or NULL when out of memory.
 * Context: caller context.  Since: 0.1.
 */
GMR_EXPORT gmr_conf *gmr_conf_new(void);

/*
 * gmr_conf_free() - free @conf and every string it handed out; NULL is accepted.
 * @conf: the object; not usable afterwards
 *
 * Context: caller context; not while gmr_setup_autorun() uses it.  Since: 0.1.
 */
GMR_EXPORT void gmr_conf_free(gmr_conf *conf);

/*
 * gmr_conf_last_error() - the one-line message of the most recent failure.
 * @conf: the object
 *
 * The message has the form "FILE:LINE: option 'NAME': what is wrong" ("NAME" is the option's
 * name in the DEFAULT group and "GROUP.NAME" elsewhere), "command line: option 'NAME': ..."
 * for a bad argument, "FILE: ..." for a file that cannot be read, "option 'NAME': ..." for a
 * refused registration.  Failures that carry no more detail than their errno (-ENOMEM, a NULL
 * argument) leave it unchanged.
 *
 * Return: the message, borrowed, valid until the next failing call on @conf; "" when nothing
 *         failed yet or @conf is NULL.
 * Context: caller context.  Since: 0.1.
 */
GMR_EXPORT const char *gmr_conf_last_error(const gmr_conf *conf);

/* ------------------------------------------------------------------------------------------
 * Registration.  Every register function copies its strings; it fails with -EEXIST when the
 * group/name pair is already registered, and with -EINVAL (gmr_conf_last_error() says why)
 * when a value loaded before the registration does not fit the new option.
 * ------------------------------------------------------------------------------------------ */

/*
 * gmr_conf_register_str() - register a string option.
 * @conf:  the object
 * @group: group name; NULL or "" for DEFAULT
 * @name:  option name
 * @def:   default value; copied; NULL for none (gmr_conf_get_str() then gives NULL)
 * @help:  one-line description; copied; may be NULL
 * @flags: 0 or GMR_OPT_SECRET
 *
 * Return: 0; -EINVAL (bad name or flags, or a loaded value that does not fit); -EEXIST;
 *         -E2BIG (too many options); -ENOMEM.
 * Context: caller context, MT-safe.  Since: 0.1.
 */
GMR_EXPORT int gmr_conf_register_str(gmr_conf *conf, const char *group, const char *name,
                                     const char *def, const char *help, unsigned flags);

/*
 * gmr_conf_register_choice() - register a string option restricted to a set of values.
 * @conf:    the object
 * @group:   group name; NULL or "" for DEFAULT
 * @name:    option name
 * @def:     default value, one of @choices, or NULL for none; copied
 * @choices: the allowed values, a NULL-terminated array of at least one string; copied
 * @help:    one-line description; copied; may be NULL
 * @flags:   0 or GMR_OPT_SECRET
 *
 * The option is read with gmr_conf_get_str().  Values must equal one of @choices exactly.
 *
 * Return: 0; -EINVAL (bad name, flags or choices, @def not a choice, or a loaded value that
 *         is not a choice); -EEXIST; -E2BIG; -ENOMEM.
 * Context: caller context, MT-safe.  Since: 0.1.
 */
GMR_EXPORT int gmr_conf_register_choice(gmr_conf *conf, const char *group, const char *name,
                                        const char *def, const char *const *choices,
                                        const char *help, unsigned flags);

/*
 * gmr_conf_register_int() - register an integer option.
 * @conf:  the object
 * @group: group name; NULL or "" for DEFAULT
 * @name:  option name
 * @def:   default value, within [@min, @max]
 * @min:   smallest allowed value (INT64_MIN for no bound)
 * @max:   largest allowed value (INT64_MAX for no bound)
 * @help:  one-line description; copied; may be NULL
 * @flags: 0 or GMR_OPT_SECRET
 *
 * Return: 0; -EINVAL (bad name or flags, @min > @max, @def out of bounds, or a loaded value
 *         that does not fit); -EEXIST; -E2BIG; -ENOMEM.
 * Context: caller context, MT-safe.  Since: 0.1.
 */
GMR_EXPORT int gmr_conf_register_int(gmr_conf *conf, const char *group, const char *name,
                                     int64_t def, int64_t min, int64_t max, const char *help,
                                     unsigned flags);

/*
 * gmr_conf_register_float() - register a floating-point option.
 * @conf:  the object
 * @group: group name; NULL or "" for DEFAULT
 * @name:  option name
 * @def:   default value, finite, within [@min, @max]
 * @min:   smallest allowed value (-HUGE_VAL for no bound)
 * @max:   largest allowed value (HUGE_VAL for no bound)
 * @help:  one-line description; copied; may be NULL
 * @flags: 0 or GMR_OPT_SECRET
 *
 * Values are read in the C locale ("0.5", "1e-3"); infinities and NaN are refused.
 *
 * Return: 0; -EINVAL (bad name or flags, NaN bound, @min > @max, @def out of bounds, or a
 *         loaded value that does not fit); -EEXIST; -E2BIG; -ENOMEM.
 * Context: caller context, MT-safe.  Since: 0.1.
 */
GMR_EXPORT int gmr_conf_register_float(gmr_conf *conf, const char *group, const char *name,
                                       double def, double min, double max, const char *help,
                                       unsigned flags);

/*
 * gmr_conf_register_bool() - register a boolean option.
 * @conf:  the object
 * @group: group name; NULL or "" for DEFAULT
 * @name:  option name
 * @def:   default value
 * @help:  one-line description; copied; may be NULL
 * @flags: 0 or GMR_OPT_SECRET
 *
 * Return: 0; -EINVAL (bad name or flags, or a loaded value that is not a boolean); -EEXIST;
 *         -E2BIG; -ENOMEM.
 * Context: caller context, MT-safe.  Since: 0.1.
 */
GMR_EXPORT int gmr_conf_register_bool(gmr_conf *conf, const char *group, const char *name, bool def,
                                      const char *help, unsigned flags);

/*
 * gmr_conf_register_list() - register a list-of-strings option.
 * @conf:  the object
 * @group: group name; NULL or "" for DEFAULT
 * @name:  option name
 * @def:   default items, a NULL-terminated array; copied; NULL for the empty list
 * @help:  one-line description; copied; may be NULL
 * @flags: 0 or GMR_OPT_SECRET
 *
 * In files and on the command line the items are separated by commas (and, in files, by the
 * line ends of a multi-line value): "a, b,c" gives "a", "b", "c".
 *
 * Return: 0; -EINVAL (bad name or flags, or a loaded value that is too long); -EEXIST;
 *         -E2BIG; -ENOMEM.
 * Context: caller context, MT-safe.  Since: 0.1.
 */
GMR_EXPORT int gmr_conf_register_list(gmr_conf *conf, const char *group, const char *name,
                                      const char *const *def, const char *help, unsigned flags);

/*
 * gmr_opts_set_defaults() - register libgmr's options in the [oslo_reports] group.
 * @conf: the application's configuration object
 *
 * The options, as in oslo.reports, plus libgmr's own:
 *   log_dir (string, no default): write reports to files in this directory instead of stderr;
 *   file_event_handler (string, no default): a file whose modification triggers a report;
 *       setting it disables the signal trigger unless "signal" is set too;
 *   file_event_handler_interval (integer, 1, 1..86400): seconds between checks of that file
 *       where it cannot be watched with inotify;
 *   signal (string, "SIGUSR2"): the trigger signal: a name with or without "SIG"
 *       (USR1, SIGUSR1, SIGRTMIN+2), a number, or "none"; checked when loaded;
 *   format (choice text|json, "text"): the format of triggered reports;
 *   capture_signal (string, "auto"): "auto" or the real-time signal used to snapshot running
 *       threads; checked when loaded;
 *   capture_timeout (float, 1.0, 0.001..60): seconds to wait for running threads;
 *   group_threads (boolean, false): show threads with identical stacks once;
 *   control_socket (boolean, false): serve reports through a Unix socket (see
 *       gmr_set_control_socket());
 *   disabled_sections (list, empty): built-in sections left out of reports: threads,
 *       green_threads, processes, configuration, environment, resources, limits, open_files,
 *       shared_objects, system; checked when loaded.
 * gmr_setup_autorun() applies the options that a file or the command line sets.
 *
 * Either every option is registered or none is.
 *
 * Return: 0; -EINVAL (NULL @conf, or a value loaded earlier is invalid: see
 *         gmr_conf_last_error()); -EEXIST (one of them is already registered); -E2BIG;
 *         -ENOMEM.
 * Context: caller context, MT-safe.  Since: 0.1.
 */
GMR_EXPORT int gmr_opts_set_defaults(gmr_conf *conf);

/* ------------------------------------------------------------------------------------------
 * Loading.
 * ------------------------------------------------------------------------------------------ */

/*
 * gmr_conf_load_file() - load one INI file.
 * @conf: the object
 * @path: the file; copied (the Configuration section lists it)
 *
 * Values from the file replace those of files loaded earlier; they never replace command-line
 * values or overrides.  On failure nothing changes (see gmr_conf_last_error()).
 *
 * Return: 0; -EINVAL (NULL argument, syntax error, bad value, not a regular file, too many
 *         options); -EFBIG (larger than 1 MiB); -ENOMEM; the -errno of open(2) or read(2)
 *         (-ENOENT, -EACCES, ...).
 * Context: caller context, MT-safe.  Since: 0.1.
 */
GMR_EXPORT int gmr_conf_load_file(gmr_conf *conf, const char *path);

/*
 * gmr_conf_load_string() - load INI text from memory, as gmr_conf_load_file() loads a file.
 * @conf: the object
 * @name: names the text in error messages and in the report's file list; copied; NULL gives
 *        "<string>"
 * @text: NUL-terminated INI text; borrowed for the duration of the call
 *
 * Return: 0; -EINVAL (NULL argument, syntax error, bad value, too many options); -EFBIG
 *         (longer than 1 MiB); -ENOMEM.
 * Context: caller context, MT-safe.  Since: 0.1.
 */
GMR_EXPORT int gmr_conf_load_string(gmr_conf *conf, const char *name, const char *text);

/*
 * gmr_conf_parse_args() - load the configuration named by the command line, and its overrides.
 * @conf: the object, with its options registered
 * @argc: number of entries in @argv
 * @argv: the program's arguments; argv[0] is the program name and is skipped; not modified
 *
 * Arguments, in any order:
 *   --config-file PATH, --config-file=PATH   load PATH (repeatable; later files win);
 *   --config-dir DIR, --config-dir=DIR       load DIR's "*.conf" files in byte order of their
 *                                            names, after the files given before it;
 *   --NAME=VALUE, --NAME VALUE               set option NAME of the DEFAULT group;
 *   --GROUP.NAME=VALUE, --GROUP-NAME=VALUE   set option NAME of GROUP;
 *   --NAME, --noNAME                         set a boolean option to true or false.
 * In names, '-' and '_' are interchangeable (--oslo-reports-log-dir, --oslo_reports.log-dir
 * and --oslo_reports.log_dir all set [oslo_reports] log_dir; a plain --NAME only ever means
 * the DEFAULT group).  A name that matches several options (--a-b-c for option "c" of group
 * "a_b" and option "b_c" of group "a", or an option of DEFAULT named like GROUP_NAME) is
 * refused; write it as GROUP.NAME.  Overrides win over every file, whatever
 * the order of the arguments.  Arguments that do not start with "--" are left to the
 * application, and so is everything after "--".  An unknown "--" option is an error.
 *
 * Every file and override is checked before any is applied: on failure nothing changes.
 * Calling it again adds to what earlier calls loaded.
 *
 * Return: 0; -EINVAL (a bad argument, an unknown option, an unreadable or bad file or
 *         directory: gmr_conf_last_error() says which); -ENOMEM.
 * Context: caller context, MT-safe.  Since: 0.1.
 */
GMR_EXPORT int gmr_conf_parse_args(gmr_conf *conf, int argc, char **argv);

/*
 * gmr_conf_set_override() - set a registered option from the program, above every other source.
 * @conf:  the object
 * @group: group name; NULL or "" for DEFAULT
 * @name:  option name
 * @value: the value as it would be written in a file (a list as "a,b,c"); copied; NULL
 *         removes the override
 *
 * Return: 0; -EINVAL (bad argument, or @value does not fit the option); -ENOENT (not
 *         registered); -ENOMEM.
 * Context: caller context, MT-safe.  Since: 0.1.
 */
GMR_EXPORT int gmr_conf_set_override(gmr_conf *conf, const char *group, const char *name,
                                     const char *value);

/* ------------------------------------------------------------------------------------------
 * Getters.  Each gives the option's current value: the strongest source that sets it, else
 * its default.  Return: 0; -EINVAL (NULL argument, or the option has another type); -ENOENT
 * (no such registered option).  *ret is set only on success.
 * ------------------------------------------------------------------------------------------ */

/*
 * gmr_conf_get_str() - read a string option (registered with _str or _choice).
 * @conf:  the object
 * @group: group name; NULL or "" for DEFAULT
 * @name:  option name
 * @ret:   the value, borrowed (see "Thread safety" above); NULL when unset without default
 *
 * Return: 0; -EINVAL; -ENOENT.
 * Context: caller context, MT-safe.  Since: 0.1.
 */
GMR_EXPORT int gmr_conf_get_str(const gmr_conf *conf, const char *group, const char *name,
                                const char **ret);

/*
 * gmr_conf_get_int() - read an integer option.
 * @conf:  the object
 * @group: group name; NULL or "" for DEFAULT
 * @name:  option name
 * @ret:   the value
 *
 * Return: 0; -EINVAL; -ENOENT.
 * Context: caller context, MT-safe.  Since: 0.1.
 */
GMR_EXPORT int gmr_conf_get_int(const gmr_conf *conf, const char *group, const char *name,
                                int64_t *ret);

/*
 * gmr_conf_get_float() - read a floating-point option.
 * @conf:  the object
 * @group: group name; NULL or "" for DEFAULT
 * @name:  option name
 * @ret:   the value
 *
 * Return: 0; -EINVAL; -ENOENT.
 * Context: caller context, MT-safe.  Since: 0.1.
 */
GMR_EXPORT int gmr_conf_get_float(const gmr_conf *conf, const char *group, const char *name,
                                  double *ret);

/*
 * gmr_conf_get_bool() - read a boolean option.
 * @conf:  the object
 * @group: group name; NULL or "" for DEFAULT
 * @name:  option name
 * @ret:   the value
 *
 * Return: 0; -EINVAL; -ENOENT.
 * Context: caller context, MT-safe.  Since: 0.1.
 */
GMR_EXPORT int gmr_conf_get_bool(const gmr_conf *conf, const char *group, const char *name,
                                 bool *ret);

/*
 * gmr_conf_get_list() - read a list option.
 * @conf:      the object
 * @group:     group name; NULL or "" for DEFAULT
 * @name:      option name
 * @ret_items: the items, a NULL-terminated array, borrowed (see "Thread safety" above)
 * @ret_n:     the number of items; may be NULL
 *
 * Return: 0; -EINVAL; -ENOENT.
 * Context: caller context, MT-safe.  Since: 0.1.
 */
GMR_EXPORT int gmr_conf_get_list(const gmr_conf *conf, const char *group, const char *name,
                                 const char *const **ret_items, size_t *ret_n);

/*
 * gmr_conf_is_set() - whether a file, the command line or an override gave the option a value.
 * @conf:  the object
 * @group: group name; NULL or "" for DEFAULT
 * @name:  option name
 *
 * Return: true when a source other than the default sets the option (registered or not);
 *         false otherwise, and for NULL arguments.
 * Context: caller context, MT-safe.  Since: 0.1.
 */
GMR_EXPORT bool gmr_conf_is_set(const gmr_conf *conf, const char *group, const char *name);

#ifdef __cplusplus
}
#endif

#endif /* GMR_CONF_H */
