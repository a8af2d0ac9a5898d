/*
 * fcgi-api/rpc/rpc.c - the protocol RPC routes (/anonymous, /invited,
 * /authenticated): the pre-command checks and the command dispatcher
 *
 * docs/protocol.md section 1.2 is the contract.  Every request goes through
 * rpc_serve(), which answers, in this order (the first failing check
 * answers; 405 and 413 came earlier, from the front, with Api-Version too):
 *
 *   1. Api-Version unsupported     422 + Supported-Api-Versions (every answer
 *                                  of these routes carries Api-Version)
 *   2. organization id malformed   404
 *   3. the route's one query (auth_load: organization, device and user, or
 *      invitation); database unreachable 503, failing 500
 *      organization unknown        404; on the anonymous route under
 *                                  spontaneous bootstrap, let through when
 *                                  the body's cmd is organization_bootstrap
 *   4. anonymous, invited: expired organization
 *                                  200 expired_organization
 *   5. Content-Type not application/json      415
 *   6. authenticated: malformed or foreign token, unknown device, bad
 *      signature                              401 bad_authentication
 *      stale token                            401 bad_timestamp (server time)
 *      then expired organization              200 expired_organization
 *      then revoked user                      200 revoked_user
 *      invited: missing, malformed or unknown Invitation-Token
 *                                             401 bad_invitation
 *      then deleted invitation                410 invitation_already_deleted
 *   7. body not a strict JSON object          200 invalid_msg_format
 *      "cmd" missing, malformed, unknown, or not served on this route
 *                                             200 unknown_command
 *   8. who may call (the command's table line) 200 not_allowed
 *   9. the command: its own statuses, bad_message naming the field
 *
 * rpc_begin() is steps 1 to 6, rpc_execute() steps 8 and 9: the binary
 * block routes (rpc_block.c) run them too, with their own content type
 * and their own step 7 (the fields of the path and the query).
 */
#include "rpc.h"
#include "rpc_internal.h"

#include "auth/auth.h"
#include "cmd/cmd.h"
#include "log.h"
#include "sentry.h"

#include <string.h>

void rpc_api_version_header(http_req_t *r)
{
    http_set_header(r, "Api-Version", PROTO_API_VERSION);
}

/* {"error": code} with an HTTP status: the answers before a command. */
static void respond_status(http_req_t *r, int status, const char *code)
{
    http_respond_error(r, status, code, NULL);
}

/* A 200 JSON reply with "status" (also the commands' replies). */
void rpc_respond_reply(http_req_t *r, json_object *reply)
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

static proto_req_status decode_envelope(rpc_req_t *q)
{
    if (!q->decoded) {
        q->decoded = true;
        q->envelope = proto_decode_request(q->r->arena, q->r->body, q->r->body_len, &q->in, &q->cmd,
                                           &q->envelope_why);
    }
    return q->envelope;
}

/* Under spontaneous bootstrap an unknown organization passes the 404 check
 * only for an anonymous organization_bootstrap, which creates it. */
static bool spontaneous_ok(rpc_req_t *q)
{
    const cfg_t *cfg = q->r->cfg;
    return q->route == AUTH_ANONYMOUS && cfg && cfg->spontaneous_organization_bootstrap &&
           decode_envelope(q) == PROTO_REQ_OK && strcmp(q->cmd, "organization_bootstrap") == 0;
}

/* Step 6 of the authenticated route; true when the command may run. */
static bool check_authenticated(rpc_req_t *q, bool tok_ok, const proto_auth_t *tok,
                                const char *parse_why)
{
    http_req_t *r = q->r;
    const char *why = parse_why;
    auth_result ar = tok_ok ? auth_verify(&q->who, tok, q->now_us, &why) : AUTH_BAD;
    if (ar == AUTH_STALE) {
        log_info("rpc: authentication refused: %s", why);
        respond_stale(r, q->now_us);
        return false;
    }
    if (ar != AUTH_OK) {
        log_info("rpc: authentication refused: %s", why);
        http_set_header(r, "WWW-Authenticate", PROTO_AUTH_SCHEME);
        respond_status(r, 401, "bad_authentication");
        return false;
    }
    http_set_device(r, q->who.device.id);
    if (q->who.org.expired) {
        rpc_respond_reply(r, proto_reply("expired_organization"));
        return false;
    }
    if (q->who.user_revoked) {
        log_info("rpc: revoked user");
        rpc_respond_reply(r, proto_reply("revoked_user"));
        return false;
    }
    return true;
}

/* Step 6 of the invited route. */
static bool check_invited(rpc_req_t *q, bool token_ok)
{
    if (!q->who.invitation_found) {
        log_info("rpc: %s Invitation-Token", token_ok ? "unknown" : "missing or malformed");
        respond_status(q->r, 401, "bad_invitation");
        return false;
    }
    if (q->who.invitation_deleted) {
        respond_status(q->r, 410, "invitation_already_deleted");
        return false;
    }
    return true;
}

json_object *rpc_execute(rpc_req_t *q, const cmd_def_t *def, proto_in_t *in, cmd_raw_t *raw)
{
    http_req_t *r = q->r;
    sentry_scope_command(def->name);
    r->command = def->name;
    cmd_t cmd = {
        .name = def->name,
        .arena = r->arena,
        .cfg = r->cfg,
        .in = in,
        .now_us = q->now_us,
        .who = &q->who,
        .blocks = r->blocks,
        .raw = raw,
    };
    const char *refusal = cmd_who_refusal(def, &cmd);
    if (refusal) {
        log_info("rpc: %s -> not_allowed", def->name);
        rpc_respond_reply(r, proto_reply_reason("not_allowed", refusal));
        return NULL;
    }
    json_object *reply = cmd_execute(def, &cmd, &r->db);
    if (!reply) {
        respond_status(r, 500, "internal_error");
        return NULL;
    }
    if (log_enabled(CFG_LOG_INFO))
        log_info("rpc: %s -> %s", def->name,
                 json_object_get_string(json_object_object_get(reply, "status")));
    return reply;
}

/* Steps 7 to 9. */
static void run_command(rpc_req_t *q)
{
    http_req_t *r = q->r;
    switch (decode_envelope(q)) {
    case PROTO_REQ_INVALID_MSG_FORMAT:
        log_info("rpc: invalid message: %s", q->envelope_why);
        rpc_respond_reply(r, proto_reply_invalid_msg_format(q->envelope_why));
        return;
    case PROTO_REQ_UNKNOWN_COMMAND:
        log_info("rpc: no command");
        rpc_respond_reply(r, proto_reply_unknown_command());
        return;
    case PROTO_REQ_OK:
        break;
    }
    const cmd_def_t *def = cmd_find(q->cmd, q->route);
    if (!def) {
        log_info("rpc: command unknown on this route");
        rpc_respond_reply(r, proto_reply_unknown_command());
        return;
    }
    json_object *reply = rpc_execute(q, def, q->in, NULL);
    if (reply)
        rpc_respond_reply(r, reply);
}

bool rpc_begin(http_req_t *r, auth_route route, bool (*content_type_ok)(const char *), rpc_req_t *q)
{
    http_set_header(r, "Cache-Control", "no-store");

    /* 1. API version */
    rpc_api_version_header(r);
    if (!proto_api_version_ok(http_header(r, "Api-Version"))) {
        http_set_header(r, "Supported-Api-Versions", PROTO_API_SUPPORTED);
        respond_status(r, 422, "unsupported_api_version");
        return false;
    }

    /* 2. organization id */
    const char *org_id = r->params[0];
    if (!org_id || !proto_valid_organization_id(org_id)) {
        respond_status(r, 404, "not_found");
        return false;
    }

    sentry_scope_organization(org_id);
    *q = (rpc_req_t){.r = r, .route = route, .now_us = proto_now_us()};

    /* Read what names the caller now; judge it at step 6. */
    proto_auth_t tok;
    const char *tok_why = NULL;
    bool tok_ok = false;
    proto_uuid_t inv_token;
    bool inv_ok = false;
    if (route == AUTH_AUTHENTICATED)
        tok_ok = proto_auth_parse(r->arena, http_header(r, "Authorization"), &tok, &tok_why);
    else if (route == AUTH_INVITED)
        inv_ok = auth_invitation_token(http_header(r, AUTH_INVITATION_HEADER), &inv_token);

    /* 3. the one query */
    db_conn_t *c = db_lease_conn(&r->db);
    if (!c) {
        respond_status(r, 503, "database_unavailable");
        return false;
    }
    if (!auth_load(c, r->arena, route, org_id, tok_ok ? tok.device_id : NULL,
                   inv_ok ? &inv_token : NULL, &q->who)) {
        respond_status(r, 500, "internal_error");
        return false;
    }
    if (!q->who.org.exists && !spontaneous_ok(q)) {
        log_info("rpc: unknown organization");
        respond_status(r, 404, "not_found");
        return false;
    }

    /* 4. anonymous and invited: expiry is no secret there */
    if (route != AUTH_AUTHENTICATED && q->who.org.exists && q->who.org.expired) {
        rpc_respond_reply(r, proto_reply("expired_organization"));
        return false;
    }

    /* 5. content type */
    if (content_type_ok && !content_type_ok(http_header(r, "Content-Type"))) {
        respond_status(r, 415, "bad_content_type");
        return false;
    }

    /* 6. who is calling */
    if (route == AUTH_AUTHENTICATED && !check_authenticated(q, tok_ok, &tok, tok_why))
        return false;
    if (route == AUTH_INVITED && !check_invited(q, inv_ok))
        return false;
    return true;
}

static void rpc_serve(http_req_t *r, auth_route route)
{
    rpc_req_t q;
    if (rpc_begin(r, route, proto_content_type_ok, &q))
        run_command(&q); /* 7 to 9 */
}

static void rpc_anonymous(http_req_t *r)
{
    rpc_serve(r, AUTH_ANONYMOUS);
}

static void rpc_invited(http_req_t *r)
{
    rpc_serve(r, AUTH_INVITED);
}

static void rpc_authenticated(http_req_t *r)
{
    rpc_serve(r, AUTH_AUTHENTICATED);
}

const http_route_t rpc_routes[] = {
    {"POST", "/anonymous/{}", rpc_anonymous, rpc_api_version_header},
    {"POST", "/invited/{}", rpc_invited, rpc_api_version_header},
    {"POST", "/authenticated/{}", rpc_authenticated, rpc_api_version_header},
    {"POST", "/authenticated/{}/block/{}", rpc_block_create, rpc_api_version_header},
    {"GET", "/authenticated/{}/block/{}", rpc_block_read, rpc_api_version_header},
    {NULL, NULL, NULL, NULL},
};
