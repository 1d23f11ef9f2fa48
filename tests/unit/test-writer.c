/*
 * Unit tests of the structured writer that application sections use.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "render/render.h"
#include "util/alloc.h"

static void test_writer_kv_nested_objects_and_lists(void **state)
{
    (void)state;
    json_t *data = json_object();
    struct gmr_writer w;
    gmr__writer_init(&w, data);
    assert_int_equal(gmr_writer_kv(&w, "count", "%d", 42), 0);
    assert_int_equal(gmr_writer_begin_object(&w, "inner"), 0);
    assert_int_equal(gmr_writer_kv(&w, "name", "%s", "x"), 0);
    assert_int_equal(gmr_writer_begin_list(&w, "items"), 0);
    assert_int_equal(gmr_writer_item(&w, "a%d", 1), 0);
    assert_int_equal(gmr_writer_begin_object(&w, NULL), 0);
    assert_int_equal(gmr_writer_kv(&w, "k", "v"), 0);
    assert_int_equal(gmr_writer_end(&w), 0);
    assert_int_equal(gmr_writer_end(&w), 0);
    assert_int_equal(gmr_writer_end(&w), 0);
    assert_int_equal(gmr_writer_kv(&w, "after", "yes"), 0);

    char *s = json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(s, "{\"count\":\"42\",\"inner\":{\"name\":\"x\",\"items\":[\"a1\",{\"k\":\"v\"}]},"
                           "\"after\":\"yes\"}");
    free(s);
    json_decref(data);
}

static void test_writer_rejects_misuse(void **state)
{
    (void)state;
    json_t *data = json_object();
    struct gmr_writer w;
    gmr__writer_init(&w, data);
    assert_int_equal(gmr_writer_kv(NULL, "k", "v"), -EINVAL);
    assert_int_equal(gmr_writer_kv(&w, NULL, "v"), -EINVAL);
    assert_int_equal(gmr_writer_kv(&w, "", "v"), -EINVAL);
    assert_int_equal(gmr_writer_kv(&w, "k", NULL), -EINVAL);
    assert_int_equal(gmr_writer_kv(&w, "bad\xff", "v"), -EINVAL);
    assert_int_equal(gmr_writer_kv(&w, "k", "v"), 0);
    assert_int_equal(gmr_writer_kv(&w, "k", "again"), -EEXIST);
    assert_int_equal(gmr_writer_begin_object(&w, "k"), -EEXIST);
    assert_int_equal(gmr_writer_item(&w, "in an object"), -EINVAL);
    assert_int_equal(gmr_writer_begin_object(&w, NULL), -EINVAL);
    assert_int_equal(gmr_writer_end(&w), -EINVAL);
    assert_int_equal(gmr_writer_begin_list(&w, "l"), 0);
    assert_int_equal(gmr_writer_kv(&w, "k2", "in a list"), -EINVAL);
    assert_int_equal(gmr_writer_begin_list(&w, "named"), -EINVAL);
    assert_int_equal(gmr_writer_end(&w), 0);
    /* The value written first is untouched by the failed calls. */
    assert_string_equal(json_string_value(json_object_get(data, "k")), "v");
    json_decref(data);
}

static void test_writer_depth_is_bounded(void **state)
{
    (void)state;
    json_t *data = json_object();
    struct gmr_writer w;
    gmr__writer_init(&w, data);
    for (int i = 0; i < GMR_WRITER_MAX_DEPTH; i++)
        assert_int_equal(gmr_writer_begin_list(&w, i == 0 ? "l" : NULL), 0);
    assert_int_equal(gmr_writer_begin_list(&w, NULL), -E2BIG);
    assert_int_equal(gmr_writer_item(&w, "deepest"), 0);
    json_decref(data);
}

static void test_writer_long_values_are_cut(void **state)
{
    (void)state;
    json_t *data = json_object();
    struct gmr_writer w;
    gmr__writer_init(&w, data);
    size_t n = GMR_WRITER_MAX_VALUE * 2;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    assert_int_equal(gmr_writer_kv(&w, "big", "%s", big), 0);
    const char *v = json_string_value(json_object_get(data, "big"));
    assert_int_equal(strlen(v), GMR_WRITER_MAX_VALUE);
    assert_string_equal(v + GMR_WRITER_MAX_VALUE - 3, "...");
    free(big);
    json_decref(data);
}

static void test_writer_invalid_utf8_becomes_replacement_char(void **state)
{
    (void)state;
    json_t *data = json_object();
    struct gmr_writer w;
    gmr__writer_init(&w, data);
    assert_int_equal(gmr_writer_kv(&w, "k", "a\xff" "b\xc3\xa9" "\xed\xa0\x80"), 0);
    assert_string_equal(json_string_value(json_object_get(data, "k")),
                        "a\xEF\xBF\xBD" "b\xc3\xa9" "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    json_decref(data);
}

/* Writes a small section; returns the first error. */
static int write_some(json_t *data)
{
    struct gmr_writer w;
    gmr__writer_init(&w, data);
    int r;
    if ((r = gmr_writer_kv(&w, "a", "%s", "1")) < 0)
        return r;
    if ((r = gmr_writer_begin_object(&w, "o")) < 0)
        return r;
    if ((r = gmr_writer_begin_list(&w, "l")) < 0)
        return r;
    if ((r = gmr_writer_item(&w, "%d", 2)) < 0)
        return r;
    return 0;
}

static void test_writer_every_allocation_failure_is_clean(void **state)
{
    (void)state;
    json_set_alloc_funcs(gmr__malloc, gmr__free);
    for (long n = 0;; n++) {
        gmr__alloc_fail_after(n);
        json_t *data = json_object();
        int r = data ? write_some(data) : -ENOMEM;
        gmr__alloc_fail_after(-1);
        json_decref(data);
        if (r == 0)
            break;
        assert_int_equal(r, -ENOMEM);
        assert_true(n < 1000);
    }
    json_set_alloc_funcs(malloc, free);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_kv_nested_objects_and_lists),
        cmocka_unit_test(test_writer_rejects_misuse),
        cmocka_unit_test(test_writer_depth_is_bounded),
        cmocka_unit_test(test_writer_long_values_are_cut),
        cmocka_unit_test(test_writer_invalid_utf8_becomes_replacement_char),
        cmocka_unit_test(test_writer_every_allocation_failure_is_clean),
    };
    return cmocka_run_group_tests_name("writer", tests, NULL, NULL);
}
