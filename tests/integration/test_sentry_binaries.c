/*
 * tests/integration/test_sentry_binaries.c - the real binaries report to
 * Sentry (a receiver on loopback, tests/lib/httpsink.h): a worker behind
 * lighttpd whose command fails inside its transaction, notifyd losing its
 * database connection, notifyd crashing.  The reports carry the request's
 * identifiers and never its body, its tokens or the DSN's key.
 */
#include "httpsink.h"
#include "pclient.h"
#include "porg.h"
#include "test_notifyd_lib.h"
#include "testenv.h"
#include "testreg.h"
#include "xalloc.h"

#include <json-c/json.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define KEY    "a1b2c3d4e5f60718293a4b5c6d7e8f90"
#define SECRET "0ff1ce5ecre7"
#define WAIT   20000

static char *dsn_of(httpsink_t *s)
{
    return xasprintf("http://" KEY ":" SECRET "@127.0.0.1:%d/77", httpsink_port(s));
}

/* The event (third line) of request i, parsed; the caller puts it. */
static json_object *event_of(httpsink_t *s, int i, char **raw)
{
    httpsink_req_t *q = httpsink_get(s, i);
    ck_assert_ptr_nonnull(q);
    const char *l3 = strchr(q->body, '\n');
    ck_assert_ptr_nonnull(l3);
    l3 = strchr(l3 + 1, '\n');
    ck_assert_ptr_nonnull(l3);
    json_object *e = json_tokener_parse(l3 + 1);
    ck_assert_msg(e, "not JSON: %s", l3 + 1);
    if (raw)
        *raw = xasprintf("%s%s", q->head, q->body);
    httpsink_req_free(q);
    return e;
}

static const char *field(json_object *o, const char *path)
{
    char *dup = xstrdup(path), *save = NULL;
    json_object *cur = o;
    for (char *k = strtok_r(dup, ".", &save); k && cur; k = strtok_r(NULL, ".", &save))
        cur = json_object_object_get(cur, k);
    free(dup);
    return cur && json_object_is_type(cur, json_type_string) ? json_object_get_string(cur) : NULL;
}

static int count_of(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* find_event - the first event whose message contains needle, or NULL. */
static json_object *find_event(httpsink_t *s, const char *needle, char **raw)
{
    for (int i = 0; i < httpsink_count(s); i++) {
        char *r = NULL;
        json_object *e = event_of(s, i, &r);
        const char *m = field(e, "message.formatted");
        if (m && strstr(m, needle)) {
            *raw = r;
            return e;
        }
        free(r);
        json_object_put(e);
    }
    return NULL;
}

/* wait_event - find_event, waiting for more requests up to WAIT. */
static json_object *wait_event(httpsink_t *s, const char *needle, char **raw)
{
    for (;;) {
        json_object *e = find_event(s, needle, raw);
        if (e)
            return e;
        if (!httpsink_wait(s, httpsink_count(s) + 1, WAIT))
            ck_abort_msg("no report mentions \"%s\" (%d received)", needle, httpsink_count(s));
    }
}

/*
 * A command that fails inside its transaction (a trigger refuses the
 * bootstrap's user row) logs an ERROR in the worker, which reports it with
 * the request id the client saw (X-Request-Id), the command and the
 * organization; the request body (token, keys, email) stays out.
 */
START_TEST(worker_reports_failed_command)
{
    httpsink_t *s = httpsink_start(200, NULL);
    char *dsn = dsn_of(s);
    char *dsn_env = xasprintf("PARSEC_SENTRY_DSN=%s", dsn);
    const char *env[] = {dsn_env, "PARSEC_SENTRY_ENVIRONMENT=ci", NULL};
    /* a server of its own: its database gets a trigger that fails every
     * user creation */
    porg_srv_t *srv = porg_srv_start(WEBSRV_LIGHTTPD, env);
    free(porg_sql(srv,
                  "CREATE FUNCTION sentry_test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                  "$$ BEGIN RAISE EXCEPTION 'refused by the test trigger'; END $$",
                  NULL));
    free(porg_sql(srv,
                  "CREATE TRIGGER sentry_test BEFORE INSERT ON user_ FOR EACH ROW "
                  "EXECUTE FUNCTION sentry_test_refuse()",
                  NULL));

    char *token = porg_create_org(srv, "SentryOrg", "");
    pclient_key_t root;
    pclient_key_generate(&root);
    pclient_device_t *d =
        pclient_user_new("SentryOrg", "alice@dev1", "ADMIN", "alice.secret@example.com", "Alice",
                         "Alice's laptop", NULL, &root, pclient_now_us());
    json_object *req = pclient_req_bootstrap(token, &root, d);
    pclient_resp_t r;
    porg_send(srv, "anonymous", "SentryOrg", NULL, req, &r);
    porg_assert_status(srv, &r, 500, NULL);
    char *rid = pclient_resp_header(&r, "X-Request-Id");
    ck_assert_ptr_nonnull(rid);

    char *raw = NULL;
    json_object *ev = wait_event(s, "refused by the test trigger", &raw);
    ck_assert_str_eq(field(ev, "level"), "error");
    ck_assert_str_eq(field(ev, "logger"), "parsec-fcgi");
    ck_assert_str_eq(field(ev, "environment"), "ci");
    ck_assert_str_eq(field(ev, "release"), "parsec-server@" PARSEC_VERSION);
    ck_assert_ptr_nonnull(field(ev, "server_name"));
    ck_assert_str_eq(field(ev, "tags.request_id"), rid);
    ck_assert_str_eq(field(ev, "tags.command"), "organization_bootstrap");
    ck_assert_str_eq(field(ev, "tags.organization"), "SentryOrg");

    /* Nothing of the request's body (token, key, email), and the DSN's
     * key and secret in the X-Sentry-Auth header only */
    ck_assert_ptr_null(strstr(raw, token));
    ck_assert_ptr_null(strstr(raw, "alice.secret@example.com"));
    char *vk = pclient_b64(root.pub, sizeof root.pub);
    ck_assert_ptr_null(strstr(raw, vk));
    ck_assert_int_eq(count_of(raw, KEY), 1);
    ck_assert_int_eq(count_of(raw, SECRET), 1);
    ck_assert_ptr_nonnull(strstr(raw, "sentry_key=" KEY ", sentry_secret=" SECRET "\r\n"));
    json_object_put(ev);
    free(raw);

    /* the workers' log (INFO: settings, requests) never shows the key */
    char *log = websrv_error_log(porg_srv_websrv(srv));
    ck_assert_ptr_nonnull(log);
    ck_assert_ptr_null(strstr(log, KEY));
    ck_assert_ptr_null(strstr(log, SECRET));
    free(log);
    pclient_resp_free(&r);
    ck_assert(porg_srv_stop(srv));

    free(vk);
    free(rid);
    free(token);
    pclient_device_free(d);
    free(dsn_env);
    free(dsn);
    httpsink_stop(s);
}
END_TEST

/* notifyd's ERROR lines reach Sentry too: its database session killed. */
START_TEST(notifyd_reports_lost_database)
{
    httpsink_t *s = httpsink_start(200, NULL);
    char *dsn = dsn_of(s);
    char *db = testenv_db_create();
    const char *extra[] = {"--sentry-dsn", dsn, "--sentry-environment", "ci", NULL};
    ndt_proc_t *nd = ndt_start(db, extra);
    PGconn *pg = testenv_pg_connect(db);
    ndt_sql(pg,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'parsec-notifyd'",
            0, NULL);
    char *raw = NULL;
    json_object *ev = wait_event(s, "database connection lost", &raw);
    ck_assert_str_eq(field(ev, "logger"), "parsec-notifyd");
    ck_assert_str_eq(field(ev, "level"), "error");
    ck_assert_str_eq(field(ev, "environment"), "ci");
    ck_assert_ptr_null(strstr(strstr(raw, "\r\n\r\n"), KEY));
    json_object_put(ev);
    free(raw);
    ck_assert_int_eq(ndt_stop(nd), 0);
    testenv_db_done(pg, db);
    free(dsn);
    httpsink_stop(s);
}
END_TEST

/*
 * notifyd crashing (a fatal signal; SIGABRT since the sanitizers of the test
 * build keep SIGSEGV for themselves) reports a "fatal" event before dying.
 */
START_TEST(notifyd_crash_reported)
{
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core); /* no core file in the tree */
    httpsink_t *s = httpsink_start(200, NULL);
    char *dsn = dsn_of(s);
    char *db = testenv_db_create();
    const char *extra[] = {"--sentry-dsn", dsn, NULL};
    ndt_proc_t *nd = ndt_start(db, extra);
    ck_assert_int_eq(kill(nd->pid, SIGABRT), 0);
    char *raw = NULL;
    json_object *ev = wait_event(s, "parsec-notifyd crashed: signal 6 (SIGABRT", &raw);
    ck_assert_str_eq(field(ev, "level"), "fatal");
    ck_assert_str_eq(field(ev, "logger"), "parsec-notifyd");
    json_object_put(ev);
    free(raw);
    ck_assert_int_eq(ndt_stop(nd), -1); /* it died of the signal */
    testenv_db_drop(db);
    free(db);
    free(dsn);
    httpsink_stop(s);
}
END_TEST

TEST_SUITE(sentry_binaries)
{
    (void)testenv_db_setup();
    Suite *s = suite_create("sentry_binaries");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, worker_reports_failed_command);
    tcase_add_test(tc, notifyd_reports_lost_database);
    tcase_add_test(tc, notifyd_crash_reported);
    suite_add_tcase(s, tc);
    return s;
}
