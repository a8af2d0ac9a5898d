/*
 * fcgi-api/cmd/realm_db.h - the SQL of realms: creation, roles, status and
 * statistics, reencryption maintenance; the realm lock every command that
 * changes a realm takes
 *
 * The rules (docs/protocol.md, "Realms, vlobs and messages"):
 *
 * - A user's role in a realm is its latest realm_user_role row (by _id);
 *   REALM_DB_ROLE_SQL below is that one definition, used by every statement
 *   of the realm and vlob families.  Role certificates of one user in one
 *   realm have strictly increasing timestamps (checked under the realm's
 *   lock, and a unique index of migration 0003), so the row order is the
 *   timestamp order.
 * - Every command that changes a realm (a role, its maintenance, its vlobs)
 *   first takes the realm's row lock with realm_db_lock() (or
 *   vlob_db_lock(), from a vlob), then reads what it checks in a LATER
 *   statement: PostgreSQL runs READ COMMITTED, and a statement's snapshot
 *   is taken when the statement starts, so the facts read after the lock
 *   include whatever the previous holder committed.  FOR NO KEY UPDATE: the
 *   rows that reference the realm (roles, vlobs, changes) can still be
 *   inserted by others meanwhile (their foreign key takes KEY SHARE), and
 *   reads never wait.  Writers in different realms never share a lock.
 * - Reads (status, stats, certificates) are ONE statement each: a
 *   CMD_ONE_STATEMENT command's whole work.
 *
 * Database failures are the kit's sticky errors: a function then returns
 * what its empty result means (not found) and the dispatcher answers 500.
 * Certificates are stored byte for byte as received.
 *
 * Ownership: what the functions return lives in cmd->arena.
 */
#ifndef PARSEC_REALM_DB_H
#define PARSEC_REALM_DB_H

#include "cmd.h"
#include "message_db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * REALM_DB_ROLE_SQL - an SQL subquery (for LATERAL joins) of the role
 * (text, NULL: none) and its certificate's timestamp (certified_on) of user
 * `user` in realm `realm`: the latest role certificate, through index
 * realm_user_role_lookup (realm, user_, _id), whatever the realm's size.
 */
#define REALM_DB_ROLE_SQL(realm, user)                                                             \
    "(SELECT role, certified_on FROM realm_user_role WHERE realm = " realm " AND user_ = " user    \
    " ORDER BY _id DESC LIMIT 1)"

/* A realm's maintenance as stored. */
typedef enum {
    REALM_DB_NO_MAINTENANCE = 0,
    REALM_DB_REENCRYPTION,
    REALM_DB_GARBAGE_COLLECTION, /* the schema's; no command starts one */
} realm_db_maintenance;

/* realm_db_maintenance_of - the column's text (NULL: none) as the enum. */
realm_db_maintenance realm_db_maintenance_of(const char *text);
/* realm_db_maintenance_name - "REENCRYPTION"...; NULL for none. */
const char *realm_db_maintenance_name(realm_db_maintenance m);
/* realm_db_role_of - a role column (NULL: none) as certif_role. */
certif_role realm_db_role_of(const char *text);

/*
 * realm_db_lock - lock realm realm_id of org (FOR NO KEY UPDATE) until the
 * command's transaction ends; its _id, or 0 when org has no such realm.
 * Read what the command checks in later statements (see above).
 */
int64_t realm_db_lock(cmd_t *cmd, int64_t org, const proto_uuid_t *realm_id);
/* realm_db_lock_queue - the same lock queued (cmd_queue: sent with the
 * statements queued after it, which read the facts); realm_db_locked()
 * reads its _id (0: no such realm) once it was sent. */
db_res_t *realm_db_lock_queue(cmd_t *cmd, int64_t org, const proto_uuid_t *realm_id);
int64_t realm_db_locked(const db_res_t *r);

/* ---- realm_create ---- */

/*
 * realm_db_create - the realm of the checked OWNER certificate c (its realm
 * id, its timestamp as created_on), at revision 1, with c as its first role
 * certificate (user user__id, certified by device device__id).  False, and
 * nothing written, when org already has that realm id (a concurrent
 * creation of the same id included: the loser waits for the winner's
 * commit, then sees it).
 */
bool realm_db_create(cmd_t *cmd, int64_t org, const certif_t *c, int64_t user__id,
                     int64_t device__id) __attribute__((warn_unused_result));

/* ---- reads: realm_status, realm_stats, realm_get_role_certificates ---- */

/* Whether the caller may read a realm: not found, no role, or allowed. */
typedef enum {
    REALM_DB_READ_OK = 0,
    REALM_DB_READ_NOT_FOUND, /* org has no such realm */
    REALM_DB_READ_NO_ROLE,   /* user has no role in it */
} realm_db_read;

typedef struct {
    int64_t revision;
    realm_db_maintenance maintenance;
    int64_t started_on;     /* with a maintenance */
    const char *started_by; /* device id, with a maintenance */
} realm_db_status_t;

/* realm_db_status - realm_status of realm_id in org for user user__id. */
realm_db_read realm_db_status(cmd_t *cmd, int64_t org, const proto_uuid_t *realm_id,
                              int64_t user__id, realm_db_status_t *out);

/* realm_db_stats - realm_stats: the realm's blocks_size and vlobs_size
 * counters. */
realm_db_read realm_db_stats(cmd_t *cmd, int64_t org, const proto_uuid_t *realm_id,
                             int64_t user__id, int64_t *blocks_size, int64_t *vlobs_size);

/* realm_db_certificates - every role certificate of the realm, ordered by
 * timestamp then storage (*certs: arena array of *n). */
realm_db_read realm_db_certificates(cmd_t *cmd, int64_t org, const proto_uuid_t *realm_id,
                                    int64_t user__id, proto_bytes_t **certs, size_t *n);

/* ---- realm_update_roles (after realm_db_lock) ---- */

/* What realm_update_roles checks, in one statement. */
typedef struct {
    /* the user the certificate names */
    bool user_found;
    int64_t user__id;
    certif_profile profile;
    bool revoked;
    /* the realm */
    bool realm_found;
    int64_t realm__id;
    realm_db_maintenance maintenance;
    certif_role author_role; /* the caller's current role */
    certif_role user_role;   /* the user's current role */
    /* causality: 0 when never */
    int64_t user_last_certified_on; /* the user's latest role certificate */
    int64_t user_last_vlob_update;  /* the user's latest vlob write */
    int64_t user_last_role_change;  /* the latest role update the user made */
} realm_db_role_facts_t;

/* realm_db_role_facts - the facts above for the certificate's user user_id
 * and realm realm_id of org, the caller being user author__id. */
void realm_db_role_facts(cmd_t *cmd, int64_t org, const proto_uuid_t *realm_id, const char *user_id,
                         int64_t author__id, realm_db_role_facts_t *out);

/*
 * realm_db_add_role - store the checked certificate c for user user__id in
 * realm realm__id, certified by device device__id, and record c's timestamp
 * as the latest role update made by its author's user author__id there.
 */
void realm_db_add_role(cmd_t *cmd, int64_t realm__id, int64_t user__id, const certif_t *c,
                       int64_t device__id, int64_t author__id);

/* ---- reencryption maintenance (after realm_db_lock) ---- */

typedef struct {
    int64_t revision;
    realm_db_maintenance maintenance;
    certif_role role;        /* the caller's */
    bool participants_match; /* start: the recipients are the members, exactly */
    int64_t versions;        /* versions written in the realm (each at revision - 1) */
    int64_t current_atoms;   /* versions stored at revision: during a reencryption, the
                              * copies saved so far */
} realm_db_maintenance_facts_t;

/*
 * realm_db_maintenance_facts - what the start and the finish of a
 * reencryption check for realm realm__id and the caller user__id.  With
 * recipients (n entries; start), participants_match says whether their user
 * ids are exactly the users with a role in the realm who are not revoked;
 * without (finish), it is false.
 */
void realm_db_maintenance_facts(cmd_t *cmd, int64_t realm__id, int64_t user__id,
                                const message_db_new_t *recipients, size_t n,
                                realm_db_maintenance_facts_t *out);

/* realm_db_start_reencryption - enter REENCRYPTION at revision (current + 1),
 * started on started_on by device device__id, with the revision's row. */
void realm_db_start_reencryption(cmd_t *cmd, int64_t realm__id, int64_t revision,
                                 int64_t started_on, int64_t device__id);

/* realm_db_finish_maintenance - leave the maintenance (the revision stays). */
void realm_db_finish_maintenance(cmd_t *cmd, int64_t realm__id);

#endif
