/*
 * common/event.h - remote-change events: their one definition, the NOTIFY
 * payload codec, and the typed publishers
 *
 * An event is an event_t: the envelope (organization, type, author) and the
 * fields of its type.  Which fields each type carries, under which payload
 * key, with which type, and under which key clients receive them is ONE
 * table in common/event.c; the encoder (producers), the strict decoder
 * (notifyd) and the builder of the clients' JSON (notifyd) all walk that
 * table, so a field cannot be written one way and read another.
 *
 * A FastCGI handler publishes with the typed event_publish_<type>() inside
 * its db_tx(): pg_notify() is delivered to every LISTENing notifyd at COMMIT
 * only, so a rolled-back command produces no event.  The payload is a small
 * JSON object of identifiers (never data):
 *
 *   {"o": organization_id, "t": type name, "a": author device id or null,
 *    "n": integer, ...the type's fields}
 *
 * "n" differs for every publish of the process (a counter): PostgreSQL
 * delivers identical payloads NOTIFYed in one transaction only once, so
 * without it two equal events of one command would reach clients as one.
 * It means nothing else: notifyd checks that it is an integer and ignores it.
 *
 * NOTIFY's 8,000-byte limit is never approached: every field is an id, an
 * index or a short bounded string (ping is bounded by the ping command); a
 * payload over EVENT_PAYLOAD_MAX bytes is refused, never cut.  Ids are
 * written as docs/protocol.md maps them (UUIDs: 32 lowercase hex).
 * docs/events.md lists each type's fields, who receives it, and what
 * notifyd does with a payload that does not decode (drops it, logs ERROR).
 *
 * Publish revocation, expiry and role changes in the transaction that
 * writes them: notifyd closes a revoked user's or an expired organization's
 * connections, and keeps each connection's realm membership from the
 * realm.roles_updated events (role EVENT_ROLE_NONE for a removal).
 *
 * Thread-safety: everything here may be called from any thread (the
 * publishers on the calling thread's connection).
 */
#ifndef PARSEC_EVENT_H
#define PARSEC_EVENT_H

#include "arena.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVENT_CHANNEL "parsec_events"
/* NOTIFY refuses payloads of 8,000 bytes or more; we stay well under. */
#define EVENT_PAYLOAD_MAX 7900

typedef enum {
    /* Pushed to clients (events_listen schema). */
    EVENT_PINGED,
    EVENT_MESSAGE_RECEIVED,
    EVENT_INVITE_STATUS_CHANGED,
    EVENT_REALM_ROLES_UPDATED,
    EVENT_REALM_VLOBS_UPDATED,
    EVENT_REALM_MAINTENANCE_STARTED,
    EVENT_REALM_MAINTENANCE_FINISHED,
    EVENT_PKI_ENROLLMENT_UPDATED,
    /* Acted upon by notifyd itself. */
    EVENT_USER_REVOKED,         /* close that user's connections */
    EVENT_ORGANIZATION_EXPIRED, /* close every connection of the organization */
    /* Pushed to the greeter (not in Parsec 2.12). */
    EVENT_INVITE_CONDUIT_UPDATED,
    EVENT__COUNT
} event_type;

/* invite.status_changed's status (payload and clients: IDLE, READY, DELETED). */
typedef enum {
    EVENT_INVITATION_IDLE,
    EVENT_INVITATION_READY,
    EVENT_INVITATION_DELETED,
    EVENT_INVITATION__COUNT
} event_invitation_status;

/* realm.roles_updated's role; EVENT_ROLE_NONE is JSON null: the role was
 * removed. */
typedef enum {
    EVENT_ROLE_NONE,
    EVENT_ROLE_OWNER,
    EVENT_ROLE_MANAGER,
    EVENT_ROLE_CONTRIBUTOR,
    EVENT_ROLE_READER,
    EVENT_ROLE__COUNT
} event_realm_role;

/*
 * One event.  The envelope, then every field some type carries; a type
 * uses the ones its table line names (docs/events.md, "Producers"), the
 * others stay zero.  Strings are borrowed (the caller's when publishing,
 * the decoding arena's when decoded).
 */
typedef struct {
    event_type type;
    const char *org;    /* organization id */
    const char *author; /* device id, or NULL */
    /* message.received: recipient; invite.*: greeter; realm.roles_updated:
     * the user whose role changed; user.revoked: the revoked user */
    const char *user;
    const char *ping;            /* pinged */
    uint8_t realm_id[16];        /* realm.* */
    uint8_t token[16];           /* invite.* */
    uint8_t src_id[16];          /* realm.vlobs_updated */
    int64_t index;               /* message.received */
    int64_t checkpoint;          /* realm.vlobs_updated */
    int64_t src_version;         /* realm.vlobs_updated */
    int64_t encryption_revision; /* realm.maintenance_* */
    event_invitation_status invitation_status;
    event_realm_role role;
} event_t;

/* event_type_name - "pinged", "message.received", ... ("unknown" out of range). */
const char *event_type_name(event_type t);
/* event_type_from_name - false if unknown. */
bool event_type_from_name(const char *name, event_type *out);
/* event_is_pushed - do clients receive this type (not user.revoked and
 * organization.expired, which notifyd acts upon)? */
bool event_is_pushed(event_type t);

/*
 * event_encode - the NOTIFY payload of ev, with "n" = seq (any value; it is
 * written modulo INT64_MAX, so the decoder's range always holds).  Every field is checked as the
 * decoder will check it (identifier formats, UTF-8, non-negative integers, known enum values), so
 * an encoded payload always decodes.  Returns malloc'd JSON text (its length in *len when not
 * NULL), or NULL with a static reason in *why on an invalid field or a payload over
 * EVENT_PAYLOAD_MAX.
 */
char *event_encode(const event_t *ev, uint64_t seq, size_t *len, const char **why);

/*
 * event_decode - strictly decode a NOTIFY payload into *ev: the envelope
 * ("n" optional, so a payload written by hand still decodes) and exactly
 * the fields of its type, no other.  Strings in ev live in arena a.  False
 * with a reason (arena or static) in *why otherwise.
 */
bool event_decode(arena_t *a, const char *payload, size_t len, event_t *ev, const char **why);

/*
 * event_client_json - the message clients receive for ev:
 * {"status": "ok", "event": name, ...the type's client fields}.  ev is a
 * decoded event (or one event_encode() accepts).  A new object for the
 * caller, or NULL for a type that is not pushed.
 */
json_object *event_client_json(const event_t *ev);

/* ---- publishing (common/event_publish.c) ---------------------------------- */

typedef struct db_conn db_conn_t;

/*
 * event_publish - pg_notify(EVENT_CHANNEL, event_encode(ev)) on c, inside
 * the caller's transaction.  False (after a log line) on an invalid event
 * or a database error: the caller's transaction should then fail.
 */
bool event_publish(db_conn_t *c, const event_t *ev) __attribute__((warn_unused_result));

typedef struct db_pipe db_pipe_t;

/*
 * event_queue - event_publish() queued on pipeline p (common/db.h): the
 * pg_notify() goes with p's next round trip, in the transaction p's
 * statements run in (a write's, sent with its COMMIT).  The payload is
 * copied into p's arena.  False (after a log line) on an invalid event or
 * p NULL; a database error is p's, at its send.
 */
bool event_queue(db_pipe_t *p, const event_t *ev) __attribute__((warn_unused_result));

/*
 * event_post - queue ev for the worker's event batch (common/event_batch.h),
 * published with others in one commit shortly after: for an event that
 * belongs to no transaction (pinged).  False when the batch cannot take it
 * (not running, full, invalid event): publish it with event_publish() then,
 * so it is never lost.
 */
bool event_post(const event_t *ev) __attribute__((warn_unused_result));

/*
 * The typed publishers: one per type, the fields as arguments; each is
 * event_publish() of the event they make.  author (a device id) may be NULL
 * when no device caused the event (the administration API).
 */
bool event_publish_pinged(db_conn_t *c, const char *org, const char *author, const char *ping)
    __attribute__((warn_unused_result));
bool event_publish_message_received(db_conn_t *c, const char *org, const char *author,
                                    const char *recipient, int64_t index)
    __attribute__((warn_unused_result));
bool event_publish_invite_status_changed(db_conn_t *c, const char *org, const char *author,
                                         const char *greeter, const uint8_t token[16],
                                         event_invitation_status status)
    __attribute__((warn_unused_result));
bool event_publish_invite_conduit_updated(db_conn_t *c, const char *org, const char *author,
                                          const char *greeter, const uint8_t token[16])
    __attribute__((warn_unused_result));
/* role EVENT_ROLE_NONE: the user's role was removed */
bool event_publish_realm_roles_updated(db_conn_t *c, const char *org, const char *author,
                                       const uint8_t realm_id[16], const char *user,
                                       event_realm_role role) __attribute__((warn_unused_result));
bool event_publish_realm_vlobs_updated(db_conn_t *c, const char *org, const char *author,
                                       const uint8_t realm_id[16], int64_t checkpoint,
                                       const uint8_t src_id[16], int64_t src_version)
    __attribute__((warn_unused_result));
/* event_queue() of realm.vlobs_updated (a vlob write's pipeline) */
bool event_queue_realm_vlobs_updated(db_pipe_t *p, const char *org, const char *author,
                                     const uint8_t realm_id[16], int64_t checkpoint,
                                     const uint8_t src_id[16], int64_t src_version)
    __attribute__((warn_unused_result));
bool event_publish_realm_maintenance_started(db_conn_t *c, const char *org, const char *author,
                                             const uint8_t realm_id[16],
                                             int64_t encryption_revision)
    __attribute__((warn_unused_result));
bool event_publish_realm_maintenance_finished(db_conn_t *c, const char *org, const char *author,
                                              const uint8_t realm_id[16],
                                              int64_t encryption_revision)
    __attribute__((warn_unused_result));
bool event_publish_pki_enrollment_updated(db_conn_t *c, const char *org, const char *author)
    __attribute__((warn_unused_result));
bool event_publish_user_revoked(db_conn_t *c, const char *org, const char *author, const char *user)
    __attribute__((warn_unused_result));
bool event_publish_organization_expired(db_conn_t *c, const char *org, const char *author)
    __attribute__((warn_unused_result));

#endif
