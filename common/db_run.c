/*
 * common/db_run.c - typed parameters, typed binary results, the statement
 * registry and the request's connection lease (see db.h)
 *
 * Results are asked for in binary so that a bytea (a block, a vlob blob, a
 * certificate) arrives as the bytes themselves: no hex to decode, no second
 * copy.  The price is decoding the few scalar types by hand, which is what
 * the getters below do, each checking the column's type first so that a
 * statement and its reader cannot silently disagree.
 */
#include "db_internal.h"

#include "log.h"
#include "proto.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* PostgreSQL's built-in type OIDs (catalog/pg_type_d.h, stable across
 * versions; the server headers are not a dependency of this project). */
enum {
    OID_BOOL = 16,
    OID_BYTEA = 17,
    OID_NAME = 19,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_TEXT = 25,
    OID_BPCHAR = 1042,
    OID_VARCHAR = 1043,
    OID_TIMESTAMPTZ = 1184,
    OID_UUID = 2950,
};

/* Microseconds from 1970-01-01 to 2000-01-01, PostgreSQL's epoch. */
#define PG_EPOCH_OFFSET_US INT64_C(946684800000000)

/* ------------------------------------------------------------- registry */

/* Bounds of the parsec_db_stmts section, provided by the linker; weak, so a
 * binary without any DB_STMT still links. */
extern const db_stmt_t *const __start_parsec_db_stmts[] __attribute__((weak));
extern const db_stmt_t *const __stop_parsec_db_stmts[] __attribute__((weak));

size_t db_stmt_count(void)
{
    if (!__start_parsec_db_stmts || !__stop_parsec_db_stmts)
        return 0;
    return (size_t)(__stop_parsec_db_stmts - __start_parsec_db_stmts);
}

const db_stmt_t *db_stmt_at(size_t i)
{
    return i < db_stmt_count() ? __start_parsec_db_stmts[i] : NULL;
}

/* ------------------------------------------------------------------ run */

static void clear_result(void *p)
{
    PQclear(p);
}

db_res_t *db_res_empty(arena_t *a, bool *failed, const db_stmt_t *stmt)
{
    db_res_t *r = arena_zalloc(a, sizeof *r);
    r->failed = failed;
    r->stmt = stmt ? stmt->name : "?";
    return r;
}

db_params_t db_params_of(arena_t *a, const db_val_t *vals, size_t n)
{
    db_params_t p;
    p.values = arena_alloc(a, (n ? n : 1) * sizeof *p.values);
    p.lengths = arena_alloc(a, (n ? n : 1) * sizeof *p.lengths);
    p.formats = arena_alloc(a, (n ? n : 1) * sizeof *p.formats);
    for (size_t i = 0; i < n; i++) {
        const db_val_t *v = &vals[i];
        p.lengths[i] = 0;
        p.formats[i] = 0;
        switch (v->kind) {
        case DB_VAL_NULL:
            p.values[i] = NULL;
            break;
        case DB_VAL_I64:
            p.values[i] = arena_printf(a, "%" PRId64, v->u.i);
            break;
        case DB_VAL_BOOL:
            p.values[i] = v->u.b ? "t" : "f";
            break;
        case DB_VAL_TEXT:
            p.values[i] = v->u.s;
            break;
        case DB_VAL_TS: {
            char *ts = arena_alloc(a, PROTO_DATETIME_LEN + 1);
            proto_datetime_format(v->u.i, ts);
            p.values[i] = ts;
            break;
        }
        case DB_VAL_BYTES:
        case DB_VAL_UUID:
            /* libpq wants a non-NULL pointer for an empty binary value */
            p.values[i] = v->len == 0 && v->kind == DB_VAL_BYTES ? "" : (const char *)v->u.p;
            p.lengths[i] = v->kind == DB_VAL_UUID ? 16 : (int)v->len;
            p.formats[i] = 1;
            break;
        }
    }
    return p;
}

/* A statement run with a parameter count other than its own is a bug. */
bool db_nparams_ok(const db_stmt_t *stmt, size_t n)
{
    if (n == (size_t)stmt->nparams)
        return true;
    log_error("database: statement %s run with %zu parameters, declared %d", stmt->name, n,
              stmt->nparams);
    return false;
}

/* r takes pg (joining the arena). */
void db_res_fill(arena_t *a, db_res_t *r, PGresult *pg)
{
    arena_defer(a, clear_result, pg);
    r->pg = pg;
    r->nrows = (size_t)PQntuples(pg);
}

db_res_t *db_run(db_conn_t *c, arena_t *a, bool *failed, const db_stmt_t *stmt,
                 const db_val_t *vals, size_t n)
{
    if (*failed)
        return db_res_empty(a, failed, stmt);
    if (!c || !db_nparams_ok(stmt, n)) {
        *failed = true;
        return db_res_empty(a, failed, stmt);
    }
    db_params_t p = db_params_of(a, vals, n);
    PGresult *pg = db_exec_fmt(c, stmt, p.values, p.lengths, p.formats, 1);
    if (!pg) {
        *failed = true;
        return db_res_empty(a, failed, stmt);
    }
    db_res_t *r = db_res_empty(a, failed, stmt);
    db_res_fill(a, r, pg);
    return r;
}

/* A result read before its pipeline was sent: a bug, failing the reader. */
static bool read_pending(const db_res_t *r)
{
    if (!r->pending)
        return false;
    log_error("database: %s: read before its pipeline was sent", r->stmt);
    *r->failed = true;
    return true;
}

size_t db_nrows(const db_res_t *r)
{
    if (read_pending(r))
        return 0;
    return r->nrows;
}

size_t db_affected(const db_res_t *r)
{
    if (!r->pg)
        return 0;
    const char *s = PQcmdTuples(r->pg);
    return *s ? (size_t)strtoull(s, NULL, 10) : 0;
}

/* ------------------------------------------------------------- getters */

/*
 * cell - the value at (row, col) when it exists, is not NULL and has one of
 * the types listed (0-terminated); NULL otherwise, after marking a type or
 * range mismatch as a failure.  *len receives the value's length.
 */
static const char *cell(const db_res_t *r, size_t row, int col, const Oid *types, const char *want,
                        int *len)
{
    if (read_pending(r))
        return NULL;
    if (!r->pg)
        return NULL; /* an empty result has no cell: the failure is already recorded */
    if (row >= r->nrows || col < 0 || col >= PQnfields(r->pg)) {
        log_error("database: %s: no cell (%zu, %d)", r->stmt, row, col);
        *r->failed = true;
        return NULL;
    }
    Oid t = PQftype(r->pg, col);
    bool ok = false;
    for (const Oid *p = types; *p; p++)
        ok = ok || *p == t;
    /* enum-like columns of user-defined types read as text */
    if (!ok && types[0] == OID_TEXT && t >= 16384)
        ok = true;
    if (!ok) {
        log_error("database: %s: column %d has type %u, read as %s", r->stmt, col, (unsigned)t,
                  want);
        *r->failed = true;
        return NULL;
    }
    if (PQgetisnull(r->pg, (int)row, col))
        return NULL;
    *len = PQgetlength(r->pg, (int)row, col);
    return PQgetvalue(r->pg, (int)row, col);
}

bool db_is_null(const db_res_t *r, size_t row, int col)
{
    if (read_pending(r))
        return true;
    if (!r->pg || row >= r->nrows || col < 0 || col >= PQnfields(r->pg))
        return true;
    return PQgetisnull(r->pg, (int)row, col);
}

static void bad_length(const db_res_t *r, int col, int len)
{
    log_error("database: %s: column %d has a binary value of %d bytes", r->stmt, col, len);
    *r->failed = true;
}

int64_t db_get_i64(const db_res_t *r, size_t row, int col)
{
    static const Oid types[] = {OID_INT8, OID_INT4, OID_INT2, 0};
    int len = 0;
    const unsigned char *v = (const unsigned char *)cell(r, row, col, types, "an integer", &len);
    if (!v)
        return 0;
    Oid t = PQftype(r->pg, col);
    int want = t == OID_INT8 ? 8 : t == OID_INT4 ? 4 : 2;
    if (len != want) {
        bad_length(r, col, len);
        return 0;
    }
    uint64_t x = 0;
    for (int i = 0; i < len; i++)
        x = x << 8 | v[i];
    if (len == 4)
        return (int32_t)(uint32_t)x;
    if (len == 2)
        return (int16_t)(uint16_t)x;
    return (int64_t)x;
}

bool db_get_bool(const db_res_t *r, size_t row, int col)
{
    static const Oid types[] = {OID_BOOL, 0};
    int len = 0;
    const char *v = cell(r, row, col, types, "a boolean", &len);
    if (!v)
        return false;
    if (len != 1) {
        bad_length(r, col, len);
        return false;
    }
    return v[0] != 0;
}

const char *db_get_str(const db_res_t *r, size_t row, int col)
{
    static const Oid types[] = {OID_TEXT, OID_VARCHAR, OID_BPCHAR, OID_NAME, 0};
    int len = 0;
    /* libpq NUL-terminates every value, binary ones included, and text
     * holds no NUL: the value is a C string as it is */
    return cell(r, row, col, types, "text", &len);
}

const uint8_t *db_get_bytes(const db_res_t *r, size_t row, int col, size_t *out_len)
{
    static const Oid types[] = {OID_BYTEA, 0};
    int len = 0;
    const char *v = cell(r, row, col, types, "bytea", &len);
    *out_len = v ? (size_t)len : 0;
    return (const uint8_t *)v;
}

int64_t db_get_ts(const db_res_t *r, size_t row, int col)
{
    static const Oid types[] = {OID_TIMESTAMPTZ, 0};
    int len = 0;
    const unsigned char *v = (const unsigned char *)cell(r, row, col, types, "timestamptz", &len);
    if (!v)
        return 0;
    if (len != 8) {
        bad_length(r, col, len);
        return 0;
    }
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = x << 8 | v[i];
    int64_t pg = (int64_t)x;
    /* +-infinity are never stored by this server; clamp rather than wrap */
    if (pg > INT64_MAX - PG_EPOCH_OFFSET_US)
        return INT64_MAX;
    return pg + PG_EPOCH_OFFSET_US;
}

bool db_get_uuid(const db_res_t *r, size_t row, int col, uint8_t out[16])
{
    static const Oid types[] = {OID_UUID, 0};
    int len = 0;
    const char *v = cell(r, row, col, types, "uuid", &len);
    if (!v) {
        memset(out, 0, 16);
        return false;
    }
    if (len != 16) {
        bad_length(r, col, len);
        memset(out, 0, 16);
        return false;
    }
    memcpy(out, v, 16);
    return true;
}

/* ----------------------------------------------------------------- lease */

db_conn_t *db_lease_conn(db_lease_t *l)
{
    if (!l->conn && l->pool)
        l->conn = db_acquire(l->pool);
    return l->conn;
}

void db_lease_end(db_lease_t *l)
{
    if (l->conn) {
        db_release(l->pool, l->conn);
        l->conn = NULL;
    }
}
