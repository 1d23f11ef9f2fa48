/*
 * What libgmr costs a coroutine switch.  A coroutine and this program's main context switch
 * back and forth with swapcontext(3), first bare, then the way a scheduler registered with
 * libgmr does it:
 *
 *     gmr_coro_running(g);  swapcontext(&main, &co);  gmr_coro_suspended(g, &co);
 *
 * Each variant runs in rounds of --pairs switch pairs, alternating, and the median round is
 * kept, so that frequency changes and other load hit both alike.  Because a swapcontext()
 * pair costs hundreds of nanoseconds (it changes the signal mask twice: two system calls),
 * the difference of the two medians is noisy; the calls are therefore also timed alone, in a
 * loop over the same handle, which is their cost per switch pair without the noise.
 *
 * Usage: bench-coro [--pairs N] [--rounds N] [--check]
 *   --check: exit 1 when the calls alone cost more than 20 ns per switch pair
 * Not a test: it prints a table.  Build: meson setup build && ninja -C build bench/bench-coro
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>

#include <gmr/gmr.h>

#define STACK_SIZE (64 * 1024)
#define MAX_ROUNDS 101
#define LIMIT_NS   20.0

static ucontext_t main_ctx, co_ctx;
static gmr_coro *handle;

/* Command line; globals because swapcontext() returns twice into main's frame. */
static long arg_pairs = 200000;
static int arg_rounds = 21;
static bool arg_check;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The coroutine: switches straight back, forever. */
static void co_body(void)
{
    for (;;)
        swapcontext(&co_ctx, &main_ctx);
}

/* ns per switch pair over @pairs pairs. */
static double run_switches(long pairs, bool gmr)
{
    uint64_t t0 = now_ns();
    if (gmr) {
        for (long i = 0; i < pairs; i++) {
            gmr_coro_running(handle);
            swapcontext(&main_ctx, &co_ctx);
            gmr_coro_suspended(handle, &co_ctx);
        }
    } else {
        for (long i = 0; i < pairs; i++)
            swapcontext(&main_ctx, &co_ctx);
    }
    return (double)(now_ns() - t0) / (double)pairs;
}

/* ns per running + suspended call pair (ucontext, or saved registers), without switching. */
static double run_calls(long pairs, bool regs)
{
    uint64_t t0 = now_ns();
    if (regs) {
        for (long i = 0; i < pairs; i++) {
            gmr_coro_running(handle);
            gmr_coro_suspended_regs(handle, (uintptr_t)i, 0x1000, 0);
        }
    } else {
        for (long i = 0; i < pairs; i++) {
            gmr_coro_running(handle);
            gmr_coro_suspended(handle, &co_ctx);
        }
    }
    return (double)(now_ns() - t0) / (double)pairs;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return v[n / 2];
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--pairs") == 0 && i + 1 < argc)
            arg_pairs = atol(argv[++i]);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            arg_rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--check") == 0)
            arg_check = true;
        else {
            fprintf(stderr, "usage: bench-coro [--pairs N] [--rounds N] [--check]\n");
            return 64;
        }
    }
    if (arg_pairs < 1 || arg_rounds < 1 || arg_rounds > MAX_ROUNDS) {
        fprintf(stderr, "bench-coro: --pairs >= 1, --rounds 1..%d\n", MAX_ROUNDS);
        return 64;
    }

    static char stack[STACK_SIZE] __attribute__((aligned(16)));
    getcontext(&co_ctx);
    co_ctx.uc_stack.ss_sp = stack;
    co_ctx.uc_stack.ss_size = sizeof(stack);
    co_ctx.uc_link = NULL;
    makecontext(&co_ctx, co_body, 0);
    int r = gmr_coro_register("bench", 0, stack, sizeof(stack), &handle);
    if (r < 0) {
        fprintf(stderr, "bench-coro: gmr_coro_register: %s\n", strerror(-r));
        return 1;
    }

    double bare[MAX_ROUNDS], gmr[MAX_ROUNDS], calls_uc[MAX_ROUNDS], calls_regs[MAX_ROUNDS];
    (void)run_switches(arg_pairs / 10 + 1, false); /* warm up */
    (void)run_switches(arg_pairs / 10 + 1, true);
    for (int i = 0; i < arg_rounds; i++) {
        bare[i] = run_switches(arg_pairs, false);
        gmr[i] = run_switches(arg_pairs, true);
        calls_uc[i] = run_calls(arg_pairs, false);
        calls_regs[i] = run_calls(arg_pairs, true);
    }
    double b = median(bare, arg_rounds), g = median(gmr, arg_rounds);
    double cu = median(calls_uc, arg_rounds), cr = median(calls_regs, arg_rounds);

    printf("libgmr %s, %d rounds of %ld switch pairs, medians\n", gmr_version_string(), arg_rounds,
           arg_pairs);
    printf("| what                                                  | ns per switch pair |\n");
    printf("|-------------------------------------------------------|-------------------:|\n");
    printf("| swapcontext pair                                      | %18.1f |\n", b);
    printf("| swapcontext pair + gmr_coro_running/suspended         | %18.1f |\n", g);
    printf("| difference                                            | %18.1f |\n", g - b);
    printf("| gmr_coro_running + gmr_coro_suspended alone           | %18.1f |\n", cu);
    printf("| gmr_coro_running + gmr_coro_suspended_regs alone      | %18.1f |\n", cr);
    gmr_coro_unregister(handle);
    if (arg_check && cu > LIMIT_NS) {
        fprintf(stderr, "bench-coro: %.1f ns per switch pair is over the %.0f ns budget\n", cu,
                LIMIT_NS);
        return 1;
    }
    return 0;
}
