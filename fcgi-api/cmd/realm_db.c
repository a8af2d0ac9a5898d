/*
 * fcgi-api/cmd/realm_db.c - the SQL of realms (see realm_db.h)
 */
#include "realm_db.h"

#include "log.h"

#include <json-c/json.h>
#include <string.h>

realm_db_maintenance realm_db_maintenance_of(const char *text)
{
    if (!text)
        return REALM_DB_NO_MAINTENANCE;
    if (strcmp(text, "REENCRYPTION") == 0)
        return REALM_DB_REENCRYPTION;
    return REALM_DB_GARBAGE_COLLECTION; /* the column's CHECK allows nothing else */
}

const char *realm_db_maintenance_name(realm_db_maintenance m)
{
    switch (m) {
    case REALM_DB_REENCRYPTION:
        return "REENCRYPTION";
    case REALM_DB_GARBAGE_COLLECTION:
        return "GARBAGE_COLLECTION";
    case REALM_DB_NO_MAINTENANCE:
        break;
    }
    return NULL;
}

certif_role realm_db_role_of(const char *text)
{
    certif_role r = CERTIF_ROLE_NONE;
    if (!certif_role_from_name(text, &r))
        log_error("realm_db: unexpected role in the database");
    return r;
}

/* The realm lock.  $1 organization, $2 realm id. */
DB_STMT(stmt_lock, "realm_db_lock", 2,
        "SELECT _id FROM realm WHERE organization = $1::bigint AND realm_id = $2::uuid"
        " FOR NO KEY UPDATE");

int64_t realm_db_lock(cmd_t *cmd, int64_t org, const proto_uuid_t *realm_id)
{
    return realm_db_locked(CMD_RUN(cmd, &stmt_lock, DB_I64(org), DB_UUID(realm_id->bytes)));
}

db_res_t *realm_db_lock_queue(cmd_t *cmd, int64_t org, const proto_uuid_t *realm_id)
{
    return CMD_QUEUE(cmd, &stmt_lock, DB_I64(org), DB_UUID(realm_id->bytes));
}

int64_t realm_db_locked(const db_res_t *r)
{
    return db_nrows(r) == 1 ? db_get_i64(r, 0, 0) : 0;
}

/* ---------------------------------------------------------------------------
 * realm_create
 *
 * The realm, its first revision and its first role certificate in one
 * statement.  $1 organization, $2 realm id, $3 timestamp, $4 user, $5
 * certificate, $6 device.  ON CONFLICT DO NOTHING: an existing realm id
 * (or one a concurrent transaction is inserting, once it commits) makes r
 * empty, and so everything else.
 */
DB_STMT(stmt_create, "realm_db_create", 6,
        "WITH r AS ("
        "  INSERT INTO realm (organization, realm_id, created_on)"
        "  VALUES ($1::bigint, $2::uuid, $3::timestamptz)"
        "  ON CONFLICT (organization, realm_id) DO NOTHING RETURNING _id),"
        " e AS (INSERT INTO vlob_encryption_revision (realm, encryption_revision)"
        "  SELECT _id, 1 FROM r),"
        " o AS (INSERT INTO realm_user_role (realm, user_, role, certificate, certified_by,"
        "   certified_on)"
        "  SELECT _id, $4::bigint, 'OWNER', $5::bytea, $6::bigint, $3::timestamptz FROM r)"
        " SELECT _id FROM r");

bool realm_db_create(cmd_t *cmd, int64_t org, const certif_t *c, int64_t user__id,
                     int64_t device__id)
{
    db_res_t *r = CMD_RUN(cmd, &stmt_create, DB_I64(org), DB_UUID(c->realm_role.realm_id.bytes),
                          DB_TS(c->timestamp), DB_I64(user__id), DB_BYTES(c->raw, c->raw_len),
                          DB_I64(device__id));
    return db_nrows(r) == 1;
}

/* ---------------------------------------------------------------------------
 * Reads.  Each: $1 organization, $2 realm id, $3 the caller's user; no row:
 * no such realm; a NULL role: no role.
 */
DB_STMT(stmt_status, "realm_db_status", 3,
        "SELECT cr.role, r.encryption_revision, r.maintenance_type, r.maintenance_started_on,"
        "  d.device_id"
        " FROM realm r"
        " LEFT JOIN LATERAL " REALM_DB_ROLE_SQL(
            "r._id", "$3::bigint") " cr ON true"
                                   " LEFT JOIN device d ON d._id = r.maintenance_started_by"
                                   " WHERE r.organization = $1::bigint AND r.realm_id = $2::uuid");

/* The blocks' counter (migration 0006), kept by block_create. */
DB_STMT(stmt_stats, "realm_db_stats", 3,
        "SELECT cr.role, r.vlobs_size, r.blocks_size"
        " FROM realm r"
        " LEFT JOIN LATERAL " REALM_DB_ROLE_SQL(
            "r._id", "$3::bigint") " cr ON true"
                                   " WHERE r.organization = $1::bigint AND r.realm_id = $2::uuid");

/* One row per certificate (none without a role: one row, certificate NULL). */
DB_STMT(stmt_certificates, "realm_db_certificates", 3,
        "SELECT cr.role, c.certificate"
        " FROM realm r"
        " LEFT JOIN LATERAL " REALM_DB_ROLE_SQL(
            "r._id", "$3::bigint") " cr ON true"
                                   " LEFT JOIN LATERAL (SELECT certificate, certified_on, _id FROM "
                                   "realm_user_role"
                                   "   WHERE realm = r._id AND cr.role IS NOT NULL) c ON true"
                                   " WHERE r.organization = $1::bigint AND r.realm_id = $2::uuid"
                                   " ORDER BY c.certified_on, c._id");

static realm_db_read read_access(const db_res_t *r)
{
    if (db_nrows(r) == 0)
        return REALM_DB_READ_NOT_FOUND;
    return db_is_null(r, 0, 0) ? REALM_DB_READ_NO_ROLE : REALM_DB_READ_OK;
}

realm_db_read realm_db_status(cmd_t *cmd, int64_t org, const proto_uuid_t *realm_id,
                              int64_t user__id, realm_db_status_t *out)
{
    memset(out, 0, sizeof *out);
    db_res_t *r =
        CMD_RUN(cmd, &stmt_status, DB_I64(org), DB_UUID(realm_id->bytes), DB_I64(user__id));
    realm_db_read st = read_access(r);
    if (st != REALM_DB_READ_OK)
        return st;
    out->revision = db_get_i64(r, 0, 1);
    out->maintenance = realm_db_maintenance_of(db_get_str(r, 0, 2));
    if (out->maintenance != REALM_DB_NO_MAINTENANCE) {
        out->started_on = db_get_ts(r, 0, 3);
        out->started_by = db_get_str(r, 0, 4);
    }
    return st;
}

realm_db_read realm_db_stats(cmd_t *cmd, int64_t org, const proto_uuid_t *realm_id,
                             int64_t user__id, int64_t *blocks_size, int64_t *vlobs_size)
{
    db_res_t *r =
        CMD_RUN(cmd, &stmt_stats, DB_I64(org), DB_UUID(realm_id->bytes), DB_I64(user__id));
    realm_db_read st = read_access(r);
    *vlobs_size = st == REALM_DB_READ_OK ? db_get_i64(r, 0, 1) : 0;
    *blocks_size = st == REALM_DB_READ_OK ? db_get_i64(r, 0, 2) : 0;
    return st;
}

realm_db_read realm_db_certificates(cmd_t *cmd, int64_t org, const proto_uuid_t *realm_id,
                                    int64_t user__id, proto_bytes_t **certs, size_t *n)
{
    db_res_t *r =
        CMD_RUN(cmd, &stmt_certificates, DB_I64(org), DB_UUID(realm_id->bytes), DB_I64(user__id));
    realm_db_read st = read_access(r);
    size_t rows = st == REALM_DB_READ_OK ? db_nrows(r) : 0;
    proto_bytes_t *out = arena_zalloc(cmd->arena, (rows ? rows : 1) * sizeof *out);
    for (size_t i = 0; i < rows; i++)
        out[i].data = db_get_bytes(r, i, 1, &out[i].len);
    *certs = out;
    *n = rows;
    return st;
}

/* ---------------------------------------------------------------------------
 * realm_update_roles
 *
 * Everything its checks need, in one statement (after the lock): $1
 * organization, $2 realm id, $3 the certificate's user id, $4 the caller's
 * user.  Always one row; NULLs where the user or the realm is unknown.
 */
DB_STMT(stmt_role_facts, "realm_db_role_facts", 4,
        "SELECT u._id, u.profile, u.revoked_on IS NOT NULL, r._id, r.maintenance_type,"
        "  ar.role, ur.role, ur.certified_on, ch.last_vlob_update, ch.last_role_change"
        " FROM (VALUES (1)) AS one (x)"
        " LEFT JOIN user_ u ON u.organization = $1::bigint AND u.user_id = $3::text"
        " LEFT JOIN realm r ON r.organization = $1::bigint AND r.realm_id = $2::uuid"
        " LEFT JOIN LATERAL " REALM_DB_ROLE_SQL(
            "r._id", "$4::bigint") " ar ON true"
                                   " LEFT JOIN LATERAL " REALM_DB_ROLE_SQL(
                                       "r._id", "u._id") " ur ON true"
                                                         " LEFT JOIN realm_user_change ch ON "
                                                         "ch.realm = r._id AND ch.user_ = u._id");

/* $1 realm, $2 user, $3 role or NULL, $4 certificate, $5 device, $6
 * timestamp, $7 the author's user.  GREATEST ignores NULL. */
DB_STMT(
    stmt_add_role, "realm_db_add_role", 7,
    "WITH i AS ("
    "  INSERT INTO realm_user_role (realm, user_, role, certificate, certified_by,"
    "   certified_on)"
    "  VALUES ($1::bigint, $2::bigint, $3::text, $4::bytea, $5::bigint, $6::timestamptz))"
    " INSERT INTO realm_user_change AS c (realm, user_, last_role_change)"
    " VALUES ($1::bigint, $7::bigint, $6::timestamptz)"
    " ON CONFLICT (realm, user_)"
    " DO UPDATE SET last_role_change = GREATEST(c.last_role_change, EXCLUDED.last_role_change)");

static int64_t ts_or_zero(const db_res_t *r, int col)
{
    return db_is_null(r, 0, col) ? 0 : db_get_ts(r, 0, col);
}

void realm_db_role_facts(cmd_t *cmd, int64_t org, const proto_uuid_t *realm_id, const char *user_id,
                         int64_t author__id, realm_db_role_facts_t *out)
{
    memset(out, 0, sizeof *out);
    db_res_t *r = CMD_RUN(cmd, &stmt_role_facts, DB_I64(org), DB_UUID(realm_id->bytes),
                          DB_TEXT(user_id), DB_I64(author__id));
    if (db_nrows(r) != 1)
        return; /* failed: the kit answers 500 */
    out->user_found = !db_is_null(r, 0, 0);
    if (out->user_found) {
        out->user__id = db_get_i64(r, 0, 0);
        if (!certif_profile_from_name(db_get_str(r, 0, 1), &out->profile))
            log_error("realm_db: unexpected profile in the database");
        out->revoked = db_get_bool(r, 0, 2);
    }
    out->realm_found = !db_is_null(r, 0, 3);
    if (out->realm_found) {
        out->realm__id = db_get_i64(r, 0, 3);
        out->maintenance = realm_db_maintenance_of(db_get_str(r, 0, 4));
        out->author_role = realm_db_role_of(db_get_str(r, 0, 5));
        out->user_role = realm_db_role_of(db_get_str(r, 0, 6));
        out->user_last_certified_on = ts_or_zero(r, 7);
        out->user_last_vlob_update = ts_or_zero(r, 8);
        out->user_last_role_change = ts_or_zero(r, 9);
    }
}

void realm_db_add_role(cmd_t *cmd, int64_t realm__id, int64_t user__id, const certif_t *c,
                       int64_t device__id, int64_t author__id)
{
    CMD_RUN(cmd, &stmt_add_role, DB_I64(realm__id), DB_I64(user__id),
            DB_TEXT(certif_role_name(c->realm_role.role)), DB_BYTES(c->raw, c->raw_len),
            DB_I64(device__id), DB_TS(c->timestamp), DB_I64(author__id));
}

/* ---------------------------------------------------------------------------
 * Reencryption maintenance
 *
 * $1 realm, $2 the caller's user, $3 the recipients' user ids as a JSON
 * array, or NULL (finish).  The members are the users whose latest role is
 * not NULL and who are not revoked; DISTINCT ON walks the realm's role
 * certificates once.  The counts are migration 0003's: every version
 * written is stored at the previous revision; the copies are counted at
 * the new one.
 */
DB_STMT(stmt_maintenance_facts, "realm_db_maintenance_facts", 3,
        "WITH m AS ("
        "  SELECT u.user_id FROM ("
        "    SELECT DISTINCT ON (user_) user_, role FROM realm_user_role"
        "    WHERE realm = $1::bigint AND $3::json IS NOT NULL ORDER BY user_, _id DESC) cur"
        "  JOIN user_ u ON u._id = cur.user_"
        "  WHERE cur.role IS NOT NULL AND u.revoked_on IS NULL),"
        " k AS (SELECT json_array_elements_text($3::json) AS user_id)"
        " SELECT r.encryption_revision, r.maintenance_type, cr.role,"
        "  $3::json IS NOT NULL AND NOT EXISTS ("
        "    (SELECT user_id FROM m EXCEPT SELECT user_id FROM k)"
        "    UNION ALL (SELECT user_id FROM k EXCEPT SELECT user_id FROM m)),"
        "  r.versions,"
        "  (SELECT atoms FROM vlob_encryption_revision"
        "    WHERE realm = r._id AND encryption_revision = r.encryption_revision)"
        " FROM realm r"
        " LEFT JOIN LATERAL " REALM_DB_ROLE_SQL("r._id", "$2::bigint") " cr ON true"
                                                                       " WHERE r._id = $1::bigint");

/* $1 realm, $2 revision, $3 started on, $4 device. */
DB_STMT(stmt_start, "realm_db_start_reencryption", 4,
        "WITH e AS (INSERT INTO vlob_encryption_revision (realm, encryption_revision)"
        "  VALUES ($1::bigint, $2::integer))"
        " UPDATE realm SET encryption_revision = $2::integer, maintenance_type = 'REENCRYPTION',"
        "  maintenance_started_on = $3::timestamptz, maintenance_started_by = $4::bigint"
        " WHERE _id = $1::bigint");

DB_STMT(stmt_finish, "realm_db_finish_maintenance", 1,
        "UPDATE realm SET maintenance_type = NULL, maintenance_started_on = NULL,"
        "  maintenance_started_by = NULL WHERE _id = $1::bigint");

void realm_db_maintenance_facts(cmd_t *cmd, int64_t realm__id, int64_t user__id,
                                const message_db_new_t *recipients, size_t n,
                                realm_db_maintenance_facts_t *out)
{
    memset(out, 0, sizeof *out);
    const char *keys = NULL;
    if (recipients) {
        json_object *a = json_object_new_array_ext((int)n);
        for (size_t i = 0; i < n; i++)
            json_object_array_add(a, json_object_new_string(recipients[i].user_id));
        keys = cmd_json_param(cmd, a);
    }
    db_res_t *r =
        CMD_RUN(cmd, &stmt_maintenance_facts, DB_I64(realm__id), DB_I64(user__id), DB_TEXT(keys));
    if (db_nrows(r) != 1)
        return; /* the realm is locked, so it exists: only a failure gets here */
    out->revision = db_get_i64(r, 0, 0);
    out->maintenance = realm_db_maintenance_of(db_get_str(r, 0, 1));
    out->role = realm_db_role_of(db_get_str(r, 0, 2));
    out->participants_match = db_get_bool(r, 0, 3);
    out->versions = db_get_i64(r, 0, 4);
    out->current_atoms = db_get_i64(r, 0, 5);
}

void realm_db_start_reencryption(cmd_t *cmd, int64_t realm__id, int64_t revision,
                                 int64_t started_on, int64_t device__id)
{
    CMD_RUN(cmd, &stmt_start, DB_I64(realm__id), DB_I64(revision), DB_TS(started_on),
            DB_I64(device__id));
}

void realm_db_finish_maintenance(cmd_t *cmd, int64_t realm__id)
{
    CMD_RUN(cmd, &stmt_finish, DB_I64(realm__id));
}
