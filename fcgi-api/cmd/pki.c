/*
 * fcgi-api/cmd/pki.c - PKI enrollment: pki_enrollment_submit and
 * pki_enrollment_info (anonymous), pki_enrollment_list, _reject and
 * _accept (authenticated, ADMIN)
 *
 * docs/protocol.md is the contract (6.1, 6.3, and "PKI enrollment: what the
 * server checks"); parsec-2.12-behaviour.md section 16 the behaviour
 * followed, without the cross-organization event (Part 1 item 8).  The
 * server is a mailbox: it keeps the X.509 certificates, signatures and
 * payloads as opaque bytes, checks only that the payloads decode, and
 * creates the accepted user under user_create's rules (user_new.h).  SQL:
 * pki_db.c; tests: tests/integration/test_cmd_pki.c.
 */
#include "cmd.h"
#include "event.h"
#include "log.h"
#include "pki_db.h"
#include "user_db.h"
#include "user_new.h"

#include <string.h>

/* Bounds of the opaque fields (docs/protocol.md). */
#define PKI_X509_MAX      16384
#define PKI_SIGNATURE_MAX 16384
#define PKI_PAYLOAD_MAX   65536
#define PKI_EMAIL_MAX     254
#define PKI_KEY_SIZE      32

static bool publish_updated(cmd_t *cmd)
{
    return event_publish_pki_enrollment_updated(cmd_conn(cmd), cmd->who->org.id,
                                                cmd->who->device.id);
}

/*
 * A payload as JSON text: the submit payload {"type":
 * "pki_enrollment_submit_payload", "verify_key", "public_key",
 * "requested_device_label"}, or the accept payload {"type":
 * "pki_enrollment_answer_payload", "device_id", "device_label",
 * "human_handle", "profile", "root_verify_key"}.  NULL when it decodes,
 * else the reason (arena string).
 */
static const char *payload_error(cmd_t *cmd, const proto_bytes_t *b, bool answer)
{
    const char *why = NULL;
    json_object *obj = proto_json_parse(cmd->arena, b->data, b->len, &why);
    if (!obj)
        return why;
    proto_in_t *in = proto_in_new(cmd->arena, obj, NULL);
    const char *type = NULL, *s = NULL, *email = NULL, *label = NULL;
    const uint8_t *key = NULL;
    proto_str(in, "type", 64, &type);
    if (!answer) {
        proto_bytes_n(in, "verify_key", PKI_KEY_SIZE, &key);
        proto_bytes_n(in, "public_key", PKI_KEY_SIZE, &key);
        proto_device_label(in, "requested_device_label", &s);
    } else {
        static const char *const profiles[] = {"ADMIN", "STANDARD", "OUTSIDER", NULL};
        int profile;
        proto_device_id(in, "device_id", &s);
        if (proto_has(in, "device_label"))
            proto_device_label(in, "device_label", &s);
        if (proto_has(in, "human_handle"))
            proto_human_handle(in, "human_handle", &email, &label);
        proto_enum(in, "profile", profiles, &profile);
        proto_bytes_n(in, "root_verify_key", PKI_KEY_SIZE, &key);
    }
    if (!proto_in_end(in))
        return proto_in_reason(in);
    const char *want = answer ? "pki_enrollment_answer_payload" : "pki_enrollment_submit_payload";
    if (strcmp(type, want) != 0)
        return arena_printf(cmd->arena, "type: expected %s", want);
    return NULL;
}

static cmd_result invalid_payload(cmd_t *cmd, const char *why)
{
    return cmd_refuse_reason(cmd, "invalid_payload_data", why);
}

/* ---------------------------------------------------------------------------
 * pki_enrollment_submit (anonymous)
 */

static cmd_result pki_enrollment_submit(cmd_t *cmd)
{
    pki_db_submission_t s = {0};
    bool force = false;
    proto_uuid(cmd->in, "enrollment_id", &s.enrollment_id);
    proto_bool(cmd->in, "force", &force);
    proto_bytes(cmd->in, "submitter_der_x509_certificate", PKI_X509_MAX, &s.certificate);
    if (proto_has(cmd->in, "submitter_der_x509_certificate_email"))
        proto_str(cmd->in, "submitter_der_x509_certificate_email", PKI_EMAIL_MAX, &s.email);
    proto_bytes(cmd->in, "submit_payload_signature", PKI_SIGNATURE_MAX, &s.signature);
    proto_bytes(cmd->in, "submit_payload", PKI_PAYLOAD_MAX, &s.payload);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);
    /* 1 */
    const char *why = payload_error(cmd, &s.payload, false);
    if (why)
        return invalid_payload(cmd, why);
    /* 2-6, under the organization's lock */
    s.submitted_on = cmd->now_us;
    int64_t org = cmd->who->org._id;
    user_db_status lock = user_db_lock_org(cmd, org, NULL, NULL);
    if (lock != USER_DB_OK)
        return user_new_refuse(cmd, lock, NULL, true);
    int64_t pending_on;
    bool cancelled;
    switch (pki_db_submit(cmd, org, &s, force, &pending_on, &cancelled)) {
    case PKI_DB_OK:
        break;
    case PKI_DB_ID_USED:
        return cmd_refuse(cmd, "enrollment_id_already_used");
    case PKI_DB_ALREADY_SUBMITTED: {
        json_object *reply = proto_reply("already_submitted");
        json_object_object_add(reply, "submitted_on", proto_json_datetime(pending_on));
        return cmd_refuse_json(cmd, reply);
    }
    case PKI_DB_ALREADY_ENROLLED:
        return cmd_refuse(cmd, "already_enrolled");
    case PKI_DB_EMAIL_USED:
        return cmd_refuse(cmd, "email_already_used");
    case PKI_DB_NOT_FOUND:
    case PKI_DB_NO_LONGER_AVAILABLE:
        return cmd_fail(cmd);
    }
    /* one event for the cancellation, one for the submission */
    if ((cancelled && !publish_updated(cmd)) || !publish_updated(cmd))
        return cmd_fail(cmd);
    if (cmd_failed(cmd))
        return CMD_ERROR;
    log_info("pki_enrollment_submit: enrollment %s%s", s.enrollment_id.hex,
             cancelled ? " (the pending one cancelled)" : "");
    json_object *reply = proto_reply("ok");
    json_object_object_add(reply, "submitted_on", proto_json_datetime(s.submitted_on));
    return cmd_ok(cmd, reply);
}

/* ---------------------------------------------------------------------------
 * pki_enrollment_info (anonymous)
 */

static cmd_result pki_enrollment_info(cmd_t *cmd)
{
    proto_uuid_t id;
    proto_uuid(cmd->in, "enrollment_id", &id);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);
    pki_db_info_t i;
    if (!pki_db_info(cmd, cmd->who->org._id, &id, &i))
        return cmd_failed(cmd) ? CMD_ERROR : cmd_refuse_reason(cmd, "not_found", "");
    json_object *reply = proto_reply("ok");
    json_object_object_add(reply, "enrollment_status",
                           json_object_new_string(pki_state_name(i.state)));
    json_object_object_add(reply, "submitted_on", proto_json_datetime(i.submitted_on));
    switch (i.state) {
    case PKI_ACCEPTED:
        json_object_object_add(reply, "accepted_on", proto_json_datetime(i.accepted_on));
        json_object_object_add(
            reply, "accepter_der_x509_certificate",
            proto_json_bytes(i.accepter_certificate.data, i.accepter_certificate.len));
        json_object_object_add(reply, "accept_payload_signature",
                               proto_json_bytes(i.accept_signature.data, i.accept_signature.len));
        json_object_object_add(reply, "accept_payload",
                               proto_json_bytes(i.accept_payload.data, i.accept_payload.len));
        break;
    case PKI_REJECTED:
        json_object_object_add(reply, "rejected_on", proto_json_datetime(i.rejected_on));
        break;
    case PKI_CANCELLED:
        json_object_object_add(reply, "cancelled_on", proto_json_datetime(i.cancelled_on));
        break;
    case PKI_SUBMITTED:
        break;
    }
    return cmd_ok(cmd, reply);
}

/* ---------------------------------------------------------------------------
 * pki_enrollment_list (ADMIN)
 */

static cmd_result pki_enrollment_list(cmd_t *cmd)
{
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);
    pki_db_submission_t *l;
    size_t n;
    pki_db_list(cmd, cmd->who->org._id, &l, &n);
    if (cmd_failed(cmd))
        return CMD_ERROR;
    json_object *items = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "enrollment_id", json_object_new_string(l[i].enrollment_id.hex));
        json_object_object_add(o, "submitted_on", proto_json_datetime(l[i].submitted_on));
        json_object_object_add(o, "submitter_der_x509_certificate",
                               proto_json_bytes(l[i].certificate.data, l[i].certificate.len));
        json_object_object_add(o, "submit_payload_signature",
                               proto_json_bytes(l[i].signature.data, l[i].signature.len));
        json_object_object_add(o, "submit_payload",
                               proto_json_bytes(l[i].payload.data, l[i].payload.len));
        json_object_array_add(items, o);
    }
    json_object *reply = proto_reply("ok");
    json_object_object_add(reply, "enrollments", items);
    return cmd_ok(cmd, reply);
}

/* ---------------------------------------------------------------------------
 * pki_enrollment_reject (ADMIN)
 */

static cmd_result answered(cmd_t *cmd, pki_db_status st)
{
    if (st == PKI_DB_NOT_FOUND)
        return cmd_refuse_reason(cmd, "not_found", "");
    return cmd_refuse_reason(cmd, "no_longer_available", "");
}

static cmd_result pki_enrollment_reject(cmd_t *cmd)
{
    proto_uuid_t id;
    proto_uuid(cmd->in, "enrollment_id", &id);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);
    int64_t org = cmd->who->org._id;
    user_db_status lock = user_db_lock_org(cmd, org, NULL, NULL);
    if (lock != USER_DB_OK)
        return user_new_refuse(cmd, lock, NULL, true);
    pki_db_status st = pki_db_reject(cmd, org, &id, cmd->now_us);
    if (cmd_failed(cmd))
        return CMD_ERROR;
    if (st != PKI_DB_OK)
        return answered(cmd, st);
    if (!publish_updated(cmd))
        return cmd_fail(cmd);
    log_info("pki_enrollment_reject: enrollment %s by %s", id.hex, cmd->who->device.id);
    return cmd_ok_status(cmd);
}

/* ---------------------------------------------------------------------------
 * pki_enrollment_accept (ADMIN)
 */

static cmd_result pki_enrollment_accept(cmd_t *cmd)
{
    proto_uuid_t id;
    pki_db_acceptance_t a = {0};
    proto_bytes_t raw[4];
    proto_uuid(cmd->in, "enrollment_id", &id);
    proto_bytes(cmd->in, "accepter_der_x509_certificate", PKI_X509_MAX, &a.certificate);
    proto_bytes(cmd->in, "accept_payload_signature", PKI_SIGNATURE_MAX, &a.signature);
    proto_bytes(cmd->in, "accept_payload", PKI_PAYLOAD_MAX, &a.payload);
    user_new_read(cmd, raw);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);
    /* 3 */
    const char *why = payload_error(cmd, &a.payload, true);
    if (why)
        return invalid_payload(cmd, why);
    /* 4: the certificates before the lookup, as Parsec */
    user_new_t nu;
    if (user_new_check(cmd, raw, &nu) != CMD_OK)
        return CMD_REFUSED;
    /* 5-8, under the organization's lock */
    user_new_org_t org;
    if (user_new_lock(cmd, &org) != CMD_OK)
        return CMD_REFUSED;
    int64_t row;
    pki_db_status st = pki_db_lock_pending(cmd, cmd->who->org._id, &id, &row);
    if (cmd_failed(cmd))
        return CMD_ERROR;
    if (st != PKI_DB_OK)
        return answered(cmd, st);
    cmd_result r = user_new_create(cmd, &org, &nu, false);
    if (r != CMD_OK)
        return r;
    a.accepter = cmd->who->device._id;
    a.device_id = nu.device.device.device_id;
    a.accepted_on = cmd->now_us;
    pki_db_accept(cmd, cmd->who->org._id, row, &a);
    if (!publish_updated(cmd))
        return cmd_fail(cmd);
    log_info("pki_enrollment_accept: enrollment %s by %s", id.hex, cmd->who->device.id);
    return cmd_ok_status(cmd);
}

const cmd_def_t cmd_family_pki[] = {
    {"pki_enrollment_submit", AUTH_ANONYMOUS, CMD_ANYONE, CMD_TRANSACTION, pki_enrollment_submit},
    {"pki_enrollment_info", AUTH_ANONYMOUS, CMD_ANYONE, CMD_ONE_STATEMENT, pki_enrollment_info},
    {"pki_enrollment_list", AUTH_AUTHENTICATED, CMD_ADMIN, CMD_ONE_STATEMENT, pki_enrollment_list},
    {"pki_enrollment_reject", AUTH_AUTHENTICATED, CMD_ADMIN, CMD_TRANSACTION,
     pki_enrollment_reject},
    {"pki_enrollment_accept", AUTH_AUTHENTICATED, CMD_ADMIN, CMD_TRANSACTION,
     pki_enrollment_accept},
    {0},
};
