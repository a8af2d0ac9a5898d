/*
 * notifyd/session.h - one websocket connection: handshake, send queue, close
 *
 * The session struct is lws's per-session data of the parsec-events
 * protocol: lws allocates it zeroed with the connection and frees it after
 * LWS_CALLBACK_CLOSED, where we release what it points to.  docs/events.md
 * is the wire contract implemented here.
 *
 * Thread: the lws service thread only.
 */
#ifndef PARSEC_ND_SESSION_H
#define PARSEC_ND_SESSION_H

#include "backlog.h"
#include "msg.h"
#include "nd.h"
#include "proto.h"

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ND_CHALLENGE_SIZE 48
/* A handshake answer is about 400 bytes; anything much longer is hostile. */
#define ND_ANSWER_MAX 4096
/* Per-connection send queue bounds (Parsec 2.12 kept 100 events).  The
 * messages are shared between connections, so the byte bound mostly caps
 * what one connection can pin; it must exceed a notification batch
 * (pgconn.c) of the largest events, 32 x 8 KB. */
#define ND_QUEUE_MAX_MSGS  100
#define ND_QUEUE_MAX_BYTES (1024 * 1024)
/* What a client may have outstanding beyond what it has confirmed reading
 * (backlog.h): queued here, in the kernel's buffers, in a proxy's.  A
 * client that keeps reading stays far below (one round trip of events);
 * one that stopped is closed once past either bound, direct or proxied. */
#define ND_BACKLOG_MAX_MSGS  1000
#define ND_BACKLOG_MAX_BYTES (4 * 1024 * 1024)
/* Seconds a client has to complete the handshake. */
#define ND_HANDSHAKE_TIMEOUT 10
/* Seconds a closing connection has to take its close frame. */
#define ND_CLOSE_GRACE 5
/* Close codes (docs/events.md). */
#define ND_CLOSE_GOING_AWAY     1001 /* "server shutting down" */
#define ND_CLOSE_POLICY         1008 /* handshake failed, or unexpected message */
#define ND_CLOSE_INTERNAL       1011 /* "database unavailable" */
#define ND_CLOSE_HS_TIMEOUT     4001 /* "handshake timeout" */
#define ND_CLOSE_REVOKED        4002 /* "user revoked" */
#define ND_CLOSE_EXPIRED        4003 /* "organization expired" */
#define ND_CLOSE_QUEUE_OVERFLOW 4004 /* "send queue overflow" */

typedef enum {
    ND_S_CHALLENGED = 1, /* challenge sent, waiting for the answer */
    ND_S_LOOKUP,         /* answer received, database lookup in flight */
    ND_S_READY,          /* authenticated: receives events */
    ND_S_CLOSING,        /* close requested; nothing more is queued */
} nd_session_state;

typedef struct nd_qnode {
    struct nd_qnode *next;
    nd_msg_t *msg;
} nd_qnode_t;

/* A realm event held while a re-check is in flight (after a database
 * reconnection the realm set may be stale): delivered or dropped by the
 * re-check's answer. */
typedef struct nd_deferred {
    struct nd_deferred *next;
    nd_msg_t *msg;
    uint8_t realm[16];
} nd_deferred_t;

/* A realm membership change seen while a lookup was in flight. */
typedef struct {
    uint8_t realm[16];
    bool member;
} nd_role_op_t;

typedef struct nd_session {
    struct lws *wsi;
    nd_t *nd;
    uint64_t id; /* for logs: "ws=<id>" (slog.h) */
    nd_session_state state;
    lws_dll2_t all; /* in nd->sessions */

    /* Organization index (router.c): set while in it. */
    struct nd_org *org;
    lws_dll2_t org_link;

    uint8_t challenge[ND_CHALLENGE_SIZE];
    char *rx; /* answer being reassembled from fragments */
    size_t rx_len;

    /* Identity: claimed by the answer, proven once READY. */
    char org_id[PROTO_ID_MAX + 1];
    char device_id[PROTO_DEVICE_ID_MAX + 1];
    char user_id[PROTO_ID_MAX + 1];
    uint8_t rvk[32];
    uint8_t signature[64];
    bool admin; /* user profile ADMIN (pki_enrollment.updated) */

    /* Realms where the user has a role (sorted, 16-byte UUIDs). */
    uint8_t (*realms)[16];
    size_t n_realms, cap_realms;

    /* Lookup in flight (handshake or refresh) and what changed meanwhile. */
    nd_pg_query_t *query;
    nd_role_op_t *ops;
    size_t n_ops, cap_ops;
    bool refresh_again; /* another reconnection happened during a refresh */
    nd_deferred_t *def_head, *def_tail;
    size_t n_def;

    /* Outgoing messages, bounded, and what the client has not confirmed
     * reading of those already written. */
    nd_qnode_t *q_head, *q_tail;
    size_t q_count, q_bytes;
    nd_backlog_t backlog;

    /* Set when closing: sent in the close frame. */
    int close_code;
    char close_reason[64];
} nd_session_t;

/* nd_session_callback - the lws callback of the websocket protocol (the
 * vhost's default, server.c). */
int nd_session_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len);

/*
 * nd_session_send - queue msg (a reference is taken) on a READY session and
 * ask lws for a writeable callback.  A session whose queue is full is closed
 * with ND_CLOSE_QUEUE_OVERFLOW instead; a closing one ignores it.
 */
void nd_session_send(nd_session_t *s, nd_msg_t *msg);

/*
 * nd_session_send_realm - queue msg, an event of realm, if the session's
 * user is a member.  While a re-check of the membership is in flight the
 * decision waits for its answer (the message is held, within the same
 * bounds as the queue).  True when queued or held.
 */
bool nd_session_send_realm(nd_session_t *s, nd_msg_t *msg, const uint8_t realm[16]);

/*
 * nd_session_close - close with code and reason (static or copied, cut to
 * fit a close frame).  flush: send what is queued first (a handshake
 * result); otherwise the queue is dropped.  Idempotent: the first reason
 * wins.  The connection leaves the organization index at once.
 */
void nd_session_close(nd_session_t *s, int code, const char *reason, bool flush);

/* nd_session_realm_change - the user's role in realm changed (member: a
 * role, not NULL).  Applied now, and replayed after an in-flight lookup. */
void nd_session_realm_change(nd_session_t *s, const uint8_t realm[16], bool member);
/* nd_session_in_realm - is realm in the session's realm set? */
bool nd_session_in_realm(const nd_session_t *s, const uint8_t realm[16]);

/*
 * nd_session_db_restored - after a database reconnection: send every READY
 * session the events.missed message, then re-check each (revoked? expired?
 * realm set) since the events of the outage are lost.
 */
void nd_session_db_restored(nd_t *nd);

/* nd_session_shutdown_all - close every session with 1001 (SIGTERM). */
void nd_session_shutdown_all(nd_t *nd);

/* The lookup statement, prepared on the connection at start-up. */
extern const db_stmt_t nd_stmt_identify;

#endif
