/*
 * tests/integration/test_human_find.c - human_find through lighttpd and a
 * real PostgreSQL: who may call it, every field's bounds, matching (words in
 * order, case-insensitive, label or email, LIKE wildcards taken literally),
 * order, pagination, the omit flags and isolation.
 */
#include "test_user_lib.h"
#include "testreg.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The organization every matching test reads (made once per test). */
typedef struct {
    porg_t *o;
    pclient_device_t *users[8];
    size_t n;
} people_t;

/*
 * Humans by lower(label): admin "Admin", alice "Alice Smith", bob "bob Jones",
 * carol "Carol_100%", dave "Dave" (revoked), zed "Zed Outsider" (OUTSIDER);
 * then non-humans nh1, nh2.
 */
static void people_make(people_t *p)
{
    memset(p, 0, sizeof *p);
    p->o = porg_bootstrap(ut_srv, NULL);
    porg_t *o = p->o;
    /* created out of order: the order of the results is the server's */
    p->users[p->n++] = porg_user(ut_srv, o, o->admin, "nh2@d", "STANDARD", NULL, NULL);
    p->users[p->n++] =
        porg_user(ut_srv, o, o->admin, "zed@d", "OUTSIDER", "zed@example.com", "Zed Outsider");
    p->users[p->n++] =
        porg_user(ut_srv, o, o->admin, "carol@d", "STANDARD", "carol@example.com", "Carol_100%");
    p->users[p->n++] =
        porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", "bob@jones.example.net", "bob Jones");
    p->users[p->n++] = porg_user(ut_srv, o, o->admin, "alice@d", "ADMIN", "alice.smith@example.com",
                                 "Alice Smith");
    p->users[p->n++] =
        porg_user(ut_srv, o, o->admin, "dave@d", "STANDARD", "dave@example.org", "Dave");
    p->users[p->n++] = porg_user(ut_srv, o, o->admin, "nh1@d", "ADMIN", NULL, NULL);
    porg_revoke(ut_srv, o->admin, "dave");
}

static void people_free(people_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        pclient_device_free(p->users[i]);
    porg_free(p->o);
}

/* A human_find request; query NULL: absent. */
static json_object *find_req(const char *query, bool omit_revoked, bool omit_non_human,
                             int64_t page, int64_t per_page)
{
    json_object *req = pclient_req("human_find");
    if (query)
        json_object_object_add(req, "query", json_object_new_string(query));
    json_object_object_add(req, "omit_revoked", json_object_new_boolean(omit_revoked));
    json_object_object_add(req, "omit_non_human", json_object_new_boolean(omit_non_human));
    json_object_object_add(req, "page", json_object_new_int64(page));
    json_object_object_add(req, "per_page", json_object_new_int64(per_page));
    return req;
}

/*
 * Send req (consumed) as caller and check the reply: "ok", page and
 * per_page echoed, total, and the user ids of the results in order as one
 * space-separated string ("" for none).  Every item must have exactly
 * user_id, human_handle, revoked.
 */
static void expect_found(const pclient_device_t *caller, json_object *req, long total,
                         const char *ids)
{
    json_object *pg, *pp;
    ck_assert(json_object_object_get_ex(req, "page", &pg));
    ck_assert(json_object_object_get_ex(req, "per_page", &pp));
    int64_t page = json_object_get_int64(pg), per_page = json_object_get_int64(pp);
    json_object *r = porg_call(ut_srv, caller, req);
    ck_assert_msg(!strcmp(porg_status(r), "ok"), "%s", json_object_to_json_string(r));
    ck_assert_int_eq(json_object_object_length(r), 5);
    json_object *v;
    ck_assert(json_object_object_get_ex(r, "page", &v) && json_object_get_int64(v) == page);
    ck_assert(json_object_object_get_ex(r, "per_page", &v) && json_object_get_int64(v) == per_page);
    ck_assert(json_object_object_get_ex(r, "total", &v));
    ck_assert_msg(json_object_get_int64(v) == total, "total %lld, expected %ld: %s",
                  (long long)json_object_get_int64(v), total, json_object_to_json_string(r));
    json_object *results;
    ck_assert(json_object_object_get_ex(r, "results", &results));
    char got[512] = "";
    for (size_t i = 0; i < json_object_array_length(results); i++) {
        json_object *item = json_object_array_get_idx(results, i);
        ck_assert_int_eq(json_object_object_length(item), 3);
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? " " : "",
                 porg_str(item, "user_id"));
    }
    ck_assert_msg(!strcmp(got, ids), "results \"%s\", expected \"%s\"", got, ids);
    json_object_put(r);
}

START_TEST(human_find_not_for_outsider)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *out = porg_user(ut_srv, o, o->admin, "out@d", "OUTSIDER", NULL, NULL);
    pclient_device_t *std = porg_user(ut_srv, o, o->admin, "std@d", "STANDARD", NULL, NULL);
    porg_expect_reason(ut_srv, out, find_req(NULL, false, false, 1, 10), "not_allowed",
                       "Not allowed for user with OUTSIDER profile.");
    /* before the fields are read */
    porg_expect_reason(ut_srv, out, pclient_req("human_find"), "not_allowed", "OUTSIDER");
    expect_found(std, find_req(NULL, false, false, 1, 10), 3, "admin out std");
    expect_found(o->admin, find_req(NULL, false, false, 1, 10), 3, "admin out std");
    pclient_device_free(out);
    pclient_device_free(std);
    porg_free(o);
}
END_TEST

START_TEST(human_find_bad_input)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    json_object *base = find_req("x", false, false, 1, 10);
    struct {
        const char *field;
        json_object *value; /* NULL: null */
        bool remove;
    } bad[] = {
        {"page", json_object_new_int(0), false},
        {"page", json_object_new_int(-1), false},
        {"page", json_object_new_int64(INT64_C(2147483648)), false},
        {"page", json_object_new_double(1.5), false},
        {"page", json_object_new_string("1"), false},
        {"page", json_object_new_boolean(1), false},
        {"page", NULL, false},
        {"page", NULL, true},
        {"per_page", json_object_new_int(0), false},
        {"per_page", json_object_new_int(101), false},
        {"per_page", json_object_new_int(-5), false},
        {"per_page", json_object_new_string("10"), false},
        {"per_page", NULL, false},
        {"per_page", NULL, true},
        {"omit_revoked", json_object_new_string("true"), false},
        {"omit_revoked", json_object_new_int(1), false},
        {"omit_revoked", NULL, false},
        {"omit_revoked", NULL, true},
        {"omit_non_human", json_object_new_string("false"), false},
        {"omit_non_human", json_object_new_int(0), false},
        {"omit_non_human", NULL, false},
        {"omit_non_human", NULL, true},
        {"query", json_object_new_int(42), false},
        {"query", json_object_new_boolean(0), false},
        {"query", json_object_new_array(), false},
        {"query", json_object_new_object(), false},
        {"unknown", json_object_new_int(1), false},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_object *req = ut_copy(base);
        if (bad[i].remove)
            without(req, bad[i].field);
        else
            set_json(req, bad[i].field, bad[i].value);
        porg_expect_reason(ut_srv, o->admin, req, "bad_message", bad[i].field);
    }
    /* a query of 256 bytes is fine, 257 is not */
    char q[260];
    memset(q, 'q', 257);
    q[257] = '\0';
    porg_expect_reason(ut_srv, o->admin, set_str(ut_copy(base), "query", q), "bad_message",
                       "query");
    q[256] = '\0';
    expect_found(o->admin, set_str(ut_copy(base), "query", q), 0, "");
    /* the largest page and per_page */
    expect_found(o->admin, find_req(NULL, false, false, INT64_C(2147483647), 100), 1, "");
    json_object_put(base);
    porg_free(o);
}
END_TEST

START_TEST(human_find_order_and_pages)
{
    people_t p;
    people_make(&p);
    const pclient_device_t *a = p.o->admin;
    const char *all = "admin alice bob carol dave zed nh1 nh2";
    expect_found(a, find_req(NULL, false, false, 1, 100), 8, all);
    expect_found(a, find_req(NULL, false, false, 1, 3), 8, "admin alice bob");
    expect_found(a, find_req(NULL, false, false, 2, 3), 8, "carol dave zed");
    expect_found(a, find_req(NULL, false, false, 3, 3), 8, "nh1 nh2");
    expect_found(a, find_req(NULL, false, false, 4, 3), 8, "");
    expect_found(a, find_req(NULL, false, false, 8, 1), 8, "nh2");
    expect_found(a, find_req(NULL, false, false, 2147483647, 100), 8, "");

    /* null and "" are no query, as an absent one */
    json_object *req = find_req(NULL, false, false, 1, 100);
    json_object_object_add(req, "query", NULL);
    expect_found(a, req, 8, all);
    expect_found(a, find_req("", false, false, 1, 100), 8, all);

    /* omit flags */
    expect_found(a, find_req(NULL, true, false, 1, 100), 7, "admin alice bob carol zed nh1 nh2");
    expect_found(a, find_req(NULL, false, true, 1, 100), 6, "admin alice bob carol dave zed");
    expect_found(a, find_req(NULL, true, true, 1, 100), 5, "admin alice bob carol zed");
    expect_found(a, find_req(NULL, true, true, 2, 2), 5, "bob carol");

    /* the items themselves */
    json_object *r = porg_call(ut_srv, a, find_req(NULL, false, false, 1, 100));
    json_object *results;
    ck_assert(json_object_object_get_ex(r, "results", &results));
    char *text = xstrdup(json_object_to_json_string_ext(json_object_array_get_idx(results, 1),
                                                        JSON_C_TO_STRING_PLAIN));
    ck_assert_str_eq(text, "{\"user_id\":\"alice\",\"human_handle\":{\"email\":\"alice.smith@"
                           "example.com\",\"label\":\"Alice Smith\"},\"revoked\":false}");
    free(text);
    text = xstrdup(json_object_to_json_string_ext(json_object_array_get_idx(results, 4),
                                                  JSON_C_TO_STRING_PLAIN));
    ck_assert_str_eq(text, "{\"user_id\":\"dave\",\"human_handle\":{\"email\":\"dave@example.org\","
                           "\"label\":\"Dave\"},\"revoked\":true}");
    free(text);
    text = xstrdup(json_object_to_json_string_ext(json_object_array_get_idx(results, 7),
                                                  JSON_C_TO_STRING_PLAIN));
    ck_assert_str_eq(text, "{\"user_id\":\"nh2\",\"human_handle\":null,\"revoked\":false}");
    free(text);
    json_object_put(r);

    /* a STANDARD caller sees the same */
    expect_found(p.users[3], find_req(NULL, false, false, 1, 100), 8, all);
    people_free(&p);
}
END_TEST

START_TEST(human_find_matching)
{
    people_t p;
    people_make(&p);
    const pclient_device_t *a = p.o->admin;
    struct {
        const char *query;
        const char *ids;
    } cases[] = {
        {"ali", "alice"},
        {"ALICE", "alice"},
        {"aLiCe sMiTh", "alice"},
        {"ali smi", "alice"},         /* words in order */
        {"smith alice", ""},          /* not in order */
        {"  ali \t smi\n", "alice"},  /* any whitespace separates words */
        {"jones", "bob"},             /* label and email */
        {"jones.example.net", "bob"}, /* email only */
        {"bob@jones", "bob"},         /* email with its @ */
        {"example.com", "admin alice carol zed"},
        {"example", "admin alice bob carol dave zed"},
        {"example.com smith", ""},        /* one side must hold every word */
        {"alice.smith example", "alice"}, /* the email, in order */
        {"%", "carol"},                   /* wildcards are literal */
        {"_", "carol"},
        {"100%", "carol"},
        {"l_1", "carol"},
        {"a%c", ""},
        {"a_i", ""},
        {"\\", ""},
        {"nh1", ""}, /* user ids are not searched */
        {"zed@", "zed"},
        {"dave", "dave"},                          /* revoked users match */
        {"   ", "admin alice bob carol dave zed"}, /* no word: every human */
        {"\xc3\xa9", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long n = 0;
        for (const char *s = cases[i].ids; *s; s++)
            n += (*s == ' ');
        n += cases[i].ids[0] != '\0';
        expect_found(a, find_req(cases[i].query, false, false, 1, 100), n, cases[i].ids);
    }
    /* the flags combine with a query; pagination applies after matching */
    expect_found(a, find_req("dave", true, false, 1, 100), 0, "");
    expect_found(a, find_req("example", true, true, 1, 2), 5, "admin alice");
    expect_found(a, find_req("example", false, false, 2, 4), 6, "dave zed");
    people_free(&p);
}
END_TEST

START_TEST(human_find_ties_unicode_and_isolation)
{
    people_t p;
    people_make(&p);
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    /* another organization with look-alikes: never seen from p */
    pclient_device_t *twin_b =
        porg_user(ut_srv, o, o->admin, "twinb@d", "STANDARD", "t2@example.com", "Twin");
    pclient_device_t *twin_a =
        porg_user(ut_srv, o, o->admin, "twina@d", "STANDARD", "t1@example.com", "Twin");
    pclient_device_t *alice = porg_user(ut_srv, o, o->admin, "alice@d", "STANDARD",
                                        "alice.smith@example.com", "Alice Smith");
    pclient_device_t *eacute =
        porg_user(ut_srv, o, o->admin, "eac@d", "STANDARD", "e@example.com", "\xc3\xa9tienne");
    expect_found(p.o->admin, find_req("alice", false, false, 1, 100), 1, "alice");
    expect_found(p.o->admin, find_req("twin", false, false, 1, 100), 0, "");
    expect_found(p.o->admin, find_req(NULL, false, false, 1, 100), 8,
                 "admin alice bob carol dave zed nh1 nh2");
    /* equal labels are ordered by user id; labels compare by their bytes
     * once lower-cased, so "é" (0xC3...) comes after ASCII letters */
    expect_found(o->admin, find_req(NULL, false, false, 1, 100), 5, "admin alice twina twinb eac");
    expect_found(o->admin, find_req("\xc3\xa9ti", false, false, 1, 100), 1, "eac");
    pclient_device_free(twin_a);
    pclient_device_free(twin_b);
    pclient_device_free(alice);
    pclient_device_free(eacute);
    porg_free(o);
    people_free(&p);
}
END_TEST

TEST_SUITE(human_find)
{
    Suite *s = suite_create("human_find");
    TCase *tc = ut_tcase("human_find");
    tcase_add_test(tc, human_find_not_for_outsider);
    tcase_add_test(tc, human_find_bad_input);
    tcase_add_test(tc, human_find_order_and_pages);
    tcase_add_test(tc, human_find_matching);
    tcase_add_test(tc, human_find_ties_unicode_and_isolation);
    suite_add_tcase(s, tc);
    return s;
}
