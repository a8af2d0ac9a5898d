/*
 * notifyd/router.h - who receives what: the organization index and
 * Parsec 2.12's delivery rules (docs/events.md, "Who receives what")
 *
 * Sessions are indexed by the organization they claimed as soon as their
 * handshake answer arrives (so revocation and expiry reach a handshake in
 * progress too); only READY sessions receive events.
 *
 * Ownership: the router owns its organization entries; sessions are lws's
 * and only linked here.  Thread: the lws service thread.
 */
#ifndef PARSEC_ND_ROUTER_H
#define PARSEC_ND_ROUTER_H

#include "nd.h"
#include "session.h"

/* One organization with connections (internal to router.c). */
typedef struct nd_org nd_org_t;

nd_router_t *nd_router_new(void);
/* nd_router_free - every session must have left.  NULL is a no-op. */
void nd_router_free(nd_router_t *r);

/* nd_router_join - index s under s->org_id (s->org must be NULL). */
void nd_router_join(nd_router_t *r, nd_session_t *s);
/* nd_router_leave - remove s from the index; no-op if not in it. */
void nd_router_leave(nd_router_t *r, nd_session_t *s);

/*
 * nd_router_dispatch - one NOTIFY payload (common/event.h): decode it
 * strictly, then deliver it to, or act on, the entitled sessions.  A payload
 * that does not decode is logged and dropped (a producer bug, never a
 * client's input).
 */
void nd_router_dispatch(nd_t *nd, const char *payload);

/* nd_router_org_count - organizations with at least one connection. */
size_t nd_router_org_count(const nd_router_t *r);

#endif
