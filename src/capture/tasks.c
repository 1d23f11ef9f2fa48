/*
 * The task list and the /proc/self/task/TID files the Threads section reads: stat (name,
 * state, CPU time), syscall (quiet path), status (signal masks).  The parsers take the file's
 * text so tests can feed them any input.
 * Context: reporter thread or caller context.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "capture/capture.h"

ssize_t gmr__pread_proc(int fd, char *buf, size_t size)
{
    size_t n = 0;
    while (n + 1 < size) {
        ssize_t r = pread(fd, buf + n, size - 1 - n, (off_t)n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        n += (size_t)r;
        /* A short read is the end: the file is one seq_file record, shown whole. */
        if (r == 0 || n + 1 < size)
            break;
    }
    buf[n] = '\0';
    return (ssize_t)n;
}

/* Parses an unsigned decimal number at *@p and advances past it.  Return: 0 or -EINVAL. */
static int parse_u64(const char **p, uint64_t *ret)
{
    const char *s = *p;
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    uint64_t v = 0;
    while (isdigit((unsigned char)*s))
        v = v * 10 + (uint64_t)(*s++ - '0');
    *p = s;
    *ret = v;
    return 0;
}

int gmr__parse_task_stat(const char *text, struct gmr__task_stat *ret)
{
    /* "TID (comm) S ppid ..." -- comm may hold spaces and parentheses: it ends at the last ')'. */
    const char *open = strchr(text, '(');
    const char *close = strrchr(text, ')');
    if (!open || !close || close < open || close[1] != ' ')
        return -EINVAL;
    struct gmr__task_stat st = {0};
    size_t n = (size_t)(close - open - 1);
    if (n >= sizeof(st.name))
        n = sizeof(st.name) - 1;
    memcpy(st.name, open + 1, n);
    st.name[n] = '\0';

    const char *p = close + 2;
    if (!*p || p[1] != ' ')
        return -EINVAL;
    st.state = *p;
    /* Fields 4..13 (ppid .. cmajflt) precede utime (14) and stime (15). */
    p += 2;
    for (int field = 4; field < 14; field++) {
        p = strchr(p, ' ');
        if (!p)
            return -EINVAL;
        p++;
    }
    if (parse_u64(&p, &st.utime) < 0 || *p++ != ' ' || parse_u64(&p, &st.stime) < 0)
        return -EINVAL;
    *ret = st;
    return 0;
}

const char *gmr__task_state_name(char state)
{
    switch (state) {
    case 'R':
        return "running";
    case 'S':
        return "sleeping";
    case 'D':
        return "disk sleep";
    case 'T':
        return "stopped";
    case 't':
        return "tracing stop";
    case 'Z':
        return "zombie";
    case 'X':
        return "dead";
    case 'I':
        return "idle";
    case 'P':
        return "parked";
    default:
        return "unknown";
    }
}

static int parse_hex(const char **p, uint64_t *ret)
{
    const char *s = *p;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    if (!isxdigit((unsigned char)*s))
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 16);
    if (errno)
        return -EINVAL;
    *p = end;
    *ret = v;
    return 0;
}

int gmr__parse_task_syscall(const char *text, struct gmr__task_syscall *ret)
{
    /*
     * proc(5): "running", or "-1 SP PC" (blocked outside a system call), or
     * "NR ARG1 .. ARG6 SP PC" with every number but NR in hexadecimal.
     */
    struct gmr__task_syscall sc = {0};
    if (strncmp(text, "running", 7) == 0) {
        sc.kind = GMR_SYSCALL_RUNNING;
        *ret = sc;
        return 0;
    }
    const char *p = text;
    if (p[0] == '-' && p[1] == '1' && p[2] == ' ') {
        p += 3;
        sc.kind = GMR_SYSCALL_NONE;
        sc.nr = -1;
    } else {
        uint64_t nr;
        if (parse_u64(&p, &nr) < 0 || *p++ != ' ')
            return -EINVAL;
        sc.kind = GMR_SYSCALL_BLOCKED;
        sc.nr = (long)nr;
        for (int i = 0; i < 6; i++) {
            if (parse_hex(&p, &sc.args[i]) < 0 || *p++ != ' ')
                return -EINVAL;
        }
    }
    if (parse_hex(&p, &sc.sp) < 0 || *p++ != ' ' || parse_hex(&p, &sc.pc) < 0)
        return -EINVAL;
    if (*p && *p != '\n')
        return -EINVAL;
    *ret = sc;
    return 0;
}

/* Finds "\n<key>:\t<hex>" (or at the start) and parses the hex mask. */
static int status_mask(const char *text, const char *key, uint64_t *ret)
{
    size_t klen = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
            const char *v = p + klen + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            return parse_hex(&v, ret);
        }
    }
    return -EINVAL;
}

int gmr__parse_task_status(const char *text, struct gmr__task_masks *ret)
{
    struct gmr__task_masks m;
    if (status_mask(text, "SigBlk", &m.blocked) < 0 || status_mask(text, "SigIgn", &m.ignored) < 0)
        return -EINVAL;
    *ret = m;
    return 0;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int gmr__list_tasks(int dirfd, int *tids, int max)
{
    /* getdents64 on a dup, so the caller's fd keeps its position and no DIR is allocated. */
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int found = 0;
    char buf[8192] __attribute__((aligned(8)));
    for (;;) {
        long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
        if (n < 0) {
            int e = -errno;
            close(fd);
            return e;
        }
        if (n == 0)
            break;
        for (long off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *)(void *)(buf + off);
            off += d->d_reclen;
            char *end;
            long tid = strtol(d->d_name, &end, 10);
            if (d->d_name[0] == '.' || *end || tid <= 0)
                continue;
            if (found < max)
                tids[found] = (int)tid;
            found++;
        }
    }
    close(fd);
    qsort(tids, (size_t)(found < max ? found : max), sizeof(int), cmp_int);
    return found;
}
