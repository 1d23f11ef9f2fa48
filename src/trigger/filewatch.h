/*
 * The file trigger ([oslo_reports] file_event_handler): a report whenever a file is created,
 * modified or touched.
 *
 * Unlike oslo.reports, the file may be missing at start, deleted and re-created, or replaced
 * (rename over it, editors' save); any of these while watched counts as a change, and deleting
 * it does not.  The object is meant for a thread that sleeps in poll(): it hands out an fd and
 * a timeout, and gmr__filewatch_check() says afterwards whether to write a report.
 *
 * How it watches:
 * - inotify on the file's directory, for the file's name appearing or going (create, rename,
 *   delete), and inotify on the file itself (symlinks followed, so touching through a link
 *   counts) for writes, closes after writing and attribute changes such as touch(1).  Events
 *   for other names in the directory wake the poller but never trigger; writes to other files
 *   (a busy log directory) do not even wake it.  Idle cost: no wakeup at all.
 * - polling, every interval, of stat(2) of the file (device, inode, size, mtime, ctime) where
 *   inotify cannot serve: no inotify instance (inotify_init1() failed, e.g. the per-user limit
 *   of instances), no watch possible (directory missing, not a directory, unreadable, watch
 *   limit reached; the watch is retried at every poll and polling stops once it holds), or a
 *   filesystem on which changes made by other machines raise no event (NFS, SMB/CIFS, Ceph,
 *   9p, FUSE including virtiofs and sshfs, AFS, Coda, OCFS2, GFS2, Lustre, OrangeFS, GPFS,
 *   VirtualBox shared folders; recognized by statfs(2) f_type).  On those, inotify still
 *   reports local changes at once and polling adds the remote ones.
 * - A directory (or anything else inotify reports with IN_ISDIR) at the path is treated as no
 *   file: it never triggers, and what happens inside it is not watched.
 * Limits: when a parent of the directory is renamed, the watches follow the moved directory
 * until the path is checked again (at the next event of the watches or the next poll); a file
 * created at the old path meanwhile is missed.  On NFS, polling sees a remote change only once
 * the client's attribute cache expires (actimeo, up to 60 s by default).
 *
 * Pacing: the events of one change (a touch is create + attrib + close) arrive within
 * microseconds but may wake the poller several times; they are gathered for
 * GMR_FILEWATCH_SETTLE_MS after the first, and triggers are at least one interval apart (as
 * oslo.reports, which polls once per interval).  A change in between is reported once the
 * interval has passed, never dropped.
 *
 * Not thread-safe: one thread uses an object.  After fork() the inotify instance is shared
 * with the parent, so a child frees the object (closing the fd) and creates its own.
 * Context: ordinary code (reporter thread; setup in caller context); never a signal handler.
 */
#ifndef GMR_TRIGGER_FILEWATCH_H
#define GMR_TRIGGER_FILEWATCH_H

#include <stdbool.h>

/* How long the events of one change are gathered before triggering. */
#define GMR_FILEWATCH_SETTLE_MS 100

struct gmr__filewatch;

/* Knobs for gmr__filewatch_new_opts(); tests use them to make time short and force polling. */
struct gmr__filewatch_opts {
    int interval_ms; /* polling interval and minimum gap between triggers; >= 1 */
    bool no_inotify; /* behave as if inotify_init1() had failed */
};

/*
 * gmr__filewatch_new() - start watching @path.
 * @path:       the trigger file; copied.  Its last component names the file, the rest the
 *              directory (relative paths are relative to the current directory at each use).
 *              Neither needs to exist.
 * @interval_s: seconds between polls where inotify cannot serve, and minimum gap between two
 *              triggers; >= 1
 * @ret:        the new object; free with gmr__filewatch_free()
 *
 * The state of the file now is the baseline: an existing file does not trigger until changed.
 * Return: 0; -EINVAL (NULL/empty path, a path ending in '/', "." or "..", interval < 1);
 *         -ENOMEM.  Lack of inotify is not an error (the object polls).
 * Context: caller context (setup).
 */
int gmr__filewatch_new(const char *path, int interval_s, struct gmr__filewatch **ret);

/*
 * gmr__filewatch_new_opts() - gmr__filewatch_new() with the interval in milliseconds and
 * optional forced polling (@opts is read, not kept).
 * Context: caller context.
 */
int gmr__filewatch_new_opts(const char *path, const struct gmr__filewatch_opts *opts,
                            struct gmr__filewatch **ret);

/* gmr__filewatch_free() - close and free @fw (NULL accepted).  Context: the owning thread. */
void gmr__filewatch_free(struct gmr__filewatch *fw);

/*
 * gmr__filewatch_after_fork() - in a fork child, give @fw (the child's copy of the parent's
 * object) an inotify instance of its own in place of the shared one, watching the same path;
 * a change since the parent last looked is still reported.
 * Context: the fork child's atfork handler.
 */
void gmr__filewatch_after_fork(struct gmr__filewatch *fw);

/*
 * gmr__filewatch_fd() - the fd to poll for POLLIN, or -1 when there is none (no inotify).
 * It may become -1 after gmr__filewatch_check() (inotify instance lost): ask before each
 * poll().
 * Context: the owning thread.
 */
int gmr__filewatch_fd(const struct gmr__filewatch *fw);

/*
 * gmr__filewatch_timeout_ms() - the poll() timeout that the watch needs: -1 (none, inotify
 * serves everything and nothing is pending), else milliseconds until the next poll of the
 * file or until a gathered change is due.  Combine with other timeouts by taking the smaller
 * non-negative one.
 * Context: the owning thread.
 */
int gmr__filewatch_timeout_ms(const struct gmr__filewatch *fw);

/*
 * gmr__filewatch_check() - after poll() returned (fd readable, timeout, or any other reason):
 * read the pending events, poll the file when due, and say whether to write a report.
 * Never blocks.
 * Return: 1 when the file was created, modified, touched or replaced since the trigger before
 *         (any number of changes coalesced); 0 otherwise.  Trouble (inotify lost, directory
 *         gone, event queue overflow) is handled by falling back to polling, not returned.
 * Context: the owning thread (the reporter thread).
 */
int gmr__filewatch_check(struct gmr__filewatch *fw);

/*
 * gmr__filewatch_polling() - whether the file is being polled (see above for when), for
 * diagnostics and tests.
 * Context: the owning thread.
 */
bool gmr__filewatch_polling(const struct gmr__filewatch *fw);

#endif /* GMR_TRIGGER_FILEWATCH_H */
