/*
 * cli/client/ccertif.c - signing certificates, walking trustchains
 */
#include "ccertif.h"

#include "arena.h"
#include "certif.h"
#include "crypto.h"
#include "proto.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

int64_t ccertif_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static json_object *head(const char *type, const char *author, int64_t ts)
{
    char t[PROTO_DATETIME_LEN + 1];
    proto_datetime_format(ts, t);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string(type));
    json_object_object_add(o, "author", author ? json_object_new_string(author) : NULL);
    json_object_object_add(o, "timestamp", json_object_new_string(t));
    return o;
}

static void add_str(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

static void add_key(json_object *o, const char *k, const uint8_t key[CCRYPTO_KEY_SIZE])
{
    char *b = crypto_b64_encode(key, CCRYPTO_KEY_SIZE);
    json_object_object_add(o, k, json_object_new_string(b));
    free(b);
}

/* Signs o's text and puts o. */
static uint8_t *sign_put(const ccrypto_sign_key *k, json_object *o, size_t *len)
{
    size_t n;
    const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &n);
    uint8_t *blob = ccrypto_signed(k, s, n, len);
    json_object_put(o);
    return blob;
}

uint8_t *ccertif_user(const ccrypto_sign_key *k, const char *author, int64_t ts,
                      const char *user_id, const char *email, const char *label,
                      const uint8_t public_key[CCRYPTO_KEY_SIZE], const char *profile, size_t *len)
{
    json_object *o = head("user_certificate", author, ts);
    add_str(o, "user_id", user_id);
    if (email) {
        json_object *h = json_object_new_object();
        add_str(h, "email", email);
        add_str(h, "label", label);
        json_object_object_add(o, "human_handle", h);
    } else {
        json_object_object_add(o, "human_handle", NULL);
    }
    add_key(o, "public_key", public_key);
    json_object_object_add(o, "is_admin", json_object_new_boolean(!strcmp(profile, "ADMIN")));
    add_str(o, "profile", profile);
    return sign_put(k, o, len);
}

uint8_t *ccertif_device(const ccrypto_sign_key *k, const char *author, int64_t ts,
                        const char *device_id, const char *device_label,
                        const uint8_t verify_key[CCRYPTO_KEY_SIZE], size_t *len)
{
    json_object *o = head("device_certificate", author, ts);
    add_str(o, "device_id", device_id);
    add_str(o, "device_label", device_label);
    add_key(o, "verify_key", verify_key);
    return sign_put(k, o, len);
}

uint8_t *ccertif_revoked_user(const ccrypto_sign_key *k, const char *author, int64_t ts,
                              const char *user_id, size_t *len)
{
    json_object *o = head("revoked_user_certificate", author, ts);
    add_str(o, "user_id", user_id);
    return sign_put(k, o, len);
}

uint8_t *ccertif_realm_role(const ccrypto_sign_key *k, const char *author, int64_t ts,
                            const uint8_t realm_id[16], const char *user_id, const char *role,
                            size_t *len)
{
    json_object *o = head("realm_role_certificate", author, ts);
    char *hex = crypto_hex_encode(realm_id, 16);
    add_str(o, "realm_id", hex);
    free(hex);
    add_str(o, "user_id", user_id);
    add_str(o, "role", role);
    return sign_put(k, o, len);
}

void ccertif_user_info_free(ccertif_user_info *u)
{
    free(u->device_ids);
    free(u->verify_keys);
    memset(u, 0, sizeof *u);
}

/* ---- the walk ---- */

enum { UNSEEN, WALKING, GOOD, BAD };

typedef struct {
    certif_t c;
    int state;
} node;

typedef struct {
    arena_t *a;
    const uint8_t *root;
    node *v;
    size_t n, cap;
    char *why;
} walk;

static bool failf(walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool failf(walk *w, const char *fmt, ...)
{
    if (w->why == NULL) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&w->why, fmt, ap) < 0)
            w->why = NULL;
        va_end(ap);
    }
    return false;
}

/* Decodes and parses one base64 certificate into the walk. */
static bool add(walk *w, json_object *b64, const char *what)
{
    if (!json_object_is_type(b64, json_type_string))
        return failf(w, "%s: not a certificate", what);
    size_t len;
    const char *s = json_object_get_string(b64);
    uint8_t *raw = crypto_b64_decode(s, strlen(s), &len);
    if (raw == NULL)
        return failf(w, "%s: not base64", what);
    uint8_t *kept = arena_alloc(w->a, len ? len : 1);
    memcpy(kept, raw, len);
    free(raw);
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 16;
        w->v = xrealloc(w->v, w->cap * sizeof *w->v);
    }
    const char *why;
    node *nd = &w->v[w->n];
    memset(nd, 0, sizeof *nd);
    if (certif_parse(w->a, kept, len, &nd->c, &why) != CERTIF_OK)
        return failf(w, "%s: %s", what, why);
    w->n++;
    return true;
}

static bool add_list(walk *w, json_object *list, const char *what)
{
    if (list == NULL)
        return true;
    if (!json_object_is_type(list, json_type_array))
        return failf(w, "%s: not a list", what);
    for (size_t i = 0; i < json_object_array_length(list); i++)
        if (!add(w, json_object_array_get_idx(list, i), what))
            return false;
    return true;
}

static node *find(walk *w, certif_type t, const char *id)
{
    for (size_t i = 0; i < w->n; i++) {
        const certif_t *c = &w->v[i].c;
        if (c->type != t)
            continue;
        const char *cid = t == CERTIF_DEVICE         ? c->device.device_id
                          : t == CERTIF_USER         ? c->user.user_id
                          : t == CERTIF_REVOKED_USER ? c->revoked_user.user_id
                                                     : NULL;
        if (cid && !strcmp(cid, id))
            return &w->v[i];
    }
    return NULL;
}

static size_t user_len(const char *device_id)
{
    return (size_t)(strchr(device_id, '@') - device_id);
}

static bool node_ok(walk *w, node *nd);

/* The device `author` signed at ts: its chain verifies, its user was not
 * revoked at ts; the author's user certificate in *au. */
static bool author_ok(walk *w, const char *author, int64_t ts, const certif_t **au)
{
    node *d = find(w, CERTIF_DEVICE, author);
    if (d == NULL)
        return failf(w, "no certificate for the author %s", author);
    char uid[64];
    snprintf(uid, sizeof uid, "%.*s", (int)user_len(author), author);
    node *u = find(w, CERTIF_USER, uid);
    if (u == NULL)
        return failf(w, "no user certificate for the author %s", author);
    if (!node_ok(w, d) || !node_ok(w, u))
        return false;
    /* a revocation only ever makes the check stricter, so its own chain
     * need not be walked here (that would loop on an admin revoked by a
     * user it certified) */
    node *r = find(w, CERTIF_REVOKED_USER, uid);
    if (r && r->c.timestamp <= ts)
        return failf(w, "%s signed after its user was revoked", author);
    *au = &u->c;
    return true;
}

static bool node_ok(walk *w, node *nd)
{
    if (nd->state == GOOD)
        return true;
    if (nd->state == BAD)
        return false;
    if (nd->state == WALKING)
        return failf(w, "the trustchain loops");
    nd->state = WALKING;
    const certif_t *c = &nd->c, *au = NULL;
    const uint8_t *key = w->root;
    bool ok = false;
    if (c->author) {
        if (!author_ok(w, c->author, c->timestamp, &au))
            goto done;
        node *ad = find(w, CERTIF_DEVICE, c->author);
        key = ad->c.device.verify_key;
        bool admin = au->user.profile == CERTIF_PROFILE_ADMIN;
        if (c->type == CERTIF_DEVICE) {
            size_t ul = user_len(c->device.device_id);
            bool own = user_len(c->author) == ul && !strncmp(c->author, c->device.device_id, ul);
            if (!own && !admin) {
                failf(w, "device %s certified by %s, neither its user nor an admin",
                      c->device.device_id, c->author);
                goto done;
            }
        } else if (!admin) {
            failf(w, "%s signed by %s, who is not an admin", certif_type_name(c->type), c->author);
            goto done;
        }
    } else if (c->type == CERTIF_REVOKED_USER) {
        failf(w, "a revocation signed by the root key");
        goto done;
    }
    if (!certif_signature_ok(c->raw, c->raw_len, key)) {
        failf(w, "bad signature on a %s by %s", certif_type_name(c->type),
              c->author ? c->author : "the root key");
        goto done;
    }
    ok = true;
done:
    nd->state = ok ? GOOD : BAD;
    return ok;
}

static json_object *field(json_object *o, const char *k)
{
    json_object *v = NULL;
    json_object_object_get_ex(o, k, &v);
    return v;
}

bool ccertif_trust(json_object *rep, const uint8_t root[CCRYPTO_KEY_SIZE], ccertif_user_info *out,
                   char **why)
{
    walk w = {.a = arena_new(), .root = root};
    bool ok = false;
    memset(out, 0, sizeof *out);
    json_object *tc = field(rep, "trustchain");
    if (!add(&w, field(rep, "user_certificate"), "user_certificate"))
        goto done;
    const certif_t *uc = &w.v[0].c;
    if (uc->type != CERTIF_USER) {
        failf(&w, "user_certificate is a %s", certif_type_name(uc->type));
        goto done;
    }
    json_object *rev = field(rep, "revoked_user_certificate");
    size_t rev_at = w.n;
    if (rev && !add(&w, rev, "revoked_user_certificate"))
        goto done;
    size_t dev_from = w.n;
    if (!add_list(&w, field(rep, "device_certificates"), "device_certificates"))
        goto done;
    size_t dev_to = w.n;
    if (tc && (!add_list(&w, field(tc, "devices"), "trustchain.devices") ||
               !add_list(&w, field(tc, "users"), "trustchain.users") ||
               !add_list(&w, field(tc, "revoked_users"), "trustchain.revoked_users")))
        goto done;
    uc = &w.v[0].c;
    if (!node_ok(&w, &w.v[0]))
        goto done;
    snprintf(out->user_id, sizeof out->user_id, "%s", uc->user.user_id);
    if (uc->user.human_email) {
        snprintf(out->email, sizeof out->email, "%s", uc->user.human_email);
        snprintf(out->label, sizeof out->label, "%s", uc->user.human_label);
    }
    snprintf(out->profile, sizeof out->profile, "%s", certif_profile_name(uc->user.profile));
    memcpy(out->public_key, uc->user.public_key, CCRYPTO_KEY_SIZE);
    if (rev) {
        node *r = &w.v[rev_at];
        if (r->c.type != CERTIF_REVOKED_USER || strcmp(r->c.revoked_user.user_id, out->user_id)) {
            failf(&w, "revoked_user_certificate names another user");
            goto done;
        }
        if (!node_ok(&w, r))
            goto done;
        out->revoked = true;
    }
    out->device_ids = xcalloc(dev_to - dev_from + 1, sizeof *out->device_ids);
    out->verify_keys = xcalloc(dev_to - dev_from + 1, sizeof *out->verify_keys);
    for (size_t i = dev_from; i < dev_to; i++) {
        node *d = &w.v[i];
        if (d->c.type != CERTIF_DEVICE || user_len(d->c.device.device_id) != strlen(out->user_id) ||
            strncmp(d->c.device.device_id, out->user_id, strlen(out->user_id))) {
            failf(&w, "device_certificates holds another user's device");
            goto done;
        }
        if (!node_ok(&w, d))
            goto done;
        snprintf(out->device_ids[out->devices], 66, "%s", d->c.device.device_id);
        memcpy(out->verify_keys[out->devices], d->c.device.verify_key, CCRYPTO_KEY_SIZE);
        out->devices++;
    }
    ok = true;
done:
    if (!ok) {
        ccertif_user_info_free(out);
        *why = w.why ? w.why : xstrdup("the trustchain does not verify");
    } else {
        free(w.why);
    }
    free(w.v);
    arena_free(w.a);
    return ok;
}
