/*
 * Signal names for reports and error lines.
 */
#ifndef GMR_UTIL_SIGNAL_NAME_H
#define GMR_UTIL_SIGNAL_NAME_H

#include <stddef.h>

/*
 * gmr__signal_name() - the name of @signo into @buf ("SIGUSR2", "SIGRTMIN+3", "SIGRTMAX-1",
 * else "signal N"); returns @buf.
 * Context: ordinary code; not async-signal-safe.
 */
const char *gmr__signal_name(int signo, char *buf, size_t size);

#endif /* GMR_UTIL_SIGNAL_NAME_H */
