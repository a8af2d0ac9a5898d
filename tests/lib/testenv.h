/*
 * tests/lib/testenv.h - fresh, migrated databases for integration suites
 *
 *   char *url = testenv_db_create();   // an empty database, every migration applied
 *   ... run servers with --db url, talk SQL to it (testenv_pg_connect) ...
 *   testenv_db_drop(url);
 *   free(url);
 *
 * The PostgreSQL server is $PARSEC_TEST_PG_URL (set by tests/harness/run-tests).
 * When it is unset, the first call starts a private cluster for the process
 * (common/pgcluster.h), exports its URL as PARSEC_TEST_PG_URL for the
 * processes the tests start, and stops it when that process exits: suites
 * also run standalone, `build-x/tests/integration db`.
 *
 * Speed: the migrations are applied once, to a template database named after
 * a hash of the migrations ("parsec_tpl_<hash>", shared by every test process
 * on the server, left in place: the harness cluster is thrown away anyway);
 * each database is then a CREATE DATABASE ... TEMPLATE copy (a few ms).
 *
 * Check runs each test in a forked child.  Work done in a child is lost when
 * it exits, so call testenv_db_setup() from the TEST_SUITE builder (it runs
 * in the runner process, before any fork): the server and the template are
 * then prepared once for all tests.  Without it every test pays for them
 * (and, standalone, starts its own cluster: about a second each).
 *
 * Database names are "parsec_test_<pid>_<n>_<random>"; testenv_db_drop()
 * refuses any other name, so it can never drop someone's real database.
 *
 * Failures inside a test abort the test (ck_abort_msg) with the reason.
 * Thread-safe.
 */
#ifndef PARSEC_TESTENV_H
#define PARSEC_TESTENV_H

#include <libpq-fe.h>
#include <stdbool.h>

/* testenv_db_setup - prepare the server and the template now; false (after
 * a line on stderr) on failure, which testenv_db_create() then reports. */
bool testenv_db_setup(void);

/* testenv_pg_url - the server's URL (its maintenance database); owned by
 * testenv, valid until exit.  Aborts the test when no server can be had. */
const char *testenv_pg_url(void);

/* testenv_db_create - URL of a new empty database with every migration
 * applied; the caller frees it (after testenv_db_drop). */
char *testenv_db_create(void);

/* testenv_db_create_empty - the same, with no migration applied (for the
 * migration tests themselves); drop and free it the same way. */
char *testenv_db_create_empty(void);

/* testenv_db_drop - drop a database made by testenv_db_create(), ending
 * its remaining sessions; a database already gone is fine. */
void testenv_db_drop(const char *url);

/* testenv_db_done - the usual end of a test: PQfinish(pg) (NULL is fine),
 * testenv_db_drop(url), free(url).  Takes ownership of both. */
void testenv_db_done(PGconn *pg, char *url);

/*
 * testenv_url_with - url with connection parameter key set to value (value
 * NULL: removed), e.g. ("dbname", "x"), ("application_name", "t1"),
 * ("password", "wrong").  Returns a postgresql:// URL; the caller frees.
 * Aborts the test when url cannot be parsed.
 */
char *testenv_url_with(const char *url, const char *key, const char *value);

/* testenv_build_path - name in the build directory under test:
 * $PARSEC_TEST_BUILD/name, else beside the directory of the running test
 * binary's parent (build-x/tests/integration -> build-x/name); just name
 * when neither is known.  The caller frees. */
char *testenv_build_path(const char *name);

/* testenv_rm_rf - remove dir and everything below it (links not followed);
 * what cannot be removed stays, silently. */
void testenv_rm_rf(const char *dir);

/* testenv_free_port - a 127.0.0.1 TCP port nobody listens on right now
 * (bound, read back, closed); for "unreachable" and "port in use" cases. */
int testenv_free_port(void);

/* testenv_pg_connect - a plain libpq connection to url, or abort the test.
 * The caller PQfinish()es it. */
PGconn *testenv_pg_connect(const char *url);

/* testenv_sql_int - the first column of the first row of sql (no
 * parameters) as a long; aborts the test on error or no row. */
long testenv_sql_int(PGconn *pg, const char *sql);

#endif
