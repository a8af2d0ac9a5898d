/*
 * tests/lib/wsclient.h - a real websocket client for tests and benchmarks
 *
 * Built on the libwebsockets client API (no hand-written framing): one lws
 * context drives any number of connections; the calls below run that
 * context's loop until what they wait for happens or their timeout passes,
 * so test code reads sequentially:
 *
 *     wsclient_ctx_t *ctx = wsclient_ctx_new(16);
 *     wsclient_t *c = wsclient_connect(ctx, "127.0.0.1", port, "/ws", false, 5000);
 *     char *challenge = wsclient_recv(c, 5000);      // a text message
 *     wsclient_send_text(c, "{...}");
 *     ...
 *     ck_assert(wsclient_wait_closed(c, 5000));
 *     ck_assert_int_eq(wsclient_close_code(c), 4002);
 *     wsclient_ctx_free(ctx);                         // frees c too
 *
 * Messages received by any connection are queued on that connection while
 * another one is being waited for, so nothing is lost between calls.
 *
 * TLS: wss with any certificate (self-signed test certificates; the host
 * name is not checked).
 *
 * Ownership: a wsclient_t belongs to its context; wsclient_free() releases
 * it early, wsclient_ctx_free() releases the rest.  Strings returned are
 * malloc'd for the caller.  Not thread-safe: one thread per context.
 */
#ifndef PARSEC_WSCLIENT_H
#define PARSEC_WSCLIENT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wsclient_ctx wsclient_ctx_t;
typedef struct wsclient wsclient_t;

typedef enum {
    WSCLIENT_CONNECTING,
    WSCLIENT_OPEN,
    WSCLIENT_CLOSED, /* was open, now closed (by either side) */
    WSCLIENT_FAILED, /* never opened: refused, HTTP error, TLS error... */
} wsclient_state;

/* wsclient_ctx_new - a client context for up to max_conns connections;
 * aborts if lws cannot create one. */
wsclient_ctx_t *wsclient_ctx_new(int max_conns);
/* wsclient_ctx_free - close every connection at once and free all.  NULL ok. */
void wsclient_ctx_free(wsclient_ctx_t *ctx);

/* wsclient_connect_start - begin connecting to ws[s]://host:port/path; never
 * NULL (a failure shows as WSCLIENT_FAILED). */
wsclient_t *wsclient_connect_start(wsclient_ctx_t *ctx, const char *host, int port,
                                   const char *path, bool tls);
/* wsclient_connect - the same, waiting up to timeout_ms for the upgrade;
 * NULL (connection freed, why on stderr) if it did not open. */
wsclient_t *wsclient_connect(wsclient_ctx_t *ctx, const char *host, int port, const char *path,
                             bool tls, int timeout_ms);
/* wsclient_connect_proto - wsclient_connect offering subprotocols
 * ("a, b": the Sec-WebSocket-Protocol value sent; copied).  lws fails the
 * connection if the server names one that was not offered. */
wsclient_t *wsclient_connect_proto(wsclient_ctx_t *ctx, const char *host, int port,
                                   const char *path, bool tls, const char *subprotocols,
                                   int timeout_ms);
/* wsclient_server_subprotocol - the Sec-WebSocket-Protocol of the server's
 * 101 answer, NULL when it sent none. */
const char *wsclient_server_subprotocol(const wsclient_t *c);

wsclient_state wsclient_get_state(const wsclient_t *c);
/* wsclient_error - why a connection failed ("" when it did not). */
const char *wsclient_error(const wsclient_t *c);

/* wsclient_service - run the loop once, waiting at most timeout_ms. */
void wsclient_service(wsclient_ctx_t *ctx, int timeout_ms);
/* wsclient_wait_all_open - service until none of the context's connections
 * is CONNECTING, or timeout_ms; the number of OPEN ones. */
size_t wsclient_wait_all_open(wsclient_ctx_t *ctx, int timeout_ms);

/* wsclient_send_text - queue one text message (copied); false if not open.
 * It leaves during the next service (any wait); callable from callbacks. */
bool wsclient_send_text(wsclient_t *c, const char *text, size_t len);
/* wsclient_send_binary - the same as a binary message. */
bool wsclient_send_binary(wsclient_t *c, const void *data, size_t len);

/* wsclient_recv - the next message received (malloc'd, NUL-terminated;
 * *len and *binary set when not NULL), waiting up to timeout_ms; NULL on
 * timeout or once closed with nothing left. */
char *wsclient_recv_ex(wsclient_t *c, int timeout_ms, size_t *len, bool *binary);
char *wsclient_recv(wsclient_t *c, int timeout_ms);
/* wsclient_recv_json - the next message parsed as JSON (json_object_put it);
 * NULL on timeout, close, or a message that is not JSON. */
json_object *wsclient_recv_json(wsclient_t *c, int timeout_ms);
/* wsclient_pending - messages received and not yet taken. */
size_t wsclient_pending(const wsclient_t *c);

/* wsclient_wait_closed - service until c is closed (or failed); false on
 * timeout.  Messages received meanwhile stay queued. */
bool wsclient_wait_closed(wsclient_t *c, int timeout_ms);
/* The close code and reason the server sent (0 and "" when the connection
 * ended without a close frame). */
int wsclient_close_code(const wsclient_t *c);
const char *wsclient_close_reason(const wsclient_t *c);

/* wsclient_pause - stop (true) or resume (false) reading from the socket:
 * a client that does not read, for slow-consumer tests. */
void wsclient_pause(wsclient_t *c, bool paused);

/* wsclient_on_message - instead of queueing, call fn for every message of
 * every connection of ctx (benchmarks); NULL restores queueing. */
typedef void (*wsclient_msg_fn)(wsclient_t *c, const char *data, size_t len, void *arg);
void wsclient_on_message(wsclient_ctx_t *ctx, wsclient_msg_fn fn, void *arg);

/* A caller's value attached to a connection. */
void wsclient_set_user(wsclient_t *c, void *user);
void *wsclient_user(const wsclient_t *c);

/* wsclient_free - close c (1000) during the next service, and free it (at
 * once from the caller's view).  NULL ok. */
void wsclient_free(wsclient_t *c);

#endif
