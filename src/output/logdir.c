/*
 * Reports as files in a log directory: temporary file, fsync, rename that never replaces,
 * fsync of the directory.  See logdir.h for the naming rules.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "output/logdir.h"
#include "output/sink.h"
#include "util/alloc.h"
#include "util/macro.h"
#include "util/utc.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1u << 0)
#endif

/* Attempts at a fresh temporary name before giving up. */
#define TEMP_ATTEMPTS 16

/*
 * Name buffers: the base name (service, "_gurumeditation_", stamp), then the final name (plus
 * "_<n>.json") and the temporary one (plus ".", ".tmp.<pid>.<16 hex digits>").
 */
#define BASE_SIZE  (GMR_LOGDIR_MAX_SERVICE + 1 + 16 + 32)
#define FINAL_SIZE (BASE_SIZE + 16)
#define TEMP_SIZE  (BASE_SIZE + 48)
_Static_assert(FINAL_SIZE <= NAME_MAX + 1 && TEMP_SIZE <= NAME_MAX + 1, "names fit NAME_MAX");

#ifdef SYS_renameat2
static int sys_renameat2(int olddfd, const char *oldname, int newdfd, const char *newname,
                         unsigned flags)
{
    return (int)syscall(SYS_renameat2, olddfd, oldname, newdfd, newname, flags);
}
#else
static int sys_renameat2(int olddfd, const char *oldname, int newdfd, const char *newname,
                         unsigned flags)
{
    (void)olddfd, (void)oldname, (void)newdfd, (void)newname, (void)flags;
    errno = ENOSYS;
    return -1;
}
#endif

char *gmr__logdir_sanitize(const char *service_name, char *buf)
{
    size_t n = 0;
    for (const char *p = service_name; *p && n < GMR_LOGDIR_MAX_SERVICE; p++) {
        unsigned char c = (unsigned char)*p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '-' || c == '.' || c == '@' || c == '_';
        /* A leading '.' would hide the file, and "." or ".." would name a directory. */
        if (n == 0 && c == '.')
            ok = false;
        buf[n++] = ok ? (char)c : '_';
    }
    buf[n] = '\0';
    return buf;
}

/*
 * A random 64-bit value for temporary names.  getrandom() does not block once the pool is
 * initialized; before that (early boot), time and address bits are unpredictable enough for
 * a name that O_EXCL protects anyway.
 */
static uint64_t temp_nonce(void)
{
    uint64_t v;
    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
        return v;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&v;
}

/*
 * Blocks SIGXFSZ around the write.  Exceeding RLIMIT_FSIZE makes write() fail with EFBIG and
 * sends SIGXFSZ to the writing thread (thread-directed, generic_write_checks() in the
 * kernel); its default action kills the process.  Blocked, the signal stays pending on this
 * thread, where it is taken back with sigtimedwait() unless it was already pending.
 */
struct xfsz_guard {
    sigset_t old;     /* the thread's mask before */
    bool was_pending; /* SIGXFSZ pending before we wrote */
};

static void xfsz_block(struct xfsz_guard *g)
{
    sigset_t set, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGXFSZ);
    pthread_sigmask(SIG_BLOCK, &set, &g->old);
    g->was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGXFSZ) == 1;
}

static void xfsz_restore(struct xfsz_guard *g, bool hit_limit)
{
    sigset_t set, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGXFSZ);
    if (hit_limit && !g->was_pending && sigpending(&pending) == 0 &&
        sigismember(&pending, SIGXFSZ) == 1) {
        const struct timespec zero = {0, 0};
        (void)sigtimedwait(&set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static int fsync_retry(int fd)
{
    while (fsync(fd) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

/* Creates the temporary file; its name goes to @tmp (TEMP_SIZE bytes). */
static int create_temp(int dfd, const char *base, uint64_t first_nonce, char *tmp)
{
    for (int i = 0; i < TEMP_ATTEMPTS; i++) {
        uint64_t nonce = (i == 0 && first_nonce) ? first_nonce : temp_nonce();
        snprintf(tmp, TEMP_SIZE, ".%s.tmp.%ld.%016" PRIx64, base, (long)getpid(), nonce);
        /* O_EXCL: never opens an existing file, nor follows a symlink planted at the name. */
        int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0)
            return fd;
        if (errno != EEXIST)
            return -errno;
    }
    return -EEXIST;
}

/* Writes @data to @fd, synced, mode 0600. */
static int fill_temp(int fd, const char *data, size_t len)
{
    /* Mode 0600 whatever the umask was when the file was created. */
    if (fchmod(fd, 0600) < 0)
        return -errno;
    struct xfsz_guard g;
    xfsz_block(&g);
    int r = gmr__write_all(fd, data, len);
    xfsz_restore(&g, r == -EFBIG);
    if (r < 0)
        return r;
    return fsync_retry(fd);
}

/*
 * Gives the temporary file the name @final, failing with -EEXIST when anything has that name.
 * renameat2(RENAME_NOREPLACE) is atomic; kernels before 3.15 say ENOSYS and some filesystems
 * EINVAL, and then link() does the same job (it never replaces either), the temporary name
 * being removed by the caller.
 */
static int claim_name(int dfd, const char *tmp, const char *final, bool *linked)
{
    if (sys_renameat2(dfd, tmp, dfd, final, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != ENOSYS && errno != EINVAL)
        return -errno;
    if (linkat(dfd, tmp, dfd, final, 0) < 0)
        return -errno;
    *linked = true;
    return 0;
}

/*
 * Opens the log directory.  A symlink to a directory is followed: log_dir is set by whoever
 * configures the service.  Without read permission (a write-only drop directory) O_PATH is
 * enough for the *at() calls, but not for fsync(); *can_sync says which one we got.
 */
static int open_dir(const char *dir, bool *can_sync)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    *can_sync = dfd >= 0;
    if (dfd < 0 && errno == EACCES)
        dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    return dfd < 0 ? -errno : dfd;
}

/*
 * Writes the report under a temporary name, then claims the first free final name.  With
 * @first_nonce non-zero, the first temporary name tried uses it.
 */
static int write_report(const char *dir, const char *service_name, bool json, const char *data,
                        size_t len, time_t when, uint64_t first_nonce, char **ret_path)
{
    char svc[GMR_LOGDIR_MAX_SERVICE + 1];
    char stamp[32];
    char base[BASE_SIZE];
    char final[FINAL_SIZE];
    char tmp[TEMP_SIZE];
    struct tm tm;
    bool can_sync, linked = false;
    int dfd, fd, r;

    if (!dir || !*dir || !service_name || !*service_name || (!data && len) || !ret_path)
        return -EINVAL;
    /* Not gmtime_r(): see util/utc.h. */
    if (!gmr__utc_tm(when, &tm) || strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm) == 0)
        return -EOVERFLOW;
    gmr__logdir_sanitize(service_name, svc);
    int n = snprintf(base, sizeof(base), "%s_gurumeditation_%s", svc, stamp);
    if (GMR_NEVER(n < 0 || (size_t)n >= sizeof(base)))
        return -ENAMETOOLONG;

    /* Allocated first: once the report is in place, nothing may fail for lack of memory. */
    size_t dir_len = strlen(dir);
    size_t path_size = dir_len + 1 + sizeof(final);
    char *path = gmr__malloc(path_size);
    if (!path)
        return -ENOMEM;

    dfd = r = open_dir(dir, &can_sync);
    if (r < 0)
        goto out_free;

    fd = r = create_temp(dfd, base, first_nonce, tmp);
    if (r < 0)
        goto out_close_dir;
    r = fill_temp(fd, data ? data : "", len);
    /* close() can report a delayed write error (NFS). */
    if (close(fd) < 0 && r == 0 && errno != EINTR)
        r = -errno;
    if (r < 0)
        goto out_unlink;

    r = -EEXIST;
    for (int i = 0; i <= GMR_LOGDIR_MAX_SUFFIX && r == -EEXIST; i++) {
        if (i == 0)
            snprintf(final, sizeof(final), "%s%s", base, json ? ".json" : "");
        else
            snprintf(final, sizeof(final), "%s_%d%s", base, i, json ? ".json" : "");
        r = claim_name(dfd, tmp, final, &linked);
    }
    if (r < 0)
        goto out_unlink;
    if (linked)
        (void)unlinkat(dfd, tmp, 0);

    /* Make the new name durable.  Filesystems that cannot sync a directory say EINVAL. */
    if (can_sync) {
        r = fsync_retry(dfd);
        if (r == -EINVAL)
            r = 0;
    }
    if (r == 0) {
        bool slash = dir[dir_len - 1] == '/';
        snprintf(path, path_size, "%s%s%s", dir, slash ? "" : "/", final);
        *ret_path = path;
        path = NULL;
    }
    goto out_close_dir;

out_unlink:
    (void)unlinkat(dfd, tmp, 0);
out_close_dir:
    close(dfd);
out_free:
    gmr__free(path);
    return r;
}

int gmr__logdir_write_at(const char *dir, const char *service_name, bool json, const char *data,
                         size_t len, time_t when, uint64_t first_nonce, char **ret_path)
{
    return write_report(dir, service_name, json, data, len, when, first_nonce, ret_path);
}

int gmr__logdir_write(const char *dir, const char *service_name, bool json, const char *data,
                      size_t len, char **ret_path)
{
    struct timespec now;
    if (clock_gettime(CLOCK_REALTIME, &now) < 0)
        return -errno;
    return write_report(dir, service_name, json, data, len, now.tv_sec, 0, ret_path);
}
