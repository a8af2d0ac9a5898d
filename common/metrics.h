/*
 * common/metrics.h - counters for Prometheus (docs/metrics.md)
 *
 * A web server runs several parsec-fcgi processes per node (mod_fcgid,
 * lighttpd max-procs, spawn-fcgi -F) and a scrape reaches one of them, so
 * the workers of a node count in one shared file: metrics_open() maps
 * DIR/fcgi-v1.metrics, a fixed layout of 64-bit counters, zero-filled when
 * new (zero is its valid empty state, so concurrent creators need no lock).
 * Every update is one relaxed atomic add: no lock, no system call on the
 * request path.  notifyd counts in private memory (metrics_open(NULL)): each
 * instance answers its own GET /metrics.
 *
 * Every recording function is a no-op before metrics_open() (unit tests,
 * the command line), so library code calls them unconditionally.
 *
 * Process state: one mapping per process, opened once by main before any
 * thread starts and closed after they stop.
 */
#ifndef PARSEC_METRICS_H
#define PARSEC_METRICS_H

#include "strbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The file's name in --metrics-dir; the layout version is in the name, so
 * an upgraded worker never reads an older layout. */
#define METRICS_FILE_FCGI "fcgi-v1.metrics"

/*
 * metrics_open - count in dir/name, shared with every process that maps it
 *
 * dir is created (mode 0700) when missing; the file is created mode 0600.
 * dir NULL: private memory (notifyd, tests).  On failure (err: one line)
 * the process counts in private memory anyway, so a scrape still answers;
 * the caller logs the line as a warning.  Calling it again first closes.
 */
bool metrics_open(const char *dir, const char *name, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* metrics_close - this process's gauges back to zero, unmapped. */
void metrics_close(void);
/* metrics_shared - the counters are in a file other processes map. */
bool metrics_shared(void);

/* metrics_now_ns - a monotonic clock for the durations below. */
uint64_t metrics_now_ns(void);

/* ---- parsec-fcgi ------------------------------------------------------- */

/*
 * metrics_request - one HTTP answer.  family and command are static
 * strings from route and command tables, never client text (a client
 * must not be able to create series): family "anonymous", "invited",
 * "authenticated", "administration", "pages" or "none" (no route);
 * command the RPC command or the route's pattern.  At most
 * METRICS_REQ_SLOTS pairs get their own series; later ones are counted
 * as parsec_http_requests_unlabelled_total.
 */
#define METRICS_REQ_SLOTS 256
void metrics_request(const char *family, const char *command, int status, uint64_t ns);

/* The database pool: threads holding and waiting for a connection. */
void metrics_db_in_use(int delta);
void metrics_db_waiting(int delta);
typedef enum {
    METRICS_DB_CONNECT = 0,     /* a connection could not be opened */
    METRICS_DB_ACQUIRE_TIMEOUT, /* every connection stayed busy too long */
    METRICS_DB_STATEMENT,       /* a statement failed (serialization included) */
    METRICS_DB_ERR_KINDS
} metrics_db_err;
void metrics_db_error(metrics_db_err kind);

/* The verified-token cache of fcgi-api/auth. */
void metrics_token_cache(bool hit);

/* One blockstore_create (create true) or blockstore_read, with its
 * blockstore_status. */
void metrics_blockstore(bool create, int status, uint64_t ns);
/* One email_send(), with its email_result. */
void metrics_email(int result, uint64_t ns);

/* ---- parsec-notifyd ---------------------------------------------------- */

void metrics_nd_connection(int delta); /* +1 established, -1 closed */
void metrics_nd_event_in(void);        /* a notification read from PostgreSQL */
void metrics_nd_event_out(void);       /* an event written to a client */
void metrics_nd_drop(void);            /* a client's queue overflowed */
void metrics_nd_close(int code);       /* a close we sent, by websocket code */

struct cfg;

/* ---- output ------------------------------------------------------------ */

typedef enum { METRICS_FCGI = 1, METRICS_NOTIFYD = 2 } metrics_section;

/* The content type of metrics_render()'s text. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * metrics_authorize - may the holder of this Authorization header (NULL:
 * none) read the metrics?  0: yes; 401: no Bearer token given (answer with
 * WWW-Authenticate: Bearer); 403: no token is configured (the endpoint is
 * closed), or the token is neither --metrics-token nor
 * --administration-token.  Constant-time in the tokens' content; *why
 * (static, never the token) says which, for the log.
 */
int metrics_authorize(const struct cfg *cfg, const char *authorization, const char **why);

/* metrics_render - the sections' series in the Prometheus text format
 * 0.0.4, appended to out; counters of every process of the file. */
void metrics_render(strbuf_t *out, unsigned sections);

#endif
