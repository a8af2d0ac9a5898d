/*
 * fcgi-api/cmd/invite_db.c - the SQL of invitations (see invite_db.h)
 */
#include "invite_db.h"

#include "log.h"

#include <string.h>

DB_STMT(stmt_lock_greeter, "invite_db_lock_greeter", 1,
        "SELECT 1 FROM user_ WHERE _id = $1::bigint FOR NO KEY UPDATE");

/* $1 organization, $2 greeter, $3 email (NULL: a DEVICE invitation).  A
 * greeter's pending invitations are at most INVITE_DB_PENDING_MAX, read
 * through invitation_pending. */
DB_STMT(stmt_new_checks, "invite_db_new_checks", 3,
        "SELECT"
        "  $3::text IS NOT NULL AND EXISTS (SELECT 1 FROM user_ WHERE organization = $1::bigint"
        "      AND human_email = $3::text AND revoked_on IS NULL),"
        "  (SELECT token FROM invitation WHERE greeter = $2::bigint AND deleted_on IS NULL"
        "      AND CASE WHEN $3::text IS NULL THEN type = 'DEVICE'"
        "          ELSE type = 'USER' AND claimer_email = $3::text END"
        "   ORDER BY created_on, _id LIMIT 1),"
        "  (SELECT count(*) FROM invitation WHERE greeter = $2::bigint AND deleted_on IS NULL)");

/* $1 organization, $2 token, $3 greeter, $4 email or NULL, $5 created_on. */
DB_STMT(stmt_insert, "invite_db_insert", 5,
        "INSERT INTO invitation (organization, token, type, greeter, claimer_email, created_on)"
        " VALUES ($1::bigint, $2::uuid, CASE WHEN $4::text IS NULL THEN 'DEVICE' ELSE 'USER' END,"
        "     $3::bigint, $4::text, $5::timestamptz)");

/* $1 greeter, $2 the instant before which a claimer request no longer makes
 * an invitation READY. */
DB_STMT(stmt_list, "invite_db_list", 2,
        "SELECT type = 'USER', token, created_on, claimer_email,"
        "    coalesce(claimer_ready_on > $2::timestamptz, false)"
        " FROM invitation WHERE greeter = $1::bigint AND deleted_on IS NULL"
        " ORDER BY created_on, _id");

/* The target locked, then deleted when it is not already: no row: not
 * found; true: already deleted.  $1 organization, $2 greeter, $3 token, $4
 * reason, $5 now. */
DB_STMT(stmt_delete, "invite_db_delete", 5,
        "WITH target AS ("
        "  SELECT _id, deleted_on IS NOT NULL AS deleted FROM invitation"
        "  WHERE organization = $1::bigint AND token = $3::uuid AND greeter = $2::bigint"
        "  FOR UPDATE),"
        " done AS ("
        "  UPDATE invitation i SET deleted_on = $5::timestamptz, deleted_reason = $4::text"
        "  FROM target t WHERE i._id = t._id AND NOT t.deleted RETURNING i._id)"
        " SELECT t.deleted, (SELECT count(*) FROM done) FROM target t");

/* The conduit columns, in the order read_conduit() reads them. */
#define CONDUIT_COLUMNS                                                                            \
    "conduit_state, conduit_greeter_payload, conduit_claimer_payload, conduit_prev_state,"         \
    " conduit_prev_greeter_payload, conduit_prev_claimer_payload, conduit_claimer_fetched"
#define CONDUIT_COLUMNS_OF_I                                                                       \
    "i.conduit_state, i.conduit_greeter_payload, i.conduit_claimer_payload,"                       \
    " i.conduit_prev_state, i.conduit_prev_greeter_payload, i.conduit_prev_claimer_payload,"       \
    " i.conduit_claimer_fetched"

/* $1 organization, $2 greeter, $3 token. */
DB_STMT(stmt_greeter_load, "invite_db_greeter_load", 3,
        "SELECT _id, deleted_on IS NOT NULL, " CONDUIT_COLUMNS " FROM invitation"
        " WHERE organization = $1::bigint AND token = $3::uuid AND greeter = $2::bigint"
        " FOR UPDATE");

/* Presence, lock and conduit in one statement: the subquery locks the row
 * and reads the claimer's previous request time before the UPDATE replaces
 * it.  $1 invitation, $2 now, $3 the READY threshold (now - 60 s). */
DB_STMT(stmt_claimer_load, "invite_db_claimer_load", 3,
        "UPDATE invitation i SET claimer_ready_on = $2::timestamptz"
        " FROM (SELECT _id, claimer_ready_on FROM invitation WHERE _id = $1::bigint FOR UPDATE)"
        "     AS old"
        " WHERE i._id = old._id"
        " RETURNING coalesce(old.claimer_ready_on <= $3::timestamptz, true),"
        "     i.deleted_on IS NOT NULL, " CONDUIT_COLUMNS_OF_I);

/* The same presence record, with what invite_info answers. */
DB_STMT(stmt_info, "invite_db_info", 3,
        "UPDATE invitation i SET claimer_ready_on = $2::timestamptz"
        " FROM (SELECT _id, claimer_ready_on FROM invitation WHERE _id = $1::bigint FOR UPDATE)"
        "     AS old, user_ g"
        " WHERE i._id = old._id AND g._id = i.greeter"
        " RETURNING coalesce(old.claimer_ready_on <= $3::timestamptz, true),"
        "     i.type = 'USER', i.claimer_email, g.user_id,"
        "     CASE WHEN g.revoked_on IS NULL THEN g.human_email END,"
        "     CASE WHEN g.revoked_on IS NULL THEN g.human_label END");

/* $1 invitation, then the conduit columns. */
DB_STMT(stmt_store, "invite_db_conduit_store", 8,
        "UPDATE invitation SET conduit_state = $2::text, conduit_greeter_payload = $3::bytea,"
        "    conduit_claimer_payload = $4::bytea, conduit_prev_state = $5::text,"
        "    conduit_prev_greeter_payload = $6::bytea, conduit_prev_claimer_payload = $7::bytea,"
        "    conduit_claimer_fetched = $8::boolean"
        " WHERE _id = $1::bigint");

void invite_db_lock_greeter(cmd_t *cmd, int64_t greeter)
{
    (void)CMD_RUN(cmd, &stmt_lock_greeter, DB_I64(greeter));
}

void invite_db_new_checks(cmd_t *cmd, int64_t org, int64_t greeter, const char *email,
                          invite_db_checks_t *out)
{
    memset(out, 0, sizeof *out);
    db_res_t *r = CMD_RUN(cmd, &stmt_new_checks, DB_I64(org), DB_I64(greeter), DB_TEXT(email));
    if (db_nrows(r) != 1)
        return;
    out->member = db_get_bool(r, 0, 0);
    out->has_pending = db_get_uuid(r, 0, 1, out->pending);
    out->pending_count = db_get_i64(r, 0, 2);
}

void invite_db_insert(cmd_t *cmd, int64_t org, int64_t greeter, const uint8_t token[16],
                      const char *email, int64_t now_us)
{
    (void)CMD_RUN(cmd, &stmt_insert, DB_I64(org), DB_UUID(token), DB_I64(greeter), DB_TEXT(email),
                  DB_TS(now_us));
}

void invite_db_list(cmd_t *cmd, int64_t greeter, int64_t now_us, invite_db_item_t **items,
                    size_t *n)
{
    db_res_t *r = CMD_RUN(cmd, &stmt_list, DB_I64(greeter), DB_TS(now_us - INVITE_DB_READY_US));
    *n = db_nrows(r);
    *items = arena_zalloc(cmd->arena, (*n ? *n : 1) * sizeof **items);
    for (size_t i = 0; i < *n; i++) {
        invite_db_item_t *it = &(*items)[i];
        it->is_user = db_get_bool(r, i, 0);
        (void)db_get_uuid(r, i, 1, it->token);
        it->created_on = db_get_ts(r, i, 2);
        it->claimer_email = db_get_str(r, i, 3);
        it->ready = db_get_bool(r, i, 4);
    }
}

invite_db_status invite_db_delete(cmd_t *cmd, int64_t org, int64_t greeter, const uint8_t token[16],
                                  const char *reason, int64_t now_us)
{
    db_res_t *r = CMD_RUN(cmd, &stmt_delete, DB_I64(org), DB_I64(greeter), DB_UUID(token),
                          DB_TEXT(reason), DB_TS(now_us));
    if (db_nrows(r) != 1)
        return INVITE_DB_NOT_FOUND;
    return db_get_bool(r, 0, 0) ? INVITE_DB_DELETED : INVITE_DB_OK;
}

/* A payload column: NULL stays "nothing said". */
static invite_payload_t payload_at(const db_res_t *r, int col)
{
    invite_payload_t p;
    p.data = db_get_bytes(r, 0, col, &p.len);
    return p;
}

/* The seven conduit columns from col on (CONDUIT_COLUMNS). */
static bool read_conduit(cmd_t *cmd, const db_res_t *r, int col, invite_conduit_t *c)
{
    invite_conduit_reset(c);
    const char *state = db_get_str(r, 0, col);
    const char *prev = db_get_str(r, 0, col + 3);
    if (cmd_failed(cmd))
        return false;
    if (!invite_conduit_state_from_name(state, &c->state) ||
        (prev && !invite_conduit_state_from_name(prev, &c->prev_state))) {
        log_error("invitation conduit in an unknown state");
        cmd_fail(cmd);
        return false;
    }
    c->has_prev = prev != NULL;
    c->said[INVITE_GREETER] = payload_at(r, col + 1);
    c->said[INVITE_CLAIMER] = payload_at(r, col + 2);
    c->prev[INVITE_GREETER] = payload_at(r, col + 4);
    c->prev[INVITE_CLAIMER] = payload_at(r, col + 5);
    c->claimer_fetched = db_get_bool(r, 0, col + 6);
    return !cmd_failed(cmd);
}

/* The row of a load: column 1 "deleted", the conduit from column 2. */
static invite_db_status load_row(cmd_t *cmd, const db_res_t *r, invite_conduit_t *c)
{
    if (db_nrows(r) != 1)
        return INVITE_DB_NOT_FOUND;
    if (db_get_bool(r, 0, 1))
        return INVITE_DB_DELETED;
    (void)read_conduit(cmd, r, 2, c);
    return INVITE_DB_OK;
}

invite_db_status invite_db_greeter_load(cmd_t *cmd, int64_t org, int64_t greeter,
                                        const uint8_t token[16], int64_t *inv_id,
                                        invite_conduit_t *c)
{
    db_res_t *r = CMD_RUN(cmd, &stmt_greeter_load, DB_I64(org), DB_I64(greeter), DB_UUID(token));
    invite_db_status st = load_row(cmd, r, c);
    *inv_id = st == INVITE_DB_NOT_FOUND ? 0 : db_get_i64(r, 0, 0);
    return st;
}

invite_db_status invite_db_claimer_load(cmd_t *cmd, int64_t inv_id, int64_t now_us, bool *was_idle,
                                        invite_conduit_t *c)
{
    db_res_t *r = CMD_RUN(cmd, &stmt_claimer_load, DB_I64(inv_id), DB_TS(now_us),
                          DB_TS(now_us - INVITE_DB_READY_US));
    invite_db_status st = load_row(cmd, r, c);
    *was_idle = st != INVITE_DB_NOT_FOUND && db_get_bool(r, 0, 0);
    return st;
}

/* SQL NULL for nothing said (DB_BYTES of a NULL pointer). */
#define DB_PAYLOAD(p) DB_BYTES((p).data, (p).len)

void invite_db_conduit_store(cmd_t *cmd, int64_t inv_id, const invite_conduit_t *c)
{
    static const invite_payload_t none = {NULL, 0};
    bool p = c->has_prev;
    (void)CMD_RUN(cmd, &stmt_store, DB_I64(inv_id), DB_TEXT(invite_conduit_state_name(c->state)),
                  DB_PAYLOAD(c->said[INVITE_GREETER]), DB_PAYLOAD(c->said[INVITE_CLAIMER]),
                  DB_TEXT(p ? invite_conduit_state_name(c->prev_state) : NULL),
                  DB_PAYLOAD(p ? c->prev[INVITE_GREETER] : none),
                  DB_PAYLOAD(p ? c->prev[INVITE_CLAIMER] : none), DB_BOOL(c->claimer_fetched));
}

bool invite_db_info(cmd_t *cmd, int64_t inv_id, int64_t now_us, bool *was_idle,
                    invite_db_info_t *out)
{
    memset(out, 0, sizeof *out);
    db_res_t *r =
        CMD_RUN(cmd, &stmt_info, DB_I64(inv_id), DB_TS(now_us), DB_TS(now_us - INVITE_DB_READY_US));
    *was_idle = false;
    if (db_nrows(r) != 1)
        return false;
    *was_idle = db_get_bool(r, 0, 0);
    out->is_user = db_get_bool(r, 0, 1);
    out->claimer_email = db_get_str(r, 0, 2);
    out->greeter_user_id = db_get_str(r, 0, 3);
    out->greeter_email = db_get_str(r, 0, 4);
    out->greeter_label = db_get_str(r, 0, 5);
    return !cmd_failed(cmd);
}
