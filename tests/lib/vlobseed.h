/*
 * tests/lib/vlobseed.h - a realm filled with many vlobs, quickly
 *
 * For the scale test (tests/integration/test_realm_scale.c) and the vlob
 * benchmark (bench/vlob-bench): n vlobs of one version each are written
 * into an existing realm by ONE SQL statement, as vlob_create would have
 * stored them one by one (a vlob, its version at the realm's revision, a
 * change numbered after the realm's checkpoint, the realm's checkpoint and
 * counters, the author's latest write), so
 * every command sees a realm it could have built itself, only faster
 * than n requests.  Nothing else of the realm changes.
 *
 * Bounded: at most VLOBSEED_MAX vlobs per call, blobs of at most
 * VLOBSEED_BLOB_MAX bytes.
 */
#ifndef PARSEC_VLOBSEED_H
#define PARSEC_VLOBSEED_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VLOBSEED_MAX      1000000L
#define VLOBSEED_BLOB_MAX 65536

/*
 * vlobseed_realm - add n vlobs (blobs of blob_size bytes, authored by
 * device author_device_id now) to realm realm_id (32 hex) of organization
 * org.  False with one line in err (the realm or the device is not there,
 * a bound is exceeded, a database error).
 */
bool vlobseed_realm(PGconn *pg, const char *org, const char *realm_id, const char *author_device_id,
                    long n, size_t blob_size, char *err, size_t errlen);

#endif
