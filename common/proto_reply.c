/*
 * common/proto_reply.c - replies and JSON values of the mapping (see proto.h)
 */
#include "proto_internal.h"

#include "crypto.h"

#include <stdlib.h>
#include <string.h>

/* ---- replies ----------------------------------------------------------------------- */

json_object *proto_reply(const char *status)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string(status));
    return o;
}

json_object *proto_reply_reason(const char *status, const char *reason)
{
    json_object *o = proto_reply(status);
    json_object_object_add(o, "reason", proto_json_str_or_null(reason));
    return o;
}

json_object *proto_reply_bad_message(const proto_in_t *in)
{
    const char *reason = proto_in_reason(in);
    json_object *o = proto_reply_reason("bad_message", reason ? reason : "bad message");
    json_object_object_add(o, "field", proto_json_str_or_null(proto_in_field(in)));
    return o;
}

json_object *proto_reply_invalid_msg_format(const char *why)
{
    return proto_reply_reason("invalid_msg_format", why ? why : "Invalid message format");
}

json_object *proto_reply_unknown_command(void)
{
    return proto_reply_reason("unknown_command", "Unknown command");
}

json_object *proto_reply_bad_timestamp(int64_t server_now_us, int64_t client_us, const char *reason)
{
    json_object *o = proto_reply_reason("bad_timestamp", reason);
    json_object_object_add(o, "ballpark_client_early_offset",
                           json_object_new_double(PROTO_BALLPARK_CLIENT_EARLY_OFFSET_US / 1e6));
    json_object_object_add(o, "ballpark_client_late_offset",
                           json_object_new_double(PROTO_BALLPARK_CLIENT_LATE_OFFSET_US / 1e6));
    json_object_object_add(o, "backend_timestamp", proto_json_datetime(server_now_us));
    json_object_object_add(o, "client_timestamp", proto_json_datetime(client_us));
    return o;
}

/* Base64 needs no JSON escape but for '/' (written "\/" unless the caller
 * asked for none): written as it is, rather than through json-c's escaper,
 * which looks at every byte and costs as much as the rest of a 512 KiB
 * block_read. */
static int b64_to_json(json_object *o, struct printbuf *pb, int level, int flags)
{
    (void)level;
    const char *s = json_object_get_string(o);
    size_t n = (size_t)json_object_get_string_len(o);
    printbuf_memappend(pb, "\"", 1);
    while (n > 0) {
        const char *slash = (flags & JSON_C_TO_STRING_NOSLASHESCAPE) ? NULL : memchr(s, '/', n);
        size_t run = slash ? (size_t)(slash - s) : n;
        printbuf_memappend(pb, s, (int)run);
        s += run;
        n -= run;
        if (slash) {
            printbuf_memappend(pb, "\\/", 2);
            s++;
            n--;
        }
    }
    printbuf_memappend(pb, "\"", 1);
    return 0;
}

json_object *proto_json_bytes(const void *data, size_t len)
{
    char *s = crypto_b64_encode(data, len);
    json_object *o = json_object_new_string(s);
    free(s);
    json_object_set_serializer(o, b64_to_json, NULL, NULL);
    return o;
}

json_object *proto_json_datetime(int64_t us)
{
    char buf[PROTO_DATETIME_LEN + 1];
    proto_datetime_format(us, buf);
    return json_object_new_string(buf);
}

json_object *proto_json_uuid(const uint8_t bytes[16])
{
    char *s = crypto_hex_encode(bytes, 16);
    json_object *o = json_object_new_string(s);
    free(s);
    return o;
}

json_object *proto_json_str_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

json_object *proto_json_human_handle(const char *email, const char *label)
{
    if (!email)
        return NULL;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "email", json_object_new_string(email));
    json_object_object_add(o, "label", json_object_new_string(label ? label : ""));
    return o;
}
