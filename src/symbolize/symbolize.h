/*
 * Symbolization of this process's code addresses with libdwfl: one Dwfl session for the
 * process, kept across reports, with a per-PC cache of finished frame descriptions and a
 * cache of source files.  The session also serves the unwinder (capture/unwind.c), which
 * attaches its thread callbacks to the same Dwfl.
 *
 * debuginfod is never contacted: the session's find_debuginfo callback looks only in local
 * paths (build-id links under /usr/lib/debug, then the debuglink name next to the module, in
 * its .debug directory and under /usr/lib/debug), whatever DEBUGINFOD_URLS says.
 *
 * Context: reporter thread or caller context, one caller at a time (gmr__sym_lock()).
 */
#ifndef GMR_SYMBOLIZE_SYMBOLIZE_H
#define GMR_SYMBOLIZE_SYMBOLIZE_H

#include <elfutils/libdwfl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Distinct (pc, activation) pairs remembered across reports; the cache is emptied when full. */
#define GMR_SYM_CACHE_MAX 16384
/* Source files kept in memory, and their total size; the cache is emptied beyond either. */
#define GMR_SRC_CACHE_FILES 256
#define GMR_SRC_CACHE_BYTES (16u * 1024 * 1024)
/* Larger source files are not read. */
#define GMR_SRC_FILE_MAX (4u * 1024 * 1024)
/* Longest source line kept in a frame, in bytes; longer ones end with "...". */
#define GMR_SRC_LINE_MAX 160

struct gmr__sym;

/*
 * gmr__sym_lock() / gmr__sym_unlock() - serialize users of the process's session (a report,
 * install, uninstall).
 */
void gmr__sym_lock(void);
void gmr__sym_unlock(void);

/*
 * gmr__sym_fork_prepare(), gmr__sym_fork_parent(), gmr__sym_fork_child() - fork() handlers.
 * Prepare takes the lock only if it is free (it never waits for a report); then the child
 * keeps the session.  Otherwise the child re-creates the lock, whose holder does not exist
 * there, and drops the session without freeing it (it may be half-way through an update):
 * the child's first report starts a new one.
 * Context: pthread_atfork() handlers (core/gmr.c).
 */
void gmr__sym_fork_prepare(void);
void gmr__sym_fork_parent(void);
void gmr__sym_fork_child(void);

/*
 * gmr__sym_get() - the process's session, created on first use (or again in a fork child
 * that dropped its parent's),
 * with its module list refreshed from /proc/self/maps when that changed.
 * Return: 0 or -errno; *@ret is borrowed.  @reterr_msg (may be NULL) gets libdwfl's reason.
 * Context: under gmr__sym_lock().
 */
int gmr__sym_get(struct gmr__sym **ret, const char **reterr_msg);

/*
 * gmr__sym_current() - the session as the last gmr__sym_get() left it, without reading
 * /proc/self/maps again: for a pass over a section that has just refreshed it (the maps of a
 * process with many threads take a millisecond to read).
 * Return: 0, or -ENOENT when this process has no session yet; *@ret is borrowed.
 * Context: under gmr__sym_lock().
 */
int gmr__sym_current(struct gmr__sym **ret);

/*
 * gmr__sym_filter_maps() - keep of the text of /proc/self/maps (@len bytes at @maps, changed in
 * place) only the mappings of objects the dynamic loader loaded, as the session reports them.
 * Return: the new length.
 */
size_t gmr__sym_filter_maps(char *maps, size_t len);

/* The session's Dwfl (borrowed): describes addresses; the unwinder may use it too. */
Dwfl *gmr__sym_dwfl(struct gmr__sym *s);

/*
 * gmr__sym_unwind_dwfl() - a second Dwfl over the same modules (borrowed), for the unwinder
 * while gmr__sym_prefetch() loads DWARF into the first.
 */
Dwfl *gmr__sym_unwind_dwfl(struct gmr__sym *s);

/*
 * gmr__sym_prefetch() - have a helper thread load the DWARF and symbols of the module holding
 * @pc (@activation as for gmr__sym_frames()), unless that was asked for already, so that
 * describing its addresses later does not wait for it.  The module is looked up in
 * gmr__sym_unwind_dwfl().  Until gmr__sym_prefetch_wait(), the caller must not use
 * gmr__sym_dwfl() or gmr__sym_frames().
 */
void gmr__sym_prefetch(struct gmr__sym *s, uint64_t pc, bool activation);

/* gmr__sym_prefetch_wait() - wait for the helper to finish (nothing when none runs). */
void gmr__sym_prefetch_wait(struct gmr__sym *s);

/*
 * gmr__sym_frames() - describe the code address of one physical frame.
 * @pc:         the frame's program counter
 * @activation: true for the interrupted frame (and frames after a signal frame); false for
 *              return addresses, which are looked up at @pc - 1
 * Return: an array of frame objects (innermost first: inlined calls, then the function that
 *         holds them), borrowed from the cache and valid until the next call; NULL on ENOMEM.
 *         Append its items with json_array_append() (the objects are shared, immutable).
 */
json_t *gmr__sym_frames(struct gmr__sym *s, uint64_t pc, bool activation);

/*
 * gmr__sym_free() - end the session and empty the caches.  In a fork child the parent's
 * session is dropped without being touched (a report may have been using it).
 * Context: caller context; gmr__sym_lock() must not be held.
 */
void gmr__sym_free(void);

/*
 * gmr__demangle_prime() - look up __cxa_demangle (when the process has a C++ runtime), so
 * that no report does it for the first time.
 */
void gmr__demangle_prime(void);

/*
 * gmr__demangle() - the demangled form of a C++ symbol name.
 * Return: a new string (free with free()), or NULL when @name is not a mangled name, no C++
 *         runtime is loaded, or demangling failed.
 */
char *gmr__demangle(const char *name);

/*
 * gmr__source_line() - line @line of source file @path, whitespace-trimmed and cut to
 * GMR_SRC_LINE_MAX bytes, from the source cache.
 * Return: a new string (gmr__free) or NULL (unreadable file, no such line, ENOMEM).
 */
char *gmr__source_line(const char *path, int line);

/* Empties the source cache. */
void gmr__source_cache_clear(void);

/* In a fork child: forgets the parent's source cache without freeing it. */
void gmr__source_cache_forget(void);

#endif /* GMR_SYMBOLIZE_SYMBOLIZE_H */
