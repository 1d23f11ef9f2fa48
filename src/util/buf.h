/*
 * A growable byte buffer, always NUL-terminated, for rendering reports.
 * Context: ordinary code only; never a signal handler.
 *
 * Errors are sticky: after a failed append, later appends do nothing and gmr__buf_error()
 * returns -ENOMEM, so callers may check once at the end.
 */
#ifndef GMR_UTIL_BUF_H
#define GMR_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct gmr__buf {
    char *data;  /* owned; NULL until the first append */
    size_t len;  /* bytes used, excluding the terminating NUL */
    size_t cap;  /* bytes allocated */
    int error;   /* 0 or the first -errno */
};

#define GMR_BUF_INIT {NULL, 0, 0, 0}

void gmr__buf_done(struct gmr__buf *b);
int gmr__buf_error(const struct gmr__buf *b);
void gmr__buf_append(struct gmr__buf *b, const char *s, size_t n);
void gmr__buf_puts(struct gmr__buf *b, const char *s);
void gmr__buf_putc(struct gmr__buf *b, char c);
void gmr__buf_repeat(struct gmr__buf *b, char c, size_t n);
void gmr__buf_printf(struct gmr__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gmr__buf_vprintf(struct gmr__buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Hands the data out (caller frees with gmr__free) and resets the buffer; NULL on error. */
char *gmr__buf_steal(struct gmr__buf *b, size_t *ret_len);

/*
 * gmr__vasprintf() - format into a new string of at most @max bytes (plus NUL); longer results
 * are cut and end with "...".  Return: the string (free with gmr__free) or NULL (-ENOMEM).
 */
char *gmr__vasprintf_max(size_t max, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
char *gmr__asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* GMR_UTIL_BUF_H */
