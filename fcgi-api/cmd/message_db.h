/*
 * fcgi-api/cmd/message_db.h - the SQL of messages: delivering them (for
 * realm_update_roles and realm_start_reencryption_maintenance) and reading
 * a user's list (message_get)
 *
 * A user's messages are numbered 1, 2, 3... in delivery order.  The number
 * comes from the recipient's row of message_recipient, incremented by the
 * delivery's own insert (ON CONFLICT DO UPDATE): two commands delivering to
 * one user at once are ordered by that row's lock, so numbers never collide
 * and never skip, whatever realms the commands lock.
 *
 * Ownership: what the functions return lives in cmd->arena.
 */
#ifndef PARSEC_MESSAGE_DB_H
#define PARSEC_MESSAGE_DB_H

#include "cmd.h"

#include <stddef.h>
#include <stdint.h>

/* A message to deliver. */
typedef struct {
    const char *user_id; /* the recipient user, of the command's organization */
    proto_bytes_t body;  /* as the client gave it, possibly empty */
} message_db_new_t;

/* A delivered message: its recipient and its number in the recipient's list. */
typedef struct {
    const char *user_id;
    int64_t index;
} message_db_sent_t;

/*
 * message_db_deliver - msgs[0..n) to their recipients in org, from device
 * sender__id, dated timestamp, in one statement of the command's
 * transaction.  Returns how many were delivered, *sent (arena array) in the
 * order of msgs; a recipient that org does not hold is skipped (callers
 * have checked theirs).
 */
size_t message_db_deliver(cmd_t *cmd, int64_t org, int64_t sender__id, int64_t timestamp,
                          const message_db_new_t *msgs, size_t n, message_db_sent_t **sent);

/* One message as message_get answers it. */
typedef struct {
    int64_t index;
    const char *sender; /* device id */
    int64_t timestamp;
    proto_bytes_t body;
} message_db_msg_t;

/* message_db_get - the messages of user user__id numbered after offset, in
 * order (*msgs: arena array of *n), in one statement. */
void message_db_get(cmd_t *cmd, int64_t user__id, int64_t offset, message_db_msg_t **msgs,
                    size_t *n);

#endif
