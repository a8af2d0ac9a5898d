/*
 * tests/lib/httpsink.h - a loopback HTTP receiver that records what it gets
 *
 * For code that POSTs somewhere (Sentry reports, webhooks): the test starts
 * a receiver on 127.0.0.1 (a free port), points the code at it, then reads
 * back each request's head and body.  One thread serves one connection at a
 * time and answers each request with the status the test chose, then closes
 * the connection.  The test may stall it: requests are read (and counted)
 * but not answered until httpsink_release(), so a client's timeout, a queue
 * filling up behind a slow peer, or a call that must not wait can be shown
 * without timing anything.
 *
 *     httpsink_t *s = httpsink_start(200, NULL);
 *     ... code posts to http://127.0.0.1:<httpsink_port(s)>/... ...
 *     ck_assert(httpsink_wait(s, 1, 10000));
 *     httpsink_req_t *q = httpsink_get(s, 0);   // q->head, q->body
 *     httpsink_req_free(q);
 *     httpsink_stop(s);
 *
 * Requests are kept up to HTTPSINK_MAX_REQUESTS (later ones are answered
 * and counted, not kept); a body beyond HTTPSINK_MAX_BODY bytes is cut.
 * Every function may be called from the test thread while the receiver
 * serves; failures to set up abort the test.
 */
#ifndef PARSEC_HTTPSINK_H
#define PARSEC_HTTPSINK_H

#include <stdbool.h>
#include <stddef.h>

#define HTTPSINK_MAX_REQUESTS 256
#define HTTPSINK_MAX_BODY     (1024 * 1024)

typedef struct httpsink httpsink_t;

/* One request as received: head is the request line and the headers (up to
 * the blank line, "\r\n" kept), body the bytes after it; both NUL-terminated.
 * Owned by the caller after httpsink_get(): free with httpsink_req_free(). */
typedef struct {
    char *head;
    char *body;
    size_t body_len;
} httpsink_req_t;

/* httpsink_start - listen on 127.0.0.1 (free port); answer every request
 * with status and the extra header lines extra (e.g. "Retry-After: 60\r\n";
 * NULL: none). */
httpsink_t *httpsink_start(int status, const char *extra);
/* httpsink_port - the port it listens on. */
int httpsink_port(const httpsink_t *s);
/* httpsink_answer - change the answer of the requests that follow. */
void httpsink_answer(httpsink_t *s, int status, const char *extra);
/* httpsink_stall - from now on, hold each request's answer (and the
 * connection) until httpsink_release(). */
void httpsink_stall(httpsink_t *s);
/* httpsink_release - answer what is held and stop stalling. */
void httpsink_release(httpsink_t *s);
/* httpsink_count - requests received so far (read in full). */
int httpsink_count(httpsink_t *s);
/* httpsink_wait - wait until at least n requests were received; false
 * after timeout_ms without them. */
bool httpsink_wait(httpsink_t *s, int n, long timeout_ms);
/* httpsink_get - a copy of request i (0 first); NULL when not kept. */
httpsink_req_t *httpsink_get(httpsink_t *s, int i);
void httpsink_req_free(httpsink_req_t *q);
/* httpsink_header - the value of header name (case-insensitive) in q's
 * head, malloc'd, or NULL. */
char *httpsink_header(const httpsink_req_t *q, const char *name);
/* httpsink_stop - release, stop serving, free everything. */
void httpsink_stop(httpsink_t *s);

#endif
