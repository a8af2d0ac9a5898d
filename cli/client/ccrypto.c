/*
 * cli/client/ccrypto.c - libsodium behind the client's few primitives
 */
#include "ccrypto.h"

#include "xalloc.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(CCRYPTO_KEY_SIZE == crypto_secretbox_KEYBYTES, "secretbox key");
_Static_assert(CCRYPTO_NONCE_SIZE == crypto_secretbox_NONCEBYTES, "secretbox nonce");
_Static_assert(CCRYPTO_MAC_SIZE == crypto_secretbox_MACBYTES, "secretbox tag");
_Static_assert(CCRYPTO_SEALED_EXTRA == crypto_box_SEALBYTES, "sealed box");
_Static_assert(CCRYPTO_SALT_SIZE == crypto_pwhash_SALTBYTES, "argon2 salt");
_Static_assert(CCRYPTO_SIGNATURE_SIZE == crypto_sign_BYTES, "ed25519 signature");
_Static_assert(CCRYPTO_KEY_SIZE == crypto_box_BEFORENMBYTES, "shared secret");

const ccrypto_kdf_cost ccrypto_kdf_default = {crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                              crypto_pwhash_MEMLIMIT_INTERACTIVE};
const ccrypto_kdf_cost ccrypto_kdf_max = {crypto_pwhash_OPSLIMIT_SENSITIVE,
                                          crypto_pwhash_MEMLIMIT_SENSITIVE};

bool ccrypto_init(void)
{
    return sodium_init() >= 0;
}

/* Called by every entry point: without it libsodium would pick its
 * implementations lazily and randombytes would not be set up. */
static void need_init(void)
{
    if (sodium_init() < 0) {
        fputs("parsec: libsodium cannot start (no entropy source)\n", stderr);
        abort();
    }
}

void ccrypto_random(void *buf, size_t n)
{
    need_init();
    randombytes_buf(buf, n);
}

void ccrypto_wipe(void *buf, size_t n)
{
    sodium_memzero(buf, n);
}

void ccrypto_sign_from_seed(ccrypto_sign_key *k, const uint8_t seed[CCRYPTO_KEY_SIZE])
{
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    need_init();
    crypto_sign_seed_keypair(k->verify, sk, seed);
    memcpy(k->seed, seed, CCRYPTO_KEY_SIZE);
    sodium_memzero(sk, sizeof sk);
}

void ccrypto_sign_generate(ccrypto_sign_key *k)
{
    uint8_t seed[CCRYPTO_KEY_SIZE];
    ccrypto_random(seed, sizeof seed);
    ccrypto_sign_from_seed(k, seed);
    sodium_memzero(seed, sizeof seed);
}

void ccrypto_sign(const ccrypto_sign_key *k, const void *msg, size_t len,
                  uint8_t sig[CCRYPTO_SIGNATURE_SIZE])
{
    /* libsodium's secret key is seed || verify key */
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    need_init();
    memcpy(sk, k->seed, 32);
    memcpy(sk + 32, k->verify, 32);
    crypto_sign_detached(sig, NULL, msg, len, sk);
    sodium_memzero(sk, sizeof sk);
}

bool ccrypto_verify(const uint8_t verify[CCRYPTO_KEY_SIZE], const void *msg, size_t len,
                    const uint8_t sig[CCRYPTO_SIGNATURE_SIZE])
{
    need_init();
    return crypto_sign_verify_detached(sig, msg, len, verify) == 0;
}

uint8_t *ccrypto_signed(const ccrypto_sign_key *k, const void *msg, size_t len, size_t *out_len)
{
    uint8_t *out = xmalloc(len + CCRYPTO_SIGNATURE_SIZE);
    ccrypto_sign(k, msg, len, out);
    if (len)
        memcpy(out + CCRYPTO_SIGNATURE_SIZE, msg, len);
    *out_len = len + CCRYPTO_SIGNATURE_SIZE;
    return out;
}

void ccrypto_box_from_private(ccrypto_box_key *k, const uint8_t priv[CCRYPTO_KEY_SIZE])
{
    need_init();
    memcpy(k->priv, priv, CCRYPTO_KEY_SIZE);
    crypto_scalarmult_base(k->pub, k->priv);
}

void ccrypto_box_generate(ccrypto_box_key *k)
{
    need_init();
    crypto_box_keypair(k->pub, k->priv);
}

bool ccrypto_shared_secret(const ccrypto_box_key *mine, const uint8_t peer[CCRYPTO_KEY_SIZE],
                           uint8_t out[CCRYPTO_KEY_SIZE])
{
    need_init();
    return crypto_box_beforenm(out, peer, mine->priv) == 0;
}

void ccrypto_secretbox_seal_into(const uint8_t key[CCRYPTO_KEY_SIZE], const void *msg, size_t len,
                                 uint8_t *out)
{
    ccrypto_random(out, CCRYPTO_NONCE_SIZE);
    crypto_secretbox_easy(out + CCRYPTO_NONCE_SIZE, msg, len, out, key);
}

uint8_t *ccrypto_secretbox_seal(const uint8_t key[CCRYPTO_KEY_SIZE], const void *msg, size_t len,
                                size_t *out_len)
{
    uint8_t *out = xmalloc(len + CCRYPTO_SECRETBOX_EXTRA);
    ccrypto_secretbox_seal_into(key, msg, len, out);
    *out_len = len + CCRYPTO_SECRETBOX_EXTRA;
    return out;
}

bool ccrypto_secretbox_open_into(const uint8_t key[CCRYPTO_KEY_SIZE], const void *box, size_t len,
                                 uint8_t *out)
{
    const uint8_t *b = box;
    need_init();
    if (len < CCRYPTO_SECRETBOX_EXTRA)
        return false;
    return crypto_secretbox_open_easy(out, b + CCRYPTO_NONCE_SIZE, len - CCRYPTO_NONCE_SIZE, b,
                                      key) == 0;
}

uint8_t *ccrypto_secretbox_open(const uint8_t key[CCRYPTO_KEY_SIZE], const void *box, size_t len,
                                size_t *out_len)
{
    if (len < CCRYPTO_SECRETBOX_EXTRA)
        return NULL;
    /* +1: a valid empty plaintext still gets a non-NULL buffer */
    uint8_t *out = xmalloc(len - CCRYPTO_SECRETBOX_EXTRA + 1);
    if (!ccrypto_secretbox_open_into(key, box, len, out)) {
        free(out);
        return NULL;
    }
    *out_len = len - CCRYPTO_SECRETBOX_EXTRA;
    return out;
}

uint8_t *ccrypto_seal(const uint8_t pub[CCRYPTO_KEY_SIZE], const void *msg, size_t len,
                      size_t *out_len)
{
    need_init();
    uint8_t *out = xmalloc(len + CCRYPTO_SEALED_EXTRA);
    if (crypto_box_seal(out, msg, len, pub) != 0) {
        /* only a key of low order, which no honest certificate carries */
        free(out);
        return NULL;
    }
    *out_len = len + CCRYPTO_SEALED_EXTRA;
    return out;
}

uint8_t *ccrypto_unseal(const ccrypto_box_key *k, const void *box, size_t len, size_t *out_len)
{
    need_init();
    if (len < CCRYPTO_SEALED_EXTRA)
        return NULL;
    uint8_t *out = xmalloc(len - CCRYPTO_SEALED_EXTRA + 1);
    if (crypto_box_seal_open(out, box, len, k->pub, k->priv) != 0) {
        free(out);
        return NULL;
    }
    *out_len = len - CCRYPTO_SEALED_EXTRA;
    return out;
}

bool ccrypto_kdf(const char *pass, size_t pass_len, const uint8_t salt[CCRYPTO_SALT_SIZE],
                 ccrypto_kdf_cost cost, uint8_t key[CCRYPTO_KEY_SIZE])
{
    need_init();
    if (cost.opslimit < crypto_pwhash_OPSLIMIT_MIN || cost.opslimit > ccrypto_kdf_max.opslimit ||
        cost.memlimit < crypto_pwhash_MEMLIMIT_MIN || cost.memlimit > ccrypto_kdf_max.memlimit)
        return false;
    return crypto_pwhash(key, CCRYPTO_KEY_SIZE, pass, pass_len, salt, cost.opslimit, cost.memlimit,
                         crypto_pwhash_ALG_ARGON2ID13) == 0;
}

void ccrypto_blake2b(const void *key, size_t keylen, const void *msg, size_t len, uint8_t *out,
                     size_t outlen)
{
    need_init();
    if (crypto_generichash(out, outlen, msg, len, key, keylen) != 0) {
        fputs("parsec: BLAKE2b called with a bad size\n", stderr);
        abort();
    }
}
