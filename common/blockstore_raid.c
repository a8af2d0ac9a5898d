/*
 * common/blockstore_raid.c - a single store, RAID0, RAID1 and RAID5 over
 * node requests (see blockstore.h for the contract, blockstore_internal.h
 * for the requests)
 *
 * Layouts are Parsec 2.12's, so that data Parsec wrote stays readable:
 *   RAID0  the whole block on node (block id as a 128-bit big-endian
 *          integer) modulo N;
 *   RAID1  the whole block on every node;
 *   RAID5  payload = 4-byte big-endian block length + block + zero
 *          padding, cut into N-1 chunks of ceil((len + 4) / (N - 1))
 *          bytes, chunk i on node i, their XOR on the last node (no
 *          rotation).
 * Every node keeps its piece under the same (organization, block id) name.
 */
#include "blockstore_internal.h"

#include "log.h"
#include "xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t bs_raid0_node(const uint8_t id[16], size_t n)
{
    size_t r = 0;
    for (int i = 0; i < 16; i++)
        r = (r * 256 + id[i]) % n;
    return r;
}

size_t blockstore_raid5_chunk_len(size_t size, size_t n_nodes)
{
    size_t n_data = n_nodes - 1;
    return (size + 4 + n_data - 1) / n_data;
}

void bs_xor_into(uint8_t *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] ^= src[i];
}

void bs_raid5_split(const uint8_t *data, size_t len, size_t n_data, size_t chunk_len, uint8_t *out)
{
    size_t total = n_data * chunk_len;
    uint8_t *parity = out + total;
    memset(out, 0, total);
    out[0] = (uint8_t)(len >> 24);
    out[1] = (uint8_t)(len >> 16);
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    if (len)
        memcpy(out + 4, data, len);
    memcpy(parity, out, chunk_len);
    for (size_t i = 1; i < n_data; i++)
        bs_xor_into(parity, out + i * chunk_len, chunk_len);
}

bool bs_raid5_decode(const uint8_t *payload, size_t n_data, size_t chunk_len, size_t size,
                     uint8_t *buf)
{
    size_t total = n_data * chunk_len;
    if (total < 4)
        return false;
    size_t l = (size_t)payload[0] << 24 | (size_t)payload[1] << 16 | (size_t)payload[2] << 8 |
               (size_t)payload[3];
    if (l != size || l > total - 4)
        return false;
    for (size_t i = 4 + l; i < total; i++)
        if (payload[i])
            return false;
    if (buf && l)
        memcpy(buf, payload + 4, l);
    return true;
}

static blockstore_status one_status(bs_result r)
{
    switch (r) {
    case BSR_OK:
        return BLOCKSTORE_OK;
    case BSR_NOT_FOUND:
        return BLOCKSTORE_NOT_FOUND;
    case BSR_EXISTS:
        return BLOCKSTORE_EXISTS;
    default:
        return BLOCKSTORE_UNAVAILABLE;
    }
}

static void req_init(bs_req_t *req, bs_node_t *node, bs_op op, const char *org, const uint8_t *id)
{
    memset(req, 0, sizeof *req);
    req->node = node;
    req->op = op;
    req->org = org;
    req->block_id = id;
}

static void log_raid(const blockstore_t *bs, const char *what, const char *org,
                     const uint8_t id[16])
{
    char uuid[37];
    bs_uuid_str(id, uuid);
    log_warning("blockstore %s: %s of %s/%s", cfg_raid_name(bs->raid), what, org, uuid);
}

/* ---- create ------------------------------------------------------------------ */

/* create_op - a create (op BS_CREATE, never overwriting) or a claimed
 * write (BS_PUT) of the block over the layout's nodes. */
static blockstore_status create_op(blockstore_ctx_t *ctx, db_conn_t *db, const char *org,
                                   const uint8_t block_id[16], const void *data, size_t len,
                                   bs_op op)
{
    blockstore_t *bs = ctx->bs;
    size_t n = bs->n_nodes;
    bs_req_t one, *reqs = NULL;
    uint8_t *chunks = NULL;
    blockstore_status st = BLOCKSTORE_UNAVAILABLE;
    size_t ok = 0, failed = 0, exists = 0;

    if (strlen(org) > BLOCKSTORE_ORG_MAX || len > UINT32_MAX - 4)
        return BLOCKSTORE_UNAVAILABLE;
    if (bs->raid == CFG_RAID_NONE || bs->raid == CFG_RAID0) {
        size_t k = bs->raid == CFG_RAID0 ? bs_raid0_node(block_id, n) : 0;
        req_init(&one, &bs->nodes[k], op, org, block_id);
        one.data = data;
        one.len = len;
        bs_exec(ctx, db, &one, 1);
        return one.result == BSR_OK || one.result == BSR_EXISTS ? one_status(one.result)
                                                                : BLOCKSTORE_UNAVAILABLE;
    }
    reqs = xcalloc(n, sizeof *reqs);
    size_t chunk_len = 0;
    if (bs->raid == CFG_RAID5) {
        chunk_len = blockstore_raid5_chunk_len(len, n);
        chunks = xmalloc(n * chunk_len);
        bs_raid5_split(data, len, n - 1, chunk_len, chunks);
    }
    for (size_t i = 0; i < n; i++) {
        req_init(&reqs[i], &bs->nodes[i], op, org, block_id);
        if (chunks) {
            reqs[i].data = chunks + i * chunk_len;
            reqs[i].len = chunk_len;
        } else {
            reqs[i].data = data;
            reqs[i].len = len;
        }
    }
    bs_exec(ctx, db, reqs, n);
    for (size_t i = 0; i < n; i++) {
        if (reqs[i].result == BSR_OK)
            ok++;
        else if (reqs[i].result == BSR_EXISTS)
            exists++;
        else
            failed++;
    }
    if (exists) {
        /* Another object has this name on some node: refuse, as a single
         * store would, rather than mix two blocks' pieces. */
        log_raid(bs, "create refused: other bytes already stored under this name on a node", org,
                 block_id);
        st = BLOCKSTORE_EXISTS;
    } else if (failed == 0) {
        st = BLOCKSTORE_OK;
    } else if (bs->partial_create_ok && (bs->raid == CFG_RAID1 ? ok >= 1 : failed <= 1)) {
        log_raid(bs, "create done without a failed node (partial create allowed)", org, block_id);
        st = BLOCKSTORE_OK;
    } else {
        log_raid(bs, "create failed: a node failed", org, block_id);
    }
    free(chunks);
    free(reqs);
    return st;
}

blockstore_status blockstore_create(blockstore_ctx_t *ctx, db_conn_t *db, const char *org,
                                    const uint8_t block_id[16], const void *data, size_t len)
{
    return create_op(ctx, db, org, block_id, data, len, BS_CREATE);
}

blockstore_status blockstore_create_claimed(blockstore_ctx_t *ctx, db_conn_t *db, const char *org,
                                            const uint8_t block_id[16], const void *data,
                                            size_t len)
{
    return create_op(ctx, db, org, block_id, data, len, BS_PUT);
}

/* ---- read -------------------------------------------------------------------- */

/* raid1_read - one node after the other, starting at the block's own node
 * (load spreads over nodes), nodes that failed lately last. */
static blockstore_status raid1_read(blockstore_ctx_t *ctx, db_conn_t *db, const char *org,
                                    const uint8_t id[16], void *buf, size_t size)
{
    blockstore_t *bs = ctx->bs;
    size_t n = bs->n_nodes, start = bs_raid0_node(id, n), not_found = 0, tried = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t j = 0; j < n; j++) {
            bs_node_t *node = &bs->nodes[(start + j) % n];
            if (bs_node_is_down(node) != (pass == 1))
                continue;
            bs_req_t req;
            req_init(&req, node, BS_GET, org, id);
            req.buf = buf;
            req.size = size;
            bs_exec(ctx, db, &req, 1);
            tried++;
            if (req.result == BSR_OK)
                return BLOCKSTORE_OK;
            if (req.result == BSR_NOT_FOUND)
                not_found++;
        }
    }
    log_raid(bs, not_found == tried ? "read: no node has the block" : "read failed on every node",
             org, id);
    return not_found == tried ? BLOCKSTORE_NOT_FOUND : BLOCKSTORE_UNAVAILABLE;
}

/* raid5_rebuild - chunk f of payload as the XOR of the other data chunks
 * and the parity. */
static void raid5_rebuild(uint8_t *payload, size_t n_data, size_t chunk_len, size_t f,
                          const uint8_t *parity)
{
    uint8_t *dst = payload + f * chunk_len;
    memcpy(dst, parity, chunk_len);
    for (size_t i = 0; i < n_data; i++)
        if (i != f)
            bs_xor_into(dst, payload + i * chunk_len, chunk_len);
}

/* run_wanted - fetch, as one batch, the nodes of want[] not asked yet.
 * want is decided before the batch runs: a node that fails during it is
 * marked down, which must not change which results go where. */
static void run_wanted(blockstore_ctx_t *ctx, db_conn_t *db, bs_req_t *reqs, bs_req_t *batch,
                       bool *asked, const bool *want, size_t n)
{
    size_t nb = 0;
    for (size_t i = 0; i < n; i++)
        if (want[i] && !asked[i])
            batch[nb++] = reqs[i];
    bs_exec(ctx, db, batch, nb);
    for (size_t b = 0, i = 0; i < n; i++)
        if (want[i] && !asked[i]) {
            reqs[i] = batch[b++];
            asked[i] = true;
        }
}

static blockstore_status raid5_read(blockstore_ctx_t *ctx, db_conn_t *db, const char *org,
                                    const uint8_t id[16], uint8_t *buf, size_t size)
{
    blockstore_t *bs = ctx->bs;
    size_t n = bs->n_nodes, n_data = n - 1, chunk_len = blockstore_raid5_chunk_len(size, n);
    uint8_t *all = xmalloc(n * chunk_len); /* data chunks, then the parity */
    bs_req_t *reqs = xcalloc(n, sizeof *reqs);
    bs_req_t *batch = xcalloc(n, sizeof *batch);
    bool *asked = xcalloc(n, sizeof *asked), *want = xcalloc(n, sizeof *want);
    blockstore_status st = BLOCKSTORE_UNAVAILABLE;
    size_t bad = 0, f = n;

    for (size_t i = 0; i < n; i++) {
        req_init(&reqs[i], &bs->nodes[i], BS_GET, org, id);
        reqs[i].buf = all + i * chunk_len;
        reqs[i].size = chunk_len;
    }
    bool some_down = false;
    for (size_t i = 0; i < n_data; i++)
        some_down |= bs_node_is_down(&bs->nodes[i]);
    /* The data nodes that did not fail lately; the parity at once when one did. */
    for (size_t i = 0; i < n; i++)
        want[i] = i < n_data ? !bs_node_is_down(&bs->nodes[i]) : some_down;
    run_wanted(ctx, db, reqs, batch, asked, want, n);
    for (size_t i = 0; i < n_data; i++)
        if (asked[i] && reqs[i].result != BSR_OK) {
            bad++;
            f = i;
        } else if (!asked[i]) {
            bad++;
            f = i;
        }
    if (bad >= 2) {
        /* Give the nodes skipped for a recent failure their chance. */
        for (size_t i = 0; i < n; i++)
            want[i] = i < n_data;
        run_wanted(ctx, db, reqs, batch, asked, want, n);
        bad = 0;
        for (size_t i = 0; i < n_data; i++)
            if (reqs[i].result != BSR_OK) {
                bad++;
                f = i;
            }
    }
    if (bad == 0) {
        if (bs_raid5_decode(all, n_data, chunk_len, size, buf)) {
            st = BLOCKSTORE_OK;
            goto cleanup;
        }
        /* Every chunk has the right length but the payload is wrong: find
         * the chunk whose rebuild from parity makes it right. */
        memset(want, 0, n * sizeof *want);
        want[n_data] = true;
        run_wanted(ctx, db, reqs, batch, asked, want, n);
        if (reqs[n_data].result != BSR_OK)
            goto cleanup;
        uint8_t *saved = xmalloc(chunk_len);
        for (size_t i = 0; i < n_data && st != BLOCKSTORE_OK; i++) {
            memcpy(saved, all + i * chunk_len, chunk_len);
            raid5_rebuild(all, n_data, chunk_len, i, all + n_data * chunk_len);
            if (bs_raid5_decode(all, n_data, chunk_len, size, buf)) {
                log_raid(bs, "read: a chunk was wrong, rebuilt from parity", org, id);
                st = BLOCKSTORE_OK;
            }
            memcpy(all + i * chunk_len, saved, chunk_len);
        }
        free(saved);
        if (st != BLOCKSTORE_OK)
            log_raid(bs, "read: the chunks do not make the block", org, id);
        goto cleanup;
    }
    if (bad == 1) {
        memset(want, 0, n * sizeof *want);
        want[n_data] = true;
        run_wanted(ctx, db, reqs, batch, asked, want, n);
        if (reqs[n_data].result != BSR_OK) {
            log_raid(bs, "read failed: a data node and the parity node failed", org, id);
            goto cleanup;
        }
        raid5_rebuild(all, n_data, chunk_len, f, all + n_data * chunk_len);
        if (bs_raid5_decode(all, n_data, chunk_len, size, buf)) {
            st = BLOCKSTORE_OK;
        } else {
            log_raid(bs, "read: the rebuilt chunk does not make the block", org, id);
        }
        goto cleanup;
    }
    {
        size_t nf = 0;
        for (size_t i = 0; i < n_data; i++)
            nf += reqs[i].result == BSR_NOT_FOUND;
        if (nf == n_data) {
            st = BLOCKSTORE_NOT_FOUND;
        } else {
            log_raid(bs, "read failed: more than one node failed", org, id);
        }
    }
cleanup:
    free(want);
    free(asked);
    free(batch);
    free(reqs);
    free(all);
    return st;
}

blockstore_status blockstore_read(blockstore_ctx_t *ctx, db_conn_t *db, const char *org,
                                  const uint8_t block_id[16], void *buf, size_t size)
{
    blockstore_t *bs = ctx->bs;
    if (strlen(org) > BLOCKSTORE_ORG_MAX || size > UINT32_MAX - 4)
        return BLOCKSTORE_UNAVAILABLE;
    switch (bs->raid) {
    case CFG_RAID1:
        return raid1_read(ctx, db, org, block_id, buf, size);
    case CFG_RAID5:
        return raid5_read(ctx, db, org, block_id, buf, size);
    default: {
        size_t k = bs->raid == CFG_RAID0 ? bs_raid0_node(block_id, bs->n_nodes) : 0;
        bs_req_t req;
        req_init(&req, &bs->nodes[k], BS_GET, org, block_id);
        req.buf = buf;
        req.size = size;
        bs_exec(ctx, db, &req, 1);
        return one_status(req.result == BSR_EXISTS ? BSR_FAILED : req.result);
    }
    }
}
