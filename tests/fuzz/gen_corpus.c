/*
 * tests/fuzz/gen_corpus.c - writes the seed corpora of tests/fuzz/corpus/
 * (certif, request, conduit, sequester)
 *
 * Not built by default (the fuzz targets are tests/fuzz/fuzz_*.c).  Ed25519
 * is deterministic and the signing key is fixed (seed 0x01 * 32, whose verify
 * key fuzz_certif.c uses), so the certificate seeds come out identical on
 * every run; the two request seeds built from a pclient device differ (its
 * keys are random), which does not matter to a seed.
 *
 *   cc -std=c11 -D_GNU_SOURCE -Itests/lib $(pkg-config --cflags json-c) \
 *      -o /tmp/gen_corpus tests/fuzz/gen_corpus.c tests/lib/pclient.c \
 *      $(pkg-config --libs json-c libcurl openssl) -lpthread
 *   /tmp/gen_corpus          # from the repository root
 *   /tmp/gen_corpus sequester    # only the sequester and PKI request seeds
 *
 * The sequester seeds (RSA keys in each form, a signed blob, service
 * certificate payloads) are random keys: a new run writes other bytes.
 */
#include "pclient.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put(const char *dir, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void put_blob(const char *dir, const char *name, pclient_blob_t b)
{
    put(dir, name, b.data, b.len);
    pclient_blob_free(&b);
}

static void put_text(const char *dir, const char *name, const char *s)
{
    put(dir, name, s, strlen(s));
}

static void put_json(const char *dir, const char *name, json_object *o)
{
    put_text(
        dir, name,
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
}

static void put_signed(const char *dir, const char *name, const pclient_key_t *k,
                       const char *payload)
{
    put_blob(dir, name, pclient_signed(k, payload, strlen(payload)));
}

/* A mode byte (fuzz_sequester.c) then data. */
static void put_mode(const char *dir, const char *name, uint8_t mode, const void *data, size_t len)
{
    uint8_t *b = malloc(len + 1);
    b[0] = mode;
    memcpy(b + 1, data, len);
    put(dir, name, b, len + 1);
    free(b);
}

static void put_bio(const char *dir, const char *name, uint8_t mode, BIO *bio)
{
    char *p;
    long n = BIO_get_mem_data(bio, &p);
    put_mode(dir, name, mode, p, (size_t)n);
    BIO_free(bio);
}

static void sequester_seeds(void)
{
    const char *d = "tests/fuzz/corpus/sequester";
    EVP_PKEY *k = EVP_RSA_gen(1024);
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(k, &der);
    put_mode(d, "key-spki-der", 0, der, (size_t)n);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, k);
    put_bio(d, "key-spki-pem", 0, b);
    unsigned char *pk1 = NULL;
    int n1 = i2d_PublicKey(k, &pk1);
    put_mode(d, "key-pkcs1-der", 0, pk1, (size_t)n1);
    OPENSSL_free(pk1);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    put_bio(d, "private-pem", 3, b);
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    unsigned char *ecder = NULL;
    int ecn = i2d_PUBKEY(ec, &ecder);
    put_mode(d, "key-ec-der", 0, ecder, (size_t)ecn);
    OPENSSL_free(ecder);
    EVP_PKEY_free(ec);
    /* a signed blob: prefix, 128 bytes, payload */
    uint8_t blob[18 + 128 + 2];
    memcpy(blob, "RSASSA-PSS-SHA256:", 18);
    memset(blob + 18, 0x5a, 128);
    memcpy(blob + 18 + 128, "{}", 2);
    put_mode(d, "signed", 1, blob, sizeof blob);
    /* service certificate payloads */
    char *b64 = pclient_b64(der, (size_t)n);
    char *good = NULL;
    if (asprintf(&good,
                 "{\"type\":\"sequester_service_certificate\",\"timestamp\":"
                 "\"2023-11-14T22:13:20.123456Z\",\"service_id\":"
                 "\"00112233445566778899aabbccddeeff\",\"service_label\":\"Service\","
                 "\"encryption_key_der\":\"%s\"}",
                 b64) < 0)
        exit(1);
    put_mode(d, "service-payload", 2, good, strlen(good));
    put_mode(d, "service-payload-bad", 2, "{\"type\":\"sequester_service_certificate\"}", 40);
    free(good);
    free(b64);
    OPENSSL_free(der);
    EVP_PKEY_free(k);

    /* PKI requests */
    const char *q = "tests/fuzz/corpus/request";
    put_text(q, "pki-submit",
             "{\"cmd\":\"pki_enrollment_submit\",\"enrollment_id\":"
             "\"00112233445566778899aabbccddeeff\",\"force\":false,"
             "\"submitter_der_x509_certificate\":\"AAEC\","
             "\"submitter_der_x509_certificate_email\":\"a@b.example\","
             "\"submit_payload_signature\":\"AAEC\",\"submit_payload\":\"e30=\"}");
    put_text(q, "pki-accept",
             "{\"cmd\":\"pki_enrollment_accept\",\"enrollment_id\":"
             "\"00112233445566778899aabbccddeeff\",\"accepter_der_x509_certificate\":\"AAEC\","
             "\"accept_payload_signature\":\"AAEC\",\"accept_payload\":\"e30=\","
             "\"user_certificate\":\"AAEC\",\"device_certificate\":\"AAEC\","
             "\"redacted_user_certificate\":\"AAEC\",\"redacted_device_certificate\":\"AAEC\"}");
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "sequester") == 0) {
        sequester_seeds();
        return 0;
    }
    sequester_seeds();
    uint8_t seed[32];
    memset(seed, 1, sizeof seed);
    pclient_key_t k;
    pclient_key_from_seed(&k, seed);
    const int64_t t = INT64_C(1700000000123456);

    const char *c = "tests/fuzz/corpus/certif";
    pclient_user_certif_t u = {NULL, t, "alice", "alice@example.com", "Alice", {0}, "ADMIN", -1};
    memset(u.public_key, 7, 32);
    put_blob(c, "user-root", pclient_user_certif(&k, &u, false));
    put_blob(c, "user-root-redacted", pclient_user_certif(&k, &u, true));
    pclient_user_certif_t u2 = u;
    u2.author = "admin@pc";
    u2.profile = "OUTSIDER";
    u2.human_email = NULL;
    put_blob(c, "user-outsider-by-device", pclient_user_certif(&k, &u2, false));
    pclient_device_certif_t d = {NULL, t, "alice@dev1", "Alice's laptop \xf0\x9f\x92\xbb", {0}};
    memcpy(d.verify_key, k.pub, 32);
    put_blob(c, "device-root", pclient_device_certif(&k, &d, false));
    put_blob(c, "device-root-redacted", pclient_device_certif(&k, &d, true));
    pclient_revoked_user_certif_t r = {"admin@pc", t, "bob"};
    put_blob(c, "revoked-user", pclient_revoked_user_certif(&k, &r));
    pclient_realm_role_certif_t rr = {"alice@dev1", t, {0}, "bob", "MANAGER"};
    for (int i = 0; i < 16; i++)
        rr.realm_id[i] = (uint8_t)(i * 17);
    put_blob(c, "realm-role", pclient_realm_role_certif(&k, &rr));
    rr.role = NULL;
    put_blob(c, "realm-role-removed", pclient_realm_role_certif(&k, &rr));
    put_signed(c, "bad-duplicate-key", &k,
               "{\"type\":\"revoked_user_certificate\",\"author\":\"bob@dev1\","
               "\"timestamp\":\"2023-11-14T22:13:20.123456Z\",\"user_id\":\"carol\","
               "\"user_id\":\"dave\"}");
    put_signed(c, "bad-unknown-type", &k,
               "{\"type\":\"sequester_authority_certificate\",\"author\":null,"
               "\"timestamp\":\"2023-11-14T22:13:20.123456Z\"}");
    put_signed(c, "bad-utf8", &k,
               "{\"type\":\"revoked_user_certificate\",\"author\":\"bob@dev1\","
               "\"timestamp\":\"2023-11-14T22:13:20.123456Z\",\"user_id\":\"ca\xc0\xafrol\"}");
    put(c, "bad-short", "0123456789", 10);

    const char *q = "tests/fuzz/corpus/request";
    put_text(q, "ping", "{\"cmd\":\"ping\",\"ping\":\"hello\"}");
    pclient_device_t *dev = pclient_user_new("Org", "alice@dev1", "ADMIN", "alice@example.com",
                                             "Alice", "PC", NULL, &k, t);
    put_json(q, "organization-bootstrap",
             pclient_req_bootstrap(
                 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", &k, dev));
    put_json(q, "user-revoke", pclient_req_user_revoke(dev, "bob", t));
    pclient_device_free(dev);
    put_text(q, "human-find",
             "{\"cmd\":\"human_find\",\"query\":null,\"omit_revoked\":true,"
             "\"omit_non_human\":false,\"page\":1,\"per_page\":100}");
    put_text(q, "vlob-read",
             "{\"cmd\":\"vlob_read\",\"encryption_revision\":1,"
             "\"vlob_id\":\"00112233445566778899aabbccddeeff\",\"version\":null,"
             "\"timestamp\":\"2023-11-14T22:13:20.123456Z\"}");
    put_text(q, "save-batch",
             "{\"cmd\":\"vlob_maintenance_save_reencryption_batch\","
             "\"realm_id\":\"00112233445566778899aabbccddeeff\",\"encryption_revision\":2,"
             "\"batch\":[{\"vlob_id\":\"00112233445566778899aabbccddeeff\",\"version\":1,"
             "\"blob\":\"AAECAw==\"}]}");
    put_text(q, "start-reencryption",
             "{\"cmd\":\"realm_start_reencryption_maintenance\","
             "\"realm_id\":\"00112233445566778899aabbccddeeff\",\"encryption_revision\":2,"
             "\"timestamp\":\"2023-11-14T22:13:20.123456Z\","
             "\"per_participant_message\":{\"alice\":\"AQ==\",\"bob\":\"Ag==\"}}");
    put_text(q, "vlob-create-sequester",
             "{\"cmd\":\"vlob_create\",\"realm_id\":\"00112233445566778899aabbccddeeff\","
             "\"encryption_revision\":1,\"vlob_id\":\"ffeeddccbbaa99887766554433221100\","
             "\"timestamp\":\"2023-11-14T22:13:20.123456Z\",\"blob\":\"AAECAw==\","
             "\"sequester_blob\":{\"0123456789abcdef0123456789abcdef\":\"AQ==\"}}");
    put_text(q, "vlob-update",
             "{\"cmd\":\"vlob_update\",\"encryption_revision\":1,"
             "\"vlob_id\":\"ffeeddccbbaa99887766554433221100\","
             "\"timestamp\":\"2023-11-14T22:13:20.123456Z\",\"version\":2,\"blob\":\"\","
             "\"sequester_blob\":null}");
    put_text(q, "vlob-poll",
             "{\"cmd\":\"vlob_poll_changes\",\"realm_id\":\"00112233445566778899aabbccddeeff\","
             "\"last_checkpoint\":9223372036854775806}");
    put_text(q, "get-batch",
             "{\"cmd\":\"vlob_maintenance_get_reencryption_batch\","
             "\"realm_id\":\"00112233445566778899aabbccddeeff\",\"encryption_revision\":2,"
             "\"size\":1000}");
    put_text(q, "realm-update-roles",
             "{\"cmd\":\"realm_update_roles\",\"role_certificate\":\"AAECAw==\","
             "\"recipient_message\":\"\"}");
    put_text(q, "message-get", "{\"cmd\":\"message_get\",\"offset\":0}");
    put_text(q, "invite-new",
             "{\"cmd\":\"invite_new\",\"type\":\"USER\",\"claimer_email\":\"zack@example.com\","
             "\"send_email\":false}");
    put_text(q, "invite-new-device",
             "{\"cmd\":\"invite_new\",\"type\":\"DEVICE\",\"send_email\":true}");
    put_text(q, "invite-list", "{\"cmd\":\"invite_list\"}");
    put_text(q, "invite-info", "{\"cmd\":\"invite_info\"}");
    put_text(q, "invite-delete",
             "{\"cmd\":\"invite_delete\",\"token\":\"00112233445566778899aabbccddeeff\","
             "\"reason\":\"FINISHED\"}");
    put_text(
        q, "invite-greeter-1",
        "{\"cmd\":\"invite_1_greeter_wait_peer\",\"token\":\"00112233445566778899aabbccddeeff\","
        "\"greeter_public_key\":\"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\"}");
    put_text(
        q, "invite-greeter-2b",
        "{\"cmd\":\"invite_2b_greeter_send_nonce\",\"token\":\"00112233445566778899aabbccddeeff\","
        "\"greeter_nonce\":\"bm9uY2U=\"}");
    put_text(q, "invite-claimer-2a",
             "{\"cmd\":\"invite_2a_claimer_send_hashed_nonce\","
             "\"claimer_hashed_nonce\":\"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\"}");
    put_text(q, "invite-claimer-4", "{\"cmd\":\"invite_4_claimer_communicate\",\"payload\":\"\"}");
    put_text(q, "nested-handle",
             "{\"cmd\":\"x\",\"hh\":{\"email\":\"a@b.c\",\"label\":\"A\"},\"lst\":[{\"a\":1}],"
             "\"obj\":{\"b\":true}}");
    put_text(q, "bad-duplicate-cmd", "{\"cmd\":\"ping\",\"cmd\":\"user_create\"}");
    put_text(q, "bad-single-quotes", "{'cmd':'ping'}");
    put_text(q, "bad-nan", "{\"cmd\":\"ping\",\"n\":NaN}");
    put_text(q, "bad-surrogate", "{\"cmd\":\"ping\",\"ping\":\"\\ud800\"}");
    put_text(q, "bad-no-cmd", "{\"ping\":\"x\"}");
    char *token = pclient_auth_token("Org", "alice@dev1", &k, 1700000000);
    char header[400];
    snprintf(header, sizeof header, "PARSEC-SIGN-ED25519 %s", token);
    free(token);
    put_text(q, "authorization", header);
    put_text(q, "datetime", "2023-11-14T22:13:20.123456Z");
    put_text(q, "api-version", "3.2");

    /* fuzz_conduit: two bytes a call, (side | step << 1, payload index) */
    const char *cd = "tests/fuzz/corpus/conduit";
    enum { G = 0, C = 1 };
#define OP(side, step, pl) (uint8_t)((side) | (step) << 1), (uint8_t)(pl)
    static const uint8_t greeter_first[] = {
        OP(G, 0, 5), OP(C, 0, 4), OP(G, 0, 5), OP(G, 1, 0), OP(C, 1, 5), OP(G, 1, 0),
        OP(G, 2, 6), OP(C, 1, 5), OP(C, 2, 6), OP(G, 2, 6), OP(G, 3, 0), OP(C, 3, 0),
        OP(G, 3, 0), OP(G, 4, 0), OP(C, 4, 0), OP(G, 4, 0), OP(G, 5, 7), OP(C, 5, 2),
        OP(G, 5, 7), OP(G, 5, 4), OP(C, 5, 0), OP(G, 5, 4)};
    static const uint8_t claimer_first[] = {
        OP(C, 0, 5), OP(G, 0, 4), OP(C, 0, 5), OP(C, 1, 5), OP(G, 1, 0), OP(C, 1, 5), OP(G, 2, 6),
        OP(C, 1, 5), OP(C, 2, 6), OP(G, 2, 6), OP(C, 3, 0), OP(G, 3, 0), OP(C, 3, 0), OP(C, 4, 0),
        OP(G, 4, 0), OP(C, 4, 0), OP(C, 5, 7), OP(G, 5, 0), OP(G, 5, 0), OP(C, 5, 7), OP(G, 5, 0)};
    static const uint8_t resets[] = {OP(G, 0, 5), OP(C, 0, 4), OP(C, 0, 2), OP(G, 1, 0),
                                     OP(G, 0, 4), OP(C, 1, 5), OP(C, 0, 4)};
#undef OP
    put(cd, "greeter_first", greeter_first, sizeof greeter_first);
    put(cd, "claimer_first", claimer_first, sizeof claimer_first);
    put(cd, "resets", resets, sizeof resets);
    return 0;
}
