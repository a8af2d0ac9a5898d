/* tests/integration/test_blockstore_lib.c - see test_blockstore_lib.h */
#include "test_blockstore_lib.h"

#include "crypto.h"
#include "testenv.h"
#include "xalloc.h"

#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void parse(cfg_t *cfg, const char *const *specs, const char *const *extra,
                  const char *db_url)
{
    char *argv[160];
    int argc = 0;
    char err[512];
    for (size_t i = 0; specs[i] && argc < 120; i++) {
        argv[argc++] = "-b";
        argv[argc++] = (char *)specs[i];
    }
    for (size_t i = 0; extra && extra[i] && argc < 150; i++)
        argv[argc++] = (char *)extra[i];
    if (db_url) {
        argv[argc++] = "--db";
        argv[argc++] = (char *)db_url;
    }
    argv[argc] = NULL;
    char *envp[] = {NULL};
    ck_assert_msg(cfg_parse(cfg, argc, argv, envp, err, sizeof err, NULL, NULL) == CFG_PARSE_OK,
                  "%s", err);
}

bst_t *bst_open(const char *const *specs, const char *const *extra, const char *db_url)
{
    bst_t *t = xcalloc(1, sizeof *t);
    char err[512] = "";
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (db_url == BST_NEW_DB) {
        t->db_url = testenv_db_create();
        t->own_db = true;
    } else if (db_url) {
        t->db_url = xstrdup(db_url);
    }
    parse(&t->cfg, specs, extra, t->db_url);
    t->bs = blockstore_open(&t->cfg, err, sizeof err);
    ck_assert_msg(t->bs != NULL, "blockstore_open: %s", err);
    t->ctx = blockstore_ctx_new(t->bs);
    if (t->db_url) {
        t->cfg.maximum_database_connection_attempts = 1;
        t->pool = db_pool_open(&t->cfg, t->db_url, err, sizeof err, NULL);
        ck_assert_msg(t->pool != NULL, "%s", err);
        t->db = db_acquire(t->pool);
        ck_assert_ptr_nonnull(t->db);
    }
    return t;
}

char *bst_open_fail(const char *const *specs, const char *const *extra)
{
    cfg_t cfg;
    char err[512] = "";
    curl_global_init(CURL_GLOBAL_DEFAULT);
    parse(&cfg, specs, extra, NULL);
    blockstore_t *bs = blockstore_open(&cfg, err, sizeof err);
    cfg_free(&cfg);
    if (bs)
        blockstore_close(bs);
    ck_assert_msg(bs == NULL, "blockstore_open succeeded");
    ck_assert_msg(err[0] && !strchr(err, '\n'), "one line expected, got \"%s\"", err);
    return xstrdup(err);
}

void bst_close(bst_t *t)
{
    if (!t)
        return;
    if (t->db)
        db_release(t->pool, t->db);
    if (t->pool)
        db_pool_close(t->pool);
    blockstore_ctx_free(t->ctx);
    blockstore_close(t->bs);
    if (t->own_db)
        testenv_db_drop(t->db_url);
    free(t->db_url);
    cfg_free(&t->cfg);
    free(t);
}

char *bst_s3rver_spec(int port, const char *bucket)
{
    return xasprintf("s3:http\\://127.0.0.1\\:%d:us-east-1:%s:S3RVER:S3RVER", port, bucket);
}

char *bst_s3api_spec(int port, const char *bucket, const char *secret)
{
    return xasprintf("s3:http\\://127.0.0.1\\:%d:us-east-1:%s:test\\:tester:%s", port, bucket,
                     secret);
}

char *bst_swift_spec(int port, const char *container, const char *password)
{
    /* Parsec authenticates as "<user>:<tenant>": tempauth's "test:tester"
     * is user "test", tenant "tester". */
    return xasprintf("swift:http\\://127.0.0.1\\:%d/auth/v1.0:tester:%s:test:%s", port, container,
                     password);
}

void bst_random_id(uint8_t id[16])
{
    ck_assert(crypto_random(id, 16));
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
}

uint8_t *bst_random_bytes(size_t n)
{
    uint8_t *p = xmalloc(n ? n : 1);
    if (n)
        ck_assert(crypto_random(p, n));
    return p;
}

void bst_roundtrip(bst_t *t, const char *org, size_t n, uint8_t *idout)
{
    uint8_t id[16];
    uint8_t *data = bst_random_bytes(n), *back = xmalloc(n ? n : 1);
    bst_random_id(id);
    ck_assert_str_eq(blockstore_status_name(blockstore_create(t->ctx, t->db, org, id, data, n)),
                     "ok");
    memset(back, 0xAA, n ? n : 1);
    ck_assert_str_eq(blockstore_status_name(blockstore_read(t->ctx, t->db, org, id, back, n)),
                     "ok");
    ck_assert(memcmp(data, back, n) == 0);
    if (idout)
        memcpy(idout, id, 16);
    free(data);
    free(back);
}

void bst_exercise(bst_t *t)
{
    uint8_t id[16], buf[64];
    bst_random_id(id);
    ck_assert_int_eq(blockstore_read(t->ctx, t->db, "OrgA", id, buf, 10), BLOCKSTORE_NOT_FOUND);

    bst_roundtrip(t, "OrgA", 0, NULL); /* an empty block is a block */
    bst_roundtrip(t, "OrgA", 1, NULL);
    bst_roundtrip(t, "OrgA", 1000, NULL);
    bst_roundtrip(t, "OrgA", 1048576, NULL); /* --max-request-size's default */

    /* Creating again: the same bytes are fine, other bytes are refused and
     * the original stays. */
    uint8_t *a = bst_random_bytes(5000), *b = bst_random_bytes(5000), *back = xmalloc(5000);
    bst_random_id(id);
    ck_assert_int_eq(blockstore_create(t->ctx, t->db, "OrgA", id, a, 5000), BLOCKSTORE_OK);
    ck_assert_int_eq(blockstore_create(t->ctx, t->db, "OrgA", id, a, 5000), BLOCKSTORE_OK);
    ck_assert_int_eq(blockstore_create(t->ctx, t->db, "OrgA", id, b, 5000), BLOCKSTORE_EXISTS);
    ck_assert_int_eq(blockstore_create(t->ctx, t->db, "OrgA", id, b, 4000), BLOCKSTORE_EXISTS);
    ck_assert_int_eq(blockstore_read(t->ctx, t->db, "OrgA", id, back, 5000), BLOCKSTORE_OK);
    ck_assert(memcmp(back, a, 5000) == 0);
    /* The recorded size is the truth: another length is never served. */
    ck_assert_int_eq(blockstore_read(t->ctx, t->db, "OrgA", id, back, 4999),
                     BLOCKSTORE_UNAVAILABLE);

    /* The same id in another organization is another block. */
    ck_assert_int_eq(blockstore_read(t->ctx, t->db, "OrgB", id, back, 5000), BLOCKSTORE_NOT_FOUND);
    ck_assert_int_eq(blockstore_create(t->ctx, t->db, "OrgB", id, b, 5000), BLOCKSTORE_OK);
    ck_assert_int_eq(blockstore_read(t->ctx, t->db, "OrgB", id, back, 5000), BLOCKSTORE_OK);
    ck_assert(memcmp(back, b, 5000) == 0);
    ck_assert_int_eq(blockstore_read(t->ctx, t->db, "OrgA", id, back, 5000), BLOCKSTORE_OK);
    ck_assert(memcmp(back, a, 5000) == 0);
    free(a);
    free(b);
    free(back);
}
