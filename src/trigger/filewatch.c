/*
 * The file trigger: inotify on the file and its directory, stat(2) polling where inotify
 * cannot serve.  The behaviour is described in filewatch.h.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "trigger/filewatch.h"
#include "util/alloc.h"
#include "util/macro.h"

/*
 * The directory watch only follows the file's name: creation, removal, renames in and out.
 * Writes and attribute changes are watched on the file itself, so writes to other files of
 * the directory (log files next to the trigger) do not wake the reporter.
 */
#define DIR_MASK                                                                                   \
    (IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF |         \
     IN_ONLYDIR | IN_EXCL_UNLINK)
#define FILE_MASK (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF)

/* Reads of the inotify fd per check; what is left keeps the fd readable for the next round. */
#define MAX_READS 64

/* What stat(2) says about the file, to notice changes by polling. */
struct stamp {
    bool present;          /* exists and is not a directory */
    dev_t dev;             /* st_dev */
    ino_t ino;             /* st_ino */
    int64_t size;          /* st_size, bytes */
    struct timespec mtime; /* st_mtim */
    struct timespec ctime; /* st_ctim */
};

struct gmr__filewatch {
    char *path;           /* owned */
    char *dir;            /* owned; the directory part of @path */
    const char *name;     /* last component; points into @path */
    int64_t interval_ms;  /* polling interval and minimum gap between triggers */
    int ifd;              /* inotify instance, -1 when none; owned */
    int dir_wd;           /* watch on @dir, -1 when none */
    dev_t dir_dev;        /* st_dev of the directory @dir_wd watches */
    ino_t dir_ino;        /* st_ino of the same */
    int file_wd;          /* watch on the file (symlinks followed), -1 when none */
    dev_t file_dev;       /* st_dev of the file @file_wd watches */
    ino_t file_ino;       /* st_ino of the same */
    bool remote;          /* directory or file on a filesystem that misses remote changes */
    struct stamp last;    /* the file as last seen */
    int64_t next_poll_ms; /* CLOCK_MONOTONIC time of the next poll, when polling */
    bool pending;         /* a change waits for its trigger */
    int64_t settle_ms;    /* CLOCK_MONOTONIC time when the pending change's events are in */
    int64_t last_fire_ms; /* CLOCK_MONOTONIC time of the last trigger returned */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Filesystems on which changes made by another machine (or the host of a virtual machine)
 * raise no inotify event, by statfs(2) f_type (values from linux/magic.h and the filesystems'
 * sources, written out so that older headers do not matter).
 */
static bool is_remote_fs(const char *path)
{
    static const unsigned long magic[] = {
        0x6969,     /* NFS */
        0x517b,     /* SMB */
        0xff534d42, /* CIFS */
        0xfe534d42, /* SMB2 */
        0x65735546, /* FUSE (sshfs, virtiofs, s3fs, ...) */
        0x00c36400, /* Ceph */
        0x01021997, /* 9p */
        0x5346414f, /* AFS */
        0x6b414653, /* kAFS */
        0x73757245, /* Coda */
        0x7461636f, /* OCFS2 */
        0x01161970, /* GFS2 */
        0x0bd00bd0, /* Lustre */
        0x20030528, /* OrangeFS */
        0x47504653, /* GPFS */
        0x786f4256, /* VirtualBox shared folders */
        0x564c,     /* NCP */
    };
    struct statfs sfs;
    if (statfs(path, &sfs) < 0)
        return false;
    for (size_t i = 0; i < GMR_ELEMENTSOF(magic); i++) {
        if ((unsigned long)sfs.f_type == magic[i])
            return true;
    }
    return false;
}

static struct stamp take_stamp(const char *path)
{
    struct stamp s = {0};
    struct stat st;
    if (stat(path, &st) < 0 || S_ISDIR(st.st_mode))
        return s;
    s.present = true;
    s.dev = st.st_dev;
    s.ino = st.st_ino;
    s.size = (int64_t)st.st_size;
    s.mtime = st.st_mtim;
    s.ctime = st.st_ctim;
    return s;
}

static bool ts_equal(struct timespec a, struct timespec b)
{
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* True when @now shows a file created, replaced or changed since @before. */
static bool stamp_changed(const struct stamp *before, const struct stamp *now)
{
    if (!now->present)
        return false;
    return !before->present || before->dev != now->dev || before->ino != now->ino ||
           before->size != now->size || !ts_equal(before->mtime, now->mtime) ||
           !ts_equal(before->ctime, now->ctime);
}

static bool is_polling(const struct gmr__filewatch *fw)
{
    return fw->ifd < 0 || fw->dir_wd < 0 || fw->remote || (fw->last.present && fw->file_wd < 0);
}

static void drop_watch(struct gmr__filewatch *fw, int *wd)
{
    if (*wd >= 0)
        (void)inotify_rm_watch(fw->ifd, *wd);
    *wd = -1;
}

/*
 * Puts the watches where the path points now: the directory (again, if it was deleted,
 * replaced or appeared), and the file if one is there.  Then compares the file with what was
 * last seen.  Returns true when it changed (see stamp_changed()).
 */
static bool refresh(struct gmr__filewatch *fw)
{
    struct stat st;
    bool dir_remote = false, file_remote = false;

    if (fw->ifd >= 0) {
        bool dir_ok = stat(fw->dir, &st) == 0 && S_ISDIR(st.st_mode);
        if (fw->dir_wd >= 0 && (!dir_ok || st.st_dev != fw->dir_dev || st.st_ino != fw->dir_ino))
            drop_watch(fw, &fw->dir_wd);
        if (fw->dir_wd < 0 && dir_ok) {
            fw->dir_wd = inotify_add_watch(fw->ifd, fw->dir, DIR_MASK);
            fw->dir_dev = st.st_dev;
            fw->dir_ino = st.st_ino;
        }
        if (fw->dir_wd >= 0)
            dir_remote = is_remote_fs(fw->dir);
    }

    struct stamp now = take_stamp(fw->path);
    if (fw->ifd >= 0) {
        if (!now.present) {
            drop_watch(fw, &fw->file_wd);
        } else if (fw->file_wd < 0 || now.dev != fw->file_dev || now.ino != fw->file_ino) {
            drop_watch(fw, &fw->file_wd);
            fw->file_wd = inotify_add_watch(fw->ifd, fw->path, FILE_MASK);
            fw->file_dev = now.dev;
            fw->file_ino = now.ino;
        }
        if (fw->file_wd >= 0)
            file_remote = is_remote_fs(fw->path);
    }
    fw->remote = dir_remote || file_remote;

    bool changed = stamp_changed(&fw->last, &now);
    fw->last = now;
    return changed;
}

/* Gives up on inotify for good (its fd failed): everything is polled from now on. */
static void lose_inotify(struct gmr__filewatch *fw)
{
    close(fw->ifd);
    fw->ifd = -1;
    fw->dir_wd = -1;
    fw->file_wd = -1;
}

/*
 * Reads the queued events.  Sets *hit when one says the file was created, written, touched
 * or renamed into place, *stale when the watches must be checked again.
 */
static void read_events(struct gmr__filewatch *fw, bool *hit, bool *stale)
{
    _Alignas(struct inotify_event) char buf[4096];

    for (int round = 0; round < MAX_READS && fw->ifd >= 0; round++) {
        ssize_t n = read(fw->ifd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            lose_inotify(fw);
            *stale = true;
            return;
        }
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            p += sizeof(*ev) + ev->len;

            if (ev->mask & IN_Q_OVERFLOW) {
                /* Events were lost: the stat comparison in refresh() decides. */
                *stale = true;
            } else if (ev->wd >= 0 && ev->wd == fw->dir_wd) {
                if (ev->mask & IN_IGNORED) {
                    fw->dir_wd = -1; /* removed by the kernel */
                    *stale = true;
                } else if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
                    drop_watch(fw, &fw->dir_wd);
                    *stale = true;
                } else if (ev->len > 0 && strcmp(ev->name, fw->name) == 0) {
                    *stale = true;
                    if (!(ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)))
                        *hit = true;
                }
            } else if (ev->wd >= 0 && ev->wd == fw->file_wd) {
                if (ev->mask & IN_IGNORED) {
                    fw->file_wd = -1;
                    *stale = true;
                } else {
                    if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT))
                        *stale = true;
                    if (ev->mask & (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE))
                        *hit = true;
                }
            }
            /* Anything else belongs to a watch dropped earlier. */
        }
    }
}

int gmr__filewatch_new_opts(const char *path, const struct gmr__filewatch_opts *opts,
                            struct gmr__filewatch **ret)
{
    if (!path || !*path || !opts || opts->interval_ms < 1 || !ret)
        return -EINVAL;
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return -EINVAL;

    struct gmr__filewatch *fw = gmr__calloc(1, sizeof(*fw));
    if (!fw)
        return -ENOMEM;
    fw->ifd = fw->dir_wd = fw->file_wd = -1;
    fw->interval_ms = opts->interval_ms;
    fw->path = gmr__strdup(path);
    if (!slash)
        fw->dir = gmr__strdup(".");
    else
        fw->dir = gmr__strndup(path, slash == path ? 1 : (size_t)(slash - path));
    if (!fw->path || !fw->dir) {
        gmr__filewatch_free(fw);
        return -ENOMEM;
    }
    fw->name = fw->path + (name - path);

    if (!opts->no_inotify)
        fw->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    /* The file as it is now is the baseline, not a change. */
    (void)refresh(fw);
    int64_t now = now_ms();
    fw->next_poll_ms = now + fw->interval_ms;
    fw->last_fire_ms = now - fw->interval_ms;
    *ret = fw;
    return 0;
}

int gmr__filewatch_new(const char *path, int interval_s, struct gmr__filewatch **ret)
{
    if (interval_s < 1)
        return -EINVAL;
    struct gmr__filewatch_opts opts = {
        .interval_ms = interval_s > INT_MAX / 1000 ? INT_MAX : interval_s * 1000,
    };
    return gmr__filewatch_new_opts(path, &opts, ret);
}

void gmr__filewatch_free(struct gmr__filewatch *fw)
{
    if (!fw)
        return;
    if (fw->ifd >= 0)
        close(fw->ifd);
    gmr__free(fw->path);
    gmr__free(fw->dir);
    gmr__free(fw);
}

void gmr__filewatch_after_fork(struct gmr__filewatch *fw)
{
    if (fw->ifd >= 0)
        close(fw->ifd); /* this process's descriptor of the parent's instance */
    fw->dir_wd = fw->file_wd = -1;
    fw->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    /* What the parent last saw stays the baseline: a change since fork() is one. */
    if (refresh(fw) && !fw->pending) {
        fw->pending = true;
        fw->settle_ms = now_ms() + GMR_FILEWATCH_SETTLE_MS;
    }
}

int gmr__filewatch_fd(const struct gmr__filewatch *fw)
{
    return fw->ifd;
}

bool gmr__filewatch_polling(const struct gmr__filewatch *fw)
{
    return is_polling(fw);
}

/* When a pending change is reported: its events gathered, and an interval after the last. */
static int64_t due_ms(const struct gmr__filewatch *fw)
{
    return GMR_MAX(fw->settle_ms, fw->last_fire_ms + fw->interval_ms);
}

int gmr__filewatch_timeout_ms(const struct gmr__filewatch *fw)
{
    int64_t wait = -1;
    int64_t now = now_ms();
    if (fw->pending)
        wait = GMR_MAX(due_ms(fw) - now, 0);
    if (is_polling(fw)) {
        int64_t p = GMR_MAX(fw->next_poll_ms - now, 0);
        wait = wait < 0 ? p : GMR_MIN(wait, p);
    }
    return wait > INT_MAX ? INT_MAX : (int)wait;
}

int gmr__filewatch_check(struct gmr__filewatch *fw)
{
    bool hit = false, stale = false;

    if (fw->ifd >= 0)
        read_events(fw, &hit, &stale);

    int64_t now = now_ms();
    bool poll_due = is_polling(fw) && now >= fw->next_poll_ms;
    if (stale || poll_due || hit) {
        bool was_polling = is_polling(fw);
        bool changed = refresh(fw);
        /*
         * An event hit counts only if a file is there now: deleting the file changes its link
         * count (IN_ATTRIB) before it goes, and a directory never triggers.
         */
        hit = (hit && fw->last.present) || changed;
        if (poll_due || was_polling != is_polling(fw))
            fw->next_poll_ms = now + fw->interval_ms;
    }

    if (hit && !fw->pending) {
        fw->pending = true;
        fw->settle_ms = now + GMR_FILEWATCH_SETTLE_MS;
    }
    if (fw->pending && now >= due_ms(fw)) {
        fw->pending = false;
        fw->last_fire_ms = now;
        return 1;
    }
    return 0;
}
