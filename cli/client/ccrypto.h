/*
 * cli/client/ccrypto.h - the client's cryptography, on libsodium
 *
 * What an end-to-end encrypted client needs and the server never does:
 * secret keys (XSalsa20-Poly1305 secretbox, the nonce stored in front of the
 * ciphertext, as Parsec's SecretKey.encrypt does), sealed boxes for a user's
 * X25519 public key, X25519 key agreement (crypto_box_beforenm: Parsec's
 * generate_shared_secret_key), Argon2id for passphrases, keyed BLAKE2b, and
 * Ed25519 signatures that common/crypto.c (OpenSSL) verifies: both are RFC
 * 8032 pure Ed25519, checked against the RFC's vectors by the client_crypto
 * suite.  docs/client.md gives the formats built on these.
 *
 * Every function calls ccrypto_init() itself; all are thread-safe after it.
 * Ownership: outputs go to caller-provided buffers of the sizes below, or
 * are malloc'd and returned (caller frees, said per function).
 */
#ifndef PARSEC_CCRYPTO_H
#define PARSEC_CCRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* secret key, X25519 public or private key, Ed25519 seed or verify key */
#define CCRYPTO_KEY_SIZE       32
#define CCRYPTO_SIGNATURE_SIZE 64
#define CCRYPTO_NONCE_SIZE     24
#define CCRYPTO_MAC_SIZE       16
/* secretbox overhead: nonce in front, Poly1305 tag */
#define CCRYPTO_SECRETBOX_EXTRA (CCRYPTO_NONCE_SIZE + CCRYPTO_MAC_SIZE)
/* sealed box overhead: ephemeral public key and tag */
#define CCRYPTO_SEALED_EXTRA 48
#define CCRYPTO_SALT_SIZE    16

/* An Ed25519 signing key: the RFC 8032 seed and the verify key. */
typedef struct {
    uint8_t seed[CCRYPTO_KEY_SIZE];
    uint8_t verify[CCRYPTO_KEY_SIZE];
} ccrypto_sign_key;

/* An X25519 key pair (Parsec's PrivateKey / PublicKey). */
typedef struct {
    uint8_t priv[CCRYPTO_KEY_SIZE];
    uint8_t pub[CCRYPTO_KEY_SIZE];
} ccrypto_box_key;

/* ccrypto_init - sodium_init(); false if libsodium cannot start (no
 * entropy source).  Idempotent. */
bool ccrypto_init(void) __attribute__((warn_unused_result));

/* ccrypto_random - n bytes from libsodium's CSPRNG (getrandom). */
void ccrypto_random(void *buf, size_t n);

/* ccrypto_wipe - sodium_memzero: not optimised away. */
void ccrypto_wipe(void *buf, size_t n);

/* ---- Ed25519 ---- */
void ccrypto_sign_generate(ccrypto_sign_key *k);
/* ccrypto_sign_from_seed - the key pair of an RFC 8032 private key. */
void ccrypto_sign_from_seed(ccrypto_sign_key *k, const uint8_t seed[CCRYPTO_KEY_SIZE]);
void ccrypto_sign(const ccrypto_sign_key *k, const void *msg, size_t len,
                  uint8_t sig[CCRYPTO_SIGNATURE_SIZE]);
bool ccrypto_verify(const uint8_t verify[CCRYPTO_KEY_SIZE], const void *msg, size_t len,
                    const uint8_t sig[CCRYPTO_SIGNATURE_SIZE]);
/* ccrypto_signed - signature(64) || msg, the shape of every signed blob;
 * malloc'd, *out_len = len + 64. */
uint8_t *ccrypto_signed(const ccrypto_sign_key *k, const void *msg, size_t len, size_t *out_len);

/* ---- X25519 ---- */
void ccrypto_box_generate(ccrypto_box_key *k);
/* ccrypto_box_from_private - the public key of a private key. */
void ccrypto_box_from_private(ccrypto_box_key *k, const uint8_t priv[CCRYPTO_KEY_SIZE]);
/* ccrypto_shared_secret - crypto_box_beforenm(peer, mine): the same 32 bytes
 * on both sides; false for a peer key of low order (all-zero secret). */
bool ccrypto_shared_secret(const ccrypto_box_key *mine, const uint8_t peer[CCRYPTO_KEY_SIZE],
                           uint8_t out[CCRYPTO_KEY_SIZE]) __attribute__((warn_unused_result));

/* ---- secretbox: nonce(24) || XSalsa20-Poly1305(plaintext) ---- */
/* ccrypto_secretbox_seal - malloc'd, *out_len = len + CCRYPTO_SECRETBOX_EXTRA. */
uint8_t *ccrypto_secretbox_seal(const uint8_t key[CCRYPTO_KEY_SIZE], const void *msg, size_t len,
                                size_t *out_len);
/* ccrypto_secretbox_seal_into - the same into out[len + EXTRA]: for blocks,
 * without an allocation per block. */
void ccrypto_secretbox_seal_into(const uint8_t key[CCRYPTO_KEY_SIZE], const void *msg, size_t len,
                                 uint8_t *out);
/* ccrypto_secretbox_open - malloc'd plaintext (never NULL on success, even
 * for 0 bytes) or NULL when the box is too short or does not authenticate. */
uint8_t *ccrypto_secretbox_open(const uint8_t key[CCRYPTO_KEY_SIZE], const void *box, size_t len,
                                size_t *out_len) __attribute__((warn_unused_result));
/* ccrypto_secretbox_open_into - into out[len - EXTRA]; false when refused. */
bool ccrypto_secretbox_open_into(const uint8_t key[CCRYPTO_KEY_SIZE], const void *box, size_t len,
                                 uint8_t *out) __attribute__((warn_unused_result));

/* ---- sealed boxes (crypto_box_seal) for a user's public key ---- */
uint8_t *ccrypto_seal(const uint8_t pub[CCRYPTO_KEY_SIZE], const void *msg, size_t len,
                      size_t *out_len);
uint8_t *ccrypto_unseal(const ccrypto_box_key *k, const void *box, size_t len, size_t *out_len)
    __attribute__((warn_unused_result));

/* ---- passphrases ---- */
typedef struct {
    unsigned long long opslimit;
    size_t memlimit;
} ccrypto_kdf_cost;
/* The cost new device files get (libsodium's INTERACTIVE: 2 passes, 64 MiB),
 * and the most a file may ask (SENSITIVE: 4 passes, 1 GiB), so a hostile
 * file cannot make the client allocate without bound. */
extern const ccrypto_kdf_cost ccrypto_kdf_default, ccrypto_kdf_max;
/* ccrypto_kdf - Argon2id(passphrase, salt) into key; false when out of
 * memory or cost outside [MIN, ccrypto_kdf_max]. */
bool ccrypto_kdf(const char *pass, size_t pass_len, const uint8_t salt[CCRYPTO_SALT_SIZE],
                 ccrypto_kdf_cost cost, uint8_t key[CCRYPTO_KEY_SIZE])
    __attribute__((warn_unused_result));

/* ---- hashes ---- */
/* ccrypto_blake2b - keyed (key may be NULL) BLAKE2b of outlen (16..64) bytes. */
void ccrypto_blake2b(const void *key, size_t keylen, const void *msg, size_t len, uint8_t *out,
                     size_t outlen);

#endif
