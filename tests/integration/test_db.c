/* tests/integration/test_db.c - the connection pool, prepared statements and
 * db_tx() against a real PostgreSQL (pipelines: test_db_pipe.c; shared
 * helpers: test_db_lib.h) */
#include "arena.h"
#include "cfg.h"
#include "db.h"
#include "log.h"
#include "migrate.h"
#include "pgcluster.h"
#include "tcprelay.h"
#include "test_db_lib.h"
#include "testenv.h"
#include "testreg.h"
#include "xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* expect_counts - the pool holds want_open connections, want_idle idle. */
static void expect_counts(db_pool_t *pool, int want_open, int want_idle)
{
    int open, idle;
    db_pool_counts(pool, &open, &idle);
    ck_assert_int_eq(open, want_open);
    ck_assert_int_eq(idle, want_idle);
}

/* A URL whose sessions can be counted by their application_name. */
static char *named_url(const char *url, const char *tag, char *name, size_t n)
{
    snprintf(name, n, "dbtest_%s_%d", tag, (int)getpid());
    return testenv_url_with(url, "application_name", name);
}

/* A fresh database and a pool on it whose sessions carry application_name
 * app, so that the admin connection can count them. */
typedef struct {
    char *url, *nurl;
    char app[64];
    PGconn *admin;
    db_pool_t *pool;
} named_t;

static void named_open(named_t *n, const char *tag, int min, int max)
{
    n->url = testenv_db_create();
    n->nurl = named_url(n->url, tag, n->app, sizeof n->app);
    n->admin = testenv_pg_connect(n->url);
    n->pool = dbt_pool_open_ok(n->nurl, min, max);
}

/* named_close - closes the pool unless the test did (and set it NULL). */
static void named_close(named_t *n)
{
    if (n->pool)
        db_pool_close(n->pool);
    free(n->nurl);
    testenv_db_done(n->admin, n->url);
}

static long sessions(PGconn *admin, const char *app)
{
    char *sql =
        xasprintf("SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s'", app);
    long n = testenv_sql_int(admin, sql);
    free(sql);
    return n;
}

/* Wait (bounded) until the count of app's sessions is want. */
static long sessions_settle(PGconn *admin, const char *app, long want)
{
    long n = -1;
    for (int i = 0; i < 500; i++) {
        n = sessions(admin, app);
        if (n == want)
            break;
        usleep(10 * 1000);
    }
    return n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const db_stmt_t stmt_insert = {"dbtest_insert", "INSERT INTO dbtest (x) VALUES ($1::int)",
                                      1};

/* -------------------------------------------------------------- opening */

START_TEST(pool_opens_min_connections)
{
    named_t n;
    named_open(&n, "min", 3, 5);
    expect_counts(n.pool, 3, 3);
    ck_assert_int_eq(sessions_settle(n.admin, n.app, 3), 3);
    db_pool_close(n.pool);
    n.pool = NULL;
    ck_assert_int_eq(sessions_settle(n.admin, n.app, 0), 0);
    named_close(&n);
}
END_TEST

START_TEST(sessions_are_set_up)
{
    char *url = testenv_db_create();
    db_pool_t *pool = dbt_pool_open_ok(url, 1, 1);
    db_conn_t *c = db_acquire(pool);
    ck_assert_ptr_nonnull(c);
    PGresult *res = db_query(c,
                             "SELECT current_setting('application_name'), "
                             "current_setting('TimeZone'), current_setting('statement_timeout'), "
                             "current_setting('client_encoding'), current_setting('jit'), "
                             "current_setting('plan_cache_mode')",
                             0, NULL);
    ck_assert_ptr_nonnull(res);
    /* The program's name, since the URL names no application. */
    ck_assert_str_eq(PQgetvalue(res, 0, 0), program_invocation_short_name);
    ck_assert_str_eq(PQgetvalue(res, 0, 1), "UTC");
    ck_assert_str_eq(PQgetvalue(res, 0, 2), "1min");
    ck_assert_str_eq(PQgetvalue(res, 0, 3), "UTF8");
    ck_assert_str_eq(PQgetvalue(res, 0, 4), "off");                /* the server's default is on */
    ck_assert_str_eq(PQgetvalue(res, 0, 5), "force_generic_plan"); /* default: auto */
    PQclear(res);
    db_release(pool, c);
    db_pool_close(pool);
    testenv_db_done(NULL, url);
}
END_TEST

START_TEST(schema_behind_is_refused)
{
    char *url = testenv_db_create_empty();
    cfg_t cfg = dbt_pool_cfg(1, 2);
    char err[512] = "";
    db_pool_t *pool = db_pool_open(&cfg, url, err, sizeof err, NULL);
    ck_assert_ptr_null(pool);
    ck_assert_msg(strstr(err, "run `parsec backend migrate"), "%s", err);
    ck_assert_ptr_null(strchr(err, '\n'));
    /* And once migrated, it opens. */
    PGconn *pg = testenv_pg_connect(url);
    int n;
    ck_assert_int_eq(migrate_apply(pg, false, NULL, NULL, &n, err, sizeof err), MIGRATE_OK);
    PQfinish(pg);
    pool = db_pool_open(&cfg, url, err, sizeof err, NULL);
    ck_assert_msg(pool != NULL, "%s", err);
    db_pool_close(pool);
    testenv_db_done(NULL, url);
}
END_TEST

START_TEST(schema_newer_is_refused)
{
    char *url = testenv_db_create();
    PGconn *pg = testenv_pg_connect(url);
    dbt_exec_sql(pg, "INSERT INTO schema_migrations VALUES (9999, 'future', now())");
    PQfinish(pg);
    cfg_t cfg = dbt_pool_cfg(1, 2);
    char err[512] = "";
    db_pool_t *pool = db_pool_open(&cfg, url, err, sizeof err, NULL);
    ck_assert_ptr_null(pool);
    ck_assert_msg(strstr(err, "database schema is newer than this server"), "%s", err);
    testenv_db_done(NULL, url);
}
END_TEST

START_TEST(mocked_and_empty_urls_are_refused)
{
    cfg_t cfg = dbt_pool_cfg(1, 2);
    char err[512] = "";
    ck_assert_ptr_null(db_pool_open(&cfg, "MOCKED", err, sizeof err, NULL));
    ck_assert_ptr_nonnull(strstr(err, "MOCKED"));
    ck_assert_ptr_null(db_pool_open(&cfg, "", err, sizeof err, NULL));
    ck_assert_ptr_nonnull(strstr(err, "--db"));
}
END_TEST

START_TEST(unreachable_database_retries_then_fails_in_one_line)
{
    char *url = xasprintf("postgresql://app:s3cr3t-pw@127.0.0.1:%d/parsec", testenv_free_port());
    cfg_t cfg = dbt_pool_cfg(2, 4);
    cfg.maximum_database_connection_attempts = 3;
    cfg.pause_before_retry_database_connection = 0.3;
    char err[512] = "";
    double t0 = now_s();
    ck_assert_ptr_null(db_pool_open(&cfg, url, err, sizeof err, NULL));
    double elapsed = now_s() - t0;
    /* Three attempts are two pauses. */
    ck_assert_msg(elapsed >= 0.55, "only %.3f s", elapsed);
    ck_assert_msg(strstr(err, "cannot connect to database") && strstr(err, "after 3 attempts"),
                  "%s", err);
    ck_assert_ptr_nonnull(strstr(err, "app:***@"));
    ck_assert_ptr_null(strstr(err, "s3cr3t"));
    ck_assert_ptr_null(strchr(err, '\n'));

    /* Parsec's meaning of 0: one attempt, no retry, so no pause. */
    cfg.maximum_database_connection_attempts = 0;
    cfg.pause_before_retry_database_connection = 5;
    t0 = now_s();
    ck_assert_ptr_null(db_pool_open(&cfg, url, err, sizeof err, NULL));
    ck_assert_msg(now_s() - t0 < 4, "paused although no retry was allowed");
    ck_assert_ptr_nonnull(strstr(err, "after 1 attempt:"));

    /* db_connect follows the same policy. */
    cfg.maximum_database_connection_attempts = 2;
    cfg.pause_before_retry_database_connection = 0.3;
    t0 = now_s();
    ck_assert_ptr_null(db_connect(&cfg, url, err, sizeof err, NULL));
    ck_assert_double_ge(now_s() - t0, 0.25);
    ck_assert_ptr_nonnull(strstr(err, "after 2 attempts"));
    ck_assert_ptr_null(strstr(err, "s3cr3t"));
    free(url);
}
END_TEST

START_TEST(password_never_in_messages)
{
    cfg_t cfg = dbt_pool_cfg(1, 1);
    char err[512] = "";
    /* libpq quotes a malformed URL's text in its message. */
    const char *bad = "postgresql://app:top%zzsecret@127.0.0.1/x";
    ck_assert_ptr_null(db_pool_open(&cfg, bad, err, sizeof err, NULL));
    ck_assert_msg(strstr(err, "invalid database URL"), "%s", err);
    ck_assert_msg(!strstr(err, "secret"), "%s", err);
    ck_assert_ptr_null(db_connect(&cfg, bad, err, sizeof err, NULL));
    ck_assert_msg(!strstr(err, "secret"), "%s", err);
    /* A password given as a query parameter. */
    char *url =
        xasprintf("postgresql://127.0.0.1:%d/x?user=app&password=qsecretq", testenv_free_port());
    ck_assert_ptr_null(db_pool_open(&cfg, url, err, sizeof err, NULL));
    ck_assert_msg(!strstr(err, "qsecretq"), "%s", err);
    free(url);
}
END_TEST

/* ------------------------------------------------------- failure classes */

/* expect_fatal - db_connect and db_pool_open on url give up at once (five
 * attempts a second apart were allowed), say "not retried" and what in one
 * line, and leak no password. */
static void expect_fatal(const char *url, const char *what)
{
    cfg_t cfg = dbt_pool_cfg(1, 1);
    cfg.maximum_database_connection_attempts = 5;
    cfg.pause_before_retry_database_connection = 1;
    char err[1024] = "";
    db_failure why = DB_FAIL_NONE;
    double t0 = now_s();
    ck_assert_ptr_null(db_connect(&cfg, url, err, sizeof err, &why));
    ck_assert_msg(now_s() - t0 < 0.9, "%s: retried (%.1f s): %s", what, now_s() - t0, err);
    ck_assert_msg(why == DB_FAIL_FATAL, "%s: class %s: %s", what, db_failure_name(why), err);
    ck_assert_msg(strstr(err, what) && strstr(err, "not retried"), "%s", err);
    ck_assert_ptr_null(strchr(err, '\n'));
    ck_assert_msg(!strstr(err, "LOCATION"), "%s", err);
    ck_assert_msg(!strstr(err, "wr0ng-pw"), "%s", err);

    why = DB_FAIL_NONE;
    t0 = now_s();
    ck_assert_ptr_null(db_pool_open(&cfg, url, err, sizeof err, &why));
    ck_assert_msg(now_s() - t0 < 0.9, "%s: pool retried: %s", what, err);
    ck_assert_msg(why == DB_FAIL_FATAL, "%s: pool class %s: %s", what, db_failure_name(why), err);
}

/* Each class of refusal, against real servers: a password cluster of our
 * own (pgcluster: scram-sha-256) and the harness's (trust). */
START_TEST(refusals_retrying_cannot_fix_stop_at_once)
{
    setenv("PGPASSFILE", "/nonexistent/pgpass", 1); /* no password from elsewhere */
    char err[512] = "";
    pgcluster_t *pc = pgcluster_start(err, sizeof err);
    ck_assert_msg(pc != NULL, "%s", err);

    char *u = testenv_url_with(pgcluster_url(pc), "password", "wr0ng-pw");
    expect_fatal(u, "password authentication failed");
    free(u);
    u = testenv_url_with(pgcluster_url(pc), "password", NULL);
    expect_fatal(u, "no password supplied");
    free(u);
    u = testenv_url_with(pgcluster_url(pc), "dbname", "no_such_db");
    expect_fatal(u, "does not exist");
    free(u);
    ck_assert(pgcluster_stop(pc));

    const char *base = testenv_pg_url();
    u = testenv_url_with(base, "user", "no_such_role");
    expect_fatal(u, "role \"no_such_role\" does not exist");
    free(u);
    u = testenv_url_with(base, "options", "-c no_such_setting=1");
    expect_fatal(u, "unrecognized configuration parameter");
    free(u);
    u = testenv_url_with(base, "options", "-c work_mem=lots");
    expect_fatal(u, "invalid value for parameter");
    free(u);
    u = testenv_url_with(base, "sslmode", "bogus");
    expect_fatal(u, "invalid sslmode value");
    free(u);
    u = testenv_url_with(base, "sslmode", "require"); /* the harness has no TLS */
    expect_fatal(u, "server does not support SSL");
    free(u);
}
END_TEST

START_TEST(connection_level_failures_are_retried)
{
    cfg_t cfg = dbt_pool_cfg(1, 1);
    cfg.maximum_database_connection_attempts = 2;
    cfg.pause_before_retry_database_connection = 0.2;
    char err[1024] = "";
    db_failure why = DB_FAIL_NONE;
    const char *urls[] = {
        /* nothing listening on the port */
        xasprintf("postgresql://postgres@127.0.0.1:%d/postgres", testenv_free_port()),
        /* nothing listening on the unix socket */
        xasprintf("postgresql://postgres@/postgres?host=%s", getenv("PARSEC_TEST_TMP")),
        /* a name that does not resolve (yet) */
        "postgresql://postgres@no-such-host.invalid/postgres",
    };
    for (size_t i = 0; i < 3; i++) {
        double t0 = now_s();
        ck_assert_ptr_null(db_connect(&cfg, urls[i], err, sizeof err, &why));
        ck_assert_msg(why == DB_FAIL_RETRY, "%s: %s", db_failure_name(why), err);
        ck_assert_msg(strstr(err, "after 2 attempts"), "%s", err);
        ck_assert_double_ge(now_s() - t0, 0.15);
        ck_assert_ptr_null(db_pool_open(&cfg, urls[i], err, sizeof err, &why));
        ck_assert_msg(why == DB_FAIL_RETRY, "pool: %s: %s", db_failure_name(why), err);
    }
    free((char *)urls[0]);
    free((char *)urls[1]);
}
END_TEST

/* A server shutting down refuses new sessions with 57P03: retried. */
START_TEST(server_shutting_down_is_retried)
{
    char err[512] = "";
    pgcluster_t *pc = pgcluster_start(err, sizeof err);
    ck_assert_msg(pc != NULL, "%s", err);
    PGconn *held = testenv_pg_connect(pgcluster_url(pc));
    /* Smart shutdown: the postmaster waits for the session above and
     * refuses every new one meanwhile. */
    ck_assert_int_eq(kill(pgcluster_pid(pc), SIGTERM), 0);
    cfg_t cfg = dbt_pool_cfg(1, 1);
    db_failure why = DB_FAIL_NONE;
    PGconn *pg = NULL;
    for (int i = 0; i < 50 && why != DB_FAIL_RETRY; i++) {
        pg = db_connect(&cfg, pgcluster_url(pc), err, sizeof err, &why);
        if (pg) { /* the signal was not handled yet */
            PQfinish(pg);
            usleep(100 * 1000);
        }
    }
    ck_assert_msg(why == DB_FAIL_RETRY, "%s: %s", db_failure_name(why), err);
    ck_assert_msg(strstr(err, "57P03"), "%s", err);
    PQfinish(held);
    ck_assert(pgcluster_stop(pc));
}
END_TEST

typedef struct {
    int port;
    tcprelay_t *relay;
} later_t;

static void *start_relay_later(void *arg)
{
    later_t *l = arg;
    usleep(1000 * 1000);
    l->relay = tcprelay_start(l->port, atoi(getenv("PARSEC_TEST_PG_PORT")));
    return NULL;
}

/* Nothing listens, then the server comes: the retries reach it. */
START_TEST(server_started_later_is_reached)
{
    later_t l = {.port = testenv_free_port()};
    char *url = xasprintf("postgresql://postgres@127.0.0.1:%d/postgres", l.port);
    cfg_t cfg = dbt_pool_cfg(1, 1);
    cfg.maximum_database_connection_attempts = 30;
    cfg.pause_before_retry_database_connection = 0.2;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, start_relay_later, &l), 0);
    char err[512] = "";
    db_failure why = DB_FAIL_FATAL;
    double t0 = now_s();
    PGconn *pg = db_connect(&cfg, url, err, sizeof err, &why);
    double elapsed = now_s() - t0;
    pthread_join(th, NULL);
    ck_assert_msg(pg != NULL, "%s", err);
    ck_assert_int_eq(why, DB_FAIL_NONE);
    ck_assert_msg(elapsed >= 0.8, "connected after %.2f s, before the server existed", elapsed);
    PQfinish(pg);
    tcprelay_stop(l.relay);
    free(url);
}
END_TEST

/* ----------------------------------------------------------- acquiring */

typedef struct {
    db_pool_t *pool;
    atomic_int got;
    db_conn_t *c;
} waiter_t;

static void *wait_acquire(void *arg)
{
    waiter_t *w = arg;
    w->c = db_acquire(w->pool);
    atomic_store(&w->got, 1);
    return NULL;
}

START_TEST(pool_grows_to_max_then_waits_for_a_release)
{
    named_t n;
    named_open(&n, "max", 1, 3);
    db_conn_t *c[3];
    for (int i = 0; i < 3; i++) {
        c[i] = db_acquire(n.pool);
        ck_assert_ptr_nonnull(c[i]);
    }
    expect_counts(n.pool, 3, 0);
    ck_assert_int_eq(sessions_settle(n.admin, n.app, 3), 3);

    waiter_t w = {.pool = n.pool};
    pthread_t t;
    pthread_create(&t, NULL, wait_acquire, &w);
    usleep(300 * 1000);
    ck_assert_int_eq(atomic_load(&w.got), 0); /* the fourth waits */
    ck_assert_int_eq(sessions(n.admin, n.app), 3);
    db_release(n.pool, c[1]);
    pthread_join(t, NULL);
    ck_assert_int_eq(atomic_load(&w.got), 1);
    ck_assert_ptr_eq(w.c, c[1]); /* the released one, not a new one */
    ck_assert_int_eq(sessions(n.admin, n.app), 3);
    db_release(n.pool, w.c);
    db_release(n.pool, c[0]);
    db_release(n.pool, c[2]);
    expect_counts(n.pool, 3, 3);
    named_close(&n);
}
END_TEST

typedef struct {
    db_pool_t *pool;
    atomic_int *inside, *peak, *failures;
} worker_t;

static void *hammer(void *arg)
{
    worker_t *w = arg;
    for (int i = 0; i < 40; i++) {
        db_conn_t *c = db_acquire(w->pool);
        if (!c) {
            atomic_fetch_add(w->failures, 1);
            continue;
        }
        int now = atomic_fetch_add(w->inside, 1) + 1;
        int p = atomic_load(w->peak);
        while (now > p && !atomic_compare_exchange_weak(w->peak, &p, now))
            ;
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        const char *values[1] = {v};
        PGresult *res = db_exec(c, &dbt_stmt_one, values, NULL, NULL);
        if (!res || atoi(PQgetvalue(res, 0, 0)) != i + 1)
            atomic_fetch_add(w->failures, 1);
        PQclear(res);
        atomic_fetch_sub(w->inside, 1);
        db_release(w->pool, c);
    }
    return NULL;
}

START_TEST(concurrent_threads_never_exceed_max)
{
    named_t n;
    named_open(&n, "conc", 0, 3);
    int open;
    db_pool_counts(n.pool, &open, NULL);
    ck_assert_int_eq(open, 0); /* min 0: the schema check's connection was closed */

    enum { N = 8 };
    atomic_int inside = 0, peak = 0, failures = 0;
    worker_t w = {n.pool, &inside, &peak, &failures};
    pthread_t t[N];
    for (int i = 0; i < N; i++)
        pthread_create(&t[i], NULL, hammer, &w);
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    ck_assert_int_eq(atomic_load(&failures), 0);
    ck_assert_int_le(atomic_load(&peak), 3);
    ck_assert_int_ge(atomic_load(&peak), 2); /* they did overlap */
    db_pool_counts(n.pool, &open, NULL);
    ck_assert_int_le(open, 3);
    ck_assert_int_le(sessions(n.admin, n.app), 3);
    named_close(&n);
}
END_TEST

START_TEST(connection_closed_by_server_is_replaced)
{
    char *url = testenv_db_create();
    PGconn *admin = testenv_pg_connect(url);
    db_pool_t *pool = dbt_pool_open_ok(url, 1, 1);

    /* Killed while idle in the pool: the next acquire notices and reconnects. */
    db_conn_t *c = db_acquire(pool);
    int pid1 = dbt_backend_pid(c);
    db_release(pool, c);
    dbt_terminate(admin, pid1);
    c = db_acquire(pool);
    ck_assert_ptr_nonnull(c);
    int pid2 = dbt_backend_pid(c); /* re-prepared on the new session */
    ck_assert_int_ne(pid1, pid2);

    /* Killed while in use: the statement fails, release drops it, the next
     * acquire has a fresh session where the statement is prepared again. */
    dbt_terminate(admin, pid2);
    ck_assert_ptr_null(db_exec(c, &dbt_stmt_pid, NULL, NULL, NULL));
    ck_assert(!strcmp(db_last_sqlstate(c), "57P01") || !strcmp(db_last_sqlstate(c), "08006"));
    db_release(pool, c);
    int open;
    db_pool_counts(pool, &open, NULL);
    ck_assert_int_eq(open, 0);
    c = db_acquire(pool);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(db_last_sqlstate(c), "");
    int pid3 = dbt_backend_pid(c);
    ck_assert_int_ne(pid3, pid2);

    db_release(pool, c);
    db_pool_close(pool);
    testenv_db_done(admin, url);
}
END_TEST

static db_tx_result tx_count_runs(db_conn_t *c, void *arg)
{
    int *runs = arg;
    (*runs)++;
    PGresult *res = db_exec(c, &dbt_stmt_one, (const char *const[]){"1"}, NULL, NULL);
    if (!res)
        return DB_TX_ERROR;
    PQclear(res);
    return DB_TX_COMMIT;
}

START_TEST(tx_reconnects_a_session_closed_before_begin)
{
    char *url = testenv_db_create();
    PGconn *admin = testenv_pg_connect(url);
    db_pool_t *pool = dbt_pool_open_ok(url, 1, 1);
    db_conn_t *c = db_acquire(pool);
    int pid = dbt_backend_pid(c);
    dbt_terminate(admin, pid); /* while we hold it, between two statements */
    int runs = 0;
    ck_assert_int_eq(db_tx(c, tx_count_runs, &runs), DB_TX_COMMIT);
    ck_assert_int_eq(runs, 1);
    ck_assert_int_ne(dbt_backend_pid(c), pid);
    db_release(pool, c);
    db_pool_close(pool);
    testenv_db_done(admin, url);
}
END_TEST

START_TEST(unreachable_after_open_gives_null_quickly)
{
    char err[512] = "";
    pgcluster_t *pc = pgcluster_start(err, sizeof err);
    ck_assert_msg(pc != NULL, "%s", err);
    PGconn *pg = testenv_pg_connect(pgcluster_url(pc));
    int n;
    ck_assert_int_eq(migrate_apply(pg, false, NULL, NULL, &n, err, sizeof err), MIGRATE_OK);
    PQfinish(pg);
    cfg_t cfg = dbt_pool_cfg(1, 2);
    db_pool_t *pool = db_pool_open(&cfg, pgcluster_url(pc), err, sizeof err, NULL);
    ck_assert_msg(pool != NULL, "%s", err);
    ck_assert(pgcluster_stop(pc));

    double t0 = now_s();
    ck_assert_ptr_null(db_acquire(pool));
    ck_assert_ptr_null(db_acquire(pool));
    ck_assert_msg(now_s() - t0 < 10, "db_acquire took %.1f s", now_s() - t0);
    int open;
    db_pool_counts(pool, &open, NULL);
    ck_assert_int_eq(open, 0);
    db_pool_close(pool);
}
END_TEST

/* ----------------------------------------------------------- statements */

START_TEST(statements_are_prepared_once_per_session)
{
    char *url = testenv_db_create();
    db_pool_t *pool = dbt_pool_open_ok(url, 1, 1);
    for (int round = 0; round < 3; round++) {
        db_conn_t *c = db_acquire(pool);
        ck_assert_ptr_nonnull(c);
        for (int i = 0; i < 3; i++) {
            PGresult *res = db_exec(c, &dbt_stmt_one, (const char *const[]){"41"}, NULL, NULL);
            ck_assert_ptr_nonnull(res);
            ck_assert_str_eq(PQgetvalue(res, 0, 0), "42");
            PQclear(res);
        }
        /* One prepared statement on the session, used from the second call
         * on (a second PREPARE of the name would have failed with 42P05). */
        PGresult *res = db_query(c,
                                 "SELECT count(*) FROM pg_prepared_statements WHERE name = "
                                 "'dbtest_one'",
                                 0, NULL);
        ck_assert_ptr_nonnull(res);
        ck_assert_str_eq(PQgetvalue(res, 0, 0), "1");
        PQclear(res);
        db_release(pool, c);
    }
    /* Two statements sharing a name are a bug that fails loudly. */
    static const db_stmt_t clash = {"dbtest_one", "SELECT 2", 0};
    db_conn_t *c = db_acquire(pool);
    ck_assert_ptr_null(db_exec(c, &clash, NULL, NULL, NULL));
    ck_assert_str_eq(db_last_sqlstate(c), "42P05");
    db_release(pool, c);
    db_pool_close(pool);
    testenv_db_done(NULL, url);
}
END_TEST

START_TEST(exec_errors_and_binary_results)
{
    char *url = testenv_db_create();
    db_pool_t *pool = dbt_pool_open_ok(url, 1, 1);
    db_conn_t *c = db_acquire(pool);
    /* A data exception: NULL, SQLSTATE kept, connection still usable. */
    ck_assert_ptr_null(
        db_exec(c, &dbt_stmt_one, (const char *const[]){"not a number"}, NULL, NULL));
    ck_assert_str_eq(db_last_sqlstate(c), "22P02");
    PGresult *res = db_exec(c, &dbt_stmt_one, (const char *const[]){NULL}, NULL, NULL);
    ck_assert_ptr_nonnull(res);
    ck_assert(PQgetisnull(res, 0, 0));
    PQclear(res);
    static const db_stmt_t bytes = {"dbtest_bytes", "SELECT decode($1, 'hex')", 1};
    res = db_exec_fmt(c, &bytes, (const char *const[]){"00ff10"}, NULL, NULL, 1);
    ck_assert_ptr_nonnull(res);
    ck_assert_int_eq(PQgetlength(res, 0, 0), 3);
    ck_assert_int_eq((unsigned char)PQgetvalue(res, 0, 0)[1], 0xff);
    PQclear(res);
    res = db_query(c, "SELECT $1::text || $2::text", 2, (const char *const[]){"a", "b"});
    ck_assert_str_eq(PQgetvalue(res, 0, 0), "ab");
    PQclear(res);
    ck_assert_ptr_null(db_query(c, "SELECT * FROM no_such_table", 0, NULL));
    ck_assert_str_eq(db_last_sqlstate(c), "42P01");
    db_release(pool, c);
    c = db_acquire(pool);
    ck_assert_str_eq(db_last_sqlstate(c), ""); /* cleared by acquire */
    db_release(pool, c);
    db_pool_close(pool);
    testenv_db_done(NULL, url);
}
END_TEST

/* --------------------------------------------------------- transactions */

typedef struct {
    db_tx_result want;
    int runs;
    int fail_runs; /* runs that raise fail_state first */
    const char *fail_state;
    bool duplicate;     /* insert the same key twice (23505) */
    bool commit_anyway; /* return COMMIT after a failed statement */
    int value;
} body_t;

static db_tx_result body(db_conn_t *c, void *arg)
{
    body_t *b = arg;
    b->runs++;
    char v[16];
    snprintf(v, sizeof v, "%d", b->value);
    PGresult *res = db_exec(c, &stmt_insert, (const char *const[]){v}, NULL, NULL);
    if (!res)
        return DB_TX_ERROR;
    PQclear(res);
    if (b->runs <= b->fail_runs) {
        char *sql = xasprintf("DO $$ BEGIN RAISE EXCEPTION 'provoked' USING ERRCODE = '%s'; "
                              "END $$",
                              b->fail_state);
        res = db_query(c, sql, 0, NULL);
        free(sql);
        if (!res)
            return DB_TX_ERROR;
        PQclear(res);
    }
    if (b->duplicate) {
        res = db_exec(c, &stmt_insert, (const char *const[]){v}, NULL, NULL);
        if (!res)
            return b->commit_anyway ? DB_TX_COMMIT : DB_TX_ERROR;
        PQclear(res);
    }
    return b->want;
}

START_TEST(tx_commit_rollback_error)
{
    dbt_txenv_t e = dbt_tx_setup("CREATE TABLE dbtest (x INTEGER UNIQUE)");
    db_conn_t *c = db_acquire(e.pool);

    body_t b = {.want = DB_TX_COMMIT, .value = 1};
    ck_assert_int_eq(db_tx(c, body, &b), DB_TX_COMMIT);
    ck_assert_int_eq(dbt_rows(e.admin, 1), 1);

    b = (body_t){.want = DB_TX_ROLLBACK, .value = 2};
    ck_assert_int_eq(db_tx(c, body, &b), DB_TX_ROLLBACK);
    ck_assert_int_eq(dbt_rows(e.admin, 2), 0);

    b = (body_t){.want = DB_TX_ERROR, .value = 3};
    ck_assert_int_eq(db_tx(c, body, &b), DB_TX_ERROR);
    ck_assert_int_eq(dbt_rows(e.admin, 3), 0);

    /* A failed statement aborts the transaction even if the body asks to
     * commit: nothing is written and the cause is kept. */
    b = (body_t){.want = DB_TX_COMMIT, .value = 4, .duplicate = true, .commit_anyway = true};
    ck_assert_int_eq(db_tx(c, body, &b), DB_TX_ERROR);
    ck_assert_int_eq(b.runs, 1);
    ck_assert_str_eq(db_last_sqlstate(c), "23505");
    ck_assert_int_eq(dbt_rows(e.admin, 4), 0);

    /* A body failing with an error that is not retryable runs once. */
    b = (body_t){.want = DB_TX_COMMIT, .value = 5, .fail_runs = 1, .fail_state = "22012"};
    ck_assert_int_eq(db_tx(c, body, &b), DB_TX_ERROR);
    ck_assert_int_eq(b.runs, 1);
    ck_assert_int_eq(dbt_rows(e.admin, 5), 0);

    /* Nesting is refused before the body runs: our COMMIT would end the
     * caller's transaction. */
    PGresult *res = db_query(c, "BEGIN", 0, NULL);
    PQclear(res);
    b = (body_t){.want = DB_TX_COMMIT, .value = 6};
    ck_assert_int_eq(db_tx(c, body, &b), DB_TX_ERROR);
    ck_assert_int_eq(b.runs, 0);
    res = db_query(c, "ROLLBACK", 0, NULL);
    PQclear(res);

    /* The connection is clean for the next request. */
    ck_assert_int_eq(PQtransactionStatus(db_pg(c)), PQTRANS_IDLE);
    db_release(e.pool, c);
    dbt_tx_teardown(&e);
}
END_TEST

START_TEST(tx_retries_serialization_failures_and_deadlocks)
{
    dbt_txenv_t e = dbt_tx_setup("CREATE TABLE dbtest (x INTEGER UNIQUE)");
    db_conn_t *c = db_acquire(e.pool);

    body_t b = {.want = DB_TX_COMMIT, .value = 1, .fail_runs = 1, .fail_state = "40001"};
    ck_assert_int_eq(db_tx(c, body, &b), DB_TX_COMMIT);
    ck_assert_int_eq(b.runs, 2);
    ck_assert_int_eq(dbt_rows(e.admin, 1), 1); /* the first run left nothing */

    b = (body_t){.want = DB_TX_COMMIT, .value = 2, .fail_runs = 2, .fail_state = "40P01"};
    ck_assert_int_eq(db_tx(c, body, &b), DB_TX_COMMIT);
    ck_assert_int_eq(b.runs, 3);
    ck_assert_int_eq(dbt_rows(e.admin, 2), 1);

    /* Bounded: a body that always collides gives up. */
    b = (body_t){.want = DB_TX_COMMIT, .value = 3, .fail_runs = 1000, .fail_state = "40001"};
    ck_assert_int_eq(db_tx(c, body, &b), DB_TX_ERROR);
    ck_assert_int_eq(b.runs, DB_TX_MAX_ATTEMPTS);
    ck_assert_str_eq(db_last_sqlstate(c), "40001");
    ck_assert_int_eq(dbt_rows(e.admin, 3), 0);
    db_release(e.pool, c);
    dbt_tx_teardown(&e);
}
END_TEST

START_TEST(tx_commit_failure_is_an_error)
{
    dbt_txenv_t e =
        dbt_tx_setup("CREATE TABLE dbtest (x INTEGER, UNIQUE (x) DEFERRABLE INITIALLY DEFERRED)");
    db_conn_t *c = db_acquire(e.pool);
    /* Both inserts pass; the deferred check fails at COMMIT. */
    body_t b = {.want = DB_TX_COMMIT, .value = 7, .duplicate = true};
    ck_assert_int_eq(db_tx(c, body, &b), DB_TX_ERROR);
    ck_assert_int_eq(b.runs, 1);
    ck_assert_str_eq(db_last_sqlstate(c), "23505");
    ck_assert_int_eq(dbt_rows(e.admin, 7), 0);
    ck_assert_int_eq(PQtransactionStatus(db_pg(c)), PQTRANS_IDLE);
    db_release(e.pool, c);
    dbt_tx_teardown(&e);
}
END_TEST

/* Write skew under SERIALIZABLE: each transaction reads the table, then
 * inserts; one of the two must fail with 40001 and be re-run. */
typedef struct {
    db_pool_t *pool;
    pthread_barrier_t *both_read;
    int value, runs;
    db_tx_result result;
} skew_t;

static const db_stmt_t stmt_count = {"dbtest_count", "SELECT count(*) FROM dbtest", 0};

static db_tx_result skew_body(db_conn_t *c, void *arg)
{
    skew_t *s = arg;
    s->runs++;
    PGresult *res = db_exec(c, &stmt_count, NULL, NULL, NULL);
    if (!res)
        return DB_TX_ERROR;
    PQclear(res);
    if (s->runs == 1)
        pthread_barrier_wait(s->both_read);
    char v[16];
    snprintf(v, sizeof v, "%d", s->value);
    res = db_exec(c, &stmt_insert, (const char *const[]){v}, NULL, NULL);
    bool ok = res != NULL;
    PQclear(res);
    /* Both wrote (or one already failed) before either commits. */
    if (s->runs == 1)
        pthread_barrier_wait(s->both_read);
    return ok ? DB_TX_COMMIT : DB_TX_ERROR;
}

static void *skew_thread(void *arg)
{
    skew_t *s = arg;
    db_conn_t *c = db_acquire(s->pool);
    s->result = c ? db_tx_serializable(c, skew_body, s) : DB_TX_ERROR;
    db_release(s->pool, c);
    return NULL;
}

START_TEST(tx_serializable_conflict_is_retried)
{
    dbt_txenv_t e = dbt_tx_setup("CREATE TABLE dbtest (x INTEGER)");
    pthread_barrier_t both;
    pthread_barrier_init(&both, NULL, 2);
    skew_t s[2] = {{e.pool, &both, 1, 0, 0}, {e.pool, &both, 2, 0, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, skew_thread, &s[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&both);
    ck_assert_int_eq(s[0].result, DB_TX_COMMIT);
    ck_assert_int_eq(s[1].result, DB_TX_COMMIT);
    ck_assert_int_eq(s[0].runs + s[1].runs, 3); /* exactly one re-run */
    ck_assert_int_eq(testenv_sql_int(e.admin, "SELECT count(*) FROM dbtest"), 2);
    dbt_tx_teardown(&e);
}
END_TEST

START_TEST(release_inside_a_transaction_rolls_back)
{
    dbt_txenv_t e = dbt_tx_setup("CREATE TABLE dbtest (x INTEGER)");
    db_conn_t *c = db_acquire(e.pool);
    PGresult *res = db_query(c, "BEGIN", 0, NULL);
    PQclear(res);
    res = db_exec(c, &stmt_insert, (const char *const[]){"9"}, NULL, NULL);
    ck_assert_ptr_nonnull(res);
    PQclear(res);
    db_release(e.pool, c); /* a caller's bug: never hand the transaction on */
    c = db_acquire(e.pool);
    ck_assert_int_eq(PQtransactionStatus(db_pg(c)), PQTRANS_IDLE);
    db_release(e.pool, c);
    ck_assert_int_eq(dbt_rows(e.admin, 9), 0);
    dbt_tx_teardown(&e);
}
END_TEST

TEST_SUITE(db)
{
    (void)testenv_db_setup();
    Suite *s = suite_create("db");
    TCase *open = dbt_tcase(s, "open");
    tcase_add_test(open, pool_opens_min_connections);
    tcase_add_test(open, sessions_are_set_up);
    tcase_add_test(open, schema_behind_is_refused);
    tcase_add_test(open, schema_newer_is_refused);
    tcase_add_test(open, mocked_and_empty_urls_are_refused);
    tcase_add_test(open, unreachable_database_retries_then_fails_in_one_line);
    tcase_add_test(open, password_never_in_messages);
    TCase *cls = dbt_tcase(s, "classify");
    tcase_add_test(cls, refusals_retrying_cannot_fix_stop_at_once);
    tcase_add_test(cls, connection_level_failures_are_retried);
    tcase_add_test(cls, server_shutting_down_is_retried);
    tcase_add_test(cls, server_started_later_is_reached);
    TCase *acq = dbt_tcase(s, "acquire");
    tcase_add_test(acq, pool_grows_to_max_then_waits_for_a_release);
    tcase_add_test(acq, concurrent_threads_never_exceed_max);
    tcase_add_test(acq, connection_closed_by_server_is_replaced);
    tcase_add_test(acq, tx_reconnects_a_session_closed_before_begin);
    tcase_add_test(acq, unreachable_after_open_gives_null_quickly);
    TCase *st = dbt_tcase(s, "statements");
    tcase_add_test(st, statements_are_prepared_once_per_session);
    tcase_add_test(st, exec_errors_and_binary_results);
    TCase *tx = dbt_tcase(s, "tx");
    tcase_add_test(tx, tx_commit_rollback_error);
    tcase_add_test(tx, tx_retries_serialization_failures_and_deadlocks);
    tcase_add_test(tx, tx_commit_failure_is_an_error);
    tcase_add_test(tx, tx_serializable_conflict_is_retried);
    tcase_add_test(tx, release_inside_a_transaction_rolls_back);
    return s;
}
