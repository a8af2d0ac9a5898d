/* tests/unit/test_arena.c - the per-request arena */
#include "arena.h"
#include "testreg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int deferred_calls;
static void count_call(void *p)
{
    deferred_calls++;
    free(p);
}

START_TEST(alloc_aligned_and_distinct)
{
    arena_t *a = arena_new();
    char *prev = NULL;
    for (int i = 0; i < 2000; i++) {
        char *p = arena_alloc(a, (size_t)(i % 37) + 1);
        ck_assert_uint_eq((uintptr_t)p % 16, 0);
        ck_assert_ptr_ne(p, prev);
        memset(p, 0xAB, (size_t)(i % 37) + 1);
        prev = p;
    }
    arena_free(a);
}
END_TEST

START_TEST(large_allocation_and_reset)
{
    arena_t *a = arena_new();
    char *small = arena_strdup(a, "hello");
    unsigned char *big = arena_alloc(a, 600 * 1024);
    memset(big, 1, 600 * 1024);
    ck_assert_str_eq(small, "hello");
    ck_assert_uint_ge(arena_used(a), 600 * 1024);
    arena_reset(a);
    ck_assert_uint_eq(arena_used(a), 0);
    ck_assert_str_eq(arena_printf(a, "%d-%s", 42, "x"), "42-x");
    arena_free(a);
}
END_TEST

START_TEST(defer_runs_on_reset_and_free)
{
    deferred_calls = 0;
    arena_t *a = arena_new();
    arena_defer(a, count_call, malloc(10));
    arena_defer(a, count_call, malloc(10));
    arena_reset(a);
    ck_assert_int_eq(deferred_calls, 2);
    arena_defer(a, count_call, malloc(10));
    arena_free(a);
    ck_assert_int_eq(deferred_calls, 3);
}
END_TEST

TEST_SUITE(arena)
{
    Suite *s = suite_create("arena");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, alloc_aligned_and_distinct);
    tcase_add_test(tc, large_allocation_and_reset);
    tcase_add_test(tc, defer_runs_on_reset_and_free);
    suite_add_tcase(s, tc);
    return s;
}
