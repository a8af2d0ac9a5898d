/*
 * tests/unit/test_metrics.c - common/metrics.h: the text output read back
 * by a strict parser (tests/lib/promtext.h), the parser's own refusals,
 * counters shared by processes mapping one file, gauges of processes that
 * died, exact counts under concurrent threads, a full series table, and
 * who may read the metrics (metrics_authorize).
 */
#include "arena.h"
#include "cfg.h"
#include "front/front.h"
#include "metrics.h"
#include "promtext.h"
#include "strbuf.h"
#include "testreg.h"
#include "xalloc.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_err[256];

static promtext_t *scrape(unsigned sections, char **text_out)
{
    strbuf_t out = STRBUF_INIT;
    metrics_render(&out, sections);
    ck_assert_ptr_nonnull(out.s);
    promtext_t *p = promtext_parse(out.s, out.len, g_err, sizeof g_err);
    ck_assert_msg(p != NULL, "invalid exposition: %s\n%s", g_err, out.s);
    if (text_out)
        *text_out = strbuf_detach(&out);
    strbuf_free(&out);
    return p;
}

static double value(const promtext_t *p, const char *name, const char *labels)
{
    size_t n = 0;
    double v = promtext_sum(p, name, labels, &n);
    ck_assert_msg(n > 0, "no sample %s{%s}", name, labels);
    return v;
}

START_TEST(nothing_before_open)
{
    metrics_request("pages", "/", 200, 1000);
    metrics_db_in_use(1);
    metrics_nd_close(4000);
    strbuf_t out = STRBUF_INIT;
    metrics_render(&out, METRICS_FCGI | METRICS_NOTIFYD);
    ck_assert_uint_eq(out.len, 0);
    strbuf_free(&out);
}
END_TEST

START_TEST(every_series_valid_and_counted)
{
    ck_assert(metrics_open(NULL, NULL, g_err, sizeof g_err));
    ck_assert(!metrics_shared());
    for (int i = 0; i < 5; i++)
        metrics_request("authenticated", "vlob_read", 200, 2000000);    /* 2 ms */
    metrics_request("authenticated", "vlob_read", 503, 20000000000ull); /* 20 s: +Inf */
    metrics_request("administration", "/administration/organizations", 403, 1000);
    /* names a label value must escape */
    metrics_request("pages", "/a\"b\\c\nd", 404, 1000);
    metrics_request("pages", "/x", 99, 1000);  /* not a status: unlabelled */
    metrics_request("pages", "/x", 600, 1000); /* idem */
    metrics_db_in_use(1);
    metrics_db_in_use(1);
    metrics_db_in_use(-1);
    metrics_db_waiting(1);
    metrics_db_error(METRICS_DB_STATEMENT);
    metrics_db_error(METRICS_DB_CONNECT);
    metrics_db_error(METRICS_DB_ERR_KINDS); /* ignored */
    metrics_token_cache(true);
    metrics_token_cache(true);
    metrics_token_cache(false);
    metrics_blockstore(true, 0, 3000000);
    metrics_blockstore(false, 3, 1000);
    metrics_blockstore(false, 9, 1000); /* not a status: ignored */
    metrics_email(0, 500000000);
    metrics_email(2, 1000);
    metrics_nd_connection(1);
    metrics_nd_connection(1);
    metrics_nd_connection(-1);
    metrics_nd_event_in();
    metrics_nd_event_out();
    metrics_nd_event_out();
    metrics_nd_drop();
    metrics_nd_close(4000);
    metrics_nd_close(1001);
    metrics_nd_close(3000); /* other */

    char *text = NULL;
    promtext_t *p = scrape(METRICS_FCGI | METRICS_NOTIFYD, &text);
    const char *R = "parsec_http_requests_total";
    ck_assert(value(p, R, "family=\"authenticated\",command=\"vlob_read\",status=\"200\"") == 5);
    ck_assert(value(p, R, "family=\"authenticated\",command=\"vlob_read\",status=\"503\"") == 1);
    ck_assert(value(p, R, "status=\"403\"") == 1);
    ck_assert_msg(strstr(text, "command=\"/a\\\"b\\\\c\\nd\",status=\"404\"} 1\n"), "%s", text);
    ck_assert(value(p, "parsec_http_requests_unlabelled_total", "") == 2);
    const char *H = "parsec_http_request_duration_seconds";
    ck_assert_str_eq(promtext_type(p, H), "histogram");
    ck_assert(value(p, "parsec_http_request_duration_seconds_count", "command=\"vlob_read\"") == 6);
    ck_assert(value(p, "parsec_http_request_duration_seconds_bucket",
                    "command=\"vlob_read\",le=\"0.001\"") == 0);
    ck_assert(value(p, "parsec_http_request_duration_seconds_bucket",
                    "command=\"vlob_read\",le=\"0.0025\"") == 5);
    ck_assert(value(p, "parsec_http_request_duration_seconds_bucket",
                    "command=\"vlob_read\",le=\"10\"") == 5);
    ck_assert(value(p, "parsec_http_request_duration_seconds_bucket",
                    "command=\"vlob_read\",le=\"+Inf\"") == 6);
    ck_assert(fabs(value(p, "parsec_http_request_duration_seconds_sum", "command=\"vlob_read\"") -
                   20.01) < 1e-6);
    ck_assert(value(p, "parsec_db_connections_in_use", "") == 1);
    ck_assert(value(p, "parsec_db_connections_waiting", "") == 1);
    ck_assert(value(p, "parsec_db_errors_total", "kind=\"statement\"") == 1);
    ck_assert(value(p, "parsec_db_errors_total", "kind=\"connect\"") == 1);
    ck_assert(value(p, "parsec_db_errors_total", "kind=\"acquire_timeout\"") == 0);
    ck_assert(value(p, "parsec_token_cache_hits_total", "") == 2);
    ck_assert(value(p, "parsec_token_cache_misses_total", "") == 1);
    ck_assert(value(p, "parsec_blockstore_calls_total", "op=\"create\",outcome=\"ok\"") == 1);
    ck_assert(value(p, "parsec_blockstore_calls_total", "op=\"read\",outcome=\"unavailable\"") ==
              1);
    ck_assert(value(p, "parsec_blockstore_calls_total", "") == 2);
    ck_assert(value(p, "parsec_blockstore_call_duration_seconds_count", "op=\"create\"") == 1);
    ck_assert(value(p, "parsec_email_sends_total", "outcome=\"success\"") == 1);
    ck_assert(value(p, "parsec_email_sends_total", "outcome=\"not_available\"") == 1);
    ck_assert(value(p, "parsec_email_send_duration_seconds_bucket", "le=\"0.5\"") == 2);
    ck_assert(value(p, "parsec_fcgi_processes", "") == 1);
    ck_assert(value(p, "parsec_build_info", "version=\"" PARSEC_VERSION "\"") == 1);
    ck_assert(value(p, "parsec_notifyd_connections", "") == 1);
    ck_assert(value(p, "parsec_notifyd_connections_total", "") == 2);
    ck_assert(value(p, "parsec_notifyd_events_received_total", "") == 1);
    ck_assert(value(p, "parsec_notifyd_events_sent_total", "") == 2);
    ck_assert(value(p, "parsec_notifyd_queue_drops_total", "") == 1);
    ck_assert(value(p, "parsec_notifyd_closes_total", "code=\"4000\"") == 1);
    ck_assert(value(p, "parsec_notifyd_closes_total", "code=\"1001\"") == 1);
    ck_assert(value(p, "parsec_notifyd_closes_total", "code=\"other\"") == 1);
    promtext_free(p);
    free(text);

    /* each section alone: only its families */
    p = scrape(METRICS_NOTIFYD, NULL);
    ck_assert_ptr_null(promtext_type(p, "parsec_http_requests_total"));
    ck_assert_ptr_nonnull(promtext_type(p, "parsec_notifyd_connections"));
    promtext_free(p);
    p = scrape(METRICS_FCGI, NULL);
    ck_assert_ptr_null(promtext_type(p, "parsec_notifyd_connections"));
    promtext_free(p);
    metrics_close();
}
END_TEST

/* The parser must be able to say no, or the test above proves nothing. */
START_TEST(parser_refuses_invalid_text)
{
    static const char *const bad[] = {
        "",
        "# TYPE a_total counter\na_total 1", /* no final LF */
        "a_total 1\n",                       /* no TYPE */
        "# HELP a_total x\n# TYPE a_total counter\n# HELP a_total y\na_total 1\n",
        "# TYPE a_total counter\n# TYPE a_total counter\na_total 1\n",
        "# HELP a_total x\n# TYPE a_total counter\na_total 1\n# HELP b x\n# TYPE b gauge\nb 1\n"
        "# HELP a_total x\n",
        "# HELP a_total x\n# TYPE a_total counter\na_total -1\n",
        "# HELP a_total x\n# TYPE a_total counter\na_total NaN\n",
        "# HELP a x\n# TYPE a counter\na 1\n", /* counter not *_total */
        "# HELP a x\n# TYPE a gauge\nb 1\n",
        "# HELP a x\n# TYPE a gauge\na{x=\"1\",x=\"2\"} 1\n",
        "# HELP a x\n# TYPE a gauge\na{x=\"1\"} 1\na{x=\"1\"} 2\n",
        "# HELP a x\n# TYPE a gauge\na{x=\"\\t\"} 1\n",
        "# HELP a x\n# TYPE a gauge\na{x=\"1\",} 1\n",
        "# HELP a x\n# TYPE a gauge\na{1x=\"1\"} 1\n",
        "# HELP a x\n# TYPE a gauge\na 1x\n",
        "# HELP a x\n# TYPE a gauge\na  1\n",
        "# HELP a x\n# TYPE a gauge\n\na 1\n",
        "# HELP a x\n# TYPE a gauge\na 1\r\n",
        "# HELP a x\n# TYPE a wrong\na 1\n",
        "# a comment\n",
        "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
        "h_sum 1\nh_count 1\n", /* not cumulative */
        "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
        "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\n"
        "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",
        "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
        "# HELP h x\n# TYPE h histogram\nh_bucket 1\nh_sum 1\nh_count 1\n",
        "# HELP h x\n# TYPE h histogram\nh_total 1\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        promtext_t *p = promtext_parse(bad[i], strlen(bad[i]), g_err, sizeof g_err);
        ck_assert_msg(p == NULL, "accepted bad text %zu:\n%s", i, bad[i]);
    }
    static const char good[] =
        "# HELP h x\n# TYPE h histogram\nh_bucket{a=\"1\",le=\"1\"} 1\n"
        "h_bucket{a=\"1\",le=\"+Inf\"} 2\nh_sum{a=\"1\"} 3.5\nh_count{a=\"1\"} 2\n"
        "# HELP g x\n# TYPE g gauge\ng{v=\"q\\\"\\\\\\n\"} -1 1700000000000\n";
    promtext_t *p = promtext_parse(good, strlen(good), g_err, sizeof g_err);
    ck_assert_msg(p != NULL, "%s", g_err);
    ck_assert(promtext_sum(p, "g", "", NULL) == -1);
    ck_assert(promtext_sum(p, "h_count", "a=\"1\"", NULL) == 2);
    promtext_free(p);
}
END_TEST

static char *tmpdir(void)
{
    char *d = xstrdup("/tmp/parsec-metrics-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(d));
    return d;
}

static void rmdir_all(const char *d)
{
    char *f = xasprintf("%s/m/%s", d, METRICS_FILE_FCGI);
    unlink(f);
    free(f);
    f = xasprintf("%s/m", d);
    rmdir(f);
    free(f);
    rmdir(d);
}

/* Two processes map the file: counters add up, a living process's gauge
 * counts, a killed one's does not. */
START_TEST(shared_by_processes)
{
    char *d = tmpdir();
    char *dir = xasprintf("%s/m", d);
    ck_assert_msg(metrics_open(dir, METRICS_FILE_FCGI, g_err, sizeof g_err), "%s", g_err);
    ck_assert(metrics_shared());
    metrics_request("invited", "invite_info", 200, 1000);

    int ready[2], hold[2];
    ck_assert_int_eq(pipe(ready), 0);
    ck_assert_int_eq(pipe(hold), 0);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        ck_assert_int_ge(kids[k], 0);
        if (kids[k] == 0) {
            close(hold[1]); /* so that the parent's close is our EOF */
            char e[256];
            if (!metrics_open(dir, METRICS_FILE_FCGI, e, sizeof e))
                _exit(3);
            for (int i = 0; i < 1000; i++)
                metrics_request("invited", "invite_info", 200, 1000);
            metrics_db_in_use(1);
            if (write(ready[1], "x", 1) != 1)
                _exit(4);
            char c;
            if (read(hold[0], &c, 1) < 0)
                _exit(5);
            _exit(0); /* without metrics_close: as a killed worker */
        }
    }
    char c;
    for (int k = 0; k < 2; k++)
        ck_assert_int_eq(read(ready[0], &c, 1), 1);
    promtext_t *p = scrape(METRICS_FCGI, NULL);
    ck_assert(value(p, "parsec_http_requests_total", "command=\"invite_info\"") == 2001);
    ck_assert(value(p, "parsec_db_connections_in_use", "") == 2);
    ck_assert(value(p, "parsec_fcgi_processes", "") == 3);
    promtext_free(p);

    close(hold[1]);
    for (int k = 0; k < 2; k++) {
        int st;
        ck_assert_int_eq(waitpid(kids[k], &st, 0), kids[k]);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    p = scrape(METRICS_FCGI, NULL);
    ck_assert(value(p, "parsec_http_requests_total", "command=\"invite_info\"") == 2001);
    ck_assert(value(p, "parsec_db_connections_in_use", "") == 0);
    ck_assert(value(p, "parsec_fcgi_processes", "") == 1);
    promtext_free(p);
    close(ready[0]);
    close(ready[1]);
    close(hold[0]);

    /* reopened: the counters are still there (a restarted worker) */
    metrics_close();
    ck_assert(metrics_open(dir, METRICS_FILE_FCGI, g_err, sizeof g_err));
    p = scrape(METRICS_FCGI, NULL);
    ck_assert(value(p, "parsec_http_requests_total", "command=\"invite_info\"") == 2001);
    promtext_free(p);
    metrics_close();
    rmdir_all(d);
    free(dir);
    free(d);
}
END_TEST

START_TEST(unusable_dir_counts_alone)
{
    ck_assert(
        !metrics_open("/proc/parsec-no-such/metrics", METRICS_FILE_FCGI, g_err, sizeof g_err));
    ck_assert_msg(strstr(g_err, "/proc/parsec-no-such/metrics"), "%s", g_err);
    ck_assert(!metrics_shared());
    metrics_request("pages", "/", 200, 1);
    promtext_t *p = scrape(METRICS_FCGI, NULL);
    ck_assert(value(p, "parsec_http_requests_total", "") == 1);
    promtext_free(p);
    metrics_close();
}
END_TEST

static void *adder(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20000; i++) {
        metrics_request("authenticated", (i & 1) ? "vlob_update" : "vlob_read", 200, 1000);
        metrics_token_cache(i & 1);
    }
    return NULL;
}

START_TEST(exact_under_threads)
{
    ck_assert(metrics_open(NULL, NULL, g_err, sizeof g_err));
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, adder, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    promtext_t *p = scrape(METRICS_FCGI, NULL);
    ck_assert(value(p, "parsec_http_requests_total", "family=\"authenticated\"") == 80000);
    ck_assert(value(p, "parsec_http_requests_total", "command=\"vlob_read\"") == 40000);
    ck_assert(value(p, "parsec_http_request_duration_seconds_count", "") == 80000);
    ck_assert(value(p, "parsec_token_cache_hits_total", "") == 40000);
    promtext_free(p);
    metrics_close();
}
END_TEST

START_TEST(full_table_counts_unlabelled)
{
    ck_assert(metrics_open(NULL, NULL, g_err, sizeof g_err));
    char *names[METRICS_REQ_SLOTS + 10];
    for (int i = 0; i < METRICS_REQ_SLOTS + 10; i++) {
        names[i] = xasprintf("cmd_%d", i);
        metrics_request("authenticated", names[i], 200, 1000);
    }
    metrics_request("authenticated", names[0], 200, 1000); /* found again */
    promtext_t *p = scrape(METRICS_FCGI, NULL);
    size_t n = 0;
    ck_assert(promtext_sum(p, "parsec_http_requests_total", "", &n) == METRICS_REQ_SLOTS + 1);
    ck_assert_uint_eq(n, METRICS_REQ_SLOTS);
    ck_assert(value(p, "parsec_http_requests_unlabelled_total", "") == 10);
    promtext_free(p);
    for (int i = 0; i < METRICS_REQ_SLOTS + 10; i++)
        free(names[i]);
    metrics_close();
}
END_TEST

START_TEST(authorize)
{
    cfg_t c;
    memset(&c, 0, sizeof c);
    const char *why = NULL;
    ck_assert_int_eq(metrics_authorize(&c, "Bearer x", &why), 403); /* closed */
    c.administration_token = "adm1n";
    ck_assert_int_eq(metrics_authorize(&c, NULL, &why), 401);
    ck_assert_int_eq(metrics_authorize(&c, "Basic YWRtMW4=", &why), 401);
    ck_assert_int_eq(metrics_authorize(&c, "Bearer", &why), 401);
    ck_assert_int_eq(metrics_authorize(&c, "Bearer   ", &why), 401);
    ck_assert_int_eq(metrics_authorize(&c, "Bearer adm1", &why), 403);
    ck_assert_str_eq(why, "wrong token");
    ck_assert_int_eq(metrics_authorize(&c, "Bearer adm1n", &why), 0);
    ck_assert_int_eq(metrics_authorize(&c, "bearer \tadm1n ", &why), 0);
    ck_assert_int_eq(metrics_authorize(&c, "Bearer m3tr1cs", &why), 403);
    c.metrics_token = "m3tr1cs";
    ck_assert_int_eq(metrics_authorize(&c, "Bearer m3tr1cs", &why), 0);
    ck_assert_int_eq(metrics_authorize(&c, "Bearer adm1n", &why), 0);
    c.administration_token = NULL;
    ck_assert_int_eq(metrics_authorize(&c, "Bearer m3tr1cs", &why), 0);
    ck_assert_int_eq(metrics_authorize(&c, "Bearer adm1n", &why), 403);
    ck_assert_int_eq(metrics_authorize(&c, "Bearer ", &why), 401);
    char *huge = xmalloc(CFG_VALUE_MAX + 100);
    memcpy(huge, "Bearer ", 7);
    memset(huge + 7, 'm', CFG_VALUE_MAX + 50);
    huge[CFG_VALUE_MAX + 57] = '\0';
    ck_assert_int_eq(metrics_authorize(&c, huge, &why), 403);
    free(huge);
}
END_TEST

/* The front labels each request from its route and command. */
static void front_get(arena_t *a, const cfg_t *c, const char *method, const char *uri)
{
    char *params[] = {arena_printf(a, "REQUEST_METHOD=%s", method),
                      arena_printf(a, "REQUEST_URI=%s", uri), "HTTP_HOST=parsec.example.com", NULL};
    http_req_t *r = front_handle(a, &(http_env_t){c, NULL, NULL}, params, NULL, 0, 0);
    front_request_end(r);
    arena_reset(a);
}

START_TEST(front_labels)
{
    ck_assert(metrics_open(NULL, NULL, g_err, sizeof g_err));
    cfg_t c;
    memset(&c, 0, sizeof c);
    c.max_request_size = 1048576;
    c.db_max_connections = 7;
    arena_t *a = arena_new();
    front_get(a, &c, "GET", "/");
    front_get(a, &c, "GET", "/");
    front_get(a, &c, "GET", "/no/such/page");
    front_get(a, &c, "DELETE", "/");
    front_get(a, &c, "GET", "/administration/stats");
    front_get(a, &c, "GET", "/administration/metrics");
    front_get(a, &c, "POST", "/anonymous/SomeOrg");
    front_get(a, &c, "GET", "/authenticated/SomeOrg");
    arena_free(a);
    promtext_t *p = scrape(METRICS_FCGI, NULL);
    const char *R = "parsec_http_requests_total";
    ck_assert(value(p, R, "family=\"pages\",command=\"/\",status=\"200\"") == 2);
    ck_assert(value(p, R, "family=\"pages\",command=\"/\",status=\"405\"") == 1);
    ck_assert(value(p, R, "family=\"none\",command=\"none\",status=\"404\"") == 1);
    ck_assert(value(p, R,
                    "family=\"administration\",command=\"/administration/stats\","
                    "status=\"403\"") == 1);
    /* closed: no token configured */
    ck_assert(value(p, R,
                    "family=\"administration\",command=\"/administration/metrics\","
                    "status=\"403\"") == 1);
    /* refused before a command was read: the route's pattern */
    ck_assert(value(p, R, "family=\"anonymous\",command=\"/anonymous/{}\"") == 1);
    ck_assert(value(p, R,
                    "family=\"authenticated\",command=\"/authenticated/{}\","
                    "status=\"405\"") == 1);
    ck_assert(value(p, "parsec_http_request_duration_seconds_count", "") == 8);
    promtext_free(p);
    metrics_close();
}
END_TEST

TEST_SUITE(metrics)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, nothing_before_open);
    tcase_add_test(tc, every_series_valid_and_counted);
    tcase_add_test(tc, parser_refuses_invalid_text);
    tcase_add_test(tc, shared_by_processes);
    tcase_add_test(tc, unusable_dir_counts_alone);
    tcase_add_test(tc, exact_under_threads);
    tcase_add_test(tc, full_table_counts_unlabelled);
    tcase_add_test(tc, authorize);
    tcase_add_test(tc, front_labels);
    suite_add_tcase(s, tc);
    return s;
}
