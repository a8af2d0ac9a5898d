/*
 * common/sequester.h - the RSA side of sequestering: keys, the authority's
 * RSASSA-PSS signature, service certificates
 *
 * parsec-2.12-behaviour.md 15.2, 15.4 and 15.6; docs/sequester.md.
 *
 *   key          plain RSA (rsaEncryption) only: DER SubjectPublicKeyInfo,
 *                DER PKCS#1 RSAPublicKey, either in PEM, or an X.509
 *                certificate's key (what Parsec's loader takes); DSA, EC,
 *                RSA-PSS-restricted keys, trailing bytes and inputs over
 *                SEQUESTER_KEY_INPUT_MAX are refused.  No minimum size.
 *   signature    "RSASSA-PSS-SHA256:" || sig (exactly k bytes, k the
 *                modulus length) || signed bytes; RSASSA-PSS with SHA-256,
 *                MGF1-SHA-256, trailer 0xBC.  Verified with the salt length
 *                detected (Parsec under OpenSSL 3 signs with the maximum
 *                salt, under OpenSSL 1 with 32 bytes); signed with 32.
 *   service      the signed bytes of a service certificate are the JSON
 *   certificate  object {"type": "sequester_service_certificate",
 *                "timestamp", "service_id", "service_label",
 *                "encryption_key_der"} (docs/protocol.md section 2
 *                mapping: Parsec's msgpack, Part 1 item 1).
 *
 * The fcgi workers verify only (bootstrap); signing is for the operator's
 * command line (create_service, generate_service_certificate) and tests.
 * Every function is thread-safe and never logs key material.
 *
 * Ownership: EVP_PKEY results belong to the caller (EVP_PKEY_free); DER
 * outputs are OPENSSL_malloc'd (OPENSSL_free); certificate fields point
 * into the arena given.
 */
#ifndef PARSEC_SEQUESTER_H
#define PARSEC_SEQUESTER_H

#include "arena.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A key file or a verify_key_der / encryption_key_der field: at most this
 * many bytes (a 16384-bit key in PEM fits). */
#define SEQUESTER_KEY_INPUT_MAX 8192
/* The DER forms stored and sent (SubjectPublicKeyInfo). */
#define SEQUESTER_KEY_DER_MAX 4096
/* A service certificate: prefix, signature and payload. */
#define SEQUESTER_CERTIF_MAX 16384
#define SEQUESTER_LABEL_MAX  254

#define SEQUESTER_SIGNATURE_PREFIX "RSASSA-PSS-SHA256:"

/*
 * sequester_public_key_load - the RSA public key in data[0..len) in any
 * accepted form (see above), or NULL with *why set (a static string).
 */
EVP_PKEY *sequester_public_key_load(const void *data, size_t len, const char **why);

/* sequester_private_key_load - an unencrypted RSA private key (PEM or DER,
 * PKCS#1 or PKCS#8), or NULL with *why.  For the command line. */
EVP_PKEY *sequester_private_key_load(const void *data, size_t len, const char **why);

/* sequester_key_der - key's public part as DER SubjectPublicKeyInfo into
 * *out (OPENSSL_free); its length, or 0 on failure. */
size_t sequester_key_der(EVP_PKEY *key, uint8_t **out);

/*
 * sequester_verify - check the authority signature of signed_[0..len)
 * under key; true with *payload and *plen set to the signed bytes (inside
 * signed_), false when the prefix, the length or the signature is wrong.
 */
bool sequester_verify(EVP_PKEY *key, const uint8_t *signed_, size_t len, const uint8_t **payload,
                      size_t *plen);

/* sequester_sign - prefix || signature || payload, malloc'd (caller frees),
 * *out_len its length; NULL when key cannot sign. */
uint8_t *sequester_sign(EVP_PKEY *priv, const void *payload, size_t plen, size_t *out_len);

/* A verified service certificate. */
typedef struct {
    int64_t timestamp;             /* us since the epoch */
    uint8_t service_id[16];        /* the UUID's bytes */
    char service_id_hex[33];       /* 32 lowercase hex digits */
    const char *label;             /* 1..SEQUESTER_LABEL_MAX bytes, no control character */
    const uint8_t *encryption_key; /* the service's RSA key as received (DER) */
    size_t encryption_key_len;
} sequester_service_certif_t;

/*
 * sequester_service_certif_load - verify raw[0..len) under the authority's
 * key and decode its payload (every field present, no other, the key a
 * plain RSA key).  False with *why an arena string ("Invalid certification
 * data (...).", behaviour 15.7).
 */
bool sequester_service_certif_load(arena_t *a, EVP_PKEY *authority, const uint8_t *raw, size_t len,
                                   sequester_service_certif_t *out, const char **why);

/* sequester_service_certif_payload - the JSON payload of a service
 * certificate (malloc'd string, caller frees); for the command line. */
char *sequester_service_certif_payload(int64_t timestamp_us, const uint8_t service_id[16],
                                       const char *label, const uint8_t *key_der, size_t key_len);

#endif
