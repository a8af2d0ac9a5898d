/*
 * fcgi-api/rpc/rpc_internal.h - what the RPC's two codecs share: the
 * checks before a command and the running of its table line (rpc.c), used
 * by the JSON routes (rpc.c) and the binary block routes (rpc_block.c)
 *
 * Ownership: an rpc_req_t lives on the serving thread's stack for one
 * request; what it points to lives in the request's arena.
 */
#ifndef PARSEC_RPC_INTERNAL_H
#define PARSEC_RPC_INTERNAL_H

#include "auth/auth.h"
#include "cmd/cmd.h"
#include "http/http.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

/* Everything one RPC request carries from check to check. */
typedef struct {
    http_req_t *r;
    auth_route route;
    int64_t now_us;
    auth_identity_t who;
    /* the JSON envelope, decoded once (step 3 may need it before step 7) */
    bool decoded;
    proto_req_status envelope;
    const char *envelope_why;
    proto_in_t *in;
    const char *cmd;
} rpc_req_t;

/*
 * rpc_begin - the checks of docs/protocol.md 1.2 up to the credentials
 * (API version, organization, expiry, content type, credentials, expiry
 * and revocation) for route on r, with content_type_ok judging the
 * Content-Type header (NULL: not looked at, for a GET).  True with q
 * filled when the command may be looked at; false once answered.
 */
bool rpc_begin(http_req_t *r, auth_route route, bool (*content_type_ok)(const char *), rpc_req_t *q)
    __attribute__((warn_unused_result));

/*
 * rpc_execute - def's who check, then cmd_execute() for q's caller with
 * the fields of in and the raw bytes raw (NULL: the JSON form).  The reply
 * (the caller owns it), or NULL when answered already (not_allowed, 500).
 */
json_object *rpc_execute(rpc_req_t *q, const cmd_def_t *def, proto_in_t *in, cmd_raw_t *raw);

/* rpc_respond_reply - HTTP 200 with reply (consumed) as JSON. */
void rpc_respond_reply(http_req_t *r, json_object *reply);

/* The binary block routes (rpc_block.c), in rpc.c's table. */
void rpc_block_create(http_req_t *r);
void rpc_block_read(http_req_t *r);

#endif
