/*
 * common/event_batch.c - one thread publishing queued payloads, many per
 * commit (see event_batch.h)
 */
#include "event_batch.h"

#include "arena.h"
#include "event.h"
#include "log.h"
#include "xalloc.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

DB_STMT(stmt_flush, "event_batch_flush", 1,
        "SELECT pg_notify('" EVENT_CHANNEL "', p) FROM json_array_elements_text($1::json) AS p");

static struct {
    pthread_mutex_t mu;
    pthread_cond_t posted; /* something to flush, or stopping */
    pthread_t tid;
    bool running, stopping;
    long stop_deadline_ms; /* CLOCK_MONOTONIC, while stopping */
    db_pool_t *pool;
    /* a ring of queued payloads */
    char *q[EVENT_BATCH_MAX_QUEUED];
    size_t head, n;
    size_t published, flushes;
} g = {.mu = PTHREAD_MUTEX_INITIALIZER, .posted = PTHREAD_COND_INITIALIZER};

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Publish items[0..n) in one statement; true when committed. */
static bool publish(char **items, size_t n)
{
    db_conn_t *c = db_acquire(g.pool);
    if (!c)
        return false;
    json_object *list = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(list, json_object_new_string(items[i]));
    arena_t *a = arena_new();
    bool failed = false;
    (void)DB_RUN(c, a, &failed, &stmt_flush,
                 DB_TEXT(json_object_to_json_string_ext(list, JSON_C_TO_STRING_PLAIN)));
    arena_free(a);
    json_object_put(list);
    db_release(g.pool, c);
    return !failed;
}

static void *batch_thread(void *arg)
{
    (void)arg;
    char *items[EVENT_BATCH_MAX_FLUSH];
    long backoff_ms = 0;
    pthread_mutex_lock(&g.mu);
    for (;;) {
        while (g.n == 0 && !g.stopping)
            pthread_cond_wait(&g.posted, &g.mu);
        if (g.n == 0 || (g.stopping && now_ms() > g.stop_deadline_ms))
            break;
        /* take the oldest, publish without the lock, drop them once done */
        size_t k = g.n < EVENT_BATCH_MAX_FLUSH ? g.n : EVENT_BATCH_MAX_FLUSH;
        for (size_t i = 0; i < k; i++)
            items[i] = g.q[(g.head + i) % EVENT_BATCH_MAX_QUEUED];
        pthread_mutex_unlock(&g.mu);
        bool ok = publish(items, k);
        pthread_mutex_lock(&g.mu);
        if (ok) {
            for (size_t i = 0; i < k; i++) {
                free(items[i]);
                g.q[(g.head + i) % EVENT_BATCH_MAX_QUEUED] = NULL;
            }
            g.head = (g.head + k) % EVENT_BATCH_MAX_QUEUED;
            g.n -= k;
            g.published += k;
            g.flushes++;
            backoff_ms = 0;
            continue;
        }
        /* the database is away: keep them, try again later */
        backoff_ms = backoff_ms ? (backoff_ms * 2 > 1000 ? 1000 : backoff_ms * 2) : 50;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += backoff_ms * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        if (!g.stopping)
            pthread_cond_timedwait(&g.posted, &g.mu, &until);
    }
    pthread_mutex_unlock(&g.mu);
    return NULL;
}

bool event_batch_init(db_pool_t *pool)
{
    pthread_mutex_lock(&g.mu);
    bool ok = g.running;
    if (!ok) {
        g.pool = pool;
        g.stopping = false;
        ok = g.running = pthread_create(&g.tid, NULL, batch_thread, NULL) == 0;
        if (!ok)
            log_error("events: cannot start the batch thread; pings publish synchronously");
    }
    pthread_mutex_unlock(&g.mu);
    return ok;
}

bool event_batch_post(const char *payload)
{
    bool ok = false;
    pthread_mutex_lock(&g.mu);
    if (g.running && !g.stopping && g.n < EVENT_BATCH_MAX_QUEUED) {
        g.q[(g.head + g.n) % EVENT_BATCH_MAX_QUEUED] = xstrdup(payload);
        g.n++;
        ok = true;
        pthread_cond_signal(&g.posted);
    }
    pthread_mutex_unlock(&g.mu);
    return ok;
}

size_t event_batch_shutdown(long timeout_ms)
{
    pthread_mutex_lock(&g.mu);
    if (!g.running) {
        pthread_mutex_unlock(&g.mu);
        return 0;
    }
    g.stopping = true;
    g.stop_deadline_ms = now_ms() + timeout_ms;
    pthread_cond_broadcast(&g.posted);
    pthread_mutex_unlock(&g.mu);
    pthread_join(g.tid, NULL);

    pthread_mutex_lock(&g.mu);
    size_t lost = g.n;
    for (size_t i = 0; i < g.n; i++) {
        free(g.q[(g.head + i) % EVENT_BATCH_MAX_QUEUED]);
        g.q[(g.head + i) % EVENT_BATCH_MAX_QUEUED] = NULL;
    }
    g.n = g.head = 0;
    g.running = false;
    pthread_mutex_unlock(&g.mu);
    if (lost)
        log_error("events: %zu queued events could not be published before exit", lost);
    return lost;
}

void event_batch_counters(size_t *published, size_t *flushes)
{
    pthread_mutex_lock(&g.mu);
    if (published)
        *published = g.published;
    if (flushes)
        *flushes = g.flushes;
    pthread_mutex_unlock(&g.mu);
}
