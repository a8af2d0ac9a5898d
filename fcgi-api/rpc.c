/*
 * fcgi-api/rpc.c - the protocol RPC routes (/anonymous, /invited,
 * /authenticated): the pre-command checks and the command dispatcher
 *
 * rpc.h is the handlers' contract; docs/protocol.md ("Transport") is the
 * clients'.  Every request goes through rpc_serve(), which answers, in this
 * order (the first failing check answers):
 *
 *   1. Api-Version header unsupported       422, Supported-Api-Versions
 *      (every later answer carries Api-Version)
 *   2. organization id malformed            404
 *   3. the route's one query (auth_load); a database failure is 500, an
 *      unreachable database 503
 *      organization unknown                 404 (anonymous POST under
 *                                           spontaneous bootstrap: let through)
 *   4. Content-Type not application/json    415 (POST only)
 *   5. authenticated: bad, stale or foreign token, unknown device, bad
 *      signature                            401
 *      invited: missing, malformed or unknown Invitation-Token
 *                                           401
 *   6. authenticated: revoked user          200 {"status": "revoked_user"}
 *   7. organization expired                 200 {"status": "expired_organization"}
 *   8. invited: invitation deleted          200 {"status": "invitation_deleted"}
 *   9. GET /anonymous/<org>: nothing more   200 {"status": "ok"}
 *  10. body not a strict JSON object        200 {"status": "invalid_msg_format"}
 *      "cmd" missing, malformed, unknown, or not allowed on this route
 *                                           200 {"status": "unknown_command"}
 *  11. the command (its own statuses, bad_message naming the field)
 *
 * The body size limit (413) is the front's: the handler never sees a body
 * above --max-request-size.
 */
#include "rpc.h"

#include "auth.h"
#include "log.h"
#include "routes.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* Every family table, in the order they are searched.  One line per family. */
static const rpc_command_t *const rpc_families[] = {
    rpc_cmds_organization,
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

static void put_json(void *o)
{
    json_object_put(o);
}

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

PGresult *rpc_exec(rpc_ctx_t *ctx, db_conn_t *c, const db_stmt_t *stmt,
                   const char *const *values)
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

static void respond_status(http_req_t *r, int status, const char *code)
{
    http_respond_error(r, status, code, NULL);
}

/* A 200 JSON reply with "status" (also the commands' replies). */
static void respond_reply(http_req_t *r, json_object *reply)
{
    http_respond_json(r, 200, reply);
}

/*
 * content_type_ok - "application/json", case-insensitive, optionally with
 * a charset parameter naming UTF-8 (quoted or not): the only encoding JSON
 * may travel in (RFC 8259 section 8.1).  Any other parameter or charset is
 * refused, so a body is never read in an encoding its sender did not mean.
 */
static bool content_type_ok(const char *v)
{
    static const char mt[] = "application/json";
    if (!v || strncasecmp(v, mt, sizeof mt - 1) != 0)
        return false;
    const char *p = v + sizeof mt - 1;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0')
        return true;
    if (*p++ != ';')
        return false;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, "charset=", 8) != 0)
        return false;
    p += 8;
    bool quoted = *p == '"';
    if (quoted)
        p++;
    if (strncasecmp(p, "utf-8", 5) != 0)
        return false;
    p += 5;
    if (quoted && *p++ != '"')
        return false;
    while (*p == ' ' || *p == '\t')
        p++;
    return *p == '\0';
}

/* ---------------------------------------------------------------------------
 * The dispatcher
 */

static void run_command(rpc_ctx_t *ctx)
{
    http_req_t *r = ctx->r;
    const char *cmd, *why;
    switch (proto_decode_request(ctx->arena, r->body, r->body_len, &ctx->in, &cmd, &why)) {
    case PROTO_REQ_INVALID_MSG_FORMAT:
        log_info("rpc: invalid message: %s", why);
        respond_reply(r, proto_reply_invalid_msg_format(why));
        return;
    case PROTO_REQ_UNKNOWN_COMMAND:
        respond_reply(r, proto_reply_unknown_command());
        return;
    case PROTO_REQ_OK:
        break;
    }
    ctx->cmd = cmd;
    const rpc_command_t *c = rpc_find(cmd, ctx->family);
    if (!c) {
        log_info("rpc: unknown command on this route");
        respond_reply(r, proto_reply_unknown_command());
        return;
    }
    /* Spontaneous bootstrap tolerated a missing organization: only for the
     * command that creates it. */
    if (!ctx->org.exists && strcmp(cmd, "organization_bootstrap") != 0) {
        respond_status(r, 404, "organization_not_found");
        return;
    }

    db_tx_result res = c->handler(ctx);
    json_object *reply = ctx->reply;
    ctx->reply = NULL;
    if (res == DB_TX_ERROR || !reply) {
        if (reply)
            json_object_put(reply);
        if (res != DB_TX_ERROR)
            log_error("rpc: command %s set no reply", cmd);
        respond_status(r, 500, "internal_error");
        return;
    }
    log_info("rpc: %s -> %s", cmd,
             json_object_get_string(json_object_object_get(reply, "status")));
    respond_reply(r, reply);
}

static void rpc_serve(http_req_t *r, rpc_family family)
{
    http_set_header(r, "Cache-Control", "no-store");

    /* 1. API version */
    if (!proto_api_version_ok(http_header(r, "Api-Version"))) {
        http_set_header(r, "Supported-Api-Versions", PROTO_API_SUPPORTED);
        respond_status(r, 422, "unsupported_api_version");
        return;
    }
    http_set_header(r, "Api-Version", PROTO_API_VERSION);

    /* 2. organization id */
    const char *org_id = r->params[0];
    if (!org_id || !proto_valid_organization_id(org_id)) {
        respond_status(r, 404, "organization_not_found");
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
    bool post = strcmp(r->method, "POST") == 0;

    /* Read what names the caller now; judge it after the 404 and 415. */
    proto_auth_t tok;
    const char *auth_why = NULL;
    bool tok_ok = false;
    proto_uuid_t inv_token;
    bool inv_ok = false;
    if (family == RPC_AUTHENTICATED)
        tok_ok = proto_auth_parse(r->arena, http_header(r, "Authorization"), &tok, &auth_why);
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
        goto cleanup;
    }
    if (!ctx.org.exists &&
        !(family == RPC_ANONYMOUS && post && r->cfg && r->cfg->spontaneous_organization_bootstrap)) {
        log_info("rpc: unknown organization");
        respond_status(r, 404, "organization_not_found");
        goto cleanup;
    }

    /* 4. content type */
    if (post && !content_type_ok(http_header(r, "Content-Type"))) {
        respond_status(r, 415, "bad_content_type");
        goto cleanup;
    }

    /* 5. who is calling */
    if (family == RPC_AUTHENTICATED) {
        if (!tok_ok || !auth_verify(&ctx, &tok, &found, &auth_why)) {
            log_info("rpc: authentication refused: %s", auth_why);
            http_set_header(r, "WWW-Authenticate", PROTO_AUTH_SCHEME);
            respond_status(r, 401, "bad_authentication");
            goto cleanup;
        }
        log_info("rpc: device %s", ctx.device.id);
        /* 6. revoked: told only to a caller that proved it is the device */
        if (found.user_revoked) {
            respond_reply(r, proto_reply("revoked_user"));
            goto cleanup;
        }
    } else if (family == RPC_INVITED && !found.invitation_found) {
        log_info("rpc: %s Invitation-Token", inv_ok ? "unknown" : "missing or malformed");
        respond_status(r, 401, "bad_invitation_token");
        goto cleanup;
    }

    /* 7. expired organization */
    if (ctx.org.exists && ctx.org.expired) {
        respond_reply(r, proto_reply("expired_organization"));
        goto cleanup;
    }

    /* 8. deleted invitation */
    if (family == RPC_INVITED && found.invitation_deleted) {
        respond_reply(r, proto_reply_reason("invitation_deleted", "Invitation already deleted"));
        goto cleanup;
    }

    /* 9. GET: the checks were all it asked for */
    if (!post) {
        respond_reply(r, proto_reply("ok"));
        goto cleanup;
    }

    /* 10, 11 */
    run_command(&ctx);

cleanup:
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
    {"GET", "/anonymous/{}", rpc_anonymous},
    {"POST", "/invited/{}", rpc_invited},
    {"POST", "/authenticated/{}", rpc_authenticated},
    {NULL, NULL, NULL},
};
