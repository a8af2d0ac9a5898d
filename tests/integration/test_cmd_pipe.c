/*
 * tests/integration/test_cmd_pipe.c - the command kit's pipelines
 * (fcgi-api/cmd/cmd.h, "Pipelines") on a real PostgreSQL: handlers of our
 * own run by cmd_execute() as the dispatcher runs them, each checking what
 * was written (nothing, after any failure), how many times it ran, and
 * what it answered (NULL: the dispatcher's 500).
 */
#include "arena.h"
#include "cmd/cmd.h"
#include "db.h"
#include "log.h"
#include "testenv.h"
#include "testreg.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const db_stmt_t stmt_ins = {"pipetest_ins", "INSERT INTO pipetest (x) VALUES ($1::int)", 1};
static const db_stmt_t stmt_count = {"pipetest_count",
                                     "SELECT count(*) FROM pipetest WHERE x = $1::int", 1};
static const db_stmt_t stmt_int = {"pipetest_int", "SELECT $1::int", 1};
static const db_stmt_t stmt_raise_40001 = {
    "pipetest_raise_40001",
    "DO $$ BEGIN RAISE EXCEPTION 'provoked' USING ERRCODE = '40001'; END $$", 0};

/* What a test's handler does, and what it saw. */
typedef struct {
    int runs;
    int x;            /* the value it writes */
    int fail_runs;    /* runs that fail as the test says */
    PGconn *admin;    /* another session, for what "another transaction" does */
    bool saw_pending; /* the handler read a queued result before it was sent */
} scene_t;

static scene_t scene;

static long count_x(PGconn *admin, int x)
{
    char *sql = xasprintf("SELECT count(*) FROM pipetest WHERE x = %d", x);
    long n = testenv_sql_int(admin, sql);
    free(sql);
    return n;
}

/* Two trips: BEGIN + insert + count, then insert + COMMIT. */
static cmd_result h_two_trips(cmd_t *cmd)
{
    scene.runs++;
    (void)CMD_QUEUE(cmd, &stmt_ins, DB_I64(scene.x));
    db_res_t *n = CMD_QUEUE(cmd, &stmt_count, DB_I64(scene.x));
    if (!cmd_flush(cmd))
        return CMD_ERROR;
    if (db_get_i64(n, 0, 0) != 1) /* sees the insert queued before it */
        return cmd_refuse(cmd, "wrong_count");
    (void)CMD_QUEUE(cmd, &stmt_ins, DB_I64(scene.x + 1));
    return cmd_ok_status(cmd);
}

/* A failure in the first trip: the handler answers ok, the kit 500. */
static cmd_result h_first_trip_fails(cmd_t *cmd)
{
    scene.runs++;
    (void)CMD_QUEUE(cmd, &stmt_ins, DB_I64(scene.x));
    (void)CMD_QUEUE(cmd, &stmt_int, DB_TEXT("not a number"));
    (void)cmd_flush(cmd);
    return cmd_ok_status(cmd);
}

/* A failure in the commit trip (its statements' results never read). */
static cmd_result h_commit_trip_fails(cmd_t *cmd)
{
    scene.runs++;
    (void)CMD_QUEUE(cmd, &stmt_ins, DB_I64(scene.x));
    (void)cmd_flush(cmd);
    (void)CMD_QUEUE(cmd, &stmt_ins, DB_I64(scene.x + 1));
    (void)CMD_QUEUE(cmd, &stmt_int, DB_TEXT("not a number"));
    return cmd_ok_status(cmd);
}

/* A serialization failure in the commit trip of the first fail_runs runs. */
static cmd_result h_commit_trip_serialization(cmd_t *cmd)
{
    scene.runs++;
    (void)CMD_QUEUE(cmd, &stmt_ins, DB_I64(scene.x));
    if (scene.runs <= scene.fail_runs)
        (void)CMD_QUEUE(cmd, &stmt_raise_40001);
    return cmd_ok_status(cmd);
}

/* Decides on a count, then writes: on its first run another session
 * commits the same value just before the write goes (a row no lock of the
 * handler covered); the unique violation runs it again, and the second run
 * refuses. */
static cmd_result h_unique_race(cmd_t *cmd)
{
    scene.runs++;
    db_res_t *n = CMD_QUEUE(cmd, &stmt_count, DB_I64(scene.x));
    if (!cmd_flush(cmd))
        return CMD_ERROR;
    if (db_get_i64(n, 0, 0) > 0)
        return cmd_refuse(cmd, "already_exists");
    if (scene.runs == 1) {
        char *sql = xasprintf("INSERT INTO pipetest (x) VALUES (%d)", scene.x);
        PGresult *res = PQexec(scene.admin, sql);
        free(sql);
        ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
        PQclear(res);
    }
    (void)CMD_QUEUE(cmd, &stmt_ins, DB_I64(scene.x));
    return cmd_ok_status(cmd);
}

/* Queues, then refuses: nothing is sent. */
static cmd_result h_refuse_after_queue(cmd_t *cmd)
{
    scene.runs++;
    (void)CMD_QUEUE(cmd, &stmt_ins, DB_I64(scene.x));
    (void)cmd_flush(cmd);
    (void)CMD_QUEUE(cmd, &stmt_ins, DB_I64(scene.x + 1));
    return cmd_refuse(cmd, "refused");
}

/* cmd_run after a queued statement joins the queue, in order; a queue
 * committed by cmd_commit() is visible before the handler returns. */
static cmd_result h_run_joins_then_commit(cmd_t *cmd)
{
    scene.runs++;
    (void)CMD_QUEUE(cmd, &stmt_ins, DB_I64(scene.x));
    db_res_t *n = CMD_RUN(cmd, &stmt_count, DB_I64(scene.x));
    if (db_get_i64(n, 0, 0) != 1)
        return cmd_refuse(cmd, "wrong_count");
    (void)CMD_QUEUE(cmd, &stmt_ins, DB_I64(scene.x + 1));
    if (cmd_commit(cmd) != CMD_OK)
        return CMD_ERROR;
    if (count_x(scene.admin, scene.x + 1) != 1)
        return cmd_refuse(cmd, "not_committed");
    return cmd_ok_status(cmd);
}

/* Reads a queued result before sending it: a bug, answered 500. */
static cmd_result h_pending_read(cmd_t *cmd)
{
    scene.runs++;
    (void)CMD_QUEUE(cmd, &stmt_ins, DB_I64(scene.x));
    db_res_t *n = CMD_QUEUE(cmd, &stmt_count, DB_I64(scene.x));
    scene.saw_pending = db_nrows(n) == 0;
    return cmd_ok_status(cmd);
}

/* Queues in a command that is not CMD_TRANSACTION: a bug, answered 500. */
static cmd_result h_queue_one_statement(cmd_t *cmd)
{
    scene.runs++;
    (void)CMD_QUEUE(cmd, &stmt_ins, DB_I64(scene.x));
    return cmd_ok_status(cmd);
}

typedef struct {
    char *url;
    PGconn *admin;
    db_pool_t *pool;
    arena_t *arena;
    auth_identity_t who;
} env_t;

static env_t env_open(void)
{
    env_t e;
    memset(&e, 0, sizeof e);
    e.url = testenv_db_create();
    e.admin = testenv_pg_connect(e.url);
    PGresult *res = PQexec(e.admin, "CREATE TABLE pipetest (x INTEGER UNIQUE)");
    ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.db_min_connections = 1;
    cfg.db_max_connections = 1;
    cfg.maximum_database_connection_attempts = 1;
    char err[512] = "";
    e.pool = db_pool_open(&cfg, e.url, err, sizeof err, NULL);
    ck_assert_msg(e.pool != NULL, "%s", err);
    e.arena = arena_new();
    return e;
}

static void env_close(env_t *e)
{
    arena_free(e->arena);
    db_pool_close(e->pool);
    testenv_db_done(e->admin, e->url);
}

/* Run handler h as a command of db use `use` on a fresh lease; the
 * reply's status ("" for the dispatcher's 500). */
static const char *run(env_t *e, cmd_handler_fn h, cmd_db_use use, int x, int fail_runs)
{
    memset(&scene, 0, sizeof scene);
    scene.x = x;
    scene.fail_runs = fail_runs;
    scene.admin = e->admin;
    cmd_def_t def = {"pipetest", AUTH_AUTHENTICATED, CMD_ANYONE, use, h};
    cmd_t cmd = {.name = def.name, .arena = e->arena, .who = &e->who};
    db_lease_t lease = {e->pool, NULL};
    json_object *reply = cmd_execute(&def, &cmd, &lease);
    db_lease_end(&lease);
    static char status[64];
    snprintf(status, sizeof status, "%s",
             reply ? json_object_get_string(json_object_object_get(reply, "status")) : "");
    json_object_put(reply);
    /* the connection went back clean */
    db_conn_t *c = db_acquire(e->pool);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(PQtransactionStatus(db_pg(c)), PQTRANS_IDLE);
    ck_assert_int_eq(PQpipelineStatus(db_pg(c)), PQ_PIPELINE_OFF);
    db_release(e->pool, c);
    return status;
}

START_TEST(two_round_trips_commit_everything)
{
    env_t e = env_open();
    ck_assert_str_eq(run(&e, h_two_trips, CMD_TRANSACTION, 10, 0), "ok");
    ck_assert_int_eq(scene.runs, 1);
    ck_assert_int_eq(count_x(e.admin, 10) + count_x(e.admin, 11), 2);
    /* cmd_run joins the queue; cmd_commit sends what is queued with COMMIT */
    ck_assert_str_eq(run(&e, h_run_joins_then_commit, CMD_TRANSACTION, 20, 0), "ok");
    ck_assert_int_eq(count_x(e.admin, 20) + count_x(e.admin, 21), 2);
    env_close(&e);
}
END_TEST

START_TEST(failures_write_nothing)
{
    env_t e = env_open();
    /* an error in the first trip: 500, once, nothing */
    ck_assert_str_eq(run(&e, h_first_trip_fails, CMD_TRANSACTION, 30, 0), "");
    ck_assert_int_eq(scene.runs, 1);
    ck_assert_int_eq(count_x(e.admin, 30), 0);
    /* an error in the commit trip: 500, once, nothing of either trip */
    ck_assert_str_eq(run(&e, h_commit_trip_fails, CMD_TRANSACTION, 40, 0), "");
    ck_assert_int_eq(scene.runs, 1);
    ck_assert_int_eq(count_x(e.admin, 40) + count_x(e.admin, 41), 0);
    /* a refusal: the queue is never sent, the first trip rolled back */
    ck_assert_str_eq(run(&e, h_refuse_after_queue, CMD_TRANSACTION, 50, 0), "refused");
    ck_assert_int_eq(count_x(e.admin, 50) + count_x(e.admin, 51), 0);
    /* bugs: a queued result read before it was sent; a queue in a command
     * that has no transaction of its own */
    ck_assert_str_eq(run(&e, h_pending_read, CMD_TRANSACTION, 60, 0), "");
    ck_assert(scene.saw_pending);
    ck_assert_int_eq(count_x(e.admin, 60), 0);
    ck_assert_str_eq(run(&e, h_queue_one_statement, CMD_ONE_STATEMENT, 70, 0), "");
    ck_assert_str_eq(run(&e, h_queue_one_statement, CMD_STATEMENTS, 71, 0), "");
    ck_assert_int_eq(count_x(e.admin, 70) + count_x(e.admin, 71), 0);
    env_close(&e);
}
END_TEST

START_TEST(serialization_failures_run_again)
{
    env_t e = env_open();
    ck_assert_str_eq(run(&e, h_commit_trip_serialization, CMD_TRANSACTION, 80, 2), "ok");
    ck_assert_int_eq(scene.runs, 3);
    ck_assert_int_eq(count_x(e.admin, 80), 1); /* the failed runs left nothing */
    /* bounded */
    ck_assert_str_eq(run(&e, h_commit_trip_serialization, CMD_TRANSACTION, 81, 1000), "");
    ck_assert_int_eq(scene.runs, DB_TX_MAX_ATTEMPTS);
    ck_assert_int_eq(count_x(e.admin, 81), 0);
    env_close(&e);
}
END_TEST

START_TEST(unique_violation_of_a_queued_write_runs_again)
{
    env_t e = env_open();
    ck_assert_str_eq(run(&e, h_unique_race, CMD_TRANSACTION, 90, 0), "already_exists");
    ck_assert_int_eq(scene.runs, 2);
    ck_assert_int_eq(count_x(e.admin, 90), 1); /* the other session's row only */
    env_close(&e);
}
END_TEST

/* The kit logs the failures these tests provoke; keep the output quiet. */
static void quiet_logs(void)
{
    char err[256];
    if (!log_open(CFG_LOG_CRITICAL, CFG_LOG_CONSOLE, NULL, "test_cmd_pipe", err, sizeof err))
        ck_abort_msg("log_open: %s", err);
}

static void restore_logs(void)
{
    log_close();
}

TEST_SUITE(cmd_pipe)
{
    (void)testenv_db_setup();
    Suite *s = suite_create("cmd_pipe");
    TCase *tc = tcase_create("pipelines");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, quiet_logs, restore_logs);
    tcase_add_test(tc, two_round_trips_commit_everything);
    tcase_add_test(tc, failures_write_nothing);
    tcase_add_test(tc, serialization_failures_run_again);
    tcase_add_test(tc, unique_violation_of_a_queued_write_runs_again);
    suite_add_tcase(s, tc);
    return s;
}
