/*
 * Reading small files whole: the /proc files of threads and processes.
 * Context: ordinary code only (reporter thread or caller context); never a signal handler.
 */
#ifndef GMR_UTIL_FILE_H
#define GMR_UTIL_FILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * gmr__read_small() - read a whole small file, relative to @dirfd (or AT_FDCWD), into @buf.
 * @buf is NUL-terminated; at most @size - 1 bytes are read, the rest is cut.  EINTR is retried.
 * Return: bytes read, or -errno (open or read failed; @buf is then undefined).
 */
ssize_t gmr__read_small(int dirfd, const char *path, char *buf, size_t size);

#endif /* GMR_UTIL_FILE_H */
