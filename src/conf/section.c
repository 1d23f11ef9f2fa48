/*
 * The model of the Configuration section (shape in docs/configuration.md).  Secrets are
 * masked here, before any value enters the model: the views never see a raw secret.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf-private.h"
#include "render/render.h"
#include "util/alloc.h"

#define MASK "***"

static const char *type_name(enum gmr__opt_type type)
{
    switch (type) {
    case GMR__OPT_STR:
        return "string";
    case GMR__OPT_INT:
        return "integer";
    case GMR__OPT_FLOAT:
        return "float";
    case GMR__OPT_BOOL:
        return "boolean";
    case GMR__OPT_LIST:
        return "list";
    default:
        return NULL;
    }
}

/* DEFAULT first, then groups by name; options by name within a group. */
static int by_group_then_name(const void *a, const void *b)
{
    const struct gmr__conf_opt *x = *(const struct gmr__conf_opt *const *)a;
    const struct gmr__conf_opt *y = *(const struct gmr__conf_opt *const *)b;
    bool xd = strcmp(x->group, GMR_CONF_DEFAULT_GROUP) == 0;
    bool yd = strcmp(y->group, GMR_CONF_DEFAULT_GROUP) == 0;
    if (xd != yd)
        return xd ? -1 : 1;
    int c = strcmp(x->group, y->group);
    return c ? c : strcmp(x->name, y->name);
}

/* A new JSON string holding @s with URL passwords masked. */
static json_t *masked_string(const char *s)
{
    char *m;
    if (gmr__mask_url_credentials(s, &m) < 0)
        return NULL;
    json_t *j = gmr__json_string(m);
    gmr__free(m);
    return j;
}

static int set_new(json_t *obj, const char *key, json_t *value)
{
    return value && json_object_set_new(obj, key, value) == 0 ? 0 : -ENOMEM;
}

static json_t *registered_value(const struct gmr__conf_opt *opt, const struct gmr__conf_value *v)
{
    switch (opt->type) {
    case GMR__OPT_STR:
        return v->s ? masked_string(v->s) : json_null();
    case GMR__OPT_INT:
        return json_integer((json_int_t)v->i);
    case GMR__OPT_FLOAT:
        return json_real(v->f);
    case GMR__OPT_BOOL:
        return json_boolean(v->b);
    case GMR__OPT_LIST: {
        json_t *list = json_array();
        for (size_t i = 0; list && i < v->n; i++) {
            if (json_array_append_new(list, masked_string(v->items[i])) < 0) {
                json_decref(list);
                list = NULL;
            }
        }
        return list;
    }
    default:
        return NULL;
    }
}

/* The raw text of an unregistered option: its strongest layer. */
static const char *unregistered_raw(const struct gmr__conf_opt *opt)
{
    for (int l = GMR__N_LAYERS - 1; l >= 0; l--) {
        if (opt->layer[l].raw)
            return opt->layer[l].raw;
    }
    return "";
}

static json_t *option_model(const struct gmr__conf_opt *opt)
{
    json_t *o = json_object();
    const char *source;
    const struct gmr__conf_value *v = gmr__conf_effective(opt, &source);
    bool registered = opt->type != GMR__OPT_UNREGISTERED;
    bool secret =
        registered ? (opt->flags & GMR_OPT_SECRET) != 0 : gmr__mask_name_is_secret(opt->name);
    int r = o ? 0 : -ENOMEM;

    if (r == 0)
        r = gmr__json_set_str(o, "name", opt->name);
    if (r == 0 && registered)
        r = gmr__json_set_str(o, "type", type_name(opt->type));
    if (r == 0) {
        json_t *value;
        if (secret)
            value = json_string(MASK);
        else if (registered)
            value = registered_value(opt, v);
        else
            value = masked_string(unregistered_raw(opt));
        r = set_new(o, "value", value);
    }
    if (r == 0 && secret)
        r = set_new(o, "secret", json_true());
    if (r == 0 && !registered)
        r = set_new(o, "unregistered", json_true());
    if (r == 0 && source)
        r = set_new(o, "source", masked_string(source));
    if (r < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int build(json_t *section, const gmr_conf *conf)
{
    const struct gmr__conf_opt **sorted = NULL;
    json_t *groups = json_array(), *files = json_array(), *options = NULL;
    int r = -ENOMEM;
    if (!groups || !files)
        goto out;
    if (conf->n_opts) {
        if (!(sorted = gmr__malloc(conf->n_opts * sizeof(*sorted))))
            goto out;
        memcpy(sorted, conf->opts, conf->n_opts * sizeof(*sorted));
        qsort(sorted, conf->n_opts, sizeof(*sorted), by_group_then_name);
    }
    for (size_t i = 0; i < conf->n_opts; i++) {
        const struct gmr__conf_opt *opt = sorted[i];
        if (i == 0 || strcmp(sorted[i - 1]->group, opt->group) != 0) {
            json_t *g = json_object();
            options = json_array();
            if (!g || !options || gmr__json_set_str(g, "name", opt->group) < 0) {
                json_decref(options);
                json_decref(g);
                goto out;
            }
            /* The _new setters take the reference even when they fail. */
            if (json_object_set_new(g, "options", options) < 0) {
                json_decref(g);
                goto out;
            }
            if (json_array_append_new(groups, g) < 0)
                goto out;
        }
        if (json_array_append_new(options, option_model(opt)) < 0)
            goto out;
    }
    for (size_t i = 0; i < conf->n_files; i++) {
        if (json_array_append_new(files, masked_string(conf->files[i])) < 0)
            goto out;
    }
    if (json_object_set(section, "groups", groups) < 0 ||
        json_object_set(section, "files", files) < 0) {
        json_object_del(section, "groups");
        goto out;
    }
    r = 0;
out:
    gmr__free(sorted);
    json_decref(groups);
    json_decref(files);
    return r;
}

int gmr__conf_section(json_t *section, const gmr_conf *conf)
{
    if (!section || !conf)
        return -EINVAL;
    gmr__conf_lock(conf);
    int r = build(section, conf);
    gmr__conf_unlock(conf);
    return r;
}
