/*
 * The Resources section (CPU time, memory, faults, context switches, block I/O, malloc
 * statistics) and the Limits section (every resource limit, soft and hard).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>

#include "render/render.h"
#include "sections/diag.h"
#include "util/alloc.h"
#include "util/macro.h"

#define STATUS_MAX (64 * 1024) /* bytes of /proc/self/status read */

/* Adds @child (reference stolen) under @key.  Return: 0 or -ENOMEM. */
static int set_new(json_t *obj, const char *key, json_t *child)
{
    if (!child)
        return -ENOMEM;
    return json_object_set_new(obj, key, child) == 0 ? 0 : -ENOMEM;
}

/* getrusage(@who) as an object of strings with units; "unavailable: ..." on failure. */
static int rusage_json(int who, json_t **ret)
{
    struct rusage ru;
    if (getrusage(who, &ru) < 0) {
        char msg[128];
        snprintf(msg, sizeof(msg), "unavailable: %s", strerror(errno));
        *ret = gmr__json_string(msg);
        return *ret ? 0 : -ENOMEM;
    }
    json_t *o = json_object();
    if (!o)
        return -ENOMEM;
    int r = 0;
    r |= gmr__diag_set_fmt(o, "user_cpu_time", "%lld.%06ld s", (long long)ru.ru_utime.tv_sec,
                           (long)ru.ru_utime.tv_usec);
    r |= gmr__diag_set_fmt(o, "system_cpu_time", "%lld.%06ld s", (long long)ru.ru_stime.tv_sec,
                           (long)ru.ru_stime.tv_usec);
    r |= gmr__diag_set_fmt(o, "max_rss", "%ld KiB", ru.ru_maxrss);
    r |= gmr__diag_set_fmt(o, "minor_page_faults", "%ld", ru.ru_minflt);
    r |= gmr__diag_set_fmt(o, "major_page_faults", "%ld", ru.ru_majflt);
    r |= gmr__diag_set_fmt(o, "voluntary_context_switches", "%ld", ru.ru_nvcsw);
    r |= gmr__diag_set_fmt(o, "involuntary_context_switches", "%ld", ru.ru_nivcsw);
    r |= gmr__diag_set_fmt(o, "block_input_operations", "%ld", ru.ru_inblock);
    r |= gmr__diag_set_fmt(o, "block_output_operations", "%ld", ru.ru_oublock);
    if (r) {
        json_decref(o);
        return -ENOMEM;
    }
    *ret = o;
    return 0;
}

/* Lines of /proc/self/status shown, in this order, when present. */
static const char *const status_keys[] = {
    "VmPeak", "VmSize", "VmLck", "VmPin", "VmHWM", "VmRSS",  "RssAnon",      "RssFile", "RssShmem",
    "VmData", "VmStk",  "VmExe", "VmLib", "VmPTE", "VmSwap", "HugetlbPages", "Threads",
};

static int memory_json(json_t **ret)
{
    char *text = NULL;
    int r = gmr__read_proc_file("/proc/thread-self/status", STATUS_MAX, &text, NULL);
    if (r == -ENOMEM)
        return r;
    if (r < 0) {
        char msg[128];
        snprintf(msg, sizeof(msg), "unavailable: /proc/thread-self/status: %s", strerror(-r));
        *ret = gmr__json_string(msg);
        return *ret ? 0 : -ENOMEM;
    }
    json_t *o = json_object();
    r = o ? 0 : -ENOMEM;
    for (size_t i = 0; r == 0 && i < GMR_ELEMENTSOF(status_keys); i++) {
        char value[128];
        if (gmr__parse_status_kv(text, status_keys[i], value, sizeof(value)) == 0)
            r = gmr__json_set_str(o, status_keys[i], value);
    }
    gmr__free(text);
    if (r < 0) {
        json_decref(o);
        return r;
    }
    *ret = o;
    return 0;
}

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
/*
 * glibc's heap statistics.  mallinfo2() locks each arena in turn and walks its free lists:
 * proportional to the number of free chunks, never blocking for long.
 */
static int malloc_json(json_t **ret)
{
    struct mallinfo2 mi = mallinfo2();
    json_t *o = json_object();
    if (!o)
        return -ENOMEM;
    int r = 0;
    r |= gmr__diag_set_fmt(o, "arena", "%zu bytes", mi.arena);
    r |= gmr__diag_set_fmt(o, "in_use", "%zu bytes", mi.uordblks);
    r |= gmr__diag_set_fmt(o, "free", "%zu bytes", mi.fordblks);
    r |= gmr__diag_set_fmt(o, "free_chunks", "%zu", mi.ordblks);
    r |= gmr__diag_set_fmt(o, "mmapped", "%zu bytes", mi.hblkhd);
    r |= gmr__diag_set_fmt(o, "mmapped_regions", "%zu", mi.hblks);
    r |= gmr__diag_set_fmt(o, "releasable", "%zu bytes", mi.keepcost);
    if (r) {
        json_decref(o);
        return -ENOMEM;
    }
    *ret = o;
    return 0;
}
#else
static int malloc_json(json_t **ret)
{
    *ret = gmr__json_string("unavailable: not glibc");
    return *ret ? 0 : -ENOMEM;
}
#endif

/*
 * gmr__section_resources() - see diag.h.  data: "process" and "children" (getrusage of
 * RUSAGE_SELF and RUSAGE_CHILDREN), "memory" (/proc/self/status), "malloc".
 * Context: reporter thread or caller context.
 */
int gmr__section_resources(json_t *section)
{
    json_t *data = json_object();
    json_t *v;
    int r = set_new(section, "data", data);
    if (r < 0)
        return r;
    if ((r = rusage_json(RUSAGE_SELF, &v)) < 0 || (r = set_new(data, "process", v)) < 0)
        return r;
    if ((r = rusage_json(RUSAGE_CHILDREN, &v)) < 0 || (r = set_new(data, "children", v)) < 0)
        return r;
    if ((r = memory_json(&v)) < 0 || (r = set_new(data, "memory", v)) < 0)
        return r;
    if ((r = malloc_json(&v)) < 0 || (r = set_new(data, "malloc", v)) < 0)
        return r;
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * Limits
 * ------------------------------------------------------------------------------------------ */

struct limit_info {
    int resource;
    const char *name;
    const char *description;
    const char *unit;
};

/* Every Linux resource limit (RLIM_NLIMITS is 16), in the kernel's order. */
static const struct limit_info limits[] = {
    {RLIMIT_CPU, "RLIMIT_CPU", "CPU time", "seconds"},
    {RLIMIT_FSIZE, "RLIMIT_FSIZE", "file size", "bytes"},
    {RLIMIT_DATA, "RLIMIT_DATA", "data segment size", "bytes"},
    {RLIMIT_STACK, "RLIMIT_STACK", "stack size", "bytes"},
    {RLIMIT_CORE, "RLIMIT_CORE", "core file size", "bytes"},
    {RLIMIT_RSS, "RLIMIT_RSS", "resident set size", "bytes"},
    {RLIMIT_NPROC, "RLIMIT_NPROC", "processes", "processes"},
    {RLIMIT_NOFILE, "RLIMIT_NOFILE", "open files", "files"},
    {RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK", "locked memory", "bytes"},
    {RLIMIT_AS, "RLIMIT_AS", "address space", "bytes"},
    {RLIMIT_LOCKS, "RLIMIT_LOCKS", "file locks", "locks"},
    {RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING", "pending signals", "signals"},
    {RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE", "POSIX message queues", "bytes"},
    {RLIMIT_NICE, "RLIMIT_NICE", "nice ceiling (20 - limit)", "priority"},
    {RLIMIT_RTPRIO, "RLIMIT_RTPRIO", "real-time priority", "priority"},
    {RLIMIT_RTTIME, "RLIMIT_RTTIME", "real-time CPU time", "microseconds"},
};

/* A limit value: "unlimited", an integer, or (beyond JSON integers) a decimal string. */
static json_t *limit_value(rlim_t v)
{
    char buf[32];
    if (v == RLIM_INFINITY)
        return gmr__json_string("unlimited");
    if ((uintmax_t)v <= (uintmax_t)INT64_MAX)
        return json_integer((json_int_t)v);
    snprintf(buf, sizeof(buf), "%ju", (uintmax_t)v);
    return gmr__json_string(buf);
}

static int limit_json(const struct limit_info *l, json_t **ret)
{
    json_t *o = json_object();
    if (!o)
        return -ENOMEM;
    int r = 0;
    r |= gmr__json_set_str(o, "resource", l->name);
    r |= gmr__json_set_str(o, "description", l->description);
    struct rlimit rl;
    if (getrlimit(l->resource, &rl) < 0) {
        char msg[128];
        snprintf(msg, sizeof(msg), "unavailable: %s", strerror(errno));
        r |= gmr__json_set_str(o, "error", msg);
    } else {
        r |= set_new(o, "soft", limit_value(rl.rlim_cur));
        r |= set_new(o, "hard", limit_value(rl.rlim_max));
    }
    r |= gmr__json_set_str(o, "unit", l->unit);
    if (r) {
        json_decref(o);
        return -ENOMEM;
    }
    *ret = o;
    return 0;
}

/*
 * gmr__section_limits() - see diag.h.  data: one object per limit, in the kernel's order.
 * Context: reporter thread or caller context.
 */
int gmr__section_limits(json_t *section)
{
    json_t *data = json_array();
    int r = set_new(section, "data", data);
    if (r < 0)
        return r;
    for (size_t i = 0; i < GMR_ELEMENTSOF(limits); i++) {
        json_t *o;
        r = limit_json(&limits[i], &o);
        if (r < 0)
            return r;
        if (json_array_append_new(data, o) < 0)
            return -ENOMEM;
    }
    return 0;
}
