/*
 * common/metrics_auth.c - who may read the metrics (see metrics.h): the
 * same rule for parsec-fcgi's GET /administration/metrics and notifyd's
 * GET /metrics
 */
#include "cfg.h"
#include "crypto.h"
#include "metrics.h"
#include "proto.h"

#include <stdlib.h>
#include <string.h>

/* A token longer than any setting can hold is refused before copying. */
#define TOKEN_MAX CFG_VALUE_MAX

int metrics_authorize(const cfg_t *cfg, const char *h, const char **why)
{
    const char *admin = cfg->administration_token, *own = cfg->metrics_token;
    bool has_admin = admin && *admin, has_own = own && *own;
    if (!has_admin && !has_own) {
        *why = "no metrics or administration token configured";
        return 403;
    }
    if (!h) {
        *why = "no Authorization header";
        return 401;
    }
    const char *tok;
    size_t n;
    if (!proto_bearer(h, &tok, &n)) {
        *why = "Authorization is not a Bearer token";
        return 401;
    }
    if (n == 0) {
        *why = "empty Bearer token";
        return 401;
    }
    if (n > TOKEN_MAX) {
        *why = "wrong token";
        return 403;
    }
    char given[TOKEN_MAX + 1];
    memcpy(given, tok, n);
    given[n] = '\0';
    /* Both compared, whichever matches, so the time says nothing of which
     * tokens are configured. */
    bool ok_admin = crypto_str_equal(given, has_admin ? admin : "");
    bool ok_own = crypto_str_equal(given, has_own ? own : "");
    explicit_bzero(given, n);
    if ((has_admin && ok_admin) || (has_own && ok_own))
        return 0;
    *why = "wrong token";
    return 403;
}
