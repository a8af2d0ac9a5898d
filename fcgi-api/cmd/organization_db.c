/*
 * fcgi-api/cmd/organization_db.c - the SQL of organizations (see
 * organization_db.h)
 */
#include "organization_db.h"

#include "log.h"

#include <string.h>

const char *const organization_profiles[3] = {"ADMIN", "STANDARD", "OUTSIDER"};

/* ---------------------------------------------------------------------------
 * Statistics
 *
 * Three statements, each written for the generic plan every prepared
 * statement runs with (common/db.h): one organization now (Parsec 2.12's
 * organization_stats), every organization now, and a window.  Sizes are
 * INTEGER columns, so SUMs are bigint.
 *
 * Now, every figure is a counter or a count of small tables: data_size and
 * metadata_size are the sums of the realms' blocks_size and metadata_size
 * counters (migrations 0006 and 0003), kept by block_create and the vlob
 * commands in the transaction that stores a block or a version, so they
 * equal the sums over block and vlob_atom without reading them.
 *
 * A window reads the versions created in it through index
 * vlob_atom_created_on (w below), bounded on both sides so that the
 * generic plan estimates a range (0.5 % of the rows) and scans the index,
 * each version's organization looked up by its vlob's key (a join would
 * let the planner read table vlob whole):
 *   `from` (and `at`)  the versions created in (from, at];
 *   `at` alone         the counters minus the versions created in (at,
 *                      infinity): what stood at `at`, at the cost of what
 *                      came after it.
 * A version "created" at its timestamp: a re-encrypted copy carries its
 * version's timestamp.  w is computed once for every organization
 * (grouped).
 */

/* The users per profile of organization o, as columns admin_active ..
 * outsider_revoked of p; revoked: the SQL of "revoked", where: more
 * conditions on the users counted. */
#define STATS_PROFILES(revoked, where)                                                             \
    " CROSS JOIN LATERAL ("                                                                        \
    "   SELECT"                                                                                    \
    "     COUNT(*) FILTER (WHERE u.profile = 'ADMIN' AND NOT u.revoked) AS admin_active,"          \
    "     COUNT(*) FILTER (WHERE u.profile = 'ADMIN' AND u.revoked) AS admin_revoked,"             \
    "     COUNT(*) FILTER (WHERE u.profile = 'STANDARD' AND NOT u.revoked) AS standard_active,"    \
    "     COUNT(*) FILTER (WHERE u.profile = 'STANDARD' AND u.revoked) AS standard_revoked,"       \
    "     COUNT(*) FILTER (WHERE u.profile = 'OUTSIDER' AND NOT u.revoked) AS outsider_active,"    \
    "     COUNT(*) FILTER (WHERE u.profile = 'OUTSIDER' AND u.revoked) AS outsider_revoked"        \
    "   FROM (SELECT profile, " revoked " AS revoked"                                              \
    "         FROM user_ WHERE organization = o._id" where ") u"                                   \
    " ) p"

#define STATS_PROFILE_COLUMNS                                                                      \
    "  p.admin_active, p.admin_revoked, p.standard_active, p.standard_revoked,"                    \
    "  p.outsider_active, p.outsider_revoked"

/* The realms' counters of organization o, as m. */
#define STATS_COUNTERS                                                                             \
    " CROSS JOIN LATERAL ("                                                                        \
    "   SELECT COALESCE(SUM(blocks_size), 0)::bigint AS blocks_size,"                              \
    "     COALESCE(SUM(metadata_size), 0)::bigint AS metadata_size, COUNT(*) AS realms"            \
    "   FROM realm WHERE organization = o._id) m"

#define STATS_NOW(where)                                                                           \
    "SELECT o.organization_id, m.blocks_size, m.metadata_size, m.realms," STATS_PROFILE_COLUMNS    \
    " FROM organization o" STATS_COUNTERS STATS_PROFILES("revoked_on IS NOT NULL", "") where       \
        " ORDER BY o.organization_id COLLATE \"C\""

/* $1 the organization. */
DB_STMT(stmt_stats_one, "organization_db_stats_one", 1,
        STATS_NOW(" WHERE o.organization_id = $1::text"));
DB_STMT(stmt_stats_all, "organization_db_stats_all", 0, STATS_NOW(""));

/* $1 one organization or NULL (every one; the organization table is read
 * whole, the versions are not), $2 from, $3 at: NULL for none, one at
 * least given.  The blocks of the window are found among the
 * organization's (a block is 512 KiB of data where a version is a few
 * hundred bytes: a rare administration call may read them). */
#define STATS_AFTER_FROM "> COALESCE($2::timestamptz, '-infinity'::timestamptz)"
#define STATS_UNTIL_AT   "<= COALESCE($3::timestamptz, 'infinity'::timestamptz)"
/* the users created in the window, revoked if by its end */
#define STATS_WINDOW_USERS                                                                         \
    STATS_PROFILES("revoked_on IS NOT NULL AND revoked_on " STATS_UNTIL_AT,                        \
                   " AND created_on " STATS_AFTER_FROM " AND created_on " STATS_UNTIL_AT)
DB_STMT(stmt_stats_window, "organization_db_stats_window", 3,
        "WITH w AS ("
        "  SELECT organization, SUM(size) AS size FROM ("
        "    SELECT (SELECT v.organization FROM vlob v WHERE v._id = a.vlob) AS organization,"
        "      a.size"
        "    FROM vlob_atom a"
        "    WHERE a.created_on > COALESCE($2::timestamptz, $3::timestamptz)"
        "      AND a.created_on <= CASE WHEN $2::timestamptz IS NULL OR $3::timestamptz IS NULL"
        "        THEN 'infinity'::timestamptz ELSE $3::timestamptz END) x"
        "  WHERE $1::text IS NULL"
        "    OR organization = (SELECT _id FROM organization WHERE organization_id = $1::text)"
        "  GROUP BY organization)"
        " SELECT o.organization_id,"
        "  (SELECT COALESCE(SUM(b.size), 0) FROM block b"
        "    WHERE b.organization = o._id"
        "      AND b.created_on " STATS_AFTER_FROM " AND b.created_on " STATS_UNTIL_AT
        "      AND (b.deleted_on IS NULL OR b.deleted_on > COALESCE($3::timestamptz, now()))),"
        "  CASE WHEN $2::timestamptz IS NOT NULL THEN COALESCE(w.size, 0)"
        "   ELSE m.metadata_size - COALESCE(w.size, 0) END,"
        "  (SELECT COUNT(*) FROM realm r WHERE r.organization = o._id"
        "      AND r.created_on " STATS_AFTER_FROM " AND r.created_on " STATS_UNTIL_AT
        ")," STATS_PROFILE_COLUMNS " FROM organization o" STATS_COUNTERS STATS_WINDOW_USERS
        " LEFT JOIN w ON w.organization = o._id"
        " WHERE ($1::text IS NULL OR o.organization_id = $1::text)"
        "   AND o.created_on " STATS_UNTIL_AT " ORDER BY o.organization_id COLLATE \"C\"");

bool organization_db_stats(db_conn_t *c, arena_t *a, const char *organization_id,
                           const organization_window_t *w, organization_stats_t **rows, size_t *n)
{
    bool failed = false;
    db_res_t *r;
    if (w && (w->has_from || w->has_to))
        r = DB_RUN(c, a, &failed, &stmt_stats_window, DB_TEXT(organization_id),
                   DB_TS_IF(w->has_from, w->from_us), DB_TS_IF(w->has_to, w->to_us));
    else if (organization_id)
        r = DB_RUN(c, a, &failed, &stmt_stats_one, DB_TEXT(organization_id));
    else
        r = db_run(c, a, &failed, &stmt_stats_all, NULL, 0);
    size_t nr = db_nrows(r);
    organization_stats_t *out = arena_zalloc(a, (nr ? nr : 1) * sizeof *out);
    for (size_t i = 0; i < nr; i++) {
        organization_stats_t *s = &out[i];
        s->organization_id = db_get_str(r, i, 0);
        s->data_size = db_get_i64(r, i, 1);
        s->metadata_size = db_get_i64(r, i, 2);
        s->realms = db_get_i64(r, i, 3);
        for (int p = 0; p < 3; p++) {
            s->active[p] = db_get_i64(r, i, 4 + 2 * p);
            s->revoked[p] = db_get_i64(r, i, 5 + 2 * p);
        }
    }
    *rows = out;
    *n = failed ? 0 : nr;
    return !failed;
}

int64_t organization_stats_active_users(const organization_stats_t *s)
{
    return s->active[0] + s->active[1] + s->active[2];
}

int64_t organization_stats_users(const organization_stats_t *s)
{
    return organization_stats_active_users(s) + s->revoked[0] + s->revoked[1] + s->revoked[2];
}

void organization_stats_add(json_object *o, const organization_stats_t *s, bool with_id)
{
    if (with_id)
        json_object_object_add(o, "organization_id", json_object_new_string(s->organization_id));
    json_object_object_add(o, "data_size", json_object_new_int64(s->data_size));
    json_object_object_add(o, "metadata_size", json_object_new_int64(s->metadata_size));
    json_object_object_add(o, "realms", json_object_new_int64(s->realms));
    json_object_object_add(o, "users", json_object_new_int64(organization_stats_users(s)));
    json_object_object_add(o, "active_users",
                           json_object_new_int64(organization_stats_active_users(s)));
    json_object *detail = json_object_new_array();
    for (int p = 0; p < 3; p++) {
        json_object *d = json_object_new_object();
        json_object_object_add(d, "profile", json_object_new_string(organization_profiles[p]));
        json_object_object_add(d, "active", json_object_new_int64(s->active[p]));
        json_object_object_add(d, "revoked", json_object_new_int64(s->revoked[p]));
        json_object_array_add(detail, d);
    }
    json_object_object_add(o, "users_per_profile_detail", detail);
}

/* ---------------------------------------------------------------------------
 * Bootstrap
 */

/* Spontaneous bootstrap: create the organization, unless anyone (an
 * administrator included) already did; the row lock below then decides. */
DB_STMT(stmt_spontaneous_create, "organization_db_spontaneous_create", 3,
        "INSERT INTO organization (organization_id, bootstrap_token, active_users_limit,"
        "    user_profile_outsider_allowed, created_by_administration)"
        " VALUES ($1::text, '', $2::integer, $3::boolean, FALSE)"
        " ON CONFLICT (organization_id) DO NOTHING");

DB_STMT(stmt_boot_lock, "organization_db_boot_lock", 1,
        "SELECT _id, bootstrap_token, root_verify_key IS NOT NULL, active_users_limit, is_expired"
        " FROM organization WHERE organization_id = $1::text FOR UPDATE");

DB_STMT(stmt_boot_set, "organization_db_boot_set", 5,
        "UPDATE organization SET root_verify_key = $2::bytea, bootstrapped_on = $3::timestamptz,"
        "    sequester_authority_certificate = $4::bytea,"
        "    sequester_authority_verify_key_der = $5::bytea"
        " WHERE _id = $1::bigint");

void organization_db_spontaneous_create(cmd_t *cmd, const char *organization_id, long limit,
                                        bool outsider_allowed)
{
    CMD_RUN(cmd, &stmt_spontaneous_create, DB_TEXT(organization_id), DB_I64_IF(limit >= 0, limit),
            DB_BOOL(outsider_allowed));
}

bool organization_db_boot_lock(cmd_t *cmd, const char *organization_id, organization_db_boot_t *out)
{
    db_res_t *r = CMD_RUN(cmd, &stmt_boot_lock, DB_TEXT(organization_id));
    if (db_nrows(r) != 1)
        return false;
    out->_id = db_get_i64(r, 0, 0);
    out->bootstrap_token = db_get_str(r, 0, 1);
    out->bootstrapped = db_get_bool(r, 0, 2);
    out->active_users_limit = db_is_null(r, 0, 3) ? -1 : (long)db_get_i64(r, 0, 3);
    out->expired = db_get_bool(r, 0, 4);
    if (!out->bootstrap_token)
        out->bootstrap_token = "";
    return true;
}

void organization_db_boot_set(cmd_t *cmd, int64_t org, const uint8_t root_key[PROTO_KEY_SIZE],
                              int64_t now_us, const proto_bytes_t *sequester,
                              const proto_bytes_t *sequester_der)
{
    CMD_RUN(cmd, &stmt_boot_set, DB_I64(org), DB_BYTES(root_key, PROTO_KEY_SIZE), DB_TS(now_us),
            DB_BYTES(sequester->data, sequester->len),
            DB_BYTES(sequester_der->data, sequester_der->len));
}

/* ---------------------------------------------------------------------------
 * organization_config: the organization and its enabled sequester services
 * in one statement (one row per service, or one row with a NULL service).
 */

DB_STMT(stmt_config, "organization_db_config", 1,
        "SELECT o.user_profile_outsider_allowed, o.active_users_limit,"
        "    o.sequester_authority_certificate, s.service_certificate"
        " FROM organization o"
        " LEFT JOIN sequester_service s ON s.organization = o._id AND s.disabled_on IS NULL"
        "    AND o.sequester_authority_certificate IS NOT NULL"
        " WHERE o._id = $1::bigint"
        " ORDER BY s.created_on, s._id");

bool organization_db_config(cmd_t *cmd, int64_t org, organization_db_config_t *out)
{
    memset(out, 0, sizeof *out);
    db_res_t *r = CMD_RUN(cmd, &stmt_config, DB_I64(org));
    size_t rows = db_nrows(r);
    if (rows == 0)
        return false;
    out->outsider_allowed = db_get_bool(r, 0, 0);
    out->active_users_limit = db_is_null(r, 0, 1) ? -1 : (long)db_get_i64(r, 0, 1);
    out->sequester_authority.data = db_get_bytes(r, 0, 2, &out->sequester_authority.len);
    out->services = arena_zalloc(cmd->arena, rows * sizeof *out->services);
    for (size_t i = 0; i < rows; i++) {
        proto_bytes_t b;
        b.data = db_get_bytes(r, i, 3, &b.len);
        if (b.data)
            out->services[out->n_services++] = b;
    }
    return true;
}
