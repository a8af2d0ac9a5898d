/*
 * tests/integration/test_db_stmts.c - every prepared statement of the
 * worker prepares against the migrated schema, with the number of
 * parameters it declares
 *
 * A statement is prepared lazily, the first time a request runs it, so a
 * typo in the SQL of a rarely taken path would otherwise surface in
 * production.  The registry (DB_STMT, common/db.h) lists them all;
 * tests/unit/test_cmd_tables.c checks their names and parameter counts.
 */
#include "admin/admin.h"
#include "cmd/cmd.h"
#include "db.h"
#include "rpc/rpc.h"
#include "testenv.h"
#include "testreg.h"

#include <libpq-fe.h>
#include <stdlib.h>

/* Referenced so that the linker keeps every family, and with them every
 * statement, in this binary. */
__attribute__((used)) static const void *const keep[] = {cmd_families, admin_routes, rpc_routes};

START_TEST(every_statement_prepares)
{
    ck_assert_ptr_nonnull(keep[0]);
    char *url = testenv_db_create();
    PGconn *pg = testenv_pg_connect(url);
    size_t n = db_stmt_count();
    ck_assert_uint_ge(n, 15);
    for (size_t i = 0; i < n; i++) {
        const db_stmt_t *s = db_stmt_at(i);
        PGresult *res = PQprepare(pg, s->name, s->sql, s->nparams, NULL);
        ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s: %s", s->name,
                      PQresultErrorMessage(res));
        PQclear(res);
        res = PQdescribePrepared(pg, s->name);
        ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s: %s", s->name,
                      PQresultErrorMessage(res));
        ck_assert_msg(PQnparams(res) == s->nparams, "%s: %d parameters, declared %d", s->name,
                      PQnparams(res), s->nparams);
        PQclear(res);
    }
    testenv_db_done(pg, url);
}
END_TEST

TEST_SUITE(db_stmts)
{
    Suite *s = suite_create("db_stmts");
    TCase *tc = tcase_create("prepare");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, every_statement_prepares);
    suite_add_tcase(s, tc);
    return s;
}
