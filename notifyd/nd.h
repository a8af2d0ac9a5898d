/*
 * notifyd/nd.h - the daemon's process state, shared by its modules
 *
 * One nd_t per process, created by main, living as long as the lws context
 * (it is the context's user pointer: lws_context_user()).  Only the service
 * thread touches it.
 */
#ifndef PARSEC_ND_H
#define PARSEC_ND_H

#include "arena.h"
#include "cfg.h"
#include "pgconn.h"

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

/* Names of the raw protocols on the vhost, which lws looks up by name when
 * a descriptor is adopted.  The websocket protocol is the vhost's default
 * (index 0), so clients need not send Sec-WebSocket-Protocol; its name is
 * upgrade.h's business and may hold, for a moment, any single name a
 * client offered.  These contain a '/', which splits names in an offered
 * list, so no client's offer can ever make that name equal to one of
 * them. */
#define ND_PG_PROTOCOL  "notifyd/postgresql"
#define ND_SIG_PROTOCOL "notifyd/signals"

typedef struct nd_router nd_router_t;

typedef struct nd {
    const cfg_t *cfg;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    nd_pg_t *pg;
    nd_router_t *router;
    /* Scratch memory for one parse (a handshake answer, a notification),
     * reset right after: nothing in it outlives the callback. */
    arena_t *scratch;
    /* Every established websocket (nd_session_t.all). */
    lws_dll2_owner_t sessions;
    uint64_t next_session_id;
    bool stopping;                   /* SIGTERM/SIGINT seen: closing connections */
    bool done;                       /* leave the service loop */
    lws_sorted_usec_list_t sul_stop; /* shutdown deadline */
} nd_t;

/* nd_of - the nd_t of any wsi of our context. */
static inline nd_t *nd_of(struct lws *wsi)
{
    return (nd_t *)lws_context_user(lws_get_context(wsi));
}

#endif
