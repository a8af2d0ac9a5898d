/*
 * tests/unit/test_cfg_args.c - where settings come from (common/cfg.c)
 *
 * Precedence of flags, PARSEC_CMD_ARGS, variables and defaults;
 * PARSEC_CMD_ARGS splitting, quoting and expansion, and its refusals;
 * positional arguments handed back to the command.
 */
#include "cfg.h"
#include "test_cfg_lib.h"
#include "testreg.h"

#include <stdlib.h>
#include <string.h>

START_TEST(precedence)
{
    cfg_t c;
    /* flag > PARSEC_CMD_ARGS > variable > default */
    cfgt_parses_to(ARGS("--port", "1000"), ENV("PARSEC_PORT=2000", "PARSEC_CMD_ARGS=--port=3000"),
                   "port", "1000");
    cfgt_parses_to(NOARGS, ENV("PARSEC_PORT=2000", "PARSEC_CMD_ARGS=--port=3000"), "port", "3000");
    cfgt_parses_to(NOARGS, ENV("PARSEC_PORT=2000"), "port", "2000");
    cfgt_parses_to(ARGS("-P", "1000"), ENV("PARSEC_PORT=2000"), "port", "1000");
    /* an empty variable is unset */
    cfgt_parses_to(NOARGS, ENV("PARSEC_PORT=", "PARSEC_CMD_ARGS="), "port", "6777");
    /* the last of repeated flags wins */
    cfgt_parses_to(ARGS("--port", "1", "--port=2", "-P3"), NOENV, "port", "3");
    /* an overridden value is not even read */
    cfgt_parses_to(ARGS("--port", "1000"), ENV("PARSEC_PORT=abc", "PARSEC_CMD_ARGS=--port=x"),
                   "port", "1000");
    /* a flag beats a false variable */
    cfgt_parse_ok(&c, ARGS("--debug"), ENV("PARSEC_DEBUG=0"));
    ck_assert(c.debug);
    cfg_free(&c);
    /* per setting: sources mix */
    cfgt_parse_ok(
        &c, ARGS("--host", "10.0.0.1"),
        ENV("PARSEC_PORT=2000", "PARSEC_CMD_ARGS=--log-level INFO", "PARSEC_HOST=10.0.0.2"));
    ck_assert_str_eq(c.host, "10.0.0.1");
    ck_assert_int_eq(c.port, 2000);
    ck_assert_int_eq(c.log_level, CFG_LOG_INFO);
    cfg_free(&c);
    /* the first of duplicated environment entries counts, like getenv */
    cfgt_parses_to(NOARGS, ENV("PARSEC_PORT=2000", "PARSEC_PORT=2001"), "port", "2000");
}
END_TEST

START_TEST(cmd_args_guide_example)
{
    cfg_t c;
    cfgt_parse_ok(&c, NOARGS,
                  ENV("DB_URL=postgres:///parsec", "PARSEC_CMD_ARGS=--db=$DB_URL --host=0.0.0.0"));
    ck_assert_str_eq(c.db, "postgres:///parsec");
    ck_assert_str_eq(c.host, "0.0.0.0");
    cfg_free(&c);
}
END_TEST

START_TEST(cmd_args_expansion_and_quotes)
{
    cfg_t c;
    /* ${VAR}, several words, tabs and newlines as separators */
    cfgt_parse_ok(&c, NOARGS,
                  ENV("P=7001", "H=example.org",
                      "PARSEC_CMD_ARGS=\t--port ${P}\n --sentry-environment=pre-$H-post "));
    ck_assert_int_eq(c.port, 7001);
    ck_assert_str_eq(c.sentry_environment, "pre-example.org-post");
    cfg_free(&c);
    /* unknown variables and lone dollars stay as written */
    cfgt_parses_to(NOARGS, ENV("PARSEC_CMD_ARGS=--sentry-environment=$NOPE${NOPE}$-x$"),
                   "sentry-environment", "$NOPE${NOPE}$-x$");
    /* a value with spaces stays one word, and is not re-scanned */
    cfgt_parses_to(NOARGS, ENV("E=a b 'c' $X", "X=no", "PARSEC_CMD_ARGS=--sentry-environment=$E"),
                   "sentry-environment", "a b 'c' $X");
    /* single quotes: literal; double quotes: spaces kept, variables expanded */
    cfgt_parse_ok(
        &c, NOARGS,
        ENV("X=1", "ADDR=team@example.com",
            "PARSEC_CMD_ARGS=--sentry-environment='$X \"y\"' "
            "--email-sender=\"Parsec Team <$ADDR>\" --email-host-user=\"a\\\"b\\\\c\\$d\\e\""));
    ck_assert_str_eq(c.sentry_environment, "$X \"y\"");
    ck_assert_str_eq(c.email_sender, "Parsec Team <team@example.com>");
    ck_assert_str_eq(c.email_host_user, "a\"b\\c$d\\e");
    cfg_free(&c);
    /* backslash outside quotes: escapes space, quotes, $ ... */
    cfgt_parse_ok(&c, NOARGS, ENV("X=1", "PARSEC_CMD_ARGS=--sentry-environment=a\\ b\\'\\\"\\$X"));
    ck_assert_str_eq(c.sentry_environment, "a b'\"$X");
    cfg_free(&c);
    /* ... and keeps every other backslash, so Parsec's blockstore escapes work */
    cfgt_parse_ok(&c, NOARGS,
                  ENV("PARSEC_CMD_ARGS=-b s3:http\\://minio\\:9000:eu:bucket:key:se\\\\cr\\et"));
    ck_assert_uint_eq(c.blockstore.n_nodes, 1);
    ck_assert_str_eq(c.blockstore.nodes[0].s3_endpoint, "http://minio:9000");
    ck_assert_str_eq(c.blockstore.nodes[0].s3_secret, "se\\cr\\et");
    cfg_free(&c);
    /* an empty quoted word is a value */
    cfgt_refused(NOARGS, ENV("PARSEC_CMD_ARGS=--host ''"),
                 "PARSEC_CMD_ARGS: --host: must not be empty");
}
END_TEST

START_TEST(cmd_args_refusals)
{
    const cfgt_refusal_t refusals[] = {
        {NOARGS, ENV("PARSEC_CMD_ARGS=--host 'oops"), "PARSEC_CMD_ARGS: unterminated ' quote",
         NULL},
        {NOARGS, ENV("PARSEC_CMD_ARGS=--host \"oops"), "PARSEC_CMD_ARGS: unterminated \" quote",
         NULL},
        {NOARGS, ENV("PARSEC_CMD_ARGS=--nope"), "PARSEC_CMD_ARGS: unknown setting \"--nope\"",
         NULL},
        {NOARGS, ENV("PARSEC_CMD_ARGS=--port"), "PARSEC_CMD_ARGS: --port: missing value", NULL},
        {NOARGS, ENV("PARSEC_CMD_ARGS=--port=abc"),
         "PARSEC_CMD_ARGS: --port: expected an integer from 1 to 65535, got \"abc\"", NULL},
        {NOARGS, ENV("PARSEC_CMD_ARGS=--port 1 stray"),
         "PARSEC_CMD_ARGS: unexpected argument in position 3", NULL},
    };
    CFGT_REFUSE_EACH(refusals);
    /* positionals are refused there even when the command takes some */
    char **pos;
    int npos;
    cfg_t c;
    ck_assert_int_eq(cfg_parse(&c, 0, NOARGS, ENV("PARSEC_CMD_ARGS=Org"), cfgt_err, sizeof cfgt_err,
                               &pos, &npos),
                     CFG_PARSE_ERROR);
    ck_assert_ptr_null(pos);

    /* bounds */
    size_t n = CFG_CMD_ARGS_MAX + 100;
    char *big = malloc(n + 1);
    memcpy(big, "PARSEC_CMD_ARGS=", 16);
    memset(big + 16, 'a', n - 16);
    big[n] = '\0';
    cfgt_refused(NOARGS, ENV(big), "PARSEC_CMD_ARGS: longer than");
    /* a variable multiplies a short text past the bound */
    char *val = malloc(CFG_CMD_ARGS_MAX / 2 + 8);
    memcpy(val, "V=", 2);
    memset(val + 2, 'v', CFG_CMD_ARGS_MAX / 2);
    val[CFG_CMD_ARGS_MAX / 2 + 2] = '\0';
    cfgt_refused(NOARGS, ENV(val, "PARSEC_CMD_ARGS=--host=$V$V$V"), "once expanded");
    /* too many words */
    char *many = malloc(16 + 3 * (CFG_CMD_ARGS_WORDS + 1) + 1);
    strcpy(many, "PARSEC_CMD_ARGS=");
    for (int i = 0; i <= CFG_CMD_ARGS_WORDS; i++)
        strcat(many, "-- ");
    cfgt_refused(NOARGS, ENV(many), "more than 1024 words");
    free(big);
    free(val);
    free(many);
}
END_TEST

START_TEST(positional_arguments)
{
    cfg_t c;
    char **pos;
    int npos;
    char *argv[] = {"MyOrg", "--port", "1000", "other", "--", "--weird", NULL};
    ck_assert_int_eq(cfg_parse(&c, 6, argv, NOENV, cfgt_err, sizeof cfgt_err, &pos, &npos),
                     CFG_PARSE_OK);
    ck_assert_int_eq(npos, 3);
    ck_assert_str_eq(pos[0], "MyOrg");
    ck_assert_str_eq(pos[1], "other");
    ck_assert_str_eq(pos[2], "--weird");
    ck_assert_ptr_null(pos[3]);
    ck_assert_ptr_eq(pos[0], argv[0]); /* pointers into argv */
    ck_assert_int_eq(c.port, 1000);
    free(pos);
    cfg_free(&c);

    ck_assert_int_eq(cfg_parse(&c, 0, NOARGS, NOENV, cfgt_err, sizeof cfgt_err, &pos, &npos),
                     CFG_PARSE_OK);
    ck_assert_ptr_null(pos);
    ck_assert_int_eq(npos, 0);
    cfg_free(&c);

    ck_assert_int_eq(
        cfg_parse(&c, 2, ARGS("Org", "--nope"), NOENV, cfgt_err, sizeof cfgt_err, &pos, &npos),
        CFG_PARSE_ERROR);
    ck_assert_ptr_null(pos);
    ck_assert_int_eq(npos, 0);

    /* a value that starts with '-' is still a value, as with getopt */
    cfgt_parses_to(ARGS("--administration-token", "-tok-"), NOENV, "administration-token", "-tok-");

    /* a tiny cfgt_err buffer is truncated, still terminated */
    char small[12];
    ck_assert_int_eq(cfg_parse(&c, 1, ARGS("--nope"), NOENV, small, sizeof small, NULL, NULL),
                     CFG_PARSE_ERROR);
    ck_assert_str_eq(small, "unknown set");
    ck_assert_int_eq(cfg_parse(&c, 1, ARGS("--nope"), NOENV, NULL, 0, NULL, NULL), CFG_PARSE_ERROR);
}
END_TEST

TEST_SUITE(cfg_args)
{
    const TTest *const tests[] = {precedence, cmd_args_guide_example, cmd_args_expansion_and_quotes,
                                  cmd_args_refusals, positional_arguments};
    return cfgt_suite("cfg_args", tests, sizeof tests / sizeof *tests);
}
