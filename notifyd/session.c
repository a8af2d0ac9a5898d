/*
 * notifyd/session.c - one websocket connection: handshake, send queue, close
 *
 * Life of a connection (docs/events.md):
 *   ESTABLISHED  -> challenge queued, handshake timer started  (CHALLENGED)
 *   answer       -> decoded strictly, database lookup queued    (LOOKUP)
 *   lookup done  -> Parsec's checks in order, result queued     (READY or CLOSING)
 *   READY        -> events queued by the router, written when writeable
 *   close        -> reason kept, queue flushed or dropped, close frame
 *
 * Every write happens in LWS_CALLBACK_SERVER_WRITEABLE, from a bounded
 * queue of shared messages (msg.h), as many per callback as the socket
 * takes without blocking (up to ND_WRITES_PER_CALLBACK).
 */
#include "session.h"

#include "crypto.h"
#include "log.h"
#include "metrics.h"
#include "router.h"
#include "slog.h"
#include "upgrade.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Realm membership changes recorded during one lookup; beyond this the
 * lookup is simply run again rather than replayed. */
#define ND_OPS_MAX 1024

/* Who the answer claims to be, and the user's realms, in one round trip.
 * The realm set is the realms where the user's latest role is not NULL, as
 * one bytea of 16-byte UUIDs.  Results are binary (pgconn.h): keys and
 * realms arrive as their bytes, booleans as one byte.
 *
 * Revoked is "a revocation is recorded", never "revoked_on <= now()": a
 * revocation certificate may be dated ahead of the server's clock (within
 * the ballpark), and the user is revoked from the commit of user_revoke on
 * (docs/protocol.md section 9, #16). */
const db_stmt_t nd_stmt_identify = {
    .name = "notifyd_identify",
    .sql = "SELECT o.root_verify_key, o.is_expired, d.verify_key,"
           "       u.revoked_on IS NOT NULL, u.profile,"
           "       (SELECT string_agg(uuid_send(cur.realm_id), ''::bytea)"
           "          FROM (SELECT DISTINCT ON (rur.realm) r.realm_id, rur.role"
           "                  FROM realm_user_role rur JOIN realm r ON r._id = rur.realm"
           "                 WHERE rur.user_ = u._id"
           "                 ORDER BY rur.realm, rur._id DESC) cur"
           "         WHERE cur.role IS NOT NULL)"
           "  FROM organization o"
           "  LEFT JOIN device d ON d.organization = o._id AND d.device_id = $2"
           "  LEFT JOIN user_ u ON u._id = d.user_"
           " WHERE o.organization_id = $1",
    .nparams = 2,
};

enum { COL_RVK, COL_EXPIRED, COL_VERIFY_KEY, COL_REVOKED, COL_PROFILE, COL_REALMS };

/* ---- queue -------------------------------------------------------------- */

static void queue_push(nd_session_t *s, nd_msg_t *msg)
{
    nd_qnode_t *n = xmalloc(sizeof *n);
    n->next = NULL;
    n->msg = nd_msg_ref(msg);
    if (s->q_tail)
        s->q_tail->next = n;
    else
        s->q_head = n;
    s->q_tail = n;
    s->q_count++;
    s->q_bytes += msg->len;
    lws_callback_on_writable(s->wsi);
}

static nd_msg_t *queue_pop(nd_session_t *s)
{
    nd_qnode_t *n = s->q_head;
    if (!n)
        return NULL;
    s->q_head = n->next;
    if (!s->q_head)
        s->q_tail = NULL;
    s->q_count--;
    s->q_bytes -= n->msg->len;
    nd_msg_t *m = n->msg;
    free(n);
    return m;
}

static void queue_drop(nd_session_t *s)
{
    nd_msg_t *m;
    while ((m = queue_pop(s)))
        nd_msg_unref(m);
}

/* Queue a JSON object (consumed) regardless of state: handshake frames. */
static void queue_json(nd_session_t *s, json_object *obj)
{
    nd_msg_t *m = nd_msg_from_json(obj);
    json_object_put(obj);
    queue_push(s, m);
    nd_msg_unref(m);
}

static void deferred_drop(nd_session_t *s)
{
    nd_deferred_t *d = s->def_head;
    while (d) {
        nd_deferred_t *next = d->next;
        nd_msg_unref(d->msg);
        free(d);
        d = next;
    }
    s->def_head = s->def_tail = NULL;
    s->n_def = 0;
}

/* Would msg overflow the queue here, or the backlog the client has not
 * confirmed reading (queued + written and unacknowledged)? */
static bool queue_full(const nd_session_t *s, const nd_msg_t *msg)
{
    size_t queued = s->q_count + s->n_def;
    return queued >= ND_QUEUE_MAX_MSGS || s->q_bytes + msg->len > ND_QUEUE_MAX_BYTES ||
           nd_backlog_unacked_msgs(&s->backlog) + queued >= ND_BACKLOG_MAX_MSGS ||
           nd_backlog_unacked_bytes(&s->backlog) + s->q_bytes + msg->len > ND_BACKLOG_MAX_BYTES;
}

static void overflow(nd_session_t *s)
{
    nd_slog_warning(s,
                    "does not read its events: %zu queued, %llu written and not read (%llu "
                    "bytes), closing",
                    s->q_count + s->n_def, (unsigned long long)nd_backlog_unacked_msgs(&s->backlog),
                    (unsigned long long)nd_backlog_unacked_bytes(&s->backlog));
    metrics_nd_drop();
    nd_session_close(s, ND_CLOSE_QUEUE_OVERFLOW, "send queue overflow", false);
}

void nd_session_send(nd_session_t *s, nd_msg_t *msg)
{
    if (s->state != ND_S_READY)
        return;
    if (queue_full(s, msg)) {
        overflow(s);
        return;
    }
    queue_push(s, msg);
    metrics_nd_event_out();
}

bool nd_session_send_realm(nd_session_t *s, nd_msg_t *msg, const uint8_t realm[16])
{
    if (s->state != ND_S_READY)
        return false;
    if (!s->query) {
        if (!nd_session_in_realm(s, realm))
            return false;
        nd_session_send(s, msg);
        return true;
    }
    if (queue_full(s, msg)) {
        overflow(s);
        return false;
    }
    nd_deferred_t *d = xmalloc(sizeof *d);
    d->next = NULL;
    d->msg = nd_msg_ref(msg);
    memcpy(d->realm, realm, 16);
    if (s->def_tail)
        s->def_tail->next = d;
    else
        s->def_head = d;
    s->def_tail = d;
    s->n_def++;
    return true;
}

/* The re-check answered: deliver what it now says the user may see. */
static void deferred_flush(nd_session_t *s)
{
    nd_deferred_t *d = s->def_head;
    s->def_head = s->def_tail = NULL;
    s->n_def = 0;
    while (d) {
        nd_deferred_t *next = d->next;
        if (s->state == ND_S_READY && nd_session_in_realm(s, d->realm))
            nd_session_send(s, d->msg);
        nd_msg_unref(d->msg);
        free(d);
        d = next;
    }
}

/* ---- closing ------------------------------------------------------------ */

void nd_session_close(nd_session_t *s, int code, const char *reason, bool flush)
{
    if (s->state == ND_S_CLOSING)
        return;
    s->state = ND_S_CLOSING;
    s->close_code = code;
    metrics_nd_close(code);
    snprintf(s->close_reason, sizeof s->close_reason, "%s", reason);
    if (!flush)
        queue_drop(s);
    deferred_drop(s);
    nd_router_leave(s->nd->router, s);
    if (s->query) {
        nd_pg_cancel(s->query);
        s->query = NULL;
    }
    lws_set_timer_usecs(s->wsi, LWS_SET_TIMER_USEC_CANCEL);
    /* The close frame leaves from the writeable callback; a client that
     * never lets us write is dropped after the grace period. */
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, ND_CLOSE_GRACE);
    lws_callback_on_writable(s->wsi);
    nd_slog_info(s, "closing: %d %s", code, s->close_reason);
}

/* ---- realm set ---------------------------------------------------------- */

static size_t realm_pos(const nd_session_t *s, const uint8_t realm[16], bool *found)
{
    size_t lo = 0, hi = s->n_realms;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(s->realms[mid], realm, 16);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

bool nd_session_in_realm(const nd_session_t *s, const uint8_t realm[16])
{
    bool found;
    realm_pos(s, realm, &found);
    return found;
}

static void realm_apply(nd_session_t *s, const uint8_t realm[16], bool member)
{
    bool found;
    size_t i = realm_pos(s, realm, &found);
    if (member && !found) {
        if (s->n_realms == s->cap_realms) {
            s->cap_realms = s->cap_realms ? s->cap_realms * 2 : 4;
            s->realms = xrealloc(s->realms, s->cap_realms * sizeof *s->realms);
        }
        memmove(s->realms + i + 1, s->realms + i, (s->n_realms - i) * sizeof *s->realms);
        memcpy(s->realms[i], realm, 16);
        s->n_realms++;
    } else if (!member && found) {
        memmove(s->realms + i, s->realms + i + 1, (s->n_realms - i - 1) * sizeof *s->realms);
        s->n_realms--;
    }
}

void nd_session_realm_change(nd_session_t *s, const uint8_t realm[16], bool member)
{
    realm_apply(s, realm, member);
    if (!s->query)
        return;
    /* A lookup is in flight: its snapshot may predate this change. */
    if (s->n_ops == ND_OPS_MAX) {
        s->refresh_again = true;
        return;
    }
    if (s->n_ops == s->cap_ops) {
        s->cap_ops = s->cap_ops ? s->cap_ops * 2 : 4;
        s->ops = xrealloc(s->ops, s->cap_ops * sizeof *s->ops);
    }
    memcpy(s->ops[s->n_ops].realm, realm, 16);
    s->ops[s->n_ops].member = member;
    s->n_ops++;
}

/* The database's realm set (the COL_REALMS column: 16-byte UUIDs end to
 * end, NULL for none), then the changes seen while the query ran, in
 * order. */
static bool realms_load(nd_session_t *s, const PGresult *res)
{
    s->n_realms = 0;
    size_t len = PQgetisnull(res, 0, COL_REALMS) ? 0 : (size_t)PQgetlength(res, 0, COL_REALMS);
    const uint8_t *b = (const uint8_t *)PQgetvalue(res, 0, COL_REALMS);
    if (len % 16)
        return false;
    for (size_t i = 0; i < len; i += 16)
        realm_apply(s, b + i, true);
    for (size_t i = 0; i < s->n_ops; i++)
        realm_apply(s, s->ops[i].realm, s->ops[i].member);
    s->n_ops = 0;
    return true;
}

/* ---- handshake ---------------------------------------------------------- */

static json_object *result_json(const char *result, const char *help)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "handshake", json_object_new_string("result"));
    json_object_object_add(o, "result", json_object_new_string(result));
    json_object_object_add(o, "help", help ? json_object_new_string(help) : NULL);
    return o;
}

/* A failed handshake: the result, then a close carrying the same word. */
static void hs_fail(nd_session_t *s, const char *result, const char *help)
{
    nd_slog_info(s, "handshake refused: %s (%s)", result, help);
    queue_json(s, result_json(result, help));
    nd_session_close(s, ND_CLOSE_POLICY, result, true);
}

static bool send_challenge(nd_session_t *s)
{
    if (!crypto_random(s->challenge, sizeof s->challenge))
        return false;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "handshake", json_object_new_string("challenge"));
    json_object_object_add(o, "challenge", proto_json_bytes(s->challenge, sizeof s->challenge));
    json_object *versions = json_object_new_array();
    json_object *v = json_object_new_array();
    json_object_array_add(v, json_object_new_int(PROTO_API_VERSION_MAJOR));
    json_object_array_add(v, json_object_new_int(atoi(strchr(PROTO_API_VERSION, '.') + 1)));
    json_object_array_add(versions, v);
    json_object_object_add(o, "supported_api_versions", versions);
    json_object_object_add(o, "ballpark_client_early_offset",
                           json_object_new_double(PROTO_BALLPARK_CLIENT_EARLY_OFFSET_US / 1e6));
    json_object_object_add(o, "ballpark_client_late_offset",
                           json_object_new_double(PROTO_BALLPARK_CLIENT_LATE_OFFSET_US / 1e6));
    json_object_object_add(o, "backend_timestamp", proto_json_datetime(proto_now_us()));
    queue_json(s, o);
    return true;
}

/* client_api_version: [major, minor], two non-negative integers. */
static bool api_version_ok(json_object *obj, const char **why)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(obj, "client_api_version", &v) ||
        !json_object_is_type(v, json_type_array) || json_object_array_length(v) != 2) {
        *why = "client_api_version must be [major, minor]";
        return false;
    }
    for (size_t i = 0; i < 2; i++) {
        json_object *n = json_object_array_get_idx(v, i);
        if (!json_object_is_type(n, json_type_int) || json_object_get_int64(n) < 0 ||
            json_object_get_int64(n) > 65535) {
            *why = "client_api_version must be [major, minor]";
            return false;
        }
    }
    /* As Parsec: same major is enough, the minor is not compared. */
    if (json_object_get_int64(json_object_array_get_idx(v, 0)) != PROTO_API_VERSION_MAJOR) {
        *why = "unsupported API version (supported: " PROTO_API_SUPPORTED ")";
        return false;
    }
    return true;
}

static void on_lookup(void *arg, const PGresult *res);

/* The answer, reassembled in s->rx: decode strictly, then look it up. */
static void hs_answer(nd_session_t *s)
{
    nd_t *nd = s->nd;
    const char *why = NULL, *hs = NULL, *type = NULL, *org = NULL, *dev = NULL;
    const uint8_t *rvk = NULL, *sig = NULL;

    json_object *obj = proto_json_parse(nd->scratch, s->rx, s->rx_len, &why);
    free(s->rx);
    s->rx = NULL;
    s->rx_len = 0;
    if (!obj)
        goto bad;
    proto_in_t *in = proto_in_new(nd->scratch, obj, "");
    if (!proto_str(in, "handshake", 16, &hs) || !proto_str(in, "type", 32, &type))
        goto bad_in;
    if (strcmp(hs, "answer") != 0) {
        why = "expected {\"handshake\": \"answer\", ...}";
        goto bad;
    }
    if (strcmp(type, "AUTHENTICATED") != 0) {
        why = "only AUTHENTICATED handshakes are served here";
        goto bad;
    }
    if (!proto_has(in, "client_api_version") || !api_version_ok(obj, &why)) {
        if (!why)
            why = "client_api_version must be [major, minor]";
        goto bad;
    }
    if (!proto_organization_id(in, "organization_id", &org) ||
        !proto_device_id(in, "device_id", &dev) || !proto_bytes_n(in, "rvk", 32, &rvk) ||
        !proto_bytes_n(in, "answer", 64, &sig) || !proto_in_end(in))
        goto bad_in;

    snprintf(s->org_id, sizeof s->org_id, "%s", org);
    snprintf(s->device_id, sizeof s->device_id, "%s", dev);
    snprintf(s->user_id, sizeof s->user_id, "%.*s", (int)strcspn(dev, "@"), dev);
    memcpy(s->rvk, rvk, sizeof s->rvk);
    memcpy(s->signature, sig, sizeof s->signature);
    arena_reset(nd->scratch);

    /* Indexed now, so a revocation or expiry that arrives during the
     * lookup reaches this connection too. */
    s->state = ND_S_LOOKUP;
    nd_router_join(nd->router, s);
    const char *values[2] = {s->org_id, s->device_id};
    s->query = nd_pg_query(nd->pg, &nd_stmt_identify, values, on_lookup, s);
    /* The handshake timer keeps running: the lookup counts in the 10 s. */
    if (!s->query)
        nd_session_close(s, ND_CLOSE_INTERNAL, "database unavailable", false);
    return;

bad_in:
    why = proto_in_reason(in);
bad:
    hs_fail(s, "bad_protocol", why ? why : "invalid answer");
    arena_reset(nd->scratch);
}

/* Column col of row 0 (binary): a bytea of exactly n bytes, borrowed from
 * res; NULL otherwise. */
static const uint8_t *col_bytes(const PGresult *res, int col, size_t n)
{
    if (PQgetisnull(res, 0, col) || (size_t)PQgetlength(res, 0, col) != n)
        return NULL;
    return (const uint8_t *)PQgetvalue(res, 0, col);
}

/* A binary boolean column is one byte, 1 for true. */
static bool col_true(const PGresult *res, int col)
{
    return !PQgetisnull(res, 0, col) && PQgetlength(res, 0, col) == 1 &&
           PQgetvalue(res, 0, col)[0] == 1;
}

/* What the device signs: the challenge inside a fixed JSON text
 * (docs/events.md), so the signature cannot be replayed as anything else. */
static char *signed_text(const uint8_t challenge[ND_CHALLENGE_SIZE])
{
    char *b64 = crypto_b64_encode(challenge, ND_CHALLENGE_SIZE);
    char *t = xasprintf("{\"type\":\"signed_answer\",\"answer\":\"%s\"}", b64);
    free(b64);
    return t;
}

static void start_refresh(nd_session_t *s);

/* A READY session re-checked after a database reconnection. */
static void refresh_done(nd_session_t *s, const PGresult *res)
{
    if (!res) {
        /* The database went away again: the next reconnection re-checks
         * and tells the client events.missed again. */
        s->n_ops = 0;
        deferred_drop(s);
        return;
    }
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, COL_VERIFY_KEY)) {
        nd_session_close(s, ND_CLOSE_POLICY, "bad_identity", false);
        return;
    }
    if (col_true(res, COL_EXPIRED)) {
        nd_session_close(s, ND_CLOSE_EXPIRED, "organization expired", false);
        return;
    }
    if (col_true(res, COL_REVOKED)) {
        nd_session_close(s, ND_CLOSE_REVOKED, "user revoked", false);
        return;
    }
    if (!realms_load(s, res)) {
        nd_session_close(s, ND_CLOSE_INTERNAL, "internal error", false);
        return;
    }
    if (s->refresh_again) {
        /* Still unsure: keep holding realm events until the next answer. */
        s->refresh_again = false;
        start_refresh(s);
        if (s->query)
            return;
    }
    deferred_flush(s);
}

static void on_lookup(void *arg, const PGresult *res)
{
    nd_session_t *s = arg;
    s->query = NULL;
    if (s->state == ND_S_READY) {
        refresh_done(s, res);
        return;
    }
    if (s->state != ND_S_LOOKUP)
        return;
    lws_set_timer_usecs(s->wsi, LWS_SET_TIMER_USEC_CANCEL);
    if (!res) {
        nd_session_close(s, ND_CLOSE_INTERNAL, "database unavailable", false);
        return;
    }

    /* Parsec 2.12's order (section 10.3). */
    const uint8_t *verify_key = PQntuples(res) == 1 ? col_bytes(res, COL_VERIFY_KEY, 32) : NULL;
    const uint8_t *rvk = verify_key ? col_bytes(res, COL_RVK, sizeof s->rvk) : NULL;
    if (!verify_key || PQgetisnull(res, 0, COL_RVK)) {
        hs_fail(s, "bad_identity", "Invalid handshake information");
        return;
    }
    if (!rvk || !crypto_equal(rvk, s->rvk, sizeof s->rvk)) {
        hs_fail(s, "rvk_mismatch",
                "Root verify key for organization differs between client and server");
        return;
    }
    if (col_true(res, COL_EXPIRED)) {
        hs_fail(s, "organization_expired", "Trial organization has expired");
        return;
    }
    if (col_true(res, COL_REVOKED)) {
        hs_fail(s, "revoked_device", "Device has been revoked");
        return;
    }
    char *text = signed_text(s->challenge);
    bool sig_ok = crypto_ed25519_verify(verify_key, text, strlen(text), s->signature);
    free(text);
    if (!sig_ok) {
        hs_fail(s, "bad_protocol", "Invalid answer signature");
        return;
    }
    if (!realms_load(s, res)) {
        nd_session_close(s, ND_CLOSE_INTERNAL, "internal error", false);
        return;
    }
    s->admin =
        !PQgetisnull(res, 0, COL_PROFILE) && !strcmp(PQgetvalue(res, 0, COL_PROFILE), "ADMIN");
    s->state = ND_S_READY;
    queue_json(s, result_json("ok", NULL));
    nd_slog_info(s, "authenticated (%zu realm%s)", s->n_realms, s->n_realms == 1 ? "" : "s");
    if (s->refresh_again) {
        s->refresh_again = false;
        start_refresh(s);
    }
}

static void start_refresh(nd_session_t *s)
{
    if (s->query) {
        s->refresh_again = true;
        return;
    }
    s->n_ops = 0;
    const char *values[2] = {s->org_id, s->device_id};
    s->query = nd_pg_query(s->nd->pg, &nd_stmt_identify, values, on_lookup, s);
}

/* ---- after a database outage, at shutdown ------------------------------- */

void nd_session_db_restored(nd_t *nd)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string("ok"));
    json_object_object_add(o, "event", json_object_new_string("events.missed"));
    json_object_object_add(o, "reason", json_object_new_string("database_reconnected"));
    nd_msg_t *m = nd_msg_from_json(o);
    json_object_put(o);
    size_t n = 0;
    lws_start_foreach_dll_safe(struct lws_dll2 *, d, d1, lws_dll2_get_head(&nd->sessions))
    {
        nd_session_t *s = lws_container_of(d, nd_session_t, all);
        if (s->state == ND_S_READY) {
            nd_session_send(s, m);
            if (s->state == ND_S_READY)
                start_refresh(s);
            n++;
        }
    }
    lws_end_foreach_dll_safe(d, d1);
    nd_msg_unref(m);
    log_warning("notifyd: told %zu connection%s that events may have been missed", n,
                n == 1 ? "" : "s");
}

void nd_session_shutdown_all(nd_t *nd)
{
    lws_start_foreach_dll_safe(struct lws_dll2 *, d, d1, lws_dll2_get_head(&nd->sessions))
    {
        nd_session_t *s = lws_container_of(d, nd_session_t, all);
        nd_session_close(s, ND_CLOSE_GOING_AWAY, "server shutting down", true);
    }
    lws_end_foreach_dll_safe(d, d1);
}

/* ---- lws callback ------------------------------------------------------- */

static int on_established(nd_session_t *s, struct lws *wsi)
{
    nd_t *nd = nd_of(wsi);
    memset(s, 0, sizeof *s);
    s->wsi = wsi;
    s->nd = nd;
    s->id = ++nd->next_session_id;
    s->state = ND_S_CHALLENGED;
    lws_dll2_add_tail(&s->all, &nd->sessions);
    metrics_nd_connection(1);
    if (nd->stopping) {
        nd_session_close(s, ND_CLOSE_GOING_AWAY, "server shutting down", false);
        return 0;
    }
    if (!send_challenge(s)) {
        nd_slog_error(s, "no random bytes for a challenge");
        nd_session_close(s, ND_CLOSE_INTERNAL, "internal error", false);
        return 0;
    }
    lws_set_timer_usecs(wsi, (lws_usec_t)ND_HANDSHAKE_TIMEOUT * LWS_US_PER_SEC);
    return 0;
}

static int on_receive(nd_session_t *s, struct lws *wsi, const void *in, size_t len)
{
    if (s->state == ND_S_CLOSING)
        return 0;
    if (s->state != ND_S_CHALLENGED) {
        /* One message, the answer: a second one, during the check or after
         * the result, is a client bug (docs/events.md). */
        nd_session_close(s, ND_CLOSE_POLICY, "no message expected after the answer", false);
        return 0;
    }
    if (lws_frame_is_binary(wsi)) {
        free(s->rx);
        s->rx = NULL;
        s->rx_len = 0;
        hs_fail(s, "bad_protocol", "the answer must be a text frame of JSON");
        return 0;
    }
    if (len > ND_ANSWER_MAX - s->rx_len) {
        free(s->rx);
        s->rx = NULL;
        s->rx_len = 0;
        hs_fail(s, "bad_protocol", "answer too large");
        return 0;
    }
    if (!s->rx)
        s->rx = xmalloc(ND_ANSWER_MAX);
    memcpy(s->rx + s->rx_len, in, len);
    s->rx_len += len;
    if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi))
        hs_answer(s);
    return 0;
}

/* Writes as many queued messages as the socket takes without blocking (a
 * bounded number, for fairness between connections), so a burst of events
 * drains at the socket's pace rather than one message per loop turn: twice
 * the notifications taken per turn (PG_NOTIFY_BATCH), so the queue of a
 * client whose socket keeps accepting cannot grow. */
#define ND_WRITES_PER_CALLBACK 64

/* After writing: mark the position with a probe (backlog.h) when none is
 * outstanding.  False if the write failed. */
static bool send_probe(nd_session_t *s, struct lws *wsi)
{
    if (s->state != ND_S_READY || !nd_backlog_want_probe(&s->backlog))
        return true;
    if (lws_send_pipe_choked(wsi)) {
        lws_callback_on_writable(wsi); /* when the socket drains */
        return true;
    }
    uint8_t buf[LWS_PRE + ND_PROBE_LEN];
    nd_backlog_probe(&s->backlog, buf + LWS_PRE);
    return lws_write(wsi, buf + LWS_PRE, ND_PROBE_LEN, LWS_WRITE_PING) >= 0;
}

static int on_writeable(nd_session_t *s, struct lws *wsi)
{
    for (int i = 0; i < ND_WRITES_PER_CALLBACK && s->q_head; i++) {
        if (i > 0 && lws_send_pipe_choked(wsi))
            break;
        nd_msg_t *m = queue_pop(s);
        int n = lws_write(wsi, nd_msg_payload(m), m->len, LWS_WRITE_TEXT);
        bool ok = n >= 0 && (size_t)n >= m->len;
        if (ok)
            nd_backlog_sent(&s->backlog, m->len);
        nd_msg_unref(m);
        if (!ok)
            return -1;
    }
    if (!send_probe(s, wsi))
        return -1;
    if (s->q_head) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (s->state == ND_S_CLOSING) {
        /* Everything flushed (or dropped): the close frame, when lws has
         * sent what it buffered, and once the client has answered our last
         * probe.  Its pong must not reach lws while lws closes: lws 4.1
         * then resets the connection, and the client loses what it had not
         * read yet, the close frame with it.  The pong callback asks for
         * this callback again; ND_CLOSE_GRACE still bounds the wait. */
        if (s->backlog.probe_out)
            return 0;
        if (lws_send_pipe_choked(wsi)) {
            lws_callback_on_writable(wsi);
            return 0;
        }
        lws_close_reason(wsi, (enum lws_close_status)s->close_code,
                         (unsigned char *)s->close_reason, strlen(s->close_reason));
        return -1;
    }
    return 0;
}

static void on_closed(nd_session_t *s)
{
    nd_t *nd = s->nd;
    if (!nd)
        return; /* never established */
    metrics_nd_connection(-1);
    if (s->query)
        nd_pg_cancel(s->query);
    s->query = NULL;
    nd_router_leave(nd->router, s);
    lws_dll2_remove(&s->all);
    queue_drop(s);
    deferred_drop(s);
    free(s->rx);
    free(s->realms);
    free(s->ops);
    s->rx = NULL;
    s->realms = NULL;
    s->ops = NULL;
    s->nd = NULL;
    if (nd->stopping && !nd->sessions.count)
        nd->done = true;
}

int nd_session_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    nd_session_t *s = user;

    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return nd_upgrade_http(wsi);

    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return nd_upgrade_confirm(wsi, in, nd_of(wsi)->stopping);

    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        nd_upgrade_bound();
        return 0;

    case LWS_CALLBACK_ESTABLISHED:
        return on_established(s, wsi);

    case LWS_CALLBACK_RECEIVE:
        return on_receive(s, wsi, in, len);

    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(s, wsi);

    case LWS_CALLBACK_RECEIVE_PONG:
        /* The client read everything up to a probe: probe again if more
         * was written since, or close now if closing waited for it. */
        if (s->nd && nd_backlog_pong(&s->backlog, in, len) &&
            (s->state == ND_S_CLOSING || nd_backlog_want_probe(&s->backlog)))
            lws_callback_on_writable(wsi);
        return 0;

    case LWS_CALLBACK_TIMER:
        if (s->state == ND_S_CHALLENGED)
            nd_session_close(s, ND_CLOSE_HS_TIMEOUT, "handshake timeout", false);
        else if (s->state == ND_S_LOOKUP)
            nd_session_close(s, ND_CLOSE_INTERNAL, "database unavailable", false);
        return 0;

    case LWS_CALLBACK_CLOSED:
        on_closed(s);
        return 0;

    default:
        return 0;
    }
}
