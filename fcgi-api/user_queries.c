/*
 * fcgi-api/user_queries.c - user_get with its trustchain, human_find (see
 * user_queries.h)
 */
#include "user_queries.h"

#include "log.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// clang-format off
/*
 * Everything user_get answers, in one statement (one snapshot, one round
 * trip), as rows (kind, _id, certificate) ordered by kind then _id:
 *   0 the user's certificate        1 its revocation (when revoked)
 *   2 its devices' certificates     3 trustchain devices
 *   4 trustchain users              5 trustchain revocations
 * No row at all: no such user.  $1 organization, $2 user id, $3 redacted.
 * Trustchain rows are restricted to the organization even though certifier
 * references never leave it (they are written from the caller's own device):
 * a second guard costs nothing.
 */
static const db_stmt_t stmt_user_get = {
    "user_queries_get",
    "WITH RECURSIVE"
    " target AS ("
    "  SELECT _id, user_certifier, revoked_user_certifier, revoked_user_certificate,"
    "      CASE WHEN $3::boolean THEN redacted_user_certificate ELSE user_certificate END AS cert"
    "  FROM user_ WHERE organization = $1::integer AND user_id = $2::text),"
    " own AS ("
    "  SELECT d._id, d.device_certifier,"
    "      CASE WHEN $3::boolean THEN d.redacted_device_certificate"
    "          ELSE d.device_certificate END AS cert"
    "  FROM device d JOIN target t ON d.user_ = t._id),"
    " chain (device) AS ("
    "  SELECT user_certifier FROM target WHERE user_certifier IS NOT NULL"
    "  UNION SELECT revoked_user_certifier FROM target WHERE revoked_user_certifier IS NOT NULL"
    "  UNION SELECT device_certifier FROM own WHERE device_certifier IS NOT NULL"
    "  UNION"
    "  SELECT v.next FROM chain"
    "   JOIN device d ON d._id = chain.device"
    "   JOIN user_ u ON u._id = d.user_"
    "   CROSS JOIN LATERAL (VALUES (d.device_certifier), (u.user_certifier),"
    "       (u.revoked_user_certifier)) AS v (next)"
    "  WHERE v.next IS NOT NULL),"
    " chain_devices AS ("
    "  SELECT d._id, d.user_,"
    "      CASE WHEN $3::boolean THEN d.redacted_device_certificate"
    "          ELSE d.device_certificate END AS cert"
    "  FROM chain JOIN device d ON d._id = chain.device AND d.organization = $1::integer),"
    " chain_users AS (SELECT DISTINCT user_ AS _id FROM chain_devices)"
    " SELECT 0, _id, cert FROM target"
    " UNION ALL SELECT 1, _id, revoked_user_certificate FROM target"
    "  WHERE revoked_user_certificate IS NOT NULL"
    " UNION ALL SELECT 2, _id, cert FROM own"
    " UNION ALL SELECT 3, _id, cert FROM chain_devices"
    " UNION ALL SELECT 4, u._id,"
    "     CASE WHEN $3::boolean THEN u.redacted_user_certificate ELSE u.user_certificate END"
    "  FROM chain_users c JOIN user_ u ON u._id = c._id"
    " UNION ALL SELECT 5, u._id, u.revoked_user_certificate"
    "  FROM chain_users c JOIN user_ u ON u._id = c._id"
    "  WHERE u.revoked_user_certificate IS NOT NULL"
    " ORDER BY 1, 2",
    3,
};

/*
 * human_find: the matches (m), the requested page of them (p), and the
 * total before pagination on every row, with one all-NULL row when the page
 * is empty so the total still comes back.  $1 organization, $2 omit_revoked,
 * $3 omit_non_human, $4 ILIKE pattern or NULL, $5 limit, $6 offset.
 * COLLATE "C": the order does not depend on the cluster's locale.
 */
static const db_stmt_t stmt_find = {
    "user_queries_find",
    "WITH m AS ("
    "  SELECT user_id, human_email, human_label, revoked_on IS NOT NULL AS revoked"
    "  FROM user_"
    "  WHERE organization = $1::integer"
    "   AND (NOT $2::boolean OR revoked_on IS NULL)"
    "   AND (NOT $3::boolean OR human_email IS NOT NULL)"
    "   AND ($4::text IS NULL OR (human_email IS NOT NULL"
    "       AND (human_label ILIKE $4::text OR human_email ILIKE $4::text)))),"
    " p AS ("
    "  SELECT * FROM m"
    "  ORDER BY human_email IS NULL, lower(human_label) COLLATE \"C\", user_id COLLATE \"C\""
    "  LIMIT $5::bigint OFFSET $6::bigint)"
    " SELECT (SELECT count(*) FROM m), p.user_id, p.human_email, p.human_label, p.revoked"
    " FROM (VALUES (1)) AS one (x) LEFT JOIN p ON true"
    " ORDER BY p.human_email IS NULL, lower(p.human_label) COLLATE \"C\","
    "     p.user_id COLLATE \"C\"",
    6,
};
// clang-format on

static void clear_result(void *p)
{
    PQclear(p);
}

/* exec - db_exec_fmt whose result joins the arena; NULL on error (logged). */
static PGresult *exec(arena_t *a, db_conn_t *c, const db_stmt_t *stmt, const char *const *values,
                      int result_format)
{
    PGresult *res = db_exec_fmt(c, stmt, values, NULL, NULL, result_format);
    if (res)
        arena_defer(a, clear_result, res);
    return res;
}

/* A binary int4 column (network byte order). */
static int32_t bin_int4(const PGresult *res, int row, int col)
{
    uint32_t v;
    memcpy(&v, PQgetvalue(res, row, col), sizeof v);
    return (int32_t)ntohl(v);
}

static proto_bytes_t bin_bytes(const PGresult *res, int row, int col)
{
    proto_bytes_t b = {(const uint8_t *)PQgetvalue(res, row, col),
                       (size_t)PQgetlength(res, row, col)};
    return b;
}

user_queries_status user_queries_get(arena_t *a, db_conn_t *c, int org__id, const char *user_id,
                                     bool redacted, user_queries_user_t *out)
{
    memset(out, 0, sizeof *out);
    char org[16];
    snprintf(org, sizeof org, "%d", org__id);
    const char *values[3] = {org, user_id, redacted ? "t" : "f"};
    PGresult *res = exec(a, c, &stmt_user_get, values, 1);
    if (!res)
        return USER_QUERIES_ERROR;
    int rows = PQntuples(res);
    if (rows == 0)
        return USER_QUERIES_NOT_FOUND;
    if (PQnfields(res) != 3 || PQgetlength(res, 0, 0) != 4 || bin_int4(res, 0, 0) != 0) {
        log_error("user_queries: unexpected user_get result shape");
        return USER_QUERIES_ERROR;
    }

    /* Rows are ordered by kind: count each list, then fill it. */
    size_t count[6] = {0};
    for (int i = 0; i < rows; i++) {
        int32_t kind = bin_int4(res, i, 0);
        if (kind < 0 || kind > 5 || PQgetisnull(res, i, 2)) {
            log_error("user_queries: unexpected user_get row");
            return USER_QUERIES_ERROR;
        }
        count[kind]++;
    }
    user_queries_certs_t *lists[6] = {NULL,
                                      NULL,
                                      &out->devices,
                                      &out->trustchain_devices,
                                      &out->trustchain_users,
                                      &out->trustchain_revoked_users};
    for (int k = 2; k < 6; k++)
        lists[k]->items = arena_zalloc(a, (count[k] ? count[k] : 1) * sizeof(proto_bytes_t));
    for (int i = 0; i < rows; i++) {
        int32_t kind = bin_int4(res, i, 0);
        proto_bytes_t b = bin_bytes(res, i, 2);
        if (kind == 0)
            out->user_certificate = b;
        else if (kind == 1)
            out->revoked_user_certificate = b;
        else
            lists[kind]->items[lists[kind]->n++] = b;
    }
    return USER_QUERIES_OK;
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' || ch == '\f' || ch == '\r';
}

char *user_queries_like_pattern(arena_t *a, const char *query)
{
    if (!query || !*query)
        return NULL;
    /* "%" then each word followed by "%": at most 2 bytes per query byte
     * (escapes) plus the leading "%" and the NUL. */
    size_t len = strlen(query);
    char *p = arena_alloc(a, 2 * len + 2);
    size_t o = 0;
    p[o++] = '%';
    const char *s = query;
    for (;;) {
        while (*s && is_space(*s))
            s++;
        if (!*s)
            break;
        while (*s && !is_space(*s)) {
            if (*s == '%' || *s == '_' || *s == '\\')
                p[o++] = '\\';
            p[o++] = *s++;
        }
        p[o++] = '%';
    }
    p[o] = '\0';
    return p;
}

user_queries_status user_queries_find(arena_t *a, db_conn_t *c, int org__id,
                                      const user_queries_find_t *q, int64_t *total,
                                      user_queries_found_t **found, size_t *n)
{
    *total = 0;
    *found = NULL;
    *n = 0;
    char org[16], limit[24], offset[24];
    snprintf(org, sizeof org, "%d", org__id);
    snprintf(limit, sizeof limit, "%lld", (long long)q->per_page);
    snprintf(offset, sizeof offset, "%lld", (long long)((q->page - 1) * q->per_page));
    const char *values[6] = {
        org,
        q->omit_revoked ? "t" : "f",
        q->omit_non_human ? "t" : "f",
        user_queries_like_pattern(a, q->query),
        limit,
        offset,
    };
    PGresult *res = exec(a, c, &stmt_find, values, 0);
    if (!res)
        return USER_QUERIES_ERROR;
    int rows = PQntuples(res);
    if (rows < 1 || PQnfields(res) != 5) {
        log_error("user_queries: unexpected human_find result shape");
        return USER_QUERIES_ERROR;
    }
    *total = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    user_queries_found_t *items = arena_zalloc(a, (size_t)rows * sizeof *items);
    size_t k = 0;
    for (int i = 0; i < rows; i++) {
        if (PQgetisnull(res, i, 1))
            continue; /* the empty page's row */
        items[k].user_id = PQgetvalue(res, i, 1);
        if (!PQgetisnull(res, i, 2)) {
            items[k].human_email = PQgetvalue(res, i, 2);
            items[k].human_label = PQgetvalue(res, i, 3);
        }
        items[k].revoked = PQgetvalue(res, i, 4)[0] == 't';
        k++;
    }
    *found = items;
    *n = k;
    return USER_QUERIES_OK;
}
