/*
 * tests/integration/test_cmd_block_bin.c - block_create and block_read
 * through the binary routes (docs/protocol.md, "Blocks as binary bodies"),
 * behind lighttpd (two worker processes), a real PostgreSQL and the
 * POSTGRESQL store:
 *
 *     POST /authenticated/<org>/block/<block_id>?realm_id=<RealmID>
 *     GET  /authenticated/<org>/block/<block_id>
 *
 * Every status of the commands through these routes, the checks before
 * them (API version, organization, content type, credentials) in their
 * order, hostile paths and queries, HEAD and other methods, a body at
 * exactly the request size limit and one byte over, an empty block, and
 * blocks written in one form read back in the other.  Each refusal is
 * checked to write nothing.  The JSON form's own suite is cmd_block.
 */
#include "test_blockstore_lib.h"
#include "test_realm_lib.h"
#include "testreg.h"
#include "xalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- requests ---- */

typedef struct {
    const char *api_version;   /* NULL: "3.2"; "": no header */
    const char *content_type;  /* NULL: application/octet-stream on POST, none otherwise */
    const char *authorization; /* NULL: dev's token; "": no header */
} bin_opts_t;

/* method on /authenticated/<org>/block/<tail> (tail: the id and any
 * query), as dev, with body; *out is the answer (pclient_resp_free it). */
static void bin_send(const pclient_device_t *dev, const char *org, const char *method,
                     const char *tail, const void *body, size_t len, const bin_opts_t *opts,
                     pclient_resp_t *out)
{
    static const bin_opts_t defaults = {0};
    if (!opts)
        opts = &defaults;
    char *h[4] = {NULL};
    int n = 0;
    char *auth = NULL;
    if (!opts->authorization) {
        auth = pclient_auth_header(dev, pclient_now_us() / 1000000);
        h[n++] = xasprintf("Authorization: %s", auth);
    } else if (*opts->authorization) {
        h[n++] = xasprintf("Authorization: %s", opts->authorization);
    }
    const char *api = opts->api_version ? opts->api_version : "3.2";
    if (*api)
        h[n++] = xasprintf("Api-Version: %s", api);
    const char *ct = opts->content_type;
    if (!ct && strcmp(method, "POST") == 0)
        ct = "application/octet-stream";
    if (ct)
        h[n++] = xasprintf("Content-Type: %s", ct);
    char *url = xasprintf("%s/authenticated/%s/block/%s", porg_srv_url(ut_srv), org, tail);
    ck_assert(pclient_http(method, url, (const char *const *)h, body, len, out));
    for (int i = 0; i < n; i++)
        free(h[i]);
    free(auth);
    free(url);
}

static char *tail_create(const uint8_t id[16], const uint8_t realm[16])
{
    char *realm_hex = xstrdup(rl_hex(realm));
    char *t = xasprintf("%s?realm_id=%s", rl_hex(id), realm_hex);
    free(realm_hex);
    return t;
}

/* A binary block_create by dev of o: its reply's status (HTTP 200, JSON). */
static void bin_expect_create(const pclient_device_t *dev, const uint8_t realm[16],
                              const uint8_t id[16], const void *data, size_t len,
                              const char *status)
{
    char *tail = tail_create(id, realm);
    pclient_resp_t r;
    bin_send(dev, dev->organization_id, "POST", tail, data, len, NULL, &r);
    porg_assert_status(ut_srv, &r, 200, status);
    char *ct = pclient_resp_header(&r, "Content-Type");
    ck_assert_str_eq(ct, "application/json");
    free(ct);
    pclient_resp_free(&r);
    free(tail);
}

/* A refusal that must leave no trace: the answer's HTTP status, and its
 * "status" (200) or "error" (others); field: bad_message's "field". */
static void bin_expect_no_trace(const pclient_device_t *dev, const char *org, const char *method,
                                const char *tail, const void *body, size_t len,
                                const bin_opts_t *opts, long http, const char *status,
                                const char *field)
{
    char *before = porg_fingerprint(ut_srv);
    pclient_resp_t r;
    bin_send(dev, org, method, tail, body, len, opts, &r);
    if (r.status != http || !r.json)
        porg_explain(ut_srv, &r);
    ck_assert_int_eq(r.status, http);
    ck_assert_ptr_nonnull(r.json);
    const char *got = porg_str(r.json, http == 200 ? "status" : "error");
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, status);
    if (field) {
        ck_assert_ptr_nonnull(porg_str(r.json, "field"));
        ck_assert_str_eq(porg_str(r.json, "field"), field);
    }
    char *ct = pclient_resp_header(&r, "Content-Type");
    ck_assert_str_eq(ct, "application/json");
    free(ct);
    /* every answer of the routes carries Api-Version */
    char *api = pclient_resp_header(&r, "Api-Version");
    ck_assert_ptr_nonnull(api);
    ck_assert_str_eq(api, "3.2");
    free(api);
    pclient_resp_free(&r);
    char *after = porg_fingerprint(ut_srv);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
}

/* A binary block_read by dev must answer 200 application/octet-stream
 * with exactly data[0..len). */
static void bin_expect_block(const pclient_device_t *dev, const uint8_t id[16], const void *data,
                             size_t len)
{
    pclient_resp_t r;
    bin_send(dev, dev->organization_id, "GET", rl_hex(id), NULL, 0, NULL, &r);
    if (r.status != 200 || r.json)
        porg_explain(ut_srv, &r);
    ck_assert_int_eq(r.status, 200);
    char *ct = pclient_resp_header(&r, "Content-Type");
    ck_assert_str_eq(ct, "application/octet-stream");
    free(ct);
    char *api = pclient_resp_header(&r, "Api-Version");
    ck_assert_str_eq(api, "3.2");
    free(api);
    ck_assert_uint_eq(r.body_len, len);
    ck_assert_msg(memcmp(r.body, data, len) == 0, "block_read gave other bytes");
    pclient_resp_free(&r);
}

/* The JSON form reads what the binary form wrote. */
static void json_expect_block(const pclient_device_t *dev, const uint8_t id[16], const void *data,
                              size_t len)
{
    json_object *req = pclient_req("block_read");
    json_object_object_add(req, "block_id", json_object_new_string(rl_hex(id)));
    json_object *r = porg_call(ut_srv, dev, req);
    ck_assert_str_eq(porg_status(r), "ok");
    char *want = pclient_b64(data, len);
    ck_assert_str_eq(porg_str(r, "block"), want);
    free(want);
    json_object_put(r);
}

static long realm_blocks_size(const uint8_t realm[16])
{
    return ut_sql_long("SELECT blocks_size FROM realm WHERE realm_id = $1::uuid", rl_hex(realm),
                       NULL);
}

static long org_blocks(const char *org)
{
    return ut_sql_long("SELECT count(*) FROM block b JOIN organization o ON o._id = b.organization"
                       " WHERE o.organization_id = $1",
                       org, NULL);
}

/* ---- the commands' statuses ---- */

static const char *const pg_env[] = {"PARSEC_BLOCKSTORE=POSTGRESQL", NULL};

START_TEST(create_read)
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

    bin_expect_create(o->admin, realm, a, data, 512 * 1024, "ok");
    /* an empty block is a block */
    bin_expect_create(bob, realm, e, NULL, 0, "ok");
    bin_expect_block(bob, a, data, 512 * 1024);
    bin_expect_block(o->admin, e, "", 0);
    /* the two forms read each other's blocks */
    json_expect_block(bob, a, data, 512 * 1024);
    json_object *req = pclient_req("block_create");
    json_object_object_add(req, "block_id", json_object_new_string(rl_hex(b)));
    json_object_object_add(req, "realm_id", json_object_new_string(rl_hex(realm)));
    json_object_object_add(req, "block", pclient_json_bytes("hello", 5));
    porg_expect(ut_srv, bob, req, "ok");
    bin_expect_block(o->admin, b, "hello", 5);

    /* recorded and counted as the JSON form's: author, size, realm_stats */
    char *author = ut_sql("SELECT d.device_id FROM block b JOIN device d ON d._id = b.author"
                          " WHERE b.block_id = $1::uuid",
                          rl_hex(e), NULL);
    ck_assert_str_eq(author, "bob@d");
    free(author);
    ck_assert_int_eq(realm_blocks_size(realm), 512 * 1024 + 5);

    /* HEAD: the headers of the GET, its length, no body */
    pclient_resp_t r;
    bin_send(bob, o->organization_id, "HEAD", rl_hex(b), NULL, 0, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    char *cl = pclient_resp_header(&r, "Content-Length");
    ck_assert_str_eq(cl, "5");
    free(cl);
    ck_assert_uint_eq(r.body_len, 0);
    pclient_resp_free(&r);

    free(data);
    pclient_device_free(bob);
    porg_free(o);
}
END_TEST

START_TEST(refusals)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    porg_t *other = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob = porg_user(ut_srv, o, o->admin, "bob@d", "STANDARD", NULL, NULL);
    pclient_device_t *carl = porg_user(ut_srv, o, o->admin, "carl@d", "STANDARD", NULL, NULL);
    uint8_t realm[16], unknown[16], id[16], fresh[16];
    rl_realm(o->admin, realm);
    rl_share(o->admin, realm, "bob", "READER");
    rl_id(unknown);
    rl_id(id);
    rl_id(fresh);
    const char *org = o->organization_id;

    /* create: not_found, not_allowed (a READER, no role) */
    char *t = tail_create(id, unknown);
    bin_expect_no_trace(o->admin, org, "POST", t, "x", 1, NULL, 200, "not_found", NULL);
    free(t);
    t = tail_create(id, realm);
    bin_expect_no_trace(bob, org, "POST", t, "x", 1, NULL, 200, "not_allowed", NULL);
    bin_expect_no_trace(carl, org, "POST", t, "x", 1, NULL, 200, "not_allowed", NULL);

    /* already_exists, before the store is written: the original is kept */
    bin_expect_create(o->admin, realm, id, "original", 8, "ok");
    bin_expect_no_trace(o->admin, org, "POST", t, "other", 5, NULL, 200, "already_exists", NULL);
    bin_expect_block(bob, id, "original", 8);

    /* read: not_found (also another organization's block), not_allowed */
    bin_expect_no_trace(o->admin, org, "GET", rl_hex(unknown), NULL, 0, NULL, 200, "not_found",
                        NULL);
    bin_expect_no_trace(other->admin, other->organization_id, "GET", rl_hex(id), NULL, 0, NULL, 200,
                        "not_found", NULL);
    bin_expect_no_trace(carl, org, "GET", rl_hex(id), NULL, 0, NULL, 200, "not_allowed", NULL);

    /* in_maintenance: writes refused in any maintenance, reads go on
     * during a reencryption only */
    ck_assert_int_eq(realm_blocks_size(realm), 8);
    const char *users[] = {"admin", "bob"};
    porg_expect(ut_srv, o->admin, rl_req_start(realm, 2, rl_now(), users, 2), "ok");
    free(t);
    t = tail_create(fresh, realm);
    bin_expect_no_trace(o->admin, org, "POST", t, "x", 1, NULL, 200, "in_maintenance", NULL);
    bin_expect_block(bob, id, "original", 8);
    ck_assert_ptr_null(ut_sql("UPDATE realm SET maintenance_type = 'GARBAGE_COLLECTION'"
                              " WHERE realm_id = $1::uuid",
                              rl_hex(realm), NULL));
    bin_expect_no_trace(bob, org, "GET", rl_hex(id), NULL, 0, NULL, 200, "in_maintenance", NULL);
    /* no role comes before the maintenance */
    bin_expect_no_trace(carl, org, "GET", rl_hex(id), NULL, 0, NULL, 200, "not_allowed", NULL);

    free(t);
    pclient_device_free(bob);
    pclient_device_free(carl);
    porg_free(o);
    porg_free(other);
}
END_TEST

/* ---- the checks before the command, and hostile requests ---- */

START_TEST(hostile)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    uint8_t realm[16], id[16];
    rl_realm(o->admin, realm);
    rl_id(id);
    const char *org = o->organization_id;
    const pclient_device_t *a = o->admin;
    char *good = tail_create(id, realm);
    char *realm_hex = xstrdup(rl_hex(realm));

    /* the fields of the path and the query: bad_message naming them */
    bin_expect_no_trace(a, org, "POST", rl_hex(id), "x", 1, NULL, 200, "bad_message", "realm_id");
    char *t = xasprintf("%s?realm_id=", rl_hex(id));
    bin_expect_no_trace(a, org, "POST", t, "x", 1, NULL, 200, "bad_message", "realm_id");
    free(t);
    t = xasprintf("%s?realm_id=%.31s", rl_hex(id), realm_hex);
    bin_expect_no_trace(a, org, "POST", t, "x", 1, NULL, 200, "bad_message", "realm_id");
    free(t);
    char upper[33];
    for (int i = 0; i < 32; i++)
        upper[i] = (char)(realm_hex[i] >= 'a' ? realm_hex[i] - 32 : realm_hex[i]);
    upper[32] = '\0';
    t = xasprintf("%s?realm_id=%s", rl_hex(id), upper);
    bin_expect_no_trace(a, org, "POST", t, "x", 1, NULL, 200, "bad_message", "realm_id");
    free(t);
    t = xasprintf("not-a-block-id?realm_id=%s", realm_hex);
    bin_expect_no_trace(a, org, "POST", t, "x", 1, NULL, 200, "bad_message", "block_id");
    free(t);
    bin_expect_no_trace(a, org, "GET", "0123456789abcdef0123456789ABCDEF", NULL, 0, NULL, 200,
                        "bad_message", "block_id");
    /* a parameter the command does not know, one named twice, no pairs */
    t = xasprintf("%s&block=1", good);
    bin_expect_no_trace(a, org, "POST", t, "x", 1, NULL, 200, "bad_message", "block");
    free(t);
    t = xasprintf("%s&realm_id=%s", good, realm_hex);
    bin_expect_no_trace(a, org, "POST", t, "x", 1, NULL, 200, "bad_message", "query");
    free(t);
    t = xasprintf("%s?realm_id", rl_hex(id));
    bin_expect_no_trace(a, org, "POST", t, "x", 1, NULL, 200, "bad_message", "query");
    free(t);
    t = xasprintf("%s&&", good);
    bin_expect_no_trace(a, org, "POST", t, "x", 1, NULL, 200, "bad_message", "query");
    free(t);
    t = xasprintf("%s?block_id=%s", rl_hex(id), rl_hex(id));
    bin_expect_no_trace(a, org, "GET", t, NULL, 0, NULL, 200, "bad_message", "query");
    free(t);
    t = xasprintf("%s?realm_id=%s", rl_hex(id), realm_hex);
    bin_expect_no_trace(a, org, "GET", t, NULL, 0, NULL, 200, "bad_message", "realm_id");
    free(t);
    /* a GET with a body: lighttpd refuses it itself (the worker's own
     * refusal is reached through nginx, get_with_body) */
    {
        char *before = porg_fingerprint(ut_srv);
        pclient_resp_t r;
        bin_send(a, org, "GET", rl_hex(id), "x", 1, NULL, &r);
        ck_assert_int_eq(r.status, 400);
        pclient_resp_free(&r);
        char *after = porg_fingerprint(ut_srv);
        ck_assert_str_eq(before, after);
        free(before);
        free(after);
    }

    /* the content type: exactly application/octet-stream, in any case */
    static const char *const bad_types[] = {"application/json",
                                            "application/octet-stream; charset=utf-8",
                                            "text/plain",
                                            "application/octet-streams",
                                            "",
                                            NULL};
    for (int i = 0; bad_types[i]; i++) {
        bin_opts_t ct = {.content_type = bad_types[i]};
        bin_expect_no_trace(a, org, "POST", good, "x", 1, &ct, 415, "bad_content_type", NULL);
    }
    /* the API version comes before the organization and the content type */
    bin_opts_t v2 = {.api_version = "2.8", .content_type = "text/plain"};
    bin_expect_no_trace(a, org, "POST", good, "x", 1, &v2, 422, "unsupported_api_version", NULL);
    bin_expect_no_trace(a, org, "GET", rl_hex(id), NULL, 0, &v2, 422, "unsupported_api_version",
                        NULL);
    /* unknown or malformed organization */
    bin_expect_no_trace(a, "NoSuchOrg", "POST", good, "x", 1, NULL, 404, "not_found", NULL);
    bin_expect_no_trace(a, "bad%20org", "GET", rl_hex(id), NULL, 0, NULL, 404, "not_found", NULL);
    /* unauthenticated: no token, a token of another device */
    bin_opts_t none = {.authorization = ""};
    bin_expect_no_trace(a, org, "POST", good, "x", 1, &none, 401, "bad_authentication", NULL);
    bin_expect_no_trace(a, org, "GET", rl_hex(id), NULL, 0, &none, 401, "bad_authentication", NULL);
    porg_t *other = porg_bootstrap(ut_srv, NULL);
    bin_expect_no_trace(other->admin, org, "POST", good, "x", 1, NULL, 401, "bad_authentication",
                        NULL);

    /* other methods: 405 with Allow and Api-Version */
    static const char *const methods[] = {"PUT", "DELETE", "PATCH", NULL};
    for (int i = 0; methods[i]; i++) {
        pclient_resp_t r;
        bin_send(a, org, methods[i], good, "x", 1, NULL, &r);
        ck_assert_int_eq(r.status, 405);
        char *allow = pclient_resp_header(&r, "Allow");
        ck_assert_str_eq(allow, "POST, GET, HEAD");
        free(allow);
        char *api = pclient_resp_header(&r, "Api-Version");
        ck_assert_str_eq(api, "3.2");
        free(api);
        pclient_resp_free(&r);
    }
    /* around the route: more segments, an empty id */
    pclient_resp_t r;
    t = xasprintf("%s/x", rl_hex(id));
    bin_send(a, org, "GET", t, NULL, 0, NULL, &r);
    ck_assert_int_eq(r.status, 404);
    pclient_resp_free(&r);
    free(t);
    bin_send(a, org, "GET", "", NULL, 0, NULL, &r);
    ck_assert_int_eq(r.status, 404);
    pclient_resp_free(&r);

    ck_assert_int_eq(org_blocks(org), 0);
    /* and after all that, the id is still free */
    bin_expect_create(a, realm, id, "x", 1, "ok");
    free(good);
    free(realm_hex);
    porg_free(other);
    porg_free(o);
}
END_TEST

/* The request size limit (1 MiB by default) is the block's: a block of
 * exactly that many bytes is stored, one byte more is 413 and records
 * nothing. */
START_TEST(block_at_the_size_limit)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    uint8_t realm[16], id[16];
    rl_realm(o->admin, realm);
    rl_id(id);
    const size_t limit = 1048576;
    uint8_t *data = bst_random_bytes(limit + 1);
    char *t = tail_create(id, realm);

    char *before = porg_fingerprint(ut_srv);
    pclient_resp_t r;
    bin_send(o->admin, o->organization_id, "POST", t, data, limit + 1, NULL, &r);
    ck_assert_int_eq(r.status, 413);
    char *api = pclient_resp_header(&r, "Api-Version");
    ck_assert_str_eq(api, "3.2");
    free(api);
    pclient_resp_free(&r);
    char *after = porg_fingerprint(ut_srv);
    ck_assert_str_eq(before, after);

    bin_expect_create(o->admin, realm, id, data, limit, "ok");
    bin_expect_block(o->admin, id, data, limit);
    ck_assert_int_eq(realm_blocks_size(realm), (long)limit);

    free(before);
    free(after);
    free(t);
    free(data);
    porg_free(o);
}
END_TEST

/* A test's own server of kind with env in ut_srv (the caller keeps the
 * shared one and puts it back), an organization, a realm and a fresh id. */
static porg_t *own_server(websrv_kind kind, const char *const *env, uint8_t realm[16],
                          uint8_t id[16])
{
    ut_srv = porg_srv_start(kind, env);
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    rl_realm(o->admin, realm);
    rl_id(id);
    return o;
}

/* Without a blockstore: timeout through the binary routes too, nothing
 * recorded; a read of a block the store cannot serve is timeout, never a
 * body. */
START_TEST(store_timeout)
{
    /* its own server: the only one without a blockstore */
    uint8_t realm[16], id[16];
    porg_srv_t *saved = ut_srv;
    porg_t *o = own_server(WEBSRV_LIGHTTPD, NULL, realm, id);
    char *t = tail_create(id, realm);
    bin_expect_no_trace(o->admin, o->organization_id, "POST", t, "x", 1, NULL, 200, "timeout",
                        NULL);
    /* a block row whose bytes no store holds */
    ck_assert_ptr_null(ut_sql("INSERT INTO block (organization, block_id, realm, author, size,"
                              " created_on) SELECT r.organization, $1::uuid, r._id, d._id, 3, now()"
                              " FROM realm r, device d WHERE r.realm_id = $2::uuid"
                              " AND d.device_id = 'admin@dev1' AND d.organization = r.organization",
                              rl_hex(id), rl_hex(realm), NULL));
    bin_expect_no_trace(o->admin, o->organization_id, "GET", rl_hex(id), NULL, 0, NULL, 200,
                        "timeout", NULL);
    free(t);
    porg_free(o);
    ck_assert(porg_srv_stop(ut_srv));
    ut_srv = saved;
}
END_TEST

/* A GET with a body is bad_message on "body": nginx passes such a request
 * on, where lighttpd refuses it itself (hostile). */
START_TEST(get_with_body)
{
    uint8_t realm[16], id[16];
    porg_srv_t *saved = ut_srv;
    porg_t *o = own_server(WEBSRV_NGINX, pg_env, realm, id);
    bin_expect_create(o->admin, realm, id, "x", 1, "ok");
    bin_expect_no_trace(o->admin, o->organization_id, "GET", rl_hex(id), "x", 1, NULL, 200,
                        "bad_message", "body");
    bin_expect_block(o->admin, id, "x", 1);
    porg_free(o);
    ck_assert(porg_srv_stop(ut_srv));
    ut_srv = saved;
}
END_TEST

/* Large answers through nginx and Apache (lighttpd: create_read): the
 * worker writes a body of 64 KiB or more as its own FastCGI records of up
 * to 65,535 bytes (fcgi-api/front/front_stdout.c); every web server must
 * reassemble them byte for byte, at and around a record's size, in both
 * forms. */
static const websrv_kind large_kinds[] = {WEBSRV_NGINX, WEBSRV_APACHE};

START_TEST(large_reads_every_server)
{
    static const size_t sizes[] = {64 * 1024 - 1, 64 * 1024, 65535, 2 * 65535 + 1, 512 * 1024};
    uint8_t realm[16], id[16];
    porg_srv_t *saved = ut_srv;
    porg_t *o = own_server(large_kinds[_i], pg_env, realm, id);
    uint8_t *data = bst_random_bytes(512 * 1024);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        rl_id(id);
        bin_expect_create(o->admin, realm, id, data, sizes[k], "ok");
        bin_expect_block(o->admin, id, data, sizes[k]);
        json_expect_block(o->admin, id, data, sizes[k]);
    }
    free(data);
    porg_free(o);
    ck_assert(porg_srv_stop(ut_srv));
    ut_srv = saved;
}
END_TEST

TEST_SUITE(cmd_block_bin)
{
    Suite *s = suite_create("cmd_block_bin");
    TCase *tc = porg_tcase("pg", &ut_srv, WEBSRV_LIGHTTPD, pg_env);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, create_read);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, hostile);
    tcase_add_test(tc, block_at_the_size_limit);
    suite_add_tcase(s, tc);
    TCase *st = tcase_create("own_servers");
    tcase_set_timeout(st, 300);
    tcase_add_test(st, store_timeout);
    tcase_add_test(st, get_with_body);
    tcase_add_loop_test(st, large_reads_every_server, 0,
                        (int)(sizeof large_kinds / sizeof large_kinds[0]));
    suite_add_tcase(s, st);
    return s;
}
