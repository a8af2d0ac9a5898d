/*
 * cli/client/client_invite.c - invite_user, invite_device, greet_invitation,
 * claim_invitation: the exchange of docs/protocol.md section 7 with short
 * authentication codes (docs/client.md, "Invitations")
 */
#include "client_internal.h"

#include "arena.h"
#include "crypto.h"
#include "proto.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NONCE_SIZE 64
/* How long either side waits for the other at one step. */
#define PEER_WAIT_S 600

static bool hex32(const char *s)
{
    return s && strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32;
}

/* ---- invite_user, invite_device ---- */

static int invite(client_ctx *c, const char *type, const char *email)
{
    int code = client_open(c);
    if (code != CLIENT_EXIT_OK)
        return code;
    if (email && !proto_valid_email(email))
        return client_fail(c, CLIENT_EXIT_USAGE, "`%s` is not an email address", email);
    json_object *req = client_req("invite_new"), *rep;
    json_object_object_add(req, "type", json_object_new_string(type));
    if (email)
        json_object_object_add(req, "claimer_email", json_object_new_string(email));
    json_object_object_add(req, "send_email", json_object_new_boolean(c->send_email));
    if ((code = client_call(c, CRPC_AUTHENTICATED, req, &rep)) != CLIENT_EXIT_OK)
        return code;
    const char *st = crpc_status(rep), *token = client_get_str(rep, "token");
    if (!strcmp(st, "ok") && token && hex32(token)) {
        char *url =
            crpc_addr_url(c->dev.addr, c->dev.org, email ? "claim_user" : "claim_device", token);
        printf("Invitation URL: %s\n", url);
        const char *sent = client_get_str(rep, "email_sent");
        if (sent && !c->quiet)
            printf("Email: %s\n", sent);
        free(url);
    } else if (!strcmp(st, "already_member")) {
        code = client_fail(c, CLIENT_EXIT_EXISTS, "%s is already a member", email);
    } else if (!strcmp(st, "not_available")) {
        code = client_fail(c, CLIENT_EXIT_NOT_ALLOWED, "no email address to send to");
    } else {
        code = client_unexpected(c, rep);
    }
    json_object_put(rep);
    return code;
}

int client_invite_user(client_ctx *c)
{
    return invite(c, "USER", c->argv[0]);
}

int client_invite_device(client_ctx *c)
{
    return invite(c, "DEVICE", NULL);
}

/* ---- the exchange, common to both sides ---- */

typedef struct {
    client_ctx *c;
    bool greeter;
    const char *token; /* greeter: the invitation's */
    crpc_route route;
    ccrypto_box_key eph;
    uint8_t shared[CCRYPTO_KEY_SIZE];
    uint8_t my_nonce[NONCE_SIZE], peer_nonce[NONCE_SIZE];
} exch;

/*
 * step - one step, repeated with the same request while it answers
 * not_ready; CLIENT_EXIT_OK with *rep (status ok) or the exit status after
 * reporting.  req is consumed.
 */
static int step(exch *x, json_object *req, json_object **rep)
{
    int code;
    struct timespec pause = {0, 100 * 1000 * 1000};
    time_t until = time(NULL) + PEER_WAIT_S;
    if (x->greeter)
        json_object_object_add(req, "token", json_object_new_string(x->token));
    for (;;) {
        if ((code = client_call(x->c, x->route, json_object_get(req), rep)) != CLIENT_EXIT_OK)
            break;
        const char *st = crpc_status(*rep);
        if (!strcmp(st, "ok"))
            break;
        if (strcmp(st, "not_ready")) {
            if (!strcmp(st, "already_deleted"))
                code = client_fail(x->c, CLIENT_EXIT_NOT_ALLOWED, "the invitation was deleted");
            else if (!strcmp(st, "invalid_state"))
                code = client_fail(x->c, CLIENT_EXIT_SERVER,
                                   "the other side restarted the exchange: start again");
            else
                code = client_unexpected(x->c, *rep);
            json_object_put(*rep);
            break;
        }
        json_object_put(*rep);
        if (time(NULL) > until) {
            code = client_fail(x->c, CLIENT_EXIT_SERVER, "the other side did not answer in %d s",
                               PEER_WAIT_S);
            break;
        }
        /* the claimer polls (it has no websocket): 0.1 s, backing off to 2 s */
        nanosleep(&pause, NULL);
        if (pause.tv_sec < 2 && (pause.tv_nsec *= 2) >= 1000000000L) {
            pause.tv_sec = 2;
            pause.tv_nsec = 0;
        }
    }
    json_object_put(req);
    return code;
}

static json_object *step_req(const exch *x, const char *greeter_cmd, const char *claimer_cmd)
{
    return client_req(x->greeter ? greeter_cmd : claimer_cmd);
}

/*
 * The codes: BLAKE2b keyed with the shared secret over
 * claimer_nonce || greeter_nonce, its first 5 bytes as a big-endian
 * 40-bit number; the claimer's code is its low 20 bits, the greeter's the
 * high 20, each written as 4 characters of Parsec's alphabet, least
 * significant first (Parsec's SASCode.from_int).
 */
static void codes(const exch *x, char greeter_code[5], char claimer_code[5])
{
    static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    uint8_t both[2 * NONCE_SIZE], h[16];
    memcpy(both, x->greeter ? x->peer_nonce : x->my_nonce, NONCE_SIZE);
    memcpy(both + NONCE_SIZE, x->greeter ? x->my_nonce : x->peer_nonce, NONCE_SIZE);
    ccrypto_blake2b(x->shared, sizeof x->shared, both, sizeof both, h, sizeof h);
    uint64_t v = 0;
    for (int i = 0; i < 5; i++)
        v = v << 8 | h[i];
    uint32_t cl = (uint32_t)(v & 0xfffff), gr = (uint32_t)(v >> 20);
    for (int i = 0; i < 4; i++) {
        claimer_code[i] = alphabet[cl & 31];
        greeter_code[i] = alphabet[gr & 31];
        cl >>= 5;
        gr >>= 5;
    }
    claimer_code[4] = greeter_code[4] = '\0';
}

/* The person confirms that both screens show the same codes. */
static bool confirm(exch *x)
{
    char g[5], cl[5], line[16];
    size_t n;
    codes(x, g, cl);
    printf("Greeter code: %s\nClaimer code: %s\n", g, cl);
    fflush(stdout);
    fputs("Does the other person read the same two codes? [y/N] ", stderr);
    bool ok =
        client_line(x->c, line, sizeof line - 1, &n) && n > 0 && (line[0] == 'y' || line[0] == 'Y');
    return ok;
}

/* Steps 1 to 3: keys, nonces, codes, trust.  Exit status. */
static int handshake(exch *x)
{
    json_object *req, *rep;
    int code;
    uint8_t peer[CCRYPTO_KEY_SIZE];
    size_t n;
    ccrypto_box_generate(&x->eph);
    ccrypto_random(x->my_nonce, sizeof x->my_nonce);

    req = step_req(x, "invite_1_greeter_wait_peer", "invite_1_claimer_wait_peer");
    client_add_bytes(req, x->greeter ? "greeter_public_key" : "claimer_public_key", x->eph.pub,
                     sizeof x->eph.pub);
    if ((code = step(x, req, &rep)) != CLIENT_EXIT_OK)
        return code;
    uint8_t *pk =
        client_get_bytes(rep, x->greeter ? "claimer_public_key" : "greeter_public_key", &n);
    json_object_put(rep);
    bool ok = pk && n == sizeof peer;
    if (ok)
        memcpy(peer, pk, sizeof peer);
    free(pk);
    if (!ok || !ccrypto_shared_secret(&x->eph, peer, x->shared))
        return client_fail(x->c, CLIENT_EXIT_VERIFY, "the other side's key is not usable");

    uint8_t hashed[32];
    if (x->greeter) {
        /* 2a: the claimer's commitment; 2b: our nonce for theirs */
        if ((code = step(x, client_req("invite_2a_greeter_get_hashed_nonce"), &rep)))
            return code;
        uint8_t *h = client_get_bytes(rep, "claimer_hashed_nonce", &n);
        json_object_put(rep);
        ok = h && n == sizeof hashed;
        if (ok)
            memcpy(hashed, h, sizeof hashed);
        free(h);
        if (!ok)
            return client_fail(x->c, CLIENT_EXIT_VERIFY, "malformed commitment");
        req = client_req("invite_2b_greeter_send_nonce");
        client_add_bytes(req, "greeter_nonce", x->my_nonce, sizeof x->my_nonce);
        if ((code = step(x, req, &rep)))
            return code;
        uint8_t *cn = client_get_bytes(rep, "claimer_nonce", &n);
        json_object_put(rep);
        uint8_t digest[32];
        ok = cn && n == NONCE_SIZE;
        if (ok) {
            memcpy(x->peer_nonce, cn, NONCE_SIZE);
            crypto_sha256(cn, n, digest);
            /* the claimer chose its nonce before seeing ours */
            ok = crypto_equal(digest, hashed, sizeof digest);
        }
        free(cn);
        if (!ok)
            return client_fail(x->c, CLIENT_EXIT_VERIFY,
                               "the claimer's nonce does not match its commitment");
    } else {
        crypto_sha256(x->my_nonce, sizeof x->my_nonce, hashed);
        req = client_req("invite_2a_claimer_send_hashed_nonce");
        client_add_bytes(req, "claimer_hashed_nonce", hashed, sizeof hashed);
        if ((code = step(x, req, &rep)))
            return code;
        uint8_t *gn = client_get_bytes(rep, "greeter_nonce", &n);
        json_object_put(rep);
        ok = gn && n == NONCE_SIZE;
        if (ok)
            memcpy(x->peer_nonce, gn, NONCE_SIZE);
        free(gn);
        if (!ok)
            return client_fail(x->c, CLIENT_EXIT_VERIFY, "malformed nonce");
        req = client_req("invite_2b_claimer_send_nonce");
        client_add_bytes(req, "claimer_nonce", x->my_nonce, sizeof x->my_nonce);
        if ((code = step(x, req, &rep)))
            return code;
        json_object_put(rep);
    }

    if (!confirm(x)) {
        if (x->greeter) {
            json_object *del = client_req("invite_delete");
            json_object_object_add(del, "token", json_object_new_string(x->token));
            json_object_object_add(del, "reason", json_object_new_string("CANCELLED"));
            if (client_call(x->c, CRPC_AUTHENTICATED, del, &rep) == CLIENT_EXIT_OK)
                json_object_put(rep);
        }
        return client_fail(x->c, CLIENT_EXIT_VERIFY,
                           "the codes were not confirmed: the invitation is cancelled");
    }
    const char *first =
        x->greeter ? "invite_3a_greeter_wait_peer_trust" : "invite_3a_claimer_signify_trust";
    const char *second =
        x->greeter ? "invite_3b_greeter_signify_trust" : "invite_3b_claimer_wait_peer_trust";
    if ((code = step(x, client_req(first), &rep)))
        return code;
    json_object_put(rep);
    if ((code = step(x, client_req(second), &rep)))
        return code;
    json_object_put(rep);
    return CLIENT_EXIT_OK;
}

/* One round of step 4: send mine (sealed with the shared secret unless
 * empty), receive the peer's opened (NULL for an empty one, or on error
 * with *code set). */
static json_object *round4(exch *x, json_object *mine, int *code)
{
    json_object *req = step_req(x, "invite_4_greeter_communicate", "invite_4_claimer_communicate");
    if (mine) {
        size_t blen;
        const char *t = json_object_to_json_string_ext(mine, JSON_C_TO_STRING_PLAIN);
        uint8_t *box = ccrypto_secretbox_seal(x->shared, t, strlen(t), &blen);
        client_add_bytes(req, "payload", box, blen);
        free(box);
    } else {
        client_add_bytes(req, "payload", "", 0);
    }
    json_object *rep, *peer = NULL;
    if ((*code = step(x, req, &rep)) != CLIENT_EXIT_OK)
        return NULL;
    size_t n, plen;
    uint8_t *box = client_get_bytes(rep, "payload", &n);
    json_object_put(rep);
    if (box && n == 0) {
        free(box);
        return NULL;
    }
    uint8_t *plain = box ? ccrypto_secretbox_open(x->shared, box, n, &plen) : NULL;
    free(box);
    if (plain) {
        arena_t *a = arena_new();
        const char *why;
        json_object *p = proto_json_parse(a, plain, plen, &why);
        /* out of the arena: the caller keeps it */
        if (p)
            peer = json_tokener_parse(json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN));
        arena_free(a);
        ccrypto_wipe(plain, plen);
        free(plain);
    }
    if (peer == NULL)
        *code = client_fail(x->c, CLIENT_EXIT_VERIFY, "the other side's data does not open");
    return peer;
}

static void add_handle(json_object *o, const char *email, const char *label)
{
    json_object *h = NULL;
    if (email) {
        h = json_object_new_object();
        json_object_object_add(h, "email", json_object_new_string(email));
        json_object_object_add(h, "label", json_object_new_string(label));
    }
    json_object_object_add(o, "human_handle", h);
}

static void add_key(json_object *o, const char *k, const uint8_t *key)
{
    client_add_bytes(o, k, key, CCRYPTO_KEY_SIZE);
}

static bool get_key(json_object *o, const char *k, uint8_t *out, size_t want)
{
    size_t n;
    uint8_t *b = client_get_bytes(o, k, &n);
    bool ok = b && n == want;
    if (ok)
        memcpy(out, b, want);
    if (b)
        ccrypto_wipe(b, n);
    free(b);
    return ok;
}

/* The greeter's invitation named by token or claimer email: type into
 * *type ("USER"/"DEVICE"), token and email copied.  Exit status. */
static int find_invitation(client_ctx *c, const char *what, char type[8], char token[33],
                           char email[256])
{
    json_object *rep, *list = NULL;
    int code = client_call(c, CRPC_AUTHENTICATED, client_req("invite_list"), &rep);
    if (code != CLIENT_EXIT_OK)
        return code;
    if (strcmp(crpc_status(rep), "ok")) {
        code = client_unexpected(c, rep);
        json_object_put(rep);
        return code;
    }
    code = CLIENT_EXIT_NOT_FOUND;
    json_object_object_get_ex(rep, "invitations", &list);
    for (size_t i = 0; list && i < json_object_array_length(list); i++) {
        json_object *inv = json_object_array_get_idx(list, i);
        const char *t = client_get_str(inv, "token"), *ty = client_get_str(inv, "type");
        const char *e = client_get_str(inv, "claimer_email");
        if (!hex32(t) || !ty || (strcmp(t, what) && (!e || strcmp(e, what))))
            continue;
        snprintf(type, 8, "%s", ty);
        snprintf(token, 33, "%s", t);
        snprintf(email, 256, "%s", e ? e : "");
        code = CLIENT_EXIT_OK;
        break;
    }
    json_object_put(rep);
    if (code != CLIENT_EXIT_OK)
        client_fail(c, code, "no pending invitation %s (see invite_user, invite_device)", what);
    return code;
}

static void random_hex(char out[33])
{
    uint8_t b[16];
    ccrypto_random(b, sizeof b);
    char *h = crypto_hex_encode(b, sizeof b);
    memcpy(out, h, 33);
    free(h);
}

/* The greeter's side of step 4 for a USER invitation: the claimer's data
 * in, the user created, the confirmation out (NULL with *code). */
static json_object *welcome_user(client_ctx *c, json_object *data, const char *email,
                                 const char *profile, int *code)
{
    uint8_t pub[CCRYPTO_KEY_SIZE], verify[CCRYPTO_KEY_SIZE];
    json_object *hh = NULL;
    json_object_object_get_ex(data, "requested_human_handle", &hh);
    const char *label = hh ? client_get_str(hh, "label") : NULL;
    const char *dlabel = client_get_str(data, "requested_device_label");
    const char *type = client_get_str(data, "type");
    if (!type || strcmp(type, "invite_user_data") || !label || !proto_valid_human_label(label) ||
        (dlabel && !proto_valid_device_label(dlabel)) || !get_key(data, "public_key", pub, 32) ||
        !get_key(data, "verify_key", verify, 32)) {
        *code = client_fail(c, CLIENT_EXIT_VERIFY, "the claimer's data is malformed");
        return NULL;
    }
    char uid[33], dname[33];
    random_hex(uid);
    random_hex(dname);
    char *device_id = xasprintf("%s@%s", uid, dname);
    int64_t ts = ccertif_now();
    const ccrypto_sign_key *k = &c->dev.signing;
    const char *me = c->dev.device_id;
    size_t n;
    json_object *req = client_req("user_create"), *rep;
    uint8_t *b = ccertif_user(k, me, ts, uid, email, label, pub, profile, &n);
    client_add_bytes(req, "user_certificate", b, n);
    free(b);
    b = ccertif_device(k, me, ts, device_id, dlabel, verify, &n);
    client_add_bytes(req, "device_certificate", b, n);
    free(b);
    b = ccertif_user(k, me, ts, uid, NULL, NULL, pub, profile, &n);
    client_add_bytes(req, "redacted_user_certificate", b, n);
    free(b);
    b = ccertif_device(k, me, ts, device_id, NULL, verify, &n);
    client_add_bytes(req, "redacted_device_certificate", b, n);
    free(b);
    json_object *conf = NULL;
    if ((*code = client_call(c, CRPC_AUTHENTICATED, req, &rep)) != CLIENT_EXIT_OK)
        goto done;
    if (strcmp(crpc_status(rep), "ok")) {
        *code = client_unexpected(c, rep);
        json_object_put(rep);
        goto done;
    }
    json_object_put(rep);
    conf = json_object_new_object();
    json_object_object_add(conf, "type", json_object_new_string("invite_user_confirmation"));
    json_object_object_add(conf, "device_id", json_object_new_string(device_id));
    json_object_object_add(conf, "device_label", dlabel ? json_object_new_string(dlabel) : NULL);
    add_handle(conf, email, label);
    json_object_object_add(conf, "profile", json_object_new_string(profile));
    add_key(conf, "root_verify_key", c->dev.root_verify);
    if (!c->quiet)
        printf("User %s <%s> created: %s, profile %s.\n", label, email, uid, profile);
done:
    free(device_id);
    return conf;
}

/* The same for a DEVICE invitation: a new device of the greeter's user. */
static json_object *welcome_device(client_ctx *c, json_object *data, int *code)
{
    uint8_t verify[CCRYPTO_KEY_SIZE];
    const char *dlabel = client_get_str(data, "requested_device_label");
    const char *type = client_get_str(data, "type");
    if (!type || strcmp(type, "invite_device_data") ||
        (dlabel && !proto_valid_device_label(dlabel)) || !get_key(data, "verify_key", verify, 32)) {
        *code = client_fail(c, CLIENT_EXIT_VERIFY, "the claimer's data is malformed");
        return NULL;
    }
    char dname[33];
    random_hex(dname);
    char *device_id = xasprintf("%s@%s", c->dev.user_id, dname);
    int64_t ts = ccertif_now();
    size_t n;
    json_object *req = client_req("device_create"), *rep, *conf = NULL;
    uint8_t *b =
        ccertif_device(&c->dev.signing, c->dev.device_id, ts, device_id, dlabel, verify, &n);
    client_add_bytes(req, "device_certificate", b, n);
    free(b);
    b = ccertif_device(&c->dev.signing, c->dev.device_id, ts, device_id, NULL, verify, &n);
    client_add_bytes(req, "redacted_device_certificate", b, n);
    free(b);
    if ((*code = client_call(c, CRPC_AUTHENTICATED, req, &rep)) != CLIENT_EXIT_OK)
        goto done;
    if (strcmp(crpc_status(rep), "ok")) {
        *code = client_unexpected(c, rep);
        json_object_put(rep);
        goto done;
    }
    json_object_put(rep);
    conf = json_object_new_object();
    json_object_object_add(conf, "type", json_object_new_string("invite_device_confirmation"));
    json_object_object_add(conf, "device_id", json_object_new_string(device_id));
    json_object_object_add(conf, "device_label", dlabel ? json_object_new_string(dlabel) : NULL);
    add_handle(conf, c->dev.email, c->dev.label);
    json_object_object_add(conf, "profile", json_object_new_string(c->dev.profile));
    add_key(conf, "private_key", c->dev.user_key.priv);
    add_key(conf, "root_verify_key", c->dev.root_verify);
    client_add_bytes(conf, "user_realm_id", c->dev.user_realm, sizeof c->dev.user_realm);
    add_key(conf, "user_manifest_key", c->dev.user_manifest_key);
    if (!c->quiet)
        printf("Device %s created.\n", device_id);
done:
    free(device_id);
    return conf;
}

int client_greet(client_ctx *c)
{
    int code = client_open(c);
    if (code != CLIENT_EXIT_OK)
        return code;
    const char *profile = c->profile ? c->profile : "STANDARD";
    if (strcmp(profile, "ADMIN") && strcmp(profile, "STANDARD") && strcmp(profile, "OUTSIDER"))
        return client_fail(c, CLIENT_EXIT_USAGE, "--profile: ADMIN, STANDARD or OUTSIDER");
    char type[8], token[33], email[256];
    if ((code = find_invitation(c, c->argv[0], type, token, email)) != CLIENT_EXIT_OK)
        return code;
    bool user = !strcmp(type, "USER");
    if (!c->quiet)
        printf("Greeting %s: waiting for the claimer...\n", user ? email : "a new device");
    fflush(stdout);
    exch x = {.c = c, .greeter = true, .token = token, .route = CRPC_AUTHENTICATED};
    json_object *data = NULL, *conf = NULL, *rep;
    if ((code = handshake(&x)) != CLIENT_EXIT_OK)
        goto done;
    data = round4(&x, NULL, &code);
    if (data == NULL) {
        if (code == CLIENT_EXIT_OK)
            code = client_fail(c, CLIENT_EXIT_VERIFY, "the claimer sent nothing");
        goto done;
    }
    conf = user ? welcome_user(c, data, email, profile, &code) : welcome_device(c, data, &code);
    if (conf == NULL)
        goto done;
    json_object *last = round4(&x, conf, &code);
    json_object_put(last);
    if (code != CLIENT_EXIT_OK)
        goto done;
    json_object *del = client_req("invite_delete");
    json_object_object_add(del, "token", json_object_new_string(token));
    json_object_object_add(del, "reason", json_object_new_string("FINISHED"));
    if (client_call(c, CRPC_AUTHENTICATED, del, &rep) == CLIENT_EXIT_OK)
        json_object_put(rep);
done:
    json_object_put(data);
    json_object_put(conf);
    ccrypto_wipe(&x, sizeof x);
    return code;
}

/* The claimer's checks of the confirmation, then its device: *d filled. */
static bool take_confirmation(client_ctx *c, json_object *conf, bool user, cdevice_t *d)
{
    const char *type = client_get_str(conf, "type");
    const char *dev = client_get_str(conf, "device_id");
    const char *dlabel = client_get_str(conf, "device_label");
    const char *profile = client_get_str(conf, "profile");
    json_object *hh = NULL;
    json_object_object_get_ex(conf, "human_handle", &hh);
    const char *email = hh ? client_get_str(hh, "email") : NULL;
    const char *label = hh ? client_get_str(hh, "label") : NULL;
    if (!type || strcmp(type, user ? "invite_user_confirmation" : "invite_device_confirmation") ||
        !dev || !proto_valid_device_id(dev) || (dlabel && !proto_valid_device_label(dlabel)) ||
        !profile || (email && (!proto_valid_email(email) || !label)) ||
        !get_key(conf, "root_verify_key", d->root_verify, 32))
        return false;
    if (!user) {
        uint8_t priv[CCRYPTO_KEY_SIZE];
        if (!get_key(conf, "private_key", priv, 32) ||
            !get_key(conf, "user_realm_id", d->user_realm, sizeof d->user_realm) ||
            !get_key(conf, "user_manifest_key", d->user_manifest_key, 32))
            return false;
        ccrypto_box_from_private(&d->user_key, priv);
        ccrypto_wipe(priv, sizeof priv);
    }
    d->device_id = xstrdup(dev);
    d->user_id = xstrndup(dev, (size_t)(strchr(dev, '@') - dev));
    d->device_label = dlabel ? xstrdup(dlabel) : NULL;
    d->email = email ? xstrdup(email) : NULL;
    d->label = label ? xstrdup(label) : NULL;
    d->profile = xstrdup(profile);
    return true;
}

int client_claim(client_ctx *c)
{
    crpc_addr a;
    const char *why = crpc_addr_parse(c->argv[0], &a);
    if (why)
        return client_fail(c, CLIENT_EXIT_USAGE, "%s", why);
    int code = CLIENT_EXIT_USAGE;
    cdevice_t d = {0};
    char pass[CLIENT_MAX_PASSWORD + 1];
    size_t plen = 0;
    json_object *rep = NULL, *data = NULL, *conf = NULL;
    exch x = {.c = c, .greeter = false, .route = CRPC_INVITED};
    bool user = a.action && !strcmp(a.action, "claim_user");
    if (!a.action || (!user && strcmp(a.action, "claim_device")) || !hex32(a.token)) {
        client_fail(c, code, "not an invitation address (action=claim_user or claim_device)");
        goto done;
    }
    if (c->device_label && !proto_valid_device_label(c->device_label)) {
        client_fail(c, code, "--device-label: 1 to 255 bytes, no control character");
        goto done;
    }
    if (user && (c->label == NULL || !proto_valid_human_label(c->label))) {
        client_fail(c, code, "--label NAME (your name as others will see it) is needed");
        goto done;
    }
    c->rpc = crpc_new(a.server, a.org, c->cacert, &why);
    crpc_set_invitation(c->rpc, a.token);
    if ((code = client_call(c, CRPC_INVITED, client_req("invite_info"), &rep)) != CLIENT_EXIT_OK)
        goto done;
    const char *ty = client_get_str(rep, "type"), *email = client_get_str(rep, "claimer_email");
    if (strcmp(crpc_status(rep), "ok") || !ty || strcmp(ty, user ? "USER" : "DEVICE") ||
        (user && (!email || !proto_valid_email(email)))) {
        code = client_unexpected(c, rep);
        goto done;
    }
    json_object *gh = NULL;
    json_object_object_get_ex(rep, "greeter_human_handle", &gh);
    const char *gmail = gh ? client_get_str(gh, "email") : NULL;
    if (!c->quiet)
        printf("Invitation from %s in %s%s%s.\n", gmail ? gmail : "a user", a.org,
               user ? " for " : "", user ? email : "");
    fflush(stdout);
    d.addr = xstrdup(a.server);
    d.org = xstrdup(a.org);
    if (user) {
        /* the greeter will certify this email: the invitation's */
        d.email = xstrdup(email);
    }
    if (!client_password(c, "New device passphrase: ", true, pass, &plen))
        goto done;
    ccrypto_sign_generate(&d.signing);
    if (user) {
        ccrypto_box_generate(&d.user_key);
        ccrypto_random(d.user_realm, sizeof d.user_realm);
        ccrypto_random(d.user_manifest_key, sizeof d.user_manifest_key);
    }
    if ((code = handshake(&x)) != CLIENT_EXIT_OK)
        goto done;
    data = json_object_new_object();
    json_object_object_add(
        data, "type", json_object_new_string(user ? "invite_user_data" : "invite_device_data"));
    json_object_object_add(data, "requested_device_label",
                           c->device_label ? json_object_new_string(c->device_label) : NULL);
    if (user) {
        json_object *h = json_object_new_object();
        json_object_object_add(h, "email", json_object_new_string(email));
        json_object_object_add(h, "label", json_object_new_string(c->label));
        json_object_object_add(data, "requested_human_handle", h);
        add_key(data, "public_key", d.user_key.pub);
    }
    add_key(data, "verify_key", d.signing.verify);
    json_object *first = round4(&x, data, &code);
    json_object_put(first);
    if (code != CLIENT_EXIT_OK)
        goto done;
    conf = round4(&x, NULL, &code);
    if (conf == NULL) {
        if (code == CLIENT_EXIT_OK)
            code = client_fail(c, CLIENT_EXIT_VERIFY, "the greeter sent no confirmation");
        goto done;
    }
    char *saved_email = d.email;
    d.email = NULL;
    bool ok = take_confirmation(c, conf, user, &d);
    if (ok && user && (!d.email || strcmp(d.email, saved_email)))
        ok = false;
    free(saved_email);
    if (!ok) {
        code = client_fail(c, CLIENT_EXIT_VERIFY, "the greeter's confirmation is malformed");
        goto done;
    }
    /* what the greeter says must be what the organization certified: our
     * own user, walked back to the root key the greeter gave */
    crpc_free(c->rpc);
    c->rpc = crpc_new(d.addr, d.org, c->cacert, &why);
    crpc_set_device(c->rpc, &d);
    ccertif_user_info u;
    if ((code = client_get_user(c, d.root_verify, d.user_id, &u)) != CLIENT_EXIT_OK)
        goto done;
    ok = !strcmp(u.profile, d.profile) && !memcmp(u.public_key, d.user_key.pub, 32);
    bool mine = false;
    for (size_t i = 0; i < u.devices; i++)
        mine |= !strcmp(u.device_ids[i], d.device_id) &&
                !memcmp(u.verify_keys[i], d.signing.verify, 32);
    ccertif_user_info_free(&u);
    if (!ok || !mine) {
        code = client_fail(c, CLIENT_EXIT_VERIFY,
                           "the organization's certificates disagree with the greeter");
        goto done;
    }
    if (!cdevice_save(&d, pass, plen, &why)) {
        code = client_fail(c, CLIENT_EXIT_DEVICE, "%s", why);
        goto done;
    }
    char *path = cdevice_path(d.org, d.device_id);
    if (!c->quiet)
        printf("Device %s stored in %s.\n", d.device_id, path);
    free(path);
    code = CLIENT_EXIT_OK;
done:
    json_object_put(rep);
    json_object_put(data);
    json_object_put(conf);
    ccrypto_wipe(pass, sizeof pass);
    ccrypto_wipe(&x, sizeof x);
    cdevice_free(&d);
    crpc_addr_free(&a);
    return code;
}
