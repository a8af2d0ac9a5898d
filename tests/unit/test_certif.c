/* tests/unit/test_certif.c - common/certif: parsing, verification, redaction */
#include "certif.h"
#include "pclient.h"
#include "testreg.h"

#include <stdlib.h>
#include <string.h>

static arena_t *A;
static pclient_key_t root, alice_key;
static const int64_t T = INT64_C(1700000000123456);

static void setup(void)
{
    A = arena_new();
    pclient_key_generate(&root);
    pclient_key_generate(&alice_key);
}

static void teardown(void)
{
    arena_free(A);
    A = NULL;
}

static pclient_user_certif_t user_fields(void)
{
    pclient_user_certif_t c = {
        .author = NULL,
        .timestamp = T,
        .user_id = "alice",
        .human_email = "alice@example.com",
        .human_label = "Alice",
        .profile = "ADMIN",
        .is_admin = -1,
    };
    memset(c.public_key, 7, 32);
    return c;
}

static pclient_device_certif_t device_fields(const char *author)
{
    pclient_device_certif_t c = {
        .author = author,
        .timestamp = T,
        .device_id = "alice@dev1",
        .device_label = "Alice's laptop",
    };
    memcpy(c.verify_key, alice_key.pub, 32);
    return c;
}

/* Sign payload text with key and load it as type with the expected author. */
static certif_status load_text(const char *payload, const pclient_key_t *key, certif_type type,
                               const char *author, certif_t *c, const char **why)
{
    pclient_blob_t b = pclient_signed(key, payload, strlen(payload));
    uint8_t *raw = arena_memdup(A, b.data, b.len);
    size_t len = b.len;
    pclient_blob_free(&b);
    return certif_load(A, raw, len, type, key->pub, author, c, why);
}

START_TEST(user_certificate_root_signed)
{
    pclient_user_certif_t f = user_fields();
    pclient_blob_t b = pclient_user_certif(&root, &f, false);
    certif_t c;
    const char *why;
    ck_assert_int_eq(certif_load(A, b.data, b.len, CERTIF_USER, root.pub, NULL, &c, &why),
                     CERTIF_OK);
    ck_assert_ptr_null(c.author);
    ck_assert_int_eq(c.timestamp, T);
    ck_assert_str_eq(c.user.user_id, "alice");
    ck_assert_str_eq(c.user.human_email, "alice@example.com");
    ck_assert_str_eq(c.user.human_label, "Alice");
    ck_assert_mem_eq(c.user.public_key, f.public_key, 32);
    ck_assert(c.user.is_admin);
    ck_assert_int_eq(c.user.profile, CERTIF_PROFILE_ADMIN);
    ck_assert_ptr_eq(c.raw, b.data);
    ck_assert_uint_eq(c.payload_len, b.len - 64);

    /* another key: bad signature */
    ck_assert_int_eq(certif_load(A, b.data, b.len, CERTIF_USER, alice_key.pub, NULL, &c, &why),
                     CERTIF_BAD_SIGNATURE);
    /* expected as a device certificate */
    ck_assert_int_eq(certif_load(A, b.data, b.len, CERTIF_DEVICE, root.pub, NULL, &c, &why),
                     CERTIF_WRONG_TYPE);
    /* expected from a device: the author is null */
    ck_assert_int_eq(certif_load(A, b.data, b.len, CERTIF_USER, root.pub, "bob@dev1", &c, &why),
                     CERTIF_BAD_AUTHOR);
    /* every single-bit change of the blob is caught */
    for (size_t k = 0; k < b.len; k += 7) {
        b.data[k] ^= 0x01;
        ck_assert_int_ne(certif_load(A, b.data, b.len, CERTIF_USER, root.pub, NULL, &c, &why),
                         CERTIF_OK);
        b.data[k] ^= 0x01;
    }
    pclient_blob_free(&b);
}
END_TEST

START_TEST(root_signed_certificate_must_have_null_author)
{
    pclient_user_certif_t f = user_fields();
    f.author = "bob@dev1";
    pclient_blob_t b = pclient_user_certif(&root, &f, false);
    certif_t c;
    const char *why;
    ck_assert_int_eq(certif_load(A, b.data, b.len, CERTIF_USER, root.pub, NULL, &c, &why),
                     CERTIF_BAD_AUTHOR);
    /* but bob may sign as bob */
    ck_assert_int_eq(certif_load(A, b.data, b.len, CERTIF_USER, root.pub, "bob@dev1", &c, &why),
                     CERTIF_OK);
    ck_assert_str_eq(c.author, "bob@dev1");
    pclient_blob_free(&b);
}
END_TEST

START_TEST(device_revoked_and_role_certificates)
{
    certif_t c;
    const char *why;
    pclient_device_certif_t d = device_fields("bob@dev1");
    pclient_blob_t b = pclient_device_certif(&alice_key, &d, false);
    ck_assert_int_eq(
        certif_load(A, b.data, b.len, CERTIF_DEVICE, alice_key.pub, "bob@dev1", &c, &why),
        CERTIF_OK);
    ck_assert_str_eq(c.author, "bob@dev1");
    ck_assert_str_eq(c.device.device_id, "alice@dev1");
    ck_assert_str_eq(c.device.device_label, "Alice's laptop");
    ck_assert_mem_eq(c.device.verify_key, alice_key.pub, 32);
    ck_assert_int_eq(
        certif_load(A, b.data, b.len, CERTIF_DEVICE, alice_key.pub, "bob@dev2", &c, &why),
        CERTIF_BAD_AUTHOR);
    pclient_blob_free(&b);

    pclient_revoked_user_certif_t r = {"bob@dev1", T, "carol"};
    b = pclient_revoked_user_certif(&alice_key, &r);
    ck_assert_int_eq(
        certif_load(A, b.data, b.len, CERTIF_REVOKED_USER, alice_key.pub, "bob@dev1", &c, &why),
        CERTIF_OK);
    ck_assert_str_eq(c.revoked_user.user_id, "carol");
    pclient_blob_free(&b);

    pclient_realm_role_certif_t rr = {"bob@dev1", T, {0}, "carol", "CONTRIBUTOR"};
    for (int k = 0; k < 16; k++)
        rr.realm_id[k] = (uint8_t)(k * 17);
    b = pclient_realm_role_certif(&alice_key, &rr);
    ck_assert_int_eq(
        certif_load(A, b.data, b.len, CERTIF_REALM_ROLE, alice_key.pub, "bob@dev1", &c, &why),
        CERTIF_OK);
    ck_assert_str_eq(c.realm_role.user_id, "carol");
    ck_assert_int_eq(c.realm_role.role, CERTIF_ROLE_CONTRIBUTOR);
    ck_assert_str_eq(c.realm_role.realm_id.hex, "00112233445566778899aabbccddeeff");
    pclient_blob_free(&b);

    rr.role = NULL;
    b = pclient_realm_role_certif(&alice_key, &rr);
    ck_assert_int_eq(
        certif_load(A, b.data, b.len, CERTIF_REALM_ROLE, alice_key.pub, "bob@dev1", &c, &why),
        CERTIF_OK);
    ck_assert_int_eq(c.realm_role.role, CERTIF_ROLE_NONE);
    pclient_blob_free(&b);
}
END_TEST

/* Payloads that must be refused as malformed (all validly signed). */
static const char *const bad_payloads[] = {
    "",
    "{",
    "[]",
    "{}",
    "{\"type\":\"sequester_authority_certificate\"}",
    "{\"type\":\"user_certificate\"}",
    /* trailing garbage */
    "{\"type\":\"revoked_user_certificate\",\"author\":\"bob@dev1\","
    "\"timestamp\":\"2023-11-14T22:13:20.123456Z\",\"user_id\":\"carol\"}x",
    /* duplicate key */
    "{\"type\":\"revoked_user_certificate\",\"author\":\"bob@dev1\","
    "\"timestamp\":\"2023-11-14T22:13:20.123456Z\",\"user_id\":\"carol\",\"user_id\":\"dave\"}",
    /* unknown field */
    "{\"type\":\"revoked_user_certificate\",\"author\":\"bob@dev1\","
    "\"timestamp\":\"2023-11-14T22:13:20.123456Z\",\"user_id\":\"carol\",\"extra\":1}",
    /* null author on a revocation */
    "{\"type\":\"revoked_user_certificate\",\"author\":null,"
    "\"timestamp\":\"2023-11-14T22:13:20.123456Z\",\"user_id\":\"carol\"}",
    /* timestamp as a number */
    "{\"type\":\"revoked_user_certificate\",\"author\":\"bob@dev1\","
    "\"timestamp\":1700000000,\"user_id\":\"carol\"}",
    /* timestamp without microseconds */
    "{\"type\":\"revoked_user_certificate\",\"author\":\"bob@dev1\","
    "\"timestamp\":\"2023-11-14T22:13:20Z\",\"user_id\":\"carol\"}",
    /* invalid user id */
    "{\"type\":\"revoked_user_certificate\",\"author\":\"bob@dev1\","
    "\"timestamp\":\"2023-11-14T22:13:20.123456Z\",\"user_id\":\"ca rol\"}",
    /* invalid UTF-8 */
    "{\"type\":\"revoked_user_certificate\",\"author\":\"bob@dev1\","
    "\"timestamp\":\"2023-11-14T22:13:20.123456Z\",\"user_id\":\"car\xffol\"}",
    /* user: human_handle absent (Option fields are null, never absent) */
    "{\"type\":\"user_certificate\",\"author\":null,\"timestamp\":\"2023-11-14T22:13:20.123456Z\","
    "\"user_id\":\"alice\",\"public_key\":\"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\","
    "\"is_admin\":true,\"profile\":\"ADMIN\"}",
    /* user: is_admin disagrees with profile */
    "{\"type\":\"user_certificate\",\"author\":null,\"timestamp\":\"2023-11-14T22:13:20.123456Z\","
    "\"user_id\":\"alice\",\"human_handle\":null,"
    "\"public_key\":\"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\","
    "\"is_admin\":true,\"profile\":\"STANDARD\"}",
    /* user: public key of 31 bytes */
    "{\"type\":\"user_certificate\",\"author\":null,\"timestamp\":\"2023-11-14T22:13:20.123456Z\","
    "\"user_id\":\"alice\",\"human_handle\":null,"
    "\"public_key\":\"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBw==\","
    "\"is_admin\":false,\"profile\":\"STANDARD\"}",
    /* user: unknown profile */
    "{\"type\":\"user_certificate\",\"author\":null,\"timestamp\":\"2023-11-14T22:13:20.123456Z\","
    "\"user_id\":\"alice\",\"human_handle\":null,"
    "\"public_key\":\"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\","
    "\"is_admin\":false,\"profile\":\"GUEST\"}",
    /* user: human handle as a list (Parsec's msgpack tuple) */
    "{\"type\":\"user_certificate\",\"author\":null,\"timestamp\":\"2023-11-14T22:13:20.123456Z\","
    "\"user_id\":\"alice\",\"human_handle\":[\"a@b.c\",\"A\"],"
    "\"public_key\":\"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\","
    "\"is_admin\":false,\"profile\":\"STANDARD\"}",
    /* device: bad device id */
    "{\"type\":\"device_certificate\",\"author\":null,\"timestamp\":\"2023-11-14T22:13:20."
    "123456Z\","
    "\"device_id\":\"alice\",\"device_label\":null,"
    "\"verify_key\":\"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\"}",
    /* device: empty label */
    "{\"type\":\"device_certificate\",\"author\":null,\"timestamp\":\"2023-11-14T22:13:20."
    "123456Z\","
    "\"device_id\":\"alice@dev1\",\"device_label\":\"\","
    "\"verify_key\":\"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\"}",
    /* device: verify key in base64url */
    "{\"type\":\"device_certificate\",\"author\":null,\"timestamp\":\"2023-11-14T22:13:20."
    "123456Z\","
    "\"device_id\":\"alice@dev1\",\"device_label\":null,"
    "\"verify_key\":\"-wcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\"}",
    /* realm role: hyphenated UUID */
    "{\"type\":\"realm_role_certificate\",\"author\":\"bob@dev1\","
    "\"timestamp\":\"2023-11-14T22:13:20.123456Z\","
    "\"realm_id\":\"00112233-4455-6677-8899-aabbccddeeff\",\"user_id\":\"carol\",\"role\":null}",
    /* realm role: lowercase role */
    "{\"type\":\"realm_role_certificate\",\"author\":\"bob@dev1\","
    "\"timestamp\":\"2023-11-14T22:13:20.123456Z\","
    "\"realm_id\":\"00112233445566778899aabbccddeeff\",\"user_id\":\"carol\",\"role\":\"owner\"}",
    /* realm role: role absent */
    "{\"type\":\"realm_role_certificate\",\"author\":\"bob@dev1\","
    "\"timestamp\":\"2023-11-14T22:13:20.123456Z\","
    "\"realm_id\":\"00112233445566778899aabbccddeeff\",\"user_id\":\"carol\"}",
};

START_TEST(malformed_payloads_refused)
{
    certif_t c;
    const char *why = NULL;
    const char *p = bad_payloads[_i];
    certif_status st = CERTIF_OK;
    for (int t = CERTIF_USER; t <= CERTIF_REALM_ROLE; t++) {
        st = load_text(p, &alice_key, (certif_type)t, "bob@dev1", &c, &why);
        ck_assert_msg(st == CERTIF_MALFORMED, "payload %d as type %d: status %d", _i, t, st);
        ck_assert_ptr_nonnull(why);
    }
    /* also without the signature check */
    pclient_blob_t b = pclient_signed(&alice_key, p, strlen(p));
    ck_assert_int_eq(certif_parse(A, b.data, b.len, &c, &why), CERTIF_MALFORMED);
    pclient_blob_free(&b);
}
END_TEST

START_TEST(well_formed_text_payload_accepted)
{
    /* the same shapes as above, written by hand, are accepted */
    certif_t c;
    const char *why = NULL;
    const char *p = "{\"type\":\"revoked_user_certificate\",\"author\":\"bob@dev1\","
                    "\"timestamp\":\"2023-11-14T22:13:20.123456Z\",\"user_id\":\"carol\"}  ";
    ck_assert_int_eq(load_text(p, &alice_key, CERTIF_REVOKED_USER, "bob@dev1", &c, &why),
                     CERTIF_OK);
    ck_assert_int_eq(c.timestamp, T);
}
END_TEST

START_TEST(sizes_refused)
{
    certif_t c;
    const char *why;
    uint8_t small[64] = {0};
    ck_assert_int_eq(certif_parse(A, small, 0, &c, &why), CERTIF_MALFORMED);
    ck_assert_int_eq(certif_parse(A, small, 63, &c, &why), CERTIF_MALFORMED);
    ck_assert_int_eq(certif_parse(A, small, 64, &c, &why), CERTIF_MALFORMED);
    ck_assert(!certif_signature_ok(small, 63, root.pub));

    /* a valid certificate padded past the bound with whitespace */
    pclient_revoked_user_certif_t r = {"bob@dev1", T, "carol"};
    char *payload = pclient_revoked_user_certif_payload(&r);
    size_t plen = strlen(payload);
    char *big = malloc(CERTIF_MAX_PAYLOAD + 2);
    memcpy(big, payload, plen);
    memset(big + plen, ' ', CERTIF_MAX_PAYLOAD + 1 - plen);
    big[CERTIF_MAX_PAYLOAD + 1] = '\0';
    ck_assert_int_eq(load_text(big, &alice_key, CERTIF_REVOKED_USER, "bob@dev1", &c, &why),
                     CERTIF_MALFORMED);
    big[CERTIF_MAX_PAYLOAD] = '\0'; /* exactly at the bound: fine */
    ck_assert_int_eq(load_text(big, &alice_key, CERTIF_REVOKED_USER, "bob@dev1", &c, &why),
                     CERTIF_OK);
    free(big);
    free(payload);
}
END_TEST

START_TEST(truncated_signature_refused)
{
    pclient_revoked_user_certif_t r = {"bob@dev1", T, "carol"};
    pclient_blob_t b = pclient_revoked_user_certif(&alice_key, &r);
    certif_t c;
    const char *why;
    /* drop the first signature byte: the payload shifts into the signature */
    ck_assert_int_ne(certif_load(A, b.data + 1, b.len - 1, CERTIF_REVOKED_USER, alice_key.pub,
                                 "bob@dev1", &c, &why),
                     CERTIF_OK);
    /* drop the payload's last byte */
    ck_assert_int_eq(
        certif_load(A, b.data, b.len - 1, CERTIF_REVOKED_USER, alice_key.pub, "bob@dev1", &c, &why),
        CERTIF_MALFORMED);
    pclient_blob_free(&b);
}
END_TEST

START_TEST(redacted_consistency)
{
    certif_t u, ru, d, rd, other;
    const char *why;
    pclient_user_certif_t f = user_fields();
    pclient_blob_t bu = pclient_user_certif(&root, &f, false);
    pclient_blob_t bru = pclient_user_certif(&root, &f, true);
    ck_assert_int_eq(certif_parse(A, bu.data, bu.len, &u, &why), CERTIF_OK);
    ck_assert_int_eq(certif_parse(A, bru.data, bru.len, &ru, &why), CERTIF_OK);
    ck_assert_ptr_null(ru.user.human_email);
    ck_assert(certif_user_redacted_ok(&u, &ru, &why));
    /* "redacted" that still carries the human handle */
    ck_assert(!certif_user_redacted_ok(&u, &u, &why));
    /* one field differs */
    pclient_user_certif_t g = f;
    g.timestamp++;
    pclient_blob_t bx = pclient_user_certif(&root, &g, true);
    ck_assert_int_eq(certif_parse(A, bx.data, bx.len, &other, &why), CERTIF_OK);
    ck_assert(!certif_user_redacted_ok(&u, &other, &why));
    pclient_blob_free(&bx);
    g = f;
    g.profile = "STANDARD";
    bx = pclient_user_certif(&root, &g, true);
    ck_assert_int_eq(certif_parse(A, bx.data, bx.len, &other, &why), CERTIF_OK);
    ck_assert(!certif_user_redacted_ok(&u, &other, &why));
    pclient_blob_free(&bx);
    g = f;
    g.public_key[31] ^= 1;
    bx = pclient_user_certif(&root, &g, true);
    ck_assert_int_eq(certif_parse(A, bx.data, bx.len, &other, &why), CERTIF_OK);
    ck_assert(!certif_user_redacted_ok(&u, &other, &why));
    pclient_blob_free(&bx);
    g = f;
    g.user_id = "alice2";
    bx = pclient_user_certif(&root, &g, true);
    ck_assert_int_eq(certif_parse(A, bx.data, bx.len, &other, &why), CERTIF_OK);
    ck_assert(!certif_user_redacted_ok(&u, &other, &why));
    pclient_blob_free(&bx);
    g = f;
    g.author = "x@y";
    bx = pclient_user_certif(&root, &g, true);
    ck_assert_int_eq(certif_parse(A, bx.data, bx.len, &other, &why), CERTIF_OK);
    ck_assert(!certif_user_redacted_ok(&u, &other, &why));
    pclient_blob_free(&bx);

    pclient_device_certif_t df = device_fields(NULL);
    pclient_blob_t bd = pclient_device_certif(&root, &df, false);
    pclient_blob_t brd = pclient_device_certif(&root, &df, true);
    ck_assert_int_eq(certif_parse(A, bd.data, bd.len, &d, &why), CERTIF_OK);
    ck_assert_int_eq(certif_parse(A, brd.data, brd.len, &rd, &why), CERTIF_OK);
    ck_assert(certif_device_redacted_ok(&d, &rd, &why));
    ck_assert(!certif_device_redacted_ok(&d, &d, &why));
    ck_assert(!certif_device_redacted_ok(&u, &rd, &why));
    ck_assert(!certif_user_redacted_ok(&d, &rd, &why));
    pclient_device_certif_t dg = df;
    dg.verify_key[0] ^= 1;
    bx = pclient_device_certif(&root, &dg, true);
    ck_assert_int_eq(certif_parse(A, bx.data, bx.len, &other, &why), CERTIF_OK);
    ck_assert(!certif_device_redacted_ok(&d, &other, &why));
    pclient_blob_free(&bx);
    dg = df;
    dg.device_id = "alice@dev2";
    bx = pclient_device_certif(&root, &dg, true);
    ck_assert_int_eq(certif_parse(A, bx.data, bx.len, &other, &why), CERTIF_OK);
    ck_assert(!certif_device_redacted_ok(&d, &other, &why));
    pclient_blob_free(&bx);

    /* a device certificate without label is its own redacted version */
    df.device_label = NULL;
    pclient_blob_t bn = pclient_device_certif(&root, &df, false);
    ck_assert_int_eq(certif_parse(A, bn.data, bn.len, &d, &why), CERTIF_OK);
    ck_assert(certif_device_redacted_ok(&d, &rd, &why));
    pclient_blob_free(&bn);

    pclient_blob_free(&bu);
    pclient_blob_free(&bru);
    pclient_blob_free(&bd);
    pclient_blob_free(&brd);
}
END_TEST

START_TEST(client_devices_carry_valid_certificates)
{
    /* pclient's bootstrap device and a user it creates load as the
     * server will load them */
    int64_t now = pclient_now_us();
    pclient_device_t *admin = pclient_user_new("Org", "admin@pc", "ADMIN", "admin@example.com",
                                               "Admin", "PC", NULL, &root, now);
    pclient_device_t *bob =
        pclient_user_new("Org", "bob@phone", "OUTSIDER", NULL, NULL, NULL, admin, NULL, now);
    pclient_device_t *admin2 = pclient_device_new(admin, "laptop", "Laptop", admin, now);
    certif_t u, ru, d, rd;
    const char *why;
    ck_assert_int_eq(certif_load(A, admin->user_certificate.data, admin->user_certificate.len,
                                 CERTIF_USER, root.pub, NULL, &u, &why),
                     CERTIF_OK);
    ck_assert_int_eq(certif_load(A, admin->redacted_user_certificate.data,
                                 admin->redacted_user_certificate.len, CERTIF_USER, root.pub, NULL,
                                 &ru, &why),
                     CERTIF_OK);
    ck_assert(certif_user_redacted_ok(&u, &ru, &why));
    ck_assert_int_eq(certif_load(A, admin->device_certificate.data, admin->device_certificate.len,
                                 CERTIF_DEVICE, root.pub, NULL, &d, &why),
                     CERTIF_OK);
    ck_assert_mem_eq(d.device.verify_key, admin->key.pub, 32);
    ck_assert_int_eq(certif_load(A, admin->redacted_device_certificate.data,
                                 admin->redacted_device_certificate.len, CERTIF_DEVICE, root.pub,
                                 NULL, &rd, &why),
                     CERTIF_OK);
    ck_assert(certif_device_redacted_ok(&d, &rd, &why));

    ck_assert_int_eq(certif_load(A, bob->user_certificate.data, bob->user_certificate.len,
                                 CERTIF_USER, admin->key.pub, "admin@pc", &u, &why),
                     CERTIF_OK);
    ck_assert_int_eq(u.user.profile, CERTIF_PROFILE_OUTSIDER);
    ck_assert(!u.user.is_admin);
    ck_assert_ptr_null(u.user.human_email);
    ck_assert_int_eq(certif_load(A, admin2->device_certificate.data, admin2->device_certificate.len,
                                 CERTIF_DEVICE, admin->key.pub, "admin@pc", &d, &why),
                     CERTIF_OK);
    ck_assert_str_eq(d.device.device_id, "admin@laptop");

    json_object *req = pclient_req_user_revoke(admin, "bob", now);
    json_object *v;
    ck_assert(json_object_object_get_ex(req, "revoked_user_certificate", &v));
    pclient_device_free(admin);
    pclient_device_free(bob);
    pclient_device_free(admin2);
    json_object_put(req);
}
END_TEST

START_TEST(names)
{
    certif_profile p;
    certif_role r;
    ck_assert_str_eq(certif_type_name(CERTIF_REALM_ROLE), "realm_role_certificate");
    ck_assert_str_eq(certif_profile_name(CERTIF_PROFILE_OUTSIDER), "OUTSIDER");
    ck_assert_ptr_null(certif_role_name(CERTIF_ROLE_NONE));
    ck_assert_str_eq(certif_role_name(CERTIF_ROLE_READER), "READER");
    ck_assert(certif_profile_from_name("STANDARD", &p));
    ck_assert_int_eq(p, CERTIF_PROFILE_STANDARD);
    ck_assert(!certif_profile_from_name("standard", &p));
    ck_assert(certif_role_from_name(NULL, &r));
    ck_assert_int_eq(r, CERTIF_ROLE_NONE);
    ck_assert(certif_role_from_name("MANAGER", &r));
    ck_assert_int_eq(r, CERTIF_ROLE_MANAGER);
    ck_assert(!certif_role_from_name("", &r));
}
END_TEST

TEST_SUITE(certif)
{
    Suite *s = suite_create("certif");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, user_certificate_root_signed);
    tcase_add_test(tc, root_signed_certificate_must_have_null_author);
    tcase_add_test(tc, device_revoked_and_role_certificates);
    tcase_add_loop_test(tc, malformed_payloads_refused, 0,
                        (int)(sizeof bad_payloads / sizeof bad_payloads[0]));
    tcase_add_test(tc, well_formed_text_payload_accepted);
    tcase_add_test(tc, sizes_refused);
    tcase_add_test(tc, truncated_signature_refused);
    tcase_add_test(tc, redacted_consistency);
    tcase_add_test(tc, client_devices_carry_valid_certificates);
    tcase_add_test(tc, names);
    suite_add_tcase(s, tc);
    return s;
}
