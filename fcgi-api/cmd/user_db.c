/*
 * fcgi-api/cmd/user_db.c - the SQL of users and devices (see user_db.h)
 */
#include "user_db.h"

#include "log.h"

#include <string.h>

DB_STMT(stmt_lock, "user_db_lock_org", 1,
        "SELECT active_users_limit, user_profile_outsider_allowed FROM organization"
        " WHERE _id = $1::bigint FOR NO KEY UPDATE");

/* The four storage checks in one round trip, in the order of user_db.h.
 * $1 organization, $2 user id, $3 email or NULL, $4 device id. */
DB_STMT(stmt_user_checks, "user_db_user_checks", 4,
        "SELECT"
        "  (SELECT count(*) FROM user_ WHERE organization = $1::bigint AND revoked_on IS NULL),"
        "  EXISTS (SELECT 1 FROM user_ WHERE organization = $1::bigint AND user_id = $2::text),"
        "  $3::text IS NOT NULL AND EXISTS (SELECT 1 FROM user_ WHERE organization = $1::bigint"
        "      AND human_email = $3::text AND revoked_on IS NULL),"
        "  EXISTS (SELECT 1 FROM device WHERE organization = $1::bigint AND device_id = $4::text)");

/* The user and its first device in one statement. */
DB_STMT(stmt_user_insert, "user_db_user_insert", 16,
        "WITH u AS ("
        "  INSERT INTO user_ (organization, user_id, profile, human_email, human_label,"
        "      user_certificate, redacted_user_certificate, user_certifier, created_on)"
        "  VALUES ($1::bigint, $2::text, $3::text, $4::text, $5::text, $6::bytea, $7::bytea,"
        "      $8::bigint, $9::timestamptz)"
        "  RETURNING _id)"
        " INSERT INTO device (organization, user_, device_id, device_label, verify_key,"
        "     device_certificate, redacted_device_certificate, device_certifier, created_on)"
        " SELECT $1::bigint, u._id, $10::text, $11::text, $12::bytea, $13::bytea, $14::bytea,"
        "     $15::bigint, $16::timestamptz FROM u"
        " RETURNING user_, _id");

DB_STMT(stmt_device_exists, "user_db_device_exists", 2,
        "SELECT 1 FROM device WHERE organization = $1::bigint AND device_id = $2::text");

DB_STMT(stmt_device_insert, "user_db_device_insert", 9,
        "INSERT INTO device (organization, user_, device_id, device_label, verify_key,"
        "    device_certificate, redacted_device_certificate, device_certifier, created_on)"
        " VALUES ($1::bigint, $2::bigint, $3::text, $4::text, $5::bytea, $6::bytea, $7::bytea,"
        "    $8::bigint, $9::timestamptz)"
        " RETURNING _id");

/* The target row, locked so that two revocations of one user serialise and
 * the second sees the first.  $1 organization, $2 user id. */
DB_STMT(stmt_revoke_lock, "user_db_revoke_lock", 2,
        "SELECT _id, revoked_on IS NOT NULL FROM user_"
        " WHERE organization = $1::bigint AND user_id = $2::text FOR UPDATE");

/* $1 user_._id, $2 revoked_on, $3 certificate, $4 certifier device._id. */
DB_STMT(stmt_revoke, "user_db_revoke", 4,
        "UPDATE user_ SET revoked_on = $2::timestamptz, revoked_user_certificate = $3::bytea,"
        " revoked_user_certifier = $4::bigint WHERE _id = $1::bigint");

/*
 * Everything user_get answers, in one statement (one snapshot, one round
 * trip), as rows (kind, _id, certificate) ordered by kind then _id:
 *   0 the user's certificate        1 its revocation (when revoked)
 *   2 its devices' certificates     3 trustchain devices
 *   4 trustchain users              5 trustchain revocations
 * No row at all: no such user.  $1 organization, $2 user id, $3 redacted.
 * Trustchain rows are restricted to the organization even though certifier
 * references never leave it (they are written from the caller's own device):
 * a second guard costs nothing.
 */
DB_STMT(
    stmt_user_get, "user_db_get", 3,
    "WITH RECURSIVE"
    " target AS ("
    "  SELECT _id, user_certifier, revoked_user_certifier, revoked_user_certificate,"
    "      CASE WHEN $3::boolean THEN redacted_user_certificate ELSE user_certificate END AS cert"
    "  FROM user_ WHERE organization = $1::bigint AND user_id = $2::text),"
    " own AS ("
    "  SELECT d._id, d.device_certifier,"
    "      CASE WHEN $3::boolean THEN d.redacted_device_certificate"
    "          ELSE d.device_certificate END AS cert"
    "  FROM device d JOIN target t ON d.user_ = t._id),"
    " chain (device) AS ("
    "  SELECT user_certifier FROM target WHERE user_certifier IS NOT NULL"
    "  UNION SELECT revoked_user_certifier FROM target WHERE revoked_user_certifier IS NOT NULL"
    "  UNION SELECT device_certifier FROM own WHERE device_certifier IS NOT NULL"
    "  UNION"
    "  SELECT v.next FROM chain"
    "   JOIN device d ON d._id = chain.device"
    "   JOIN user_ u ON u._id = d.user_"
    "   CROSS JOIN LATERAL (VALUES (d.device_certifier), (u.user_certifier),"
    "       (u.revoked_user_certifier)) AS v (next)"
    "  WHERE v.next IS NOT NULL),"
    /* one keyed probe per certifier (LIMIT 1 keeps it a probe): as a
     * join, the plan hashed the organization's devices, all read */
    " chain_devices AS ("
    "  SELECT d._id, d.user_, d.cert FROM chain CROSS JOIN LATERAL ("
    "   SELECT _id, user_, CASE WHEN $3::boolean THEN redacted_device_certificate"
    "          ELSE device_certificate END AS cert"
    "   FROM device WHERE _id = chain.device AND organization = $1::bigint LIMIT 1) d),"
    " chain_users AS (SELECT DISTINCT user_ AS _id FROM chain_devices)"
    " SELECT 0, _id, cert FROM target"
    " UNION ALL SELECT 1, _id, revoked_user_certificate FROM target"
    "  WHERE revoked_user_certificate IS NOT NULL"
    " UNION ALL SELECT 2, _id, cert FROM own"
    " UNION ALL SELECT 3, _id, cert FROM chain_devices"
    " UNION ALL SELECT 4, u._id,"
    "     CASE WHEN $3::boolean THEN u.redacted_user_certificate ELSE u.user_certificate END"
    "  FROM chain_users c JOIN user_ u ON u._id = c._id"
    " UNION ALL SELECT 5, u._id, u.revoked_user_certificate"
    "  FROM chain_users c JOIN user_ u ON u._id = c._id"
    "  WHERE u.revoked_user_certificate IS NOT NULL"
    " ORDER BY 1, 2");

/*
 * human_find: the matches (m), the requested page of them (p), and the
 * total before pagination on every row, with one all-NULL row when the page
 * is empty so the total still comes back.  $1 organization, $2 omit_revoked,
 * $3 omit_non_human, $4 ILIKE pattern or NULL, $5 limit, $6 offset.
 * COLLATE "C": the order does not depend on the cluster's locale.
 */
DB_STMT(stmt_find, "user_db_find", 6,
        "WITH m AS ("
        "  SELECT user_id, human_email, human_label, revoked_on IS NOT NULL AS revoked"
        "  FROM user_"
        "  WHERE organization = $1::bigint"
        "   AND (NOT $2::boolean OR revoked_on IS NULL)"
        "   AND (NOT $3::boolean OR human_email IS NOT NULL)"
        "   AND ($4::text IS NULL OR (human_email IS NOT NULL"
        "       AND (human_label ILIKE $4::text OR human_email ILIKE $4::text)))),"
        " p AS ("
        "  SELECT * FROM m"
        "  ORDER BY human_email IS NULL, lower(human_label) COLLATE \"C\", user_id COLLATE \"C\""
        "  LIMIT $5::bigint OFFSET $6::bigint)"
        " SELECT (SELECT count(*) FROM m), p.user_id, p.human_email, p.human_label, p.revoked"
        " FROM (VALUES (1)) AS one (x) LEFT JOIN p ON true"
        " ORDER BY p.human_email IS NULL, lower(p.human_label) COLLATE \"C\","
        "     p.user_id COLLATE \"C\"");

/* ---------------------------------------------------------------------------
 * Creating
 */

user_db_status user_db_lock_org(cmd_t *cmd, int64_t org, long *limit, bool *outsider_allowed)
{
    db_res_t *r = CMD_RUN(cmd, &stmt_lock, DB_I64(org));
    if (db_nrows(r) != 1)
        return USER_DB_NOT_FOUND;
    if (limit)
        *limit = db_is_null(r, 0, 0) ? -1 : (long)db_get_i64(r, 0, 0);
    if (outsider_allowed)
        *outsider_allowed = db_get_bool(r, 0, 1);
    return USER_DB_OK;
}

/* The certifier column: NULL for the root key. */
static db_val_t certifier_val(int64_t certifier)
{
    return DB_I64_IF(certifier != 0, certifier);
}

user_db_status user_db_create_user(cmd_t *cmd, int64_t org, long limit, const user_db_new_t *n)
{
    const certif_t *u = n->user, *ru = n->redacted_user, *d = n->device, *rd = n->redacted_device;
    db_res_t *r = CMD_RUN(cmd, &stmt_user_checks, DB_I64(org), DB_TEXT(u->user.user_id),
                          DB_TEXT(u->user.human_email), DB_TEXT(d->device.device_id));
    if (db_nrows(r) != 1)
        return USER_DB_OK; /* failed: the kit answers 500 */
    if (limit >= 0 && db_get_i64(r, 0, 0) >= limit)
        return USER_DB_LIMIT_REACHED;
    if (db_get_bool(r, 0, 1))
        return USER_DB_USER_EXISTS;
    if (db_get_bool(r, 0, 2))
        return USER_DB_HUMAN_EXISTS;
    if (db_get_bool(r, 0, 3))
        return USER_DB_DEVICE_EXISTS;

    r = CMD_RUN(cmd, &stmt_user_insert, DB_I64(org), DB_TEXT(u->user.user_id),
                DB_TEXT(certif_profile_name(u->user.profile)), DB_TEXT(u->user.human_email),
                DB_TEXT(u->user.human_label), DB_BYTES(u->raw, u->raw_len),
                DB_BYTES(ru->raw, ru->raw_len), certifier_val(n->certifier), DB_TS(u->timestamp),
                DB_TEXT(d->device.device_id), DB_TEXT(d->device.device_label),
                DB_BYTES(d->device.verify_key, PROTO_KEY_SIZE), DB_BYTES(d->raw, d->raw_len),
                DB_BYTES(rd->raw, rd->raw_len), certifier_val(n->certifier), DB_TS(d->timestamp));
    if (db_nrows(r) != 1 && !cmd_failed(cmd)) {
        log_error("user_db: the user insert returned no row");
        cmd_fail(cmd);
    }
    return USER_DB_OK;
}

user_db_status user_db_create_device(cmd_t *cmd, int64_t org, int64_t user__id,
                                     const user_db_new_t *n)
{
    const certif_t *d = n->device, *rd = n->redacted_device;
    db_res_t *r = CMD_RUN(cmd, &stmt_device_exists, DB_I64(org), DB_TEXT(d->device.device_id));
    if (db_nrows(r) > 0)
        return USER_DB_DEVICE_EXISTS;
    r = CMD_RUN(cmd, &stmt_device_insert, DB_I64(org), DB_I64(user__id),
                DB_TEXT(d->device.device_id), DB_TEXT(d->device.device_label),
                DB_BYTES(d->device.verify_key, PROTO_KEY_SIZE), DB_BYTES(d->raw, d->raw_len),
                DB_BYTES(rd->raw, rd->raw_len), certifier_val(n->certifier), DB_TS(d->timestamp));
    if (db_nrows(r) != 1 && !cmd_failed(cmd)) {
        log_error("user_db: the device insert returned no row");
        cmd_fail(cmd);
    }
    return USER_DB_OK;
}

const char *user_db_reason(cmd_t *cmd, user_db_status st, const user_db_new_t *n)
{
    switch (st) {
    case USER_DB_USER_EXISTS:
        return arena_printf(cmd->arena, "User `%s` already exists", n->user->user.user_id);
    case USER_DB_HUMAN_EXISTS:
        return arena_printf(cmd->arena,
                            "Human handle `%s <%s>` already corresponds to a non-revoked user",
                            n->user->user.human_label, n->user->user.human_email);
    case USER_DB_DEVICE_EXISTS:
        return arena_printf(cmd->arena, "Device `%s` already exists", n->device->device.device_id);
    case USER_DB_OK:
    case USER_DB_LIMIT_REACHED:
    case USER_DB_NOT_FOUND:
    case USER_DB_ALREADY_REVOKED:
        break;
    }
    return NULL;
}

/* ---------------------------------------------------------------------------
 * Revoking
 */

user_db_status user_db_revoke(cmd_t *cmd, int64_t org, const certif_t *rc, int64_t certifier)
{
    db_res_t *r = CMD_RUN(cmd, &stmt_revoke_lock, DB_I64(org), DB_TEXT(rc->revoked_user.user_id));
    if (db_nrows(r) == 0)
        return USER_DB_NOT_FOUND;
    if (db_get_bool(r, 0, 1))
        return USER_DB_ALREADY_REVOKED;
    CMD_RUN(cmd, &stmt_revoke, DB_I64(db_get_i64(r, 0, 0)), DB_TS(rc->timestamp),
            DB_BYTES(rc->raw, rc->raw_len), DB_I64(certifier));
    return USER_DB_OK;
}

/* ---------------------------------------------------------------------------
 * Reading
 */

static proto_bytes_t bytes_at(const db_res_t *r, size_t row, int col)
{
    proto_bytes_t b;
    b.data = db_get_bytes(r, row, col, &b.len);
    return b;
}

user_db_status user_db_get(cmd_t *cmd, int64_t org, const char *user_id, bool redacted,
                           user_db_user_t *out)
{
    memset(out, 0, sizeof *out);
    db_res_t *r = CMD_RUN(cmd, &stmt_user_get, DB_I64(org), DB_TEXT(user_id), DB_BOOL(redacted));
    size_t rows = db_nrows(r);
    if (rows == 0)
        return USER_DB_NOT_FOUND;

    /* Rows are ordered by kind: count each list, then fill it. */
    size_t count[6] = {0};
    for (size_t i = 0; i < rows; i++) {
        int64_t kind = db_get_i64(r, i, 0);
        if (kind < 0 || kind > 5 || db_is_null(r, i, 2)) {
            log_error("user_db: unexpected user_get row");
            cmd_fail(cmd);
            return USER_DB_NOT_FOUND;
        }
        count[kind]++;
    }
    user_db_certs_t *lists[6] = {NULL,
                                 NULL,
                                 &out->devices,
                                 &out->trustchain_devices,
                                 &out->trustchain_users,
                                 &out->trustchain_revoked_users};
    for (int k = 2; k < 6; k++)
        lists[k]->items =
            arena_zalloc(cmd->arena, (count[k] ? count[k] : 1) * sizeof(proto_bytes_t));
    for (size_t i = 0; i < rows; i++) {
        int64_t kind = db_get_i64(r, i, 0);
        proto_bytes_t b = bytes_at(r, i, 2);
        if (kind == 0)
            out->user_certificate = b;
        else if (kind == 1)
            out->revoked_user_certificate = b;
        else
            lists[kind]->items[lists[kind]->n++] = b;
    }
    return USER_DB_OK;
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' || ch == '\f' || ch == '\r';
}

char *user_db_like_pattern(arena_t *a, const char *query)
{
    if (!query || !*query)
        return NULL;
    /* "%" then each word followed by "%": at most 2 bytes per query byte
     * (escapes) plus the leading "%" and the NUL. */
    size_t len = strlen(query);
    char *p = arena_alloc(a, 2 * len + 2);
    size_t o = 0;
    p[o++] = '%';
    const char *s = query;
    for (;;) {
        while (*s && is_space(*s))
            s++;
        if (!*s)
            break;
        while (*s && !is_space(*s)) {
            if (*s == '%' || *s == '_' || *s == '\\')
                p[o++] = '\\';
            p[o++] = *s++;
        }
        p[o++] = '%';
    }
    p[o] = '\0';
    return p;
}

void user_db_find(cmd_t *cmd, int64_t org, const user_db_find_t *q, int64_t *total,
                  user_db_found_t **found, size_t *n)
{
    db_res_t *r =
        CMD_RUN(cmd, &stmt_find, DB_I64(org), DB_BOOL(q->omit_revoked), DB_BOOL(q->omit_non_human),
                DB_TEXT(user_db_like_pattern(cmd->arena, q->query)), DB_I64(q->per_page),
                DB_I64((q->page - 1) * q->per_page));
    size_t rows = db_nrows(r);
    *total = rows ? db_get_i64(r, 0, 0) : 0;
    user_db_found_t *items = arena_zalloc(cmd->arena, (rows ? rows : 1) * sizeof *items);
    size_t k = 0;
    for (size_t i = 0; i < rows; i++) {
        if (db_is_null(r, i, 1))
            continue; /* the empty page's row */
        items[k].user_id = db_get_str(r, i, 1);
        items[k].human_email = db_get_str(r, i, 2);
        items[k].human_label = db_get_str(r, i, 3);
        items[k].revoked = db_get_bool(r, i, 4);
        k++;
    }
    *found = items;
    *n = k;
}
