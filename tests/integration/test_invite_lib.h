/*
 * tests/integration/test_invite_lib.h - what the invitation suites share
 * (test_cmd_invite*.c: each command and status; test_invite_exchange.c:
 * two clients through a whole greeting; test_invite_email.c: the mails)
 *
 * A greeter is a porg device (authenticated route); a claimer is whoever
 * holds a token (invited route, Invitation-Token header).  Both talk to a
 * real web server in front of the worker (porg_srv_t), nothing is written
 * behind the server's back except where a test says why (a claimer's last
 * request moved 61 s into the past instead of waiting a minute).
 *
 * Failures abort the running test with what was expected and what came.
 * Ownership: char* results are malloc'd for the caller; json_object
 * results are the caller's (json_object_put); requests passed in are
 * consumed.  The it_claim*() calls are thread-safe (pclient); the it_expect*
 * assertions belong to the test's main thread.
 */
#ifndef PARSEC_TEST_INVITE_LIB_H
#define PARSEC_TEST_INVITE_LIB_H

#include "pclient.h"
#include "porg.h"
#include "test_notifyd_lib.h"

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* The twelve steps by side and number (0: step 1, 1: 2a, 2: 2b, 3: 3a,
 * 4: 3b, 5: 4), with the field each says and the one its ok carries
 * (NULL: none), as docs/protocol.md lists them. */
typedef struct {
    const char *cmd;
    const char *in;  /* NULL: no field but the greeter's token */
    size_t in_exact; /* 32 for keys and digests, else 0 */
    size_t in_max;   /* the largest payload, else 0 */
    const char *out; /* the ok field */
} it_step_t;
extern const it_step_t it_greeter_steps[6];
extern const it_step_t it_claimer_steps[6];

/* ---- invitations ---- */

/* it_invite - invite_new by dev (type "USER" with email, or "DEVICE"),
 * send_email false; asserts ok and email_sent null; the token (malloc'd). */
char *it_invite(const porg_srv_t *s, const pclient_device_t *dev, const char *type,
                const char *email);
/* it_invite_req - the invite_new request. */
json_object *it_invite_req(const char *type, const char *email, bool send_email);
/* it_delete_req - invite_delete of token with reason. */
json_object *it_delete_req(const char *token, const char *reason);

/* it_greeter_req - greeter step i for token saying data[0..len) (ignored
 * for steps that say nothing). */
json_object *it_greeter_req(int i, const char *token, const void *data, size_t len);
/* it_claimer_req - claimer step i saying data[0..len). */
json_object *it_claimer_req(int i, const void *data, size_t len);

/* ---- the invited route ---- */

/*
 * it_claim_http - POST req (consumed) on /invited/<org> with Invitation-Token
 * header token (NULL: none), into *out (pclient_resp_free it).  Asserts an
 * answer came.
 */
void it_claim_http(const porg_srv_t *s, const char *org, const char *token, json_object *req,
                   pclient_resp_t *out);
/* it_claim - the same, asserting HTTP 200 with a JSON "status"; the reply. */
json_object *it_claim(const porg_srv_t *s, const char *org, const char *token, json_object *req);
/* it_claim_expect - it_claim, asserting the status; the reply. */
json_object *it_claim_expect(const porg_srv_t *s, const char *org, const char *token,
                             json_object *req, const char *status);
/* it_claim_no_trace - it_claim_expect (the reply discarded) with the
 * database unchanged (porg_fingerprint); for bad_message, needle is the
 * field it must name (NULL: not checked). */
void it_claim_no_trace(const porg_srv_t *s, const char *org, const char *token, json_object *req,
                       const char *status, const char *needle);
/* it_claim_error - the answer must be HTTP http with {"error": error}. */
void it_claim_error(const porg_srv_t *s, const char *org, const char *token, json_object *req,
                    long http, const char *error);

/* ---- replies ---- */

/* it_bytes - the base64 field name of reply, decoded (malloc'd, *len set);
 * aborts when missing or not base64. */
uint8_t *it_bytes(json_object *reply, const char *name, size_t *len);

/* ---- SQL on the suite's database (test_user_lib.h: ut_srv, ut_sql) ---- */

/* it_column - the SQL expression expr over the invitation i of token
 * (malloc'd text, NULL for SQL NULL). */
char *it_column(const char *token, const char *expr);

/* ---- events ---- */

/* it_listen - a new connection LISTENing on parsec_events (PQfinish it). */
PGconn *it_listen(const porg_srv_t *s);
/* it_next_event - the next NOTIFY payload parsed (json_object_put it), or
 * NULL after timeout_ms. */
json_object *it_next_event(PGconn *pg, int timeout_ms);
/* it_expect_event - the next event must be of type t (e.g.
 * "invite.status_changed") for token, with status when not NULL (IDLE,
 * READY, DELETED), greeter user id greeter; returned. */
json_object *it_expect_event(PGconn *pg, const char *t, const char *greeter, const char *token,
                             const char *status);
/* it_expect_no_event - no NOTIFY within timeout_ms. */
void it_expect_no_event(PGconn *pg, int timeout_ms);

/* it_ndt_dev - a notifyd test device for dev of o (its key, o's root). */
void it_ndt_dev(const porg_t *o, const pclient_device_t *dev, ndt_dev_t *out);

#endif
