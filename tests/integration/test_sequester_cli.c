/*
 * tests/integration/test_sequester_cli.c - the operator's `parsec backend
 * sequester ...` and `parsec backend human_accesses` (the built binary)
 * against the suite's PostgreSQL, with the web server for the commands
 * that write vlobs (parsec-2.12-behaviour.md 15.7, 15.8, 15.13, 15.14)
 *
 * Services: registration from keys or from a certificate generated apart,
 * every refusal and its exit status, enable/disable, listing (text and
 * JSON), what organization_config and vlob writes then see.  Export: the
 * SQLite file opened with SQLite, its tables as Parsec's reader expects,
 * idempotence, bringing up to date, a service without blob, refusals.
 */
#include "test_realm_lib.h"
#include "testenv.h"
#include "testreg.h"
#include "testsh.h"
#include "xalloc.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char *dir;
    char *bin;
    porg_t *o;
    pclient_blob_t authority;
    EVP_PKEY *authority_key;
    char *authority_pem; /* the authority's private key file */
    char *service_pem;   /* a service's public key file */
} fx_t;

static char *write_key(const char *dir, const char *name, EVP_PKEY *k, bool priv)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(
        priv ? PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) : PEM_write_PUBKEY(f, k), 1);
    fclose(f);
    return path;
}

static void fx_init(fx_t *f)
{
    char tmpl[] = "/tmp/parsec-seq-cli.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    f->dir = xstrdup(tmpl);
    f->bin = testenv_build_path("parsec");
    f->o = rl_bootstrap_sequestered_key(&f->authority, &f->authority_key);
    f->authority_pem = write_key(f->dir, "authority.pem", f->authority_key, true);
    EVP_PKEY *svc = EVP_RSA_gen(1024);
    f->service_pem = write_key(f->dir, "service.pub.pem", svc, false);
    EVP_PKEY_free(svc);
}

static void fx_fini(fx_t *f)
{
    testenv_rm_rf(f->dir);
    free(f->dir);
    free(f->bin);
    free(f->authority_pem);
    free(f->service_pem);
    EVP_PKEY_free(f->authority_key);
    pclient_blob_free(&f->authority);
    porg_free(f->o);
}

/* Run `parsec backend <args>` with the suite's database (but
 * generate_service_certificate, which takes none); its output. */
static char *run(const fx_t *f, int *st, const char *args)
{
    if (strstr(args, "generate_service_certificate"))
        return testsh_runf(st, "%s backend %s", f->bin, args);
    return testsh_runf(st, "%s backend %s --db '%s'", f->bin, args, porg_srv_db(ut_srv));
}

static void expect_run(const fx_t *f, const char *args, int status, const char *needle)
{
    int st;
    char *out = run(f, &st, args);
    ck_assert_msg(st == status, "`%s`: exit %d, want %d: %s", args, st, status, out);
    if (needle)
        ck_assert_msg(strstr(out, needle), "`%s`: no `%s` in: %s", args, needle, out);
    free(out);
}

/* create_service from keys: the new service's id (32 hex, static). */
static const char *create_service(const fx_t *f, const char *label)
{
    static char id[33];
    int st;
    char *args = xasprintf("sequester create_service --organization %s --service-label '%s'"
                           " --service-public-key %s --authority-private-key %s",
                           f->o->organization_id, label, f->service_pem, f->authority_pem);
    char *out = run(f, &st, args);
    ck_assert_msg(st == 0, "%s", out);
    const char *p = strstr(out, "Service created (id: ");
    ck_assert_ptr_nonnull(p);
    memcpy(id, p + strlen("Service created (id: "), 32);
    id[32] = 0;
    free(out);
    free(args);
    return id;
}

static json_object *config(const fx_t *f)
{
    json_object *r = porg_call(ut_srv, f->o->admin, pclient_req("organization_config"));
    ck_assert_str_eq(porg_status(r), "ok");
    return r;
}

static size_t n_services(const fx_t *f)
{
    json_object *r = config(f);
    size_t n =
        json_object_array_length(json_object_object_get(r, "sequester_services_certificates"));
    json_object_put(r);
    return n;
}

START_TEST(services)
{
    fx_t f;
    fx_init(&f);
    const char *org = f.o->organization_id;
    char *a;

    /* from keys */
    char id1[33];
    strcpy(id1, create_service(&f, "Service One"));
    ck_assert_uint_eq(n_services(&f), 1);
    char *label = ut_sql("SELECT service_label FROM sequester_service WHERE service_id = $1::uuid",
                         id1, NULL);
    ck_assert_str_eq(label, "Service One");
    free(label);

    /* generated apart, then registered; registered twice: refused */
    char *cert = xasprintf("%s/svc2.cert", f.dir);
    a = xasprintf("sequester generate_service_certificate --service-label Two"
                  " --service-public-key %s --authority-private-key %s --output %s",
                  f.service_pem, f.authority_pem, cert);
    expect_run(&f, a, 0, "written");
    free(a);
    a = xasprintf("sequester create_service --organization %s --service-certificate %s", org, cert);
    expect_run(&f, a, 0, "Service created");
    expect_run(&f, a, 1, "already exists");
    free(a);
    ck_assert_uint_eq(n_services(&f), 2);

    /* a certificate of another authority, a truncated one */
    fx_t g;
    fx_init(&g);
    char *foreign = xasprintf("%s/foreign.cert", f.dir);
    a = xasprintf("sequester generate_service_certificate --service-label F"
                  " --service-public-key %s --authority-private-key %s --output %s",
                  g.service_pem, g.authority_pem, foreign);
    expect_run(&g, a, 0, NULL);
    free(a);
    a = xasprintf("sequester create_service --organization %s --service-certificate %s", org,
                  foreign);
    expect_run(&f, a, 1, "Invalid certification data");
    free(a);
    ck_assert_int_eq(truncate(foreign, 100), 0);
    a = xasprintf("sequester create_service --organization %s --service-certificate %s", org,
                  foreign);
    expect_run(&f, a, 1, "Invalid certification data");
    free(a);
    /* a key that is not RSA */
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    char *ec_pem = write_key(f.dir, "ec.pem", ec, false);
    EVP_PKEY_free(ec);
    a = xasprintf("sequester create_service --organization %s --service-label X"
                  " --service-public-key %s --authority-private-key %s",
                  org, ec_pem, f.authority_pem);
    expect_run(&f, a, 1, "not an RSA key");
    free(a);
    free(ec_pem);
    ck_assert_uint_eq(n_services(&f), 2);

    /* listing, text and JSON */
    a = xasprintf("sequester list_services --organization %s", org);
    expect_run(&f, a, 0, "Found 2 sequester service(s)");
    free(a);
    a = xasprintf("sequester list_services --organization %s --json", org);
    int st;
    char *out = run(&f, &st, a);
    ck_assert_int_eq(st, 0);
    json_object *j = json_tokener_parse(out);
    ck_assert_ptr_nonnull(j);
    json_object *l = json_object_object_get(j, "services");
    ck_assert_int_eq(json_object_array_length(l), 2);
    ck_assert_str_eq(porg_str(json_object_array_get_idx(l, 0), "service_id"), id1);
    ck_assert_str_eq(porg_str(json_object_array_get_idx(l, 1), "service_label"), "Two");
    ck_assert_ptr_null(json_object_object_get(json_object_array_get_idx(l, 0), "disabled_on"));
    json_object_put(j);
    free(out);
    free(a);

    /* disable, twice, enable, twice */
    a = xasprintf("sequester update_service --organization %s --service %s --disable", org, id1);
    expect_run(&f, a, 0, "Service updated");
    expect_run(&f, a, 1, "already disabled");
    free(a);
    ck_assert_uint_eq(n_services(&f), 1);
    a = xasprintf("sequester list_services --organization %s", org);
    expect_run(&f, a, 0, "Disabled on: ");
    free(a);
    a = xasprintf("sequester update_service --organization %s --service %s --enable", org, id1);
    expect_run(&f, a, 0, "Service updated");
    expect_run(&f, a, 1, "already enabled");
    free(a);
    ck_assert_uint_eq(n_services(&f), 2);

    /* usage: exit 2 */
    a = xasprintf("sequester update_service --organization %s --service %s --enable --disable", org,
                  id1);
    expect_run(&f, a, 2, "exactly one");
    free(a);
    a = xasprintf("sequester update_service --organization %s --service nothex --enable", org);
    expect_run(&f, a, 2, "--service");
    free(a);
    expect_run(&f, "sequester list_services", 2, "--organization");
    expect_run(&f, "sequester no_such_command", 2, "usage");
    int st2;
    out = testsh_runf(&st2, "%s backend sequester list_services --organization %s --db MOCKED",
                      f.bin, org);
    ck_assert_int_eq(st2, 2);
    ck_assert_ptr_nonnull(strstr(out, "MOCKED DB can not be used with sequester services"));
    free(out);
    /* refusals at run time: exit 1 */
    a = xasprintf("sequester update_service --organization %s --service %s --enable", org,
                  "00112233445566778899aabbccddeeff");
    expect_run(&f, a, 1, "not found");
    free(a);
    expect_run(&f, "sequester list_services --organization NoSuchOrg", 1, "not found");
    porg_t *plain = porg_bootstrap(ut_srv, NULL);
    a = xasprintf("sequester list_services --organization %s", plain->organization_id);
    expect_run(&f, a, 1, "not sequestered");
    free(a);
    /* another organization's service is not this one's */
    a = xasprintf("sequester update_service --organization %s --service %s --disable",
                  g.o->organization_id, id1);
    expect_run(&f, a, 1, "not found");
    free(a);
    /* --help: exit 0 */
    expect_run(&f, "sequester create_service --help", 0, "--service-certificate");

    porg_free(plain);
    free(foreign);
    free(cert);
    fx_fini(&g);
    fx_fini(&f);
}
END_TEST

/* ---- export ---- */

static sqlite3 *open_export(const char *path)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    return db;
}

static long long sq_long(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(db));
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The text of the first column of sql (a blob as its bytes), malloc'd. */
static char *sq_text(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    ck_assert(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    char *v =
        xstrndup((const char *)sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    sqlite3_finalize(st);
    return v;
}

static json_object *blobs_for(const char *s1, const char *v1, const char *s2, const char *v2)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, s1, pclient_json_bytes(v1, strlen(v1)));
    if (s2)
        json_object_object_add(o, s2, pclient_json_bytes(v2, strlen(v2)));
    return o;
}

START_TEST(export_realm)
{
    fx_t f;
    fx_init(&f);
    const char *org = f.o->organization_id;
    char s1[33], s2[33];
    strcpy(s1, create_service(&f, "S1"));
    strcpy(s2, create_service(&f, "S2"));
    uint8_t realm[16], other_realm[16], v1[16], v2[16], blk[16];
    rl_realm(f.o->admin, realm);
    rl_realm(f.o->admin, other_realm);
    rl_id(v1);
    rl_id(v2);
    rl_id(blk);
    int64_t ts1 = rl_now();
    porg_expect(ut_srv, f.o->admin,
                set_json(rl_req_vlob_create(realm, 1, v1, ts1, "v1"), "sequester_blob",
                         blobs_for(s1, "s1:v1", s2, "s2:v1")),
                "ok");
    porg_expect(ut_srv, f.o->admin,
                set_json(rl_req_vlob_update(1, v1, rl_now(), 2, "v1b"), "sequester_blob",
                         blobs_for(s1, "s1:v1b", s2, "s2:v1b")),
                "ok");
    /* one block, in the POSTGRESQL blockstore */
    char *realm_hex = xstrdup(rl_hex(realm));
    free(ut_sql("INSERT INTO block (organization, block_id, realm, author, size, created_on)"
                " SELECT o._id, $2::uuid, r._id, d._id, 5, now() FROM organization o"
                " JOIN realm r ON r.organization = o._id AND r.realm_id = $3::uuid"
                " JOIN device d ON d.organization = o._id AND d.device_id = 'admin@dev1'"
                " WHERE o.organization_id = $1",
                org, rl_hex(blk), realm_hex, NULL));
    free(ut_sql("INSERT INTO block_data (organization_id, block_id, data)"
                " VALUES ($1, $2::uuid, 'bdata'::bytea)",
                org, rl_hex(blk), NULL));

    char *args = xasprintf("sequester export_realm --organization %s --realm %s --service %s"
                           " --output %s --blockstore POSTGRESQL",
                           org, realm_hex, s1, f.dir);
    expect_run(&f, args, 0, "Export written");
    char *a;
    char *path = xasprintf("%s/parsec-sequester-export-realm-%s.sqlite", f.dir, realm_hex);
    char *partial = xasprintf("%s.partial", path);
    ck_assert_int_eq(access(partial, F_OK), -1);
    sqlite3 *db = open_export(path);
    ck_assert_int_eq(sq_long(db, "SELECT magic FROM info"), 87947);
    ck_assert_int_eq(sq_long(db, "SELECT version FROM info"), 1);
    ck_assert_int_eq(sq_long(db, "SELECT length(realm_id) FROM info"), 16);
    char *hex = sq_text(db, "SELECT lower(hex(realm_id)) FROM info");
    ck_assert_str_eq(hex, realm_hex);
    free(hex);
    ck_assert_int_eq(sq_long(db, "SELECT length(root_verify_key) FROM info"), 32);
    ck_assert_int_eq(sq_long(db, "SELECT count(*) FROM vlob_atom"), 2);
    char *b = sq_text(db, "SELECT blob FROM vlob_atom WHERE _id = 2");
    ck_assert_str_eq(b, "s1:v1b");
    free(b);
    ck_assert_int_eq(sq_long(db, "SELECT version FROM vlob_atom WHERE _id = 2"), 2);
    ck_assert_int_eq(sq_long(db, "SELECT timestamp FROM vlob_atom WHERE _id = 1"), ts1 / 1000);
    ck_assert_int_eq(sq_long(db, "SELECT count(*) FROM vlob_atom v JOIN device d"
                                 " ON d._id = v.author"),
                     2);
    ck_assert_int_eq(sq_long(db, "SELECT count(*) FROM user_"), 1);
    ck_assert_int_eq(sq_long(db, "SELECT count(*) FROM device"), 1);
    ck_assert_int_eq(sq_long(db, "SELECT count(*) FROM realm_role"), 1);
    b = sq_text(db, "SELECT data FROM block");
    ck_assert_str_eq(b, "bdata");
    free(b);
    ck_assert_int_eq(sq_long(db, "SELECT length(block_id) FROM block"), 16);
    sqlite3_close(db);

    /* again: nothing changes; after a new version: one more row */
    expect_run(&f, args, 0, "2 vlob version(s), 1 block(s)");
    porg_expect(ut_srv, f.o->admin,
                set_json(rl_req_vlob_create(realm, 1, v2, rl_now(), "v2"), "sequester_blob",
                         blobs_for(s1, "s1:v2", s2, "s2:v2")),
                "ok");
    expect_run(&f, args, 0, "3 vlob version(s), 1 block(s)");

    /* an interrupted run leaves only the partial file, which the next run
     * resumes: here the complete export moved back to it */
    ck_assert_int_eq(rename(path, partial), 0);
    expect_run(&f, args, 0, "3 vlob version(s), 1 block(s)");
    ck_assert_int_eq(access(partial, F_OK), -1);
    ck_assert_int_eq(access(path, F_OK), 0);
    /* a disabled service may be exported */
    a = xasprintf("sequester update_service --organization %s --service %s --disable", org, s2);
    expect_run(&f, a, 0, NULL);
    free(a);
    char *out2 = xasprintf("%s/s2.sqlite", f.dir);
    a = xasprintf("sequester export_realm --organization %s --realm %s --service %s"
                  " --output %s --blockstore POSTGRESQL",
                  org, realm_hex, s2, out2);
    expect_run(&f, a, 0, "3 vlob version(s)");
    free(a);
    db = open_export(out2);
    b = sq_text(db, "SELECT blob FROM vlob_atom WHERE _id = 3");
    ck_assert_str_eq(b, "s2:v2");
    free(b);
    sqlite3_close(db);
    free(out2);

    /* a service without any blob in the realm (Parsec crashed) */
    char s3[33];
    strcpy(s3, create_service(&f, "S3"));
    char *out3 = xasprintf("%s/s3.sqlite", f.dir);
    a = xasprintf("sequester export_realm --organization %s --realm %s --service %s"
                  " --output %s --blockstore POSTGRESQL",
                  org, realm_hex, s3, out3);
    expect_run(&f, a, 0, "0 vlob version(s), 1 block(s)");
    free(a);
    /* that file is another realm's export: refused */
    char *other_hex = xstrdup(rl_hex(other_realm));
    a = xasprintf("sequester export_realm --organization %s --realm %s --service %s"
                  " --output %s --blockstore POSTGRESQL",
                  org, other_hex, s3, out3);
    expect_run(&f, a, 1, "another realm");
    free(a);
    /* not a database */
    char *junk = xasprintf("%s/junk.sqlite", f.dir);
    FILE *jf = fopen(junk, "w");
    fputs("this is not sqlite, not at all, really not", jf);
    fclose(jf);
    a = xasprintf("sequester export_realm --organization %s --realm %s --service %s"
                  " --output %s --blockstore POSTGRESQL",
                  org, realm_hex, s1, junk);
    expect_run(&f, a, 1, NULL);
    free(a);
    /* unknown realm, unknown service, another organization's realm */
    a = xasprintf("sequester export_realm --organization %s --realm %s --service %s"
                  " --output %s --blockstore POSTGRESQL",
                  org, "00112233445566778899aabbccddeeff", s1, f.dir);
    expect_run(&f, a, 1, "realm");
    free(a);
    a = xasprintf("sequester export_realm --organization %s --realm %s --service %s"
                  " --output %s --blockstore POSTGRESQL",
                  org, realm_hex, "00112233445566778899aabbccddeeff", f.dir);
    expect_run(&f, a, 1, "service");
    free(a);
    a = xasprintf("sequester export_realm --organization %s --realm %s --service %s"
                  " --output %s",
                  org, realm_hex, s1, f.dir);
    expect_run(&f, a, 2, "blockstore");
    free(a);
    /* isolation: another organization's realm, this one's service */
    pclient_blob_t auth2;
    porg_t *o2 = rl_bootstrap_sequestered(&auth2);
    uint8_t realm2[16];
    rl_realm(o2->admin, realm2);
    a = xasprintf("sequester export_realm --organization %s --realm %s --service %s"
                  " --output %s --blockstore POSTGRESQL",
                  org, rl_hex(realm2), s1, f.dir);
    expect_run(&f, a, 1, "not found in organization");
    free(a);
    a = xasprintf("sequester export_realm --organization %s --realm %s --service %s"
                  " --output %s --blockstore POSTGRESQL",
                  o2->organization_id, rl_hex(realm2), s1, f.dir);
    expect_run(&f, a, 1, "not found in organization");
    free(a);
    pclient_blob_free(&auth2);
    porg_free(o2);

    /* human_accesses */
    a = xasprintf("human_accesses --organization %s", org);
    expect_run(&f, a, 0, "Found 1 result(s)");
    free(a);
    a = xasprintf("human_accesses --organization %s --filter nobody", org);
    expect_run(&f, a, 0, "Found 0 result(s)");
    free(a);
    a = xasprintf("human_accesses --organization %s --json --filter ADMIN", org);
    int st;
    char *out = run(&f, &st, a);
    ck_assert_int_eq(st, 0);
    json_object *j = json_tokener_parse(out);
    ck_assert_ptr_nonnull(j);
    json_object *u = json_object_array_get_idx(json_object_object_get(j, "users"), 0);
    ck_assert_str_eq(porg_str(u, "user_id"), "admin");
    ck_assert_int_eq(json_object_array_length(json_object_object_get(u, "realms")), 2);
    json_object_put(j);
    free(out);
    free(a);

    free(junk);
    free(other_hex);
    free(out3);
    free(path);
    free(partial);
    free(args);
    free(realm_hex);
    fx_fini(&f);
}
END_TEST

TEST_SUITE(sequester_cli)
{
    Suite *s = suite_create("sequester_cli");
    TCase *tc = ut_tcase("sequester_cli");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, services);
    tcase_add_test(tc, export_realm);
    suite_add_tcase(s, tc);
    return s;
}
