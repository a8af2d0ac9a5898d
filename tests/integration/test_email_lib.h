/*
 * tests/integration/test_email_lib.h - helpers shared by the email suites
 * (test_email_smtp.c: delivery outcomes; test_email_invite.c: what the
 * invitation mail says)
 *
 * Each test starts its own SMTP peer (tests/lib/smtppeer.h), builds its
 * settings through cfg_parse() exactly as a worker does, and captures the
 * log (tests/lib/logcap.h) to check that no secret reached it.
 *
 * Ownership: et_str() results are the caller's (free);
 * et_cfg() fills a cfg_t the caller frees with cfg_free().
 */
#ifndef PARSEC_TEST_EMAIL_LIB_H
#define PARSEC_TEST_EMAIL_LIB_H

#include "cfg.h"
#include "email.h"
#include "smtppeer.h"

#include <json-c/json.h>

#define ET_TOKEN    "5f1c3a9e0b7d4e2f8a6c1b3d5e7f9a0b"
#define ET_PASSWORD "Sm7p-pa55w0rd!"
#define ET_USER     "parsec-mailer"
#define ET_SENDER   "Parsec <no-reply@parsec.test>"
#define ET_BACKEND  "parsec://parsec.test:6777"

/* A USER invitation from alice (human handle) to bob, token ET_TOKEN. */
extern const email_invitation_t et_user_inv;
/* A DEVICE invitation of alice's, token ET_TOKEN. */
extern const email_invitation_t et_device_inv;

/* et_assert_no_secret - log holds neither ET_PASSWORD (as is or in any
 * base64 form AUTH PLAIN or LOGIN would send) nor ET_TOKEN. */
void et_assert_no_secret(const char *log);

/*
 * et_cfg - settings for peer p (NULL: none), as a worker parses them:
 * --email-host 127.0.0.1 --email-port <port> --email-sender ET_SENDER
 * --backend-addr ET_BACKEND --email-connect-timeout 5 --email-timeout 30,
 * then the NULL-terminated extra arguments (which win).  Aborts the test
 * when they do not parse.
 */
void et_cfg(cfg_t *c, const smtppeer_t *p, ...) __attribute__((sentinel));

/* et_str - the string at the path of keys (NULL-terminated; a number
 * indexes an array: "parts", "0", "content") in o, malloc'd; aborts the
 * test when missing or not a string. */
char *et_str(json_object *o, ...) __attribute__((sentinel));
/* et_get - the object at that path (borrowed from o), NULL when missing. */
json_object *et_get(json_object *o, ...) __attribute__((sentinel));

#endif
