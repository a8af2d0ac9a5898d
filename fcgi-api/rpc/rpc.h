/*
 * fcgi-api/rpc/rpc.h - the command RPC routes: the pre-command checks and
 * the dispatcher
 *
 *     POST /anonymous/<org>      organization_bootstrap, ping, pki_enrollment_submit/_info
 *     POST /invited/<org>        Invitation-Token header; invite_info, invite_*_claimer_*, ping
 *     POST /authenticated/<org>  Authorization: PARSEC-SIGN-ED25519 <token>; everything else
 *     POST /authenticated/<org>/block/<block_id>?realm_id=<id>   block_create, raw body
 *     GET  /authenticated/<org>/block/<block_id>                 block_read, raw answer
 *                                (rpc_block.c; the same checks, the same handlers)
 *
 * The dispatcher (rpc.c) runs every check that precedes a command in the
 * order of docs/protocol.md section 1.2, then finds the command in the
 * tables of the command layer (fcgi-api/cmd/cmd.h: cmd_find), checks who may
 * call it, and runs it with cmd_execute().  Commands themselves know
 * nothing of HTTP; this is the only file that turns their replies into
 * HTTP answers.
 */
#ifndef PARSEC_RPC_H
#define PARSEC_RPC_H

#include "http/http.h"

/* The routes (front/routes.c matches them). */
extern const http_route_t rpc_routes[];

/* rpc_api_version_header - set the Api-Version header every answer of an
 * RPC path carries, including the front's own 405 and 413 (the routes'
 * on_refusal hook). */
void rpc_api_version_header(http_req_t *r);

#endif
