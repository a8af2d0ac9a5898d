/*
 * notifyd/msg.h - reference-counted outgoing websocket messages
 *
 * An event reaching 1,000 connections is serialized once: every connection's
 * send queue holds a reference to the same buffer.  The buffer keeps
 * LWS_PRE bytes of headroom before the payload, as lws_write() requires;
 * lws writes the (identical, unmasked) frame header there, so sharing is
 * safe on our single service thread.
 *
 * Runs on the service thread only; not thread-safe (no atomics needed).
 */
#ifndef PARSEC_ND_MSG_H
#define PARSEC_ND_MSG_H

#include <json-c/json.h>
#include <stddef.h>

typedef struct nd_msg {
    unsigned refs;
    size_t len;          /* payload bytes (JSON text, no NUL counted) */
    unsigned char buf[]; /* LWS_PRE headroom, then payload, then a NUL */
} nd_msg_t;

/* nd_msg_new - a message holding a copy of data; one reference. */
nd_msg_t *nd_msg_new(const char *data, size_t len);
/* nd_msg_from_json - the plain JSON text of obj (borrowed); one reference. */
nd_msg_t *nd_msg_from_json(json_object *obj);
/* nd_msg_payload - the payload, writable, LWS_PRE bytes after buf's start. */
unsigned char *nd_msg_payload(nd_msg_t *m);
nd_msg_t *nd_msg_ref(nd_msg_t *m);
/* nd_msg_unref - drop a reference; frees at zero.  NULL is a no-op. */
void nd_msg_unref(nd_msg_t *m);

#endif
