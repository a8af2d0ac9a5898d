/*
 * tests/lib/tcprelay.h - a TCP relay on loopback, for "a server that
 * appears later" and "a server that vanishes"
 *
 * tcprelay_start() listens on 127.0.0.1:listen_port and forwards every
 * connection it accepts to 127.0.0.1:target_port (the harness's PostgreSQL,
 * say), byte for byte, from one thread.  Before it is started nothing
 * listens on listen_port (connection refused); after tcprelay_stop() the
 * listener and every forwarded connection are closed, as if the server had
 * gone.
 *
 * tcprelay_hold() makes a race deterministic: the next chunk a client sends
 * that contains a needle (an HTTP request naming a command, say) is kept,
 * and that connection's client side left unread, until tcprelay_release();
 * everything else flows.  The needle must arrive within one read (64 KiB):
 * a small request written at once does.
 *
 * Thread: one relay thread per relay; start, hold, release and stop from
 * the same thread.
 */
#include <stdbool.h>

#ifndef PARSEC_TCPRELAY_H
#define PARSEC_TCPRELAY_H

typedef struct tcprelay tcprelay_t;

/* tcprelay_start - NULL (after a line on stderr) when listen_port cannot be
 * bound.  Free with tcprelay_stop(). */
tcprelay_t *tcprelay_start(int listen_port, int target_port);
/* tcprelay_stop - close everything, join the thread, free r; NULL: no-op. */
void tcprelay_stop(tcprelay_t *r);
/* tcprelay_hold - arm a one-shot hold on the next client chunk holding
 * needle (copied). */
void tcprelay_hold(tcprelay_t *r, const char *needle);
/* tcprelay_wait_held - true once a chunk is held, false after timeout_s. */
bool tcprelay_wait_held(tcprelay_t *r, int timeout_s);
/* tcprelay_release - send the held chunk on and read that client again. */
void tcprelay_release(tcprelay_t *r);

#endif
