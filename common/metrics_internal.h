/*
 * common/metrics_internal.h - the shared layout of the metrics module
 *
 * metrics.c records, metrics_share.c maps the file and owns the process
 * rows, metrics_render.c writes the text.  The layout is fixed (no
 * pointers, no sizes that depend on settings) because processes of one
 * node map the same file; changing it means a new METRICS_FILE_* name.
 */
#ifndef PARSEC_METRICS_INTERNAL_H
#define PARSEC_METRICS_INTERNAL_H

#include "metrics.h"

#include <stdint.h>

/* Latency buckets, seconds; the last is +Inf.  Counts per bucket are kept
 * non-cumulative (one add per observation) and summed when rendered. */
#define M_BOUNDS  13
#define M_BUCKETS (M_BOUNDS + 1)
extern const double m_bounds_s[M_BOUNDS];

typedef struct {
    uint64_t bucket[M_BUCKETS];
    uint64_t sum_ns;
} m_hist_t;

/* HTTP statuses 100..599, each its own counter. */
#define M_STATUS_MIN 100
#define M_STATUS_N   500

#define M_FAMILY_MAX  16
#define M_COMMAND_MAX 80

/* One (family, command) pair.  state: 0 empty, 1 being claimed, 2 ready
 * (its names are written before state becomes 2, with release order). */
typedef struct {
    uint32_t state;
    char family[M_FAMILY_MAX];
    char command[M_COMMAND_MAX];
    m_hist_t latency;
    uint64_t status[M_STATUS_N];
} m_req_slot_t;

/* A process's gauges; pid 0: free.  A row whose process died without
 * closing is taken over (and its gauges ignored when rendering). */
#define M_PROCS 256
typedef struct {
    int32_t pid;
    int32_t pad;
    int64_t db_in_use, db_waiting, nd_connections;
} m_proc_t;

#define M_BS_STATUSES   4 /* blockstore_status values */
#define M_EMAIL_RESULTS 3 /* email_result values */
/* Close codes: 1000..1015 and 4000..4099 each, then "other". */
#define M_CLOSE_N 117

typedef struct {
    m_proc_t procs[M_PROCS];
    uint64_t unlabelled_requests;
    uint64_t db_errors[METRICS_DB_ERR_KINDS];
    uint64_t token_hits, token_misses;
    uint64_t bs_calls[2][M_BS_STATUSES]; /* [create][status] */
    m_hist_t bs_latency[2];
    uint64_t email[M_EMAIL_RESULTS];
    m_hist_t email_latency;
    uint64_t nd_opened, nd_events_in, nd_events_out, nd_drops;
    uint64_t nd_closes[M_CLOSE_N];
    m_req_slot_t req[METRICS_REQ_SLOTS];
} m_shm_t;

/* The mapping and this process's row (metrics_share.c); NULL before
 * metrics_open(). */
extern m_shm_t *m_shm;
extern m_proc_t *m_row;
/* Bumped by every metrics_open(): slots a thread cached from an older
 * mapping are not used (metrics.c).  Starts at 1, so a zeroed cache entry
 * never matches. */
extern unsigned m_generation;

/* m_add / m_load - relaxed 64-bit atomics on the mapping. */
static inline void m_add(uint64_t *p, uint64_t v)
{
    __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}
static inline uint64_t m_load(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* m_close_index - the counter of a close code; m_close_code its inverse
 * (-1: "other"). */
int m_close_index(int code);
int m_close_code(int index);

/* m_proc_alive - does row p belong to a running process (this one
 * included)? */
bool m_proc_alive(const m_proc_t *p);

#endif
