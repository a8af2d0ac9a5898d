/*
 * common/event.c - publishing events from inside a command's transaction
 *
 * The payload is built with json-c and handed to pg_notify() as a parameter,
 * so nothing a client sent can change the channel or break the JSON.
 */
#include "event.h"

#include "log.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

/* Indexed by event_type; the names clients and notifyd see. */
static const char *const event_names[EVENT__COUNT] = {
    [EVENT_PINGED] = "pinged",
    [EVENT_MESSAGE_RECEIVED] = "message.received",
    [EVENT_INVITE_STATUS_CHANGED] = "invite.status_changed",
    [EVENT_REALM_ROLES_UPDATED] = "realm.roles_updated",
    [EVENT_REALM_VLOBS_UPDATED] = "realm.vlobs_updated",
    [EVENT_REALM_MAINTENANCE_STARTED] = "realm.maintenance_started",
    [EVENT_REALM_MAINTENANCE_FINISHED] = "realm.maintenance_finished",
    [EVENT_PKI_ENROLLMENT_UPDATED] = "pki_enrollment.updated",
    [EVENT_USER_REVOKED] = "user.revoked",
    [EVENT_ORGANIZATION_EXPIRED] = "organization.expired",
    [EVENT_INVITE_CONDUIT_UPDATED] = "invite.conduit_updated",
};

/* NOTIFY refuses payloads of 8,000 bytes or more; we stay well under. */
#define EVENT_PAYLOAD_MAX 7900

/* "n" of every payload.  PostgreSQL delivers identical payloads sent on one
 * channel in one transaction only once, and a transaction never leaves the
 * process (one connection), so a per-process counter is all it takes to
 * keep two equal events of one command apart.  Atomic: worker threads
 * publish concurrently. */
static _Atomic uint_least64_t event_seq;

static const db_stmt_t stmt_notify = {
    .name = "event_notify",
    .sql = "SELECT pg_notify($1, $2)",
    .nparams = 2,
};

const char *event_type_name(event_type t)
{
    if ((unsigned)t >= EVENT__COUNT)
        return "unknown";
    return event_names[t];
}

bool event_type_from_name(const char *name, event_type *out)
{
    if (!name)
        return false;
    for (int i = 0; i < EVENT__COUNT; i++) {
        if (strcmp(name, event_names[i]) == 0) {
            *out = (event_type)i;
            return true;
        }
    }
    return false;
}

bool event_publish(db_conn_t *c, const char *organization_id, event_type type, const char *author,
                   json_object *fields)
{
    bool ok = false;
    PGresult *res = NULL;
    json_object *obj = json_object_new_object();

    if (!organization_id || (unsigned)type >= EVENT__COUNT) {
        log_error("event_publish: bad arguments");
        goto cleanup;
    }
    json_object_object_add(obj, "o", json_object_new_string(organization_id));
    json_object_object_add(obj, "t", json_object_new_string(event_names[type]));
    json_object_object_add(obj, "a", author ? json_object_new_string(author) : NULL);
    uint_least64_t seq = atomic_fetch_add_explicit(&event_seq, 1, memory_order_relaxed);
    /* INT64_MAX events outlast any process; wrap rather than overflow */
    json_object_object_add(obj, "n", json_object_new_int64((int64_t)(seq & INT64_MAX)));
    if (fields) {
        if (!json_object_is_type(fields, json_type_object)) {
            log_error("event_publish(%s): fields is not an object", event_names[type]);
            goto cleanup;
        }
        json_object_object_foreach(fields, key, val)
        {
            /* The envelope's keys are not the producer's to change. */
            if (!strcmp(key, "o") || !strcmp(key, "t") || !strcmp(key, "a") || !strcmp(key, "n")) {
                log_error("event_publish(%s): field \"%s\" is reserved", event_names[type], key);
                goto cleanup;
            }
            json_object_object_add(obj, key, json_object_get(val));
        }
    }

    size_t len = 0;
    const char *payload = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN, &len);
    if (len > EVENT_PAYLOAD_MAX) {
        log_error("event_publish(%s): payload of %zu bytes exceeds %d", event_names[type], len,
                  EVENT_PAYLOAD_MAX);
        goto cleanup;
    }
    const char *values[2] = {EVENT_CHANNEL, payload};
    res = db_exec(c, &stmt_notify, values, NULL, NULL);
    if (!res)
        goto cleanup;
    ok = PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
        log_error("event_publish(%s): %s", event_names[type], PQresultErrorMessage(res));

cleanup:
    if (res)
        PQclear(res);
    json_object_put(obj);
    return ok;
}
