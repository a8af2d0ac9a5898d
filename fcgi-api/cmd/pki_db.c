/*
 * fcgi-api/cmd/pki_db.c - the SQL of PKI enrollment (see pki_db.h)
 */
#include "pki_db.h"

#include "log.h"

#include <openssl/evp.h>
#include <string.h>

static const char *const state_names[] = {"SUBMITTED", "ACCEPTED", "REJECTED", "CANCELLED"};

const char *pki_state_name(pki_state s)
{
    return state_names[s];
}

static pki_state state_of(const char *text)
{
    for (int i = 0; i < 4; i++)
        if (text && strcmp(text, state_names[i]) == 0)
            return (pki_state)i;
    return PKI_SUBMITTED; /* the CHECK constraint admits no other */
}

/* ---------------------------------------------------------------------------
 * Submission
 *
 * Facts: $1 organization, $2 enrollment id, $3 SHA-1 of the certificate,
 * $4 the certificate, $5 the email (NULL: none).  One row: the id used,
 * the certificate's latest enrollment (_id, state, submitted_on, its
 * created user revoked), the email held by a non-revoked user.
 */
DB_STMT(stmt_submit_facts, "pki_db_submit_facts", 5,
        "SELECT EXISTS (SELECT 1 FROM pki_enrollment WHERE organization = $1::bigint"
        "   AND enrollment_id = $2::uuid),"
        " l._id, l.enrollment_state, l.submitted_on, l.revoked,"
        " $5::text IS NOT NULL AND EXISTS (SELECT 1 FROM user_ WHERE organization = $1::bigint"
        "   AND human_email = $5::text AND revoked_on IS NULL)"
        " FROM (SELECT 1) one LEFT JOIN LATERAL ("
        "  SELECT e._id, e.enrollment_state, e.submitted_on, u.revoked_on IS NOT NULL AS revoked"
        "  FROM pki_enrollment e"
        "  LEFT JOIN device d ON d._id = e.submitter_accepted_device"
        "  LEFT JOIN user_ u ON u._id = d.user_"
        "  WHERE e.organization = $1::bigint AND e.submitter_der_x509_certificate_sha1 = $3::bytea"
        "   AND e.submitter_der_x509_certificate = $4::bytea"
        "  ORDER BY e._id DESC LIMIT 1) l ON true");

/* $1 row, $2 cancelled_on. */
DB_STMT(stmt_cancel, "pki_db_cancel", 2,
        "UPDATE pki_enrollment SET enrollment_state = 'CANCELLED', info_cancelled_on = "
        "$2::timestamptz WHERE _id = $1::bigint");

/* $1 organization, $2 id, $3 certificate, $4 its SHA-1, $5 signature,
 * $6 payload, $7 submitted_on. */
DB_STMT(stmt_insert, "pki_db_insert", 7,
        "INSERT INTO pki_enrollment (organization, enrollment_id, submitter_der_x509_certificate,"
        " submitter_der_x509_certificate_sha1, submit_payload_signature, submit_payload,"
        " submitted_on) VALUES ($1::bigint, $2::uuid, $3::bytea, $4::bytea, $5::bytea, $6::bytea,"
        " $7::timestamptz)");

pki_db_status pki_db_submit(cmd_t *cmd, int64_t org, const pki_db_submission_t *s, bool force,
                            int64_t *pending_on, bool *cancelled)
{
    *pending_on = 0;
    *cancelled = false;
    uint8_t sha1[20];
    unsigned int sha1_len = 0;
    if (EVP_Digest(s->certificate.data, s->certificate.len, sha1, &sha1_len, EVP_sha1(), NULL) !=
            1 ||
        sha1_len != sizeof sha1) {
        log_error("pki_db: SHA-1 failed");
        cmd_fail(cmd);
        return PKI_DB_OK;
    }
    bool email = s->email && *s->email;
    db_res_t *r =
        CMD_RUN(cmd, &stmt_submit_facts, DB_I64(org), DB_UUID(s->enrollment_id.bytes),
                DB_BYTES(sha1, sizeof sha1), DB_BYTES(s->certificate.data, s->certificate.len),
                email ? DB_TEXT(s->email) : DB_NULL);
    if (db_nrows(r) != 1)
        return PKI_DB_OK; /* failed: the kit answers 500 */
    if (db_get_bool(r, 0, 0))
        return PKI_DB_ID_USED;
    if (!db_is_null(r, 0, 1)) {
        switch (state_of(db_get_str(r, 0, 2))) {
        case PKI_SUBMITTED:
            if (!force) {
                *pending_on = db_get_ts(r, 0, 3);
                return PKI_DB_ALREADY_SUBMITTED;
            }
            CMD_RUN(cmd, &stmt_cancel, DB_I64(db_get_i64(r, 0, 1)), DB_TS(s->submitted_on));
            *cancelled = true;
            break;
        case PKI_ACCEPTED:
            if (!db_get_bool(r, 0, 4))
                return PKI_DB_ALREADY_ENROLLED;
            break;
        case PKI_REJECTED:
        case PKI_CANCELLED:
            break;
        }
    }
    if (db_get_bool(r, 0, 5))
        return PKI_DB_EMAIL_USED; /* the cancellation is rolled back with it */
    CMD_RUN(cmd, &stmt_insert, DB_I64(org), DB_UUID(s->enrollment_id.bytes),
            DB_BYTES(s->certificate.data, s->certificate.len), DB_BYTES(sha1, sizeof sha1),
            DB_BYTES(s->signature.data, s->signature.len),
            DB_BYTES(s->payload.data, s->payload.len), DB_TS(s->submitted_on));
    return PKI_DB_OK;
}

/* ---------------------------------------------------------------------------
 * Reads
 */

/* $1 organization, $2 id. */
DB_STMT(stmt_info, "pki_db_info", 2,
        "SELECT enrollment_state, submitted_on, info_accepted_on, info_rejected_on,"
        " info_cancelled_on, info_accepted_accepter_der_x509_certificate,"
        " info_accepted_payload_signature, info_accepted_payload"
        " FROM pki_enrollment WHERE organization = $1::bigint AND enrollment_id = $2::uuid");

bool pki_db_info(cmd_t *cmd, int64_t org, const proto_uuid_t *id, pki_db_info_t *out)
{
    memset(out, 0, sizeof *out);
    db_res_t *r = CMD_RUN(cmd, &stmt_info, DB_I64(org), DB_UUID(id->bytes));
    if (db_nrows(r) != 1)
        return false;
    out->state = state_of(db_get_str(r, 0, 0));
    out->submitted_on = db_get_ts(r, 0, 1);
    out->accepted_on = db_get_ts(r, 0, 2);
    out->rejected_on = db_get_ts(r, 0, 3);
    out->cancelled_on = db_get_ts(r, 0, 4);
    out->accepter_certificate.data = db_get_bytes(r, 0, 5, &out->accepter_certificate.len);
    out->accept_signature.data = db_get_bytes(r, 0, 6, &out->accept_signature.len);
    out->accept_payload.data = db_get_bytes(r, 0, 7, &out->accept_payload.len);
    return true;
}

/* $1 organization: the partial index pki_enrollment_pending (0005). */
DB_STMT(stmt_list, "pki_db_list", 1,
        "SELECT encode(uuid_send(enrollment_id), 'hex'), submitted_on,"
        " submitter_der_x509_certificate, submit_payload_signature, submit_payload"
        " FROM pki_enrollment WHERE organization = $1::bigint AND enrollment_state = 'SUBMITTED'"
        " ORDER BY submitted_on, _id");

void pki_db_list(cmd_t *cmd, int64_t org, pki_db_submission_t **out, size_t *n)
{
    db_res_t *r = CMD_RUN(cmd, &stmt_list, DB_I64(org));
    size_t rows = db_nrows(r);
    pki_db_submission_t *l = arena_zalloc(cmd->arena, (rows ? rows : 1) * sizeof *l);
    size_t k = 0;
    for (size_t i = 0; i < rows; i++) {
        const char *hex = db_get_str(r, i, 0);
        if (!hex || !proto_uuid_parse(hex, strlen(hex), &l[k].enrollment_id)) {
            log_error("pki_db: unexpected enrollment id in the database");
            cmd_fail(cmd);
            break;
        }
        l[k].submitted_on = db_get_ts(r, i, 1);
        l[k].certificate.data = db_get_bytes(r, i, 2, &l[k].certificate.len);
        l[k].signature.data = db_get_bytes(r, i, 3, &l[k].signature.len);
        l[k].payload.data = db_get_bytes(r, i, 4, &l[k].payload.len);
        k++;
    }
    *out = l;
    *n = k;
}

/* ---------------------------------------------------------------------------
 * Answers
 */

/* $1 organization, $2 id: the row, locked. */
DB_STMT(stmt_lock, "pki_db_lock", 2,
        "SELECT _id, enrollment_state FROM pki_enrollment"
        " WHERE organization = $1::bigint AND enrollment_id = $2::uuid FOR UPDATE");

pki_db_status pki_db_lock_pending(cmd_t *cmd, int64_t org, const proto_uuid_t *id, int64_t *row)
{
    *row = 0;
    db_res_t *r = CMD_RUN(cmd, &stmt_lock, DB_I64(org), DB_UUID(id->bytes));
    if (db_nrows(r) != 1)
        return PKI_DB_NOT_FOUND;
    if (state_of(db_get_str(r, 0, 1)) != PKI_SUBMITTED)
        return PKI_DB_NO_LONGER_AVAILABLE;
    *row = db_get_i64(r, 0, 0);
    return PKI_DB_OK;
}

/* $1 row, $2 rejected_on. */
DB_STMT(stmt_reject, "pki_db_reject", 2,
        "UPDATE pki_enrollment SET enrollment_state = 'REJECTED', info_rejected_on = "
        "$2::timestamptz WHERE _id = $1::bigint");

pki_db_status pki_db_reject(cmd_t *cmd, int64_t org, const proto_uuid_t *id, int64_t now_us)
{
    int64_t row;
    pki_db_status st = pki_db_lock_pending(cmd, org, id, &row);
    if (st == PKI_DB_OK)
        CMD_RUN(cmd, &stmt_reject, DB_I64(row), DB_TS(now_us));
    return st;
}

/* $1 row, $2 organization, $3 accepted_on, $4 accepter's certificate,
 * $5 signature, $6 payload, $7 accepter, $8 the new device's id. */
DB_STMT(stmt_accept, "pki_db_accept", 8,
        "UPDATE pki_enrollment SET enrollment_state = 'ACCEPTED',"
        " info_accepted_on = $3::timestamptz,"
        " info_accepted_accepter_der_x509_certificate = $4::bytea,"
        " info_accepted_payload_signature = $5::bytea, info_accepted_payload = $6::bytea,"
        " accepter = $7::bigint,"
        " submitter_accepted_device = (SELECT _id FROM device WHERE organization = $2::bigint"
        "  AND device_id = $8::text)"
        " WHERE _id = $1::bigint");

void pki_db_accept(cmd_t *cmd, int64_t org, int64_t row, const pki_db_acceptance_t *a)
{
    CMD_RUN(cmd, &stmt_accept, DB_I64(row), DB_I64(org), DB_TS(a->accepted_on),
            DB_BYTES(a->certificate.data, a->certificate.len),
            DB_BYTES(a->signature.data, a->signature.len),
            DB_BYTES(a->payload.data, a->payload.len), DB_I64(a->accepter), DB_TEXT(a->device_id));
}
