/*
 * tests/unit/test_sequester.c - common/sequester: the forms of RSA keys
 * accepted and refused, RSASSA-PSS-SHA256 signatures (salt lengths, padding
 * to the modulus, forgeries), service certificates
 * (parsec-2.12-behaviour.md 15.2, 15.4, 15.6; Parsec's test_crypto.py)
 */
#include "arena.h"
#include "sequester.h"
#include "testreg.h"

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

static EVP_PKEY *rsa1024;

static void setup(void)
{
    if (!rsa1024)
        rsa1024 = EVP_RSA_gen(1024);
    ck_assert_ptr_nonnull(rsa1024);
}

/* key encoded by enc into a malloc'd buffer. */
static uint8_t *bio_out(int (*enc)(BIO *, EVP_PKEY *), EVP_PKEY *key, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    ck_assert_int_eq(enc(b, key), 1);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    uint8_t *out = malloc((size_t)n);
    memcpy(out, p, (size_t)n);
    *len = (size_t)n;
    BIO_free(b);
    return out;
}

static int pem_pub(BIO *b, EVP_PKEY *k)
{
    return PEM_write_bio_PUBKEY(b, k);
}
static int der_pkcs1(BIO *b, EVP_PKEY *k)
{
    unsigned char *der = NULL;
    int n = i2d_PublicKey(k, &der); /* PKCS#1 RSAPublicKey for RSA */
    int ok = n > 0 && BIO_write(b, der, n) == n;
    OPENSSL_free(der);
    return ok;
}
static int pem_priv(BIO *b, EVP_PKEY *k)
{
    return PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
}

/* The key in every accepted form loads, and is the same key. */
START_TEST(public_key_forms)
{
    uint8_t *spki = NULL;
    size_t spki_len = sequester_key_der(rsa1024, &spki);
    ck_assert_uint_gt(spki_len, 100);
    int (*encs[])(BIO *, EVP_PKEY *) = {pem_pub, der_pkcs1};
    const char *why = NULL;
    EVP_PKEY *k = sequester_public_key_load(spki, spki_len, &why);
    ck_assert_ptr_nonnull(k);
    ck_assert_int_eq(EVP_PKEY_eq(k, rsa1024), 1);
    EVP_PKEY_free(k);
    for (size_t i = 0; i < 2; i++) {
        size_t n;
        uint8_t *b = bio_out(encs[i], rsa1024, &n);
        k = sequester_public_key_load(b, n, &why);
        ck_assert_msg(k != NULL, "form %zu", i);
        uint8_t *again = NULL;
        size_t again_len = sequester_key_der(k, &again);
        ck_assert_uint_eq(again_len, spki_len);
        ck_assert_mem_eq(again, spki, spki_len);
        OPENSSL_free(again);
        EVP_PKEY_free(k);
        free(b);
    }
    /* an X.509 certificate's key */
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, rsa1024);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"svc", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    ck_assert_int_gt(X509_sign(x, rsa1024, EVP_sha256()), 0);
    unsigned char *xder = NULL;
    int xn = i2d_X509(x, &xder);
    k = sequester_public_key_load(xder, (size_t)xn, &why);
    ck_assert_ptr_nonnull(k);
    ck_assert_int_eq(EVP_PKEY_eq(k, rsa1024), 1);
    EVP_PKEY_free(k);
    OPENSSL_free(xder);
    X509_free(x);
    /* the private key loads as a key pair */
    size_t n;
    uint8_t *priv = bio_out(pem_priv, rsa1024, &n);
    k = sequester_private_key_load(priv, n, &why);
    ck_assert_ptr_nonnull(k);
    EVP_PKEY_free(k);
    /* ...but a public key is no private key */
    ck_assert_ptr_null(sequester_private_key_load(spki, spki_len, &why));
    free(priv);
    OPENSSL_free(spki);
}
END_TEST

static EVP_PKEY *rsa_pss_key(void)
{
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "RSA-PSS", NULL);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(EVP_PKEY_keygen_init(c), 1);
    ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_keygen_bits(c, 1024), 1);
    ck_assert_int_eq(EVP_PKEY_keygen(c, &k), 1);
    EVP_PKEY_CTX_free(c);
    return k;
}

/* Not RSA, RSA-PSS-restricted, truncated, trailing bytes, empty, huge. */
START_TEST(public_key_refusals)
{
    const char *why = NULL;
    EVP_PKEY *others[] = {EVP_EC_gen("P-256"), EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"),
                          rsa_pss_key()};
    for (size_t i = 0; i < 3; i++) {
        ck_assert_msg(others[i] != NULL, "key %zu", i);
        uint8_t *der = NULL;
        size_t n = sequester_key_der(others[i], &der);
        ck_assert_uint_gt(n, 0);
        ck_assert_msg(sequester_public_key_load(der, n, &why) == NULL, "key type %zu", i);
        ck_assert_str_eq(why, "not an RSA key");
        OPENSSL_free(der);
        EVP_PKEY_free(others[i]);
    }
    uint8_t *der = NULL;
    size_t n = sequester_key_der(rsa1024, &der);
    ck_assert_ptr_null(sequester_public_key_load(der, n - 1, &why));
    uint8_t *longer = malloc(n + 1);
    memcpy(longer, der, n);
    longer[n] = 0;
    ck_assert_ptr_null(sequester_public_key_load(longer, n + 1, &why));
    ck_assert_ptr_null(sequester_public_key_load(der, 0, &why));
    uint8_t *huge = calloc(1, SEQUESTER_KEY_INPUT_MAX + 1);
    ck_assert_ptr_null(sequester_public_key_load(huge, SEQUESTER_KEY_INPUT_MAX + 1, &why));
    ck_assert_str_eq(why, "key of 0 or too many bytes");
    ck_assert_ptr_null(sequester_public_key_load("garbage", 7, &why));
    free(huge);
    free(longer);
    OPENSSL_free(der);
}
END_TEST

/* Sign then verify; the output is prefix || k bytes || payload. */
START_TEST(sign_verify)
{
    size_t n;
    uint8_t *s = sequester_sign(rsa1024, "hello", 5, &n);
    ck_assert_ptr_nonnull(s);
    size_t k = (size_t)EVP_PKEY_get_size(rsa1024);
    ck_assert_uint_eq(k, 128);
    ck_assert_uint_eq(n, strlen(SEQUESTER_SIGNATURE_PREFIX) + k + 5);
    ck_assert_mem_eq(s, SEQUESTER_SIGNATURE_PREFIX, strlen(SEQUESTER_SIGNATURE_PREFIX));
    ck_assert_mem_eq(s + n - 5, "hello", 5);
    const uint8_t *p;
    size_t plen;
    ck_assert(sequester_verify(rsa1024, s, n, &p, &plen));
    ck_assert_uint_eq(plen, 5);
    ck_assert_mem_eq(p, "hello", 5);
    /* any flipped byte: signature, payload, prefix */
    size_t where[] = {0, strlen(SEQUESTER_SIGNATURE_PREFIX) + 3, n - 1};
    for (size_t i = 0; i < 3; i++) {
        s[where[i]] ^= 1;
        ck_assert(!sequester_verify(rsa1024, s, n, &p, &plen));
        ck_assert_ptr_null(p);
        s[where[i]] ^= 1;
    }
    /* too short for the signature, another key */
    ck_assert(!sequester_verify(rsa1024, s, strlen(SEQUESTER_SIGNATURE_PREFIX) + k - 1, &p, &plen));
    EVP_PKEY *other = EVP_RSA_gen(1024);
    ck_assert(!sequester_verify(other, s, n, &p, &plen));
    /* an empty payload is signed too */
    uint8_t *e = sequester_sign(rsa1024, "", 0, &n);
    ck_assert(sequester_verify(rsa1024, e, n, &p, &plen));
    ck_assert_uint_eq(plen, 0);
    free(e);
    EVP_PKEY_free(other);
    free(s);
}
END_TEST

/* The verifier detects the salt length: Parsec under OpenSSL 3 signs with
 * the maximum salt, not 32 bytes. */
START_TEST(verify_any_salt)
{
    int salts[] = {0, 20, 32, RSA_PSS_SALTLEN_MAX};
    size_t k = (size_t)EVP_PKEY_get_size(rsa1024);
    size_t pre = strlen(SEQUESTER_SIGNATURE_PREFIX);
    for (size_t i = 0; i < 4; i++) {
        uint8_t buf[512];
        memcpy(buf, SEQUESTER_SIGNATURE_PREFIX, pre);
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        EVP_PKEY_CTX *pctx = NULL;
        ck_assert_int_eq(EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, rsa1024), 1);
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256());
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salts[i]);
        size_t siglen = k;
        ck_assert_int_eq(EVP_DigestSign(md, buf + pre, &siglen, (const uint8_t *)"m", 1), 1);
        EVP_MD_CTX_free(md);
        ck_assert_uint_eq(siglen, k);
        buf[pre + k] = 'm';
        const uint8_t *p;
        size_t plen;
        ck_assert_msg(sequester_verify(rsa1024, buf, pre + k + 1, &p, &plen), "salt %d", salts[i]);
    }
}
END_TEST

/* A service certificate round trip, and each refusal. */
START_TEST(service_certificate)
{
    arena_t *a = arena_new();
    EVP_PKEY *svc = EVP_RSA_gen(1024);
    uint8_t *kder = NULL;
    size_t klen = sequester_key_der(svc, &kder);
    uint8_t id[16];
    for (int i = 0; i < 16; i++)
        id[i] = (uint8_t)(0xa0 + i);
    char *payload =
        sequester_service_certif_payload(1700000000123456, id, "Service One", kder, klen);
    size_t n;
    uint8_t *c = sequester_sign(rsa1024, payload, strlen(payload), &n);
    sequester_service_certif_t sc;
    const char *why = NULL;
    ck_assert_msg(sequester_service_certif_load(a, rsa1024, c, n, &sc, &why), "%s", why);
    ck_assert_str_eq(sc.service_id_hex, "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
    ck_assert_mem_eq(sc.service_id, id, 16);
    ck_assert_str_eq(sc.label, "Service One");
    ck_assert_int_eq(sc.timestamp, 1700000000123456);
    ck_assert_uint_eq(sc.encryption_key_len, klen);
    /* forged */
    c[n - 2] ^= 1;
    ck_assert(!sequester_service_certif_load(a, rsa1024, c, n, &sc, &why));
    ck_assert_str_eq(why, "Invalid certification data (Signature was forged or corrupt).");
    free(c);
    /* signed, but wrong payloads */
    const char *bad[] = {
        "not json",
        "{\"type\":\"sequester_service_certificate\"}",
        "{\"type\":\"other\",\"timestamp\":\"2023-11-14T22:13:20.123456Z\","
        "\"service_id\":\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",\"service_label\":\"x\","
        "\"encryption_key_der\":\"AAAA\"}",
        "{\"type\":\"sequester_service_certificate\",\"timestamp\":\"2023-11-14T22:13:20.123456Z\","
        "\"service_id\":\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",\"service_label\":\"x\","
        "\"encryption_key_der\":\"AAAA\"}",
        "{\"type\":\"sequester_service_certificate\",\"timestamp\":\"2023-11-14T22:13:20.123456Z\","
        "\"service_id\":\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",\"service_label\":\"\","
        "\"encryption_key_der\":\"AAAA\"}",
        "{\"type\":\"sequester_service_certificate\",\"timestamp\":\"2023-11-14T22:13:20.123456Z\","
        "\"service_id\":\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",\"service_label\":\"a\\nb\","
        "\"encryption_key_der\":\"AAAA\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = sequester_sign(rsa1024, bad[i], strlen(bad[i]), &n);
        ck_assert_msg(!sequester_service_certif_load(a, rsa1024, c, n, &sc, &why), "payload %zu",
                      i);
        ck_assert_msg(!strncmp(why, "Invalid certification data (", 28), "%s", why);
        free(c);
    }
    free(payload);
    OPENSSL_free(kder);
    EVP_PKEY_free(svc);
    arena_free(a);
}
END_TEST

TEST_SUITE(sequester_crypto)
{
    Suite *s = suite_create("sequester_crypto");
    TCase *tc = tcase_create("sequester");
    tcase_add_unchecked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, public_key_forms);
    tcase_add_test(tc, public_key_refusals);
    tcase_add_test(tc, sign_verify);
    tcase_add_test(tc, verify_any_salt);
    tcase_add_test(tc, service_certificate);
    suite_add_tcase(s, tc);
    return s;
}
