/*
 * tests/lib/rpcenv.h - a database and a web server in front of the worker,
 * ready for protocol (RPC) tests
 *
 *     rpcenv_t e;
 *     rpcenv_start(&e, WEBSRV_LIGHTTPD, NULL);       // fresh database, lighttpd, 2 workers
 *     pclient_key_t root;
 *     pclient_device_t *alice = rpcenv_bootstrap(&e, "CoolOrg", &root);  // via the protocol
 *     pclient_resp_t r;
 *     rpcenv_cmd(&e, "authenticated", "CoolOrg", alice, pclient_req("organization_config"), &r);
 *     ...
 *     rpcenv_stop(&e);
 *
 * Organizations are created with SQL as the administration API would (so
 * these suites do not depend on it); the first user comes from a real
 * organization_bootstrap.  Further users can be stored with SQL
 * (rpcenv_add_user), for suites that must not depend on user_create.
 *
 * Each test runs in a forked Check child: a failed assertion exits it, and
 * rpcenv stops the web server it started from an atexit handler, so nothing
 * outlives the test.  Failures abort the test (ck_assert) with a reason.
 */
#ifndef PARSEC_RPCENV_H
#define PARSEC_RPCENV_H

#include "pclient.h"
#include "websrv.h"

#include <libpq-fe.h>
#include <stdbool.h>

typedef struct {
    char *db;        /* the database URL (owned) */
    PGconn *pg;      /* a direct connection to it, for checks and set-up */
    websrv_t *w;     /* the web server and its workers */
    const char *url; /* websrv_url(w) */
} rpcenv_t;

/*
 * rpcenv_start - a fresh migrated database and a web server of kind whose
 * workers use it (PARSEC_LOG_LEVEL=INFO, 4 threads each; extra_env: more
 * "PARSEC_X=value" strings, NULL-terminated, or NULL), then wait until the
 * workers reach the database.
 */
void rpcenv_start(rpcenv_t *e, websrv_kind kind, const char *const *extra_env);
/* rpcenv_stop - stop the server (asserting it stopped cleanly), drop the
 * database. */
void rpcenv_stop(rpcenv_t *e);
/* rpcenv_shutdown - rpcenv_stop without the assertion: whether the server
 * stopped cleanly. */
bool rpcenv_shutdown(rpcenv_t *e);

/*
 * rpcenv_serve - the server part of rpcenv_start, for callers with a
 * database of their own (porg) or outside a test: a web server of kind
 * whose workers use db (PARSEC_DB_MIN_CONNECTIONS=1,
 * PARSEC_DB_MAX_CONNECTIONS=4, PARSEC_LOG_LEVEL=INFO, then extra_env), and a
 * wait of up to 20 s until they reach the database (an anonymous request
 * for an unknown organization answers 404).  *w is the server (NULL when it
 * did not start; stop it with websrv_stop), *status the last answer (0:
 * none).  True once the workers answered from the database.  Asserts
 * nothing.
 */
bool rpcenv_serve(websrv_kind kind, const char *db, const char *const *extra_env, websrv_t **w,
                  long *status);
/* rpcenv_dump_log - the web server's error log (workers' stderr) on stderr. */
void rpcenv_dump_log(rpcenv_t *e);

/* rpcenv_explain - print an unexpected answer, then the error log of the
 * environment started last (the running test's), which says why. */
void rpcenv_explain(const pclient_resp_t *r);

/* rpcenv_assert_status - HTTP status http and, when status is not NULL, the
 * reply's "status"; explains the answer before failing. */
void rpcenv_assert_status(const pclient_resp_t *r, long http, const char *status);

/* rpcenv_create_org - an organization as POST /administration/organizations
 * makes it; returns its bootstrap token (64 hex, malloc'd). */
char *rpcenv_create_org(rpcenv_t *e, const char *org_id);

/*
 * rpcenv_bootstrap - create org_id and bootstrap it through
 * organization_bootstrap, asserting "ok"; returns its first device
 * "alice@dev1" (ADMIN, alice@example.com, label "Alice", device label
 * "Alice's laptop").  *root (may be NULL) receives the root key.
 */
pclient_device_t *rpcenv_bootstrap(rpcenv_t *e, const char *org_id, pclient_key_t *root);

/*
 * rpcenv_add_user - store a new user of org_id and its first device with
 * SQL, as user_create would (certificates by certifier, or by root when
 * certifier is NULL), and return it.  email NULL: non-human; the label is
 * the email's local part.
 */
pclient_device_t *rpcenv_add_user(rpcenv_t *e, const char *org_id, const char *device_id,
                                  const char *profile, const char *email,
                                  const pclient_device_t *certifier, const pclient_key_t *root);

/* rpcenv_revoke - mark user_id of org_id revoked with SQL (revoked_on now,
 * a placeholder certificate). */
void rpcenv_revoke(rpcenv_t *e, const char *org_id, const char *user_id);

/* rpcenv_sql - run sql with text parameters (NULL-terminated list) and
 * assert it succeeded; returns the first column of the first row
 * (malloc'd) or NULL when there is no row or it is NULL. */
char *rpcenv_sql(rpcenv_t *e, const char *sql, ...);

/* rpcenv_cmd / rpcenv_cmd_ex - pclient_cmd(_ex) on e->url, asserting an
 * HTTP answer came; req is consumed (json_object_put). */
void rpcenv_cmd(rpcenv_t *e, const char *family, const char *org_id, const pclient_device_t *dev,
                json_object *req, pclient_resp_t *out);
void rpcenv_cmd_ex(rpcenv_t *e, const char *family, const char *org_id, const pclient_device_t *dev,
                   const pclient_opts_t *opts, json_object *req, pclient_resp_t *out);

/* rpcenv_str - the string field name of a JSON reply, or NULL. */
const char *rpcenv_str(const pclient_resp_t *r, const char *name);

#endif
