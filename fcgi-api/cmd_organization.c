/*
 * fcgi-api/cmd_organization.c - ping, organization_bootstrap,
 * organization_config, organization_stats
 *
 * docs/protocol.md section 6 is the contract (fields, statuses, order of
 * checks); parsec-2.12-behaviour.md sections 1 and 9.5 the behaviour they
 * come from.
 */
#include "crypto.h"
#include "event.h"
#include "log.h"
#include "proto.h"
#include "rpc.h"
#include "users_store.h"
#include "webhook.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ping: at most this many bytes, so the "pinged" event fits a NOTIFY. */
#define PING_MAX 1024
/* bootstrap_token: the administration API makes 64 hex characters. */
#define BOOTSTRAP_TOKEN_MAX 64
/* A DER RSA public key of 4096 bits is about 550 bytes. */
#define SEQUESTER_KEY_DER_MAX 2048

static const char *int_param(rpc_ctx_t *ctx, long v)
{
    return arena_printf(ctx->arena, "%ld", v);
}

/* ---------------------------------------------------------------------------
 * ping (all three routes)
 */

static json_object *pong(const char *ping)
{
    json_object *o = proto_reply("ok");
    json_object_object_add(o, "pong", json_object_new_string(ping));
    return o;
}

static db_tx_result cmd_ping(rpc_ctx_t *ctx)
{
    const char *ping;
    proto_str(ctx->in, "ping", PING_MAX, &ping);
    if (!proto_in_end(ctx->in))
        return rpc_bad_message(ctx);
    /* Only an authenticated ping is an event (Parsec's rule). */
    if (ctx->family == RPC_AUTHENTICATED) {
        /* One statement (pg_notify), so no rpc_tx: it is its own implicit
         * transaction and the event goes out when it commits (rpc.h). */
        if (!event_publish_pinged(ctx->db, ctx->org.id, ctx->device.id, ping))
            return DB_TX_ERROR;
    }
    return rpc_ok(ctx, pong(ping));
}

/* ---------------------------------------------------------------------------
 * organization_bootstrap
 */

typedef struct {
    const char *token;
    const uint8_t *root_key;
    certif_t user, device, ruser, rdevice;
    proto_bytes_t sequester;     /* data NULL: none */
    proto_bytes_t sequester_der; /* the authority's key, from the certificate */
} bootstrap_req;

// clang-format off
/* Spontaneous bootstrap: create the organization, unless anyone (an
 * administrator included) already did; the row lock below then decides. */
static const db_stmt_t stmt_spontaneous_create = {
    "org_spontaneous_create",
    "INSERT INTO organization (organization_id, bootstrap_token, active_users_limit,"
    "    user_profile_outsider_allowed, created_by_administration)"
    " VALUES ($1::text, '', $2::integer, $3::boolean, FALSE)"
    " ON CONFLICT (organization_id) DO NOTHING",
    3,
};

static const db_stmt_t stmt_bootstrap_lock = {
    "org_bootstrap_lock",
    "SELECT _id, bootstrap_token, root_verify_key IS NOT NULL, active_users_limit, is_expired"
    " FROM organization WHERE organization_id = $1::text FOR UPDATE",
    1,
};

static const db_stmt_t stmt_bootstrap_set = {
    "org_bootstrap_set",
    "UPDATE organization SET root_verify_key = $2::bytea, bootstrapped_on = $3::timestamptz,"
    "    sequester_authority_certificate = $4::bytea,"
    "    sequester_authority_verify_key_der = $5::bytea"
    " WHERE _id = $1::integer",
    5,
};
// clang-format on

static db_tx_result bootstrap_tx(rpc_ctx_t *ctx, db_conn_t *c)
{
    bootstrap_req *q = ctx->state;
    const cfg_t *cfg = ctx->cfg;

    if (!ctx->org.exists) {
        /* only reached under spontaneous bootstrap (rpc.c) */
        long limit = cfg ? cfg->organization_initial_active_users_limit : -1;
        const char *values[3] = {
            ctx->org.id, limit >= 0 ? int_param(ctx, limit) : NULL,
            !cfg || cfg->organization_initial_user_profile_outsider_allowed ? "true" : "false"};
        if (!rpc_exec(ctx, c, &stmt_spontaneous_create, values))
            return DB_TX_ERROR;
    }

    const char *lock_values[1] = {ctx->org.id};
    PGresult *res = rpc_exec(ctx, c, &stmt_bootstrap_lock, lock_values);
    if (!res)
        return DB_TX_ERROR;
    if (PQntuples(res) != 1)
        return rpc_refuse(ctx, proto_reply_reason("not_found", NULL));
    int org__id = atoi(PQgetvalue(res, 0, 0));
    const char *stored_token = PQgetvalue(res, 0, 1);
    bool bootstrapped = PQgetvalue(res, 0, 2)[0] == 't';
    long limit = PQgetisnull(res, 0, 3) ? -1 : atol(PQgetvalue(res, 0, 3));
    bool expired = PQgetvalue(res, 0, 4)[0] == 't';

    if (expired) /* expired since the dispatcher looked */
        return rpc_refuse(ctx, proto_reply("expired_organization"));
    /* Before the token, as Parsec: a used token is no secret worth guarding. */
    if (bootstrapped)
        return rpc_refuse(ctx, proto_reply_reason("already_bootstrapped", NULL));
    if (!crypto_str_equal(q->token, stored_token)) {
        log_info("organization_bootstrap: wrong bootstrap token");
        return rpc_refuse(ctx, proto_reply_reason("not_found", NULL));
    }

    users_store_user_t u = {
        .user_id = q->user.user.user_id,
        .profile = q->user.user.profile,
        .human_email = q->user.user.human_email,
        .human_label = q->user.user.human_label,
        .certificate = {q->user.raw, q->user.raw_len},
        .redacted_certificate = {q->ruser.raw, q->ruser.raw_len},
        .certifier_device__id = 0,
        .created_on = q->user.timestamp,
    };
    users_store_device_t d = {
        .device_id = q->device.device.device_id,
        .device_label = q->device.device.device_label,
        .verify_key = q->device.device.verify_key,
        .certificate = {q->device.raw, q->device.raw_len},
        .redacted_certificate = {q->rdevice.raw, q->rdevice.raw_len},
        .certifier_device__id = 0,
        .created_on = q->device.timestamp,
    };
    users_store_status st = users_store_create_user(c, org__id, limit, &u, &d, NULL, NULL);
    switch (st) {
    case USERS_STORE_OK:
        break;
    case USERS_STORE_LIMIT_REACHED:
        return rpc_refuse(ctx, proto_reply_reason("active_users_limit_reached", NULL));
    case USERS_STORE_ERROR:
        return DB_TX_ERROR;
    case USERS_STORE_USER_EXISTS:
    case USERS_STORE_HUMAN_EXISTS:
    case USERS_STORE_DEVICE_EXISTS:
    case USERS_STORE_NOT_FOUND:
        /* an organization that was never bootstrapped has no user */
        log_error("organization_bootstrap: unexpected users_store status %d", (int)st);
        return DB_TX_ERROR;
    }

    char now[PROTO_DATETIME_LEN + 1];
    proto_datetime_format(ctx->now_us, now);
    const char *values[5] = {int_param(ctx, org__id), (const char *)q->root_key, now,
                             (const char *)q->sequester.data, (const char *)q->sequester_der.data};
    int lengths[5] = {0, PROTO_KEY_SIZE, 0, (int)q->sequester.len, (int)q->sequester_der.len};
    int formats[5] = {0, 1, 0, 1, 1};
    if (!rpc_exec_bin(ctx, c, &stmt_bootstrap_set, values, lengths, formats))
        return DB_TX_ERROR;
    return rpc_ok(ctx, proto_reply("ok"));
}

static db_tx_result invalid_data(rpc_ctx_t *ctx, const char *reason)
{
    return rpc_refuse(ctx, proto_reply_reason("invalid_data", reason));
}

/* Load one certificate signed by the root key; false after setting the
 * invalid_certification reply. */
static bool load_root_certif(rpc_ctx_t *ctx, const char *field, const proto_bytes_t *b,
                             certif_type type, const uint8_t *root_key, certif_t *out)
{
    const char *why = NULL;
    if (certif_load(ctx->arena, b->data, b->len, type, root_key, NULL, out, &why) == CERTIF_OK)
        return true;
    rpc_reply(ctx,
              proto_reply_reason("invalid_certification",
                                 arena_printf(ctx->arena, "Invalid certification data (%s: %s).",
                                              field, why ? why : "refused")));
    return false;
}

/*
 * The sequester authority certificate (docs/protocol.md 3.2): signature by
 * the root key, then the payload {"type": "sequester_authority_certificate",
 * "author": null, "timestamp", "verify_key_der"} with an RSA public key in
 * DER.  Returns DB_TX_COMMIT to go on, or a refusal already replied.
 */
static db_tx_result check_sequester(rpc_ctx_t *ctx, bootstrap_req *q)
{
    const proto_bytes_t *b = &q->sequester;
    if (b->len <= CERTIF_SIGNATURE_SIZE || !certif_signature_ok(b->data, b->len, q->root_key))
        return invalid_data(ctx, "Invalid signature for sequester authority certificate");

    const char *why = NULL;
    json_object *obj = proto_json_parse(ctx->arena, b->data + CERTIF_SIGNATURE_SIZE,
                                        b->len - CERTIF_SIGNATURE_SIZE, &why);
    if (!obj)
        return invalid_data(
            ctx, arena_printf(ctx->arena, "Invalid sequester authority certificate (%s).", why));
    proto_in_t *in = proto_in_new(ctx->arena, obj, NULL);
    const char *type = NULL;
    int64_t ts = 0;
    json_object *author = NULL;
    bool author_null = json_object_object_get_ex(obj, "author", &author) && author == NULL;
    proto_has(in, "author"); /* marks it read; its value is checked above */
    proto_str(in, "type", 64, &type);
    proto_datetime(in, "timestamp", &ts);
    proto_bytes(in, "verify_key_der", SEQUESTER_KEY_DER_MAX, &q->sequester_der);
    if (!proto_in_end(in))
        return invalid_data(ctx, arena_printf(ctx->arena,
                                              "Invalid sequester authority certificate (%s).",
                                              proto_in_reason(in)));
    if (strcmp(type, "sequester_authority_certificate") != 0 || !author_null)
        return invalid_data(ctx, "Invalid sequester authority certificate (wrong type or author).");
    const unsigned char *p = q->sequester_der.data;
    EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)q->sequester_der.len);
    bool rsa = key && EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA &&
               p == q->sequester_der.data + q->sequester_der.len;
    EVP_PKEY_free(key);
    if (!rsa)
        return invalid_data(ctx, "Invalid sequester authority certificate (verify_key_der is "
                                 "not a DER RSA public key).");
    if (!proto_ballpark_ok(ctx->now_us, ts))
        return rpc_refuse(ctx,
                          proto_reply_bad_timestamp(ctx->now_us, ts, "Timestamp is out of date."));
    if (ts != q->user.timestamp)
        return invalid_data(ctx, "Device, user and sequester authority certificates must have the "
                                 "same timestamp.");
    return DB_TX_COMMIT;
}

static db_tx_result cmd_organization_bootstrap(rpc_ctx_t *ctx)
{
    bootstrap_req *q = arena_zalloc(ctx->arena, sizeof *q);
    proto_in_t *in = ctx->in;
    proto_bytes_t user, device, ruser, rdevice;
    proto_str(in, "bootstrap_token", BOOTSTRAP_TOKEN_MAX, &q->token);
    proto_bytes_n(in, "root_verify_key", PROTO_KEY_SIZE, &q->root_key);
    proto_bytes(in, "user_certificate", CERTIF_MAX_SIZE, &user);
    proto_bytes(in, "device_certificate", CERTIF_MAX_SIZE, &device);
    proto_bytes(in, "redacted_user_certificate", CERTIF_MAX_SIZE, &ruser);
    proto_bytes(in, "redacted_device_certificate", CERTIF_MAX_SIZE, &rdevice);
    if (proto_has(in, "sequester_authority_certificate"))
        proto_bytes(in, "sequester_authority_certificate", CERTIF_MAX_SIZE, &q->sequester);
    if (!proto_in_end(in))
        return rpc_bad_message(ctx);

    /* 1. the four certificates, signed by the root key, author null */
    if (!load_root_certif(ctx, "user_certificate", &user, CERTIF_USER, q->root_key, &q->user) ||
        !load_root_certif(ctx, "device_certificate", &device, CERTIF_DEVICE, q->root_key,
                          &q->device) ||
        !load_root_certif(ctx, "redacted_user_certificate", &ruser, CERTIF_USER, q->root_key,
                          &q->ruser) ||
        !load_root_certif(ctx, "redacted_device_certificate", &rdevice, CERTIF_DEVICE, q->root_key,
                          &q->rdevice))
        return DB_TX_ROLLBACK;
    /* 2-4 */
    if (q->user.user.profile != CERTIF_PROFILE_ADMIN)
        return invalid_data(ctx, "Bootstrapping user must have admin profile.");
    if (q->user.timestamp != q->device.timestamp)
        return invalid_data(ctx, "Device and user certificates must have the same timestamp.");
    const char *device_user = proto_device_id_user(ctx->arena, q->device.device.device_id);
    if (strcmp(device_user, q->user.user.user_id) != 0)
        return invalid_data(ctx, "Device and user must have the same user ID.");
    /* 5 */
    if (!proto_ballpark_ok(ctx->now_us, q->user.timestamp))
        return rpc_refuse(ctx, proto_reply_bad_timestamp(ctx->now_us, q->user.timestamp,
                                                         "Timestamp is out of date."));
    /* 6 */
    const char *why = NULL;
    if (!certif_user_redacted_ok(&q->user, &q->ruser, &why) ||
        !certif_device_redacted_ok(&q->device, &q->rdevice, &why))
        return invalid_data(ctx, why);
    /* 7 */
    if (q->sequester.data) {
        db_tx_result st = check_sequester(ctx, q);
        if (st != DB_TX_COMMIT)
            return st;
    }

    /* 8, in one transaction */
    ctx->state = q;
    db_tx_result res = rpc_tx(ctx, bootstrap_tx);
    if (res != DB_TX_COMMIT)
        return res;
    log_info("organization %s bootstrapped by %s", ctx->org.id, q->device.device.device_id);

    /* After COMMIT only; its failure is logged and changes nothing. */
    const char *url = ctx->cfg ? ctx->cfg->organization_bootstrap_webhook : NULL;
    if (url && *url)
        (void)webhook_bootstrap(url, ctx->org.id, q->device.device.device_id,
                                q->device.device.device_label, q->user.user.human_email,
                                q->user.user.human_label);
    return res;
}

/* ---------------------------------------------------------------------------
 * organization_config
 */

// clang-format off
static const db_stmt_t stmt_config = {
    "org_config",
    "SELECT user_profile_outsider_allowed, active_users_limit,"
    "    encode(sequester_authority_certificate, 'hex')"
    " FROM organization WHERE _id = $1::integer",
    1,
};

static const db_stmt_t stmt_sequester_services = {
    "org_sequester_services",
    "SELECT encode(service_certificate, 'hex') FROM sequester_service"
    " WHERE organization = $1::integer AND disabled_on IS NULL"
    " ORDER BY created_on, _id",
    1,
};
// clang-format on

/* A hex-encoded bytea column as a JSON Bytes value. */
static json_object *hex_bytes(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return NULL;
    const char *hex = PQgetvalue(res, row, col);
    size_t n = 0;
    uint8_t *raw = crypto_hex_decode(hex, strlen(hex), &n);
    json_object *o = raw ? proto_json_bytes(raw, n) : NULL;
    free(raw);
    return o;
}

static db_tx_result config_tx(rpc_ctx_t *ctx, db_conn_t *c)
{
    const char *values[1] = {int_param(ctx, ctx->org._id)};
    PGresult *res = rpc_exec(ctx, c, &stmt_config, values);
    if (!res)
        return DB_TX_ERROR;
    if (PQntuples(res) != 1)
        return rpc_refuse(ctx, proto_reply("not_found"));
    json_object *o = proto_reply("ok");
    json_object_object_add(o, "user_profile_outsider_allowed",
                           json_object_new_boolean(PQgetvalue(res, 0, 0)[0] == 't'));
    json_object_object_add(
        o, "active_users_limit",
        PQgetisnull(res, 0, 1) ? NULL : json_object_new_int64(atoll(PQgetvalue(res, 0, 1))));
    bool sequestered = !PQgetisnull(res, 0, 2);
    json_object_object_add(o, "sequester_authority_certificate", hex_bytes(res, 0, 2));
    json_object *services = NULL;
    if (sequestered) {
        PGresult *sres = rpc_exec(ctx, c, &stmt_sequester_services, values);
        if (!sres) {
            json_object_put(o);
            return DB_TX_ERROR;
        }
        services = json_object_new_array();
        for (int i = 0; i < PQntuples(sres); i++)
            json_object_array_add(services, hex_bytes(sres, i, 0));
    }
    json_object_object_add(o, "sequester_services_certificates", services);
    return rpc_ok(ctx, o);
}

static db_tx_result cmd_organization_config(rpc_ctx_t *ctx)
{
    if (!proto_in_end(ctx->in))
        return rpc_bad_message(ctx);
    return rpc_tx(ctx, config_tx);
}

/* ---------------------------------------------------------------------------
 * organization_stats
 */

// clang-format off
/* The administration API's figures (fcgi-api/admin.c) for one organization,
 * now: blocks not deleted, every stored vlob version, revoked = revoked_on
 * set. */
static const db_stmt_t stmt_stats = {
    "org_stats",
    "SELECT"
    "  (SELECT COALESCE(SUM(b.size), 0) FROM block b WHERE b.organization = $1::integer"
    "     AND (b.deleted_on IS NULL OR b.deleted_on > now())),"
    "  (SELECT COALESCE(SUM(a.size), 0) FROM vlob_atom a JOIN vlob v ON v._id = a.vlob"
    "     WHERE v.organization = $1::integer),"
    "  (SELECT COUNT(*) FROM realm m WHERE m.organization = $1::integer),"
    "  COUNT(*) FILTER (WHERE u.profile = 'ADMIN' AND u.revoked_on IS NULL),"
    "  COUNT(*) FILTER (WHERE u.profile = 'ADMIN' AND u.revoked_on IS NOT NULL),"
    "  COUNT(*) FILTER (WHERE u.profile = 'STANDARD' AND u.revoked_on IS NULL),"
    "  COUNT(*) FILTER (WHERE u.profile = 'STANDARD' AND u.revoked_on IS NOT NULL),"
    "  COUNT(*) FILTER (WHERE u.profile = 'OUTSIDER' AND u.revoked_on IS NULL),"
    "  COUNT(*) FILTER (WHERE u.profile = 'OUTSIDER' AND u.revoked_on IS NOT NULL)"
    " FROM user_ u WHERE u.organization = $1::integer",
    1,
};
// clang-format on

static db_tx_result stats_tx(rpc_ctx_t *ctx, db_conn_t *c)
{
    static const char *const profiles[3] = {"ADMIN", "STANDARD", "OUTSIDER"};
    const char *values[1] = {int_param(ctx, ctx->org._id)};
    PGresult *res = rpc_exec(ctx, c, &stmt_stats, values);
    if (!res)
        return DB_TX_ERROR;
    if (PQntuples(res) != 1)
        return rpc_refuse(ctx, proto_reply("not_found"));
    int64_t users = 0, active = 0;
    json_object *detail = json_object_new_array();
    for (int p = 0; p < 3; p++) {
        int64_t a = atoll(PQgetvalue(res, 0, 3 + 2 * p));
        int64_t r = atoll(PQgetvalue(res, 0, 4 + 2 * p));
        users += a + r;
        active += a;
        json_object *item = json_object_new_object();
        json_object_object_add(item, "profile", json_object_new_string(profiles[p]));
        json_object_object_add(item, "active", json_object_new_int64(a));
        json_object_object_add(item, "revoked", json_object_new_int64(r));
        json_object_array_add(detail, item);
    }
    json_object *o = proto_reply("ok");
    json_object_object_add(o, "data_size", json_object_new_int64(atoll(PQgetvalue(res, 0, 0))));
    json_object_object_add(o, "metadata_size", json_object_new_int64(atoll(PQgetvalue(res, 0, 1))));
    json_object_object_add(o, "realms", json_object_new_int64(atoll(PQgetvalue(res, 0, 2))));
    json_object_object_add(o, "users", json_object_new_int64(users));
    json_object_object_add(o, "active_users", json_object_new_int64(active));
    json_object_object_add(o, "users_per_profile_detail", detail);
    return rpc_ok(ctx, o);
}

static db_tx_result cmd_organization_stats(rpc_ctx_t *ctx)
{
    /* before reading the request, as Parsec */
    if (!rpc_is_admin(ctx))
        return rpc_not_allowed(ctx,
                               arena_printf(ctx->arena, "User `%s` is not admin", ctx->user.id));
    if (!proto_in_end(ctx->in))
        return rpc_bad_message(ctx);
    return rpc_tx(ctx, stats_tx);
}

const rpc_command_t rpc_cmds_organization[] = {
    {"ping", RPC_ANONYMOUS | RPC_INVITED | RPC_AUTHENTICATED, cmd_ping},
    {"organization_bootstrap", RPC_ANONYMOUS, cmd_organization_bootstrap},
    {"organization_config", RPC_AUTHENTICATED, cmd_organization_config},
    {"organization_stats", RPC_AUTHENTICATED, cmd_organization_stats},
    {NULL, 0, NULL},
};
