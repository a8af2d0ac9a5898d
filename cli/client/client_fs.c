/*
 * cli/client/client_fs.c - paths in a workspace: ls, mkdir, rm
 *
 * A workspace is a tree of manifests (docs/client.md, "Workspaces"): its
 * root folder lives in the vlob of the workspace's id; a folder manifest
 * names its children {"name": {"id", "type"}}; each child is a vlob of its
 * own.  Paths are WORKSPACE:/a/b (the leading slash optional).
 */
#include "client_internal.h"

#include "proto.h"
#include "xalloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Path depth and entry names are bounded so a hostile tree cannot loop. */
#define MAX_DEPTH 64

/* A name in a folder: UTF-8 text of 1 to 255 bytes, no '/', no control
 * character, neither "." nor "..". */
bool client_valid_name(const char *s)
{
    return s && proto_valid_device_label(s) && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

int client_split(client_ctx *c, const char *arg, char **ws, char ***parts, size_t *n)
{
    const char *colon = strchr(arg, ':');
    *ws = xstrndup(arg, colon ? (size_t)(colon - arg) : strlen(arg));
    *parts = NULL;
    *n = 0;
    char *path = xstrdup(colon ? colon + 1 : "");
    for (char *save = NULL, *p = strtok_r(path, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
        if (!client_valid_name(p) || *n == MAX_DEPTH) {
            free(path);
            client_free_parts(*parts, *n);
            free(*ws);
            return client_fail(c, CLIENT_EXIT_USAGE, "bad path `%s`", arg);
        }
        *parts = xrealloc(*parts, (*n + 1) * sizeof **parts);
        (*parts)[(*n)++] = xstrdup(p);
    }
    free(path);
    return CLIENT_EXIT_OK;
}

void client_free_parts(char **parts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(parts[i]);
    free(parts);
}

/* The child `name` of folder manifest m: its id and type, or false. */
bool client_child(json_object *m, const char *name, char id[33], char type[8])
{
    json_object *ch = NULL, *e;
    json_object_object_get_ex(m, "children", &ch);
    if (!ch || !json_object_object_get_ex(ch, name, &e))
        return false;
    const char *i = client_get_str(e, "id"), *t = client_get_str(e, "type");
    if (!i || strlen(i) != 32 || !t || (strcmp(t, "folder") && strcmp(t, "file")))
        return false;
    snprintf(id, 33, "%s", i);
    snprintf(type, 8, "%s", t);
    return true;
}

int client_resolve(client_ctx *c, const client_ws *ws, char **parts, size_t n, char id[33],
                   char type[8], json_object **m, int64_t *version)
{
    snprintf(id, 33, "%s", ws->id);
    snprintf(type, 8, "folder");
    *m = NULL;
    for (size_t i = 0;; i++) {
        int code = client_manifest_read(c, ws, id, 0, m, version);
        if (code == CLIENT_EXIT_NOT_FOUND)
            return client_fail(c, CLIENT_EXIT_VERIFY, "a manifest of %s is missing", ws->name);
        if (code != CLIENT_EXIT_OK)
            return code;
        const char *mt = client_get_str(*m, "type");
        bool folder = mt && !strcmp(mt, "folder_manifest");
        if (!mt || folder != !strcmp(type, "folder")) {
            json_object_put(*m);
            *m = NULL;
            return client_fail(c, CLIENT_EXIT_VERIFY, "an entry of %s is not what its folder says",
                               ws->name);
        }
        if (i == n)
            return CLIENT_EXIT_OK;
        if (!folder || !client_child(*m, parts[i], id, type)) {
            json_object_put(*m);
            *m = NULL;
            return CLIENT_EXIT_NOT_FOUND;
        }
        json_object_put(*m);
        *m = NULL;
    }
}

/*
 * client_update_folder - apply change to the folder at parts[0..n) and
 * write it, re-reading and re-applying on a concurrent write (bad_version):
 * two devices adding entries to one folder never lose either.  change
 * returns an exit status (CLIENT_EXIT_EXISTS etc. abort without writing).
 */
int client_update_folder(client_ctx *c, const client_ws *ws, char **parts, size_t n,
                         int (*change)(client_ctx *, json_object *children, void *), void *arg)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        char id[33], type[8];
        json_object *m;
        int64_t v;
        int code = client_resolve(c, ws, parts, n, id, type, &m, &v);
        if (code == CLIENT_EXIT_NOT_FOUND)
            return client_fail(c, code, "no folder %s", n ? parts[n - 1] : "/");
        if (code != CLIENT_EXIT_OK)
            return code;
        if (strcmp(type, "folder")) {
            json_object_put(m);
            return client_fail(c, CLIENT_EXIT_USAGE, "%s is a file", parts[n - 1]);
        }
        json_object *ch = NULL;
        json_object_object_get_ex(m, "children", &ch);
        if (!ch || !json_object_is_type(ch, json_type_object)) {
            json_object_put(m);
            return client_fail(c, CLIENT_EXIT_VERIFY, "malformed folder manifest");
        }
        if ((code = change(c, ch, arg)) != CLIENT_EXIT_OK) {
            json_object_put(m);
            return code;
        }
        bool conflict;
        code = client_manifest_write(c, ws, id, v + 1, m, &conflict);
        json_object_put(m);
        if (code != CLIENT_EXIT_OK || !conflict)
            return code;
    }
    return client_fail(c, CLIENT_EXIT_SERVER, "the folder keeps changing: try again");
}

/* ---- ls ---- */

int client_ls(client_ctx *c)
{
    int code = client_open(c);
    char *wsname = NULL, **parts = NULL;
    size_t n = 0;
    if (code != CLIENT_EXIT_OK || (code = client_split(c, c->argv[0], &wsname, &parts, &n)))
        return code;
    client_ws ws;
    json_object *m = NULL;
    char id[33], type[8];
    int64_t v;
    if ((code = client_ws_find(c, wsname, &ws)) != CLIENT_EXIT_OK)
        goto done;
    code = client_resolve(c, &ws, parts, n, id, type, &m, &v);
    if (code == CLIENT_EXIT_NOT_FOUND)
        client_fail(c, code, "no such path %s", c->argv[0]);
    if (code != CLIENT_EXIT_OK)
        goto done;
    if (!strcmp(type, "file")) {
        printf("%s\t%" PRId64 "\n", parts[n - 1], client_file_size(m));
        goto done;
    }
    json_object *ch = json_object_object_get(m, "children");
    json_object_object_foreach(ch, name, e)
    {
        char cid[33], ctype[8];
        (void)e;
        if (!client_child(m, name, cid, ctype))
            continue;
        if (!strcmp(ctype, "folder")) {
            printf("%s/\n", name);
            continue;
        }
        json_object *fm;
        int64_t fv;
        if ((code = client_manifest_read(c, &ws, cid, 0, &fm, &fv)) != CLIENT_EXIT_OK) {
            if (code == CLIENT_EXIT_NOT_FOUND)
                code = client_fail(c, CLIENT_EXIT_VERIFY, "%s's manifest is missing", name);
            goto done;
        }
        printf("%s\t%" PRId64 "\n", name, client_file_size(fm));
        json_object_put(fm);
    }
done:
    json_object_put(m);
    client_free_parts(parts, n);
    free(wsname);
    return code;
}

int64_t client_file_size(json_object *fm)
{
    json_object *s;
    if (fm && json_object_object_get_ex(fm, "size", &s) && json_object_is_type(s, json_type_int))
        return json_object_get_int64(s);
    return -1;
}

/* ---- mkdir ---- */

int client_new_folder(client_ctx *c, const client_ws *ws, char id[33])
{
    client_random_id(id);
    json_object *m = json_object_new_object();
    json_object_object_add(m, "type", json_object_new_string("folder_manifest"));
    json_object_object_add(m, "parent", NULL);
    json_object_object_add(m, "children", json_object_new_object());
    bool conflict;
    int code = client_manifest_write(c, ws, id, 1, m, &conflict);
    json_object_put(m);
    return code;
}

int client_add_child(client_ctx *c, json_object *children, void *arg)
{
    const client_child_arg *a = arg;
    if (json_object_object_get_ex(children, a->name, NULL))
        return client_fail(c, CLIENT_EXIT_EXISTS, "%s exists already", a->name);
    json_object *e = json_object_new_object();
    json_object_object_add(e, "id", json_object_new_string(a->id));
    json_object_object_add(e, "type", json_object_new_string(a->type));
    json_object_object_add(children, a->name, e);
    return CLIENT_EXIT_OK;
}

int client_mkdir(client_ctx *c)
{
    int code = client_open(c);
    char *wsname = NULL, **parts = NULL;
    size_t n = 0;
    if (code != CLIENT_EXIT_OK || (code = client_split(c, c->argv[0], &wsname, &parts, &n)))
        return code;
    client_ws ws;
    if (n == 0) {
        code = client_fail(c, CLIENT_EXIT_USAGE, "mkdir needs WORKSPACE:PATH");
        goto done;
    }
    if ((code = client_ws_find(c, wsname, &ws)) != CLIENT_EXIT_OK)
        goto done;
    char id[33];
    if ((code = client_new_folder(c, &ws, id)) != CLIENT_EXIT_OK)
        goto done;
    client_child_arg a = {parts[n - 1], id, "folder"};
    code = client_update_folder(c, &ws, parts, n - 1, client_add_child, &a);
done:
    client_free_parts(parts, n);
    free(wsname);
    return code;
}

/* ---- rm ---- */

typedef struct {
    client_ctx *c;
    const client_ws *ws;
    const char *name;
} rm_arg;

static int remove_child(client_ctx *c, json_object *children, void *arg)
{
    const rm_arg *a = arg;
    json_object *e;
    if (!json_object_object_get_ex(children, a->name, &e))
        return client_fail(c, CLIENT_EXIT_NOT_FOUND, "no %s", a->name);
    const char *type = client_get_str(e, "type"), *id = client_get_str(e, "id");
    if (type && !strcmp(type, "folder") && id) {
        json_object *fm;
        int64_t v;
        int code = client_manifest_read(c, a->ws, id, 0, &fm, &v);
        if (code != CLIENT_EXIT_OK)
            return code;
        json_object *ch = json_object_object_get(fm, "children");
        bool empty = !ch || json_object_object_length(ch) == 0;
        json_object_put(fm);
        if (!empty)
            return client_fail(c, CLIENT_EXIT_USAGE, "folder %s is not empty", a->name);
    }
    json_object_object_del(children, a->name);
    return CLIENT_EXIT_OK;
}

int client_rm(client_ctx *c)
{
    int code = client_open(c);
    char *wsname = NULL, **parts = NULL;
    size_t n = 0;
    if (code != CLIENT_EXIT_OK || (code = client_split(c, c->argv[0], &wsname, &parts, &n)))
        return code;
    client_ws ws;
    if (n == 0) {
        code = client_fail(c, CLIENT_EXIT_USAGE, "rm needs WORKSPACE:PATH");
        goto done;
    }
    if ((code = client_ws_find(c, wsname, &ws)) != CLIENT_EXIT_OK)
        goto done;
    rm_arg a = {c, &ws, parts[n - 1]};
    code = client_update_folder(c, &ws, parts, n - 1, remove_child, &a);
done:
    client_free_parts(parts, n);
    free(wsname);
    return code;
}
