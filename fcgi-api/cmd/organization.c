/*
 * fcgi-api/cmd/organization.c - ping, organization_bootstrap,
 * organization_config, organization_stats
 *
 * docs/protocol.md section 6 is the contract (fields, statuses, order of
 * checks); parsec-2.12-behaviour.md sections 1 and 9.5 the behaviour they
 * come from.  Their SQL is organization_db.c; their tests
 * tests/integration/test_cmd_organization.c.
 */
#include "cmd.h"
#include "crypto.h"
#include "event.h"
#include "log.h"
#include "organization_db.h"
#include "sequester.h"
#include "user_db.h"
#include "webhook.h"

#include <openssl/evp.h>
#include <string.h>

/* ping: at most this many bytes, so the "pinged" event fits a NOTIFY. */
#define PING_MAX 1024
/* bootstrap_token: the administration API makes 64 hex characters. */
#define BOOTSTRAP_TOKEN_MAX 64

/* ---------------------------------------------------------------------------
 * ping (all three routes)
 */

static cmd_result ping(cmd_t *cmd)
{
    const char *ping;
    proto_str(cmd->in, "ping", PING_MAX, &ping);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);
    /* Only an authenticated ping is an event (Parsec's rule).  It belongs to
     * no transaction, so it goes to the worker's batch, published with
     * others in one commit, rather than costing a commit of its own; when
     * the batch cannot take it, it is published here, never lost. */
    if (cmd->who->route == AUTH_AUTHENTICATED) {
        event_t ev = {.type = EVENT_PINGED,
                      .org = cmd->who->org.id,
                      .author = cmd->who->device.id,
                      .ping = ping};
        if (!event_post(&ev) && !event_publish(cmd_conn(cmd), &ev))
            return cmd_fail(cmd);
    }
    json_object *o = proto_reply("ok");
    json_object_object_add(o, "pong", json_object_new_string(ping));
    return cmd_ok(cmd, o);
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

static cmd_result invalid_data(cmd_t *cmd, const char *reason)
{
    return cmd_refuse_reason(cmd, "invalid_data", reason);
}

/*
 * The sequester authority certificate (docs/protocol.md 3.2): signature by
 * the root key, then the payload {"type": "sequester_authority_certificate",
 * "author": null, "timestamp", "verify_key_der"} with an RSA public key in
 * DER.  Returns CMD_OK to go on, or a refusal already replied.
 */
static cmd_result check_sequester(cmd_t *cmd, bootstrap_req *q)
{
    const proto_bytes_t *b = &q->sequester;
    if (b->len <= CERTIF_SIGNATURE_SIZE || !certif_signature_ok(b->data, b->len, q->root_key))
        return invalid_data(cmd, "Invalid signature for sequester authority certificate");

    const char *why = NULL;
    json_object *obj = proto_json_parse(cmd->arena, b->data + CERTIF_SIGNATURE_SIZE,
                                        b->len - CERTIF_SIGNATURE_SIZE, &why);
    if (!obj)
        return invalid_data(
            cmd, arena_printf(cmd->arena, "Invalid sequester authority certificate (%s).", why));
    proto_in_t *in = proto_in_new(cmd->arena, obj, NULL);
    const char *type = NULL;
    int64_t ts = 0;
    json_object *author = NULL;
    bool author_null = json_object_object_get_ex(obj, "author", &author) && author == NULL;
    proto_has(in, "author"); /* marks it read; its value is checked above */
    proto_str(in, "type", 64, &type);
    proto_datetime(in, "timestamp", &ts);
    proto_bytes(in, "verify_key_der", SEQUESTER_KEY_INPUT_MAX, &q->sequester_der);
    if (!proto_in_end(in))
        return invalid_data(cmd, arena_printf(cmd->arena,
                                              "Invalid sequester authority certificate (%s).",
                                              proto_in_reason(in)));
    if (strcmp(type, "sequester_authority_certificate") != 0 || !author_null)
        return invalid_data(cmd, "Invalid sequester authority certificate (wrong type or author).");
    /* Parsec's loader takes more than DER SubjectPublicKeyInfo (15.2);
     * what is stored is always that form. */
    const char *kwhy = NULL;
    EVP_PKEY *key = sequester_public_key_load(q->sequester_der.data, q->sequester_der.len, &kwhy);
    uint8_t *der = NULL;
    size_t der_len = key ? sequester_key_der(key, &der) : 0;
    EVP_PKEY_free(key);
    if (der_len == 0 || der_len > SEQUESTER_KEY_DER_MAX) {
        OPENSSL_free(der);
        return invalid_data(cmd, "Invalid sequester authority certificate (verify_key_der is "
                                 "not an RSA public key).");
    }
    q->sequester_der.data = arena_memdup(cmd->arena, der, der_len);
    q->sequester_der.len = der_len;
    OPENSSL_free(der);
    if (!proto_ballpark_ok(cmd->now_us, ts))
        return cmd_bad_timestamp(cmd, ts);
    if (ts != q->user.timestamp)
        return invalid_data(cmd, "Device, user and sequester authority certificates must have the "
                                 "same timestamp.");
    return CMD_OK;
}

static cmd_result organization_bootstrap(cmd_t *cmd)
{
    bootstrap_req q = {0};
    proto_in_t *in = cmd->in;
    proto_bytes_t user, device, ruser, rdevice;
    proto_str(in, "bootstrap_token", BOOTSTRAP_TOKEN_MAX, &q.token);
    proto_bytes_n(in, "root_verify_key", PROTO_KEY_SIZE, &q.root_key);
    proto_bytes(in, "user_certificate", CERTIF_MAX_SIZE, &user);
    proto_bytes(in, "device_certificate", CERTIF_MAX_SIZE, &device);
    proto_bytes(in, "redacted_user_certificate", CERTIF_MAX_SIZE, &ruser);
    proto_bytes(in, "redacted_device_certificate", CERTIF_MAX_SIZE, &rdevice);
    if (proto_has(in, "sequester_authority_certificate"))
        proto_bytes(in, "sequester_authority_certificate", CERTIF_MAX_SIZE, &q.sequester);
    if (!proto_in_end(in))
        return cmd_bad_message(cmd);

    /* 1. the four certificates, signed by the root key, author null */
    if (!cmd_certif_root(cmd, "user_certificate", &user, CERTIF_USER, q.root_key, &q.user) ||
        !cmd_certif_root(cmd, "device_certificate", &device, CERTIF_DEVICE, q.root_key,
                         &q.device) ||
        !cmd_certif_root(cmd, "redacted_user_certificate", &ruser, CERTIF_USER, q.root_key,
                         &q.ruser) ||
        !cmd_certif_root(cmd, "redacted_device_certificate", &rdevice, CERTIF_DEVICE, q.root_key,
                         &q.rdevice))
        return CMD_REFUSED;
    /* 2-4 */
    if (q.user.user.profile != CERTIF_PROFILE_ADMIN)
        return invalid_data(cmd, "Bootstrapping user must have admin profile.");
    if (q.user.timestamp != q.device.timestamp)
        return invalid_data(cmd, "Device and user certificates must have the same timestamp.");
    if (strcmp(proto_device_id_user(cmd->arena, q.device.device.device_id), q.user.user.user_id) !=
        0)
        return invalid_data(cmd, "Device and user must have the same user ID.");
    /* 5 */
    if (!proto_ballpark_ok(cmd->now_us, q.user.timestamp))
        return cmd_bad_timestamp(cmd, q.user.timestamp);
    /* 6 */
    const char *why = NULL;
    if (!certif_user_redacted_ok(&q.user, &q.ruser, &why) ||
        !certif_device_redacted_ok(&q.device, &q.rdevice, &why))
        return invalid_data(cmd, why);
    /* 7 */
    if (q.sequester.data && check_sequester(cmd, &q) != CMD_OK)
        return CMD_REFUSED;

    /* 8, in one transaction */
    const auth_org_t *org = &cmd->who->org;
    const cfg_t *cfg = cmd->cfg;
    if (!org->exists) /* only reached under spontaneous bootstrap (rpc.c) */
        organization_db_spontaneous_create(
            cmd, org->id, cfg ? cfg->organization_initial_active_users_limit : -1,
            !cfg || cfg->organization_initial_user_profile_outsider_allowed);
    organization_db_boot_t boot;
    if (!organization_db_boot_lock(cmd, org->id, &boot))
        return cmd_refuse_reason(cmd, "not_found", NULL);
    if (boot.expired) /* expired since the dispatcher looked */
        return cmd_refuse(cmd, "expired_organization");
    /* Before the token, as Parsec: a used token is no secret worth guarding. */
    if (boot.bootstrapped)
        return cmd_refuse_reason(cmd, "already_bootstrapped", NULL);
    if (!crypto_str_equal(q.token, boot.bootstrap_token)) {
        log_info("organization_bootstrap: wrong bootstrap token");
        return cmd_refuse_reason(cmd, "not_found", NULL);
    }
    user_db_new_t n = {&q.user, &q.ruser, &q.device, &q.rdevice, 0};
    switch (user_db_create_user(cmd, boot._id, boot.active_users_limit, &n)) {
    case USER_DB_OK:
        break;
    case USER_DB_LIMIT_REACHED: /* active_users_limit 0: Parsec's internal error, Part 1 #8 */
        return cmd_refuse_reason(cmd, "active_users_limit_reached", NULL);
    default:
        /* an organization that was never bootstrapped has no user */
        log_error("organization_bootstrap: a never bootstrapped organization holds users");
        return cmd_fail(cmd);
    }
    organization_db_boot_set(cmd, boot._id, q.root_key, cmd->now_us, &q.sequester,
                             &q.sequester_der);

    cmd_result r = cmd_commit(cmd);
    if (r != CMD_OK)
        return r;
    log_info("organization %s bootstrapped by %s", org->id, q.device.device.device_id);
    /* After COMMIT, the connection given back: its failure is logged and
     * changes nothing, and its wait holds no database connection. */
    const char *url = cfg ? cfg->organization_bootstrap_webhook : NULL;
    if (url && *url)
        (void)webhook_bootstrap(url, org->id, q.device.device.device_id,
                                q.device.device.device_label, q.user.user.human_email,
                                q.user.user.human_label);
    return cmd_ok_status(cmd);
}

/* ---------------------------------------------------------------------------
 * organization_config
 */

static cmd_result organization_config(cmd_t *cmd)
{
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);
    organization_db_config_t c;
    if (!organization_db_config(cmd, cmd->who->org._id, &c))
        return cmd_refuse(cmd, "not_found");
    json_object *o = proto_reply("ok");
    json_object_object_add(o, "user_profile_outsider_allowed",
                           json_object_new_boolean(c.outsider_allowed));
    json_object_object_add(o, "active_users_limit",
                           c.active_users_limit < 0 ? NULL
                                                    : json_object_new_int64(c.active_users_limit));
    json_object *services = NULL;
    if (c.sequester_authority.data) {
        services = json_object_new_array();
        for (size_t i = 0; i < c.n_services; i++)
            json_object_array_add(services,
                                  proto_json_bytes(c.services[i].data, c.services[i].len));
    }
    json_object_object_add(o, "sequester_authority_certificate",
                           c.sequester_authority.data ? proto_json_bytes(c.sequester_authority.data,
                                                                         c.sequester_authority.len)
                                                      : NULL);
    json_object_object_add(o, "sequester_services_certificates", services);
    return cmd_ok(cmd, o);
}

/* ---------------------------------------------------------------------------
 * organization_stats (ADMIN)
 */

static cmd_result organization_stats(cmd_t *cmd)
{
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);
    organization_stats_t *s;
    size_t n;
    if (!organization_db_stats(cmd_conn(cmd), cmd->arena, cmd->who->org.id, NULL, &s, &n))
        return cmd_fail(cmd);
    if (n != 1)
        return cmd_refuse(cmd, "not_found");
    json_object *o = proto_reply("ok");
    organization_stats_add(o, s, false);
    return cmd_ok(cmd, o);
}

const cmd_def_t cmd_family_organization[] = {
    {"ping", AUTH_ANONYMOUS | AUTH_INVITED | AUTH_AUTHENTICATED, CMD_ANYONE, CMD_ONE_STATEMENT,
     ping},
    {"organization_bootstrap", AUTH_ANONYMOUS, CMD_ANYONE, CMD_TRANSACTION, organization_bootstrap},
    {"organization_config", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_ONE_STATEMENT, organization_config},
    {"organization_stats", AUTH_AUTHENTICATED, CMD_ADMIN, CMD_ONE_STATEMENT, organization_stats},
    {0},
};
