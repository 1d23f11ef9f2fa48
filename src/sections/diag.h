/*
 * Process diagnostics sections: what an operator looks at after the stacks.
 *
 * Each gmr__section_<name>() fills a section object that the caller has already created and
 * titled (see gmr__model_section()); the caller sets "title" and "type".  The fillers run on
 * the reporter thread (every signal blocked) or in caller context when libgmr is not set up;
 * never in a signal handler.  They open files only with O_CLOEXEC and close them before
 * returning, read only this process's /proc files, and bound everything they read.
 *
 * The /proc parsers below are pure functions of the text they are given, so tests can feed
 * them real, truncated and hostile text.
 *
 * The JSON shapes are documented in docs/diagnostics.md.
 */
#ifndef GMR_SECTIONS_DIAG_H
#define GMR_SECTIONS_DIAG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------------------------
 * Section fillers.  Each returns 0 (partial information is recorded in the section as
 * "unavailable: ..." values or a "note"), -ENOMEM, or another -errno when nothing at all
 * could be gathered.
 * ------------------------------------------------------------------------------------------ */

/*
 * gmr__section_environment() - fill the Environment section (type "environment") from the
 * current environ.  Values of variables whose names look like secrets become "***"; URL
 * credentials are masked in every other value.
 * Context: reporter thread or caller context.
 */
int gmr__section_environment(json_t *section);

/*
 * gmr__section_environment_from() - the same from the NULL-terminated array @envp (borrowed),
 * for tests.
 * Context: reporter thread or caller context.
 */
int gmr__section_environment_from(json_t *section, char *const *envp);

/*
 * gmr__section_resources() - fill the Resources section (type "kv"): getrusage() of the
 * process and of its waited-for children, memory lines of /proc/self/status, and malloc
 * statistics (glibc only).
 * Context: reporter thread or caller context.
 */
int gmr__section_resources(json_t *section);

/*
 * gmr__section_limits() - fill the Limits section (type "limits"): the soft and hard value of
 * each of the 16 resource limits, with units.
 * Context: reporter thread or caller context.
 */
int gmr__section_limits(json_t *section);

/*
 * gmr__section_open_files() - fill the Open Files section (type "open_files"): each
 * descriptor (the first 4096) with its type, target, status flags and position; sockets with
 * protocol, addresses and state.
 * Context: reporter thread or caller context.
 */
int gmr__section_open_files(json_t *section);

/*
 * gmr__section_shared_objects() - fill the Shared Objects section (type "shared_objects"):
 * each loaded object with its load address and build-id.  Takes the dynamic loader's lock.
 * Context: reporter thread or caller context; not inside a dl_iterate_phdr() callback.
 */
int gmr__section_shared_objects(json_t *section);

/*
 * gmr__section_system() - fill the System section (type "kv"): kernel, host name, CPUs, load,
 * uptime and memory of the machine.
 * Context: reporter thread or caller context.
 */
int gmr__section_system(json_t *section);

/* ------------------------------------------------------------------------------------------
 * Helpers and pure parsers.
 * ------------------------------------------------------------------------------------------ */

/*
 * gmr__read_proc_file() - read at most @max bytes of a (/proc) file.
 * @path:    file to read; opened O_RDONLY|O_CLOEXEC
 * @max:     bound on the bytes read; the rest of the file is ignored
 * @ret:     on success, a new NUL-terminated buffer (free with gmr__free); the text may hold
 *           embedded NULs, and C-string parsers then see only what precedes the first one
 * @ret_len: on success, the number of bytes read; may be NULL
 *
 * Return: 0; -ENOMEM; -errno from open(2) or read(2).
 * Context: reporter thread or caller context.
 */
int gmr__read_proc_file(const char *path, size_t max, char **ret, size_t *ret_len);

/*
 * gmr__diag_set_fmt() - set @key of @obj to a printf-formatted string (cut at 511 bytes).
 * Return: 0 or -ENOMEM.
 * Context: reporter thread or caller context.
 */
int gmr__diag_set_fmt(json_t *obj, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * gmr__parse_u64() - the number written in the @n bytes at @s in @base (2..16), without sign,
 * prefix or spaces.
 * Return: true; false when @n is 0, a byte is not a digit of @base, or the value does not fit
 * in 64 bits.
 * Context: any thread; pure.
 */
bool gmr__parse_u64(const char *s, size_t n, unsigned base, uint64_t *ret);

/*
 * gmr__parse_status_kv() - the value of "KEY: value" lines as in /proc/self/status,
 * /proc/meminfo and /proc/cpuinfo ("model name\t: ...").  @key must start a line and may be
 * followed by spaces or tabs before the colon; the value is trimmed of surrounding
 * whitespace and cut to fit @size (always NUL-terminated).  The first matching line wins.
 *
 * Return: 0; -ENOENT (no such line); -EINVAL (@size is 0).
 * Context: any thread; pure.
 */
int gmr__parse_status_kv(const char *text, const char *key, char *buf, size_t size);

/* What /proc/loadavg says. */
struct gmr__loadavg {
    double avg[3]; /* 1, 5 and 15 minute load averages */
    long running;  /* runnable scheduling entities */
    long total;    /* scheduling entities that exist */
};

/*
 * gmr__parse_loadavg() - parse the text of /proc/loadavg ("0.52 0.58 0.59 1/345 12345").
 * Return: 0; -EINVAL (malformed).
 * Context: any thread; pure.
 */
int gmr__parse_loadavg(const char *text, struct gmr__loadavg *ret);

/*
 * gmr__parse_uptime() - the first number of /proc/uptime, in seconds.
 * Return: 0; -EINVAL (malformed, negative or not finite).
 * Context: any thread; pure.
 */
int gmr__parse_uptime(const char *text, double *ret_seconds);

/*
 * gmr__format_duration() - "3 days, 04:05:06" (or "04:05:06" under a day) into @buf.
 * Context: any thread; pure.
 */
void gmr__format_duration(uint64_t seconds, char *buf, size_t size);

/*
 * gmr__parse_fdinfo() - the "flags:" (octal) and "pos:" (decimal) lines of the text of
 * /proc/self/fdinfo/N.
 * @ret_flags: the file's status flags (always set on success)
 * @ret_pos:   the file position, or -1 when the line is missing or malformed
 *
 * Return: 0; -EINVAL (no valid "flags:" line).
 * Context: any thread; pure.
 */
int gmr__parse_fdinfo(const char *text, unsigned *ret_flags, int64_t *ret_pos);

/*
 * gmr__format_open_flags() - @flags (as /proc/self/fdinfo shows them) as
 * "O_WRONLY|O_APPEND|O_CLOEXEC"; bits without a name end the list as one octal number.
 * @buf is always NUL-terminated; the text is cut when @size is too small.
 * Context: any thread; pure.
 */
void gmr__format_open_flags(unsigned flags, char *buf, size_t size);

/*
 * gmr__fd_type() - the kind of an open file from its /proc/self/fd link text and its
 * st_mode (0 when unknown): "file", "directory", "char_device", "block_device", "fifo",
 * "pipe", "socket", "anon_inode", "symlink" or "unknown".
 * Return: a static string.
 * Context: any thread; pure.
 */
const char *gmr__fd_type(const char *link, unsigned mode);

/* One socket as /proc/net/{tcp,tcp6,udp,udp6,unix} describe it. */
struct gmr__sock {
    uint64_t inode;     /* socket inode, as in the "socket:[N]" fd link */
    char proto[8];      /* "tcp", "tcp6", "udp", "udp6" or "unix" */
    char local[256];    /* "127.0.0.1:8080", "[::1]:53"; unix: path, "@name", or "" */
    char remote[64];    /* peer address; "" when none (unix, unconnected) */
    char state[16];     /* "LISTEN", "ESTABLISHED", ...; "" for unconnected UDP */
    char sock_type[12]; /* unix only: "STREAM", "DGRAM", "SEQPACKET"; else "" */
};

/*
 * gmr__parse_net_inet_line() - one line (without its newline) of /proc/net/tcp, tcp6, udp or
 * udp6.
 * @proto: "tcp", "tcp6", "udp" or "udp6": which file the line comes from
 *
 * Return: 0; -EINVAL (the header line, or a malformed line).
 * Context: any thread; pure.
 */
int gmr__parse_net_inet_line(const char *line, const char *proto, struct gmr__sock *ret);

/*
 * gmr__parse_net_unix_line() - one line (without its newline) of /proc/net/unix.  The path is
 * the rest of the line and may contain spaces.
 * Return: 0; -EINVAL (the header line, or a malformed line).
 * Context: any thread; pure.
 */
int gmr__parse_net_unix_line(const char *line, struct gmr__sock *ret);

/*
 * gmr__sock_describe() - one line for an operator: "TCP 127.0.0.1:8080 -> 127.0.0.1:53422
 * ESTABLISHED", "UDP 0.0.0.0:5353", "UNIX STREAM /run/x.sock LISTEN".
 * Context: any thread; pure.
 */
void gmr__sock_describe(const struct gmr__sock *s, char *buf, size_t size);

/* qsort()/bsearch() comparison of two uint64_t.  Context: any thread; pure. */
int gmr__cmp_u64(const void *a, const void *b);

/*
 * gmr__net_lookup() - describe sockets by inode from /proc/net/{tcp,tcp6,udp,udp6,unix}; each
 * file is read at most once, and no further than needed.
 * @inodes: socket inodes, sorted ascending, without duplicates (borrowed)
 * @n:      their number
 * @socks:  @n entries, zeroed by the caller; @socks[i] describes @inodes[i] when its proto is
 *          not empty afterwards
 * @note:   set to "" or to what could not be read ("/proc/net/tcp: Permission denied")
 *
 * Return: the number of sockets found; -ENOMEM.
 * Context: reporter thread or caller context.
 */
int gmr__net_lookup(const uint64_t *inodes, size_t n, struct gmr__sock *socks, char *note,
                    size_t note_size);

/*
 * gmr__net_scan_fd() - the lookup of gmr__net_lookup() over one file in /proc/net's format.
 * @fd:        the file, read from its current position (not closed)
 * @proto:     "tcp", "tcp6", "udp", "udp6" or "unix": how to parse its lines
 * @inodes/@n/@socks: as for gmr__net_lookup()
 * @found:     sockets found so far; updated
 * @max_bytes: read no further than this
 *
 * Return: 0; 1 (stopped at @max_bytes with sockets still missing); -ENOMEM; -errno from
 *         read(2).
 * Context: reporter thread or caller context.
 */
int gmr__net_scan_fd(int fd, const char *proto, const uint64_t *inodes, size_t n,
                     struct gmr__sock *socks, size_t *found, size_t max_bytes);

/*
 * gmr__parse_build_id_note() - find the NT_GNU_BUILD_ID note in the contents of a PT_NOTE
 * segment.
 * @notes: the segment's bytes (borrowed); @size: their number
 * @align: the segment's p_align (4 or 8; other values are treated as 4)
 * @ret_id, @ret_len: on success, the build-id bytes (pointing into @notes) and their number
 *
 * Return: 0; -ENOENT (no build-id note, or a malformed note before it).
 * Context: any thread; pure.
 */
int gmr__parse_build_id_note(const void *notes, size_t size, size_t align,
                             const unsigned char **ret_id, size_t *ret_len);

#endif /* GMR_SECTIONS_DIAG_H */
