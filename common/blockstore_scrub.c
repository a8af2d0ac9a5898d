/*
 * common/blockstore_scrub.c - every node's copy of one block against the
 * layout, and its repair (see blockstore_scrub() in blockstore.h)
 *
 * Reading every node at once (not the first good one, as a read does) is
 * the point: a RAID hides a lost or damaged copy until the day a second
 * node fails, and this is where an operator sees it first.
 */
#include "blockstore_internal.h"

#include "log.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

static blockstore_node_state state_of(bs_result r)
{
    switch (r) {
    case BSR_OK:
        return BLOCKSTORE_NODE_OK;
    case BSR_NOT_FOUND:
        return BLOCKSTORE_NODE_MISSING;
    case BSR_WRONG_SIZE:
        return BLOCKSTORE_NODE_DIFFERENT;
    default:
        return BLOCKSTORE_NODE_UNREACHABLE;
    }
}

/* repair - rewrite (overwrite) node i with data[0..len); marks out. */
static void repair(blockstore_ctx_t *ctx, db_conn_t *db, const char *org, const uint8_t id[16],
                   size_t i, const uint8_t *data, size_t len, blockstore_scrub_t *out)
{
    bs_req_t req;
    memset(&req, 0, sizeof req);
    req.node = &ctx->bs->nodes[i];
    req.op = BS_PUT;
    req.org = org;
    req.block_id = id;
    req.data = data;
    req.len = len;
    bs_exec(ctx, db, &req, 1);
    if (req.result == BSR_OK) {
        out->repaired[i] = true;
        out->node[i] = BLOCKSTORE_NODE_OK;
    } else {
        out->repair_failed[i] = true;
    }
}

static bool needs_repair(blockstore_node_state s)
{
    return s == BLOCKSTORE_NODE_MISSING || s == BLOCKSTORE_NODE_DIFFERENT;
}

/* scrub_copies - RAID1 (n nodes) or a single node k (n == 1): whole copies. */
static void scrub_copies(blockstore_ctx_t *ctx, db_conn_t *db, const char *org,
                         const uint8_t id[16], size_t size, bool do_repair, size_t first,
                         size_t count, blockstore_scrub_t *out)
{
    size_t alloc = size ? size : 1;
    uint8_t *copies = xmalloc(count * alloc);
    bs_req_t *reqs = xcalloc(count, sizeof *reqs);
    for (size_t j = 0; j < count; j++) {
        reqs[j].node = &ctx->bs->nodes[first + j];
        reqs[j].op = BS_GET;
        reqs[j].org = org;
        reqs[j].block_id = id;
        reqs[j].buf = copies + j * alloc;
        reqs[j].size = size;
    }
    bs_exec(ctx, db, reqs, count);
    /* The copy most nodes agree on is taken as the block; when two
     * different copies have as many votes, nothing is. */
    size_t best = count, best_votes = 0;
    bool tie = false;
    for (size_t j = 0; j < count; j++) {
        out->node[first + j] = state_of(reqs[j].result);
        if (reqs[j].result != BSR_OK)
            continue;
        size_t votes = 0;
        for (size_t k = 0; k < count; k++)
            votes += reqs[k].result == BSR_OK &&
                     memcmp(copies + j * alloc, copies + k * alloc, size) == 0;
        if (votes > best_votes) {
            best = j;
            best_votes = votes;
            tie = false;
        } else if (votes == best_votes &&
                   memcmp(copies + j * alloc, copies + best * alloc, size) != 0) {
            tie = true;
        }
    }
    out->readable = best < count;
    out->ambiguous = tie;
    for (size_t j = 0; j < count && out->readable; j++)
        if (reqs[j].result == BSR_OK &&
            (tie || memcmp(copies + j * alloc, copies + best * alloc, size) != 0))
            out->node[first + j] = BLOCKSTORE_NODE_DIFFERENT;
    if (tie) {
        char uuid[37];
        bs_uuid_str(id, uuid);
        log_warning("blockstore scrub: copies of %s/%s disagree and no majority says which is "
                    "right: not repaired",
                    org, uuid);
        for (size_t j = 0; j < count && do_repair; j++)
            if (needs_repair(out->node[first + j]))
                out->repair_failed[first + j] = true;
    }
    if (do_repair && out->readable && !tie)
        for (size_t j = 0; j < count; j++)
            if (needs_repair(out->node[first + j]))
                repair(ctx, db, org, id, first + j, copies + best * alloc, size, out);
    free(reqs);
    free(copies);
}

static void scrub_raid5(blockstore_ctx_t *ctx, db_conn_t *db, const char *org, const uint8_t id[16],
                        size_t size, bool do_repair, blockstore_scrub_t *out)
{
    size_t n = ctx->bs->n_nodes, n_data = n - 1;
    size_t cl = blockstore_raid5_chunk_len(size, n);
    uint8_t *all = xmalloc(n * cl), *parity = all + n_data * cl;
    uint8_t * xor = xmalloc(cl);
    bs_req_t *reqs = xcalloc(n, sizeof *reqs);
    size_t bad = 0, f = n;
    for (size_t i = 0; i < n; i++) {
        reqs[i].node = &ctx->bs->nodes[i];
        reqs[i].op = BS_GET;
        reqs[i].org = org;
        reqs[i].block_id = id;
        reqs[i].buf = all + i * cl;
        reqs[i].size = cl;
    }
    bs_exec(ctx, db, reqs, n);
    for (size_t i = 0; i < n; i++) {
        out->node[i] = state_of(reqs[i].result);
        if (reqs[i].result != BSR_OK) {
            bad++;
            f = i;
        }
    }
    if (bad == 0) {
        memset(xor, 0, cl);
        for (size_t i = 0; i < n_data; i++)
            bs_xor_into(xor, all + i *cl, cl);
        bool parity_ok = memcmp(xor, parity, cl) == 0;
        bool decodes = bs_raid5_decode(all, n_data, cl, size, NULL);
        if (decodes && !parity_ok) {
            f = n_data; /* the data make the block: the parity is wrong */
        } else if (!decodes) {
            /* Find the data chunk whose rebuild from parity makes the block. */
            for (size_t i = 0; i < n_data && f == n; i++) {
                memcpy(xor, parity, cl);
                for (size_t k = 0; k < n_data; k++)
                    if (k != i)
                        bs_xor_into(xor, all + k *cl, cl);
                uint8_t *saved = xmalloc(cl);
                memcpy(saved, all + i * cl, cl);
                memcpy(all + i * cl, xor, cl);
                if (bs_raid5_decode(all, n_data, cl, size, NULL))
                    f = i; /* keep the rebuilt chunk in place */
                else
                    memcpy(all + i * cl, saved, cl);
                free(saved);
            }
            if (f == n) {
                /* No single chunk explains it: unreadable, report all. */
                for (size_t i = 0; i < n; i++)
                    out->node[i] = BLOCKSTORE_NODE_DIFFERENT;
                goto cleanup;
            }
        }
        if (f < n) {
            out->node[f] = BLOCKSTORE_NODE_DIFFERENT;
            if (f == n_data)
                memcpy(parity, xor, cl);
        }
        out->readable = true;
    } else if (bad == 1) {
        /* Rebuild the one missing piece from the others. */
        uint8_t *dst = all + f * cl;
        memset(dst, 0, cl);
        for (size_t i = 0; i < n; i++)
            if (i != f)
                bs_xor_into(dst, all + i * cl, cl);
        out->readable = bs_raid5_decode(all, n_data, cl, size, NULL);
        if (!out->readable)
            for (size_t i = 0; i < n; i++)
                if (out->node[i] == BLOCKSTORE_NODE_OK)
                    out->node[i] = BLOCKSTORE_NODE_DIFFERENT;
    }
    if (do_repair && out->readable && f < n && needs_repair(out->node[f]))
        repair(ctx, db, org, id, f, all + f * cl, cl, out);
cleanup:
    free(reqs);
    free(xor);
    free(all);
}

void blockstore_scrub(blockstore_ctx_t *ctx, db_conn_t *db, const char *org,
                      const uint8_t block_id[16], size_t size, bool do_repair,
                      blockstore_scrub_t *out)
{
    blockstore_t *bs = ctx->bs;
    memset(out, 0, sizeof *out);
    out->n_nodes = bs->n_nodes;
    if (strlen(org) > BLOCKSTORE_ORG_MAX || size > UINT32_MAX - 4) {
        for (size_t i = 0; i < bs->n_nodes; i++)
            out->node[i] = BLOCKSTORE_NODE_UNREACHABLE;
        return;
    }
    switch (bs->raid) {
    case CFG_RAID5:
        scrub_raid5(ctx, db, org, block_id, size, do_repair, out);
        break;
    case CFG_RAID1:
        scrub_copies(ctx, db, org, block_id, size, do_repair, 0, bs->n_nodes, out);
        break;
    default: {
        size_t k = bs->raid == CFG_RAID0 ? bs_raid0_node(block_id, bs->n_nodes) : 0;
        for (size_t i = 0; i < bs->n_nodes; i++)
            out->node[i] = BLOCKSTORE_NODE_UNUSED;
        /* One copy: nothing to repair it from. */
        scrub_copies(ctx, db, org, block_id, size, false, k, 1, out);
        break;
    }
    }
}
