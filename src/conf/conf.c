/*
 * The configuration object: typed options, registration, conversion of text values, getters
 * and overrides.  Loading lives in load.c, the command line in args.c, the report section in
 * section.c.
 */
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmr/gmr.h>

#include "conf/conf-internal.h"
#include "conf/conf-private.h"
#include "util/alloc.h"
#include "util/macro.h"

#define SOURCE_OVERRIDE "override"

gmr_conf *gmr_conf_new(void)
{
    gmr_conf *conf = gmr__calloc(1, sizeof(*conf));
    if (!conf)
        return NULL;
    if (pthread_mutex_init(&conf->lock, NULL) != 0) {
        gmr__free(conf);
        return NULL;
    }
    return conf;
}

void gmr_conf_free(gmr_conf *conf)
{
    if (!conf)
        return;
    for (size_t i = 0; i < conf->n_opts; i++)
        gmr__conf_opt_free(conf->opts[i]);
    gmr__free(conf->opts);
    for (size_t i = 0; i < conf->n_files; i++)
        gmr__free(conf->files[i]);
    gmr__free(conf->files);
    pthread_mutex_destroy(&conf->lock);
    gmr__free(conf);
}

void gmr__conf_lock(const gmr_conf *conf)
{
    (void)pthread_mutex_lock(&((gmr_conf *)conf)->lock);
}

void gmr__conf_unlock(const gmr_conf *conf)
{
    (void)pthread_mutex_unlock(&((gmr_conf *)conf)->lock);
}

const char *gmr_conf_last_error(const gmr_conf *conf)
{
    return conf ? conf->error : "";
}

void gmr__conf_error(gmr_conf *conf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(conf->error, sizeof(conf->error), fmt, ap);
    va_end(ap);
}

const char *gmr__conf_group(const char *group)
{
    return group && *group ? group : GMR_CONF_DEFAULT_GROUP;
}

bool gmr__conf_name_ok(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > GMR_CONF_MAX_NAME)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

struct gmr__conf_opt *gmr__conf_find(const gmr_conf *conf, const char *group, const char *name)
{
    for (size_t i = 0; i < conf->n_opts; i++) {
        struct gmr__conf_opt *opt = conf->opts[i];
        if (strcmp(opt->name, name) == 0 && strcmp(opt->group, group) == 0)
            return opt;
    }
    return NULL;
}

void gmr__conf_label_of(const char *group, const char *name, char *buf, size_t size)
{
    if (strcmp(group, GMR_CONF_DEFAULT_GROUP) == 0)
        (void)snprintf(buf, size, "%s", name);
    else
        (void)snprintf(buf, size, "%s.%s", group, name);
}

void gmr__conf_label(const struct gmr__conf_opt *opt, char *buf, size_t size)
{
    gmr__conf_label_of(opt->group, opt->name, buf, size);
}

void gmr__conf_value_done(struct gmr__conf_value *v)
{
    gmr__free(v->s);
    if (v->items) {
        for (size_t i = 0; i < v->n; i++)
            gmr__free(v->items[i]);
        gmr__free(v->items);
    }
    *v = (struct gmr__conf_value){0};
}

void gmr__conf_layer_done(struct gmr__conf_layer *l)
{
    gmr__free(l->raw);
    gmr__free(l->source);
    gmr__conf_value_done(&l->v);
    *l = (struct gmr__conf_layer){0};
}

static void free_strv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        gmr__free(v[i]);
    gmr__free(v);
}

void gmr__conf_opt_free(struct gmr__conf_opt *opt)
{
    if (!opt)
        return;
    gmr__free(opt->group);
    gmr__free(opt->name);
    gmr__free(opt->help);
    free_strv(opt->choices);
    gmr__conf_value_done(&opt->def);
    for (int l = 0; l < GMR__N_LAYERS; l++)
        gmr__conf_layer_done(&opt->layer[l]);
    gmr__free(opt);
}

const struct gmr__conf_value *gmr__conf_effective(const struct gmr__conf_opt *opt,
                                                  const char **ret_source)
{
    for (int l = GMR__N_LAYERS - 1; l >= 0; l--) {
        if (opt->layer[l].raw) {
            if (ret_source)
                *ret_source = opt->layer[l].source;
            return &opt->layer[l].v;
        }
    }
    if (ret_source)
        *ret_source = NULL;
    return &opt->def;
}

static int reserve(void **array, size_t *cap, size_t n, size_t more, size_t elem)
{
    if (n + more <= *cap)
        return 0;
    size_t want = *cap ? *cap : 16;
    while (want < n + more)
        want *= 2;
    void *p = gmr__realloc(*array, want * elem);
    if (!p)
        return -ENOMEM;
    *array = p;
    *cap = want;
    return 0;
}

int gmr__conf_reserve_opts(gmr_conf *conf, size_t more)
{
    return reserve((void **)&conf->opts, &conf->cap_opts, conf->n_opts, more,
                   sizeof(conf->opts[0]));
}

int gmr__conf_reserve_files(gmr_conf *conf, size_t more)
{
    return reserve((void **)&conf->files, &conf->cap_files, conf->n_files, more,
                   sizeof(conf->files[0]));
}

/* ------------------------------------------------------------------------------------------
 * Conversion of text values.
 * ------------------------------------------------------------------------------------------ */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Copies @raw without surrounding blanks into @buf; false when it does not fit. */
static bool trimmed(const char *raw, char *buf, size_t size)
{
    while (is_blank(*raw))
        raw++;
    size_t n = strlen(raw);
    while (n > 0 && is_blank(raw[n - 1]))
        n--;
    if (n >= size)
        return false;
    memcpy(buf, raw, n);
    buf[n] = '\0';
    return true;
}

/*
 * Appends ", got 'VALUE'" to an explanation, unless quoting the value could expose a secret
 * (secret option, URL, '@') or disturb a one-line message.
 */
static void explain(const struct gmr__conf_opt *opt, const char *raw, char *why, size_t size,
                    const char *what)
{
    bool quote = !(opt->flags & GMR_OPT_SECRET) && strlen(raw) <= 64 && !strstr(raw, "://") &&
                 !strchr(raw, '@');
    for (const char *p = raw; quote && *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            quote = false;
    }
    if (quote)
        (void)snprintf(why, size, "%s, got '%s'", what, raw);
    else
        (void)snprintf(why, size, "%s", what);
}

static int convert_int(const struct gmr__conf_opt *opt, const char *raw, int64_t *ret, char *why,
                       size_t size)
{
    char buf[32];
    const char *p = buf;
    bool neg = false;
    uint64_t mag = 0;
    if (!trimmed(raw, buf, sizeof(buf)) || !*buf)
        goto bad;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (!*p)
        goto bad;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            goto bad;
        unsigned d = (unsigned)(*p - '0');
        if (mag > (UINT64_MAX - d) / 10)
            goto range;
        mag = mag * 10 + d;
    }
    if (neg ? mag > (uint64_t)INT64_MAX + 1 : mag > (uint64_t)INT64_MAX)
        goto range;
    int64_t v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    if (v < opt->imin || v > opt->imax)
        goto range;
    *ret = v;
    return 0;
range:
    if (opt->flags & GMR_OPT_SECRET)
        (void)snprintf(why, size, "value out of range [%lld, %lld]", (long long)opt->imin,
                       (long long)opt->imax);
    else
        (void)snprintf(why, size, "value %s out of range [%lld, %lld]", buf, (long long)opt->imin,
                       (long long)opt->imax);
    return -EINVAL;
bad:
    explain(opt, raw, why, size, "expected an integer");
    return -EINVAL;
}

/* strtod() in the C locale, whatever locale the application chose. */
static int parse_double(const char *s, double *ret)
{
    locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (!c)
        return -ENOMEM;
    char *end;
    errno = 0;
    double v = strtod_l(s, &end, c);
    freelocale(c);
    if (end == s || *end || !isfinite(v))
        return -EINVAL;
    *ret = v;
    return 0;
}

static int convert_float(const struct gmr__conf_opt *opt, const char *raw, double *ret, char *why,
                         size_t size)
{
    char buf[64];
    double v;
    int r;
    if (!trimmed(raw, buf, sizeof(buf)) || !*buf || (r = parse_double(buf, &v)) == -EINVAL) {
        explain(opt, raw, why, size, "expected a finite number");
        return -EINVAL;
    }
    if (r < 0)
        return r;
    if (v < opt->fmin || v > opt->fmax) {
        if (opt->flags & GMR_OPT_SECRET)
            (void)snprintf(why, size, "value out of range [%g, %g]", opt->fmin, opt->fmax);
        else
            (void)snprintf(why, size, "value %s out of range [%g, %g]", buf, opt->fmin, opt->fmax);
        return -EINVAL;
    }
    *ret = v;
    return 0;
}

static int convert_bool(const struct gmr__conf_opt *opt, const char *raw, bool *ret, char *why,
                        size_t size)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    char buf[8];
    if (trimmed(raw, buf, sizeof(buf))) {
        for (size_t i = 0; i < GMR_ELEMENTSOF(yes); i++) {
            if (strcasecmp(buf, yes[i]) == 0) {
                *ret = true;
                return 0;
            }
            if (strcasecmp(buf, no[i]) == 0) {
                *ret = false;
                return 0;
            }
        }
    }
    explain(opt, raw, why, size, "expected a boolean (true/false, yes/no, on/off, 1/0)");
    return -EINVAL;
}

static int convert_str(const struct gmr__conf_opt *opt, const char *raw, char **ret, char *why,
                       size_t size)
{
    if (opt->choices) {
        size_t i;
        for (i = 0; opt->choices[i]; i++) {
            if (strcmp(opt->choices[i], raw) == 0)
                break;
        }
        if (!opt->choices[i]) {
            char what[256];
            size_t n = (size_t)snprintf(what, sizeof(what), "expected one of");
            for (i = 0; opt->choices[i] && n < sizeof(what); i++)
                n += (size_t)snprintf(what + n, sizeof(what) - n, "%s%s", i ? ", " : " ",
                                      opt->choices[i]);
            explain(opt, raw, why, size, what);
            return -EINVAL;
        }
    }
    if (opt->check) {
        const char *what;
        if (opt->check(raw, &what) < 0) {
            explain(opt, raw, why, size, what);
            return -EINVAL;
        }
    }
    char *s = gmr__strdup(raw);
    if (!s)
        return -ENOMEM;
    *ret = s;
    return 0;
}

/* Splits at commas and newlines, trims blanks, drops empty items. */
static int convert_list(const char *raw, struct gmr__conf_value *ret)
{
    size_t cap = 1;
    for (const char *p = raw; *p; p++)
        cap += *p == ',' || *p == '\n';
    char **items = gmr__calloc(cap + 1, sizeof(*items));
    if (!items)
        return -ENOMEM;
    size_t n = 0;
    const char *p = raw;
    for (;;) {
        size_t len = strcspn(p, ",\n");
        const char *s = p, *e = p + len;
        while (s < e && is_blank(*s))
            s++;
        while (e > s && is_blank(e[-1]))
            e--;
        if (e > s) {
            if (!(items[n] = gmr__strndup(s, (size_t)(e - s)))) {
                free_strv(items);
                return -ENOMEM;
            }
            n++;
        }
        if (!p[len])
            break;
        p += len + 1;
    }
    ret->items = items;
    ret->n = n;
    return 0;
}

int gmr__conf_convert(const struct gmr__conf_opt *opt, const char *raw, struct gmr__conf_value *ret,
                      char *why, size_t why_size)
{
    struct gmr__conf_value v = {0};
    int r;
    switch (opt->type) {
    case GMR__OPT_STR:
        r = convert_str(opt, raw, &v.s, why, why_size);
        break;
    case GMR__OPT_INT:
        r = convert_int(opt, raw, &v.i, why, why_size);
        break;
    case GMR__OPT_FLOAT:
        r = convert_float(opt, raw, &v.f, why, why_size);
        break;
    case GMR__OPT_BOOL:
        r = convert_bool(opt, raw, &v.b, why, why_size);
        break;
    case GMR__OPT_LIST:
        r = convert_list(raw, &v);
        for (size_t i = 0; r == 0 && opt->check && i < v.n; i++) {
            const char *what;
            if (opt->check(v.items[i], &what) < 0) {
                explain(opt, v.items[i], why, why_size, what);
                gmr__conf_value_done(&v);
                r = -EINVAL;
            }
        }
        break;
    default:
        r = 0; /* unregistered: nothing to convert */
        break;
    }
    if (r == 0)
        *ret = v;
    return r;
}

/* ------------------------------------------------------------------------------------------
 * Registration.
 * ------------------------------------------------------------------------------------------ */

struct spec {
    const char *group;
    const char *name;
    const char *help;
    enum gmr__opt_type type;
    unsigned flags;
    const char *def_s;
    const char *const *choices;
    gmr__conf_check_fn check;
    int64_t def_i, imin, imax;
    double def_f, fmin, fmax;
    bool def_b;
    const char *const *def_list;
};

static int copy_strv(const char *const *src, char ***ret, size_t *ret_n)
{
    size_t n = 0;
    while (src && src[n])
        n++;
    char **v = gmr__calloc(n + 1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!(v[i] = gmr__strdup(src[i]))) {
            free_strv(v);
            return -ENOMEM;
        }
    }
    *ret = v;
    if (ret_n)
        *ret_n = n;
    return 0;
}

/* Checks a registration's arguments; records the reason and returns -EINVAL when bad. */
static int spec_check(gmr_conf *conf, const struct spec *sp)
{
    const char *group = gmr__conf_group(sp->group);
    const char *name = sp->name ? sp->name : "";
    char label[128];
    gmr__conf_label_of(group, name, label, sizeof(label));
    const char *why = NULL;

    if (!gmr__conf_name_ok(group))
        why = "invalid group name (1..48 letters, digits, '_' or '-')";
    else if (!gmr__conf_name_ok(sp->name))
        why = "invalid option name (1..48 letters, digits, '_' or '-')";
    else if (sp->flags & ~GMR_OPT_SECRET)
        why = "unknown flags";
    else if (sp->type == GMR__OPT_INT && sp->imin > sp->imax)
        why = "minimum above maximum";
    else if (sp->type == GMR__OPT_INT && (sp->def_i < sp->imin || sp->def_i > sp->imax))
        why = "default out of range";
    else if (sp->type == GMR__OPT_FLOAT && (isnan(sp->fmin) || isnan(sp->fmax)))
        why = "bound is not a number";
    else if (sp->type == GMR__OPT_FLOAT && sp->fmin > sp->fmax)
        why = "minimum above maximum";
    else if (sp->type == GMR__OPT_FLOAT &&
             (!isfinite(sp->def_f) || sp->def_f < sp->fmin || sp->def_f > sp->fmax))
        why = "default not finite or out of range";
    else if (sp->type == GMR__OPT_STR && sp->choices && !sp->choices[0])
        why = "no choices";

    if (!why && sp->type == GMR__OPT_STR && sp->choices) {
        bool found = !sp->def_s;
        for (size_t i = 0; sp->choices[i]; i++)
            found = found || strcmp(sp->choices[i], sp->def_s) == 0;
        if (!found)
            why = "default is not one of the choices";
    }
    if (!why && sp->type == GMR__OPT_STR && sp->check && sp->def_s &&
        sp->check(sp->def_s, &why) == 0)
        why = NULL;
    if (why) {
        gmr__conf_error(conf, "option '%s': %s", label, why);
        return -EINVAL;
    }
    return 0;
}

static int opt_from_spec(const struct spec *sp, struct gmr__conf_opt **ret)
{
    struct gmr__conf_opt *opt = gmr__calloc(1, sizeof(*opt));
    if (!opt)
        return -ENOMEM;
    opt->type = sp->type;
    opt->flags = sp->flags;
    opt->imin = sp->imin;
    opt->imax = sp->imax;
    opt->fmin = sp->fmin;
    opt->fmax = sp->fmax;
    opt->check = sp->check;
    opt->def.i = sp->def_i;
    opt->def.f = sp->def_f;
    opt->def.b = sp->def_b;
    if (!(opt->group = gmr__strdup(gmr__conf_group(sp->group))) ||
        !(opt->name = gmr__strdup(sp->name)) ||
        (sp->help && !(opt->help = gmr__strdup(sp->help))) ||
        (sp->def_s && !(opt->def.s = gmr__strdup(sp->def_s))) ||
        (sp->choices && copy_strv(sp->choices, &opt->choices, NULL) < 0) ||
        (sp->type == GMR__OPT_LIST && copy_strv(sp->def_list, &opt->def.items, &opt->def.n) < 0)) {
        gmr__conf_opt_free(opt);
        return -ENOMEM;
    }
    *ret = opt;
    return 0;
}

struct pending {
    struct gmr__conf_opt *fresh; /* owned until committed */
    struct gmr__conf_opt *old;   /* the unregistered record it replaces, or NULL */
    size_t index;                /* position of @old in conf->opts */
};

/*
 * Registers @n options at once: either all are registered or none is.  Values loaded before
 * the registration (kept on an unregistered record) are converted and checked now.
 */
static int register_specs(gmr_conf *conf, const struct spec *specs, size_t n)
{
    struct pending *pend = gmr__calloc(n, sizeof(*pend));
    size_t added = 0;
    int r = -ENOMEM;
    if (!pend)
        return -ENOMEM;

    for (size_t i = 0; i < n; i++) {
        const struct spec *sp = &specs[i];
        const char *group = gmr__conf_group(sp->group);
        if ((r = spec_check(conf, sp)) < 0)
            goto out;
        bool taken = false;
        for (size_t j = 0; j < i; j++) {
            taken = taken || (strcmp(pend[j].fresh->name, sp->name) == 0 &&
                              strcmp(pend[j].fresh->group, group) == 0);
        }
        for (size_t k = 0; k < conf->n_opts; k++) {
            struct gmr__conf_opt *o = conf->opts[k];
            if (strcmp(o->name, sp->name) == 0 && strcmp(o->group, group) == 0) {
                taken = taken || o->type != GMR__OPT_UNREGISTERED;
                pend[i].old = o;
                pend[i].index = k;
            }
        }
        if (taken) {
            char label[128];
            gmr__conf_label_of(group, sp->name, label, sizeof(label));
            gmr__conf_error(conf, "option '%s': already registered", label);
            r = -EEXIST;
            goto out;
        }
        if ((r = opt_from_spec(sp, &pend[i].fresh)) < 0)
            goto out;
        added += !pend[i].old;
        for (int l = 0; pend[i].old && l < GMR__N_LAYERS; l++) {
            const struct gmr__conf_layer *had = &pend[i].old->layer[l];
            char why[384], label[128];
            if (!had->raw)
                continue;
            r = gmr__conf_convert(pend[i].fresh, had->raw, &pend[i].fresh->layer[l].v, why,
                                  sizeof(why));
            if (r == -EINVAL) {
                gmr__conf_label(pend[i].fresh, label, sizeof(label));
                gmr__conf_error(conf, "%s: option '%s': %s", had->source, label, why);
            }
            if (r < 0)
                goto out;
        }
    }
    if (conf->n_opts + added > GMR_CONF_MAX_OPTIONS) {
        gmr__conf_error(conf, "option '%s': too many options (at most %d)", specs[0].name,
                        GMR_CONF_MAX_OPTIONS);
        r = -E2BIG;
        goto out;
    }
    if ((r = gmr__conf_reserve_opts(conf, added)) < 0)
        goto out;

    /* Nothing below can fail. */
    for (size_t i = 0; i < n; i++) {
        struct gmr__conf_opt *fresh = pend[i].fresh, *old = pend[i].old;
        pend[i].fresh = NULL;
        if (!old) {
            conf->opts[conf->n_opts++] = fresh;
            continue;
        }
        for (int l = 0; l < GMR__N_LAYERS; l++) {
            fresh->layer[l].raw = old->layer[l].raw;
            fresh->layer[l].source = old->layer[l].source;
            old->layer[l].raw = old->layer[l].source = NULL;
        }
        conf->opts[pend[i].index] = fresh;
        gmr__conf_opt_free(old);
    }
    r = 0;
out:
    for (size_t i = 0; i < n; i++)
        gmr__conf_opt_free(pend[i].fresh);
    gmr__free(pend);
    return r;
}

static int register_locked(gmr_conf *conf, const struct spec *specs, size_t n)
{
    GMR_RETURN_IF(!conf, -EINVAL);
    gmr__conf_lock(conf);
    int r = register_specs(conf, specs, n);
    gmr__conf_unlock(conf);
    return r;
}

int gmr_conf_register_str(gmr_conf *conf, const char *group, const char *name, const char *def,
                          const char *help, unsigned flags)
{
    struct spec sp = {.group = group,
                      .name = name,
                      .help = help,
                      .type = GMR__OPT_STR,
                      .flags = flags,
                      .def_s = def};
    return register_locked(conf, &sp, 1);
}

int gmr_conf_register_choice(gmr_conf *conf, const char *group, const char *name, const char *def,
                             const char *const *choices, const char *help, unsigned flags)
{
    GMR_RETURN_IF(!choices, -EINVAL);
    struct spec sp = {.group = group,
                      .name = name,
                      .help = help,
                      .type = GMR__OPT_STR,
                      .flags = flags,
                      .def_s = def,
                      .choices = choices};
    return register_locked(conf, &sp, 1);
}

int gmr_conf_register_int(gmr_conf *conf, const char *group, const char *name, int64_t def,
                          int64_t min, int64_t max, const char *help, unsigned flags)
{
    struct spec sp = {.group = group,
                      .name = name,
                      .help = help,
                      .type = GMR__OPT_INT,
                      .flags = flags,
                      .def_i = def,
                      .imin = min,
                      .imax = max};
    return register_locked(conf, &sp, 1);
}

int gmr_conf_register_float(gmr_conf *conf, const char *group, const char *name, double def,
                            double min, double max, const char *help, unsigned flags)
{
    struct spec sp = {.group = group,
                      .name = name,
                      .help = help,
                      .type = GMR__OPT_FLOAT,
                      .flags = flags,
                      .def_f = def,
                      .fmin = min,
                      .fmax = max};
    return register_locked(conf, &sp, 1);
}

int gmr_conf_register_bool(gmr_conf *conf, const char *group, const char *name, bool def,
                           const char *help, unsigned flags)
{
    struct spec sp = {.group = group,
                      .name = name,
                      .help = help,
                      .type = GMR__OPT_BOOL,
                      .flags = flags,
                      .def_b = def};
    return register_locked(conf, &sp, 1);
}

int gmr_conf_register_list(gmr_conf *conf, const char *group, const char *name,
                           const char *const *def, const char *help, unsigned flags)
{
    struct spec sp = {.group = group,
                      .name = name,
                      .help = help,
                      .type = GMR__OPT_LIST,
                      .flags = flags,
                      .def_list = def};
    return register_locked(conf, &sp, 1);
}

/* The trigger signal: any catchable signal that is not a fault, or "none". */
static int check_trigger_signal(const char *text, const char **ret_why)
{
    int signo;
    if (gmr__conf_parse_signal(text, &signo) < 0) {
        *ret_why = "expected a signal name (SIGUSR2, USR1, SIGRTMIN+1), a number or none";
        return -EINVAL;
    }
    if (signo == SIGKILL || signo == SIGSTOP || signo == SIGSEGV || signo == SIGBUS ||
        signo == SIGILL || signo == SIGFPE || signo == SIGABRT) {
        *ret_why = "this signal cannot trigger reports";
        return -EINVAL;
    }
    return 0;
}

static int check_capture_signal(const char *text, const char **ret_why)
{
    int signo;
    if (strcmp(text, "auto") != 0 &&
        (gmr__conf_parse_signal(text, &signo) < 0 || signo < SIGRTMIN || signo > SIGRTMAX)) {
        *ret_why = "expected auto or a real-time signal (SIGRTMIN+N, SIGRTMAX-N)";
        return -EINVAL;
    }
    return 0;
}

unsigned gmr__conf_section_flag(const char *name)
{
    static const struct {
        const char *name;
        unsigned flag;
    } names[] = {
        {"threads", GMR_SECTION_THREADS},
        {"green_threads", GMR_SECTION_GREEN_THREADS},
        {"processes", GMR_SECTION_PROCESSES},
        {"configuration", GMR_SECTION_CONFIGURATION},
        {"environment", GMR_SECTION_ENVIRONMENT},
        {"resources", GMR_SECTION_RESOURCES},
        {"limits", GMR_SECTION_LIMITS},
        {"open_files", GMR_SECTION_OPEN_FILES},
        {"shared_objects", GMR_SECTION_SHARED_OBJECTS},
        {"system", GMR_SECTION_SYSTEM},
    };
    for (size_t i = 0; i < GMR_ELEMENTSOF(names); i++) {
        if (strcmp(names[i].name, name) == 0)
            return names[i].flag;
    }
    return 0;
}

/* One name of a built-in section that reports may leave out. */
static int check_section_name(const char *text, const char **ret_why)
{
    if (gmr__conf_section_flag(text) == 0) {
        *ret_why = "expected threads, green_threads, processes, configuration, environment, "
                   "resources, limits, open_files, shared_objects or system";
        return -EINVAL;
    }
    return 0;
}

int gmr_opts_set_defaults(gmr_conf *conf)
{
    static const char *const formats[] = {"text", "json", NULL};
    const char *g = "oslo_reports";
    const struct spec specs[] = {
        {.group = g,
         .name = "log_dir",
         .type = GMR__OPT_STR,
         .help = "Directory in which each report is written to a new file, instead of stderr"},
        {.group = g,
         .name = "file_event_handler",
         .type = GMR__OPT_STR,
         .help = "File whose modification triggers a report; when set, the signal trigger is "
                 "off unless signal is set too"},
        {.group = g,
         .name = "file_event_handler_interval",
         .type = GMR__OPT_INT,
         .def_i = 1,
         .imin = 1,
         .imax = 86400,
         .help = "Seconds between checks of file_event_handler where inotify cannot watch it"},
        {.group = g,
         .name = "signal",
         .type = GMR__OPT_STR,
         .def_s = "SIGUSR2",
         .check = check_trigger_signal,
         .help = "The signal that triggers a report: a name (SIGUSR2, USR1), a number, or none"},
        {.group = g,
         .name = "format",
         .type = GMR__OPT_STR,
         .def_s = "text",
         .choices = formats,
         .help = "The format of triggered reports: text or json"},
        {.group = g,
         .name = "capture_signal",
         .type = GMR__OPT_STR,
         .def_s = "auto",
         .check = check_capture_signal,
         .help = "The real-time signal used to snapshot running threads, or auto"},
        {.group = g,
         .name = "capture_timeout",
         .type = GMR__OPT_FLOAT,
         .def_f = 1.0,
         .fmin = 0.001,
         .fmax = 60,
         .help = "Seconds a report waits for running threads to answer the capture signal"},
        {.group = g,
         .name = "group_threads",
         .type = GMR__OPT_BOOL,
         .def_b = false,
         .help = "Show threads with identical stacks once in text reports"},
        {.group = g,
         .name = "control_socket",
         .type = GMR__OPT_BOOL,
         .def_b = false,
         .help = "Serve reports to `gmr report PID` through a Unix socket of this process"},
        {.group = g,
         .name = "disabled_sections",
         .type = GMR__OPT_LIST,
         .check = check_section_name,
         .help = "Built-in sections left out of reports, e.g. environment, open_files"},
    };
    return register_locked(conf, specs, GMR_ELEMENTSOF(specs));
}

/* ------------------------------------------------------------------------------------------
 * Getters and overrides.
 * ------------------------------------------------------------------------------------------ */

/* Finds a registered option of @type; 0, -EINVAL or -ENOENT. */
static int lookup(const gmr_conf *conf, const char *group, const char *name,
                  enum gmr__opt_type type, const struct gmr__conf_value **ret)
{
    struct gmr__conf_opt *opt = gmr__conf_find(conf, gmr__conf_group(group), name);
    if (!opt || opt->type == GMR__OPT_UNREGISTERED)
        return -ENOENT;
    if (opt->type != type)
        return -EINVAL;
    *ret = gmr__conf_effective(opt, NULL);
    return 0;
}

int gmr_conf_get_str(const gmr_conf *conf, const char *group, const char *name, const char **ret)
{
    GMR_RETURN_IF(!conf || !name || !ret, -EINVAL);
    const struct gmr__conf_value *v;
    gmr__conf_lock(conf);
    int r = lookup(conf, group, name, GMR__OPT_STR, &v);
    if (r == 0)
        *ret = v->s;
    gmr__conf_unlock(conf);
    return r;
}

int gmr_conf_get_int(const gmr_conf *conf, const char *group, const char *name, int64_t *ret)
{
    GMR_RETURN_IF(!conf || !name || !ret, -EINVAL);
    const struct gmr__conf_value *v;
    gmr__conf_lock(conf);
    int r = lookup(conf, group, name, GMR__OPT_INT, &v);
    if (r == 0)
        *ret = v->i;
    gmr__conf_unlock(conf);
    return r;
}

int gmr_conf_get_float(const gmr_conf *conf, const char *group, const char *name, double *ret)
{
    GMR_RETURN_IF(!conf || !name || !ret, -EINVAL);
    const struct gmr__conf_value *v;
    gmr__conf_lock(conf);
    int r = lookup(conf, group, name, GMR__OPT_FLOAT, &v);
    if (r == 0)
        *ret = v->f;
    gmr__conf_unlock(conf);
    return r;
}

int gmr_conf_get_bool(const gmr_conf *conf, const char *group, const char *name, bool *ret)
{
    GMR_RETURN_IF(!conf || !name || !ret, -EINVAL);
    const struct gmr__conf_value *v;
    gmr__conf_lock(conf);
    int r = lookup(conf, group, name, GMR__OPT_BOOL, &v);
    if (r == 0)
        *ret = v->b;
    gmr__conf_unlock(conf);
    return r;
}

int gmr_conf_get_list(const gmr_conf *conf, const char *group, const char *name,
                      const char *const **ret_items, size_t *ret_n)
{
    static const char *const empty[] = {NULL};
    GMR_RETURN_IF(!conf || !name || !ret_items, -EINVAL);
    const struct gmr__conf_value *v;
    gmr__conf_lock(conf);
    int r = lookup(conf, group, name, GMR__OPT_LIST, &v);
    if (r == 0) {
        *ret_items = v->items ? (const char *const *)v->items : empty;
        if (ret_n)
            *ret_n = v->n;
    }
    gmr__conf_unlock(conf);
    return r;
}

bool gmr_conf_is_set(const gmr_conf *conf, const char *group, const char *name)
{
    if (!conf || !name)
        return false;
    gmr__conf_lock(conf);
    const char *source = NULL;
    struct gmr__conf_opt *opt = gmr__conf_find(conf, gmr__conf_group(group), name);
    if (opt)
        (void)gmr__conf_effective(opt, &source);
    gmr__conf_unlock(conf);
    return source != NULL;
}

static int set_override(gmr_conf *conf, const char *group, const char *name, const char *value)
{
    char why[384], label[128];
    struct gmr__conf_opt *opt = gmr__conf_find(conf, gmr__conf_group(group), name);
    if (!opt || opt->type == GMR__OPT_UNREGISTERED) {
        gmr__conf_label_of(gmr__conf_group(group), name, label, sizeof(label));
        gmr__conf_error(conf, SOURCE_OVERRIDE ": option '%s': not registered", label);
        return -ENOENT;
    }
    struct gmr__conf_layer *slot = &opt->layer[GMR__LAYER_OVERRIDE];
    if (!value) {
        gmr__conf_layer_done(slot);
        return 0;
    }
    gmr__conf_label(opt, label, sizeof(label));
    if (strlen(value) > GMR_CONF_MAX_VALUE) {
        gmr__conf_error(conf, SOURCE_OVERRIDE ": option '%s': value longer than %d bytes", label,
                        GMR_CONF_MAX_VALUE);
        return -EINVAL;
    }
    struct gmr__conf_layer next = {0};
    int r = gmr__conf_convert(opt, value, &next.v, why, sizeof(why));
    if (r == -EINVAL)
        gmr__conf_error(conf, SOURCE_OVERRIDE ": option '%s': %s", label, why);
    if (r == 0 &&
        (!(next.raw = gmr__strdup(value)) || !(next.source = gmr__strdup(SOURCE_OVERRIDE))))
        r = -ENOMEM;
    if (r < 0) {
        gmr__conf_layer_done(&next);
        return r;
    }
    gmr__conf_layer_done(slot);
    *slot = next;
    return 0;
}

int gmr_conf_set_override(gmr_conf *conf, const char *group, const char *name, const char *value)
{
    GMR_RETURN_IF(!conf || !name, -EINVAL);
    gmr__conf_lock(conf);
    int r = set_override(conf, group, name, value);
    gmr__conf_unlock(conf);
    return r;
}
