/*
 * common/migrate.c - apply and check the embedded schema migrations
 *
 * The migrations themselves are generated into migrate_items[] (see
 * sql/embed.awk); this file only talks to PostgreSQL through plain libpq.
 */
#include "migrate.h"

#include "db.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int migrate_latest(void)
{
    return migrate_nitems ? migrate_items[migrate_nitems - 1].version : 0;
}

/* "NNNN_name" as written in file names, for messages. */
static void item_label(const migrate_item_t *m, char *buf, size_t n)
{
    snprintf(buf, n, "%04d_%s", m->version, m->name);
}

/* err <- prefix + PostgreSQL's message of res (or of pg) on one line. */
static void pg_fail(PGconn *pg, const PGresult *res, const char *prefix, char *err, size_t errlen)
{
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!msg || !*msg)
        msg = PQerrorMessage(pg);
    char line[512];
    db_msg_line(line, sizeof line, msg);
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state)
        snprintf(err, errlen, "%s: %s (SQLSTATE %s)", prefix, line, state);
    else
        snprintf(err, errlen, "%s: %s", prefix, line);
}

/* Run sql (no parameters, one statement); true when it did what it should. */
static bool run(PGconn *pg, const char *sql, const char *what, char *err, size_t errlen)
{
    PGresult *res = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(res);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        pg_fail(pg, res, what, err, errlen);
    PQclear(res);
    return ok;
}

/* Does schema_migrations exist (in the search path)?  -1 on error. */
static int table_exists(PGconn *pg, char *err, size_t errlen)
{
    PGresult *res = PQexec(pg, "SELECT to_regclass('schema_migrations') IS NOT NULL");
    int r = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        r = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    else
        pg_fail(pg, res, "cannot read the schema version", err, errlen);
    PQclear(res);
    return r;
}

/*
 * The versions recorded in the database, ascending, in *out (malloc'd; the
 * caller frees).  A missing table is an empty list.
 */
static bool recorded_versions(PGconn *pg, int **out, int *n, bool *have_table, char *err,
                              size_t errlen)
{
    *out = NULL;
    *n = 0;
    int exists = table_exists(pg, err, errlen);
    if (exists < 0)
        return false;
    *have_table = exists;
    if (!exists)
        return true;
    PGresult *res = PQexec(pg, "SELECT version FROM schema_migrations ORDER BY version");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        pg_fail(pg, res, "cannot read schema_migrations", err, errlen);
        PQclear(res);
        return false;
    }
    int rows = PQntuples(res);
    int *v = xcalloc((size_t)rows + 1, sizeof *v);
    for (int i = 0; i < rows; i++)
        v[i] = atoi(PQgetvalue(res, i, 0));
    PQclear(res);
    *out = v;
    *n = rows;
    return true;
}

static bool carried(int version)
{
    for (size_t i = 0; i < migrate_nitems; i++)
        if (migrate_items[i].version == version)
            return true;
    return false;
}

static bool recorded(const int *v, int n, int version)
{
    for (int i = 0; i < n; i++)
        if (v[i] == version)
            return true;
    return false;
}

static void status_of(const int *v, int n, migrate_status_t *st)
{
    memset(st, 0, sizeof *st);
    for (int i = 0; i < n; i++) {
        if (v[i] > st->db_version)
            st->db_version = v[i];
        if (carried(v[i])) {
            st->applied++;
        } else {
            if (!st->unknown || v[i] < st->first_unknown)
                st->first_unknown = v[i];
            st->unknown++;
        }
    }
    st->pending = (int)migrate_nitems - st->applied;
}

bool migrate_inspect(PGconn *pg, migrate_status_t *out, char *err, size_t errlen)
{
    int *v, n;
    bool have_table;
    if (!recorded_versions(pg, &v, &n, &have_table, err, errlen))
        return false;
    status_of(v, n, out);
    free(v);
    return true;
}

static void newer_message(const migrate_status_t *st, const char *who, char *err, size_t errlen)
{
    snprintf(err, errlen,
             "database schema is newer than this %s (the database has migration %04d, this %s "
             "knows up to %04d): use a newer parsec",
             who, st->first_unknown, who, migrate_latest());
}

bool migrate_check(PGconn *pg, char *err, size_t errlen)
{
    migrate_status_t st;
    if (!migrate_inspect(pg, &st, err, errlen))
        return false;
    if (st.unknown) {
        newer_message(&st, "server", err, errlen);
        return false;
    }
    if (st.pending) {
        snprintf(err, errlen,
                 "database schema is behind this server (%d migration%s pending, up to %04d): "
                 "run `parsec backend migrate --db URL`",
                 st.pending, st.pending == 1 ? "" : "s", migrate_latest());
        return false;
    }
    return true;
}

/* The 1-based line of a 1-based character position in sql (ASCII assumed). */
static int line_of(const char *sql, long pos)
{
    int line = 1;
    for (long i = 0; i + 1 < pos && sql[i]; i++)
        if (sql[i] == '\n')
            line++;
    return line;
}

/* Apply one migration and its record in one transaction. */
static bool apply_one(PGconn *pg, const migrate_item_t *m, bool create_table, char *err,
                      size_t errlen)
{
    char label[128], what[192];
    item_label(m, label, sizeof label);
    snprintf(what, sizeof what, "migration %s failed", label);

    if (!run(pg, "BEGIN", what, err, errlen))
        return false;
    if (create_table && !run(pg,
                             "CREATE TABLE schema_migrations ("
                             " version INTEGER PRIMARY KEY,"
                             " name TEXT NOT NULL,"
                             " applied_on TIMESTAMPTZ NOT NULL)",
                             what, err, errlen))
        goto fail;

    /* The simple query protocol runs the file's statements in order and
     * stops at the first error, whose result is the one returned. */
    PGresult *res = PQexec(pg, m->sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
        char where[256];
        if (pos)
            snprintf(where, sizeof where, "%s (line %d)", what, line_of(m->sql, atol(pos)));
        else
            snprintf(where, sizeof where, "%s", what);
        pg_fail(pg, res, where, err, errlen);
        PQclear(res);
        goto fail;
    }
    PQclear(res);

    char version[16];
    snprintf(version, sizeof version, "%d", m->version);
    const char *values[2] = {version, m->name};
    res = PQexecParams(pg,
                       "INSERT INTO schema_migrations (version, name, applied_on)"
                       " VALUES ($1, $2, clock_timestamp())",
                       2, NULL, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        pg_fail(pg, res, what, err, errlen);
        PQclear(res);
        goto fail;
    }
    PQclear(res);

    /* COMMIT of a transaction that failed answers ROLLBACK, not an error:
     * the status check catches what the statements above could have
     * missed. */
    if (PQtransactionStatus(pg) != PQTRANS_INTRANS) {
        snprintf(err, errlen, "%s: transaction aborted", what);
        goto fail;
    }
    return run(pg, "COMMIT", what, err, errlen);

fail:
    if (PQtransactionStatus(pg) != PQTRANS_IDLE) {
        PGresult *rb = PQexec(pg, "ROLLBACK");
        PQclear(rb);
    }
    return false;
}

static bool advisory(PGconn *pg, bool lock, char *err, size_t errlen)
{
    char cls[16], id[16];
    snprintf(cls, sizeof cls, "%d", MIGRATE_LOCK_CLASS);
    snprintf(id, sizeof id, "%d", MIGRATE_LOCK_ID);
    const char *values[2] = {cls, id};
    PGresult *res = PQexecParams(pg,
                                 lock ? "SELECT pg_advisory_lock($1::int4, $2::int4)"
                                      : "SELECT pg_advisory_unlock($1::int4, $2::int4)",
                                 2, NULL, values, NULL, NULL, 0);
    bool ok = PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
        pg_fail(pg, res,
                lock ? "cannot take the migration lock" : "cannot release the migration lock", err,
                errlen);
    PQclear(res);
    return ok;
}

migrate_result migrate_apply(PGconn *pg, bool dry_run, migrate_report_fn report, void *arg,
                             int *napplied, char *err, size_t errlen)
{
    migrate_result result = MIGRATE_FAILED;
    int *v = NULL, n = 0, count = 0;
    bool have_table = false, locked = false;

    if (napplied)
        *napplied = 0;
    if (PQstatus(pg) != CONNECTION_OK) {
        pg_fail(pg, NULL, "cannot migrate", err, errlen);
        return MIGRATE_FAILED;
    }
    if (PQtransactionStatus(pg) != PQTRANS_IDLE) {
        snprintf(err, errlen, "cannot migrate: the connection is inside a transaction");
        return MIGRATE_FAILED;
    }
    if (!advisory(pg, true, err, errlen))
        goto cleanup;
    locked = true;
    if (!recorded_versions(pg, &v, &n, &have_table, err, errlen))
        goto cleanup;

    migrate_status_t st;
    status_of(v, n, &st);
    if (st.unknown) {
        newer_message(&st, "binary", err, errlen);
        result = MIGRATE_NEWER;
        goto cleanup;
    }
    for (size_t i = 0; i < migrate_nitems; i++) {
        const migrate_item_t *m = &migrate_items[i];
        if (recorded(v, n, m->version))
            continue;
        if (!dry_run) {
            if (!apply_one(pg, m, !have_table, err, errlen))
                goto cleanup;
            have_table = true;
        }
        count++;
        if (report)
            report(m, dry_run, arg);
    }
    result = MIGRATE_OK;

cleanup:
    if (locked) {
        /* A failed unlock needs no handling: the lock ends with the session. */
        char ignored[256];
        (void)advisory(pg, false, ignored, sizeof ignored);
    }
    free(v);
    if (napplied)
        *napplied = count;
    return result;
}
