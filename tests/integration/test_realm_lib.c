/*
 * tests/integration/test_realm_lib.c - helpers of the realm, vlob and
 * message suites (see test_realm_lib.h)
 */
#include "test_realm_lib.h"

#include "event.h"
#include "xalloc.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t rl_now(void)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static int64_t last;
    pthread_mutex_lock(&lock);
    int64_t now = pclient_now_us();
    if (now <= last)
        now = last + 1;
    last = now;
    pthread_mutex_unlock(&lock);
    return now;
}

void rl_id(uint8_t out[16])
{
    pclient_uuid_random(out);
}

const char *rl_hex(const uint8_t id[16])
{
    static __thread char slots[4][33];
    static __thread int next;
    char *s = slots[next++ % 4];
    char *h = pclient_uuid_hex(id);
    snprintf(s, 33, "%s", h);
    free(h);
    return s;
}

/* ---- requests ---- */

pclient_blob_t rl_role_cert(const pclient_device_t *author, const uint8_t realm[16],
                            const char *user_id, const char *role, int64_t ts)
{
    pclient_realm_role_certif_t c = {
        .author = author->device_id, .timestamp = ts, .user_id = user_id, .role = role};
    memcpy(c.realm_id, realm, 16);
    return pclient_realm_role_certif(&author->key, &c);
}

json_object *rl_req_realm_create(const pclient_device_t *author, const uint8_t realm[16],
                                 int64_t ts)
{
    return set_blob(pclient_req("realm_create"), "role_certificate",
                    rl_role_cert(author, realm, author->user_id, "OWNER", ts));
}

json_object *rl_req_update_roles(const pclient_device_t *author, const uint8_t realm[16],
                                 const char *user_id, const char *role, int64_t ts, const char *msg)
{
    json_object *req = set_blob(pclient_req("realm_update_roles"), "role_certificate",
                                rl_role_cert(author, realm, user_id, role, ts));
    if (msg)
        json_object_object_add(req, "recipient_message", pclient_json_bytes(msg, strlen(msg)));
    return req;
}

json_object *rl_req_realm(const char *cmd, const uint8_t realm[16])
{
    return set_str(pclient_req(cmd), "realm_id", rl_hex(realm));
}

json_object *rl_req_realm_revision(const char *cmd, const uint8_t realm[16], int64_t revision)
{
    return set_json(rl_req_realm(cmd, realm), "encryption_revision",
                    json_object_new_int64(revision));
}

json_object *rl_req_vlob_create(const uint8_t realm[16], int64_t revision, const uint8_t vlob[16],
                                int64_t ts, const char *blob)
{
    json_object *req = rl_req_realm_revision("vlob_create", realm, revision);
    set_str(req, "vlob_id", rl_hex(vlob));
    set_json(req, "timestamp", pclient_json_datetime(ts));
    return set_json(req, "blob", pclient_json_bytes(blob, strlen(blob)));
}

json_object *rl_req_vlob_update(int64_t revision, const uint8_t vlob[16], int64_t ts,
                                int64_t version, const char *blob)
{
    json_object *req = pclient_req("vlob_update");
    set_json(req, "encryption_revision", json_object_new_int64(revision));
    set_str(req, "vlob_id", rl_hex(vlob));
    set_json(req, "timestamp", pclient_json_datetime(ts));
    set_json(req, "version", json_object_new_int64(version));
    return set_json(req, "blob", pclient_json_bytes(blob, strlen(blob)));
}

json_object *rl_req_vlob_read(int64_t revision, const uint8_t vlob[16], int64_t version, int64_t ts)
{
    json_object *req = pclient_req("vlob_read");
    set_json(req, "encryption_revision", json_object_new_int64(revision));
    set_str(req, "vlob_id", rl_hex(vlob));
    if (version)
        set_json(req, "version", json_object_new_int64(version));
    if (ts)
        set_json(req, "timestamp", pclient_json_datetime(ts));
    return req;
}

json_object *rl_req_poll(const uint8_t realm[16], int64_t last_checkpoint)
{
    return set_json(rl_req_realm("vlob_poll_changes", realm), "last_checkpoint",
                    json_object_new_int64(last_checkpoint));
}

json_object *rl_req_list(const uint8_t vlob[16])
{
    return set_str(pclient_req("vlob_list_versions"), "vlob_id", rl_hex(vlob));
}

json_object *rl_req_start(const uint8_t realm[16], int64_t revision, int64_t ts,
                          const char *const *users, size_t n)
{
    json_object *req =
        rl_req_realm_revision("realm_start_reencryption_maintenance", realm, revision);
    set_json(req, "timestamp", pclient_json_datetime(ts));
    json_object *map = json_object_new_object();
    for (size_t i = 0; i < n; i++) {
        char *body = xasprintf("message for %s", users[i]);
        json_object_object_add(map, users[i], pclient_json_bytes(body, strlen(body)));
        free(body);
    }
    return set_json(req, "per_participant_message", map);
}

/* ---- steps ---- */

int64_t rl_realm(const pclient_device_t *owner, uint8_t realm[16])
{
    rl_id(realm);
    int64_t ts = rl_now();
    porg_expect(ut_srv, owner, rl_req_realm_create(owner, realm, ts), "ok");
    return ts;
}

void rl_share(const pclient_device_t *author, const uint8_t realm[16], const char *user_id,
              const char *role)
{
    porg_expect(ut_srv, author, rl_req_update_roles(author, realm, user_id, role, rl_now(), NULL),
                "ok");
}

void rl_vlob_create(const pclient_device_t *d, const uint8_t realm[16], const uint8_t vlob[16],
                    const char *blob)
{
    porg_expect(ut_srv, d, rl_req_vlob_create(realm, 1, vlob, rl_now(), blob), "ok");
}

void rl_vlob_update(const pclient_device_t *d, int64_t revision, const uint8_t vlob[16],
                    int64_t version, const char *blob)
{
    porg_expect(ut_srv, d, rl_req_vlob_update(revision, vlob, rl_now(), version, blob), "ok");
}

char *rl_read_blob(const pclient_device_t *d, int64_t revision, const uint8_t vlob[16])
{
    json_object *r = porg_call(ut_srv, d, rl_req_vlob_read(revision, vlob, 0, 0));
    ck_assert_msg(!strcmp(porg_status(r), "ok"), "vlob_read: %s", json_object_to_json_string(r));
    char *blob = rl_bytes(r, "blob");
    json_object_put(r);
    return blob;
}

/* ---- replies ---- */

int64_t rl_int(json_object *reply, const char *name)
{
    json_object *v = NULL;
    ck_assert_msg(json_object_object_get_ex(reply, name, &v) &&
                      json_object_is_type(v, json_type_int),
                  "no integer %s in %s", name, json_object_to_json_string(reply));
    return json_object_get_int64(v);
}

char *rl_bytes(json_object *o, const char *name)
{
    const char *b64 = porg_str(o, name);
    ck_assert_msg(b64, "no %s in %s", name, json_object_to_json_string(o));
    size_t n = strlen(b64);
    unsigned char *out = xmalloc(n / 4 * 3 + 2);
    int len = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n);
    ck_assert_int_ge(len, 0);
    /* EVP_DecodeBlock counts the padding as zero bytes */
    if (n >= 1 && b64[n - 1] == '=')
        len--;
    if (n >= 2 && b64[n - 2] == '=')
        len--;
    out[len] = '\0';
    return (char *)out;
}

/* ---- events ---- */

PGconn *rl_listen(void)
{
    PGconn *pg = porg_pg(ut_srv);
    PGresult *res = PQexec(pg, "LISTEN " EVENT_CHANNEL);
    ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    return pg;
}

json_object *rl_next_event(PGconn *pg, const char *org, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
        ck_assert(PQconsumeInput(pg));
        PGnotify *n;
        while ((n = PQnotifies(pg)) != NULL) {
            json_object *e = json_tokener_parse(n->extra);
            PQfreemem(n);
            ck_assert_ptr_nonnull(e);
            if (porg_str(e, "o") && !strcmp(porg_str(e, "o"), org))
                return e;
            json_object_put(e);
        }
        struct pollfd p = {PQsocket(pg), POLLIN, 0};
        poll(&p, 1, 50);
    }
    return NULL;
}

json_object *rl_expect_event(PGconn *pg, const char *org, const char *t)
{
    json_object *e = rl_next_event(pg, org, 10000);
    ck_assert_msg(e, "no %s event", t);
    ck_assert_msg(porg_str(e, "t") && !strcmp(porg_str(e, "t"), t), "expected %s, got %s", t,
                  json_object_to_json_string(e));
    return e;
}

void rl_expect_no_event(PGconn *pg, const char *org)
{
    json_object *e = rl_next_event(pg, org, 500);
    ck_assert_msg(!e, "unexpected event %s", e ? json_object_to_json_string(e) : "");
}

/* ---- sequester ---- */

/* A sequester authority certificate: an RSA public key in DER, signed by
 * the root key (docs/protocol.md 3.2). */
static pclient_blob_t authority_certif(const pclient_key_t *root, int64_t ts, EVP_PKEY **keep)
{
    EVP_PKEY *key = EVP_RSA_gen(1024);
    ck_assert_ptr_nonnull(key);
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(key, &der);
    ck_assert_int_gt(n, 0);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string("sequester_authority_certificate"));
    json_object_object_add(o, "author", NULL);
    json_object_object_add(o, "timestamp", pclient_json_datetime(ts));
    json_object_object_add(o, "verify_key_der", pclient_json_bytes(der, (size_t)n));
    const char *text =
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    pclient_blob_t b = pclient_signed(root, text, strlen(text));
    json_object_put(o);
    OPENSSL_free(der);
    if (keep)
        *keep = key;
    else
        EVP_PKEY_free(key);
    return b;
}

porg_t *rl_bootstrap_sequestered(pclient_blob_t *authority)
{
    return rl_bootstrap_sequestered_key(authority, NULL);
}

porg_t *rl_bootstrap_sequestered_key(pclient_blob_t *authority, EVP_PKEY **key)
{
    porg_t *o = xcalloc(1, sizeof *o);
    o->organization_id = porg_org_id("Seq");
    char *token = porg_create_org(ut_srv, o->organization_id, "");
    pclient_key_generate(&o->root);
    int64_t ts = pclient_now_us();
    o->admin = pclient_user_new(o->organization_id, "admin@dev1", "ADMIN", NULL, NULL, NULL, NULL,
                                &o->root, ts);
    json_object *req = pclient_req_bootstrap(token, &o->root, o->admin);
    free(token);
    *authority = authority_certif(&o->root, ts, key);
    json_object_object_add(req, "sequester_authority_certificate", pclient_json_blob(authority));
    pclient_resp_t r;
    pclient_cmd(porg_srv_url(ut_srv), "anonymous", o->organization_id, NULL, req, &r);
    json_object_put(req);
    ck_assert_msg(r.status == 200 && pclient_status(&r) && !strcmp(pclient_status(&r), "ok"),
                  "sequestered bootstrap: %ld %s", r.status, r.body);
    pclient_resp_free(&r);
    return o;
}

void rl_sequester_service(const porg_t *o, const char *cert, uint8_t id[16])
{
    rl_id(id);
    char *hex = ut_hex(cert, strlen(cert));
    char *v = ut_sql("INSERT INTO sequester_service (organization, service_id, service_label,"
                     " service_certificate, created_on)"
                     " SELECT _id, $2::uuid, 'service', decode($3, 'hex'), now()"
                     " FROM organization WHERE organization_id = $1 RETURNING _id",
                     o->organization_id, rl_hex(id), hex, NULL);
    ck_assert_ptr_nonnull(v);
    free(v);
    free(hex);
}

/* ---- malformed values ---- */

/* Send base with field set to each value (consumed), expecting bad_message. */
static void expect_each(const pclient_device_t *caller, json_object *base, const char *field,
                        json_object **values, size_t n)
{
    for (size_t i = 0; i < n; i++)
        porg_expect_no_trace(ut_srv, caller, set_json(ut_copy(base), field, values[i]),
                             "bad_message", field);
}

/* Missing, null and an unknown field next to it. */
static void expect_absent(const pclient_device_t *caller, json_object *base, const char *field,
                          bool optional)
{
    if (!optional) {
        porg_expect_no_trace(ut_srv, caller, without(ut_copy(base), field), "bad_message", field);
        porg_expect_no_trace(ut_srv, caller, set_json(ut_copy(base), field, NULL), "bad_message",
                             field);
    }
    porg_expect_no_trace(ut_srv, caller,
                         set_json(ut_copy(base), "unexpected_field", json_object_new_int(1)),
                         "bad_message", "unexpected_field");
}

void rl_bad_uuid_field(const pclient_device_t *caller, json_object *base, const char *field)
{
    json_object *values[] = {
        json_object_new_string(""),
        json_object_new_string("00112233445566778899aabbccddeef"),   /* 31 */
        json_object_new_string("00112233445566778899aabbccddeeff0"), /* 33 */
        json_object_new_string("00112233445566778899AABBCCDDEEFF"),  /* upper case */
        json_object_new_string("00112233-4455-6677-8899-aabbccddeeff"),
        json_object_new_string("0011223344556677889 aabbccddeeff"),
        json_object_new_string("g0112233445566778899aabbccddeeff"),
        json_object_new_int(42),
        json_object_new_boolean(1),
        json_object_new_array(),
        json_object_new_object(),
    };
    expect_each(caller, base, field, values, sizeof values / sizeof values[0]);
    expect_absent(caller, base, field, false);
}

void rl_bad_datetime_field(const pclient_device_t *caller, json_object *base, const char *field)
{
    json_object *values[] = {
        json_object_new_string(""),
        json_object_new_string("2024-01-01T00:00:00Z"),
        json_object_new_string("2024-01-01T00:00:00.000000+00:00"),
        json_object_new_string("2024-01-01 00:00:00.000000Z"),
        json_object_new_string("2024-13-01T00:00:00.000000Z"),
        json_object_new_string("2024-02-30T00:00:00.000000Z"),
        json_object_new_string("0000-01-01T00:00:00.000000Z"),
        json_object_new_string("yesterday"),
        json_object_new_int(1700000000),
        json_object_new_double(1.5),
        json_object_new_boolean(0),
        json_object_new_array(),
    };
    expect_each(caller, base, field, values, sizeof values / sizeof values[0]);
    expect_absent(caller, base, field, false);
}

void rl_bad_int_field(const pclient_device_t *caller, json_object *base, const char *field,
                      int64_t min, int64_t max, bool optional)
{
    json_object *values[] = {
        json_object_new_int64(min - 1),
        json_object_new_int64(max == INT64_MAX - 1 ? INT64_MAX : max + 1),
        json_object_new_int64(INT64_MIN),
        json_object_new_int64(INT64_MAX),
        json_object_new_double(1.5),
        json_object_new_double(1e30),
        json_object_new_string("1"),
        json_object_new_boolean(1),
        json_object_new_array(),
        json_object_new_object(),
    };
    expect_each(caller, base, field, values, sizeof values / sizeof values[0]);
    /* beyond 64 bits, as JSON text: json-c saturates it, the reader must not
     * take it for INT64_MAX */
    json_object *probe = set_json(ut_copy(base), field, json_object_new_int(123456789));
    const char *ptext = json_object_to_json_string_ext(probe, JSON_C_TO_STRING_PLAIN);
    const char *at = strstr(ptext, "123456789");
    ck_assert_ptr_nonnull(at);
    char *huge = xasprintf("%.*s99999999999999999999999%s", (int)(at - ptext), ptext, at + 9);
    char *before = porg_fingerprint(ut_srv);
    json_object *r = porg_call_raw(ut_srv, caller, huge, strlen(huge));
    ck_assert_msg(!strcmp(porg_status(r), "bad_message"), "%s: %s", field,
                  json_object_to_json_string(r));
    json_object_put(r);
    char *after = porg_fingerprint(ut_srv);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    free(huge);
    json_object_put(probe);
    expect_absent(caller, base, field, optional);
}
