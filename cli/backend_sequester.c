/*
 * cli/backend_sequester.c - `parsec backend sequester <command>`: the
 * operator's management of sequester services (docs/sequester.md,
 * parsec-2.12-behaviour.md 15.13)
 *
 *   create_service --organization ID --service-label TEXT
 *       --service-public-key FILE --authority-private-key FILE
 *   create_service --organization ID --service-certificate FILE
 *   generate_service_certificate --service-label TEXT
 *       --service-public-key FILE --authority-private-key FILE --output FILE
 *   list_services --organization ID [--json]
 *   update_service --organization ID --service HEX --enable|--disable
 *   export_realm ... (backend_sequester_export.c)
 *
 * No API command manages services: only this does, on PostgreSQL directly.
 * A certificate is always verified under the organization's authority key
 * before it is stored, and the stored id and label are the certificate's
 * (Parsec took them from the caller).  Generating the certificate apart
 * lets the authority's private key stay off the server: sign on the
 * authority's machine, register the file here.
 */
#include "backend_sequester.h"

#include "cli.h"
#include "crypto.h"
#include "log.h"
#include "proto.h"
#include "sequester.h"
#include "xalloc.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define PROG "parsec backend sequester"

/* ---------------------------------------------------------------------------
 * Shared
 */

int seq_fail(const seq_ctx_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", c->prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int seq_usage(const seq_ctx_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", c->prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

bool seq_parse_uuid(const char *s, uint8_t out[16])
{
    int n = 0;
    for (; *s; s++) {
        if (*s == '-')
            continue;
        int v = crypto_hex_digit((unsigned char)*s);
        if (v < 0 || n >= 32)
            return false;
        if (n % 2 == 0)
            out[n / 2] = (uint8_t)(v << 4);
        else
            out[n / 2] |= (uint8_t)v;
        n++;
    }
    return n == 32;
}

uint8_t *seq_read_file(const seq_ctx_t *c, const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        seq_fail(c, "%s: %s", path, f ? "not a regular file" : strerror(errno));
        if (f)
            fclose(f);
        return NULL;
    }
    if ((uintmax_t)st.st_size > max) {
        fclose(f);
        seq_fail(c, "%s: larger than %zu bytes", path, max);
        return NULL;
    }
    uint8_t *buf = xmalloc((size_t)st.st_size + 1);
    *len = fread(buf, 1, (size_t)st.st_size, f);
    bool bad = ferror(f) || *len != (size_t)st.st_size;
    fclose(f);
    if (bad) {
        free(buf);
        seq_fail(c, "%s: read error", path);
        return NULL;
    }
    return buf;
}

/* Take flag name (and its value) out of args[0..*n). */
static int take(seq_ctx_t *c, int *n, char **args, seq_flag_t *f)
{
    size_t nl = strlen(f->name);
    for (int i = 0; i < *n; i++) {
        const char *a = args[i];
        const char *v = NULL;
        int used = 1;
        if (strcmp(a, f->name) == 0) {
            if (f->has_value) {
                if (i + 1 >= *n)
                    return seq_usage(c, "%s needs a value", f->name);
                v = args[i + 1];
                used = 2;
            } else {
                v = "";
            }
        } else if (f->has_value && strncmp(a, f->name, nl) == 0 && a[nl] == '=') {
            v = a + nl + 1;
        } else {
            continue;
        }
        if (f->value)
            return seq_usage(c, "%s given twice", f->name);
        f->value = v;
        memmove(args + i, args + i + used, (size_t)(*n - i - used + 1) * sizeof *args);
        *n -= used;
        i--;
    }
    return -1;
}

int seq_open(seq_ctx_t *c, const char *prog, const char *help, int argc, char **argv,
             seq_flag_t *flags, size_t nflags, bool with_blockstore, bool need_db)
{
    char err[1024];
    memset(c, 0, sizeof *c);
    c->prog = prog;
    c->arena = arena_new();
    int n = argc;
    char **args = arena_zalloc(c->arena, ((size_t)argc + 1) * sizeof *args);
    memcpy(args, argv, (size_t)argc * sizeof *args);
    for (int i = 0; i < n; i++)
        if (!strcmp(args[i], "--help") || !strcmp(args[i], "-h")) {
            printf("usage: %s\n%s\nExit status: 0 done, 1 refused or failed (one line on "
                   "stderr), 2 bad usage.\n\n",
                   prog, help);
            break;
        }
    for (size_t i = 0; i < nflags; i++) {
        int rc = take(c, &n, args, &flags[i]);
        if (rc >= 0)
            return rc;
    }
    static const char *const db_settings[] = {
        "db", "db-min-connections", "db-max-connections", "log-level", "log-format", "log-file",
        NULL};
    static const char *const bs_settings[] = {
        "db",        "db-min-connections", "db-max-connections", "blockstore",
        "log-level", "log-format",         "log-file",           NULL};
    static const char *const none[] = {"log-level", "log-format", "log-file", NULL};
    cfg_command_t cmd = {.name = prog,
                         .settings = !need_db          ? none
                                     : with_blockstore ? bs_settings
                                                       : db_settings};
    switch (cfg_parse_command(&c->cfg, &cmd, n, args, NULL, err, sizeof err, NULL, NULL)) {
    case CFG_PARSE_OK:
        break;
    case CFG_PARSE_EXIT:
        return 0;
    default:
        return seq_usage(c, "%s", err);
    }
    c->have_cfg = true;
    if (need_db && !cfg_require(&c->cfg, "db", err, sizeof err))
        return seq_usage(c, "%s", err);
    if (with_blockstore && !cfg_require(&c->cfg, "blockstore", err, sizeof err))
        return seq_usage(c, "%s", err);
    if (need_db && !strcmp(c->cfg.db, "MOCKED"))
        return seq_usage(c, "MOCKED DB can not be used with sequester services");
    if (!log_open(c->cfg.log_level, c->cfg.log_format, c->cfg.log_file, "parsec", err, sizeof err))
        return seq_usage(c, "%s", err);
    c->logging = true;
    if (!need_db)
        return -1;
    c->cfg.db_min_connections = 1;
    c->pool = db_pool_open(&c->cfg, c->cfg.db, err, sizeof err, NULL);
    if (!c->pool || !(c->db = db_acquire(c->pool)))
        return seq_fail(c, "%s", c->pool ? "no database connection" : err);
    return -1;
}

void seq_close(seq_ctx_t *c)
{
    if (c->db)
        db_release(c->pool, c->db);
    db_pool_close(c->pool);
    if (c->logging)
        log_close();
    if (c->have_cfg)
        cfg_free(&c->cfg);
    arena_free(c->arena);
    memset(c, 0, sizeof *c);
}

DB_STMT(stmt_org, "seq_org", 1,
        "SELECT _id, root_verify_key, sequester_authority_verify_key_der FROM organization"
        " WHERE organization_id = $1::text");

int seq_org(seq_ctx_t *c, const char *id, bool need_sequestered)
{
    if (!id || !proto_valid_organization_id(id))
        return seq_fail(c, "--organization: `%s` is not an organization id", id ? id : "");
    db_res_t *r = DB_RUN(c->db, c->arena, &c->failed, &stmt_org, DB_TEXT(id));
    if (c->failed)
        return seq_fail(c, "the database failed (see the log)");
    if (db_nrows(r) != 1)
        return seq_fail(c, "organization `%s` not found", id);
    size_t len;
    c->org = db_get_i64(r, 0, 0);
    c->org_id = id;
    c->root_verify_key = db_get_bytes(r, 0, 1, &len);
    c->bootstrapped = c->root_verify_key != NULL;
    c->authority_der = db_get_bytes(r, 0, 2, &c->authority_der_len);
    if (need_sequestered && !c->bootstrapped)
        return seq_fail(c, "organization `%s` is not bootstrapped", id);
    if (need_sequestered && !c->authority_der)
        return seq_fail(c, "organization `%s` is not sequestered (sequester disabled)", id);
    return 0;
}

static int64_t now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* ---------------------------------------------------------------------------
 * Certificates
 */

/* Sign a new service certificate for label and the key in key_path with
 * the private key in priv_path: malloc'd, or NULL after printing why. */
static uint8_t *make_certificate(seq_ctx_t *c, const char *label, const char *key_path,
                                 const char *priv_path, size_t *len)
{
    uint8_t *out = NULL, *pub_raw = NULL, *priv_raw = NULL, *der = NULL;
    EVP_PKEY *pub = NULL, *priv = NULL;
    char *payload = NULL;
    size_t pub_len = 0, priv_len = 0;
    const char *why = NULL;
    if (!*label || strlen(label) > SEQUESTER_LABEL_MAX) {
        seq_fail(c, "--service-label: 1 to %d bytes", SEQUESTER_LABEL_MAX);
        goto cleanup;
    }
    for (const unsigned char *p = (const unsigned char *)label; *p; p++)
        if (*p < 0x20 || *p == 0x7f) {
            seq_fail(c, "--service-label: no control character");
            goto cleanup;
        }
    if (!(pub_raw = seq_read_file(c, key_path, SEQUESTER_KEY_INPUT_MAX, &pub_len)) ||
        !(priv_raw = seq_read_file(c, priv_path, SEQUESTER_KEY_INPUT_MAX, &priv_len)))
        goto cleanup;
    if (!(pub = sequester_public_key_load(pub_raw, pub_len, &why))) {
        seq_fail(c, "--service-public-key %s: %s", key_path, why);
        goto cleanup;
    }
    if (!(priv = sequester_private_key_load(priv_raw, priv_len, &why))) {
        seq_fail(c, "--authority-private-key %s: %s (an unencrypted RSA private key, PEM or DER)",
                 priv_path, why);
        goto cleanup;
    }
    size_t der_len = sequester_key_der(pub, &der);
    uint8_t id[16];
    if (!der_len || !crypto_random(id, sizeof id)) {
        seq_fail(c, "cannot encode the key or draw an id");
        goto cleanup;
    }
    id[6] = (uint8_t)((id[6] & 0x0f) | 0x40); /* a version 4 UUID */
    id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);
    payload = sequester_service_certif_payload(now_us(), id, label, der, der_len);
    out = sequester_sign(priv, payload, strlen(payload), len);
    if (!out)
        seq_fail(c, "--authority-private-key %s cannot sign", priv_path);
cleanup:
    free(payload);
    OPENSSL_free(der);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(priv);
    free(pub_raw);
    if (priv_raw)
        OPENSSL_cleanse(priv_raw, priv_len);
    free(priv_raw);
    return out;
}

/* Write data to path atomically (a temporary file, then rename). */
static int write_atomic(seq_ctx_t *c, const char *path, const void *data, size_t len)
{
    char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wbx");
    bool ok = f && fwrite(data, 1, len, f) == len;
    ok = f && fclose(f) == 0 && ok;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    int rc = ok ? 0 : seq_fail(c, "--output %s: %s", path, strerror(errno));
    if (!ok)
        unlink(tmp);
    free(tmp);
    return rc;
}

/* ---------------------------------------------------------------------------
 * generate_service_certificate
 */

static int generate_service_certificate(int argc, char **argv)
{
    seq_ctx_t c;
    seq_flag_t f[] = {{"--service-label", true, NULL},
                      {"--service-public-key", true, NULL},
                      {"--authority-private-key", true, NULL},
                      {"--output", true, NULL}};
    int rc = seq_open(&c, PROG " generate_service_certificate",
                      "  --service-label TEXT            the service's name\n"
                      "  --service-public-key FILE       its RSA public key (PEM or DER)\n"
                      "  --authority-private-key FILE    the authority's RSA private key\n"
                      "  --output FILE                   the signed certificate, for\n"
                      "                                  create_service --service-certificate\n",
                      argc, argv, f, 4, false, false);
    if (rc >= 0)
        goto cleanup;
    for (int i = 0; i < 4; i++)
        if (!f[i].value) {
            rc = seq_usage(&c, "%s is required", f[i].name);
            goto cleanup;
        }
    size_t len;
    uint8_t *cert = make_certificate(&c, f[0].value, f[1].value, f[2].value, &len);
    rc = cert ? write_atomic(&c, f[3].value, cert, len) : 1;
    if (rc == 0)
        printf("Service certificate written to %s\n", f[3].value);
    free(cert);
cleanup:
    seq_close(&c);
    return rc;
}

/* ---------------------------------------------------------------------------
 * create_service
 */

DB_STMT(stmt_create, "seq_create_service", 5,
        "INSERT INTO sequester_service (organization, service_id, service_label,"
        " service_certificate, created_on) VALUES ($1::bigint, $2::uuid, $3::text, $4::bytea,"
        " $5::timestamptz) ON CONFLICT (organization, service_id) DO NOTHING RETURNING _id");

static int create_service(int argc, char **argv)
{
    seq_ctx_t c;
    seq_flag_t f[] = {{"--organization", true, NULL},
                      {"--service-label", true, NULL},
                      {"--service-public-key", true, NULL},
                      {"--authority-private-key", true, NULL},
                      {"--service-certificate", true, NULL}};
    uint8_t *cert = NULL;
    size_t len = 0;
    EVP_PKEY *authority = NULL;
    int rc =
        seq_open(&c, PROG " create_service",
                 "  --organization ID               the sequestered organization\n"
                 "  --service-label TEXT            with the two keys below: signs a new\n"
                 "  --service-public-key FILE       certificate for this RSA public key\n"
                 "  --authority-private-key FILE    with the authority's private key\n"
                 "  --service-certificate FILE      or registers a certificate signed\n"
                 "                                  elsewhere (generate_service_certificate)\n",
                 argc, argv, f, 5, false, true);
    if (rc >= 0)
        goto cleanup;
    bool keys = f[1].value || f[2].value || f[3].value;
    if (!f[0].value || keys == (f[4].value != NULL) ||
        (keys && !(f[1].value && f[2].value && f[3].value))) {
        rc = seq_usage(&c, "--organization, and either --service-certificate or all of "
                           "--service-label, --service-public-key and --authority-private-key");
        goto cleanup;
    }
    if ((rc = seq_org(&c, f[0].value, true)) != 0)
        goto cleanup;
    rc = 1;
    cert = f[4].value ? seq_read_file(&c, f[4].value, SEQUESTER_CERTIF_MAX, &len)
                      : make_certificate(&c, f[1].value, f[2].value, f[3].value, &len);
    if (!cert)
        goto cleanup;
    const char *why = NULL;
    authority = sequester_public_key_load(c.authority_der, c.authority_der_len, &why);
    sequester_service_certif_t sc;
    if (!authority) {
        rc = seq_fail(&c, "the organization's authority key does not load: %s", why);
        goto cleanup;
    }
    if (!sequester_service_certif_load(c.arena, authority, cert, len, &sc, &why)) {
        rc = seq_fail(&c, "%s", why);
        goto cleanup;
    }
    int64_t now = now_us();
    if (!proto_ballpark_ok(now, sc.timestamp)) {
        rc = seq_fail(&c, "Invalid certification data (Timestamp is out of date).");
        goto cleanup;
    }
    db_res_t *r =
        DB_RUN(c.db, c.arena, &c.failed, &stmt_create, DB_I64(c.org), DB_UUID(sc.service_id),
               DB_TEXT(sc.label), DB_BYTES(cert, len), DB_TS(now));
    if (c.failed)
        rc = seq_fail(&c, "the database failed (see the log)");
    else if (db_nrows(r) != 1)
        rc = seq_fail(&c, "Sequester service `%s` already exists", sc.service_id_hex);
    else {
        printf("Service created (id: %s, label: %s)\n", sc.service_id_hex, sc.label);
        rc = 0;
    }
cleanup:
    EVP_PKEY_free(authority);
    free(cert);
    seq_close(&c);
    return rc;
}

/* ---------------------------------------------------------------------------
 * list_services
 */

DB_STMT(stmt_list, "seq_list_services", 1,
        "SELECT encode(uuid_send(service_id), 'hex'), service_label, created_on, disabled_on"
        " FROM sequester_service WHERE organization = $1::bigint"
        " ORDER BY disabled_on IS NOT NULL, _id");

static int list_services(int argc, char **argv)
{
    seq_ctx_t c;
    seq_flag_t f[] = {{"--organization", true, NULL}, {"--json", false, NULL}};
    int rc =
        seq_open(&c, PROG " list_services",
                 "  --organization ID   the organization\n"
                 "  --json              one JSON object: {\"services\": [{\"service_id\",\n"
                 "                      \"service_label\", \"created_on\", \"disabled_on\"}]}\n",
                 argc, argv, f, 2, false, true);
    if (rc >= 0)
        goto cleanup;
    if (!f[0].value) {
        rc = seq_usage(&c, "--organization is required");
        goto cleanup;
    }
    if ((rc = seq_org(&c, f[0].value, true)) != 0)
        goto cleanup;
    db_res_t *r = DB_RUN(c.db, c.arena, &c.failed, &stmt_list, DB_I64(c.org));
    if (c.failed) {
        rc = seq_fail(&c, "the database failed (see the log)");
        goto cleanup;
    }
    size_t n = db_nrows(r);
    json_object *list = json_object_new_array();
    if (!f[1].value)
        printf("Found %zu sequester service(s)\n", n);
    for (size_t i = 0; i < n; i++) {
        char created[PROTO_DATETIME_LEN + 1], disabled[PROTO_DATETIME_LEN + 1] = "";
        proto_datetime_format(db_get_ts(r, i, 2), created);
        bool is_disabled = !db_is_null(r, i, 3);
        if (is_disabled)
            proto_datetime_format(db_get_ts(r, i, 3), disabled);
        const char *id = db_get_str(r, i, 0), *label = db_get_str(r, i, 1);
        if (!f[1].value) {
            printf("Service %s (id: %s)\n\tCreated on: %s\n", label, id, created);
            if (is_disabled)
                printf("\tDisabled on: %s\n", disabled);
        }
        json_object *o = json_object_new_object();
        json_object_object_add(o, "service_id", json_object_new_string(id));
        json_object_object_add(o, "service_label", json_object_new_string(label));
        json_object_object_add(o, "created_on", json_object_new_string(created));
        json_object_object_add(o, "disabled_on",
                               is_disabled ? json_object_new_string(disabled) : NULL);
        json_object_array_add(list, o);
    }
    if (f[1].value) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "services", list);
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
    } else {
        json_object_put(list);
    }
    rc = 0;
cleanup:
    seq_close(&c);
    return rc;
}

/* ---------------------------------------------------------------------------
 * update_service
 */

/* $1 organization, $2 service, $3 enable.  One row (was it enabled, rows
 * changed) when the service exists. */
DB_STMT(stmt_update, "seq_update_service", 3,
        "WITH s AS (SELECT _id, disabled_on IS NULL AS enabled FROM sequester_service"
        "  WHERE organization = $1::bigint AND service_id = $2::uuid FOR UPDATE),"
        " u AS (UPDATE sequester_service SET disabled_on = CASE WHEN $3::boolean THEN NULL"
        "  ELSE clock_timestamp() END FROM s WHERE sequester_service._id = s._id"
        "  AND s.enabled <> $3::boolean RETURNING 1)"
        " SELECT s.enabled, (SELECT count(*) FROM u) FROM s");

static int update_service(int argc, char **argv)
{
    seq_ctx_t c;
    seq_flag_t f[] = {{"--organization", true, NULL},
                      {"--service", true, NULL},
                      {"--enable", false, NULL},
                      {"--disable", false, NULL}};
    int rc = seq_open(&c, PROG " update_service",
                      "  --organization ID   the organization\n"
                      "  --service HEX       the service id (list_services)\n"
                      "  --enable            its clients must write for it again\n"
                      "  --disable           it gets no new blob (it keeps the old ones)\n",
                      argc, argv, f, 4, false, true);
    if (rc >= 0)
        goto cleanup;
    uint8_t id[16];
    if (!f[0].value || !f[1].value || (f[2].value != NULL) == (f[3].value != NULL)) {
        rc = seq_usage(&c, "--organization, --service and exactly one of --enable, --disable");
        goto cleanup;
    }
    if (!seq_parse_uuid(f[1].value, id)) {
        rc = seq_usage(&c, "--service: `%s` is not a service id", f[1].value);
        goto cleanup;
    }
    if ((rc = seq_org(&c, f[0].value, true)) != 0)
        goto cleanup;
    bool enable = f[2].value != NULL;
    db_res_t *r =
        DB_RUN(c.db, c.arena, &c.failed, &stmt_update, DB_I64(c.org), DB_UUID(id), DB_BOOL(enable));
    if (c.failed)
        rc = seq_fail(&c, "the database failed (see the log)");
    else if (db_nrows(r) != 1)
        rc = seq_fail(&c, "Sequester service `%s` not found", f[1].value);
    else if (db_get_i64(r, 0, 1) == 0)
        rc = seq_fail(&c, "Sequester service `%s` already %s", f[1].value,
                      enable ? "enabled" : "disabled");
    else {
        printf("Service updated\n");
        rc = 0;
    }
cleanup:
    seq_close(&c);
    return rc;
}

/* ---------------------------------------------------------------------------
 * The dispatcher
 */

int cli_backend_sequester(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {
        {"create_service", create_service},
        {"generate_service_certificate", generate_service_certificate},
        {"list_services", list_services},
        {"update_service", update_service},
        {"export_realm", seq_export_realm},
    };
    if (argc >= 1)
        for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
            if (!strcmp(argv[0], cmds[i].name))
                return cmds[i].fn(argc - 1, argv + 1);
    bool help = argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"));
    fputs(
        "usage: " PROG " create_service --organization ID (--service-certificate FILE |\n"
        "           --service-label TEXT --service-public-key FILE --authority-private-key FILE)\n"
        "       " PROG " generate_service_certificate --service-label TEXT\n"
        "           --service-public-key FILE --authority-private-key FILE --output FILE\n"
        "       " PROG " list_services --organization ID [--json]\n"
        "       " PROG " update_service --organization ID --service HEX (--enable | --disable)\n"
        "       " PROG " export_realm --organization ID --realm HEX --service HEX\n"
        "           --output PATH --blockstore CONFIG\n"
        "Each takes --db URL (or PARSEC_DB) and --help.  Exit status: 0 done, 1 refused or\n"
        "failed, 2 bad usage.\n",
        help ? stdout : stderr);
    return help ? 0 : 2;
}
