/*
 * common/email_internal.h - what the files of the email module share
 *
 * Private to common/email*.c; everything else includes email.h.
 *   email_compose.c  RFC 5322 + MIME composition;
 *   email_send.c     SMTP through libcurl, and MOCKED files;
 *   email_invite.c   the invitation mail: link and en/fr texts.
 */
#ifndef PARSEC_EMAIL_INTERNAL_H
#define PARSEC_EMAIL_INTERNAL_H

#include "email.h"

#include <stdbool.h>

/*
 * email_split_sender - --email-sender ("addr", "<addr>" or "Name <addr>")
 * into the display name (spaces around it trimmed; "" when there is none)
 * and the address, both malloc'd (caller frees both).  False, nothing
 * allocated, when there is no '<...>' at the end of a named form or the
 * address is not valid (proto_valid_email).
 */
bool email_split_sender(const char *sender, char **name, char **addr)
    __attribute__((warn_unused_result));

#endif
