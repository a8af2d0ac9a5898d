/*
 * tests/integration/test_cmd_block.c - block_create and block_read through
 * lighttpd (two worker processes) and a real PostgreSQL, over real stores:
 * POSTGRESQL, Swift's s3api (which verifies SigV4), RAID1 and RAID5 over
 * s3rvers with a node killed in the middle of a run, and a store that
 * answers 500, never answers, or serves truncated objects.  Every status of
 * docs/protocol.md in its order, the counters of realm_stats and
 * organization_stats, a block at exactly the request size limit and one
 * byte over, an empty block, one id in two organizations, and nothing
 * half-written ever recorded.
 */
#include "objsrv.h"
#include "test_blockstore_lib.h"
#include "test_realm_lib.h"
#include "testreg.h"
#include "xalloc.h"

#include <grp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- requests and steps ---- */

static json_object *req_create(const uint8_t realm[16], const uint8_t id[16], const void *data,
                               size_t len)
{
    json_object *req = json_object_new_object();
    json_object_object_add(req, "cmd", json_object_new_string("block_create"));
    json_object_object_add(req, "block_id", json_object_new_string(rl_hex(id)));
    json_object_object_add(req, "realm_id", json_object_new_string(rl_hex(realm)));
    json_object_object_add(req, "block", pclient_json_bytes(data, len));
    return req;
}

static json_object *req_read(const uint8_t id[16])
{
    json_object *req = json_object_new_object();
    json_object_object_add(req, "cmd", json_object_new_string("block_read"));
    json_object_object_add(req, "block_id", json_object_new_string(rl_hex(id)));
    return req;
}

/* block_read by d must answer ok with exactly data[0..len). */
static void expect_block(const pclient_device_t *d, const uint8_t id[16], const void *data,
                         size_t len)
{
    json_object *r = porg_call(ut_srv, d, req_read(id));
    if (strcmp(porg_status(r), "ok") != 0)
        porg_dump_log(ut_srv);
    ck_assert_str_eq(porg_status(r), "ok");
    char *want = pclient_b64(data, len);
    const char *got = porg_str(r, "block");
    ck_assert_ptr_nonnull(got);
    ck_assert_msg(strcmp(got, want) == 0, "block_read gave other bytes (%zu expected)", len);
    ck_assert_int_eq(json_object_object_length(r), 2);
    free(want);
    json_object_put(r);
}

/* The `block` rows and claims of organization org (its id). */
static long org_blocks(const char *org)
{
    return ut_sql_long("SELECT count(*) FROM block b JOIN organization o ON o._id = b.organization"
                       " WHERE o.organization_id = $1",
                       org, NULL);
}

static long org_claims(const char *org)
{
    return ut_sql_long("SELECT count(*) FROM block_claim c"
                       " JOIN organization o ON o._id = c.organization"
                       " WHERE o.organization_id = $1",
                       org, NULL);
}

static long realm_blocks_size(const uint8_t realm[16])
{
    return ut_sql_long("SELECT blocks_size FROM realm WHERE realm_id = $1::uuid", rl_hex(realm),
                       NULL);
}

static int64_t stat_of(const pclient_device_t *d, json_object *req, const char *field)
{
    json_object *r = porg_call(ut_srv, d, req);
    ck_assert_str_eq(porg_status(r), "ok");
    int64_t v = rl_int(r, field);
    json_object_put(r);
    return v;
}

/* ---- POSTGRESQL ---- */

static const char *const pg_env[] = {"PARSEC_BLOCKSTORE=POSTGRESQL", NULL};

START_TEST(create_read_stats)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    uint8_t realm[16], a[16], b[16], e[16];
    rl_realm(o->admin, realm);
    rl_share(o->admin, realm, "bob", "CONTRIBUTOR");
    rl_id(a);
    rl_id(b);
    rl_id(e);
    uint8_t *data = bst_random_bytes(512 * 1024);

    porg_expect(ut_srv, o->admin, req_create(realm, a, data, 512 * 1024), "ok");
    porg_expect(ut_srv, bob, req_create(realm, b, "hello", 5), "ok");
    /* an empty block is a block */
    porg_expect(ut_srv, bob, req_create(realm, e, "", 0), "ok");
    expect_block(bob, a, data, 512 * 1024);
    expect_block(o->admin, b, "hello", 5);
    expect_block(o->admin, e, "", 0);

    /* the row: realm, author, size; the claims are gone */
    ck_assert_int_eq(org_blocks(o->organization_id), 3);
    ck_assert_int_eq(org_claims(o->organization_id), 0);
    char *author = ut_sql("SELECT d.device_id FROM block b JOIN device d ON d._id = b.author"
                          " WHERE b.block_id = $1::uuid",
                          rl_hex(b), NULL);
    ck_assert_str_eq(author, "bob@d");
    free(author);
    ck_assert_int_eq(
        ut_sql_long("SELECT size FROM block WHERE block_id = $1::uuid", rl_hex(e), NULL), 0);
    /* the bytes in block_data, as they are */
    char *hex = ut_sql("SELECT encode(data, 'hex') FROM block_data WHERE block_id = $1::uuid",
                       rl_hex(b), NULL);
    ck_assert_str_eq(hex, "68656c6c6f");
    free(hex);

    /* counted in realm_stats and organization_stats */
    int64_t want = 512 * 1024 + 5;
    ck_assert_int_eq(realm_blocks_size(realm), want);
    ck_assert_int_eq(stat_of(bob, rl_req_realm("realm_stats", realm), "blocks_size"), want);
    json_object *st = json_object_new_object();
    json_object_object_add(st, "cmd", json_object_new_string("organization_stats"));
    ck_assert_int_eq(stat_of(o->admin, st, "data_size"), want);
    /* the administration API agrees */
    long http = 0;
    json_object *adm = porg_admin(ut_srv, "GET", o->organization_id, "/stats", NULL, &http);
    ck_assert_int_eq(http, 200);
    ck_assert_int_eq(rl_int(adm, "data_size"), want);
    json_object_put(adm);

    free(data);
    pclient_device_free(bob);
    porg_free(o);
}
END_TEST

START_TEST(create_refusals)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    pclient_device_t *carl = porg_user(ut_srv, o, o->admin, "carl@d", "STANDARD", NULL, NULL);
    uint8_t realm[16], unknown[16], id[16];
    rl_realm(o->admin, realm);
    rl_share(o->admin, realm, "bob", "READER");
    rl_id(unknown);
    rl_id(id);

    /* not_found: no such realm in the organization */
    porg_expect_no_trace(ut_srv, o->admin, req_create(unknown, id, "x", 1), "not_found", NULL);
    /* not_allowed: a READER, and a user without a role */
    porg_expect_no_trace(ut_srv, bob, req_create(realm, id, "x", 1), "not_allowed", NULL);
    porg_expect_no_trace(ut_srv, carl, req_create(realm, id, "x", 1), "not_allowed", NULL);
    /* MANAGER and CONTRIBUTOR may */
    rl_share(o->admin, realm, "bob", "MANAGER");
    rl_share(o->admin, realm, "carl", "CONTRIBUTOR");
    uint8_t m[16], c[16];
    rl_id(m);
    rl_id(c);
    porg_expect(ut_srv, bob, req_create(realm, m, "m", 1), "ok");
    porg_expect(ut_srv, carl, req_create(realm, c, "c", 1), "ok");

    /* already_exists, before the store is written: the original is kept */
    porg_expect(ut_srv, o->admin, req_create(realm, id, "original", 8), "ok");
    porg_expect_no_trace(ut_srv, bob, req_create(realm, id, "other bytes", 11), "already_exists",
                         NULL);
    porg_expect_no_trace(ut_srv, o->admin, req_create(realm, id, "original", 8), "already_exists",
                         NULL);
    expect_block(carl, id, "original", 8);
    ck_assert_int_eq(realm_blocks_size(realm), 10);

    /* a create in progress holds the id: a claim not yet stale refuses */
    uint8_t held[16];
    rl_id(held);
    ck_assert_ptr_null(ut_sql("INSERT INTO block_claim SELECT _id, $2::uuid, gen_random_uuid(),"
                              " now() FROM organization WHERE organization_id = $1",
                              o->organization_id, rl_hex(held), NULL));
    porg_expect(ut_srv, o->admin, req_create(realm, held, "h", 1), "already_exists");
    /* one left by a dead worker long ago is taken over */
    ck_assert_ptr_null(ut_sql("UPDATE block_claim SET claimed_on = now() - interval '1 day'"
                              " WHERE block_id = $1::uuid",
                              rl_hex(held), NULL));
    porg_expect(ut_srv, o->admin, req_create(realm, held, "h", 1), "ok");
    expect_block(o->admin, held, "h", 1);
    ck_assert_int_eq(org_claims(o->organization_id), 0);

    /* in_maintenance: a reencryption, checked after the role */
    const char *users[] = {"admin", "bob", "carl"};
    porg_expect(ut_srv, o->admin, rl_req_start(realm, 2, rl_now(), users, 3), "ok");
    uint8_t late[16];
    rl_id(late);
    porg_expect_no_trace(ut_srv, o->admin, req_create(realm, late, "x", 1), "in_maintenance", NULL);
    porg_expect_no_trace(ut_srv, bob, req_create(realm, late, "x", 1), "in_maintenance", NULL);
    pclient_device_t *eve = porg_user(ut_srv, o, o->admin, "eve@d", "STANDARD", NULL, NULL);
    porg_expect_no_trace(ut_srv, eve, req_create(realm, late, "x", 1), "not_allowed", NULL);
    pclient_device_free(eve);

    /* malformed fields */
    json_object *base = req_create(realm, late, "x", 1);
    ut_bad_bytes_field(o->admin, base, "block", SIZE_MAX);
    rl_bad_uuid_field(o->admin, base, "block_id");
    rl_bad_uuid_field(o->admin, base, "realm_id");
    json_object_put(base);

    pclient_device_free(bob);
    pclient_device_free(carl);
    porg_free(o);
}
END_TEST

START_TEST(read_refusals)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    porg_t *other = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    uint8_t realm[16], id[16], unknown[16];
    rl_realm(o->admin, realm);
    rl_id(id);
    rl_id(unknown);
    porg_expect(ut_srv, o->admin, req_create(realm, id, "data", 4), "ok");

    porg_expect_no_trace(ut_srv, o->admin, req_read(unknown), "not_found", NULL);
    /* another organization's block is unknown here */
    porg_expect_no_trace(ut_srv, other->admin, req_read(id), "not_found", NULL);
    porg_expect_no_trace(ut_srv, bob, req_read(id), "not_allowed", NULL);
    rl_share(o->admin, realm, "bob", "READER");
    expect_block(bob, id, "data", 4); /* a READER reads */

    /* a reencryption lets reads go on; another maintenance does not */
    const char *users[] = {"admin", "bob"};
    porg_expect(ut_srv, o->admin, rl_req_start(realm, 2, rl_now(), users, 2), "ok");
    expect_block(bob, id, "data", 4);
    ck_assert_ptr_null(ut_sql("UPDATE realm SET maintenance_type = 'GARBAGE_COLLECTION'"
                              " WHERE realm_id = $1::uuid",
                              rl_hex(realm), NULL));
    porg_expect_no_trace(ut_srv, bob, req_read(id), "in_maintenance", NULL);
    /* no role comes before the maintenance */
    pclient_device_t *carl = porg_user(ut_srv, o, o->admin, "carl@d", "STANDARD", NULL, NULL);
    porg_expect_no_trace(ut_srv, carl, req_read(id), "not_allowed", NULL);
    ck_assert_ptr_null(ut_sql("UPDATE realm SET maintenance_type = 'REENCRYPTION'"
                              " WHERE realm_id = $1::uuid",
                              rl_hex(realm), NULL));

    /* a recorded block the store lost: timeout, as Parsec answered */
    ck_assert_ptr_null(
        ut_sql("DELETE FROM block_data WHERE block_id = $1::uuid", rl_hex(id), NULL));
    porg_expect(ut_srv, bob, req_read(id), "timeout");
    /* ... and one the store holds with another length is never served */
    ck_assert_ptr_null(ut_sql("INSERT INTO block_data (organization_id, block_id, data)"
                              " VALUES ($1, $2::uuid, 'dat'::bytea)",
                              o->organization_id, rl_hex(id), NULL));
    porg_expect(ut_srv, bob, req_read(id), "timeout");

    json_object *base = req_read(id);
    rl_bad_uuid_field(o->admin, base, "block_id");
    json_object_put(base);

    pclient_device_free(bob);
    pclient_device_free(carl);
    porg_free(other);
    porg_free(o);
}
END_TEST

/* One id in two organizations: two blocks. */
START_TEST(same_id_two_organizations)
{
    porg_t *o1 = porg_bootstrap(ut_srv, NULL);
    porg_t *o2 = porg_bootstrap(ut_srv, NULL);
    uint8_t r1[16], r2[16], id[16];
    rl_realm(o1->admin, r1);
    rl_realm(o2->admin, r2);
    rl_id(id);
    porg_expect(ut_srv, o1->admin, req_create(r1, id, "first", 5), "ok");
    porg_expect(ut_srv, o2->admin, req_create(r2, id, "second!", 7), "ok");
    expect_block(o1->admin, id, "first", 5);
    expect_block(o2->admin, id, "second!", 7);
    ck_assert_int_eq(realm_blocks_size(r1), 5);
    ck_assert_int_eq(realm_blocks_size(r2), 7);
    porg_free(o1);
    porg_free(o2);
}
END_TEST

/* Creates of one id racing: one is ok, every other already_exists, and the
 * block is the winner's bytes (never a mix, never replaced). */
enum { RACERS = 6 };

typedef struct {
    const pclient_device_t *dev;
    const uint8_t *realm, *id;
    uint8_t data[4096];
    pthread_barrier_t *start;
    char status[32];
} racer_t;

static void *racer(void *arg)
{
    racer_t *w = arg;
    json_object *req = req_create(w->realm, w->id, w->data, sizeof w->data);
    pthread_barrier_wait(w->start);
    pclient_resp_t r;
    if (pclient_cmd(porg_srv_url(ut_srv), "authenticated", w->dev->organization_id, w->dev, req,
                    &r) &&
        r.status == 200 && pclient_status(&r))
        snprintf(w->status, sizeof w->status, "%s", pclient_status(&r));
    else
        snprintf(w->status, sizeof w->status, "HTTP %ld", r.status);
    pclient_resp_free(&r);
    json_object_put(req);
    return NULL;
}

START_TEST(racing_creates)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    uint8_t realm[16], id[16];
    rl_realm(o->admin, realm);
    rl_id(id);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, RACERS);
    racer_t w[RACERS];
    pthread_t th[RACERS];
    for (int i = 0; i < RACERS; i++) {
        w[i] = (racer_t){.dev = o->admin, .realm = realm, .id = id, .start = &start};
        memset(w[i].data, 'a' + i, sizeof w[i].data);
        ck_assert_int_eq(pthread_create(&th[i], NULL, racer, &w[i]), 0);
    }
    int ok = -1, refused = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(th[i], NULL);
        if (strcmp(w[i].status, "ok") == 0) {
            ck_assert_msg(ok < 0, "two creates of one id answered ok");
            ok = i;
        } else {
            ck_assert_str_eq(w[i].status, "already_exists");
            refused++;
        }
    }
    pthread_barrier_destroy(&start);
    ck_assert_int_ge(ok, 0);
    ck_assert_int_eq(refused, RACERS - 1);
    expect_block(o->admin, id, w[ok].data, sizeof w[ok].data);
    ck_assert_int_eq(org_blocks(o->organization_id), 1);
    ck_assert_int_eq(org_claims(o->organization_id), 0);
    ck_assert_int_eq(realm_blocks_size(realm), 4096);
    porg_free(o);
}
END_TEST

/* The request size limit (1 MiB by default): a request of exactly that
 * many bytes is served, one byte more is 413 and records nothing. */
START_TEST(block_at_the_size_limit)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    uint8_t realm[16], id[16];
    rl_realm(o->admin, realm);
    rl_id(id);
    const size_t limit = 1048576;
    size_t n = (limit - 200) / 4 * 3;
    uint8_t *data = bst_random_bytes(n);
    char *b64 = pclient_b64(data, n);
    char *head = xasprintf("{\"cmd\":\"block_create\",\"block_id\":\"%s\",\"realm_id\":\"%s\","
                           "\"block\":\"",
                           rl_hex(id), rl_hex(realm));
    size_t fixed = strlen(head) + strlen(b64) + 2; /* "} */
    ck_assert_uint_lt(fixed, limit);
    char *body = xmalloc(limit + 2);
    size_t at = 0;
    memcpy(body, head, strlen(head));
    at += strlen(head);
    memcpy(body + at, b64, strlen(b64));
    at += strlen(b64);
    body[at++] = '"';
    /* JSON whitespace up to the limit: the body is exactly limit bytes */
    memset(body + at, ' ', limit - fixed);
    at += limit - fixed;
    body[at++] = '}';
    ck_assert_uint_eq(at, limit);

    /* one byte over first: 413 from the front, nothing recorded */
    char *before = porg_fingerprint(ut_srv);
    body[limit - 1] = ' ';
    body[limit] = '}';
    pclient_resp_t resp;
    porg_post(ut_srv, "authenticated", o->organization_id, NULL, body, limit + 1, &resp);
    ck_assert_int_eq(resp.status, 413);
    pclient_resp_free(&resp);
    char *after = porg_fingerprint(ut_srv);
    ck_assert_str_eq(before, after);

    /* exactly the limit */
    body[limit - 1] = '}';
    json_object *r = porg_call_raw(ut_srv, o->admin, body, limit);
    ck_assert_str_eq(porg_status(r), "ok");
    json_object_put(r);
    expect_block(o->admin, id, data, n);
    ck_assert_int_eq(realm_blocks_size(realm), (long)n);

    free(before);
    free(after);
    free(body);
    free(head);
    free(b64);
    free(data);
    porg_free(o);
}
END_TEST

/* Without any --blockstore, a block cannot be stored: timeout, nothing
 * recorded, and a one-line reason in the log. */
START_TEST(no_blockstore)
{
    /* its own server: the only one without a blockstore */
    porg_srv_t *saved = ut_srv;
    ut_srv = porg_srv_start(WEBSRV_LIGHTTPD, NULL);
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    uint8_t realm[16], id[16];
    rl_realm(o->admin, realm);
    rl_id(id);
    porg_expect(ut_srv, o->admin, req_create(realm, id, "x", 1), "timeout");
    ck_assert_int_eq(org_blocks(o->organization_id), 0);
    ck_assert_int_eq(org_claims(o->organization_id), 0);
    char *log = porg_log(ut_srv);
    ck_assert_ptr_nonnull(strstr(log, "no --blockstore configured"));
    free(log);
    porg_free(o);
    ck_assert(porg_srv_stop(ut_srv));
    ut_srv = saved;
}
END_TEST

/* ---- real and faulty stores; each test starts the server its store needs ---- */

/* Start ut_srv with the blockstore specs (whitespace-separated) and extra
 * settings.  The specs go through a --blockstore-file, one per line, as
 * an operator keeps secrets: an S3 endpoint's escaped colons cannot pass
 * through the web server's environment. */
static char specs_file[64];

static void start_with(const char *specs, const char *extra1, const char *extra2)
{
    strcpy(specs_file, "/tmp/parsec-blockspecs.XXXXXX");
    int fd = mkstemp(specs_file);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    for (const char *p = specs; *p;) {
        size_t skip = strspn(p, " "), n = strcspn(p + skip, " ");
        if (n)
            fprintf(f, "%.*s\n", (int)n, p + skip);
        p += skip + n;
    }
    ck_assert_int_eq(fclose(f), 0);
    /* the workers run as www-data when the tests run as root */
    struct group *g = getgrnam("www-data");
    ck_assert_int_eq(chmod(specs_file, 0640), 0);
    if (g && geteuid() == 0)
        ck_assert_int_eq(chown(specs_file, 0, g->gr_gid), 0);
    char *bs = xasprintf("PARSEC_BLOCKSTORE_FILE=%s", specs_file);
    const char *env[] = {
        bs,  "PARSEC_BLOCKSTORE_CONNECT_TIMEOUT=2", "PARSEC_BLOCKSTORE_TIMEOUT=3", extra1, extra2,
        NULL};
    ut_srv = porg_srv_start(WEBSRV_LIGHTTPD, env);
    free(bs);
}

static void stop_srv(void)
{
    ck_assert(porg_srv_stop(ut_srv));
    ut_srv = NULL;
    unlink(specs_file);
}

/* Swift's s3api checks every SigV4 signature. */
START_TEST(s3api_store)
{
    objsrv_t *sw = objsrv_swift();
    objsrv_s3_bucket(objsrv_port(sw), "cmdblocks", "test:tester", "testing");
    char *spec = bst_s3api_spec(objsrv_port(sw), "cmdblocks", "testing");
    start_with(spec, NULL, NULL);
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    uint8_t realm[16], a[16], e[16];
    rl_realm(o->admin, realm);
    rl_id(a);
    rl_id(e);
    uint8_t *data = bst_random_bytes(512 * 1024);
    porg_expect(ut_srv, o->admin, req_create(realm, a, data, 512 * 1024), "ok");
    porg_expect(ut_srv, o->admin, req_create(realm, e, "", 0), "ok");
    porg_expect(ut_srv, o->admin, req_create(realm, a, "other", 5), "already_exists");
    expect_block(o->admin, a, data, 512 * 1024);
    expect_block(o->admin, e, "", 0);
    /* nothing in block_data: the bytes are in the bucket */
    ck_assert_int_eq(ut_sql_long("SELECT count(*) FROM block_data", NULL), 0);
    free(data);
    free(spec);
    porg_free(o);
    stop_srv();
}
END_TEST

/* A store that fails: every create answers timeout and records nothing,
 * every read of a recorded block answers timeout. */
START_TEST(faulty_store)
{
    static const fault_mode modes[] = {FAULT_500, FAULT_HANG, FAULT_CLOSE_MID, FAULT_SHORT,
                                       FAULT_LONG};
    fault_mode mode = modes[_i];
    faultsrv_t *f = faultsrv_start(mode, 1000);
    char *spec = xasprintf("s3:http\\://127.0.0.1\\:%d:us-east-1:b:k:s", faultsrv_port(f));
    start_with(spec, NULL, NULL);
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    uint8_t realm[16], id[16];
    rl_realm(o->admin, realm);
    rl_id(id);
    uint8_t *data = bst_random_bytes(1000);
    json_object *r = porg_call(ut_srv, o->admin, req_create(realm, id, data, 1000));
    if (mode == FAULT_500 || mode == FAULT_HANG) {
        ck_assert_str_eq(porg_status(r), "timeout");
        ck_assert_int_eq(org_blocks(o->organization_id), 0);
        ck_assert_int_eq(realm_blocks_size(realm), 0);
        /* the claim is given up: the id can be created again */
        ck_assert_int_eq(org_claims(o->organization_id), 0);
        /* a block recorded while the store worked */
        ck_assert_ptr_null(ut_sql("INSERT INTO block (organization, block_id, realm, author,"
                                  " size, created_on)"
                                  " SELECT o._id, $2::uuid, r._id, d._id, 1000, now()"
                                  " FROM organization o JOIN realm r ON r.organization = o._id"
                                  " JOIN device d ON d.organization = o._id"
                                  " WHERE o.organization_id = $1",
                                  o->organization_id, rl_hex(id), NULL));
    } else {
        /* the PUT works; the object comes back cut or too long */
        ck_assert_str_eq(porg_status(r), "ok");
    }
    json_object_put(r);
    porg_expect(ut_srv, o->admin, req_read(id), "timeout");
    ck_assert_int_ge(faultsrv_requests(f), 2);
    free(data);
    free(spec);
    porg_free(o);
    stop_srv();
    faultsrv_stop(f);
}
END_TEST

/* RAID1 over two s3rvers, RAID5 over three: a node killed in the middle of
 * a run; every read goes on; creates without partial_create_ok answer
 * timeout and record nothing, with it they go on. */
static void raid_run(const char *level, size_t nodes, bool partial)
{
    objsrv_t *srv[3];
    char *specs = xstrdup("");
    for (size_t i = 0; i < nodes; i++) {
        const char *buckets[] = {"raid", NULL};
        srv[i] = objsrv_s3rver_start(buckets);
        char *one = bst_s3rver_spec(objsrv_port(srv[i]), "raid");
        char *more = xasprintf("%s %s:%zu:%s", specs, level, i, one);
        free(specs);
        free(one);
        specs = more;
    }
    start_with(specs, partial ? "PARSEC_BLOCKSTORE_PARTIAL_CREATE_OK=1" : NULL, NULL);
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    uint8_t realm[16];
    rl_realm(o->admin, realm);
    enum { N = 12 };
    uint8_t ids[N][16];
    uint8_t *data[N];
    size_t len[N];
    for (int i = 0; i < N; i++) {
        rl_id(ids[i]);
        len[i] = i == 0 ? 0 : (size_t)(i * 3001);
        data[i] = bst_random_bytes(len[i]);
        porg_expect(ut_srv, o->admin, req_create(realm, ids[i], data[i], len[i]), "ok");
    }
    for (int i = 0; i < N / 2; i++)
        expect_block(o->admin, ids[i], data[i], len[i]);
    /* a node goes down: the first one, which holds data in RAID5 */
    objsrv_kill(srv[0]);
    for (int i = 0; i < N; i++)
        expect_block(o->admin, ids[i], data[i], len[i]);
    uint8_t late[16];
    rl_id(late);
    long before = org_blocks(o->organization_id);
    porg_expect(ut_srv, o->admin, req_create(realm, late, "late", 4), partial ? "ok" : "timeout");
    ck_assert_int_eq(org_blocks(o->organization_id), before + (partial ? 1 : 0));
    ck_assert_int_eq(org_claims(o->organization_id), 0);
    if (partial)
        expect_block(o->admin, late, "late", 4);
    for (int i = 0; i < N; i++)
        free(data[i]);
    porg_free(o);
    stop_srv();
    for (size_t i = 0; i < nodes; i++)
        objsrv_stop(srv[i]);
    free(specs);
}

START_TEST(raid1_node_down)
{
    raid_run("RAID1", 2, _i == 1);
}
END_TEST

START_TEST(raid5_node_down)
{
    raid_run("RAID5", 3, _i == 1);
}
END_TEST

TEST_SUITE(cmd_block)
{
    Suite *s = suite_create("cmd_block");
    TCase *tc = porg_tcase("pg", &ut_srv, WEBSRV_LIGHTTPD, pg_env);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, create_read_stats);
    tcase_add_test(tc, create_refusals);
    tcase_add_test(tc, read_refusals);
    tcase_add_test(tc, same_id_two_organizations);
    tcase_add_test(tc, racing_creates);
    tcase_add_test(tc, block_at_the_size_limit);
    suite_add_tcase(s, tc);

    objsrv_swift(); /* in the runner, before the tests fork */
    TCase *st = tcase_create("stores");
    tcase_set_timeout(st, 600);
    tcase_add_test(st, no_blockstore);
    tcase_add_test(st, s3api_store);
    tcase_add_loop_test(st, faulty_store, 0, 5);
    tcase_add_loop_test(st, raid1_node_down, 0, 2);
    tcase_add_loop_test(st, raid5_node_down, 0, 2);
    suite_add_tcase(s, st);
    return s;
}
