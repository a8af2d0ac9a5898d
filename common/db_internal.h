/*
 * common/db_internal.h - what the files of the database module share
 *
 * Private to common/db*.c; everything else includes db.h.  One module in
 * several files, one concern each:
 *   db.c       connecting, failure classes, the pool, prepared statements,
 *              recording failures, transactions (db_tx, db_begin...);
 *   db_run.c   typed parameters, typed binary results, the statement
 *              registry, the request's connection lease;
 *   db_pipe.c  pipelines: libpq's pipeline mode (db_exec_pipeline) and its
 *              typed queue (db_pipe_*), built on the two above.
 *
 * A pipeline answers statement by statement as db_exec() does, so it needs
 * what db_exec() is made of (the session's prepared set, the one way a
 * failure is recorded, the reconnection db_begin() makes) and, for its typed
 * queue, what db_run() is made of (parameters, results).  Those are here and
 * nowhere else.
 */
#ifndef PARSEC_DB_INTERNAL_H
#define PARSEC_DB_INTERNAL_H

#include "db.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* ---- db.c: a connection ---------------------------------------------------- */

/* One pooled session; owned by its pool, used by the one thread that
 * acquired it (db.h). */
struct db_conn {
    PGconn *pg;
    db_pool_t *pool;
    /* Statements prepared on this session: an open-addressing set of
     * db_stmt_t pointers (statements are static), capacity a power of 2. */
    const db_stmt_t **prepared;
    size_t nprepared, cap;
    char sqlstate[6];
    bool broken; /* seen dead or failed at connection level: drop on release */
    db_conn_t *next_idle;
};

/* db_prepared_has - s is prepared on c's current session. */
bool db_prepared_has(const db_conn_t *c, const db_stmt_t *s);
/* db_prepared_put - note s as prepared on c's current session (after the
 * server said so); a reconnection forgets them all. */
void db_prepared_put(db_conn_t *c, const db_stmt_t *s);

/*
 * db_record_failure - record a failed operation on c (res may be NULL: a
 * libpq-side failure) and log it: what ("statement", "prepare", "BEGIN"...)
 * and name (a statement's, or NULL).  Sets db_last_sqlstate(), keeping the
 * first failure of a transaction (the 25P02 that follow would hide a
 * retryable 40001), and marks c broken on a connection-level failure.
 */
void db_record_failure(db_conn_t *c, const PGresult *res, const char *what, const char *name);
/* db_result_ok - res is a statement's success (COMMAND_OK or TUPLES_OK). */
bool db_result_ok(const PGresult *res);
/* db_conn_reconnect - replace c's session by a fresh one (same db_conn_t,
 * nothing prepared, no longer broken); false, logged, when it cannot. */
bool db_conn_reconnect(db_conn_t *c);

/* ---- db_run.c: typed parameters and results -------------------------------- */

/* A typed result (db.h's db_res_t); lives in the arena it was made in. */
struct db_res {
    PGresult *pg; /* NULL: an empty result (failure, or nothing ran) */
    size_t nrows;
    bool *failed;
    const char *stmt; /* its name, for messages */
    bool pending;     /* queued in a pipeline not yet sent: reading it is a bug */
};

/* The parameters of a statement as libpq takes them; arrays in an arena. */
typedef struct {
    const char **values;
    int *lengths, *formats;
} db_params_t;

/* db_res_empty - an empty result (no rows) of stmt (may be NULL) in a,
 * failing through failed. */
db_res_t *db_res_empty(arena_t *a, bool *failed, const db_stmt_t *stmt);
/* db_res_fill - r takes pg, which joins a (PQclear()ed at its reset). */
void db_res_fill(arena_t *a, db_res_t *r, PGresult *pg);
/* db_params_of - vals[0..n) as libpq's text/binary parameters, in a; text
 * and bytes are pointed to, not copied. */
db_params_t db_params_of(arena_t *a, const db_val_t *vals, size_t n);
/* db_nparams_ok - n is stmt's parameter count; otherwise a bug, logged. */
bool db_nparams_ok(const db_stmt_t *stmt, size_t n);

#endif
