/*
 * cli/backend_sequester_export.c - `parsec backend sequester export_realm
 * --organization ID --realm HEX --service HEX --output PATH --blockstore
 * CONFIG`: one realm, as one sequester service can read it offline
 * (docs/sequester.md; parsec-2.12-behaviour.md 15.14)
 *
 * The SQLite file has Parsec 2.12.1's tables, so its reader opens it:
 *
 *   info(magic 87947, version 1, realm_id, root_verify_key)
 *   vlob_atom(_id = the change's index, vlob_id, version, blob = the
 *             service's blob, author = device._id, timestamp in ms)
 *   block(_id, block_id, data as stored (still encrypted), author)
 *   realm_role(_id, role_certificate), user_(_id, user_certificate,
 *             revoked_user_certificate), device(_id, device_certificate)
 *
 * UUIDs are 16 raw bytes; the other _ids are PostgreSQL's, so each author
 * is a device._id.  Vlobs go in batches of 1000 changes in index order,
 * blocks in batches of 100 in _id order, each batch one SQLite transaction;
 * a run resumes from the largest _id already exported (re-reading it,
 * inserts ignore conflicts), so running it again brings an export up to
 * date.  Atomic: the work happens in "<output>.partial" (an earlier
 * partial file of the same realm is resumed), renamed to the output only
 * once complete, so a file under the output's name is always complete.  A
 * realm with no blob for the service gives an export without vlob_atom
 * rows (Parsec crashed on the empty batch).
 */
#include "backend_sequester.h"

#include "blockstore.h"
#include "crypto.h"
#include "log.h"
#include "xalloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROG         "parsec backend sequester export_realm"
#define MAGIC        87947
#define VERSION      1
#define VLOB_BATCH   1000
#define BLOCK_BATCH  100
#define SQLITE_FNAME "parsec-sequester-export-realm-%s.sqlite"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS info(magic INTEGER UNIQUE NOT NULL DEFAULT 87947,"
    " version INTEGER NOT NULL DEFAULT 1, realm_id BLOB NOT NULL, root_verify_key BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS block(_id PRIMARY KEY, block_id BLOB NOT NULL UNIQUE,"
    " data BLOB NOT NULL, author INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS vlob_atom(_id PRIMARY KEY, vlob_id BLOB NOT NULL,"
    " version INTEGER NOT NULL, blob BLOB NOT NULL, author INTEGER NOT NULL,"
    " timestamp INTEGER NOT NULL, UNIQUE(vlob_id, version));"
    "CREATE TABLE IF NOT EXISTS realm_role(_id PRIMARY KEY, role_certificate BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS user_(_id PRIMARY KEY, user_certificate BLOB NOT NULL,"
    " revoked_user_certificate BLOB);"
    "CREATE TABLE IF NOT EXISTS device(_id PRIMARY KEY, device_certificate BLOB NOT NULL);";

/* ---------------------------------------------------------------------------
 * PostgreSQL
 */

/* $1 organization, $2 realm id, $3 service id: the realm's and the
 * service's _id (NULL when not in the organization). */
DB_STMT(stmt_ids, "seq_export_ids", 3,
        "SELECT (SELECT _id FROM realm WHERE organization = $1::bigint AND realm_id = $2::uuid),"
        " (SELECT _id FROM sequester_service WHERE organization = $1::bigint"
        "  AND service_id = $3::uuid)");

DB_STMT(stmt_users, "seq_export_users", 1,
        "SELECT _id, user_certificate, revoked_user_certificate FROM user_"
        " WHERE organization = $1::bigint ORDER BY _id");
DB_STMT(stmt_devices, "seq_export_devices", 1,
        "SELECT _id, device_certificate FROM device WHERE organization = $1::bigint ORDER BY _id");
DB_STMT(stmt_roles, "seq_export_roles", 1,
        "SELECT _id, certificate FROM realm_user_role WHERE realm = $1::bigint ORDER BY _id");

/* $1 realm, $2 service, $3 first index, $4 batch size: the changes with a
 * blob for the service, in index order (the original atoms: a
 * reencryption's copies are not changes).  Milliseconds truncated, as a
 * DateTime's microseconds are everywhere else: a cast would round up. */
DB_STMT(stmt_vlobs, "seq_export_vlobs", 4,
        "SELECT u.index, v.vlob_id, a.version, s.blob, a.author,"
        " floor(extract(epoch FROM a.created_on) * 1000)::bigint"
        " FROM realm_vlob_update u JOIN vlob_atom a ON a._id = u.vlob_atom"
        " JOIN vlob v ON v._id = a.vlob"
        " JOIN sequester_service_vlob_atom s ON s.vlob_atom = a._id AND s.service = $2::bigint"
        " WHERE u.realm = $1::bigint AND u.index >= $3::bigint ORDER BY u.index LIMIT $4::bigint");

/* $1 realm, $2 first _id, $3 batch size. */
DB_STMT(stmt_blocks, "seq_export_blocks", 3,
        "SELECT _id, block_id, size, author FROM block WHERE realm = $1::bigint"
        " AND deleted_on IS NULL AND _id >= $2::bigint ORDER BY _id LIMIT $3::bigint");

/* ---------------------------------------------------------------------------
 * SQLite
 */

typedef struct {
    seq_ctx_t *c;
    sqlite3 *out;
    const char *path;
} exp_t;

static int sq_fail(exp_t *e, const char *what)
{
    return seq_fail(e->c, "%s: %s: %s", e->path, what, e->out ? sqlite3_errmsg(e->out) : "");
}

static bool sq_exec(exp_t *e, const char *sql)
{
    return sqlite3_exec(e->out, sql, NULL, NULL, NULL) == SQLITE_OK;
}

/* Bind each value (i64 when blob NULL and len is the integer) and step. */
typedef struct {
    bool is_blob;
    const void *p;
    size_t len;
    int64_t i;
    bool null;
} sq_val_t;

static bool sq_insert(exp_t *e, sqlite3_stmt *st, const sq_val_t *v, int n)
{
    sqlite3_reset(st);
    for (int i = 0; i < n; i++) {
        int rc;
        if (v[i].null)
            rc = sqlite3_bind_null(st, i + 1);
        else if (v[i].is_blob)
            rc = sqlite3_bind_blob64(st, i + 1, v[i].p ? v[i].p : "", v[i].len, SQLITE_STATIC);
        else
            rc = sqlite3_bind_int64(st, i + 1, v[i].i);
        if (rc != SQLITE_OK)
            return false;
    }
    return sqlite3_step(st) == SQLITE_DONE;
}

#define BLOB(ptr, n) ((sq_val_t){.is_blob = true, .p = (ptr), .len = (n)})
#define INT(x)       ((sq_val_t){.i = (x)})
#define NUL          ((sq_val_t){.null = true})

/*
 * Open path (created when absent) and check its info row: magic, version,
 * realm and root key; a new file gets the schema and the row.  0, or the
 * exit status after printing why.
 */
static int open_output(exp_t *e, const uint8_t realm_id[16], const uint8_t root[32])
{
    if (sqlite3_open_v2(e->path, &e->out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK)
        return sq_fail(e, "cannot open");
    sqlite3_busy_timeout(e->out, 5000);
    sqlite3_stmt *st = NULL;
    int rc = 1;
    bool fresh = false;
    if (sqlite3_prepare_v2(e->out, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = seq_fail(e->c, "%s: not an export database (%s)", e->path, sqlite3_errmsg(e->out));
        goto done;
    }
    fresh = sqlite3_column_int64(st, 0) == 0;
    sqlite3_finalize(st);
    st = NULL;
    if (fresh) {
        if (!sq_exec(e, "BEGIN") || !sq_exec(e, schema)) {
            rc = sq_fail(e, "cannot create the tables");
            goto done;
        }
        if (sqlite3_prepare_v2(e->out, "INSERT INTO info (realm_id, root_verify_key) VALUES (?, ?)",
                               -1, &st, NULL) != SQLITE_OK) {
            rc = sq_fail(e, "cannot write info");
            goto done;
        }
        sq_val_t v[] = {BLOB(realm_id, 16), BLOB(root, 32)};
        if (!sq_insert(e, st, v, 2) || !sq_exec(e, "COMMIT")) {
            rc = sq_fail(e, "cannot write info");
            goto done;
        }
        sqlite3_finalize(st);
        st = NULL;
    }
    if (sqlite3_prepare_v2(e->out,
                           "SELECT version, realm_id, root_verify_key FROM info WHERE magic = ?",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = seq_fail(e->c, "%s: existing file is not a valid export database", e->path);
        goto done;
    }
    sqlite3_bind_int64(st, 1, MAGIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = seq_fail(e->c, "%s: existing file is not a valid export database", e->path);
        goto done;
    }
    if (sqlite3_column_int64(st, 0) != VERSION) {
        rc = seq_fail(e->c, "%s: export database version %lld is not supported (only %d)", e->path,
                      (long long)sqlite3_column_int64(st, 0), VERSION);
        goto done;
    }
    if (sqlite3_column_bytes(st, 1) != 16 || memcmp(sqlite3_column_blob(st, 1), realm_id, 16) ||
        sqlite3_column_bytes(st, 2) != 32 || memcmp(sqlite3_column_blob(st, 2), root, 32)) {
        rc = seq_fail(e->c, "%s: existing export database is for another realm or organization",
                      e->path);
        goto done;
    }
    /* the other tables, for a file created by an older run */
    rc = sq_exec(e, schema) ? 0 : sq_fail(e, "cannot create the tables");
done:
    sqlite3_finalize(st);
    return rc;
}

/* One number about table (a constant name) in the export; -1 on error. */
static int64_t table_number(exp_t *e, const char *what, const char *table)
{
    char *sql = xasprintf("SELECT %s FROM %s", what, table);
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(e->out, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    free(sql);
    return v;
}

/* The largest _id of table in the export (0: none). */
static int64_t max_id(exp_t *e, const char *table)
{
    return table_number(e, "coalesce(max(_id), 0)", table);
}

static int64_t count_rows(exp_t *e, const char *table)
{
    return table_number(e, "count(*)", table);
}

/* Copy the rows of r (columns as kinds: 'i' integer, 'b' bytea) into
 * insert sql, in one transaction. */
static int copy_rows(exp_t *e, db_res_t *r, const char *kinds, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int n = (int)strlen(kinds);
    if (e->c->failed)
        return seq_fail(e->c, "the database failed (see the log)");
    if (sqlite3_prepare_v2(e->out, sql, -1, &st, NULL) != SQLITE_OK || !sq_exec(e, "BEGIN")) {
        sqlite3_finalize(st);
        return sq_fail(e, "cannot write");
    }
    for (size_t row = 0; row < db_nrows(r); row++) {
        sq_val_t v[8];
        for (int k = 0; k < n; k++) {
            if (db_is_null(r, row, k))
                v[k] = NUL;
            else if (kinds[k] == 'i')
                v[k] = INT(db_get_i64(r, row, k));
            else {
                size_t len;
                const uint8_t *p = db_get_bytes(r, row, k, &len);
                v[k] = BLOB(p, len);
            }
        }
        if (!sq_insert(e, st, v, n)) {
            sqlite3_finalize(st);
            sq_exec(e, "ROLLBACK");
            return sq_fail(e, "cannot write");
        }
    }
    sqlite3_finalize(st);
    return sq_exec(e, "COMMIT") ? 0 : sq_fail(e, "cannot commit");
}

static int export_vlobs(exp_t *e, int64_t realm, int64_t service)
{
    int64_t from = max_id(e, "vlob_atom");
    for (;;) {
        arena_reset(e->c->arena);
        db_res_t *r = DB_RUN(e->c->db, e->c->arena, &e->c->failed, &stmt_vlobs, DB_I64(realm),
                             DB_I64(service), DB_I64(from), DB_I64(VLOB_BATCH));
        size_t n = db_nrows(r);
        /* vlob_id comes as a uuid: rewrite it as 16 raw bytes */
        int rc = 0;
        if (!e->c->failed && n) {
            sqlite3_stmt *st = NULL;
            if (sqlite3_prepare_v2(e->out,
                                   "INSERT INTO vlob_atom (_id, vlob_id, version, blob, author,"
                                   " timestamp) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                                   -1, &st, NULL) != SQLITE_OK ||
                !sq_exec(e, "BEGIN")) {
                sqlite3_finalize(st);
                return sq_fail(e, "cannot write");
            }
            for (size_t i = 0; i < n && rc == 0; i++) {
                uint8_t id[16];
                size_t blen;
                const uint8_t *blob = db_get_bytes(r, i, 3, &blen);
                if (!db_get_uuid(r, i, 1, id))
                    rc = seq_fail(e->c, "unexpected vlob id in the database");
                sq_val_t v[] = {INT(db_get_i64(r, i, 0)), BLOB(id, 16),
                                INT(db_get_i64(r, i, 2)), BLOB(blob, blen),
                                INT(db_get_i64(r, i, 4)), INT(db_get_i64(r, i, 5))};
                if (rc == 0 && !sq_insert(e, st, v, 6))
                    rc = sq_fail(e, "cannot write");
            }
            sqlite3_finalize(st);
            if (rc != 0 || !sq_exec(e, "COMMIT")) {
                sq_exec(e, "ROLLBACK");
                return rc ? rc : sq_fail(e, "cannot commit");
            }
        }
        if (e->c->failed)
            return seq_fail(e->c, "the database failed (see the log)");
        if (n == 0)
            return 0;
        if (n < VLOB_BATCH)
            return 0;
        from = db_get_i64(r, n - 1, 0) + 1;
    }
}

static int export_blocks(exp_t *e, blockstore_ctx_t *bs, int64_t realm)
{
    int64_t from = max_id(e, "block");
    for (;;) {
        arena_reset(e->c->arena);
        db_res_t *r = DB_RUN(e->c->db, e->c->arena, &e->c->failed, &stmt_blocks, DB_I64(realm),
                             DB_I64(from), DB_I64(BLOCK_BATCH));
        size_t n = db_nrows(r);
        if (e->c->failed)
            return seq_fail(e->c, "the database failed (see the log)");
        if (n == 0)
            return 0;
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(e->out,
                               "INSERT INTO block (_id, block_id, data, author) VALUES (?, ?, ?, ?)"
                               " ON CONFLICT DO NOTHING",
                               -1, &st, NULL) != SQLITE_OK ||
            !sq_exec(e, "BEGIN")) {
            sqlite3_finalize(st);
            return sq_fail(e, "cannot write");
        }
        int rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
            uint8_t id[16];
            size_t size = (size_t)db_get_i64(r, i, 2);
            uint8_t *buf = xmalloc(size ? size : 1);
            if (!db_get_uuid(r, i, 1, id))
                rc = seq_fail(e->c, "unexpected block id in the database");
            else if (blockstore_read(bs, e->c->db, e->c->org_id, id, buf, size) != BLOCKSTORE_OK) {
                char *hex = crypto_hex_encode(id, 16);
                rc = seq_fail(e->c, "block %s cannot be read from the blockstore", hex);
                free(hex);
            } else {
                sq_val_t v[] = {INT(db_get_i64(r, i, 0)), BLOB(id, 16), BLOB(buf, size),
                                INT(db_get_i64(r, i, 3))};
                if (!sq_insert(e, st, v, 4))
                    rc = sq_fail(e, "cannot write");
            }
            free(buf);
        }
        sqlite3_finalize(st);
        if (rc != 0 || !sq_exec(e, "COMMIT")) {
            sq_exec(e, "ROLLBACK");
            return rc ? rc : sq_fail(e, "cannot commit");
        }
        if (n < BLOCK_BATCH)
            return 0;
        from = db_get_i64(r, n - 1, 0) + 1;
    }
}

int seq_export_realm(int argc, char **argv)
{
    seq_ctx_t c;
    seq_flag_t f[] = {{"--organization", true, NULL},
                      {"--realm", true, NULL},
                      {"--service", true, NULL},
                      {"--output", true, NULL}};
    exp_t e = {&c, NULL, NULL};
    blockstore_t *bs = NULL;
    blockstore_ctx_t *ctx = NULL;
    char *output = NULL, *partial = NULL;
    bool curl = false;
    int rc = seq_open(&c, PROG,
                      "  --organization ID   the sequestered organization\n"
                      "  --realm HEX         the realm to export\n"
                      "  --service HEX       the sequester service whose blobs are exported\n"
                      "                      (a disabled service is allowed)\n"
                      "  --output PATH       the SQLite file, or a directory to receive\n"
                      "                      parsec-sequester-export-realm-<realm>.sqlite;\n"
                      "                      an existing export of this realm is brought up to "
                      "date\n",
                      argc, argv, f, 4, true, true);
    if (rc >= 0)
        goto cleanup;
    uint8_t realm_id[16], service_id[16];
    if (!f[0].value || !f[1].value || !f[2].value || !f[3].value) {
        rc = seq_usage(&c, "--organization, --realm, --service and --output are required");
        goto cleanup;
    }
    if (!seq_parse_uuid(f[1].value, realm_id) || !seq_parse_uuid(f[2].value, service_id)) {
        rc = seq_usage(&c, "--realm and --service take 32 hex digits");
        goto cleanup;
    }
    if ((rc = seq_org(&c, f[0].value, true)) != 0)
        goto cleanup;
    rc = 1;
    db_res_t *r = DB_RUN(c.db, c.arena, &c.failed, &stmt_ids, DB_I64(c.org), DB_UUID(realm_id),
                         DB_UUID(service_id));
    if (c.failed || db_nrows(r) != 1) {
        rc = seq_fail(&c, "the database failed (see the log)");
        goto cleanup;
    }
    if (db_is_null(r, 0, 0)) {
        rc = seq_fail(&c, "realm `%s` not found in organization `%s`", f[1].value, c.org_id);
        goto cleanup;
    }
    if (db_is_null(r, 0, 1)) {
        rc = seq_fail(&c, "sequester service `%s` not found in organization `%s`", f[2].value,
                      c.org_id);
        goto cleanup;
    }
    int64_t realm = db_get_i64(r, 0, 0), service = db_get_i64(r, 0, 1);
    uint8_t root[32];
    memcpy(root, c.root_verify_key, 32);

    struct stat st;
    if (stat(f[3].value, &st) == 0 && S_ISDIR(st.st_mode)) {
        char *hex = crypto_hex_encode(realm_id, 16);
        output = xasprintf("%s/" SQLITE_FNAME, f[3].value, hex);
        free(hex);
    } else {
        output = xstrdup(f[3].value);
    }
    partial = xasprintf("%s.partial", output);
    /* a complete export is brought up to date under the partial name */
    if (access(partial, F_OK) != 0 && access(output, F_OK) == 0 && rename(output, partial) != 0) {
        rc = seq_fail(&c, "%s: %s", output, strerror(errno));
        goto cleanup;
    }
    e.path = partial;
    if ((rc = open_output(&e, realm_id, root)) != 0)
        goto cleanup;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        rc = seq_fail(&c, "cannot initialise libcurl");
        goto cleanup;
    }
    curl = true;
    char err[1024];
    if (!(bs = blockstore_open(&c.cfg, err, sizeof err))) {
        rc = seq_usage(&c, "blockstore: %s", err);
        goto cleanup;
    }
    ctx = blockstore_ctx_new(bs);

    /* the certificates, then the vlobs, then the blocks */
    if ((rc = copy_rows(&e, DB_RUN(c.db, c.arena, &c.failed, &stmt_users, DB_I64(c.org)), "ibb",
                        "INSERT INTO user_ (_id, user_certificate, revoked_user_certificate)"
                        " VALUES (?, ?, ?) ON CONFLICT (_id) DO UPDATE SET"
                        " revoked_user_certificate = excluded.revoked_user_certificate")) != 0 ||
        (rc = copy_rows(&e, DB_RUN(c.db, c.arena, &c.failed, &stmt_devices, DB_I64(c.org)), "ib",
                        "INSERT INTO device (_id, device_certificate) VALUES (?, ?)"
                        " ON CONFLICT DO NOTHING")) != 0 ||
        (rc = copy_rows(&e, DB_RUN(c.db, c.arena, &c.failed, &stmt_roles, DB_I64(realm)), "ib",
                        "INSERT INTO realm_role (_id, role_certificate) VALUES (?, ?)"
                        " ON CONFLICT DO NOTHING")) != 0)
        goto cleanup;
    if ((rc = export_vlobs(&e, realm, service)) != 0 || (rc = export_blocks(&e, ctx, realm)) != 0)
        goto cleanup;
    int64_t vlobs = count_rows(&e, "vlob_atom"), blocks = count_rows(&e, "block");
    sqlite3_close(e.out);
    e.out = NULL;
    if (rename(partial, output) != 0) {
        rc = seq_fail(&c, "%s: %s", output, strerror(errno));
        goto cleanup;
    }
    printf("Export written to %s: %lld vlob version(s), %lld block(s)\n", output, (long long)vlobs,
           (long long)blocks);
    rc = 0;
cleanup:
    if (e.out)
        sqlite3_close(e.out);
    blockstore_ctx_free(ctx);
    blockstore_close(bs);
    if (curl)
        curl_global_cleanup();
    free(output);
    free(partial);
    seq_close(&c);
    return rc;
}
