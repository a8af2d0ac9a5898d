/*
 * fcgi-api/users_store.h - storing users and devices, the one way
 *
 * Shared by organization_bootstrap (the first user, cmd_organization.c),
 * user_create and device_create (cmd_user.c), and later PKI enrollment
 * acceptance, so the storage rules of section 3.3 of
 * parsec-2.12-behaviour.md are written once:
 *
 *   1. active users limit      -> USERS_STORE_LIMIT_REACHED (active_users_limit_reached)
 *   2. user id taken (revoked users included)
 *                              -> USERS_STORE_USER_EXISTS   ("User `<id>` already exists")
 *   3. email held by a non-revoked user
 *                              -> USERS_STORE_HUMAN_EXISTS  ("Human handle `<hh>` already
 *                                                            corresponds to a non-revoked user")
 *   4. device id taken         -> USERS_STORE_DEVICE_EXISTS ("Device `<id>` already exists")
 *
 * checked in that order (in one query), then the user and its first device
 * are inserted in one statement.  "Active" / "non-revoked" means
 * revoked_on IS NULL: a user is revoked as soon as user_revoke commits,
 * whatever its certificate's timestamp (docs/protocol.md section 9, #16).
 *
 * The caller has checked the certificates (signatures, ballpark, redacted
 * consistency) and runs these functions inside its command's transaction
 * (rpc_tx), after users_store_lock() or an equivalent row lock on the
 * organization, so that two concurrent creations cannot both pass the
 * checks (limit, unique human handle).  A refusal returns before any
 * write, and the caller rolls back anyway.
 *
 * Certificates are stored byte for byte as received (BYTEA parameters in
 * binary format), never re-encoded.
 *
 * Thread-safety: none needed (one connection, one request).
 */
#ifndef PARSEC_USERS_STORE_H
#define PARSEC_USERS_STORE_H

#include "certif.h"
#include "db.h"
#include "proto.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    USERS_STORE_OK = 0,
    USERS_STORE_LIMIT_REACHED,
    USERS_STORE_USER_EXISTS,
    USERS_STORE_HUMAN_EXISTS,
    USERS_STORE_DEVICE_EXISTS,
    USERS_STORE_NOT_FOUND, /* users_store_lock: the organization row is gone */
    USERS_STORE_ERROR,     /* database failure (logged): answer DB_TX_ERROR */
} users_store_status;

/* A new user: fields from its (checked) user certificate. */
typedef struct {
    const char *user_id;
    certif_profile profile;
    const char *human_email; /* both NULL: no human handle */
    const char *human_label;
    proto_bytes_t certificate;          /* as received */
    proto_bytes_t redacted_certificate; /* as received */
    int certifier_device__id;           /* device._id of the author; 0: the root key */
    int64_t created_on;                 /* the certificate's timestamp (microseconds) */
} users_store_user_t;

/* A new device: fields from its (checked) device certificate. */
typedef struct {
    const char *device_id;
    const char *device_label;  /* NULL: none */
    const uint8_t *verify_key; /* PROTO_KEY_SIZE bytes */
    proto_bytes_t certificate;
    proto_bytes_t redacted_certificate;
    int certifier_device__id; /* 0: the root key */
    int64_t created_on;
} users_store_device_t;

/*
 * users_store_lock - SELECT ... FOR NO KEY UPDATE the organization row
 * (serialises user and device creation in one organization without
 * blocking the inserts of other tables that reference it) and read its
 * current limits: *active_users_limit (-1: unlimited) and
 * *outsider_allowed (either may be NULL).  USERS_STORE_NOT_FOUND when the
 * row is gone.
 */
users_store_status users_store_lock(db_conn_t *c, int org__id, long *active_users_limit,
                                    bool *outsider_allowed) __attribute__((warn_unused_result));

/*
 * users_store_create_user - checks 1-4 above, then inserts the user and
 * its first device.  active_users_limit: the organization's, read under
 * the lock (-1: unlimited).  On USERS_STORE_OK, *user__id and *device__id
 * (either may be NULL) receive the new rows' _id.
 */
users_store_status users_store_create_user(db_conn_t *c, int org__id, long active_users_limit,
                                           const users_store_user_t *u,
                                           const users_store_device_t *d, int *user__id,
                                           int *device__id) __attribute__((warn_unused_result));

/*
 * users_store_create_device - check 4, then insert a device of the
 * existing user user__id.  *device__id (may be NULL) receives its _id.
 */
users_store_status users_store_create_device(db_conn_t *c, int org__id, int user__id,
                                             const users_store_device_t *d, int *device__id)
    __attribute__((warn_unused_result));

/* users_store_reason - the reply's "reason" for a refusal, naming the id
 * or email at fault (arena string), NULL for LIMIT_REACHED (no reason
 * field, as in Parsec) and for OK/ERROR. */
const char *users_store_reason(arena_t *a, users_store_status st, const users_store_user_t *u,
                               const users_store_device_t *d);

#endif
