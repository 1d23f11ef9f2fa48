/*
 * libgmr - Guru Meditation Reports for C and C++ programs on Linux.
 *
 * A process that calls gmr_setup_autorun() writes a report of its own state when it receives
 * SIGUSR2 (or the signal you choose), when a watched file is touched, or when it calls
 * gmr_write_report(); then it keeps running.  The report holds a header, the Package section,
 * the built-in sections and the application's own sections, as text or as JSON.
 *
 * This header is the manual.  Conventions used throughout:
 *  - Functions that can fail return an int: 0 (or a count) on success, a negative errno value
 *    on failure.  Use strerror(-r) for a message.
 *  - Strings passed in are copied unless a comment says otherwise; userdata is borrowed;
 *    pointers returned by getters are borrowed and stay valid as documented.
 *  - "Context" says where a function may be called:
 *      caller context   - any application thread, never from a signal handler;
 *      reporter thread  - callbacks you register run there, never in a signal handler;
 *      async-signal-safe - may be called from a signal handler.
 *
 * Minimal use:
 *
 *     static const struct gmr_version version = {"Example Org", "example-service", "1.2.3"};
 *     gmr_register_section("Request Stats", stats_section, &stats);   // optional
 *     gmr_setup_autorun(&version, NULL, NULL);                          // before the main loop
 */
#ifndef GMR_GMR_H
#define GMR_GMR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gmr/version.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define GMR_EXPORT                   __attribute__((visibility("default")))
#define GMR_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#else
#define GMR_EXPORT
#define GMR_PRINTF(fmt_idx, arg_idx)
#endif

/* ------------------------------------------------------------------------------------------
 * Version
 * ------------------------------------------------------------------------------------------ */

/*
 * gmr_version() - the library's version as 0xMMmmpp (compare with GMR_VERSION_HEX).
 *
 * Return: the runtime version number.
 * Context: any, async-signal-safe.  Since: 0.1.
 */
GMR_EXPORT unsigned gmr_version(void);

/*
 * gmr_version_string() - the library's version as "MAJOR.MINOR.PATCH".
 *
 * Return: a static string; never NULL.
 * Context: any, async-signal-safe.  Since: 0.1.
 */
GMR_EXPORT const char *gmr_version_string(void);

/* ------------------------------------------------------------------------------------------
 * Setup
 * ------------------------------------------------------------------------------------------ */

/*
 * struct gmr_version - what the Package section shows.
 * @vendor:  who ships the program, e.g. "OpenStack Foundation"; may be NULL
 * @product: the product name, e.g. "nova-compute"; may be NULL
 * @version: the product's version string; may be NULL
 *
 * The strings are copied by gmr_setup_autorun().
 */
struct gmr_version {
    const char *vendor;
    const char *product;
    const char *version;
};

/* The configuration object; see "Configuration" below. */
typedef struct gmr_conf gmr_conf;

/*
 * gmr_setup_autorun() - install the report triggers and start the reporter thread.
 * @version:      shown in the Package section; copied; may be NULL (the section says so)
 * @conf:         configuration object whose options the Configuration section shows and
 *                whose [oslo_reports] options (see gmr_opts_set_defaults()) configure the
 *                triggers and the output; borrowed: it must stay alive until gmr_shutdown();
 *                may be NULL
 * @service_name: names report files and appears in the report header; copied; NULL means the
 *                program's name
 *
 * Call it once, before the main loop.  Sections may be registered before or after.  It
 * starts one thread ("gmr-reporter", every signal blocked) and installs a handler on the
 * trigger signal (SIGUSR2 unless gmr_set_trigger_signal() chose another).  If the
 * application already has a handler on that signal, setup fails with -EBUSY and writes a
 * one-line message to stderr, unless gmr_set_chain_handler(true) was called: then the
 * previous handler is called after libgmr's.  A signal set to SIG_IGN (often inherited from
 * the parent, as `trap '' USR2` in a shell leaves it) has no handler: it is taken, and
 * gmr_shutdown() sets it back to SIG_IGN.
 *
 * Return: 0; -EALREADY (already set up); -EBUSY (the signal already has a handler);
 *         -EINVAL (bad option in @conf; gmr_conf_last_error() tells which); -ENOMEM;
 *         another -errno from the system (thread, eventfd, sigaction).
 * Context: caller context; not async-signal-safe.  Since: 0.1.
 */
GMR_EXPORT int gmr_setup_autorun(const struct gmr_version *version, gmr_conf *conf,
                                 const char *service_name);

/*
 * gmr_shutdown() - stop the reporter thread and restore the previous signal handler.
 *
 * A report in progress is finished first.  Sections stay registered; gmr_setup_autorun() may
 * be called again afterwards.  Does nothing when not set up.
 *
 * Context: caller context; not from a section callback.  Since: 0.1.
 */
GMR_EXPORT void gmr_shutdown(void);

/*
 * gmr_set_trigger_signal() - choose the signal that triggers a report.
 * @signo: a catchable signal number (SIGUSR2 by default, SIGUSR1 as Aodh does, ...), or 0
 *         for no signal trigger
 *
 * Return: 0; -EINVAL (SIGKILL, SIGSTOP, a fault signal or out of range); -EBUSY (already set
 *         up: call before gmr_setup_autorun()).
 * Context: caller context.  Since: 0.1.
 */
GMR_EXPORT int gmr_set_trigger_signal(int signo);

/*
 * gmr_set_chain_handler() - call an existing handler of the trigger signal after ours.
 * @chain: true to chain; false (the default) to refuse setup when a handler exists
 *
 * Return: 0; -EBUSY (already set up).
 * Context: caller context.  Since: 0.1.
 */
GMR_EXPORT int gmr_set_chain_handler(bool chain);

/* Report formats. */
enum gmr_format {
    GMR_FORMAT_TEXT = 0, /* oslo.reports' layout, for people */
    GMR_FORMAT_JSON = 1, /* one JSON document; see docs/report-format.md */
};

/*
 * gmr_set_format() - the format of triggered reports (GMR_FORMAT_TEXT by default).
 *
 * Return: 0; -EINVAL (unknown format); -EBUSY (already set up).
 * Context: caller context.  Since: 0.1.
 */
GMR_EXPORT int gmr_set_format(enum gmr_format format);

/*
 * gmr_set_output_fd() - where triggered reports go when no log directory is set.
 * @fd: an open file descriptor, borrowed (never closed by libgmr); 2 (stderr) by default
 *
 * Return: 0; -EBADF (negative fd); -EBUSY (already set up).
 * Context: caller context.  Since: 0.1.
 */
GMR_EXPORT int gmr_set_output_fd(int fd);

/*
 * gmr_set_log_dir() - write each triggered report to a new file in @dir instead of the output
 * fd, named <service_name>_gurumeditation_<YYYYMMDDHHMMSS> (UTC; ".json" appended for JSON,
 * a suffix added when the name is taken).  Files are written under a temporary name, fsync'd,
 * renamed, mode 0600, never through a symlink.  If @dir cannot take the report, it goes to the
 * output fd with a one-line reason.
 * @dir: an existing directory; copied; NULL or "" for none (the default)
 *
 * Return: 0; -EBUSY (already set up); -ENOMEM.
 * Context: caller context.  Since: 0.1.
 */
GMR_EXPORT int gmr_set_log_dir(const char *dir);

/*
 * gmr_set_file_trigger() - write a report whenever @path is created, modified or touched.
 * @path:       the file to watch; copied; it may be missing at setup, deleted and re-created;
 *              NULL or "" for none (the default)
 * @interval_s: seconds between checks where inotify cannot watch the directory (>= 1)
 *
 * As in oslo.reports, a file trigger disables the signal trigger unless
 * gmr_set_trigger_signal() was also called.
 *
 * Return: 0; -EINVAL (interval < 1, or a relative path); -EBUSY (already set up); -ENOMEM.
 * Context: caller context.  Since: 0.1.
 */
GMR_EXPORT int gmr_set_file_trigger(const char *path, int interval_s);

/*
 * gmr_set_capture_signal() - the real-time signal used to snapshot running threads.
 * @signo: SIGRTMIN..SIGRTMAX, or 0 (the default) to pick the highest one without a handler
 *
 * Return: 0; -EINVAL (not a real-time signal); -EBUSY (already set up).
 * Context: caller context.  Since: 0.1.
 */
GMR_EXPORT int gmr_set_capture_signal(int signo);

/*
 * gmr_set_capture_timeout_ns() - how long a report waits for running threads to answer the
 * capture signal (1 s by default); threads that did not answer are listed as such.
 *
 * Return: 0; -EINVAL (0 or more than 60 s); -EBUSY (already set up).
 * Context: caller context.  Since: 0.1.
 */
GMR_EXPORT int gmr_set_capture_timeout_ns(uint64_t timeout_ns);

/*
 * gmr_set_section_timeout_ns() - how long each application section may take (2 s by
 * default).  A section generator that takes longer is left running on its own thread; the
 * report is written without that section and says so.
 *
 * Return: 0; -EINVAL (0 or more than 600 s); -EBUSY (already set up).
 * Context: caller context.  Since: 0.1.
 */
GMR_EXPORT int gmr_set_section_timeout_ns(uint64_t timeout_ns);

/* The built-in sections after Package, as flags for gmr_set_builtin_sections(). */
enum gmr_builtin_section {
    GMR_SECTION_THREADS = 1u << 0,        /* every thread's stack */
    GMR_SECTION_GREEN_THREADS = 1u << 1,  /* registered coroutines */
    GMR_SECTION_PROCESSES = 1u << 2,      /* this process and its children */
    GMR_SECTION_CONFIGURATION = 1u << 3,  /* the configuration object, secrets masked */
    GMR_SECTION_ENVIRONMENT = 1u << 4,    /* environment variables, secrets masked */
    GMR_SECTION_RESOURCES = 1u << 5,      /* CPU, memory and malloc use */
    GMR_SECTION_LIMITS = 1u << 6,         /* resource limits */
    GMR_SECTION_OPEN_FILES = 1u << 7,     /* file descriptors, sockets with addresses */
    GMR_SECTION_SHARED_OBJECTS = 1u << 8, /* loaded objects with build-ids */
    GMR_SECTION_SYSTEM = 1u << 9,         /* kernel, CPUs, load, memory of the machine */
};
#define GMR_SECTIONS_ALL 0x3ffu

/*
 * gmr_set_builtin_sections() - which built-in sections reports contain (all by default).
 * @sections: GMR_SECTION_* flags ORed together; Package and the header are always written
 *
 * Example: gmr_set_builtin_sections(GMR_SECTIONS_ALL & ~GMR_SECTION_ENVIRONMENT).
 *
 * Return: 0; -EINVAL (unknown flag); -EBUSY (already set up).
 * Context: caller context.  Since: 0.1.
 */
GMR_EXPORT int gmr_set_builtin_sections(unsigned sections);

/*
 * gmr_set_group_threads() - in the text view, show threads with identical stacks once, with
 * the list of their thread ids (false by default).  JSON always lists every thread.
 *
 * Return: 0; -EBUSY (already set up).
 * Context: caller context.  Since: 0.1.
 */
GMR_EXPORT int gmr_set_group_threads(bool group);

/* ------------------------------------------------------------------------------------------
 * Reports on demand
 * ------------------------------------------------------------------------------------------ */

/*
 * gmr_write_report() - write a report now.
 * @fd:     where to write it; borrowed, not closed
 * @format: GMR_FORMAT_TEXT or GMR_FORMAT_JSON
 *
 * When set up, the reporter thread writes the report while the calling thread waits, so the
 * calling thread shows up in the report's Threads section like any other.  When not set up,
 * the report is built in the calling thread.  Reports never interleave: a call made while
 * another report is being written waits for it.  The whole report is written (short writes
 * and EINTR are retried).  A pipe or socket whose reader has gone gives -EPIPE, never a
 * SIGPIPE.
 *
 * Return: 0; -EINVAL (bad format, negative fd); -EBADF (fd not open); -EDEADLK (called from a
 *         section callback); -ENOMEM; -errno from write(2) (the report may then be incomplete).
 * Context: caller context, any thread; not async-signal-safe.  Since: 0.1.
 */
GMR_EXPORT int gmr_write_report(int fd, enum gmr_format format);

/*
 * gmr_request_report() - ask for a report, from anywhere, including a signal handler.
 *
 * For applications that handle signals themselves: the reporter thread writes a report to
 * the configured output, exactly as if the trigger signal had arrived.  Requests made while a
 * report is being written cause one more report afterwards.  Does nothing when not set up.
 *
 * Context: any; async-signal-safe.  Since: 0.1.
 */
GMR_EXPORT void gmr_request_report(void);

/* ------------------------------------------------------------------------------------------
 * Application sections and the writer
 * ------------------------------------------------------------------------------------------ */

/*
 * The writer fills one section of the report model.  Keys are unique within an object;
 * values are strings (formatted printf-style).  Objects and lists nest up to 32 levels.
 * Open objects and lists are closed automatically when the callback returns.
 */
typedef struct gmr_writer gmr_writer;

/*
 * gmr_section_fn - fills an application section.
 * @w:        the writer for this section; valid only during the call
 * @userdata: as given to gmr_register_section()
 *
 * Return: 0 on success; a negative errno value on failure: the report then shows what was
 *         written plus an error entry for this section, and the other sections are unaffected.
 * Context: a libgmr thread ("gmr-sections", every signal blocked), one section at a time;
 *          never a signal handler.  It may allocate, lock and do I/O, but must not call
 *          gmr_write_report() (-EDEADLK).  It should return quickly: after the section
 *          timeout (gmr_set_section_timeout_ns()) the report is written without it, and the
 *          callback, when it finally returns, writes into nothing.
 */
typedef int (*gmr_section_fn)(gmr_writer *w, void *userdata);

/*
 * gmr_register_section() - add a section to every report, after the built-in ones.
 * @title:    section title; copied; must be unique among application sections
 * @fn:       fills the section
 * @userdata: borrowed; passed to @fn
 *
 * Sections appear in registration order.  Registration may happen before or after
 * gmr_setup_autorun(); a report in progress is not affected.
 *
 * Return: 0; -EINVAL (NULL or empty title, NULL fn); -EEXIST (title in use);
 *         -ENOSPC (more than 256 sections); -ENOMEM.
 * Context: caller context, MT-safe; not from a section callback.  Since: 0.1.
 */
GMR_EXPORT int gmr_register_section(const char *title, gmr_section_fn fn, void *userdata);

/*
 * gmr_unregister_section() - remove an application section.
 * @title: the title given to gmr_register_section()
 *
 * When it returns, the section's callback is not running and will not run again.
 *
 * Return: 0; -EINVAL (NULL title); -ENOENT (no such section).
 * Context: caller context, MT-safe; not from a section callback.  Since: 0.1.
 */
GMR_EXPORT int gmr_unregister_section(const char *title);

/*
 * gmr_writer_kv() - add "key = value" to the current object.
 * @w:   the writer
 * @key: copied; must not be NULL or empty and must be new in the current object
 * @fmt: printf-style format of the value; the result is copied (at most 64 KiB, longer values
 *       are cut and end with "...")
 *
 * Return: 0; -EINVAL (bad argument, or the current container is a list: use gmr_writer_item());
 *         -EEXIST (key already set in this object); -ENOMEM.
 * Context: inside a gmr_section_fn.  Since: 0.1.
 */
GMR_EXPORT int gmr_writer_kv(gmr_writer *w, const char *key, const char *fmt, ...)
    GMR_PRINTF(3, 4);

/*
 * gmr_writer_vkv() - gmr_writer_kv() with a va_list.
 * Context: inside a gmr_section_fn.  Since: 0.1.
 */
GMR_EXPORT int gmr_writer_vkv(gmr_writer *w, const char *key, const char *fmt, va_list ap)
    GMR_PRINTF(3, 0);

/*
 * gmr_writer_item() - append a string to the current list.
 * @w:   the writer
 * @fmt: printf-style format; as for gmr_writer_kv()
 *
 * Return: 0; -EINVAL (bad argument, or the current container is an object); -ENOMEM.
 * Context: inside a gmr_section_fn.  Since: 0.1.
 */
GMR_EXPORT int gmr_writer_item(gmr_writer *w, const char *fmt, ...) GMR_PRINTF(2, 3);

/*
 * gmr_writer_begin_object() - open a nested object; later calls write into it.
 * @w:   the writer
 * @key: its key in the current object; copied; NULL when the current container is a list
 *
 * Return: 0; -EINVAL (key missing in an object or given in a list); -EEXIST; -E2BIG (nesting
 *         deeper than 32); -ENOMEM.
 * Context: inside a gmr_section_fn.  Since: 0.1.
 */
GMR_EXPORT int gmr_writer_begin_object(gmr_writer *w, const char *key);

/*
 * gmr_writer_begin_list() - open a nested list; later items are appended to it.
 * @w:   the writer
 * @key: as for gmr_writer_begin_object()
 *
 * Return: as gmr_writer_begin_object().
 * Context: inside a gmr_section_fn.  Since: 0.1.
 */
GMR_EXPORT int gmr_writer_begin_list(gmr_writer *w, const char *key);

/*
 * gmr_writer_end() - close the innermost open object or list.
 *
 * Return: 0; -EINVAL (nothing open).
 * Context: inside a gmr_section_fn.  Since: 0.1.
 */
GMR_EXPORT int gmr_writer_end(gmr_writer *w);

/* ------------------------------------------------------------------------------------------
 * Green threads
 *
 * Coroutines ("green threads") run on an OS thread's stack only while they run; suspended,
 * their stacks are invisible to the Threads section.  Register each coroutine and tell libgmr
 * when it runs and when it is suspended: the Green Threads section then shows every suspended
 * coroutine's stack, unwound and symbolized like a thread's, and for a running one the thread
 * it runs on.  A scheduler built on swapcontext(3):
 *
 *     gmr_coro *g;
 *     gmr_coro_register("fetcher", 0, stack, stack_size, &g);  // when the coroutine is created
 *     ...
 *     gmr_coro_running(g);                          // just before switching to it
 *     swapcontext(&sched_ctx, &co->ctx);            // it runs until it yields back
 *     gmr_coro_suspended(g, &co->ctx);              // back in the scheduler: its context is saved
 *     ...
 *     gmr_coro_unregister(g);                       // before its stack is freed or reused
 *
 * A hand-written context switch passes the saved stack pointer, resume address and frame
 * pointer instead: gmr_coro_suspended_regs(), or gmr_coro_suspended_regs_full() with the
 * callee-saved registers.
 *
 * The rules that keep reports exact:
 *  - Mark a coroutine suspended only once its context is completely saved: from the code that
 *    runs after the switch away from it (the scheduler, or the coroutine switched to), never
 *    just before the switch.  Mark it running before switching to it.
 *  - While it is registered and marked suspended, the saved context (the ucontext_t, or the
 *    stack words the registers point into) and its stack must stay as the switch left them.
 *    Any change is announced first by one of the calls below (running, suspended, unregister).
 *  - Calls on one handle are made by one thread at a time (the scheduler's order does that);
 *    different handles may be used from different threads at once.
 *
 * Cost: registration and state changes never lock, allocate (except when registration grows
 * the pool) or make system calls: a state change is a handful of stores, a few nanoseconds
 * (bench/bench-coro.c measures it).  The reporter reads a suspended coroutine's context and stack with
 * reads that cannot fault, and checks a change counter that every call above advances,
 * before and after: a coroutine that was switched, unregistered or freed meanwhile is shown
 * without a stack, never with stale or foreign frames, and the report never crashes.
 * ------------------------------------------------------------------------------------------ */

/* A registered coroutine; opaque.  Handles come from gmr_coro_register(). */
typedef struct gmr_coro gmr_coro;

/* Coroutines that can be registered at once. */
#define GMR_CORO_MAX (1u << 20)
/* Longest name kept, in bytes; longer names are cut. */
#define GMR_CORO_NAME_MAX 47

/*
 * gmr_coro_register() - add a coroutine to the Green Threads section.
 * @name:       shown in the report; copied (at most GMR_CORO_NAME_MAX bytes); may be NULL
 * @id:         your identifier for it, shown in the report; 0 to let libgmr number it (the
 *              registration's sequence number, starting at 1)
 * @stack:      lowest address of its stack; borrowed, only read while it is suspended; NULL
 *              when unknown (then up to 256 KiB above the saved stack pointer are read)
 * @stack_size: size of the stack in bytes; 0 when unknown
 * @ret:        the new handle, set on success; valid until gmr_coro_unregister()
 *
 * The coroutine starts in the state "new" (shown without a stack) until the first
 * gmr_coro_running() or gmr_coro_suspended*() call.  Works with or without
 * gmr_setup_autorun(), before and after it; gmr_write_report() shows the section too.
 *
 * Return: 0; -EINVAL (NULL @ret, or @stack_size without @stack); -ENOSPC (GMR_CORO_MAX
 *         coroutines registered); -ENOMEM (the pool could not grow).
 * Context: caller context, MT-safe, lock-free.  Since: 0.1.
 */
GMR_EXPORT int gmr_coro_register(const char *name, uint64_t id, void *stack, size_t stack_size,
                                 gmr_coro **ret);

/*
 * gmr_coro_unregister() - remove a coroutine from the report.
 * @c: a registered handle, or NULL (does nothing)
 *
 * Call it before the coroutine's stack or saved context is freed or reused.  A report
 * running at that moment shows the coroutine without a stack, or not at all.  The handle must
 * not be used afterwards; its memory is recycled for later registrations, never freed.
 *
 * Context: caller context, MT-safe, lock-free.  Since: 0.1.
 */
GMR_EXPORT void gmr_coro_unregister(gmr_coro *c);

/*
 * gmr_coro_running() - the coroutine runs (or is about to run) on the calling thread.
 * @c: a registered handle, or NULL (does nothing)
 *
 * Call it on the thread the coroutine will run on, before switching to it.  The report shows
 * a running coroutine with that thread's id: its frames are in that thread's stack, in the
 * Threads section.
 *
 * Context: caller context, lock-free, no system call (but one gettid() per thread, the
 *          first time); async-signal-safe.  Since: 0.1.
 */
GMR_EXPORT void gmr_coro_running(gmr_coro *c);

/*
 * gmr_coro_suspended() - the coroutine is suspended in a context saved by swapcontext(3) or
 * getcontext(3).
 * @c:        a registered handle, or NULL (does nothing)
 * @ucontext: a ucontext_t * (declared void * so this header does not need <ucontext.h>);
 *            borrowed: it must stay valid and unchanged until the next call on @c; NULL
 *            when the context is not known (the report then shows no stack)
 *
 * Call it after the switch away from the coroutine completed (see the rules above).  The
 * context's saved stack pointer and registers are read when a report is written; for a
 * context saved by swapcontext() the program counter is the return address into the
 * coroutine's caller of swapcontext(), and the report shows that caller as its first frame.
 * A context made by makecontext(3) that has not run yet may be given too: its program
 * counter is the entry function's first instruction, which is recognised.
 *
 * Context: caller context, lock-free, no system call; async-signal-safe.  Since: 0.1.
 */
GMR_EXPORT void gmr_coro_suspended(gmr_coro *c, const void *ucontext);

/*
 * gmr_coro_suspended_regs() - the coroutine is suspended by a hand-written context switch.
 * @c:  a registered handle, or NULL (does nothing)
 * @sp: its stack pointer at the point it resumes
 * @pc: where it resumes: the return address of the call to the switch routine (the word that
 *      call pushed on x86_64; the link register on aarch64), with @sp the stack pointer after
 *      that call returns (on x86_64, the stack pointer on entry to the routine + 8)
 * @fp: its frame pointer there (rbp on x86_64, x29 on aarch64); 0 when unknown
 *
 * The values are copied.  Code built without frame pointers unwinds from @sp and @pc alone;
 * to also let the report follow frames that keep their frame address in other callee-saved
 * registers, or a @pc that is an exact resume address, use gmr_coro_suspended_regs_full().
 * The stack words above @sp must stay unchanged while it is suspended.
 *
 * Context: caller context, lock-free, no system call; async-signal-safe.  Since: 0.1.
 */
GMR_EXPORT void gmr_coro_suspended_regs(gmr_coro *c, uintptr_t sp, uintptr_t pc, uintptr_t fp);

/* Flags of struct gmr_coro_regs. */
enum gmr_coro_regs_flags {
    /* @pc is the exact instruction the coroutine resumes at (a label in the switch routine),
     * not a return address */
    GMR_CORO_PC_EXACT = 1u << 0,
};

/* Callee-saved registers struct gmr_coro_regs can carry. */
#define GMR_CORO_CALLEE_SAVED_MAX 12

/*
 * struct gmr_coro_regs - a suspended coroutine's registers, for gmr_coro_suspended_regs_full().
 * @size:           sizeof(struct gmr_coro_regs); later versions may append members
 * @flags:          GMR_CORO_* flags ORed together
 * @sp, @pc, @fp:   as for gmr_coro_suspended_regs()
 * @n_callee_saved: how many of @callee_saved are valid (0..GMR_CORO_CALLEE_SAVED_MAX); the
 *                  registers in this order:
 *                    x86_64:  rbx, r12, r13, r14, r15
 *                    aarch64: x19, x20, ..., x28
 *                  (more than the architecture has are ignored)
 * @callee_saved:   their values at the resume point
 */
struct gmr_coro_regs {
    size_t size;
    unsigned flags;
    unsigned n_callee_saved;
    uintptr_t sp;
    uintptr_t pc;
    uintptr_t fp;
    uintptr_t callee_saved[GMR_CORO_CALLEE_SAVED_MAX];
};

/*
 * gmr_coro_suspended_regs_full() - gmr_coro_suspended_regs() with flags and callee-saved
 * registers.
 * @c:    a registered handle, or NULL (does nothing)
 * @regs: copied; @regs->size must be set (a smaller size from an older header is accepted);
 *        NULL or a size too small for @fp leaves @c unchanged
 *
 * Context: caller context, lock-free, no system call; async-signal-safe.  Since: 0.1.
 */
GMR_EXPORT void gmr_coro_suspended_regs_full(gmr_coro *c, const struct gmr_coro_regs *regs);

/* ------------------------------------------------------------------------------------------
 * Control socket, signal hand-over and saved reports
 * ------------------------------------------------------------------------------------------ */

/*
 * gmr_set_control_socket() - also serve reports through a Unix socket (false by default).
 * @enable: true to listen on <dir>/<pid>.sock, <dir> being $XDG_RUNTIME_DIR/gmr, or
 *          /tmp/gmr-<uid> when XDG_RUNTIME_DIR is not set
 *
 * The directory is created mode 0700 and used only when it is a directory owned by the
 * process's effective uid with no group or other permissions (never through a symlink).
 * Clients of the same uid, or root (checked with SO_PEERCRED), send one line, "report text",
 * "report json" or "info", and read "ok <N>\n" and N bytes of payload, or "error <reason>\n";
 * `gmr report PID` and `gmr ls` are such clients (see gmr(1) and docs/cli.md).  The reporter
 * thread serves the socket; a client gets 2 s to send its request and 10 s to read the reply.
 * The socket is removed by gmr_shutdown(); a fork child listens on its own.  When the socket
 * cannot be created, setup still succeeds and writes a one-line reason to stderr.
 *
 * Return: 0; -EBUSY (already set up).
 * Context: caller context.  Since: 0.1.
 */
GMR_EXPORT int gmr_set_control_socket(bool enable);

/*
 * gmr_release_trigger_signal() - hand the trigger signal over to the application.
 * @signo: the signal the application is taking over
 *
 * For code that sets signal dispositions on behalf of an unmodified program (the preload
 * library libgmr-preload.so wraps sigaction() and signal() and calls this when the program
 * installs its own handler on the trigger signal).  If @signo is the trigger signal, libgmr
 * stops treating it as its own: gmr_shutdown() and fork children no longer restore or install
 * a disposition for it, and later setups use no signal trigger.  The caller installs the
 * application's disposition itself; this call does not touch it.  The file trigger, the
 * control socket and gmr_request_report() keep working.
 *
 * Return: 0; -ENOENT (@signo is not the trigger signal).
 * Context: caller context; not async-signal-safe.  Since: 0.1.
 */
GMR_EXPORT int gmr_release_trigger_signal(int signo);

/*
 * gmr_render_report() - render a saved JSON report in another view.
 * @json, @len: the JSON report as written with GMR_FORMAT_JSON; borrowed
 * @format:     GMR_FORMAT_TEXT gives exactly the text the live report would have shown;
 *              GMR_FORMAT_JSON re-indents the document
 * @fd:         where to write; borrowed, not closed
 *
 * Needs no setup; reads nothing of the running process.
 *
 * Return: 0; -EBADMSG (not JSON, or not a libgmr report); -EPROTONOSUPPORT (a format major
 *         version this library does not know); -EINVAL (bad @format or @fd); -ENOMEM;
 *         -errno from write(2).
 * Context: caller context, any thread; not async-signal-safe.  Since: 0.1.
 */
GMR_EXPORT int gmr_render_report(const char *json, size_t len, enum gmr_format format, int fd);

#ifdef __cplusplus
}
#endif

/* The configuration object (gmr_conf_*) and gmr_opts_set_defaults(). */
#include <gmr/conf.h>

#endif /* GMR_GMR_H */
