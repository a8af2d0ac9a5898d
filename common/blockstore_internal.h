/*
 * common/blockstore_internal.h - what the files of the blockstore share
 *
 * Private to common/blockstore*.c; everything else includes blockstore.h.
 * One module in several files, one concern each:
 *   blockstore.c        open/close, contexts, the public calls, node order;
 *   blockstore_exec.c   running node requests together: PostgreSQL ones in
 *                       turn, HTTP ones concurrently on the ctx's libcurl
 *                       multi handle, each a small state machine;
 *   blockstore_pg.c     POSTGRESQL (and MOCKED) nodes: the block_data table;
 *   blockstore_s3.c     S3 nodes: SigV4 by libcurl, path or virtual host;
 *   blockstore_swift.c  Swift nodes: v1 auth, shared token, renewal;
 *   blockstore_raid.c   single store, RAID0, RAID1, RAID5 over node requests;
 *   blockstore_scrub.c  comparing and repairing every node of one block.
 *
 * A node request (bs_req_t) is one operation on one node: GET exactly
 * `size` bytes, CREATE (never overwriting) or PUT (overwriting, for
 * repairs).  The RAID layer builds requests, bs_exec() runs them, and each
 * ends with a bs_result.
 */
#ifndef PARSEC_BLOCKSTORE_INTERNAL_H
#define PARSEC_BLOCKSTORE_INTERNAL_H

#include "blockstore.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>

/* After a failure, a node is tried last by reads for this long. */
#define BS_NODE_BACKOFF_MS 5000

typedef enum { BS_GET, BS_CREATE, BS_PUT } bs_op;

typedef enum {
    BSR_PENDING = 0,
    BSR_OK,
    BSR_NOT_FOUND,
    BSR_EXISTS,     /* CREATE: other bytes under this name */
    BSR_WRONG_SIZE, /* GET: an object of another length */
    BSR_FAILED,     /* the node failed, timed out, or answered nonsense */
} bs_result;

typedef struct bs_node bs_node_t;
typedef struct bs_req bs_req_t;

/* HTTP steps of a request (what the easy handle is doing now). */
typedef enum {
    BS_STEP_NONE = 0,
    BS_STEP_AUTH,  /* Swift: GET auth_url for a token */
    BS_STEP_HEAD,  /* S3 CREATE: is the name taken? ETag of what is there */
    BS_STEP_CMP,   /* CREATE: GET what is there, compared with our bytes */
    BS_STEP_MAIN,  /* the GET or PUT itself */
    BS_STEP_CHECK, /* open: HEAD bucket / container */
} bs_step;

struct bs_req {
    bs_node_t *node;
    bs_op op;
    const char *org;
    const uint8_t *block_id;
    const uint8_t *data; /* CREATE/PUT body, len bytes (may be NULL when 0) */
    size_t len;
    uint8_t *buf; /* GET: exactly size bytes expected, written here */
    size_t size;
    bs_result result;

    /* HTTP state, owned by blockstore_exec.c and the backends */
    CURL *easy;
    struct curl_slist *headers;
    bs_step step;
    int attempts;     /* Swift: renewals of the token for this request */
    size_t sent, got; /* bytes of the body sent / received in this step */
    bool cmp_differs; /* BS_STEP_CMP: a received byte differs */
    long status;      /* HTTP status of the step */
    char etag[80];    /* ETag response header of the step, unquoted */
    /* Swift authentication replies (X-Auth-Token, X-Storage-Url,
     * X-Auth-Token-Expires); the token is a secret: never logged. */
    char auth_token[256];
    char storage_url[512];
    long auth_expires;  /* seconds, -1 when not given */
    char *url;          /* malloc'd, of the step */
    char token[256];    /* Swift: the token this request used */
    unsigned token_gen; /* Swift: its generation */
    char errbuf[CURL_ERROR_SIZE];
};

/* What a backend does; PostgreSQL backends only set run_sync. */
typedef struct {
    const char *name; /* "s3", "swift", "POSTGRESQL", "MOCKED" */
    /* Runs the whole request on db, setting req->result. */
    void (*run_sync)(bs_node_t *n, db_conn_t *db, bs_req_t *req);
    /* HTTP: set up the first step on req->easy (already reset, with the
     * common options); false sets req->result to BSR_FAILED. */
    bool (*start)(bs_node_t *n, bs_req_t *req);
    /* HTTP: the step ended (code, req->status, req->got...): set
     * req->result, or set up the next step and return true. */
    bool (*step_done)(bs_node_t *n, bs_req_t *req, CURLcode code);
    /* HTTP: open-time check (HEAD bucket/container) as a request whose
     * result is BSR_OK when fine, why in err otherwise; check_done returns
     * true when it set up another step (Swift: authenticate, then HEAD). */
    bool (*check_start)(bs_node_t *n, bs_req_t *req);
    bool (*check_done)(bs_node_t *n, bs_req_t *req, CURLcode code, char *err, size_t errlen);
    void (*free_priv)(bs_node_t *n);
} bs_backend_t;

struct bs_node {
    size_t index;
    const bs_backend_t *be;
    void *priv;              /* the backend's own state */
    char label[160];         /* "node 1 (s3 bucket b at http://h:9000)": no secret */
    atomic_llong down_until; /* monotonic ms; reads try the node last before it */
    const blockstore_t *bs;
};

struct blockstore {
    cfg_raid raid;
    size_t n_nodes;
    bs_node_t *nodes;
    bool partial_create_ok;
    long connect_timeout_ms, timeout_ms;
    bool uses_db;
};

struct blockstore_ctx {
    blockstore_t *bs;
    CURLM *multi;
    CURL **easy; /* per node, NULL for PostgreSQL nodes */
};

/* ---- blockstore_exec.c ---------------------------------------------------- */

/* bs_exec - run reqs[0..n) (at most one per node) to the end: HTTP ones
 * concurrently, PostgreSQL ones in turn meanwhile; every req->result set. */
void bs_exec(blockstore_ctx_t *ctx, db_conn_t *db, bs_req_t *reqs, size_t n);
/* bs_exec_check - run one node's open-time check on a temporary handle;
 * false with err set when it fails. */
bool bs_exec_check(blockstore_t *bs, bs_node_t *node, char *err, size_t errlen);

/* bs_http_reset - back to the common options for a new step: timeouts,
 * no signals, keep-alive, callbacks writing into req (buf for GET,
 * comparison for BS_STEP_CMP, discarded otherwise), ETag captured.  Frees
 * the previous step's url and headers. */
void bs_http_reset(bs_req_t *req);
/* bs_http_set_url - the step's URL (taken: malloc'd by the caller). */
void bs_http_set_url(bs_req_t *req, char *url);
/* bs_http_body - the step uploads req->data (PUT of len bytes). */
void bs_http_body(bs_req_t *req);
/* bs_http_header - add "Name: value" to the step's request. */
void bs_http_header(bs_req_t *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* bs_http_fail - log the failure of a step (status or libcurl's reason,
 * the node, the organization and block) and give BSR_FAILED. */
void bs_http_fail(bs_req_t *req, CURLcode code, const char *what);
/* bs_http_get_result - what a finished GET step means: OK (exactly size
 * bytes), NOT_FOUND (404), WRONG_SIZE, FAILED (logged). */
bs_result bs_http_get_result(bs_req_t *req, CURLcode code);

/* ---- helpers -------------------------------------------------------------- */

/* bs_uuid_str - the canonical hyphenated form, into out[37]. */
void bs_uuid_str(const uint8_t id[16], char out[37]);
/* bs_object_name - "<org>/<uuid>" percent-encoded for a URL path (Parsec's
 * object name); malloc'd. */
char *bs_object_name(const char *org, const uint8_t id[16]);
/* bs_md5_hex - hex MD5 of data (S3 and Swift ETags of a simple PUT). */
void bs_md5_hex(const void *data, size_t len, char out[33]);
/* bs_now_ms - monotonic milliseconds. */
long long bs_now_ms(void);
/* bs_node_failed / bs_node_ok - remember a node's latest outcome. */
void bs_node_failed(bs_node_t *n);
void bs_node_ok(bs_node_t *n);
/* bs_node_is_down - failed less than BS_NODE_BACKOFF_MS ago. */
bool bs_node_is_down(const bs_node_t *n);

/* ---- the backends ----------------------------------------------------------- */

/* bs_pg_init / bs_s3_init / bs_swift_init - fill n->be, n->priv, n->label
 * from the node's configuration; false with err set. */
bool bs_pg_init(bs_node_t *n, const cfg_blockstore_node *c, char *err, size_t errlen);
bool bs_s3_init(bs_node_t *n, const cfg_blockstore_node *c, char *err, size_t errlen);
bool bs_swift_init(bs_node_t *n, const cfg_blockstore_node *c, char *err, size_t errlen);

/* ---- blockstore_raid.c ---------------------------------------------------------- */

/* bs_raid0_node - the RAID0 node of a block: the id as a 128-bit big-endian
 * integer modulo n (Parsec's block_id.int % len(nodes)). */
size_t bs_raid0_node(const uint8_t id[16], size_t n);
/* bs_raid5_split - Parsec's RAID5 layout of data into n_data chunks of
 * chunk_len bytes each, then the parity: out holds (n_data + 1) * chunk_len
 * bytes (chunk i at i * chunk_len, parity last). */
void bs_raid5_split(const uint8_t *data, size_t len, size_t n_data, size_t chunk_len, uint8_t *out);
/* bs_raid5_decode - the block from the n_data chunks at payload (n_data *
 * chunk_len bytes): true when the length prefix says exactly size and the
 * padding is zeros, then the block copied into buf. */
bool bs_raid5_decode(const uint8_t *payload, size_t n_data, size_t chunk_len, size_t size,
                     uint8_t *buf);
/* bs_xor_into - dst ^= src over n bytes. */
void bs_xor_into(uint8_t *dst, const uint8_t *src, size_t n);

#endif
