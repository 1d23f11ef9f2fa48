/*
 * The System section: the machine the process runs on.  Kernel, host name, CPUs (online,
 * configured, usable by this process) and their model, load average, uptime, memory.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "render/render.h"
#include "sections/diag.h"
#include "util/alloc.h"
#include "util/macro.h"

#define CPUINFO_MAX (64 * 1024) /* the first processor's block is near the start */
#define SMALL_MAX   4096        /* /proc/loadavg, /proc/uptime */
#define MEMINFO_MAX (16 * 1024)
#define MAX_CPUS    (1 << 20) /* largest CPU set tried for the affinity mask */

/*
 * gmr__parse_loadavg() - see diag.h.
 * Context: any thread; pure.
 */
int gmr__parse_loadavg(const char *text, struct gmr__loadavg *ret)
{
    struct gmr__loadavg la;
    char *end;
    const char *p = text;
    for (int i = 0; i < 3; i++) {
        la.avg[i] = strtod(p, &end);
        if (end == p || !isfinite(la.avg[i]) || la.avg[i] < 0)
            return -EINVAL;
        p = end;
    }
    errno = 0;
    la.running = strtol(p, &end, 10);
    if (end == p || *end != '/' || errno || la.running < 0)
        return -EINVAL;
    p = end + 1;
    la.total = strtol(p, &end, 10);
    if (end == p || errno || la.total < 0)
        return -EINVAL;
    *ret = la;
    return 0;
}

/*
 * gmr__parse_uptime() - see diag.h.
 * Context: any thread; pure.
 */
int gmr__parse_uptime(const char *text, double *ret_seconds)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || !isfinite(v) || v < 0)
        return -EINVAL;
    *ret_seconds = v;
    return 0;
}

/*
 * gmr__format_duration() - see diag.h.
 * Context: any thread; pure.
 */
void gmr__format_duration(uint64_t seconds, char *buf, size_t size)
{
    uint64_t days = seconds / 86400;
    unsigned h = (unsigned)(seconds / 3600 % 24), m = (unsigned)(seconds / 60 % 60),
             s = (unsigned)(seconds % 60);
    if (days)
        snprintf(buf, size, "%" PRIu64 " day%s, %02u:%02u:%02u", days, days == 1 ? "" : "s", h, m,
                 s);
    else
        snprintf(buf, size, "%02u:%02u:%02u", h, m, s);
}

/* "unavailable: PATH: REASON" for a file that could not be read (or parsed: -EINVAL). */
static int set_unavailable(json_t *obj, const char *key, const char *path, int err)
{
    return gmr__diag_set_fmt(obj, key, "unavailable: %s: %s", path,
                             err == -EINVAL ? "unexpected content" : strerror(-err));
}

/* CPUs this process may run on; the set grows until the kernel's mask fits. */
static int affinity_count(long *ret)
{
    for (size_t ncpu = 1024; ncpu <= MAX_CPUS; ncpu *= 2) {
        size_t size = CPU_ALLOC_SIZE(ncpu);
        cpu_set_t *set = gmr__calloc(1, size);
        if (!set)
            return -ENOMEM;
        int r = sched_getaffinity(0, size, set) == 0 ? 0 : -errno;
        if (r == 0)
            *ret = CPU_COUNT_S(size, set);
        gmr__free(set);
        if (r != -EINVAL)
            return r;
    }
    return -EINVAL;
}

static int add_cpus(json_t *data)
{
    int r = 0;
    long online = sysconf(_SC_NPROCESSORS_ONLN), conf = sysconf(_SC_NPROCESSORS_CONF);
    r |= online > 0 ? gmr__diag_set_fmt(data, "cpus_online", "%ld", online)
                    : gmr__json_set_str(data, "cpus_online", "unavailable");
    r |= conf > 0 ? gmr__diag_set_fmt(data, "cpus_configured", "%ld", conf)
                  : gmr__json_set_str(data, "cpus_configured", "unavailable");
    long usable;
    int a = affinity_count(&usable);
    if (a == -ENOMEM)
        return a;
    r |= a == 0 ? gmr__diag_set_fmt(data, "cpus_usable", "%ld (affinity mask)", usable)
                : gmr__diag_set_fmt(data, "cpus_usable", "unavailable: %s", strerror(-a));
    if (r)
        return -ENOMEM;

    /* The model line differs by architecture; the first key present wins. */
    static const char *const model_keys[] = {"model name", "Model", "Hardware", "cpu model",
                                             "cpu",        "uarch", "Processor"};
    char *text;
    char model[256] = "";
    r = gmr__read_proc_file("/proc/cpuinfo", CPUINFO_MAX, &text, NULL);
    if (r == -ENOMEM)
        return r;
    if (r < 0)
        return set_unavailable(data, "cpu_model", "/proc/cpuinfo", r);
    for (size_t i = 0; i < GMR_ELEMENTSOF(model_keys) && !model[0]; i++)
        (void)gmr__parse_status_kv(text, model_keys[i], model, sizeof(model));
    gmr__free(text);
    return gmr__json_set_str(data, "cpu_model", model[0] ? model : "unknown");
}

static int add_load_and_uptime(json_t *data)
{
    char *text;
    int r = gmr__read_proc_file("/proc/loadavg", SMALL_MAX, &text, NULL);
    if (r == -ENOMEM)
        return r;
    if (r == 0) {
        struct gmr__loadavg la;
        int p = gmr__parse_loadavg(text, &la);
        gmr__free(text);
        if (p < 0)
            r = set_unavailable(data, "load_average", "/proc/loadavg", p);
        else
            r = gmr__diag_set_fmt(data, "load_average", "%.2f %.2f %.2f (1, 5, 15 min)", la.avg[0],
                                  la.avg[1], la.avg[2]) |
                gmr__diag_set_fmt(data, "tasks", "%ld runnable, %ld total", la.running, la.total);
    } else {
        r = set_unavailable(data, "load_average", "/proc/loadavg", r);
    }
    if (r)
        return -ENOMEM;

    r = gmr__read_proc_file("/proc/uptime", SMALL_MAX, &text, NULL);
    if (r == -ENOMEM)
        return r;
    if (r < 0)
        return set_unavailable(data, "uptime", "/proc/uptime", r);
    double up;
    int p = gmr__parse_uptime(text, &up);
    gmr__free(text);
    if (p < 0)
        return set_unavailable(data, "uptime", "/proc/uptime", p);
    char human[64];
    gmr__format_duration(up < 1e18 ? (uint64_t)up : UINT64_MAX / 2, human, sizeof(human));
    return gmr__diag_set_fmt(data, "uptime", "%s (%.2f s)", human, up);
}

static int add_memory(json_t *data)
{
    static const struct {
        const char *key;
        const char *meminfo;
    } lines[] = {
        {"memory_total", "MemTotal"},
        {"memory_available", "MemAvailable"},
        {"swap_total", "SwapTotal"},
        {"swap_free", "SwapFree"},
    };
    char *text;
    int r = gmr__read_proc_file("/proc/meminfo", MEMINFO_MAX, &text, NULL);
    if (r == -ENOMEM)
        return r;
    if (r < 0)
        return set_unavailable(data, "memory_total", "/proc/meminfo", r);
    for (size_t i = 0; r == 0 && i < GMR_ELEMENTSOF(lines); i++) {
        char value[128];
        if (gmr__parse_status_kv(text, lines[i].meminfo, value, sizeof(value)) == 0)
            r = gmr__json_set_str(data, lines[i].key, value);
        else
            r = gmr__json_set_str(data, lines[i].key, "unavailable");
    }
    gmr__free(text);
    return r;
}

/*
 * gmr__section_system() - see diag.h.  data: "kernel", "hostname", "cpus_online",
 * "cpus_configured", "cpus_usable", "cpu_model", "load_average", "tasks", "uptime",
 * "memory_total", "memory_available", "swap_total", "swap_free"; a value that could not be
 * read says "unavailable: ...".
 * Context: reporter thread or caller context.
 */
int gmr__section_system(json_t *section)
{
    json_t *data = json_object();
    if (!data || json_object_set_new(section, "data", data) < 0)
        return -ENOMEM;
    struct utsname u;
    int r;
    if (uname(&u) == 0)
        r = gmr__diag_set_fmt(data, "kernel", "%s %s %s %s", u.sysname, u.release, u.version,
                              u.machine) |
            gmr__json_set_str(data, "hostname", u.nodename);
    else
        r = gmr__diag_set_fmt(data, "kernel", "unavailable: %s", strerror(errno));
    if (r)
        return -ENOMEM;
    if ((r = add_cpus(data)) < 0 || (r = add_load_and_uptime(data)) < 0 ||
        (r = add_memory(data)) < 0)
        return r;
    return 0;
}
