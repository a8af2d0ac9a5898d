/*
 * common/certif.c - signed certificates (see certif.h)
 */
#include "certif.h"

#include "crypto.h"

#include <string.h>

static const char *const type_names[] = {"user_certificate", "device_certificate",
                                         "revoked_user_certificate", "realm_role_certificate",
                                         NULL};
static const char *const profile_names[] = {"ADMIN", "STANDARD", "OUTSIDER", NULL};
/* index + 1 = certif_role */
static const char *const role_names[] = {"OWNER", "MANAGER", "CONTRIBUTOR", "READER", NULL};

const char *certif_type_name(certif_type t)
{
    return type_names[t];
}

const char *certif_profile_name(certif_profile p)
{
    return profile_names[p];
}

const char *certif_role_name(certif_role r)
{
    return r == CERTIF_ROLE_NONE ? NULL : role_names[r - 1];
}

bool certif_profile_from_name(const char *s, certif_profile *out)
{
    for (int k = 0; s && profile_names[k]; k++) {
        if (strcmp(s, profile_names[k]) == 0) {
            *out = (certif_profile)k;
            return true;
        }
    }
    return false;
}

bool certif_role_from_name(const char *s, certif_role *out)
{
    if (!s) {
        *out = CERTIF_ROLE_NONE;
        return true;
    }
    for (int k = 0; role_names[k]; k++) {
        if (strcmp(s, role_names[k]) == 0) {
            *out = (certif_role)(k + 1);
            return true;
        }
    }
    return false;
}

/*
 * An Option field: present (refused when absent, unlike in requests, so a
 * signed payload has one shape), true when not null.
 */
static bool option_present(proto_in_t *in, const char *name)
{
    json_object *v;
    if (!proto_in_ok(in))
        return false;
    if (!json_object_object_get_ex(proto_in_json(in), name, &v)) {
        proto_in_fail(in, name, "missing (an Option field is null, never absent)");
        return false;
    }
    return proto_has(in, name);
}

/* author: a device id, or null for the root key (null allowed iff nullable) */
static void read_author(proto_in_t *in, bool nullable, const char **author)
{
    *author = NULL;
    if (nullable) {
        if (option_present(in, "author"))
            proto_device_id(in, "author", author);
    } else {
        proto_device_id(in, "author", author);
    }
}

static void copy_key(const uint8_t *key, uint8_t out[PROTO_KEY_SIZE])
{
    if (key)
        memcpy(out, key, PROTO_KEY_SIZE);
    else
        memset(out, 0, PROTO_KEY_SIZE);
}

static void read_user(proto_in_t *in, certif_t *c)
{
    const uint8_t *key;
    int profile = 0;
    read_author(in, true, &c->author);
    proto_datetime(in, "timestamp", &c->timestamp);
    proto_user_id(in, "user_id", &c->user.user_id);
    if (option_present(in, "human_handle"))
        proto_human_handle(in, "human_handle", &c->user.human_email, &c->user.human_label);
    proto_bytes_n(in, "public_key", PROTO_KEY_SIZE, &key);
    copy_key(key, c->user.public_key);
    proto_bool(in, "is_admin", &c->user.is_admin);
    if (proto_enum(in, "profile", profile_names, &profile))
        c->user.profile = (certif_profile)profile;
    if (proto_in_ok(in) && c->user.is_admin != (c->user.profile == CERTIF_PROFILE_ADMIN))
        proto_in_fail(in, "is_admin", "must be true exactly when profile is ADMIN");
}

static void read_device(proto_in_t *in, certif_t *c)
{
    const uint8_t *key;
    read_author(in, true, &c->author);
    proto_datetime(in, "timestamp", &c->timestamp);
    proto_device_id(in, "device_id", &c->device.device_id);
    if (option_present(in, "device_label"))
        proto_device_label(in, "device_label", &c->device.device_label);
    proto_bytes_n(in, "verify_key", PROTO_KEY_SIZE, &key);
    copy_key(key, c->device.verify_key);
}

static void read_revoked_user(proto_in_t *in, certif_t *c)
{
    read_author(in, false, &c->author);
    proto_datetime(in, "timestamp", &c->timestamp);
    proto_user_id(in, "user_id", &c->revoked_user.user_id);
}

static void read_realm_role(proto_in_t *in, certif_t *c)
{
    int role = -1;
    read_author(in, true, &c->author);
    proto_datetime(in, "timestamp", &c->timestamp);
    proto_uuid(in, "realm_id", &c->realm_role.realm_id);
    proto_user_id(in, "user_id", &c->realm_role.user_id);
    c->realm_role.role = CERTIF_ROLE_NONE;
    if (option_present(in, "role") && proto_enum(in, "role", role_names, &role))
        c->realm_role.role = (certif_role)(role + 1);
}

certif_status certif_parse(arena_t *a, const uint8_t *raw, size_t len, certif_t *out,
                           const char **why)
{
    memset(out, 0, sizeof *out);
    *why = NULL;
    if (len < CERTIF_SIGNATURE_SIZE) {
        *why = "shorter than a signature";
        return CERTIF_MALFORMED;
    }
    if (len - CERTIF_SIGNATURE_SIZE > CERTIF_MAX_PAYLOAD) {
        *why = "payload too large";
        return CERTIF_MALFORMED;
    }
    const uint8_t *payload = raw + CERTIF_SIGNATURE_SIZE;
    size_t plen = len - CERTIF_SIGNATURE_SIZE;
    const char *json_why = NULL;
    json_object *o = proto_json_parse(a, payload, plen, &json_why);
    if (!o) {
        *why = arena_printf(a, "payload: %s", json_why);
        return CERTIF_MALFORMED;
    }
    proto_in_t *in = proto_in_new(a, o, NULL);
    int type;
    if (!proto_enum(in, "type", type_names, &type)) {
        *why = proto_in_reason(in);
        return CERTIF_MALFORMED;
    }
    out->type = (certif_type)type;
    switch (out->type) {
    case CERTIF_USER:
        read_user(in, out);
        break;
    case CERTIF_DEVICE:
        read_device(in, out);
        break;
    case CERTIF_REVOKED_USER:
        read_revoked_user(in, out);
        break;
    case CERTIF_REALM_ROLE:
        read_realm_role(in, out);
        break;
    }
    if (!proto_in_end(in)) {
        *why = proto_in_reason(in);
        memset(out, 0, sizeof *out);
        return CERTIF_MALFORMED;
    }
    out->raw = raw;
    out->raw_len = len;
    out->payload = payload;
    out->payload_len = plen;
    return CERTIF_OK;
}

bool certif_signature_ok(const uint8_t *raw, size_t len, const uint8_t key[PROTO_KEY_SIZE])
{
    if (len < CERTIF_SIGNATURE_SIZE)
        return false;
    return crypto_ed25519_verify(key, raw + CERTIF_SIGNATURE_SIZE, len - CERTIF_SIGNATURE_SIZE,
                                 raw);
}

certif_status certif_load(arena_t *a, const uint8_t *raw, size_t len, certif_type expected,
                          const uint8_t key[PROTO_KEY_SIZE], const char *expected_author,
                          certif_t *out, const char **why)
{
    certif_status st = certif_parse(a, raw, len, out, why);
    if (st != CERTIF_OK)
        return st;
    if (out->type != expected) {
        *why = arena_printf(a, "expected a %s, got a %s", certif_type_name(expected),
                            certif_type_name(out->type));
        st = CERTIF_WRONG_TYPE;
    } else if (!expected_author && out->author) {
        *why = "signed by the root key but author is not null";
        st = CERTIF_BAD_AUTHOR;
    } else if (expected_author && (!out->author || strcmp(out->author, expected_author) != 0)) {
        *why = arena_printf(a, "author is not %s", expected_author);
        st = CERTIF_BAD_AUTHOR;
    } else if (!certif_signature_ok(raw, len, key)) {
        *why = "bad signature";
        st = CERTIF_BAD_SIGNATURE;
    }
    if (st != CERTIF_OK)
        memset(out, 0, sizeof *out);
    return st;
}

static bool str_eq_or_both_null(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

bool certif_user_redacted_ok(const certif_t *user, const certif_t *redacted, const char **why)
{
    if (user->type != CERTIF_USER || redacted->type != CERTIF_USER) {
        *why = "not user certificates";
        return false;
    }
    if (redacted->user.human_email) {
        *why = "redacted user certificate must not contain a human_handle";
        return false;
    }
    if (!str_eq_or_both_null(user->author, redacted->author) ||
        user->timestamp != redacted->timestamp ||
        strcmp(user->user.user_id, redacted->user.user_id) != 0 ||
        memcmp(user->user.public_key, redacted->user.public_key, PROTO_KEY_SIZE) != 0 ||
        user->user.is_admin != redacted->user.is_admin ||
        user->user.profile != redacted->user.profile) {
        *why = "redacted user certificate differs from user certificate";
        return false;
    }
    *why = NULL;
    return true;
}

bool certif_device_redacted_ok(const certif_t *device, const certif_t *redacted, const char **why)
{
    if (device->type != CERTIF_DEVICE || redacted->type != CERTIF_DEVICE) {
        *why = "not device certificates";
        return false;
    }
    if (redacted->device.device_label) {
        *why = "redacted device certificate must not contain a device_label";
        return false;
    }
    if (!str_eq_or_both_null(device->author, redacted->author) ||
        device->timestamp != redacted->timestamp ||
        strcmp(device->device.device_id, redacted->device.device_id) != 0 ||
        memcmp(device->device.verify_key, redacted->device.verify_key, PROTO_KEY_SIZE) != 0) {
        *why = "redacted device certificate differs from device certificate";
        return false;
    }
    *why = NULL;
    return true;
}
