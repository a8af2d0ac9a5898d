/*
 * fcgi-api/front/routes.c - match a request against the static route tables
 *
 * Three short tables (pages, administration, RPC), a few dozen routes in
 * all: a linear scan segment by segment is fast enough and obviously right.
 */
#include "routes.h"

#include "admin/admin.h"
#include "pages/pages.h"
#include "rpc/rpc.h"

#include <stdbool.h>
#include <string.h>

static const http_route_t *const tables[] = {pages_routes, admin_routes, rpc_routes};

/* match - does path fit pattern?  Captures go to caps (arena). */
static bool match(arena_t *a, const char *pattern, const char *path,
                  const char *caps[HTTP_MAX_PARAMS])
{
    const char *p = pattern, *s = path;
    int ncap = 0;
    if (*p != '/' || *s != '/')
        return false;
    while (*p == '/' && *s == '/') {
        p++;
        s++;
        size_t pl = strcspn(p, "/"), sl = strcspn(s, "/");
        if (pl == 3 && memcmp(p, "{*}", 3) == 0 && p[3] == '\0') {
            /* the rest: one or more segments, none of them empty */
            if (sl == 0 || s[strlen(s) - 1] == '/' || strstr(s, "//"))
                return false;
            if (ncap < HTTP_MAX_PARAMS)
                caps[ncap++] = arena_strdup(a, s);
            return true;
        }
        if (pl == 2 && memcmp(p, "{}", 2) == 0) {
            if (sl == 0)
                return false;
            if (ncap < HTTP_MAX_PARAMS)
                caps[ncap++] = arena_strndup(a, s, sl);
        } else if (pl != sl || memcmp(p, s, pl) != 0) {
            return false;
        }
        p += pl;
        s += sl;
    }
    return *p == '\0' && *s == '\0';
}

/* Add m to the comma-separated list (GET brings HEAD with it). */
static const char *allow_add(arena_t *a, const char *list, const char *m)
{
    const char *add[2] = {m, strcmp(m, "GET") == 0 ? "HEAD" : NULL};
    for (int i = 0; i < 2 && add[i]; i++) {
        size_t n = strlen(add[i]);
        bool present = false;
        for (const char *q = list; *q;) {
            size_t l = strcspn(q, ",");
            if (l == n && memcmp(q, add[i], n) == 0)
                present = true;
            q += l;
            while (*q == ',' || *q == ' ')
                q++;
        }
        if (!present)
            list = *list ? arena_printf(a, "%s, %s", list, add[i]) : arena_strdup(a, add[i]);
    }
    return list;
}

route_match routes_match(http_req_t *r, http_handler_fn *handler, http_handler_fn *on_refusal,
                         const char **allow)
{
    *on_refusal = NULL;
    bool matched = false;
    const char *method = strcmp(r->method, "HEAD") == 0 ? "GET" : r->method;
    const char *allowed = "";
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        for (const http_route_t *rt = tables[t]; rt->pattern; rt++) {
            const char *caps[HTTP_MAX_PARAMS] = {NULL};
            if (!match(r->arena, rt->pattern, r->path, caps))
                continue;
            if (!matched) {
                matched = true;
                *on_refusal = rt->on_refusal;
                r->route = rt->pattern;
            }
            if (strcmp(rt->method, method) == 0) {
                memcpy(r->params, caps, sizeof caps);
                *handler = rt->handler;
                return ROUTE_FOUND;
            }
            allowed = allow_add(r->arena, allowed, rt->method);
        }
    }
    if (*allowed) {
        *allow = allowed;
        return ROUTE_BAD_METHOD;
    }
    return ROUTE_NOT_FOUND;
}
