/*
 * The library's process-wide state.
 *
 * The public API is global (gmr_setup_autorun(), gmr_register_section() before setup), so the
 * settings and the section registry live in one static object, gmr__state, guarded by its
 * mutex.  What the signal handlers touch is separate (struct gmr__trigger, trigger.h).
 */
#ifndef GMR_CORE_STATE_H
#define GMR_CORE_STATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <gmr/gmr.h>

#include "trigger/trigger.h"

#define GMR_MAX_SECTIONS 256

struct gmr__section {
    char *title;       /* owned */
    gmr_section_fn fn; /* application callback */
    void *userdata;    /* borrowed */
};

/* Settings chosen before setup; gmr_setup_autorun() turns them into the running config. */
struct gmr__settings {
    int trigger_signo;           /* 0: no signal trigger */
    bool trigger_signo_explicit; /* set by gmr_set_trigger_signal() or the config file */
    bool chain;                  /* chain to an existing handler */
    enum gmr_format format;      /* of triggered reports */
    int output_fd;               /* borrowed; where triggered reports go without a log dir */
    char *log_dir;               /* owned; NULL: none */
    char *file_trigger;          /* owned; NULL: none */
    int file_interval_s;         /* polling interval where inotify cannot serve */
    int capture_signo;           /* 0: pick at setup */
    uint64_t capture_timeout_ns; /* deadline for running threads' snapshots */
    bool group_threads;          /* text view groups identical stacks */
    uint64_t section_timeout_ns; /* deadline of each application section */
    unsigned builtin_sections;   /* GMR_SECTION_* flags of the built-in sections shown */
    bool control_socket;         /* serve <runtime dir>/<pid>.sock (trigger/control.h) */
};

struct gmr__state {
    pthread_mutex_t lock; /* guards every member below; never held during a report */

    struct gmr__settings settings;          /* as set by the gmr_set_*() calls */
    struct gmr__section *sections;          /* owned array, registration order */
    size_t n_sections;

    /* While set up: */
    bool installed;
    struct gmr__settings run;               /* effective settings: copies of strings, owned */
    char *vendor, *product, *version;       /* owned copies; may be NULL */
    char *service_name;                     /* owned */
    gmr_conf *conf;                         /* borrowed from the application */
    struct gmr__trigger *trigger;           /* owned; shared with the signal handler */
    struct gmr__reporter *reporter;         /* owned */
};

extern struct gmr__state gmr__state;

/*
 * Serializes whole reports: held while one is built and written, so reports never nest or
 * interleave, and gmr_unregister_section() can wait for a running callback.
 */
extern pthread_mutex_t gmr__report_lock;

/*
 * gmr__report_write() - build one report and write it.
 * @fd:      where to write; -1 for the configured output (log dir or output fd)
 * @format:  the view
 * @trigger: what asked for it, for the header ("signal SIGUSR2", ...)
 * Return: 0 or -errno.
 * Context: reporter thread, or caller context when not set up.  Takes gmr__report_lock.
 */
int gmr__report_write(int fd, enum gmr_format format, const char *trigger);

/*
 * gmr__settings_from_conf() - apply the [oslo_reports] options that @conf sets explicitly
 * (from a file or the command line) to @run; they win over the gmr_set_*() calls.
 * Return: 0; -EINVAL (a bad value, reported on stderr in one line); -ENOMEM.
 * Context: caller context (setup).
 */
int gmr__settings_from_conf(struct gmr__settings *run, const gmr_conf *conf);

/* True on threads that build a report or run its section callbacks. */
bool gmr__in_report(void);
void gmr__set_in_report(bool on);

#endif /* GMR_CORE_STATE_H */
