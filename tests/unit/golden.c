/*
 * Golden-file comparison shared by the unit tests of the views (render, threads, conf).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "golden.h"

/* The whole file @path in a malloc()ed, NUL-terminated string; NULL if it cannot be read. */
static char *read_whole_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *s = NULL;
    long n;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (s = malloc((size_t)n + 1)) != NULL)
        s[fread(s, 1, (size_t)n, f)] = '\0';
    fclose(f);
    return s;
}

void test_assert_golden(const char *text, const char *name)
{
    const char *dir = getenv("GMR_GOLDEN_DIR");
    assert_non_null(dir);
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (getenv("GMR_UPDATE_GOLDEN")) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
    }
    char *want = read_whole_file(path);
    assert_non_null(want);
    assert_string_equal(text, want);
    free(want);
}
