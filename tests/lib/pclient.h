/*
 * tests/lib/pclient.h - the test client of the protocol
 *
 * What the integration tests use to talk to the server as a Parsec client
 * would, written from docs/protocol.md alone: Ed25519 keys and signatures,
 * certificates (user, device, revoked user, realm role, redacted versions),
 * the Authorization token, JSON requests, and a libcurl POST that returns the
 * HTTP status and the parsed reply.
 *
 * It deliberately shares no encoding code with the server (base64, datetimes
 * and the token are written here again on OpenSSL and libc), so a mapping
 * bug on one side shows up as a failed test instead of cancelling out.
 *
 * It is test code: failures of OpenSSL or libcurl setup abort with a
 * message, since a test cannot go on without them.
 *
 * Ownership: every pclient_*_new / function returning char* or a blob gives
 * the caller the result to free (free(), pclient_blob_free(),
 * pclient_device_free(), json_object_put(), pclient_resp_free()).  Inputs are
 * borrowed and copied when kept.
 *
 * Thread-safety: the functions are reentrant; libcurl is initialised once.
 */
#ifndef PARSEC_PCLIENT_H
#define PARSEC_PCLIENT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- keys and signatures ------------------------------------------------- */

typedef struct {
    uint8_t seed[32]; /* the RFC 8032 private key */
    uint8_t pub[32];  /* the verify key */
} pclient_key_t;

/* pclient_key_generate - a fresh random key pair. */
void pclient_key_generate(pclient_key_t *k);
/* pclient_key_from_seed - the key pair of a given private key (RFC 8032). */
void pclient_key_from_seed(pclient_key_t *k, const uint8_t seed[32]);
/* pclient_sign - Ed25519 signature of msg[0..len). */
void pclient_sign(const pclient_key_t *k, const void *msg, size_t len, uint8_t sig[64]);

/* A byte string owned by whoever holds it (free with pclient_blob_free). */
typedef struct {
    uint8_t *data;
    size_t len;
} pclient_blob_t;

void pclient_blob_free(pclient_blob_t *b);
/* pclient_signed - signature(64) || payload, the shape of every signed blob. */
pclient_blob_t pclient_signed(const pclient_key_t *k, const void *payload, size_t len);

/* ---- the JSON mapping, client side ------------------------------------------ */

/* Standard padded base64 (malloc'd string). */
char *pclient_b64(const void *data, size_t len);
/* Unpadded base64url (malloc'd string). */
char *pclient_b64url(const void *data, size_t len);
/* "YYYY-MM-DDTHH:MM:SS.ffffffZ" of microseconds since the epoch (malloc'd). */
char *pclient_datetime(int64_t us);
/* 32 lowercase hex characters (malloc'd). */
char *pclient_uuid_hex(const uint8_t id[16]);
/* A random UUID (version 4). */
void pclient_uuid_random(uint8_t id[16]);
/* Now, in microseconds since the epoch. */
int64_t pclient_now_us(void);

/* New JSON values (refcount 1), for building requests with json-c. */
json_object *pclient_json_bytes(const void *data, size_t len);
json_object *pclient_json_blob(const pclient_blob_t *b);
json_object *pclient_json_datetime(int64_t us);

/* ---- certificates ---------------------------------------------------------- */

/* Fields of each certificate type; NULL strings are JSON null. */
typedef struct {
    const char *author; /* NULL: root (null) */
    int64_t timestamp;  /* microseconds */
    const char *user_id;
    const char *human_email; /* NULL: human_handle null */
    const char *human_label;
    uint8_t public_key[32];
    const char *profile; /* "ADMIN", "STANDARD", "OUTSIDER" */
    int is_admin;        /* -1: derived from profile; 0 or 1: as given */
} pclient_user_certif_t;

typedef struct {
    const char *author; /* NULL: root (null) */
    int64_t timestamp;
    const char *device_id;
    const char *device_label; /* NULL: null */
    uint8_t verify_key[32];
} pclient_device_certif_t;

typedef struct {
    const char *author;
    int64_t timestamp;
    const char *user_id;
} pclient_revoked_user_certif_t;

typedef struct {
    const char *author; /* NULL: null */
    int64_t timestamp;
    uint8_t realm_id[16];
    const char *user_id;
    const char *role; /* "OWNER"...; NULL: null (role removed) */
} pclient_realm_role_certif_t;

/*
 * JSON payloads (malloc'd text) as docs/protocol.md describes them.
 * redacted: human_handle (user) / device_label (device) written as null.
 */
char *pclient_user_certif_payload(const pclient_user_certif_t *c, bool redacted);
char *pclient_device_certif_payload(const pclient_device_certif_t *c, bool redacted);
char *pclient_revoked_user_certif_payload(const pclient_revoked_user_certif_t *c);
char *pclient_realm_role_certif_payload(const pclient_realm_role_certif_t *c);

/* Signed certificates: pclient_signed(signer, payload). */
pclient_blob_t pclient_user_certif(const pclient_key_t *signer, const pclient_user_certif_t *c,
                                   bool redacted);
pclient_blob_t pclient_device_certif(const pclient_key_t *signer, const pclient_device_certif_t *c,
                                     bool redacted);
pclient_blob_t pclient_revoked_user_certif(const pclient_key_t *signer,
                                           const pclient_revoked_user_certif_t *c);
pclient_blob_t pclient_realm_role_certif(const pclient_key_t *signer,
                                         const pclient_realm_role_certif_t *c);

/* ---- devices ------------------------------------------------------------------ */

/*
 * A device as a client holds it: identity, signing key, and the four
 * certificates that created it (those of its user are those of the user's
 * first device; for a later device they are copies of the first one's).
 */
typedef struct pclient_device {
    char *organization_id;
    char *user_id;
    char *device_id; /* user_id@device_name */
    char *profile;
    char *human_email; /* NULL: non-human */
    char *human_label;
    char *device_label; /* NULL: none */
    pclient_key_t key;  /* the device's signing key */
    uint8_t user_public_key[32];
    int64_t created_on;
    pclient_blob_t user_certificate, redacted_user_certificate;
    pclient_blob_t device_certificate, redacted_device_certificate;
} pclient_device_t;

/*
 * pclient_user_new - the first device of a new user
 *
 * Certified at timestamp by certifier's key with author certifier->device_id,
 * or, when certifier is NULL, by root with author null (the bootstrap case).
 * email NULL: no human handle.  device_label NULL: none.
 */
pclient_device_t *pclient_user_new(const char *organization_id, const char *device_id,
                                   const char *profile, const char *email, const char *label,
                                   const char *device_label, const pclient_device_t *certifier,
                                   const pclient_key_t *root, int64_t timestamp);
/* pclient_device_new - another device of user's user, certified by certifier
 * (a device of the same user, as device_create requires). */
pclient_device_t *pclient_device_new(const pclient_device_t *user, const char *device_name,
                                     const char *device_label, const pclient_device_t *certifier,
                                     int64_t timestamp);
void pclient_device_free(pclient_device_t *d);

/* ---- requests ---------------------------------------------------------------- */

/* {"cmd": cmd} to fill with json_object_object_add(). */
json_object *pclient_req(const char *cmd);
/* organization_bootstrap with d's four certificates and root's verify key. */
json_object *pclient_req_bootstrap(const char *bootstrap_token, const pclient_key_t *root,
                                   const pclient_device_t *d);
/* user_create with the new user's four certificates. */
json_object *pclient_req_user_create(const pclient_device_t *new_user);
/* device_create with the new device's two certificates. */
json_object *pclient_req_device_create(const pclient_device_t *new_device);
/* user_revoke of user_id signed by author at timestamp. */
json_object *pclient_req_user_revoke(const pclient_device_t *author, const char *user_id,
                                     int64_t timestamp);

/* ---- authentication --------------------------------------------------------------- */

/* The token of docs/protocol.md (malloc'd): b64url(org).b64url(device).ts.b64url(sig). */
char *pclient_auth_token(const char *organization_id, const char *device_id,
                         const pclient_key_t *key, int64_t unix_seconds);
/* "PARSEC-SIGN-ED25519 <token>" for d at unix_seconds (malloc'd). */
char *pclient_auth_header(const pclient_device_t *d, int64_t unix_seconds);

/* ---- HTTP ------------------------------------------------------------------------ */

typedef struct {
    long status; /* HTTP status; 0 when no answer came */
    char *body;  /* NUL-terminated copy of the body ("" when empty) */
    size_t body_len;
    json_object *json; /* the body parsed as JSON, NULL if it is not JSON */
    char *headers;     /* raw response header lines */
} pclient_resp_t;

void pclient_resp_free(pclient_resp_t *r);
/* pclient_resp_header - value of header name (case-insensitive) of the last
 * response in r (malloc'd, trimmed), NULL when absent. */
char *pclient_resp_header(const pclient_resp_t *r, const char *name);
/* pclient_status - the "status" string of a JSON reply, or NULL. */
const char *pclient_status(const pclient_resp_t *r);

/*
 * pclient_http_post - POST body to url with extra header lines
 * ("Name: value", NULL-terminated list, may be NULL).  A 10 s timeout.
 * False only when no HTTP answer came (connection refused...), with
 * out->status 0.  Free *out with pclient_resp_free either way.
 */
bool pclient_http_post(const char *url, const char *const *headers, const void *body, size_t len,
                       pclient_resp_t *out);

/* pclient_http - the same with any method: GET (a body then sent as a
 * POST's, under the method GET), HEAD (no body sent or read), PUT, DELETE... */
bool pclient_http(const char *method, const char *url, const char *const *headers, const void *body,
                  size_t len, pclient_resp_t *out);

/* Overrides for pclient_cmd_ex; NULL fields take the defaults. */
typedef struct {
    const char *api_version;      /* default "3.2"; "" sends no header */
    const char *content_type;     /* default "application/json" */
    const char *authorization;    /* whole header value; default from the device */
    const char *invitation_token; /* Invitation-Token header (invited route) */
    int64_t auth_time;            /* token time in Unix seconds; 0: now */
} pclient_opts_t;

/*
 * pclient_cmd - POST req (borrowed) as JSON to <base_url>/<family>/<org>,
 * family one of "anonymous", "invited", "authenticated"; authenticated with
 * dev's token when dev is not NULL.  Same result as pclient_http_post.
 */
bool pclient_cmd(const char *base_url, const char *family, const char *organization_id,
                 const pclient_device_t *dev, json_object *req, pclient_resp_t *out);
bool pclient_cmd_ex(const char *base_url, const char *family, const char *organization_id,
                    const pclient_device_t *dev, const pclient_opts_t *opts, json_object *req,
                    pclient_resp_t *out);

#endif
