/*
 * fcgi-api/cmd/organization_db.h - the SQL of organizations: bootstrap,
 * configuration, and the statistics both the RPC (organization_stats) and
 * the administration API (GET .../stats, GET /administration/stats) answer
 *
 * The statistics are one statement and one JSON builder for every caller,
 * so the figures an administrator sees and the ones an organization's
 * ADMIN sees cannot drift apart.
 *
 * Ownership: what the functions return lives in the arena given (or
 * cmd->arena).
 */
#ifndef PARSEC_ORGANIZATION_DB_H
#define PARSEC_ORGANIZATION_DB_H

#include "cmd.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- statistics (any caller: a connection, not a command) ---- */

/* Profiles in the order Parsec always lists them. */
extern const char *const organization_profiles[3]; /* "ADMIN", "STANDARD", "OUTSIDER" */

typedef struct {
    const char *organization_id;
    int64_t data_size, metadata_size, realms;
    int64_t active[3], revoked[3]; /* indexed like organization_profiles[] */
} organization_stats_t;

/* A window of time; has_* false: open on that side. */
typedef struct {
    bool has_from, has_to;
    int64_t from_us, to_us; /* microseconds since the Unix epoch */
} organization_window_t;

/*
 * organization_db_stats - the figures of organization_id (NULL: every
 * organization, ordered by id) in window (NULL: now, Parsec 2.12's
 * organization_stats).  With to ("at"): the organization as it stood then
 * (only what was created by then, users revoked by then as revoked, blocks
 * deleted by then left out, organizations created later left out).  With
 * from: only what was created after it.  One statement on c.  False on a
 * database error (logged); *rows (arena array) and *n otherwise.
 */
bool organization_db_stats(db_conn_t *c, arena_t *a, const char *organization_id,
                           const organization_window_t *window, organization_stats_t **rows,
                           size_t *n) __attribute__((warn_unused_result));
int64_t organization_stats_users(const organization_stats_t *s);
int64_t organization_stats_active_users(const organization_stats_t *s);
/* organization_stats_add - the figures of one organization (the fields of
 * organization_stats' reply), preceded by "organization_id" when with_id,
 * added to object o. */
void organization_stats_add(json_object *o, const organization_stats_t *s, bool with_id);

/* ---- bootstrap (organization_bootstrap's transaction) ---- */

/* What the bootstrap lock read. */
typedef struct {
    int64_t _id;
    const char *bootstrap_token;
    bool bootstrapped, expired;
    long active_users_limit; /* -1: unlimited */
} organization_db_boot_t;

/* organization_db_spontaneous_create - create organization_id with an
 * empty bootstrap token and the given initial settings, unless it exists
 * (then nothing happens: the row lock decides). */
void organization_db_spontaneous_create(cmd_t *cmd, const char *organization_id, long limit,
                                        bool outsider_allowed);
/* organization_db_boot_lock - SELECT ... FOR UPDATE the organization; false
 * when there is none. */
bool organization_db_boot_lock(cmd_t *cmd, const char *organization_id, organization_db_boot_t *out)
    __attribute__((warn_unused_result));
/* organization_db_boot_set - record the root key, the bootstrap time and
 * the sequester authority (certificate and its DER key; data NULL: none). */
void organization_db_boot_set(cmd_t *cmd, int64_t org, const uint8_t root_key[PROTO_KEY_SIZE],
                              int64_t now_us, const proto_bytes_t *sequester,
                              const proto_bytes_t *sequester_der);

/* ---- organization_config ---- */

typedef struct {
    bool outsider_allowed;
    long active_users_limit;           /* -1: unlimited */
    proto_bytes_t sequester_authority; /* data NULL: not sequestered */
    proto_bytes_t *services;           /* enabled services' certificates, creation order */
    size_t n_services;
} organization_db_config_t;

/* organization_db_config - one statement; false when the organization is
 * gone. */
bool organization_db_config(cmd_t *cmd, int64_t org, organization_db_config_t *out)
    __attribute__((warn_unused_result));

#endif
