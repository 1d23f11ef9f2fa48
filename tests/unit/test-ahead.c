/*
 * Unit tests of the read-ahead helper (util/ahead.c): every item is prepared and released
 * exactly once, in the order the consumer needs, never more than the lookahead ahead, by
 * whichever thread is free -- with a slow helper, a slow consumer, and a consumer that stops
 * early.
 */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "util/ahead.h"

#define ITEMS 2000

/* Item states, in the only order allowed. */
enum { FRESH, PREPARED, GOT, PUT, RELEASED };

struct run {
    _Atomic int state[ITEMS];
    _Atomic int by_consumer;  /* items the consumer prepared itself */
    _Atomic int out_of_order; /* callbacks that found an item in the wrong state */
    _Atomic int ahead;        /* items prepared and not yet put */
    _Atomic int max_ahead;
    pthread_t consumer;
    long prepare_ns; /* busy time per prepare */
    long consume_ns; /* time per item in the consumer, asleep (so the helper gets a CPU) */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void busy(long ns)
{
    uint64_t until = now_ns() + (uint64_t)ns;
    while (ns > 0 && now_ns() < until)
        ;
}

static void step(struct run *r, int i, int from, int to)
{
    int expected = from;
    if (!atomic_compare_exchange_strong(&r->state[i], &expected, to))
        atomic_fetch_add(&r->out_of_order, 1);
}

static void prepare(void *ctx, int i)
{
    struct run *r = ctx;
    busy(r->prepare_ns);
    if (pthread_equal(pthread_self(), r->consumer))
        atomic_fetch_add(&r->by_consumer, 1);
    int now = atomic_fetch_add(&r->ahead, 1) + 1;
    int max = atomic_load(&r->max_ahead);
    while (now > max && !atomic_compare_exchange_weak(&r->max_ahead, &max, now))
        ;
    step(r, i, FRESH, PREPARED);
}

static void release(void *ctx, int i)
{
    struct run *r = ctx;
    int was = atomic_exchange(&r->state[i], RELEASED);
    /* An item not put (got, or only prepared) is released by gmr__ahead_finish() after an
     * early stop; it stops counting as ahead only then. */
    if (was == GOT || was == PREPARED)
        atomic_fetch_sub(&r->ahead, 1);
    else if (was != PUT)
        atomic_fetch_add(&r->out_of_order, 1);
}

/* Consumes @stop_after items (all when < 0), then finishes. */
static void consume(struct run *r, int n, int lookahead, int stop_after)
{
    memset(r->state, 0, sizeof(r->state));
    r->consumer = pthread_self();
    struct gmr__ahead a = {
        .prepare = prepare, .release = release, .ctx = r, .n = n, .lookahead = lookahead};
    gmr__ahead_start(&a);
    for (int i = 0; i < n && i != stop_after; i++) {
        gmr__ahead_get(&a, i);
        step(r, i, PREPARED, GOT);
        if (r->consume_ns > 0)
            nanosleep(&(struct timespec){0, r->consume_ns}, NULL);
        step(r, i, GOT, PUT);
        atomic_fetch_sub(&r->ahead, 1);
        gmr__ahead_put(&a, i);
    }
    gmr__ahead_finish(&a);
}

static void assert_all_released(struct run *r, int n)
{
    assert_int_equal(atomic_load(&r->out_of_order), 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(atomic_load(&r->state[i]), RELEASED);
}

static void test_ahead_every_item_once_in_order(void **state)
{
    (void)state;
    static struct run r;
    memset(&r, 0, sizeof(r));
    consume(&r, ITEMS, 8, -1);
    assert_all_released(&r, ITEMS);
    assert_true(atomic_load(&r.max_ahead) <= 8);
}

/*
 * 400 items with the given busy times; checks what holds whatever the timing.  Return: the
 * number of items the consumer prepared itself.
 */
static int run_timed(long prepare_ns, long consume_ns)
{
    static struct run r;
    memset(&r, 0, sizeof(r));
    r.prepare_ns = prepare_ns;
    r.consume_ns = consume_ns;
    consume(&r, 400, 8, -1);
    assert_all_released(&r, 400);
    assert_true(atomic_load(&r.max_ahead) <= 8);
    int mine = atomic_load(&r.by_consumer);
    print_message("consumer prepared %d of 400 items\n", mine);
    return mine;
}

static void test_ahead_slow_helper_consumer_prepares_too(void **state)
{
    (void)state;
    /* Both threads prepared items: the consumer did not just wait for the helper. */
    assert_true(run_timed(20000, 0) >= 40);
}

static void test_ahead_slow_consumer_helper_runs_ahead(void **state)
{
    (void)state;
    /*
     * The helper prepared items while the consumer slept, but never more than 8 ahead.  (How
     * many depends on how fast the helper wakes up, so only that it prepared some is checked.)
     */
    assert_true(run_timed(0, 20000) < 400);
}

static void test_ahead_early_stop_releases_what_was_prepared(void **state)
{
    (void)state;
    static struct run r;
    for (int stop = 0; stop < 40; stop += 7) {
        memset(&r, 0, sizeof(r));
        consume(&r, ITEMS, 8, stop);
        assert_int_equal(atomic_load(&r.out_of_order), 0);
        int released = 0;
        for (int i = 0; i < ITEMS; i++) {
            int s = atomic_load(&r.state[i]);
            assert_true(s == FRESH || s == RELEASED);
            released += s == RELEASED;
            if (i < stop)
                assert_int_equal(s, RELEASED);
        }
        /* Nothing is prepared beyond the lookahead, and nothing after the stop. */
        assert_true(released <= stop + 8);
    }
}

static void test_ahead_without_helper_works_alone(void **state)
{
    (void)state;
    static struct run r;
    /* One item, or no lookahead: no helper thread; the consumer does everything in place. */
    memset(&r, 0, sizeof(r));
    consume(&r, 1, 8, -1);
    assert_all_released(&r, 1);
    assert_int_equal(atomic_load(&r.by_consumer), 1);
    memset(&r, 0, sizeof(r));
    consume(&r, 100, 0, -1);
    assert_all_released(&r, 100);
    assert_int_equal(atomic_load(&r.by_consumer), 100);
    assert_int_equal(atomic_load(&r.max_ahead), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ahead_every_item_once_in_order),
        cmocka_unit_test(test_ahead_slow_helper_consumer_prepares_too),
        cmocka_unit_test(test_ahead_slow_consumer_helper_runs_ahead),
        cmocka_unit_test(test_ahead_early_stop_releases_what_was_prepared),
        cmocka_unit_test(test_ahead_without_helper_works_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
