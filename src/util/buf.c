/*
 * Growable buffer and bounded formatting helpers.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"

void gmr__buf_done(struct gmr__buf *b)
{
    gmr__free(b->data);
    *b = (struct gmr__buf)GMR_BUF_INIT;
}

int gmr__buf_error(const struct gmr__buf *b)
{
    return b->error;
}

/* Makes room for @extra more bytes plus the NUL; sets the sticky error on failure. */
static int reserve(struct gmr__buf *b, size_t extra)
{
    if (b->error)
        return b->error;
    if (extra > SIZE_MAX / 2 - b->len) {
        b->error = -ENOMEM;
        return b->error;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = gmr__realloc(b->data, cap);
    if (!p) {
        b->error = -ENOMEM;
        return b->error;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void gmr__buf_append(struct gmr__buf *b, const char *s, size_t n)
{
    if (reserve(b, n) < 0)
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void gmr__buf_puts(struct gmr__buf *b, const char *s)
{
    gmr__buf_append(b, s, strlen(s));
}

void gmr__buf_putc(struct gmr__buf *b, char c)
{
    gmr__buf_append(b, &c, 1);
}

void gmr__buf_repeat(struct gmr__buf *b, char c, size_t n)
{
    if (reserve(b, n) < 0)
        return;
    memset(b->data + b->len, c, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void gmr__buf_vprintf(struct gmr__buf *b, const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0) {
        if (!b->error)
            b->error = -EINVAL;
        return;
    }
    if (reserve(b, (size_t)n) < 0)
        return;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void gmr__buf_printf(struct gmr__buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gmr__buf_vprintf(b, fmt, ap);
    va_end(ap);
}

char *gmr__buf_steal(struct gmr__buf *b, size_t *ret_len)
{
    if (b->error || reserve(b, 0) < 0) {
        gmr__buf_done(b);
        return NULL;
    }
    char *p = b->data;
    if (ret_len)
        *ret_len = b->len;
    *b = (struct gmr__buf)GMR_BUF_INIT;
    return p;
}

char *gmr__vasprintf_max(size_t max, const char *fmt, va_list ap)
{
    static const char ellipsis[] = "...";
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0)
        return NULL;
    size_t len = (size_t)n > max ? max : (size_t)n;
    char *s = gmr__malloc((size_t)n > max ? max + 1 : (size_t)n + 1);
    if (!s)
        return NULL;
    if ((size_t)n <= max) {
        vsnprintf(s, len + 1, fmt, ap);
        return s;
    }
    /* Too long: format into a full-size temporary, keep the head and mark the cut. */
    char *full = gmr__malloc((size_t)n + 1);
    if (!full) {
        gmr__free(s);
        return NULL;
    }
    vsnprintf(full, (size_t)n + 1, fmt, ap);
    size_t keep = max >= sizeof(ellipsis) - 1 ? max - (sizeof(ellipsis) - 1) : 0;
    /* Do not cut a UTF-8 sequence in half. */
    while (keep > 0 && ((unsigned char)full[keep] & 0xC0) == 0x80)
        keep--;
    memcpy(s, full, keep);
    memcpy(s + keep, ellipsis, sizeof(ellipsis));
    gmr__free(full);
    return s;
}

char *gmr__asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = gmr__vasprintf_max(SIZE_MAX - 1, fmt, ap);
    va_end(ap);
    return s;
}
