-- sql/0006_blocks.sql - what block_create and block_read need
--
-- The `block` table (0001) records blocks; their bytes live in the
-- blockstore (common/blockstore.h), which may be S3 or Swift and must not
-- be waited on inside a transaction.  So block_create runs in three steps
-- (fcgi-api/cmd/block.c): claim the id (one statement, with the checks), write the
-- store with no transaction and no pooled connection held (unless the store
-- is PostgreSQL itself), then record the block in one statement.
--
-- block_claim: an id being created.  The claim makes `already_exists` a
-- database fact checked before the store is written (a second create of an
-- id, concurrent or not, never reaches the store, so the original bytes are
-- kept), and it is what the recording statement turns into a `block` row:
-- no claim with the creator's token, no row (nothing half-written is ever a
-- block).  A claim is deleted when its block is recorded or its store write
-- failed.  One left by a worker that died mid-create stops counting once it
-- is older than the longest a store write can take (the command's
-- stale_after, derived from the blockstore timeouts); the next create of
-- that id takes it over with a new token.
--
-- realm.blocks_size: bytes of the realm's (non-deleted) blocks, raised by
-- the recording statement, so that realm_stats and organization_stats
-- never sum the block table.  It starts from the rows already stored.

CREATE TABLE block_claim (
    organization INTEGER NOT NULL REFERENCES organization (_id),
    block_id UUID NOT NULL,
    token UUID NOT NULL,
    claimed_on TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization, block_id)
);

ALTER TABLE realm
    ADD COLUMN blocks_size BIGINT NOT NULL DEFAULT 0 CHECK (blocks_size >= 0);

UPDATE realm r SET
    blocks_size = COALESCE((SELECT SUM(b.size) FROM block b
                            WHERE b.realm = r._id AND b.deleted_on IS NULL), 0);
