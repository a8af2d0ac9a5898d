/*
 * common/migrate.h - the schema migrations compiled into every binary
 *
 * sql/NNNN_name.sql files are turned into migrate_items[] at build time
 * (sql/embed.awk, run by the GNUmakefile), so an installed binary needs no
 * data file to migrate or to check a database.  Migrations are forward-only:
 * each is applied in its own transaction together with its row in
 *
 *   schema_migrations(version INTEGER PRIMARY KEY, name TEXT NOT NULL,
 *                     applied_on TIMESTAMPTZ NOT NULL)
 *
 * so a failed migration leaves the database exactly at the previous one.
 * migrate_apply() holds a session advisory lock (MIGRATE_LOCK_CLASS,
 * MIGRATE_LOCK_ID) for its whole run, so concurrent runs (two ops terminals,
 * several `parsec backend run` with --db MOCKED... never the same database)
 * apply each migration once: the second waits, then finds nothing to do.
 *
 * These functions use a plain PGconn (no pool): `parsec backend migrate`,
 * db_pool_open()'s schema check and the tests call them.  They are not
 * thread-safe on one PGconn (no PGconn is).
 */
#ifndef PARSEC_MIGRATE_H
#define PARSEC_MIGRATE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* One embedded migration; static storage, never freed. */
typedef struct {
    int version;      /* NNNN of the file name, > 0, strictly increasing */
    const char *name; /* file name without "NNNN_" and ".sql" */
    const char *sql;  /* the file's text; no BEGIN/COMMIT inside */
} migrate_item_t;

/* Generated from sql/NNNN_name.sql into <build dir>/gen/migrations.c, sorted by version. */
extern const migrate_item_t migrate_items[];
extern const size_t migrate_nitems;

/* Two-key advisory lock taken by migrate_apply() ("PRSC", 1). */
#define MIGRATE_LOCK_CLASS 0x50525343
#define MIGRATE_LOCK_ID    1

/* migrate_latest - the highest version this binary carries. */
int migrate_latest(void);

/* Where a database stands against this binary's migrations. */
typedef struct {
    int applied;       /* migrations of this binary already applied */
    int pending;       /* migrations of this binary not applied yet */
    int db_version;    /* highest version recorded in the database, 0: none */
    int unknown;       /* versions recorded that this binary does not carry */
    int first_unknown; /* the lowest of them (0: none) */
} migrate_status_t;

/*
 * migrate_inspect - read schema_migrations (absent: nothing applied)
 *
 * Changes nothing and takes no lock.  False on a database error, with one
 * line in err.
 */
bool migrate_inspect(PGconn *pg, migrate_status_t *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * migrate_check - the start-up check of every server binary
 *
 * True when the database holds exactly this binary's migrations.  Otherwise
 * false with one line in err: behind ("...: run `parsec backend migrate`"),
 * newer ("database schema is newer than this server ..."), or a database
 * error.
 */
bool migrate_check(PGconn *pg, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Called once per migration that migrate_apply() applies (or, in a dry run,
 * would apply), after it is committed. */
typedef void (*migrate_report_fn)(const migrate_item_t *m, bool dry_run, void *arg);

typedef enum {
    MIGRATE_OK = 0,    /* every migration applied (or nothing to do) */
    MIGRATE_NEWER = 1, /* the database holds a version this binary lacks: nothing done */
    MIGRATE_FAILED = 2 /* a migration or the database failed: err says which */
} migrate_result;

/*
 * migrate_apply - apply every pending migration, in version order
 *
 * Idempotent: already applied migrations are skipped.  Creates
 * schema_migrations when missing.  dry_run: report what would be applied and
 * change nothing (no table is created; the lock is still taken so the answer
 * is not half-way through another run).  report (may be NULL) is told of each
 * migration; *napplied (may be NULL) receives their count.  On a failure the
 * failing migration is rolled back, those before it stay applied, and err
 * names it with PostgreSQL's message.  pg must be idle (no open transaction).
 */
migrate_result migrate_apply(PGconn *pg, bool dry_run, migrate_report_fn report, void *arg,
                             int *napplied, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
