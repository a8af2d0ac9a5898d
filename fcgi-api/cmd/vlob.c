/*
 * fcgi-api/cmd/vlob.c - the vlob commands: vlob_create, vlob_update,
 * vlob_read, vlob_list_versions, vlob_poll_changes, and the batches of a
 * reencryption maintenance (vlob_maintenance_get_reencryption_batch,
 * vlob_maintenance_save_reencryption_batch)
 *
 * docs/protocol.md (section 6.3, "Realms, vlobs and messages") is the
 * contract; sections 5.7, 5.9 and 6 of parsec-2.12-behaviour.md the
 * behaviour followed, with section 9's choices.  Their SQL is vlob_db.c;
 * the sequester rules of a write vlob_sequester.c; their tests
 * tests/integration/test_cmd_vlob*.c.
 *
 * Writes take the realm's lock, then read and check, then write, then
 * publish realm.vlobs_updated, in one transaction (vlob_db.h) of two round
 * trips (the lock and the facts; the write, its event and COMMIT): two
 * writers of one realm are decided one after the other, so versions and
 * checkpoints never collide.  Reads are one statement without a lock.
 */
#include "cmd.h"
#include "event.h"
#include "vlob_db.h"
#include "vlob_sequester.h"

#include <stdint.h>

/* Ranges of docs/protocol.md. */
#define REVISION_MAX   INT64_C(2147483647)
#define VERSION_MAX    INT64_C(2147483647)
#define CHECKPOINT_MAX (INT64_MAX - 1)
#define BATCH_MAX      1000

/* ---------------------------------------------------------------------------
 * Events: one function per event type, the only place it is published
 */

/* realm.vlobs_updated: to the realm's members but the writing device;
 * queued after the write, so it goes with the COMMIT. */
static bool publish_vlobs_updated(cmd_t *cmd, const uint8_t realm_id[16], int64_t checkpoint,
                                  const uint8_t vlob_id[16], int64_t version)
{
    return event_queue_realm_vlobs_updated(cmd_pipe(cmd), cmd->who->org.id, cmd->who->device.id,
                                           realm_id, checkpoint, vlob_id, version);
}

/* The sequester blobs of the write w (queued): they need its version's
 * row, so the write is sent first; without blobs it stays queued for the
 * COMMIT. */
static void store_sequester(cmd_t *cmd, const db_res_t *w, int64_t checkpoint,
                            const vlob_sequester_blob_t *sb)
{
    if (!sb->given || sb->n == 0)
        return;
    (void)cmd_flush(cmd);
    vlob_sequester_store(cmd, vlob_db_written(cmd, w, checkpoint), sb);
}

/* ---------------------------------------------------------------------------
 * The access rules (docs/protocol.md; parsec-2.12-behaviour.md 5.9, 6.1)
 */

static bool may_write(certif_role r)
{
    return r == CERTIF_ROLE_OWNER || r == CERTIF_ROLE_MANAGER || r == CERTIF_ROLE_CONTRIBUTOR;
}

/* The refusal of a read at revision asked (vlob_read's table), NULL: read. */
static const char *read_revision_refusal(const vlob_db_realm_t *r, int64_t asked)
{
    switch (r->maintenance) {
    case REALM_DB_NO_MAINTENANCE:
        return asked == r->revision ? NULL : "bad_encryption_revision";
    case REALM_DB_REENCRYPTION:
        if (asked == r->revision)
            return "in_maintenance";
        return asked == r->revision - 1 ? NULL : "bad_encryption_revision";
    case REALM_DB_GARBAGE_COLLECTION:
        break;
    }
    return "in_maintenance";
}

/* Steps 4 to 7 of vlob_create (also vlob_update's): CMD_OK to go on. */
static cmd_result write_refusal(cmd_t *cmd, const vlob_db_realm_t *r, int64_t revision,
                                int64_t timestamp)
{
    if (!may_write(r->role))
        return cmd_refuse(cmd, "not_allowed");
    if (r->maintenance != REALM_DB_NO_MAINTENANCE)
        return cmd_refuse(cmd, "in_maintenance");
    if (revision != r->revision)
        return cmd_refuse(cmd, "bad_encryption_revision");
    if (timestamp <= r->role_granted_on)
        return cmd_require_greater_timestamp(cmd, r->role_granted_on);
    return CMD_OK;
}

/* The bad_timestamp of the vlob commands: reason null, as in Parsec. */
static cmd_result vlob_bad_timestamp(cmd_t *cmd, int64_t client_us)
{
    return cmd_refuse_json(cmd, proto_reply_bad_timestamp(cmd->now_us, client_us, NULL));
}

/* not_found and already_exists carry a null reason here. */
static cmd_result refuse_null_reason(cmd_t *cmd, const char *status)
{
    return cmd_refuse_reason(cmd, status, NULL);
}

/* The checks of listing and polling (found: the vlob or realm exists):
 * CMD_OK to go on.  Only a maintenance other than reencryption refuses. */
static cmd_result listing_refusal(cmd_t *cmd, bool found, const vlob_db_realm_t *r)
{
    if (!found)
        return refuse_null_reason(cmd, "not_found");
    if (r->role == CERTIF_ROLE_NONE)
        return cmd_refuse(cmd, "not_allowed");
    if (r->maintenance == REALM_DB_GARBAGE_COLLECTION)
        return cmd_refuse(cmd, "in_maintenance");
    return CMD_OK;
}

/* ---------------------------------------------------------------------------
 * vlob_create, vlob_update
 */

static cmd_result vlob_create(cmd_t *cmd)
{
    proto_uuid_t realm_id, vlob_id;
    int64_t revision, timestamp;
    proto_bytes_t blob;
    vlob_sequester_blob_t sb;
    proto_uuid(cmd->in, "realm_id", &realm_id);
    proto_int(cmd->in, "encryption_revision", 1, REVISION_MAX, &revision);
    proto_uuid(cmd->in, "vlob_id", &vlob_id);
    proto_datetime(cmd->in, "timestamp", &timestamp);
    proto_bytes(cmd->in, "blob", SIZE_MAX, &blob);
    vlob_sequester_read(cmd, &sb);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);
    if (!proto_ballpark_ok(cmd->now_us, timestamp))
        return vlob_bad_timestamp(cmd, timestamp);

    int64_t org = cmd->who->org._id;
    vlob_db_write_facts_t f;
    if (!vlob_db_lock_realm(cmd, org, &realm_id, cmd->who->user._id, &vlob_id, &f))
        return cmd_refuse(cmd, "not_allowed"); /* an unknown realm, as in Parsec */
    cmd_result r = write_refusal(cmd, &f.realm, revision, timestamp);
    if (r == CMD_OK)
        r = vlob_sequester_check(cmd, f.sequestered, &sb);
    if (r != CMD_OK)
        return r;
    if (f.vlob_id_taken)
        return refuse_null_reason(cmd, "already_exists");

    vlob_db_new_t v = {
        org,       f.realm__id, f.revision__id, cmd->who->device._id, cmd->who->user._id,
        timestamp, blob};
    int64_t checkpoint = f.checkpoint + 1; /* the write's, under the lock */
    store_sequester(cmd, vlob_db_create(cmd, &vlob_id, &v), checkpoint, &sb);
    if (!publish_vlobs_updated(cmd, f.realm_id, checkpoint, vlob_id.bytes, 1))
        return cmd_fail(cmd);
    return cmd_ok_status(cmd);
}

static cmd_result vlob_update(cmd_t *cmd)
{
    proto_uuid_t vlob_id;
    int64_t revision, timestamp, version;
    proto_bytes_t blob;
    vlob_sequester_blob_t sb;
    proto_int(cmd->in, "encryption_revision", 1, REVISION_MAX, &revision);
    proto_uuid(cmd->in, "vlob_id", &vlob_id);
    proto_datetime(cmd->in, "timestamp", &timestamp);
    proto_int(cmd->in, "version", 1, VERSION_MAX, &version);
    proto_bytes(cmd->in, "blob", SIZE_MAX, &blob);
    vlob_sequester_read(cmd, &sb);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);
    if (!proto_ballpark_ok(cmd->now_us, timestamp))
        return vlob_bad_timestamp(cmd, timestamp);

    int64_t org = cmd->who->org._id;
    vlob_db_write_facts_t f;
    if (!vlob_db_lock_vlob(cmd, org, &vlob_id, cmd->who->user._id, &f))
        return refuse_null_reason(cmd, "not_found");
    cmd_result r = write_refusal(cmd, &f.realm, revision, timestamp);
    if (r == CMD_OK)
        r = vlob_sequester_check(cmd, f.sequestered, &sb);
    if (r != CMD_OK)
        return r;
    if (version != f.last_version + 1)
        return cmd_refuse(cmd, "bad_version");
    if (timestamp < f.last_timestamp) /* equal is accepted, as in Parsec */
        return cmd_require_greater_timestamp(cmd, f.last_timestamp);

    vlob_db_new_t v = {
        org,       f.realm__id, f.revision__id, cmd->who->device._id, cmd->who->user._id,
        timestamp, blob};
    int64_t checkpoint = f.checkpoint + 1; /* the write's, under the lock */
    store_sequester(cmd, vlob_db_update(cmd, f.vlob__id, version, &v), checkpoint, &sb);
    if (!publish_vlobs_updated(cmd, f.realm_id, checkpoint, vlob_id.bytes, version))
        return cmd_fail(cmd);
    return cmd_ok_status(cmd);
}

/* ---------------------------------------------------------------------------
 * vlob_read, vlob_list_versions, vlob_poll_changes
 */

static cmd_result vlob_read(cmd_t *cmd)
{
    proto_uuid_t vlob_id;
    int64_t revision, version = 0, timestamp = 0;
    proto_int(cmd->in, "encryption_revision", 1, REVISION_MAX, &revision);
    proto_uuid(cmd->in, "vlob_id", &vlob_id);
    if (proto_has(cmd->in, "version"))
        proto_int(cmd->in, "version", 1, VERSION_MAX, &version);
    bool has_timestamp = proto_has(cmd->in, "timestamp");
    if (has_timestamp)
        proto_datetime(cmd->in, "timestamp", &timestamp);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);

    vlob_db_version_t v;
    if (!vlob_db_read(cmd, cmd->who->org._id, &vlob_id, cmd->who->user._id, revision, version,
                      has_timestamp, timestamp, &v))
        return refuse_null_reason(cmd, "not_found");
    if (v.realm.role == CERTIF_ROLE_NONE)
        return cmd_refuse(cmd, "not_allowed");
    const char *refusal = read_revision_refusal(&v.realm, revision);
    if (refusal)
        return cmd_refuse(cmd, refusal);
    if (!v.has_version)
        return cmd_refuse(cmd, "bad_version");

    json_object *reply = proto_reply("ok");
    json_object_object_add(reply, "version", json_object_new_int64(v.version));
    json_object_object_add(reply, "blob", proto_json_bytes(v.blob.data, v.blob.len));
    json_object_object_add(reply, "author", json_object_new_string(v.author));
    json_object_object_add(reply, "timestamp", proto_json_datetime(v.timestamp));
    json_object_object_add(reply, "author_last_role_granted_on",
                           v.has_author_role ? proto_json_datetime(v.author_last_role_granted_on)
                                             : NULL);
    return cmd_ok(cmd, reply);
}

static cmd_result vlob_list_versions(cmd_t *cmd)
{
    proto_uuid_t vlob_id;
    proto_uuid(cmd->in, "vlob_id", &vlob_id);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);

    vlob_db_realm_t realm;
    vlob_db_listed_t *versions;
    size_t n;
    bool found = vlob_db_list_versions(cmd, cmd->who->org._id, &vlob_id, cmd->who->user._id, &realm,
                                       &versions, &n);
    cmd_result r = listing_refusal(cmd, found, &realm);
    if (r != CMD_OK)
        return r;

    json_object *map = json_object_new_object();
    for (size_t i = 0; i < n; i++) {
        json_object *pair = json_object_new_array_ext(2);
        json_object_array_add(pair, proto_json_datetime(versions[i].timestamp));
        json_object_array_add(pair, json_object_new_string(versions[i].author));
        json_object_object_add(
            map, arena_printf(cmd->arena, "%lld", (long long)versions[i].version), pair);
    }
    json_object *reply = proto_reply("ok");
    json_object_object_add(reply, "versions", map);
    return cmd_ok(cmd, reply);
}

static cmd_result vlob_poll_changes(cmd_t *cmd)
{
    proto_uuid_t realm_id;
    int64_t last_checkpoint;
    proto_uuid(cmd->in, "realm_id", &realm_id);
    proto_int(cmd->in, "last_checkpoint", 0, CHECKPOINT_MAX, &last_checkpoint);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);

    vlob_db_realm_t realm;
    int64_t checkpoint;
    vlob_db_change_t *changes;
    size_t n;
    bool found = vlob_db_poll(cmd, cmd->who->org._id, &realm_id, cmd->who->user._id,
                              last_checkpoint, &realm, &checkpoint, &changes, &n);
    cmd_result r = listing_refusal(cmd, found, &realm);
    if (r != CMD_OK)
        return r;

    /* In change order: a vlob's later change replaces its earlier one. */
    json_object *map = json_object_new_object();
    for (size_t i = 0; i < n; i++)
        json_object_object_add(map, changes[i].vlob_id, json_object_new_int64(changes[i].version));
    json_object *reply = proto_reply("ok");
    json_object_object_add(reply, "changes", map);
    json_object_object_add(reply, "current_checkpoint", json_object_new_int64(checkpoint));
    return cmd_ok(cmd, reply);
}

/* ---------------------------------------------------------------------------
 * Reencryption batches (OWNER of a realm in reencryption)
 */

/* Their checks after the realm is known: CMD_OK to go on. */
static cmd_result maintenance_refusal(cmd_t *cmd, const vlob_db_realm_t *r, int64_t revision)
{
    if (r->role != CERTIF_ROLE_OWNER)
        return cmd_refuse(cmd, "not_allowed");
    if (r->maintenance != REALM_DB_REENCRYPTION)
        return refuse_null_reason(cmd, "not_in_maintenance");
    if (revision != r->revision)
        return cmd_refuse(cmd, "bad_encryption_revision");
    return CMD_OK;
}

static json_object *batch_entry_json(const vlob_db_batch_entry_t *e)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "vlob_id", proto_json_uuid(e->vlob_id.bytes));
    json_object_object_add(o, "version", json_object_new_int64(e->version));
    json_object_object_add(o, "blob", proto_json_bytes(e->blob.data, e->blob.len));
    return o;
}

static cmd_result get_reencryption_batch(cmd_t *cmd)
{
    proto_uuid_t realm_id;
    int64_t revision, size;
    proto_uuid(cmd->in, "realm_id", &realm_id);
    proto_int(cmd->in, "encryption_revision", 1, REVISION_MAX, &revision);
    proto_int(cmd->in, "size", 0, BATCH_MAX, &size);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);

    vlob_db_realm_t realm;
    vlob_db_batch_entry_t *batch;
    size_t n;
    if (!vlob_db_reencryption_batch(cmd, cmd->who->org._id, &realm_id, cmd->who->user._id, revision,
                                    size, &realm, &batch, &n))
        return refuse_null_reason(cmd, "not_found");
    cmd_result r = maintenance_refusal(cmd, &realm, revision);
    if (r != CMD_OK)
        return r;
    json_object *list = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(list, batch_entry_json(&batch[i]));
    json_object *reply = proto_reply("ok");
    json_object_object_add(reply, "batch", list);
    return cmd_ok(cmd, reply);
}

static cmd_result save_reencryption_batch(cmd_t *cmd)
{
    proto_uuid_t realm_id;
    int64_t revision;
    size_t n = 0;
    proto_uuid(cmd->in, "realm_id", &realm_id);
    proto_int(cmd->in, "encryption_revision", 1, REVISION_MAX, &revision);
    proto_list(cmd->in, "batch", BATCH_MAX, &n);
    vlob_db_batch_entry_t *batch = arena_zalloc(cmd->arena, (n ? n : 1) * sizeof *batch);
    for (size_t i = 0; i < n && proto_in_ok(cmd->in); i++) {
        proto_in_t *e = proto_list_object(cmd->in, "batch", i);
        if (!e)
            break;
        proto_uuid(e, "vlob_id", &batch[i].vlob_id);
        proto_int(e, "version", 1, VERSION_MAX, &batch[i].version);
        proto_bytes(e, "blob", SIZE_MAX, &batch[i].blob);
    }
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);

    vlob_db_write_facts_t f;
    if (!vlob_db_lock_realm(cmd, cmd->who->org._id, &realm_id, cmd->who->user._id, NULL, &f))
        return refuse_null_reason(cmd, "not_found");
    cmd_result r = maintenance_refusal(cmd, &f.realm, revision);
    if (r != CMD_OK)
        return r;
    int64_t total, done;
    vlob_db_save_batch(cmd, cmd->who->org._id, f.realm__id, revision, batch, n, &total, &done);
    json_object *reply = proto_reply("ok");
    json_object_object_add(reply, "total", json_object_new_int64(total));
    json_object_object_add(reply, "done", json_object_new_int64(done));
    return cmd_ok(cmd, reply);
}

const cmd_def_t cmd_family_vlob[] = {
    {"vlob_create", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_TRANSACTION, vlob_create},
    {"vlob_update", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_TRANSACTION, vlob_update},
    {"vlob_read", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_ONE_STATEMENT, vlob_read},
    {"vlob_list_versions", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_ONE_STATEMENT, vlob_list_versions},
    {"vlob_poll_changes", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_ONE_STATEMENT, vlob_poll_changes},
    {"vlob_maintenance_get_reencryption_batch", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_ONE_STATEMENT,
     get_reencryption_batch},
    {"vlob_maintenance_save_reencryption_batch", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_TRANSACTION,
     save_reencryption_batch},
    {0},
};
