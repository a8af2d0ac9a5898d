/*
 * tests/integration/test_cmd_organization.c - organization_bootstrap (every
 * status, the order of its checks, spontaneous bootstrap, the webhook),
 * ping on the three routes and its event, organization_config,
 * organization_stats: docs/protocol.md section 6, through lighttpd and a
 * real PostgreSQL, with the database read back after each refusal to check
 * that it left no trace.  One server for the tests of a worker setting
 * (tests/lib/porg.h: plain, spontaneous bootstrap), each test in
 * organizations of its own; a test whose setting no other test shares (its
 * webhook URL) starts a server of its own.
 *
 * The webhook receiver is a real HTTP listener: a thread of the test
 * process on a loopback socket, which the worker (another process, spawned
 * by lighttpd) connects to.
 */
#include "pclient.h"
#include "porg.h"
#include "testenv.h"
#include "testreg.h"
#include "xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* The server of most tests, and the one with spontaneous bootstrap. */
static porg_srv_t *plain_srv, *spontaneous_srv;
static const char *const spontaneous_env[] = {"PARSEC_SPONTANEOUS_ORGANIZATION_BOOTSTRAP=true",
                                              NULL};

static long org_count(const porg_srv_t *srv, const char *org)
{
    return porg_sql_long(srv, "SELECT count(*) FROM organization WHERE organization_id = $1", org,
                         NULL);
}

static long user_count(const porg_srv_t *srv, const char *org)
{
    return porg_sql_long(
        srv,
        "SELECT count(*) FROM user_ u JOIN organization o ON o._id = u.organization"
        " WHERE o.organization_id = $1",
        org, NULL);
}

static bool bootstrapped(const porg_srv_t *srv, const char *org)
{
    return porg_sql_long(srv,
                         "SELECT count(*) FROM organization WHERE organization_id = $1 AND"
                         " root_verify_key IS NOT NULL AND bootstrapped_on IS NOT NULL",
                         org, NULL) == 1;
}

/* ---------------------------------------------------------------------------
 * A bootstrap request, every part of which a test may spoil
 */

enum { K_USER, K_DEVICE, K_RUSER, K_RDEVICE };

typedef struct {
    pclient_key_t root, dev;
    pclient_user_certif_t u, ru;
    pclient_device_certif_t d, rd;
    bool ru_redact, rd_redact;      /* write the redacted forms (default true) */
    const pclient_key_t *signer[4]; /* NULL: root */
    const char *raw_b64[4];         /* a certificate field's value as given */
} kit_t;

static void kit_init(kit_t *k)
{
    memset(k, 0, sizeof *k);
    pclient_key_generate(&k->root);
    pclient_key_generate(&k->dev);
    int64_t now = pclient_now_us();
    k->u = (pclient_user_certif_t){.author = NULL,
                                   .timestamp = now,
                                   .user_id = "alice",
                                   .human_email = "alice@example.com",
                                   .human_label = "Alice",
                                   .profile = "ADMIN",
                                   .is_admin = -1};
    uint8_t upub[32];
    pclient_key_t tmp;
    pclient_key_generate(&tmp);
    memcpy(upub, tmp.pub, 32);
    memcpy(k->u.public_key, upub, 32);
    k->d = (pclient_device_certif_t){.author = NULL,
                                     .timestamp = now,
                                     .device_id = "alice@dev1",
                                     .device_label = "Alice's laptop"};
    memcpy(k->d.verify_key, k->dev.pub, 32);
    k->ru = k->u;
    k->rd = k->d;
    k->ru_redact = k->rd_redact = true;
}

static json_object *blob_json(pclient_blob_t b)
{
    json_object *o = pclient_json_blob(&b);
    pclient_blob_free(&b);
    return o;
}

static json_object *kit_req(kit_t *k, const char *token)
{
    const pclient_key_t *s[4];
    for (int i = 0; i < 4; i++)
        s[i] = k->signer[i] ? k->signer[i] : &k->root;
    json_object *o = pclient_req("organization_bootstrap");
    json_object_object_add(o, "bootstrap_token", json_object_new_string(token));
    json_object_object_add(o, "root_verify_key", pclient_json_bytes(k->root.pub, 32));
    json_object *c[4] = {
        blob_json(pclient_user_certif(s[K_USER], &k->u, false)),
        blob_json(pclient_device_certif(s[K_DEVICE], &k->d, false)),
        blob_json(pclient_user_certif(s[K_RUSER], &k->ru, k->ru_redact)),
        blob_json(pclient_device_certif(s[K_RDEVICE], &k->rd, k->rd_redact)),
    };
    static const char *const names[4] = {"user_certificate", "device_certificate",
                                         "redacted_user_certificate",
                                         "redacted_device_certificate"};
    for (int i = 0; i < 4; i++) {
        if (k->raw_b64[i]) {
            json_object_put(c[i]);
            c[i] = json_object_new_string(k->raw_b64[i]);
        }
        json_object_object_add(o, names[i], c[i]);
    }
    return o;
}

/* The user's device as a pclient device (for authenticated requests). */
static pclient_device_t *kit_device(const kit_t *k, const char *org)
{
    pclient_device_t *d = pclient_user_new(org, "alice@dev1", "ADMIN", "alice@example.com", "Alice",
                                           "Alice's laptop", NULL, &k->root, k->u.timestamp);
    d->key = k->dev;
    return d;
}

static void bootstrap_expect(const porg_srv_t *srv, const char *org, json_object *req,
                             const char *status)
{
    pclient_resp_t r;
    porg_send(srv, "anonymous", org, NULL, req, &r);
    porg_assert_status(srv, &r, 200, status);
    if (strcmp(status, "ok") != 0 && strcmp(status, "bad_message") != 0 &&
        strcmp(status, "expired_organization") != 0 && strcmp(status, "bad_timestamp") != 0)
        ck_assert(json_object_object_get_ex(r.json, "reason", NULL));
    pclient_resp_free(&r);
}

/* ---------------------------------------------------------------------------
 * organization_bootstrap: success and what it stored
 */

START_TEST(bootstrap_ok)
{
    const porg_srv_t *srv = plain_srv;
    char *org = porg_org_id("BootOrg");
    char *token = porg_create_org(srv, org, NULL);
    kit_t k;
    kit_init(&k);
    json_object *req = kit_req(&k, token);
    /* keep the certificates as sent, to compare byte for byte */
    char *sent[4];
    static const char *const names[4] = {"user_certificate", "device_certificate",
                                         "redacted_user_certificate",
                                         "redacted_device_certificate"};
    for (int i = 0; i < 4; i++) {
        json_object *v;
        ck_assert(json_object_object_get_ex(req, names[i], &v));
        sent[i] = strdup(json_object_get_string(v));
    }
    bootstrap_expect(srv, org, req, "ok");
    ck_assert(bootstrapped(srv, org));

    /* stored as received: certificates, redacted ones, keys, handle, profile */
    char *got = porg_sql(srv,
                         "SELECT encode(u.user_certificate, 'base64') || '|' ||"
                         " encode(d.device_certificate, 'base64') || '|' ||"
                         " encode(u.redacted_user_certificate, 'base64') || '|' ||"
                         " encode(d.redacted_device_certificate, 'base64')"
                         " FROM user_ u JOIN device d ON d.user_ = u._id"
                         " JOIN organization o ON o._id = u.organization"
                         " WHERE o.organization_id = $1",
                         org, NULL);
    ck_assert_ptr_nonnull(got);
    /* PostgreSQL's base64 wraps lines: unwrap before comparing */
    char *w = got;
    for (char *p = got; *p; p++)
        if (*p != '\n')
            *w++ = *p;
    *w = '\0';
    char *expect = NULL;
    ck_assert_int_ge(asprintf(&expect, "%s|%s|%s|%s", sent[0], sent[1], sent[2], sent[3]), 0);
    ck_assert_str_eq(got, expect);
    free(expect);
    free(got);
    char *row = porg_sql(srv,
                         "SELECT u.user_id || ' ' || u.profile || ' ' || u.human_email || ' ' ||"
                         " u.human_label || ' ' || d.device_id || ' ' || d.device_label || ' ' ||"
                         " (u.user_certifier IS NULL) || ' ' || (d.device_certifier IS NULL) ||"
                         " ' ' || encode(d.verify_key, 'hex') || ' ' ||"
                         " encode(o.root_verify_key, 'hex') || ' ' || (u.revoked_on IS NULL)"
                         " FROM user_ u JOIN device d ON d.user_ = u._id"
                         " JOIN organization o ON o._id = u.organization"
                         " WHERE o.organization_id = $1",
                         org, NULL);
    char hexdev[65], hexroot[65];
    for (int i = 0; i < 32; i++) {
        sprintf(hexdev + 2 * i, "%02x", k.dev.pub[i]);
        sprintf(hexroot + 2 * i, "%02x", k.root.pub[i]);
    }
    char *want = NULL;
    ck_assert_int_ge(asprintf(&want,
                              "alice ADMIN alice@example.com Alice alice@dev1 Alice's laptop"
                              " true true %s %s true",
                              hexdev, hexroot),
                     0);
    ck_assert_str_eq(row, want);
    free(want);
    free(row);
    /* created_on is the certificates' timestamp */
    char *ts = pclient_datetime(k.u.timestamp);
    ck_assert_int_eq(porg_sql_long(srv,
                                   "SELECT count(*) FROM user_ u JOIN device d ON d.user_ = u._id"
                                   " JOIN organization o ON o._id = u.organization"
                                   " WHERE o.organization_id = $1"
                                   " AND u.created_on = $2::timestamptz"
                                   " AND d.created_on = u.created_on",
                                   org, ts, NULL),
                     1);
    free(ts);

    /* the new device can act at once */
    pclient_device_t *alice = kit_device(&k, org);
    pclient_resp_t r;
    porg_send(srv, "authenticated", org, alice, pclient_req("organization_config"), &r);
    porg_assert_status(srv, &r, 200, "ok");
    pclient_resp_free(&r);
    pclient_device_free(alice);

    /* a second time: already_bootstrapped, checked before the token */
    kit_t k2;
    kit_init(&k2);
    bootstrap_expect(srv, org, kit_req(&k2, token), "already_bootstrapped");
    bootstrap_expect(srv, org, kit_req(&k2, "wrong"), "already_bootstrapped");
    ck_assert_int_eq(user_count(srv, org), 1);

    for (int i = 0; i < 4; i++)
        free(sent[i]);
    free(token);
    free(org);
}
END_TEST

/* ---------------------------------------------------------------------------
 * organization_bootstrap: every refusal, in the order of the contract
 */

START_TEST(bootstrap_refusals)
{
    const porg_srv_t *srv = plain_srv;
    char *org = porg_org_id("BootOrg");
    char *token = porg_create_org(srv, org, NULL);
    char *before = porg_fingerprint(srv);
    kit_t k;
    pclient_key_t other;
    pclient_key_generate(&other);

    /* bad_message: fields */
    static const char *const fields[] = {
        "bootstrap_token",    "root_verify_key",           "user_certificate",
        "device_certificate", "redacted_user_certificate", "redacted_device_certificate"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        kit_init(&k);
        json_object *req = kit_req(&k, token);
        json_object_object_del(req, fields[i]);
        pclient_resp_t r;
        porg_send(srv, "anonymous", org, NULL, req, &r);
        porg_assert_status(srv, &r, 200, "bad_message");
        ck_assert_str_eq(porg_str(r.json, "field"), fields[i]);
        pclient_resp_free(&r);
        /* null, a number, bad base64 */
        kit_init(&k);
        req = kit_req(&k, token);
        json_object_object_add(req, fields[i], NULL);
        porg_send(srv, "anonymous", org, NULL, req, &r);
        porg_assert_status(srv, &r, 200, "bad_message");
        ck_assert_str_eq(porg_str(r.json, "field"), fields[i]);
        pclient_resp_free(&r);
        req = kit_req(&k, token);
        json_object_object_add(req, fields[i], json_object_new_int(3));
        bootstrap_expect(srv, org, req, "bad_message");
        if (i > 0) {
            req = kit_req(&k, token);
            json_object_object_add(req, fields[i], json_object_new_string("not base64!"));
            bootstrap_expect(srv, org, req, "bad_message");
        }
    }
    kit_init(&k);
    json_object *req = kit_req(&k, token);
    json_object_object_add(req, "root_verify_key", pclient_json_bytes(k.root.pub, 31));
    bootstrap_expect(srv, org, req, "bad_message");
    char long_token[66];
    memset(long_token, 'a', 65);
    long_token[65] = '\0';
    bootstrap_expect(srv, org, kit_req(&k, long_token), "bad_message");
    req = kit_req(&k, token);
    json_object_object_add(req, "extra", json_object_new_string("x"));
    bootstrap_expect(srv, org, req, "bad_message");
    /* an oversized certificate */
    char *huge = malloc(9001);
    memset(huge, 'A', 8996);
    strcpy(huge + 8996, "AAAA");
    k.raw_b64[K_USER] = huge;
    bootstrap_expect(srv, org, kit_req(&k, token), "bad_message");
    free(huge);
    /* sequester null is "none" */
    kit_init(&k);
    req = kit_req(&k, token);
    json_object_object_add(req, "sequester_authority_certificate", NULL);
    json_object_object_add(req, "root_verify_key", pclient_json_bytes(other.pub, 32));
    bootstrap_expect(srv, org, req, "invalid_certification"); /* got past the fields */

    /* 1. invalid_certification: each certificate signed by another key */
    for (int i = 0; i < 4; i++) {
        kit_init(&k);
        k.signer[i] = &other;
        bootstrap_expect(srv, org, kit_req(&k, token), "invalid_certification");
    }
    /* ... with an author (root-signed ones must say null) */
    kit_init(&k);
    k.u.author = "alice@dev1";
    bootstrap_expect(srv, org, kit_req(&k, token), "invalid_certification");
    kit_init(&k);
    k.rd.author = "alice@dev1";
    bootstrap_expect(srv, org, kit_req(&k, token), "invalid_certification");
    /* ... of the wrong type, truncated, not JSON */
    kit_init(&k);
    {
        pclient_blob_t b = pclient_user_certif(&k.root, &k.u, false);
        char *b64 = pclient_b64(b.data, b.len);
        k.raw_b64[K_DEVICE] = b64; /* a user certificate as device certificate */
        bootstrap_expect(srv, org, kit_req(&k, token), "invalid_certification");
        char *cut = pclient_b64(b.data, 40);
        k.raw_b64[K_DEVICE] = cut;
        bootstrap_expect(srv, org, kit_req(&k, token), "invalid_certification");
        free(cut);
        pclient_blob_t bad = pclient_signed(&k.root, "{\"type\":", 8);
        char *bad64 = pclient_b64(bad.data, bad.len);
        k.raw_b64[K_DEVICE] = bad64;
        bootstrap_expect(srv, org, kit_req(&k, token), "invalid_certification");
        pclient_blob_free(&bad);
        bad = pclient_signed(&k.root, "{\"type\":\"device_certificate\",\"x\":\"\xff\"}", 38);
        free(bad64);
        bad64 = pclient_b64(bad.data, bad.len);
        k.raw_b64[K_DEVICE] = bad64;
        bootstrap_expect(srv, org, kit_req(&k, token), "invalid_certification");
        pclient_blob_free(&bad);
        free(bad64);
        free(b64);
        pclient_blob_free(&b);
    }
    /* ... and invalid_certification comes before everything else */
    kit_init(&k);
    k.signer[K_RDEVICE] = &other;
    k.u.profile = "STANDARD";
    k.u.timestamp -= 3600 * 1000000LL;
    bootstrap_expect(srv, org, kit_req(&k, "wrong token"), "invalid_certification");

    /* 2. invalid_data: not ADMIN (before the timestamps) */
    kit_init(&k);
    k.u.profile = k.ru.profile = "STANDARD";
    k.d.timestamp += 1;
    bootstrap_expect(srv, org, kit_req(&k, token), "invalid_data");
    /* 3. different timestamps */
    kit_init(&k);
    k.d.timestamp += 1;
    k.rd.timestamp += 1;
    bootstrap_expect(srv, org, kit_req(&k, token), "invalid_data");
    /* 4. the device of another user */
    kit_init(&k);
    k.d.device_id = k.rd.device_id = "bob@dev1";
    bootstrap_expect(srv, org, kit_req(&k, token), "invalid_data");
    /* 5. bad_timestamp, before the redacted checks */
    kit_init(&k);
    int64_t old = k.u.timestamp - 3600 * 1000000LL;
    k.u.timestamp = k.d.timestamp = k.ru.timestamp = k.rd.timestamp = old;
    k.ru_redact = false;
    {
        pclient_resp_t r;
        porg_send(srv, "anonymous", org, NULL, kit_req(&k, token), &r);
        porg_assert_status(srv, &r, 200, "bad_timestamp");
        ck_assert_ptr_nonnull(porg_str(r.json, "backend_timestamp"));
        char *cts = pclient_datetime(old);
        ck_assert_str_eq(porg_str(r.json, "client_timestamp"), cts);
        free(cts);
        json_object *v;
        ck_assert(json_object_object_get_ex(r.json, "ballpark_client_early_offset", &v));
        ck_assert(json_object_get_double(v) == 50.0);
        pclient_resp_free(&r);
    }
    kit_init(&k);
    int64_t ahead = k.u.timestamp + 55 * 1000000LL;
    k.u.timestamp = k.d.timestamp = k.ru.timestamp = k.rd.timestamp = ahead;
    bootstrap_expect(srv, org, kit_req(&k, token), "bad_timestamp");
    /* 6. redacted certificates that are not */
    kit_init(&k);
    k.ru_redact = false;
    bootstrap_expect(srv, org, kit_req(&k, token), "invalid_data");
    kit_init(&k);
    k.rd_redact = false;
    bootstrap_expect(srv, org, kit_req(&k, token), "invalid_data");
    kit_init(&k);
    k.ru.user_id = "mallory";
    bootstrap_expect(srv, org, kit_req(&k, token), "invalid_data");
    kit_init(&k);
    memset(k.rd.verify_key, 7, 32);
    bootstrap_expect(srv, org, kit_req(&k, token), "invalid_data");
    kit_init(&k);
    k.ru.timestamp += 1;
    bootstrap_expect(srv, org, kit_req(&k, token), "invalid_data");
    /* 8. storage: the token, compared exactly */
    kit_init(&k);
    bootstrap_expect(srv, org, kit_req(&k, "wrong"), "not_found");
    bootstrap_expect(srv, org, kit_req(&k, ""), "not_found");
    char *upper = strdup(token);
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    bootstrap_expect(srv, org, kit_req(&k, upper), "not_found");
    free(upper);
    char *prefix = strndup(token, 63);
    bootstrap_expect(srv, org, kit_req(&k, prefix), "not_found");
    free(prefix);

    /* none of this left a trace */
    ck_assert(!bootstrapped(srv, org));
    ck_assert_int_eq(user_count(srv, org), 0);
    ck_assert_int_eq(porg_sql_long(srv,
                                   "SELECT count(*) FROM device d JOIN organization o"
                                   " ON o._id = d.organization WHERE o.organization_id = $1",
                                   org, NULL),
                     0);
    char *after = porg_fingerprint(srv);
    ck_assert_str_eq(after, before);
    free(after);
    free(before);

    /* expired: before the command */
    porg_patch_org(srv, org, "{\"is_expired\": true}");
    kit_init(&k);
    bootstrap_expect(srv, org, kit_req(&k, token), "expired_organization");
    porg_patch_org(srv, org, "{\"is_expired\": false}");

    /* active_users_limit = 0: the first user is refused, cleanly */
    porg_patch_org(srv, org, "{\"active_users_limit\": 0}");
    bootstrap_expect(srv, org, kit_req(&k, token), "active_users_limit_reached");
    ck_assert(!bootstrapped(srv, org));
    ck_assert_int_eq(user_count(srv, org), 0);
    porg_patch_org(srv, org, "{\"active_users_limit\": 1}");
    bootstrap_expect(srv, org, kit_req(&k, token), "ok");
    ck_assert(bootstrapped(srv, org));

    /* an unknown organization (no spontaneous bootstrap): 404 */
    pclient_resp_t r;
    kit_init(&k);
    porg_send(srv, "anonymous", "NoSuchOrg", NULL, kit_req(&k, ""), &r);
    ck_assert_int_eq(r.status, 404);
    pclient_resp_free(&r);
    ck_assert_int_eq(org_count(srv, "NoSuchOrg"), 0);

    free(token);
    free(org);
}
END_TEST

/* ---------------------------------------------------------------------------
 * Sequester authority certificate
 */

static pclient_blob_t sequester_certif(const pclient_key_t *signer, int64_t ts, bool rsa,
                                       const char *type)
{
    EVP_PKEY *key = rsa ? EVP_RSA_gen(1024) : NULL;
    if (!rsa) {
        EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
        ck_assert(pc && EVP_PKEY_keygen_init(pc) == 1 && EVP_PKEY_keygen(pc, &key) == 1);
        EVP_PKEY_CTX_free(pc);
    }
    ck_assert_ptr_nonnull(key);
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(key, &der);
    ck_assert_int_gt(n, 0);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string(type));
    json_object_object_add(o, "author", NULL);
    json_object_object_add(o, "timestamp", pclient_json_datetime(ts));
    json_object_object_add(o, "verify_key_der", pclient_json_bytes(der, (size_t)n));
    const char *text =
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    pclient_blob_t b = pclient_signed(signer, text, strlen(text));
    json_object_put(o);
    OPENSSL_free(der);
    EVP_PKEY_free(key);
    return b;
}

START_TEST(bootstrap_sequester)
{
    const porg_srv_t *srv = plain_srv;
    char *org = porg_org_id("BootOrg");
    char *token = porg_create_org(srv, org, NULL);
    kit_t k;
    kit_init(&k);
    pclient_key_t other;
    pclient_key_generate(&other);
    struct {
        const pclient_key_t *signer;
        int64_t dt;
        bool rsa;
        const char *type;
        const char *status;
    } cases[] = {
        {&other, 0, true, "sequester_authority_certificate", "invalid_data"},
        {NULL, 0, false, "sequester_authority_certificate", "invalid_data"},
        {NULL, 0, true, "user_certificate", "invalid_data"},
        {NULL, -3600 * 1000000LL, true, "sequester_authority_certificate", "bad_timestamp"},
        {NULL, 1, true, "sequester_authority_certificate", "invalid_data"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_object *req = kit_req(&k, token);
        pclient_blob_t b =
            sequester_certif(cases[i].signer ? cases[i].signer : &k.root,
                             k.u.timestamp + cases[i].dt, cases[i].rsa, cases[i].type);
        json_object_object_add(req, "sequester_authority_certificate", blob_json(b));
        bootstrap_expect(srv, org, req, cases[i].status);
    }
    ck_assert(!bootstrapped(srv, org));

    json_object *req = kit_req(&k, token);
    pclient_blob_t b =
        sequester_certif(&k.root, k.u.timestamp, true, "sequester_authority_certificate");
    char *b64 = pclient_b64(b.data, b.len);
    json_object_object_add(req, "sequester_authority_certificate", blob_json(b));
    bootstrap_expect(srv, org, req, "ok");

    /* organization_config shows it, with an empty service list */
    pclient_device_t *alice = kit_device(&k, org);
    pclient_resp_t r;
    porg_send(srv, "authenticated", org, alice, pclient_req("organization_config"), &r);
    porg_assert_status(srv, &r, 200, "ok");
    ck_assert_str_eq(porg_str(r.json, "sequester_authority_certificate"), b64);
    json_object *v;
    ck_assert(json_object_object_get_ex(r.json, "sequester_services_certificates", &v));
    ck_assert(json_object_is_type(v, json_type_array));
    ck_assert_int_eq(json_object_array_length(v), 0);
    pclient_resp_free(&r);
    /* enabled services, in creation order */
    free(porg_sql(srv,
                  "INSERT INTO sequester_service (organization, service_id, service_label,"
                  " service_certificate, created_on, disabled_on) SELECT _id, md5(x::text)::uuid,"
                  " 'S' || x, decode(lpad(x::text, 2, '0'), 'hex'), now() + x * interval '1s',"
                  " CASE WHEN x = 2 THEN now() END FROM organization, generate_series(1, 3) x"
                  " WHERE organization_id = $1",
                  org, NULL));
    porg_send(srv, "authenticated", org, alice, pclient_req("organization_config"), &r);
    porg_assert_status(srv, &r, 200, "ok");
    ck_assert(json_object_object_get_ex(r.json, "sequester_services_certificates", &v));
    ck_assert_int_eq(json_object_array_length(v), 2);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(v, 0)), "AQ==");
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(v, 1)), "Aw==");
    pclient_resp_free(&r);

    pclient_device_free(alice);
    free(b64);
    free(token);
    free(org);
}
END_TEST

/* ---------------------------------------------------------------------------
 * Spontaneous bootstrap
 */

START_TEST(spontaneous)
{
    const porg_srv_t *srv = spontaneous_srv;
    char *new_org = porg_org_id("NewOrg"), *org2 = porg_org_id("Org2");
    char *reserved = porg_org_id("Reserved");
    kit_t k;
    pclient_resp_t r;

    /* unknown organization: created on the fly, token "" */
    kit_init(&k);
    bootstrap_expect(srv, new_org, kit_req(&k, ""), "ok");
    ck_assert(bootstrapped(srv, new_org));
    ck_assert_int_eq(porg_sql_long(srv,
                                   "SELECT count(*) FROM organization WHERE organization_id = $1"
                                   " AND bootstrap_token = '' AND NOT created_by_administration"
                                   " AND active_users_limit IS NULL"
                                   " AND user_profile_outsider_allowed",
                                   new_org, NULL),
                     1);
    kit_init(&k);
    bootstrap_expect(srv, new_org, kit_req(&k, ""), "already_bootstrapped");

    /* a refused spontaneous bootstrap leaves no organization behind */
    kit_init(&k);
    bootstrap_expect(srv, org2, kit_req(&k, "some token"), "not_found");
    k.u.profile = k.ru.profile = "STANDARD";
    bootstrap_expect(srv, org2, kit_req(&k, ""), "invalid_data");
    ck_assert_int_eq(org_count(srv, org2), 0);
    /* only organization_bootstrap may name an unknown organization */
    json_object *ping = pclient_req("ping");
    json_object_object_add(ping, "ping", json_object_new_string("x"));
    porg_send(srv, "anonymous", org2, NULL, ping, &r);
    ck_assert_int_eq(r.status, 404);
    pclient_resp_free(&r);
    const char *h[] = {"Content-Type: application/json", NULL};
    porg_post(srv, "anonymous", org2, h, "garbage", 7, &r);
    ck_assert_int_eq(r.status, 404);
    pclient_resp_free(&r);
    kit_init(&k);
    pclient_opts_t o = {.content_type = "text/plain"};
    porg_send_ex(srv, "authenticated", org2, NULL, &o, kit_req(&k, ""), &r);
    ck_assert_int_eq(r.status, 404);
    pclient_resp_free(&r);
    ck_assert_int_eq(org_count(srv, org2), 0);

    /* never hijacks an organization an administrator created */
    char *token = porg_create_org(srv, reserved, NULL);
    kit_init(&k);
    bootstrap_expect(srv, reserved, kit_req(&k, ""), "not_found");
    ck_assert(!bootstrapped(srv, reserved));
    bootstrap_expect(srv, reserved, kit_req(&k, token), "ok");
    free(token);
    free(reserved);
    free(org2);
    free(new_org);
}
END_TEST

START_TEST(spontaneous_initial_limits)
{
    /* The initial limits of spontaneous organizations come from the
     * settings: a worker setting no other test uses, so a server of its
     * own. */
    const char *env[] = {"PARSEC_SPONTANEOUS_ORGANIZATION_BOOTSTRAP=true",
                         "PARSEC_ORGANIZATION_INITIAL_ACTIVE_USERS_LIMIT=0",
                         "PARSEC_ORGANIZATION_INITIAL_USER_PROFILE_OUTSIDER_ALLOWED=false", NULL};
    porg_srv_t *srv = porg_srv_start(WEBSRV_LIGHTTPD, env);
    char *limited = porg_org_id("Limited");
    kit_t k;
    kit_init(&k);
    bootstrap_expect(srv, limited, kit_req(&k, ""), "active_users_limit_reached");
    ck_assert_int_eq(org_count(srv, limited), 0);
    free(limited);
    ck_assert(porg_srv_stop(srv));
}
END_TEST

/* ---------------------------------------------------------------------------
 * The bootstrap webhook, received by a real HTTP listener
 */

typedef struct {
    int fd;
    int port;
    int answer; /* HTTP status to answer */
    pthread_t tid;
    pthread_mutex_t mu;
    int requests;
    char head[4096];
    char body[4096];
} hook_t;

/* Read one HTTP request (head + Content-Length body) from c into h. */
static void hook_read(hook_t *h, int c)
{
    char buf[8192];
    size_t n = 0;
    char *end = NULL;
    buf[0] = '\0';
    while (n < sizeof buf - 1 && !(end = strstr(buf, "\r\n\r\n"))) {
        struct pollfd p = {.fd = c, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0)
            return;
        ssize_t k = recv(c, buf + n, sizeof buf - 1 - n, 0);
        if (k <= 0)
            return;
        n += (size_t)k;
        buf[n] = '\0';
    }
    if (!end)
        return;
    size_t head_len = (size_t)(end - buf) + 4;
    size_t want = 0;
    for (char *l = buf; l < end; l = strstr(l, "\r\n") + 2)
        if (strncasecmp(l, "Content-Length:", 15) == 0)
            want = (size_t)atol(l + 15);
    while (n - head_len < want && n < sizeof buf - 1) {
        struct pollfd p = {.fd = c, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0)
            return;
        ssize_t k = recv(c, buf + n, sizeof buf - 1 - n, 0);
        if (k <= 0)
            return;
        n += (size_t)k;
        buf[n] = '\0';
    }
    pthread_mutex_lock(&h->mu);
    h->requests++;
    snprintf(h->head, sizeof h->head, "%.*s", (int)head_len, buf);
    snprintf(h->body, sizeof h->body, "%.*s", (int)(n - head_len), buf + head_len);
    pthread_mutex_unlock(&h->mu);
}

static void *hook_thread(void *arg)
{
    hook_t *h = arg;
    for (;;) {
        int c = accept(h->fd, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            break; /* shut down */
        }
        hook_read(h, c);
        char reply[128];
        int len = snprintf(reply, sizeof reply,
                           "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                           h->answer);
        ssize_t w = send(c, reply, (size_t)len, MSG_NOSIGNAL);
        (void)w;
        close(c);
    }
    return NULL;
}

static void hook_start(hook_t *h, int answer)
{
    memset(h, 0, sizeof *h);
    pthread_mutex_init(&h->mu, NULL);
    h->answer = answer;
    h->fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(h->fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(h->fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(h->fd, 16), 0);
    socklen_t al = sizeof a;
    ck_assert_int_eq(getsockname(h->fd, (struct sockaddr *)&a, &al), 0);
    h->port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&h->tid, NULL, hook_thread, h), 0);
}

static void hook_stop(hook_t *h)
{
    shutdown(h->fd, SHUT_RDWR);
    close(h->fd);
    pthread_join(h->tid, NULL);
    pthread_mutex_destroy(&h->mu);
}

static int hook_requests(hook_t *h)
{
    pthread_mutex_lock(&h->mu);
    int n = h->requests;
    pthread_mutex_unlock(&h->mu);
    return n;
}

START_TEST(webhook)
{
    hook_t h;
    hook_start(&h, 200);
    char *hook_env = NULL;
    ck_assert_int_ge(asprintf(&hook_env,
                              "PARSEC_ORGANIZATION_BOOTSTRAP_WEBHOOK=http://127.0.0.1:%d/"
                              "hook?x=1",
                              h.port),
                     0);
    /* The webhook's URL names this test's listener: a server of its own. */
    const char *env[] = {hook_env, NULL};
    porg_srv_t *srv = porg_srv_start(WEBSRV_LIGHTTPD, env);
    char *org = porg_org_id("BootOrg"), *org2 = porg_org_id("Org2"), *org3 = porg_org_id("Org3");

    /* a refused bootstrap calls nobody */
    char *token = porg_create_org(srv, org, NULL);
    kit_t k;
    kit_init(&k);
    bootstrap_expect(srv, org, kit_req(&k, "wrong"), "not_found");
    ck_assert_int_eq(hook_requests(&h), 0);

    /* a successful one POSTs the guide's fields before answering */
    bootstrap_expect(srv, org, kit_req(&k, token), "ok");
    ck_assert_int_eq(hook_requests(&h), 1);
    ck_assert_ptr_nonnull(strstr(h.head, "POST /hook?x=1 HTTP/1.1\r\n"));
    ck_assert_ptr_nonnull(
        strcasestr(h.head, "\r\nContent-Type: application/json; charset=utf-8\r\n"));
    json_object *body = json_tokener_parse(h.body);
    ck_assert_ptr_nonnull(body);
    ck_assert_int_eq(json_object_object_length(body), 5);
    json_object *v;
    ck_assert(json_object_object_get_ex(body, "organization_id", &v));
    ck_assert_str_eq(json_object_get_string(v), org);
    ck_assert(json_object_object_get_ex(body, "device_id", &v));
    ck_assert_str_eq(json_object_get_string(v), "alice@dev1");
    ck_assert(json_object_object_get_ex(body, "device_label", &v));
    ck_assert_str_eq(json_object_get_string(v), "Alice's laptop");
    ck_assert(json_object_object_get_ex(body, "human_email", &v));
    ck_assert_str_eq(json_object_get_string(v), "alice@example.com");
    ck_assert(json_object_object_get_ex(body, "human_label", &v));
    ck_assert_str_eq(json_object_get_string(v), "Alice");
    json_object_put(body);

    /* a non-human user without device label: nulls */
    kit_init(&k);
    k.u.human_email = k.ru.human_email = NULL;
    k.d.device_label = k.rd.device_label = NULL;
    free(token);
    token = porg_create_org(srv, org2, NULL);
    bootstrap_expect(srv, org2, kit_req(&k, token), "ok");
    ck_assert_int_eq(hook_requests(&h), 2);
    body = json_tokener_parse(h.body);
    ck_assert(json_object_object_get_ex(body, "organization_id", &v));
    ck_assert_str_eq(json_object_get_string(v), org2);
    static const char *const nulls[] = {"device_label", "human_email", "human_label"};
    for (int i = 0; i < 3; i++) {
        ck_assert(json_object_object_get_ex(body, nulls[i], &v));
        ck_assert_ptr_null(v);
    }
    json_object_put(body);

    /* a failing webhook (500) changes nothing: bootstrapped, logged */
    h.answer = 500;
    free(token);
    token = porg_create_org(srv, org3, NULL);
    kit_init(&k);
    bootstrap_expect(srv, org3, kit_req(&k, token), "ok");
    ck_assert_int_eq(hook_requests(&h), 3);
    ck_assert(bootstrapped(srv, org3));
    char *log = porg_log(srv);
    char *failed = xasprintf("bootstrap webhook for organization %s failed", org3);
    ck_assert_ptr_nonnull(strstr(log, failed));
    ck_assert_ptr_nonnull(strstr(log, "HTTP 500"));
    free(failed);
    free(log);
    ck_assert(porg_srv_stop(srv));
    hook_stop(&h);
    free(token);
    free(org3);
    free(org2);
    free(org);
    free(hook_env);
}
END_TEST

START_TEST(webhook_nobody_listening)
{
    /* Nobody listening at all: still bootstrapped.  The webhook's URL is a
     * port nobody listens on: a setting of this test only, so a server of
     * its own. */
    char *hook_env = xasprintf("PARSEC_ORGANIZATION_BOOTSTRAP_WEBHOOK=http://127.0.0.1:%d/",
                               testenv_free_port());
    const char *env[] = {hook_env, NULL};
    porg_srv_t *srv = porg_srv_start(WEBSRV_LIGHTTPD, env);
    char *org = porg_org_id("BootOrg");
    char *token = porg_create_org(srv, org, NULL);
    kit_t k;
    kit_init(&k);
    bootstrap_expect(srv, org, kit_req(&k, token), "ok");
    ck_assert(bootstrapped(srv, org));
    char *log = porg_log(srv);
    char *failed = xasprintf("bootstrap webhook for organization %s failed", org);
    ck_assert_ptr_nonnull(strstr(log, failed));
    free(failed);
    free(log);
    ck_assert(porg_srv_stop(srv));
    free(token);
    free(org);
    free(hook_env);
}
END_TEST

/* ---------------------------------------------------------------------------
 * ping on the three routes, and the "pinged" event
 */

/* The next NOTIFY payload on pg within timeout_ms, or NULL (malloc'd). */
static char *next_notify(PGconn *pg, int timeout_ms)
{
    for (int waited = 0;; waited += 20) {
        ck_assert_int_eq(PQconsumeInput(pg), 1);
        PGnotify *n = PQnotifies(pg);
        if (n) {
            char *s = strdup(n->extra);
            PQfreemem(n);
            return s;
        }
        if (waited >= timeout_ms)
            return NULL;
        struct pollfd p = {.fd = PQsocket(pg), .events = POLLIN};
        poll(&p, 1, 20);
    }
}

START_TEST(ping_three_routes)
{
    const porg_srv_t *srv = plain_srv;
    porg_t *po = porg_bootstrap(srv, NULL);
    const char *org = po->organization_id;
    const pclient_device_t *alice = po->admin;
    char *inv = porg_sql(srv,
                         "INSERT INTO invitation (organization, token, type, greeter, created_on)"
                         " SELECT o._id, md5(random()::text)::uuid, 'DEVICE', u._id, now()"
                         " FROM organization o JOIN user_ u ON u.organization = o._id"
                         " WHERE o.organization_id = $1 RETURNING replace(token::text, '-', '')",
                         org, NULL);
    PGconn *listener = porg_pg(srv);
    PGresult *res = PQexec(listener, "LISTEN parsec_events");
    ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);

    static const char *const pings[] = {"", "hello", "\xc3\xa9t\xc3\xa9 \"quoted\" \\ \t"};
    for (size_t i = 0; i < 3; i++) {
        pclient_resp_t r;
        pclient_opts_t o = {.invitation_token = inv};
        static const char *const fams[] = {"anonymous", "invited", "authenticated"};
        for (int f = 0; f < 3; f++) {
            json_object *req = pclient_req("ping");
            json_object_object_add(req, "ping", json_object_new_string(pings[i]));
            porg_send_ex(srv, fams[f], org, f == 2 ? alice : NULL, f == 1 ? &o : NULL, req, &r);
            porg_assert_status(srv, &r, 200, "ok");
            ck_assert_str_eq(porg_str(r.json, "pong"), pings[i]);
            ck_assert_int_eq(json_object_object_length(r.json), 2);
            pclient_resp_free(&r);
        }
        /* only the authenticated ping published, and it comes first */
        char *payload = next_notify(listener, 3000);
        ck_assert_ptr_nonnull(payload);
        json_object *ev = json_tokener_parse(payload);
        ck_assert_ptr_nonnull(ev);
        json_object *v;
        ck_assert(json_object_object_get_ex(ev, "o", &v));
        ck_assert_str_eq(json_object_get_string(v), org);
        ck_assert(json_object_object_get_ex(ev, "t", &v));
        ck_assert_str_eq(json_object_get_string(v), "pinged");
        ck_assert(json_object_object_get_ex(ev, "a", &v));
        ck_assert_str_eq(json_object_get_string(v), alice->device_id);
        ck_assert(json_object_object_get_ex(ev, "ping", &v));
        ck_assert_str_eq(json_object_get_string(v), pings[i]);
        json_object_put(ev);
        free(payload);
        payload = next_notify(listener, 200);
        ck_assert_ptr_null(payload);
    }
    /* a refused ping publishes nothing */
    json_object *req = pclient_req("ping");
    json_object_object_add(req, "ping", json_object_new_int(1));
    pclient_resp_t r;
    porg_send(srv, "authenticated", org, alice, req, &r);
    porg_assert_status(srv, &r, 200, "bad_message");
    pclient_resp_free(&r);
    ck_assert_ptr_null(next_notify(listener, 300));

    PQfinish(listener);
    free(inv);
    porg_free(po);
}
END_TEST

/* ---------------------------------------------------------------------------
 * organization_config, organization_stats
 */

START_TEST(config_and_stats)
{
    const porg_srv_t *srv = plain_srv;
    porg_t *po = porg_bootstrap(srv, NULL);
    const char *org = po->organization_id;
    const pclient_device_t *alice = po->admin;
    pclient_device_t *bob =
        porg_user(srv, po, alice, "bob@dev1", "STANDARD", "bob@example.com", "Bob");
    pclient_device_t *carl = porg_user(srv, po, alice, "carl@dev1", "OUTSIDER", NULL, NULL);
    pclient_device_t *dan =
        porg_user(srv, po, alice, "dan@dev1", "ADMIN", "dan@example.com", "Dan");
    porg_t *other = porg_bootstrap(srv, NULL);
    porg_revoke(srv, alice, "dan");
    pclient_resp_t r;
    json_object *v;

    /* organization_config: any profile, the organization's current values */
    const pclient_device_t *who[] = {alice, bob, carl};
    for (int i = 0; i < 3; i++) {
        porg_send(srv, "authenticated", org, who[i], pclient_req("organization_config"), &r);
        porg_assert_status(srv, &r, 200, "ok");
        ck_assert(json_object_object_get_ex(r.json, "user_profile_outsider_allowed", &v));
        ck_assert(json_object_get_boolean(v));
        ck_assert(json_object_object_get_ex(r.json, "active_users_limit", &v));
        ck_assert_ptr_null(v);
        ck_assert(json_object_object_get_ex(r.json, "sequester_authority_certificate", &v));
        ck_assert_ptr_null(v);
        ck_assert(json_object_object_get_ex(r.json, "sequester_services_certificates", &v));
        ck_assert_ptr_null(v);
        ck_assert_int_eq(json_object_object_length(r.json), 5);
        pclient_resp_free(&r);
    }
    porg_patch_org(srv, org,
                   "{\"active_users_limit\": 7, \"user_profile_outsider_allowed\": false}");
    porg_send(srv, "authenticated", org, bob, pclient_req("organization_config"), &r);
    porg_assert_status(srv, &r, 200, "ok");
    ck_assert(json_object_object_get_ex(r.json, "user_profile_outsider_allowed", &v));
    ck_assert(!json_object_get_boolean(v));
    ck_assert(json_object_object_get_ex(r.json, "active_users_limit", &v));
    ck_assert_int_eq(json_object_get_int(v), 7);
    pclient_resp_free(&r);
    json_object *req = pclient_req("organization_config");
    json_object_object_add(req, "x", NULL);
    porg_send(srv, "authenticated", org, bob, req, &r);
    porg_assert_status(srv, &r, 200, "bad_message");
    pclient_resp_free(&r);

    /* organization_stats: ADMIN only, checked before the fields */
    const pclient_device_t *refused[] = {bob, carl};
    for (int i = 0; i < 2; i++) {
        req = pclient_req("organization_stats");
        json_object_object_add(req, "bogus", json_object_new_int(1));
        porg_send(srv, "authenticated", org, refused[i], req, &r);
        porg_assert_status(srv, &r, 200, "not_allowed");
        char *reason = NULL;
        ck_assert_int_ge(asprintf(&reason, "User `%s` is not admin", refused[i]->user_id), 0);
        ck_assert_str_eq(porg_str(r.json, "reason"), reason);
        free(reason);
        pclient_resp_free(&r);
    }
    req = pclient_req("organization_stats");
    json_object_object_add(req, "bogus", json_object_new_int(1));
    porg_send(srv, "authenticated", org, alice, req, &r);
    porg_assert_status(srv, &r, 200, "bad_message");
    pclient_resp_free(&r);

    /* some data: a realm, two blocks (one deleted), a vlob with two versions */
    free(porg_sql(srv,
                  "WITH o AS (SELECT _id FROM organization WHERE organization_id = $1),"
                  " d AS (SELECT d._id FROM device d, o WHERE d.organization = o._id AND"
                  "   d.device_id = $2),"
                  " r AS (INSERT INTO realm (organization, realm_id, created_on)"
                  "   SELECT o._id, md5('r')::uuid, now() FROM o RETURNING _id),"
                  " b AS (INSERT INTO block (organization, block_id, realm, author, size,"
                  "   created_on, deleted_on) SELECT o._id, md5('b' || x)::uuid, r._id, d._id,"
                  "   100 * x, now(), CASE WHEN x = 2 THEN now() - interval '1s' END"
                  "   FROM o, r, d, generate_series(1, 2) x RETURNING 1),"
                  " rev AS (INSERT INTO vlob_encryption_revision (realm, encryption_revision)"
                  "   SELECT _id, 1 FROM r RETURNING _id),"
                  " v AS (INSERT INTO vlob (organization, realm, vlob_id)"
                  "   SELECT o._id, r._id, md5('v')::uuid FROM o, r RETURNING _id)"
                  " INSERT INTO vlob_atom (vlob, vlob_encryption_revision, version, blob, size,"
                  "   author, created_on) SELECT v._id, rev._id, x, '\\x00', 7 * x, d._id, now()"
                  "   FROM v, rev, d, generate_series(1, 2) x",
                  org, alice->device_id, NULL));
    /* the counters the vlob and block commands keep with what they store */
    free(porg_sql(srv,
                  "UPDATE realm r SET metadata_size = (SELECT SUM(a.size) FROM vlob_atom a"
                  "  JOIN vlob v ON v._id = a.vlob WHERE v.realm = r._id),"
                  " blocks_size = (SELECT SUM(b.size) FROM block b"
                  "  WHERE b.realm = r._id AND b.deleted_on IS NULL)"
                  " WHERE realm_id = md5('r')::uuid",
                  NULL));
    porg_send(srv, "authenticated", org, alice, pclient_req("organization_stats"), &r);
    porg_assert_status(srv, &r, 200, "ok");
    static const struct {
        const char *name;
        int value;
    } expect[] = {{"data_size", 100},
                  {"metadata_size", 21},
                  {"realms", 1},
                  {"users", 4},
                  {"active_users", 3}};
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        ck_assert_msg(json_object_object_get_ex(r.json, expect[i].name, &v), "%s", expect[i].name);
        ck_assert_int_eq(json_object_get_int(v), expect[i].value);
    }
    ck_assert(json_object_object_get_ex(r.json, "users_per_profile_detail", &v));
    ck_assert_int_eq(json_object_array_length(v), 3);
    static const struct {
        const char *profile;
        int active, revoked;
    } detail[] = {{"ADMIN", 1, 1}, {"STANDARD", 1, 0}, {"OUTSIDER", 1, 0}};
    for (int i = 0; i < 3; i++) {
        json_object *item = json_object_array_get_idx(v, (size_t)i), *f;
        ck_assert(json_object_object_get_ex(item, "profile", &f));
        ck_assert_str_eq(json_object_get_string(f), detail[i].profile);
        ck_assert(json_object_object_get_ex(item, "active", &f));
        ck_assert_int_eq(json_object_get_int(f), detail[i].active);
        ck_assert(json_object_object_get_ex(item, "revoked", &f));
        ck_assert_int_eq(json_object_get_int(f), detail[i].revoked);
    }
    pclient_resp_free(&r);
    /* the other organization sees only itself */
    porg_send(srv, "authenticated", other->organization_id, other->admin,
              pclient_req("organization_stats"), &r);
    porg_assert_status(srv, &r, 200, "ok");
    ck_assert(json_object_object_get_ex(r.json, "users", &v));
    ck_assert_int_eq(json_object_get_int(v), 1);
    ck_assert(json_object_object_get_ex(r.json, "data_size", &v));
    ck_assert_int_eq(json_object_get_int(v), 0);
    pclient_resp_free(&r);

    porg_free(other);
    pclient_device_free(dan);
    pclient_device_free(carl);
    pclient_device_free(bob);
    porg_free(po);
}
END_TEST

/* ---------------------------------------------------------------------------
 * Concurrent bootstraps: exactly one wins
 */

typedef struct {
    const porg_srv_t *srv;
    const char *org, *token;
    char status[64];
} race_t;

static void *race_thread(void *arg)
{
    race_t *x = arg;
    kit_t k;
    kit_init(&k);
    json_object *req = kit_req(&k, x->token);
    pclient_resp_t r;
    if (pclient_cmd(porg_srv_url(x->srv), "anonymous", x->org, NULL, req, &r) && pclient_status(&r))
        snprintf(x->status, sizeof x->status, "%s", pclient_status(&r));
    else
        snprintf(x->status, sizeof x->status, "HTTP %ld", r.status);
    pclient_resp_free(&r);
    json_object_put(req);
    return NULL;
}

START_TEST(bootstrap_race)
{
    const porg_srv_t *srv = spontaneous_srv;
    char *org = porg_org_id("BootOrg"), *sp_org = porg_org_id("Spontaneous");
    char *token = porg_create_org(srv, org, NULL);
    /* an administrator's organization, and a spontaneous one */
    const char *orgs[2] = {org, sp_org};
    const char *tokens[2] = {token, ""};
    for (int o = 0; o < 2; o++) {
        enum { N = 8 };
        race_t x[N];
        pthread_t tid[N];
        for (int i = 0; i < N; i++) {
            x[i] = (race_t){srv, orgs[o], tokens[o], ""};
            ck_assert_int_eq(pthread_create(&tid[i], NULL, race_thread, &x[i]), 0);
        }
        int ok = 0, already = 0;
        for (int i = 0; i < N; i++) {
            pthread_join(tid[i], NULL);
            ok += strcmp(x[i].status, "ok") == 0;
            already += strcmp(x[i].status, "already_bootstrapped") == 0;
        }
        ck_assert_int_eq(ok, 1);
        ck_assert_int_eq(already, N - 1);
        ck_assert_int_eq(user_count(srv, orgs[o]), 1);
        ck_assert_int_eq(org_count(srv, orgs[o]), 1);
    }
    free(token);
    free(sp_org);
    free(org);
}
END_TEST

TEST_SUITE(cmd_organization)
{
    testenv_db_setup();
    Suite *s = suite_create("cmd_organization");
    TCase *tc = porg_tcase("organization", &plain_srv, WEBSRV_LIGHTTPD, NULL);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, bootstrap_ok);
    tcase_add_test(tc, bootstrap_refusals);
    tcase_add_test(tc, bootstrap_sequester);
    tcase_add_test(tc, ping_three_routes);
    tcase_add_test(tc, config_and_stats);
    /* servers of their own (their webhook URL) */
    tcase_add_test(tc, webhook);
    tcase_add_test(tc, webhook_nobody_listening);
    suite_add_tcase(s, tc);
    TCase *sp =
        porg_tcase("spontaneous bootstrap", &spontaneous_srv, WEBSRV_LIGHTTPD, spontaneous_env);
    tcase_set_timeout(sp, 180);
    tcase_add_test(sp, spontaneous);
    tcase_add_test(sp, bootstrap_race);
    tcase_add_test(sp, spontaneous_initial_limits); /* a server of its own */
    suite_add_tcase(s, sp);
    return s;
}
