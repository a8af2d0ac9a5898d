/*
 * cli/client/crpc_internal.h - what crpc.c (one request at a time) and
 * crpc_pipe.c (a window of requests) share: the client and one request's
 * transfer state
 */
#ifndef PARSEC_CRPC_INTERNAL_H
#define PARSEC_CRPC_INTERNAL_H

#include "crpc.h"
#include "strbuf.h"

#include <curl/curl.h>

struct crpc {
    CURL *curl;
    char *base, *org;
    const cdevice_t *dev;
    char *invitation;
    char *cacert;
};

/* One request while libcurl runs it: what it reads (url, headers) and
 * where the reply goes (data, at most max bytes). */
typedef struct {
    strbuf_t data;
    size_t max;
    bool too_big;
    struct curl_slist *hdrs;
    char *url;
    char errbuf[CURL_ERROR_SIZE];
} crpc_xfer;

/* crpc_xfer_setup - h reset and set up to POST body[len] (borrowed until
 * the transfer ends) of content type ctype to route, with its credentials;
 * x->data emptied (its capacity kept). */
void crpc_xfer_setup(crpc_t *c, CURL *h, crpc_xfer *x, crpc_route route, const char *ctype,
                     const char *body, size_t len);
/* crpc_xfer_done - frees what setup made for the transfer (not data). */
void crpc_xfer_done(crpc_xfer *x);
/* crpc_xfer_error - why transfer x failed with rc (malloc'd). */
char *crpc_xfer_error(const crpc_xfer *x, CURLcode rc);

#endif
