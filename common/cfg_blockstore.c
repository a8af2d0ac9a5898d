/*
 * common/cfg_blockstore.c - blockstore specs: MOCKED, POSTGRESQL, s3:...,
 * swift:... and RAID0/1/5 sets of them, parsed into cfg_blockstore and
 * written back (see cfg.h and cfg_internal.h)
 *
 * Fields are separated by ':', written "\:" inside a field, and a backslash
 * as "\\" (Parsec's escaping); cfg_blockstore_spec() writes what
 * split_escaped() reads, so a spec survives the round trip.
 */
#include "cfg_internal.h"

#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * split_escaped - split on ':' where "\:" is a literal colon and "\\" a
 * literal backslash; any other backslash stays (Parsec's
 * _split_with_escaping in parsec/backend/cli/utils.py).
 */
static void split_escaped(const char *s, strvec_t *out)
{
    strbuf_t cur = STRBUF_INIT;
    for (; *s; s++) {
        if (*s == '\\') {
            if (s[1] == ':' || s[1] == '\\') {
                strbuf_putc(&cur, s[1]);
                s++;
            } else {
                strbuf_putc(&cur, '\\');
            }
        } else if (*s == ':') {
            strvec_push(out, strbuf_detach(&cur));
        } else {
            strbuf_putc(&cur, *s);
        }
    }
    strvec_push(out, strbuf_detach(&cur));
}

/* endpoint - "https://" prepended to a URL without scheme; NULL when the
 * scheme is neither http nor https or nothing follows it. */
static char *endpoint(const char *v)
{
    const char *sep = strstr(v, "://");
    if (!sep)
        return xasprintf("https://%s", v);
    size_t slen = (size_t)(sep - v);
    bool http = (slen == 4 && strncasecmp(v, "http", 4) == 0) ||
                (slen == 5 && strncasecmp(v, "https", 5) == 0);
    if (!http || !sep[3] || sep[3] == '/')
        return NULL;
    return xstrdup(v);
}

static void node_free(cfg_blockstore_node *n)
{
    free(n->s3_endpoint);
    free(n->s3_region);
    free(n->s3_bucket);
    free(n->s3_key);
    free(n->s3_secret);
    free(n->swift_auth_url);
    free(n->swift_tenant);
    free(n->swift_container);
    free(n->swift_user);
    free(n->swift_password);
    memset(n, 0, sizeof *n);
}

/*
 * parse_node - one MOCKED / POSTGRESQL / s3:... / swift:... spec
 *
 * Messages name the problem and the field, never the spec: it may hold a
 * secret.  what is "" or " (RAID node N)".
 */
static bool parse_node(cfg_parse_ctx *p, const char *lab, const char *what, const char *spec,
                       cfg_blockstore_node *node)
{
    strvec_t parts = STRVEC_INIT;
    bool ok = false;
    if (strcasecmp(spec, "MOCKED") == 0) {
        node->kind = CFG_BS_MOCKED;
        return true;
    }
    if (strcasecmp(spec, "POSTGRESQL") == 0) {
        node->kind = CFG_BS_POSTGRESQL;
        return true;
    }
    split_escaped(spec, &parts);
    bool s3 = strcasecmp(parts.v[0], "s3") == 0;
    bool swift = strcasecmp(parts.v[0], "swift") == 0;
    if (cfg_has_prefix_ci(spec, "RAID")) {
        cfg_fail(p, "%s%s: a RAID node cannot itself be a RAID", lab, what);
        goto cleanup;
    }
    if (!s3 && !swift) {
        cfg_fail(p,
                 "%s%s: unknown blockstore type (expected MOCKED, POSTGRESQL, s3:..., swift:... "
                 "or <RAID0|RAID1|RAID5>:<node>:<config>)",
                 lab, what);
        goto cleanup;
    }
    if (parts.n != 6) {
        cfg_fail(p, "%s%s: %s", lab, what,
                 s3 ? "expected s3:[<endpoint_url>]:<region>:<bucket>:<key>:<secret> "
                      "(escape ':' inside a field as \\:)"
                    : "expected swift:<auth_url>:<tenant>:<container>:<user>:<password> "
                      "(escape ':' inside a field as \\:)");
        goto cleanup;
    }
    if (s3) {
        static const char *const names[] = {NULL, NULL, "region", "bucket", "key", "secret"};
        for (int i = 3; i <= 5; i++)
            if (!*parts.v[i]) {
                cfg_fail(p, "%s%s: s3 %s must not be empty", lab, what, names[i]);
                goto cleanup;
            }
        node->kind = CFG_BS_S3;
        if (*parts.v[1]) {
            node->s3_endpoint = endpoint(parts.v[1]);
            if (!node->s3_endpoint) {
                cfg_fail(p, "%s%s: s3 endpoint must be http:// or https:// followed by a host", lab,
                         what);
                goto cleanup;
            }
        }
        node->s3_region = xstrdup(parts.v[2]);
        node->s3_bucket = xstrdup(parts.v[3]);
        node->s3_key = xstrdup(parts.v[4]);
        node->s3_secret = xstrdup(parts.v[5]);
    } else {
        static const char *const names[] = {NULL,        "auth_url", "tenant",
                                            "container", "user",     "password"};
        for (int i = 1; i <= 5; i++)
            if (!*parts.v[i]) {
                cfg_fail(p, "%s%s: swift %s must not be empty", lab, what, names[i]);
                goto cleanup;
            }
        node->kind = CFG_BS_SWIFT;
        node->swift_auth_url = endpoint(parts.v[1]);
        if (!node->swift_auth_url) {
            cfg_fail(p, "%s%s: swift auth_url must be http:// or https:// followed by a host", lab,
                     what);
            goto cleanup;
        }
        node->swift_tenant = xstrdup(parts.v[2]);
        node->swift_container = xstrdup(parts.v[3]);
        node->swift_user = xstrdup(parts.v[4]);
        node->swift_password = xstrdup(parts.v[5]);
    }
    ok = true;
cleanup:
    strvec_free(&parts);
    return ok;
}

/* raid_of - RAID level of a "RAIDn:<node>:<config>" spec, CFG_RAID_NONE for
 * a plain spec; false (message written) for a malformed RAID prefix. */
static bool raid_of(cfg_parse_ctx *p, const char *lab, const char *spec, cfg_raid *raid,
                    unsigned *index, const char **rest)
{
    *raid = CFG_RAID_NONE;
    if (!cfg_has_prefix_ci(spec, "RAID"))
        return true;
    const char *c1 = strchr(spec, ':');
    size_t plen = c1 ? (size_t)(c1 - spec) : strlen(spec);
    if (plen != 5 || (spec[4] != '0' && spec[4] != '1' && spec[4] != '5')) {
        cfg_fail(p, "%s: unknown RAID level (expected RAID0, RAID1 or RAID5)", lab);
        return false;
    }
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) {
        cfg_fail(p, "%s: expected <RAID0|RAID1|RAID5>:<node>:<config>", lab);
        return false;
    }
    char digits[8];
    size_t n = (size_t)(c2 - c1 - 1);
    unsigned long long idx;
    if (n == 0 || n >= sizeof digits) {
        cfg_fail(p, "%s: RAID node index must be an integer from 0 to %d", lab,
                 CFG_BLOCKSTORE_MAX - 1);
        return false;
    }
    memcpy(digits, c1 + 1, n);
    digits[n] = '\0';
    if (!cfg_parse_uint(digits, CFG_BLOCKSTORE_MAX - 1, &idx)) {
        cfg_fail(p, "%s: RAID node index must be an integer from 0 to %d", lab,
                 CFG_BLOCKSTORE_MAX - 1);
        return false;
    }
    *raid = spec[4] == '0' ? CFG_RAID0 : spec[4] == '1' ? CFG_RAID1 : CFG_RAID5;
    *index = (unsigned)idx;
    *rest = c2 + 1;
    return true;
}

const char *cfg_raid_name(cfg_raid r)
{
    return r == CFG_RAID0 ? "RAID0" : r == CFG_RAID1 ? "RAID1" : r == CFG_RAID5 ? "RAID5" : "";
}

/*
 * cfg_blockstore_parse - every -b of the winning source into c->blockstore
 *
 * One plain spec, or RAID specs all of one level whose node indexes are
 * exactly 0..n-1 (Parsec's _parse_blockstore_params), RAID5 with 3 nodes
 * at least (it needs a parity node and two data nodes).
 */
bool cfg_blockstore_parse(cfg_parse_ctx *p, cfg_t *c, const strvec_t *specs, cfg_src src)
{
    char lab[128];
    size_t n = specs->n;
    cfg_raid level = CFG_RAID_NONE;
    unsigned *index = xcalloc(n, sizeof *index);
    const char **rest = xcalloc(n, sizeof *rest);
    unsigned count[CFG_BLOCKSTORE_MAX] = {0};
    bool ok = false;
    cfg_label(lab, sizeof lab, O_BLOCKSTORE, src, p->from_file[O_BLOCKSTORE]);

    for (size_t i = 0; i < n; i++) {
        const char *spec = specs->v[i];
        cfg_raid r;
        if (!*spec) {
            cfg_fail(p, "%s: empty blockstore spec", lab);
            goto cleanup;
        }
        if (strlen(spec) > CFG_VALUE_MAX) {
            cfg_fail(p, "%s: longer than %d bytes", lab, CFG_VALUE_MAX);
            goto cleanup;
        }
        for (const char *s = spec; *s; s++)
            if ((unsigned char)*s < 0x20 || *s == 0x7f) {
                cfg_fail(p, "%s: control characters are not allowed", lab);
                goto cleanup;
            }
        if (!raid_of(p, lab, spec, &r, &index[i], &rest[i]))
            goto cleanup;
        if (i > 0 && r != level) {
            if (r == CFG_RAID_NONE || level == CFG_RAID_NONE)
                cfg_fail(p,
                         "%s: several blockstores need <RAID0|RAID1|RAID5>:<node>:<config> "
                         "for each of them",
                         lab);
            else
                cfg_fail(p, "%s: mixes %s and %s nodes (one RAID level only)", lab,
                         cfg_raid_name(level), cfg_raid_name(r));
            goto cleanup;
        }
        level = r;
    }
    if (level == CFG_RAID_NONE && n > 1) {
        cfg_fail(p,
                 "%s: several blockstores need <RAID0|RAID1|RAID5>:<node>:<config> for each of "
                 "them",
                 lab);
        goto cleanup;
    }
    if (level == CFG_RAID5 && n < 3) {
        cfg_fail(p, "%s: RAID5 needs at least 3 nodes, got %zu", lab, n);
        goto cleanup;
    }
    if (level != CFG_RAID_NONE) {
        for (size_t i = 0; i < n; i++)
            if (index[i] < n)
                count[index[i]]++;
        for (size_t x = 0; x < n; x++) {
            if (count[x] == 0) {
                cfg_fail(p, "%s: RAID node %zu is missing (nodes must be numbered 0 to %zu)", lab,
                         x, n - 1);
                goto cleanup;
            }
            if (count[x] > 1) {
                cfg_fail(p, "%s: RAID node %zu is given more than once", lab, x);
                goto cleanup;
            }
        }
    }

    c->blockstore.raid = level;
    c->blockstore.n_nodes = n;
    c->blockstore.nodes = xcalloc(n, sizeof *c->blockstore.nodes);
    for (size_t i = 0; i < n; i++) {
        char what[48] = "";
        size_t slot = level == CFG_RAID_NONE ? 0 : index[i];
        if (level != CFG_RAID_NONE)
            snprintf(what, sizeof what, " (RAID node %zu)", slot);
        if (!parse_node(p, lab, what, level == CFG_RAID_NONE ? specs->v[i] : rest[i],
                        &c->blockstore.nodes[slot]))
            goto cleanup;
    }
    ok = true;
cleanup:
    free(index);
    free(rest);
    return ok;
}

void cfg_blockstore_free(cfg_blockstore *bs)
{
    for (size_t i = 0; i < bs->n_nodes; i++)
        node_free(&bs->nodes[i]);
    free(bs->nodes);
    memset(bs, 0, sizeof *bs);
}

/* escape_field - a blockstore field as a spec writes it: '\' and ':' escaped. */
static void escape_field(strbuf_t *s, const char *v)
{
    for (; v && *v; v++) {
        if (*v == ':' || *v == '\\')
            strbuf_putc(s, '\\');
        strbuf_putc(s, *v);
    }
}

/* put_fields - "<kind>:f0:f1:f2:f3:f4", the last field (the secret) as
 * "***" when redact. */
static void put_fields(strbuf_t *s, const char *kind, const char *const f[5], bool redact)
{
    strbuf_puts(s, kind);
    for (int i = 0; i < 5; i++) {
        strbuf_putc(s, ':');
        if (i == 4 && redact)
            strbuf_puts(s, "***");
        else
            escape_field(s, f[i]);
    }
}

char *cfg_blockstore_spec(const cfg_blockstore *bs, size_t i, bool redact)
{
    strbuf_t s = STRBUF_INIT;
    const cfg_blockstore_node *n = &bs->nodes[i];
    if (bs->raid != CFG_RAID_NONE)
        strbuf_printf(&s, "%s:%zu:", cfg_raid_name(bs->raid), i);
    switch (n->kind) {
    case CFG_BS_MOCKED:
        strbuf_puts(&s, "MOCKED");
        break;
    case CFG_BS_POSTGRESQL:
        strbuf_puts(&s, "POSTGRESQL");
        break;
    case CFG_BS_S3: {
        const char *const f[5] = {n->s3_endpoint, n->s3_region, n->s3_bucket, n->s3_key,
                                  n->s3_secret};
        put_fields(&s, "s3", f, redact);
        break;
    }
    case CFG_BS_SWIFT: {
        const char *const f[5] = {n->swift_auth_url, n->swift_tenant, n->swift_container,
                                  n->swift_user, n->swift_password};
        put_fields(&s, "swift", f, redact);
        break;
    }
    default:
        strbuf_puts(&s, "(unset)");
        break;
    }
    return strbuf_detach(&s);
}
