/*
 * cli/backend_run_db.c - `parsec backend run`: the database the workers use
 * (see backend_run.h)
 *
 * --db MOCKED starts a private cluster (common/pgcluster.h) and migrates it;
 * a URL is checked reachable and up to date.
 */
#include "backend_run.h"

#include "db.h"
#include "log.h"
#include "migrate.h"
#include "xalloc.h"

#include <libpq-fe.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Database                                                                  */

/* A sleep that a stop signal cuts short; false when stopping. */
static bool pause_ms(run_t *r, long long ms)
{
    long long deadline = sup_now_ms() + ms;
    while (!run_stop_signal) {
        long long left = deadline - sup_now_ms();
        if (left <= 0)
            return true;
        run_pump(r, left > 200 ? 200 : (int)left);
    }
    return false;
}

/*
 * connect_db - db_connect() one attempt at a time, so that a stop signal
 * between attempts is honoured at once; a failure that retrying cannot fix
 * (DB_FAIL_FATAL) ends it at once.  NULL with err set, or NULL with err
 * empty when stopping.
 */
static PGconn *connect_db(run_t *r, const char *url, char *err, size_t errlen)
{
    cfg_t once = r->cfg; /* shallow: only read by db_connect */
    int attempts = r->cfg.maximum_database_connection_attempts;
    if (attempts < 1)
        attempts = 1;
    once.maximum_database_connection_attempts = 1;
    int i;
    for (i = 1;; i++) {
        err[0] = '\0';
        db_failure why;
        PGconn *pg = db_connect(&once, url, err, errlen, &why);
        if (pg)
            return pg;
        if (why == DB_FAIL_FATAL || i >= attempts || run_stop_signal)
            break;
        log_warning("database unreachable (attempt %d of %d): %s; retrying in %g s", i, attempts,
                    err, r->cfg.pause_before_retry_database_connection);
        if (!pause_ms(r, (long long)(r->cfg.pause_before_retry_database_connection * 1000)))
            break;
    }
    if (run_stop_signal) {
        err[0] = '\0';
        return NULL;
    }
    /* db_connect() counted the one attempt it was asked for; say how many
     * were really made. */
    char *one = strstr(err, " after 1 attempt: ");
    if (one && i > 1) {
        char *rest = xstrdup(one + strlen(" after 1 attempt: "));
        snprintf(one, errlen - (size_t)(one - err), " after %d attempts: %s", i, rest);
        free(rest);
    }
    return NULL;
}

/* run_setup_db - the database the workers will use; false after run_fail() or when
 * a stop signal came (run_stop_signal set). */
bool run_setup_db(run_t *r)
{
    char err[1024];
    PGconn *pg = NULL;
    bool ok = false;

    if (!strcmp(r->cfg.db, "MOCKED")) {
        r->cluster = pgcluster_start(err, sizeof err);
        if (!r->cluster) {
            run_fail(r, "cannot start the MOCKED database: %s", err);
            return false;
        }
        r->db_url = xstrdup(pgcluster_url(r->cluster));
        pg = connect_db(r, r->db_url, err, sizeof err);
        if (!pg) {
            if (!run_stop_signal)
                run_fail(r, "MOCKED database unreachable: %s", err);
            goto cleanup;
        }
        int applied = 0;
        if (migrate_apply(pg, false, NULL, NULL, &applied, err, sizeof err) != MIGRATE_OK) {
            run_fail(r, "cannot migrate the MOCKED database: %s", err);
            goto cleanup;
        }
        log_info("MOCKED database ready, %d migrations applied", applied);
    } else {
        r->db_url = xstrdup(r->cfg.db);
        pg = connect_db(r, r->db_url, err, sizeof err);
        if (!pg) {
            if (!run_stop_signal)
                run_fail(r, "%s", err);
            goto cleanup;
        }
        if (!migrate_check(pg, err, sizeof err)) {
            run_fail(r, "%s", err);
            goto cleanup;
        }
    }
    ok = true;
cleanup:
    if (pg)
        PQfinish(pg);
    return ok;
}
