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
#define CRYPTO_ED25519_SIGNATURE_SIZE  64

/* crypto_random - fill buf from RAND_bytes; false only if OpenSSL fails. */
bool crypto_random(void *buf, size_t n) __attribute__((warn_unused_result));

/* crypto_ed25519_verify - true iff sig is key's signature of msg (RFC 8032
 * Ed25519, pure).  A key that is not a valid point, or a non-canonical
 * signature, is simply "false".  Costs about 200 us: callers on a hot path
 * cache results (see docs/protocol.md, authentication). */
bool crypto_ed25519_verify(const uint8_t key[CRYPTO_ED25519_PUBLIC_KEY_SIZE], const void *msg,
                           size_t len, const uint8_t sig[CRYPTO_ED25519_SIGNATURE_SIZE]);

/* crypto_equal - constant-time comparison of two equal-length buffers. */
bool crypto_equal(const void *a, const void *b, size_t n);
/* crypto_str_equal - constant-time in the content (length may leak). */
bool crypto_str_equal(const char *a, const char *b);

/* crypto_sha256 - SHA-256 of data into out.  Cannot fail: an OpenSSL failure
 * here means a broken library and aborts like out-of-memory does. */
void crypto_sha256(const void *data, size_t len, uint8_t out[32]);

/*
 * Standard base64 with padding (RFC 4648 section 4).  encode returns a
 * malloc'd NUL-terminated string (caller frees; "" for len 0).  decode is
 * strict: only the 64-character alphabet, length a multiple of 4, "=" only
 * as the last one or two characters, and canonical trailing bits (the unused
 * low bits of the last character are zero), so every byte string has exactly
 * one accepted encoding.  No whitespace, no line breaks.  It returns a
 * malloc'd buffer (caller frees; never NULL for valid input, even when
 * *out_len is 0) or NULL on invalid input.  s need not be NUL-terminated.
 */
char *crypto_b64_encode(const void *data, size_t len);
uint8_t *crypto_b64_decode(const char *s, size_t slen, size_t *out_len);
/* crypto_b64_decode_into - the same decoding into out[cap], no allocation
 * (a block per request, in a buffer reused): true with *out_len, false on
 * invalid input or more than cap bytes (out's content then unspecified). */
bool crypto_b64_decode_into(const char *s, size_t slen, uint8_t *out, size_t cap, size_t *out_len);

/*
 * base64url (RFC 4648 section 5: "-" and "_" instead of "+" and "/") without
 * padding, as in tokens and URLs.  Same ownership and strictness as above:
 * decode refuses "=", a length of 4k+1, and non-canonical trailing bits.
 */
char *crypto_b64url_encode(const void *data, size_t len);
uint8_t *crypto_b64url_decode(const char *s, size_t slen, size_t *out_len);

/* Lowercase hex.  encode returns a malloc'd string (caller frees).  decode
 * accepts lower and upper case, needs an even length, returns a malloc'd
 * buffer (caller frees) or NULL on bad input. */
char *crypto_hex_encode(const void *data, size_t len);
uint8_t *crypto_hex_decode(const char *s, size_t slen, size_t *out_len);
/* crypto_hex_digit - the value (0-15) of one hex digit, either case, or -1
 * for any other byte; the one decoder of hex and percent-encoding. */
int crypto_hex_digit(int c);

#endif
