/*
 * Section builders.  Each fills its part of the report model.
 * Context: reporter thread (or caller context when not set up); never a signal handler.
 */
#ifndef GMR_SECTIONS_SECTIONS_H
#define GMR_SECTIONS_SECTIONS_H

#include <jansson.h>

#include "core/state.h"

/* What the header shows; strings borrowed. */
struct gmr__header_info {
    const char *service_name;
    const char *trigger;
};

/* Adds the "header" object to @report.  Return: 0 or -ENOMEM. */
int gmr__section_header(json_t *report, const struct gmr__header_info *info);

/* Adds the Package section (vendor, product, version; each may be NULL). */
int gmr__section_package(json_t *report, const char *vendor, const char *product,
                         const char *version);

/*
 * gmr__sections_run() - run the application's sections, registration order, into @report.
 * @sections/@n: a snapshot of the registry (borrowed)
 * @timeout_ns:  how long each callback may take
 * Callbacks run on a runner thread.  A failing callback leaves what it wrote plus an error
 * entry; one that misses its deadline is abandoned and its section says so.
 * Return: 0 or -ENOMEM.
 */
int gmr__sections_run(json_t *report, const struct gmr__section *sections, size_t n,
                      uint64_t timeout_ns);

/*
 * gmr__sections_after_fork() - in a fork child: forget the callbacks abandoned in the parent
 * (their runner threads do not exist here) and re-create the lock of that list.
 * Context: the child's atfork handler.
 */
void gmr__sections_after_fork(void);

/*
 * gmr__section_processes() - fill the Processes section: this process and its children,
 * recursively (pid, ppid, user, uid, state, command line).  Return: 0 or -errno.
 */
int gmr__section_processes(json_t *section);

/* State letter and parent pid from /proc/PID/stat text.  Return: 0 or -EINVAL. */
int gmr__parse_proc_stat(const char *text, char *ret_state, int *ret_ppid);

/* The program's name, for a default service name; never NULL. */
const char *gmr__program_name(void);

#endif /* GMR_SECTIONS_SECTIONS_H */
