/*
 * The configuration object's own structures, shared by the files of src/conf/ only.
 * Context: caller context or reporter thread; never a signal handler.
 */
#ifndef GMR_CONF_CONF_PRIVATE_H
#define GMR_CONF_CONF_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gmr/gmr.h>

#include "conf/conf-internal.h"

#define GMR_CONF_DEFAULT_GROUP "DEFAULT"

enum gmr__opt_type {
    GMR__OPT_UNREGISTERED = 0, /* seen in a file, never registered: only raw text */
    GMR__OPT_STR,
    GMR__OPT_INT,
    GMR__OPT_FLOAT,
    GMR__OPT_BOOL,
    GMR__OPT_LIST,
};

/* Sources of a value, weakest first; the default is below them all. */
enum gmr__layer {
    GMR__LAYER_FILE = 0,
    GMR__LAYER_CLI,
    GMR__LAYER_OVERRIDE,
    GMR__N_LAYERS,
};

/* A converted value; which members count depends on the option's type. */
struct gmr__conf_value {
    char *s;      /* STR: owned; NULL for "no value" */
    int64_t i;    /* INT */
    double f;     /* FLOAT, always finite */
    bool b;       /* BOOL */
    char **items; /* LIST: owned, NULL-terminated, each item owned; NULL for the empty list */
    size_t n;     /* LIST: number of items */
};

/* One source's setting of an option. */
struct gmr__conf_layer {
    char *raw;                /* owned; the text as written; NULL: this layer does not set it */
    char *source;             /* owned; "PATH:LINE", "command line" or "override" */
    struct gmr__conf_value v; /* raw converted; registered options only */
};

/*
 * Extra check of a string option's value: returns 0 when @text is acceptable, else -EINVAL
 * with a static explanation in *ret_why.
 */
typedef int (*gmr__conf_check_fn)(const char *text, const char **ret_why);

struct gmr__conf_opt {
    char *group;                /* owned; "DEFAULT" for the default group */
    char *name;                 /* owned */
    char *help;                 /* owned; may be NULL */
    enum gmr__opt_type type;    /* GMR__OPT_UNREGISTERED until registered */
    unsigned flags;             /* GMR_OPT_* */
    int64_t imin, imax;         /* INT bounds, inclusive */
    double fmin, fmax;          /* FLOAT bounds, inclusive */
    char **choices;             /* STR: owned, NULL-terminated; NULL when any value goes */
    gmr__conf_check_fn check;   /* STR, and each item of a LIST: may be NULL */
    struct gmr__conf_value def; /* the default */
    struct gmr__conf_layer layer[GMR__N_LAYERS]; /* what each source sets */
};

struct gmr_conf {
    pthread_mutex_t lock;        /* guards everything below */
    struct gmr__conf_opt **opts; /* owned; registration / first-seen order */
    size_t n_opts;
    size_t cap_opts;
    char **files; /* owned; files and strings loaded, first load first */
    size_t n_files;
    size_t cap_files;
    char error[512]; /* last failure's message; "" when none */
};

/* Limits (documented in include/gmr/conf.h). */
#define GMR_CONF_MAX_TEXT    (1024 * 1024) /* bytes per file or string */
#define GMR_CONF_MAX_OPTIONS 4096          /* options per object */
#define GMR_CONF_MAX_VALUE   (64 * 1024)   /* bytes per value, continuation lines joined */
#define GMR_CONF_MAX_NAME    48            /* bytes per group or option name */
#define GMR_CONF_MAX_FILES   256           /* files per load */

/* Locks and unlocks @conf (const for the getters: the lock is not part of the value). */
void gmr__conf_lock(const gmr_conf *conf);
void gmr__conf_unlock(const gmr_conf *conf);

/* Records the message returned by gmr_conf_last_error(); printf-style. */
void gmr__conf_error(gmr_conf *conf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "DEFAULT" for NULL or "", else @group. */
const char *gmr__conf_group(const char *group);

/* The option @group/@name (group already normalized), registered or not; NULL if none. */
struct gmr__conf_opt *gmr__conf_find(const gmr_conf *conf, const char *group, const char *name);

/* Writes "NAME" (DEFAULT group) or "GROUP.NAME" into @buf, cut to @size. */
void gmr__conf_label(const struct gmr__conf_opt *opt, char *buf, size_t size);
void gmr__conf_label_of(const char *group, const char *name, char *buf, size_t size);

/*
 * gmr__conf_convert() - convert the text @raw to @opt's type and check it.
 * @ret: receives the value (owned by the caller: gmr__conf_value_done())
 * @why: on -EINVAL receives what is wrong, without the value when @opt is secret
 * Return: 0; -EINVAL; -ENOMEM.
 */
int gmr__conf_convert(const struct gmr__conf_opt *opt, const char *raw, struct gmr__conf_value *ret,
                      char *why, size_t why_size);

void gmr__conf_value_done(struct gmr__conf_value *v);
void gmr__conf_layer_done(struct gmr__conf_layer *l);
void gmr__conf_opt_free(struct gmr__conf_opt *opt);

/* The value a getter sees: the strongest layer that sets it, else the default. */
const struct gmr__conf_value *gmr__conf_effective(const struct gmr__conf_opt *opt,
                                                  const char **ret_source);

/* Grows conf->opts / conf->files so that @more entries can be added without failing. */
int gmr__conf_reserve_opts(gmr_conf *conf, size_t more);
int gmr__conf_reserve_files(gmr_conf *conf, size_t more);

/* True when @name is a valid group or option name (see include/gmr/conf.h). */
bool gmr__conf_name_ok(const char *name);

/* ------------------------------------------------------------------------------------------
 * Loading (load.c): a load is parsed into a stage, checked whole, then committed.
 * ------------------------------------------------------------------------------------------ */

struct gmr__conf_stage_item {
    char *group; /* owned, normalized */
    char *name;  /* owned */
    char *raw;   /* owned; grows with continuation lines */
    size_t raw_len;
    char *source; /* owned */
    enum gmr__layer layer;
    struct gmr__conf_opt *opt;   /* borrowed from the object, or NULL */
    struct gmr__conf_opt *fresh; /* owned new unregistered option, when opt is NULL */
    struct gmr__conf_value v;    /* raw converted, when opt is registered */
};

struct gmr__conf_stage {
    gmr_conf *conf;                     /* borrowed */
    struct gmr__conf_stage_item *items; /* owned */
    size_t n_items;
    size_t cap_items;
    char **files; /* owned; names loaded by this stage */
    size_t n_files;
    size_t cap_files;
};

void gmr__conf_stage_init(struct gmr__conf_stage *st, gmr_conf *conf);
void gmr__conf_stage_done(struct gmr__conf_stage *st);

/*
 * gmr__conf_stage_set() - stage "@group.@name = @raw" (@len bytes) from @source in @layer; a
 * later item for the same option and layer replaces an earlier one.
 * Return: 0; -EINVAL (value too long; message recorded); -ENOMEM.
 */
int gmr__conf_stage_set(struct gmr__conf_stage *st, enum gmr__layer layer, const char *group,
                        const char *name, const char *raw, size_t len, const char *source);

/*
 * gmr__conf_stage_text() - parse INI text @data (@len bytes, NUL bytes refused) named @name
 * into the stage's file layer.
 * Return: 0; -EINVAL (message recorded); -EFBIG; -ENOMEM.
 */
int gmr__conf_stage_text(struct gmr__conf_stage *st, const char *name, const char *data,
                         size_t len);

/* Reads and stages a file.  Return: as gmr_conf_load_file(). */
int gmr__conf_stage_file(struct gmr__conf_stage *st, const char *path);

/*
 * gmr__conf_stage_commit() - convert and check every staged value, then apply them all.
 * Return: 0; -EINVAL (a bad value or too many options; message recorded); -ENOMEM.  On
 * failure nothing is applied.
 */
int gmr__conf_stage_commit(struct gmr__conf_stage *st);

#endif /* GMR_CONF_CONF_PRIVATE_H */
