/*
 * cli/backend_blockstore.c - `parsec backend blockstore check [--repair]
 * [--json] --db URL --blockstore ...`: the operator's scrub
 *
 * Walks the `block` table (blocks not deleted, in creation order) and asks
 * every node of the blockstore for its piece of each block
 * (blockstore_scrub): a RAID hides a lost or damaged copy until a second
 * node fails, and this is where it shows first.  With --repair, missing or
 * different pieces are rewritten from the other nodes.
 *
 * Output (text): one line per block that is not entirely right, then a
 * summary:
 *
 *   damaged OrgA/3b917792-35ac-409f-9af1-fe6de8d2b905 (1000 bytes): node 1 missing (repaired)
 *   unreadable OrgB/... (20 bytes): node 0 missing, node 1 different
 *   unchecked OrgA/... (5 bytes): node 2 unreachable
 *   checked 120 blocks: 117 ok, 2 damaged (2 repaired), 0 unreadable, 1 unchecked
 *
 * --json prints one JSON object instead (docs/blockstore.md).  Exit status:
 * 0 every block is right on every node (after repairs); 1 a block is
 * damaged and was not repaired, or cannot be read at all; 2 bad usage or
 * settings, or the blockstore cannot be opened; 3 the check is incomplete
 * (a node unreachable for some block, or the database failed midway) but
 * found nothing of status 1.
 */
#include "cli.h"

#include "blockstore.h"
#include "cfg.h"
#include "db.h"
#include "log.h"
#include "strbuf.h"
#include "xalloc.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "parsec backend blockstore check"
#define PAGE "500"

typedef struct {
    long blocks, ok, damaged, repaired, unreadable, unchecked;
    bool incomplete; /* the database failed before the end */
    bool json;
    json_object *problems;
} tally_t;

static const db_stmt_t q_page = {
    "bs_check_page",
    "SELECT b._id, o.organization_id, b.block_id::text, b.size FROM block b "
    "JOIN organization o ON o._id = b.organization "
    "WHERE b._id > $1::int AND b.deleted_on IS NULL ORDER BY b._id LIMIT " PAGE,
    1};

static bool parse_uuid(const char *s, uint8_t out[16])
{
    int n = 0;
    for (; *s && n < 32; s++) {
        int v;
        if (*s == '-')
            continue;
        if (*s >= '0' && *s <= '9')
            v = *s - '0';
        else if (*s >= 'a' && *s <= 'f')
            v = *s - 'a' + 10;
        else
            return false;
        if (n % 2 == 0)
            out[n / 2] = (uint8_t)(v << 4);
        else
            out[n / 2] |= (uint8_t)v;
        n++;
    }
    return n == 32 && !*s;
}

/* report - one block's verdict into the tally, the text line or JSON. */
static void report(tally_t *t, const char *org, const char *uuid, long size,
                   const blockstore_scrub_t *s)
{
    bool damage = false, repair_failed = false, unreachable = false;
    for (size_t i = 0; i < s->n_nodes; i++) {
        if (s->repaired[i] || s->node[i] == BLOCKSTORE_NODE_MISSING ||
            s->node[i] == BLOCKSTORE_NODE_DIFFERENT)
            damage = true;
        if (s->node[i] == BLOCKSTORE_NODE_MISSING || s->node[i] == BLOCKSTORE_NODE_DIFFERENT)
            repair_failed = true;
        if (s->node[i] == BLOCKSTORE_NODE_UNREACHABLE)
            unreachable = true;
    }
    const char *verdict;
    t->blocks++;
    if (!s->readable) {
        verdict = "unreadable";
        t->unreadable++;
    } else if (damage) {
        verdict = "damaged";
        t->damaged++;
        if (!repair_failed)
            t->repaired++;
    } else if (unreachable) {
        verdict = "unchecked";
        t->unchecked++;
    } else {
        t->ok++;
        return;
    }
    if (t->json) {
        json_object *o = json_object_new_object(), *nodes = json_object_new_array();
        json_object_object_add(o, "organization_id", json_object_new_string(org));
        json_object_object_add(o, "block_id", json_object_new_string(uuid));
        json_object_object_add(o, "size", json_object_new_int64(size));
        json_object_object_add(o, "state", json_object_new_string(verdict));
        if (s->ambiguous)
            json_object_object_add(o, "ambiguous", json_object_new_boolean(1));
        for (size_t i = 0; i < s->n_nodes; i++) {
            if (s->node[i] == BLOCKSTORE_NODE_UNUSED)
                continue;
            json_object *n = json_object_new_object();
            json_object_object_add(n, "node", json_object_new_int((int)i));
            json_object_object_add(
                n, "state",
                json_object_new_string(s->repaired[i] ? "repaired"
                                                      : blockstore_node_state_name(s->node[i])));
            if (s->repair_failed[i])
                json_object_object_add(n, "repair_failed", json_object_new_boolean(1));
            json_object_array_add(nodes, n);
        }
        json_object_object_add(o, "nodes", nodes);
        json_object_array_add(t->problems, o);
        return;
    }
    strbuf_t line = STRBUF_INIT;
    strbuf_printf(&line, "%s %s/%s (%ld bytes):", verdict, org, uuid, size);
    bool first = true;
    for (size_t i = 0; i < s->n_nodes; i++) {
        if (s->node[i] == BLOCKSTORE_NODE_OK && !s->repaired[i])
            continue;
        if (s->node[i] == BLOCKSTORE_NODE_UNUSED)
            continue;
        strbuf_printf(&line, "%s node %zu %s", first ? "" : ",", i,
                      s->repaired[i] ? "missing or different (repaired)"
                                     : blockstore_node_state_name(s->node[i]));
        if (s->ambiguous && s->node[i] == BLOCKSTORE_NODE_DIFFERENT)
            strbuf_puts(&line, " (copies disagree, no majority: not repaired)");
        else if (s->repair_failed[i])
            strbuf_puts(&line, " (repair failed)");
        first = false;
    }
    puts(strbuf_cstr(&line));
    fflush(stdout);
    strbuf_free(&line);
}

/* walk - every block, page by page; false when the database failed. */
static bool walk(blockstore_ctx_t *ctx, db_conn_t *db, bool repair, tally_t *t)
{
    char last[24] = "0";
    for (;;) {
        const char *values[1] = {last};
        PGresult *res = db_exec(db, &q_page, values, NULL, NULL);
        if (!res)
            return false;
        int rows = PQntuples(res);
        for (int r = 0; r < rows; r++) {
            const char *org = PQgetvalue(res, r, 1), *uuid = PQgetvalue(res, r, 2);
            long size = strtol(PQgetvalue(res, r, 3), NULL, 10);
            uint8_t id[16];
            blockstore_scrub_t s;
            snprintf(last, sizeof last, "%s", PQgetvalue(res, r, 0));
            if (!parse_uuid(uuid, id) || size < 0)
                continue; /* the schema makes both impossible */
            blockstore_scrub(ctx, db, org, id, (size_t)size, repair, &s);
            report(t, org, uuid, size, &s);
        }
        PQclear(res);
        if (rows < atoi(PAGE))
            return true;
    }
}

/* take_flag - remove every "--name" before a "--" from argv[0..*argc),
 * keeping the order of the rest; was it there? */
static bool take_flag(int *argc, char **argv, const char *name)
{
    bool found = false, options = true;
    int o = 0;
    for (int i = 0; i < *argc; i++) {
        if (options && !strcmp(argv[i], "--"))
            options = false;
        if (options && !strcmp(argv[i], name)) {
            found = true;
            continue;
        }
        argv[o++] = argv[i];
    }
    argv[o] = NULL;
    *argc = o;
    return found;
}

int cli_backend_blockstore(int argc, char **argv)
{
    cfg_t cfg;
    char err[1024];
    int rc = 2;
    bool have_cfg = false, logging = false, curl = false;
    blockstore_t *bs = NULL;
    blockstore_ctx_t *ctx = NULL;
    db_pool_t *pool = NULL;
    db_conn_t *db = NULL;
    tally_t t = {0};
    char **args = NULL;

    if (argc < 1 || strcmp(argv[0], "check") != 0) {
        fprintf(stderr, "usage: %s [--repair] [--json] --db URL --blockstore CONFIG...\n", PROG);
        return 2;
    }
    /* Our two flags are not settings: take them out before cfg_parse. */
    int n = argc - 1;
    args = xcalloc((size_t)argc + 1, sizeof *args);
    memcpy(args, argv + 1, (size_t)n * sizeof *args);
    bool repair = take_flag(&n, args, "--repair");
    t.json = take_flag(&n, args, "--json");
    if (take_flag(&n, args, "--help") || take_flag(&n, args, "-h")) {
        fputs("Checks every piece of every block on every blockstore node (docs/blockstore.md).\n"
              "  --repair   rewrite missing or different pieces from the other nodes\n"
              "  --json     one JSON object instead of text lines\n"
              "Exit status: 0 all right, 1 damaged or unreadable blocks remain, 2 bad usage,\n"
              "3 incomplete (a node unreachable, the database failed).\n\n",
              stdout);
        cfg_usage(stdout, PROG " [--repair] [--json]");
        rc = 0;
        goto cleanup;
    }

    switch (cfg_parse(&cfg, n, args, NULL, err, sizeof err, NULL, NULL)) {
    case CFG_PARSE_OK:
        break;
    case CFG_PARSE_EXIT:
        rc = 0;
        goto cleanup;
    default:
        fprintf(stderr, "%s: %s\n", PROG, err);
        goto cleanup;
    }
    have_cfg = true;
    if (!cfg_require(&cfg, "db", err, sizeof err) ||
        !cfg_require(&cfg, "blockstore", err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", PROG, err);
        goto cleanup;
    }
    if (!strcmp(cfg.db, "MOCKED")) {
        fprintf(stderr,
                "%s: --db MOCKED is the throwaway database of a `parsec backend run`: "
                "give its postgresql:// URL\n",
                PROG);
        goto cleanup;
    }
    if (!log_open(cfg.log_level, cfg.log_format, cfg.log_file, "parsec", err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", PROG, err);
        goto cleanup;
    }
    logging = true;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "%s: cannot initialise libcurl\n", PROG);
        goto cleanup;
    }
    curl = true;
    bs = blockstore_open(&cfg, err, sizeof err);
    if (!bs) {
        fprintf(stderr, "%s: blockstore: %s\n", PROG, err);
        goto cleanup;
    }
    rc = 3;
    cfg.db_min_connections = 1;
    pool = db_pool_open(&cfg, cfg.db, err, sizeof err, NULL);
    if (!pool || !(db = db_acquire(pool))) {
        fprintf(stderr, "%s: %s\n", PROG, pool ? "no database connection" : err);
        goto cleanup;
    }
    ctx = blockstore_ctx_new(bs);
    t.problems = json_object_new_array();
    t.incomplete = !walk(ctx, db, repair, &t);

    if (t.json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "blocks", json_object_new_int64(t.blocks));
        json_object_object_add(o, "ok", json_object_new_int64(t.ok));
        json_object_object_add(o, "damaged", json_object_new_int64(t.damaged));
        json_object_object_add(o, "repaired", json_object_new_int64(t.repaired));
        json_object_object_add(o, "unreadable", json_object_new_int64(t.unreadable));
        json_object_object_add(o, "unchecked", json_object_new_int64(t.unchecked));
        json_object_object_add(o, "complete", json_object_new_boolean(!t.incomplete));
        json_object_object_add(o, "problems", json_object_get(t.problems));
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
    } else {
        printf("checked %ld blocks: %ld ok, %ld damaged (%ld repaired), %ld unreadable, %ld "
               "unchecked%s\n",
               t.blocks, t.ok, t.damaged, t.repaired, t.unreadable, t.unchecked,
               t.incomplete ? "; stopped early: the database failed" : "");
    }
    if (t.incomplete)
        fprintf(stderr, "%s: the database failed before every block was checked\n", PROG);
    if (t.unreadable || t.damaged > t.repaired)
        rc = 1;
    else if (t.unchecked || t.incomplete)
        rc = 3;
    else
        rc = 0;
cleanup:
    json_object_put(t.problems);
    blockstore_ctx_free(ctx);
    if (db)
        db_release(pool, db);
    db_pool_close(pool);
    blockstore_close(bs);
    if (curl)
        curl_global_cleanup();
    if (logging)
        log_close();
    if (have_cfg)
        cfg_free(&cfg);
    free(args);
    return rc;
}
