/*
 * tests/integration/test_pclient.c - the test client's HTTP side, against a
 * real HTTP server (python3's http.server, echoing what it received)
 *
 * The protocol suites trust pclient to send what docs/protocol.md says
 * (route, Api-Version, Content-Type, Authorization, Invitation-Token, the
 * JSON body) and to report status, headers and reply faithfully; this checks
 * it on the wire, independently of the server under test.
 */
#include "crypto.h"
#include "pclient.h"
#include "proto.h"
#include "testreg.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char echo_server[] =
    "import http.server, json, sys\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_POST(self):\n"
    "        n = int(self.headers.get('Content-Length', 0))\n"
    "        body = self.rfile.read(n)\n"
    "        rep = json.dumps({'status': 'echo', 'path': self.path,\n"
    "            'headers': {k.lower(): v for k, v in self.headers.items()},\n"
    "            'body': body.decode('utf-8', 'replace')}).encode()\n"
    "        self.send_response(418 if self.path.endswith('/teapot') else 200)\n"
    "        self.send_header('Content-Type', 'application/json')\n"
    "        self.send_header('X-Test', '  spaced value  ')\n"
    "        self.send_header('Content-Length', str(len(rep)))\n"
    "        self.end_headers()\n"
    "        self.wfile.write(rep)\n"
    "    def log_message(self, *a):\n"
    "        pass\n"
    "s = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
    "print(s.server_address[1], flush=True)\n"
    "s.serve_forever()\n";

static pid_t server_pid;
static char base_url[64];

static void start_server(void)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    server_pid = fork();
    ck_assert_int_ge(server_pid, 0);
    if (server_pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execlp("python3", "python3", "-c", echo_server, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    int port = 0;
    ck_assert_msg(f && fscanf(f, "%d", &port) == 1 && port > 0, "echo server did not start");
    fclose(f);
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d", port);
}

static void stop_server(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
        server_pid = 0;
    }
}

/* The echoed request's header name (lower case), or NULL. */
static const char *echoed_header(const pclient_resp_t *r, const char *name)
{
    json_object *h, *v;
    if (!r->json || !json_object_object_get_ex(r->json, "headers", &h) ||
        !json_object_object_get_ex(h, name, &v))
        return NULL;
    return json_object_get_string(v);
}

static const char *echoed(const pclient_resp_t *r, const char *field)
{
    json_object *v;
    if (!r->json || !json_object_object_get_ex(r->json, field, &v))
        return NULL;
    return json_object_get_string(v);
}

START_TEST(authenticated_request_on_the_wire)
{
    pclient_key_t root;
    pclient_key_generate(&root);
    pclient_device_t *d = pclient_user_new("CoolOrg", "alice@dev1", "ADMIN", "alice@example.com",
                                           "Alice", NULL, NULL, &root, pclient_now_us());
    json_object *req = pclient_req("ping");
    json_object_object_add(req, "ping", json_object_new_string("a/b \xc3\xa9"));
    pclient_resp_t r;
    ck_assert(pclient_cmd(base_url, "authenticated", "CoolOrg", d, req, &r));
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(pclient_status(&r), "echo");
    ck_assert_str_eq(echoed(&r, "path"), "/authenticated/CoolOrg");
    ck_assert_str_eq(echoed_header(&r, "api-version"), "3.2");
    ck_assert_str_eq(echoed_header(&r, "content-type"), "application/json");
    ck_assert_ptr_null(echoed_header(&r, "invitation-token"));
    ck_assert_ptr_null(echoed_header(&r, "expect"));

    /* the body is the request, strict JSON */
    arena_t *a = arena_new();
    const char *body = echoed(&r, "body"), *why;
    proto_in_t *in;
    const char *cmd, *ping;
    ck_assert_int_eq(proto_decode_request(a, body, strlen(body), &in, &cmd, &why), PROTO_REQ_OK);
    ck_assert_str_eq(cmd, "ping");
    ck_assert(proto_str(in, "ping", 100, &ping));
    ck_assert_str_eq(ping, "a/b \xc3\xa9");

    /* the token names the organization and the device, is fresh, and is
     * signed by the device's key */
    proto_auth_t auth;
    ck_assert(proto_auth_parse(a, echoed_header(&r, "authorization"), &auth, &why));
    ck_assert_str_eq(auth.organization_id, "CoolOrg");
    ck_assert_str_eq(auth.device_id, "alice@dev1");
    ck_assert(proto_auth_fresh(&auth, proto_now_us()));
    ck_assert(crypto_ed25519_verify(d->key.pub, auth.signed_part, auth.signed_len, auth.signature));
    ck_assert(!crypto_ed25519_verify(root.pub, auth.signed_part, auth.signed_len, auth.signature));
    arena_free(a);

    char *x = pclient_resp_header(&r, "x-test");
    ck_assert_str_eq(x, "spaced value");
    free(x);
    x = pclient_resp_header(&r, "Content-Type");
    ck_assert_str_eq(x, "application/json");
    free(x);
    ck_assert_ptr_null(pclient_resp_header(&r, "X-Absent"));
    pclient_resp_free(&r);
    json_object_put(req);
    pclient_device_free(d);
}
END_TEST

START_TEST(overrides_on_the_wire)
{
    pclient_opts_t o = {
        .api_version = "",
        .content_type = "text/plain",
        .invitation_token = "00112233445566778899aabbccddeeff",
    };
    json_object *req = pclient_req("invite_info");
    pclient_resp_t r;
    ck_assert(pclient_cmd_ex(base_url, "invited", "Org with/space", NULL, &o, req, &r));
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(echoed(&r, "path"), "/invited/Org%20with%2Fspace");
    ck_assert_ptr_null(echoed_header(&r, "api-version"));
    ck_assert_ptr_null(echoed_header(&r, "authorization"));
    ck_assert_str_eq(echoed_header(&r, "content-type"), "text/plain");
    ck_assert_str_eq(echoed_header(&r, "invitation-token"), "00112233445566778899aabbccddeeff");
    pclient_resp_free(&r);

    /* a token at a chosen time, and a raw Authorization */
    pclient_key_t root;
    pclient_key_generate(&root);
    pclient_device_t *d = pclient_user_new("Org", "bob@dev1", "STANDARD", NULL, NULL, NULL, NULL,
                                           &root, pclient_now_us());
    pclient_opts_t o2 = {.api_version = "2.8", .auth_time = 1000};
    ck_assert(pclient_cmd_ex(base_url, "authenticated", "teapot", d, &o2, req, &r));
    ck_assert_int_eq(r.status, 418);
    ck_assert_str_eq(echoed_header(&r, "api-version"), "2.8");
    arena_t *a = arena_new();
    proto_auth_t auth;
    const char *why;
    ck_assert(proto_auth_parse(a, echoed_header(&r, "authorization"), &auth, &why));
    ck_assert_int_eq(auth.timestamp, 1000);
    ck_assert(!proto_auth_fresh(&auth, proto_now_us()));
    arena_free(a);
    pclient_resp_free(&r);
    pclient_opts_t o3 = {.authorization = "Bearer nope"};
    ck_assert(pclient_cmd_ex(base_url, "authenticated", "Org", d, &o3, req, &r));
    ck_assert_str_eq(echoed_header(&r, "authorization"), "Bearer nope");
    pclient_resp_free(&r);
    pclient_device_free(d);
    json_object_put(req);
}
END_TEST

START_TEST(raw_post_and_no_server)
{
    const char *h[] = {"Content-Type: application/json", NULL};
    pclient_resp_t r;
    char *url = malloc(strlen(base_url) + 20);
    sprintf(url, "%s/anonymous/x", base_url);
    ck_assert(pclient_http_post(url, h, "not json", 8, &r));
    ck_assert_str_eq(echoed(&r, "body"), "not json");
    pclient_resp_free(&r);
    free(url);

    /* nothing listens on port 1 of loopback */
    ck_assert(!pclient_http_post("http://127.0.0.1:1/anonymous/x", NULL, "{}", 2, &r));
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_null(r.json);
    pclient_resp_free(&r);
}
END_TEST

TEST_SUITE(pclient)
{
    Suite *s = suite_create("pclient");
    TCase *tc = tcase_create("http");
    tcase_add_unchecked_fixture(tc, start_server, stop_server);
    tcase_add_test(tc, authenticated_request_on_the_wire);
    tcase_add_test(tc, overrides_on_the_wire);
    tcase_add_test(tc, raw_post_and_no_server);
    suite_add_tcase(s, tc);
    return s;
}
