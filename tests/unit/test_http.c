/*
 * tests/unit/test_http.c - the FastCGI front without a web server
 *
 * Everything between the CGI parameters and the response bytes: body length
 * parsing, path normalisation, routing with 404/405/Allow, HEAD, the pages
 * (index, redirect, static, health without a database), forward-proto
 * enforcement, header sanitising and HTML escaping.
 */
#include "front/front.h"
#include "front/routes.h"
#include "http/http.h"
#include "log.h"
#include "strbuf.h"
#include "testreg.h"

#include <stdint.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cfg_t cfg;
static arena_t *arena;
static http_req_t *req;

static void setup(void)
{
    memset(&cfg, 0, sizeof cfg);
    cfg.max_request_size = 1048576;
    cfg.db_max_connections = 7;
    arena = arena_new();
}

static void teardown(void)
{
    arena_free(arena);
}

/* Run one request; params end with NULL. */
static http_req_t *run(char **params)
{
    req = front_handle(arena, &(http_env_t){&cfg, NULL, NULL}, params, NULL, 0, 0);
    return req;
}

static http_req_t *get(const char *uri)
{
    char *params[] = {"REQUEST_METHOD=GET", arena_printf(arena, "REQUEST_URI=%s", uri),
                      "HTTP_HOST=parsec.example.com", NULL};
    return run(params);
}

static const char *resp_header(const http_req_t *r, const char *name)
{
    const char *v = NULL;
    for (const struct http_header *h = r->resp_headers; h; h = h->next)
        if (strcasecmp(h->name, name) == 0)
            v = h->value;
    return v;
}

static char *body(const http_req_t *r)
{
    return arena_strndup(arena, (const char *)r->resp_body, r->resp_len);
}

/* ---- CONTENT_LENGTH ---- */

START_TEST(content_length_strict)
{
    size_t n = 99;
    ck_assert_int_eq(front_content_length(NULL, 100, &n), FRONT_CL_ABSENT);
    ck_assert_int_eq(front_content_length("", 100, &n), FRONT_CL_ABSENT);
    ck_assert_int_eq(front_content_length("0", 100, &n), FRONT_CL_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(front_content_length("100", 100, &n), FRONT_CL_OK);
    ck_assert_uint_eq(n, 100);
    ck_assert_int_eq(front_content_length("101", 100, &n), FRONT_CL_TOO_LARGE);
    ck_assert_int_eq(front_content_length("99999999999999999999999999", 100, &n),
                     FRONT_CL_TOO_LARGE);
    const char *bad[] = {"+1", "-1", " 1", "1 ", "0x10", "1e3", "1.0", "١", "1\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(front_content_length(bad[i], 100, &n) == FRONT_CL_BAD, "%s accepted", bad[i]);
}
END_TEST

/* ---- request target ---- */

static const struct {
    const char *uri, *script;
    int status;
    const char *path, *query, *mount;
} targets[] = {
    {"/", NULL, 0, "/", "", ""},
    {"/a/b?x=1&y", NULL, 0, "/a/b", "x=1&y", ""},
    {"/a%20b+c", NULL, 0, "/a b+c", "", ""},
    {"/%C3%A9t%C3%A9", NULL, 0, "/\xc3\xa9t\xc3\xa9", "", ""},
    {"/a#frag", NULL, 0, "/a", "", ""},
    {"/a?q#frag", NULL, 0, "/a", "q", ""},
    {"//a/", NULL, 0, "//a/", "", ""},
    {"/a/..b/...", NULL, 0, "/a/..b/...", "", ""},
    {"http://h.example/a?q", NULL, 0, "/a", "q", ""},
    {"https://h.example", NULL, 0, "/", "", ""},
    /* mount prefixes, at a segment boundary only */
    {"/parsec/a?q", "/parsec", 0, "/a", "q", "/parsec"},
    {"/parsec", "/parsec", 0, "/", "", "/parsec"},
    {"/parsec/", "/parsec/", 0, "/", "", "/parsec"},
    {"/parsecfoo/a", "/parsec", 0, "/parsecfoo/a", "", ""},
    {"/other/a", "/parsec", 0, "/other/a", "", ""},
    {"/a/b", "/", 0, "/a/b", "", ""},
    {"/a/b", "", 0, "/a/b", "", ""},
    {"/p%61rsec/x", "/parsec", 0, "/x", "", "/parsec"},
    /* refused: encoded slash and dot segments (404), malformed (400) */
    {"/a%2Fb", NULL, 404, NULL, NULL, NULL},
    {"/a%2fb", NULL, 404, NULL, NULL, NULL},
    {"/a/../b", NULL, 404, NULL, NULL, NULL},
    {"/a/./b", NULL, 404, NULL, NULL, NULL},
    {"/a/%2e%2e/b", NULL, 404, NULL, NULL, NULL},
    {"/a/%2E", NULL, 404, NULL, NULL, NULL},
    {"/..", NULL, 404, NULL, NULL, NULL},
    {"/static/../x", NULL, 404, NULL, NULL, NULL},
    {"/parsec/../admin", "/parsec", 404, NULL, NULL, NULL},
    {"/a%00b", NULL, 400, NULL, NULL, NULL},
    {"/a%0Ab", NULL, 400, NULL, NULL, NULL},
    {"/a%7f", NULL, 400, NULL, NULL, NULL},
    {"/a\tb", NULL, 400, NULL, NULL, NULL},
    {"/a%zz", NULL, 400, NULL, NULL, NULL},
    {"/a%2", NULL, 400, NULL, NULL, NULL},
    {"/a%", NULL, 400, NULL, NULL, NULL},
    {"/%C3", NULL, 400, NULL, NULL, NULL},
    {"/%C0%AF", NULL, 400, NULL, NULL, NULL},
    {"/%ED%A0%80", NULL, 400, NULL, NULL, NULL},
    {"/%F4%90%80%80", NULL, 400, NULL, NULL, NULL},
    {"/\xff", NULL, 400, NULL, NULL, NULL},
    {"a/b", NULL, 400, NULL, NULL, NULL},
    {"*", NULL, 400, NULL, NULL, NULL},
    {"", NULL, 400, NULL, NULL, NULL},
    {NULL, NULL, 400, NULL, NULL, NULL},
    {"http://h?q", NULL, 400, NULL, NULL, NULL},
};

START_TEST(target_normalised)
{
    const char *path = "unset", *query = "unset", *mount = "unset";
    int st = front_parse_target(arena, targets[_i].uri, targets[_i].script, &path, &query, &mount);
    ck_assert_msg(st == targets[_i].status, "%s: status %d, expected %d",
                  targets[_i].uri ? targets[_i].uri : "(null)", st, targets[_i].status);
    if (st == 0) {
        ck_assert_str_eq(path, targets[_i].path);
        ck_assert_str_eq(query, targets[_i].query);
        ck_assert_str_eq(mount, targets[_i].mount);
    }
}
END_TEST

/* ---- routing, HEAD, errors ---- */

START_TEST(index_page)
{
    http_req_t *r = get("/");
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(r->content_type, "text/html; charset=utf-8");
    char *b = body(r);
    ck_assert_ptr_nonnull(strstr(b, "Parsec server is running"));
    ck_assert_ptr_nonnull(strstr(b, PARSEC_VERSION));
    ck_assert_ptr_nonnull(strstr(b, "href=\"/static/base.css\""));

    size_t len;
    char *head = front_render_head(r, &len);
    ck_assert_uint_eq(strlen(head), len);
    ck_assert(strncmp(head, "Status: 200 OK\r\n", 16) == 0);
    char *cl = arena_printf(arena, "\r\nContent-Length: %zu\r\n", r->resp_len);
    ck_assert_ptr_nonnull(strstr(head, cl));
    ck_assert_ptr_nonnull(strstr(head, "\r\nServer: parsec\r\n"));
    ck_assert_ptr_nonnull(strstr(head, "\r\nContent-Type: text/html; charset=utf-8\r\n"));
    ck_assert(len >= 4 && strcmp(head + len - 4, "\r\n\r\n") == 0);
    ck_assert(!front_head_only(r));
}
END_TEST

START_TEST(index_links_follow_mount)
{
    char *params[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/parsec/", "SCRIPT_NAME=/parsec", NULL};
    http_req_t *r = run(params);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(r->mount, "/parsec");
    ck_assert_ptr_nonnull(strstr(body(r), "href=\"/parsec/static/base.css\""));
}
END_TEST

START_TEST(server_header_in_debug)
{
    cfg.debug = true;
    http_req_t *r = get("/");
    size_t len;
    char *head = front_render_head(r, &len);
    ck_assert_ptr_nonnull(strstr(head, "\r\nServer: parsec/" PARSEC_VERSION "\r\n"));
}
END_TEST

START_TEST(head_is_get_without_body)
{
    size_t get_len = get("/")->resp_len;
    char *params[] = {"REQUEST_METHOD=HEAD", "REQUEST_URI=/", NULL};
    http_req_t *r = run(params);
    ck_assert_int_eq(r->status, 200);
    ck_assert(front_head_only(r));
    size_t len;
    char *head = front_render_head(r, &len);
    ck_assert_ptr_nonnull(strstr(head, arena_printf(arena, "Content-Length: %zu\r\n", get_len)));
}
END_TEST

START_TEST(not_found_is_html)
{
    http_req_t *r = get("/dummy");
    ck_assert_int_eq(r->status, 404);
    ck_assert_str_eq(r->content_type, "text/html; charset=utf-8");
    ck_assert_ptr_nonnull(strstr(body(r), "Not found"));
    /* trailing slashes and empty segments are not collapsed */
    ck_assert_int_eq(get("/health/")->status, 404);
    ck_assert_int_eq(get("//health")->status, 404);
    ck_assert_int_eq(get("/HEALTH")->status, 404);
}
END_TEST

START_TEST(refused_targets_answer_their_status)
{
    ck_assert_int_eq(get("/static/../base.css")->status, 404);
    ck_assert_int_eq(get("/static/%2e%2e/x")->status, 404);
    ck_assert_int_eq(get("/static%2Fbase.css")->status, 404);
    http_req_t *r = get("/a%00");
    ck_assert_int_eq(r->status, 400);
    ck_assert_str_eq(r->content_type, "text/html; charset=utf-8");
}
END_TEST

START_TEST(wrong_method_405_with_allow)
{
    const char *methods[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        char *params[] = {arena_printf(arena, "REQUEST_METHOD=%s", methods[i]),
                          "REQUEST_URI=/health", NULL};
        http_req_t *r = run(params);
        ck_assert_int_eq(r->status, 405);
        ck_assert_str_eq(resp_header(r, "Allow"), "GET, HEAD");
    }
    /* unknown path with a wrong method: 404, not 405 */
    char *params[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/nope", NULL};
    ck_assert_int_eq(run(params)->status, 404);
}
END_TEST

START_TEST(bad_method_or_target_400)
{
    char *p1[] = {"REQUEST_METHOD=get", "REQUEST_URI=/", NULL};
    ck_assert_int_eq(run(p1)->status, 400);
    char *p2[] = {"REQUEST_METHOD=G T", "REQUEST_URI=/", NULL};
    ck_assert_int_eq(run(p2)->status, 400);
    char *p3[] = {"REQUEST_URI=/", NULL};
    ck_assert_int_eq(run(p3)->status, 400);
    char *p4[] = {"REQUEST_METHOD=GET", NULL};
    ck_assert_int_eq(run(p4)->status, 400);
}
END_TEST

START_TEST(early_status_answers_before_routing)
{
    char *params[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/health", NULL};
    req = front_handle(arena, &(http_env_t){&cfg, NULL, NULL}, params, NULL, 0, 413);
    ck_assert_int_eq(req->status, 413);
    ck_assert_str_eq(req->content_type, "text/html; charset=utf-8");
    req = front_handle(arena, &(http_env_t){&cfg, NULL, NULL}, params, NULL, 0, 400);
    ck_assert_int_eq(req->status, 400);
}
END_TEST

START_TEST(health_without_database_503)
{
    http_req_t *r = get("/health");
    ck_assert_int_eq(r->status, 503);
    ck_assert_str_eq(r->content_type, "application/json");
    ck_assert_str_eq(body(r), "{\"status\":\"error\",\"database\":\"unreachable\"}");
    ck_assert_str_eq(resp_header(r, "Cache-Control"), "no-store");
}
END_TEST

START_TEST(static_files)
{
    http_req_t *r = get("/static/base.css");
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(r->content_type, "text/css; charset=utf-8");
    ck_assert_uint_gt(r->resp_len, 0);
    r = get("/static/favicon.ico");
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(r->content_type, "image/vnd.microsoft.icon");
    ck_assert_uint_eq(r->resp_len, 6 + 16 + 40 + 16 * 16 * 4 + 16 * 4);
    ck_assert(memcmp(r->resp_body, "\0\0\1\0\1\0", 6) == 0);
    ck_assert_int_eq(get("/static/dummy")->status, 404);
    ck_assert_int_eq(get("/static/")->status, 404);
}
END_TEST

/* ---- redirect (section 12.1) ---- */

static const struct {
    const char *addr, *uri, *location;
} redirects[] = {
    {"parsec://example.com:6777?no_ssl=true", "/redirect/foo/bar?a=1&b=2",
     "parsec://example.com:6777/foo/bar?a=1&b=2&no_ssl=true"},
    {"parsec://example.com:6777?no_ssl=true", "/redirect/spam?no_ssl=false&a=1&b=2",
     "parsec://example.com:6777/spam?a=1&b=2&no_ssl=true"},
    {"parsec://example.com", "/redirect/foo/bar?a=1&b=2", "parsec://example.com/foo/bar?a=1&b=2"},
    {"parsec://example.com", "/redirect/spam?a=1&b=2&no_ssl=true",
     "parsec://example.com/spam?a=1&b=2"},
    {"parsec://example.com/", "/redirect/x", "parsec://example.com/x"},
    {"parsec://example.com:443", "/redirect/x", "parsec://example.com/x"},
    {"parsec://example.com:80?no_ssl=true", "/redirect/x", "parsec://example.com/x?no_ssl=true"},
    {"parsec://example.com:80", "/redirect/x", "parsec://example.com:80/x"},
    {"parsec://[::1]:6777?no_ssl=TRUE", "/redirect/x", "parsec://[::1]:6777/x?no_ssl=true"},
    /* values grouped by key in order of first appearance, re-encoded */
    {"parsec://h", "/redirect/x?a=1&b=2&a=3", "parsec://h/x?a=1&a=3&b=2"},
    {"parsec://h",
     "/redirect/x%20y%2Bz/%C3%A9?q=a+b%21&r&&s=", "parsec://h/x+y%2Bz/%C3%A9?q=a+b%21&r=&s="},
    {"parsec://h", "/redirect/Org?action=claim_user&token=ab%2Fcd",
     "parsec://h/Org?action=claim_user&token=ab%2Fcd"},
    /* the query cannot override where the redirect goes */
    {"parsec://h:1234?no_ssl=true", "/redirect/x?no_ssl=false&no_ssl=0",
     "parsec://h:1234/x?no_ssl=true"},
};

START_TEST(redirect_location)
{
    cfg.backend_addr = (char *)redirects[_i].addr;
    http_req_t *r = get(redirects[_i].uri);
    ck_assert_int_eq(r->status, 302);
    ck_assert_str_eq(resp_header(r, "Location"), redirects[_i].location);
}
END_TEST

START_TEST(redirect_refusals)
{
    ck_assert_int_eq(get("/redirect/x")->status, 501); /* no backend-addr */
    cfg.backend_addr = "parsec://h";
    ck_assert_int_eq(get("/redirect/")->status, 404);
    ck_assert_int_eq(get("/redirect")->status, 404);
    ck_assert_int_eq(get("/redirect/a//b")->status, 404);
    ck_assert_int_eq(get("/redirect/a/")->status, 404);
    ck_assert_int_eq(get("/redirect/a/../b")->status, 404);
    ck_assert_int_eq(get("/redirect/a%2Fb")->status, 404);
    const char *bad[] = {
        "http://h",         "parsec://",    "parsec://h/path",        "parsec://h:0",
        "parsec://h:99999", "parsec://u@h", "parsec://h?no_ssl=maybe"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg.backend_addr = (char *)bad[i];
        ck_assert_msg(get("/redirect/x")->status == 500, "%s accepted", bad[i]);
    }
}
END_TEST

START_TEST(redirect_too_many_query_params_400)
{
    cfg.backend_addr = "parsec://h";
    char *uri = arena_strdup(arena, "/redirect/x?a=1");
    for (int i = 0; i < 300; i++)
        uri = arena_printf(arena, "%s&k%d=%d", uri, i, i);
    ck_assert_int_eq(get(uri)->status, 400);
}
END_TEST

/* ---- --forward-proto-enforce-https (section 12.4) ---- */

static http_req_t *get_proto(const char *uri, const char *proto, bool https)
{
    char *params[6] = {"REQUEST_METHOD=GET",
                       arena_printf(arena, "REQUEST_URI=%s", uri),
                       "HTTP_HOST=parsec.example.com:8080",
                       NULL,
                       NULL,
                       NULL};
    int n = 3;
    if (proto)
        params[n++] = arena_printf(arena, "HTTP_X_FORWARDED_PROTO=%s", proto);
    if (https)
        params[n++] = "HTTPS=on";
    return run(params);
}

START_TEST(forward_proto_enforced)
{
    cfg.forward_proto_header = "x-forwarded-proto";
    cfg.forward_proto_value = "https";
    http_req_t *r = get_proto("/test?a=1", "http", false);
    ck_assert_int_eq(r->status, 301);
    ck_assert_str_eq(resp_header(r, "Location"), "https://parsec.example.com:8080/test?a=1");
    /* the value is compared case-sensitively, as Parsec does */
    ck_assert_int_eq(get_proto("/test", "HTTPS", false)->status, 301);
    ck_assert_int_eq(get_proto("/test", "42", false)->status, 301);
    /* the matching value, or no header at all: served as usual */
    ck_assert_int_eq(get_proto("/test", "https", false)->status, 404);
    ck_assert_int_eq(get_proto("/", "https", false)->status, 200);
    ck_assert_int_eq(get_proto("/", NULL, false)->status, 200);
    /* only plain-http requests are redirected */
    ck_assert_int_eq(get_proto("/", "http", true)->status, 200);
    /* the raw target, mount prefix included, goes into Location */
    char *params[] = {"REQUEST_METHOD=GET",
                      "REQUEST_URI=/parsec/x%20y?q",
                      "SCRIPT_NAME=/parsec",
                      "SERVER_NAME=srv.example",
                      "SERVER_PORT=8000",
                      "HTTP_X_FORWARDED_PROTO=http",
                      NULL};
    r = run(params);
    ck_assert_int_eq(r->status, 301);
    ck_assert_str_eq(resp_header(r, "Location"), "https://srv.example:8000/parsec/x%20y?q");
    /* an absolute-form target keeps only its path and query */
    char *abs[] = {"REQUEST_METHOD=GET", "REQUEST_URI=http://other.example/a?b",
                   "HTTP_HOST=parsec.example.com", "HTTP_X_FORWARDED_PROTO=http", NULL};
    r = run(abs);
    ck_assert_int_eq(r->status, 301);
    ck_assert_str_eq(resp_header(r, "Location"), "https://parsec.example.com/a?b");
}
END_TEST

START_TEST(forward_proto_off_without_setting)
{
    ck_assert_int_eq(get_proto("/", "http", false)->status, 200);
    ck_assert_int_eq(get_proto("/test", "42", false)->status, 404);
}
END_TEST

START_TEST(forward_proto_hostile_host_not_reflected)
{
    cfg.forward_proto_header = "x-forwarded-proto";
    cfg.forward_proto_value = "https";
    char *params[] = {"REQUEST_METHOD=GET",
                      "REQUEST_URI=/",
                      "HTTP_HOST=evil\r\nSet-Cookie: x",
                      "SERVER_NAME=srv.example",
                      "SERVER_PORT=80",
                      "HTTP_X_FORWARDED_PROTO=http",
                      NULL};
    http_req_t *r = run(params);
    ck_assert_int_eq(r->status, 301);
    ck_assert_str_eq(resp_header(r, "Location"), "https://srv.example/");
}
END_TEST

/* ---- headers and escaping ---- */

START_TEST(request_headers_case_insensitive)
{
    char *params[] = {"REQUEST_METHOD=GET",
                      "REQUEST_URI=/",
                      "CONTENT_TYPE=application/json",
                      "HTTP_X_FORWARDED_PROTO=https",
                      "Authorization=Bearer apache",
                      NULL};
    http_req_t *r = run(params);
    ck_assert_str_eq(http_header(r, "content-type"), "application/json");
    ck_assert_str_eq(http_header(r, "X-Forwarded-Proto"), "https");
    ck_assert_str_eq(http_header(r, "x-forwarded-proto"), "https");
    /* mod_fcgid's FcgidPassHeader spelling */
    ck_assert_str_eq(http_header(r, "Authorization"), "Bearer apache");
    ck_assert_ptr_null(http_header(r, "X-Missing"));
    ck_assert_ptr_null(http_db(r)); /* no pool */
}
END_TEST

START_TEST(response_headers_sanitised)
{
    http_req_t *r = get("/");
    http_set_header(r, "X-Evil", "a\r\nSet-Cookie: x\nb");
    http_set_header(r, "Bad Name", "v");
    http_set_header(r, "X-Bad\r\nName", "v");
    http_set_header(r, "Content-Length", "1");
    size_t len;
    char *head = front_render_head(r, &len);
    ck_assert_ptr_nonnull(strstr(head, "\r\nX-Evil: a  Set-Cookie: x b\r\n"));
    ck_assert_ptr_null(strstr(head, "\r\nSet-Cookie"));
    ck_assert_ptr_null(strstr(head, "Bad Name"));
    ck_assert_ptr_null(strstr(head, "X-Bad"));
    ck_assert_ptr_null(strstr(head, "Content-Length: 1\r\n"));
}
END_TEST

START_TEST(json_and_error_responses)
{
    http_req_t *r = get("/");
    http_respond_error(r, 400, "bad_data", "Invalid \"JSON\" </script>");
    ck_assert_int_eq(r->status, 400);
    ck_assert_str_eq(r->content_type, "application/json");
    ck_assert_str_eq(body(r),
                     "{\"error\":\"bad_data\",\"reason\":\"Invalid \\\"JSON\\\" </script>\"}");
    http_respond_error(r, 404, "not_found", NULL);
    ck_assert_str_eq(body(r), "{\"error\":\"not_found\"}");
    http_respond(r, 204, NULL, NULL, 0);
    size_t len;
    char *head = front_render_head(r, &len);
    ck_assert_ptr_nonnull(strstr(head, "Status: 204 No Content\r\n"));
    ck_assert_ptr_null(strstr(head, "Content-Type"));
    ck_assert_ptr_nonnull(strstr(head, "Content-Length: 0\r\n"));
}
END_TEST

START_TEST(status_pages_for_every_error)
{
    const int codes[] = {400, 403, 404, 405, 413, 500, 501, 503, 418};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        http_req_t *r = get("/");
        http_respond_html_status(r, codes[i]);
        ck_assert_int_eq(r->status, codes[i]);
        char *b = body(r);
        ck_assert_ptr_nonnull(strstr(b, arena_printf(arena, "<h1>%d ", codes[i])));
        ck_assert_ptr_nonnull(strstr(b, "</html>"));
    }
    ck_assert_str_eq(http_reason(413), "Payload Too Large");
    ck_assert_str_eq(http_reason(299), "Unknown");
}
END_TEST

START_TEST(request_ids_distinct)
{
    char *a = arena_strdup(arena, get("/")->request_id);
    char *b = arena_strdup(arena, get("/")->request_id);
    ck_assert_uint_eq(strlen(a), 16);
    ck_assert_uint_eq(strspn(a, "0123456789abcdef"), 16);
    ck_assert_str_ne(a, b);
}
END_TEST

/* ---- X-Request-Id, Retry-After, the access line ---- */

static char *rendered(http_req_t *r)
{
    size_t n;
    return front_render_head(r, &n);
}

START_TEST(incoming_request_id_honoured_when_well_formed)
{
    static const struct {
        const char *in;
        bool kept;
    } ids[] = {
        {"0f8fad5b-d9cb-469f-a165-70867728950e", true},
        {"Root=1-67891233-abcdef012345678912345678", true},
        {"a", true},
        {"0123456789012345678901234567890123456789012345678901234567890123", true}, /* 64 */
        {"01234567890123456789012345678901234567890123456789012345678901234", false},
        {"", false},
        {"has space", false},
        {"quote\"", false},
        {"semi;colon", false},
        {"\xc3\xa9t\xc3\xa9", false},
    };
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
        char *params[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/",
                          arena_printf(arena, "HTTP_X_REQUEST_ID=%s", ids[i].in), NULL};
        http_req_t *r = run(params);
        if (ids[i].kept) {
            ck_assert_str_eq(r->request_id, ids[i].in);
        } else {
            ck_assert_uint_eq(strlen(r->request_id), 16);
            ck_assert_uint_eq(strspn(r->request_id, "0123456789abcdef"), 16);
        }
        ck_assert_ptr_nonnull(
            strstr(rendered(r), arena_printf(arena, "X-Request-Id: %s\r\n", r->request_id)));
    }
}
END_TEST

static void respond_503_with_retry_after(http_req_t *r)
{
    http_respond_html_status(r, 503);
    http_set_header(r, "Retry-After", "120");
}

START_TEST(every_503_carries_retry_after)
{
    char *head = rendered(get("/health")); /* no database: 503 */
    ck_assert_msg(strstr(head, "Status: 503 ") && strstr(head, "\r\nRetry-After: 5\r\n"), "%s",
                  head);
    head = rendered(get("/"));
    ck_assert_ptr_null(strstr(head, "Retry-After"));
    /* a handler's own value is kept, not doubled */
    http_req_t *r = get("/");
    respond_503_with_retry_after(r);
    head = rendered(r);
    ck_assert_ptr_nonnull(strstr(head, "\r\nRetry-After: 120\r\n"));
    ck_assert_ptr_null(strstr(strstr(head, "Retry-After") + 1, "Retry-After"));
}
END_TEST

/* The access line: address, method, path, status, bytes, duration, under
 * the request id and, once authenticated, the device; never a query string
 * or a header. */
START_TEST(access_line_per_request)
{
    const char *base = getenv("PARSEC_TEST_TMP");
    char *tmpl = arena_printf(arena, "%s/test_http.XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    char *path = arena_printf(arena, "%s/access.log", tmpl);
    char err[256];
    ck_assert(log_open(CFG_LOG_INFO, CFG_LOG_CONSOLE, path, "parsec-fcgi", err, sizeof err));

    cfg.backend_addr = "parsec://h";
    char *params[] = {"REQUEST_METHOD=GET",
                      "REQUEST_URI=/parsec/redirect/org?action=claim&token=T0KEN-IN-QUERY",
                      "SCRIPT_NAME=/parsec",
                      "REMOTE_ADDR=192.0.2.7",
                      "HTTP_X_REQUEST_ID=req-42",
                      "HTTP_AUTHORIZATION=Bearer S3CRET-HEADER",
                      "HTTP_INVITATION_TOKEN=INV1TATION",
                      NULL};
    http_req_t *r = run(params);
    ck_assert_int_eq(r->status, 302);
    front_request_end(r);
    char *head_params[] = {"REQUEST_METHOD=HEAD", "REQUEST_URI=/", "REMOTE_ADDR=2001:db8::1", NULL};
    r = run(head_params);
    http_set_device(r, "alice@laptop");
    front_request_end(r);
    char *bad[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/a%zz?secret=Q", NULL};
    r = run(bad);
    front_request_end(r);
    log_close();

    strbuf_t b = STRBUF_INIT;
    ck_assert(strbuf_read_file(&b, path));
    const char *s = strbuf_cstr(&b);
    ck_assert_msg(strstr(s, " req-42 access: 192.0.2.7 GET /parsec/redirect/org -> 302, "), "%s",
                  s);
    ck_assert_msg(strstr(s, " dev=alice@laptop access: 2001:db8::1 HEAD / -> 200, 0 bytes, "), "%s",
                  s);
    ck_assert_msg(strstr(s, "access: - GET /a%zz -> 400, "), "%s", s);
    ck_assert_msg(strstr(s, " ms\n"), "%s", s);
    ck_assert_ptr_null(strstr(s, "T0KEN"));
    ck_assert_ptr_null(strstr(s, "S3CRET"));
    ck_assert_ptr_null(strstr(s, "INV1TATION"));
    ck_assert_ptr_null(strstr(s, "secret=Q"));
    unlink(path);
    rmdir(tmpl);
    strbuf_free(&b);
}
END_TEST

START_TEST(route_params_captured)
{
    cfg.backend_addr = "parsec://h";
    http_req_t *r = get("/redirect/a/b%20c");
    ck_assert_int_eq(r->status, 302);
    ck_assert_str_eq(r->params[0], "a/b c");
    r = get("/static/base.css");
    ck_assert_str_eq(r->params[0], "base.css");
}
END_TEST

TEST_SUITE(http)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("front");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, content_length_strict);
    tcase_add_loop_test(tc, target_normalised, 0, (int)(sizeof targets / sizeof targets[0]));
    tcase_add_test(tc, index_page);
    tcase_add_test(tc, index_links_follow_mount);
    tcase_add_test(tc, server_header_in_debug);
    tcase_add_test(tc, head_is_get_without_body);
    tcase_add_test(tc, not_found_is_html);
    tcase_add_test(tc, refused_targets_answer_their_status);
    tcase_add_test(tc, wrong_method_405_with_allow);
    tcase_add_test(tc, bad_method_or_target_400);
    tcase_add_test(tc, early_status_answers_before_routing);
    tcase_add_test(tc, health_without_database_503);
    tcase_add_test(tc, static_files);
    tcase_add_loop_test(tc, redirect_location, 0, (int)(sizeof redirects / sizeof redirects[0]));
    tcase_add_test(tc, redirect_refusals);
    tcase_add_test(tc, redirect_too_many_query_params_400);
    tcase_add_test(tc, forward_proto_enforced);
    tcase_add_test(tc, forward_proto_off_without_setting);
    tcase_add_test(tc, forward_proto_hostile_host_not_reflected);
    tcase_add_test(tc, request_headers_case_insensitive);
    tcase_add_test(tc, response_headers_sanitised);
    tcase_add_test(tc, json_and_error_responses);
    tcase_add_test(tc, status_pages_for_every_error);
    tcase_add_test(tc, request_ids_distinct);
    tcase_add_test(tc, route_params_captured);
    tcase_add_test(tc, incoming_request_id_honoured_when_well_formed);
    tcase_add_test(tc, every_503_carries_retry_after);
    tcase_add_test(tc, access_line_per_request);
    suite_add_tcase(s, tc);
    return s;
}
