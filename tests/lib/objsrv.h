/*
 * tests/lib/objsrv.h - real S3 and Swift servers, and a misbehaving one,
 * for blockstore tests
 *
 * objsrv_s3rver_start() and objsrv_swift() run tests/harness/objstore
 * (npm's s3rver; Swift all-in-one with tempauth and s3api) on loopback with
 * private data directories.  Swift takes several seconds to start, so
 * objsrv_swift() starts one per test process, on first use, and stops it
 * when that process exits: call it from the TEST_SUITE builder (the runner
 * process, before Check forks the tests), as testenv_db_setup().  An
 * s3rver starts in under a second: a test that needs one to itself (to
 * stop it in the middle of a run) starts its own.
 *
 * faultsrv_start() is an S3-shaped HTTP server on 127.0.0.1 that answers
 * a bucket HEAD with 200, then misbehaves on objects as told: for the
 * fault tests of the blockstore (a store answering 500, never answering,
 * closing mid-body, serving an object of the wrong length).  It runs on a
 * thread of the calling process.
 *
 * Failures abort the test (ck_abort_msg) with the reason and the servers'
 * logs on stderr.
 */
#ifndef PARSEC_OBJSRV_H
#define PARSEC_OBJSRV_H

#include <stdbool.h>
#include <stddef.h>

typedef struct objsrv objsrv_t;

/* objsrv_s3rver_start - an s3rver with the buckets (NULL-terminated)
 * created; access key and secret "S3RVER" (it checks no signature).  Stop
 * with objsrv_stop(). */
objsrv_t *objsrv_s3rver_start(const char *const *buckets);

/* objsrv_s3rver - the process's shared s3rver, no bucket yet (make them
 * with objsrv_s3_bucket); started on first call like objsrv_swift(). */
objsrv_t *objsrv_s3rver(void);

/* objsrv_swift - the process's Swift all-in-one (started on first call,
 * stopped at exit of the process that started it); owned by objsrv.
 * tempauth account "test", user "tester", key "testing"; its s3api takes
 * access key "test:tester" and secret "testing" and checks SigV4. */
objsrv_t *objsrv_swift(void);

/* objsrv_port - where it listens (127.0.0.1). */
int objsrv_port(const objsrv_t *s);

/* objsrv_stop - stop the server (it may be stopped already) and free s;
 * not for objsrv_swift()'s.  NULL: no-op. */
void objsrv_stop(objsrv_t *s);
/* objsrv_kill - stop it now without freeing s (a node going down in the
 * middle of a run); objsrv_stop() later frees. */
void objsrv_kill(objsrv_t *s);

/* objsrv_swift_token - a fresh v1 token and storage URL from s (malloc'd,
 * caller frees both): for tests that set up containers themselves. */
void objsrv_swift_token(const objsrv_t *s, char **token, char **storage_url);
/* objsrv_swift_container - create container name (PUT, 201/202 expected). */
void objsrv_swift_container(const objsrv_t *s, const char *name);
/* objsrv_swift_revoke_tokens - forget every token tempauth gave (its
 * memcached flushed): the next request with an old token gets 401. */
void objsrv_swift_revoke_tokens(const objsrv_t *s);
/* objsrv_s3_bucket - create bucket name through s's S3 API (s3rver, or
 * Swift's s3api), signed with key/secret. */
void objsrv_s3_bucket(int port, const char *name, const char *key, const char *secret);

/* ---- the misbehaving server ---- */

typedef enum {
    FAULT_500,       /* objects: 500 Internal Server Error */
    FAULT_HANG,      /* objects: the request is read, no answer ever */
    FAULT_CLOSE_MID, /* GET: Content-Length right, half the body, then close */
    FAULT_SHORT,     /* GET: a whole response of object_size - 1 bytes */
    FAULT_LONG,      /* GET: a whole response of object_size + 1 bytes */
} fault_mode;

typedef struct faultsrv faultsrv_t;

/* faultsrv_start - listening on a free 127.0.0.1 port; PUTs are read and
 * answered 200 except in FAULT_500 and FAULT_HANG; object_size is the size
 * GETs pretend the object has.  Stop with faultsrv_stop(). */
faultsrv_t *faultsrv_start(fault_mode mode, size_t object_size);
int faultsrv_port(const faultsrv_t *f);
/* faultsrv_requests - object requests received so far. */
int faultsrv_requests(faultsrv_t *f);
void faultsrv_stop(faultsrv_t *f);

#endif
