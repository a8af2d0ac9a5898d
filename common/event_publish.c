/*
 * common/event_publish.c - publishing events from inside a command's
 * transaction: pg_notify() of the payload common/event.c encodes, and one
 * typed publisher per event type
 *
 * The payload is handed to pg_notify() as a parameter, so nothing a client
 * sent can change the channel or break the JSON.
 */
#include "db.h"
#include "event.h"
#include "event_batch.h"
#include "log.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* "n" of every payload.  PostgreSQL delivers identical payloads sent on one
 * channel in one transaction only once, and a transaction never leaves the
 * process (one connection), so a per-process counter is all it takes to
 * keep two equal events of one command apart.  Atomic: worker threads
 * publish concurrently. */
static _Atomic uint_least64_t event_seq;

DB_STMT(stmt_notify, "event_notify", 2, "SELECT pg_notify($1, $2)");

bool event_publish(db_conn_t *c, const event_t *ev)
{
    const char *why = NULL;
    uint_least64_t seq = atomic_fetch_add_explicit(&event_seq, 1, memory_order_relaxed);
    char *payload = event_encode(ev, seq, NULL, &why);
    if (!payload) {
        log_error("event_publish(%s): %s", event_type_name(ev->type), why);
        return false;
    }
    const char *values[2] = {EVENT_CHANNEL, payload};
    PGresult *res = db_exec(c, &stmt_notify, values, NULL, NULL);
    bool ok = res && PQresultStatus(res) == PGRES_TUPLES_OK;
    if (res && !ok)
        log_error("event_publish(%s): %s", event_type_name(ev->type), PQresultErrorMessage(res));
    if (res)
        PQclear(res);
    free(payload);
    return ok;
}

bool event_queue(db_pipe_t *p, const event_t *ev)
{
    if (!p)
        return false;
    const char *why = NULL;
    uint_least64_t seq = atomic_fetch_add_explicit(&event_seq, 1, memory_order_relaxed);
    char *payload = event_encode(ev, seq, NULL, &why);
    if (!payload) {
        log_error("event_queue(%s): %s", event_type_name(ev->type), why);
        return false;
    }
    const char *text = arena_strdup(db_pipe_arena(p), payload);
    free(payload);
    (void)DB_PIPE_ADD(p, &stmt_notify, DB_TEXT(EVENT_CHANNEL), DB_TEXT(text));
    return true;
}

bool event_post(const event_t *ev)
{
    const char *why = NULL;
    uint_least64_t seq = atomic_fetch_add_explicit(&event_seq, 1, memory_order_relaxed);
    char *payload = event_encode(ev, seq, NULL, &why);
    if (!payload) {
        log_error("event_post(%s): %s", event_type_name(ev->type), why);
        return false;
    }
    bool ok = event_batch_post(payload);
    free(payload);
    return ok;
}

/* ---- typed publishers ------------------------------------------------------ */

bool event_publish_pinged(db_conn_t *c, const char *org, const char *author, const char *ping)
{
    event_t ev = {.type = EVENT_PINGED, .org = org, .author = author, .ping = ping};
    return event_publish(c, &ev);
}

bool event_publish_message_received(db_conn_t *c, const char *org, const char *author,
                                    const char *recipient, int64_t index)
{
    event_t ev = {.type = EVENT_MESSAGE_RECEIVED,
                  .org = org,
                  .author = author,
                  .user = recipient,
                  .index = index};
    return event_publish(c, &ev);
}

bool event_publish_invite_status_changed(db_conn_t *c, const char *org, const char *author,
                                         const char *greeter, const uint8_t token[16],
                                         event_invitation_status status)
{
    event_t ev = {.type = EVENT_INVITE_STATUS_CHANGED,
                  .org = org,
                  .author = author,
                  .user = greeter,
                  .invitation_status = status};
    memcpy(ev.token, token, sizeof ev.token);
    return event_publish(c, &ev);
}

bool event_publish_invite_conduit_updated(db_conn_t *c, const char *org, const char *author,
                                          const char *greeter, const uint8_t token[16])
{
    event_t ev = {
        .type = EVENT_INVITE_CONDUIT_UPDATED, .org = org, .author = author, .user = greeter};
    memcpy(ev.token, token, sizeof ev.token);
    return event_publish(c, &ev);
}

bool event_publish_realm_roles_updated(db_conn_t *c, const char *org, const char *author,
                                       const uint8_t realm_id[16], const char *user,
                                       event_realm_role role)
{
    event_t ev = {.type = EVENT_REALM_ROLES_UPDATED,
                  .org = org,
                  .author = author,
                  .user = user,
                  .role = role};
    memcpy(ev.realm_id, realm_id, sizeof ev.realm_id);
    return event_publish(c, &ev);
}

static event_t vlobs_updated(const char *org, const char *author, const uint8_t realm_id[16],
                             int64_t checkpoint, const uint8_t src_id[16], int64_t src_version)
{
    event_t ev = {.type = EVENT_REALM_VLOBS_UPDATED,
                  .org = org,
                  .author = author,
                  .checkpoint = checkpoint,
                  .src_version = src_version};
    memcpy(ev.realm_id, realm_id, sizeof ev.realm_id);
    memcpy(ev.src_id, src_id, sizeof ev.src_id);
    return ev;
}

bool event_publish_realm_vlobs_updated(db_conn_t *c, const char *org, const char *author,
                                       const uint8_t realm_id[16], int64_t checkpoint,
                                       const uint8_t src_id[16], int64_t src_version)
{
    event_t ev = vlobs_updated(org, author, realm_id, checkpoint, src_id, src_version);
    return event_publish(c, &ev);
}

bool event_queue_realm_vlobs_updated(db_pipe_t *p, const char *org, const char *author,
                                     const uint8_t realm_id[16], int64_t checkpoint,
                                     const uint8_t src_id[16], int64_t src_version)
{
    event_t ev = vlobs_updated(org, author, realm_id, checkpoint, src_id, src_version);
    return event_queue(p, &ev);
}

/* Both maintenance events carry the same fields. */
static bool publish_maintenance(db_conn_t *c, event_type type, const char *org, const char *author,
                                const uint8_t realm_id[16], int64_t encryption_revision)
{
    event_t ev = {
        .type = type, .org = org, .author = author, .encryption_revision = encryption_revision};
    memcpy(ev.realm_id, realm_id, sizeof ev.realm_id);
    return event_publish(c, &ev);
}

bool event_publish_realm_maintenance_started(db_conn_t *c, const char *org, const char *author,
                                             const uint8_t realm_id[16],
                                             int64_t encryption_revision)
{
    return publish_maintenance(c, EVENT_REALM_MAINTENANCE_STARTED, org, author, realm_id,
                               encryption_revision);
}

bool event_publish_realm_maintenance_finished(db_conn_t *c, const char *org, const char *author,
                                              const uint8_t realm_id[16],
                                              int64_t encryption_revision)
{
    return publish_maintenance(c, EVENT_REALM_MAINTENANCE_FINISHED, org, author, realm_id,
                               encryption_revision);
}

bool event_publish_pki_enrollment_updated(db_conn_t *c, const char *org, const char *author)
{
    event_t ev = {.type = EVENT_PKI_ENROLLMENT_UPDATED, .org = org, .author = author};
    return event_publish(c, &ev);
}

bool event_publish_user_revoked(db_conn_t *c, const char *org, const char *author, const char *user)
{
    event_t ev = {.type = EVENT_USER_REVOKED, .org = org, .author = author, .user = user};
    return event_publish(c, &ev);
}

bool event_publish_organization_expired(db_conn_t *c, const char *org, const char *author)
{
    event_t ev = {.type = EVENT_ORGANIZATION_EXPIRED, .org = org, .author = author};
    return event_publish(c, &ev);
}
