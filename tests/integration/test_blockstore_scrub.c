/*
 * tests/integration/test_blockstore_scrub.c - `parsec backend blockstore
 * check [--repair] [--json]`, the real binary against a real database and
 * real stores: copies and chunks missing, different or unreachable,
 * found, repaired, and the exit statuses
 */
#include "test_blockstore_lib.h"

#include "objsrv.h"
#include "strbuf.h"
#include "testenv.h"
#include "testreg.h"
#include "xalloc.h"

#include <check.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NB 5

typedef struct {
    bst_t *t;
    PGconn *pg;
    char *specs_arg[8]; /* "-b", spec pairs for the command */
    size_t nspec;
    uint8_t ids[NB][16];
    uint8_t *data[NB];
    size_t sizes[NB];
    char uuid[NB][37];
} scrub_t;

static void uuid_text(const uint8_t id[16], char out[37])
{
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", id[0],
             id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9], id[10], id[11], id[12],
             id[13], id[14], id[15]);
}

static void sql(PGconn *pg, const char *q)
{
    PGresult *r = PQexec(pg, q);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
                  "%s: %s", q, PQerrorMessage(pg));
    PQclear(r);
}

/* scrub_open - a database with one organization, realm and device, NB
 * blocks created through the store of specs and recorded in `block`. */
static void scrub_open(scrub_t *s, const char *const *specs)
{
    memset(s, 0, sizeof *s);
    s->t = bst_open(specs, NULL, BST_NEW_DB);
    s->pg = testenv_pg_connect(s->t->db_url);
    for (size_t i = 0; specs[i]; i++)
        s->specs_arg[s->nspec++] = (char *)specs[i];
    sql(s->pg, "INSERT INTO organization (organization_id, bootstrap_token) VALUES ('ScrubOrg', "
               "'t')");
    sql(s->pg, "INSERT INTO user_ (organization, user_id, profile, user_certificate, "
               "redacted_user_certificate, created_on) VALUES (1, 'alice', 'ADMIN', '\\x00', "
               "'\\x00', now())");
    sql(s->pg, "INSERT INTO device (organization, user_, device_id, verify_key, "
               "device_certificate, redacted_device_certificate, created_on) VALUES (1, 1, "
               "'alice@dev1', decode(repeat('00', 32), 'hex'), '\\x00', '\\x00', now())");
    sql(s->pg, "INSERT INTO realm (organization, realm_id, created_on) VALUES (1, "
               "'11111111-2222-4333-8444-555555555555', now())");
    for (int i = 0; i < NB; i++) {
        char q[300];
        s->sizes[i] = i == 0 ? 0 : (size_t)(i * 1000 + 1);
        s->data[i] = bst_random_bytes(s->sizes[i]);
        bst_random_id(s->ids[i]);
        uuid_text(s->ids[i], s->uuid[i]);
        ck_assert_int_eq(
            blockstore_create(s->t->ctx, s->t->db, "ScrubOrg", s->ids[i], s->data[i], s->sizes[i]),
            BLOCKSTORE_OK);
        snprintf(q, sizeof q,
                 "INSERT INTO block (organization, block_id, realm, author, size, created_on) "
                 "VALUES (1, '%s', 1, 1, %zu, now())",
                 s->uuid[i], s->sizes[i]);
        sql(s->pg, q);
    }
}

static void scrub_close(scrub_t *s)
{
    PQfinish(s->pg);
    for (int i = 0; i < NB; i++)
        free(s->data[i]);
    bst_close(s->t);
}

/* check - run the command with flags (NULL-terminated); stdout into *out
 * (malloc'd); the exit status. */
static int check(scrub_t *s, const char *const *flags, char **out)
{
    char *bin = testenv_build_path("parsec");
    const char *argv[40] = {bin,    "backend",    "blockstore",           "check",
                            "--db", s->t->db_url, "--blockstore-timeout", "5"};
    size_t n = 8;
    for (size_t i = 0; i < s->nspec; i++) {
        argv[n++] = "-b";
        argv[n++] = s->specs_arg[i];
    }
    for (size_t i = 0; flags && flags[i]; i++)
        argv[n++] = flags[i];
    argv[n] = NULL;
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(fd[1]);
    strbuf_t b = STRBUF_INIT;
    ck_assert(strbuf_read_fd(&b, fd[0]));
    close(fd[0]);
    int ws = 0;
    ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
    *out = strbuf_detach(&b);
    free(bin);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128;
}

/* check_json - the command with --json (and --repair when repair): its
 * status, the object in *o (json_object_put it). */
static int check_json(scrub_t *s, bool repair, json_object **o)
{
    const char *flags[] = {"--json", repair ? "--repair" : NULL, NULL};
    char *out;
    int st = check(s, flags, &out);
    *o = json_tokener_parse(out);
    ck_assert_msg(*o != NULL, "not JSON: %s", out);
    free(out);
    return st;
}

static long jint(json_object *o, const char *k)
{
    json_object *v;
    ck_assert_msg(json_object_object_get_ex(o, k, &v), "no %s", k);
    return json_object_get_int64(v);
}

/* problem_state - the "state" of block uuid in the problems, or NULL. */
static const char *problem_state(json_object *o, const char *uuid)
{
    json_object *probs, *v;
    ck_assert(json_object_object_get_ex(o, "problems", &probs));
    for (size_t i = 0; i < json_object_array_length(probs); i++) {
        json_object *p = json_object_array_get_idx(probs, i);
        if (json_object_object_get_ex(p, "block_id", &v) &&
            !strcmp(json_object_get_string(v), uuid) && json_object_object_get_ex(p, "state", &v))
            return json_object_get_string(v);
    }
    return NULL;
}

static void all_read_back(scrub_t *s, int except)
{
    for (int i = 0; i < NB; i++) {
        if (i == except)
            continue;
        uint8_t *buf = xmalloc(s->sizes[i] + 1);
        ck_assert_int_eq(
            blockstore_read(s->t->ctx, s->t->db, "ScrubOrg", s->ids[i], buf, s->sizes[i]),
            BLOCKSTORE_OK);
        ck_assert(memcmp(buf, s->data[i], s->sizes[i]) == 0);
        free(buf);
    }
}

static void s3rver_delete(int port, const char *bucket, const char *uuid)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/%s/ScrubOrg/%s", port, bucket, uuid);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
    long st = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    curl_easy_cleanup(c);
    ck_assert_int_eq(st, 204);
}

START_TEST(scrub_raid1_repairs)
{
    int port = objsrv_port(objsrv_s3rver());
    objsrv_s3_bucket(port, "scrub1", "S3RVER", "S3RVER");
    char *s3 = bst_s3rver_spec(port, "scrub1");
    char *n1 = xasprintf("RAID1:1:%s", s3);
    const char *specs[] = {"RAID1:0:POSTGRESQL", n1, NULL};
    scrub_t s;
    scrub_open(&s, specs);
    char *out, q[300];
    json_object *o;

    ck_assert_int_eq(check(&s, NULL, &out), 0);
    ck_assert_msg(strstr(out, "checked 5 blocks: 5 ok, 0 damaged"), "%s", out);
    free(out);

    /* Node 0 loses block 2, block 3 changes there, node 1 loses block 4. */
    snprintf(q, sizeof q, "DELETE FROM block_data WHERE node = 0 AND block_id = '%s'", s.uuid[2]);
    sql(s.pg, q);
    snprintf(q, sizeof q,
             "UPDATE block_data SET data = substring(data from 2) WHERE node = 0 AND block_id "
             "= '%s'",
             s.uuid[3]);
    sql(s.pg, q);
    s3rver_delete(port, "scrub1", s.uuid[4]);

    ck_assert_int_eq(check(&s, NULL, &out), 1);
    ck_assert_msg(strstr(out, "checked 5 blocks: 2 ok, 3 damaged (0 repaired)"), "%s", out);
    char want[200];
    snprintf(want, sizeof want, "damaged ScrubOrg/%s (2001 bytes): node 0 missing", s.uuid[2]);
    ck_assert_msg(strstr(out, want), "%s", out);
    snprintf(want, sizeof want, "damaged ScrubOrg/%s (4001 bytes): node 1 missing", s.uuid[4]);
    ck_assert_msg(strstr(out, want), "%s", out);
    free(out);

    ck_assert_int_eq(check_json(&s, true, &o), 0);
    ck_assert_int_eq(jint(o, "damaged"), 3);
    ck_assert_int_eq(jint(o, "repaired"), 3);
    ck_assert_str_eq(problem_state(o, s.uuid[3]), "damaged");
    json_object_put(o);

    ck_assert_int_eq(check_json(&s, false, &o), 0);
    ck_assert_int_eq(jint(o, "ok"), 5);
    json_object_put(o);
    /* Each node alone serves every block again. */
    snprintf(q, sizeof q, "SELECT count(*) FROM block_data WHERE node = 0");
    ck_assert_int_eq(testenv_sql_int(s.pg, q), 5);
    all_read_back(&s, -1);

    /* Two copies of the same length that disagree: no majority says which
     * is right, so nothing is overwritten. */
    snprintf(q, sizeof q,
             "UPDATE block_data SET data = set_byte(data, 7, get_byte(data, 7) # 255) WHERE "
             "node = 0 AND block_id = '%s'",
             s.uuid[1]);
    sql(s.pg, q);
    const char *rep[] = {"--repair", NULL};
    ck_assert_int_eq(check(&s, rep, &out), 1);
    ck_assert_msg(strstr(out, "copies disagree, no majority: not repaired"), "%s", out);
    ck_assert_msg(strstr(out, "1 damaged (0 repaired)"), "%s", out);
    free(out);
    scrub_close(&s);
    free(n1);
    free(s3);
}
END_TEST

START_TEST(scrub_raid5_repairs)
{
    const char *specs[] = {"RAID5:0:POSTGRESQL", "RAID5:1:POSTGRESQL", "RAID5:2:POSTGRESQL", NULL};
    scrub_t s;
    scrub_open(&s, specs);
    char q[300];
    json_object *o;
    /* Block 1 loses its parity, block 2 gets a short chunk, block 3 a
     * changed length prefix, block 4 loses two pieces (beyond repair). */
    snprintf(q, sizeof q, "DELETE FROM block_data WHERE node = 2 AND block_id = '%s'", s.uuid[1]);
    sql(s.pg, q);
    snprintf(q, sizeof q,
             "UPDATE block_data SET data = substring(data from 2) WHERE node = 1 AND block_id = "
             "'%s'",
             s.uuid[2]);
    sql(s.pg, q);
    snprintf(q, sizeof q,
             "UPDATE block_data SET data = set_byte(data, 3, get_byte(data, 3) # 1) WHERE node = "
             "0 AND block_id = '%s'",
             s.uuid[3]);
    sql(s.pg, q);
    snprintf(q, sizeof q, "DELETE FROM block_data WHERE node < 2 AND block_id = '%s'", s.uuid[4]);
    sql(s.pg, q);

    ck_assert_int_eq(check_json(&s, false, &o), 1);
    ck_assert_int_eq(jint(o, "ok"), 1);
    ck_assert_int_eq(jint(o, "damaged"), 3);
    ck_assert_int_eq(jint(o, "unreadable"), 1);
    ck_assert_str_eq(problem_state(o, s.uuid[4]), "unreadable");
    json_object_put(o);

    /* Repaired what can be; the block beyond repair keeps the status 1. */
    ck_assert_int_eq(check_json(&s, true, &o), 1);
    ck_assert_int_eq(jint(o, "repaired"), 3);
    json_object_put(o);
    ck_assert_int_eq(check_json(&s, false, &o), 1);
    ck_assert_int_eq(jint(o, "ok"), 4);
    ck_assert_int_eq(jint(o, "unreadable"), 1);
    json_object_put(o);
    all_read_back(&s, 4);
    /* The repaired pieces are the ones the layout wants: any node can go. */
    for (int gone = 0; gone < 3; gone++) {
        snprintf(q, sizeof q, "UPDATE block_data SET node = node + 10 WHERE node = %d", gone);
        sql(s.pg, q);
        all_read_back(&s, 4);
        sql(s.pg, "UPDATE block_data SET node = node - 10 WHERE node >= 10");
    }
    scrub_close(&s);
}
END_TEST

/* A node that fails: nothing can be said of its pieces (status 3); a
 * single store: checked for presence and length, never "repaired". */
START_TEST(scrub_unreachable_and_single)
{
    scrub_t s;
    faultsrv_t *f;
    char *bad;
    const char *single[] = {"POSTGRESQL", NULL};
    scrub_open(&s, single);
    char *out, q[200];
    ck_assert_int_eq(check(&s, NULL, &out), 0);
    free(out);
    snprintf(q, sizeof q, "DELETE FROM block_data WHERE block_id = '%s'", s.uuid[1]);
    sql(s.pg, q);
    const char *rep[] = {"--repair", NULL};
    ck_assert_int_eq(check(&s, rep, &out), 1);
    ck_assert_msg(strstr(out, "unreadable ScrubOrg/"), "%s", out);
    ck_assert_msg(strstr(out, "node 0 missing"), "%s", out);
    free(out);

    /* Now the same blocks behind a RAID1 whose second node answers 500. */
    f = faultsrv_start(FAULT_500, 0);
    bad = xasprintf("RAID1:1:s3:http\\://127.0.0.1\\:%d:us-east-1:b:K:S", faultsrv_port(f));
    s.specs_arg[0] = "RAID1:0:POSTGRESQL";
    s.specs_arg[1] = bad;
    s.nspec = 2;
    sql(s.pg, "DELETE FROM block WHERE size = 1001");
    ck_assert_int_eq(check(&s, NULL, &out), 3);
    ck_assert_msg(strstr(out, "0 ok, 0 damaged (0 repaired), 0 unreadable, 4 unchecked"), "%s",
                  out);
    ck_assert_msg(strstr(out, "node 1 unreachable"), "%s", out);
    free(out);
    faultsrv_stop(f);
    free(bad);
    scrub_close(&s);
}
END_TEST

START_TEST(scrub_usage)
{
    char *bin = testenv_build_path("parsec");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s backend blockstore check -b POSTGRESQL >/dev/null 2>&1", bin);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 2); /* no --db */
    snprintf(cmd, sizeof cmd,
             "%s backend blockstore check --db MOCKED -b POSTGRESQL >/dev/null 2>&1", bin);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof cmd, "%s backend blockstore check --help | grep -q -- --repair", bin);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 0);
    snprintf(cmd, sizeof cmd, "%s backend blockstore scrub >/dev/null 2>&1", bin);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof cmd,
             "%s backend blockstore check --db postgresql://x/y -b s3:http\\\\://127.0.0.1\\\\:%d:"
             "r:b:k:s >/dev/null 2>&1",
             bin, testenv_free_port());
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 2); /* the store cannot be opened */
    free(bin);
}
END_TEST

TEST_SUITE(blockstore_scrub)
{
    Suite *s = suite_create("blockstore_scrub");
    TCase *tc = tcase_create("scrub");
    testenv_db_setup();
    objsrv_s3rver();
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, scrub_raid1_repairs);
    tcase_add_test(tc, scrub_raid5_repairs);
    tcase_add_test(tc, scrub_unreachable_and_single);
    tcase_add_test(tc, scrub_usage);
    suite_add_tcase(s, tc);
    return s;
}
