/*
 * fcgi-api/front/front.h - from one FastCGI request to one HTTP response
 *
 * The front is the only code that knows about FastCGI.  For each request it
 * reads the CGI parameters and the body (bounded by --max-request-size),
 * builds an http_req_t (fcgi-api/http/http.h), applies
 * --forward-proto-enforce-https, routes (routes.c), calls the handler, and
 * writes the response.
 *
 * The pipeline is split so that everything except the I/O is unit-testable
 * without a web server: front_handle() takes the CGI parameters and the body
 * already read, front_render_head() gives the bytes the web server receives.
 * Handler tests use front_handle() with parameters such as
 *
 *     char *params[] = {"REQUEST_METHOD=POST",
 *                       "REQUEST_URI=/administration/organizations",
 *                       "HTTP_AUTHORIZATION=Bearer s3cr3t", NULL};
 *
 * Ownership: everything reachable from the http_req_t lives in the arena
 * given to front_handle(); the caller resets the arena after
 * front_request_end().  Design notes: fcgi-api/README.md.
 */
#ifndef PARSEC_FRONT_H
#define PARSEC_FRONT_H

#include "http/http.h"

#include <fcgiapp.h>
#include <stdbool.h>
#include <stddef.h>

/* What a CONTENT_LENGTH parameter says. */
typedef enum {
    FRONT_CL_ABSENT,    /* missing or empty: read the body until its end */
    FRONT_CL_OK,        /* *out set, <= the limit */
    FRONT_CL_BAD,       /* not a plain decimal number: 400 */
    FRONT_CL_TOO_LARGE, /* above the limit (or overflowing): 413 */
} front_cl;

/* front_content_length - parse value strictly: ASCII digits only, no sign,
 * no space, at most max. */
front_cl front_content_length(const char *value, size_t max, size_t *out);

/*
 * front_parse_target - split and normalise the request target
 *
 * request_uri: REQUEST_URI as the client sent it ("/a/b%20c?x=1"; an
 * absolute-form "http://host/a" is accepted too).  script_name: SCRIPT_NAME
 * (where the web server mounted us; NULL, "" or "/" for the root).
 * On success returns 0 and sets *path (percent-decoded, starting with '/',
 * mount prefix removed), *query (raw, "" when none) and *mount ("" or the
 * prefix removed).  Otherwise returns the status to answer:
 *   400  bad percent escape, invalid UTF-8, NUL or control character, a
 *        target that does not start with '/'
 *   404  an encoded slash (%2F) or a "." / ".." segment: no route can hold one
 * Nothing is collapsed silently ("//" and trailing slashes stay, and match
 * no route).  Strings are allocated in a.
 */
int front_parse_target(arena_t *a, const char *request_uri, const char *script_name,
                       const char **path, const char **query, const char **mount);

/*
 * front_handle - the whole request pipeline, without I/O
 *
 * Makes the request in arena a (request id: a well-formed incoming
 * X-Request-Id, at most 64 characters of letters, digits and - _ . : = + / @,
 * else a fresh one; log context, method, path, headers), then:
 * early_status != 0 (400 unreadable body, 413 too large) answers that (with
 * the headers the path's route adds to refusals); otherwise applies
 * forward-proto enforcement, routes and calls the handler.  Returns the
 * request with its response fields set.  params: the CGI parameters,
 * NULL-terminated "NAME=value" (copied into a).  env->pool may be NULL
 * (handlers asking for the database then get NULL and answer 503).
 */
http_req_t *front_handle(arena_t *a, const http_env_t *env, char *const *params,
                         const unsigned char *body, size_t body_len, int early_status);

/* front_head_only - true when the response must go without its body (HEAD). */
bool front_head_only(const http_req_t *r);

/*
 * front_render_head - the CGI response head: "Status: 200 OK\r\n",
 * Content-Type, Content-Length (of the GET body, HEAD included), Server,
 * X-Request-Id, the handler's headers, Retry-After on a 503 whose handler
 * set none, then "\r\n".  In r->arena; *len set.
 */
char *front_render_head(http_req_t *r, size_t *len);

/* front_request_end - give back the database connection, write the access
 * line at INFO ("access: ADDR METHOD PATH -> STATUS, N bytes, T ms" under
 * the request's context: its id, and its device once authenticated; never
 * the query string nor a header), clear the log context.  The caller resets
 * the arena after. */
void front_request_end(http_req_t *r);

/*
 * front_serve - serve one accepted FastCGI request: read CONTENT_LENGTH and
 * the body (a short body, from a client that went away or a lying length,
 * answers 400 and calls no handler), front_handle(), write the response
 * (write errors, from a web server that went away, are only logged), then
 * front_request_end().  The caller calls FCGX_Finish_r() and resets a.
 */
void front_serve(FCGX_Request *req, arena_t *a, const http_env_t *env);

/*
 * front_write_stdout - body[0..len) as FastCGI STDOUT records of request
 * request_id on the web server's socket fd, each of at most
 * FRONT_STDOUT_RECORD bytes (libfcgi's are 8 KiB: front_stdout.c says
 * why).  front_serve() uses it for bodies of FRONT_STDOUT_MIN bytes or
 * more, once libfcgi's buffer is flushed.  False on a write error (the
 * web server went away); a part of the body may have been sent.
 */
#define FRONT_STDOUT_MIN    ((size_t)64 * 1024)
#define FRONT_STDOUT_RECORD ((size_t)65535)
bool front_write_stdout(int fd, int request_id, const void *body, size_t len);

#endif
