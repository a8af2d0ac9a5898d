/*
 * bench/notifyd-bench.c - the client side of bench/notifyd-bench.sh
 *
 *   notifyd-bench --target notifyd|bare --port P --pid SERVER_PID
 *                 [--db URL | --feed FIFO] --mode idle|latency|throughput|hold
 *                 [--clients N[,N2...]] [--events E]
 *
 * One process drives every websocket (tests/lib/wsclient.h on the lws
 * client API) and prints one line of "key=value" results per measure:
 *
 *   idle        connect N clients (authenticated ones for notifyd), idle 2 s,
 *               count those still open, read the server's VmRSS before and
 *               after: held=, rss_kb=, per_conn_bytes=.  With N1,N2 the
 *               second step adds clients up to N2.
 *   latency     N clients; 50 events, 20 ms apart; for each delivery the
 *               time from publishing to receipt (same clock): p50_us=,
 *               p99_us=, max_us=, delivered=.
 *   throughput  N clients; E events as fast as they can be published;
 *               events_per_s= (E / time until every client had every
 *               event), deliveries_per_s=, dropped= (clients closed).
 *   hold        N clients (the port may be a web server proxying /ws, as
 *               bench/deploy-load uses it); once all are connected, one
 *               event; ready= (handshakes done), open= (still open after
 *               the event), delivered= (clients that received it within
 *               30 s), p50_us=, p99_us=, max_us= of its delivery.
 *
 * Publishing: for notifyd, pg_notify() on the database (what a FastCGI
 * handler does, event_publish()'s payload), so the figures include
 * PostgreSQL's NOTIFY; for the bare server, a line written to its feed pipe
 * (bench/lws_bare.c).  Every event is a pinged event with
 * "<seq>:<microseconds>" as its ping, so both targets carry the same bytes.
 *
 * Not a test: it measures, it does not judge (bench/README in the script).
 */
#include "wsclient.h"

#include <json-c/json.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEVICES    10
#define LAT_EVENTS 50
#define MAX_CONNS  6000

typedef struct {
    int state; /* 0 challenge expected, 1 result expected, 2 ready, 3 failed */
    int dev;
} cstate_t;

static struct {
    bool notifyd;
    int port;
    int server_pid;
    const char *db;
    FILE *feed;
    char org[32];
    EVP_PKEY *keys[DEVICES];
    uint8_t pubs[DEVICES][32];
    uint8_t rvk[32];
    PGconn *pg;
    wsclient_ctx_t *ctx;
    wsclient_t *conns[MAX_CONNS];
    cstate_t states[MAX_CONNS];
    size_t nconns;
    size_t ready, failed;
    /* measures */
    int64_t *lat;
    size_t nlat, caplat;
    size_t received;
} B;

static void die(const char *msg)
{
    fprintf(stderr, "notifyd-bench: %s\n", msg);
    exit(1);
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long rss_kb(void)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", B.server_pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static char *b64(const void *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (!out)
        die("oom");
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

static void sql(const char *q, int n, const char *const *params)
{
    PGresult *r = PQexecParams(B.pg, q, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fprintf(stderr, "notifyd-bench: %s: %s", q, PQresultErrorMessage(r));
        exit(1);
    }
    PQclear(r);
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static void keypair(EVP_PKEY **k, uint8_t pub[32])
{
    *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    size_t len = 32;
    if (!*k || !EVP_PKEY_get_raw_public_key(*k, pub, &len) || len != 32)
        die("ed25519 keygen");
}

/* An organization of one user with DEVICES devices, fresh keys. */
static void seed(void)
{
    B.pg = PQconnectdb(B.db);
    if (PQstatus(B.pg) != CONNECTION_OK)
        die(PQerrorMessage(B.pg));
    snprintf(B.org, sizeof B.org, "Bench%d", (int)getpid());
    EVP_PKEY *root;
    keypair(&root, B.rvk);
    EVP_PKEY_free(root);
    char h[65];
    hex(B.rvk, 32, h);
    const char *p[] = {B.org, h};
    sql("INSERT INTO organization (organization_id, bootstrap_token, root_verify_key, "
        "bootstrapped_on) VALUES ($1, '', decode($2, 'hex'), now())",
        2, p);
    const char *u[] = {B.org};
    sql("INSERT INTO user_ (organization, user_id, profile, user_certificate, "
        "redacted_user_certificate, created_on) SELECT _id, 'u', 'STANDARD', '\\x00', '\\x00', "
        "now() FROM organization WHERE organization_id = $1",
        1, u);
    for (int i = 0; i < DEVICES; i++) {
        keypair(&B.keys[i], B.pubs[i]);
        char dev[16];
        snprintf(dev, sizeof dev, "u@d%d", i);
        hex(B.pubs[i], 32, h);
        const char *d[] = {B.org, dev, h};
        sql("INSERT INTO device (organization, user_, device_id, verify_key, device_certificate, "
            "redacted_device_certificate, created_on) SELECT o._id, u._id, $2, decode($3, 'hex'), "
            "'\\x00', '\\x00', now() FROM organization o JOIN user_ u ON u.organization = o._id "
            "WHERE o.organization_id = $1",
            3, d);
    }
}

static char *answer(json_object *ch, int dev)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(ch, "challenge", &v))
        return NULL;
    char text[256];
    snprintf(text, sizeof text, "{\"type\":\"signed_answer\",\"answer\":\"%s\"}",
             json_object_get_string(v));
    uint8_t sig[64];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestSignInit(md, NULL, NULL, NULL, B.keys[dev]) != 1 ||
        EVP_DigestSign(md, sig, &siglen, (const unsigned char *)text, strlen(text)) != 1)
        die("ed25519 sign");
    EVP_MD_CTX_free(md);
    char *s64 = b64(sig, 64), *r64 = b64(B.rvk, 32);
    char *out = NULL;
    if (asprintf(
            &out,
            "{\"handshake\":\"answer\",\"type\":\"AUTHENTICATED\",\"client_api_version\":[3,2],"
            "\"organization_id\":\"%s\",\"device_id\":\"u@d%d\",\"rvk\":\"%s\","
            "\"answer\":\"%s\"}",
            B.org, dev, r64, s64) < 0)
        die("oom");
    free(s64);
    free(r64);
    return out;
}

static void record(int64_t v)
{
    if (B.nlat == B.caplat) {
        B.caplat = B.caplat ? B.caplat * 2 : 4096;
        B.lat = realloc(B.lat, B.caplat * sizeof *B.lat);
        if (!B.lat)
            die("oom");
    }
    B.lat[B.nlat++] = v;
}

static bool recording;

static void on_msg(wsclient_t *c, const char *data, size_t len, void *arg)
{
    (void)arg;
    cstate_t *st = wsclient_user(c);
    if (st->state == 2) {
        const char *p = strstr(data, "\"ping\":\"");
        if (!p)
            return;
        p += 8;
        char *colon = strchr(p, ':');
        B.received++;
        if (recording && colon)
            record(now_us() - strtoll(colon + 1, NULL, 10));
        return;
    }
    json_object *o = json_tokener_parse(data);
    (void)len;
    json_object *v = NULL;
    if (st->state == 0) {
        char *a = o ? answer(o, st->dev) : NULL;
        if (!a || !wsclient_send_text(c, a, strlen(a))) {
            st->state = 3;
            B.failed++;
        } else {
            st->state = 1;
        }
        free(a);
    } else if (st->state == 1) {
        if (o && json_object_object_get_ex(o, "result", &v) &&
            !strcmp(json_object_get_string(v), "ok")) {
            st->state = 2;
            B.ready++;
        } else {
            st->state = 3;
            B.failed++;
        }
    }
    json_object_put(o);
}

/* Connect up to n clients in all (batches of 500), authenticated for
 * notifyd; returns how many are ready. */
static size_t connect_to(size_t n)
{
    if (n > MAX_CONNS)
        die("too many clients");
    for (size_t i = B.nconns; i < n; i += 500) {
        size_t end = i + 500 < n ? i + 500 : n;
        for (size_t k = i; k < end; k++) {
            B.states[k].dev = (int)(k % DEVICES);
            B.states[k].state = B.notifyd ? 0 : 2;
            B.conns[k] = wsclient_connect_start(B.ctx, "127.0.0.1", B.port, "/ws", false);
            wsclient_set_user(B.conns[k], &B.states[k]);
        }
        wsclient_wait_all_open(B.ctx, 30000);
        if (!B.notifyd)
            B.ready = end;
        int64_t deadline = now_us() + 60000000;
        while (B.ready + B.failed < end && now_us() < deadline)
            wsclient_service(B.ctx, 50);
    }
    B.nconns = n;
    return B.ready;
}

static size_t open_count(void)
{
    size_t n = 0;
    for (size_t i = 0; i < B.nconns; i++)
        if (wsclient_get_state(B.conns[i]) == WSCLIENT_OPEN)
            n++;
    return n;
}

/* Publish events [first, first+count) now. */
static void publish(int first, int count)
{
    if (B.notifyd) {
        char a[16], b[16];
        snprintf(a, sizeof a, "%d", first);
        snprintf(b, sizeof b, "%d", first + count - 1);
        /* Our clock, read just before publishing, as for the bare target. */
        char t[32];
        snprintf(t, sizeof t, "%lld", (long long)now_us());
        const char *q[] = {B.org, a, b, t};
        sql("SELECT pg_notify('parsec_events', json_build_object('o', $1::text, 't', 'pinged', "
            "'a', 'nobody@x', 'ping', i || ':' || $4::text)::text) "
            "FROM generate_series($2::int, $3::int) i",
            4, q);
        return;
    }
    long long t = (long long)now_us();
    for (int i = first; i < first + count; i++)
        fprintf(B.feed, "{\"status\":\"ok\",\"event\":\"pinged\",\"ping\":\"%d:%lld\"}\n", i, t);
    fflush(B.feed);
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *mode = NULL, *clients = "1000", *feed = NULL;
    int events = 10000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--target"))
            B.notifyd = !strcmp(argv[i + 1], "notifyd");
        else if (!strcmp(argv[i], "--port"))
            B.port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--pid"))
            B.server_pid = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--db"))
            B.db = argv[i + 1];
        else if (!strcmp(argv[i], "--feed"))
            feed = argv[i + 1];
        else if (!strcmp(argv[i], "--mode"))
            mode = argv[i + 1];
        else if (!strcmp(argv[i], "--clients"))
            clients = argv[i + 1];
        else if (!strcmp(argv[i], "--events"))
            events = atoi(argv[i + 1]);
    }
    if (!B.notifyd && feed)
        B.feed = fopen(feed, "w");
    if (!mode || !B.port || !B.server_pid || (B.notifyd && !B.db) || (!B.notifyd && !B.feed))
        die("usage: --target notifyd|bare --port P --pid PID [--db URL | --feed FIFO] --mode "
            "idle|latency|throughput|hold [--clients N[,N]] [--events E]");
    if (B.notifyd)
        seed();
    B.ctx = wsclient_ctx_new(6000);
    wsclient_on_message(B.ctx, on_msg, NULL);

    if (!strcmp(mode, "idle")) {
        usleep(500000);
        long before = rss_kb();
        char *list = strdup(clients);
        for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
            size_t n = (size_t)atol(tok);
            connect_to(n);
            /* Idle: nothing but the loop (and keepalive) for 2 s. */
            int64_t until = now_us() + 2000000;
            while (now_us() < until)
                wsclient_service(B.ctx, 100);
            long after = rss_kb();
            size_t held = open_count();
            printf("mode=idle target=%s clients=%zu held=%zu rss_before_kb=%ld rss_kb=%ld "
                   "per_conn_bytes=%ld\n",
                   B.notifyd ? "notifyd" : "bare", n, held, before, after,
                   held ? (after - before) * 1024 / (long)held : 0);
            fflush(stdout);
        }
        free(list);
    } else if (!strcmp(mode, "latency")) {
        size_t n = (size_t)atol(clients);
        connect_to(n);
        recording = true;
        for (int e = 0; e < LAT_EVENTS; e++) {
            size_t want = B.received + n;
            publish(e, 1);
            int64_t deadline = now_us() + 10000000;
            while (B.received < want && now_us() < deadline)
                wsclient_service(B.ctx, 20);
            int64_t pause = now_us() + 20000;
            while (now_us() < pause)
                wsclient_service(B.ctx, 5);
        }
        qsort(B.lat, B.nlat, sizeof *B.lat, cmp64);
        printf("mode=latency target=%s clients=%zu ready=%zu delivered=%zu expected=%zu "
               "p50_us=%lld p99_us=%lld max_us=%lld\n",
               B.notifyd ? "notifyd" : "bare", n, B.ready, B.nlat, n * LAT_EVENTS,
               B.nlat ? (long long)B.lat[B.nlat / 2] : -1,
               B.nlat ? (long long)B.lat[B.nlat * 99 / 100] : -1,
               B.nlat ? (long long)B.lat[B.nlat - 1] : -1);
    } else if (!strcmp(mode, "throughput")) {
        size_t n = (size_t)atol(clients);
        connect_to(n);
        size_t want = (size_t)events * n;
        B.received = 0;
        int64_t t0 = now_us();
        for (int e = 0; e < events; e += 500) {
            publish(e, events - e < 500 ? events - e : 500);
            wsclient_service(B.ctx, 0);
        }
        int64_t deadline = now_us() + 120000000;
        while (B.received < want && now_us() < deadline && open_count() > 0)
            wsclient_service(B.ctx, 20);
        double secs = (double)(now_us() - t0) / 1e6;
        size_t open = open_count();
        printf("mode=throughput target=%s clients=%zu events=%d delivered=%zu expected=%zu "
               "seconds=%.3f events_per_s=%.0f deliveries_per_s=%.0f dropped=%zu\n",
               B.notifyd ? "notifyd" : "bare", n, events, B.received, want, secs,
               (double)B.received / (double)n / secs, (double)B.received / secs, n - open);
    } else if (!strcmp(mode, "hold")) {
        size_t n = (size_t)atol(clients);
        connect_to(n);
        recording = true;
        B.received = 0;
        publish(0, 1);
        int64_t deadline = now_us() + 30000000;
        while (B.received < B.ready && now_us() < deadline)
            wsclient_service(B.ctx, 20);
        /* a moment for a late close (a proxy's timeout) to show */
        int64_t settle = now_us() + 1000000;
        while (now_us() < settle)
            wsclient_service(B.ctx, 50);
        qsort(B.lat, B.nlat, sizeof *B.lat, cmp64);
        printf("mode=hold target=%s clients=%zu ready=%zu failed=%zu open=%zu delivered=%zu "
               "p50_us=%lld p99_us=%lld max_us=%lld\n",
               B.notifyd ? "notifyd" : "bare", n, B.ready, B.failed, open_count(), B.nlat,
               B.nlat ? (long long)B.lat[B.nlat / 2] : -1,
               B.nlat ? (long long)B.lat[B.nlat * 99 / 100] : -1,
               B.nlat ? (long long)B.lat[B.nlat - 1] : -1);
    } else {
        die("unknown mode");
    }
    fflush(stdout);
    wsclient_ctx_free(B.ctx);
    if (B.pg) {
        const char *p[] = {B.org};
        /* Leave no benchmark organization behind. */
        sql("DELETE FROM device WHERE organization = (SELECT _id FROM organization WHERE "
            "organization_id = $1)",
            1, p);
        sql("DELETE FROM user_ WHERE organization = (SELECT _id FROM organization WHERE "
            "organization_id = $1)",
            1, p);
        sql("DELETE FROM organization WHERE organization_id = $1", 1, p);
        PQfinish(B.pg);
    }
    for (int i = 0; i < DEVICES; i++)
        EVP_PKEY_free(B.keys[i]);
    free(B.lat);
    if (B.feed)
        fclose(B.feed);
    return 0;
}
