/*
 * fcgi-api/routes.h - the static route tables, one per family
 *
 * Each family of handlers (one file each, like cgit's ui-*.c) exports a table
 * ending with a {NULL} entry; routes.c matches a request against all of them
 * in order.  Adding a route is one line in its family's table.
 */
#ifndef PARSEC_ROUTES_H
#define PARSEC_ROUTES_H

#include "http.h"

extern const http_route_t pages_routes[]; /* pages.c: /, /redirect/..., /health, /static */
extern const http_route_t admin_routes[]; /* admin.c: /administration/... */
extern const http_route_t rpc_routes[];   /* rpc.c: /anonymous|/invited|/authenticated/<org> */

typedef enum {
    ROUTE_FOUND,      /* handler set, r->params filled */
    ROUTE_NOT_FOUND,  /* 404 */
    ROUTE_BAD_METHOD, /* 405; allow[] says which methods the path takes */
} route_match;

/*
 * routes_match - find the handler for r->method and r->path
 *
 * On ROUTE_BAD_METHOD, allow receives "GET, HEAD, POST"-style text (arena).
 */
route_match routes_match(http_req_t *r, http_handler_fn *handler, const char **allow);

#endif
