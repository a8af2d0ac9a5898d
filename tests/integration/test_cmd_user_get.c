/*
 * tests/integration/test_cmd_user_get.c - user_get through lighttpd and a
 * real PostgreSQL: certificates given back byte for byte, the trustchain
 * (transitive, deduplicated, through revokers and cycles), the redacted
 * view of OUTSIDER callers, isolation between organizations, bad input.
 */
#include "test_user_lib.h"
#include "testreg.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* user_get of user_id by caller; asserts "ok" and the reply's exact shape. */
static json_object *user_get_ok(const pclient_device_t *caller, const char *user_id)
{
    json_object *req = pclient_req("user_get");
    json_object_object_add(req, "user_id", json_object_new_string(user_id));
    json_object *r = porg_call(ut_srv, caller, req);
    ck_assert_msg(!strcmp(porg_status(r), "ok"), "user_get %s: %s", user_id,
                  json_object_to_json_string(r));
    ck_assert_int_eq(json_object_object_length(r), 5);
    json_object *tc;
    ck_assert(json_object_object_get_ex(r, "trustchain", &tc));
    ck_assert_int_eq(json_object_object_length(tc), 3);
    return r;
}

/* The list at reply[key] (key "devices"... of the trustchain when in_tc). */
static json_object *list_of(json_object *r, const char *key, bool in_tc)
{
    json_object *o = r, *l;
    if (in_tc)
        ck_assert(json_object_object_get_ex(r, "trustchain", &o));
    ck_assert(json_object_object_get_ex(o, key, &l));
    ck_assert(json_object_is_type(l, json_type_array));
    return l;
}

static char *b64(const pclient_blob_t *b)
{
    return pclient_b64(b->data, b->len);
}

/* The list holds exactly the n blobs, in that order when ordered, else in
 * any order (each once). */
static void assert_blobs(json_object *list, const pclient_blob_t *const *want, size_t n,
                         bool ordered, const char *what)
{
    size_t len = json_object_array_length(list);
    ck_assert_msg(len == n, "%s: %zu items, expected %zu: %s", what, len, n,
                  json_object_to_json_string(list));
    bool used[32] = {false};
    ck_assert(n <= 32);
    for (size_t i = 0; i < n; i++) {
        char *w = b64(want[i]);
        bool found = false;
        for (size_t j = 0; j < len && !found; j++) {
            if (ordered && j != i)
                continue;
            const char *got = json_object_get_string(json_object_array_get_idx(list, j));
            if (!used[j] && !strcmp(got, w))
                found = used[j] = true;
        }
        ck_assert_msg(found, "%s: certificate %zu missing or misplaced", what, i);
        free(w);
    }
}

static void assert_user_cert(json_object *r, const pclient_blob_t *want)
{
    char *w = b64(want);
    ck_assert_str_eq(porg_str(r, "user_certificate"), w);
    free(w);
}

static void assert_revoked(json_object *r, const pclient_blob_t *want)
{
    json_object *v;
    ck_assert(json_object_object_get_ex(r, "revoked_user_certificate", &v));
    if (!want) {
        ck_assert_ptr_null(v);
        return;
    }
    char *w = b64(want);
    ck_assert_str_eq(json_object_get_string(v), w);
    free(w);
}

/* Revoke user_id by author with a certificate the test keeps (*out). */
static void revoke_keep(const pclient_device_t *author, const char *user_id, pclient_blob_t *out)
{
    pclient_revoked_user_certif_t c = {author->device_id, ut_now(), user_id};
    *out = pclient_revoked_user_certif(&author->key, &c);
    json_object *req = pclient_req("user_revoke");
    json_object_object_add(req, "revoked_user_certificate", pclient_json_blob(out));
    porg_expect(ut_srv, author, req, "ok");
}

START_TEST(user_get_root_certified)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    json_object *r = user_get_ok(o->admin, "admin");
    assert_user_cert(r, &o->admin->user_certificate);
    assert_revoked(r, NULL);
    const pclient_blob_t *devs[] = {&o->admin->device_certificate};
    assert_blobs(list_of(r, "device_certificates", false), devs, 1, true, "devices");
    /* certified by the root key: nothing to walk */
    assert_blobs(list_of(r, "devices", true), NULL, 0, false, "tc devices");
    assert_blobs(list_of(r, "users", true), NULL, 0, false, "tc users");
    assert_blobs(list_of(r, "revoked_users", true), NULL, 0, false, "tc revoked");
    json_object_put(r);
    porg_free(o);
}
END_TEST

START_TEST(user_get_trustchain)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *alice =
        porg_user(ut_srv, o, o->admin, "alice@d1", "ADMIN", "alice@example.com", "Alice");
    pclient_device_t *carol = porg_user(ut_srv, o, alice, "carol@d1", "ADMIN", NULL, NULL);
    pclient_device_t *dave = porg_user(ut_srv, o, carol, "dave@d1", "STANDARD", NULL, NULL);
    pclient_device_t *dave2 = porg_device(ut_srv, dave, "d2");
    /* an unrelated user, not in dave's chain */
    pclient_device_t *erin = porg_user(ut_srv, o, o->admin, "erin@d1", "ADMIN", NULL, NULL);
    pclient_device_t *erin2 = porg_device(ut_srv, erin, "d2");

    json_object *r = user_get_ok(erin2, "dave");
    assert_user_cert(r, &dave->user_certificate);
    assert_revoked(r, NULL);
    const pclient_blob_t *devs[] = {&dave->device_certificate, &dave2->device_certificate};
    assert_blobs(list_of(r, "device_certificates", false), devs, 2, true, "devices");
    /* dave <- carol@d1 <- alice@d1 <- admin@dev1 <- root; dave@d2 <- dave@d1 */
    const pclient_blob_t *tcd[] = {&carol->device_certificate, &alice->device_certificate,
                                   &o->admin->device_certificate, &dave->device_certificate};
    const pclient_blob_t *tcu[] = {&carol->user_certificate, &alice->user_certificate,
                                   &o->admin->user_certificate, &dave->user_certificate};
    assert_blobs(list_of(r, "devices", true), tcd, 4, false, "tc devices");
    assert_blobs(list_of(r, "users", true), tcu, 4, false, "tc users");
    assert_blobs(list_of(r, "revoked_users", true), NULL, 0, false, "tc revoked");
    json_object_put(r);

    /* alice revoked by erin: erin's chain joins through alice's revoker;
     * then dave revoked by carol */
    pclient_blob_t alice_rev, dave_rev;
    revoke_keep(erin, "alice", &alice_rev);
    revoke_keep(carol, "dave", &dave_rev);
    r = user_get_ok(o->admin, "dave");
    assert_revoked(r, &dave_rev);
    const pclient_blob_t *tcd2[] = {&carol->device_certificate, &alice->device_certificate,
                                    &o->admin->device_certificate, &dave->device_certificate,
                                    &erin->device_certificate};
    const pclient_blob_t *tcu2[] = {&carol->user_certificate, &alice->user_certificate,
                                    &o->admin->user_certificate, &dave->user_certificate,
                                    &erin->user_certificate};
    const pclient_blob_t *tcr2[] = {&alice_rev, &dave_rev};
    assert_blobs(list_of(r, "devices", true), tcd2, 5, false, "tc devices");
    assert_blobs(list_of(r, "users", true), tcu2, 5, false, "tc users");
    assert_blobs(list_of(r, "revoked_users", true), tcr2, 2, false, "tc revoked");
    json_object_put(r);

    /* a revoked user's own revoker enters its chain */
    r = user_get_ok(o->admin, "alice");
    assert_revoked(r, &alice_rev);
    const pclient_blob_t *atcd[] = {&o->admin->device_certificate, &erin->device_certificate};
    const pclient_blob_t *atcu[] = {&o->admin->user_certificate, &erin->user_certificate};
    assert_blobs(list_of(r, "devices", true), atcd, 2, false, "alice tc devices");
    assert_blobs(list_of(r, "users", true), atcu, 2, false, "alice tc users");
    assert_blobs(list_of(r, "revoked_users", true), NULL, 0, false, "alice tc revoked");
    json_object_put(r);

    pclient_blob_free(&alice_rev);
    pclient_blob_free(&dave_rev);
    pclient_device_free(alice);
    pclient_device_free(carol);
    pclient_device_free(dave);
    pclient_device_free(dave2);
    pclient_device_free(erin);
    pclient_device_free(erin2);
    porg_free(o);
}
END_TEST

START_TEST(user_get_cycle)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *adm2 = porg_user(ut_srv, o, o->admin, "adm2@d", "ADMIN", NULL, NULL);
    /* admin certified adm2, adm2 revokes admin: the walk loops back */
    pclient_blob_t rev;
    revoke_keep(adm2, "admin", &rev);
    json_object *r = user_get_ok(adm2, "adm2");
    const pclient_blob_t *tcd[] = {&o->admin->device_certificate, &adm2->device_certificate};
    const pclient_blob_t *tcu[] = {&o->admin->user_certificate, &adm2->user_certificate};
    const pclient_blob_t *tcr[] = {&rev};
    assert_blobs(list_of(r, "devices", true), tcd, 2, false, "tc devices");
    assert_blobs(list_of(r, "users", true), tcu, 2, false, "tc users");
    assert_blobs(list_of(r, "revoked_users", true), tcr, 1, false, "tc revoked");
    json_object_put(r);
    r = user_get_ok(adm2, "admin");
    assert_revoked(r, &rev);
    assert_blobs(list_of(r, "devices", true), tcd, 2, false, "admin tc devices");
    json_object_put(r);
    pclient_blob_free(&rev);
    pclient_device_free(adm2);
    porg_free(o);
}
END_TEST

START_TEST(user_get_outsider_gets_redacted)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *alice =
        porg_user(ut_srv, o, o->admin, "alice@d1", "ADMIN", "alice@example.com", "Alice");
    pclient_device_t *bob =
        porg_user(ut_srv, o, alice, "bob@d1", "STANDARD", "bob@example.com", "Bob");
    pclient_device_t *bob2 = porg_device(ut_srv, bob, "d2");
    pclient_device_t *out =
        porg_user(ut_srv, o, o->admin, "out@d1", "OUTSIDER", "out@example.com", "Out");
    pclient_device_t *std = porg_user(ut_srv, o, o->admin, "std@d1", "STANDARD", NULL, NULL);
    pclient_blob_t alice_rev;
    revoke_keep(o->admin, "alice", &alice_rev);

    /* OUTSIDER: redacted user and device certificates everywhere, the
     * revocations as they are */
    json_object *r = user_get_ok(out, "bob");
    assert_user_cert(r, &bob->redacted_user_certificate);
    const pclient_blob_t *devs[] = {&bob->redacted_device_certificate,
                                    &bob2->redacted_device_certificate};
    assert_blobs(list_of(r, "device_certificates", false), devs, 2, true, "devices");
    const pclient_blob_t *tcd[] = {&alice->redacted_device_certificate,
                                   &o->admin->redacted_device_certificate,
                                   &bob->redacted_device_certificate};
    const pclient_blob_t *tcu[] = {&alice->redacted_user_certificate,
                                   &o->admin->redacted_user_certificate,
                                   &bob->redacted_user_certificate};
    const pclient_blob_t *tcr[] = {&alice_rev};
    assert_blobs(list_of(r, "devices", true), tcd, 3, false, "tc devices");
    assert_blobs(list_of(r, "users", true), tcu, 3, false, "tc users");
    assert_blobs(list_of(r, "revoked_users", true), tcr, 1, false, "tc revoked");
    json_object_put(r);
    r = user_get_ok(out, "out");
    assert_user_cert(r, &out->redacted_user_certificate);
    const pclient_blob_t *own[] = {&out->redacted_device_certificate};
    assert_blobs(list_of(r, "device_certificates", false), own, 1, true, "own devices");
    json_object_put(r);

    /* STANDARD (and ADMIN): the real ones */
    r = user_get_ok(std, "bob");
    assert_user_cert(r, &bob->user_certificate);
    const pclient_blob_t *fdevs[] = {&bob->device_certificate, &bob2->device_certificate};
    assert_blobs(list_of(r, "device_certificates", false), fdevs, 2, true, "devices");
    const pclient_blob_t *ftcd[] = {&alice->device_certificate, &o->admin->device_certificate,
                                    &bob->device_certificate};
    const pclient_blob_t *ftcu[] = {&alice->user_certificate, &o->admin->user_certificate,
                                    &bob->user_certificate};
    assert_blobs(list_of(r, "devices", true), ftcd, 3, false, "tc devices");
    assert_blobs(list_of(r, "users", true), ftcu, 3, false, "tc users");
    assert_blobs(list_of(r, "revoked_users", true), tcr, 1, false, "tc revoked");
    json_object_put(r);

    pclient_blob_free(&alice_rev);
    pclient_device_free(alice);
    pclient_device_free(bob);
    pclient_device_free(bob2);
    pclient_device_free(out);
    pclient_device_free(std);
    porg_free(o);
}
END_TEST

START_TEST(user_get_not_found_and_isolation)
{
    porg_t *a = porg_bootstrap(ut_srv, NULL);
    porg_t *b = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob_a = porg_user(ut_srv, a, a->admin, "bob@d", "STANDARD", NULL, NULL);
    pclient_device_t *bob_b = porg_user(ut_srv, b, b->admin, "bob@d", "STANDARD", NULL, NULL);
    pclient_device_t *erin_b = porg_user(ut_srv, b, b->admin, "erin@d", "STANDARD", NULL, NULL);

    const char *absent[] = {"erin", "nobody"};
    for (int i = 0; i < 2; i++) {
        json_object *req = pclient_req("user_get");
        json_object_object_add(req, "user_id", json_object_new_string(absent[i]));
        json_object *r = porg_call(ut_srv, a->admin, req);
        ck_assert_str_eq(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN),
                         "{\"status\":\"not_found\"}");
        json_object_put(r);
    }
    /* the same ids in both: each sees its own */
    json_object *r = user_get_ok(a->admin, "bob");
    assert_user_cert(r, &bob_a->user_certificate);
    const pclient_blob_t *tcd[] = {&a->admin->device_certificate};
    assert_blobs(list_of(r, "devices", true), tcd, 1, false, "tc devices");
    json_object_put(r);
    r = user_get_ok(bob_b, "admin");
    assert_user_cert(r, &b->admin->user_certificate);
    json_object_put(r);
    /* A's admin cannot read B at all */
    json_object *req = pclient_req("user_get");
    json_object_object_add(req, "user_id", json_object_new_string("erin"));
    pclient_resp_t resp;
    pclient_cmd(porg_srv_url(ut_srv), "authenticated", b->organization_id, a->admin, req, &resp);
    ck_assert_int_eq(resp.status, 401);
    pclient_resp_free(&resp);
    json_object_put(req);

    pclient_device_free(bob_a);
    pclient_device_free(bob_b);
    pclient_device_free(erin_b);
    porg_free(a);
    porg_free(b);
}
END_TEST

START_TEST(user_get_bad_input)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    json_object *base = pclient_req("user_get");
    json_object_object_add(base, "user_id", json_object_new_string("admin"));
    char long_id[40];
    memset(long_id, 'a', 33);
    long_id[33] = '\0';
    const char *bad_ids[] = {"", "bob!", "bob@d", "b\xc3\xa9", long_id, "a b", "..", "a/b"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++)
        porg_expect_no_trace(ut_srv, o->admin, set_str(ut_copy(base), "user_id", bad_ids[i]),
                             "bad_message", "user_id");
    json_object *bad_values[] = {NULL, json_object_new_int(1), json_object_new_boolean(0),
                                 json_object_new_array(), json_object_new_object()};
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++)
        porg_expect_no_trace(ut_srv, o->admin, set_json(ut_copy(base), "user_id", bad_values[i]),
                             "bad_message", "user_id");
    porg_expect_no_trace(ut_srv, o->admin, without(ut_copy(base), "user_id"), "bad_message",
                         "user_id");
    porg_expect_no_trace(ut_srv, o->admin,
                         set_json(ut_copy(base), "redacted", json_object_new_boolean(1)),
                         "bad_message", "redacted");
    /* the longest valid id is just an unknown user */
    long_id[32] = '\0';
    porg_expect(ut_srv, o->admin, set_str(ut_copy(base), "user_id", long_id), "not_found");
    porg_expect(ut_srv, o->admin, base, "ok");
    porg_free(o);
}
END_TEST

TEST_SUITE(cmd_user_get)
{
    Suite *s = suite_create("cmd_user_get");
    TCase *tc = ut_tcase("user_get");
    tcase_add_test(tc, user_get_root_certified);
    tcase_add_test(tc, user_get_trustchain);
    tcase_add_test(tc, user_get_cycle);
    tcase_add_test(tc, user_get_outsider_gets_redacted);
    tcase_add_test(tc, user_get_not_found_and_isolation);
    tcase_add_test(tc, user_get_bad_input);
    suite_add_tcase(s, tc);
    return s;
}
