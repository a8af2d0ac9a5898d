/*
 * tests/lib/vlobseed.c - a realm filled with many vlobs (see vlobseed.h)
 */
#include "vlobseed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * $1 organization id, $2 realm id, $3 author device id, $4 count, $5 blob.
 * The realm's row is locked first (r), so the changes take the numbers
 * after its checkpoint, as vlob_create's would.
 */
static const char seed_sql[] =
    "WITH r AS ("
    "  SELECT r._id, r.organization, r.checkpoint, e._id AS er FROM realm r"
    "  JOIN organization o ON o._id = r.organization"
    "  JOIN vlob_encryption_revision e ON e.realm = r._id"
    "   AND e.encryption_revision = r.encryption_revision"
    "  WHERE o.organization_id = $1 AND r.realm_id = $2::uuid FOR UPDATE OF r),"
    " d AS (SELECT d._id, d.user_ FROM device d JOIN r ON d.organization = r.organization"
    "  WHERE d.device_id = $3),"
    " v AS (INSERT INTO vlob (organization, realm, vlob_id)"
    "  SELECT r.organization, r._id, gen_random_uuid() FROM r, d,"
    "   generate_series(1, $4::bigint) RETURNING _id),"
    " a AS (INSERT INTO vlob_atom (vlob, vlob_encryption_revision, version, blob, size, author,"
    "   created_on)"
    "  SELECT v._id, r.er, 1, $5::bytea, length($5::bytea), d._id, now() FROM v, r, d"
    "  RETURNING _id, size),"
    " n AS (SELECT a._id, r.checkpoint + row_number() OVER (ORDER BY a._id) AS idx FROM a, r),"
    " u AS (INSERT INTO realm_vlob_update (realm, index, vlob_atom)"
    "  SELECT r._id, n.idx, n._id FROM n, r),"
    " s AS (SELECT count(*) AS c, COALESCE(SUM(size), 0) AS sz FROM a),"
    " c AS (INSERT INTO realm_user_change AS c (realm, user_, last_vlob_update)"
    "  SELECT r._id, d.user_, now() FROM r, d"
    "  ON CONFLICT (realm, user_) DO UPDATE SET last_vlob_update = EXCLUDED.last_vlob_update)"
    " UPDATE realm SET checkpoint = realm.checkpoint + s.c, versions = realm.versions + s.c,"
    "  vlobs_size = realm.vlobs_size + s.sz, metadata_size = realm.metadata_size + s.sz"
    " FROM s, r WHERE realm._id = r._id AND s.c > 0";

bool vlobseed_realm(PGconn *pg, const char *org, const char *realm_id, const char *author_device_id,
                    long n, size_t blob_size, char *err, size_t errlen)
{
    if (n < 1 || n > VLOBSEED_MAX || blob_size > VLOBSEED_BLOB_MAX) {
        snprintf(err, errlen, "vlobseed: 1 to %ld vlobs of at most %d bytes", VLOBSEED_MAX,
                 VLOBSEED_BLOB_MAX);
        return false;
    }
    char count[32];
    snprintf(count, sizeof count, "%ld", n);
    char *blob = malloc(blob_size ? blob_size : 1);
    if (!blob) {
        snprintf(err, errlen, "vlobseed: out of memory");
        return false;
    }
    for (size_t i = 0; i < blob_size; i++)
        blob[i] = (char)('a' + i % 26);
    const char *values[5] = {org, realm_id, author_device_id, count, blob};
    int lengths[5] = {0, 0, 0, 0, (int)blob_size};
    int formats[5] = {0, 0, 0, 0, 1};
    PGresult *res = PQexecParams(pg, seed_sql, 5, NULL, values, lengths, formats, 0);
    free(blob);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        snprintf(err, errlen, "vlobseed: %s", PQresultErrorMessage(res));
    else if (strcmp(PQcmdTuples(res), "1") != 0) {
        snprintf(err, errlen, "vlobseed: no realm %s with device %s in %s", realm_id,
                 author_device_id, org);
        ok = false;
    }
    PQclear(res);
    return ok;
}
