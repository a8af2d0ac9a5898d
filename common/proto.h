/*
 * common/proto.h - the JSON mapping of the client protocol, in one place
 *
 * docs/protocol.md is the contract; this module is its code.  Every command
 * handler reads its request and builds its reply through these helpers, so
 * the mapping (bytes as base64, datetimes as RFC 3339 UTC with microseconds,
 * UUIDs as 32 lowercase hex characters, identifiers, human handles...) and
 * the wording of bad_message replies are fixed once.
 *
 * Reading a request (what the RPC dispatcher and every handler do):
 *
 *     proto_in_t *in; const char *cmd, *why;
 *     switch (proto_decode_request(r->arena, r->body, r->body_len, &in, &cmd, &why)) {
 *     case PROTO_REQ_INVALID_MSG_FORMAT: reply proto_reply_invalid_msg_format(why)
 *     case PROTO_REQ_UNKNOWN_COMMAND:    reply proto_reply_unknown_command()
 *     case PROTO_REQ_OK:                 dispatch on cmd
 *     }
 *     ...in the handler:
 *     proto_bytes_t cert; const char *token;
 *     proto_str(in, "bootstrap_token", 64, &token);
 *     proto_bytes(in, "user_certificate", CERTIF_MAX_SIZE, &cert);
 *     if (!proto_in_end(in))
 *         reply proto_reply_bad_message(in);
 *
 * Errors are sticky: the first failure is kept (with the path of the field
 * at fault, e.g. "batch[2].vlob_id"), later getters do nothing and return
 * false with their outputs zeroed, and proto_in_end() reports it once.  So a
 * handler may read every field and check once, like pgbouncer's builders.
 * Outputs are never valid after a failed getter.
 *
 * Unknown fields: refused.  proto_in_end() fails with bad_message naming the
 * first field of the request (or of any nested object read through a child
 * reader) that no getter asked for.  Option<T> fields may be absent or null,
 * both meaning "none": test them with proto_has() before reading them.
 *
 * Ownership: everything these functions return lives in the arena given to
 * proto_decode_request() / proto_in_new() (json-c objects join it through
 * arena_defer), so handlers free nothing.  Reply builders return new json-c
 * objects (refcount 1) that the caller hands to http_respond_json() or adds
 * to another object.
 *
 * Thread-safety: no global state; a proto_in_t belongs to one request.
 */
#ifndef PARSEC_PROTO_H
#define PARSEC_PROTO_H

#include "arena.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- limits ---------------------------------------------------------- */

/* Nesting of a request or certificate payload (the deepest schema needs 4). */
#define PROTO_JSON_MAX_DEPTH 16
/* OrganizationID, UserID, DeviceName: 1 to 32 of [A-Za-z0-9_-]. */
#define PROTO_ID_MAX 32
/* DeviceID: "<user id>@<device name>". */
#define PROTO_DEVICE_ID_MAX (2 * PROTO_ID_MAX + 1)
/* DeviceLabel: 1 to 255 bytes of UTF-8 without control characters. */
#define PROTO_DEVICE_LABEL_MAX 255
/* HumanHandle: email at most 254 bytes, label 1 to 254 bytes. */
#define PROTO_EMAIL_MAX       254
#define PROTO_HUMAN_LABEL_MAX 254
/* "YYYY-MM-DDTHH:MM:SS.ffffffZ" */
#define PROTO_DATETIME_LEN 27
/* Ed25519 verify keys, X25519 public keys, SHA-256 digests. */
#define PROTO_KEY_SIZE 32

/* ---- request headers: Api-Version, Content-Type (proto_header.c) ------- */

/* The one version this server speaks; a refusal lists PROTO_API_SUPPORTED in
 * the Supported-Api-Versions header (422).  Same major = accepted, as Parsec
 * picks its version by major only. */
#define PROTO_API_VERSION       "3.2"
#define PROTO_API_VERSION_MAJOR 3
#define PROTO_API_SUPPORTED     "3.2"

/* proto_api_version_ok - true iff header (NULL when absent: accepted, as in
 * Parsec) is "<major>.<minor>" in decimal with our major. */
bool proto_api_version_ok(const char *header);

/* proto_bearer - header is "Bearer <token>" (scheme in any case, then
 * spaces or tabs): *tok points into header at the token, *len its length
 * without trailing spaces or tabs (may be 0).  False for any other scheme
 * or NULL. */
bool proto_bearer(const char *header, const char **tok, size_t *len);

/* proto_content_type_ok - header (NULL when absent: refused) is
 * "application/json", optionally with "; charset=utf-8" (case-insensitive,
 * optional spaces, optional quotes around the charset), nothing else: UTF-8
 * is the only encoding JSON may travel in (RFC 8259 section 8.1), so a body
 * is never read in an encoding its sender did not mean. */
bool proto_content_type_ok(const char *header);

/* ---- strict JSON (proto_json.c) ----------------------------------------- */

/*
 * proto_json_parse - parse text[0..len) as one strict JSON object
 *
 * json-c 0.16 accepts more than JSON (single quotes, NaN and Infinity, "1.",
 * raw control characters in strings, overlong UTF-8, lone surrogates,
 * "\u0000", and duplicate keys with the last one silently winning), and a
 * signed payload that two parsers read differently is a forgery waiting to
 * happen.  So the text is first checked here: valid UTF-8 (no overlongs,
 * surrogates or code points past U+10FFFF), JSON lexical rules, no NUL and
 * no lone surrogate in escapes; then json-c parses it; then the number of
 * members is compared with the number of key separators to refuse duplicate
 * keys.  The top level must be an object; only whitespace may follow it;
 * nesting is bounded by PROTO_JSON_MAX_DEPTH.
 *
 * Returns the object, owned by arena a (released at its reset), or NULL with
 * *why set to a static English reason.
 */
json_object *proto_json_parse(arena_t *a, const void *text, size_t len, const char **why);

/* ---- reading requests (proto.c) -------------------------------------------- */

typedef struct proto_in proto_in_t;

typedef enum {
    PROTO_REQ_OK = 0,
    /* Not a strict JSON object (see proto_json_parse): answer
     * {"status": "invalid_msg_format", "reason": why}. */
    PROTO_REQ_INVALID_MSG_FORMAT,
    /* "cmd" missing, not a string, or not shaped like a command name
     * (1 to 64 of [a-z0-9_]): answer unknown_command. */
    PROTO_REQ_UNKNOWN_COMMAND,
} proto_req_status;

/*
 * proto_decode_request - the envelope {"cmd": "<name>", ...fields}
 *
 * On PROTO_REQ_OK, *in reads the command's fields ("cmd" counts as read) and
 * *cmd is the command name, both in arena a.  On failure *why (static) says
 * what was wrong; *in and *cmd are NULL.  The caller bounds len (the body
 * limit) before calling.
 */
proto_req_status proto_decode_request(arena_t *a, const void *body, size_t len, proto_in_t **in,
                                      const char **cmd, const char **why)
    __attribute__((warn_unused_result));

/* proto_in_new - a reader over obj (borrowed; must outlive the arena's
 * use), for payloads that are not requests (certificates).  path prefixes
 * the field names in errors ("" or NULL for none). */
proto_in_t *proto_in_new(arena_t *a, json_object *obj, const char *path);

/* proto_in_json - the object a reader reads (borrowed). */
json_object *proto_in_json(const proto_in_t *in);

/*
 * proto_in_end - finish reading: refuse unknown fields of in and of every
 * child reader made from the same request, and report whether every getter
 * succeeded.  Call it once all fields are read and before acting on them.
 */
bool proto_in_end(proto_in_t *in) __attribute__((warn_unused_result));

/* proto_in_ok - false once any getter of this request has failed. */
bool proto_in_ok(const proto_in_t *in);
/* The path of the field at fault ("user_certificate", "batch[2].vlob_id"),
 * and the whole reason ("field `x`: ..."); NULL while ok.  Arena strings. */
const char *proto_in_field(const proto_in_t *in);
const char *proto_in_reason(const proto_in_t *in);

/* proto_in_fail - record a handler's own field-level refusal (a range the
 * schema implies, a cross-field rule) the same way; the first error wins. */
void proto_in_fail(proto_in_t *in, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* proto_has - true iff field name is present and not null (marks it read).
 * The test for Option<T> fields. */
bool proto_has(proto_in_t *in, const char *name);

/* A decoded byte string (in the arena; data is never NULL after success). */
typedef struct {
    const uint8_t *data;
    size_t len;
} proto_bytes_t;

/* A UUID-based id: the 16 bytes and the canonical text (32 lowercase hex,
 * which PostgreSQL's uuid type accepts as input). */
typedef struct {
    uint8_t bytes[16];
    char hex[33];
} proto_uuid_t;

/*
 * Getters.  Each reads one required, non-null field, returns true on
 * success, and on failure records bad_message naming the field and returns
 * false with the output zeroed.  Strings are NUL-terminated, valid UTF-8
 * without NUL, and live in the arena.
 */
/* a string of at most max bytes (may be empty) */
bool proto_str(proto_in_t *in, const char *name, size_t max, const char **out);
/* base64 (strict, padded) decoding to at most max bytes */
bool proto_bytes(proto_in_t *in, const char *name, size_t max, proto_bytes_t *out);
/* base64 decoding to exactly n bytes (keys, digests); *out points into the arena */
bool proto_bytes_n(proto_in_t *in, const char *name, size_t n, const uint8_t **out);
/* RFC 3339 UTC with microseconds, to microseconds since the Unix epoch */
bool proto_datetime(proto_in_t *in, const char *name, int64_t *out);
/* 32 lowercase hex characters */
bool proto_uuid(proto_in_t *in, const char *name, proto_uuid_t *out);
/* a JSON integer (no fraction, no exponent, not a bool or a string) in
 * [min, max]; min > INT64_MIN and max < INT64_MAX (json-c saturates those) */
bool proto_int(proto_in_t *in, const char *name, int64_t min, int64_t max, int64_t *out);
/* true or false, nothing else */
bool proto_bool(proto_in_t *in, const char *name, bool *out);
/* one of names[] (NULL-terminated, case-sensitive); *out is its index */
bool proto_enum(proto_in_t *in, const char *name, const char *const names[], int *out);
/* identifiers, validated as proto_valid_*() below */
bool proto_organization_id(proto_in_t *in, const char *name, const char **out);
bool proto_user_id(proto_in_t *in, const char *name, const char **out);
bool proto_device_name(proto_in_t *in, const char *name, const char **out);
bool proto_device_id(proto_in_t *in, const char *name, const char **out);
bool proto_device_label(proto_in_t *in, const char *name, const char **out);
/* an email address (proto_valid_email), e.g. invite_new's claimer_email */
bool proto_email(proto_in_t *in, const char *name, const char **out);
/* {"email": ..., "label": ...}, exactly those two keys */
bool proto_human_handle(proto_in_t *in, const char *name, const char **email, const char **label);

/* proto_object - a child reader over the object in field name; NULL (and a
 * recorded error) when absent, null or not an object. */
proto_in_t *proto_object(proto_in_t *in, const char *name);
/* proto_list - field name is an array of at most max items; *n its length. */
bool proto_list(proto_in_t *in, const char *name, size_t max, size_t *n);
/* proto_list_object - a child reader over item i of array field name (read
 * with proto_list first); errors name "name[i].field". */
proto_in_t *proto_list_object(proto_in_t *in, const char *name, size_t i);

/* Map<K, Bytes> as a JSON object: keys validated as kind, values base64. */
typedef enum { PROTO_KEY_USER_ID, PROTO_KEY_UUID } proto_key_kind;
typedef struct {
    const char *key; /* validated; for UUID keys, 32 lowercase hex */
    proto_bytes_t value;
} proto_bytes_entry_t;
/* *entries: arena array of *n entries, in the order of the JSON text. */
bool proto_bytes_map(proto_in_t *in, const char *name, proto_key_kind kind, size_t max_entries,
                     size_t max_value, proto_bytes_entry_t **entries, size_t *n);

/* ---- identifiers (proto_valid.c; section 0.4 of parsec-2.12-behaviour.md,
 * made ASCII) ----
 *
 * Parsec writes these as `[\w-]{1,32}` with a Unicode-aware \w, after NFC
 * normalisation.  We take \w as ASCII [A-Za-z0-9_]: identifiers are compared
 * byte for byte, appear in URLs, logs, SQL and mail subjects, and Unicode
 * would let two visually identical ids (NFC/NFD forms, homoglyphs) name
 * different users, with no library here to normalise them.  Human-readable
 * names belong in DeviceLabel and HumanHandle, which take any Unicode.
 */
bool proto_valid_organization_id(const char *s);
bool proto_valid_user_id(const char *s);
bool proto_valid_device_name(const char *s);
/* "<user id>@<device name>", each part valid */
bool proto_valid_device_id(const char *s);
/* 1 to 255 bytes of valid UTF-8, no control character (U+0000-U+001F,
 * U+007F-U+009F) */
bool proto_valid_device_label(const char *s);
/* ASCII local@domain: local 1-64 of atext and non-adjacent, non-edge dots;
 * domain of at least two labels (no "a@com", as Parsec 2.12), labels 1-63
 * of [A-Za-z0-9-] not starting or ending with "-"; at most PROTO_EMAIL_MAX
 * bytes in all */
bool proto_valid_email(const char *s);
/* 1 to 254 bytes of valid UTF-8, no control character and none of
 * ()<>@,:;.\"[] (Parsec's rule: "label <email>" must read back as a mailbox) */
bool proto_valid_human_label(const char *s);
/* proto_valid_utf8 - strict UTF-8 (no overlong forms, surrogates, or code
 * points past U+10FFFF); NUL bytes are allowed here, callers refuse them. */
bool proto_valid_utf8(const void *s, size_t len);
/* proto_device_id_user - the user id part of a valid device id (arena). */
char *proto_device_id_user(arena_t *a, const char *device_id);

/* proto_uuid_parse - s[0..len) is exactly 32 lowercase hex characters (the
 * mapping of every UUID-based id, and the Invitation-Token header). */
bool proto_uuid_parse(const char *s, size_t len, proto_uuid_t *out);

/* ---- datetimes (proto_time.c) ---------------------------------------------- */

/*
 * proto_datetime_parse - exactly "YYYY-MM-DDTHH:MM:SS.ffffffZ" (uppercase T
 * and Z, six fraction digits, years 0001 to 9999, no leap second), to
 * microseconds since 1970-01-01T00:00:00Z.  One spelling per instant, the
 * one the server emits.  PostgreSQL accepts this text as timestamptz input.
 */
bool proto_datetime_parse(const char *s, size_t len, int64_t *us);
/*
 * proto_rfc3339_parse - the one RFC 3339 parser: with canonical, exactly
 * proto_datetime_parse's form; without, any RFC 3339 date-time
 * "YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+HH:MM|-HH:MM)" ('T' and 'Z' in either
 * case; digits past the microsecond cut), as the administration API accepts
 * in its queries.  Calendar-checked, years 0001 to 9999, no leap second.
 */
bool proto_rfc3339_parse(const char *s, size_t len, bool canonical, int64_t *us);
/* proto_datetime_format - the inverse; values outside years 0001..9999 are
 * clamped to them (never produced by the parser).  out gets 28 bytes. */
void proto_datetime_format(int64_t us, char out[PROTO_DATETIME_LEN + 1]);
/* proto_now_us - the current time (CLOCK_REALTIME) in microseconds. */
int64_t proto_now_us(void);

/* ---- ballpark (proto_time.c; section 2.1) ------------------------------------
 * A client timestamp t is accepted iff
 *   -EARLY < server_now - t < LATE   (strict on both ends),
 * i.e. the client's clock may be up to 50 s ahead or 70 s behind. */
#define PROTO_BALLPARK_CLIENT_EARLY_OFFSET_US INT64_C(50000000)
#define PROTO_BALLPARK_CLIENT_LATE_OFFSET_US  INT64_C(70000000)
bool proto_ballpark_ok(int64_t server_now_us, int64_t client_us);

/* ---- replies (proto_reply.c) -------------------------------------------------- */

/* {"status": status} */
json_object *proto_reply(const char *status);
/* {"status": status, "reason": reason or null} */
json_object *proto_reply_reason(const char *status, const char *reason);
/* {"status": "bad_message", "reason": ..., "field": ...} for a failed reader */
json_object *proto_reply_bad_message(const proto_in_t *in);
/* {"status": "invalid_msg_format", "reason": why} */
json_object *proto_reply_invalid_msg_format(const char *why);
/* {"status": "unknown_command", "reason": "Unknown command"} */
json_object *proto_reply_unknown_command(void);
/* {"status": "bad_timestamp", "reason": reason or null,
 *  "ballpark_client_early_offset": 50.0, "ballpark_client_late_offset": 70.0,
 *  "backend_timestamp": now, "client_timestamp": client} */
json_object *proto_reply_bad_timestamp(int64_t server_now_us, int64_t client_us,
                                       const char *reason);

/* JSON values of the mapping (new objects; NULL is JSON null for json-c). */
json_object *proto_json_bytes(const void *data, size_t len);
json_object *proto_json_datetime(int64_t us);
json_object *proto_json_uuid(const uint8_t bytes[16]);
/* a string, or null when s is NULL */
json_object *proto_json_str_or_null(const char *s);
/* {"email", "label"}, or null when email is NULL */
json_object *proto_json_human_handle(const char *email, const char *label);

/* ---- Authorization: PARSEC-SIGN-ED25519 <token> (proto_header.c) --------------
 *
 * token = b64url(organization_id) "." b64url(device_id) "." timestamp "."
 *         b64url(signature)
 * where b64url is unpadded base64url, timestamp is Unix seconds in decimal
 * (no sign, no leading zero), and signature is the device's Ed25519
 * signature of the ASCII string
 *         "PARSEC-SIGN-ED25519." b64url(org) "." b64url(device) "." timestamp
 * i.e. of the token up to (excluding) its last ".".  docs/protocol.md
 * explains the scheme, its cache and its threat model.
 */
#define PROTO_AUTH_SCHEME "PARSEC-SIGN-ED25519"
/* Longest header accepted: scheme, space, two encoded ids, 12 digits, 86
 * signature characters, separators. */
#define PROTO_AUTH_MAX 320

typedef struct {
    const char *organization_id; /* decoded and valid */
    const char *device_id;       /* decoded and valid */
    int64_t timestamp;           /* Unix seconds */
    uint8_t signature[64];
    const char *token;       /* the token text (the cache key) */
    const char *signed_part; /* what the signature covers (NUL-terminated) */
    size_t signed_len;
} proto_auth_t;

/*
 * proto_auth_parse - parse an Authorization header value strictly (scheme
 * case-insensitive, one space, canonical encodings).  Checks the form only:
 * the caller checks the timestamp (proto_auth_fresh), that the organization
 * is the URL's, the device and its key, then the signature.  Strings are in
 * arena a.  False with *why (static) on any malformation.
 */
bool proto_auth_parse(arena_t *a, const char *header, proto_auth_t *out, const char **why)
    __attribute__((warn_unused_result));
/* proto_auth_fresh - the token's timestamp is in the ballpark of now. */
bool proto_auth_fresh(const proto_auth_t *auth, int64_t server_now_us);

#endif
