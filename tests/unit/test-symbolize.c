/*
 * Unit tests of the symbolizer: addresses inside a helper built with -g come back with their
 * function, file, line, module and source line; inlined calls are marked; the cache answers
 * repeated lookups; C++ names are demangled once a C++ runtime is loaded; source lines are
 * trimmed and bounded.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "symbolize-helper.h"
#include "symbolize/symbolize.h"
#include "util/alloc.h"

/* Line number of the first line of symbolize-helper.c containing @marker. */
static int marker_line(const char *marker)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/unit/symbolize-helper.c", getenv("GMR_SOURCE_DIR"));
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[512];
    int n = 0, found = 0;
    while (!found && fgets(line, sizeof(line), f)) {
        n++;
        if (strstr(line, marker))
            found = n;
    }
    fclose(f);
    assert_true(found > 0);
    return found;
}

static struct gmr__sym *session(void)
{
    struct gmr__sym *s = NULL;
    const char *err = NULL;
    assert_int_equal(gmr__sym_get(&s, &err), 0);
    assert_non_null(s);
    return s;
}

static const char *field(const json_t *frame, const char *key)
{
    return json_string_value(json_object_get(frame, key));
}

static void test_symbolize_function_file_line(void **state)
{
    (void)state;
    struct gmr__sym *s = session();
    uint64_t pc = helper_caller();
    json_t *frames = gmr__sym_frames(s, pc, false);
    assert_non_null(frames);
    assert_int_equal(json_array_size(frames), 1);
    json_t *f = json_array_get(frames, 0);
    assert_string_equal(field(f, "function"), "helper_caller");
    const char *file = field(f, "file");
    assert_non_null(file);
    assert_non_null(strstr(file, "symbolize-helper.c"));
    assert_int_equal(json_integer_value(json_object_get(f, "line")),
                     marker_line("HELPER_CALL_LINE"));
    assert_non_null(strstr(field(f, "module"), "test-symbolize"));
    assert_true(json_is_false(json_object_get(f, "inlined")));
    assert_non_null(strstr(field(f, "source"), "helper_return_address(); /* HELPER_CALL_LINE */"));
    assert_string_equal(field(f, "source"),
                        "uint64_t pc = helper_return_address(); /* HELPER_CALL_LINE */");
    char want_pc[32];
    snprintf(want_pc, sizeof(want_pc), "0x%llx", (unsigned long long)pc);
    assert_string_equal(field(f, "pc"), want_pc);
    assert_true(strncmp(field(f, "offset"), "0x", 2) == 0);

    /* Cached: the same objects come back. */
    assert_ptr_equal(gmr__sym_frames(s, pc, false), frames);
}

/*
 * In a fresh session, a helper thread loads the DWARF of modules ahead of their description;
 * described afterwards, the addresses come back as without it.
 */
static void test_prefetch_then_describe(void **state)
{
    (void)state;
    gmr__sym_free();
    gmr__sym_lock();
    struct gmr__sym *s = session();
    uint64_t pc = helper_caller();
    char here[16];
    gmr__sym_prefetch(s, pc, false);
    gmr__sym_prefetch(s, pc + 1, false);                      /* same module: once */
    gmr__sym_prefetch(s, (uint64_t)(uintptr_t)here, true);    /* no module */
    gmr__sym_prefetch(s, (uint64_t)(uintptr_t)&strlen, true); /* another module */
    gmr__sym_prefetch_wait(s);
    gmr__sym_prefetch_wait(s); /* nothing runs: returns */
    json_t *frames = gmr__sym_frames(s, pc, false);
    assert_non_null(frames);
    json_t *f = json_array_get(frames, 0);
    assert_string_equal(field(f, "function"), "helper_caller");
    assert_int_equal(json_integer_value(json_object_get(f, "line")),
                     marker_line("HELPER_CALL_LINE"));
    gmr__sym_unlock();
}

static void test_symbolize_marks_inlined_calls(void **state)
{
    (void)state;
    struct gmr__sym *s = session();
    json_t *frames = gmr__sym_frames(s, helper_with_inline(), false);
    assert_non_null(frames);
    assert_int_equal(json_array_size(frames), 2);
    json_t *inner = json_array_get(frames, 0), *outer = json_array_get(frames, 1);
    assert_string_equal(field(inner, "function"), "helper_inlined");
    assert_true(json_is_true(json_object_get(inner, "inlined")));
    assert_int_equal(json_integer_value(json_object_get(inner, "line")),
                     marker_line("HELPER_INLINED_LINE"));
    assert_string_equal(field(outer, "function"), "helper_with_inline");
    assert_true(json_is_false(json_object_get(outer, "inlined")));
    assert_int_equal(json_integer_value(json_object_get(outer, "line")),
                     marker_line("HELPER_INLINE_SITE_LINE"));
    assert_string_equal(field(inner, "pc"), field(outer, "pc"));
}

static void test_symbolize_unknown_address_keeps_pc(void **state)
{
    (void)state;
    /* An address on this thread's stack belongs to no module. */
    char here[16];
    struct gmr__sym *s = session();
    json_t *frames = gmr__sym_frames(s, (uint64_t)(uintptr_t)here, true);
    assert_non_null(frames);
    assert_int_equal(json_array_size(frames), 1);
    json_t *f = json_array_get(frames, 0);
    assert_non_null(field(f, "pc"));
    assert_null(json_object_get(f, "function"));
    assert_null(json_object_get(f, "module"));
    assert_null(json_object_get(f, "file"));
}

static void test_demangle(void **state)
{
    (void)state;
    assert_null(gmr__demangle("main"));
    assert_null(gmr__demangle(NULL));
    /* A C program has no C++ runtime: names stay raw.  Loading one makes demangling work. */
    void *cxx = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_GLOBAL);
    if (!cxx) {
        skip();
        return;
    }
    gmr__demangle_prime();
    char *s = gmr__demangle("_ZN4shop5QueueIlE5drainEl");
    assert_non_null(s);
    assert_string_equal(s, "shop::Queue<long>::drain(long)");
    free(s);
    assert_null(gmr__demangle("_Znot a name"));
    /* The runtime stays loaded: glibc never unloads a library a C++ runtime uses. */
}

static void test_source_line_trimmed_and_bounded(void **state)
{
    (void)state;
    char path[] = "/tmp/gmr-src-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char longline[400];
    memset(longline, 'x', sizeof(longline) - 1);
    longline[sizeof(longline) - 1] = '\0';
    dprintf(fd, "first\n\t   indented line  \r\n\n%s\nlast without newline", longline);
    close(fd);
    char *s = gmr__source_line(path, 1);
    assert_string_equal(s, "first");
    gmr__free(s);
    s = gmr__source_line(path, 2);
    assert_string_equal(s, "indented line");
    gmr__free(s);
    assert_null(gmr__source_line(path, 3)); /* empty */
    s = gmr__source_line(path, 4);
    assert_int_equal(strlen(s), GMR_SRC_LINE_MAX + 3);
    assert_string_equal(s + GMR_SRC_LINE_MAX, "...");
    gmr__free(s);
    s = gmr__source_line(path, 5);
    assert_string_equal(s, "last without newline");
    gmr__free(s);
    assert_null(gmr__source_line(path, 6));
    assert_null(gmr__source_line(path, 0));
    /* Cached: the file's later removal does not matter. */
    unlink(path);
    s = gmr__source_line(path, 1);
    assert_string_equal(s, "first");
    gmr__free(s);
    assert_null(gmr__source_line("/nonexistent/file.c", 1));
    gmr__source_cache_clear();
    assert_null(gmr__source_line(path, 1));
}

static int count_module(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr start,
                        void *arg)
{
    (void)userdata, (void)name, (void)start;
    Dwarf_Addr bias;
    (void)dwfl_module_getelf(mod, &bias); /* libelf maps the module's file */
    ++*(int *)arg;
    return DWARF_CB_OK;
}

static int modules(struct gmr__sym *s)
{
    int n = 0;
    (void)dwfl_getmodules(gmr__sym_dwfl(s), count_module, &n, 0);
    return n;
}

/*
 * The files libelf maps for the session are not modules: reports in a row see the same
 * modules (each of them used to add one module per file read, and map the file again).
 */
static void test_session_does_not_report_its_own_file_mappings(void **state)
{
    (void)state;
    int first = modules(session());
    assert_true(first > 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(modules(session()), first);
}

/* Of /proc/self/maps, only the groups of mappings of one file with an executable one stay. */
static void test_filter_maps(void **state)
{
    (void)state;
    char maps[] =
        "55d0a000-55d0b000 r--p 00000000 fe:00 11 /usr/bin/prog\n"
        "55d0b000-55d0c000 r-xp 00001000 fe:00 11 /usr/bin/prog\n"
        "55d0c000-55d0d000 rw-p 00000000 00:00 0 \n"
        "55d0d000-55d0e000 rw-p 00002000 fe:00 11 /usr/bin/prog\n"
        "7f00000000-7f00100000 rw-p 00000000 fe:00 22 /usr/lib/libc.so.6\n"
        "7f00100000-7f00110000 r--p 00000000 fe:00 22 /usr/lib/libc.so.6\n"
        "7f00110000-7f00120000 r-xp 00010000 fe:00 22 /usr/lib/libc.so.6\n"
        "7f00200000-7f00300000 rw-p 00000000 fe:00 33 /usr/lib/debug/libc.debug\n"
        "7f00300000-7f00301000 r--s 00000000 00:05 44 /memfd:data (deleted)\n"
        "7ffd0000-7ffd1000 r-xp 00000000 00:00 0 [vdso]\n"
        "7ffe0000-7ffe1000 rw-p 00000000 fe:00 55 /tmp/data.bin";
    size_t len = gmr__sym_filter_maps(maps, strlen(maps));
    maps[len] = '\0';
    assert_string_equal(maps,
        "55d0a000-55d0b000 r--p 00000000 fe:00 11 /usr/bin/prog\n"
        "55d0b000-55d0c000 r-xp 00001000 fe:00 11 /usr/bin/prog\n"
        "55d0d000-55d0e000 rw-p 00002000 fe:00 11 /usr/bin/prog\n"
        "7f00100000-7f00110000 r--p 00000000 fe:00 22 /usr/lib/libc.so.6\n"
        "7f00110000-7f00120000 r-xp 00010000 fe:00 22 /usr/lib/libc.so.6\n");
}

/* Each test holds the session lock; teardown releases it even after a failed assertion. */
static int lock(void **state)
{
    (void)state;
    gmr__sym_lock();
    return 0;
}

static int unlock(void **state)
{
    (void)state;
    gmr__sym_unlock();
    return 0;
}

static int teardown_session(void **state)
{
    (void)state;
    gmr__sym_free();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefetch_then_describe),
        cmocka_unit_test_setup_teardown(test_symbolize_function_file_line, lock, unlock),
        cmocka_unit_test_setup_teardown(test_symbolize_marks_inlined_calls, lock, unlock),
        cmocka_unit_test_setup_teardown(test_symbolize_unknown_address_keeps_pc, lock, unlock),
        cmocka_unit_test_setup_teardown(test_demangle, lock, unlock),
        cmocka_unit_test_setup_teardown(test_source_line_trimmed_and_bounded, lock, unlock),
        cmocka_unit_test_setup_teardown(test_session_does_not_report_its_own_file_mappings,
                                        lock, unlock),
        cmocka_unit_test(test_filter_maps),
    };
    return cmocka_run_group_tests_name("symbolize", tests, NULL, teardown_session);
}
