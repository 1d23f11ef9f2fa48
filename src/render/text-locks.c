/*
 * Text view of the lock analysis (model: docs/locks.md): the "waiting for" line of a blocked
 * thread, and the deadlock banner written between the report's header and its first section,
 * in the spirit of a Java thread dump's "Found one Java-level deadlock".
 */
#include "config.h"

#include <string.h>

#include "render/render.h"
#include "util/buf.h"

static const char *str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static void put_str(struct gmr__buf *out, const json_t *obj, const char *key)
{
    gmr__text_scalar(out, json_object_get(obj, key), 4);
}

/* "Thread #TID (name)". */
static void put_thread_name(struct gmr__buf *out, json_int_t tid, const json_t *name)
{
    gmr__buf_printf(out, "Thread #%" JSON_INTEGER_FORMAT, tid);
    if (json_is_string(name)) {
        gmr__buf_puts(out, " (");
        gmr__text_scalar(out, name, GMR_TEXT_ONE_LINE);
        gmr__buf_putc(out, ')');
    }
}

/* "mutex queue_lock (0x5610bb004040)", "condition variable 0x5610bb0a1000". */
static void put_lock(struct gmr__buf *out, const json_t *lock)
{
    const char *kind = str(lock, "kind");
    if (!kind)
        gmr__buf_puts(out, "lock");
    else if (strcmp(kind, "condvar") == 0)
        gmr__buf_puts(out, "condition variable");
    else
        put_str(out, lock, "kind");
    gmr__buf_putc(out, ' ');
    if (str(lock, "symbol")) {
        put_str(out, lock, "symbol");
        gmr__buf_puts(out, " (");
        put_str(out, lock, "address");
        gmr__buf_putc(out, ')');
    } else {
        put_str(out, lock, "address");
    }
}

void gmr__text_waiting_for(struct gmr__buf *out, const json_t *thread)
{
    const json_t *w = json_object_get(thread, "waiting_for");
    const char *mode = str(w, "mode");
    json_t *owner = json_object_get(w, "owner_tid");
    put_lock(out, w);
    if (mode)
        gmr__buf_printf(out, " to %s", strcmp(mode, "read") == 0 ? "read" : "write");
    if (!json_is_integer(owner))
        return;
    json_int_t tid = json_integer_value(owner);
    const char *state = str(w, "owner_state");
    if (state && strcmp(state, "exited") == 0) {
        gmr__buf_printf(out, ": owner TID %" JSON_INTEGER_FORMAT " no longer exists", tid);
    } else if (state) {
        gmr__buf_printf(out, ": owner TID %" JSON_INTEGER_FORMAT " (", tid);
        put_str(out, w, "owner_state");
        gmr__buf_putc(out, ')');
    } else if (tid == json_integer_value(json_object_get(thread, "tid"))) {
        gmr__buf_puts(out, ", held by this thread itself");
    } else {
        gmr__buf_puts(out, mode ? ", held for writing by " : ", held by ");
        put_thread_name(out, tid, json_object_get(w, "owner_name"));
    }
}

/* "    at function (file:line) [module+offset]" for each frame. */
static void put_frames(struct gmr__buf *out, const json_t *frames)
{
    size_t i;
    const json_t *f;
    json_array_foreach(frames, i, f)
    {
        gmr__buf_puts(out, "    at ");
        if (str(f, "function"))
            put_str(out, f, "function");
        else if (str(f, "pc"))
            put_str(out, f, "pc");
        else
            gmr__buf_puts(out, "??");
        if (str(f, "file")) {
            gmr__buf_puts(out, " (");
            put_str(out, f, "file");
            json_int_t line = json_integer_value(json_object_get(f, "line"));
            if (line > 0)
                gmr__buf_printf(out, ":%" JSON_INTEGER_FORMAT, line);
            gmr__buf_putc(out, ')');
        }
        const char *module = str(f, "module");
        if (module) {
            const char *slash = strrchr(module, '/');
            json_t *base = json_string(slash && slash[1] ? slash + 1 : module);
            gmr__buf_puts(out, " [");
            gmr__text_scalar(out, base, 4);
            json_decref(base);
            if (str(f, "offset")) {
                gmr__buf_putc(out, '+');
                put_str(out, f, "offset");
            }
            gmr__buf_putc(out, ']');
        }
        if (json_is_true(json_object_get(f, "inlined")))
            gmr__buf_puts(out, " [inlined]");
        gmr__buf_putc(out, '\n');
    }
}

static void put_deadlock(struct gmr__buf *out, const json_t *d, size_t index, size_t count)
{
    const json_t *cycle = json_object_get(d, "cycle");
    size_t n = json_array_size(cycle);
    if (count > 1)
        gmr__buf_printf(out, "Deadlock %zu of %zu: ", index + 1, count);
    else
        gmr__buf_puts(out, "Found one deadlock: ");
    if (n == 1)
        gmr__buf_puts(out, "a thread waits for a lock it holds itself\n");
    else
        gmr__buf_printf(out, "%zu threads, each waiting for a lock the next one holds\n", n);
    size_t i;
    const json_t *step;
    json_array_foreach(cycle, i, step)
    {
        json_int_t tid = json_integer_value(json_object_get(step, "tid"));
        json_int_t held_by = json_integer_value(json_object_get(step, "held_by"));
        const json_t *next = json_array_get(cycle, (i + 1) % n);
        gmr__buf_puts(out, "- ");
        put_thread_name(out, tid, json_object_get(step, "name"));
        gmr__buf_puts(out, "\n  waits for ");
        put_lock(out, json_object_get(step, "waiting_for"));
        if (held_by == tid) {
            gmr__buf_puts(out, ", which it holds itself\n");
        } else {
            gmr__buf_puts(out, ",\n  held by ");
            put_thread_name(out, held_by, json_object_get(next, "name"));
            gmr__buf_putc(out, '\n');
        }
        put_frames(out, json_object_get(step, "frames"));
    }
    const json_t *behind = json_object_get(d, "blocked_behind");
    if (json_array_size(behind) > 0) {
        gmr__buf_puts(out, "Blocked behind it: ");
        const json_t *who;
        json_array_foreach(behind, i, who)
        {
            if (i > 0)
                gmr__buf_puts(out, ", ");
            put_thread_name(out, json_integer_value(json_object_get(who, "tid")),
                            json_object_get(who, "name"));
        }
        gmr__buf_putc(out, '\n');
    }
    gmr__buf_putc(out, '\n');
}

void gmr__text_deadlocks(struct gmr__buf *out, const json_t *report)
{
    const json_t *deadlocks = json_object_get(report, "deadlocks");
    size_t n = json_array_size(deadlocks);
    if (n == 0)
        return;
    gmr__text_banner(out, '=', "DEADLOCK DETECTED");
    size_t i;
    const json_t *d;
    json_array_foreach(deadlocks, i, d)
    {
        put_deadlock(out, d, i, n);
    }
}
