/*
 * fcgi-api/user_queries.h - the read side of users: user_get with its
 * trustchain, and the human_find search
 *
 * Each function is ONE prepared statement, so what it returns comes from one
 * snapshot of the database without a transaction around it (a user revoked
 * or a device added meanwhile is either wholly in the answer or wholly not),
 * and costs one round trip: user_get is on the benchmark's path.
 *
 * The trustchain (section 3.7 of parsec-2.12-behaviour.md, docs/protocol.md
 * "user_get") is walked by PostgreSQL itself with a recursive CTE: start
 * from the certifier of the user, its revoker and the certifier of each of
 * its devices; from each device reached, follow its own certifier, its
 * user's certifier and its user's revoker; the root key (a NULL certifier)
 * ends a branch.  UNION (not UNION ALL) makes every device appear once, so
 * the walk ends even on a cycle (an admin revoked by a device it certified)
 * and is bounded by the organization's number of devices.
 *
 * Ownership: every pointer returned lives in arena a (certificates point
 * into PGresults that joined the arena), released at its reset.
 * Thread-safety: none needed (one connection, one request).
 */
#ifndef PARSEC_USER_QUERIES_H
#define PARSEC_USER_QUERIES_H

#include "arena.h"
#include "db.h"
#include "proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    USER_QUERIES_OK = 0,
    USER_QUERIES_NOT_FOUND, /* no such user in that organization */
    USER_QUERIES_ERROR,     /* database failure (logged by db_exec) */
} user_queries_status;

/* A list of certificates, in a stable order (the rows' creation order). */
typedef struct {
    proto_bytes_t *items;
    size_t n;
} user_queries_certs_t;

/* What user_get answers.  Every certificate is given back byte for byte as
 * stored; with redacted, user and device certificates are the redacted
 * versions (revocation certificates have none). */
typedef struct {
    proto_bytes_t user_certificate;
    proto_bytes_t revoked_user_certificate; /* data NULL: not revoked */
    user_queries_certs_t devices;           /* every device of the user */
    user_queries_certs_t trustchain_devices;
    user_queries_certs_t trustchain_users;
    user_queries_certs_t trustchain_revoked_users;
} user_queries_user_t;

/*
 * user_queries_get - the user user_id of organization org__id with its
 * devices and trustchain (see above).  USER_QUERIES_NOT_FOUND when the
 * organization holds no such user (another organization's user of the same
 * id is not seen).
 */
user_queries_status user_queries_get(arena_t *a, db_conn_t *c, int org__id, const char *user_id,
                                     bool redacted, user_queries_user_t *out)
    __attribute__((warn_unused_result));

/* Bounds of human_find (docs/protocol.md). */
#define USER_QUERIES_FIND_QUERY_MAX    256
#define USER_QUERIES_FIND_PER_PAGE_MAX 100
#define USER_QUERIES_FIND_PAGE_MAX     INT64_C(2147483647)

/* One human_find result. */
typedef struct {
    const char *user_id;
    const char *human_email; /* both NULL: a non-human user */
    const char *human_label;
    bool revoked;
} user_queries_found_t;

typedef struct {
    const char *query; /* NULL or "": no query */
    bool omit_revoked;
    bool omit_non_human;
    int64_t page;     /* 1 .. USER_QUERIES_FIND_PAGE_MAX */
    int64_t per_page; /* 1 .. USER_QUERIES_FIND_PER_PAGE_MAX */
} user_queries_find_t;

/*
 * user_queries_find - human_find in organization org__id
 *
 * Matching: a non-empty query is split into words on ASCII whitespace; a
 * user matches when its human label, or its email, contains the words in
 * that order, case-insensitively (ILIKE '%w1%w2%...%' with the LIKE
 * wildcards %, _ and \ of the words escaped); a query of whitespace only has
 * no word and matches every human.  With a query, users without a human
 * handle never match and user ids are not searched.  omit_revoked drops
 * users with a recorded revocation; omit_non_human drops users without a
 * human handle.  Order: humans by lower(label) compared byte-wise, then by
 * user id; then non-humans by user id.
 *
 * *total receives the number of matches before pagination, *found the
 * slice [(page-1)*per_page, page*per_page) of them (*n items, arena array).
 */
user_queries_status user_queries_find(arena_t *a, db_conn_t *c, int org__id,
                                      const user_queries_find_t *q, int64_t *total,
                                      user_queries_found_t **found, size_t *n)
    __attribute__((warn_unused_result));

/* user_queries_like_pattern - the ILIKE pattern of query (arena string), as
 * described above; NULL when query is NULL or "".  Exposed for unit tests. */
char *user_queries_like_pattern(arena_t *a, const char *query);

#endif
