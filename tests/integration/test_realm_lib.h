/*
 * tests/integration/test_realm_lib.h - helpers shared by the realm, vlob
 * and message suites (test_cmd_realm*.c, test_cmd_vlob*.c,
 * test_cmd_message.c, test_realm_*.c)
 *
 * On top of test_user_lib.h (one lighttpd + database per test case, an
 * organization per test, porg's expectations): requests of the realm and
 * vlob commands built as docs/protocol.md writes them, the usual
 * successful steps (create a realm, share it, write a vlob) as one call
 * each, the events a command published (read with LISTEN on the database,
 * so their payloads and order are checked without notifyd), and families
 * of malformed values for a field.
 *
 * Timestamps: rl_now() never returns the same microsecond twice, so a
 * certificate or a write made after another is strictly later, as the
 * realm's causality rules require.
 *
 * Ownership: functions returning char*, blobs or json_object give them to
 * the caller; request builders return a new request (consumed by porg_*).
 * Every helper aborts the test when what it needs fails.
 */
#ifndef PARSEC_TEST_REALM_LIB_H
#define PARSEC_TEST_REALM_LIB_H

#include "pclient.h"
#include "porg.h"
#include "test_user_lib.h"

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#define RL_SEC INT64_C(1000000)

/* Now in microseconds, strictly after every earlier rl_now() of the process. */
int64_t rl_now(void);
/* A fresh random id (realm, vlob). */
void rl_id(uint8_t out[16]);
/* 32 lowercase hex characters of id (static buffer of 4 rotating slots). */
const char *rl_hex(const uint8_t id[16]);

/* ---- requests ---- */

/* A role certificate signed by author's key naming author (role NULL: removed). */
pclient_blob_t rl_role_cert(const pclient_device_t *author, const uint8_t realm[16],
                            const char *user_id, const char *role, int64_t ts);
/* realm_create with author's OWNER certificate of its own user at ts. */
json_object *rl_req_realm_create(const pclient_device_t *author, const uint8_t realm[16],
                                 int64_t ts);
/* realm_update_roles; msg NULL: no recipient_message field. */
json_object *rl_req_update_roles(const pclient_device_t *author, const uint8_t realm[16],
                                 const char *user_id, const char *role, int64_t ts,
                                 const char *msg);
/* {"cmd": cmd, "realm_id": realm}. */
json_object *rl_req_realm(const char *cmd, const uint8_t realm[16]);
json_object *rl_req_vlob_create(const uint8_t realm[16], int64_t revision, const uint8_t vlob[16],
                                int64_t ts, const char *blob);
json_object *rl_req_vlob_update(int64_t revision, const uint8_t vlob[16], int64_t ts,
                                int64_t version, const char *blob);
/* vlob_read; version 0 / ts 0: field left out. */
json_object *rl_req_vlob_read(int64_t revision, const uint8_t vlob[16], int64_t version,
                              int64_t ts);
json_object *rl_req_poll(const uint8_t realm[16], int64_t last_checkpoint);
json_object *rl_req_list(const uint8_t vlob[16]);
/* realm_start_reencryption_maintenance with one message per user of
 * users[0..n) ("message for <user>"). */
json_object *rl_req_start(const uint8_t realm[16], int64_t revision, int64_t ts,
                          const char *const *users, size_t n);
/* {"cmd": cmd, "realm_id", "encryption_revision"} (finish, get batch). */
json_object *rl_req_realm_revision(const char *cmd, const uint8_t realm[16], int64_t revision);

/* ---- steps expected to succeed ---- */

/* rl_realm - owner creates a fresh realm (written to realm); its timestamp. */
int64_t rl_realm(const pclient_device_t *owner, uint8_t realm[16]);
/* rl_share - author gives user_id role (NULL: removes it), now. */
void rl_share(const pclient_device_t *author, const uint8_t realm[16], const char *user_id,
              const char *role);
/* rl_vlob_create / rl_vlob_update - write at revision 1 (update: at revision), now. */
void rl_vlob_create(const pclient_device_t *d, const uint8_t realm[16], const uint8_t vlob[16],
                    const char *blob);
void rl_vlob_update(const pclient_device_t *d, int64_t revision, const uint8_t vlob[16],
                    int64_t version, const char *blob);
/* rl_read_blob - vlob_read (revision, latest) answered ok: its blob,
 * decoded (malloc'd, NUL-terminated). */
char *rl_read_blob(const pclient_device_t *d, int64_t revision, const uint8_t vlob[16]);

/* ---- replies ---- */

/* Integer field name of reply (aborts when absent or not an integer). */
int64_t rl_int(json_object *reply, const char *name);
/* The decoded bytes of base64 field name of o, NUL-terminated (malloc'd). */
char *rl_bytes(json_object *o, const char *name);

/* ---- events (LISTEN on the database) ---- */

/* rl_listen - a new connection LISTENing on the event channel. */
PGconn *rl_listen(void);
/* rl_next_event - the next event of organization org within timeout_ms
 * (others' are skipped), or NULL. */
json_object *rl_next_event(PGconn *pg, const char *org, int timeout_ms);
/* rl_expect_event - the next event of org must be of type t (returned). */
json_object *rl_expect_event(PGconn *pg, const char *org, const char *t);
/* rl_expect_no_event - no event of org within half a second. */
void rl_expect_no_event(PGconn *pg, const char *org);

/* ---- sequester ---- */

/*
 * rl_bootstrap_sequestered - porg_bootstrap of a sequestered organization:
 * its bootstrap carries a sequester authority certificate (an RSA key,
 * signed by the root key), returned in *authority (pclient_blob_free it).
 */
porg_t *rl_bootstrap_sequestered(pclient_blob_t *authority);
/* rl_bootstrap_sequestered_key - the same, keeping the authority's RSA key
 * pair in *key (EVP_PKEY_free it), for tests that sign service
 * certificates. */
struct evp_pkey_st;
porg_t *rl_bootstrap_sequestered_key(pclient_blob_t *authority, struct evp_pkey_st **key);
/*
 * rl_sequester_service - register an enabled service of o with certificate
 * bytes cert, written with SQL (`parsec backend sequester create_service`
 * would verify the certificate; the vlob suites need only the rows).  Its id
 * is written to id.
 */
void rl_sequester_service(const porg_t *o, const char *cert, uint8_t id[16]);

/* ---- malformed values ---- */

/*
 * Each sends base with field set to every malformed value of its type
 * (and removed, and null when required; an unknown field too), as caller,
 * expecting bad_message naming the field and no trace in the database.
 * base is borrowed.
 */
void rl_bad_uuid_field(const pclient_device_t *caller, json_object *base, const char *field);
void rl_bad_datetime_field(const pclient_device_t *caller, json_object *base, const char *field);
/* integer in [min, max]: the values just outside, huge ones, floats,
 * strings, booleans; optional: null and absent are accepted (not sent). */
void rl_bad_int_field(const pclient_device_t *caller, json_object *base, const char *field,
                      int64_t min, int64_t max, bool optional);

#endif
