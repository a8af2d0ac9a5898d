/*
 * notifyd/resolve.h - the database's host names, resolved off the loop
 *
 * libpq resolves host names synchronously, inside PQconnectStartParams()
 * and PQconnectPoll(): a reconnection from the lws loop would freeze every
 * websocket for as long as DNS takes, during the very outage it recovers
 * from.  So before a reconnection, notifyd resolves the URL's host names on
 * a thread of its own and hands libpq the addresses as `hostaddr`, keeping
 * `host` (libpq still uses it for TLS verification, .pgpass and messages):
 * with a `hostaddr` libpq does no DNS.  A host name that resolves to
 * several addresses becomes that many entries, tried in order, as libpq
 * would have tried them.  Unix-socket directories, IP literals and a URL
 * that already gives `hostaddr` need nothing.
 *
 * The thread wakes the loop with lws_cancel_service() (the one lws call
 * safe from another thread); the loop then sees
 * LWS_CALLBACK_EVENT_WAIT_CANCELLED and collects the result.
 *
 * Ownership: the job is shared by its owner and its thread; whichever lets
 * go last frees it, so an owner may drop a job whose thread is still in
 * getaddrinfo() (a deadline, shutdown) without waiting for it.
 *
 * Thread: nd_resolve_* run on the lws service thread; the job's own thread
 * touches only the job (under its mutex) and lws_cancel_service().
 */
#ifndef PARSEC_ND_RESOLVE_H
#define PARSEC_ND_RESOLVE_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct nd_resolve nd_resolve_t;

/*
 * nd_resolve_start - begin resolving the host names of url (a libpq
 * connection string or URL; PGHOST, PGHOSTADDR and PGPORT stand in for
 * what it leaves out, as libpq does).  NULL with err "" when nothing needs
 * resolving (connect with the URL alone); NULL with a message in err when
 * the URL cannot be read or no thread can be started.
 */
nd_resolve_t *nd_resolve_start(const char *url, struct lws_context *ctx, char *err, size_t errlen);

/* nd_resolve_done - has the thread finished? */
bool nd_resolve_done(nd_resolve_t *r);

/*
 * nd_resolve_params - once done: the values to force after the URL
 * (PQconnectStartParams keywords "host", "hostaddr", "port": comma-separated
 * lists of equal length, borrowed from r).  False with the reason in err
 * when no host could be resolved.
 */
bool nd_resolve_params(nd_resolve_t *r, const char **host, const char **hostaddr, const char **port,
                       char *err, size_t errlen);

/* nd_resolve_drop - the owner lets go (done or not).  NULL is a no-op. */
void nd_resolve_drop(nd_resolve_t *r);

#endif
