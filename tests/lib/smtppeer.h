/*
 * tests/lib/smtppeer.h - a real SMTP server for tests (aiosmtpd)
 *
 * Starts tests/harness/smtp_peer.py with /usr/bin/python3 on 127.0.0.1 and a
 * port the kernel picks, in a private directory under $PARSEC_TEST_TMP (or
 * $TMPDIR, or /tmp).  Every message it accepts is stored there, with what
 * Python's email package reads in it (decoded headers, addresses, parts) as
 * JSON, so a test checks the C composer against an independent parser.
 *
 *     smtppeer_opts_t o = {.tls = "starttls", .auth = "plain", .user = "u", .password = "p"};
 *     smtppeer_t *p = smtppeer_start(&o);
 *     ck_assert_ptr_nonnull(p);
 *     ... send to 127.0.0.1:smtppeer_port(p), trusting smtppeer_ca_file(p) ...
 *     json_object *m = smtppeer_message(p, 0);   // msg 0, or NULL
 *     ...
 *     json_object_put(m);
 *     ck_assert(smtppeer_stop(p));
 *
 * Teardown: the peer exits when its stdin closes, and the test process holds
 * the only writer (close-on-exec), so a test that dies (a failed ck_assert
 * exits the forked test) takes its peer with it; the kernel also sends it
 * SIGTERM when the test's thread dies.  Either way the peer removes its
 * directory as it exits.  smtppeer_stop() closes the pipe, waits, kills if
 * needed and removes what is left.  Read messages before stopping.
 *
 * Not thread-safe; a test may run several peers.
 */
#ifndef PARSEC_SMTPPEER_H
#define PARSEC_SMTPPEER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *tls;  /* NULL or "none", "starttls" (offered, required before MAIL
                       * and AUTH), "implicit" (TLS from the first byte); with TLS a
                       * private CA signs a certificate for localhost and 127.0.0.1 */
    const char *auth; /* NULL or "none"; "plain", "login" (only that mechanism)
                       * or "any": AUTH required with user/password */
    const char *user, *password;
    const char *refuse_rcpt;   /* RCPT TO of this address answered 550, or NULL */
    const char *tempfail_rcpt; /* RCPT TO of this address answered 450, or NULL */
    bool refuse_mail;          /* MAIL FROM answered 550 */
    bool refuse_data;          /* the message answered 554 after DATA */
    const char *mode;          /* NULL or "smtp"; "silent": accepts, never answers;
                                * "backlog": connecting never completes */
    const char *cert_name;     /* NULL, or the one name (DNS) the certificate holds */
} smtppeer_opts_t;

typedef struct smtppeer smtppeer_t;

/* smtppeer_start - start a peer and wait until it listens; NULL after
 * saying why on stderr (nothing left running then). */
smtppeer_t *smtppeer_start(const smtppeer_opts_t *o);

int smtppeer_port(const smtppeer_t *p);
/* smtppeer_dir - the private directory; owned by p. */
const char *smtppeer_dir(const smtppeer_t *p);
/* smtppeer_ca_file - the CA that signed the server's certificate (TLS
 * modes); owned by p. */
const char *smtppeer_ca_file(const smtppeer_t *p);

/* smtppeer_count - messages accepted so far. */
int smtppeer_count(const smtppeer_t *p);
/*
 * smtppeer_message - message n (from 0) as the peer recorded it, or NULL:
 *   {"mail_from", "rcpt_tos": [...], "tls": bool, "auth_mechanism", "auth_user",
 *    "message": <smtppeer_parse_file's object>}
 * The caller json_object_put()s it.
 */
json_object *smtppeer_message(const smtppeer_t *p, int n);
/* smtppeer_raw - the bytes of message n as received (malloc'd,
 * NUL-terminated, *len set), or NULL. */
char *smtppeer_raw(const smtppeer_t *p, int n, size_t *len);

/*
 * smtppeer_parse_file - an .eml file as Python's email package reads it:
 *   {"header_names": [...in order...], "headers": {"subject": ["decoded"], ...},
 *    "raw_headers": [[name, raw value], ...], "defects": [...],
 *    "content_type", "parts": [{"content_type", "charset", "cte", "content",
 *    "defects"}], "addresses": {"from"|"to"|"reply-to": [{"name", "addr"}]},
 *    "date": ISO 8601 or null, "message_id_defects": [...] or null,
 *    "max_line", "bare_lf", "ascii_only"}
 * NULL when the parser failed (said on stderr).  Caller json_object_put()s.
 */
json_object *smtppeer_parse_file(const char *path);

/* smtppeer_stop - stop the peer, remove its directory, free p.  True when it
 * exited by itself on the closed pipe; NULL is a no-op (true). */
bool smtppeer_stop(smtppeer_t *p);

#endif
