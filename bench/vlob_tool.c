/*
 * bench/vlob_tool.c - the client side of bench/vlob-bench
 *
 *   vlob_tool setup URL ORG DEVICE SEED_HEX BLOB_SIZE N
 *       as DEVICE of ORG (bootstrapped by `rpc_tool setup`, ADMIN): create a
 *       realm for the reads holding one vlob of BLOB_SIZE bytes and N realms
 *       for the writes, through the real API; print on one line
 *       "<read realm> <read vlob> <blob in base64> <write realm>..."
 *   vlob_tool seed DB_URL ORG REALM DEVICE N
 *       add N one-version vlobs to REALM (tests/lib/vlobseed.h: one SQL
 *       statement, as vlob_create would store them), then print the
 *       realm's checkpoint
 *
 * Built from tests/lib (pclient for requests and certificates, vlobseed),
 * so the benchmark speaks the protocol the integration tests check.
 */
#include "pclient.h"
#include "vlobseed.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fputs("usage: vlob_tool setup URL ORG DEVICE SEED_HEX BLOB_SIZE N |"
          " seed DB_URL ORG REALM DEVICE N\n",
          stderr);
    return 2;
}

/* POST req (consumed) as d; true when it answered "ok". */
static bool call_ok(const char *url, const pclient_device_t *d, json_object *req)
{
    pclient_resp_t r;
    bool ok = pclient_cmd(url, "authenticated", d->organization_id, d, req, &r);
    const char *st = ok ? pclient_status(&r) : NULL;
    ok = st && strcmp(st, "ok") == 0;
    if (!ok)
        fprintf(stderr, "vlob_tool: %s answered %ld %s\n",
                json_object_get_string(json_object_object_get(req, "cmd")), r.status, r.body);
    pclient_resp_free(&r);
    json_object_put(req);
    return ok;
}

static bool realm_create(const char *url, const pclient_device_t *d, uint8_t realm[16])
{
    pclient_uuid_random(realm);
    pclient_realm_role_certif_t c = {.author = d->device_id,
                                     .timestamp = pclient_now_us(),
                                     .user_id = d->user_id,
                                     .role = "OWNER"};
    memcpy(c.realm_id, realm, 16);
    pclient_blob_t cert = pclient_realm_role_certif(&d->key, &c);
    json_object *req = pclient_req("realm_create");
    json_object_object_add(req, "role_certificate", pclient_json_blob(&cert));
    pclient_blob_free(&cert);
    return call_ok(url, d, req);
}

static int setup(const char *url, const char *org, const char *device, const char *seed_hex,
                 long blob_size, long n)
{
    uint8_t seed[32];
    if (strlen(seed_hex) != 64 || blob_size < 0 || blob_size > VLOBSEED_BLOB_MAX || n < 1 ||
        n > 1024)
        return usage();
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (sscanf(seed_hex + 2 * i, "%2x", &v) != 1)
            return usage();
        seed[i] = (uint8_t)v;
    }
    pclient_device_t d = {0};
    d.organization_id = (char *)org;
    d.device_id = (char *)device;
    char user[64];
    snprintf(user, sizeof user, "%.*s", (int)strcspn(device, "@"), device);
    d.user_id = user;
    pclient_key_from_seed(&d.key, seed);

    uint8_t rrealm[16], vlob[16];
    if (!realm_create(url, &d, rrealm))
        return 1;
    char *blob = malloc((size_t)blob_size + 1);
    for (long i = 0; i < blob_size; i++)
        blob[i] = (char)('A' + i % 26);
    pclient_uuid_random(vlob);
    char *rhex = pclient_uuid_hex(rrealm), *vhex = pclient_uuid_hex(vlob);
    json_object *req = pclient_req("vlob_create");
    json_object_object_add(req, "realm_id", json_object_new_string(rhex));
    json_object_object_add(req, "encryption_revision", json_object_new_int(1));
    json_object_object_add(req, "vlob_id", json_object_new_string(vhex));
    json_object_object_add(req, "timestamp", pclient_json_datetime(pclient_now_us()));
    json_object_object_add(req, "blob", pclient_json_bytes(blob, (size_t)blob_size));
    int rc = 1;
    if (call_ok(url, &d, req)) {
        char *b64 = pclient_b64(blob, (size_t)blob_size);
        printf("%s %s %s", rhex, vhex, b64);
        free(b64);
        rc = 0;
    }
    for (long i = 0; rc == 0 && i < n; i++) {
        uint8_t wrealm[16];
        if (!realm_create(url, &d, wrealm)) {
            rc = 1;
            break;
        }
        char *whex = pclient_uuid_hex(wrealm);
        printf(" %s", whex);
        free(whex);
    }
    printf("\n");
    free(blob);
    free(rhex);
    free(vhex);
    return rc;
}

static int seed_realm(const char *db, const char *org, const char *realm, const char *device,
                      long n)
{
    PGconn *pg = PQconnectdb(db);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "vlob_tool: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return 1;
    }
    char err[512];
    int rc = 1;
    if (!vlobseed_realm(pg, org, realm, device, n, 1024, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
    } else {
        const char *v[1] = {realm};
        PGresult *res = PQexecParams(pg, "SELECT checkpoint FROM realm WHERE realm_id = $1::uuid",
                                     1, NULL, v, NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
            printf("%s\n", PQgetvalue(res, 0, 0));
            rc = 0;
        }
        PQclear(res);
    }
    PQfinish(pg);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 8 && strcmp(argv[1], "setup") == 0)
        return setup(argv[2], argv[3], argv[4], argv[5], atol(argv[6]), atol(argv[7]));
    if (argc == 7 && strcmp(argv[1], "seed") == 0)
        return seed_realm(argv[2], argv[3], argv[4], argv[5], atol(argv[6]));
    return usage();
}
