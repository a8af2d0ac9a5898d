/*
 * fcgi-api/cmd/message.c - message_get
 *
 * docs/protocol.md (section 6.3) is the contract; section 8 of
 * parsec-2.12-behaviour.md the behaviour followed.  Messages are delivered
 * by the realm commands (realm.c); their SQL is message_db.c; the tests
 * are tests/integration/test_cmd_message.c.
 */
#include "cmd.h"
#include "message_db.h"

#include <stdint.h>

#define OFFSET_MAX INT64_C(2147483647)

static cmd_result message_get(cmd_t *cmd)
{
    int64_t offset;
    proto_int(cmd->in, "offset", 0, OFFSET_MAX, &offset);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);

    message_db_msg_t *msgs;
    size_t n;
    message_db_get(cmd, cmd->who->user._id, offset, &msgs, &n);
    json_object *list = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_new_object();
        json_object_object_add(m, "count", json_object_new_int64(msgs[i].index));
        json_object_object_add(m, "sender", json_object_new_string(msgs[i].sender));
        json_object_object_add(m, "timestamp", proto_json_datetime(msgs[i].timestamp));
        json_object_object_add(m, "body", proto_json_bytes(msgs[i].body.data, msgs[i].body.len));
        json_object_array_add(list, m);
    }
    json_object *reply = proto_reply("ok");
    json_object_object_add(reply, "messages", list);
    return cmd_ok(cmd, reply);
}

const cmd_def_t cmd_family_message[] = {
    {"message_get", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_ONE_STATEMENT, message_get},
    {0},
};
