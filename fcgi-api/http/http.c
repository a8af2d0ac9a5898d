/*
 * fcgi-api/http/http.c - the handler-side interface of a request (http.h)
 *
 * Headers are looked up in the CGI parameters the front kept (r->cgi);
 * responses are copied into the request's arena, so handlers never free.
 */
#include "http.h"

#include "html.h"
#include "log.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* CGI spells request headers HTTP_NAME (upper case, '-' as '_'), except the
 * two that describe the body. */
static char *cgi_name(arena_t *a, const char *name)
{
    if (strcasecmp(name, "Content-Type") == 0)
        return arena_strdup(a, "CONTENT_TYPE");
    if (strcasecmp(name, "Content-Length") == 0)
        return arena_strdup(a, "CONTENT_LENGTH");
    size_t n = strlen(name);
    char *s = arena_alloc(a, n + 6);
    memcpy(s, "HTTP_", 5);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        s[5 + i] = c == '-' ? '_' : (char)toupper(c);
    }
    s[5 + n] = '\0';
    return s;
}

static const char *param_value(char *const *params, const char *name)
{
    size_t n = strlen(name);
    for (; params && *params; params++)
        if (strncmp(*params, name, n) == 0 && (*params)[n] == '=')
            return *params + n + 1;
    return NULL;
}

const char *http_header(const http_req_t *r, const char *name)
{
    if (!r->cgi || !name || !*name)
        return NULL;
    const char *v = param_value(r->cgi, cgi_name(r->arena, name));
    /* Apache's FcgidPassHeader passes a header under its own name too. */
    if (!v && strcasecmp(name, "Authorization") == 0)
        v = param_value(r->cgi, "Authorization");
    return v;
}

db_conn_t *http_db(http_req_t *r)
{
    return db_lease_conn(&r->db);
}

void http_set_device(http_req_t *r, const char *device_id)
{
    if (device_id)
        log_set_context(arena_printf(r->arena, "%s dev=%s", r->request_id, device_id));
}

/* Replace anything that could end a header line or confuse a web server. */
static char *header_text(arena_t *a, const char *s)
{
    char *out = arena_strdup(a, s ? s : "");
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
            *p = ' ';
    return out;
}

static bool header_name_ok(const char *name)
{
    if (!name || !*name)
        return false;
    for (const char *p = name; *p; p++) {
        unsigned char c = (unsigned char)*p;
        /* RFC 9110 token characters */
        if (!(isalnum(c) || strchr("!#$%&'*+-.^_`|~", c)))
            return false;
    }
    return strcasecmp(name, "Content-Type") != 0 && strcasecmp(name, "Content-Length") != 0 &&
           strcasecmp(name, "Status") != 0;
}

void http_set_header(http_req_t *r, const char *name, const char *value)
{
    if (!header_name_ok(name)) {
        log_error("http_set_header: refused header name");
        return;
    }
    struct http_header *h = arena_zalloc(r->arena, sizeof *h);
    h->name = arena_strdup(r->arena, name);
    h->value = header_text(r->arena, value);
    struct http_header **tail = &r->resp_headers;
    while (*tail)
        tail = &(*tail)->next;
    *tail = h;
}

void http_respond(http_req_t *r, int status, const char *content_type, const void *body, size_t len)
{
    r->status = status;
    r->content_type = content_type ? header_text(r->arena, content_type) : NULL;
    if (len > 0 && body) {
        unsigned char *copy = arena_alloc(r->arena, len + 1);
        memcpy(copy, body, len);
        copy[len] = '\0';
        r->resp_body = copy;
        r->resp_len = len;
    } else {
        r->resp_body = NULL;
        r->resp_len = 0;
    }
}

void http_respond_arena(http_req_t *r, int status, const char *content_type, const void *body,
                        size_t len)
{
    http_respond(r, status, content_type, NULL, 0);
    r->resp_body = len ? body : NULL;
    r->resp_len = body ? len : 0;
}

void http_respond_json(http_req_t *r, int status, json_object *obj)
{
    size_t len = 0;
    const char *s = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    http_respond(r, status, "application/json", s, len);
    json_object_put(obj);
}

void http_respond_error(http_req_t *r, int status, const char *code, const char *reason)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "error", json_object_new_string(code ? code : "error"));
    if (reason)
        json_object_object_add(o, "reason", json_object_new_string(reason));
    http_respond_json(r, status, o);
}

const char *http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

static const char *status_text(int status)
{
    switch (status) {
    case 400:
        return "The request could not be understood.";
    case 403:
        return "You are not allowed to see this page.";
    case 404:
        return "Not found :'(";
    case 405:
        return "This method is not allowed here.";
    case 413:
        return "The request body is too large.";
    case 500:
        return "The server met an unexpected error.";
    case 501:
        return "Url redirection is not available.";
    case 503:
        return "The service is temporarily unavailable.";
    default:
        return http_reason(status);
    }
}

void http_respond_html_status(http_req_t *r, int status)
{
    char *title = arena_printf(r->arena, "%d %s", status, http_reason(status));
    char *page = arena_printf(r->arena,
                              "<!DOCTYPE html>\n"
                              "<html lang=\"en\">\n"
                              "<head><meta charset=\"utf-8\"><title>%s</title></head>\n"
                              "<body>\n<h1>%s</h1>\n<p>%s</p>\n</body>\n</html>\n",
                              html_escape(r->arena, title), html_escape(r->arena, title),
                              html_escape(r->arena, status_text(status)));
    http_respond(r, status, "text/html; charset=utf-8", page, strlen(page));
}
