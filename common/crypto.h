/*
 * common/crypto.h - the few primitives the server needs, on OpenSSL
 *
 * The server verifies signatures and compares secrets; it never signs and
 * never holds a private key (tests/lib has the signing side for clients).
 * Every function is thread-safe.
 */
#ifndef PARSEC_CRYPTO_H
#define PARSEC_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_ED25519_PUBLIC_KEY_SIZE 32
#define CRYPTO_ED25519_SIGNATURE_SIZE 64

/* crypto_random - fill buf from RAND_bytes; false only if OpenSSL fails. */
bool crypto_random(void *buf, size_t n) __attribute__((warn_unused_result));

/* crypto_ed25519_verify - true iff sig is key's signature of msg. */
bool crypto_ed25519_verify(const uint8_t key[CRYPTO_ED25519_PUBLIC_KEY_SIZE], const void *msg,
                           size_t len, const uint8_t sig[CRYPTO_ED25519_SIGNATURE_SIZE]);

/* crypto_equal - constant-time comparison of two equal-length buffers. */
bool crypto_equal(const void *a, const void *b, size_t n);
/* crypto_str_equal - constant-time in the content (length may leak). */
bool crypto_str_equal(const char *a, const char *b);

void crypto_sha256(const void *data, size_t len, uint8_t out[32]);

/* Standard base64 with padding (RFC 4648 section 4).  encode returns a
 * malloc'd NUL-terminated string.  decode is strict (no whitespace, correct
 * padding, canonical trailing bits) and returns a malloc'd buffer or NULL. */
char *crypto_b64_encode(const void *data, size_t len);
uint8_t *crypto_b64_decode(const char *s, size_t slen, size_t *out_len);

/* Lowercase hex.  decode accepts lower and upper case; NULL on bad input. */
char *crypto_hex_encode(const void *data, size_t len);
uint8_t *crypto_hex_decode(const char *s, size_t slen, size_t *out_len);

#endif
