/*
 * common/metrics.c - recording: what the request path pays (see metrics.h)
 *
 * Each function is a load of the mapping's pointer and one to three relaxed
 * atomic adds; a request's series is found by hashing its two static names
 * into a table of slots claimed once with a compare-and-swap.
 * bench/metrics_bench.c measures the cost against a bare request.
 */
#include "metrics_internal.h"

#include <stdint.h>
#include <sched.h>
#include <string.h>
#include <time.h>

const double m_bounds_s[M_BOUNDS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                     0.25,  0.5,    1,     2.5,  5,     10};

uint64_t metrics_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The bounds in nanoseconds: integer compares on the request path. */
static const uint64_t bounds_ns[M_BOUNDS] = {
    1000000,   2500000,   5000000,    10000000,   25000000,   50000000,   100000000,
    250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000};

static void observe(m_hist_t *h, uint64_t ns)
{
    size_t b = 0;
    while (b < M_BOUNDS && ns > bounds_ns[b])
        b++;
    m_add(&h->bucket[b], 1);
    m_add(&h->sum_ns, ns);
}

/* ---- request slots ------------------------------------------------------ */

static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return (h ^ 0xff) * 1099511628211u; /* separates ("ab","c") from ("a","bc") */
}

static bool slot_is(const m_req_slot_t *s, const char *family, const char *command)
{
    return strncmp(s->family, family, M_FAMILY_MAX) == 0 &&
           strncmp(s->command, command, M_COMMAND_MAX) == 0;
}

/* find_slot - the pair's slot, claimed when new; NULL when the table is
 * full (or another process is claiming the slot this very moment). */
static m_req_slot_t *find_slot(m_shm_t *m, const char *family, const char *command)
{
    size_t h = (size_t)fnv1a(fnv1a(14695981039346656037u, family), command);
    for (size_t probe = 0; probe < METRICS_REQ_SLOTS; probe++) {
        m_req_slot_t *s = &m->req[(h + probe) % METRICS_REQ_SLOTS];
        uint32_t st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
        if (st == 0) {
            if (__atomic_compare_exchange_n(&s->state, &st, 1, false, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE)) {
                /* Names longer than the slot are cut; ours are far shorter. */
                strncpy(s->family, family, M_FAMILY_MAX - 1);
                strncpy(s->command, command, M_COMMAND_MAX - 1);
                __atomic_store_n(&s->state, 2, __ATOMIC_RELEASE);
                return s;
            }
        }
        /* st now holds the slot's state (the failed CAS reloaded it).  A
         * claimer preempted between its CAS and its release would outlast
         * any busy spin on a loaded machine (and the request would go
         * unlabelled): after a short spin, yield so that it runs.  Bounded,
         * for a claimer that died in between. */
        for (int spin = 0; st == 1 && spin < 2000; spin++) {
            if (spin >= 100)
                sched_yield();
            st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
        }
        if (st == 1)
            return NULL;
        if (slot_is(s, family, command))
            return s;
    }
    return NULL;
}

/* A thread's last slots, keyed by the names' addresses: the names come
 * from static tables, so the same pair is the same two pointers and the
 * hash and compare are skipped.  gen invalidates them when the mapping
 * changes. */
#define CACHE_WAYS 16
static _Thread_local struct {
    const char *family, *command;
    m_req_slot_t *slot;
    unsigned gen;
} t_cache[CACHE_WAYS];

static m_req_slot_t *cached_slot(m_shm_t *m, const char *family, const char *command)
{
    unsigned gen = m_generation;
    size_t w = (((uintptr_t)family >> 3) ^ ((uintptr_t)command >> 3)) % CACHE_WAYS;
    if (t_cache[w].gen == gen && t_cache[w].family == family && t_cache[w].command == command)
        return t_cache[w].slot;
    m_req_slot_t *s = find_slot(m, family, command);
    if (s) {
        t_cache[w].family = family;
        t_cache[w].command = command;
        t_cache[w].slot = s;
        t_cache[w].gen = gen;
    }
    return s;
}

void metrics_request(const char *family, const char *command, int status, uint64_t ns)
{
    m_shm_t *m = __atomic_load_n(&m_shm, __ATOMIC_ACQUIRE);
    if (!m)
        return;
    m_req_slot_t *s = cached_slot(m, family ? family : "none", command ? command : "none");
    if (!s || status < M_STATUS_MIN || status >= M_STATUS_MIN + M_STATUS_N) {
        m_add(&m->unlabelled_requests, 1);
        return;
    }
    m_add(&s->status[status - M_STATUS_MIN], 1);
    observe(&s->latency, ns);
}

/* ---- gauges and counters ------------------------------------------------ */

static m_shm_t *shm(void)
{
    return __atomic_load_n(&m_shm, __ATOMIC_ACQUIRE);
}

void metrics_db_in_use(int delta)
{
    if (shm())
        __atomic_fetch_add(&m_row->db_in_use, delta, __ATOMIC_RELAXED);
}

void metrics_db_waiting(int delta)
{
    if (shm())
        __atomic_fetch_add(&m_row->db_waiting, delta, __ATOMIC_RELAXED);
}

void metrics_db_error(metrics_db_err kind)
{
    m_shm_t *m = shm();
    if (m && kind >= 0 && kind < METRICS_DB_ERR_KINDS)
        m_add(&m->db_errors[kind], 1);
}

void metrics_token_cache(bool hit)
{
    m_shm_t *m = shm();
    if (m)
        m_add(hit ? &m->token_hits : &m->token_misses, 1);
}

void metrics_blockstore(bool create, int status, uint64_t ns)
{
    m_shm_t *m = shm();
    if (!m || status < 0 || status >= M_BS_STATUSES)
        return;
    m_add(&m->bs_calls[create][status], 1);
    observe(&m->bs_latency[create], ns);
}

void metrics_email(int result, uint64_t ns)
{
    m_shm_t *m = shm();
    if (!m || result < 0 || result >= M_EMAIL_RESULTS)
        return;
    m_add(&m->email[result], 1);
    observe(&m->email_latency, ns);
}

void metrics_nd_connection(int delta)
{
    m_shm_t *m = shm();
    if (!m)
        return;
    __atomic_fetch_add(&m_row->nd_connections, delta, __ATOMIC_RELAXED);
    if (delta > 0)
        m_add(&m->nd_opened, (uint64_t)delta);
}

void metrics_nd_event_in(void)
{
    m_shm_t *m = shm();
    if (m)
        m_add(&m->nd_events_in, 1);
}

void metrics_nd_event_out(void)
{
    m_shm_t *m = shm();
    if (m)
        m_add(&m->nd_events_out, 1);
}

void metrics_nd_drop(void)
{
    m_shm_t *m = shm();
    if (m)
        m_add(&m->nd_drops, 1);
}

int m_close_index(int code)
{
    if (code >= 1000 && code <= 1015)
        return code - 1000;
    if (code >= 4000 && code <= 4099)
        return 16 + code - 4000;
    return M_CLOSE_N - 1;
}

int m_close_code(int index)
{
    if (index < 16)
        return 1000 + index;
    if (index < M_CLOSE_N - 1)
        return 4000 + index - 16;
    return -1;
}

void metrics_nd_close(int code)
{
    m_shm_t *m = shm();
    if (m)
        m_add(&m->nd_closes[m_close_index(code)], 1);
}
