/*
 * The JSON view: the model itself, as one indented document (two spaces per level, one member
 * per line, "key": value), followed by a newline.
 *
 * Written straight into the output buffer rather than through json_dump_callback(), which
 * hands every token to a callback and takes about as long as building the whole report.  And
 * since the Threads section shares one frame object between all the threads that have that
 * frame, an object or array held more than once is serialized once per report and its bytes
 * copied where it recurs (at the same depth, so with the same indentation).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "render/render.h"
#include "util/alloc.h"

#define INDENT_STEP 2
/* Deeper documents are refused: a model is never this deep (see GMR_WRITER_MAX_DEPTH). */
#define MAX_DEPTH 2048
/* Shared containers remembered per report; beyond this they are serialized each time. */
#define MEMO_MAX (1u << 20)

/* Where the serialized form of a shared container already is in the output. */
struct memo_entry {
    const json_t *node; /* borrowed; NULL: empty slot */
    size_t off;         /* first byte in the output buffer */
    size_t len;
    int depth;          /* nesting depth it was written at */
};

struct json_writer {
    struct gmr__buf *out;
    struct memo_entry *memo; /* owned; NULL until a shared container is met */
    size_t memo_cap;         /* power of two */
    size_t memo_used;
};

static size_t memo_hash(const json_t *node, size_t mask)
{
    return (size_t)(((uint64_t)(uintptr_t)node * 0x9E3779B97F4A7C15ull) >> 24) & mask;
}

static struct memo_entry *memo_find(struct json_writer *w, const json_t *node)
{
    if (!w->memo)
        return NULL;
    size_t mask = w->memo_cap - 1;
    for (size_t i = memo_hash(node, mask);; i = (i + 1) & mask) {
        if (w->memo[i].node == node)
            return &w->memo[i];
        if (!w->memo[i].node)
            return NULL;
    }
}

/* Remembers @e; when the table cannot grow, the container is simply not remembered. */
static void memo_add(struct json_writer *w, const struct memo_entry *e)
{
    if (w->memo_used >= MEMO_MAX)
        return;
    if ((w->memo_used + 1) * 2 > w->memo_cap) {
        size_t cap = w->memo_cap ? w->memo_cap * 2 : 256;
        struct memo_entry *m = gmr__calloc(cap, sizeof(*m));
        if (!m)
            return;
        for (size_t i = 0; i < w->memo_cap; i++) {
            if (!w->memo[i].node)
                continue;
            size_t j = memo_hash(w->memo[i].node, cap - 1);
            while (m[j].node)
                j = (j + 1) & (cap - 1);
            m[j] = w->memo[i];
        }
        gmr__free(w->memo);
        w->memo = m;
        w->memo_cap = cap;
    }
    size_t mask = w->memo_cap - 1;
    size_t i = memo_hash(e->node, mask);
    while (w->memo[i].node)
        i = (i + 1) & mask;
    w->memo[i] = *e;
    w->memo_used++;
}

static void newline_indent(struct gmr__buf *out, int depth)
{
    gmr__buf_putc(out, '\n');
    gmr__buf_repeat(out, ' ', (size_t)depth * INDENT_STEP);
}

/* Length of the valid UTF-8 sequence at @p (at most @n bytes), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    uint32_t min, cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, min = 0x80, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, min = 0x800, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/*
 * Writes @s as a JSON string: quote, backslash and control characters escaped (as jansson
 * does: \b \f \n \r \t, else \u00XX), everything else as is.  Strings in the model are UTF-8
 * (gmr__json_string() makes them so), but a string made without jansson's check could hold
 * other bytes: each such byte becomes U+FFFD, so the output is always valid JSON.
 */
static void put_string(struct gmr__buf *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    gmr__buf_putc(out, '"');
    size_t run = 0; /* start of the bytes not yet written */
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        size_t len = c >= 0x80 ? utf8_len(p + i, n - i) : 0;
        if (len) {
            i += len;
            continue;
        }
        gmr__buf_append(out, s + run, i - run);
        char esc[8];
        switch (c) {
        case '"':
            gmr__buf_append(out, "\\\"", 2);
            break;
        case '\\':
            gmr__buf_append(out, "\\\\", 2);
            break;
        case '\b':
            gmr__buf_append(out, "\\b", 2);
            break;
        case '\f':
            gmr__buf_append(out, "\\f", 2);
            break;
        case '\n':
            gmr__buf_append(out, "\\n", 2);
            break;
        case '\r':
            gmr__buf_append(out, "\\r", 2);
            break;
        case '\t':
            gmr__buf_append(out, "\\t", 2);
            break;
        default:
            if (c < 0x20) {
                snprintf(esc, sizeof(esc), "\\u%04X", c);
                gmr__buf_append(out, esc, 6);
            } else {
                gmr__buf_append(out, "\xEF\xBF\xBD", 3); /* U+FFFD */
            }
            break;
        }
        i++;
        run = i;
    }
    gmr__buf_append(out, s + run, n - run);
    gmr__buf_putc(out, '"');
}

static void put_integer(struct gmr__buf *out, json_int_t v)
{
    char num[24];
    char *end = num + sizeof(num), *p = end;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    gmr__buf_append(out, p, (size_t)(end - p));
}

/*
 * A real as "%.17g" (reads back as the same double), with a '.' whatever the locale's decimal
 * point, ".0" added to a whole number so it does not read back as an integer, and the
 * exponent without '+' or leading zeros ("1e300"), as jansson writes it.
 */
static void put_real(struct gmr__buf *out, double d)
{
    char num[40], res[40];
    int n = snprintf(num, sizeof(num), "%.17g", d);
    if (n <= 0 || (size_t)n >= sizeof(num)) {
        gmr__buf_append(out, "0.0", 3);
        return;
    }
    size_t k = 0;
    bool point = false;
    for (int i = 0; i < n; i++) {
        char c = num[i];
        if (c == 'e') {
            point = true;
            res[k++] = c;
            if (num[i + 1] == '-')
                res[k++] = num[++i];
            else if (num[i + 1] == '+')
                i++;
            while (num[i + 1] == '0' && num[i + 2] >= '0' && num[i + 2] <= '9')
                i++;
        } else if (c >= '0' && c <= '9') {
            res[k++] = c;
        } else if (c == '-' && i == 0) {
            res[k++] = c;
        } else {
            point = true; /* the locale's decimal point */
            res[k++] = '.';
        }
    }
    if (!point) {
        res[k++] = '.';
        res[k++] = '0';
    }
    gmr__buf_append(out, res, k);
}

static int put_value(struct json_writer *w, const json_t *v, int depth);

static int put_object(struct json_writer *w, const json_t *obj, int depth)
{
    struct gmr__buf *out = w->out;
    if (json_object_size(obj) == 0) {
        gmr__buf_append(out, "{}", 2);
        return 0;
    }
    gmr__buf_putc(out, '{');
    bool first = true;
    /* Insertion order: jansson's iterator follows it. */
    for (void *it = json_object_iter((json_t *)obj); it;
         it = json_object_iter_next((json_t *)obj, it)) {
        if (!first)
            gmr__buf_putc(out, ',');
        first = false;
        newline_indent(out, depth + 1);
        const char *key = json_object_iter_key(it);
        put_string(out, key, strlen(key));
        gmr__buf_append(out, ": ", 2);
        int r = put_value(w, json_object_iter_value(it), depth + 1);
        if (r < 0)
            return r;
    }
    newline_indent(out, depth);
    gmr__buf_putc(out, '}');
    return 0;
}

static int put_array(struct json_writer *w, const json_t *arr, int depth)
{
    struct gmr__buf *out = w->out;
    size_t n = json_array_size(arr);
    if (n == 0) {
        gmr__buf_append(out, "[]", 2);
        return 0;
    }
    gmr__buf_putc(out, '[');
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            gmr__buf_putc(out, ',');
        newline_indent(out, depth + 1);
        int r = put_value(w, json_array_get(arr, i), depth + 1);
        if (r < 0)
            return r;
    }
    newline_indent(out, depth);
    gmr__buf_putc(out, ']');
    return 0;
}

/* An object or array: copied from its first rendering when it is shared and was seen. */
static int put_container(struct json_writer *w, const json_t *v, int depth)
{
    struct gmr__buf *out = w->out;
    bool shared = v->refcount > 1;
    if (shared) {
        struct memo_entry *e = memo_find(w, v);
        if (e && e->depth == depth && !out->error) {
            /* Room first: growing the buffer may move the bytes being copied. */
            size_t at = out->len;
            gmr__buf_repeat(out, ' ', e->len);
            if (!out->error)
                memcpy(out->data + at, out->data + e->off, e->len);
            return 0;
        }
    }
    size_t start = out->len;
    int r = json_is_object(v) ? put_object(w, v, depth) : put_array(w, v, depth);
    if (r == 0 && shared && !out->error && !memo_find(w, v)) {
        struct memo_entry e = {.node = v, .off = start, .len = out->len - start, .depth = depth};
        memo_add(w, &e);
    }
    return r;
}

static int put_value(struct json_writer *w, const json_t *v, int depth)
{
    struct gmr__buf *out = w->out;
    if (depth > MAX_DEPTH)
        return -ELOOP;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
    case JSON_ARRAY:
        return put_container(w, v, depth);
    case JSON_STRING:
        put_string(out, json_string_value(v), json_string_length(v));
        return 0;
    case JSON_INTEGER:
        put_integer(out, json_integer_value(v));
        return 0;
    case JSON_REAL:
        put_real(out, json_real_value(v));
        return 0;
    case JSON_TRUE:
        gmr__buf_append(out, "true", 4);
        return 0;
    case JSON_FALSE:
        gmr__buf_append(out, "false", 5);
        return 0;
    case JSON_NULL:
    default:
        gmr__buf_append(out, "null", 4);
        return 0;
    }
}

int gmr__render_json(const json_t *report, struct gmr__buf *out)
{
    if (!json_is_object(report))
        return -EINVAL;
    struct json_writer w = {.out = out};
    int r = put_value(&w, report, 0);
    gmr__free(w.memo);
    if (r < 0)
        return r;
    gmr__buf_putc(out, '\n');
    return gmr__buf_error(out);
}
