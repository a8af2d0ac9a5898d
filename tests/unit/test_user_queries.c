/*
 * tests/unit/test_user_queries.c - the human_find ILIKE pattern
 * (fcgi-api/cmd/user_db.h): words in order, wildcards taken literally
 *
 * The matching itself runs in PostgreSQL and is tested end to end by
 * tests/integration/test_human_find.c; this pins the pattern's text.
 */
#include "arena.h"
#include "testreg.h"
#include "cmd/user_db.h"

#include <string.h>

START_TEST(pattern_words_and_escapes)
{
    arena_t *a = arena_new();
    static const struct {
        const char *query, *pattern; /* pattern NULL: no query */
    } cases[] = {
        {NULL, NULL},
        {"", NULL},
        {"alice", "%alice%"},
        {"alice smith", "%alice%smith%"},
        {"  alice\t\n smith \r\v\f", "%alice%smith%"},
        {"   ", "%"}, /* no word: every human */
        {"100%", "%100\\%%"},
        {"a_b", "%a\\_b%"},
        {"back\\slash", "%back\\\\slash%"},
        {"%_\\", "%\\%\\_\\\\%"},
        {"\xc3\xa9t\xc3\xa9", "%\xc3\xa9t\xc3\xa9%"}, /* UTF-8 passes through */
        {"x\xc2\xa0y", "%x\xc2\xa0y%"},               /* only ASCII whitespace splits */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *p = user_db_like_pattern(a, cases[i].query);
        if (!cases[i].pattern)
            ck_assert_ptr_null(p);
        else
            ck_assert_msg(p && strcmp(p, cases[i].pattern) == 0, "query \"%s\": \"%s\"",
                          cases[i].query, p ? p : "(null)");
    }
    /* the longest query, all wildcards: fits its bound */
    char q[USER_DB_FIND_QUERY_MAX + 1];
    memset(q, '%', USER_DB_FIND_QUERY_MAX);
    q[USER_DB_FIND_QUERY_MAX] = '\0';
    char *p = user_db_like_pattern(a, q);
    ck_assert_uint_eq(strlen(p), 2 * USER_DB_FIND_QUERY_MAX + 2);
    arena_free(a);
}
END_TEST

TEST_SUITE(user_queries)
{
    Suite *s = suite_create("user_queries");
    TCase *tc = tcase_create("pattern");
    tcase_add_test(tc, pattern_words_and_escapes);
    suite_add_tcase(s, tc);
    return s;
}
