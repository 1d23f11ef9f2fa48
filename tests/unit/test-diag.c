/*
 * Unit tests of the diagnostics sections: the /proc parsers fed real, truncated and hostile
 * text, each section filled from this very process (whose files, sockets, limits and
 * environment the tests arrange), secrets kept out of JSON and text, and every filler failing
 * cleanly at each allocation.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "render/render.h"
#include "sections/diag.h"
#include "util/alloc.h"
#include "util/macro.h"

/* ------------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------------ */

static json_t *new_section(const char *title, const char *type)
{
    json_t *s = json_pack("{s:s, s:s}", "title", title, "type", type);
    assert_non_null(s);
    return s;
}

/* A one-section report model around @section (reference taken). */
static json_t *model_with(json_t *section)
{
    json_t *m = json_pack("{s:s, s:{s:s}, s:[O]}", "format_version", GMR_FORMAT_VERSION, "header",
                          "service_name", "test-diag", "sections", section);
    assert_non_null(m);
    return m;
}

/* Text of the report holding @section, as the text view renders it; free() it. */
static char *render_text(json_t *section)
{
    json_t *m = model_with(section);
    struct gmr__buf out = GMR_BUF_INIT;
    assert_int_equal(gmr__render_text(m, &out), 0);
    json_decref(m);
    if (getenv("GMR_DIAG_PRINT"))
        fputs(out.data, stdout);
    return out.data;
}

static char *dump(const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    assert_non_null(s);
    return s;
}

static void assert_absent(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle))
        fail_msg("%s found in:\n%s", needle, haystack);
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        fail_msg("%s not found in:\n%s", needle, haystack);
}

static const char *str_at(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        fail_msg("no string %s", key);
    return json_string_value(v);
}

/* The object of @data (an array) whose member @key is the integer @value, or NULL. */
static json_t *find_int(const json_t *data, const char *key, json_int_t value)
{
    size_t i;
    json_t *o;
    json_array_foreach(data, i, o)
    {
        if (json_integer_value(json_object_get(o, key)) == value)
            return o;
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------------
 * Numbers
 * ------------------------------------------------------------------------------------------ */

static void test_parse_u64_bounds(void **state)
{
    (void)state;
    uint64_t v;
    assert_true(gmr__parse_u64("18446744073709551615", 20, 10, &v));
    assert_true(v == UINT64_MAX);
    assert_false(gmr__parse_u64("18446744073709551616", 20, 10, &v));
    assert_true(gmr__parse_u64("FFFFFFFFFFFFFFFF", 16, 16, &v));
    assert_true(v == UINT64_MAX);
    assert_false(gmr__parse_u64("10000000000000000", 17, 16, &v));
    assert_true(gmr__parse_u64("000000000000000000000001", 24, 16, &v));
    assert_true(v == 1);
    assert_true(gmr__parse_u64("0100007Fzz", 8, 16, &v)); /* only @n bytes count */
    assert_true(v == 0x0100007F);
    assert_true(gmr__parse_u64("1777777777777777777777", 22, 8, &v));
    assert_true(v == UINT64_MAX);
    assert_false(gmr__parse_u64("0800", 4, 8, &v));
    assert_false(gmr__parse_u64("12a", 3, 10, &v));
    assert_false(gmr__parse_u64("-1", 2, 10, &v));
    assert_false(gmr__parse_u64(" 1", 2, 10, &v));
    assert_false(gmr__parse_u64("", 0, 10, &v));
    assert_false(gmr__parse_u64("1\0"
                                "2",
                                3, 10, &v));
}

/* ------------------------------------------------------------------------------------------
 * "Key: value" parser
 * ------------------------------------------------------------------------------------------ */

static const char status_text[] = "Name:\tvictim (x) y\n"
                                  "Umask:\t0022\n"
                                  "State:\tS (sleeping)\n"
                                  "VmPeak:\t    3060 kB\n"
                                  "XVmRSS:\t  999 kB\n"
                                  "VmRSS:\t    1708 kB\n"
                                  "Threads:\t5\n"
                                  "Empty:\n"
                                  "Cpus_allowed_list:\t0-7";

static void test_status_kv_finds_whole_line_keys(void **state)
{
    (void)state;
    char v[64];
    assert_int_equal(gmr__parse_status_kv(status_text, "VmRSS", v, sizeof(v)), 0);
    assert_string_equal(v, "1708 kB");
    assert_int_equal(gmr__parse_status_kv(status_text, "Name", v, sizeof(v)), 0);
    assert_string_equal(v, "victim (x) y");
    assert_int_equal(gmr__parse_status_kv(status_text, "Threads", v, sizeof(v)), 0);
    assert_string_equal(v, "5");
    assert_int_equal(gmr__parse_status_kv(status_text, "Cpus_allowed_list", v, sizeof(v)), 0);
    assert_string_equal(v, "0-7");
    assert_int_equal(gmr__parse_status_kv(status_text, "Empty", v, sizeof(v)), 0);
    assert_string_equal(v, "");
    /* A key is a whole field: neither a prefix of another key nor inside one. */
    assert_int_equal(gmr__parse_status_kv(status_text, "Vm", v, sizeof(v)), -ENOENT);
    assert_int_equal(gmr__parse_status_kv(status_text, "RSS", v, sizeof(v)), -ENOENT);
    assert_int_equal(gmr__parse_status_kv(status_text, "VmSwap", v, sizeof(v)), -ENOENT);
    assert_int_equal(gmr__parse_status_kv("", "VmRSS", v, sizeof(v)), -ENOENT);
    assert_int_equal(gmr__parse_status_kv(status_text, "VmRSS", v, 0), -EINVAL);
}

static void test_status_kv_cpuinfo_layout_and_cuts(void **state)
{
    (void)state;
    char v[8];
    const char *cpuinfo = "processor\t: 0\ncpu family\t: 6\nmodel name\t: Intel(R) Xeon(R)\r\n"
                          "model name\t: second\n";
    assert_int_equal(gmr__parse_status_kv(cpuinfo, "cpu", v, sizeof(v)), -ENOENT);
    assert_int_equal(gmr__parse_status_kv(cpuinfo, "model name", v, sizeof(v)), 0);
    assert_string_equal(v, "Intel(R"); /* cut to the buffer, NUL-terminated */
    char big[64];
    assert_int_equal(gmr__parse_status_kv(cpuinfo, "model name", big, sizeof(big)), 0);
    assert_string_equal(big, "Intel(R) Xeon(R)"); /* first line wins, CR trimmed */

    /* An embedded NUL ends the text; a truncated last line still parses. */
    const char nul[] = "VmRSS:\t1 kB\0VmHWM:\t2 kB\n";
    assert_int_equal(gmr__parse_status_kv(nul, "VmHWM", big, sizeof(big)), -ENOENT);
    assert_int_equal(gmr__parse_status_kv("VmHWM:  12", "VmHWM", big, sizeof(big)), 0);
    assert_string_equal(big, "12");
    assert_int_equal(gmr__parse_status_kv("VmHWM", "VmHWM", big, sizeof(big)), -ENOENT);
    assert_int_equal(gmr__parse_status_kv("VmHWM\n:1\n", "VmHWM", big, sizeof(big)), -ENOENT);
}

/* ------------------------------------------------------------------------------------------
 * loadavg, uptime
 * ------------------------------------------------------------------------------------------ */

static void test_loadavg_and_uptime(void **state)
{
    (void)state;
    struct gmr__loadavg la;
    assert_int_equal(gmr__parse_loadavg("0.52 0.58 1.59 3/345 12345\n", &la), 0);
    assert_true(la.avg[0] == 0.52 && la.avg[2] == 1.59);
    assert_int_equal(la.running, 3);
    assert_int_equal(la.total, 345);
    assert_int_equal(gmr__parse_loadavg("0.52 0.58 0.59 1/", &la), -EINVAL);
    assert_int_equal(gmr__parse_loadavg("0.52 0.58", &la), -EINVAL);
    assert_int_equal(gmr__parse_loadavg("", &la), -EINVAL);
    assert_int_equal(gmr__parse_loadavg("nan 1 1 1/1 1", &la), -EINVAL);
    assert_int_equal(gmr__parse_loadavg("1 1 1 99999999999999999999999/1 1", &la), -EINVAL);
    assert_int_equal(gmr__parse_loadavg("1 1 1 1 1", &la), -EINVAL);

    double up;
    assert_int_equal(gmr__parse_uptime("2156.86 3974.76\n", &up), 0);
    assert_true(up > 2156.85 && up < 2156.87);
    assert_int_equal(gmr__parse_uptime("", &up), -EINVAL);
    assert_int_equal(gmr__parse_uptime("-5 1", &up), -EINVAL);
    assert_int_equal(gmr__parse_uptime("inf", &up), -EINVAL);
    assert_int_equal(gmr__parse_uptime("1e999", &up), -EINVAL);

    char buf[64];
    gmr__format_duration(0, buf, sizeof(buf));
    assert_string_equal(buf, "00:00:00");
    gmr__format_duration(86399, buf, sizeof(buf));
    assert_string_equal(buf, "23:59:59");
    gmr__format_duration(86400 + 3600 + 61, buf, sizeof(buf));
    assert_string_equal(buf, "1 day, 01:01:01");
    gmr__format_duration(3 * 86400 + 4 * 3600 + 5 * 60 + 6, buf, sizeof(buf));
    assert_string_equal(buf, "3 days, 04:05:06");
    gmr__format_duration(UINT64_MAX, buf, 8);
    assert_int_equal(strlen(buf), 7);
}

/* ------------------------------------------------------------------------------------------
 * fdinfo and open flags
 * ------------------------------------------------------------------------------------------ */

static void test_fdinfo_flags_and_position(void **state)
{
    (void)state;
    unsigned flags;
    int64_t pos;
    assert_int_equal(
        gmr__parse_fdinfo("pos:\t1234\nflags:\t02102001\nmnt_id:\t24\nino:\t3\n", &flags, &pos), 0);
    assert_int_equal(flags, 02102001);
    assert_int_equal(pos, 1234);

    /* Missing or malformed position: flags still count. */
    assert_int_equal(gmr__parse_fdinfo("flags:\t02\n", &flags, &pos), 0);
    assert_int_equal(flags, 2);
    assert_int_equal(pos, -1);
    assert_int_equal(gmr__parse_fdinfo("pos:\t99999999999999999999999\nflags:\t0\n", &flags, &pos),
                     0);
    assert_int_equal(pos, -1);
    assert_int_equal(gmr__parse_fdinfo("pos:\t-5\nflags:\t0\n", &flags, &pos), 0);
    assert_int_equal(pos, -1);

    /* No valid flags line. */
    assert_int_equal(gmr__parse_fdinfo("pos:\t0\n", &flags, &pos), -EINVAL);
    assert_int_equal(gmr__parse_fdinfo("", &flags, &pos), -EINVAL);
    assert_int_equal(gmr__parse_fdinfo("flags:\t0800\n", &flags, &pos), -EINVAL);
    assert_int_equal(gmr__parse_fdinfo("flags:\n", &flags, &pos), -EINVAL);
    assert_int_equal(gmr__parse_fdinfo("flags:\t0777777777777777777777777\n", &flags, &pos),
                     -EINVAL);
    assert_int_equal(gmr__parse_fdinfo("flags:\t077777777777\n", &flags, &pos), -EINVAL);
    assert_int_equal(gmr__parse_fdinfo("xflags:\t02\n", &flags, &pos), -EINVAL);
    const char nul[] = "pos:\t0\n\0flags:\t02\n";
    assert_int_equal(gmr__parse_fdinfo(nul, &flags, &pos), -EINVAL);
    /* Truncated at the end of the number is fine. */
    assert_int_equal(gmr__parse_fdinfo("pos:\t7\nflags:\t04", &flags, &pos), 0);
    assert_int_equal(flags, 4);
    assert_int_equal(pos, 7);
}

static void test_open_flags_names(void **state)
{
    (void)state;
    char b[256];
    gmr__format_open_flags(O_WRONLY | O_APPEND | O_CLOEXEC, b, sizeof(b));
    assert_string_equal(b, "O_WRONLY|O_APPEND|O_CLOEXEC");
    gmr__format_open_flags(O_RDONLY, b, sizeof(b));
    assert_string_equal(b, "O_RDONLY");
    gmr__format_open_flags(O_RDWR | O_NONBLOCK, b, sizeof(b));
    assert_string_equal(b, "O_RDWR|O_NONBLOCK");
    gmr__format_open_flags(O_RDONLY | O_SYNC | O_DIRECTORY, b, sizeof(b));
    assert_string_equal(b, "O_RDONLY|O_SYNC|O_DIRECTORY");
    gmr__format_open_flags(O_WRONLY | O_DSYNC, b, sizeof(b));
    assert_string_equal(b, "O_WRONLY|O_DSYNC");
    gmr__format_open_flags(O_PATH | O_CLOEXEC, b, sizeof(b));
    assert_string_equal(b, "O_PATH|O_CLOEXEC");
#if defined(__x86_64__)
    gmr__format_open_flags(0100000, b, sizeof(b)); /* as fdinfo shows the terminal */
    assert_string_equal(b, "O_RDONLY|O_LARGEFILE");
    gmr__format_open_flags(0x80000000u | 2, b, sizeof(b));
    assert_string_equal(b, "O_RDWR|020000000000");
#endif
    /* A small buffer cuts the text and stays terminated. */
    char small[10];
    gmr__format_open_flags(O_WRONLY | O_APPEND | O_CLOEXEC, small, sizeof(small));
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_memory_equal(small, "O_WRONLY|", 9);
    gmr__format_open_flags(O_WRONLY, small, 1);
    assert_string_equal(small, "");
}

static void test_fd_type_from_link_and_mode(void **state)
{
    (void)state;
    assert_string_equal(gmr__fd_type("socket:[1234]", 0140777), "socket");
    assert_string_equal(gmr__fd_type("pipe:[1234]", 010600), "pipe");
    assert_string_equal(gmr__fd_type("anon_inode:[eventfd]", 0600), "anon_inode");
    assert_string_equal(gmr__fd_type("anon_inode:inotify", 0), "anon_inode");
    assert_string_equal(gmr__fd_type("/tmp/x", S_IFREG | 0644), "file");
    assert_string_equal(gmr__fd_type("/tmp/pipe:[1]", S_IFREG | 0644), "file");
    assert_string_equal(gmr__fd_type("/tmp", S_IFDIR | 0755), "directory");
    assert_string_equal(gmr__fd_type("/dev/null", S_IFCHR | 0666), "char_device");
    assert_string_equal(gmr__fd_type("/dev/sda", S_IFBLK | 0660), "block_device");
    assert_string_equal(gmr__fd_type("/run/fifo", S_IFIFO | 0600), "fifo");
    assert_string_equal(gmr__fd_type("/run/x.sock", S_IFSOCK | 0600), "socket");
    assert_string_equal(gmr__fd_type("/run/link", S_IFLNK | 0777), "symlink");
    assert_string_equal(gmr__fd_type("/gone (deleted)", 0), "unknown");
    assert_string_equal(gmr__fd_type("", 0), "unknown");
}

/* ------------------------------------------------------------------------------------------
 * /proc/net
 * ------------------------------------------------------------------------------------------ */

static const char tcp_header[] = "  sl  local_address rem_address   st tx_queue rx_queue tr "
                                 "tm->when retrnsmt   uid  timeout inode";

static void test_net_tcp_lines(void **state)
{
    (void)state;
    struct gmr__sock s;
    char d[512];
    assert_int_equal(gmr__parse_net_inet_line(tcp_header, "tcp", &s), -EINVAL);

    /* 127.0.0.1:8080 listening; on a little-endian host the word prints as 0100007F. */
    uint32_t lo = htonl(INADDR_LOOPBACK);
    char line[512];
    snprintf(line, sizeof(line),
             "   0: %08X:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000 "
             "       0 4242 1 0000000000000000 100 0 0 10 0                     ",
             lo);
    assert_int_equal(gmr__parse_net_inet_line(line, "tcp", &s), 0);
    assert_string_equal(s.proto, "tcp");
    assert_string_equal(s.local, "127.0.0.1:8080");
    assert_string_equal(s.remote, "");
    assert_string_equal(s.state, "LISTEN");
    assert_true(s.inode == 4242);
    gmr__sock_describe(&s, d, sizeof(d));
    assert_string_equal(d, "TCP 127.0.0.1:8080 LISTEN");

    snprintf(line, sizeof(line),
             "  12: %08X:1F90 %08X:D0CE 01 00000000:00000000 00:00000000 00000000  1000 "
             "       0 18446744073709551615 1",
             lo, lo);
    assert_int_equal(gmr__parse_net_inet_line(line, "tcp", &s), 0);
    assert_string_equal(s.remote, "127.0.0.1:53454");
    assert_true(s.inode == UINT64_MAX);
    gmr__sock_describe(&s, d, sizeof(d));
    assert_string_equal(d, "TCP 127.0.0.1:8080 -> 127.0.0.1:53454 ESTABLISHED");

    /* Unknown state numbers are shown, not guessed. */
    snprintf(line, sizeof(line), "0: %08X:0001 00000000:0000 7F 0:0 0:0 0 0 0 77", lo);
    assert_int_equal(gmr__parse_net_inet_line(line, "tcp", &s), 0);
    assert_string_equal(s.state, "STATE_7F");

    /* Malformed: truncated, bad hex, wrong address length, inode beyond 64 bits. */
    static const char *const bad[] = {
        "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000",
        "   0: 0100007G:1F90 00000000:0000 0A 0:0 0:0 0 0 0 1",
        "   0: 100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 1",
        "   0: 0100007F:1F900 00000000:0000 0A 0:0 0:0 0 0 0 1",
        "   0: 0100007F 00000000:0000 0A 0:0 0:0 0 0 0 1",
        "   0: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 18446744073709551616",
        "   x: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 1",
        "   0: 0100007F:1F90 00000000:0000 1FFFFFFFFFFFFFFFF 0:0 0:0 0 0 0 1",
        "0:",
        "",
    };
    for (size_t i = 0; i < GMR_ELEMENTSOF(bad); i++) {
        if (gmr__parse_net_inet_line(bad[i], "tcp", &s) != -EINVAL)
            fail_msg("accepted: %s", bad[i]);
    }
}

static void test_net_tcp6_and_udp_lines(void **state)
{
    (void)state;
    struct gmr__sock s;
    char d[512];
    /* ::1 port 80 -> ::ffff:10.0.0.1 port 443, words in host order. */
    struct in6_addr a = IN6ADDR_LOOPBACK_INIT, b;
    inet_pton(AF_INET6, "::ffff:10.0.0.1", &b);
    uint32_t wa[4], wb[4];
    memcpy(wa, &a, 16);
    memcpy(wb, &b, 16);
    char line[512];
    snprintf(line, sizeof(line),
             "   3: %08X%08X%08X%08X:0050 %08X%08X%08X%08X:01BB 06 00000000:00000000 "
             "03:00000F9A 00000000     0        0 0 3 0000000000000000",
             wa[0], wa[1], wa[2], wa[3], wb[0], wb[1], wb[2], wb[3]);
    assert_int_equal(gmr__parse_net_inet_line(line, "tcp6", &s), 0);
    gmr__sock_describe(&s, d, sizeof(d));
    assert_string_equal(d, "TCP6 [::1]:80 -> [::ffff:10.0.0.1]:443 TIME_WAIT");
    /* An IPv4 address where IPv6 is expected is malformed. */
    assert_int_equal(
        gmr__parse_net_inet_line("0: 0100007F:0050 00000000:0000 0A 0:0 0:0 0 0 0 1", "tcp6", &s),
        -EINVAL);

    /* UDP: no TCP state words; an unconnected socket has no remote. */
    assert_int_equal(gmr__parse_net_inet_line(
                         "  411: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 "
                         "00000000   104        0 17020 2 0000000000000000 0",
                         "udp", &s),
                     0);
    gmr__sock_describe(&s, d, sizeof(d));
    assert_string_equal(d, "UDP 0.0.0.0:5353");
    assert_string_equal(s.state, "");
}

static void test_net_unix_lines(void **state)
{
    (void)state;
    struct gmr__sock s;
    char d[512];
    assert_int_equal(
        gmr__parse_net_unix_line("Num       RefCount Protocol Flags    Type St Inode Path", &s),
        -EINVAL);
    assert_int_equal(gmr__parse_net_unix_line("0000000000000000: 00000002 00000000 00010000 0001 "
                                              "01 23456 /run/my app/x.sock",
                                              &s),
                     0);
    assert_true(s.inode == 23456);
    assert_string_equal(s.local, "/run/my app/x.sock");
    assert_string_equal(s.state, "LISTEN");
    gmr__sock_describe(&s, d, sizeof(d));
    assert_string_equal(d, "UNIX STREAM /run/my app/x.sock LISTEN");

    /* A socketpair end: no path; two spaces before a short inode. */
    assert_int_equal(
        gmr__parse_net_unix_line("000000001a05fbc1: 00000003 00000000 00000000 0001 03  1057", &s),
        0);
    assert_true(s.inode == 1057);
    gmr__sock_describe(&s, d, sizeof(d));
    assert_string_equal(d, "UNIX STREAM CONNECTED");

    assert_int_equal(gmr__parse_net_unix_line(
                         "00000000d5e1a3b0: 00000002 00000000 00000000 0002 01 77 @abstract@x", &s),
                     0);
    gmr__sock_describe(&s, d, sizeof(d));
    assert_string_equal(d, "UNIX DGRAM @abstract@x UNCONNECTED");
    assert_int_equal(
        gmr__parse_net_unix_line("00000000d5e1a3b0: 00000002 00000000 00000000 0009 09 78", &s), 0);
    assert_string_equal(s.sock_type, "TYPE_9");
    assert_string_equal(s.state, "");

    /* A path longer than the buffer is cut, never overflowed. */
    char line[1200];
    int n =
        snprintf(line, sizeof(line), "0000000000000000: 00000002 00000000 00000000 0001 01 5 /");
    memset(line + n, 'p', sizeof(line) - (size_t)n - 1);
    line[sizeof(line) - 1] = '\0';
    assert_int_equal(gmr__parse_net_unix_line(line, &s), 0);
    assert_int_equal(strlen(s.local), sizeof(s.local) - 1);

    static const char *const bad[] = {
        "0000000000000000: 00000002 00000000 00010000 0001 01",
        "0000000000000000 00000002 00000000 00010000 0001 01 5",
        "0000000000000000: 0000000Z 00000000 00010000 0001 01 5",
        "0000000000000000: 00000002 00000000 00010000 0001 01 -5",
        "0000000000000000: 00000002 00000000 00010000 0001 01 99999999999999999999999",
        "10000000000000000: 00000002 00000000 00010000 0001 01 5",
        "",
    };
    for (size_t i = 0; i < GMR_ELEMENTSOF(bad); i++) {
        if (gmr__parse_net_unix_line(bad[i], &s) != -EINVAL)
            fail_msg("accepted: %s", bad[i]);
    }
}

/* A file of /proc/net/unix format with hostile lines, read back through gmr__net_scan_fd(). */
static void test_net_scan_skips_long_lines_and_bounds_reads(void **state)
{
    (void)state;
    char dir[] = "/tmp/gmr-diag-net-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/unix", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("Num       RefCount Protocol Flags    Type St Inode Path\n", f);
    /* A line longer than any buffer: skipped whole, even though it starts well. */
    fputs("0000000000000000: 00000002 00000000 00010000 0001 01 111 /", f);
    for (int i = 0; i < 20000; i++)
        fputc('x', f);
    fputc('\n', f);
    fputs("0000000000000000: 00000002 00000000 00010000 0001 01 222 /run/b.sock\n", f);
    /* An embedded NUL ends what the parser sees of its line. */
    static const char nul_line[] = "0000000000000000: 00000003 00000000 00000000 0001 03 333\0j\n";
    fwrite(nul_line, 1, sizeof(nul_line) - 1, f);
    fputs("garbage\n\n\n", f);
    fputs("0000000000000000: 00000003 00000000 00000000 0002 03 444 /run/last", f);
    fclose(f);

    const uint64_t inodes[] = {111, 222, 333, 444, 555};
    struct gmr__sock socks[5];
    memset(socks, 0, sizeof(socks));
    size_t found = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(gmr__net_scan_fd(fd, "unix", inodes, 5, socks, &found, 1 << 20), 0);
    assert_int_equal(found, 3);
    assert_string_equal(socks[0].proto, "");
    assert_string_equal(socks[1].local, "/run/b.sock");
    assert_string_equal(socks[2].state, "CONNECTED");
    assert_string_equal(socks[2].local, "");
    assert_string_equal(socks[3].local, "/run/last"); /* no final newline */
    assert_string_equal(socks[3].sock_type, "DGRAM");
    assert_string_equal(socks[4].proto, "");

    /* A bound on the bytes read stops the scan and says so. */
    memset(socks, 0, sizeof(socks));
    found = 0;
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    assert_int_equal(gmr__net_scan_fd(fd, "unix", inodes, 5, socks, &found, 100), 1);
    assert_int_equal(found, 0);

    /* It stops reading once everything asked for is found. */
    memset(socks, 0, sizeof(socks));
    found = 0;
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    assert_int_equal(gmr__net_scan_fd(fd, "unix", inodes + 1, 1, socks, &found, 1 << 20), 0);
    assert_int_equal(found, 1);
    assert_true(lseek(fd, 0, SEEK_CUR) < 20000 + 8192 * 2);
    close(fd);
    unlink(path);
    rmdir(dir);
}

static void test_sock_describe_cuts_safely(void **state)
{
    (void)state;
    struct gmr__sock s = {.inode = 1};
    strcpy(s.proto, "tcp");
    strcpy(s.local, "127.0.0.1:1");
    strcpy(s.remote, "127.0.0.1:2");
    strcpy(s.state, "ESTABLISHED");
    char d[12];
    gmr__sock_describe(&s, d, sizeof(d));
    assert_string_equal(d, "TCP 127.0.0");
}

/* ------------------------------------------------------------------------------------------
 * Build-id notes
 * ------------------------------------------------------------------------------------------ */

/* Appends a note to @buf at *@len, padding name and descriptor to @align. */
static void put_note(unsigned char *buf, size_t *len, size_t align, uint32_t type, const char *name,
                     size_t namesz, const void *desc, uint32_t descsz)
{
    uint32_t hdr[3] = {(uint32_t)namesz, descsz, type};
    memcpy(buf + *len, hdr, 12);
    *len += 12;
    memcpy(buf + *len, name, namesz);
    *len += (namesz + align - 1) & ~(align - 1);
    memcpy(buf + *len, desc, descsz);
    *len += (descsz + align - 1) & ~(align - 1);
}

static void test_build_id_note_parser(void **state)
{
    (void)state;
    unsigned char buf[256] = {0};
    unsigned char id[20];
    for (size_t i = 0; i < sizeof(id); i++)
        id[i] = (unsigned char)(0xA0 + i);
    const unsigned char prop[16] = {1, 2, 3, 4};
    size_t len = 0;
    put_note(buf, &len, 4, 1, "Xen", 4, prop, 5); /* unaligned descriptor length */
    put_note(buf, &len, 4, 3, "GNU", 4, id, sizeof(id));
    const unsigned char *got;
    size_t got_len;
    assert_int_equal(gmr__parse_build_id_note(buf, len, 4, &got, &got_len), 0);
    assert_int_equal(got_len, 20);
    assert_memory_equal(got, id, 20);

    /* Every truncation either finds nothing or finds the whole id, never reads past it. */
    for (size_t cut = 0; cut < len; cut++) {
        unsigned char *copy = malloc(cut ? cut : 1);
        memcpy(copy, buf, cut);
        int r = gmr__parse_build_id_note(copy, cut, 4, &got, &got_len);
        assert_int_equal(r, -ENOENT);
        free(copy);
    }

    /* Eight-byte alignment, as in .note.gnu.property segments. */
    len = 0;
    memset(buf, 0, sizeof(buf));
    put_note(buf, &len, 8, 5, "GNU", 4, prop, 16);
    put_note(buf, &len, 8, 3, "GNU", 4, id, sizeof(id));
    assert_int_equal(gmr__parse_build_id_note(buf, len, 8, &got, &got_len), 0);
    assert_memory_equal(got, id, 20);

    /* Wrong owner, empty id, absurd sizes. */
    len = 0;
    put_note(buf, &len, 4, 3, "GNX", 4, id, sizeof(id));
    assert_int_equal(gmr__parse_build_id_note(buf, len, 4, &got, &got_len), -ENOENT);
    len = 0;
    put_note(buf, &len, 4, 3, "GNU", 4, id, 0);
    assert_int_equal(gmr__parse_build_id_note(buf, len, 4, &got, &got_len), -ENOENT);
    uint32_t huge[3] = {0xFFFFFFFFu, 0xFFFFFFFFu, 3};
    memcpy(buf, huge, 12);
    assert_int_equal(gmr__parse_build_id_note(buf, 64, 4, &got, &got_len), -ENOENT);
    uint32_t huge_desc[4] = {4, 0xFFFFFFF0u, 3, 0x00554E47};
    memcpy(buf, huge_desc, 16);
    assert_int_equal(gmr__parse_build_id_note(buf, 64, 4, &got, &got_len), -ENOENT);
    assert_int_equal(gmr__parse_build_id_note(buf, 0, 4, &got, &got_len), -ENOENT);
}

/* ------------------------------------------------------------------------------------------
 * Environment
 * ------------------------------------------------------------------------------------------ */

/* Values that must never appear in a report. */
static const char *const secrets[] = {
    "hunter2-os-password", "AKIAsecretaccess-XYZ", "apikey-0123456789",
    "ghp_tokentokentoken", "url-pw-9f8e7d",        "cookie-crumb-42",
    "sess-abcdef",         "priv-key-material",    "pass-in-dup-url",
};

static void test_environment_masks_secret_names_and_urls(void **state)
{
    (void)state;
    char *const envp[] = {
        "PATH=/usr/bin:/bin",
        "OS_PASSWORD=hunter2-os-password",
        "AWS_SECRET_ACCESS_KEY=AKIAsecretaccess-XYZ",
        "api_key=apikey-0123456789",
        "GITHUB_TOKEN=ghp_tokentokentoken",
        "DATABASE_URL=postgres://nova:url-pw-9f8e7d@db/nova",
        "HTTP_COOKIE=cookie-crumb-42",
        "Db_PassPhrase=sess-abcdef",
        "SSH_PRIVATE=priv-key-material",
        "LANG=C.UTF-8",
        "NOT_A_VARIABLE",
        "PATH=/second/definition",
        "MIRRORS=http://a.example/x https://u:pass-in-dup-url@b.example/y",
        "EMPTY=",
        "WEIRD\xff"
        "NAME=ok",
        NULL,
    };
    json_t *sec = new_section("Environment", "environment");
    assert_int_equal(gmr__section_environment_from(sec, envp), 0);
    json_t *data = json_object_get(sec, "data");
    assert_string_equal(str_at(data, "PATH"), "/usr/bin:/bin");
    assert_string_equal(str_at(data, "LANG"), "C.UTF-8");
    assert_string_equal(str_at(data, "EMPTY"), "");
    assert_string_equal(str_at(data, "OS_PASSWORD"), "***");
    assert_string_equal(str_at(data, "AWS_SECRET_ACCESS_KEY"), "***");
    assert_string_equal(str_at(data, "api_key"), "***");
    assert_string_equal(str_at(data, "GITHUB_TOKEN"), "***");
    assert_string_equal(str_at(data, "HTTP_COOKIE"), "***");
    assert_string_equal(str_at(data, "Db_PassPhrase"), "***");
    assert_string_equal(str_at(data, "SSH_PRIVATE"), "***");
    assert_string_equal(str_at(data, "DATABASE_URL"), "postgres://nova:***@db/nova");
    assert_string_equal(str_at(data, "WEIRD\xEF\xBF\xBDNAME"), "ok");
    assert_null(json_object_get(data, "NOT_A_VARIABLE"));
    assert_string_equal(str_at(sec, "note"), "2 duplicate or malformed entries not shown");

    /* Sorted by name. */
    const char *prev = "";
    const char *key;
    json_t *v;
    json_object_foreach(data, key, v)
    {
        assert_true(strcmp(prev, key) <= 0);
        prev = key;
    }

    char *js = dump(sec);
    char *text = render_text(sec);
    struct gmr__buf kv = GMR_BUF_INIT;
    gmr__text_kv(&kv, data, 0);
    assert_int_equal(gmr__buf_error(&kv), 0);
    for (size_t i = 0; i < GMR_ELEMENTSOF(secrets); i++) {
        assert_absent(js, secrets[i]);
        assert_absent(text, secrets[i]);
        assert_absent(kv.data, secrets[i]);
    }
    assert_contains(text, "DATABASE_URL = postgres://nova:***@db/nova\n");
    assert_contains(text, "OS_PASSWORD = ***\n");
    assert_contains(text, "note: 2 duplicate or malformed entries not shown\n");
    gmr__buf_done(&kv);
    free(text);
    free(js);
    json_decref(sec);
}

static void test_environment_is_the_current_one(void **state)
{
    (void)state;
    assert_int_equal(setenv("GMR_DIAG_LATE_TOKEN", "late-secret-value", 1), 0);
    assert_int_equal(setenv("GMR_DIAG_LATE_PLAIN", "late plain value", 1), 0);
    json_t *sec = new_section("Environment", "environment");
    assert_int_equal(gmr__section_environment(sec), 0);
    json_t *data = json_object_get(sec, "data");
    assert_string_equal(str_at(data, "GMR_DIAG_LATE_TOKEN"), "***");
    assert_string_equal(str_at(data, "GMR_DIAG_LATE_PLAIN"), "late plain value");
    char *js = dump(sec);
    assert_absent(js, "late-secret-value");
    free(js);
    json_decref(sec);
    unsetenv("GMR_DIAG_LATE_TOKEN");
    unsetenv("GMR_DIAG_LATE_PLAIN");
}

static void test_environment_long_values_and_many_variables(void **state)
{
    (void)state;
    /* A URL whose password sits past the display limit is not shown at all, not cut. */
    size_t n = 70 * 1024;
    char *big = malloc(n + 64);
    strcpy(big, "BIG=");
    memset(big + 4, 'a', n);
    strcpy(big + 4 + n, " mysql://u:tail-secret@h/");
    size_t count = 5000;
    char **envp = calloc(count + 2, sizeof(*envp));
    envp[0] = big;
    for (size_t i = 1; i <= count; i++) {
        envp[i] = malloc(32);
        snprintf(envp[i], 32, "V%05zu=%zu", i, i);
    }
    json_t *sec = new_section("Environment", "environment");
    assert_int_equal(gmr__section_environment_from(sec, envp), 0);
    json_t *data = json_object_get(sec, "data");
    assert_string_equal(str_at(data, "BIG"), "(value longer than 64 KiB not shown)");
    assert_int_equal(json_object_size(data), 4096);
    assert_string_equal(str_at(sec, "note"), "905 more variables not shown");
    char *js = dump(sec);
    assert_absent(js, "tail-secret");
    free(js);
    json_decref(sec);
    for (size_t i = 0; i <= count; i++)
        free(envp[i]);
    free(envp);

    /*
     * A long name leaves less room for the value in the copy: a copy cut just before the '@'
     * must not show the password that precedes it.
     */
    const size_t name_len = 5000, copy_max = 64 * 1024 + 4096;
    const char *tail = " mysql://u:cut-secret";
    size_t value_in_copy = copy_max - name_len - 1;
    char *cut = malloc(copy_max + 64);
    memset(cut, 'N', name_len);
    cut[name_len] = '=';
    memset(cut + name_len + 1, 'a', value_in_copy - strlen(tail));
    strcpy(cut + name_len + 1 + value_in_copy - strlen(tail), tail);
    strcat(cut, "@h/");
    char *const cut_env[] = {cut, NULL};
    sec = new_section("Environment", "environment");
    assert_int_equal(gmr__section_environment_from(sec, cut_env), 0);
    js = dump(sec);
    assert_absent(js, "cut-secret");
    assert_contains(js, "(value longer than 64 KiB not shown)");
    free(js);
    json_decref(sec);
    free(cut);

    /* An empty environment is an empty object. */
    char *const none[] = {NULL};
    sec = new_section("Environment", "environment");
    assert_int_equal(gmr__section_environment_from(sec, none), 0);
    assert_int_equal(json_object_size(json_object_get(sec, "data")), 0);
    assert_null(json_object_get(sec, "note"));
    json_decref(sec);
}

/* ------------------------------------------------------------------------------------------
 * Resources, Limits, System
 * ------------------------------------------------------------------------------------------ */

static void test_resources_section(void **state)
{
    (void)state;
    json_t *sec = new_section("Resources", "kv");
    assert_int_equal(gmr__section_resources(sec), 0);
    json_t *data = json_object_get(sec, "data");
    json_t *self = json_object_get(data, "process");
    assert_non_null(strstr(str_at(self, "user_cpu_time"), " s"));
    assert_non_null(strstr(str_at(self, "max_rss"), " KiB"));
    assert_non_null(json_object_get(self, "voluntary_context_switches"));
    assert_non_null(json_object_get(self, "block_output_operations"));
    assert_true(json_is_object(json_object_get(data, "children")));
    json_t *mem = json_object_get(data, "memory");
    assert_non_null(strstr(str_at(mem, "VmRSS"), "kB"));
    assert_non_null(json_object_get(mem, "VmHWM"));
    assert_string_equal(str_at(mem, "Threads"), "1");
#ifdef __GLIBC__
    json_t *heap = json_object_get(data, "malloc");
    assert_non_null(strstr(str_at(heap, "in_use"), " bytes"));
    assert_non_null(json_object_get(heap, "mmapped"));
#else
    assert_string_equal(str_at(data, "malloc"), "unavailable: not glibc");
#endif
    char *text = render_text(sec);
    assert_contains(text, "process:\n  user_cpu_time = ");
    assert_contains(text, "memory:\n  VmPeak = ");
    free(text);
    json_decref(sec);
}

static void test_limits_section(void **state)
{
    (void)state;
    struct rlimit old, rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    rl = old;
    rl.rlim_cur = old.rlim_max == RLIM_INFINITY || old.rlim_max >= 777 ? 777 : old.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);

    json_t *sec = new_section("Limits", "limits");
    assert_int_equal(gmr__section_limits(sec), 0);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    json_t *data = json_object_get(sec, "data");
    assert_int_equal(json_array_size(data), 16);
    assert_string_equal(str_at(json_array_get(data, 0), "resource"), "RLIMIT_CPU");
    assert_string_equal(str_at(json_array_get(data, 15), "resource"), "RLIMIT_RTTIME");
    json_t *nofile = json_array_get(data, 7);
    assert_string_equal(str_at(nofile, "resource"), "RLIMIT_NOFILE");
    assert_int_equal(json_integer_value(json_object_get(nofile, "soft")), (json_int_t)rl.rlim_cur);
    if (old.rlim_max == RLIM_INFINITY)
        assert_string_equal(str_at(nofile, "hard"), "unlimited");
    else
        assert_int_equal(json_integer_value(json_object_get(nofile, "hard")),
                         (json_int_t)old.rlim_max);
    assert_string_equal(str_at(nofile, "unit"), "files");

    /* Each value as getrlimit() says, RLIM_INFINITY as "unlimited". */
    static const int order[] = {RLIMIT_CPU,      RLIMIT_FSIZE, RLIMIT_DATA,   RLIMIT_STACK,
                                RLIMIT_CORE,     RLIMIT_RSS,   RLIMIT_NPROC,  RLIMIT_NOFILE,
                                RLIMIT_MEMLOCK,  RLIMIT_AS,    RLIMIT_LOCKS,  RLIMIT_SIGPENDING,
                                RLIMIT_MSGQUEUE, RLIMIT_NICE,  RLIMIT_RTPRIO, RLIMIT_RTTIME};
    for (size_t i = 0; i < 16; i++) {
        if (order[i] == RLIMIT_NOFILE)
            continue;
        assert_int_equal(getrlimit(order[i], &rl), 0);
        json_t *hard = json_object_get(json_array_get(data, i), "hard");
        if (rl.rlim_max == RLIM_INFINITY)
            assert_string_equal(json_string_value(hard), "unlimited");
        else
            assert_int_equal(json_integer_value(hard), (json_int_t)rl.rlim_max);
    }

    char *text = render_text(sec);
    assert_contains(text, "resource           description");
    assert_contains(text, "RLIMIT_NOFILE      open files ");
    assert_contains(text, " 777 ");
    free(text);
    json_decref(sec);
}

static void test_system_section(void **state)
{
    (void)state;
    json_t *sec = new_section("System", "kv");
    assert_int_equal(gmr__section_system(sec), 0);
    json_t *data = json_object_get(sec, "data");
    assert_non_null(strstr(str_at(data, "kernel"), "Linux "));
    char host[256];
    assert_int_equal(gethostname(host, sizeof(host)), 0);
    assert_string_equal(str_at(data, "hostname"), host);
    char want[32];
    snprintf(want, sizeof(want), "%ld", sysconf(_SC_NPROCESSORS_ONLN));
    assert_string_equal(str_at(data, "cpus_online"), want);
    assert_non_null(strstr(str_at(data, "cpus_usable"), "(affinity mask)"));
    assert_true(strlen(str_at(data, "cpu_model")) > 0);
    assert_non_null(strstr(str_at(data, "load_average"), "(1, 5, 15 min)"));
    assert_non_null(strstr(str_at(data, "uptime"), " s)"));
    assert_non_null(strstr(str_at(data, "memory_total"), "kB"));
    assert_non_null(strstr(str_at(data, "memory_available"), "kB"));
    free(render_text(sec));
    json_decref(sec);
}

/* ------------------------------------------------------------------------------------------
 * Open files
 * ------------------------------------------------------------------------------------------ */

struct fixture {
    char dir[64];
    char file[128];
    char sock_path[100];
    int file_fd;
    int pipe_fd[2];
    int listen_fd;
    int port;
    int client_fd;
    int server_fd;
    int unix_fd;
    int event_fd;
};

static void fixture_open(struct fixture *f)
{
    strcpy(f->dir, "/tmp/gmr-diag-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->file, sizeof(f->file), "%s/data file.log", f->dir);
    f->file_fd = open(f->file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    assert_true(f->file_fd >= 0);
    assert_int_equal(write(f->file_fd, "hello", 5), 5);
    assert_int_equal(pipe2(f->pipe_fd, O_CLOEXEC | O_NONBLOCK), 0);

    f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(f->listen_fd, 4), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(f->listen_fd, (struct sockaddr *)&a, &len), 0);
    f->port = ntohs(a.sin_port);
    f->client_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(f->client_fd, (struct sockaddr *)&a, sizeof(a)), 0);
    f->server_fd = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    assert_true(f->server_fd >= 0);

    snprintf(f->sock_path, sizeof(f->sock_path), "%s/ctl.sock", f->dir);
    f->unix_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un u = {.sun_family = AF_UNIX};
    snprintf(u.sun_path, sizeof(u.sun_path), "%s", f->sock_path);
    assert_int_equal(bind(f->unix_fd, (struct sockaddr *)&u, sizeof(u)), 0);
    assert_int_equal(listen(f->unix_fd, 4), 0);
    f->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    assert_true(f->event_fd >= 0);
}

static void fixture_close(struct fixture *f)
{
    int fds[] = {f->file_fd,   f->pipe_fd[0], f->pipe_fd[1], f->listen_fd,
                 f->client_fd, f->server_fd,  f->unix_fd,    f->event_fd};
    for (size_t i = 0; i < GMR_ELEMENTSOF(fds); i++)
        close(fds[i]);
    unlink(f->file);
    unlink(f->sock_path);
    rmdir(f->dir);
}

/* The local port of @fd. */
static int local_port(int fd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

static void test_open_files_describes_each_kind(void **state)
{
    (void)state;
    struct fixture f;
    fixture_open(&f);
    json_t *sec = new_section("Open Files", "open_files");
    assert_int_equal(gmr__section_open_files(sec), 0);
    json_t *data = json_object_get(sec, "data");
    char want[256];

    json_t *e = find_int(data, "fd", f.file_fd);
    assert_non_null(e);
    assert_string_equal(str_at(e, "type"), "file");
    assert_string_equal(str_at(e, "target"), f.file);
    assert_int_equal(json_integer_value(json_object_get(e, "pos")), 5);
    assert_non_null(strstr(str_at(e, "flags"), "O_WRONLY|O_APPEND|"));
    assert_non_null(strstr(str_at(e, "flags"), "|O_CLOEXEC"));

    e = find_int(data, "fd", f.pipe_fd[0]);
    assert_string_equal(str_at(e, "type"), "pipe");
    assert_true(strncmp(str_at(e, "target"), "pipe:[", 6) == 0);
    assert_string_equal(str_at(e, "flags"), "O_RDONLY|O_NONBLOCK|O_CLOEXEC");
    assert_null(json_object_get(e, "pos"));
    e = find_int(data, "fd", f.pipe_fd[1]);
    assert_string_equal(str_at(e, "flags"), "O_WRONLY|O_NONBLOCK|O_CLOEXEC");

    e = find_int(data, "fd", f.listen_fd);
    assert_string_equal(str_at(e, "type"), "socket");
    snprintf(want, sizeof(want), "TCP 127.0.0.1:%d LISTEN", f.port);
    assert_string_equal(str_at(e, "target"), want);
    assert_string_equal(str_at(e, "flags"), "O_RDWR|O_CLOEXEC");
    json_t *so = json_object_get(e, "socket");
    assert_string_equal(str_at(so, "protocol"), "tcp");
    assert_string_equal(str_at(so, "state"), "LISTEN");
    assert_null(json_object_get(so, "remote"));
    struct stat st;
    assert_int_equal(fstat(f.listen_fd, &st), 0);
    assert_int_equal(json_integer_value(json_object_get(so, "inode")), (json_int_t)st.st_ino);

    int cport = local_port(f.client_fd);
    e = find_int(data, "fd", f.client_fd);
    snprintf(want, sizeof(want), "TCP 127.0.0.1:%d -> 127.0.0.1:%d ESTABLISHED", cport, f.port);
    assert_string_equal(str_at(e, "target"), want);
    e = find_int(data, "fd", f.server_fd);
    snprintf(want, sizeof(want), "TCP 127.0.0.1:%d -> 127.0.0.1:%d ESTABLISHED", f.port, cport);
    assert_string_equal(str_at(e, "target"), want);
    so = json_object_get(e, "socket");
    snprintf(want, sizeof(want), "127.0.0.1:%d", cport);
    assert_string_equal(str_at(so, "remote"), want);

    e = find_int(data, "fd", f.unix_fd);
    assert_string_equal(str_at(e, "type"), "socket");
    snprintf(want, sizeof(want), "UNIX STREAM %s LISTEN", f.sock_path);
    assert_string_equal(str_at(e, "target"), want);
    so = json_object_get(e, "socket");
    assert_string_equal(str_at(so, "local"), f.sock_path);
    assert_string_equal(str_at(so, "socket_type"), "STREAM");

    e = find_int(data, "fd", f.event_fd);
    assert_string_equal(str_at(e, "type"), "anon_inode");
    assert_string_equal(str_at(e, "target"), "anon_inode:[eventfd]");
    assert_string_equal(str_at(e, "flags"), "O_RDWR|O_NONBLOCK|O_CLOEXEC");

    /* Ascending, counted, nothing cut. */
    size_t i;
    json_int_t prev = -1;
    json_array_foreach(data, i, e)
    {
        assert_true(json_integer_value(json_object_get(e, "fd")) > prev);
        prev = json_integer_value(json_object_get(e, "fd"));
    }
    assert_int_equal(json_integer_value(json_object_get(sec, "count")),
                     (json_int_t)json_array_size(data));
    assert_null(json_object_get(sec, "not_shown"));

    char *text = render_text(sec);
    assert_contains(text, "fd  type ");
    assert_contains(text, "  flags ");
    snprintf(want, sizeof(want), "%s (position 5)\n", f.file);
    assert_contains(text, want);
    snprintf(want, sizeof(want), "TCP 127.0.0.1:%d LISTEN\n", f.port);
    assert_contains(text, want);
    assert_contains(text, "\nopen descriptors: ");
    free(text);
    json_decref(sec);
    fixture_close(&f);
}

static void test_open_files_leaves_no_descriptor_behind(void **state)
{
    (void)state;
    int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
    close(probe);
    json_t *sec = new_section("Open Files", "open_files");
    assert_int_equal(gmr__section_open_files(sec), 0);
    /* The listing's own descriptor is not reported. */
    assert_null(find_int(json_object_get(sec, "data"), "fd", probe));
    json_decref(sec);
    int again = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_int_equal(again, probe);
    close(again);
}

/* ------------------------------------------------------------------------------------------
 * Shared objects
 * ------------------------------------------------------------------------------------------ */

/* The build-id readelf reports for @path, or "" when it reports none. */
static void readelf_build_id(const char *path, char *buf, size_t size)
{
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "readelf -n '%s' 2>/dev/null", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[512];
    buf[0] = '\0';
    while (fgets(line, sizeof(line), p)) {
        const char *b = strstr(line, "Build ID: ");
        if (b && !buf[0]) {
            snprintf(buf, size, "%s", b + 10);
            buf[strcspn(buf, "\n")] = '\0';
        }
    }
    pclose(p);
}

static void test_shared_objects_build_ids_match_readelf(void **state)
{
    (void)state;
    json_t *sec = new_section("Shared Objects", "shared_objects");
    assert_int_equal(gmr__section_shared_objects(sec), 0);
    json_t *data = json_object_get(sec, "data");
    assert_true(json_array_size(data) >= 3);

    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    assert_string_equal(str_at(json_array_get(data, 0), "path"), exe);

    bool libc = false, jansson = false;
    size_t i;
    json_t *o;
    json_array_foreach(data, i, o)
    {
        const char *path = str_at(o, "path");
        assert_true(strncmp(str_at(o, "base"), "0x", 2) == 0);
        bool is_libc = strstr(path, "/libc.so") != NULL;
        bool is_jansson = strstr(path, "/libjansson.so") != NULL;
        if (!is_libc && !is_jansson && i != 0)
            continue;
        char want[160];
        readelf_build_id(path, want, sizeof(want));
        const json_t *id = json_object_get(o, "build_id");
        if (!want[0]) {
            assert_null(id);
            continue;
        }
        assert_int_equal(strlen(want), 40);
        assert_string_equal(json_string_value(id), want);
        libc |= is_libc;
        jansson |= is_jansson;
    }
    assert_true(libc);
    assert_true(jansson);

    char *text = render_text(sec);
    assert_contains(text, "base ");
    assert_contains(text, "/libc.so");
    free(text);
    json_decref(sec);
}

/* ------------------------------------------------------------------------------------------
 * Views and allocation failures
 * ------------------------------------------------------------------------------------------ */

struct filler {
    const char *title;
    const char *type;
    int (*fill)(json_t *section);
};

static const struct filler fillers[] = {
    {"Environment", "environment", gmr__section_environment},
    {"Resources", "kv", gmr__section_resources},
    {"Limits", "limits", gmr__section_limits},
    {"Open Files", "open_files", gmr__section_open_files},
    {"Shared Objects", "shared_objects", gmr__section_shared_objects},
    {"System", "kv", gmr__section_system},
};

static void test_saved_json_renders_like_live_model(void **state)
{
    (void)state;
    struct fixture f;
    fixture_open(&f);
    json_t *m = json_pack("{s:s, s:{s:s}, s:[]}", "format_version", GMR_FORMAT_VERSION, "header",
                          "service_name", "test-diag", "sections");
    for (size_t i = 0; i < GMR_ELEMENTSOF(fillers); i++) {
        json_t *sec = gmr__model_section(m, fillers[i].title, fillers[i].type);
        assert_non_null(sec);
        assert_int_equal(fillers[i].fill(sec), 0);
    }
    struct gmr__buf live = GMR_BUF_INIT, js = GMR_BUF_INIT, saved = GMR_BUF_INIT;
    assert_int_equal(gmr__render_text(m, &live), 0);
    assert_int_equal(gmr__render_json(m, &js), 0);
    json_error_t err;
    json_t *loaded = json_loads(js.data, 0, &err);
    assert_non_null(loaded);
    assert_int_equal(gmr__render_text(loaded, &saved), 0);
    assert_string_equal(live.data, saved.data);
    if (getenv("GMR_DIAG_PRINT"))
        fputs(live.data, stdout);
    for (size_t i = 0; i < GMR_ELEMENTSOF(fillers); i++) {
        struct gmr__buf banner = GMR_BUF_INIT;
        gmr__text_banner(&banner, '=', fillers[i].title);
        assert_contains(live.data, banner.data);
        gmr__buf_done(&banner);
    }
    gmr__buf_done(&live);
    gmr__buf_done(&js);
    gmr__buf_done(&saved);
    json_decref(loaded);
    json_decref(m);
    fixture_close(&f);
}

static void test_table_cells_cannot_break_the_layout(void **state)
{
    (void)state;
    json_t *sec =
        json_pack("{s:s, s:s, s:[{s:i, s:s, s:s, s:s}], s:i, s:s}", "title", "Open Files", "type",
                  "open_files", "data", "fd", 3, "type", "file", "flags", "O_RDONLY", "target",
                  "/tmp/evil\n====\x1b[31m name", "count", 1, "note", "a\nb");
    char *text = render_text(sec);
    assert_contains(text, "/tmp/evil\\x0a====\\x1b[31m name\nopen descriptors: 1\n");
    assert_contains(text, "note: a\n      b\n");
    free(text);
    json_decref(sec);
}

static void test_fillers_fail_cleanly_at_every_allocation(void **state)
{
    (void)state;
    struct fixture f;
    fixture_open(&f);
    json_set_alloc_funcs(gmr__malloc, gmr__free);
    for (size_t i = 0; i < GMR_ELEMENTSOF(fillers); i++) {
        long n;
        for (n = 0; n < 1000000; n++) {
            json_t *sec = new_section(fillers[i].title, fillers[i].type);
            gmr__alloc_fail_after(n);
            int r = fillers[i].fill(sec);
            gmr__alloc_fail_after(-1);
            json_decref(sec);
            if (r == 0)
                break;
            if (r != -ENOMEM)
                fail_msg("%s: allocation %ld failed: %d", fillers[i].title, n, r);
        }
        assert_true(n > 0);
    }
    json_set_alloc_funcs(malloc, free);
    fixture_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_u64_bounds),
        cmocka_unit_test(test_status_kv_finds_whole_line_keys),
        cmocka_unit_test(test_status_kv_cpuinfo_layout_and_cuts),
        cmocka_unit_test(test_loadavg_and_uptime),
        cmocka_unit_test(test_fdinfo_flags_and_position),
        cmocka_unit_test(test_open_flags_names),
        cmocka_unit_test(test_fd_type_from_link_and_mode),
        cmocka_unit_test(test_net_tcp_lines),
        cmocka_unit_test(test_net_tcp6_and_udp_lines),
        cmocka_unit_test(test_net_unix_lines),
        cmocka_unit_test(test_net_scan_skips_long_lines_and_bounds_reads),
        cmocka_unit_test(test_sock_describe_cuts_safely),
        cmocka_unit_test(test_build_id_note_parser),
        cmocka_unit_test(test_environment_masks_secret_names_and_urls),
        cmocka_unit_test(test_environment_is_the_current_one),
        cmocka_unit_test(test_environment_long_values_and_many_variables),
        cmocka_unit_test(test_resources_section),
        cmocka_unit_test(test_limits_section),
        cmocka_unit_test(test_system_section),
        cmocka_unit_test(test_open_files_describes_each_kind),
        cmocka_unit_test(test_open_files_leaves_no_descriptor_behind),
        cmocka_unit_test(test_shared_objects_build_ids_match_readelf),
        cmocka_unit_test(test_saved_json_renders_like_live_model),
        cmocka_unit_test(test_table_cells_cannot_break_the_layout),
        cmocka_unit_test(test_fillers_fail_cleanly_at_every_allocation),
    };
    return cmocka_run_group_tests_name("diag", tests, NULL, NULL);
}
