/*
 * demo-service: a small service shaped like an OpenStack one.  A few worker threads handle
 * "requests" from a queue; a "Request Stats" section reports what they did.  Send it SIGUSR2
 * (kill -USR2 PID) for a Guru Meditation Report on stderr; SIGTERM or SIGINT stops it.
 *
 * Usage: demo-service [--config-file PATH]... [--config-dir DIR] [--OPTION=VALUE]...
 *
 * Its configuration object works like an OpenStack service's: options registered in code,
 * values from INI files and the command line, libgmr's [oslo_reports] options among them
 * (log_dir, file_event_handler, ...).  See examples/demo-service.conf.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gmr/gmr.h>

#define MAX_WORKERS 16

struct worker {
    pthread_t thread;
    int id;
    atomic_ulong handled;
};

struct service {
    pthread_mutex_t lock;
    pthread_cond_t more;
    unsigned long queued; /* requests waiting; guarded by lock */
    atomic_ulong received;
    atomic_ulong handled;
    struct worker workers[MAX_WORKERS];
    int n_workers;
    struct timespec started;
};

static struct service svc = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .more = PTHREAD_COND_INITIALIZER,
};

static volatile sig_atomic_t stop;

static void on_stop(int signo)
{
    (void)signo;
    stop = 1;
}

/* The application's own section: called on libgmr's reporter thread. */
static int request_stats(gmr_writer *w, void *userdata)
{
    struct service *s = userdata;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&s->lock);
    unsigned long queued = s->queued;
    pthread_mutex_unlock(&s->lock);

    gmr_writer_kv(w, "uptime_s", "%ld", (long)(now.tv_sec - s->started.tv_sec));
    gmr_writer_kv(w, "received", "%lu", atomic_load(&s->received));
    gmr_writer_kv(w, "handled", "%lu", atomic_load(&s->handled));
    gmr_writer_kv(w, "queued", "%lu", queued);
    gmr_writer_begin_object(w, "workers");
    for (int i = 0; i < s->n_workers; i++) {
        char key[32];
        snprintf(key, sizeof(key), "worker-%d", s->workers[i].id);
        gmr_writer_kv(w, key, "%lu handled", atomic_load(&s->workers[i].handled));
    }
    gmr_writer_end(w);
    return 0;
}

static void handle_request(struct worker *wk, unsigned long n)
{
    /* Pretend to work: a short sleep, as a request to a backend would. */
    struct timespec ts = {0, (long)(1 + n % 5) * 1000000L};
    nanosleep(&ts, NULL);
    atomic_fetch_add(&wk->handled, 1);
    atomic_fetch_add(&svc.handled, 1);
}

static void *worker_main(void *arg)
{
    struct worker *wk = arg;
    char name[16];
    snprintf(name, sizeof(name), "worker-%d", wk->id);
    pthread_setname_np(pthread_self(), name);
    for (;;) {
        pthread_mutex_lock(&svc.lock);
        while (svc.queued == 0)
            pthread_cond_wait(&svc.more, &svc.lock);
        unsigned long n = svc.queued--;
        pthread_mutex_unlock(&svc.lock);
        handle_request(wk, n);
    }
    return NULL;
}

/* The service's own options, as a Nova service registers its own. */
static int register_options(gmr_conf *conf)
{
    int r = 0;
    r = r < 0 ? r : gmr_conf_register_int(conf, NULL, "workers", 4, 1, MAX_WORKERS,
                                          "Number of worker threads", 0);
    r = r < 0 ? r : gmr_conf_register_str(conf, NULL, "host", "localhost",
                                          "Name of this node", 0);
    r = r < 0 ? r : gmr_conf_register_bool(conf, NULL, "debug", false,
                                           "Log debug messages", 0);
    r = r < 0 ? r : gmr_conf_register_str(conf, "database", "connection", NULL,
                                          "Database URL; its password is never shown", 0);
    r = r < 0 ? r : gmr_conf_register_int(conf, "database", "max_pool_size", 5, 1, 100,
                                          "Database connections per worker", 0);
    r = r < 0 ? r : gmr_conf_register_str(conf, "keystone_authtoken", "username", NULL,
                                          "Service user", 0);
    r = r < 0 ? r : gmr_conf_register_str(conf, "keystone_authtoken", "password", NULL,
                                          "Service user's password", GMR_OPT_SECRET);
    static const char *const backends[] = {"memory", NULL};
    r = r < 0 ? r : gmr_conf_register_list(conf, "cache", "backends", backends,
                                           "Cache backends, in order", 0);
    return r < 0 ? r : gmr_opts_set_defaults(conf); /* [oslo_reports] */
}

int main(int argc, char **argv)
{
    gmr_conf *conf = gmr_conf_new();
    if (!conf || register_options(conf) < 0) {
        fprintf(stderr, "demo-service: cannot set up the configuration\n");
        return 1;
    }
    if (gmr_conf_parse_args(conf, argc, argv) < 0) {
        fprintf(stderr, "demo-service: %s\n", gmr_conf_last_error(conf));
        gmr_conf_free(conf);
        return 64;
    }
    int64_t n_workers;
    gmr_conf_get_int(conf, NULL, "workers", &n_workers);

    /* GMR support: the version, our own section, then setup before the main loop. */
    static const struct gmr_version version = {"libgmr", "demo-service", "1.0.0"};
    gmr_register_section("Request Stats", request_stats, &svc);
    int r = gmr_setup_autorun(&version, conf, "demo-service");
    if (r < 0)
        fprintf(stderr, "demo-service: no Guru Meditation Reports: %s\n", strerror(-r));

    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    clock_gettime(CLOCK_MONOTONIC, &svc.started);
    svc.n_workers = (int)n_workers;
    for (int i = 0; i < n_workers; i++) {
        svc.workers[i].id = i + 1;
        pthread_create(&svc.workers[i].thread, NULL, worker_main, &svc.workers[i]);
    }

    printf("demo-service: pid %d, %d workers; kill -USR2 %d for a report\n", (int)getpid(),
           svc.n_workers, (int)getpid());
    fflush(stdout);

    /* The main loop: accept a request every few milliseconds. */
    while (!stop) {
        struct timespec ts = {0, 3 * 1000000L};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&svc.lock);
        svc.queued++;
        pthread_cond_signal(&svc.more);
        pthread_mutex_unlock(&svc.lock);
        atomic_fetch_add(&svc.received, 1);
    }

    gmr_shutdown();
    gmr_conf_free(conf);
    printf("demo-service: stopped after %lu requests\n", atomic_load(&svc.handled));
    return 0;
}
