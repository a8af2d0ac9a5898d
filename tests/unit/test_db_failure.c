/* tests/unit/test_db_failure.c - db_failure_classify(): which connection
 * failures are retried (messages as libpq 15 writes them, verbose) */
#include "db.h"
#include "testreg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *msg;
    db_failure want;
} cases[] = {
    /* the server refused us for a reason of ours: whatever its language */
    {"connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  28P01: password "
     "authentication failed for user \"parsec\"\nLOCATION:  auth_failed, auth.c:334\n",
     DB_FAIL_FATAL},
    {"connection to server on socket \"/run/postgresql/.s.PGSQL.5432\" failed: FATAL:  3D000: "
     "la base de données « parsec » n'existe pas\n",
     DB_FAIL_FATAL},
    {"connection to server at \"db\" (10.0.0.5), port 5432 failed: ВАЖНО:  28000: роль "
     "\"parsec\" не существует\n",
     DB_FAIL_FATAL},
    {"connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  28000: no pg_hba.conf "
     "entry for host \"127.0.0.1\", user \"parsec\", database \"parsec\", no encryption\n",
     DB_FAIL_FATAL},
    {"connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  42704: unrecognized "
     "configuration parameter \"nosuch\"\n",
     DB_FAIL_FATAL},
    /* libpq refused a setting, or the peer is no PostgreSQL */
    {"invalid sslmode value: \"bogus\"\n", DB_FAIL_FATAL},
    {"connection to server at \"127.0.0.1\", port 5432 failed: server does not support SSL, but "
     "SSL was required\n",
     DB_FAIL_FATAL},
    {"connection to server at \"127.0.0.1\", port 80 failed: received invalid response to SSL "
     "negotiation: H\n",
     DB_FAIL_FATAL},
    /* the server is starting, stopping, recovering, full */
    {"connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  57P03: the database "
     "system is starting up\n",
     DB_FAIL_RETRY},
    {"connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  57P03: le système de "
     "bases de données est en cours d'arrêt\n",
     DB_FAIL_RETRY},
    {"connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  53300: sorry, too many "
     "clients already\n",
     DB_FAIL_RETRY},
    {"connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  57P01: terminating "
     "connection due to administrator command\n",
     DB_FAIL_RETRY},
    /* the network */
    {"connection to server at \"127.0.0.1\", port 5432 failed: Connection refused\n\tIs the "
     "server running on that host and accepting TCP/IP connections?\n",
     DB_FAIL_RETRY},
    {"connection to server on socket \"/run/postgresql/.s.PGSQL.5432\" failed: No such file or "
     "directory\n\tIs the server running locally and accepting connections on that socket?\n",
     DB_FAIL_RETRY},
    {"could not translate host name \"db\" to address: Temporary failure in name resolution\n",
     DB_FAIL_RETRY},
    {"connection to server at \"10.0.0.5\", port 5432 failed: No route to host\n", DB_FAIL_RETRY},
    {"server closed the connection unexpectedly\n\tThis probably means the server terminated "
     "abnormally\n\tbefore or while processing the request.\n",
     DB_FAIL_RETRY},
    {"timeout expired\n", DB_FAIL_RETRY},
    /* two hosts: one refused us, the other is down and may come back */
    {"connection to server at \"a\" (10.0.0.1), port 5432 failed: FATAL:  28P01: password "
     "authentication failed for user \"p\"\nconnection to server at \"b\" (10.0.0.2), port 5432 "
     "failed: Connection refused\n",
     DB_FAIL_RETRY},
    /* a colon-space-space in a server's text is no SQLSTATE */
    {"connection to server at \"h\", port 1 failed: FATAL:  28P01: user \"a:  XX:  b\"\n",
     DB_FAIL_FATAL},
};

START_TEST(each_message_has_its_class)
{
    db_failure got = db_failure_classify(cases[_i].msg, false);
    ck_assert_msg(got == cases[_i].want, "case %d: %s, want %s: %s", _i, db_failure_name(got),
                  db_failure_name(cases[_i].want), cases[_i].msg);
}
END_TEST

START_TEST(missing_password_is_fatal)
{
    ck_assert_int_eq(db_failure_classify("connection to server at \"h\", port 5432 failed: "
                                         "fe_sendauth: no password supplied\n",
                                         true),
                     DB_FAIL_FATAL);
    /* whatever the text says */
    ck_assert_int_eq(db_failure_classify("timeout expired\n", true), DB_FAIL_FATAL);
    ck_assert_int_eq(db_failure_classify("", false), DB_FAIL_RETRY);
    ck_assert_int_eq(db_failure_classify(NULL, false), DB_FAIL_RETRY);
}
END_TEST

TEST_SUITE(db_failure)
{
    Suite *s = suite_create("db_failure");
    TCase *tc = tcase_create("classify");
    tcase_add_loop_test(tc, each_message_has_its_class, 0, (int)(sizeof cases / sizeof *cases));
    tcase_add_test(tc, missing_password_is_fatal);
    suite_add_tcase(s, tc);
    return s;
}
