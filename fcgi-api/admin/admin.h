/*
 * fcgi-api/admin/admin.h - the administration REST API: its routes and limits
 *
 * Organization ids, UTF-8 and JSON follow the protocol's rules
 * (common/proto.h: proto_valid_organization_id, proto_json_parse), so an
 * organization the API creates is one the protocol can name, and both APIs
 * read JSON the same strict way.  docs/administration.md is the contract.
 */
#ifndef PARSEC_ADMIN_H
#define PARSEC_ADMIN_H

#include "http/http.h"

/* Request bodies of the API are a few hundred bytes; anything above this is
 * refused with 413 before parsing, whatever --max-request-size allows. */
#define ADMIN_MAX_BODY 65536
/* active_users_limit: an integer in [0, ADMIN_MAX_USERS_LIMIT] or null. */
#define ADMIN_MAX_USERS_LIMIT 2147483647L

/* /administration/... (admin.c) */
extern const http_route_t admin_routes[];

/* GET /administration/metrics (admin_metrics.c, docs/metrics.md) */
void admin_metrics(http_req_t *r);

#endif
