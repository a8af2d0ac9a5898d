/*
 * common/event.h - publishing events from inside a command's transaction
 *
 * A FastCGI handler publishes with event_publish() inside its db_tx(): the
 * NOTIFY is delivered to every LISTENing notifyd instance at COMMIT only, so
 * a rolled-back command produces no event.  The payload is a small JSON
 * object of identifiers (never data):
 *
 *   {"o": organization_id, "t": type name, "a": author device id or null,
 *    "n": integer, ...type-specific identifier fields}
 *
 * "n" differs for every call of the process (a counter): PostgreSQL delivers
 * identical payloads NOTIFYed in one transaction only once, so without it
 * two equal events of one command would reach clients as one.  It means
 * nothing else: notifyd checks that it is an integer and ignores it.
 *
 * NOTIFY's 8,000-byte limit is never approached: every field is an id,
 * an index or a short bounded string (ping is bounded by the ping command);
 * a payload over 7,900 bytes is refused, never cut.  Ids and UUIDs are
 * written as docs/protocol.md maps them (UUIDs: 32 lowercase hex).
 * docs/events.md lists each type's fields, who receives it, and what
 * notifyd does with a payload that does not decode (drops it, logs ERROR).
 *
 * Publish revocation, expiry and role changes in the transaction that
 * writes them: notifyd closes a revoked user's or an expired organization's
 * connections, and keeps each connection's realm membership from the
 * realm.roles_updated events (role null for a removal).
 */
#ifndef PARSEC_EVENT_H
#define PARSEC_EVENT_H

#include "db.h"

#include <json-c/json.h>
#include <stdbool.h>

#define EVENT_CHANNEL "parsec_events"

typedef enum {
    /* Pushed to clients (events_listen schema). */
    EVENT_PINGED,                    /* "ping" */
    EVENT_MESSAGE_RECEIVED,          /* "recipient" user id, "index" */
    EVENT_INVITE_STATUS_CHANGED,     /* "greeter" user id, "token", "status" (IDLE|READY|DELETED) */
    EVENT_REALM_ROLES_UPDATED,       /* "realm_id", "user" user id, "role" (null: removed) */
    EVENT_REALM_VLOBS_UPDATED,       /* "realm_id", "checkpoint", "src_id", "src_version" */
    EVENT_REALM_MAINTENANCE_STARTED, /* "realm_id", "encryption_revision" */
    EVENT_REALM_MAINTENANCE_FINISHED, /* "realm_id", "encryption_revision" */
    EVENT_PKI_ENROLLMENT_UPDATED,     /* none */
    /* Acted upon by notifyd itself. */
    EVENT_USER_REVOKED,           /* "user": close that user's connections */
    EVENT_ORGANIZATION_EXPIRED,   /* close every connection of the organization */
    EVENT_INVITE_CONDUIT_UPDATED, /* "token", "greeter" user id: pushed to the greeter */
    EVENT__COUNT
} event_type;

/* event_type_name - "pinged", "message.received", ... ("user.revoked"...). */
const char *event_type_name(event_type t);
/* event_type_from_name - false if unknown. */
bool event_type_from_name(const char *name, event_type *out);

/*
 * event_publish - pg_notify(EVENT_CHANNEL, payload) on c, inside the caller's
 * transaction.  author may be NULL.  fields (may be NULL) holds the
 * type-specific fields; it is borrowed, not freed; it may not set "o", "t",
 * "a" or "n".  False (after a log line) on database error, a reserved field or
 * an oversized payload: the caller's transaction should then fail.
 * Thread-safe (c is the calling thread's).
 */
bool event_publish(db_conn_t *c, const char *organization_id, event_type type, const char *author,
                   json_object *fields) __attribute__((warn_unused_result));

#endif
