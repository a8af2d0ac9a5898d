/*
 * tests/integration/test_cmd_user_revoke.c - user_revoke through lighttpd
 * (two worker processes) and a real PostgreSQL, and its effects: the
 * revoked user's next request is refused whichever device and worker, the
 * user.revoked event is published at commit only, and notifyd closes the
 * user's websockets.
 */
#include "certif.h"
#include "test_notifyd_lib.h"
#include "test_user_lib.h"
#include "testreg.h"
#include "xalloc.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC INT64_C(1000000)

static void assert_ping(const pclient_device_t *d, const char *status)
{
    char *st = ut_ping(d);
    ck_assert_msg(strcmp(st, status) == 0, "ping by %s: %s, expected %s", d->device_id, st, status);
    free(st);
}

/* A revocation of user_id signed by author's key with the given fields. */
static json_object *revoke_req(const pclient_key_t *key, const char *author, const char *user_id,
                               int64_t ts)
{
    pclient_revoked_user_certif_t c = {author, ts, user_id};
    json_object *req = pclient_req("user_revoke");
    return set_blob(req, "revoked_user_certificate", pclient_revoked_user_certif(key, &c));
}

START_TEST(revoke_ok_and_effects)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob =
        porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", "bob@example.com", "Bob");
    pclient_device_t *bob2 = porg_device(ut_srv, bob, "dev2");
    assert_ping(bob, "ok");
    assert_ping(bob2, "ok");

    int64_t ts = ut_now() + 10 * SEC; /* a revocation may be dated ahead */
    pclient_revoked_user_certif_t c = {o->admin->device_id, ts, "bob"};
    pclient_blob_t cert = pclient_revoked_user_certif(&o->admin->key, &c);
    json_object *req = pclient_req("user_revoke");
    json_object_object_add(req, "revoked_user_certificate", pclient_json_blob(&cert));
    porg_expect(ut_srv, o->admin, req, "ok");

    /* stored: the timestamp, the certificate as received, its certifier */
    char *hex = ut_hex(cert.data, cert.len);
    char *v = ut_sql("SELECT encode(revoked_user_certificate, 'hex') FROM user_ u"
                     " JOIN organization o ON o._id = u.organization"
                     " WHERE o.organization_id = $1 AND u.user_id = 'bob'",
                     o->organization_id, NULL);
    ck_assert_str_eq(v, hex);
    free(v);
    free(hex);
    char *want_ts = pclient_datetime(ts);
    v = ut_sql(
        "SELECT to_char(u.revoked_on AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        " FROM user_ u JOIN organization o ON o._id = u.organization"
        " WHERE o.organization_id = $1 AND u.user_id = 'bob'",
        o->organization_id, NULL);
    ck_assert_str_eq(v, want_ts);
    free(v);
    free(want_ts);
    ck_assert_int_eq(ut_sql_long("SELECT count(*) FROM user_ u JOIN device d"
                                 " ON d._id = u.revoked_user_certifier"
                                 " JOIN organization o ON o._id = u.organization"
                                 " WHERE o.organization_id = $1 AND u.user_id = 'bob'"
                                 " AND d.device_id = 'admin@dev1'",
                                 o->organization_id, NULL),
                     1);

    /* every device of bob is refused from its next request on, in every
     * worker (several requests: lighttpd spreads them over its workers),
     * although the revocation is dated in the future */
    for (int i = 0; i < 4; i++) {
        assert_ping(bob, "revoked_user");
        assert_ping(bob2, "revoked_user");
    }
    pclient_device_t *nu = ut_new_user(o, bob, "carol@d", "STANDARD", NULL, ut_now());
    porg_expect(ut_srv, bob, pclient_req_user_create(nu), "revoked_user");
    pclient_device_t *bob3 = pclient_device_new(bob, "dev3", NULL, bob, ut_now());
    porg_expect(ut_srv, bob, pclient_req_device_create(bob3), "revoked_user");
    /* the others are not */
    assert_ping(o->admin, "ok");

    /* user_get gives the revocation back byte for byte */
    json_object *get = pclient_req("user_get");
    json_object_object_add(get, "user_id", json_object_new_string("bob"));
    json_object *r = porg_call(ut_srv, o->admin, get);
    ck_assert_str_eq(porg_status(r), "ok");
    char *b64 = pclient_b64(cert.data, cert.len);
    ck_assert_str_eq(porg_str(r, "revoked_user_certificate"), b64);
    free(b64);
    json_object_put(r);

    pclient_blob_free(&cert);
    pclient_device_free(nu);
    pclient_device_free(bob3);
    pclient_device_free(bob2);
    pclient_device_free(bob);
    porg_free(o);
}
END_TEST

START_TEST(revoke_not_admin)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *std = porg_user(ut_srv, o, o->admin, "std@d", "STANDARD", NULL, NULL);
    pclient_device_t *out = porg_user(ut_srv, o, o->admin, "out@d", "OUTSIDER", NULL, NULL);
    const pclient_device_t *callers[] = {std, out};
    for (int i = 0; i < 2; i++) {
        const pclient_device_t *c = callers[i];
        char *reason = xasprintf("User `%s` is not admin", c->user_id);
        porg_expect_no_trace(ut_srv, c, pclient_req_user_revoke(c, "admin", ut_now()),
                             "not_allowed", reason);
        /* before the fields are read */
        porg_expect_no_trace(ut_srv, c, pclient_req("user_revoke"), "not_allowed", reason);
        free(reason);
    }
    assert_ping(o->admin, "ok");
    pclient_device_free(std);
    pclient_device_free(out);
    porg_free(o);
}
END_TEST

START_TEST(revoke_self_not_found_already)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    porg_t *other = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *adm2 = porg_user(ut_srv, o, o->admin, "adm2@d", "ADMIN", NULL, NULL);
    pclient_device_t *elsewhere =
        porg_user(ut_srv, other, other->admin, "erin@d", "STANDARD", NULL, NULL);

    /* oneself, from any of one's devices */
    porg_expect_no_trace(ut_srv, o->admin, pclient_req_user_revoke(o->admin, "admin", ut_now()),
                         "not_allowed", "Cannot do self-revocation");
    pclient_device_t *admin_dev2 = porg_device(ut_srv, o->admin, "dev2");
    porg_expect_no_trace(ut_srv, admin_dev2, pclient_req_user_revoke(admin_dev2, "admin", ut_now()),
                         "not_allowed", "Cannot do self-revocation");
    /* ... decided after the ballpark */
    porg_expect_no_trace(ut_srv, o->admin,
                         pclient_req_user_revoke(o->admin, "admin", ut_now() - 600 * SEC),
                         "invalid_certification", "Invalid timestamp in certification.");

    /* unknown here, even though another organization has it */
    porg_expect_no_trace(ut_srv, o->admin, pclient_req_user_revoke(o->admin, "erin", ut_now()),
                         "not_found", NULL);
    porg_expect_no_trace(ut_srv, o->admin, pclient_req_user_revoke(o->admin, "nobody", ut_now()),
                         "not_found", NULL);
    assert_ping(elsewhere, "ok");

    porg_revoke(ut_srv, o->admin, "adm2");
    porg_expect_no_trace(ut_srv, o->admin, pclient_req_user_revoke(o->admin, "adm2", ut_now()),
                         "already_revoked", "User `adm2` already revoked");
    /* not_found has no reason */
    json_object *r =
        porg_call(ut_srv, o->admin, pclient_req_user_revoke(o->admin, "nobody", ut_now()));
    ck_assert_str_eq(porg_status(r), "not_found");
    json_object_put(r);

    pclient_device_free(admin_dev2);
    pclient_device_free(adm2);
    pclient_device_free(elsewhere);
    porg_free(o);
    porg_free(other);
}
END_TEST

START_TEST(revoke_bad_fields_and_certificates)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    int64_t now = ut_now();
    json_object *base = pclient_req_user_revoke(o->admin, "bob", now);
    ut_bad_bytes_field(o->admin, base, "revoked_user_certificate", CERTIF_MAX_SIZE);

    pclient_revoked_user_certif_t c = {o->admin->device_id, now, "bob"};
    char *payload = pclient_revoked_user_certif_payload(&c);
    ut_bad_certificates(o->admin, base, "revoked_user_certificate", payload,
                        &bob->user_certificate);
    free(payload);

    /* signed by bob, naming the admin; signed by the admin, naming bob */
    porg_expect_no_trace(ut_srv, o->admin, revoke_req(&bob->key, "admin@dev1", "bob", now),
                         "invalid_certification", "bad signature");
    porg_expect_no_trace(ut_srv, o->admin, revoke_req(&o->admin->key, "bob@d", "bob", now),
                         "invalid_certification", "author");
    /* by another admin device than the sender */
    pclient_device_t *adm2 = porg_user(ut_srv, o, o->admin, "adm2@d", "ADMIN", NULL, NULL);
    porg_expect_no_trace(ut_srv, o->admin, pclient_req_user_revoke(adm2, "bob", ut_now()),
                         "invalid_certification", "author");
    /* an invalid user id inside */
    porg_expect_no_trace(ut_srv, o->admin,
                         revoke_req(&o->admin->key, "admin@dev1", "bob!", ut_now()),
                         "invalid_certification", "user_id");

    /* the ballpark */
    int64_t bad[] = {-73 * SEC, 53 * SEC, INT64_MIN}; /* from the time of each request */
    for (int i = 0; i < 3; i++)
        porg_expect_no_trace(
            ut_srv, o->admin,
            pclient_req_user_revoke(o->admin, "bob", bad[i] == INT64_MIN ? 0 : ut_now() + bad[i]),
            "invalid_certification", "Invalid timestamp in certification.");
    assert_ping(bob, "ok");

    porg_expect(ut_srv, o->admin, base, "ok");
    assert_ping(bob, "revoked_user");
    pclient_device_free(adm2);
    pclient_device_free(bob);
    porg_free(o);
}
END_TEST

START_TEST(revoke_then_email_free_and_admin_revoked)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *adm2 =
        porg_user(ut_srv, o, o->admin, "adm2@d", "ADMIN", "two@example.com", "Two");
    /* an admin revokes the first one, who can then do nothing */
    porg_revoke(ut_srv, adm2, "admin");
    pclient_device_t *nu = ut_new_user(o, o->admin, "carol@d", "STANDARD", NULL, ut_now());
    porg_expect(ut_srv, o->admin, pclient_req_user_create(nu), "revoked_user");
    porg_expect(ut_srv, o->admin, pclient_req_user_revoke(o->admin, "adm2", ut_now()),
                "revoked_user");
    /* its email is free again */
    char *email = xstrdup(o->admin->human_email);
    pclient_device_t *again = porg_user(ut_srv, o, adm2, "admin2@d", "ADMIN", email, "Again");
    free(email);
    assert_ping(again, "ok");
    pclient_device_free(again);
    pclient_device_free(nu);
    pclient_device_free(adm2);
    porg_free(o);
}
END_TEST

START_TEST(revoke_concurrent)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *adm2 = porg_user(ut_srv, o, o->admin, "adm2@d", "ADMIN", NULL, NULL);
    /* several admins' devices revoke bob at once: one wins, the others see
     * the winner's revocation (the row lock serialises them) */
    for (int round = 0; round < 3; round++) {
        char id[32];
        snprintf(id, sizeof id, "bob%d@d", round);
        pclient_device_t *bob = porg_user(ut_srv, o, o->admin, id, "STANDARD", NULL, NULL);
        const pclient_device_t *callers[4] = {o->admin, adm2, o->admin, adm2};
        json_object *reqs[4];
        for (int i = 0; i < 4; i++)
            reqs[i] = pclient_req_user_revoke(callers[i], bob->user_id, ut_now());
        char statuses[4][UT_STATUS_MAX];
        ut_race(callers, reqs, 4, statuses);
        int ok = 0, already = 0;
        for (int i = 0; i < 4; i++) {
            ok += !strcmp(statuses[i], "ok");
            already += !strcmp(statuses[i], "already_revoked");
        }
        ck_assert_msg(ok == 1 && already == 3, "%s / %s / %s / %s", statuses[0], statuses[1],
                      statuses[2], statuses[3]);
        assert_ping(bob, "revoked_user");
        pclient_device_free(bob);
    }
    pclient_device_free(adm2);
    porg_free(o);
}
END_TEST

/* ---- the event ---- */

/* The next notification on pg within timeout_ms, or NULL (malloc'd). */
static char *next_notification(PGconn *pg, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
        ck_assert(PQconsumeInput(pg));
        PGnotify *n = PQnotifies(pg);
        if (n) {
            char *payload = xstrdup(n->extra);
            PQfreemem(n);
            return payload;
        }
        struct pollfd p = {PQsocket(pg), POLLIN, 0};
        poll(&p, 1, 50);
    }
    return NULL;
}

/* The next notification of organization org (others' are skipped), or NULL. */
static json_object *next_event_of(PGconn *pg, const char *org, int timeout_ms)
{
    char *payload;
    while ((payload = next_notification(pg, timeout_ms)) != NULL) {
        json_object *e = json_tokener_parse(payload);
        free(payload);
        ck_assert_ptr_nonnull(e);
        if (porg_str(e, "o") && !strcmp(porg_str(e, "o"), org))
            return e;
        json_object_put(e);
    }
    return NULL;
}

START_TEST(revoke_publishes_at_commit_only)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    PGconn *pg = porg_pg(ut_srv);
    PQclear(PQexec(pg, "LISTEN " EVENT_CHANNEL));

    /* refused revocations publish nothing */
    porg_expect(ut_srv, o->admin, pclient_req_user_revoke(o->admin, "admin", ut_now()),
                "not_allowed");
    porg_expect(ut_srv, o->admin, pclient_req_user_revoke(o->admin, "nobody", ut_now()),
                "not_found");
    porg_expect(ut_srv, o->admin, pclient_req_user_revoke(o->admin, "bob", 0),
                "invalid_certification");
    json_object *e = next_event_of(pg, o->organization_id, 500);
    ck_assert_msg(e == NULL, "unexpected event %s", e ? json_object_to_json_string(e) : "");

    porg_revoke(ut_srv, o->admin, "bob");
    e = next_event_of(pg, o->organization_id, 5000);
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(porg_str(e, "t"), "user.revoked");
    ck_assert_str_eq(porg_str(e, "a"), "admin@dev1");
    ck_assert_str_eq(porg_str(e, "user"), "bob");
    /* and "n", event_publish()'s counter (common/event.h) */
    json_object *n = NULL;
    ck_assert(json_object_object_get_ex(e, "n", &n) && json_object_is_type(n, json_type_int));
    ck_assert_int_eq(json_object_object_length(e), 5);
    json_object_put(e);

    porg_expect(ut_srv, o->admin, pclient_req_user_revoke(o->admin, "bob", ut_now()),
                "already_revoked");
    e = next_event_of(pg, o->organization_id, 500);
    ck_assert_msg(e == NULL, "unexpected event %s", e ? json_object_to_json_string(e) : "");
    PQfinish(pg);
    pclient_device_free(bob);
    porg_free(o);
}
END_TEST

START_TEST(revoke_closes_websockets)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    pclient_device_t *bob2 = porg_device(ut_srv, bob, "dev2");
    pclient_device_t *carol = porg_user(ut_srv, o, o->admin, "carol@d", "STANDARD", NULL, NULL);
    ndt_proc_t *nd = ndt_start(porg_srv_db(ut_srv), NULL);
    wsclient_ctx_t *ctx = wsclient_ctx_new(8);
    ndt_dev_t nb = ndt_dev_of(bob, o->root.pub), nb2 = ndt_dev_of(bob2, o->root.pub),
              na = ndt_dev_of(o->admin, o->root.pub);
    wsclient_t *wb = ndt_connect(ctx, nd->port, &nb);
    wsclient_t *wb2 = ndt_connect(ctx, nd->port, &nb2);
    wsclient_t *wa = ndt_connect(ctx, nd->port, &na);

    porg_revoke(ut_srv, o->admin, "bob");
    ndt_expect_closed(wb, 4002, "user revoked", NDT_WAIT);
    ndt_expect_closed(wb2, 4002, "user revoked", NDT_WAIT);
    /* the admin's connection lives on: it receives carol's ping */
    json_object *ping = pclient_req("ping");
    json_object_object_add(ping, "ping", json_object_new_string("still there"));
    porg_expect(ut_srv, carol, ping, "ok");
    ndt_expect_ping(wa, "still there", NDT_WAIT);
    /* and bob cannot come back */
    wsclient_t *again = wsclient_connect(ctx, "127.0.0.1", nd->port, "/ws", false, NDT_WAIT);
    ck_assert_ptr_nonnull(again);
    json_object *res = ndt_handshake(again, &nb);
    ck_assert_str_eq(ndt_str(res, "result"), "revoked_device");
    json_object_put(res);

    wsclient_ctx_free(ctx);
    ck_assert_int_eq(ndt_stop(nd), 0);
    pclient_device_free(carol);
    pclient_device_free(bob2);
    pclient_device_free(bob);
    porg_free(o);
}
END_TEST

TEST_SUITE(cmd_user_revoke)
{
    Suite *s = suite_create("cmd_user_revoke");
    TCase *tc = ut_tcase("user_revoke");
    tcase_add_test(tc, revoke_ok_and_effects);
    tcase_add_test(tc, revoke_not_admin);
    tcase_add_test(tc, revoke_self_not_found_already);
    tcase_add_test(tc, revoke_bad_fields_and_certificates);
    tcase_add_test(tc, revoke_then_email_free_and_admin_revoked);
    tcase_add_test(tc, revoke_concurrent);
    tcase_add_test(tc, revoke_publishes_at_commit_only);
    tcase_add_test(tc, revoke_closes_websockets);
    suite_add_tcase(s, tc);
    return s;
}
