/*
 * fcgi-api/cmd/vlob_db.c - the SQL of vlobs (see vlob_db.h)
 */
#include "vlob_db.h"

#include "log.h"

#include <json-c/json.h>
#include <string.h>

/* Columns 0-3 of every statement that reads vlob_db_realm_t: the realm r
 * and the caller's role cr. */
#define REALM_COLUMNS "r.encryption_revision, r.maintenance_type, cr.role, cr.certified_on"

static void read_realm(const db_res_t *r, vlob_db_realm_t *out)
{
    out->revision = db_get_i64(r, 0, 0);
    out->maintenance = realm_db_maintenance_of(db_get_str(r, 0, 1));
    out->role = realm_db_role_of(db_get_str(r, 0, 2));
    out->role_granted_on = db_is_null(r, 0, 3) ? 0 : db_get_ts(r, 0, 3);
}

/* ---------------------------------------------------------------------------
 * vlob_read: $1 organization, $2 vlob id, $3 the caller's user, $4 the
 * revision asked, $5 version or NULL, $6 timestamp or NULL.  With a version,
 * the backward scan of (vlob, revision, version) starts at it; with only a
 * timestamp, it stops at the first version at or before it (a vlob's
 * timestamps never decrease with its versions: vlob_update refuses it).
 */
DB_STMT(
    stmt_read, "vlob_db_read", 6,
    "SELECT " REALM_COLUMNS ", a.version, a.blob, d.device_id, a.created_on, ar.certified_on"
    " FROM vlob v JOIN realm r ON r._id = v.realm"
    " LEFT JOIN LATERAL " REALM_DB_ROLE_SQL(
        "r._id",
        "$3::bigint") " cr ON true"
                      " LEFT JOIN vlob_encryption_revision e ON e.realm = r._id"
                      "  AND e.encryption_revision = $4::integer AND cr.role IS NOT NULL"
                      " LEFT JOIN LATERAL (SELECT version, blob, author, created_on FROM vlob_atom"
                      "   WHERE vlob = v._id AND vlob_encryption_revision = e._id"
                      "    AND version <= COALESCE($5::integer, 2147483647)"
                      "    AND ($5::integer IS NULL OR version = $5::integer)"
                      "    AND ($5::integer IS NOT NULL OR $6::timestamptz IS NULL"
                      "     OR created_on <= $6::timestamptz)"
                      "   ORDER BY version DESC LIMIT 1) a ON true"
                      " LEFT JOIN device d ON d._id = a.author"
                      " LEFT JOIN LATERAL " REALM_DB_ROLE_SQL(
                          "r._id",
                          "d.user_") " ar ON true"
                                     " WHERE v.organization = $1::bigint AND v.vlob_id = $2::uuid");

bool vlob_db_read(cmd_t *cmd, int64_t org, const proto_uuid_t *vlob_id, int64_t user__id,
                  int64_t revision, int64_t version, bool has_timestamp, int64_t timestamp,
                  vlob_db_version_t *out)
{
    memset(out, 0, sizeof *out);
    db_res_t *r = CMD_RUN(cmd, &stmt_read, DB_I64(org), DB_UUID(vlob_id->bytes), DB_I64(user__id),
                          DB_I64(revision), DB_I64_IF(version > 0, version),
                          DB_TS_IF(has_timestamp, timestamp));
    if (db_nrows(r) != 1)
        return false;
    read_realm(r, &out->realm);
    out->has_version = !db_is_null(r, 0, 4);
    if (out->has_version) {
        out->version = db_get_i64(r, 0, 4);
        out->blob.data = db_get_bytes(r, 0, 5, &out->blob.len);
        out->author = db_get_str(r, 0, 6);
        out->timestamp = db_get_ts(r, 0, 7);
        out->has_author_role = !db_is_null(r, 0, 8);
        if (out->has_author_role)
            out->author_last_role_granted_on = db_get_ts(r, 0, 8);
    }
    return true;
}

/* ---------------------------------------------------------------------------
 * vlob_list_versions: $1 organization, $2 vlob id, $3 the caller's user.
 * Every version once, whatever the revisions it is stored at.
 */
DB_STMT(
    stmt_list, "vlob_db_list_versions", 3,
    "SELECT " REALM_COLUMNS ", a.version, a.created_on, d.device_id"
    " FROM vlob v JOIN realm r ON r._id = v.realm"
    " LEFT JOIN LATERAL " REALM_DB_ROLE_SQL(
        "r._id",
        "$3::bigint") " cr ON true"
                      " LEFT JOIN LATERAL (SELECT DISTINCT ON (version) version, created_on, author"
                      "   FROM vlob_atom WHERE vlob = v._id AND cr.role IS NOT NULL"
                      "   ORDER BY version, _id) a ON true"
                      " LEFT JOIN device d ON d._id = a.author"
                      " WHERE v.organization = $1::bigint AND v.vlob_id = $2::uuid"
                      " ORDER BY a.version");

bool vlob_db_list_versions(cmd_t *cmd, int64_t org, const proto_uuid_t *vlob_id, int64_t user__id,
                           vlob_db_realm_t *realm, vlob_db_listed_t **versions, size_t *n)
{
    memset(realm, 0, sizeof *realm);
    db_res_t *r = CMD_RUN(cmd, &stmt_list, DB_I64(org), DB_UUID(vlob_id->bytes), DB_I64(user__id));
    size_t rows = db_nrows(r);
    vlob_db_listed_t *out = arena_zalloc(cmd->arena, (rows ? rows : 1) * sizeof *out);
    size_t k = 0;
    if (rows > 0)
        read_realm(r, realm);
    for (size_t i = 0; i < rows; i++) {
        if (db_is_null(r, i, 4))
            continue; /* no role: one row without a version */
        out[k].version = db_get_i64(r, i, 4);
        out[k].timestamp = db_get_ts(r, i, 5);
        out[k].author = db_get_str(r, i, 6);
        k++;
    }
    *versions = out;
    *n = k;
    return rows > 0;
}

/* ---------------------------------------------------------------------------
 * vlob_poll_changes: $1 organization, $2 realm id, $3 the caller's user, $4
 * last checkpoint.  Column 4 is the realm's checkpoint.
 *
 * "(SELECT $4)": PostgreSQL plans a prepared statement for its parameters'
 * values first, and keeps doing so while a plan for any value looks costlier
 * than those plans: in a large realm, "index > $4" looks like a third of its
 * changes, so every poll would be planned again (about a millisecond, more
 * than the poll itself).  Behind a sub-select the value is unknown to every
 * plan, which are then the same, so the plan is made once per connection.
 * Not knowing it, the planner expects many changes and might hash-join
 * them with every vlob of the organization: the LATERAL ... LIMIT 1 (one
 * version per change) keeps the lookup of each change's vlob an index step,
 * so the cost stays the changes' (the index range scan of (realm, index)).
 * test_realm_scale.c checks all three.
 */
DB_STMT(stmt_poll, "vlob_db_poll", 4,
        "SELECT " REALM_COLUMNS ", r.checkpoint, c.vlob_id, c.version"
        " FROM realm r"
        " LEFT JOIN LATERAL " REALM_DB_ROLE_SQL(
            "r._id", "$3::bigint") " cr ON true"
                                   " LEFT JOIN LATERAL (SELECT x.vlob_id, x.version, u.index"
                                   "   FROM realm_vlob_update u"
                                   "   CROSS JOIN LATERAL (SELECT encode(uuid_send(v.vlob_id), "
                                   "'hex') AS vlob_id,"
                                   "     a.version FROM vlob_atom a JOIN vlob v ON v._id = a.vlob"
                                   "    WHERE a._id = u.vlob_atom LIMIT 1) x"
                                   "   WHERE u.realm = r._id AND u.index > (SELECT $4::bigint)"
                                   "    AND cr.role IS NOT NULL"
                                   "    AND (r.maintenance_type IS NULL OR r.maintenance_type = "
                                   "'REENCRYPTION') OFFSET 0) c"
                                   "  ON true"
                                   " WHERE r.organization = $1::bigint AND r.realm_id = $2::uuid"
                                   " ORDER BY c.index");

bool vlob_db_poll(cmd_t *cmd, int64_t org, const proto_uuid_t *realm_id, int64_t user__id,
                  int64_t last_checkpoint, vlob_db_realm_t *realm, int64_t *checkpoint,
                  vlob_db_change_t **changes, size_t *n)
{
    memset(realm, 0, sizeof *realm);
    *checkpoint = 0;
    db_res_t *r = CMD_RUN(cmd, &stmt_poll, DB_I64(org), DB_UUID(realm_id->bytes), DB_I64(user__id),
                          DB_I64(last_checkpoint));
    size_t rows = db_nrows(r);
    vlob_db_change_t *out = arena_zalloc(cmd->arena, (rows ? rows : 1) * sizeof *out);
    size_t k = 0;
    if (rows > 0) {
        read_realm(r, realm);
        *checkpoint = db_get_i64(r, 0, 4);
    }
    for (size_t i = 0; i < rows; i++) {
        if (db_is_null(r, i, 5))
            continue; /* no change (or not allowed): one row without one */
        out[k].vlob_id = db_get_str(r, i, 5);
        out[k].version = db_get_i64(r, i, 6);
        k++;
    }
    *changes = out;
    *n = k;
    return rows > 0;
}

/* ---------------------------------------------------------------------------
 * Writes
 */

/* The lock of the vlob's realm.  $1 organization, $2 vlob id. */
DB_STMT(stmt_lock, "vlob_db_lock", 2,
        "SELECT r._id, v._id FROM vlob v JOIN realm r ON r._id = v.realm"
        " WHERE v.organization = $1::bigint AND v.vlob_id = $2::uuid"
        " FOR NO KEY UPDATE OF r");

/* The facts of a write, read by a statement sent after the lock in the
 * same round trip: found by the ids the command has, not by the lock's
 * result, and read with a snapshot taken after the lock was granted.
 * Columns 4-12: the revision's _id, sequestered, realm id, vlob id taken,
 * latest version and its timestamp, realm._id, realm's checkpoint,
 * vlob._id. */
#define FACTS_COLUMNS                                                                              \
    "SELECT " REALM_COLUMNS ", e._id, o.sequester_authority_certificate IS NOT NULL, r.realm_id,"
#define FACTS_JOINS                                                                                \
    " JOIN organization o ON o._id = r.organization"                                               \
    " LEFT JOIN vlob_encryption_revision e ON e.realm = r._id"                                     \
    "  AND e.encryption_revision = r.encryption_revision"                                          \
    " LEFT JOIN LATERAL " REALM_DB_ROLE_SQL("r._id", "$3::bigint") " cr ON true"

/* Of a realm (create, reencryption batch): $1 organization, $2 realm id,
 * $3 the caller's user, $4 vlob id (create) or NULL. */
DB_STMT(stmt_facts_realm, "vlob_db_facts_realm", 4,
        FACTS_COLUMNS "  $4::uuid IS NOT NULL AND EXISTS (SELECT 1 FROM vlob"
                      "   WHERE organization = r.organization AND vlob_id = $4::uuid),"
                      "  NULL::integer, NULL::timestamptz, r._id, r.checkpoint, NULL::bigint"
                      " FROM realm r" FACTS_JOINS
                      " WHERE r.organization = $1::bigint AND r.realm_id = $2::uuid");

/* Of a vlob (update): $1 organization, $2 vlob id, $3 the caller's user.
 * A vlob never changes realm. */
DB_STMT(stmt_facts_vlob, "vlob_db_facts_vlob", 3,
        FACTS_COLUMNS "  false, la.version, la.created_on, r._id, r.checkpoint, v._id"
                      " FROM vlob v JOIN realm r ON r._id = v.realm" FACTS_JOINS
                      " LEFT JOIN LATERAL (SELECT version, created_on FROM vlob_atom"
                      "   WHERE vlob = v._id AND vlob_encryption_revision = e._id"
                      "   ORDER BY version DESC LIMIT 1) la ON true"
                      " WHERE v.organization = $1::bigint AND v.vlob_id = $2::uuid");

/*
 * What every write does once its version (CTE a: _id, size) is stored: the
 * realm's checkpoint and counters (the realm's row is the command's lock),
 * the change numbered by that checkpoint, the author's latest vlob write
 * (GREATEST ignores NULL).  Each row touched here costs the write about
 * what two SELECTs cost (bench/README.md): keep them few.  Parameters shared by
 * both writes: $2 realm, $4 revision._id, $5 blob, $6 author device, $7
 * timestamp, $8 the author's user.
 */
#define WRITE_TAIL                                                                                 \
    " r AS (UPDATE realm SET checkpoint = checkpoint + 1, versions = versions + 1,"                \
    "   vlobs_size = vlobs_size + a.size, metadata_size = metadata_size + a.size"                  \
    "  FROM a WHERE realm._id = $2::bigint RETURNING realm.checkpoint),"                           \
    " u AS (INSERT INTO realm_vlob_update (realm, index, vlob_atom)"                               \
    "  SELECT $2::bigint, r.checkpoint, a._id FROM r, a),"                                         \
    " c AS (INSERT INTO realm_user_change AS c (realm, user_, last_vlob_update)"                   \
    "  SELECT $2::bigint, $8::bigint, $7::timestamptz FROM a"                                      \
    "  ON CONFLICT (realm, user_)"                                                                 \
    "  DO UPDATE SET last_vlob_update = GREATEST(c.last_vlob_update, EXCLUDED.last_vlob_update))"  \
    " SELECT r.checkpoint, a._id FROM r, a"

/* $1 organization, $3 vlob id.  No ON CONFLICT: a creation of the same id
 * in another realm (which this realm's lock does not order) that committed
 * first makes this statement fail with a unique violation, which re-runs
 * the command (cmd.h, "Pipelines"); its facts then see the id taken. */
DB_STMT(stmt_create, "vlob_db_create", 8,
        "WITH v AS (INSERT INTO vlob (organization, realm, vlob_id)"
        "  VALUES ($1::bigint, $2::bigint, $3::uuid) RETURNING _id),"
        " a AS (INSERT INTO vlob_atom (vlob, vlob_encryption_revision, version, blob, size,"
        "   author, created_on)"
        "  SELECT _id, $4::bigint, 1, $5::bytea, length($5::bytea), $6::bigint, $7::timestamptz"
        "  FROM v RETURNING _id, size)," WRITE_TAIL);

/* $1 vlob._id, $3 version (checked free under the lock; taken, it fails
 * with a unique violation). */
DB_STMT(stmt_update, "vlob_db_update", 8,
        "WITH a AS (INSERT INTO vlob_atom (vlob, vlob_encryption_revision, version, blob, size,"
        "   author, created_on)"
        "  VALUES ($1::bigint, $4::bigint, $3::integer, $5::bytea, length($5::bytea),"
        "   $6::bigint, $7::timestamptz)"
        "  RETURNING _id, size)," WRITE_TAIL);

/* The facts row of r (the statement sent after the lock). */
static bool read_facts(cmd_t *cmd, const db_res_t *r, vlob_db_write_facts_t *out)
{
    if (db_nrows(r) != 1) {
        /* the lock found the row, so the facts do: only a failure gets here */
        if (!cmd_failed(cmd)) {
            log_error("vlob_db: a locked realm has no facts");
            cmd_fail(cmd);
        }
        return false;
    }
    read_realm(r, &out->realm);
    out->revision__id = db_get_i64(r, 0, 4);
    out->sequestered = db_get_bool(r, 0, 5);
    db_get_uuid(r, 0, 6, out->realm_id);
    out->vlob_id_taken = db_get_bool(r, 0, 7);
    if (!db_is_null(r, 0, 8)) {
        out->last_version = db_get_i64(r, 0, 8);
        out->last_timestamp = db_get_ts(r, 0, 9);
    }
    out->realm__id = db_get_i64(r, 0, 10);
    out->checkpoint = db_get_i64(r, 0, 11);
    out->vlob__id = db_is_null(r, 0, 12) ? 0 : db_get_i64(r, 0, 12);
    return true;
}

bool vlob_db_lock_realm(cmd_t *cmd, int64_t org, const proto_uuid_t *realm_id, int64_t user__id,
                        const proto_uuid_t *vlob_id, vlob_db_write_facts_t *out)
{
    memset(out, 0, sizeof *out);
    db_res_t *lock = realm_db_lock_queue(cmd, org, realm_id);
    db_res_t *facts = CMD_QUEUE(cmd, &stmt_facts_realm, DB_I64(org), DB_UUID(realm_id->bytes),
                                DB_I64(user__id), vlob_id ? DB_UUID(vlob_id->bytes) : DB_NULL);
    if (!cmd_flush(cmd) || realm_db_locked(lock) == 0)
        return false;
    return read_facts(cmd, facts, out);
}

bool vlob_db_lock_vlob(cmd_t *cmd, int64_t org, const proto_uuid_t *vlob_id, int64_t user__id,
                       vlob_db_write_facts_t *out)
{
    memset(out, 0, sizeof *out);
    db_res_t *lock = CMD_QUEUE(cmd, &stmt_lock, DB_I64(org), DB_UUID(vlob_id->bytes));
    db_res_t *facts =
        CMD_QUEUE(cmd, &stmt_facts_vlob, DB_I64(org), DB_UUID(vlob_id->bytes), DB_I64(user__id));
    if (!cmd_flush(cmd) || db_nrows(lock) != 1)
        return false;
    return read_facts(cmd, facts, out);
}

db_res_t *vlob_db_create(cmd_t *cmd, const proto_uuid_t *vlob_id, const vlob_db_new_t *v)
{
    return CMD_QUEUE(cmd, &stmt_create, DB_I64(v->org), DB_I64(v->realm__id),
                     DB_UUID(vlob_id->bytes), DB_I64(v->revision__id),
                     DB_BYTES(v->blob.data, v->blob.len), DB_I64(v->author__id),
                     DB_TS(v->timestamp), DB_I64(v->user__id));
}

db_res_t *vlob_db_update(cmd_t *cmd, int64_t vlob__id, int64_t version, const vlob_db_new_t *v)
{
    return CMD_QUEUE(cmd, &stmt_update, DB_I64(vlob__id), DB_I64(v->realm__id), DB_I64(version),
                     DB_I64(v->revision__id), DB_BYTES(v->blob.data, v->blob.len),
                     DB_I64(v->author__id), DB_TS(v->timestamp), DB_I64(v->user__id));
}

int64_t vlob_db_written(cmd_t *cmd, const db_res_t *r, int64_t checkpoint)
{
    if (cmd_failed(cmd))
        return 0;
    if (db_nrows(r) != 1 || db_get_i64(r, 0, 0) != checkpoint) {
        log_error("vlob_db: the write did not make checkpoint %lld", (long long)checkpoint);
        cmd_fail(cmd);
        return 0;
    }
    return db_get_i64(r, 0, 1);
}

/* ---------------------------------------------------------------------------
 * Reencryption batches
 *
 * Get: $1 organization, $2 realm id, $3 the caller's user, $4 revision
 * asked, $5 size.  The versions are those of the previous revision without
 * a copy, found through the unique index (vlob, revision, version).
 */
DB_STMT(stmt_batch, "vlob_db_reencryption_batch", 5,
        "SELECT " REALM_COLUMNS ", b.vlob_id, b.version, b.blob"
        " FROM realm r"
        " LEFT JOIN LATERAL " REALM_DB_ROLE_SQL(
            "r._id",
            "$3::bigint") " cr ON true"
                          " LEFT JOIN vlob_encryption_revision eo ON eo.realm = r._id"
                          "  AND eo.encryption_revision = r.encryption_revision - 1"
                          " LEFT JOIN vlob_encryption_revision en ON en.realm = r._id"
                          "  AND en.encryption_revision = r.encryption_revision"
                          " LEFT JOIN LATERAL (SELECT encode(uuid_send(v.vlob_id), 'hex') AS "
                          "vlob_id, a.version,"
                          "   a.blob, a._id FROM vlob_atom a JOIN vlob v ON v._id = a.vlob"
                          "   WHERE a.vlob_encryption_revision = eo._id AND cr.role = 'OWNER'"
                          "    AND r.maintenance_type = 'REENCRYPTION' AND r.encryption_revision = "
                          "$4::integer"
                          "    AND NOT EXISTS (SELECT 1 FROM vlob_atom c WHERE c.vlob = a.vlob"
                          "     AND c.vlob_encryption_revision = en._id AND c.version = a.version)"
                          "   ORDER BY a._id LIMIT $5::bigint) b ON true"
                          " WHERE r.organization = $1::bigint AND r.realm_id = $2::uuid"
                          " ORDER BY b._id");

/*
 * Save: $1 organization, $2 realm, $3 revision, $4 the entries as a JSON
 * array of {"i": vlob id, "n": version, "b": blob in base64}.  DISTINCT ON
 * keeps each (vlob, version) once, its first entry; the joins keep the
 * versions of this realm's vlobs stored at the previous revision; ON
 * CONFLICT skips those already copied.  Each copy keeps the sequester blobs
 * of its original (sq): they are encrypted for the services, not with the
 * realm's key, so they stay valid, and a reader of the current revision
 * finds them (Parsec's memory store lost them, behaviour 15.11).  Returns (total, done): the
 * versions written in the realm (each stored at the previous revision) and
 * the copies at this one.
 */
DB_STMT(stmt_save, "vlob_db_save_batch", 4,
        "WITH x AS ("
        "  SELECT DISTINCT ON (vlob_id, version) vlob_id, version, b FROM ("
        "   SELECT (e.v->>'i')::uuid AS vlob_id, (e.v->>'n')::integer AS version,"
        "    e.v->>'b' AS b, e.ord"
        "   FROM json_array_elements($4::json) WITH ORDINALITY AS e (v, ord)) y"
        "  ORDER BY vlob_id, version, ord),"
        " eo AS (SELECT _id FROM vlob_encryption_revision"
        "  WHERE realm = $2::bigint AND encryption_revision = $3::integer - 1),"
        " en AS (SELECT _id FROM vlob_encryption_revision"
        "  WHERE realm = $2::bigint AND encryption_revision = $3::integer),"
        " i AS ("
        "  INSERT INTO vlob_atom (vlob, vlob_encryption_revision, version, blob, size, author,"
        "   created_on)"
        "  SELECT a.vlob, en._id, a.version, d.blob, length(d.blob), a.author, a.created_on"
        "  FROM x CROSS JOIN LATERAL (SELECT decode(x.b, 'base64') AS blob) d"
        "  JOIN vlob v ON v.organization = $1::bigint AND v.realm = $2::bigint"
        "   AND v.vlob_id = x.vlob_id"
        "  CROSS JOIN eo CROSS JOIN en"
        "  JOIN vlob_atom a ON a.vlob = v._id AND a.vlob_encryption_revision = eo._id"
        "   AND a.version = x.version"
        "  ON CONFLICT (vlob, vlob_encryption_revision, version) DO NOTHING"
        "  RETURNING _id, vlob, version, size),"
        " sq AS ("
        "  INSERT INTO sequester_service_vlob_atom (vlob_atom, service, blob)"
        "  SELECT i._id, q.service, q.blob FROM i CROSS JOIN eo"
        "  JOIN vlob_atom a ON a.vlob = i.vlob AND a.vlob_encryption_revision = eo._id"
        "   AND a.version = i.version"
        "  JOIN sequester_service_vlob_atom q ON q.vlob_atom = a._id),"
        " s AS (SELECT count(*) AS n, COALESCE(SUM(size), 0) AS size FROM i),"
        " ue AS (UPDATE vlob_encryption_revision SET atoms = atoms + s.n FROM s, en"
        "  WHERE vlob_encryption_revision._id = en._id RETURNING atoms),"
        " ur AS (UPDATE realm SET metadata_size = metadata_size + s.size FROM s"
        "  WHERE realm._id = $2::bigint)"
        " SELECT (SELECT versions FROM realm WHERE _id = $2::bigint), ue.atoms FROM ue");

bool vlob_db_reencryption_batch(cmd_t *cmd, int64_t org, const proto_uuid_t *realm_id,
                                int64_t user__id, int64_t revision, int64_t size,
                                vlob_db_realm_t *realm, vlob_db_batch_entry_t **batch, size_t *n)
{
    memset(realm, 0, sizeof *realm);
    db_res_t *r = CMD_RUN(cmd, &stmt_batch, DB_I64(org), DB_UUID(realm_id->bytes), DB_I64(user__id),
                          DB_I64(revision), DB_I64(size));
    size_t rows = db_nrows(r);
    vlob_db_batch_entry_t *out = arena_zalloc(cmd->arena, (rows ? rows : 1) * sizeof *out);
    size_t k = 0;
    if (rows > 0)
        read_realm(r, realm);
    for (size_t i = 0; i < rows; i++) {
        if (db_is_null(r, i, 4))
            continue;
        const char *hex = db_get_str(r, i, 4);
        if (!proto_uuid_parse(hex, strlen(hex), &out[k].vlob_id)) {
            log_error("vlob_db: unexpected vlob id in the database");
            cmd_fail(cmd);
            break;
        }
        out[k].version = db_get_i64(r, i, 5);
        out[k].blob.data = db_get_bytes(r, i, 6, &out[k].blob.len);
        k++;
    }
    *batch = out;
    *n = k;
    return rows > 0;
}

void vlob_db_save_batch(cmd_t *cmd, int64_t org, int64_t realm__id, int64_t revision,
                        const vlob_db_batch_entry_t *entries, size_t n, int64_t *total,
                        int64_t *done)
{
    json_object *a = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "i", json_object_new_string(entries[i].vlob_id.hex));
        json_object_object_add(o, "n", json_object_new_int64(entries[i].version));
        json_object_object_add(o, "b", proto_json_bytes(entries[i].blob.data, entries[i].blob.len));
        json_object_array_add(a, o);
    }
    const char *text = cmd_json_param(cmd, a);

    db_res_t *r =
        CMD_RUN(cmd, &stmt_save, DB_I64(org), DB_I64(realm__id), DB_I64(revision), DB_TEXT(text));
    *total = *done = 0;
    if (db_nrows(r) == 1) {
        *total = db_get_i64(r, 0, 0);
        *done = db_get_i64(r, 0, 1);
    } else if (!cmd_failed(cmd)) {
        /* the maintenance was checked under the lock: both revisions exist */
        log_error("vlob_db: the reencryption save found no revision");
        cmd_fail(cmd);
    }
}
