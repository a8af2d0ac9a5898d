/*
 * fcgi-api/rpc/rpc_block.c - block_create and block_read with raw bodies
 * (docs/protocol.md, "Blocks as binary bodies")
 *
 *     POST /authenticated/<org>/block/<block_id>?realm_id=<RealmID>
 *          Content-Type: application/octet-stream; the body is the block
 *     GET  /authenticated/<org>/block/<block_id>
 *          200 Content-Type: application/octet-stream; the body is the block
 *
 * The same checks as the JSON route, in the same order (rpc_begin), and
 * the same handler core (cmd/block.c); only the codec differs.  The
 * fields come from the path and the query, through a reader like the JSON
 * form's, so a bad or missing one is the same bad_message; the bytes
 * travel raw in cmd_raw_t.  A refusal is the JSON reply with its status,
 * so a client tells a block from a refusal by the Content-Type.
 *
 * Copies of a block in the worker: libfcgi's buffers into the request's
 * one body buffer (front.c), then straight to the store; on a read, the
 * store's answer into one arena buffer, which the front writes as it is.
 * No base64, no JSON text of the block.
 */
#include "rpc_internal.h"

#include <string.h>
#include <strings.h>

/* Longest query parameter name taken. */
#define RAW_NAME_MAX 64

/* application/octet-stream, in any case, spaces around it, no parameter. */
static bool octet_stream_ok(const char *header)
{
    static const char type[] = "application/octet-stream";
    if (!header)
        return false;
    header += strspn(header, " \t");
    if (strncasecmp(header, type, sizeof type - 1) != 0)
        return false;
    header += sizeof type - 1;
    return header[strspn(header, " \t")] == '\0';
}

static void put_json(void *obj)
{
    json_object_put(obj);
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/*
 * The request's fields as a reader: "block_id" from the path, then each
 * query parameter name=value as a string field, so that the command reads
 * (and refuses) them as it reads the JSON form's: a missing or malformed
 * realm_id, or a parameter it does not know, is the same bad_message.  A
 * query that is not name=value pairs of printable ASCII, or names one
 * field twice, is bad_message on the field "query".  Values are taken as
 * they are (no percent-decoding: no field of these commands needs it).
 */
static proto_in_t *raw_fields(http_req_t *r, const char *block_id)
{
    json_object *obj = json_object_new_object();
    arena_defer(r->arena, put_json, obj);
    proto_in_t *in = proto_in_new(r->arena, obj, NULL);
    json_object_object_add(obj, "block_id", json_object_new_string(block_id));
    for (const char *q = r->query; *q;) {
        size_t n = strcspn(q, "&");
        const char *eq = memchr(q, '=', n);
        size_t name_len = eq ? (size_t)(eq - q) : 0;
        bool ok = name_len > 0 && name_len <= RAW_NAME_MAX;
        for (size_t i = 0; ok && i < n; i++)
            ok = q[i] > ' ' && q[i] < 0x7f && (i >= name_len || name_char(q[i]));
        const char *name = ok ? arena_strndup(r->arena, q, name_len) : NULL;
        if (!ok || json_object_object_get_ex(obj, name, NULL)) {
            proto_in_fail(in, "query", ok ? "names a field twice" : "expected name=value pairs");
            break;
        }
        json_object_object_add(obj, name,
                               json_object_new_string_len(eq + 1, (int)(n - name_len - 1)));
        q += n;
        if (*q == '&')
            q++;
    }
    return in;
}

void rpc_block_create(http_req_t *r)
{
    rpc_req_t q;
    if (!rpc_begin(r, AUTH_AUTHENTICATED, octet_stream_ok, &q))
        return;
    cmd_raw_t raw = {r->body, r->body_len};
    json_object *reply = rpc_execute(&q, &cmd_block_create_raw, raw_fields(r, r->params[1]), &raw);
    if (reply)
        rpc_respond_reply(r, reply);
}

void rpc_block_read(http_req_t *r)
{
    rpc_req_t q;
    /* a GET has no body, hence no Content-Type to judge */
    if (!rpc_begin(r, AUTH_AUTHENTICATED, NULL, &q))
        return;
    proto_in_t *in = raw_fields(r, r->params[1]);
    if (r->body_len > 0)
        proto_in_fail(in, "body", "block_read takes no body");
    cmd_raw_t raw = {NULL, 0};
    json_object *reply = rpc_execute(&q, &cmd_block_read_raw, in, &raw);
    if (!reply)
        return;
    const char *status = json_object_get_string(json_object_object_get(reply, "status"));
    if (raw.data && status && strcmp(status, "ok") == 0) {
        json_object_put(reply);
        /* the arena buffer the store filled, written as it is */
        http_respond_arena(r, 200, "application/octet-stream", raw.data, raw.len);
        return;
    }
    rpc_respond_reply(r, reply);
}
