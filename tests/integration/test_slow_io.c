/*
 * tests/integration/test_slow_io.c - a command waiting on the network holds
 * no database connection (issue "One command layer", item 6)
 *
 * organization_bootstrap calls its webhook after COMMIT (cmd_commit gives
 * the connection back first).  With ONE pooled connection and more request
 * threads than connections (--worker-threads), a webhook that stalls must
 * not stop other requests: they are served while the bootstrap still
 * waits.  If the connection were held across the call, every other request
 * would wait in db_acquire() until the webhook answered.
 *
 * One worker process (nginx + spawn-fcgi), so no sibling process can serve
 * the others instead.
 */
#include "pclient.h"
#include "testenv.h"
#include "testreg.h"
#include "websrv.h"
#include "xalloc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TOKEN    "slow-io-administration-token"
#define STALL_MS 4000

/* An HTTP listener that reads a request, then waits STALL_MS before
 * answering 200. */
typedef struct {
    int fd, port;
    pthread_t tid;
    atomic_int received; /* requests read */
    atomic_int answered; /* answers sent */
} stall_t;

static void *stall_thread(void *arg)
{
    stall_t *s = arg;
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            break; /* shut down */
        char buf[4096];
        struct pollfd p = {.fd = c, .events = POLLIN};
        if (poll(&p, 1, 5000) > 0 && recv(c, buf, sizeof buf, 0) > 0)
            atomic_fetch_add(&s->received, 1);
        struct timespec d = {STALL_MS / 1000, (STALL_MS % 1000) * 1000000L};
        nanosleep(&d, NULL);
        static const char ok[] =
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        ssize_t w = send(c, ok, sizeof ok - 1, MSG_NOSIGNAL);
        (void)w;
        atomic_fetch_add(&s->answered, 1);
        close(c);
    }
    return NULL;
}

static void stall_start(stall_t *s)
{
    memset(s, 0, sizeof *s);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(s->fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(s->fd, 8), 0);
    socklen_t al = sizeof a;
    ck_assert_int_eq(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&s->tid, NULL, stall_thread, s), 0);
}

static void stall_stop(stall_t *s)
{
    shutdown(s->fd, SHUT_RDWR);
    close(s->fd);
    pthread_join(s->tid, NULL);
}

typedef struct {
    const char *url, *org;
    json_object *req;
    pclient_resp_t r;
} boot_t;

static void *boot_thread(void *arg)
{
    boot_t *b = arg;
    pclient_cmd(b->url, "anonymous", b->org, NULL, b->req, &b->r);
    return NULL;
}

static char *create_org(const char *base, const char *org)
{
    char *url = xasprintf("%s/administration/organizations", base);
    char *body = xasprintf("{\"organization_id\":\"%s\"}", org);
    const char *hdrs[] = {"Authorization: Bearer " TOKEN, "Content-Type: application/json", NULL};
    http_result_t *h = testhttp_request("POST", url, hdrs, body, strlen(body));
    ck_assert_int_eq(h->status, 200);
    json_object *o = json_tokener_parse((const char *)h->body);
    json_object *t;
    ck_assert(json_object_object_get_ex(o, "bootstrap_token", &t));
    char *token = xstrdup(json_object_get_string(t));
    json_object_put(o);
    testhttp_free(h);
    free(body);
    free(url);
    return token;
}

START_TEST(slow_webhook_does_not_starve_other_requests)
{
    stall_t hook;
    stall_start(&hook);
    char *db = testenv_db_create();
    char *dbv = xasprintf("PARSEC_DB=%s", db);
    char *hookv =
        xasprintf("PARSEC_ORGANIZATION_BOOTSTRAP_WEBHOOK=http://127.0.0.1:%d/", hook.port);
    const char *env[] = {dbv,
                         hookv,
                         "PARSEC_ADMINISTRATION_TOKEN=" TOKEN,
                         "PARSEC_DB_MIN_CONNECTIONS=1",
                         "PARSEC_DB_MAX_CONNECTIONS=1",
                         "PARSEC_WORKER_THREADS=4",
                         "PARSEC_LOG_LEVEL=INFO",
                         NULL};
    websrv_t *w = websrv_start(WEBSRV_NGINX, env, NULL);
    ck_assert_ptr_nonnull(w);
    const char *base = websrv_url(w);

    char *token = create_org(base, "SlowOrg");
    pclient_key_t root;
    pclient_key_generate(&root);
    pclient_device_t *alice = pclient_user_new("SlowOrg", "alice@dev1", "ADMIN", "a@x.org", "Alice",
                                               "laptop", NULL, &root, pclient_now_us());
    boot_t b = {.url = base, .org = "SlowOrg", .req = pclient_req_bootstrap(token, &root, alice)};
    pthread_t tid;
    ck_assert_int_eq(pthread_create(&tid, NULL, boot_thread, &b), 0);

    /* wait until the worker is inside the webhook call */
    for (int i = 0; i < 500 && atomic_load(&hook.received) == 0; i++)
        usleep(10000);
    ck_assert_int_eq(atomic_load(&hook.received), 1);

    /* meanwhile, requests that each need the one connection are served */
    char *org_url = xasprintf("%s/administration/organizations/SlowOrg", base);
    const char *hdrs[] = {"Authorization: Bearer " TOKEN, NULL};
    for (int i = 0; i < 10; i++) {
        http_result_t *h = testhttp_request("GET", org_url, hdrs, NULL, 0);
        ck_assert_int_eq(h->status, 200);
        /* committed before the webhook was called */
        ck_assert_ptr_nonnull(strstr((const char *)h->body, "\"is_bootstrapped\":true"));
        testhttp_free(h);
        json_object *ping = pclient_req("ping");
        json_object_object_add(ping, "ping", json_object_new_string("x"));
        pclient_resp_t r;
        pclient_cmd(base, "authenticated", "SlowOrg", alice, ping, &r);
        json_object_put(ping);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(pclient_status(&r), "ok");
        pclient_resp_free(&r);
    }
    ck_assert_msg(atomic_load(&hook.answered) == 0,
                  "the other requests were only served after the webhook answered");

    pthread_join(tid, NULL);
    ck_assert_int_eq(b.r.status, 200);
    ck_assert_str_eq(pclient_status(&b.r), "ok");
    ck_assert_int_eq(atomic_load(&hook.answered), 1);
    pclient_resp_free(&b.r);
    json_object_put(b.req);

    ck_assert(websrv_stop(w));
    stall_stop(&hook);
    free(org_url);
    pclient_device_free(alice);
    free(token);
    free(hookv);
    free(dbv);
    testenv_db_drop(db);
    free(db);
}
END_TEST

TEST_SUITE(slow_io)
{
    Suite *s = suite_create("slow_io");
    TCase *tc = tcase_create("webhook");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, slow_webhook_does_not_starve_other_requests);
    suite_add_tcase(s, tc);
    return s;
}
