/*
 * Output of finished reports.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "output/sink.h"
#include "util/macro.h"

int gmr__write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void gmr__error_line(const char *fmt, ...)
{
    char line[512];
    int n = snprintf(line, sizeof(line), "libgmr: ");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : GMR_MIN((size_t)m, sizeof(line) - (size_t)n - 2));
    line[len++] = '\n';
    (void)gmr__write_all(STDERR_FILENO, line, len);
}
