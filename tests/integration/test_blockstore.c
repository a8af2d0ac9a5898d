/*
 * tests/integration/test_blockstore.c - each single blockstore against a
 * real server: POSTGRESQL and MOCKED (a real database), S3 (s3rver, and
 * Swift's s3api, which checks SigV4 signatures), Swift (all-in-one with
 * tempauth); then stores that misbehave
 */
#include "test_blockstore_lib.h"

#include "objsrv.h"
#include "testenv.h"
#include "testreg.h"
#include "xalloc.h"

#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- POSTGRESQL and MOCKED ------------------------------------------------ */

START_TEST(pg_semantics)
{
    const char *specs[] = {"POSTGRESQL", NULL};
    bst_t *t = bst_open(specs, NULL, BST_NEW_DB);
    ck_assert(blockstore_uses_db(t->bs));
    bst_exercise(t);
    bst_close(t);
}
END_TEST

/* MOCKED is the same store here (docs/blockstore.md): rows of block_data. */
START_TEST(mocked_semantics)
{
    const char *specs[] = {"MOCKED", NULL};
    bst_t *t = bst_open(specs, NULL, BST_NEW_DB);
    ck_assert(blockstore_uses_db(t->bs));
    bst_exercise(t);
    PGconn *pg = testenv_pg_connect(t->db_url);
    ck_assert_int_gt(testenv_sql_int(pg, "SELECT count(*) FROM block_data WHERE node = 0"), 4);
    PQfinish(pg);
    bst_close(t);
}
END_TEST

/* Binary in, binary out: every byte value survives, and the row holds the
 * bytes themselves (no hex or escape text stored). */
START_TEST(pg_binary)
{
    const char *specs[] = {"POSTGRESQL", NULL};
    bst_t *t = bst_open(specs, NULL, BST_NEW_DB);
    uint8_t data[256], back[256], id[16];
    for (int i = 0; i < 256; i++)
        data[i] = (uint8_t)(255 - i);
    bst_random_id(id);
    ck_assert_int_eq(blockstore_create(t->ctx, t->db, "Org", id, data, 256), BLOCKSTORE_OK);
    ck_assert_int_eq(blockstore_read(t->ctx, t->db, "Org", id, back, 256), BLOCKSTORE_OK);
    ck_assert(memcmp(data, back, 256) == 0);
    PGconn *pg = testenv_pg_connect(t->db_url);
    ck_assert_int_eq(testenv_sql_int(pg, "SELECT octet_length(data) FROM block_data"), 256);
    ck_assert_int_eq(testenv_sql_int(pg, "SELECT get_byte(data, 0) FROM block_data"), 255);
    /* A row damaged behind our back is not served. */
    PQclear(PQexec(pg, "UPDATE block_data SET data = substring(data from 2)"));
    ck_assert_int_eq(blockstore_read(t->ctx, t->db, "Org", id, back, 256), BLOCKSTORE_UNAVAILABLE);
    PQfinish(pg);
    bst_close(t);
}
END_TEST

/* Inside the caller's transaction: a rollback takes the data away too. */
static db_tx_result tx_create_then_refuse(db_conn_t *c, void *arg)
{
    bst_t *t = arg;
    uint8_t id[16] = {1, 2, 3};
    return blockstore_create(t->ctx, c, "Org", id, "abc", 3) == BLOCKSTORE_OK ? DB_TX_ROLLBACK
                                                                              : DB_TX_ERROR;
}

START_TEST(pg_in_transaction)
{
    const char *specs[] = {"POSTGRESQL", NULL};
    bst_t *t = bst_open(specs, NULL, BST_NEW_DB);
    ck_assert_int_eq(db_tx(t->db, tx_create_then_refuse, t), DB_TX_ROLLBACK);
    PGconn *pg = testenv_pg_connect(t->db_url);
    ck_assert_int_eq(testenv_sql_int(pg, "SELECT count(*) FROM block_data"), 0);
    PQfinish(pg);
    /* Without a connection the PostgreSQL store cannot work: unavailable,
     * never a crash. */
    uint8_t id[16] = {9};
    ck_assert_int_eq(blockstore_create(t->ctx, NULL, "Org", id, "abc", 3), BLOCKSTORE_UNAVAILABLE);
    bst_close(t);
}
END_TEST

TEST_SUITE(blockstore_pg)
{
    Suite *s = suite_create("blockstore_pg");
    TCase *tc = tcase_create("pg");
    testenv_db_setup();
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, pg_semantics);
    tcase_add_test(tc, mocked_semantics);
    tcase_add_test(tc, pg_binary);
    tcase_add_test(tc, pg_in_transaction);
    suite_add_tcase(s, tc);
    return s;
}

/* ---- S3 ----------------------------------------------------------------------- */

static int s3rver_port(void)
{
    return objsrv_port(objsrv_s3rver());
}

/* http_get_status - GET url without credentials (s3rver checks none): the
 * status and the body length. */
static long http_get_status(const char *url, size_t *len)
{
    long st = 0;
    curl_off_t dl = 0;
    CURL *c = curl_easy_init();
    FILE *devnull = fopen("/dev/null", "w");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, devnull);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
        curl_easy_getinfo(c, CURLINFO_SIZE_DOWNLOAD_T, &dl);
    }
    curl_easy_cleanup(c);
    fclose(devnull);
    *len = (size_t)dl;
    return st;
}

START_TEST(s3rver_path_style)
{
    int port = s3rver_port();
    objsrv_s3_bucket(port, "pathstyle", "S3RVER", "S3RVER");
    char *spec = bst_s3rver_spec(port, "pathstyle");
    const char *specs[] = {spec, NULL};
    bst_t *t = bst_open(specs, NULL, NULL);
    ck_assert(!blockstore_uses_db(t->bs));
    bst_exercise(t);

    /* Parsec's object name: <OrganizationID>/<UUID hyphenated>. */
    uint8_t id[16];
    bst_roundtrip(t, "CoolOrg", 777, id);
    char url[256];
    size_t len = 0;
    snprintf(url, sizeof url,
             "http://127.0.0.1:%d/pathstyle/CoolOrg/"
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             port, id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9], id[10],
             id[11], id[12], id[13], id[14], id[15]);
    ck_assert_int_eq(http_get_status(url, &len), 200);
    ck_assert_uint_eq(len, 777);
    bst_close(t);
    free(spec);
}
END_TEST

/* An endpoint whose host starts with "<bucket>." is the bucket's own URL
 * (virtual host); s3rver serves <bucket>.s3.localhost, and libcurl resolves
 * *.localhost to loopback. */
START_TEST(s3rver_virtual_host)
{
    int port = s3rver_port();
    objsrv_s3_bucket(port, "vhost", "S3RVER", "S3RVER");
    char *spec =
        xasprintf("s3:http\\://vhost.s3.localhost\\:%d:us-east-1:vhost:S3RVER:S3RVER", port);
    const char *specs[] = {spec, NULL};
    bst_t *t = bst_open(specs, NULL, NULL);
    uint8_t id[16];
    bst_roundtrip(t, "VOrg", 100, id);
    /* The object is in the bucket, seen path-style. */
    char url[256];
    size_t len = 0;
    char uuid[40];
    snprintf(uuid, sizeof uuid,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", id[0], id[1],
             id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9], id[10], id[11], id[12], id[13],
             id[14], id[15]);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/vhost/VOrg/%s", port, uuid);
    ck_assert_int_eq(http_get_status(url, &len), 200);
    ck_assert_uint_eq(len, 100);
    bst_close(t);
    free(spec);
}
END_TEST

START_TEST(s3_missing_bucket)
{
    char *spec = bst_s3rver_spec(s3rver_port(), "nosuchbucket");
    const char *specs[] = {spec, NULL};
    char *err = bst_open_fail(specs, NULL);
    ck_assert_msg(strstr(err, "no such bucket"), "%s", err);
    ck_assert_msg(strstr(err, "nosuchbucket"), "%s", err);
    free(err);
    free(spec);
}
END_TEST

/* No endpoint: AWS, virtual host.  Unreachable from here: the check fails
 * in bounded time and names the node. */
START_TEST(s3_aws_default_unreachable)
{
    const char *specs[] = {"s3::eu-west-3:some-bucket:KEY:SECRET", NULL};
    const char *extra[] = {"--blockstore-connect-timeout", "2", "--blockstore-timeout", "3", NULL};
    char *err = bst_open_fail(specs, extra);
    ck_assert_msg(strstr(err, "s3 bucket some-bucket at AWS"), "%s", err);
    ck_assert_msg(!strstr(err, "SECRET"), "%s", err);
    free(err);
}
END_TEST

/* Swift's s3api checks SigV4: the signing is right (its access key even
 * holds a colon), and a wrong secret fails at start with one line. */
START_TEST(s3api_signed)
{
    objsrv_t *sw = objsrv_swift();
    objsrv_s3_bucket(objsrv_port(sw), "signed", "test:tester", "testing");
    char *spec = bst_s3api_spec(objsrv_port(sw), "signed", "testing");
    const char *specs[] = {spec, NULL};
    bst_t *t = bst_open(specs, NULL, NULL);
    bst_exercise(t);
    bst_close(t);
    free(spec);
}
END_TEST

START_TEST(s3api_wrong_secret)
{
    objsrv_t *sw = objsrv_swift();
    objsrv_s3_bucket(objsrv_port(sw), "wrongsecret", "test:tester", "testing");
    char *spec = bst_s3api_spec(objsrv_port(sw), "wrongsecret", "not-the-secret");
    const char *specs[] = {spec, NULL};
    char *err = bst_open_fail(specs, NULL);
    ck_assert_msg(strstr(err, "refused (HTTP 403)"), "%s", err);
    ck_assert_msg(strstr(err, "wrong key or secret"), "%s", err);
    ck_assert_msg(!strstr(err, "not-the-secret"), "%s", err);
    free(err);
    free(spec);
}
END_TEST

TEST_SUITE(blockstore_s3)
{
    Suite *s = suite_create("blockstore_s3");
    TCase *tc = tcase_create("s3");
    objsrv_s3rver();
    objsrv_swift();
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, s3rver_path_style);
    tcase_add_test(tc, s3rver_virtual_host);
    tcase_add_test(tc, s3_missing_bucket);
    tcase_add_test(tc, s3_aws_default_unreachable);
    tcase_add_test(tc, s3api_signed);
    tcase_add_test(tc, s3api_wrong_secret);
    suite_add_tcase(s, tc);
    return s;
}

/* ---- Swift --------------------------------------------------------------------- */

START_TEST(swift_semantics)
{
    objsrv_t *sw = objsrv_swift();
    objsrv_swift_container(sw, "semantics");
    char *spec = bst_swift_spec(objsrv_port(sw), "semantics", "testing");
    const char *specs[] = {spec, NULL};
    bst_t *t = bst_open(specs, NULL, NULL);
    bst_exercise(t);
    bst_close(t);
    free(spec);
}
END_TEST

/* A token Swift no longer knows: one 401, a new token, the request again. */
START_TEST(swift_token_renewed)
{
    objsrv_t *sw = objsrv_swift();
    objsrv_swift_container(sw, "renewal");
    char *spec = bst_swift_spec(objsrv_port(sw), "renewal", "testing");
    const char *specs[] = {spec, NULL};
    bst_t *t = bst_open(specs, NULL, NULL);
    uint8_t id[16], buf[300];
    bst_roundtrip(t, "Org", 300, id);
    objsrv_swift_revoke_tokens(sw);
    ck_assert_int_eq(blockstore_read(t->ctx, t->db, "Org", id, buf, 300), BLOCKSTORE_OK);
    objsrv_swift_revoke_tokens(sw);
    bst_roundtrip(t, "Org", 10, NULL);
    bst_close(t);
    free(spec);
}
END_TEST

START_TEST(swift_wrong_password)
{
    objsrv_t *sw = objsrv_swift();
    char *spec = bst_swift_spec(objsrv_port(sw), "semantics", "wrong-password");
    const char *specs[] = {spec, NULL};
    char *err = bst_open_fail(specs, NULL);
    ck_assert_msg(strstr(err, "authentication refused"), "%s", err);
    ck_assert_msg(!strstr(err, "wrong-password"), "%s", err);
    free(err);
    free(spec);
}
END_TEST

START_TEST(swift_missing_container)
{
    objsrv_t *sw = objsrv_swift();
    char *spec = bst_swift_spec(objsrv_port(sw), "nosuchcontainer", "testing");
    const char *specs[] = {spec, NULL};
    char *err = bst_open_fail(specs, NULL);
    ck_assert_msg(strstr(err, "no such container"), "%s", err);
    free(err);
    free(spec);
}
END_TEST

TEST_SUITE(blockstore_swift)
{
    Suite *s = suite_create("blockstore_swift");
    TCase *tc = tcase_create("swift");
    objsrv_swift();
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, swift_semantics);
    tcase_add_test(tc, swift_token_renewed);
    tcase_add_test(tc, swift_wrong_password);
    tcase_add_test(tc, swift_missing_container);
    suite_add_tcase(s, tc);
    return s;
}

/* ---- stores that misbehave ------------------------------------------------------- */

static bst_t *open_fault(faultsrv_t *f)
{
    char *spec = xasprintf("s3:http\\://127.0.0.1\\:%d:us-east-1:b:K:S", faultsrv_port(f));
    const char *specs[] = {spec, NULL};
    const char *extra[] = {"--blockstore-connect-timeout", "1", "--blockstore-timeout", "1.5",
                           NULL};
    bst_t *t = bst_open(specs, extra, NULL);
    free(spec);
    return t;
}

/* fault_read_write - under mode, a read is UNAVAILABLE (never the block)
 * and so is a create unless the mode only spoils reads. */
static void fault_case(fault_mode mode, bool create_fails)
{
    faultsrv_t *f = faultsrv_start(mode, 4096);
    bst_t *t = open_fault(f);
    uint8_t id[16], buf[4096];
    bst_random_id(id);
    memset(buf, 0, sizeof buf);
    ck_assert_int_eq(blockstore_read(t->ctx, NULL, "Org", id, buf, 4096), BLOCKSTORE_UNAVAILABLE);
    ck_assert_int_eq(blockstore_create(t->ctx, NULL, "Org", id, buf, 4096),
                     create_fails ? BLOCKSTORE_UNAVAILABLE : BLOCKSTORE_OK);
    ck_assert_int_gt(faultsrv_requests(f), 0);
    bst_close(t);
    faultsrv_stop(f);
}

START_TEST(fault_500)
{
    fault_case(FAULT_500, true);
}
END_TEST

START_TEST(fault_timeout)
{
    fault_case(FAULT_HANG, true);
}
END_TEST

START_TEST(fault_close_mid_body)
{
    fault_case(FAULT_CLOSE_MID, false);
}
END_TEST

START_TEST(fault_truncated)
{
    fault_case(FAULT_SHORT, false);
}
END_TEST

START_TEST(fault_too_long)
{
    fault_case(FAULT_LONG, false);
}
END_TEST

START_TEST(fault_refused_at_start)
{
    char *spec = xasprintf("s3:http\\://127.0.0.1\\:%d:us-east-1:b:K:S", testenv_free_port());
    const char *specs[] = {spec, NULL};
    char *err = bst_open_fail(specs, NULL);
    ck_assert_msg(strstr(err, "bucket unreachable"), "%s", err);
    free(err);
    free(spec);
}
END_TEST

TEST_SUITE(blockstore_faults)
{
    Suite *s = suite_create("blockstore_faults");
    TCase *tc = tcase_create("faults");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, fault_500);
    tcase_add_test(tc, fault_timeout);
    tcase_add_test(tc, fault_close_mid_body);
    tcase_add_test(tc, fault_truncated);
    tcase_add_test(tc, fault_too_long);
    tcase_add_test(tc, fault_refused_at_start);
    suite_add_tcase(s, tc);
    return s;
}
