/*
 * tests/lib/porg.h - organizations for protocol tests, made the real way
 *
 * A protocol suite needs a server, an organization with an administrator,
 * and users and devices in it.  porg makes them through the real interfaces
 * only: a fresh migrated database (testenv.h), a real web server in front of
 * the worker (websrv.h), the administration REST API to create the
 * organization, organization_bootstrap to bootstrap it, user_create and
 * device_create to populate it (all with tests/lib/pclient.h).  Nothing is
 * inserted behind the server's back, so every fixture also exercises the
 * commands it relies on.
 *
 * Typical suite (one server for a test case, one organization per test):
 *
 *     static porg_srv_t *srv;
 *     static void up(void)   { srv = porg_srv_start(WEBSRV_LIGHTTPD, NULL); }
 *     static void down(void) { porg_srv_stop(srv); }
 *     ...
 *     tcase_add_unchecked_fixture(tc, up, down);   // runs in the runner, before any fork
 *
 *     START_TEST(x) {
 *         porg_t *o = porg_bootstrap(srv, NULL);                 // org + admin@dev1
 *         pclient_device_t *bob = porg_user(srv, o, o->admin, "bob@dev1", "STANDARD",
 *                                           "bob@example.com", "Bob");
 *         porg_expect(srv, bob, pclient_req("ping"), "ok");
 *         pclient_device_free(bob);
 *         porg_free(o);
 *     }
 *
 * Servers started by the unchecked fixture outlive the forked tests (the
 * websrv watchdog only fires when the runner itself goes away); each test
 * works in organizations of its own (porg_org_id()), so tests never see
 * each other's data although they share the database.
 *
 * Failures (a server that does not start, an unexpected status) abort the
 * running test with ck_abort_msg naming what was expected and what came,
 * with the reply's body.  In porg_srv_start (called from a fixture, outside
 * any test), a failure prints why and exits the runner with status 2.
 *
 * Ownership: porg_srv_t, porg_t, pclient_device_t and json_object results
 * belong to the caller (porg_srv_stop, porg_free, pclient_device_free,
 * json_object_put).  Request objects passed to porg_call/porg_expect* are
 * consumed (json_object_put) by them.
 *
 * Thread-safety: porg_call and porg_expect* abort the test on failure, so
 * call them from the test's main thread; for concurrent requests use
 * pclient_cmd() with porg_srv_url().
 */
#ifndef PARSEC_PORG_H
#define PARSEC_PORG_H

#include "pclient.h"
#include "websrv.h"

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdbool.h>

/* The administration token the servers are started with. */
#define PORG_ADMIN_TOKEN "porg-administration-token-5b1e9c"

typedef struct porg_srv porg_srv_t;

/*
 * porg_srv_start - a fresh migrated database and a web server of kind in
 * front of the worker, with PORG_ADMIN_TOKEN; returns once the worker
 * answers from the database.  extra_env: NULL-terminated "PARSEC_X=v"
 * strings added to the worker's environment (may be NULL).
 */
porg_srv_t *porg_srv_start(websrv_kind kind, const char *const *extra_env);
/* porg_srv_stop - stop the server, drop the database, free s (NULL: no-op).
 * False when the server did not stop cleanly (websrv_stop). */
bool porg_srv_stop(porg_srv_t *s);
/* The server's base URL and the database URL (owned by s). */
const char *porg_srv_url(const porg_srv_t *s);
const char *porg_srv_db(const porg_srv_t *s);
websrv_t *porg_srv_websrv(const porg_srv_t *s);
/* porg_pg - a new libpq connection to the server's database (PQfinish it). */
PGconn *porg_pg(const porg_srv_t *s);

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

/* ---- commands ---- */

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
/* porg_str - string field name of reply, or NULL (absent, null, not a string). */
const char *porg_str(json_object *reply, const char *name);

/* ---- "a refused command leaves no trace" ---- */

/* porg_fingerprint - a digest of every row of every table of the database
 * (malloc'd): equal before and after a command iff it wrote nothing
 * (sequences aside: a rolled-back INSERT may consume an id, which is no
 * data). */
char *porg_fingerprint(const porg_srv_t *s);

/* porg_expect - porg_call, then abort unless the status is status. */
void porg_expect(const porg_srv_t *s, const pclient_device_t *dev, json_object *req,
                 const char *status);
/* porg_expect_reason - the same, and the reply's "reason" (or, for
 * bad_message, its "field") must contain needle (NULL: not checked). */
void porg_expect_reason(const porg_srv_t *s, const pclient_device_t *dev, json_object *req,
                        const char *status, const char *needle);

/* porg_expect_no_trace - porg_expect_reason, and the database fingerprint
 * must be the same before and after. */
void porg_expect_no_trace(const porg_srv_t *s, const pclient_device_t *dev, json_object *req,
                          const char *status, const char *needle);

#endif
