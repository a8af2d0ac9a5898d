/*
 * cli/client/crpc_pipe.c - a window of requests in flight (crpc.h)
 *
 * HTTP/1.1 answers a connection's requests one after the other, so requests
 * in flight at once take one connection each: one easy handle per slot in
 * a libcurl multi handle, whose connection cache keeps them alive from one
 * request to the next.  libcurl only moves bytes while this file runs it
 * (crpc_pipe_send starts a request, crpc_pipe_wait runs every transfer);
 * in between, the server works on the requests already sent and its
 * answers wait in the sockets and the web server.
 */
#include "crpc_internal.h"

#include "xalloc.h"

#include <stdlib.h>

typedef struct {
    CURL *h;
    bool busy; /* sent and not yet waited for */
    bool done; /* libcurl finished it (rc) */
    CURLcode rc;
    char *body; /* the request, owned until the next send */
    crpc_xfer x;
} pipe_slot;

struct crpc_pipe {
    crpc_t *c;
    CURLM *m;
    unsigned width;
    pipe_slot *slot;
};

crpc_pipe_t *crpc_pipe_new(crpc_t *c, unsigned width, size_t max_reply)
{
    crpc_pipe_t *p = xcalloc(1, sizeof *p);
    p->c = c;
    p->width = width;
    p->m = curl_multi_init();
    p->slot = xcalloc(width, sizeof *p->slot);
    bool ok = p->m != NULL;
    for (unsigned i = 0; i < width; i++) {
        p->slot[i].x.max = max_reply;
        p->slot[i].h = curl_easy_init();
        ok = ok && p->slot[i].h != NULL;
    }
    if (!ok) {
        crpc_pipe_free(p);
        return NULL;
    }
    return p;
}

void crpc_pipe_free(crpc_pipe_t *p)
{
    if (p == NULL)
        return;
    for (unsigned i = 0; i < p->width; i++) {
        pipe_slot *s = &p->slot[i];
        if (s->busy)
            curl_multi_remove_handle(p->m, s->h);
        if (s->h)
            curl_easy_cleanup(s->h);
        crpc_xfer_done(&s->x);
        strbuf_free(&s->x.data);
        free(s->body);
    }
    if (p->m)
        curl_multi_cleanup(p->m);
    free(p->slot);
    free(p);
}

/* Marks the transfers libcurl finished. */
static void collect(crpc_pipe_t *p)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(p->m, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        for (unsigned i = 0; i < p->width; i++) {
            if (p->slot[i].h == msg->easy_handle && p->slot[i].busy) {
                p->slot[i].done = true;
                p->slot[i].rc = msg->data.result;
            }
        }
    }
}

void crpc_pipe_send(crpc_pipe_t *p, unsigned slot, crpc_route route, const char *content_type,
                    char *body, size_t len)
{
    pipe_slot *s = &p->slot[slot];
    free(s->body);
    s->body = body;
    crpc_xfer_setup(p->c, s->h, &s->x, route, content_type, body, len);
    s->busy = true;
    s->done = false;
    s->rc = CURLE_OK;
    CURLMcode mc = curl_multi_add_handle(p->m, s->h);
    if (mc != CURLM_OK) {
        /* reported by crpc_pipe_wait as this request's failure */
        s->done = true;
        s->rc = CURLE_OUT_OF_MEMORY;
        return;
    }
    /* the request on its way now, not at the next wait */
    int running;
    curl_multi_perform(p->m, &running);
    collect(p);
}

bool crpc_pipe_wait(crpc_pipe_t *p, unsigned slot, long *http, const char **body, size_t *len,
                    char **err)
{
    pipe_slot *s = &p->slot[slot];
    *http = 0;
    *err = NULL;
    while (!s->done) {
        int running;
        CURLMcode mc = curl_multi_perform(p->m, &running);
        collect(p);
        if (s->done)
            break;
        if (mc == CURLM_OK)
            mc = curl_multi_poll(p->m, NULL, 0, 1000, NULL);
        if (mc != CURLM_OK) {
            s->done = true;
            s->rc = CURLE_RECV_ERROR;
        }
    }
    curl_multi_remove_handle(p->m, s->h);
    s->busy = false;
    bool ok = s->rc == CURLE_OK;
    if (ok) {
        curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, http);
        /* an empty reply still reads as "" */
        if (s->x.data.s == NULL)
            strbuf_append(&s->x.data, "", 0);
        *body = s->x.data.s;
        *len = s->x.data.len;
    } else {
        *err = crpc_xfer_error(&s->x, s->rc);
    }
    crpc_xfer_done(&s->x);
    return ok;
}
