/*
 * fcgi-api/front/routes.h - matching a request against the static route
 * tables
 *
 * Each family of handlers (pages, administration, RPC) exports a table
 * ending with a {NULL} entry from its own header; routes.c matches a
 * request against all of them in order.  Adding a route is one line in its
 * family's table.
 */
#ifndef PARSEC_ROUTES_H
#define PARSEC_ROUTES_H

#include "http/http.h"

typedef enum {
    ROUTE_FOUND,      /* handler set, r->params filled */
    ROUTE_NOT_FOUND,  /* 404 */
    ROUTE_BAD_METHOD, /* 405; allow[] says which methods the path takes */
} route_match;

/*
 * routes_match - find the handler for r->method and r->path
 *
 * On ROUTE_BAD_METHOD, allow receives "GET, HEAD, POST"-style text (arena).
 * *on_refusal receives the on_refusal hook of the first route whose pattern
 * matches the path, whatever the method (NULL when none).
 */
route_match routes_match(http_req_t *r, http_handler_fn *handler, http_handler_fn *on_refusal,
                         const char **allow);

#endif
