/*
 * fcgi-api/cmd/cmd.h - the command kit: everything a command handler calls
 *
 * A command is a table line and a handler.  The dispatcher
 * (fcgi-api/rpc/rpc.c) has already answered everything that precedes a
 * command (docs/protocol.md section 1.2: API version, organization,
 * credentials, expiry, revocation, the envelope) when it finds the line, so
 * a handler starts from a caller the route admits: a live invitation
 * (invited route), an authenticated, non-revoked device of a live
 * organization (authenticated route), or a well-formed organization id
 * (anonymous route).  The dispatcher then checks the line's `who` (ADMIN
 * only, not OUTSIDER) with one reply text each, and runs the handler
 * through cmd_execute(), which owns the transaction.
 *
 * Adding a command (docs/architecture.md, "Adding a command"):
 *
 *     // fcgi-api/cmd/thing.c: the handlers of the "thing" family
 *     static cmd_result thing_delete(cmd_t *cmd)
 *     {
 *         proto_uuid_t id;
 *         proto_uuid(cmd->in, "thing_id", &id);
 *         if (!proto_in_end(cmd->in))
 *             return cmd_bad_message(cmd);       // {"status": "bad_message", ...}
 *         ...checks that need no database (signatures: ~100 us each)...
 *         switch (thing_db_delete(cmd, &id)) {   // its SQL, fcgi-api/cmd/thing_db.c
 *         case THING_DB_NOT_FOUND:
 *             return cmd_refuse(cmd, "not_found"); // rolled back
 *         case THING_DB_OK:
 *             break;
 *         }
 *         if (!event_publish_thing_deleted(cmd_conn(cmd), ...))
 *             return CMD_ERROR;
 *         return cmd_ok_status(cmd);             // committed
 *     }
 *
 *     const cmd_def_t cmd_family_thing[] = {
 *         {"thing_delete", AUTH_AUTHENTICATED, CMD_ADMIN, CMD_TRANSACTION, thing_delete},
 *         {0},
 *     };
 *
 * plus one line in rpc.c's family list, the statements in thing_db.c
 * (DB_STMT, common/db.h), the contract in docs/protocol.md, and its suite
 * tests/integration/test_cmd_thing.c.
 *
 * The transaction.  A CMD_TRANSACTION command's first statement (cmd_run,
 * or cmd_conn) opens the transaction; when the handler returns, CMD_OK
 * commits it, CMD_REFUSED and CMD_ERROR roll it back, so a refused command
 * leaves no trace.  A serialization failure or a deadlock (the statement or
 * the COMMIT failed with 40001/40P01) runs the whole handler again, from
 * its first field, up to DB_TX_MAX_ATTEMPTS times: a handler keeps its
 * effects inside the transaction until it commits.  A CMD_ONE_STATEMENT
 * command runs at most one statement, its own implicit transaction (one
 * snapshot, its NOTIFY delivered at its commit): reads such as user_get; a
 * second statement is refused as a bug (500).  A CMD_STATEMENTS command
 * runs each statement in its own implicit transaction and is never run
 * again: each statement must stand alone (the block commands, whose
 * statements bracket a blockstore call).  What must happen after
 * COMMIT and may wait on the network (a webhook, a mail) follows
 * cmd_commit(), which commits and gives the pooled connection back first.
 *
 * Pipelines.  A CMD_TRANSACTION command may queue statements (cmd_queue)
 * instead of running them (cmd_run): queued statements go to PostgreSQL
 * together, in one round trip, when the handler calls cmd_flush(), runs a
 * statement (cmd_run: it joins the queue) or takes the connection
 * (cmd_conn), and their results are readable from then on; the BEGIN of
 * the transaction goes with the first of them.  What is still queued when
 * the handler returns CMD_OK goes with the COMMIT, in one round trip: a
 * write and its event, whose results the handler does not need to decide.
 * Returning anything else drops the queue unsent.  So a write can be:
 *
 *     db_res_t *lock = CMD_QUEUE(cmd, &stmt_lock, ...);
 *     db_res_t *facts = CMD_QUEUE(cmd, &stmt_facts, ...);  // by ids, not lock's result
 *     cmd_flush(cmd);                          // BEGIN, lock, facts: one trip
 *     ...checks on lock and facts, refusals...
 *     CMD_QUEUE(cmd, &stmt_write, ...);        // results never read
 *     event_queue_...(cmd_pipe(cmd), ...);
 *     return cmd_ok_status(cmd);               // write, event, COMMIT: one trip
 *
 * A queued statement that fails aborts the rest of its round trip (COMMIT
 * included): the command fails as with cmd_run, nothing is written.  Each
 * statement runs as if sent alone, with its own snapshot (READ COMMITTED),
 * in order, so a statement queued after a lock still reads what the lock's
 * previous holder committed (realm_db.h); it must find its rows by the ids
 * the handler has, not by an earlier statement's result.  A statement
 * queued for the COMMIT must fail (not write nothing) when what it writes
 * no longer holds: its result is never read.  Besides serialization
 * failures and deadlocks, a unique violation (23505) met by a queued
 * statement runs the handler again: the handler decided on facts its locks
 * did not cover (a row another transaction committed meanwhile), and the
 * next run reads that row and refuses properly.
 *
 * Errors are sticky: a failed statement (or a result read with the wrong
 * type) marks the command failed; every later cmd_run runs nothing and
 * returns an empty result, and the dispatcher answers 500 and rolls back
 * whatever the handler returns.  So a handler does not test each statement:
 * it tests what the statement answered (no row: not found), and returns.
 *
 * Replies: each setter replaces an earlier reply and returns what the
 * handler returns.  The reply is answered with HTTP 200.
 *
 * Ownership: everything reachable from a cmd_t lives in the request arena
 * (or is borrowed from the settings and the pool) and is released when the
 * request ends; handlers free nothing.  Reply objects handed to the setters
 * are owned by the command from then on.
 *
 * Thread-safety: a cmd_t belongs to one request, served by one thread.
 */
#ifndef PARSEC_CMD_H
#define PARSEC_CMD_H

#include "arena.h"
#include "auth/auth.h"
#include "blockstore.h"
#include "certif.h"
#include "cfg.h"
#include "db.h"
#include "proto.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a handler returns. */
typedef enum {
    CMD_OK,      /* reply set: commit (whatever the reply's status) */
    CMD_REFUSED, /* reply set: roll back */
    CMD_ERROR,   /* 500: roll back, logged; re-run when a retry may succeed */
} cmd_result;

/* Who may call a command, checked by the dispatcher before the handler. */
typedef enum {
    CMD_ANYONE = 0,   /* every caller its routes admit */
    CMD_ADMIN,        /* not_allowed "User `<id>` is not admin" */
    CMD_NOT_OUTSIDER, /* not_allowed "Not allowed for user with OUTSIDER profile." */
} cmd_who;

/* How a command uses the database. */
typedef enum {
    CMD_NO_DB = 0,     /* never (a statement is refused as a bug) */
    CMD_ONE_STATEMENT, /* at most one statement, autocommitted */
    CMD_TRANSACTION,   /* one transaction, opened at the first statement */
    CMD_STATEMENTS,    /* statements each autocommitted, no transaction: for
                        * a command whose statements stand alone and which
                        * waits on the network between them (cmd_commit
                        * gives the connection back; the blocks) */
} cmd_db_use;

typedef struct cmd cmd_t;
typedef cmd_result (*cmd_handler_fn)(cmd_t *cmd);

/* The raw bytes of a command served by a binary route (docs/protocol.md,
 * "Blocks as binary bodies"): the request body going in (borrowed from the
 * request), the bytes of an ok reply coming out (in cmd->arena).  The
 * command's other fields still come through cmd->in, which the route
 * builds from the path and the query. */
typedef struct {
    const uint8_t *data;
    size_t len;
} cmd_raw_t;

/* One command; a family table ends with {0}.  A name appears once across
 * every table (a unit test checks it). */
typedef struct {
    const char *name; /* the request's "cmd" */
    unsigned routes;  /* AUTH_ANONYMOUS | AUTH_INVITED | AUTH_AUTHENTICATED */
    cmd_who who;
    cmd_db_use db;
    cmd_handler_fn handler;
} cmd_def_t;

struct cmd_state; /* private to cmd.c: reply, transaction, errors */

struct cmd {
    /* Read-only for handlers. */
    const char *name;           /* the command */
    arena_t *arena;             /* all request memory */
    const cfg_t *cfg;           /* settings (process lifetime); NULL in some unit tests */
    proto_in_t *in;             /* the request's fields ("cmd" already read) */
    int64_t now_us;             /* the request's "now", taken once (ballpark checks) */
    const auth_identity_t *who; /* the caller, as the dispatcher accepted it */
    blockstore_ctx_t *blocks;   /* the thread's blockstore handles; NULL: none configured */
    cmd_raw_t *raw;             /* a binary route's bytes (see cmd_raw_t); NULL: the JSON form */
    struct cmd_state *st;
};

/* ---- the database ---- */

/*
 * cmd_run - run stmt with vals[0..n) in the command's transaction (opened
 * here for the first statement of a CMD_TRANSACTION command).  Never NULL:
 * after a failure, an empty result (see "Errors are sticky").
 */
db_res_t *cmd_run(cmd_t *cmd, const db_stmt_t *stmt, const db_val_t *vals, size_t n);
#define CMD_RUN(cmd, stmt, ...)                                                                    \
    cmd_run((cmd), (stmt), (const db_val_t[]){__VA_ARGS__},                                        \
            sizeof((const db_val_t[]){__VA_ARGS__}) / sizeof(db_val_t))

/* cmd_conn - the command's connection with its transaction open, for the
 * modules that take one (events, a PostgreSQL blockstore); counts as a
 * statement.  NULL (and the command failed) when none can be had. */
db_conn_t *cmd_conn(cmd_t *cmd);

/*
 * cmd_queue - stmt with vals[0..n) queued (see "Pipelines"): the result is
 * empty until the queue is sent, readable after (reading it before is a
 * bug: the command fails).  vals are converted now and UUIDs copied; the
 * text and bytes they point to must live until the queue is sent (the
 * request's arena or body, not the handler's locals).  CMD_TRANSACTION only, never after cmd_commit
 * (the command fails).
 */
db_res_t *cmd_queue(cmd_t *cmd, const db_stmt_t *stmt, const db_val_t *vals, size_t n);
#define CMD_QUEUE(cmd, stmt, ...)                                                                  \
    cmd_queue((cmd), (stmt), (const db_val_t[]){__VA_ARGS__},                                      \
              sizeof((const db_val_t[]){__VA_ARGS__}) / sizeof(db_val_t))
/* cmd_flush - send the queue now, in one round trip (nothing when it is
 * empty).  False when the command has failed. */
bool cmd_flush(cmd_t *cmd);
/* cmd_pipe - the command's queue, for the modules that queue statements
 * themselves (event_queue(), common/event.h); NULL, and the command failed,
 * when it may not queue.  Owned by the command. */
db_pipe_t *cmd_pipe(cmd_t *cmd);

/* cmd_failed - a statement or a read has failed: the command answers 500. */
bool cmd_failed(const cmd_t *cmd);
/* cmd_fail - mark the command failed (a module reported an error). */
cmd_result cmd_fail(cmd_t *cmd);

/* cmd_json_param - obj (consumed) as compact JSON text in cmd->arena: how a
 * statement receives a list or a map (batches, messages), which SQL unpacks
 * with json_array_elements / json_each_text. */
const char *cmd_json_param(cmd_t *cmd, json_object *obj);

/*
 * cmd_commit - commit now and give the connection back to the pool, before
 * work that waits on the network.  CMD_OK, or CMD_ERROR to return as it is
 * (the dispatcher re-runs the handler when the commit failed on a
 * serialization failure).  Later statements run outside any transaction.
 */
cmd_result cmd_commit(cmd_t *cmd) __attribute__((warn_unused_result));

/* ---- replies ---- */

/* cmd_ok - reply (a json-c object with "status") and commit. */
cmd_result cmd_ok(cmd_t *cmd, json_object *reply);
/* cmd_ok_status - {"status": "ok"} and commit. */
cmd_result cmd_ok_status(cmd_t *cmd);
/* cmd_refuse - {"status": status}; roll back. */
cmd_result cmd_refuse(cmd_t *cmd, const char *status);
/* cmd_refuse_reason - {"status": status, "reason": reason or null}. */
cmd_result cmd_refuse_reason(cmd_t *cmd, const char *status, const char *reason);
/* cmd_refuse_json - any refusal reply (extra fields). */
cmd_result cmd_refuse_json(cmd_t *cmd, json_object *reply);
/* cmd_bad_message - {"status": "bad_message", "reason", "field"} from the
 * first error of cmd->in (after proto_in_end() or proto_in_fail()). */
cmd_result cmd_bad_message(cmd_t *cmd);
/* cmd_not_allowed - {"status": "not_allowed", "reason": reason}. */
cmd_result cmd_not_allowed(cmd_t *cmd, const char *reason);
/* cmd_bad_timestamp - the ballpark refusal of docs/protocol.md 2.7 for a
 * client timestamp client_us, "reason" "Timestamp is out of date." (the
 * vlob commands, whose reason is null, build theirs with
 * proto_reply_bad_timestamp). */
cmd_result cmd_bad_timestamp(cmd_t *cmd, int64_t client_us);
/* cmd_require_greater_timestamp - {"status": "require_greater_timestamp",
 * "strictly_greater_than": us}: a certificate or a write must be dated after
 * us (the realm and vlob commands' causality refusals). */
cmd_result cmd_require_greater_timestamp(cmd_t *cmd, int64_t us);

/* ---- certificates ---- */

/*
 * cmd_certif - load certificate field (raw bytes already read) of type,
 * signed by the calling device and naming it as author.  False after
 * setting the invalid_certification reply that names the field and the
 * failed check: return CMD_REFUSED.
 */
bool cmd_certif(cmd_t *cmd, const char *field, const proto_bytes_t *raw, certif_type type,
                certif_t *out) __attribute__((warn_unused_result));
/* cmd_certif_root - the same, signed by root_key with no author (the
 * organization's root certificates). */
bool cmd_certif_root(cmd_t *cmd, const char *field, const proto_bytes_t *raw, certif_type type,
                     const uint8_t root_key[PROTO_KEY_SIZE], certif_t *out)
    __attribute__((warn_unused_result));

/* ---- the command tables (families.c lists them) ---- */

extern const cmd_def_t cmd_family_organization[]; /* organization.c */
extern const cmd_def_t cmd_family_user[];         /* user.c */
extern const cmd_def_t cmd_family_realm[];        /* realm.c */
extern const cmd_def_t cmd_family_vlob[];         /* vlob.c */
extern const cmd_def_t cmd_family_message[];      /* message.c */
extern const cmd_def_t cmd_family_invite[];       /* invite.c */
extern const cmd_def_t cmd_family_pki[];          /* pki.c */
extern const cmd_def_t cmd_family_block[];        /* block.c */
/* The binary forms of block_create and block_read (block.c): the same
 * handler core as the JSON lines, reading the block from cmd->raw and
 * answering the read's bytes there.  Not in any family table: only the
 * binary routes (rpc/rpc_block.c) run them. */
extern const cmd_def_t cmd_block_create_raw, cmd_block_read_raw;
/* Every family table, NULL-terminated: one line per family in families.c. */
extern const cmd_def_t *const cmd_families[];

/* cmd_find - the command called name when one of routes (AUTH_* bits) may
 * call it; NULL otherwise (answered unknown_command). */
const cmd_def_t *cmd_find(const char *name, unsigned routes);

/* ---- for the dispatcher ---- */

/*
 * cmd_execute - run def's handler for cmd (name, arena, cfg, in, now_us and
 * who set by the caller) on the connections of lease, owning the
 * transaction as described above.  Returns the reply to answer with HTTP
 * 200, or NULL for 500 (logged).  The caller owns the reply
 * (json_object_put).
 */
json_object *cmd_execute(const cmd_def_t *def, cmd_t *cmd, db_lease_t *lease);

/* cmd_who_refusal - the not_allowed reason when the caller is not who def
 * admits (arena string), NULL when it may call. */
const char *cmd_who_refusal(const cmd_def_t *def, const cmd_t *cmd);

#endif
