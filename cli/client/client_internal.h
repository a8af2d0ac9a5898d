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
    /* positional arguments */
    int argc;
    char **argv;
    /* set by client_open */
    cdevice_t dev;
    bool have_dev;
    crpc_t *rpc;
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

/* the commands */
int client_bootstrap(client_ctx *c);
int client_list_devices(client_ctx *c);
int client_list_users(client_ctx *c);
int client_revoke_user(client_ctx *c);
int client_invite_user(client_ctx *c);
int client_invite_device(client_ctx *c);
int client_greet(client_ctx *c);
int client_claim(client_ctx *c);

#endif
