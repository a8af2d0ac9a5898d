/*
 * fcgi-api/cmd/cmd.c - the command kit (see cmd.h): the transaction a
 * handler runs in, its replies, its certificates
 */
#include "cmd.h"

#include "log.h"

#include <string.h>

struct cmd_state {
    const cmd_def_t *def;
    db_lease_t *lease;
    json_object *reply;
    bool failed;     /* sticky: a statement or a read failed */
    bool retryable;  /* ... with a serialization failure or a deadlock */
    bool tx_open;    /* BEGIN sent, neither COMMIT nor ROLLBACK yet */
    bool committed;  /* cmd_commit() ran */
    int statements;  /* cmd_conn() calls, for CMD_ONE_STATEMENT */
    db_pipe_t *pipe; /* statements queued (cmd_queue), created on first use */
};

/* ---------------------------------------------------------------------------
 * The database
 */

/* Mark the command failed after an operation on c, remembering whether the
 * database said that running it again may succeed. */
static void note_failure(cmd_t *cmd, db_conn_t *c)
{
    cmd->st->failed = true;
    /* CMD_STATEMENTS: what ran is committed; running it again is not safe */
    if (c && db_tx_retryable(c) && cmd->st->def->db != CMD_STATEMENTS)
        cmd->st->retryable = true;
}

cmd_result cmd_fail(cmd_t *cmd)
{
    cmd->st->failed = true;
    return CMD_ERROR;
}

bool cmd_failed(const cmd_t *cmd)
{
    return cmd->st->failed;
}

const char *cmd_json_param(cmd_t *cmd, json_object *obj)
{
    const char *text =
        arena_strdup(cmd->arena, json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
    json_object_put(obj);
    return text;
}

static bool queued(const cmd_t *cmd)
{
    return cmd->st->pipe && db_pipe_count(cmd->st->pipe) > 0;
}

/* Unique violations re-run the handler only when met by a queued
 * statement: see cmd.h, "Pipelines". */
static bool unique_violation(db_conn_t *c)
{
    return c && !strcmp(db_last_sqlstate(c), "23505");
}

/* Send the queue with flags (BEGIN added when the transaction is not open
 * yet) in one round trip. */
static bool pipe_send(cmd_t *cmd, unsigned flags)
{
    struct cmd_state *st = cmd->st;
    db_conn_t *c = db_lease_conn(st->lease);
    if (!c) {
        db_pipe_drop(st->pipe);
        st->failed = true;
        return false;
    }
    if (!st->tx_open)
        flags |= DB_PIPE_BEGIN;
    bool ok = db_pipe_send(st->pipe, c, flags);
    /* BEGIN may have run with a later statement failing: the transaction
     * is then open and failed, for finish_tx() to roll back. */
    st->tx_open = !(flags & DB_PIPE_COMMIT) && db_in_tx(c);
    if (!ok) {
        note_failure(cmd, c);
        if (unique_violation(c))
            st->retryable = true;
    }
    return ok;
}

db_pipe_t *cmd_pipe(cmd_t *cmd)
{
    struct cmd_state *st = cmd->st;
    if (st->failed)
        return NULL;
    if (st->def->db != CMD_TRANSACTION || st->committed) {
        log_error("command %s queued a statement (%s)", cmd->name,
                  st->committed ? "after cmd_commit" : "only CMD_TRANSACTION commands may");
        st->failed = true;
        return NULL;
    }
    if (!st->pipe)
        st->pipe = db_pipe_new(cmd->arena, &st->failed);
    return st->pipe;
}

db_res_t *cmd_queue(cmd_t *cmd, const db_stmt_t *stmt, const db_val_t *vals, size_t n)
{
    db_pipe_t *p = cmd_pipe(cmd);
    if (!p) /* failed: an empty result */
        return db_run(NULL, cmd->arena, &cmd->st->failed, stmt, vals, n);
    return db_pipe_add(p, stmt, vals, n);
}

bool cmd_flush(cmd_t *cmd)
{
    if (cmd->st->failed) {
        if (cmd->st->pipe)
            db_pipe_drop(cmd->st->pipe);
        return false;
    }
    return !queued(cmd) || pipe_send(cmd, 0);
}

db_conn_t *cmd_conn(cmd_t *cmd)
{
    struct cmd_state *st = cmd->st;
    if (st->failed)
        return NULL;
    /* What runs on the connection comes after what was queued. */
    if (queued(cmd) && !pipe_send(cmd, 0))
        return NULL;
    switch (st->def->db) {
    case CMD_NO_DB:
        log_error("command %s touched the database (declared CMD_NO_DB)", cmd->name);
        st->failed = true;
        return NULL;
    case CMD_ONE_STATEMENT:
        if (st->statements++ > 0) {
            log_error("command %s ran a second statement (declared CMD_ONE_STATEMENT)", cmd->name);
            st->failed = true;
            return NULL;
        }
        break;
    case CMD_TRANSACTION:
    case CMD_STATEMENTS:
        st->statements++;
        break;
    }
    db_conn_t *c = db_lease_conn(st->lease);
    if (!c) {
        st->failed = true;
        return NULL;
    }
    if (st->def->db == CMD_TRANSACTION && !st->tx_open && !st->committed) {
        if (!db_begin(c, false)) {
            note_failure(cmd, c);
            return NULL;
        }
        st->tx_open = true;
    }
    return c;
}

db_res_t *cmd_run(cmd_t *cmd, const db_stmt_t *stmt, const db_val_t *vals, size_t n)
{
    if (queued(cmd)) { /* joins the queue: one round trip for all */
        db_res_t *r = cmd_queue(cmd, stmt, vals, n);
        (void)cmd_flush(cmd);
        return r;
    }
    db_conn_t *c = cmd_conn(cmd);
    db_res_t *r = db_run(c, cmd->arena, &cmd->st->failed, stmt, vals, n);
    if (cmd->st->failed)
        note_failure(cmd, c);
    return r;
}

cmd_result cmd_commit(cmd_t *cmd)
{
    struct cmd_state *st = cmd->st;
    db_conn_t *c = st->lease->conn;
    if (st->failed) {
        if (st->pipe)
            db_pipe_drop(st->pipe);
        if (st->tx_open && c)
            db_rollback(c);
        st->tx_open = false;
        return CMD_ERROR;
    }
    if (queued(cmd)) {
        if (!pipe_send(cmd, DB_PIPE_COMMIT))
            return CMD_ERROR;
    } else if (st->tx_open) {
        st->tx_open = false;
        if (db_commit(c) != DB_TX_COMMIT) {
            note_failure(cmd, c);
            return CMD_ERROR;
        }
    }
    st->committed = true;
    db_lease_end(st->lease);
    return CMD_OK;
}

/* End the attempt's transaction as the handler's result says. */
static void finish_tx(cmd_t *cmd, cmd_result r)
{
    struct cmd_state *st = cmd->st;
    if (queued(cmd)) {
        if (r == CMD_OK && !st->failed) {
            (void)pipe_send(cmd, DB_PIPE_COMMIT); /* the queue, then COMMIT */
            return;
        }
        db_pipe_drop(st->pipe); /* never sent */
    }
    db_conn_t *c = st->lease->conn;
    if (!st->tx_open || !c)
        return;
    st->tx_open = false;
    if (r == CMD_OK && !st->failed) {
        if (db_commit(c) != DB_TX_COMMIT)
            note_failure(cmd, c);
    } else {
        db_rollback(c);
    }
}

json_object *cmd_execute(const cmd_def_t *def, cmd_t *cmd, db_lease_t *lease)
{
    struct cmd_state st;
    cmd->st = &st;
    for (int attempt = 1;; attempt++) {
        memset(&st, 0, sizeof st);
        st.def = def;
        st.lease = lease;

        cmd_result r = def->handler(cmd);
        finish_tx(cmd, r);

        if (st.failed || r == CMD_ERROR) {
            if (st.reply)
                json_object_put(st.reply);
            st.reply = NULL;
            if (st.retryable && attempt < DB_TX_MAX_ATTEMPTS) {
                log_debug("command %s run again after a serialization failure (run %d)", cmd->name,
                          attempt);
                db_tx_backoff(attempt);
                continue;
            }
            if (st.retryable)
                log_warning("command %s gave up after %d runs (serialization failures)", cmd->name,
                            attempt);
            else if (!st.failed)
                log_error("command %s failed", cmd->name);
            cmd->st = NULL;
            return NULL;
        }
        if (!st.reply)
            log_error("command %s set no reply", cmd->name);
        cmd->st = NULL;
        return st.reply;
    }
}

const char *cmd_who_refusal(const cmd_def_t *def, const cmd_t *cmd)
{
    bool authenticated = cmd->who->route == AUTH_AUTHENTICATED;
    switch (def->who) {
    case CMD_ANYONE:
        return NULL;
    case CMD_ADMIN:
        if (authenticated && cmd->who->user.profile == CERTIF_PROFILE_ADMIN)
            return NULL;
        return arena_printf(cmd->arena, "User `%s` is not admin",
                            cmd->who->user.id ? cmd->who->user.id : "");
    case CMD_NOT_OUTSIDER:
        if (authenticated && cmd->who->user.profile != CERTIF_PROFILE_OUTSIDER)
            return NULL;
        return "Not allowed for user with OUTSIDER profile.";
    }
    return "Not allowed";
}

/* ---------------------------------------------------------------------------
 * Replies
 */

static void set_reply(cmd_t *cmd, json_object *reply)
{
    if (cmd->st->reply)
        json_object_put(cmd->st->reply);
    cmd->st->reply = reply;
}

cmd_result cmd_ok(cmd_t *cmd, json_object *reply)
{
    set_reply(cmd, reply);
    return CMD_OK;
}

cmd_result cmd_ok_status(cmd_t *cmd)
{
    return cmd_ok(cmd, proto_reply("ok"));
}

cmd_result cmd_refuse_json(cmd_t *cmd, json_object *reply)
{
    set_reply(cmd, reply);
    return CMD_REFUSED;
}

cmd_result cmd_refuse(cmd_t *cmd, const char *status)
{
    return cmd_refuse_json(cmd, proto_reply(status));
}

cmd_result cmd_refuse_reason(cmd_t *cmd, const char *status, const char *reason)
{
    return cmd_refuse_json(cmd, proto_reply_reason(status, reason));
}

cmd_result cmd_bad_message(cmd_t *cmd)
{
    return cmd_refuse_json(cmd, proto_reply_bad_message(cmd->in));
}

cmd_result cmd_not_allowed(cmd_t *cmd, const char *reason)
{
    return cmd_refuse_reason(cmd, "not_allowed", reason);
}

cmd_result cmd_bad_timestamp(cmd_t *cmd, int64_t client_us)
{
    return cmd_refuse_json(
        cmd, proto_reply_bad_timestamp(cmd->now_us, client_us, "Timestamp is out of date."));
}

cmd_result cmd_require_greater_timestamp(cmd_t *cmd, int64_t us)
{
    json_object *reply = proto_reply("require_greater_timestamp");
    json_object_object_add(reply, "strictly_greater_than", proto_json_datetime(us));
    return cmd_refuse_json(cmd, reply);
}

/* ---------------------------------------------------------------------------
 * Certificates
 */

static bool certif_refused(cmd_t *cmd, const char *field, const char *why)
{
    set_reply(cmd,
              proto_reply_reason("invalid_certification",
                                 arena_printf(cmd->arena, "Invalid certification data (%s: %s).",
                                              field, why ? why : "refused")));
    return false;
}

bool cmd_certif(cmd_t *cmd, const char *field, const proto_bytes_t *raw, certif_type type,
                certif_t *out)
{
    const char *why = NULL;
    if (certif_load(cmd->arena, raw->data, raw->len, type, cmd->who->device.verify_key,
                    cmd->who->device.id, out, &why) == CERTIF_OK)
        return true;
    return certif_refused(cmd, field, why);
}

bool cmd_certif_root(cmd_t *cmd, const char *field, const proto_bytes_t *raw, certif_type type,
                     const uint8_t root_key[PROTO_KEY_SIZE], certif_t *out)
{
    const char *why = NULL;
    if (certif_load(cmd->arena, raw->data, raw->len, type, root_key, NULL, out, &why) == CERTIF_OK)
        return true;
    return certif_refused(cmd, field, why);
}
