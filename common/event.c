/*
 * common/event.c - the one definition of every event's fields, and the
 * codec that walks it: the NOTIFY payload (encode for producers, strict
 * decode for notifyd) and the message clients receive
 *
 * Pure: no database, no I/O.  Publishing is common/event_publish.c.
 */
#include "event.h"

#include "proto.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* How a field is typed, in the payload and in event_t. */
typedef enum {
    EF_USER,   /* const char *, a user id */
    EF_TEXT,   /* const char *, UTF-8 text (the ping) */
    EF_UUID,   /* uint8_t[16], 32 lowercase hex */
    EF_INT,    /* int64_t, 0 .. INT64_MAX - 1 */
    EF_STATUS, /* event_invitation_status, its name */
    EF_ROLE,   /* event_realm_role, its name or null (EVENT_ROLE_NONE) */
} field_kind;

typedef struct {
    const char *key; /* in the NOTIFY payload */
    field_kind kind;
    size_t offset;      /* in event_t */
    const char *client; /* in the clients' message; NULL: not sent to them */
} field_def;

#define FIELD(key, kind, member, client)                                                           \
    {                                                                                              \
        key, kind, offsetof(event_t, member), client                                               \
    }
#define FIELDS_MAX 4

typedef struct {
    const char *name; /* the type's name, in payloads and clients' messages */
    bool pushed;      /* clients receive it */
    field_def fields[FIELDS_MAX];
} type_def;

/*
 * THE table: docs/events.md's two tables ("Events" for clients, "Producers"
 * for the payload) are this, in words.  Clients receive the fields with a
 * client key, in this order, after "status" and "event".
 */
static const type_def types[EVENT__COUNT] = {
    [EVENT_PINGED] = {"pinged", true, {FIELD("ping", EF_TEXT, ping, "ping")}},
    [EVENT_MESSAGE_RECEIVED] = {"message.received",
                                true,
                                {FIELD("recipient", EF_USER, user, NULL),
                                 FIELD("index", EF_INT, index, "index")}},
    [EVENT_INVITE_STATUS_CHANGED] = {"invite.status_changed",
                                     true,
                                     {FIELD("greeter", EF_USER, user, NULL),
                                      FIELD("token", EF_UUID, token, "token"),
                                      FIELD("status", EF_STATUS, invitation_status,
                                            "invitation_status")}},
    [EVENT_REALM_ROLES_UPDATED] = {"realm.roles_updated",
                                   true,
                                   {FIELD("realm_id", EF_UUID, realm_id, "realm_id"),
                                    FIELD("user", EF_USER, user, NULL),
                                    FIELD("role", EF_ROLE, role, "role")}},
    [EVENT_REALM_VLOBS_UPDATED] = {"realm.vlobs_updated",
                                   true,
                                   {FIELD("realm_id", EF_UUID, realm_id, "realm_id"),
                                    FIELD("checkpoint", EF_INT, checkpoint, "checkpoint"),
                                    FIELD("src_id", EF_UUID, src_id, "src_id"),
                                    FIELD("src_version", EF_INT, src_version, "src_version")}},
    [EVENT_REALM_MAINTENANCE_STARTED] = {"realm.maintenance_started",
                                         true,
                                         {FIELD("realm_id", EF_UUID, realm_id, "realm_id"),
                                          FIELD("encryption_revision", EF_INT, encryption_revision,
                                                "encryption_revision")}},
    [EVENT_REALM_MAINTENANCE_FINISHED] = {"realm.maintenance_finished",
                                          true,
                                          {FIELD("realm_id", EF_UUID, realm_id, "realm_id"),
                                           FIELD("encryption_revision", EF_INT, encryption_revision,
                                                 "encryption_revision")}},
    [EVENT_PKI_ENROLLMENT_UPDATED] = {"pki_enrollment.updated", true, {{0}}},
    [EVENT_USER_REVOKED] = {"user.revoked", false, {FIELD("user", EF_USER, user, NULL)}},
    [EVENT_ORGANIZATION_EXPIRED] = {"organization.expired", false, {{0}}},
    [EVENT_INVITE_CONDUIT_UPDATED] = {"invite.conduit_updated",
                                      true,
                                      {FIELD("greeter", EF_USER, user, NULL),
                                       FIELD("token", EF_UUID, token, "token")}},
};

static const char *const status_names[EVENT_INVITATION__COUNT + 1] = {
    [EVENT_INVITATION_IDLE] = "IDLE",
    [EVENT_INVITATION_READY] = "READY",
    [EVENT_INVITATION_DELETED] = "DELETED",
};
/* Indexed by event_realm_role - 1 (EVENT_ROLE_NONE is null). */
static const char *const role_names[EVENT_ROLE__COUNT] = {"OWNER", "MANAGER", "CONTRIBUTOR",
                                                          "READER", NULL};

/* Field access through the table's offsets. */
#define AT(ev, f, type)  ((type *)((char *)(ev) + (f)->offset))
#define CAT(ev, f, type) ((const type *)((const char *)(ev) + (f)->offset))

const char *event_type_name(event_type t)
{
    if ((unsigned)t >= EVENT__COUNT)
        return "unknown";
    return types[t].name;
}

bool event_type_from_name(const char *name, event_type *out)
{
    if (!name)
        return false;
    for (int i = 0; i < EVENT__COUNT; i++) {
        if (strcmp(name, types[i].name) == 0) {
            *out = (event_type)i;
            return true;
        }
    }
    return false;
}

bool event_is_pushed(event_type t)
{
    return (unsigned)t < EVENT__COUNT && types[t].pushed;
}

/* ---- encoding --------------------------------------------------------------- */

/* The value of field f of ev as JSON, or NULL with *why when it would not
 * decode.  *is_null: the NULL result is JSON null (a removed role), not an
 * error. */
static json_object *encode_field(const event_t *ev, const field_def *f, bool *is_null,
                                 const char **why)
{
    *is_null = false;
    switch (f->kind) {
    case EF_USER: {
        const char *s = *CAT(ev, f, const char *);
        if (!s || !proto_valid_user_id(s)) {
            *why = "a user id field is missing or malformed";
            return NULL;
        }
        return json_object_new_string(s);
    }
    case EF_TEXT: {
        const char *s = *CAT(ev, f, const char *);
        if (!s || !proto_valid_utf8(s, strlen(s))) {
            *why = "a text field is missing or not UTF-8";
            return NULL;
        }
        return json_object_new_string(s);
    }
    case EF_UUID:
        return proto_json_uuid(CAT(ev, f, uint8_t));
    case EF_INT: {
        int64_t v = *CAT(ev, f, int64_t);
        if (v < 0 || v == INT64_MAX) {
            *why = "an integer field is out of range";
            return NULL;
        }
        return json_object_new_int64(v);
    }
    case EF_STATUS: {
        event_invitation_status v = *CAT(ev, f, event_invitation_status);
        if ((unsigned)v >= EVENT_INVITATION__COUNT) {
            *why = "unknown invitation status";
            return NULL;
        }
        return json_object_new_string(status_names[v]);
    }
    case EF_ROLE: {
        event_realm_role v = *CAT(ev, f, event_realm_role);
        if ((unsigned)v >= EVENT_ROLE__COUNT) {
            *why = "unknown realm role";
            return NULL;
        }
        *is_null = v == EVENT_ROLE_NONE;
        return *is_null ? NULL : json_object_new_string(role_names[v - 1]);
    }
    }
    *why = "unknown field kind";
    return NULL;
}

char *event_encode(const event_t *ev, uint64_t seq, size_t *len, const char **why)
{
    char *out = NULL;
    json_object *obj = json_object_new_object();

    if ((unsigned)ev->type >= EVENT__COUNT) {
        *why = "unknown event type";
        goto cleanup;
    }
    if (!ev->org || !proto_valid_organization_id(ev->org)) {
        *why = "the organization id is missing or malformed";
        goto cleanup;
    }
    if (ev->author && !proto_valid_device_id(ev->author)) {
        *why = "the author is not a device id";
        goto cleanup;
    }
    const type_def *t = &types[ev->type];
    json_object_object_add(obj, "o", json_object_new_string(ev->org));
    json_object_object_add(obj, "t", json_object_new_string(t->name));
    json_object_object_add(obj, "a", ev->author ? json_object_new_string(ev->author) : NULL);
    json_object_object_add(obj, "n", json_object_new_int64((int64_t)(seq % INT64_MAX)));
    for (const field_def *f = t->fields; f < t->fields + FIELDS_MAX && f->key; f++) {
        bool is_null;
        json_object *v = encode_field(ev, f, &is_null, why);
        if (!v && !is_null)
            goto cleanup;
        json_object_object_add(obj, f->key, v);
    }
    size_t n = 0;
    const char *text = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN, &n);
    if (n > EVENT_PAYLOAD_MAX) {
        *why = "the payload exceeds EVENT_PAYLOAD_MAX bytes";
        goto cleanup;
    }
    out = strdup(text);
    if (!out) {
        *why = "out of memory";
        goto cleanup;
    }
    if (len)
        *len = n;

cleanup:
    json_object_put(obj);
    return out;
}

/* ---- decoding --------------------------------------------------------------- */

static bool decode_field(proto_in_t *in, event_t *ev, const field_def *f)
{
    switch (f->kind) {
    case EF_USER:
        return proto_user_id(in, f->key, AT(ev, f, const char *));
    case EF_TEXT:
        return proto_str(in, f->key, EVENT_PAYLOAD_MAX, AT(ev, f, const char *));
    case EF_UUID: {
        proto_uuid_t id;
        if (!proto_uuid(in, f->key, &id))
            return false;
        memcpy(AT(ev, f, uint8_t), id.bytes, 16);
        return true;
    }
    case EF_INT:
        return proto_int(in, f->key, 0, INT64_MAX - 1, AT(ev, f, int64_t));
    case EF_STATUS: {
        int idx = 0;
        if (!proto_enum(in, f->key, status_names, &idx))
            return false;
        *AT(ev, f, event_invitation_status) = (event_invitation_status)idx;
        return true;
    }
    case EF_ROLE: {
        /* Required, and null means removed: present-and-null is not the
         * same as absent here. */
        int idx = 0;
        if (!json_object_object_get_ex(proto_in_json(in), f->key, NULL)) {
            proto_in_fail(in, f->key, "missing (null when the role was removed)");
            return false;
        }
        if (!proto_has(in, f->key)) {
            *AT(ev, f, event_realm_role) = EVENT_ROLE_NONE;
            return true;
        }
        if (!proto_enum(in, f->key, role_names, &idx))
            return false;
        *AT(ev, f, event_realm_role) = (event_realm_role)(idx + 1);
        return true;
    }
    }
    proto_in_fail(in, f->key, "unknown field kind");
    return false;
}

bool event_decode(arena_t *a, const char *payload, size_t len, event_t *ev, const char **why)
{
    memset(ev, 0, sizeof *ev);
    json_object *obj = proto_json_parse(a, payload, len, why);
    if (!obj)
        return false;
    proto_in_t *in = proto_in_new(a, obj, "");
    const char *tname = NULL;
    if (!proto_organization_id(in, "o", &ev->org) || !proto_str(in, "t", 64, &tname))
        goto bad;
    if (!event_type_from_name(tname, &ev->type)) {
        proto_in_fail(in, "t", "unknown event type");
        goto bad;
    }
    if (proto_has(in, "a") && !proto_device_id(in, "a", &ev->author))
        goto bad;
    /* "n" only keeps PostgreSQL from merging equal events of one
     * transaction: checked, then ignored.  Optional, so a payload written
     * by hand (psql, tests) still decodes. */
    int64_t n = 0;
    if (proto_has(in, "n") && !proto_int(in, "n", 0, INT64_MAX - 1, &n))
        goto bad;
    const type_def *t = &types[ev->type];
    for (const field_def *f = t->fields; f < t->fields + FIELDS_MAX && f->key; f++)
        if (!decode_field(in, ev, f))
            goto bad;
    if (!proto_in_end(in))
        goto bad;
    return true;

bad:
    *why = proto_in_reason(in) ? proto_in_reason(in) : "invalid payload";
    return false;
}

/* ---- the clients' message ----------------------------------------------------- */

json_object *event_client_json(const event_t *ev)
{
    if (!event_is_pushed(ev->type))
        return NULL;
    const type_def *t = &types[ev->type];
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string("ok"));
    json_object_object_add(o, "event", json_object_new_string(t->name));
    for (const field_def *f = t->fields; f < t->fields + FIELDS_MAX && f->key; f++) {
        if (!f->client)
            continue;
        json_object *v = NULL;
        switch (f->kind) {
        case EF_USER:
        case EF_TEXT:
            v = json_object_new_string(*CAT(ev, f, const char *));
            break;
        case EF_UUID:
            v = proto_json_uuid(CAT(ev, f, uint8_t));
            break;
        case EF_INT:
            v = json_object_new_int64(*CAT(ev, f, int64_t));
            break;
        case EF_STATUS: {
            event_invitation_status st = *CAT(ev, f, event_invitation_status);
            v = (unsigned)st < EVENT_INVITATION__COUNT ? json_object_new_string(status_names[st])
                                                       : NULL;
            break;
        }
        case EF_ROLE: {
            event_realm_role r = *CAT(ev, f, event_realm_role);
            v = r > EVENT_ROLE_NONE && r < EVENT_ROLE__COUNT
                    ? json_object_new_string(role_names[r - 1])
                    : NULL;
            break;
        }
        }
        json_object_object_add(o, f->client, v);
    }
    return o;
}
