/*
 * The structured writer that application sections use to fill the report model, and the
 * model helpers shared by the built-in sections.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include <gmr/gmr.h>

#include "render/render.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/macro.h"

/* Length of the valid UTF-8 sequence at @s (1..4), or 0 when the bytes there are invalid. */
static size_t utf8_seq_len(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned min;
    unsigned cp;
    if ((c & 0xE0) == 0xC0) {
        n = 2, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

json_t *gmr__json_string(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (p[i]) {
        size_t n = utf8_seq_len(p + i);
        if (!n)
            break;
        i += n;
    }
    if (!p[i])
        return json_stringn_nocheck(s, i);

    /* Invalid bytes present: copy, replacing each with U+FFFD. */
    struct gmr__buf b = GMR_BUF_INIT;
    for (i = 0; p[i];) {
        size_t n = utf8_seq_len(p + i);
        if (n) {
            gmr__buf_append(&b, (const char *)p + i, n);
            i += n;
        } else {
            gmr__buf_puts(&b, "\xEF\xBF\xBD");
            i++;
        }
    }
    size_t len;
    char *clean = gmr__buf_steal(&b, &len);
    if (!clean)
        return NULL;
    json_t *j = json_stringn_nocheck(clean, len);
    gmr__free(clean);
    return j;
}

int gmr__json_set_str(json_t *obj, const char *key, const char *s)
{
    json_t *v = gmr__json_string(s ? s : "");
    if (!v)
        return -ENOMEM;
    return json_object_set_new(obj, key, v) == 0 ? 0 : -ENOMEM;
}

json_t *gmr__model_section(json_t *report, const char *title, const char *type)
{
    json_t *sections = json_object_get(report, "sections");
    json_t *sec = json_object();
    if (!sec || !sections)
        goto fail;
    if (gmr__json_set_str(sec, "title", title) < 0 || gmr__json_set_str(sec, "type", type) < 0)
        goto fail;
    if (json_array_append(sections, sec) < 0)
        goto fail;
    json_decref(sec); /* now owned by the array */
    return sec;
fail:
    json_decref(sec);
    return NULL;
}

int gmr__model_section_error(json_t *section, const char *msg)
{
    return gmr__json_set_str(section, "error", msg);
}

void gmr__writer_init(struct gmr_writer *w, json_t *data)
{
    memset(w, 0, sizeof(*w));
    w->stack[0] = data;
    w->depth = 0;
}

/* Adds @value (reference stolen) under @key to the innermost container. */
static int add_value(gmr_writer *w, const char *key, json_t *value)
{
    json_t *top = w->stack[w->depth];
    int r = 0;
    if (!value)
        return -ENOMEM;
    if (json_is_object(top)) {
        if (!key || !*key)
            r = -EINVAL;
        else if (json_object_get(top, key))
            r = -EEXIST;
        else if (json_object_set_new_nocheck(top, key, value) < 0)
            return -ENOMEM; /* jansson released @value */
        else
            return 0;
        json_decref(value);
        return r;
    }
    if (key) {
        json_decref(value);
        return -EINVAL;
    }
    return json_array_append_new(top, value) == 0 ? 0 : -ENOMEM;
}

/* Checks that @key is valid UTF-8 as jansson requires of object keys. */
static bool key_ok(const char *key)
{
    if (!key)
        return true;
    for (const unsigned char *p = (const unsigned char *)key; *p;) {
        size_t n = utf8_seq_len(p);
        if (!n)
            return false;
        p += n;
    }
    return true;
}

int gmr_writer_vkv(gmr_writer *w, const char *key, const char *fmt, va_list ap)
{
    GMR_RETURN_IF(!w || !key || !*key || !fmt || !key_ok(key), -EINVAL);
    GMR_RETURN_IF(!json_is_object(w->stack[w->depth]), -EINVAL);
    GMR_RETURN_IF(json_object_get(w->stack[w->depth], key), -EEXIST);
    char *s = gmr__vasprintf_max(GMR_WRITER_MAX_VALUE, fmt, ap);
    if (!s)
        return -ENOMEM;
    json_t *v = gmr__json_string(s);
    gmr__free(s);
    return add_value(w, key, v);
}

int gmr_writer_kv(gmr_writer *w, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = gmr_writer_vkv(w, key, fmt, ap);
    va_end(ap);
    return r;
}

int gmr_writer_item(gmr_writer *w, const char *fmt, ...)
{
    GMR_RETURN_IF(!w || !fmt, -EINVAL);
    GMR_RETURN_IF(!json_is_array(w->stack[w->depth]), -EINVAL);
    va_list ap;
    va_start(ap, fmt);
    char *s = gmr__vasprintf_max(GMR_WRITER_MAX_VALUE, fmt, ap);
    va_end(ap);
    if (!s)
        return -ENOMEM;
    json_t *v = gmr__json_string(s);
    gmr__free(s);
    return add_value(w, NULL, v);
}

/* Opens a new container @c under @key; takes the reference to @c. */
static int begin(gmr_writer *w, const char *key, json_t *c)
{
    if (!c)
        return -ENOMEM;
    if (!w || !key_ok(key) || (key && !*key)) {
        json_decref(c);
        return -EINVAL;
    }
    if (w->depth >= GMR_WRITER_MAX_DEPTH) {
        json_decref(c);
        return -E2BIG;
    }
    json_incref(c); /* keep a reference across add_value() for the stack */
    int r = add_value(w, key, c);
    if (r < 0) {
        json_decref(c);
        return r;
    }
    w->stack[++w->depth] = c;
    json_decref(c); /* the parent owns it now; the stack borrows */
    return 0;
}

int gmr_writer_begin_object(gmr_writer *w, const char *key)
{
    GMR_RETURN_IF(!w, -EINVAL);
    return begin(w, key, json_object());
}

int gmr_writer_begin_list(gmr_writer *w, const char *key)
{
    GMR_RETURN_IF(!w, -EINVAL);
    return begin(w, key, json_array());
}

int gmr_writer_end(gmr_writer *w)
{
    GMR_RETURN_IF(!w || w->depth == 0, -EINVAL);
    w->stack[w->depth--] = NULL;
    return 0;
}
