/*
 * bench/blockstore_bench.c - block upload and download MB/s through the
 * blockstore, against the same transfers done bare, in the same run
 *
 *   blockstore_bench pg DB_URL [BLOCKS] [ROUNDS]
 *       POSTGRESQL store (blockstore_create/read on one pooled connection)
 *       vs a raw bytea INSERT / SELECT of the same blocks on one plain
 *       connection (prepared, binary parameters and results)
 *   blockstore_bench s3 ENDPOINT BUCKET KEY SECRET [BLOCKS] [ROUNDS]
 *       S3 store (HEAD + signed PUT, signed GET on the thread's reused
 *       handle) vs a bare libcurl signed PUT / GET of the same objects on
 *       one reused easy handle to the same server
 *
 *   ... [RPC_URL ORG DEVICE SEED_HEX REALM]
 *       with these five more arguments, "ours" is block_create / block_read
 *       through the worker at RPC_URL (as DEVICE of ORG, in REALM, one
 *       reused HTTP connection), configured with the same store, instead
 *       of the blockstore called in this process: the commands' whole cost
 *       (HTTP, FastCGI, JSON and base64, the claim and the record) against
 *       the same bare baselines; then the same through the binary routes
 *       (POST/GET .../block/<id>, raw bodies), reported on lines of their own
 *       With BENCH_BARE_BLOCKS_URL set (pg only): the web server's share of
 *       a download too, as many GETs of that URL, answered by
 *       bench/fcgi_bare's large mode (512 KiB from memory, the worker's
 *       record writer) behind the same web server; the bare SELECT plus
 *       that is the most any worker can reach, reported with its ratio to
 *       the bare SELECT and the binary route's ratio to it
 *   blockstore_bench fill RPC_URL ORG DEVICE SEED_HEX REALM COUNT SIZE
 *       COUNT block_create of SIZE bytes, then COUNT block_read, through
 *       the worker (bench/block-bench reads its RSS around it)
 *
 * Blocks are 512 KiB of random bytes; each round runs the baseline and
 * ours alternately (BLOCKS uploads, then BLOCKS downloads each), so that
 * both see the same machine load.  Prints MB/s of each and the ratios
 * ours/bare (the targets: 0.5 for PostgreSQL, 0.7 for S3).  Run it
 * through bench/blockstore-bench, which starts the servers.
 */
#include "blockstore.h"
#include "cfg.h"
#include "crypto.h"
#include "db.h"
#include "log.h"
#include "pclient.h"
#include "strbuf.h"
#include "xalloc.h"

#include <curl/curl.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BLOCK (512 * 1024)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "blockstore_bench: %s\n", what);
    exit(1);
}

typedef struct {
    int n;
    uint8_t (*ids)[16];
    uint8_t *data; /* n * BLOCK */
    uint8_t *buf;
} set_t;

static void set_new(set_t *s, int n)
{
    s->n = n;
    s->ids = xcalloc((size_t)n, 16);
    s->data = xmalloc((size_t)n * BLOCK);
    s->buf = xmalloc(BLOCK);
    if (!crypto_random(s->data, (size_t)n * BLOCK) || !crypto_random(s->ids, (size_t)n * 16))
        die("random");
}

static void set_renew_ids(set_t *s)
{
    if (!crypto_random(s->ids, (size_t)s->n * 16))
        die("random");
}

typedef struct {
    double up, down; /* seconds */
} times_t;

static double mbps(int n, double secs)
{
    return (double)n * BLOCK / 1e6 / secs;
}

static void print(const char *what, int n, const times_t *bare, const times_t *ours, double target)
{
    printf("%s upload:   ours %8.1f MB/s   bare %8.1f MB/s   ratio %.3f (target >= %.1f)\n", what,
           mbps(n, ours->up), mbps(n, bare->up), bare->up / ours->up, target);
    printf("%s download: ours %8.1f MB/s   bare %8.1f MB/s   ratio %.3f (target >= %.1f)\n", what,
           mbps(n, ours->down), mbps(n, bare->down), bare->down / ours->down, target);
}

/* ---- through the worker: block_create / block_read ---------------------------- */

typedef struct {
    const char *url; /* RPC_URL/authenticated/ORG */
    pclient_device_t d;
    char realm_hex[33];
    CURL *c;
    strbuf_t out;
    int n_bodies;
    char **bodies; /* per block of the set: the block_create request */
    size_t *b64_at, *b64_len;
} rpc_t;

static rpc_t *g_rpc; /* NULL: ours is the blockstore in this process */

static size_t rpc_wr(char *p, size_t sz, size_t nm, void *ud)
{
    strbuf_append((strbuf_t *)ud, p, sz * nm);
    return sz * nm;
}

static bool rpc_open(rpc_t *r, char **argv)
{
    memset(r, 0, sizeof *r);
    uint8_t seed[32];
    if (strlen(argv[3]) != 64 || strlen(argv[4]) != 32)
        return false;
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (sscanf(argv[3] + 2 * i, "%2x", &v) != 1)
            return false;
        seed[i] = (uint8_t)v;
    }
    pclient_key_from_seed(&r->d.key, seed);
    r->d.organization_id = argv[1];
    r->d.device_id = argv[2];
    snprintf(r->realm_hex, sizeof r->realm_hex, "%s", argv[4]);
    r->url = xasprintf("%s/authenticated/%s", argv[0], argv[1]);
    r->c = curl_easy_init();
    return r->c != NULL;
}

/* rpc_send - POST body (of content type ctype) to url, or GET url when
 * body is NULL, as the device, on the reused handle; the answer in r->out;
 * dies unless HTTP 200. */
static void rpc_send(rpc_t *r, const char *url, const char *ctype, const void *body, size_t len)
{
    char *auth = pclient_auth_header(&r->d, pclient_now_us() / 1000000);
    char *ah = xasprintf("Authorization: %s", auth);
    char *ch = xasprintf("Content-Type: %s", ctype);
    struct curl_slist *h = curl_slist_append(NULL, ah);
    h = curl_slist_append(h, "Api-Version: 3.2");
    if (body) {
        h = curl_slist_append(h, ch);
        /* no "Expect: 100-continue" round trip before each body, as clients send */
        h = curl_slist_append(h, "Expect:");
        curl_easy_setopt(r->c, CURLOPT_POSTFIELDS, (const char *)body);
        curl_easy_setopt(r->c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else {
        curl_easy_setopt(r->c, CURLOPT_HTTPGET, 1L);
    }
    r->out.len = 0;
    if (r->out.s)
        r->out.s[0] = '\0';
    curl_easy_setopt(r->c, CURLOPT_URL, url);
    curl_easy_setopt(r->c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(r->c, CURLOPT_WRITEFUNCTION, rpc_wr);
    curl_easy_setopt(r->c, CURLOPT_WRITEDATA, &r->out);
    long st = 0;
    if (curl_easy_perform(r->c) != CURLE_OK)
        die("rpc: no answer");
    curl_easy_getinfo(r->c, CURLINFO_RESPONSE_CODE, &st);
    curl_slist_free_all(h);
    free(ch);
    free(ah);
    free(auth);
    if (st != 200) {
        fprintf(stderr, "blockstore_bench: HTTP %ld %.200s\n", st, strbuf_cstr(&r->out));
        die("rpc: not 200");
    }
}

/* rpc_ok - r->out is the ok reply. */
static void rpc_ok(rpc_t *r)
{
    if (strncmp(strbuf_cstr(&r->out), "{\"status\":\"ok\"", 14) != 0) {
        fprintf(stderr, "blockstore_bench: %.200s\n", strbuf_cstr(&r->out));
        die("rpc: not ok");
    }
}

/* rpc_post - body as a command; dies unless its reply starts with
 * "status":"ok". */
static void rpc_post(rpc_t *r, const char *body, size_t len)
{
    rpc_send(r, r->url, "application/json", body, len);
    rpc_ok(r);
}

static void hex32(const uint8_t id[16], char out[33])
{
    for (int i = 0; i < 16; i++)
        sprintf(out + 2 * i, "%02x", id[i]);
}

/* rpc_bodies - the block_create requests of the set's blocks (built
 * before the clock runs: a client's encoding is not the server's cost). */
static void rpc_bodies(rpc_t *r, const set_t *s, size_t size)
{
    if (!r->bodies) {
        r->n_bodies = s->n;
        r->bodies = xcalloc((size_t)s->n, sizeof *r->bodies);
        r->b64_at = xcalloc((size_t)s->n, sizeof *r->b64_at);
        r->b64_len = xcalloc((size_t)s->n, sizeof *r->b64_len);
    }
    for (int i = 0; i < s->n; i++) {
        char id[33];
        hex32(s->ids[i], id);
        char *b64 = pclient_b64(s->data + (size_t)i * size, size);
        free(r->bodies[i]);
        r->bodies[i] = xasprintf(
            "{\"cmd\":\"block_create\",\"block_id\":\"%s\",\"realm_id\":\"%s\",\"block\":\"%s\"}",
            id, r->realm_hex, b64);
        r->b64_len[i] = strlen(b64);
        r->b64_at[i] = strlen(r->bodies[i]) - r->b64_len[i] - 2;
        free(b64);
    }
}

/* rpc_read - block_read of block i; its base64 must be the one sent. */
static void rpc_read(rpc_t *r, const set_t *s, int i)
{
    char id[33], body[100];
    hex32(s->ids[i], id);
    int n = snprintf(body, sizeof body, "{\"cmd\":\"block_read\",\"block_id\":\"%s\"}", id);
    rpc_post(r, body, (size_t)n);
    const char *got = strstr(strbuf_cstr(&r->out), "\"block\":\"");
    if (!got || strncmp(got + 9, r->bodies[i] + r->b64_at[i], r->b64_len[i]) != 0 ||
        got[9 + r->b64_len[i]] != '"')
        die("rpc: block_read gave other bytes");
}

static void rpc_run(rpc_t *r, set_t *s, times_t *t)
{
    rpc_bodies(r, s, BLOCK);
    double t0 = now();
    for (int i = 0; i < s->n; i++)
        rpc_post(r, r->bodies[i], strlen(r->bodies[i]));
    double t1 = now();
    for (int i = 0; i < s->n; i++)
        rpc_read(r, s, i);
    t->up += t1 - t0;
    t->down += now() - t1;
}

/* rpc_bin - the binary form (docs/protocol.md, "Blocks as binary
 * bodies"): POST .../block/<id>?realm_id=<realm> with the raw block when
 * data is not NULL, else GET .../block/<id>; dies unless HTTP 200 with,
 * for the POST, the ok reply and, for the GET, exactly want[0..len). */
static void rpc_bin(rpc_t *r, const uint8_t id[16], const uint8_t *data, const uint8_t *want,
                    size_t len)
{
    char hex[33];
    hex32(id, hex);
    char *url = data ? xasprintf("%s/block/%s?realm_id=%s", r->url, hex, r->realm_hex)
                     : xasprintf("%s/block/%s", r->url, hex);
    rpc_send(r, url, "application/octet-stream", data, len);
    free(url);
    if (data)
        rpc_ok(r);
    else if (r->out.len != len || memcmp(r->out.s, want, len) != 0)
        die("rpc: binary block_read gave other bytes");
}

static void rpc_bin_run(rpc_t *r, set_t *s, times_t *t)
{
    double t0 = now();
    for (int i = 0; i < s->n; i++)
        rpc_bin(r, s->ids[i], s->data + (size_t)i * BLOCK, NULL, BLOCK);
    double t1 = now();
    for (int i = 0; i < s->n; i++)
        rpc_bin(r, s->ids[i], NULL, s->data + (size_t)i * BLOCK, BLOCK);
    t->up += t1 - t0;
    t->down += now() - t1;
}

static void rpc_close(rpc_t *r)
{
    for (int i = 0; i < r->n_bodies; i++)
        free(r->bodies[i]);
    free(r->bodies);
    free(r->b64_at);
    free(r->b64_len);
    curl_easy_cleanup(r->c);
    strbuf_free(&r->out);
    free((char *)r->url);
}

/* fill - COUNT creates of SIZE bytes, then COUNT reads, through the worker. */
static int fill(rpc_t *r, int count, int size)
{
    set_t s;
    s.n = 1;
    s.ids = xcalloc(1, 16);
    s.data = xmalloc((size_t)size ? (size_t)size : 1);
    s.buf = NULL;
    if (!crypto_random(s.data, (size_t)size))
        die("random");
    uint8_t(*ids)[16] = xcalloc((size_t)count, 16);
    if (!crypto_random(ids, (size_t)count * 16))
        die("random");
    double t0 = now();
    for (int i = 0; i < count; i++) {
        memcpy(s.ids[0], ids[i], 16);
        rpc_bodies(r, &s, (size_t)size);
        rpc_post(r, r->bodies[0], strlen(r->bodies[0]));
    }
    double t1 = now();
    for (int i = 0; i < count; i++) {
        memcpy(s.ids[0], ids[i], 16);
        /* the body's base64 is the same for every id: compare with it */
        rpc_read(r, &s, 0);
    }
    printf("fill: %d block_create of %d bytes in %.1f s, %d block_read in %.1f s\n", count, size,
           t1 - t0, count, now() - t1);
    free(ids);
    free(s.ids);
    free(s.data);
    return 0;
}

/* ---- PostgreSQL ----------------------------------------------------------- */

static void pg_bare(PGconn *pg, set_t *s, times_t *t)
{
    char uuid[40];
    double t0 = now();
    for (int i = 0; i < s->n; i++) {
        uint8_t *id = s->ids[i];
        snprintf(uuid, sizeof uuid,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", id[0],
                 id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9], id[10], id[11],
                 id[12], id[13], id[14], id[15]);
        const char *v[2] = {uuid, (const char *)(s->data + (size_t)i * BLOCK)};
        int l[2] = {0, BLOCK}, f[2] = {0, 1};
        PGresult *r = PQexecPrepared(pg, "bare_ins", 2, v, l, f, 1);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            die(PQerrorMessage(pg));
        PQclear(r);
    }
    double t1 = now();
    for (int i = 0; i < s->n; i++) {
        uint8_t *id = s->ids[i];
        snprintf(uuid, sizeof uuid,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", id[0],
                 id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9], id[10], id[11],
                 id[12], id[13], id[14], id[15]);
        const char *v[1] = {uuid};
        PGresult *r = PQexecPrepared(pg, "bare_sel", 1, v, NULL, NULL, 1);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 ||
            PQgetlength(r, 0, 0) != BLOCK)
            die("bare select");
        memcpy(s->buf, PQgetvalue(r, 0, 0), BLOCK);
        PQclear(r);
    }
    t->up += t1 - t0;
    t->down += now() - t1;
}

static void ours_run(blockstore_ctx_t *ctx, db_conn_t *db, set_t *s, times_t *t)
{
    double t0 = now();
    for (int i = 0; i < s->n; i++)
        if (blockstore_create(ctx, db, "BenchOrg", s->ids[i], s->data + (size_t)i * BLOCK, BLOCK) !=
            BLOCKSTORE_OK)
            die("blockstore_create");
    double t1 = now();
    for (int i = 0; i < s->n; i++)
        if (blockstore_read(ctx, db, "BenchOrg", s->ids[i], s->buf, BLOCK) != BLOCKSTORE_OK ||
            memcmp(s->buf, s->data + (size_t)i * BLOCK, BLOCK) != 0)
            die("blockstore_read");
    t->up += t1 - t0;
    t->down += now() - t1;
}

/* ---- the web server's share: a bare 512 KiB answer ---------------------------- */

/* hop_run - as many GETs of url as the set has blocks, each answered by
 * bench/fcgi_bare's large mode (512 KiB from memory, the worker's record
 * writer) behind the same web server, on one reused handle: what a
 * download costs without the database. */
static void hop_run(CURL *c, const char *url, set_t *s, times_t *t)
{
    strbuf_t out = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, rpc_wr);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    double t0 = now();
    for (int i = 0; i < s->n; i++) {
        out.len = 0;
        long st = 0;
        if (curl_easy_perform(c) != CURLE_OK)
            die("bare FastCGI: no answer");
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
        if (st != 200 || out.len != BLOCK)
            die("bare FastCGI: not 512 KiB");
    }
    t->down += now() - t0;
    strbuf_free(&out);
}

static int bench_pg(const char *url, int n, int rounds)
{
    cfg_t cfg;
    char err[512];
    char *argv[] = {"--db", (char *)url, "-b", "POSTGRESQL", "--db-min-connections", "1", NULL};
    char *envp[] = {NULL};
    if (cfg_parse(&cfg, 6, argv, envp, err, sizeof err, NULL, NULL) != CFG_PARSE_OK)
        die(err);
    blockstore_t *bs = blockstore_open(&cfg, err, sizeof err);
    db_pool_t *pool = db_pool_open(&cfg, url, err, sizeof err, NULL);
    if (!bs || !pool)
        die(err);
    db_conn_t *db = db_acquire(pool);
    blockstore_ctx_t *ctx = blockstore_ctx_new(bs);
    PGconn *pg = PQconnectdb(url);
    if (PQstatus(pg) != CONNECTION_OK)
        die(PQerrorMessage(pg));
    PQclear(PQprepare(pg, "bare_ins",
                      "INSERT INTO block_data (node, organization_id, block_id, data) "
                      "VALUES (7, 'BareOrg', $1, $2)",
                      2, NULL));
    PQclear(PQprepare(pg, "bare_sel",
                      "SELECT data FROM block_data WHERE node = 7 AND organization_id = "
                      "'BareOrg' AND block_id = $1",
                      1, NULL));
    set_t s;
    set_new(&s, n);
    times_t bare = {0, 0}, ours = {0, 0}, bin = {0, 0}, hop = {0, 0};
    const char *hop_base = g_rpc ? getenv("BENCH_BARE_BLOCKS_URL") : NULL;
    CURL *hop_c = hop_base && *hop_base ? curl_easy_init() : NULL;
    for (int r = 0; r < rounds; r++) {
        set_renew_ids(&s);
        pg_bare(pg, &s, &bare);
        if (g_rpc) {
            rpc_run(g_rpc, &s, &ours);
            set_renew_ids(&s);
            rpc_bin_run(g_rpc, &s, &bin);
            if (hop_c)
                hop_run(hop_c, hop_base, &s, &hop);
        } else {
            ours_run(ctx, db, &s, &ours);
        }
        PQclear(PQexec(pg, "TRUNCATE block_data"));
    }
    print(g_rpc ? "block commands (JSON), POSTGRESQL store, 512 KiB" : "POSTGRESQL 512 KiB",
          n * rounds, &bare, &ours, 0.5);
    if (g_rpc)
        print("block commands (binary), POSTGRESQL store, 512 KiB", n * rounds, &bare, &bin, 0.5);
    if (hop_c) {
        /* a download is the SELECT, then the answer through the web server:
         * with the two bare, the most any worker can reach */
        double ceiling = bare.down + hop.down;
        printf("bare FastCGI answer of 512 KiB, same web server:            %8.1f MB/s;"
               " with the bare SELECT before it: %.1f MB/s, ratio %.3f (a worker's ceiling);"
               " binary block_read / that ceiling %.3f\n",
               mbps(n * rounds, hop.down), mbps(n * rounds, ceiling), bare.down / ceiling,
               ceiling / bin.down);
        curl_easy_cleanup(hop_c);
    }
    PQfinish(pg);
    blockstore_ctx_free(ctx);
    db_release(pool, db);
    db_pool_close(pool);
    blockstore_close(bs);
    cfg_free(&cfg);
    free(s.ids);
    free(s.data);
    free(s.buf);
    return 0;
}

/* ---- S3 ------------------------------------------------------------------------ */

typedef struct {
    const uint8_t *src;
    size_t len, off;
    uint8_t *dst;
    size_t got;
} xfer_t;

static size_t rd(char *p, size_t sz, size_t nm, void *ud)
{
    xfer_t *x = ud;
    size_t n = sz * nm, left = x->len - x->off;
    if (n > left)
        n = left;
    memcpy(p, x->src + x->off, n);
    x->off += n;
    return n;
}

static size_t wr(char *p, size_t sz, size_t nm, void *ud)
{
    xfer_t *x = ud;
    size_t n = sz * nm;
    if (x->got + n > BLOCK)
        return 0;
    memcpy(x->dst + x->got, p, n);
    x->got += n;
    return n;
}

static size_t wr_discard(char *p, size_t sz, size_t nm, void *ud)
{
    (void)p;
    (void)ud;
    return sz * nm;
}

static void hexsha(const void *d, size_t n, char out[65])
{
    uint8_t md[32];
    crypto_sha256(d, n, md);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

/* bare_one - one signed PUT (data) or GET on the reused handle c. */
static void bare_one(CURL *c, const char *url, const char *key, const char *secret,
                     const uint8_t *data, uint8_t *buf)
{
    char sha[65], hdr[100];
    xfer_t x = {data, BLOCK, 0, buf, 0};
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:s3");
    curl_easy_setopt(c, CURLOPT_USERNAME, key);
    curl_easy_setopt(c, CURLOPT_PASSWORD, secret);
    if (data) {
        hexsha(data, BLOCK, sha);
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, rd);
        curl_easy_setopt(c, CURLOPT_READDATA, &x);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)BLOCK);
    } else {
        hexsha("", 0, sha);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, wr);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    }
    snprintf(hdr, sizeof hdr, "x-amz-content-sha256: %s", sha);
    struct curl_slist *h = curl_slist_append(NULL, hdr);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    long st = 0;
    if (curl_easy_perform(c) != CURLE_OK)
        die("bare transfer failed");
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    curl_slist_free_all(h);
    if (st != 200 || (!data && x.got != BLOCK))
        die("bare transfer: bad answer");
}

/* make_bucket - PUT the bucket (signed); an existing one is fine. */
static void make_bucket(CURL *c, const char *endpoint, const char *bucket, const char *key,
                        const char *secret)
{
    char url[1024], sha[65], hdr[100];
    snprintf(url, sizeof url, "%s/%s", endpoint, bucket);
    hexsha("", 0, sha);
    snprintf(hdr, sizeof hdr, "x-amz-content-sha256: %s", sha);
    struct curl_slist *h = curl_slist_append(NULL, hdr);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:s3");
    curl_easy_setopt(c, CURLOPT_USERNAME, key);
    curl_easy_setopt(c, CURLOPT_PASSWORD, secret);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, wr_discard);
    long st = 0;
    if (curl_easy_perform(c) != CURLE_OK)
        die("creating the bucket failed");
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    curl_slist_free_all(h);
    if (st != 200 && st != 409)
        die("creating the bucket: bad answer");
}

static int bench_s3(const char *endpoint, const char *bucket, const char *key, const char *secret,
                    int n, int rounds)
{
    cfg_t cfg;
    char err[512], spec[1024], url[1024];
    strbuf_t esc = STRBUF_INIT;
    for (const char *p = endpoint; *p; p++) {
        if (*p == ':' || *p == '\\')
            strbuf_putc(&esc, '\\');
        strbuf_putc(&esc, *p);
    }
    strbuf_t ekey = STRBUF_INIT;
    for (const char *p = key; *p; p++) {
        if (*p == ':' || *p == '\\')
            strbuf_putc(&ekey, '\\');
        strbuf_putc(&ekey, *p);
    }
    snprintf(spec, sizeof spec, "s3:%s:us-east-1:%s:%s:%s", strbuf_cstr(&esc), bucket,
             strbuf_cstr(&ekey), secret);
    strbuf_free(&esc);
    strbuf_free(&ekey);
    char *argv[] = {"-b", spec, NULL};
    char *envp[] = {NULL};
    if (cfg_parse(&cfg, 2, argv, envp, err, sizeof err, NULL, NULL) != CFG_PARSE_OK)
        die(err);
    CURL *c = curl_easy_init();
    make_bucket(c, endpoint, bucket, key, secret);
    blockstore_t *bs = blockstore_open(&cfg, err, sizeof err);
    if (!bs)
        die(err);
    blockstore_ctx_t *ctx = blockstore_ctx_new(bs);
    set_t s;
    set_new(&s, n);
    times_t bare = {0, 0}, ours = {0, 0}, bin = {0, 0};
    for (int r = 0; r < rounds; r++) {
        set_renew_ids(&s);
        double t0 = now();
        for (int i = 0; i < n; i++) {
            snprintf(url, sizeof url, "%s/%s/BareOrg/%d-%d", endpoint, bucket, r, i);
            bare_one(c, url, key, secret, s.data + (size_t)i * BLOCK, NULL);
        }
        double t1 = now();
        for (int i = 0; i < n; i++) {
            snprintf(url, sizeof url, "%s/%s/BareOrg/%d-%d", endpoint, bucket, r, i);
            bare_one(c, url, key, secret, NULL, s.buf);
        }
        bare.up += t1 - t0;
        bare.down += now() - t1;
        if (g_rpc) {
            rpc_run(g_rpc, &s, &ours);
            set_renew_ids(&s);
            rpc_bin_run(g_rpc, &s, &bin);
        } else {
            ours_run(ctx, NULL, &s, &ours);
        }
    }
    print(g_rpc ? "block commands (JSON), S3 store, 512 KiB" : "S3 512 KiB", n * rounds, &bare,
          &ours, 0.7);
    if (g_rpc)
        print("block commands (binary), S3 store, 512 KiB", n * rounds, &bare, &bin, 0.7);
    curl_easy_cleanup(c);
    blockstore_ctx_free(ctx);
    blockstore_close(bs);
    cfg_free(&cfg);
    free(s.ids);
    free(s.data);
    free(s.buf);
    return 0;
}

int main(int argc, char **argv)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char err[256];
    if (!log_open(CFG_LOG_ERROR, CFG_LOG_CONSOLE, NULL, "blockstore_bench", err, sizeof err))
        die(err);
    int rc = 2;
    rpc_t rpc;
    /* the optional RPC_URL ORG DEVICE SEED_HEX REALM after the usual ones */
    int base = argc >= 2 && !strcmp(argv[1], "pg") ? 5 : 8;
    if (argc == base + 5 && strcmp(argv[1], "fill") != 0) {
        if (!rpc_open(&rpc, argv + base))
            die("bad RPC arguments");
        g_rpc = &rpc;
    }
    if (argc >= 3 && !strcmp(argv[1], "pg") && (argc <= 5 || g_rpc))
        rc = bench_pg(argv[2], argc > 3 ? atoi(argv[3]) : 50, argc > 4 ? atoi(argv[4]) : 3);
    else if (argc >= 6 && !strcmp(argv[1], "s3") && (argc <= 8 || g_rpc))
        rc = bench_s3(argv[2], argv[3], argv[4], argv[5], argc > 6 ? atoi(argv[6]) : 50,
                      argc > 7 ? atoi(argv[7]) : 3);
    else if (argc == 9 && !strcmp(argv[1], "fill") && rpc_open(&rpc, argv + 2))
        rc = (g_rpc = &rpc, fill(&rpc, atoi(argv[7]), atoi(argv[8])));
    else
        fprintf(stderr,
                "usage: blockstore_bench pg DB_URL [BLOCKS ROUNDS [RPC_URL ORG DEVICE SEED_HEX "
                "REALM]]\n"
                "       blockstore_bench s3 ENDPOINT BUCKET KEY SECRET [BLOCKS ROUNDS [RPC_URL ORG "
                "DEVICE SEED_HEX REALM]]\n"
                "       blockstore_bench fill RPC_URL ORG DEVICE SEED_HEX REALM COUNT SIZE\n");
    if (g_rpc)
        rpc_close(g_rpc);
    log_close();
    curl_global_cleanup();
    return rc;
}
