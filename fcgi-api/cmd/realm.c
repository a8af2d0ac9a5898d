/*
 * fcgi-api/cmd/realm.c - the realm commands: realm_create, realm_status,
 * realm_stats, realm_get_role_certificates, realm_update_roles,
 * realm_start_reencryption_maintenance, realm_finish_reencryption_maintenance
 *
 * docs/protocol.md (section 6.3, "Realms, vlobs and messages") is the
 * contract; sections 2.3, 5 and 8 of parsec-2.12-behaviour.md the behaviour
 * followed, with section 9's choices.  Their SQL is realm_db.c (messages:
 * message_db.c); their tests tests/integration/test_cmd_realm*.c.
 *
 * A command that changes a realm runs its checks that need no database
 * first (fields, certificate, ballpark), then takes the realm's lock, reads
 * what it checks in one statement, decides in the contract's order, writes,
 * and publishes its events in the contract's order, all in one transaction.
 */
#include "cmd.h"
#include "event.h"
#include "log.h"
#include "message_db.h"
#include "realm_db.h"

#include <stdint.h>
#include <string.h>

/* Ranges of docs/protocol.md. */
#define REVISION_MAX     INT64_C(2147483647)
#define PARTICIPANTS_MAX 10000

/* ---------------------------------------------------------------------------
 * Events: one function per event type, the only place the command
 * publishes it (common/event.h's typed publishers)
 */

/* realm.roles_updated: to every device of user_id (notifyd also updates
 * their connections' realm sets from it). */
static bool publish_roles_updated(cmd_t *cmd, const uint8_t realm_id[16], const char *user_id,
                                  certif_role role)
{
    static const event_realm_role map[] = {
        [CERTIF_ROLE_NONE] = EVENT_ROLE_NONE,
        [CERTIF_ROLE_OWNER] = EVENT_ROLE_OWNER,
        [CERTIF_ROLE_MANAGER] = EVENT_ROLE_MANAGER,
        [CERTIF_ROLE_CONTRIBUTOR] = EVENT_ROLE_CONTRIBUTOR,
        [CERTIF_ROLE_READER] = EVENT_ROLE_READER,
    };
    return event_publish_realm_roles_updated(cmd_conn(cmd), cmd->who->org.id, cmd->who->device.id,
                                             realm_id, user_id, map[role]);
}

/* realm.maintenance_started: to the realm's members but this device. */
static bool publish_maintenance_started(cmd_t *cmd, const uint8_t realm_id[16], int64_t revision)
{
    return event_publish_realm_maintenance_started(cmd_conn(cmd), cmd->who->org.id,
                                                   cmd->who->device.id, realm_id, revision);
}

/* realm.maintenance_finished: likewise. */
static bool publish_maintenance_finished(cmd_t *cmd, const uint8_t realm_id[16], int64_t revision)
{
    return event_publish_realm_maintenance_finished(cmd_conn(cmd), cmd->who->org.id,
                                                    cmd->who->device.id, realm_id, revision);
}

/* message.received: to every device of the recipient, the sender's own
 * devices included (Parsec's rule). */
static bool publish_message_received(cmd_t *cmd, const char *recipient, int64_t index)
{
    return event_publish_message_received(cmd_conn(cmd), cmd->who->org.id, cmd->who->device.id,
                                          recipient, index);
}

/* Deliver msgs (from the caller, dated timestamp), then their events in
 * the same order.  False on failure (the command answers 500). */
static bool deliver(cmd_t *cmd, int64_t timestamp, const message_db_new_t *msgs, size_t n)
{
    message_db_sent_t *sent;
    size_t k =
        message_db_deliver(cmd, cmd->who->org._id, cmd->who->device._id, timestamp, msgs, n, &sent);
    if (k != n && !cmd_failed(cmd)) {
        /* every recipient was checked under the realm's lock */
        log_error("%s: %zu of %zu messages delivered", cmd->name, k, n);
        cmd_fail(cmd);
    }
    for (size_t i = 0; i < k && !cmd_failed(cmd); i++)
        if (!publish_message_received(cmd, sent[i].user_id, sent[i].index))
            cmd_fail(cmd);
    return !cmd_failed(cmd);
}

/* ---------------------------------------------------------------------------
 * Shared checks
 */

static const char *realm_not_found_reason(cmd_t *cmd, const proto_uuid_t *realm_id)
{
    return arena_printf(cmd->arena, "Realm `%s` doesn't exist", realm_id->hex);
}

static cmd_result realm_not_found(cmd_t *cmd, const proto_uuid_t *realm_id)
{
    return cmd_refuse_reason(cmd, "not_found", realm_not_found_reason(cmd, realm_id));
}

/* A role certificate signed by the caller, within the ballpark: CMD_OK to
 * go on. */
static cmd_result load_role_certificate(cmd_t *cmd, const proto_bytes_t *raw, certif_t *c)
{
    if (!cmd_certif(cmd, "role_certificate", raw, CERTIF_REALM_ROLE, c))
        return CMD_REFUSED;
    if (!proto_ballpark_ok(cmd->now_us, c->timestamp))
        return cmd_bad_timestamp(cmd, c->timestamp);
    return CMD_OK;
}

/* Answer a read's access refusal; CMD_OK when allowed. */
static cmd_result read_refusal(cmd_t *cmd, realm_db_read st, const proto_uuid_t *realm_id)
{
    switch (st) {
    case REALM_DB_READ_NOT_FOUND:
        return realm_not_found(cmd, realm_id);
    case REALM_DB_READ_NO_ROLE:
        return cmd_refuse(cmd, "not_allowed");
    case REALM_DB_READ_OK:
        break;
    }
    return CMD_OK;
}

/* ---------------------------------------------------------------------------
 * realm_create (any profile)
 */

static cmd_result realm_create(cmd_t *cmd)
{
    proto_bytes_t raw;
    proto_bytes(cmd->in, "role_certificate", CERTIF_MAX_SIZE, &raw);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);
    certif_t c;
    cmd_result r = load_role_certificate(cmd, &raw, &c);
    if (r != CMD_OK)
        return r;
    if (strcmp(c.realm_role.user_id, cmd->who->user.id) != 0)
        return cmd_refuse_reason(cmd, "invalid_data",
                                 "Initial realm role certificate must be self-signed.");
    if (c.realm_role.role != CERTIF_ROLE_OWNER)
        return cmd_refuse_reason(cmd, "invalid_data",
                                 "Initial realm role certificate must set OWNER role.");

    if (!realm_db_create(cmd, cmd->who->org._id, &c, cmd->who->user._id, cmd->who->device._id))
        return cmd_refuse(cmd, "already_exists");
    if (!publish_roles_updated(cmd, c.realm_role.realm_id.bytes, cmd->who->user.id,
                               CERTIF_ROLE_OWNER))
        return cmd_fail(cmd);
    log_info("realm_create: realm %s", c.realm_role.realm_id.hex);
    return cmd_ok_status(cmd);
}

/* ---------------------------------------------------------------------------
 * realm_status, realm_stats, realm_get_role_certificates (a role)
 */

static cmd_result realm_status(cmd_t *cmd)
{
    proto_uuid_t realm_id;
    proto_uuid(cmd->in, "realm_id", &realm_id);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);
    realm_db_status_t s;
    cmd_result r = read_refusal(
        cmd, realm_db_status(cmd, cmd->who->org._id, &realm_id, cmd->who->user._id, &s), &realm_id);
    if (r != CMD_OK)
        return r;
    bool in = s.maintenance != REALM_DB_NO_MAINTENANCE;
    json_object *reply = proto_reply("ok");
    json_object_object_add(reply, "in_maintenance", json_object_new_boolean(in));
    json_object_object_add(reply, "maintenance_type",
                           proto_json_str_or_null(realm_db_maintenance_name(s.maintenance)));
    json_object_object_add(reply, "maintenance_started_on",
                           in ? proto_json_datetime(s.started_on) : NULL);
    json_object_object_add(reply, "maintenance_started_by",
                           proto_json_str_or_null(in ? s.started_by : NULL));
    json_object_object_add(reply, "encryption_revision", json_object_new_int64(s.revision));
    return cmd_ok(cmd, reply);
}

static cmd_result realm_stats(cmd_t *cmd)
{
    proto_uuid_t realm_id;
    proto_uuid(cmd->in, "realm_id", &realm_id);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);
    int64_t blocks, vlobs;
    cmd_result r = read_refusal(
        cmd, realm_db_stats(cmd, cmd->who->org._id, &realm_id, cmd->who->user._id, &blocks, &vlobs),
        &realm_id);
    if (r != CMD_OK)
        return r;
    json_object *reply = proto_reply("ok");
    json_object_object_add(reply, "blocks_size", json_object_new_int64(blocks));
    json_object_object_add(reply, "vlobs_size", json_object_new_int64(vlobs));
    return cmd_ok(cmd, reply);
}

static cmd_result realm_get_role_certificates(cmd_t *cmd)
{
    proto_uuid_t realm_id;
    proto_uuid(cmd->in, "realm_id", &realm_id);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);
    proto_bytes_t *certs;
    size_t n;
    cmd_result r = read_refusal(
        cmd,
        realm_db_certificates(cmd, cmd->who->org._id, &realm_id, cmd->who->user._id, &certs, &n),
        &realm_id);
    if (r != CMD_OK)
        return r;
    json_object *list = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(list, proto_json_bytes(certs[i].data, certs[i].len));
    json_object *reply = proto_reply("ok");
    json_object_object_add(reply, "certificates", list);
    return cmd_ok(cmd, reply);
}

/* ---------------------------------------------------------------------------
 * realm_update_roles (not OUTSIDER)
 */

static bool is_owner_or_manager(certif_role r)
{
    return r == CERTIF_ROLE_OWNER || r == CERTIF_ROLE_MANAGER;
}

/* Steps 6 to 13 of the contract on the facts read under the lock; CMD_OK
 * to go on. */
static cmd_result role_refusal(cmd_t *cmd, const certif_t *c, const proto_uuid_t *realm_id,
                               const realm_db_role_facts_t *f)
{
    certif_role role = c->realm_role.role;
    if (!f->user_found)
        return cmd_refuse_reason(
            cmd, "not_found",
            arena_printf(cmd->arena, "User `%s` doesn't exist", c->realm_role.user_id));
    if (f->revoked)
        return cmd_refuse(cmd, "user_revoked");
    if (f->profile == CERTIF_PROFILE_OUTSIDER && is_owner_or_manager(role))
        return cmd_refuse_reason(cmd, "incompatible_profile",
                                 "User with OUTSIDER profile cannot be MANAGER or OWNER");
    if (!f->realm_found)
        return realm_not_found(cmd, realm_id);
    if (f->maintenance != REALM_DB_NO_MAINTENANCE)
        return cmd_refuse(cmd, "in_maintenance");
    bool owner_only = is_owner_or_manager(f->user_role) || is_owner_or_manager(role);
    bool allowed =
        owner_only ? f->author_role == CERTIF_ROLE_OWNER : is_owner_or_manager(f->author_role);
    if (!allowed)
        return cmd_refuse(cmd, "not_allowed");
    if (role == f->user_role)
        return cmd_refuse(cmd, "already_granted");
    if (f->user_last_certified_on && c->timestamp <= f->user_last_certified_on)
        return cmd_require_greater_timestamp(cmd, f->user_last_certified_on);
    bool loses_write = role == CERTIF_ROLE_READER || role == CERTIF_ROLE_NONE;
    if (loses_write && f->user_last_vlob_update && c->timestamp <= f->user_last_vlob_update)
        return cmd_require_greater_timestamp(cmd, f->user_last_vlob_update);
    bool loses_management = loses_write || role == CERTIF_ROLE_CONTRIBUTOR;
    if (loses_management && f->user_last_role_change && c->timestamp <= f->user_last_role_change)
        return cmd_require_greater_timestamp(cmd, f->user_last_role_change);
    return CMD_OK;
}

static cmd_result realm_update_roles(cmd_t *cmd)
{
    /* Before the fields, as in Parsec: an OUTSIDER shares nothing. */
    if (cmd->who->user.profile == CERTIF_PROFILE_OUTSIDER)
        return cmd_not_allowed(cmd, "Outsider user cannot share realm");
    proto_bytes_t raw, message = {NULL, 0};
    proto_bytes(cmd->in, "role_certificate", CERTIF_MAX_SIZE, &raw);
    bool has_message = proto_has(cmd->in, "recipient_message");
    if (has_message)
        proto_bytes(cmd->in, "recipient_message", SIZE_MAX, &message);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);
    certif_t c;
    cmd_result r = load_role_certificate(cmd, &raw, &c);
    if (r != CMD_OK)
        return r;
    if (strcmp(c.realm_role.user_id, cmd->who->user.id) == 0)
        return cmd_refuse_reason(cmd, "invalid_data",
                                 "Realm role certificate cannot be self-signed.");

    int64_t org = cmd->who->org._id;
    const proto_uuid_t *realm_id = &c.realm_role.realm_id;
    /* An unknown realm is answered below, in the contract's order. */
    int64_t locked = realm_db_lock(cmd, org, realm_id);
    realm_db_role_facts_t f;
    realm_db_role_facts(cmd, org, realm_id, c.realm_role.user_id, cmd->who->user._id, &f);
    if (f.realm_found && locked == 0) {
        /* created between the two statements: lock it, read again */
        realm_db_lock(cmd, org, realm_id);
        realm_db_role_facts(cmd, org, realm_id, c.realm_role.user_id, cmd->who->user._id, &f);
    }
    r = role_refusal(cmd, &c, realm_id, &f);
    if (r != CMD_OK)
        return r;

    realm_db_add_role(cmd, f.realm__id, f.user__id, &c, cmd->who->device._id, cmd->who->user._id);
    if (!publish_roles_updated(cmd, realm_id->bytes, c.realm_role.user_id, c.realm_role.role))
        return cmd_fail(cmd);
    if (has_message) {
        message_db_new_t m = {c.realm_role.user_id, message};
        if (!deliver(cmd, c.timestamp, &m, 1))
            return cmd_fail(cmd);
    }
    log_info("realm_update_roles: realm %s, user %s, role %s", realm_id->hex, c.realm_role.user_id,
             c.realm_role.role == CERTIF_ROLE_NONE ? "none" : certif_role_name(c.realm_role.role));
    return cmd_ok_status(cmd);
}

/* ---------------------------------------------------------------------------
 * Reencryption maintenance (OWNER)
 */

static cmd_result realm_start_reencryption_maintenance(cmd_t *cmd)
{
    proto_uuid_t realm_id;
    int64_t revision, timestamp;
    proto_bytes_entry_t *entries;
    size_t n = 0;
    proto_uuid(cmd->in, "realm_id", &realm_id);
    proto_int(cmd->in, "encryption_revision", 1, REVISION_MAX, &revision);
    proto_datetime(cmd->in, "timestamp", &timestamp);
    proto_bytes_map(cmd->in, "per_participant_message", PROTO_KEY_USER_ID, PARTICIPANTS_MAX,
                    SIZE_MAX, &entries, &n);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);
    if (!proto_ballpark_ok(cmd->now_us, timestamp))
        return cmd_bad_timestamp(cmd, timestamp);

    int64_t realm__id = realm_db_lock(cmd, cmd->who->org._id, &realm_id);
    if (realm__id == 0)
        return realm_not_found(cmd, &realm_id);
    message_db_new_t *msgs = arena_zalloc(cmd->arena, (n ? n : 1) * sizeof *msgs);
    for (size_t i = 0; i < n; i++)
        msgs[i] = (message_db_new_t){entries[i].key, entries[i].value};
    realm_db_maintenance_facts_t f;
    realm_db_maintenance_facts(cmd, realm__id, cmd->who->user._id, msgs, n, &f);
    if (f.role != CERTIF_ROLE_OWNER)
        return cmd_refuse(cmd, "not_allowed");
    if (f.maintenance != REALM_DB_NO_MAINTENANCE)
        return cmd_refuse(cmd, "in_maintenance");
    if (revision != f.revision + 1)
        return cmd_refuse(cmd, "bad_encryption_revision");
    if (!f.participants_match)
        return cmd_refuse_reason(cmd, "participants_mismatch",
                                 "Realm participants and message recipients mismatch");

    realm_db_start_reencryption(cmd, realm__id, revision, timestamp, cmd->who->device._id);
    if (!publish_maintenance_started(cmd, realm_id.bytes, revision) ||
        !deliver(cmd, timestamp, msgs, n))
        return cmd_fail(cmd);
    log_info("realm_start_reencryption_maintenance: realm %s, revision %lld", realm_id.hex,
             (long long)revision);
    return cmd_ok_status(cmd);
}

static cmd_result realm_finish_reencryption_maintenance(cmd_t *cmd)
{
    proto_uuid_t realm_id;
    int64_t revision;
    proto_uuid(cmd->in, "realm_id", &realm_id);
    proto_int(cmd->in, "encryption_revision", 1, REVISION_MAX, &revision);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);

    int64_t realm__id = realm_db_lock(cmd, cmd->who->org._id, &realm_id);
    if (realm__id == 0)
        return realm_not_found(cmd, &realm_id);
    realm_db_maintenance_facts_t f;
    realm_db_maintenance_facts(cmd, realm__id, cmd->who->user._id, NULL, 0, &f);
    if (f.role != CERTIF_ROLE_OWNER)
        return cmd_refuse(cmd, "not_allowed");
    if (f.maintenance == REALM_DB_NO_MAINTENANCE)
        return cmd_refuse_reason(
            cmd, "not_in_maintenance",
            arena_printf(cmd->arena, "Realm `%s` not under maintenance", realm_id.hex));
    if (revision != f.revision)
        return cmd_refuse(cmd, "bad_encryption_revision");
    /* Every version of the previous revision has its copy; a realm
     * without vlob has 0 of 0 (Parsec 2.12 refused it: not reproduced). */
    if (f.current_atoms != f.versions)
        return cmd_refuse_reason(cmd, "maintenance_error", "Reencryption operations are not over");

    realm_db_finish_maintenance(cmd, realm__id);
    if (!publish_maintenance_finished(cmd, realm_id.bytes, revision))
        return cmd_fail(cmd);
    log_info("realm_finish_reencryption_maintenance: realm %s, revision %lld", realm_id.hex,
             (long long)revision);
    return cmd_ok_status(cmd);
}

const cmd_def_t cmd_family_realm[] = {
    {"realm_create", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_TRANSACTION, realm_create},
    {"realm_status", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_ONE_STATEMENT, realm_status},
    {"realm_stats", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_ONE_STATEMENT, realm_stats},
    {"realm_get_role_certificates", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_ONE_STATEMENT,
     realm_get_role_certificates},
    {"realm_update_roles", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_TRANSACTION, realm_update_roles},
    {"realm_start_reencryption_maintenance", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_TRANSACTION,
     realm_start_reencryption_maintenance},
    {"realm_finish_reencryption_maintenance", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_TRANSACTION,
     realm_finish_reencryption_maintenance},
    {0},
};
