/*
 * fcgi-api/cmd/block_db.c - the SQL of blocks (see block_db.h)
 */
#include "block_db.h"

#include <string.h>

/* $1 organization, $2 realm id, $3 the caller's user, $4 block id, $5
 * seconds after which a claim is stale.  No row: no realm.  The claim is
 * made only for a writer of a realm out of maintenance; a NULL token then
 * means a live claim of another create holds the id. */
DB_STMT(
    stmt_claim, "block_db_claim", 5,
    "WITH f AS (SELECT r._id, cr.role, r.maintenance_type"
    "   FROM realm r"
    "   LEFT JOIN LATERAL " REALM_DB_ROLE_SQL(
        "r._id",
        "$3::bigint") " cr ON true"
                      "   WHERE r.organization = $1::bigint AND r.realm_id = $2::uuid),"
                      " cl AS (INSERT INTO block_claim AS c (organization, block_id, token, "
                      "claimed_on)"
                      "   SELECT $1::bigint, $4::uuid, gen_random_uuid(), clock_timestamp() FROM f"
                      "   WHERE f.role IN ('OWNER', 'MANAGER', 'CONTRIBUTOR') AND "
                      "f.maintenance_type IS NULL"
                      "   ON CONFLICT (organization, block_id) DO UPDATE"
                      "     SET token = EXCLUDED.token, claimed_on = EXCLUDED.claimed_on"
                      "     WHERE c.claimed_on < clock_timestamp() - $5::bigint * interval '1 "
                      "second'"
                      "   RETURNING c.token)"
                      " SELECT f._id, f.role, f.maintenance_type, (SELECT token FROM cl) FROM f");

DB_STMT(stmt_exists, "block_db_exists", 2,
        "SELECT 1 FROM block WHERE organization = $1::bigint AND block_id = $2::uuid");

/* $1 organization, $2 block id, $3 token, $4 realm, $5 author, $6 size.
 * The block exists only if this create's claim did: both in one
 * statement, with the realm's counter. */
DB_STMT(stmt_record, "block_db_record", 6,
        "WITH c AS (DELETE FROM block_claim"
        "   WHERE organization = $1::bigint AND block_id = $2::uuid AND token = $3::uuid"
        "   RETURNING organization, block_id),"
        " b AS (INSERT INTO block (organization, block_id, realm, author, size, created_on)"
        "   SELECT c.organization, c.block_id, $4::bigint, $5::bigint, $6::integer, now() FROM c"
        "   RETURNING realm, size)"
        " UPDATE realm r SET blocks_size = r.blocks_size + b.size FROM b WHERE r._id = b.realm"
        " RETURNING 1");

DB_STMT(stmt_unclaim, "block_db_unclaim", 3,
        "DELETE FROM block_claim"
        " WHERE organization = $1::bigint AND block_id = $2::uuid AND token = $3::uuid");

/* $1 organization, $2 block id, $3 the caller's user.  No row: no block. */
DB_STMT(stmt_read_facts, "block_db_read_facts", 3,
        "SELECT r._id, cr.role, r.maintenance_type, b.size"
        " FROM block b JOIN realm r ON r._id = b.realm"
        " LEFT JOIN LATERAL " REALM_DB_ROLE_SQL(
            "r._id", "$3::bigint") " cr ON true"
                                   " WHERE b.organization = $1::bigint AND b.block_id = $2::uuid"
                                   "   AND b.deleted_on IS NULL");

static void read_facts(const db_res_t *r, block_db_facts_t *out)
{
    memset(out, 0, sizeof *out);
    if (db_nrows(r) == 0)
        return;
    out->found = true;
    out->realm = db_get_i64(r, 0, 0);
    out->role = db_is_null(r, 0, 1) ? CERTIF_ROLE_NONE : realm_db_role_of(db_get_str(r, 0, 1));
    out->maintenance = realm_db_maintenance_of(db_get_str(r, 0, 2));
}

bool block_db_claim(cmd_t *cmd, int64_t org, const proto_uuid_t *realm_id, int64_t user__id,
                    const proto_uuid_t *block_id, int64_t stale_after_s, block_db_facts_t *facts,
                    uint8_t token[16])
{
    db_res_t *r = CMD_RUN(cmd, &stmt_claim, DB_I64(org), DB_UUID(realm_id->bytes), DB_I64(user__id),
                          DB_UUID(block_id->bytes), DB_I64(stale_after_s));
    read_facts(r, facts);
    return facts->found && !db_is_null(r, 0, 3) && db_get_uuid(r, 0, 3, token);
}

bool block_db_exists(cmd_t *cmd, int64_t org, const proto_uuid_t *block_id)
{
    return db_nrows(CMD_RUN(cmd, &stmt_exists, DB_I64(org), DB_UUID(block_id->bytes))) > 0;
}

bool block_db_record(cmd_t *cmd, int64_t org, const proto_uuid_t *block_id, const uint8_t token[16],
                     int64_t realm__id, int64_t device__id, int64_t size)
{
    db_res_t *r = CMD_RUN(cmd, &stmt_record, DB_I64(org), DB_UUID(block_id->bytes), DB_UUID(token),
                          DB_I64(realm__id), DB_I64(device__id), DB_I64(size));
    return db_nrows(r) == 1;
}

void block_db_unclaim(cmd_t *cmd, int64_t org, const proto_uuid_t *block_id,
                      const uint8_t token[16])
{
    CMD_RUN(cmd, &stmt_unclaim, DB_I64(org), DB_UUID(block_id->bytes), DB_UUID(token));
}

void block_db_read_facts(cmd_t *cmd, int64_t org, const proto_uuid_t *block_id, int64_t user__id,
                         block_db_facts_t *out)
{
    db_res_t *r =
        CMD_RUN(cmd, &stmt_read_facts, DB_I64(org), DB_UUID(block_id->bytes), DB_I64(user__id));
    read_facts(r, out);
    if (out->found)
        out->size = db_get_i64(r, 0, 3);
}
