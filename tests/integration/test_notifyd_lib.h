/*
 * tests/integration/test_notifyd_lib.h - what the notifyd suites share
 *
 * Real parsec-notifyd processes on a fresh migrated database, real
 * websocket clients (tests/lib/wsclient.h), rows seeded with SQL (the
 * certificates are dummy bytes: notifyd reads keys and ids only), events
 * published through common/event.h's event_publish() inside db_tx(), as the
 * FastCGI handlers' typed publishers do.
 *
 * Every helper aborts the current test (ck_abort_msg) when something it
 * needs fails, so tests read as the scenario they check.
 */
#ifndef PARSEC_TEST_NOTIFYD_LIB_H
#define PARSEC_TEST_NOTIFYD_LIB_H

#include "event.h"
#include "pclient.h"
#include "wsclient.h"

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- a notifyd process ------------------------------------------------- */

typedef struct {
    pid_t pid;
    int port;
    char log_path[512];
    int out_fd; /* its stdout (the ready line) */
} ndt_proc_t;

/* ndt_notifyd_bin - $PARSEC_TEST_BUILD/parsec-notifyd, or beside the test
 * binary's build directory (static string). */
const char *ndt_notifyd_bin(void);

/*
 * ndt_start - start parsec-notifyd --db db_url on a free 127.0.0.1 port,
 * plus extra (NULL-terminated, may be NULL) arguments, and wait for its
 * ready line.  Logs at INFO into a private file.
 */
ndt_proc_t *ndt_start(const char *db_url, const char *const *extra);
/* ndt_stop - SIGTERM, wait (10 s, then SIGKILL); the exit status (-1 if it
 * had to be killed or died of a signal); frees p. */
int ndt_stop(ndt_proc_t *p);
/* ndt_log - the process's log so far (malloc'd, "" when none). */
char *ndt_log(const ndt_proc_t *p);
/* ndt_free_port - a port that was free a moment ago. */
int ndt_free_port(void);

/* ---- the whole server: `parsec backend run` ----------------------------------- */

/* lighttpd, the FastCGI workers and notifyd, as `parsec backend run` deploys
 * them: one port, /ws proxied to notifyd. */
typedef struct {
    pid_t pid;
    int port;
    char base[64]; /* http://127.0.0.1:<port> */
    char log[512];
} ndt_run_t;

/* ndt_run_start - `parsec backend run --db url` on free ports (the
 * administration token is "t0k3n"); returns once /health answers 200. */
void ndt_run_start(ndt_run_t *r, const char *url);
/* ndt_run_stop - SIGTERM, wait; its exit status (-1: killed or signalled). */
int ndt_run_stop(ndt_run_t *r);
/* ndt_run_url - the base URL (owned by r). */
const char *ndt_run_url(const ndt_run_t *r);

/* ---- database fixtures ---------------------------------------------------- */

/* ndt_sql - run sql with text params (NULL entries: SQL NULL); abort on error. */
void ndt_sql(PGconn *pg, const char *sql, int nparams, const char *const *params);
/* An organization, bootstrapped with root verify key rvk. */
void ndt_org(PGconn *pg, const char *org, const uint8_t rvk[32]);
void ndt_user(PGconn *pg, const char *org, const char *user, const char *profile);
void ndt_device(PGconn *pg, const char *org, const char *device_id, const uint8_t verify_key[32]);
void ndt_realm(PGconn *pg, const char *org, const uint8_t realm[16]);
/* A role row (role NULL: removed), certified by any device of org. */
void ndt_role(PGconn *pg, const char *org, const uint8_t realm[16], const char *user,
              const char *role);

/* A device as the tests use it: identity, keys, the organization's root. */
typedef struct {
    char org[64];
    char device_id[128];
    pclient_key_t key;
    uint8_t rvk[32];
} ndt_dev_t;

/* ndt_dev_make - seed org (once per org: the caller passes first=true for
 * the first device of an organization), the user (when new_user) and the
 * device, with fresh keys. */
void ndt_dev_make(ndt_dev_t *d, PGconn *pg, const char *org, const pclient_key_t *root,
                  const char *device_id, const char *profile, bool new_org, bool new_user);

/* ndt_dev_of - the ndt_dev_t of device d (made by pclient, in an
 * organization of root verify key rvk): for the handshake of a device the
 * server created through its API. */
ndt_dev_t ndt_dev_of(const pclient_device_t *d, const uint8_t rvk[32]);

/* ---- handshake --------------------------------------------------------------- */

/* ndt_answer_text - the answer JSON to challenge (the server's message)
 * signed by key over the documented text; malloc'd. */
char *ndt_answer_text(json_object *challenge, const char *org, const char *device_id,
                      const pclient_key_t *key, const uint8_t rvk[32]);
/* ndt_send_answer - read the challenge, send the answer as d (times
 * times in a row: more than one is a client bug notifyd must handle). */
void ndt_send_answer(wsclient_t *c, const ndt_dev_t *d, int times);
/* ndt_handshake - read the challenge, answer as d, return the result
 * message (json_object_put it), or NULL if none came. */
json_object *ndt_handshake(wsclient_t *c, const ndt_dev_t *d);
/* ndt_connect - connect and complete the handshake as d (result ok). */
wsclient_t *ndt_connect(wsclient_ctx_t *ctx, int port, const ndt_dev_t *d);
/*
 * ndt_upgrade_raw - a websocket upgrade of path written by hand to
 * 127.0.0.1:port (Host, Upgrade, Connection, Sec-WebSocket-Key and
 * -Version, then extra: more "Name: value\r\n" lines, may be ""), read up
 * to the end of the answer's header block (at most 10 s), then closed.  The
 * answer's status (0: none); its header block in *head (malloc'd) when
 * head is not NULL.  For what a client library would not send or hide.
 */
long ndt_upgrade_raw(int port, const char *path, const char *extra, char **head);
/* ndt_http_raw - the same with the whole request given (written as is). */
long ndt_http_raw(int port, const char *request, char **head);
/* ndt_header - the value of header name in a header block (malloc'd,
 * trimmed), NULL when absent. */
char *ndt_header(const char *head, const char *name);

/* ndt_result_of - "result" of a result message (borrowed), "" if absent. */
const char *ndt_str(json_object *o, const char *key);

/* ndt_cmd - POST req (consumed) to <base>/authenticated/<org> as d, signed
 * now; aborts unless HTTP 200 with a status.  The status, malloc'd. */
char *ndt_cmd(const char *base, const ndt_dev_t *d, json_object *req);

/* ---- events ------------------------------------------------------------------ */

typedef struct ndt_pub ndt_pub_t;
/* A producer on db_url: a one-connection common/db.h pool. */
ndt_pub_t *ndt_pub_new(const char *db_url);
void ndt_pub_free(ndt_pub_t *p);
/* ndt_publish - event_publish(ev) inside db_tx(), committed or rolled back. */
void ndt_publish(ndt_pub_t *p, const event_t *ev, bool commit);
/* ndt_ping - publish pinged {"ping": text} by author in org. */
void ndt_ping(ndt_pub_t *p, const char *org, const char *author, const char *text);

/* ndt_expect - the next message of c must be an event named event (JSON
 * returned, json_object_put it). */
json_object *ndt_expect(wsclient_t *c, const char *event, int timeout_ms);
/* ndt_expect_ping - the next message must be pinged {"ping": text}. */
void ndt_expect_ping(wsclient_t *c, const char *text, int timeout_ms);
/* ndt_expect_closed - c gets closed with code (and reason when not NULL). */
void ndt_expect_closed(wsclient_t *c, int code, const char *reason, int timeout_ms);

/* Timeouts, generous for sanitizer builds on a busy machine. */
#define NDT_WAIT 10000

#endif
