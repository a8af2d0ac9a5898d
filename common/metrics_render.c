/*
 * common/metrics_render.c - the Prometheus text format 0.0.4 (see
 * metrics.h; every series is listed in docs/metrics.md)
 *
 * One HELP and one TYPE line per family, then its samples.  A histogram's
 * buckets are stored per bucket and summed here, so they come out
 * cumulative, and its _count is the +Inf bucket it was summed from (never
 * a separately read counter that a concurrent request could have moved).
 */
#include "blockstore.h"
#include "email.h"
#include "metrics_internal.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

static void family(strbuf_t *o, const char *name, const char *type, const char *help)
{
    strbuf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* label - name="value" with the format's three escapes. */
static void label(strbuf_t *o, const char *name, const char *v, size_t max)
{
    strbuf_printf(o, "%s=\"", name);
    for (size_t i = 0; i < max && v[i]; i++) {
        if (v[i] == '\\' || v[i] == '"')
            strbuf_putc(o, '\\');
        if (v[i] == '\n')
            strbuf_puts(o, "\\n");
        else
            strbuf_putc(o, v[i]);
    }
    strbuf_putc(o, '"');
}

/* histogram - the _bucket, _sum and _count samples; labels: "" or
 * `a="b",` (with its trailing comma). */
static void histogram(strbuf_t *o, const char *name, const char *labels, const m_hist_t *h)
{
    uint64_t cum = 0;
    for (size_t b = 0; b < M_BUCKETS; b++) {
        cum += m_load(&h->bucket[b]);
        if (b < M_BOUNDS)
            strbuf_printf(o, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels, m_bounds_s[b],
                          (unsigned long long)cum);
        else
            strbuf_printf(o, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels,
                          (unsigned long long)cum);
    }
    size_t n = labels[0] ? strlen(labels) - 1 : 0; /* without the trailing comma */
    strbuf_printf(o, "%s_sum%s%.*s%s %.9f\n", name, n ? "{" : "", (int)n, labels, n ? "}" : "",
                  (double)m_load(&h->sum_ns) / 1e9);
    strbuf_printf(o, "%s_count%s%.*s%s %llu\n", name, n ? "{" : "", (int)n, labels, n ? "}" : "",
                  (unsigned long long)cum);
}

static void counter(strbuf_t *o, const char *name, const char *help, uint64_t v)
{
    family(o, name, "counter", help);
    strbuf_printf(o, "%s %llu\n", name, (unsigned long long)v);
}

/* gauge_sum - a gauge summed over the rows of living processes. */
static int64_t gauge_sum(const m_shm_t *m, size_t offset, int64_t *procs)
{
    int64_t sum = 0, n = 0;
    for (size_t i = 0; i < M_PROCS; i++) {
        const m_proc_t *p = &m->procs[i];
        if (!m_proc_alive(p))
            continue;
        n++;
        sum += __atomic_load_n((const int64_t *)((const char *)p + offset), __ATOMIC_RELAXED);
    }
    if (procs)
        *procs = n;
    return sum;
}

static bool slot_ready(const m_req_slot_t *s)
{
    return __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == 2;
}

static void slot_labels(strbuf_t *o, const m_req_slot_t *s)
{
    label(o, "family", s->family, M_FAMILY_MAX);
    strbuf_putc(o, ',');
    label(o, "command", s->command, M_COMMAND_MAX);
}

static void render_requests(strbuf_t *o, const m_shm_t *m)
{
    family(o, "parsec_http_requests_total", "counter",
           "HTTP requests answered, by route family, command (RPC) or route, and status.");
    for (size_t i = 0; i < METRICS_REQ_SLOTS; i++) {
        const m_req_slot_t *s = &m->req[i];
        if (!slot_ready(s))
            continue;
        for (size_t st = 0; st < M_STATUS_N; st++) {
            uint64_t v = m_load(&s->status[st]);
            if (!v)
                continue;
            strbuf_puts(o, "parsec_http_requests_total{");
            slot_labels(o, s);
            strbuf_printf(o, ",status=\"%zu\"} %llu\n", st + M_STATUS_MIN, (unsigned long long)v);
        }
    }
    family(o, "parsec_http_request_duration_seconds", "histogram",
           "Time from the request's arrival in the worker to its answer, by route family and "
           "command.");
    for (size_t i = 0; i < METRICS_REQ_SLOTS; i++) {
        const m_req_slot_t *s = &m->req[i];
        if (!slot_ready(s))
            continue;
        strbuf_t l = STRBUF_INIT;
        slot_labels(&l, s);
        strbuf_putc(&l, ',');
        histogram(o, "parsec_http_request_duration_seconds", l.s, &s->latency);
        strbuf_free(&l);
    }
    counter(o, "parsec_http_requests_unlabelled_total",
            "HTTP requests counted without their labels (every series slot taken).",
            m_load(&m->unlabelled_requests));
}

static void render_fcgi(strbuf_t *o, const m_shm_t *m)
{
    render_requests(o, m);

    int64_t procs = 0;
    int64_t in_use = gauge_sum(m, offsetof(m_proc_t, db_in_use), &procs);
    family(o, "parsec_fcgi_processes", "gauge", "Worker processes counting into this file.");
    strbuf_printf(o, "parsec_fcgi_processes %lld\n", (long long)procs);
    family(o, "parsec_db_connections_in_use", "gauge",
           "Database connections held by requests, over the node's workers.");
    strbuf_printf(o, "parsec_db_connections_in_use %lld\n", (long long)in_use);
    family(o, "parsec_db_connections_waiting", "gauge",
           "Requests waiting for a database connection of their worker's pool.");
    strbuf_printf(o, "parsec_db_connections_waiting %lld\n",
                  (long long)gauge_sum(m, offsetof(m_proc_t, db_waiting), NULL));
    static const char *const db_kinds[METRICS_DB_ERR_KINDS] = {"connect", "acquire_timeout",
                                                               "statement"};
    family(o, "parsec_db_errors_total", "counter",
           "Database failures: connections not opened, pools exhausted, statements failed.");
    for (size_t k = 0; k < METRICS_DB_ERR_KINDS; k++)
        strbuf_printf(o, "parsec_db_errors_total{kind=\"%s\"} %llu\n", db_kinds[k],
                      (unsigned long long)m_load(&m->db_errors[k]));

    counter(o, "parsec_token_cache_hits_total",
            "Authentication tokens whose signature the cache had already verified.",
            m_load(&m->token_hits));
    counter(o, "parsec_token_cache_misses_total",
            "Authentication tokens not in the cache (their signature verified).",
            m_load(&m->token_misses));

    family(o, "parsec_blockstore_calls_total", "counter",
           "Blockstore reads and creates, by outcome.");
    for (int c = 0; c < 2; c++)
        for (int s = 0; s < M_BS_STATUSES; s++)
            strbuf_printf(o, "parsec_blockstore_calls_total{op=\"%s\",outcome=\"%s\"} %llu\n",
                          c ? "create" : "read", blockstore_status_name((blockstore_status)s),
                          (unsigned long long)m_load(&m->bs_calls[c][s]));
    family(o, "parsec_blockstore_call_duration_seconds", "histogram",
           "Duration of blockstore reads and creates, every node of a RAID included.");
    histogram(o, "parsec_blockstore_call_duration_seconds", "op=\"read\",", &m->bs_latency[0]);
    histogram(o, "parsec_blockstore_call_duration_seconds", "op=\"create\",", &m->bs_latency[1]);

    family(o, "parsec_email_sends_total", "counter", "Emails sent (SMTP or MOCKED), by outcome.");
    for (int r = 0; r < M_EMAIL_RESULTS; r++) {
        char low[32];
        const char *name = email_result_name((email_result)r);
        size_t i = 0;
        for (; name[i] && i + 1 < sizeof low; i++)
            low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
        low[i] = '\0';
        strbuf_printf(o, "parsec_email_sends_total{outcome=\"%s\"} %llu\n", low,
                      (unsigned long long)m_load(&m->email[r]));
    }
    family(o, "parsec_email_send_duration_seconds", "histogram",
           "Duration of one email delivery, connection included.");
    histogram(o, "parsec_email_send_duration_seconds", "", &m->email_latency);
}

static void render_notifyd(strbuf_t *o, const m_shm_t *m)
{
    family(o, "parsec_notifyd_connections", "gauge", "Websocket connections open.");
    strbuf_printf(o, "parsec_notifyd_connections %lld\n",
                  (long long)gauge_sum(m, offsetof(m_proc_t, nd_connections), NULL));
    counter(o, "parsec_notifyd_connections_total", "Websocket connections established.",
            m_load(&m->nd_opened));
    counter(o, "parsec_notifyd_events_received_total",
            "Event notifications received from PostgreSQL.", m_load(&m->nd_events_in));
    counter(o, "parsec_notifyd_events_sent_total", "Events written to clients.",
            m_load(&m->nd_events_out));
    counter(o, "parsec_notifyd_queue_drops_total",
            "Connections closed because their send queue overflowed.", m_load(&m->nd_drops));
    family(o, "parsec_notifyd_closes_total", "counter",
           "Connections closed by notifyd, by websocket close code.");
    for (int i = 0; i < M_CLOSE_N; i++) {
        uint64_t v = m_load(&m->nd_closes[i]);
        if (!v)
            continue;
        int code = m_close_code(i);
        if (code < 0)
            strbuf_printf(o, "parsec_notifyd_closes_total{code=\"other\"} %llu\n",
                          (unsigned long long)v);
        else
            strbuf_printf(o, "parsec_notifyd_closes_total{code=\"%d\"} %llu\n", code,
                          (unsigned long long)v);
    }
}

void metrics_render(strbuf_t *out, unsigned sections)
{
    const m_shm_t *m = __atomic_load_n(&m_shm, __ATOMIC_ACQUIRE);
    if (!m)
        return;
    family(out, "parsec_build_info", "gauge", "Always 1; the version of the binary answering.");
    strbuf_printf(out, "parsec_build_info{version=\"%s\"} 1\n", PARSEC_VERSION);
    if (sections & METRICS_FCGI)
        render_fcgi(out, m);
    if (sections & METRICS_NOTIFYD)
        render_notifyd(out, m);
}
