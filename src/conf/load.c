/*
 * Loading INI files and strings with inih.  A load is parsed into a stage, then converted and
 * checked as a whole, then committed with no step that can fail: a bad file changes nothing.
 *
 * inih is used through ini_parse_stream() with our own line reader, because Debian's build
 * calls the handler without a line number: the reader counts lines, hands inih one line at a
 * time and keeps the raw text, so errors name their line and continuation lines are told
 * apart from repeated names.  inih's settings are process-wide and may belong to the
 * application; they are read (the line buffer size inih passes to the reader), never changed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmr/gmr.h>

#include "conf/conf-private.h"
#include "util/alloc.h"
#include "util/macro.h"

void gmr__conf_stage_init(struct gmr__conf_stage *st, gmr_conf *conf)
{
    *st = (struct gmr__conf_stage){.conf = conf};
}

static void item_done(struct gmr__conf_stage_item *it)
{
    gmr__free(it->group);
    gmr__free(it->name);
    gmr__free(it->raw);
    gmr__free(it->source);
    gmr__conf_opt_free(it->fresh);
    gmr__conf_value_done(&it->v);
}

void gmr__conf_stage_done(struct gmr__conf_stage *st)
{
    for (size_t i = 0; i < st->n_items; i++)
        item_done(&st->items[i]);
    gmr__free(st->items);
    for (size_t i = 0; i < st->n_files; i++)
        gmr__free(st->files[i]);
    gmr__free(st->files);
    *st = (struct gmr__conf_stage){.conf = st->conf};
}

static struct gmr__conf_stage_item *stage_find(struct gmr__conf_stage *st, enum gmr__layer layer,
                                               const char *group, const char *name)
{
    for (size_t i = 0; i < st->n_items; i++) {
        struct gmr__conf_stage_item *it = &st->items[i];
        if (it->layer == layer && strcmp(it->name, name) == 0 && strcmp(it->group, group) == 0)
            return it;
    }
    return NULL;
}

static int value_too_long(struct gmr__conf_stage *st, const char *source, const char *group,
                          const char *name)
{
    char label[128];
    gmr__conf_label_of(group, name, label, sizeof(label));
    gmr__conf_error(st->conf, "%s: option '%s': value longer than %d bytes", source, label,
                    GMR_CONF_MAX_VALUE);
    return -EINVAL;
}

int gmr__conf_stage_set(struct gmr__conf_stage *st, enum gmr__layer layer, const char *group,
                        const char *name, const char *raw, size_t len, const char *source)
{
    if (len > GMR_CONF_MAX_VALUE)
        return value_too_long(st, source, group, name);
    char *raw_copy = gmr__strndup(raw, len);
    char *source_copy = gmr__strdup(source);
    if (!raw_copy || !source_copy)
        goto nomem;

    struct gmr__conf_stage_item *it = stage_find(st, layer, group, name);
    if (!it) {
        if (st->n_items == st->cap_items) {
            size_t cap = st->cap_items ? 2 * st->cap_items : 16;
            void *p = gmr__realloc(st->items, cap * sizeof(st->items[0]));
            if (!p)
                goto nomem;
            st->items = p;
            st->cap_items = cap;
        }
        it = &st->items[st->n_items];
        *it = (struct gmr__conf_stage_item){.layer = layer};
        if (!(it->group = gmr__strdup(group)) || !(it->name = gmr__strdup(name))) {
            item_done(it);
            goto nomem;
        }
        st->n_items++;
    }
    /* A later setting of the same option in the same layer replaces the earlier one. */
    gmr__free(it->raw);
    gmr__free(it->source);
    it->raw = raw_copy;
    it->raw_len = len;
    it->source = source_copy;
    return 0;
nomem:
    gmr__free(raw_copy);
    gmr__free(source_copy);
    return -ENOMEM;
}

/* ------------------------------------------------------------------------------------------
 * INI text.
 * ------------------------------------------------------------------------------------------ */

struct parse {
    struct gmr__conf_stage *st;
    const char *name; /* the file's name, for sources and messages */
    const char *p;    /* the next line to hand out */
    const char *end;  /* end of the text */
    int line;         /* number of the line last handed to inih */
    const char *cur;  /* that line's raw text (not NUL-terminated) */
    size_t cur_len;
    bool cont_ok;      /* an indented line now continues the last value */
    size_t last;       /* index in st->items of the last value set */
    int err;           /* first error found by the reader or the handler, or 0 */
    int err_line;      /* its line */
    char err_msg[512]; /* its message */
};

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

static void fail(struct parse *ps, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the first error of the parse; later ones are consequences. */
static void fail(struct parse *ps, int err, const char *fmt, ...)
{
    if (ps->err)
        return;
    ps->err = err;
    ps->err_line = ps->line;
    int n = snprintf(ps->err_msg, sizeof(ps->err_msg), "%s:%d: ", ps->name, ps->line);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(ps->err_msg))
        (void)vsnprintf(ps->err_msg + n, sizeof(ps->err_msg) - (size_t)n, fmt, ap);
    va_end(ap);
}

/* inih's fgets-like reader: one line per call, without its line end. */
static char *read_line(char *str, int num, void *stream)
{
    struct parse *ps = stream;
    if (ps->err || ps->p >= ps->end || num < 2)
        return NULL;
    const char *s = ps->p;
    const char *nl = memchr(s, '\n', (size_t)(ps->end - s));
    const char *e = nl ? nl : ps->end;
    size_t len = (size_t)(e - s);
    ps->p = nl ? nl + 1 : ps->end;
    ps->line++;
    if (len > 0 && s[len - 1] == '\r')
        len--;
    if (memchr(s, '\0', len)) {
        fail(ps, -EINVAL, "NUL byte in line (not a text file?)");
        return NULL;
    }
    if (len > (size_t)num - 1) {
        fail(ps, -EINVAL, "line longer than %d bytes (split the value over indented lines)",
             num - 1);
        return NULL;
    }
    memcpy(str, s, len);
    str[len] = '\0';
    ps->cur = s;
    ps->cur_len = len;

    /*
     * As in oslo.config, a multi-line value ends at a blank line or at any line that is not
     * indented; an indented comment is skipped by inih and keeps the value open.
     */
    size_t i = 0;
    while (i < len && blank(s[i]))
        i++;
    if (i == 0 || i == len)
        ps->cont_ok = false;
    return str;
}

/* Strips blanks around @s in place. */
static char *strip(char *s)
{
    while (blank(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && blank(s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int continue_value(struct parse *ps, const char *value)
{
    struct gmr__conf_stage_item *it = &ps->st->items[ps->last];
    size_t add = strlen(value);
    if (it->raw_len + 1 + add > GMR_CONF_MAX_VALUE) {
        char label[128];
        gmr__conf_label_of(it->group, it->name, label, sizeof(label));
        fail(ps, -EINVAL, "option '%s': value longer than %d bytes", label, GMR_CONF_MAX_VALUE);
        return 0;
    }
    char *raw = gmr__realloc(it->raw, it->raw_len + 1 + add + 1);
    if (!raw) {
        fail(ps, -ENOMEM, "out of memory");
        return 0;
    }
    raw[it->raw_len] = '\n';
    memcpy(raw + it->raw_len + 1, value, add + 1);
    it->raw = raw;
    it->raw_len += 1 + add;
    return 1;
}

static int on_value(void *user, const char *section, const char *name, const char *value)
{
    struct parse *ps = user;
    if (ps->err)
        return 0;
    if (!value)
        value = "";

    /*
     * inih passes a continuation line with the previous name (cut to its name buffer), so the
     * name is compared as a prefix.
     */
    if (ps->cur_len > 0 && blank(ps->cur[0])) {
        const struct gmr__conf_stage_item *it = ps->cont_ok ? &ps->st->items[ps->last] : NULL;
        if (!it || strncmp(it->name, name, strlen(name)) != 0) {
            fail(ps, -EINVAL,
                 "indented line continues no option (a blank line ends a multi-line value)");
            return 0;
        }
        return continue_value(ps, value);
    }

    char group[64], label[128], source[4200];
    size_t slen = strlen(section);
    if (slen >= sizeof(group)) {
        fail(ps, -EINVAL, "section name longer than %d bytes", GMR_CONF_MAX_NAME);
        return 0;
    }
    memcpy(group, section, slen + 1);
    char *g = strip(group);
    gmr__conf_label_of(*g ? g : GMR_CONF_DEFAULT_GROUP, name, label, sizeof(label));
    /* inih cuts section names at 49 bytes: 48 is the longest we can tell apart. */
    if (strlen(g) > GMR_CONF_MAX_NAME) {
        fail(ps, -EINVAL, "section name longer than %d bytes", GMR_CONF_MAX_NAME);
        return 0;
    }
    if (!*g) {
        fail(ps, -EINVAL, "option '%s': outside of a [section]", name);
        return 0;
    }
    if (!*name) {
        fail(ps, -EINVAL, "empty option name");
        return 0;
    }
    if (strlen(name) > GMR_CONF_MAX_NAME) {
        fail(ps, -EINVAL, "option name longer than %d bytes", GMR_CONF_MAX_NAME);
        return 0;
    }

    /* oslo.config removes one pair of matching quotes around a value. */
    size_t vlen = strlen(value);
    if (vlen >= 2 && (value[0] == '"' || value[0] == '\'') && value[vlen - 1] == value[0]) {
        value++;
        vlen -= 2;
    }
    if (vlen > GMR_CONF_MAX_VALUE) {
        fail(ps, -EINVAL, "option '%s': value longer than %d bytes", label, GMR_CONF_MAX_VALUE);
        return 0;
    }

    (void)snprintf(source, sizeof(source), "%s:%d", ps->name, ps->line);
    struct gmr__conf_stage *st = ps->st;
    /* The item this value lands in: an earlier one of the same option, else a new one. */
    const struct gmr__conf_stage_item *it = stage_find(st, GMR__LAYER_FILE, g, name);
    size_t index = it ? (size_t)(it - st->items) : st->n_items;
    int r = gmr__conf_stage_set(st, GMR__LAYER_FILE, g, name, value, vlen, source);
    if (r < 0) {
        fail(ps, r, "out of memory");
        return 0;
    }
    ps->last = index;
    ps->cont_ok = true;
    return 1;
}

/* Explains a line that inih refused. */
static void syntax_error(struct parse *ps, const char *data, size_t len, int line)
{
    const char *s = data, *end = data + len;
    for (int n = 1; n < line && s < end; n++) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        s = nl ? nl + 1 : end;
    }
    while (s < end && blank(*s))
        s++;
    ps->err = 0;
    ps->line = line;
    if (s < end && *s == '[')
        fail(ps, -EINVAL, "section header without closing ']'");
    else
        fail(ps, -EINVAL, "expected 'name = value', '[section]' or a comment");
}

static bool has_file(char *const *files, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(files[i], name) == 0)
            return true;
    }
    return false;
}

int gmr__conf_stage_text(struct gmr__conf_stage *st, const char *name, const char *data, size_t len)
{
    gmr_conf *conf = st->conf;
    if (len > GMR_CONF_MAX_TEXT) {
        gmr__conf_error(conf, "%s: larger than %d bytes", name, GMR_CONF_MAX_TEXT);
        return -EFBIG;
    }
    if (st->n_files >= GMR_CONF_MAX_FILES) {
        gmr__conf_error(conf, "%s: too many files in one load (at most %d)", name,
                        GMR_CONF_MAX_FILES);
        return -EINVAL;
    }

    struct parse ps = {.st = st, .name = name, .p = data, .end = data + len};
    int r = ini_parse_stream(read_line, &ps, on_value, &ps);
    if (r < 0) {
        /* -1: cannot open (not used by streams); -2: inih could not allocate its buffer. */
        return -ENOMEM;
    }
    if (r > 0 && !(ps.err && ps.err_line == r))
        syntax_error(&ps, data, len, r);
    if (ps.err) {
        if (ps.err != -ENOMEM)
            gmr__conf_error(conf, "%s", ps.err_msg);
        return ps.err;
    }

    if (!has_file(st->files, st->n_files, name)) {
        if (st->n_files == st->cap_files) {
            size_t cap = st->cap_files ? 2 * st->cap_files : 8;
            void *p = gmr__realloc(st->files, cap * sizeof(st->files[0]));
            if (!p)
                return -ENOMEM;
            st->files = p;
            st->cap_files = cap;
        }
        if (!(st->files[st->n_files] = gmr__strdup(name)))
            return -ENOMEM;
        st->n_files++;
    }
    return 0;
}

int gmr__conf_stage_file(struct gmr__conf_stage *st, const char *path)
{
    gmr_conf *conf = st->conf;
    /* O_NONBLOCK: a FIFO named like a configuration file must not block the load. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int r = -errno;
        gmr__conf_error(conf, "%s: cannot open: %s", path, strerrordesc_np(-r));
        return r;
    }
    struct stat sb;
    char *data = NULL;
    size_t len = 0;
    int r = 0;
    if (fstat(fd, &sb) < 0) {
        r = -errno;
        gmr__conf_error(conf, "%s: cannot read: %s", path, strerrordesc_np(-r));
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        gmr__conf_error(conf, "%s: not a regular file", path);
        r = -EINVAL;
        goto out;
    }
    if (sb.st_size > GMR_CONF_MAX_TEXT) {
        gmr__conf_error(conf, "%s: larger than %d bytes", path, GMR_CONF_MAX_TEXT);
        r = -EFBIG;
        goto out;
    }
    /*
     * Sized by fstat(), plus one byte to notice a file that grew since; it may grow up to one
     * byte past the limit, which the parser then refuses.
     */
    size_t cap = (size_t)sb.st_size + 1;
    if (!(data = gmr__malloc(cap))) {
        r = -ENOMEM;
        goto out;
    }
    while (len <= GMR_CONF_MAX_TEXT) {
        if (len == cap) {
            size_t grow = GMR_MIN(2 * cap, (size_t)GMR_CONF_MAX_TEXT + 1);
            char *p = gmr__realloc(data, grow);
            if (!p) {
                r = -ENOMEM;
                goto out;
            }
            data = p;
            cap = grow;
        }
        ssize_t n = read(fd, data + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            gmr__conf_error(conf, "%s: cannot read: %s", path, strerrordesc_np(-r));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    r = gmr__conf_stage_text(st, path, data, len);
out:
    gmr__free(data);
    close(fd);
    return r;
}

int gmr__conf_stage_commit(struct gmr__conf_stage *st)
{
    gmr_conf *conf = st->conf;
    size_t fresh = 0, new_files = 0;
    char why[384], label[128];
    int r;

    for (size_t i = 0; i < st->n_items; i++) {
        struct gmr__conf_stage_item *it = &st->items[i];
        it->opt = gmr__conf_find(conf, it->group, it->name);
        if (it->opt && it->opt->type != GMR__OPT_UNREGISTERED) {
            gmr__conf_value_done(&it->v);
            r = gmr__conf_convert(it->opt, it->raw, &it->v, why, sizeof(why));
            if (r == -EINVAL) {
                gmr__conf_label(it->opt, label, sizeof(label));
                gmr__conf_error(conf, "%s: option '%s': %s", it->source, label, why);
            }
            if (r < 0)
                return r;
        } else if (!it->opt && !it->fresh) {
            /* Only files bring unregistered options; one item per option and layer. */
            assert(it->layer == GMR__LAYER_FILE);
            struct gmr__conf_opt *o = gmr__calloc(1, sizeof(*o));
            if (!o)
                return -ENOMEM;
            it->fresh = o;
            if (!(o->group = gmr__strdup(it->group)) || !(o->name = gmr__strdup(it->name)))
                return -ENOMEM;
        }
        fresh += it->fresh != NULL;
    }
    if (conf->n_opts + fresh > GMR_CONF_MAX_OPTIONS) {
        const char *where = st->n_files ? st->files[st->n_files - 1] : "command line";
        gmr__conf_error(conf, "%s: too many options (at most %d)", where, GMR_CONF_MAX_OPTIONS);
        return -EINVAL;
    }
    for (size_t i = 0; i < st->n_files; i++)
        new_files += !has_file(conf->files, conf->n_files, st->files[i]);
    if ((r = gmr__conf_reserve_opts(conf, fresh)) < 0 ||
        (r = gmr__conf_reserve_files(conf, new_files)) < 0)
        return r;

    /* Nothing below can fail. */
    for (size_t i = 0; i < st->n_items; i++) {
        struct gmr__conf_stage_item *it = &st->items[i];
        struct gmr__conf_opt *target = it->opt;
        if (!target) {
            target = it->fresh;
            it->fresh = NULL;
            conf->opts[conf->n_opts++] = target;
        }
        struct gmr__conf_layer *l = &target->layer[it->layer];
        gmr__conf_layer_done(l);
        l->raw = it->raw;
        l->source = it->source;
        l->v = it->v;
        it->raw = it->source = NULL;
        it->v = (struct gmr__conf_value){0};
    }
    for (size_t i = 0; i < st->n_files; i++) {
        if (!has_file(conf->files, conf->n_files, st->files[i])) {
            conf->files[conf->n_files++] = st->files[i];
            st->files[i] = NULL;
        }
    }
    return 0;
}

int gmr__conf_load_buffer(gmr_conf *conf, const char *name, const char *data, size_t len)
{
    GMR_RETURN_IF(!conf || !data, -EINVAL);
    struct gmr__conf_stage st;
    gmr__conf_lock(conf);
    gmr__conf_stage_init(&st, conf);
    int r = gmr__conf_stage_text(&st, name ? name : "<string>", data, len);
    if (r == 0)
        r = gmr__conf_stage_commit(&st);
    gmr__conf_stage_done(&st);
    gmr__conf_unlock(conf);
    return r;
}

int gmr_conf_load_string(gmr_conf *conf, const char *name, const char *text)
{
    GMR_RETURN_IF(!conf || !text, -EINVAL);
    return gmr__conf_load_buffer(conf, name, text, strnlen(text, GMR_CONF_MAX_TEXT + 1));
}

int gmr_conf_load_file(gmr_conf *conf, const char *path)
{
    GMR_RETURN_IF(!conf || !path, -EINVAL);
    struct gmr__conf_stage st;
    gmr__conf_lock(conf);
    gmr__conf_stage_init(&st, conf);
    int r = gmr__conf_stage_file(&st, path);
    if (r == 0)
        r = gmr__conf_stage_commit(&st);
    gmr__conf_stage_done(&st);
    gmr__conf_unlock(conf);
    return r;
}
