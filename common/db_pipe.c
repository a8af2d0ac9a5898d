/*
 * common/db_pipe.c - pipelines: several statements in one round trip
 * (libpq's pipeline mode), and the typed queue in front of it (see db.h)
 *
 * db_exec_pipeline() sends BEGIN, the statements (each prepared in the same
 * trip when the session lacks it) and COMMIT, then one Sync, and reads the
 * answers back slot by slot, recording the first failure as db_exec()
 * would (db_internal.h).  db_pipe_* queues typed statements as db_run()
 * takes them and hands their results out as db_run()'s, once sent.
 */
#include "db_internal.h"

#include "log.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ the round trip */

/* What each answer of a pipeline belongs to, in the order sent. */
typedef enum { PIPE_BEGIN, PIPE_PREPARE, PIPE_STMT, PIPE_COMMIT } pipe_kind;
typedef struct {
    pipe_kind kind;
    size_t item;
} pipe_slot_t;

static int send_simple(PGconn *pg, const char *sql)
{
    return PQsendQueryParams(pg, sql, 0, NULL, NULL, NULL, NULL, 0);
}

/* Queue everything of the pipeline in libpq (blocking mode: libpq writes
 * when its buffer fills, reading meanwhile, so a long pipeline cannot
 * deadlock) and end it with a Sync.  The slots sent go to slots[0..*k). */
static bool pipe_queue(db_conn_t *c, unsigned flags, const db_exec_item_t *items, size_t n,
                       pipe_slot_t *slots, size_t *k)
{
    *k = 0;
    if ((flags & DB_PIPE_BEGIN)) {
        if (!send_simple(c->pg, "BEGIN"))
            return false;
        slots[(*k)++] = (pipe_slot_t){PIPE_BEGIN, 0};
    }
    for (size_t i = 0; i < n; i++) {
        const db_stmt_t *s = items[i].stmt;
        bool prepare = !db_prepared_has(c, s);
        for (size_t j = 0; prepare && j < i; j++)
            prepare = items[j].stmt != s; /* prepared earlier in this pipeline */
        if (prepare) {
            if (!PQsendPrepare(c->pg, s->name, s->sql, s->nparams, NULL))
                return false;
            slots[(*k)++] = (pipe_slot_t){PIPE_PREPARE, i};
        }
        if (!PQsendQueryPrepared(c->pg, s->name, s->nparams, items[i].values, items[i].lengths,
                                 items[i].formats, items[i].result_format))
            return false;
        slots[(*k)++] = (pipe_slot_t){PIPE_STMT, i};
    }
    if ((flags & DB_PIPE_COMMIT)) {
        if (!send_simple(c->pg, "COMMIT"))
            return false;
        slots[(*k)++] = (pipe_slot_t){PIPE_COMMIT, 0};
    }
    return true;
}

/* The answer of one slot: its result, the NULL that ends it consumed.  NULL
 * when none came (the connection failed). */
static PGresult *pipe_result(db_conn_t *c)
{
    PGresult *res = PQgetResult(c->pg);
    if (!res)
        return NULL;
    /* One result per statement (no single-row mode), then NULL; anything
     * more is read and dropped, bounded by the connection's state. */
    for (PGresult *more; PQstatus(c->pg) == CONNECTION_OK && (more = PQgetResult(c->pg));)
        PQclear(more);
    return res;
}

static bool slot_ok(const pipe_slot_t *s, PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    switch (s->kind) {
    case PIPE_BEGIN:
    case PIPE_PREPARE:
        return st == PGRES_COMMAND_OK;
    case PIPE_STMT:
        return db_result_ok(res);
    case PIPE_COMMIT:
        return st == PGRES_COMMAND_OK && !strcmp(PQcmdStatus(res), "COMMIT");
    }
    return false;
}

static const char *slot_what(const pipe_slot_t *s, const db_exec_item_t *items, const char **name)
{
    *name = NULL;
    switch (s->kind) {
    case PIPE_BEGIN:
        return "BEGIN";
    case PIPE_PREPARE:
        *name = items[s->item].stmt->name;
        return "prepare";
    case PIPE_STMT:
        *name = items[s->item].stmt->name;
        return "statement";
    case PIPE_COMMIT:
        return "COMMIT";
    }
    return "pipeline";
}

/* Read the answers of slots[0..k) then the Sync's.  False on any failure
 * (the first one recorded); *begin_failed: BEGIN was sent and failed. */
static bool pipe_collect(db_conn_t *c, const pipe_slot_t *slots, size_t k, db_exec_item_t *items,
                         bool *begin_failed)
{
    bool ok = true;
    for (size_t s = 0; s < k; s++) {
        PGresult *res = pipe_result(c);
        if (!res) {
            db_record_failure(c, NULL, "pipeline", NULL);
            c->broken = true; /* answers missing: the session cannot be trusted */
            return false;
        }
        const char *name;
        const char *what = slot_what(&slots[s], items, &name);
        if (slot_ok(&slots[s], res)) {
            if (slots[s].kind == PIPE_PREPARE)
                db_prepared_put(c, items[slots[s].item].stmt);
            if (slots[s].kind == PIPE_STMT) {
                items[slots[s].item].res = res;
                res = NULL;
            }
        } else {
            /* PGRES_PIPELINE_ABORTED: skipped after the failure recorded */
            if (ok && PQresultStatus(res) != PGRES_PIPELINE_ABORTED)
                db_record_failure(c, res, what, name);
            else if (ok)
                db_record_failure(c, NULL, what, name); /* aborted before anything failed: a bug */
            if (slots[s].kind == PIPE_BEGIN)
                *begin_failed = true;
            ok = false;
        }
        PQclear(res);
        if (PQstatus(c->pg) != CONNECTION_OK) {
            c->broken = true;
            return false;
        }
    }
    PGresult *sync = PQgetResult(c->pg);
    bool synced = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    PQclear(sync);
    if (!synced) {
        if (ok)
            db_record_failure(c, NULL, "pipeline", NULL);
        c->broken = true;
        return false;
    }
    return ok;
}

/* Leave pipeline mode; a session that cannot is not reused. */
static void pipe_exit(db_conn_t *c)
{
    if (PQpipelineStatus(c->pg) == PQ_PIPELINE_OFF)
        return;
    for (int i = 0; i < 64 && !PQexitPipelineMode(c->pg); i++) {
        PGresult *res = PQstatus(c->pg) == CONNECTION_OK ? PQgetResult(c->pg) : NULL;
        if (!res) {
            c->broken = true;
            return;
        }
        PQclear(res);
    }
    if (PQpipelineStatus(c->pg) != PQ_PIPELINE_OFF)
        c->broken = true;
}

/* One attempt of db_exec_pipeline(). */
static bool pipe_run(db_conn_t *c, unsigned flags, db_exec_item_t *items, size_t n,
                     bool *begin_failed)
{
    size_t nslots = n * 2 + 2, k = 0;
    pipe_slot_t *slots = xcalloc(nslots, sizeof *slots);
    bool ok = false;
    *begin_failed = false;
    if (!PQenterPipelineMode(c->pg)) {
        db_record_failure(c, NULL, "pipeline", NULL);
        *begin_failed = (flags & DB_PIPE_BEGIN) != 0;
        goto cleanup;
    }
    bool queued = pipe_queue(c, flags, items, n, slots, &k);
    bool synced = PQpipelineSync(c->pg) == 1;
    if (!queued || !synced) {
        /* A send failed (the connection, or libpq refused an argument):
         * whatever went out is read back before anything else. */
        db_record_failure(c, NULL, "pipeline", NULL);
        if ((flags & DB_PIPE_BEGIN) && k == 0)
            *begin_failed = true;
        if (synced && PQstatus(c->pg) == CONNECTION_OK) {
            bool ignored = false;
            (void)pipe_collect(c, slots, k, items, &ignored);
        } else {
            c->broken = true;
        }
        goto cleanup;
    }
    ok = pipe_collect(c, slots, k, items, begin_failed);
cleanup:
    pipe_exit(c);
    free(slots);
    return ok;
}

static void pipe_clear_results(db_exec_item_t *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        PQclear(items[i].res);
        items[i].res = NULL;
    }
}

bool db_exec_pipeline(db_conn_t *c, unsigned flags, db_exec_item_t *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        items[i].res = NULL;
    if ((flags & DB_PIPE_BEGIN)) {
        PGTransactionStatusType before = PQtransactionStatus(c->pg);
        if (before == PQTRANS_INTRANS || before == PQTRANS_INERROR || before == PQTRANS_ACTIVE) {
            log_error("database: BEGIN inside a transaction or a running query");
            return false;
        }
        c->sqlstate[0] = '\0';
    }
    bool begin_failed = false;
    bool ok = pipe_run(c, flags, items, n, &begin_failed);
    /* BEGIN failed on a dead session: whatever of the pipeline ran died
     * with the session, uncommitted, so it is sent again on a fresh one.
     * Not when it commits: the answers may have been lost after COMMIT. */
    if (!ok && begin_failed && c->broken && !(flags & DB_PIPE_COMMIT) && db_conn_reconnect(c)) {
        pipe_clear_results(items, n);
        c->sqlstate[0] = '\0';
        ok = pipe_run(c, flags, items, n, &begin_failed);
    }
    if (!ok) {
        pipe_clear_results(items, n);
        /* A COMMIT asked for and not made: end the transaction here, as
         * db_commit() does. */
        if ((flags & DB_PIPE_COMMIT) && !c->broken)
            db_rollback(c);
    }
    return ok;
}

/* ------------------------------------------------------------ the typed queue */

struct db_pipe {
    arena_t *a;
    bool *failed;
    db_exec_item_t *items;
    db_res_t **res;
    size_t n, cap;
};

db_pipe_t *db_pipe_new(arena_t *a, bool *failed)
{
    db_pipe_t *p = arena_zalloc(a, sizeof *p);
    p->a = a;
    p->failed = failed;
    return p;
}

arena_t *db_pipe_arena(const db_pipe_t *p)
{
    return p->a;
}

size_t db_pipe_count(const db_pipe_t *p)
{
    return p->n;
}

db_res_t *db_pipe_add(db_pipe_t *p, const db_stmt_t *stmt, const db_val_t *vals, size_t n)
{
    db_res_t *r = db_res_empty(p->a, p->failed, stmt);
    if (*p->failed)
        return r;
    if (!db_nparams_ok(stmt, n)) {
        *p->failed = true;
        return r;
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        db_exec_item_t *items = arena_zalloc(p->a, cap * sizeof *items);
        db_res_t **res = arena_zalloc(p->a, cap * sizeof *res);
        if (p->n) {
            memcpy(items, p->items, p->n * sizeof *items);
            memcpy(res, p->res, p->n * sizeof *res);
        }
        p->items = items;
        p->res = res;
        p->cap = cap;
    }
    db_params_t pp = db_params_of(p->a, vals, n);
    /* A UUID is usually the caller's local: it is copied, the statement
     * being sent later (text and bytes point to request memory). */
    for (size_t i = 0; i < n; i++)
        if (vals[i].kind == DB_VAL_UUID)
            pp.values[i] = arena_memdup(p->a, vals[i].u.p, 16);
    p->items[p->n] = (db_exec_item_t){stmt, pp.values, pp.lengths, pp.formats, 1, NULL};
    r->pending = true;
    p->res[p->n++] = r;
    return r;
}

void db_pipe_drop(db_pipe_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        p->res[i]->pending = false;
    p->n = 0;
}

bool db_pipe_send(db_pipe_t *p, db_conn_t *c, unsigned flags)
{
    if (*p->failed || !c) {
        *p->failed = true;
        db_pipe_drop(p);
        return false;
    }
    bool ok = db_exec_pipeline(c, flags, p->items, p->n);
    for (size_t i = 0; i < p->n; i++) {
        p->res[i]->pending = false;
        if (ok)
            db_res_fill(p->a, p->res[i], p->items[i].res);
        p->items[i].res = NULL; /* on failure, db_exec_pipeline cleared them */
    }
    p->n = 0;
    if (!ok)
        *p->failed = true;
    return ok;
}
