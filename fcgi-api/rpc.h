/*
 * fcgi-api/rpc.h - the command RPC: one dispatcher, one handler signature,
 * one table per command family
 *
 * Routes (fcgi-api/rpc.c, docs/protocol.md section 1):
 *
 *     POST /anonymous/<org>      organization_bootstrap, ping, (pki_enrollment_*)
 *     POST /invited/<org>        Invitation-Token header; invite_info, invite_*_claimer_*, ping
 *     POST /authenticated/<org>  Authorization: PARSEC-SIGN-ED25519 <token>; everything else
 *
 * The dispatcher runs every check that precedes a command, in the order of
 * docs/protocol.md section 1.2 (Api-Version 422, organization 404,
 * Content-Type 415, credentials 401/410, expired_organization, revoked_user,
 * then the envelope: invalid_msg_format, unknown_command; rpc.c lists the
 * exact order), fills an rpc_ctx_t, finds the command in the family tables
 * and calls its handler.  A handler therefore
 * starts with an authenticated, non-revoked device of a live organization
 * (authenticated route), a live invitation (invited route), or just a
 * well-formed organization id (anonymous route).
 *
 * Writing a command (cgit's ui-*.c style: one file per family):
 *
 *     // fcgi-api/cmd_thing.c
 *     static db_tx_result thing_tx(rpc_ctx_t *ctx, db_conn_t *c)
 *     {
 *         struct thing_req *q = ctx->state;         // what the handler read
 *         PGresult *res = rpc_exec(ctx, c, &stmt_thing, values);
 *         if (!res)
 *             return DB_TX_ERROR;                    // 500, rolled back
 *         if (PQntuples(res) == 0)
 *             return rpc_refuse(ctx, proto_reply("not_found"));   // rolled back
 *         if (!event_publish_<type>(c, ctx->org.id, ctx->device.id, ...))
 *             return DB_TX_ERROR;
 *         return rpc_ok(ctx, proto_reply("ok"));     // committed
 *     }
 *
 *     static db_tx_result thing(rpc_ctx_t *ctx)
 *     {
 *         struct thing_req *q = arena_zalloc(ctx->arena, sizeof *q);
 *         proto_str(ctx->in, "name", 64, &q->name);
 *         if (!proto_in_end(ctx->in))
 *             return rpc_bad_message(ctx);           // {"status":"bad_message",...}
 *         ...checks that need no database (signatures: ~200 us each)...
 *         ctx->state = q;
 *         return rpc_tx(ctx, thing_tx);              // the one transaction
 *     }
 *
 *     const rpc_command_t rpc_cmds_thing[] = {
 *         {"thing", RPC_AUTHENTICATED, thing},
 *         {NULL, 0, NULL},
 *     };
 *
 * then declare rpc_cmds_thing below and add it to rpc_families[] in rpc.c:
 * adding a family is one line there, adding a command one line in its table.
 *
 * Rules every handler follows:
 * - It reads its request only through ctx->in (common/proto.h getters) and
 *   calls proto_in_end() before acting: unknown fields are refused with
 *   bad_message naming the field.
 * - It sets exactly one reply, a JSON object with "status", through
 *   rpc_ok / rpc_refuse / rpc_bad_message (or rpc_reply); the dispatcher
 *   answers it with HTTP 200.  Returning DB_TX_ERROR answers 500 (logged).
 * - Its database work is at most one rpc_tx() call (one db_tx: BEGIN, body,
 *   COMMIT or ROLLBACK), so a refused command leaves no trace; the body
 *   returns DB_TX_ROLLBACK for every refusal, never DB_TX_COMMIT.  db_tx may
 *   re-run the body after a serialization failure or deadlock: a body keeps
 *   its side effects inside the transaction and sets its reply afresh (the
 *   rpc_* reply setters replace an earlier reply).  Prepared statements only
 *   (db_stmt_t): rpc_exec() is db_exec() with PGresult joining the arena.
 * - Exception: a command whose whole database work is ONE statement (a read
 *   such as user_get, or the pg_notify of an authenticated ping) may run it
 *   directly on ctx->db, without rpc_tx.  A single statement is its own
 *   implicit transaction: atomic, one snapshot, its NOTIFY delivered when it
 *   commits; BEGIN and COMMIT would only add two round trips.  Two
 *   statements, or a statement whose outcome decides a refusal after a
 *   write, need rpc_tx.
 * - Events are published inside the body with the typed
 *   event_publish_<type>() (common/event.h), so a rolled-back command publishes nothing.
 * - What must happen only after COMMIT (the bootstrap webhook) is done by
 *   the handler after rpc_tx() returned DB_TX_COMMIT.
 * - It never logs request fields that may be secret (tokens, keys).
 *
 * Ownership: everything reachable from rpc_ctx_t lives in the request arena
 * (or is borrowed from the http_req_t, cfg and pool) and is released when
 * the request ends; handlers free nothing.  Reply objects handed to the
 * rpc_* setters are owned by the context from then on.
 *
 * Thread-safety: a context belongs to one request, served by one thread.
 */
#ifndef PARSEC_RPC_H
#define PARSEC_RPC_H

#include "certif.h"
#include "db.h"
#include "http.h"
#include "proto.h"

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

/* The three routes, as bits so a command lists every route it serves. */
typedef enum {
    RPC_ANONYMOUS = 1u << 0,
    RPC_INVITED = 1u << 1,
    RPC_AUTHENTICATED = 1u << 2,
} rpc_family;

/* The Invitation-Token header of the invited route: the invitation's UUID
 * as 32 lowercase hex characters (docs/protocol.md). */
#define RPC_INVITATION_HEADER "Invitation-Token"

typedef struct rpc_ctx rpc_ctx_t;

/*
 * rpc_handler_fn - one command
 *
 * Returns what its rpc_tx() returned, or DB_TX_ROLLBACK after setting a
 * refusal before any transaction, or DB_TX_COMMIT after setting a success
 * reply for a command that needs no database (anonymous ping).  DB_TX_ERROR:
 * 500.  A handler that returns without a reply is a bug: answered 500.
 */
typedef db_tx_result (*rpc_handler_fn)(rpc_ctx_t *ctx);

/* rpc_tx_fn - the body of a command's transaction (run by db_tx on c). */
typedef db_tx_result (*rpc_tx_fn)(rpc_ctx_t *ctx, db_conn_t *c);

/* One command of a family table; a table ends with {NULL, 0, NULL}. */
typedef struct {
    const char *name;  /* the "cmd" value */
    unsigned families; /* RPC_ANONYMOUS | RPC_INVITED | RPC_AUTHENTICATED */
    rpc_handler_fn handler;
} rpc_command_t;

/* The organization named by the URL, as loaded by the pre-command query. */
typedef struct {
    int _id;        /* organization._id; 0 when it does not exist
                     * (only for an anonymous POST under spontaneous
                     * bootstrap) */
    const char *id; /* organization_id, from the URL, validated */
    bool exists;
    bool bootstrapped;
    bool expired;
    long active_users_limit; /* -1: unlimited */
    bool user_profile_outsider_allowed;
    const uint8_t *root_verify_key; /* PROTO_KEY_SIZE bytes; NULL before bootstrap */
} rpc_org_t;

/* The authenticated device and its user (authenticated route only). */
typedef struct {
    int _id;           /* device._id */
    const char *id;    /* device_id "user@name" */
    const char *label; /* device_label, NULL when none */
    uint8_t verify_key[PROTO_KEY_SIZE];
} rpc_device_t;

typedef struct {
    int _id;        /* user_._id */
    const char *id; /* user_id */
    certif_profile profile;
    const char *human_email; /* both NULL for a non-human user */
    const char *human_label;
} rpc_user_t;

/* The invitation of the invited route (live: exists, not deleted, this
 * organization's). */
typedef struct {
    int _id; /* invitation._id */
    proto_uuid_t token;
    bool is_user;              /* type USER (claimer_email set) or DEVICE */
    const char *claimer_email; /* NULL for a DEVICE invitation */
    struct {
        int _id;        /* user_._id of the greeter */
        const char *id; /* its user_id */
    } greeter;
} rpc_invitation_t;

struct rpc_ctx {
    http_req_t *r;     /* the HTTP request (headers, request id) */
    arena_t *arena;    /* == r->arena: all request memory */
    const cfg_t *cfg;  /* settings (read-only, process lifetime) */
    db_conn_t *db;     /* this request's connection (acquired by the dispatcher) */
    rpc_family family; /* the route the request came by */
    const char *cmd;   /* the command name */
    proto_in_t *in;    /* the request's fields ("cmd" already read) */
    int64_t now_us;    /* the request's "now" (microseconds since the epoch),
                        * taken once; ballpark checks use it */
    rpc_org_t org;
    rpc_device_t device;         /* authenticated route only (zero otherwise) */
    rpc_user_t user;             /* authenticated route only (zero otherwise) */
    rpc_invitation_t invitation; /* invited route only (zero otherwise) */
    void *state;                 /* the handler's own data for its rpc_tx body */

    /* Private to rpc.c. */
    json_object *reply;
    int ntx;
    bool decoded;
    proto_req_status envelope;
    const char *envelope_why;
};

/*
 * rpc_tx - run body as the command's one transaction (db_tx on ctx->db)
 * and return its result.  A second call in the same request is refused
 * (DB_TX_ERROR, logged): one command, one transaction.
 */
db_tx_result rpc_tx(rpc_ctx_t *ctx, rpc_tx_fn body) __attribute__((warn_unused_result));

/*
 * Reply setters.  Each takes ownership of reply (a json-c object with
 * "status"), replaces any earlier reply, and returns what the caller
 * returns: rpc_ok -> DB_TX_COMMIT, rpc_refuse and rpc_bad_message ->
 * DB_TX_ROLLBACK.  rpc_reply sets without choosing.
 */
db_tx_result rpc_ok(rpc_ctx_t *ctx, json_object *reply);
db_tx_result rpc_refuse(rpc_ctx_t *ctx, json_object *reply);
void rpc_reply(rpc_ctx_t *ctx, json_object *reply);
/* rpc_bad_message - {"status": "bad_message", "reason", "field"} from ctx->in's
 * first error (after proto_in_end() failed, or after proto_in_fail()). */
db_tx_result rpc_bad_message(rpc_ctx_t *ctx);
/* rpc_not_allowed - {"status": "not_allowed", "reason": reason}. */
db_tx_result rpc_not_allowed(rpc_ctx_t *ctx, const char *reason);

/* rpc_exec - db_exec(c, stmt, values, NULL, NULL); the result joins the
 * arena (no PQclear).  NULL on error (logged by db_exec): return
 * DB_TX_ERROR. */
PGresult *rpc_exec(rpc_ctx_t *ctx, db_conn_t *c, const db_stmt_t *stmt, const char *const *values);
/* rpc_exec_bin - the same with lengths and formats (binary BYTEA
 * parameters: certificates, keys). */
PGresult *rpc_exec_bin(rpc_ctx_t *ctx, db_conn_t *c, const db_stmt_t *stmt,
                       const char *const *values, const int *lengths, const int *formats);

/* rpc_is_admin - the authenticated user's profile is ADMIN. */
bool rpc_is_admin(const rpc_ctx_t *ctx);

/* ---- the command families (one file each) ---- */
extern const rpc_command_t rpc_cmds_organization[]; /* cmd_organization.c: ping,
                                                     * organization_bootstrap,
                                                     * organization_config,
                                                     * organization_stats */
extern const rpc_command_t rpc_cmds_user[];         /* cmd_user.c: user_create, device_create,
                                                     * user_revoke, user_get, human_find */
/* Later families, one line each here and in rpc.c's rpc_families[]:
 * rpc_cmds_invite (cmd_invite.c), rpc_cmds_realm (cmd_realm.c), rpc_cmds_vlob
 * (cmd_vlob.c), rpc_cmds_block (cmd_block.c), rpc_cmds_message
 * (cmd_message.c).  A command name must appear in one table only (rpc_find
 * stops at the first). */

/* rpc_find - the command called name that family allows, or NULL (answered
 * unknown_command).  For tests. */
const rpc_command_t *rpc_find(const char *name, rpc_family family);

#endif
