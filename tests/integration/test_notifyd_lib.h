/*
 * tests/integration/test_notifyd_lib.h - what the notifyd suites share
 *
 * Real parsec-notifyd processes on a fresh migrated database, real
 * websocket clients (tests/lib/wsclient.h), rows seeded with SQL (the
 * certificates are dummy bytes: notifyd reads keys and ids only), events
 * published through common/event.h's event_publish() inside db_tx(), as the
 * FastCGI handlers do.
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
/* ndt_handshake - read the challenge, answer as d, return the result
 * message (json_object_put it), or NULL if none came. */
json_object *ndt_handshake(wsclient_t *c, const ndt_dev_t *d);
/* ndt_connect - connect and complete the handshake as d (result ok). */
wsclient_t *ndt_connect(wsclient_ctx_t *ctx, int port, const ndt_dev_t *d);
/* ndt_result_of - "result" of a result message (borrowed), "" if absent. */
const char *ndt_str(json_object *o, const char *key);

/* ---- events ------------------------------------------------------------------ */

typedef struct ndt_pub ndt_pub_t;
/* A producer on db_url: a one-connection common/db.h pool. */
ndt_pub_t *ndt_pub_new(const char *db_url);
void ndt_pub_free(ndt_pub_t *p);
/* ndt_publish - event_publish() inside db_tx(), committed or rolled back;
 * fields (may be NULL) is consumed. */
void ndt_publish(ndt_pub_t *p, const char *org, event_type t, const char *author,
                 json_object *fields, bool commit);
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
