/*
 * cli/client/client_ws.c - workspaces: the user manifest, sharing messages,
 * signed and sealed manifests, reencryption after a revocation
 *
 * A user's workspaces are those of its user manifest (a vlob in its own
 * realm, the workspaces it created) merged with the messages other users
 * sent it (shared with it, unshared, re-encrypted), read in order on every
 * command: docs/client.md, "Workspaces".
 */
#include "client_internal.h"

#include "arena.h"
#include "certif.h"
#include "crypto.h"
#include "proto.h"
#include "xalloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* At most this many messages are read (each a few hundred bytes). */
#define MAX_MESSAGES 100000

void client_random_id(char out[33])
{
    uint8_t b[16];
    ccrypto_random(b, sizeof b);
    /* a version 4 UUID, as Parsec's ids */
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    char *h = crypto_hex_encode(b, sizeof b);
    memcpy(out, h, 33);
    free(h);
}

bool client_hex32(const char *s)
{
    return s && strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32;
}

static int64_t get_int(json_object *o, const char *k)
{
    json_object *v;
    if (o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_int))
        return json_object_get_int64(v);
    return -1;
}

static bool get_key32(json_object *o, const char *k, uint8_t out[32])
{
    size_t n;
    uint8_t *b = client_get_bytes(o, k, &n);
    bool ok = b && n == 32;
    if (ok)
        memcpy(out, b, 32);
    free(b);
    return ok;
}

int client_device_key(client_ctx *c, const char *device_id, uint8_t key[32])
{
    for (size_t i = 0; i < c->known; i++)
        if (!strcmp(c->known_dev[i], device_id)) {
            memcpy(key, c->known_key[i], 32);
            return CLIENT_EXIT_OK;
        }
    if (!proto_valid_device_id(device_id))
        return client_fail(c, CLIENT_EXIT_VERIFY, "`%s` is not a device id", device_id);
    char uid[33];
    snprintf(uid, sizeof uid, "%.*s", (int)(strchr(device_id, '@') - device_id), device_id);
    ccertif_user_info u;
    int code = client_get_user(c, c->dev.root_verify, uid, &u);
    if (code != CLIENT_EXIT_OK)
        return code == CLIENT_EXIT_NOT_FOUND ? CLIENT_EXIT_VERIFY : code;
    /* every device of that user at once: the next lookups are free */
    code = CLIENT_EXIT_VERIFY;
    for (size_t i = 0; i < u.devices; i++) {
        c->known_dev = xrealloc(c->known_dev, (c->known + 1) * sizeof *c->known_dev);
        c->known_key = xrealloc(c->known_key, (c->known + 1) * sizeof *c->known_key);
        memcpy(c->known_dev[c->known], u.device_ids[i], 66);
        memcpy(c->known_key[c->known], u.verify_keys[i], 32);
        c->known++;
        if (!strcmp(u.device_ids[i], device_id)) {
            memcpy(key, u.verify_keys[i], 32);
            code = CLIENT_EXIT_OK;
        }
    }
    ccertif_user_info_free(&u);
    if (code != CLIENT_EXIT_OK)
        client_fail(c, code, "no certified device %s", device_id);
    return code;
}

/* signature(64) || JSON: the JSON checked against author's key, parsed into
 * a json-c object of its own (caller puts); NULL with *code. */
static json_object *open_signed(client_ctx *c, const uint8_t *s, size_t n, const char *author,
                                int *code)
{
    uint8_t key[32];
    json_object *o = NULL;
    *code = CLIENT_EXIT_VERIFY;
    if (n < 64 + 2) {
        client_fail(c, *code, "a signed blob too short");
        return NULL;
    }
    if ((*code = client_device_key(c, author, key)) != CLIENT_EXIT_OK)
        return NULL;
    *code = CLIENT_EXIT_VERIFY;
    if (!ccrypto_verify(key, s + 64, n - 64, s)) {
        client_fail(c, *code, "a blob signed in the name of %s does not verify", author);
        return NULL;
    }
    arena_t *a = arena_new();
    const char *why;
    json_object *p = proto_json_parse(a, s + 64, n - 64, &why);
    if (p)
        o = json_tokener_parse(json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN));
    arena_free(a);
    const char *au = client_get_str(o, "author");
    if (o == NULL || !au || strcmp(au, author)) {
        json_object_put(o);
        client_fail(c, *code, "a blob from %s does not name its author", author);
        return NULL;
    }
    *code = CLIENT_EXIT_OK;
    return o;
}

/* JSON m signed by this device (malloc'd). */
static uint8_t *sign_json(client_ctx *c, json_object *m, size_t *len)
{
    size_t tlen;
    const char *t = json_object_to_json_string_length(m, JSON_C_TO_STRING_PLAIN, &tlen);
    return ccrypto_signed(&c->dev.signing, t, tlen, len);
}

static void set_head(client_ctx *c, json_object *m, const char *id, int64_t version)
{
    char ts[PROTO_DATETIME_LEN + 1];
    proto_datetime_format(ccertif_now(), ts);
    json_object_object_add(m, "author", json_object_new_string(c->dev.device_id));
    json_object_object_add(m, "timestamp", json_object_new_string(ts));
    if (id)
        json_object_object_add(m, "id", json_object_new_string(id));
    if (version > 0)
        json_object_object_add(m, "version", json_object_new_int64(version));
}

int client_manifest_read(client_ctx *c, const client_ws *ws, const char *vlob_id, int64_t want,
                         json_object **m, int64_t *version)
{
    json_object *req = client_req("vlob_read"), *rep;
    *m = NULL;
    json_object_object_add(req, "encryption_revision", json_object_new_int64(ws->rev));
    json_object_object_add(req, "vlob_id", json_object_new_string(vlob_id));
    json_object_object_add(req, "version", want > 0 ? json_object_new_int64(want) : NULL);
    json_object_object_add(req, "timestamp", NULL);
    int code = client_call(c, CRPC_AUTHENTICATED, req, &rep);
    if (code != CLIENT_EXIT_OK)
        return code;
    const char *st = crpc_status(rep);
    if (!strcmp(st, "not_found")) {
        json_object_put(rep);
        return CLIENT_EXIT_NOT_FOUND;
    }
    if (strcmp(st, "ok")) {
        code = !strcmp(st, "bad_encryption_revision")
                   ? client_fail(c, CLIENT_EXIT_SERVER,
                                 "workspace %s was re-encrypted: run the command again", ws->name)
                   : client_unexpected(c, rep);
        json_object_put(rep);
        return code;
    }
    size_t blen, plen;
    uint8_t *blob = client_get_bytes(rep, "blob", &blen);
    const char *author = client_get_str(rep, "author");
    *version = get_int(rep, "version");
    uint8_t *plain = blob ? ccrypto_secretbox_open(ws->key, blob, blen, &plen) : NULL;
    free(blob);
    if (plain == NULL || author == NULL || *version < 1) {
        code = client_fail(c, CLIENT_EXIT_VERIFY,
                           "vlob %s of workspace %s does not decrypt: altered or not ours", vlob_id,
                           ws->name);
        goto done;
    }
    *m = open_signed(c, plain, plen, author, &code);
    if (*m == NULL)
        goto done;
    const char *id = client_get_str(*m, "id");
    if (!id || strcmp(id, vlob_id) || get_int(*m, "version") != *version) {
        json_object_put(*m);
        *m = NULL;
        code = client_fail(c, CLIENT_EXIT_VERIFY,
                           "vlob %s holds another manifest (id or version moved)", vlob_id);
    }
done:
    free(plain);
    json_object_put(rep);
    return code;
}

int client_manifest_write(client_ctx *c, const client_ws *ws, const char *vlob_id, int64_t version,
                          json_object *m, bool *conflict)
{
    *conflict = false;
    set_head(c, m, vlob_id, version);
    size_t slen, blen;
    uint8_t *s = sign_json(c, m, &slen);
    uint8_t *box = ccrypto_secretbox_seal(ws->key, s, slen, &blen);
    free(s);
    json_object *req = client_req(version == 1 ? "vlob_create" : "vlob_update"), *rep;
    if (version == 1)
        json_object_object_add(req, "realm_id", json_object_new_string(ws->id));
    json_object_object_add(req, "encryption_revision", json_object_new_int64(ws->rev));
    json_object_object_add(req, "vlob_id", json_object_new_string(vlob_id));
    char ts[PROTO_DATETIME_LEN + 1];
    proto_datetime_format(ccertif_now(), ts);
    json_object_object_add(req, "timestamp", json_object_new_string(ts));
    if (version > 1)
        json_object_object_add(req, "version", json_object_new_int64(version));
    client_add_bytes(req, "blob", box, blen);
    json_object_object_add(req, "sequester_blob", NULL);
    free(box);
    int code = client_call(c, CRPC_AUTHENTICATED, req, &rep);
    if (code != CLIENT_EXIT_OK)
        return code;
    const char *st = crpc_status(rep);
    if (!strcmp(st, "bad_version") || !strcmp(st, "already_exists"))
        *conflict = true;
    else if (!strcmp(st, "not_allowed"))
        code = client_fail(c, CLIENT_EXIT_NOT_ALLOWED, "no write access to workspace %s", ws->name);
    else if (!strcmp(st, "in_maintenance"))
        code = client_fail(c, CLIENT_EXIT_SERVER,
                           "workspace %s is being re-encrypted: try again shortly", ws->name);
    else if (strcmp(st, "ok"))
        code = client_unexpected(c, rep);
    json_object_put(rep);
    return code;
}

/* ---- the workspace list ---- */

typedef struct {
    client_ws *v;
    size_t n;
} ws_list;

static client_ws *list_find(ws_list *l, const char *id)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].id, id))
            return &l->v[i];
    return NULL;
}

static client_ws *list_put(ws_list *l, const char *id)
{
    client_ws *w = list_find(l, id);
    if (w)
        return w;
    l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
    w = &l->v[l->n++];
    memset(w, 0, sizeof *w);
    snprintf(w->id, sizeof w->id, "%s", id);
    return w;
}

static void list_drop(ws_list *l, const char *id)
{
    client_ws *w = list_find(l, id);
    if (w) {
        *w = l->v[--l->n];
    }
}

/* The user manifest as a workspace of its own (never re-encrypted). */
static client_ws user_ws(const client_ctx *c)
{
    client_ws u = {.rev = 1};
    char *h = crypto_hex_encode(c->dev.user_realm, 16);
    snprintf(u.id, sizeof u.id, "%s", h);
    free(h);
    snprintf(u.name, sizeof u.name, "(user manifest)");
    memcpy(u.key, c->dev.user_manifest_key, 32);
    snprintf(u.role, sizeof u.role, "OWNER");
    return u;
}

/* One entry {"id","name","key","encryption_revision","role"} into l. */
static bool take_entry(ws_list *l, json_object *e)
{
    const char *id = client_get_str(e, "id"), *name = client_get_str(e, "name");
    const char *role = client_get_str(e, "role");
    int64_t rev = get_int(e, "encryption_revision");
    uint8_t key[32];
    if (!client_hex32(id) || !name || !role || rev < 1 || !get_key32(e, "key", key))
        return false;
    client_ws *w = list_put(l, id);
    snprintf(w->name, sizeof w->name, "%s", name);
    snprintf(w->role, sizeof w->role, "%s", role);
    memcpy(w->key, key, 32);
    w->rev = rev;
    return true;
}

/* The user manifest's workspaces into l (*version 0 when there is none);
 * *um the manifest (caller puts, NULL when none). */
static int read_user_manifest(client_ctx *c, ws_list *l, json_object **um, int64_t *version)
{
    client_ws u = user_ws(c);
    *version = 0;
    int code = client_manifest_read(c, &u, u.id, 0, um, version);
    if (code == CLIENT_EXIT_NOT_FOUND)
        return CLIENT_EXIT_OK;
    if (code != CLIENT_EXIT_OK)
        return code;
    json_object *list = NULL;
    json_object_object_get_ex(*um, "workspaces", &list);
    for (size_t i = 0; list && i < json_object_array_length(list); i++)
        if (!take_entry(l, json_object_array_get_idx(list, i)))
            return client_fail(c, CLIENT_EXIT_VERIFY, "malformed user manifest");
    return CLIENT_EXIT_OK;
}

/* Every message of this user, in order, applied to l. */
static int read_messages(client_ctx *c, ws_list *l)
{
    int64_t offset = 0;
    for (;;) {
        json_object *req = client_req("message_get"), *rep, *msgs = NULL;
        json_object_object_add(req, "offset", json_object_new_int64(offset));
        int code = client_call(c, CRPC_AUTHENTICATED, req, &rep);
        if (code != CLIENT_EXIT_OK)
            return code;
        if (strcmp(crpc_status(rep), "ok")) {
            code = client_unexpected(c, rep);
            json_object_put(rep);
            return code;
        }
        json_object_object_get_ex(rep, "messages", &msgs);
        size_t n = msgs ? json_object_array_length(msgs) : 0;
        for (size_t i = 0; i < n; i++) {
            json_object *msg = json_object_array_get_idx(msgs, i);
            int64_t count = get_int(msg, "count");
            const char *sender = client_get_str(msg, "sender");
            size_t blen, plen;
            uint8_t *body = client_get_bytes(msg, "body", &blen);
            uint8_t *plain = body ? ccrypto_unseal(&c->dev.user_key, body, blen, &plen) : NULL;
            free(body);
            if (count > offset)
                offset = count;
            if (plain == NULL || sender == NULL) {
                /* not for us or not ours: a message is only a hint */
                free(plain);
                continue;
            }
            int mcode;
            json_object *m = open_signed(c, plain, plen, sender, &mcode);
            ccrypto_wipe(plain, plen);
            free(plain);
            if (m == NULL) {
                json_object_put(rep);
                return mcode;
            }
            const char *type = client_get_str(m, "type"), *id = client_get_str(m, "id");
            if (type && !strcmp(type, "sharing.granted")) {
                take_entry(l, m);
            } else if (type && !strcmp(type, "sharing.revoked") && client_hex32(id)) {
                list_drop(l, id);
            } else if (type && !strcmp(type, "sharing.reencrypted") && client_hex32(id)) {
                client_ws *w = list_find(l, id);
                uint8_t key[32];
                int64_t rev = get_int(m, "encryption_revision");
                if (w && rev > w->rev && get_key32(m, "key", key)) {
                    memcpy(w->key, key, 32);
                    w->rev = rev;
                }
            }
            json_object_put(m);
        }
        json_object_put(rep);
        if (n == 0 || offset >= MAX_MESSAGES)
            return CLIENT_EXIT_OK;
    }
}

static int load_all(client_ctx *c, ws_list *l, json_object **um, int64_t *umv)
{
    memset(l, 0, sizeof *l);
    int code = read_user_manifest(c, l, um, umv);
    if (code == CLIENT_EXIT_OK)
        code = read_messages(c, l);
    return code;
}

int client_ws_list(client_ctx *c, client_ws **v, size_t *n)
{
    ws_list l;
    json_object *um = NULL;
    int64_t umv;
    int code = load_all(c, &l, &um, &umv);
    json_object_put(um);
    *v = l.v;
    *n = l.n;
    return code;
}

int client_ws_find(client_ctx *c, const char *name, client_ws *out)
{
    ws_list l;
    json_object *um = NULL;
    int64_t umv;
    int code = load_all(c, &l, &um, &umv);
    json_object_put(um);
    if (code == CLIENT_EXIT_OK) {
        size_t hits = 0;
        for (size_t i = 0; i < l.n; i++)
            if (!strcmp(l.v[i].name, name) || !strcmp(l.v[i].id, name)) {
                *out = l.v[i];
                hits++;
            }
        if (hits == 0)
            code = client_fail(c, CLIENT_EXIT_NOT_FOUND, "no workspace %s", name);
        else if (hits > 1)
            code = client_fail(c, CLIENT_EXIT_USAGE, "%zu workspaces are named %s: use its id",
                               hits, name);
    }
    free(l.v);
    return code;
}

static json_object *entry_json(const client_ws *w)
{
    json_object *e = json_object_new_object();
    json_object_object_add(e, "id", json_object_new_string(w->id));
    json_object_object_add(e, "name", json_object_new_string(w->name));
    client_add_bytes(e, "key", w->key, 32);
    json_object_object_add(e, "encryption_revision", json_object_new_int64(w->rev));
    json_object_object_add(e, "role", json_object_new_string(w->role));
    return e;
}

/* realm_create of id with this user as OWNER; *exists when it was there. */
static int create_realm(client_ctx *c, const char *id, bool *exists)
{
    uint8_t rid[16];
    size_t n;
    uint8_t *b = crypto_hex_decode(id, 32, &n);
    memcpy(rid, b, 16);
    free(b);
    uint8_t *cert = ccertif_realm_role(&c->dev.signing, c->dev.device_id, ccertif_now(), rid,
                                       c->dev.user_id, "OWNER", &n);
    json_object *req = client_req("realm_create"), *rep;
    client_add_bytes(req, "role_certificate", cert, n);
    free(cert);
    int code = client_call(c, CRPC_AUTHENTICATED, req, &rep);
    if (code != CLIENT_EXIT_OK)
        return code;
    const char *st = crpc_status(rep);
    *exists = !strcmp(st, "already_exists");
    if (strcmp(st, "ok") && !*exists)
        code = client_unexpected(c, rep);
    json_object_put(rep);
    return code;
}

int client_create_workspace(client_ctx *c)
{
    int code = client_open(c);
    if (code != CLIENT_EXIT_OK)
        return code;
    const char *name = c->argv[0];
    if (!proto_valid_device_label(name)) /* the same rule: 1-255 bytes, no control */
        return client_fail(c, CLIENT_EXIT_USAGE, "a workspace name is 1 to 255 bytes of text");
    client_ws w = {.rev = 1};
    client_random_id(w.id);
    snprintf(w.name, sizeof w.name, "%s", name);
    ccrypto_random(w.key, sizeof w.key);
    snprintf(w.role, sizeof w.role, "OWNER");
    bool exists, conflict;
    if ((code = create_realm(c, w.id, &exists)) != CLIENT_EXIT_OK)
        return code;
    /* its root folder, version 1 */
    json_object *root = json_object_new_object();
    json_object_object_add(root, "type", json_object_new_string("folder_manifest"));
    json_object_object_add(root, "parent", NULL);
    json_object_object_add(root, "children", json_object_new_object());
    code = client_manifest_write(c, &w, w.id, 1, root, &conflict);
    json_object_put(root);
    if (code != CLIENT_EXIT_OK)
        return code;
    /* then the user manifest, re-read and merged on a concurrent change */
    client_ws u = user_ws(c);
    for (int attempt = 0; attempt < 10; attempt++) {
        ws_list l;
        json_object *um = NULL;
        int64_t v;
        memset(&l, 0, sizeof l);
        if ((code = read_user_manifest(c, &l, &um, &v)) != CLIENT_EXIT_OK) {
            free(l.v);
            json_object_put(um);
            return code;
        }
        if (v == 0 && (code = create_realm(c, u.id, &exists)) != CLIENT_EXIT_OK) {
            free(l.v);
            return code;
        }
        json_object *m = json_object_new_object(), *list = json_object_new_array();
        json_object_object_add(m, "type", json_object_new_string("user_manifest"));
        for (size_t i = 0; i < l.n; i++)
            json_object_array_add(list, entry_json(&l.v[i]));
        json_object_array_add(list, entry_json(&w));
        json_object_object_add(m, "workspaces", list);
        code = client_manifest_write(c, &u, u.id, v + 1, m, &conflict);
        json_object_put(m);
        json_object_put(um);
        free(l.v);
        if (code != CLIENT_EXIT_OK || !conflict)
            break;
    }
    if (code == CLIENT_EXIT_OK && conflict)
        code = client_fail(c, CLIENT_EXIT_SERVER, "the user manifest keeps changing: try again");
    if (code == CLIENT_EXIT_OK && !c->quiet)
        printf("Workspace %s created (%s).\n", w.name, w.id);
    return code;
}

int client_list_workspaces(client_ctx *c)
{
    int code = client_open(c);
    if (code != CLIENT_EXIT_OK)
        return code;
    ws_list l;
    json_object *um = NULL;
    int64_t v;
    if ((code = load_all(c, &l, &um, &v)) == CLIENT_EXIT_OK)
        for (size_t i = 0; i < l.n; i++)
            printf("%s\t%s\t%s\n", l.v[i].name, l.v[i].role, l.v[i].id);
    json_object_put(um);
    free(l.v);
    return code;
}

/* A message for user u (signed by this device, sealed for its key). */
static void add_message(client_ctx *c, json_object *req, const char *field, const uint8_t pub[32],
                        json_object *m)
{
    set_head(c, m, NULL, 0);
    size_t slen, blen;
    uint8_t *s = sign_json(c, m, &slen);
    uint8_t *box = ccrypto_seal(pub, s, slen, &blen);
    free(s);
    client_add_bytes(req, field, box, blen);
    free(box);
}

int client_share_workspace(client_ctx *c)
{
    int code = client_open(c);
    if (code != CLIENT_EXIT_OK)
        return code;
    const char *role = c->argv[2];
    bool removal = !strcmp(role, "NONE") || !strcmp(role, "none");
    if (!removal && strcmp(role, "OWNER") && strcmp(role, "MANAGER") &&
        strcmp(role, "CONTRIBUTOR") && strcmp(role, "READER"))
        return client_fail(c, CLIENT_EXIT_USAGE,
                           "ROLE: OWNER, MANAGER, CONTRIBUTOR, READER or NONE");
    client_ws w;
    ccertif_user_info u;
    if ((code = client_ws_find(c, c->argv[0], &w)) != CLIENT_EXIT_OK)
        return code;
    if ((code = client_find_user(c, c->argv[1], &u)) != CLIENT_EXIT_OK)
        return code;
    uint8_t rid[16];
    size_t n;
    uint8_t *b = crypto_hex_decode(w.id, 32, &n);
    memcpy(rid, b, 16);
    free(b);
    uint8_t *cert = ccertif_realm_role(&c->dev.signing, c->dev.device_id, ccertif_now(), rid,
                                       u.user_id, removal ? NULL : role, &n);
    json_object *req = client_req("realm_update_roles"), *rep;
    client_add_bytes(req, "role_certificate", cert, n);
    free(cert);
    json_object *m = json_object_new_object();
    json_object_object_add(m, "type",
                           json_object_new_string(removal ? "sharing.revoked" : "sharing.granted"));
    if (removal) {
        json_object_object_add(m, "id", json_object_new_string(w.id));
    } else {
        client_ws granted = w;
        snprintf(granted.role, sizeof granted.role, "%s", role);
        json_object *e = entry_json(&granted);
        json_object_object_foreach(e, k, v) json_object_object_add(m, k, json_object_get(v));
        json_object_put(e);
    }
    add_message(c, req, "recipient_message", u.public_key, m);
    json_object_put(m);
    if ((code = client_call(c, CRPC_AUTHENTICATED, req, &rep)) != CLIENT_EXIT_OK)
        goto done;
    const char *st = crpc_status(rep);
    if (!strcmp(st, "ok")) {
        if (!c->quiet)
            printf("Workspace %s: %s is now %s.\n", w.name, u.email[0] ? u.email : u.user_id,
                   removal ? "without access" : role);
    } else if (!strcmp(st, "already_granted")) {
        code = client_fail(c, CLIENT_EXIT_EXISTS, "%s already has that role", c->argv[1]);
    } else if (!strcmp(st, "user_revoked") || !strcmp(st, "incompatible_profile")) {
        code = client_fail(c, CLIENT_EXIT_NOT_ALLOWED, "%s: %s", c->argv[1], st);
    } else if (!strcmp(st, "not_allowed")) {
        code = client_fail(c, CLIENT_EXIT_NOT_ALLOWED, "your role in %s does not allow it", w.name);
    } else {
        code = client_unexpected(c, rep);
    }
    json_object_put(rep);
done:
    ccertif_user_info_free(&u);
    return code;
}

/* ---- reencryption ---- */

/* The users holding a role in w (latest certificate per user not null),
 * from the realm's role certificates, each signature checked. */
static int participants(client_ctx *c, const client_ws *w, char (**users)[33], size_t *n)
{
    json_object *req = client_req("realm_get_role_certificates"), *rep, *list = NULL;
    json_object_object_add(req, "realm_id", json_object_new_string(w->id));
    *users = NULL;
    *n = 0;
    int code = client_call(c, CRPC_AUTHENTICATED, req, &rep);
    if (code != CLIENT_EXIT_OK)
        return code;
    if (strcmp(crpc_status(rep), "ok")) {
        code = client_unexpected(c, rep);
        json_object_put(rep);
        return code;
    }
    json_object_object_get_ex(rep, "certificates", &list);
    arena_t *a = arena_new();
    /* ordered by timestamp: a later certificate replaces an earlier one */
    for (size_t i = 0; list && i < json_object_array_length(list) && code == CLIENT_EXIT_OK; i++) {
        size_t len;
        const char *s = json_object_get_string(json_object_array_get_idx(list, i));
        uint8_t *raw = s ? crypto_b64_decode(s, strlen(s), &len) : NULL;
        certif_t cf;
        const char *why;
        uint8_t key[32];
        if (raw == NULL || certif_parse(a, raw, len, &cf, &why) != CERTIF_OK ||
            cf.type != CERTIF_REALM_ROLE || cf.author == NULL) {
            code = client_fail(c, CLIENT_EXIT_VERIFY, "a malformed role certificate");
        } else if ((code = client_device_key(c, cf.author, key)) == CLIENT_EXIT_OK &&
                   !certif_signature_ok(cf.raw, cf.raw_len, key)) {
            code = client_fail(c, CLIENT_EXIT_VERIFY, "a role certificate does not verify");
        } else if (code == CLIENT_EXIT_OK) {
            size_t j;
            for (j = 0; j < *n && strcmp((*users)[j], cf.realm_role.user_id); j++)
                ;
            if (cf.realm_role.role != CERTIF_ROLE_NONE && j == *n) {
                *users = xrealloc(*users, (*n + 1) * sizeof **users);
                snprintf((*users)[(*n)++], 33, "%s", cf.realm_role.user_id);
            } else if (cf.realm_role.role == CERTIF_ROLE_NONE && j < *n) {
                memcpy((*users)[j], (*users)[--*n], 33);
            }
        }
        free(raw);
    }
    arena_free(a);
    json_object_put(rep);
    return code;
}

/* Copies every vlob version of w from its key to nw's (the signed
 * manifests inside stay as their authors signed them). */
static int copy_batches(client_ctx *c, const client_ws *w, const client_ws *nw)
{
    for (;;) {
        json_object *req = client_req("vlob_maintenance_get_reencryption_batch"), *rep, *batch;
        json_object_object_add(req, "realm_id", json_object_new_string(w->id));
        json_object_object_add(req, "encryption_revision", json_object_new_int64(nw->rev));
        json_object_object_add(req, "size", json_object_new_int(100));
        int code = client_call(c, CRPC_AUTHENTICATED, req, &rep);
        if (code != CLIENT_EXIT_OK)
            return code;
        if (strcmp(crpc_status(rep), "ok") || !json_object_object_get_ex(rep, "batch", &batch)) {
            code = client_unexpected(c, rep);
            json_object_put(rep);
            return code;
        }
        size_t n = json_object_array_length(batch);
        json_object *save = client_req("vlob_maintenance_save_reencryption_batch");
        json_object *out = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
            json_object *e = json_object_array_get_idx(batch, i);
            size_t blen, plen, nlen;
            uint8_t *blob = client_get_bytes(e, "blob", &blen);
            uint8_t *plain = blob ? ccrypto_secretbox_open(w->key, blob, blen, &plen) : NULL;
            free(blob);
            if (plain == NULL) {
                /* not ours to vouch for: it stays unreadable at the new revision too */
                plain = xmalloc(1);
                plen = 0;
            }
            uint8_t *box = ccrypto_secretbox_seal(nw->key, plain, plen, &nlen);
            free(plain);
            json_object *o = json_object_new_object();
            json_object_object_add(o, "vlob_id",
                                   json_object_get(json_object_object_get(e, "vlob_id")));
            json_object_object_add(o, "version",
                                   json_object_get(json_object_object_get(e, "version")));
            client_add_bytes(o, "blob", box, nlen);
            free(box);
            json_object_array_add(out, o);
        }
        json_object_put(rep);
        if (n == 0) {
            json_object_put(out);
            json_object_put(save);
            return CLIENT_EXIT_OK;
        }
        json_object_object_add(save, "realm_id", json_object_new_string(w->id));
        json_object_object_add(save, "encryption_revision", json_object_new_int64(nw->rev));
        json_object_object_add(save, "batch", out);
        if ((code = client_call(c, CRPC_AUTHENTICATED, save, &rep)) != CLIENT_EXIT_OK)
            return code;
        if (strcmp(crpc_status(rep), "ok")) {
            code = client_unexpected(c, rep);
            json_object_put(rep);
            return code;
        }
        json_object_put(rep);
    }
}

static int reencrypt(client_ctx *c, const client_ws *w, char (*users)[33], size_t n)
{
    client_ws nw = *w;
    nw.rev = w->rev + 1;
    ccrypto_random(nw.key, sizeof nw.key);
    char ts[PROTO_DATETIME_LEN + 1];
    proto_datetime_format(ccertif_now(), ts);
    json_object *req = client_req("realm_start_reencryption_maintenance"), *rep;
    json_object_object_add(req, "realm_id", json_object_new_string(w->id));
    json_object_object_add(req, "encryption_revision", json_object_new_int64(nw.rev));
    json_object_object_add(req, "timestamp", json_object_new_string(ts));
    json_object *msgs = json_object_new_object();
    int code = CLIENT_EXIT_OK;
    for (size_t i = 0; i < n && code == CLIENT_EXIT_OK; i++) {
        ccertif_user_info u;
        if ((code = client_get_user(c, c->dev.root_verify, users[i], &u)) != CLIENT_EXIT_OK)
            break;
        if (!u.revoked) {
            json_object *m = json_object_new_object();
            json_object_object_add(m, "type", json_object_new_string("sharing.reencrypted"));
            json_object_object_add(m, "id", json_object_new_string(w->id));
            json_object_object_add(m, "name", json_object_new_string(w->name));
            json_object_object_add(m, "encryption_revision", json_object_new_int64(nw.rev));
            client_add_bytes(m, "key", nw.key, 32);
            json_object *holder = json_object_new_object();
            add_message(c, holder, "m", u.public_key, m);
            json_object_object_add(msgs, u.user_id,
                                   json_object_get(json_object_object_get(holder, "m")));
            json_object_put(holder);
            json_object_put(m);
        }
        ccertif_user_info_free(&u);
    }
    json_object_object_add(req, "per_participant_message", msgs);
    if (code != CLIENT_EXIT_OK) {
        json_object_put(req);
        return code;
    }
    if ((code = client_call(c, CRPC_AUTHENTICATED, req, &rep)) != CLIENT_EXIT_OK)
        return code;
    const char *st = crpc_status(rep);
    if (strcmp(st, "ok")) {
        code = client_unexpected(c, rep);
        json_object_put(rep);
        return code;
    }
    json_object_put(rep);
    if ((code = copy_batches(c, w, &nw)) != CLIENT_EXIT_OK)
        return code;
    req = client_req("realm_finish_reencryption_maintenance");
    json_object_object_add(req, "realm_id", json_object_new_string(w->id));
    json_object_object_add(req, "encryption_revision", json_object_new_int64(nw.rev));
    if ((code = client_call(c, CRPC_AUTHENTICATED, req, &rep)) != CLIENT_EXIT_OK)
        return code;
    if (strcmp(crpc_status(rep), "ok"))
        code = client_unexpected(c, rep);
    else if (!c->quiet)
        printf("Workspace %s re-encrypted (revision %" PRId64 ").\n", w->name, nw.rev);
    json_object_put(rep);
    return code;
}

int client_reencrypt_for(client_ctx *c, const char *user_id)
{
    ws_list l;
    json_object *um = NULL;
    int64_t v;
    int code = load_all(c, &l, &um, &v);
    json_object_put(um);
    for (size_t i = 0; i < l.n && code == CLIENT_EXIT_OK; i++) {
        if (strcmp(l.v[i].role, "OWNER"))
            continue;
        char(*users)[33];
        size_t n;
        if ((code = participants(c, &l.v[i], &users, &n)) != CLIENT_EXIT_OK)
            break;
        bool had = false, mine = false;
        for (size_t j = 0; j < n; j++) {
            had |= !strcmp(users[j], user_id);
            mine |= !strcmp(users[j], c->dev.user_id);
        }
        if (had && mine)
            code = reencrypt(c, &l.v[i], users, n);
        free(users);
    }
    free(l.v);
    return code;
}
