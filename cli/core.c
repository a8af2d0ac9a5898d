/*
 * cli/core.c - `parsec core ...`: the administration client
 *
 * A thin client of the administration REST API (docs/administration.md) for
 * people and ops scripts: one HTTP request per command through libcurl, the
 * reply turned into stable text (or the server's JSON with --json) and an
 * exit status a script can branch on:
 *
 *   0 success            3 not_found          5 not_allowed (token)
 *   1 network or server  4 already_exists
 *   2 usage, or the server refused a value (bad_data)
 *
 * Its options are a client's, not server settings, so they are parsed here
 * with getopt_long rather than by cfg_parse().  An organization id is
 * checked locally with the server's own rule (proto_valid_organization_id),
 * so a typo never reaches the server as a path with surprises in it.
 */
#include "cli.h"
#include "client.h"

#include "cfg.h"
#include "proto.h"
#include "strbuf.h"
#include "xalloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    EXIT_OK = 0,
    EXIT_SERVER = 1,
    EXIT_USAGE = 2,
    EXIT_NOT_FOUND = 3,
    EXIT_EXISTS = 4,
    EXIT_NOT_ALLOWED = 5,
};

/* A reply bigger than this is not one of ours (server stats of ~100,000
 * organizations stay far below). */
#define CORE_MAX_REPLY (64u * 1024 * 1024)

typedef enum {
    CMD_CREATE,
    CMD_STATUS,
    CMD_UPDATE,
    CMD_STATS,
    CMD_STATS_SERVER,
} core_cmd;

static const struct {
    const char *name;
    core_cmd cmd;
    bool takes_org;
} commands[] = {
    {"create_organization", CMD_CREATE, true}, {"status_organization", CMD_STATUS, true},
    {"update_organization", CMD_UPDATE, true}, {"stats_organization", CMD_STATS, true},
    {"stats_server", CMD_STATS_SERVER, false},
};

/* What the command line asked for. */
typedef struct {
    core_cmd cmd;
    const char *name; /* subcommand, for messages */
    const char *org;
    const char *addr, *token, *cacert;
    const char *token_file; /* --administration-token-file or its variable */
    char *token_read;       /* the token read from token_file (owned) */
    bool json;
    long timeout;
    /* create / update */
    bool has_limit;
    long limit; /* -1: none (unlimited) */
    bool has_outsider, outsider;
    bool has_expired, expired;
    /* stats_server */
    const char *from, *to;
} core_opts;

/* The server as --addr names it. */
typedef struct {
    char *host;  /* as in a URL: "[::1]" for IPv6 */
    long port;   /* always set (default of the scheme when not given) */
    char *mount; /* where the server is mounted: "" or "/parsec" (no trailing slash) */
    bool ssl;
} core_addr;

/* ---------------------------------------------------------------------------
 * Messages
 */

static void usage(FILE *f, const char *name)
{
    if (name == NULL)
        fputs("usage: parsec core COMMAND [ORGANIZATION_ID] [OPTIONS]\n", f);
    else
        fprintf(f, "usage: parsec core %s%s [OPTIONS]\n", name,
                strcmp(name, "stats_server") ? " ORGANIZATION_ID" : "");
    fputs(
        "\ncommands:\n"
        "  create_organization ORG   create (or re-create, if never bootstrapped) ORG and\n"
        "                            print its bootstrap address\n"
        "  status_organization ORG   bootstrapped, expired, configuration\n"
        "  update_organization ORG   change expiry and configuration\n"
        "  stats_organization ORG    usage of ORG\n"
        "  stats_server              usage of every organization (CSV, or JSON with --json)\n"
        "\noptions:\n"
        "  -B, --addr URL                   the server: "
        "parsec://host[:port][/MOUNT][?no_ssl=true]\n"
        "                                   or http(s)://host[:port][/MOUNT]   (env PARSEC_ADDR)\n"
        "  -T, --administration-token TOKEN the server's administration token\n"
        "                                   (env PARSEC_ADMINISTRATION_TOKEN; a command line\n"
        "                                   is visible to other users)\n"
        "      --administration-token-file FILE  the token from a file (preferred; env\n"
        "                                   PARSEC_ADMINISTRATION_TOKEN_FILE)\n"
        "      --json                       print the server's JSON (errors too), one document\n"
        "      --timeout SECONDS            whole-request timeout (default 30)\n"
        "      --cacert FILE                CA certificates to check an https server with\n"
        "  create_organization, update_organization:\n"
        "      --active-users-limit N|none  at most N non-revoked users; none: no limit\n"
        "      --outsider-allowed true|false whether OUTSIDER users may be created\n"
        "  update_organization:\n"
        "      --expire | --unexpire        close or reopen the organization\n"
        "  stats_server:\n"
        "      --at DATE (or --to DATE)     usage as it stood at DATE (RFC 3339)\n"
        "      --from DATE                  count only what was created after DATE\n"
        "\nexit status: 0 ok, 1 network or server error, 2 usage or refused value,\n"
        "3 not found, 4 already exists (bootstrapped), 5 not allowed (token)\n"
        "See docs/administration.md.\n",
        f);
    if (name == NULL)
        fputs(client_usage(), f);
}

/* A failure: one line on stderr, and with --json one JSON document on
 * stdout, so a script reading stdout always gets a parsable answer. */
static int fail(const core_opts *o, int code, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(const core_opts *o, int code, const char *error, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "parsec core %s: %s: %s\n", o->name, error, msg);
    if (o->json) {
        json_object *j = json_object_new_object();
        json_object_object_add(j, "error", json_object_new_string(error));
        json_object_object_add(j, "reason", json_object_new_string(msg));
        puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
        json_object_put(j);
    }
    return code;
}

/* ---------------------------------------------------------------------------
 * Arguments
 */

static bool parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    if (s == NULL || *s < '0' || *s > '9')
        return false;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool parse_bool(const char *s, bool *out)
{
    if (!strcmp(s, "true") || !strcmp(s, "yes")) {
        *out = true;
        return true;
    }
    if (!strcmp(s, "false") || !strcmp(s, "no")) {
        *out = false;
        return true;
    }
    return false;
}

enum {
    OPT_JSON = 256,
    OPT_TIMEOUT,
    OPT_CACERT,
    OPT_LIMIT,
    OPT_OUTSIDER,
    OPT_EXPIRE,
    OPT_UNEXPIRE,
    OPT_AT,
    OPT_FROM,
    OPT_TOKEN_FILE,
};

/* An environment variable; empty counts as unset (as for the server). */
static const char *env_value(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* The token: a flag wins over a variable; a value and a file of the same
 * kind exclude each other.  NULL, or a message in buf. */
static const char *resolve_token(core_opts *o, char *buf, size_t n)
{
    if (o->token && o->token_file)
        return "--administration-token and --administration-token-file: give one";
    const char *label = "--administration-token-file";
    if (!o->token && !o->token_file) {
        o->token = env_value("PARSEC_ADMINISTRATION_TOKEN");
        o->token_file = env_value("PARSEC_ADMINISTRATION_TOKEN_FILE");
        label = "PARSEC_ADMINISTRATION_TOKEN_FILE";
        if (o->token && o->token_file)
            return "PARSEC_ADMINISTRATION_TOKEN and PARSEC_ADMINISTRATION_TOKEN_FILE are both "
                   "set: keep one";
    }
    if (o->token_file) {
        char why[512];
        if (!cfg_secret_file(o->token_file, CFG_VALUE_MAX, &o->token_read, NULL, why, sizeof why)) {
            snprintf(buf, n, "%s: %s", label, why);
            return buf;
        }
        o->token = o->token_read;
    }
    if (!o->token)
        return "--administration-token-file or --administration-token (or "
               "PARSEC_ADMINISTRATION_TOKEN_FILE, PARSEC_ADMINISTRATION_TOKEN) is required";
    return NULL;
}

/* --cacert names a file we can read: a typo is a usage error, not a TLS
 * failure later.  NULL, or a message in buf. */
static const char *check_cacert(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    if (fd < 0) {
        snprintf(buf, n, "--cacert: cannot read \"%s\": %s", path, strerror(errno));
        return buf;
    }
    bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    close(fd);
    if (!regular) {
        snprintf(buf, n, "--cacert: \"%s\" is not a regular file", path);
        return buf;
    }
    return NULL;
}

/* parse_args - fill *o; EXIT_OK to go on, -1 after --help, else the status. */
static int parse_args(core_opts *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"addr", required_argument, NULL, 'B'},
        {"administration-token", required_argument, NULL, 'T'},
        {"administration-token-file", required_argument, NULL, OPT_TOKEN_FILE},
        {"json", no_argument, NULL, OPT_JSON},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"cacert", required_argument, NULL, OPT_CACERT},
        {"active-users-limit", required_argument, NULL, OPT_LIMIT},
        {"outsider-allowed", required_argument, NULL, OPT_OUTSIDER},
        {"expire", no_argument, NULL, OPT_EXPIRE},
        {"unexpire", no_argument, NULL, OPT_UNEXPIRE},
        {"at", required_argument, NULL, OPT_AT},
        {"to", required_argument, NULL, OPT_AT},
        {"from", required_argument, NULL, OPT_FROM},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    /* getopt wants a program name first; ours starts at the first option. */
    char **args = xcalloc((size_t)argc + 2, sizeof *args);
    char *progname = xasprintf("parsec core %s", o->name);
    args[0] = progname;
    for (int i = 0; i < argc; i++)
        args[i + 1] = argv[i];
    int status = EXIT_OK, ch;
    const char *bad = NULL;
    bool create_or_update = o->cmd == CMD_CREATE || o->cmd == CMD_UPDATE;

    optind = 0; /* glibc: full re-initialisation, cli_core may run twice */
    opterr = 1;
    while (status == EXIT_OK && (ch = getopt_long(argc + 1, args, "B:T:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'B':
            o->addr = optarg;
            break;
        case 'T':
            o->token = optarg;
            break;
        case OPT_TOKEN_FILE:
            o->token_file = optarg;
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_TIMEOUT:
            if (!parse_long(optarg, 1, 86400, &o->timeout))
                bad = "--timeout: expected seconds, 1 to 86400";
            break;
        case OPT_CACERT:
            o->cacert = optarg;
            break;
        case OPT_LIMIT:
            if (!create_or_update)
                bad = "--active-users-limit: only for create_organization and update_organization";
            else if (!strcmp(optarg, "none"))
                o->has_limit = true, o->limit = -1;
            else if (parse_long(optarg, 0, INT_MAX, &o->limit))
                o->has_limit = true;
            else
                bad = "--active-users-limit: expected an integer from 0 to 2147483647, or none";
            break;
        case OPT_OUTSIDER:
            if (!create_or_update)
                bad = "--outsider-allowed: only for create_organization and update_organization";
            else if (parse_bool(optarg, &o->outsider))
                o->has_outsider = true;
            else
                bad = "--outsider-allowed: expected true or false";
            break;
        case OPT_EXPIRE:
        case OPT_UNEXPIRE:
            if (o->cmd != CMD_UPDATE)
                bad = "--expire/--unexpire: only for update_organization";
            else if (o->has_expired && o->expired != (ch == OPT_EXPIRE))
                bad = "--expire and --unexpire: give one";
            o->has_expired = true;
            o->expired = ch == OPT_EXPIRE;
            break;
        case OPT_AT:
        case OPT_FROM:
            if (o->cmd != CMD_STATS_SERVER)
                bad = "--at/--to/--from: only for stats_server";
            else if (ch == OPT_AT)
                o->to = optarg;
            else
                o->from = optarg;
            break;
        case 'h':
            usage(stdout, o->name);
            status = -1;
            break;
        default: /* getopt printed why */
            status = EXIT_USAGE;
            break;
        }
        if (bad)
            status = EXIT_USAGE;
    }
    if (status == EXIT_OK) {
        bool takes_org = o->cmd != CMD_STATS_SERVER;
        int npos = argc + 1 - optind;
        if (npos != (takes_org ? 1 : 0))
            bad = takes_org ? "expected one ORGANIZATION_ID" : "expected no argument";
        else if (takes_org && !proto_valid_organization_id(args[optind]))
            bad = "ORGANIZATION_ID: expected 1 to 32 ASCII letters, digits, '_' or '-'";
        else if (takes_org)
            o->org = args[optind];
        if (!bad && o->cmd == CMD_UPDATE && !o->has_limit && !o->has_outsider && !o->has_expired)
            bad = "nothing to update: give --expire, --unexpire, --active-users-limit or "
                  "--outsider-allowed";
        if (bad)
            status = EXIT_USAGE;
    }
    if (status == EXIT_OK && !o->addr && !(o->addr = getenv("PARSEC_ADDR")))
        bad = "--addr (or PARSEC_ADDR) is required", status = EXIT_USAGE;
    char msg[768];
    if (status == EXIT_OK && (bad = resolve_token(o, msg, sizeof msg)))
        status = EXIT_USAGE;
    if (status == EXIT_OK && o->token[0] == '\0')
        bad = "the administration token is empty", status = EXIT_USAGE;
    if (status == EXIT_OK && o->cacert && (bad = check_cacert(o->cacert, msg, sizeof msg)))
        status = EXIT_USAGE;
    if (bad)
        fail(o, EXIT_USAGE, "usage", "%s (see --help)", bad);
    else if (status == EXIT_USAGE)
        fail(o, EXIT_USAGE, "usage", "bad option (see --help)");
    free(args);
    free(progname);
    return status;
}

/* Longest mount prefix accepted; the templates' @MOUNT@ is a short path. */
#define CORE_MOUNT_MAX 256

/*
 * mount_ok - a mount prefix as the templates take it: "/seg[/seg...]", each
 * segment of unreserved characters (letters, digits, - . _ ~), neither "."
 * nor "..".  What a web server maps a prefix from, and nothing that would
 * need escaping in the URLs built from it.
 */
static bool mount_ok(const char *m)
{
    size_t len = strlen(m);
    if (len > CORE_MOUNT_MAX)
        return false;
    for (const char *seg = m; *seg == '/';) {
        size_t n = strspn(seg + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789-._~");
        if (n == 0 || (n == 1 && seg[1] == '.') || (n == 2 && !strncmp(seg + 1, "..", 2)))
            return false;
        seg += 1 + n;
        if (*seg == '\0')
            return true;
        if (*seg != '/')
            return false;
    }
    return false;
}

/*
 * parse_addr - parsec://host[:port][/MOUNT][/][?no_ssl=true|false] (Parsec's
 * server address, what `--backend-addr` holds) or
 * http(s)://host[:port][/MOUNT][/].  MOUNT is where a web server mounts the
 * application (the templates' @MOUNT@, "/parsec"): requests go below it and
 * the bootstrap address keeps it before the organization.  NULL on success
 * (a->host and a->mount malloc'd), else the reason.
 */
static const char *parse_addr(const char *s, core_addr *a)
{
    const char *why = NULL;
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL, *user = NULL,
         *frag = NULL;
    CURLU *u = curl_url();
    memset(a, 0, sizeof *a);
    if (curl_url_set(u, CURLUPART_URL, s, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
        why = "not a URL";
        goto cleanup;
    }
    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    curl_url_get(u, CURLUPART_HOST, &host, 0);
    curl_url_get(u, CURLUPART_PORT, &port, 0);
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
    curl_url_get(u, CURLUPART_USER, &user, 0);
    curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0);
    if (!scheme || !host || !host[0]) {
        why = "not a URL";
        goto cleanup;
    }
    if (user || frag) {
        why = "no user or fragment allowed";
        goto cleanup;
    }
    /* "/parsec/" and "/parsec" alike; "/" is the root */
    size_t plen = path ? strlen(path) : 0;
    while (plen > 0 && path[plen - 1] == '/')
        path[--plen] = '\0';
    if (plen > 0 && !mount_ok(path)) {
        why = "the path must be a mount prefix such as /parsec (letters, digits, - . _ ~ "
              "between slashes)";
        goto cleanup;
    }
    if (!strcasecmp(scheme, "parsec")) {
        a->ssl = true;
        if (query && *query) {
            if (!strcasecmp(query, "no_ssl=true"))
                a->ssl = false;
            else if (strcasecmp(query, "no_ssl=false"))
                why = "the only parameter allowed is no_ssl=true|false";
        }
    } else if (!strcasecmp(scheme, "https") || !strcasecmp(scheme, "http")) {
        a->ssl = !strcasecmp(scheme, "https");
        if (query)
            why = "no query allowed in an http(s) address";
    } else {
        why = "expected parsec://, https:// or http://";
    }
    if (why)
        goto cleanup;
    a->port = a->ssl ? 443 : 80;
    if (port && !parse_long(port, 1, 65535, &a->port)) {
        why = "bad port";
        goto cleanup;
    }
    a->host = xstrdup(host);
    a->mount = xstrdup(plen > 0 ? path : "");
cleanup:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_free(user);
    curl_free(frag);
    curl_url_cleanup(u);
    return why;
}

/* ---------------------------------------------------------------------------
 * HTTP
 */

typedef struct {
    strbuf_t data;
    bool too_big;
} reply_buf;

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    reply_buf *b = arg;
    size_t add = size * n;
    if (b->data.len + add > CORE_MAX_REPLY) {
        b->too_big = true;
        return 0;
    }
    strbuf_append(&b->data, p, add);
    return add;
}

typedef struct {
    long status;
    char *body; /* NUL-terminated, malloc'd; "" when empty */
    size_t len;
    char *content_type; /* malloc'd or NULL */
} reply;

/*
 * request - one request; EXIT_OK with *rep filled (free with reply_free), or
 * the exit status after reporting a network failure.  The token is sent
 * only to the server named, never to a redirect's target (redirects are not
 * followed).
 */
static int request(const core_opts *o, const core_addr *a, const char *method, const char *path,
                   const char *body, reply *rep)
{
    char *url =
        xasprintf("%s://%s:%ld%s%s", a->ssl ? "https" : "http", a->host, a->port, a->mount, path);
    char *auth = xasprintf("Authorization: Bearer %s", o->token);
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    reply_buf b = {STRBUF_INIT, false};
    int status = EXIT_OK;

    memset(rep, 0, sizeof *rep);
    CURL *c = curl_easy_init();
    if (c == NULL) {
        status = fail(o, EXIT_SERVER, "network_error", "libcurl failed to start");
        goto cleanup;
    }
    hdrs = curl_slist_append(hdrs, auth);
    hdrs = curl_slist_append(hdrs, "Accept: application/json, text/csv");
    if (body)
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, o->timeout);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, o->timeout < 10 ? o->timeout : 10L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "parsec-core/" PARSEC_VERSION);
    if (o->cacert)
        curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        status = fail(o, EXIT_SERVER, "network_error", "%s %s: %s", method, url,
                      b.too_big   ? "reply too large"
                      : errbuf[0] ? errbuf
                                  : curl_easy_strerror(rc));
        goto cleanup;
    }
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rep->status);
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    rep->content_type = ct ? xstrdup(ct) : NULL;
    rep->len = b.data.len;
    rep->body = strbuf_detach(&b.data);
cleanup:
    strbuf_free(&b.data);
    curl_slist_free_all(hdrs);
    if (c)
        curl_easy_cleanup(c);
    explicit_bzero(auth, strlen(auth));
    free(auth);
    free(url);
    return status;
}

static void reply_free(reply *rep)
{
    free(rep->body);
    free(rep->content_type);
}

static bool is_json(const reply *rep)
{
    return rep->content_type && !strncasecmp(rep->content_type, "application/json", 16);
}

/* The reply as a JSON object, or NULL (caller puts). */
static json_object *reply_json(const reply *rep)
{
    if (!is_json(rep))
        return NULL;
    json_object *j = json_tokener_parse(rep->body);
    if (j && !json_object_is_type(j, json_type_object)) {
        json_object_put(j);
        j = NULL;
    }
    return j;
}

/*
 * check_reply - EXIT_OK for a 200, else report the server's refusal and
 * return its exit status: the API's error codes map to statuses, anything
 * else (an HTML page from a web server, a 5xx) is a server error.
 */
static int check_reply(const core_opts *o, const reply *rep)
{
    if (rep->status == 200)
        return EXIT_OK;
    json_object *j = reply_json(rep), *e = NULL, *why = NULL;
    const char *code = NULL, *reason = NULL;
    if (j && json_object_object_get_ex(j, "error", &e) && json_object_is_type(e, json_type_string))
        code = json_object_get_string(e);
    if (j && json_object_object_get_ex(j, "reason", &why) &&
        json_object_is_type(why, json_type_string))
        reason = json_object_get_string(why);
    int status;
    if (code && !strcmp(code, "not_found"))
        status = fail(o, EXIT_NOT_FOUND, code, "%s", reason ? reason : "no such organization");
    else if (code && !strcmp(code, "already_exists"))
        status = fail(o, EXIT_EXISTS, code, "%s",
                      reason ? reason : "the organization exists and is bootstrapped");
    else if (code && !strcmp(code, "not_allowed"))
        status =
            fail(o, EXIT_NOT_ALLOWED, code, "%s",
                 reason ? reason : "wrong administration token, or the server has none configured");
    else if (code && !strcmp(code, "bad_data"))
        status = fail(o, EXIT_USAGE, code, "%s", reason ? reason : "the server refused a value");
    else
        status = fail(o, EXIT_SERVER, "server_error", "HTTP %ld%s%s", rep->status, code ? ": " : "",
                      code ? code : "");
    json_object_put(j);
    return status;
}

/* ---------------------------------------------------------------------------
 * Commands
 */

static void print_json(json_object *j)
{
    puts(
        json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* The fields of a create or update body from the options. */
static json_object *config_body(const core_opts *o)
{
    json_object *j = json_object_new_object();
    if (o->cmd == CMD_CREATE)
        json_object_object_add(j, "organization_id", json_object_new_string(o->org));
    if (o->has_expired)
        json_object_object_add(j, "is_expired", json_object_new_boolean(o->expired));
    if (o->has_outsider)
        json_object_object_add(j, "user_profile_outsider_allowed",
                               json_object_new_boolean(o->outsider));
    if (o->has_limit)
        json_object_object_add(j, "active_users_limit",
                               o->limit < 0 ? NULL : json_object_new_int64(o->limit));
    return j;
}

static bool hex64(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

static int bad_reply(const core_opts *o, const reply *rep)
{
    return fail(o, EXIT_SERVER, "server_error", "unexpected reply (HTTP %ld, %zu bytes)",
                rep->status, rep->len);
}

/* Parsec's bootstrap address: the server, the organization as path (after
 * the mount prefix, if any), no_ssl=true first when the server is plain
 * http, then the action. */
static char *bootstrap_url(const core_addr *a, const char *org, const char *token)
{
    char port[16] = "";
    if (a->port != (a->ssl ? 443 : 80))
        snprintf(port, sizeof port, ":%ld", a->port);
    return xasprintf("parsec://%s%s%s/%s?%saction=bootstrap_organization&token=%s", a->host, port,
                     a->mount, org, a->ssl ? "" : "no_ssl=true&", token);
}

static int cmd_create(const core_opts *o, const core_addr *a, const reply *rep)
{
    json_object *j = reply_json(rep), *t;
    if (!j || !json_object_object_get_ex(j, "bootstrap_token", &t) ||
        !json_object_is_type(t, json_type_string) || !hex64(json_object_get_string(t))) {
        json_object_put(j);
        return bad_reply(o, rep);
    }
    char *url = bootstrap_url(a, o->org, json_object_get_string(t));
    if (o->json) {
        json_object *out = json_object_new_object();
        json_object_object_add(out, "organization_id", json_object_new_string(o->org));
        json_object_object_add(out, "bootstrap_token", json_object_get(t));
        json_object_object_add(out, "bootstrap_url", json_object_new_string(url));
        print_json(out);
        json_object_put(out);
    } else {
        printf("Bootstrap organization url: %s\n", url);
    }
    free(url);
    json_object_put(j);
    return EXIT_OK;
}

/* "name: value" with value in JSON's spelling (true, false, null, 12). */
static bool print_field(json_object *j, const char *key, json_type want)
{
    json_object *v;
    if (!json_object_object_get_ex(j, key, &v))
        return false;
    if (v != NULL && !json_object_is_type(v, want))
        return false;
    if (v == NULL && strcmp(key, "active_users_limit"))
        return false;
    printf("%s: %s\n", key, v ? json_object_to_json_string(v) : "null");
    return true;
}

static int cmd_status(const core_opts *o, const reply *rep)
{
    json_object *j = reply_json(rep);
    bool ok = j != NULL;
    if (ok && o->json)
        print_json(j);
    else if (ok)
        ok = print_field(j, "is_bootstrapped", json_type_boolean) &&
             print_field(j, "is_expired", json_type_boolean) &&
             print_field(j, "user_profile_outsider_allowed", json_type_boolean) &&
             print_field(j, "active_users_limit", json_type_int);
    json_object_put(j);
    return ok ? EXIT_OK : bad_reply(o, rep);
}

/* Per-profile figures as the flat names of the server's CSV export. */
static bool print_profiles(json_object *j)
{
    static const char *const profiles[3] = {"ADMIN", "STANDARD", "OUTSIDER"};
    static const char *const names[3] = {"admin", "standard", "outsider"};
    json_object *list;
    if (!json_object_object_get_ex(j, "users_per_profile_detail", &list) ||
        !json_object_is_type(list, json_type_array) || json_object_array_length(list) != 3)
        return false;
    for (size_t i = 0; i < 3; i++) {
        json_object *d = json_object_array_get_idx(list, i), *p, *act, *rev;
        if (!json_object_object_get_ex(d, "profile", &p) ||
            !json_object_is_type(p, json_type_string) ||
            strcmp(json_object_get_string(p), profiles[i]) ||
            !json_object_object_get_ex(d, "active", &act) ||
            !json_object_is_type(act, json_type_int) ||
            !json_object_object_get_ex(d, "revoked", &rev) ||
            !json_object_is_type(rev, json_type_int))
            return false;
        printf("%s_users_active: %" PRId64 "\n%s_users_revoked: %" PRId64 "\n", names[i],
               json_object_get_int64(act), names[i], json_object_get_int64(rev));
    }
    return true;
}

static int cmd_stats(const core_opts *o, const reply *rep)
{
    json_object *j = reply_json(rep);
    bool ok = j != NULL;
    if (ok && o->json)
        print_json(j);
    else if (ok)
        ok = print_field(j, "data_size", json_type_int) &&
             print_field(j, "metadata_size", json_type_int) &&
             print_field(j, "realms", json_type_int) && print_field(j, "users", json_type_int) &&
             print_field(j, "active_users", json_type_int) && print_profiles(j);
    json_object_put(j);
    return ok ? EXIT_OK : bad_reply(o, rep);
}

static int cmd_stats_server(const core_opts *o, const reply *rep)
{
    if (o->json) {
        json_object *j = reply_json(rep);
        if (j == NULL)
            return bad_reply(o, rep);
        print_json(j);
        json_object_put(j);
        return EXIT_OK;
    }
    if (!rep->content_type || strncasecmp(rep->content_type, "text/csv", 8))
        return bad_reply(o, rep);
    fwrite(rep->body, 1, rep->len, stdout);
    return EXIT_OK;
}

/* The query of GET /administration/stats; the dates are passed as given
 * (percent-encoded) and checked by the server. */
static char *stats_path(const core_opts *o)
{
    CURL *c = curl_easy_init();
    char *at = NULL, *from = NULL;
    if (c && o->to)
        at = curl_easy_escape(c, o->to, 0);
    if (c && o->from)
        from = curl_easy_escape(c, o->from, 0);
    char *path = xasprintf("/administration/stats?format=%s%s%s%s%s", o->json ? "json" : "csv",
                           at ? "&at=" : "", at ? at : "", from ? "&from=" : "", from ? from : "");
    curl_free(at);
    curl_free(from);
    if (c)
        curl_easy_cleanup(c);
    return path;
}

int cli_core(const char *subcommand, int argc, char **argv)
{
    /* the end-to-end encrypted client: cli/client/ */
    if (client_has(subcommand))
        return client_main(subcommand, argc, argv);
    core_opts o = {.name = subcommand, .timeout = 30};
    core_addr a = {0};
    reply rep = {0};
    char *path = NULL, *body = NULL;
    const char *method = "GET", *why;
    int status;
    size_t i;

    for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(subcommand, commands[i].name))
            break;
    if (i == sizeof commands / sizeof commands[0]) {
        if (!strcmp(subcommand, "--help") || !strcmp(subcommand, "-h")) {
            o.name = NULL;
            usage(stdout, NULL);
            return EXIT_OK;
        }
        fprintf(stderr, "parsec core: usage: unknown command '%s'\n", subcommand);
        usage(stderr, NULL);
        return EXIT_USAGE;
    }
    o.cmd = commands[i].cmd;
    status = parse_args(&o, argc, argv);
    if (status != EXIT_OK) {
        free(o.token_read);
        return status < 0 ? EXIT_OK : status;
    }
    if ((why = parse_addr(o.addr, &a))) {
        free(o.token_read);
        return fail(&o, EXIT_USAGE, "usage", "--addr: %s (see --help)", why);
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(a.host);
        free(a.mount);
        free(o.token_read);
        return fail(&o, EXIT_SERVER, "network_error", "libcurl failed to start");
    }

    switch (o.cmd) {
    case CMD_CREATE:
    case CMD_UPDATE: {
        json_object *j = config_body(&o);
        body = xstrdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
        json_object_put(j);
        method = o.cmd == CMD_CREATE ? "POST" : "PATCH";
        path = o.cmd == CMD_CREATE ? xstrdup("/administration/organizations")
                                   : xasprintf("/administration/organizations/%s", o.org);
        break;
    }
    case CMD_STATUS:
        path = xasprintf("/administration/organizations/%s", o.org);
        break;
    case CMD_STATS:
        path = xasprintf("/administration/organizations/%s/stats", o.org);
        break;
    case CMD_STATS_SERVER:
        path = stats_path(&o);
        break;
    }

    status = request(&o, &a, method, path, body, &rep);
    if (status == EXIT_OK)
        status = check_reply(&o, &rep);
    if (status == EXIT_OK) {
        switch (o.cmd) {
        case CMD_CREATE:
            status = cmd_create(&o, &a, &rep);
            break;
        case CMD_UPDATE:
            if (o.json)
                puts("{}");
            else
                printf("Organization %s updated\n", o.org);
            break;
        case CMD_STATUS:
            status = cmd_status(&o, &rep);
            break;
        case CMD_STATS:
            status = cmd_stats(&o, &rep);
            break;
        case CMD_STATS_SERVER:
            status = cmd_stats_server(&o, &rep);
            break;
        }
    }
    if (fflush(stdout) != 0 && status == EXIT_OK)
        status = EXIT_SERVER; /* a script reading a closed pipe must not see success */
    reply_free(&rep);
    free(path);
    free(body);
    free(a.host);
    if (o.token_read)
        explicit_bzero(o.token_read, strlen(o.token_read));
    free(o.token_read);
    free(a.mount);
    curl_global_cleanup();
    return status;
}
