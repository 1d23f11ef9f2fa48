/*
 * Sockets of the Open Files section: the lines of /proc/net/{tcp,tcp6,udp,udp6,unix} that
 * describe this process's sockets, found by inode.
 *
 * Each file is read once per report, as a stream of lines through a small buffer, and only
 * until every socket looked for has been found; a file larger than NET_MAX_BYTES is read no
 * further.  /proc/net is this process's own network namespace: reading it never waits on
 * another process.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sections/diag.h"
#include "util/alloc.h"
#include "util/macro.h"

#define LINE_BUF      8192                /* longest line parsed; longer ones are skipped */
#define NET_MAX_BYTES (64u * 1024 * 1024) /* bytes read of one /proc/net file */

/* Next whitespace-separated token at *@p: its start and length; advances *@p past it. */
static const char *next_tok(const char **p, size_t *len)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    const char *e = s;
    while (*e && *e != ' ' && *e != '\t')
        e++;
    *p = e;
    *len = (size_t)(e - s);
    return *len ? s : NULL;
}

/*
 * "ADDR:PORT" as the kernel prints it: each 32-bit word of the address in host byte order as
 * 8 hex digits (so the raw bytes come back by storing each word in host order), the port as
 * a number.  Writes "1.2.3.4:80" or "[::1]:80" to @buf, or "" for the all-zero address with
 * port 0 when @empty_if_zero.
 */
static bool format_inet(const char *s, size_t n, bool v6, bool empty_if_zero, char *buf,
                        size_t size)
{
    const size_t words = v6 ? 4 : 1;
    const char *colon = memchr(s, ':', n);
    if (!colon || (size_t)(colon - s) != words * 8)
        return false;
    unsigned char raw[16];
    for (size_t i = 0; i < words; i++) {
        uint64_t w;
        if (!gmr__parse_u64(s + i * 8, 8, 16, &w))
            return false;
        uint32_t w32 = (uint32_t)w;
        memcpy(raw + i * 4, &w32, 4);
    }
    uint64_t port;
    size_t plen = n - (size_t)(colon + 1 - s);
    if (plen > 4 || !gmr__parse_u64(colon + 1, plen, 16, &port))
        return false;
    bool zero = port == 0;
    for (size_t i = 0; zero && i < words * 4; i++)
        zero = raw[i] == 0;
    if (zero && empty_if_zero) {
        buf[0] = '\0';
        return true;
    }
    char text[INET6_ADDRSTRLEN];
    if (!inet_ntop(v6 ? AF_INET6 : AF_INET, raw, text, sizeof(text)))
        return false;
    snprintf(buf, size, v6 ? "[%s]:%u" : "%s:%u", text, (unsigned)port);
    return true;
}

static const char *const tcp_states[] = {
    NULL,    "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",    "TIME_WAIT",
    "CLOSE", "CLOSE_WAIT",  "LAST_ACK", "LISTEN",   "CLOSING",   "NEW_SYN_RECV",
};

/*
 * gmr__parse_net_inet_line() - see diag.h.  Fields: "sl: local remote st tx:rx tr:when
 * retrnsmt uid timeout inode ...".
 * Context: any thread; pure.
 */
int gmr__parse_net_inet_line(const char *line, const char *proto, struct gmr__sock *ret)
{
    const bool v6 = strchr(proto, '6') != NULL;
    const bool tcp = strncmp(proto, "tcp", 3) == 0;
    const char *p = line;
    const char *tok[10];
    size_t len[10];
    for (size_t i = 0; i < 10; i++) {
        tok[i] = next_tok(&p, &len[i]);
        if (!tok[i])
            return -EINVAL;
    }
    uint64_t slot, st, inode;
    if (tok[0][len[0] - 1] != ':' || !gmr__parse_u64(tok[0], len[0] - 1, 10, &slot))
        return -EINVAL;
    if (!gmr__parse_u64(tok[3], len[3], 16, &st) || !gmr__parse_u64(tok[9], len[9], 10, &inode))
        return -EINVAL;

    struct gmr__sock s;
    memset(&s, 0, sizeof(s));
    if (!format_inet(tok[1], len[1], v6, false, s.local, sizeof(s.local)) ||
        !format_inet(tok[2], len[2], v6, true, s.remote, sizeof(s.remote)))
        return -EINVAL;
    snprintf(s.proto, sizeof(s.proto), "%s", proto);
    s.inode = inode;
    if (tcp) {
        if (st < GMR_ELEMENTSOF(tcp_states) && tcp_states[st])
            snprintf(s.state, sizeof(s.state), "%s", tcp_states[st]);
        else
            snprintf(s.state, sizeof(s.state), "STATE_%02X", (unsigned)(st & 0xFF));
    }
    *ret = s;
    return 0;
}

#define UNIX_ACCEPTCON 0x10000 /* __SO_ACCEPTCON: the socket listens */

/*
 * gmr__parse_net_unix_line() - see diag.h.  Fields: "Num: RefCount Protocol Flags Type St
 * Inode [Path]", the path separated from the inode by one space.
 * Context: any thread; pure.
 */
int gmr__parse_net_unix_line(const char *line, struct gmr__sock *ret)
{
    const char *p = line;
    const char *tok[7];
    size_t len[7];
    uint64_t v[7];
    for (size_t i = 0; i < 7; i++) {
        tok[i] = next_tok(&p, &len[i]);
        if (!tok[i])
            return -EINVAL;
    }
    if (tok[0][len[0] - 1] != ':' || !gmr__parse_u64(tok[0], len[0] - 1, 16, &v[0]))
        return -EINVAL;
    for (size_t i = 1; i < 6; i++) {
        if (!gmr__parse_u64(tok[i], len[i], 16, &v[i]))
            return -EINVAL;
    }
    if (!gmr__parse_u64(tok[6], len[6], 10, &v[6]))
        return -EINVAL;

    struct gmr__sock s;
    memset(&s, 0, sizeof(s));
    snprintf(s.proto, sizeof(s.proto), "unix");
    s.inode = v[6];
    switch (v[4]) {
    case 1:
        snprintf(s.sock_type, sizeof(s.sock_type), "STREAM");
        break;
    case 2:
        snprintf(s.sock_type, sizeof(s.sock_type), "DGRAM");
        break;
    case 5:
        snprintf(s.sock_type, sizeof(s.sock_type), "SEQPACKET");
        break;
    default:
        snprintf(s.sock_type, sizeof(s.sock_type), "TYPE_%u", (unsigned)(v[4] & 0xFFFF));
        break;
    }
    static const char *const states[] = {NULL, "UNCONNECTED", "CONNECTING", "CONNECTED",
                                         "DISCONNECTING"};
    if (v[3] & UNIX_ACCEPTCON)
        snprintf(s.state, sizeof(s.state), "LISTEN");
    else if (v[5] < GMR_ELEMENTSOF(states) && states[v[5]])
        snprintf(s.state, sizeof(s.state), "%s", states[v[5]]);
    if (*p == ' ' && p[1])
        snprintf(s.local, sizeof(s.local), "%s", p + 1);
    *ret = s;
    return 0;
}

/*
 * gmr__sock_describe() - see diag.h.
 * Context: any thread; pure.
 */
void gmr__sock_describe(const struct gmr__sock *s, char *buf, size_t size)
{
    char proto[sizeof(s->proto)];
    size_t i;
    for (i = 0; s->proto[i] && i + 1 < sizeof(proto); i++)
        proto[i] =
            (char)(s->proto[i] >= 'a' && s->proto[i] <= 'z' ? s->proto[i] - 32 : s->proto[i]);
    proto[i] = '\0';
    int n;
    if (strcmp(s->proto, "unix") == 0)
        n = snprintf(buf, size, "%s %s%s%s", proto, s->sock_type, s->local[0] ? " " : "", s->local);
    else
        n = snprintf(buf, size, "%s %s%s%s", proto, s->local, s->remote[0] ? " -> " : "",
                     s->remote);
    if (n >= 0 && (size_t)n < size && s->state[0])
        snprintf(buf + n, size - (size_t)n, " %s", s->state);
}

/*
 * gmr__cmp_u64() - see diag.h.
 * Context: any thread; pure.
 */
int gmr__cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct lookup {
    const uint64_t *inodes;  /* borrowed, sorted */
    struct gmr__sock *socks; /* borrowed, one per inode */
    size_t n;
    size_t found;
};

static void take_line(struct lookup *lk, const char *proto, const char *line)
{
    struct gmr__sock s;
    int r = strcmp(proto, "unix") == 0 ? gmr__parse_net_unix_line(line, &s)
                                       : gmr__parse_net_inet_line(line, proto, &s);
    if (r < 0)
        return;
    const uint64_t *hit = bsearch(&s.inode, lk->inodes, lk->n, sizeof(*lk->inodes), gmr__cmp_u64);
    if (!hit)
        return;
    struct gmr__sock *slot = &lk->socks[hit - lk->inodes];
    if (slot->proto[0])
        return;
    *slot = s;
    lk->found++;
}

/*
 * gmr__net_scan_fd() - see diag.h.  Lines go through a LINE_BUF buffer; a line that does not
 * fit is skipped whole, and a last line without a newline is parsed like the others.
 * Context: reporter thread or caller context.
 */
int gmr__net_scan_fd(int fd, const char *proto, const uint64_t *inodes, size_t n,
                     struct gmr__sock *socks, size_t *found, size_t max_bytes)
{
    struct lookup lk = {inodes, socks, n, *found};
    char *buf = gmr__malloc(LINE_BUF);
    if (!buf)
        return -ENOMEM;
    size_t have = 0, total = 0;
    bool skipping = false; /* inside a line too long for the buffer */
    bool eof = false;
    int r = 0;
    while (lk.found < lk.n && total < max_bytes) {
        size_t want = GMR_MIN(LINE_BUF - 1 - have, max_bytes - total);
        ssize_t got = read(fd, buf + have, want);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            r = -errno;
            break;
        }
        if (got == 0) {
            eof = true;
            break;
        }
        total += (size_t)got;
        have += (size_t)got;
        buf[have] = '\0';
        char *line = buf;
        char *nl;
        while ((nl = memchr(line, '\n', have - (size_t)(line - buf)))) {
            *nl = '\0';
            if (!skipping)
                take_line(&lk, proto, line);
            skipping = false;
            line = nl + 1;
        }
        have -= (size_t)(line - buf);
        memmove(buf, line, have);
        if (have == LINE_BUF - 1) {
            skipping = true;
            have = 0;
        }
    }
    if (eof && have && !skipping) {
        buf[have] = '\0';
        take_line(&lk, proto, buf);
    }
    gmr__free(buf);
    *found = lk.found;
    if (r == 0 && !eof && lk.found < lk.n)
        r = 1;
    return r;
}

/*
 * gmr__net_lookup() - see diag.h.
 * Context: reporter thread or caller context.
 */
int gmr__net_lookup(const uint64_t *inodes, size_t n, struct gmr__sock *socks, char *note,
                    size_t note_size)
{
    static const char *const files[] = {"tcp", "tcp6", "udp", "udp6", "unix"};
    size_t found = 0, used = 0;
    note[0] = '\0';
    for (size_t i = 0; i < GMR_ELEMENTSOF(files) && found < n; i++) {
        char path[32];
        snprintf(path, sizeof(path), "/proc/net/%s", files[i]);
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        int r = fd < 0 ? -errno
                       : gmr__net_scan_fd(fd, files[i], inodes, n, socks, &found, NET_MAX_BYTES);
        if (fd >= 0)
            close(fd);
        if (r == -ENOMEM)
            return r;
        /* A kernel without IPv6 has no tcp6/udp6: not worth a note. */
        if ((r > 0 || (r < 0 && r != -ENOENT)) && used < note_size) {
            int w = snprintf(note + used, note_size - used, "%s/proc/net/%s: %s", used ? "; " : "",
                             files[i], r > 0 ? "read only its first 64 MiB" : strerror(-r));
            used += w > 0 ? (size_t)w : 0;
        }
    }
    return (int)found;
}
