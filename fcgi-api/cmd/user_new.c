/*
 * fcgi-api/cmd/user_new.c - a new user with its first device (see
 * user_new.h)
 */
#include "user_new.h"

#include "log.h"

#include <string.h>

const char *const user_new_fields[4] = {"user_certificate", "device_certificate",
                                        "redacted_user_certificate", "redacted_device_certificate"};

void user_new_read(cmd_t *cmd, proto_bytes_t raw[4])
{
    for (int i = 0; i < 4; i++)
        proto_bytes(cmd->in, user_new_fields[i], CERTIF_MAX_SIZE, &raw[i]);
}

cmd_result user_new_check(cmd_t *cmd, const proto_bytes_t raw[4], user_new_t *out)
{
    memset(out, 0, sizeof *out);
    certif_t *c[4] = {&out->user, &out->device, &out->ruser, &out->rdevice};
    const certif_type types[4] = {CERTIF_USER, CERTIF_DEVICE, CERTIF_USER, CERTIF_DEVICE};
    for (int i = 0; i < 4; i++)
        if (!cmd_certif(cmd, user_new_fields[i], &raw[i], types[i], c[i]))
            return CMD_REFUSED;
    if (out->user.timestamp != out->device.timestamp)
        return cmd_refuse_reason(cmd, "invalid_data",
                                 "Device and User certificates must have the same timestamp.");
    if (!proto_ballpark_ok(cmd->now_us, out->user.timestamp))
        return cmd_refuse_reason(cmd, "invalid_certification", "Invalid timestamp in certificate.");
    if (strcmp(proto_device_id_user(cmd->arena, out->device.device.device_id),
               out->user.user.user_id) != 0)
        return cmd_refuse_reason(cmd, "invalid_data",
                                 "Device and User must have the same user ID.");
    const char *why;
    if (!certif_user_redacted_ok(&out->user, &out->ruser, &why) ||
        !certif_device_redacted_ok(&out->device, &out->rdevice, &why))
        return cmd_refuse_reason(cmd, "invalid_data", why);
    out->n =
        (user_db_new_t){&out->user, &out->ruser, &out->device, &out->rdevice, cmd->who->device._id};
    return CMD_OK;
}

cmd_result user_new_refuse(cmd_t *cmd, user_db_status st, const user_db_new_t *n, bool with_reason)
{
    switch (st) {
    case USER_DB_LIMIT_REACHED:
        return cmd_refuse_reason(cmd, "active_users_limit_reached", NULL);
    case USER_DB_USER_EXISTS:
    case USER_DB_HUMAN_EXISTS:
    case USER_DB_DEVICE_EXISTS:
        return cmd_refuse_reason(cmd, "already_exists",
                                 with_reason ? user_db_reason(cmd, st, n) : "");
    case USER_DB_NOT_FOUND:
        /* the organization row of an authenticated request vanished:
         * organizations are never deleted, so this is a server fault */
        log_error("%s: organization row not found under lock", cmd->name);
        return cmd_fail(cmd);
    case USER_DB_OK:
    case USER_DB_ALREADY_REVOKED:
        break;
    }
    return cmd_fail(cmd);
}

cmd_result user_new_lock(cmd_t *cmd, user_new_org_t *org)
{
    user_db_status st =
        user_db_lock_org(cmd, cmd->who->org._id, &org->limit, &org->outsider_allowed);
    return st == USER_DB_OK ? CMD_OK : user_new_refuse(cmd, st, NULL, true);
}

cmd_result user_new_create(cmd_t *cmd, const user_new_org_t *org, user_new_t *nu, bool with_reason)
{
    if (nu->user.user.profile == CERTIF_PROFILE_OUTSIDER && !org->outsider_allowed)
        return cmd_not_allowed(cmd, "Outsider profile is not allowed in this organization");
    user_db_status st = user_db_create_user(cmd, cmd->who->org._id, org->limit, &nu->n);
    if (st != USER_DB_OK)
        return user_new_refuse(cmd, st, &nu->n, with_reason);
    log_info("%s: user %s, device %s", cmd->name, nu->user.user.user_id,
             nu->device.device.device_id);
    return CMD_OK;
}
