/*
 * Text view of the Threads section (model: docs/threads.md).  One block per thread, headed by
 * oslo.reports' "------  Thread #TID (name)  ------" banner: a line of state, one of how the
 * stack was captured, then one line per frame with the source line under it when the model
 * has it.  With "group_identical", threads with the same frames share one block.
 *
 * Threads with the same frames share the frame objects in the model (docs/threads.md), so the
 * line of a shared frame is written once per report and copied where it recurs.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "render/render.h"
#include "util/alloc.h"
#include "util/buf.h"

static const char *str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

/* Where the text of a shared frame (after its number) already is in the output. */
struct frame_memo_entry {
    const json_t *frame; /* borrowed; NULL: empty slot */
    size_t off;
    size_t len;
};

/* The frames written so far in one rendering of the section. */
struct frame_memo {
    struct frame_memo_entry *slots; /* owned; NULL until a shared frame is written */
    size_t cap;                     /* power of two */
    size_t used;
};

static void frame_memo_done(struct frame_memo *m)
{
    gmr__free(m->slots);
    m->slots = NULL;
    m->cap = m->used = 0;
}

static size_t frame_hash(const json_t *frame, size_t mask)
{
    return (size_t)(((uint64_t)(uintptr_t)frame * 0x9E3779B97F4A7C15ull) >> 24) & mask;
}

static const struct frame_memo_entry *frame_memo_find(const struct frame_memo *m,
                                                      const json_t *frame)
{
    if (!m || !m->slots)
        return NULL;
    for (size_t i = frame_hash(frame, m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (m->slots[i].frame == frame)
            return &m->slots[i];
        if (!m->slots[i].frame)
            return NULL;
    }
}

/* Remembers a frame's text; when the table cannot grow, the frame is just not remembered. */
static void frame_memo_add(struct frame_memo *m, const struct frame_memo_entry *e)
{
    if ((m->used + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct frame_memo_entry *slots = gmr__calloc(cap, sizeof(*slots));
        if (!slots)
            return;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->slots[i].frame)
                continue;
            size_t j = frame_hash(m->slots[i].frame, cap - 1);
            while (slots[j].frame)
                j = (j + 1) & (cap - 1);
            slots[j] = m->slots[i];
        }
        gmr__free(m->slots);
        m->slots = slots;
        m->cap = cap;
    }
    size_t i = frame_hash(e->frame, m->cap - 1);
    while (m->slots[i].frame)
        i = (i + 1) & (m->cap - 1);
    m->slots[i] = *e;
    m->used++;
}

/* One frame's line (after "#N "), and its source line when the model has it. */
static void put_frame_text(struct gmr__buf *out, const json_t *f)
{
    const char *pc = str(f, "pc");
    const char *fn = str(f, "function");
    const char *file = str(f, "file");
    const char *module = str(f, "module");
    const char *offset = str(f, "offset");
    json_int_t line = json_integer_value(json_object_get(f, "line"));
    gmr__text_scalar(out, json_object_get(f, "pc"), 4);
    if (!pc)
        gmr__buf_puts(out, "?");
    gmr__buf_puts(out, " in ");
    if (fn)
        gmr__text_scalar(out, json_object_get(f, "function"), 4);
    else
        gmr__buf_puts(out, "??");
    if (file) {
        gmr__buf_puts(out, " (");
        gmr__text_scalar(out, json_object_get(f, "file"), 4);
        if (line > 0)
            gmr__buf_printf(out, ":%" JSON_INTEGER_FORMAT, line);
        gmr__buf_putc(out, ')');
    }
    if (module) {
        json_t *m = json_string(base_name(module));
        gmr__buf_puts(out, " [");
        gmr__text_scalar(out, m, 4);
        json_decref(m);
        if (offset)
            gmr__buf_printf(out, "+%s", offset);
        gmr__buf_putc(out, ']');
    }
    if (json_is_true(json_object_get(f, "inlined")))
        gmr__buf_puts(out, " [inlined]");
    gmr__buf_putc(out, '\n');
    if (str(f, "source")) {
        gmr__buf_puts(out, "    `");
        gmr__text_scalar(out, json_object_get(f, "source"), 4);
        gmr__buf_puts(out, "`\n");
    }
}

/* "  #N   " as "  #%-3zu " writes it. */
static void put_frame_number(struct gmr__buf *out, size_t i)
{
    char num[32];
    char *p = num + sizeof(num);
    size_t digits = 0;
    do {
        *--p = (char)('0' + i % 10);
        i /= 10;
        digits++;
    } while (i);
    gmr__buf_append(out, "  #", 3);
    gmr__buf_append(out, p, digits);
    gmr__buf_repeat(out, ' ', digits < 3 ? 4 - digits : 1);
}

/* The frames of thread (or group) @t; @memo (may be NULL) shares the text of shared frames. */
static void put_frames(struct gmr__buf *out, const json_t *t, struct frame_memo *memo)
{
    size_t i;
    const json_t *f;
    json_array_foreach(json_object_get(t, "frames"), i, f)
    {
        put_frame_number(out, i);
        const struct frame_memo_entry *e = frame_memo_find(memo, f);
        if (e && !out->error) {
            /* Room first: growing the buffer may move the bytes being copied. */
            size_t at = out->len;
            gmr__buf_repeat(out, ' ', e->len);
            if (!out->error)
                memcpy(out->data + at, out->data + e->off, e->len);
            continue;
        }
        size_t start = out->len;
        put_frame_text(out, f);
        if (memo && f->refcount > 1 && !out->error) {
            struct frame_memo_entry ne = {.frame = f, .off = start, .len = out->len - start};
            frame_memo_add(memo, &ne);
        }
    }
    json_int_t more = json_integer_value(json_object_get(t, "more_frames"));
    if (more > 0) {
        bool exact = !json_is_false(json_object_get(t, "more_frames_exact"));
        gmr__buf_printf(out, "  ... %s%" JSON_INTEGER_FORMAT " more frames\n",
                        exact ? "" : "at least ", more);
    }
    if (str(t, "unwind_error")) {
        gmr__buf_puts(out, "  (unwinding stopped: ");
        gmr__text_scalar(out, json_object_get(t, "unwind_error"), 4);
        gmr__buf_puts(out, ")\n");
    }
}

/* "Thread #TID (name)" into @buf. */
static void thread_title(char *buf, size_t size, const json_t *t)
{
    const char *name = str(t, "name");
    json_int_t tid = json_integer_value(json_object_get(t, "tid"));
    if (name)
        snprintf(buf, size, "Thread #%" JSON_INTEGER_FORMAT " (%s)", tid, name);
    else
        snprintf(buf, size, "Thread #%" JSON_INTEGER_FORMAT, tid);
}

/* The state and capture lines of one thread. */
static void put_info(struct gmr__buf *out, const json_t *t)
{
    if (str(t, "state")) {
        gmr__buf_puts(out, "state = ");
        gmr__text_scalar(out, json_object_get(t, "state"), 0);
        if (json_is_true(json_object_get(t, "main")))
            gmr__buf_puts(out, ", main thread");
        if (json_object_get(t, "cpu_user_ms"))
            gmr__buf_printf(out, ", cpu = %" JSON_INTEGER_FORMAT " ms user + %" JSON_INTEGER_FORMAT
                                 " ms system",
                            json_integer_value(json_object_get(t, "cpu_user_ms")),
                            json_integer_value(json_object_get(t, "cpu_system_ms")));
        gmr__buf_putc(out, '\n');
    }
    const char *capture = str(t, "capture");
    if (capture && strcmp(capture, "none") != 0) {
        gmr__buf_puts(out, "captured = ");
        gmr__text_scalar(out, json_object_get(t, "capture"), 0);
        if (str(t, "syscall")) {
            gmr__buf_puts(out, ", blocked in ");
            gmr__text_scalar(out, json_object_get(t, "syscall"), 0);
        }
        if (json_object_get(t, "interrupted_ns"))
            gmr__buf_printf(out, ", interrupted for %" JSON_INTEGER_FORMAT " us",
                            (json_integer_value(json_object_get(t, "interrupted_ns")) + 999) /
                                1000);
        gmr__buf_putc(out, '\n');
    }
    if (json_is_object(json_object_get(t, "waiting_for"))) {
        gmr__buf_puts(out, "waiting for = ");
        gmr__text_waiting_for(out, t);
        gmr__buf_putc(out, '\n');
    }
    if (str(t, "note")) {
        gmr__buf_puts(out, "note = ");
        gmr__text_scalar(out, json_object_get(t, "note"), 2);
        gmr__buf_putc(out, '\n');
    }
    if (str(t, "unavailable")) {
        gmr__buf_puts(out, "unavailable: ");
        gmr__text_scalar(out, json_object_get(t, "unavailable"), 2);
        gmr__buf_putc(out, '\n');
    }
}

static void put_thread(struct gmr__buf *out, const json_t *t, struct frame_memo *memo)
{
    char title[128];
    thread_title(title, sizeof(title), t);
    gmr__text_banner(out, '-', title);
    put_info(out, t);
    put_frames(out, t, memo);
    gmr__buf_putc(out, '\n');
}

/* One thread of a group, on its item line: ": sleeping, quiet in futex". */
static void put_item_summary(struct gmr__buf *out, const json_t *t)
{
    if (str(t, "state")) {
        gmr__buf_puts(out, ": ");
        gmr__text_scalar(out, json_object_get(t, "state"), 2);
    }
    if (json_is_true(json_object_get(t, "main")))
        gmr__buf_puts(out, ", main thread");
    if (str(t, "capture")) {
        gmr__buf_puts(out, ", ");
        gmr__text_scalar(out, json_object_get(t, "capture"), 2);
    }
    if (str(t, "syscall")) {
        gmr__buf_puts(out, " in ");
        gmr__text_scalar(out, json_object_get(t, "syscall"), 2);
    }
    if (json_is_object(json_object_get(t, "waiting_for"))) {
        gmr__buf_puts(out, ", waiting for ");
        gmr__text_waiting_for(out, t);
    }
    if (str(t, "note")) {
        gmr__buf_puts(out, " (");
        gmr__text_scalar(out, json_object_get(t, "note"), 2);
        gmr__buf_putc(out, ')');
    }
}

/* A key that is equal for threads whose frames are equal; NULL for threads without frames. */
static char *stack_key(const json_t *t)
{
    const json_t *frames = json_object_get(t, "frames");
    if (!json_is_array(frames) || json_array_size(frames) == 0)
        return NULL;
    struct gmr__buf b = GMR_BUF_INIT;
    size_t i;
    const json_t *f;
    json_array_foreach(frames, i, f)
    {
        const char *fn = str(f, "function");
        const char *file = str(f, "file");
        gmr__buf_printf(&b, "%s|%s|%s|%" JSON_INTEGER_FORMAT "|%d\n", str(f, "pc") ? str(f, "pc") : "",
                        fn ? fn : "", file ? file : "",
                        json_integer_value(json_object_get(f, "line")),
                        json_is_true(json_object_get(f, "inlined")));
    }
    gmr__buf_printf(&b, "+%" JSON_INTEGER_FORMAT "|%s",
                    json_integer_value(json_object_get(t, "more_frames")),
                    str(t, "unwind_error") ? str(t, "unwind_error") : "");
    return gmr__buf_steal(&b, NULL);
}

/* FNV-1a. */
static uint64_t key_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

/*
 * Threads with identical stacks in one block, at the place of the first of them.  Threads are
 * grouped through a hash table of their stack keys: linear in the number of threads (comparing
 * every pair of keys took seconds for thousands of threads with distinct stacks).
 */
static void put_grouped(struct gmr__buf *out, const json_t *threads, struct frame_memo *memo)
{
    size_t n = json_array_size(threads);
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    char **keys = gmr__calloc(n ? n : 1, sizeof(*keys));
    size_t *next = gmr__calloc(n ? n : 1, sizeof(*next)); /* next member of i's group, or n */
    size_t *last = gmr__calloc(n ? n : 1, sizeof(*last)); /* a group leader's last member */
    size_t *count = gmr__calloc(n ? n : 1, sizeof(*count)); /* a group leader's members */
    bool *member = gmr__calloc(n ? n : 1, sizeof(*member)); /* in a group, not its leader */
    size_t *table = gmr__malloc(cap * sizeof(*table));      /* leaders by key; n: empty */
    if (!keys || !next || !last || !count || !member || !table) {
        out->error = out->error ? out->error : -ENOMEM;
        goto out;
    }
    for (size_t k = 0; k < cap; k++)
        table[k] = n;
    for (size_t i = 0; i < n; i++) {
        keys[i] = stack_key(json_array_get(threads, i));
        next[i] = n;
        last[i] = i;
        count[i] = 1;
        if (!keys[i])
            continue;
        size_t k = (size_t)key_hash(keys[i]) & (cap - 1);
        while (table[k] != n && strcmp(keys[table[k]], keys[i]) != 0)
            k = (k + 1) & (cap - 1);
        if (table[k] == n) {
            table[k] = i;
            continue;
        }
        size_t lead = table[k];
        next[last[lead]] = i;
        last[lead] = i;
        count[lead]++;
        member[i] = true;
    }
    for (size_t i = 0; i < n; i++) {
        if (member[i])
            continue;
        const json_t *t = json_array_get(threads, i);
        if (count[i] == 1) {
            put_thread(out, t, memo);
            continue;
        }
        char title[64];
        snprintf(title, sizeof(title), "%zu threads with this stack", count[i]);
        gmr__text_banner(out, '-', title);
        for (size_t j = i; j < n; j = next[j]) {
            const json_t *u = json_array_get(threads, j);
            thread_title(title, sizeof(title), u);
            gmr__buf_puts(out, "- ");
            gmr__buf_puts(out, title);
            put_item_summary(out, u);
            gmr__buf_putc(out, '\n');
        }
        put_frames(out, t, memo);
        gmr__buf_putc(out, '\n');
    }
out:
    for (size_t i = 0; keys && i < n; i++)
        gmr__free(keys[i]);
    gmr__free(keys);
    gmr__free(next);
    gmr__free(last);
    gmr__free(count);
    gmr__free(member);
    gmr__free(table);
}

void gmr__text_threads(struct gmr__buf *out, const json_t *section)
{
    const json_t *threads = json_object_get(section, "threads");
    const json_t *stats = json_object_get(section, "stats");
    if (json_is_object(stats)) {
        gmr__buf_printf(out,
                        "threads = %" JSON_INTEGER_FORMAT " (%" JSON_INTEGER_FORMAT
                        " quiet, %" JSON_INTEGER_FORMAT " by signal, %" JSON_INTEGER_FORMAT
                        " not captured)\n",
                        json_integer_value(json_object_get(stats, "threads")),
                        json_integer_value(json_object_get(stats, "quiet")),
                        json_integer_value(json_object_get(stats, "signal")),
                        json_integer_value(json_object_get(stats, "not_captured")));
    }
    if (str(section, "note")) {
        gmr__buf_puts(out, "note = ");
        gmr__text_scalar(out, json_object_get(section, "note"), 2);
        gmr__buf_putc(out, '\n');
    }
    gmr__buf_putc(out, '\n');
    struct frame_memo memo = {0};
    if (json_is_true(json_object_get(section, "group_identical"))) {
        put_grouped(out, threads, &memo);
    } else {
        size_t i;
        const json_t *t;
        json_array_foreach(threads, i, t)
        {
            put_thread(out, t, &memo);
        }
    }
    frame_memo_done(&memo);
    json_int_t hidden = json_integer_value(json_object_get(section, "threads_not_shown"));
    if (hidden > 0)
        gmr__buf_printf(out, "... %" JSON_INTEGER_FORMAT " more threads not shown\n", hidden);
}

void gmr__text_frames(struct gmr__buf *out, const json_t *obj)
{
    put_frames(out, obj, NULL);
}
