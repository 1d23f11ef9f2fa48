/*
 * The Environment section: every variable of the process's current environment, sorted by
 * name, with secrets masked.
 *
 * Source: environ, not /proc/self/environ.  The latter shows only the environment the
 * process was started with; variables set or changed later with setenv()/putenv() would be
 * missing or stale.  environ has no lock an outsider can take (the C library's is private), so
 * it is copied in one quick pass and everything else works on the copy.  glibc never frees
 * the strings setenv() creates, but a setenv() that adds a variable may move the array
 * itself: a report racing with it may miss a variable or show its old value, and in the worst
 * case read the old array after it was freed.  getenv() has the same exposure; POSIX leaves
 * changing the environment while other threads run unsafe.
 *
 * Masking, before anything enters the model:
 *  - a variable whose name looks like a secret (gmr__mask_name_is_secret()) shows "***";
 *  - credentials inside URLs are masked in every other value (gmr__mask_url_credentials());
 *  - a value longer than MAX_VALUE is not shown at all rather than cut, so a cut can never
 *    separate a password from the '@' that marks it.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf-internal.h"
#include "render/render.h"
#include "sections/diag.h"
#include "util/alloc.h"

#define MAX_VARS  4096        /* variables shown */
#define MAX_VALUE (64 * 1024) /* longest value shown, in bytes */
#define MAX_ENTRY (MAX_VALUE + 4096)

struct var {
    char *entry;  /* owned copy of "NAME=value", at most MAX_ENTRY bytes */
    size_t index; /* position in environ: the first of duplicate names wins, as in getenv() */
    bool cut;     /* the entry was longer than MAX_ENTRY: its value is not shown */
};

struct env_copy {
    struct var *vars; /* owned */
    size_t n;
    size_t not_shown; /* entries past MAX_VARS */
};

static void env_copy_done(struct env_copy *c)
{
    for (size_t i = 0; i < c->n; i++)
        gmr__free(c->vars[i].entry);
    gmr__free(c->vars);
    c->vars = NULL;
    c->n = 0;
}

/* Copies @envp quickly; entries longer than MAX_ENTRY are cut there and marked. */
static int env_copy(struct env_copy *c, char *const *envp)
{
    size_t count = 0;
    while (envp && envp[count])
        count++;
    size_t take = count < MAX_VARS ? count : MAX_VARS;
    c->not_shown = count - take;
    c->vars = gmr__calloc(take ? take : 1, sizeof(*c->vars));
    if (!c->vars)
        return -ENOMEM;
    for (size_t i = 0; i < take; i++) {
        const char *e = envp[i];
        if (!e) /* the array shrank under us */
            break;
        c->vars[c->n].entry = gmr__strndup(e, MAX_ENTRY);
        if (!c->vars[c->n].entry)
            return -ENOMEM;
        c->vars[c->n].cut = e[strlen(c->vars[c->n].entry)] != '\0';
        c->vars[c->n].index = i;
        c->n++;
    }
    return 0;
}

/* Orders by name (the bytes before '='), then by position in environ. */
static int var_cmp(const void *a, const void *b)
{
    const struct var *x = a, *y = b;
    size_t nx = strcspn(x->entry, "="), ny = strcspn(y->entry, "=");
    int r = memcmp(x->entry, y->entry, nx < ny ? nx : ny);
    if (r == 0 && nx != ny)
        r = nx < ny ? -1 : 1;
    if (r == 0)
        r = x->index < y->index ? -1 : x->index > y->index;
    return r;
}

/*
 * The value to show for @name=@value: "***", masked URLs, or a placeholder when the value is
 * too long (or was @cut while copied) to be masked whole.
 */
static json_t *shown_value(const char *name, const char *value, bool cut)
{
    if (gmr__mask_name_is_secret(name))
        return gmr__json_string("***");
    if (cut || strlen(value) > MAX_VALUE) {
        char msg[96];
        snprintf(msg, sizeof(msg), "(value longer than %d KiB not shown)", MAX_VALUE / 1024);
        return gmr__json_string(msg);
    }
    char *masked;
    if (gmr__mask_url_credentials(value, &masked) < 0)
        return NULL;
    json_t *v = gmr__json_string(masked);
    gmr__free(masked);
    return v;
}

/* Adds one variable to @data; *@skipped counts those that cannot be shown. */
static int add_var(json_t *data, struct var *var, size_t *skipped)
{
    char *entry = var->entry;
    char *eq = strchr(entry, '=');
    if (!eq) { /* not NAME=value, or the name alone is longer than MAX_ENTRY */
        (*skipped)++;
        return 0;
    }
    *eq = '\0';
    /* Keys must be valid UTF-8: take the sanitized copy as the key. */
    json_t *key = gmr__json_string(entry);
    if (!key)
        return -ENOMEM;
    int r = 0;
    const char *k = json_string_value(key);
    if (json_object_get(data, k)) { /* duplicate name: getenv() sees the first one */
        (*skipped)++;
        goto out;
    }
    json_t *v = shown_value(entry, eq + 1, var->cut);
    if (!v || json_object_set_new(data, k, v) < 0)
        r = -ENOMEM;
out:
    json_decref(key);
    return r;
}

/*
 * gmr__section_environment_from() - see diag.h.  data: one member per variable, sorted by
 * name; "note" when variables were left out.
 * Context: reporter thread or caller context.
 */
int gmr__section_environment_from(json_t *section, char *const *envp)
{
    struct env_copy c = {0};
    json_t *data = json_object();
    int r = -ENOMEM;
    if (!data || json_object_set(section, "data", data) < 0)
        goto out;
    r = env_copy(&c, envp);
    if (r < 0)
        goto out;
    qsort(c.vars, c.n, sizeof(*c.vars), var_cmp);
    size_t skipped = 0;
    for (size_t i = 0; i < c.n; i++) {
        r = add_var(data, &c.vars[i], &skipped);
        if (r < 0)
            goto out;
    }
    if (c.not_shown || skipped) {
        char note[160];
        if (c.not_shown && skipped)
            snprintf(note, sizeof(note),
                     "%zu more variables not shown; %zu duplicate or "
                     "malformed entries not shown",
                     c.not_shown, skipped);
        else if (c.not_shown)
            snprintf(note, sizeof(note), "%zu more variables not shown", c.not_shown);
        else
            snprintf(note, sizeof(note), "%zu duplicate or malformed entries not shown", skipped);
        r = gmr__json_set_str(section, "note", note);
    }
out:
    env_copy_done(&c);
    json_decref(data);
    return r;
}

/*
 * gmr__section_environment() - see diag.h.
 * Context: reporter thread or caller context.
 */
int gmr__section_environment(json_t *section)
{
    extern char **environ;
    return gmr__section_environment_from(section, environ);
}
