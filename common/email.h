/*
 * common/email.h - outgoing email: invitation mails, composed and sent
 *
 * The server sends one kind of mail: the invitation of invite_new with
 * send_email (docs/protocol.md; Parsec 2.12's parsec/backend/invite.py).
 * Three layers, one file each:
 *
 *   email_invite.c   what an invitation says: the link (the HTTP redirection
 *                    URL under --backend-addr), subject, text and HTML in
 *                    English or French (--email-language);
 *   email_compose.c  any message as RFC 5322 + MIME bytes: From, To,
 *                    Reply-To, Subject (RFC 2047 when not plain ASCII),
 *                    Date, Message-ID, multipart/alternative with a
 *                    text/plain and a text/html part, both UTF-8 in
 *                    quoted-printable;
 *   email_send.c     delivery: SMTP through libcurl (--email-host, -port,
 *                    -host-user, -host-password, -use-ssl, -use-tls,
 *                    -ca-file, -connect-timeout, -timeout), or with
 *                    --email-host MOCKED a .eml file in a private temporary
 *                    directory whose path is logged at INFO.
 *
 * WHEN TO CALL.  email_send_invitation() and email_send() block the calling
 * thread for up to --email-timeout seconds (connection, TLS, the SMTP
 * dialogue).  Call them only AFTER the command's transaction is committed
 * and its database connection is back in the pool: a slow or dead mail
 * server must never hold a row lock or a pooled connection, and a mail must
 * never announce an invitation that a rollback then removed.  Whatever they
 * return, the invitation stays (Parsec's rule): the outcome only becomes
 * invite_new's email_sent.
 *
 * Threads: every function here may be called from any thread at once.  The
 * cfg_t is only read.  The only process-wide state is libcurl's global
 * initialisation (curl_global_init, done once, by the first call, under
 * pthread_once) and, with MOCKED, the one temporary directory (created
 * once, under pthread_once).  Each call uses its own curl handle.
 *
 * Secrets: the SMTP password and the invitation token never reach a log.
 * Failures are logged at WARNING with the recipient, the SMTP step and the
 * server's reply code; the token only ever appears inside the mail.
 */
#ifndef PARSEC_EMAIL_H
#define PARSEC_EMAIL_H

#include "cfg.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* What became of a mail: invite_new's email_sent (InvitationEmailSentStatus). */
typedef enum {
    EMAIL_SUCCESS = 0,   /* the server accepted it (or MOCKED wrote it) */
    EMAIL_BAD_RECIPIENT, /* the server refused the recipient (RCPT TO answered 5xx),
                          * or the recipient is not a valid address */
    EMAIL_NOT_AVAILABLE, /* anything else: no --email-host, connection refused or
                          * timed out, TLS failure or untrusted certificate,
                          * STARTTLS not offered, authentication refused, a
                          * temporary (4xx) refusal, sender or data refused,
                          * a server that never answers, an unwritable MOCKED
                          * directory, unusable --backend-addr */
} email_result;

/* email_result_name - "SUCCESS", "BAD_RECIPIENT" or "NOT_AVAILABLE", the
 * protocol's spelling; static. */
const char *email_result_name(email_result r);

/* ---- invitations (email_invite.c) ---------------------------------------- */

typedef enum {
    EMAIL_INVITE_USER,   /* someone is invited to join the organization */
    EMAIL_INVITE_DEVICE, /* a user invites a new device of their own */
} email_invite_type;

/*
 * One invitation mail.  Every string is borrowed for the duration of the
 * call and is what the invite command already holds:
 *   organization_id  the organization (a valid OrganizationID);
 *   token            the invitation token, 32 lowercase hex characters;
 *   USER:   claimer_email    the recipient;
 *           greeter_user_id  the inviting user's id, named in the mail when
 *                            they have no human handle;
 *           greeter_label, greeter_email  the inviting user's human handle,
 *                            or both NULL; with it the mail names the label
 *                            and carries "Reply-To: label <email>" (control
 *                            characters of a label, which the protocol
 *                            already refuses, would show as spaces);
 *   DEVICE: greeter_email    the recipient (the greeter's own email: a
 *                            DEVICE invitation with send_email needs a human
 *                            handle, invite_new answers not_available
 *                            before calling here otherwise); the other
 *                            greeter fields and claimer_email are ignored.
 */
typedef struct {
    email_invite_type type;
    const char *organization_id;
    const char *token;
    const char *claimer_email;
    const char *greeter_user_id;
    const char *greeter_label;
    const char *greeter_email;
} email_invitation_t;

/*
 * email_send_invitation - compose the invitation mail and deliver it
 *
 * In --email-language (en or fr), from --email-sender, to the recipient
 * above, linking to email_invitation_url(cfg->backend_addr, inv).  Blocks
 * for at most about --email-timeout seconds.  Call it after COMMIT, with
 * the database connection released (see the top of this file).
 * EMAIL_BAD_RECIPIENT when the recipient is not a valid address (2.6 of
 * docs/protocol.md) or the server refuses it; EMAIL_NOT_AVAILABLE for every
 * other failure, including invalid organization id, token or missing
 * --backend-addr (each logged).  Never aborts on bad input.
 */
email_result email_send_invitation(const cfg_t *cfg, const email_invitation_t *inv);

/*
 * email_invitation_url - the link of the mail, as Parsec's mail carries it
 * (BackendInvitationAddr.to_http_redirection_url):
 *
 *     <http|https>://<host>[:<port>]/redirect/<organization_id>?action=<a>&token=<token>
 *
 * https unless backend_addr has ?no_ssl=true; the port only when it is not
 * the default of that scheme (443, 80); <a> is claim_user or claim_device.
 * GET on it (fcgi-api/pages.c) answers 302 to
 * parsec://<host>[:<port>]/<organization_id>?action=<a>&token=<token>[&no_ssl=true],
 * the address a Parsec client opens.  Returns a malloc'd string (caller
 * frees), or NULL when backend_addr, the organization id or the token is
 * not valid.
 */
char *email_invitation_url(const char *backend_addr, const email_invitation_t *inv);

/* email_invitation_recipient - the address the invitation goes to
 * (claimer_email for USER, greeter_email for DEVICE); borrowed from inv. */
const char *email_invitation_recipient(const email_invitation_t *inv);

/*
 * email_invitation_compose - the complete invitation message that
 * email_send_invitation() sends, dated now.  Returns a malloc'd message of
 * *len bytes, also NUL-terminated (caller frees), or NULL after logging
 * why, *failure then saying which result that is (EMAIL_BAD_RECIPIENT or
 * EMAIL_NOT_AVAILABLE).  For tests and tools.
 */
char *email_invitation_compose(const cfg_t *cfg, const email_invitation_t *inv, time_t now,
                               size_t *len, email_result *failure);

/* ---- any message (email_compose.c) ---------------------------------------- */

typedef struct {
    const char *from;          /* --email-sender form: "addr" or "Name <addr>" */
    const char *to;            /* an address */
    const char *reply_to_name; /* with reply_to_addr, or NULL: no Reply-To */
    const char *reply_to_addr;
    const char *subject; /* UTF-8, any length */
    const char *text;    /* UTF-8 plain text, lines ending in "\n" */
    const char *html;    /* UTF-8 HTML document, already escaped by its author */
} email_message_t;

/*
 * email_compose - m as a complete RFC 5322 message with CRLF line endings
 *
 * Headers: From, To, [Reply-To], Subject, Date (now, in UTC, RFC 5322
 * form), Message-ID (<32 random hex digits@the sender's domain>),
 * MIME-Version, Content-Type: multipart/alternative with a random boundary;
 * then the text part and the HTML part, UTF-8 in quoted-printable.  A
 * display name or subject holding anything but printable ASCII (line
 * breaks included) goes into RFC 2047 encoded words, so no value can start
 * a header of its own; no line is longer than 78 characters.
 *
 * Addresses must be valid (proto_valid_email: docs/protocol.md 2.6).
 * Returns a malloc'd message of *len bytes, NUL-terminated (caller frees),
 * or NULL when an address is not valid or no random bytes could be had.
 */
char *email_compose(const email_message_t *m, time_t now, size_t *len);

/* ---- delivery (email_send.c) ---------------------------------------------- */

/*
 * email_send - deliver message[0..len) (from email_compose) to recipient
 *
 * Envelope sender: the address of --email-sender.  With --email-host
 * MOCKED, the message is written to a new file (see docs/configuration.md,
 * "Email") and the result is EMAIL_SUCCESS.  Otherwise SMTP through
 * libcurl:
 *   --email-use-ssl   smtps://, TLS from the first byte;
 *   --email-use-tls   STARTTLS required (CURLUSESSL_ALL): a server that
 *                     does not offer it, or a failed handshake, ends the
 *                     attempt before anything is sent in clear;
 *   neither           plain SMTP;
 * certificates verified against the system's CAs, or only --email-ca-file
 * when set; AUTH (whatever mechanism libcurl and the server share) only
 * when both --email-host-user and --email-host-password are set and the
 * server offers AUTH; at most
 * --email-connect-timeout to connect and --email-timeout in all.
 * Blocks; call after COMMIT with the connection released.
 */
email_result email_send(const cfg_t *cfg, const char *recipient, const char *message, size_t len);

/*
 * email_tls_mode - how email_send() secures its SMTP connection.
 *
 * The hosting guide's prose and Parsec's code give --email-use-ssl and
 * --email-use-tls opposite meanings (the guide: SSL is STARTTLS on 587, TLS
 * is implicit on 465; the code, as Django: SSL is implicit, TLS is
 * STARTTLS).  An operator may have followed either, so the port decides
 * where it is a standard one: 465 is implicit TLS and 587 STARTTLS, with
 * either flag; on any other port the code's meaning holds.  Neither flag:
 * clear text.  Either way a flag never falls back to clear text.
 */
typedef enum { EMAIL_TLS_NONE, EMAIL_TLS_STARTTLS, EMAIL_TLS_IMPLICIT } email_tls;
email_tls email_tls_mode(bool use_ssl, bool use_tls, int port);

#endif
