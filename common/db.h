/*
 * common/db.h - PostgreSQL access: connection pool, prepared statements,
 * the one transaction helper every command uses
 *
 * A worker process owns one pool (process lifetime).  A request borrows one
 * connection for its whole life and gives it back when it ends, so a command
 * is always exactly one transaction on one connection.
 *
 * Statements are declared once, statically, as db_stmt_t; each connection
 * prepares a statement the first time it runs it, then reuses the plan
 * (prepared statements double PostgreSQL's single-connection throughput).
 * Every value travels as a parameter: no SQL is ever built from input.
 *
 * Thread-safety: the pool is thread-safe; a db_conn_t is used by one thread
 * at a time (the one that acquired it).
 */
#ifndef PARSEC_DB_H
#define PARSEC_DB_H

#include "cfg.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct db_pool db_pool_t;
typedef struct db_conn db_conn_t;

/* A statically declared, lazily prepared statement. */
typedef struct {
    const char *name; /* unique, e.g. "org_get" */
    const char *sql;  /* $1..$n placeholders */
    int nparams;
} db_stmt_t;

/*
 * db_pool_open - connect db_min_connections connections to url
 *
 * Retries as cfg->maximum_database_connection_attempts and
 * cfg->pause_before_retry_database_connection say.  Refuses (NULL, one line
 * in err) a database whose schema is behind the migrations this binary
 * carries: "run `parsec backend migrate`".  Free with db_pool_close().
 */
db_pool_t *db_pool_open(const cfg_t *cfg, const char *url, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void db_pool_close(db_pool_t *pool);

/*
 * db_acquire - a healthy connection, opening one (up to db_max_connections)
 * or waiting for one to be released.  NULL when the database is unreachable.
 * Give it back with db_release(); a broken connection is dropped there.
 */
db_conn_t *db_acquire(db_pool_t *pool);
void db_release(db_pool_t *pool, db_conn_t *c);

PGconn *db_pg(db_conn_t *c);

/*
 * db_exec - run a prepared statement with text parameters (values[i] may be
 * NULL for SQL NULL; lengths/formats may be NULL for all-text).  Returns the
 * PGresult (caller PQclear()s) or NULL after logging on error; the
 * SQLSTATE of the last failure is kept in db_last_sqlstate().
 */
PGresult *db_exec(db_conn_t *c, const db_stmt_t *stmt, const char *const *values,
                  const int *lengths, const int *formats);
/* SQLSTATE ("23505"...) of the last failed db_exec on c, or "" */
const char *db_last_sqlstate(const db_conn_t *c);

/* What a transaction body returns. */
typedef enum {
    DB_TX_COMMIT = 0,   /* commit; db_tx() returns DB_TX_COMMIT */
    DB_TX_ROLLBACK = 1, /* a refused command: roll back, leave no trace */
    DB_TX_ERROR = 2,    /* unexpected failure: roll back, log, answer 500 */
} db_tx_result;

typedef db_tx_result (*db_tx_fn)(db_conn_t *c, void *arg);

/*
 * db_tx - BEGIN; fn(c, arg); COMMIT or ROLLBACK
 *
 * The one transaction helper: every command is one call to it, so a refused
 * or failed command writes nothing.  Serialization failures and deadlocks
 * (40001, 40P01) re-run fn from the start a bounded number of times, so fn
 * must keep its side effects inside the transaction (NOTIFY included: it is
 * delivered at commit only).
 */
db_tx_result db_tx(db_conn_t *c, db_tx_fn fn, void *arg);

/* db_schema_status - number of migrations not yet applied (>= 0), -1 on error. */
int db_schema_pending(PGconn *pg);

#endif
