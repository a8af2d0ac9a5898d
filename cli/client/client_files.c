/*
 * cli/client/client_files.c - put, get, rsync: file contents in blocks
 *
 * A file is a file manifest (docs/client.md, "Files") naming its blocks of
 * at most 512 KiB, each sealed under a key of its own kept in the manifest.
 * Blocks travel through a small window of requests in flight
 * (client_blocks.c), so memory does not grow with the file.  An upload
 * reuses every block whose size and SHA-256 equal the remote file's block
 * at the same place, and a file whose blocks all match is not written at
 * all: `rsync` twice sends nothing the second time.
 */
#include "client_internal.h"

#include "crypto.h"
#include "proto.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BLOCK_SIZE CLIENT_BLOCK_SIZE
/* A manifest naming more blocks than this is refused (a 64 GiB file). */
#define MAX_BLOCKS 131072

typedef struct {
    uint64_t files_sent, files_same, blocks_sent, bytes_sent;
} xfer_stats;

/* ---- progress ---- */

typedef struct {
    bool on;
    const char *name;
    uint64_t total, done;
    time_t last;
} progress;

static void progress_show(progress *p, bool final)
{
    if (!p->on)
        return;
    time_t now = time(NULL);
    if (!final && now == p->last)
        return;
    p->last = now;
    int pct = p->total ? (int)(p->done * 100 / p->total) : 100;
    char bar[21];
    for (int i = 0; i < 20; i++)
        bar[i] = i < pct / 5 ? '#' : '.';
    bar[20] = '\0';
    fprintf(stderr, "\r%-30.30s [%s] %3d%% %8.1f MiB%s", p->name, bar, pct,
            (double)p->done / (1024.0 * 1024.0), final ? "\n" : "");
}

static void progress_init(progress *p, const client_ctx *c, const char *name, uint64_t total)
{
    p->on = !c->quiet && isatty(STDERR_FILENO) && total >= 4 * BLOCK_SIZE;
    p->name = name;
    p->total = total;
    p->done = 0;
    p->last = 0;
}

/* ---- upload ---- */

/* Reads up to n bytes (short only at the end). */
static ssize_t read_full(int fd, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/*
 * upload - the blocks of fd into a new "blocks" list, reusing those of old
 * (the remote manifest, or NULL) that match; *same when every block and
 * the size match (nothing sent).  Exit status.
 */
static int upload(client_ctx *c, const client_ws *ws, int fd, const char *name, uint64_t size,
                  json_object *old, json_object **blocks, bool *same, xfer_stats *s)
{
    json_object *oldb = NULL;
    if (old)
        json_object_object_get_ex(old, "blocks", &oldb);
    size_t nold =
        oldb && json_object_is_type(oldb, json_type_array) ? json_object_array_length(oldb) : 0;
    *same = old && client_file_size(old) == (int64_t)size;
    *blocks = json_object_new_array();
    client_blocks *xb = client_blocks_of(c);
    if (xb == NULL)
        return CLIENT_EXIT_SERVER;
    uint8_t *buf = xmalloc(BLOCK_SIZE);
    progress pr;
    progress_init(&pr, c, name, size);
    int code = CLIENT_EXIT_OK;
    uint64_t off = 0;
    for (size_t i = 0;; i++) {
        ssize_t r = read_full(fd, buf, BLOCK_SIZE);
        if (r < 0) {
            code = client_fail(c, CLIENT_EXIT_USAGE, "cannot read %s: %s", name, strerror(errno));
            break;
        }
        if (r == 0)
            break;
        uint8_t digest[32];
        crypto_sha256(buf, (size_t)r, digest);
        json_object *e = NULL;
        if (i < nold) {
            json_object *o = json_object_array_get_idx(oldb, i);
            size_t dn;
            uint8_t *d = client_get_bytes(o, "digest", &dn);
            bool match = d && dn == 32 && crypto_equal(d, digest, 32) &&
                         json_object_get_int64(json_object_object_get(o, "size")) == r &&
                         json_object_get_int64(json_object_object_get(o, "offset")) == (int64_t)off;
            free(d);
            if (match)
                e = json_object_get(o);
        }
        if (e == NULL) {
            *same = false;
            e = json_object_new_object();
            if ((code = client_blocks_put(xb, ws, buf, (size_t)r, e)) != CLIENT_EXIT_OK) {
                json_object_put(e);
                break;
            }
            json_object_object_add(e, "offset", json_object_new_int64((int64_t)off));
            json_object_object_add(e, "size", json_object_new_int64(r));
            client_add_bytes(e, "digest", digest, 32);
            s->blocks_sent++;
            s->bytes_sent += (uint64_t)r;
        }
        json_object_array_add(*blocks, e);
        off += (uint64_t)r;
        pr.done = off;
        progress_show(&pr, false);
        if ((size_t)r < BLOCK_SIZE)
            break;
    }
    if (code == CLIENT_EXIT_OK)
        code = client_blocks_flush(xb);
    if (code == CLIENT_EXIT_OK && off != size)
        code = client_fail(c, CLIENT_EXIT_USAGE, "%s changed while it was read", name);
    if (*same && json_object_array_length(*blocks) != nold)
        *same = false;
    progress_show(&pr, true);
    free(buf);
    return code;
}

static json_object *file_manifest(json_object *blocks, uint64_t size)
{
    json_object *m = json_object_new_object();
    json_object_object_add(m, "type", json_object_new_string("file_manifest"));
    json_object_object_add(m, "parent", NULL);
    json_object_object_add(m, "size", json_object_new_int64((int64_t)size));
    json_object_object_add(m, "blocksize", json_object_new_int(BLOCK_SIZE));
    json_object_object_add(m, "blocks", json_object_get(blocks));
    return m;
}

/* "report (conflict with laptop 2026-12-05 07-30-01).pdf" (malloc'd). */
static char *conflict_name(const client_ctx *c, const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot == name)
        dot = NULL;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%d %H-%M-%S", &tm);
    const char *who = c->dev.device_label ? c->dev.device_label : c->dev.device_id;
    return xasprintf("%.*s (conflict with %s %s)%s", dot ? (int)(dot - name) : (int)strlen(name),
                     name, who, when, dot ? dot : "");
}

/*
 * put_file - LOCAL into folder parts[0..n) as name.  An existing remote
 * file is updated in place; a concurrent update of it (bad_version) or a
 * name taken meanwhile keeps both versions: ours under a conflict name.
 */
static int put_file(client_ctx *c, const client_ws *ws, const char *local, char **parts, size_t n,
                    const char *name, xfer_stats *s)
{
    int fd = open(local, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return client_fail(c, CLIENT_EXIT_USAGE, "%s is not a readable file", local);
    }
    int code;
    json_object *folder = NULL, *old = NULL, *blocks = NULL, *m = NULL;
    char fid[33], ftype[8], cid[33], ctype[8];
    int64_t fv, ov = 0;
    if ((code = client_resolve(c, ws, parts, n, fid, ftype, &folder, &fv)) != CLIENT_EXIT_OK) {
        if (code == CLIENT_EXIT_NOT_FOUND)
            client_fail(c, code, "no such folder");
        goto done;
    }
    bool exists = client_child(folder, name, cid, ctype);
    if (exists && strcmp(ctype, "file")) {
        code = client_fail(c, CLIENT_EXIT_USAGE, "%s is a folder", name);
        goto done;
    }
    if (exists && (code = client_manifest_read(c, ws, cid, 0, &old, &ov)) != CLIENT_EXIT_OK)
        goto done;
    bool same;
    if ((code = upload(c, ws, fd, name, (uint64_t)st.st_size, old, &blocks, &same, s)))
        goto done;
    if (same) {
        s->files_same++;
        goto done;
    }
    m = file_manifest(blocks, (uint64_t)st.st_size);
    bool conflict = false;
    if (exists) {
        code = client_manifest_write(c, ws, cid, ov + 1, m, &conflict);
        if (code != CLIENT_EXIT_OK)
            goto done;
        if (!conflict) {
            s->files_sent++;
            goto done;
        }
    }
    /* a new file (or our side of a conflict): its own vlob, then its name */
    char nid[33];
    client_random_id(nid);
    if ((code = client_manifest_write(c, ws, nid, 1, m, &conflict)) != CLIENT_EXIT_OK)
        goto done;
    char *cname = exists ? conflict_name(c, name) : xstrdup(name);
    client_child_arg a = {cname, nid, "file"};
    code = client_update_folder(c, ws, parts, n, client_add_child, &a);
    if (code == CLIENT_EXIT_EXISTS && !exists) {
        /* created elsewhere meanwhile: keep both */
        free(cname);
        cname = conflict_name(c, name);
        a.name = cname;
        code = client_update_folder(c, ws, parts, n, client_add_child, &a);
        exists = true;
    }
    if (code == CLIENT_EXIT_OK && exists)
        fprintf(stderr, "parsec core %s: %s changed remotely meanwhile: yours is kept as %s\n",
                c->name, name, cname);
    free(cname);
    if (code == CLIENT_EXIT_OK)
        s->files_sent++;
done:
    close(fd);
    json_object_put(folder);
    json_object_put(old);
    json_object_put(blocks);
    json_object_put(m);
    return code;
}

/* WS:PATH as a destination: the folder's parts and the name (a trailing
 * '/' or an existing folder: local's base name inside it). */
static int destination(client_ctx *c, const client_ws *ws, const char *arg, char ***parts,
                       size_t *n, const char *local, char **name)
{
    const char *colon = strchr(arg, ':');
    bool into = !colon || colon[1] == '\0' || arg[strlen(arg) - 1] == '/';
    if (!into && *n > 0) {
        char id[33], type[8];
        json_object *m;
        int64_t v;
        int code = client_resolve(c, ws, *parts, *n, id, type, &m, &v);
        json_object_put(m);
        if (code == CLIENT_EXIT_OK && !strcmp(type, "folder"))
            into = true;
        else if (code != CLIENT_EXIT_OK && code != CLIENT_EXIT_NOT_FOUND)
            return code;
    }
    if (into || *n == 0) {
        const char *base = strrchr(local, '/');
        base = base ? base + 1 : local;
        if (!client_valid_name(base))
            return client_fail(c, CLIENT_EXIT_USAGE, "`%s` cannot be a name", base);
        *name = xstrdup(base);
    } else {
        *name = (*parts)[--*n];
    }
    return CLIENT_EXIT_OK;
}

int client_put(client_ctx *c)
{
    int code = client_open(c);
    char *wsname = NULL, **parts = NULL, *name = NULL;
    size_t n = 0;
    if (code != CLIENT_EXIT_OK || (code = client_split(c, c->argv[1], &wsname, &parts, &n)))
        return code;
    client_ws ws;
    xfer_stats s = {0};
    if ((code = client_ws_find(c, wsname, &ws)) == CLIENT_EXIT_OK &&
        (code = destination(c, &ws, c->argv[1], &parts, &n, c->argv[0], &name)) == CLIENT_EXIT_OK)
        code = put_file(c, &ws, c->argv[0], parts, n, name, &s);
    if (code == CLIENT_EXIT_OK && !c->quiet)
        printf("%s: %" PRIu64 " blocks sent (%" PRIu64 " bytes)%s\n", name, s.blocks_sent,
               s.bytes_sent, s.files_same ? ", unchanged" : "");
    free(name);
    client_free_parts(parts, n);
    free(wsname);
    return code;
}

/* ---- download ---- */

typedef struct {
    const client_ctx *c;
    int fd;
    const char *tmp;
    progress *pr;
    uint64_t done;
} sink_arg;

/* A checked block, in file order, appended to the temporary file. */
static int to_file(const uint8_t *data, size_t len, void *arg)
{
    sink_arg *a = arg;
    for (size_t w = 0; w < len;) {
        ssize_t r = write(a->fd, data + w, len - w);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return client_fail(a->c, CLIENT_EXIT_USAGE, "cannot write %s: %s", a->tmp,
                               strerror(errno));
        w += (size_t)r;
    }
    a->done += len;
    a->pr->done = a->done;
    progress_show(a->pr, false);
    return CLIENT_EXIT_OK;
}

int client_get(client_ctx *c)
{
    int code = client_open(c);
    char *wsname = NULL, **parts = NULL, *tmp = NULL, *target = NULL;
    size_t n = 0;
    if (code != CLIENT_EXIT_OK || (code = client_split(c, c->argv[0], &wsname, &parts, &n)))
        return code;
    client_ws ws;
    json_object *m = NULL;
    client_blocks *xb = NULL;
    int fd = -1;
    char id[33], type[8];
    int64_t v;
    if (n == 0) {
        code = client_fail(c, CLIENT_EXIT_USAGE, "get needs WORKSPACE:PATH");
        goto done;
    }
    if ((code = client_ws_find(c, wsname, &ws)) != CLIENT_EXIT_OK)
        goto done;
    code = client_resolve(c, &ws, parts, n, id, type, &m, &v);
    if (code == CLIENT_EXIT_NOT_FOUND)
        client_fail(c, code, "no such file %s", c->argv[0]);
    if (code != CLIENT_EXIT_OK)
        goto done;
    if (strcmp(type, "file")) {
        code = client_fail(c, CLIENT_EXIT_USAGE, "%s is a folder", c->argv[0]);
        goto done;
    }
    struct stat st;
    const char *local = c->argv[1];
    target = stat(local, &st) == 0 && S_ISDIR(st.st_mode) ? xasprintf("%s/%s", local, parts[n - 1])
                                                          : xstrdup(local);
    /* written beside the target, renamed when complete: never half a file */
    tmp = xasprintf("%s.parsec-part", target);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        code = client_fail(c, CLIENT_EXIT_USAGE, "cannot write %s: %s", tmp, strerror(errno));
        goto done;
    }
    json_object *blocks = NULL;
    json_object_object_get_ex(m, "blocks", &blocks);
    int64_t size = client_file_size(m);
    size_t nb = blocks && json_object_is_type(blocks, json_type_array)
                    ? json_object_array_length(blocks)
                    : 0;
    if (size < 0 || nb > MAX_BLOCKS) {
        code = client_fail(c, CLIENT_EXIT_VERIFY, "a malformed file manifest");
        goto done;
    }
    progress pr;
    progress_init(&pr, c, parts[n - 1], (uint64_t)size);
    sink_arg sa = {c, fd, tmp, &pr, 0};
    if ((xb = client_blocks_of(c)) == NULL) {
        code = CLIENT_EXIT_SERVER;
        goto done;
    }
    if ((code = client_blocks_get(xb, blocks, size, to_file, &sa)) != CLIENT_EXIT_OK)
        goto done;
    progress_show(&pr, true);
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        code = client_fail(c, CLIENT_EXIT_USAGE, "cannot write %s", tmp);
        goto done;
    }
    fd = -1;
    if (rename(tmp, target) != 0) {
        code = client_fail(c, CLIENT_EXIT_USAGE, "cannot write %s: %s", target, strerror(errno));
        goto done;
    }
    free(tmp);
    tmp = NULL;
done:
    if (fd >= 0)
        close(fd);
    if (tmp)
        unlink(tmp);
    free(tmp);
    free(target);
    json_object_put(m);
    client_free_parts(parts, n);
    free(wsname);
    return code;
}

/* ---- rsync ---- */

/* Makes folder parts[0..n) exist (each missing level created). */
static int ensure_folder(client_ctx *c, const client_ws *ws, char **parts, size_t n)
{
    for (size_t i = 1; i <= n; i++) {
        char id[33], type[8];
        json_object *m;
        int64_t v;
        int code = client_resolve(c, ws, parts, i, id, type, &m, &v);
        json_object_put(m);
        if (code == CLIENT_EXIT_OK) {
            if (strcmp(type, "folder"))
                return client_fail(c, CLIENT_EXIT_USAGE, "%s is a file", parts[i - 1]);
            continue;
        }
        if (code != CLIENT_EXIT_NOT_FOUND)
            return code;
        char nid[33];
        if ((code = client_new_folder(c, ws, nid)) != CLIENT_EXIT_OK)
            return code;
        client_child_arg a = {parts[i - 1], nid, "folder"};
        code = client_update_folder(c, ws, parts, i - 1, client_add_child, &a);
        if (code != CLIENT_EXIT_OK && code != CLIENT_EXIT_EXISTS)
            return code;
    }
    return CLIENT_EXIT_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One local directory into parts[0..n), recursively (depth bounded by
 * client_split's rule through the parts array). */
static int rsync_dir(client_ctx *c, const client_ws *ws, const char *dir, char ***parts, size_t *n,
                     xfer_stats *s)
{
    if (*n >= 64)
        return client_fail(c, CLIENT_EXIT_USAGE, "%s: too deep", dir);
    int code = ensure_folder(c, ws, *parts, *n);
    if (code != CLIENT_EXIT_OK)
        return code;
    DIR *d = opendir(dir);
    if (d == NULL)
        return client_fail(c, CLIENT_EXIT_USAGE, "cannot read %s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t nn = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        names = xrealloc(names, (nn + 1) * sizeof *names);
        names[nn++] = xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, nn, sizeof *names, cmp_str);
    for (size_t i = 0; i < nn && code == CLIENT_EXIT_OK; i++) {
        char *path = xasprintf("%s/%s", dir, names[i]);
        struct stat st;
        if (lstat(path, &st) != 0 || !client_valid_name(names[i]) ||
            (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
            fprintf(stderr, "parsec core rsync: skipped %s (not a file or folder)\n", path);
        } else if (S_ISDIR(st.st_mode)) {
            *parts = xrealloc(*parts, (*n + 1) * sizeof **parts);
            (*parts)[(*n)++] = names[i];
            code = rsync_dir(c, ws, path, parts, n, s);
            (*n)--;
        } else {
            code = put_file(c, ws, path, *parts, *n, names[i], s);
        }
        free(path);
    }
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    return code;
}

int client_rsync(client_ctx *c)
{
    int code = client_open(c);
    char *wsname = NULL, **parts = NULL;
    size_t n = 0;
    if (code != CLIENT_EXIT_OK || (code = client_split(c, c->argv[1], &wsname, &parts, &n)))
        return code;
    client_ws ws;
    xfer_stats s = {0};
    struct stat st;
    if (stat(c->argv[0], &st) != 0 || !S_ISDIR(st.st_mode))
        code = client_fail(c, CLIENT_EXIT_USAGE, "%s is not a directory", c->argv[0]);
    else if ((code = client_ws_find(c, wsname, &ws)) == CLIENT_EXIT_OK)
        code = rsync_dir(c, &ws, c->argv[0], &parts, &n, &s);
    if (code == CLIENT_EXIT_OK && !c->quiet)
        printf("%" PRIu64 " files sent, %" PRIu64 " unchanged, %" PRIu64 " blocks (%" PRIu64
               " bytes) uploaded\n",
               s.files_sent, s.files_same, s.blocks_sent, s.bytes_sent);
    client_free_parts(parts, n);
    free(wsname);
    return code;
}
