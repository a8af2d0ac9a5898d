/*
 * fcgi-api/cmd/user_new.h - a new user with its first device, the one way:
 * the checks and storage rules of user_create, shared with
 * pki_enrollment_accept
 *
 * docs/protocol.md, user_create: the four certificates (signed by the
 * calling device, naming it as author), their consistency and ballpark,
 * then, under the organization's lock, the outsider policy (Part 1 item 5)
 * and user_db_create_user's rules (active users limit, user id, human
 * handle, device id).  Each function answers its refusal itself and
 * returns CMD_REFUSED (or CMD_ERROR); CMD_OK to go on.
 *
 * Ownership: everything lives in cmd->arena.
 */
#ifndef PARSEC_USER_NEW_H
#define PARSEC_USER_NEW_H

#include "cmd.h"
#include "user_db.h"

#include <stdbool.h>

typedef struct {
    certif_t user, device, ruser, rdevice;
    user_db_new_t n; /* points at the four above; certifier: the caller */
} user_new_t;

/* The four certificate fields of user_create, in its order. */
extern const char *const user_new_fields[4];

/* user_new_read - read the four certificate fields of cmd->in (sticky
 * errors, as every getter). */
void user_new_read(cmd_t *cmd, proto_bytes_t raw[4]);

/* user_new_check - load and check the certificates read by user_new_read
 * (no database): invalid_certification or invalid_data. */
cmd_result user_new_check(cmd_t *cmd, const proto_bytes_t raw[4], user_new_t *out);

/* The organization's settings, read under its lock. */
typedef struct {
    long limit; /* -1: unlimited */
    bool outsider_allowed;
} user_new_org_t;

/* user_new_lock - user_db_lock_org on the caller's organization. */
cmd_result user_new_lock(cmd_t *cmd, user_new_org_t *org);

/*
 * user_new_create - after user_new_lock: the outsider policy (not_allowed),
 * then the user and its device (active_users_limit_reached,
 * already_exists).  with_reason false: already_exists carries reason ""
 * (pki_enrollment_accept, as Parsec).
 */
cmd_result user_new_create(cmd_t *cmd, const user_new_org_t *org, user_new_t *nu, bool with_reason);

/* user_new_refuse - a user_db refusal of a creation as its reply. */
cmd_result user_new_refuse(cmd_t *cmd, user_db_status st, const user_db_new_t *n, bool with_reason);

#endif
