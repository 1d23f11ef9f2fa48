/*
 * The Open Files section: each file descriptor of the process with its kind, what it points
 * to (path, pipe, socket addresses, anonymous inode), its status flags and, for regular
 * files, its position.
 *
 * Everything comes from /proc/self/fd, /proc/self/fdinfo and /proc/net, plus statx() with
 * AT_STATX_DONT_SYNC for the file type: a plain fstat() on a file of a dead NFS server or a
 * stuck FUSE daemon could block, and a report must not.  The descriptors are listed first and
 * examined afterwards, so descriptors opened while examining them are not reported; a
 * descriptor closed (or reused) by another thread meanwhile is skipped (or described as what
 * it now is).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "render/render.h"
#include "sections/diag.h"
#include "util/alloc.h"
#include "util/macro.h"

#define MAX_FDS    4096 /* descriptors described; the rest are counted */
#define FDINFO_MAX 4096 /* bytes of /proc/self/fdinfo/N read: "pos:" and "flags:" come first */

/*
 * The kernel's O_LARGEFILE, which it sets on files of 64-bit processes and shows in
 * fdinfo, while 64-bit C libraries define O_LARGEFILE as 0.
 */
#if O_LARGEFILE != 0
#define KERNEL_O_LARGEFILE O_LARGEFILE
#elif defined(__aarch64__) || defined(__arm__)
#define KERNEL_O_LARGEFILE 0400000
#elif defined(__powerpc__)
#define KERNEL_O_LARGEFILE 0200000
#elif defined(__x86_64__) || defined(__i386__) || defined(__riscv) || defined(__s390__) ||         \
    defined(__loongarch__)
#define KERNEL_O_LARGEFILE 0100000
#else
#define KERNEL_O_LARGEFILE 0
#endif

/* The number after "@key:" at the start of a line of @text, or false. */
static bool fdinfo_number(const char *text, const char *key, unsigned base, uint64_t *ret)
{
    size_t klen = strlen(key);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            const char *p = line + klen + 1;
            while (*p == ' ' || *p == '\t')
                p++;
            size_t n = strspn(p, "0123456789");
            return (p[n] == '\n' || p[n] == '\0' || p[n] == ' ' || p[n] == '\t') &&
                   gmr__parse_u64(p, n, base, ret);
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return false;
}

/*
 * gmr__parse_fdinfo() - see diag.h.
 * Context: any thread; pure.
 */
int gmr__parse_fdinfo(const char *text, unsigned *ret_flags, int64_t *ret_pos)
{
    uint64_t flags, pos;
    if (!fdinfo_number(text, "flags", 8, &flags) || flags > UINT_MAX)
        return -EINVAL;
    *ret_flags = (unsigned)flags;
    *ret_pos = fdinfo_number(text, "pos", 10, &pos) && pos <= INT64_MAX ? (int64_t)pos : -1;
    return 0;
}

struct flag_name {
    unsigned value;
    const char *name;
};

/* Status flags the kernel keeps on an open file; multi-bit ones before their parts. */
static const struct flag_name open_flags[] = {
    {O_APPEND, "O_APPEND"},
    {O_NONBLOCK, "O_NONBLOCK"},
    {O_SYNC, "O_SYNC"},
    {O_DSYNC, "O_DSYNC"},
    {O_ASYNC, "O_ASYNC"},
    {O_DIRECT, "O_DIRECT"},
    {KERNEL_O_LARGEFILE, "O_LARGEFILE"},
    {O_TMPFILE, "O_TMPFILE"},
    {O_DIRECTORY, "O_DIRECTORY"},
    {O_NOFOLLOW, "O_NOFOLLOW"},
    {O_NOATIME, "O_NOATIME"},
    {O_PATH, "O_PATH"},
    {O_CLOEXEC, "O_CLOEXEC"},
};

/* Appends @s to @buf (length *@len, capacity @size), with '|' before all but the first. */
static void add_name(char *buf, size_t size, size_t *len, const char *s)
{
    if (*len >= size)
        return;
    int n = snprintf(buf + *len, size - *len, "%s%s", *len ? "|" : "", s);
    *len += n > 0 ? (size_t)n : 0;
    if (*len >= size)
        *len = size;
}

/*
 * gmr__format_open_flags() - see diag.h.
 * Context: any thread; pure.
 */
void gmr__format_open_flags(unsigned flags, char *buf, size_t size)
{
    size_t len = 0;
    if (!size)
        return;
    buf[0] = '\0';
    if (!(flags & O_PATH)) { /* an O_PATH descriptor has no access mode */
        static const char *const modes[] = {"O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"};
        add_name(buf, size, &len, modes[flags & O_ACCMODE]);
    }
    unsigned rest = flags & ~(unsigned)O_ACCMODE;
    for (size_t i = 0; i < GMR_ELEMENTSOF(open_flags); i++) {
        unsigned v = open_flags[i].value;
        if (v && (rest & v) == v) {
            add_name(buf, size, &len, open_flags[i].name);
            rest &= ~v;
        }
    }
    if (rest) {
        char octal[16];
        snprintf(octal, sizeof(octal), "0%o", rest);
        add_name(buf, size, &len, octal);
    }
}

/*
 * gmr__fd_type() - see diag.h.  The link text decides for kernel-internal files (their
 * st_mode says little); st_mode decides for everything with a path.
 * Context: any thread; pure.
 */
const char *gmr__fd_type(const char *link, unsigned mode)
{
    if (strncmp(link, "socket:[", 8) == 0)
        return "socket";
    if (strncmp(link, "pipe:[", 6) == 0)
        return "pipe";
    if (strncmp(link, "anon_inode:", 11) == 0)
        return "anon_inode";
    switch (mode & S_IFMT) {
    case S_IFREG:
        return "file";
    case S_IFDIR:
        return "directory";
    case S_IFCHR:
        return "char_device";
    case S_IFBLK:
        return "block_device";
    case S_IFIFO:
        return "fifo";
    case S_IFSOCK:
        return "socket";
    case S_IFLNK:
        return "symlink";
    default:
        return "unknown";
    }
}

#ifdef STATX_TYPE
/* st_mode of @fd from cached attributes only (never a round trip to a file server). */
static unsigned fd_mode(int fd)
{
    struct statx stx;
    if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE, &stx) < 0 ||
        !(stx.stx_mask & STATX_TYPE))
        return 0;
    return stx.stx_mode;
}
#else
/* Without statx() the type comes from the link text alone (see gmr__fd_type()). */
static unsigned fd_mode(int fd)
{
    (void)fd;
    return 0;
}
#endif

struct fd_entry {
    int fd;
    char *link;      /* owned; readlink of /proc/self/fd/N */
    unsigned mode;   /* st_mode, 0 when unknown */
    bool have_flags; /* flags and pos come from fdinfo */
    unsigned flags;
    int64_t pos;    /* -1 when unknown */
    uint64_t inode; /* socket inode, 0 when not a socket */
};

struct fd_table {
    struct fd_entry *e; /* owned */
    size_t n;
    size_t total; /* descriptors listed, including those past MAX_FDS */
};

static void fd_table_done(struct fd_table *t)
{
    for (size_t i = 0; t->e && i < t->n; i++)
        gmr__free(t->e[i].link);
    gmr__free(t->e);
    t->e = NULL;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return x < y ? -1 : x > y;
}

/* Lists the descriptors (the first MAX_FDS in @ret, all counted in *@total). */
static int list_fds(int *ret, size_t *ret_n, size_t *total)
{
    int dfd = open("/proc/thread-self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    DIR *d = fdopendir(dfd);
    if (!d) {
        int r = -errno;
        close(dfd);
        return r;
    }
    size_t n = 0;
    *total = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        long fd = strtol(de->d_name, &end, 10);
        if (end == de->d_name || *end || fd < 0 || fd > INT_MAX || fd == dfd)
            continue;
        (*total)++;
        if (n < MAX_FDS)
            ret[n++] = (int)fd;
    }
    closedir(d);
    qsort(ret, n, sizeof(*ret), cmp_int);
    *ret_n = n;
    return 0;
}

/* Fills @e for descriptor @fd.  Return: 0; -ENOENT (closed meanwhile); -ENOMEM. */
static int examine(int fd, struct fd_entry *e)
{
    char path[64], link[PATH_MAX + 1];
    snprintf(path, sizeof(path), "/proc/thread-self/fd/%d", fd);
    ssize_t n = readlink(path, link, sizeof(link) - 1);
    if (n < 0)
        return -ENOENT;
    link[n] = '\0';
    e->fd = fd;
    e->link = gmr__strdup(link);
    if (!e->link)
        return -ENOMEM;
    e->mode = fd_mode(fd);
    e->pos = -1;

    char *info = NULL;
    snprintf(path, sizeof(path), "/proc/thread-self/fdinfo/%d", fd);
    int r = gmr__read_proc_file(path, FDINFO_MAX, &info, NULL);
    if (r == -ENOMEM)
        return r;
    if (r == 0)
        e->have_flags = gmr__parse_fdinfo(info, &e->flags, &e->pos) == 0;
    gmr__free(info);

    unsigned long long inode;
    char close_bracket;
    if (strcmp(gmr__fd_type(link, e->mode), "socket") == 0 &&
        sscanf(link, "socket:[%llu%c", &inode, &close_bracket) == 2 && close_bracket == ']')
        e->inode = inode;
    return 0;
}

static const char *family_name(int family)
{
    switch (family) {
    case AF_UNIX:
        return "UNIX";
    case AF_INET:
        return "INET";
    case AF_INET6:
        return "INET6";
    case AF_NETLINK:
        return "NETLINK";
    case AF_PACKET:
        return "PACKET";
    default:
        return NULL;
    }
}

static const char *socktype_name(int type)
{
    switch (type) {
    case SOCK_STREAM:
        return "STREAM";
    case SOCK_DGRAM:
        return "DGRAM";
    case SOCK_RAW:
        return "RAW";
    case SOCK_SEQPACKET:
        return "SEQPACKET";
    default:
        return NULL;
    }
}

/*
 * A socket /proc/net does not list (netlink, packet, another namespace's): its family and
 * type from the descriptor itself, e.g. "NETLINK RAW socket:[1234]".
 */
static void describe_unlisted_socket(const struct fd_entry *e, char *buf, size_t size)
{
    int family = -1, type = -1;
    socklen_t len = sizeof(family);
    if (getsockopt(e->fd, SOL_SOCKET, SO_DOMAIN, &family, &len) < 0)
        family = -1;
    len = sizeof(type);
    if (getsockopt(e->fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
        type = -1;
    char fam[24], typ[24];
    const char *f = family_name(family), *t = socktype_name(type);
    if (!f)
        snprintf(fam, sizeof(fam), "family %d", family);
    if (!t)
        snprintf(typ, sizeof(typ), "type %d", type);
    if (family < 0)
        snprintf(buf, size, "%s", e->link);
    else
        snprintf(buf, size, "%s %s %s", f ? f : fam, t ? t : typ, e->link);
}

static int sock_json(const struct gmr__sock *s, json_t **ret)
{
    json_t *o = json_object();
    if (!o)
        return -ENOMEM;
    int r = 0;
    r |= gmr__json_set_str(o, "protocol", s->proto);
    if (s->sock_type[0])
        r |= gmr__json_set_str(o, "socket_type", s->sock_type);
    r |= gmr__json_set_str(o, "local", s->local);
    if (s->remote[0])
        r |= gmr__json_set_str(o, "remote", s->remote);
    if (s->state[0])
        r |= gmr__json_set_str(o, "state", s->state);
    r |= json_object_set_new(o, "inode", json_integer((json_int_t)(s->inode & INT64_MAX)));
    if (r) {
        json_decref(o);
        return -ENOMEM;
    }
    *ret = o;
    return 0;
}

static int entry_json(const struct fd_entry *e, const struct gmr__sock *sock, json_t **ret)
{
    json_t *o = json_object();
    if (!o)
        return -ENOMEM;
    const char *type = gmr__fd_type(e->link, e->mode);
    char target[PATH_MAX + 64];
    if (sock && sock->proto[0])
        gmr__sock_describe(sock, target, sizeof(target));
    else if (e->inode)
        describe_unlisted_socket(e, target, sizeof(target));
    else
        snprintf(target, sizeof(target), "%s", e->link);

    int r = 0;
    r |= json_object_set_new(o, "fd", json_integer(e->fd));
    r |= gmr__json_set_str(o, "type", type);
    r |= gmr__json_set_str(o, "target", target);
    if (e->have_flags) {
        char flags[256];
        gmr__format_open_flags(e->flags, flags, sizeof(flags));
        r |= gmr__json_set_str(o, "flags", flags);
    }
    if (e->pos >= 0 && strcmp(type, "file") == 0)
        r |= json_object_set_new(o, "pos", json_integer(e->pos));
    if (sock && sock->proto[0]) {
        json_t *sj;
        r |= sock_json(sock, &sj);
        if (!r)
            r |= json_object_set_new(o, "socket", sj);
    }
    if (r) {
        json_decref(o);
        return -ENOMEM;
    }
    *ret = o;
    return 0;
}

/* Sorted, unique socket inodes of @t into a new array.  Return: their number or -ENOMEM. */
static ssize_t socket_inodes(const struct fd_table *t, uint64_t **ret)
{
    uint64_t *v = gmr__calloc(t->n ? t->n : 1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (t->e[i].inode)
            v[n++] = t->e[i].inode;
    }
    qsort(v, n, sizeof(*v), gmr__cmp_u64);
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (u == 0 || v[u - 1] != v[i])
            v[u++] = v[i];
    }
    *ret = v;
    return (ssize_t)u;
}

/*
 * gmr__section_open_files() - see diag.h.  Section members: "data" (one object per
 * descriptor, ascending), "count" (descriptors open), "not_shown" (beyond MAX_FDS, when
 * any), "note" (what could not be read).
 * Context: reporter thread or caller context.
 */
int gmr__section_open_files(json_t *section)
{
    struct fd_table t = {0};
    int *fds = NULL;
    uint64_t *inodes = NULL;
    struct gmr__sock *socks = NULL;
    size_t nfds = 0;
    json_t *data = json_array();
    int r = -ENOMEM;
    if (!data || json_object_set(section, "data", data) < 0)
        goto out;
    fds = gmr__calloc(MAX_FDS, sizeof(*fds));
    t.e = gmr__calloc(MAX_FDS, sizeof(*t.e));
    if (!fds || !t.e)
        goto out;
    r = list_fds(fds, &nfds, &t.total);
    if (r < 0)
        goto out;
    for (size_t i = 0; i < nfds; i++) {
        r = examine(fds[i], &t.e[t.n]);
        if (r == -ENOMEM) {
            t.n++; /* its link, if any, is freed with the table */
            goto out;
        }
        if (r == 0)
            t.n++;
    }

    ssize_t ninodes = socket_inodes(&t, &inodes);
    r = -ENOMEM;
    if (ninodes < 0)
        goto out;
    socks = gmr__calloc(ninodes ? (size_t)ninodes : 1, sizeof(*socks));
    if (!socks)
        goto out;
    char note[256];
    r = gmr__net_lookup(inodes, (size_t)ninodes, socks, note, sizeof(note));
    if (r < 0)
        goto out;

    for (size_t i = 0; i < t.n; i++) {
        const struct gmr__sock *s = NULL;
        if (t.e[i].inode) {
            const uint64_t *hit =
                bsearch(&t.e[i].inode, inodes, (size_t)ninodes, sizeof(*inodes), gmr__cmp_u64);
            s = hit ? &socks[hit - inodes] : NULL;
        }
        json_t *o;
        r = entry_json(&t.e[i], s, &o);
        if (r < 0)
            goto out;
        if (json_array_append_new(data, o) < 0) {
            r = -ENOMEM;
            goto out;
        }
    }
    r = -ENOMEM;
    if (json_object_set_new(section, "count", json_integer((json_int_t)t.total)) < 0)
        goto out;
    if (t.total > nfds &&
        json_object_set_new(section, "not_shown", json_integer((json_int_t)(t.total - nfds))) < 0)
        goto out;
    if (note[0] && gmr__json_set_str(section, "note", note) < 0)
        goto out;
    r = 0;
out:
    json_decref(data);
    gmr__free(socks);
    gmr__free(inodes);
    gmr__free(fds);
    fd_table_done(&t);
    return r;
}
