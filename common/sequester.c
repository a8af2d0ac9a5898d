/*
 * common/sequester.c - RSA keys, the authority's signature and service
 * certificates (see sequester.h)
 */
#include "sequester.h"

#include "proto.h"
#include "xalloc.h"

#include <json-c/json.h>
#include <openssl/decoder.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX_LEN (sizeof SEQUESTER_SIGNATURE_PREFIX - 1)

static bool plain_rsa(const EVP_PKEY *key)
{
    return key && EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA;
}

/* One decoder pass over data in input format fmt ("DER" or "PEM"); with
 * DER, every byte must be consumed. */
static EVP_PKEY *decode(const void *data, size_t len, const char *fmt, int selection)
{
    EVP_PKEY *key = NULL;
    OSSL_DECODER_CTX *ctx =
        OSSL_DECODER_CTX_new_for_pkey(&key, fmt, NULL, "RSA", selection, NULL, NULL);
    if (!ctx)
        return NULL;
    const unsigned char *p = data;
    size_t left = len;
    if (!OSSL_DECODER_from_data(ctx, &p, &left) || (strcmp(fmt, "DER") == 0 && left != 0)) {
        EVP_PKEY_free(key);
        key = NULL;
    }
    OSSL_DECODER_CTX_free(ctx);
    return key;
}

static EVP_PKEY *load(const void *data, size_t len, int selection, const char **why)
{
    if (len == 0 || len > SEQUESTER_KEY_INPUT_MAX) {
        *why = "key of 0 or too many bytes";
        return NULL;
    }
    EVP_PKEY *key = decode(data, len, "DER", selection);
    if (!key)
        key = decode(data, len, "PEM", selection);
    if (!key && selection == EVP_PKEY_PUBLIC_KEY) {
        /* an X.509 certificate's key, DER or PEM */
        const unsigned char *p = data;
        X509 *x = d2i_X509(NULL, &p, (long)len);
        if (x && p != (const unsigned char *)data + len) {
            X509_free(x);
            x = NULL;
        }
        if (!x) {
            BIO *bio = BIO_new_mem_buf(data, (int)len);
            x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
            BIO_free(bio);
        }
        if (x) {
            key = X509_get_pubkey(x);
            X509_free(x);
        }
    }
    if (!plain_rsa(key)) {
        EVP_PKEY_free(key);
        *why = "not an RSA key";
        return NULL;
    }
    return key;
}

EVP_PKEY *sequester_public_key_load(const void *data, size_t len, const char **why)
{
    return load(data, len, EVP_PKEY_PUBLIC_KEY, why);
}

EVP_PKEY *sequester_private_key_load(const void *data, size_t len, const char **why)
{
    return load(data, len, EVP_PKEY_KEYPAIR, why);
}

size_t sequester_key_der(EVP_PKEY *key, uint8_t **out)
{
    *out = NULL;
    int n = i2d_PUBKEY(key, out);
    return n > 0 ? (size_t)n : 0;
}

/* A digest context set for RSASSA-PSS SHA-256 with salt length saltlen. */
static EVP_MD_CTX *pss_ctx(EVP_PKEY *key, bool sign, int saltlen)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ok = md &&
              (sign ? EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, key)
                    : EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, key)) == 1 &&
              EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
              EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0 &&
              EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, saltlen) > 0;
    if (!ok) {
        EVP_MD_CTX_free(md);
        return NULL;
    }
    return md;
}

bool sequester_verify(EVP_PKEY *key, const uint8_t *signed_, size_t len, const uint8_t **payload,
                      size_t *plen)
{
    *payload = NULL;
    *plen = 0;
    if (!plain_rsa(key))
        return false;
    size_t k = (size_t)EVP_PKEY_get_size(key);
    if (len < PREFIX_LEN + k || memcmp(signed_, SEQUESTER_SIGNATURE_PREFIX, PREFIX_LEN) != 0)
        return false;
    const uint8_t *sig = signed_ + PREFIX_LEN;
    const uint8_t *msg = sig + k;
    size_t mlen = len - PREFIX_LEN - k;
    EVP_MD_CTX *md = pss_ctx(key, false, RSA_PSS_SALTLEN_AUTO);
    bool ok = md && EVP_DigestVerify(md, sig, k, msg, mlen) == 1;
    EVP_MD_CTX_free(md);
    if (ok) {
        *payload = msg;
        *plen = mlen;
    }
    return ok;
}

uint8_t *sequester_sign(EVP_PKEY *priv, const void *payload, size_t plen, size_t *out_len)
{
    *out_len = 0;
    if (!plain_rsa(priv))
        return NULL;
    size_t k = (size_t)EVP_PKEY_get_size(priv);
    uint8_t *out = malloc(PREFIX_LEN + k + plen);
    if (!out)
        return NULL;
    memcpy(out, SEQUESTER_SIGNATURE_PREFIX, PREFIX_LEN);
    EVP_MD_CTX *md = pss_ctx(priv, true, 32);
    size_t siglen = k;
    bool ok = md && EVP_DigestSign(md, out + PREFIX_LEN, &siglen, payload, plen) == 1;
    EVP_MD_CTX_free(md);
    if (!ok || siglen > k) {
        free(out);
        return NULL;
    }
    if (siglen < k) { /* left-pad to the modulus length (15.4) */
        memmove(out + PREFIX_LEN + (k - siglen), out + PREFIX_LEN, siglen);
        memset(out + PREFIX_LEN, 0, k - siglen);
    }
    memcpy(out + PREFIX_LEN + k, payload, plen);
    *out_len = PREFIX_LEN + k + plen;
    return out;
}

static bool invalid(arena_t *a, const char **why, const char *what)
{
    *why = arena_printf(a, "Invalid certification data (%s).", what);
    return false;
}

bool sequester_service_certif_load(arena_t *a, EVP_PKEY *authority, const uint8_t *raw, size_t len,
                                   sequester_service_certif_t *out, const char **why)
{
    memset(out, 0, sizeof *out);
    if (len > SEQUESTER_CERTIF_MAX)
        return invalid(a, why, "certificate too large");
    const uint8_t *payload;
    size_t plen;
    if (!sequester_verify(authority, raw, len, &payload, &plen))
        return invalid(a, why, "Signature was forged or corrupt");
    const char *perr = NULL;
    json_object *obj = proto_json_parse(a, payload, plen, &perr);
    if (!obj)
        return invalid(a, why, perr);
    proto_in_t *in = proto_in_new(a, obj, NULL);
    const char *type = NULL;
    proto_uuid_t id;
    proto_bytes_t key;
    proto_str(in, "type", 64, &type);
    proto_datetime(in, "timestamp", &out->timestamp);
    proto_uuid(in, "service_id", &id);
    proto_str(in, "service_label", SEQUESTER_LABEL_MAX, &out->label);
    proto_bytes(in, "encryption_key_der", SEQUESTER_KEY_INPUT_MAX, &key);
    if (!proto_in_end(in))
        return invalid(a, why, proto_in_reason(in));
    if (strcmp(type, "sequester_service_certificate") != 0)
        return invalid(a, why, "wrong type");
    if (!*out->label)
        return invalid(a, why, "empty service_label");
    for (const unsigned char *c = (const unsigned char *)out->label; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            return invalid(a, why, "control character in service_label");
    const char *kwhy = NULL;
    EVP_PKEY *k = sequester_public_key_load(key.data, key.len, &kwhy);
    if (!k)
        return invalid(a, why, "encryption_key_der is not an RSA public key");
    EVP_PKEY_free(k);
    memcpy(out->service_id, id.bytes, 16);
    memcpy(out->service_id_hex, id.hex, sizeof out->service_id_hex);
    out->encryption_key = key.data;
    out->encryption_key_len = key.len;
    return true;
}

char *sequester_service_certif_payload(int64_t timestamp_us, const uint8_t service_id[16],
                                       const char *label, const uint8_t *key_der, size_t key_len)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string("sequester_service_certificate"));
    json_object_object_add(o, "timestamp", proto_json_datetime(timestamp_us));
    json_object_object_add(o, "service_id", proto_json_uuid(service_id));
    json_object_object_add(o, "service_label", json_object_new_string(label));
    json_object_object_add(o, "encryption_key_der", proto_json_bytes(key_der, key_len));
    char *s = xstrdup(
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return s;
}
