/*
 * Running the application's sections, each under a deadline.
 *
 * A section callback is application code: it may block (a lock held elsewhere, a stuck
 * backend).  Callbacks therefore run on a runner thread while the reporter waits with a
 * deadline.  A callback that misses it is abandoned: its runner thread keeps the callback's
 * private data and frees itself whenever the callback returns; the report is written without
 * the section and says why, and later sections get a new runner.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "render/render.h"
#include "sections/sections.h"
#include "util/alloc.h"
#include "util/thread.h"

/*
 * Callbacks still running after their deadline, process-wide: each holds one runner thread.
 * Such a callback is not started again until it returns; past MAX_ABANDONED of them, no
 * section is started at all, so a misbehaving application cannot make libgmr pile up threads.
 */
#define MAX_ABANDONED 8
struct stuck {
    gmr_section_fn fn;
    void *userdata;
};
static pthread_mutex_t stuck_lock = PTHREAD_MUTEX_INITIALIZER;
static struct stuck stuck[MAX_ABANDONED];
static size_t n_stuck;

static void stuck_add(gmr_section_fn fn, void *userdata)
{
    pthread_mutex_lock(&stuck_lock);
    if (n_stuck < MAX_ABANDONED)
        stuck[n_stuck++] = (struct stuck){fn, userdata};
    pthread_mutex_unlock(&stuck_lock);
}

static void stuck_remove(gmr_section_fn fn, void *userdata)
{
    pthread_mutex_lock(&stuck_lock);
    for (size_t i = 0; i < n_stuck; i++) {
        if (stuck[i].fn == fn && stuck[i].userdata == userdata) {
            stuck[i] = stuck[--n_stuck];
            break;
        }
    }
    pthread_mutex_unlock(&stuck_lock);
}

/* Why a section must not be started now, or NULL. */
static const char *stuck_reason(gmr_section_fn fn, void *userdata)
{
    const char *why = NULL;
    pthread_mutex_lock(&stuck_lock);
    for (size_t i = 0; i < n_stuck && !why; i++) {
        if (stuck[i].fn == fn && stuck[i].userdata == userdata)
            why = "not run: its generator is still blocked since an earlier report";
    }
    if (!why && n_stuck >= MAX_ABANDONED)
        why = "not run: too many section generators are blocked";
    pthread_mutex_unlock(&stuck_lock);
    return why;
}

void gmr__sections_after_fork(void)
{
    /*
     * The runner threads are the parent's: none runs here, so no callback is blocked in this
     * process, and a runner may have held the lock.
     */
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    memcpy(&stuck_lock, &fresh, sizeof(fresh));
    n_stuck = 0;
}

struct job {
    gmr_section_fn fn; /* application callback */
    void *userdata;    /* borrowed */
    json_t *data;      /* the callback's own data object; owned by the job */
    int result;        /* the callback's return value, once done */
    bool done;         /* under runner.lock */
};

struct runner {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct job *job;  /* current job, NULL when idle */
    bool quit;        /* exit once idle */
    bool abandoned;   /* the reporter gave up on the current job; free it when it returns */
    int refs;         /* 2 while both the reporter and the thread hold the runner */
};

static void runner_unref_locked(struct runner *rn)
{
    bool last = --rn->refs == 0;
    pthread_mutex_unlock(&rn->lock);
    if (last) {
        pthread_cond_destroy(&rn->cond);
        pthread_mutex_destroy(&rn->lock);
        gmr__free(rn);
    }
}

static void job_free(struct job *job)
{
    if (job) {
        json_decref(job->data);
        gmr__free(job);
    }
}

/* Context: runner thread (every signal blocked); section callbacks run here. */
static void *runner_main(void *arg)
{
    struct runner *rn = arg;
    gmr__set_in_report(true);
    pthread_mutex_lock(&rn->lock);
    for (;;) {
        while (!rn->job && !rn->quit)
            pthread_cond_wait(&rn->cond, &rn->lock);
        if (!rn->job)
            break;
        struct job *job = rn->job;
        pthread_mutex_unlock(&rn->lock);

        struct gmr_writer w;
        gmr__writer_init(&w, job->data);
        int result = job->fn(&w, job->userdata);

        pthread_mutex_lock(&rn->lock);
        job->result = result;
        job->done = true;
        rn->job = NULL;
        pthread_cond_broadcast(&rn->cond);
        if (rn->abandoned) {
            stuck_remove(job->fn, job->userdata);
            job_free(job);
            break;
        }
    }
    runner_unref_locked(rn);
    return NULL;
}

static int runner_new(struct runner **ret)
{
    struct runner *rn = gmr__calloc(1, sizeof(*rn));
    if (!rn)
        return -ENOMEM;
    pthread_mutex_init(&rn->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&rn->cond, &ca);
    pthread_condattr_destroy(&ca);
    rn->refs = 2;

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int err = gmr__thread_create(&t, &attr, runner_main, rn);
    pthread_attr_destroy(&attr);
    if (err) {
        pthread_cond_destroy(&rn->cond);
        pthread_mutex_destroy(&rn->lock);
        gmr__free(rn);
        return -err;
    }
    (void)pthread_setname_np(t, "gmr-sections");
    *ret = rn;
    return 0;
}

/* Tells an idle runner to exit and drops the reporter's reference. */
static void runner_release(struct runner *rn)
{
    if (!rn)
        return;
    pthread_mutex_lock(&rn->lock);
    rn->quit = true;
    pthread_cond_broadcast(&rn->cond);
    runner_unref_locked(rn);
}

/*
 * Runs @job on *@rn (starting a runner when needed) and waits until @deadline.
 * Return: 0 (done: *ret_job still ours), -ETIMEDOUT (abandoned: the runner owns the job and
 * *rn is NULL), or -errno when no runner could be started.
 */
static int run_job(struct runner **rn, struct job *job, const struct timespec *deadline)
{
    if (!*rn) {
        int r = runner_new(rn);
        if (r < 0)
            return r;
    }
    struct runner *x = *rn;
    pthread_mutex_lock(&x->lock);
    x->job = job;
    pthread_cond_broadcast(&x->cond);
    int err = 0;
    while (!job->done && err != ETIMEDOUT)
        err = pthread_cond_timedwait(&x->cond, &x->lock, deadline);
    if (job->done) {
        pthread_mutex_unlock(&x->lock);
        return 0;
    }
    x->abandoned = true;
    stuck_add(job->fn, job->userdata);
    *rn = NULL;
    runner_unref_locked(x);
    return -ETIMEDOUT;
}

static void deadline_after(struct timespec *ts, uint64_t ns)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ns += (uint64_t)ts->tv_nsec;
    ts->tv_sec += (time_t)(ns / 1000000000u);
    ts->tv_nsec = (long)(ns % 1000000000u);
}

int gmr__sections_run(json_t *report, const struct gmr__section *sections, size_t n,
                      uint64_t timeout_ns)
{
    struct runner *rn = NULL;
    int r = 0;
    char msg[200];

    for (size_t i = 0; i < n && r == 0; i++) {
        json_t *sec = gmr__model_section(report, sections[i].title, "kv");
        struct job *job = gmr__calloc(1, sizeof(*job));
        if (!sec || !job || !(job->data = json_object())) {
            job_free(job);
            r = -ENOMEM;
            break;
        }
        job->fn = sections[i].fn;
        job->userdata = sections[i].userdata;

        const char *why = stuck_reason(job->fn, job->userdata);
        if (why) {
            job_free(job);
            r = gmr__model_section_error(sec, why);
            continue;
        }
        struct timespec deadline;
        deadline_after(&deadline, timeout_ns);
        int jr = run_job(&rn, job, &deadline);
        if (jr == -ETIMEDOUT) {
            snprintf(msg, sizeof(msg),
                     "section generator did not finish within %.3g s; report written without it",
                     (double)timeout_ns / 1e9);
            r = gmr__model_section_error(sec, msg);
            continue;
        }
        if (jr < 0) {
            job_free(job);
            snprintf(msg, sizeof(msg), "not run: no thread to run it: %s", strerror(-jr));
            r = gmr__model_section_error(sec, msg);
            continue;
        }
        if (json_object_set(sec, "data", job->data) < 0)
            r = -ENOMEM;
        if (r == 0 && job->result < 0) {
            snprintf(msg, sizeof(msg), "section generator failed: %s (%d)", strerror(-job->result),
                     job->result);
            r = gmr__model_section_error(sec, msg);
        }
        job_free(job);
    }
    runner_release(rn);
    return r;
}
