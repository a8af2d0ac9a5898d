/*
 * fcgi-api/cmd/vlob_sequester.c - the sequester rules of a vlob write (see
 * vlob_sequester.h)
 */
#include "vlob_sequester.h"

#include <json-c/json.h>
#include <stdint.h>
#include <string.h>

/* The authority (kind 0) then the enabled services (kind 1), in creation
 * order.  $1 organization. */
DB_STMT(stmt_services, "vlob_sequester_services", 1,
        "SELECT 0 AS kind, 0 AS _id, NULL AS service_id, sequester_authority_certificate"
        " FROM organization WHERE _id = $1::bigint"
        " UNION ALL"
        " SELECT 1, _id, encode(uuid_send(service_id), 'hex'), service_certificate"
        " FROM sequester_service WHERE organization = $1::bigint AND disabled_on IS NULL"
        " ORDER BY kind, _id");

/* $1 version, $2 organization, $3 {service id: blob in base64} as JSON. */
DB_STMT(stmt_store, "vlob_sequester_store", 3,
        "INSERT INTO sequester_service_vlob_atom (vlob_atom, service, blob)"
        " SELECT $1::bigint, s._id, decode(e.value, 'base64')"
        " FROM json_each_text($3::json) AS e"
        " JOIN sequester_service s ON s.organization = $2::bigint"
        "  AND s.service_id = e.key::uuid");

void vlob_sequester_read(cmd_t *cmd, vlob_sequester_blob_t *out)
{
    memset(out, 0, sizeof *out);
    out->given = proto_has(cmd->in, "sequester_blob");
    if (out->given)
        proto_bytes_map(cmd->in, "sequester_blob", PROTO_KEY_UUID, VLOB_SEQUESTER_MAX, SIZE_MAX,
                        &out->entries, &out->n);
}

static bool has_key(const vlob_sequester_blob_t *sb, const char *hex)
{
    for (size_t i = 0; i < sb->n; i++)
        if (strcmp(sb->entries[i].key, hex) == 0)
            return true;
    return false;
}

cmd_result vlob_sequester_check(cmd_t *cmd, bool sequestered, const vlob_sequester_blob_t *sb)
{
    if (!sequestered)
        return sb->given ? cmd_refuse(cmd, "not_a_sequestered_organization") : CMD_OK;

    db_res_t *r = CMD_RUN(cmd, &stmt_services, DB_I64(cmd->who->org._id));
    size_t rows = db_nrows(r);
    if (rows == 0)
        return cmd_fail(cmd); /* the organization row is there: a failure */
    /* The keys of a map are distinct, so equal counts and inclusion make
     * equal sets. */
    bool match = sb->given && sb->n == rows - 1;
    for (size_t i = 1; match && i < rows; i++)
        match = has_key(sb, db_get_str(r, i, 2));
    if (match)
        return CMD_OK;

    json_object *reply = proto_reply("sequester_inconsistency");
    size_t len;
    const uint8_t *authority = db_get_bytes(r, 0, 3, &len);
    json_object_object_add(reply, "sequester_authority_certificate",
                           proto_json_bytes(authority, len));
    json_object *services = json_object_new_array_ext((int)rows - 1);
    for (size_t i = 1; i < rows; i++) {
        const uint8_t *cert = db_get_bytes(r, i, 3, &len);
        json_object_array_add(services, proto_json_bytes(cert, len));
    }
    json_object_object_add(reply, "sequester_services_certificates", services);
    return cmd_refuse_json(cmd, reply);
}

void vlob_sequester_store(cmd_t *cmd, int64_t atom__id, const vlob_sequester_blob_t *sb)
{
    if (!sb->given || sb->n == 0)
        return;
    json_object *o = json_object_new_object();
    for (size_t i = 0; i < sb->n; i++)
        json_object_object_add(
            o, sb->entries[i].key,
            proto_json_bytes(sb->entries[i].value.data, sb->entries[i].value.len));
    const char *text = cmd_json_param(cmd, o);
    /* queued: sent with the COMMIT (or what comes next) */
    (void)CMD_QUEUE(cmd, &stmt_store, DB_I64(atom__id), DB_I64(cmd->who->org._id), DB_TEXT(text));
}
