/* tests/unit/test_crypto.c - common/crypto: RFC 8032, RFC 4648, SHA-256, hex */
#include "crypto.h"
#include "pclient.h"
#include "testreg.h"

#include <stdlib.h>
#include <string.h>

static uint8_t *unhex(const char *s, size_t *len)
{
    uint8_t *b = crypto_hex_decode(s, strlen(s), len);
    ck_assert_ptr_nonnull(b);
    return b;
}

/* RFC 8032 section 7.1: TEST 1, 2, 3 and SHA(abc). */
static const struct {
    const char *secret, *public, *message, *signature;
} rfc8032[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf"
     "9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f"
     "11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984"
     "dc6594a7c15e9716ed28dc027beceea1ec40a"},
    {"833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3f"
     "eebbd454d4423643ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c6643"
     "1e0303dca179c138ac17ad9bef1177331a704"},
};

START_TEST(ed25519_rfc8032_vectors)
{
    size_t n;
    uint8_t *pub = unhex(rfc8032[_i].public, &n);
    ck_assert_uint_eq(n, 32);
    size_t mlen;
    uint8_t *msg = unhex(rfc8032[_i].message, &mlen);
    uint8_t *sig = unhex(rfc8032[_i].signature, &n);
    ck_assert_uint_eq(n, 64);
    ck_assert(crypto_ed25519_verify(pub, msg, mlen, sig));

    /* the client side derives the same key and signs the same bytes */
    uint8_t *seed = unhex(rfc8032[_i].secret, &n);
    pclient_key_t k;
    pclient_key_from_seed(&k, seed);
    ck_assert_mem_eq(k.pub, pub, 32);
    uint8_t mine[64];
    pclient_sign(&k, msg, mlen, mine);
    ck_assert_mem_eq(mine, sig, 64);

    /* any flipped bit fails: signature R, signature S, key, message */
    sig[0] ^= 1;
    ck_assert(!crypto_ed25519_verify(pub, msg, mlen, sig));
    sig[0] ^= 1;
    sig[40] ^= 0x10;
    ck_assert(!crypto_ed25519_verify(pub, msg, mlen, sig));
    sig[40] ^= 0x10;
    pub[5] ^= 2;
    ck_assert(!crypto_ed25519_verify(pub, msg, mlen, sig));
    pub[5] ^= 2;
    uint8_t longer[80] = {0};
    memcpy(longer, msg, mlen);
    ck_assert(!crypto_ed25519_verify(pub, longer, mlen + 1, sig));
    ck_assert(crypto_ed25519_verify(pub, msg, mlen, sig));
    free(pub);
    free(msg);
    free(sig);
    free(seed);
}
END_TEST

/* S + L verifies mathematically but is non-canonical: must be refused
 * (RFC 8032 section 5.1.7 requires 0 <= S < L). */
START_TEST(ed25519_rejects_non_canonical_s)
{
    static const uint8_t L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                  0xa2, 0xde, 0xf9, 0xde, 0x14, 0,    0,    0,    0,    0,    0,
                                  0,    0,    0,    0,    0,    0,    0,    0,    0,    0x10};
    size_t n;
    uint8_t *pub = unhex(rfc8032[0].public, &n);
    uint8_t *sig = unhex(rfc8032[0].signature, &n);
    ck_assert(crypto_ed25519_verify(pub, "", 0, sig));
    unsigned carry = 0;
    for (int k = 0; k < 32; k++) {
        unsigned v = sig[32 + k] + L[k] + carry;
        sig[32 + k] = (uint8_t)v;
        carry = v >> 8;
    }
    ck_assert(!crypto_ed25519_verify(pub, "", 0, sig));
    free(pub);
    free(sig);
}
END_TEST

START_TEST(ed25519_rejects_bad_keys)
{
    size_t n;
    uint8_t *sig = unhex(rfc8032[0].signature, &n);
    uint8_t zero[32] = {0}, ff[32];
    memset(ff, 0xff, sizeof ff);
    ck_assert(!crypto_ed25519_verify(zero, "", 0, sig));
    ck_assert(!crypto_ed25519_verify(ff, "", 0, sig));
    free(sig);
}
END_TEST

START_TEST(random_and_equal)
{
    uint8_t a[32], b[32];
    ck_assert(crypto_random(a, sizeof a));
    ck_assert(crypto_random(b, sizeof b));
    ck_assert(!crypto_equal(a, b, sizeof a));
    memcpy(b, a, sizeof a);
    ck_assert(crypto_equal(a, b, sizeof a));
    b[31] ^= 0x80;
    ck_assert(!crypto_equal(a, b, sizeof a));
    ck_assert(crypto_equal(a, b, 0));
    ck_assert(crypto_str_equal("secret", "secret"));
    ck_assert(!crypto_str_equal("secret", "secreT"));
    ck_assert(!crypto_str_equal("secret", "secret2"));
    ck_assert(!crypto_str_equal("", "x"));
    ck_assert(crypto_str_equal("", ""));
    ck_assert(!crypto_str_equal(NULL, ""));
}
END_TEST

START_TEST(sha256_vectors)
{
    uint8_t d[32];
    crypto_sha256("abc", 3, d);
    char *h = crypto_hex_encode(d, 32);
    ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    free(h);
    crypto_sha256("", 0, d);
    h = crypto_hex_encode(d, 32);
    ck_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    free(h);
}
END_TEST

/* RFC 4648 section 10. */
static const char *const b64_plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const b64_std[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
static const char *const b64_url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};

START_TEST(base64_rfc4648_vectors)
{
    const char *p = b64_plain[_i];
    char *e = crypto_b64_encode(p, strlen(p));
    ck_assert_str_eq(e, b64_std[_i]);
    free(e);
    e = crypto_b64url_encode(p, strlen(p));
    ck_assert_str_eq(e, b64_url[_i]);
    free(e);

    size_t n = 99;
    uint8_t *d = crypto_b64_decode(b64_std[_i], strlen(b64_std[_i]), &n);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(n, strlen(p));
    ck_assert_mem_eq(d, p, n);
    free(d);
    n = 99;
    d = crypto_b64url_decode(b64_url[_i], strlen(b64_url[_i]), &n);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(n, strlen(p));
    ck_assert_mem_eq(d, p, n);
    free(d);
}
END_TEST

START_TEST(base64_alphabets_differ)
{
    const uint8_t bytes[] = {0xfb, 0xff, 0xbf};
    char *s = crypto_b64_encode(bytes, 3);
    ck_assert_str_eq(s, "+/+/");
    free(s);
    s = crypto_b64url_encode(bytes, 3);
    ck_assert_str_eq(s, "-_-_");
    free(s);
    size_t n;
    ck_assert_ptr_null(crypto_b64_decode("-_-_", 4, &n));
    ck_assert_ptr_null(crypto_b64url_decode("+/+/", 4, &n));
    uint8_t *d = crypto_b64url_decode("-_-_", 4, &n);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(n, 3);
    ck_assert_mem_eq(d, bytes, 3);
    free(d);
}
END_TEST

/* Everything a lax decoder would accept and a strict one must not. */
static const char *const b64_bad[] = {
    "Zg",               /* missing padding */
    "Zg=",              /* length not a multiple of 4 */
    "Zh==",             /* non-canonical: low bits of 'h' set */
    "Zm9=",             /* non-canonical: low bits of '9' set */
    "Zm9v\n",           /* line break */
    " Zm9v",            /* whitespace */
    "Zm 9v",            /* whitespace inside */
    "Zm9v====",         /* padding group */
    "Zg==Zg==",         /* padding in the middle */
    "Z===",             /* three padding characters */
    "====",             /* only padding */
    "Zm-v",             /* base64url character */
    "Zm9v!AAA",         /* outside the alphabet */
    "Zm=v",             /* padding before data */
    "A",                /* a lone character */
    "\xc3\xa9\x41\x41", /* non-ASCII */
};

START_TEST(base64_rejects_non_canonical)
{
    size_t n;
    const char *s = b64_bad[_i];
    ck_assert_msg(crypto_b64_decode(s, strlen(s), &n) == NULL, "accepted \"%s\"", s);
    uint8_t out[16];
    ck_assert_msg(!crypto_b64_decode_into(s, strlen(s), out, sizeof out, &n),
                  "decode_into accepted \"%s\"", s);
}
END_TEST

START_TEST(base64_rejects_embedded_nul)
{
    size_t n;
    ck_assert_ptr_null(crypto_b64_decode("Zm\0v", 4, &n));
    uint8_t out[4];
    ck_assert(!crypto_b64_decode_into("Zm\0v", 4, out, sizeof out, &n));
    ck_assert_ptr_null(crypto_b64url_decode("Zm\0v", 4, &n));
}
END_TEST

static const char *const b64url_bad[] = {
    "Zg==", /* padding */
    "Zh",   /* non-canonical */
    "Zm9",  /* non-canonical */
    "Z",    /* 4k+1 characters */
    "Zm9vY", "+/8", "Zm9v ", "Zm.v",
};

START_TEST(base64url_rejects_non_canonical)
{
    size_t n;
    const char *s = b64url_bad[_i];
    ck_assert_msg(crypto_b64url_decode(s, strlen(s), &n) == NULL, "accepted \"%s\"", s);
}
END_TEST

START_TEST(base64_round_trip_all_lengths)
{
    uint8_t buf[260]; /* every byte value, at every offset modulo 3 */
    for (size_t k = 0; k < sizeof buf; k++)
        buf[k] = (uint8_t)(k * 37 + 11);
    for (size_t len = 0; len <= sizeof buf; len++) {
        size_t n;
        char *e = crypto_b64_encode(buf, len);
        uint8_t *d = crypto_b64_decode(e, strlen(e), &n);
        ck_assert_ptr_nonnull(d);
        ck_assert_uint_eq(n, len);
        ck_assert(len == 0 || memcmp(d, buf, len) == 0);
        free(d);
        /* into a buffer: exactly len fits, one byte less does not */
        uint8_t into[sizeof buf];
        size_t m = 999;
        ck_assert(crypto_b64_decode_into(e, strlen(e), into, len, &m));
        ck_assert_uint_eq(m, len);
        ck_assert(len == 0 || memcmp(into, buf, len) == 0);
        ck_assert(len == 0 || !crypto_b64_decode_into(e, strlen(e), into, len - 1, &m));
        free(e);
        e = crypto_b64url_encode(buf, len);
        d = crypto_b64url_decode(e, strlen(e), &n);
        ck_assert_ptr_nonnull(d);
        ck_assert_uint_eq(n, len);
        ck_assert(len == 0 || memcmp(d, buf, len) == 0);
        free(d);
        free(e);
    }
}
END_TEST

START_TEST(hex_codec)
{
    const uint8_t b[] = {0x00, 0x01, 0xab, 0xff};
    char *h = crypto_hex_encode(b, 4);
    ck_assert_str_eq(h, "0001abff");
    free(h);
    size_t n;
    uint8_t *d = crypto_hex_decode("0001ABff", 8, &n);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(n, 4);
    ck_assert_mem_eq(d, b, 4);
    free(d);
    d = crypto_hex_decode("", 0, &n);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(n, 0);
    free(d);
    ck_assert_ptr_null(crypto_hex_decode("abc", 3, &n));
    ck_assert_ptr_null(crypto_hex_decode("0g", 2, &n));
    ck_assert_ptr_null(crypto_hex_decode(" 0", 2, &n));
}
END_TEST

TEST_SUITE(crypto)
{
    Suite *s = suite_create("crypto");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, ed25519_rfc8032_vectors, 0, (int)(sizeof rfc8032 / sizeof rfc8032[0]));
    tcase_add_test(tc, ed25519_rejects_non_canonical_s);
    tcase_add_test(tc, ed25519_rejects_bad_keys);
    tcase_add_test(tc, random_and_equal);
    tcase_add_test(tc, sha256_vectors);
    tcase_add_loop_test(tc, base64_rfc4648_vectors, 0, 7);
    tcase_add_test(tc, base64_alphabets_differ);
    tcase_add_loop_test(tc, base64_rejects_non_canonical, 0,
                        (int)(sizeof b64_bad / sizeof b64_bad[0]));
    tcase_add_test(tc, base64_rejects_embedded_nul);
    tcase_add_loop_test(tc, base64url_rejects_non_canonical, 0,
                        (int)(sizeof b64url_bad / sizeof b64url_bad[0]));
    tcase_add_test(tc, base64_round_trip_all_lengths);
    tcase_add_test(tc, hex_codec);
    suite_add_tcase(s, tc);
    return s;
}
