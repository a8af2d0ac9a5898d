/*
 * common/event_batch.h - events that belong to no transaction, published
 * many per commit by one thread of the worker
 *
 * Most events must be published inside the transaction of the change they
 * announce (common/event.h), so that a rolled-back command announces
 * nothing.  An authenticated ping changes nothing: its "pinged" event has
 * no transaction to belong to, yet publishing it alone costs a commit, and
 * PostgreSQL serialises the commits of transactions that NOTIFY (the
 * notification queue's lock is held from pre-commit to commit).  A ping
 * answered only after its own commit is most of a ping's cost.
 *
 * So a worker posts such payloads here and answers at once; one thread
 * takes whatever is queued and publishes it in ONE statement, one commit:
 *
 *     SELECT pg_notify('parsec_events', p) FROM json_array_elements_text($1) p
 *
 * Nothing is lost on the way: the queue is bounded (EVENT_BATCH_MAX_QUEUED)
 * and a post that does not fit, or arrives while the batcher is not running,
 * returns false so that the caller publishes synchronously in its own
 * statement.  A failed flush keeps its payloads and tries again (backoff up
 * to a second); event_batch_shutdown() flushes what is queued before the
 * worker exits.  What a crash of the worker process loses is what it had
 * not flushed, like the requests it was serving.  Order: payloads are
 * published in the order they were posted (one thread, one statement each
 * flush, notifications delivered in statement order).
 *
 * Thread-safety: post from any thread; init and shutdown from the main one.
 */
#ifndef PARSEC_EVENT_BATCH_H
#define PARSEC_EVENT_BATCH_H

#include "db.h"

#include <stdbool.h>
#include <stddef.h>

/* Payloads queued at most; a post beyond is refused (published by the
 * caller instead). */
#define EVENT_BATCH_MAX_QUEUED 4096
/* Payloads published by one statement at most. */
#define EVENT_BATCH_MAX_FLUSH 512

/* event_batch_init - start the batcher thread publishing on connections of
 * pool (process lifetime; a second call does nothing).  False when the
 * thread cannot start (posts then return false). */
bool event_batch_init(db_pool_t *pool) __attribute__((warn_unused_result));

/* event_batch_post - queue a copy of payload (a NOTIFY payload of
 * common/event.h) for the next flush.  False, and nothing queued, when the
 * batcher is not running or its queue is full. */
bool event_batch_post(const char *payload) __attribute__((warn_unused_result));

/* event_batch_shutdown - flush what is queued (trying for at most
 * timeout_ms), stop the thread, free everything.  Returns the payloads it
 * could not publish (logged), 0 normally. */
size_t event_batch_shutdown(long timeout_ms);

/* event_batch_counters - payloads published and statements run since init
 * (for tests and the benchmark); either pointer may be NULL. */
void event_batch_counters(size_t *published, size_t *flushes);

#endif
