/*
 * tests/unit/test_client_crypto.c - cli/client: libsodium primitives as the
 * server reads them, and device files under a passphrase
 */
#include "ccrypto.h"
#include "cdevice.h"
#include "crypto.h"
#include "crpc.h"
#include "testreg.h"
#include "xalloc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint8_t *unhex(const char *s, size_t *len)
{
    uint8_t *b = crypto_hex_decode(s, strlen(s), len);
    ck_assert_ptr_nonnull(b);
    return b;
}

/* RFC 8032 section 7.1, TEST 1 and TEST 3 */
static const struct {
    const char *secret, *public, *message, *signature;
} rfc8032[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf"
     "9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984"
     "dc6594a7c15e9716ed28dc027beceea1ec40a"},
};

START_TEST(ed25519_as_the_server_verifies)
{
    size_t n, mlen;
    uint8_t *seed = unhex(rfc8032[_i].secret, &n);
    uint8_t *pub = unhex(rfc8032[_i].public, &n);
    uint8_t *msg = unhex(rfc8032[_i].message, &mlen);
    uint8_t *want = unhex(rfc8032[_i].signature, &n);
    ccrypto_sign_key k;
    ccrypto_sign_from_seed(&k, seed);
    ck_assert_mem_eq(k.verify, pub, 32);
    uint8_t sig[64];
    ccrypto_sign(&k, msg, mlen, sig);
    ck_assert_mem_eq(sig, want, 64);
    ck_assert(crypto_ed25519_verify(k.verify, msg, mlen, sig));
    ck_assert(ccrypto_verify(k.verify, msg, mlen, sig));
    sig[3] ^= 1;
    ck_assert(!ccrypto_verify(k.verify, msg, mlen, sig));

    /* a signed blob is signature || payload */
    size_t blen;
    uint8_t *blob = ccrypto_signed(&k, "{}", 2, &blen);
    ck_assert_uint_eq(blen, 66);
    ck_assert_mem_eq(blob + 64, "{}", 2);
    ck_assert(crypto_ed25519_verify(k.verify, "{}", 2, blob));
    free(blob);
    free(seed);
    free(pub);
    free(msg);
    free(want);
}
END_TEST

START_TEST(fresh_keys_verify_with_openssl)
{
    ccrypto_sign_key a, b;
    ccrypto_sign_generate(&a);
    ccrypto_sign_generate(&b);
    ck_assert(memcmp(a.verify, b.verify, 32) != 0);
    uint8_t sig[64];
    ccrypto_sign(&a, "hello", 5, sig);
    ck_assert(crypto_ed25519_verify(a.verify, "hello", 5, sig));
    ck_assert(!crypto_ed25519_verify(b.verify, "hello", 5, sig));
}
END_TEST

START_TEST(secretbox_round_trip_and_tamper)
{
    uint8_t key[32], other[32];
    ccrypto_random(key, sizeof key);
    ccrypto_random(other, sizeof other);
    const char msg[] = "the quarterly figures";
    size_t blen, plen;
    uint8_t *box = ccrypto_secretbox_seal(key, msg, sizeof msg, &blen);
    ck_assert_uint_eq(blen, sizeof msg + CCRYPTO_SECRETBOX_EXTRA);
    ck_assert_ptr_null(memmem(box, blen, "quarterly", 9));
    uint8_t *plain = ccrypto_secretbox_open(key, box, blen, &plen);
    ck_assert_ptr_nonnull(plain);
    ck_assert_uint_eq(plen, sizeof msg);
    ck_assert_mem_eq(plain, msg, sizeof msg);
    free(plain);
    /* two seals of one text differ (random nonce) */
    size_t blen2;
    uint8_t *box2 = ccrypto_secretbox_seal(key, msg, sizeof msg, &blen2);
    ck_assert(memcmp(box, box2, blen) != 0);
    free(box2);
    /* every byte matters: nonce, tag, ciphertext */
    for (size_t i = 0; i < blen; i++) {
        box[i] ^= 0x20;
        ck_assert_ptr_null(ccrypto_secretbox_open(key, box, blen, &plen));
        box[i] ^= 0x20;
    }
    ck_assert_ptr_null(ccrypto_secretbox_open(other, box, blen, &plen));
    ck_assert_ptr_null(ccrypto_secretbox_open(key, box, blen - 1, &plen));
    ck_assert_ptr_null(ccrypto_secretbox_open(key, box, CCRYPTO_SECRETBOX_EXTRA - 1, &plen));
    free(box);
    /* an empty plaintext is a valid box, opened to a non-NULL buffer */
    box = ccrypto_secretbox_seal(key, "", 0, &blen);
    plain = ccrypto_secretbox_open(key, box, blen, &plen);
    ck_assert_ptr_nonnull(plain);
    ck_assert_uint_eq(plen, 0);
    free(plain);
    free(box);
}
END_TEST

START_TEST(sealed_box_for_a_user)
{
    ccrypto_box_key bob, eve;
    ccrypto_box_generate(&bob);
    ccrypto_box_generate(&eve);
    ccrypto_box_key again;
    ccrypto_box_from_private(&again, bob.priv);
    ck_assert_mem_eq(again.pub, bob.pub, 32);
    size_t blen, plen;
    uint8_t *box = ccrypto_seal(bob.pub, "workspace key", 13, &blen);
    ck_assert_ptr_nonnull(box);
    ck_assert_uint_eq(blen, 13 + CCRYPTO_SEALED_EXTRA);
    ck_assert_ptr_null(ccrypto_unseal(&eve, box, blen, &plen));
    uint8_t *plain = ccrypto_unseal(&bob, box, blen, &plen);
    ck_assert_ptr_nonnull(plain);
    ck_assert_mem_eq(plain, "workspace key", 13);
    free(plain);
    box[blen - 1] ^= 1;
    ck_assert_ptr_null(ccrypto_unseal(&bob, box, blen, &plen));
    ck_assert_ptr_null(ccrypto_unseal(&bob, box, 10, &plen));
    free(box);
}
END_TEST

START_TEST(x25519_agreement)
{
    ccrypto_box_key a, b;
    ccrypto_box_generate(&a);
    ccrypto_box_generate(&b);
    uint8_t sa[32], sb[32], zero[32] = {0};
    ck_assert(ccrypto_shared_secret(&a, b.pub, sa));
    ck_assert(ccrypto_shared_secret(&b, a.pub, sb));
    ck_assert_mem_eq(sa, sb, 32);
    /* a peer key of low order gives no secret */
    ck_assert(!ccrypto_shared_secret(&a, zero, sa));
}
END_TEST

START_TEST(argon2id_bounds)
{
    uint8_t salt[16] = {1}, salt2[16] = {2}, k1[32], k2[32], k3[32];
    ccrypto_kdf_cost cheap = {1, 8192};
    ck_assert(ccrypto_kdf("pw", 2, salt, cheap, k1));
    ck_assert(ccrypto_kdf("pw", 2, salt, cheap, k2));
    ck_assert_mem_eq(k1, k2, 32);
    ck_assert(ccrypto_kdf("pw", 2, salt2, cheap, k3));
    ck_assert(memcmp(k1, k3, 32) != 0);
    ck_assert(ccrypto_kdf("pX", 2, salt, cheap, k3));
    ck_assert(memcmp(k1, k3, 32) != 0);
    /* a hostile file cannot ask for more than the maximum */
    ccrypto_kdf_cost huge = {1, ccrypto_kdf_max.memlimit * 2};
    ck_assert(!ccrypto_kdf("pw", 2, salt, huge, k3));
    ccrypto_kdf_cost slow = {ccrypto_kdf_max.opslimit + 1, 8192};
    ck_assert(!ccrypto_kdf("pw", 2, salt, slow, k3));
    ccrypto_kdf_cost none = {0, 8192};
    ck_assert(!ccrypto_kdf("pw", 2, salt, none, k3));
}
END_TEST

/* ---- device files ---- */

static char tmpdir[64];

static void dev_setup(void)
{
    strcpy(tmpdir, "/tmp/parsec-ccrypto-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    setenv("XDG_DATA_HOME", tmpdir, 1);
}

static void dev_teardown(void)
{
    char *cmd = xasprintf("rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    unsetenv("XDG_DATA_HOME");
}

static void make_device(cdevice_t *d)
{
    memset(d, 0, sizeof *d);
    d->addr = xstrdup("parsec://127.0.0.1:6777?no_ssl=true");
    d->org = xstrdup("CoolOrg");
    d->device_id = xstrdup("alice@laptop");
    d->user_id = xstrdup("alice");
    d->device_label = xstrdup("Alice's laptop");
    d->email = xstrdup("alice@example.com");
    d->label = xstrdup("Alice");
    d->profile = xstrdup("ADMIN");
    ccrypto_sign_generate(&d->signing);
    ccrypto_box_generate(&d->user_key);
    ccrypto_random(d->root_verify, 32);
    ccrypto_random(d->user_realm, 16);
    ccrypto_random(d->user_manifest_key, 32);
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    char *buf = xmalloc(CDEVICE_MAX_FILE + 1);
    *n = fread(buf, 1, CDEVICE_MAX_FILE, f);
    buf[*n] = '\0';
    fclose(f);
    return buf;
}

static void spit(const char *path, const char *s, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(s, 1, n, f), n);
    fclose(f);
}

START_TEST(device_file_round_trip)
{
    cdevice_t d, got;
    const char *why;
    make_device(&d);
    ck_assert(cdevice_save(&d, "correct horse", 13, &why));
    char *path = cdevice_path("CoolOrg", "alice@laptop");
    ck_assert_ptr_nonnull(path);
    ck_assert_ptr_nonnull(strstr(path, tmpdir));
    ck_assert_ptr_nonnull(strstr(path, "/parsec/devices/CoolOrg/alice@laptop.keys"));
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    char *dir = cdevice_dir();
    ck_assert_int_eq(stat(dir, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0700);
    free(dir);

    /* no secret in clear in the file */
    size_t n;
    char *text = slurp(path, &n);
    char *seed = crypto_b64_encode(d.signing.seed, 32);
    char *priv = crypto_b64_encode(d.user_key.priv, 32);
    ck_assert_ptr_null(strstr(text, seed));
    ck_assert_ptr_null(strstr(text, priv));
    ck_assert_ptr_nonnull(strstr(text, "alice@laptop"));
    free(seed);
    free(priv);

    ck_assert_int_eq(cdevice_load(path, "correct horse", 13, &got), CDEVICE_OK);
    ck_assert_str_eq(got.device_id, "alice@laptop");
    ck_assert_str_eq(got.user_id, "alice");
    ck_assert_str_eq(got.addr, d.addr);
    ck_assert_str_eq(got.email, "alice@example.com");
    ck_assert_str_eq(got.profile, "ADMIN");
    ck_assert_mem_eq(got.signing.seed, d.signing.seed, 32);
    ck_assert_mem_eq(got.signing.verify, d.signing.verify, 32);
    ck_assert_mem_eq(got.user_key.priv, d.user_key.priv, 32);
    ck_assert_mem_eq(got.user_key.pub, d.user_key.pub, 32);
    ck_assert_mem_eq(got.root_verify, d.root_verify, 32);
    ck_assert_mem_eq(got.user_realm, d.user_realm, 16);
    ck_assert_mem_eq(got.user_manifest_key, d.user_manifest_key, 32);
    cdevice_free(&got);

    ck_assert_int_eq(cdevice_load(path, "correct horsf", 13, &got), CDEVICE_BAD_PASSWORD);
    ck_assert_int_eq(cdevice_load(path, "", 0, &got), CDEVICE_BAD_PASSWORD);

    /* a second device of the same name never replaces the first */
    ck_assert(!cdevice_save(&d, "other", 5, &why));
    ck_assert_int_eq(cdevice_load(path, "correct horse", 13, &got), CDEVICE_OK);
    cdevice_free(&got);

    size_t count;
    cdevice_entry *e = cdevice_list(&count);
    ck_assert_uint_eq(count, 1);
    ck_assert_str_eq(e[0].device_id, "alice@laptop");
    ck_assert_str_eq(e[0].org, "CoolOrg");
    ck_assert_str_eq(e[0].path, path);
    cdevice_list_free(e, count);

    free(text);
    free(path);
    cdevice_free(&d);
}
END_TEST

START_TEST(device_file_tampered)
{
    cdevice_t d, got;
    const char *why;
    make_device(&d);
    ck_assert(cdevice_save(&d, "pw", 2, &why));
    char *path = cdevice_path("CoolOrg", "alice@laptop");
    size_t n;
    char *text = slurp(path, &n);

    /* the clear name edited: the sealed one disagrees */
    char *edit = xstrdup(text);
    char *at = strstr(edit, "\"ADMIN\"");
    ck_assert_ptr_nonnull(at);
    memcpy(at, "\"OTHER\"", 7);
    spit(path, edit, n);
    ck_assert_int_eq(cdevice_load(path, "pw", 2, &got), CDEVICE_CORRUPT);
    free(edit);

    /* a cost past the maximum is refused before any allocation */
    at = strstr(text, "67108864");
    ck_assert_ptr_nonnull(at);
    edit = xasprintf("%.*s%s%s", (int)(at - text), text, "9999999999", at + 8);
    spit(path, edit, strlen(edit));
    ck_assert_int_eq(cdevice_load(path, "pw", 2, &got), CDEVICE_CORRUPT);
    free(edit);

    /* not JSON, empty, too large */
    spit(path, "{\"format\": 1", 12);
    ck_assert_int_eq(cdevice_load(path, "pw", 2, &got), CDEVICE_CORRUPT);
    spit(path, "", 0);
    ck_assert_int_eq(cdevice_load(path, "pw", 2, &got), CDEVICE_CORRUPT);
    char *big = xmalloc(CDEVICE_MAX_FILE + 10);
    memset(big, ' ', CDEVICE_MAX_FILE + 10);
    spit(path, big, CDEVICE_MAX_FILE + 10);
    ck_assert_int_eq(cdevice_load(path, "pw", 2, &got), CDEVICE_CORRUPT);
    free(big);

    size_t count;
    cdevice_entry *e = cdevice_list(&count);
    ck_assert_uint_eq(count, 0);
    cdevice_list_free(e, count);

    unlink(path);
    ck_assert_int_eq(cdevice_load(path, "pw", 2, &got), CDEVICE_NOT_FOUND);
    ck_assert_ptr_null(cdevice_path("Cool/Org", "alice@laptop"));
    ck_assert_ptr_null(cdevice_path("CoolOrg", "../alice"));
    free(text);
    free(path);
    cdevice_free(&d);
}
END_TEST

/* ---- addresses ---- */

START_TEST(addresses)
{
    crpc_addr a;
    ck_assert_ptr_null(crpc_addr_parse("parsec://127.0.0.1:6777/Demo?no_ssl=true&action="
                                       "bootstrap_organization&token=00ff",
                                       &a));
    ck_assert_str_eq(a.server, "parsec://127.0.0.1:6777?no_ssl=true");
    ck_assert_str_eq(a.base, "http://127.0.0.1:6777");
    ck_assert_str_eq(a.org, "Demo");
    ck_assert_str_eq(a.action, "bootstrap_organization");
    ck_assert_str_eq(a.token, "00ff");
    ck_assert(!a.ssl);
    crpc_addr_free(&a);
    /* TLS by default, a mount prefix kept, the default port dropped */
    ck_assert_ptr_null(crpc_addr_parse("parsec://example.com:443/parsec/Org?action=claim_user&"
                                       "token=0123456789abcdef0123456789abcdef",
                                       &a));
    ck_assert_str_eq(a.server, "parsec://example.com/parsec");
    ck_assert_str_eq(a.base, "https://example.com:443/parsec");
    ck_assert_str_eq(a.mount, "/parsec");
    char *url = crpc_addr_url(a.server, "Org", "claim_device", "ab");
    ck_assert_str_eq(url, "parsec://example.com/parsec/Org?action=claim_device&token=ab");
    free(url);
    crpc_addr_free(&a);
    url = crpc_addr_url("parsec://h:1?no_ssl=true", "O", "claim_user", "cd");
    ck_assert_str_eq(url, "parsec://h:1/O?no_ssl=true&action=claim_user&token=cd");
    free(url);
    /* refused: another scheme, unknown or repeated parameters, a token
     * that is not hex, an action without organization, a bad port */
    static const char *const bad[] = {
        "https://example.com/Org",
        "parsec://example.com/Org?foo=bar",
        "parsec://example.com/Org?action=a&action=b",
        "parsec://example.com/Org?action=claim_user&token=XYZ",
        "parsec://example.com?action=claim_user&token=00",
        "parsec://example.com:99999/Org",
        "parsec://user@example.com/Org",
        "parsec://example.com/Org#frag",
        "parsec://example.com/Org?no_ssl=maybe",
        "parsec://",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(crpc_addr_parse(bad[i], &a) != NULL, "accepted %s", bad[i]);
}
END_TEST

TEST_SUITE(client_crypto)
{
    Suite *s = suite_create("client_crypto");
    TCase *tc = tcase_create("primitives");
    tcase_add_loop_test(tc, ed25519_as_the_server_verifies, 0,
                        (int)(sizeof rfc8032 / sizeof rfc8032[0]));
    tcase_add_test(tc, fresh_keys_verify_with_openssl);
    tcase_add_test(tc, secretbox_round_trip_and_tamper);
    tcase_add_test(tc, sealed_box_for_a_user);
    tcase_add_test(tc, x25519_agreement);
    tcase_add_test(tc, argon2id_bounds);
    tcase_add_test(tc, addresses);
    suite_add_tcase(s, tc);
    tc = tcase_create("device_files");
    tcase_add_checked_fixture(tc, dev_setup, dev_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, device_file_round_trip);
    tcase_add_test(tc, device_file_tampered);
    suite_add_tcase(s, tc);
    return s;
}
