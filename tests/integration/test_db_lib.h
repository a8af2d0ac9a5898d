/*
 * tests/integration/test_db_lib.h - helpers shared by the database suites
 * (test_db.c: the pool, statements and db_tx(); test_db_pipe.c: pipelines)
 *
 * A test makes a fresh database (testenv_db_create()) with its own table
 * (dbtest, an integer column x), opens a pool on it, and checks what was
 * written from a separate admin connection, never through the pool under
 * test.  Failures abort the test.
 *
 * Ownership: dbt_tx_setup()'s environment is freed by dbt_tx_teardown();
 * dbt_pool_open_ok()'s pool by db_pool_close().
 */
#ifndef PARSEC_TEST_DB_LIB_H
#define PARSEC_TEST_DB_LIB_H

#include "cfg.h"
#include "db.h"

#include <check.h>
#include <libpq-fe.h>

/* dbt_pool_cfg - settings of a pool of min..max connections, one attempt
 * to connect (no retry), 0.1 s between attempts. */
cfg_t dbt_pool_cfg(int min, int max);
/* dbt_pool_open_ok - a pool on url with dbt_pool_cfg(min, max), or fail the
 * test with db_pool_open()'s reason. */
db_pool_t *dbt_pool_open_ok(const char *url, int min, int max);
/* dbt_exec_sql - run sql (no result rows) on pg, or fail the test. */
void dbt_exec_sql(PGconn *pg, const char *sql);

/* A fresh database with one table, an admin connection and a pool of 2. */
typedef struct {
    db_pool_t *pool;
    PGconn *admin;
    char *url;
} dbt_txenv_t;

/* dbt_tx_setup - a fresh database where table_sql ran, and a pool on it. */
dbt_txenv_t dbt_tx_setup(const char *table_sql);
/* dbt_tx_teardown - close the pool (all released) and drop the database. */
void dbt_tx_teardown(dbt_txenv_t *e);
/* dbt_rows - rows of dbtest whose x is value, as pg sees them. */
long dbt_rows(PGconn *pg, int value);

/* "dbtest_one": SELECT $1::int + 1. */
extern const db_stmt_t dbt_stmt_one;
/* "dbtest_pid": SELECT pg_backend_pid(). */
extern const db_stmt_t dbt_stmt_pid;
/* dbt_backend_pid - the server process of c's session (dbt_stmt_pid). */
int dbt_backend_pid(db_conn_t *c);
/* dbt_terminate - end the session of server process pid from admin, and
 * wait (bounded) until it is gone. */
void dbt_terminate(PGconn *admin, int pid);

/* dbt_tcase - a case of s named name: 60 s, logs above CRITICAL silenced
 * (the tests provoke failures db.c logs as errors). */
TCase *dbt_tcase(Suite *s, const char *name);

#endif
