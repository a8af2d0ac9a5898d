/*
 * tests/integration/test_ws_proxy.c - the websocket through the shipped
 * web server configurations
 *
 * For lighttpd, Apache (mod_fcgid, mod_proxy_wstunnel) and nginx
 * (spawn-fcgi), each started from the templates in etc/ (tests/lib/websrv.h)
 * at the root and under a mount prefix, in front of the FastCGI workers and
 * a real parsec-notifyd on a migrated database: on the web server's port,
 *   - a websocket on <mount>/ws completes the handshake (result ok);
 *   - the authenticated `ping` command, served by the workers on that same
 *     port, reaches the other devices' websockets as `pinged`;
 *   - <mount>/wsx and <mount>/ws/x reach the workers (their 404, with
 *     X-Request-Id), a plain GET <mount>/ws reaches notifyd (its 426, no
 *     X-Request-Id), and no websocket opens on <mount>/wsx;
 *   - notifyd's close frame (1001 on shutdown) crosses the proxy.
 *
 * Not tested here: that a websocket survives more than the servers' default
 * 60 s of silence.  notifyd pings every client after 20 s without a pong,
 * so a connection to it is never silent that long and such a test could not
 * fail; proving the raised limits would take a silent backend and over a
 * minute per server.  etc/README.md explains the limits.
 */
#include "test_notifyd_lib.h"
#include "testenv.h"
#include "testreg.h"
#include "websrv.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Loop index i: server kind i % WEBSRV_KIND_COUNT, mounted at the root for
 * the first round, under /parsec for the second. */
static const char *mount_of(int i)
{
    return i < WEBSRV_KIND_COUNT ? "" : "/parsec";
}

/* A websocket to <mount>/ws on the web server's port, handshake done as d. */
static wsclient_t *connect_via(wsclient_ctx_t *ctx, const websrv_t *w, const char *name,
                               const char *mount, const ndt_dev_t *d)
{
    char path[64];
    snprintf(path, sizeof path, "%s/ws", mount);
    wsclient_t *c = wsclient_connect(ctx, "127.0.0.1", websrv_port(w), path, false, NDT_WAIT);
    if (!c) {
        char *log = websrv_error_log(w);
        fprintf(stderr, "%s\n", log ? log : "");
        free(log);
    }
    ck_assert_msg(c != NULL, "no websocket on %s through %s", path, name);
    json_object *r = ndt_handshake(c, d);
    ck_assert_msg(r != NULL, "no handshake result for %s through the proxy", d->device_id);
    ck_assert_msg(!strcmp(ndt_str(r, "result"), "ok"), "handshake of %s: %s (%s)", d->device_id,
                  ndt_str(r, "result"), ndt_str(r, "help"));
    json_object_put(r);
    return c;
}

/* GET path on w: the status, and whether the worker answered (X-Request-Id). */
static long get_status(const websrv_t *w, const char *path, bool *from_worker)
{
    char *url = websrv_urlf(w, path);
    http_result_t *res = testhttp_request("GET", url, NULL, NULL, 0);
    char *rid = testhttp_header(res, "X-Request-Id");
    *from_worker = rid != NULL;
    long status = res->status;
    free(rid);
    testhttp_free(res);
    free(url);
    return status;
}

START_TEST(ws_through_shipped_configs)
{
    websrv_kind kind = (websrv_kind)(_i % WEBSRV_KIND_COUNT);
    const char *mount = mount_of(_i);
    const char *name = websrv_kind_name(kind);

    char *url = testenv_db_create();
    PGconn *pg = testenv_pg_connect(url);
    pclient_key_t root;
    pclient_key_generate(&root);
    ndt_dev_t a1, a2, b1;
    ndt_dev_make(&a1, pg, "ORGA", &root, "alice@a1", "ADMIN", true, true);
    ndt_dev_make(&a2, pg, "ORGA", &root, "alice@a2", NULL, false, false);
    ndt_dev_make(&b1, pg, "ORGA", &root, "bob@b1", "STANDARD", false, true);

    ndt_proc_t *nd = ndt_start(url, NULL);
    char *dbenv = NULL;
    ck_assert_int_ge(asprintf(&dbenv, "PARSEC_DB=%s", url), 0);
    const char *env[] = {dbenv, "PARSEC_DB_MIN_CONNECTIONS=1", "PARSEC_DB_MAX_CONNECTIONS=2",
                         "PARSEC_LOG_LEVEL=INFO", NULL};
    websrv_t *w = websrv_start_notifyd(kind, env, mount, nd->port);
    ck_assert_msg(w != NULL, "%s did not start", name);
    wsclient_ctx_t *ctx = wsclient_ctx_new(8);

    /* The handshake, through the proxy. */
    wsclient_t *wa1 = connect_via(ctx, w, name, mount, &a1);
    wsclient_t *wa2 = connect_via(ctx, w, name, mount, &a2);
    wsclient_t *wb1 = connect_via(ctx, w, name, mount, &b1);

    /* The real producer on the same port: the workers serve `ping` and
     * publish; notifyd delivers through the proxy. */
    char *token = pclient_auth_token("ORGA", "alice@a1", &a1.key, time(NULL));
    char authz[512];
    snprintf(authz, sizeof authz, "PARSEC-SIGN-ED25519 %s", token);
    free(token);
    pclient_opts_t opts = {.authorization = authz};
    char text[64];
    snprintf(text, sizeof text, "via %s%s", name, mount);
    json_object *req = pclient_req("ping");
    json_object_object_add(req, "ping", json_object_new_string(text));
    pclient_resp_t resp;
    ck_assert(pclient_cmd_ex(websrv_url(w), "authenticated", "ORGA", NULL, &opts, req, &resp));
    json_object_put(req);
    ck_assert_msg(resp.status == 200 && pclient_status(&resp) &&
                      !strcmp(pclient_status(&resp), "ok"),
                  "ping through %s: %ld %s", name, resp.status, resp.body);
    pclient_resp_free(&resp);
    ndt_expect_ping(wa2, text, NDT_WAIT);
    ndt_expect_ping(wb1, text, NDT_WAIT);
    /* The sender's own device got nothing: the barrier is its next message. */
    ndt_pub_t *pub = ndt_pub_new(url);
    ndt_ping(pub, "ORGA", NULL, "barrier");
    ndt_expect_ping(wa1, "barrier", NDT_WAIT);
    ndt_expect_ping(wa2, "barrier", NDT_WAIT);
    ndt_expect_ping(wb1, "barrier", NDT_WAIT);
    ndt_pub_free(pub);

    /* Neither mapping swallows the other's paths. */
    char p_wsx[64], p_wsx2[64], p_ws[64];
    snprintf(p_wsx, sizeof p_wsx, "%s/wsx", mount);
    snprintf(p_wsx2, sizeof p_wsx2, "%s/ws/x", mount);
    snprintf(p_ws, sizeof p_ws, "%s/ws", mount);
    bool worker = false;
    long st = get_status(w, "/wsx", &worker);
    ck_assert_msg(st == 404 && worker, "%s: GET %s/wsx: %ld, %s", name, mount, st,
                  worker ? "from the worker" : "not from the worker");
    st = get_status(w, "/ws/x", &worker);
    ck_assert_msg(st == 404 && worker, "%s: GET %s: %ld, %s", name, p_wsx2, st,
                  worker ? "from the worker" : "not from the worker");
    /* notifyd's answer to a plain request on its path */
    st = get_status(w, "/ws", &worker);
    ck_assert_msg(st == 426 && !worker, "%s: GET %s: %ld, %s", name, p_ws, st,
                  worker ? "from the worker" : "not from the worker");
    wsclient_t *none = wsclient_connect(ctx, "127.0.0.1", websrv_port(w), p_wsx, false, NDT_WAIT);
    ck_assert_msg(none == NULL, "%s: a websocket opened on %s", name, p_wsx);

    /* notifyd's shutdown reaches the clients as its own close frame.  The
     * clients are serviced while notifyd stops, as real clients are: a
     * close waits for the pong of a probe still out, and a client nobody
     * services never answers it (notifyd's grace then drops it). */
    ck_assert_int_eq(kill(nd->pid, SIGTERM), 0);
    ndt_expect_closed(wa1, 1001, "server shutting down", NDT_WAIT);
    ndt_expect_closed(wa2, 1001, "server shutting down", NDT_WAIT);
    ndt_expect_closed(wb1, 1001, "server shutting down", NDT_WAIT);
    ck_assert_int_eq(ndt_stop(nd), 0);

    wsclient_ctx_free(ctx);
    ck_assert_msg(websrv_stop(w), "%s did not stop cleanly", name);
    free(dbenv);
    PQfinish(pg);
    testenv_db_drop(url);
    free(url);
}
END_TEST

TEST_SUITE(ws_proxy)
{
    Suite *s = suite_create("ws_proxy");
    TCase *tc = tcase_create("proxy");
    testenv_db_setup();
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, ws_through_shipped_configs, 0, 2 * WEBSRV_KIND_COUNT);
    suite_add_tcase(s, tc);
    return s;
}
