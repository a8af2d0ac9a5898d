/*
 * cli/client/client_users.c - bootstrap_organization, list_devices,
 * list_users, revoke_user: the organization's people, verified
 */
#include "client_internal.h"

#include "crypto.h"
#include "proto.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A random identifier as Parsec makes them: 32 lowercase hex characters. */
static void random_id(char out[33])
{
    uint8_t b[16];
    ccrypto_random(b, sizeof b);
    char *h = crypto_hex_encode(b, sizeof b);
    memcpy(out, h, 33);
    free(h);
}

/* The default device label: the host's name, when it is a valid label. */
static char *default_device_label(void)
{
    char host[256];
    if (gethostname(host, sizeof host) != 0)
        return NULL;
    host[sizeof host - 1] = '\0';
    return proto_valid_device_label(host) ? xstrdup(host) : NULL;
}

static void add_blob(json_object *req, const char *k, uint8_t *blob, size_t len)
{
    client_add_bytes(req, k, blob, len);
    free(blob);
}

int client_bootstrap(client_ctx *c)
{
    crpc_addr a;
    const char *why = crpc_addr_parse(c->argv[0], &a);
    if (why)
        return client_fail(c, CLIENT_EXIT_USAGE, "%s", why);
    int code = CLIENT_EXIT_USAGE;
    cdevice_t d = {0};
    char *path = NULL;
    char pass[CLIENT_MAX_PASSWORD + 1];
    size_t plen = 0;
    bool saved = false;
    if (a.action == NULL || strcmp(a.action, "bootstrap_organization")) {
        client_fail(c, code, "not a bootstrap address (action=bootstrap_organization)");
        goto done;
    }
    if (c->email == NULL || !proto_valid_email(c->email) || c->label == NULL ||
        !proto_valid_human_label(c->label)) {
        client_fail(c, code, "--email EMAIL and --label NAME (docs/protocol.md 2.6) are needed");
        goto done;
    }
    if (c->device_label && !proto_valid_device_label(c->device_label)) {
        client_fail(c, code, "--device-label: 1 to 255 bytes, no control character");
        goto done;
    }
    if (!client_password(c, "New device passphrase: ", true, pass, &plen))
        goto done;

    char uid[33], dname[33];
    random_id(uid);
    random_id(dname);
    d.addr = xstrdup(a.server);
    d.org = xstrdup(a.org);
    d.user_id = xstrdup(uid);
    d.device_id = xasprintf("%s@%s", uid, dname);
    d.device_label = c->device_label ? xstrdup(c->device_label) : default_device_label();
    d.email = xstrdup(c->email);
    d.label = xstrdup(c->label);
    d.profile = xstrdup("ADMIN");
    ccrypto_sign_generate(&d.signing);
    ccrypto_box_generate(&d.user_key);
    ccrypto_random(d.user_realm, sizeof d.user_realm);
    ccrypto_random(d.user_manifest_key, sizeof d.user_manifest_key);
    ccrypto_sign_key root;
    ccrypto_sign_generate(&root);
    memcpy(d.root_verify, root.verify, sizeof d.root_verify);

    int64_t ts = ccertif_now();
    size_t n;
    json_object *req = client_req("organization_bootstrap");
    json_object_object_add(req, "bootstrap_token", json_object_new_string(a.token ? a.token : ""));
    client_add_bytes(req, "root_verify_key", root.verify, sizeof root.verify);
    uint8_t *b = ccertif_user(&root, NULL, ts, uid, d.email, d.label, d.user_key.pub, "ADMIN", &n);
    add_blob(req, "user_certificate", b, n);
    b = ccertif_device(&root, NULL, ts, d.device_id, d.device_label, d.signing.verify, &n);
    add_blob(req, "device_certificate", b, n);
    b = ccertif_user(&root, NULL, ts, uid, NULL, NULL, d.user_key.pub, "ADMIN", &n);
    add_blob(req, "redacted_user_certificate", b, n);
    b = ccertif_device(&root, NULL, ts, d.device_id, NULL, d.signing.verify, &n);
    add_blob(req, "redacted_device_certificate", b, n);
    json_object_object_add(req, "sequester_authority_certificate", NULL);
    /* the root key is needed for nothing else: Parsec forgets it too */
    ccrypto_wipe(&root, sizeof root);

    /* the keys are on disk before the server knows them: a bootstrap whose
     * keys were lost would leave an organization nobody can use */
    if (!cdevice_save(&d, pass, plen, &why)) {
        json_object_put(req);
        code = client_fail(c, CLIENT_EXIT_DEVICE, "%s", why);
        goto done;
    }
    saved = true;
    path = cdevice_path(d.org, d.device_id);
    c->rpc = crpc_new(d.addr, d.org, c->cacert, &why);
    json_object *rep = NULL;
    if ((code = client_call(c, CRPC_ANONYMOUS, req, &rep)) != CLIENT_EXIT_OK)
        goto done;
    const char *st = crpc_status(rep);
    if (!strcmp(st, "ok")) {
        saved = false; /* kept */
        if (!c->quiet)
            printf("Organization %s bootstrapped.\n"
                   "You are %s <%s>, user %s, device %s.\n"
                   "Device keys: %s\n",
                   d.org, d.label, d.email, d.user_id, d.device_id, path);
    } else if (!strcmp(st, "already_bootstrapped")) {
        code = client_fail(c, CLIENT_EXIT_EXISTS, "%s is already bootstrapped", d.org);
    } else if (!strcmp(st, "not_found")) {
        code = client_fail(c, CLIENT_EXIT_NOT_FOUND, "no organization %s with this bootstrap token",
                           d.org);
    } else {
        code = client_unexpected(c, rep);
    }
    json_object_put(rep);
done:
    if (saved && path)
        unlink(path);
    free(path);
    ccrypto_wipe(pass, sizeof pass);
    cdevice_free(&d);
    crpc_addr_free(&a);
    return code;
}

int client_list_devices(client_ctx *c)
{
    size_t n;
    cdevice_entry *e = cdevice_list(&n);
    for (size_t i = 0; i < n; i++)
        printf("%s/%s\t%s\t%s\t%s\t%s\n", e[i].org, e[i].device_id, e[i].email ? e[i].email : "-",
               e[i].label ? e[i].label : "-", e[i].device_label ? e[i].device_label : "-",
               e[i].addr);
    if (n == 0 && !c->quiet)
        fprintf(stderr, "no device on this machine\n");
    cdevice_list_free(e, n);
    return CLIENT_EXIT_OK;
}

int client_get_user(client_ctx *c, const uint8_t *root, const char *uid, ccertif_user_info *u)
{
    json_object *req = client_req("user_get"), *rep;
    json_object_object_add(req, "user_id", json_object_new_string(uid));
    int code = client_call(c, CRPC_AUTHENTICATED, req, &rep);
    if (code != CLIENT_EXIT_OK)
        return code;
    const char *st = crpc_status(rep);
    if (!strcmp(st, "ok")) {
        char *why;
        if (!ccertif_trust(rep, root, u, &why)) {
            code = client_fail(c, CLIENT_EXIT_VERIFY, "user %s does not verify: %s", uid, why);
            free(why);
        } else if (strcmp(u->user_id, uid)) {
            ccertif_user_info_free(u);
            code = client_fail(c, CLIENT_EXIT_VERIFY, "asked for user %s, got another", uid);
        }
    } else if (!strcmp(st, "not_found")) {
        code = client_fail(c, CLIENT_EXIT_NOT_FOUND, "no user %s", uid);
    } else {
        code = client_unexpected(c, rep);
    }
    json_object_put(rep);
    return code;
}

/* One page of human_find; exit status, *rep on success. */
static int find_page(client_ctx *c, const char *query, int page, json_object **rep)
{
    json_object *req = client_req("human_find");
    json_object_object_add(req, "query", query ? json_object_new_string(query) : NULL);
    json_object_object_add(req, "omit_revoked", json_object_new_boolean(false));
    json_object_object_add(req, "omit_non_human", json_object_new_boolean(false));
    json_object_object_add(req, "page", json_object_new_int(page));
    json_object_object_add(req, "per_page", json_object_new_int(100));
    int code = client_call(c, CRPC_AUTHENTICATED, req, rep);
    if (code == CLIENT_EXIT_OK && strcmp(crpc_status(*rep), "ok")) {
        code = client_unexpected(c, *rep);
        json_object_put(*rep);
    }
    return code;
}

int client_find_user(client_ctx *c, const char *who, ccertif_user_info *u)
{
    if (!strchr(who, '@')) {
        if (!proto_valid_user_id(who))
            return client_fail(c, CLIENT_EXIT_USAGE, "`%s` is neither an email nor a user id", who);
        return client_get_user(c, c->dev.root_verify, who, u);
    }
    json_object *rep;
    int code = find_page(c, who, 1, &rep);
    if (code != CLIENT_EXIT_OK)
        return code;
    /* the search is by substring: keep the exact email, an active user first */
    json_object *res = NULL;
    const char *pick = NULL;
    json_object_object_get_ex(rep, "results", &res);
    for (size_t i = 0; res && i < json_object_array_length(res); i++) {
        json_object *r = json_object_array_get_idx(res, i), *h, *rv;
        const char *email = json_object_object_get_ex(r, "human_handle", &h) && h
                                ? client_get_str(h, "email")
                                : NULL;
        bool revoked = json_object_object_get_ex(r, "revoked", &rv) && json_object_get_boolean(rv);
        if (email && !strcmp(email, who) && (pick == NULL || !revoked))
            pick = client_get_str(r, "user_id");
    }
    if (pick == NULL || !proto_valid_user_id(pick))
        code = client_fail(c, CLIENT_EXIT_NOT_FOUND, "no user with email %s", who);
    else
        code = client_get_user(c, c->dev.root_verify, pick, u);
    if (code == CLIENT_EXIT_OK && strcmp(u->email, who)) {
        /* the server pointed at a user whose certificate says otherwise */
        ccertif_user_info_free(u);
        code = client_fail(c, CLIENT_EXIT_VERIFY, "user %s's certificate is not %s's", pick, who);
    }
    json_object_put(rep);
    return code;
}

int client_list_users(client_ctx *c)
{
    int code = client_open(c);
    for (int page = 1; code == CLIENT_EXIT_OK; page++) {
        json_object *rep, *res = NULL, *tot = NULL;
        if ((code = find_page(c, NULL, page, &rep)) != CLIENT_EXIT_OK)
            break;
        json_object_object_get_ex(rep, "results", &res);
        json_object_object_get_ex(rep, "total", &tot);
        size_t n =
            res && json_object_is_type(res, json_type_array) ? json_object_array_length(res) : 0;
        for (size_t i = 0; i < n && code == CLIENT_EXIT_OK; i++) {
            const char *uid = client_get_str(json_object_array_get_idx(res, i), "user_id");
            ccertif_user_info u;
            if (uid == NULL || !proto_valid_user_id(uid)) {
                code = client_fail(c, CLIENT_EXIT_SERVER, "malformed human_find reply");
                break;
            }
            if ((code = client_get_user(c, c->dev.root_verify, uid, &u)) != CLIENT_EXIT_OK)
                break;
            printf("%s\t%s\t%s\t%s\t%s\n", u.user_id, u.email[0] ? u.email : "-",
                   u.label[0] ? u.label : "-", u.profile, u.revoked ? "revoked" : "active");
            ccertif_user_info_free(&u);
        }
        bool more = tot && (int64_t)page * 100 < json_object_get_int64(tot) && n == 100;
        json_object_put(rep);
        if (!more)
            break;
    }
    return code;
}

int client_revoke_user(client_ctx *c)
{
    int code = client_open(c);
    ccertif_user_info u;
    if (code != CLIENT_EXIT_OK)
        return code;
    if ((code = client_find_user(c, c->argv[0], &u)) != CLIENT_EXIT_OK)
        return code;
    size_t n;
    uint8_t *cert =
        ccertif_revoked_user(&c->dev.signing, c->dev.device_id, ccertif_now(), u.user_id, &n);
    json_object *req = client_req("user_revoke"), *rep;
    client_add_bytes(req, "revoked_user_certificate", cert, n);
    free(cert);
    if ((code = client_call(c, CRPC_AUTHENTICATED, req, &rep)) != CLIENT_EXIT_OK)
        goto done;
    const char *st = crpc_status(rep);
    if (!strcmp(st, "ok")) {
        if (!c->quiet)
            printf("User %s (%s) revoked.\n", u.user_id, u.email[0] ? u.email : "no email");
        /* what it could read gets new keys: it keeps only the old ones */
        code = client_reencrypt_for(c, u.user_id);
    } else if (!strcmp(st, "already_revoked")) {
        /* another owner may run it to re-encrypt its own workspaces */
        code = client_reencrypt_for(c, u.user_id);
        if (code == CLIENT_EXIT_OK)
            code = client_fail(c, CLIENT_EXIT_EXISTS, "user %s is already revoked", u.user_id);
    } else {
        code = client_unexpected(c, rep);
    }
    json_object_put(rep);
done:
    ccertif_user_info_free(&u);
    return code;
}
