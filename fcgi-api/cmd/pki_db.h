/*
 * fcgi-api/cmd/pki_db.h - the SQL of PKI enrollment (pki.c)
 *
 * Table pki_enrollment (sql/0001, 0005): one row per enrollment, its state
 * SUBMITTED -> ACCEPTED | REJECTED | CANCELLED (final).  The submitter's
 * certificate is found again by its SHA-1 (indexed) and then compared byte
 * for byte.  Every writer runs after user_db_lock_org() on the
 * organization, in the command's transaction, so a submission, a forced
 * cancellation, a rejection and an acceptance of one organization
 * serialise and a refusal leaves no trace (parsec-2.12-behaviour.md 16.4,
 * 16.7, 16.9).
 *
 * Ownership: what the functions return lives in cmd->arena.
 */
#ifndef PARSEC_PKI_DB_H
#define PARSEC_PKI_DB_H

#include "cmd.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    PKI_SUBMITTED = 0,
    PKI_ACCEPTED,
    PKI_REJECTED,
    PKI_CANCELLED,
} pki_state;

/* pki_state_name - "SUBMITTED", ... */
const char *pki_state_name(pki_state s);

/* A submission. */
typedef struct {
    proto_uuid_t enrollment_id;
    proto_bytes_t certificate; /* submitter_der_x509_certificate */
    const char *email;         /* NULL or "": none given */
    proto_bytes_t signature;   /* submit_payload_signature */
    proto_bytes_t payload;     /* submit_payload */
    int64_t submitted_on;
} pki_db_submission_t;

typedef enum {
    PKI_DB_OK = 0,
    PKI_DB_ID_USED,           /* enrollment_id_already_used */
    PKI_DB_ALREADY_SUBMITTED, /* *pending_on: the pending one's submitted_on */
    PKI_DB_ALREADY_ENROLLED,  /* accepted, its user not revoked */
    PKI_DB_EMAIL_USED,        /* a non-revoked user has the email */
    PKI_DB_NOT_FOUND,
    PKI_DB_NO_LONGER_AVAILABLE,
} pki_db_status;

/*
 * pki_db_submit - steps 3-6 of 16.4 in org: the id unused, the
 * certificate's latest enrollment (a pending one cancelled at
 * s->submitted_on when force, *cancelled set), the email, then the row.
 */
pki_db_status pki_db_submit(cmd_t *cmd, int64_t org, const pki_db_submission_t *s, bool force,
                            int64_t *pending_on, bool *cancelled);

/* What pki_enrollment_info answers. */
typedef struct {
    pki_state state;
    int64_t submitted_on;
    int64_t accepted_on, rejected_on, cancelled_on;
    proto_bytes_t accepter_certificate, accept_signature, accept_payload;
} pki_db_info_t;

/* pki_db_info - one statement; false when org has no such enrollment. */
bool pki_db_info(cmd_t *cmd, int64_t org, const proto_uuid_t *id, pki_db_info_t *out);

/* The pending enrollments, in submission order (one statement). */
void pki_db_list(cmd_t *cmd, int64_t org, pki_db_submission_t **out, size_t *n);

/* pki_db_reject - NOT_FOUND, NO_LONGER_AVAILABLE, or OK once REJECTED at
 * now_us. */
pki_db_status pki_db_reject(cmd_t *cmd, int64_t org, const proto_uuid_t *id, int64_t now_us);

/* pki_db_lock_pending - the enrollment's row locked: NOT_FOUND,
 * NO_LONGER_AVAILABLE, or OK with *row (its _id). */
pki_db_status pki_db_lock_pending(cmd_t *cmd, int64_t org, const proto_uuid_t *id, int64_t *row);

/* An acceptance. */
typedef struct {
    proto_bytes_t certificate; /* accepter_der_x509_certificate */
    proto_bytes_t signature;   /* accept_payload_signature */
    proto_bytes_t payload;     /* accept_payload */
    int64_t accepter;          /* device._id of the caller */
    const char *device_id;     /* the device created for the submitter */
    int64_t accepted_on;
} pki_db_acceptance_t;

/* pki_db_accept - row (locked) becomes ACCEPTED with a's answer. */
void pki_db_accept(cmd_t *cmd, int64_t org, int64_t row, const pki_db_acceptance_t *a);

#endif
