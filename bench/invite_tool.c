/*
 * bench/invite_tool.c - the client side of bench/invite-bench
 *
 *   invite_tool exchange URL ORG DEVICE SEED_HEX ROUNDS
 *       ROUNDS whole greetings (USER invitations of DEVICE, an ADMIN whose
 *       signing key is SEED_HEX, as `rpc_tool setup` prints it), the greeter
 *       and the claimer each in a thread, started at the same instant and
 *       each going through its seven calls (steps 1 to 3b, then step 4
 *       twice) as fast as it can, repeating a not_ready call after 200 us:
 *       the "both answer at once" case.  A step pair is one call of each
 *       side; its server time is the latencies of every request of the
 *       exchange (both sides, repeats included, measured on loopback: the
 *       web server, the worker and PostgreSQL) divided by the seven pairs.
 *       Also per step, without the repeats, and the wall time.  Then the
 *       baseline of the same run: authenticated pings, one at a time.
 *       Prints medians, p95, the ratio pair / ping.
 *
 *   invite_tool poll URL DB ORG DEVICE SEED_HEX POLLS
 *       One invitation whose greeter never speaks, and POLLS claimer polls
 *       (invite_1_claimer_wait_peer answering not_ready, the claimer's
 *       steady state while it waits); pg_stat_statements (reset before)
 *       then says which statements each poll ran, and EXPLAIN shows their
 *       plans (the statements read from this binary's statement registry,
 *       the very text the worker prepares).
 *
 * Built from tests/lib/pclient.c like rpc_tool, so the benchmark speaks the
 * protocol the integration tests check.
 */
#include "cmd/cmd.h"
#include "db.h"
#include "pclient.h"

#include <libpq-fe.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *msg)
{
    fprintf(stderr, "invite_tool: %s\n", msg);
    exit(1);
}

/* The device of `rpc_tool setup`: enough to sign tokens. */
static pclient_device_t *device_of(const char *org, const char *device_id, const char *seed_hex)
{
    pclient_device_t *d = calloc(1, sizeof *d);
    uint8_t seed[32];
    if (!d || strlen(seed_hex) != 64)
        die("bad device seed");
    for (int i = 0; i < 32; i++)
        if (sscanf(seed_hex + 2 * i, "%2hhx", &seed[i]) != 1)
            die("bad device seed");
    pclient_key_from_seed(&d->key, seed);
    d->organization_id = strdup(org);
    d->device_id = strdup(device_id);
    return d;
}

/* One request; its latency added to *ms; the reply's status copied. */
static json_object *request(const char *url, const char *org, const pclient_device_t *dev,
                            const char *token, json_object *req, double *ms)
{
    pclient_resp_t r;
    pclient_opts_t o = {.invitation_token = token};
    double t0 = now_ms();
    bool came = dev ? pclient_cmd(url, "authenticated", org, dev, req, &r)
                    : pclient_cmd_ex(url, "invited", org, NULL, &o, req, &r);
    *ms += now_ms() - t0;
    if (!came || r.status != 200 || !pclient_status(&r)) {
        fprintf(stderr, "invite_tool: %s: HTTP %ld %s\n",
                json_object_get_string(json_object_object_get(req, "cmd")), r.status, r.body);
        exit(1);
    }
    json_object *reply = json_object_get(r.json);
    pclient_resp_free(&r);
    return reply;
}

static const char *status_of(json_object *reply)
{
    return json_object_get_string(json_object_object_get(reply, "status"));
}

/* ---- exchange ---- */

/* One side's seven calls: steps 1 to 3b, then step 4 twice (the claimer's
 * request, the greeter's confirmation). */
#define CALLS 7

typedef struct {
    bool greeter;
    const char *url, *org, *token;
    const pclient_device_t *dev;
    pthread_barrier_t *barrier;
    double ms;       /* server time of every request of this side */
    double first_ms; /* ... of the first request of each call (it talks) */
    double ok_ms;    /* ... of the request answering ok */
    int requests;    /* requests, not_ready repeats included */
    double start, end;
    double call_ms[CALLS]; /* per call, all its requests */
} side_t;

static const char *const greeter_cmds[6] = {
    "invite_1_greeter_wait_peer",      "invite_2a_greeter_get_hashed_nonce",
    "invite_2b_greeter_send_nonce",    "invite_3a_greeter_wait_peer_trust",
    "invite_3b_greeter_signify_trust", "invite_4_greeter_communicate"};
static const char *const greeter_fields[6] = {
    "greeter_public_key", NULL, "greeter_nonce", NULL, NULL, "payload"};
static const char *const claimer_cmds[6] = {
    "invite_1_claimer_wait_peer",        "invite_2a_claimer_send_hashed_nonce",
    "invite_2b_claimer_send_nonce",      "invite_3a_claimer_signify_trust",
    "invite_3b_claimer_wait_peer_trust", "invite_4_claimer_communicate"};
static const char *const claimer_fields[6] = {
    "claimer_public_key", "claimer_hashed_nonce", "claimer_nonce", NULL, NULL, "payload"};

/* A side goes through its calls as fast as it can, repeating a not_ready
 * call at once (after 200 us): the peer "answers at once". */
static void *side_main(void *arg)
{
    side_t *s = arg;
    uint8_t data[CALLS][256];
    size_t len[CALLS] = {32, 32, 32, 0, 0, 0, 0};
    RAND_bytes(&data[0][0], sizeof data);
    /* step 4: the claimer's request (about an InviteUserData) then empty;
     * the greeter's empty then its confirmation */
    len[5] = s->greeter ? 0 : 200;
    len[6] = s->greeter ? 180 : 0;
    pthread_barrier_wait(s->barrier);
    s->start = now_ms();
    for (int k = 0; k < CALLS; k++) {
        int step = k < 6 ? k : 5;
        json_object *req = json_object_new_object();
        json_object_object_add(
            req, "cmd",
            json_object_new_string(s->greeter ? greeter_cmds[step] : claimer_cmds[step]));
        if (s->greeter)
            json_object_object_add(req, "token", json_object_new_string(s->token));
        const char *field = s->greeter ? greeter_fields[step] : claimer_fields[step];
        if (field)
            json_object_object_add(req, field, pclient_json_bytes(data[k], len[k]));
        for (int n = 0;; n++) {
            double ms = 0;
            s->requests++;
            json_object *rep = request(s->url, s->org, s->greeter ? s->dev : NULL,
                                       s->greeter ? NULL : s->token, req, &ms);
            s->ms += ms;
            s->call_ms[k] += ms;
            if (n == 0)
                s->first_ms += ms;
            const char *st = status_of(rep);
            bool ok = !strcmp(st, "ok");
            if (!ok && strcmp(st, "not_ready") != 0) {
                fprintf(stderr, "invite_tool: %s: %s\n",
                        s->greeter ? greeter_cmds[step] : claimer_cmds[step],
                        json_object_to_json_string(rep));
                exit(1);
            }
            json_object_put(rep);
            if (ok) {
                if (n > 0)
                    s->ok_ms += ms;
                break;
            }
            usleep(200);
        }
        json_object_put(req);
    }
    s->end = now_ms();
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int i = (int)(p * (n - 1) + 0.5);
    return v[i];
}

static int exchange(const char *url, const char *org, const char *device_id, const char *seed,
                    int rounds)
{
    if (rounds < 1 || rounds > 100000)
        die("ROUNDS: 1 to 100000");
    pclient_device_t *admin = device_of(org, device_id, seed);
    double *server = calloc((size_t)rounds, sizeof *server);
    double *useful = calloc((size_t)rounds, sizeof *useful);
    double *wall = calloc((size_t)rounds, sizeof *wall);
    double *call[CALLS];
    for (int k = 0; k < CALLS; k++)
        call[k] = calloc((size_t)rounds, sizeof(double));
    long requests = 0;
    /* round -1 warms up: connections opened, statements prepared */
    for (int r = -1; r < rounds; r++) {
        char email[64];
        snprintf(email, sizeof email, "bench%d@example.com", r + 1);
        json_object *req = pclient_req("invite_new");
        json_object_object_add(req, "type", json_object_new_string("USER"));
        json_object_object_add(req, "claimer_email", json_object_new_string(email));
        json_object_object_add(req, "send_email", json_object_new_boolean(0));
        double ignored = 0;
        json_object *rep = request(url, org, admin, NULL, req, &ignored);
        json_object_put(req);
        if (strcmp(status_of(rep), "ok") != 0)
            die("invite_new refused");
        char *token = strdup(json_object_get_string(json_object_object_get(rep, "token")));
        json_object_put(rep);

        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, 2);
        side_t g = {.greeter = true,
                    .url = url,
                    .org = org,
                    .token = token,
                    .dev = admin,
                    .barrier = &barrier};
        side_t c = {.greeter = false, .url = url, .org = org, .token = token, .barrier = &barrier};
        pthread_t tg, tc;
        pthread_create(&tg, NULL, side_main, &g);
        pthread_create(&tc, NULL, side_main, &c);
        pthread_join(tg, NULL);
        pthread_join(tc, NULL);
        pthread_barrier_destroy(&barrier);
        if (r >= 0) {
            /* a step pair: one call of each side (seven of them) */
            server[r] = (g.ms + c.ms) / CALLS;
            useful[r] = (g.first_ms + g.ok_ms + c.first_ms + c.ok_ms) / CALLS;
            double start = g.start < c.start ? g.start : c.start;
            wall[r] = ((g.end > c.end ? g.end : c.end) - start) / CALLS;
            for (int k = 0; k < CALLS; k++)
                call[k][r] = g.call_ms[k] + c.call_ms[k];
            requests += g.requests + c.requests;
        }
        req = pclient_req("invite_delete");
        json_object_object_add(req, "token", json_object_new_string(token));
        json_object_object_add(req, "reason", json_object_new_string("FINISHED"));
        rep = request(url, org, admin, NULL, req, &ignored);
        json_object_put(req);
        json_object_put(rep);
        free(token);
    }

    /* the baseline, in the same run: one authenticated ping at a time */
    int npings = rounds * 20;
    double *ping = calloc((size_t)npings, sizeof *ping);
    json_object *preq = pclient_req("ping");
    json_object_object_add(preq, "ping", json_object_new_string("bench"));
    for (int i = 0; i < npings; i++) {
        double ms = 0;
        json_object_put(request(url, org, admin, NULL, preq, &ms));
        ping[i] = ms;
    }
    json_object_put(preq);

    static const char *const names[CALLS] = {
        "1", "2a", "2b", "3a", "3b", "4 (request)", "4 (confirmation)"};
    printf("server time of both sides' calls of each step (median / p95, ms):\n");
    for (int k = 0; k < CALLS; k++)
        printf("  step %-17s %7.2f / %7.2f\n", names[k], pct(call[k], rounds, 0.5),
               pct(call[k], rounds, 0.95));
    double med = pct(server, rounds, 0.5), p95 = pct(server, rounds, 0.95),
           max = pct(server, rounds, 1.0);
    double ping_med = pct(ping, npings, 0.5);
    printf("server time per step pair: median %.2f ms, p95 %.2f ms, max %.2f ms"
           " (target < 50 ms); %.1f requests per pair\n",
           med, p95, max, (double)requests / rounds / CALLS);
    printf("  without the not_ready repeats of the side waiting: median %.2f ms\n",
           pct(useful, rounds, 0.5));
    printf("wall time per step pair: median %.2f ms\n", pct(wall, rounds, 0.5));
    printf("authenticated ping, one at a time (baseline): median %.2f ms\n", ping_med);
    printf("ratio step pair / ping: %.2f\n", med / ping_med);
    for (int k = 0; k < CALLS; k++)
        free(call[k]);
    free(server);
    free(useful);
    free(wall);
    free(ping);
    pclient_device_free(admin);
    return med < 50.0 ? 0 : 3;
}

/* ---- poll ---- */

static PGresult *sql(PGconn *pg, const char *q)
{
    PGresult *r = PQexec(pg, q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "invite_tool: %s: %s", q, PQerrorMessage(pg));
        exit(1);
    }
    return r;
}

/* stmt_named - a statement of the registry; the command tables and the
 * identity queries are referenced so that the linker brings their objects
 * (and their statements) in. */
/* table_updates - the invitation table's updated and HOT-updated rows,
 * once the count reaches want (backends report their statistics within
 * seconds, an idle one within about 10 s), or after 20 s. */
static void table_updates(PGconn *pg, long want, long *upd, long *hot)
{
    for (int i = 0; i < 40; i++) {
        PQclear(sql(pg, "SELECT pg_stat_clear_snapshot()"));
        PGresult *r = sql(pg, "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
                              " WHERE relname = 'invitation'");
        *upd = atol(PQgetvalue(r, 0, 0));
        *hot = atol(PQgetvalue(r, 0, 1));
        PQclear(r);
        if (want && *upd >= want)
            return;
        usleep(500000);
    }
}

static const db_stmt_t *stmt_named(const char *name)
{
    if (!cmd_find("invite_1_claimer_wait_peer", AUTH_INVITED))
        die("the invitation commands are not linked in");
    auth_cache_counters(NULL, NULL);
    for (size_t i = 0; i < db_stmt_count(); i++)
        if (!strcmp(db_stmt_at(i)->name, name))
            return db_stmt_at(i);
    die("no such statement in the registry");
    return NULL;
}

/* EXPLAIN EXECUTE of stmt with params (SQL literals), generic and custom. */
static void explain(PGconn *pg, const db_stmt_t *stmt, const char *params)
{
    PGresult *r = PQprepare(pg, stmt->name, stmt->sql, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die(PQerrorMessage(pg));
    PQclear(r);
    static const char *const modes[] = {"force_generic_plan", "force_custom_plan"};
    for (int m = 0; m < 2; m++) {
        char q[512];
        snprintf(q, sizeof q, "SET plan_cache_mode = %s", modes[m]);
        PQclear(sql(pg, q));
        snprintf(q, sizeof q, "EXPLAIN (COSTS OFF) EXECUTE %s(%s)", stmt->name, params);
        r = sql(pg, q);
        printf("  %s (%s):\n", stmt->name, m ? "custom plan" : "generic plan, the worker's");
        for (int i = 0; i < PQntuples(r); i++)
            printf("    %s\n", PQgetvalue(r, i, 0));
        PQclear(r);
    }
    PQclear(sql(pg, "RESET plan_cache_mode"));
}

static int poll_cost(const char *url, const char *db, const char *org, const char *device_id,
                     const char *seed, int polls)
{
    if (polls < 1)
        die("POLLS: at least 1");
    pclient_device_t *admin = device_of(org, device_id, seed);
    json_object *req = pclient_req("invite_new");
    json_object_object_add(req, "type", json_object_new_string("USER"));
    json_object_object_add(req, "claimer_email", json_object_new_string("poller@example.com"));
    json_object_object_add(req, "send_email", json_object_new_boolean(0));
    double ms = 0;
    json_object *rep = request(url, org, admin, NULL, req, &ms);
    json_object_put(req);
    char *token = strdup(json_object_get_string(json_object_object_get(rep, "token")));
    json_object_put(rep);

    PGconn *pg = PQconnectdb(db);
    if (PQstatus(pg) != CONNECTION_OK)
        die(PQerrorMessage(pg));
    /* the claimer's steady state: step 1 said, the greeter silent */
    uint8_t key[32];
    RAND_bytes(key, sizeof key);
    req = pclient_req("invite_1_claimer_wait_peer");
    json_object_object_add(req, "claimer_public_key", pclient_json_bytes(key, 32));
    json_object_put(request(url, org, NULL, token, req, &ms));
    long upd0, hot0;
    table_updates(pg, 0, &upd0, &hot0); /* settled: nothing else writes it */
    PQclear(sql(pg, "SELECT pg_stat_statements_reset()"));
    ms = 0;
    for (int i = 0; i < polls; i++) {
        rep = request(url, org, NULL, token, req, &ms);
        if (strcmp(status_of(rep), "not_ready") != 0)
            die("a poll did not answer not_ready");
        json_object_put(rep);
    }
    json_object_put(req);

    PGresult *r = sql(pg, "SELECT calls, rows, query FROM pg_stat_statements"
                          " WHERE dbid = (SELECT oid FROM pg_database WHERE datname ="
                          " current_database()) AND query NOT LIKE '%pg_stat%'"
                          " ORDER BY calls DESC, query");
    printf("%d claimer polls (not_ready), %.2f ms each on average; statements per poll:\n", polls,
           ms / polls);
    int queries = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *q = PQgetvalue(r, i, 2);
        const char *name = NULL;
        for (size_t k = 0; k < db_stmt_count(); k++)
            if (!strcmp(db_stmt_at(k)->sql, q))
                name = db_stmt_at(k)->name;
        double per = atof(PQgetvalue(r, i, 0)) / polls;
        if (name)
            queries++;
        printf("  %5.2f x %s (%s rows)\n", per, name ? name : q, PQgetvalue(r, i, 1));
    }
    PQclear(r);
    printf("=> %d prepared statements per poll (the route's identity query and the step's"
           " one statement), plus BEGIN and COMMIT\n",
           queries);
    long upd, hot;
    table_updates(pg, upd0 + polls, &upd, &hot);
    printf("invitation rows updated by the polls: %ld, of which HOT (no index touched): %ld\n",
           upd - upd0, hot - hot0);
    char params[256];
    char *id = NULL;
    char q[256];
    snprintf(q, sizeof q, "SELECT _id FROM invitation WHERE token = '%s'", token);
    r = sql(pg, q);
    id = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    printf("plans:\n");
    snprintf(params, sizeof params, "'%s', '%s'", org, token);
    explain(pg, stmt_named("auth_invited"), params);
    snprintf(params, sizeof params, "%s, now(), now() - interval '60 s'", id);
    explain(pg, stmt_named("invite_db_claimer_load"), params);
    free(id);
    free(token);
    PQfinish(pg);
    pclient_device_free(admin);
    return queries <= 2 ? 0 : 3;
}

int main(int argc, char **argv)
{
    if (argc == 7 && !strcmp(argv[1], "exchange"))
        return exchange(argv[2], argv[3], argv[4], argv[5], atoi(argv[6]));
    if (argc == 8 && !strcmp(argv[1], "poll"))
        return poll_cost(argv[2], argv[3], argv[4], argv[5], argv[6], atoi(argv[7]));
    fputs("usage: invite_tool exchange URL ORG DEVICE SEED_HEX ROUNDS |"
          " poll URL DB ORG DEVICE SEED_HEX POLLS\n",
          stderr);
    return 2;
}
