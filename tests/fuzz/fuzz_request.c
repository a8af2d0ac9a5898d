/*
 * tests/fuzz/fuzz_request.c - libFuzzer target: the request decoder
 *
 * Input: an HTTP request body.  It goes through proto_decode_request(), the
 * envelope check the RPC dispatcher runs; then, for a command whose request
 * has a shape of its own (the realm, vlob, message and PKI commands: maps keyed
 * by user or service id, lists of objects, optional integers and dates),
 * its fields are read as its handler reads them (shapes[] below, from
 * docs/protocol.md, with the handlers' bounds); any other request has every
 * field read with a getter chosen by the first character of its name (so
 * the fuzzer steers which getter meets which value), nested lists and
 * objects included.  Then proto_in_end() and the reply builders, as a
 * handler would.  The same bytes also feed the Authorization, datetime and
 * Api-Version parsers.
 *
 *   make fuzz
 *   build/fuzz/fuzz_request build/fuzz/corpus-request tests/fuzz/corpus/request
 */
#include "proto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const enum_names[] = {"USER", "DEVICE", "OWNER", NULL};

static void read_fields(proto_in_t *in, int depth)
{
    json_object *obj = proto_in_json(in);
    /* getters may add readers but never change obj's members */
    json_object_object_foreach(obj, key, val)
    {
        (void)val;
        const char *s, *e, *l;
        proto_bytes_t b;
        const uint8_t *k;
        int64_t i;
        bool bo;
        int en;
        proto_uuid_t u;
        size_t n;
        proto_bytes_entry_t *entries;
        if (!proto_has(in, key))
            continue; /* null: an absent Option */
        switch ((unsigned char)key[0] % 18) {
        case 0:
            proto_str(in, key, 64, &s);
            break;
        case 1:
            proto_bytes(in, key, 512, &b);
            break;
        case 2:
            proto_bytes_n(in, key, 32, &k);
            break;
        case 3:
            proto_datetime(in, key, &i);
            break;
        case 4:
            proto_uuid(in, key, &u);
            break;
        case 5:
            proto_int(in, key, -1000, INT64_MAX - 1, &i);
            break;
        case 6:
            proto_bool(in, key, &bo);
            break;
        case 7:
            proto_enum(in, key, enum_names, &en);
            break;
        case 8:
            proto_organization_id(in, key, &s);
            break;
        case 9:
            proto_user_id(in, key, &s);
            break;
        case 10:
            proto_device_id(in, key, &s);
            break;
        case 11:
            proto_device_label(in, key, &s);
            break;
        case 12:
            proto_human_handle(in, key, &e, &l);
            break;
        case 13:
            proto_bytes_map(in, key, PROTO_KEY_USER_ID, 16, 64, &entries, &n);
            break;
        case 14:
            proto_bytes_map(in, key, PROTO_KEY_UUID, 16, 64, &entries, &n);
            break;
        case 15:
            if (proto_list(in, key, 32, &n) && depth < 4) {
                for (size_t j = 0; j < n; j++) {
                    proto_in_t *item = proto_list_object(in, key, j);
                    if (item)
                        read_fields(item, depth + 1);
                }
            }
            break;
        case 16:
            if (depth < 4) {
                proto_in_t *child = proto_object(in, key);
                if (child)
                    read_fields(child, depth + 1);
            }
            break;
        case 17:
            proto_device_name(in, key, &s);
            break;
        }
        if (!proto_in_ok(in))
            return;
    }
}

/* The field kinds of the realm, vlob and message requests. */
typedef enum {
    K_END = 0,
    K_UUID,     /* RealmID, VlobID */
    K_REVISION, /* 1 .. 2^31-1 */
    K_VERSION,  /* 1 .. 2^31-1 */
    K_VERSION_OPT,
    K_DATETIME,
    K_DATETIME_OPT,
    K_BLOB, /* Bytes, bounded by the request */
    K_BLOB_OPT,
    K_CERTIFICATE,
    K_CHECKPOINT, /* 0 .. 2^63-2 */
    K_OFFSET,     /* 0 .. 2^31-1 */
    K_BATCH_SIZE, /* 0 .. 1000 */
    K_SEQUESTER,  /* Option<Map<SequesterServiceID, Bytes>>, 64 entries */
    K_MESSAGES,   /* Map<UserID, Bytes>, 10000 entries */
    K_BATCH,      /* list of 1000 {vlob_id, version, blob} */
    K_BOOL,
    K_X509,      /* PKI certificates and signatures: Bytes, 16384 */
    K_PAYLOAD,   /* PKI payloads: Bytes, 65536 */
    K_EMAIL_OPT, /* Option<String>, 254 bytes */
} kind;

static const struct {
    const char *cmd;
    struct {
        const char *name;
        kind k;
    } f[9];
} shapes[] = {
    {"pki_enrollment_submit",
     {{"enrollment_id", K_UUID},
      {"force", K_BOOL},
      {"submitter_der_x509_certificate", K_X509},
      {"submitter_der_x509_certificate_email", K_EMAIL_OPT},
      {"submit_payload_signature", K_X509},
      {"submit_payload", K_PAYLOAD}}},
    {"pki_enrollment_info", {{"enrollment_id", K_UUID}}},
    {"pki_enrollment_reject", {{"enrollment_id", K_UUID}}},
    {"pki_enrollment_accept",
     {{"enrollment_id", K_UUID},
      {"accepter_der_x509_certificate", K_X509},
      {"accept_payload_signature", K_X509},
      {"accept_payload", K_PAYLOAD},
      {"user_certificate", K_CERTIFICATE},
      {"device_certificate", K_CERTIFICATE},
      {"redacted_user_certificate", K_CERTIFICATE},
      {"redacted_device_certificate", K_CERTIFICATE}}},
    {"realm_create", {{"role_certificate", K_CERTIFICATE}}},
    {"realm_status", {{"realm_id", K_UUID}}},
    {"realm_stats", {{"realm_id", K_UUID}}},
    {"realm_get_role_certificates", {{"realm_id", K_UUID}}},
    {"realm_update_roles",
     {{"role_certificate", K_CERTIFICATE}, {"recipient_message", K_BLOB_OPT}}},
    {"realm_start_reencryption_maintenance",
     {{"realm_id", K_UUID},
      {"encryption_revision", K_REVISION},
      {"timestamp", K_DATETIME},
      {"per_participant_message", K_MESSAGES}}},
    {"realm_finish_reencryption_maintenance",
     {{"realm_id", K_UUID}, {"encryption_revision", K_REVISION}}},
    {"vlob_create",
     {{"realm_id", K_UUID},
      {"encryption_revision", K_REVISION},
      {"vlob_id", K_UUID},
      {"timestamp", K_DATETIME},
      {"blob", K_BLOB},
      {"sequester_blob", K_SEQUESTER}}},
    {"vlob_update",
     {{"encryption_revision", K_REVISION},
      {"vlob_id", K_UUID},
      {"timestamp", K_DATETIME},
      {"version", K_VERSION},
      {"blob", K_BLOB},
      {"sequester_blob", K_SEQUESTER}}},
    {"vlob_read",
     {{"encryption_revision", K_REVISION},
      {"vlob_id", K_UUID},
      {"version", K_VERSION_OPT},
      {"timestamp", K_DATETIME_OPT}}},
    {"vlob_list_versions", {{"vlob_id", K_UUID}}},
    {"vlob_poll_changes", {{"realm_id", K_UUID}, {"last_checkpoint", K_CHECKPOINT}}},
    {"vlob_maintenance_get_reencryption_batch",
     {{"realm_id", K_UUID}, {"encryption_revision", K_REVISION}, {"size", K_BATCH_SIZE}}},
    {"vlob_maintenance_save_reencryption_batch",
     {{"realm_id", K_UUID}, {"encryption_revision", K_REVISION}, {"batch", K_BATCH}}},
    {"message_get", {{"offset", K_OFFSET}}},
};

static void read_shaped(proto_in_t *in, const char *name, kind k)
{
    proto_uuid_t u;
    int64_t i;
    proto_bytes_t b;
    proto_bytes_entry_t *entries;
    size_t n;
    switch (k) {
    case K_UUID:
        proto_uuid(in, name, &u);
        break;
    case K_REVISION:
    case K_VERSION:
        proto_int(in, name, 1, INT64_C(2147483647), &i);
        break;
    case K_VERSION_OPT:
        if (proto_has(in, name))
            proto_int(in, name, 1, INT64_C(2147483647), &i);
        break;
    case K_DATETIME:
        proto_datetime(in, name, &i);
        break;
    case K_DATETIME_OPT:
        if (proto_has(in, name))
            proto_datetime(in, name, &i);
        break;
    case K_BLOB:
        proto_bytes(in, name, SIZE_MAX, &b);
        break;
    case K_BLOB_OPT:
        if (proto_has(in, name))
            proto_bytes(in, name, SIZE_MAX, &b);
        break;
    case K_CERTIFICATE:
        proto_bytes(in, name, 4160, &b);
        break;
    case K_CHECKPOINT:
        proto_int(in, name, 0, INT64_MAX - 1, &i);
        break;
    case K_OFFSET:
        proto_int(in, name, 0, INT64_C(2147483647), &i);
        break;
    case K_BATCH_SIZE:
        proto_int(in, name, 0, 1000, &i);
        break;
    case K_SEQUESTER:
        if (proto_has(in, name))
            proto_bytes_map(in, name, PROTO_KEY_UUID, 64, SIZE_MAX, &entries, &n);
        break;
    case K_MESSAGES:
        proto_bytes_map(in, name, PROTO_KEY_USER_ID, 10000, SIZE_MAX, &entries, &n);
        break;
    case K_BATCH:
        if (proto_list(in, name, 1000, &n))
            for (size_t j = 0; j < n && proto_in_ok(in); j++) {
                proto_in_t *e = proto_list_object(in, name, j);
                if (!e)
                    break;
                read_shaped(e, "vlob_id", K_UUID);
                read_shaped(e, "version", K_VERSION);
                read_shaped(e, "blob", K_BLOB);
            }
        break;
    case K_BOOL: {
        bool bo;
        proto_bool(in, name, &bo);
        break;
    }
    case K_X509:
        proto_bytes(in, name, 16384, &b);
        break;
    case K_PAYLOAD:
        proto_bytes(in, name, 65536, &b);
        break;
    case K_EMAIL_OPT:
        if (proto_has(in, name)) {
            const char *s;
            proto_str(in, name, 254, &s);
        }
        break;
    case K_END:
        break;
    }
}

/* Read in as the handler of cmd does; false when cmd has no shape here. */
static bool read_command(proto_in_t *in, const char *cmd)
{
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        if (strcmp(shapes[i].cmd, cmd) != 0)
            continue;
        for (size_t j = 0; j < 9 && shapes[i].f[j].name; j++)
            read_shaped(in, shapes[i].f[j].name, shapes[i].f[j].k);
        return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arena_t *a = arena_new();
    proto_in_t *in;
    const char *cmd, *why;
    json_object *rep = NULL;
    switch (proto_decode_request(a, data, size, &in, &cmd, &why)) {
    case PROTO_REQ_OK:
        if (!cmd || !in)
            abort();
        if (!read_command(in, cmd))
            read_fields(in, 0);
        if (!proto_in_end(in)) {
            if (!proto_in_field(in) || !proto_in_reason(in))
                abort(); /* bad_message always names a field */
            rep = proto_reply_bad_message(in);
        } else {
            rep = proto_reply("ok");
        }
        break;
    case PROTO_REQ_INVALID_MSG_FORMAT:
        if (in || !why)
            abort();
        rep = proto_reply_invalid_msg_format(why);
        break;
    case PROTO_REQ_UNKNOWN_COMMAND:
        if (in || !why)
            abort();
        rep = proto_reply_unknown_command();
        break;
    }
    /* every reply serialises to JSON that our own strict parser accepts */
    const char *text = json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PLAIN);
    const char *why2;
    if (!proto_json_parse(a, text, strlen(text), &why2))
        abort();
    json_object_put(rep);

    /* the same bytes as header values and datetimes */
    char *str = arena_strndup(a, (const char *)data, size);
    proto_auth_t auth;
    if (proto_auth_parse(a, str, &auth, &why)) {
        if (!proto_valid_organization_id(auth.organization_id) ||
            !proto_valid_device_id(auth.device_id) || auth.signed_len != strlen(auth.signed_part))
            abort();
        (void)proto_auth_fresh(&auth, proto_now_us());
    }
    int64_t us;
    if (proto_datetime_parse((const char *)data, size, &us)) {
        char out[PROTO_DATETIME_LEN + 1];
        proto_datetime_format(us, out);
        if (size != PROTO_DATETIME_LEN || memcmp(out, data, size) != 0)
            abort(); /* one spelling per instant */
    }
    (void)proto_api_version_ok(str);
    arena_free(a);
    return 0;
}
