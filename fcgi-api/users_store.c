/*
 * fcgi-api/users_store.c - storing users and devices (see users_store.h)
 */
#include "users_store.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// clang-format off
static const db_stmt_t stmt_lock = {
    "users_store_lock",
    "SELECT active_users_limit, user_profile_outsider_allowed FROM organization"
    " WHERE _id = $1::integer FOR NO KEY UPDATE",
    1,
};

/* The four storage checks in one round trip, in the order of users_store.h.
 * $1 organization, $2 user id, $3 email or NULL, $4 device id. */
static const db_stmt_t stmt_user_checks = {
    "users_store_user_checks",
    "SELECT"
    "  (SELECT count(*) FROM user_ WHERE organization = $1::integer AND revoked_on IS NULL),"
    "  EXISTS (SELECT 1 FROM user_ WHERE organization = $1::integer AND user_id = $2::text),"
    "  $3::text IS NOT NULL AND EXISTS (SELECT 1 FROM user_ WHERE organization = $1::integer"
    "      AND human_email = $3::text AND revoked_on IS NULL),"
    "  EXISTS (SELECT 1 FROM device WHERE organization = $1::integer AND device_id = $4::text)",
    4,
};

/* The user and its first device in one statement. */
static const db_stmt_t stmt_user_insert = {
    "users_store_user_insert",
    "WITH u AS ("
    "  INSERT INTO user_ (organization, user_id, profile, human_email, human_label,"
    "      user_certificate, redacted_user_certificate, user_certifier, created_on)"
    "  VALUES ($1::integer, $2::text, $3::text, $4::text, $5::text, $6::bytea, $7::bytea,"
    "      $8::integer, $9::timestamptz)"
    "  RETURNING _id)"
    " INSERT INTO device (organization, user_, device_id, device_label, verify_key,"
    "     device_certificate, redacted_device_certificate, device_certifier, created_on)"
    " SELECT $1::integer, u._id, $10::text, $11::text, $12::bytea, $13::bytea, $14::bytea,"
    "     $15::integer, $16::timestamptz FROM u"
    " RETURNING user_, _id",
    16,
};

static const db_stmt_t stmt_device_exists = {
    "users_store_device_exists",
    "SELECT 1 FROM device WHERE organization = $1::integer AND device_id = $2::text",
    2,
};

static const db_stmt_t stmt_device_insert = {
    "users_store_device_insert",
    "INSERT INTO device (organization, user_, device_id, device_label, verify_key,"
    "    device_certificate, redacted_device_certificate, device_certifier, created_on)"
    " VALUES ($1::integer, $2::integer, $3::text, $4::text, $5::bytea, $6::bytea, $7::bytea,"
    "    $8::integer, $9::timestamptz)"
    " RETURNING _id",
    9,
};
// clang-format on

users_store_status users_store_lock(db_conn_t *c, int org__id, long *active_users_limit,
                                    bool *outsider_allowed)
{
    char id[16];
    snprintf(id, sizeof id, "%d", org__id);
    const char *values[1] = {id};
    PGresult *res = db_exec(c, &stmt_lock, values, NULL, NULL);
    if (!res)
        return USERS_STORE_ERROR;
    users_store_status st = USERS_STORE_NOT_FOUND;
    if (PQntuples(res) == 1) {
        if (active_users_limit)
            *active_users_limit = PQgetisnull(res, 0, 0) ? -1 : atol(PQgetvalue(res, 0, 0));
        if (outsider_allowed)
            *outsider_allowed = PQgetvalue(res, 0, 1)[0] == 't';
        st = USERS_STORE_OK;
    }
    PQclear(res);
    return st;
}

/* Text of an integer, or NULL (SQL NULL) for 0: the root key certified it. */
static const char *certifier_param(char buf[16], int device__id)
{
    if (device__id == 0)
        return NULL;
    snprintf(buf, 16, "%d", device__id);
    return buf;
}

/* insert_one - run an INSERT ... RETURNING that must give exactly one row;
 * NULL (logged when the row is missing) otherwise.  The caller PQclear()s. */
static PGresult *insert_one(db_conn_t *c, const db_stmt_t *stmt, const char *const *values,
                            const int *lengths, const int *formats, const char *what)
{
    PGresult *res = db_exec(c, stmt, values, lengths, formats);
    if (res && PQntuples(res) != 1) {
        PQclear(res);
        log_error("users_store: %s insert returned no row", what);
        res = NULL;
    }
    return res;
}

users_store_status users_store_create_user(db_conn_t *c, int org__id, long active_users_limit,
                                           const users_store_user_t *u,
                                           const users_store_device_t *d, int *user__id,
                                           int *device__id)
{
    char org[16], ucert[16], dcert[16];
    char ucreated[PROTO_DATETIME_LEN + 1], dcreated[PROTO_DATETIME_LEN + 1];
    snprintf(org, sizeof org, "%d", org__id);

    const char *check_values[4] = {org, u->user_id, u->human_email, d->device_id};
    PGresult *res = db_exec(c, &stmt_user_checks, check_values, NULL, NULL);
    if (!res)
        return USERS_STORE_ERROR;
    long active = atol(PQgetvalue(res, 0, 0));
    bool user_taken = PQgetvalue(res, 0, 1)[0] == 't';
    bool human_taken = PQgetvalue(res, 0, 2)[0] == 't';
    bool device_taken = PQgetvalue(res, 0, 3)[0] == 't';
    PQclear(res);
    if (active_users_limit >= 0 && active >= active_users_limit)
        return USERS_STORE_LIMIT_REACHED;
    if (user_taken)
        return USERS_STORE_USER_EXISTS;
    if (human_taken)
        return USERS_STORE_HUMAN_EXISTS;
    if (device_taken)
        return USERS_STORE_DEVICE_EXISTS;

    proto_datetime_format(u->created_on, ucreated);
    proto_datetime_format(d->created_on, dcreated);
    const char *values[16] = {
        org,
        u->user_id,
        certif_profile_name(u->profile),
        u->human_email,
        u->human_label,
        (const char *)u->certificate.data,
        (const char *)u->redacted_certificate.data,
        certifier_param(ucert, u->certifier_device__id),
        ucreated,
        d->device_id,
        d->device_label,
        (const char *)d->verify_key,
        (const char *)d->certificate.data,
        (const char *)d->redacted_certificate.data,
        certifier_param(dcert, d->certifier_device__id),
        dcreated,
    };
    int lengths[16] = {0};
    int formats[16] = {0};
    lengths[5] = (int)u->certificate.len;
    lengths[6] = (int)u->redacted_certificate.len;
    lengths[11] = PROTO_KEY_SIZE;
    lengths[12] = (int)d->certificate.len;
    lengths[13] = (int)d->redacted_certificate.len;
    formats[5] = formats[6] = formats[11] = formats[12] = formats[13] = 1;
    res = insert_one(c, &stmt_user_insert, values, lengths, formats, "user");
    if (!res)
        return USERS_STORE_ERROR;
    if (user__id)
        *user__id = atoi(PQgetvalue(res, 0, 0));
    if (device__id)
        *device__id = atoi(PQgetvalue(res, 0, 1));
    PQclear(res);
    return USERS_STORE_OK;
}

users_store_status users_store_create_device(db_conn_t *c, int org__id, int user__id,
                                             const users_store_device_t *d, int *device__id)
{
    char org[16], user[16], dcert[16], created[PROTO_DATETIME_LEN + 1];
    snprintf(org, sizeof org, "%d", org__id);
    snprintf(user, sizeof user, "%d", user__id);

    const char *exist_values[2] = {org, d->device_id};
    PGresult *res = db_exec(c, &stmt_device_exists, exist_values, NULL, NULL);
    if (!res)
        return USERS_STORE_ERROR;
    bool taken = PQntuples(res) > 0;
    PQclear(res);
    if (taken)
        return USERS_STORE_DEVICE_EXISTS;

    proto_datetime_format(d->created_on, created);
    const char *values[9] = {
        org,
        user,
        d->device_id,
        d->device_label,
        (const char *)d->verify_key,
        (const char *)d->certificate.data,
        (const char *)d->redacted_certificate.data,
        certifier_param(dcert, d->certifier_device__id),
        created,
    };
    int lengths[9] = {
        0, 0, 0, 0, PROTO_KEY_SIZE, (int)d->certificate.len, (int)d->redacted_certificate.len,
        0, 0};
    int formats[9] = {0, 0, 0, 0, 1, 1, 1, 0, 0};
    res = insert_one(c, &stmt_device_insert, values, lengths, formats, "device");
    if (!res)
        return USERS_STORE_ERROR;
    if (device__id)
        *device__id = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return USERS_STORE_OK;
}

const char *users_store_reason(arena_t *a, users_store_status st, const users_store_user_t *u,
                               const users_store_device_t *d)
{
    switch (st) {
    case USERS_STORE_USER_EXISTS:
        return u ? arena_printf(a, "User `%s` already exists", u->user_id) : NULL;
    case USERS_STORE_HUMAN_EXISTS:
        return u && u->human_email
                   ? arena_printf(a,
                                  "Human handle `%s <%s>` already corresponds to a non-revoked "
                                  "user",
                                  u->human_label, u->human_email)
                   : NULL;
    case USERS_STORE_DEVICE_EXISTS:
        return d ? arena_printf(a, "Device `%s` already exists", d->device_id) : NULL;
    case USERS_STORE_OK:
    case USERS_STORE_LIMIT_REACHED:
    case USERS_STORE_NOT_FOUND:
    case USERS_STORE_ERROR:
        break;
    }
    return NULL;
}
