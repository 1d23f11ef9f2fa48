/*
 * Victim for the storm tests.  Modes (one per run):
 *
 *   --io       Application threads keep doing blocking I/O and waits, with SIGUSR2 unblocked
 *              (the main thread blocks it, so the trigger handler runs on them): checksummed
 *              transfers through a pipe, a socketpair and a loopback TCP connection (accept,
 *              connect, read, write), and loops of sem_wait, pthread_cond_wait,
 *              pthread_mutex_lock, nanosleep, clock_nanosleep, poll, epoll_wait, select,
 *              sigtimedwait, sem_timedwait and a read on a socket with SO_RCVTIMEO.  "stop"
 *              ends them and prints, per call, "IO <name> calls=<n> eintr=<n> errors=<n>
 *              bytes=<n> bad=<n>" (bad: bytes that differ from what was sent), then "STOPPED".
 *
 *   --quiet    Threads named w_<call> with SIGUSR2 blocked, each blocked for good in one
 *              call (the same calls, without timeouts that expire).  "reports N" writes N
 *              reports to /dev/null ("reports N json": JSON reports to stdout), then
 *              "REPORTED failed=<n>"; "stop" wakes them and prints "QUIET <name> ...
 *              early_eintr=<n>": EINTRs seen before "stop", which only the capture signal
 *              could have caused.
 *
 *   --churn N --reports M [--seconds S]
 *              N threads each create and join short-lived threads without pause while the
 *              main thread writes M JSON reports (or as many as fit in S seconds) into a
 *              memfd and checks each one with jansson: "CHURN reports=<n> malformed=<n>
 *              seconds=<s> created=<n> exited_while_captured=<n> max_threads=<n>"; a
 *              malformed report is also printed on stderr.  --capture-timeout-ms N sets
 *              gmr_set_capture_timeout_ns().
 *
 * Prints "READY" when set up; exits when stdin closes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gmr/gmr.h>

#include "victim-stack.h"

#define MAX_WORKERS 64
#define CHUNK       4096

static atomic_bool stopping;

struct counter {
    const char *name;
    atomic_long calls, eintr, errors, bytes, bad, early_eintr;
};

static struct counter counters[MAX_WORKERS];
static int n_counters;
static pthread_t workers[MAX_WORKERS];
static int n_workers;

static struct counter *counter(const char *name)
{
    struct counter *c = &counters[n_counters++];
    c->name = name;
    return c;
}

/* Counts one call's outcome: returns true when it should be retried (EINTR). */
static bool outcome(struct counter *c, long r)
{
    atomic_fetch_add(&c->calls, 1);
    if (r >= 0 || errno == ETIMEDOUT || errno == EAGAIN)
        return false;
    if (errno == EINTR) {
        atomic_fetch_add(&c->eintr, 1);
        if (!atomic_load(&stopping))
            atomic_fetch_add(&c->early_eintr, 1);
        return true;
    }
    if (!atomic_load(&stopping))
        atomic_fetch_add(&c->errors, 1);
    return false;
}

static void spawn(void *(*fn)(void *), void *arg)
{
    if (pthread_create(&workers[n_workers++], NULL, fn, arg) != 0)
        abort();
}

static struct timespec ms(long n)
{
    struct timespec ts = {n / 1000, (n % 1000) * 1000000L};
    return ts;
}

/* ---- checksummed streams: the writer sends xorshift bytes, the reader regenerates them ---- */

struct stream {
    int rfd, wfd;
    struct counter *rc, *wc;
    uint64_t seed;
};

static unsigned char stream_byte(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (unsigned char)*s;
}

static void *stream_writer(void *arg)
{
    struct stream *st = arg;
    uint64_t s = st->seed;
    unsigned char buf[CHUNK];
    while (!atomic_load(&stopping)) {
        for (int i = 0; i < CHUNK; i++)
            buf[i] = stream_byte(&s);
        size_t off = 0;
        while (off < CHUNK) {
            ssize_t n = write(st->wfd, buf + off, CHUNK - off);
            if (n > 0) {
                off += (size_t)n;
                atomic_fetch_add(&st->wc->bytes, n);
            }
            if (!outcome(st->wc, n) && n < 0)
                goto out;
        }
    }
out:
    close(st->wfd);
    return NULL;
}

static void *stream_reader(void *arg)
{
    struct stream *st = arg;
    uint64_t s = st->seed;
    unsigned char buf[CHUNK];
    for (;;) {
        ssize_t n = read(st->rfd, buf, sizeof(buf));
        if (outcome(st->rc, n))
            continue;
        if (n <= 0)
            break;
        atomic_fetch_add(&st->rc->bytes, n);
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != stream_byte(&s))
                atomic_fetch_add(&st->rc->bad, 1);
        }
    }
    close(st->rfd);
    return NULL;
}

static struct stream streams[2];
static int n_streams;

static void start_stream(const char *rname, const char *wname, int rfd, int wfd, uint64_t seed)
{
    struct stream *st = &streams[n_streams++];
    *st = (struct stream){rfd, wfd, counter(rname), counter(wname), seed};
    spawn(stream_writer, st);
    spawn(stream_reader, st);
}

/* ---- TCP over loopback: connect, accept and a checksummed transfer per connection ---- */

static int listener;
static struct sockaddr_in listen_addr;
static struct counter *c_accept, *c_connect, *c_tcp_read;

static void *tcp_server(void *arg)
{
    (void)arg;
    while (!atomic_load(&stopping)) {
        int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (outcome(c_accept, fd) || fd < 0)
            continue;
        uint64_t s = 42;
        unsigned char buf[CHUNK];
        for (;;) {
            ssize_t n = read(fd, buf, sizeof(buf));
            if (outcome(c_tcp_read, n))
                continue;
            if (n <= 0)
                break;
            atomic_fetch_add(&c_tcp_read->bytes, n);
            for (ssize_t i = 0; i < n; i++) {
                if (buf[i] != stream_byte(&s))
                    atomic_fetch_add(&c_tcp_read->bad, 1);
            }
        }
        close(fd);
    }
    return NULL;
}

static void *tcp_client(void *arg)
{
    (void)arg;
    while (!atomic_load(&stopping)) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int r;
        while (outcome(c_connect, r = connect(fd, (struct sockaddr *)&listen_addr,
                                              sizeof(listen_addr))))
            ;
        if (r == 0) {
            uint64_t s = 42;
            unsigned char buf[CHUNK];
            for (int k = 0; k < 16; k++) {
                for (int i = 0; i < CHUNK; i++)
                    buf[i] = stream_byte(&s);
                size_t off = 0;
                while (off < CHUNK) {
                    ssize_t n = write(fd, buf + off, CHUNK - off);
                    if (n < 0 && errno == EINTR)
                        continue;
                    if (n <= 0)
                        break;
                    off += (size_t)n;
                }
            }
        }
        close(fd);
    }
    return NULL;
}

/* ---- waits ---- */

enum wait_kind {
    W_SEM, W_COND, W_MUTEX, W_NANOSLEEP, W_CLOCK_NANOSLEEP, W_POLL, W_EPOLL, W_SELECT,
    W_SIGTIMEDWAIT, W_SEM_TIMEDWAIT, W_RCVTIMEO, W_READ, W_ACCEPT, W_KINDS
};
static const char *const wait_names[W_KINDS] = {
    "sem_wait", "pthread_cond_wait", "pthread_mutex_lock", "nanosleep", "clock_nanosleep",
    "poll", "epoll_wait", "select", "sigtimedwait", "sem_timedwait", "read_rcvtimeo", "read",
    "accept"};

struct waiter {
    enum wait_kind kind;
    struct counter *c;
    bool quiet;    /* block for good, SIGUSR2 blocked */
    int fd;        /* W_POLL/W_EPOLL/W_SELECT/W_READ: a pipe's read end; W_RCVTIMEO: socket */
    int wake_fd;   /* its write end */
    int epfd;
    pthread_t self;
};

static sem_t sem;
static sem_t never_sem; /* posted only at "stop" */
static pthread_mutex_t cond_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long cond_seq;
static pthread_mutex_t contended = PTHREAD_MUTEX_INITIALIZER;
static int quiet_listener;
static struct sockaddr_in quiet_addr;
static struct waiter waiters[2 * W_KINDS];
static int n_waiters;

static void one_wait(struct waiter *w)
{
    const int tmo = w->quiet ? 100000 : 2; /* ms */
    struct timespec rel = ms(tmo), abs;
    long r;
    switch (w->kind) {
    case W_SEM:
        while (outcome(w->c, r = sem_wait(&sem)))
            ;
        break;
    case W_COND: {
        pthread_mutex_lock(&cond_lock);
        long seq = cond_seq;
        while (seq == cond_seq && !atomic_load(&stopping)) {
            r = pthread_cond_wait(&cond, &cond_lock);
            errno = r;
            outcome(w->c, r ? -1 : 0);
        }
        pthread_mutex_unlock(&cond_lock);
        break;
    }
    case W_MUTEX:
        r = pthread_mutex_lock(&contended);
        errno = r;
        outcome(w->c, r ? -1 : 0);
        nanosleep(&(struct timespec){0, 100000}, NULL);
        pthread_mutex_unlock(&contended);
        break;
    case W_NANOSLEEP:
        outcome(w->c, nanosleep(&rel, NULL));
        break;
    case W_CLOCK_NANOSLEEP:
        r = clock_nanosleep(CLOCK_MONOTONIC, 0, &rel, NULL);
        errno = r;
        outcome(w->c, r ? -1 : 0);
        break;
    case W_POLL: {
        struct pollfd p = {w->fd, POLLIN, 0};
        outcome(w->c, poll(&p, 1, tmo));
        break;
    }
    case W_EPOLL: {
        struct epoll_event ev;
        outcome(w->c, epoll_wait(w->epfd, &ev, 1, tmo));
        break;
    }
    case W_SELECT: {
        fd_set set;
        FD_ZERO(&set);
        FD_SET(w->fd, &set);
        struct timeval tv = {tmo / 1000, (tmo % 1000) * 1000};
        outcome(w->c, select(w->fd + 1, &set, NULL, NULL, &tv));
        break;
    }
    case W_SIGTIMEDWAIT: {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGWINCH);
        outcome(w->c, sigtimedwait(&set, NULL, &rel));
        break;
    }
    case W_SEM_TIMEDWAIT:
        clock_gettime(CLOCK_REALTIME, &abs);
        abs.tv_sec += rel.tv_sec;
        abs.tv_nsec += rel.tv_nsec;
        if (abs.tv_nsec >= 1000000000L) {
            abs.tv_sec++;
            abs.tv_nsec -= 1000000000L;
        }
        outcome(w->c, sem_timedwait(&never_sem, &abs));
        break;
    case W_RCVTIMEO:
    case W_READ: {
        char c;
        outcome(w->c, read(w->fd, &c, 1));
        break;
    }
    case W_ACCEPT: {
        int fd = accept4(quiet_listener, NULL, NULL, SOCK_CLOEXEC);
        outcome(w->c, fd);
        if (fd >= 0)
            close(fd);
        break;
    }
    default:
        break;
    }
}

static void *waiter_main(void *arg)
{
    struct waiter *w = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGWINCH);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (!w->quiet) {
        sigemptyset(&set);
        sigaddset(&set, SIGUSR2);
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    }
    while (!atomic_load(&stopping))
        one_wait(w);
    return NULL;
}

/* Posts the semaphore and signals the condition variable now and then (--io). */
static void *ticker(void *arg)
{
    (void)arg;
    while (!atomic_load(&stopping)) {
        struct timespec t = ms(1);
        while (nanosleep(&t, &t) < 0 && errno == EINTR)
            ;
        sem_post(&sem);
        pthread_mutex_lock(&cond_lock);
        cond_seq++;
        pthread_cond_broadcast(&cond);
        pthread_mutex_unlock(&cond_lock);
    }
    return NULL;
}

static void wake_handler(int signo)
{
    (void)signo;
}

static int tcp_listener(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(addr, 0, sizeof(*addr));
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(*addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)addr, len) < 0 || listen(fd, 64) < 0 ||
        getsockname(fd, (struct sockaddr *)addr, &len) < 0)
        abort();
    return fd;
}

static void start_waiters(bool quiet)
{
    for (int k = 0; k < W_KINDS; k++) {
        if (quiet && k == W_MUTEX)
            continue; /* a mutex wait only ends when the holder lets go */
        if (!quiet && (k == W_READ || k == W_ACCEPT))
            continue; /* covered by the transfers */
        struct waiter *w = &waiters[n_waiters++];
        w->kind = (enum wait_kind)k;
        w->quiet = quiet;
        w->c = counter(wait_names[k]);
        int p[2];
        if (k == W_RCVTIMEO) {
            int sv[2];
            socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
            struct timeval tv = {quiet ? 100 : 0, quiet ? 0 : 2000};
            setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
            w->fd = sv[0];
            w->wake_fd = sv[1];
        } else if (pipe2(p, O_CLOEXEC) == 0) {
            w->fd = p[0];
            w->wake_fd = p[1];
        }
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN};
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->fd, &ev);
        if (pthread_create(&w->self, NULL, waiter_main, w) != 0)
            abort();
        char name[16];
        snprintf(name, sizeof(name), "w_%.13s", wait_names[k]);
        pthread_setname_np(w->self, name);
    }
}

static void stop_waiters(void)
{
    for (int i = 0; i < n_waiters; i++) {
        struct waiter *w = &waiters[i];
        (void)!write(w->wake_fd, "x", 1);
        sem_post(&sem);
        sem_post(&never_sem);
        pthread_mutex_lock(&cond_lock);
        cond_seq++;
        pthread_cond_broadcast(&cond);
        pthread_mutex_unlock(&cond_lock);
        pthread_kill(w->self, SIGWINCH); /* sigtimedwait() takes it */
        pthread_kill(w->self, SIGUSR1);  /* interrupts the sleeps */
        if (w->kind == W_ACCEPT) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            (void)!connect(fd, (struct sockaddr *)&quiet_addr, sizeof(quiet_addr));
            close(fd);
        }
    }
    for (int i = 0; i < n_waiters; i++) {
        struct timespec t = ms(20);
        for (int k = 0; k < 100 && pthread_tryjoin_np(waiters[i].self, NULL) == EBUSY; k++) {
            pthread_kill(waiters[i].self, SIGUSR1);
            nanosleep(&t, NULL);
        }
    }
}

/* ---- churn ---- */

static atomic_long created;

/* Lives about ten milliseconds: a little work, a short sleep. */
static void *short_lived(void *arg)
{
    (void)arg;
    volatile unsigned x = 0;
    for (int i = 0; i < 2000; i++)
        x += (unsigned)i;
    struct timespec t = ms(10);
    nanosleep(&t, NULL);
    return NULL;
}

static void *churner(void *arg)
{
    (void)arg;
    while (!atomic_load(&stopping)) {
        pthread_t t;
        if (pthread_create(&t, NULL, short_lived, NULL) == 0) {
            atomic_fetch_add(&created, 1);
            pthread_join(t, NULL);
        }
    }
    return NULL;
}

/* Checks one JSON report; returns the number of threads it says exited, or -1 if malformed. */
static int check_report(const char *data, size_t len)
{
    json_error_t err;
    json_t *doc = json_loadb(data, len, 0, &err);
    int exited = 0;
    bool ok = doc && json_is_string(json_object_get(doc, "format_version"));
    json_t *sections = json_object_get(doc, "sections");
    bool threads_seen = false, system_seen = false;
    size_t i, j;
    json_t *s, *t;
    json_array_foreach(sections, i, s)
    {
        const char *title = json_string_value(json_object_get(s, "title"));
        if (!title || json_object_get(s, "error"))
            ok = false;
        if (title && strcmp(title, "System") == 0)
            system_seen = true;
        if (!title || strcmp(title, "Threads") != 0)
            continue;
        threads_seen = json_array_size(json_object_get(s, "threads")) > 0;
        json_array_foreach(json_object_get(s, "threads"), j, t)
        {
            const char *cap = json_string_value(json_object_get(t, "capture"));
            const char *why = json_string_value(json_object_get(t, "unavailable"));
            if (!json_is_integer(json_object_get(t, "tid")) || !cap)
                ok = false;
            else if (strcmp(cap, "none") == 0 && !why && !json_object_get(t, "note"))
                ok = false;
            else if (strcmp(cap, "none") != 0 && !json_object_get(t, "frames"))
                ok = false;
            if (why && strstr(why, "exited"))
                exited++;
        }
    }
    json_decref(doc);
    return ok && threads_seen && system_seen ? exited : -1;
}

static int count_threads(void)
{
    int n = 0;
    FILE *f = fopen("/proc/self/status", "re");
    char line[128];
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "Threads:", 8) == 0)
            n = atoi(line + 8);
    }
    if (f)
        fclose(f);
    return n;
}

static void churn(int n, long reports, double seconds)
{
    pthread_t *t = calloc((size_t)n, sizeof(*t));
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, churner, NULL);
    int mfd = memfd_create("report", MFD_CLOEXEC);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long done = 0, malformed = 0, exited = 0;
    int max_threads = 0;
    double elapsed = 0;
    char *buf = NULL;
    while (done < reports && elapsed < seconds) {
        (void)!ftruncate(mfd, 0);
        lseek(mfd, 0, SEEK_SET);
        int r = gmr_write_report(mfd, GMR_FORMAT_JSON);
        off_t len = lseek(mfd, 0, SEEK_CUR);
        buf = realloc(buf, (size_t)len + 1);
        int e = -1;
        if (r == 0 && pread(mfd, buf, (size_t)len, 0) == len)
            e = check_report(buf, (size_t)len);
        if (e < 0) {
            malformed++;
            fprintf(stderr, "MALFORMED report %ld (result %d):\n%.*s\n", done, r,
                    (int)(len < 4000 ? len : 4000), buf ? buf : "");
        } else {
            exited += e;
        }
        done++;
        int nt = count_threads();
        if (nt > max_threads)
            max_threads = nt;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        elapsed = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    }
    atomic_store(&stopping, true);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    free(t);
    free(buf);
    close(mfd);
    printf("CHURN reports=%ld malformed=%ld seconds=%.2f created=%ld exited_while_captured=%ld "
           "max_threads=%d\n",
           done, malformed, elapsed, atomic_load(&created), exited, max_threads);
}

int main(int argc, char **argv)
{
    victim_map_main_stack();
    setvbuf(stdout, NULL, _IOLBF, 0);
    bool io = false, quiet = false;
    int churn_threads = 0;
    long reports = 0;
    double seconds = 1e9;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--io") == 0)
            io = true;
        else if (strcmp(argv[i], "--quiet") == 0)
            quiet = true;
        else if (strcmp(argv[i], "--churn") == 0 && i + 1 < argc)
            churn_threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--reports") == 0 && i + 1 < argc)
            reports = atol(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--capture-timeout-ms") == 0 && i + 1 < argc)
            gmr_set_capture_timeout_ns((uint64_t)atol(argv[++i]) * 1000000u);
        else if (strcmp(argv[i], "--json") == 0)
            gmr_set_format(GMR_FORMAT_JSON);
    }
    /* SIGWINCH stays blocked everywhere: sigtimedwait() waits for it. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGWINCH);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = wake_handler; /* no SA_RESTART: it ends the sleeps at "stop" */
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a connection the server drops at "stop": EPIPE, not death */
    sem_init(&sem, 0, 0);
    sem_init(&never_sem, 0, 0);

    static const struct gmr_version version = {"libgmr tests", "victim-storm", "1.0"};
    int r = gmr_setup_autorun(&version, NULL, NULL);
    if (r < 0) {
        fprintf(stderr, "setup: %s\n", strerror(-r));
        return 1;
    }

    if (churn_threads > 0) {
        printf("READY\n");
        churn(churn_threads, reports, seconds);
    }
    if (io) {
        int p[2], sv[2];
        if (pipe2(p, O_CLOEXEC) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
            return 1;
        start_stream("pipe_read", "pipe_write", p[0], p[1], 7);
        start_stream("socket_read", "socket_write", sv[0], sv[1], 11);
        listener = tcp_listener(&listen_addr);
        c_accept = counter("accept");
        c_connect = counter("connect");
        c_tcp_read = counter("tcp_read");
        spawn(tcp_server, NULL);
        spawn(tcp_client, NULL);
        spawn(ticker, NULL);
        start_waiters(false);
        /* The workers took SIGUSR2 unblocked; the trigger handler now never runs here. */
        sigemptyset(&set);
        sigaddset(&set, SIGUSR2);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
    }
    if (quiet) {
        quiet_listener = tcp_listener(&quiet_addr);
        start_waiters(true);
    }
    if (io || quiet) {
        struct timespec t = ms(100);
        nanosleep(&t, NULL); /* let every waiter reach its call */
        printf("READY\n");
    }

    char line[128];
    while (fgets(line, sizeof(line), stdin)) {
        if (strncmp(line, "reports ", 8) == 0) {
            /* "reports N json": the reports go to stdout, as JSON */
            bool json = strstr(line, "json") != NULL;
            int fd = json ? STDOUT_FILENO : open("/dev/null", O_WRONLY | O_CLOEXEC);
            long n = atol(line + 8), failed = 0;
            fflush(stdout);
            for (long i = 0; i < n; i++)
                failed += gmr_write_report(fd, json ? GMR_FORMAT_JSON : GMR_FORMAT_TEXT) != 0;
            if (!json)
                close(fd);
            printf("REPORTED failed=%ld\n", failed);
        } else if (strncmp(line, "stop", 4) == 0) {
            atomic_store(&stopping, true);
            if (io) {
                shutdown(listener, SHUT_RDWR);
                for (int i = 0; i < n_workers; i++)
                    pthread_kill(workers[i], SIGUSR1);
                for (int i = 0; i < n_workers; i++)
                    pthread_join(workers[i], NULL);
            }
            stop_waiters();
            for (int i = 0; i < n_counters; i++) {
                struct counter *c = &counters[i];
                printf("%s %s calls=%ld eintr=%ld errors=%ld bytes=%ld bad=%ld early_eintr=%ld\n",
                       quiet ? "QUIET" : "IO", c->name, atomic_load(&c->calls),
                       atomic_load(&c->eintr), atomic_load(&c->errors), atomic_load(&c->bytes),
                       atomic_load(&c->bad), atomic_load(&c->early_eintr));
            }
            printf("STOPPED\n");
        } else if (strncmp(line, "ping", 4) == 0) {
            printf("PONG\n");
        }
    }
    gmr_shutdown();
    return 0;
}
