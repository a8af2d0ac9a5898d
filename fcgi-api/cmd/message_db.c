/*
 * fcgi-api/cmd/message_db.c - the SQL of messages (see message_db.h)
 */
#include "message_db.h"

#include <json-c/json.h>

/*
 * Deliver a batch: $1 organization, $2 the messages as a JSON array of
 * {"u": user id, "b": body in base64} (a statement takes no array of
 * bytea here; PostgreSQL decodes the base64 itself), $3 sender device,
 * $4 timestamp.  The counter rows are taken one per recipient (a map has
 * each user once), then each message gets its recipient's new number.
 * Rows come back in the order of the array.
 */
DB_STMT(stmt_deliver, "message_db_deliver", 4,
        "WITH m AS ("
        "  SELECT u._id AS recipient, u.user_id, decode(e.v->>'b', 'base64') AS body, e.ord"
        "  FROM json_array_elements($2::json) WITH ORDINALITY AS e (v, ord)"
        "  JOIN user_ u ON u.organization = $1::bigint AND u.user_id = e.v->>'u'),"
        " c AS ("
        "  INSERT INTO message_recipient AS c (recipient, last_index)"
        "  SELECT recipient, 1 FROM m"
        "  ON CONFLICT (recipient) DO UPDATE SET last_index = c.last_index + 1"
        "  RETURNING recipient, last_index),"
        " i AS ("
        "  INSERT INTO message (organization, recipient, index, sender, created_on, body)"
        "  SELECT $1::bigint, m.recipient, c.last_index, $3::bigint, $4::timestamptz, m.body"
        "  FROM m JOIN c ON c.recipient = m.recipient"
        "  RETURNING recipient, index)"
        " SELECT m.user_id, i.index FROM m JOIN i ON i.recipient = m.recipient ORDER BY m.ord");

/* $1 recipient user_._id, $2 offset ("(SELECT $2)": planned once, not at
 * each call; vlob_db.c's poll says why). */
DB_STMT(stmt_get, "message_db_get", 2,
        "SELECT m.index, d.device_id, m.created_on, m.body"
        " FROM message m JOIN device d ON d._id = m.sender"
        " WHERE m.recipient = $1::bigint AND m.index > (SELECT $2::bigint) ORDER BY m.index");

size_t message_db_deliver(cmd_t *cmd, int64_t org, int64_t sender__id, int64_t timestamp,
                          const message_db_new_t *msgs, size_t n, message_db_sent_t **sent)
{
    json_object *a = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "u", json_object_new_string(msgs[i].user_id));
        json_object_object_add(o, "b", proto_json_bytes(msgs[i].body.data, msgs[i].body.len));
        json_object_array_add(a, o);
    }
    const char *text = cmd_json_param(cmd, a);
    db_res_t *r = CMD_RUN(cmd, &stmt_deliver, DB_I64(org), DB_TEXT(text), DB_I64(sender__id),
                          DB_TS(timestamp));
    size_t rows = db_nrows(r);
    message_db_sent_t *out = arena_zalloc(cmd->arena, (rows ? rows : 1) * sizeof *out);
    for (size_t i = 0; i < rows; i++) {
        out[i].user_id = db_get_str(r, i, 0);
        out[i].index = db_get_i64(r, i, 1);
    }
    *sent = out;
    return rows;
}

void message_db_get(cmd_t *cmd, int64_t user__id, int64_t offset, message_db_msg_t **msgs,
                    size_t *n)
{
    db_res_t *r = CMD_RUN(cmd, &stmt_get, DB_I64(user__id), DB_I64(offset));
    size_t rows = db_nrows(r);
    message_db_msg_t *out = arena_zalloc(cmd->arena, (rows ? rows : 1) * sizeof *out);
    for (size_t i = 0; i < rows; i++) {
        out[i].index = db_get_i64(r, i, 0);
        out[i].sender = db_get_str(r, i, 1);
        out[i].timestamp = db_get_ts(r, i, 2);
        out[i].body.data = db_get_bytes(r, i, 3, &out[i].body.len);
    }
    *msgs = out;
    *n = rows;
}
