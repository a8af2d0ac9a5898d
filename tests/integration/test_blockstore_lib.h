/*
 * tests/integration/test_blockstore_lib.h - helpers shared by the
 * blockstore suites (test_blockstore*.c)
 *
 * bst_open() parses --blockstore specs (and other settings) with the real
 * parser, opens the store and a thread context, and, when asked, a fresh
 * migrated database and one pooled connection for POSTGRESQL nodes.
 * Specs for the test servers are built by bst_*_spec() (malloc'd, the
 * caller frees).  Failures abort the test.
 */
#ifndef PARSEC_TEST_BLOCKSTORE_LIB_H
#define PARSEC_TEST_BLOCKSTORE_LIB_H

#include "blockstore.h"
#include "cfg.h"
#include "db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    cfg_t cfg;
    blockstore_t *bs;
    blockstore_ctx_t *ctx;
    char *db_url; /* owned when own_db */
    bool own_db;
    db_pool_t *pool;
    db_conn_t *db; /* NULL without a database */
} bst_t;

/*
 * bst_open - the store of specs (NULL-terminated -b values) with extra
 * settings (NULL-terminated, may be NULL); db_url: NULL for no database,
 * BST_NEW_DB for a fresh one (dropped by bst_close), or a URL to share.
 */
#define BST_NEW_DB ((const char *)1)
bst_t *bst_open(const char *const *specs, const char *const *extra, const char *db_url);
/* bst_open_fail - blockstore_open() must fail: its message (malloc'd). */
char *bst_open_fail(const char *const *specs, const char *const *extra);
void bst_close(bst_t *t);

/* Specs of the test servers. */
char *bst_s3rver_spec(int port, const char *bucket);
/* bst_s3api_spec - Swift's s3api: key test:tester, the given secret. */
char *bst_s3api_spec(int port, const char *bucket, const char *secret);
char *bst_swift_spec(int port, const char *container, const char *password);

void bst_random_id(uint8_t id[16]);
/* bst_random_bytes - n random bytes (malloc'd, at least 1 byte allocated). */
uint8_t *bst_random_bytes(size_t n);

/* bst_roundtrip - create n random bytes under (org, a new id), read them
 * back, compare; the id into id when not NULL. */
void bst_roundtrip(bst_t *t, const char *org, size_t n, uint8_t *id);

/* bst_exercise - the semantics every single store must have: read of an
 * unknown id NOT_FOUND, roundtrips of 0, 1, 1000 bytes and 1 MiB (the
 * default request size limit), creating the same bytes again OK, other
 * bytes EXISTS with the original kept, one id in two organizations
 * distinct. */
void bst_exercise(bst_t *t);

#endif
