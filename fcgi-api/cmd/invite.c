/*
 * fcgi-api/cmd/invite.c - the invitation commands: invite_new, invite_list,
 * invite_delete (authenticated), invite_info (invited), and the six steps
 * of each side of the greeting exchange
 *
 * docs/protocol.md is the contract: 6.2 and 6.3 for the commands, 7 for the
 * exchange without blocking; parsec-2.12-behaviour.md sections 4 and 13 the
 * behaviour followed, with Part 1's differences (#3 non-blocking, #6 and #7
 * mail).  Their SQL is invite_db.c; what a step does to the conduit is
 * invite_conduit.c, a pure state machine; the mail is common/email.h, sent
 * after the command committed.  Tests: tests/unit/test_invite_conduit.c,
 * tests/integration/test_cmd_invite*.c and test_invite_*.c.
 *
 * No worker ever waits for the peer: a step that finds the peer silent
 * commits what it said and answers not_ready, and the caller repeats it.
 * Claimer requests record the claimer's presence in the same transaction,
 * which commits whatever the step answers (ok, not_ready, invalid_state):
 * presence is what makes an invitation READY in invite_list.
 */
#include "cmd.h"
#include "crypto.h"
#include "email.h"
#include "event.h"
#include "invite_conduit.h"
#include "invite_db.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

/* The step payloads' bounds (docs/protocol.md section 8). */
#define INVITE_KEY_SIZE    32 /* PublicKey, HashDigest */
#define INVITE_NONCE_MAX   1024
#define INVITE_PAYLOAD_MAX 65536

/* token as its 32 lowercase hex characters (arena string). */
static const char *token_text(cmd_t *cmd, const uint8_t token[16])
{
    char *hex = crypto_hex_encode(token, 16);
    const char *s = arena_strdup(cmd->arena, hex);
    free(hex);
    return s;
}

/* ---------------------------------------------------------------------------
 * Events: one publisher per event type, the only calls to
 * common/event.h's typed publishers here.  Published inside the command's
 * transaction, so only what commits is announced.  author: the calling
 * device (NULL on the invited route, where there is none).
 */

static bool publish_invite_status_changed(cmd_t *cmd, const char *greeter, const uint8_t token[16],
                                          event_invitation_status status)
{
    return event_publish_invite_status_changed(cmd_conn(cmd), cmd->who->org.id, cmd->who->device.id,
                                               greeter, token, status);
}

static bool publish_invite_conduit_updated(cmd_t *cmd, const char *greeter, const uint8_t token[16])
{
    return event_publish_invite_conduit_updated(cmd_conn(cmd), cmd->who->org.id,
                                                cmd->who->device.id, greeter, token);
}

/* The claimer has spoken: READY to the greeter when it had been silent for
 * 60 s (7.3). */
static bool claimer_present(cmd_t *cmd, bool was_idle)
{
    const auth_invitation_t *inv = &cmd->who->invitation;
    return !was_idle || publish_invite_status_changed(cmd, inv->greeter.id, inv->token.bytes,
                                                      EVENT_INVITATION_READY);
}

/* ---------------------------------------------------------------------------
 * invite_new
 */

/* A fresh token: a version 4 UUID from RAND_bytes. */
static bool new_token(uint8_t token[16])
{
    if (!crypto_random(token, 16))
        return false;
    token[6] = (uint8_t)((token[6] & 0x0f) | 0x40);
    token[8] = (uint8_t)((token[8] & 0x3f) | 0x80);
    return true;
}

static cmd_result invite_new(cmd_t *cmd)
{
    static const char *const types[] = {"USER", "DEVICE", NULL};
    int type = -1;
    const char *email = NULL;
    bool send_email = false;
    if (proto_enum(cmd->in, "type", types, &type) && type == 0)
        proto_email(cmd->in, "claimer_email", &email);
    proto_bool(cmd->in, "send_email", &send_email);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);
    bool is_user = type == 0;
    const auth_user_t *me = &cmd->who->user;

    /* 1, 2 */
    if (is_user && me->profile != CERTIF_PROFILE_ADMIN)
        return cmd_not_allowed(cmd, arena_printf(cmd->arena, "User `%s` is not admin", me->id));
    if (!is_user && send_email && !me->human_email)
        return cmd_refuse(cmd, "not_available");

    /* 3 to 5, one greeter at a time */
    invite_db_lock_greeter(cmd, me->_id);
    invite_db_checks_t chk;
    invite_db_new_checks(cmd, cmd->who->org._id, me->_id, email, &chk);
    if (cmd_failed(cmd))
        return CMD_ERROR;
    if (chk.member)
        return cmd_refuse(cmd, "already_member");
    uint8_t token[16];
    if (chk.has_pending) {
        memcpy(token, chk.pending, sizeof token);
    } else {
        if (chk.pending_count >= INVITE_DB_PENDING_MAX)
            return cmd_not_allowed(cmd, arena_printf(cmd->arena,
                                                     "Too many pending invitations (at most %d):"
                                                     " delete some first",
                                                     INVITE_DB_PENDING_MAX));
        if (!new_token(token)) {
            log_error("invite_new: no random bytes for a token");
            return cmd_fail(cmd);
        }
        invite_db_insert(cmd, cmd->who->org._id, me->_id, token, email, cmd->now_us);
    }
    if (!publish_invite_status_changed(cmd, me->id, token, EVENT_INVITATION_IDLE))
        return cmd_fail(cmd);
    log_info("invite_new: %s invitation%s", types[type],
             chk.has_pending ? " (the pending one)" : "");

    json_object *sent = NULL;
    if (send_email) {
        /* After COMMIT, the connection given back: a slow mail server holds
         * no lock and no pooled connection, and a mail never announces an
         * invitation a rollback removed.  The invitation stays whatever the
         * mail becomes. */
        cmd_result r = cmd_commit(cmd);
        if (r != CMD_OK)
            return r;
        email_invitation_t inv = {
            .type = is_user ? EMAIL_INVITE_USER : EMAIL_INVITE_DEVICE,
            .organization_id = cmd->who->org.id,
            .token = token_text(cmd, token),
            .claimer_email = email,
            .greeter_user_id = me->id,
            .greeter_label = me->human_label,
            .greeter_email = me->human_email,
        };
        email_result er = cmd->cfg ? email_send_invitation(cmd->cfg, &inv) : EMAIL_NOT_AVAILABLE;
        sent = json_object_new_string(email_result_name(er));
    }
    json_object *reply = proto_reply("ok");
    json_object_object_add(reply, "token", proto_json_uuid(token));
    json_object_object_add(reply, "email_sent", sent);
    return cmd_ok(cmd, reply);
}

/* ---------------------------------------------------------------------------
 * invite_list, invite_delete
 */

static cmd_result invite_list(cmd_t *cmd)
{
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);
    invite_db_item_t *items;
    size_t n;
    invite_db_list(cmd, cmd->who->user._id, cmd->now_us, &items, &n);
    json_object *list = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "type",
                               json_object_new_string(items[i].is_user ? "USER" : "DEVICE"));
        json_object_object_add(o, "token", proto_json_uuid(items[i].token));
        json_object_object_add(o, "created_on", proto_json_datetime(items[i].created_on));
        if (items[i].is_user)
            json_object_object_add(o, "claimer_email",
                                   proto_json_str_or_null(items[i].claimer_email));
        json_object_object_add(o, "status",
                               json_object_new_string(items[i].ready ? "READY" : "IDLE"));
        json_object_array_add(list, o);
    }
    json_object *reply = proto_reply("ok");
    json_object_object_add(reply, "invitations", list);
    return cmd_ok(cmd, reply);
}

static cmd_result invite_delete(cmd_t *cmd)
{
    static const char *const reasons[] = {"FINISHED", "CANCELLED", "ROTTEN", NULL};
    proto_uuid_t token;
    int reason = 0;
    proto_uuid(cmd->in, "token", &token);
    proto_enum(cmd->in, "reason", reasons, &reason);
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);
    switch (invite_db_delete(cmd, cmd->who->org._id, cmd->who->user._id, token.bytes,
                             reasons[reason], cmd->now_us)) {
    case INVITE_DB_NOT_FOUND:
        return cmd_refuse(cmd, "not_found");
    case INVITE_DB_DELETED:
        return cmd_refuse(cmd, "already_deleted");
    case INVITE_DB_OK:
        break;
    }
    if (!publish_invite_status_changed(cmd, cmd->who->user.id, token.bytes,
                                       EVENT_INVITATION_DELETED))
        return cmd_fail(cmd);
    log_info("invite_delete: %s", reasons[reason]);
    return cmd_ok_status(cmd);
}

/* ---------------------------------------------------------------------------
 * invite_info (invited)
 */

static cmd_result invite_info(cmd_t *cmd)
{
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);
    bool was_idle;
    invite_db_info_t info;
    if (!invite_db_info(cmd, cmd->who->invitation._id, cmd->now_us, &was_idle, &info)) {
        if (!cmd_failed(cmd))
            log_error("invite_info: the invitation row is gone");
        return cmd_fail(cmd);
    }
    if (!claimer_present(cmd, was_idle))
        return cmd_fail(cmd);
    json_object *reply = proto_reply("ok");
    json_object_object_add(reply, "type", json_object_new_string(info.is_user ? "USER" : "DEVICE"));
    if (info.is_user)
        json_object_object_add(reply, "claimer_email", proto_json_str_or_null(info.claimer_email));
    json_object_object_add(reply, "greeter_user_id", proto_json_str_or_null(info.greeter_user_id));
    json_object_object_add(reply, "greeter_human_handle",
                           proto_json_human_handle(info.greeter_email, info.greeter_label));
    return cmd_ok(cmd, reply);
}

/* ---------------------------------------------------------------------------
 * The greeter and claimer steps (docs/protocol.md 6.2, 6.3 and 7)
 */

typedef struct {
    const char *name;
    invite_side side;
    invite_step step;
    const char *in;  /* the field the caller says in its first exchange; NULL: empty */
    size_t in_exact; /* its exact size (keys, digests), or 0 ... */
    size_t in_max;   /* ... its largest */
    const char *out; /* the field of the peer's payload in ok; NULL: none */
} step_def_t;

static const step_def_t steps[] = {
    {"invite_1_greeter_wait_peer", INVITE_GREETER, INVITE_STEP_1, "greeter_public_key",
     INVITE_KEY_SIZE, 0, "claimer_public_key"},
    {"invite_2a_greeter_get_hashed_nonce", INVITE_GREETER, INVITE_STEP_2A, NULL, 0, 0,
     "claimer_hashed_nonce"},
    {"invite_2b_greeter_send_nonce", INVITE_GREETER, INVITE_STEP_2B, "greeter_nonce", 0,
     INVITE_NONCE_MAX, "claimer_nonce"},
    {"invite_3a_greeter_wait_peer_trust", INVITE_GREETER, INVITE_STEP_3A, NULL, 0, 0, NULL},
    {"invite_3b_greeter_signify_trust", INVITE_GREETER, INVITE_STEP_3B, NULL, 0, 0, NULL},
    {"invite_4_greeter_communicate", INVITE_GREETER, INVITE_STEP_4, "payload", 0,
     INVITE_PAYLOAD_MAX, "payload"},
    {"invite_1_claimer_wait_peer", INVITE_CLAIMER, INVITE_STEP_1, "claimer_public_key",
     INVITE_KEY_SIZE, 0, "greeter_public_key"},
    {"invite_2a_claimer_send_hashed_nonce", INVITE_CLAIMER, INVITE_STEP_2A, "claimer_hashed_nonce",
     INVITE_KEY_SIZE, 0, "greeter_nonce"},
    {"invite_2b_claimer_send_nonce", INVITE_CLAIMER, INVITE_STEP_2B, "claimer_nonce", 0,
     INVITE_NONCE_MAX, NULL},
    {"invite_3a_claimer_signify_trust", INVITE_CLAIMER, INVITE_STEP_3A, NULL, 0, 0, NULL},
    {"invite_3b_claimer_wait_peer_trust", INVITE_CLAIMER, INVITE_STEP_3B, NULL, 0, 0, NULL},
    {"invite_4_claimer_communicate", INVITE_CLAIMER, INVITE_STEP_4, "payload", 0,
     INVITE_PAYLOAD_MAX, "payload"},
};

static cmd_result invite_exchange(cmd_t *cmd)
{
    const step_def_t *d = NULL;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (strcmp(steps[i].name, cmd->name) == 0)
            d = &steps[i];
    if (!d) {
        log_error("invite step %s has no definition", cmd->name);
        return cmd_fail(cmd);
    }
    bool greeter = d->side == INVITE_GREETER;

    /* fields: the greeter names the invitation, the claimer's route did */
    proto_uuid_t token;
    if (greeter)
        proto_uuid(cmd->in, "token", &token);
    else
        token = cmd->who->invitation.token;
    invite_payload_t says = {(const uint8_t *)"", 0};
    if (d->in && d->in_exact) {
        const uint8_t *k;
        if (proto_bytes_n(cmd->in, d->in, d->in_exact, &k))
            says = (invite_payload_t){k, d->in_exact};
    } else if (d->in) {
        proto_bytes_t b;
        if (proto_bytes(cmd->in, d->in, d->in_max, &b))
            says = (invite_payload_t){b.data, b.len};
    }
    if (!proto_in_end(cmd->in))
        return cmd_bad_message(cmd);

    /* the invitation, locked */
    invite_conduit_t c;
    int64_t inv_id;
    bool was_idle = false;
    invite_db_status st;
    if (greeter) {
        st = invite_db_greeter_load(cmd, cmd->who->org._id, cmd->who->user._id, token.bytes,
                                    &inv_id, &c);
    } else {
        inv_id = cmd->who->invitation._id;
        st = invite_db_claimer_load(cmd, inv_id, cmd->now_us, &was_idle, &c);
    }
    if (cmd_failed(cmd))
        return CMD_ERROR;
    switch (st) {
    case INVITE_DB_NOT_FOUND:
        if (greeter)
            return cmd_refuse(cmd, "not_found");
        log_error("%s: the invitation row is gone", cmd->name);
        return cmd_fail(cmd);
    case INVITE_DB_DELETED:
        return cmd_refuse(cmd, "already_deleted");
    case INVITE_DB_OK:
        break;
    }

    /* the conduit (7.2) */
    invite_exchange_t ex[2];
    size_t n = invite_conduit_exchanges(d->side, d->step, says, ex);
    invite_payload_t answer;
    bool changed;
    invite_conduit_result res = invite_conduit_step(&c, d->side, ex, n, &answer, &changed);
    if (changed)
        invite_db_conduit_store(cmd, inv_id, &c);
    if (!greeter) {
        const char *g = cmd->who->invitation.greeter.id;
        if (!claimer_present(cmd, was_idle) ||
            (changed && !publish_invite_conduit_updated(cmd, g, token.bytes)))
            return cmd_fail(cmd);
    }

    switch (res) {
    case INVITE_CONDUIT_OK:
        break;
    case INVITE_CONDUIT_NOT_READY:
        return cmd_ok(cmd, proto_reply("not_ready")); /* commits what was said */
    case INVITE_CONDUIT_INVALID_STATE:
        /* nothing changed; the claimer's presence still counts */
        if (greeter)
            return cmd_refuse(cmd, "invalid_state");
        return cmd_ok(cmd, proto_reply("invalid_state"));
    }
    json_object *reply = proto_reply("ok");
    if (d->out)
        json_object_object_add(reply, d->out, proto_json_bytes(answer.data, answer.len));
    return cmd_ok(cmd, reply);
}

const cmd_def_t cmd_family_invite[] = {
    {"invite_new", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_TRANSACTION, invite_new},
    {"invite_list", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_ONE_STATEMENT, invite_list},
    {"invite_delete", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_TRANSACTION, invite_delete},
    {"invite_info", AUTH_INVITED, CMD_ANYONE, CMD_TRANSACTION, invite_info},
    {"invite_1_greeter_wait_peer", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_TRANSACTION,
     invite_exchange},
    {"invite_2a_greeter_get_hashed_nonce", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_TRANSACTION,
     invite_exchange},
    {"invite_2b_greeter_send_nonce", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_TRANSACTION,
     invite_exchange},
    {"invite_3a_greeter_wait_peer_trust", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_TRANSACTION,
     invite_exchange},
    {"invite_3b_greeter_signify_trust", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_TRANSACTION,
     invite_exchange},
    {"invite_4_greeter_communicate", AUTH_AUTHENTICATED, CMD_ANYONE, CMD_TRANSACTION,
     invite_exchange},
    {"invite_1_claimer_wait_peer", AUTH_INVITED, CMD_ANYONE, CMD_TRANSACTION, invite_exchange},
    {"invite_2a_claimer_send_hashed_nonce", AUTH_INVITED, CMD_ANYONE, CMD_TRANSACTION,
     invite_exchange},
    {"invite_2b_claimer_send_nonce", AUTH_INVITED, CMD_ANYONE, CMD_TRANSACTION, invite_exchange},
    {"invite_3a_claimer_signify_trust", AUTH_INVITED, CMD_ANYONE, CMD_TRANSACTION, invite_exchange},
    {"invite_3b_claimer_wait_peer_trust", AUTH_INVITED, CMD_ANYONE, CMD_TRANSACTION,
     invite_exchange},
    {"invite_4_claimer_communicate", AUTH_INVITED, CMD_ANYONE, CMD_TRANSACTION, invite_exchange},
    {0},
};
