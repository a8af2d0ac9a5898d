/*
 * fcgi-api/cmd/block_db.h - the SQL of blocks: the claim of an id, its
 * record, the row a read starts from
 *
 * Storage (sql/0001_initial.sql, 0006_blocks.sql): a `block` row per block
 * (unique per organization), a `block_claim` row per id being created, the
 * realm's blocks_size counter.  The bytes are the blockstore's.
 *
 * The block commands are CMD_STATEMENTS: each statement commits by
 * itself, and none is held open while the store answers.
 *
 * block_create (fcgi-api/cmd/block.c) in three steps, so that no pooled
 * connection waits on S3 or Swift and nothing half-written is a block:
 *
 *   1. block_db_claim(): one statement reads the realm, the caller's role
 *      and the maintenance and, when they allow the write, claims the id
 *      (a token returned); then block_db_exists() in a LATER statement: a
 *      create that recorded the id while the claim waited for its row is
 *      seen (READ COMMITTED: each statement its own snapshot); when it
 *      is, block_db_unclaim().
 *   2. the store, with no connection held (unless the store is
 *      PostgreSQL);
 *   3. block_db_record(): one statement that turns the claim (this token
 *      only) into the block row and raises the realm's counter; or, after
 *      a store failure, block_db_unclaim().
 *
 * Ownership: what the functions return lives in cmd->arena.
 */
#ifndef PARSEC_BLOCK_DB_H
#define PARSEC_BLOCK_DB_H

#include "cmd.h"
#include "realm_db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a command checks about a realm (create) or a block's realm (read). */
typedef struct {
    bool found;       /* the realm (create) or the block (read) exists in the organization */
    int64_t realm;    /* realm._id */
    certif_role role; /* the caller's; CERTIF_ROLE_NONE: none */
    realm_db_maintenance maintenance;
    int64_t size; /* read: the block's size */
} block_db_facts_t;

/*
 * block_db_claim - the realm realm_id of org as seen by user__id (facts),
 * and, when the caller may write there (OWNER, MANAGER, CONTRIBUTOR) and
 * it is out of maintenance, block_id of org taken for this create: a fresh
 * claim, or one older than stale_after_s seconds taken over.  True and the
 * claim's token in token when claimed; false otherwise (no realm, a
 * refusal the facts tell, another create holding the id, or the statement
 * failed: see cmd_failed).
 */
bool block_db_claim(cmd_t *cmd, int64_t org, const proto_uuid_t *realm_id, int64_t user__id,
                    const proto_uuid_t *block_id, int64_t stale_after_s, block_db_facts_t *facts,
                    uint8_t token[16]) __attribute__((warn_unused_result));

/* block_db_exists - org has a block block_id (deleted or not). */
bool block_db_exists(cmd_t *cmd, int64_t org, const proto_uuid_t *block_id);

/*
 * block_db_record - the block row of the claim (org, block_id, token) in
 * realm realm__id by device device__id, size bytes, now; the realm's
 * blocks_size raised; the claim gone.  One statement.  False when the
 * claim is no longer this create's (taken over after it went stale):
 * nothing recorded.
 */
bool block_db_record(cmd_t *cmd, int64_t org, const proto_uuid_t *block_id, const uint8_t token[16],
                     int64_t realm__id, int64_t device__id, int64_t size)
    __attribute__((warn_unused_result));

/* block_db_unclaim - give the claim (org, block_id, token) up, if it is
 * still this create's. */
void block_db_unclaim(cmd_t *cmd, int64_t org, const proto_uuid_t *block_id,
                      const uint8_t token[16]);

/* block_db_read_facts - block block_id of org, its realm and size, as seen
 * by user__id; one statement. */
void block_db_read_facts(cmd_t *cmd, int64_t org, const proto_uuid_t *block_id, int64_t user__id,
                         block_db_facts_t *out);

#endif
