/*
 * notifyd/upgrade.h - which HTTP requests notifyd answers, and how a
 * websocket upgrade is admitted (docs/events.md, "Endpoint")
 *
 *   GET /ws with a websocket upgrade   admitted (any query string)
 *   GET /ws without one                426 Upgrade Required
 *   any other path, upgrade or not     404 (/ws/, /ws/x and /wsx included)
 *   an upgrade while shutting down     503
 *   an upgrade lws would not complete  400 (no "Connection: upgrade", no
 *                                      Host, no Sec-WebSocket-Key): lws
 *                                      itself drops such a connection
 *
 * An upgrade offering subprotocols (Sec-WebSocket-Protocol, any value) is
 * admitted and answered with none, as RFC 6455 allows: notifyd speaks no
 * subprotocol.  libwebsockets 4.1 cannot do that by itself: it refuses an
 * upgrade that names none of the vhost's protocols (dropping the connection
 * without an HTTP answer) and echoes the name of the protocol it bound.
 * So the websocket protocol's name is a buffer (nd_upgrade_ws_name): when
 * an upgrade offers a list, it holds the first name offered, so that lws
 * binds our protocol; it is emptied again before lws writes its answer, so
 * that lws names none (lws echoes only a non-empty name).  Without an offer
 * lws binds the vhost's default protocol, index 0: ours.  (An upgrade lws
 * then fails leaves the name set until the next one: harmless, since the
 * raw protocols' names, the only others looked up by name, can never be
 * one offered name: nd.h.)  A list lws itself
 * could not read (over 127 bytes, a first name over 63, a quoted string, a
 * number, no name at all) gets 400 rather than a dropped connection.
 *
 * Thread: the lws service thread (the buffer is shared by every upgrade,
 * one at a time, within one callback sequence).
 */
#ifndef PARSEC_ND_UPGRADE_H
#define PARSEC_ND_UPGRADE_H

#include <libwebsockets.h>
#include <stdbool.h>

/* The websocket's path; anything else is refused. */
#define ND_WS_PATH "/ws"
/* GET: the daemon's metrics (docs/metrics.md). */
#define ND_METRICS_PATH "/metrics"

/* The name of the websocket protocol in the vhost's protocols table: empty
 * except between an upgrade's admission and its binding (above). */
extern char nd_upgrade_ws_name[64];

/* nd_upgrade_http - LWS_CALLBACK_HTTP: a plain request (426 or 404).  The
 * callback's return value. */
int nd_upgrade_http(struct lws *wsi);

/* nd_upgrade_confirm - LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: 0 to let lws
 * upgrade, 1 when an HTTP error was answered, -1 to hang up. */
int nd_upgrade_confirm(struct lws *wsi, const char *upgrade, bool stopping);

/* nd_upgrade_bound - LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: the upgrade
 * is bound to our protocol; empty its name so lws echoes none. */
void nd_upgrade_bound(void);

#endif
