/*
 * tests/integration/test_metrics_scrape.c - the metrics endpoints
 * (docs/metrics.md) scraped for real: GET /administration/metrics through
 * lighttpd and its two worker processes, notifyd's GET /metrics on its
 * port.  Every answer is read by the strict parser of tests/lib/promtext.h;
 * the refusals (401 without a Bearer token, 403 with a wrong one or none
 * configured) each reached; the counters move after real commands, real
 * invitation mails (SMTP test peer), real websocket clients and events;
 * the blockstore's counters through the store layer, in-process.
 */
#include "metrics.h"
#include "porg.h"
#include "promtext.h"
#include "smtppeer.h"
#include "strbuf.h"
#include "test_blockstore_lib.h"
#include "test_invite_lib.h"
#include "test_notifyd_lib.h"
#include "testenv.h"
#include "testreg.h"
#include "xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define METRICS_TOKEN "scrape-m3trics-t0ken"

static char g_err[256];

/* get - GET url with an Authorization header (NULL: none). */
static http_result_t *get(const char *url, const char *auth)
{
    char *h = auth ? xasprintf("Authorization: %s", auth) : NULL;
    const char *hdrs[] = {h, NULL};
    http_result_t *res = testhttp_request("GET", url, h ? hdrs : NULL, NULL, 0);
    free(h);
    ck_assert_msg(res->status != 0, "GET %s: %s", url, res->error);
    return res;
}

/* scrape - a 200 answer in the text format, parsed. */
static promtext_t *scrape(const char *url, const char *auth)
{
    http_result_t *res = get(url, auth);
    ck_assert_msg(res->status == 200, "GET %s: %ld %s", url, res->status, res->body);
    char *ctype = testhttp_header(res, "Content-Type");
    ck_assert_msg(ctype && !strcmp(ctype, METRICS_CONTENT_TYPE), "Content-Type %s", ctype);
    free(ctype);
    promtext_t *p = promtext_parse((const char *)res->body, res->body_len, g_err, sizeof g_err);
    ck_assert_msg(p != NULL, "invalid exposition: %s\n%s", g_err, res->body);
    testhttp_free(res);
    return p;
}

/* metrics_dir - a directory the workers can write: the web server runs
 * them as its own user, who cannot create one in the test's directory. */
static char *metrics_dir(const char *tag)
{
    const char *base = getenv("PARSEC_TEST_TMP");
    char *dir = xasprintf("%s/metrics-%d-%s", base && *base ? base : "/tmp", (int)getpid(), tag);
    ck_assert_msg(mkdir(dir, 0700) == 0 && chmod(dir, 01777) == 0, "%s: %s", dir, strerror(errno));
    return dir;
}

static double sum(const promtext_t *p, const char *name, const char *labels)
{
    return promtext_sum(p, name, labels, NULL);
}

/* wait_processes - scrape until want worker processes count into the
 * file (a worker maps it once its start-up is done), at most 10 s. */
static double wait_processes(const char *url, const char *auth, double want)
{
    double procs = 0;
    for (int i = 0; i < 100 && procs < want; i++) {
        if (i)
            usleep(100000);
        promtext_t *p = scrape(url, auth);
        procs = sum(p, "parsec_fcgi_processes", "");
        promtext_free(p);
    }
    return procs;
}

/* The refusals of an endpoint: each documented status, its body, its
 * header; the two tokens that open it. */
static void refusals(const char *url, bool metrics_token_set)
{
    http_result_t *res = get(url, NULL);
    ck_assert_int_eq(res->status, 401);
    char *www = testhttp_header(res, "WWW-Authenticate");
    ck_assert_msg(www && !strncmp(www, "Bearer", 6), "WWW-Authenticate: %s", www);
    free(www);
    ck_assert_msg(strstr((const char *)res->body, "\"unauthorized\""), "%s", res->body);
    testhttp_free(res);
    res = get(url, "Basic c2NyYXBlOng=");
    ck_assert_int_eq(res->status, 401);
    testhttp_free(res);
    res = get(url, "Bearer wrong-" METRICS_TOKEN);
    ck_assert_int_eq(res->status, 403);
    ck_assert_msg(strstr((const char *)res->body, "\"not_allowed\""), "%s", res->body);
    ck_assert_msg(!strstr((const char *)res->body, "parsec_"), "%s", res->body);
    testhttp_free(res);
    res = get(url, "Bearer " METRICS_TOKEN);
    ck_assert_int_eq(res->status, metrics_token_set ? 200 : 403);
    testhttp_free(res);
    res = get(url, "Bearer " PORG_ADMIN_TOKEN);
    ck_assert_int_eq(res->status, 200);
    testhttp_free(res);
}

/* ---- parsec-fcgi through lighttpd --------------------------------------- */

START_TEST(fcgi_refusals)
{
    char *dir = metrics_dir("a");
    char *d = xasprintf("PARSEC_METRICS_DIR=%s", dir);
    const char *env[] = {d, "PARSEC_METRICS_TOKEN=" METRICS_TOKEN, NULL};
    porg_srv_t *s = porg_srv_start(WEBSRV_LIGHTTPD, env);
    char *url = xasprintf("%s/administration/metrics", porg_srv_url(s));
    refusals(url, true);
    /* another method: 405 */
    http_result_t *res = testhttp_request("POST", url, NULL, "x", 1);
    ck_assert_int_eq(res->status, 405);
    testhttp_free(res);
    ck_assert(porg_srv_stop(s));

    /* without the metrics token, only the administration token opens it */
    const char *env2[] = {d, NULL};
    s = porg_srv_start(WEBSRV_LIGHTTPD, env2);
    free(url);
    url = xasprintf("%s/administration/metrics", porg_srv_url(s));
    refusals(url, false);
    ck_assert(porg_srv_stop(s));

    /* no token at all: closed, 403 whatever is sent */
    const char *env3[] = {d, PORG_NO_ADMIN_TOKEN, NULL};
    s = porg_srv_start(WEBSRV_LIGHTTPD, env3);
    free(url);
    url = xasprintf("%s/administration/metrics", porg_srv_url(s));
    res = get(url, "Bearer " PORG_ADMIN_TOKEN);
    ck_assert_int_eq(res->status, 403);
    testhttp_free(res);
    res = get(url, NULL);
    ck_assert_int_eq(res->status, 403);
    testhttp_free(res);
    ck_assert(porg_srv_stop(s));
    free(url);
    free(d);
    free(dir);
}
END_TEST

/* Real commands and mails move the counters; lighttpd's two worker
 * processes count into one file, so every scrape, whichever process
 * answers it, sees every request. */
START_TEST(fcgi_counters_move)
{
    smtppeer_opts_t po = {.refuse_rcpt = "nobody@example.com"};
    smtppeer_t *peer = smtppeer_start(&po);
    ck_assert_ptr_nonnull(peer);
    char *dir = metrics_dir("b");
    char *d = xasprintf("PARSEC_METRICS_DIR=%s", dir);
    const char *env[] = {d, "PARSEC_METRICS_TOKEN=" METRICS_TOKEN, NULL};
    porg_srv_t *s = porg_srv_start_mail(WEBSRV_LIGHTTPD, smtppeer_port(peer), NULL, env);
    char *url = xasprintf("%s/administration/metrics", porg_srv_url(s));

    /* both of lighttpd's workers (max-procs 2) count into the file */
    ck_assert_msg(wait_processes(url, "Bearer " METRICS_TOKEN, 2) == 2, "not 2 workers");
    promtext_t *before = scrape(url, "Bearer " METRICS_TOKEN);
    porg_t *o = porg_bootstrap(s, NULL);
    json_object *rep = porg_call(s, o->admin, it_invite_req("USER", "claire@example.com", true));
    json_object_put(rep);
    rep = porg_call(s, o->admin, it_invite_req("USER", "nobody@example.com", true));
    json_object_put(rep);
    for (int i = 0; i < 20; i++) {
        http_result_t *res = testhttp_request("GET", porg_srv_url(s), NULL, NULL, 0);
        testhttp_free(res);
    }
    http_result_t *res = get(url, "Bearer wrong");
    testhttp_free(res);
    promtext_t *after = scrape(url, "Bearer " METRICS_TOKEN);

    const char *R = "parsec_http_requests_total";
    ck_assert(sum(after, R,
                  "family=\"anonymous\",command=\"organization_bootstrap\","
                  "status=\"200\"") -
                  sum(before, R, "command=\"organization_bootstrap\"") ==
              1);
    ck_assert(sum(after, R, "family=\"authenticated\",command=\"invite_new\",status=\"200\"") -
                  sum(before, R, "command=\"invite_new\"") ==
              2);
    ck_assert(sum(after, R, "family=\"pages\",command=\"/\"") -
                  sum(before, R, "family=\"pages\",command=\"/\"") ==
              20);
    ck_assert(sum(after, R,
                  "family=\"administration\",command=\"/administration/metrics\","
                  "status=\"403\"") == 1);
    /* the scrape before counted when it ended, this one not yet */
    ck_assert(sum(after, R, "command=\"/administration/metrics\",status=\"200\"") ==
              sum(before, R, "command=\"/administration/metrics\",status=\"200\"") + 1);
    ck_assert(sum(after, "parsec_http_request_duration_seconds_count", "command=\"invite_new\"") ==
              2);
    ck_assert(sum(after, "parsec_email_sends_total", "outcome=\"success\"") -
                  sum(before, "parsec_email_sends_total", "outcome=\"success\"") ==
              1);
    ck_assert(sum(after, "parsec_email_sends_total", "outcome=\"bad_recipient\"") -
                  sum(before, "parsec_email_sends_total", "outcome=\"bad_recipient\"") ==
              1);
    ck_assert(sum(after, "parsec_email_send_duration_seconds_count", "") == 2);
    ck_assert(sum(after, "parsec_token_cache_hits_total", "") +
                  sum(after, "parsec_token_cache_misses_total", "") >=
              2);
    ck_assert(sum(after, "parsec_token_cache_misses_total", "") >= 1);
    ck_assert(sum(after, "parsec_db_connections_in_use", "") >= 0);
    ck_assert(sum(after, "parsec_db_errors_total", "kind=\"connect\"") == 0);
    ck_assert_msg(sum(after, "parsec_fcgi_processes", "") == 2, "%g processes",
                  sum(after, "parsec_fcgi_processes", ""));
    ck_assert_int_ge(smtppeer_count(peer), 1);

    /* twenty scrapes: each answered by either process, each sees the
     * count of all requests, its own predecessors included */
    double prev = sum(after, R, "command=\"/administration/metrics\",status=\"200\"");
    for (int i = 0; i < 20; i++) {
        promtext_t *p = scrape(url, "Bearer " PORG_ADMIN_TOKEN);
        double n = sum(p, R, "command=\"/administration/metrics\",status=\"200\"");
        ck_assert_msg(n == prev + 1, "scrape %d: %g after %g", i, n, prev);
        prev = n;
        promtext_free(p);
    }
    promtext_free(before);
    promtext_free(after);
    porg_free(o);
    ck_assert(porg_srv_stop(s));
    ck_assert(smtppeer_stop(peer));
    free(url);
    free(d);
    free(dir);
}
END_TEST

/* `parsec backend run` gives its workers a metrics directory of its run,
 * which they can write whatever user they run as: every worker of the run
 * counts into it. */
START_TEST(backend_run_workers_share)
{
    char *dburl = testenv_db_create();
    ndt_run_t r;
    ndt_run_start(&r, dburl);
    char *url = xasprintf("%s/administration/metrics", ndt_run_url(&r));
    /* lighttpd spawns its workers at start */
    double procs = wait_processes(url, "Bearer t0k3n", 2);
    ck_assert_msg(procs >= 2, "%g worker processes in the run's metrics file (see %s)", procs,
                  r.log);
    /* each scrape is counted once it ends: the next one sees it, whichever
     * worker answers */
    promtext_t *p = scrape(url, "Bearer t0k3n");
    double prev =
        sum(p, "parsec_http_requests_total", "command=\"/administration/metrics\",status=\"200\"");
    promtext_free(p);
    for (int i = 0; i < 6; i++) {
        p = scrape(url, "Bearer t0k3n");
        ck_assert(sum(p, "parsec_http_requests_total",
                      "command=\"/administration/metrics\",status=\"200\"") == prev + 1 + i);
        promtext_free(p);
    }
    ck_assert_int_eq(ndt_run_stop(&r), 0);
    testenv_db_drop(dburl);
    free(dburl);
    free(url);
}
END_TEST

/* ---- the blockstore, through the store layer ----------------------------- */

START_TEST(blockstore_counted)
{
    ck_assert(metrics_open(NULL, NULL, g_err, sizeof g_err));
    const char *specs[] = {"POSTGRESQL", NULL};
    bst_t *t = bst_open(specs, NULL, BST_NEW_DB);
    uint8_t id[16];
    bst_roundtrip(t, "ORGM", 1000, id);
    uint8_t missing[16], buf[16];
    bst_random_id(missing);
    ck_assert_int_eq(blockstore_read(t->ctx, t->db, "ORGM", missing, buf, sizeof buf),
                     BLOCKSTORE_NOT_FOUND);
    bst_close(t);
    strbuf_t out = STRBUF_INIT;
    metrics_render(&out, METRICS_FCGI);
    promtext_t *p = promtext_parse(out.s, out.len, g_err, sizeof g_err);
    ck_assert_msg(p, "%s", g_err);
    ck_assert(sum(p, "parsec_blockstore_calls_total", "op=\"create\",outcome=\"ok\"") == 1);
    ck_assert(sum(p, "parsec_blockstore_calls_total", "op=\"read\",outcome=\"ok\"") >= 1);
    ck_assert(sum(p, "parsec_blockstore_calls_total", "op=\"read\",outcome=\"not_found\"") == 1);
    ck_assert(sum(p, "parsec_blockstore_call_duration_seconds_count", "op=\"read\"") ==
              sum(p, "parsec_blockstore_calls_total", "op=\"read\""));
    promtext_free(p);
    strbuf_free(&out);
    metrics_close();
}
END_TEST

/* ---- the dashboard and the documentation follow the series ------------ */

static char *slurp(const char *rel)
{
    const char *src = getenv("PARSEC_TEST_SRC");
    char *path = xasprintf("%s/%s", src && *src ? src : ".", rel);
    strbuf_t b = STRBUF_INIT;
    ck_assert_msg(strbuf_read_file(&b, path), "cannot read %s", path);
    free(path);
    return strbuf_detach(&b);
}

/* Every series the dashboard queries is one the binaries render and
 * docs/metrics.md lists; every family rendered is in docs/metrics.md. */
START_TEST(dashboard_and_docs_follow)
{
    ck_assert(metrics_open(NULL, NULL, g_err, sizeof g_err));
    metrics_request("pages", "/", 200, 1);
    strbuf_t out = STRBUF_INIT;
    metrics_render(&out, METRICS_FCGI | METRICS_NOTIFYD);
    promtext_t *p = promtext_parse(out.s, out.len, g_err, sizeof g_err);
    ck_assert_msg(p, "%s", g_err);
    char *doc = slurp("docs/metrics.md");
    /* rendered families: from the TYPE lines */
    for (const char *t = strstr(out.s, "# TYPE "); t; t = strstr(t + 1, "# TYPE ")) {
        char *name = xstrndup(t + 7, strcspn(t + 7, " "));
        char *cell = xasprintf("| `%s` |", name);
        ck_assert_msg(strstr(doc, cell), "docs/metrics.md lacks %s", name);
        free(cell);
        free(name);
    }
    char *text = slurp("etc/grafana/parsec-dashboard.json");
    json_object *dash = json_tokener_parse(text);
    ck_assert_msg(dash, "the dashboard is not JSON");
    json_object *panels;
    ck_assert(json_object_object_get_ex(dash, "panels", &panels));
    size_t exprs = 0;
    for (size_t i = 0; i < json_object_array_length(panels); i++) {
        json_object *targets;
        ck_assert(
            json_object_object_get_ex(json_object_array_get_idx(panels, i), "targets", &targets));
        for (size_t j = 0; j < json_object_array_length(targets); j++) {
            json_object *e;
            ck_assert(json_object_object_get_ex(json_object_array_get_idx(targets, j), "expr", &e));
            const char *x = json_object_get_string(e);
            exprs++;
            for (const char *m = strstr(x, "parsec_"); m; m = strstr(m + 1, "parsec_")) {
                size_t n = strspn(m, "abcdefghijklmnopqrstuvwxyz_");
                char *name = xstrndup(m, n);
                const char *fam = name;
                char *base = NULL;
                static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
                for (size_t k = 0; k < 3; k++)
                    if (n > strlen(suffixes[k]) &&
                        !strcmp(name + n - strlen(suffixes[k]), suffixes[k]))
                        fam = base = xstrndup(name, n - strlen(suffixes[k]));
                ck_assert_msg(promtext_type(p, fam), "the dashboard queries %s, not rendered",
                              name);
                free(base);
                free(name);
                m += n - 1;
            }
        }
    }
    ck_assert_uint_gt(exprs, 10);
    json_object_put(dash);
    free(text);
    free(doc);
    promtext_free(p);
    strbuf_free(&out);
    metrics_close();
}
END_TEST

/* ---- notifyd ------------------------------------------------------------- */

START_TEST(notifyd_scrape)
{
    char *dburl = testenv_db_create();
    PGconn *pg = testenv_pg_connect(dburl);
    pclient_key_t root;
    pclient_key_generate(&root);
    ndt_dev_t a1, b1;
    ndt_dev_make(&a1, pg, "ORGM", &root, "alice@a1", "ADMIN", true, true);
    ndt_dev_make(&b1, pg, "ORGM", &root, "bob@b1", "STANDARD", false, true);
    const char *extra[] = {"--metrics-token", METRICS_TOKEN, "--administration-token",
                           PORG_ADMIN_TOKEN, NULL};
    ndt_proc_t *nd = ndt_start(dburl, extra);
    char *url = xasprintf("http://127.0.0.1:%d/metrics", nd->port);
    refusals(url, true);

    promtext_t *p = scrape(url, "Bearer " METRICS_TOKEN);
    ck_assert(sum(p, "parsec_notifyd_connections", "") == 0);
    ck_assert(sum(p, "parsec_notifyd_events_received_total", "") == 0);
    promtext_free(p);

    wsclient_ctx_t *ctx = wsclient_ctx_new(8);
    wsclient_t *wa = ndt_connect(ctx, nd->port, &a1);
    wsclient_t *wb = ndt_connect(ctx, nd->port, &b1);
    ndt_pub_t *pub = ndt_pub_new(dburl);
    ndt_ping(pub, "ORGM", "carol@c1", "hello");
    ndt_expect_ping(wa, "hello", 10000);
    ndt_expect_ping(wb, "hello", 10000);
    /* a client that answers the challenge with nonsense: closed, 1008 */
    wsclient_t *bad = wsclient_connect(ctx, "127.0.0.1", nd->port, "/ws", false, 10000);
    ck_assert_ptr_nonnull(bad);
    free(wsclient_recv(bad, 10000)); /* the challenge */
    ck_assert(wsclient_send_text(bad, "nonsense", 8));
    ck_assert(wsclient_wait_closed(bad, 10000));
    ck_assert_int_eq(wsclient_close_code(bad), 1008);

    p = scrape(url, "Bearer " PORG_ADMIN_TOKEN);
    ck_assert(sum(p, "parsec_notifyd_connections", "") == 2);
    ck_assert(sum(p, "parsec_notifyd_connections_total", "") == 3);
    ck_assert(sum(p, "parsec_notifyd_events_received_total", "") == 1);
    ck_assert(sum(p, "parsec_notifyd_events_sent_total", "") == 2);
    ck_assert(sum(p, "parsec_notifyd_closes_total", "code=\"1008\"") == 1);
    ck_assert(sum(p, "parsec_notifyd_queue_drops_total", "") == 0);
    ck_assert_ptr_null(promtext_type(p, "parsec_http_requests_total"));
    promtext_free(p);

    wsclient_ctx_free(ctx);
    ndt_pub_free(pub);
    ck_assert_int_eq(ndt_stop(nd), 0);
    PQfinish(pg);
    testenv_db_drop(dburl);
    free(dburl);
    free(url);
}
END_TEST

TEST_SUITE(metrics_scrape)
{
    Suite *s = suite_create("metrics_scrape");
    TCase *tc = tcase_create("scrape");
    testenv_db_setup();
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, fcgi_refusals);
    tcase_add_test(tc, fcgi_counters_move);
    tcase_add_test(tc, backend_run_workers_share);
    tcase_add_test(tc, blockstore_counted);
    tcase_add_test(tc, dashboard_and_docs_follow);
    tcase_add_test(tc, notifyd_scrape);
    suite_add_tcase(s, tc);
    return s;
}
