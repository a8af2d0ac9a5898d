/*
 * tests/integration/test_db_lib.c - helpers of the database suites (see
 * test_db_lib.h)
 */
#include "test_db_lib.h"

#include "log.h"
#include "testenv.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

cfg_t dbt_pool_cfg(int min, int max)
{
    cfg_t c;
    memset(&c, 0, sizeof c);
    c.db_min_connections = min;
    c.db_max_connections = max;
    c.maximum_database_connection_attempts = 1;
    c.pause_before_retry_database_connection = 0.1;
    return c;
}

db_pool_t *dbt_pool_open_ok(const char *url, int min, int max)
{
    cfg_t cfg = dbt_pool_cfg(min, max);
    char err[512] = "";
    db_pool_t *pool = db_pool_open(&cfg, url, err, sizeof err, NULL);
    ck_assert_msg(pool != NULL, "%s", err);
    return pool;
}

void dbt_exec_sql(PGconn *pg, const char *sql)
{
    PGresult *res = PQexec(pg, sql);
    ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s: %s", sql,
                  PQresultErrorMessage(res));
    PQclear(res);
}

dbt_txenv_t dbt_tx_setup(const char *table_sql)
{
    dbt_txenv_t e;
    e.url = testenv_db_create();
    e.admin = testenv_pg_connect(e.url);
    dbt_exec_sql(e.admin, table_sql);
    e.pool = dbt_pool_open_ok(e.url, 2, 2);
    return e;
}

void dbt_tx_teardown(dbt_txenv_t *e)
{
    db_pool_close(e->pool);
    PQfinish(e->admin);
    testenv_db_done(NULL, e->url);
}

long dbt_rows(PGconn *pg, int value)
{
    char *sql = xasprintf("SELECT count(*) FROM dbtest WHERE x = %d", value);
    long n = testenv_sql_int(pg, sql);
    free(sql);
    return n;
}

const db_stmt_t dbt_stmt_one = {"dbtest_one", "SELECT $1::int + 1", 1};
const db_stmt_t dbt_stmt_pid = {"dbtest_pid", "SELECT pg_backend_pid()", 0};

int dbt_backend_pid(db_conn_t *c)
{
    PGresult *res = db_exec(c, &dbt_stmt_pid, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(res);
    int pid = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return pid;
}

void dbt_terminate(PGconn *admin, int pid)
{
    char *sql = xasprintf("SELECT pg_terminate_backend(%d)::int", pid);
    ck_assert_int_eq(testenv_sql_int(admin, sql), 1);
    free(sql);
    /* pg_terminate_backend only signals: wait until the session is gone. */
    sql = xasprintf("SELECT count(*) FROM pg_stat_activity WHERE pid = %d", pid);
    for (int i = 0; i < 500 && testenv_sql_int(admin, sql) > 0; i++)
        usleep(10 * 1000);
    ck_assert_int_eq(testenv_sql_int(admin, sql), 0);
    free(sql);
}

/* Many tests provoke failures db.c logs as errors; keep the run's output
 * for real news.  (Remove the fixture when debugging a test.) */
static void quiet_logs(void)
{
    char err[256];
    if (!log_open(CFG_LOG_CRITICAL, CFG_LOG_CONSOLE, NULL, "test_db", err, sizeof err))
        ck_abort_msg("log_open: %s", err);
}

static void restore_logs(void)
{
    log_close();
}

TCase *dbt_tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, quiet_logs, restore_logs);
    suite_add_tcase(s, tc);
    return tc;
}
