/*
 * tests/integration/test_db_pipe.c - pipelines (common/db.h, "Pipelines":
 * db_exec_pipeline() and the typed db_pipe_* queue) against a real
 * PostgreSQL: order, preparing once, a failure in either trip, a lost
 * connection, misuse; shared helpers in test_db_lib.h
 */
#include "arena.h"
#include "db.h"
#include "test_db_lib.h"
#include "testenv.h"
#include "testreg.h"

#include <stdbool.h>

/* A table (table_sql), a connection, an arena and a pipeline on them. */
static db_pipe_t *pipe_setup(dbt_txenv_t *e, const char *table_sql, db_conn_t **c, arena_t **a,
                             bool *failed)
{
    *e = dbt_tx_setup(table_sql);
    *c = db_acquire(e->pool);
    ck_assert_ptr_nonnull(*c);
    *a = arena_new();
    *failed = false;
    return db_pipe_new(*a, failed);
}

static void pipe_teardown(dbt_txenv_t *e, db_conn_t *c, arena_t *a)
{
    arena_free(a);
    db_release(e->pool, c);
    dbt_tx_teardown(e);
}

static const db_stmt_t stmt_int = {"dbtest_int", "SELECT $1::int", 1};
static const db_stmt_t stmt_count_x = {"dbtest_count_x",
                                       "SELECT count(*) FROM dbtest WHERE x = $1::int", 1};
static const db_stmt_t stmt_raise_40001 = {
    "dbtest_raise_40001", "DO $$ BEGIN RAISE EXCEPTION 'provoked' USING ERRCODE = '40001'; END $$",
    0};
static const db_stmt_t stmt_kill_self = {"dbtest_kill_self",
                                         "SELECT pg_terminate_backend(pg_backend_pid())", 0};
static const db_stmt_t stmt_ins = {"dbtest_ins", "INSERT INTO dbtest (x) VALUES ($1::int)", 1};

START_TEST(pipeline_runs_in_order_and_prepares_once)
{
    dbt_txenv_t e;
    db_conn_t *c;
    arena_t *a;
    bool failed;
    db_pipe_t *p = pipe_setup(&e, "CREATE TABLE dbtest (x INTEGER UNIQUE)", &c, &a, &failed);
    (void)DB_PIPE_ADD(p, &stmt_ins, DB_I64(1));
    db_res_t *n1 = DB_PIPE_ADD(p, &stmt_count_x, DB_I64(1)); /* sees the insert before it */
    (void)DB_PIPE_ADD(p, &stmt_ins, DB_I64(2));
    db_res_t *n2 = DB_PIPE_ADD(p, &stmt_count_x, DB_I64(2));
    ck_assert_uint_eq(db_pipe_count(p), 4);
    ck_assert(db_pipe_send(p, c, DB_PIPE_BEGIN));
    ck_assert_uint_eq(db_pipe_count(p), 0);
    ck_assert(!failed);
    ck_assert_int_eq(db_get_i64(n1, 0, 0), 1);
    ck_assert_int_eq(db_get_i64(n2, 0, 0), 1);
    /* BEGIN ran: the transaction stays open, others see nothing yet */
    ck_assert_int_eq(PQtransactionStatus(db_pg(c)), PQTRANS_INTRANS);
    ck_assert_int_eq(dbt_rows(e.admin, 1), 0);
    /* each statement prepared once, though queued twice */
    PGresult *res = db_query(c,
                             "SELECT count(*) FROM pg_prepared_statements"
                             " WHERE name IN ('dbtest_ins', 'dbtest_count_x')",
                             0, NULL);
    ck_assert_str_eq(PQgetvalue(res, 0, 0), "2");
    PQclear(res);
    /* the second trip: a statement and COMMIT */
    (void)DB_PIPE_ADD(p, &stmt_ins, DB_I64(3));
    ck_assert(db_pipe_send(p, c, DB_PIPE_COMMIT));
    ck_assert_int_eq(PQtransactionStatus(db_pg(c)), PQTRANS_IDLE);
    ck_assert_int_eq(dbt_rows(e.admin, 1) + dbt_rows(e.admin, 2) + dbt_rows(e.admin, 3), 3);
    /* BEGIN, COMMIT and nothing else: a transaction of its own */
    ck_assert(db_pipe_send(p, c, DB_PIPE_BEGIN | DB_PIPE_COMMIT));
    ck_assert_int_eq(PQtransactionStatus(db_pg(c)), PQTRANS_IDLE);
    pipe_teardown(&e, c, a);
}
END_TEST

START_TEST(pipeline_failure_in_the_first_trip)
{
    dbt_txenv_t e;
    db_conn_t *c;
    arena_t *a;
    bool failed;
    db_pipe_t *p = pipe_setup(&e, "CREATE TABLE dbtest (x INTEGER UNIQUE)", &c, &a, &failed);
    (void)DB_PIPE_ADD(p, &stmt_ins, DB_I64(1));
    (void)DB_PIPE_ADD(p, &stmt_int, DB_TEXT("not a number")); /* 22P02 */
    (void)DB_PIPE_ADD(p, &stmt_ins, DB_I64(2));
    db_res_t *after = DB_PIPE_ADD(p, &stmt_count_x, DB_I64(1));
    ck_assert(!db_pipe_send(p, c, DB_PIPE_BEGIN));
    ck_assert(failed);
    ck_assert_str_eq(db_last_sqlstate(c), "22P02"); /* the cause, not "aborted" */
    ck_assert_uint_eq(db_nrows(after), 0);          /* skipped */
    /* the transaction is open and failed, for the caller to end */
    ck_assert_int_eq(PQtransactionStatus(db_pg(c)), PQTRANS_INERROR);
    db_rollback(c);
    ck_assert_int_eq(dbt_rows(e.admin, 1) + dbt_rows(e.admin, 2), 0);
    /* sticky: nothing is sent once failed */
    (void)DB_PIPE_ADD(p, &stmt_ins, DB_I64(3));
    ck_assert(!db_pipe_send(p, c, DB_PIPE_BEGIN | DB_PIPE_COMMIT));
    ck_assert_int_eq(dbt_rows(e.admin, 3), 0);
    /* the session is clean and usable */
    ck_assert_int_eq(PQtransactionStatus(db_pg(c)), PQTRANS_IDLE);
    ck_assert_int_eq(PQpipelineStatus(db_pg(c)), PQ_PIPELINE_OFF);
    PGresult *res = db_exec(c, &dbt_stmt_one, (const char *const[]){"1"}, NULL, NULL);
    ck_assert_ptr_nonnull(res);
    PQclear(res);
    pipe_teardown(&e, c, a);
}
END_TEST

START_TEST(pipeline_failure_in_the_commit_trip)
{
    dbt_txenv_t e;
    db_conn_t *c;
    arena_t *a;
    bool failed;
    db_pipe_t *p = pipe_setup(&e, "CREATE TABLE dbtest (x INTEGER UNIQUE)", &c, &a, &failed);
    (void)DB_PIPE_ADD(p, &stmt_ins, DB_I64(1));
    ck_assert(db_pipe_send(p, c, DB_PIPE_BEGIN));
    (void)DB_PIPE_ADD(p, &stmt_ins, DB_I64(2));
    (void)DB_PIPE_ADD(p, &stmt_ins, DB_I64(1)); /* 23505: COMMIT is skipped */
    (void)DB_PIPE_ADD(p, &stmt_ins, DB_I64(3));
    ck_assert(!db_pipe_send(p, c, DB_PIPE_COMMIT));
    ck_assert_str_eq(db_last_sqlstate(c), "23505");
    /* rolled back here, as db_commit() does: nothing of either trip */
    ck_assert_int_eq(PQtransactionStatus(db_pg(c)), PQTRANS_IDLE);
    ck_assert_int_eq(dbt_rows(e.admin, 1) + dbt_rows(e.admin, 2) + dbt_rows(e.admin, 3), 0);
    pipe_teardown(&e, c, a);
}
END_TEST

START_TEST(pipeline_commit_failure_and_serialization_failure)
{
    dbt_txenv_t e;
    db_conn_t *c;
    arena_t *a;
    bool failed;
    db_pipe_t *p =
        pipe_setup(&e, "CREATE TABLE dbtest (x INTEGER, UNIQUE (x) DEFERRABLE INITIALLY DEFERRED)",
                   &c, &a, &failed);
    /* both inserts pass, COMMIT fails on the deferred check */
    (void)DB_PIPE_ADD(p, &stmt_ins, DB_I64(7));
    (void)DB_PIPE_ADD(p, &stmt_ins, DB_I64(7));
    ck_assert(!db_pipe_send(p, c, DB_PIPE_BEGIN | DB_PIPE_COMMIT));
    ck_assert_str_eq(db_last_sqlstate(c), "23505");
    ck_assert(!db_tx_retryable(c));
    ck_assert_int_eq(PQtransactionStatus(db_pg(c)), PQTRANS_IDLE);
    ck_assert_int_eq(dbt_rows(e.admin, 7), 0);
    /* a serialization failure mid-pipeline is kept as the cause: retryable */
    failed = false;
    p = db_pipe_new(a, &failed);
    (void)DB_PIPE_ADD(p, &stmt_ins, DB_I64(8));
    (void)DB_PIPE_ADD(p, &stmt_raise_40001);
    (void)DB_PIPE_ADD(p, &stmt_ins, DB_I64(9));
    ck_assert(!db_pipe_send(p, c, DB_PIPE_BEGIN | DB_PIPE_COMMIT));
    ck_assert_str_eq(db_last_sqlstate(c), "40001");
    ck_assert(db_tx_retryable(c));
    ck_assert_int_eq(PQtransactionStatus(db_pg(c)), PQTRANS_IDLE);
    ck_assert_int_eq(dbt_rows(e.admin, 8) + dbt_rows(e.admin, 9), 0);
    pipe_teardown(&e, c, a);
}
END_TEST

START_TEST(pipeline_connection_lost)
{
    dbt_txenv_t e;
    db_conn_t *c;
    arena_t *a;
    bool failed;
    db_pipe_t *p = pipe_setup(&e, "CREATE TABLE dbtest (x INTEGER UNIQUE)", &c, &a, &failed);

    /* A session the server closed before the pipeline: BEGIN alone (no
     * COMMIT) is sent again on a fresh session, transparently. */
    int pid = dbt_backend_pid(c);
    dbt_terminate(e.admin, pid);
    p = db_pipe_new(a, &failed);
    (void)DB_PIPE_ADD(p, &stmt_ins, DB_I64(1));
    ck_assert(db_pipe_send(p, c, DB_PIPE_BEGIN));
    ck_assert(!failed);
    ck_assert_int_ne(dbt_backend_pid(c), pid);
    ck_assert(db_pipe_send(p, c, DB_PIPE_COMMIT));
    ck_assert_int_eq(dbt_rows(e.admin, 1), 1);

    /* With COMMIT in the same trip it is not sent again (its answers may
     * be lost after the COMMIT): a failure, nothing written. */
    dbt_terminate(e.admin, dbt_backend_pid(c));
    p = db_pipe_new(a, &failed);
    (void)DB_PIPE_ADD(p, &stmt_ins, DB_I64(2));
    ck_assert(!db_pipe_send(p, c, DB_PIPE_BEGIN | DB_PIPE_COMMIT));
    ck_assert(failed);
    ck_assert_int_eq(dbt_rows(e.admin, 2), 0);
    db_release(e.pool, c); /* broken: dropped */
    int open;
    db_pool_counts(e.pool, &open, NULL);
    ck_assert_int_eq(open, 1); /* the other connection of the pool */

    /* Lost in the middle of a pipeline: nothing committed, dropped. */
    c = db_acquire(e.pool);
    failed = false;
    p = db_pipe_new(a, &failed);
    (void)DB_PIPE_ADD(p, &stmt_ins, DB_I64(3));
    (void)DB_PIPE_ADD(p, &stmt_kill_self);
    (void)DB_PIPE_ADD(p, &stmt_ins, DB_I64(4));
    ck_assert(!db_pipe_send(p, c, DB_PIPE_BEGIN | DB_PIPE_COMMIT));
    ck_assert(failed);
    ck_assert_int_eq(dbt_rows(e.admin, 3) + dbt_rows(e.admin, 4), 0);
    db_release(e.pool, c);
    db_pool_counts(e.pool, &open, NULL);
    ck_assert_int_eq(open, 0);
    /* the pool gives a fresh, working session */
    c = db_acquire(e.pool);
    failed = false;
    p = db_pipe_new(a, &failed);
    (void)DB_PIPE_ADD(p, &stmt_ins, DB_I64(5));
    ck_assert(db_pipe_send(p, c, DB_PIPE_BEGIN | DB_PIPE_COMMIT));
    ck_assert_int_eq(dbt_rows(e.admin, 5), 1);
    pipe_teardown(&e, c, a);
}
END_TEST

START_TEST(pipeline_misuse_is_refused)
{
    dbt_txenv_t e;
    db_conn_t *c;
    arena_t *a;
    bool failed;
    db_pipe_t *p = pipe_setup(&e, "CREATE TABLE dbtest (x INTEGER UNIQUE)", &c, &a, &failed);
    /* a result read before its pipeline was sent: a bug, the flag set */
    db_res_t *r = DB_PIPE_ADD(p, &stmt_count_x, DB_I64(1));
    ck_assert_uint_eq(db_nrows(r), 0);
    ck_assert(failed);
    db_pipe_drop(p);
    /* the wrong number of parameters */
    failed = false;
    (void)db_pipe_add(p, &stmt_ins, NULL, 0);
    ck_assert(failed);
    ck_assert_uint_eq(db_pipe_count(p), 0);
    /* BEGIN inside a transaction: refused, the caller's left alone */
    failed = false;
    PGresult *res = db_query(c, "BEGIN", 0, NULL);
    PQclear(res);
    (void)DB_PIPE_ADD(p, &stmt_ins, DB_I64(1));
    ck_assert(!db_pipe_send(p, c, DB_PIPE_BEGIN | DB_PIPE_COMMIT));
    ck_assert_int_eq(PQtransactionStatus(db_pg(c)), PQTRANS_INTRANS);
    db_rollback(c);
    ck_assert_int_eq(dbt_rows(e.admin, 1), 0);
    pipe_teardown(&e, c, a);
}
END_TEST

TEST_SUITE(db_pipe)
{
    (void)testenv_db_setup();
    Suite *s = suite_create("db_pipe");
    TCase *pipe = dbt_tcase(s, "pipeline");
    tcase_add_test(pipe, pipeline_runs_in_order_and_prepares_once);
    tcase_add_test(pipe, pipeline_failure_in_the_first_trip);
    tcase_add_test(pipe, pipeline_failure_in_the_commit_trip);
    tcase_add_test(pipe, pipeline_commit_failure_and_serialization_failure);
    tcase_add_test(pipe, pipeline_connection_lost);
    tcase_add_test(pipe, pipeline_misuse_is_refused);
    return s;
}
