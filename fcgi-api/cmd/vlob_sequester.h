/*
 * fcgi-api/cmd/vlob_sequester.h - the sequester rules of a vlob write
 *
 * `sequester_blob` of vlob_create and vlob_update (docs/protocol.md,
 * vlob_create step 8; parsec-2.12-behaviour.md 6.8, 15.10 and 15.11):
 *
 *   organization not sequestered: null accepted; any map, even {} ->
 *       not_a_sequestered_organization;
 *   sequestered: the map's keys must be exactly the enabled services (null
 *       refused, {} accepted while none is enabled) -> else
 *       sequester_inconsistency with the authority certificate and the
 *       enabled services' certificates (creation order);
 *   a sequestered write keeps each service's blob with the version, as
 *       received (not counted in any size).
 *
 * This file is the seam of the sequester work: the vlob commands call
 * vlob_sequester_read, vlob_sequester_check (after their access checks,
 * before already_exists / bad_version) and vlob_sequester_store (after the
 * version is written, in the same transaction), and know nothing else of
 * sequestering.  Services are rows of sequester_service (disabled_on set:
 * disabled), registered by `parsec backend sequester` (docs/sequester.md);
 * as in Parsec 2.12.1 they are passive recipients: nothing is called on a
 * write.  Reencryption copies keep their original's blobs (vlob_db.c).
 *
 * Ownership: what the functions return lives in cmd->arena.
 */
#ifndef PARSEC_VLOB_SEQUESTER_H
#define PARSEC_VLOB_SEQUESTER_H

#include "cmd.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* At most this many services in one sequester_blob. */
#define VLOB_SEQUESTER_MAX 64

/* The request's sequester_blob. */
typedef struct {
    bool given;                   /* not null (an empty map is given) */
    proto_bytes_entry_t *entries; /* service id (32 hex) -> blob */
    size_t n;
} vlob_sequester_blob_t;

/* vlob_sequester_read - read field "sequester_blob" of cmd->in (sticky
 * errors, as every getter). */
void vlob_sequester_read(cmd_t *cmd, vlob_sequester_blob_t *out);

/*
 * vlob_sequester_check - the rules above for an organization sequestered or
 * not: CMD_OK to go on, else CMD_REFUSED with the refusal set.  Reads the
 * enabled services (one statement) only for a sequestered organization.
 */
cmd_result vlob_sequester_check(cmd_t *cmd, bool sequestered, const vlob_sequester_blob_t *sb);

/* vlob_sequester_store - keep sb's blobs (checked) with version atom__id,
 * queued (cmd_queue: sent with the COMMIT); nothing when sb is empty or
 * not given. */
void vlob_sequester_store(cmd_t *cmd, int64_t atom__id, const vlob_sequester_blob_t *sb);

#endif
