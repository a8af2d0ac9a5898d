/*
 * tests/lib/porg.h - the fixture of protocol and administration suites: one
 * server per test case, organizations made the real way
 *
 * Every suite that drives the worker through a web server is written this
 * way (docs/contributing.md, "Tests").  A test case has one server: a fresh
 * migrated database (testenv.h) and a real web server in front of the
 * worker (websrv.h), started once before its first test and stopped after
 * its last.  Each test works in organizations of its own (fresh ids,
 * porg_org_id), so tests share the server without seeing each other's data,
 * and a suite costs one server start per test case, not per test.
 *
 * Organizations, users and devices are made through the real interfaces
 * only: the administration REST API creates an organization,
 * organization_bootstrap bootstraps it, user_create, device_create and
 * user_revoke populate it (all with tests/lib/pclient.h).  Nothing is
 * inserted behind the server's back to set up what a command can make, so
 * every fixture also exercises the commands it relies on.  SQL
 * (porg_sql) is for checking what was stored, and for state no command
 * makes yet (realms, vlobs, invitations...).
 *
 *     static porg_srv_t *srv;
 *
 *     START_TEST(x) {
 *         porg_t *o = porg_bootstrap(srv, NULL);                 // org + admin@dev1
 *         pclient_device_t *bob = porg_user(srv, o, o->admin, "bob@dev1", "STANDARD",
 *                                           "bob@example.com", "Bob");
 *         porg_expect(srv, bob, pclient_req("organization_config"), "ok");
 *         porg_expect_no_trace(srv, bob, pclient_req("organization_stats"),
 *                              "not_allowed", "not admin");
 *         ck_assert_int_eq(porg_sql_long(srv, "SELECT count(*) FROM user_ u JOIN organization o"
 *                          " ON o._id = u.organization WHERE o.organization_id = $1",
 *                          o->organization_id, NULL), 2);
 *         pclient_device_free(bob);
 *         porg_free(o);
 *     }
 *
 *     TEST_SUITE(cmd_thing) {
 *         Suite *s = suite_create("cmd_thing");
 *         TCase *tc = porg_tcase("thing", &srv, WEBSRV_LIGHTTPD, NULL);
 *         tcase_add_test(tc, x);
 *         suite_add_tcase(s, tc);
 *         return s;
 *     }
 *
 * Tests that need another worker setting (a webhook URL, spontaneous
 * bootstrap) or another web server kind go in a test case of their own,
 * with its own porg_tcase.  A test that truly needs a server to itself (it
 * restarts it, breaks its database, or is the only one to use a setting)
 * calls porg_srv_start/porg_srv_stop itself and says why in a comment.
 * Statuses that need the whole database (server-wide statistics) are read
 * back for the test's own organizations only.
 *
 * Failures (a server that does not start, an unexpected status) abort the
 * running test with ck_abort_msg naming what was expected and what came,
 * with the reply's body; porg_explain adds the server's log of the running
 * test.  A server that fails to start in porg_tcase's fixture fails the
 * test case; one that does not stop cleanly after it ends the run (exit 1).
 *
 * Servers started by porg_tcase live in the runner process and outlive
 * the forked tests; a server a test starts itself is stopped by the websrv
 * watchdog if the test dies first.
 *
 * Ownership: porg_srv_t, porg_t, pclient_device_t, json_object and char *
 * results belong to the caller (porg_srv_stop, porg_free,
 * pclient_device_free, json_object_put, free); pclient_resp_t results are
 * freed with pclient_resp_free.  Request objects passed to porg_call,
 * porg_send* and porg_expect* are consumed (json_object_put) by them.
 *
 * Thread-safety: the functions that abort the test on failure (all but
 * porg_srv_url and porg_org_id) belong to the test's main thread; for
 * concurrent requests use pclient_cmd() with porg_srv_url().
 */
#ifndef PARSEC_PORG_H
#define PARSEC_PORG_H

#include "pclient.h"
#include "websrv.h"

#include <check.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdbool.h>

/* The administration token the servers are started with. */
#define PORG_ADMIN_TOKEN "porg-administration-token-5b1e9c"
/* An extra_env entry: start the workers without any administration token
 * (the API closed).  An entry without '=' unsets, as putenv(3) does. */
#define PORG_NO_ADMIN_TOKEN "PARSEC_ADMINISTRATION_TOKEN"

typedef struct porg_srv porg_srv_t;

/* ---- servers ---- */

/*
 * porg_tcase - a test case whose tests share one server of kind (see
 * porg_srv_start for extra_env, which must stay valid until the test case
 * has run: a static array).  *srv is the server while the test case runs
 * (started by an unchecked fixture in the runner, before its first test),
 * NULL otherwise.  A per-test fixture also marks where the server's log
 * stands when each test begins (porg_log) and closes porg_conn's
 * connection after it.  Timeout: 120 s per test.  At most 160 per
 * process.
 */
TCase *porg_tcase(const char *name, porg_srv_t **srv, websrv_kind kind,
                  const char *const *extra_env);

/*
 * porg_srv_start - a fresh migrated database and a web server of kind in
 * front of the worker (its shipped configuration: lighttpd runs two worker
 * processes), PARSEC_DB_MIN_CONNECTIONS=1, PARSEC_DB_MAX_CONNECTIONS=4,
 * PARSEC_LOG_LEVEL=INFO and PARSEC_ADMINISTRATION_TOKEN=PORG_ADMIN_TOKEN;
 * extra_env (NULL-terminated "PARSEC_X=value" strings, or NULL) adds
 * settings or replaces those, and "PARSEC_X" alone removes one.  Returns
 * once the workers answer from the database (up to 20 s).  Aborts the test
 * (after stopping what it started) when they do not.
 */
porg_srv_t *porg_srv_start(websrv_kind kind, const char *const *extra_env);
/*
 * porg_srv_start_mail - porg_srv_start() of a server whose workers send
 * their mail to an SMTP server on 127.0.0.1:port (a tests/lib/smtppeer.h
 * peer) as a deployment would set it: PARSEC_EMAIL_HOST and _PORT, plain
 * SMTP, PARSEC_EMAIL_SENDER "Parsec <no-reply@parsec.test>",
 * PARSEC_BACKEND_ADDR parsec://parsec.test:6777?no_ssl=true (the links of
 * the mails), PARSEC_EMAIL_CONNECT_TIMEOUT=5, PARSEC_EMAIL_TIMEOUT=20, and
 * PARSEC_EMAIL_LANGUAGE=lang unless lang is NULL (the default language);
 * then extra_env's entries, as porg_srv_start() takes them, which win.
 */
porg_srv_t *porg_srv_start_mail(websrv_kind kind, int port, const char *lang,
                                const char *const *extra_env);
/* porg_srv_stop - stop the server, drop the database, free s (NULL: no-op).
 * False when the server did not stop cleanly (websrv_stop). */
bool porg_srv_stop(porg_srv_t *s);
/* The server's base URL, the database URL, the web server (owned by s). */
const char *porg_srv_url(const porg_srv_t *s);
const char *porg_srv_db(const porg_srv_t *s);
websrv_t *porg_srv_websrv(const porg_srv_t *s);

/* ---- the server's log ---- */

/* porg_log - what the server logged since the running test began (since
 * it started, for a server the test started), malloc'd, "" when nothing. */
char *porg_log(const porg_srv_t *s);
/* porg_log_mark / porg_log_since - the same from a point of the test's
 * choosing. */
websrv_log_mark_t porg_log_mark(const porg_srv_t *s);
char *porg_log_since(const porg_srv_t *s, const websrv_log_mark_t *mark);

/* ---- SQL on the server's database ---- */

/* porg_conn - the running test's connection to the server's database,
 * opened on first use (owned by s; closed after the test by porg_tcase's
 * fixture, or by porg_srv_stop). */
PGconn *porg_conn(const porg_srv_t *s);
/* porg_pg - a new connection of the caller's own (PQfinish it), e.g. to
 * LISTEN. */
PGconn *porg_pg(const porg_srv_t *s);
/*
 * porg_sql - run sql with text parameters (NULL-terminated list, at most
 * 16) on porg_conn; aborts the test unless it succeeded.  Returns the first
 * column of the first row (malloc'd), or NULL when there is no row or it
 * is NULL.
 */
char *porg_sql(const porg_srv_t *s, const char *sql, ...) __attribute__((sentinel));
char *porg_vsql(const porg_srv_t *s, const char *sql, va_list ap);
/* porg_sql_long - the same as a number; aborts the test when there is no
 * row or it is NULL. */
long porg_sql_long(const porg_srv_t *s, const char *sql, ...) __attribute__((sentinel));

/* porg_fingerprint - a digest of every row of every table of the database
 * (malloc'd): equal before and after a command iff it wrote nothing
 * (sequences aside: a rolled-back INSERT may consume an id, which is no
 * data). */
char *porg_fingerprint(const porg_srv_t *s);

/*
 * Server-wide statistics list every organization of the shared database;
 * a test reads back its own.  porg_csv_only - csv (a header line, then one
 * line per organization, its id first) with the header and the lines of
 * org_ids (NULL-terminated) only, in csv's order (malloc'd).
 * porg_stats_only - json_text, an object whose "stats" array holds
 * {"organization_id": ...} entries, with the entries of org_ids only, as
 * plain JSON text (malloc'd); aborts the test when it is not such an
 * object.
 */
char *porg_csv_only(const char *csv, const char *const *org_ids);
char *porg_stats_only(const char *json_text, const char *const *org_ids);

/* porg_org_id - a fresh organization id "<prefix>-<12 random hex>" (prefix
 * at most 19 characters; NULL: "Org"), malloc'd. */
char *porg_org_id(const char *prefix);

/* ---- the administration API ---- */

/*
 * porg_admin - an administration request: method on
 * /administration/organizations[/<org>][<suffix>] with the right token and
 * body (a JSON text, may be NULL).  *status receives the HTTP status; the
 * reply body parsed as JSON is returned (NULL when not JSON).
 */
json_object *porg_admin(const porg_srv_t *s, const char *method, const char *org_id,
                        const char *suffix, const char *body, long *status);
/* porg_create_org - POST /administration/organizations with
 * {"organization_id": org_id, ...extra} where extra_fields is "" or
 * ", \"active_users_limit\": 3"-style text; returns the bootstrap token
 * (malloc'd).  Aborts the test unless 200. */
char *porg_create_org(const porg_srv_t *s, const char *org_id, const char *extra_fields);
/* porg_patch_org - PATCH the organization with body (JSON text); aborts
 * the test unless 200. */
void porg_patch_org(const porg_srv_t *s, const char *org_id, const char *body);

/* ---- organizations ---- */

typedef struct {
    char *organization_id;
    pclient_key_t root;      /* the root key the organization was bootstrapped with */
    pclient_device_t *admin; /* its first user: "admin@dev1", ADMIN, admin@<org>.example.com */
} porg_t;

/*
 * porg_bootstrap - create an organization through the administration API
 * (org_id NULL: porg_org_id(NULL); extra_fields as porg_create_org) and
 * bootstrap it with a fresh root key and its first user admin@dev1, device
 * label "Admin's laptop", human handle ("admin@<org lowercased>.example.com",
 * "Admin").  Aborts the test unless both succeed.
 */
porg_t *porg_bootstrap(const porg_srv_t *s, const char *org_id);
porg_t *porg_bootstrap_ex(const porg_srv_t *s, const char *org_id, const char *extra_fields);
void porg_free(porg_t *o);

/*
 * porg_user - create a user (its first device device_id, e.g. "bob@dev1")
 * with user_create, certified and sent by certifier (an ADMIN device of o),
 * at the current time; email NULL: non-human; device label "<device_id>
 * label".  Aborts the test unless "ok".  Returns the new device.
 */
pclient_device_t *porg_user(const porg_srv_t *s, const porg_t *o, const pclient_device_t *certifier,
                            const char *device_id, const char *profile, const char *email,
                            const char *label);
/* porg_device - another device "<user>@<device_name>" of user's user, with
 * device_create sent and certified by user.  Aborts the test unless "ok". */
pclient_device_t *porg_device(const porg_srv_t *s, const pclient_device_t *user,
                              const char *device_name);
/* porg_revoke - user_revoke of user_id by the ADMIN device author, now.
 * Aborts the test unless "ok". */
void porg_revoke(const porg_srv_t *s, const pclient_device_t *author, const char *user_id);

/* ---- requests: any route, any answer ---- */

/*
 * porg_send - pclient_cmd_ex on the server: req (consumed) as JSON to
 * /<family>/<org_id>, authenticated as dev when dev is not NULL, opts as
 * pclient_opts_t (NULL: defaults).  Aborts the test unless an HTTP answer
 * came; *out holds it (pclient_resp_free it).
 */
void porg_send(const porg_srv_t *s, const char *family, const char *org_id,
               const pclient_device_t *dev, json_object *req, pclient_resp_t *out);
void porg_send_ex(const porg_srv_t *s, const char *family, const char *org_id,
                  const pclient_device_t *dev, const pclient_opts_t *opts, json_object *req,
                  pclient_resp_t *out);
/* porg_post - POST body (any bytes) to /<family>/<org_id> with exactly the
 * header lines hdrs (NULL-terminated, may be NULL); same result as
 * porg_send. */
void porg_post(const porg_srv_t *s, const char *family, const char *org_id, const char *const *hdrs,
               const void *body, size_t len, pclient_resp_t *out);

/* porg_dump_log - print the server's log of the running test on stderr. */
void porg_dump_log(const porg_srv_t *s);
/* porg_explain - print an unexpected answer, then porg_dump_log (the log
 * says why). */
void porg_explain(const porg_srv_t *s, const pclient_resp_t *r);
/* porg_assert_status - HTTP status http and, when status is not NULL, the
 * reply's "status"; explains the answer before failing. */
void porg_assert_status(const porg_srv_t *s, const pclient_resp_t *r, long http,
                        const char *status);

/* ---- commands: HTTP 200 with a status ---- */

/*
 * porg_call - POST req (consumed) on /authenticated/<dev's organization> as
 * dev; aborts the test unless the answer is HTTP 200 with a JSON object
 * carrying a string "status".  Returns the reply (json_object_put it).
 */
json_object *porg_call(const porg_srv_t *s, const pclient_device_t *dev, json_object *req);
/* porg_call_raw - POST body (any bytes) as the JSON of an authenticated
 * request of dev; same checks and result as porg_call. */
json_object *porg_call_raw(const porg_srv_t *s, const pclient_device_t *dev, const char *body,
                           size_t len);
/* porg_status - the "status" of a reply (borrowed from it). */
const char *porg_status(json_object *reply);
/* porg_str - string field name of reply, or NULL (absent, null, not a
 * string); reply may be NULL.  For a pclient_resp_t: porg_str(r.json, ...). */
const char *porg_str(json_object *reply, const char *name);

/* porg_expect - porg_call, then abort unless the status is status. */
void porg_expect(const porg_srv_t *s, const pclient_device_t *dev, json_object *req,
                 const char *status);
/* porg_expect_reason - the same, and the reply's "reason" (or, for
 * bad_message, its "field") must contain needle (NULL: not checked). */
void porg_expect_reason(const porg_srv_t *s, const pclient_device_t *dev, json_object *req,
                        const char *status, const char *needle);
/* porg_expect_no_trace - porg_expect_reason, and the database fingerprint
 * must be the same before and after ("a refused command leaves no
 * trace"). */
void porg_expect_no_trace(const porg_srv_t *s, const pclient_device_t *dev, json_object *req,
                          const char *status, const char *needle);

#endif
