/*
 * tests/lib/promtext.h - a strict reader of the Prometheus text format
 * 0.0.4, for the tests of the metrics endpoints
 *
 * Stricter than Prometheus itself, so that what passes here passes there:
 * every line ends with LF; comments are "# HELP" or "# TYPE" only, each at
 * most once per family, HELP then TYPE, before the family's samples; a
 * family's samples are contiguous and named after it (a histogram's
 * _bucket, _sum, _count); names and label names follow the format's
 * grammar, label values its three escapes, no label twice, no series
 * twice; counters are finite and not negative; each histogram series has
 * buckets in increasing le ending at +Inf, cumulative, and _count equal to
 * its +Inf bucket, and a _sum.
 *
 * Ownership: promtext_parse returns a malloc'd reader; promtext_free it.
 */
#ifndef PARSEC_PROMTEXT_H
#define PARSEC_PROMTEXT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct promtext promtext_t;

/* promtext_parse - NULL on the first violation, with "line N: why" in err. */
promtext_t *promtext_parse(const char *text, size_t len, char *err, size_t errlen);
void promtext_free(promtext_t *p);

/* promtext_sum - the sum of the samples named name whose labels include
 * every pair of want ('family="x",status="200"', or "" for all); *n (may
 * be NULL) how many samples matched. */
double promtext_sum(const promtext_t *p, const char *name, const char *want, size_t *n);
/* promtext_type - the TYPE of a family, or NULL. */
const char *promtext_type(const promtext_t *p, const char *family);

#endif
