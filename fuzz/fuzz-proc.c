/*
 * Fuzz target: the parsers of /proc text that reports rely on, fed with mutated text.
 *
 * The first byte of an input chooses the parser, the rest is the file's text (copied into a
 * buffer of exactly its size plus the terminating NUL, so that AddressSanitizer sees any read
 * past it):
 *   0 task stat       /proc/self/task/TID/stat     (Threads)
 *   1 task syscall    /proc/self/task/TID/syscall  (Threads, quiet path)
 *   2 task status     /proc/self/task/TID/status   (Threads, SigBlk/SigIgn)
 *   3 process stat    /proc/PID/stat               (Processes)
 *   4 status lines    /proc/self/status, meminfo, cpuinfo
 *   5 loadavg and uptime
 *   6 fdinfo          /proc/self/fdinfo/N          (Open Files)
 *   7 tcp/udp lines   /proc/net/{tcp,tcp6,udp,udp6}
 *   8 unix lines      /proc/net/unix
 *   9 a whole /proc/net file through the line reader (a memfd stands for the file)
 *  10 ELF notes       PT_NOTE contents searched for the build id (Shared Objects)
 *  11 numbers         gmr__parse_u64 in bases 2..16
 * Besides not crashing, it checks what each parser promises about its outputs.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "capture/capture.h"
#include "sections/diag.h"
#include "sections/sections.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort(); /* a broken promise is a finding */
}

/* True when @s holds a NUL within its @size bytes. */
static int terminated(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

static void check_sock(const struct gmr__sock *s)
{
    char line[512];
    check(terminated(s->proto, sizeof(s->proto)) && terminated(s->local, sizeof(s->local)) &&
          terminated(s->remote, sizeof(s->remote)) && terminated(s->state, sizeof(s->state)) &&
          terminated(s->sock_type, sizeof(s->sock_type)));
    gmr__sock_describe(s, line, sizeof(line));
    check(terminated(line, sizeof(line)));
    gmr__sock_describe(s, line, 8);
    check(terminated(line, 8));
}

static void fuzz_lines(const char *text, void (*one)(const char *line, unsigned k), unsigned k)
{
    char *copy = strdup(text);
    if (!copy)
        return;
    for (char *line = copy; line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        one(line, k);
        line = nl ? nl + 1 : NULL;
    }
    free(copy);
}

static void inet_line(const char *line, unsigned k)
{
    static const char *const protos[] = {"tcp", "tcp6", "udp", "udp6"};
    struct gmr__sock s;
    memset(&s, 0, sizeof(s));
    if (gmr__parse_net_inet_line(line, protos[k % 4], &s) == 0)
        check_sock(&s);
}

static void unix_line(const char *line, unsigned k)
{
    (void)k;
    struct gmr__sock s;
    memset(&s, 0, sizeof(s));
    if (gmr__parse_net_unix_line(line, &s) == 0)
        check_sock(&s);
}

static void scan_file(const char *text, size_t len, unsigned k)
{
    static const char *const protos[] = {"tcp", "tcp6", "udp", "udp6", "unix"};
    /* Inodes a mutated line may well carry: small numbers, sorted, without duplicates. */
    uint64_t inodes[16];
    struct gmr__sock socks[16];
    for (int i = 0; i < 16; i++)
        inodes[i] = (uint64_t)i * 7 + 1;
    memset(socks, 0, sizeof(socks));
    int fd = memfd_create("net", MFD_CLOEXEC);
    if (fd < 0)
        return;
    if (write(fd, text, len) == (ssize_t)len && lseek(fd, 0, SEEK_SET) == 0) {
        size_t found = 0;
        size_t max = (k & 8) ? len / 2 + 1 : len + 1;
        int r = gmr__net_scan_fd(fd, protos[k % 5], inodes, 16, socks, &found, max);
        check(r == 0 || r == 1 || r == -ENOMEM);
        check(found <= 16);
        size_t seen = 0;
        for (int i = 0; i < 16; i++) {
            if (socks[i].proto[0]) {
                check(socks[i].inode == inodes[i]);
                check_sock(&socks[i]);
                seen++;
            }
        }
        check(seen == found);
    }
    close(fd);
}

static void fuzz_one(unsigned kind, const char *text, size_t len, unsigned k)
{
    switch (kind) {
    case 0: {
        struct gmr__task_stat st;
        if (gmr__parse_task_stat(text, &st) == 0) {
            check(terminated(st.name, sizeof(st.name)));
            check(gmr__task_state_name(st.state) != NULL);
        }
        break;
    }
    case 1: {
        struct gmr__task_syscall sc;
        if (gmr__parse_task_syscall(text, &sc) == 0)
            check(sc.kind == GMR_SYSCALL_BLOCKED || sc.kind == GMR_SYSCALL_RUNNING ||
                  sc.kind == GMR_SYSCALL_NONE);
        break;
    }
    case 2: {
        struct gmr__task_masks m;
        (void)gmr__parse_task_status(text, &m);
        break;
    }
    case 3: {
        char state;
        int ppid;
        (void)gmr__parse_proc_stat(text, &state, &ppid);
        break;
    }
    case 4: {
        static const char *const keys[] = {"SigBlk", "VmRSS", "model name", "MemTotal", "Name",
                                            "", "Uid", "flags"};
        char buf[64];
        int r = gmr__parse_status_kv(text, keys[k % 8], buf, 1 + k % sizeof(buf));
        check(r == 0 || r == -ENOENT);
        if (r == 0)
            check(terminated(buf, 1 + k % sizeof(buf)));
        check(gmr__parse_status_kv(text, "x", buf, 0) == -EINVAL);
        break;
    }
    case 5: {
        struct gmr__loadavg la;
        double up;
        char buf[64];
        (void)gmr__parse_loadavg(text, &la);
        if (gmr__parse_uptime(text, &up) == 0) {
            check(up >= 0);
            gmr__format_duration((uint64_t)(up < 1e19 ? up : 1e19), buf, sizeof(buf));
            check(terminated(buf, sizeof(buf)));
        }
        break;
    }
    case 6: {
        unsigned flags;
        int64_t pos;
        char buf[256];
        if (gmr__parse_fdinfo(text, &flags, &pos) == 0) {
            gmr__format_open_flags(flags, buf, sizeof(buf));
            check(terminated(buf, sizeof(buf)));
            gmr__format_open_flags(flags, buf, 1 + k % 16);
            check(terminated(buf, 1 + k % 16));
        }
        break;
    }
    case 7:
        fuzz_lines(text, inet_line, k);
        break;
    case 8:
        fuzz_lines(text, unix_line, k);
        break;
    case 9:
        scan_file(text, len, k);
        break;
    case 10: {
        const unsigned char *id;
        size_t id_len;
        size_t align = (k & 1) ? 8 : 4;
        if (gmr__parse_build_id_note(text, len, align, &id, &id_len) == 0)
            check(id >= (const unsigned char *)text && id_len <= len &&
                  id + id_len <= (const unsigned char *)text + len);
        break;
    }
    case 11: {
        uint64_t v;
        (void)gmr__parse_u64(text, len, 2 + k % 15, &v);
        break;
    }
    }
}

#define KINDS 12

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned kind = data[0] % KINDS;
    unsigned k = data[0] / KINDS; /* variant within the kind */
    size_t len = size - 1;
    char *text = malloc(len + 1);
    if (!text)
        return 0;
    memcpy(text, data + 1, len);
    text[len] = '\0';
    fuzz_one(kind, text, len, k);
    free(text);
    return 0;
}
