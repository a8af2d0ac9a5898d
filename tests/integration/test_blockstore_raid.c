/*
 * tests/integration/test_blockstore_raid.c - RAID0, RAID1 and RAID5 over
 * real stores: Parsec's layouts, nodes going down in the middle of a run,
 * damaged pieces, mixes of backends
 */
#include "test_blockstore_lib.h"

#include "objsrv.h"
#include "testenv.h"
#include "testreg.h"
#include "xalloc.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_BLOCKS 16

static char *pg_url_of(bst_t *t)
{
    return t->db_url;
}

/* ---- RAID0 ------------------------------------------------------------------- */

START_TEST(raid0_placement)
{
    const char *specs[] = {"RAID0:0:POSTGRESQL", "RAID0:1:POSTGRESQL", "RAID0:2:POSTGRESQL", NULL};
    bst_t *t = bst_open(specs, NULL, BST_NEW_DB);
    PGconn *pg = testenv_pg_connect(pg_url_of(t));
    for (int i = 0; i < N_BLOCKS; i++) {
        uint8_t id[16];
        bst_roundtrip(t, "Org", 100 + (size_t)i, id);
        /* Parsec: block_id.int % len(nodes), the UUID as a big-endian integer. */
        unsigned __int128 v = 0;
        for (int k = 0; k < 16; k++)
            v = v << 8 | id[k];
        char sql[200];
        snprintf(sql, sizeof sql,
                 "SELECT node FROM block_data WHERE block_id = "
                 "'%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x'",
                 id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9], id[10],
                 id[11], id[12], id[13], id[14], id[15]);
        ck_assert_int_eq(testenv_sql_int(pg, sql), (long)(v % 3));
    }
    ck_assert_int_eq(testenv_sql_int(pg, "SELECT count(*) FROM block_data"), N_BLOCKS);
    PQfinish(pg);
    bst_close(t);
}
END_TEST

/* ---- RAID1 ------------------------------------------------------------------- */

START_TEST(raid1_mixed_semantics)
{
    int port = objsrv_port(objsrv_s3rver());
    objsrv_s3_bucket(port, "raid1mixed", "S3RVER", "S3RVER");
    char *s3 = bst_s3rver_spec(port, "raid1mixed");
    char *n1 = xasprintf("RAID1:1:%s", s3);
    const char *specs[] = {"RAID1:0:POSTGRESQL", n1, NULL};
    bst_t *t = bst_open(specs, NULL, BST_NEW_DB);
    bst_exercise(t); /* the empty block included: Parsec's RAID1 refused it */
    bst_close(t);
    free(n1);
    free(s3);
}
END_TEST

/* read_all - every block of ids/data reads back right, count the failures. */
static int read_all(bst_t *t, uint8_t ids[][16], uint8_t **data, size_t *sizes, int n)
{
    int failures = 0;
    for (int i = 0; i < n; i++) {
        uint8_t *buf = xmalloc(sizes[i] ? sizes[i] : 1);
        if (blockstore_read(t->ctx, t->db, "Org", ids[i], buf, sizes[i]) != BLOCKSTORE_OK ||
            memcmp(buf, data[i], sizes[i]) != 0)
            failures++;
        free(buf);
    }
    return failures;
}

typedef struct {
    objsrv_t *srv[5];
    int n;
    bst_t *strict, *partial;
    uint8_t ids[N_BLOCKS][16];
    uint8_t *data[N_BLOCKS];
    size_t sizes[N_BLOCKS];
} run_t;

/* run_open - n s3rver nodes of their own (each can be stopped) as level. */
static void run_open(run_t *r, const char *level, int n)
{
    char *specs[6] = {NULL};
    memset(r, 0, sizeof *r);
    r->n = n;
    for (int i = 0; i < n; i++) {
        const char *buckets[] = {"raid", NULL};
        r->srv[i] = objsrv_s3rver_start(buckets);
        char *s = bst_s3rver_spec(objsrv_port(r->srv[i]), "raid");
        specs[i] = xasprintf("%s:%d:%s", level, i, s);
        free(s);
    }
    const char *extra_strict[] = {"--blockstore-timeout", "5", NULL};
    const char *extra_partial[] = {"--blockstore-timeout", "5", "--blockstore-partial-create-ok",
                                   NULL};
    r->strict = bst_open((const char *const *)specs, extra_strict, NULL);
    r->partial = bst_open((const char *const *)specs, extra_partial, NULL);
    for (int i = 0; i < n; i++)
        free(specs[i]);
    for (int i = 0; i < N_BLOCKS; i++) {
        r->sizes[i] = i == 0 ? 0 : (size_t)(i * 997 + 3);
        r->data[i] = bst_random_bytes(r->sizes[i]);
        bst_random_id(r->ids[i]);
        ck_assert_int_eq(
            blockstore_create(r->strict->ctx, NULL, "Org", r->ids[i], r->data[i], r->sizes[i]),
            BLOCKSTORE_OK);
    }
}

static void run_close(run_t *r)
{
    bst_close(r->strict);
    bst_close(r->partial);
    for (int i = 0; i < r->n; i++)
        objsrv_stop(r->srv[i]);
    for (int i = 0; i < N_BLOCKS; i++)
        free(r->data[i]);
}

/* reads_with_node_stopped - read every block twice over, stopping node
 * `down` halfway through: no read fails. */
static void reads_with_node_stopped(run_t *r, int down)
{
    int failures = 0;
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < N_BLOCKS; i++) {
            if (round == 0 && i == N_BLOCKS / 2)
                objsrv_kill(r->srv[down]);
            failures += read_all(r->strict, &r->ids[i], &r->data[i], &r->sizes[i], 1);
        }
    ck_assert_int_eq(failures, 0);
}

/* creates_with_node_down - strict creates fail, partial ones work and read back. */
static void creates_with_node_down(run_t *r)
{
    uint8_t id[16], *d = bst_random_bytes(3000);
    bst_random_id(id);
    ck_assert_int_eq(blockstore_create(r->strict->ctx, NULL, "Org", id, d, 3000),
                     BLOCKSTORE_UNAVAILABLE);
    ck_assert_int_eq(blockstore_create(r->partial->ctx, NULL, "Org", id, d, 3000), BLOCKSTORE_OK);
    size_t sz = 3000;
    ck_assert_int_eq(read_all(r->partial, &id, &d, &sz, 1), 0);
    free(d);
}

START_TEST(raid1_node_down_mid_run)
{
    run_t r;
    run_open(&r, "RAID1", 2);
    reads_with_node_stopped(&r, 1);
    creates_with_node_down(&r);
    /* Both down: reads fail, creates too, even partial ones. */
    objsrv_kill(r.srv[0]);
    uint8_t buf[4000];
    ck_assert_int_eq(blockstore_read(r.strict->ctx, NULL, "Org", r.ids[1], buf, r.sizes[1]),
                     BLOCKSTORE_UNAVAILABLE);
    ck_assert_int_eq(blockstore_create(r.partial->ctx, NULL, "Org", r.ids[1], buf, 10),
                     BLOCKSTORE_UNAVAILABLE);
    run_close(&r);
}
END_TEST

/* ---- RAID5 ------------------------------------------------------------------- */

START_TEST(raid5_data_node_down_mid_run)
{
    run_t r;
    run_open(&r, "RAID5", 3);
    reads_with_node_stopped(&r, 0); /* a data node: chunks rebuilt from parity */
    creates_with_node_down(&r);
    /* A second node down: an error, never wrong bytes. */
    objsrv_kill(r.srv[2]);
    uint8_t buf[4000];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(blockstore_read(r.strict->ctx, NULL, "Org", r.ids[i], buf, r.sizes[i]),
                         BLOCKSTORE_UNAVAILABLE);
    uint8_t fresh[16];
    bst_random_id(fresh);
    ck_assert_int_eq(blockstore_create(r.partial->ctx, NULL, "Org", fresh, buf, 10),
                     BLOCKSTORE_UNAVAILABLE);
    run_close(&r);
}
END_TEST

START_TEST(raid5_parity_node_down_mid_run)
{
    run_t r;
    run_open(&r, "RAID5", 4);
    reads_with_node_stopped(&r, 3);
    creates_with_node_down(&r);
    run_close(&r);
}
END_TEST

START_TEST(raid5_mixed_semantics)
{
    objsrv_t *sw = objsrv_swift();
    int port = objsrv_port(objsrv_s3rver());
    objsrv_s3_bucket(port, "raid5mixed", "S3RVER", "S3RVER");
    objsrv_swift_container(sw, "raid5mixed");
    char *s3 = bst_s3rver_spec(port, "raid5mixed");
    char *swift = bst_swift_spec(objsrv_port(sw), "raid5mixed", "testing");
    char *n0 = xasprintf("RAID5:0:%s", s3), *n1 = xasprintf("RAID5:1:%s", swift);
    const char *specs[] = {n0, n1, "RAID5:2:POSTGRESQL", NULL};
    bst_t *t = bst_open(specs, NULL, BST_NEW_DB);
    bst_exercise(t);
    bst_close(t);
    free(n0);
    free(n1);
    free(s3);
    free(swift);
}
END_TEST

/*
 * parsec_raid5_chunks - Parsec 2.12.1's layout, written from its code
 * (parsec/backend/raid5_blockstore.py), independently of the server's:
 *
 *     payload_size = len(block) + 4
 *     chunk_len = payload_size // nb_chunks
 *     if nb_chunks * chunk_len < payload_size: chunk_len += 1
 *     padding_len = chunk_len * nb_chunks - payload_size
 *     payload = struct.pack("!I", len(block)) + block + b"\x00" * padding_len
 *     chunks = [payload[chunk_len * i : chunk_len * (i + 1)] for i in range(nb_chunks)]
 *     checksum = _xor_buffers(*chunks)
 *
 * Returns (nb_chunks + 1) pieces of *chunk_len bytes, the checksum last.
 */
static uint8_t *parsec_raid5_chunks(const uint8_t *block, size_t len, size_t nb_chunks,
                                    size_t *chunk_len_out)
{
    size_t payload_size = len + 4;
    size_t chunk_len = payload_size / nb_chunks;
    if (nb_chunks * chunk_len < payload_size)
        chunk_len += 1;
    size_t padding_len = chunk_len * nb_chunks - payload_size;
    uint8_t *payload = xcalloc(1, payload_size + padding_len + chunk_len);
    payload[0] = (uint8_t)(len >> 24);
    payload[1] = (uint8_t)(len >> 16);
    payload[2] = (uint8_t)(len >> 8);
    payload[3] = (uint8_t)len;
    memcpy(payload + 4, block, len);
    uint8_t *checksum = payload + chunk_len * nb_chunks;
    for (size_t i = 0; i < nb_chunks; i++)
        for (size_t k = 0; k < chunk_len; k++)
            checksum[k] ^= payload[chunk_len * i + k];
    *chunk_len_out = chunk_len;
    return payload;
}

static void put_row(PGconn *pg, int node, const char *org, const uint8_t id[16],
                    const uint8_t *data, size_t len)
{
    char nodes[16], uuid[40];
    snprintf(nodes, sizeof nodes, "%d", node);
    snprintf(uuid, sizeof uuid,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", id[0], id[1],
             id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9], id[10], id[11], id[12], id[13],
             id[14], id[15]);
    const char *values[4] = {nodes, org, uuid, (const char *)data};
    int lengths[4] = {0, 0, 0, (int)len}, formats[4] = {0, 0, 0, 1};
    PGresult *res = PQexecParams(pg,
                                 "INSERT INTO block_data (node, organization_id, block_id, data) "
                                 "VALUES ($1::int2, $2, $3::uuid, $4) ON CONFLICT "
                                 "(node, organization_id, block_id) DO UPDATE SET data = $4",
                                 4, NULL, values, lengths, formats, 0);
    ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s", PQerrorMessage(pg));
    PQclear(res);
}

/* Data Parsec wrote stays readable: chunks laid out by Parsec's algorithm,
 * stored under each node, read by the server; with each node missing in
 * turn, rebuilt. */
START_TEST(raid5_reads_parsec_layout)
{
    static const size_t sizes[] = {0, 1, 2, 3, 4, 5, 7, 100, 4093, 65537};
    for (int nodes = 3; nodes <= 5; nodes++) {
        char *specs[6] = {NULL};
        for (int i = 0; i < nodes; i++)
            specs[i] = xasprintf("RAID5:%d:POSTGRESQL", i);
        bst_t *t = bst_open((const char *const *)specs, NULL, BST_NEW_DB);
        PGconn *pg = testenv_pg_connect(t->db_url);
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            size_t len = sizes[s], cl;
            uint8_t id[16], *block = bst_random_bytes(len), *buf = xmalloc(len + 1);
            bst_random_id(id);
            uint8_t *pieces = parsec_raid5_chunks(block, len, (size_t)nodes - 1, &cl);
            ck_assert_uint_eq(cl, blockstore_raid5_chunk_len(len, (size_t)nodes));
            for (int i = 0; i < nodes; i++)
                put_row(pg, i, "ParsecOrg", id, pieces + (size_t)i * cl, cl);
            ck_assert_int_eq(blockstore_read(t->ctx, t->db, "ParsecOrg", id, buf, len),
                             BLOCKSTORE_OK);
            ck_assert(memcmp(buf, block, len) == 0);
            /* Each node missing in turn (parity included): still the block. */
            for (int gone = 0; gone < nodes; gone++) {
                char sql[160];
                snprintf(sql, sizeof sql, "UPDATE block_data SET node = node + 100 WHERE node = %d",
                         gone);
                PQclear(PQexec(pg, sql));
                memset(buf, 0, len + 1);
                ck_assert_int_eq(blockstore_read(t->ctx, t->db, "ParsecOrg", id, buf, len),
                                 BLOCKSTORE_OK);
                ck_assert(memcmp(buf, block, len) == 0);
                PQclear(PQexec(pg, "UPDATE block_data SET node = node - 100 WHERE node >= 100"));
            }
            /* And what the server writes is what Parsec would have written. */
            uint8_t id2[16];
            bst_random_id(id2);
            ck_assert_int_eq(blockstore_create(t->ctx, t->db, "ParsecOrg", id2, block, len),
                             BLOCKSTORE_OK);
            for (int i = 0; i < nodes; i++) {
                char sql[300];
                snprintf(sql, sizeof sql,
                         "SELECT count(*) FROM block_data a JOIN block_data b ON a.node = b.node "
                         "AND a.data = b.data WHERE a.node = %d AND a.block_id <> b.block_id",
                         i);
                ck_assert_int_eq(testenv_sql_int(pg, sql), 2);
            }
            PQclear(PQexec(pg, "DELETE FROM block_data"));
            free(pieces);
            free(block);
            free(buf);
        }
        PQfinish(pg);
        bst_close(t);
        for (int i = 0; i < nodes; i++)
            free(specs[i]);
    }
}
END_TEST

/* A damaged piece is never served: a short chunk or a chunk with other
 * bytes is rebuilt from parity; two damaged pieces are an error. */
START_TEST(raid5_damaged_chunks)
{
    const char *specs[] = {"RAID5:0:POSTGRESQL", "RAID5:1:POSTGRESQL", "RAID5:2:POSTGRESQL", NULL};
    bst_t *t = bst_open(specs, NULL, BST_NEW_DB);
    PGconn *pg = testenv_pg_connect(t->db_url);
    uint8_t id[16], *block = bst_random_bytes(1000), buf[1000];
    bst_random_id(id);
    ck_assert_int_eq(blockstore_create(t->ctx, t->db, "Org", id, block, 1000), BLOCKSTORE_OK);

    PQclear(PQexec(pg, "UPDATE block_data SET data = substring(data from 2) WHERE node = 1"));
    ck_assert_int_eq(blockstore_read(t->ctx, t->db, "Org", id, buf, 1000), BLOCKSTORE_OK);
    ck_assert(memcmp(buf, block, 1000) == 0);
    /* The length prefix of chunk 0 changed, same length: found and rebuilt. */
    PQclear(PQexec(pg, "UPDATE block_data SET data = set_byte(data, 2, get_byte(data, 2) # 1) "
                       "WHERE node = 0"));
    PQclear(PQexec(pg, "DELETE FROM block_data WHERE node = 1"));
    ck_assert_int_eq(blockstore_read(t->ctx, t->db, "Org", id, buf, 1000), BLOCKSTORE_UNAVAILABLE);
    PQfinish(pg);
    free(block);
    bst_close(t);
}
END_TEST

START_TEST(raid5_prefix_damage_rebuilt)
{
    const char *specs[] = {"RAID5:0:POSTGRESQL", "RAID5:1:POSTGRESQL", "RAID5:2:POSTGRESQL",
                           "RAID5:3:POSTGRESQL", NULL};
    bst_t *t = bst_open(specs, NULL, BST_NEW_DB);
    PGconn *pg = testenv_pg_connect(t->db_url);
    uint8_t id[16], *block = bst_random_bytes(777), buf[777];
    bst_random_id(id);
    ck_assert_int_eq(blockstore_create(t->ctx, t->db, "Org", id, block, 777), BLOCKSTORE_OK);
    PQclear(PQexec(pg, "UPDATE block_data SET data = set_byte(data, 2, get_byte(data, 2) # 1) "
                       "WHERE node = 0"));
    ck_assert_int_eq(blockstore_read(t->ctx, t->db, "Org", id, buf, 777), BLOCKSTORE_OK);
    ck_assert(memcmp(buf, block, 777) == 0);
    PQfinish(pg);
    free(block);
    bst_close(t);
}
END_TEST

/* A node answering 500 or a wrong length, beside real ones. */
START_TEST(raid_with_faulty_node)
{
    faultsrv_t *f500 = faultsrv_start(FAULT_500, 0);
    char *bad =
        xasprintf("RAID1:0:s3:http\\://127.0.0.1\\:%d:us-east-1:b:K:S", faultsrv_port(f500));
    const char *specs[] = {bad, "RAID1:1:POSTGRESQL", NULL};
    const char *strict[] = {"--blockstore-timeout", "5", NULL};
    bst_t *t = bst_open(specs, strict, BST_NEW_DB);
    const char *extra[] = {"--blockstore-timeout", "5", "--blockstore-partial-create-ok", NULL};
    bst_t *tp = bst_open(specs, extra, t->db_url);
    uint8_t id[16], *d = bst_random_bytes(500), buf[500];
    bst_random_id(id);
    ck_assert_int_eq(blockstore_create(t->ctx, t->db, "Org", id, d, 500), BLOCKSTORE_UNAVAILABLE);
    ck_assert_int_eq(blockstore_create(tp->ctx, tp->db, "Org", id, d, 500), BLOCKSTORE_OK);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(blockstore_read(t->ctx, t->db, "Org", id, buf, 500), BLOCKSTORE_OK);
        ck_assert(memcmp(buf, d, 500) == 0);
    }
    bst_close(tp);
    bst_close(t);
    faultsrv_stop(f500);
    free(bad);

    /* RAID5 whose node 0 serves a chunk one byte short: rebuilt. */
    faultsrv_t *fshort = faultsrv_start(FAULT_SHORT, blockstore_raid5_chunk_len(500, 3));
    bad = xasprintf("RAID5:0:s3:http\\://127.0.0.1\\:%d:us-east-1:b:K:S", faultsrv_port(fshort));
    const char *specs5[] = {bad, "RAID5:1:POSTGRESQL", "RAID5:2:POSTGRESQL", NULL};
    t = bst_open(specs5, strict, BST_NEW_DB);
    ck_assert_int_eq(blockstore_create(t->ctx, t->db, "Org", id, d, 500), BLOCKSTORE_OK);
    ck_assert_int_eq(blockstore_read(t->ctx, t->db, "Org", id, buf, 500), BLOCKSTORE_OK);
    ck_assert(memcmp(buf, d, 500) == 0);
    bst_close(t);
    faultsrv_stop(fshort);
    free(bad);
    free(d);
}
END_TEST

/* A RAID1 node that hangs costs one timeout, not one per read: after it
 * failed, reads go to the other node first for a while. */
START_TEST(raid1_hung_node_tried_last)
{
    faultsrv_t *hang = faultsrv_start(FAULT_HANG, 0);
    char *bad =
        xasprintf("RAID1:0:s3:http\\://127.0.0.1\\:%d:us-east-1:b:K:S", faultsrv_port(hang));
    const char *specs[] = {bad, "RAID1:1:POSTGRESQL", NULL};
    const char *extra[] = {"--blockstore-timeout", "1", NULL};
    bst_t *t = bst_open(specs, extra, BST_NEW_DB);
    PGconn *pg = testenv_pg_connect(t->db_url);
    uint8_t ids[8][16], *d = bst_random_bytes(300), buf[300];
    for (int i = 0; i < 8; i++) {
        bst_random_id(ids[i]);
        ids[i][15] &= 0xfe; /* even: node 0, the hung one, is asked first */
        put_row(pg, 1, "Org", ids[i], d, 300);
    }
    for (int i = 0; i < 8; i++) {
        ck_assert_int_eq(blockstore_read(t->ctx, t->db, "Org", ids[i], buf, 300), BLOCKSTORE_OK);
        ck_assert(memcmp(buf, d, 300) == 0);
    }
    ck_assert_int_eq(faultsrv_requests(hang), 1);
    PQfinish(pg);
    bst_close(t);
    faultsrv_stop(hang);
    free(bad);
    free(d);
}
END_TEST

TEST_SUITE(blockstore_raid)
{
    Suite *s = suite_create("blockstore_raid");
    TCase *tc = tcase_create("raid");
    testenv_db_setup();
    objsrv_s3rver();
    objsrv_swift();
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, raid0_placement);
    tcase_add_test(tc, raid1_mixed_semantics);
    tcase_add_test(tc, raid1_node_down_mid_run);
    tcase_add_test(tc, raid5_data_node_down_mid_run);
    tcase_add_test(tc, raid5_parity_node_down_mid_run);
    tcase_add_test(tc, raid5_mixed_semantics);
    tcase_add_test(tc, raid5_reads_parsec_layout);
    tcase_add_test(tc, raid5_damaged_chunks);
    tcase_add_test(tc, raid5_prefix_damage_rebuilt);
    tcase_add_test(tc, raid_with_faulty_node);
    tcase_add_test(tc, raid1_hung_node_tried_last);
    suite_add_tcase(s, tc);
    return s;
}
