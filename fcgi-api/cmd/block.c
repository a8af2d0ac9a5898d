/*
 * fcgi-api/cmd/block.c - block_create and block_read (docs/protocol.md,
 * "block_create, block_read"; the store is common/blockstore.h)
 *
 * Neither command holds a pooled connection, nor a transaction, while S3
 * or Swift answer (CMD_STATEMENTS: each statement commits by itself):
 * create claims the id, gives the connection back, writes the store, then
 * records the block in one statement (block_db.h); read takes the block's
 * row, gives the connection back, then reads the store.
 * Only a store that lives in PostgreSQL (POSTGRESQL, MOCKED, or such a
 * RAID node) gets a connection for its own statements.
 *
 * Two codecs, one core: the JSON form carries the block as base64 in the
 * field "block"; the binary routes (rpc/rpc_block.c) hand the raw bytes in
 * cmd->raw and take the read's bytes back there.  Every other field, check
 * and reply is the same code.
 */
#include "block_db.h"
#include "cmd.h"
#include "log.h"

#include <stdint.h>

/* A block's size is an INTEGER column; the request size limit is lower in
 * any sane deployment. */
#define BLOCK_MAX INT32_MAX

/* How long a claim may be held before another create of the id takes it
 * over: longer than any create can take (an S3 create is two calls, a
 * Swift one may authenticate again, each bounded by the connect and total
 * timeouts, and RAID nodes run concurrently), so a live create never loses
 * its claim; a worker that died mid-create blocks the id that long. */
static int64_t claim_stale_after(const cmd_t *cmd)
{
    double per_call =
        cmd->cfg ? cmd->cfg->blockstore_connect_timeout + cmd->cfg->blockstore_timeout : 35;
    return (int64_t)(4 * per_call) + 30;
}

/* The store's connection: the command's (outside any transaction, after
 * cmd_commit) when some node keeps its data in PostgreSQL, else none. */
static bool store_db(cmd_t *cmd, db_conn_t **db)
{
    *db = NULL;
    if (!blockstore_ctx_uses_db(cmd->blocks))
        return true;
    *db = cmd_conn(cmd);
    return *db != NULL;
}

static cmd_result block_create(cmd_t *cmd)
{
    proto_uuid_t block_id, realm_id;
    proto_bytes_t block;
    proto_uuid(cmd->in, "block_id", &block_id);
    proto_uuid(cmd->in, "realm_id", &realm_id);
    if (cmd->raw) {
        block.data = cmd->raw->data ? cmd->raw->data : (const uint8_t *)"";
        block.len = cmd->raw->len;
    } else {
        proto_bytes(cmd->in, "block", BLOCK_MAX, &block);
    }
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);
    if (block.len > BLOCK_MAX) {
        proto_in_fail(cmd->in, "block", "at most %d bytes", BLOCK_MAX);
        return cmd_bad_message(cmd);
    }

    int64_t org = cmd->who->org._id;
    block_db_facts_t f;
    uint8_t token[16];
    bool claimed = block_db_claim(cmd, org, &realm_id, cmd->who->user._id, &block_id,
                                  claim_stale_after(cmd), &f, token);
    if (cmd_failed(cmd))
        return CMD_ERROR;
    if (!f.found)
        return cmd_refuse(cmd, "not_found");
    if (f.role != CERTIF_ROLE_OWNER && f.role != CERTIF_ROLE_MANAGER &&
        f.role != CERTIF_ROLE_CONTRIBUTOR)
        return cmd_refuse(cmd, "not_allowed");
    if (f.maintenance != REALM_DB_NO_MAINTENANCE)
        return cmd_refuse(cmd, "in_maintenance");
    if (!claimed)
        return cmd_refuse(cmd, "already_exists");
    if (block_db_exists(cmd, org, &block_id)) {
        block_db_unclaim(cmd, org, &block_id, token);
        return cmd_failed(cmd) ? CMD_ERROR : cmd_refuse(cmd, "already_exists");
    }
    cmd_result r = cmd_commit(cmd); /* the connection back to the pool */
    if (r != CMD_OK)
        return r;

    /* The claim is committed: from here on, every way out records the
     * block or gives the claim up.  The id is ours (no block row, no other
     * create), so the store writes without looking first. */
    blockstore_status st = BLOCKSTORE_UNAVAILABLE;
    db_conn_t *db;
    if (!cmd->blocks)
        log_warning("block_create: no --blockstore configured");
    else if (store_db(cmd, &db))
        st = blockstore_create_claimed(cmd->blocks, db, cmd->who->org.id, block_id.bytes,
                                       block.data, block.len);
    if (st == BLOCKSTORE_OK) {
        if (block_db_record(cmd, org, &block_id, token, f.realm, cmd->who->device._id,
                            (int64_t)block.len))
            return cmd_ok_status(cmd);
        if (cmd_failed(cmd))
            return CMD_ERROR;
        log_warning("block_create: the claim of a block went stale before its store write ended;"
                    " not recorded");
        return cmd_refuse(cmd, "timeout");
    }
    if (!cmd_failed(cmd))
        block_db_unclaim(cmd, org, &block_id, token);
    return cmd_failed(cmd) ? CMD_ERROR : cmd_refuse(cmd, "timeout");
}

static cmd_result block_read(cmd_t *cmd)
{
    proto_uuid_t block_id;
    proto_uuid(cmd->in, "block_id", &block_id);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);

    block_db_facts_t f;
    block_db_read_facts(cmd, cmd->who->org._id, &block_id, cmd->who->user._id, &f);
    if (!f.found)
        return cmd_refuse(cmd, "not_found");
    if (f.role == CERTIF_ROLE_NONE)
        return cmd_refuse(cmd, "not_allowed");
    if (f.maintenance != REALM_DB_NO_MAINTENANCE && f.maintenance != REALM_DB_REENCRYPTION)
        return cmd_refuse(cmd, "in_maintenance");
    cmd_result r = cmd_commit(cmd); /* the connection back to the pool */
    if (r != CMD_OK)
        return r;

    uint8_t *buf = arena_alloc(cmd->arena, f.size ? (size_t)f.size : 1);
    db_conn_t *db;
    blockstore_status st = BLOCKSTORE_UNAVAILABLE;
    if (!cmd->blocks)
        log_warning("block_read: no --blockstore configured");
    else if (store_db(cmd, &db))
        st =
            blockstore_read(cmd->blocks, db, cmd->who->org.id, block_id.bytes, buf, (size_t)f.size);
    if (cmd_failed(cmd))
        return CMD_ERROR;
    if (st != BLOCKSTORE_OK) {
        /* a recorded block the store cannot serve is a store fault */
        return cmd_refuse(cmd, "timeout");
    }
    if (cmd->raw) {
        cmd->raw->data = buf;
        cmd->raw->len = (size_t)f.size;
        return cmd_ok_status(cmd);
    }
    json_object *reply = proto_reply("ok");
    json_object_object_add(reply, "block", proto_json_bytes(buf, (size_t)f.size));
    return cmd_ok(cmd, reply);
}

const cmd_def_t cmd_family_block[] = {
    {"block_create", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_STATEMENTS, block_create},
    {"block_read", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_STATEMENTS, block_read},
    {0},
};

const cmd_def_t cmd_block_create_raw = {"block_create", AUTH_AUTHENTICATED, CMD_ANYONE,
                                        CMD_STATEMENTS, block_create};
const cmd_def_t cmd_block_read_raw = {"block_read", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_STATEMENTS,
                                      block_read};
