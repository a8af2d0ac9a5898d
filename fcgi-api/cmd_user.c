/*
 * fcgi-api/cmd_user.c - the user and device commands: user_create,
 * device_create, user_revoke, user_get, human_find
 *
 * docs/protocol.md (section 6.3) is the contract; section 3 of
 * parsec-2.12-behaviour.md the behaviour followed, with Part 1's changes:
 * user_profile_outsider_allowed is enforced by user_create.
 *
 * Every check that needs no database (fields, certificates and their
 * signatures, ballpark, consistency) runs before the transaction, in the
 * order of the contract; the transaction then takes the organization's lock
 * (users_store_lock) for creations, so two concurrent creations cannot both
 * pass the active-users limit or the unique-email check.  Refusals roll
 * back: a refused command leaves no trace.
 *
 * The read commands (user_get, human_find) are one statement each
 * (user_queries.h), which is its own snapshot: they need no transaction.
 */
#include "rpc.h"

#include "certif.h"
#include "event.h"
#include "log.h"
#include "proto.h"
#include "user_queries.h"
#include "users_store.h"

#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------------------
 * Shared
 */

static db_tx_result refuse(rpc_ctx_t *ctx, const char *status, const char *reason)
{
    return rpc_refuse(ctx, proto_reply_reason(status, reason));
}

static db_tx_result not_admin(rpc_ctx_t *ctx)
{
    return rpc_not_allowed(ctx, arena_printf(ctx->arena, "User `%s` is not admin", ctx->user.id));
}

/*
 * load_certif - certificate field of type, authored and signed by the
 * calling device.  False after setting the invalid_certification reply
 * naming the field and the failed check.
 */
static bool load_certif(rpc_ctx_t *ctx, const char *field, const proto_bytes_t *raw,
                        certif_type type, certif_t *out)
{
    const char *why;
    if (certif_load(ctx->arena, raw->data, raw->len, type, ctx->device.verify_key, ctx->device.id,
                    out, &why) == CERTIF_OK)
        return true;
    refuse(ctx, "invalid_certification",
           arena_printf(ctx->arena, "Invalid certification data (%s: %s).", field, why));
    return false;
}

/* The users_store refusals as replies; false for USERS_STORE_OK. */
static bool store_refusal(rpc_ctx_t *ctx, users_store_status st, const users_store_user_t *u,
                          const users_store_device_t *d, db_tx_result *result)
{
    switch (st) {
    case USERS_STORE_OK:
        return false;
    case USERS_STORE_LIMIT_REACHED:
        *result = refuse(ctx, "active_users_limit_reached", NULL);
        return true;
    case USERS_STORE_USER_EXISTS:
    case USERS_STORE_HUMAN_EXISTS:
    case USERS_STORE_DEVICE_EXISTS:
        *result = refuse(ctx, "already_exists", users_store_reason(ctx->arena, st, u, d));
        return true;
    case USERS_STORE_NOT_FOUND:
        /* the organization row of an authenticated request vanished:
         * organizations are never deleted, so this is a server fault */
        log_error("%s: organization row not found under lock", ctx->cmd);
        *result = DB_TX_ERROR;
        return true;
    case USERS_STORE_ERROR:
        *result = DB_TX_ERROR;
        return true;
    }
    *result = DB_TX_ERROR;
    return true;
}

/* The users_store_device_t of a checked device certificate. */
static void store_device(rpc_ctx_t *ctx, const certif_t *dc, const certif_t *rdc,
                         users_store_device_t *d)
{
    memset(d, 0, sizeof *d);
    d->device_id = dc->device.device_id;
    d->device_label = dc->device.device_label;
    d->verify_key = dc->device.verify_key;
    d->certificate = (proto_bytes_t){dc->raw, dc->raw_len};
    d->redacted_certificate = (proto_bytes_t){rdc->raw, rdc->raw_len};
    d->certifier_device__id = ctx->device._id;
    d->created_on = dc->timestamp;
}

/* ---------------------------------------------------------------------------
 * user_create
 */

struct user_create_req {
    certif_t user, device, redacted_user, redacted_device;
    users_store_user_t u;
    users_store_device_t d;
};

static db_tx_result user_create_tx(rpc_ctx_t *ctx, db_conn_t *c)
{
    struct user_create_req *q = ctx->state;
    long limit;
    bool outsider_allowed;
    db_tx_result result;
    /* The lock first: the organization's settings are read under it, so an
     * administrator's change is either before or after this creation. */
    users_store_status st = users_store_lock(c, ctx->org._id, &limit, &outsider_allowed);
    if (store_refusal(ctx, st, NULL, NULL, &result))
        return result;
    if (q->user.user.profile == CERTIF_PROFILE_OUTSIDER && !outsider_allowed)
        return rpc_not_allowed(ctx, "Outsider profile is not allowed in this organization");
    st = users_store_create_user(c, ctx->org._id, limit, &q->u, &q->d, NULL, NULL);
    if (store_refusal(ctx, st, &q->u, &q->d, &result))
        return result;
    log_info("user_create: user %s, device %s", q->u.user_id, q->d.device_id);
    return rpc_ok(ctx, proto_reply("ok"));
}

static db_tx_result user_create(rpc_ctx_t *ctx)
{
    if (!rpc_is_admin(ctx))
        return not_admin(ctx);

    proto_bytes_t ub, db, rub, rdb;
    proto_bytes(ctx->in, "user_certificate", CERTIF_MAX_SIZE, &ub);
    proto_bytes(ctx->in, "device_certificate", CERTIF_MAX_SIZE, &db);
    proto_bytes(ctx->in, "redacted_user_certificate", CERTIF_MAX_SIZE, &rub);
    proto_bytes(ctx->in, "redacted_device_certificate", CERTIF_MAX_SIZE, &rdb);
    if (!proto_in_end(ctx->in))
        return rpc_bad_message(ctx);

    struct user_create_req *q = arena_zalloc(ctx->arena, sizeof *q);
    if (!load_certif(ctx, "user_certificate", &ub, CERTIF_USER, &q->user) ||
        !load_certif(ctx, "device_certificate", &db, CERTIF_DEVICE, &q->device) ||
        !load_certif(ctx, "redacted_user_certificate", &rub, CERTIF_USER, &q->redacted_user) ||
        !load_certif(ctx, "redacted_device_certificate", &rdb, CERTIF_DEVICE, &q->redacted_device))
        return DB_TX_ROLLBACK;
    if (q->user.timestamp != q->device.timestamp)
        return refuse(ctx, "invalid_data",
                      "Device and User certificates must have the same timestamp.");
    if (!proto_ballpark_ok(ctx->now_us, q->user.timestamp))
        return refuse(ctx, "invalid_certification", "Invalid timestamp in certificate.");
    const char *device_user = proto_device_id_user(ctx->arena, q->device.device.device_id);
    if (strcmp(device_user, q->user.user.user_id) != 0)
        return refuse(ctx, "invalid_data", "Device and User must have the same user ID.");
    const char *why;
    if (!certif_user_redacted_ok(&q->user, &q->redacted_user, &why) ||
        !certif_device_redacted_ok(&q->device, &q->redacted_device, &why))
        return refuse(ctx, "invalid_data", why);

    q->u.user_id = q->user.user.user_id;
    q->u.profile = q->user.user.profile;
    q->u.human_email = q->user.user.human_email;
    q->u.human_label = q->user.user.human_label;
    q->u.certificate = ub;
    q->u.redacted_certificate = rub;
    q->u.certifier_device__id = ctx->device._id;
    q->u.created_on = q->user.timestamp;
    store_device(ctx, &q->device, &q->redacted_device, &q->d);
    ctx->state = q;
    return rpc_tx(ctx, user_create_tx);
}

/* ---------------------------------------------------------------------------
 * device_create
 */

static db_tx_result device_create_tx(rpc_ctx_t *ctx, db_conn_t *c)
{
    users_store_device_t *d = ctx->state;
    db_tx_result result;
    users_store_status st = users_store_lock(c, ctx->org._id, NULL, NULL);
    if (store_refusal(ctx, st, NULL, d, &result))
        return result;
    st = users_store_create_device(c, ctx->org._id, ctx->user._id, d, NULL);
    if (store_refusal(ctx, st, NULL, d, &result))
        return result;
    log_info("device_create: device %s", d->device_id);
    return rpc_ok(ctx, proto_reply("ok"));
}

static db_tx_result device_create(rpc_ctx_t *ctx)
{
    proto_bytes_t db, rdb;
    proto_bytes(ctx->in, "device_certificate", CERTIF_MAX_SIZE, &db);
    proto_bytes(ctx->in, "redacted_device_certificate", CERTIF_MAX_SIZE, &rdb);
    if (!proto_in_end(ctx->in))
        return rpc_bad_message(ctx);

    certif_t dc, rdc;
    if (!load_certif(ctx, "device_certificate", &db, CERTIF_DEVICE, &dc) ||
        !load_certif(ctx, "redacted_device_certificate", &rdb, CERTIF_DEVICE, &rdc))
        return DB_TX_ROLLBACK;
    if (!proto_ballpark_ok(ctx->now_us, dc.timestamp))
        return refuse(ctx, "invalid_certification", "Invalid timestamp in certification.");
    if (strcmp(proto_device_id_user(ctx->arena, dc.device.device_id), ctx->user.id) != 0)
        return refuse(ctx, "bad_user_id", "Device must be handled by it own user.");
    const char *why;
    if (!certif_device_redacted_ok(&dc, &rdc, &why))
        return refuse(ctx, "invalid_data", why);

    users_store_device_t *d = arena_zalloc(ctx->arena, sizeof *d);
    store_device(ctx, &dc, &rdc, d);
    ctx->state = d;
    return rpc_tx(ctx, device_create_tx);
}

/* ---------------------------------------------------------------------------
 * user_revoke
 */

// clang-format off
/* The target row, locked so that two revocations of one user serialise and
 * the second sees the first.  $1 organization, $2 user id. */
static const db_stmt_t stmt_revoke_lock = {
    "user_revoke_lock",
    "SELECT _id, revoked_on IS NOT NULL FROM user_"
    " WHERE organization = $1::integer AND user_id = $2::text FOR UPDATE",
    2,
};

/* $1 user_._id, $2 revoked_on, $3 certificate, $4 certifier device._id. */
static const db_stmt_t stmt_revoke = {
    "user_revoke_set",
    "UPDATE user_ SET revoked_on = $2::timestamptz, revoked_user_certificate = $3::bytea,"
    " revoked_user_certifier = $4::integer WHERE _id = $1::integer",
    4,
};
// clang-format on

struct user_revoke_req {
    certif_t certif;
};

static db_tx_result user_revoke_tx(rpc_ctx_t *ctx, db_conn_t *c)
{
    struct user_revoke_req *q = ctx->state;
    const char *user_id = q->certif.revoked_user.user_id;
    char org[16];
    snprintf(org, sizeof org, "%d", ctx->org._id);
    const char *lock_values[2] = {org, user_id};
    PGresult *res = rpc_exec(ctx, c, &stmt_revoke_lock, lock_values);
    if (!res)
        return DB_TX_ERROR;
    if (PQntuples(res) == 0)
        return rpc_refuse(ctx, proto_reply("not_found"));
    if (PQgetvalue(res, 0, 1)[0] == 't')
        return refuse(ctx, "already_revoked",
                      arena_printf(ctx->arena, "User `%s` already revoked", user_id));

    char revoked_on[PROTO_DATETIME_LEN + 1], certifier[16];
    proto_datetime_format(q->certif.timestamp, revoked_on);
    snprintf(certifier, sizeof certifier, "%d", ctx->device._id);
    const char *values[4] = {PQgetvalue(res, 0, 0), revoked_on, (const char *)q->certif.raw,
                             certifier};
    int lengths[4] = {0, 0, (int)q->certif.raw_len, 0};
    int formats[4] = {0, 0, 1, 0};
    if (!rpc_exec_bin(ctx, c, &stmt_revoke, values, lengths, formats))
        return DB_TX_ERROR;

    /* In the same transaction: notifyd closes the user's websockets only if
     * the revocation commits. */
    if (!event_publish_user_revoked(c, ctx->org.id, ctx->device.id, user_id))
        return DB_TX_ERROR;
    log_info("user_revoke: user %s", user_id);
    return rpc_ok(ctx, proto_reply("ok"));
}

static db_tx_result user_revoke(rpc_ctx_t *ctx)
{
    if (!rpc_is_admin(ctx))
        return not_admin(ctx);

    proto_bytes_t raw;
    proto_bytes(ctx->in, "revoked_user_certificate", CERTIF_MAX_SIZE, &raw);
    if (!proto_in_end(ctx->in))
        return rpc_bad_message(ctx);

    struct user_revoke_req *q = arena_zalloc(ctx->arena, sizeof *q);
    if (!load_certif(ctx, "revoked_user_certificate", &raw, CERTIF_REVOKED_USER, &q->certif))
        return DB_TX_ROLLBACK;
    if (!proto_ballpark_ok(ctx->now_us, q->certif.timestamp))
        return refuse(ctx, "invalid_certification", "Invalid timestamp in certification.");
    if (strcmp(q->certif.revoked_user.user_id, ctx->user.id) == 0)
        return rpc_not_allowed(ctx, "Cannot do self-revocation");
    ctx->state = q;
    return rpc_tx(ctx, user_revoke_tx);
}

/* ---------------------------------------------------------------------------
 * user_get
 */

static json_object *certs_json(const user_queries_certs_t *l)
{
    json_object *a = json_object_new_array_ext((int)l->n);
    for (size_t i = 0; i < l->n; i++)
        json_object_array_add(a, proto_json_bytes(l->items[i].data, l->items[i].len));
    return a;
}

static db_tx_result user_get(rpc_ctx_t *ctx)
{
    const char *user_id;
    proto_user_id(ctx->in, "user_id", &user_id);
    if (!proto_in_end(ctx->in))
        return rpc_bad_message(ctx);

    /* OUTSIDERs see no human handle nor device label of anyone: the
     * redacted certificates everywhere, trustchain included. */
    bool redacted = ctx->user.profile == CERTIF_PROFILE_OUTSIDER;
    user_queries_user_t u;
    switch (user_queries_get(ctx->arena, ctx->db, ctx->org._id, user_id, redacted, &u)) {
    case USER_QUERIES_OK:
        break;
    case USER_QUERIES_NOT_FOUND:
        return rpc_refuse(ctx, proto_reply("not_found"));
    case USER_QUERIES_ERROR:
        return DB_TX_ERROR;
    }

    json_object *reply = proto_reply("ok");
    json_object_object_add(reply, "user_certificate",
                           proto_json_bytes(u.user_certificate.data, u.user_certificate.len));
    json_object_object_add(
        reply, "revoked_user_certificate",
        u.revoked_user_certificate.data
            ? proto_json_bytes(u.revoked_user_certificate.data, u.revoked_user_certificate.len)
            : NULL);
    json_object_object_add(reply, "device_certificates", certs_json(&u.devices));
    json_object *tc = json_object_new_object();
    json_object_object_add(tc, "devices", certs_json(&u.trustchain_devices));
    json_object_object_add(tc, "users", certs_json(&u.trustchain_users));
    json_object_object_add(tc, "revoked_users", certs_json(&u.trustchain_revoked_users));
    json_object_object_add(reply, "trustchain", tc);
    return rpc_ok(ctx, reply);
}

/* ---------------------------------------------------------------------------
 * human_find
 */

static db_tx_result human_find(rpc_ctx_t *ctx)
{
    if (ctx->user.profile == CERTIF_PROFILE_OUTSIDER)
        return rpc_not_allowed(ctx, "Not allowed for user with OUTSIDER profile.");

    user_queries_find_t q = {0};
    if (proto_has(ctx->in, "query"))
        proto_str(ctx->in, "query", USER_QUERIES_FIND_QUERY_MAX, &q.query);
    proto_bool(ctx->in, "omit_revoked", &q.omit_revoked);
    proto_bool(ctx->in, "omit_non_human", &q.omit_non_human);
    proto_int(ctx->in, "page", 1, USER_QUERIES_FIND_PAGE_MAX, &q.page);
    proto_int(ctx->in, "per_page", 1, USER_QUERIES_FIND_PER_PAGE_MAX, &q.per_page);
    if (!proto_in_end(ctx->in))
        return rpc_bad_message(ctx);

    int64_t total;
    user_queries_found_t *found;
    size_t n;
    if (user_queries_find(ctx->arena, ctx->db, ctx->org._id, &q, &total, &found, &n) !=
        USER_QUERIES_OK)
        return DB_TX_ERROR;

    json_object *results = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++) {
        json_object *item = json_object_new_object();
        json_object_object_add(item, "user_id", json_object_new_string(found[i].user_id));
        json_object_object_add(item, "human_handle",
                               proto_json_human_handle(found[i].human_email, found[i].human_label));
        json_object_object_add(item, "revoked", json_object_new_boolean(found[i].revoked));
        json_object_array_add(results, item);
    }
    json_object *reply = proto_reply("ok");
    json_object_object_add(reply, "results", results);
    json_object_object_add(reply, "page", json_object_new_int64(q.page));
    json_object_object_add(reply, "per_page", json_object_new_int64(q.per_page));
    json_object_object_add(reply, "total", json_object_new_int64(total));
    return rpc_ok(ctx, reply);
}

const rpc_command_t rpc_cmds_user[] = {
    {"user_create", RPC_AUTHENTICATED, user_create},
    {"device_create", RPC_AUTHENTICATED, device_create},
    {"user_revoke", RPC_AUTHENTICATED, user_revoke},
    {"user_get", RPC_AUTHENTICATED, user_get},
    {"human_find", RPC_AUTHENTICATED, human_find},
    {NULL, 0, NULL},
};
