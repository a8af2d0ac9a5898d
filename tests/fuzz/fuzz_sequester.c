/*
 * tests/fuzz/fuzz_sequester.c - libFuzzer target: the RSA side of
 * sequestering (common/sequester.h)
 *
 * Input: one mode byte, then bytes.
 *   mode 0  the bytes as a key file or a verify_key_der field:
 *           sequester_public_key_load (DER SubjectPublicKeyInfo, PKCS#1,
 *           PEM, X.509), and an accepted key re-encoded and loaded again
 *           to the same key;
 *   mode 1  the bytes as a signed blob: sequester_verify under a fixed
 *           key, then as a service certificate;
 *   mode 2  the bytes as a service certificate's payload, signed here so
 *           that the JSON decoding and the embedded key are reached:
 *           sequester_service_certif_load must accept exactly the payloads
 *           whose fields are all valid, and what it returns holds.
 * Also the private key loader (mode 3).  No input may crash, leak or
 * accept what the invariants refuse.
 *
 *   make fuzz
 *   build/fuzz/fuzz_sequester build/fuzz/corpus-sequester tests/fuzz/corpus/sequester
 */
#include "arena.h"
#include "sequester.h"

#include <openssl/rsa.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *authority;

static void check(bool ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!authority)
        authority = EVP_RSA_gen(1024); /* once per process */
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    const char *why = NULL;
    switch (data[0] % 4) {
    case 0: {
        EVP_PKEY *k = sequester_public_key_load(p, n, &why);
        check(k != NULL || why != NULL);
        if (k) {
            check(EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA);
            uint8_t *der = NULL;
            size_t len = sequester_key_der(k, &der);
            check(len > 0);
            EVP_PKEY *again = sequester_public_key_load(der, len, &why);
            check(again && EVP_PKEY_eq(k, again) == 1);
            EVP_PKEY_free(again);
            OPENSSL_free(der);
            EVP_PKEY_free(k);
        }
        break;
    }
    case 1: {
        const uint8_t *payload;
        size_t plen;
        if (sequester_verify(authority, p, n, &payload, &plen))
            check(payload >= p && payload + plen == p + n);
        arena_t *a = arena_new();
        sequester_service_certif_t sc;
        check(!sequester_service_certif_load(a, authority, p, n, &sc, &why) || sc.label);
        arena_free(a);
        break;
    }
    case 2: {
        size_t len;
        uint8_t *signed_ = sequester_sign(authority, p, n, &len);
        check(signed_ != NULL);
        const uint8_t *payload;
        size_t plen;
        check(sequester_verify(authority, signed_, len, &payload, &plen) && plen == n);
        arena_t *a = arena_new();
        sequester_service_certif_t sc;
        if (sequester_service_certif_load(a, authority, signed_, len, &sc, &why)) {
            check(sc.label && *sc.label && strlen(sc.label) <= SEQUESTER_LABEL_MAX);
            check(strlen(sc.service_id_hex) == 32);
            EVP_PKEY *k = sequester_public_key_load(sc.encryption_key, sc.encryption_key_len, &why);
            check(k != NULL);
            EVP_PKEY_free(k);
        } else {
            check(why && strncmp(why, "Invalid certification data (", 28) == 0);
        }
        arena_free(a);
        free(signed_);
        break;
    }
    default: {
        EVP_PKEY *k = sequester_private_key_load(p, n, &why);
        check(k == NULL || EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA);
        EVP_PKEY_free(k);
        break;
    }
    }
    return 0;
}
