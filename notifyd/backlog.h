/*
 * notifyd/backlog.h - how far behind a client is, whatever buffers lie
 * between us: what we wrote that it has not confirmed reading
 *
 * A websocket write completes when the kernel takes the bytes, and a proxy
 * in front (lighttpd, Apache, nginx) reads from us as fast as we write and
 * may buffer without limit for a client that stopped reading: the send
 * queue alone never fills then, and such a client never met its bound.  So
 * after writing, a session sends a ping whose payload names the position
 * reached (messages and bytes written so far); the client's websocket
 * stack answers it with a pong carrying the same payload once it has read
 * everything before it (RFC 6455: pings are answered in order, after the
 * data before them).  The pong moves the acknowledged position there.
 * What lies between the two is the backlog, bounded by the session
 * (session.h, ND_BACKLOG_MAX_*), through any number of proxies that pass
 * pings on (every tunnelling proxy does).
 *
 * One probe is outstanding at a time; its payload is ND_PROBE_LEN bytes,
 * "nd" and a 64-bit big-endian sequence number, so it is told apart from
 * lws's own keepalive pings (8 bytes).  Pure bookkeeping: no I/O here.
 *
 * Thread: the lws service thread (a session's).
 */
#ifndef PARSEC_ND_BACKLOG_H
#define PARSEC_ND_BACKLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ND_PROBE_LEN 10

typedef struct {
    uint64_t sent_msgs, sent_bytes;   /* written to the socket */
    uint64_t acked_msgs, acked_bytes; /* confirmed read by a pong */
    bool probe_out;                   /* a probe awaits its pong */
    uint64_t probe_seq;               /* the outstanding (or last) probe */
    uint64_t probe_msgs, probe_bytes; /* the position it marks */
} nd_backlog_t;

/* nd_backlog_sent - one message of len bytes was written. */
void nd_backlog_sent(nd_backlog_t *b, size_t len);

/* nd_backlog_want_probe - should a probe be sent now (something written
 * is not acknowledged and no probe is outstanding)? */
bool nd_backlog_want_probe(const nd_backlog_t *b);

/* nd_backlog_probe - the payload of a new probe marking the current
 * position into out; it is now outstanding. */
void nd_backlog_probe(nd_backlog_t *b, uint8_t out[ND_PROBE_LEN]);

/* nd_backlog_pong - a pong of len bytes arrived: true when it answers the
 * outstanding probe (the position it marks is then acknowledged); false
 * for any other (lws's keepalive, a stale or forged one). */
bool nd_backlog_pong(nd_backlog_t *b, const void *payload, size_t len);

/* Written and not acknowledged. */
uint64_t nd_backlog_unacked_msgs(const nd_backlog_t *b);
uint64_t nd_backlog_unacked_bytes(const nd_backlog_t *b);

#endif
