/*
 * Signal names for reports and error lines.
 * Context: ordinary code (not async-signal-safe: snprintf).
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>

#include "util/macro.h"
#include "util/signal-name.h"

const char *gmr__signal_name(int signo, char *buf, size_t size)
{
    static const struct {
        int signo;
        const char *name;
    } names[] = {
        {SIGHUP, "SIGHUP"},     {SIGINT, "SIGINT"},       {SIGQUIT, "SIGQUIT"},
        {SIGUSR1, "SIGUSR1"},   {SIGUSR2, "SIGUSR2"},     {SIGPIPE, "SIGPIPE"},
        {SIGALRM, "SIGALRM"},   {SIGTERM, "SIGTERM"},     {SIGCHLD, "SIGCHLD"},
        {SIGCONT, "SIGCONT"},   {SIGTSTP, "SIGTSTP"},     {SIGTTIN, "SIGTTIN"},
        {SIGTTOU, "SIGTTOU"},   {SIGURG, "SIGURG"},       {SIGXCPU, "SIGXCPU"},
        {SIGXFSZ, "SIGXFSZ"},   {SIGVTALRM, "SIGVTALRM"}, {SIGPROF, "SIGPROF"},
        {SIGWINCH, "SIGWINCH"}, {SIGIO, "SIGIO"},         {SIGPWR, "SIGPWR"},
        {SIGSYS, "SIGSYS"},     {SIGTRAP, "SIGTRAP"},     {SIGABRT, "SIGABRT"},
        {SIGBUS, "SIGBUS"},     {SIGFPE, "SIGFPE"},       {SIGSEGV, "SIGSEGV"},
        {SIGILL, "SIGILL"},     {SIGKILL, "SIGKILL"},     {SIGSTOP, "SIGSTOP"},
    };
    for (size_t i = 0; i < GMR_ELEMENTSOF(names); i++) {
        if (names[i].signo == signo) {
            snprintf(buf, size, "%s", names[i].name);
            return buf;
        }
    }
    /* Real-time signals by their nearer end, as kill -l shows them. */
    if (signo == SIGRTMIN)
        snprintf(buf, size, "SIGRTMIN");
    else if (signo == SIGRTMAX)
        snprintf(buf, size, "SIGRTMAX");
    else if (signo > SIGRTMIN && signo < SIGRTMAX && SIGRTMAX - signo < signo - SIGRTMIN)
        snprintf(buf, size, "SIGRTMAX-%d", SIGRTMAX - signo);
    else if (signo > SIGRTMIN && signo < SIGRTMAX)
        snprintf(buf, size, "SIGRTMIN+%d", signo - SIGRTMIN);
    else
        snprintf(buf, size, "signal %d", signo);
    return buf;
}
