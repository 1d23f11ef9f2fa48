/*
 * Where reports go: a file descriptor (stderr by default) or a new file in the log directory.
 * Context: reporter thread or caller context; never a signal handler.
 */
#ifndef GMR_OUTPUT_SINK_H
#define GMR_OUTPUT_SINK_H

#include <stddef.h>

/*
 * gmr__write_all() - write all @len bytes of @data to @fd, retrying short writes and EINTR.
 * Return: 0 or -errno (what could be written was written).
 */
int gmr__write_all(int fd, const void *data, size_t len);

/*
 * gmr__error_line() - write one line "libgmr: <message>\n" to stderr in a single write.
 * The library's only output besides reports.
 */
void gmr__error_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* GMR_OUTPUT_SINK_H */
