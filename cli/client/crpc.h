/*
 * cli/client/crpc.h - the client's side of docs/protocol.md: addresses and
 * one JSON request per command
 *
 * Addresses are Parsec's: parsec://host[:port][/MOUNT][/ORG][?no_ssl=true]
 * [&action=...&token=...] (what `parsec core create_organization` and
 * `invite_user` print).  Requests go to http(s)://host:port/MOUNT/<route>/ORG
 * through one libcurl handle (a kept-alive connection for a whole command),
 * with the route's credentials: nothing, the Invitation-Token, or an
 * Authorization token minted from the device's signing key (section 4.1),
 * a fresh one each second.  Redirects are not followed.
 *
 * Bulk transfers (blocks) go through a pipe (crpc_pipe.c): a few requests
 * in flight on connections of their own, their bodies handed over as bytes.
 *
 * Ownership: crpc_addr fields and the crpc_t are the caller's to free
 * (crpc_addr_free, crpc_free); a reply is a json-c object the caller puts.
 * Not thread-safe: one crpc_t per thread.
 */
#ifndef PARSEC_CRPC_H
#define PARSEC_CRPC_H

#include "cdevice.h"

#include <json-c/json.h>
#include <stdbool.h>

typedef struct {
    char *server; /* canonical: parsec://host[:port][/mount][?no_ssl=true] */
    char *base;   /* http(s)://host:port[/mount] */
    char *org;    /* NULL when the address names none */
    char *action; /* NULL or e.g. "bootstrap_organization", "claim_user" */
    char *token;  /* the action's token, or NULL */
    char *host;   /* as in a URL ("[::1]" for IPv6) */
    char *mount;  /* "" or "/parsec" */
    long port;
    bool ssl;
} crpc_addr;

/* crpc_addr_parse - NULL on success, else why (static). */
const char *crpc_addr_parse(const char *url, crpc_addr *out) __attribute__((warn_unused_result));
void crpc_addr_free(crpc_addr *a);
/* crpc_addr_url - server + "/ORG?" + [no_ssl=true&] "action=A&token=T"
 * (malloc'd). */
char *crpc_addr_url(const char *server, const char *org, const char *action, const char *token);

typedef enum { CRPC_ANONYMOUS, CRPC_INVITED, CRPC_AUTHENTICATED } crpc_route;

typedef struct crpc crpc_t;

/* crpc_new - a client of server (canonical or any parsec:// address) for
 * org; NULL with *why when the address is bad.  cacert: a CA file to trust
 * instead of the system's, or NULL. */
crpc_t *crpc_new(const char *server, const char *org, const char *cacert, const char **why);
void crpc_free(crpc_t *c);
/* What the authenticated route signs with (borrowed: must outlive c). */
void crpc_set_device(crpc_t *c, const cdevice_t *d);
/* The invited route's token (copied). */
void crpc_set_invitation(crpc_t *c, const char *token);

/*
 * crpc_call - POST req (consumed) to the route; the reply object (caller
 * puts) when the server answered 200 with a JSON object carrying a string
 * "status", else NULL with *err (malloc'd, caller frees) saying what
 * happened: network failure, HTTP status and error code.  *http gets the
 * HTTP status (0 without an answer), for callers that map 401/410.
 */
json_object *crpc_call(crpc_t *c, crpc_route route, json_object *req, long *http, char **err);

/*
 * crpc_reply - the reply object (caller puts) of an answer: HTTP status
 * http, body[len]; as crpc_call, NULL with *err (malloc'd) unless HTTP 200
 * and a JSON object carrying a string "status".
 */
json_object *crpc_reply(long http, const char *body, size_t len, char **err);

/*
 * A pipe: up to width requests in flight at once, in slots 0..width-1,
 * each on a kept-alive connection of its own (libcurl multi), so the server
 * works on the next requests while the caller works on an answer.  Replies
 * of at most max_reply bytes.  Ownership: the caller frees the pipe
 * (crpc_pipe_free abandons what is in flight) before c.  NULL when libcurl
 * cannot start.
 */
typedef struct crpc_pipe crpc_pipe_t;
crpc_pipe_t *crpc_pipe_new(crpc_t *c, unsigned width, size_t max_reply);
void crpc_pipe_free(crpc_pipe_t *p);
/* crpc_pipe_send - POST body[len] (malloc'd, consumed) of content_type to
 * route on slot, which must be idle (never sent, or waited for). */
void crpc_pipe_send(crpc_pipe_t *p, unsigned slot, crpc_route route, const char *content_type,
                    char *body, size_t len);
/*
 * crpc_pipe_wait - runs every transfer until slot's has ended; the slot is
 * then idle.  true with *http and the reply body (*body NUL-terminated,
 * borrowed until the slot's next send), false with *err (malloc'd) when the
 * server could not be reached or the reply was larger than max_reply.
 */
bool crpc_pipe_wait(crpc_pipe_t *p, unsigned slot, long *http, const char **body, size_t *len,
                    char **err);

/* crpc_status - the reply's "status" string ("" if none). */
const char *crpc_status(json_object *rep);

#endif
