/*
 * fcgi-api/pages/pages.h - the pages: /, /health, /redirect/..., /static/...
 *
 * fcgi-api/README.md ("Pages") describes each.
 */
#ifndef PARSEC_PAGES_H
#define PARSEC_PAGES_H

#include "http/http.h"

extern const http_route_t pages_routes[];

#endif
