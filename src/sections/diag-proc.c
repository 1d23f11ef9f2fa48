/*
 * Helpers shared by the diagnostics sections: a bounded file reader, the "Key: value" parser
 * of /proc/self/status, /proc/meminfo and /proc/cpuinfo, and formatted model values.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "render/render.h"
#include "sections/diag.h"
#include "util/alloc.h"

/*
 * gmr__read_proc_file() - see diag.h.  The buffer starts small and doubles up to @max + 1, so
 * a 1 KiB status file does not cost a 1 MiB allocation.  Files in /proc report size 0, so
 * the size cannot come from fstat.
 * Context: reporter thread or caller context.
 */
int gmr__read_proc_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    size_t cap = max < 4096 ? max + 1 : 4096;
    size_t len = 0;
    int r = 0;
    char *buf = gmr__malloc(cap);
    if (!buf) {
        r = -ENOMEM;
        goto out_close;
    }
    while (len < max) {
        if (len + 1 == cap) {
            size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *n = gmr__realloc(buf, ncap);
            if (!n) {
                r = -ENOMEM;
                goto out_close;
            }
            buf = n;
            cap = ncap;
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            goto out_close;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    *ret = buf;
    buf = NULL;
    if (ret_len)
        *ret_len = len;
out_close:
    gmr__free(buf);
    close(fd);
    return r;
}

/*
 * gmr__parse_u64() - see diag.h.
 * Context: any thread; pure.
 */
bool gmr__parse_u64(const char *s, size_t n, unsigned base, uint64_t *ret)
{
    uint64_t v = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return false;
        if (d >= base || v > (UINT64_MAX - d) / base)
            return false;
        v = v * base + d;
    }
    *ret = v;
    return true;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/*
 * gmr__parse_status_kv() - see diag.h.  Only whole-line matches count, so "VmRSS" does not
 * match a line "XVmRSS:" and "cpu" does not match "cpu family".
 * Context: any thread; pure.
 */
int gmr__parse_status_kv(const char *text, const char *key, char *buf, size_t size)
{
    if (!size)
        return -EINVAL;
    buf[0] = '\0';
    size_t klen = strlen(key);
    for (const char *line = text; line && *line;) {
        const char *eol = strchr(line, '\n');
        const char *end = eol ? eol : line + strlen(line);
        if ((size_t)(end - line) > klen && memcmp(line, key, klen) == 0) {
            const char *p = line + klen;
            while (p < end && is_blank(*p))
                p++;
            if (p < end && *p == ':') {
                p++;
                while (p < end && (is_blank(*p) || *p == '\r'))
                    p++;
                const char *q = end;
                while (q > p && (is_blank(q[-1]) || q[-1] == '\r'))
                    q--;
                size_t n = (size_t)(q - p) < size - 1 ? (size_t)(q - p) : size - 1;
                memcpy(buf, p, n);
                buf[n] = '\0';
                return 0;
            }
        }
        line = eol ? eol + 1 : NULL;
    }
    return -ENOENT;
}

/*
 * gmr__diag_set_fmt() - see diag.h.
 * Context: reporter thread or caller context.
 */
int gmr__diag_set_fmt(json_t *obj, const char *key, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return gmr__json_set_str(obj, key, buf);
}
