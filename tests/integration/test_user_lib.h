/*
 * tests/integration/test_user_lib.h - helpers shared by the user and device
 * command suites (test_cmd_user*.c, test_human_find.c)
 *
 * Each test case has one lighttpd + database (ut_tcase, tests/lib/porg.h),
 * and each test works in organizations of its own (porg_bootstrap), so
 * tests share the server without seeing each other's data.
 *
 * Ownership: functions returning char* or pclient_blob_t give them to the
 * caller (free, pclient_blob_free); json_object results likewise
 * (json_object_put); set_* consume the value they add.
 */
#ifndef PARSEC_TEST_USER_LIB_H
#define PARSEC_TEST_USER_LIB_H

#include "pclient.h"
#include "porg.h"

#include <check.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

/* The running test case's server (ut_tcase). */
extern porg_srv_t *ut_srv;

/* ut_sql - first column of the first row of sql with text parameters
 * (NULL-terminated), malloc'd; NULL when no row or SQL NULL.  Aborts the
 * test on error. */
char *ut_sql(const char *sql, ...) __attribute__((sentinel));
/* ut_sql_long - the same as a number (0 when NULL). */
long ut_sql_long(const char *sql, ...) __attribute__((sentinel));

/* A test case with its server in ut_srv (porg_tcase on lighttpd). */
TCase *ut_tcase(const char *name);

/* Now, in microseconds. */
int64_t ut_now(void);

/* lowercase hex of data (malloc'd), to compare with SQL encode(x, 'hex'). */
char *ut_hex(const void *data, size_t len);

/* ut_new_user - a user not yet created: its first device device_id, made
 * and certified by certifier at ts; email NULL: non-human; the human label
 * is "<user id> Label" and the device label "<device id> label". */
pclient_device_t *ut_new_user(const porg_t *o, const pclient_device_t *certifier,
                              const char *device_id, const char *profile, const char *email,
                              int64_t ts);

/* The certificate fields a device was made with, author given (NULL: null).
 * Strings are borrowed from d. */
pclient_user_certif_t ut_user_fields(const pclient_device_t *d, const char *author);
pclient_device_certif_t ut_device_fields(const pclient_device_t *d, const char *author);

/* Request editing: set field to v / to a blob (both consumed), remove it. */
json_object *set_json(json_object *req, const char *field, json_object *v);
json_object *set_blob(json_object *req, const char *field, pclient_blob_t b);
json_object *set_str(json_object *req, const char *field, const char *s);
json_object *without(json_object *req, const char *field);
/* A deep copy of o. */
json_object *ut_copy(json_object *o);

/*
 * ut_bad_bytes_field - every malformed value of the Bytes field `field` of
 * base (missing, null, number, boolean, array, object, invalid base64 in
 * several ways, longer than max decoded bytes unless max is SIZE_MAX), and
 * an unknown field: each
 * sent by caller must answer bad_message naming the field and change
 * nothing.  base is borrowed.
 */
void ut_bad_bytes_field(const pclient_device_t *caller, json_object *base, const char *field,
                        size_t max);

/*
 * ut_bad_certificates - certificates that must fail to load as `type`
 * ("user", "device" or "revoked_user") authored by caller, put one at a
 * time in field of base and sent by caller: each must answer
 * invalid_certification and change nothing.  good is a well-formed
 * certificate payload of that type by caller (its text), from which
 * variants are derived; wrong_type is a valid certificate of another type
 * signed by caller.
 */
void ut_bad_certificates(const pclient_device_t *caller, json_object *base, const char *field,
                         const char *good_payload, const pclient_blob_t *wrong_type);

/*
 * ut_race - send reqs[i] (consumed) by callers[i], all at once (one thread
 * each, released together), and put each answer's status in statuses[i]
 * ("HTTP <n>: <body>" when it is not a 200 JSON reply).  n at most 32.
 */
#define UT_STATUS_MAX 128
void ut_race(const pclient_device_t *const *callers, json_object **reqs, int n,
             char statuses[][UT_STATUS_MAX]);

/* ut_ping - the status of an authenticated ping by dev (malloc'd). */
char *ut_ping(const pclient_device_t *dev);

#endif
