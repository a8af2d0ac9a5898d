/*
 * fcgi-api/admin.h - the administration REST API: its limits and date rule
 *
 * The handlers themselves are reached through admin_routes (routes.h).
 * Organization ids and UTF-8 follow the protocol's rules (common/proto.h:
 * proto_valid_organization_id, proto_valid_utf8), so an organization the
 * API creates is one the protocol can name.  docs/administration.md is the
 * contract.
 */
#ifndef PARSEC_ADMIN_H
#define PARSEC_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Request bodies of the API are a few hundred bytes; anything above this is
 * refused with 413 before parsing, whatever --max-request-size allows. */
#define ADMIN_MAX_BODY 65536
/* JSON nesting accepted in a body (the API's bodies are flat objects). */
#define ADMIN_MAX_JSON_DEPTH 8
/* active_users_limit: an integer in [0, ADMIN_MAX_USERS_LIMIT] or null. */
#define ADMIN_MAX_USERS_LIMIT 2147483647L
/* Longest normalised timestamp admin_parse_timestamp() writes, NUL included. */
#define ADMIN_TS_MAX 48

/*
 * admin_parse_timestamp - strict RFC 3339 date-time
 *
 * "YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+HH:MM|-HH:MM)", 'T' and 'Z' in either
 * case, calendar-checked (leap years), year 0001-9999, no leap second.  On
 * success writes a form PostgreSQL's timestamptz reads unambiguously
 * ("YYYY-MM-DD HH:MM:SS[.f]+HH:MM") into out[ADMIN_TS_MAX] and the instant
 * as seconds and nanoseconds since the Unix epoch into *epoch_s / *nanos
 * (either may be NULL).  False on anything else.
 */
bool admin_parse_timestamp(const char *s, char out[ADMIN_TS_MAX], int64_t *epoch_s, int32_t *nanos)
    __attribute__((warn_unused_result));

#endif
