/*
 * tests/integration/test_notifyd_proxy.c - notifyd behind the web servers
 *
 *   through_lighttpd: as deployed by `parsec backend run`, the websocket on
 *   the web server's port (/ws proxied), the handshake, events, scoping,
 *   revocation;
 *   front_*: the same contract at the front door of every deployment we
 *   ship (lighttpd, Apache, nginx from the etc/ templates, and `parsec
 *   backend run`): an offered subprotocol is accepted and none is named
 *   back, exactly /ws is the websocket (404 elsewhere, upgrade or not), a
 *   second message during the check closes the connection, and a client
 *   that stops reading is closed (4004) however much the proxy buffers.
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

/* ---- every shipped front ------------------------------------------------------ */

/* Loop index: the etc/ templates (websrv kinds), then `parsec backend run`. */
#define FRONT_COUNT (WEBSRV_KIND_COUNT + 1)

typedef struct {
    const char *name;
    char *url;
    PGconn *pg;
    pclient_key_t root;
    ndt_dev_t a1, a2, b1;
    ndt_proc_t *nd; /* the templates' own notifyd */
    websrv_t *w;
    ndt_run_t run; /* backend run */
    bool is_run;
    int port;
    char *dbenv;
    ndt_pub_t *pub;
    wsclient_ctx_t *ctx;
} front_t;

static void front_start(front_t *f, int i)
{
    memset(f, 0, sizeof *f);
    f->url = testenv_db_create();
    f->pg = testenv_pg_connect(f->url);
    pclient_key_generate(&f->root);
    ndt_dev_make(&f->a1, f->pg, "ORGA", &f->root, "alice@a1", "ADMIN", true, true);
    ndt_dev_make(&f->a2, f->pg, "ORGA", &f->root, "alice@a2", NULL, false, false);
    ndt_dev_make(&f->b1, f->pg, "ORGA", &f->root, "bob@b1", "STANDARD", false, true);
    f->is_run = i == WEBSRV_KIND_COUNT;
    if (f->is_run) {
        f->name = "parsec backend run";
        ndt_run_start(&f->run, f->url);
        f->port = f->run.port;
    } else {
        f->name = websrv_kind_name((websrv_kind)i);
        f->nd = ndt_start(f->url, NULL);
        ck_assert_int_ge(asprintf(&f->dbenv, "PARSEC_DB=%s", f->url), 0);
        const char *env[] = {f->dbenv, "PARSEC_DB_MIN_CONNECTIONS=1", "PARSEC_DB_MAX_CONNECTIONS=2",
                             NULL};
        f->w = websrv_start_notifyd((websrv_kind)i, env, "", f->nd->port);
        ck_assert_msg(f->w != NULL, "%s did not start", f->name);
        f->port = websrv_port(f->w);
    }
    f->pub = ndt_pub_new(f->url);
    f->ctx = wsclient_ctx_new(16);
}

static void front_stop(front_t *f)
{
    wsclient_ctx_free(f->ctx);
    ndt_pub_free(f->pub);
    if (f->is_run) {
        ck_assert_int_eq(ndt_run_stop(&f->run), 0);
    } else {
        ck_assert_msg(websrv_stop(f->w), "%s did not stop cleanly", f->name);
        ck_assert_int_eq(ndt_stop(f->nd), 0);
    }
    free(f->dbenv);
    PQfinish(f->pg);
    testenv_db_drop(f->url);
    free(f->url);
}

START_TEST(front_upgrade_rules)
{
    front_t f;
    front_start(&f, _i);

    /* An offered subprotocol: upgraded, none named back. */
    char *head = NULL;
    long st = ndt_upgrade_raw(f.port, "/ws", "Sec-WebSocket-Protocol: parsec\r\n", &head);
    ck_assert_msg(st == 101, "%s: offering a subprotocol: %ld\n%s", f.name, st, head);
    char *echo = ndt_header(head, "Sec-WebSocket-Protocol");
    ck_assert_msg(echo == NULL, "%s: named %s back", f.name, echo);
    free(head);
    wsclient_t *c =
        wsclient_connect_proto(f.ctx, "127.0.0.1", f.port, "/ws", false, "parsec, v2", NDT_WAIT);
    ck_assert_msg(c != NULL, "%s: no websocket offering subprotocols", f.name);
    ck_assert_ptr_null(wsclient_server_subprotocol(c));
    json_object *r = ndt_handshake(c, &f.a1);
    ck_assert_str_eq(ndt_str(r, "result"), "ok");
    json_object_put(r);

    /* Exactly /ws, with or without a query string; elsewhere an upgrade is
     * an HTTP 404, never a 5xx. */
    st = ndt_upgrade_raw(f.port, "/ws?x=1", "", &head);
    ck_assert_msg(st == 101, "%s: upgrade on /ws?x=1: %ld\n%s", f.name, st, head);
    free(head);
    static const char *const others[] = {"/ws/", "/wsx", "/ws/x"};
    for (size_t k = 0; k < sizeof others / sizeof *others; k++) {
        st = ndt_upgrade_raw(f.port, others[k], "", &head);
        ck_assert_msg(st == 404, "%s: upgrade on %s: %ld\n%s", f.name, others[k], st, head);
        free(head);
    }
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ws", f.port);
    http_result_t *res = testhttp_request("GET", url, NULL, NULL, 0);
    ck_assert_msg(res->status == 426, "%s: GET /ws: %ld", f.name, res->status);
    testhttp_free(res);

    /* A second message during the check: closed.  Through a proxy the two
     * may arrive apart, the result (ok) leaving in between: then the second
     * is one after the result, closed all the same. */
    c = wsclient_connect(f.ctx, "127.0.0.1", f.port, "/ws", false, NDT_WAIT);
    ck_assert_ptr_nonnull(c);
    ndt_send_answer(c, &f.a2, 2);
    ndt_expect_closed(c, 1008, "no message expected after the answer", NDT_WAIT);
    ck_assert_uint_le(wsclient_pending(c), 1);
    r = wsclient_recv_json(c, 0);
    ck_assert_msg(!r || !strcmp(ndt_str(r, "result"), "ok"), "%s: %s", f.name,
                  json_object_to_json_string(r));
    json_object_put(r);
    front_stop(&f);
}
END_TEST

/* notifyd's log (the templates' notifyd, or backend run's whole log). */
static char *front_log(const front_t *f)
{
    if (!f->is_run)
        return ndt_log(f->nd);
    FILE *fp = fopen(f->run.log, "r");
    char *buf = NULL;
    size_t cap = 0;
    if (!fp || getdelim(&buf, &cap, '\0', fp) < 0) {
        free(buf);
        buf = strdup("");
    }
    if (fp)
        fclose(fp);
    return buf;
}

/* A client that stops reading, behind the proxy: events keep coming (the
 * reading client takes each batch), and the stalled one is closed with
 * 4004 once it is too far behind, however much the proxy would buffer.
 * When it reads again it finds what was in flight, then the close. */
START_TEST(front_slow_reader)
{
    front_t f;
    front_start(&f, _i);
    wsclient_t *slow = ndt_connect(f.ctx, f.port, &f.a2);
    wsclient_t *fast = ndt_connect(f.ctx, f.port, &f.b1);
    wsclient_pause(slow, true);

    /* Small events (a proxy buffers many of them): up to 20,000, in
     * transactions of 100 that the reading client takes as they come,
     * until notifyd has closed the stalled one. */
    enum { TOTAL = 20000, BATCH = 100 };
    const char *p[] = {EVENT_CHANNEL, NULL, NULL};
    int sent = 0;
    bool overflowed = false;
    while (sent < TOTAL && !overflowed) {
        char from[16], to[16];
        snprintf(from, sizeof from, "%d", sent + 1);
        snprintf(to, sizeof to, "%d", sent + BATCH);
        p[1] = from;
        p[2] = to;
        ndt_sql(f.pg,
                "SELECT pg_notify($1, json_build_object('o', 'ORGA', 't', 'pinged', 'a', "
                "'alice@a1', 'ping', i::text)::text) FROM generate_series($2::int, $3::int) i",
                3, p);
        for (int k = sent + 1; k <= sent + BATCH; k++) {
            json_object *m = ndt_expect(fast, "pinged", NDT_WAIT);
            ck_assert_int_eq(atoi(ndt_str(m, "ping")), k);
            json_object_put(m);
        }
        sent += BATCH;
        char *log = front_log(&f);
        overflowed = strstr(log, "does not read its events") != NULL;
        free(log);
    }
    ck_assert_msg(overflowed, "%s: a client that read nothing of %d events was not closed", f.name,
                  sent);
    /* Reading again, it finds what was in flight, then the close and why. */
    wsclient_pause(slow, false);
    ck_assert_msg(wsclient_wait_closed(slow, NDT_WAIT), "%s: the stalled client is still open",
                  f.name);
    size_t got = wsclient_pending(slow);
    fprintf(stderr, "%s: stalled reader closed after %d events; it then read %zu (close %d)\n",
            f.name, sent, got, wsclient_close_code(slow));
    ck_assert_int_eq(wsclient_close_code(slow), 4004);
    ck_assert_str_eq(wsclient_close_reason(slow), "send queue overflow");
    /* The reading one is still served. */
    ndt_ping(f.pub, "ORGA", "alice@a1", "after");
    ndt_expect_ping(fast, "after", NDT_WAIT);
    front_stop(&f);
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
    TCase *fronts = tcase_create("fronts");
    tcase_set_timeout(fronts, 120);
    tcase_add_loop_test(fronts, front_upgrade_rules, 0, FRONT_COUNT);
    tcase_add_loop_test(fronts, front_slow_reader, 0, FRONT_COUNT);
    suite_add_tcase(s, fronts);
    return s;
}
