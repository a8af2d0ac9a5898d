/*
 * fcgi-api/cmd/vlob_db.h - the SQL of vlobs: reading versions, listing
 * them, polling a realm's changes, writing versions, and the batches of a
 * reencryption maintenance
 *
 * Storage (sql/0001_initial.sql, 0003_realms.sql): a vlob row per vlob id
 * (unique per organization, in one realm); a vlob_atom row per version and
 * encryption revision; a realm_vlob_update row per change, numbered by the
 * realm's checkpoint; counters on realm and vlob_encryption_revision.
 *
 * Reads (vlob_db_read, _list_versions, _poll, _reencryption_batch) are ONE
 * statement each, with no lock: one snapshot, never waiting for a writer.
 * They return the facts the command checks (the realm's revision and
 * maintenance, the caller's role) with the data, and fetch the data only
 * for a caller with a role.
 *
 * Writes run in the command's transaction in two round trips (cmd.h,
 * "Pipelines"): BEGIN, the realm's lock and the facts (vlob_db_lock_realm /
 * vlob_db_lock_vlob: the facts in a later statement, so a fresh snapshot:
 * realm_db.h explains why), then, after the command's checks, the write
 * (vlob_db_create / vlob_db_update), its event and COMMIT.  Each write is
 * one statement that stores the version, raises the realm's checkpoint and
 * counters, records the change and the author's latest vlob write.
 *
 * Ownership: what the functions return lives in cmd->arena.
 */
#ifndef PARSEC_VLOB_DB_H
#define PARSEC_VLOB_DB_H

#include "cmd.h"
#include "realm_db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The realm facts every vlob command checks. */
typedef struct {
    int64_t revision; /* the realm's encryption_revision */
    realm_db_maintenance maintenance;
    certif_role role;        /* the caller's */
    int64_t role_granted_on; /* its certificate's timestamp (0: no role) */
} vlob_db_realm_t;

/* ---- vlob_read ---- */

typedef struct {
    vlob_db_realm_t realm;
    bool has_version; /* a version matched (at the revision asked) */
    int64_t version;
    proto_bytes_t blob;
    const char *author;                  /* device id */
    int64_t timestamp;                   /* the version's */
    bool has_author_role;                /* false: the author's user has no role certificate */
    int64_t author_last_role_granted_on; /* its latest one's timestamp */
} vlob_db_version_t;

/*
 * vlob_db_read - vlob vlob_id of org, as user user__id: the realm facts,
 * and, when the user has a role, the version matching (version when
 * version > 0, else the latest at or before timestamp when has_timestamp,
 * else the latest) among the versions stored at encryption revision
 * revision.  False when org has no such vlob.
 */
bool vlob_db_read(cmd_t *cmd, int64_t org, const proto_uuid_t *vlob_id, int64_t user__id,
                  int64_t revision, int64_t version, bool has_timestamp, int64_t timestamp,
                  vlob_db_version_t *out);

/* ---- vlob_list_versions ---- */

typedef struct {
    int64_t version;
    int64_t timestamp;
    const char *author;
} vlob_db_listed_t;

/* vlob_db_list_versions - the realm facts and, with a role, every version
 * (*versions: arena array of *n, by version).  False: no such vlob. */
bool vlob_db_list_versions(cmd_t *cmd, int64_t org, const proto_uuid_t *vlob_id, int64_t user__id,
                           vlob_db_realm_t *realm, vlob_db_listed_t **versions, size_t *n);

/* ---- vlob_poll_changes ---- */

typedef struct {
    const char *vlob_id; /* 32 hex */
    int64_t version;
} vlob_db_change_t;

/*
 * vlob_db_poll - realm realm_id of org as user user__id: the facts, the
 * realm's checkpoint, and, with a role and outside a non-reencryption
 * maintenance, the changes numbered after last_checkpoint in order (one per
 * change: a later one of the same vlob comes later).  The changes are read
 * through the unique index (realm, index): the cost is the changes', not
 * the realm's.  False: no such realm.
 */
bool vlob_db_poll(cmd_t *cmd, int64_t org, const proto_uuid_t *realm_id, int64_t user__id,
                  int64_t last_checkpoint, vlob_db_realm_t *realm, int64_t *checkpoint,
                  vlob_db_change_t **changes, size_t *n);

/* ---- writes ---- */

typedef struct {
    vlob_db_realm_t realm;
    int64_t realm__id;
    int64_t checkpoint;   /* the realm's, before the write: the write makes it + 1 */
    int64_t revision__id; /* vlob_encryption_revision._id of the realm's revision */
    bool sequestered;     /* the organization has a sequester authority */
    uint8_t realm_id[16]; /* the realm's id, for its events */
    bool vlob_id_taken;   /* create: the organization already has the vlob id */
    int64_t vlob__id;     /* update: the vlob's row */
    int64_t last_version; /* update: the latest version (0: none) */
    int64_t last_timestamp;
} vlob_db_write_facts_t;

/*
 * vlob_db_lock_realm - BEGIN, lock realm realm_id of org (realm_db_lock's
 * lock) and read after it what a write of user user__id there checks (with
 * vlob_id: whether the organization already has that vlob id), in one round
 * trip (cmd.h, "Pipelines").  False when org has no such realm (or the
 * command failed).
 */
bool vlob_db_lock_realm(cmd_t *cmd, int64_t org, const proto_uuid_t *realm_id, int64_t user__id,
                        const proto_uuid_t *vlob_id, vlob_db_write_facts_t *out);
/*
 * vlob_db_lock_vlob - the same from vlob vlob_id of org (update): its
 * realm locked, then the facts with the vlob's latest version at the
 * realm's revision.  False when org has no such vlob.
 */
bool vlob_db_lock_vlob(cmd_t *cmd, int64_t org, const proto_uuid_t *vlob_id, int64_t user__id,
                       vlob_db_write_facts_t *out);

/* A version to write. */
typedef struct {
    int64_t org, realm__id, revision__id;
    int64_t author__id; /* device */
    int64_t user__id;   /* the author's user */
    int64_t timestamp;
    proto_bytes_t blob;
} vlob_db_new_t;

/*
 * vlob_db_create - queue (cmd_queue) vlob vlob_id at version 1 with v:
 * sent with the COMMIT unless something needs its result first
 * (vlob_db_written).  Under the realm's lock it writes the version and
 * makes the realm's checkpoint the facts' + 1, or fails: a vlob id that
 * another realm's creation took meanwhile is a unique violation, and the
 * command runs again (its facts then say vlob_id_taken).
 */
db_res_t *vlob_db_create(cmd_t *cmd, const proto_uuid_t *vlob_id, const vlob_db_new_t *v);

/* vlob_db_update - queue version version of vlob vlob__id with v (the
 * checks passed under the lock, so the version is free), as vlob_db_create. */
db_res_t *vlob_db_update(cmd_t *cmd, int64_t vlob__id, int64_t version, const vlob_db_new_t *v);

/* vlob_db_written - once the write r was sent (cmd_flush): the version's
 * row; the command fails (0) unless the write made checkpoint. */
int64_t vlob_db_written(cmd_t *cmd, const db_res_t *r, int64_t checkpoint);

/* ---- reencryption batches ---- */

/* One entry of a batch. */
typedef struct {
    proto_uuid_t vlob_id;
    int64_t version;
    proto_bytes_t blob;
} vlob_db_batch_entry_t;

/*
 * vlob_db_reencryption_batch - realm realm_id of org as user user__id: the
 * facts, and when the user is OWNER of a realm in reencryption at revision,
 * up to size versions stored at revision - 1 without a copy at revision,
 * in storage order (*batch: arena array of *n).  False: no such realm.
 */
bool vlob_db_reencryption_batch(cmd_t *cmd, int64_t org, const proto_uuid_t *realm_id,
                                int64_t user__id, int64_t revision, int64_t size,
                                vlob_db_realm_t *realm, vlob_db_batch_entry_t **batch, size_t *n);

/*
 * vlob_db_save_batch - after vlob_db_lock_realm of realm__id in reencryption
 * (checked): each entry naming a version stored at revision - 1 of a vlob of
 * this realm, not yet copied, becomes its copy at revision (one statement;
 * the first entry of a duplicate wins).  *total: versions stored at
 * revision - 1; *done: copies at revision, this batch's included.
 */
void vlob_db_save_batch(cmd_t *cmd, int64_t org, int64_t realm__id, int64_t revision,
                        const vlob_db_batch_entry_t *entries, size_t n, int64_t *total,
                        int64_t *done);

#endif
