/*
 * common/blockstore_pg.c - POSTGRESQL and MOCKED nodes: the block_data
 * table of the database the caller's connection is on (see
 * blockstore_internal.h)
 *
 * Rows are (node, organization_id, block_id, data): `node` is the RAID
 * node index, so that several POSTGRESQL nodes of one RAID keep apart
 * copies.  Blocks travel as binary parameters and binary results: no hex
 * or escape round trip, one copy out of the PGresult.  A create never
 * overwrites (ON CONFLICT DO NOTHING, then a comparison); a repair does
 * (ON CONFLICT DO UPDATE).
 */
#include "blockstore_internal.h"

#include "log.h"
#include "xalloc.h"

#include <stdio.h>
#include <string.h>

static const db_stmt_t q_get = {
    "bs_pg_get",
    "SELECT data FROM block_data WHERE node = $1::int2 AND organization_id = $2 AND block_id = $3",
    3};
static const db_stmt_t q_create = {
    "bs_pg_create",
    "INSERT INTO block_data (node, organization_id, block_id, data) VALUES ($1::int2, $2, $3, $4) "
    "ON CONFLICT (node, organization_id, block_id) DO NOTHING",
    4};
static const db_stmt_t q_same = {"bs_pg_same",
                                 "SELECT data = $4 FROM block_data WHERE node = $1::int2 AND "
                                 "organization_id = $2 AND block_id = $3",
                                 4};
static const db_stmt_t q_put = {
    "bs_pg_put",
    "INSERT INTO block_data (node, organization_id, block_id, data) VALUES ($1::int2, $2, $3, $4) "
    "ON CONFLICT (node, organization_id, block_id) DO UPDATE SET data = EXCLUDED.data",
    4};

static void fail(bs_node_t *n, bs_req_t *req, db_conn_t *db, const char *what)
{
    char uuid[37];
    bs_uuid_str(req->block_id, uuid);
    log_warning("blockstore %s: %s of %s/%s failed%s%s", n->label, what, req->org, uuid,
                db ? ", SQLSTATE " : ": no database connection", db ? db_last_sqlstate(db) : "");
    req->result = BSR_FAILED;
}

static void pg_run(bs_node_t *n, db_conn_t *db, bs_req_t *req)
{
    char node[8];
    snprintf(node, sizeof node, "%zu", n->index);
    const char *values[4] = {node, req->org, (const char *)req->block_id,
                             req->data ? (const char *)req->data : ""};
    const int lengths[4] = {0, 0, 16, (int)req->len};
    const int formats[4] = {0, 0, 1, 1};
    PGresult *res = NULL;
    if (!db) {
        fail(n, req, db, req->op == BS_GET ? "read" : "write");
        return;
    }
    if (req->op == BS_GET) {
        res = db_exec_fmt(db, &q_get, values, lengths, formats, 1);
        if (!res) {
            fail(n, req, db, "read");
        } else if (PQntuples(res) == 0) {
            req->result = BSR_NOT_FOUND;
        } else if ((size_t)PQgetlength(res, 0, 0) != req->size) {
            char uuid[37];
            bs_uuid_str(req->block_id, uuid);
            log_warning("blockstore %s: %s/%s is %d bytes, expected %zu: not served", n->label,
                        req->org, uuid, PQgetlength(res, 0, 0), req->size);
            req->got = (size_t)PQgetlength(res, 0, 0);
            req->result = BSR_WRONG_SIZE;
        } else {
            if (req->size)
                memcpy(req->buf, PQgetvalue(res, 0, 0), req->size);
            req->got = req->size;
            req->result = BSR_OK;
        }
    } else if (req->op == BS_PUT) {
        res = db_exec_fmt(db, &q_put, values, lengths, formats, 1);
        if (!res)
            fail(n, req, db, "rewrite");
        else
            req->result = BSR_OK;
    } else {
        res = db_exec_fmt(db, &q_create, values, lengths, formats, 1);
        if (!res) {
            fail(n, req, db, "create");
        } else if (strcmp(PQcmdTuples(res), "1") == 0) {
            req->result = BSR_OK;
        } else {
            /* The name is taken: the same bytes are a repeated create. */
            PQclear(res);
            res = db_exec_fmt(db, &q_same, values, lengths, formats, 1);
            if (!res || PQntuples(res) != 1 || PQgetlength(res, 0, 0) != 1)
                fail(n, req, db, "create");
            else
                req->result = PQgetvalue(res, 0, 0)[0] ? BSR_OK : BSR_EXISTS;
        }
    }
    PQclear(res);
}

static const bs_backend_t pg_backend = {.name = "POSTGRESQL", .run_sync = pg_run};
static const bs_backend_t mocked_backend = {.name = "MOCKED", .run_sync = pg_run};

bool bs_pg_init(bs_node_t *n, const cfg_blockstore_node *c, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    n->be = c->kind == CFG_BS_MOCKED ? &mocked_backend : &pg_backend;
    snprintf(n->label, sizeof n->label, "node %zu (%s)", n->index, n->be->name);
    return true;
}
