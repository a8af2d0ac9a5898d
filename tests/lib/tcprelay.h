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
 * Thread: one relay thread per relay; start and stop from the same thread.
 */
#ifndef PARSEC_TCPRELAY_H
#define PARSEC_TCPRELAY_H

typedef struct tcprelay tcprelay_t;

/* tcprelay_start - NULL (after a line on stderr) when listen_port cannot be
 * bound.  Free with tcprelay_stop(). */
tcprelay_t *tcprelay_start(int listen_port, int target_port);
/* tcprelay_stop - close everything, join the thread, free r; NULL: no-op. */
void tcprelay_stop(tcprelay_t *r);

#endif
