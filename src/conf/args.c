/*
 * The command line: --config-file, --config-dir and overrides of registered options, loaded
 * as one transaction.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gmr/gmr.h>

#include "conf/conf-private.h"
#include "util/alloc.h"
#include "util/macro.h"

#define SOURCE_CLI "command line"

/* Compares @a (@alen bytes) with the string @b, taking '-' and '_' as the same character. */
static bool same_name(const char *a, size_t alen, const char *b)
{
    size_t i;
    for (i = 0; i < alen && b[i]; i++) {
        char x = a[i] == '-' ? '_' : a[i];
        char y = b[i] == '-' ? '_' : b[i];
        if (x != y)
            return false;
    }
    return i == alen && !b[i];
}

/* Whether the command-line name @key denotes @opt: NAME (DEFAULT), GROUP.NAME or GROUP-NAME. */
static bool key_matches(const struct gmr__conf_opt *opt, const char *key)
{
    size_t klen = strlen(key), glen = strlen(opt->group);
    if (strcmp(opt->group, GMR_CONF_DEFAULT_GROUP) == 0 && same_name(key, klen, opt->name))
        return true;
    return klen > glen + 1 && same_name(key, glen, opt->group) &&
           (key[glen] == '.' || key[glen] == '-' || key[glen] == '_') &&
           same_name(key + glen + 1, klen - glen - 1, opt->name);
}

/* Finds the registered option @key names; NULL when none.  *ret_other: a second match. */
static struct gmr__conf_opt *find_key(const gmr_conf *conf, const char *key,
                                      struct gmr__conf_opt **ret_other)
{
    struct gmr__conf_opt *found = NULL;
    *ret_other = NULL;
    for (size_t i = 0; i < conf->n_opts; i++) {
        struct gmr__conf_opt *opt = conf->opts[i];
        if (opt->type == GMR__OPT_UNREGISTERED || !key_matches(opt, key))
            continue;
        if (found) {
            *ret_other = opt;
            break;
        }
        found = opt;
    }
    return found;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_conf_name(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".conf") == 0;
}

/* Stages DIR's *.conf files in byte order of their names; directories are skipped. */
static int stage_dir(struct gmr__conf_stage *st, const char *dir)
{
    gmr_conf *conf = st->conf;
    DIR *d = opendir(dir);
    if (!d) {
        int r = -errno;
        gmr__conf_error(conf, "%s: cannot open directory: %s", dir, strerrordesc_np(-r));
        return r;
    }
    char **paths = NULL;
    size_t n = 0, cap = 0;
    int r = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d))) {
        if (!is_conf_name(de->d_name))
            continue;
        if (n >= GMR_CONF_MAX_FILES) {
            gmr__conf_error(conf, "%s: more than %d *.conf files", dir, GMR_CONF_MAX_FILES);
            r = -EINVAL;
            goto out;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            void *p = gmr__realloc(paths, cap * sizeof(*paths));
            if (!p) {
                r = -ENOMEM;
                goto out;
            }
            paths = p;
        }
        size_t len = strlen(dir) + 1 + strlen(de->d_name) + 1;
        if (!(paths[n] = gmr__malloc(len))) {
            r = -ENOMEM;
            goto out;
        }
        (void)snprintf(paths[n], len, "%s/%s", dir, de->d_name);
        n++;
        errno = 0;
    }
    if (errno) {
        r = -errno;
        gmr__conf_error(conf, "%s: cannot read directory: %s", dir, strerrordesc_np(-r));
        goto out;
    }
    if (n > 1)
        qsort(paths, n, sizeof(*paths), by_name);
    for (size_t i = 0; i < n && r == 0; i++) {
        struct stat sb;
        if (stat(paths[i], &sb) == 0 && S_ISDIR(sb.st_mode))
            continue;
        r = gmr__conf_stage_file(st, paths[i]);
    }
out:
    for (size_t i = 0; i < n; i++)
        gmr__free(paths[i]);
    gmr__free(paths);
    closedir(d);
    return r;
}

static int parse(gmr_conf *conf, struct gmr__conf_stage *st, int argc, char **argv)
{
    for (int i = 1; i < argc && argv[i]; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0)
            break;
        if (strncmp(arg, "--", 2) != 0)
            continue; /* positional or short option: the application's */

        char key[2 * GMR_CONF_MAX_NAME + 8];
        const char *eq = strchr(arg + 2, '=');
        size_t klen = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        const char *value = eq ? eq + 1 : NULL;
        if (klen == 0 || klen >= sizeof(key)) {
            gmr__conf_error(conf, SOURCE_CLI ": option '%.*s': unknown option",
                            (int)GMR_MIN(klen + 2, 120), arg);
            return -EINVAL;
        }
        memcpy(key, arg + 2, klen);
        key[klen] = '\0';

        bool is_file = same_name(key, klen, "config_file");
        bool is_dir = same_name(key, klen, "config_dir");
        struct gmr__conf_opt *other, *opt = NULL;
        bool negated = false;
        if (!is_file && !is_dir) {
            opt = find_key(conf, key, &other);
            if (!opt && !value && strncmp(key, "no", 2) == 0) {
                opt = find_key(conf, key + 2, &other);
                if (opt && opt->type != GMR__OPT_BOOL)
                    opt = NULL;
                negated = opt != NULL;
            }
            if (!opt) {
                gmr__conf_error(conf, SOURCE_CLI ": option '--%s': unknown option", key);
                return -EINVAL;
            }
            if (other) {
                char a[128], b[128];
                gmr__conf_label(opt, a, sizeof(a));
                gmr__conf_label(other, b, sizeof(b));
                gmr__conf_error(conf,
                                SOURCE_CLI ": option '--%s': matches both %s and %s; write "
                                           "--GROUP.NAME",
                                key, a, b);
                return -EINVAL;
            }
        }
        if (!value) {
            if (opt && opt->type == GMR__OPT_BOOL) {
                value = negated ? "false" : "true";
            } else if (i + 1 < argc && argv[i + 1]) {
                value = argv[++i];
            } else {
                gmr__conf_error(conf, SOURCE_CLI ": option '--%s': needs a value", key);
                return -EINVAL;
            }
        }

        int r;
        if (is_file || is_dir) {
            if (!*value) {
                gmr__conf_error(conf, SOURCE_CLI ": option '--%s': needs a value", key);
                return -EINVAL;
            }
            r = is_file ? gmr__conf_stage_file(st, value) : stage_dir(st, value);
        } else {
            r = gmr__conf_stage_set(st, GMR__LAYER_CLI, opt->group, opt->name, value, strlen(value),
                                    SOURCE_CLI);
        }
        if (r < 0)
            return r;
    }
    return gmr__conf_stage_commit(st);
}

int gmr_conf_parse_args(gmr_conf *conf, int argc, char **argv)
{
    GMR_RETURN_IF(!conf || argc < 0 || (argc > 0 && !argv), -EINVAL);
    struct gmr__conf_stage st;
    gmr__conf_lock(conf);
    gmr__conf_stage_init(&st, conf);
    int r = parse(conf, &st, argc, argv);
    gmr__conf_stage_done(&st);
    gmr__conf_unlock(conf);
    /* Whatever went wrong with a file or an argument, the message says; the code is -EINVAL. */
    return r == -ENOMEM || r == 0 ? r : -EINVAL;
}
