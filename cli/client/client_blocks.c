/*
 * cli/client/client_blocks.c - a file's blocks in flight: a window of
 * block_create / block_read requests (crpc_pipe), handled in file order
 *
 * get: the first CLIENT_BLOCK_WINDOW block_reads are sent at once; block i
 * is then waited for, decoded, opened, checked and handed to the sink
 * while the next ones are on their way, and its slot sends block i +
 * WINDOW.  Blocks are handled strictly in the manifest's order, whatever
 * order the answers come in, and the first failure ends the transfer (what
 * is in flight is abandoned).  put: each block is sealed and sent in the
 * next slot, whose previous request is waited for first; the manifest entry
 * (id, key) is known before the server answers, so only its success is
 * waited for, by client_blocks_flush before the manifest is written.
 *
 * How a block travels (JSON with base64 today) is kept in the four
 * functions of the "transport" section, so a binary route can replace it.
 */
#include "client_internal.h"

#include "crypto.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

/* A block's box, and its request or reply in base64 and JSON, with room. */
#define BOX_MAX   (CLIENT_BLOCK_SIZE + CCRYPTO_SECRETBOX_EXTRA)
#define REPLY_MAX (2u * 1024 * 1024)

typedef struct {
    bool busy;
    /* get: what the manifest says of the block in flight */
    char id[33];
    uint8_t key[32], digest[32];
    size_t size;
    /* put: the workspace, for messages */
    const client_ws *ws;
} slot_t;

struct client_blocks {
    client_ctx *c;
    crpc_pipe_t *pipe;
    unsigned next; /* put: the slot of the next block */
    uint8_t *box;  /* one block's box, then (get) its plaintext in plain */
    uint8_t *plain;
    slot_t slot[CLIENT_BLOCK_WINDOW];
};

client_blocks *client_blocks_of(client_ctx *c)
{
    if (c->blocks)
        return c->blocks;
    crpc_pipe_t *p = crpc_pipe_new(c->rpc, CLIENT_BLOCK_WINDOW, REPLY_MAX);
    if (p == NULL) {
        client_fail(c, CLIENT_EXIT_SERVER, "libcurl failed to start");
        return NULL;
    }
    client_blocks *b = xcalloc(1, sizeof *b);
    b->c = c;
    b->pipe = p;
    b->box = xmalloc(BOX_MAX);
    b->plain = xmalloc(CLIENT_BLOCK_SIZE);
    c->blocks = b;
    return b;
}

void client_blocks_free(client_blocks *b)
{
    if (b == NULL)
        return;
    crpc_pipe_free(b->pipe);
    for (unsigned i = 0; i < CLIENT_BLOCK_WINDOW; i++)
        ccrypto_wipe(b->slot[i].key, sizeof b->slot[i].key);
    free(b->box);
    ccrypto_wipe(b->plain, CLIENT_BLOCK_SIZE);
    free(b->plain);
    free(b);
}

/* ---- transport: JSON and base64 (docs/protocol.md, blocks) ---- */

/* body = head || base64(data) || tail (malloc'd; *len). */
static char *json_body(const char *head, const uint8_t *data, size_t n, const char *tail,
                       size_t *len)
{
    char *b64 = data ? crypto_b64_encode(data, n) : xstrdup("");
    size_t hl = strlen(head), bl = strlen(b64), tl = strlen(tail);
    char *body = xmalloc(hl + bl + tl + 1);
    memcpy(body, head, hl);
    memcpy(body + hl, b64, bl);
    memcpy(body + hl + bl, tail, tl + 1);
    free(b64);
    *len = hl + bl + tl;
    return body;
}

/* A request that got no usable reply, reported; err freed. */
static int no_reply(client_ctx *c, long http, char *err)
{
    int code = client_call_failed(c, CRPC_AUTHENTICATED, http, err);
    free(err);
    return code;
}

/* read_send - block_read of id (32 hex characters) on slot. */
static void read_send(client_blocks *b, unsigned slot, const char *id)
{
    size_t len;
    char *head = xasprintf("{\"cmd\":\"block_read\",\"block_id\":\"%s\"}", id);
    char *body = json_body(head, NULL, 0, "", &len);
    free(head);
    crpc_pipe_send(b->pipe, slot, CRPC_AUTHENTICATED, "application/json", body, len);
}

/*
 * read_recv - the answer of slot's block_read: the box into b->box (*n).
 * Exit status after reporting: a missing block is exit 6, as an altered
 * one.  The server's own answer, `{"status":"ok","block":"<base64>"}`, is
 * read without a JSON parser (base64 needs no escape, so that text is the
 * object itself, and json-c would cost as much as the decryption); any
 * other answer through json-c.
 */
static int read_recv(client_blocks *b, unsigned slot, const char *id, size_t *n)
{
    static const char head[] = "{\"status\":\"ok\",\"block\":\"";
    const size_t hl = sizeof head - 1;
    client_ctx *c = b->c;
    long http;
    const char *body;
    size_t len;
    char *err;
    if (!crpc_pipe_wait(b->pipe, slot, &http, &body, &len, &err))
        return no_reply(c, http, err);
    if (http == 200 && len >= hl + 2 && !memcmp(body, head, hl) &&
        !memcmp(body + len - 2, "\"}", 2) &&
        crypto_b64_decode_into(body + hl, len - hl - 2, b->box, BOX_MAX, n))
        return CLIENT_EXIT_OK;
    json_object *rep = crpc_reply(http, body, len, &err);
    if (rep == NULL)
        return no_reply(c, http, err);
    int code = CLIENT_EXIT_OK;
    const char *st = crpc_status(rep);
    const char *b64 = client_get_str(rep, "block");
    if (!strcmp(st, "not_found"))
        code = client_fail(c, CLIENT_EXIT_VERIFY, "block %s is missing", id);
    else if (strcmp(st, "ok"))
        code = client_unexpected(c, rep);
    else if (!b64 || !crypto_b64_decode_into(b64, strlen(b64), b->box, BOX_MAX, n))
        code = client_fail(c, CLIENT_EXIT_VERIFY, "block %s was altered", id);
    json_object_put(rep);
    return code;
}

/* create_send - block_create of box[n] as block id of realm (both 32 hex
 * characters) on slot. */
static void create_send(client_blocks *b, unsigned slot, const char *realm, const char *id,
                        const uint8_t *box, size_t n)
{
    size_t len;
    char *head = xasprintf("{\"cmd\":\"block_create\",\"block_id\":\"%s\",\"realm_id\":\"%s\","
                           "\"block\":\"",
                           id, realm);
    char *body = json_body(head, box, n, "\"}", &len);
    free(head);
    crpc_pipe_send(b->pipe, slot, CRPC_AUTHENTICATED, "application/json", body, len);
}

/* create_recv - the answer of slot's block_create; exit status. */
static int create_recv(client_blocks *b, unsigned slot, const client_ws *ws)
{
    client_ctx *c = b->c;
    long http;
    const char *body;
    size_t len;
    char *err;
    json_object *rep = NULL;
    if (crpc_pipe_wait(b->pipe, slot, &http, &body, &len, &err))
        rep = crpc_reply(http, body, len, &err);
    if (rep == NULL)
        return no_reply(c, http, err);
    int code = CLIENT_EXIT_OK;
    const char *st = crpc_status(rep);
    if (!strcmp(st, "not_allowed"))
        code = client_fail(c, CLIENT_EXIT_NOT_ALLOWED, "no write access to %s", ws->name);
    else if (!strcmp(st, "timeout"))
        code = client_fail(c, CLIENT_EXIT_SERVER, "the server's blockstore failed: try again");
    else if (strcmp(st, "ok"))
        code = client_unexpected(c, rep);
    json_object_put(rep);
    return code;
}

/* ---- put ---- */

int client_blocks_put(client_blocks *b, const client_ws *ws, const uint8_t *data, size_t len,
                      json_object *entry)
{
    unsigned i = b->next;
    slot_t *s = &b->slot[i];
    if (s->busy) {
        s->busy = false;
        int code = create_recv(b, i, s->ws);
        if (code != CLIENT_EXIT_OK)
            return code;
    }
    if (!client_hex32(ws->id))
        return client_fail(b->c, CLIENT_EXIT_VERIFY, "a malformed workspace id");
    uint8_t key[32];
    char id[33];
    ccrypto_random(key, sizeof key);
    client_random_id(id);
    ccrypto_secretbox_seal_into(key, data, len, b->box);
    create_send(b, i, ws->id, id, b->box, len + CCRYPTO_SECRETBOX_EXTRA);
    s->busy = true;
    s->ws = ws;
    b->next = (i + 1) % CLIENT_BLOCK_WINDOW;
    json_object_object_add(entry, "id", json_object_new_string(id));
    client_add_bytes(entry, "key", key, sizeof key);
    ccrypto_wipe(key, sizeof key);
    return CLIENT_EXIT_OK;
}

int client_blocks_flush(client_blocks *b)
{
    /* oldest first: the failure reported is the first block's that failed */
    for (unsigned k = 0; k < CLIENT_BLOCK_WINDOW; k++) {
        unsigned i = (b->next + k) % CLIENT_BLOCK_WINDOW;
        if (!b->slot[i].busy)
            continue;
        b->slot[i].busy = false;
        int code = create_recv(b, i, b->slot[i].ws);
        if (code != CLIENT_EXIT_OK)
            return code;
    }
    return CLIENT_EXIT_OK;
}

/* ---- get ---- */

/* Copies a 32-byte base64 field of e into out. */
static bool get_key32(json_object *e, const char *k, uint8_t out[32])
{
    const char *s = client_get_str(e, k);
    size_t n;
    return s && crypto_b64_decode_into(s, strlen(s), out, 32, &n) && n == 32;
}

/*
 * get_send - entry i of blocks checked (it starts at *off, its size fits
 * in the file's size) and its block_read sent in slot i % WINDOW; *off
 * moves past it.  Exit status.
 */
static int get_send(client_blocks *b, json_object *blocks, size_t i, int64_t *off, int64_t size)
{
    json_object *e = json_object_array_get_idx(blocks, i);
    slot_t *s = &b->slot[i % CLIENT_BLOCK_WINDOW];
    int64_t bo = json_object_get_int64(json_object_object_get(e, "offset"));
    int64_t bs = json_object_get_int64(json_object_object_get(e, "size"));
    const char *id = client_get_str(e, "id");
    /* blocks tile the file in order: no gap, no overlap, none too big */
    if (bo != *off || bs < 1 || bs > CLIENT_BLOCK_SIZE || *off + bs > size)
        return client_fail(b->c, CLIENT_EXIT_VERIFY, "a malformed file manifest");
    if (!client_hex32(id) || !get_key32(e, "key", s->key) || !get_key32(e, "digest", s->digest))
        return client_fail(b->c, CLIENT_EXIT_VERIFY, "a malformed block entry");
    memcpy(s->id, id, 33);
    s->size = (size_t)bs;
    *off += bs;
    read_send(b, i % CLIENT_BLOCK_WINDOW, s->id);
    s->busy = true;
    return CLIENT_EXIT_OK;
}

/* get_recv - slot's block read, opened into b->plain and checked. */
static int get_recv(client_blocks *b, unsigned i)
{
    slot_t *s = &b->slot[i];
    s->busy = false;
    size_t n;
    int code = read_recv(b, i, s->id, &n);
    if (code != CLIENT_EXIT_OK)
        return code;
    bool ok = n == s->size + CCRYPTO_SECRETBOX_EXTRA &&
              ccrypto_secretbox_open_into(s->key, b->box, n, b->plain);
    if (ok) {
        uint8_t digest[32];
        crypto_sha256(b->plain, s->size, digest);
        ok = crypto_equal(digest, s->digest, 32);
    }
    ccrypto_wipe(s->key, sizeof s->key);
    if (!ok)
        return client_fail(b->c, CLIENT_EXIT_VERIFY, "block %s was altered", s->id);
    return CLIENT_EXIT_OK;
}

int client_blocks_get(client_blocks *b, json_object *blocks, int64_t size,
                      int (*sink)(const uint8_t *data, size_t len, void *arg), void *arg)
{
    size_t nb = blocks && json_object_is_type(blocks, json_type_array)
                    ? json_object_array_length(blocks)
                    : 0;
    int64_t off = 0; /* where the next entry sent must start */
    size_t sent = 0;
    int code = CLIENT_EXIT_OK;
    for (; sent < nb && sent < CLIENT_BLOCK_WINDOW && code == CLIENT_EXIT_OK; sent++)
        code = get_send(b, blocks, sent, &off, size);
    for (size_t i = 0; i < nb && code == CLIENT_EXIT_OK; i++) {
        unsigned slot = (unsigned)(i % CLIENT_BLOCK_WINDOW);
        if ((code = get_recv(b, slot)) != CLIENT_EXIT_OK)
            break;
        if ((code = sink(b->plain, b->slot[slot].size, arg)) != CLIENT_EXIT_OK)
            break;
        if (sent < nb)
            code = get_send(b, blocks, sent++, &off, size);
    }
    if (code == CLIENT_EXIT_OK && off != size)
        code = client_fail(b->c, CLIENT_EXIT_VERIFY, "a malformed file manifest");
    return code;
}
