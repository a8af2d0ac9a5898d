/*
 * tests/integration/test_notifyd_proxy.c - notifyd through lighttpd, as
 * deployed by `parsec backend run`: the websocket on the web server's port
 * (/ws proxied), the handshake, events, scoping, revocation.
 */
#include "test_notifyd_lib.h"
#include "testenv.h"
#include "testreg.h"
#include "websrv.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

START_TEST(through_lighttpd)
{
    char *url = testenv_db_create();
    PGconn *pg = testenv_pg_connect(url);
    pclient_key_t ra, rb;
    pclient_key_generate(&ra);
    pclient_key_generate(&rb);
    ndt_dev_t a1, a2, b1, x1;
    ndt_dev_make(&a1, pg, "ORGA", &ra, "alice@a1", "ADMIN", true, true);
    ndt_dev_make(&a2, pg, "ORGA", &ra, "alice@a2", NULL, false, false);
    ndt_dev_make(&b1, pg, "ORGA", &ra, "bob@b1", "STANDARD", false, true);
    ndt_dev_make(&x1, pg, "ORGB", &rb, "alice@a1", "STANDARD", true, true);
    ndt_run_t r;
    ndt_run_start(&r, url);
    ndt_pub_t *pub = ndt_pub_new(url);
    wsclient_ctx_t *ctx = wsclient_ctx_new(16);

    /* Every handshake outcome crosses the proxy. */
    wsclient_t *c = wsclient_connect(ctx, "127.0.0.1", r.port, "/ws", false, NDT_WAIT);
    ck_assert_msg(c != NULL, "no websocket through lighttpd (see %s)", r.log);
    ndt_dev_t bad = a1;
    bad.rvk[0] ^= 1;
    json_object *res = ndt_handshake(c, &bad);
    ck_assert_str_eq(ndt_str(res, "result"), "rvk_mismatch");
    json_object_put(res);
    ndt_expect_closed(c, 1008, "rvk_mismatch", NDT_WAIT);

    wsclient_t *wa1 = ndt_connect(ctx, r.port, &a1);
    wsclient_t *wa2 = ndt_connect(ctx, r.port, &a2);
    wsclient_t *wb1 = ndt_connect(ctx, r.port, &b1);
    wsclient_t *wx1 = ndt_connect(ctx, r.port, &x1);

    ndt_ping(pub, "ORGA", "alice@a1", "via lighttpd");
    ndt_expect_ping(wa2, "via lighttpd", NDT_WAIT);
    ndt_expect_ping(wb1, "via lighttpd", NDT_WAIT);
    ndt_ping(pub, "ORGB", NULL, "barrier");
    ndt_expect_ping(wx1, "barrier", NDT_WAIT);
    ndt_ping(pub, "ORGA", NULL, "barrier");
    ndt_expect_ping(wa1, "barrier", NDT_WAIT); /* the sender did not get its own */
    ndt_expect_ping(wa2, "barrier", NDT_WAIT);
    ndt_expect_ping(wb1, "barrier", NDT_WAIT);

    /* The real producer: the authenticated `ping` command, served by the
     * FastCGI workers behind the same lighttpd. */
    const char *base = ndt_run_url(&r);
    json_object *req = pclient_req("ping");
    json_object_object_add(req, "ping", json_object_new_string("from http"));
    char *st = ndt_cmd(base, &a1, req);
    ck_assert_str_eq(st, "ok");
    free(st);
    ndt_expect_ping(wa2, "from http", NDT_WAIT);
    ndt_expect_ping(wb1, "from http", NDT_WAIT);
    ndt_ping(pub, "ORGA", NULL, "barrier2");
    ndt_expect_ping(wa1, "barrier2", NDT_WAIT); /* the sender did not get its own */
    ndt_expect_ping(wa2, "barrier2", NDT_WAIT);
    ndt_expect_ping(wb1, "barrier2", NDT_WAIT);

    /* Revocation closes bob's connection, with its reason, through the proxy. */
    ndt_sql(pg,
            "UPDATE user_ SET revoked_on = now(), revoked_user_certificate = '\\x00' "
            "WHERE user_id = 'bob'",
            0, NULL);
    event_t ev = {.type = EVENT_USER_REVOKED, .org = "ORGA", .author = "alice@a1", .user = "bob"};
    ndt_publish(pub, &ev, true);
    ndt_expect_closed(wb1, 4002, "user revoked", NDT_WAIT);

    /* The real producer of expiry: the administration API's PATCH. */
    char patch[128];
    snprintf(patch, sizeof patch, "%s/administration/organizations/ORGA", base);
    const char *hdrs[] = {"Authorization: Bearer t0k3n", "Content-Type: application/json", NULL};
    http_result_t *hr = testhttp_request("PATCH", patch, hdrs, "{\"is_expired\": true}", 20);
    ck_assert_msg(hr->status == 200, "PATCH: %ld %s", hr->status, (char *)hr->body);
    testhttp_free(hr);
    ndt_expect_closed(wa2, 4003, "organization expired", NDT_WAIT);
    ndt_expect_closed(wa1, 4003, "organization expired", NDT_WAIT);
    /* ORGB is untouched. */
    ndt_ping(pub, "ORGB", NULL, "still");
    ndt_expect_ping(wx1, "still", NDT_WAIT);

    /* Stopping the supervisor closes the websockets cleanly. */
    ck_assert_int_eq(ndt_run_stop(&r), 0);
    ck_assert(wsclient_wait_closed(wx1, NDT_WAIT));

    wsclient_ctx_free(ctx);
    ndt_pub_free(pub);
    PQfinish(pg);
    testenv_db_drop(url);
    free(url);
}
END_TEST

TEST_SUITE(notifyd_proxy)
{
    Suite *s = suite_create("notifyd_proxy");
    TCase *tc = tcase_create("proxy");
    testenv_db_setup();
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, through_lighttpd);
    suite_add_tcase(s, tc);
    return s;
}
