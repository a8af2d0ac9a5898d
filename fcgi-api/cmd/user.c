/*
 * fcgi-api/cmd/user.c - the user and device commands: user_create,
 * device_create, user_revoke, user_get, human_find
 *
 * docs/protocol.md (section 6.3) is the contract; section 3 of
 * parsec-2.12-behaviour.md the behaviour followed, with Part 1's changes:
 * user_profile_outsider_allowed is enforced by user_create.  Their SQL is
 * user_db.c; their tests tests/integration/test_cmd_user*.c and
 * test_human_find.c.
 *
 * Every check that needs no database (fields, certificates and their
 * signatures, ballpark, consistency) runs first, in the order of the
 * contract; creations then take the organization's lock, so two concurrent
 * creations cannot both pass the active-users limit or the unique-email
 * check.
 */
#include "cmd.h"
#include "event.h"
#include "log.h"
#include "user_db.h"
#include "user_new.h"

#include <string.h>

/* ---------------------------------------------------------------------------
 * user_create (ADMIN)
 */

static cmd_result user_create(cmd_t *cmd)
{
    proto_bytes_t raw[4];
    user_new_read(cmd, raw);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);
    user_new_t nu;
    if (user_new_check(cmd, raw, &nu) != CMD_OK)
        return CMD_REFUSED;
    /* The lock first: the organization's settings are read under it, so an
     * administrator's change is either before or after this creation. */
    user_new_org_t org;
    cmd_result r = user_new_lock(cmd, &org);
    if (r == CMD_OK)
        r = user_new_create(cmd, &org, &nu, true);
    return r == CMD_OK ? cmd_ok_status(cmd) : r;
}

/* ---------------------------------------------------------------------------
 * device_create (any profile, for its own user)
 */

static cmd_result device_create(cmd_t *cmd)
{
    proto_bytes_t db, rdb;
    proto_bytes(cmd->in, "device_certificate", CERTIF_MAX_SIZE, &db);
    proto_bytes(cmd->in, "redacted_device_certificate", CERTIF_MAX_SIZE, &rdb);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);

    certif_t device, rdevice;
    if (!cmd_certif(cmd, "device_certificate", &db, CERTIF_DEVICE, &device) ||
        !cmd_certif(cmd, "redacted_device_certificate", &rdb, CERTIF_DEVICE, &rdevice))
        return CMD_REFUSED;
    if (!proto_ballpark_ok(cmd->now_us, device.timestamp))
        return cmd_refuse_reason(cmd, "invalid_certification",
                                 "Invalid timestamp in certification.");
    if (strcmp(proto_device_id_user(cmd->arena, device.device.device_id), cmd->who->user.id) != 0)
        return cmd_refuse_reason(cmd, "bad_user_id", "Device must be handled by it own user.");
    const char *why;
    if (!certif_device_redacted_ok(&device, &rdevice, &why))
        return cmd_refuse_reason(cmd, "invalid_data", why);

    int64_t org = cmd->who->org._id;
    user_db_new_t n = {NULL, NULL, &device, &rdevice, cmd->who->device._id};
    user_db_status st = user_db_lock_org(cmd, org, NULL, NULL);
    if (st == USER_DB_OK)
        st = user_db_create_device(cmd, org, cmd->who->user._id, &n);
    if (st != USER_DB_OK)
        return user_new_refuse(cmd, st, &n, true);
    log_info("device_create: device %s", device.device.device_id);
    return cmd_ok_status(cmd);
}

/* ---------------------------------------------------------------------------
 * user_revoke (ADMIN)
 */

static cmd_result user_revoke(cmd_t *cmd)
{
    proto_bytes_t raw;
    proto_bytes(cmd->in, "revoked_user_certificate", CERTIF_MAX_SIZE, &raw);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);

    certif_t rc;
    if (!cmd_certif(cmd, "revoked_user_certificate", &raw, CERTIF_REVOKED_USER, &rc))
        return CMD_REFUSED;
    if (!proto_ballpark_ok(cmd->now_us, rc.timestamp))
        return cmd_refuse_reason(cmd, "invalid_certification",
                                 "Invalid timestamp in certification.");
    const char *user_id = rc.revoked_user.user_id;
    if (strcmp(user_id, cmd->who->user.id) == 0)
        return cmd_not_allowed(cmd, "Cannot do self-revocation");

    switch (user_db_revoke(cmd, cmd->who->org._id, &rc, cmd->who->device._id)) {
    case USER_DB_NOT_FOUND:
        return cmd_refuse(cmd, "not_found");
    case USER_DB_ALREADY_REVOKED:
        return cmd_refuse_reason(cmd, "already_revoked",
                                 arena_printf(cmd->arena, "User `%s` already revoked", user_id));
    default:
        break;
    }
    /* In the same transaction: notifyd closes the user's websockets only if
     * the revocation commits. */
    if (!event_publish_user_revoked(cmd_conn(cmd), cmd->who->org.id, cmd->who->device.id, user_id))
        return cmd_fail(cmd);
    log_info("user_revoke: user %s", user_id);
    return cmd_ok_status(cmd);
}

/* ---------------------------------------------------------------------------
 * user_get
 */

static json_object *certs_json(const user_db_certs_t *l)
{
    json_object *a = json_object_new_array_ext((int)l->n);
    for (size_t i = 0; i < l->n; i++)
        json_object_array_add(a, proto_json_bytes(l->items[i].data, l->items[i].len));
    return a;
}

static cmd_result user_get(cmd_t *cmd)
{
    const char *user_id;
    proto_user_id(cmd->in, "user_id", &user_id);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);

    /* OUTSIDERs see no human handle nor device label of anyone: the
     * redacted certificates everywhere, trustchain included. */
    bool redacted = cmd->who->user.profile == CERTIF_PROFILE_OUTSIDER;
    user_db_user_t u;
    if (user_db_get(cmd, cmd->who->org._id, user_id, redacted, &u) != USER_DB_OK)
        return cmd_refuse(cmd, "not_found");

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
    return cmd_ok(cmd, reply);
}

/* ---------------------------------------------------------------------------
 * human_find (not OUTSIDER)
 */

static cmd_result human_find(cmd_t *cmd)
{
    user_db_find_t q = {0};
    if (proto_has(cmd->in, "query"))
        proto_str(cmd->in, "query", USER_DB_FIND_QUERY_MAX, &q.query);
    proto_bool(cmd->in, "omit_revoked", &q.omit_revoked);
    proto_bool(cmd->in, "omit_non_human", &q.omit_non_human);
    proto_int(cmd->in, "page", 1, USER_DB_FIND_PAGE_MAX, &q.page);
    proto_int(cmd->in, "per_page", 1, USER_DB_FIND_PER_PAGE_MAX, &q.per_page);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);

    int64_t total;
    user_db_found_t *found;
    size_t n;
    user_db_find(cmd, cmd->who->org._id, &q, &total, &found, &n);

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
    return cmd_ok(cmd, reply);
}

const cmd_def_t cmd_family_user[] = {
    {"user_create", AUTH_AUTHENTICATED, CMD_ADMIN, CMD_TRANSACTION, user_create},
    {"device_create", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_TRANSACTION, device_create},
    {"user_revoke", AUTH_AUTHENTICATED, CMD_ADMIN, CMD_TRANSACTION, user_revoke},
    {"user_get", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_ONE_STATEMENT, user_get},
    {"human_find", AUTH_AUTHENTICATED, CMD_NOT_OUTSIDER, CMD_ONE_STATEMENT, human_find},
    {0},
};
