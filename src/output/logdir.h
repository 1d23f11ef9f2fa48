/*
 * Reports as files in a log directory ([oslo_reports] log_dir).
 *
 * Each report becomes a new file <service>_gurumeditation_<YYYYMMDDHHMMSS> (UTC), ".json"
 * appended for JSON.  When that name is taken (several reports in one second, several
 * processes of one service sharing the directory, or anything else already there, symlinks
 * included) the first free name of <base>_1, <base>_2, ... <base>_999 is used, the suffix
 * going before ".json".  A name is claimed by the final rename itself, which never replaces
 * anything, so concurrent writers cannot overwrite each other.
 *
 * Context: reporter thread or caller context; never a signal handler.
 */
#ifndef GMR_OUTPUT_LOGDIR_H
#define GMR_OUTPUT_LOGDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Suffixes tried after the plain name before giving up with -EEXIST. */
#define GMR_LOGDIR_MAX_SUFFIX 999

/* Bytes of the sanitized service name kept in file names. */
#define GMR_LOGDIR_MAX_SERVICE 128

/*
 * gmr__logdir_write() - write one finished report as a new file in @dir.
 * @dir:          the log directory; it must exist.  A symlink here is followed (an
 *                administrator may point log_dir anywhere); no file name inside it is.
 * @service_name: names the file; characters other than ASCII letters, digits and "+-.@_"
 *                become '_', a leading '.' too, and it is cut to GMR_LOGDIR_MAX_SERVICE bytes,
 *                so the name never leaves @dir nor hides
 * @json:         append ".json" to the name
 * @data, @len:   the rendered report
 * @ret_path:     on success, "<dir>/<name>"; free with gmr__free()
 *
 * The data goes to a hidden temporary file in @dir (".<name>.tmp.<pid>.<random>", created
 * O_EXCL|O_NOFOLLOW, mode 0600 whatever the umask), is fsync'd, then renamed to the final
 * name with RENAME_NOREPLACE (or link() + unlink() where the kernel or filesystem lacks it),
 * and the directory is fsync'd.  Readers never see half a report; a crash midway may leave
 * a hidden temporary file behind.  SIGXFSZ is blocked in the calling thread while writing, so
 * exceeding RLIMIT_FSIZE gives -EFBIG instead of killing the process; the signal this raises
 * is consumed unless it was already pending.
 *
 * Return: 0; -EINVAL (NULL or empty argument); -ENOMEM; -EEXIST (every suffix taken); or the
 *         failing call's -errno (-ENOENT, -ENOTDIR, -EACCES, -EROFS, -ENOSPC, -EDQUOT, -EFBIG,
 *         -EIO, ...).  On failure no file is left behind, except in one case: the report is
 *         in place but fsync of the directory failed (-EIO and the like), so its durability
 *         is not known; the caller then also writes the report elsewhere.
 * Context: reporter thread or caller context.
 */
int gmr__logdir_write(const char *dir, const char *service_name, bool json, const char *data,
                      size_t len, char **ret_path);

/*
 * gmr__logdir_write_at() - gmr__logdir_write() with its inputs fixed, for tests.
 * @when:        the time for the name (seconds since the epoch), instead of now
 * @first_nonce: non-zero: the random part of the first temporary name tried, printed as 16
 *               hex digits; later attempts are random
 * Context: reporter thread or caller context.
 */
int gmr__logdir_write_at(const char *dir, const char *service_name, bool json, const char *data,
                         size_t len, time_t when, uint64_t first_nonce, char **ret_path);

/*
 * gmr__logdir_sanitize() - the service name as used in file names (see gmr__logdir_write())
 * into @buf, which has room for GMR_LOGDIR_MAX_SERVICE + 1 bytes.  Returns @buf.
 * Context: any ordinary code.
 */
char *gmr__logdir_sanitize(const char *service_name, char *buf);

#endif /* GMR_OUTPUT_LOGDIR_H */
