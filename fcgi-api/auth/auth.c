/*
 * fcgi-api/auth/auth.c - the pre-command query, token verification and the
 * verified-token cache (see auth.h and docs/protocol.md "Authentication")
 */
#include "auth.h"

#include "crypto.h"
#include "log.h"
#include "metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------
 * The pre-command queries: one per request, prepared, nothing cached.
 */

/* $2 NULL (anonymous route, or a token that did not parse): no device row. */
DB_STMT(stmt_identity, "auth_identity", 2,
        "SELECT o._id, o.root_verify_key, o.is_expired, o.active_users_limit,"
        "    o.user_profile_outsider_allowed,"
        "    d._id, d.verify_key, d.device_label,"
        "    u._id, u.user_id, u.profile, u.revoked_on IS NOT NULL, u.human_email, u.human_label"
        " FROM organization o"
        " LEFT JOIN device d ON d.organization = o._id AND d.device_id = $2::text"
        " LEFT JOIN user_ u ON u._id = d.user_"
        " WHERE o.organization_id = $1::text");

/* $2 NULL (no or bad Invitation-Token): no invitation row. */
DB_STMT(stmt_invited, "auth_invited", 2,
        "SELECT o._id, o.root_verify_key, o.is_expired, o.active_users_limit,"
        "    o.user_profile_outsider_allowed,"
        "    i._id, i.type, i.deleted_on IS NOT NULL, i.claimer_email, g._id, g.user_id"
        " FROM organization o"
        " LEFT JOIN invitation i ON i.organization = o._id AND i.token = $2::uuid"
        " LEFT JOIN user_ g ON g._id = i.greeter"
        " WHERE o.organization_id = $1::text");

static const char *dup_or_null(arena_t *a, const char *s)
{
    return s ? arena_strdup(a, s) : NULL;
}

/* Columns 0-4 of both statements: the organization. */
static void load_org(arena_t *a, const db_res_t *res, auth_org_t *o)
{
    o->exists = true;
    o->_id = db_get_i64(res, 0, 0);
    size_t n = 0;
    const uint8_t *key = db_get_bytes(res, 0, 1, &n);
    if (key && n == PROTO_KEY_SIZE) {
        o->bootstrapped = true;
        o->root_verify_key = arena_memdup(a, key, n);
    }
    o->expired = db_get_bool(res, 0, 2);
    o->active_users_limit = db_is_null(res, 0, 3) ? -1 : (long)db_get_i64(res, 0, 3);
    o->user_profile_outsider_allowed = db_get_bool(res, 0, 4);
}

bool auth_load(db_conn_t *c, arena_t *a, auth_route route, const char *org_id,
               const char *device_id, const proto_uuid_t *token, auth_identity_t *who)
{
    memset(who, 0, sizeof *who);
    who->route = route;
    who->org.id = org_id;
    bool failed = false;
    bool invited = route == AUTH_INVITED;
    db_res_t *res =
        invited ? DB_RUN(c, a, &failed, &stmt_invited, DB_TEXT(org_id),
                         DB_UUID(token ? token->bytes : NULL))
                : DB_RUN(c, a, &failed, &stmt_identity, DB_TEXT(org_id), DB_TEXT(device_id));
    if (failed)
        return false;
    if (db_nrows(res) != 1)
        return true; /* no such organization */
    load_org(a, res, &who->org);

    if (invited) {
        if (db_is_null(res, 0, 5))
            return !failed;
        auth_invitation_t *inv = &who->invitation;
        who->invitation_found = true;
        who->invitation_deleted = db_get_bool(res, 0, 7);
        inv->_id = db_get_i64(res, 0, 5);
        inv->token = *token;
        inv->is_user = strcmp(db_get_str(res, 0, 6), "USER") == 0;
        inv->claimer_email = dup_or_null(a, db_get_str(res, 0, 8));
        inv->greeter._id = db_get_i64(res, 0, 9);
        inv->greeter.id = dup_or_null(a, db_get_str(res, 0, 10));
        return !failed;
    }

    if (db_is_null(res, 0, 5))
        return !failed;
    size_t n = 0;
    const uint8_t *key = db_get_bytes(res, 0, 6, &n);
    if (!key || n != PROTO_KEY_SIZE) {
        log_error("device %s has no usable verify key", device_id);
        return false;
    }
    memcpy(who->device.verify_key, key, PROTO_KEY_SIZE);
    who->device_found = true;
    who->device._id = db_get_i64(res, 0, 5);
    who->device.id = arena_strdup(a, device_id);
    who->device.label = dup_or_null(a, db_get_str(res, 0, 7));
    who->user._id = db_get_i64(res, 0, 8);
    who->user.id = dup_or_null(a, db_get_str(res, 0, 9));
    const char *profile = db_get_str(res, 0, 10);
    if (!profile || !certif_profile_from_name(profile, &who->user.profile)) {
        log_error("user %s has an unknown profile", who->user.id ? who->user.id : "?");
        return false;
    }
    who->user_revoked = db_get_bool(res, 0, 11);
    who->user.human_email = dup_or_null(a, db_get_str(res, 0, 12));
    who->user.human_label = dup_or_null(a, db_get_str(res, 0, 13));
    return !failed;
}

/* ---------------------------------------------------------------------------
 * The verified-token cache
 *
 * AUTH_CACHE_BUCKETS buckets of AUTH_CACHE_WAYS entries; an entry is the
 * SHA-256 of (verify key || signed text || signature) and the instant its
 * token goes stale.  A bucket is chosen by the digest; a new entry takes a
 * free or expired way, else the one expiring first.  Eviction only costs a
 * later re-verification, never a wrong answer: an entry exists only for a
 * signature that verified with that key, and freshness is checked on every
 * request independently of the cache.
 */

typedef struct {
    uint8_t digest[32];
    int64_t expires_us; /* 0: free */
} cache_entry;

#define AUTH_CACHE_STRIPES 64

static cache_entry g_cache[AUTH_CACHE_BUCKETS][AUTH_CACHE_WAYS];
static pthread_mutex_t g_stripes[AUTH_CACHE_STRIPES] = {
#define M  PTHREAD_MUTEX_INITIALIZER
#define M8 M, M, M, M, M, M, M, M
    M8, M8, M8, M8, M8, M8, M8, M8,
#undef M8
#undef M
};
static atomic_uint_fast64_t g_verifications, g_hits;

static void token_digest(const uint8_t key[PROTO_KEY_SIZE], const proto_auth_t *tok,
                         uint8_t out[32])
{
    /* key (32 bytes) || signed text || signature (64 bytes): the two ends
     * have fixed sizes, so the concatenation is unambiguous */
    size_t n = PROTO_KEY_SIZE + tok->signed_len + sizeof tok->signature;
    uint8_t stackbuf[PROTO_KEY_SIZE + PROTO_AUTH_MAX + 64];
    uint8_t *buf = n <= sizeof stackbuf ? stackbuf : malloc(n);
    if (!buf)
        abort();
    memcpy(buf, key, PROTO_KEY_SIZE);
    memcpy(buf + PROTO_KEY_SIZE, tok->signed_part, tok->signed_len);
    memcpy(buf + PROTO_KEY_SIZE + tok->signed_len, tok->signature, sizeof tok->signature);
    crypto_sha256(buf, n, out);
    if (buf != stackbuf)
        free(buf);
}

static size_t bucket_of(const uint8_t digest[32])
{
    size_t b = 0;
    for (int i = 0; i < 4; i++)
        b = (b << 8) | digest[i];
    return b % AUTH_CACHE_BUCKETS;
}

bool auth_cache_check(const uint8_t key[PROTO_KEY_SIZE], const proto_auth_t *tok, int64_t now_us)
{
    uint8_t d[32];
    token_digest(key, tok, d);
    size_t b = bucket_of(d);
    pthread_mutex_t *mu = &g_stripes[b % AUTH_CACHE_STRIPES];
    bool hit = false;
    pthread_mutex_lock(mu);
    for (int w = 0; w < AUTH_CACHE_WAYS; w++) {
        cache_entry *e = &g_cache[b][w];
        if (e->expires_us > now_us && memcmp(e->digest, d, sizeof d) == 0) {
            hit = true;
            break;
        }
    }
    pthread_mutex_unlock(mu);
    metrics_token_cache(hit);
    return hit;
}

void auth_cache_add(const uint8_t key[PROTO_KEY_SIZE], const proto_auth_t *tok, int64_t expires_us)
{
    uint8_t d[32];
    token_digest(key, tok, d);
    size_t b = bucket_of(d);
    pthread_mutex_t *mu = &g_stripes[b % AUTH_CACHE_STRIPES];
    pthread_mutex_lock(mu);
    cache_entry *victim = &g_cache[b][0];
    for (int w = 0; w < AUTH_CACHE_WAYS; w++) {
        cache_entry *e = &g_cache[b][w];
        if (memcmp(e->digest, d, sizeof d) == 0) {
            victim = e;
            break;
        }
        if (e->expires_us < victim->expires_us)
            victim = e;
    }
    memcpy(victim->digest, d, sizeof d);
    victim->expires_us = expires_us;
    pthread_mutex_unlock(mu);
}

void auth_cache_clear(void)
{
    for (size_t b = 0; b < AUTH_CACHE_BUCKETS; b++) {
        pthread_mutex_t *mu = &g_stripes[b % AUTH_CACHE_STRIPES];
        pthread_mutex_lock(mu);
        memset(g_cache[b], 0, sizeof g_cache[b]);
        pthread_mutex_unlock(mu);
    }
}

void auth_cache_counters(uint64_t *verifications, uint64_t *hits)
{
    if (verifications)
        *verifications = atomic_load(&g_verifications);
    if (hits)
        *hits = atomic_load(&g_hits);
}

/* ---------------------------------------------------------------------------
 * Verification
 */

auth_result auth_verify(const auth_identity_t *who, const proto_auth_t *tok, int64_t now_us,
                        const char **why)
{
    /* Cheap checks first; none of them needs the key. */
    if (strcmp(tok->organization_id, who->org.id) != 0) {
        *why = "token for another organization";
        return AUTH_BAD;
    }
    if (!proto_auth_fresh(tok, now_us)) {
        *why = "token outside the ballpark window";
        return AUTH_STALE;
    }
    if (!who->device_found) {
        /* Spend what a bad signature costs, so the answer's timing does not
         * tell a device that exists from one that does not. */
        /* RFC 8032's first test key: a valid point, so the full verification runs */
        static const uint8_t dummy_key[PROTO_KEY_SIZE] = {
            0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe,
            0xd3, 0xc9, 0x64, 0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6,
            0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a};
        (void)crypto_ed25519_verify(dummy_key, tok->signed_part, tok->signed_len, tok->signature);
        *why = "unknown device";
        return AUTH_BAD;
    }
    if (auth_cache_check(who->device.verify_key, tok, now_us)) {
        atomic_fetch_add(&g_hits, 1);
        *why = NULL;
        return AUTH_OK;
    }
    atomic_fetch_add(&g_verifications, 1);
    if (!crypto_ed25519_verify(who->device.verify_key, tok->signed_part, tok->signed_len,
                               tok->signature)) {
        *why = "bad signature";
        return AUTH_BAD;
    }
    /* Valid until the token goes stale: server_now - t < LATE. */
    auth_cache_add(who->device.verify_key, tok,
                   tok->timestamp * 1000000 + PROTO_BALLPARK_CLIENT_LATE_OFFSET_US);
    *why = NULL;
    return AUTH_OK;
}

bool auth_invitation_token(const char *header, proto_uuid_t *out)
{
    return header && proto_uuid_parse(header, strlen(header), out);
}
