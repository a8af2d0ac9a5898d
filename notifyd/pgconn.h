/*
 * notifyd/pgconn.h - notifyd's one PostgreSQL connection, inside the lws loop
 *
 * The connection LISTENs on EVENT_CHANNEL and runs notifyd's few queries,
 * one at a time from a FIFO queue, never blocking the loop.  Its socket
 * joins the loop as a dup() adopted with LWS_ADOPT_RAW_FILE_DESC (lws closes
 * what it adopts; libpq keeps its own descriptor).  When the connection is
 * lost it reconnects asynchronously with backoff, forever, LISTENs and
 * prepares its statements again, then calls hooks->on_up so the caller can
 * tell clients that events may have been missed.
 *
 * Thread: every function runs on the lws service thread.
 * Ownership: nd_pg_t is the caller's (nd_pg_free after the lws context is
 * destroyed); a query handle belongs to pgconn and stays valid until its
 * callback has run or it was cancelled, whichever comes first.
 */
#ifndef PARSEC_ND_PGCONN_H
#define PARSEC_ND_PGCONN_H

#include "cfg.h"
#include "db.h"

#include <libpq-fe.h>
#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct nd_pg nd_pg_t;
typedef struct nd_pg_query nd_pg_query_t;

/* What the connection tells its owner. */
typedef struct {
    /* A notification on EVENT_CHANNEL; payload is NUL-terminated, borrowed. */
    void (*on_notify)(void *arg, const char *payload);
    /* The connection was lost (queries in flight have already failed). */
    void (*on_down)(void *arg);
    /* A reconnection completed: LISTEN is in force again. */
    void (*on_up)(void *arg);
    /* A reconnection attempt was refused for a reason retrying cannot fix
     * (DB_FAIL_FATAL, common/db.h: the password changed, the database was
     * dropped...); why is one line, borrowed.  No attempt follows.  NULL:
     * keep retrying whatever the refusal. */
    void (*on_fatal)(void *arg, const char *why);
    void *arg;
} nd_pg_hooks_t;

/* Query result: res is the statement's rows in binary format (a bytea is
 * its bytes, a boolean one byte 0 or 1, text its bytes; libpq adds a NUL
 * after each value), borrowed for the call, or NULL when the query failed
 * or the connection was lost. */
typedef void (*nd_pg_result_fn)(void *arg, const PGresult *res);

/*
 * nd_pg_connect - the start-up connection, synchronous
 *
 * Connects to url (retrying as cfg->maximum_database_connection_attempts and
 * cfg->pause_before_retry_database_connection say), refuses a schema behind
 * the migrations, LISTENs and prepares stmts (an array of nstmts pointers to
 * statements that outlive nd_pg_t).  NULL with one line in err on failure.
 */
nd_pg_t *nd_pg_connect(const cfg_t *cfg, const char *url, const db_stmt_t *const *stmts,
                       size_t nstmts, char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * nd_pg_attach - put the connection into the loop: its socket is adopted on
 * vh (of ctx) under protocol (whose callback must be nd_pg_callback).  hooks is
 * copied.  False (and a log line) if lws refused the descriptor.
 */
bool nd_pg_attach(nd_pg_t *pg, struct lws_context *ctx, struct lws_vhost *vh, const char *protocol,
                  const nd_pg_hooks_t *hooks) __attribute__((warn_unused_result));

/* nd_pg_callback - the lws callback of the raw protocol named in attach. */
int nd_pg_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len);

/*
 * nd_pg_query - queue stmt (one of those given to connect) with text
 * parameters values[0..stmt->nparams) (copied).  fn(arg, res) runs later,
 * exactly once unless cancelled.  NULL when the database is down right now:
 * the caller answers "unavailable" itself.
 */
nd_pg_query_t *nd_pg_query(nd_pg_t *pg, const db_stmt_t *stmt, const char *const *values,
                           nd_pg_result_fn fn, void *arg);
/* nd_pg_cancel - fn will not be called; the handle is dead afterwards. */
void nd_pg_cancel(nd_pg_query_t *q);

/* nd_pg_is_up - connected and LISTENing (queries accepted). */
bool nd_pg_is_up(const nd_pg_t *pg);

/*
 * nd_pg_stop - leave the loop: cancel timers, forget the adopted socket (lws
 * closes it with the context).  Call before lws_context_destroy(); no
 * query callback runs after it, but handles stay valid (cancelable) until
 * nd_pg_free().
 */
void nd_pg_stop(nd_pg_t *pg);
/* nd_pg_free - close the connection and free; after lws_context_destroy().
 * NULL is a no-op. */
void nd_pg_free(nd_pg_t *pg);

#endif
