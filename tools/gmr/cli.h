/*
 * The gmr command: shared declarations of its subcommands and helpers.
 * Only the public header <gmr/gmr.h> and jansson are used (STYLE.md §11).
 */
#ifndef GMR_TOOLS_CLI_H
#define GMR_TOOLS_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Exit codes, listed in --help and gmr(1). */
#define EXIT_OK      0
#define EXIT_PARTIAL 1
#define EXIT_FAILED  2
#define EXIT_USAGE   64

/* Longest socket path. */
#define CLI_PATH_MAX 108

int cmd_report(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_info(int argc, char **argv);

/* "gmr: <what>: <strerror(-r)>" on stderr. */
void cli_error(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "gmr: <message>" on stderr. */
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * After getopt_long() (opterr 0, optstring starting with ':') returned '?' or ':' as @c: one
 * line naming the option of @cmd that is unknown or lacks its value.  Returns EXIT_USAGE.
 */
int cli_bad_option(const char *cmd, int c, char **argv);

/* Parses a pid argument; returns it or 0. */
pid_t cli_parse_pid(const char *s);

/*
 * Reads a whole file ("-" for stdin) into a new buffer (NUL-terminated; free()).
 * Return: 0 or -errno; -EFBIG past 256 MiB.
 */
int cli_read_file(const char *path, char **ret, size_t *ret_len);

/* Writes all of @data to @fd; 0 or -errno. */
int cli_write_all(int fd, const void *data, size_t len);

/*
 * The value of @name in /proc/@pid/environ, as a new string (free()), or NULL (absent or
 * unreadable).
 */
char *cli_proc_env(pid_t pid, const char *name);

/* Effective uid of @pid from /proc/@pid/status; -1 when unknown. */
long cli_proc_uid(pid_t pid);

/* Whether /proc/@pid/status SigCgt has @signo; false when unknown. */
bool cli_proc_catches(pid_t pid, int signo);

/* Whether /proc/@pid/maps names an object whose file name contains @needle. */
bool cli_proc_maps_has(pid_t pid, const char *needle);

/* Whether LD_PRELOAD of @pid names libgmr-preload. */
bool cli_proc_preloaded(pid_t pid);

/*
 * The runtime directories where the sockets of processes of @uid may be (this user's own
 * first, then @pid's XDG_RUNTIME_DIR when @pid > 0, /run/user/UID/gmr, /tmp/gmr-UID), without
 * duplicates.  Return: how many were stored in @dirs.
 */
int cli_runtime_dirs(long uid, pid_t pid, char dirs[][CLI_PATH_MAX], int max);

/*
 * Sends @request (one line, without '\n') to the control socket at @path and reads the reply.
 * On "ok N": *ret_payload (free()) and *ret_len; returns 0 when all N bytes arrived, 1 when
 * fewer did.  On "error REASON": -EREMOTEIO and *reterr_reason (free()).  Otherwise -errno of
 * the socket calls (-ECONNREFUSED: nobody listens, a stale socket), or -EPROTO (not the gmr
 * protocol).  Waits at most @timeout_ms in total.
 */
int cli_control_call(const char *path, const char *request, int timeout_ms, char **ret_payload,
                     size_t *ret_len, char **reterr_reason);

/* Finds the socket of @pid into @buf.  Return: 0 or -ENOENT. */
int cli_find_socket(pid_t pid, char *buf, size_t size);

/* Signal name "SIGUSR2" of @signo, or parses one (returns -1 when unknown). */
const char *cli_signal_name(int signo, char *buf, size_t size);
int cli_parse_signal(const char *s);

/* ---- JSON readers (reports are hostile input: every member is checked) ---- */

/*
 * Parses @data as a libgmr JSON report.  On failure returns NULL and writes a one-line
 * reason (with line and column for syntax errors) to @err.
 */
json_t *cli_load_report(const char *data, size_t len, char *err, size_t errsize);

/* The first section of type "threads", or NULL. */
const json_t *cli_threads_section(const json_t *report);

/* The "threads" array of a threads section; an empty static array when missing. */
const json_t *cli_thread_list(const json_t *section);

/*
 * A thread's stack as one string, a line per frame ("function file:line module+offset",
 * pieces missing when absent), to compare stacks.  New string (free()); NULL on ENOMEM.
 */
char *cli_stack_key(const json_t *thread);

/* String member or @dflt. */
const char *cli_str(const json_t *obj, const char *key, const char *dflt);
/* Integer member or @dflt. */
long long cli_int(const json_t *obj, const char *key, long long dflt);

/* The HTML view of @report into @fd.  Return: 0 or -errno. */
int cli_render_html(const json_t *report, const char *data, size_t len, int fd);

/*
 * The text view of one section of @report, without its banner, as the library renders it.
 * New string (free()) or NULL.
 */
char *cli_section_text(const json_t *report, const json_t *section);

/*
 * The text view of one thread of @section (a Threads section of @report) below its
 * "------ Thread ... ------" line, as the library renders it.  New string (free()) or NULL.
 */
char *cli_thread_text(const json_t *report, const json_t *section, const json_t *thread);

/*
 * The text view's DEADLOCK DETECTED block of @report without its banner.  New string
 * (free()); NULL when the report has no deadlock (or on ENOMEM).
 */
char *cli_deadlock_text(const json_t *report);

#endif /* GMR_TOOLS_CLI_H */
