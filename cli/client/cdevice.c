/*
 * cli/client/cdevice.c - device files: Argon2id, secretbox, atomic 0600 writes
 */
#include "cdevice.h"

#include "arena.h"
#include "crypto.h"
#include "proto.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FORMAT "parsec-c-device-1"

void cdevice_free(cdevice_t *d)
{
    if (d == NULL)
        return;
    free(d->addr);
    free(d->org);
    free(d->device_id);
    free(d->user_id);
    free(d->device_label);
    free(d->email);
    free(d->label);
    free(d->profile);
    ccrypto_wipe(d, sizeof *d);
}

char *cdevice_dir(void)
{
    const char *xdg = getenv("XDG_DATA_HOME");
    if (xdg != NULL && xdg[0] == '/')
        return xasprintf("%s/parsec/devices", xdg);
    const char *home = getenv("HOME");
    if (home == NULL || home[0] != '/')
        return NULL;
    return xasprintf("%s/.local/share/parsec/devices", home);
}

char *cdevice_path(const char *org, const char *device_id)
{
    /* both are checked identifiers: no '/', no "..", nothing to escape */
    if (!proto_valid_organization_id(org) || !proto_valid_device_id(device_id))
        return NULL;
    char *dir = cdevice_dir();
    if (dir == NULL)
        return NULL;
    char *p = xasprintf("%s/%s/%s.keys", dir, org, device_id);
    free(dir);
    return p;
}

static void add_str(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

static void add_bytes(json_object *o, const char *k, const void *v, size_t n)
{
    char *b = crypto_b64_encode(v, n);
    json_object_object_add(o, k, json_object_new_string(b));
    free(b);
}

/* The names shown in clear and repeated inside the box. */
static json_object *names_json(const cdevice_t *d)
{
    json_object *o = json_object_new_object();
    add_str(o, "server", d->addr);
    add_str(o, "organization_id", d->org);
    add_str(o, "device_id", d->device_id);
    add_str(o, "device_label", d->device_label);
    if (d->email) {
        json_object *h = json_object_new_object();
        add_str(h, "email", d->email);
        add_str(h, "label", d->label);
        json_object_object_add(o, "human_handle", h);
    } else {
        json_object_object_add(o, "human_handle", NULL);
    }
    add_str(o, "profile", d->profile);
    return o;
}

/* mkdir -p of the parent directories of path, each 0700. */
static bool make_parents(char *path)
{
    for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        int r = mkdir(path, 0700);
        int e = errno;
        *s = '/';
        if (r != 0 && e != EEXIST)
            return false;
    }
    return true;
}

static bool write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        s += w;
        n -= (size_t)w;
    }
    return true;
}

bool cdevice_save(const cdevice_t *d, const char *pass, size_t pass_len, const char **why)
{
    bool ok = false;
    char *path = cdevice_path(d->org, d->device_id), *tmp = NULL;
    json_object *secret = NULL, *file = NULL;
    uint8_t salt[CCRYPTO_SALT_SIZE], key[CCRYPTO_KEY_SIZE];
    uint8_t *box = NULL;
    int fd = -1;
    *why = "no device directory ($XDG_DATA_HOME and $HOME unset)";
    if (path == NULL)
        goto cleanup;

    secret = names_json(d);
    add_bytes(secret, "signing_key", d->signing.seed, sizeof d->signing.seed);
    add_bytes(secret, "private_key", d->user_key.priv, sizeof d->user_key.priv);
    add_bytes(secret, "root_verify_key", d->root_verify, sizeof d->root_verify);
    add_bytes(secret, "user_realm_id", d->user_realm, sizeof d->user_realm);
    add_bytes(secret, "user_manifest_key", d->user_manifest_key, sizeof d->user_manifest_key);
    size_t slen;
    const char *stext = json_object_to_json_string_length(secret, JSON_C_TO_STRING_PLAIN, &slen);

    ccrypto_random(salt, sizeof salt);
    *why = "Argon2id failed (out of memory?)";
    if (!ccrypto_kdf(pass, pass_len, salt, ccrypto_kdf_default, key))
        goto cleanup;
    size_t blen;
    box = ccrypto_secretbox_seal(key, stext, slen, &blen);

    file = names_json(d);
    json_object_object_add(file, "format", json_object_new_string(FORMAT));
    json_object *kdf = json_object_new_object();
    add_str(kdf, "algorithm", "argon2id13");
    json_object_object_add(kdf, "opslimit",
                           json_object_new_int64((int64_t)ccrypto_kdf_default.opslimit));
    json_object_object_add(kdf, "memlimit",
                           json_object_new_int64((int64_t)ccrypto_kdf_default.memlimit));
    add_bytes(kdf, "salt", salt, sizeof salt);
    json_object_object_add(file, "kdf", kdf);
    add_bytes(file, "ciphertext", box, blen);
    const char *ftext = json_object_to_json_string_ext(file, JSON_C_TO_STRING_PRETTY);

    *why = "cannot create the device directory";
    if (!make_parents(path))
        goto cleanup;
    *why = "a device file of that name exists already";
    if (access(path, F_OK) == 0)
        goto cleanup;
    tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    *why = "cannot write the device file";
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        goto cleanup;
    if (!write_all(fd, ftext, strlen(ftext)) || !write_all(fd, "\n", 1) || fsync(fd) != 0)
        goto cleanup;
    if (close(fd) != 0) {
        fd = -1;
        goto cleanup;
    }
    fd = -1;
    /* link() refuses an existing target, so two racing saves cannot
     * overwrite each other's key */
    *why = "a device file of that name exists already";
    if (link(tmp, path) != 0)
        goto cleanup;
    ok = true;
cleanup:
    if (fd >= 0)
        close(fd);
    if (tmp)
        unlink(tmp);
    free(tmp);
    free(path);
    free(box);
    ccrypto_wipe(key, sizeof key);
    json_object_put(secret); /* the JSON text held secrets: json-c frees, cannot wipe */
    json_object_put(file);
    return ok;
}

/* ---- reading ---- */

static char *read_file(const char *path, size_t *len, cdevice_status *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *st = errno == ENOENT ? CDEVICE_NOT_FOUND : CDEVICE_IO;
        return NULL;
    }
    char *buf = xmalloc(CDEVICE_MAX_FILE + 1);
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, CDEVICE_MAX_FILE + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            *st = CDEVICE_IO;
            goto fail;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > CDEVICE_MAX_FILE) {
            *st = CDEVICE_CORRUPT;
            goto fail;
        }
    }
    close(fd);
    buf[n] = '\0';
    *len = n;
    return buf;
fail:
    close(fd);
    free(buf);
    return NULL;
}

/* The server's strict parser: a file has one reading.  Owned by a. */
static json_object *parse(arena_t *a, const char *s, size_t n)
{
    const char *why;
    return proto_json_parse(a, s, n, &why);
}

static const char *get_str(json_object *o, const char *k, bool nullable, bool *ok)
{
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v) || (v == NULL && !nullable) ||
        (v != NULL && !json_object_is_type(v, json_type_string))) {
        *ok = false;
        return NULL;
    }
    return v ? json_object_get_string(v) : NULL;
}

static bool get_bytes(json_object *o, const char *k, void *out, size_t want)
{
    bool ok = true;
    const char *s = get_str(o, k, false, &ok);
    if (!ok)
        return false;
    size_t n;
    uint8_t *b = crypto_b64_decode(s, strlen(s), &n);
    ok = b != NULL && n == want;
    if (ok)
        memcpy(out, b, want);
    if (b)
        ccrypto_wipe(b, n);
    free(b);
    return ok;
}

static bool get_i64(json_object *o, const char *k, int64_t *out)
{
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int))
        return false;
    *out = json_object_get_int64(v);
    return *out > 0;
}

/* Fills the string fields from a names object; false when malformed. */
static bool read_names(json_object *o, cdevice_t *d)
{
    bool ok = true;
    const char *addr = get_str(o, "server", false, &ok);
    const char *org = get_str(o, "organization_id", false, &ok);
    const char *dev = get_str(o, "device_id", false, &ok);
    const char *dl = get_str(o, "device_label", true, &ok);
    const char *prof = get_str(o, "profile", false, &ok);
    json_object *h;
    const char *email = NULL, *label = NULL;
    if (!json_object_object_get_ex(o, "human_handle", &h))
        return false;
    if (h) {
        if (!json_object_is_type(h, json_type_object))
            return false;
        email = get_str(h, "email", false, &ok);
        label = get_str(h, "label", false, &ok);
    }
    if (!ok || !proto_valid_organization_id(org) || !proto_valid_device_id(dev))
        return false;
    d->addr = xstrdup(addr);
    d->org = xstrdup(org);
    d->device_id = xstrdup(dev);
    d->user_id = xstrndup(dev, (size_t)(strchr(dev, '@') - dev));
    d->device_label = dl ? xstrdup(dl) : NULL;
    d->email = email ? xstrdup(email) : NULL;
    d->label = label ? xstrdup(label) : NULL;
    d->profile = xstrdup(prof);
    return true;
}

static bool same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && !strcmp(a, b));
}

cdevice_status cdevice_load(const char *path, const char *pass, size_t pass_len, cdevice_t *out)
{
    cdevice_status st = CDEVICE_CORRUPT;
    size_t flen, plen = 0, blen = 0;
    char *text = read_file(path, &flen, &st);
    json_object *file = NULL, *kdf = NULL, *secret = NULL;
    uint8_t salt[CCRYPTO_SALT_SIZE], key[CCRYPTO_KEY_SIZE], *box = NULL, *plain = NULL;
    cdevice_t outer = {0};
    arena_t *a = arena_new();
    memset(out, 0, sizeof *out);
    if (text == NULL) {
        arena_free(a);
        return st;
    }
    st = CDEVICE_CORRUPT;
    bool ok = true;
    if ((file = parse(a, text, flen)) == NULL)
        goto cleanup;
    const char *fmt = get_str(file, "format", false, &ok);
    if (!ok || strcmp(fmt, FORMAT) || !read_names(file, &outer))
        goto cleanup;
    int64_t ops, mem;
    if (!json_object_object_get_ex(file, "kdf", &kdf) ||
        !json_object_is_type(kdf, json_type_object))
        goto cleanup;
    const char *alg = get_str(kdf, "algorithm", false, &ok);
    if (!ok || strcmp(alg, "argon2id13") || !get_i64(kdf, "opslimit", &ops) ||
        !get_i64(kdf, "memlimit", &mem) || !get_bytes(kdf, "salt", salt, sizeof salt))
        goto cleanup;
    const char *ct = get_str(file, "ciphertext", false, &ok);
    if (!ok || (box = crypto_b64_decode(ct, strlen(ct), &blen)) == NULL)
        goto cleanup;
    ccrypto_kdf_cost cost = {(unsigned long long)ops, (size_t)mem};
    if (!ccrypto_kdf(pass, pass_len, salt, cost, key))
        goto cleanup; /* cost out of bounds: a hostile file */
    if ((plain = ccrypto_secretbox_open(key, box, blen, &plen)) == NULL) {
        st = CDEVICE_BAD_PASSWORD;
        goto cleanup;
    }
    if ((secret = parse(a, (const char *)plain, plen)) == NULL || !read_names(secret, out))
        goto cleanup;
    uint8_t priv[CCRYPTO_KEY_SIZE], seed[CCRYPTO_KEY_SIZE];
    if (!get_bytes(secret, "signing_key", seed, sizeof seed) ||
        !get_bytes(secret, "private_key", priv, sizeof priv) ||
        !get_bytes(secret, "root_verify_key", out->root_verify, sizeof out->root_verify) ||
        !get_bytes(secret, "user_realm_id", out->user_realm, sizeof out->user_realm) ||
        !get_bytes(secret, "user_manifest_key", out->user_manifest_key,
                   sizeof out->user_manifest_key))
        goto cleanup;
    ccrypto_sign_from_seed(&out->signing, seed);
    ccrypto_box_from_private(&out->user_key, priv);
    ccrypto_wipe(seed, sizeof seed);
    ccrypto_wipe(priv, sizeof priv);
    /* what the clear part says must be what was sealed */
    if (!same(outer.addr, out->addr) || !same(outer.org, out->org) ||
        !same(outer.device_id, out->device_id) || !same(outer.device_label, out->device_label) ||
        !same(outer.email, out->email) || !same(outer.label, out->label) ||
        !same(outer.profile, out->profile))
        goto cleanup;
    st = CDEVICE_OK;
cleanup:
    if (st != CDEVICE_OK)
        cdevice_free(out);
    cdevice_free(&outer);
    if (plain)
        ccrypto_wipe(plain, plen);
    free(plain);
    free(box);
    ccrypto_wipe(key, sizeof key);
    arena_free(a);
    free(text);
    return st;
}

/* ---- listing ---- */

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const cdevice_entry *)a)->path, ((const cdevice_entry *)b)->path);
}

static bool read_entry(const char *path, cdevice_entry *e)
{
    size_t n;
    cdevice_status st;
    char *text = read_file(path, &n, &st);
    arena_t *a = arena_new();
    json_object *o = text ? parse(a, text, n) : NULL;
    cdevice_t d = {0};
    bool ok = true;
    const char *fmt = o ? get_str(o, "format", false, &ok) : NULL;
    ok = ok && fmt && !strcmp(fmt, FORMAT) && read_names(o, &d);
    if (ok) {
        *e = (cdevice_entry){.path = xstrdup(path),
                             .org = d.org,
                             .device_id = d.device_id,
                             .device_label = d.device_label,
                             .email = d.email,
                             .label = d.label,
                             .addr = d.addr};
        d.org = d.device_id = d.device_label = d.email = d.label = d.addr = NULL;
    }
    cdevice_free(&d);
    arena_free(a);
    free(text);
    return ok;
}

cdevice_entry *cdevice_list(size_t *n)
{
    cdevice_entry *v = NULL;
    size_t len = 0, cap = 0;
    char *dir = cdevice_dir();
    DIR *top = dir ? opendir(dir) : NULL;
    struct dirent *o;
    while (top && (o = readdir(top)) != NULL) {
        if (!proto_valid_organization_id(o->d_name))
            continue;
        char *sub = xasprintf("%s/%s", dir, o->d_name);
        DIR *dd = opendir(sub);
        struct dirent *f;
        while (dd && (f = readdir(dd)) != NULL) {
            size_t fl = strlen(f->d_name);
            if (fl < 6 || strcmp(f->d_name + fl - 5, ".keys"))
                continue;
            char *path = xasprintf("%s/%s", sub, f->d_name);
            if (len == cap) {
                cap = cap ? 2 * cap : 8;
                v = xrealloc(v, cap * sizeof *v);
            }
            if (read_entry(path, &v[len]))
                len++;
            free(path);
        }
        if (dd)
            closedir(dd);
        free(sub);
    }
    if (top)
        closedir(top);
    free(dir);
    if (len)
        qsort(v, len, sizeof *v, entry_cmp);
    *n = len;
    return v;
}

void cdevice_list_free(cdevice_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(e[i].path);
        free(e[i].org);
        free(e[i].device_id);
        free(e[i].device_label);
        free(e[i].email);
        free(e[i].label);
        free(e[i].addr);
    }
    free(e);
}
