/*
 * fcgi-api/rpc.c - the protocol RPC routes (/anonymous, /invited,
 * /authenticated): the pre-command checks and the command dispatcher
 *
 * rpc.h is the handlers' contract; docs/protocol.md sections 1.2 and 4 are
 * the clients'.  Every request goes through rpc_serve(), which answers, in
 * this order (the first failing check answers; 405 and 413 came earlier,
 * from the front):
 *
 *   1. Api-Version unsupported     422 + Supported-Api-Versions (every answer
 *                                  of these routes carries Api-Version)
 *   2. organization id malformed   404
 *   3. the route's one query (auth_load: organization, device and user, or
 *      invitation); database unreachable 503, failing 500
 *      organization unknown        404; on the anonymous route under
 *                                  spontaneous bootstrap, let through when
 *                                  the body's cmd is organization_bootstrap
 *   4. anonymous: expired organization        200 expired_organization
 *   5. Content-Type not application/json      415
 *   6. authenticated: malformed or foreign token, unknown device, bad
 *      signature                              401 bad_authentication
 *      stale token                            401 bad_timestamp (server time)
 *      then expired organization              200 expired_organization
 *      then revoked user                      200 revoked_user
 *      invited: missing, malformed or unknown Invitation-Token
 *                                             401 bad_invitation
 *      then deleted invitation                410 invitation_already_deleted
 *      then expired organization              200 expired_organization
 *   7. body not a strict JSON object          200 invalid_msg_format
 *      "cmd" missing, malformed, unknown, or not served on this route
 *                                             200 unknown_command
 *   8. the command: its own statuses, bad_message naming the field
 */
#include "rpc.h"

#include "auth.h"
#include "log.h"
#include "routes.h"

#include <string.h>

/* Every family table, in the order they are searched.  One line per family. */
static const rpc_command_t *const rpc_families[] = {
    rpc_cmds_organization,
    rpc_cmds_user,
};

const rpc_command_t *rpc_find(const char *name, rpc_family family)
{
    for (size_t f = 0; f < sizeof rpc_families / sizeof rpc_families[0]; f++)
        for (const rpc_command_t *c = rpc_families[f]; c->name; c++)
            if (strcmp(c->name, name) == 0)
                return (c->families & family) ? c : NULL;
    return NULL;
}

/* ---------------------------------------------------------------------------
 * Replies
 */

void rpc_reply(rpc_ctx_t *ctx, json_object *reply)
{
    if (ctx->reply)
        json_object_put(ctx->reply);
    ctx->reply = reply;
}

db_tx_result rpc_ok(rpc_ctx_t *ctx, json_object *reply)
{
    rpc_reply(ctx, reply);
    return DB_TX_COMMIT;
}

db_tx_result rpc_refuse(rpc_ctx_t *ctx, json_object *reply)
{
    rpc_reply(ctx, reply);
    return DB_TX_ROLLBACK;
}

db_tx_result rpc_bad_message(rpc_ctx_t *ctx)
{
    return rpc_refuse(ctx, proto_reply_bad_message(ctx->in));
}

db_tx_result rpc_not_allowed(rpc_ctx_t *ctx, const char *reason)
{
    return rpc_refuse(ctx, proto_reply_reason("not_allowed", reason));
}

bool rpc_is_admin(const rpc_ctx_t *ctx)
{
    return ctx->family == RPC_AUTHENTICATED && ctx->user.profile == CERTIF_PROFILE_ADMIN;
}

static void clear_result(void *p)
{
    PQclear(p);
}

PGresult *rpc_exec(rpc_ctx_t *ctx, db_conn_t *c, const db_stmt_t *stmt, const char *const *values)
{
    return rpc_exec_bin(ctx, c, stmt, values, NULL, NULL);
}

PGresult *rpc_exec_bin(rpc_ctx_t *ctx, db_conn_t *c, const db_stmt_t *stmt,
                       const char *const *values, const int *lengths, const int *formats)
{
    PGresult *res = db_exec(c, stmt, values, lengths, formats);
    if (res)
        arena_defer(ctx->arena, clear_result, res);
    return res;
}

/* ---------------------------------------------------------------------------
 * The transaction
 */

typedef struct {
    rpc_ctx_t *ctx;
    rpc_tx_fn body;
} tx_call;

static db_tx_result tx_trampoline(db_conn_t *c, void *arg)
{
    tx_call *call = arg;
    /* a re-run after a serialization failure starts from no reply */
    rpc_reply(call->ctx, NULL);
    return call->body(call->ctx, c);
}

db_tx_result rpc_tx(rpc_ctx_t *ctx, rpc_tx_fn body)
{
    if (ctx->ntx++ > 0) {
        log_error("command %s ran a second transaction", ctx->cmd);
        return DB_TX_ERROR;
    }
    tx_call call = {ctx, body};
    db_tx_result res = db_tx(ctx->db, tx_trampoline, &call);
    if (res == DB_TX_ERROR)
        rpc_reply(ctx, NULL);
    return res;
}

/* ---------------------------------------------------------------------------
 * HTTP answers before a command
 */

/* {"error": code} with an HTTP status: the answers before a command. */
static void respond_status(http_req_t *r, int status, const char *code)
{
    http_respond_error(r, status, code, NULL);
}

/* A 200 JSON reply with "status" (also the commands' replies). */
static void respond_reply(http_req_t *r, json_object *reply)
{
    http_respond_json(r, 200, reply);
}

/* 401 for a token outside the ballpark: the server's time, so that a client
 * whose clock is off can correct its offset and retry. */
static void respond_stale(http_req_t *r, int64_t now_us)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "error", json_object_new_string("bad_timestamp"));
    json_object_object_add(o, "backend_timestamp", proto_json_datetime(now_us));
    json_object_object_add(
        o, "ballpark_client_early_offset",
        json_object_new_double((double)PROTO_BALLPARK_CLIENT_EARLY_OFFSET_US / 1e6));
    json_object_object_add(
        o, "ballpark_client_late_offset",
        json_object_new_double((double)PROTO_BALLPARK_CLIENT_LATE_OFFSET_US / 1e6));
    http_set_header(r, "WWW-Authenticate", PROTO_AUTH_SCHEME);
    http_respond_json(r, 401, o);
}

/* ---------------------------------------------------------------------------
 * The dispatcher
 */

/* Decode the envelope once (the spontaneous bootstrap check may need it
 * before the Content-Type check).  Returns the status. */
static proto_req_status decode_envelope(rpc_ctx_t *ctx, const char **why)
{
    if (!ctx->decoded) {
        ctx->decoded = true;
        ctx->envelope = proto_decode_request(ctx->arena, ctx->r->body, ctx->r->body_len, &ctx->in,
                                             &ctx->cmd, &ctx->envelope_why);
    }
    *why = ctx->envelope_why;
    return ctx->envelope;
}

static void run_command(rpc_ctx_t *ctx)
{
    http_req_t *r = ctx->r;
    const char *why;
    switch (decode_envelope(ctx, &why)) {
    case PROTO_REQ_INVALID_MSG_FORMAT:
        log_info("rpc: invalid message: %s", why);
        respond_reply(r, proto_reply_invalid_msg_format(why));
        return;
    case PROTO_REQ_UNKNOWN_COMMAND:
        log_info("rpc: no command");
        respond_reply(r, proto_reply_unknown_command());
        return;
    case PROTO_REQ_OK:
        break;
    }
    const rpc_command_t *c = rpc_find(ctx->cmd, ctx->family);
    if (!c) {
        log_info("rpc: command unknown on this route");
        respond_reply(r, proto_reply_unknown_command());
        return;
    }

    db_tx_result res = c->handler(ctx);
    json_object *reply = ctx->reply;
    ctx->reply = NULL;
    if (res == DB_TX_ERROR || !reply) {
        if (reply)
            json_object_put(reply);
        if (res != DB_TX_ERROR)
            log_error("rpc: command %s set no reply", ctx->cmd);
        respond_status(r, 500, "internal_error");
        return;
    }
    if (log_enabled(CFG_LOG_INFO))
        log_info("rpc: %s -> %s", ctx->cmd,
                 json_object_get_string(json_object_object_get(reply, "status")));
    respond_reply(r, reply);
}

/* Under spontaneous bootstrap an unknown organization passes the 404 check
 * only for an anonymous organization_bootstrap, which creates it. */
static bool spontaneous_ok(rpc_ctx_t *ctx)
{
    const char *why;
    return ctx->family == RPC_ANONYMOUS && ctx->cfg &&
           ctx->cfg->spontaneous_organization_bootstrap &&
           decode_envelope(ctx, &why) == PROTO_REQ_OK &&
           strcmp(ctx->cmd, "organization_bootstrap") == 0;
}

/* Step 6 of the authenticated route; true when the command may run. */
static bool check_authenticated(rpc_ctx_t *ctx, bool tok_ok, const proto_auth_t *tok,
                                const char *parse_why, const auth_found_t *found)
{
    http_req_t *r = ctx->r;
    const char *why = parse_why;
    auth_result ar = tok_ok ? auth_verify(ctx, tok, found, &why) : AUTH_BAD;
    if (ar == AUTH_STALE) {
        log_info("rpc: authentication refused: %s", why);
        respond_stale(r, ctx->now_us);
        return false;
    }
    if (ar != AUTH_OK) {
        log_info("rpc: authentication refused: %s", why);
        http_set_header(r, "WWW-Authenticate", PROTO_AUTH_SCHEME);
        respond_status(r, 401, "bad_authentication");
        return false;
    }
    http_set_device(r, ctx->device.id);
    if (ctx->org.expired) {
        respond_reply(r, proto_reply("expired_organization"));
        return false;
    }
    if (found->user_revoked) {
        log_info("rpc: revoked user");
        respond_reply(r, proto_reply("revoked_user"));
        return false;
    }
    return true;
}

/* Step 6 of the invited route. */
static bool check_invited(rpc_ctx_t *ctx, bool token_ok, const auth_found_t *found)
{
    http_req_t *r = ctx->r;
    if (!found->invitation_found) {
        log_info("rpc: %s Invitation-Token", token_ok ? "unknown" : "missing or malformed");
        respond_status(r, 401, "bad_invitation");
        return false;
    }
    if (found->invitation_deleted) {
        respond_status(r, 410, "invitation_already_deleted");
        return false;
    }
    if (ctx->org.expired) {
        respond_reply(r, proto_reply("expired_organization"));
        return false;
    }
    return true;
}

static void rpc_serve(http_req_t *r, rpc_family family)
{
    http_set_header(r, "Cache-Control", "no-store");

    /* 1. API version */
    http_set_header(r, "Api-Version", PROTO_API_VERSION);
    if (!proto_api_version_ok(http_header(r, "Api-Version"))) {
        http_set_header(r, "Supported-Api-Versions", PROTO_API_SUPPORTED);
        respond_status(r, 422, "unsupported_api_version");
        return;
    }

    /* 2. organization id */
    const char *org_id = r->params[0];
    if (!org_id || !proto_valid_organization_id(org_id)) {
        respond_status(r, 404, "not_found");
        return;
    }

    rpc_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.r = r;
    ctx.arena = r->arena;
    ctx.cfg = r->cfg;
    ctx.family = family;
    ctx.now_us = proto_now_us();
    ctx.org.id = org_id;

    /* Read what names the caller now; judge it at step 6. */
    proto_auth_t tok;
    const char *tok_why = NULL;
    bool tok_ok = false;
    proto_uuid_t inv_token;
    bool inv_ok = false;
    if (family == RPC_AUTHENTICATED)
        tok_ok = proto_auth_parse(r->arena, http_header(r, "Authorization"), &tok, &tok_why);
    else if (family == RPC_INVITED)
        inv_ok = auth_invitation_token(http_header(r, RPC_INVITATION_HEADER), &inv_token);

    /* 3. the one query */
    ctx.db = http_db(r);
    if (!ctx.db) {
        respond_status(r, 503, "database_unavailable");
        return;
    }
    auth_found_t found;
    if (!auth_load(&ctx, tok_ok ? tok.device_id : NULL, inv_ok ? &inv_token : NULL, &found)) {
        respond_status(r, 500, "internal_error");
        return;
    }
    if (!ctx.org.exists && !spontaneous_ok(&ctx)) {
        log_info("rpc: unknown organization");
        respond_status(r, 404, "not_found");
        return;
    }

    /* 4. anonymous: expiry is no secret there */
    if (family == RPC_ANONYMOUS && ctx.org.exists && ctx.org.expired) {
        respond_reply(r, proto_reply("expired_organization"));
        return;
    }

    /* 5. content type */
    if (!proto_content_type_ok(http_header(r, "Content-Type"))) {
        respond_status(r, 415, "bad_content_type");
        return;
    }

    /* 6. who is calling */
    if (family == RPC_AUTHENTICATED && !check_authenticated(&ctx, tok_ok, &tok, tok_why, &found))
        return;
    if (family == RPC_INVITED && !check_invited(&ctx, inv_ok, &found))
        return;

    /* 7, 8 */
    run_command(&ctx);
    if (ctx.reply)
        json_object_put(ctx.reply);
}

static void rpc_anonymous(http_req_t *r)
{
    rpc_serve(r, RPC_ANONYMOUS);
}

static void rpc_invited(http_req_t *r)
{
    rpc_serve(r, RPC_INVITED);
}

static void rpc_authenticated(http_req_t *r)
{
    rpc_serve(r, RPC_AUTHENTICATED);
}

const http_route_t rpc_routes[] = {
    {"POST", "/anonymous/{}", rpc_anonymous},
    {"POST", "/invited/{}", rpc_invited},
    {"POST", "/authenticated/{}", rpc_authenticated},
    {NULL, NULL, NULL},
};
