/*
 * common/blockstore.c - opening the store, per-thread contexts, names (see
 * blockstore.h; the module's files are listed in blockstore_internal.h)
 */
#include "blockstore_internal.h"

#include "log.h"
#include "strbuf.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_http(const bs_node_t *n)
{
    return n->be && !n->be->run_sync;
}

blockstore_t *blockstore_open(const cfg_t *cfg, char *err, size_t errlen)
{
    const cfg_blockstore *c = &cfg->blockstore;
    blockstore_t *bs;
    err[0] = '\0';
    if (c->n_nodes == 0 || c->n_nodes > BLOCKSTORE_NODES_MAX) {
        snprintf(err, errlen, "no blockstore configured (--blockstore)");
        return NULL;
    }
    bs = xcalloc(1, sizeof *bs);
    bs->raid = c->raid;
    bs->n_nodes = c->n_nodes;
    bs->nodes = xcalloc(c->n_nodes, sizeof *bs->nodes);
    bs->partial_create_ok = cfg->blockstore_partial_create_ok;
    bs->connect_timeout_ms = (long)(cfg->blockstore_connect_timeout * 1000 + 0.5);
    bs->timeout_ms = (long)(cfg->blockstore_timeout * 1000 + 0.5);
    if (bs->connect_timeout_ms < 1)
        bs->connect_timeout_ms = 1;
    if (bs->timeout_ms < 1)
        bs->timeout_ms = 1;
    for (size_t i = 0; i < c->n_nodes; i++) {
        bs_node_t *n = &bs->nodes[i];
        const cfg_blockstore_node *cn = &c->nodes[i];
        bool ok;
        n->index = i;
        n->bs = bs;
        atomic_init(&n->down_until, 0);
        switch (cn->kind) {
        case CFG_BS_MOCKED:
        case CFG_BS_POSTGRESQL:
            ok = bs_pg_init(n, cn, err, errlen);
            bs->uses_db = true;
            break;
        case CFG_BS_S3:
            ok = bs_s3_init(n, cn, err, errlen);
            break;
        case CFG_BS_SWIFT:
            ok = bs_swift_init(n, cn, err, errlen);
            break;
        default:
            snprintf(err, errlen, "blockstore node %zu: not configured", i);
            ok = false;
            break;
        }
        if (!ok)
            goto fail;
    }
    for (size_t i = 0; i < bs->n_nodes; i++)
        if (is_http(&bs->nodes[i]) && !bs_exec_check(bs, &bs->nodes[i], err, errlen))
            goto fail;
    return bs;
fail:
    blockstore_close(bs);
    return NULL;
}

void blockstore_close(blockstore_t *bs)
{
    if (!bs)
        return;
    for (size_t i = 0; i < bs->n_nodes; i++)
        if (bs->nodes[i].be && bs->nodes[i].be->free_priv)
            bs->nodes[i].be->free_priv(&bs->nodes[i]);
    free(bs->nodes);
    free(bs);
}

bool blockstore_uses_db(const blockstore_t *bs)
{
    return bs->uses_db;
}

bool blockstore_ctx_uses_db(const blockstore_ctx_t *ctx)
{
    return ctx->bs->uses_db;
}

char *blockstore_describe(const blockstore_t *bs)
{
    strbuf_t s = STRBUF_INIT;
    if (bs->raid != CFG_RAID_NONE)
        strbuf_printf(&s, "%s%s over ", cfg_raid_name(bs->raid),
                      bs->partial_create_ok && bs->raid != CFG_RAID0 ? " (partial create ok)" : "");
    for (size_t i = 0; i < bs->n_nodes; i++)
        strbuf_printf(&s, "%s%s", i ? ", " : "", bs->nodes[i].label);
    return strbuf_detach(&s);
}

blockstore_ctx_t *blockstore_ctx_new(blockstore_t *bs)
{
    blockstore_ctx_t *ctx = xcalloc(1, sizeof *ctx);
    ctx->bs = bs;
    ctx->easy = xcalloc(bs->n_nodes, sizeof *ctx->easy);
    ctx->multi = curl_multi_init();
    if (!ctx->multi)
        abort(); /* libcurl's only failure here is out of memory */
    for (size_t i = 0; i < bs->n_nodes; i++) {
        if (!is_http(&bs->nodes[i]))
            continue;
        ctx->easy[i] = curl_easy_init();
        if (!ctx->easy[i])
            abort();
    }
    return ctx;
}

void blockstore_ctx_free(blockstore_ctx_t *ctx)
{
    if (!ctx)
        return;
    for (size_t i = 0; i < ctx->bs->n_nodes; i++)
        if (ctx->easy[i])
            curl_easy_cleanup(ctx->easy[i]);
    curl_multi_cleanup(ctx->multi);
    free(ctx->easy);
    free(ctx);
}

const char *blockstore_status_name(blockstore_status s)
{
    switch (s) {
    case BLOCKSTORE_OK:
        return "ok";
    case BLOCKSTORE_NOT_FOUND:
        return "not_found";
    case BLOCKSTORE_EXISTS:
        return "exists";
    default:
        return "unavailable";
    }
}

const char *blockstore_node_state_name(blockstore_node_state s)
{
    switch (s) {
    case BLOCKSTORE_NODE_OK:
        return "ok";
    case BLOCKSTORE_NODE_MISSING:
        return "missing";
    case BLOCKSTORE_NODE_DIFFERENT:
        return "different";
    case BLOCKSTORE_NODE_UNREACHABLE:
        return "unreachable";
    default:
        return "unused";
    }
}
