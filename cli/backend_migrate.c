/*
 * cli/backend_migrate.c - `parsec backend migrate --db URL [--dry-run]`
 *
 * Applies the migrations compiled into this binary that the database lacks
 * (common/migrate.h), one transaction each, and says what it did:
 *
 *   applied 0001_initial
 *   1 migration applied; database schema at version 0001
 *
 * or, with --dry-run, "would apply 0001_initial" and nothing changes.  Run
 * again, it finds nothing to do ("database schema is up to date").  Exit
 * status: 0 done (or nothing to do), 1 the database is unreachable after
 * the configured retries, newer than this binary, or a migration failed (one
 * line on stderr, the URL's password masked), 2 bad usage (--db missing or
 * MOCKED, which a migrate command cannot reach: `parsec backend run` migrates
 * its throwaway database itself).
 */
#include "cli.h"

#include "cfg.h"
#include "db.h"
#include "log.h"
#include "migrate.h"

#include <stdio.h>
#include <string.h>

#define PROG "parsec backend migrate"

static void report(const migrate_item_t *m, bool dry_run, void *arg)
{
    printf("%s %04d_%s\n", dry_run ? "would apply" : "applied", m->version, m->name);
    fflush(stdout);
}

int cli_backend_migrate(int argc, char **argv)
{
    cfg_t cfg;
    char err[1024];
    int rc = 2;
    PGconn *pg = NULL;
    bool logging = false;

    /* Its own settings only (Parsec's migrate had --db, --dry-run and the
     * logging ones); the retry pair because it connects like a server. */
    static const char *const settings[] = {"db",
                                           "maximum-database-connection-attempts",
                                           "pause-before-retry-database-connection",
                                           "log-level",
                                           "log-format",
                                           "log-file",
                                           "debug",
                                           "dry-run",
                                           NULL};
    static const char *const required[] = {"db", NULL};
    static const cfg_command_t command = {.name = PROG, .settings = settings, .required = required};
    switch (cfg_parse_command(&cfg, &command, argc, argv, NULL, err, sizeof err, NULL, NULL)) {
    case CFG_PARSE_OK:
        break;
    case CFG_PARSE_EXIT:
        return 0;
    case CFG_PARSE_ERROR:
    default:
        fprintf(stderr, "%s: %s\n", PROG, err);
        return 2;
    }
    if (!strcmp(cfg.db, "MOCKED")) {
        fprintf(stderr,
                "%s: nothing to migrate: --db MOCKED is a throwaway database that `parsec "
                "backend run` creates and migrates itself\n",
                PROG);
        goto cleanup;
    }
    if (!log_open(cfg.log_level, cfg.log_format, cfg.log_file, "parsec", err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", PROG, err);
        goto cleanup;
    }
    logging = true;
    for (char **w = cfg.warnings; w && *w; w++)
        log_warning("%s", *w);

    rc = 1;
    pg = db_connect(&cfg, cfg.db, err, sizeof err, NULL);
    if (!pg) {
        fprintf(stderr, "%s: %s\n", PROG, err);
        goto cleanup;
    }
    int n = 0;
    migrate_result r = migrate_apply(pg, cfg.dry_run, report, NULL, &n, err, sizeof err);
    if (r != MIGRATE_OK) {
        if (n && !cfg.dry_run)
            fprintf(stderr, "%s: %d migration%s applied before the failure\n", PROG, n,
                    n == 1 ? "" : "s");
        fprintf(stderr, "%s: %s\n", PROG, err);
        goto cleanup;
    }
    if (n == 0)
        printf("database schema is up to date (version %04d): nothing to apply\n",
               migrate_latest());
    else if (cfg.dry_run)
        printf("%d migration%s to apply (dry run: nothing applied)\n", n, n == 1 ? "" : "s");
    else
        printf("%d migration%s applied; database schema at version %04d\n", n, n == 1 ? "" : "s",
               migrate_latest());
    rc = 0;

cleanup:
    PQfinish(pg);
    if (logging)
        log_close();
    cfg_free(&cfg);
    return rc;
}
