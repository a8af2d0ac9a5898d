/*
 * notifyd/server.h - the lws context, its vhost, signals, the service loop
 *
 * Thread: the lws service thread (which is main's thread).
 */
#ifndef PARSEC_ND_SERVER_H
#define PARSEC_ND_SERVER_H

#include "nd.h"

#include <stdbool.h>
#include <stddef.h>

/* Keepalive (lws retry policy): ping after this many idle seconds, hang up
 * after that many without a pong.  Well under lighttpd's 60 s idle limit. */
#define ND_PING_SECS   20
#define ND_HANGUP_SECS 50
/* SIGTERM: how long connections get to take their close frame. */
#define ND_STOP_GRACE_MS 2000

/*
 * nd_server_start - create the context and the listening vhost on
 * cfg->notifyd_host:notifyd_port (a host name is resolved to its first
 * address), with TLS when cfg has ssl files, and put SIGTERM, SIGINT and
 * SIGHUP into the loop (they must already be blocked in every thread).
 * False with one line in err.  Undo with nd_server_destroy().
 */
bool nd_server_start(nd_t *nd, char *err, size_t errlen) __attribute__((warn_unused_result));

/* nd_server_port - the port actually bound. */
int nd_server_port(const nd_t *nd);

/* nd_server_run - serve until nd_server_stop() has finished. */
void nd_server_run(nd_t *nd);

/* nd_server_stop - begin a clean shutdown: close every connection (1001),
 * leave the loop once all are closed or after ND_STOP_GRACE_MS. */
void nd_server_stop(nd_t *nd);

/* nd_server_destroy - destroy the context (closing what is left).  Safe
 * when start failed half-way. */
void nd_server_destroy(nd_t *nd);

#endif
