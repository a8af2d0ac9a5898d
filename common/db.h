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
 * Every connection is opened with:
 *   - application_name = the program's name ("parsec-fcgi", "parsec"...)
 *     unless the URL sets one (pg_stat_activity tells the binaries apart);
 *   - connect_timeout = DB_CONNECT_TIMEOUT seconds unless the URL sets one,
 *     so an unreachable host fails in bounded time;
 *   - statement_timeout = DB_STATEMENT_TIMEOUT_MS unless the URL's "options"
 *     say otherwise, so a runaway query cannot hold a worker thread forever;
 *   - client_encoding UTF8 and TimeZone UTC (always): text timestamps read
 *     back as "YYYY-MM-DD HH:MM:SS.ffffff+00";
 *   - jit off (always): a generic plan's estimate must never make
 *     PostgreSQL compile a short statement at each run (db.c says why);
 *   - plan_cache_mode force_generic_plan (always): a prepared statement is
 *     planned once per connection, for any values.  PostgreSQL's default
 *     plans each run again whenever the generic plan's estimate exceeds
 *     the average of the custom plans the connection made so far, and that
 *     average remembers the plans of when the tables were small: a poll
 *     re-planned at every run once a realm had 300,000 changes (31 % of the
 *     machine in the planner).  Every statement's generic plan is checked
 *     against a seeded realm (tests/integration/test_realm_scale.c), so a
 *     statement is written for a generic plan: no "$n IS NULL OR" where
 *     an index matters, and ranges bounded on both sides (PostgreSQL
 *     estimates an unknown range at 0.5 % of the rows, an unknown
 *     one-sided bound at a third).
 *
 * Isolation: db_tx() runs READ COMMITTED (PostgreSQL's default).  A body
 * whose checks must hold until COMMIT takes the row locks it needs (SELECT
 * ... FOR UPDATE on the organization, realm or invitation row, or
 * pg_advisory_xact_lock) before reading; db_tx_serializable() is there for
 * the rare body easier to write as SERIALIZABLE.  Deadlocks and
 * serialization failures re-run the body (see db_tx).
 *
 * Errors: the password of a URL never appears in a message (URLs go through
 * cfg_redact_url(), libpq's own messages are scrubbed of the password).
 * Parameter values are never logged; nor is PostgreSQL's message for data
 * exceptions (SQLSTATE class 22), which quotes the offending value.
 *
 * Thread-safety: the pool is thread-safe; a db_conn_t is used by one thread
 * at a time (the one that acquired it).
 */
#ifndef PARSEC_DB_H
#define PARSEC_DB_H

#include "arena.h"
#include "cfg.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Defaults set on every connection (the URL may override the first two). */
#define DB_CONNECT_TIMEOUT      5 /* seconds, libpq's connect_timeout */
#define DB_STATEMENT_TIMEOUT_MS 60000
/* The settings every session gets once connected (the list above says
 * why), for a connection opened without db_connect() (notifyd's
 * asynchronous reconnection). */
#define DB_SESSION_SETUP_SQL                                                                       \
    "SET TIME ZONE 'UTC'; SET jit = off; SET plan_cache_mode = force_generic_plan"
/* db_acquire() gives up after waiting this long for a busy pool. */
#define DB_ACQUIRE_TIMEOUT_MS 30000
/* db_tx() runs its body at most this many times (deadlocks, serialization). */
#define DB_TX_MAX_ATTEMPTS 5

typedef struct db_pool db_pool_t;
typedef struct db_conn db_conn_t;

/*
 * Why a database could not be had: the one classification every binary
 * uses to decide between retrying and stopping.
 *
 *   DB_FAIL_RETRY   connection level: refused, nothing listening on the
 *                   socket, timeout, network or host unreachable, a name
 *                   that does not resolve (yet), the server starting up,
 *                   shutting down or in recovery (57P03, 57P01, 57P02), too
 *                   many connections or other resources (53xxx), the
 *                   connection lost (08xxx).  The server may answer later.
 *   DB_FAIL_FATAL   a setting is wrong: authentication failed or no password
 *                   given, unknown role or database, an invalid option, a
 *                   pg_hba.conf refusal, TLS required but not offered, a peer
 *                   that is not PostgreSQL, a URL libpq cannot parse.
 *                   Retrying cannot fix it: stop with one line.
 *   DB_FAIL_SCHEMA  connected, but the schema is not this binary's (behind:
 *                   run `parsec backend migrate`; ahead: a newer binary
 *                   migrated it).  Fixed without touching our settings.
 *
 * How it is told, robustly: libpq gives no SQLSTATE for a failed connection
 * attempt, and the server's message is in the server's language.  So every
 * attempt runs with PQERRORS_VERBOSE, which makes libpq write the server's
 * SQLSTATE into the message ("FATAL:  28P01: password ..."); the code is
 * never translated.  A missing password is PQconnectionNeedsPassword().
 * What libpq itself reports (no SQLSTATE) is connection level when it is
 * one of its network failures (libpq writes English here: these programs
 * never call setlocale; errno texts are compared through strerror()), and
 * a setting otherwise.
 */
typedef enum {
    DB_FAIL_NONE = 0,
    DB_FAIL_RETRY,
    DB_FAIL_FATAL,
    DB_FAIL_SCHEMA,
} db_failure;

/* db_failure_classify - the class of a failed attempt from libpq's message
 * (as PQerrorMessage() gives it, verbose) and PQconnectionNeedsPassword().
 * Pure: unit-testable without a server.  Never DB_FAIL_NONE or _SCHEMA. */
db_failure db_failure_classify(const char *msg, bool needs_password);
/* db_failure_of - db_failure_classify() of a connection whose attempt
 * failed (CONNECTION_BAD); set PQERRORS_VERBOSE on it before it is polled
 * (PQsetErrorVerbosity right after PQconnectStartParams). */
db_failure db_failure_of(PGconn *pg);
/* db_failure_message - the failure of pg on one line in dst: libpq's
 * message without the LOCATION line PQERRORS_VERBOSE adds, the password
 * libpq used masked. */
void db_failure_message(PGconn *pg, char *dst, size_t n);
/* db_failure_name - "none", "retry", "fatal", "schema"; static. */
const char *db_failure_name(db_failure f);

/* A statically declared, lazily prepared statement. */
typedef struct {
    const char *name; /* unique, e.g. "org_get" */
    const char *sql;  /* $1..$n placeholders */
    int nparams;
} db_stmt_t;

/*
 * db_connect - one plain connection to url, set up as described above
 *
 * Tries cfg->maximum_database_connection_attempts times (0 and 1: once),
 * pausing cfg->pause_before_retry_database_connection seconds in between and
 * logging a warning for each failed attempt; a DB_FAIL_FATAL failure stops
 * at once.  NULL with one line in err (naming the redacted URL and the last
 * reason, and "not retried" for a fatal one) when it gave up; *why (may be
 * NULL) gets the class of the last failure, DB_FAIL_NONE on success.
 * The caller PQfinish()es the result.  For migrate, notifyd's LISTEN
 * connection and tests; request handlers use the pool.
 */
PGconn *db_connect(const cfg_t *cfg, const char *url, char *err, size_t errlen, db_failure *why)
    __attribute__((warn_unused_result));

/*
 * db_pool_open - a pool for url, with db_min_connections already open
 *
 * Connects with db_connect()'s retry policy: an attempt opens the missing
 * connections, and a failed attempt keeps those that succeeded.  Then checks
 * the schema (migrate_check): a database behind the migrations this binary
 * carries is refused with "run `parsec backend migrate`", a newer one with
 * "database schema is newer than this server" (DB_FAIL_SCHEMA).  "MOCKED"
 * and an invalid URL are refused (DB_FAIL_FATAL; only `parsec backend run`
 * turns MOCKED into a real cluster).  NULL with one line in err on failure,
 * its class in *why (may be NULL).  cfg is only read during the call.  The
 * pool grows up to db_max_connections (at least 1, at least
 * db_min_connections) on demand.  Free with db_pool_close().
 */
db_pool_t *db_pool_open(const cfg_t *cfg, const char *url, char *err, size_t errlen,
                        db_failure *why) __attribute__((warn_unused_result));
/* db_pool_close - close every connection; all must have been released. */
void db_pool_close(db_pool_t *pool);

/*
 * db_acquire - a healthy connection: an idle one (checked for a connection
 * the server closed meanwhile), else a new one while fewer than
 * db_max_connections are open, else one released by another thread within
 * DB_ACQUIRE_TIMEOUT_MS.  NULL, after one log line, when a new connection
 * cannot be opened (one attempt, bounded by connect_timeout) or the wait
 * times out.  Give it back with db_release(), which drops a broken
 * connection (or one left inside a transaction that cannot be rolled back);
 * the next db_acquire() opens a fresh one.
 */
db_conn_t *db_acquire(db_pool_t *pool) __attribute__((warn_unused_result));
void db_release(db_pool_t *pool, db_conn_t *c);

/* db_pool_counts - connections open (busy + idle) and idle, for tests and
 * statistics; either pointer may be NULL. */
void db_pool_counts(db_pool_t *pool, int *open, int *idle);

/* The libpq connection of c, for what db_exec does not cover (COPY, LISTEN).
 * Owned by c. */
PGconn *db_pg(db_conn_t *c);

/*
 * db_exec - run a prepared statement with text parameters (values[i] may be
 * NULL for SQL NULL; lengths/formats may be NULL for all-text).  Returns the
 * PGresult (caller PQclear()s) or NULL after logging on error; the
 * SQLSTATE of the last failure is kept in db_last_sqlstate().  Results are
 * in text format.
 */
PGresult *db_exec(db_conn_t *c, const db_stmt_t *stmt, const char *const *values,
                  const int *lengths, const int *formats);
/* db_exec_fmt - db_exec with result_format 1 for binary results (large
 * BYTEA: a block or a blob read without hex decoding). */
PGresult *db_exec_fmt(db_conn_t *c, const db_stmt_t *stmt, const char *const *values,
                      const int *lengths, const int *formats, int result_format);
/*
 * db_query - a one-off parameterized query, not prepared (PQexecParams):
 * for administration and tests, not for request paths.  Same result and
 * error handling as db_exec.  values may be NULL when nparams is 0.
 */
PGresult *db_query(db_conn_t *c, const char *sql, int nparams, const char *const *values);
/* SQLSTATE ("23505"...) of the last failure on c since db_acquire() or the
 * start of the current db_tx() run, or "".  The "transaction is aborted"
 * errors (25P02) that follow a failure do not replace it, so a body sees
 * the cause.  "08006": the connection itself failed; "XX000": libpq failed
 * without a SQLSTATE. */
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
 * (40001, 40P01), whether met by a statement of fn or by COMMIT, re-run fn
 * from the start, up to DB_TX_MAX_ATTEMPTS runs in all, so fn must keep its
 * side effects inside the transaction (NOTIFY included: it is delivered at
 * commit only) and reset whatever it computes at each run.  Returns
 * DB_TX_COMMIT only when COMMIT succeeded; DB_TX_ROLLBACK when fn asked for
 * it; DB_TX_ERROR when fn failed, the transaction was aborted whatever fn
 * returned, COMMIT failed, or the retries ran out (db_last_sqlstate() tells
 * why).  A connection that was closed by the server before BEGIN is
 * reconnected once, transparently.
 */
db_tx_result db_tx(db_conn_t *c, db_tx_fn fn, void *arg);
/* db_tx_serializable - db_tx at ISOLATION LEVEL SERIALIZABLE. */
db_tx_result db_tx_serializable(db_conn_t *c, db_tx_fn fn, void *arg);

/*
 * The transaction primitives db_tx() is made of, for code that cannot hand
 * its work to a callback (the command kit, fcgi-api/cmd/cmd.h, whose
 * handlers do work after COMMIT; the administration API).
 *
 * db_begin - BEGIN (serializable: ISOLATION LEVEL SERIALIZABLE).  A session
 * the server closed while idle is reconnected once, transparently.  Refuses
 * (false, logged) inside a transaction.  Resets db_last_sqlstate().
 * db_commit - COMMIT: DB_TX_COMMIT, or DB_TX_ERROR when the transaction
 * had failed (it is rolled back), COMMIT failed, or none was open.
 * db_rollback - ROLLBACK when a transaction (failed or not) is open.
 * db_in_tx - a transaction is open on c (failed or not).
 * db_tx_retryable - the last failure on c was a serialization failure or a
 * deadlock (40001, 40P01): running the whole transaction again may succeed.
 * db_tx_backoff - sleep a short random time before run attempt + 1.
 */
bool db_begin(db_conn_t *c, bool serializable) __attribute__((warn_unused_result));
db_tx_result db_commit(db_conn_t *c) __attribute__((warn_unused_result));
void db_rollback(db_conn_t *c);
bool db_in_tx(const db_conn_t *c);
bool db_tx_retryable(const db_conn_t *c);
void db_tx_backoff(int attempt);

/* ---------------------------------------------------------------------------
 * Running statements with typed parameters and typed results (db_run.c)
 *
 * The one way request code reads PostgreSQL:
 *
 *     DB_STMT(stmt_user_lock, "user_revoke_lock", 2,
 *             "SELECT _id, revoked_on IS NOT NULL FROM user_"
 *             " WHERE organization = $1::bigint AND user_id = $2::text FOR UPDATE");
 *     ...
 *     db_res_t *r = DB_RUN(c, arena, &failed, &stmt_user_lock, DB_I64(org), DB_TEXT(user_id));
 *     if (db_nrows(r) == 0) ...not found...
 *     int64_t id = db_get_i64(r, 0, 0);
 *     bool revoked = db_get_bool(r, 0, 1);
 *
 * Parameters: integers, booleans and timestamps travel as text, byte strings
 * and UUIDs in binary (a block is never hex-encoded).  Results come back in
 * binary: integers are read as they are (int2/int4/int8 -> int64_t, so ids
 * are 64-bit everywhere), bytea is handed out where libpq received it (no
 * decoding, no copy), timestamptz as microseconds since the Unix epoch.
 *
 * Errors are sticky, like the protocol's field readers: db_run() on failure
 * (logged by db_exec, SQLSTATE kept) sets *failed, and once *failed is set
 * every later db_run() with the same flag runs nothing; both return an
 * empty result (no rows), never NULL.  A getter asked for a column of
 * another type (a statement and its reader disagree: a bug) logs it, sets
 * the same flag and returns a zero value.  So a caller checks *failed once,
 * where it decides (the command kit does it for handlers).
 *
 * Ownership: the result and everything its getters return live in the
 * arena (the PGresult joins it), released at its reset.
 */

/* DB_STMT - declare a prepared statement and register it, so tests can
 * check that statement names are unique and that every statement prepares
 * against the schema (db_stmt_count / db_stmt_at). */
#define DB_STMT(var, stmt_name, n, text)                                                           \
    static const db_stmt_t var = {stmt_name, text, n};                                             \
    static const db_stmt_t *const var##_registered                                                 \
        __attribute__((used, section("parsec_db_stmts"), aligned(sizeof(void *)))) = &var

/* Statements declared with DB_STMT in the objects linked into this binary. */
size_t db_stmt_count(void);
const db_stmt_t *db_stmt_at(size_t i);

typedef enum {
    DB_VAL_NULL,
    DB_VAL_I64,
    DB_VAL_BOOL,
    DB_VAL_TEXT,
    DB_VAL_BYTES,
    DB_VAL_TS,
    DB_VAL_UUID,
} db_val_kind;

/* One parameter; build with the DB_* macros below. */
typedef struct {
    db_val_kind kind;
    size_t len; /* DB_VAL_BYTES */
    union {
        int64_t i; /* DB_VAL_I64, DB_VAL_TS (microseconds since the Unix epoch) */
        bool b;
        const char *s;
        const void *p; /* DB_VAL_BYTES, DB_VAL_UUID (16 bytes) */
    } u;
} db_val_t;

static inline db_val_t db_val_(db_val_kind k, int64_t i, bool b, const void *p, size_t len)
{
    db_val_t v = {.kind = k, .len = len};
    if (k == DB_VAL_I64 || k == DB_VAL_TS)
        v.u.i = i;
    else if (k == DB_VAL_BOOL)
        v.u.b = b;
    else if (k != DB_VAL_NULL)
        v.u.p = p;
    return v;
}
/* Pointer kinds give SQL NULL for a NULL pointer. */
static inline db_val_t db_val_ptr_(db_val_kind k, const void *p, size_t len)
{
    return db_val_(p ? k : DB_VAL_NULL, 0, false, p, len);
}

#define DB_NULL        db_val_(DB_VAL_NULL, 0, false, NULL, 0)
#define DB_I64(v)      db_val_(DB_VAL_I64, (int64_t)(v), false, NULL, 0)
#define DB_BOOL(v)     db_val_(DB_VAL_BOOL, 0, (v), NULL, 0)
#define DB_TS(us)      db_val_(DB_VAL_TS, (int64_t)(us), false, NULL, 0)
#define DB_TEXT(str)   db_val_ptr_(DB_VAL_TEXT, (str), 0)
#define DB_BYTES(d, n) db_val_ptr_(DB_VAL_BYTES, (d), (n))
#define DB_UUID(b16)   db_val_ptr_(DB_VAL_UUID, (b16), 16)
/* a value when has, else SQL NULL */
#define DB_I64_IF(has, v) ((has) ? DB_I64(v) : DB_NULL)
#define DB_TS_IF(has, us) ((has) ? DB_TS(us) : DB_NULL)

typedef struct db_res db_res_t;

/*
 * db_run - run stmt with vals[0..n) (n must equal stmt->nparams) on c;
 * sticky errors through *failed as described above.  c NULL counts as a
 * failure.
 */
db_res_t *db_run(db_conn_t *c, arena_t *a, bool *failed, const db_stmt_t *stmt,
                 const db_val_t *vals, size_t n);
#define DB_RUN(c, a, failed, stmt, ...)                                                            \
    db_run((c), (a), (failed), (stmt), (const db_val_t[]){__VA_ARGS__},                            \
           sizeof((const db_val_t[]){__VA_ARGS__}) / sizeof(db_val_t))

/* Rows of r (0 for an empty or failed result); rows changed by an
 * INSERT/UPDATE/DELETE without RETURNING. */
size_t db_nrows(const db_res_t *r);
size_t db_affected(const db_res_t *r);

/* Typed getters: row < db_nrows(r).  SQL NULL reads as 0, false, NULL. */
bool db_is_null(const db_res_t *r, size_t row, int col);
int64_t db_get_i64(const db_res_t *r, size_t row, int col);     /* int2, int4, int8 */
bool db_get_bool(const db_res_t *r, size_t row, int col);       /* bool */
const char *db_get_str(const db_res_t *r, size_t row, int col); /* text, varchar, name */
/* bytea: *len set; the pointer is into the result (NULL for SQL NULL) */
const uint8_t *db_get_bytes(const db_res_t *r, size_t row, int col, size_t *len);
int64_t db_get_ts(const db_res_t *r, size_t row, int col); /* timestamptz, microseconds */
/* uuid: 16 bytes into out; false for SQL NULL */
bool db_get_uuid(const db_res_t *r, size_t row, int col, uint8_t out[16]);

/* ---------------------------------------------------------------------------
 * Pipelines: several statements in one round trip (libpq pipeline mode)
 *
 * A statement waits for its answer before the next is sent, and on a
 * loaded machine each round trip costs about what a whole small request
 * does.  A pipeline sends statements that do not need each other's
 * results together (BEGIN and a write's locks and facts; a write, its
 * event and COMMIT), and PostgreSQL runs them one after the other, each
 * with its own snapshot, as if sent one by one:
 *
 *     db_pipe_t *p = db_pipe_new(arena, &failed);
 *     db_res_t *lock = DB_PIPE_ADD(p, &stmt_lock, DB_I64(org), DB_UUID(id));
 *     db_res_t *facts = DB_PIPE_ADD(p, &stmt_facts, DB_I64(org), DB_UUID(id));
 *     if (!db_pipe_send(p, c, DB_PIPE_BEGIN)) ...   // one round trip
 *     ...read lock and facts as db_run's results...
 *
 * A statement that fails aborts the rest of its pipeline: PostgreSQL skips
 * everything up to the pipeline's end (COMMIT included), so a transaction
 * it opened is left failed, never partly committed.  The first failure is
 * recorded as db_exec() records it (logged, db_last_sqlstate()); the
 * statements skipped after it are not failures of their own.
 */
typedef struct db_pipe db_pipe_t;

/* Flags of db_pipe_send() and db_exec_pipeline(). */
#define DB_PIPE_BEGIN  1u /* BEGIN first (refused inside a transaction, as db_begin) */
#define DB_PIPE_COMMIT 2u /* COMMIT last (db_commit's answer) */

/* One statement of db_exec_pipeline(): db_exec_fmt()'s arguments. */
typedef struct {
    const db_stmt_t *stmt;
    const char *const *values;
    const int *lengths, *formats; /* may be NULL: all text */
    int result_format;
    PGresult *res; /* out: its result (the caller PQclear()s), NULL when it failed or was skipped */
} db_exec_item_t;

/*
 * db_exec_pipeline - in ONE round trip: BEGIN (DB_PIPE_BEGIN), items[0..n)
 * in order (each prepared in the same trip when this session has not
 * prepared it yet), COMMIT (DB_PIPE_COMMIT).  True when every one of them
 * succeeded, COMMIT included.  Otherwise false, the first failure recorded,
 * and: a COMMIT that was asked for and did not happen leaves the
 * transaction rolled back (as db_commit() does); without DB_PIPE_COMMIT an
 * open transaction is left open (failed or not) for the caller to end.  A
 * session the server closed before a pipeline opening a transaction without
 * committing it (DB_PIPE_BEGIN alone) is reconnected once and the pipeline
 * sent again, as db_begin() does: nothing of it can have run.  A connection
 * lost otherwise is marked broken (db_release() drops it).  c leaves
 * pipeline mode before this returns.
 */
bool db_exec_pipeline(db_conn_t *c, unsigned flags, db_exec_item_t *items, size_t n)
    __attribute__((warn_unused_result));

/* db_pipe_new - an empty queue of typed statements; it and what it
 * returns live in a.  *failed is the sticky failure flag of its sends and
 * of its results' getters, as db_run()'s. */
db_pipe_t *db_pipe_new(arena_t *a, bool *failed);
/*
 * db_pipe_add - queue stmt with vals[0..n) (converted now, UUIDs copied:
 * vals may go, but the text and bytes they point to must live until the
 * queue is sent).
 * Returns its result, empty ("pending") until db_pipe_send(): reading it
 * before is a bug (logged; the failure flag is set).
 */
db_res_t *db_pipe_add(db_pipe_t *p, const db_stmt_t *stmt, const db_val_t *vals, size_t n);
#define DB_PIPE_ADD(p, stmt, ...)                                                                  \
    db_pipe_add((p), (stmt), (const db_val_t[]){__VA_ARGS__},                                      \
                sizeof((const db_val_t[]){__VA_ARGS__}) / sizeof(db_val_t))
/* db_pipe_count - statements queued and not yet sent. */
size_t db_pipe_count(const db_pipe_t *p);
/* db_pipe_arena - the arena of p (for what a queued statement points to). */
arena_t *db_pipe_arena(const db_pipe_t *p);
/* db_pipe_drop - forget the queued statements without sending them (their
 * results stay empty, no longer pending). */
void db_pipe_drop(db_pipe_t *p);
/*
 * db_pipe_send - db_exec_pipeline() of the queue with flags (flags alone
 * when nothing is queued), then the queue is empty.  Each result becomes
 * readable as db_run()'s; sticky errors through the flag as db_run(): on
 * failure it is set and the results are empty; with the flag already set
 * nothing is sent (the queue is dropped).  c NULL counts as a failure.
 */
bool db_pipe_send(db_pipe_t *p, db_conn_t *c, unsigned flags) __attribute__((warn_unused_result));

/*
 * db_lease_t - the one connection a request borrows from a pool, taken on
 * first use and given back by db_lease_end() (by the front when the request
 * ends, or earlier by code about to wait on something else, such as an
 * outgoing HTTP call).  A lease may be taken again after it ended.
 */
typedef struct {
    db_pool_t *pool; /* NULL: no database (unit tests): db_lease_conn gives NULL */
    db_conn_t *conn;
} db_lease_t;

/* db_lease_conn - the leased connection, acquired now if needed; NULL when
 * the pool cannot give one (logged by db_acquire): answer 503. */
db_conn_t *db_lease_conn(db_lease_t *l);
/* db_lease_end - give the connection back (rolling back an open
 * transaction); a no-op when none is held. */
void db_lease_end(db_lease_t *l);

/* db_schema_pending - number of migrations not yet applied (>= 0), -1 on
 * error or when the database holds a migration this binary lacks. */
int db_schema_pending(PGconn *pg);

/* db_msg_line - libpq's (possibly multi-line) message as one line in dst:
 * newlines and tabs become single spaces, trailing blanks go. */
void db_msg_line(char *dst, size_t n, const char *msg);

/* db_url_escape - s percent-encoded for one component of a postgresql://
 * URL: everything but RFC 3986's unreserved characters.  The caller frees. */
char *db_url_escape(const char *s);

#endif
