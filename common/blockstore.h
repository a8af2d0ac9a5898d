/*
 * common/blockstore.h - where block data lives: PostgreSQL, S3, Swift, RAID
 *
 * One interface over every --blockstore of the hosting guide: POSTGRESQL
 * (and MOCKED, which is the same store here: docs/blockstore.md says why),
 * s3:..., swift:... and RAID0/1/5 sets of them.  The store only knows
 * (organization id, block id) -> bytes; the `block` table (who, which realm,
 * size) belongs to the block commands.
 *
 * The command's order, so that nothing half-written is ever a block:
 *
 *     1. check: realm, role, maintenance, and claim the id (already_exists
 *        decided by the database), each statement committing by itself;
 *     2. blockstore_create_claimed(ctx, db, org, id, data, len): OK, or
 *        UNAVAILABLE (answer `timeout`, give the claim up), nothing
 *        recorded;
 *     3. record the block row (and the stats) in one statement that
 *        requires the claim (fcgi-api/cmd/block_db.h).
 *
 *     read: the block row first (not_found, not_allowed, in_maintenance, and
 *     its size), then blockstore_read(ctx, db, org, id, buf, size) into a
 *     buffer of exactly `size` bytes.
 *
 * Database: POSTGRESQL (and MOCKED) nodes run their statements on the db
 * connection the caller passes, as they are: inside the caller's
 * transaction when one is open (so with POSTGRESQL alone the data and the
 * block row can commit together), autocommit otherwise.  When
 * blockstore_uses_db() is false the store never touches db and the caller
 * passes NULL: it holds no pooled connection while S3 or Swift answer.
 *
 * Time: every HTTP call is bounded by --blockstore-connect-timeout and
 * --blockstore-timeout (a RAID runs its nodes' calls concurrently, so a
 * create or read takes about one bound, plus one more for a RAID5 read
 * that has to fetch the parity, or a RAID1 read that falls back to the
 * next node).  PostgreSQL statements are bounded by the connection's
 * statement_timeout (common/db.h).
 *
 * Threads and ownership: a blockstore_t is opened once per process, shared
 * by every thread (it holds the configuration, Swift tokens and which nodes
 * failed lately; its own locks protect them) and closed at exit after
 * every ctx.  A blockstore_ctx_t belongs to one thread at a time: it keeps
 * that thread's libcurl handles, so connections to S3 and Swift are reused
 * from one request to the next.  A worker creates one per request thread
 * at start and frees it when the thread ends.
 *
 * Logging: failures are logged at WARNING with the node, the organization
 * and the block id, the HTTP status or libcurl's reason; never a
 * credential, a token or block bytes.
 */
#ifndef PARSEC_BLOCKSTORE_H
#define PARSEC_BLOCKSTORE_H

#include "cfg.h"
#include "db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct blockstore blockstore_t;
typedef struct blockstore_ctx blockstore_ctx_t;

typedef enum {
    BLOCKSTORE_OK = 0,
    /* read: the store has no such object (every node that answered said
     * so).  For a block the `block` table lists, that is a store fault too:
     * the command answers `timeout`, as Parsec did. */
    BLOCKSTORE_NOT_FOUND,
    /* create: an object with other bytes already has this name; it was left
     * as it was.  The same bytes again are OK (create is idempotent). */
    BLOCKSTORE_EXISTS,
    /* a store failed, timed out, or answered something that is not the
     * block (a truncated or wrong-length object): `timeout` */
    BLOCKSTORE_UNAVAILABLE,
} blockstore_status;

/* Block ids are UUIDs, 16 bytes; organization ids at most this long (the
 * organization_id column of block_data). */
#define BLOCKSTORE_ORG_MAX 32

/*
 * blockstore_open - the store of cfg->blockstore, checked
 *
 * Checks what can be checked without touching data: each S3 bucket answers
 * HEAD, each Swift account authenticates and its container answers HEAD
 * (bounded by the timeouts above).  Wrong credentials or a missing bucket
 * give NULL and one line in err naming the node and the reason (the HTTP
 * status), never a secret; for the binary to print and exit.  POSTGRESQL
 * and MOCKED nodes are not checked here: the schema check of the
 * database covers their table.  cfg is copied what is needed of; it may be
 * freed afterwards.  Call after curl_global_init().  NULL too when
 * cfg->blockstore has no node.
 */
blockstore_t *blockstore_open(const cfg_t *cfg, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* blockstore_close - free bs; every ctx must be freed before.  NULL: no-op. */
void blockstore_close(blockstore_t *bs);

/* blockstore_uses_db - does some node keep its data in PostgreSQL?  Then
 * create, read and scrub need a db connection; otherwise pass NULL. */
bool blockstore_uses_db(const blockstore_t *bs);

/* blockstore_describe - "RAID1 over s3(bucket b) + POSTGRESQL"-style
 * summary for logs, no secret; malloc'd, the caller frees. */
char *blockstore_describe(const blockstore_t *bs);

/* blockstore_ctx_new - one thread's handles (libcurl easy handles, one per
 * HTTP node, and a multi handle to drive a RAID's calls together).  Free
 * with blockstore_ctx_free() before blockstore_close(). */
blockstore_ctx_t *blockstore_ctx_new(blockstore_t *bs);
void blockstore_ctx_free(blockstore_ctx_t *ctx);

/*
 * blockstore_create - store len bytes (0 is fine: an empty block is a
 * block) under (org, block_id)
 *
 * Never overwrites: an object already there with the same bytes is OK,
 * with other bytes EXISTS (nothing written over it).  On S3 the check is a
 * HEAD before the PUT, since S3 servers differ on conditional PUTs (Swift's
 * s3api refuses them): two creates of one name racing can both write, the
 * later bytes win (block_create never races: it claims the id first and
 * uses blockstore_create_claimed).
 * RAID1 and RAID5: without --blockstore-partial-create-ok every node must
 * succeed; with it, RAID1 needs one node and RAID5 all but one.  RAID0
 * writes the one node the id maps to.  UNAVAILABLE leaves whatever nodes
 * did write in place (harmless: no block row names them; a later create of
 * the same bytes is OK on them).
 * org: at most BLOCKSTORE_ORG_MAX bytes; db: see above.
 */
blockstore_status blockstore_create(blockstore_ctx_t *ctx, db_conn_t *db, const char *org,
                                    const uint8_t block_id[16], const void *data, size_t len)
    __attribute__((warn_unused_result));

/*
 * blockstore_create_claimed - blockstore_create for a caller that holds the
 * id: it has checked that no block row names (org, block_id) and no other
 * create of it runs (block_create's claim, fcgi-api/cmd/block_db.h).  What
 * is under the name can only be what a failed create left, which no block
 * row names: it is overwritten, without the HEAD (S3) or the comparison a
 * plain create makes first.  One request per node; never EXISTS.  The RAID
 * and partial_create_ok rules are blockstore_create's.
 */
blockstore_status blockstore_create_claimed(blockstore_ctx_t *ctx, db_conn_t *db, const char *org,
                                            const uint8_t block_id[16], const void *data,
                                            size_t len) __attribute__((warn_unused_result));

/* blockstore_ctx_uses_db - blockstore_uses_db() of ctx's store. */
bool blockstore_ctx_uses_db(const blockstore_ctx_t *ctx);

/*
 * blockstore_read - the block's size bytes into buf (the caller's, e.g. in
 * its request arena)
 *
 * size is the block row's: an object of any other length is never served
 * (a single store or RAID0: UNAVAILABLE; RAID1: the next node; RAID5: the
 * chunk is rebuilt from parity).  RAID1 reads one node, the id choosing
 * which so that load spreads, and falls back to the others; a node that
 * failed in the last few seconds is tried last.  RAID5 reads the data
 * nodes and, when one fails or its chunk is wrong, the parity node; two
 * failures are UNAVAILABLE.  On anything but OK, buf holds garbage.
 */
blockstore_status blockstore_read(blockstore_ctx_t *ctx, db_conn_t *db, const char *org,
                                  const uint8_t block_id[16], void *buf, size_t size)
    __attribute__((warn_unused_result));

/* ---- scrub: `parsec backend blockstore check` ------------------------------ */

/* What one node holds for one block, as the layout says it should. */
typedef enum {
    BLOCKSTORE_NODE_OK = 0,      /* present, right length, right bytes */
    BLOCKSTORE_NODE_MISSING,     /* the node answered: no such object */
    BLOCKSTORE_NODE_DIFFERENT,   /* present but wrong length or other bytes */
    BLOCKSTORE_NODE_UNREACHABLE, /* the node failed or timed out: unknown */
    BLOCKSTORE_NODE_UNUSED,      /* RAID0: not this block's node */
} blockstore_node_state;

#define BLOCKSTORE_NODES_MAX 64 /* CFG_BLOCKSTORE_MAX */

typedef struct {
    size_t n_nodes;
    blockstore_node_state node[BLOCKSTORE_NODES_MAX];
    /* The block could be served (blockstore_read would give OK). */
    bool readable;
    /* RAID1: readable copies of the right length disagree and no majority
     * says which is right: every disagreeing copy is DIFFERENT and none is
     * repaired (the server cannot tell; clients can: blocks are
     * authenticated by their encryption). */
    bool ambiguous;
    /* --repair: nodes rewritten from the others, and whether each rewrite
     * worked (then node[i] is BLOCKSTORE_NODE_OK again). */
    bool repaired[BLOCKSTORE_NODES_MAX];
    bool repair_failed[BLOCKSTORE_NODES_MAX];
} blockstore_scrub_t;

/*
 * blockstore_scrub - compare every node's copy of one block with what the
 * layout says it must be
 *
 * Reads every node (RAID0: the block's node only): RAID1 copies must be
 * the size bytes and equal to each other (the copy most nodes hold is
 * taken as right; without a majority, see ambiguous); RAID5 chunks must
 * have the chunk length, the parity must be their XOR and the length
 * prefix must say size; a single store must hold size bytes.  With repair,
 * a MISSING or DIFFERENT node is rewritten (overwriting) from what the
 * others give, when the block is readable.  Fills *out.
 */
void blockstore_scrub(blockstore_ctx_t *ctx, db_conn_t *db, const char *org,
                      const uint8_t block_id[16], size_t size, bool repair,
                      blockstore_scrub_t *out);

/* blockstore_node_state_name - "ok", "missing", "different", "unreachable",
 * "unused"; static. */
const char *blockstore_node_state_name(blockstore_node_state s);

/* blockstore_status_name - "ok", "not_found", "exists", "unavailable";
 * static. */
const char *blockstore_status_name(blockstore_status s);

/* blockstore_raid5_chunk_len - the length of each RAID5 chunk (data and
 * parity) of a block of size bytes over n_nodes nodes: ceil((size + 4) /
 * (n_nodes - 1)), Parsec's layout. */
size_t blockstore_raid5_chunk_len(size_t size, size_t n_nodes);

#endif
