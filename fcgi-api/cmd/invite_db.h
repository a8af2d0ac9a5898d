/*
 * fcgi-api/cmd/invite_db.h - the SQL of invitations: creating, listing and
 * deleting them, and loading and storing their conduit
 *
 * docs/protocol.md sections 6 and 7 are the contract; invite.c calls these
 * in the order of its checks.  Every function runs in the calling command's
 * transaction (cmd_run), so a refusal leaves no trace, and is one statement:
 *
 *   invite_new     invite_db_lock_greeter, invite_db_new_checks, then
 *                  invite_db_insert (a new invitation only);
 *   invite_list    invite_db_list (CMD_ONE_STATEMENT);
 *   invite_delete  invite_db_delete;
 *   greeter steps  invite_db_greeter_load (the row locked), then
 *                  invite_db_conduit_store when the conduit changed;
 *   claimer steps  invite_db_claimer_load (presence recorded and the row
 *                  locked in one statement: a poll that finds nothing new
 *                  costs that statement only), then invite_db_conduit_store;
 *   invite_info    invite_db_info (presence recorded too).
 *
 * Invitations are found by their organization and token (the unique index
 * of 0001) or, for the claimer, by the _id the invited route already loaded;
 * a greeter's pending invitations through invitation_pending (0004).
 * Database failures are the kit's sticky errors: a function then returns
 * what an empty result means, and the dispatcher answers 500.
 *
 * Ownership: what the functions return (strings, payloads) lives in
 * cmd->arena.
 */
#ifndef PARSEC_INVITE_DB_H
#define PARSEC_INVITE_DB_H

#include "cmd.h"
#include "invite_conduit.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A greeter holds at most this many non-deleted invitations (protocol 8). */
#define INVITE_DB_PENDING_MAX 1000
/* An invitation is READY this long after its claimer's last request (7.3). */
#define INVITE_DB_READY_US INT64_C(60000000)

typedef enum {
    INVITE_DB_OK = 0,
    INVITE_DB_NOT_FOUND, /* no such invitation (for this greeter) */
    INVITE_DB_DELETED,   /* it is deleted */
} invite_db_status;

/* invite_db_lock_greeter - lock the greeter's user row (FOR NO KEY UPDATE:
 * inserts referencing it are not blocked), so one greeter's invite_new
 * calls run one at a time. */
void invite_db_lock_greeter(cmd_t *cmd, int64_t greeter);

/* What invite_new checks before creating (one statement). */
typedef struct {
    bool member;           /* USER: a non-revoked user of org holds the email */
    bool has_pending;      /* a non-deleted invitation of the same kind exists */
    uint8_t pending[16];   /* ... its token */
    int64_t pending_count; /* the greeter's non-deleted invitations */
} invite_db_checks_t;

/* invite_db_new_checks - for greeter (user_._id) of org; email NULL for a
 * DEVICE invitation (any pending DEVICE invitation of the greeter is "the
 * same kind"). */
void invite_db_new_checks(cmd_t *cmd, int64_t org, int64_t greeter, const char *email,
                          invite_db_checks_t *out);

/* invite_db_insert - a new invitation (email NULL: DEVICE) created at
 * now_us, its conduit at state 1. */
void invite_db_insert(cmd_t *cmd, int64_t org, int64_t greeter, const uint8_t token[16],
                      const char *email, int64_t now_us);

/* One invite_list item. */
typedef struct {
    bool is_user;
    uint8_t token[16];
    int64_t created_on;
    const char *claimer_email; /* NULL for DEVICE */
    bool ready;                /* the claimer made a request within 60 s of now */
} invite_db_item_t;

/* invite_db_list - greeter's non-deleted invitations, oldest first, READY
 * judged at now_us; *items is an arena array of *n. */
void invite_db_list(cmd_t *cmd, int64_t greeter, int64_t now_us, invite_db_item_t **items,
                    size_t *n);

/* invite_db_delete - delete greeter's invitation token of org with reason
 * ("FINISHED"...) at now_us: NOT_FOUND, DELETED (already; nothing changed),
 * or OK.  The row is locked, so two deletions serialise. */
invite_db_status invite_db_delete(cmd_t *cmd, int64_t org, int64_t greeter, const uint8_t token[16],
                                  const char *reason, int64_t now_us)
    __attribute__((warn_unused_result));

/* invite_db_greeter_load - lock greeter's invitation token of org and read
 * its conduit into *c (payloads in the arena) and its _id: NOT_FOUND,
 * DELETED, or OK. */
invite_db_status invite_db_greeter_load(cmd_t *cmd, int64_t org, int64_t greeter,
                                        const uint8_t token[16], int64_t *inv_id,
                                        invite_conduit_t *c) __attribute__((warn_unused_result));

/* invite_db_claimer_load - record the claimer's presence at now_us on
 * invitation inv_id, lock it and read its conduit into *c; *was_idle: no
 * claimer request within 60 s before this one.  DELETED (deleted since the
 * invited route loaded it; the caller refuses, which undoes the presence),
 * NOT_FOUND (the row is gone: a server fault) or OK. */
invite_db_status invite_db_claimer_load(cmd_t *cmd, int64_t inv_id, int64_t now_us, bool *was_idle,
                                        invite_conduit_t *c) __attribute__((warn_unused_result));

/* invite_db_conduit_store - write *c to invitation inv_id. */
void invite_db_conduit_store(cmd_t *cmd, int64_t inv_id, const invite_conduit_t *c);

/* What invite_info answers. */
typedef struct {
    bool is_user;
    const char *claimer_email;
    const char *greeter_user_id;
    const char *greeter_email; /* NULL: no human handle, or the greeter is revoked */
    const char *greeter_label;
} invite_db_info_t;

/* invite_db_info - record the claimer's presence at now_us on invitation
 * inv_id and read what invite_info answers; *was_idle as above.  False when
 * the row is gone (a server fault). */
bool invite_db_info(cmd_t *cmd, int64_t inv_id, int64_t now_us, bool *was_idle,
                    invite_db_info_t *out) __attribute__((warn_unused_result));

#endif
