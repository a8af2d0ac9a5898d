/*
 * common/webhook.h - the organization bootstrap webhook
 *
 * After a successful organization_bootstrap (after COMMIT, never before),
 * the worker POSTs, when --organization-bootstrap-webhook is set,
 *
 *     {"organization_id": ..., "device_id": ..., "device_label": ... or null,
 *      "human_email": ... or null, "human_label": ... or null}
 *
 * with Content-Type "application/json; charset=utf-8" (hosting guide,
 * Parsec 2.12's parsec/backend/webhooks.py).  The request thread waits for
 * the answer, bounded by WEBHOOK_TIMEOUT_MS for the whole exchange: the
 * bootstrap reply is sent after it, as in Parsec.  A network error or a
 * non-2xx answer is logged (the URL redacted by cfg_redact_url) and
 * otherwise ignored: the organization stays bootstrapped.
 *
 * Redirects are not followed and only http:// and https:// are allowed, so
 * a webhook URL cannot be turned into a file:// read or a hop elsewhere.
 *
 * Thread-safety: any thread; libcurl is initialised once (pthread_once).
 */
#ifndef PARSEC_WEBHOOK_H
#define PARSEC_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>

/* Whole-exchange timeout (Parsec's 30 s); connecting alone gets 10 s. */
#define WEBHOOK_TIMEOUT_MS         30000L
#define WEBHOOK_CONNECT_TIMEOUT_MS 10000L
/* Bytes of the answer kept for the log line; the rest is discarded. */
#define WEBHOOK_ANSWER_MAX 4096

/*
 * webhook_post - POST json (NUL-terminated) to url, waiting at most
 * timeout_ms (<= 0: WEBHOOK_TIMEOUT_MS).  True on a 2xx answer.  On false,
 * err (NUL-terminated, cut to errlen) says why, without the URL: "HTTP 500",
 * "Timeout was reached", ...
 */
bool webhook_post(const char *url, const char *json, long timeout_ms, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * webhook_bootstrap - the bootstrap notification above (NULL strings become
 * null), posted with webhook_post(url, ..., WEBHOOK_TIMEOUT_MS); a failure
 * is logged at WARNING.  Returns whether it was delivered (for tests).
 */
bool webhook_bootstrap(const char *url, const char *organization_id, const char *device_id,
                       const char *device_label, const char *human_email, const char *human_label);

#endif
