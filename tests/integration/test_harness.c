/* tests/integration/test_harness.c - what tests/harness/run-tests promises
 * every integration suite: a live PostgreSQL and private directories */
#include "testreg.h"

#include <libpq-fe.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *need_env(const char *name)
{
    const char *v = getenv(name);
    ck_assert_msg(v && *v, "%s is not set: run the suite through tests/harness/run-tests", name);
    return v;
}

static void select_one(PGconn *c)
{
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
    PGresult *r = PQexec(c, "SELECT 1");
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "SELECT 1: %s", PQerrorMessage(c));
    ck_assert_int_eq(PQntuples(r), 1);
    ck_assert_str_eq(PQgetvalue(r, 0, 0), "1");
    PQclear(r);
}

START_TEST(postgres_over_tcp)
{
    PGconn *c = PQconnectdb(need_env("PARSEC_TEST_PG_URL"));
    select_one(c);
    /* Loopback TCP on the advertised port, not some other server. */
    ck_assert_str_eq(PQhost(c), need_env("PARSEC_TEST_PG_HOST"));
    ck_assert_str_eq(PQport(c), need_env("PARSEC_TEST_PG_PORT"));
    PGresult *r = PQexec(c, "SELECT current_setting('max_connections')::int >= 300, "
                            "current_setting('server_version_num')::int >= 150000");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    ck_assert_str_eq(PQgetvalue(r, 0, 0), "t");
    ck_assert_str_eq(PQgetvalue(r, 0, 1), "t");
    PQclear(r);
    PQfinish(c);
}
END_TEST

START_TEST(postgres_over_unix_socket)
{
    const char *keys[] = {"host", "port", "user", "dbname", NULL};
    const char *vals[] = {need_env("PARSEC_TEST_PG_SOCKET_DIR"), need_env("PARSEC_TEST_PG_PORT"),
                          "postgres", "postgres", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 0);
    select_one(c);
    PQfinish(c);
}
END_TEST

START_TEST(private_directories)
{
    struct stat st;
    const char *dirs[] = {"PARSEC_TEST_TMP", "PARSEC_TEST_SANITIZER_DIR", "PARSEC_TEST_BUILD",
                          "PARSEC_TEST_SRC"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        const char *d = need_env(dirs[i]);
        ck_assert_msg(d[0] == '/', "%s is not absolute: %s", dirs[i], d);
        ck_assert_msg(stat(d, &st) == 0 && S_ISDIR(st.st_mode), "%s: not a directory", d);
    }
    ck_assert_int_eq(access(need_env("PARSEC_TEST_TMP"), W_OK), 0);
    ck_assert_int_eq(access(need_env("PARSEC_TEST_SANITIZER_DIR"), W_OK), 0);

    char p[4096];
    snprintf(p, sizeof p, "%s/sql/0001_initial.sql", need_env("PARSEC_TEST_SRC"));
    ck_assert_msg(access(p, R_OK) == 0, "PARSEC_TEST_SRC is not the repository: %s", p);
    snprintf(p, sizeof p, "%s/tests/integration", need_env("PARSEC_TEST_BUILD"));
    ck_assert_msg(access(p, X_OK) == 0, "PARSEC_TEST_BUILD has no tests/integration: %s", p);
}
END_TEST

TEST_SUITE(harness)
{
    Suite *s = suite_create("harness");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, postgres_over_tcp);
    tcase_add_test(tc, postgres_over_unix_socket);
    tcase_add_test(tc, private_directories);
    suite_add_tcase(s, tc);
    return s;
}
