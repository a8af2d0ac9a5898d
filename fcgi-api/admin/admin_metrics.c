/*
 * fcgi-api/admin/admin_metrics.c - GET /administration/metrics: the node's
 * counters in the Prometheus text format (docs/metrics.md)
 *
 * No database: a scrape must answer while PostgreSQL is down, since that
 * is when it matters.  Authorised by metrics_authorize() (401 without a
 * Bearer token, 403 with a wrong one or when no token is configured).
 */
#include "admin.h"

#include "log.h"
#include "metrics.h"

void admin_metrics(http_req_t *r)
{
    const char *why = NULL;
    int st = metrics_authorize(r->cfg, http_header(r, "Authorization"), &why);
    if (st != 0) {
        log_info("metrics: refused: %s", why);
        if (st == 401)
            http_set_header(r, "WWW-Authenticate", "Bearer realm=\"parsec-metrics\"");
        http_respond_error(r, st, st == 401 ? "unauthorized" : "not_allowed", NULL);
        return;
    }
    strbuf_t out = STRBUF_INIT;
    metrics_render(&out, METRICS_FCGI);
    http_respond(r, 200, METRICS_CONTENT_TYPE, out.s ? out.s : "", out.len);
    http_set_header(r, "Cache-Control", "no-store");
    strbuf_free(&out);
}
