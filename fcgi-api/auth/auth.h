/*
 * fcgi-api/auth/auth.h - who is calling: the identity types, the
 * pre-command query, the Authorization token check and the per-worker
 * verified-token cache
 *
 * docs/protocol.md ("Authentication") is the contract and holds the threat
 * model.  In short, an authenticated request carries
 *
 *     Authorization: PARSEC-SIGN-ED25519 <org>.<device>.<unix seconds>.<sig>
 *
 * (common/proto.h: proto_auth_parse), and the server, on every request:
 *   1. parses it strictly (401 when malformed);
 *   2. runs ONE prepared query loading the organization named by the URL,
 *      the device named by the token and its user (auth_load), so that
 *      expiry and revocation written by any worker apply to the very next
 *      request served by any worker: nothing of this is cached;
 *   3. refuses (401) a token for another organization, a token outside the
 *      ballpark window (client 50 s early to 70 s late, answered with the
 *      server's time), an unknown device;
 *   4. checks the Ed25519 signature with the device's verify key, unless
 *      this worker already verified this exact token with this exact key
 *      (auth_verify): the cache holds SHA-256(verify key || signed text ||
 *      signature) of tokens that verified, until they go stale.  A client
 *      renews its token every second, so steady-state cost is one
 *      verification per device per second per worker process, not one per
 *      request;
 *   5. only then tells an expired organization or a revoked user apart
 *      (200 expired_organization / revoked_user): a caller that cannot
 *      sign as the device learns nothing about it, not even whether it
 *      exists or is revoked.
 *
 * The invited route loads the invitation named by the Invitation-Token
 * header in the same single query.
 *
 * Secrets: the token is never logged; refusal reasons (static strings) are.
 *
 * Thread-safety: the cache is process-wide and thread-safe (striped
 * mutexes; a worker runs one request per thread); it is a fixed static
 * table (AUTH_CACHE_WAYS x AUTH_CACHE_BUCKETS entries, about 300 KiB), so it
 * is bounded and needs no freeing at exit.
 */
#ifndef PARSEC_AUTH_H
#define PARSEC_AUTH_H

#include "arena.h"
#include "certif.h"
#include "db.h"
#include "proto.h"

#include <stdbool.h>
#include <stdint.h>

#define AUTH_CACHE_BUCKETS 2048
#define AUTH_CACHE_WAYS    4

/* The three routes, as bits so a command lists every route it serves. */
typedef enum {
    AUTH_ANONYMOUS = 1u << 0,
    AUTH_INVITED = 1u << 1,
    AUTH_AUTHENTICATED = 1u << 2,
} auth_route;

/* The Invitation-Token header of the invited route: the invitation's UUID
 * as 32 lowercase hex characters (docs/protocol.md). */
#define AUTH_INVITATION_HEADER "Invitation-Token"

/* The organization named by the URL. */
typedef struct {
    int64_t _id;    /* organization._id; 0 when it does not exist (only seen
                     * by an anonymous organization_bootstrap under
                     * spontaneous bootstrap) */
    const char *id; /* organization_id, from the URL, validated */
    bool exists;
    bool bootstrapped;
    bool expired;
    long active_users_limit; /* -1: unlimited */
    bool user_profile_outsider_allowed;
    const uint8_t *root_verify_key; /* PROTO_KEY_SIZE bytes; NULL before bootstrap */
} auth_org_t;

/* The authenticated device and its user (authenticated route only). */
typedef struct {
    int64_t _id;       /* device._id */
    const char *id;    /* device_id "user@name" */
    const char *label; /* device_label, NULL when none */
    uint8_t verify_key[PROTO_KEY_SIZE];
} auth_device_t;

typedef struct {
    int64_t _id;    /* user_._id */
    const char *id; /* user_id */
    certif_profile profile;
    const char *human_email; /* both NULL for a non-human user */
    const char *human_label;
} auth_user_t;

/* The invitation of the invited route. */
typedef struct {
    int64_t _id; /* invitation._id */
    proto_uuid_t token;
    bool is_user;              /* type USER (claimer_email set) or DEVICE */
    const char *claimer_email; /* NULL for a DEVICE invitation */
    struct {
        int64_t _id;    /* user_._id of the greeter */
        const char *id; /* its user_id */
    } greeter;
} auth_invitation_t;

/* Who is calling, as the pre-command query found it.  A command handler
 * sees it only once the dispatcher has accepted it: a live organization, an
 * authenticated non-revoked device, or a live invitation. */
typedef struct {
    auth_route route;
    auth_org_t org;
    auth_device_t device;         /* authenticated route only (zero otherwise) */
    auth_user_t user;             /* authenticated route only (zero otherwise) */
    auth_invitation_t invitation; /* invited route only (zero otherwise) */
    /* what the query found, for the dispatcher's checks */
    bool device_found;       /* authenticated: the token's device is in the org */
    bool user_revoked;       /* authenticated: its user has a revocation */
    bool invitation_found;   /* invited: the token names an invitation of the org */
    bool invitation_deleted; /* invited: ... which is deleted */
} auth_identity_t;

/*
 * auth_load - the route's one pre-command query on c
 *
 * Loads organization org_id into who->org (org.exists false when there is
 * none); on the authenticated route with device_id (NULL when the token did
 * not parse) the device and its user; on the invited route with token (NULL
 * when absent or malformed) the invitation.  Strings go to arena a.  False
 * on database error (logged): answer 500.
 */
bool auth_load(db_conn_t *c, arena_t *a, auth_route route, const char *org_id,
               const char *device_id, const proto_uuid_t *token, auth_identity_t *who)
    __attribute__((warn_unused_result));

/* What auth_verify decided. */
typedef enum {
    AUTH_OK = 0,
    AUTH_BAD,   /* 401 {"error": "bad_authentication"} */
    AUTH_STALE, /* 401 {"error": "bad_timestamp", ...server time...} */
} auth_result;

/*
 * auth_verify - steps 3 and 4 above for a parsed token against what
 * auth_load found, in this order: the token's organization is who->org.id
 * (AUTH_BAD), it is fresh at now_us (AUTH_STALE), the device exists and
 * the signature verifies with who->device.verify_key, cached (AUTH_BAD).
 * *why (static, loggable) says which check refused.  An unknown device
 * costs one verification too, with a fixed key, so that the answer's timing
 * does not tell it from a bad signature.
 */
auth_result auth_verify(const auth_identity_t *who, const proto_auth_t *tok, int64_t now_us,
                        const char **why) __attribute__((warn_unused_result));

/*
 * The cache itself, exposed for tests and the benchmark.
 *
 * auth_cache_check - true when key's signature of the token was verified by
 * this process and the entry has not expired at now_us.
 * auth_cache_add - remember a verified token until expires_us.
 * auth_cache_clear - forget everything.
 * auth_cache_counters - Ed25519 verifications done by auth_verify and cache
 * hits since start (either pointer may be NULL).
 */
bool auth_cache_check(const uint8_t key[PROTO_KEY_SIZE], const proto_auth_t *tok, int64_t now_us);
void auth_cache_add(const uint8_t key[PROTO_KEY_SIZE], const proto_auth_t *tok, int64_t expires_us);
void auth_cache_clear(void);
void auth_cache_counters(uint64_t *verifications, uint64_t *hits);

/* auth_invitation_token - parse an Invitation-Token header value: exactly
 * 32 lowercase hex characters.  False when absent or malformed. */
bool auth_invitation_token(const char *header, proto_uuid_t *out)
    __attribute__((warn_unused_result));

#endif
