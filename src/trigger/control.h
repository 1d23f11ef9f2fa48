/*
 * The control socket: a Unix stream socket per process through which a local client of the
 * same user (or root) asks for a report or for what the process is, without signals.
 *
 * Where: <dir>/<pid>.sock, <dir> being $XDG_RUNTIME_DIR/gmr when XDG_RUNTIME_DIR is an
 * absolute path, else /tmp/gmr-<uid>.  The directory is created mode 0700 and used only when
 * it is a real directory (not a symlink), owned by the effective uid, with no group or other
 * permission bits; otherwise the socket is not created and the reason is returned.
 *
 * Protocol (version 1): the client sends one request line of at most GMR_CONTROL_MAX_REQUEST
 * bytes including its '\n':
 *     report text | report json | report (= text) | info
 * and reads the reply, after which the server closes the connection:
 *     "ok <N>\n" followed by exactly N bytes of payload, or
 *     "error <reason>\n".
 * The payload of "report" is the report; that of "info" is one JSON object (docs/cli.md).
 * A client whose uid (SO_PEERCRED) is neither ours nor 0 gets "error permission denied".
 *
 * Pacing: the listening socket is non-blocking and polled by the reporter thread.  Each
 * connection gets at most GMR_CONTROL_REQUEST_MS to send its request and
 * GMR_CONTROL_SEND_MS to take the reply; a client that is slower is dropped, so the reporter
 * is never stalled for longer.  The report is built into memory before any of it is sent, so
 * a slow client never holds up other reports.
 *
 * Stale sockets: <pid>.sock files whose process no longer exists are removed when a socket is
 * created in the same directory (and by `gmr ls`).
 *
 * After fork() the child must not use the parent's object: gmr__control_forget_after_fork()
 * closes the inherited fd and leaves the parent's socket file alone.
 *
 * Context: ordinary code (reporter thread; creation in caller context); never a signal
 * handler.
 */
#ifndef GMR_TRIGGER_CONTROL_H
#define GMR_TRIGGER_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <gmr/gmr.h>

/* Longest request line, '\n' included. */
#define GMR_CONTROL_MAX_REQUEST 256
/* Deadlines of one connection. */
#define GMR_CONTROL_REQUEST_MS 2000
#define GMR_CONTROL_SEND_MS    10000
/* Connections served per wakeup; more wait in the backlog for the next poll(). */
#define GMR_CONTROL_MAX_BATCH 16
/* Version of the protocol, announced in the info reply. */
#define GMR_CONTROL_PROTOCOL 1

enum gmr__control_cmd {
    GMR_CONTROL_INFO = 0,
    GMR_CONTROL_REPORT = 1,
};

struct gmr__control_request {
    enum gmr__control_cmd cmd;
    enum gmr_format format; /* for GMR_CONTROL_REPORT */
};

/*
 * gmr__control_handler - writes the payload of @req to @out_fd (a memory file); called on
 * the thread that called gmr__control_serve().
 * Return: 0 or -errno (the client then gets "error <strerror>").
 */
typedef int (*gmr__control_handler)(int out_fd, const struct gmr__control_request *req,
                                    void *userdata);

struct gmr__control;

/*
 * gmr__control_default_dir() - the runtime directory this process uses, into @buf.
 * Return: 0; -ENAMETOOLONG.
 * Context: any ordinary code.
 */
int gmr__control_default_dir(char *buf, size_t size);

/*
 * gmr__control_check_dir() - create @path (mode 0700) when missing, then check it is safe:
 * a directory, not a symlink, owned by @uid, no group/other permission bits.
 * Return: 0; -ELOOP (a symlink); -ENOTDIR; -EPERM (wrong owner or mode); -errno of mkdir/open.
 * Context: any ordinary code.
 */
int gmr__control_check_dir(const char *path, uid_t uid);

/*
 * gmr__control_peer_allowed() - whether a client with uid @peer may talk to a server running
 * as @self: the same uid, or root.
 */
bool gmr__control_peer_allowed(uid_t peer, uid_t self);

/*
 * gmr__control_parse() - parse one request line (@len bytes, the '\n' excluded).
 * Return: 0; -EINVAL (unknown request or format).
 */
int gmr__control_parse(const char *line, size_t len, struct gmr__control_request *ret);

/*
 * gmr__control_clean_stale() - remove <pid>.sock files of @dir whose process is gone.
 * Return: the number removed, or -errno when @dir cannot be read.
 */
int gmr__control_clean_stale(const char *dir);

/*
 * gmr__control_new() - create the directory if needed, clean stale sockets, listen on
 * <dir>/<pid>.sock.
 * @dir: the directory; NULL for gmr__control_default_dir()
 * @ret: the new object; free with gmr__control_free()
 * Return: 0; -ENAMETOOLONG; the errors of gmr__control_check_dir(); -errno of socket calls;
 *         -ENOMEM.
 * Context: caller context (setup) or a fork child's atfork handler.
 */
int gmr__control_new(const char *dir, struct gmr__control **ret);

/* The listening fd, for poll() with POLLIN.  Context: the owning thread. */
int gmr__control_fd(const struct gmr__control *c);

/* The socket's path; borrowed.  Context: the owning thread. */
const char *gmr__control_path(const struct gmr__control *c);

/*
 * gmr__control_serve() - accept the pending connections (at most GMR_CONTROL_MAX_BATCH) and
 * answer each: read its request, call @fn for the payload, send the reply, close.  Never
 * blocks longer than the deadlines above per connection.
 * Return: the number of connections handled.
 * Context: the owning thread (the reporter thread).
 */
int gmr__control_serve(struct gmr__control *c, gmr__control_handler fn, void *userdata);

/*
 * gmr__control_abandon() - free @c without closing its fd, which the application closed
 * (and may have reused); the socket file is removed.
 */
void gmr__control_abandon(struct gmr__control *c);

struct gmr__trigger;

/*
 * gmr__control_info() - write the info payload, one JSON object and a newline, to @fd:
 * protocol, pid, service_name, libgmr_version, format, signal (name or null), log_dir,
 * file_trigger (or null), socket, triggers (list of strings).
 * @t:    the running trigger (its signal, unless released); borrowed
 * @path: the socket's path
 * Return: 0 or -errno.
 * Context: reporter thread.
 */
int gmr__control_info(int fd, const struct gmr__trigger *t, const char *path);

/* gmr__control_free() - close, remove the socket file, free (NULL accepted). */
void gmr__control_free(struct gmr__control *c);

/*
 * gmr__control_forget_after_fork() - in a fork child: close the inherited listening fd and
 * free the object, leaving the parent's socket file in place (NULL accepted).
 */
void gmr__control_forget_after_fork(struct gmr__control *c);

#endif /* GMR_TRIGGER_CONTROL_H */
