/*
 * notifyd/router.c - the organization index and the delivery rules
 *
 * Every event is scoped to one organization: the index maps an organization
 * id to the list of its sessions, so an event costs a walk over that
 * organization's connections only.  The client's JSON is built once per
 * event and shared by reference (msg.h).
 */
#include "router.h"

#include "event.h"
#include "log.h"
#include "metrics.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

struct nd_org {
    nd_org_t *next; /* hash chain */
    uint64_t hash;
    char id[PROTO_ID_MAX + 1];
    lws_dll2_owner_t sessions; /* nd_session_t.org_link */
};

struct nd_router {
    nd_org_t **buckets;
    size_t nbuckets; /* a power of two */
    size_t norgs;
};

#define ROUTER_MIN_BUCKETS 64

static uint64_t hash_id(const char *s)
{
    /* FNV-1a: ids are short and chosen by organizations, not attackers
     * (an organization id exists in the database before it is indexed
     * here... or the lookup fails and the session leaves at once). */
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

nd_router_t *nd_router_new(void)
{
    nd_router_t *r = xcalloc(1, sizeof *r);
    r->nbuckets = ROUTER_MIN_BUCKETS;
    r->buckets = xcalloc(r->nbuckets, sizeof *r->buckets);
    return r;
}

void nd_router_free(nd_router_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nbuckets; i++) {
        nd_org_t *o = r->buckets[i];
        while (o) {
            nd_org_t *next = o->next;
            free(o);
            o = next;
        }
    }
    free(r->buckets);
    free(r);
}

size_t nd_router_org_count(const nd_router_t *r)
{
    return r->norgs;
}

static void router_grow(nd_router_t *r)
{
    size_t n = r->nbuckets * 2;
    nd_org_t **b = xcalloc(n, sizeof *b);
    for (size_t i = 0; i < r->nbuckets; i++) {
        nd_org_t *o = r->buckets[i];
        while (o) {
            nd_org_t *next = o->next;
            o->next = b[o->hash & (n - 1)];
            b[o->hash & (n - 1)] = o;
            o = next;
        }
    }
    free(r->buckets);
    r->buckets = b;
    r->nbuckets = n;
}

static nd_org_t *router_find(const nd_router_t *r, const char *id, uint64_t h)
{
    for (nd_org_t *o = r->buckets[h & (r->nbuckets - 1)]; o; o = o->next)
        if (o->hash == h && strcmp(o->id, id) == 0)
            return o;
    return NULL;
}

void nd_router_join(nd_router_t *r, nd_session_t *s)
{
    uint64_t h = hash_id(s->org_id);
    nd_org_t *o = router_find(r, s->org_id, h);
    if (!o) {
        if (r->norgs >= r->nbuckets)
            router_grow(r);
        o = xcalloc(1, sizeof *o);
        o->hash = h;
        snprintf(o->id, sizeof o->id, "%s", s->org_id);
        size_t b = h & (r->nbuckets - 1);
        o->next = r->buckets[b];
        r->buckets[b] = o;
        r->norgs++;
    }
    lws_dll2_add_tail(&s->org_link, &o->sessions);
    s->org = o;
}

void nd_router_leave(nd_router_t *r, nd_session_t *s)
{
    nd_org_t *o = s->org;
    if (!o)
        return;
    lws_dll2_remove(&s->org_link);
    s->org = NULL;
    if (o->sessions.count)
        return;
    /* Last connection of the organization: drop the entry. */
    nd_org_t **pp = &r->buckets[o->hash & (r->nbuckets - 1)];
    while (*pp && *pp != o)
        pp = &(*pp)->next;
    if (*pp)
        *pp = o->next;
    r->norgs--;
    free(o);
}

/* ---- delivery -------------------------------------------------------------- */

static bool same_user(const nd_session_t *s, const char *user)
{
    return user && strcmp(s->user_id, user) == 0;
}

static bool is_author(const nd_session_t *s, const char *author)
{
    return author && strcmp(s->device_id, author) == 0;
}

/* realm.roles_updated: does the user still have a role? */
static bool is_member(const event_t *ev)
{
    return ev->role != EVENT_ROLE_NONE;
}

static bool is_realm_event(event_type t)
{
    return t == EVENT_REALM_VLOBS_UPDATED || t == EVENT_REALM_MAINTENANCE_STARTED ||
           t == EVENT_REALM_MAINTENANCE_FINISHED;
}

/* Does READY session s receive ev?  (Section 9.2, Part 1 item 8; realm
 * events are decided by nd_session_send_realm.) */
static bool entitled(const nd_session_t *s, const event_t *ev)
{
    switch (ev->type) {
    case EVENT_PINGED:
        return !is_author(s, ev->author);
    case EVENT_MESSAGE_RECEIVED:
    case EVENT_INVITE_STATUS_CHANGED:
    case EVENT_INVITE_CONDUIT_UPDATED:
    case EVENT_REALM_ROLES_UPDATED:
        return same_user(s, ev->user);
    case EVENT_PKI_ENROLLMENT_UPDATED:
        return s->admin;
    default:
        return false;
    }
}

/* The clients' message of ev, serialized once for every recipient. */
static nd_msg_t *client_msg(const event_t *ev)
{
    json_object *o = event_client_json(ev);
    nd_msg_t *m = nd_msg_from_json(o);
    json_object_put(o);
    return m;
}

void nd_router_dispatch(nd_t *nd, const char *payload)
{
    metrics_nd_event_in();
    event_t ev;
    const char *why = "invalid payload";
    nd_msg_t *msg = NULL;

    if (!event_decode(nd->scratch, payload, strlen(payload), &ev, &why)) {
        log_error("notifyd: dropping a malformed event payload (%zu bytes): %s", strlen(payload),
                  why);
        goto cleanup;
    }
    uint64_t h = hash_id(ev.org);
    nd_org_t *o = router_find(nd->router, ev.org, h);
    if (!o)
        goto cleanup; /* nobody of this organization is connected here */

    size_t delivered = 0;
    /* _safe: closing a session (revocation, a full queue) unlinks it. */
    lws_start_foreach_dll_safe(struct lws_dll2 *, d, d1, lws_dll2_get_head(&o->sessions))
    {
        nd_session_t *s = lws_container_of(d, nd_session_t, org_link);
        switch (ev.type) {
        case EVENT_USER_REVOKED:
            if (same_user(s, ev.user))
                nd_session_close(s, ND_CLOSE_REVOKED, "user revoked", false);
            break;
        case EVENT_ORGANIZATION_EXPIRED:
            nd_session_close(s, ND_CLOSE_EXPIRED, "organization expired", false);
            break;
        default:
            /* Membership follows the role even during a lookup, which
             * replays it on top of the database's answer. */
            if (ev.type == EVENT_REALM_ROLES_UPDATED && same_user(s, ev.user) &&
                (s->state == ND_S_LOOKUP || s->state == ND_S_READY))
                nd_session_realm_change(s, ev.realm_id, is_member(&ev));
            if (s->state != ND_S_READY)
                break;
            if (is_realm_event(ev.type)) {
                /* Membership is decided by the session (it may have to
                 * wait for a re-check of its realm set). */
                if (is_author(s, ev.author))
                    break;
                if (!msg)
                    msg = client_msg(&ev);
                if (nd_session_send_realm(s, msg, ev.realm_id))
                    delivered++;
            } else if (entitled(s, &ev)) {
                if (!msg)
                    msg = client_msg(&ev);
                nd_session_send(s, msg);
                delivered++;
            }
            break;
        }
    }
    lws_end_foreach_dll_safe(d, d1);
    /* o may have been freed with its last session: not used from here. */
    log_debug("notifyd: %s of %s delivered to %zu connection%s", event_type_name(ev.type), ev.org,
              delivered, delivered == 1 ? "" : "s");

cleanup:
    nd_msg_unref(msg);
    arena_reset(nd->scratch);
}
