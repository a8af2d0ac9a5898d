/*
 * common/crypto.c - the few primitives the server needs, on OpenSSL
 *
 * Every primitive is OpenSSL's; what is ours is the strictness of the
 * encodings.  OpenSSL's base64 decoders accept whitespace, missing padding
 * and non-canonical trailing bits, which would let one byte string travel
 * under several spellings: fine for a mail reader, wrong for a protocol whose
 * signed blobs are stored and compared as received.  So base64 is decoded
 * here, strictly, in one pass.
 */
#include "crypto.h"

#include "xalloc.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool crypto_random(void *buf, size_t n)
{
    /* RAND_bytes takes an int: fill large buffers in pieces. */
    unsigned char *p = buf;
    while (n > 0) {
        int chunk = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        if (RAND_bytes(p, chunk) != 1)
            return false;
        p += chunk;
        n -= (size_t)chunk;
    }
    return true;
}

bool crypto_ed25519_verify(const uint8_t key[CRYPTO_ED25519_PUBLIC_KEY_SIZE], const void *msg,
                           size_t len, const uint8_t sig[CRYPTO_ED25519_SIGNATURE_SIZE])
{
    bool ok = false;
    EVP_MD_CTX *ctx = NULL;
    EVP_PKEY *pkey =
        EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, key, CRYPTO_ED25519_PUBLIC_KEY_SIZE);
    if (!pkey)
        goto cleanup;
    ctx = EVP_MD_CTX_new();
    if (!ctx)
        goto cleanup;
    /* Ed25519 is "pure": no digest is named, the message goes in whole. */
    if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) != 1)
        goto cleanup;
    /* EVP_DigestVerify of an empty message wants a non-NULL pointer. */
    ok = EVP_DigestVerify(ctx, sig, CRYPTO_ED25519_SIGNATURE_SIZE,
                          msg ? (const unsigned char *)msg : (const unsigned char *)"", len) == 1;
cleanup:
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return ok;
}

bool crypto_equal(const void *a, const void *b, size_t n)
{
    if (n == 0)
        return true;
    return CRYPTO_memcmp(a, b, n) == 0;
}

bool crypto_str_equal(const char *a, const char *b)
{
    if (!a || !b)
        return false;
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return false;
    return crypto_equal(a, b, la);
}

void crypto_sha256(const void *data, size_t len, uint8_t out[32])
{
    unsigned int outlen = 0;
    if (EVP_Digest(data ? data : "", len, out, &outlen, EVP_sha256(), NULL) != 1 || outlen != 32) {
        fputs("parsec: OpenSSL SHA-256 failed\n", stderr);
        abort();
    }
}

/* ---- base64 ---------------------------------------------------------- */

/* Value of a base64 character in the given alphabet, -1 if not in it. */
static int b64_value(unsigned char c, bool url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

/*
 * Validate s[0..n) as n data characters (no padding) of the alphabet, with
 * canonical trailing bits.  n % 4 == 1 can encode nothing.
 */
static bool b64_valid_data(const char *s, size_t n, bool url)
{
    if (n % 4 == 1)
        return false;
    for (size_t i = 0; i < n; i++)
        if (b64_value((unsigned char)s[i], url) < 0)
            return false;
    /* The last character of a partial group carries unused low bits:
     * 4 of them after 2 characters (1 byte), 2 after 3 (2 bytes). */
    if (n % 4 == 2 && (b64_value((unsigned char)s[n - 1], url) & 0x0f) != 0)
        return false;
    if (n % 4 == 3 && (b64_value((unsigned char)s[n - 1], url) & 0x03) != 0)
        return false;
    return true;
}

/* The standard alphabet's values; 0x80 for every other byte. */
/* clang-format off */
static const uint8_t b64_std_value[256] = {
    128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
    128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
    128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,  62, 128, 128, 128,  63,
     52,  53,  54,  55,  56,  57,  58,  59,  60,  61, 128, 128, 128, 128, 128, 128,
    128,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
     15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25, 128, 128, 128, 128, 128,
    128,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
     41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51, 128, 128, 128, 128, 128,
    128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
    128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
    128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
    128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
    128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
    128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
    128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
    128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128,
};
/* clang-format on */

/*
 * Decode n data characters (standard alphabet, no padding) into out[cap]:
 * validation and decoding in one table-driven pass (a block_read reply is
 * 700 KB of base64: a branch per character cost more than the decryption).
 * false on a character outside the alphabet, non-canonical trailing bits,
 * n % 4 == 1, or more bytes than cap.  out is unspecified on failure.
 */
static bool b64_decode_std(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t tail = n % 4;
    size_t decoded = n / 4 * 3 + (tail == 2 ? 1 : tail == 3 ? 2 : 0);
    if (tail == 1 || decoded > cap)
        return false;
    uint8_t bad = 0;
    size_t o = 0, i = 0;
    for (; i + 4 <= n; i += 4) {
        uint8_t a = b64_std_value[u[i]], b = b64_std_value[u[i + 1]], c = b64_std_value[u[i + 2]],
                d = b64_std_value[u[i + 3]];
        bad |= a | b | c | d;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | d;
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    /* The last character of a partial group carries unused low bits:
     * 4 of them after 2 characters (1 byte), 2 after 3 (2 bytes). */
    if (tail) {
        uint8_t a = b64_std_value[u[i]], b = b64_std_value[u[i + 1]];
        uint8_t c = tail == 3 ? b64_std_value[u[i + 2]] : 0;
        bad |= a | b | c;
        if (tail == 2 && (b & 0x0f) != 0)
            return false;
        if (tail == 3 && (c & 0x03) != 0)
            return false;
        out[o++] = (uint8_t)(a << 2 | (b & 0x3f) >> 4);
        if (tail == 3)
            out[o++] = (uint8_t)((b & 0x0f) << 4 | (c & 0x3f) >> 2);
    }
    if (bad & 0x80)
        return false;
    *out_len = decoded;
    return true;
}

char *crypto_b64_encode(const void *data, size_t len)
{
    if (len > (size_t)INT_MAX / 4 * 3 - 3) {
        fputs("parsec: base64 input too large\n", stderr);
        abort();
    }
    char *out = xmalloc((len + 2) / 3 * 4 + 1);
    int n = len ? EVP_EncodeBlock((unsigned char *)out, data, (int)len) : 0;
    out[n] = '\0';
    return out;
}

/* n: the data characters of s[0..slen) (no padding), or SIZE_MAX when
 * the length or the padding is wrong: "=" only completes the last group. */
static size_t b64_data_len(const char *s, size_t slen)
{
    if (slen % 4 != 0)
        return SIZE_MAX;
    size_t pad = 0;
    if (slen >= 1 && s[slen - 1] == '=')
        pad = (slen >= 2 && s[slen - 2] == '=') ? 2 : 1;
    size_t n = slen - pad;
    if (pad && n % 4 != 4 - pad)
        return SIZE_MAX;
    return n;
}

uint8_t *crypto_b64_decode(const char *s, size_t slen, size_t *out_len)
{
    size_t n = b64_data_len(s, slen);
    if (n == SIZE_MAX)
        return NULL;
    size_t cap = n / 4 * 3 + 2;
    uint8_t *out = xmalloc(cap + 1);
    if (!b64_decode_std(s, n, out, cap, out_len)) {
        free(out);
        return NULL;
    }
    return out;
}

bool crypto_b64_decode_into(const char *s, size_t slen, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t n = b64_data_len(s, slen);
    return n != SIZE_MAX && b64_decode_std(s, n, out, cap, out_len);
}

char *crypto_b64url_encode(const void *data, size_t len)
{
    char *out = crypto_b64_encode(data, len);
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == '=')
        out[--n] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
    return out;
}

uint8_t *crypto_b64url_decode(const char *s, size_t slen, size_t *out_len)
{
    if (slen > (size_t)INT_MAX || !b64_valid_data(s, slen, true))
        return NULL;
    /* Translated to the standard alphabet (validated above). */
    char *std = xmalloc(slen + 1);
    for (size_t i = 0; i < slen; i++)
        std[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    size_t cap = slen / 4 * 3 + 2;
    uint8_t *out = xmalloc(cap + 1);
    if (!b64_decode_std(std, slen, out, cap, out_len)) {
        free(out);
        out = NULL;
    }
    free(std);
    return out;
}

/* ---- hex ------------------------------------------------------------- */

char *crypto_hex_encode(const void *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *p = data;
    char *out = xmalloc(len * 2 + 1);
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0x0f];
    }
    out[len * 2] = '\0';
    return out;
}

int crypto_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

uint8_t *crypto_hex_decode(const char *s, size_t slen, size_t *out_len)
{
    if (slen % 2 != 0)
        return NULL;
    uint8_t *out = xmalloc(slen / 2 + 1);
    for (size_t i = 0; i < slen / 2; i++) {
        int hi = crypto_hex_digit((unsigned char)s[2 * i]),
            lo = crypto_hex_digit((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(out);
            return NULL;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *out_len = slen / 2;
    return out;
}
