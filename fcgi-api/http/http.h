/*
 * fcgi-api/http/http.h - one HTTP request as a handler sees it
 *
 * The FastCGI front (fcgi-api/front/front.c) turns each FastCGI request
 * into an http_req_t, routes it through the static tables listed in
 * fcgi-api/front/routes.c, and writes whatever response the handler set.
 * Handlers never touch libfcgi: they read the request and set the response
 * through this interface, so they are unit-testable without a web server.
 * This layer knows nothing above it: not the front, not the handlers.
 *
 * Ownership: every string and buffer reachable from an http_req_t lives in
 * r->arena and is released when the request ends.  Response bodies passed
 * in are copied into the arena (or, for json-c objects, serialised then
 * released), so handlers never free them.
 */
#ifndef PARSEC_HTTP_H
#define PARSEC_HTTP_H

#include "arena.h"
#include "blockstore.h"
#include "cfg.h"
#include "db.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_PARAMS 4

/* What a worker thread lends every request it serves. */
typedef struct {
    const cfg_t *cfg;         /* settings (process lifetime, read-only) */
    db_pool_t *pool;          /* NULL: no database yet (handlers answer 503) */
    blockstore_ctx_t *blocks; /* this thread's blockstore handles; NULL: none configured */
} http_env_t;

typedef struct http_req {
    /* Per-request context (never NULL). */
    arena_t *arena;
    const cfg_t *cfg;
    db_lease_t db;            /* the request's connection (pool NULL in unit tests
                               * without a database); given back when it ends */
    const char *request_id;   /* the client's X-Request-Id or 16 hex chars; the log context */
    char *const *cgi;         /* the CGI parameters "NAME=value", NULL-terminated */
    blockstore_ctx_t *blocks; /* the serving thread's blockstore handles, or NULL */

    /* Request, read-only for handlers. */
    const char *method; /* "GET", "HEAD" (routed as GET), "POST", ... */
    const char *path;   /* percent-decoded, mount-independent, starts with '/' */
    const char *query;  /* raw query string without '?', "" when none */
    const char *scheme; /* "http" or "https" */
    const char *host;   /* Host header, or SERVER_NAME[:SERVER_PORT] */
    const char *mount;  /* "" or "/parsec"-style: where the app is mounted, for links */
    const unsigned char *body;
    size_t body_len;
    const char *params[HTTP_MAX_PARAMS]; /* captures of "{}" / "{*}" route segments */
    /* For the metrics (static strings): the pattern of the route whose path
     * matched (NULL: none), and the RPC command once the dispatcher found
     * its table line. */
    const char *route;
    const char *command;

    /* Response, set through the functions below. */
    int status;
    const char *content_type;
    const unsigned char *resp_body;
    size_t resp_len;
    struct http_header *resp_headers;
} http_req_t;

/* http_header - request header by name, case-insensitive ("Content-Type",
 * "Authorization", "Api-Version", ...); NULL when absent. */
const char *http_header(const http_req_t *r, const char *name);

/* http_db - db_lease_conn(&r->db): this request's database connection,
 * acquired on first call and released by the front when the request ends;
 * NULL if the database is unreachable or not yet connected (the worker keeps
 * serving while it retries in the background): answer 503, e.g.
 * http_respond_error(r, 503, "database_unavailable", NULL). */
db_conn_t *http_db(http_req_t *r);

/* http_set_device - the request is authenticated as device_id (copied):
 * the log context becomes "<request id> dev=<device_id>" and the access
 * line carries it. */
void http_set_device(http_req_t *r, const char *device_id);

/* http_set_header - add a response header (copied into the arena).  CR, LF
 * and other control characters in name or value are replaced by spaces, so
 * no input can split the response.  Content-Type, Content-Length and Status
 * are set by http_respond* and the front, not here (ignored if given). */
void http_set_header(http_req_t *r, const char *name, const char *value);
/* http_respond - set status, content type and body (copied into the arena;
 * body may be NULL when len is 0).  A later call replaces an earlier one. */
void http_respond(http_req_t *r, int status, const char *content_type, const void *body,
                  size_t len);
/* http_respond_arena - http_respond without the copy: body lives in
 * r->arena (or longer) and is written as it is (a block). */
void http_respond_arena(http_req_t *r, int status, const char *content_type, const void *body,
                        size_t len);
/* http_respond_json - serialises obj (compact), then json_object_put()s it.
 * Content-Type: application/json. */
void http_respond_json(http_req_t *r, int status, json_object *obj);
/* http_respond_error - {"error": code} plus "reason" when reason != NULL. */
void http_respond_error(http_req_t *r, int status, const char *code, const char *reason);
/* http_respond_html_status - a small HTML page for 400/403/404/405/413/500/
 * 501/503 (any status works; the text says what the status means).  Every
 * byte of it goes through html_escape (common/html.h). */
void http_respond_html_status(http_req_t *r, int status);

/* http_reason - "Not Found" for 404...; "Unknown" for statuses not listed. */
const char *http_reason(int status);

/* A response header, in the order they were set (the front writes them). */
struct http_header {
    const char *name, *value;
    struct http_header *next;
};

/* One route of the static table in routes.c. */
typedef void (*http_handler_fn)(http_req_t *r);

typedef struct {
    const char *method; /* "GET" also answers HEAD */
    /* "/administration/organizations/{}": {} = one non-empty segment;
     * a final "{*}" = the rest of the path (one or more non-empty segments,
     * '/' kept), e.g. "/redirect/{*}".  Literal segments match exactly. */
    const char *pattern;
    http_handler_fn handler;
    /* NULL, or called on the answers the front gives on this route's path
     * without calling the handler (405, 413), to add the headers every
     * answer of the path carries (the RPC's Api-Version). */
    http_handler_fn on_refusal;
} http_route_t;

#endif
