/*
 * Not a test program: the input of the checker's own test (tests/meson.build).  It compiles a
 * copy of the real trigger handler and, unless GMR_AS_SAFE_CLEAN is defined, a handler that
 * calls malloc() and snprintf(), which signal-safety(7) forbids.  check-as-safe.sh must accept
 * the clean archive and reject the other one.
 */
#include "../../src/trigger/signal-as.c"

#ifndef GMR_AS_SAFE_CLEAN
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gmr__as_forbidden_handler(int signo);

void gmr__as_forbidden_handler(int signo)
{
    char *line = malloc(64);
    if (line) {
        snprintf(line, 64, "signal %d\n", signo);
        (void)!write(2, line, strlen(line));
    }
    free(line);
}
#endif
