/*
 * Placeholder Threads section until the capture pipeline lands: lists thread ids only.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>

#include "capture/threads.h"

int gmr__threads_install(int signo, uint64_t timeout_ns)
{
    (void)signo;
    (void)timeout_ns;
    return 0;
}

void gmr__threads_uninstall(void)
{
}

int gmr__threads_section(json_t *section, int self_tid, bool group)
{
    (void)self_tid;
    (void)group;
    json_t *threads = json_array();
    if (!threads || json_object_set_new(section, "threads", threads) < 0)
        return -ENOMEM;
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -errno;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        json_t *t = json_pack("{s:I}", "tid", (json_int_t)atoi(e->d_name));
        if (!t || json_array_append_new(threads, t) < 0) {
            closedir(d);
            return -ENOMEM;
        }
    }
    closedir(d);
    return 0;
}
