/*
 * Signal names as written in configuration files ("SIGUSR2", "usr1", "SIGRTMIN+3", "12").
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "conf/conf-internal.h"

/* Parses a decimal number of at most 3 digits spanning all of @s; -1 if it is not one. */
static int small_number(const char *s)
{
    int n = 0;
    size_t len = strlen(s);
    if (len == 0 || len > 3)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        n = n * 10 + (s[i] - '0');
    }
    return n;
}

/* "RTMIN", "RTMIN+N", "RTMAX", "RTMAX-N" (SIG prefix already removed); 0 if not one. */
static int realtime(const char *s)
{
    int base, sign;
    if (strncasecmp(s, "RTMIN", 5) == 0) {
        base = SIGRTMIN;
        sign = 1;
    } else if (strncasecmp(s, "RTMAX", 5) == 0) {
        base = SIGRTMAX;
        sign = -1;
    } else {
        return 0;
    }
    s += 5;
    if (*s == '\0')
        return base;
    if (*s != (sign > 0 ? '+' : '-'))
        return 0;
    int n = small_number(s + 1);
    if (n < 0 || n > SIGRTMAX - SIGRTMIN)
        return 0;
    return base + sign * n;
}

int gmr__conf_parse_signal(const char *text, int *ret_signo)
{
    if (!text)
        return -EINVAL;
    if (strcasecmp(text, "none") == 0) {
        *ret_signo = 0;
        return 0;
    }
    int n = small_number(text);
    if (n >= 0) {
        if (n < 1 || n > SIGRTMAX)
            return -EINVAL;
        *ret_signo = n;
        return 0;
    }
    const char *name = strncasecmp(text, "SIG", 3) == 0 ? text + 3 : text;
    int rt = realtime(name);
    if (rt > 0) {
        *ret_signo = rt;
        return 0;
    }
    /* glibc's abbreviations cover the classic signals; add the common aliases. */
    for (int signo = 1; signo < SIGRTMIN; signo++) {
        const char *abbrev = sigabbrev_np(signo);
        if (abbrev && strcasecmp(name, abbrev) == 0) {
            *ret_signo = signo;
            return 0;
        }
    }
    static const struct {
        const char *name;
        int signo;
    } aliases[] = {{"IOT", SIGABRT}, {"POLL", SIGIO}, {"CLD", SIGCHLD}};
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
        if (strcasecmp(name, aliases[i].name) == 0) {
            *ret_signo = aliases[i].signo;
            return 0;
        }
    }
    return -EINVAL;
}
