/*
 * common/certif.h - signed certificates: parse, verify, compare
 *
 * A certificate travels as base64 (in requests) of
 *
 *     signature (64 bytes, Ed25519) || payload (UTF-8 JSON object)
 *
 * where the signature covers the payload bytes exactly as sent.  The server
 * stores the whole blob as received and gives it back byte for byte; this
 * module only reads it.  Payloads follow
 * shared/reference/parsec-2.12/schema/types/certif/ with the mapping of
 * docs/protocol.md; the rules, stricter than Parsec's, are:
 *
 * - the payload is strict JSON (common/proto.h: proto_json_parse): valid
 *   UTF-8, no duplicate keys, nothing after the object;
 * - "type" names one of the four types below; every field of that type is
 *   present (Option fields as null, never absent) and no other field is;
 * - user certificates: is_admin must equal (profile == "ADMIN");
 * - a certificate signed by the root key carries "author": null (Parsec
 *   ignored the author there, so a root-signed certificate could claim any
 *   device as its author and mislead whoever walks the trustchain).
 *
 * Sequester certificates are out of scope here.
 *
 * Ownership: certif_t fields point into the arena passed to the parser
 * (strings) or are copied into the struct (keys, ids); raw/payload point into
 * the caller's buffer, which must outlive the certif_t.
 * Thread-safety: no global state.
 */
#ifndef PARSEC_CERTIF_H
#define PARSEC_CERTIF_H

#include "arena.h"
#include "proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CERTIF_SIGNATURE_SIZE 64
/* A payload is a few hundred bytes; the bound leaves room for long labels
 * and JSON escapes while keeping hostile input small. */
#define CERTIF_MAX_PAYLOAD 4096
/* Bound for the decoded blob, to pass to proto_bytes(). */
#define CERTIF_MAX_SIZE (CERTIF_SIGNATURE_SIZE + CERTIF_MAX_PAYLOAD)

typedef enum {
    CERTIF_USER,         /* "user_certificate" */
    CERTIF_DEVICE,       /* "device_certificate" */
    CERTIF_REVOKED_USER, /* "revoked_user_certificate" */
    CERTIF_REALM_ROLE,   /* "realm_role_certificate" */
} certif_type;

typedef enum {
    CERTIF_PROFILE_ADMIN,
    CERTIF_PROFILE_STANDARD,
    CERTIF_PROFILE_OUTSIDER,
} certif_profile;

typedef enum {
    CERTIF_ROLE_NONE, /* null: the role is removed */
    CERTIF_ROLE_OWNER,
    CERTIF_ROLE_MANAGER,
    CERTIF_ROLE_CONTRIBUTOR,
    CERTIF_ROLE_READER,
} certif_role;

typedef struct {
    certif_type type;
    const char *author; /* device id; NULL: signed by the organization's root key */
    int64_t timestamp;  /* microseconds since the Unix epoch */
    union {
        struct {
            const char *user_id;
            const char *human_email; /* both NULL when human_handle is null */
            const char *human_label;
            uint8_t public_key[PROTO_KEY_SIZE]; /* X25519, for encryption */
            bool is_admin;
            certif_profile profile;
        } user;
        struct {
            const char *device_id;
            const char *device_label;           /* NULL when null */
            uint8_t verify_key[PROTO_KEY_SIZE]; /* Ed25519 */
        } device;
        struct {
            const char *user_id;
        } revoked_user;
        struct {
            proto_uuid_t realm_id;
            const char *user_id;
            certif_role role;
        } realm_role;
    };
    /* The blob as given, and its payload part (raw + 64). */
    const uint8_t *raw;
    size_t raw_len;
    const uint8_t *payload;
    size_t payload_len;
} certif_t;

typedef enum {
    CERTIF_OK = 0,
    CERTIF_MALFORMED,     /* size, JSON, field, type or value refused */
    CERTIF_WRONG_TYPE,    /* a well-formed certificate of another type */
    CERTIF_BAD_AUTHOR,    /* author is not the expected device (or not null for root) */
    CERTIF_BAD_SIGNATURE, /* the signature does not verify with the key */
} certif_status;

/*
 * certif_parse - read raw[0..len) without checking the signature
 *
 * For callers that must read the author before knowing the key, and for the
 * fuzzer.  On failure *why (arena or static) says what and where, e.g.
 * "field `timestamp`: expected an RFC 3339 ...".
 */
certif_status certif_parse(arena_t *a, const uint8_t *raw, size_t len, certif_t *out,
                           const char **why) __attribute__((warn_unused_result));

/* certif_signature_ok - the signature of raw verifies with key (Ed25519). */
bool certif_signature_ok(const uint8_t *raw, size_t len, const uint8_t key[PROTO_KEY_SIZE]);

/*
 * certif_load - parse, then check type, author and signature, in that order
 * (the cheap checks first: a verification costs about 200 us)
 *
 * expected_author: the device id the certificate must name, or NULL when it
 * must be signed by the root key (then "author" must be null).  Every
 * failure maps to the command's invalid_certification status; *why says
 * which check failed.
 */
certif_status certif_load(arena_t *a, const uint8_t *raw, size_t len, certif_type expected,
                          const uint8_t key[PROTO_KEY_SIZE], const char *expected_author,
                          certif_t *out, const char **why) __attribute__((warn_unused_result));

/*
 * Redacted-consistency checks (sections 1.4 step 6 and 3.2 steps 5-6): the
 * redacted certificate equals the real one in every field except
 * human_handle (user) / device_label (device), which must be null in the
 * redacted one.  Both must be of the right type.  False with *why (static).
 */
bool certif_user_redacted_ok(const certif_t *user, const certif_t *redacted, const char **why);
bool certif_device_redacted_ok(const certif_t *device, const certif_t *redacted, const char **why);

/* Names as on the wire. */
const char *certif_type_name(certif_type t);
const char *certif_profile_name(certif_profile p);
/* NULL for CERTIF_ROLE_NONE */
const char *certif_role_name(certif_role r);
bool certif_profile_from_name(const char *s, certif_profile *out);
/* "OWNER"... -> role; NULL -> CERTIF_ROLE_NONE */
bool certif_role_from_name(const char *s, certif_role *out);

#endif
