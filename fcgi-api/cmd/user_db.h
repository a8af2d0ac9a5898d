/*
 * fcgi-api/cmd/user_db.h - the SQL of users and devices: creating them the
 * one way, revoking, user_get with its trustchain, human_find
 *
 * Shared by organization_bootstrap (the first user, organization.c),
 * user_create, device_create, user_revoke, user_get and human_find
 * (user.c), and later PKI enrollment acceptance, so the storage rules of
 * section 3.3 of parsec-2.12-behaviour.md are written once:
 *
 *   1. active users limit      -> USER_DB_LIMIT_REACHED (active_users_limit_reached)
 *   2. user id taken (revoked users included)
 *                              -> USER_DB_USER_EXISTS   ("User `<id>` already exists")
 *   3. email held by a non-revoked user
 *                              -> USER_DB_HUMAN_EXISTS  ("Human handle `<hh>` already
 *                                                        corresponds to a non-revoked user")
 *   4. device id taken         -> USER_DB_DEVICE_EXISTS ("Device `<id>` already exists")
 *
 * checked in that order (in one query), then the user and its first device
 * are inserted in one statement.  "Active" / "non-revoked" means
 * revoked_on IS NOT NULL is false: a user is revoked as soon as user_revoke
 * commits, whatever its certificate's timestamp (docs/protocol.md section
 * 9, #16).
 *
 * Every function runs in the calling command's transaction (cmd_run), so a
 * refusal leaves no trace; creations run after user_db_lock_org(), so two
 * concurrent creations cannot both pass the checks (limit, unique human
 * handle).  Certificates are the checked certif_t of the command, stored
 * byte for byte as received (binary bytea), never re-encoded.  Database
 * failures are the kit's sticky errors: a function then returns whatever
 * its empty results mean, and the dispatcher answers 500.
 *
 * The read functions (user_db_get, user_db_find) are ONE statement each: a
 * CMD_ONE_STATEMENT command's whole work, one snapshot, one round trip.
 *
 * Ownership: what the read functions return lives in cmd->arena.
 */
#ifndef PARSEC_USER_DB_H
#define PARSEC_USER_DB_H

#include "cmd.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    USER_DB_OK = 0,
    USER_DB_LIMIT_REACHED,
    USER_DB_USER_EXISTS,
    USER_DB_HUMAN_EXISTS,
    USER_DB_DEVICE_EXISTS,
    USER_DB_NOT_FOUND,       /* lock_org: the organization row is gone; revoke, get: no such user */
    USER_DB_ALREADY_REVOKED, /* revoke */
} user_db_status;

/* A new user with its first device, or (user NULL) a new device of an
 * existing user: the command's checked certificates. */
typedef struct {
    const certif_t *user, *redacted_user;     /* CERTIF_USER; NULL for a device alone */
    const certif_t *device, *redacted_device; /* CERTIF_DEVICE */
    int64_t certifier;                        /* device._id of the author; 0: the root key */
} user_db_new_t;

/*
 * user_db_lock_org - SELECT ... FOR NO KEY UPDATE organization org (so
 * creations in one organization serialise without blocking inserts into the
 * tables that reference it) and read its current limits: *limit (-1:
 * unlimited) and *outsider_allowed (either may be NULL).
 */
user_db_status user_db_lock_org(cmd_t *cmd, int64_t org, long *limit, bool *outsider_allowed)
    __attribute__((warn_unused_result));

/* user_db_create_user - checks 1-4, then the user and its first device.
 * limit: the organization's, read under the lock (-1: unlimited). */
user_db_status user_db_create_user(cmd_t *cmd, int64_t org, long limit, const user_db_new_t *n)
    __attribute__((warn_unused_result));

/* user_db_create_device - check 4, then a device of user user__id. */
user_db_status user_db_create_device(cmd_t *cmd, int64_t org, int64_t user__id,
                                     const user_db_new_t *n) __attribute__((warn_unused_result));

/* user_db_reason - the "reason" of a refusal of n (arena string); NULL for
 * LIMIT_REACHED (a null reason, as in Parsec). */
const char *user_db_reason(cmd_t *cmd, user_db_status st, const user_db_new_t *n);

/*
 * user_db_revoke - revoke the user named by the checked revocation
 * certificate rc, by device certifier: USER_DB_NOT_FOUND (no such user in
 * org), USER_DB_ALREADY_REVOKED, or USER_DB_OK after storing revoked_on =
 * the certificate's timestamp, the certificate and its author.  The row is
 * locked first, so two revocations of one user serialise.
 */
user_db_status user_db_revoke(cmd_t *cmd, int64_t org, const certif_t *rc, int64_t certifier)
    __attribute__((warn_unused_result));

/* A list of certificates, in a stable order (the rows' creation order). */
typedef struct {
    proto_bytes_t *items;
    size_t n;
} user_db_certs_t;

/* What user_get answers.  With redacted, user and device certificates are
 * the redacted versions (revocation certificates have none). */
typedef struct {
    proto_bytes_t user_certificate;
    proto_bytes_t revoked_user_certificate; /* data NULL: not revoked */
    user_db_certs_t devices;                /* every device of the user */
    user_db_certs_t trustchain_devices;
    user_db_certs_t trustchain_users;
    user_db_certs_t trustchain_revoked_users;
} user_db_user_t;

/*
 * user_db_get - user user_id of org with its devices and trustchain
 * (section 3.7 of parsec-2.12-behaviour.md): walked by PostgreSQL itself
 * with a recursive CTE from the certifier of the user, its revoker and the
 * certifier of each of its devices; from each device reached, its own
 * certifier, its user's certifier and its user's revoker; the root key (a
 * NULL certifier) ends a branch.  UNION makes every device appear once, so
 * the walk ends even on a cycle and is bounded by the organization's
 * devices.  USER_DB_NOT_FOUND when org holds no such user.
 */
user_db_status user_db_get(cmd_t *cmd, int64_t org, const char *user_id, bool redacted,
                           user_db_user_t *out) __attribute__((warn_unused_result));

/* Bounds of human_find (docs/protocol.md). */
#define USER_DB_FIND_QUERY_MAX    256
#define USER_DB_FIND_PER_PAGE_MAX 100
#define USER_DB_FIND_PAGE_MAX     INT64_C(2147483647)

/* One human_find result. */
typedef struct {
    const char *user_id;
    const char *human_email; /* both NULL: a non-human user */
    const char *human_label;
    bool revoked;
} user_db_found_t;

typedef struct {
    const char *query; /* NULL or "": no query */
    bool omit_revoked;
    bool omit_non_human;
    int64_t page;     /* 1 .. USER_DB_FIND_PAGE_MAX */
    int64_t per_page; /* 1 .. USER_DB_FIND_PER_PAGE_MAX */
} user_db_find_t;

/*
 * user_db_find - human_find in org
 *
 * Matching: a non-empty query is split into words on ASCII whitespace; a
 * user matches when its human label, or its email, contains the words in
 * that order, case-insensitively (ILIKE '%w1%w2%...%' with the LIKE
 * wildcards %, _ and \ of the words escaped); a query of whitespace only
 * has no word and matches every human.  With a query, users without a
 * human handle never match and user ids are not searched.  omit_revoked
 * drops revoked users; omit_non_human users without a human handle.
 * Order: humans by lower(label) compared byte-wise, then by user id; then
 * non-humans by user id.  *total: the matches before pagination; *found:
 * the page [(page-1)*per_page, page*per_page) of them (*n items).
 */
void user_db_find(cmd_t *cmd, int64_t org, const user_db_find_t *q, int64_t *total,
                  user_db_found_t **found, size_t *n);

/* user_db_like_pattern - the ILIKE pattern of query (arena string), as
 * described above; NULL when query is NULL or "".  Exposed for unit tests. */
char *user_db_like_pattern(arena_t *a, const char *query);

#endif
