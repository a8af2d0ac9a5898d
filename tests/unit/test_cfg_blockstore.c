/*
 * tests/unit/test_cfg_blockstore.c - --blockstore / PARSEC_BLOCKSTORE
 * (common/cfg_blockstore.c through cfg_parse)
 *
 * Which source's list wins, every plain form (MOCKED, POSTGRESQL, S3, Swift)
 * field by field, RAID0/1/5 node lists, and every refusal, never echoing a
 * secret of the spec.
 */
#include "cfg.h"
#include "test_cfg_lib.h"
#include "testreg.h"

#include <stdlib.h>
#include <string.h>

/* expect_str - WANT NULL means the field must be unset. */
static void expect_str(const char *got, const char *want, const char *spec, const char *what)
{
    if (!want)
        ck_assert_msg(got == NULL, "%s: %s is \"%s\", want unset", spec, what, got);
    else
        ck_assert_msg(got && strcmp(got, want) == 0, "%s: %s is \"%s\", want \"%s\"", spec, what,
                      got ? got : "(null)", want);
}

/* One S3 spec each, single node: what every field becomes. */
static const struct {
    const char *spec, *endpoint, *region, *bucket, *key, *secret;
} s3_forms[] = {
    /* empty endpoint: AWS's default */
    {"s3::us-east-1:bucket:AKIAKEY:s3cret", NULL, "us-east-1", "bucket", "AKIAKEY", "s3cret"},
    /* no scheme: https */
    {"S3:s3.example.com:eu:b:k:s", "https://s3.example.com", "eu", "b", "k", "s"},
    /* the guide's escaping (the shell's s3:http\\://... reaches us with one backslash) */
    {"s3:http\\://localhost\\:9000:us-east-1:b:k:s", "http://localhost:9000", "us-east-1", "b", "k",
     "s"},
    {"s3:https\\://h:r:b:k:s", "https://h", "r", "b", "k", "s"},
    /* escapes inside fields: \: is ':', \\ is '\', any other backslash stays */
    {"s3::r:b:k\\:1:se\\\\c\\x\\", NULL, "r", "b", "k:1", "se\\c\\x\\"},
    /* an empty region is allowed (the client's default) */
    {"s3:::b:k:s", NULL, "", "b", "k", "s"},
};

/* The same for Swift; the auth URL gets https:// when it has no scheme. */
static const struct {
    const char *spec, *auth_url, *tenant, *container, *user, *password;
} swift_forms[] = {
    {"swift:auth.example.com/v2.0:tenant:container:user:pa55", "https://auth.example.com/v2.0",
     "tenant", "container", "user", "pa55"},
    {"SWIFT:http\\://keystone\\:5000/v3:t:c:u:p", "http://keystone:5000/v3", "t", "c", "u", "p"},
};

START_TEST(blockstore_precedence_takes_whole_lists)
{
    cfg_t c;
    char *env = "PARSEC_BLOCKSTORE=RAID1:0:MOCKED  RAID1:1:POSTGRESQL";
    cfgt_parse_ok(&c, NOARGS, ENV(env));
    ck_assert_int_eq(c.blockstore.raid, CFG_RAID1);
    ck_assert_uint_eq(c.blockstore.n_nodes, 2);
    ck_assert_int_eq(c.blockstore.nodes[1].kind, CFG_BS_POSTGRESQL);
    cfg_free(&c);
    /* -b replaces the variable's list rather than adding to it */
    cfgt_parse_ok(&c, ARGS("-b", "MOCKED"), ENV(env));
    ck_assert_int_eq(c.blockstore.raid, CFG_RAID_NONE);
    ck_assert_uint_eq(c.blockstore.n_nodes, 1);
    ck_assert_int_eq(c.blockstore.nodes[0].kind, CFG_BS_MOCKED);
    cfg_free(&c);
    cfgt_parse_ok(&c, NOARGS, ENV(env, "PARSEC_CMD_ARGS=-b RAID0:0:MOCKED -bRAID0:1:MOCKED"));
    ck_assert_int_eq(c.blockstore.raid, CFG_RAID0);
    ck_assert_uint_eq(c.blockstore.n_nodes, 2);
    cfg_free(&c);
    cfgt_parse_ok(&c, ARGS("--blockstore=POSTGRESQL"), ENV("PARSEC_CMD_ARGS=-b MOCKED"));
    ck_assert_int_eq(c.blockstore.nodes[0].kind, CFG_BS_POSTGRESQL);
    cfg_free(&c);
}
END_TEST

START_TEST(blockstore_plain_forms)
{
    cfg_t c;
    cfgt_parse_ok(&c, ARGS("-b", "mocked"), NOENV);
    ck_assert_int_eq(c.blockstore.nodes[0].kind, CFG_BS_MOCKED);
    cfg_free(&c);
    cfgt_parse_ok(&c, ARGS("-bpostgresql"), NOENV);
    ck_assert_int_eq(c.blockstore.nodes[0].kind, CFG_BS_POSTGRESQL);
    cfg_free(&c);

    for (size_t i = 0; i < sizeof s3_forms / sizeof *s3_forms; i++) {
        const char *spec = s3_forms[i].spec;
        cfgt_parse_ok(&c, ARGS("-b", (char *)spec), NOENV);
        const cfg_blockstore_node *n = &c.blockstore.nodes[0];
        ck_assert_int_eq(c.blockstore.raid, CFG_RAID_NONE);
        ck_assert_uint_eq(c.blockstore.n_nodes, 1);
        ck_assert_int_eq(n->kind, CFG_BS_S3);
        expect_str(n->s3_endpoint, s3_forms[i].endpoint, spec, "endpoint");
        expect_str(n->s3_region, s3_forms[i].region, spec, "region");
        expect_str(n->s3_bucket, s3_forms[i].bucket, spec, "bucket");
        expect_str(n->s3_key, s3_forms[i].key, spec, "key");
        expect_str(n->s3_secret, s3_forms[i].secret, spec, "secret");
        cfg_free(&c);
    }

    for (size_t i = 0; i < sizeof swift_forms / sizeof *swift_forms; i++) {
        const char *spec = swift_forms[i].spec;
        cfgt_parse_ok(&c, ARGS("-b", (char *)spec), NOENV);
        const cfg_blockstore_node *n = &c.blockstore.nodes[0];
        ck_assert_uint_eq(c.blockstore.n_nodes, 1);
        ck_assert_int_eq(n->kind, CFG_BS_SWIFT);
        expect_str(n->swift_auth_url, swift_forms[i].auth_url, spec, "auth_url");
        expect_str(n->swift_tenant, swift_forms[i].tenant, spec, "tenant");
        expect_str(n->swift_container, swift_forms[i].container, spec, "container");
        expect_str(n->swift_user, swift_forms[i].user, spec, "user");
        expect_str(n->swift_password, swift_forms[i].password, spec, "password");
        cfg_free(&c);
    }
}
END_TEST

START_TEST(blockstore_raid_forms)
{
    cfg_t c;
    cfgt_parse_ok(&c, ARGS("-b", "RAID0:0:MOCKED"), NOENV);
    ck_assert_int_eq(c.blockstore.raid, CFG_RAID0);
    ck_assert_uint_eq(c.blockstore.n_nodes, 1);
    cfg_free(&c);

    /* the guide's example */
    cfgt_parse_ok(&c, ARGS("-b", "RAID0:0:MOCKED", "-b", "RAID0:1:POSTGRESQL"), NOENV);
    ck_assert_int_eq(c.blockstore.raid, CFG_RAID0);
    ck_assert_int_eq(c.blockstore.nodes[0].kind, CFG_BS_MOCKED);
    ck_assert_int_eq(c.blockstore.nodes[1].kind, CFG_BS_POSTGRESQL);
    cfg_free(&c);

    /* RAID1 of S3 nodes, given out of order: ordered by index */
    cfgt_parse_ok(&c,
                  ARGS("-b", "RAID1:1:s3:http\\://b.example\\:9000:r:bucket1:k1:s1", "--blockstore",
                       "raid1:0:s3::r:bucket0:k0:s0"),
                  NOENV);
    ck_assert_int_eq(c.blockstore.raid, CFG_RAID1);
    ck_assert_uint_eq(c.blockstore.n_nodes, 2);
    ck_assert_ptr_null(c.blockstore.nodes[0].s3_endpoint);
    ck_assert_str_eq(c.blockstore.nodes[0].s3_bucket, "bucket0");
    ck_assert_str_eq(c.blockstore.nodes[1].s3_endpoint, "http://b.example:9000");
    ck_assert_str_eq(c.blockstore.nodes[1].s3_bucket, "bucket1");
    cfg_free(&c);

    /* RAID5 of 3 nodes of mixed kinds, through the variable */
    cfgt_parse_ok(
        &c, NOARGS,
        ENV("PARSEC_BLOCKSTORE=RAID5:2:swift:a:t:c:u:p RAID5:0:MOCKED RAID5:1:POSTGRESQL"));
    ck_assert_int_eq(c.blockstore.raid, CFG_RAID5);
    ck_assert_uint_eq(c.blockstore.n_nodes, 3);
    ck_assert_int_eq(c.blockstore.nodes[0].kind, CFG_BS_MOCKED);
    ck_assert_int_eq(c.blockstore.nodes[1].kind, CFG_BS_POSTGRESQL);
    ck_assert_int_eq(c.blockstore.nodes[2].kind, CFG_BS_SWIFT);
    cfg_free(&c);
}
END_TEST

START_TEST(blockstore_refusals)
{
    const cfgt_refusal_t refusals[] = {
        {ARGS("-b", "RAID0:0:MOCKED", "-b", "RAID1:1:MOCKED"), NOENV,
         "--blockstore: mixes RAID0 and RAID1 nodes", NULL},
        {ARGS("-b", "RAID5:0:MOCKED", "-b", "MOCKED"), NOENV, "several blockstores need", NULL},
        {ARGS("-b", "MOCKED", "-b", "RAID5:0:MOCKED"), NOENV, "several blockstores need", NULL},
        {ARGS("-b", "MOCKED", "-b", "POSTGRESQL"), NOENV, "several blockstores need", NULL},
        {ARGS("-b", "RAID0:0:MOCKED", "-b", "RAID0:2:MOCKED"), NOENV,
         "--blockstore: RAID node 1 is missing", NULL},
        {ARGS("-b", "RAID1:1:MOCKED"), NOENV, "RAID node 0 is missing", NULL},
        {ARGS("-b", "RAID1:0:MOCKED", "-b", "RAID1:0:POSTGRESQL"), NOENV,
         "--blockstore: RAID node 0 is given more than once", NULL},
        {ARGS("-b", "RAID5:0:MOCKED", "-b", "RAID5:1:MOCKED"), NOENV,
         "--blockstore: RAID5 needs at least 3 nodes, got 2", NULL},
        {ARGS("-b", "RAID0:x:MOCKED"), NOENV, "RAID node index must be an integer", NULL},
        {ARGS("-b", "RAID0:-1:MOCKED"), NOENV, "RAID node index must be an integer", NULL},
        {ARGS("-b", "RAID0::MOCKED"), NOENV, "RAID node index must be an integer", NULL},
        {ARGS("-b", "RAID0:0"), NOENV, "expected <RAID0|RAID1|RAID5>:<node>:<config>", NULL},
        {ARGS("-b", "RAID9:0:MOCKED"), NOENV, "unknown RAID level", NULL},
        {ARGS("-b", "RAID0:0:RAID0:0:MOCKED"), NOENV,
         "--blockstore (RAID node 0): a RAID node cannot itself be a RAID", NULL},
        {ARGS("-b", "RAID0:0:"), NOENV, "(RAID node 0): unknown blockstore type", NULL},
        {ARGS("-b", "ftp:x"), NOENV, "--blockstore: unknown blockstore type", NULL},
        {ARGS("-b", ""), NOENV, "--blockstore: empty blockstore spec", NULL},
        {NOARGS, ENV("PARSEC_BLOCKSTORE=nope"), "PARSEC_BLOCKSTORE: unknown blockstore type", NULL},
        {NOARGS, ENV("PARSEC_CMD_ARGS=-b nope"),
         "PARSEC_CMD_ARGS: --blockstore: unknown blockstore type", NULL},
        {ARGS("-b"), NOENV, "--blockstore: missing value", NULL},

        /* field counts and empty fields, never echoing the spec */
        {ARGS("-b", "s3:h:r:b:k"), NOENV,
         "expected s3:[<endpoint_url>]:<region>:<bucket>:<key>:<secret>", "h:r:b:k"},
        {ARGS("-b", "s3:h:r:b:k:T0PSECRET:extra"), NOENV, "expected s3:", "T0PSECRET"},
        {ARGS("-b", "s3:http://h:9000:r:b:k:T0PSECRET"), NOENV, "expected s3:", "T0PSECRET"},
        {ARGS("-b", "s3:h:r::k:T0PSECRET"), NOENV, "s3 bucket must not be empty", "T0PSECRET"},
        {ARGS("-b", "s3:h:r:b::s"), NOENV, "s3 key must not be empty", NULL},
        {ARGS("-b", "s3:h:r:b:k:"), NOENV, "s3 secret must not be empty", NULL},
        {ARGS("-b", "s3:ftp\\://h:r:b:k:T0PSECRET"), NOENV,
         "s3 endpoint must be http:// or https://", "T0PSECRET"},
        {ARGS("-b", "s3:http\\://:r:b:k:s"), NOENV, "s3 endpoint must be http", NULL},
        {ARGS("-b", "swift:a:t:c:u"), NOENV,
         "expected swift:<auth_url>:<tenant>:<container>:<user>:<password>", "a:t:c:u"},
        {ARGS("-b", "swift::t:c:u:p"), NOENV, "swift auth_url must not be empty", NULL},
        {ARGS("-b", "swift:a:t::u:p"), NOENV, "swift container must not be empty", NULL},
        {ARGS("-b", "swift:a:t:c:u:"), NOENV, "swift password must not be empty", "a:t:c:u"},
        {ARGS("-b", "swift:gopher\\://a:t:c:u:p"), NOENV,
         "swift auth_url must be http:// or https://", NULL},
        {ARGS("-b", "s3:h:r:b:k:T0P\x01SECRET"), NOENV, "control characters", "T0P"},
    };
    CFGT_REFUSE_EACH(refusals);

    /* bounds */
    char *specs[CFG_BLOCKSTORE_MAX * 2 + 3];
    int n = 0;
    for (int i = 0; i <= CFG_BLOCKSTORE_MAX; i++) {
        specs[n++] = "-b";
        specs[n++] = "RAID0:0:MOCKED";
    }
    specs[n] = NULL;
    cfgt_refused(specs, NOENV, "given more than 64 times");
    char *envlist = malloc(20 + 16 * (CFG_BLOCKSTORE_MAX + 1));
    strcpy(envlist, "PARSEC_BLOCKSTORE=");
    for (int i = 0; i <= CFG_BLOCKSTORE_MAX; i++)
        strcat(envlist, "RAID0:0:MOCKED ");
    cfgt_refused(NOARGS, ENV(envlist), "PARSEC_BLOCKSTORE: more than 64 values");
    free(envlist);
    char *big = malloc(CFG_VALUE_MAX + 32);
    strcpy(big, "s3::r:b:k:");
    memset(big + 10, 's', CFG_VALUE_MAX);
    big[CFG_VALUE_MAX + 10] = '\0';
    cfgt_refused(ARGS("-b", big), NOENV, "--blockstore: longer than 4096 bytes");
    free(big);
}
END_TEST

TEST_SUITE(cfg_blockstore)
{
    const TTest *const tests[] = {blockstore_precedence_takes_whole_lists, blockstore_plain_forms,
                                  blockstore_raid_forms, blockstore_refusals};
    return cfgt_suite("cfg_blockstore", tests, sizeof tests / sizeof *tests);
}
