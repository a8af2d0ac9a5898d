/*
 * cli/client/client_internal.h - what the client's command files share
 *
 * client.c parses the options, finds and opens the device, and reports;
 * each client_<family>.c holds the commands of one family.
 */
#ifndef PARSEC_CLIENT_INTERNAL_H
#define PARSEC_CLIENT_INTERNAL_H

#include "ccertif.h"
#include "cdevice.h"
#include "client.h"
#include "crpc.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#define CLIENT_MAX_PASSWORD 1024

typedef struct {
    const char *name; /* the subcommand, for messages */
    /* options */
    const char *device_sel;
    const char *cacert;
    bool password_stdin;
    const char *email, *label, *device_label, *profile;
    bool quiet;
    bool send_email;
    long count; /* watch --count */
    /* positional arguments */
    int argc;
    char **argv;
    /* device verify keys already walked back to the root (client_ws.c) */
    size_t known;
    char (*known_dev)[66];
    uint8_t (*known_key)[32];
    /* set by client_open */
    cdevice_t dev;
    bool have_dev;
    crpc_t *rpc;
    /* the window of block transfers (client_blocks_of), kept for the
     * command: its connections serve every file of an rsync */
    struct client_blocks *blocks;
} client_ctx;

/* client_fail - "parsec core NAME: message" on stderr; returns code. */
int client_fail(const client_ctx *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* client_password - the passphrase: first line of stdin with
 * --password-stdin, else asked on the terminal without echo (twice when
 * confirm).  false after reporting. */
bool client_password(const client_ctx *c, const char *prompt, bool confirm,
                     char buf[CLIENT_MAX_PASSWORD + 1], size_t *len);

/* client_open - find the device (--device or the only one), ask its
 * passphrase, load it and connect: c->dev and c->rpc.  Exit status. */
int client_open(client_ctx *c);

/* client_call - one request (req consumed); CLIENT_EXIT_OK with *rep (the
 * caller puts) whatever the status, or the exit status after reporting a
 * network or HTTP failure. */
int client_call(client_ctx *c, crpc_route route, json_object *req, json_object **rep);

/* client_call_failed - reports, as client_call does, a request on route
 * that got no usable reply (http: its HTTP status, 0 without an answer;
 * err: what happened); the exit status. */
int client_call_failed(const client_ctx *c, crpc_route route, long http, const char *err);

/* client_unexpected - reports a status the command does not handle. */
int client_unexpected(const client_ctx *c, json_object *rep);

/* client_get_user - user_get of uid, verified back to root into *u.  Exit
 * status. */
int client_get_user(client_ctx *c, const uint8_t *root, const char *uid, ccertif_user_info *u);

/* client_line - one line the person types: from stdin with
 * --password-stdin (after the passphrase), else from the terminal. */
bool client_line(const client_ctx *c, char *buf, size_t cap, size_t *len);

/* client_find_user - a user id from an email or a user id (human_find,
 * then user_get), verified back to the root key into *u.  Exit status. */
int client_find_user(client_ctx *c, const char *who, ccertif_user_info *u);

/* JSON helpers: a new request object, bytes as base64. */
json_object *client_req(const char *cmd);
void client_add_bytes(json_object *o, const char *k, const void *data, size_t len);
/* client_get_bytes - a base64 field decoded (malloc'd) or NULL. */
uint8_t *client_get_bytes(json_object *o, const char *k, size_t *len);
const char *client_get_str(json_object *o, const char *k);

/* client_device_key - the verify key of device_id, its user walked back to
 * the root key once per run; exit status. */
int client_device_key(client_ctx *c, const char *device_id, uint8_t key[32]);

/* ---- workspaces (client_ws.c) ---- */

typedef struct {
    char id[33]; /* realm id, also its root folder's vlob id */
    char name[256];
    uint8_t key[32]; /* the key of its current encryption revision */
    int64_t rev;
    char role[16]; /* as this user was granted it */
} client_ws;

/* client_ws_list - every workspace this user can read (*v malloc'd).
 * Exit status. */
int client_ws_list(client_ctx *c, client_ws **v, size_t *n);
/* client_ws_find - the workspace named (or of that id) this user can read.
 * Exit status. */
int client_ws_find(client_ctx *c, const char *name, client_ws *out);

/*
 * client_manifest_read - the manifest in vlob_id (version 0: the latest)
 * opened with ws's key and verified: its signature by the device the server
 * names as author, that device walked back to the root key, and its "id",
 * "version" and "author" equal to what was asked and answered.  *m (caller
 * puts) and *version.  CLIENT_EXIT_NOT_FOUND when there is no such vlob
 * (quietly: callers decide), CLIENT_EXIT_VERIFY on any mismatch.
 */
int client_manifest_read(client_ctx *c, const client_ws *ws, const char *vlob_id, int64_t want,
                         json_object **m, int64_t *version);
/*
 * client_manifest_write - m (borrowed; its "author", "timestamp", "id" and
 * "version" are set here) signed, sealed with ws's key, written as version
 * (1: vlob_create).  *conflict set on bad_version / already_exists (the
 * caller re-reads and merges); exit status otherwise.
 */
int client_manifest_write(client_ctx *c, const client_ws *ws, const char *vlob_id, int64_t version,
                          json_object *m, bool *conflict);
/* client_random_id - 32 lowercase hex characters of a random UUID. */
void client_random_id(char out[33]);
/* client_hex32 - s is 32 lowercase hex characters (an id as we write it). */
bool client_hex32(const char *s);

/* ---- blocks (client_blocks.c) ---- */

/* A file's blocks: 512 KiB each, the last one shorter. */
#define CLIENT_BLOCK_SIZE (512 * 1024)
/* Block requests in flight at once (each on a connection of its own): the
 * server reads or stores the next blocks while this one is checked or
 * sealed.  Memory: about 1.3 MiB per request, whatever the file's size. */
#define CLIENT_BLOCK_WINDOW 4

/* A window of block transfers for one command (not thread-safe). */
typedef struct client_blocks client_blocks;
/* client_blocks_of - c's window, made on first use (c->blocks, freed with
 * c); NULL after reporting when libcurl cannot start. */
client_blocks *client_blocks_of(client_ctx *c);
/* client_blocks_free - abandons whatever is still in flight; NULL: no-op. */
void client_blocks_free(client_blocks *b);
/*
 * client_blocks_put - data[len] (1 to CLIENT_BLOCK_SIZE bytes) sealed under
 * a new random key and sent as a new block of ws (borrowed until flushed);
 * its "id" and "key" added to entry.  When the window is full the oldest
 * request is waited for first: an exit status other than OK may be that
 * earlier block's.  Every block put is only known stored after
 * client_blocks_flush.
 */
int client_blocks_put(client_blocks *b, const client_ws *ws, const uint8_t *data, size_t len,
                      json_object *entry);
/* client_blocks_flush - waits for every block put; the first failure's
 * exit status.  After a failure of put, flush or get, requests may still
 * be in flight: the window is then only fit for client_blocks_free. */
int client_blocks_flush(client_blocks *b);
/*
 * client_blocks_get - every block of a file manifest's "blocks" list (at
 * most the caller's bound), in order: the list checked to tile size bytes
 * (offsets contiguous, sizes 1 to CLIENT_BLOCK_SIZE), each block read,
 * opened with its key and its SHA-256 compared with its digest (else exit
 * 6), then handed to sink (its exit status ends the transfer), in file
 * order.  Exit status.
 */
int client_blocks_get(client_blocks *b, json_object *blocks, int64_t size,
                      int (*sink)(const uint8_t *data, size_t len, void *arg), void *arg);

/* ---- paths (client_fs.c) ---- */

bool client_valid_name(const char *s);
/* client_split - "WS:/a/b" into the workspace name and the path's parts
 * (malloc'd; client_free_parts).  Exit status. */
int client_split(client_ctx *c, const char *arg, char **ws, char ***parts, size_t *n);
void client_free_parts(char **parts, size_t n);
/* client_child - the entry `name` of folder manifest m. */
bool client_child(json_object *m, const char *name, char id[33], char type[8]);
/* client_resolve - the manifest at parts[0..n) (n 0: the root): its id,
 * type ("folder"/"file"), manifest (*m, caller puts) and version.
 * CLIENT_EXIT_NOT_FOUND quietly when a part does not exist. */
int client_resolve(client_ctx *c, const client_ws *ws, char **parts, size_t n, char id[33],
                   char type[8], json_object **m, int64_t *version);
/* client_update_folder - change (applied to the folder's children) then
 * write, re-reading and re-applying on a concurrent write. */
int client_update_folder(client_ctx *c, const client_ws *ws, char **parts, size_t n,
                         int (*change)(client_ctx *, json_object *children, void *), void *arg);
typedef struct {
    const char *name, *id, *type; /* type: "folder" or "file" */
} client_child_arg;
/* client_add_child - a change adding the client_child_arg arg;
 * CLIENT_EXIT_EXISTS when the name is taken. */
int client_add_child(client_ctx *c, json_object *children, void *arg);
/* client_new_folder - an empty folder manifest in a new vlob (*id). */
int client_new_folder(client_ctx *c, const client_ws *ws, char id[33]);
/* client_file_size - a file manifest's size, -1 if none. */
int64_t client_file_size(json_object *fm);

/* the commands */
int client_bootstrap(client_ctx *c);
int client_list_devices(client_ctx *c);
int client_list_users(client_ctx *c);
int client_revoke_user(client_ctx *c);
int client_invite_user(client_ctx *c);
int client_invite_device(client_ctx *c);
int client_greet(client_ctx *c);
int client_claim(client_ctx *c);
int client_create_workspace(client_ctx *c);
int client_watch(client_ctx *c);
int client_put(client_ctx *c);
int client_get(client_ctx *c);
int client_rsync(client_ctx *c);
int client_share_workspace(client_ctx *c);
int client_list_workspaces(client_ctx *c);
int client_ls(client_ctx *c);
int client_mkdir(client_ctx *c);
int client_rm(client_ctx *c);
/* client_reencrypt_for - after user_id's revocation: every workspace this
 * user owns and user_id could read gets a new key (reencryption
 * maintenance).  Exit status. */
int client_reencrypt_for(client_ctx *c, const char *user_id);

#endif
